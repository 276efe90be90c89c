/*
 * test_credential.c: the Authorization header and its siblings.
 */
#include "unit.h"

#include "credential.h"

#define ALL APIAUTH_SCHEME_ALL

static apiauth_status_t parse_auth(unsigned accepted, const char *header,
                                   apiauth_credential_t *cred,
                                   apiauth_error_t *err)
{
    apiauth_request_material_t m = {0};

    m.accepted = accepted;
    m.authorization = header;
    memset(cred, 0, sizeof(*cred));
    return apiauth_credential_parse(unit_pool, &m, cred, err);
}

static void test_bearer_scheme_name_is_case_insensitive(void **state)
{
    apiauth_credential_t c;
    apiauth_error_t e;
    const char *forms[] = {"Bearer abc.def.ghi", "bearer abc.def.ghi",
                           "BEARER abc.def.ghi", "bEaReR   abc.def.ghi"};
    size_t i;

    for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        assert_int_equal(parse_auth(ALL, forms[i], &c, &e), APIAUTH_OK);
        assert_int_equal(c.scheme, APIAUTH_SCHEME_BEARER);
        assert_string_equal(c.secret, "abc.def.ghi");
        assert_int_equal(c.source, APIAUTH_FROM_AUTHORIZATION);
    }
}

static void test_token_scheme_reads_the_key(void **state)
{
    apiauth_credential_t c;
    apiauth_error_t e;

    assert_int_equal(parse_auth(ALL, "Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b",
                                &c, &e), APIAUTH_OK);
    assert_int_equal(c.scheme, APIAUTH_SCHEME_TOKEN);
    assert_string_equal(c.secret, "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b");
}

static void test_basic_splits_at_the_first_colon(void **state)
{
    apiauth_credential_t c;
    apiauth_error_t e;

    /* public_id:private_api_key, the Twake document's own example */
    assert_int_equal(parse_auth(ALL, "Basic cHVibGljX2lkOnByaXZhdGVfYXBpX2tleQ==",
                                &c, &e), APIAUTH_OK);
    assert_int_equal(c.scheme, APIAUTH_SCHEME_BASIC);
    assert_string_equal(c.secret, "public_id");
    assert_string_equal(c.password, "private_api_key");
    /* "app:" -- an empty password is a password of length 0 */
    assert_int_equal(parse_auth(ALL, "Basic YXBwOg==", &c, &e), APIAUTH_OK);
    assert_string_equal(c.secret, "app");
    assert_string_equal(c.password, "");
    /* "a:b:c": the password keeps its colon */
    assert_int_equal(parse_auth(ALL, "Basic YTpiOmM=", &c, &e), APIAUTH_OK);
    assert_string_equal(c.password, "b:c");
}

static void test_malformed_authorization_is_invalid(void **state)
{
    apiauth_credential_t c;
    apiauth_error_t e;
    const char *bad[] = {
        "",                         /* empty */
        "Bearer",                   /* scheme, no credentials */
        "Bearer ",                  /* same, with the space */
        "Bearer a b",               /* two tokens */
        "Bearer abc, Bearer def",   /* two headers merged by httpd */
        "Bearer \xc3\xa9t\xc3\xa9", /* non-ASCII */
        "Basic !!!!",               /* not base64 */
        "Basic YWJj",               /* "abc": no colon */
        "Basic OnBhc3M=",           /* ":pass": empty user */
        "Basic YQ",                 /* unpadded */
        "Basic YR==",               /* non-canonical trailing bits */
        "Basic YTpiAGM=",           /* "a:b\0c": NUL inside */
        "Basic YTpiCmM=",           /* "a:b\nc": control character */
        "Basic w6k6w6k=",           /* "é:é": non-ASCII */
        "Token a\"b",               /* quote is not token68 */
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        e.error = NULL;
        assert_int_equal(parse_auth(ALL, bad[i], &c, &e), APIAUTH_INVALID);
        assert_string_equal(e.error, "invalid_request");
        assert_non_null(e.description);
    }
}

static void test_oversized_authorization_is_invalid(void **state)
{
    apiauth_credential_t c;
    apiauth_error_t e;
    char *big = apr_palloc(unit_pool, APIAUTH_MAX_AUTHORIZATION + 16);

    memcpy(big, "Bearer ", 7);
    memset(big + 7, 'a', APIAUTH_MAX_AUTHORIZATION);
    big[APIAUTH_MAX_AUTHORIZATION + 7] = '\0';
    assert_int_equal(parse_auth(ALL, big, &c, &e), APIAUTH_INVALID);
}

static void test_unaccepted_or_foreign_scheme_is_no_credential(void **state)
{
    apiauth_credential_t c;
    apiauth_error_t e;

    assert_int_equal(parse_auth(ALL, "Digest username=\"x\"", &c, &e),
                     APIAUTH_NOT_MINE);
    assert_int_equal(parse_auth(APIAUTH_SCHEME_APIKEY, "Bearer abc", &c, &e),
                     APIAUTH_NOT_MINE);
    assert_int_equal(parse_auth(APIAUTH_SCHEME_BEARER, "Basic YTpi", &c, &e),
                     APIAUTH_NOT_MINE);
}

static void test_two_credentials_are_invalid(void **state)
{
    apiauth_request_material_t m = {0};
    apiauth_credential_t c;
    apiauth_error_t e;

    m.accepted = ALL;
    m.authorization = "Bearer abc";
    m.key_header = "aak_key";
    assert_int_equal(apiauth_credential_parse(unit_pool, &m, &c, &e),
                     APIAUTH_INVALID);

    memset(&m, 0, sizeof(m));
    m.accepted = ALL;
    m.key_header = "k1";
    m.key_query = "k2";
    m.key_query_count = 1;
    assert_int_equal(apiauth_credential_parse(unit_pool, &m, &c, &e),
                     APIAUTH_INVALID);

    memset(&m, 0, sizeof(m));
    m.accepted = ALL;
    m.key_query = "k";
    m.key_query_count = 2;
    assert_int_equal(apiauth_credential_parse(unit_pool, &m, &c, &e),
                     APIAUTH_INVALID);

    memset(&m, 0, sizeof(m));
    m.accepted = ALL;
    m.install_id_header = "dev1";
    m.install_token_header = "t";
    m.install_id_query = "dev1";
    m.install_id_query_count = 1;
    m.install_token_query = "t";
    m.install_token_query_count = 1;
    assert_int_equal(apiauth_credential_parse(unit_pool, &m, &c, &e),
                     APIAUTH_INVALID);
}

static void test_api_key_header_and_query(void **state)
{
    apiauth_request_material_t m = {0};
    apiauth_credential_t c;
    apiauth_error_t e;

    m.accepted = APIAUTH_SCHEME_APIKEY;
    m.key_header = "aak_abc";
    assert_int_equal(apiauth_credential_parse(unit_pool, &m, &c, &e),
                     APIAUTH_OK);
    assert_int_equal(c.scheme, APIAUTH_SCHEME_APIKEY);
    assert_int_equal(c.source, APIAUTH_FROM_KEY_HEADER);
    assert_string_equal(c.secret, "aak_abc");

    m.key_header = NULL;
    m.key_query = "aak_q";
    m.key_query_count = 1;
    assert_int_equal(apiauth_credential_parse(unit_pool, &m, &c, &e),
                     APIAUTH_OK);
    assert_int_equal(c.source, APIAUTH_FROM_KEY_QUERY);

    m.key_query = "";
    assert_int_equal(apiauth_credential_parse(unit_pool, &m, &c, &e),
                     APIAUTH_INVALID);
    m.key_query = "a b";
    assert_int_equal(apiauth_credential_parse(unit_pool, &m, &c, &e),
                     APIAUTH_INVALID);
}

static void test_install_token_needs_its_install_id(void **state)
{
    apiauth_request_material_t m = {0};
    apiauth_credential_t c;
    apiauth_error_t e;

    m.accepted = APIAUTH_SCHEME_INSTALL;
    m.install_token_query = "52b29f04992fe340912d273be198f533159f0368";
    m.install_token_query_count = 1;
    assert_int_equal(apiauth_credential_parse(unit_pool, &m, &c, &e),
                     APIAUTH_INVALID);
    m.install_id_query = "c12b156b-8592-4545-989b-4468a3936983";
    m.install_id_query_count = 1;
    assert_int_equal(apiauth_credential_parse(unit_pool, &m, &c, &e),
                     APIAUTH_OK);
    assert_int_equal(c.scheme, APIAUTH_SCHEME_INSTALL);
    assert_string_equal(c.install_id, "c12b156b-8592-4545-989b-4468a3936983");

    /* an install id alone is not a credential */
    memset(&m, 0, sizeof(m));
    m.accepted = APIAUTH_SCHEME_INSTALL;
    m.install_id_query = "dev";
    m.install_id_query_count = 1;
    assert_int_equal(apiauth_credential_parse(unit_pool, &m, &c, &e),
                     APIAUTH_NOT_MINE);

    /* headers go in pairs */
    memset(&m, 0, sizeof(m));
    m.accepted = APIAUTH_SCHEME_INSTALL;
    m.install_token_header = "t";
    assert_int_equal(apiauth_credential_parse(unit_pool, &m, &c, &e),
                     APIAUTH_INVALID);
}

static void test_scheme_names_round_trip(void **state)
{
    const char *names[] = {"bearer", "apikey", "token", "basic", "install"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_string_equal(
            apiauth_scheme_name(apiauth_scheme_from_name(names[i])), names[i]);
    }
    assert_int_equal(apiauth_scheme_from_name("digest"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_bearer_scheme_name_is_case_insensitive),
        UNIT_TEST(test_token_scheme_reads_the_key),
        UNIT_TEST(test_basic_splits_at_the_first_colon),
        UNIT_TEST(test_malformed_authorization_is_invalid),
        UNIT_TEST(test_oversized_authorization_is_invalid),
        UNIT_TEST(test_unaccepted_or_foreign_scheme_is_no_credential),
        UNIT_TEST(test_two_credentials_are_invalid),
        UNIT_TEST(test_api_key_header_and_query),
        UNIT_TEST(test_install_token_needs_its_install_id),
        UNIT_TEST(test_scheme_names_round_trip),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("credential", tests, NULL, NULL);
    apr_terminate();
    return rc;
}
