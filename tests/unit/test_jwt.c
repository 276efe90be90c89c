/*
 * test_jwt.c: RFC 9068 access-token claims (jwt.c).
 *
 * Tokens are signed with a fresh P-256 key through apiauth_jws_sign, so
 * every refusal here is a claim check: the signature is always good.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include <apr_strings.h>

#include "digest.h"
#include "encoding.h"
#include "jwt.h"

#define ISSUER "https://issuer.example"
#define AUDIENCE "https://api.example"
#define NOW 1800000000

static char keydir[] = "/tmp/apiauth-jwt-XXXXXX";
static apr_pool_t *key_pool;
static apiauth_jwk_t *key;
static apr_array_header_t *keys;

static int make_key(void **state)
{
    char cmd[256];
    const char *errmsg;

    if (mkdtemp(keydir) == NULL) {
        return -1;
    }
    snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm EC -pkeyopt "
             "ec_paramgen_curve:P-256 -out %s/ec.pem 2>/dev/null", keydir);
    if (system(cmd) != 0 || apr_pool_create(&key_pool, NULL) != APR_SUCCESS
        || apiauth_jwk_load_private(key_pool,
                                    apr_pstrcat(key_pool, keydir, "/ec.pem",
                                                NULL),
                                    &key, &errmsg) != APIAUTH_OK) {
        return -1;
    }
    keys = apr_array_make(key_pool, 1, sizeof(apiauth_jwk_t *));
    APR_ARRAY_PUSH(keys, apiauth_jwk_t *) = key;
    return 0;
}

static int remove_key(void **state)
{
    char cmd[256];

    apr_pool_destroy(key_pool);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", keydir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Claims as the token endpoint issues them, valid at NOW. */
static json_t *good_claims(void)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}",
                     "iss", ISSUER, "aud", AUDIENCE, "sub", "alice",
                     "client_id", "cli_demo", "scope", "orders.read",
                     "jti", "jti-1", "iat", (json_int_t)NOW - 10,
                     "nbf", (json_int_t)NOW - 10,
                     "exp", (json_int_t)NOW + 3600);
}

static const apiauth_jwt_expect_t expect_default = {
    ISSUER, AUDIENCE, "at+jwt", NOW, 60
};

/* Signs `payload` (consumed) with header typ `typ`. */
static char *mint(json_t *payload, const char *typ)
{
    char *token = apiauth_jws_sign(unit_pool, key, typ, payload);

    json_decref(payload);
    assert_non_null(token);
    return token;
}

static json_t *claims_with(const char *name, json_t *value)
{
    json_t *c = good_claims();

    if (value) {
        json_object_set_new(c, name, value);
    }
    else {
        json_object_del(c, name);
    }
    return c;
}

static apiauth_status_t check(const char *token,
                              const apiauth_jwt_expect_t *expect,
                              apiauth_jwt_claims_t *claims,
                              apiauth_error_t *err)
{
    err->error = err->description = NULL;
    return apiauth_jwt_verify(unit_pool, token, keys, expect, claims, err);
}

static void assert_refused_as(const char *token, const char *why)
{
    apiauth_jwt_claims_t c;
    apiauth_error_t e;

    assert_int_equal(check(token, &expect_default, &c, &e), APIAUTH_DENIED);
    assert_string_equal(e.error, "invalid_token");
    assert_string_equal(e.description, why);
}

static void test_valid_access_token_yields_its_claims(void **state)
{
    apiauth_jwt_claims_t c;
    apiauth_error_t e;

    assert_int_equal(check(mint(good_claims(), "at+jwt"), &expect_default,
                           &c, &e), APIAUTH_OK);
    assert_string_equal(c.iss, ISSUER);
    assert_string_equal(c.sub, "alice");
    assert_string_equal(c.client_id, "cli_demo");
    assert_string_equal(c.scope, "orders.read");
    assert_string_equal(c.jti, "jti-1");
    assert_string_equal(c.kid, apiauth_jwk_kid(key));
    assert_true(c.exp == NOW + 3600);
    assert_true(c.iat == NOW - 10);
    assert_true(c.nbf == NOW - 10);
    assert_string_equal(json_string_value(json_object_get(c.payload, "aud")),
                        AUDIENCE);
}

static void test_expired_token_is_refused(void **state)
{
    assert_refused_as(mint(claims_with("exp", json_integer(NOW - 61)),
                           "at+jwt"), "the token has expired");
    assert_refused_as(mint(claims_with("exp", json_integer(NOW - 60)),
                           "at+jwt"), "the token has expired");
}

static void test_leeway_is_honoured(void **state)
{
    apiauth_jwt_expect_t strict = expect_default;
    apiauth_jwt_claims_t c;
    apiauth_error_t e;
    char *late = mint(claims_with("exp", json_integer(NOW - 30)), "at+jwt");
    char *early = mint(claims_with("nbf", json_integer(NOW + 30)), "at+jwt");
    char *skewed = mint(claims_with("iat", json_integer(NOW + 30)), "at+jwt");

    assert_int_equal(check(late, &expect_default, &c, &e), APIAUTH_OK);
    assert_int_equal(check(early, &expect_default, &c, &e), APIAUTH_OK);
    assert_int_equal(check(skewed, &expect_default, &c, &e), APIAUTH_OK);
    strict.leeway = 0;
    assert_int_equal(check(late, &strict, &c, &e), APIAUTH_DENIED);
    assert_int_equal(check(early, &strict, &c, &e), APIAUTH_DENIED);
    assert_int_equal(check(skewed, &strict, &c, &e), APIAUTH_DENIED);
    strict.leeway = -100;
    assert_int_equal(check(mint(good_claims(), "at+jwt"), &strict, &c, &e),
                     APIAUTH_OK);
}

static void test_nbf_in_the_future_is_refused(void **state)
{
    assert_refused_as(mint(claims_with("nbf", json_integer(NOW + 61)),
                           "at+jwt"), "the token is not valid yet");
}

static void test_iat_in_the_future_beyond_leeway_is_refused(void **state)
{
    assert_refused_as(mint(claims_with("iat", json_integer(NOW + 61)),
                           "at+jwt"), "the token was issued in the future");
}

static void test_nbf_is_optional(void **state)
{
    apiauth_jwt_claims_t claims;
    apiauth_error_t e;

    assert_int_equal(check(mint(claims_with("nbf", NULL), "at+jwt"),
                           &expect_default, &claims, &e),
                     APIAUTH_OK);
    assert_true(claims.nbf == 0 && claims.iat == NOW - 10);
}

static void test_token_without_iat_is_refused(void **state)
{
    /* RFC 9068 §2.2: iat is REQUIRED of a JWT access token */
    assert_refused_as(mint(claims_with("iat", NULL), "at+jwt"),
                      "the token has no iat");
}

static void test_wrong_issuer_is_refused(void **state)
{
    assert_refused_as(mint(claims_with("iss",
                                       json_string("https://evil.example")),
                           "at+jwt"), "wrong issuer");
    assert_refused_as(mint(claims_with("iss",
                                       json_string(ISSUER "/")),
                           "at+jwt"), "wrong issuer");
    assert_refused_as(mint(claims_with("iss", NULL), "at+jwt"),
                      "wrong issuer");
    assert_refused_as(mint(claims_with("iss", json_integer(1)), "at+jwt"),
                      "wrong issuer");
}

static void test_missing_audience_is_refused(void **state)
{
    assert_refused_as(mint(claims_with("aud", NULL), "at+jwt"),
                      "the token has no valid aud");
    assert_refused_as(mint(claims_with("aud", json_integer(3)), "at+jwt"),
                      "the token has no valid aud");
}

static void test_wrong_audience_is_refused(void **state)
{
    assert_refused_as(mint(claims_with("aud",
                                       json_string("https://other.example")),
                           "at+jwt"), "wrong audience");
    assert_refused_as(mint(claims_with("aud", json_pack("[s]",
                                                        "https://other")),
                           "at+jwt"), "wrong audience");
    assert_refused_as(mint(claims_with("aud", json_array()), "at+jwt"),
                      "wrong audience");
    assert_refused_as(mint(claims_with("aud", json_pack("[s, i]", AUDIENCE,
                                                        1)),
                           "at+jwt"), "the token has no valid aud");
}

static void test_audience_array_containing_ours_is_accepted(void **state)
{
    apiauth_jwt_claims_t c;
    apiauth_error_t e;
    json_t *aud = json_pack("[s, s]", "https://other.example", AUDIENCE);

    assert_int_equal(check(mint(claims_with("aud", aud), "at+jwt"),
                           &expect_default, &c, &e), APIAUTH_OK);
}

static void test_missing_sub_client_id_or_jti_is_refused(void **state)
{
    const char *names[] = {"sub", "client_id", "jti"};
    int i;

    for (i = 0; i < 3; i++) {
        assert_refused_as(mint(claims_with(names[i], NULL), "at+jwt"),
                          "the token lacks sub, client_id or jti");
        assert_refused_as(mint(claims_with(names[i], json_integer(5)),
                               "at+jwt"),
                          "the token lacks sub, client_id or jti");
        assert_refused_as(mint(claims_with(names[i], json_string("")),
                               "at+jwt"),
                          "the token lacks sub, client_id or jti");
    }
}

static void test_exp_must_be_an_integer(void **state)
{
    assert_refused_as(mint(claims_with("exp", json_string("1900000000")),
                           "at+jwt"), "a date claim is not an integer");
    assert_refused_as(mint(claims_with("exp", json_real(1900000000.0)),
                           "at+jwt"), "a date claim is not an integer");
    assert_refused_as(mint(claims_with("nbf", json_string("0")), "at+jwt"),
                      "a date claim is not an integer");
    assert_refused_as(mint(claims_with("exp", NULL), "at+jwt"),
                      "the token has no exp");
}

static void test_wrong_typ_is_refused(void **state)
{
    assert_refused_as(mint(good_claims(), "JWT"), "wrong token type (typ)");
    assert_refused_as(mint(good_claims(), NULL), "wrong token type (typ)");
    assert_refused_as(mint(good_claims(), "application/jwt"),
                      "wrong token type (typ)");
    assert_refused_as(mint(good_claims(), "text/at+jwt"),
                      "wrong token type (typ)");
}

static void test_application_at_jwt_typ_is_accepted(void **state)
{
    const char *forms[] = {"at+jwt", "application/at+jwt", "AT+JWT",
                           "Application/At+Jwt"};
    apiauth_jwt_expect_t any = expect_default;
    apiauth_jwt_claims_t c;
    apiauth_error_t e;
    int i;

    for (i = 0; i < 4; i++) {
        assert_int_equal(check(mint(good_claims(), forms[i]), &expect_default,
                               &c, &e), APIAUTH_OK);
    }
    any.typ = NULL;
    assert_int_equal(check(mint(good_claims(), NULL), &any, &c, &e),
                     APIAUTH_OK);
}

static void test_absent_scope_reads_as_empty(void **state)
{
    apiauth_jwt_claims_t c;
    apiauth_error_t e;

    assert_int_equal(check(mint(claims_with("scope", NULL), "at+jwt"),
                           &expect_default, &c, &e), APIAUTH_OK);
    assert_string_equal(c.scope, "");
    assert_refused_as(mint(claims_with("scope", json_pack("[s]", "a")),
                           "at+jwt"), "the token's scope is not a string");
}

/* RFC 7800: a binding we do not check makes no bearer token */
static void test_a_confirmation_not_checked_here_is_refused(void **state)
{
    apiauth_jwt_claims_t c;
    apiauth_error_t e;
    json_t *bad[] = {
        json_pack("{s:{s:s, s:s}}", "jwk", "kty", "EC", "crv", "P-256"),
        json_pack("{s:s}", "x5t", "AAAA"),
        json_pack("{s:i}", "jkt", 1),
        json_pack("{s:s, s:s}", "jkt", "AAAA", "kid", "k"),
        json_pack("{}"),
        json_string("AAAA"),
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_refused_as(mint(claims_with("cnf", bad[i]), "at+jwt"),
                          "the token is bound by a confirmation method "
                          "not checked here (cnf)");
    }
    assert_int_equal(check(mint(claims_with("cnf", json_pack(
                                    "{s:s, s:s}", "jkt", "AAAA", "x5t#S256",
                                    "BBBB")), "at+jwt"),
                           &expect_default, &c, &e), APIAUTH_OK);
}

static void test_bad_signature_is_refused_before_any_claim(void **state)
{
    char *token = mint(good_claims(), "at+jwt");
    apiauth_jwt_claims_t c;
    apiauth_error_t e;

    token[strlen(token) - 2] = token[strlen(token) - 2] == 'A' ? 'Q' : 'A';
    assert_int_equal(check(token, &expect_default, &c, &e), APIAUTH_DENIED);
    assert_string_equal(e.error, "invalid_token");
    assert_null(c.sub);
}

static void test_missing_issuer_or_audience_setting_fails_closed(void **state)
{
    apiauth_jwt_expect_t unset = expect_default;
    apiauth_jwt_claims_t c;
    apiauth_error_t e;

    unset.audience = NULL;
    assert_int_equal(check(mint(good_claims(), "at+jwt"), &unset, &c, &e),
                     APIAUTH_ERROR);
}

static void test_peek_issuer_reads_iss_without_verifying(void **state)
{
    char *token = mint(good_claims(), "at+jwt");
    const char *unsigned_token = apr_pstrcat(
        unit_pool, apiauth_b64url_encode(unit_pool, "{}", 2), ".",
        apiauth_b64url_encode(unit_pool, "{\"iss\":\"https://x\"}", 19),
        ".AAAA", NULL);

    assert_string_equal(apiauth_jwt_peek_issuer(unit_pool, token), ISSUER);
    assert_string_equal(apiauth_jwt_peek_issuer(unit_pool, unsigned_token),
                        "https://x");
    assert_null(apiauth_jwt_peek_issuer(unit_pool, NULL));
    assert_null(apiauth_jwt_peek_issuer(unit_pool, "aak_notajwt"));
    assert_null(apiauth_jwt_peek_issuer(unit_pool, "a.b.c.d"));
    assert_null(apiauth_jwt_peek_issuer(unit_pool, "e30.!!!.AAAA"));
    assert_null(apiauth_jwt_peek_issuer(unit_pool, "e30.e30.AAAA"));
    assert_null(apiauth_jwt_peek_issuer(
        unit_pool, mint(claims_with("iss", json_integer(1)), NULL)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_valid_access_token_yields_its_claims),
        UNIT_TEST(test_expired_token_is_refused),
        UNIT_TEST(test_leeway_is_honoured),
        UNIT_TEST(test_nbf_in_the_future_is_refused),
        UNIT_TEST(test_iat_in_the_future_beyond_leeway_is_refused),
        UNIT_TEST(test_nbf_is_optional),
        UNIT_TEST(test_token_without_iat_is_refused),
        UNIT_TEST(test_wrong_issuer_is_refused),
        UNIT_TEST(test_missing_audience_is_refused),
        UNIT_TEST(test_wrong_audience_is_refused),
        UNIT_TEST(test_audience_array_containing_ours_is_accepted),
        UNIT_TEST(test_missing_sub_client_id_or_jti_is_refused),
        UNIT_TEST(test_exp_must_be_an_integer),
        UNIT_TEST(test_wrong_typ_is_refused),
        UNIT_TEST(test_application_at_jwt_typ_is_accepted),
        UNIT_TEST(test_absent_scope_reads_as_empty),
        UNIT_TEST(test_a_confirmation_not_checked_here_is_refused),
        UNIT_TEST(test_bad_signature_is_refused_before_any_claim),
        UNIT_TEST(test_missing_issuer_or_audience_setting_fails_closed),
        UNIT_TEST(test_peek_issuer_reads_iss_without_verifying),
    };
    int rc;

    apr_initialize();
    apiauth_digest_init(NULL);
    rc = cmocka_run_group_tests_name("jwt", tests, make_key, remove_key);
    apr_terminate();
    return rc;
}
