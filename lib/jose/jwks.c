/*
 * jwks.c: JWK Sets (RFC 7517 §5) read into verification keys: RSA
 * (RFC 7518 §6.3), EC P-256 (§6.2) and Ed25519 (RFC 8037) public members
 * turned into OpenSSL keys, then described like any other key by jwk.c.
 * Members for other uses or algorithms are passed over; a malformed one
 * refuses the whole set.
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "digest.h"
#include "encoding.h"
#include "jose.h"

#define P256_LEN 32
#define ED25519_LEN 32

/* A base64url member of a JWK, decoded; NULL when absent or malformed. */
static unsigned char *jwk_bytes(apr_pool_t *p, json_t *jwk, const char *name,
                                apr_size_t *len)
{
    const char *s = json_string_value(json_object_get(jwk, name));
    unsigned char *out;

    if (s == NULL || apiauth_b64url_decode(p, s, strlen(s), &out, len)
                     != APIAUTH_OK || *len == 0) {
        return NULL;
    }
    return out;
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;

    if (params) {
        ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    }
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        pkey = NULL;
    }
    OSSL_PARAM_free(params);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static EVP_PKEY *rsa_from_jwk(apr_pool_t *p, json_t *jwk)
{
    apr_size_t nlen, elen;
    unsigned char *n = jwk_bytes(p, jwk, "n", &nlen);
    unsigned char *e = jwk_bytes(p, jwk, "e", &elen);
    BIGNUM *bn_n = n ? BN_bin2bn(n, (int)nlen, NULL) : NULL;
    BIGNUM *bn_e = e ? BN_bin2bn(e, (int)elen, NULL) : NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;

    if (bn_n && bn_e && bld
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n)
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e)) {
        pkey = pkey_from_params("RSA", bld);
    }
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

static EVP_PKEY *ec_from_jwk(apr_pool_t *p, json_t *jwk)
{
    apr_size_t xlen, ylen;
    unsigned char *x = jwk_bytes(p, jwk, "x", &xlen);
    unsigned char *y = jwk_bytes(p, jwk, "y", &ylen);
    unsigned char point[1 + 2 * P256_LEN];
    OSSL_PARAM_BLD *bld;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *check;

    if (x == NULL || y == NULL || xlen != P256_LEN || ylen != P256_LEN) {
        return NULL;
    }
    point[0] = POINT_CONVERSION_UNCOMPRESSED;
    memcpy(point + 1, x, P256_LEN);
    memcpy(point + 1 + P256_LEN, y, P256_LEN);
    bld = OSSL_PARAM_BLD_new();
    if (bld
        && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                           "prime256v1", 0)
        && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                            point, sizeof(point))) {
        pkey = pkey_from_params("EC", bld);
    }
    OSSL_PARAM_BLD_free(bld);
    /* A point that is not on P-256 is refused here, once, rather than
     * left to fail every verification. */
    check = pkey ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;
    if (pkey && (check == NULL || EVP_PKEY_public_check(check) != 1)) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(check);
    return pkey;
}

static EVP_PKEY *okp_from_jwk(apr_pool_t *p, json_t *jwk)
{
    apr_size_t xlen;
    unsigned char *x = jwk_bytes(p, jwk, "x", &xlen);

    if (x == NULL || xlen != ED25519_LEN) {
        return NULL;
    }
    return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xlen);
}

/* The algorithm a JWK's type means to us; NONE for a type we do not use. */
static apiauth_alg_t jwk_type_alg(json_t *jwk)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *crv = json_string_value(json_object_get(jwk, "crv"));

    if (kty == NULL) {
        return APIAUTH_ALG_NONE;
    }
    if (strcmp(kty, "RSA") == 0) {
        return APIAUTH_ALG_RS256;
    }
    if (strcmp(kty, "EC") == 0 && crv && strcmp(crv, "P-256") == 0) {
        return APIAUTH_ALG_ES256;
    }
    if (strcmp(kty, "OKP") == 0 && crv && strcmp(crv, "Ed25519") == 0) {
        return APIAUTH_ALG_EDDSA;
    }
    return APIAUTH_ALG_NONE;
}

/* One member of "keys"; NULL when added or skipped, else why refused. */
static const char *jwk_import(apr_pool_t *p, json_t *jwk,
                              apr_array_header_t *keys)
{
    json_t *use = json_object_get(jwk, "use");
    json_t *alg = json_object_get(jwk, "alg");
    json_t *kid = json_object_get(jwk, "kid");
    apiauth_alg_t type_alg = jwk_type_alg(jwk), named;
    apiauth_jwk_t *key;
    EVP_PKEY *pkey;
    const char *why;

    if (!json_is_object(jwk) || !json_is_string(json_object_get(jwk, "kty"))
        || (use && !json_is_string(use)) || (alg && !json_is_string(alg))
        || (kid && !json_is_string(kid))) {
        return "not a JWK";
    }
    if (use && strcmp(json_string_value(use), "sig") != 0) {
        return NULL;
    }
    if (alg) {
        named = apiauth_alg_from_name(json_string_value(alg));
        if (named == APIAUTH_ALG_PS256) {
            return NULL;           /* a key of a set is RS256 or unused */
        }
        if (named != APIAUTH_ALG_NONE && named != type_alg) {
            return "its \"alg\" does not fit its key type";
        }
        if (named == APIAUTH_ALG_NONE) {
            return NULL;
        }
    }
    switch (type_alg) {
    case APIAUTH_ALG_RS256: pkey = rsa_from_jwk(p, jwk); break;
    case APIAUTH_ALG_ES256: pkey = ec_from_jwk(p, jwk);  break;
    case APIAUTH_ALG_EDDSA: pkey = okp_from_jwk(p, jwk); break;
    default:                return NULL;
    }
    if (pkey == NULL) {
        ERR_clear_error();
        return "malformed public key members";
    }
    why = apiauth_jwk_adopt(p, pkey, 0, kid ? json_string_value(kid) : NULL,
                            &key);
    if (why == NULL) {
        APR_ARRAY_PUSH(keys, apiauth_jwk_t *) = key;
    }
    return why;
}

apiauth_status_t apiauth_jwks_parse(apr_pool_t *p, const char *json,
                                    apr_size_t len, apr_array_header_t **keys,
                                    const char **errmsg)
{
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *list = json_object_get(doc, "keys"), *jwk;
    const char *why = NULL;
    size_t i;
    int before;

    if (doc == NULL) {
        *errmsg = apr_psprintf(p, "not JSON: %s (line %d)", jerr.text,
                               jerr.line);
        return APIAUTH_ERROR;
    }
    if (*keys == NULL) {
        *keys = apr_array_make(p, 4, sizeof(apiauth_jwk_t *));
    }
    before = (*keys)->nelts;
    if (!json_is_array(list)) {
        *errmsg = "not a JWK set: no \"keys\" array";
        json_decref(doc);
        return APIAUTH_ERROR;
    }
    json_array_foreach(list, i, jwk) {
        why = jwk_import(p, jwk, *keys);
        if (why) {
            *errmsg = apr_psprintf(p, "key %" APR_SIZE_T_FMT ": %s", i, why);
            break;
        }
    }
    json_decref(doc);
    if (why == NULL && (*keys)->nelts == before) {
        *errmsg = "no RS256, ES256 or EdDSA signing key in the JWK set";
        return APIAUTH_ERROR;
    }
    return why ? APIAUTH_ERROR : APIAUTH_OK;
}

/* Why a JWK offered as someone's public key is not one; NULL if it is. */
static const char *not_public(json_t *jwk)
{
    static const char *const private_members[] = {"d", "p", "q", "dp", "dq",
                                                  "qi", "oth", "k"};
    size_t i;

    if (!json_is_object(jwk)) {
        return "not a JWK";
    }
    for (i = 0; i < sizeof(private_members) / sizeof(private_members[0]);
         i++) {
        if (json_object_get(jwk, private_members[i])) {
            return "the JWK holds a private or symmetric key";
        }
    }
    return NULL;
}

/* A member that is base64url text and nothing else, or NULL. */
static const char *b64url_member(json_t *jwk, const char *name)
{
    const char *s = json_string_value(json_object_get(jwk, name)), *c;

    if (s == NULL || *s == '\0') {
        return NULL;
    }
    for (c = s; *c; c++) {
        if (!apr_isalnum(*c) && *c != '-' && *c != '_') {
            return NULL;
        }
    }
    return s;
}

const char *apiauth_jwk_json_thumbprint(apr_pool_t *p, json_t *jwk,
                                        const char **errmsg)
{
    unsigned char d[APIAUTH_DIGEST_LEN];
    const char *a, *b, *json;

    if ((*errmsg = not_public(jwk)) != NULL) {
        return NULL;
    }
    /* RFC 7638 §3.2 (RFC 8037 §2 for OKP), as apiauth_jwk_thumbprint */
    switch (jwk_type_alg(jwk)) {
    case APIAUTH_ALG_RS256:
        a = b64url_member(jwk, "e");
        b = b64url_member(jwk, "n");
        json = a && b ? apr_pstrcat(p, "{\"e\":\"", a, "\",\"kty\":\"RSA\","
                                    "\"n\":\"", b, "\"}", NULL)
                      : NULL;
        break;
    case APIAUTH_ALG_ES256:
        a = b64url_member(jwk, "x");
        b = b64url_member(jwk, "y");
        json = a && b ? apr_pstrcat(p, "{\"crv\":\"P-256\",\"kty\":\"EC\","
                                    "\"x\":\"", a, "\",\"y\":\"", b, "\"}",
                                    NULL)
                      : NULL;
        break;
    case APIAUTH_ALG_EDDSA:
        a = b64url_member(jwk, "x");
        json = a ? apr_pstrcat(p, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\","
                               "\"x\":\"", a, "\"}", NULL)
                 : NULL;
        break;
    default:
        *errmsg = "not an RS256, ES256 or EdDSA signing key";
        return NULL;
    }
    if (json == NULL) {
        *errmsg = "malformed public key members";
        return NULL;
    }
    if (apiauth_sha256(json, strlen(json), d) != 0) {
        *errmsg = "cannot compute the key's thumbprint";
        return NULL;
    }
    return apiauth_b64url_encode(p, d, sizeof(d));
}

apiauth_status_t apiauth_jwk_from_json(apr_pool_t *p, json_t *jwk,
                                       apiauth_jwk_t **key,
                                       const char **errmsg)
{
    apr_array_header_t *one = apr_array_make(p, 1, sizeof(apiauth_jwk_t *));
    const char *why;

    if ((why = not_public(jwk)) != NULL) {
        *errmsg = why;
        return APIAUTH_DENIED;
    }
    why = jwk_import(p, jwk, one);
    if (why || one->nelts != 1) {
        *errmsg = why ? why : "not an RS256, ES256 or EdDSA signing key";
        return APIAUTH_DENIED;
    }
    *key = APR_ARRAY_IDX(one, 0, apiauth_jwk_t *);
    return APIAUTH_OK;
}
