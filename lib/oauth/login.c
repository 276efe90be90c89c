/*
 * login.c: logins, session tokens and install tokens (see login.h).
 */
#include <string.h>

#include <apr_md5.h>
#include <apr_strings.h>
#include <openssl/crypto.h>

#include "keys.h"
#include "login.h"
#include "resolve.h"

/* A bcrypt hash of a random password nobody knows, at the cost real hashes
 * have: checked against when the user does not exist, so that an unknown
 * user takes as long as a wrong password. */
static const char dummy_hash[] =
    "$2y$10$yf1LVLxAT1f0jPij1QenRuB4EadEl/Md1dfwn1HZUDWRq0f9D/.q6";

const char *apiauth_password_hash(apr_pool_t *p, const char *password)
{
    unsigned char salt[16];
    char out[64];

    if (apiauth_random_bytes(salt, sizeof(salt)) != 0
        || apr_bcrypt_encode(password, APIAUTH_BCRYPT_COST, salt,
                             sizeof(salt), out, sizeof(out)) != APR_SUCCESS) {
        return NULL;
    }
    return apr_pstrdup(p, out);
}

apiauth_status_t apiauth_login_check(apr_pool_t *p, apiauth_db_t *db,
                                     const char *app, const char *login,
                                     const char *password,
                                     const char **user_id,
                                     apiauth_effects_t *fx,
                                     apiauth_error_t *err)
{
    static const apiauth_error_t wrong = {
        "invalid_credentials", "wrong username, email or password"};
    apiauth_user_t user;
    apiauth_status_t st;
    int known, matches;

    st = apiauth_store_user_login(p, db, login, &user);
    if (st == APIAUTH_ERROR) {
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "the user store is unreachable");
    }
    /* a user of another app is, for this app, no user at all */
    known = st == APIAUTH_OK && (user.app == NULL || strcmp(user.app, app) == 0);
    matches = apr_password_validate(password, known ? user.password_hash
                                                    : dummy_hash)
              == APR_SUCCESS;
    if (!known || !matches) {
        apiauth_effect_refused(fx, "password");
        *err = wrong;
        return APIAUTH_DENIED;
    }
    *user_id = user.id;
    return APIAUTH_OK;
}

apiauth_status_t apiauth_mint_credential(apr_pool_t *p, apiauth_db_t *db,
                                         const apiauth_pepper_t *pepper,
                                         apiauth_kind_t kind, const char *app,
                                         const char *user,
                                         const char *install_id,
                                         apr_int64_t now, apr_int64_t lifetime,
                                         const char **secret, const char **id,
                                         apiauth_effects_t *fx)
{
    const char *prefix = kind == APIAUTH_KIND_INSTALL ? APIAUTH_PREFIX_INSTALL
                                                      : APIAUTH_PREFIX_SESSION;
    char *minted = apiauth_secret_new(p, prefix);
    apiauth_credential_new_t c;

    memset(&c, 0, sizeof(c));
    c.id = apiauth_id_new(p, kind == APIAUTH_KIND_INSTALL ? "ins" : "ses");
    c.digest_hex = minted ? apiauth_digest_hex(p, pepper, minted) : NULL;
    c.kind = kind;
    c.app = app;
    c.user = user;
    c.install_id = install_id;
    c.created = now;
    c.expires = now + lifetime;
    if (c.id == NULL || c.digest_hex == NULL) {
        return APIAUTH_ERROR;
    }
    if (apiauth_store_credential_insert(p, db, &c) != APIAUTH_OK) {
        OPENSSL_cleanse(minted, strlen(minted));
        return APIAUTH_ERROR;
    }
    *secret = minted;
    *id = c.id;
    apiauth_effect_issued(fx, apiauth_kind_name(kind), c.id);
    return APIAUTH_OK;
}

/* A credential by its secret, live at `now`: APIAUTH_OK, APIAUTH_DENIED
 * (unknown, revoked, expired), APIAUTH_ERROR. */
static apiauth_status_t live_credential(apr_pool_t *p, apiauth_db_t *db,
                                        const apiauth_pepper_t *pepper,
                                        const char *secret, apr_int64_t now,
                                        apiauth_credential_row_t *row)
{
    const char *digest = apiauth_digest_hex(p, pepper, secret);
    apiauth_status_t st;

    if (digest == NULL) {
        return APIAUTH_ERROR;
    }
    st = apiauth_store_credential_find(p, db, digest, row);
    if (st == APIAUTH_OK) {
        st = apiauth_credential_row_check(row, now, NULL);
    }
    return st == APIAUTH_NOT_MINE ? APIAUTH_DENIED : st;
}

static apiauth_status_t store_down(apiauth_error_t *err)
{
    return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                        "the credential store is unreachable");
}

apiauth_status_t apiauth_login_app(apr_pool_t *p, apiauth_db_t *db,
                                   const apiauth_pepper_t *pepper,
                                   const apiauth_credential_t *presented,
                                   apr_int64_t now,
                                   apiauth_credential_row_t *app,
                                   apiauth_effects_t *fx,
                                   apiauth_error_t *err)
{
    apiauth_status_t st = live_credential(p, db, pepper, presented->secret,
                                          now, app);

    if (st == APIAUTH_ERROR) {
        return store_down(err);
    }
    if (st != APIAUTH_OK || app->identity.kind != APIAUTH_KIND_APP_TOKEN) {
        apiauth_effect_refused(fx, "app token");
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_client",
                            "unknown, expired or revoked app token");
    }
    return APIAUTH_OK;
}

apiauth_status_t apiauth_logout(apr_pool_t *p, apiauth_db_t *db,
                                const apiauth_pepper_t *pepper,
                                const apiauth_credential_t *presented,
                                const apiauth_credential_row_t *app,
                                apr_int64_t now,
                                apiauth_credential_row_t *session,
                                apiauth_effects_t *fx, apiauth_error_t *err)
{
    apiauth_status_t st;

    st = presented->password && *presented->password
             ? live_credential(p, db, pepper, presented->password, now,
                               session)
             : APIAUTH_DENIED;
    if (st == APIAUTH_ERROR) {
        return store_down(err);
    }
    if (st != APIAUTH_OK
        || !apiauth_session_of_app(&app->identity, &session->identity)) {
        apiauth_effect_refused(fx, "session");
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                            "no live session of this app has this token");
    }
    /* revoked a moment ago by another logout: ended all the same */
    if (apiauth_store_credential_revoke(p, db,
                                        session->identity.credential_id, now)
        == APIAUTH_ERROR) {
        return store_down(err);
    }
    /* the pair as sent, and under the app's other app tokens (where it may
     * be cached too) by the session's id */
    apiauth_effect_forget(fx, presented);
    apiauth_effect_revoked(fx, "credential", session->identity.credential_id,
                           session->identity.expires
                               ? session->identity.expires
                               : now + 86400);
    return APIAUTH_OK;
}
