/*
 * fuzz.h: what the libFuzzer targets of tests/fuzz/ share.
 *
 * A fresh pool per input, a splitter for inputs made of several fields,
 * the check that an error description is one of the program's own
 * strings, and FUZZ_CHECK, which turns a broken promise into a crash that
 * libFuzzer keeps.  Not for the unit tests: these helpers trade clarity
 * for catching memory errors (see fuzz_pool).
 */
#ifndef APIAUTH_FUZZ_H
#define APIAUTH_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <apr_allocator.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#define FUZZ_CHECK(cond)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__,       \
                    __LINE__, #cond);                                      \
            __builtin_trap();                                              \
        }                                                                  \
    } while (0)

/* A pool with its own allocator, so that everything it held goes back to
 * malloc (and into ASan's quarantine) when it is destroyed, instead of
 * being recycled by APR for the next input.  NULL if APR fails. */
static apr_pool_t *fuzz_pool(void)
{
    static int initialized;
    apr_allocator_t *allocator;
    apr_pool_t *p;

    if (!initialized) {
        apr_initialize();
        initialized = 1;
    }
    if (apr_allocator_create(&allocator) != APR_SUCCESS) {
        return NULL;
    }
    if (apr_pool_create_ex(&p, NULL, NULL, allocator) != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        return NULL;
    }
    apr_allocator_owner_set(allocator, p);
    return p;
}

/* The next field of *in (up to '\n' or the end) as a NUL terminated pool
 * copy, or NULL when the input is used up.  A NUL inside a field ends the
 * string early, as it would in any C string httpd hands to us. */
static const char *fuzz_field(apr_pool_t *p, const uint8_t **in,
                              size_t *left)
{
    const uint8_t *nl;
    size_t n;
    const char *out;

    if (*in == NULL) {
        return NULL;
    }
    nl = *left ? memchr(*in, '\n', *left) : NULL;
    n = nl ? (size_t)(nl - *in) : *left;
    out = apr_pstrmemdup(p, (const char *)*in, n);
    if (nl) {
        *left -= n + 1;
        *in = nl + 1;
    }
    else {
        *left = 0;
        *in = NULL;
    }
    return out;
}

/* 1 when `s` lies in the program image (its string constants), not in
 * memory filled at run time: a description that passes cannot hold bytes
 * of the input.  The bounds come from the GNU ld default linker script. */
extern const char __executable_start[];
extern const char edata[];

static int fuzz_is_constant(const char *s)
{
    return s >= __executable_start && s < edata;
}

/* How fuzz_jose_sign signs. */
enum { FUZZ_RS256, FUZZ_PS256, FUZZ_ES256, FUZZ_EDDSA };

/* The JOSE signature (RFC 7515) of `input` by `pkey` as `how` says: ES256
 * as R || S (RFC 7518 §3.4), not OpenSSL's DER; PS256 with a salt as long
 * as the hash.  NULL if OpenSSL fails. */
static unsigned char *fuzz_jose_sign(apr_pool_t *p, EVP_PKEY *pkey, int how,
                                     const char *input, size_t *len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *sig = NULL;
    size_t n = 0;
    int ok;

    ok = ctx && EVP_DigestSignInit(ctx, &pctx,
                                   how == FUZZ_EDDSA ? NULL : EVP_sha256(),
                                   NULL, pkey) == 1;
    if (ok && how == FUZZ_PS256) {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
             && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
                    == 1;
    }
    if (ok && EVP_DigestSign(ctx, NULL, &n, (const unsigned char *)input,
                             strlen(input)) == 1) {
        sig = apr_palloc(p, n);
        if (EVP_DigestSign(ctx, sig, &n, (const unsigned char *)input,
                           strlen(input)) != 1) {
            sig = NULL;
        }
    }
    EVP_MD_CTX_free(ctx);
    if (sig && how == FUZZ_ES256) {
        const unsigned char *q = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)n);
        unsigned char *raw = apr_palloc(p, 64);

        ok = es && BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32) == 32
             && BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32) == 32;
        ECDSA_SIG_free(es);
        sig = ok ? raw : NULL;
        n = 64;
    }
    *len = n;
    return sig;
}

#endif
