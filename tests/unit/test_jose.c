/*
 * test_jose.c: JWK loading and export (jwk.c), JWS signing and
 * verification (jose.c).
 *
 * Keys are made fresh by the openssl command line for each run.  Hostile
 * tokens are signed here with OpenSSL directly, so that each refusal is
 * proved to come from the check it names and not from a bad signature.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include <apr_file_io.h>
#include <apr_strings.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "digest.h"
#include "encoding.h"
#include "jose.h"

static char keydir[] = "/tmp/apiauth-jose-XXXXXX";
static apr_pool_t *key_pool;
static apiauth_jwk_t *rsa, *ec, *ed, *ec2;

#define RFC7638_N \
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK" \
    "7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yB" \
    "XArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb" \
    "9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f" \
    "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"

static const char *key_path(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, keydir, "/", name, NULL);
}

static int sh(const char *fmt, const char *arg)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), fmt, keydir, arg);
    return system(cmd) == 0 ? 0 : -1;
}

static int make_keys(void **state)
{
    const char *errmsg;
    const char *gen = "cd %s && openssl genpkey %s 2>/dev/null";

    if (mkdtemp(keydir) == NULL
        || sh(gen, "-algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem")
        || sh(gen, "-algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
                   "-out ec.pem")
        || sh(gen, "-algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
                   "-out ec2.pem")
        || sh(gen, "-algorithm ED25519 -out ed.pem")
        || sh(gen, "-algorithm RSA -pkeyopt rsa_keygen_bits:1024 "
                   "-out rsa1024.pem")
        || sh(gen, "-algorithm EC -pkeyopt ec_paramgen_curve:P-384 "
                   "-out p384.pem")
        || sh(gen, "-algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
                   "-aes256 -pass pass:secret -out encrypted.pem")
        || sh("cd %s && openssl pkey -in rsa.pem -pubout -out %s "
              "2>/dev/null", "rsa.pub.pem")
        || sh("cd %s && openssl req -x509 -new -key ec.pem -subj "
              "/CN=apiauth -days 1 -out %s 2>/dev/null", "ec.crt")
        || apr_pool_create(&key_pool, NULL) != APR_SUCCESS) {
        return -1;
    }
    if (apiauth_jwk_load_private(key_pool, key_path(key_pool, "rsa.pem"),
                                 &rsa, &errmsg)
        || apiauth_jwk_load_private(key_pool, key_path(key_pool, "ec.pem"),
                                    &ec, &errmsg)
        || apiauth_jwk_load_private(key_pool, key_path(key_pool, "ec2.pem"),
                                    &ec2, &errmsg)
        || apiauth_jwk_load_private(key_pool, key_path(key_pool, "ed.pem"),
                                    &ed, &errmsg)) {
        fprintf(stderr, "%s\n", errmsg);
        return -1;
    }
    return 0;
}

static int remove_keys(void **state)
{
    apr_pool_destroy(key_pool);
    return sh("rm -rf %s%s", "");
}

static apr_array_header_t *key_set(const apiauth_jwk_t *a,
                                   const apiauth_jwk_t *b)
{
    apr_array_header_t *keys = apr_array_make(unit_pool, 2,
                                              sizeof(apiauth_jwk_t *));

    APR_ARRAY_PUSH(keys, const apiauth_jwk_t *) = a;
    if (b) {
        APR_ARRAY_PUSH(keys, const apiauth_jwk_t *) = b;
    }
    return keys;
}

static apiauth_status_t verify(const char *token,
                               const apr_array_header_t *keys,
                               apiauth_error_t *err)
{
    json_t *header, *payload;

    err->error = err->description = NULL;
    return apiauth_jws_verify(unit_pool, token, keys, &header, &payload,
                              err);
}

static void assert_refused(const char *token, const apr_array_header_t *keys)
{
    apiauth_error_t e;

    assert_int_equal(verify(token, keys, &e), APIAUTH_DENIED);
    assert_string_equal(e.error, "invalid_token");
    assert_non_null(e.description);
    /* httpd's mod_ssl reads the same per-thread queue */
    assert_int_equal(ERR_peek_error(), 0);
}

static const char *b64(const char *text)
{
    return apiauth_b64url_encode(unit_pool, text, strlen(text));
}

static json_t *claims(void)
{
    return json_pack("{s:s, s:i}", "sub", "alice", "exp", 2000000000);
}

static char *sign(const apiauth_jwk_t *key)
{
    json_t *payload = claims();
    char *token = apiauth_jws_sign(unit_pool, key, "at+jwt", payload);

    json_decref(payload);
    assert_non_null(token);
    return token;
}

/* Exactly this header and payload text, signed by OpenSSL directly;
 * `der` leaves an ES256 signature in OpenSSL's DER form. */
static char *forge(const apiauth_jwk_t *key, const char *header,
                   const char *payload, int der)
{
    const char *input = apr_pstrcat(unit_pool, b64(header), ".",
                                    b64(payload), NULL);
    int eddsa = apiauth_jwk_alg(key) == APIAUTH_ALG_EDDSA;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[1024];
    size_t siglen = sizeof(sig);

    assert_int_equal(EVP_DigestSignInit(ctx, NULL, eddsa ? NULL
                                        : EVP_sha256(), NULL,
                                        apiauth_jwk_pkey(key)), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &siglen,
                                    (const unsigned char *)input,
                                    strlen(input)), 1);
    EVP_MD_CTX_free(ctx);
    if (apiauth_jwk_alg(key) == APIAUTH_ALG_ES256 && !der) {
        const unsigned char *q = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)siglen);
        const BIGNUM *r, *s;

        assert_non_null(es);
        ECDSA_SIG_get0(es, &r, &s);
        BN_bn2binpad(r, sig, 32);
        BN_bn2binpad(s, sig + 32, 32);
        ECDSA_SIG_free(es);
        siglen = 64;
    }
    return apr_pstrcat(unit_pool, input, ".",
                       apiauth_b64url_encode(unit_pool, sig, siglen), NULL);
}

static const char *header_for(const apiauth_jwk_t *key, const char *alg)
{
    return apr_psprintf(unit_pool, "{\"alg\":\"%s\",\"kid\":\"%s\"}",
                        alg ? alg : apiauth_alg_name(apiauth_jwk_alg(key)),
                        apiauth_jwk_kid(key));
}

static void assert_round_trip(const apiauth_jwk_t *key)
{
    apiauth_error_t e;
    json_t *header, *payload;
    char *token = sign(key);

    assert_int_equal(apiauth_jws_verify(unit_pool, token, key_set(key, NULL),
                                        &header, &payload, &e), APIAUTH_OK);
    assert_string_equal(json_string_value(json_object_get(header, "alg")),
                        apiauth_alg_name(apiauth_jwk_alg(key)));
    assert_string_equal(json_string_value(json_object_get(header, "kid")),
                        apiauth_jwk_kid(key));
    assert_string_equal(json_string_value(json_object_get(header, "typ")),
                        "at+jwt");
    assert_string_equal(json_string_value(json_object_get(payload, "sub")),
                        "alice");
}

static void test_rs256_token_signs_and_verifies(void **state)
{
    assert_int_equal(apiauth_jwk_alg(rsa), APIAUTH_ALG_RS256);
    assert_round_trip(rsa);
}

static void test_es256_token_signs_and_verifies(void **state)
{
    assert_int_equal(apiauth_jwk_alg(ec), APIAUTH_ALG_ES256);
    assert_round_trip(ec);
}

static void test_eddsa_token_signs_and_verifies(void **state)
{
    assert_int_equal(apiauth_jwk_alg(ed), APIAUTH_ALG_EDDSA);
    assert_round_trip(ed);
}

static void test_es256_signature_is_raw_r_s(void **state)
{
    char *token = sign(ec);
    const char *sig = strrchr(token, '.') + 1;
    unsigned char *raw;
    apr_size_t len;

    assert_int_equal(apiauth_b64url_decode(unit_pool, sig, strlen(sig), &raw,
                                           &len), APIAUTH_OK);
    assert_int_equal(len, 64);
}

static void test_kid_is_the_rfc7638_thumbprint(void **state)
{
    const apiauth_jwk_t *keys[] = {rsa, ec, ed};
    const char *required[] = {"e", "kty", "n", "crv", "x", "y"};
    unsigned char d[32];
    size_t i, j;

    for (i = 0; i < 3; i++) {
        json_t *jwk = apiauth_jwk_public_json(keys[i]), *canon = json_object();
        char *text;

        for (j = 0; j < 6; j++) {
            json_t *v = json_object_get(jwk, required[j]);
            if (v) {
                json_object_set(canon, required[j], v);
            }
        }
        text = json_dumps(canon, JSON_COMPACT | JSON_SORT_KEYS);
        EVP_Digest(text, strlen(text), d, NULL, EVP_sha256(), NULL);
        assert_string_equal(apiauth_jwk_kid(keys[i]),
                            apiauth_b64url_encode(unit_pool, d, 32));
        assert_string_equal(apiauth_jwk_thumbprint(unit_pool, keys[i]),
                            apiauth_jwk_kid(keys[i]));
        free(text);
        json_decref(canon);
        json_decref(jwk);
    }
}

static void test_rfc7638_example_key_has_the_published_thumbprint(void **state)
{
    const char *jwks = "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"" RFC7638_N
                       "\",\"e\":\"AQAB\",\"alg\":\"RS256\"}]}";
    apr_array_header_t *keys = NULL;
    const apiauth_jwk_t *key;
    const char *errmsg;

    assert_int_equal(apiauth_jwks_parse(unit_pool, jwks, strlen(jwks), &keys,
                                        &errmsg), APIAUTH_OK);
    assert_int_equal(keys->nelts, 1);
    key = APR_ARRAY_IDX(keys, 0, const apiauth_jwk_t *);
    assert_string_equal(apiauth_jwk_thumbprint(unit_pool, key),
                        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    assert_string_equal(apiauth_jwk_kid(key),
                        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

static void test_jwks_export_parses_back_and_verifies(void **state)
{
    json_t *set = json_pack("{s:[o, o, o]}", "keys",
                            apiauth_jwk_public_json(rsa),
                            apiauth_jwk_public_json(ec),
                            apiauth_jwk_public_json(ed));
    char *text = json_dumps(set, JSON_COMPACT);
    apr_array_header_t *keys = NULL;
    const char *errmsg;
    apiauth_error_t e;
    int i;

    assert_int_equal(apiauth_jwks_parse(unit_pool, text, strlen(text), &keys,
                                        &errmsg), APIAUTH_OK);
    free(text);
    json_decref(set);
    assert_int_equal(keys->nelts, 3);
    for (i = 0; i < 3; i++) {
        const apiauth_jwk_t *k = APR_ARRAY_IDX(keys, i,
                                               const apiauth_jwk_t *);
        assert_false(apiauth_jwk_is_private(k));
    }
    assert_string_equal(apiauth_jwk_kid(APR_ARRAY_IDX(keys, 1,
                                                      apiauth_jwk_t *)),
                        apiauth_jwk_kid(ec));
    assert_int_equal(verify(sign(rsa), keys, &e), APIAUTH_OK);
    assert_int_equal(verify(sign(ec), keys, &e), APIAUTH_OK);
    assert_int_equal(verify(sign(ed), keys, &e), APIAUTH_OK);
    assert_refused(sign(ec2), keys);
}

static void test_public_pem_and_certificate_verify(void **state)
{
    apr_array_header_t *keys = NULL;
    const char *errmsg;
    apiauth_error_t e;

    assert_int_equal(apiauth_jwk_load_public(unit_pool,
                                             key_path(unit_pool,
                                                      "rsa.pub.pem"),
                                             &keys, &errmsg), APIAUTH_OK);
    assert_int_equal(apiauth_jwk_load_public(unit_pool,
                                             key_path(unit_pool, "ec.crt"),
                                             &keys, &errmsg), APIAUTH_OK);
    assert_int_equal(keys->nelts, 2);
    assert_string_equal(apiauth_jwk_kid(APR_ARRAY_IDX(keys, 0,
                                                      apiauth_jwk_t *)),
                        apiauth_jwk_kid(rsa));
    assert_int_equal(verify(sign(rsa), keys, &e), APIAUTH_OK);
    assert_int_equal(verify(sign(ec), keys, &e), APIAUTH_OK);
    assert_refused(sign(ed), keys);
}

/* RFC 8705's x5t#S256 of a certificate, in the forms it reaches us: PEM
 * from mod_ssl, PEM with spaces for line breaks from a proxy's header,
 * bare base64 DER. */
static void test_certificate_thumbprint_in_every_form(void **state)
{
    FILE *f = fopen(key_path(unit_pool, "ec.crt"), "r");
    X509 *cert = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    unsigned char *der = NULL, d[APIAUTH_DIGEST_LEN];
    int len = cert ? i2d_X509(cert, &der) : 0;
    char *pem, *flat, *c, *bare, *want;
    apr_size_t n;

    assert_true(len > 0);
    assert_int_equal(apiauth_sha256(der, (apr_size_t)len, d), 0);
    want = apiauth_b64url_encode(unit_pool, d, sizeof(d));
    rewind(f);
    pem = apr_pcalloc(unit_pool, 8192);
    n = fread(pem, 1, 8191, f);
    fclose(f);
    assert_true(n > 0);
    assert_string_equal(apiauth_cert_thumbprint(unit_pool, pem), want);
    flat = apr_pstrdup(unit_pool, pem);
    for (c = flat; *c; c++) {
        if (*c == '\n') {
            *c = ' ';
        }
    }
    assert_string_equal(apiauth_cert_thumbprint(unit_pool, flat), want);
    bare = apiauth_b64_encode(unit_pool, der, (apr_size_t)len);
    assert_string_equal(apiauth_cert_thumbprint(unit_pool, bare), want);
    /* not one certificate: cut short, something after it, not base64 */
    assert_null(apiauth_cert_thumbprint(
        unit_pool, apiauth_b64_encode(unit_pool, der, (apr_size_t)len - 4)));
    assert_null(apiauth_cert_thumbprint(
        unit_pool, apr_pstrcat(unit_pool, bare, "AAAA", NULL)));
    assert_null(apiauth_cert_thumbprint(unit_pool, "not a certificate"));
    /* two, as httpd joins a header sent twice (the client's first): none */
    assert_null(apiauth_cert_thumbprint(
        unit_pool, apr_pstrcat(unit_pool, flat, ", ", flat, NULL)));
    assert_null(apiauth_cert_thumbprint(
        unit_pool, apr_pstrcat(unit_pool, bare, ",", bare, NULL)));
    assert_null(apiauth_cert_thumbprint(
        unit_pool, apr_pstrcat(unit_pool, pem, pem, NULL)));
    assert_null(apiauth_cert_thumbprint(unit_pool, ""));
    assert_null(apiauth_cert_thumbprint(unit_pool,
                                        "-----BEGIN CERTIFICATE----- MIIB"));
    OPENSSL_free(der);
    X509_free(cert);
}

static void test_private_pem_read_as_public_keeps_only_the_public_half(
    void **state)
{
    apr_array_header_t *keys = NULL;
    const apiauth_jwk_t *k;
    const char *errmsg;
    apiauth_error_t e;

    assert_int_equal(apiauth_jwk_load_public(unit_pool,
                                             key_path(unit_pool, "ed.pem"),
                                             &keys, &errmsg), APIAUTH_OK);
    k = APR_ARRAY_IDX(keys, 0, const apiauth_jwk_t *);
    assert_false(apiauth_jwk_is_private(k));
    assert_string_equal(apiauth_jwk_kid(k), apiauth_jwk_kid(ed));
    assert_int_equal(verify(sign(ed), keys, &e), APIAUTH_OK);
}

static void test_a_public_key_cannot_sign(void **state)
{
    apr_array_header_t *keys = NULL;
    json_t *payload = claims();
    const char *errmsg;

    assert_int_equal(apiauth_jwk_load_public(unit_pool,
                                             key_path(unit_pool,
                                                      "rsa.pub.pem"),
                                             &keys, &errmsg), APIAUTH_OK);
    assert_null(apiauth_jws_sign(unit_pool, APR_ARRAY_IDX(keys, 0,
                                                          apiauth_jwk_t *),
                                 NULL, payload));
    json_decref(payload);
}

static void test_weak_or_unsupported_private_keys_are_refused(void **state)
{
    const char *files[] = {"rsa1024.pem", "p384.pem", "encrypted.pem",
                           "rsa.pub.pem", "missing.pem"};
    const char *why[] = {"2048", "P-256", "unencrypted", "no unencrypted",
                         "cannot open"};
    apiauth_jwk_t *key;
    apr_array_header_t *keys = NULL;
    const char *errmsg;
    size_t i;

    for (i = 0; i < 5; i++) {
        errmsg = NULL;
        assert_int_equal(apiauth_jwk_load_private(unit_pool,
                                                  key_path(unit_pool,
                                                           files[i]),
                                                  &key, &errmsg),
                         APIAUTH_ERROR);
        assert_non_null(strstr(errmsg, why[i]));
        assert_int_equal(ERR_peek_error(), 0);
    }
    assert_int_equal(apiauth_jwk_load_public(unit_pool,
                                             key_path(unit_pool, "p384.pem"),
                                             &keys, &errmsg), APIAUTH_ERROR);
    assert_non_null(strstr(errmsg, "P-256"));
}

static apiauth_status_t parse(const char *jwks, apr_array_header_t **keys,
                              const char **errmsg)
{
    *keys = NULL;
    return apiauth_jwks_parse(unit_pool, jwks, strlen(jwks), keys, errmsg);
}

static void test_jwks_skips_keys_it_cannot_use_and_keeps_kid(void **state)
{
    json_t *enc = apiauth_jwk_public_json(ec2);
    json_t *sig = apiauth_jwk_public_json(ec);
    json_t *set;
    apr_array_header_t *keys;
    const char *errmsg;
    char *text;

    json_object_set_new(enc, "use", json_string("enc"));
    json_object_set_new(sig, "kid", json_string("2026-signing"));
    set = json_pack("{s:[o, o, {s:s, s:s}, {s:s, s:s, s:s, s:s}, o]}", "keys",
                    enc, json_pack("{s:s, s:s, s:s}", "kty", "RSA", "alg",
                                   "PS256", "n", "AQAB"),
                    "kty", "oct", "k", "c2VjcmV0",
                    "kty", "EC", "crv", "P-384", "x", "AA", "y", "AA", sig);
    text = json_dumps(set, JSON_COMPACT);
    json_decref(set);
    assert_int_equal(parse(text, &keys, &errmsg), APIAUTH_OK);
    free(text);
    assert_int_equal(keys->nelts, 1);
    assert_string_equal(apiauth_jwk_kid(APR_ARRAY_IDX(keys, 0,
                                                      apiauth_jwk_t *)),
                        "2026-signing");
    assert_int_equal(parse("{\"keys\":[{\"kty\":\"oct\",\"k\":\"AA\"}]}",
                           &keys, &errmsg), APIAUTH_ERROR);
}

static void test_jwks_alg_that_does_not_fit_the_key_is_refused(void **state)
{
    json_t *jwk = apiauth_jwk_public_json(rsa), *set;
    apr_array_header_t *keys;
    const char *errmsg;
    char *text;

    json_object_set_new(jwk, "alg", json_string("ES256"));
    set = json_pack("{s:[o]}", "keys", jwk);
    text = json_dumps(set, JSON_COMPACT);
    json_decref(set);
    assert_int_equal(parse(text, &keys, &errmsg), APIAUTH_ERROR);
    assert_non_null(strstr(errmsg, "alg"));
    free(text);
}

static void test_malformed_jwks_is_refused(void **state)
{
    const char *bad[] = {
        "",
        "[]",
        "{\"keys\":{}}",
        "{\"keys\":[]}",
        "{\"keys\":[],\"keys\":[]}",
        "{\"keys\":[\"RSA\"]}",
        "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
        "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQ=\"}]}",
        /* e = 1: every padded digest would be its own signature */
        "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQ\"}]}",
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}]}",
        /* x and y of the right length, but not a point on P-256 */
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
        "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\","
        "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"}]}",
        "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\","
        "\"kid\":7}]}",
    };
    apr_array_header_t *keys;
    const char *errmsg;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errmsg = NULL;
        assert_int_equal(parse(bad[i], &keys, &errmsg), APIAUTH_ERROR);
        assert_non_null(errmsg);
        assert_int_equal(ERR_peek_error(), 0);
    }
}

static void test_alg_none_is_refused(void **state)
{
    const char *h = b64("{\"alg\":\"none\"}");
    const char *b = b64("{\"sub\":\"alice\"}");
    apr_array_header_t *keys = key_set(rsa, NULL);

    assert_refused(apr_pstrcat(unit_pool, h, ".", b, ".", NULL), keys);
    assert_refused(apr_pstrcat(unit_pool, h, ".", b, ".AAAA", NULL), keys);
    assert_refused(forge(rsa, "{\"alg\":\"none\"}", "{}", 0), keys);
    assert_refused(forge(rsa, "{\"alg\":\"rs256\"}", "{}", 0), keys);
    assert_refused(forge(rsa, "{\"kid\":\"x\"}", "{}", 0), keys);
}

static void test_hs256_keyed_with_the_public_key_is_refused(void **state)
{
    apr_file_t *f;
    char pem[4096];
    apr_size_t len = sizeof(pem);
    unsigned char mac[32];
    size_t maclen;
    const char *input, *headers[2];
    int i;

    assert_int_equal(apr_file_open(&f, key_path(unit_pool, "rsa.pub.pem"),
                                   APR_FOPEN_READ, 0, unit_pool),
                     APR_SUCCESS);
    apr_file_read_full(f, pem, sizeof(pem), &len);
    apr_file_close(f);
    headers[0] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    headers[1] = header_for(rsa, "HS256");
    for (i = 0; i < 2; i++) {
        input = apr_pstrcat(unit_pool, b64(headers[i]), ".",
                            b64("{\"sub\":\"admin\"}"), NULL);
        assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, pem,
                                  len, (const unsigned char *)input,
                                  strlen(input), mac, sizeof(mac), &maclen));
        assert_refused(apr_pstrcat(unit_pool, input, ".",
                                   apiauth_b64url_encode(unit_pool, mac,
                                                         maclen), NULL),
                       key_set(rsa, NULL));
    }
}

static void test_alg_that_does_not_match_the_key_is_refused(void **state)
{
    apr_array_header_t *keys = key_set(rsa, ec);

    /* the RSA key's kid, signed by RSA, but claiming ES256 */
    assert_refused(forge(rsa, header_for(rsa, "ES256"), "{}", 0), keys);
    assert_refused(forge(ed, header_for(ed, "RS256"), "{}", 0),
                   key_set(ed, rsa));
    assert_refused(forge(ec, header_for(ec, "EdDSA"), "{}", 0), keys);
}

static void test_unknown_kid_is_refused(void **state)
{
    apiauth_error_t e;

    assert_int_equal(verify(sign(ec2), key_set(ec, rsa), &e), APIAUTH_DENIED);
    assert_string_equal(e.description, "no key has the token's kid");
    assert_refused(forge(ec, "{\"alg\":\"ES256\",\"kid\":7}", "{}", 0),
                   key_set(ec, NULL));
}

static void test_missing_kid_needs_exactly_one_candidate_key(void **state)
{
    char *token = forge(ec, "{\"alg\":\"ES256\"}", "{}", 0);
    apiauth_error_t e;

    assert_int_equal(verify(token, key_set(ec, rsa), &e), APIAUTH_OK);
    assert_int_equal(verify(token, key_set(ec, ec2), &e), APIAUTH_DENIED);
    assert_string_equal(e.description,
                        "the token has no kid and several keys could "
                        "verify it");
    assert_refused(token, key_set(rsa, ed));
}

static void test_tampered_payload_is_refused(void **state)
{
    const apiauth_jwk_t *keys[] = {rsa, ec, ed};
    int i;

    for (i = 0; i < 3; i++) {
        char *token = sign(keys[i]);
        char *dot2 = strrchr(token, '.');
        char *forged = apr_pstrcat(unit_pool,
                                   apr_pstrndup(unit_pool, token,
                                                strchr(token, '.') - token),
                                   ".", b64("{\"sub\":\"admin\","
                                            "\"exp\":2000000000}"),
                                   dot2, NULL);
        assert_refused(forged, key_set(keys[i], NULL));
    }
}

static void test_tampered_signature_is_refused(void **state)
{
    const apiauth_jwk_t *keys[] = {rsa, ec, ed};
    int i;

    for (i = 0; i < 3; i++) {
        char *token = sign(keys[i]);
        char *last = strrchr(token, '.') + 1;

        /* first character of the signature: its bits all count */
        *last = *last == 'A' ? 'B' : 'A';
        assert_refused(token, key_set(keys[i], NULL));
        /* a truncated signature */
        token = sign(keys[i]);
        token[strlen(token) - 4] = '\0';
        assert_refused(token, key_set(keys[i], NULL));
    }
}

static void test_malformed_serialisation_is_refused(void **state)
{
    char *t = sign(ec);
    char *dot1 = strchr(t, '.'), *dot2 = strrchr(t, '.');
    const char *head = apr_pstrndup(unit_pool, t, dot1 - t);
    const char *body = apr_pstrndup(unit_pool, dot1 + 1, dot2 - dot1 - 1);
    const char *sig = dot2 + 1;
    const char *bad[] = {
        "",
        apr_pstrcat(unit_pool, head, ".", body, NULL),
        apr_pstrcat(unit_pool, t, ".", sig, NULL),
        apr_pstrcat(unit_pool, ".", body, ".", sig, NULL),
        apr_pstrcat(unit_pool, head, "..", sig, NULL),
        apr_pstrcat(unit_pool, head, ".", body, ".", NULL),
        apr_pstrcat(unit_pool, head, "!.", body, ".", sig, NULL),
        apr_pstrcat(unit_pool, head, ".", body, ".", sig, "=", NULL),
        apr_pstrcat(unit_pool, head, ".", body, "+.", sig, NULL),
        apr_pstrcat(unit_pool, " ", t, NULL),
    };
    size_t i;

    assert_refused(NULL, key_set(ec, NULL));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_refused(bad[i], key_set(ec, NULL));
    }
}

static void test_oversized_token_is_refused(void **state)
{
    json_t *payload = claims();
    char *padding = apr_palloc(unit_pool, APIAUTH_JWS_MAX_LEN);
    apiauth_error_t e;
    char *token;

    memset(padding, 'x', APIAUTH_JWS_MAX_LEN - 1);
    padding[APIAUTH_JWS_MAX_LEN - 1] = '\0';
    json_object_set_new(payload, "pad", json_string(padding));
    token = apiauth_jws_sign(unit_pool, ec, NULL, payload);
    json_decref(payload);
    assert_true(strlen(token) > APIAUTH_JWS_MAX_LEN);
    assert_int_equal(verify(token, key_set(ec, NULL), &e), APIAUTH_DENIED);
    assert_string_equal(e.description, "the token is too long");
}

static void test_duplicate_json_member_is_refused(void **state)
{
    const char *dup_header = apr_psprintf(unit_pool,
                                          "{\"alg\":\"ES256\",\"kid\":\"%s\","
                                          "\"alg\":\"ES256\"}",
                                          apiauth_jwk_kid(ec));

    assert_refused(forge(ec, dup_header, "{}", 0), key_set(ec, NULL));
    assert_refused(forge(ec, header_for(ec, NULL),
                         "{\"sub\":\"alice\",\"sub\":\"admin\"}", 0),
                   key_set(ec, NULL));
}

static void test_crit_header_is_refused(void **state)
{
    const char *h = apr_psprintf(unit_pool,
                                 "{\"alg\":\"ES256\",\"kid\":\"%s\","
                                 "\"crit\":[\"exp\"],\"exp\":1}",
                                 apiauth_jwk_kid(ec));
    apiauth_error_t e;

    assert_int_equal(verify(forge(ec, h, "{}", 0), key_set(ec, NULL), &e),
                     APIAUTH_DENIED);
    assert_string_equal(e.description, "the token has a crit header");
}

static void test_es256_der_signature_is_refused(void **state)
{
    apiauth_error_t e;

    assert_int_equal(verify(forge(ec, header_for(ec, NULL), "{}", 0),
                            key_set(ec, NULL), &e), APIAUTH_OK);
    assert_int_equal(verify(forge(ec, header_for(ec, NULL), "{}", 1),
                            key_set(ec, NULL), &e), APIAUTH_DENIED);
    assert_string_equal(e.description, "an ES256 signature must be 64 bytes");
}

static void test_header_and_payload_must_be_json_objects(void **state)
{
    apr_array_header_t *keys = key_set(ed, NULL);

    assert_refused(forge(ed, header_for(ed, NULL), "[1,2]", 0), keys);
    assert_refused(forge(ed, header_for(ed, NULL), "\"text\"", 0), keys);
    assert_refused(forge(ed, header_for(ed, NULL), "{} x", 0), keys);
    assert_refused(forge(ed, "[\"EdDSA\"]", "{}", 0), keys);
}

static void test_public_json_has_the_rfc7518_members(void **state)
{
    json_t *r = apiauth_jwk_public_json(rsa);
    json_t *e = apiauth_jwk_public_json(ec);
    json_t *o = apiauth_jwk_public_json(ed);

    assert_string_equal(json_string_value(json_object_get(r, "kty")), "RSA");
    assert_string_equal(json_string_value(json_object_get(r, "e")), "AQAB");
    assert_int_equal(strlen(json_string_value(json_object_get(r, "n"))), 342);
    assert_string_equal(json_string_value(json_object_get(e, "crv")),
                        "P-256");
    assert_int_equal(strlen(json_string_value(json_object_get(e, "x"))), 43);
    assert_int_equal(strlen(json_string_value(json_object_get(e, "y"))), 43);
    assert_string_equal(json_string_value(json_object_get(o, "kty")), "OKP");
    assert_string_equal(json_string_value(json_object_get(o, "alg")),
                        "EdDSA");
    assert_string_equal(json_string_value(json_object_get(o, "use")), "sig");
    assert_null(json_object_get(r, "d"));
    assert_null(json_object_get(o, "d"));
    json_decref(r);
    json_decref(e);
    json_decref(o);
}

/* Names are case-sensitive; Ed25519 is RFC 9864's fully-specified name of
 * the one EdDSA curve we take, which clients now sign with. */
static void test_alg_names(void **state)
{
    assert_int_equal(apiauth_alg_from_name("RS256"), APIAUTH_ALG_RS256);
    assert_int_equal(apiauth_alg_from_name("ES256"), APIAUTH_ALG_ES256);
    assert_int_equal(apiauth_alg_from_name("EdDSA"), APIAUTH_ALG_EDDSA);
    assert_int_equal(apiauth_alg_from_name("Ed25519"), APIAUTH_ALG_EDDSA);
    assert_int_equal(apiauth_alg_from_name("es256"), APIAUTH_ALG_NONE);
    assert_int_equal(apiauth_alg_from_name("Ed448"), APIAUTH_ALG_NONE);
    assert_int_equal(apiauth_alg_from_name("none"), APIAUTH_ALG_NONE);
    assert_int_equal(apiauth_alg_from_name(NULL), APIAUTH_ALG_NONE);
    assert_string_equal(apiauth_alg_name(APIAUTH_ALG_EDDSA), "EdDSA");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_alg_names),
        UNIT_TEST(test_rs256_token_signs_and_verifies),
        UNIT_TEST(test_es256_token_signs_and_verifies),
        UNIT_TEST(test_eddsa_token_signs_and_verifies),
        UNIT_TEST(test_es256_signature_is_raw_r_s),
        UNIT_TEST(test_kid_is_the_rfc7638_thumbprint),
        UNIT_TEST(test_rfc7638_example_key_has_the_published_thumbprint),
        UNIT_TEST(test_public_json_has_the_rfc7518_members),
        UNIT_TEST(test_jwks_export_parses_back_and_verifies),
        UNIT_TEST(test_public_pem_and_certificate_verify),
        UNIT_TEST(test_certificate_thumbprint_in_every_form),
        UNIT_TEST(test_private_pem_read_as_public_keeps_only_the_public_half),
        UNIT_TEST(test_a_public_key_cannot_sign),
        UNIT_TEST(test_weak_or_unsupported_private_keys_are_refused),
        UNIT_TEST(test_jwks_skips_keys_it_cannot_use_and_keeps_kid),
        UNIT_TEST(test_jwks_alg_that_does_not_fit_the_key_is_refused),
        UNIT_TEST(test_malformed_jwks_is_refused),
        UNIT_TEST(test_alg_none_is_refused),
        UNIT_TEST(test_hs256_keyed_with_the_public_key_is_refused),
        UNIT_TEST(test_alg_that_does_not_match_the_key_is_refused),
        UNIT_TEST(test_unknown_kid_is_refused),
        UNIT_TEST(test_missing_kid_needs_exactly_one_candidate_key),
        UNIT_TEST(test_tampered_payload_is_refused),
        UNIT_TEST(test_tampered_signature_is_refused),
        UNIT_TEST(test_malformed_serialisation_is_refused),
        UNIT_TEST(test_oversized_token_is_refused),
        UNIT_TEST(test_duplicate_json_member_is_refused),
        UNIT_TEST(test_crit_header_is_refused),
        UNIT_TEST(test_es256_der_signature_is_refused),
        UNIT_TEST(test_header_and_payload_must_be_json_objects),
    };
    int rc;

    apr_initialize();
    apiauth_digest_init(NULL);
    rc = cmocka_run_group_tests_name("jose", tests, make_keys, remove_keys);
    apr_terminate();
    return rc;
}
