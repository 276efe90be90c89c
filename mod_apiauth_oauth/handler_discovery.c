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

#include "dpop.h"
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

/* The path of the <Location> of this virtual host whose SetHandler is
 * `handler`, when it is a plain path (not a pattern); NULL when there is
 * none.  A SetHandler is an expression, of a request: it is evaluated
 * with this one (a plain name evaluates to itself). */
static const char *located(request_rec *r, const char *handler)
{
    core_server_config *sconf = ap_get_core_module_config(
        r->server->module_config);
    ap_conf_vector_t **sections = (ap_conf_vector_t **)sconf->sec_url->elts;
    int i;

    for (i = 0; i < sconf->sec_url->nelts; i++) {
        core_dir_config *c = ap_get_core_module_config(sections[i]);
        const char *err = NULL, *h;

        if (c->d == NULL || c->r || c->d_is_fnmatch || *c->d != '/'
            || c->expr_handler == NULL) {
            continue;
        }
        h = ap_expr_str_exec(r, c->expr_handler, &err);
        if (err == NULL && h && strcasecmp(h, handler) == 0) {
            return c->d;
        }
    }
    return NULL;
}

/* scheme://host[:port] of the issuer: where a <Location> path is. */
static const char *origin(request_rec *r, const char *issuer)
{
    apr_uri_t u;

    if (apr_uri_parse(r->pool, issuer, &u) != APR_SUCCESS) {
        return issuer;
    }
    u.path = NULL;
    u.query = NULL;
    u.fragment = NULL;
    return apr_uri_unparse(r->pool, &u, APR_URI_UNP_OMITPATHINFO);
}

/* Where an endpoint is: ApiAuthOAuthEndpoint when it says (a URL, or a
 * path joined to the issuer), else the <Location> its handler is set in. */
static const char *endpoint(request_rec *r, const char *issuer,
                            const char *name, const char *handler)
{
    apr_table_t *endpoints = oauth_conf(r)->endpoints;
    const char *where = endpoints ? apr_table_get(endpoints, name) : NULL;

    if (where == NULL) {
        where = located(r, handler);
        return where ? apr_pstrcat(r->pool, origin(r, issuer), where, NULL)
                     : NULL;
    }
    if (ap_is_url(where)) {
        return where;
    }
    return apr_pstrcat(r->pool, issuer, *where == '/' ? "" : "/", where,
                       NULL);
}

int oauth_handle_metadata(request_rec *r)
{
    const apiauth_oauth_config_t *o = &oauth_conf(r)->oauth;
    json_t *m, *scopes = json_array();
    static const char *const names[][3] = {
        {"authorization", "authorization_endpoint", "apiauth-authorize"},
        {"token", "token_endpoint", "apiauth-token"},
        {"jwks", "jwks_uri", "apiauth-jwks"},
        {"introspection", "introspection_endpoint", "apiauth-introspect"},
        {"revocation", "revocation_endpoint", "apiauth-revoke"},
        {"registration", "registration_endpoint", "apiauth-register"},
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
        "{s:s, s:o, s:[s], s:[sss], s:[ssssss], s:[s], s:b, s:[ssss],"
        " s:[sssss], s:[s], s:b}",
        "issuer", o->issuer,
        "scopes_supported", scopes,
        "response_types_supported", "code",
        "grant_types_supported", "authorization_code", "client_credentials",
        "refresh_token",
        "token_endpoint_auth_methods_supported", "client_secret_basic",
        "client_secret_post", "none", "tls_client_auth",
        "self_signed_tls_client_auth", "private_key_jwt",
        "code_challenge_methods_supported", "S256",
        "authorization_response_iss_parameter_supported", 1,
        "introspection_endpoint_auth_methods_supported",
        "client_secret_basic", "client_secret_post", "tls_client_auth",
        "self_signed_tls_client_auth",
        "revocation_endpoint_auth_methods_supported", "client_secret_basic",
        "client_secret_post", "none", "tls_client_auth",
        "self_signed_tls_client_auth",
        "response_modes_supported", "query",
        /* RFC 8705 §3.3 */
        "tls_client_certificate_bound_access_tokens", 1);
    if (oauth_conf(r)->cimd_domains) {
        json_object_set_new(m, "client_id_metadata_document_supported",
                            json_true());
    }
    json_object_set_new(m, "token_endpoint_auth_signing_alg_values_supported",
                        json_pack("[sss]", "RS256", "ES256", "EdDSA"));
    json_object_set_new(m, "dpop_signing_alg_values_supported",
                        json_pack("[sssss]", APIAUTH_DPOP_ALGS));
    for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        const char *url = endpoint(r, o->issuer, names[k][0], names[k][2]);
        if (strcmp(names[k][0], "registration") == 0
            && (oauth_conf(r)->registration_app == NULL
                || (!oauth_conf(r)->registration_open
                    && oauth_conf(r)->registration_token == NULL))) {
            continue;                  /* closed: not advertised */
        }
        if (url) {
            json_object_set_new(m, names[k][1], json_string(url));
        }
    }
    return oauth_send_public_json(r, m);
}
