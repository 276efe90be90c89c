/*
 * handler_discovery.c: what a client or resource server learns without
 * credentials -- the JWKS (RFC 7517) with every key that verifies our
 * tokens, the signing one and those only published for rotation, and the
 * authorization server metadata (RFC 8414).
 */
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>

#include "oauth_private.h"

int oauth_handle_jwks(request_rec *r)
{
    const apiauth_oauth_config_t *o = &oauth_conf(r)->oauth;
    json_t *keys = json_array();
    int i, rc;

    if ((rc = oauth_require_method(r, M_GET)) != OK) {
        return rc;
    }
    for (i = 0; o->keys && i < o->keys->nelts; i++) {
        json_array_append_new(keys, apiauth_jwk_public_json(
                                        APR_ARRAY_IDX(o->keys, i,
                                                      apiauth_jwk_t *)));
    }
    return oauth_send_public_json(r, json_pack("{s:o}", "keys", keys));
}

/* An endpoint as configured: a path is joined to the issuer. */
static const char *endpoint(request_rec *r, const char *issuer,
                            const char *name)
{
    apr_table_t *endpoints = oauth_conf(r)->endpoints;
    const char *where = endpoints ? apr_table_get(endpoints, name) : NULL;

    if (where == NULL || ap_is_url(where)) {
        return where;
    }
    return apr_pstrcat(r->pool, issuer, *where == '/' ? "" : "/", where,
                       NULL);
}

int oauth_handle_metadata(request_rec *r)
{
    const apiauth_oauth_config_t *o = &oauth_conf(r)->oauth;
    json_t *m, *scopes = json_array();
    static const char *const names[][2] = {
        {"authorization", "authorization_endpoint"},
        {"token", "token_endpoint"},
        {"jwks", "jwks_uri"},
        {"introspection", "introspection_endpoint"},
        {"revocation", "revocation_endpoint"},
    };
    size_t k;
    int i, rc;

    if ((rc = oauth_require_method(r, M_GET)) != OK) {
        return rc;
    }
    if (o->issuer == NULL) {
        return HTTP_NOT_FOUND;
    }
    for (i = 0; o->scopes && i < o->scopes->nelts; i++) {
        json_array_append_new(scopes, json_string(APR_ARRAY_IDX(
            o->scopes, i, apiauth_oauth_scope_t).name));
    }
    m = json_pack(
        "{s:s, s:o, s:[s], s:[sss], s:[sss], s:[s], s:b, s:[ss], s:[sss],"
        " s:[s]}",
        "issuer", o->issuer,
        "scopes_supported", scopes,
        "response_types_supported", "code",
        "grant_types_supported", "authorization_code", "client_credentials",
        "refresh_token",
        "token_endpoint_auth_methods_supported", "client_secret_basic",
        "client_secret_post", "none",
        "code_challenge_methods_supported", "S256",
        "authorization_response_iss_parameter_supported", 1,
        "introspection_endpoint_auth_methods_supported",
        "client_secret_basic", "client_secret_post",
        "revocation_endpoint_auth_methods_supported", "client_secret_basic",
        "client_secret_post", "none",
        "response_modes_supported", "query");
    for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        const char *url = endpoint(r, o->issuer, names[k][0]);
        if (url) {
            json_object_set_new(m, names[k][1], json_string(url));
        }
    }
    return oauth_send_public_json(r, m);
}
