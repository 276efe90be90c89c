/*
 * apiauth_view.h: a request_rec seen as lib/'s request view (view.h), for
 * both modules.
 */
#ifndef APIAUTH_GLUE_VIEW_H
#define APIAUTH_GLUE_VIEW_H

#include <httpd.h>

#include "view.h"

/* Fills `v` from `r`: always the method, query, headers and time; the
 * URL (apiauth_view_url, no forwarded host) and the client certificate
 * where `want` asks (APIAUTH_VIEW_*). */
void apiauth_view_init(request_rec *r, unsigned want, int tls,
                       apiauth_request_view_t *v);

/* The URL the client addressed, without query.  `tls`: the client
 * reached us over TLS, here or at a trusted proxy, as the caller found it
 * (mod_apiauth knows whom it trusts, the view does not); the scheme is
 * https then, or where the server is named https (ServerName https://...).
 * The host and port: the server's own name and port under
 * UseCanonicalName On (an external base URL the operator configured);
 * else `forwarded_host` where the caller took one from a trusted proxy
 * (X-Forwarded-Host); else those of the Host header, the port being the
 * scheme's default where it names none. */
const char *apiauth_view_url(request_rec *r, int tls,
                             const char *forwarded_host);

/* The thumbprint (x5t#S256) of the request's TLS client certificate, or
 * on a connection that is not TLS of the one `proxied` by a trusted proxy
 * (see below); NULL when there is none. */
const char *apiauth_view_cert_x5t(request_rec *r, const char *proxied);

/* The request's TLS client certificate: its thumbprint, and its subject
 * where mod_ssl verified the chain (SSL_CLIENT_VERIFY SUCCESS).  On a
 * connection that is not TLS, `proxied` is the certificate a trusted
 * proxy passed on (see apiauth_services_t.proxied_cert; NULL: none), of
 * which only the thumbprint counts.  Both NULL when none was presented. */
void apiauth_view_tls_client(request_rec *r, const char *proxied,
                             apiauth_tls_client_t *tls);

#endif
