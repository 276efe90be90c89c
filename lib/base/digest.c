/*
 * digest.c: secret digests and constant-time comparison (see digest.h).
 *
 * The message digest and the keyed MAC are fetched once and reused: in
 * OpenSSL 3 a fetch by name costs more than hashing a 40-byte key, and
 * this runs on every authenticated request.
 */
#include <ctype.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <apr_file_io.h>
#include <apr_strings.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "digest.h"
#include "encoding.h"

struct apiauth_pepper {
    EVP_MAC_CTX *mac;   /* initialised with the key; duplicated per use */
};

static EVP_MD *sha256;

static apr_status_t sha256_release(void *data)
{
    EVP_MD_free(sha256);
    sha256 = NULL;
    return APR_SUCCESS;
}

int apiauth_digest_init(apr_pool_t *p)
{
    if (sha256 == NULL) {
        sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
        if (sha256 && p) {
            apr_pool_cleanup_register(p, NULL, sha256_release,
                                      apr_pool_cleanup_null);
        }
    }
    return sha256 ? 0 : -1;
}

const EVP_MD *apiauth_sha256_md(void)
{
    /* apiauth_digest_init() runs before any thread starts; this fallback
     * keeps the unit tests and the admin tool from having to care. */
    return sha256 ? sha256 : EVP_sha256();
}

int apiauth_sha256(const void *data, apr_size_t len,
                   unsigned char out[APIAUTH_DIGEST_LEN])
{
    const EVP_MD *md = apiauth_sha256_md();

    if (md == NULL) {
        return -1;
    }
    return EVP_Digest(data, len, out, NULL, md, NULL) == 1 ? 0 : -1;
}

static apr_status_t pepper_cleanup(void *data)
{
    apiauth_pepper_t *pepper = data;

    EVP_MAC_CTX_free(pepper->mac);
    pepper->mac = NULL;
    return APR_SUCCESS;
}

/* An HMAC-SHA-256 key of `len` bytes, its context living until `p` goes;
 * the caller wipes `key`. */
static int pepper_from_key(apr_pool_t *p, const unsigned char *key,
                           apr_size_t len, apiauth_pepper_t **out)
{
    apiauth_pepper_t *pepper = apr_pcalloc(p, sizeof(*pepper));
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    OSSL_PARAM params[2];

    pepper->mac = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
    EVP_MAC_free(hmac);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (pepper->mac == NULL
        || EVP_MAC_init(pepper->mac, key, len, params) != 1) {
        EVP_MAC_CTX_free(pepper->mac);
        return -1;
    }
    apr_pool_cleanup_register(p, pepper, pepper_cleanup,
                              apr_pool_cleanup_null);
    *out = pepper;
    return 0;
}

apiauth_status_t apiauth_pepper_load(apr_pool_t *p, const char *path,
                                     apiauth_pepper_t **out,
                                     const char **errmsg)
{
    apr_file_t *f;
    /* room for the longest key and the white space that may follow it */
    unsigned char key[4096];
    apr_size_t len = sizeof(key);
    apr_status_t rv;

    rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        *errmsg = apr_psprintf(p, "cannot open pepper file %s: %pm", path,
                               &rv);
        return APIAUTH_ERROR;
    }
    rv = apr_file_read_full(f, key, sizeof(key), &len);
    apr_file_close(f);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EOF(rv)) {
        *errmsg = apr_psprintf(p, "cannot read pepper file %s: %pm", path,
                               &rv);
        return APIAUTH_ERROR;
    }
    /* a file that fills the buffer is too long whatever it ends with:
     * stripping what was read would cut the key short, not refuse it */
    while (len > 0 && len < sizeof(key) && isspace(key[len - 1])) {
        len--;
    }
    if (len < 32 || len > 1024) {
        OPENSSL_cleanse(key, sizeof(key));
        *errmsg = apr_psprintf(p, "pepper file %s must hold 32 to 1024 "
                               "bytes (try: openssl rand -hex 32)", path);
        return APIAUTH_ERROR;
    }

    if (pepper_from_key(p, key, len, out) != 0) {
        OPENSSL_cleanse(key, sizeof(key));
        *errmsg = "OpenSSL cannot set up HMAC-SHA-256";
        return APIAUTH_ERROR;
    }
    OPENSSL_cleanse(key, sizeof(key));
    return APIAUTH_OK;
}

static int mac_parts(const apiauth_pepper_t *pepper, const void *const *data,
                     const apr_size_t *lens, int n,
                     unsigned char out[APIAUTH_DIGEST_LEN])
{
    size_t outlen = 0;
    int i, ok;

    if (pepper) {
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(pepper->mac);
        ok = ctx != NULL;
        for (i = 0; ok && i < n; i++) {
            ok = EVP_MAC_update(ctx, data[i], lens[i]) == 1;
        }
        ok = ok && EVP_MAC_final(ctx, out, &outlen, APIAUTH_DIGEST_LEN) == 1;
        EVP_MAC_CTX_free(ctx);
    }
    else {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned int mdlen = 0;
        ok = ctx != NULL && apiauth_sha256_md() != NULL
             && EVP_DigestInit_ex2(ctx, apiauth_sha256_md(), NULL) == 1;
        for (i = 0; ok && i < n; i++) {
            ok = EVP_DigestUpdate(ctx, data[i], lens[i]) == 1;
        }
        ok = ok && EVP_DigestFinal_ex(ctx, out, &mdlen) == 1;
        outlen = mdlen;
        EVP_MD_CTX_free(ctx);
    }
    return ok && outlen == APIAUTH_DIGEST_LEN ? 0 : -1;
}

/* The same framing as apiauth_digest_parts, for parts too long to copy
 * into its buffer (a Bearer JWT, say). */
static int digest_parts_streamed(const apiauth_pepper_t *pepper,
                                 const char *const *parts, int nparts,
                                 unsigned char out[APIAUTH_DIGEST_LEN])
{
    const void *data[16];
    apr_size_t lens[16];
    unsigned char prefix[8][2];
    int i, n = 0;

    for (i = 0; i < nparts; i++) {
        apr_size_t len = strlen(parts[i]);
        prefix[i][0] = (unsigned char)(len >> 8);
        prefix[i][1] = (unsigned char)len;
        data[n] = prefix[i];
        lens[n++] = 2;
        data[n] = parts[i];
        lens[n++] = len;
    }
    return mac_parts(pepper, data, lens, n, out);
}

int apiauth_digest(const apiauth_pepper_t *pepper, const void *secret,
                   apr_size_t len, unsigned char out[APIAUTH_DIGEST_LEN])
{
    if (pepper == NULL) {
        return apiauth_sha256(secret, len, out);
    }
    return mac_parts(pepper, &secret, &len, 1, out);
}

int apiauth_hmac(const apiauth_pepper_t *key, const void *const *data,
                 const apr_size_t *lens, int n,
                 unsigned char out[APIAUTH_DIGEST_LEN])
{
    return key ? mac_parts(key, data, lens, n, out) : -1;
}

apiauth_status_t apiauth_pepper_derive(apr_pool_t *p,
                                       const apiauth_pepper_t *from,
                                       const char *label,
                                       apiauth_pepper_t **out)
{
    unsigned char key[APIAUTH_DIGEST_LEN];
    int rc;

    if (from) {
        /* "\0apiauth key\0" before the label: no secret a client presents
         * (a C string) starts with a NUL, so no request can make the
         * server compute -- and send its store as a digest -- a derived
         * key; HMAC(pepper, label) alone it could, for a "code" equal to
         * the label */
        static const char domain[] = "\0apiauth key\0";
        apr_size_t len = sizeof(domain) - 1 + strlen(label);
        char *input = apr_palloc(p, len);

        memcpy(input, domain, sizeof(domain) - 1);
        memcpy(input + sizeof(domain) - 1, label, strlen(label));
        rc = apiauth_digest(from, input, len, key);
        OPENSSL_cleanse(input, len);
    }
    else {
        rc = RAND_bytes(key, sizeof(key)) == 1 ? 0 : -1;
    }
    rc = rc == 0 ? pepper_from_key(p, key, sizeof(key), out) : -1;
    OPENSSL_cleanse(key, sizeof(key));
    return rc == 0 ? APIAUTH_OK : APIAUTH_ERROR;
}

apr_size_t apiauth_digest_frame(const char *const *parts, int nparts,
                                unsigned char *buf, apr_size_t cap)
{
    unsigned char *cur = buf;
    int i;

    if (nparts < 1 || nparts > 8) {
        return 0;
    }
    for (i = 0; i < nparts; i++) {
        apr_size_t len = strlen(parts[i]);
        if (len > 0xffff || (apr_size_t)(buf + cap - cur) < len + 2) {
            return 0;
        }
        *cur++ = (unsigned char)(len >> 8);
        *cur++ = (unsigned char)len;
        memcpy(cur, parts[i], len);
        cur += len;
    }
    return (apr_size_t)(cur - buf);
}

int apiauth_digest_parts(const apiauth_pepper_t *pepper,
                         const char *const *parts, int nparts,
                         unsigned char out[APIAUTH_DIGEST_LEN])
{
    /* One buffer, one digest call: this keys the credential cache on
     * every request, where a short key fitting one SHA-256 block and no
     * streaming context make the difference. */
    unsigned char buf[1024];
    apr_size_t len;
    int rc, i;

    if (nparts < 1 || nparts > 8) {
        return -1;
    }
    for (i = 0; i < nparts; i++) {
        if (strlen(parts[i]) > 0xffff) {
            return -1;
        }
    }
    len = apiauth_digest_frame(parts, nparts, buf, sizeof(buf));
    if (len == 0) {
        return digest_parts_streamed(pepper, parts, nparts, out);
    }
    rc = apiauth_digest(pepper, buf, len, out);
    OPENSSL_cleanse(buf, len);
    return rc;
}

char *apiauth_digest_hex(apr_pool_t *p, const apiauth_pepper_t *pepper,
                         const char *secret)
{
    unsigned char d[APIAUTH_DIGEST_LEN];

    if (apiauth_digest(pepper, secret, strlen(secret), d) != 0) {
        return NULL;
    }
    return apiauth_hex_encode(p, d, sizeof(d));
}

/* OpenSSL's CRYPTO_memcmp goes a byte at a time, 7 instructions a byte:
 * comparing an 800-byte JWT with the one a keep-alive connection sent
 * before (apiauth_memo.c) cost 5.7k instructions a request, more than all
 * the rest of a cache hit.  This reads 64 bytes a round where SSE2 is
 * there (every x86-64), else 32, then words, then bytes -- every byte
 * always, and decides nothing until the end: the same promise. */
int apiauth_ct_equal(const void *a, const void *b, apr_size_t len)
{
    const unsigned char *x = a, *y = b;
    apr_uint64_t diff = 0, u, v;
    apr_size_t i = 0;

#if defined(__SSE2__)
    __m128i acc = _mm_setzero_si128();

    for (; i + 64 <= len; i += 64) {
        const __m128i *p = (const __m128i *)(const void *)(x + i);
        const __m128i *q = (const __m128i *)(const void *)(y + i);
        acc = _mm_or_si128(acc, _mm_xor_si128(_mm_loadu_si128(p),
                                              _mm_loadu_si128(q)));
        acc = _mm_or_si128(acc, _mm_xor_si128(_mm_loadu_si128(p + 1),
                                              _mm_loadu_si128(q + 1)));
        acc = _mm_or_si128(acc, _mm_xor_si128(_mm_loadu_si128(p + 2),
                                              _mm_loadu_si128(q + 2)));
        acc = _mm_or_si128(acc, _mm_xor_si128(_mm_loadu_si128(p + 3),
                                              _mm_loadu_si128(q + 3)));
    }
    acc = _mm_or_si128(acc, _mm_unpackhi_epi64(acc, acc));
    diff = (apr_uint64_t)_mm_cvtsi128_si64(acc);
#else
    for (; i + 32 <= len; i += 32) {
        apr_uint64_t u1, v1, u2, v2, u3, v3;
        memcpy(&u, x + i, 8);
        memcpy(&v, y + i, 8);
        memcpy(&u1, x + i + 8, 8);
        memcpy(&v1, y + i + 8, 8);
        memcpy(&u2, x + i + 16, 8);
        memcpy(&v2, y + i + 16, 8);
        memcpy(&u3, x + i + 24, 8);
        memcpy(&v3, y + i + 24, 8);
        diff |= (u ^ v) | (u1 ^ v1) | (u2 ^ v2) | (u3 ^ v3);
    }
#endif
    for (; i + 8 <= len; i += 8) {
        memcpy(&u, x + i, 8);
        memcpy(&v, y + i, 8);
        diff |= u ^ v;
    }
    for (; i < len; i++) {
        diff |= (apr_uint64_t)(x[i] ^ y[i]);
    }
    return diff == 0;
}

int apiauth_ct_streq(const char *a, const char *b)
{
    size_t la, lb;

    if (a == NULL || b == NULL) {
        return 0;
    }
    la = strlen(a);
    lb = strlen(b);
    return la == lb && apiauth_ct_equal(a, b, la);
}
