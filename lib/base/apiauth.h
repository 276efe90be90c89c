/*
 * apiauth.h: the vocabulary shared by every part of apiauth.
 *
 * The result codes, the error a refusal carries, the credential kinds and
 * the identity a credential resolves to.  Both httpd modules, apiauth-admin
 * and the unit tests speak in these types.  Nothing here knows about httpd:
 * this header and lib/ depend on APR, APR-util, OpenSSL and jansson only.
 */
#ifndef APIAUTH_H
#define APIAUTH_H

#include <apr_pools.h>
#include <apr_tables.h>

/* What an operation concluded.  The glue maps these to HTTP answers:
 * DENIED is 401/403, INVALID is 400, ERROR is 503 (fail closed). */
typedef enum {
    APIAUTH_OK = 0,        /* found and valid / done */
    APIAUTH_NOT_MINE,      /* unknown to this provider: ask the next one */
    APIAUTH_DENIED,        /* known, but wrong secret, expired or revoked */
    APIAUTH_INVALID,       /* the request itself is malformed */
    APIAUTH_ERROR          /* the store (or OpenSSL) could not answer */
} apiauth_status_t;

/* Why a request was refused.  `error` is an RFC 6749/6750 style code;
 * `description` is for humans.  Neither ever contains a secret. */
typedef struct apiauth_error {
    const char *error;
    const char *description;
} apiauth_error_t;

/* Fill `err` (when not NULL) and return `status`: lets a refusal be one
 * statement.  `description` must be a literal or pool memory. */
apiauth_status_t apiauth_fail(apiauth_error_t *err, apiauth_status_t status,
                              const char *error, const char *description);

/* What a credential is.  The names (apiauth_kind_name) are what
 * APIAUTH_KIND says, what the store holds and what Require apiauth-kind
 * takes. */
typedef enum {
    APIAUTH_KIND_NONE = 0,
    APIAUTH_KIND_API_KEY,    /* a key of an app (X-API-Key, Token, Basic) */
    APIAUTH_KIND_TOKEN,      /* a key bound to one user of one app */
    APIAUTH_KIND_APP_TOKEN,  /* Tapglue app token: names the app */
    APIAUTH_KIND_SESSION,    /* Tapglue session token, from apiauth-login */
    APIAUTH_KIND_BACKEND,    /* Tapglue backend token: acts as a user */
    APIAUTH_KIND_INSTALL,    /* Contextual install token, for one install */
    APIAUTH_KIND_OAUTH,      /* an OAuth 2.0 access token */
    APIAUTH_KIND_COUNT
} apiauth_kind_t;

const char *apiauth_kind_name(apiauth_kind_t kind);
/* APIAUTH_KIND_NONE when `name` is not a kind. */
apiauth_kind_t apiauth_kind_from_name(const char *name);

/* Who a request is, once a credential has been accepted.  Every field is
 * safe to log and to hand to the application: no secret is ever here. */
typedef struct apiauth_identity {
    apiauth_kind_t kind;
    const char *credential_id;  /* the credential's id (or a JWT's jti) */
    const char *app;            /* the app's public id (app_...) */
    const char *user;           /* the user, NULL when none is involved */
    const char *client_id;      /* OAuth client (cli_...), NULL otherwise */
    const char *scope;          /* space separated, "" when none */
    const char *install_id;     /* install tokens only */
    const char *acting_app;     /* backend tokens: the app acting */
    const char *issuer;         /* JWTs: the iss that was verified */
    const char *audience;       /* JWTs: the aud that was required */
    const char *key_id;         /* JWTs: the kid of the verifying key */
    const char *grant_id;       /* OAuth: the grant family, when any */
    const char *bound_jkt;      /* a sender-constrained token: the RFC 7638
                                   thumbprint of the DPoP key (cnf.jkt) */
    const char *bound_x5t;      /* ... or the SHA-256 thumbprint of the TLS
                                   client certificate (cnf.x5t#S256) */
    const char *resource;       /* a token for one resource (RFC 8707): its
                                   aud, which is not the server's own */
    const char *provider;       /* the provider that decided (dbd, jwt...) */
    apr_int64_t expires;        /* Unix seconds; 0 = does not expire */
    const char *expires_text;   /* the same in decimal when it was read
                                   from a cache entry, else NULL */
} apiauth_identity_t;

/* A credential as a provider found it: who it names, and whether it is
 * still usable (apiauth_credential_row_check decides). */
typedef struct apiauth_credential_row {
    apiauth_identity_t identity;
    apr_int64_t created;
    apr_int64_t revoked;     /* 0 = live, else when it was revoked */
    apr_int64_t last_used;   /* 0 = never */
    const char *digest_hex;  /* the digest it was found by */
} apiauth_credential_row_t;

/* Is the credential usable at `now`?  APIAUTH_OK, or APIAUTH_DENIED with
 * the reason (revoked, expired) in *err. */
apiauth_status_t apiauth_credential_row_check(
    const apiauth_credential_row_t *row, apr_int64_t now,
    apiauth_error_t *err);

/* r->user: the user, else the client, else the app. */
const char *apiauth_identity_subject(const apiauth_identity_t *id);

/* A compact, printable form for the credential cache and back.  The
 * fields are validated on the way in, so a corrupt entry reads as a miss. */
const char *apiauth_identity_serialize(apr_pool_t *p,
                                       const apiauth_identity_t *id);
apiauth_status_t apiauth_identity_parse(apr_pool_t *p, const char *s,
                                        apr_size_t len,
                                        apiauth_identity_t *id);
/* The same, in place: `buf` (len bytes, buf[len] == '\0') is cut into the
 * identity's strings. */
apiauth_status_t apiauth_identity_parse_buf(char *buf, apr_size_t len,
                                            apiauth_identity_t *id);
/* The strings of `id` that lie in [from, from + len) are made to point at
 * the same offsets of `to`, an identical copy (of len + 1 bytes: the last
 * string ends at from[len]). */
void apiauth_identity_move(apiauth_identity_t *id, const char *from,
                           apr_size_t len, const char *to);

/* A non-negative decimal number (digits only, canonical, < 10^18) into
 * *out; 0 on success, -1 otherwise.  For the cache's own fields. */
int apiauth_parse_seconds(const char *s, apr_int64_t *out);

/* Names the store accepts for users, apps, groups and install ids:
 * printable ASCII without separators, 1..128 bytes. */
int apiauth_name_is_valid(const char *s);

/* OAuth 2.0 grant types, as bits: what a client may use. */
#define APIAUTH_GRANT_AUTHORIZATION_CODE 0x1
#define APIAUTH_GRANT_CLIENT_CREDENTIALS 0x2
#define APIAUTH_GRANT_REFRESH_TOKEN      0x4

/* "authorization_code" ... and back (0 if unknown). */
unsigned apiauth_grant_from_name(const char *name);
const char *apiauth_grant_name(unsigned grant);
/* "a b c" -> bits; 0 and *bad set when a name is unknown. */
unsigned apiauth_grants_parse(apr_pool_t *p, const char *list,
                              const char **bad);
/* bits -> "a b c", in the order above ("" for none). */
const char *apiauth_grants_text(apr_pool_t *p, unsigned grants);

#endif /* APIAUTH_H */
