/*
 * test_response.c: the JSON error body and WWW-Authenticate challenges.
 *
 * Both may carry text that came from a request (a scope asked for, a
 * description naming what was wrong): whatever that text holds, the body
 * must stay one JSON object and the challenge one header whose quoted
 * strings end where we end them.
 */
#include <stdlib.h>

#include <jansson.h>

#include "unit.h"

#include "response.h"

/* Parses `body`, which must be a JSON object of `members` members. */
static json_t *parse_body(const char *body, size_t members)
{
    json_error_t jerr;
    json_t *o;

    assert_non_null(body);
    o = json_loads(body, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL) {
        fail_msg("not JSON (%s): %s", jerr.text, body);
    }
    assert_true(json_is_object(o));
    assert_int_equal(json_object_size(o), members);
    return o;
}

static void assert_member(json_t *o, const char *key, const char *value)
{
    json_t *v = json_object_get(o, key);

    assert_non_null(v);
    assert_true(json_is_string(v));
    assert_string_equal(json_string_value(v), value);
}

static void test_error_body_has_error_and_description(void **state)
{
    json_t *o = parse_body(apiauth_json_error(unit_pool, "invalid_token",
                                              "the credential has expired"),
                           2);

    assert_member(o, "error", "invalid_token");
    assert_member(o, "error_description", "the credential has expired");
    json_decref(o);
}

static void test_error_body_without_description_has_only_error(void **state)
{
    json_t *o = parse_body(apiauth_json_error(unit_pool, "invalid_request",
                                              NULL), 1);

    assert_member(o, "error", "invalid_request");
    assert_null(json_object_get(o, "error_description"));
    json_decref(o);
}

static void test_error_body_without_error_still_names_one(void **state)
{
    json_t *o = parse_body(apiauth_json_error(unit_pool, NULL, NULL), 1);

    assert_member(o, "error", "error");
    json_decref(o);
}

static void test_error_body_is_compact(void **state)
{
    assert_string_equal(apiauth_json_error(unit_pool, "server_error", "down"),
                        "{\"error\":\"server_error\","
                        "\"error_description\":\"down\"}");
}

static void test_error_body_escapes_quotes_backslashes_and_controls(
    void **state)
{
    const char *nasty = "say \"hi\" \\ \"}, \"error\": \"x\n\t\x01 caf\xc3\xa9";
    const char *body = apiauth_json_error(unit_pool, "invalid_scope", nasty);
    json_t *o = parse_body(body, 2);

    /* the text comes back byte for byte and did not become a member */
    assert_member(o, "error", "invalid_scope");
    assert_member(o, "error_description", nasty);
    json_decref(o);
    assert_non_null(strstr(body, "\\\"hi\\\""));
    assert_non_null(strstr(body, "\\\\"));
    assert_null(strchr(body, '\n'));
}

static void test_error_body_with_invalid_utf8_keeps_its_error(void **state)
{
    /* jansson takes UTF-8 only: what it cannot take is left out, and the
     * body is still one object that names the error */
    json_t *o = parse_body(apiauth_json_error(unit_pool, "invalid_request",
                                              "bad \xff\xfe byte"), 1);

    assert_member(o, "error", "invalid_request");
    json_decref(o);
}

static void test_challenge_lists_the_given_params_in_order(void **state)
{
    assert_string_equal(
        apiauth_challenge(unit_pool, "Bearer", "api", "insufficient_scope",
                          "needs posts:write", "posts:write", NULL),
        "Bearer realm=\"api\", error=\"insufficient_scope\", "
        "error_description=\"needs posts:write\", scope=\"posts:write\"");
}

static void test_challenge_has_only_the_realm_when_nothing_else(void **state)
{
    assert_string_equal(apiauth_challenge(unit_pool, "Basic", "admin", NULL,
                                          NULL, NULL, NULL),
                        "Basic realm=\"admin\"");
    /* no realm configured: "api" */
    assert_string_equal(apiauth_challenge(unit_pool, "Bearer", NULL, NULL,
                                          NULL, NULL, NULL),
                        "Bearer realm=\"api\"");
}

static void test_challenge_appends_extra_verbatim(void **state)
{
    assert_string_equal(
        apiauth_challenge(unit_pool, "ApiKey", "api", "invalid_token", NULL,
                          NULL, "header=\"X-API-Key\""),
        "ApiKey realm=\"api\", error=\"invalid_token\", header=\"X-API-Key\"");
}

static void test_challenge_replaces_quotes_and_backslashes(void **state)
{
    assert_string_equal(
        apiauth_challenge(unit_pool, "Bearer", "a\", error=\"x",
                          NULL, "ends with \\", "s\"", NULL),
        "Bearer realm=\"a?, error=?x\", error_description=\"ends with ?\", "
        "scope=\"s?\"");
}

static void test_challenge_replaces_controls_and_non_ascii(void **state)
{
    assert_string_equal(
        apiauth_challenge(unit_pool, "Bearer", "caf\xc3\xa9", "e\r\nX-Evil: 1",
                          "tab\there\x7f", NULL, NULL),
        "Bearer realm=\"caf??\", error=\"e??X-Evil: 1\", "
        "error_description=\"tab?here?\"");
}

/* Whatever the input, each quoted value is closed by our own quote: the
 * header reads as exactly the params we wrote, in printable ASCII. */
static void test_challenge_cannot_be_broken_out_of(void **state)
{
    char nasty[256];
    const char *c, *p;
    int i, quotes = 0;

    for (i = 1; i < 256; i++) {
        nasty[i - 1] = (char)i;
    }
    nasty[255] = '\0';
    c = apiauth_challenge(unit_pool, "Bearer", nasty, nasty, nasty, nasty,
                          NULL);
    for (p = c; *p; p++) {
        assert_true(*p >= 0x20 && *p <= 0x7e);
        if (*p == '"') {
            quotes++;
        }
        assert_int_not_equal(*p, '\\');
    }
    assert_int_equal(quotes, 8);
    assert_true(strncmp(c, "Bearer realm=\"", 14) == 0);
    assert_non_null(strstr(c, "\", error=\""));
    assert_non_null(strstr(c, "\", error_description=\""));
    assert_non_null(strstr(c, "\", scope=\""));
    assert_int_equal(c[strlen(c) - 1], '"');
}

/* A token response leaves no copy of its secrets behind: the text is
 * pool memory, and the value's own strings are wiped before jansson
 * frees them. */
static void test_sealed_json_is_the_text_and_wipes_the_value(void **state)
{
    json_t *v = json_pack("{s:s, s:[s], s:i}", "access_token", "secret-1",
                          "more", "secret-2", "n", 7);
    json_t *inner = json_object_get(v, "access_token");
    json_t *listed = json_array_get(json_object_get(v, "more"), 0);
    char *text;

    /* held past apiauth_json_sealed's release, to look at */
    json_incref(inner);
    json_incref(listed);
    text = apiauth_json_sealed(unit_pool, v, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"access_token\":\"secret-1\",\"more\":"
                              "[\"secret-2\"],\"n\":7}");
    assert_int_equal(json_string_length(inner), 8);
    assert_memory_equal(json_string_value(inner), "\0\0\0\0\0\0\0\0", 8);
    assert_memory_equal(json_string_value(listed), "\0\0\0\0\0\0\0\0", 8);
    json_decref(inner);
    json_decref(listed);
    assert_null(apiauth_json_sealed(unit_pool, NULL, JSON_COMPACT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_error_body_has_error_and_description),
        UNIT_TEST(test_error_body_without_description_has_only_error),
        UNIT_TEST(test_error_body_without_error_still_names_one),
        UNIT_TEST(test_error_body_is_compact),
        UNIT_TEST(test_sealed_json_is_the_text_and_wipes_the_value),
        UNIT_TEST(test_error_body_escapes_quotes_backslashes_and_controls),
        UNIT_TEST(test_error_body_with_invalid_utf8_keeps_its_error),
        UNIT_TEST(test_challenge_lists_the_given_params_in_order),
        UNIT_TEST(test_challenge_has_only_the_realm_when_nothing_else),
        UNIT_TEST(test_challenge_appends_extra_verbatim),
        UNIT_TEST(test_challenge_replaces_quotes_and_backslashes),
        UNIT_TEST(test_challenge_replaces_controls_and_non_ascii),
        UNIT_TEST(test_challenge_cannot_be_broken_out_of),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("response", tests, NULL, NULL);
    apr_terminate();
    return rc;
}
