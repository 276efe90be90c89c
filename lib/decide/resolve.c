/*
 * resolve.c: resolution and admission of a presented credential
 * (resolve.h).
 */
#include <string.h>

#include "jose.h"
#include "jwt.h"
#include "keys.h"
#include "resolve.h"

static apiauth_status_t refuse(apiauth_error_t *err, const char *why)
{
    return apiauth_fail(err, APIAUTH_DENIED, "invalid_token", why);
}

/* A secret through the stores: the first that knows it decides, then its
 * expiry and revocation. */
static apiauth_status_t find_secret(const apiauth_lookup_t *lk,
                                    const char *secret, apr_int64_t now,
                                    apiauth_credential_row_t *row,
                                    apiauth_identity_t *id,
                                    apiauth_error_t *err)
{
    apiauth_status_t st;

    if (apiauth_secret_shape(secret) == APIAUTH_SECRET_CORRUPT) {
        return refuse(err, "the key's checksum is wrong (mistyped or "
                      "truncated?)");
    }
    memset(row, 0, sizeof(*row));
    st = lk->find_secret(lk->baton, secret, row, err);
    if (st == APIAUTH_NOT_MINE) {
        return refuse(err, "the credential is not known");
    }
    if (st == APIAUTH_OK) {
        st = apiauth_credential_row_check(row, now, err);
        if (st != APIAUTH_OK) {
            /* which one, for the log */
            id->credential_id = row->identity.credential_id;
            id->kind = row->identity.kind;
        }
    }
    return st;
}

static apiauth_status_t find_user(const apiauth_lookup_t *lk,
                                  const char *user, const char **app,
                                  apiauth_error_t *err)
{
    apiauth_status_t st = lk->find_user ? lk->find_user(lk->baton, user, app,
                                                        err)
                                        : APIAUTH_NOT_MINE;

    return st == APIAUTH_NOT_MINE ? refuse(err, "there is no such user") : st;
}

int apiauth_session_of_app(const apiauth_identity_t *app_token,
                           const apiauth_identity_t *session)
{
    return session->kind == APIAUTH_KIND_SESSION && app_token->app
           && session->app && strcmp(session->app, app_token->app) == 0;
}

/* 3. app_<id>:API_KEY (Twake): the key must be an API key of that app. */
static apiauth_status_t basic_app_and_key(const apiauth_lookup_t *lk,
                                          const apiauth_credential_t *cred,
                                          apr_int64_t now,
                                          apiauth_identity_t *id,
                                          apiauth_error_t *err)
{
    apiauth_credential_row_t row;
    apiauth_status_t st;

    if (*cred->password == '\0') {
        return refuse(err, "an app id needs one of its keys as the "
                      "password");
    }
    if ((st = find_secret(lk, cred->password, now, &row, id, err))
        != APIAUTH_OK) {
        return st;
    }
    if (row.identity.kind != APIAUTH_KIND_API_KEY
        || strcmp(row.identity.app, cred->secret) != 0) {
        return refuse(err, "the key is not an API key of this app");
    }
    *id = row.identity;
    return APIAUTH_OK;
}

static apiauth_status_t resolve_basic(const apiauth_lookup_t *lk,
                                      const apiauth_credential_t *cred,
                                      apr_int64_t now, apiauth_identity_t *id,
                                      apiauth_error_t *err)
{
    const char *password = cred->password ? cred->password : "";
    apiauth_credential_row_t row, second;
    const char *user_app = NULL;
    apiauth_status_t st;

    if (strncmp(cred->secret, "app_", 4) == 0) {
        return basic_app_and_key(lk, cred, now, id, err);
    }
    /* the user part is looked up once; the kind found decides the rule */
    if ((st = find_secret(lk, cred->secret, now, &row, id, err))
        != APIAUTH_OK) {
        return st;
    }
    switch (row.identity.kind) {
    case APIAUTH_KIND_BACKEND:     /* 1. BACKEND_TOKEN:USER_ID */
        if (*password == '\0' || !apiauth_name_is_valid(password)) {
            return refuse(err, "a backend token needs the id of the user to "
                          "act as");
        }
        if ((st = find_user(lk, password, &user_app, err)) != APIAUTH_OK) {
            return st;
        }
        if (user_app && strcmp(user_app, row.identity.app) != 0) {
            return refuse(err, "the user belongs to another app");
        }
        *id = row.identity;
        id->user = password;
        id->acting_app = row.identity.app;
        return APIAUTH_OK;

    case APIAUTH_KIND_APP_TOKEN:   /* 2. APP_TOKEN:SESSION_TOKEN */
        if (*password == '\0') {
            *id = row.identity;    /* admission decides whether alone */
            return APIAUTH_OK;
        }
        if ((st = find_secret(lk, password, now, &second, id, err))
            != APIAUTH_OK) {
            return st;
        }
        if (!apiauth_session_of_app(&row.identity, &second.identity)) {
            return refuse(err, "the session token is not one of this app");
        }
        *id = second.identity;
        return APIAUTH_OK;

    case APIAUTH_KIND_API_KEY:     /* 4. KEY: (Stripe) */
    case APIAUTH_KIND_TOKEN:
        if (*password != '\0') {
            return refuse(err, "a key sent as the Basic user takes an empty "
                          "password");
        }
        *id = row.identity;
        return APIAUTH_OK;

    default:
        return refuse(err, "this credential cannot be used with Basic");
    }
}

apiauth_status_t apiauth_resolve_credential(const apiauth_lookup_t *lk,
                                            const apiauth_credential_t *cred,
                                            apr_int64_t now,
                                            apiauth_identity_t *id,
                                            apiauth_error_t *err)
{
    apiauth_credential_row_t row;
    apiauth_status_t st;

    memset(id, 0, sizeof(*id));
    if ((cred->scheme == APIAUTH_SCHEME_BEARER
         || cred->scheme == APIAUTH_SCHEME_DPOP)
        && apiauth_jwt_shaped(cred->secret)) {
        st = lk->verify_token ? lk->verify_token(lk->baton, cred->secret, id,
                                                 err)
                              : APIAUTH_NOT_MINE;
        return st == APIAUTH_NOT_MINE
                   ? refuse(err, "no provider here accepts this token")
                   : st;
    }
    switch (cred->scheme) {
    case APIAUTH_SCHEME_BASIC:
        return resolve_basic(lk, cred, now, id, err);
    case APIAUTH_SCHEME_DPOP:     /* DPoP-bound tokens are JWTs */
        return refuse(err, "this is no DPoP-bound access token");
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
        st = find_secret(lk, cred->secret, now, &row, id, err);
        break;
    case APIAUTH_SCHEME_INSTALL:  /* Contextual: bound to its install */
        st = find_secret(lk, cred->secret, now, &row, id, err);
        if (st == APIAUTH_OK
            && (row.identity.kind != APIAUTH_KIND_INSTALL
                || row.identity.install_id == NULL
                || cred->install_id == NULL
                || strcmp(row.identity.install_id, cred->install_id) != 0)) {
            return refuse(err, "the token is not one of this install");
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

/* Has the credential expired here?  At its expiry; a JWT the jwt provider
 * checked, the leeway later (clock skew between its issuer and us covers
 * exp as it covers nbf and iat).  The leeway is looked at only for what
 * has expired at face value. */
static int expired_here(const apiauth_admission_t *rules,
                        const apiauth_identity_t *id, apr_int64_t now)
{
    if (id->expires == 0 || id->expires > now) {
        return 0;
    }
    if (!apiauth_identity_from_jwt(id)) {
        return 1;
    }
    return id->expires + rules->jwt_leeway <= now;   /* no overflow: expires
                                                        <= now */
}

/* RFC 8707: our tokens for a resource carry it (id->resource); a jwt
 * provider's were checked against ApiAuthJWT audience= (id->audience). */
static int for_this_resource(const apiauth_admission_t *rules,
                             const apiauth_identity_t *id)
{
    const char *aud = id->resource;

    if (rules->resource == NULL) {
        return aud == NULL;
    }
    if (aud == NULL && apiauth_identity_from_jwt(id)) {
        aud = id->audience;
    }
    return aud && strcmp(aud, rules->resource) == 0;
}

apiauth_status_t apiauth_admit(const apiauth_admission_t *rules,
                               const apiauth_credential_t *cred,
                               const apiauth_identity_t *id, apr_int64_t now,
                               apiauth_error_t *err)
{
    int is_key = id->kind == APIAUTH_KIND_API_KEY
                 || id->kind == APIAUTH_KIND_TOKEN;

    if (expired_here(rules, id, now)) {
        return refuse(err, "the credential has expired");
    }
    switch (cred->scheme) {
    case APIAUTH_SCHEME_APIKEY:
    case APIAUTH_SCHEME_TOKEN:
        if (!is_key) {
            return refuse(err, "this credential is not a key");
        }
        break;
    case APIAUTH_SCHEME_BEARER:
        /* a key in a Bearer header only where keys are accepted anyway */
        if (id->kind != APIAUTH_KIND_OAUTH
            && !(is_key && (rules->accepted & (APIAUTH_SCHEME_APIKEY
                                               | APIAUTH_SCHEME_TOKEN)))) {
            return refuse(err, "this location takes OAuth access tokens as "
                          "Bearer credentials");
        }
        /* RFC 9449 §7.2: a bound token is no bearer token */
        if (id->bound_jkt) {
            return refuse(err, "this token is bound to a DPoP key: send it "
                          "as DPoP, with a proof");
        }
        break;
    case APIAUTH_SCHEME_DPOP:
        /* its proof is checked on every request, by the glue
         * (apiauth_dpop_verify), against bound_jkt */
        if (id->kind != APIAUTH_KIND_OAUTH || id->bound_jkt == NULL) {
            return refuse(err, "this token is not bound to a DPoP key");
        }
        break;
    case APIAUTH_SCHEME_BASIC:
        if (id->kind == APIAUTH_KIND_APP_TOKEN && !rules->app_token_allowed) {
            return refuse(err, "an app token alone is accepted only where "
                          "Require apiauth-kind app_token says so; send a "
                          "session token as the password");
        }
        if (id->kind == APIAUTH_KIND_BACKEND && !rules->allow_backend) {
            return refuse(err, "backend tokens are not accepted here");
        }
        break;
    case APIAUTH_SCHEME_INSTALL:
        if (id->kind != APIAUTH_KIND_INSTALL) {
            return refuse(err, "this credential is not an install token");
        }
        break;
    }
    if (id->kind == APIAUTH_KIND_OAUTH && !for_this_resource(rules, id)) {
        return refuse(err, "the token is for another resource (aud)");
    }
    return APIAUTH_OK;
}

static int key_trusted(const apr_array_header_t *keys, const char *kid)
{
    int i;

    for (i = 0; keys && kid && i < keys->nelts; i++) {
        const char *mine = apiauth_jwk_kid(
            APR_ARRAY_IDX(keys, i, const apiauth_jwk_t *));
        if (mine && strcmp(mine, kid) == 0) {
            return 1;
        }
    }
    return 0;
}

int apiauth_cached_still_holds(const apiauth_jwt_rules_t *jwt,
                               const apiauth_identity_t *id)
{
    /* an entry made where the issuer is declared local may name our apps
     * and clients; elsewhere it must be taken as the provider would */
    return jwt->issuer && jwt->audience && id->issuer && id->audience
               && strcmp(jwt->issuer, id->issuer) == 0
               && strcmp(jwt->audience, id->audience) == 0
               && key_trusted(jwt->keys, id->key_id)
               && (jwt->local
                   || (!apiauth_name_is_ours(id->client_id)
                       && !apiauth_name_is_ours(id->user)
                       && !apiauth_name_is_ours(id->app)));
}
