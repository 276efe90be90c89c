/*
 * test_oauth_client.c: grant names, client lookup, client authentication
 * (RFC 6749 §2.3) and scopes per grant (lib/oauth/client.c), over a real
 * SQLite store.
 */
#include "unit.h"

#include <openssl/evp.h>

#include "encoding.h"
#include "oauth_fixture.h"

#define CONF_ID "cli_conf"
#define CONF_SECRET "aacs_confidentialSecret0123456789abcdef"
#define PUB_ID "cli_pub"

static void add_clients(void)
{
    client_add(CONF_ID, CONF_SECRET,
               "authorization_code client_credentials refresh_token",
               "read write admin", "https://client.example/cb", 0);
    client_add(PUB_ID, NULL, "authorization_code refresh_token", "read",
               "http://127.0.0.1/cb", 0);
}

/* "Basic " + base64(id ":" secret), each taken exactly as given */
static const char *basic(const char *id, const char *secret)
{
    const char *plain = apr_pstrcat(unit_pool, id, ":", secret, NULL);

    return apr_pstrcat(unit_pool, "Basic ",
                       apiauth_b64_encode(unit_pool, plain, strlen(plain)),
                       NULL);
}

typedef struct {
    apiauth_status_t st;
    apiauth_oauth_client_t client;
    apiauth_client_auth_t method;
    apiauth_effects_t fx;
    apiauth_error_t err;
} auth_result_t;

/* The TLS client certificate the next requests come with (NULL: none). */
static const apiauth_tls_client_t *with_cert;

static auth_result_t authenticate(const char *authorization,
                                  apr_table_t *params, int public_allowed)
{
    auth_result_t r;

    memset(&r, 0, sizeof(r));
    r.method = (apiauth_client_auth_t)-1;
    apiauth_effects_init(&r.fx, unit_pool);
    r.st = apiauth_oauth_client_authenticate(unit_pool, &fx.cfg, fx.db,
                                             authorization, params,
                                             with_cert, public_allowed,
                                             &r.client, &r.method, &r.fx,
                                             &r.err);
    return r;
}

static void assert_refused(auth_result_t r, apiauth_status_t st,
                           const char *error)
{
    assert_int_equal(r.st, st);
    assert_non_null(r.err.error);
    assert_string_equal(r.err.error, error);
    assert_non_null(r.err.description);
    /* a wrong or missing secret counts toward the failure limit; a
     * malformed request or a store down does not */
    assert_int_equal(apiauth_effects_count(&r.fx, APIAUTH_EFFECT_REFUSED),
                     st == APIAUTH_DENIED);
}

/* --- grant names ------------------------------------------------------- */

static void test_grant_names_round_trip(void **state)
{
    const unsigned grants[] = {APIAUTH_GRANT_AUTHORIZATION_CODE,
                               APIAUTH_GRANT_CLIENT_CREDENTIALS,
                               APIAUTH_GRANT_REFRESH_TOKEN};
    size_t i;

    assert_string_equal(apiauth_grant_name(APIAUTH_GRANT_AUTHORIZATION_CODE),
                        "authorization_code");
    assert_string_equal(apiauth_grant_name(APIAUTH_GRANT_CLIENT_CREDENTIALS),
                        "client_credentials");
    assert_string_equal(apiauth_grant_name(APIAUTH_GRANT_REFRESH_TOKEN),
                        "refresh_token");
    for (i = 0; i < sizeof(grants) / sizeof(grants[0]); i++) {
        assert_int_equal(apiauth_grant_from_name(apiauth_grant_name(grants[i])),
                         grants[i]);
    }
}

static void test_unknown_grant_names_are_zero(void **state)
{
    const char *unknown[] = {"", "implicit", "password", "Refresh_Token",
                             "authorization_code ", "client_credentials\n",
                             "urn:ietf:params:oauth:grant-type:device_code"};
    size_t i;

    for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_int_equal(apiauth_grant_from_name(unknown[i]), 0);
    }
    assert_int_equal(apiauth_grant_from_name(NULL), 0);
    assert_null(apiauth_grant_name(0));
    assert_null(apiauth_grant_name(APIAUTH_GRANT_AUTHORIZATION_CODE
                                   | APIAUTH_GRANT_REFRESH_TOKEN));
    assert_null(apiauth_grant_name(0x8));
}

static void test_grants_parse_sets_a_bit_per_name(void **state)
{
    const char *bad = NULL;

    assert_int_equal(apiauth_grants_parse(unit_pool, "refresh_token "
                                          "authorization_code", &bad),
                     APIAUTH_GRANT_AUTHORIZATION_CODE
                         | APIAUTH_GRANT_REFRESH_TOKEN);
    assert_int_equal(apiauth_grants_parse(unit_pool, "client_credentials",
                                          &bad),
                     APIAUTH_GRANT_CLIENT_CREDENTIALS);
    assert_int_equal(apiauth_grants_parse(unit_pool, "authorization_code "
                                          "client_credentials refresh_token "
                                          "refresh_token", &bad), 0x7);
    assert_null(bad);
}

static void test_grants_parse_names_the_unknown_grant(void **state)
{
    const char *bad = NULL;

    assert_int_equal(apiauth_grants_parse(unit_pool, "authorization_code "
                                          "implicit refresh_token", &bad), 0);
    assert_non_null(bad);
    assert_string_equal(bad, "implicit");
}

static void test_grants_parse_of_nothing_is_zero(void **state)
{
    const char *bad = NULL;

    assert_int_equal(apiauth_grants_parse(unit_pool, "", &bad), 0);
    assert_null(bad);
    assert_int_equal(apiauth_grants_parse(unit_pool, NULL, &bad), 0);
    assert_null(bad);
}

/* --- lookup ------------------------------------------------------------ */

static void test_client_find_reads_the_registration(void **state)
{
    apiauth_oauth_client_t c;

    client_add("cli_rs", "s3cret", "client_credentials", "read admin",
               "https://a.example/cb https://b.example/cb",
               CLIENT_FIRST_PARTY | CLIENT_RESOURCE_SERVER);
    memset(&c, 0xa5, sizeof(c));
    assert_int_equal(apiauth_oauth_client_find(unit_pool, fx.db, "cli_rs",
                                               &c), APIAUTH_OK);
    assert_string_equal(c.id, "cli_rs");
    assert_string_equal(c.name, "name-cli_rs");
    assert_string_equal(c.app, APP_ID);
    assert_string_equal(c.secret_digest,
                        apiauth_digest_hex(unit_pool, NULL, "s3cret"));
    assert_string_equal(c.redirect_uris,
                        "https://a.example/cb https://b.example/cb");
    assert_string_equal(c.scope, "read admin");
    assert_int_equal(c.grants, APIAUTH_GRANT_CLIENT_CREDENTIALS);
    assert_int_equal(c.first_party, 1);
    assert_int_equal(c.resource_server, 1);
    assert_false(apiauth_oauth_client_is_public(&c));
}

static void test_client_find_of_a_public_client_has_no_secret(void **state)
{
    apiauth_oauth_client_t c;

    add_clients();
    c = client_get(PUB_ID);
    assert_null(c.secret_digest);
    assert_true(apiauth_oauth_client_is_public(&c));
    assert_int_equal(c.grants, APIAUTH_GRANT_AUTHORIZATION_CODE
                                   | APIAUTH_GRANT_REFRESH_TOKEN);
    assert_int_equal(c.first_party, 0);
    assert_int_equal(c.resource_server, 0);
}

static void test_client_find_of_an_unknown_id_is_not_mine(void **state)
{
    apiauth_oauth_client_t c;

    add_clients();
    assert_int_equal(apiauth_oauth_client_find(unit_pool, fx.db, "cli_none",
                                               &c), APIAUTH_NOT_MINE);
    /* the name is not the id */
    assert_int_equal(apiauth_oauth_client_find(unit_pool, fx.db,
                                               "name-" CONF_ID, &c),
                     APIAUTH_NOT_MINE);
    assert_int_equal(apiauth_oauth_client_find(unit_pool, fx.db, NULL, &c),
                     APIAUTH_NOT_MINE);
    assert_int_equal(apiauth_oauth_client_find(unit_pool, fx.db, "", &c),
                     APIAUTH_NOT_MINE);
    assert_int_equal(apiauth_oauth_client_find(unit_pool, fx.db,
                                               "cli_conf x", &c),
                     APIAUTH_NOT_MINE);
}

static void test_client_find_of_a_deleted_client_is_not_mine(void **state)
{
    apiauth_oauth_client_t c;

    add_clients();
    client_delete(CONF_ID);
    assert_int_equal(apiauth_oauth_client_find(unit_pool, fx.db, CONF_ID, &c),
                     APIAUTH_NOT_MINE);
    assert_int_equal(apiauth_oauth_client_find(unit_pool, fx.db, PUB_ID, &c),
                     APIAUTH_OK);
}

static void test_client_find_reports_a_store_failure(void **state)
{
    apiauth_oauth_client_t c;

    add_clients();
    assert_int_equal(schema_change("DROP TABLE apiauth_clients"), 0);
    assert_int_equal(apiauth_oauth_client_find(unit_pool, fx.db, CONF_ID, &c),
                     APIAUTH_ERROR);
}

/* --- authentication ---------------------------------------------------- */

static void test_basic_authenticates_a_confidential_client(void **state)
{
    auth_result_t r;

    add_clients();
    r = authenticate(basic(CONF_ID, CONF_SECRET),
                     params_of("grant_type", "client_credentials", NULL), 1);
    assert_int_equal(r.st, APIAUTH_OK);
    assert_int_equal(r.method, APIAUTH_CLIENT_AUTH_BASIC);
    assert_string_equal(r.client.id, CONF_ID);
    assert_string_equal(r.client.app, APP_ID);
}

static void test_basic_scheme_name_is_case_insensitive(void **state)
{
    const char *header;
    auth_result_t r;

    add_clients();
    header = basic(CONF_ID, CONF_SECRET);
    r = authenticate(apr_pstrcat(unit_pool, "bAsIc", header + 5, NULL),
                     params_of(NULL), 0);
    assert_int_equal(r.st, APIAUTH_OK);
    assert_int_equal(r.method, APIAUTH_CLIENT_AUTH_BASIC);
}

static void test_basic_id_and_secret_are_form_urldecoded(void **state)
{
    /* RFC 6749 §2.3.1: both are application/x-www-form-urlencoded before
     * base64, so a ':' in the secret can be sent, and '+' means a space */
    const char *id = "cli_a+b%c&d=e";
    const char *secret = "p+q%r:s t/u";
    auth_result_t r;

    client_add(id, secret, "client_credentials", "read", NULL, 0);
    r = authenticate(basic("cli_a%2Bb%25c%26d%3De",
                           "p%2Bq%25r%3As+t%2Fu"), params_of(NULL), 0);
    assert_int_equal(r.st, APIAUTH_OK);
    assert_int_equal(r.method, APIAUTH_CLIENT_AUTH_BASIC);
    assert_string_equal(r.client.id, id);
    /* lower-case escapes decode the same */
    r = authenticate(basic("cli_a%2bb%25c%26d%3de", "p%2bq%25r%3as+t%2fu"),
                     params_of(NULL), 0);
    assert_int_equal(r.st, APIAUTH_OK);
}

static void test_basic_secret_is_decoded_before_comparison(void **state)
{
    auth_result_t r;

    /* sent unencoded, "a+b" reads as "a b": not this client's secret */
    client_add("cli_plus", "a+b", "client_credentials", "read", NULL, 0);
    r = authenticate(basic("cli_plus", "a+b"), params_of(NULL), 0);
    assert_refused(r, APIAUTH_DENIED, "invalid_client");
    assert_int_equal(r.method, APIAUTH_CLIENT_AUTH_BASIC);
    r = authenticate(basic("cli_plus", "a%2Bb"), params_of(NULL), 0);
    assert_int_equal(r.st, APIAUTH_OK);
}

static void test_basic_id_equal_to_body_client_id_is_accepted(void **state)
{
    auth_result_t r;

    add_clients();
    r = authenticate(basic(CONF_ID, CONF_SECRET),
                     params_of("client_id", CONF_ID, NULL), 1);
    assert_int_equal(r.st, APIAUTH_OK);
    assert_int_equal(r.method, APIAUTH_CLIENT_AUTH_BASIC);
}

static void test_basic_id_differing_from_body_client_id_is_invalid_request(
    void **state)
{
    auth_result_t r;

    add_clients();
    r = authenticate(basic(CONF_ID, CONF_SECRET),
                     params_of("client_id", PUB_ID, NULL), 1);
    assert_refused(r, APIAUTH_INVALID, "invalid_request");
}

static void test_post_authenticates_a_confidential_client(void **state)
{
    auth_result_t r;

    add_clients();
    r = authenticate(NULL, params_of("client_id", CONF_ID, "client_secret",
                                     CONF_SECRET, NULL), 0);
    assert_int_equal(r.st, APIAUTH_OK);
    assert_int_equal(r.method, APIAUTH_CLIENT_AUTH_POST);
    assert_string_equal(r.client.id, CONF_ID);
}

static void test_client_secret_without_client_id_is_invalid_request(
    void **state)
{
    auth_result_t r;

    add_clients();
    r = authenticate(NULL, params_of("client_secret", CONF_SECRET, NULL), 1);
    assert_refused(r, APIAUTH_INVALID, "invalid_request");
}

static void test_both_methods_at_once_is_invalid_request(void **state)
{
    auth_result_t r;

    add_clients();
    /* even when both are right */
    r = authenticate(basic(CONF_ID, CONF_SECRET),
                     params_of("client_id", CONF_ID, "client_secret",
                               CONF_SECRET, NULL), 1);
    assert_refused(r, APIAUTH_INVALID, "invalid_request");
}

static void test_public_client_names_itself_where_allowed(void **state)
{
    auth_result_t r;

    add_clients();
    r = authenticate(NULL, params_of("client_id", PUB_ID, NULL), 1);
    assert_int_equal(r.st, APIAUTH_OK);
    assert_int_equal(r.method, APIAUTH_CLIENT_AUTH_NONE);
    assert_string_equal(r.client.id, PUB_ID);
    assert_true(apiauth_oauth_client_is_public(&r.client));
}

static void test_public_client_is_refused_where_not_allowed(void **state)
{
    auth_result_t r;

    add_clients();
    r = authenticate(NULL, params_of("client_id", PUB_ID, NULL), 0);
    assert_refused(r, APIAUTH_DENIED, "invalid_client");
    assert_int_equal(r.method, APIAUTH_CLIENT_AUTH_NONE);
}

/* requests-oauthlib and others name a public client as Basic "id:" */
static void test_public_client_may_name_itself_with_an_empty_basic_secret(
    void **state)
{
    auth_result_t r;

    add_clients();
    r = authenticate(basic(PUB_ID, ""), params_of(NULL), 1);
    assert_int_equal(r.st, APIAUTH_OK);
    assert_string_equal(r.client.id, PUB_ID);
    r = authenticate(basic(PUB_ID, ""), params_of(NULL), 0);
    assert_refused(r, APIAUTH_DENIED, "invalid_client");
}

static void test_no_client_at_all_is_invalid_client(void **state)
{
    auth_result_t r;

    add_clients();
    r = authenticate(NULL, params_of(NULL), 1);
    assert_refused(r, APIAUTH_DENIED, "invalid_client");
    /* a scheme other than Basic is no client authentication */
    r = authenticate("Bearer abc", params_of(NULL), 1);
    assert_refused(r, APIAUTH_DENIED, "invalid_client");
}

static void test_wrong_secret_and_unknown_client_read_the_same(void **state)
{
    auth_result_t wrong, unknown, wrong_post, unknown_post;

    add_clients();
    wrong = authenticate(basic(CONF_ID, "aacs_wrong"), params_of(NULL), 1);
    unknown = authenticate(basic("cli_nobody", CONF_SECRET), params_of(NULL),
                           1);
    wrong_post = authenticate(NULL, params_of("client_id", CONF_ID,
                                              "client_secret", "x", NULL), 1);
    unknown_post = authenticate(NULL, params_of("client_id", "cli_nobody",
                                                "client_secret", "x", NULL),
                                1);
    assert_refused(wrong, APIAUTH_DENIED, "invalid_client");
    assert_refused(unknown, APIAUTH_DENIED, "invalid_client");
    assert_refused(wrong_post, APIAUTH_DENIED, "invalid_client");
    assert_refused(unknown_post, APIAUTH_DENIED, "invalid_client");
    assert_string_equal(wrong.err.description, unknown.err.description);
    assert_string_equal(wrong_post.err.description,
                        unknown_post.err.description);
    assert_string_equal(wrong.err.description, wrong_post.err.description);
    /* the method is known even when it failed: 401 with a Basic
     * challenge (RFC 6749 §5.2) */
    assert_int_equal(wrong.method, APIAUTH_CLIENT_AUTH_BASIC);
    assert_int_equal(unknown.method, APIAUTH_CLIENT_AUTH_BASIC);
    assert_int_equal(wrong_post.method, APIAUTH_CLIENT_AUTH_POST);
}

static void test_empty_secret_is_a_wrong_secret(void **state)
{
    auth_result_t r;

    add_clients();
    r = authenticate(basic(CONF_ID, ""), params_of(NULL), 1);
    assert_refused(r, APIAUTH_DENIED, "invalid_client");
}

static void test_public_client_with_a_secret_is_invalid_client(void **state)
{
    auth_result_t r, unknown;

    add_clients();
    r = authenticate(basic(PUB_ID, "anything"), params_of(NULL), 1);
    unknown = authenticate(basic("cli_nobody", "anything"), params_of(NULL),
                           1);
    assert_refused(r, APIAUTH_DENIED, "invalid_client");
    assert_string_equal(r.err.description, unknown.err.description);
    r = authenticate(NULL, params_of("client_id", PUB_ID, "client_secret",
                                     "anything", NULL), 1);
    assert_refused(r, APIAUTH_DENIED, "invalid_client");
}

static void test_confidential_client_without_its_secret_is_invalid_client(
    void **state)
{
    auth_result_t r;

    add_clients();
    r = authenticate(NULL, params_of("client_id", CONF_ID, NULL), 1);
    assert_refused(r, APIAUTH_DENIED, "invalid_client");
    assert_int_equal(r.method, APIAUTH_CLIENT_AUTH_NONE);
}

static void test_deleted_client_cannot_authenticate(void **state)
{
    auth_result_t r;

    add_clients();
    client_delete(CONF_ID);
    r = authenticate(basic(CONF_ID, CONF_SECRET), params_of(NULL), 1);
    assert_refused(r, APIAUTH_DENIED, "invalid_client");
}

static void test_malformed_basic_is_invalid_request(void **state)
{
    const char *plain_nul = "cli_conf\0:x";
    const char *malformed[] = {
        "Basic !!!not-base64!!!",
        "Basic Y2xpX2NvbmY6eA",                       /* unpadded */
        apr_pstrcat(unit_pool, "Basic ",               /* no colon */
                    apiauth_b64_encode(unit_pool, "cli_conf", 8), NULL),
        apr_pstrcat(unit_pool, "Basic ",               /* a NUL inside */
                    apiauth_b64_encode(unit_pool, plain_nul, 11), NULL),
        basic("cli_conf", "bad%zzescape"),
        basic("cli_conf", "nul%00inside"),
        basic("cli_%", "x"),
        "Basic ",
    };
    size_t i;

    add_clients();
    for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        auth_result_t r = authenticate(malformed[i], params_of(NULL), 1);
        if (r.st != APIAUTH_INVALID || r.err.error == NULL
            || strcmp(r.err.error, "invalid_request") != 0) {
            fail_msg("\"%s\": status %d", malformed[i], r.st);
        }
    }
}

static void test_store_failure_is_an_error_not_a_refusal(void **state)
{
    auth_result_t r;

    add_clients();
    assert_int_equal(schema_change("DROP TABLE apiauth_clients"), 0);
    r = authenticate(basic(CONF_ID, CONF_SECRET), params_of(NULL), 1);
    assert_refused(r, APIAUTH_ERROR, "temporarily_unavailable");
}

static void test_with_a_pepper_the_secret_digest_is_its_hmac(void **state)
{
    static const char key[] = "0123456789abcdefghijklmnopqrstuvwxyzABCD";
    const char *base = getenv("TMPDIR"), *errmsg = NULL;
    char *path = apr_pstrcat(unit_pool, base && *base ? base : "/tmp",
                             "/apiauth-unit-pepper-XXXXXX", NULL);
    apiauth_pepper_t *pepper = NULL;
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    int fd = mkstemp(path);
    auth_result_t r;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, key, sizeof(key) - 1), sizeof(key) - 1);
    assert_int_equal(write(fd, "\n", 1), 1);
    close(fd);
    assert_int_equal(apiauth_pepper_load(unit_pool, path, &pepper, &errmsg),
                     APIAUTH_OK);
    remove(path);

    /* HMAC-SHA-256(pepper, secret), computed with OpenSSL directly */
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key,
                              sizeof(key) - 1,
                              (const unsigned char *)CONF_SECRET,
                              strlen(CONF_SECRET), mac, sizeof(mac),
                              &maclen));
    fx.cfg.pepper = pepper;
    add_clients();
    assert_string_equal(client_get(CONF_ID).secret_digest,
                        apiauth_hex_encode(unit_pool, mac, maclen));

    r = authenticate(basic(CONF_ID, CONF_SECRET), params_of(NULL), 1);
    assert_int_equal(r.st, APIAUTH_OK);
    /* the same secret without the pepper is a wrong secret */
    fx.cfg.pepper = NULL;
    r = authenticate(basic(CONF_ID, CONF_SECRET), params_of(NULL), 1);
    assert_refused(r, APIAUTH_DENIED, "invalid_client");
}

/* --- scopes ------------------------------------------------------------ */

static void test_scope_allowed_needs_the_grant_and_the_client(void **state)
{
    apiauth_oauth_client_t c;

    add_clients();
    c = client_get(CONF_ID);  /* may have read write admin */
    assert_true(apiauth_oauth_scope_allowed(
        &fx.cfg, &c, APIAUTH_GRANT_AUTHORIZATION_CODE, "read write"));
    assert_true(apiauth_oauth_scope_allowed(
        &fx.cfg, &c, APIAUTH_GRANT_CLIENT_CREDENTIALS, "admin read"));
    assert_true(apiauth_oauth_scope_allowed(
        &fx.cfg, &c, APIAUTH_GRANT_CLIENT_CREDENTIALS, "read"));
    /* write is not registered for client_credentials */
    assert_false(apiauth_oauth_scope_allowed(
        &fx.cfg, &c, APIAUTH_GRANT_CLIENT_CREDENTIALS, "read write"));
    /* admin is not registered for authorization_code */
    assert_false(apiauth_oauth_scope_allowed(
        &fx.cfg, &c, APIAUTH_GRANT_AUTHORIZATION_CODE, "admin"));
    /* profile is registered, but not allowed to this client */
    assert_false(apiauth_oauth_scope_allowed(
        &fx.cfg, &c, APIAUTH_GRANT_AUTHORIZATION_CODE, "read profile"));
    /* unknown to the server */
    assert_false(apiauth_oauth_scope_allowed(
        &fx.cfg, &c, APIAUTH_GRANT_AUTHORIZATION_CODE, "read delete"));
}

static void test_scope_allowed_matches_whole_names(void **state)
{
    apiauth_oauth_client_t c;

    add_clients();
    c = client_get(CONF_ID);
    assert_false(apiauth_oauth_scope_allowed(
        &fx.cfg, &c, APIAUTH_GRANT_AUTHORIZATION_CODE, "rea"));
    assert_false(apiauth_oauth_scope_allowed(
        &fx.cfg, &c, APIAUTH_GRANT_AUTHORIZATION_CODE, "reads"));
    assert_false(apiauth_oauth_scope_allowed(
        &fx.cfg, &c, APIAUTH_GRANT_AUTHORIZATION_CODE, "READ"));
}

static void test_scope_allowed_refuses_malformed_lists(void **state)
{
    const char *malformed[] = {"read  write", " read", "read ", "re\"ad",
                               "read\twrite", "read\nwrite", "re\\ad"};
    apiauth_oauth_client_t c;
    size_t i;

    add_clients();
    c = client_get(CONF_ID);
    for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        assert_false(apiauth_oauth_scope_allowed(
            &fx.cfg, &c, APIAUTH_GRANT_AUTHORIZATION_CODE, malformed[i]));
    }
    assert_false(apiauth_oauth_scope_allowed(
        &fx.cfg, &c, APIAUTH_GRANT_AUTHORIZATION_CODE, NULL));
}

static void test_scope_allowed_without_registered_scopes_refuses(void **state)
{
    apiauth_oauth_client_t c;

    add_clients();
    c = client_get(CONF_ID);
    fx.cfg.scopes = NULL;
    assert_false(apiauth_oauth_scope_allowed(
        &fx.cfg, &c, APIAUTH_GRANT_CLIENT_CREDENTIALS, "read"));
    assert_string_equal(apiauth_oauth_scope_default(
                            unit_pool, &fx.cfg, &c,
                            APIAUTH_GRANT_CLIENT_CREDENTIALS), "");
}

static void test_scope_default_is_every_scope_of_the_grant_and_client(
    void **state)
{
    apiauth_oauth_client_t c;

    add_clients();
    c = client_get(CONF_ID);  /* read write admin */
    /* in the server's order, not the client's */
    assert_string_equal(apiauth_oauth_scope_default(
                            unit_pool, &fx.cfg, &c,
                            APIAUTH_GRANT_AUTHORIZATION_CODE), "read write");
    assert_string_equal(apiauth_oauth_scope_default(
                            unit_pool, &fx.cfg, &c,
                            APIAUTH_GRANT_CLIENT_CREDENTIALS), "read admin");
    c = client_get(PUB_ID);   /* read */
    assert_string_equal(apiauth_oauth_scope_default(
                            unit_pool, &fx.cfg, &c,
                            APIAUTH_GRANT_AUTHORIZATION_CODE), "read");
}

static void test_scope_default_is_empty_when_nothing_fits(void **state)
{
    apiauth_oauth_client_t c;

    client_add("cli_prof", "s", "authorization_code client_credentials",
               "profile", "https://c.example/cb", 0);
    c = client_get("cli_prof");
    assert_string_equal(apiauth_oauth_scope_default(
                            unit_pool, &fx.cfg, &c,
                            APIAUTH_GRANT_CLIENT_CREDENTIALS), "");
    assert_string_equal(apiauth_oauth_scope_default(
                            unit_pool, &fx.cfg, &c,
                            APIAUTH_GRANT_AUTHORIZATION_CODE), "profile");
}

/* --- mutual TLS (RFC 8705 §2) ------------------------------------------- */

static void add_mtls_clients(void)
{
    apiauth_oauth_client_t c;

    memset(&c, 0, sizeof(c));
    c.id = "cli_ca";
    c.name = "by-ca";
    c.app = APP_ID;
    c.grants = APIAUTH_GRANT_CLIENT_CREDENTIALS;
    c.scope = "read";
    c.tls_subject = "CN=agent,O=Example";
    c.created = 1700000000;
    assert_int_equal(apiauth_store_client_insert(unit_pool, fx.db, &c),
                     APIAUTH_OK);
    c.id = "cli_self";
    c.name = "self-signed";
    c.tls_subject = NULL;
    c.tls_x5t = "thumbprint-of-its-cert";
    assert_int_equal(apiauth_store_client_insert(unit_pool, fx.db, &c),
                     APIAUTH_OK);
}

static void test_a_client_authenticates_with_its_certificate(void **state)
{
    const apiauth_tls_client_t by_ca = {"some-thumbprint",
                                        "CN=agent,O=Example"};
    const apiauth_tls_client_t own = {"thumbprint-of-its-cert", NULL};
    auth_result_t r;

    add_mtls_clients();
    with_cert = &by_ca;
    r = authenticate(NULL, params_of("client_id", "cli_ca", NULL), 0);
    assert_int_equal(r.st, APIAUTH_OK);
    assert_int_equal(r.method, APIAUTH_CLIENT_AUTH_TLS);
    /* such a client is no public one: client_credentials is its own */
    assert_false(apiauth_oauth_client_is_public(&r.client));
    with_cert = &own;
    r = authenticate(NULL, params_of("client_id", "cli_self", NULL), 0);
    assert_int_equal(r.st, APIAUTH_OK);
    assert_int_equal(r.method, APIAUTH_CLIENT_AUTH_TLS);
    with_cert = NULL;
}

static void test_a_certificate_that_is_not_the_clients(void **state)
{
    const apiauth_tls_client_t other = {"another-thumbprint",
                                        "CN=someone,O=Example"};
    /* the right subject, but no CA vouched for it (self-signed) */
    const apiauth_tls_client_t unverified = {"x", NULL};

    add_mtls_clients();
    with_cert = &other;
    assert_refused(authenticate(NULL, params_of("client_id", "cli_ca", NULL),
                                0), APIAUTH_DENIED, "invalid_client");
    assert_refused(authenticate(NULL, params_of("client_id", "cli_self",
                                                NULL), 1),
                   APIAUTH_DENIED, "invalid_client");
    with_cert = &unverified;
    assert_refused(authenticate(NULL, params_of("client_id", "cli_ca", NULL),
                                0), APIAUTH_DENIED, "invalid_client");
    /* no certificate at all */
    with_cert = NULL;
    assert_refused(authenticate(NULL, params_of("client_id", "cli_ca", NULL),
                                1), APIAUTH_DENIED, "invalid_client");
    assert_refused(authenticate(NULL, params_of("client_id", "cli_self",
                                                NULL), 0),
                   APIAUTH_DENIED, "invalid_client");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_grant_names_round_trip),
        OAUTH_TEST(test_a_client_authenticates_with_its_certificate),
        OAUTH_TEST(test_a_certificate_that_is_not_the_clients),
        UNIT_TEST(test_unknown_grant_names_are_zero),
        UNIT_TEST(test_grants_parse_sets_a_bit_per_name),
        UNIT_TEST(test_grants_parse_names_the_unknown_grant),
        UNIT_TEST(test_grants_parse_of_nothing_is_zero),
        OAUTH_TEST(test_client_find_reads_the_registration),
        OAUTH_TEST(test_client_find_of_a_public_client_has_no_secret),
        OAUTH_TEST(test_client_find_of_an_unknown_id_is_not_mine),
        OAUTH_TEST(test_client_find_of_a_deleted_client_is_not_mine),
        OAUTH_TEST(test_client_find_reports_a_store_failure),
        OAUTH_TEST(test_basic_authenticates_a_confidential_client),
        OAUTH_TEST(test_basic_scheme_name_is_case_insensitive),
        OAUTH_TEST(test_basic_id_and_secret_are_form_urldecoded),
        OAUTH_TEST(test_basic_secret_is_decoded_before_comparison),
        OAUTH_TEST(test_basic_id_equal_to_body_client_id_is_accepted),
        OAUTH_TEST(
            test_basic_id_differing_from_body_client_id_is_invalid_request),
        OAUTH_TEST(test_post_authenticates_a_confidential_client),
        OAUTH_TEST(test_client_secret_without_client_id_is_invalid_request),
        OAUTH_TEST(test_both_methods_at_once_is_invalid_request),
        OAUTH_TEST(test_public_client_names_itself_where_allowed),
        OAUTH_TEST(test_public_client_is_refused_where_not_allowed),
        OAUTH_TEST(test_public_client_may_name_itself_with_an_empty_basic_secret),
        OAUTH_TEST(test_no_client_at_all_is_invalid_client),
        OAUTH_TEST(test_wrong_secret_and_unknown_client_read_the_same),
        OAUTH_TEST(test_empty_secret_is_a_wrong_secret),
        OAUTH_TEST(test_public_client_with_a_secret_is_invalid_client),
        OAUTH_TEST(
            test_confidential_client_without_its_secret_is_invalid_client),
        OAUTH_TEST(test_deleted_client_cannot_authenticate),
        OAUTH_TEST(test_malformed_basic_is_invalid_request),
        OAUTH_TEST(test_store_failure_is_an_error_not_a_refusal),
        OAUTH_TEST(test_with_a_pepper_the_secret_digest_is_its_hmac),
        OAUTH_TEST(test_scope_allowed_needs_the_grant_and_the_client),
        OAUTH_TEST(test_scope_allowed_matches_whole_names),
        OAUTH_TEST(test_scope_allowed_refuses_malformed_lists),
        OAUTH_TEST(test_scope_allowed_without_registered_scopes_refuses),
        OAUTH_TEST(test_scope_default_is_every_scope_of_the_grant_and_client),
        OAUTH_TEST(test_scope_default_is_empty_when_nothing_fits),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("oauth_client", tests, NULL, NULL);
    apr_terminate();
    return rc;
}
