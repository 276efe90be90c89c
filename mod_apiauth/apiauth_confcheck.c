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
 * enclosing one: each <Location> or <Directory> that holds a directive
 * of ours is checked as merged with the server's defaults and with the
 * sections of its kind whose path encloses its own, in configuration
 * order, as a request to that path would see it.  A setting made in a
 * section of the other kind is taken to reach it (only a request can
 * tell).  What httpd decides only per request (<LocationMatch>, <If>,
 * .htaccess), and a section that names none of our directives, are left
 * to the request, which fails closed (503).
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

/* What a configuration lacks for its providers to work, as bits. */
enum { NEED_KEYS = 1, NEED_ISSUER = 2, NEED_AUDIENCE = 4, NEED_FILE = 8 };

static unsigned missing(const apiauth_dir_conf *conf)
{
    unsigned m = 0;

    if (chain_has(conf, "jwt")) {
        m |= (conf->jwt_keys || conf->jwt_remote ? 0 : NEED_KEYS)
             | (conf->jwt_issuer ? 0 : NEED_ISSUER)
             | (conf->jwt_audience ? 0 : NEED_AUDIENCE);
    }
    if (chain_has(conf, "file") && conf->credential_file == NULL) {
        m |= NEED_FILE;
    }
    return m;
}

/* What `conf` sets of those (a section of another kind may supply it to
 * a request: a <Directory> to a <Location>'s, say). */
static unsigned supplies(const apiauth_dir_conf *conf)
{
    return (conf->jwt_keys || conf->jwt_remote ? NEED_KEYS : 0)
           | (conf->jwt_issuer ? NEED_ISSUER : 0)
           | (conf->jwt_audience ? NEED_AUDIENCE : 0)
           | (conf->credential_file ? NEED_FILE : 0);
}

static unsigned supplied_by(apr_array_header_t *sections)
{
    unsigned m = 0;
    int i;

    for (i = 0; sections && i < sections->nelts; i++) {
        const apiauth_dir_conf *conf = ap_get_module_config(
            APR_ARRAY_IDX(sections, i, ap_conf_vector_t *), &apiauth_module);
        const core_dir_config *core = ap_get_core_module_config(
            APR_ARRAY_IDX(sections, i, ap_conf_vector_t *));
        m |= (conf ? supplies(conf) : 0) | supplied_by(core->sec_file);
    }
    return m;
}

static const char *say_missing(apr_pool_t *p, unsigned m)
{
    if (m & NEED_FILE) {
        return "ApiAuthProvider file needs ApiAuthCredentialFile";
    }
    return apr_pstrcat(p, "ApiAuthProvider jwt needs ApiAuthJWT issuer=URL "
                       "audience=AUD keys=FILE (missing:",
                       m & NEED_ISSUER ? " issuer=" : "",
                       m & NEED_AUDIENCE ? " audience=" : "",
                       m & NEED_KEYS ? " keys=" : "", ")", NULL);
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

/* `add` merged onto `base` as a request would merge them, made now and
 * hung from `add` so that requests find it (merge_dir_conf); before
 * threads, in the configuration's pool, never written to again. */
static apiauth_dir_conf *premerge(apr_pool_t *pconf, apiauth_dir_conf *base,
                                  apiauth_dir_conf *add)
{
    apiauth_premerged_t *made;

    if (base == NULL || base->empty || add->empty) {
        return base == NULL || base->empty ? add : base;
    }
    for (made = add->premerged; made; made = made->next) {
        if (made->base == base) {
            return made->merged;
        }
    }
    made = apr_pcalloc(pconf, sizeof(*made));
    made->base = base;
    made->merged = apiauth_module.merge_dir_config(pconf, base, add);
    made->next = add->premerged;
    add->premerged = made;
    return made->merged;
}

/* The location walk of a request to each <Location> path, merged now:
 * the server's defaults, then every plain section enclosing the path, in
 * configuration order (as ap_location_walk takes them). */
static void premerge_locations(apr_pool_t *pconf, server_rec *s,
                               apr_array_header_t *sections)
{
    ap_conf_vector_t **secs;
    int i, k;

    if (sections == NULL) {
        return;
    }
    secs = (ap_conf_vector_t **)sections->elts;
    for (i = 0; i < sections->nelts; i++) {
        const core_dir_config *self = ap_get_core_module_config(secs[i]);
        apiauth_dir_conf *cur = ap_get_module_config(s->lookup_defaults,
                                                     &apiauth_module);

        if (!plain_path(self)) {
            continue;
        }
        for (k = 0; k < sections->nelts; k++) {
            const core_dir_config *core = ap_get_core_module_config(secs[k]);
            apiauth_dir_conf *add = ap_get_module_config(secs[k],
                                                         &apiauth_module);
            if (add && plain_path(core) && encloses(core->d, self->d)) {
                cur = premerge(pconf, cur, add);
            }
        }
    }
}

/* Each section that holds directives of ours, as a request to its path
 * sees it.  What a section of another kind (`others`) sets anywhere is
 * given the benefit of the doubt: whether it reaches the same requests
 * only a request can tell, which still fails closed (503). */
static int check_sections(apr_pool_t *p, server_rec *s,
                          apr_array_header_t *sections,
                          apr_array_header_t *others, const char *kind)
{
    unsigned elsewhere = supplied_by(others);
    int i;

    for (i = 0; sections && i < sections->nelts; i++) {
        note_empty(APR_ARRAY_IDX(sections, i, ap_conf_vector_t *));
    }
    for (i = 0; sections && i < sections->nelts; i++) {
        ap_conf_vector_t *vector = APR_ARRAY_IDX(sections, i,
                                                 ap_conf_vector_t *);
        const core_dir_config *core = ap_get_core_module_config(vector);
        const apiauth_dir_conf *own = ap_get_module_config(vector,
                                                           &apiauth_module);
        const apiauth_dir_conf *conf;
        unsigned m;

        if (own == NULL || own->empty) {
            continue;
        }
        conf = effective(p, s, sections, i);
        m = conf ? missing(conf) & ~elsewhere : 0;
        if (m) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AALOGNO(10090)
                         "%s in <%s %s> (virtual host %s)",
                         say_missing(p, m), kind, core->d ? core->d : "?",
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
        int rc, i;

        if (sconf->pepper == NULL && apiauth_socache_configured_shared()) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AALOGNO(10050)
                         "ApiAuthCacheSOCache names a cache other hosts can "
                         "write to: set ApiAuthSecretPepper (the same file "
                         "on every node; virtual host %s has none), which "
                         "authenticates its entries",
                         s->server_hostname ? s->server_hostname : "-");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (sconf->client_cert_header && sconf->trusted_proxies == NULL) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AALOGNO(10051)
                         "ApiAuthClientCertHeader %s is believed only from "
                         "an ApiAuthTrustedProxy, and virtual host %s names "
                         "none", sconf->client_cert_header,
                         s->server_hostname ? s->server_hostname : "-");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        note_empty(s->lookup_defaults);
        if ((rc = check_sections(ptemp, s, core->sec_url, core->sec_dir,
                                 "Location")) != OK
            || (rc = check_sections(ptemp, s, core->sec_dir, core->sec_url,
                                    "Directory")) != OK) {
            return rc;
        }
        for (i = 0; core->sec_url && i < core->sec_url->nelts; i++) {
            apiauth_metrics_name_section(
                s, APR_ARRAY_IDX(core->sec_url, i, ap_conf_vector_t *));
        }
        premerge_locations(pconf, s, core->sec_url);
    }
    return OK;
}
