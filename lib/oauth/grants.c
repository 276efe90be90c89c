/*
 * grants.c: the grants of the token endpoint (RFC 6749 §4, §6).
 *
 * client_credentials mints an access token for the client itself.
 * authorization_code redeems a code once (RFC 6749 §4.1.2: a second
 * redemption revokes what the first one got), checks it is the client's,
 * fresh, for the same redirect URI and the PKCE verifier of its challenge,
 * and that the user has not withdrawn the grant meanwhile, and starts a
 * family of refresh tokens.  refresh_token rotates: each refresh token
 * works once, and its own client presenting a used one revokes its whole
 * family (RFC 9700 §4.14.2) -- which is also why, of two concurrent
 * refreshes of one token, exactly one succeeds.
 *
 * A refusal (RFC 6749 §5.2) spends nothing, so a client that asked for
 * too wide a scope can ask again, and one presented by another client
 * than its own is refused without touching its owner's grant.  Spending
 * is the database's single-use decision (UPDATE ... WHERE used IS NULL),
 * made first so that concurrent redemptions queue on the row, inside a
 * transaction with what is issued in exchange; a refusal or a store
 * failure part way rolls it back, and the old secret stays usable.
 */
#include <string.h>

#include <apr_strings.h>

#include "keys.h"
#include "oauth.h"
#include "pkce.h"
#include "scope.h"

static apiauth_status_t invalid(apiauth_error_t *err, const char *error,
                                const char *description)
{
    return apiauth_fail(err, APIAUTH_INVALID, error, description);
}

static apiauth_status_t unavailable(apiauth_error_t *err)
{
    return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                        "the token store is unreachable; try again");
}

static int dpop(const apiauth_oauth_binding_t *bind)
{
    return bind && bind->jkt;
}

static json_t *token_response(const apiauth_oauth_config_t *cfg,
                              const char *access, const char *refresh,
                              const char *scope,
                              const apiauth_oauth_binding_t *bind)
{
    /* RFC 9449 §5: a DPoP-bound token says so */
    json_t *r = json_pack("{s:s, s:s, s:I}", "access_token", access,
                          "token_type", dpop(bind) ? "DPoP" : "Bearer",
                          "expires_in", (json_int_t)cfg->access_lifetime);

    if (refresh) {
        json_object_set_new(r, "refresh_token", json_string(refresh));
    }
    json_object_set_new(r, "scope", json_string(scope));
    return r;
}

static apiauth_status_t grant_client_credentials(
    apr_pool_t *p, const apiauth_oauth_config_t *cfg,
    const apiauth_oauth_client_t *client, apr_table_t *params,
    const apiauth_oauth_binding_t *bind, apr_int64_t now, json_t **response,
    apiauth_error_t *err)
{
    const char *scope = apr_table_get(params, "scope");
    const char *access, *resource;
    apiauth_status_t st;

    if (apiauth_oauth_client_is_public(client)) {
        return invalid(err, "unauthorized_client",
                       "a public client cannot use client_credentials");
    }
    if (scope == NULL) {
        scope = apiauth_oauth_scope_default(p, cfg, client,
                                            APIAUTH_GRANT_CLIENT_CREDENTIALS);
        if (*scope == '\0') {
            return invalid(err, "invalid_scope", "no scope is available to "
                           "this client with client_credentials");
        }
    }
    else if (!apiauth_oauth_scope_allowed(cfg, client,
                                          APIAUTH_GRANT_CLIENT_CREDENTIALS,
                                          scope)) {
        return invalid(err, "invalid_scope", "a requested scope is unknown, "
                       "or not allowed to this client with "
                       "client_credentials");
    }
    if ((st = apiauth_oauth_resource_asked(cfg, client, params, &resource,
                                           err))
        != APIAUTH_OK) {
        return st;
    }
    access = apiauth_oauth_access_token(p, cfg, client, NULL, scope, NULL,
                                        resource, bind, now);
    if (access == NULL) {
        return apiauth_fail(err, APIAUTH_ERROR, "server_error",
                            "the access token could not be signed");
    }
    *response = token_response(cfg, access, NULL, scope, bind);
    return APIAUTH_OK;
}

/* Issues the access token and, where the client may refresh, a new
 * refresh token of the family, and lengthens the family's life. */
static apiauth_status_t issue(apr_pool_t *p, const apiauth_oauth_config_t *cfg,
                              apiauth_db_t *db,
                              const apiauth_oauth_client_t *client,
                              const char *user, const char *granted_scope,
                              const char *scope, const char *grant_id,
                              const char *resource,
                              const apiauth_oauth_binding_t *bind,
                              apr_int64_t now, json_t **response,
                              apiauth_error_t *err)
{
    const char *access, *refresh = NULL;
    apr_int64_t expires = now + cfg->refresh_lifetime;
    /* the grant must outlive every token of it, by a leeway for nodes
     * whose clocks lag, for revocation to hold until the last one is
     * refused anyway */
    apr_int64_t family = now + cfg->leeway
                         + (cfg->refresh_lifetime > cfg->access_lifetime
                                ? cfg->refresh_lifetime
                                : cfg->access_lifetime);

    access = apiauth_oauth_access_token(p, cfg, client, user, scope, grant_id,
                                        resource, bind, now);
    if (access == NULL) {
        return apiauth_fail(err, APIAUTH_ERROR, "server_error",
                            "the access token could not be signed");
    }
    if (client->grants & APIAUTH_GRANT_REFRESH_TOKEN) {
        apiauth_single_use_t rt;
        const char *digest;

        memset(&rt, 0, sizeof(rt));
        refresh = apiauth_secret_new(p, APIAUTH_PREFIX_REFRESH);
        digest = refresh ? apiauth_digest_hex(p, cfg->pepper, refresh) : NULL;
        rt.id = apiauth_id_new(p, "rft");
        rt.grant_id = grant_id;
        rt.client_id = client->id;
        rt.user_id = user;
        /* the family keeps what was granted, so that a later refresh may
         * ask for any of it (RFC 6749 §6) */
        rt.scope = granted_scope;
        rt.created = now;
        rt.expires = expires;
        if (digest == NULL || rt.id == NULL
            || apiauth_store_single_use_insert(p, db,
                                               APIAUTH_SINGLE_USE_REFRESH,
                                               digest, &rt) != APIAUTH_OK) {
            return unavailable(err);
        }
    }
    if (apiauth_store_grant_extend(p, db, grant_id, family) != APIAUTH_OK) {
        return unavailable(err);
    }
    /* RFC 9449 §5: a public client's refresh tokens are bound to the key
     * of its first proof; a confidential client's to its own
     * authentication */
    if (dpop(bind) && apiauth_oauth_client_is_public(client)
        && apiauth_store_grant_bind(p, db, grant_id, bind->jkt)
               != APIAUTH_OK) {
        return unavailable(err);
    }
    *response = token_response(cfg, access, refresh, scope, bind);
    return APIAUTH_OK;
}

/* The scope of a token from an existing grant: what the request asks for,
 * which must be within what was granted, or everything granted. */
static apiauth_status_t narrowed_scope(apr_table_t *params,
                                       const char *granted,
                                       const char **scope,
                                       apiauth_error_t *err)
{
    const char *asked = apr_table_get(params, "scope");

    if (asked == NULL) {
        *scope = granted;
        return APIAUTH_OK;
    }
    if (!apiauth_scope_list_valid(asked)
        || !apiauth_scope_subset(asked, granted)) {
        return invalid(err, "invalid_scope", "the requested scope exceeds "
                       "what was granted");
    }
    *scope = asked;
    return APIAUTH_OK;
}

typedef struct {
    apiauth_single_use_kind_t kind;
    const char *replayed, *unknown, *foreign;
} single_use_kind_t;

static const single_use_kind_t a_code = {
    APIAUTH_SINGLE_USE_CODE,
    "the code was used before; everything issued from it is revoked",
    "unknown or expired code",
    "the code was issued to another client"};

static const single_use_kind_t a_refresh_token = {
    APIAUTH_SINGLE_USE_REFRESH,
    "the refresh token was used before; its grant is revoked",
    "unknown refresh token",
    "the refresh token was issued to another client"};

/* Revokes the family of a secret its own client presented twice (RFC
 * 9700 §4.14.2; RFC 6749 §4.1.2 for codes) and answers invalid_grant. */
static apiauth_status_t replayed(apr_pool_t *p,
                                 const apiauth_oauth_config_t *cfg,
                                 apiauth_db_t *db, const char *grant_id,
                                 const char *why, apr_int64_t now,
                                 apiauth_effects_t *fx, apiauth_error_t *err)
{
    if (apiauth_oauth_family_revoke(p, cfg, db, grant_id, now, fx)
        != APIAUTH_OK) {
        return unavailable(err);
    }
    return invalid(err, "invalid_grant", why);
}

/* Why `digest` could not be spent: it is unknown (or purged), it is
 * another client's (RFC 6749 §4.1.3, §6: invalid_grant, and whoever merely
 * saw a token cannot end its owner's grant with it), or its own client
 * presents it a second time -- a replay, which revokes the family (*keep:
 * that revocation is to be committed). */
static apiauth_status_t not_spent(apr_pool_t *p,
                                  const apiauth_oauth_config_t *cfg,
                                  apiauth_db_t *db,
                                  const single_use_kind_t *what,
                                  const char *digest,
                                  const apiauth_oauth_client_t *client,
                                  apr_int64_t now, int *keep,
                                  apiauth_effects_t *fx, apiauth_error_t *err)
{
    apiauth_single_use_t row;

    switch (apiauth_store_single_use_find(p, db, what->kind, digest, &row)) {
    case APIAUTH_OK:
        break;
    case APIAUTH_NOT_MINE:
        return invalid(err, "invalid_grant", what->unknown);
    default:
        return unavailable(err);
    }
    if (strcmp(row.client_id, client->id) != 0) {
        return invalid(err, "invalid_grant", what->foreign);
    }
    *keep = 1;
    return replayed(p, cfg, db, row.grant_id, what->replayed, now, fx, err);
}

/* Is the grant family still live?  The user may have withdrawn it
 * between the code and its redemption, or a replay may have revoked it:
 * nothing new is issued from a revoked grant, not even a first token. */
static apiauth_status_t grant_live(apr_pool_t *p,
                                   const apiauth_oauth_config_t *cfg,
                                   apiauth_db_t *db,
                                   const apiauth_oauth_client_t *client,
                                   const char *grant_id,
                                   apr_table_t *params,
                                   const apiauth_oauth_binding_t *bind,
                                   const char **resource,
                                   apiauth_error_t *err)
{
    apiauth_grant_bound_t bound = {NULL, NULL};
    apiauth_status_t st;
    const char *asked;

    switch (apiauth_store_grant_live(p, db, grant_id, &bound)) {
    case APIAUTH_OK:
        /* a family bound to a DPoP key goes on with that key alone */
        if (bound.jkt && !(dpop(bind) && strcmp(bind->jkt, bound.jkt) == 0)) {
            return invalid(err, "invalid_dpop_proof", "this refresh token "
                           "is bound to a DPoP key: send a proof by it");
        }
        /* and a family granted for one resource, with that one (RFC 8707
         * §2.2: a token request may name the resource, not another) */
        if ((st = apiauth_oauth_resource_asked(cfg, client, params, &asked,
                                               err))
            != APIAUTH_OK) {
            return st;
        }
        if (asked && (bound.resource == NULL
                      || strcmp(asked, bound.resource) != 0)) {
            return invalid(err, "invalid_target", "the grant is not for "
                           "this resource");
        }
        *resource = bound.resource;
        return APIAUTH_OK;
    case APIAUTH_DENIED:
        return invalid(err, "invalid_grant", "the grant has been revoked");
    default:
        return unavailable(err);
    }
}

/* RFC 6749 §4.1.3 and RFC 7636 §4.6: the redirect URI and the verifier of
 * the authorization request. */
static apiauth_status_t code_matches(apr_pool_t *p,
                                     const apiauth_oauth_client_t *client,
                                     const apiauth_single_use_t *row,
                                     const char *redirect_uri,
                                     const char *verifier,
                                     apiauth_error_t *err)
{
    if (row->redirect_uri
            ? (redirect_uri == NULL
               || strcmp(redirect_uri, row->redirect_uri) != 0)
            : (redirect_uri != NULL
               && !apiauth_oauth_redirect_allowed(client->redirect_uris,
                                                  redirect_uri))) {
        return invalid(err, "invalid_grant", "redirect_uri differs from the "
                       "authorization request");
    }
    if (row->code_challenge && !verifier) {
        return invalid(err, "invalid_grant", "code_verifier is required: "
                       "the code was issued for a code_challenge");
    }
    if (row->code_challenge
        && !apiauth_pkce_matches(p, verifier, row->code_challenge)) {
        return invalid(err, "invalid_grant", "code_verifier does not match "
                       "the code_challenge");
    }
    if (!row->code_challenge && verifier) {
        /* RFC 9700 §2.1.1: a verifier for a code issued without a
         * challenge means someone tampered with the authorization request */
        return invalid(err, "invalid_grant", "the code was issued without a "
                       "code_challenge");
    }
    return APIAUTH_OK;
}

/* The code and refresh token grants.  The secret is spent first: the
 * database lets one of two concurrent redemptions change its row (UPDATE
 * ... WHERE used IS NULL; the other waits for it, then finds it used).
 * Then every check is made on it; a refusal is rolled back with the
 * transaction (*keep stays 0): RFC 6749 §5.2, an error issues nothing and
 * leaves the secret as it was -- a client that asked for too wide a scope
 * may ask again, and one presented by another client stays its owner's.
 * What is committed: tokens issued, or a replay's revoked family. */
static apiauth_status_t redeem(apr_pool_t *p, const apiauth_oauth_config_t *cfg,
                               apiauth_db_t *db,
                               const apiauth_oauth_client_t *client,
                               apr_table_t *params, unsigned grant,
                               const apiauth_oauth_binding_t *bind,
                               apr_int64_t now, json_t **response, int *keep,
                               apiauth_effects_t *fx, apiauth_error_t *err)
{
    int is_code = grant == APIAUTH_GRANT_AUTHORIZATION_CODE;
    const single_use_kind_t *what = is_code ? &a_code : &a_refresh_token;
    const char *secret = apr_table_get(params, is_code ? "code"
                                                       : "refresh_token");
    const char *verifier = apr_table_get(params, "code_verifier");
    const char *digest, *scope = NULL, *resource = NULL;
    apiauth_single_use_t row;
    apiauth_status_t st;

    *keep = 0;
    if (secret == NULL) {
        return invalid(err, "invalid_request", is_code
                       ? "code is required" : "refresh_token is required");
    }
    if (is_code && verifier && !apiauth_pkce_verifier_valid(verifier)) {
        return invalid(err, "invalid_request", "code_verifier must be 43 to "
                       "128 unreserved characters (RFC 7636 §4.1)");
    }
    if ((digest = apiauth_digest_hex(p, cfg->pepper, secret)) == NULL) {
        return unavailable(err);
    }
    switch (apiauth_store_single_use_spend(p, db, what->kind, digest, now)) {
    case APIAUTH_OK:
        break;
    case APIAUTH_DENIED:
        return not_spent(p, cfg, db, what, digest, client, now, keep, fx,
                         err);
    default:
        return unavailable(err);
    }
    if (apiauth_store_single_use_find(p, db, what->kind, digest, &row)
        != APIAUTH_OK) {
        return unavailable(err);
    }
    if (strcmp(row.client_id, client->id) != 0) {
        return invalid(err, "invalid_grant", what->foreign);
    }
    if (row.expires <= now) {
        return invalid(err, "invalid_grant", is_code
                       ? "the code has expired"
                       : "the refresh token has expired");
    }
    if ((is_code
         && (st = code_matches(p, client, &row,
                               apr_table_get(params, "redirect_uri"), verifier,
                               err)) != APIAUTH_OK)
        || (st = narrowed_scope(params, row.scope, &scope, err)) != APIAUTH_OK
        || (st = grant_live(p, cfg, db, client, row.grant_id, params, bind,
                            &resource, err)) != APIAUTH_OK) {
        return st;
    }
    st = issue(p, cfg, db, client, row.user_id, row.scope, scope,
               row.grant_id, resource, bind, now, response, err);
    *keep = st == APIAUTH_OK;
    return st;
}

apiauth_status_t apiauth_oauth_token(apr_pool_t *p,
                                     const apiauth_oauth_config_t *cfg,
                                     apiauth_db_t *db,
                                     const apiauth_oauth_client_t *client,
                                     apr_table_t *params,
                                     const apiauth_oauth_binding_t *bind,
                                     apr_int64_t now, json_t **response,
                                     apiauth_effects_t *fx,
                                     apiauth_error_t *err)
{
    const char *name = apr_table_get(params, "grant_type");
    unsigned grant = apiauth_grant_from_name(name);
    apr_dbd_transaction_t *txn = NULL;
    apiauth_status_t st;
    int keep = 0;

    *response = NULL;
    if (name == NULL) {
        return invalid(err, "invalid_request", "grant_type is required");
    }
    if (grant == 0) {
        return invalid(err, "unsupported_grant_type", "grant_type must be "
                       "authorization_code, client_credentials or "
                       "refresh_token");
    }
    if (!(client->grants & grant)) {
        return invalid(err, "unauthorized_client", "this client may not use "
                       "this grant type");
    }
    if (client->dpop_bound && !dpop(bind)) {
        return invalid(err, "invalid_dpop_proof", "this client must send a "
                       "DPoP proof with every token request");
    }
    if (grant == APIAUTH_GRANT_CLIENT_CREDENTIALS) {
        st = grant_client_credentials(p, cfg, client, params, bind, now,
                                      response, err);
    }
    else if (apiauth_db_begin(p, db, &txn) != APIAUTH_OK) {
        return unavailable(err);
    }
    else {
        int mark = apiauth_effects_mark(fx);

        st = redeem(p, cfg, db, client, params, grant, bind, now, response,
                    &keep, fx, err);
        if (apiauth_db_end(p, db, txn, keep && st != APIAUTH_ERROR)
                != APIAUTH_OK
            && st != APIAUTH_ERROR) {
            /* nothing of it happened: no tokens, no revocation */
            apiauth_effects_rollback(fx, mark);
            if (*response) {
                json_decref(*response);
                *response = NULL;
            }
            return unavailable(err);
        }
    }
    if (st == APIAUTH_OK) {
        apiauth_effect_issued(fx, name, client->id);
    }
    else if (st == APIAUTH_INVALID && strcmp(err->error, "invalid_grant") == 0) {
        /* a code or refresh token guessed, replayed or stolen */
        apiauth_effect_refused(fx, "grant");
    }
    return st;
}
