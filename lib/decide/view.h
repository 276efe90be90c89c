/*
 * view.h: a request as the decisions of lib/ see it.
 *
 * The glue (glue/apiauth_view.c) fills it from httpd's request_rec; the
 * decisions read it and nothing else of the request, so that each is a
 * function of the view and the store, unit-tested without httpd.  What
 * costs something to work out (the URL as the client addressed it, the
 * client certificate) is filled only where a location needs it: sender-
 * constrained tokens (DPoP binds the method and URL, mTLS the
 * certificate).
 */
#ifndef APIAUTH_VIEW_H
#define APIAUTH_VIEW_H

#include <apr_tables.h>

#include "apiauth.h"

typedef struct apiauth_request_view {
    const char *method;           /* as sent: "GET", "POST" */
    const char *url;              /* scheme://host[:port]/path the client
                                     addressed, without query or fragment
                                     (RFC 9449 htu); NULL unless asked for */
    const char *query;            /* the query string, NULL when none */
    const apr_table_t *headers;   /* as received */
    apr_table_t *params;          /* the body's form parameters where an
                                     endpoint read them, else NULL */
    int tls;                      /* over TLS, here or at a trusted proxy */
    const char *client_cert_pem;  /* the TLS client certificate (PEM),
                                     NULL when none or not asked for */
    apr_int64_t now;              /* Unix seconds of the request */
} apiauth_request_view_t;

/* The TLS client certificate of a request (RFC 8705): its x5t#S256
 * thumbprint, and its subject DN (RFC 4514) only where a CA the TLS layer
 * trusts vouched for it.  Members NULL where there is none. */
typedef struct apiauth_tls_client {
    const char *x5t;
    const char *subject;
} apiauth_tls_client_t;

/* What the glue should work out beyond the cheap fields. */
#define APIAUTH_VIEW_URL  0x1
#define APIAUTH_VIEW_CERT 0x2

/* A request header (case-insensitive), NULL when absent. */
const char *apiauth_view_header(const apiauth_request_view_t *v,
                                const char *name);

#endif
