/*
 * jwk.c: JSON Web Keys (RFC 7517, 7518 §6, 7638, 8037): loading them from
 * PEM and JWKS, exporting the public half, thumbprints (see jose.h).
 *
 * Every key is described once, when it is loaded: its algorithm from its
 * type, its public members as RFC 7518 §6 spells them, and its thumbprint.
 * Export, thumbprints and key selection then need no OpenSSL call.  Signing
 * and verifying are jose.c's; fetching a JWKS over the network is not
 * done here at all.
 */
#include <string.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "digest.h"
#include "encoding.h"
#include "jose.h"

#define P256_LEN 32
#define ED25519_LEN 32
#define RSA_MIN_BITS 2048          /* RFC 7518 §3.3 */
#define KEY_FILE_MAX (1024 * 1024)

struct apiauth_jwk {
    EVP_PKEY *pkey;
    apiauth_alg_t alg;
    int is_private;
    const char *kid;
    const char *n, *e, *x, *y;     /* public members, base64url */
};

apiauth_alg_t apiauth_jwk_alg(const apiauth_jwk_t *key)
{
    return key->alg;
}

const char *apiauth_jwk_kid(const apiauth_jwk_t *key)
{
    return key->kid;
}

int apiauth_jwk_is_private(const apiauth_jwk_t *key)
{
    return key->is_private;
}

EVP_PKEY *apiauth_jwk_pkey(const apiauth_jwk_t *key)
{
    return key->pkey;
}

static apr_status_t jwk_cleanup(void *data)
{
    apiauth_jwk_t *key = data;

    EVP_PKEY_free(key->pkey);
    key->pkey = NULL;
    return APR_SUCCESS;
}

/* A big-endian integer parameter, base64url; `width` > 0 pads to that
 * many bytes (EC coordinates are always full length, RFC 7518 §6.2.1.2),
 * 0 keeps it minimal (RSA n and e, §6.3.1.1). */
static const char *bn_param_b64(apr_pool_t *p, const EVP_PKEY *pkey,
                                const char *name, int width)
{
    BIGNUM *bn = NULL;
    const char *out = NULL;
    int len;

    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) {
        return NULL;
    }
    len = width ? width : BN_num_bytes(bn);
    if (len > 0 && BN_num_bytes(bn) <= len) {
        unsigned char *buf = apr_palloc(p, len);
        if (BN_bn2binpad(bn, buf, len) == len) {
            out = apiauth_b64url_encode(p, buf, len);
        }
    }
    BN_free(bn);
    return out;
}

/* With e = 1 a "signature" is the padded digest itself, which anyone can
 * write; an even e is no RSA key at all.  A key set is trusted, but not
 * trusted to be sane. */
static int rsa_exponent_usable(const EVP_PKEY *pk)
{
    BIGNUM *e = NULL;
    int ok;

    ok = EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e) == 1
         && BN_is_odd(e) && !BN_is_one(e);
    BN_free(e);
    return ok;
}

/* Decides the key's algorithm and reads its public members; NULL when it
 * is usable, else why not. */
static const char *jwk_describe(apr_pool_t *p, apiauth_jwk_t *key)
{
    EVP_PKEY *pk = key->pkey;

    if (EVP_PKEY_is_a(pk, "RSA")) {
        if (EVP_PKEY_get_bits(pk) < RSA_MIN_BITS) {
            return "an RSA key must have at least 2048 bits";
        }
        if (!rsa_exponent_usable(pk)) {
            return "an RSA key's public exponent must be odd and at least 3";
        }
        key->alg = APIAUTH_ALG_RS256;
        key->n = bn_param_b64(p, pk, OSSL_PKEY_PARAM_RSA_N, 0);
        key->e = bn_param_b64(p, pk, OSSL_PKEY_PARAM_RSA_E, 0);
        if (key->n == NULL || key->e == NULL) {
            return "OpenSSL cannot read the RSA public key";
        }
    }
    else if (EVP_PKEY_is_a(pk, "EC")) {
        char group[80];

        if (EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL) != 1
            || OBJ_txt2nid(group) != NID_X9_62_prime256v1) {
            return "an EC key must be on curve P-256";
        }
        key->alg = APIAUTH_ALG_ES256;
        key->x = bn_param_b64(p, pk, OSSL_PKEY_PARAM_EC_PUB_X, P256_LEN);
        key->y = bn_param_b64(p, pk, OSSL_PKEY_PARAM_EC_PUB_Y, P256_LEN);
        if (key->x == NULL || key->y == NULL) {
            return "OpenSSL cannot read the EC public key";
        }
    }
    else if (EVP_PKEY_is_a(pk, "ED25519")) {
        unsigned char raw[ED25519_LEN];
        size_t len = sizeof(raw);

        if (EVP_PKEY_get_raw_public_key(pk, raw, &len) != 1
            || len != sizeof(raw)) {
            return "OpenSSL cannot read the Ed25519 public key";
        }
        key->alg = APIAUTH_ALG_EDDSA;
        key->x = apiauth_b64url_encode(p, raw, len);
    }
    else {
        return "the key is not RSA, EC P-256 or Ed25519";
    }
    key->kid = apiauth_jwk_thumbprint(p, key);
    return key->kid ? NULL : "cannot compute the key's thumbprint";
}

/* Takes ownership of `pkey` (freed with `p` whatever happens). */
static const char *jwk_new(apr_pool_t *p, EVP_PKEY *pkey, int is_private,
                           apiauth_jwk_t **out)
{
    apiauth_jwk_t *key;
    const char *why;

    if (pkey == NULL) {
        return "OpenSSL cannot build the key";
    }
    key = apr_pcalloc(p, sizeof(*key));
    key->pkey = pkey;
    key->is_private = is_private;
    apr_pool_cleanup_register(p, key, jwk_cleanup, apr_pool_cleanup_null);
    why = jwk_describe(p, key);
    if (why) {
        ERR_clear_error();
    }
    *out = why ? NULL : key;
    return why;
}

const char *apiauth_jwk_thumbprint(apr_pool_t *p, const apiauth_jwk_t *key)
{
    unsigned char d[APIAUTH_DIGEST_LEN];
    const char *json;

    /* RFC 7638 §3.2: the required members only, in lexicographic order,
     * no white space; RFC 8037 §2 names OKP's. */
    switch (key->alg) {
    case APIAUTH_ALG_RS256:
        json = apr_psprintf(p, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}",
                            key->e, key->n);
        break;
    case APIAUTH_ALG_ES256:
        json = apr_psprintf(p, "{\"crv\":\"P-256\",\"kty\":\"EC\","
                            "\"x\":\"%s\",\"y\":\"%s\"}", key->x, key->y);
        break;
    case APIAUTH_ALG_EDDSA:
        json = apr_psprintf(p, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\","
                            "\"x\":\"%s\"}", key->x);
        break;
    default:
        return NULL;
    }
    if (apiauth_sha256(json, strlen(json), d) != 0) {
        return NULL;
    }
    return apiauth_b64url_encode(p, d, sizeof(d));
}

json_t *apiauth_jwk_public_json(const apiauth_jwk_t *key)
{
    const char *alg = apiauth_alg_name(key->alg);

    switch (key->alg) {
    case APIAUTH_ALG_RS256:
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "RSA",
                         "n", key->n, "e", key->e, "kid", key->kid,
                         "alg", alg, "use", "sig");
    case APIAUTH_ALG_ES256:
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "EC",
                         "crv", "P-256", "x", key->x, "y", key->y,
                         "kid", key->kid, "alg", alg, "use", "sig");
    case APIAUTH_ALG_EDDSA:
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "OKP",
                         "crv", "Ed25519", "x", key->x, "kid", key->kid,
                         "alg", alg, "use", "sig");
    default:
        return NULL;
    }
}

/* ---- loading ---------------------------------------------------------- */

/* An encrypted key must fail to load rather than prompt on a terminal
 * httpd does not have. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

/* The whole file in pool memory; the caller cleanses it when done. */
static char *read_key_file(apr_pool_t *p, const char *path, apr_size_t *len,
                           const char **errmsg)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    char *buf;

    rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        *errmsg = apr_psprintf(p, "cannot open %s: %pm", path, &rv);
        return NULL;
    }
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    if (rv != APR_SUCCESS || fi.size <= 0 || fi.size > KEY_FILE_MAX) {
        apr_file_close(f);
        *errmsg = apr_psprintf(p, "%s: empty, unreadable or larger than "
                               "1 MiB", path);
        return NULL;
    }
    buf = apr_palloc(p, (apr_size_t)fi.size + 1);
    rv = apr_file_read_full(f, buf, (apr_size_t)fi.size, len);
    apr_file_close(f);
    if (rv != APR_SUCCESS) {
        OPENSSL_cleanse(buf, (apr_size_t)fi.size);
        *errmsg = apr_psprintf(p, "cannot read %s: %pm", path, &rv);
        return NULL;
    }
    buf[*len] = '\0';
    return buf;
}

apiauth_status_t apiauth_jwk_load_private(apr_pool_t *p, const char *path,
                                          apiauth_jwk_t **key,
                                          const char **errmsg)
{
    apr_size_t len;
    char *buf = read_key_file(p, path, &len, errmsg);
    EVP_PKEY *pkey = NULL;
    const char *why;
    BIO *bio;

    if (buf == NULL) {
        return APIAUTH_ERROR;
    }
    bio = BIO_new_mem_buf(buf, (int)len);
    if (bio) {
        pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    }
    BIO_free(bio);
    OPENSSL_cleanse(buf, len);
    if (pkey == NULL) {
        ERR_clear_error();
        *errmsg = apr_psprintf(p, "%s holds no unencrypted PEM private key",
                               path);
        return APIAUTH_ERROR;
    }
    why = jwk_new(p, pkey, 1, key);
    if (why) {
        *errmsg = apr_psprintf(p, "%s: %s", path, why);
        return APIAUTH_ERROR;
    }
    return APIAUTH_OK;
}

/* Only the public half is kept, so that a verifier never holds a key that
 * could sign. */
static EVP_PKEY *public_half(EVP_PKEY *priv)
{
    unsigned char *spki = NULL;
    const unsigned char *q;
    EVP_PKEY *pub = NULL;
    int n = priv ? i2d_PUBKEY(priv, &spki) : 0;

    if (n > 0) {
        q = spki;
        pub = d2i_PUBKEY(NULL, &q, n);
    }
    OPENSSL_free(spki);
    EVP_PKEY_free(priv);
    return pub;
}

/* One PEM block as a public key; *skip for blocks that hold none (EC
 * PARAMETERS and the like). */
static EVP_PKEY *pem_block_key(const char *name, const unsigned char *der,
                               long len, int *skip)
{
    const unsigned char *q = der;
    apr_size_t nlen = strlen(name);

    *skip = 0;
    if (strcmp(name, "PUBLIC KEY") == 0) {
        return d2i_PUBKEY(NULL, &q, len);
    }
    if (strcmp(name, "CERTIFICATE") == 0) {
        X509 *cert = d2i_X509(NULL, &q, len);
        EVP_PKEY *pkey = cert ? X509_get_pubkey(cert) : NULL;

        X509_free(cert);
        return pkey;
    }
    if (nlen >= 11 && strcmp(name + nlen - 11, "PRIVATE KEY") == 0) {
        return public_half(d2i_AutoPrivateKey(NULL, &q, len));
    }
    *skip = 1;
    return NULL;
}

static apiauth_status_t pem_public_keys(apr_pool_t *p, const char *path,
                                        char *buf, apr_size_t len,
                                        apr_array_header_t *keys,
                                        const char **errmsg)
{
    BIO *bio = BIO_new_mem_buf(buf, (int)len);
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long derlen = 0;
    int blocks = 0, skip;
    const char *why = NULL;

    while (why == NULL && bio
           && PEM_read_bio(bio, &name, &header, &der, &derlen) == 1) {
        apiauth_jwk_t *key;
        EVP_PKEY *pkey = pem_block_key(name, der, derlen, &skip);

        if (!skip) {
            why = pkey ? jwk_new(p, pkey, 0, &key)
                       : apr_psprintf(p, "cannot read its %s block (an "
                                      "encrypted key?)", name);
            if (why == NULL) {
                APR_ARRAY_PUSH(keys, apiauth_jwk_t *) = key;
                blocks++;
            }
        }
        OPENSSL_clear_free(der, derlen);
        OPENSSL_free(name);
        OPENSSL_free(header);
    }
    BIO_free(bio);
    ERR_clear_error();
    if (why == NULL && blocks == 0) {
        why = "no public key, certificate or private key in PEM form";
    }
    if (why) {
        *errmsg = apr_psprintf(p, "%s: %s", path, why);
        return APIAUTH_ERROR;
    }
    return APIAUTH_OK;
}

apiauth_status_t apiauth_jwk_load_public(apr_pool_t *p, const char *path,
                                         apr_array_header_t **keys,
                                         const char **errmsg)
{
    apr_size_t len, i = 0;
    char *buf = read_key_file(p, path, &len, errmsg);
    apiauth_status_t st;

    if (buf == NULL) {
        return APIAUTH_ERROR;
    }
    if (*keys == NULL) {
        *keys = apr_array_make(p, 4, sizeof(apiauth_jwk_t *));
    }
    while (i < len && apr_isspace(buf[i])) {
        i++;
    }
    if (i < len && buf[i] == '{') {
        st = apiauth_jwks_parse(p, buf, len, keys, errmsg);
        if (st != APIAUTH_OK) {
            *errmsg = apr_psprintf(p, "%s: %s", path, *errmsg);
        }
    }
    else {
        st = pem_public_keys(p, path, buf, len, *keys, errmsg);
    }
    OPENSSL_cleanse(buf, len);
    return st;
}

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
    why = jwk_new(p, pkey, 0, &key);
    if (why == NULL) {
        if (kid) {
            key->kid = apr_pstrdup(p, json_string_value(kid));
        }
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
