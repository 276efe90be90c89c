/*
 * fuzz_dpop.c: libFuzzer target for lib/jose/dpop.c: apiauth_dpop_verify,
 * with the cache of proof keys a process keeps between proofs.
 *
 * LLVMFuzzerInitialize makes an ES256, an RSA and an Ed25519 key, fresh
 * for every run, and one cache of two proof keys that every input shares,
 * as the requests of a child do (so that keys are kept, found and pushed
 * out).  The first input byte picks one of two modes:
 *
 *   0  the rest is a proof, verified as it is, twice.  It is never
 *      accepted (no fuzzed bytes carry a signature by keys made after the
 *      corpus was); both refusals are the same, invalid_dpop_proof or
 *      use_dpop_nonce, with a description.
 *   1  the rest is a byte choosing the key and alg (ES256, RS256, PS256,
 *      EdDSA), a byte of flags (1: put the key's public JWK in the header,
 *      2: its key members only, 4: ask for a server nonce), a JOSE header,
 *      '\n', a payload; the target signs them.  Verified twice (the second
 *      time the key may come from the cache), the two answers are the
 *      same; an accepted proof is dpop+jwt, of an alg of ours that fits
 *      the key, by the key whose RFC 7638 thumbprint it reports, for GET
 *      and the expected URL in normal form, recent, for the token (ath),
 *      with a jti, and with the nonce where one was asked for; the same
 *      proof with one signature bit flipped is refused.
 *
 *   make fuzz FUZZ_TARGETS=dpop FUZZ_SECONDS=60
 */
#include <stdlib.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "digest.h"
#include "dpop.h"
#include "encoding.h"
#include "fuzz.h"
#include "url.h"

#define NOW 1700000000
#define WINDOW 60
#define URL "https://api.example/orders/7?x=1"
#define TOKEN "access-token-of-the-fuzzer"

enum { KEY_EC, KEY_RSA, KEY_ED, NKEYS };

static apr_pool_t *keys_pool;
static EVP_PKEY *pkeys[NKEYS];
static apiauth_jwk_t *public_keys[NKEYS];
static apiauth_dpop_keys_t *kept;
static apiauth_pepper_t *nonce_key;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_dpop: %s\n", what);
    exit(1);
}

static void release_keys(void)
{
    int i;

    apr_pool_destroy(keys_pool);
    for (i = 0; i < NKEYS; i++) {
        EVP_PKEY_free(pkeys[i]);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int i;

    apr_initialize();
    apr_pool_create(&keys_pool, NULL);
    atexit(release_keys);
    apiauth_digest_init(keys_pool);
    pkeys[KEY_EC] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    pkeys[KEY_RSA] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    pkeys[KEY_ED] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    for (i = 0; i < NKEYS; i++) {
        if (pkeys[i] == NULL || EVP_PKEY_up_ref(pkeys[i]) != 1
            || apiauth_jwk_adopt(keys_pool, pkeys[i], 0, NULL,
                                 &public_keys[i]) != NULL) {
            die("cannot make a key");
        }
    }
    kept = apiauth_dpop_keys_create(keys_pool, 2);
    if (kept == NULL
        || apiauth_pepper_derive(keys_pool, NULL, NULL, &nonce_key)
               != APIAUTH_OK) {
        die("cannot make the key cache or the nonce key");
    }
    return 0;
}

static apiauth_dpop_expect_t expected(int nonce)
{
    apiauth_dpop_expect_t e = {"GET", URL, TOKEN, nonce ? nonce_key : NULL,
                               NOW, WINDOW, kept};
    return e;
}

static apiauth_status_t verify(apr_pool_t *p, const char *proof, int nonce,
                               apiauth_dpop_proof_t *out,
                               apiauth_error_t *err)
{
    apiauth_dpop_expect_t e = expected(nonce);

    memset(out, 0, sizeof(*out));
    err->error = err->description = NULL;
    return apiauth_dpop_verify(p, proof, &e, out, err);
}

/* Two verifications of one proof say the same. */
static void same_answer(apiauth_status_t a, const apiauth_error_t *ea,
                        apiauth_status_t b, const apiauth_error_t *eb)
{
    FUZZ_CHECK(a == b);
    if (a != APIAUTH_OK) {
        FUZZ_CHECK(ea->error && eb->error && strcmp(ea->error, eb->error) == 0);
        FUZZ_CHECK(ea->description && eb->description);
    }
}

/* ---- mode 0 ------------------------------------------------------------ */

static void as_proof(apr_pool_t *p, const uint8_t *data, size_t size)
{
    const char *proof = apr_pstrmemdup(p, (const char *)data, size);
    apiauth_dpop_proof_t out;
    apiauth_error_t e1, e2;
    apiauth_status_t s1, s2;

    s1 = verify(p, proof, size % 2, &out, &e1);
    s2 = verify(p, proof, size % 2, &out, &e2);
    FUZZ_CHECK(s1 == APIAUTH_DENIED || s1 == APIAUTH_ERROR);
    same_answer(s1, &e1, s2, &e2);
    FUZZ_CHECK(s1 != APIAUTH_DENIED
               || strcmp(e1.error, "invalid_dpop_proof") == 0
               || strcmp(e1.error, "use_dpop_nonce") == 0);
}

/* ---- mode 1 ------------------------------------------------------------ */

static const char *const alg_names[] = {"ES256", "RS256", "PS256", "EdDSA"};
static const int alg_keys[] = {KEY_EC, KEY_RSA, KEY_RSA, KEY_ED};

/* The JOSE signature of `input` under alg `a`; NULL if OpenSSL fails. */
static unsigned char *sign(apr_pool_t *p, int a, const char *input,
                           size_t *len)
{
    static const int how[] = {FUZZ_ES256, FUZZ_RS256, FUZZ_PS256,
                              FUZZ_EDDSA};

    return fuzz_jose_sign(p, pkeys[alg_keys[a]], how[a], input, len);
}

/* The header as the fuzzer wrote it, with the key's public JWK put in
 * where the flags ask (and the header is an object). */
static const char *header_text(apr_pool_t *p, int a, int flags,
                               const char *text, size_t len)
{
    json_t *hdr, *jwk;
    const char *out;
    char *dumped;

    if (!(flags & 1)
        || (hdr = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL))
               == NULL) {
        return apr_pstrmemdup(p, text, len);
    }
    if (!json_is_object(hdr)) {
        json_decref(hdr);
        return apr_pstrmemdup(p, text, len);
    }
    jwk = apiauth_jwk_public_json(public_keys[alg_keys[a]]);
    if (flags & 2) {
        json_object_del(jwk, "kid");
        json_object_del(jwk, "alg");
        json_object_del(jwk, "use");
    }
    json_object_set_new(hdr, "jwk", jwk);
    dumped = json_dumps(hdr, JSON_COMPACT);
    json_decref(hdr);
    out = dumped ? apr_pstrdup(p, dumped) : "";
    free(dumped);
    return out;
}

/* What apiauth_dpop_verify promises of a proof it accepts. */
static void check_accepted(apr_pool_t *p, int a, int nonce,
                           const char *header, const char *payload,
                           const apiauth_dpop_proof_t *out)
{
    json_t *hdr = json_loads(header, JSON_REJECT_DUPLICATES, NULL);
    json_t *body = json_loads(payload, JSON_REJECT_DUPLICATES, NULL);
    const char *typ, *alg, *htu, *jti, *want;
    json_t *iat;

    FUZZ_CHECK(json_is_object(hdr) && json_is_object(body));
    typ = json_string_value(json_object_get(hdr, "typ"));
    alg = json_string_value(json_object_get(hdr, "alg"));
    FUZZ_CHECK(typ && strcasecmp(typ, "dpop+jwt") == 0);
    FUZZ_CHECK(alg && (strcmp(alg, alg_names[a]) == 0
                       || (a == 3 && strcmp(alg, "Ed25519") == 0)));
    FUZZ_CHECK(out->jkt && strcmp(out->jkt, apiauth_jwk_thumbprint(
                                      p, public_keys[alg_keys[a]])) == 0);
    FUZZ_CHECK(json_is_string(json_object_get(body, "htm"))
               && strcmp(json_string_value(json_object_get(body, "htm")),
                         "GET") == 0);
    htu = json_string_value(json_object_get(body, "htu"));
    FUZZ_CHECK(htu && strcmp(apiauth_url_normalise(p, htu),
                             apiauth_url_normalise(p, URL)) == 0);
    iat = json_object_get(body, "iat");
    FUZZ_CHECK(json_is_integer(iat)
               && json_integer_value(iat) <= NOW + WINDOW
               && json_integer_value(iat) >= NOW - WINDOW
               && out->iat == json_integer_value(iat));
    want = apiauth_dpop_ath(p, TOKEN);
    FUZZ_CHECK(json_is_string(json_object_get(body, "ath"))
               && strcmp(json_string_value(json_object_get(body, "ath")),
                         want) == 0);
    jti = json_string_value(json_object_get(body, "jti"));
    FUZZ_CHECK(jti && *jti && strlen(jti) <= 256 && out->jti
               && strcmp(out->jti, jti) == 0);
    FUZZ_CHECK(!nonce
               || apiauth_dpop_nonce_fresh(
                      p, nonce_key,
                      json_string_value(json_object_get(body, "nonce")),
                      NOW));
    json_decref(hdr);
    json_decref(body);
}

static void signed_here(apr_pool_t *p, const uint8_t *data, size_t size)
{
    apiauth_dpop_proof_t out;
    apiauth_error_t e1, e2;
    apiauth_status_t s1, s2;
    const char *nl, *header, *payload, *proof;
    unsigned char *sig;
    size_t siglen, hlen;
    char *input;
    int a, flags;

    if (size < 2) {
        return;
    }
    a = data[0] % 4;
    flags = data[1];
    data += 2;
    size -= 2;
    nl = memchr(data, '\n', size);
    hlen = nl ? (size_t)(nl - (const char *)data) : size;
    header = header_text(p, a, flags, (const char *)data, hlen);
    payload = apr_pstrmemdup(p, (const char *)data + hlen + (nl != NULL),
                             size - hlen - (nl != NULL));
    input = apr_pstrcat(p, apiauth_b64url_encode(p, header, strlen(header)),
                        ".",
                        apiauth_b64url_encode(p, payload, strlen(payload)),
                        NULL);
    sig = sign(p, a, input, &siglen);
    if (sig == NULL) {
        ERR_clear_error();
        return;
    }
    proof = apr_pstrcat(p, input, ".", apiauth_b64url_encode(p, sig, siglen),
                        NULL);
    s1 = verify(p, proof, flags & 4, &out, &e1);
    if (s1 == APIAUTH_OK) {
        check_accepted(p, a, flags & 4, header, payload, &out);
    }
    /* the key may now be kept: the same answer */
    s2 = verify(p, proof, flags & 4, &out, &e2);
    same_answer(s1, &e1, s2, &e2);

    sig[siglen / 2] ^= 0x10;
    proof = apr_pstrcat(p, input, ".", apiauth_b64url_encode(p, sig, siglen),
                        NULL);
    FUZZ_CHECK(verify(p, proof, flags & 4, &out, &e1) != APIAUTH_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;

    if (size < 1 || (p = fuzz_pool()) == NULL) {
        return 0;
    }
    if (data[0] % 2 == 0) {
        as_proof(p, data + 1, size - 1);
    }
    else {
        signed_here(p, data + 1, size - 1);
    }
    apr_pool_destroy(p);
    ERR_clear_error();
    return 0;
}
