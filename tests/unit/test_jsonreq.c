/*
 * test_jsonreq.c: the members a login or a group check reads from a JSON
 * request body.
 */
#include "unit.h"

#include <apr_strings.h>

#include "jsonreq.h"

static const char *const login_names[] = {"username", "email", "password",
                                          NULL};

static apiauth_status_t fields(const char *body, const char *const *names,
                               unsigned flags, const char **values,
                               apiauth_error_t *err)
{
    return apiauth_json_fields(unit_pool, body, strlen(body), names, flags,
                               values, err);
}

static void test_login_members_are_read_as_copies(void **state)
{
    const char *body = "{\"username\":\"alice\",\"password\":\"p\\u00e9 w\","
                       "\"extra\":[1,{\"x\":null}]}";
    const char *v[3];
    apiauth_error_t err = {NULL, NULL};

    assert_int_equal(fields(body, login_names, 0, v, &err), APIAUTH_OK);
    assert_string_equal(v[0], "alice");
    assert_null(v[1]);
    assert_string_equal(v[2], "p\xc3\xa9 w");
    assert_true(v[0] < body || v[0] >= body + strlen(body));
}

static void test_absent_members_are_null(void **state)
{
    const char *v[3];

    assert_int_equal(fields("{}", login_names, 0, v, NULL), APIAUTH_OK);
    assert_null(v[0]);
    assert_null(v[1]);
    assert_null(v[2]);
}

static void test_body_is_not_read_past_len(void **state)
{
    static const char *const names[] = {"a", NULL};
    const char body[] = "{\"a\":\"1\"}{\"a\":\"2\"}";
    const char *v[1];

    assert_int_equal(apiauth_json_fields(unit_pool, body, 9, names, 0, v,
                                         NULL), APIAUTH_OK);
    assert_string_equal(v[0], "1");
    assert_int_equal(apiauth_json_fields(unit_pool, body, 8, names, 0, v,
                                         NULL), APIAUTH_INVALID);
}

static void test_other_documents_are_refused(void **state)
{
    static const char *const bodies[] = {
        "", " ", "[]", "[{\"username\":\"a\"}]", "\"alice\"", "42", "null",
        "{\"username\":\"a\"", "{\"username\":\"a\"} x", "{'username':'a'}",
        "{\"username\":\"a\\u0000b\"}", "{\"username\":\"\xff\"}",
        "{\"password\":\"a\",}",
    };
    apiauth_error_t err = {NULL, NULL};
    const char *v[3];
    size_t i;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        err.error = NULL;
        assert_int_equal(fields(bodies[i], login_names, 0, v, &err),
                         APIAUTH_INVALID);
        assert_string_equal(err.error, "invalid_request");
        assert_null(v[0]);
        assert_null(v[2]);
    }
}

static void test_a_repeated_member_is_refused_at_any_depth(void **state)
{
    static const char *const names[] = {"group_id", NULL};
    const char *v[1];

    assert_int_equal(fields("{\"group_id\":\"a\",\"group_id\":\"b\"}", names,
                            0, v, NULL), APIAUTH_INVALID);
    assert_int_equal(fields("{\"group_id\":\"a\",\"m\":{\"t\":1,\"t\":2}}",
                            names, 0, v, NULL), APIAUTH_INVALID);
    assert_null(v[0]);
}

static void test_a_member_of_another_type_is_refused(void **state)
{
    static const char *const wrong[] = {
        "{\"username\":null,\"password\":\"p\"}",
        "{\"username\":7,\"password\":\"p\"}",
        "{\"username\":\"a\",\"password\":true}",
        "{\"username\":\"a\",\"password\":[\"p\"]}",
        "{\"username\":\"a\",\"email\":{},\"password\":\"p\"}",
    };
    apiauth_error_t err = {NULL, NULL};
    const char *v[3];
    size_t i;

    for (i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        assert_int_equal(fields(wrong[i], login_names, 0, v, &err),
                         APIAUTH_INVALID);
        assert_null(v[0]);
        assert_null(v[1]);
        assert_null(v[2]);
    }
    assert_non_null(strstr(err.description, "\"email\""));
}

static void test_integers_only_where_allowed(void **state)
{
    static const char *const names[] = {"group_id", NULL};
    const char *v[1];

    assert_int_equal(fields("{\"group_id\":42}", names, 0, v, NULL),
                     APIAUTH_INVALID);
    assert_int_equal(fields("{\"group_id\":42}", names, APIAUTH_JSON_INTEGERS,
                            v, NULL), APIAUTH_OK);
    assert_string_equal(v[0], "42");
    assert_int_equal(fields("{\"group_id\":-9223372036854775808}", names,
                            APIAUTH_JSON_INTEGERS, v, NULL), APIAUTH_OK);
    assert_string_equal(v[0], "-9223372036854775808");
    /* a real is no integer, and an integer too large for jansson is no
     * document */
    assert_int_equal(fields("{\"group_id\":4.0}", names,
                            APIAUTH_JSON_INTEGERS, v, NULL), APIAUTH_INVALID);
    assert_int_equal(fields("{\"group_id\":9223372036854775808}", names,
                            APIAUTH_JSON_INTEGERS, v, NULL), APIAUTH_INVALID);
    assert_int_equal(fields("{\"group_id\":\"g1\"}", names,
                            APIAUTH_JSON_INTEGERS, v, NULL), APIAUTH_OK);
    assert_string_equal(v[0], "g1");
}

static char *nested(int depth, const char *open, const char *close)
{
    char *s = apr_palloc(unit_pool, 2 * (apr_size_t)depth + 20);
    char *q = apr_cpystrn(s, "{\"a\":", 6);
    int i;

    for (i = 1; i < depth; i++) {
        *q++ = *open;
    }
    q = apr_cpystrn(q, "0", 2);
    for (i = 1; i < depth; i++) {
        *q++ = *close;
    }
    apr_cpystrn(q, "}", 2);
    return s;
}

static void test_nesting_is_bounded(void **state)
{
    static const char *const names[] = {"a", NULL};
    apiauth_error_t err = {NULL, NULL};
    const char *v[1];

    /* at the limit the document is read (and "a", an array, refused) */
    assert_int_equal(fields(nested(APIAUTH_JSON_MAX_DEPTH, "[", "]"), names,
                            0, v, &err), APIAUTH_INVALID);
    assert_non_null(strstr(err.description, "must be"));
    assert_int_equal(fields(nested(APIAUTH_JSON_MAX_DEPTH + 1, "[", "]"),
                            names, 0, v, &err), APIAUTH_INVALID);
    assert_non_null(strstr(err.description, "deeply"));
    assert_int_equal(fields(nested(100000, "{", "}"), names, 0, v, &err),
                     APIAUTH_INVALID);
    assert_non_null(strstr(err.description, "deeply"));
}

static void test_brackets_in_strings_do_not_count(void **state)
{
    static const char *const names[] = {"a", NULL};
    char *deep = apr_palloc(unit_pool, 400);
    const char *v[1];

    memset(deep, '[', 300);
    deep[300] = '\0';
    assert_int_equal(fields(apr_pstrcat(unit_pool, "{\"a\":\"\\\"", deep,
                                        "\"}", NULL), names, 0, v, NULL),
                     APIAUTH_OK);
    assert_string_equal(v[0] + 1, deep);
}

static void test_too_large_is_refused_unread(void **state)
{
    static const char *const names[] = {"a", NULL};
    const char *v[1];

    /* the length alone decides: nothing past "{}" is touched */
    assert_int_equal(apiauth_json_fields(unit_pool, "{}",
                                         APIAUTH_JSON_MAX_BODY + 1, names, 0,
                                         v, NULL), APIAUTH_INVALID);
    assert_int_equal(apiauth_json_fields(unit_pool, NULL, 0, names, 0, v,
                                         NULL), APIAUTH_INVALID);
}

static void test_description_never_quotes_the_body(void **state)
{
    static const char *const names[] = {"password", NULL};
    static const char *const bodies[] = {
        "{\"password\":\"s3cr3t\",\"password\":\"s3cr3t\"}",
        "{\"password\":[\"s3cr3t\"]}", "{\"password\":\"s3cr3t\"",
        "[\"s3cr3t\"]",
    };
    apiauth_error_t err = {NULL, NULL};
    const char *v[1];
    size_t i;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        assert_int_equal(fields(bodies[i], names, 0, v, &err),
                         APIAUTH_INVALID);
        assert_null(strstr(err.description, "s3cr3t"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_login_members_are_read_as_copies),
        UNIT_TEST(test_absent_members_are_null),
        UNIT_TEST(test_body_is_not_read_past_len),
        UNIT_TEST(test_other_documents_are_refused),
        UNIT_TEST(test_a_repeated_member_is_refused_at_any_depth),
        UNIT_TEST(test_a_member_of_another_type_is_refused),
        UNIT_TEST(test_integers_only_where_allowed),
        UNIT_TEST(test_nesting_is_bounded),
        UNIT_TEST(test_brackets_in_strings_do_not_count),
        UNIT_TEST(test_too_large_is_refused_unread),
        UNIT_TEST(test_description_never_quotes_the_body),
    };

    apr_initialize();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
