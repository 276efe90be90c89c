/*
 * test_scope.c: scope tokens and lists (RFC 6749 §3.3).
 *
 * Scope decides access (Require apiauth-scope), so membership is by whole
 * token: "store" must not be found inside "integration.store".
 */
#include <apr_tables.h>

#include "unit.h"

#include "scope.h"

static int token_valid(const char *s)
{
    return apiauth_scope_token_valid(s, strlen(s));
}

static void test_scope_token_takes_the_rfc6749_characters(void **state)
{
    char every[0x7e - 0x21 + 1 + 1];
    int c, n = 0;

    /* %x21 / %x23-5B / %x5D-7E: printable ASCII less space, '"' and '\' */
    for (c = 0x21; c <= 0x7e; c++) {
        if (c != 0x22 && c != 0x5c) {
            every[n++] = (char)c;
        }
    }
    every[n] = '\0';
    assert_true(token_valid(every));
    assert_true(token_valid("read"));
    assert_true(token_valid("https://api.example.com/posts.write"));
    assert_true(token_valid("a"));
}

static void test_scope_token_refuses_everything_else(void **state)
{
    const char *bad[] = {"", " ", "a b", "a\"b", "a\\b", "\t", "a\n",
                         "\x7f", "caf\xc3\xa9", "\x01"};
    size_t i;
    int c;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(token_valid(bad[i]));
    }
    for (c = 1; c < 256; c++) {
        char one = (char)c;
        int allowed = c >= 0x21 && c <= 0x7e && c != 0x22 && c != 0x5c;
        assert_int_equal(apiauth_scope_token_valid(&one, 1), allowed);
    }
}

static void test_scope_token_is_read_to_the_given_length(void **state)
{
    assert_true(apiauth_scope_token_valid("read write", 4));
    assert_false(apiauth_scope_token_valid("read write", 5));
    assert_false(apiauth_scope_token_valid("read", 0));
}

static void test_scope_token_longer_than_256_is_refused(void **state)
{
    char t[258];

    memset(t, 'a', sizeof(t));
    assert_true(apiauth_scope_token_valid(t, 256));
    assert_false(apiauth_scope_token_valid(t, 257));
}

static void test_scope_list_is_tokens_separated_by_single_spaces(void **state)
{
    const char *good[] = {"", "read", "read write", "a b c d",
                          "integration.store store:read"};
    const char *bad[] = {" ", "read ", " read", "read  write", "read\twrite",
                         "read\nwrite", "read \"write\"", "a\\b", "a  ",
                         "read write "};
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_true(apiauth_scope_list_valid(good[i]));
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(apiauth_scope_list_valid(bad[i]));
    }
    assert_false(apiauth_scope_list_valid(NULL));
}

static void test_scope_has_finds_whole_tokens_only(void **state)
{
    const char *list = "integration.store read:posts admin_x";

    assert_true(apiauth_scope_has(list, "integration.store"));
    assert_true(apiauth_scope_has(list, "read:posts"));
    assert_true(apiauth_scope_has(list, "admin_x"));
    assert_false(apiauth_scope_has(list, "store"));
    assert_false(apiauth_scope_has(list, "integration"));
    assert_false(apiauth_scope_has(list, "read"));
    assert_false(apiauth_scope_has(list, "posts"));
    assert_false(apiauth_scope_has(list, "admin"));
    assert_false(apiauth_scope_has(list, "x"));
    assert_false(apiauth_scope_has(list, "Read:posts"));
}

static void test_scope_has_finds_a_token_after_a_partial_match(void **state)
{
    /* the first occurrence is inside a longer token, the second is whole */
    assert_true(apiauth_scope_has("storefront store", "store"));
    assert_true(apiauth_scope_has("my.store store", "store"));
    assert_true(apiauth_scope_has("store", "store"));
    assert_false(apiauth_scope_has("storestore", "store"));
    /* spaces around and between tokens are no part of them */
    assert_true(apiauth_scope_has(" read  write ", "write"));
    assert_true(apiauth_scope_has(" read  write ", "read"));
    assert_false(apiauth_scope_has("read writer", "write"));
}

static void test_scope_has_no_multi_token_member(void **state)
{
    /* "read write" is two tokens, not one token of the list */
    assert_false(apiauth_scope_has("read write admin", "read write"));
    assert_false(apiauth_scope_has("read write", "read write"));
    assert_false(apiauth_scope_has("read write", " read"));
}

static void test_scope_has_nothing_in_empty_or_absent_lists(void **state)
{
    assert_false(apiauth_scope_has("", "read"));
    assert_false(apiauth_scope_has(NULL, "read"));
    assert_false(apiauth_scope_has("read", ""));
}

static void test_scope_subset(void **state)
{
    assert_true(apiauth_scope_subset("read", "read write"));
    assert_true(apiauth_scope_subset("write read", "read write"));
    assert_true(apiauth_scope_subset("read write", "read write"));
    assert_true(apiauth_scope_subset("", "read"));
    assert_true(apiauth_scope_subset("", ""));
    assert_true(apiauth_scope_subset(NULL, "read"));
    assert_false(apiauth_scope_subset("read admin", "read write"));
    assert_false(apiauth_scope_subset("store", "integration.store"));
    assert_false(apiauth_scope_subset("read", ""));
    assert_false(apiauth_scope_subset("read", NULL));
}

static void test_scope_subset_refuses_tokens_it_cannot_hold(void **state)
{
    char wanted[300];

    memset(wanted, 'a', sizeof(wanted) - 1);
    wanted[sizeof(wanted) - 1] = '\0';
    /* even when "granted" is the same overlong token */
    assert_false(apiauth_scope_subset(wanted, wanted));
}

static void test_scope_split_returns_the_tokens_in_order(void **state)
{
    apr_array_header_t *a = apiauth_scope_split(unit_pool, "read write:x a.b");

    assert_int_equal(a->nelts, 3);
    assert_string_equal(APR_ARRAY_IDX(a, 0, const char *), "read");
    assert_string_equal(APR_ARRAY_IDX(a, 1, const char *), "write:x");
    assert_string_equal(APR_ARRAY_IDX(a, 2, const char *), "a.b");
}

static void test_scope_split_of_nothing_is_empty(void **state)
{
    assert_int_equal(apiauth_scope_split(unit_pool, "")->nelts, 0);
    assert_int_equal(apiauth_scope_split(unit_pool, NULL)->nelts, 0);
    assert_int_equal(apiauth_scope_split(unit_pool, "   ")->nelts, 0);
}

static void test_scope_split_copies_the_list(void **state)
{
    char list[] = "one two";
    apr_array_header_t *a = apiauth_scope_split(unit_pool, list);

    list[0] = 'X';
    assert_int_equal(a->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(a, 0, const char *), "one");
    assert_string_equal(list, "Xne two");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_scope_token_takes_the_rfc6749_characters),
        UNIT_TEST(test_scope_token_refuses_everything_else),
        UNIT_TEST(test_scope_token_is_read_to_the_given_length),
        UNIT_TEST(test_scope_token_longer_than_256_is_refused),
        UNIT_TEST(test_scope_list_is_tokens_separated_by_single_spaces),
        UNIT_TEST(test_scope_has_finds_whole_tokens_only),
        UNIT_TEST(test_scope_has_finds_a_token_after_a_partial_match),
        UNIT_TEST(test_scope_has_no_multi_token_member),
        UNIT_TEST(test_scope_has_nothing_in_empty_or_absent_lists),
        UNIT_TEST(test_scope_subset),
        UNIT_TEST(test_scope_subset_refuses_tokens_it_cannot_hold),
        UNIT_TEST(test_scope_split_returns_the_tokens_in_order),
        UNIT_TEST(test_scope_split_of_nothing_is_empty),
        UNIT_TEST(test_scope_split_copies_the_list),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("scope", tests, NULL, NULL);
    apr_terminate();
    return rc;
}
