/*
 * jwk.c: JSON Web Keys (RFC 7517, 7518 §6, 7638, 8037): loading them from
 * PEM, exporting the public half, thumbprints (see jose.h).  JWK Sets are
 * read by jwks.c into keys made here.
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
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "digest.h"
#include "encoding.h"
#include "jose.h"

#define P256_LEN 32
#define ED25519_LEN 32
#define RSA_MIN_BITS 2048          /* RFC 7518 §3.3 */
#define RSA_MAX_BITS 8192          /* a verification costs the cube */
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
 * write; an even e is no RSA key at all; a huge e (OpenSSL takes any
 * below a 3072-bit modulus) makes each verification a full modular
 * exponentiation, milliseconds a request from whoever chooses the key (a
 * DPoP proof's).  A key set is trusted, but not trusted to be sane. */
static int rsa_exponent_usable(const EVP_PKEY *pk)
{
    BIGNUM *e = NULL;
    int ok;

    ok = EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e) == 1
         && BN_is_odd(e) && !BN_is_one(e) && BN_num_bits(e) <= 32;
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
        if (EVP_PKEY_get_bits(pk) > RSA_MAX_BITS) {
            return "an RSA key must have at most 8192 bits";
        }
        if (!rsa_exponent_usable(pk)) {
            return "an RSA key's public exponent must be odd, at least 3 "
                   "and at most 32 bits";
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

const char *apiauth_jwk_adopt(apr_pool_t *p, EVP_PKEY *pkey, int is_private,
                              const char *kid, apiauth_jwk_t **out)
{
    apiauth_jwk_t *key;
    const char *why;

    *out = NULL;
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
        return why;
    }
    if (kid) {
        key->kid = apr_pstrdup(p, kid);
    }
    *out = key;
    return NULL;
}

apiauth_jwk_t *apiauth_jwk_share(apr_pool_t *p, EVP_PKEY *pkey,
                                 apiauth_alg_t alg, const char *kid)
{
    apiauth_jwk_t *key;

    if (EVP_PKEY_up_ref(pkey) != 1) {
        return NULL;
    }
    key = apr_pcalloc(p, sizeof(*key));
    key->pkey = pkey;
    key->alg = alg;
    key->kid = kid;
    apr_pool_cleanup_register(p, key, jwk_cleanup, apr_pool_cleanup_null);
    return key;
}

const char *apiauth_jwk_thumbprint(apr_pool_t *p, const apiauth_jwk_t *key)
{
    unsigned char d[APIAUTH_DIGEST_LEN];
    const char *json;

    if (key->x == NULL && key->n == NULL) {
        return NULL;               /* a shared key: see apiauth_jwk_share */
    }

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
    why = apiauth_jwk_adopt(p, pkey, 1, NULL, key);
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
            why = pkey ? apiauth_jwk_adopt(p, pkey, 0, NULL, &key)
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

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END "-----END CERTIFICATE-----"

/* The base64 of the first certificate in `text` (between PEM's markers,
 * or all of it), without the white space PEM or a proxy put in it. */
static char *cert_base64(apr_pool_t *p, const char *text)
{
    const char *from = strstr(text, PEM_BEGIN), *to;
    char *out, *o;

    /* httpd joins a header sent twice with a comma, which neither PEM nor
     * base64 holds: of two certificates, neither is the client's */
    if (strchr(text, ',') != NULL) {
        return NULL;
    }
    if (from) {
        from += sizeof(PEM_BEGIN) - 1;
        if ((to = strstr(from, PEM_END)) == NULL
            || strstr(to, PEM_BEGIN) != NULL) {
            return NULL;
        }
    }
    else {
        from = text;
        to = text + strlen(text);
    }
    out = o = apr_palloc(p, (apr_size_t)(to - from) + 1);
    for (; from < to; from++) {
        if (!apr_isspace(*from)) {
            *o++ = *from;
        }
    }
    *o = '\0';
    return out;
}

struct der_span {
    const unsigned char *start;
    apr_size_t len;
};

/* Is `der` exactly one SEQUENCE (DER length, definite, up to 4 octets)?
 * *inner is then its content. */
static int der_sequence(const unsigned char *der, apr_size_t len,
                        struct der_span *inner)
{
    apr_size_t head = 2, body, i;

    if (len < 2 || der[0] != 0x30) {
        return 0;
    }
    if (der[1] < 0x80) {
        body = der[1];
    }
    else {
        apr_size_t octets = der[1] & 0x7f;
        if (octets == 0 || octets > 4 || len < 2 + octets) {
            return 0;
        }
        for (body = 0, i = 0; i < octets; i++) {
            body = (body << 8) | der[2 + i];
        }
        head += octets;
    }
    if (head + body != len) {
        return 0;
    }
    inner->start = der + head;
    inner->len = body;
    return 1;
}

char *apiauth_cert_thumbprint(apr_pool_t *p, const char *text)
{
    unsigned char d[APIAUTH_DIGEST_LEN], *raw;
    struct der_span inner;
    const char *b64;
    apr_size_t rawlen;

    if (text == NULL || (b64 = cert_base64(p, text)) == NULL || !*b64
        || apiauth_b64_decode(p, b64, strlen(b64), &raw, &rawlen)
               != APIAUTH_OK) {
        return NULL;
    }
    /* One DER SEQUENCE that starts with another (the signed part), and
     * nothing after it: hashed as it is.  Parsing the certificate would
     * cost OpenSSL 3 a public key decoder per request, for nothing: a
     * thumbprint is only ever compared with one made of the same bytes
     * (mod_ssl's, a registered certificate's). */
    if (!der_sequence(raw, rawlen, &inner) || inner.len < 2
        || inner.start[0] != 0x30
        || apiauth_sha256(raw, rawlen, d) != 0) {
        return NULL;
    }
    return apiauth_b64url_encode(p, d, sizeof(d));
}
