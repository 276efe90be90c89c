/*
 * apiauth_proxy.c: the client's connection as a TLS-terminating proxy in
 * front describes it -- believed only from ApiAuthTrustedProxy: that it
 * came over TLS (X-Forwarded-Proto), the host it asked for
 * (X-Forwarded-Host), the certificate it presented
 * (ApiAuthClientCertHeader).  On a TLS connection of our own, only what
 * mod_ssl says counts.
 */
#include <apr_strings.h>
#include <http_core.h>
#include <http_ssl.h>

#include "apiauth_private.h"

/* Did `r` come from an address of ApiAuthTrustedProxy? */
static int via_trusted_proxy(request_rec *r,
                             const apiauth_server_conf *sconf)
{
    int i;

    for (i = 0; sconf->trusted_proxies && i < sconf->trusted_proxies->nelts;
         i++) {
        if (apr_ipsubnet_test(APR_ARRAY_IDX(sconf->trusted_proxies, i,
                                            apr_ipsubnet_t *),
                              r->connection->client_addr)) {
            return 1;
        }
    }
    return 0;
}

int apiauth_over_tls(request_rec *r)
{
    const char *proto;

    if (ap_ssl_conn_is_ssl(r->connection)) {
        return 1;
    }
    proto = apr_table_get(r->headers_in, "X-Forwarded-Proto");
    return proto && strcasecmp(proto, "https") == 0
           && via_trusted_proxy(r, ap_get_module_config(
                                       r->server->module_config,
                                       &apiauth_module));
}

const char *apiauth_forwarded_host(request_rec *r)
{
    const char *value = apr_table_get(r->headers_in, "X-Forwarded-Host");
    const char *last;

    if (value == NULL || ap_ssl_conn_is_ssl(r->connection)
        || !via_trusted_proxy(r, ap_get_module_config(
                                     r->server->module_config,
                                     &apiauth_module))) {
        return NULL;
    }
    /* the last of a list: the one our proxy appended, what the client
     * asked it for; those before it came from the client or proxies we
     * do not know */
    last = ap_strrchr_c(value, ',');
    last = last ? last + 1 : value;
    while (*last == ' ' || *last == '\t') {
        last++;
    }
    /* a host name, an IPv4 or bracketed IPv6 address, a port: nothing
     * that could end the authority of a URL */
    if (*last == '\0'
        || last[strspn(last, "abcdefghijklmnopqrstuvwxyz"
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]")]
               != '\0') {
        return NULL;
    }
    return last;
}

const char *apiauth_proxied_cert(request_rec *r)
{
    const apiauth_server_conf *sconf =
        ap_get_module_config(r->server->module_config, &apiauth_module);
    const char *value;
    char *copy;

    if (sconf->client_cert_header == NULL
        || ap_ssl_conn_is_ssl(r->connection)
        || (value = apr_table_get(r->headers_in, sconf->client_cert_header))
               == NULL
        || !via_trusted_proxy(r, sconf)) {
        return NULL;
    }
    if (ap_strchr_c(value, '%') == NULL) {
        return value;
    }
    /* URL-encoded PEM (nginx's $ssl_client_escaped_cert, AWS ALB) */
    copy = apr_pstrdup(r->pool, value);
    return ap_unescape_url_keep2f(copy, 1) == OK ? copy : NULL;
}
