/*
 * mod_apiauth: authentication and authorization of API callers.
 *
 * This file is the module's table of contents: configuration and the
 * hooks it registers.  The work is done in
 *   apiauth_directives.c the command table and the setters
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
    apiauth_directives_pre_config(pconf);
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
        apiauth_log_deprecations(s);
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
