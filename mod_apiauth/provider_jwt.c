/*
 * provider_jwt.c: ApiAuthProvider jwt -- access tokens checked with public
 * keys alone (RFC 9068, RFC 8725).
 *
 * For tokens of another issuer, or for nodes that verify ours without the
 * store: ApiAuthJWT keys= (PEM or JWKS files, or the https URL of a JWKS:
 * fetched at start, and again -- at most once a minute for all the
 * children, which share what it brought -- when a token names a key it
 * does not have, as when an issuer rotates),
 * issuer= and audience= (all required), leeway=.  The algorithm is
 * the key's, never the token's: no "none", no HMAC keyed with a public
 * key.  What this provider cannot know is revocation; a token it accepts
 * stays accepted until it expires.
 *
 * A good signature says who issued the claims, not that they are safe to
 * use here: sub, client_id, app, jti and scope become r->user, APIAUTH_*
 * variables and, with ApiAuthForwardHeaders, headers to the backend.  So
 * they are held to the rules of names apiauth-admin creates, and a user
 * may not pass for one of our apps or clients (docs/design.md: subjects never
 * collide).  Names of ours (app_..., cli_...) and the `app` claim are
 * believed only from an issuer the operator declares this deployment's
 * own (ApiAuthJWT issuer=URL local: a node that checks our tokens without
 * the store); another issuer's token names its client alone, and
 * APIAUTH_ISSUER tells a backend whose names they are.
 */
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>

#include <apr_atomic.h>
#include <apr_global_mutex.h>
#include <apr_shm.h>
#include <util_mutex.h>
#if APR_HAS_THREADS
#include <apr_thread_mutex.h>
#endif

#include "apiauth_fetch.h"
#include "apiauth_private.h"
#include "jwt.h"
#include "scope.h"

/* ---- JWKS at an https URL ---------------------------------------- */

#define REMOTE_MAX_BYTES (256 * 1024)
#define REMOTE_TIMEOUT_MS 5000
#define REMOTE_EVERY 60                 /* default seconds between fetches */

/* What every child of the server sees of one URL, in shared memory: the
 * set's text as last fetched, when a fetch was last tried, and a
 * generation that each fetch bumps.  Written under the apiauth-jwks
 * mutex. */
typedef struct {
    apr_int64_t tried;
    apr_uint32_t generation;            /* 0: never fetched */
    apr_size_t len;
    char text[REMOTE_MAX_BYTES + 1];
} shared_set;

/* One `keys=https://...`: the keys this process verifies with, parsed
 * from the shared text of the generation it has, swapped whole. */
typedef struct apiauth_remote_keys {
    const char *url;
    const char *ca_file;
    int every;                          /* seconds between fetches */
    shared_set *shared;                 /* NULL: no shared memory */
    apr_array_header_t *volatile keys;  /* NULL until first had */
    apr_uint32_t generation;            /* of `keys` */
    apr_pool_t *pools[2];               /* per child: the last two sets */
    int next;
#if APR_HAS_THREADS
    apr_thread_mutex_t *lock;
#endif
} apiauth_remote_keys_t;

static apr_array_header_t *remotes;     /* apiauth_remote_keys_t * */
static apr_global_mutex_t *sets_mutex;
static const char *const sets_mutex_id = "apiauth-jwks";

void apiauth_jwt_remote_pre_config(apr_pool_t *pconf)
{
    remotes = NULL;
    sets_mutex = NULL;
    ap_mutex_register(pconf, sets_mutex_id, NULL, APR_LOCK_DEFAULT, 0);
}

static const char *add_remote(cmd_parms *cmd, apiauth_dir_conf *conf,
                              const char *url)
{
    apiauth_remote_keys_t *rk;

    if (!apiauth_fetch_available()) {
        return apr_psprintf(cmd->pool, "%s keys=%s: fetching keys needs "
                            "apiauth built with libcurl (Debian: "
                            "libcurl4-openssl-dev)", cmd->cmd->name, url);
    }
    rk = apr_pcalloc(cmd->pool, sizeof(*rk));
    rk->url = url;
    rk->ca_file = conf->jwt_keys_ca;
    rk->every = REMOTE_EVERY;
    if (conf->jwt_remote == NULL) {
        conf->jwt_remote = apr_array_make(cmd->pool, 1, sizeof(rk));
    }
    APR_ARRAY_PUSH(conf->jwt_remote, apiauth_remote_keys_t *) = rk;
    if (remotes == NULL) {
        remotes = apr_array_make(cmd->pool, 2, sizeof(rk));
    }
    APR_ARRAY_PUSH(remotes, apiauth_remote_keys_t *) = rk;
    return NULL;
}

const char *apiauth_jwt_keys_every(cmd_parms *cmd, void *dconf,
                                   const char *arg)
{
    apiauth_dir_conf *conf = dconf;
    char *end;
    apr_int64_t v = apr_strtoi64(arg, &end, 10);
    int i;

    if (*arg == '\0' || *end || v < 1 || v > 86400) {
        return "ApiAuthJWT keys-refetch=SECONDS: 1 to 86400";
    }
    for (i = 0; conf->jwt_remote && i < conf->jwt_remote->nelts; i++) {
        APR_ARRAY_IDX(conf->jwt_remote, i, apiauth_remote_keys_t *)->every =
            (int)v;
    }
    return conf->jwt_remote ? NULL
                            : "ApiAuthJWT keys-refetch= goes after "
                              "keys=https://...";
}

const char *apiauth_jwt_keys_ca(cmd_parms *cmd, void *dconf, const char *arg)
{
    apiauth_dir_conf *conf = dconf;
    int i;

    conf->jwt_keys_ca = ap_server_root_relative(cmd->pool, arg);
    for (i = 0; conf->jwt_remote && i < conf->jwt_remote->nelts; i++) {
        APR_ARRAY_IDX(conf->jwt_remote, i, apiauth_remote_keys_t *)->ca_file =
            conf->jwt_keys_ca;
    }
    return NULL;
}

/* Fetches the set: its text (a JWK set that parses) in `p`, or NULL and
 * *why. */
static const char *fetch_set(apr_pool_t *p, const apiauth_remote_keys_t *rk,
                             apr_size_t *len, const char **why)
{
    apiauth_fetch_limits_t limits = {REMOTE_MAX_BYTES, REMOTE_TIMEOUT_MS,
                                     0, 1, rk->ca_file};
    apiauth_fetch_result_t got;
    apr_array_header_t *keys = NULL;

    if (apiauth_fetch(p, rk->url, &limits, &got, why) != APIAUTH_OK) {
        return NULL;
    }
    if (got.status != 200) {
        *why = apr_psprintf(p, "it answered %ld", got.status);
        return NULL;
    }
    if (apiauth_jwks_parse(p, got.body, got.len, &keys, why) != APIAUTH_OK) {
        return NULL;
    }
    *len = got.len;
    return got.body;
}

static apr_array_header_t *parse_set(apr_pool_t *p, const char *text,
                                     apr_size_t len)
{
    apr_array_header_t *keys = NULL;
    const char *why;

    return apiauth_jwks_parse(p, text, len, &keys, &why) == APIAUTH_OK
               ? keys
               : NULL;
}

int apiauth_jwt_remote_post_config(apr_pool_t *pconf, server_rec *s)
{
    apr_status_t rv;
    int i;

    if (remotes == NULL
        || ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;          /* httpd reads its configuration twice at start */
    }
    apiauth_fetch_init();
    rv = ap_global_mutex_create(&sets_mutex, NULL, sets_mutex_id, NULL, s,
                                pconf, 0);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, AALOGNO(10082)
                     "cannot create the %s mutex", sets_mutex_id);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    for (i = 0; i < remotes->nelts; i++) {
        apiauth_remote_keys_t *rk = APR_ARRAY_IDX(remotes, i,
                                                  apiauth_remote_keys_t *);
        const char *why = NULL, *text;
        apr_size_t len = 0;
        apr_shm_t *shm;

#if APR_HAS_THREADS
        apr_thread_mutex_create(&rk->lock, APR_THREAD_MUTEX_DEFAULT, pconf);
#endif
        if (apr_shm_create(&shm, sizeof(shared_set), NULL, pconf)
            != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AALOGNO(10083)
                         "ApiAuthJWT keys=%s: no shared memory for the "
                         "set", rk->url);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        rk->shared = apr_shm_baseaddr_get(shm);
        memset(rk->shared, 0, sizeof(shared_set));
        rk->shared->tried = apr_time_sec(apr_time_now());
        text = fetch_set(pconf, rk, &len, &why);
        if (text == NULL) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, AALOGNO(10067)
                         "ApiAuthJWT keys=%s: cannot have the keys now (%s); "
                         "tokens are refused until they are fetched",
                         rk->url, why);
            continue;
        }
        memcpy(rk->shared->text, text, len);
        rk->shared->len = len;
        rk->shared->generation = 1;
        rk->keys = parse_set(pconf, text, len);
        rk->generation = 1;
    }
    return OK;
}

void apiauth_jwt_remote_child_init(apr_pool_t *pchild)
{
    int i;

    if (sets_mutex
        && apr_global_mutex_child_init(&sets_mutex,
                                       apr_global_mutex_lockfile(sets_mutex),
                                       pchild) != APR_SUCCESS) {
        sets_mutex = NULL;
    }
    for (i = 0; remotes && i < remotes->nelts; i++) {
        apiauth_remote_keys_t *rk = APR_ARRAY_IDX(remotes, i,
                                                  apiauth_remote_keys_t *);
        /* pools of their own: cleared under rk->lock alone */
        apr_pool_create_unmanaged_ex(&rk->pools[0], NULL, NULL);
        apr_pool_create_unmanaged_ex(&rk->pools[1], NULL, NULL);
    }
}

/* A token names a key none of ours has: the set may have been rotated.
 * Fetches it, unless some child of this server did less than
 * `every` seconds ago -- then takes what that fetch brought, if it is
 * newer than this process's.  1 when this process has a new set. */
static int refresh(request_rec *r, apiauth_remote_keys_t *rk)
{
    apr_int64_t now = apr_time_sec(r->request_time);
    shared_set *sh = rk->shared;
    apr_array_header_t *keys = NULL;
    const char *why = NULL, *text;
    apr_size_t len = 0;
    apr_pool_t *p;
    int fresh = 0;

    if (rk->pools[0] == NULL || sh == NULL || sets_mutex == NULL) {
        return 0;
    }
#if APR_HAS_THREADS
    apr_thread_mutex_lock(rk->lock);
#endif
    p = rk->pools[rk->next];
    apr_pool_clear(p);                  /* the set before last */
    if (apr_global_mutex_lock(sets_mutex) == APR_SUCCESS) {
        if (now - sh->tried >= rk->every) {
            sh->tried = now;
            text = fetch_set(p, rk, &len, &why);
            if (text) {
                memcpy(sh->text, text, len);
                sh->len = len;
                sh->generation++;
                ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(10068)
                              "ApiAuthJWT keys=%s fetched again", rk->url);
            }
            else {
                ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, AALOGNO(10069)
                              "ApiAuthJWT keys=%s: cannot fetch them again: "
                              "%s", rk->url, why);
            }
        }
        if (sh->generation != rk->generation && sh->generation) {
            keys = parse_set(p, sh->text, sh->len);
            rk->generation = sh->generation;
        }
        apr_global_mutex_unlock(sets_mutex);
    }
    if (keys) {
        apr_atomic_casptr((volatile void **)&rk->keys, keys, rk->keys);
        rk->next = !rk->next;
        fresh = 1;
    }
#if APR_HAS_THREADS
    apr_thread_mutex_unlock(rk->lock);
#endif
    return fresh;
}

const apr_array_header_t *apiauth_jwt_keys_now(request_rec *r,
                                               const apiauth_dir_conf *conf)
{
    apr_array_header_t *all;
    int i;

    if (conf->jwt_remote == NULL) {
        return conf->jwt_keys;
    }
    all = conf->jwt_keys ? apr_array_copy(r->pool, conf->jwt_keys)
                         : apr_array_make(r->pool, 4,
                                          sizeof(apiauth_jwk_t *));
    for (i = 0; i < conf->jwt_remote->nelts; i++) {
        const apiauth_remote_keys_t *rk =
            APR_ARRAY_IDX(conf->jwt_remote, i, apiauth_remote_keys_t *);
        const apr_array_header_t *keys = rk->keys;
        if (keys) {
            apr_array_cat(all, keys);
        }
    }
    return all;
}

/* A refusal for want of a key, where a fetch might bring it: 1 when a
 * set was fetched anew (verify again). */
static int keys_may_have_changed(request_rec *r, const apiauth_dir_conf *conf,
                                 const apiauth_error_t *err)
{
    int i, fresh = 0;

    if (conf->jwt_remote == NULL || err->description == NULL
        || strncmp(err->description, "no key", 6) != 0) {
        return 0;
    }
    for (i = 0; i < conf->jwt_remote->nelts; i++) {
        fresh |= refresh(r, APR_ARRAY_IDX(conf->jwt_remote, i,
                                          apiauth_remote_keys_t *));
    }
    return fresh;
}

/* ---- key files and the rest of the configuration ---------------------- */

const char *apiauth_jwt_add_keys(cmd_parms *cmd, void *dconf, const char *arg)
{
    apiauth_dir_conf *conf = dconf;
    const char *path, *errmsg = NULL;

    if (strncasecmp(arg, "https://", 8) == 0) {
        return add_remote(cmd, conf, arg);
    }
    path = ap_server_root_relative(cmd->pool, arg);

    if (path == NULL
        || apiauth_jwk_load_public(cmd->pool, path, &conf->jwt_keys, &errmsg)
               != APIAUTH_OK) {
        return apr_psprintf(cmd->pool, "%s keys: %s", cmd->cmd->name,
                            errmsg ? errmsg : "cannot read");
    }
    return NULL;
}

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

const char *apiauth_jwt_set_issuer(cmd_parms *cmd, void *dconf,
                                   const char *issuer, const char *local)
{
    apiauth_dir_conf *conf = dconf;

    if (local && strcasecmp(local, "local") != 0) {
        return "ApiAuthJWTIssuer URL [local]: 'local' says the issuer is "
               "this deployment's own authorization server (ApiAuthJWT "
               "issuer=URL local)";
    }
    conf->jwt_issuer = issuer;
    conf->jwt_local = local != NULL;
    return NULL;
}

/* The claim that cannot name anyone here, or NULL when all can: control
 * characters and separators would split a header or a log line, and a
 * token of another issuer may not take the name of an app or a client of
 * ours (nor may a user of any issuer pass for one). */
static const char *unusable_claim(const apiauth_jwt_claims_t *claims,
                                  const char *app, int local)
{
    if (!apiauth_name_is_valid(claims->client_id)
        || has_prefix(claims->client_id, "app_")
        || (!local && apiauth_name_is_ours(claims->client_id))) {
        return "client_id";
    }
    if (!apiauth_name_is_valid(claims->sub)
        || (strcmp(claims->sub, claims->client_id) != 0
            && apiauth_name_is_ours(claims->sub))
        || (!local && apiauth_name_is_ours(claims->sub))) {
        return "sub";
    }
    if (app && !apiauth_name_is_valid(app)) {
        return "app";
    }
    if (!apiauth_name_is_valid(claims->jti)) {
        return "jti";
    }
    if (*claims->scope && !apiauth_scope_list_valid(claims->scope)) {
        return "scope";
    }
    return NULL;
}

static apiauth_status_t jwt_verify_token(request_rec *r, const char *token,
                                         apiauth_identity_t *id,
                                         apiauth_error_t *err)
{
    apiauth_dir_conf *conf = ap_get_module_config(r->per_dir_config,
                                                  &apiauth_module);
    apiauth_jwt_expect_t expect;
    apiauth_jwt_claims_t claims;
    const apr_array_header_t *keys;
    const char *app, *bad;
    apiauth_status_t st;

    if ((conf->jwt_keys == NULL && conf->jwt_remote == NULL)
        || conf->jwt_issuer == NULL || conf->jwt_audience == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(10070)
                      "ApiAuthProvider jwt needs ApiAuthJWT issuer=, "
                      "audience= and keys= here");
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "token verification is not configured");
    }
    expect.issuer = conf->jwt_issuer;
    expect.audience = conf->jwt_audience;
    expect.typ = "at+jwt";
    expect.now = apr_time_sec(r->request_time);
    expect.leeway = conf->jwt_leeway >= 0 ? conf->jwt_leeway
                                          : APIAUTH_DEFAULT_JWT_LEEWAY;
    expect.resources = NULL;
    keys = apiauth_jwt_keys_now(r, conf);
    st = apiauth_jwt_verify(r->pool, token, keys, &expect, &claims, err);
    if (st == APIAUTH_DENIED && keys_may_have_changed(r, conf, err)) {
        keys = apiauth_jwt_keys_now(r, conf);
        st = apiauth_jwt_verify(r->pool, token, keys, &expect, &claims, err);
    }
    if (st == APIAUTH_DENIED && keys->nelts == 0) {
        /* no key at all: the key set could not be had, which is ours */
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "the issuer's keys cannot be had now");
    }
    if (st != APIAUTH_OK) {
        return st;
    }
    /* the app of a token is ours to name: only our own issuer's is
     * believed, another issuer's token is its client's alone */
    app = conf->jwt_local == 1
              ? json_string_value(json_object_get(claims.payload, "app"))
              : NULL;
    if ((bad = unusable_claim(&claims, app, conf->jwt_local == 1)) != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(10071)
                      "token of %s refused: its %s claim is not a name "
                      "usable here", conf->jwt_issuer, bad);
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                            apr_psprintf(r->pool, "the token's %s claim "
                                         "cannot name anyone here", bad));
    }
    apiauth_jwt_identity(&claims, app, expect.issuer, expect.audience, id);
    id->key_id = claims.kid;
    return APIAUTH_OK;
}

const apiauth_provider_t apiauth_provider_jwt = {
    NULL,
    jwt_verify_token,
    NULL,   /* owns nothing: the oauth provider owns our own issuer */
    NULL,
    NULL,
};
