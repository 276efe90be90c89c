/*
 * test_page_template.c: {{placeholders}} in the pages people see.
 *
 * What an operator writes is read once at start; a placeholder that is
 * misspelt, unknown or missing must be refused then, never shown to a
 * user.  Rendering copies the template and puts in the values as given
 * (the caller escapes them).
 */
#include "unit.h"

#include "page_template.h"

static const char *const names[] = {"client_name", "fields", "action",
                                    NULL};
static const char *const required[] = {"fields", "action", NULL};

static apiauth_status_t parse(const char *text, apiauth_template_t **t,
                              const char **errmsg)
{
    *errmsg = NULL;
    return apiauth_template_parse(unit_pool, text, names, required, t,
                                  errmsg);
}

static void test_placeholders_are_replaced_and_text_copied(void **state)
{
    const char *values[] = {"Acme &amp; Co", "<input>", "/auth", NULL};
    apiauth_template_t *t;
    const char *errmsg;

    assert_int_equal(parse("<h1>{{client_name}}</h1><form action=\""
                           "{{action}}\">{{fields}}{{fields}}</form>{",
                           &t, &errmsg), APIAUTH_OK);
    assert_string_equal(apiauth_template_render(unit_pool, t, values),
                        "<h1>Acme &amp; Co</h1><form action=\"/auth\">"
                        "<input><input></form>{");
}

static void test_a_missing_value_renders_empty(void **state)
{
    const char *values[] = {NULL, "", "/a", NULL};
    apiauth_template_t *t;
    const char *errmsg;

    assert_int_equal(parse("[{{client_name}}]{{fields}}{{action}}", &t,
                           &errmsg), APIAUTH_OK);
    assert_string_equal(apiauth_template_render(unit_pool, t, values),
                        "[]/a");
}

static void test_an_unknown_placeholder_is_refused_with_its_line(void **state)
{
    apiauth_template_t *t;
    const char *errmsg;

    assert_int_equal(parse("{{fields}}{{action}}\n\n{{client_id}}", &t,
                           &errmsg), APIAUTH_INVALID);
    assert_non_null(strstr(errmsg, "line 3"));
    assert_non_null(strstr(errmsg, "{{client_id}}"));
}

static void test_a_malformed_placeholder_is_refused(void **state)
{
    const char *bad[] = {"{{fields}}{{action}}{{client-name}}",
                         "{{fields}}{{action}}{{ client_name }}",
                         "{{fields}}{{action}}{{Client_name}}",
                         "{{fields}}{{action}}{{}}",
                         "{{fields}}{{action}}{{client_name"};
    apiauth_template_t *t;
    const char *errmsg;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i], &t, &errmsg) != APIAUTH_INVALID) {
            fail_msg("accepted: %s", bad[i]);
        }
        assert_non_null(errmsg);
    }
}

static void test_a_required_placeholder_must_be_there(void **state)
{
    apiauth_template_t *t;
    const char *errmsg;

    assert_int_equal(parse("<form action=\"{{action}}\"></form>", &t,
                           &errmsg), APIAUTH_INVALID);
    assert_non_null(strstr(errmsg, "{{fields}}"));
    assert_int_equal(parse("", &t, &errmsg), APIAUTH_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_placeholders_are_replaced_and_text_copied),
        UNIT_TEST(test_a_missing_value_renders_empty),
        UNIT_TEST(test_an_unknown_placeholder_is_refused_with_its_line),
        UNIT_TEST(test_a_malformed_placeholder_is_refused),
        UNIT_TEST(test_a_required_placeholder_must_be_there),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("page_template", tests, NULL, NULL);
    apr_terminate();
    return rc;
}
