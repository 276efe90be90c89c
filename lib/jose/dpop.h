/*
 * dpop.h: DPoP (RFC 9449), a token bound to a key its client holds.
 *
 * With each request the client sends a proof: a JWS of type dpop+jwt,
 * signed by its key (public half in the header), naming the method and
 * URL of this request, when it was made, a unique id, and at a resource
 * the hash of the token it goes with.  A token issued against a proof
 * carries the key's thumbprint (cnf.jkt); it is honoured only with a proof
 * by that key.  What is remembered between requests (that a jti was
 * seen) is the glue's business; what a proof says is decided here.
 */
#ifndef APIAUTH_DPOP_H
#define APIAUTH_DPOP_H

#include "digest.h"
#include "jose.h"

/* Proof keys seen lately, by thumbprint.  A client signs all its proofs
 * with one key, and making an OpenSSL key of its JWK (with the check that
 * the point is on the curve) costs more than verifying the signature; a
 * key found here is reused, whatever else its JWK holds being refused as
 * before.  Shared by the threads of a process. */
typedef struct apiauth_dpop_keys apiauth_dpop_keys_t;

/* A cache of `slots` keys (at least 1) living as long as `p`. */
apiauth_dpop_keys_t *apiauth_dpop_keys_create(apr_pool_t *p, int slots);

/* What a proof must match. */
typedef struct apiauth_dpop_expect {
    const char *method;        /* htm: this request's method */
    const char *url;           /* htu: the URL the client addressed;
                                  compared in RFC 3986 normal form, without
                                  query and fragment */
    const char *access_token;  /* at a resource, the token the proof goes
                                  with (ath); NULL at the token endpoint */
    const apiauth_pepper_t *nonce_key;  /* the proof must carry a fresh
                                  nonce of ours (apiauth_dpop_nonce) made
                                  under this key; NULL: none asked for */
    apr_int64_t now;
    int window;                /* iat no further than this from now */
    apiauth_dpop_keys_t *keys; /* where proof keys are kept; NULL: none */
} apiauth_dpop_expect_t;

/* What a good proof says. */
typedef struct apiauth_dpop_proof {
    const char *jkt;           /* RFC 7638 thumbprint of its key */
    const char *jti;
    apr_int64_t iat;
} apiauth_dpop_proof_t;

/* The DPoP algorithms we take (metadata dpop_signing_alg_values_supported):
 * asymmetric only. */
#define APIAUTH_DPOP_ALGS "ES256", "EdDSA", "Ed25519", "RS256", "PS256"
#define APIAUTH_DPOP_ALGS_TEXT "ES256 EdDSA Ed25519 RS256 PS256"

/* Checks a proof (RFC 9449 §4.3): one compact JWS of at most 8 KiB, typ
 * dpop+jwt, an asymmetric alg, a public jwk in its header (no private
 * members) that verifies it, and claims jti, htm, htu, iat (and ath,
 * nonce) as `e` expects.  APIAUTH_OK with *out; APIAUTH_DENIED with
 * "invalid_dpop_proof" and why (or "use_dpop_nonce" when a nonce was
 * asked for and this one is not it); APIAUTH_ERROR when OpenSSL fails. */
apiauth_status_t apiauth_dpop_verify(apr_pool_t *p, const char *proof,
                                     const apiauth_dpop_expect_t *e,
                                     apiauth_dpop_proof_t *out,
                                     apiauth_error_t *err);

/* The base64url SHA-256 of a token: a proof's ath. */
char *apiauth_dpop_ath(apr_pool_t *p, const char *access_token);

/* Server nonces (§8), stateless: a time slot and its MAC under `key`, so
 * that every node holding the same key takes every node's nonce.  A nonce
 * is good in its slot of APIAUTH_DPOP_NONCE_SLOT seconds and the next. */
#define APIAUTH_DPOP_NONCE_SLOT 120
char *apiauth_dpop_nonce(apr_pool_t *p, const apiauth_pepper_t *key,
                         apr_int64_t now);
int apiauth_dpop_nonce_fresh(apr_pool_t *p, const apiauth_pepper_t *key,
                             const char *nonce, apr_int64_t now);

#endif
