/*
 * apiauth_ratelimit.c: ApiAuthRateLimit N/SECONDS [credential|app|client|
 * address] -- how many requests an authenticated caller may make in a
 * window, counted after authentication.
 *
 * Each line is a counter per window of SECONDS (fixed windows, aligned to
 * the epoch) and per subject: the credential (a key, a session, a token's
 * jti), its app, its OAuth client, or the client address.  Lines combine:
 * a request is answered 429 with Retry-After when any counter is past its
 * N; every answer of a limited location carries the RateLimit-Limit,
 * RateLimit-Remaining and RateLimit-Reset headers of the counter closest
 * to its limit (the IETF httpapi draft's names).
 *
 * Where counts are kept:
 *  - by default in the socache, read and written under its mutex: exact
 *    on one node (shmcb);
 *  - with ApiAuthRateLimitStore memcache:HOST:PORT[,HOST:PORT...], in
 *    memcached by its atomic incr (apr_memcache), so that nodes sharing it
 *    share one exact count -- what a socache cannot do (mod_socache has no
 *    increment, and a read then a write lets two nodes both admit request
 *    N).  The keys are MACs under a key of ApiAuthSecretPepper: nothing in
 *    memcached names a credential.
 * A counter that cannot be reached lets the request through (limits fail
 * open, authentication fails closed), and the error log says so.
 */
#include <apr_memcache.h>
#include <apr_network_io.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>

#include "apiauth_private.h"
#include "encoding.h"

/* One ApiAuthRateLimit line. */
typedef struct apiauth_rate_limit {
    const char *id;              /* names its counters: section and line */
    apr_int64_t count;
    apr_int64_t seconds;
    int by;                      /* RATE_BY_* */
} apiauth_rate_limit_t;

enum { RATE_BY_CREDENTIAL, RATE_BY_APP, RATE_BY_CLIENT, RATE_BY_ADDRESS };

static const char *const by_names[] = {"credential", "app", "client",
                                       "address"};

/* ApiAuthRateLimitStore, per configuration; the memcache client, per
 * child. */
static const char *store_servers;
static int limits_configured;        /* some section has ApiAuthRateLimit */
static apr_memcache_t *memcache;
static apiauth_pepper_t *key_mac;

#define MAX_SERVERS 8

const char *apiauth_rate_limit_set(cmd_parms *cmd, void *dconf, int argc,
                                   char *const argv[])
{
    apiauth_dir_conf *conf = dconf;
    apiauth_rate_limit_t *l;
    char *slash, *end1, *end2;
    size_t i;

    if (argc < 1 || argc > 2 || (slash = strchr(argv[0], '/')) == NULL) {
        return "ApiAuthRateLimit N/SECONDS [credential|app|client|address]";
    }
    l = apr_pcalloc(cmd->pool, sizeof(*l));
    l->count = apr_strtoi64(argv[0], &end1, 10);
    l->seconds = apr_strtoi64(slash + 1, &end2, 10);
    if (end1 != slash || *end2 != '\0' || slash[1] == '\0' || l->count < 1
        || l->count > 1000000000 || l->seconds < 1 || l->seconds > 86400) {
        return apr_psprintf(cmd->pool, "ApiAuthRateLimit: '%s' is not "
                            "N/SECONDS (1 to 86400 seconds)", argv[0]);
    }
    l->by = RATE_BY_CREDENTIAL;
    if (argc == 2) {
        for (i = 0; i < sizeof(by_names) / sizeof(by_names[0]); i++) {
            if (strcasecmp(argv[1], by_names[i]) == 0) {
                break;
            }
        }
        if (i == sizeof(by_names) / sizeof(by_names[0])) {
            return apr_psprintf(cmd->pool, "ApiAuthRateLimit counts by "
                                "credential, app, client or address, not "
                                "'%s'", argv[1]);
        }
        l->by = (int)i;
    }
    /* the same line in the same section, on every node */
    l->id = apr_psprintf(cmd->pool, "%s|%s|%s", cmd->path ? cmd->path : "",
                         argv[0], by_names[l->by]);
    if (conf->rate_limits == NULL) {
        conf->rate_limits = apr_array_make(cmd->pool, 2,
                                           sizeof(apiauth_rate_limit_t *));
    }
    APR_ARRAY_PUSH(conf->rate_limits, apiauth_rate_limit_t *) = l;
    limits_configured = 1;
    return NULL;
}

const char *apiauth_rate_store_set(cmd_parms *cmd, void *dummy,
                                   const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) {
        return err;
    }
    if (strncasecmp(arg, "memcache:", 9) != 0 || arg[9] == '\0') {
        return "ApiAuthRateLimitStore memcache:HOST:PORT[,HOST:PORT...]";
    }
    store_servers = arg + 9;
    return NULL;
}

void apiauth_rate_pre_config(void)
{
    store_servers = NULL;
    limits_configured = 0;
    memcache = NULL;
}

int apiauth_rate_post_config(apr_pool_t *pconf, server_rec *s)
{
    apiauth_server_conf *sconf = ap_get_module_config(s->module_config,
                                                      &apiauth_module);

    if (store_servers == NULL) {
        if (limits_configured && apiauth_socache_configured_shared()) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, AALOGNO(10028)
                         "ApiAuthRateLimit counts in the shared socache, "
                         "which reads then writes: nodes may together "
                         "admit more than a limit; ApiAuthRateLimitStore "
                         "memcache:... counts exactly");
        }
        return OK;
    }
    if (sconf->pepper == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AALOGNO(10058)
                     "ApiAuthRateLimitStore needs ApiAuthSecretPepper (the "
                     "same file on every node): the counters' names are "
                     "MACs under a key of it");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return apiauth_pepper_derive(pconf, sconf->pepper,
                                 "apiauth rate limit counter", &key_mac)
                   == APIAUTH_OK
               ? OK
               : HTTP_INTERNAL_SERVER_ERROR;
}

void apiauth_rate_child_init(apr_pool_t *p, server_rec *s)
{
    char *list, *last, *hostport;
    apr_memcache_t *mc;
    int n = 0;

    if (store_servers == NULL
        || apr_memcache_create(p, MAX_SERVERS, 0, &mc) != APR_SUCCESS) {
        return;
    }
    list = apr_pstrdup(p, store_servers);
    for (hostport = apr_strtok(list, ",", &last); hostport;
         hostport = apr_strtok(NULL, ",", &last)) {
        char *host, *scope;
        apr_port_t port;
        apr_memcache_server_t *ms;

        if (apr_parse_addr_port(&host, &scope, &port, hostport, p)
                != APR_SUCCESS
            || host == NULL
            || apr_memcache_server_create(p, host, port ? port : 11211, 0,
                                          4, 64, 60 * 1000 * 1000, &ms)
                   != APR_SUCCESS
            || apr_memcache_add_server(mc, ms) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, AALOGNO(10059)
                         "ApiAuthRateLimitStore: cannot use %s", hostport);
            continue;
        }
        n++;
    }
    memcache = n ? mc : NULL;
}

/* The subject a line counts: NULL when the identity has none (a key has
 * no OAuth client): that line does not apply. */
static const char *subject_of(request_rec *r, const apiauth_rate_limit_t *l,
                              const apiauth_identity_t *id)
{
    switch (l->by) {
    case RATE_BY_APP:
        return id->app;
    case RATE_BY_CLIENT:
        return id->client_id;
    case RATE_BY_ADDRESS:
        return r->useragent_ip;
    default:
        return id->credential_id;
    }
}

/* The count after this request, in memcached: incr, or the first of the
 * window (add; another node may add it first, then incr again).  -1 when
 * memcached cannot be reached. */
static apr_int64_t memcache_count(request_rec *r, const char *key,
                                  apr_int64_t seconds)
{
    apr_uint32_t n = 0;
    apr_status_t rv;
    int tries;

    for (tries = 0; tries < 2; tries++) {
        rv = apr_memcache_incr(memcache, key, 1, &n);
        if (rv == APR_SUCCESS) {
            return n;
        }
        if (!APR_STATUS_IS_NOTFOUND(rv)) {
            break;
        }
        /* expire a little after the window, never before it ends */
        rv = apr_memcache_add(memcache, key, "1", 1,
                              (apr_uint32_t)(seconds + 1), 0);
        if (rv == APR_SUCCESS) {
            return 1;
        }
        if (rv != APR_EEXIST) {
            break;
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r, AALOGNO(10027)
                  "rate limit counter unreachable in memcached: the "
                  "request is let through");
    return -1;
}

/* The count after this request of one line; -1 when it cannot be said. */
static apr_int64_t count_one(request_rec *r, const apiauth_rate_limit_t *l,
                             const char *subject, apr_int64_t window,
                             apr_int64_t window_end)
{
    const char *name = apr_psprintf(r->pool, "%s|%s|%" APR_INT64_T_FMT,
                                    l->id, subject, window);

    if (memcache) {
        unsigned char mac[APIAUTH_DIGEST_LEN];
        const void *parts[1] = {name};
        apr_size_t lens[1] = {strlen(name)};

        if (apiauth_hmac(key_mac, parts, lens, 1, mac) != 0) {
            return -1;
        }
        return memcache_count(r, apr_pstrcat(r->pool, "aarl:",
                                             apiauth_hex_encode(r->pool, mac,
                                                                16),
                                             NULL),
                              l->seconds);
    }
    if (!apiauth_socache_available()) {
        return -1;
    }
    return apiauth_socache_increment(r, apr_pstrcat(r->pool, "rate ", name,
                                                    NULL),
                                     apr_time_from_sec(window_end));
}

int apiauth_rate_check(request_rec *r, const apiauth_dir_conf *conf,
                       const apiauth_identity_t *id)
{
    apr_int64_t now = apr_time_sec(r->request_time);
    apr_int64_t best_left = -1, best_limit = 0, best_reset = 0, wait = 0;
    int i, over = 0;

    for (i = 0; i < conf->rate_limits->nelts; i++) {
        const apiauth_rate_limit_t *l =
            APR_ARRAY_IDX(conf->rate_limits, i, const apiauth_rate_limit_t *);
        const char *subject = subject_of(r, l, id);
        apr_int64_t window = now / l->seconds;
        apr_int64_t end = (window + 1) * l->seconds, n, left;

        if (subject == NULL
            || (n = count_one(r, l, subject, window, end)) < 0) {
            continue;                  /* fail open */
        }
        left = n > l->count ? 0 : l->count - n;
        if (n > l->count) {
            over = 1;
            if (end - now > wait) {
                wait = end - now;
            }
        }
        if (best_left < 0 || left < best_left) {
            best_left = left;
            best_limit = l->count;
            best_reset = end - now;
        }
    }
    if (best_left >= 0) {
        apr_table_t *t = over ? r->err_headers_out : r->headers_out;
        apr_table_setn(t, "RateLimit-Limit",
                       apr_psprintf(r->pool, "%" APR_INT64_T_FMT, best_limit));
        apr_table_setn(t, "RateLimit-Remaining",
                       apr_psprintf(r->pool, "%" APR_INT64_T_FMT, best_left));
        apr_table_setn(t, "RateLimit-Reset",
                       apr_psprintf(r->pool, "%" APR_INT64_T_FMT, best_reset));
    }
    if (over) {
        apr_table_setn(r->notes, APIAUTH_NOTE_RATE_LIMITED, "1");
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                    wait > 0 ? wait : 1));
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(10026)
                      "credential %s over its rate limit here",
                      id->credential_id ? id->credential_id : "-");
    }
    return over;
}
