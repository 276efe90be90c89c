/*
 * mod_apiauth_oauth: an OAuth 2.0 authorization server inside httpd.
 *
 * This file is the module's table of contents: its configuration, the
 * directives, the handlers it answers (SetHandler apiauth-token,
 * apiauth-authorize, apiauth-jwks, apiauth-metadata, apiauth-introspect,
 * apiauth-revoke, apiauth-login, apiauth-install-token) and the "oauth"
 * provider it adds to mod_apiauth.  The
 * handlers are in handler_*.c, the protocol in lib/oauth/, the store is
 * mod_dbd's connection.  The contract is docs/design.md ("mod_apiauth_oauth").
 */
#include <apr_strings.h>
#include <ap_provider.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>

#include "form.h"
#include "keys.h"
#include "apiauth_dpop.h"
#include "oauth_private.h"
#include "scope.h"
#include "url.h"

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

static void *create_server_conf(apr_pool_t *p, server_rec *s)
{
    oauth_server_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->access_lifetime = OAUTH_UNSET;
    conf->refresh_lifetime = OAUTH_UNSET;
    conf->require_pkce_all = OAUTH_UNSET;
    conf->max_body = OAUTH_UNSET;
    conf->dpop_nonce = OAUTH_UNSET;
    conf->dpop_window = OAUTH_UNSET;
    conf->session_lifetime = OAUTH_UNSET;
    conf->install_lifetime = OAUTH_UNSET;
    return conf;
}

#define MERGE_PTR(f) conf->f = add->f ? add->f : base->f
#define MERGE_INT(f) conf->f = add->f != OAUTH_UNSET ? add->f : base->f

static void *merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    oauth_server_conf *base = basev, *add = addv;
    oauth_server_conf *conf = apr_pcalloc(p, sizeof(*conf));

    MERGE_PTR(issuer);
    MERGE_PTR(audience);
    MERGE_PTR(signing_key);
    MERGE_PTR(published);
    MERGE_INT(access_lifetime);
    MERGE_INT(refresh_lifetime);
    MERGE_PTR(scopes);
    MERGE_PTR(scope_words);
    MERGE_PTR(resources);
    conf->registration_open = add->registration_open
                              || base->registration_open;
    MERGE_PTR(registration_token);
    MERGE_PTR(registration_app);
    MERGE_PTR(cimd_domains);
    MERGE_PTR(cimd_app);
    conf->fetch_loopback = add->fetch_loopback || base->fetch_loopback;
    MERGE_PTR(fetch_ca);
    MERGE_INT(require_pkce_all);
    MERGE_INT(max_body);
    MERGE_INT(dpop_nonce);
    MERGE_INT(dpop_window);
    MERGE_PTR(endpoints);
    MERGE_INT(session_lifetime);
    MERGE_INT(install_lifetime);
    MERGE_PTR(consent_template);
    return conf;
}

oauth_server_conf *oauth_conf(request_rec *r)
{
    return ap_get_module_config(r->server->module_config,
                                &apiauth_oauth_module);
}

static oauth_server_conf *cmd_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config,
                                &apiauth_oauth_module);
}

/* ------------------------------------------------------------------ */
/* Directives                                                          */
/* ------------------------------------------------------------------ */

/* ApiAuthOAuthResource URI: a resource tokens may be asked for (RFC
 * 8707), which becomes their aud. */
static const char *add_resource(cmd_parms *cmd, void *dummy, const char *arg)
{
    oauth_server_conf *conf = cmd_conf(cmd);

    if (!apiauth_resource_uri_valid(cmd->temp_pool, arg)) {
        return apr_psprintf(cmd->pool, "ApiAuthOAuthResource: '%s' is not "
                            "an http or https URL without query or fragment",
                            arg);
    }
    if (conf->resources == NULL) {
        conf->resources = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(conf->resources, const char *) = arg;
    return NULL;
}

static const char *apiauth_oauth_issuer(server_rec *s)
{
    oauth_server_conf *conf = ap_get_module_config(s->module_config,
                                                   &apiauth_oauth_module);

    return conf ? conf->issuer : NULL;
}

static const char *set_issuer(cmd_parms *cmd, void *dummy, const char *arg)
{
    apr_uri_t uri;

    if (apr_uri_parse(cmd->pool, arg, &uri) != APR_SUCCESS || !uri.scheme
        || !uri.hostname || uri.query || uri.fragment
        || (strcmp(uri.scheme, "https") != 0
            && strcmp(uri.scheme, "http") != 0)) {
        return "ApiAuthOAuthIssuer is an https URL without query or fragment "
               "(RFC 8414 §2)";
    }
    /* no trailing slash: iss must compare equal to what clients expect */
    cmd_conf(cmd)->issuer = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *set_signing_key(cmd_parms *cmd, void *dummy,
                                   const char *arg)
{
    oauth_server_conf *conf = cmd_conf(cmd);
    const char *path = ap_server_root_relative(cmd->pool, arg);
    const char *errmsg = NULL;

    if (conf->signing_key) {
        return "ApiAuthOAuthSigningKey: exactly one key signs; publish the "
               "others with ApiAuthOAuthPublishKey";
    }
    if (path == NULL
        || apiauth_jwk_load_private(cmd->pool, path, &conf->signing_key,
                                    &errmsg) != APIAUTH_OK) {
        return apr_psprintf(cmd->pool, "ApiAuthOAuthSigningKey: %s",
                            errmsg ? errmsg : "cannot read");
    }
    return NULL;
}

static const char *add_publish_key(cmd_parms *cmd, void *dummy,
                                   const char *arg)
{
    oauth_server_conf *conf = cmd_conf(cmd);
    const char *path = ap_server_root_relative(cmd->pool, arg);
    const char *errmsg = NULL;

    if (path == NULL
        || apiauth_jwk_load_public(cmd->pool, path, &conf->published,
                                   &errmsg) != APIAUTH_OK) {
        return apr_psprintf(cmd->pool, "ApiAuthOAuthPublishKey: %s",
                            errmsg ? errmsg : "cannot read");
    }
    return NULL;
}

static const char *parse_seconds(cmd_parms *cmd, const char *arg,
                                 apr_int64_t *out)
{
    char *end;
    apr_int64_t v = apr_strtoi64(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || v < 1 || v > 366 * 86400) {
        return apr_psprintf(cmd->pool, "%s takes a number of seconds",
                            cmd->cmd->name);
    }
    *out = v;
    return NULL;
}

static const char *set_access_lifetime(cmd_parms *cmd, void *d, const char *a)
{
    return parse_seconds(cmd, a, &cmd_conf(cmd)->access_lifetime);
}

static const char *set_refresh_lifetime(cmd_parms *cmd, void *d, const char *a)
{
    return parse_seconds(cmd, a, &cmd_conf(cmd)->refresh_lifetime);
}

static const char *set_session_lifetime(cmd_parms *cmd, void *d,
                                        const char *a)
{
    return parse_seconds(cmd, a, &cmd_conf(cmd)->session_lifetime);
}

static const char *set_install_lifetime(cmd_parms *cmd, void *d,
                                        const char *a)
{
    return parse_seconds(cmd, a, &cmd_conf(cmd)->install_lifetime);
}

static const char *set_max_body(cmd_parms *cmd, void *d, const char *arg)
{
    char *end;
    apr_int64_t v = apr_strtoi64(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || v < 256 || v > 16 * 1024 * 1024) {
        return "ApiAuthOAuthMaxBody takes a size in bytes (256 to 16M)";
    }
    cmd_conf(cmd)->max_body = v;
    return NULL;
}

/* ApiAuthOAuthScope NAME GRANT... */
static const char *add_scope(cmd_parms *cmd, void *d, int argc,
                             char *const argv[])
{
    oauth_server_conf *conf = cmd_conf(cmd);
    apiauth_oauth_scope_t *s;
    int i;

    if (argc < 2 || !apiauth_scope_token_valid(argv[0], strlen(argv[0]))) {
        return "ApiAuthOAuthScope NAME GRANT... (grants: authorization_code "
               "client_credentials)";
    }
    if (conf->scopes == NULL) {
        conf->scopes = apr_array_make(cmd->pool, 4, sizeof(*s));
    }
    s = apr_array_push(conf->scopes);
    s->name = argv[0];
    s->grants = 0;
    s->description = NULL;
    for (i = 1; i < argc; i++) {
        unsigned g = apiauth_grant_from_name(argv[i]);
        if (g != APIAUTH_GRANT_AUTHORIZATION_CODE
            && g != APIAUTH_GRANT_CLIENT_CREDENTIALS) {
            return apr_psprintf(cmd->pool, "ApiAuthOAuthScope %s: '%s' is not "
                                "authorization_code or client_credentials "
                                "(refresh_token keeps what was granted)",
                                argv[0], argv[i]);
        }
        s->grants |= g;
    }
    return NULL;
}

static const char *set_scope_words(cmd_parms *cmd, void *d, const char *name,
                                   const char *words)
{
    oauth_server_conf *conf = cmd_conf(cmd);

    if (conf->scope_words == NULL) {
        conf->scope_words = apr_table_make(cmd->pool, 4);
    }
    apr_table_set(conf->scope_words, name, words);
    return NULL;
}

static const char *set_require_pkce(cmd_parms *cmd, void *d, const char *arg)
{
    if (strcasecmp(arg, "all") == 0) {
        cmd_conf(cmd)->require_pkce_all = 1;
    }
    else if (strcasecmp(arg, "public") == 0) {
        cmd_conf(cmd)->require_pkce_all = 0;
    }
    else {
        return "ApiAuthOAuthRequirePKCE public|all";
    }
    return NULL;
}

/* ApiAuthOAuthDPoP nonce window=SECONDS */
static const char *set_dpop(cmd_parms *cmd, void *d, const char *arg)
{
    oauth_server_conf *conf = cmd_conf(cmd);

    return apiauth_dpop_directive(cmd->pool, cmd->cmd->name, arg,
                                  &conf->dpop_nonce, &conf->dpop_window);
}

static const char *set_endpoint(cmd_parms *cmd, void *d, const char *name,
                                const char *where)
{
    static const char *const names[] = {"authorization", "token", "jwks",
                                        "introspection", "revocation",
                                        "registration", NULL};
    oauth_server_conf *conf = cmd_conf(cmd);
    int i;

    for (i = 0; names[i] && strcmp(names[i], name) != 0; i++) {
    }
    if (names[i] == NULL) {
        return "ApiAuthOAuthEndpoint authorization|token|jwks|introspection|"
               "revocation|registration PATH-OR-URL";
    }
    if (conf->endpoints == NULL) {
        conf->endpoints = apr_table_make(cmd->pool, 5);
    }
    apr_table_set(conf->endpoints, name, where);
    return NULL;
}

static const command_rec oauth_cmds[] = {
    AP_INIT_TAKE1("ApiAuthOAuthIssuer", set_issuer, NULL, RSRC_CONF,
                  "the issuer URL (iss of tokens, RFC 8414)"),
    AP_INIT_ITERATE("ApiAuthOAuthClientDomains", oauth_client_domains_set,
                    NULL, RSRC_CONF, "client IDs that are the https URL of "
                    "a client metadata document, on these domains "
                    "(example.com, *.example.com, *), and app=NAME of the "
                    "clients"),
    AP_INIT_ITERATE("ApiAuthOAuthFetchTestOnly", oauth_fetch_test_set, NULL,
                    RSRC_CONF, "for tests only: loopback (fetch from "
                    "127.0.0.1 too), ca=FILE (trust this CA)"),
    AP_INIT_ITERATE("ApiAuthOAuthRegistration", oauth_registration_set, NULL,
                    RSRC_CONF, "dynamic client registration (RFC 7591): "
                    "open (public clients), token=FILE (the initial access "
                    "token), app=NAME (the app of registered clients)"),
    AP_INIT_ITERATE("ApiAuthOAuthResource", add_resource, NULL, RSRC_CONF,
                    "resources (URLs) tokens may be asked for with RFC "
                    "8707's resource parameter, which become their aud"),
    AP_INIT_TAKE1("ApiAuthOAuthAudience", ap_set_string_slot,
                  (void *)APR_OFFSETOF(oauth_server_conf, audience),
                  RSRC_CONF, "aud of access tokens (default: the issuer)"),
    AP_INIT_TAKE1("ApiAuthOAuthSigningKey", set_signing_key, NULL, RSRC_CONF,
                  "PEM private key that signs access tokens (RSA, P-256, "
                  "Ed25519)"),
    AP_INIT_TAKE1("ApiAuthOAuthPublishKey", add_publish_key, NULL, RSRC_CONF,
                  "a further public key (PEM or JWKS) in the JWKS, for "
                  "rotation"),
    AP_INIT_TAKE1("ApiAuthOAuthAccessTokenLifetime", set_access_lifetime,
                  NULL, RSRC_CONF, "seconds (default 172800, 2 days)"),
    AP_INIT_TAKE1("ApiAuthOAuthRefreshTokenLifetime", set_refresh_lifetime,
                  NULL, RSRC_CONF, "seconds (default 345600, 4 days)"),
    AP_INIT_TAKE_ARGV("ApiAuthOAuthScope", add_scope, NULL, RSRC_CONF,
                      "a scope and the grant types that may ask for it"),
    AP_INIT_TAKE2("ApiAuthOAuthScopeDescription", set_scope_words, NULL,
                  RSRC_CONF, "a scope and the words for it on the consent "
                  "page"),
    AP_INIT_TAKE1("ApiAuthOAuthRequirePKCE", set_require_pkce, NULL,
                  RSRC_CONF, "public (default) or all"),
    AP_INIT_ITERATE("ApiAuthOAuthDPoP", set_dpop, NULL, RSRC_CONF,
                    "DPoP proofs at the token endpoint (RFC 9449): nonce "
                    "(require a server nonce) and window=SECONDS (60)"),
    AP_INIT_TAKE1("ApiAuthOAuthMaxBody", set_max_body, NULL, RSRC_CONF,
                  "largest request body of the endpoints (default 64 KiB)"),
    AP_INIT_TAKE2("ApiAuthOAuthEndpoint", set_endpoint, NULL, RSRC_CONF,
                  "where an endpoint is, for the metadata document"),
    AP_INIT_TAKE1("ApiAuthOAuthConsentTemplate", oauth_set_consent_template,
                  NULL, RSRC_CONF, "an HTML file with {{placeholders}}: the "
                  "consent page of this server"),
    AP_INIT_TAKE1("ApiAuthSessionLifetime", set_session_lifetime, NULL,
                  RSRC_CONF, "seconds a login session lasts (30 days)"),
    AP_INIT_TAKE1("ApiAuthInstallTokenLifetime", set_install_lifetime, NULL,
                  RSRC_CONF, "seconds an install token lasts (3600)"),
    {NULL}
};

/* ------------------------------------------------------------------ */
/* Start-up                                                            */
/* ------------------------------------------------------------------ */

/* Builds the protocol configuration of each server from its directives. */
int oauth_post_config_server(apr_pool_t *p, server_rec *s)
{
    const apiauth_services_t *services = oauth_services();
    oauth_server_conf *conf = ap_get_module_config(s->module_config,
                                                   &apiauth_oauth_module);
    apiauth_oauth_config_t *o = &conf->oauth;
    apr_array_header_t *keys = apr_array_make(p, 2, sizeof(apiauth_jwk_t *));
    int i;

    if (conf->issuer && conf->signing_key == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AALOGNO(20001)
                     "ApiAuthOAuthIssuer %s needs an ApiAuthOAuthSigningKey",
                     conf->issuer);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (oauth_cimd_post_config(s, conf) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (conf->signing_key) {
        APR_ARRAY_PUSH(keys, apiauth_jwk_t *) = conf->signing_key;
    }
    if (conf->published) {
        apr_array_cat(keys, conf->published);
    }
    for (i = 0; conf->scopes && conf->scope_words && i < conf->scopes->nelts;
         i++) {
        apiauth_oauth_scope_t *sc =
            &APR_ARRAY_IDX(conf->scopes, i, apiauth_oauth_scope_t);
        sc->description = apr_table_get(conf->scope_words, sc->name);
    }
    o->issuer = conf->issuer;
    o->audience = conf->audience ? conf->audience : conf->issuer;
    o->signing_key = conf->signing_key;
    o->keys = keys;
    o->pepper = services ? services->pepper(s) : NULL;
    o->access_lifetime = conf->access_lifetime > 0
                             ? conf->access_lifetime
                             : OAUTH_DEFAULT_ACCESS_LIFETIME;
    o->refresh_lifetime = conf->refresh_lifetime > 0
                              ? conf->refresh_lifetime
                              : OAUTH_DEFAULT_REFRESH_LIFETIME;
    o->code_lifetime = OAUTH_CODE_LIFETIME;
    o->leeway = OAUTH_LEEWAY;
    o->scopes = conf->scopes;
    o->resources = conf->resources;
    o->require_pkce_all = conf->require_pkce_all == 1;
    /* as mod_apiauth derives its own: a nonce of either is taken by both */
    if (apiauth_pepper_derive(p, o->pepper,
                              o->pepper ? "apiauth dpop nonce" : NULL,
                              &conf->dpop_nonce_key) != APIAUTH_OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (conf->max_body <= 0) {
        conf->max_body = OAUTH_DEFAULT_MAX_BODY;
    }
    if (conf->session_lifetime <= 0) {
        conf->session_lifetime = OAUTH_DEFAULT_SESSION_LIFETIME;
    }
    if (conf->install_lifetime <= 0) {
        conf->install_lifetime = OAUTH_DEFAULT_INSTALL_LIFETIME;
    }
    /* The consent form's key: from the pepper when there is one, so that
     * every node of a cluster accepts the forms of the others; else random
     * per start (a restart only invalidates open consent pages). */
    if (apiauth_pepper_derive(p, o->pepper, "apiauth consent form",
                              &conf->consent_key) != APIAUTH_OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return oauth_consent_page_init(p, conf);
}

static int oauth_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    server_rec *sp;
    int rc;

    if (apiauth_digest_init(pconf) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AALOGNO(20003)
                     "OpenSSL has no SHA-256: cannot start");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    oauth_retrieve_services();
    if (oauth_services() == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AALOGNO(20002)
                     "mod_apiauth_oauth needs mod_apiauth: LoadModule "
                     "apiauth_module before apiauth_oauth_module");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    for (sp = s; sp; sp = sp->next) {
        if ((rc = oauth_post_config_server(pconf, sp)) != OK) {
            return rc;
        }
    }
    oauth_prepare_statements(s);
    return OK;
}

/* ------------------------------------------------------------------ */
/* Handlers                                                            */
/* ------------------------------------------------------------------ */

static const struct {
    const char *name;
    int (*handle)(request_rec *r);
} handlers[] = {
    {"apiauth-token", oauth_handle_token},
    {"apiauth-authorize", oauth_handle_authorize},
    {"apiauth-jwks", oauth_handle_jwks},
    {"apiauth-metadata", oauth_handle_metadata},
    {"apiauth-introspect", oauth_handle_introspect},
    {"apiauth-revoke", oauth_handle_revoke},
    {"apiauth-login", oauth_handle_login},
    {"apiauth-install-token", oauth_handle_install_token},
    {"apiauth-register", oauth_handle_register},
};

/* Secrets travel in bodies and headers; one a client puts in the query
 * of an endpoint is refused (or ignored) there, but the access log would
 * still show it: %r and %q get it masked before anything reads it. */
static void mask_query_secrets(request_rec *r)
{
    static const char *const secrets[] = {
        "client_secret", "client_assertion", "assertion", "code",
        "code_verifier", "refresh_token", "access_token", "token",
        "password", NULL};
    const char *masked;

    if (r->args == NULL) {
        return;
    }
    masked = apiauth_query_rewrite(r->pool, r->args, secrets, "***");
    if (masked && strcmp(masked, r->args) != 0) {
        r->the_request = (char *)apiauth_request_line_with_query(
            r->pool, r->the_request, r->args, masked);
        r->args = (char *)masked;
    }
}

static int oauth_handler(request_rec *r)
{
    size_t i;
    int rc;

    if (r->handler == NULL || strncmp(r->handler, "apiauth-", 8) != 0) {
        return DECLINED;
    }
    for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
        if (strcmp(handlers[i].name, r->handler) == 0) {
            mask_query_secrets(r);
            if ((rc = oauth_require_tls(r)) != OK) {
                return rc;
            }
            return handlers[i].handle(r);
        }
    }
    return DECLINED;
}

static void oauth_child_init(apr_pool_t *p, server_rec *s)
{
    apiauth_dpop_child_init(p);
}

static void register_hooks(apr_pool_t *p)
{
    static const char *const before_dbd[] = {"mod_dbd.c", NULL};

    ap_hook_post_config(oauth_post_config, NULL, before_dbd, APR_HOOK_MIDDLE);
    ap_hook_child_init(oauth_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    APR_REGISTER_OPTIONAL_FN(apiauth_oauth_issuer);
    ap_hook_optional_fn_retrieve(oauth_retrieve_services, NULL, NULL,
                                 APR_HOOK_MIDDLE);
    ap_hook_handler(oauth_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_register_provider(p, APIAUTH_PROVIDER_GROUP, "oauth",
                         APIAUTH_PROVIDER_VERSION, &oauth_provider);
}

/* not AP_DECLARE_MODULE: the private header already says APLOG_USE_MODULE */
module AP_MODULE_DECLARE_DATA APIAUTH_MODULE_RECORD apiauth_oauth_module = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    create_server_conf,
    merge_server_conf,
    oauth_cmds,
    register_hooks
};
