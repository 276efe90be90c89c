/*
 * resolve.h: who a presented credential belongs to, and whether a
 * location takes it -- the decisions of AuthType apiauth, without httpd.
 *
 * Two steps, as in docs/design.md: resolution maps the credential to an identity
 * by asking the stores (apiauth_lookup_t: the provider chain, which the
 * glue walks); its answer depends only on the credential and the stores,
 * so the glue may cache it.  Admission then applies one location's rules
 * to every answer, cached or fresh.  The Basic rules of the APIs we serve
 * are here, once:
 *   1. BACKEND_TOKEN:USER_ID      a backend acts as a user of its app
 *   2. APP_TOKEN:SESSION_TOKEN    Tapglue: a user's session within an app
 *   3. app_<id>:API_KEY           Twake: an app names itself and its key
 *   4. KEY:                       Stripe: a key as the user, no password
 * and Contextual's install tokens, bound to the install they were issued
 * for.  Unit-tested in tests/unit/test_resolve.c.
 */
#ifndef APIAUTH_RESOLVE_H
#define APIAUTH_RESOLVE_H

#include "apiauth.h"
#include "credential.h"

/* What resolution asks of the stores; each answers APIAUTH_OK,
 * APIAUTH_NOT_MINE (no store knows it), APIAUTH_DENIED or APIAUTH_ERROR
 * with *err set. */
typedef struct apiauth_lookup {
    void *baton;
    /* The credential whose secret is `secret`, as the first store that
     * knows it holds it (expiry and revocation are checked here), with
     * identity.provider naming that store. */
    apiauth_status_t (*find_secret)(void *baton, const char *secret,
                                    apiauth_credential_row_t *row,
                                    apiauth_error_t *err);
    /* A user: *app is the app it belongs to, NULL for none. */
    apiauth_status_t (*find_user)(void *baton, const char *user,
                                  const char **app, apiauth_error_t *err);
    /* A self-contained token (JWT), verified wholly by the store that
     * takes it. */
    apiauth_status_t (*verify_token)(void *baton, const char *token,
                                     apiauth_identity_t *id,
                                     apiauth_error_t *err);
} apiauth_lookup_t;

/* Resolution of `cred` at `now`:
 *   APIAUTH_OK       *id is who it is
 *   APIAUTH_DENIED   unknown, revoked, expired, or against a Basic rule
 *                    (id->credential_id names the credential when one
 *                    was found)
 *   APIAUTH_INVALID  malformed past what the parser could see
 *   APIAUTH_ERROR    a store failed */
apiauth_status_t apiauth_resolve_credential(const apiauth_lookup_t *lk,
                                            const apiauth_credential_t *cred,
                                            apr_int64_t now,
                                            apiauth_identity_t *id,
                                            apiauth_error_t *err);

/* Tapglue: may `session` go with `app_token`?  A session of that app. */
int apiauth_session_of_app(const apiauth_identity_t *app_token,
                           const apiauth_identity_t *session);

/* One location's rules. */
typedef struct apiauth_admission {
    unsigned accepted;        /* ApiAuthScheme, APIAUTH_SCHEME_* bits */
    int app_token_allowed;    /* Require apiauth-kind app_token is here */
    int allow_backend;        /* ApiAuthAllowBackend on */
    int jwt_leeway;           /* seconds a JWT of the jwt provider holds
                                 past its exp (clock skew) */
    const char *resource;     /* ApiAuthResource: tokens must be for it
                                 (their aud); NULL: tokens for a resource
                                 of their own are refused */
} apiauth_admission_t;

/* Does the location take `id`, resolved from `cred`, at `now`?
 * APIAUTH_OK or APIAUTH_DENIED with the reason.  A DPoP-bound token is
 * taken only as DPoP (whose proof the caller checks), a bearer one only
 * as Bearer.  An access token is taken where its audience is the
 * location's resource (RFC 8707); where the location names none, only if
 * it is no resource's.  (Keys have no audience: the app they belong to
 * decides.) */
apiauth_status_t apiauth_admit(const apiauth_admission_t *rules,
                               const apiauth_credential_t *cred,
                               const apiauth_identity_t *id, apr_int64_t now,
                               apiauth_error_t *err);

/* What a location expects of JWTs (the jwt provider's ApiAuthJWT*). */
typedef struct apiauth_jwt_rules {
    const char *issuer, *audience;
    const apr_array_header_t *keys;   /* const apiauth_jwk_t * */
    int local;                        /* the issuer is ours: it may name our
                                         apps and clients */
} apiauth_jwt_rules_t;

/* May a cached answer of the jwt provider (apiauth_identity_from_jwt)
 * stand here?  Resolution depends on the stores alone, but a JWT that
 * provider accepted was checked against the issuer, audience and keys of
 * the location that cached it, which another location may set
 * otherwise.  (Answers of other providers always stand.) */
int apiauth_cached_still_holds(const apiauth_jwt_rules_t *jwt,
                               const apiauth_identity_t *id);

/* Is `name` one of ours -- an app's public id (app_...) or a client's
 * (cli_...)?  A token of another issuer may not take such a name.
 * (Inline, as the next one: both are asked on every cached request.) */
static inline int apiauth_name_is_ours(const char *s)
{
    return s && ((s[0] == 'a' && s[1] == 'p' && s[2] == 'p' && s[3] == '_')
                 || (s[0] == 'c' && s[1] == 'l' && s[2] == 'i'
                     && s[3] == '_'));
}

/* Was `id` found by the jwt provider? */
static inline int apiauth_identity_from_jwt(const apiauth_identity_t *id)
{
    const char *p = id->provider;

    return p && p[0] == 'j' && p[1] == 'w' && p[2] == 't' && p[3] == '\0';
}

#endif
