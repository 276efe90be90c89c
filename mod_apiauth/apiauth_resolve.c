/*
 * apiauth_resolve.c: who a credential belongs to, as httpd asks it.
 *
 * The decisions are lib/decide/resolve.c's (resolution, the Basic rules,
 * admission); this file gives them the stores -- the providers of
 * ApiAuthProvider, walked in order by one loop (ask_chain) -- and the
 * cache in front of resolution, whose answers depend only on the
 * credential and the provider chain.  Admission is applied to every
 * answer, cached or not.
 */
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_request.h>

#include "apiauth_private.h"
#include "keys.h"

static const apiauth_provider_ref_t default_dbd = {APIAUTH_DEFAULT_PROVIDER,
                                                   &apiauth_provider_dbd};

/* ------------------------------------------------------------------ */
/* The provider chain                                                  */
/* ------------------------------------------------------------------ */

/* One question to one provider: APIAUTH_NOT_MINE passes it to the next
 * (also when the provider does not offer what is asked). */
typedef apiauth_status_t (*question_t)(request_rec *r,
                                       const apiauth_provider_t *provider,
                                       void *q);

/* The providers of this location in order, the default chain being "dbd";
 * the first that does not answer APIAUTH_NOT_MINE decides, and *who
 * (when given) gets its name. */
static apiauth_status_t ask_chain(request_rec *r, const apiauth_dir_conf *conf,
                                  question_t ask, void *q, const char **who)
{
    const apiauth_provider_ref_t *refs = &default_dbd;
    int i, n = 1;

    if (conf->providers) {
        n = conf->providers->nelts;
        refs = (const apiauth_provider_ref_t *)conf->providers->elts;
    }
    for (i = 0; i < n; i++) {
        apiauth_status_t st = ask(r, refs[i].provider, q);
        if (st != APIAUTH_NOT_MINE) {
            if (who) {
                *who = refs[i].name;
            }
            return st;
        }
    }
    return APIAUTH_NOT_MINE;
}

typedef struct {
    const char *digest_hex;
    apiauth_credential_row_t *row;
    apiauth_error_t *err;
} secret_q;

static apiauth_status_t ask_secret(request_rec *r,
                                   const apiauth_provider_t *provider, void *v)
{
    secret_q *q = v;

    return provider->find_secret
               ? provider->find_secret(r, q->digest_hex, q->row, q->err)
               : APIAUTH_NOT_MINE;
}

typedef struct {
    const char *user;
    const char **app;
} user_q;

static apiauth_status_t ask_user(request_rec *r,
                                 const apiauth_provider_t *provider, void *v)
{
    user_q *q = v;

    return provider->find_user ? provider->find_user(r, q->user, q->app)
                               : APIAUTH_NOT_MINE;
}

typedef struct {
    const char *app, *group;
} group_q;

static apiauth_status_t ask_group(request_rec *r,
                                  const apiauth_provider_t *provider, void *v)
{
    group_q *q = v;
    apiauth_status_t st = provider->app_in_group
                              ? provider->app_in_group(r, q->app, q->group)
                              : APIAUTH_NOT_MINE;

    /* a provider that does not know the pair leaves it to the next */
    return st == APIAUTH_DENIED ? APIAUTH_NOT_MINE : st;
}

typedef struct {
    const char *token;
    apiauth_identity_t *id;
    apiauth_error_t *err;
    int owners;      /* first pass: only a provider that owns the token */
} token_q;

static apiauth_status_t ask_token(request_rec *r,
                                  const apiauth_provider_t *provider, void *v)
{
    token_q *q = v;
    apiauth_status_t st;

    if (provider->verify_token == NULL) {
        return APIAUTH_NOT_MINE;
    }
    if (!q->owners) {
        return provider->verify_token(r, q->token, q->id, q->err);
    }
    if (provider->owns_token == NULL || !provider->owns_token(r, q->token)) {
        return APIAUTH_NOT_MINE;
    }
    /* the owner decides alone */
    st = provider->verify_token(r, q->token, q->id, q->err);
    return st == APIAUTH_NOT_MINE
               ? apiauth_fail(q->err, APIAUTH_DENIED, "invalid_token",
                              "the token's issuer does not accept it")
               : st;
}

apiauth_status_t apiauth_app_in_group(request_rec *r,
                                      const apiauth_dir_conf *conf,
                                      const char *app, const char *group,
                                      apiauth_error_t *err)
{
    group_q q = {app, group};
    apiauth_status_t st = ask_chain(r, conf, ask_group, &q, NULL);

    return st == APIAUTH_ERROR
               ? apiauth_fail(err, st, "temporarily_unavailable",
                              "the group store is unreachable")
               : st;
}

/* ------------------------------------------------------------------ */
/* The stores, as lib/decide/resolve.c asks them                       */
/* ------------------------------------------------------------------ */

typedef struct {
    request_rec *r;
    const apiauth_dir_conf *conf;
} lookup_baton;

static apiauth_status_t lookup_secret(void *baton, const char *secret,
                                      apiauth_credential_row_t *row,
                                      apiauth_error_t *err)
{
    lookup_baton *b = baton;
    const char *who = NULL;
    secret_q q;
    apiauth_status_t st;

    q.digest_hex = apiauth_digest_hex(b->r->pool, apiauth_pepper_of(b->r),
                                      secret);
    q.row = row;
    q.err = err;
    if (q.digest_hex == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, b->r, AALOGNO(10020)
                      "OpenSSL failed to digest a credential");
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "the credential could not be checked");
    }
    st = ask_chain(b->r, b->conf, ask_secret, &q, &who);
    row->identity.provider = who;
    return st;
}

static apiauth_status_t lookup_user(void *baton, const char *user,
                                    const char **app, apiauth_error_t *err)
{
    lookup_baton *b = baton;
    user_q q = {user, app};
    apiauth_status_t st = ask_chain(b->r, b->conf, ask_user, &q, NULL);

    return st == APIAUTH_ERROR
               ? apiauth_fail(err, st, "temporarily_unavailable",
                              "the user store is unreachable")
               : st;
}

static apiauth_status_t lookup_token(void *baton, const char *token,
                                     apiauth_identity_t *id,
                                     apiauth_error_t *err)
{
    lookup_baton *b = baton;
    token_q q = {token, id, err, 1};
    const char *who = NULL;
    apiauth_status_t st;

    /* a provider that owns the token (our own issuer, for "oauth")
     * decides it alone, wherever it is listed */
    st = ask_chain(b->r, b->conf, ask_token, &q, &who);
    if (st == APIAUTH_NOT_MINE) {
        q.owners = 0;
        st = ask_chain(b->r, b->conf, ask_token, &q, &who);
    }
    if (st != APIAUTH_NOT_MINE) {
        id->provider = who;
    }
    return st;
}

/* What identifies a presented credential, for the cache: the secret, and
 * for two-part forms the second part too. */
static int credential_parts(const apiauth_credential_t *cred,
                            const char *parts[3])
{
    switch (cred->scheme) {
    case APIAUTH_SCHEME_BASIC:
        parts[0] = APIAUTH_CACHE_BASIC;
        parts[1] = cred->secret;
        parts[2] = cred->password;
        return 3;
    case APIAUTH_SCHEME_INSTALL:
        parts[0] = APIAUTH_CACHE_INSTALL;
        parts[1] = cred->secret;
        parts[2] = cred->install_id;
        return 3;
    default:
        parts[0] = APIAUTH_CACHE_SECRET;
        parts[1] = cred->secret;
        return 2;
    }
}

void apiauth_forget_credential(request_rec *r,
                               const apiauth_credential_t *cred)
{
    const char *parts[3];

    apiauth_cache_forget(r, parts, credential_parts(cred, parts));
}

/* The credential's cache key at this location: 0, or -1 when it has no
 * cache (`remember`: the connection's memo may keep it). */
static int cache_key(request_rec *r, const apiauth_dir_conf *conf,
                     const apiauth_credential_t *cred, int remember,
                     unsigned char key[APIAUTH_DIGEST_LEN])
{
    const char *parts[3];

    if (conf->cache == 0) {
        return -1;
    }
    return apiauth_cache_key(r, conf, parts, credential_parts(cred, parts),
                             remember, key);
}

/* The header a parse of this material depends on, when it is one header
 * alone (the common case, which the connection's memo answers), and what
 * else it depends on: the accepted schemes, which header, and for the key
 * the stores of the location.  NULL when there is more to the material. */
static const char *presented_alone(request_rec *r,
                                   const apiauth_dir_conf *conf,
                                   const apiauth_request_material_t *m,
                                   apiauth_memo_ctx_t *ctx)
{
    if ((m->authorization == NULL) == (m->key_header == NULL)
        || m->key_query_count || m->install_id_header
        || m->install_token_header || m->install_id_query_count
        || m->install_token_query_count) {
        return NULL;
    }
    apiauth_cache_key_ctx(r, conf,
                          m->authorization ? APIAUTH_MEMO_TAG_AUTHORIZATION
                                           : APIAUTH_MEMO_TAG_KEY_HEADER,
                          m->accepted, ctx);
    return m->authorization ? m->authorization : m->key_header;
}

apiauth_status_t apiauth_read_presented(request_rec *r,
                                        const apiauth_dir_conf *conf,
                                        const apiauth_request_material_t *m,
                                        apiauth_presented_t *pr,
                                        apiauth_error_t *err)
{
    apiauth_memo_t *memo = apiauth_memo_of(r->connection);
    apiauth_memo_ctx_t ctx;
    const char *in[1];
    int got = 0;
    apiauth_status_t st;

    in[0] = presented_alone(r, conf, m, &ctx);
    if (in[0]) {
        got = apiauth_memo_recall(memo, &ctx, in, 1, r->pool, &pr->cred,
                                  pr->key);
    }
    if (got & APIAUTH_MEMO_CRED) {
        pr->keyed = (got & APIAUTH_MEMO_KEY) != 0;
        return APIAUTH_OK;
    }
    st = apiauth_credential_parse(r->pool, m, &pr->cred, err);
    if (st != APIAUTH_OK) {
        return st;
    }
    /* kept below with the credential, not once more on its own */
    pr->keyed = cache_key(r, conf, &pr->cred, 0, pr->key) == 0;
    if (in[0]) {
        apiauth_memo_keep(memo, &ctx, in, 1, &pr->cred,
                          pr->keyed ? pr->key : NULL);
    }
    return APIAUTH_OK;
}

/* May a cached answer stand at this location?  Only a JWT the jwt
 * provider accepted depends on more than the provider chain. */
static int cached_holds_here(request_rec *r, const apiauth_dir_conf *conf,
                             const apiauth_identity_t *id)
{
    apiauth_jwt_rules_t jwt;

    if (!apiauth_identity_from_jwt(id)) {
        return 1;
    }
    jwt.issuer = conf->jwt_issuer;
    jwt.audience = conf->jwt_audience;
    jwt.keys = apiauth_jwt_keys_now(r, conf);
    jwt.local = conf->jwt_local == 1;
    return apiauth_cached_still_holds(&jwt, id);
}

apiauth_status_t apiauth_resolve(request_rec *r, const apiauth_dir_conf *conf,
                                 apiauth_presented_t *pr,
                                 apiauth_identity_t *id, apiauth_error_t *err)
{
    const apiauth_credential_t *cred = &pr->cred;
    lookup_baton baton = {r, conf};
    const apiauth_lookup_t stores = {&baton, lookup_secret, lookup_user,
                                     lookup_token};
    apr_int64_t now = apr_time_sec(r->request_time);
    const unsigned char *key = NULL;
    apiauth_admission_t rules;
    apiauth_status_t st;

    if (!pr->keyed) {
        pr->keyed = cache_key(r, conf, cred, 1, pr->key) == 0;
    }
    if (pr->keyed && conf->cache != 0) {
        key = pr->key;
    }
    if (key && apiauth_cache_lookup(r, conf, key, id)
        && cached_holds_here(r, conf, id)) {
        apiauth_metrics_cache(1);
    }
    else {
        if (key) {
            apiauth_metrics_cache(0);
        }
        apiauth_metrics_store_lookup();
        st = apiauth_resolve_credential(&stores, cred, now, id, err);
        if (st != APIAUTH_OK) {
            if (st == APIAUTH_DENIED && id->credential_id) {
                ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(10021)
                              "credential %s refused: %s", id->credential_id,
                              err->description);
            }
            return st;
        }
        /* a JWT without kid names no key a cache hit could check */
        if (key && !(apiauth_identity_from_jwt(id) && id->key_id == NULL)) {
            apiauth_cache_put(r, conf, key, id);
        }
    }
    rules.accepted = conf->schemes ? conf->scheme_mask
                                   : APIAUTH_DEFAULT_SCHEMES;
    rules.app_token_allowed = conf->app_token_allowed == 1;
    rules.allow_backend = conf->allow_backend == 1;
    rules.jwt_leeway = conf->jwt_leeway >= 0 ? conf->jwt_leeway
                                             : APIAUTH_DEFAULT_JWT_LEEWAY;
    rules.resource = conf->resource;
    st = apiauth_admit(&rules, cred, id, now, err);
    if (st != APIAUTH_OK) {
        ap_log_rerror(APLOG_MARK, id->kind == APIAUTH_KIND_BACKEND
                                      ? APLOG_NOTICE
                                      : APLOG_INFO, 0, r, AALOGNO(10024)
                      "credential %s (%s) of app %s refused here: %s",
                      id->credential_id, apiauth_kind_name(id->kind),
                      id->app ? id->app : "-", err->description);
    }
    else if (id->kind == APIAUTH_KIND_BACKEND) {
        /* privileged and audited: every use, cached or not */
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, AALOGNO(10023)
                      "backend token %s of app %s acts as user %s",
                      id->credential_id, id->app, id->user);
    }
    return st;
}
