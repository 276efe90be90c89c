/*
 * pkce.h: Proof Key for Code Exchange (RFC 7636), S256 only.
 *
 * `plain` is not offered (RFC 9700 §2.1.1): a challenge that equals its
 * verifier protects nothing once the authorization request leaks.
 */
#ifndef APIAUTH_PKCE_H
#define APIAUTH_PKCE_H

#include <apr_pools.h>

/* code_verifier = 43*128 unreserved characters (RFC 7636 §4.1). */
int apiauth_pkce_verifier_valid(const char *verifier);

/* An S256 challenge: base64url of a SHA-256, 43 characters (§4.2). */
int apiauth_pkce_challenge_valid(const char *challenge);

/* Does BASE64URL(SHA256(verifier)) equal the challenge?  Compared in
 * constant time; 0 for a malformed verifier. */
int apiauth_pkce_matches(apr_pool_t *p, const char *verifier,
                         const char *challenge);

#endif
