/*
 * test_identity.c: credential kinds, the identity's cache form, names and
 * the usability check of a stored credential.
 *
 * The cache form comes back from mod_socache, which may be shared with
 * other software (memcache, redis): whatever does not parse exactly must
 * read as a miss, never as somebody.
 */
#include <apr_strings.h>

#include "unit.h"

#include "apiauth.h"

#define US "\x1f"

static const struct {
    apiauth_kind_t kind;
    const char *name;
} kinds[] = {
    {APIAUTH_KIND_API_KEY, "api_key"},   {APIAUTH_KIND_TOKEN, "token"},
    {APIAUTH_KIND_APP_TOKEN, "app_token"}, {APIAUTH_KIND_SESSION, "session"},
    {APIAUTH_KIND_BACKEND, "backend"},   {APIAUTH_KIND_INSTALL, "install"},
    {APIAUTH_KIND_OAUTH, "oauth"},
};

static apiauth_identity_t full_identity(void)
{
    apiauth_identity_t id = {0};

    id.kind = APIAUTH_KIND_BACKEND;
    id.credential_id = "crd_0123456789abcdef";
    id.app = "app_AAAAAAAAAAAAAAAA";
    id.user = "user-42";
    id.client_id = "cli_BBBBBBBBBBBBBBBB";
    id.scope = "read write:posts";
    id.install_id = "c12b156b-8592-4545-989b-4468a3936983";
    id.acting_app = "app_CCCCCCCCCCCCCCCC";
    id.expires = APR_INT64_C(1893456000);
    return id;
}

static apiauth_status_t parse(const char *s, apiauth_identity_t *id)
{
    return apiauth_identity_parse(unit_pool, s, strlen(s), id);
}

static void test_kind_names_are_what_the_store_holds(void **state)
{
    size_t i;

    assert_int_equal(sizeof(kinds) / sizeof(kinds[0]),
                     APIAUTH_KIND_COUNT - 1);
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        assert_string_equal(apiauth_kind_name(kinds[i].kind), kinds[i].name);
        assert_int_equal(apiauth_kind_from_name(kinds[i].name), kinds[i].kind);
    }
}

static void test_unknown_kind_names_are_none(void **state)
{
    const char *unknown[] = {"none", "", "API_KEY", "Token", "api-key",
                             "api_key ", " oauth", "oauth2", "jwt"};
    size_t i;

    for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_int_equal(apiauth_kind_from_name(unknown[i]),
                         APIAUTH_KIND_NONE);
    }
    assert_int_equal(apiauth_kind_from_name(NULL), APIAUTH_KIND_NONE);
    assert_string_equal(apiauth_kind_name(APIAUTH_KIND_NONE), "none");
    assert_string_equal(apiauth_kind_name(APIAUTH_KIND_COUNT), "none");
    assert_string_equal(apiauth_kind_name((apiauth_kind_t)99), "none");
}

static void test_subject_is_user_else_client_else_app(void **state)
{
    apiauth_identity_t id = full_identity();

    assert_string_equal(apiauth_identity_subject(&id), "user-42");
    id.user = "";
    assert_string_equal(apiauth_identity_subject(&id),
                        "cli_BBBBBBBBBBBBBBBB");
    id.user = NULL;
    assert_string_equal(apiauth_identity_subject(&id),
                        "cli_BBBBBBBBBBBBBBBB");
    id.client_id = "";
    assert_string_equal(apiauth_identity_subject(&id),
                        "app_AAAAAAAAAAAAAAAA");
    id.client_id = NULL;
    assert_string_equal(apiauth_identity_subject(&id),
                        "app_AAAAAAAAAAAAAAAA");
}

static void test_serialize_parse_round_trips_every_field(void **state)
{
    apiauth_identity_t id = full_identity(), back;
    const char *s = apiauth_identity_serialize(unit_pool, &id);

    assert_non_null(s);
    memset(&back, 0xa5, sizeof(back));
    assert_int_equal(parse(s, &back), APIAUTH_OK);
    assert_int_equal(back.kind, id.kind);
    assert_string_equal(back.credential_id, id.credential_id);
    assert_string_equal(back.app, id.app);
    assert_string_equal(back.user, id.user);
    assert_string_equal(back.client_id, id.client_id);
    assert_string_equal(back.scope, id.scope);
    assert_string_equal(back.install_id, id.install_id);
    assert_string_equal(back.acting_app, id.acting_app);
    assert_true(back.expires == id.expires);
}

static void test_serialize_parse_round_trips_without_optional_fields(
    void **state)
{
    apiauth_identity_t id = {0}, back;
    const char *s;

    id.kind = APIAUTH_KIND_API_KEY;
    id.credential_id = "crd_1";
    id.app = "app_1";
    s = apiauth_identity_serialize(unit_pool, &id);
    assert_non_null(s);
    memset(&back, 0xa5, sizeof(back));
    assert_int_equal(parse(s, &back), APIAUTH_OK);
    assert_int_equal(back.kind, APIAUTH_KIND_API_KEY);
    assert_string_equal(back.credential_id, "crd_1");
    assert_string_equal(back.app, "app_1");
    assert_null(back.user);
    assert_null(back.client_id);
    /* scope is never NULL: no scope is the empty list */
    assert_non_null(back.scope);
    assert_string_equal(back.scope, "");
    assert_null(back.install_id);
    assert_null(back.acting_app);
    assert_true(back.expires == 0);

    /* "" reads back as NULL, as absent */
    id.user = "";
    id.install_id = "";
    assert_int_equal(parse(apiauth_identity_serialize(unit_pool, &id), &back),
                     APIAUTH_OK);
    assert_null(back.user);
    assert_null(back.install_id);
}

static void test_serialized_form_is_the_versioned_record(void **state)
{
    apiauth_identity_t id = {0};

    id.kind = APIAUTH_KIND_OAUTH;
    id.credential_id = "jti";
    id.app = "app";
    id.scope = "a b";
    id.expires = 7;
    assert_string_equal(apiauth_identity_serialize(unit_pool, &id),
                        "4" US "oauth" US US US US "jti" US "app" US US US "a b"
                        US US US US US US US US "7");
}

static void test_serialize_refuses_control_characters(void **state)
{
    const char *dirty[] = {"a\nb", "a\rb", "a" US "b", "a\x7f", "\t",
                           "a\x01"};
    size_t i, f;

    for (i = 0; i < sizeof(dirty) / sizeof(dirty[0]); i++) {
        for (f = 0; f < 7; f++) {
            apiauth_identity_t id = full_identity();
            const char **field[] = {&id.credential_id, &id.app, &id.user,
                                    &id.client_id, &id.scope, &id.install_id,
                                    &id.acting_app};
            *field[f] = dirty[i];
            assert_null(apiauth_identity_serialize(unit_pool, &id));
        }
    }
}

static void test_parse_reads_a_hand_written_entry(void **state)
{
    apiauth_identity_t id;

    assert_int_equal(parse("4" US "install" US US US US "crd_9" US "app_9" US "u" US
                           US "" US "dev-1" US US US US US "grt_1" US "dbd" US
                           "0", &id), APIAUTH_OK);
    assert_int_equal(id.kind, APIAUTH_KIND_INSTALL);
    assert_string_equal(id.user, "u");
    assert_string_equal(id.install_id, "dev-1");
    assert_null(id.acting_app);
    assert_string_equal(id.grant_id, "grt_1");
    assert_string_equal(id.provider, "dbd");
    assert_null(id.issuer);
}

static void test_parse_refuses_corrupt_entries(void **state)
{
    const char *bad[] = {
        /* version */
        "1" US "api_key" US "c" US "a" US US US US US US US US US US US "0",
        "4" US "api_key" US "c" US "a" US US US US US US US US US US US "0",
        "" US "api_key" US "c" US "a" US US US US US US "0",
        "01" US "api_key" US "c" US "a" US US US US US US "0",
        /* too few fields */
        "4" US "api_key" US US US US "c" US "a" US US US US US US US US US US "0",
        "4" US "api_key" US US US US "c" US "a",
        "3",
        /* kind */
        "4" US "none" US US US US "c" US "a" US US US US US US US US US US US "0",
        "4" US "wizard" US US US US "c" US "a" US US US US US US US US US US US "0",
        "4" US "" US US US US "c" US "a" US US US US US US US US US US US "0",
        /* credential id and app are required */
        "4" US "api_key" US US US US "" US "a" US US US US US US US US US US US "0",
        "4" US "api_key" US US US US "c" US "" US US US US US US US US US US US "0",
        /* expires */
        "4" US "api_key" US US US US "c" US "a" US US US US US US US US US US US "",
        "4" US "api_key" US US US US "c" US "a" US US US US US US US US US US US "x",
        "4" US "api_key" US US US US "c" US "a" US US US US US US US US US US US "12x",
        "4" US "api_key" US US US US "c" US "a" US US US US US US US US US US US "12 ",
        "4" US "api_key" US US US US "c" US "a" US US US US US US US US US US US "-1",
        "4" US "api_key" US US US US "c" US "a" US US US US US US US US US US US
            "99999999999999999999",
        "4" US "api_key" US US US US "c" US "a" US US US US US US US US US US US "0x10",
    };
    apiauth_identity_t id;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], &id), APIAUTH_INVALID);
    }
}

static void test_parse_refuses_trailing_garbage(void **state)
{
    const char *good = "4" US "api_key" US US US US "c" US "a" US US US US US US US US
                       US US US "5";
#define GOOD "4" US "api_key" US US US US "c" US "a" US US US US US US US US US US US "5"
    const char *bad[] = {
        GOOD US,
        GOOD US "extra",
        GOOD US "6" US "7",
    };
#undef GOOD
    apiauth_identity_t id;
    size_t i;

    assert_int_equal(parse(good, &id), APIAUTH_OK);
    assert_true(id.expires == 5);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], &id), APIAUTH_INVALID);
    }
}

static void test_parse_refuses_control_characters_in_fields(void **state)
{
    const char *bad[] = {
        "4" US "api_key" US US US US "c\n" US "a" US US US US US US US US US US US "0",
        "4" US "api_key" US US US US "c" US "a\r" US US US US US US US US US US US "0",
        "4" US "api_key" US US US US "c" US "a" US "u\nX-Evil: 1"
            US US US US US US US US US US "0",
        "4" US "api_key" US US US US "c" US "a" US US "cli\t"
            US US US US US US US US US "0",
        "4" US "api_key" US US US US "c" US "a" US US US "read\x7f"
            US US US US US US US US "0",
        "4" US "api_key" US US US US "c" US "a" US US US US "dev\x01"
            US US US US US US US "0",
        "4" US "api_key" US US US US "c" US "a" US US US US US "app\x1b"
            US US US US US US "0",
        "4" US "api_key" US US US US "c" US "a" US US US US US US US US US US
            "dbd\n" US "0",
    };
    apiauth_identity_t id;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], &id), APIAUTH_INVALID);
    }
}

/* The parser goes eight characters at a time: a control character at any
 * place of a long field is still found, and without one the entry reads. */
static void test_parse_finds_a_control_character_anywhere_in_a_long_field(
    void **state)
{
    char scope[41], entry[160];
    apiauth_identity_t id;
    size_t at;

    for (at = 0; at <= sizeof(scope) - 1; at++) {
        memset(scope, 'r', sizeof(scope) - 1);
        scope[sizeof(scope) - 1] = '\0';
        if (at < sizeof(scope) - 1) {
            scope[at] = '\x02';
        }
        apr_snprintf(entry, sizeof(entry),
                     "4" US "api_key" US US US US "c" US "a" US US US "%s"
                     US US US US US US US US "0", scope);
        assert_int_equal(parse(entry, &id), at < sizeof(scope) - 1
                                                ? APIAUTH_INVALID
                                                : APIAUTH_OK);
    }
    assert_string_equal(id.scope, scope);
}

static void test_parse_honours_the_length_not_the_nul(void **state)
{
    const char *s = "4" US "api_key" US US US US "c" US "a" US US US US US US US US US
                    US US "5";
    char buf[64];
    apiauth_identity_t id;
    apr_size_t n = strlen(s);

    /* a NUL inside the given length is corruption */
    memcpy(buf, s, n);
    memcpy(buf + n, "\0" "7", 2);
    assert_int_equal(apiauth_identity_parse(unit_pool, buf, n + 2, &id),
                     APIAUTH_INVALID);
    /* bytes after the given length are not read */
    buf[n] = '9';
    assert_int_equal(apiauth_identity_parse(unit_pool, buf, n, &id),
                     APIAUTH_OK);
    assert_true(id.expires == 5);
    assert_int_equal(apiauth_identity_parse(unit_pool, s, 0, &id),
                     APIAUTH_INVALID);
    assert_int_equal(apiauth_identity_parse(unit_pool, NULL, 5, &id),
                     APIAUTH_INVALID);
}

static const char *entry_of_length(apr_size_t len)
{
    const char *head = "4" US "api_key" US US US US "c" US "a" US US US;
    const char *tail = US US US US US US US US "0";
    apr_size_t hl = strlen(head), tl = strlen(tail);
    char *s = apr_palloc(unit_pool, len + 1);

    /* the scope field takes up what head and tail leave */
    memcpy(s, head, hl);
    memset(s + hl, 'x', len - hl - tl);
    memcpy(s + len - tl, tail, tl);
    s[len] = '\0';
    return s;
}

static void test_parse_refuses_entries_over_8192_bytes(void **state)
{
    apiauth_identity_t id;

    assert_int_equal(parse(entry_of_length(8192), &id), APIAUTH_OK);
    assert_int_equal(strlen(id.scope), 8192 - 28);
    assert_int_equal(parse(entry_of_length(8193), &id), APIAUTH_INVALID);
}

/* The connection memo (mod_apiauth/apiauth_memo.c) parses an entry once
 * and hands each request a copy: parsing in place, then moving the
 * identity to an identical copy, must give the same identity, pointing
 * only into the copy. */
static void test_parse_buf_then_move_points_into_the_copy(void **state)
{
    apiauth_identity_t id = full_identity(), moved;
    const char *s;
    char *buf, *copy;
    apr_size_t len, i;
    const char *fields[9];

    id.scope = NULL;   /* read back as the literal "", outside any buffer */
    s = apiauth_identity_serialize(unit_pool, &id);
    assert_non_null(s);
    len = strlen(s);
    buf = apr_pstrmemdup(unit_pool, s, len);
    assert_int_equal(apiauth_identity_parse_buf(buf, len, &moved),
                     APIAUTH_OK);
    copy = apr_pmemdup(unit_pool, buf, len + 1);
    memset(buf, 'x', len);   /* the original is gone */
    apiauth_identity_move(&moved, buf, len, copy);

    fields[0] = moved.credential_id;
    fields[1] = moved.app;
    fields[2] = moved.user;
    fields[3] = moved.client_id;
    fields[4] = moved.install_id;
    fields[5] = moved.acting_app;
    for (i = 0; i < 6; i++) {
        assert_true(fields[i] >= copy && fields[i] < copy + len);
    }
    assert_string_equal(moved.credential_id, id.credential_id);
    assert_string_equal(moved.app, id.app);
    assert_string_equal(moved.user, id.user);
    assert_string_equal(moved.client_id, id.client_id);
    assert_string_equal(moved.install_id, id.install_id);
    assert_string_equal(moved.acting_app, id.acting_app);
    assert_string_equal(moved.scope, "");
    assert_null(moved.issuer);
    assert_true(moved.expires == id.expires);
    assert_int_equal(moved.kind, id.kind);
}

static void test_parse_buf_refuses_what_parse_refuses(void **state)
{
    char bad[] = "4" US "api_key" US US US US "crd_1" US "app_1\x01";
    apiauth_identity_t id;

    assert_int_equal(apiauth_identity_parse_buf(bad, strlen(bad), &id),
                     APIAUTH_INVALID);
    assert_int_equal(apiauth_identity_parse_buf(NULL, 0, &id),
                     APIAUTH_INVALID);
}

static void test_name_validity(void **state)
{
    char name[130];
    const char *good[] = {"a", "alice", "user-42", "app_ABC", "a.b@c",
                          "c12b156b-8592-4545-989b-4468a3936983", "~!#$%&'"};
    const char *bad[] = {"", "a b", "a:b", "a\"b", "a\\b", "a,b", "a;b",
                         "a\tb", "a\nb", "\x7f", "\xc3\xa9", " a", "a "};
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_true(apiauth_name_is_valid(good[i]));
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(apiauth_name_is_valid(bad[i]));
    }
    assert_false(apiauth_name_is_valid(NULL));

    memset(name, 'n', sizeof(name));
    name[128] = '\0';
    assert_true(apiauth_name_is_valid(name));
    name[128] = 'n';
    name[129] = '\0';
    assert_false(apiauth_name_is_valid(name));
}

static void test_live_credential_is_usable(void **state)
{
    apiauth_credential_row_t row = {0};
    apiauth_error_t e = {0};

    row.identity.expires = 0;   /* never */
    assert_int_equal(apiauth_credential_row_check(&row, APR_INT64_C(4102444800),
                                                  &e), APIAUTH_OK);
    assert_null(e.error);
    row.identity.expires = 1001;
    assert_int_equal(apiauth_credential_row_check(&row, 1000, &e), APIAUTH_OK);
}

static void test_expired_credential_is_denied(void **state)
{
    apiauth_credential_row_t row = {0};
    apiauth_error_t e = {0};

    row.identity.expires = 1000;
    /* at the expiry second it is already expired */
    assert_int_equal(apiauth_credential_row_check(&row, 1000, &e),
                     APIAUTH_DENIED);
    assert_string_equal(e.error, "invalid_token");
    assert_non_null(strstr(e.description, "expired"));
    assert_int_equal(apiauth_credential_row_check(&row, 5000, NULL),
                     APIAUTH_DENIED);
}

static void test_revoked_credential_is_denied(void **state)
{
    apiauth_credential_row_t row = {0};
    apiauth_error_t e = {0};

    row.revoked = 500;
    row.identity.expires = 0;
    assert_int_equal(apiauth_credential_row_check(&row, 1000, &e),
                     APIAUTH_DENIED);
    assert_string_equal(e.error, "invalid_token");
    assert_non_null(strstr(e.description, "revoked"));
    /* revocation wins over expiry, and a future revocation time still counts */
    row.revoked = 2000;
    row.identity.expires = 900;
    assert_int_equal(apiauth_credential_row_check(&row, 1000, &e),
                     APIAUTH_DENIED);
    assert_non_null(strstr(e.description, "revoked"));
}

static void test_fail_fills_the_error_when_given(void **state)
{
    apiauth_error_t e = {0};

    assert_int_equal(apiauth_fail(&e, APIAUTH_INVALID, "invalid_request", "d"),
                     APIAUTH_INVALID);
    assert_string_equal(e.error, "invalid_request");
    assert_string_equal(e.description, "d");
    assert_int_equal(apiauth_fail(NULL, APIAUTH_ERROR, "x", "y"),
                     APIAUTH_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_kind_names_are_what_the_store_holds),
        UNIT_TEST(test_unknown_kind_names_are_none),
        UNIT_TEST(test_subject_is_user_else_client_else_app),
        UNIT_TEST(test_serialize_parse_round_trips_every_field),
        UNIT_TEST(test_serialize_parse_round_trips_without_optional_fields),
        UNIT_TEST(test_serialized_form_is_the_versioned_record),
        UNIT_TEST(test_serialize_refuses_control_characters),
        UNIT_TEST(test_parse_reads_a_hand_written_entry),
        UNIT_TEST(test_parse_refuses_corrupt_entries),
        UNIT_TEST(test_parse_refuses_trailing_garbage),
        UNIT_TEST(test_parse_refuses_control_characters_in_fields),
        UNIT_TEST(test_parse_finds_a_control_character_anywhere_in_a_long_field),
        UNIT_TEST(test_parse_honours_the_length_not_the_nul),
        UNIT_TEST(test_parse_refuses_entries_over_8192_bytes),
        UNIT_TEST(test_parse_buf_then_move_points_into_the_copy),
        UNIT_TEST(test_parse_buf_refuses_what_parse_refuses),
        UNIT_TEST(test_name_validity),
        UNIT_TEST(test_live_credential_is_usable),
        UNIT_TEST(test_expired_credential_is_denied),
        UNIT_TEST(test_revoked_credential_is_denied),
        UNIT_TEST(test_fail_fills_the_error_when_given),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("identity", tests, NULL, NULL);
    apr_terminate();
    return rc;
}
