/*
 * mod_apiauth.h: what mod_apiauth offers other httpd modules.
 *
 * 1. A provider group of its own ("apiauth", version "1"): a module that
 *    registers an apiauth_provider_t there under a name can be listed in
 *    ApiAuthProvider.  mod_apiauth_oauth registers "oauth" this way.
 * 2. Two optional functions (APR_RETRIEVE_OPTIONAL_FN): who a request
 *    mod_apiauth authenticated is, for any module that serves it; and
 *    the services of a module that mints and revokes credentials beside
 *    mod_apiauth (docs/design.md says why each is there).
 *
 * Installed with the module (make install) for third-party providers.
 */
#ifndef MOD_APIAUTH_H
#define MOD_APIAUTH_H

#include <apr_global_mutex.h>
#include <apr_optional.h>
#include <httpd.h>

#include "apiauth.h"
#include "digest.h"
#include "effects.h"

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

/* What mod_apiauth does for a module that serves and mints credentials
 * beside it (mod_apiauth_oauth), in one table: the location's TLS rule
 * and failure limit, and carrying out what that module's decisions did
 * (effects.h) -- cached answers forgotten, revocations marked for every
 * node that shares the cache, refused attempts counted. */
typedef struct apiauth_services {
    /* Does `r` satisfy ApiAuthRequireTLS of its location (TLS, or TLS at
     * a trusted proxy, or not required)?  Handlers refuse with 403. */
    int (*tls_satisfied)(request_rec *r);
    /* ApiAuthFailureLimit: seconds until this client address may try
     * again (answer 429 with Retry-After), 0 when it may now. */
    int (*retry_after)(request_rec *r);
    /* Carries out `fx`, in order, once the transaction that decided them
     * has committed. */
    void (*apply)(request_rec *r, const apiauth_effects_t *fx);
    /* The server's ApiAuthSecretPepper (NULL when none), so that digests
     * made by another module match those in the store. */
    const apiauth_pepper_t *(*pepper)(server_rec *s);
    /* The lock SQLite writers of this server queue on (NULL: none). */
    apr_global_mutex_t *(*sqlite_writer)(void);
    /* Remembers a DPoP proof, in the cache every node sharing it reads:
     * 1 the first time, 0 seen before, -1 cannot say. */
    int (*dpop_seen)(request_rec *r, const unsigned char *key,
                     apr_size_t len, apr_int64_t until);
    /* Did the client reach us over TLS, here or at an ApiAuthTrustedProxy
     * (X-Forwarded-Proto: https)?  A DPoP proof's htu is https then. */
    int (*over_tls)(request_rec *r);
    /* The client certificate an ApiAuthTrustedProxy passed on in the
     * ApiAuthClientCertHeader (PEM or base64 DER), or NULL. */
    const char *(*proxied_cert)(request_rec *r);
    /* A fact every node sharing the cache may know until `until` (Unix
     * seconds), authenticated like the cache's entries: remembered, then
     * known (1) until then; 0 when it is not, or cannot be said. */
    void (*remember)(request_rec *r, const char *name, apr_int64_t until);
    int (*known)(request_rec *r, const char *name);
    /* The host[:port] an ApiAuthTrustedProxy was asked for (the last of
     * X-Forwarded-Host), or NULL: a DPoP proof's htu names it. */
    const char *(*forwarded_host)(request_rec *r);
} apiauth_services_t;

APR_DECLARE_OPTIONAL_FN(const apiauth_services_t *, apiauth_services,
                        (void));

/* The issuer of the authorization server mod_apiauth_oauth runs on `s`
 * (ApiAuthOAuthIssuer), NULL where it runs none: the authorization server
 * of an ApiAuthResource that names no other. */
APR_DECLARE_OPTIONAL_FN(const char *, apiauth_oauth_issuer, (server_rec *s));

#endif
