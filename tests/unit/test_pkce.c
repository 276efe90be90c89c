/*
 * test_pkce.c: S256 challenges and verifiers (pkce.c, RFC 7636).
 *
 * A refusal is only worth testing when the pair would otherwise match, so
 * the malformed verifiers below are checked against their own real S256
 * challenge: what refuses them is the format check, not the hash.
 */
#include "unit.h"

#include <apr_strings.h>
#include <openssl/evp.h>

#include "encoding.h"
#include "pkce.h"

/* RFC 7636 Appendix B */
#define RFC_VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define RFC_CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

/* BASE64URL(SHA256(s)), computed with OpenSSL directly. */
static const char *s256(const char *s)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    assert_int_equal(EVP_Digest(s, strlen(s), d, &len, EVP_sha256(), NULL),
                     1);
    return apiauth_b64url_encode(unit_pool, d, len);
}

static char *repeat(char c, int n)
{
    char *s = apr_palloc(unit_pool, n + 1);

    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void test_rfc7636_appendix_b_verifier_matches_its_challenge(
    void **state)
{
    assert_string_equal(s256(RFC_VERIFIER), RFC_CHALLENGE);
    assert_true(apiauth_pkce_verifier_valid(RFC_VERIFIER));
    assert_true(apiauth_pkce_challenge_valid(RFC_CHALLENGE));
    assert_int_equal(apiauth_pkce_matches(unit_pool, RFC_VERIFIER,
                                          RFC_CHALLENGE), 1);
}

static void test_another_verifier_does_not_match(void **state)
{
    char *v = apr_pstrdup(unit_pool, RFC_VERIFIER);

    v[0] = 'e';
    assert_true(apiauth_pkce_verifier_valid(v));
    assert_int_equal(apiauth_pkce_matches(unit_pool, v, RFC_CHALLENGE), 0);
    /* one character more or less is another verifier too */
    assert_int_equal(apiauth_pkce_matches(unit_pool,
                                          RFC_VERIFIER "A", RFC_CHALLENGE), 0);
}

static void test_another_challenge_does_not_match(void **state)
{
    char *c = apr_pstrdup(unit_pool, RFC_CHALLENGE);

    c[42] = c[42] == 'M' ? 'N' : 'M';
    assert_int_equal(apiauth_pkce_matches(unit_pool, RFC_VERIFIER, c), 0);
    c = apr_pstrdup(unit_pool, RFC_CHALLENGE);
    c[0] = 'e';
    assert_int_equal(apiauth_pkce_matches(unit_pool, RFC_VERIFIER, c), 0);
}

static void test_verifiers_of_43_and_128_characters_match(void **state)
{
    const char *shortest = repeat('a', 43), *longest = repeat('Z', 128);

    assert_true(apiauth_pkce_verifier_valid(shortest));
    assert_true(apiauth_pkce_verifier_valid(longest));
    assert_int_equal(apiauth_pkce_matches(unit_pool, shortest,
                                          s256(shortest)), 1);
    assert_int_equal(apiauth_pkce_matches(unit_pool, longest, s256(longest)),
                     1);
}

static void test_verifier_of_42_characters_is_too_short(void **state)
{
    const char *v = repeat('a', 42);

    assert_false(apiauth_pkce_verifier_valid(v));
    assert_int_equal(apiauth_pkce_matches(unit_pool, v, s256(v)), 0);
}

static void test_verifier_of_129_characters_is_too_long(void **state)
{
    const char *v = repeat('a', 129);

    assert_false(apiauth_pkce_verifier_valid(v));
    assert_int_equal(apiauth_pkce_matches(unit_pool, v, s256(v)), 0);
}

static void test_verifier_may_use_every_unreserved_character(void **state)
{
    const char *v = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    "0123456789-._~";

    assert_true(apiauth_pkce_verifier_valid(v));
    assert_int_equal(apiauth_pkce_matches(unit_pool, v, s256(v)), 1);
}

static void test_verifier_with_illegal_characters_does_not_match(void **state)
{
    /* RFC 7636 §4.1: unreserved only -- no base64 '+' '/' '=', no
     * percent-encoding, no space, nothing outside ASCII */
    const char *illegal[] = {"+", "/", "=", "%", " ", "!", "*", "\t",
                             "\xc3\xa9", "\x7f", "\n"};
    size_t i;

    for (i = 0; i < sizeof(illegal) / sizeof(illegal[0]); i++) {
        const char *v = apr_pstrcat(unit_pool, repeat('a', 42), illegal[i],
                                    NULL);
        if (apiauth_pkce_verifier_valid(v)
            || apiauth_pkce_matches(unit_pool, v, s256(v)) != 0) {
            fail_msg("verifier with %s accepted", illegal[i]);
        }
    }
}

static void test_missing_or_empty_verifier_is_invalid(void **state)
{
    assert_false(apiauth_pkce_verifier_valid(NULL));
    assert_false(apiauth_pkce_verifier_valid(""));
    assert_int_equal(apiauth_pkce_matches(unit_pool, NULL, RFC_CHALLENGE), 0);
    assert_int_equal(apiauth_pkce_matches(unit_pool, "", s256("")), 0);
}

static void test_malformed_challenge_does_not_match(void **state)
{
    const char *right = s256(RFC_VERIFIER);
    const char *malformed[] = {
        "",
        RFC_CHALLENGE "=",                      /* padded */
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c", /* 42 */
        RFC_CHALLENGE "A",                      /* 44 */
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM", /* base64, not url */
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw/cM",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw cM",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw.cM",
    };
    size_t i;

    assert_string_equal(right, RFC_CHALLENGE);
    for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        if (apiauth_pkce_challenge_valid(malformed[i])
            || apiauth_pkce_matches(unit_pool, RFC_VERIFIER, malformed[i])
                   != 0) {
            fail_msg("challenge \"%s\" accepted", malformed[i]);
        }
    }
    assert_false(apiauth_pkce_challenge_valid(NULL));
    assert_int_equal(apiauth_pkce_matches(unit_pool, RFC_VERIFIER, NULL), 0);
}

static void test_plain_method_challenge_does_not_match(void **state)
{
    /* a 43-character verifier is shaped like a challenge, but "plain"
     * (challenge = verifier) is not offered: only its hash matches */
    assert_true(apiauth_pkce_challenge_valid(RFC_VERIFIER));
    assert_int_equal(apiauth_pkce_matches(unit_pool, RFC_VERIFIER,
                                          RFC_VERIFIER), 0);
}

static void test_challenge_validity_is_43_base64url_characters(void **state)
{
    assert_true(apiauth_pkce_challenge_valid(RFC_CHALLENGE));
    assert_true(apiauth_pkce_challenge_valid(repeat('A', 43)));
    assert_true(apiauth_pkce_challenge_valid(
        "-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_A"));
    assert_false(apiauth_pkce_challenge_valid(repeat('A', 42)));
    assert_false(apiauth_pkce_challenge_valid(repeat('A', 44)));
    assert_false(apiauth_pkce_challenge_valid(repeat('~', 43)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_rfc7636_appendix_b_verifier_matches_its_challenge),
        UNIT_TEST(test_another_verifier_does_not_match),
        UNIT_TEST(test_another_challenge_does_not_match),
        UNIT_TEST(test_verifiers_of_43_and_128_characters_match),
        UNIT_TEST(test_verifier_of_42_characters_is_too_short),
        UNIT_TEST(test_verifier_of_129_characters_is_too_long),
        UNIT_TEST(test_verifier_may_use_every_unreserved_character),
        UNIT_TEST(test_verifier_with_illegal_characters_does_not_match),
        UNIT_TEST(test_missing_or_empty_verifier_is_invalid),
        UNIT_TEST(test_malformed_challenge_does_not_match),
        UNIT_TEST(test_plain_method_challenge_does_not_match),
        UNIT_TEST(test_challenge_validity_is_43_base64url_characters),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("pkce", tests, NULL, NULL);
    apr_terminate();
    return rc;
}
