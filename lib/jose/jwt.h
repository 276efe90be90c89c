/*
 * jwt.h: JWT access tokens (RFC 9068) checked as RFC 8725 asks, on top of
 * jose.h's signatures.
 */
#ifndef APIAUTH_JWT_H
#define APIAUTH_JWT_H

#include "jose.h"

/* What the verifier requires of a token. */
typedef struct apiauth_jwt_expect {
    const char *issuer;    /* iss must equal this (required) */
    const char *audience;  /* aud (a string, or an array of strings) must
                            * hold this (required) */
    const char *typ;       /* header typ, case-insensitive, "application/"
                            * optional ("at+jwt", RFC 9068 §4); NULL = any */
    apr_int64_t now;       /* Unix seconds */
    int leeway;            /* seconds allowed for clock skew */
    const apr_array_header_t *resources;  /* const char *: other auds
                            * taken instead of `audience` (RFC 8707
                            * resources); NULL: none */
} apiauth_jwt_expect_t;

/* What a verified token says; every pointer belongs to the pool. */
typedef struct apiauth_jwt_claims {
    const char *iss, *sub, *client_id, *scope, *jti;
    const char *aud;            /* which expected audience it holds */
    const char *kid;            /* the header's kid, NULL when absent */
    apr_int64_t exp, iat, nbf;  /* nbf 0 when absent (exp and iat are
                                 * required) */
    json_t *payload;            /* all claims (do not json_decref) */
} apiauth_jwt_claims_t;

/* Has `token` the shape of a JWS (three parts)?  Says nothing more: an
 * opaque key never has two dots. */
int apiauth_jwt_shaped(const char *token);

/* apiauth_jws_verify, then RFC 9068 §4 and RFC 8725: typ, iss, aud,
 * exp > now - leeway and iat <= now + leeway are required (RFC 9068 §2.2);
 * nbf, when present, must be <= now + leeway; sub, client_id and jti are required non-empty
 * strings; scope is an optional string (absent reads as "").  Dates must
 * be JSON integers.  A refusal is APIAUTH_DENIED, "invalid_token", with a
 * description naming the check; APIAUTH_ERROR when OpenSSL fails or
 * `expect` lacks an issuer or audience. */
apiauth_status_t apiauth_jwt_verify(apr_pool_t *p, const char *token,
                                    const apr_array_header_t *keys,
                                    const apiauth_jwt_expect_t *expect,
                                    apiauth_jwt_claims_t *claims,
                                    apiauth_error_t *err);

/* The identity a verified access token names: kind oauth, its jti as the
 * credential, its client, its app (`app`, else the client), its user (sub,
 * unless sub is the client itself: a client_credentials token), its scope
 * and exp, and the issuer and audience it was checked against.  Every
 * other member is cleared. */
void apiauth_jwt_identity(const apiauth_jwt_claims_t *claims, const char *app,
                          const char *issuer, const char *audience,
                          apiauth_identity_t *id);

/* The iss claim, verifying nothing: only to route a token to the provider
 * that owns its issuer.  NULL when the token is not a readable JWS. */
const char *apiauth_jwt_peek_issuer(apr_pool_t *p, const char *token);

#endif
