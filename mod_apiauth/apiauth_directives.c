/*
 * apiauth_directives.c: the directives of mod_apiauth -- the command
 * table, the setters that are only a word or two, and the previous
 * release's spellings (each use logged once the error log is open).
 * Setters with a subject of their own live with it (apiauth_ratelimit.c,
 * apiauth_claims.c, apiauth_shared.c, ...); what each directive means is
 * README's table and docs/design.md.
 */
#include <apr_strings.h>
#include <ap_provider.h>
#include <http_core.h>
#include <http_log.h>

#include "apiauth_dpop.h"
#include "apiauth_private.h"

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

void apiauth_directives_pre_config(apr_pool_t *pconf)
{
    deprecations = apr_array_make(pconf, 2, sizeof(const char *));
}

static void deprecated(cmd_parms *cmd, const char *instead)
{
    if (deprecations) {
        APR_ARRAY_PUSH(deprecations, const char *) = apr_psprintf(
            cmd->pool, "%s:%d: %s is deprecated and will go in the next "
            "release: write %s", cmd->directive->filename,
            cmd->directive->line_num, cmd->cmd->name, instead);
    }
}

void apiauth_log_deprecations(server_rec *s)
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

const command_rec apiauth_cmds[] = {
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
