/*
 * apiauth_metrics.c: what authentication is doing, counted in shared
 * memory that every child writes with atomic adds, shown as Prometheus
 * text (SetHandler apiauth-metrics) and as a section of mod_status's page.
 *
 * Per location (each section with a directive of ours, named by its
 * server and path): requests by outcome -- accepted, or why refused -- and
 * a histogram of how long authentication took.  Server-wide: cache hits
 * and misses, store round-trips, and what the decisions of both modules
 * did (lib/decide/effects.h): tokens and sessions issued, refused
 * attempts, revocations.  Counters start at zero with each configuration
 * (a graceful restart included).  Labels are fixed words and location
 * paths, and -- only where ApiAuthMetricsLabels client|app asks, for the
 * first 256 -- the OAuth client or the app: never a credential.
 */
#include <apr_atomic.h>
#include <apr_optional.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <mod_status.h>

#include "apiauth_private.h"

#define MAX_LOCATIONS 256

enum {
    ACCEPTED, NO_CREDENTIAL, MALFORMED, UNKNOWN, EXPIRED, REVOKED, INVALID,
    INSUFFICIENT_SCOPE, FORBIDDEN, RATE_LIMITED, FAILURE_LIMITED,
    STORE_ERROR, OUTCOMES
};
static const char *const outcome_names[OUTCOMES] = {
    "accepted", "no_credential", "malformed", "unknown", "expired",
    "revoked", "invalid", "insufficient_scope", "forbidden", "rate_limited",
    "failure_limited", "store_error"};

/* upper bounds of the latency buckets, microseconds (then +Inf) */
static const apr_int64_t bucket_us[] = {50, 100, 250, 500, 1000, 5000,
                                        25000, 100000};
#define BUCKETS (sizeof(bucket_us) / sizeof(bucket_us[0]))

/* what the decisions name (effects.h); anything else is "other" */
static const char *const what_names[] = {
    "authorization_code", "client_credentials", "refresh_token", "session",
    "install", "grant", "token", "credential", "client", "password",
    "app token", "initial access token", "other"};
#define WHATS (sizeof(what_names) / sizeof(what_names[0]))

typedef struct {
    apr_uint64_t outcome[OUTCOMES];
    apr_uint64_t bucket[BUCKETS + 1];
    apr_uint64_t sum_us;
} location_counts;

/* ApiAuthMetricsLabels client|app: requests per client or app, for the
 * first NAMED names seen (those after them count as "other"). */
#define NAMED 256
#define NAME_MAX_LEN 96
#define PROBES 8

typedef struct {
    volatile apr_uint32_t state;        /* 0 free, 1 being named, 2 named */
    char name[NAME_MAX_LEN];
    apr_uint64_t accepted, refused;
} named_counts;

typedef struct {
    apr_uint64_t cache_hit, cache_miss, store_lookup;
    apr_uint64_t issued[WHATS], refused[WHATS], revoked[WHATS];
    location_counts loc[MAX_LOCATIONS];
    named_counts named[NAMED];
    named_counts other;
} counts_t;

static counts_t *counts;
static int label_by;                    /* 0 none, 1 client, 2 app */
static const char *location_names[MAX_LOCATIONS];
static const char *location_servers[MAX_LOCATIONS];
static int locations;

void apiauth_metrics_pre_config(void)
{
    counts = NULL;
    locations = 0;
    label_by = 0;
}

const char *apiauth_metrics_labels_set(cmd_parms *cmd, void *dummy,
                                       const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) {
        return err;
    }
    if (strcasecmp(arg, "client") == 0) {
        label_by = 1;
    }
    else if (strcasecmp(arg, "app") == 0) {
        label_by = 2;
    }
    else {
        return "ApiAuthMetricsLabels client|app";
    }
    return NULL;
}

/* The counters of one client or app: found, or named now in a free slot
 * of its probe sequence, else "other". */
static named_counts *named_of(const char *name)
{
    apr_uint32_t h = 5381;
    const char *c;
    int i;

    if (name == NULL || strlen(name) >= NAME_MAX_LEN) {
        return &counts->other;
    }
    for (c = name; *c; c++) {
        h = h * 33 + (unsigned char)*c;
    }
    for (i = 0; i < PROBES; i++) {
        named_counts *n = &counts->named[(h + (apr_uint32_t)i) % NAMED];
        apr_uint32_t st = apr_atomic_read32(&n->state);
        if (st == 2 && strcmp(n->name, name) == 0) {
            return n;
        }
        if (st == 0 && apr_atomic_cas32(&n->state, 1, 0) == 0) {
            apr_cpystrn(n->name, name, NAME_MAX_LEN);
            apr_atomic_set32(&n->state, 2);
            return n;
        }
    }
    return &counts->other;
}

/* Counts a request of a known caller, where ApiAuthMetricsLabels asks:
 * accepted (1), refused (0), or refused after all by a Require line (-1:
 * it was counted accepted). */
static void count_named(const apiauth_identity_t *id, int accepted)
{
    named_counts *n;

    if (label_by == 0 || counts == NULL || id == NULL) {
        return;
    }
    n = named_of(label_by == 1 ? id->client_id : id->app);
    if (accepted < 0) {
        apr_atomic_dec64(&n->accepted);
    }
    apr_atomic_inc64(accepted > 0 ? &n->accepted : &n->refused);
}

void apiauth_metrics_name_section(server_rec *s, ap_conf_vector_t *section)
{
    apiauth_dir_conf *conf = ap_get_module_config(section, &apiauth_module);
    core_dir_config *where = ap_get_core_module_config(section);

    if (conf == NULL || conf->empty || conf->metrics_slot > 0
        || locations >= MAX_LOCATIONS - 1) {
        return;
    }
    conf->metrics_slot = ++locations;
    location_names[locations] = where->d;
    location_servers[locations] = s->server_hostname ? s->server_hostname
                                                     : "";
}

int apiauth_metrics_post_config(apr_pool_t *pconf, server_rec *main_s)
{
    apr_shm_t *shm;
    apr_status_t rv;

    rv = apr_shm_create(&shm, sizeof(counts_t), NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, main_s, AALOGNO(10066)
                     "no shared memory for apiauth's metrics: none are "
                     "counted");
        return OK;
    }
    counts = apr_shm_baseaddr_get(shm);
    memset(counts, 0, sizeof(*counts));
    return OK;
}

static location_counts *counts_of(const apiauth_dir_conf *conf)
{
    int slot = conf ? conf->metrics_slot : 0;

    return counts && slot > 0 && slot <= locations ? &counts->loc[slot]
                                                   : NULL;
}

/* Why a refusal was made, from its answer. */
static int outcome_of(request_rec *r, int status, const apiauth_error_t *err)
{
    const char *why = err && err->description ? err->description : "";

    switch (status) {
    case HTTP_BAD_REQUEST:
        return MALFORMED;
    case HTTP_FORBIDDEN:
        return err && err->error
                       && strcmp(err->error, "insufficient_scope") == 0
                   ? INSUFFICIENT_SCOPE : FORBIDDEN;
    case HTTP_TOO_MANY_REQUESTS:
        return apr_table_get(r->notes, APIAUTH_NOTE_RATE_LIMITED)
                   ? RATE_LIMITED : FAILURE_LIMITED;
    case HTTP_SERVICE_UNAVAILABLE:
        return STORE_ERROR;
    default:
        break;
    }
    if (err == NULL) {
        return NO_CREDENTIAL;
    }
    /* the refusals of lib/decide name their reason in these words */
    if (strstr(why, "expired")) {
        return EXPIRED;
    }
    if (strstr(why, "revoked")) {
        return REVOKED;
    }
    if (strstr(why, "not known") || strstr(why, "unknown")) {
        return UNKNOWN;
    }
    return INVALID;
}

void apiauth_metrics_refused(request_rec *r, const apiauth_dir_conf *conf,
                             int status, const apiauth_error_t *err)
{
    location_counts *c = counts_of(conf);
    int why = outcome_of(r, status, err);

    if (c == NULL) {
        return;
    }
    apr_atomic_inc64(&c->outcome[why]);
    /* a Require line refused what authentication accepted: one request,
     * one outcome */
    if ((why == INSUFFICIENT_SCOPE || why == FORBIDDEN)
        && apiauth_identity_of(r) != NULL) {
        apr_atomic_dec64(&c->outcome[ACCEPTED]);
        count_named(apiauth_identity_of(r), -1);
    }
}

void apiauth_metrics_authn(request_rec *r, const apiauth_dir_conf *conf,
                           int accepted, apr_time_t took)
{
    location_counts *c = counts_of(conf);
    size_t b;

    if (c == NULL) {
        return;
    }
    if (accepted) {
        apr_atomic_inc64(&c->outcome[ACCEPTED]);
        count_named(apiauth_identity_of(r), 1);
    }
    else if (apr_table_get(r->notes, APIAUTH_NOTE_RATE_LIMITED)) {
        count_named(apiauth_identity_of(r), 0);
    }
    for (b = 0; b < BUCKETS && took > bucket_us[b]; b++) {
    }
    apr_atomic_inc64(&c->bucket[b]);
    apr_atomic_add64(&c->sum_us, (apr_uint64_t)(took > 0 ? took : 0));
}

void apiauth_metrics_cache(int hit)
{
    if (counts) {
        apr_atomic_inc64(hit ? &counts->cache_hit : &counts->cache_miss);
    }
}

void apiauth_metrics_store_lookup(void)
{
    if (counts) {
        apr_atomic_inc64(&counts->store_lookup);
    }
}

static size_t what_index(const char *what)
{
    size_t i;

    for (i = 0; what && i < WHATS - 1; i++) {
        if (strcmp(what, what_names[i]) == 0) {
            return i;
        }
    }
    return WHATS - 1;
}

void apiauth_metrics_effect(const apiauth_effect_t *e)
{
    if (counts == NULL) {
        return;
    }
    switch (e->kind) {
    case APIAUTH_EFFECT_ISSUED:
        apr_atomic_inc64(&counts->issued[what_index(e->what)]);
        break;
    case APIAUTH_EFFECT_REFUSED:
        apr_atomic_inc64(&counts->refused[what_index(e->what)]);
        break;
    case APIAUTH_EFFECT_REVOKED:
        apr_atomic_inc64(&counts->revoked[what_index(e->what)]);
        break;
    default:
        break;
    }
}

/* A label value as the Prometheus text format wants it. */
static const char *label(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, strlen(s) * 2 + 1), *o = out;

    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            *o++ = '\\';
            *o++ = *s;
        }
        else if (*s == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        }
        else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

static void counter_family(request_rec *r, const char *name,
                           const char *help, const char *label_name,
                           apr_uint64_t *values)
{
    size_t i;

    ap_rprintf(r, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (i = 0; i < WHATS; i++) {
        apr_uint64_t v = apr_atomic_read64(&values[i]);
        if (v) {
            ap_rprintf(r, "%s{%s=\"%s\"} %" APR_UINT64_T_FMT "\n", name,
                       label_name, what_names[i], v);
        }
    }
}

static void prometheus(request_rec *r)
{
    int l;
    size_t i;

    ap_rputs("# HELP apiauth_requests_total Requests to apiauth locations, "
             "by outcome: accepted, or why authentication (or a Require "
             "apiauth-* line) refused them.\n"
             "# TYPE apiauth_requests_total counter\n", r);
    for (l = 1; l <= locations; l++) {
        const char *where = apr_psprintf(
            r->pool, "server=\"%s\",location=\"%s\"",
            label(r->pool, location_servers[l]),
            label(r->pool, location_names[l]));
        for (i = 0; i < OUTCOMES; i++) {
            ap_rprintf(r, "apiauth_requests_total{%s,outcome=\"%s\"} %"
                       APR_UINT64_T_FMT "\n", where, outcome_names[i],
                       apr_atomic_read64(&counts->loc[l].outcome[i]));
        }
    }
    ap_rputs("# HELP apiauth_authentication_seconds How long authenticating "
             "a request took.\n"
             "# TYPE apiauth_authentication_seconds histogram\n", r);
    for (l = 1; l <= locations; l++) {
        location_counts *c = &counts->loc[l];
        const char *where = apr_psprintf(
            r->pool, "server=\"%s\",location=\"%s\"",
            label(r->pool, location_servers[l]),
            label(r->pool, location_names[l]));
        apr_uint64_t total = 0;

        for (i = 0; i <= BUCKETS; i++) {
            total += apr_atomic_read64(&c->bucket[i]);
            if (i < BUCKETS) {
                ap_rprintf(r, "apiauth_authentication_seconds_bucket{%s,"
                           "le=\"%g\"} %" APR_UINT64_T_FMT "\n", where,
                           (double)bucket_us[i] / 1e6, total);
            }
        }
        ap_rprintf(r, "apiauth_authentication_seconds_bucket{%s,le=\"+Inf\"}"
                   " %" APR_UINT64_T_FMT "\n", where, total);
        ap_rprintf(r, "apiauth_authentication_seconds_sum{%s} %.6f\n", where,
                   (double)apr_atomic_read64(&c->sum_us)
                       / 1e6);
        ap_rprintf(r, "apiauth_authentication_seconds_count{%s} %"
                   APR_UINT64_T_FMT "\n", where, total);
    }
    ap_rprintf(r, "# HELP apiauth_cache_lookups_total Credential cache "
               "lookups.\n# TYPE apiauth_cache_lookups_total counter\n"
               "apiauth_cache_lookups_total{result=\"hit\"} %"
               APR_UINT64_T_FMT "\n"
               "apiauth_cache_lookups_total{result=\"miss\"} %"
               APR_UINT64_T_FMT "\n"
               "# HELP apiauth_store_lookups_total Credentials looked up in "
               "the store or a provider.\n"
               "# TYPE apiauth_store_lookups_total counter\n"
               "apiauth_store_lookups_total %" APR_UINT64_T_FMT "\n",
               apr_atomic_read64(&counts->cache_hit),
               apr_atomic_read64(&counts->cache_miss),
               apr_atomic_read64(&counts->store_lookup));
    if (label_by) {
        const char *lbl = label_by == 1 ? "client" : "app";
        ap_rprintf(r, "# HELP apiauth_requests_by_%s_total Requests of a "
                   "known %s, accepted or refused (by a Require line or a "
                   "rate limit); \"other\" past the first %d.\n"
                   "# TYPE apiauth_requests_by_%s_total counter\n", lbl,
                   lbl, NAMED, lbl);
        for (i = 0; i <= NAMED; i++) {
            named_counts *n = i < NAMED ? &counts->named[i] : &counts->other;
            const char *name = i < NAMED ? n->name : "other";
            if (i < NAMED && apr_atomic_read32(&n->state) != 2) {
                continue;
            }
            ap_rprintf(r, "apiauth_requests_by_%s_total{%s=\"%s\","
                       "outcome=\"accepted\"} %" APR_UINT64_T_FMT "\n"
                       "apiauth_requests_by_%s_total{%s=\"%s\","
                       "outcome=\"refused\"} %" APR_UINT64_T_FMT "\n",
                       lbl, lbl, label(r->pool, name),
                       apr_atomic_read64(&n->accepted), lbl, lbl,
                       label(r->pool, name), apr_atomic_read64(&n->refused));
        }
    }
    counter_family(r, "apiauth_issued_total", "Tokens and sessions issued, "
                   "by grant type or kind.", "what", counts->issued);
    counter_family(r, "apiauth_refused_attempts_total", "Refused attempts "
                   "a guesser would make (wrong client secret, code, "
                   "refresh token, password).", "what", counts->refused);
    counter_family(r, "apiauth_revocations_total", "Grants, tokens and "
                   "credentials revoked (a replayed refresh token revokes "
                   "its grant).", "what", counts->revoked);
}

int apiauth_metrics_handler(request_rec *r)
{
    if (strcmp(r->handler, "apiauth-metrics") != 0) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        r->allowed = AP_METHOD_BIT << M_GET;
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (counts == NULL) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        prometheus(r);
    }
    return OK;
}

/* mod_status's page: a table, or "key: value" lines with ?auto */
static int status_section(request_rec *r, int flags)
{
    int l;
    size_t i;

    if (counts == NULL) {
        return OK;
    }
    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "ApiAuthCacheHits: %" APR_UINT64_T_FMT "\n"
                   "ApiAuthCacheMisses: %" APR_UINT64_T_FMT "\n"
                   "ApiAuthStoreLookups: %" APR_UINT64_T_FMT "\n",
                   apr_atomic_read64(&counts->cache_hit),
                   apr_atomic_read64(&counts->cache_miss),
                   apr_atomic_read64(&counts->store_lookup));
        for (l = 1; l <= locations; l++) {
            for (i = 0; i < OUTCOMES; i++) {
                ap_rprintf(r, "ApiAuth %s %s: %" APR_UINT64_T_FMT "\n",
                           location_names[l], outcome_names[i],
                           apr_atomic_read64(&counts->loc[l].outcome[i]));
            }
        }
        return OK;
    }
    ap_rputs("<hr />\n<h2>apiauth</h2>\n<table border=\"0\">"
             "<tr><th>server</th><th>location</th>", r);
    for (i = 0; i < OUTCOMES; i++) {
        ap_rprintf(r, "<th>%s</th>", outcome_names[i]);
    }
    ap_rputs("</tr>\n", r);
    for (l = 1; l <= locations; l++) {
        ap_rprintf(r, "<tr><td>%s</td><td>%s</td>",
                   ap_escape_html(r->pool, location_servers[l]),
                   ap_escape_html(r->pool, location_names[l]));
        for (i = 0; i < OUTCOMES; i++) {
            ap_rprintf(r, "<td>%" APR_UINT64_T_FMT "</td>",
                       apr_atomic_read64(&counts->loc[l].outcome[i]));
        }
        ap_rputs("</tr>\n", r);
    }
    ap_rprintf(r, "</table>\n<p>credential cache: %" APR_UINT64_T_FMT
               " hits, %" APR_UINT64_T_FMT " misses; %" APR_UINT64_T_FMT
               " store lookups</p>\n",
               apr_atomic_read64(&counts->cache_hit),
               apr_atomic_read64(&counts->cache_miss),
               apr_atomic_read64(&counts->store_lookup));
    return OK;
}

void apiauth_metrics_register(apr_pool_t *p)
{
    APR_OPTIONAL_HOOK(ap, status_hook, status_section, NULL, NULL,
                      APR_HOOK_MIDDLE);
}
