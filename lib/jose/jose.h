/*
 * jose.h: JSON Web Keys (jwk.c) and compact JSON Web Signatures (jose.c),
 * RFC 7515, 7517, 7518, 7638, 8037, for the three algorithms apiauth
 * signs and accepts.
 *
 * The algorithm of a key follows from its type alone: RSA of 2048 bits or
 * more is RS256, EC P-256 is ES256, Ed25519 is EdDSA.  A token's "alg"
 * only has to agree with the key it selects; it never chooses how it is
 * verified (RFC 8725 §3.1).  JWT claims are jwt.h's business.
 */
#ifndef APIAUTH_JOSE_H
#define APIAUTH_JOSE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>
#include <openssl/types.h>

#include "apiauth.h"

/* The length of an RFC 7638 thumbprint: SHA-256 in base64url. */
#define APIAUTH_JKT_LEN 43

/* The longest compact JWS apiauth_jws_verify reads. */
#define APIAUTH_JWS_MAX_LEN 16384

typedef enum {
    APIAUTH_ALG_NONE = 0,
    APIAUTH_ALG_RS256,
    APIAUTH_ALG_ES256,
    APIAUTH_ALG_EDDSA,
    APIAUTH_ALG_PS256          /* RSASSA-PSS: never a key's own alg (an RSA
                                  key is RS256); a DPoP proof may ask for it
                                  (apiauth_jwk_share) */
} apiauth_alg_t;

/* Opaque: an EVP_PKEY, its alg and its kid.  Freed with the pool it was
 * loaded into. */
typedef struct apiauth_jwk apiauth_jwk_t;

/* "RS256", "ES256", "EdDSA", "PS256" ("none" for APIAUTH_ALG_NONE). */
const char *apiauth_alg_name(apiauth_alg_t alg);
/* The reverse, case-sensitive; APIAUTH_ALG_NONE for any other name. */
apiauth_alg_t apiauth_alg_from_name(const char *name);
apiauth_alg_t apiauth_jwk_alg(const apiauth_jwk_t *key);
const char *apiauth_jwk_kid(const apiauth_jwk_t *key);
int apiauth_jwk_is_private(const apiauth_jwk_t *key);
/* The key itself, still owned by its pool. */
EVP_PKEY *apiauth_jwk_pkey(const apiauth_jwk_t *key);

/* Wraps `pkey` (owned from now on, freed with `p` whatever happens) as a
 * key: its alg from its type, kid = `kid` or else the RFC 7638
 * thumbprint.  NULL when it is usable, else why not (*out is then NULL).
 * For the loaders in jwk.c and jwks.c. */
const char *apiauth_jwk_adopt(apr_pool_t *p, EVP_PKEY *pkey, int is_private,
                              const char *kid, apiauth_jwk_t **out);

/* A PEM private key file, unencrypted: RSA >= 2048 bits -> RS256, EC P-256
 * -> ES256, Ed25519 -> EdDSA; anything else is refused with *errmsg saying
 * why.  kid = the RFC 7638 thumbprint of the public key. */
apiauth_status_t apiauth_jwk_load_private(apr_pool_t *p, const char *path,
                                          apiauth_jwk_t **key,
                                          const char **errmsg);

/* Public keys from a file: PEM (every PUBLIC KEY, CERTIFICATE, or private
 * key block, of which only the public half is kept) or a JWKS document
 * {"keys":[...]}.  Appends apiauth_jwk_t* to *keys (created if NULL).
 * PEM keys of another type or size are refused.  In a JWKS, keys whose
 * "use" is not "sig", and keys of types or algorithms not listed above,
 * are skipped; a "kid" is kept when present, else the thumbprint is used;
 * an "alg" of ours that does not fit the key type is refused, as is a
 * document with no usable key. */
apiauth_status_t apiauth_jwk_load_public(apr_pool_t *p, const char *path,
                                         apr_array_header_t **keys,
                                         const char **errmsg);

/* Same as a JWKS file, from JSON text in memory. */
apiauth_status_t apiauth_jwks_parse(apr_pool_t *p, const char *json,
                                    apr_size_t len, apr_array_header_t **keys,
                                    const char **errmsg);

/* One public JWK (a JSON object) as a key, as a JWKS member is read:
 * APIAUTH_DENIED with *errmsg for a key holding private or symmetric
 * members, one of another type, or a malformed one. */
apiauth_status_t apiauth_jwk_from_json(apr_pool_t *p, json_t *jwk,
                                       apiauth_jwk_t **key,
                                       const char **errmsg);

/* The public JWK as a new JSON object: RSA {kty,n,e,kid,alg,use}, EC
 * {kty,crv,x,y,kid,alg,use}, OKP {kty,crv,x,kid,alg,use}, use = "sig".
 * The caller owns the reference (json_decref). */
json_t *apiauth_jwk_public_json(const apiauth_jwk_t *key);

/* The RFC 7638 thumbprint of the public key, base64url (SHA-256); NULL
 * for a key made by apiauth_jwk_share. */
const char *apiauth_jwk_thumbprint(apr_pool_t *p, const apiauth_jwk_t *key);

/* The RFC 7638 thumbprint of a public JWK (a JSON object) from its
 * members as they are written, without making a key of it: NULL with
 * *errmsg when it is no object, holds private or symmetric members, is of
 * a type we do not use, or a required member is missing or not
 * base64url.  Equal thumbprints mean equal member strings, so equal keys;
 * a key written other than in RFC 7518's canonical form gets a thumbprint
 * its imported key does not have (see apiauth_jwk_thumbprint). */
const char *apiauth_jwk_json_thumbprint(apr_pool_t *p, json_t *jwk,
                                        const char **errmsg);

/* Another handle on a key already checked and described elsewhere (a
 * cache's): `pkey` gains a reference that `p` drops.  It verifies, but
 * has no public members: export and thumbprint are not for it. */
apiauth_jwk_t *apiauth_jwk_share(apr_pool_t *p, EVP_PKEY *pkey,
                                 apiauth_alg_t alg, const char *kid);

/* RFC 8705 §3.1 x5t#S256: the base64url SHA-256 of a certificate's DER.
 * `text` is PEM (its line breaks may be spaces, as httpd's mod_headers
 * passes SSL_CLIENT_CERT on) or the bare base64 of the DER (HAProxy's
 * ssl_c_der,base64); NULL when it does not hold one DER structure shaped
 * like a certificate.  The certificate is not parsed (that costs OpenSSL
 * 3 more than a request): whoever needs it checked parses it first. */
char *apiauth_cert_thumbprint(apr_pool_t *p, const char *text);

/* JWS compact serialisation of `payload` (a JSON object) with header
 * {"alg","kid","typ"} ("typ" left out when NULL).  NULL when the key is
 * not private or OpenSSL fails. */
char *apiauth_jws_sign(apr_pool_t *p, const apiauth_jwk_t *key,
                       const char *typ, json_t *payload);

/* Verifies a compact JWS against `keys` (apiauth_jwk_t*): three non-empty
 * base64url segments, at most APIAUTH_JWS_MAX_LEN bytes, header and
 * payload JSON objects without duplicate members, no "crit"; the key is
 * the one whose kid equals the header's "kid", or without a kid the only
 * key of the token's alg; the token's "alg" must equal that key's.
 * On success *header and *payload belong to `p` (do not json_decref).
 * A refusal is APIAUTH_DENIED, "invalid_token", with a description that
 * never quotes the token; APIAUTH_ERROR when OpenSSL itself fails. */
apiauth_status_t apiauth_jws_verify(apr_pool_t *p, const char *token,
                                    const apr_array_header_t *keys,
                                    json_t **header, json_t **payload,
                                    apiauth_error_t *err);

/* A compact JWS taken apart, its signature not yet checked: the header is
 * parsed (a JSON object without duplicate members and without "crit", of
 * an alg we take), the payload and signature only decoded. */
typedef struct apiauth_jws {
    const char *token;
    apr_size_t signed_len;     /* of "header.payload" at the token's start */
    json_t *header;            /* belongs to the pool */
    apiauth_alg_t alg;
    const char *kid;           /* the header's, or NULL */
    unsigned char *body, *sig;
    apr_size_t body_len, sig_len;
} apiauth_jws_t;

/* The first half of apiauth_jws_verify, for a caller that finds the key
 * itself (a DPoP proof carries its own): refusals as there. */
apiauth_status_t apiauth_jws_open(apr_pool_t *p, const char *token,
                                  apiauth_jws_t *jws, apiauth_error_t *err);

/* The second half: the signature by `key` alone, whatever kid the header
 * names, and the token's alg equal to the key's; then the payload. */
apiauth_status_t apiauth_jws_check(apr_pool_t *p, const apiauth_jws_t *jws,
                                   const apiauth_jwk_t *key, json_t **payload,
                                   apiauth_error_t *err);

#endif
