/*
 * login.c: logins, session tokens and install tokens (see login.h).
 */
#include <string.h>

#include <apr_md5.h>
#include <apr_strings.h>
#include <openssl/crypto.h>

#include "keys.h"
#include "login.h"

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
                                         const char **secret, const char **id)
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
    return APIAUTH_OK;
}

apiauth_status_t apiauth_credential_revoke(apr_pool_t *p, apiauth_db_t *db,
                                           const char *id, apr_int64_t now)
{
    /* revoked already (a second logout) is no failure */
    return apiauth_store_credential_revoke(p, db, id, now) == APIAUTH_ERROR
               ? APIAUTH_ERROR
               : APIAUTH_OK;
}
