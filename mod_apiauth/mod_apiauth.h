/*
 * mod_apiauth.h: what mod_apiauth offers other httpd modules.
 *
 * 1. A provider group of its own ("apiauth", version "1"): a module that
 *    registers an apiauth_provider_t there under a name can be listed in
 *    ApiAuthProvider.  mod_apiauth_oauth registers "oauth" this way.
 * 2. Optional functions (APR_RETRIEVE_OPTIONAL_FN) for modules that serve
 *    requests mod_apiauth has authenticated, or that revoke credentials.
 *
 * Installed with the module (make install) for third-party providers.
 */
#ifndef MOD_APIAUTH_H
#define MOD_APIAUTH_H

#include <apr_optional.h>
#include <httpd.h>

#include "apiauth.h"
#include "digest.h"

#define APIAUTH_PROVIDER_GROUP   "apiauth"
#define APIAUTH_PROVIDER_VERSION "1"

/*
 * A credential provider.  Each function may be NULL (not offered).  They
 * answer APIAUTH_OK (found), APIAUTH_NOT_MINE (the next provider is asked),
 * APIAUTH_DENIED (stop: 401) or APIAUTH_ERROR (stop: 503), and put the
 * reason for a refusal in *err.
 */
typedef struct apiauth_provider {
    /* The credential whose secret digests to `digest_hex` (as the store
     * holds it).  Expiry and revocation are checked by mod_apiauth. */
    apiauth_status_t (*find_secret)(request_rec *r, const char *digest_hex,
                                    apiauth_credential_row_t *row,
                                    apiauth_error_t *err);
    /* A self-contained token (a JWT), checked completely here. */
    apiauth_status_t (*verify_token)(request_rec *r, const char *token,
                                     apiauth_identity_t *id,
                                     apiauth_error_t *err);
    /* Does this provider alone decide `token` (a JWT of its own issuer)? */
    int (*owns_token)(request_rec *r, const char *token);
    /* Is `user` known?  *app gets the app it belongs to, NULL for none. */
    apiauth_status_t (*find_user)(request_rec *r, const char *user,
                                  const char **app);
    /* May `app` act in group (Twake company) `group`? */
    apiauth_status_t (*app_in_group)(request_rec *r, const char *app,
                                     const char *group);
} apiauth_provider_t;

/* The identity mod_apiauth established for `r` (or its main request);
 * NULL when it did not authenticate this request. */
APR_DECLARE_OPTIONAL_FN(const apiauth_identity_t *, apiauth_request_identity,
                        (request_rec *r));

/* How a presented credential is named in the cache: a label, then its
 * parts -- APIAUTH_CACHE_SECRET and the secret (a key, a Token, a Bearer
 * token), APIAUTH_CACHE_BASIC with the user and password parts, or
 * APIAUTH_CACHE_INSTALL with the token and its install id.  One letter
 * each: the key of a cached API key then fits one SHA-256 block. */
#define APIAUTH_CACHE_SECRET  "k"
#define APIAUTH_CACHE_BASIC   "b"
#define APIAUTH_CACHE_INSTALL "i"

/* Forgets a cached credential at once (logout, revocation endpoint):
 * `parts` are the label and the credential's parts as presented. */
APR_DECLARE_OPTIONAL_FN(void, apiauth_cache_forget,
                        (request_rec *r, const char *const *parts,
                         int nparts));

/* Something revoked through this server -- `what` "grant" (a replayed or
 * revoked refresh token's family) or "credential" (a session ended at
 * logout) with its id: cached identities it covers stop counting at once.
 * `until` (Unix seconds) is when the last of them would have expired. */
APR_DECLARE_OPTIONAL_FN(void, apiauth_cache_note_revoked,
                        (request_rec *r, const char *what, const char *id,
                         apr_int64_t until));

/* The digest the store holds for `secret` (hex), under the server's
 * pepper when ApiAuthSecretPepper is set. NULL on failure. */
APR_DECLARE_OPTIONAL_FN(const char *, apiauth_secret_digest,
                        (request_rec *r, const char *secret));

/* ApiAuthFailureLimit: seconds until this client address may try again
 * (answer 429 with Retry-After), 0 when it may now; and counting one more
 * refused attempt of it. */
APR_DECLARE_OPTIONAL_FN(int, apiauth_failure_blocked, (request_rec *r));
APR_DECLARE_OPTIONAL_FN(void, apiauth_failure_note, (request_rec *r));

/* The server's ApiAuthSecretPepper (NULL when none), so that digests made
 * by another module match those in the store. */
APR_DECLARE_OPTIONAL_FN(const apiauth_pepper_t *, apiauth_server_pepper,
                        (server_rec *s));

/* Does `r` satisfy ApiAuthRequireTLS of its location (TLS, or TLS at a
 * trusted proxy, or not required)?  Handlers refuse with 403 when not. */
APR_DECLARE_OPTIONAL_FN(int, apiauth_tls_satisfied, (request_rec *r));

#endif
