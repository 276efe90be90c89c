/*
 * oauth.h: the OAuth 2.0 authorization server, without httpd.
 *
 * The protocol decisions of RFC 6749, 6750, 7636, 7009, 7662 and 9700 live
 * here, over the SQL store (lib/store/store.h) and the JOSE code
 * (lib/jose/jose.h); mod_apiauth_oauth only reads requests and writes
 * what these functions decide.  That is why the grant logic is unit-tested against a real
 * SQLite file without a server (tests/unit/test_oauth_*.c).
 *
 *   client.c      clients: lookup, authentication (RFC 6749 §2.3)
 *   grants.c      the token endpoint's grants
 *   authorize.c   the authorization endpoint: checks, codes, consent
 *                 forms, redirects
 *   access.c      access tokens: minting, checking, introspection,
 *                 revocation
 *   login.c       logins within an app, sessions and install tokens
 *                 (login.h)
 */
#ifndef APIAUTH_OAUTH_H
#define APIAUTH_OAUTH_H

#include <apr_tables.h>
#include <jansson.h>

#include "apiauth.h"
#include "digest.h"
#include "effects.h"
#include "jose.h"
#include "store.h"
#include "view.h"

/* A scope the server knows (ApiAuthOAuthScope): which grants may ask for
 * it, and words for the consent page. */
typedef struct apiauth_oauth_scope {
    const char *name;
    unsigned grants;
    const char *description;
} apiauth_oauth_scope_t;

/* What the server is configured with (ApiAuthOAuth*). */
typedef struct apiauth_oauth_config {
    const char *issuer;
    const char *audience;                 /* aud of access tokens */
    const apiauth_jwk_t *signing_key;     /* signs new access tokens */
    const apr_array_header_t *keys;       /* every key that verifies ours */
    const apiauth_pepper_t *pepper;       /* digests of codes and tokens */
    apr_int64_t access_lifetime;          /* seconds */
    apr_int64_t refresh_lifetime;
    apr_int64_t code_lifetime;
    int leeway;                           /* clock skew between our nodes
                                           * (seconds): nbf and iat of our
                                           * tokens; exp is strict */
    const apr_array_header_t *scopes;     /* apiauth_oauth_scope_t */
    int require_pkce_all;                 /* else: public clients only */
    const apr_array_header_t *resources;  /* const char *: the resources
                                             tokens may be asked for (RFC
                                             8707); NULL: none */
} apiauth_oauth_config_t;

/* apiauth_oauth_client_t is the store's record of a client (store.h). */

/* What binds the tokens of a request to its sender: the thumbprint of the
 * key of a verified DPoP proof (RFC 9449, cnf.jkt), of the TLS client
 * certificate (RFC 8705, cnf.x5t#S256).  NULL (or NULL members): a bearer
 * token. */
typedef struct apiauth_oauth_binding {
    const char *jkt;
    const char *x5t;
} apiauth_oauth_binding_t;

/* ---- clients (client.c) ------------------------------------- */

/* The client with this id: APIAUTH_OK, APIAUTH_NOT_MINE, APIAUTH_ERROR. */
apiauth_status_t apiauth_oauth_client_find(apr_pool_t *p, apiauth_db_t *db,
                                           const char *id,
                                           apiauth_oauth_client_t *client);

/* How the client authenticated, for the answer to a failure: RFC 6749
 * §5.2 wants 401 with a Basic challenge when Basic was tried. */
typedef enum {
    APIAUTH_CLIENT_AUTH_NONE = 0,         /* public client: client_id only */
    APIAUTH_CLIENT_AUTH_BASIC,            /* client_secret_basic */
    APIAUTH_CLIENT_AUTH_POST,             /* client_secret_post */
    APIAUTH_CLIENT_AUTH_TLS,              /* tls_client_auth,
                                             self_signed_tls_client_auth */
    APIAUTH_CLIENT_AUTH_JWT               /* private_key_jwt (RFC 7523) */
} apiauth_client_auth_t;


/* Client authentication at the token, introspection and revocation
 * endpoints.  `authorization` is the Authorization header (or NULL);
 * `params` the body.  One method per request (two is invalid_request);
 * with Basic, id and secret are form-urldecoded first (RFC 6749 §2.3.1).
 * `public_allowed`: a public client may identify itself by client_id
 * alone (token endpoint), elsewhere it may not.
 *   APIAUTH_OK       *client is the authenticated client
 *   APIAUTH_DENIED   invalid_client (answer 401; a refused attempt in *fx)
 *   APIAUTH_INVALID  invalid_request (answer 400)
 *   APIAUTH_ERROR    the store failed (answer 503) */
apiauth_status_t apiauth_oauth_client_authenticate(
    apr_pool_t *p, const apiauth_oauth_config_t *cfg, apiauth_db_t *db,
    const char *authorization, apr_table_t *params,
    const apiauth_tls_client_t *tls, int public_allowed,
    apiauth_oauth_client_t *client, apiauth_client_auth_t *method,
    apiauth_effects_t *fx, apiauth_error_t *err);

/* May `client` ask for every scope of `wanted` with `grant`?  Each must
 * be registered for that grant and allowed to the client. */
int apiauth_oauth_scope_allowed(const apiauth_oauth_config_t *cfg,
                                const apiauth_oauth_client_t *client,
                                unsigned grant, const char *wanted);

/* Every scope `client` may have with `grant` (the default request). */
const char *apiauth_oauth_scope_default(apr_pool_t *p,
                                        const apiauth_oauth_config_t *cfg,
                                        const apiauth_oauth_client_t *client,
                                        unsigned grant);

/* RFC 7591's client_name, shown to people: 1 to 100 characters of UTF-8,
 * no control character, none of the marks that reorder text. */
int apiauth_oauth_client_name_valid(const char *s);

/* May `uri` be registered as a redirect URI?  https, or http on a
 * loopback address (RFC 8252 §7.3); for a `native` app also a private
 * scheme named after a domain (RFC 8252 §7.1: com.example.app:/cb).
 * Never a fragment. */
int apiauth_oauth_redirect_uri_registrable(apr_pool_t *p, const char *uri,
                                           int native);

/* The resource a request names (RFC 8707 `resource`), checked against
 * the server's and the client's: APIAUTH_OK with *resource (NULL when
 * none was named); APIAUTH_INVALID with invalid_target for one not known
 * here, not the client's, or more than one. */
apiauth_status_t apiauth_oauth_resource_asked(const apiauth_oauth_config_t *cfg,
                                              const apiauth_oauth_client_t *client,
                                              apr_table_t *params,
                                              const char **resource,
                                              apiauth_error_t *err);

/* ---- dynamic client registration (register.c) -------------------- */

/* Registers the client whose metadata (RFC 7591 §2) is the JSON `body`,
 * in `app`: `trusted` when the request carried the initial access token,
 * which alone lets a confidential client (a secret) be made.  APIAUTH_OK
 * with the §3.2.1 response (the secret in it, once); APIAUTH_INVALID with
 * invalid_redirect_uri or invalid_client_metadata (answer 400);
 * APIAUTH_ERROR when the store fails. */
apiauth_status_t apiauth_oauth_register(apr_pool_t *p,
                                        const apiauth_oauth_config_t *cfg,
                                        apiauth_db_t *db, const char *body,
                                        apr_size_t len, const char *app,
                                        int trusted, apr_int64_t now,
                                        json_t **response,
                                        apiauth_error_t *err);

/* A client named by the URL of its metadata document (OAuth Client ID
 * Metadata Documents): the document fetched from `url` (its JSON in
 * body[0..len)) must name `url` as its client_id, and is read as an open
 * registration's metadata -- a public client, whose redirect URIs are
 * https, loopback http or a native app's own scheme.  APIAUTH_OK with
 * *client (id and name the URL, in `app`); APIAUTH_INVALID,
 * invalid_client, saying why. */
apiauth_status_t apiauth_oauth_client_document(
    apr_pool_t *p, const apiauth_oauth_config_t *cfg, const char *url,
    const char *body, apr_size_t len, const char *app,
    apiauth_oauth_client_t *client, apiauth_error_t *err);

/* ---- the token endpoint (grants.c) ------------------------------- */

/* Runs the grant of `params` (grant_type ...) for an authenticated client
 * and builds the RFC 6749 §5.1 response.  Errors are RFC 6749 §5.2 codes
 * in err->error with APIAUTH_INVALID (400), APIAUTH_ERROR (503:
 * temporarily_unavailable). */
apiauth_status_t apiauth_oauth_token(apr_pool_t *p,
                                     const apiauth_oauth_config_t *cfg,
                                     apiauth_db_t *db,
                                     const apiauth_oauth_client_t *client,
                                     apr_table_t *params,
                                     const apiauth_oauth_binding_t *bind,
                                     apr_int64_t now, json_t **response,
                                     apiauth_effects_t *fx,
                                     apiauth_error_t *err);

/* ---- the authorization endpoint (authorize.c) ---------------- */

typedef struct apiauth_oauth_authz {
    /* as requested */
    const char *response_type, *client_id, *redirect_uri, *scope, *state;
    const char *code_challenge, *code_challenge_method;
    const char *resource;        /* RFC 8707: the tokens' aud; NULL: ours */
    /* as decided by apiauth_oauth_authorize_check */
    apiauth_oauth_client_t client;
    const char *redirect_to;     /* where the answer goes */
    const char *granted_scope;
} apiauth_oauth_authz_t;

/* Checks an authorization request (RFC 6749 §4.1.1, RFC 7636, RFC 9700).
 *   APIAUTH_OK       fine: ask for consent, or issue a code
 *   APIAUTH_INVALID  refused; *redirectable says whether the error may go
 *                    back to authz->redirect_to (it may not while the
 *                    client or its redirect URI is unknown: error page)
 *   APIAUTH_ERROR    the store failed */
apiauth_status_t apiauth_oauth_authorize_check(
    apr_pool_t *p, const apiauth_oauth_config_t *cfg, apiauth_db_t *db,
    apr_table_t *params, apiauth_oauth_authz_t *authz, int *redirectable,
    apiauth_error_t *err);

/* The user consented: records the grant and returns a new code.  With
 * `nonce` (a consent form's), the form is spent in the same transaction:
 * APIAUTH_DENIED (access_denied) when it was answered already. */
apiauth_status_t apiauth_oauth_authorize_issue(
    apr_pool_t *p, const apiauth_oauth_config_t *cfg, apiauth_db_t *db,
    const apiauth_oauth_authz_t *authz, const char *user, const char *nonce,
    apr_int64_t now, const char **code, apiauth_error_t *err);

/* The redirect back to the client: `base` with the pairs of `params`
 * (NULL-terminated name, value list; NULL values skipped) added to its
 * query, values percent-encoded.  The caller puts iss among them: every
 * answer carries it, error or not (RFC 9207). */
char *apiauth_oauth_redirect(apr_pool_t *p, const char *base,
                             const char *const *params);

/* Is `uri` one of the space-separated `registered` ones?  Exact string
 * match, except that a loopback http URI may use any port (RFC 8252 §7.3);
 * a fragment is never allowed. */
int apiauth_oauth_redirect_allowed(const char *registered, const char *uri);

/* A consent form's token (its CSRF defence): "when.nonce.mac", the MAC
 * under `key` (a server secret) over the user and the whole checked
 * authorization request (client, redirect URI as sent, granted scope,
 * state, PKCE challenge and method), the nonce and the time.  A form
 * answers the request it was made for and no other: another loopback
 * port, state or challenge is another request.  NULL without a user. */
char *apiauth_oauth_consent_token(apr_pool_t *p, const apiauth_pepper_t *key,
                                  const char *user,
                                  const apiauth_oauth_authz_t *authz,
                                  apr_int64_t now);

/* Valid for 10 minutes (and a minute early, for clock skew): 1, and
 * *nonce is the form's, which apiauth_oauth_consent_spend makes single
 * use; else 0. */
int apiauth_oauth_consent_token_valid(apr_pool_t *p,
                                      const apiauth_pepper_t *key,
                                      const char *token, const char *user,
                                      const apiauth_oauth_authz_t *authz,
                                      apr_int64_t now, const char **nonce);

/* Records that the form of `nonce` was answered: APIAUTH_OK the first
 * time (of two concurrent posts, one), APIAUTH_DENIED after, or
 * APIAUTH_ERROR. */
apiauth_status_t apiauth_oauth_consent_spend(apr_pool_t *p,
                                             const apiauth_oauth_config_t *cfg,
                                             apiauth_db_t *db,
                                             const char *nonce,
                                             apr_int64_t now);

/* ---- access tokens (access.c) ------------------------------------- */

/* A new access token (RFC 9068 JWT) for `client`; `user` NULL for the
 * client itself, `grant_id` NULL outside a grant family, `resource` its
 * aud (RFC 8707; NULL: the server's audience), `bind` (may be NULL) the
 * cnf claim of a sender-constrained token. */
char *apiauth_oauth_access_token(apr_pool_t *p,
                                 const apiauth_oauth_config_t *cfg,
                                 const apiauth_oauth_client_t *client,
                                 const char *user, const char *scope,
                                 const char *grant_id, const char *resource,
                                 const apiauth_oauth_binding_t *bind,
                                 apr_int64_t now);

/* Checks one of our access tokens: signature and claims (expired at exp
 * by `now`, without leeway), then (with a db) revocation: deny-listed
 * jti, revoked grant, deleted client.  Fills the
 * identity a resource location sees (kind oauth) and, when `claims` is not
 * NULL, the token's claims. */
struct apiauth_jwt_claims;
apiauth_status_t apiauth_oauth_access_token_check(
    apr_pool_t *p, const apiauth_oauth_config_t *cfg, apiauth_db_t *db,
    const char *token, apr_int64_t now, apiauth_identity_t *id,
    struct apiauth_jwt_claims *claims, apiauth_error_t *err);

/* Introspection (RFC 7662) by `caller`: {"active": false} for anything
 * unknown, expired, revoked or not the caller's (unless it is a resource
 * server). */
apiauth_status_t apiauth_oauth_introspect(apr_pool_t *p,
                                          const apiauth_oauth_config_t *cfg,
                                          apiauth_db_t *db,
                                          const apiauth_oauth_client_t *caller,
                                          const char *token, apr_int64_t now,
                                          json_t **response,
                                          apiauth_error_t *err);

/* Revocation (RFC 7009) by `caller` of its own token: a refresh token
 * revokes its grant family, an access token is deny-listed until it
 * expires.  Unknown tokens and other clients' tokens change nothing (and
 * still answer 200).  *fx gets what caches must stop believing: the
 * family, or the access token (by jti, which covers every encoding of
 * it, and as presented). */
apiauth_status_t apiauth_oauth_revoke(apr_pool_t *p,
                                      const apiauth_oauth_config_t *cfg,
                                      apiauth_db_t *db,
                                      const apiauth_oauth_client_t *caller,
                                      const char *token, apr_int64_t now,
                                      apiauth_effects_t *fx,
                                      apiauth_error_t *err);

/* Revokes a grant family: the grant and with it every refresh and access
 * token issued from it (RFC 9700 §4.14.2); *fx gets the revocation, for
 * caches to honour once the transaction has committed. */
apiauth_status_t apiauth_oauth_family_revoke(apr_pool_t *p,
                                             const apiauth_oauth_config_t *cfg,
                                             apiauth_db_t *db,
                                             const char *grant_id,
                                             apr_int64_t now,
                                             apiauth_effects_t *fx);

#endif
