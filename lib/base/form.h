/*
 * form.h: query strings and request bodies as name/value pairs.
 *
 * application/x-www-form-urlencoded (query strings and token requests) and
 * multipart/form-data (what `curl -F` sends to a token endpoint).  Both
 * are bounded and fuzzed (tests/fuzz/fuzz_form.c); neither trusts a length
 * or a boundary it reads.  RFC 6749 §3.1 rules apply where the caller asks:
 * a repeated parameter is refused, an empty one counts as absent.
 */
#ifndef APIAUTH_FORM_H
#define APIAUTH_FORM_H

#include <apr_tables.h>

#include "apiauth.h"

/* Percent-decoding with '+' as space; refuses a broken %XY escape and an
 * encoded NUL.  *out is NUL terminated pool memory. */
apiauth_status_t apiauth_urldecode(apr_pool_t *p, const char *s,
                                   apr_size_t len, char **out);

/* How often `name` occurs with a value in the query string `args` ("name="
 * and a bare "name" count as absent, RFC 6749 §3.1); *value (may be NULL)
 * gets the first occurrence, decoded.  -1 when that value is malformed. */
int apiauth_query_get(apr_pool_t *p, const char *args, const char *name,
                      const char **value);

/* `args` with every parameter named in `names` (NULL terminated) removed
 * (mask NULL) or its value replaced by `mask` (an empty one stays empty);
 * NULL when nothing is left.  The other parameters keep their exact
 * bytes. */
char *apiauth_query_rewrite(apr_pool_t *p, const char *args,
                            const char *const *names, const char *mask);

/* The request line `line` with the query string `args` that follows its
 * first '?' replaced by `with`; `line` itself when no such query is there.
 * How a secret taken out of (or masked in) r->args leaves the_request,
 * which the access log's %r shows. */
const char *apiauth_request_line_with_query(apr_pool_t *p, const char *line,
                                            const char *args,
                                            const char *with);

/* The request line `line` with the named parameters of its query (after
 * its first '?', up to the space before the protocol) masked as
 * apiauth_query_rewrite masks them; `line` itself when none is there.
 * Unlike apiauth_request_line_with_query it needs no r->args to agree
 * with the line, which an earlier edit may have changed. */
const char *apiauth_request_line_masked(apr_pool_t *p, const char *line,
                                        const char *const *names,
                                        const char *mask);

/* What a request body may hold.  The defaults are DESIGN's: 64 KiB and
 * 32 parameters (ApiAuthOAuthMaxBody). */
typedef struct apiauth_form_limits {
    apr_size_t max_body;   /* the body may not be longer (bytes) */
    int max_params;        /* at most this many parameters / parts */
} apiauth_form_limits_t;

#define APIAUTH_FORM_MAX_BODY_DEFAULT (64 * 1024)
#define APIAUTH_FORM_MAX_PARAMS_DEFAULT 32

/* A request body as name -> value, by its Content-Type:
 *   application/x-www-form-urlencoded (parameters like a query string), or
 *   multipart/form-data; boundary=... (RFC 7578, RFC 2046 §5.1.1).
 * RFC 6749 §3.1 rules: a name present twice is refused (APIAUTH_INVALID,
 * error "invalid_request", description naming the parameter), even if one
 * copy is empty; an empty value counts as absent (it is not put in the
 * table).  Names are compared case-insensitively, as apr_table_get does,
 * so "scope" and "SCOPE" are a repeat too.  The media type is compared
 * case-insensitively and may carry parameters (charset).  Any other media
 * type, a missing boundary, a body over max_body, more than max_params
 * parameters, a part with a filename (no file uploads here), a part whose
 * Content-Type is not text/plain, malformed part headers, a missing
 * closing delimiter, NUL bytes in a name or value, or bad percent-encoding:
 * APIAUTH_INVALID with error "invalid_request" and a clear description
 * (never echoing values).  Multipart names and values are taken as sent
 * (no percent-decoding); quoted names with backslash escapes are refused.
 * limits NULL means the defaults.  On success *params holds pool copies,
 * NUL terminated; otherwise *params is NULL. */
apiauth_status_t apiauth_form_parse(apr_pool_t *p, const char *content_type,
                                    const char *body, apr_size_t len,
                                    const apiauth_form_limits_t *limits,
                                    apr_table_t **params, apiauth_error_t *err);

#endif
