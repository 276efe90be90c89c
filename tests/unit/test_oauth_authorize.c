/*
 * test_oauth_authorize.c: the authorization endpoint (lib/oauth/authorize.c):
 * redirect URI matching, the decision table of an authorization request,
 * codes, the redirect back, and the consent form's CSRF token.
 */
#include "unit.h"

#include "oauth_fixture.h"

#define CB "https://client.example/cb"


/* conf: confidential, one redirect URI; pub: public, loopback; multi:
 * several URIs; cc: no authorization_code grant */
static void add_clients(void)
{
    client_add("cli_conf", "aacs_secret", "authorization_code refresh_token",
               "read write profile", CB, 0);
    client_add("cli_pub", NULL, "authorization_code", "read write",
               "http://127.0.0.1/cb", 0);
    client_add("cli_multi", "aacs_multi", "authorization_code", "read",
               "https://a.example/cb https://b.example/cb", 0);
    client_add("cli_cc", "aacs_cc", "client_credentials", "read admin", CB,
               0);
}

typedef struct {
    apiauth_status_t st;
    int redirectable;
    apiauth_oauth_authz_t a;
    apiauth_error_t err;
} check_result_t;

static check_result_t check(apr_table_t *params)
{
    check_result_t r;

    memset(&r, 0, sizeof(r));
    r.redirectable = -1;
    r.st = apiauth_oauth_authorize_check(unit_pool, &fx.cfg, fx.db, params,
                                         &r.a, &r.redirectable, &r.err);
    return r;
}

/* A request of cli_conf with everything right, one parameter changed
 * (`name` NULL changes nothing; `value` NULL leaves it out). */
static apr_table_t *request(const char *name, const char *value)
{
    apr_table_t *t = params_of("response_type", "code", "client_id",
                               "cli_conf", "redirect_uri", CB, "scope",
                               "read", "state", "xyz", "code_challenge",
                               CHALLENGE, "code_challenge_method", "S256",
                               NULL);

    if (name) {
        if (value) {
            apr_table_set(t, name, value);
        }
        else {
            apr_table_unset(t, name);
        }
    }
    return t;
}

static void assert_page_only(check_result_t r, const char *error)
{
    assert_int_equal(r.st, APIAUTH_INVALID);
    assert_int_equal(r.redirectable, 0);
    assert_string_equal(r.err.error, error);
    assert_non_null(r.err.description);
}

static void assert_redirected_error(check_result_t r, const char *error)
{
    assert_int_equal(r.st, APIAUTH_INVALID);
    assert_int_equal(r.redirectable, 1);
    assert_string_equal(r.err.error, error);
    assert_non_null(r.err.description);
    assert_non_null(r.a.redirect_to);
}

/* --- redirect URIs ----------------------------------------------------- */

static void test_redirect_uri_matches_exactly(void **state)
{
    assert_true(apiauth_oauth_redirect_allowed(CB, CB));
    assert_true(apiauth_oauth_redirect_allowed("https://c.example/cb?x=1",
                                               "https://c.example/cb?x=1"));
    assert_false(apiauth_oauth_redirect_allowed(CB, "https://client.example"
                                                    "/cb?x=1"));
    assert_false(apiauth_oauth_redirect_allowed(CB, "HTTPS://client.example"
                                                    "/cb"));
    assert_false(apiauth_oauth_redirect_allowed(CB, "https://Client.example"
                                                    "/cb"));
    assert_false(apiauth_oauth_redirect_allowed(CB, "http://client.example"
                                                    "/cb"));
    assert_false(apiauth_oauth_redirect_allowed(CB, "https://client.example"
                                                    ":443/cb"));
}

static void test_redirect_uri_prefix_and_path_tricks_are_refused(void **state)
{
    const char *tricks[] = {
        "https://client.example/cb.evil",
        "https://client.example/cb/../x",
        "https://client.example/cb/",
        "https://client.example/cb/x",
        "https://client.example/c",
        "https://client.example/cb%2F..%2Fx",
        "https://client.example.evil/cb",
        "https://client.example@evil.example/cb",
        "https://evil.example/https://client.example/cb",
        "https://client.example/cb ",
        " https://client.example/cb",
        "https://client.example/cb\n",
        "https://client.example/CB",
    };
    size_t i;

    for (i = 0; i < sizeof(tricks) / sizeof(tricks[0]); i++) {
        if (apiauth_oauth_redirect_allowed(CB, tricks[i])) {
            fail_msg("\"%s\" allowed", tricks[i]);
        }
    }
}

static void test_redirect_uri_with_a_fragment_is_refused(void **state)
{
    assert_false(apiauth_oauth_redirect_allowed(CB, CB "#"));
    assert_false(apiauth_oauth_redirect_allowed(CB, CB "#x"));
    /* even when registered so */
    assert_false(apiauth_oauth_redirect_allowed(CB "#x", CB "#x"));
    assert_false(apiauth_oauth_redirect_allowed("http://127.0.0.1/cb",
                                                "http://127.0.0.1:8/cb#x"));
}

static void test_redirect_uri_may_be_any_of_several_registered(void **state)
{
    const char *several = "https://a.example/cb https://b.example/cb "
                          "https://c.example/cb";

    assert_true(apiauth_oauth_redirect_allowed(several,
                                               "https://a.example/cb"));
    assert_true(apiauth_oauth_redirect_allowed(several,
                                               "https://b.example/cb"));
    assert_true(apiauth_oauth_redirect_allowed(several,
                                               "https://c.example/cb"));
    assert_false(apiauth_oauth_redirect_allowed(several,
                                                "https://d.example/cb"));
    /* not two of them glued together, nor the whole list */
    assert_false(apiauth_oauth_redirect_allowed(
        several, "https://a.example/cb https://b.example/cb"));
    assert_false(apiauth_oauth_redirect_allowed(several, several));
    assert_false(apiauth_oauth_redirect_allowed(several, "https://a.example"
                                                         "/cbhttps://b"));
}

static void test_redirect_uri_nothing_registered_allows_nothing(void **state)
{
    assert_false(apiauth_oauth_redirect_allowed("", CB));
    assert_false(apiauth_oauth_redirect_allowed(NULL, CB));
    assert_false(apiauth_oauth_redirect_allowed(CB, ""));
    assert_false(apiauth_oauth_redirect_allowed(CB, NULL));
}

static void test_loopback_redirect_may_use_any_port(void **state)
{
    /* RFC 8252 §7.3: a native app's listener gets its port at run time */
    assert_true(apiauth_oauth_redirect_allowed("http://127.0.0.1/cb",
                                               "http://127.0.0.1:54321/cb"));
    assert_true(apiauth_oauth_redirect_allowed("http://127.0.0.1/cb",
                                               "http://127.0.0.1/cb"));
    assert_true(apiauth_oauth_redirect_allowed("http://127.0.0.1:8080/cb",
                                               "http://127.0.0.1:9/cb"));
    assert_true(apiauth_oauth_redirect_allowed("http://127.0.0.1:8080/cb",
                                               "http://127.0.0.1/cb"));
    assert_true(apiauth_oauth_redirect_allowed("http://[::1]/cb",
                                               "http://[::1]:61000/cb"));
    assert_true(apiauth_oauth_redirect_allowed(
        "https://client.example/cb http://[::1]:1/cb",
        "http://[::1]:2/cb"));
    assert_true(apiauth_oauth_redirect_allowed("http://127.0.0.1",
                                               "http://127.0.0.1:5000"));
}

static void test_loopback_redirect_port_must_be_a_port(void **state)
{
    /* a port is 1 to 65535 (RFC 6335 §6): no listener is on any other */
    const char *bad[] = {
        "http://127.0.0.1:0/cb",      "http://127.0.0.1:65536/cb",
        "http://127.0.0.1:99999/cb",  "http://127.0.0.1:123456/cb",
        "http://127.0.0.1:/cb",       "http://127.0.0.1:08080/cb",
        "http://[::1]:0/cb",          "http://[::1]:70000/cb",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *reg = strncmp(bad[i], "http://[", 8) == 0
                              ? "http://[::1]/cb" : "http://127.0.0.1/cb";
        if (apiauth_oauth_redirect_allowed(reg, bad[i])) {
            fail_msg("\"%s\" allowed", bad[i]);
        }
    }
    assert_true(apiauth_oauth_redirect_allowed("http://127.0.0.1/cb",
                                               "http://127.0.0.1:65535/cb"));
    assert_true(apiauth_oauth_redirect_allowed("http://127.0.0.1/cb",
                                               "http://127.0.0.1:1/cb"));
}

static void test_loopback_redirect_path_must_still_match(void **state)
{
    assert_false(apiauth_oauth_redirect_allowed("http://127.0.0.1/cb",
                                                "http://127.0.0.1:5000/cb2"));
    assert_false(apiauth_oauth_redirect_allowed("http://127.0.0.1/cb",
                                                "http://127.0.0.1:5000/"));
    assert_false(apiauth_oauth_redirect_allowed("http://127.0.0.1/cb",
                                                "http://127.0.0.1:5000/cb?x"));
    assert_false(apiauth_oauth_redirect_allowed("http://127.0.0.1/cb",
                                                "http://127.0.0.1:5000"));
}

static void test_loopback_redirect_host_tricks_are_refused(void **state)
{
    const char *tricks[] = {
        "http://127.0.0.1.evil.example/cb",
        "http://127.0.0.1@evil.example/cb",
        "http://127.0.0.1:80@evil.example/cb",
        "http://127.0.0.1:80.evil.example/cb",
        "http://127.0.0.10/cb",
        "http://127.0.0.2/cb",
        "http://[::1]:80/cb",            /* the other loopback address */
        "http://0x7f000001/cb",
        "http://127.1/cb",
    };
    size_t i;

    for (i = 0; i < sizeof(tricks) / sizeof(tricks[0]); i++) {
        if (apiauth_oauth_redirect_allowed("http://127.0.0.1/cb",
                                           tricks[i])) {
            fail_msg("\"%s\" allowed", tricks[i]);
        }
    }
    assert_false(apiauth_oauth_redirect_allowed("http://[::1]/cb",
                                                "http://127.0.0.1:80/cb"));
}

static void test_localhost_and_https_loopback_match_exactly(void **state)
{
    /* only the literal loopback addresses over http get any port */
    assert_true(apiauth_oauth_redirect_allowed("http://localhost/cb",
                                               "http://localhost/cb"));
    assert_false(apiauth_oauth_redirect_allowed("http://localhost/cb",
                                                "http://localhost:8080/cb"));
    assert_false(apiauth_oauth_redirect_allowed("https://127.0.0.1/cb",
                                                "https://127.0.0.1:8443/cb"));
    assert_false(apiauth_oauth_redirect_allowed("https://[::1]/cb",
                                                "https://[::1]:8443/cb"));
    /* nor does a registered http loopback URI allow https */
    assert_false(apiauth_oauth_redirect_allowed("http://127.0.0.1/cb",
                                                "https://127.0.0.1:8443/cb"));
}

/* --- the authorization request: errors shown on a page ------------------ */

static void test_missing_client_id_is_a_page_error(void **state)
{
    add_clients();
    assert_page_only(check(request("client_id", NULL)), "invalid_request");
}

static void test_unknown_client_is_a_page_error(void **state)
{
    add_clients();
    assert_page_only(check(request("client_id", "cli_nobody")),
                     "invalid_request");
}

static void test_deleted_client_is_a_page_error(void **state)
{
    add_clients();
    client_delete("cli_conf");
    assert_page_only(check(request(NULL, NULL)), "invalid_request");
}

static void test_unregistered_redirect_uri_is_a_page_error(void **state)
{
    check_result_t r;

    add_clients();
    r = check(request("redirect_uri", "https://evil.example/cb"));
    assert_page_only(r, "invalid_request");
    assert_null(r.a.redirect_to);
    /* even with another error that would otherwise go back */
    r = check(params_of("client_id", "cli_conf", "redirect_uri",
                        CB ".evil", "response_type", "token", NULL));
    assert_page_only(r, "invalid_request");
}

static void test_redirect_uri_is_required_when_several_are_registered(
    void **state)
{
    check_result_t r;

    add_clients();
    r = check(params_of("response_type", "code", "client_id", "cli_multi",
                        "state", "s", NULL));
    assert_page_only(r, "invalid_request");
    r = check(params_of("response_type", "code", "client_id", "cli_multi",
                        "redirect_uri", "https://b.example/cb", NULL));
    assert_int_equal(r.st, APIAUTH_OK);
    assert_string_equal(r.a.redirect_to, "https://b.example/cb");
}

static void test_redirect_uri_defaults_to_the_only_one_registered(void **state)
{
    check_result_t r;

    add_clients();
    r = check(request("redirect_uri", NULL));
    assert_int_equal(r.st, APIAUTH_OK);
    assert_string_equal(r.a.redirect_to, CB);
    /* as sent: the token request then need not repeat it */
    assert_null(r.a.redirect_uri);
}

static void test_store_failure_is_an_error(void **state)
{
    check_result_t r;

    add_clients();
    assert_int_equal(schema_change("DROP TABLE apiauth_clients"), 0);
    r = check(request(NULL, NULL));
    assert_int_equal(r.st, APIAUTH_ERROR);
    assert_int_equal(r.redirectable, 0);
    assert_string_equal(r.err.error, "temporarily_unavailable");
}

/* --- errors sent back to the client -------------------------------------- */

static void test_missing_response_type_goes_back(void **state)
{
    check_result_t r;

    add_clients();
    r = check(request("response_type", NULL));
    assert_redirected_error(r, "invalid_request");
    assert_string_equal(r.a.redirect_to, CB);
    assert_string_equal(r.a.state, "xyz");
}

static void test_other_response_types_are_unsupported(void **state)
{
    const char *types[] = {"token", "code id_token", "Code", "id_token",
                           "code "};
    size_t i;

    add_clients();
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        assert_redirected_error(check(request("response_type", types[i])),
                                "unsupported_response_type");
    }
}

static void test_client_without_the_code_grant_is_unauthorized(void **state)
{
    check_result_t r;

    add_clients();
    r = check(params_of("response_type", "code", "client_id", "cli_cc",
                        "scope", "read", "code_challenge", CHALLENGE,
                        "code_challenge_method", "S256", NULL));
    assert_redirected_error(r, "unauthorized_client");
}

static void test_scope_outside_what_is_allowed_is_invalid_scope(void **state)
{
    /* unknown; registered for client_credentials only; not the client's;
     * malformed */
    const char *bad[] = {"read delete", "admin", "metrics read", "read  write",
                         " read", "read\""};
    size_t i;

    add_clients();
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        check_result_t r = check(request("scope", bad[i]));
        if (r.st != APIAUTH_INVALID || r.redirectable != 1
            || strcmp(r.err.error, "invalid_scope") != 0) {
            fail_msg("scope \"%s\": status %d", bad[i], r.st);
        }
    }
    /* profile is the server's and cli_conf's, but not cli_pub's */
    assert_redirected_error(
        check(params_of("response_type", "code", "client_id", "cli_pub",
                        "scope", "profile", "code_challenge", CHALLENGE,
                        "code_challenge_method", "S256", NULL)),
        "invalid_scope");
}

static void test_scope_defaults_to_all_the_client_may_have(void **state)
{
    check_result_t r;

    add_clients();
    r = check(request("scope", NULL));
    assert_int_equal(r.st, APIAUTH_OK);
    assert_null(r.a.scope);
    assert_string_equal(r.a.granted_scope, "read write profile");
}

static void test_no_scope_available_is_invalid_scope(void **state)
{
    add_clients();
    client_add("cli_none", "aacs_none", "authorization_code", "admin", CB, 0);
    assert_redirected_error(
        check(params_of("response_type", "code", "client_id", "cli_none",
                        "code_challenge", CHALLENGE,
                        "code_challenge_method", "S256", NULL)),
        "invalid_scope");
}

static void test_state_is_kept_up_to_2048_bytes(void **state)
{
    char *s = apr_palloc(unit_pool, 2050);
    check_result_t r;

    add_clients();
    memset(s, 'x', 2049);
    s[2048] = '\0';
    r = check(request("state", s));
    assert_int_equal(r.st, APIAUTH_OK);
    assert_string_equal(r.a.state, s);
    s[2048] = 'x';
    s[2049] = '\0';
    r = check(request("state", s));
    assert_redirected_error(r, "invalid_request");
    /* not echoed back */
    assert_null(r.a.state);
}

/* --- PKCE --------------------------------------------------------------- */

static void test_pkce_s256_is_accepted(void **state)
{
    check_result_t r;

    add_clients();
    r = check(request(NULL, NULL));
    assert_int_equal(r.st, APIAUTH_OK);
    assert_string_equal(r.a.code_challenge, CHALLENGE);
    assert_string_equal(r.a.code_challenge_method, "S256");
}

static void test_pkce_other_methods_are_invalid_request(void **state)
{
    const char *methods[] = {"plain", "s256", "S384", "S256 "};
    size_t i;

    add_clients();
    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        assert_redirected_error(
            check(request("code_challenge_method", methods[i])),
            "invalid_request");
    }
}

static void test_pkce_challenge_without_method_is_invalid_request(
    void **state)
{
    /* RFC 7636 would read it as plain, which is not offered */
    add_clients();
    assert_redirected_error(check(request("code_challenge_method", NULL)),
                            "invalid_request");
}

static void test_pkce_method_without_challenge_is_invalid_request(
    void **state)
{
    add_clients();
    assert_redirected_error(check(request("code_challenge", NULL)),
                            "invalid_request");
}

static void test_pkce_malformed_challenge_is_invalid_request(void **state)
{
    const char *bad[] = {"short", CHALLENGE "A", CHALLENGE "=",
                         "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"};
    size_t i;

    add_clients();
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_redirected_error(check(request("code_challenge", bad[i])),
                                "invalid_request");
    }
}

static void test_pkce_is_required_of_public_clients(void **state)
{
    apr_table_t *t;

    add_clients();
    t = params_of("response_type", "code", "client_id", "cli_pub", NULL);
    assert_redirected_error(check(t), "invalid_request");
    apr_table_set(t, "code_challenge", CHALLENGE);
    apr_table_set(t, "code_challenge_method", "S256");
    assert_int_equal(check(t).st, APIAUTH_OK);
}

static void test_pkce_is_optional_for_confidential_clients_by_default(
    void **state)
{
    apr_table_t *t;

    add_clients();
    t = request("code_challenge", NULL);
    apr_table_unset(t, "code_challenge_method");
    assert_int_equal(check(t).st, APIAUTH_OK);
}

static void test_require_pkce_all_requires_it_of_confidential_clients(
    void **state)
{
    apr_table_t *t;

    add_clients();
    fx.cfg.require_pkce_all = 1;
    t = request("code_challenge", NULL);
    apr_table_unset(t, "code_challenge_method");
    assert_redirected_error(check(t), "invalid_request");
    assert_int_equal(check(request(NULL, NULL)).st, APIAUTH_OK);
}

/* --- a request that passes ----------------------------------------------- */

static void test_good_request_fills_the_decision(void **state)
{
    check_result_t r;

    add_clients();
    r = check(request("scope", "write read"));
    assert_int_equal(r.st, APIAUTH_OK);
    assert_int_equal(r.redirectable, 1);
    assert_string_equal(r.a.response_type, "code");
    assert_string_equal(r.a.client_id, "cli_conf");
    assert_string_equal(r.a.client.id, "cli_conf");
    assert_string_equal(r.a.client.app, APP_ID);
    assert_string_equal(r.a.redirect_uri, CB);
    assert_string_equal(r.a.redirect_to, CB);
    assert_string_equal(r.a.scope, "write read");
    assert_string_equal(r.a.granted_scope, "write read");
    assert_string_equal(r.a.state, "xyz");
}

static void test_loopback_client_is_sent_back_to_its_port(void **state)
{
    check_result_t r;

    add_clients();
    r = check(params_of("response_type", "code", "client_id", "cli_pub",
                        "redirect_uri", "http://127.0.0.1:49152/cb",
                        "code_challenge", CHALLENGE,
                        "code_challenge_method", "S256", NULL));
    assert_int_equal(r.st, APIAUTH_OK);
    assert_string_equal(r.a.redirect_to, "http://127.0.0.1:49152/cb");
}

/* --- codes --------------------------------------------------------------- */

static void test_issue_records_the_grant_and_a_code_by_digest(void **state)
{
    apiauth_error_t err;
    check_result_t r;
    const char *code = NULL, *digest;

    add_clients();
    r = check(request("scope", "read write"));
    assert_int_equal(r.st, APIAUTH_OK);
    assert_int_equal(apiauth_oauth_authorize_issue(unit_pool, &fx.cfg, fx.db,
                                                   &r.a, USER, NULL, NOW, &code,
                                                   &err), APIAUTH_OK);
    assert_non_null(code);
    assert_int_equal(strncmp(code, "aac_", 4), 0);
    assert_int_equal(apiauth_secret_shape(code), APIAUTH_SECRET_VALID);
    digest = apiauth_digest_hex(unit_pool, NULL, code);
    /* the code itself is nowhere in the store */
    assert_true(sql_int(apr_psprintf(unit_pool, "SELECT COUNT(*) FROM "
                                     "apiauth_codes WHERE digest = '%s'",
                                     code)) == 0);
    assert_true(sql_int(apr_psprintf(
                    unit_pool, "SELECT expires FROM apiauth_codes WHERE "
                    "digest = '%s' AND client_id = 'cli_conf' AND user_id = "
                    "'alice' AND redirect_uri = '" CB "' AND code_challenge "
                    "= '" CHALLENGE "' AND scope = 'read write' AND used IS "
                    "NULL", digest)) == NOW + CODE_LIFETIME);
    assert_true(sql_int("SELECT COUNT(*) FROM apiauth_grants WHERE "
                        "client_id = 'cli_conf' AND user_id = 'alice' AND "
                        "scope = 'read write' AND revoked IS NULL AND "
                        "id = (SELECT grant_id FROM apiauth_codes)") == 1);
}

static void test_issue_keeps_a_left_out_redirect_uri_null(void **state)
{
    apiauth_error_t err;
    check_result_t r;
    const char *code = NULL;

    add_clients();
    r = check(request("redirect_uri", NULL));
    assert_int_equal(apiauth_oauth_authorize_issue(unit_pool, &fx.cfg, fx.db,
                                                   &r.a, USER, NULL, NOW, &code,
                                                   &err), APIAUTH_OK);
    assert_true(sql_int("SELECT COUNT(*) FROM apiauth_codes WHERE "
                        "redirect_uri IS NULL") == 1);
}

static void test_issue_gives_a_new_code_each_time(void **state)
{
    apiauth_error_t err;
    check_result_t r;
    const char *a = NULL, *b = NULL;

    add_clients();
    r = check(request(NULL, NULL));
    assert_int_equal(apiauth_oauth_authorize_issue(unit_pool, &fx.cfg, fx.db,
                                                   &r.a, USER, NULL, NOW, &a, &err),
                     APIAUTH_OK);
    assert_int_equal(apiauth_oauth_authorize_issue(unit_pool, &fx.cfg, fx.db,
                                                   &r.a, USER, NULL, NOW, &b, &err),
                     APIAUTH_OK);
    assert_string_not_equal(a, b);
    assert_true(sql_int("SELECT COUNT(DISTINCT grant_id) FROM apiauth_codes")
                == 2);
}

static void test_issue_records_nothing_when_the_store_fails(void **state)
{
    apiauth_error_t err = {NULL, NULL};
    check_result_t r;
    const char *code = NULL;

    add_clients();
    r = check(request(NULL, NULL));
    /* the code insert fails after the grant insert succeeded */
    assert_int_equal(schema_change("CREATE TRIGGER fail_code BEFORE INSERT "
                                   "ON apiauth_codes BEGIN SELECT RAISE("
                                   "ABORT, 'test'); END"), 0);
    assert_int_equal(apiauth_oauth_authorize_issue(unit_pool, &fx.cfg, fx.db,
                                                   &r.a, USER, NULL, NOW, &code,
                                                   &err), APIAUTH_ERROR);
    assert_null(code);
    assert_string_equal(err.error, "temporarily_unavailable");
    assert_true(sql_int("SELECT COUNT(*) FROM apiauth_grants") == 0);
    /* and works again once the store does */
    assert_int_equal(schema_change("DROP TRIGGER fail_code"), 0);
    assert_int_equal(apiauth_oauth_authorize_issue(unit_pool, &fx.cfg, fx.db,
                                                   &r.a, USER, NULL, NOW, &code,
                                                   &err), APIAUTH_OK);
    assert_true(sql_int("SELECT COUNT(*) FROM apiauth_grants") == 1);
}

/* --- the redirect back --------------------------------------------------- */

static void test_redirect_starts_a_query(void **state)
{
    const char *const params[] = {"code", "aac_x", "state", "s", "iss",
                                  ISSUER, NULL};

    assert_string_equal(apiauth_oauth_redirect(unit_pool, CB, params),
                        CB "?code=aac_x&state=s"
                           "&iss=https%3A%2F%2Fas.example");
}

static void test_redirect_adds_to_an_existing_query(void **state)
{
    const char *const params[] = {"code", "c", "iss", ISSUER, NULL};

    assert_string_equal(
        apiauth_oauth_redirect(unit_pool, CB "?tenant=7", params),
        CB "?tenant=7&code=c&iss=https%3A%2F%2Fas.example");
}

static void test_redirect_encodes_every_reserved_character(void **state)
{
    const char *const params[] = {
        "state", "a&b=c#d\r\n e+f%g/h?i\xc3\xa9-._~", "iss", ISSUER, NULL};

    assert_string_equal(apiauth_oauth_redirect(unit_pool, CB, params),
                        CB "?state=a%26b%3Dc%23d%0D%0A%20e%2Bf%25g%2Fh%3Fi"
                           "%C3%A9-._~&iss=https%3A%2F%2Fas.example");
}

static void test_redirect_skips_null_values(void **state)
{
    const char *const error[] = {"error", "access_denied",
                                 "error_description", NULL, "state", NULL,
                                 "iss", ISSUER, NULL};
    const char *const none[] = {"state", NULL, NULL};

    assert_string_equal(apiauth_oauth_redirect(unit_pool, CB, error),
                        CB "?error=access_denied"
                           "&iss=https%3A%2F%2Fas.example");
    assert_string_equal(apiauth_oauth_redirect(unit_pool, CB, none), CB);
    assert_string_equal(apiauth_oauth_redirect(unit_pool, CB "?a=1", none),
                        CB "?a=1");
}

static void test_redirect_keeps_empty_values(void **state)
{
    const char *const params[] = {"state", "", "iss", ISSUER, NULL};

    assert_string_equal(apiauth_oauth_redirect(unit_pool, CB, params),
                        CB "?state=&iss=https%3A%2F%2Fas.example");
}

/* --- the consent form's token ------------------------------------------- */

static apiauth_pepper_t *form_key(void)
{
    static apiauth_pepper_t *key;

    if (key == NULL) {
        static apr_pool_t *keys;
        apr_pool_create(&keys, NULL);
        assert_int_equal(apiauth_pepper_derive(keys, NULL, NULL, &key),
                         APIAUTH_OK);
    }
    return key;
}

/* The request a form is made for: cli_conf, loopback, read, with PKCE. */
static apiauth_oauth_authz_t form_request(void)
{
    apiauth_oauth_authz_t a;

    memset(&a, 0, sizeof(a));
    a.client.id = "cli_conf";
    a.redirect_uri = "http://127.0.0.1:51000/cb";
    a.granted_scope = "read";
    a.state = "s-1";
    a.code_challenge = CHALLENGE;
    a.code_challenge_method = "S256";
    return a;
}

static char *form_token(const char *user, const apiauth_oauth_authz_t *a,
                        apr_int64_t when)
{
    char *t = apiauth_oauth_consent_token(unit_pool, form_key(), user, a,
                                          when);

    assert_non_null(t);
    return t;
}

static int form_ok(const char *token, const char *user,
                   const apiauth_oauth_authz_t *a, apr_int64_t now)
{
    const char *nonce = NULL;

    return apiauth_oauth_consent_token_valid(unit_pool, form_key(), token,
                                             user, a, now, &nonce);
}

static void test_form_token_is_valid_for_ten_minutes(void **state)
{
    apiauth_oauth_authz_t a = form_request();
    char *t = form_token(USER, &a, NOW);

    assert_true(form_ok(t, USER, &a, NOW));
    assert_true(form_ok(t, USER, &a, NOW + 600));
    assert_false(form_ok(t, USER, &a, NOW + 601));
    assert_false(form_ok(t, USER, &a, NOW + 86400));
    /* a minute of clock skew between servers sharing the key, no more */
    assert_true(form_ok(form_token(USER, &a, NOW + 60), USER, &a, NOW));
    assert_false(form_ok(form_token(USER, &a, NOW + 61), USER, &a, NOW));
}

static void test_form_token_is_bound_to_the_user(void **state)
{
    apiauth_oauth_authz_t a = form_request();
    char *t = form_token(USER, &a, NOW);

    assert_false(form_ok(t, "bob", &a, NOW));
    assert_false(form_ok(t, "Alice", &a, NOW));
    assert_false(form_ok(t, NULL, &a, NOW));
    assert_null(apiauth_oauth_consent_token(unit_pool, form_key(), NULL, &a,
                                            NOW));
}

static void test_form_token_is_bound_to_the_whole_request(void **state)
{
    apiauth_oauth_authz_t a = form_request(), b;
    char *t = form_token(USER, &a, NOW);

    /* each part of the request changed alone is another request */
    b = a; b.client.id = "cli_pub";
    assert_false(form_ok(t, USER, &b, NOW));
    b = a; b.redirect_uri = "http://127.0.0.1:51001/cb";
    assert_false(form_ok(t, USER, &b, NOW));
    b = a; b.redirect_uri = NULL;
    assert_false(form_ok(t, USER, &b, NOW));
    b = a; b.granted_scope = "read write";
    assert_false(form_ok(t, USER, &b, NOW));
    b = a; b.state = "s-2";
    assert_false(form_ok(t, USER, &b, NOW));
    b = a; b.state = NULL;
    assert_false(form_ok(t, USER, &b, NOW));
    b = a; b.code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN";
    assert_false(form_ok(t, USER, &b, NOW));
    b = a; b.code_challenge_method = NULL;
    assert_false(form_ok(t, USER, &b, NOW));
    assert_true(form_ok(t, USER, &a, NOW));
}

static void test_form_token_binds_its_parts_unambiguously(void **state)
{
    /* the same bytes split differently are another user and client */
    apiauth_oauth_authz_t a = form_request(), b = form_request();
    char *t;

    a.client.id = "y";
    b.client.id = "cli_x\ny";
    t = form_token("alice\ncli_x", &a, NOW);
    assert_true(form_ok(t, "alice\ncli_x", &a, NOW));
    assert_false(form_ok(t, "alice", &b, NOW));
}

static void test_form_token_altered_is_refused(void **state)
{
    apiauth_oauth_authz_t a = form_request();
    char *t = form_token(USER, &a, NOW), *u;
    char *nonce = strchr(t, '.') + 1;

    /* the MAC, the nonce, the time */
    u = apr_pstrdup(unit_pool, t);
    u[strlen(u) - 1] = u[strlen(u) - 1] == 'A' ? 'B' : 'A';
    assert_false(form_ok(u, USER, &a, NOW));
    u = apr_pstrdup(unit_pool, t);
    u[nonce - t] = u[nonce - t] == 'A' ? 'B' : 'A';
    assert_false(form_ok(u, USER, &a, NOW));
    assert_false(form_ok(apr_psprintf(unit_pool, "%" APR_INT64_T_FMT ".%s",
                                      NOW + 1, nonce), USER, &a, NOW));
    assert_false(form_ok(apr_pstrcat(unit_pool, "0", t, NULL), USER, &a,
                         NOW));
    /* another key's */
    {
        apr_pool_t *keys;
        apiauth_pepper_t *other;
        apr_pool_create(&keys, unit_pool);
        assert_int_equal(apiauth_pepper_derive(keys, NULL, NULL, &other),
                         APIAUTH_OK);
        assert_false(form_ok(apiauth_oauth_consent_token(unit_pool, other,
                                                         USER, &a, NOW),
                             USER, &a, NOW));
    }
}

static void test_form_token_garbage_is_refused(void **state)
{
    apiauth_oauth_authz_t a = form_request();
    const char *garbage[] = {"", ".", "..", "x", "1700000000", "1700000000.",
                             "1700000000..", "-1.abc.def",
                             "99999999999999999999999.x.y",
                             "1700000000.AAAAAAAAAAAAAAAAAAAAAA.!!!!"};
    size_t i;

    for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        assert_false(form_ok(garbage[i], USER, &a, NOW));
    }
    assert_false(form_ok(NULL, USER, &a, NOW));
}

static void test_form_tokens_differ_and_each_has_its_nonce(void **state)
{
    apiauth_oauth_authz_t a = form_request();
    char *t1 = form_token(USER, &a, NOW), *t2 = form_token(USER, &a, NOW);
    const char *n1 = NULL, *n2 = NULL;

    assert_string_not_equal(t1, t2);
    assert_true(apiauth_oauth_consent_token_valid(unit_pool, form_key(), t1,
                                                  USER, &a, NOW, &n1));
    assert_true(apiauth_oauth_consent_token_valid(unit_pool, form_key(), t2,
                                                  USER, &a, NOW, &n2));
    assert_string_not_equal(n1, n2);
}

static void test_a_consent_form_is_answered_once(void **state)
{
    apiauth_error_t err = {NULL, NULL};
    check_result_t r;
    const char *code = NULL;

    add_clients();
    r = check(request(NULL, NULL));
    assert_int_equal(apiauth_oauth_authorize_issue(unit_pool, &fx.cfg, fx.db,
                                                   &r.a, USER, "nonce-1", NOW,
                                                   &code, &err), APIAUTH_OK);
    code = NULL;
    assert_int_equal(apiauth_oauth_authorize_issue(unit_pool, &fx.cfg, fx.db,
                                                   &r.a, USER, "nonce-1", NOW,
                                                   &code, &err),
                     APIAUTH_DENIED);
    assert_null(code);
    assert_string_equal(err.error, "access_denied");
    /* nothing of the second answer was recorded */
    assert_true(sql_int("SELECT COUNT(*) FROM apiauth_grants") == 1);
    /* a denial spends a form too, and another form is another answer */
    assert_int_equal(apiauth_oauth_consent_spend(unit_pool, &fx.cfg, fx.db,
                                                 "nonce-2", NOW), APIAUTH_OK);
    assert_int_equal(apiauth_oauth_consent_spend(unit_pool, &fx.cfg, fx.db,
                                                 "nonce-2", NOW),
                     APIAUTH_DENIED);
    /* kept by digest, as long as the form could be posted */
    assert_true(sql_int(apr_psprintf(unit_pool, "SELECT expires FROM "
                                     "apiauth_consents WHERE digest = '%s'",
                                     apiauth_digest_hex(unit_pool, NULL,
                                                        "nonce-2")))
                == NOW + 660);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_redirect_uri_matches_exactly),
        UNIT_TEST(test_redirect_uri_prefix_and_path_tricks_are_refused),
        UNIT_TEST(test_redirect_uri_with_a_fragment_is_refused),
        UNIT_TEST(test_redirect_uri_may_be_any_of_several_registered),
        UNIT_TEST(test_redirect_uri_nothing_registered_allows_nothing),
        UNIT_TEST(test_loopback_redirect_may_use_any_port),
        UNIT_TEST(test_loopback_redirect_port_must_be_a_port),
        UNIT_TEST(test_loopback_redirect_path_must_still_match),
        UNIT_TEST(test_loopback_redirect_host_tricks_are_refused),
        UNIT_TEST(test_localhost_and_https_loopback_match_exactly),
        OAUTH_TEST(test_missing_client_id_is_a_page_error),
        OAUTH_TEST(test_unknown_client_is_a_page_error),
        OAUTH_TEST(test_deleted_client_is_a_page_error),
        OAUTH_TEST(test_unregistered_redirect_uri_is_a_page_error),
        OAUTH_TEST(test_redirect_uri_is_required_when_several_are_registered),
        OAUTH_TEST(test_redirect_uri_defaults_to_the_only_one_registered),
        OAUTH_TEST(test_store_failure_is_an_error),
        OAUTH_TEST(test_missing_response_type_goes_back),
        OAUTH_TEST(test_other_response_types_are_unsupported),
        OAUTH_TEST(test_client_without_the_code_grant_is_unauthorized),
        OAUTH_TEST(test_scope_outside_what_is_allowed_is_invalid_scope),
        OAUTH_TEST(test_scope_defaults_to_all_the_client_may_have),
        OAUTH_TEST(test_no_scope_available_is_invalid_scope),
        OAUTH_TEST(test_state_is_kept_up_to_2048_bytes),
        OAUTH_TEST(test_pkce_s256_is_accepted),
        OAUTH_TEST(test_pkce_other_methods_are_invalid_request),
        OAUTH_TEST(test_pkce_challenge_without_method_is_invalid_request),
        OAUTH_TEST(test_pkce_method_without_challenge_is_invalid_request),
        OAUTH_TEST(test_pkce_malformed_challenge_is_invalid_request),
        OAUTH_TEST(test_pkce_is_required_of_public_clients),
        OAUTH_TEST(test_pkce_is_optional_for_confidential_clients_by_default),
        OAUTH_TEST(test_require_pkce_all_requires_it_of_confidential_clients),
        OAUTH_TEST(test_good_request_fills_the_decision),
        OAUTH_TEST(test_loopback_client_is_sent_back_to_its_port),
        OAUTH_TEST(test_issue_records_the_grant_and_a_code_by_digest),
        OAUTH_TEST(test_issue_keeps_a_left_out_redirect_uri_null),
        OAUTH_TEST(test_issue_gives_a_new_code_each_time),
        OAUTH_TEST(test_issue_records_nothing_when_the_store_fails),
        UNIT_TEST(test_redirect_starts_a_query),
        UNIT_TEST(test_redirect_adds_to_an_existing_query),
        UNIT_TEST(test_redirect_encodes_every_reserved_character),
        UNIT_TEST(test_redirect_skips_null_values),
        UNIT_TEST(test_redirect_keeps_empty_values),
        UNIT_TEST(test_form_token_is_valid_for_ten_minutes),
        UNIT_TEST(test_form_token_is_bound_to_the_user),
        UNIT_TEST(test_form_token_is_bound_to_the_whole_request),
        UNIT_TEST(test_form_token_binds_its_parts_unambiguously),
        UNIT_TEST(test_form_token_altered_is_refused),
        UNIT_TEST(test_form_token_garbage_is_refused),
        UNIT_TEST(test_form_tokens_differ_and_each_has_its_nonce),
        OAUTH_TEST(test_a_consent_form_is_answered_once),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("oauth_authorize", tests, NULL, NULL);
    apr_terminate();
    return rc;
}
