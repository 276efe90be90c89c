/*
 * login.h: credentials the server mints for people and devices --
 * Tapglue session tokens (a user logs in within an app) and Contextual
 * install tokens (a dashboard user lets one device install in).
 *
 * Both are rows of apiauth_credentials like any key (kind session /
 * install), so mod_apiauth finds them by digest with no special case.
 */
#ifndef APIAUTH_LOGIN_H
#define APIAUTH_LOGIN_H

#include "apiauth.h"
#include "digest.h"
#include "store.h"

/* The bcrypt cost apiauth-admin hashes passwords with. */
#define APIAUTH_BCRYPT_COST 10

/* A password hash for `password` (bcrypt, as apr_password_validate reads). */
const char *apiauth_password_hash(apr_pool_t *p, const char *password);

/* Checks `password` for the user named `login` (id or email) within `app`:
 * a user of that app or of none.  Unknown user and wrong password are the
 * same APIAUTH_DENIED, and cost the same bcrypt round, so that neither the
 * answer nor its timing tells which.  *user_id is the user's id. */
apiauth_status_t apiauth_login_check(apr_pool_t *p, apiauth_db_t *db,
                                     const char *app, const char *login,
                                     const char *password,
                                     const char **user_id,
                                     apiauth_error_t *err);

/* Mints a credential for `app` (and `user`, `install_id` when given) of
 * `kind` (session or install) living `lifetime` seconds; returns the
 * secret, shown once, and its id. */
apiauth_status_t apiauth_mint_credential(apr_pool_t *p, apiauth_db_t *db,
                                         const apiauth_pepper_t *pepper,
                                         apiauth_kind_t kind, const char *app,
                                         const char *user,
                                         const char *install_id,
                                         apr_int64_t now, apr_int64_t lifetime,
                                         const char **secret, const char **id);

/* Revokes the credential `id` (logout). */
apiauth_status_t apiauth_credential_revoke(apr_pool_t *p, apiauth_db_t *db,
                                           const char *id, apr_int64_t now);

#endif
