/*
 * keys.c: secrets with a checksum, and public ids (see keys.h).
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "digest.h"
#include "keys.h"

#define SECRET_RANDOM_LEN 32
#define SECRET_CHECKSUM_LEN 6
#define ID_RANDOM_LEN 16

static const char base62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

int apiauth_random_bytes(void *buf, apr_size_t len)
{
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

/* Uniform base62 characters: bytes >= 248 (= 4 * 62) are drawn again, so
 * that no character is more likely than another. */
static int random_base62(char *out, apr_size_t n)
{
    unsigned char buf[64];
    apr_size_t filled = 0, i;

    while (filled < n) {
        if (apiauth_random_bytes(buf, sizeof(buf)) != 0) {
            return -1;
        }
        for (i = 0; i < sizeof(buf) && filled < n; i++) {
            if (buf[i] < 248) {
                out[filled++] = base62[buf[i] % 62];
            }
        }
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return 0;
}

/* The checksum: the first 32 bits of SHA-256 over prefix_random, in six
 * base62 digits (62^6 > 2^32). */
static int checksum(const char *body, apr_size_t len, char out[SECRET_CHECKSUM_LEN])
{
    unsigned char d[APIAUTH_DIGEST_LEN];
    apr_uint32_t v;
    int i;

    if (apiauth_sha256(body, len, d) != 0) {
        return -1;
    }
    v = (apr_uint32_t)d[0] << 24 | (apr_uint32_t)d[1] << 16
        | (apr_uint32_t)d[2] << 8 | d[3];
    for (i = SECRET_CHECKSUM_LEN - 1; i >= 0; i--) {
        out[i] = base62[v % 62];
        v /= 62;
    }
    return 0;
}

char *apiauth_secret_new(apr_pool_t *p, const char *prefix)
{
    apr_size_t plen = strlen(prefix) + 1;
    apr_size_t len = plen + SECRET_RANDOM_LEN + SECRET_CHECKSUM_LEN;
    char *s = apr_palloc(p, len + 1);

    memcpy(s, prefix, plen - 1);
    s[plen - 1] = '_';
    if (random_base62(s + plen, SECRET_RANDOM_LEN) != 0
        || checksum(s, plen + SECRET_RANDOM_LEN,
                    s + plen + SECRET_RANDOM_LEN) != 0) {
        return NULL;
    }
    s[len] = '\0';
    return s;
}

apiauth_secret_shape_t apiauth_secret_shape(const char *secret)
{
    const char *body;
    char sum[SECRET_CHECKSUM_LEN];
    apr_size_t i, plen;

    /* our prefixes: "aa" and one or two more lower-case letters, then _ */
    if (strncmp(secret, "aa", 2) != 0) {
        return APIAUTH_SECRET_FOREIGN;
    }
    for (plen = 2; apr_islower(secret[plen]) && plen < 4; plen++) {
    }
    if (plen < 3 || secret[plen] != '_') {
        return APIAUTH_SECRET_FOREIGN;
    }
    body = secret + plen + 1;
    for (i = 0; body[i]; i++) {
        if (!apr_isalnum(body[i])) {
            return APIAUTH_SECRET_FOREIGN;
        }
    }
    if (i != SECRET_RANDOM_LEN + SECRET_CHECKSUM_LEN) {
        return APIAUTH_SECRET_FOREIGN;
    }
    if (checksum(secret, plen + 1 + SECRET_RANDOM_LEN, sum) != 0) {
        return APIAUTH_SECRET_CORRUPT;
    }
    return CRYPTO_memcmp(sum, body + SECRET_RANDOM_LEN, sizeof(sum)) == 0
               ? APIAUTH_SECRET_VALID
               : APIAUTH_SECRET_CORRUPT;
}

char *apiauth_id_new(apr_pool_t *p, const char *prefix)
{
    char random[ID_RANDOM_LEN + 1];

    if (random_base62(random, ID_RANDOM_LEN) != 0) {
        return NULL;
    }
    random[ID_RANDOM_LEN] = '\0';
    return apr_pstrcat(p, prefix, "_", random, NULL);
}
