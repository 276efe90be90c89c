/*
 * test_form.c: query strings, and token request bodies as parameters.
 */
#include "unit.h"

#include <apr_strings.h>

#include "form.h"

#define CRLF "\r\n"

/* What curl 7.88.1 sent for the Taptouch token example (seeds/004), with
 * -F for each field; captured byte for byte from a loopback listener. */
#define CURL_CT \
    "multipart/form-data; boundary=------------------------d0c7d0da9e230022"
static const char curl_body[] =
    "--------------------------d0c7d0da9e230022\r\n"
    "Content-Disposition: form-data; name=\"client_id\"\r\n"
    "\r\n"
    "YOUR_APPLICATION_ID\r\n"
    "--------------------------d0c7d0da9e230022\r\n"
    "Content-Disposition: form-data; name=\"client_secret\"\r\n"
    "\r\n"
    "YOUR_SECRET\r\n"
    "--------------------------d0c7d0da9e230022\r\n"
    "Content-Disposition: form-data; name=\"code\"\r\n"
    "\r\n"
    "AUTHORIZATION_CODE\r\n"
    "--------------------------d0c7d0da9e230022\r\n"
    "Content-Disposition: form-data; name=\"redirect_uri\"\r\n"
    "\r\n"
    "https://app.example/cb?x=1&y=2\r\n"
    "--------------------------d0c7d0da9e230022\r\n"
    "Content-Disposition: form-data; name=\"grant_type\"\r\n"
    "\r\n"
    "authorization_code\r\n"
    "--------------------------d0c7d0da9e230022--\r\n";

/* What python3-requests 2.28.1 prepares for
 * files={"client_id": (None, "x"), "grant_type": (None, "client_credentials")} */
#define REQUESTS_CT \
    "multipart/form-data; boundary=7dd68f335b481c0193cf69e0b9be6189"
static const char requests_body[] =
    "--7dd68f335b481c0193cf69e0b9be6189\r\n"
    "Content-Disposition: form-data; name=\"client_id\"\r\n"
    "\r\n"
    "x\r\n"
    "--7dd68f335b481c0193cf69e0b9be6189\r\n"
    "Content-Disposition: form-data; name=\"grant_type\"\r\n"
    "\r\n"
    "client_credentials\r\n"
    "--7dd68f335b481c0193cf69e0b9be6189--\r\n";

#define URLENCODED "application/x-www-form-urlencoded"
#define MULTIPART "multipart/form-data; boundary=b"

/* One part of a MULTIPART body, with the delimiter that opens it. */
#define PART(name, value) \
    "--b" CRLF "Content-Disposition: form-data; name=\"" name "\"" CRLF \
    CRLF value CRLF
#define CLOSE "--b--" CRLF

static apiauth_status_t parse_mem(const char *ct, const char *body,
                                  apr_size_t len, int max_params,
                                  apr_table_t **t, apiauth_error_t *e)
{
    apiauth_form_limits_t limits = {4096, max_params};

    e->error = e->description = NULL;
    return apiauth_form_parse(unit_pool, ct, body, len, &limits, t, e);
}

static apiauth_status_t parse(const char *ct, const char *body,
                              apr_table_t **t, apiauth_error_t *e)
{
    return parse_mem(ct, body, strlen(body), 32, t, e);
}

/* A refusal: invalid_request, a description, and no table. */
static void assert_refused(const char *ct, const char *body, apr_size_t len)
{
    apr_table_t *t = (apr_table_t *)1;
    apiauth_error_t e;

    assert_int_equal(parse_mem(ct, body, len, 32, &t, &e), APIAUTH_INVALID);
    assert_null(t);
    assert_string_equal(e.error, "invalid_request");
    assert_non_null(e.description);
}

#define REFUSED(ct, body) assert_refused(ct, body, sizeof(body) - 1)

static int table_size(const apr_table_t *t)
{
    return apr_table_elts(t)->nelts;
}

/* --- apiauth_urldecode ---------------------------------------------------- */

static void test_urldecode_reads_plus_and_escapes(void **state)
{
    char *out;

    assert_int_equal(apiauth_urldecode(unit_pool, "a+b%20c%2fd%2F%4A", 17,
                                       &out), APIAUTH_OK);
    assert_string_equal(out, "a b c/d/J");
    assert_int_equal(apiauth_urldecode(unit_pool, "", 0, &out), APIAUTH_OK);
    assert_string_equal(out, "");
    /* only len bytes are read */
    assert_int_equal(apiauth_urldecode(unit_pool, "abc%zz", 3, &out),
                     APIAUTH_OK);
    assert_string_equal(out, "abc");
}

static void test_urldecode_refuses_nul_and_broken_escapes(void **state)
{
    const char *bad[] = {"%00", "a%00b", "%", "a%", "a%4", "%zz", "%4g",
                         "%g4", "%%41"};
    char *out;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(apiauth_urldecode(unit_pool, bad[i], strlen(bad[i]),
                                           &out), APIAUTH_INVALID);
    }
    assert_int_equal(apiauth_urldecode(unit_pool, "a\0b", 3, &out),
                     APIAUTH_INVALID);
}

/* --- apiauth_query_get ---------------------------------------------------- */

static void test_query_get_counts_and_returns_the_first_value(void **state)
{
    const char *v;

    assert_int_equal(apiauth_query_get(unit_pool, "a=1&b=2&a=%33", "a", &v),
                     2);
    assert_string_equal(v, "1");
    assert_int_equal(apiauth_query_get(unit_pool, "a=1&b=x+y", "b", &v), 1);
    assert_string_equal(v, "x y");
    /* without a value it is absent (RFC 6749 §3.1), and no repeat */
    assert_int_equal(apiauth_query_get(unit_pool, "&&a&", "a", &v), 0);
    assert_null(v);
    assert_int_equal(apiauth_query_get(unit_pool, "a=&b=1&a=2", "a", &v), 1);
    assert_string_equal(v, "2");
    assert_int_equal(apiauth_query_get(unit_pool, "ab=1&A=2", "a", &v), 0);
    assert_null(v);
    assert_int_equal(apiauth_query_get(unit_pool, NULL, "a", &v), 0);
    assert_null(v);
    assert_int_equal(apiauth_query_get(unit_pool, "a=1&a=2", "a", NULL), 2);
    /* an encoded name is another parameter */
    assert_int_equal(apiauth_query_get(unit_pool, "%61=1", "a", &v), 0);
}

static void test_query_get_reports_a_malformed_first_value(void **state)
{
    const char *v;

    assert_int_equal(apiauth_query_get(unit_pool, "a=%zz&a=1", "a", &v), -1);
    assert_int_equal(apiauth_query_get(unit_pool, "a=%00", "a", &v), -1);
    /* only the first value is decoded */
    assert_int_equal(apiauth_query_get(unit_pool, "a=1&a=%zz", "a", &v), 2);
    assert_string_equal(v, "1");
}

/* --- apiauth_query_rewrite ------------------------------------------------ */

static void test_query_rewrite_removes_named_parameters(void **state)
{
    const char *const names[] = {"api_key", "token", NULL};

    assert_string_equal(apiauth_query_rewrite(unit_pool,
                                              "api_key=s&x=%41+b&token&y=",
                                              names, NULL),
                        "x=%41+b&y=");
    assert_null(apiauth_query_rewrite(unit_pool, "api_key=s&token=t", names,
                                      NULL));
    assert_null(apiauth_query_rewrite(unit_pool, NULL, names, NULL));
    assert_string_equal(apiauth_query_rewrite(unit_pool, "api_keys=1&&z=2",
                                              names, NULL),
                        "api_keys=1&z=2");
}

static void test_query_rewrite_masks_values(void **state)
{
    const char *const names[] = {"api_key", NULL};

    /* an empty one has no secret to hide, and stays absent */
    assert_string_equal(apiauth_query_rewrite(unit_pool,
                                              "api_key=secret&x=1&api_key"
                                              "&api_key=",
                                              names, "***"),
                        "api_key=***&x=1&api_key&api_key=");
}

/* --- apiauth_request_line_with_query --------------------------------------- */

static void test_request_line_gets_the_new_query(void **state)
{
    const char *line = "GET /v1/x?api_key=s&page=2 HTTP/1.1";

    assert_string_equal(apiauth_request_line_with_query(
                            unit_pool, line, "api_key=s&page=2",
                            "api_key=***&page=2"),
                        "GET /v1/x?api_key=***&page=2 HTTP/1.1");
    assert_string_equal(apiauth_request_line_with_query(
                            unit_pool, line, "api_key=s&page=2", NULL),
                        "GET /v1/x HTTP/1.1");
    /* HTTP/0.9 has no protocol after the target */
    assert_string_equal(apiauth_request_line_with_query(
                            unit_pool, "GET /x?a=1", "a=1", "a=***"),
                        "GET /x?a=***");
}

static void test_request_line_without_that_query_is_left_alone(void **state)
{
    const char *line = "GET /v1/x?a=1 HTTP/1.1";

    /* a prefix of the query is not the query */
    assert_ptr_equal(apiauth_request_line_with_query(unit_pool, line, "a=",
                                                     "z"), line);
    assert_ptr_equal(apiauth_request_line_with_query(unit_pool, line, "b=1",
                                                     "z"), line);
    assert_ptr_equal(apiauth_request_line_with_query(
                         unit_pool, "GET /x HTTP/1.1", "a=1", "z"),
                     (const char *)"GET /x HTTP/1.1");
    assert_null(apiauth_request_line_with_query(unit_pool, NULL, "a", "z"));
    assert_ptr_equal(apiauth_request_line_with_query(unit_pool, line, NULL,
                                                     "z"), line);
}

static void test_request_line_masked_masks_its_own_query(void **state)
{
    const char *names[] = {"access_token", NULL};
    const char *line = "GET /v1/x?a=1&access_token=eyJ.x.y HTTP/1.1";

    assert_string_equal(apiauth_request_line_masked(unit_pool, line, names,
                                                    "***"),
                        "GET /v1/x?a=1&access_token=*** HTTP/1.1");
    /* whatever was done to it before: another parameter already masked */
    assert_string_equal(apiauth_request_line_masked(
                            unit_pool, "GET /x?k=***&access_token=s", names,
                            "***"),
                        "GET /x?k=***&access_token=***");
    /* nothing to mask: the same line */
    line = "GET /v1/x?a=1 HTTP/1.1";
    assert_ptr_equal(apiauth_request_line_masked(unit_pool, line, names,
                                                 "***"), line);
    line = "GET /v1/x HTTP/1.1";
    assert_ptr_equal(apiauth_request_line_masked(unit_pool, line, names,
                                                 "***"), line);
    assert_null(apiauth_request_line_masked(unit_pool, NULL, names, "***"));
}

/* --- apiauth_form_parse: urlencoded --------------------------------------- */

static void test_urlencoded_body_is_read(void **state)
{
    apr_table_t *t;
    apiauth_error_t e;

    assert_int_equal(parse(URLENCODED, "grant_type=client_credentials&"
                           "client_id=cli_1&scope=read+write%3Aall", &t, &e),
                     APIAUTH_OK);
    assert_int_equal(table_size(t), 3);
    assert_string_equal(apr_table_get(t, "grant_type"), "client_credentials");
    assert_string_equal(apr_table_get(t, "client_id"), "cli_1");
    assert_string_equal(apr_table_get(t, "scope"), "read write:all");
    /* names are decoded too */
    assert_int_equal(parse(URLENCODED, "client%5Fid=x", &t, &e), APIAUTH_OK);
    assert_string_equal(apr_table_get(t, "client_id"), "x");
    assert_int_equal(parse(URLENCODED, "", &t, &e), APIAUTH_OK);
    assert_int_equal(table_size(t), 0);
}

static void test_body_need_not_be_nul_terminated(void **state)
{
    static const char url[] = "a=1&b=2&c=3";
    static const char mp[] = PART("a", "1") CLOSE;
    apr_table_t *t;
    apiauth_error_t e;

    /* the length ends the body, whatever follows it in memory */
    assert_int_equal(parse_mem(URLENCODED, url, 7, 32, &t, &e), APIAUTH_OK);
    assert_int_equal(table_size(t), 2);
    assert_string_equal(apr_table_get(t, "b"), "2");
    assert_int_equal(parse_mem(MULTIPART, mp, sizeof(mp) - 1 - 2, 32, &t, &e),
                     APIAUTH_OK);
    assert_string_equal(apr_table_get(t, "a"), "1");
    assert_int_equal(parse_mem(MULTIPART, mp, sizeof(mp) - 1 - 4, 32, &t, &e),
                     APIAUTH_INVALID);
}

/* --- apiauth_form_parse: multipart ---------------------------------------- */

static void test_multipart_from_curl_F_is_read(void **state)
{
    apr_table_t *t;
    apiauth_error_t e;

    assert_int_equal(sizeof(curl_body) - 1, 635);   /* curl's Content-Length */
    assert_int_equal(parse(CURL_CT, curl_body, &t, &e), APIAUTH_OK);
    assert_int_equal(table_size(t), 5);
    assert_string_equal(apr_table_get(t, "client_id"), "YOUR_APPLICATION_ID");
    assert_string_equal(apr_table_get(t, "client_secret"), "YOUR_SECRET");
    assert_string_equal(apr_table_get(t, "code"), "AUTHORIZATION_CODE");
    /* a multipart value is not percent-decoded: & and = are data */
    assert_string_equal(apr_table_get(t, "redirect_uri"),
                        "https://app.example/cb?x=1&y=2");
    assert_string_equal(apr_table_get(t, "grant_type"), "authorization_code");
}

static void test_multipart_from_python_requests_is_read(void **state)
{
    apr_table_t *t;
    apiauth_error_t e;

    assert_int_equal(parse(REQUESTS_CT, requests_body, &t, &e), APIAUTH_OK);
    assert_int_equal(table_size(t), 2);
    assert_string_equal(apr_table_get(t, "client_id"), "x");
    assert_string_equal(apr_table_get(t, "grant_type"), "client_credentials");
}

static void test_every_truncation_of_a_multipart_body_is_refused(void **state)
{
    /* the body is complete once "--boundary--" is there: the final CRLF
     * is epilogue */
    apr_size_t complete = sizeof(curl_body) - 1 - 2, len;

    for (len = 0; len < complete; len++) {
        assert_refused(CURL_CT, curl_body, len);
    }
}

static void test_multipart_boundary_may_be_quoted_or_a_token(void **state)
{
    static const char body[] = "--a'(b)+_,-./:=? c" CRLF
        "Content-Disposition: form-data; name=x" CRLF CRLF
        "1" CRLF "--a'(b)+_,-./:=? c--";
    apr_table_t *t;
    apiauth_error_t e;

    assert_int_equal(parse("multipart/form-data; boundary=\"a'(b)+_,-./:=? c\"",
                           body, &t, &e), APIAUTH_OK);
    assert_string_equal(apr_table_get(t, "x"), "1");
    assert_int_equal(parse("multipart/form-data;boundary=\"b\"",
                           PART("x", "2") CLOSE, &t, &e), APIAUTH_OK);
    assert_string_equal(apr_table_get(t, "x"), "2");
}

static void test_media_type_is_case_insensitive_with_parameters(void **state)
{
    apr_table_t *t;
    apiauth_error_t e;

    assert_int_equal(parse("Application/X-WWW-Form-Urlencoded; charset=UTF-8",
                           "a=1", &t, &e), APIAUTH_OK);
    assert_string_equal(apr_table_get(t, "a"), "1");
    assert_int_equal(parse("MULTIPART/Form-Data ; charset=utf-8; BOUNDARY=b",
                           PART("a", "2") CLOSE, &t, &e), APIAUTH_OK);
    assert_string_equal(apr_table_get(t, "a"), "2");
}

static void test_other_media_types_are_refused(void **state)
{
    const char *types[] = {"", "application/json", "text/plain",
                           "multipart/mixed; boundary=b",
                           "application/x-www-form-urlencodedx",
                           "multipart/form-datas; boundary=b",
                           "multipart/form-data/x; boundary=b"};
    apr_table_t *t;
    apiauth_error_t e;
    size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        REFUSED(types[i], PART("a", "1") CLOSE);
    }
    assert_int_equal(parse(NULL, "a=1", &t, &e), APIAUTH_INVALID);
    assert_null(t);
}

static void test_bad_boundary_is_refused(void **state)
{
    const char *types[] = {
        "multipart/form-data",
        "multipart/form-data; charset=utf-8",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\"\"",
        "multipart/form-data; boundary=\"b \"",          /* ends in space */
        "multipart/form-data; boundary=b; boundary=b",   /* twice */
        "multipart/form-data; boundary=b=c",             /* '=' unquoted */
        "multipart/form-data; boundary=\"b\\\"c\"",      /* escape */
        "multipart/form-data; boundary=\"b",             /* unterminated */
        "multipart/form-data; boundary=\"b*\"",          /* not a bchar */
        "multipart/form-data; boundary = b",
        "multipart/form-data; b",
        /* 71 characters */
        "multipart/form-data; boundary=12345678901234567890123456789012345"
        "678901234567890123456789012345678901",
    };
    size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        REFUSED(types[i], PART("a", "1") CLOSE);
    }
}

static void test_boundary_of_70_characters_is_accepted(void **state)
{
#define B70 "1234567890123456789012345678901234567890123456789012345678901234567890"
    apr_table_t *t;
    apiauth_error_t e;

    assert_int_equal(parse("multipart/form-data; boundary=" B70,
                           "--" B70 CRLF
                           "Content-Disposition: form-data; name=a" CRLF CRLF
                           "1" CRLF "--" B70 "--", &t, &e), APIAUTH_OK);
    assert_string_equal(apr_table_get(t, "a"), "1");
#undef B70
}

static void test_multipart_preamble_and_epilogue_are_ignored(void **state)
{
    apr_table_t *t;
    apiauth_error_t e;

    assert_int_equal(parse(MULTIPART, "This is a preamble." CRLF
                           "nor is this: --b" CRLF
                           PART("a", "1") "--b--" CRLF
                           "an epilogue" CRLF PART("a", "2"), &t, &e),
                     APIAUTH_OK);
    assert_int_equal(table_size(t), 1);
    assert_string_equal(apr_table_get(t, "a"), "1");
    /* no parts at all */
    assert_int_equal(parse(MULTIPART, "--b--", &t, &e), APIAUTH_OK);
    assert_int_equal(table_size(t), 0);
}

static void test_boundary_inside_a_value_without_crlf_is_data(void **state)
{
    apr_table_t *t;
    apiauth_error_t e;

    assert_int_equal(parse(MULTIPART, PART("a", "x--b\n--b\r--b--y --b") CLOSE,
                           &t, &e), APIAUTH_OK);
    assert_string_equal(apr_table_get(t, "a"), "x--b\n--b\r--b--y --b");
}

static void test_multipart_values_keep_their_bytes(void **state)
{
    static const char body[] = PART("a", "line one" CRLF "line two" CRLF)
        PART("b", "caf\xc3\xa9 %41+") PART("c", " ") CLOSE;
    apr_table_t *t;
    apiauth_error_t e;

    assert_int_equal(parse(MULTIPART, body, &t, &e), APIAUTH_OK);
    assert_string_equal(apr_table_get(t, "a"), "line one\r\nline two\r\n");
    assert_string_equal(apr_table_get(t, "b"), "caf\xc3\xa9 %41+");
    assert_string_equal(apr_table_get(t, "c"), " ");
}

static void test_part_headers_are_read_flexibly_where_rfcs_allow(void **state)
{
    static const char body[] =
        "--b  \t" CRLF                                   /* padding */
        "content-disposition:FORM-DATA;NAME=a ; x-other=\"y\";" CRLF
        "Content-Type: Text/Plain; charset=\"UTF-8\"" CRLF
        "Content-Transfer-Encoding: 8bit" CRLF
        "X-Extra: ignored" CRLF
        CRLF "1" CRLF CLOSE;
    apr_table_t *t;
    apiauth_error_t e;

    assert_int_equal(parse(MULTIPART, body, &t, &e), APIAUTH_OK);
    assert_string_equal(apr_table_get(t, "a"), "1");
}

static void test_part_with_a_filename_is_refused(void **state)
{
    apr_table_t *t;
    apiauth_error_t e;

    REFUSED(MULTIPART, "--b" CRLF "Content-Disposition: form-data; "
            "name=\"a\"; filename=\"a.txt\"" CRLF CRLF "1" CRLF CLOSE);
    REFUSED(MULTIPART, "--b" CRLF "Content-Disposition: form-data; "
            "name=\"a\"; filename*=UTF-8''a.txt" CRLF CRLF "1" CRLF CLOSE);
    assert_int_equal(parse(MULTIPART, "--b" CRLF "Content-Disposition: "
                           "form-data; name=\"a\"; filename=\"\"" CRLF CRLF
                           CRLF CLOSE, &t, &e), APIAUTH_INVALID);
    assert_non_null(strstr(e.description, "file"));
}

static void test_part_content_type_must_be_text_plain(void **state)
{
    const char *types[] = {"application/octet-stream", "text/html",
                           "text/plainx", "multipart/mixed; boundary=c",
                           "text/plain; charset", "text/plain; a=\"b\\c\""};
    size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        const char *body = apr_pstrcat(unit_pool, "--b" CRLF
            "Content-Disposition: form-data; name=a" CRLF "Content-Type: ",
            types[i], CRLF CRLF "1" CRLF CLOSE, NULL);
        assert_refused(MULTIPART, body, strlen(body));
    }
}

static void test_malformed_part_headers_are_refused(void **state)
{
#define CD "Content-Disposition: form-data; name=\"a\""
    const char *bodies[] = {
        "--b" CRLF CRLF "1" CRLF CLOSE,                      /* none */
        "--b" CRLF "Content-Type: text/plain" CRLF CRLF "1" CRLF CLOSE,
        "--b" CRLF "Content-Disposition: attachment; name=a" CRLF CRLF
            "1" CRLF CLOSE,
        "--b" CRLF "Content-Disposition: form-data" CRLF CRLF "1" CRLF CLOSE,
        "--b" CRLF "Content-Disposition: form-data; name=a; name=c" CRLF
            CRLF "1" CRLF CLOSE,
        "--b" CRLF CD CRLF CD CRLF CRLF "1" CRLF CLOSE,      /* twice */
        "--b" CRLF "Content-Disposition: form-data; name=\"a\\\"b\"" CRLF
            CRLF "1" CRLF CLOSE,                             /* escape */
        "--b" CRLF "Content-Disposition: form-data; name=\"a" CRLF CRLF
            "1" CRLF CLOSE,                                  /* open quote */
        "--b" CRLF "Content-Disposition: form-data; name=a b" CRLF CRLF
            "1" CRLF CLOSE,
        "--b" CRLF "Content-Disposition: form-data; name=\"a\tb\x01\"" CRLF
            CRLF "1" CRLF CLOSE,                             /* control */
        "--b\n" CD "\n\n1" CRLF CLOSE,                       /* bare LF */
        "--b" CRLF CD "\n" CRLF "1" CRLF CLOSE,
        "--b" CRLF CD "\r" CRLF "1" CRLF CLOSE,              /* bare CR */
        "--b" CRLF CD CRLF " folded" CRLF CRLF "1" CRLF CLOSE,
        "--b" CRLF CD CRLF "No colon" CRLF CRLF "1" CRLF CLOSE,
        "--b" CRLF CD CRLF "Bad name: x" CRLF CRLF "1" CRLF CLOSE,
        "--b" CRLF "Content-Disposition : form-data; name=a" CRLF CRLF
            "1" CRLF CLOSE,
        "--b" CRLF CD CRLF "Content-Transfer-Encoding: base64" CRLF CRLF
            "MQ==" CRLF CLOSE,
        "--b" CRLF CD CRLF "A: 1" CRLF "B: 2" CRLF "C: 3" CRLF "D: 4" CRLF
            CRLF "1" CRLF CLOSE,                             /* too many */
        "--b" CRLF CD,                                       /* body ends */
        "--b" CRLF CD CRLF,
        "--b" CRLF CD CRLF CRLF "1",                         /* not closed */
        "--b" CRLF CD CRLF CRLF "1" CRLF "--b",
        "--bc" CRLF CD CRLF CRLF "1" CRLF CLOSE,     /* junk after --b */
        "--b" CRLF CD CRLF CRLF "1" CRLF "--b x" CRLF CLOSE,
        "--b" CRLF CD CRLF CRLF "1" CRLF "--b-" CRLF CLOSE,
        "no delimiter at all",
        "preamble\n--b" CRLF CD CRLF CRLF "1" CRLF CLOSE,  /* LF only */
        "preamble\n--b" CRLF CD CRLF CRLF "1" CRLF PART("c", "2") CLOSE,
        "--b" CRLF CD CRLF CRLF "--b" CRLF CD CRLF CRLF "1" CRLF CLOSE,
    };
    char *longline;
    size_t i;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        assert_refused(MULTIPART, bodies[i], strlen(bodies[i]));
    }
    longline = apr_pstrcat(unit_pool, "--b" CRLF CD CRLF "X-Long: ",
                           apr_psprintf(unit_pool, "%01100d", 0),
                           CRLF CRLF "1" CRLF CLOSE, NULL);
    assert_refused(MULTIPART, longline, strlen(longline));
#undef CD
}

/* --- RFC 6749 §3.1, both encodings ---------------------------------------- */

static void test_repeated_parameter_is_refused(void **state)
{
    apr_table_t *t;
    apiauth_error_t e;

    assert_int_equal(parse(URLENCODED, "scope=a&client_id=x&scope=b", &t, &e),
                     APIAUTH_INVALID);
    assert_null(t);
    assert_string_equal(e.error, "invalid_request");
    assert_non_null(strstr(e.description, "scope"));
    assert_int_equal(parse(MULTIPART, PART("client_id", "x")
                           PART("client_id", "x") CLOSE, &t, &e),
                     APIAUTH_INVALID);
    assert_non_null(strstr(e.description, "client_id"));
}

static void test_an_empty_copy_is_omitted_not_a_repeat(void **state)
{
    /* RFC 6749 §3.1: a parameter without a value is as if omitted, so the
     * one copy with a value is the only one sent */
    const char *bodies[] = {"scope=&scope=admin", "scope=admin&scope",
                            "grant_type=&grant_type=admin"};
    apr_table_t *t;
    apiauth_error_t e;
    size_t i;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        assert_int_equal(parse(URLENCODED, bodies[i], &t, &e), APIAUTH_OK);
        assert_int_equal(table_size(t), 1);
    }
    assert_int_equal(parse(MULTIPART, PART("scope", "") PART("scope", "admin")
                           CLOSE, &t, &e), APIAUTH_OK);
    assert_string_equal(apr_table_get(t, "scope"), "admin");
    /* two copies with values are still two */
    REFUSED(URLENCODED, "scope=&scope=admin&scope=read");
}

static void test_repeat_differing_only_in_case_is_refused(void **state)
{
    /* apr_table_get would read either copy for "scope" */
    REFUSED(URLENCODED, "scope=a&SCOPE=b");
    REFUSED(MULTIPART, PART("Scope", "a") PART("scope", "b") CLOSE);
}

static void test_repeat_description_does_not_echo_odd_names(void **state)
{
    apr_table_t *t;
    apiauth_error_t e;

    assert_int_equal(parse(URLENCODED, "%3Cscript%3E=1&%3Cscript%3E=2",
                           &t, &e), APIAUTH_INVALID);
    assert_null(strstr(e.description, "script"));
}

static void test_empty_value_counts_as_absent(void **state)
{
    apr_table_t *t;
    apiauth_error_t e;

    assert_int_equal(parse(URLENCODED, "scope=&state&client_id=x", &t, &e),
                     APIAUTH_OK);
    assert_int_equal(table_size(t), 1);
    assert_null(apr_table_get(t, "scope"));
    assert_null(apr_table_get(t, "state"));
    assert_string_equal(apr_table_get(t, "client_id"), "x");
    assert_int_equal(parse(MULTIPART, PART("scope", "") PART("client_id", "x")
                           CLOSE, &t, &e), APIAUTH_OK);
    assert_int_equal(table_size(t), 1);
    assert_null(apr_table_get(t, "scope"));
}

static void test_parameter_without_a_name_is_refused(void **state)
{
    REFUSED(URLENCODED, "=x");
    REFUSED(URLENCODED, "a=1&=");
    REFUSED(MULTIPART, PART("", "x") CLOSE);
}

static void test_nul_bytes_are_refused(void **state)
{
    REFUSED(URLENCODED, "a=1\0b");
    REFUSED(URLENCODED, "a=%00");
    REFUSED(URLENCODED, "a%00b=1");
    REFUSED(MULTIPART, PART("a", "1\0002") CLOSE);
    REFUSED(MULTIPART, PART("a", "\0") CLOSE);
}

static void test_bad_percent_encoding_is_refused(void **state)
{
    REFUSED(URLENCODED, "a=%4");
    REFUSED(URLENCODED, "a=%zz&b=1");
    REFUSED(URLENCODED, "a%=1");
}

static void test_body_over_max_body_is_refused(void **state)
{
    char body[4097];
    apr_table_t *t;
    apiauth_error_t e;

    memset(body, 'x', sizeof(body));
    body[0] = 'a';
    body[1] = '=';
    assert_int_equal(parse_mem(URLENCODED, body, 4096, 32, &t, &e),
                     APIAUTH_OK);
    assert_int_equal(strlen(apr_table_get(t, "a")), 4094);
    assert_int_equal(parse_mem(URLENCODED, body, 4097, 32, &t, &e),
                     APIAUTH_INVALID);
    assert_string_equal(e.error, "invalid_request");
    assert_non_null(strstr(e.description, "4096"));
    /* the default limits: 64 KiB */
    assert_int_equal(apiauth_form_parse(unit_pool, URLENCODED, body,
                                        sizeof(body), NULL, &t, &e),
                     APIAUTH_OK);
}

static void test_more_than_max_params_is_refused(void **state)
{
    static const char three[] = "a=1&b=&c=3";
    static const char parts[] = PART("a", "1") PART("b", "") PART("c", "3")
        CLOSE;
    apr_table_t *t;
    apiauth_error_t e;

    /* an empty parameter still counts: it was sent */
    assert_int_equal(parse_mem(URLENCODED, three, sizeof(three) - 1, 3,
                               &t, &e), APIAUTH_OK);
    assert_int_equal(parse_mem(URLENCODED, three, sizeof(three) - 1, 2,
                               &t, &e), APIAUTH_INVALID);
    assert_string_equal(e.error, "invalid_request");
    assert_int_equal(parse_mem(MULTIPART, parts, sizeof(parts) - 1, 3,
                               &t, &e), APIAUTH_OK);
    assert_int_equal(parse_mem(MULTIPART, parts, sizeof(parts) - 1, 2,
                               &t, &e), APIAUTH_INVALID);
    assert_null(t);
}

static void test_refusals_never_echo_values(void **state)
{
    const char *bodies[] = {
        "client_secret=s3cr3t&client_secret=s3cr3t",
        "client_secret=s3cr3t%zz",
        "client_secret=s3cr3t\0",
    };
    const apr_size_t lens[] = {41, 23, 21};
    size_t i;
    apr_table_t *t;
    apiauth_error_t e;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        assert_int_equal(parse_mem(URLENCODED, bodies[i], lens[i], 32, &t, &e),
                         APIAUTH_INVALID);
        assert_null(strstr(e.description, "s3cr3t"));
    }
    assert_int_equal(parse(MULTIPART, PART("client_secret", "s3cr3t")
                           "--b" CRLF "Content-Disposition: form-data; "
                           "name=x; filename=s3cr3t" CRLF CRLF CRLF CLOSE,
                           &t, &e), APIAUTH_INVALID);
    assert_null(strstr(e.description, "s3cr3t"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_urldecode_reads_plus_and_escapes),
        UNIT_TEST(test_urldecode_refuses_nul_and_broken_escapes),
        UNIT_TEST(test_query_get_counts_and_returns_the_first_value),
        UNIT_TEST(test_query_get_reports_a_malformed_first_value),
        UNIT_TEST(test_query_rewrite_removes_named_parameters),
        UNIT_TEST(test_query_rewrite_masks_values),
        UNIT_TEST(test_request_line_gets_the_new_query),
        UNIT_TEST(test_request_line_without_that_query_is_left_alone),
        UNIT_TEST(test_request_line_masked_masks_its_own_query),
        UNIT_TEST(test_urlencoded_body_is_read),
        UNIT_TEST(test_body_need_not_be_nul_terminated),
        UNIT_TEST(test_multipart_from_curl_F_is_read),
        UNIT_TEST(test_multipart_from_python_requests_is_read),
        UNIT_TEST(test_every_truncation_of_a_multipart_body_is_refused),
        UNIT_TEST(test_multipart_boundary_may_be_quoted_or_a_token),
        UNIT_TEST(test_media_type_is_case_insensitive_with_parameters),
        UNIT_TEST(test_other_media_types_are_refused),
        UNIT_TEST(test_bad_boundary_is_refused),
        UNIT_TEST(test_boundary_of_70_characters_is_accepted),
        UNIT_TEST(test_multipart_preamble_and_epilogue_are_ignored),
        UNIT_TEST(test_boundary_inside_a_value_without_crlf_is_data),
        UNIT_TEST(test_multipart_values_keep_their_bytes),
        UNIT_TEST(test_part_headers_are_read_flexibly_where_rfcs_allow),
        UNIT_TEST(test_part_with_a_filename_is_refused),
        UNIT_TEST(test_part_content_type_must_be_text_plain),
        UNIT_TEST(test_malformed_part_headers_are_refused),
        UNIT_TEST(test_repeated_parameter_is_refused),
        UNIT_TEST(test_an_empty_copy_is_omitted_not_a_repeat),
        UNIT_TEST(test_repeat_differing_only_in_case_is_refused),
        UNIT_TEST(test_repeat_description_does_not_echo_odd_names),
        UNIT_TEST(test_empty_value_counts_as_absent),
        UNIT_TEST(test_parameter_without_a_name_is_refused),
        UNIT_TEST(test_nul_bytes_are_refused),
        UNIT_TEST(test_bad_percent_encoding_is_refused),
        UNIT_TEST(test_body_over_max_body_is_refused),
        UNIT_TEST(test_more_than_max_params_is_refused),
        UNIT_TEST(test_refusals_never_echo_values),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("form", tests, NULL, NULL);
    apr_terminate();
    return rc;
}
