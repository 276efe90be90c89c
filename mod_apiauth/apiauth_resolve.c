/*
 * apiauth_resolve.c: who a credential belongs to.
 *
 * Two steps.  Resolution maps what was presented to an identity by asking
 * the providers of ApiAuthProvider in order; it depends only on the
 * credential and the provider chain, so its answer may be cached.
 * Admission then applies this location's rules (which kinds a scheme
 * accepts, whether backend tokens are allowed) on every request, cached or
 * not.  Basic follows DESIGN.md: the user part is looked up once and the
 * kind found decides the one rule that applies.
 */
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_request.h>

#include "apiauth_private.h"
#include "jose.h"
#include "keys.h"

static const apiauth_provider_ref_t default_dbd = {APIAUTH_DEFAULT_PROVIDER,
                                                   &apiauth_provider_dbd};

/* The providers of this location; the default chain is "dbd". */
static const apiauth_provider_ref_t *providers_of(const apiauth_dir_conf *conf,
                                                  int *n)
{
    if (conf->providers == NULL) {
        *n = 1;
        return &default_dbd;
    }
    *n = conf->providers->nelts;
    return (const apiauth_provider_ref_t *)conf->providers->elts;
}

/* A secret, by its digest, through the chain: the first provider that
 * knows it decides, then expiry and revocation are checked. */
static apiauth_status_t find_secret(request_rec *r,
                                    const apiauth_dir_conf *conf,
                                    const char *secret,
                                    apiauth_credential_row_t *row,
                                    apiauth_error_t *err)
{
    const apiauth_provider_ref_t *refs;
    const char *digest_hex;
    int i, n;

    if (apiauth_secret_shape(secret) == APIAUTH_SECRET_CORRUPT) {
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                            "the key's checksum is wrong (mistyped or "
                            "truncated?)");
    }
    digest_hex = apiauth_digest_hex(r->pool, apiauth_pepper_of(r), secret);
    if (digest_hex == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(10020)
                      "OpenSSL failed to digest a credential");
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "the credential could not be checked");
    }
    refs = providers_of(conf, &n);
    for (i = 0; i < n; i++) {
        apiauth_status_t st;

        if (refs[i].provider->find_secret == NULL) {
            continue;
        }
        st = refs[i].provider->find_secret(r, digest_hex, row, err);
        if (st == APIAUTH_NOT_MINE) {
            continue;
        }
        row->identity.provider = refs[i].name;
        if (st == APIAUTH_OK) {
            st = apiauth_credential_row_check(row, apr_time_sec(r->request_time),
                                              err);
            if (st != APIAUTH_OK) {
                ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(10021)
                              "credential %s refused: %s",
                              row->identity.credential_id, err->description);
            }
        }
        return st;
    }
    return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                        "the credential is not known");
}

/* A user, through the chain. */
static apiauth_status_t find_user(request_rec *r, const apiauth_dir_conf *conf,
                                  const char *user, const char **app,
                                  apiauth_error_t *err)
{
    const apiauth_provider_ref_t *refs;
    int i, n;

    refs = providers_of(conf, &n);
    for (i = 0; i < n; i++) {
        apiauth_status_t st;

        if (refs[i].provider->find_user == NULL) {
            continue;
        }
        st = refs[i].provider->find_user(r, user, app);
        if (st != APIAUTH_NOT_MINE) {
            return st == APIAUTH_ERROR
                       ? apiauth_fail(err, st, "temporarily_unavailable",
                                      "the user store is unreachable")
                       : st;
        }
    }
    return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                        "there is no such user");
}

apiauth_status_t apiauth_app_in_group(request_rec *r,
                                      const apiauth_dir_conf *conf,
                                      const char *app, const char *group,
                                      apiauth_error_t *err)
{
    const apiauth_provider_ref_t *refs;
    int i, n;

    refs = providers_of(conf, &n);
    for (i = 0; i < n; i++) {
        apiauth_status_t st;

        if (refs[i].provider->app_in_group == NULL) {
            continue;
        }
        st = refs[i].provider->app_in_group(r, app, group);
        if (st == APIAUTH_ERROR) {
            return apiauth_fail(err, st, "temporarily_unavailable",
                                "the group store is unreachable");
        }
        if (st == APIAUTH_OK) {
            return st;
        }
    }
    return APIAUTH_NOT_MINE;
}

/* A self-contained token (JWT).  A provider that owns the token (our own
 * issuer, for "oauth") decides it alone, wherever it is listed. */
static apiauth_status_t verify_token(request_rec *r,
                                     const apiauth_dir_conf *conf,
                                     const char *token, apiauth_identity_t *id,
                                     apiauth_error_t *err)
{
    const apiauth_provider_ref_t *refs;
    int i, n;

    refs = providers_of(conf, &n);
    for (i = 0; i < n; i++) {
        const apiauth_provider_t *p = refs[i].provider;
        if (p->owns_token && p->verify_token && p->owns_token(r, token)) {
            apiauth_status_t st = p->verify_token(r, token, id, err);
            id->provider = refs[i].name;
            return st;
        }
    }
    for (i = 0; i < n; i++) {
        apiauth_status_t st;

        if (refs[i].provider->verify_token == NULL) {
            continue;
        }
        st = refs[i].provider->verify_token(r, token, id, err);
        if (st != APIAUTH_NOT_MINE) {
            id->provider = refs[i].name;
            return st;
        }
    }
    return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                        "no provider here accepts this token");
}

static int looks_like_jwt(const char *token)
{
    const char *dot = ap_strchr_c(token, '.');

    return dot && ap_strchr_c(dot + 1, '.') != NULL;
}

static apiauth_status_t resolve_basic(request_rec *r,
                                      const apiauth_dir_conf *conf,
                                      const apiauth_credential_t *cred,
                                      apiauth_identity_t *id,
                                      apiauth_error_t *err)
{
    const char *user = cred->secret, *password = cred->password;
    apiauth_credential_row_t row, second;
    const char *user_app = NULL;
    apiauth_status_t st;

    /* 3. app_<id>:<one of its api keys> (Twake) */
    if (strncmp(user, "app_", 4) == 0) {
        if (*password == '\0') {
            return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                                "an app id needs one of its keys as the "
                                "password");
        }
        st = find_secret(r, conf, password, &row, err);
        if (st != APIAUTH_OK) {
            return st;
        }
        if (row.identity.kind != APIAUTH_KIND_API_KEY
            || strcmp(row.identity.app, user) != 0) {
            return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                                "the key is not an API key of this app");
        }
        *id = row.identity;
        return APIAUTH_OK;
    }

    st = find_secret(r, conf, user, &row, err);
    if (st != APIAUTH_OK) {
        return st;
    }
    switch (row.identity.kind) {
    case APIAUTH_KIND_BACKEND:     /* 1. BACKEND_TOKEN:USER_ID */
        if (*password == '\0' || !apiauth_name_is_valid(password)) {
            return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                                "a backend token needs the id of the user "
                                "to act as");
        }
        st = find_user(r, conf, password, &user_app, err);
        if (st != APIAUTH_OK) {
            return st;
        }
        if (user_app && strcmp(user_app, row.identity.app) != 0) {
            return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                                "the user belongs to another app");
        }
        *id = row.identity;
        id->user = password;
        id->acting_app = row.identity.app;
        return APIAUTH_OK;

    case APIAUTH_KIND_APP_TOKEN:   /* 2. APP_TOKEN:SESSION_TOKEN */
        if (*password == '\0') {
            *id = row.identity;
            return APIAUTH_OK;
        }
        st = find_secret(r, conf, password, &second, err);
        if (st != APIAUTH_OK) {
            return st;
        }
        if (second.identity.kind != APIAUTH_KIND_SESSION
            || strcmp(second.identity.app, row.identity.app) != 0) {
            return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                                "the session token is not one of this app");
        }
        *id = second.identity;
        return APIAUTH_OK;

    case APIAUTH_KIND_API_KEY:     /* 4. KEY: (Stripe style) */
    case APIAUTH_KIND_TOKEN:
        if (*password != '\0') {
            return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                                "a key sent as the Basic user takes an "
                                "empty password");
        }
        *id = row.identity;
        return APIAUTH_OK;

    default:
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                            "this credential cannot be used with Basic");
    }
}

static apiauth_status_t resolve_uncached(request_rec *r,
                                         const apiauth_dir_conf *conf,
                                         const apiauth_credential_t *cred,
                                         apiauth_identity_t *id,
                                         apiauth_error_t *err)
{
    apiauth_credential_row_t row;
    apiauth_status_t st;

    if (cred->scheme == APIAUTH_SCHEME_BEARER && looks_like_jwt(cred->secret)) {
        return verify_token(r, conf, cred->secret, id, err);
    }
    switch (cred->scheme) {
    case APIAUTH_SCHEME_BASIC:
        return resolve_basic(r, conf, cred, id, err);
    case APIAUTH_SCHEME_BEARER:   /* opaque: a key, admitted where keys are */
        /* the parser lets a Bearer credential run to a JWT's length; one
         * that is not a JWT is a key, and no key is this long */
        if (strlen(cred->secret) > APIAUTH_MAX_SECRET) {
            return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                "the Bearer credential is too long");
        }
        /* fall through */
    case APIAUTH_SCHEME_APIKEY:
    case APIAUTH_SCHEME_TOKEN:
        st = find_secret(r, conf, cred->secret, &row, err);
        break;
    case APIAUTH_SCHEME_INSTALL:
        st = find_secret(r, conf, cred->secret, &row, err);
        if (st == APIAUTH_OK
            && (row.identity.kind != APIAUTH_KIND_INSTALL
                || row.identity.install_id == NULL
                || strcmp(row.identity.install_id, cred->install_id) != 0)) {
            return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                                "the token is not one of this install");
        }
        break;
    default:
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "unsupported scheme");
    }
    if (st == APIAUTH_OK) {
        *id = row.identity;
    }
    return st;
}

static int from_jwt(const apiauth_identity_t *id)
{
    return id->provider && strcmp(id->provider, "jwt") == 0;
}

/* Has the credential expired here?  At its expiry, or, for a JWT the jwt
 * provider checked, ApiAuthJWTLeeway later (clock skew between the issuer
 * and us covers exp as it covers nbf and iat).  The leeway is looked at
 * only for what has expired at face value. */
static int expired_here(const apiauth_dir_conf *conf,
                        const apiauth_identity_t *id, apr_int64_t now)
{
    apr_int64_t leeway;

    if (id->expires == 0 || id->expires > now) {
        return 0;
    }
    if (!from_jwt(id)) {
        return 1;
    }
    leeway = conf->jwt_leeway >= 0 ? conf->jwt_leeway
                                   : APIAUTH_DEFAULT_JWT_LEEWAY;
    return id->expires + leeway <= now;   /* expires <= now: no overflow */
}

/* This location's rules, applied to every answer, cached or fresh. */
static apiauth_status_t admit(request_rec *r, const apiauth_dir_conf *conf,
                              const apiauth_credential_t *cred,
                              const apiauth_identity_t *id,
                              apiauth_error_t *err)
{
    unsigned accepted = conf->schemes ? conf->scheme_mask
                                      : APIAUTH_DEFAULT_SCHEMES;
    int is_key = id->kind == APIAUTH_KIND_API_KEY
                 || id->kind == APIAUTH_KIND_TOKEN;

    if (expired_here(conf, id, apr_time_sec(r->request_time))) {
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                            "the credential has expired");
    }
    switch (cred->scheme) {
    case APIAUTH_SCHEME_APIKEY:
    case APIAUTH_SCHEME_TOKEN:
        if (!is_key) {
            return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                                "this credential is not a key");
        }
        break;
    case APIAUTH_SCHEME_BEARER:
        /* a key in a Bearer header only where keys are accepted anyway */
        if (id->kind != APIAUTH_KIND_OAUTH
            && !(is_key && (accepted & (APIAUTH_SCHEME_APIKEY
                                        | APIAUTH_SCHEME_TOKEN)))) {
            return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                                "this location takes OAuth access tokens "
                                "as Bearer credentials");
        }
        break;
    case APIAUTH_SCHEME_BASIC:
        if (id->kind == APIAUTH_KIND_APP_TOKEN && conf->app_token_allowed != 1) {
            return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                                "an app token alone is accepted only where "
                                "Require apiauth-kind app_token says so; "
                                "send a session token as the password");
        }
        if (id->kind == APIAUTH_KIND_BACKEND) {
            if (conf->allow_backend != 1) {
                ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, AALOGNO(10022)
                              "backend token %s of app %s refused: "
                              "ApiAuthAllowBackend is off here",
                              id->credential_id, id->app);
                return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                                    "backend tokens are not accepted here");
            }
            /* privileged and audited: every use, cached or not */
            ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, AALOGNO(10023)
                          "backend token %s of app %s acts as user %s",
                          id->credential_id, id->app, id->user);
        }
        break;
    case APIAUTH_SCHEME_INSTALL:
        if (id->kind != APIAUTH_KIND_INSTALL) {
            return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                                "this credential is not an install token");
        }
        break;
    }
    return APIAUTH_OK;
}


/* Does this location trust the key (by kid) that verified a cached JWT? */
static int jwt_key_trusted_here(const apiauth_dir_conf *conf,
                                const char *kid)
{
    int i;

    for (i = 0; conf->jwt_keys && kid && i < conf->jwt_keys->nelts; i++) {
        const char *mine = apiauth_jwk_kid(
            APR_ARRAY_IDX(conf->jwt_keys, i, const apiauth_jwk_t *));
        if (mine && strcmp(mine, kid) == 0) {
            return 1;
        }
    }
    return 0;
}

/* A cached answer that depends on more than the provider chain and the
 * virtual host (revocations are the cache's own business): a JWT the jwt
 * provider accepted was checked against this location's issuer, audience
 * and keys, which another location may set differently. */
static int cached_still_holds(const apiauth_dir_conf *conf,
                              const apiauth_identity_t *id)
{
    /* an entry made where the issuer is declared local may name our apps
     * and clients; elsewhere it must be taken as the provider would */
    return !from_jwt(id)
           || (conf->jwt_issuer && conf->jwt_audience && id->issuer
               && id->audience && strcmp(conf->jwt_issuer, id->issuer) == 0
               && strcmp(conf->jwt_audience, id->audience) == 0
               && jwt_key_trusted_here(conf, id->key_id)
               && (conf->jwt_local == 1 || apiauth_jwt_names_foreign(id)));
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

int apiauth_resolve_key(request_rec *r, const apiauth_dir_conf *conf,
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

apiauth_status_t apiauth_resolve(request_rec *r, const apiauth_dir_conf *conf,
                                 const apiauth_credential_t *cred,
                                 const unsigned char *known_key,
                                 apiauth_identity_t *id, apiauth_error_t *err)
{
    unsigned char own[APIAUTH_DIGEST_LEN];
    const unsigned char *key = known_key;
    apiauth_status_t st;

    if (key == NULL && apiauth_resolve_key(r, conf, cred, 1, own) == 0) {
        key = own;
    }
    if (conf->cache == 0) {
        key = NULL;
    }
    if (key == NULL || !apiauth_cache_lookup(r, conf, key, id)
        || !cached_still_holds(conf, id)) {
        st = resolve_uncached(r, conf, cred, id, err);
        if (st != APIAUTH_OK) {
            return st;
        }
        /* a JWT without kid names no key a cache hit could check */
        if (key && !(from_jwt(id) && id->key_id == NULL)) {
            apiauth_cache_put(r, conf, key, id);
        }
    }
    st = admit(r, conf, cred, id, err);
    if (st != APIAUTH_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(10024)
                      "credential %s (%s) refused here: %s",
                      id->credential_id, apiauth_kind_name(id->kind),
                      err->description);
    }
    return st;
}
