/*
 * apiauth_confcheck.c: what a configuration must hold, checked once at
 * start (the check_config hook, which `apache2 -t` runs too), so that a
 * mistake stops httpd with its directive and section named instead of
 * answering 503 to every request of the location.
 *
 * A cache that other hosts can write to (ApiAuthCacheSOCache memcache,
 * redis...) needs ApiAuthSecretPepper in every virtual host: its entries
 * are authenticated under a key derived from it (apiauth_cache.c).
 *
 * A location's settings may come from the section itself or from an
 * enclosing one: each <Location> or <Directory> is checked as merged
 * with the server's defaults and with the sections of its kind whose
 * path encloses its own, in configuration order, as a request to that
 * path would see it.  What httpd decides only per request (<If>,
 * regular expressions, .htaccess) is left to the request, which fails
 * closed as before.
 */
#include <apr_strings.h>
#include <http_core.h>

#include "apiauth_private.h"

/* Does the section at `outer` apply to every request of `inner` (both
 * plain paths)?  At a segment boundary, as <Location> matches. */
static int encloses(const char *outer, const char *inner)
{
    size_t n = strlen(outer);

    return strncmp(outer, inner, n) == 0
           && (n == 0 || outer[n - 1] == '/' || inner[n] == '/'
               || inner[n] == '\0');
}

static int plain_path(const core_dir_config *core)
{
    return core->d && core->r == NULL && !core->d_is_fnmatch;
}

/* Our configuration of section `i` of `sections` as a request to its path
 * sees it. */
static apiauth_dir_conf *effective(apr_pool_t *p, server_rec *s,
                                   apr_array_header_t *sections, int i)
{
    ap_conf_vector_t **secs = (ap_conf_vector_t **)sections->elts;
    const core_dir_config *self = ap_get_core_module_config(secs[i]);
    apiauth_dir_conf *conf = ap_get_module_config(s->lookup_defaults,
                                                  &apiauth_module);
    int k;

    for (k = 0; k < sections->nelts; k++) {
        const core_dir_config *core = ap_get_core_module_config(secs[k]);
        apiauth_dir_conf *add = ap_get_module_config(secs[k], &apiauth_module);

        if (add == NULL) {
            continue;
        }
        if (k == i || (plain_path(self) && plain_path(core)
                       && encloses(core->d, self->d))) {
            conf = conf ? apiauth_module.merge_dir_config(p, conf, add) : add;
        }
    }
    return conf;
}

static int chain_has(const apiauth_dir_conf *conf, const char *name)
{
    int i;

    for (i = 0; conf->providers && i < conf->providers->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(conf->providers, i,
                                 apiauth_provider_ref_t).name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* What `conf` lacks for its providers to work, or NULL. */
static const char *missing(apr_pool_t *p, const apiauth_dir_conf *conf)
{
    if (chain_has(conf, "jwt")
        && (!conf->jwt_keys || !conf->jwt_issuer || !conf->jwt_audience)) {
        return apr_pstrcat(p, "ApiAuthProvider jwt needs ApiAuthJWTKeys, "
                           "ApiAuthJWTIssuer and ApiAuthJWTAudience (missing:",
                           conf->jwt_keys ? "" : " ApiAuthJWTKeys",
                           conf->jwt_issuer ? "" : " ApiAuthJWTIssuer",
                           conf->jwt_audience ? "" : " ApiAuthJWTAudience",
                           ")", NULL);
    }
    if (chain_has(conf, "file") && conf->credential_file == NULL) {
        return "ApiAuthProvider file needs ApiAuthCredentialFile";
    }
    return NULL;
}

/* Marks a configuration that holds no directive of ours, so that merging
 * it costs nothing at request time (mod_apiauth.c).  Before threads, and
 * the configuration does not change after. */
static void note_empty(ap_conf_vector_t *vector)
{
    apiauth_dir_conf *conf = ap_get_module_config(vector, &apiauth_module);

    if (conf && !conf->empty) {
        conf->empty = apiauth_dir_conf_untouched(conf);
    }
}

static int check_sections(apr_pool_t *p, server_rec *s,
                          apr_array_header_t *sections, const char *kind)
{
    int i;

    for (i = 0; sections && i < sections->nelts; i++) {
        note_empty(APR_ARRAY_IDX(sections, i, ap_conf_vector_t *));
    }
    for (i = 0; sections && i < sections->nelts; i++) {
        const core_dir_config *core = ap_get_core_module_config(
            APR_ARRAY_IDX(sections, i, ap_conf_vector_t *));
        const apiauth_dir_conf *conf = effective(p, s, sections, i);
        const char *why = conf ? missing(p, conf) : NULL;

        if (why) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AALOGNO(10090)
                         "%s in <%s %s> (virtual host %s)", why, kind,
                         core->d ? core->d : "?",
                         s->server_hostname ? s->server_hostname : "-");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

int apiauth_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp, server_rec *s)
{
    for (; s; s = s->next) {
        const core_server_config *core =
            ap_get_core_module_config(s->module_config);
        const apiauth_server_conf *sconf =
            ap_get_module_config(s->module_config, &apiauth_module);
        const apiauth_dir_conf *defaults =
            ap_get_module_config(s->lookup_defaults, &apiauth_module);
        const char *why = defaults ? missing(ptemp, defaults) : NULL;
        int rc;

        note_empty(s->lookup_defaults);
        if (sconf->pepper == NULL && apiauth_socache_configured_shared()) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AALOGNO(10050)
                         "ApiAuthCacheSOCache names a cache other hosts can "
                         "write to: set ApiAuthSecretPepper (the same file "
                         "on every node; virtual host %s has none), which "
                         "authenticates its entries",
                         s->server_hostname ? s->server_hostname : "-");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (why) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AALOGNO(10091)
                         "%s in virtual host %s", why,
                         s->server_hostname ? s->server_hostname : "-");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if ((rc = check_sections(ptemp, s, core->sec_url, "Location")) != OK
            || (rc = check_sections(ptemp, s, core->sec_dir, "Directory"))
                   != OK) {
            return rc;
        }
    }
    return OK;
}
