/*
 * jose.c: compact JSON Web Signatures (RFC 7515) with RS256, ES256 and
 * EdDSA (and PS256 for DPoP proofs) over OpenSSL 3's EVP interface (see
 * jose.h).
 *
 * The key decides the algorithm: a token's "alg" only has to agree with
 * the key its "kid" selects, which is what shuts out "none" and HMAC keyed
 * with a public key (RFC 8725 §2.1, §3.1).  Keys themselves are jwk.c's;
 * JWT claims are jwt.c's.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "digest.h"
#include "encoding.h"
#include "jose.h"

#define P256_LEN 32                /* one of R and S, RFC 7518 §3.4 */

/* EdDSA hashes inside the signature (RFC 8037 §3.1): no digest. */
static const EVP_MD *alg_md(apiauth_alg_t alg)
{
    if (alg == APIAUTH_ALG_EDDSA) {
        return NULL;
    }
    return apiauth_sha256_md();
}

const char *apiauth_alg_name(apiauth_alg_t alg)
{
    switch (alg) {
    case APIAUTH_ALG_RS256: return "RS256";
    case APIAUTH_ALG_ES256: return "ES256";
    case APIAUTH_ALG_EDDSA: return "EdDSA";
    case APIAUTH_ALG_PS256: return "PS256";
    default:                return "none";
    }
}

/* Case-sensitive, as RFC 7515 §4.1.1 wants: "rs256" is not RS256. */
apiauth_alg_t apiauth_alg_from_name(const char *name)
{
    if (name == NULL) {
        return APIAUTH_ALG_NONE;
    }
    if (strcmp(name, "RS256") == 0) {
        return APIAUTH_ALG_RS256;
    }
    if (strcmp(name, "ES256") == 0) {
        return APIAUTH_ALG_ES256;
    }
    if (strcmp(name, "PS256") == 0) {
        return APIAUTH_ALG_PS256;
    }
    /* and RFC 9864's fully-specified name for the only EdDSA curve we
     * take (oauth4webapi signs DPoP proofs with it) */
    if (strcmp(name, "EdDSA") == 0 || strcmp(name, "Ed25519") == 0) {
        return APIAUTH_ALG_EDDSA;
    }
    return APIAUTH_ALG_NONE;
}

static apr_status_t json_cleanup(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

/* RFC 7518 §3.4: JOSE carries R and S as two fixed-width big-endian
 * integers, where OpenSSL speaks a DER SEQUENCE. */
static int ecdsa_der_to_raw(const unsigned char *der, size_t len,
                            unsigned char raw[2 * P256_LEN])
{
    const unsigned char *q = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &q, (long)len);
    const BIGNUM *r, *s;
    int ok;

    if (sig == NULL) {
        return -1;
    }
    ECDSA_SIG_get0(sig, &r, &s);
    ok = BN_bn2binpad(r, raw, P256_LEN) == P256_LEN
         && BN_bn2binpad(s, raw + P256_LEN, P256_LEN) == P256_LEN;
    ECDSA_SIG_free(sig);
    return ok ? 0 : -1;
}

static unsigned char *ecdsa_raw_to_der(apr_pool_t *p,
                                       const unsigned char *raw,
                                       size_t *len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, P256_LEN, NULL);
    BIGNUM *s = BN_bin2bn(raw + P256_LEN, P256_LEN, NULL);
    unsigned char *der = NULL, *out = NULL;
    int n;

    if (sig == NULL || r == NULL || s == NULL
        || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return NULL;
    }
    n = i2d_ECDSA_SIG(sig, &der);
    if (n > 0) {
        out = apr_pmemdup(p, der, n);
        *len = (size_t)n;
    }
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    return out;
}

static EVP_MD_CTX *signature_ctx(const apiauth_jwk_t *key, int sign)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const EVP_MD *md = alg_md(apiauth_jwk_alg(key));
    EVP_PKEY *pkey = apiauth_jwk_pkey(key);
    EVP_PKEY_CTX *pctx = NULL;
    int ok;

    if (ctx == NULL) {
        return NULL;
    }
    ok = sign ? EVP_DigestSignInit(ctx, &pctx, md, NULL, pkey)
              : EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pkey);
    /* RFC 7518 §3.5: MGF1 with SHA-256, a salt as long as the hash */
    if (ok == 1 && apiauth_jwk_alg(key) == APIAUTH_ALG_PS256) {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
             && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
                    == 1;
    }
    if (ok != 1) {
        EVP_MD_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static char *json_b64(apr_pool_t *p, const json_t *json)
{
    char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
    char *out = text ? apiauth_b64url_encode(p, text, strlen(text)) : NULL;

    free(text);
    return out;
}

char *apiauth_jws_sign(apr_pool_t *p, const apiauth_jwk_t *key,
                       const char *typ, json_t *payload)
{
    unsigned char raw[2 * P256_LEN], *sig = NULL;
    size_t siglen;
    char *h, *b, *input;
    EVP_MD_CTX *ctx;
    json_t *hdr;

    if (key == NULL || !apiauth_jwk_is_private(key)
        || !json_is_object(payload)) {
        return NULL;
    }
    hdr = json_pack("{s:s, s:s}", "alg",
                    apiauth_alg_name(apiauth_jwk_alg(key)),
                    "kid", apiauth_jwk_kid(key));
    if (hdr && typ && json_object_set_new(hdr, "typ", json_string(typ))) {
        json_decref(hdr);
        hdr = NULL;
    }
    h = json_b64(p, hdr);
    json_decref(hdr);
    b = json_b64(p, payload);
    if (h == NULL || b == NULL) {
        return NULL;
    }
    input = apr_pstrcat(p, h, ".", b, NULL);
    siglen = (size_t)EVP_PKEY_get_size(apiauth_jwk_pkey(key));
    ctx = signature_ctx(key, 1);
    if (ctx && siglen > 0) {
        sig = apr_palloc(p, siglen);
        if (EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)input,
                           strlen(input)) != 1) {
            sig = NULL;
        }
    }
    EVP_MD_CTX_free(ctx);
    if (sig && apiauth_jwk_alg(key) == APIAUTH_ALG_ES256) {
        sig = ecdsa_der_to_raw(sig, siglen, raw) == 0 ? raw : NULL;
        siglen = sizeof(raw);
    }
    if (sig == NULL) {
        ERR_clear_error();
        return NULL;
    }
    return apr_pstrcat(p, input, ".", apiauth_b64url_encode(p, sig, siglen),
                       NULL);
}

static apiauth_status_t refuse(apiauth_error_t *err, const char *why)
{
    return apiauth_fail(err, APIAUTH_DENIED, "invalid_token", why);
}

/* The bytes of a non-empty base64url segment [start, end); 0 if none. */
static int segment_bytes(apr_pool_t *p, const char *start, const char *end,
                         unsigned char **out, apr_size_t *len)
{
    return end > start
           && apiauth_b64url_decode(p, start, end - start, out, len)
              == APIAUTH_OK;
}

/* A segment as a JSON object, released with `p`; NULL if it is not one. */
static json_t *segment_object(apr_pool_t *p, const unsigned char *text,
                              apr_size_t len)
{
    json_t *json = json_loadb((const char *)text, len,
                              JSON_REJECT_DUPLICATES, NULL);

    if (json && !json_is_object(json)) {
        json_decref(json);
        return NULL;
    }
    if (json) {
        apr_pool_cleanup_register(p, json, json_cleanup,
                                  apr_pool_cleanup_null);
    }
    return json;
}

/* By kid when the token names one, else the only key of its alg: a token
 * without a kid is never tried against several keys in turn. */
static const apiauth_jwk_t *select_key(const apr_array_header_t *keys,
                                       apiauth_alg_t alg, const char *kid,
                                       const char **why)
{
    const apiauth_jwk_t *found = NULL;
    int i, kid_seen = 0, candidates = 0;

    for (i = 0; keys && i < keys->nelts; i++) {
        const apiauth_jwk_t *k = APR_ARRAY_IDX(keys, i,
                                               const apiauth_jwk_t *);

        if (kid && (apiauth_jwk_kid(k) == NULL
                    || strcmp(apiauth_jwk_kid(k), kid) != 0)) {
            continue;
        }
        kid_seen = 1;
        if (apiauth_jwk_alg(k) == alg) {
            found = found ? found : k;
            candidates++;
        }
    }
    if (found == NULL) {
        *why = kid == NULL ? "no key for the token's alg"
               : kid_seen  ? "the token's alg does not match its key"
                           : "no key has the token's kid";
    }
    else if (kid == NULL && candidates > 1) {
        *why = "the token has no kid and several keys could verify it";
        found = NULL;
    }
    return found;
}

apiauth_status_t apiauth_jws_open(apr_pool_t *p, const char *token,
                                  apiauth_jws_t *jws, apiauth_error_t *err)
{
    const char *dot1, *dot2;
    unsigned char *h;
    apr_size_t len, hlen;
    json_t *kid;

    len = token ? strnlen(token, APIAUTH_JWS_MAX_LEN + 1) : 0;
    if (len > APIAUTH_JWS_MAX_LEN) {
        return refuse(err, "the token is too long");
    }
    dot1 = token ? memchr(token, '.', len) : NULL;
    dot2 = dot1 ? memchr(dot1 + 1, '.', len - (dot1 + 1 - token)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', len - (dot2 + 1 - token))
        || !segment_bytes(p, token, dot1, &h, &hlen)
        || !segment_bytes(p, dot1 + 1, dot2, &jws->body, &jws->body_len)
        || !segment_bytes(p, dot2 + 1, token + len, &jws->sig,
                          &jws->sig_len)) {
        return refuse(err, "the token is not three base64url segments");
    }
    jws->token = token;
    jws->signed_len = (apr_size_t)(dot2 - token);
    jws->header = segment_object(p, h, hlen);
    if (jws->header == NULL) {
        return refuse(err, "the token header is not a JSON object");
    }
    /* RFC 7515 §4.1.11: we implement no extension, so any is unknown. */
    if (json_object_get(jws->header, "crit")) {
        return refuse(err, "the token has a crit header");
    }
    jws->alg = apiauth_alg_from_name(
        json_string_value(json_object_get(jws->header, "alg")));
    if (jws->alg == APIAUTH_ALG_NONE) {
        return refuse(err, "the token's alg is missing or not accepted");
    }
    kid = json_object_get(jws->header, "kid");
    if (kid && !json_is_string(kid)) {
        return refuse(err, "the token's kid is not a string");
    }
    jws->kid = json_string_value(kid);
    return APIAUTH_OK;
}

apiauth_status_t apiauth_jws_check(apr_pool_t *p, const apiauth_jws_t *jws,
                                   const apiauth_jwk_t *key, json_t **payload,
                                   apiauth_error_t *err)
{
    const unsigned char *sig = jws->sig;
    size_t siglen = jws->sig_len;
    json_t *body;
    EVP_MD_CTX *ctx;
    int rc;

    if (apiauth_jwk_alg(key) != jws->alg) {
        return refuse(err, "the token's alg does not match its key");
    }
    if (jws->alg == APIAUTH_ALG_ES256) {
        if (siglen != 2 * P256_LEN) {
            return refuse(err, "an ES256 signature must be 64 bytes");
        }
        sig = ecdsa_raw_to_der(p, sig, &siglen);
        if (sig == NULL) {
            return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                                "OpenSSL cannot encode the signature");
        }
    }
    ctx = signature_ctx(key, 0);
    if (ctx == NULL) {
        ERR_clear_error();
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "OpenSSL cannot verify signatures");
    }
    rc = EVP_DigestVerify(ctx, sig, siglen,
                          (const unsigned char *)jws->token, jws->signed_len);
    EVP_MD_CTX_free(ctx);
    if (rc != 1) {
        ERR_clear_error();
        return refuse(err, "the token's signature does not verify");
    }
    /* Only the header is parsed before the signature is known good. */
    body = segment_object(p, jws->body, jws->body_len);
    if (body == NULL) {
        return refuse(err, "the token payload is not a JSON object");
    }
    *payload = body;
    return APIAUTH_OK;
}

apiauth_status_t apiauth_jws_verify(apr_pool_t *p, const char *token,
                                    const apr_array_header_t *keys,
                                    json_t **header, json_t **payload,
                                    apiauth_error_t *err)
{
    const apiauth_jwk_t *key;
    const char *why = NULL;
    apiauth_status_t st;
    apiauth_jws_t jws;

    if ((st = apiauth_jws_open(p, token, &jws, err)) != APIAUTH_OK) {
        return st;
    }
    key = select_key(keys, jws.alg, jws.kid, &why);
    if (key == NULL) {
        return refuse(err, why);
    }
    if ((st = apiauth_jws_check(p, &jws, key, payload, err)) != APIAUTH_OK) {
        return st;
    }
    *header = jws.header;
    return APIAUTH_OK;
}
