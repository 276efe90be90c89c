/*
 * mod_apiauth: authentication and authorization of API callers.
 *
 * This file is the module's table of contents: configuration, directives
 * and the hooks it registers.  The work is done in
 *   apiauth_authn.c     AuthType apiauth: TLS, credential, identity
 *   apiauth_resolve.c   per-scheme rules over the provider chain
 *   apiauth_authz.c     Require apiauth-scope | -app | -kind | -group
 *   apiauth_group.c     where a request names its group (Twake)
 *   apiauth_response.c  challenges and JSON error bodies
 *   apiauth_cache.c     validated credentials in mod_socache
 *   apiauth_socache.c   the socache, its mutex, the change count
 *   apiauth_memo.c      what a keep-alive connection sent and was told
 *   apiauth_limit.c     refused attempts per address (ApiAuthFailureLimit)
 *   apiauth_confcheck.c what a configuration must hold, checked at start
 *   provider_dbd.c, provider_file.c, provider_jwt.c
 *                       where credentials are looked up
 * The contract is docs/design.md ("mod_apiauth"); README documents each
 * directive for operators.
 */
#include <apr_optional.h>
#include <apr_strings.h>
#include <ap_provider.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_auth.h>

#include "apiauth_dbd.h"
#include "apiauth_dpop.h"
#include "apiauth_private.h"

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

/* A section's configuration before any directive of ours: every field
 * unset.  A new one is a byte-for-byte copy (static storage zeroes the
 * padding too), so that an untouched section is recognised by comparing
 * bytes (see merge_dir_conf). */
static const apiauth_dir_conf unset_conf = {
    .require_tls = APIAUTH_UNSET,
    .allow_backend = APIAUTH_UNSET,
    .forward_headers = APIAUTH_UNSET,
    .keep_credential = APIAUTH_UNSET,
    .cache = APIAUTH_UNSET,
    .cache_ttl = APIAUTH_UNSET,
    .jwt_leeway = APIAUTH_UNSET,
    .jwt_local = APIAUTH_UNSET,
    .group_body_limit = APIAUTH_UNSET,
    .group_required = APIAUTH_UNSET,
    .app_token_allowed = APIAUTH_UNSET,
    .dpop_nonce = APIAUTH_UNSET,
    .dpop_window = APIAUTH_UNSET,
};

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    return apr_pmemdup(p, &unset_conf, sizeof(unset_conf));
}

int apiauth_dir_conf_untouched(const apiauth_dir_conf *conf)
{
    return memcmp(conf, &unset_conf, sizeof(*conf)) == 0;
}

#define MERGE_PTR(f) conf->f = add->f ? add->f : base->f
#define MERGE_INT(f) conf->f = add->f != APIAUTH_UNSET ? add->f : base->f

/* Run for every section that matches a request, on every request: where
 * one side holds no directive of ours (the server's defaults, a section
 * of other modules' directives: `empty`, found once at start) the other
 * is the answer as it is, shared and never written to after start. */
static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    apiauth_dir_conf *base = basev, *add = addv;
    apiauth_dir_conf *conf;

    const apiauth_premerged_t *made;

    if (add->empty) {
        return base;
    }
    if (base->empty) {
        return add;
    }
    /* the location walk of a request merges the same sections as the
     * walks before it: those merges were made once, at start */
    for (made = add->premerged; made; made = made->next) {
        if (made->base == base) {
            return made->merged;
        }
    }
    conf = apr_pcalloc(p, sizeof(*conf));

    MERGE_PTR(schemes);
    conf->scheme_mask = add->schemes ? add->scheme_mask : base->scheme_mask;
    MERGE_PTR(resource);
    conf->resource_as = add->resource ? add->resource_as : base->resource_as;
    MERGE_PTR(scopes_required);
    MERGE_PTR(rate_limits);
    conf->metrics_slot = add->metrics_slot ? add->metrics_slot
                                           : base->metrics_slot;
    MERGE_PTR(providers);
    MERGE_PTR(chain);
    MERGE_PTR(key_header);
    MERGE_PTR(key_query);
    MERGE_INT(require_tls);
    MERGE_INT(allow_backend);
    MERGE_INT(forward_headers);
    MERGE_INT(keep_credential);
    MERGE_INT(cache);
    MERGE_INT(cache_ttl);
    MERGE_PTR(credential_file);
    MERGE_PTR(credential_file_state);
    MERGE_PTR(jwt_keys);
    MERGE_PTR(jwt_remote);
    MERGE_PTR(jwt_keys_ca);
    MERGE_PTR(jwt_issuer);
    /* the issuer and what it is go together */
    conf->jwt_local = add->jwt_issuer ? add->jwt_local : base->jwt_local;
    MERGE_PTR(jwt_audience);
    MERGE_INT(jwt_leeway);
    conf->group_source = add->group_source ? add->group_source
                                           : base->group_source;
    MERGE_PTR(group_name);
    MERGE_INT(group_body_limit);
    MERGE_INT(group_required);
    MERGE_INT(app_token_allowed);
    MERGE_INT(dpop_nonce);
    MERGE_INT(dpop_window);
    return conf;
}

static void *create_server_conf(apr_pool_t *p, server_rec *s)
{
    return apr_pcalloc(p, sizeof(apiauth_server_conf));
}

static void *merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    apiauth_server_conf *base = basev, *add = addv;
    apiauth_server_conf *conf = apr_pcalloc(p, sizeof(*conf));

    MERGE_PTR(pepper);
    MERGE_PTR(trusted_proxies);
    MERGE_PTR(client_cert_header);
    conf->fail_limit = add->fail_limit ? add->fail_limit : base->fail_limit;
    conf->fail_window = add->fail_limit ? add->fail_window : base->fail_window;
    return conf;
}

const apiauth_pepper_t *apiauth_pepper_of(request_rec *r)
{
    apiauth_server_conf *sconf =
        ap_get_module_config(r->server->module_config, &apiauth_module);

    return sconf->pepper;
}

/* ------------------------------------------------------------------ */
/* Directives                                                          */
/* ------------------------------------------------------------------ */

static const char *set_scheme(cmd_parms *cmd, void *dconf, const char *arg)
{
    apiauth_dir_conf *conf = dconf;
    apiauth_scheme_t scheme = apiauth_scheme_from_name(arg);

    if (scheme == 0) {
        return apr_psprintf(cmd->pool, "ApiAuthScheme: unknown scheme '%s' "
                            "(bearer, apikey, token, basic, install)", arg);
    }
    if (conf->schemes == NULL) {
        conf->schemes = apr_array_make(cmd->pool, 5, sizeof(apiauth_scheme_t));
    }
    if (!(conf->scheme_mask & scheme)) {
        APR_ARRAY_PUSH(conf->schemes, apiauth_scheme_t) = scheme;
        conf->scheme_mask |= scheme;
    }
    return NULL;
}

static const char *set_provider(cmd_parms *cmd, void *dconf, const char *arg)
{
    apiauth_dir_conf *conf = dconf;
    apiauth_provider_ref_t *ref;
    const apiauth_provider_t *provider;

    provider = ap_lookup_provider(APIAUTH_PROVIDER_GROUP, arg,
                                  APIAUTH_PROVIDER_VERSION);
    if (provider == NULL) {
        return apr_psprintf(cmd->pool, "ApiAuthProvider: unknown provider "
                            "'%s' (dbd, file, jwt; oauth needs "
                            "mod_apiauth_oauth loaded first)", arg);
    }
    if (conf->providers == NULL) {
        conf->providers = apr_array_make(cmd->pool, 4, sizeof(*ref));
        conf->chain = NULL;
    }
    ref = apr_array_push(conf->providers);
    ref->name = apr_pstrdup(cmd->pool, arg);
    ref->provider = provider;
    conf->chain = conf->chain ? apr_pstrcat(cmd->pool, conf->chain, " ", arg,
                                            NULL)
                              : ref->name;
    apiauth_cache_register_chain(cmd->pool, conf->chain);
    return NULL;
}

/* Directives of the previous release that a newer one replaces: they
 * still work, and each use is logged once the error log is open (at
 * start the configuration is read before it is), with what to write
 * instead. */
static apr_array_header_t *deprecations;

static void deprecated(cmd_parms *cmd, const char *instead)
{
    if (deprecations) {
        APR_ARRAY_PUSH(deprecations, const char *) = apr_psprintf(
            cmd->pool, "%s:%d: %s is deprecated and will go in the next "
            "release: write %s", cmd->directive->filename,
            cmd->directive->line_num, cmd->cmd->name, instead);
    }
}

static void log_deprecations(server_rec *s)
{
    int i;

    for (i = 0; deprecations && i < deprecations->nelts; i++) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, AALOGNO(10003) "%s",
                     APR_ARRAY_IDX(deprecations, i, const char *));
    }
}

static const char *set_shared_store(cmd_parms *cmd, void *dummy,
                                    const char *arg)
{
    return apiauth_shared_store_set(cmd, arg);
}

static const char *set_rate_limit_store(cmd_parms *cmd, void *dummy,
                                        const char *arg)
{
    deprecated(cmd, apr_pstrcat(cmd->pool, "ApiAuthSharedStore ", arg, NULL));
    return apiauth_shared_store_set(cmd, arg);
}

/* A whole number of seconds from `min` to `max`: NULL, or why not. */
static const char *seconds(cmd_parms *cmd, const char *arg, int min, int max,
                           int *out)
{
    char *end;
    apr_int64_t v = apr_strtoi64(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || v < min || v > max) {
        return apr_psprintf(cmd->pool, "%s takes a number of seconds from %d "
                            "to %d, not '%s'", cmd->cmd->name, min, max, arg);
    }
    *out = (int)v;
    return NULL;
}

/* ApiAuthCache on | off | SECONDS (on, entries living that long). */
static const char *set_cache(cmd_parms *cmd, void *dconf, const char *arg)
{
    apiauth_dir_conf *conf = dconf;

    if (strcasecmp(arg, "on") == 0 || strcasecmp(arg, "off") == 0) {
        conf->cache = strcasecmp(arg, "on") == 0;
        return NULL;
    }
    conf->cache = 1;
    return seconds(cmd, arg, 1, 86400, &conf->cache_ttl);
}

static const char *set_cache_ttl(cmd_parms *cmd, void *dconf, const char *arg)
{
    apiauth_dir_conf *conf = dconf;

    deprecated(cmd, apr_psprintf(cmd->pool, "ApiAuthCache %s", arg));
    return seconds(cmd, arg, 1, 86400, &conf->cache_ttl);
}

/* ApiAuthKeyFrom header=NAME query=NAME: where an API key is read. */
static const char *set_key_from(cmd_parms *cmd, void *dconf, const char *arg)
{
    apiauth_dir_conf *conf = dconf;

    if (strncasecmp(arg, "header=", 7) == 0 && arg[7]) {
        conf->key_header = arg + 7;
    }
    else if (strncasecmp(arg, "query=", 6) == 0 && arg[6]) {
        conf->key_query = strcasecmp(arg + 6, "off") == 0 ? "" : arg + 6;
    }
    else {
        return apr_psprintf(cmd->pool, "ApiAuthKeyFrom takes header=NAME "
                            "and query=NAME (or query=off), not '%s'", arg);
    }
    return NULL;
}

static const char *set_key_header(cmd_parms *cmd, void *dconf,
                                  const char *arg)
{
    deprecated(cmd, apr_psprintf(cmd->pool, "ApiAuthKeyFrom header=%s", arg));
    return set_key_from(cmd, dconf, apr_pstrcat(cmd->pool, "header=", arg,
                                                NULL));
}

static const char *set_key_query(cmd_parms *cmd, void *dconf, const char *arg)
{
    deprecated(cmd, apr_psprintf(cmd->pool, "ApiAuthKeyFrom query=%s", arg));
    return set_key_from(cmd, dconf, apr_pstrcat(cmd->pool, "query=", arg,
                                                NULL));
}

/* ApiAuthJWT issuer=URL audience=AUD keys=FILE [keys=FILE ...]
 * [leeway=SECONDS] [local]: what the jwt provider requires, in one line. */
static const char *set_jwt(cmd_parms *cmd, void *dconf, const char *args)
{
    apiauth_dir_conf *conf = dconf;
    const char *issuer = NULL, *word, *err = NULL;
    int local = 0;

    while (err == NULL && *(word = ap_getword_conf(cmd->temp_pool, &args))) {
        const char *eq = ap_strchr_c(word, '=');
        char *v = eq ? apr_pstrdup(cmd->pool, eq + 1) : NULL;
        apr_size_t n = eq ? (apr_size_t)(eq - word) : strlen(word);

        /* keys="/path" as written in other directives; a path with a
         * space is quoted whole: "keys=/a path" */
        if (v && *v == '"' && strlen(v) >= 2 && v[strlen(v) - 1] == '"') {
            v[strlen(v) - 1] = '\0';
            v++;
        }

        if (eq == NULL && strcasecmp(word, "local") == 0) {
            local = 1;
        }
        else if (v && *v && n == 6 && strncasecmp(word, "issuer", 6) == 0) {
            issuer = v;
        }
        else if (v && *v && n == 8 && strncasecmp(word, "audience", 8) == 0) {
            conf->jwt_audience = v;
        }
        else if (v && *v && n == 4 && strncasecmp(word, "keys", 4) == 0) {
            err = apiauth_jwt_add_keys(cmd, dconf, v);
        }
        else if (v && *v && n == 7 && strncasecmp(word, "keys-ca", 7) == 0) {
            err = apiauth_jwt_keys_ca(cmd, dconf, v);
        }
        else if (v && n == 12 && strncasecmp(word, "keys-refetch", 12) == 0) {
            err = apiauth_jwt_keys_every(cmd, dconf, v);
        }
        else if (v && n == 6 && strncasecmp(word, "leeway", 6) == 0) {
            err = seconds(cmd, v, 0, 3600, &conf->jwt_leeway);
        }
        else {
            err = apr_psprintf(cmd->pool, "ApiAuthJWT takes issuer=URL "
                               "audience=AUD keys=FILE|URL [keys-ca=FILE] "
                               "[keys-refetch=SECONDS] [leeway=SECONDS] "
                               "[local], not '%s'", word);
        }
    }
    if (err == NULL && issuer) {
        err = apiauth_jwt_set_issuer(cmd, dconf, issuer,
                                     local ? "local" : NULL);
    }
    else if (err == NULL && local) {
        err = "ApiAuthJWT: 'local' goes with issuer=URL";
    }
    return err;
}

static const char *set_jwt_keys(cmd_parms *cmd, void *dconf, const char *arg)
{
    deprecated(cmd, apr_psprintf(cmd->pool, "ApiAuthJWT keys=%s", arg));
    return apiauth_jwt_add_keys(cmd, dconf, arg);
}

static const char *set_jwt_issuer(cmd_parms *cmd, void *dconf,
                                  const char *issuer, const char *local)
{
    deprecated(cmd, apr_psprintf(cmd->pool, "ApiAuthJWT issuer=%s%s", issuer,
                                 local ? " local" : ""));
    return apiauth_jwt_set_issuer(cmd, dconf, issuer, local);
}

static const char *set_jwt_audience(cmd_parms *cmd, void *dconf,
                                    const char *arg)
{
    apiauth_dir_conf *conf = dconf;

    deprecated(cmd, apr_psprintf(cmd->pool, "ApiAuthJWT audience=%s", arg));
    conf->jwt_audience = arg;
    return NULL;
}

static const char *set_jwt_leeway(cmd_parms *cmd, void *dconf,
                                  const char *arg)
{
    apiauth_dir_conf *conf = dconf;

    deprecated(cmd, apr_psprintf(cmd->pool, "ApiAuthJWT leeway=%s", arg));
    return seconds(cmd, arg, 0, 3600, &conf->jwt_leeway);
}

static const char *set_pepper(cmd_parms *cmd, void *dummy, const char *arg)
{
    apiauth_server_conf *sconf =
        ap_get_module_config(cmd->server->module_config, &apiauth_module);
    const char *errmsg = NULL;
    const char *path = ap_server_root_relative(cmd->pool, arg);

    if (path == NULL
        || apiauth_pepper_load(cmd->pool, path, &sconf->pepper, &errmsg)
               != APIAUTH_OK) {
        return apr_psprintf(cmd->pool, "ApiAuthSecretPepper: %s",
                            errmsg ? errmsg : "invalid path");
    }
    return NULL;
}

static const char *add_trusted_proxy(cmd_parms *cmd, void *dummy,
                                     const char *arg)
{
    apiauth_server_conf *sconf =
        ap_get_module_config(cmd->server->module_config, &apiauth_module);
    char *ip = apr_pstrdup(cmd->pool, arg), *mask = ap_strchr(ip, '/');
    apr_ipsubnet_t *subnet;
    apr_status_t rv;

    if (mask) {
        *mask++ = '\0';
    }
    rv = apr_ipsubnet_create(&subnet, ip, mask, cmd->pool);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "ApiAuthTrustedProxy: '%s' is not an "
                            "address or CIDR block", arg);
    }
    if (sconf->trusted_proxies == NULL) {
        sconf->trusted_proxies = apr_array_make(cmd->pool, 2,
                                                sizeof(apr_ipsubnet_t *));
    }
    APR_ARRAY_PUSH(sconf->trusted_proxies, apr_ipsubnet_t *) = subnet;
    return NULL;
}

static const char *set_client_cert_header(cmd_parms *cmd, void *dummy,
                                          const char *arg)
{
    apiauth_server_conf *sconf =
        ap_get_module_config(cmd->server->module_config, &apiauth_module);

    if (*arg == '\0' || *ap_scan_http_token(arg) != '\0') {
        return apr_psprintf(cmd->pool, "ApiAuthClientCertHeader: '%s' is "
                            "not a header name", arg);
    }
    sconf->client_cert_header = arg;
    return NULL;
}

static const char *set_credential_file(cmd_parms *cmd, void *dconf,
                                       const char *arg)
{
    apiauth_dir_conf *conf = dconf;
    const char *path = ap_server_root_relative(cmd->pool, arg);

    if (path == NULL) {
        return "ApiAuthCredentialFile: invalid path";
    }
    conf->credential_file = path;
    apiauth_cache_register_file(cmd->pool, path);
    conf->credential_file_state = apiauth_file_state_for(cmd->pool, path);
    return conf->credential_file_state
               ? NULL
               : "ApiAuthCredentialFile: cannot create its lock";
}

#define DIR_FLAG(name, field, help)                                       \
    AP_INIT_FLAG(name, ap_set_flag_slot,                                  \
                 (void *)APR_OFFSETOF(apiauth_dir_conf, field), OR_AUTHCFG, \
                 help)

static const command_rec apiauth_cmds[] = {
    AP_INIT_ITERATE("ApiAuthScheme", set_scheme, NULL, OR_AUTHCFG,
                    "schemes accepted here, in challenge order: bearer "
                    "apikey token basic install"),
    AP_INIT_ITERATE("ApiAuthProvider", set_provider, NULL, OR_AUTHCFG,
                    "where credentials are looked up, in order: dbd file "
                    "jwt oauth"),
    AP_INIT_ITERATE("ApiAuthKeyFrom", set_key_from, NULL, OR_AUTHCFG,
                    "where an API key is read: header=NAME (X-API-Key) "
                    "query=NAME (off)"),
    DIR_FLAG("ApiAuthRequireTLS", require_tls,
             "refuse requests that did not come over HTTPS (default on)"),
    DIR_FLAG("ApiAuthAllowBackend", allow_backend,
             "accept Tapglue-style backend tokens here (default off)"),
    DIR_FLAG("ApiAuthForwardHeaders", forward_headers,
             "pass the identity on as X-ApiAuth-* request headers"),
    DIR_FLAG("ApiAuthKeepCredential", keep_credential,
             "leave the credential in the request for the backend"),
    AP_INIT_TAKE1("ApiAuthCache", set_cache, NULL, OR_AUTHCFG,
                  "cache validated credentials: on (default, 60 s), off, "
                  "or the seconds an entry lives"),
    AP_INIT_TAKE1("ApiAuthCredentialFile", set_credential_file, NULL,
                  OR_AUTHCFG, "credentials file of the 'file' provider"),
    AP_INIT_RAW_ARGS("ApiAuthJWT", set_jwt, NULL, OR_AUTHCFG,
                     "what the jwt provider requires: issuer=URL "
                     "audience=AUD keys=FILE (PEM or JWKS, repeatable) "
                     "[leeway=SECONDS (60)] [local: the issuer is ours]"),
    AP_INIT_TAKE_ARGV("ApiAuthRateLimit", apiauth_rate_limit_set, NULL,
                      OR_AUTHCFG, "N/SECONDS [credential|app|client|address]: "
                      "requests an authenticated caller may make per window "
                      "(several lines combine)"),
    AP_INIT_TAKE1("ApiAuthMetricsLabels", apiauth_metrics_labels_set, NULL,
                  RSRC_CONF, "client|app: count requests per OAuth client "
                  "or app too (the first 256 of them)"),
    AP_INIT_TAKE1("ApiAuthSharedStore", set_shared_store, NULL, RSRC_CONF,
                  "memcache:HOST:PORT[,...]: where the nodes keep rate "
                  "limit counts and DPoP proofs seen, exactly (default: "
                  "the socache, exact per node)"),
    AP_INIT_TAKE_ARGV("ApiAuthResource", apiauth_resource_set, NULL,
                      OR_AUTHCFG, "this location's resource identifier "
                      "(an https URL; RFC 8707, 9728) and, optionally, "
                      "the issuers of its authorization servers"),
    AP_INIT_ITERATE("ApiAuthDPoP", apiauth_dpop_set, NULL, OR_AUTHCFG,
                    "DPoP proofs here (RFC 9449): nonce (require a server "
                    "nonce) and window=SECONDS (60) for iat"),
    AP_INIT_TAKE1("ApiAuthDPoPReplaySlots", apiauth_claims_set_slots, NULL,
                  RSRC_CONF, "how many DPoP proofs this node remembers at "
                  "once, a power of two (65536); a proof that finds no "
                  "room is refused, never an older one forgotten"),
    AP_INIT_TAKE1("ApiAuthGroupFrom", apiauth_group_set_from, NULL,
                  OR_AUTHCFG, "where a request names its group: query=NAME "
                  "(group_id), header=NAME, form=NAME or json=NAME"),
    AP_INIT_TAKE1("ApiAuthGroupBodyLimit", apiauth_group_set_limit, NULL,
                  OR_AUTHCFG, "bytes of body read for a form or JSON group "
                  "id (64 KiB)"),
    AP_INIT_TAKE1("ApiAuthCacheSOCache", apiauth_socache_set, NULL,
                  RSRC_CONF, "socache provider[:args] for the credential "
                  "cache (default shmcb)"),
    AP_INIT_TAKE1("ApiAuthSecretPepper", set_pepper, NULL, RSRC_CONF,
                  "file whose content keys HMAC-SHA-256 secret digests"),
    AP_INIT_TAKE2("ApiAuthFailureLimit", apiauth_limit_set, NULL, RSRC_CONF,
                  "refused attempts per client address and window (COUNT "
                  "SECONDS) before answering 429"),
    AP_INIT_ITERATE("ApiAuthTrustedProxy", add_trusted_proxy, NULL,
                    RSRC_CONF, "addresses (CIDR) whose X-Forwarded-Proto "
                    "(and ApiAuthClientCertHeader) is believed"),
    AP_INIT_TAKE1("ApiAuthClientCertHeader", set_client_cert_header, NULL,
                  RSRC_CONF, "request header in which an ApiAuthTrustedProxy "
                  "passes on the TLS client certificate"),
    /* the previous release's spellings (deprecated, logged) */
    AP_INIT_TAKE1("ApiAuthRateLimitStore", set_rate_limit_store, NULL,
                  RSRC_CONF, "deprecated: ApiAuthSharedStore"),
    AP_INIT_TAKE1("ApiAuthKeyHeader", set_key_header, NULL, OR_AUTHCFG,
                  "deprecated: ApiAuthKeyFrom header=NAME"),
    AP_INIT_TAKE1("ApiAuthKeyQuery", set_key_query, NULL, OR_AUTHCFG,
                  "deprecated: ApiAuthKeyFrom query=NAME"),
    AP_INIT_TAKE1("ApiAuthCacheTTL", set_cache_ttl, NULL, OR_AUTHCFG,
                  "deprecated: ApiAuthCache SECONDS"),
    AP_INIT_TAKE1("ApiAuthJWTKeys", set_jwt_keys, NULL, OR_AUTHCFG,
                  "deprecated: ApiAuthJWT keys=FILE"),
    AP_INIT_TAKE12("ApiAuthJWTIssuer", set_jwt_issuer, NULL, OR_AUTHCFG,
                   "deprecated: ApiAuthJWT issuer=URL [local]"),
    AP_INIT_TAKE1("ApiAuthJWTAudience", set_jwt_audience, NULL, OR_AUTHCFG,
                  "deprecated: ApiAuthJWT audience=AUD"),
    AP_INIT_TAKE1("ApiAuthJWTLeeway", set_jwt_leeway, NULL, OR_AUTHCFG,
                  "deprecated: ApiAuthJWT leeway=SECONDS"),
    {NULL}
};

/* ------------------------------------------------------------------ */
/* What other modules may call (mod_apiauth.h)                         */
/* ------------------------------------------------------------------ */

static const apiauth_identity_t *apiauth_request_identity(request_rec *r)
{
    return apiauth_identity_of(r);
}

static const apiauth_pepper_t *server_pepper(server_rec *s)
{
    apiauth_server_conf *sconf = ap_get_module_config(s->module_config,
                                                      &apiauth_module);

    return sconf->pepper;
}

static int tls_satisfied(request_rec *r)
{
    return apiauth_tls_ok(r, ap_get_module_config(r->per_dir_config,
                                                  &apiauth_module));
}

/* What another module's decisions did, carried out here, where the cache
 * and the failure counts are. */
static void apply_effects(request_rec *r, const apiauth_effects_t *fx)
{
    int i;

    for (i = 0; fx && i < fx->list->nelts; i++) {
        const apiauth_effect_t *e = &APR_ARRAY_IDX(fx->list, i,
                                                   apiauth_effect_t);
        apiauth_metrics_effect(e);
        switch (e->kind) {
        case APIAUTH_EFFECT_REVOKED:
            apiauth_cache_note_revoked(r, e->what, e->id, e->until);
            ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, AALOGNO(10025)
                          "%s %s revoked: what it covers is refused here "
                          "at once", e->what, e->id);
            break;
        case APIAUTH_EFFECT_FORGET:
            apiauth_forget_credential(r, &e->presented);
            break;
        case APIAUTH_EFFECT_REFUSED:
            apiauth_limit_failed(r);
            break;
        case APIAUTH_EFFECT_ISSUED:
            break;
        }
    }
}

static const apiauth_services_t services = {
    tls_satisfied, apiauth_limit_blocked, apply_effects, server_pepper,
    apiauth_dbd_writer, apiauth_dpop_seen, apiauth_over_tls,
    apiauth_proxied_cert, apiauth_fact_remember, apiauth_fact_known,
    apiauth_forwarded_host,
};

static const apiauth_services_t *apiauth_services(void)
{
    return &services;
}

/* ------------------------------------------------------------------ */
/* Hooks                                                               */
/* ------------------------------------------------------------------ */

static int apiauth_post_read_request(request_rec *r)
{
    apiauth_strip_spoofed_headers(r);
    return DECLINED;
}

/* Reached only when authorization granted the request. */
static int apiauth_fixups(request_rec *r)
{
    apiauth_forget_denial(r);
    return DECLINED;
}

static int apiauth_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp)
{
    if (apiauth_dbd_writer_register(pconf) != APR_SUCCESS) {
        ap_log_perror(APLOG_MARK, APLOG_CRIT, 0, plog, AALOGNO(10002)
                      "cannot register the apiauth-sqlite mutex");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    deprecations = apr_array_make(pconf, 2, sizeof(const char *));
    apiauth_discovery_pre_config(pconf);
    apiauth_rate_pre_config();
    apiauth_shared_pre_config();
    if (apiauth_claims_pre_config(pconf, plog) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apiauth_metrics_pre_config();
    apiauth_jwt_remote_pre_config(pconf);
    return apiauth_cache_pre_config(pconf, plog, ptemp);
}

static int apiauth_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                               apr_pool_t *ptemp, server_rec *s)
{
    if (apiauth_digest_init(pconf) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AALOGNO(10001)
                     "OpenSSL has no SHA-256: cannot start");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        log_deprecations(s);
    }
    apiauth_dbd_prepare_statements(s);
    if (apiauth_dbd_writer_create(pconf, s) != APR_SUCCESS
        || apiauth_discovery_post_config(pconf, s) != OK
        || apiauth_shared_post_config(pconf, s) != OK
        || apiauth_claims_post_config(pconf, s) != OK
        || apiauth_metrics_post_config(pconf, s) != OK
        || apiauth_jwt_remote_post_config(pconf, s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apiauth_rate_post_config(s);
    return apiauth_cache_post_config(pconf, plog, ptemp, s);
}

static void apiauth_child_init(apr_pool_t *p, server_rec *s)
{
    apiauth_dbd_writer_child_init(p, s);
    apiauth_socache_child_init(p, s);
    apiauth_dpop_child_init(p);
    apiauth_shared_child_init(p, s);
    apiauth_claims_child_init(p, s);
    apiauth_jwt_remote_child_init(p);
}

static void register_hooks(apr_pool_t *p)
{
    /* our post_config adds SQL statements that mod_dbd's post_config
     * then prepares on every connection */
    static const char *const before_dbd[] = {"mod_dbd.c", NULL};
    static const char *const before_log[] = {"mod_log_config.c", NULL};

    ap_hook_pre_config(apiauth_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(apiauth_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(apiauth_post_config, NULL, before_dbd,
                        APR_HOOK_MIDDLE);
    ap_hook_child_init(apiauth_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(apiauth_resource_metadata_handler, NULL, NULL,
                    APR_HOOK_MIDDLE);
    ap_hook_handler(apiauth_metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
    apiauth_metrics_register(p);
    ap_hook_post_read_request(apiauth_post_read_request, NULL, NULL,
                              APR_HOOK_MIDDLE);

    ap_hook_check_authn(apiauth_check_authn, NULL, NULL, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_note_auth_failure(apiauth_note_auth_failure, NULL, NULL,
                              APR_HOOK_MIDDLE);
    ap_hook_fixups(apiauth_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(apiauth_insert_error_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
    ap_hook_log_transaction(apiauth_mask_logged_query, NULL, before_log,
                            APR_HOOK_FIRST);
    ap_hook_access_checker_ex(apiauth_limit_check_access, NULL, NULL,
                              APR_HOOK_FIRST);
    ap_hook_check_authz(apiauth_limit_note_authenticated, NULL, NULL,
                        APR_HOOK_FIRST, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_log_transaction(apiauth_limit_log, NULL, NULL, APR_HOOK_MIDDLE);
    ap_register_output_filter(APIAUTH_ERROR_FILTER, apiauth_error_filter,
                              NULL, AP_FTYPE_CONTENT_SET);
    apiauth_group_register_filter();

    ap_register_provider(p, APIAUTH_PROVIDER_GROUP, "dbd",
                         APIAUTH_PROVIDER_VERSION, &apiauth_provider_dbd);
    ap_register_provider(p, APIAUTH_PROVIDER_GROUP, "file",
                         APIAUTH_PROVIDER_VERSION, &apiauth_provider_file);
    ap_register_provider(p, APIAUTH_PROVIDER_GROUP, "jwt",
                         APIAUTH_PROVIDER_VERSION, &apiauth_provider_jwt);
    ap_register_auth_provider(p, AUTHN_PROVIDER_GROUP, "apiauth",
                              AUTHN_PROVIDER_VERSION, apiauth_basic_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    apiauth_register_authz(p);

    APR_REGISTER_OPTIONAL_FN(apiauth_request_identity);
    APR_REGISTER_OPTIONAL_FN(apiauth_services);
}

/* not AP_DECLARE_MODULE: the private header already says APLOG_USE_MODULE */
module AP_MODULE_DECLARE_DATA APIAUTH_MODULE_RECORD apiauth_module = {
    STANDARD20_MODULE_STUFF,
    create_dir_conf,
    merge_dir_conf,
    create_server_conf,
    merge_server_conf,
    apiauth_cmds,
    register_hooks,
    /* every virtual host its own merged configuration, even one without
     * our directives: each has its own name in cache keys */
    AP_MODULE_FLAG_ALWAYS_MERGE
};
