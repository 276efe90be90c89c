/*
 * digest.h: how a secret is turned into what the store holds.
 *
 * A secret (key, token, session, code, refresh token, client secret) is
 * never stored: the store holds SHA-256(secret), or HMAC-SHA-256 under a
 * server-side pepper when one is configured, and finds credentials by that
 * digest.  User passwords are not secrets of this kind: they go through
 * apr_password_validate.
 */
#ifndef APIAUTH_DIGEST_H
#define APIAUTH_DIGEST_H

#include <apr_pools.h>

#include "apiauth.h"

#define APIAUTH_DIGEST_LEN 32
#define APIAUTH_DIGEST_HEX_LEN (2 * APIAUTH_DIGEST_LEN)

/* Fetches the SHA-256 implementation once; call before threads start.
 * It is released when `p` is destroyed (NULL: never).  httpd passes
 * pconf: a restart clears it and then unloads the module, whose static
 * pointer would otherwise be the last reference to what was fetched. */
int apiauth_digest_init(apr_pool_t *p);

/* The SHA-256 that apiauth_digest_init fetched (OpenSSL's built-in one
 * before it ran), for code that hashes through EVP itself (jose.c). */
const struct evp_md_st *apiauth_sha256_md(void);

/* An HMAC key read from a file; opaque. */
typedef struct apiauth_pepper apiauth_pepper_t;

/* Reads the pepper file: its bytes less trailing white space, at least 32.
 * The key material lives in OpenSSL's memory and is cleansed when `p` is
 * destroyed.  On failure *errmsg says why (never the content). */
apiauth_status_t apiauth_pepper_load(apr_pool_t *p, const char *path,
                                     apiauth_pepper_t **pepper,
                                     const char **errmsg);

/* A key for another use of the server secret: HMAC(from, "\0apiauth
 * key\0" label), so that every node holding the same pepper derives the
 * same one, and no digest of a presented secret is ever one of them; with
 * `from` NULL, a random key, for a use no other node needs to agree on.
 * Lives (and is cleansed) with `p`. */
apiauth_status_t apiauth_pepper_derive(apr_pool_t *p,
                                       const apiauth_pepper_t *from,
                                       const char *label,
                                       apiauth_pepper_t **out);

/* HMAC-SHA-256 under `key` over the concatenation of `n` buffers; 0, or
 * -1 (no key, or OpenSSL failed). */
int apiauth_hmac(const apiauth_pepper_t *key, const void *const *data,
                 const apr_size_t *lens, int n,
                 unsigned char out[APIAUTH_DIGEST_LEN]);

/* The digest of a secret: SHA-256, or HMAC-SHA-256 when `pepper` is set.
 * Returns 0 on success (OpenSSL failures are reported, never ignored). */
int apiauth_digest(const apiauth_pepper_t *pepper, const void *secret,
                   apr_size_t len, unsigned char out[APIAUTH_DIGEST_LEN]);

/* The digest of several parts (at most 8, each under 64 KiB), each framed
 * by its length in two bytes so that ("ab","c") and ("a","bc") differ:
 * the key of a cached credential. */
int apiauth_digest_parts(const apiauth_pepper_t *pepper,
                         const char *const *parts, int nparts,
                         unsigned char out[APIAUTH_DIGEST_LEN]);

/* The framing of apiauth_digest_parts written into `buf`: its length, or 0
 * when the parts do not fit in `cap` bytes (or are not 1 to 8 parts of
 * under 64 KiB each).  apiauth_digest() of the result is the same digest. */
apr_size_t apiauth_digest_frame(const char *const *parts, int nparts,
                                unsigned char *buf, apr_size_t cap);

/* The digest as lower-case hex, as the SQL store holds it; NULL on error. */
char *apiauth_digest_hex(apr_pool_t *p, const apiauth_pepper_t *pepper,
                         const char *secret);

/* Plain SHA-256, for protocol uses (PKCE, JWK thumbprints, checksums). */
int apiauth_sha256(const void *data, apr_size_t len,
                   unsigned char out[APIAUTH_DIGEST_LEN]);

/* Constant-time comparison of two equal-length buffers: 1 if equal. */
int apiauth_ct_equal(const void *a, const void *b, apr_size_t len);

/* Constant-time comparison of two strings.  Only the lengths may leak. */
int apiauth_ct_streq(const char *a, const char *b);

#endif
