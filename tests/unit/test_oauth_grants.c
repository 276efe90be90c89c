/*
 * test_oauth_grants.c: the grants of the token endpoint (lib/oauth/grants.c)
 * over a real SQLite store and real signing keys.
 *
 * Codes come from the authorization endpoint's own functions
 * (apiauth_oauth_authorize_check, then _issue), access tokens are checked
 * with apiauth_jwt_verify and apiauth_oauth_access_token_check, and every
 * time is given, so that expiry is tested to the second.
 */
#include "unit.h"

#include "encoding.h"
#include "oauth_fixture.h"

#define CB "https://client.example/cb"
#define CB2 "https://client.example/cb2"
#define OTHER_CB "https://other.example/cb"
#define LOOPBACK "http://127.0.0.1/cb"

#define CONF_SECRET "aacs_conf"

/* cli_conf: every grant, two redirect URIs; cli_other: another
 * confidential client; cli_pub: public, loopback; cli_norefresh: codes
 * without refresh tokens; cli_cc: client_credentials only. */
static void add_clients(void)
{
    client_add("cli_conf", CONF_SECRET,
               "authorization_code client_credentials refresh_token",
               "read write profile admin", CB " " CB2, 0);
    client_add("cli_other", "aacs_other", "authorization_code refresh_token",
               "read write", OTHER_CB, 0);
    client_add("cli_pub", NULL, "authorization_code refresh_token",
               "read write", LOOPBACK, 0);
    client_add("cli_norefresh", "aacs_norefresh", "authorization_code",
               "read", OTHER_CB, 0);
    client_add("cli_cc", "aacs_cc", "client_credentials",
               "read admin metrics", "", 0);
}

typedef struct {
    apiauth_status_t st;
    json_t *r;
    apiauth_error_t err;
    apiauth_effects_t fx;       /* what the glue would carry out */
} token_result_t;

/* The binding the next token requests come with (a verified DPoP
 * proof's key); NULL: bearer tokens. */
static const apiauth_oauth_binding_t *bound_to;

static token_result_t token(const char *client_id, apr_table_t *params,
                            apr_int64_t now)
{
    apiauth_oauth_client_t client = client_get(client_id);
    token_result_t t;

    memset(&t, 0, sizeof(t));
    t.r = (json_t *)1;   /* must be reset, success or not */
    apiauth_effects_init(&t.fx, unit_pool);
    t.st = apiauth_oauth_token(unit_pool, &fx.cfg, fx.db, &client, params,
                               bound_to, now, &t.r, &t.fx, &t.err);
    json_kept(t.r);
    return t;
}

static const char *str(token_result_t t, const char *name)
{
    return json_string_value(json_object_get(t.r, name));
}

static void assert_issued(token_result_t t)
{
    if (t.st != APIAUTH_OK) {
        fail_msg("refused: %s (%s)", t.err.error, t.err.description);
    }
    assert_non_null(t.r);
    assert_non_null(str(t, "access_token"));
    /* RFC 9449 §5: DPoP where the request had a proof */
    assert_true(strcmp(str(t, "token_type"), "Bearer") == 0
                || strcmp(str(t, "token_type"), "DPoP") == 0);
    assert_int_equal(json_integer_value(json_object_get(t.r, "expires_in")),
                     ACCESS_LIFETIME);
}

static void assert_refused(token_result_t t, apiauth_status_t st,
                           const char *error)
{
    assert_int_equal(t.st, st);
    assert_null(t.r);
    assert_non_null(t.err.error);
    assert_string_equal(t.err.error, error);
    assert_non_null(t.err.description);
}

static token_result_t redeem(const char *client_id, const char *code,
                             const char *redirect_uri, const char *verifier,
                             const char *scope, apr_int64_t now)
{
    return token(client_id,
                 params_of("grant_type", "authorization_code", "code", code,
                           "redirect_uri", redirect_uri, "code_verifier",
                           verifier, "scope", scope, NULL), now);
}

static token_result_t refresh(const char *client_id, const char *rt,
                              const char *scope, apr_int64_t now)
{
    return token(client_id, params_of("grant_type", "refresh_token",
                                      "refresh_token", rt, "scope", scope,
                                      NULL), now);
}

/* cli_conf's code for "read write", redeemed at NOW. */
static token_result_t first_tokens(void)
{
    token_result_t t = redeem("cli_conf",
                              code_for("cli_conf", CB, CHALLENGE,
                                       "read write", NOW),
                              CB, VERIFIER, NULL, NOW);

    assert_issued(t);
    assert_non_null(str(t, "refresh_token"));
    return t;
}

static apiauth_jwt_claims_t verify_jwt(const char *jwt, apr_int64_t now)
{
    apiauth_jwt_expect_t expect = {ISSUER, AUDIENCE, "at+jwt", now, 0};
    apiauth_jwt_claims_t c;
    apiauth_error_t err;

    if (apiauth_jwt_verify(unit_pool, jwt, fx.cfg.keys, &expect, &c, &err)
        != APIAUTH_OK) {
        fail_msg("jwt: %s", err.description);
    }
    return c;
}

/* apiauth_oauth_access_token_check with the store. */
static apiauth_status_t check_access(const char *jwt, apr_int64_t now,
                                     apiauth_error_t *err)
{
    apiauth_identity_t id;

    return apiauth_oauth_access_token_check(unit_pool, &fx.cfg, fx.db, jwt,
                                            now, &id, NULL, err);
}

/* The grant family of an access token issued at NOW (its gid claim). */
static const char *gid_of(token_result_t t)
{
    return json_string_value(json_object_get(
        verify_jwt(str(t, "access_token"), NOW).payload, "gid"));
}

static const char *grant_of_code(const char *code)
{
    return sql_text(apr_psprintf(unit_pool, "SELECT grant_id FROM "
                                 "apiauth_codes WHERE digest = '%s'",
                                 apiauth_digest_hex(unit_pool, NULL, code)));
}

static int grant_revoked(const char *gid)
{
    return sql_int(apr_psprintf(unit_pool, "SELECT revoked IS NOT NULL FROM "
                                "apiauth_grants WHERE id = '%s'", gid)) == 1;
}

/* --- the endpoint ------------------------------------------------------ */

static void test_missing_grant_type_is_invalid_request(void **state)
{
    add_clients();
    assert_refused(token("cli_conf", params_of("scope", "read", NULL), NOW),
                   APIAUTH_INVALID, "invalid_request");
}

static void test_unknown_grant_type_is_unsupported(void **state)
{
    const char *unknown[] = {"password", "implicit", "Client_Credentials",
                             "urn:ietf:params:oauth:grant-type:jwt-bearer"};
    size_t i;

    add_clients();
    for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_refused(token("cli_conf", params_of("grant_type", unknown[i],
                                                   NULL), NOW),
                       APIAUTH_INVALID, "unsupported_grant_type");
    }
}

static void test_grant_not_allowed_to_the_client_is_unauthorized_client(
    void **state)
{
    add_clients();
    assert_refused(token("cli_cc", params_of("grant_type",
                                             "authorization_code", "code",
                                             "aac_x", NULL), NOW),
                   APIAUTH_INVALID, "unauthorized_client");
    assert_refused(token("cli_cc", params_of("grant_type", "refresh_token",
                                             "refresh_token", "aar_x", NULL),
                         NOW),
                   APIAUTH_INVALID, "unauthorized_client");
    assert_refused(token("cli_other", params_of("grant_type",
                                                "client_credentials", NULL),
                         NOW),
                   APIAUTH_INVALID, "unauthorized_client");
}

/* --- client_credentials ----------------------------------------------- */

static void test_client_credentials_default_scope_is_all_of_the_grant(
    void **state)
{
    token_result_t t;

    add_clients();
    /* cli_conf may have read write profile admin; only read and admin
     * are registered for client_credentials */
    t = token("cli_conf", params_of("grant_type", "client_credentials", NULL),
              NOW);
    assert_issued(t);
    assert_string_equal(str(t, "scope"), "read admin");
    assert_null(json_object_get(t.r, "refresh_token"));
    assert_string_equal(verify_jwt(str(t, "access_token"), NOW).scope,
                        "read admin");
}

static void test_client_credentials_explicit_scope(void **state)
{
    token_result_t t;

    add_clients();
    t = token("cli_cc", params_of("grant_type", "client_credentials",
                                  "scope", "metrics", NULL), NOW);
    assert_issued(t);
    assert_string_equal(str(t, "scope"), "metrics");
    assert_string_equal(verify_jwt(str(t, "access_token"), NOW).scope,
                        "metrics");
}

static void test_client_credentials_invalid_scope(void **state)
{
    /* not registered for the grant; not the client's; unknown; malformed */
    const char *bad[] = {"write", "read metrics", "delete", "read  admin",
                         "read "};
    size_t i;

    add_clients();
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        token_result_t t = token("cli_conf",
                                 params_of("grant_type", "client_credentials",
                                           "scope", bad[i], NULL), NOW);
        if (t.st != APIAUTH_INVALID || t.r != NULL
            || strcmp(t.err.error, "invalid_scope") != 0) {
            fail_msg("scope \"%s\": status %d", bad[i], t.st);
        }
    }
}

static void test_client_credentials_with_no_scope_available_is_invalid_scope(
    void **state)
{
    add_clients();
    client_add("cli_nothing", "aacs_n", "client_credentials",
               "write profile", "", 0);
    assert_refused(token("cli_nothing", params_of("grant_type",
                                                  "client_credentials", NULL),
                         NOW),
                   APIAUTH_INVALID, "invalid_scope");
}

static void test_client_credentials_refused_to_a_public_client(void **state)
{
    add_clients();
    /* apiauth-admin refuses to register this; the grant refuses it too */
    client_add("cli_pubcc", NULL, "client_credentials", "read", "", 0);
    assert_refused(token("cli_pubcc", params_of("grant_type",
                                                "client_credentials", NULL),
                         NOW),
                   APIAUTH_INVALID, "unauthorized_client");
}

static void test_client_credentials_token_has_the_rfc9068_claims(void **state)
{
    apiauth_jwt_claims_t c;
    token_result_t t;

    add_clients();
    t = token("cli_cc", params_of("grant_type", "client_credentials", "scope",
                                  "read admin", NULL), NOW);
    assert_issued(t);
    c = verify_jwt(str(t, "access_token"), NOW);
    assert_string_equal(c.iss, ISSUER);
    assert_string_equal(json_string_value(json_object_get(c.payload, "aud")),
                        AUDIENCE);
    /* RFC 9068 §2.2: sub is the client itself when no user is involved */
    assert_string_equal(c.sub, "cli_cc");
    assert_string_equal(c.client_id, "cli_cc");
    assert_string_equal(c.scope, "read admin");
    assert_true(c.iat == NOW);
    assert_true(c.nbf == NOW);
    assert_true(c.exp == NOW + ACCESS_LIFETIME);
    assert_int_equal(strncmp(c.jti, "atk_", 4), 0);
    assert_string_equal(c.kid, apiauth_jwk_kid(key_ec));
    assert_string_equal(json_string_value(json_object_get(c.payload, "app")),
                        APP_ID);
    assert_null(json_object_get(c.payload, "gid"));
}

static void test_client_credentials_tokens_have_distinct_ids(void **state)
{
    token_result_t a, b;
    apr_table_t *p;

    add_clients();
    p = params_of("grant_type", "client_credentials", NULL);
    a = token("cli_cc", p, NOW);
    b = token("cli_cc", p, NOW);
    assert_issued(a);
    assert_issued(b);
    assert_string_not_equal(verify_jwt(str(a, "access_token"), NOW).jti,
                            verify_jwt(str(b, "access_token"), NOW).jti);
}

static void test_access_tokens_are_signed_with_each_key_type(void **state)
{
    const apiauth_jwk_t *keys[] = {key_ec, key_rsa, key_ed};
    const char *algs[] = {"ES256", "RS256", "EdDSA"};
    apiauth_jwt_expect_t expect = {ISSUER, AUDIENCE, "at+jwt", NOW, 0};
    size_t i;

    add_clients();
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        apiauth_jwt_claims_t c;
        apiauth_error_t err;
        token_result_t t;
        const char *jwt, *header_b64;
        unsigned char *header;
        apr_size_t len;
        json_t *hdr;

        fx.cfg.signing_key = keys[i];
        t = token("cli_cc", params_of("grant_type", "client_credentials",
                                      NULL), NOW);
        assert_issued(t);
        jwt = str(t, "access_token");
        header_b64 = apr_pstrndup(unit_pool, jwt, strchr(jwt, '.') - jwt);
        assert_int_equal(apiauth_b64url_decode(unit_pool, header_b64,
                                               strlen(header_b64), &header,
                                               &len), APIAUTH_OK);
        hdr = json_kept(json_loads((char *)header, 0, NULL));
        assert_non_null(hdr);
        assert_string_equal(json_string_value(json_object_get(hdr, "alg")),
                            algs[i]);
        assert_string_equal(json_string_value(json_object_get(hdr, "typ")),
                            "at+jwt");
        assert_string_equal(json_string_value(json_object_get(hdr, "kid")),
                            apiauth_jwk_kid(keys[i]));
        /* verifies with its own key, and with no other */
        assert_int_equal(apiauth_jwt_verify(unit_pool, jwt,
                                            key_set(keys[i], NULL, NULL),
                                            &expect, &c, &err), APIAUTH_OK);
        assert_string_equal(c.kid, apiauth_jwk_kid(keys[i]));
        assert_int_equal(apiauth_jwt_verify(
                             unit_pool, jwt,
                             key_set(keys[(i + 1) % 3], keys[(i + 2) % 3],
                                     NULL), &expect, &c, &err),
                         APIAUTH_DENIED);
    }
}

/* --- authorization_code ------------------------------------------------ */

static void test_code_redeems_for_access_and_refresh_tokens(void **state)
{
    const char *code, *gid;
    apiauth_jwt_claims_t c;
    apiauth_identity_t id;
    apiauth_error_t err;
    token_result_t t;

    add_clients();
    code = code_for("cli_conf", CB, CHALLENGE, "read write", NOW);
    gid = grant_of_code(code);
    assert_non_null(gid);
    t = redeem("cli_conf", code, CB, VERIFIER, NULL, NOW + 5);
    assert_issued(t);
    assert_string_equal(str(t, "scope"), "read write");
    assert_int_equal(strncmp(str(t, "refresh_token"), "aar_", 4), 0);
    assert_int_equal(apiauth_secret_shape(str(t, "refresh_token")),
                     APIAUTH_SECRET_VALID);

    c = verify_jwt(str(t, "access_token"), NOW + 5);
    assert_string_equal(c.sub, USER);
    assert_string_equal(c.client_id, "cli_conf");
    assert_string_equal(c.scope, "read write");
    assert_true(c.iat == NOW + 5);
    assert_true(c.exp == NOW + 5 + ACCESS_LIFETIME);
    assert_string_equal(json_string_value(json_object_get(c.payload, "gid")),
                        gid);

    assert_int_equal(apiauth_oauth_access_token_check(
                         unit_pool, &fx.cfg, fx.db, str(t, "access_token"),
                         NOW + 5, &id, NULL, &err), APIAUTH_OK);
    assert_int_equal(id.kind, APIAUTH_KIND_OAUTH);
    assert_string_equal(id.user, USER);
    assert_string_equal(id.client_id, "cli_conf");
    assert_string_equal(id.app, APP_ID);
    assert_string_equal(id.scope, "read write");

    /* the refresh token is stored by digest, in the code's family */
    assert_true(sql_int(apr_psprintf(
                    unit_pool, "SELECT expires FROM apiauth_refresh_tokens "
                    "WHERE digest = '%s' AND grant_id = '%s' AND user_id = "
                    "'alice' AND client_id = 'cli_conf' AND scope = "
                    "'read write' AND used IS NULL",
                    apiauth_digest_hex(unit_pool, NULL,
                                       str(t, "refresh_token")), gid))
                == NOW + 5 + REFRESH_LIFETIME);
    /* and the family outlives every token of it */
    assert_true(sql_int(apr_psprintf(unit_pool, "SELECT expires FROM "
                                     "apiauth_grants WHERE id = '%s'", gid))
                >= NOW + 5 + REFRESH_LIFETIME);
}

static void test_code_redeemed_twice_is_invalid_grant_and_revokes_the_grant(
    void **state)
{
    apiauth_identity_t id;
    apiauth_error_t err;
    token_result_t first, again;
    const char *code, *gid;

    add_clients();
    code = code_for("cli_conf", CB, CHALLENGE, "read write", NOW);
    gid = grant_of_code(code);
    first = redeem("cli_conf", code, CB, VERIFIER, NULL, NOW);
    assert_issued(first);
    assert_int_equal(check_access(str(first, "access_token"), NOW + 1, &err),
                     APIAUTH_OK);

    again = redeem("cli_conf", code, CB, VERIFIER, NULL, NOW + 1);
    assert_refused(again, APIAUTH_INVALID, "invalid_grant");
    assert_true(grant_revoked(gid));
    /* RFC 6749 §4.1.2: what the first redemption got is revoked */
    assert_int_equal(check_access(str(first, "access_token"), NOW + 2, &err),
                     APIAUTH_DENIED);
    assert_string_equal(err.error, "invalid_token");
    assert_refused(refresh("cli_conf", str(first, "refresh_token"), NULL,
                           NOW + 2), APIAUTH_INVALID, "invalid_grant");
    /* a server that checks signatures only still takes it until exp */
    assert_int_equal(apiauth_oauth_access_token_check(
                         unit_pool, &fx.cfg, NULL, str(first, "access_token"),
                         NOW + 2, &id, NULL, &err), APIAUTH_OK);
}

static const apiauth_effect_t *effect(const token_result_t *t, int i)
{
    assert_true(i < t->fx.list->nelts);
    return &APR_ARRAY_IDX(t->fx.list, i, apiauth_effect_t);
}

/* What a replay did reaches the glue as effects, for mod_apiauth's cache
 * to drop the grant's tokens once the revocation is committed. */
static void test_a_replay_reports_the_family_revoked(void **state)
{
    const char *code, *gid;
    token_result_t first, again;

    add_clients();
    code = code_for("cli_conf", CB, CHALLENGE, "read", NOW);
    gid = grant_of_code(code);
    first = redeem("cli_conf", code, CB, VERIFIER, NULL, NOW);
    assert_issued(first);
    assert_int_equal(first.fx.list->nelts, 1);
    assert_int_equal(effect(&first, 0)->kind, APIAUTH_EFFECT_ISSUED);
    assert_string_equal(effect(&first, 0)->what, "authorization_code");
    assert_string_equal(effect(&first, 0)->id, "cli_conf");

    again = redeem("cli_conf", code, CB, VERIFIER, NULL, NOW + 1);
    assert_refused(again, APIAUTH_INVALID, "invalid_grant");
    assert_int_equal(again.fx.list->nelts, 2);
    assert_int_equal(effect(&again, 0)->kind, APIAUTH_EFFECT_REVOKED);
    assert_string_equal(effect(&again, 0)->what, "grant");
    assert_string_equal(effect(&again, 0)->id, gid);
    /* until the last access token of the grant can no longer pass */
    assert_true(effect(&again, 0)->until == NOW + 1 + ACCESS_LIFETIME + LEEWAY);
    /* and a replay is an attempt to count */
    assert_int_equal(effect(&again, 1)->kind, APIAUTH_EFFECT_REFUSED);
}

/* A refusal that is rolled back revokes nothing, so it reports nothing
 * revoked -- only the attempt. */
static void test_a_rolled_back_refusal_reports_no_revocation(void **state)
{
    const char *code;
    token_result_t t;

    add_clients();
    code = code_for("cli_conf", CB, CHALLENGE, "read", NOW);
    t = redeem("cli_conf", code, CB, "wrong-verifier-wrong-verifier-wrong-"
               "verifier-1234", NULL, NOW);
    assert_refused(t, APIAUTH_INVALID, "invalid_grant");
    assert_int_equal(apiauth_effects_count(&t.fx, APIAUTH_EFFECT_REVOKED), 0);
    assert_int_equal(apiauth_effects_count(&t.fx, APIAUTH_EFFECT_REFUSED), 1);
    /* and a scope too wide is no guess: nothing to count */
    t = redeem("cli_conf", code, CB, VERIFIER, "admin", NOW);
    assert_refused(t, APIAUTH_INVALID, "invalid_scope");
    assert_int_equal(t.fx.list->nelts, 0);
}

static void test_code_of_another_client_is_refused_and_left_to_its_owner(
    void **state)
{
    const char *code, *gid;

    add_clients();
    code = code_for("cli_conf", CB, CHALLENGE, "read", NOW);
    gid = grant_of_code(code);
    assert_refused(redeem("cli_other", code, CB, VERIFIER, NULL, NOW),
                   APIAUTH_INVALID, "invalid_grant");
    /* RFC 6749 §4.1.3: refused, and nothing spent or revoked -- whoever
     * saw a code cannot end its owner's grant with it */
    assert_false(grant_revoked(gid));
    assert_true(sql_int("SELECT COUNT(*) FROM apiauth_codes WHERE used IS "
                        "NULL") == 1);
    assert_issued(redeem("cli_conf", code, CB, VERIFIER, NULL, NOW + 1));
}

static void test_used_code_presented_by_another_client_revokes_nothing(
    void **state)
{
    const char *code, *gid;
    token_result_t first;
    apiauth_error_t err;

    add_clients();
    code = code_for("cli_conf", CB, CHALLENGE, "read", NOW);
    gid = grant_of_code(code);
    first = redeem("cli_conf", code, CB, VERIFIER, NULL, NOW);
    assert_issued(first);
    assert_refused(redeem("cli_other", code, CB, VERIFIER, NULL, NOW + 1),
                   APIAUTH_INVALID, "invalid_grant");
    assert_false(grant_revoked(gid));
    assert_int_equal(check_access(str(first, "access_token"), NOW + 2, &err),
                     APIAUTH_OK);
}

static void test_refused_code_redemption_leaves_the_code_usable(void **state)
{
    const char *wrong = "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const char *code;

    add_clients();
    code = code_for("cli_conf", CB, CHALLENGE, "read write", NOW);
    /* a scope wider than granted, another redirect URI, a wrong verifier:
     * each is an error that issues nothing and spends nothing */
    assert_refused(redeem("cli_conf", code, CB, VERIFIER, "read profile",
                          NOW), APIAUTH_INVALID, "invalid_scope");
    assert_refused(redeem("cli_conf", code, CB2, VERIFIER, NULL, NOW),
                   APIAUTH_INVALID, "invalid_grant");
    assert_refused(redeem("cli_conf", code, CB, wrong, NULL, NOW),
                   APIAUTH_INVALID, "invalid_grant");
    assert_false(grant_revoked(grant_of_code(code)));
    assert_issued(redeem("cli_conf", code, CB, VERIFIER, NULL, NOW + 1));
}

static void test_expired_code_is_invalid_grant(void **state)
{
    const char *code;

    add_clients();
    code = code_for("cli_conf", CB, CHALLENGE, "read", NOW);
    assert_refused(redeem("cli_conf", code, CB, VERIFIER, NULL,
                          NOW + CODE_LIFETIME),
                   APIAUTH_INVALID, "invalid_grant");
    code = code_for("cli_conf", CB, CHALLENGE, "read", NOW);
    assert_issued(redeem("cli_conf", code, CB, VERIFIER, NULL,
                         NOW + CODE_LIFETIME - 1));
}

static void test_unknown_or_missing_code(void **state)
{
    add_clients();
    assert_refused(redeem("cli_conf", "aac_unknown", CB, VERIFIER, NULL, NOW),
                   APIAUTH_INVALID, "invalid_grant");
    assert_refused(redeem("cli_conf", NULL, CB, VERIFIER, NULL, NOW),
                   APIAUTH_INVALID, "invalid_request");
}

static void test_code_of_a_revoked_grant_is_invalid_grant(void **state)
{
    const char *code;

    add_clients();
    code = code_for("cli_conf", CB, CHALLENGE, "read", NOW);
    /* the user withdraws consent before the client redeems the code */
    assert_int_equal(apiauth_store_grant_revoke(unit_pool, fx.db,
                                                grant_of_code(code), NOW + 1),
                     APIAUTH_OK);
    assert_refused(redeem("cli_conf", code, CB, VERIFIER, NULL, NOW + 2),
                   APIAUTH_INVALID, "invalid_grant");
}

static void test_redirect_uri_sent_at_authorize_must_be_repeated(
    void **state)
{
    add_clients();
    assert_refused(redeem("cli_conf", code_for("cli_conf", CB, CHALLENGE,
                                               "read", NOW),
                          NULL, VERIFIER, NULL, NOW),
                   APIAUTH_INVALID, "invalid_grant");
    /* another registered URI is still another URI */
    assert_refused(redeem("cli_conf", code_for("cli_conf", CB, CHALLENGE,
                                               "read", NOW),
                          CB2, VERIFIER, NULL, NOW),
                   APIAUTH_INVALID, "invalid_grant");
    assert_refused(redeem("cli_conf", code_for("cli_conf", CB, CHALLENGE,
                                               "read", NOW),
                          CB "/", VERIFIER, NULL, NOW),
                   APIAUTH_INVALID, "invalid_grant");
    assert_issued(redeem("cli_conf", code_for("cli_conf", CB2, CHALLENGE,
                                              "read", NOW),
                         CB2, VERIFIER, NULL, NOW));
}

static void test_redirect_uri_left_out_at_authorize_is_optional(void **state)
{
    add_clients();
    assert_issued(redeem("cli_other", code_for("cli_other", NULL, NULL,
                                               "read", NOW),
                         NULL, NULL, NULL, NOW));
    assert_issued(redeem("cli_other", code_for("cli_other", NULL, NULL,
                                               "read", NOW),
                         OTHER_CB, NULL, NULL, NOW));
    /* but if sent, it must be one of the client's */
    assert_refused(redeem("cli_other", code_for("cli_other", NULL, NULL,
                                                "read", NOW),
                          "https://evil.example/cb", NULL, NULL, NOW),
                   APIAUTH_INVALID, "invalid_grant");
}

static void test_pkce_public_client_redeems_with_its_verifier(void **state)
{
    token_result_t t;

    add_clients();
    t = redeem("cli_pub", code_for("cli_pub", "http://127.0.0.1:5000/cb",
                                   CHALLENGE, "read", NOW),
               "http://127.0.0.1:5000/cb", VERIFIER, NULL, NOW);
    assert_issued(t);
    assert_non_null(str(t, "refresh_token"));
}

static void test_pkce_wrong_verifier_is_invalid_grant(void **state)
{
    const char *wrong = "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    add_clients();
    assert_refused(redeem("cli_pub", code_for("cli_pub", NULL, CHALLENGE,
                                              "read", NOW),
                          NULL, wrong, NULL, NOW),
                   APIAUTH_INVALID, "invalid_grant");
}

static void test_pkce_missing_verifier_is_invalid_grant(void **state)
{
    add_clients();
    assert_refused(redeem("cli_pub", code_for("cli_pub", NULL, CHALLENGE,
                                              "read", NOW),
                          NULL, NULL, NULL, NOW),
                   APIAUTH_INVALID, "invalid_grant");
    /* a confidential client's secret does not replace the verifier */
    assert_refused(redeem("cli_conf", code_for("cli_conf", CB, CHALLENGE,
                                               "read", NOW),
                          CB, NULL, NULL, NOW),
                   APIAUTH_INVALID, "invalid_grant");
}

static void test_pkce_verifier_for_a_code_without_challenge_is_invalid_grant(
    void **state)
{
    /* RFC 9700 §2.1.1: a downgrade -- the challenge was stripped from the
     * authorization request */
    add_clients();
    assert_refused(redeem("cli_conf", code_for("cli_conf", CB, NULL, "read",
                                               NOW),
                          CB, VERIFIER, NULL, NOW),
                   APIAUTH_INVALID, "invalid_grant");
}

static void test_pkce_malformed_verifier_is_invalid_request_and_keeps_the_code(
    void **state)
{
    const char *bad[] = {"tooshort", VERIFIER "+",
                         "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX"};
    const char *code;
    size_t i;

    add_clients();
    code = code_for("cli_pub", NULL, CHALLENGE, "read", NOW);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_refused(redeem("cli_pub", code, NULL, bad[i], NULL, NOW),
                       APIAUTH_INVALID, "invalid_request");
    }
    assert_issued(redeem("cli_pub", code, NULL, VERIFIER, NULL, NOW));
}

static void test_scope_can_be_narrowed_at_the_token_request(void **state)
{
    token_result_t t, r;

    add_clients();
    t = redeem("cli_conf", code_for("cli_conf", CB, CHALLENGE, "read write",
                                    NOW),
               CB, VERIFIER, "read", NOW);
    assert_issued(t);
    assert_string_equal(str(t, "scope"), "read");
    assert_string_equal(verify_jwt(str(t, "access_token"), NOW).scope,
                        "read");
    /* the family keeps all that was granted (RFC 6749 §6) */
    r = refresh("cli_conf", str(t, "refresh_token"), NULL, NOW + 1);
    assert_issued(r);
    assert_string_equal(str(r, "scope"), "read write");
}

static void test_scope_cannot_be_widened_at_the_token_request(void **state)
{
    add_clients();
    assert_refused(redeem("cli_conf", code_for("cli_conf", CB, CHALLENGE,
                                               "read", NOW),
                          CB, VERIFIER, "read write", NOW),
                   APIAUTH_INVALID, "invalid_scope");
    assert_refused(redeem("cli_conf", code_for("cli_conf", CB, CHALLENGE,
                                               "read", NOW),
                          CB, VERIFIER, "read  read", NOW),
                   APIAUTH_INVALID, "invalid_scope");
}

static void test_client_without_refresh_grant_gets_no_refresh_token(
    void **state)
{
    token_result_t t;

    add_clients();
    t = redeem("cli_norefresh", code_for("cli_norefresh", NULL, NULL, "read",
                                         NOW),
               NULL, NULL, NULL, NOW);
    assert_issued(t);
    assert_null(json_object_get(t.r, "refresh_token"));
    assert_true(sql_int("SELECT COUNT(*) FROM apiauth_refresh_tokens") == 0);
}

/* --- refresh_token ------------------------------------------------------- */

static void test_refresh_rotates_the_refresh_token(void **state)
{
    token_result_t first, second, third;
    apiauth_error_t err;

    add_clients();
    first = first_tokens();
    second = refresh("cli_conf", str(first, "refresh_token"), NULL, NOW + 10);
    assert_issued(second);
    assert_non_null(str(second, "refresh_token"));
    assert_string_not_equal(str(second, "refresh_token"),
                            str(first, "refresh_token"));
    assert_string_not_equal(str(second, "access_token"),
                            str(first, "access_token"));
    assert_string_equal(str(second, "scope"), "read write");
    assert_int_equal(check_access(str(second, "access_token"), NOW + 10,
                                  &err), APIAUTH_OK);
    /* the new one works, once */
    third = refresh("cli_conf", str(second, "refresh_token"), NULL, NOW + 20);
    assert_issued(third);
    /* all three are of one family */
    assert_true(sql_int("SELECT COUNT(DISTINCT grant_id) FROM "
                        "apiauth_refresh_tokens") == 1);
    assert_true(sql_int("SELECT COUNT(*) FROM apiauth_refresh_tokens WHERE "
                        "used IS NULL") == 1);
}

static void test_reused_refresh_token_is_invalid_grant_and_revokes_the_family(
    void **state)
{
    token_result_t first, second;
    apiauth_error_t err;

    add_clients();
    first = first_tokens();
    second = refresh("cli_conf", str(first, "refresh_token"), NULL, NOW + 10);
    assert_issued(second);
    /* an attacker (or the client) replays the old one */
    assert_refused(refresh("cli_conf", str(first, "refresh_token"), NULL,
                           NOW + 20), APIAUTH_INVALID, "invalid_grant");
    /* RFC 9700 §4.14.2: the whole family goes, the newest token too */
    assert_refused(refresh("cli_conf", str(second, "refresh_token"), NULL,
                           NOW + 30), APIAUTH_INVALID, "invalid_grant");
    assert_int_equal(check_access(str(second, "access_token"), NOW + 30,
                                  &err), APIAUTH_DENIED);
    assert_int_equal(check_access(str(first, "access_token"), NOW + 30, &err),
                     APIAUTH_DENIED);
}

static void test_expired_refresh_token_is_invalid_grant(void **state)
{
    token_result_t first;

    add_clients();
    first = first_tokens();
    assert_refused(refresh("cli_conf", str(first, "refresh_token"), NULL,
                           NOW + REFRESH_LIFETIME),
                   APIAUTH_INVALID, "invalid_grant");
    first = first_tokens();
    assert_issued(refresh("cli_conf", str(first, "refresh_token"), NULL,
                          NOW + REFRESH_LIFETIME - 1));
}

static void test_refresh_after_the_access_token_expired(void **state)
{
    apr_int64_t later = NOW + ACCESS_LIFETIME + 100;
    token_result_t first, next;
    apiauth_error_t err;

    add_clients();
    first = first_tokens();
    assert_int_equal(check_access(str(first, "access_token"), later, &err),
                     APIAUTH_DENIED);
    next = refresh("cli_conf", str(first, "refresh_token"), NULL, later);
    assert_issued(next);
    assert_true(verify_jwt(str(next, "access_token"), later).exp
                == later + ACCESS_LIFETIME);
    assert_int_equal(check_access(str(next, "access_token"), later, &err),
                     APIAUTH_OK);
}

static void test_refresh_token_of_another_client_is_refused_and_left_alone(
    void **state)
{
    token_result_t first;
    const char *gid;
    apiauth_error_t err;

    add_clients();
    first = first_tokens();
    gid = gid_of(first);
    assert_non_null(gid);
    assert_refused(refresh("cli_other", str(first, "refresh_token"), NULL,
                           NOW + 1), APIAUTH_INVALID, "invalid_grant");
    /* RFC 6749 §6: refused, spent nothing, revoked nothing -- a public
     * client needs no secret, so anyone who saw the token could otherwise
     * log its owner out */
    assert_false(grant_revoked(gid));
    assert_int_equal(check_access(str(first, "access_token"), NOW + 2, &err),
                     APIAUTH_OK);
    assert_issued(refresh("cli_conf", str(first, "refresh_token"), NULL,
                          NOW + 2));
}

static void test_used_refresh_token_of_another_client_revokes_nothing(
    void **state)
{
    token_result_t first, second;
    apiauth_error_t err;

    add_clients();
    first = first_tokens();
    second = refresh("cli_conf", str(first, "refresh_token"), NULL, NOW + 1);
    assert_issued(second);
    /* the spent token in a stranger's hands: no replay of its owner */
    assert_refused(refresh("cli_other", str(first, "refresh_token"), NULL,
                           NOW + 2), APIAUTH_INVALID, "invalid_grant");
    assert_false(grant_revoked(gid_of(first)));
    assert_int_equal(check_access(str(second, "access_token"), NOW + 3,
                                  &err), APIAUTH_OK);
    assert_issued(refresh("cli_conf", str(second, "refresh_token"), NULL,
                          NOW + 3));
}

static void test_refused_refresh_leaves_the_refresh_token_usable(void **state)
{
    token_result_t first, again;

    add_clients();
    first = first_tokens();
    /* RFC 6749 §5.2: invalid_scope issues nothing and spends nothing */
    assert_refused(refresh("cli_conf", str(first, "refresh_token"),
                           "read profile", NOW + 1),
                   APIAUTH_INVALID, "invalid_scope");
    assert_true(sql_int("SELECT COUNT(*) FROM apiauth_refresh_tokens WHERE "
                        "used IS NOT NULL") == 0);
    /* the client's retry without the scope is no replay */
    again = refresh("cli_conf", str(first, "refresh_token"), NULL, NOW + 2);
    assert_issued(again);
    assert_false(grant_revoked(gid_of(first)));
    assert_string_equal(str(again, "scope"), "read write");
}

static void test_refresh_may_narrow_the_scope(void **state)
{
    token_result_t first, narrow, again;

    add_clients();
    first = first_tokens();
    narrow = refresh("cli_conf", str(first, "refresh_token"), "write",
                     NOW + 1);
    assert_issued(narrow);
    assert_string_equal(str(narrow, "scope"), "write");
    assert_string_equal(verify_jwt(str(narrow, "access_token"), NOW + 1)
                            .scope, "write");
    /* narrowing one token does not shrink the family */
    again = refresh("cli_conf", str(narrow, "refresh_token"), NULL, NOW + 2);
    assert_issued(again);
    assert_string_equal(str(again, "scope"), "read write");
}

/* --- resource indicators (RFC 8707) ---------------------------------- */

#define MCP "https://api.example/mcp"
#define MCP2 "https://api.example/other"

static void know_resources(void)
{
    apr_array_header_t *r = apr_array_make(unit_pool, 2, sizeof(char *));

    APR_ARRAY_PUSH(r, const char *) = MCP;
    APR_ARRAY_PUSH(r, const char *) = MCP2;
    fx.cfg.resources = r;
}

/* The aud of a token, and what the resource check says of it. */
static const char *aud_of(token_result_t t, const char **resource)
{
    apiauth_identity_t id;
    apiauth_error_t err;

    assert_int_equal(apiauth_oauth_access_token_check(
                         unit_pool, &fx.cfg, fx.db, str(t, "access_token"),
                         NOW + 30, &id, NULL, &err), APIAUTH_OK);
    *resource = id.resource;
    return id.audience;
}

static void test_client_credentials_for_a_resource(void **state)
{
    const char *resource;
    token_result_t t;

    add_clients();
    know_resources();
    t = token("cli_conf", params_of("grant_type", "client_credentials",
                                    "resource", MCP, NULL), NOW);
    assert_issued(t);
    assert_string_equal(aud_of(t, &resource), MCP);
    assert_string_equal(resource, MCP);
    /* none named: the server's own audience, no resource */
    t = token("cli_conf", params_of("grant_type", "client_credentials",
                                    NULL), NOW);
    assert_string_equal(aud_of(t, &resource), AUDIENCE);
    assert_null(resource);
    assert_refused(token("cli_conf",
                         params_of("grant_type", "client_credentials",
                                   "resource", "https://elsewhere/", NULL),
                         NOW), APIAUTH_INVALID, "invalid_target");
    {
        apr_table_t *two = params_of("grant_type", "client_credentials",
                                     "resource", MCP, NULL);
        apr_table_add(two, "resource", MCP2);
        assert_refused(token("cli_conf", two, NOW), APIAUTH_INVALID,
                       "invalid_target");
    }
}

static void test_a_grant_for_a_resource_keeps_it(void **state)
{
    apiauth_oauth_authz_t a;
    apiauth_error_t err = {NULL, NULL};
    const char *code = NULL, *resource;
    token_result_t first, again;
    int redirectable;

    add_clients();
    know_resources();
    assert_int_equal(apiauth_oauth_authorize_check(
                         unit_pool, &fx.cfg, fx.db,
                         params_of("response_type", "code", "client_id",
                                   "cli_conf", "redirect_uri", CB,
                                   "code_challenge", CHALLENGE,
                                   "code_challenge_method", "S256",
                                   "resource", MCP, NULL),
                         &a, &redirectable, &err), APIAUTH_OK);
    assert_string_equal(a.resource, MCP);
    assert_int_equal(apiauth_oauth_authorize_issue(unit_pool, &fx.cfg, fx.db,
                                                   &a, USER, NULL, NOW, &code,
                                                   &err), APIAUTH_OK);
    first = redeem("cli_conf", code, CB, VERIFIER, NULL, NOW);
    assert_issued(first);
    assert_string_equal(aud_of(first, &resource), MCP);
    /* a refresh may name it again, or not at all; never another */
    assert_refused(token("cli_conf",
                         params_of("grant_type", "refresh_token",
                                   "refresh_token",
                                   str(first, "refresh_token"), "resource",
                                   MCP2, NULL), NOW + 10),
                   APIAUTH_INVALID, "invalid_target");
    again = token("cli_conf", params_of("grant_type", "refresh_token",
                                        "refresh_token",
                                        str(first, "refresh_token"),
                                        "resource", MCP, NULL), NOW + 10);
    assert_issued(again);
    assert_string_equal(aud_of(again, &resource), MCP);
    again = refresh("cli_conf", str(again, "refresh_token"), NULL, NOW + 20);
    assert_issued(again);
    assert_string_equal(aud_of(again, &resource), MCP);
    assert_string_equal(resource, MCP);
}

static void test_a_grant_without_a_resource_gets_none_later(void **state)
{
    token_result_t first = (add_clients(), know_resources(), first_tokens());

    assert_refused(token("cli_conf",
                         params_of("grant_type", "refresh_token",
                                   "refresh_token",
                                   str(first, "refresh_token"), "resource",
                                   MCP, NULL), NOW + 10),
                   APIAUTH_INVALID, "invalid_target");
}

static void test_a_client_asks_only_for_its_resources(void **state)
{
    const char *resource;
    token_result_t t;

    add_clients();
    know_resources();
    assert_int_equal(sql_run("UPDATE apiauth_clients SET resources = '"
                             MCP "' WHERE id = 'cli_conf'"), 0);
    t = token("cli_conf", params_of("grant_type", "client_credentials",
                                    "resource", MCP, NULL), NOW);
    assert_issued(t);
    assert_string_equal(aud_of(t, &resource), MCP);
    assert_refused(token("cli_conf",
                         params_of("grant_type", "client_credentials",
                                   "resource", MCP2, NULL), NOW),
                   APIAUTH_INVALID, "invalid_target");
}

static void test_authorize_refuses_an_unknown_resource(void **state)
{
    apiauth_oauth_authz_t a;
    apiauth_error_t err = {NULL, NULL};
    int redirectable;

    add_clients();
    know_resources();
    assert_int_equal(apiauth_oauth_authorize_check(
                         unit_pool, &fx.cfg, fx.db,
                         params_of("response_type", "code", "client_id",
                                   "cli_conf", "redirect_uri", CB,
                                   "code_challenge", CHALLENGE,
                                   "code_challenge_method", "S256",
                                   "resource", "https://elsewhere/", NULL),
                         &a, &redirectable, &err), APIAUTH_INVALID);
    assert_string_equal(err.error, "invalid_target");
    assert_true(redirectable);
}

/* --- clients named by their metadata document --------------------- */

#define DOC_URL "https://agent.example/client.json"

static apiauth_status_t from_document(const char *json,
                                      apiauth_oauth_client_t *c,
                                      apiauth_error_t *err)
{
    return apiauth_oauth_client_document(unit_pool, &fx.cfg, DOC_URL, json,
                                         strlen(json), "app_x", c, err);
}

static void test_a_client_metadata_document_makes_a_public_client(
    void **state)
{
    apiauth_oauth_client_t c;
    apiauth_error_t err;

    assert_int_equal(from_document(
        "{\"client_id\":\"" DOC_URL "\",\"client_name\":\"Agent\","
        "\"redirect_uris\":[\"http://127.0.0.1/cb\"]}", &c, &err),
        APIAUTH_OK);
    assert_string_equal(c.id, DOC_URL);
    assert_string_equal(c.display_name, "Agent");
    assert_null(c.secret_digest);
    assert_true(c.grants & APIAUTH_GRANT_AUTHORIZATION_CODE);
    /* it must name itself, and be public */
    assert_int_equal(from_document(
        "{\"client_id\":\"https://agent.example/other.json\","
        "\"redirect_uris\":[\"http://127.0.0.1/cb\"]}", &c, &err),
        APIAUTH_INVALID);
    assert_string_equal(err.error, "invalid_client");
    assert_int_equal(from_document(
        "{\"client_id\":\"" DOC_URL "\",\"token_endpoint_auth_method\":"
        "\"client_secret_basic\",\"redirect_uris\":[\"http://127.0.0.1/cb\"]}",
        &c, &err), APIAUTH_INVALID);
    assert_int_equal(from_document(
        "{\"client_id\":\"" DOC_URL "\",\"redirect_uris\":"
        "[\"http://agent.example/cb\"]}", &c, &err), APIAUTH_INVALID);
    assert_int_equal(from_document("[1]", &c, &err), APIAUTH_INVALID);
}

static void test_refresh_may_not_widen_the_scope(void **state)
{
    token_result_t first;

    add_clients();
    first = first_tokens();
    /* profile and admin are the client's, but were not granted */
    assert_refused(refresh("cli_conf", str(first, "refresh_token"),
                           "read profile", NOW + 1),
                   APIAUTH_INVALID, "invalid_scope");
    first = first_tokens();
    assert_refused(refresh("cli_conf", str(first, "refresh_token"), "admin",
                           NOW + 1),
                   APIAUTH_INVALID, "invalid_scope");
}

static void test_unknown_or_missing_refresh_token(void **state)
{
    add_clients();
    first_tokens();
    assert_refused(refresh("cli_conf", "aar_unknown", NULL, NOW),
                   APIAUTH_INVALID, "invalid_grant");
    assert_refused(refresh("cli_conf", NULL, NULL, NOW), APIAUTH_INVALID,
                   "invalid_request");
}

static void test_refresh_of_a_revoked_grant_is_invalid_grant(void **state)
{
    token_result_t first;

    add_clients();
    first = first_tokens();
    assert_int_equal(apiauth_store_grant_revoke(unit_pool, fx.db,
                                                gid_of(first), NOW + 1),
                     APIAUTH_OK);
    assert_refused(refresh("cli_conf", str(first, "refresh_token"), NULL,
                           NOW + 2), APIAUTH_INVALID, "invalid_grant");
}

static void test_refresh_lengthens_the_family(void **state)
{
    token_result_t first;
    const char *gid;
    apr_int64_t later = NOW + 1000;

    add_clients();
    first = first_tokens();
    gid = gid_of(first);
    assert_issued(refresh("cli_conf", str(first, "refresh_token"), NULL,
                          later));
    assert_true(sql_int(apr_psprintf(unit_pool, "SELECT expires FROM "
                                     "apiauth_grants WHERE id = '%s'", gid))
                >= later + REFRESH_LIFETIME);
}

/* --- the store failing part way ------------------------------------------ */

static void test_store_failure_during_refresh_keeps_the_old_token(
    void **state)
{
    token_result_t first, t;

    add_clients();
    first = first_tokens();
    /* consuming the old token succeeds; inserting the new one fails */
    assert_int_equal(schema_change("CREATE TRIGGER fail_refresh BEFORE INSERT "
                                   "ON apiauth_refresh_tokens BEGIN SELECT "
                                   "RAISE(ABORT, 'test'); END"), 0);
    t = refresh("cli_conf", str(first, "refresh_token"), NULL, NOW + 1);
    assert_refused(t, APIAUTH_ERROR, "temporarily_unavailable");
    /* rolled back: not marked used, and no family revoked */
    assert_true(sql_int("SELECT COUNT(*) FROM apiauth_refresh_tokens WHERE "
                        "used IS NOT NULL") == 0);
    assert_true(sql_int("SELECT COUNT(*) FROM apiauth_grants WHERE "
                        "revoked IS NOT NULL") == 0);
    assert_int_equal(schema_change("DROP TRIGGER fail_refresh"), 0);
    assert_issued(refresh("cli_conf", str(first, "refresh_token"), NULL,
                          NOW + 2));
}

static void test_store_failure_during_code_redemption_keeps_the_code(
    void **state)
{
    const char *code;

    add_clients();
    code = code_for("cli_conf", CB, CHALLENGE, "read", NOW);
    assert_int_equal(schema_change("CREATE TRIGGER fail_refresh BEFORE INSERT "
                                   "ON apiauth_refresh_tokens BEGIN SELECT "
                                   "RAISE(ABORT, 'test'); END"), 0);
    assert_refused(redeem("cli_conf", code, CB, VERIFIER, NULL, NOW),
                   APIAUTH_ERROR, "temporarily_unavailable");
    assert_true(sql_int("SELECT COUNT(*) FROM apiauth_codes WHERE used IS "
                        "NULL") == 1);
    assert_int_equal(schema_change("DROP TRIGGER fail_refresh"), 0);
    assert_issued(redeem("cli_conf", code, CB, VERIFIER, NULL, NOW + 1));
}

static void test_store_failure_extending_the_family_rolls_back(void **state)
{
    token_result_t first;

    add_clients();
    first = first_tokens();
    /* the last write of a refresh fails */
    assert_int_equal(schema_change("CREATE TRIGGER fail_extend BEFORE UPDATE "
                                   "OF expires ON apiauth_grants BEGIN SELECT "
                                   "RAISE(ABORT, 'test'); END"), 0);
    assert_refused(refresh("cli_conf", str(first, "refresh_token"), NULL,
                           NOW + 1000), APIAUTH_ERROR,
                   "temporarily_unavailable");
    assert_true(sql_int("SELECT COUNT(*) FROM apiauth_refresh_tokens") == 1);
    assert_int_equal(schema_change("DROP TRIGGER fail_extend"), 0);
    assert_issued(refresh("cli_conf", str(first, "refresh_token"), NULL,
                          NOW + 1001));
}

static void test_store_without_the_tables_is_temporarily_unavailable(
    void **state)
{
    token_result_t first;

    add_clients();
    first = first_tokens();
    assert_int_equal(schema_change("DROP TABLE apiauth_refresh_tokens"), 0);
    assert_refused(refresh("cli_conf", str(first, "refresh_token"), NULL,
                           NOW + 1), APIAUTH_ERROR,
                   "temporarily_unavailable");
    assert_refused(redeem("cli_conf", code_for("cli_conf", CB, CHALLENGE,
                                               "read", NOW),
                          CB, VERIFIER, NULL, NOW),
                   APIAUTH_ERROR, "temporarily_unavailable");
}

/* --- DPoP (RFC 9449 §5) -------------------------------------------------- */

static const apiauth_oauth_binding_t key_a = {"jkt-of-key-a", NULL};
static const apiauth_oauth_binding_t key_b = {"jkt-of-key-b", NULL};

static json_t *claims_of(const char *jwt)
{
    const char *dot1 = strchr(jwt, '.'), *dot2 = strchr(dot1 + 1, '.');
    unsigned char *raw;
    apr_size_t len;

    assert_int_equal(apiauth_b64url_decode(unit_pool, dot1 + 1,
                                           (apr_size_t)(dot2 - dot1 - 1),
                                           &raw, &len), APIAUTH_OK);
    return json_kept(json_loadb((const char *)raw, len, 0, NULL));
}

static void test_a_proof_makes_a_dpop_token_with_its_key(void **state)
{
    token_result_t t;
    json_t *claims;

    add_clients();
    bound_to = &key_a;
    t = token("cli_cc", params_of("grant_type", "client_credentials", NULL),
              NOW);
    bound_to = NULL;
    assert_int_equal(t.st, APIAUTH_OK);
    assert_string_equal(str(t, "token_type"), "DPoP");
    claims = claims_of(str(t, "access_token"));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(claims, "cnf"), "jkt")),
                        "jkt-of-key-a");
    /* without a proof: a bearer token, no cnf */
    t = token("cli_cc", params_of("grant_type", "client_credentials", NULL),
              NOW);
    assert_string_equal(str(t, "token_type"), "Bearer");
    assert_null(json_object_get(claims_of(str(t, "access_token")), "cnf"));
}

static void test_a_public_clients_family_stays_with_its_key(void **state)
{
    token_result_t first, t;
    const char *code;

    add_clients();
    code = code_for("cli_pub", "http://127.0.0.1:5000/cb", CHALLENGE, "read", NOW);
    bound_to = &key_a;
    first = redeem("cli_pub", code, "http://127.0.0.1:5000/cb", VERIFIER, NULL, NOW);
    assert_issued(first);
    /* no proof, another key: refused, and the token is not spent */
    bound_to = NULL;
    t = refresh("cli_pub", str(first, "refresh_token"), NULL, NOW + 1);
    assert_refused(t, APIAUTH_INVALID, "invalid_dpop_proof");
    bound_to = &key_b;
    t = refresh("cli_pub", str(first, "refresh_token"), NULL, NOW + 1);
    assert_refused(t, APIAUTH_INVALID, "invalid_dpop_proof");
    /* the same key: rotated, and still a DPoP token */
    bound_to = &key_a;
    t = refresh("cli_pub", str(first, "refresh_token"), NULL, NOW + 2);
    bound_to = NULL;
    assert_issued(t);
    assert_string_equal(str(t, "token_type"), "DPoP");
}

static void test_a_confidential_clients_family_is_not_bound(void **state)
{
    token_result_t first, t;
    const char *code;

    add_clients();
    code = code_for("cli_conf", CB, CHALLENGE, "read", NOW);
    bound_to = &key_a;
    first = redeem("cli_conf", code, CB, VERIFIER, NULL, NOW);
    bound_to = NULL;
    assert_issued(first);
    /* its refresh tokens are bound to its secret: a bearer refresh works */
    t = refresh("cli_conf", str(first, "refresh_token"), NULL, NOW + 1);
    assert_issued(t);
    assert_string_equal(str(t, "token_type"), "Bearer");
}

static void test_a_dpop_bound_client_must_send_a_proof(void **state)
{
    token_result_t t;

    add_clients();
    assert_int_equal(sql_run("UPDATE apiauth_clients SET dpop_bound = 1 "
                             "WHERE id = 'cli_cc'"), 0);
    t = token("cli_cc", params_of("grant_type", "client_credentials", NULL),
              NOW);
    assert_refused(t, APIAUTH_INVALID, "invalid_dpop_proof");
    bound_to = &key_a;
    t = token("cli_cc", params_of("grant_type", "client_credentials", NULL),
              NOW);
    bound_to = NULL;
    assert_int_equal(t.st, APIAUTH_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        OAUTH_TEST(test_missing_grant_type_is_invalid_request),
        OAUTH_TEST(test_unknown_grant_type_is_unsupported),
        OAUTH_TEST(
            test_grant_not_allowed_to_the_client_is_unauthorized_client),
        OAUTH_TEST(test_client_credentials_default_scope_is_all_of_the_grant),
        OAUTH_TEST(test_client_credentials_explicit_scope),
        OAUTH_TEST(test_client_credentials_invalid_scope),
        OAUTH_TEST(
            test_client_credentials_with_no_scope_available_is_invalid_scope),
        OAUTH_TEST(test_client_credentials_refused_to_a_public_client),
        OAUTH_TEST(test_client_credentials_token_has_the_rfc9068_claims),
        OAUTH_TEST(test_client_credentials_tokens_have_distinct_ids),
        OAUTH_TEST(test_access_tokens_are_signed_with_each_key_type),
        OAUTH_TEST(test_code_redeems_for_access_and_refresh_tokens),
        OAUTH_TEST(
            test_code_redeemed_twice_is_invalid_grant_and_revokes_the_grant),
        OAUTH_TEST(test_a_replay_reports_the_family_revoked),
        OAUTH_TEST(test_a_rolled_back_refusal_reports_no_revocation),
        OAUTH_TEST(test_a_proof_makes_a_dpop_token_with_its_key),
        OAUTH_TEST(test_a_public_clients_family_stays_with_its_key),
        OAUTH_TEST(test_a_confidential_clients_family_is_not_bound),
        OAUTH_TEST(test_a_dpop_bound_client_must_send_a_proof),
        OAUTH_TEST(test_code_of_another_client_is_refused_and_left_to_its_owner),
        OAUTH_TEST(test_used_code_presented_by_another_client_revokes_nothing),
        OAUTH_TEST(test_refused_code_redemption_leaves_the_code_usable),
        OAUTH_TEST(test_expired_code_is_invalid_grant),
        OAUTH_TEST(test_unknown_or_missing_code),
        OAUTH_TEST(test_code_of_a_revoked_grant_is_invalid_grant),
        OAUTH_TEST(test_redirect_uri_sent_at_authorize_must_be_repeated),
        OAUTH_TEST(test_redirect_uri_left_out_at_authorize_is_optional),
        OAUTH_TEST(test_pkce_public_client_redeems_with_its_verifier),
        OAUTH_TEST(test_pkce_wrong_verifier_is_invalid_grant),
        OAUTH_TEST(test_pkce_missing_verifier_is_invalid_grant),
        OAUTH_TEST(
            test_pkce_verifier_for_a_code_without_challenge_is_invalid_grant),
        OAUTH_TEST(
            test_pkce_malformed_verifier_is_invalid_request_and_keeps_the_code),
        OAUTH_TEST(test_scope_can_be_narrowed_at_the_token_request),
        OAUTH_TEST(test_scope_cannot_be_widened_at_the_token_request),
        OAUTH_TEST(test_client_without_refresh_grant_gets_no_refresh_token),
        OAUTH_TEST(test_refresh_rotates_the_refresh_token),
        OAUTH_TEST(
            test_reused_refresh_token_is_invalid_grant_and_revokes_the_family),
        OAUTH_TEST(test_expired_refresh_token_is_invalid_grant),
        OAUTH_TEST(test_refresh_after_the_access_token_expired),
        OAUTH_TEST(
            test_refresh_token_of_another_client_is_refused_and_left_alone),
        OAUTH_TEST(test_used_refresh_token_of_another_client_revokes_nothing),
        OAUTH_TEST(test_refused_refresh_leaves_the_refresh_token_usable),
        OAUTH_TEST(test_refresh_may_narrow_the_scope),
        OAUTH_TEST(test_refresh_may_not_widen_the_scope),
        OAUTH_TEST(test_client_credentials_for_a_resource),
        OAUTH_TEST(test_a_grant_for_a_resource_keeps_it),
        OAUTH_TEST(test_a_grant_without_a_resource_gets_none_later),
        OAUTH_TEST(test_authorize_refuses_an_unknown_resource),
        OAUTH_TEST(test_a_client_asks_only_for_its_resources),
        OAUTH_TEST(test_a_client_metadata_document_makes_a_public_client),
        OAUTH_TEST(test_unknown_or_missing_refresh_token),
        OAUTH_TEST(test_refresh_of_a_revoked_grant_is_invalid_grant),
        OAUTH_TEST(test_refresh_lengthens_the_family),
        OAUTH_TEST(test_store_failure_during_refresh_keeps_the_old_token),
        OAUTH_TEST(test_store_failure_during_code_redemption_keeps_the_code),
        OAUTH_TEST(test_store_failure_extending_the_family_rolls_back),
        OAUTH_TEST(test_store_without_the_tables_is_temporarily_unavailable),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("oauth_token", tests, oauth_keys_make,
                                     oauth_keys_remove);
    apr_terminate();
    return rc;
}
