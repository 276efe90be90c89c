/*
 * fuzz_jwt.c: libFuzzer target for lib/jose/jose.c, lib/jose/jwk.c, lib/jose/jwks.c
 * and lib/jose/jwt.c:
 * apiauth_jws_verify, apiauth_jwt_verify, apiauth_jwt_peek_issuer and
 * apiauth_jwks_parse.
 *
 * LLVMFuzzerInitialize makes an RS256, an ES256 and an EdDSA key with
 * OpenSSL, fresh for every run, and loads them through the library: the
 * private keys from PEM files (apiauth_jwk_load_private), the public ones
 * from the JWKS that apiauth_jwk_public_json describes them as
 * (apiauth_jwks_parse).  Nothing the fuzzer writes can carry a valid
 * signature by keys made after the corpus was, so the seeds stay
 * key-independent.  The first input byte picks one of three modes:
 *
 *   0  the rest is a token, verified as it is.  It must never be accepted;
 *      a refusal is invalid_token with a constant description.
 *   1  the rest is a key byte, a JOSE header, '\n', a payload: the target
 *      signs header and payload with that key, so that what lies beyond
 *      the signature check (payload, claims) is fuzzed too.  The token must
 *      verify exactly when the header is one JSON object naming that key's
 *      alg (and its kid, if any) without crit and the payload is one
 *      object; what apiauth_jwt_verify accepts must satisfy every RFC 9068
 *      check it promises; the same token with one signature bit flipped
 *      must be refused; peek_issuer must read the payload's iss.
 *   2  the rest is a JWKS document.  Every key it yields must be of our
 *      algorithms, describe itself back to the same thumbprint, and verify
 *      none of the tokens our own keys signed.
 *
 *   make fuzz FUZZ_TARGETS=jwt FUZZ_SECONDS=60
 */
#include <stdlib.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "digest.h"
#include "encoding.h"
#include "fuzz.h"
#include "jwt.h"

#define NKEYS 3
#define NOW 1700000000
#define ISSUER "https://issuer.example"
#define AUDIENCE "https://api.example"

static apr_pool_t *keys_pool;
static apiauth_jwk_t *private_keys[NKEYS];
static apr_array_header_t *public_keys;
static const char *our_tokens[NKEYS];
static const apiauth_jwt_expect_t expect = {ISSUER, AUDIENCE, "at+jwt", NOW,
                                            60};

static void die(const char *what, const char *why)
{
    fprintf(stderr, "fuzz_jwt: %s: %s\n", what, why ? why : "failed");
    exit(1);
}

static EVP_PKEY *keygen(int i)
{
    switch (i) {
    case 0:  return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    case 1:  return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    default: return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    }
}

/* Through a PEM file, as ApiAuthOAuthSigningKey loads one. */
static apiauth_jwk_t *load_private(EVP_PKEY *pkey)
{
    char path[] = "/tmp/fuzz_jwt.XXXXXX";
    const char *why = NULL;
    apiauth_jwk_t *key = NULL;
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

    if (f == NULL || PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL)
                         != 1) {
        die("cannot write a PEM key", path);
    }
    fclose(f);
    if (apiauth_jwk_load_private(keys_pool, path, &key, &why) != APIAUTH_OK) {
        die("apiauth_jwk_load_private", why);
    }
    unlink(path);
    return key;
}

/* A token whose claims pass every check of `expect`. */
static const char *good_token(apiauth_jwk_t *key)
{
    json_t *claims = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}",
                               "iss", ISSUER, "aud", AUDIENCE, "sub", "alice",
                               "client_id", "cli_1", "jti", "j1", "scope",
                               "a b", "iat", (json_int_t)NOW,
                               "exp", (json_int_t)NOW + 600);
    const char *token = apiauth_jws_sign(keys_pool, key, "at+jwt", claims);

    json_decref(claims);
    return token;
}

/* Pool memory comes from mmap, where LeakSanitizer does not look for
 * pointers: whatever only the keys' pool refers to must be released
 * before the leak check at exit, or it reads as leaked. */
static void release_keys(void)
{
    apr_pool_destroy(keys_pool);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apiauth_jwt_claims_t claims;
    apiauth_error_t err = {NULL, NULL};
    json_t *jwks = json_pack("{s:[]}", "keys");
    const char *why = NULL;
    char *text;
    int i;

    apr_initialize();
    apr_pool_create(&keys_pool, NULL);
    atexit(release_keys);
    apiauth_digest_init(keys_pool);
    for (i = 0; i < NKEYS; i++) {
        EVP_PKEY *pkey = keygen(i);

        if (pkey == NULL) {
            die("EVP_PKEY_Q_keygen", NULL);
        }
        private_keys[i] = load_private(pkey);
        EVP_PKEY_free(pkey);
        json_array_append_new(json_object_get(jwks, "keys"),
                              apiauth_jwk_public_json(private_keys[i]));
    }
    text = json_dumps(jwks, JSON_COMPACT);
    json_decref(jwks);
    if (apiauth_jwks_parse(keys_pool, text, strlen(text), &public_keys, &why)
        != APIAUTH_OK) {
        die("apiauth_jwks_parse", why);
    }
    free(text);
    /* the target is only worth running if a good token does pass */
    for (i = 0; i < NKEYS; i++) {
        our_tokens[i] = good_token(private_keys[i]);
        if (our_tokens[i] == NULL
            || apiauth_jwt_verify(keys_pool, our_tokens[i], public_keys,
                                  &expect, &claims, &err) != APIAUTH_OK) {
            die("a token signed by a fresh key does not verify",
                err.description);
        }
    }
    return 0;
}

/* ---- mode 1: tokens signed here --------------------------------------- */

/* The raw JOSE signature of `input` by key i; NULL if OpenSSL fails. */
static unsigned char *sign(apr_pool_t *p, int i, const char *input,
                           size_t *len)
{
    static const int how[NKEYS] = {FUZZ_RS256, FUZZ_ES256, FUZZ_EDDSA};

    return fuzz_jose_sign(p, apiauth_jwk_pkey(private_keys[i]), how[i],
                          input, len);
}

static json_t *object_of(const char *text, size_t len)
{
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);

    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Whether apiauth_jws_verify should take this header and payload signed
 * by key i, decided without the library. */
static int should_verify(int i, json_t *hdr, json_t *body, size_t toklen)
{
    static const char *const algs[NKEYS] = {"RS256", "ES256", "EdDSA"};
    json_t *alg, *kid;

    if (hdr == NULL || body == NULL || toklen > APIAUTH_JWS_MAX_LEN
        || json_object_get(hdr, "crit")) {
        return 0;
    }
    alg = json_object_get(hdr, "alg");
    kid = json_object_get(hdr, "kid");
    return json_is_string(alg) && strcmp(json_string_value(alg), algs[i]) == 0
           && (kid == NULL
               || (json_is_string(kid)
                   && strcmp(json_string_value(kid),
                             apiauth_jwk_kid(private_keys[i])) == 0));
}

/* What apiauth_jwt_verify promises of the claims it accepts. */
static void check_claims(const apiauth_jwt_claims_t *c, json_t *payload)
{
    json_t *aud = json_object_get(payload, "aud"), *item;
    size_t k;
    int found = 0;

    FUZZ_CHECK(c->iss && strcmp(c->iss, ISSUER) == 0);
    if (json_is_string(aud)) {
        found = strcmp(json_string_value(aud), AUDIENCE) == 0;
    }
    json_array_foreach(aud, k, item) {
        found |= json_is_string(item)
                 && strcmp(json_string_value(item), AUDIENCE) == 0;
    }
    FUZZ_CHECK(found);
    FUZZ_CHECK(json_is_integer(json_object_get(payload, "exp")));
    FUZZ_CHECK(c->exp > NOW - expect.leeway);
    FUZZ_CHECK(json_is_integer(json_object_get(payload, "iat")));
    FUZZ_CHECK(c->nbf <= NOW + expect.leeway && c->iat <= NOW + expect.leeway);
    FUZZ_CHECK(c->sub && *c->sub && c->client_id && *c->client_id && c->jti
               && *c->jti);
    FUZZ_CHECK(c->scope != NULL);
    FUZZ_CHECK(c->payload != NULL);
}

static void signed_here(apr_pool_t *p, const uint8_t *data, size_t size)
{
    apiauth_error_t err = {NULL, NULL};
    apiauth_jwt_claims_t claims;
    const char *nl, *token, *iss, *peeked;
    json_t *hdr, *body, *vh, *vb;
    unsigned char *sig;
    apiauth_status_t st;
    size_t siglen, hlen;
    char *input;
    int i;

    if (size < 1) {
        return;
    }
    i = data[0] % NKEYS;
    data++;
    size--;
    nl = memchr(data, '\n', size);
    hlen = nl ? (size_t)(nl - (const char *)data) : size;
    input = apr_pstrcat(p, apiauth_b64url_encode(p, data, hlen), ".",
                        apiauth_b64url_encode(p, data + hlen + (nl != NULL),
                                              size - hlen - (nl != NULL)),
                        NULL);
    sig = sign(p, i, input, &siglen);
    if (sig == NULL) {
        ERR_clear_error();
        return;
    }
    token = apr_pstrcat(p, input, ".", apiauth_b64url_encode(p, sig, siglen),
                        NULL);
    hdr = object_of((const char *)data, hlen);
    body = object_of((const char *)data + hlen + (nl != NULL),
                     size - hlen - (nl != NULL));

    st = apiauth_jws_verify(p, token, public_keys, &vh, &vb, &err);
    FUZZ_CHECK((st == APIAUTH_OK)
               == should_verify(i, hdr, body, strlen(token)));
    if (st == APIAUTH_OK) {
        FUZZ_CHECK(json_equal(vh, hdr) && json_equal(vb, body));
    }
    else {
        FUZZ_CHECK(fuzz_is_constant(err.description));
    }
    if (apiauth_jwt_verify(p, token, public_keys, &expect, &claims, &err)
        == APIAUTH_OK) {
        FUZZ_CHECK(st == APIAUTH_OK);
        check_claims(&claims, body);
    }

    /* one bit of the signature flipped */
    sig[siglen / 2] ^= 0x10;
    token = apr_pstrcat(p, input, ".", apiauth_b64url_encode(p, sig, siglen),
                        NULL);
    FUZZ_CHECK(apiauth_jws_verify(p, token, public_keys, &vh, &vb, &err)
               != APIAUTH_OK);

    iss = json_string_value(json_object_get(body, "iss"));
    peeked = apiauth_jwt_peek_issuer(p, token);
    if (strlen(token) <= APIAUTH_JWS_MAX_LEN) {
        FUZZ_CHECK((iss == NULL) == (peeked == NULL));
        FUZZ_CHECK(iss == NULL || strcmp(iss, peeked) == 0);
    }
    json_decref(hdr);
    json_decref(body);
}

/* ---- modes 0 and 2 ------------------------------------------------------ */

static void as_token(apr_pool_t *p, const uint8_t *data, size_t size)
{
    const char *token = apr_pstrmemdup(p, (const char *)data, size);
    apiauth_error_t err = {NULL, NULL};
    apiauth_jwt_claims_t claims;
    apiauth_status_t st;
    json_t *hdr, *body;

    st = apiauth_jws_verify(p, token, public_keys, &hdr, &body, &err);
    FUZZ_CHECK(st == APIAUTH_DENIED || st == APIAUTH_ERROR);
    FUZZ_CHECK(err.error && err.description
               && fuzz_is_constant(err.description));
    FUZZ_CHECK(st != APIAUTH_DENIED || strcmp(err.error, "invalid_token") == 0);
    err.error = err.description = NULL;
    st = apiauth_jwt_verify(p, token, public_keys, &expect, &claims, &err);
    FUZZ_CHECK(st == APIAUTH_DENIED || st == APIAUTH_ERROR);
    FUZZ_CHECK(err.error && err.description
               && fuzz_is_constant(err.description));
    apiauth_jwt_peek_issuer(p, token);
}

static void as_jwks(apr_pool_t *p, const uint8_t *data, size_t size)
{
    apr_array_header_t *keys = NULL, *again;
    apiauth_error_t err = {NULL, NULL};
    const char *why = NULL, *thumb;
    json_t *hdr, *body, *jwk;
    char *text;
    int i;

    if (apiauth_jwks_parse(p, (const char *)data, size, &keys, &why)
        != APIAUTH_OK) {
        FUZZ_CHECK(why != NULL);
        return;
    }
    FUZZ_CHECK(keys != NULL && keys->nelts > 0);
    for (i = 0; i < keys->nelts; i++) {
        apiauth_jwk_t *k = APR_ARRAY_IDX(keys, i, apiauth_jwk_t *);

        FUZZ_CHECK(apiauth_jwk_alg(k) != APIAUTH_ALG_NONE);
        FUZZ_CHECK(apiauth_jwk_kid(k) != NULL && !apiauth_jwk_is_private(k));
        thumb = apiauth_jwk_thumbprint(p, k);
        FUZZ_CHECK(thumb != NULL);
        jwk = json_pack("{s:[o]}", "keys", apiauth_jwk_public_json(k));
        text = json_dumps(jwk, JSON_COMPACT);
        json_decref(jwk);
        again = NULL;
        FUZZ_CHECK(text && apiauth_jwks_parse(p, text, strlen(text), &again,
                                              &why) == APIAUTH_OK);
        free(text);
        FUZZ_CHECK(again->nelts == 1);
        FUZZ_CHECK(strcmp(apiauth_jwk_thumbprint(
                              p, APR_ARRAY_IDX(again, 0, apiauth_jwk_t *)),
                          thumb) == 0);
    }
    for (i = 0; i < NKEYS; i++) {
        FUZZ_CHECK(apiauth_jws_verify(p, our_tokens[i], keys, &hdr, &body,
                                      &err) != APIAUTH_OK);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;

    if (size < 1 || (p = fuzz_pool()) == NULL) {
        return 0;
    }
    switch (data[0] % 3) {
    case 0:  as_token(p, data + 1, size - 1);    break;
    case 1:  signed_here(p, data + 1, size - 1); break;
    default: as_jwks(p, data + 1, size - 1);     break;
    }
    apr_pool_destroy(p);
    ERR_clear_error();
    return 0;
}
