/*
 * access.c: access tokens -- minting, checking, introspection and
 * revocation -- and the life of grant families.
 *
 * Access tokens are RFC 9068 JWTs, so any server holding our public keys
 * can check them offline (ApiAuthProvider jwt).  Revocation needs the
 * store: a revoked access token's jti is deny-listed until its exp, and a
 * revoked grant takes every token carrying its id ("gid") with it.  The
 * oauth provider checks both on each uncached request; a server that only
 * verifies signatures honours revocation at the token's expiry.
 */
#include <string.h>

#include <apr_strings.h>

#include "jwt.h"
#include "keys.h"
#include "oauth.h"

char *apiauth_oauth_access_token(apr_pool_t *p,
                                 const apiauth_oauth_config_t *cfg,
                                 const apiauth_oauth_client_t *client,
                                 const char *user, const char *scope,
                                 const char *grant_id, const char *resource,
                                 const apiauth_oauth_binding_t *bind,
                                 apr_int64_t now)
{
    const char *jti = apiauth_id_new(p, "atk");
    json_t *claims;
    char *jwt;

    if (jti == NULL) {
        return NULL;
    }
    claims = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s}",
                       "iss", cfg->issuer,
                       "sub", user ? user : client->id,
                       "aud", resource ? resource : cfg->audience,
                       "client_id", client->id,
                       "app", client->app,
                       "scope", scope ? scope : "",
                       "iat", (json_int_t)now,
                       "nbf", (json_int_t)now,
                       "exp", (json_int_t)(now + cfg->access_lifetime),
                       "jti", jti);
    if (claims && grant_id) {
        json_object_set_new(claims, "gid", json_string(grant_id));
    }
    if (claims && bind && (bind->jkt || bind->x5t)) {
        json_t *cnf = json_object();
        if (bind->jkt) {
            json_object_set_new(cnf, "jkt", json_string(bind->jkt));
        }
        if (bind->x5t) {
            json_object_set_new(cnf, "x5t#S256", json_string(bind->x5t));
        }
        json_object_set_new(claims, "cnf", cnf);
    }
    jwt = claims ? apiauth_jws_sign(p, cfg->signing_key, "at+jwt", claims)
                 : NULL;
    json_decref(claims);
    return jwt;
}

static const char *claim_string(json_t *payload, const char *name)
{
    return json_string_value(json_object_get(payload, name));
}

apiauth_status_t apiauth_oauth_access_token_check(
    apr_pool_t *p, const apiauth_oauth_config_t *cfg, apiauth_db_t *db,
    const char *token, apr_int64_t now, apiauth_identity_t *id,
    apiauth_jwt_claims_t *claims_out, apiauth_error_t *err)
{
    apiauth_jwt_expect_t expect = {cfg->issuer, cfg->audience, "at+jwt", now,
                                   cfg->leeway, cfg->resources};
    apiauth_jwt_claims_t claims;
    const char *gid, *app;
    apiauth_status_t st;

    st = apiauth_jwt_verify(p, token, cfg->keys, &expect, &claims, err);
    if (st != APIAUTH_OK) {
        return st;
    }
    /* The leeway is for nbf and iat of a token another node of ours
     * minted a moment ahead; exp we set ourselves, and by our own clock an
     * expired token is expired (RFC 7662 §2.2), here as at the resources. */
    if (claims.exp <= now) {
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                            "the token has expired");
    }
    gid = claim_string(claims.payload, "gid");
    app = claim_string(claims.payload, "app");
    if (db) {
        apiauth_access_status_t status;

        if (apiauth_store_access_status(p, db, claims.jti, gid,
                                        claims.client_id, &status)
            != APIAUTH_OK) {
            return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                                "the token store is unreachable");
        }
        if (status.denied) {
            return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                                "the token has been revoked");
        }
        if (status.grant_revoked) {
            return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                                "the grant of this token has been revoked");
        }
        if (status.client_app == NULL) {
            return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                                "the client of this token no longer exists");
        }
        app = status.client_app;
    }
    apiauth_jwt_identity(&claims, app, cfg->issuer, claims.aud, id);
    id->grant_id = gid;
    /* a token for one resource (RFC 8707), taken where that is the
     * location's ApiAuthResource only */
    id->resource = strcmp(claims.aud, cfg->audience) != 0 ? claims.aud
                                                           : NULL;
    if (claims_out) {
        *claims_out = claims;
    }
    return APIAUTH_OK;
}

/* A refresh token, by its secret: as apiauth_store_single_use_find. */
static apiauth_status_t refresh_find(apr_pool_t *p,
                                     const apiauth_oauth_config_t *cfg,
                                     apiauth_db_t *db, const char *token,
                                     apiauth_single_use_t *row)
{
    const char *digest = apiauth_digest_hex(p, cfg->pepper, token);

    return digest ? apiauth_store_single_use_find(
                        p, db, APIAUTH_SINGLE_USE_REFRESH, digest, row)
                  : APIAUTH_ERROR;
}

apiauth_status_t apiauth_oauth_introspect(apr_pool_t *p,
                                          const apiauth_oauth_config_t *cfg,
                                          apiauth_db_t *db,
                                          const apiauth_oauth_client_t *caller,
                                          const char *token, apr_int64_t now,
                                          json_t **response,
                                          apiauth_error_t *err)
{
    apiauth_identity_t id;
    apiauth_jwt_claims_t claims;
    apiauth_error_t why;
    apiauth_single_use_t rt;
    apiauth_status_t st;

    *response = json_pack("{s:b}", "active", 0);
    if (token == NULL) {
        return APIAUTH_OK;
    }
    if (apiauth_jwt_shaped(token)) {
        st = apiauth_oauth_access_token_check(p, cfg, db, token, now, &id,
                                              &claims, &why);
        if (st == APIAUTH_ERROR) {
            return apiauth_fail(err, st, why.error, why.description);
        }
        if (st != APIAUTH_OK || !(caller->resource_server
                                  || strcmp(id.client_id, caller->id) == 0)) {
            return APIAUTH_OK;
        }
        json_decref(*response);
        *response = json_pack(
            "{s:b, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s}",
            "active", 1, "scope", id.scope, "client_id", id.client_id,
            "sub", claims.sub, "aud", claims.aud, "iss", cfg->issuer,
            "exp", (json_int_t)claims.exp, "iat", (json_int_t)claims.iat,
            "nbf", (json_int_t)claims.nbf, "jti", claims.jti, "token_type",
            id.bound_jkt ? "DPoP" : "Bearer");
        /* RFC 9449 §6.2, RFC 8705 §3.2: what the token is bound to */
        if (json_object_get(claims.payload, "cnf")) {
            json_object_set(*response, "cnf",
                            json_object_get(claims.payload, "cnf"));
        }
        return APIAUTH_OK;
    }
    st = refresh_find(p, cfg, db, token, &rt);
    if (st == APIAUTH_OK && !rt.used && rt.expires > now
        && (caller->resource_server || strcmp(rt.client_id, caller->id) == 0)) {
        st = apiauth_store_grant_live(p, db, rt.grant_id, NULL);
        if (st == APIAUTH_OK) {
            json_decref(*response);
            *response = json_pack(
                "{s:b, s:s, s:s, s:s, s:s, s:I}", "active", 1, "scope",
                rt.scope, "client_id", rt.client_id, "sub",
                rt.user_id ? rt.user_id : rt.client_id, "iss", cfg->issuer,
                "exp", (json_int_t)rt.expires);
        }
    }
    return st == APIAUTH_ERROR
               ? apiauth_fail(err, st, "temporarily_unavailable",
                              "the token store is unreachable")
               : APIAUTH_OK;
}

apiauth_status_t apiauth_oauth_family_revoke(apr_pool_t *p,
                                             const apiauth_oauth_config_t *cfg,
                                             apiauth_db_t *db,
                                             const char *grant_id,
                                             apr_int64_t now,
                                             apiauth_effects_t *fx)
{
    apiauth_status_t st = apiauth_store_grant_revoke(p, db, grant_id, now);

    if (st == APIAUTH_OK) {
        apiauth_effect_revoked(fx, "grant", grant_id,
                               now + cfg->access_lifetime + cfg->leeway);
    }
    return st;
}

apiauth_status_t apiauth_oauth_revoke(apr_pool_t *p,
                                      const apiauth_oauth_config_t *cfg,
                                      apiauth_db_t *db,
                                      const apiauth_oauth_client_t *caller,
                                      const char *token, apr_int64_t now,
                                      apiauth_effects_t *fx,
                                      apiauth_error_t *err)
{
    static const apiauth_error_t unavailable = {
        "temporarily_unavailable", "the token store is unreachable"};
    apiauth_jwt_claims_t claims;
    apiauth_error_t why;
    apiauth_single_use_t rt;
    apiauth_status_t st;

    if (token == NULL) {
        return APIAUTH_OK;
    }
    if (apiauth_jwt_shaped(token)) {
        apiauth_jwt_expect_t expect = {cfg->issuer, cfg->audience, "at+jwt",
                                       now, cfg->leeway, cfg->resources};
        /* an expired or foreign token needs no revoking */
        if (apiauth_jwt_verify(p, token, cfg->keys, &expect, &claims, &why)
                != APIAUTH_OK
            || strcmp(claims.client_id, caller->id) != 0) {
            return APIAUTH_OK;
        }
        /* kept a leeway past exp: a purge on a node whose clock runs
         * ahead must not let the token back in on one that lags */
        if (apiauth_store_access_deny(p, db, claims.jti,
                                      claims.exp + cfg->leeway)
            != APIAUTH_OK) {
            *err = unavailable;
            return APIAUTH_ERROR;
        }
        {
            /* this encoding's entry goes at once, and every other
             * encoding of the token (ECDSA takes s and n - s alike)
             * finds the jti's marker */
            apiauth_credential_t presented = {APIAUTH_SCHEME_BEARER,
                                              APIAUTH_FROM_AUTHORIZATION,
                                              token, NULL, NULL};
            apiauth_effect_forget(fx, &presented);
            apiauth_effect_revoked(fx, "token", claims.jti,
                                   claims.exp + cfg->leeway);
        }
        return APIAUTH_OK;
    }
    st = refresh_find(p, cfg, db, token, &rt);
    if (st == APIAUTH_ERROR) {
        *err = unavailable;
        return st;
    }
    if (st != APIAUTH_OK || strcmp(rt.client_id, caller->id) != 0) {
        return APIAUTH_OK;
    }
    if (apiauth_oauth_family_revoke(p, cfg, db, rt.grant_id, now, fx)
        != APIAUTH_OK) {
        *err = unavailable;
        return APIAUTH_ERROR;
    }
    return APIAUTH_OK;
}
