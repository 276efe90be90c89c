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
 *  - with ApiAuthSharedStore memcache:HOST:PORT[,HOST:PORT...], in
 *    memcached by its atomic incr (apiauth_shared.c), so that nodes
 *    sharing it share one exact count -- what a socache cannot do.
 * A counter that cannot be reached lets the request through (limits fail
 * open, authentication fails closed), and the error log says so.
 */
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

static int limits_configured;        /* some section has ApiAuthRateLimit */


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

void apiauth_rate_pre_config(void)
{
    limits_configured = 0;
}

void apiauth_rate_post_config(server_rec *s)
{
    if (limits_configured && !apiauth_shared_configured()
        && apiauth_socache_configured_shared()) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, AALOGNO(10028)
                     "ApiAuthRateLimit counts in the shared socache, "
                     "which reads then writes: nodes may together admit "
                     "more than a limit; ApiAuthSharedStore memcache:... "
                     "counts exactly");
    }
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

/* The count after this request of one line; -1 when it cannot be said. */
static apr_int64_t count_one(request_rec *r, const apiauth_rate_limit_t *l,
                             const char *subject, apr_int64_t window,
                             apr_int64_t window_end)
{
    const char *name = apr_psprintf(r->pool, "%s|%s|%" APR_INT64_T_FMT,
                                    l->id, subject, window);

    if (apiauth_shared_configured()) {
        return apiauth_shared_count(r, name, l->seconds);
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
