/*
 * apiauth_view.h: a request_rec seen as lib/'s request view (view.h), for
 * both modules.
 */
#ifndef APIAUTH_GLUE_VIEW_H
#define APIAUTH_GLUE_VIEW_H

#include <httpd.h>

#include "view.h"

/* Fills `v` from `r`: always the method, query, headers and time; the
 * URL and the client certificate where `want` asks (APIAUTH_VIEW_*);
 * `tls` as the caller found it (ApiAuthRequireTLS knows about trusted
 * proxies, the view does not). */
void apiauth_view_init(request_rec *r, unsigned want, int tls,
                       apiauth_request_view_t *v);

/* The request's TLS client certificate (mod_ssl's SSL_CLIENT_CERT): its
 * thumbprint, and its subject where mod_ssl verified the chain
 * (SSL_CLIENT_VERIFY SUCCESS); both NULL when none was presented. */
void apiauth_view_tls_client(request_rec *r, apiauth_tls_client_t *tls);

#endif
