/*
 * test_dpop.c: DPoP proofs (RFC 9449) and the URL normal form they are
 * compared in (RFC 3986 §6.2.2-6.2.3).
 *
 * The vectors are RFC 9449's own: the proof of §4.1 for the token
 * endpoint and the proof of §7.1 for a resource, by the key whose RFC 7638
 * thumbprint the RFC gives.  Each refusal is that proof (or one built like
 * it) with one thing wrong.
 */
#include <apr_strings.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "unit.h"

#include "digest.h"
#include "dpop.h"
#include "encoding.h"
#include "url.h"

#define RFC_JKT "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
#define RFC_HEADER \
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6" \
    "Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZF" \
    "NGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2" \
    "In19"
/* POST https://server.example.com/token at 1562262616 */
#define RFC_TOKEN_PROOF \
    RFC_HEADER \
    ".eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8v" \
    "c2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ" \
    ".2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK7" \
    "0nfbV37xRZT3Lg"
/* GET https://resource.example.org/protectedresource at 1562262618 */
#define RFC_RESOURCE_PROOF \
    RFC_HEADER \
    ".eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9y" \
    "ZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYx" \
    "OCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9" \
    ".2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-j" \
    "fxSYoMxhAJpLjA"
#define RFC_ACCESS_TOKEN "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"

static apiauth_dpop_expect_t at_token_endpoint(void)
{
    apiauth_dpop_expect_t e = {"POST", "https://server.example.com/token",
                               NULL, NULL, 1562262616, 60};
    return e;
}

static apiauth_dpop_expect_t at_resource(void)
{
    apiauth_dpop_expect_t e = {"GET",
                               "https://resource.example.org/protectedresource",
                               RFC_ACCESS_TOKEN, NULL, 1562262618, 60};
    return e;
}

static apiauth_status_t verify(const char *proof, apiauth_dpop_expect_t e,
                               apiauth_dpop_proof_t *out,
                               apiauth_error_t *err)
{
    memset(err, 0, sizeof(*err));
    return apiauth_dpop_verify(unit_pool, proof, &e, out, err);
}

static void assert_refused(const char *proof, apiauth_dpop_expect_t e,
                           const char *error, const char *words)
{
    apiauth_dpop_proof_t out;
    apiauth_error_t err;

    assert_int_equal(verify(proof, e, &out, &err), APIAUTH_DENIED);
    assert_string_equal(err.error, error);
    if (strstr(err.description, words) == NULL) {
        fail_msg("refused for \"%s\", not \"%s\"", err.description, words);
    }
}

/* A compact JWS of the RFC's header or another, a payload, a signature. */
static const char *compact(const char *header_json, const char *payload_json,
                           const char *signature)
{
    return apr_pstrcat(
        unit_pool,
        header_json ? apiauth_b64url_encode(unit_pool, header_json,
                                            strlen(header_json))
                    : RFC_HEADER,
        ".",
        apiauth_b64url_encode(unit_pool, payload_json, strlen(payload_json)),
        ".", signature, NULL);
}

/* --- RFC 9449's vectors ----------------------------------------------- */

static void test_rfc_token_endpoint_proof_verifies(void **state)
{
    apiauth_dpop_proof_t out;
    apiauth_error_t err;
    apiauth_dpop_expect_t e = at_token_endpoint();

    /* the URL as another client would write it: the same URL */
    e.url = "HTTPS://Server.Example.COM:443/token?x=1#y";
    assert_int_equal(verify(RFC_TOKEN_PROOF, e, &out, &err), APIAUTH_OK);
    assert_string_equal(out.jkt, RFC_JKT);
    assert_string_equal(out.jti, "-BwC3ESc6acc2lTc");
    assert_true(out.iat == 1562262616);
}

static void test_rfc_resource_proof_verifies_with_its_token(void **state)
{
    apiauth_dpop_proof_t out;
    apiauth_error_t err;

    assert_int_equal(verify(RFC_RESOURCE_PROOF, at_resource(), &out, &err),
                     APIAUTH_OK);
    assert_string_equal(out.jkt, RFC_JKT);
    assert_string_equal(apiauth_dpop_ath(unit_pool, RFC_ACCESS_TOKEN),
                        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
}

/* --- refusals --------------------------------------------------------- */

static void test_proof_for_another_method_or_url(void **state)
{
    apiauth_dpop_expect_t e = at_resource();

    e.method = "POST";
    assert_refused(RFC_RESOURCE_PROOF, e, "invalid_dpop_proof", "htm");
    e = at_resource();
    e.url = "https://resource.example.org/other";
    assert_refused(RFC_RESOURCE_PROOF, e, "invalid_dpop_proof", "htu");
    e.url = "http://resource.example.org/protectedresource";
    assert_refused(RFC_RESOURCE_PROOF, e, "invalid_dpop_proof", "htu");
    e.url = "https://resource.example.org:8443/protectedresource";
    assert_refused(RFC_RESOURCE_PROOF, e, "invalid_dpop_proof", "htu");
}

static void test_proof_for_another_token(void **state)
{
    apiauth_dpop_expect_t e = at_resource();

    e.access_token = "another-token";
    assert_refused(RFC_RESOURCE_PROOF, e, "invalid_dpop_proof", "ath");
    /* a token-endpoint proof has no ath: it is no proof for a token */
    e = at_token_endpoint();
    e.access_token = RFC_ACCESS_TOKEN;
    assert_refused(RFC_TOKEN_PROOF, e, "invalid_dpop_proof", "ath");
}

static void test_stale_or_future_iat(void **state)
{
    apiauth_dpop_expect_t e = at_token_endpoint();

    e.now += 61;
    assert_refused(RFC_TOKEN_PROOF, e, "invalid_dpop_proof", "iat");
    e.now = 1562262616 - 61;
    assert_refused(RFC_TOKEN_PROOF, e, "invalid_dpop_proof", "iat");
    /* at the edge of the window it is still taken */
    e.now = 1562262616 + 60;
    {
        apiauth_dpop_proof_t out;
        apiauth_error_t err;
        assert_int_equal(verify(RFC_TOKEN_PROOF, e, &out, &err), APIAUTH_OK);
    }
}

static void test_a_changed_payload_breaks_the_signature(void **state)
{
    const char *proof = compact(NULL, "{\"jti\":\"-BwC3ESc6acc2lTc\",\"htm\":"
                                "\"POST\",\"htu\":\"https://server.example."
                                "com/token\",\"iat\":1562262617}",
                                strrchr(RFC_TOKEN_PROOF, '.') + 1);

    assert_refused(proof, at_token_endpoint(), "invalid_dpop_proof",
                   "signature");
}

static const char *rfc_jwk =
    "{\"kty\":\"EC\",\"x\":\"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs\","
    "\"y\":\"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA\",\"crv\":\"P-256\"";

static void test_header_refusals(void **state)
{
    const char *payload = "{\"jti\":\"x\",\"htm\":\"POST\",\"htu\":\"https://"
                          "server.example.com/token\",\"iat\":1562262616}";
    const char *sig = strrchr(RFC_TOKEN_PROOF, '.') + 1;

    /* alg none, HS256: no asymmetric key, no proof */
    assert_refused(compact(apr_pstrcat(unit_pool, "{\"typ\":\"dpop+jwt\","
                                       "\"alg\":\"none\",\"jwk\":", rfc_jwk,
                                       "}}", NULL), payload, ""),
                   at_token_endpoint(), "invalid_dpop_proof", "segments");
    assert_refused(compact(apr_pstrcat(unit_pool, "{\"typ\":\"dpop+jwt\","
                                       "\"alg\":\"none\",\"jwk\":", rfc_jwk,
                                       "}}", NULL), payload, sig),
                   at_token_endpoint(), "invalid_dpop_proof", "alg");
    assert_refused(compact(apr_pstrcat(unit_pool, "{\"typ\":\"dpop+jwt\","
                                       "\"alg\":\"HS256\",\"jwk\":", rfc_jwk,
                                       "}}", NULL), payload, sig),
                   at_token_endpoint(), "invalid_dpop_proof", "alg");
    /* a private member in the jwk */
    assert_refused(compact(apr_pstrcat(unit_pool, "{\"typ\":\"dpop+jwt\","
                                       "\"alg\":\"ES256\",\"jwk\":", rfc_jwk,
                                       ",\"d\":\"AAAA\"}}", NULL),
                           payload, sig),
                   at_token_endpoint(), "invalid_dpop_proof", "private");
    /* another typ, no jwk */
    assert_refused(compact(apr_pstrcat(unit_pool, "{\"typ\":\"JWT\","
                                       "\"alg\":\"ES256\",\"jwk\":", rfc_jwk,
                                       "}}", NULL), payload, sig),
                   at_token_endpoint(), "invalid_dpop_proof", "typ");
    assert_refused(compact("{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\"}",
                           payload, sig),
                   at_token_endpoint(), "invalid_dpop_proof", "jwk");
    assert_refused("not-a-jws", at_token_endpoint(), "invalid_dpop_proof",
                   "segments");
    assert_refused("", at_token_endpoint(), "invalid_dpop_proof",
                   "required");
}

/* --- proof keys kept between proofs ------------------------------------ */

static void test_thumbprint_of_a_jwk_as_written(void **state)
{
    const char *why = NULL;
    json_t *jwk = json_loads(apr_pstrcat(unit_pool, rfc_jwk, "}", NULL), 0,
                             NULL);

    assert_string_equal(apiauth_jwk_json_thumbprint(unit_pool, jwk, &why),
                        RFC_JKT);
    /* what is not base64url could spell other members into the JSON */
    json_object_set_new(jwk, "y", json_string("a\",\"z\":\"b"));
    assert_null(apiauth_jwk_json_thumbprint(unit_pool, jwk, &why));
    assert_string_equal(why, "malformed public key members");
    json_object_set_new(jwk, "y", json_string("9VE4jf_Ok_o64zbTTlcuNJajHmt6"
                                              "v9TDVrU0CdvGRDA"));
    json_object_set_new(jwk, "d", json_string("AAAA"));
    assert_null(apiauth_jwk_json_thumbprint(unit_pool, jwk, &why));
    assert_non_null(strstr(why, "private"));
    json_decref(jwk);
}

static void test_a_kept_key_still_checks_every_proof(void **state)
{
    apiauth_dpop_expect_t e = at_token_endpoint();
    const char *payload = "{\"jti\":\"x\",\"htm\":\"POST\",\"htu\":"
                          "\"https://server.example.com/token\","
                          "\"iat\":1562262616}";
    const char *sig = strrchr(RFC_TOKEN_PROOF, '.') + 1;
    apiauth_dpop_proof_t out;
    apiauth_error_t err;
    char *odd_x;

    e.keys = apiauth_dpop_keys_create(unit_pool, 4);
    assert_non_null(e.keys);
    /* imported, then found */
    assert_int_equal(verify(RFC_TOKEN_PROOF, e, &out, &err), APIAUTH_OK);
    assert_int_equal(verify(RFC_TOKEN_PROOF, e, &out, &err), APIAUTH_OK);
    assert_string_equal(out.jkt, RFC_JKT);
    /* the kept key verifies, so a changed payload still fails */
    assert_refused(compact(NULL, payload, sig), e, "invalid_dpop_proof",
                   "signature");
    /* the public members it is kept by, with a private one beside */
    assert_refused(compact(apr_pstrcat(unit_pool, "{\"typ\":\"dpop+jwt\","
                                       "\"alg\":\"ES256\",\"jwk\":", rfc_jwk,
                                       ",\"d\":\"AAAA\"}}", NULL),
                           payload, sig),
                   e, "invalid_dpop_proof", "private");
    /* the same point written with other unused bits */
    odd_x = apr_pstrdup(unit_pool, rfc_jwk);
    strstr(odd_x, "BFs\"")[2] = 't';
    assert_refused(compact(apr_pstrcat(unit_pool, "{\"typ\":\"dpop+jwt\","
                                       "\"alg\":\"ES256\",\"jwk\":", odd_x,
                                       "}}", NULL), payload, sig),
                   e, "invalid_dpop_proof", "jwk");
    /* an RSA modulus with a zero byte in front: the same key, but the
     * thumbprint its client computes (cnf.jkt) is not the key's */
    {
        EVP_PKEY *rsa = EVP_RSA_gen(2048);
        BIGNUM *n = NULL;
        unsigned char raw[257];
        json_t *jwk;
        char *text;

        assert_non_null(rsa);
        assert_int_equal(EVP_PKEY_get_bn_param(rsa, "n", &n), 1);
        raw[0] = 0;
        assert_int_equal(BN_bn2binpad(n, raw + 1, 256), 256);
        jwk = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "e", "AQAB", "n",
                        apiauth_b64url_encode(unit_pool, raw, sizeof(raw)));
        assert_refused(compact(apr_pstrcat(unit_pool, "{\"typ\":\"dpop+jwt\","
                                           "\"alg\":\"RS256\",\"jwk\":",
                                           text = json_dumps(jwk, JSON_COMPACT),
                                           "}", NULL), payload, sig),
                       e, "invalid_dpop_proof", "canonical");
        free(text);
        json_decref(jwk);
        BN_free(n);
        EVP_PKEY_free(rsa);
    }
    /* beside the kept key's members, a jwk that is no signing key, or
     * names another alg, or a kid that is no string: refused as the
     * first time */
    assert_refused(compact(apr_pstrcat(unit_pool, "{\"typ\":\"dpop+jwt\","
                                       "\"alg\":\"ES256\",\"jwk\":", rfc_jwk,
                                       ",\"use\":\"enc\"}}", NULL),
                           payload, sig),
                   e, "invalid_dpop_proof", "use");
    assert_refused(compact(apr_pstrcat(unit_pool, "{\"typ\":\"dpop+jwt\","
                                       "\"alg\":\"ES256\",\"jwk\":", rfc_jwk,
                                       ",\"alg\":\"RS256\"}}", NULL),
                           payload, sig),
                   e, "invalid_dpop_proof", "another alg");
    assert_refused(compact(apr_pstrcat(unit_pool, "{\"typ\":\"dpop+jwt\","
                                       "\"alg\":\"ES256\",\"jwk\":", rfc_jwk,
                                       ",\"kid\":7}}", NULL),
                           payload, sig),
                   e, "invalid_dpop_proof", "kid");
    /* and with the ones a key may carry, the kept key verifies */
    assert_int_equal(verify(compact(apr_pstrcat(
                         unit_pool, "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\","
                         "\"jwk\":", rfc_jwk, ",\"use\":\"sig\",\"alg\":"
                         "\"ES256\",\"kid\":\"k1\"}}", NULL), payload, sig),
                            e, &out, &err), APIAUTH_DENIED);
    assert_non_null(strstr(err.description, "signature"));
    /* an RSA key whose public exponent makes every check a full modular
     * exponentiation: refused before any */
    {
        EVP_PKEY *rsa = EVP_RSA_gen(3072);
        BIGNUM *n = NULL, *big = BN_new();
        unsigned char raw[384];
        json_t *jwk;
        char *text;

        assert_non_null(rsa);
        assert_int_equal(EVP_PKEY_get_bn_param(rsa, "n", &n), 1);
        assert_int_equal(BN_bn2binpad(n, raw, sizeof(raw)), sizeof(raw));
        /* an odd exponent of 3000 bits */
        assert_int_equal(BN_rand(big, 3000, BN_RAND_TOP_ONE,
                                 BN_RAND_BOTTOM_ODD), 1);
        {
            unsigned char ebuf[375];
            int elen = BN_bn2bin(big, ebuf);
            jwk = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "e",
                            apiauth_b64url_encode(unit_pool, ebuf,
                                                  (apr_size_t)elen),
                            "n", apiauth_b64url_encode(unit_pool, raw,
                                                       sizeof(raw)));
        }
        assert_refused(compact(apr_pstrcat(unit_pool, "{\"typ\":\"dpop+jwt\","
                                           "\"alg\":\"RS256\",\"jwk\":",
                                           text = json_dumps(jwk, JSON_COMPACT),
                                           "}", NULL), payload, sig),
                       e, "invalid_dpop_proof", "exponent");
        free(text);
        json_decref(jwk);
        BN_free(n);
        BN_free(big);
        EVP_PKEY_free(rsa);
    }
    /* a kept key of another type than the alg the proof names */
    assert_refused(compact(apr_pstrcat(unit_pool, "{\"typ\":\"dpop+jwt\","
                                       "\"alg\":\"RS256\",\"jwk\":", rfc_jwk,
                                       "}}", NULL), payload, sig),
                   e, "invalid_dpop_proof", "alg");
}

/* --- server nonces ---------------------------------------------------- */

static void test_nonces_are_fresh_for_two_slots_under_their_key(void **state)
{
    apiauth_pepper_t *key = NULL, *other = NULL;
    apr_int64_t t = 1700000040;   /* the start of a slot of 120 s */
    const char *n;

    assert_int_equal(apiauth_pepper_derive(unit_pool, NULL, NULL, &key),
                     APIAUTH_OK);
    assert_int_equal(apiauth_pepper_derive(unit_pool, NULL, NULL, &other),
                     APIAUTH_OK);
    n = apiauth_dpop_nonce(unit_pool, key, t);
    assert_non_null(n);
    assert_true(apiauth_dpop_nonce_fresh(unit_pool, key, n, t));
    assert_true(apiauth_dpop_nonce_fresh(unit_pool, key, n,
                                         t + APIAUTH_DPOP_NONCE_SLOT));
    /* from the past window, from the future, another node's key */
    assert_false(apiauth_dpop_nonce_fresh(unit_pool, key, n,
                                          t + 2 * APIAUTH_DPOP_NONCE_SLOT));
    assert_false(apiauth_dpop_nonce_fresh(unit_pool, key, n,
                                          t - APIAUTH_DPOP_NONCE_SLOT));
    assert_false(apiauth_dpop_nonce_fresh(unit_pool, other, n, t));
    assert_false(apiauth_dpop_nonce_fresh(unit_pool, key, "AAAA", t));
    assert_false(apiauth_dpop_nonce_fresh(unit_pool, key, NULL, t));
    /* a slot with its top bit set (read unsigned: no overflow) */
    assert_false(apiauth_dpop_nonce_fresh(unit_pool, key,
                                          "________________________________",
                                          t));
}

static void test_a_proof_without_the_nonce_asked_for(void **state)
{
    apiauth_pepper_t *key = NULL;
    apiauth_dpop_expect_t e = at_token_endpoint();

    assert_int_equal(apiauth_pepper_derive(unit_pool, NULL, NULL, &key),
                     APIAUTH_OK);
    e.nonce_key = key;
    assert_refused(RFC_TOKEN_PROOF, e, "use_dpop_nonce", "nonce");
}

/* --- URLs ------------------------------------------------------------- */

static void test_urls_in_normal_form(void **state)
{
    static const char *const same[][2] = {
        {"HTTPS://Example.COM:443/a/b", "https://example.com/a/b"},
        {"http://example.com:80", "http://example.com/"},
        {"https://example.com:8443/x?q=1#f", "https://example.com:8443/x"},
        {"https://example.com/%7euser/%2f%41", "https://example.com/~user/%2FA"},
        {"https://example.com/a/./b/../c", "https://example.com/a/c"},
        {"https://example.com/a/..", "https://example.com/"},
        {"https://[::1]:8443/t", "https://[::1]:8443/t"},
        {"https://example.com:/t", "https://example.com/t"},
    };
    static const char *const bad[] = {
        "ftp://example.com/", "https://", "https://user@example.com/",
        "https://example.com:99999/", "https://example.com:0/",
        "https://example.com/%zz", "https://example.com/a b", "/relative",
    };
    size_t i;

    for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        const char *n = apiauth_url_normalise(unit_pool, same[i][0]);
        if (n == NULL || strcmp(n, same[i][1]) != 0) {
            fail_msg("%s -> %s, not %s", same[i][0], n ? n : "NULL",
                     same[i][1]);
        }
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (apiauth_url_normalise(unit_pool, bad[i]) != NULL) {
            fail_msg("%s taken", bad[i]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_rfc_token_endpoint_proof_verifies),
        UNIT_TEST(test_rfc_resource_proof_verifies_with_its_token),
        UNIT_TEST(test_proof_for_another_method_or_url),
        UNIT_TEST(test_proof_for_another_token),
        UNIT_TEST(test_stale_or_future_iat),
        UNIT_TEST(test_a_changed_payload_breaks_the_signature),
        UNIT_TEST(test_header_refusals),
        UNIT_TEST(test_thumbprint_of_a_jwk_as_written),
        UNIT_TEST(test_a_kept_key_still_checks_every_proof),
        UNIT_TEST(test_nonces_are_fresh_for_two_slots_under_their_key),
        UNIT_TEST(test_a_proof_without_the_nonce_asked_for),
        UNIT_TEST(test_urls_in_normal_form),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("dpop", tests, NULL, NULL);
    apr_terminate();
    return rc;
}
