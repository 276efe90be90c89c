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
#include "credential.h"
#include "digest.h"
#include "effects.h"
#include "store.h"

/* The bcrypt cost apiauth-admin hashes passwords with. */
#define APIAUTH_BCRYPT_COST 10

/* A password hash for `password` (bcrypt, as apr_password_validate reads). */
const char *apiauth_password_hash(apr_pool_t *p, const char *password);

/* The app a login or logout request is made in: `presented` is its Basic
 * credential, whose user part must be a live app token.  APIAUTH_OK with
 * *app; APIAUTH_DENIED (invalid_client, a refused attempt in *fx);
 * APIAUTH_ERROR. */
apiauth_status_t apiauth_login_app(apr_pool_t *p, apiauth_db_t *db,
                                   const apiauth_pepper_t *pepper,
                                   const apiauth_credential_t *presented,
                                   apr_int64_t now,
                                   apiauth_credential_row_t *app,
                                   apiauth_effects_t *fx,
                                   apiauth_error_t *err);

/* Checks `password` for the user named `login` (id or email) within `app`:
 * a user of that app or of none.  Unknown user and wrong password are the
 * same APIAUTH_DENIED (a refused attempt in *fx), and cost the same bcrypt
 * round, so that neither the answer nor its timing tells which.
 * *user_id is the user's id. */
apiauth_status_t apiauth_login_check(apr_pool_t *p, apiauth_db_t *db,
                                     const char *app, const char *login,
                                     const char *password,
                                     const char **user_id,
                                     apiauth_effects_t *fx,
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
                                         const char **secret, const char **id,
                                         apiauth_effects_t *fx);

/* Logout (Tapglue's DELETE user/logout): ends the session sent as the
 * password of `presented` (APP_TOKEN:SESSION_TOKEN) when it is a live
 * session of `app` -- the rule mod_apiauth applies to the same pair
 * (apiauth_session_of_app).  APIAUTH_OK with *session and, in *fx, the
 * presented pair forgotten and the session revoked for every cache;
 * APIAUTH_DENIED (invalid_token, a refused attempt); APIAUTH_ERROR. */
apiauth_status_t apiauth_logout(apr_pool_t *p, apiauth_db_t *db,
                                const apiauth_pepper_t *pepper,
                                const apiauth_credential_t *presented,
                                const apiauth_credential_row_t *app,
                                apr_int64_t now,
                                apiauth_credential_row_t *session,
                                apiauth_effects_t *fx, apiauth_error_t *err);

#endif
