/*
 * apiauth_view.c: a request_rec as lib/'s request view (view.h).
 */
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_ssl.h>

#include "apiauth_view.h"
#include "jose.h"

const char *apiauth_view_url(request_rec *r, int tls,
                             const char *forwarded_host)
{
    const core_dir_config *core = ap_get_core_module_config(r->per_dir_config);
    int https = tls || (r->server->server_scheme
                        && strcasecmp(r->server->server_scheme, "https") == 0);
    const char *scheme = https ? "https" : "http";
    const char *path = r->parsed_uri.path ? r->parsed_uri.path : "/";
    apr_port_t dflt = https ? DEFAULT_HTTPS_PORT : DEFAULT_HTTP_PORT;
    const char *host;
    apr_port_t port;

    /* the operator's word first: the name it configured is the only one,
     * whatever a proxy passes on from its client */
    if (forwarded_host && core->use_canonical_name != USE_CANONICAL_NAME_ON) {
        /* host[:port] as the proxy was asked for it; the comparison puts
         * both URLs in normal form */
        return apr_pstrcat(r->pool, scheme, "://", forwarded_host, path,
                           NULL);
    }
    /* with brackets around an IPv6 address */
    host = ap_get_server_name_for_url(r);
    if (core->use_canonical_name == USE_CANONICAL_NAME_ON) {
        port = ap_get_server_port(r);
    }
    else {
        /* the Host header's port where it names one (httpd keeps it in
         * parsed_uri); a Host without one means the scheme's own,
         * whatever port a proxy in front passed the request on to */
        port = r->parsed_uri.port_str ? r->parsed_uri.port
               : apr_table_get(r->headers_in, "Host") ? dflt
               : ap_get_server_port(r);
    }
    if (port == dflt) {
        return apr_pstrcat(r->pool, scheme, "://", host, path, NULL);
    }
    return apr_psprintf(r->pool, "%s://%s:%u%s", scheme, host,
                        (unsigned)port, path);
}

void apiauth_view_init(request_rec *r, unsigned want, int tls,
                       apiauth_request_view_t *v)
{
    v->method = r->method;
    v->query = r->args;
    v->headers = r->headers_in;
    v->params = NULL;
    v->tls = tls;
    v->now = apr_time_sec(r->request_time);
    v->url = (want & APIAUTH_VIEW_URL) ? apiauth_view_url(r, tls, NULL)
                                       : NULL;
    v->client_cert_pem = (want & APIAUTH_VIEW_CERT)
                             ? ap_ssl_var_lookup(r->pool, r->server,
                                                 r->connection, r,
                                                 "SSL_CLIENT_CERT")
                             : NULL;
    if (v->client_cert_pem && *v->client_cert_pem == '\0') {
        v->client_cert_pem = NULL;
    }
}

/* Where a connection keeps the thumbprint of its client certificate */
#define X5T_NOTE "apiauth-client-x5t"

const char *apiauth_view_cert_x5t(request_rec *r, const char *proxied)
{
    conn_rec *c = r->connection;
    const char *x5t;

    if (!ap_ssl_conn_is_ssl(c)) {
        return proxied ? apiauth_cert_thumbprint(r->pool, proxied) : NULL;
    }
    /* worked out once per connection: mod_ssl writes the certificate
     * out as PEM for every lookup, and it does not change */
    if ((x5t = apr_table_get(c->notes, X5T_NOTE)) != NULL) {
        return x5t;
    }
    x5t = apiauth_cert_thumbprint(c->pool,
                                  ap_ssl_var_lookup(r->pool, r->server, c, r,
                                                    "SSL_CLIENT_CERT"));
    if (x5t) {
        apr_table_setn(c->notes, X5T_NOTE, x5t);
    }
    return x5t;
}

void apiauth_view_tls_client(request_rec *r, const char *proxied,
                             apiauth_tls_client_t *tls)
{
    const char *verify;

    tls->subject = NULL;
    tls->x5t = apiauth_view_cert_x5t(r, proxied);
    /* through a proxy, whether it verified a chain is not ours to know:
     * only the certificate itself counts (a registered thumbprint, a
     * binding) */
    if (tls->x5t == NULL || !ap_ssl_conn_is_ssl(r->connection)) {
        return;
    }
    verify = ap_ssl_var_lookup(r->pool, r->server, r->connection, r,
                               "SSL_CLIENT_VERIFY");
    if (verify && strcmp(verify, "SUCCESS") == 0) {
        tls->subject = ap_ssl_var_lookup(r->pool, r->server, r->connection, r,
                                         "SSL_CLIENT_S_DN");
        if (tls->subject && *tls->subject == '\0') {
            tls->subject = NULL;
        }
    }
}
