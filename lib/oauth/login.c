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
    const char *args[2] = {login, login};
    const char **row = NULL;
    apr_array_header_t *rows;
    int known, matches;

    if (apiauth_db_select(p, db, APIAUTH_SQL_USER_LOGIN, 2, args, &rows)
        != APIAUTH_OK) {
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "the user store is unreachable");
    }
    /* id, app_id, password */
    known = rows->nelts == 1;
    if (known) {
        row = APR_ARRAY_IDX(rows, 0, apiauth_db_row_t).cols;
        /* a user of another app is, for this app, no user at all */
        known = row[1] == NULL || strcmp(row[1], app) == 0;
    }
    matches = apr_password_validate(password, known ? row[2] : dummy_hash)
              == APR_SUCCESS;
    if (!known || !matches) {
        *err = wrong;
        return APIAUTH_DENIED;
    }
    *user_id = row[0];
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
    const char *args[9];

    args[0] = apiauth_id_new(p, kind == APIAUTH_KIND_INSTALL ? "ins" : "ses");
    args[1] = minted ? apiauth_digest_hex(p, pepper, minted) : NULL;
    args[2] = apiauth_kind_name(kind);
    args[3] = app;
    args[4] = user;
    args[5] = "";
    args[6] = install_id;
    args[7] = apiauth_db_int(p, now);
    args[8] = apiauth_db_int(p, now + lifetime);
    if (args[0] == NULL || args[1] == NULL) {
        return APIAUTH_ERROR;
    }
    if (apiauth_db_exec(p, db, APIAUTH_SQL_CREDENTIAL_INSERT, 9, args, NULL)
        != APIAUTH_OK) {
        OPENSSL_cleanse(minted, strlen(minted));
        return APIAUTH_ERROR;
    }
    *secret = minted;
    *id = args[0];
    return APIAUTH_OK;
}

apiauth_status_t apiauth_credential_revoke(apr_pool_t *p, apiauth_db_t *db,
                                           const char *id, apr_int64_t now)
{
    const char *args[2] = {apiauth_db_int(p, now), id};

    return apiauth_db_exec(p, db, APIAUTH_SQL_CREDENTIAL_REVOKE, 2, args, NULL);
}
