/*
 * apiauth_fetch.h: a document a server must fetch from a URL someone else
 * names (a client's metadata document), with libcurl.
 *
 * Whoever names the URL chooses where the server connects, so the fetch
 * is fenced: https only, no redirects, a size and a time limit, and no
 * connection at all to a loopback, private, link-local, multicast or
 * unspecified address (checked on the address each connection would be
 * made to, after name resolution: a name that resolves to 10.0.0.1 is
 * refused like the literal).  The test-only switch lets loopback through
 * (tests serve their documents on 127.0.0.1); nothing else does.
 */
#ifndef APIAUTH_GLUE_FETCH_H
#define APIAUTH_GLUE_FETCH_H

#include <httpd.h>

#include "apiauth.h"

/* Is outbound fetching compiled in (configure found libcurl)? */
int apiauth_fetch_available(void);

/* Once per process, before any fetch (post_config). */
void apiauth_fetch_init(void);

typedef struct apiauth_fetch_limits {
    apr_size_t max_bytes;        /* a larger answer is refused */
    long timeout_ms;             /* the whole exchange */
    int allow_loopback;          /* test-only: 127.0.0.0/8 and ::1 */
    int any_address;             /* the operator chose the URL (a JWKS):
                                    no address is fenced off */
    const char *ca_file;         /* trust these CAs (NULL: the system's) */
} apiauth_fetch_limits_t;

typedef struct apiauth_fetch_result {
    char *body;                  /* NUL terminated, in the pool */
    apr_size_t len;
    long status;                 /* HTTP status */
    const char *content_type;    /* NULL when none */
    long max_age;                /* from Cache-Control, -1 when none (or
                                    no-store: 0) */
} apiauth_fetch_result_t;

/* GETs `url`: APIAUTH_OK with *out (any status: the caller judges it);
 * APIAUTH_DENIED with *why for a URL or address refused, an answer too
 * large or too slow, a TLS failure; APIAUTH_ERROR when libcurl is
 * missing or fails in itself. */
apiauth_status_t apiauth_fetch(apr_pool_t *p, const char *url,
                               const apiauth_fetch_limits_t *limits,
                               apiauth_fetch_result_t *out, const char **why);

#endif
