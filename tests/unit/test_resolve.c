/*
 * test_resolve.c: the decisions of AuthType apiauth (lib/decide/resolve.c)
 * and the logout that applies the Tapglue rule too (lib/oauth/login.c),
 * over a real SQLite store.
 *
 * The stores are asked the way provider_dbd asks them: a credential by
 * the digest of its secret, a user by id.  Each rule of DESIGN's Basic
 * table, Contextual's install binding and admission get a success and
 * their refusals.
 */
#include "unit.h"

#include "digest.h"
#include "keys.h"
#include "login.h"
#include "resolve.h"
#include "store_fixture.h"

#define NOW 1700000000

/* The secrets of the fixture, minted in setup. */
static struct {
    const char *key_a, *token_a, *backend_a, *app_token_a, *app_token_b;
    const char *session_alice, *session_b, *install, *revoked, *expired;
} s;

static void credential(apiauth_db_t *db, const char *id, const char *secret,
                       apiauth_kind_t kind, const char *app, const char *user,
                       const char *install_id, apr_int64_t expires)
{
    apiauth_credential_new_t c;

    memset(&c, 0, sizeof(c));
    c.id = id;
    c.digest_hex = apiauth_digest_hex(unit_pool, NULL, secret);
    c.kind = kind;
    c.app = app;
    c.user = user;
    c.scope = "read";
    c.install_id = install_id;
    c.created = NOW - 100;
    c.expires = expires;
    assert_int_equal(apiauth_store_credential_insert(unit_pool, db, &c),
                     APIAUTH_OK);
}

static void user(apiauth_db_t *db, const char *id, const char *app)
{
    apiauth_user_t u = {id, NULL, app, "$2y$10$none", NOW - 100};

    assert_int_equal(apiauth_store_user_insert(unit_pool, db, &u),
                     APIAUTH_OK);
}

static char *mint(const char *prefix)
{
    char *secret = apiauth_secret_new(unit_pool, prefix);

    assert_non_null(secret);
    return secret;
}

static int resolve_setup(void **state)
{
    const apiauth_app_t a = {"app_a", "a", NOW - 200};
    const apiauth_app_t b = {"app_b", "b", NOW - 200};
    apiauth_db_t *db;

    if (store_setup(state) != 0) {
        return -1;
    }
    db = *state;
    if (apiauth_store_app_insert(unit_pool, db, &a) != APIAUTH_OK
        || apiauth_store_app_insert(unit_pool, db, &b) != APIAUTH_OK) {
        return -1;
    }
    s.key_a = mint(APIAUTH_PREFIX_KEY);
    s.token_a = mint(APIAUTH_PREFIX_KEY);
    s.backend_a = mint(APIAUTH_PREFIX_KEY);
    s.app_token_a = mint(APIAUTH_PREFIX_KEY);
    s.app_token_b = mint(APIAUTH_PREFIX_KEY);
    s.session_alice = mint(APIAUTH_PREFIX_SESSION);
    s.session_b = mint(APIAUTH_PREFIX_SESSION);
    s.install = mint(APIAUTH_PREFIX_INSTALL);
    s.revoked = mint(APIAUTH_PREFIX_KEY);
    s.expired = mint(APIAUTH_PREFIX_KEY);
    credential(db, "crd_key", s.key_a, APIAUTH_KIND_API_KEY, "app_a", NULL,
               NULL, 0);
    credential(db, "crd_tok", s.token_a, APIAUTH_KIND_TOKEN, "app_a", "alice",
               NULL, 0);
    credential(db, "crd_bck", s.backend_a, APIAUTH_KIND_BACKEND, "app_a",
               NULL, NULL, 0);
    credential(db, "crd_apa", s.app_token_a, APIAUTH_KIND_APP_TOKEN, "app_a",
               NULL, NULL, 0);
    credential(db, "crd_apb", s.app_token_b, APIAUTH_KIND_APP_TOKEN, "app_b",
               NULL, NULL, 0);
    credential(db, "ses_alice", s.session_alice, APIAUTH_KIND_SESSION,
               "app_a", "alice", NULL, NOW + 3600);
    credential(db, "ses_b", s.session_b, APIAUTH_KIND_SESSION, "app_b", "bob",
               NULL, NOW + 3600);
    credential(db, "ins_1", s.install, APIAUTH_KIND_INSTALL, "app_a", "alice",
               "dev-1", NOW + 3600);
    credential(db, "crd_rev", s.revoked, APIAUTH_KIND_API_KEY, "app_a", NULL,
               NULL, 0);
    credential(db, "crd_exp", s.expired, APIAUTH_KIND_API_KEY, "app_a", NULL,
               NULL, NOW - 1);
    if (apiauth_store_credential_revoke(unit_pool, db, "crd_rev", NOW - 10)
        != APIAUTH_OK) {
        return -1;
    }
    user(db, "alice", "app_a");
    user(db, "bob", "app_b");
    user(db, "carol", NULL);
    return 0;
}

#define RESOLVE_TEST(f) cmocka_unit_test_setup_teardown(f, resolve_setup, \
                                                         store_teardown)

/* The stores as provider_dbd answers: by digest, by user id. */
static apiauth_status_t find_secret(void *baton, const char *secret,
                                    apiauth_credential_row_t *row,
                                    apiauth_error_t *err)
{
    apiauth_status_t st = apiauth_store_credential_find(
        unit_pool, baton, apiauth_digest_hex(unit_pool, NULL, secret), row);

    row->identity.provider = "dbd";
    return st;
}

static apiauth_status_t find_user(void *baton, const char *name,
                                  const char **app, apiauth_error_t *err)
{
    return apiauth_store_user_find(unit_pool, baton, name, app);
}

typedef struct {
    apiauth_status_t st;
    apiauth_identity_t id;
    apiauth_error_t err;
} outcome_t;

static outcome_t resolve(void **state, apiauth_scheme_t scheme,
                         const char *secret, const char *password,
                         const char *install_id)
{
    apiauth_lookup_t lk = {*state, find_secret, find_user, NULL};
    apiauth_credential_t cred = {scheme, APIAUTH_FROM_AUTHORIZATION, secret,
                                 password, install_id};
    outcome_t o;

    memset(&o, 0, sizeof(o));
    o.st = apiauth_resolve_credential(&lk, &cred, NOW, &o.id, &o.err);
    return o;
}

static outcome_t basic(void **state, const char *user_part,
                       const char *password)
{
    return resolve(state, APIAUTH_SCHEME_BASIC, user_part, password, NULL);
}

static void assert_denied(outcome_t o, const char *words)
{
    assert_int_equal(o.st, APIAUTH_DENIED);
    assert_string_equal(o.err.error, "invalid_token");
    if (strstr(o.err.description, words) == NULL) {
        fail_msg("refused for \"%s\", not \"%s\"", o.err.description, words);
    }
}

/* --- the four Basic rules --------------------------------------------- */

static void test_backend_token_acts_as_a_user_of_its_app(void **state)
{
    outcome_t o = basic(state, s.backend_a, "alice");

    assert_int_equal(o.st, APIAUTH_OK);
    assert_int_equal(o.id.kind, APIAUTH_KIND_BACKEND);
    assert_string_equal(o.id.user, "alice");
    assert_string_equal(o.id.acting_app, "app_a");
    /* a user of no app may be acted for too */
    assert_int_equal(basic(state, s.backend_a, "carol").st, APIAUTH_OK);
}

static void test_backend_token_refusals(void **state)
{
    assert_denied(basic(state, s.backend_a, ""), "id of the user");
    assert_denied(basic(state, s.backend_a, "bob"), "another app");
    assert_denied(basic(state, s.backend_a, "nobody"), "no such user");
    assert_denied(basic(state, s.backend_a, "a:b"), "id of the user");
}

static void test_tapglue_app_token_and_session_of_its_app(void **state)
{
    outcome_t o = basic(state, s.app_token_a, s.session_alice);

    assert_int_equal(o.st, APIAUTH_OK);
    assert_int_equal(o.id.kind, APIAUTH_KIND_SESSION);
    assert_string_equal(o.id.user, "alice");
    assert_string_equal(o.id.credential_id, "ses_alice");
    /* the app token alone resolves; admission decides where it may go */
    o = basic(state, s.app_token_a, "");
    assert_int_equal(o.st, APIAUTH_OK);
    assert_int_equal(o.id.kind, APIAUTH_KIND_APP_TOKEN);
}

static void test_tapglue_refusals(void **state)
{
    /* another app's session, a key where the session goes, a revoked
     * app token */
    assert_denied(basic(state, s.app_token_a, s.session_b),
                  "not one of this app");
    assert_denied(basic(state, s.app_token_a, s.key_a),
                  "not one of this app");
    assert_denied(basic(state, s.app_token_a, "aas_unknown"),
                  "not known");
}

static void test_twake_app_id_and_one_of_its_keys(void **state)
{
    outcome_t o = basic(state, "app_a", s.key_a);

    assert_int_equal(o.st, APIAUTH_OK);
    assert_int_equal(o.id.kind, APIAUTH_KIND_API_KEY);
    assert_string_equal(o.id.app, "app_a");
}

static void test_twake_refusals(void **state)
{
    assert_denied(basic(state, "app_b", s.key_a), "not an API key of this");
    assert_denied(basic(state, "app_a", s.token_a), "not an API key of this");
    assert_denied(basic(state, "app_a", ""), "needs one of its keys");
    assert_denied(basic(state, "app_a", s.revoked), "revoked");
}

static void test_stripe_key_as_the_user_with_no_password(void **state)
{
    outcome_t o = basic(state, s.key_a, "");

    assert_int_equal(o.st, APIAUTH_OK);
    assert_string_equal(o.id.credential_id, "crd_key");
    assert_denied(basic(state, s.key_a, "x"), "empty password");
    /* a session is no Basic user */
    assert_denied(basic(state, s.session_alice, ""), "cannot be used");
}

/* --- Contextual install tokens ----------------------------------------- */

static void test_install_token_is_bound_to_its_install(void **state)
{
    outcome_t o = resolve(state, APIAUTH_SCHEME_INSTALL, s.install, NULL,
                          "dev-1");

    assert_int_equal(o.st, APIAUTH_OK);
    assert_string_equal(o.id.install_id, "dev-1");
    assert_denied(resolve(state, APIAUTH_SCHEME_INSTALL, s.install, NULL,
                          "dev-2"), "not one of this install");
    assert_denied(resolve(state, APIAUTH_SCHEME_INSTALL, s.key_a, NULL,
                          "dev-1"), "not one of this install");
}

/* --- what every scheme shares ------------------------------------------ */

static void test_revoked_expired_unknown_and_corrupt_are_refused(void **state)
{
    outcome_t o = resolve(state, APIAUTH_SCHEME_APIKEY, s.revoked, NULL, NULL);
    char *corrupt = apr_pstrdup(unit_pool, s.key_a);

    assert_denied(o, "revoked");
    /* the log can say which */
    assert_string_equal(o.id.credential_id, "crd_rev");
    assert_denied(resolve(state, APIAUTH_SCHEME_APIKEY, s.expired, NULL,
                          NULL), "expired");
    assert_denied(resolve(state, APIAUTH_SCHEME_APIKEY, "sk_unknown", NULL,
                          NULL), "not known");
    corrupt[strlen(corrupt) - 1] = corrupt[strlen(corrupt) - 1] == 'A' ? 'B'
                                                                        : 'A';
    assert_denied(resolve(state, APIAUTH_SCHEME_APIKEY, corrupt, NULL, NULL),
                  "checksum");
}

static apiauth_status_t failing_store(void *baton, const char *secret,
                                      apiauth_credential_row_t *row,
                                      apiauth_error_t *err)
{
    return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                        "down");
}

static void test_a_store_failure_is_an_error_not_a_refusal(void **state)
{
    apiauth_lookup_t lk = {*state, failing_store, find_user, NULL};
    apiauth_credential_t cred = {APIAUTH_SCHEME_BASIC,
                                 APIAUTH_FROM_AUTHORIZATION, "app_a",
                                 "aak_x", NULL};
    apiauth_identity_t id;
    apiauth_error_t err;

    assert_int_equal(apiauth_resolve_credential(&lk, &cred, NOW, &id, &err),
                     APIAUTH_ERROR);
    cred.scheme = APIAUTH_SCHEME_APIKEY;
    cred.secret = "sk_live_x";
    assert_int_equal(apiauth_resolve_credential(&lk, &cred, NOW, &id, &err),
                     APIAUTH_ERROR);
}

static void test_a_jwt_with_no_provider_for_it_is_refused(void **state)
{
    assert_denied(resolve(state, APIAUTH_SCHEME_BEARER, "a.b.c", NULL, NULL),
                  "no provider");
}

/* --- admission ------------------------------------------------------- */

static apiauth_status_t admit(const apiauth_admission_t *rules,
                              apiauth_scheme_t scheme, apiauth_kind_t kind,
                              apr_int64_t expires, const char *provider)
{
    apiauth_credential_t cred = {scheme, APIAUTH_FROM_AUTHORIZATION, "x",
                                 "", NULL};
    apiauth_identity_t id;
    apiauth_error_t err;

    memset(&id, 0, sizeof(id));
    id.kind = kind;
    id.expires = expires;
    id.provider = provider;
    return apiauth_admit(rules, &cred, &id, NOW, &err);
}

static void test_admission_per_scheme(void **state)
{
    apiauth_admission_t bearer_only = {APIAUTH_SCHEME_BEARER, 0, 0, 60};
    apiauth_admission_t keys = {APIAUTH_SCHEME_BEARER | APIAUTH_SCHEME_APIKEY,
                                0, 0, 60};

    assert_int_equal(admit(&keys, APIAUTH_SCHEME_APIKEY,
                           APIAUTH_KIND_API_KEY, 0, "dbd"), APIAUTH_OK);
    assert_int_equal(admit(&keys, APIAUTH_SCHEME_APIKEY,
                           APIAUTH_KIND_SESSION, 0, "dbd"), APIAUTH_DENIED);
    /* a key as Bearer only where keys are taken anyway */
    assert_int_equal(admit(&keys, APIAUTH_SCHEME_BEARER,
                           APIAUTH_KIND_API_KEY, 0, "dbd"), APIAUTH_OK);
    assert_int_equal(admit(&bearer_only, APIAUTH_SCHEME_BEARER,
                           APIAUTH_KIND_API_KEY, 0, "dbd"), APIAUTH_DENIED);
    assert_int_equal(admit(&bearer_only, APIAUTH_SCHEME_BEARER,
                           APIAUTH_KIND_OAUTH, 0, "oauth"), APIAUTH_OK);
    assert_int_equal(admit(&keys, APIAUTH_SCHEME_INSTALL,
                           APIAUTH_KIND_INSTALL, 0, "dbd"), APIAUTH_OK);
    assert_int_equal(admit(&keys, APIAUTH_SCHEME_INSTALL,
                           APIAUTH_KIND_SESSION, 0, "dbd"), APIAUTH_DENIED);
}

static void test_admission_of_app_tokens_and_backend_tokens(void **state)
{
    apiauth_admission_t plain = {APIAUTH_SCHEME_BASIC, 0, 0, 60};
    apiauth_admission_t open = {APIAUTH_SCHEME_BASIC, 1, 1, 60};

    assert_int_equal(admit(&plain, APIAUTH_SCHEME_BASIC,
                           APIAUTH_KIND_APP_TOKEN, 0, "dbd"), APIAUTH_DENIED);
    assert_int_equal(admit(&open, APIAUTH_SCHEME_BASIC,
                           APIAUTH_KIND_APP_TOKEN, 0, "dbd"), APIAUTH_OK);
    assert_int_equal(admit(&plain, APIAUTH_SCHEME_BASIC,
                           APIAUTH_KIND_BACKEND, 0, "dbd"), APIAUTH_DENIED);
    assert_int_equal(admit(&open, APIAUTH_SCHEME_BASIC,
                           APIAUTH_KIND_BACKEND, 0, "dbd"), APIAUTH_OK);
}

static void test_admission_expiry_and_the_jwt_leeway(void **state)
{
    apiauth_admission_t rules = {APIAUTH_SCHEME_BEARER, 0, 0, 60};

    assert_int_equal(admit(&rules, APIAUTH_SCHEME_BEARER, APIAUTH_KIND_OAUTH,
                           NOW, "oauth"), APIAUTH_DENIED);
    /* a foreign issuer's clock may run behind ours by the leeway */
    assert_int_equal(admit(&rules, APIAUTH_SCHEME_BEARER, APIAUTH_KIND_OAUTH,
                           NOW - 59, "jwt"), APIAUTH_OK);
    assert_int_equal(admit(&rules, APIAUTH_SCHEME_BEARER, APIAUTH_KIND_OAUTH,
                           NOW - 60, "jwt"), APIAUTH_DENIED);
    assert_int_equal(admit(&rules, APIAUTH_SCHEME_BEARER, APIAUTH_KIND_OAUTH,
                           NOW + 1, "oauth"), APIAUTH_OK);
}

/* RFC 8707: a token for one resource is taken at that resource only */
static apiauth_status_t admit_for(const char *location_resource,
                                  apiauth_kind_t kind, const char *provider,
                                  const char *resource, const char *audience)
{
    apiauth_admission_t rules = {APIAUTH_SCHEME_BEARER
                                     | APIAUTH_SCHEME_APIKEY, 0, 0, 60,
                                 location_resource};
    apiauth_credential_t cred = {kind == APIAUTH_KIND_API_KEY
                                     ? APIAUTH_SCHEME_APIKEY
                                     : APIAUTH_SCHEME_BEARER,
                                 APIAUTH_FROM_AUTHORIZATION, "x", "", NULL};
    apiauth_identity_t id;
    apiauth_error_t err;

    memset(&id, 0, sizeof(id));
    id.kind = kind;
    id.provider = provider;
    id.resource = resource;
    id.audience = audience;
    return apiauth_admit(&rules, &cred, &id, NOW, &err);
}

static void test_admission_of_tokens_for_a_resource(void **state)
{
    const char *mcp = "https://api.example/mcp";
    const char *other = "https://api.example/other";

    /* ours: the resource it was issued for, there and nowhere else */
    assert_int_equal(admit_for(mcp, APIAUTH_KIND_OAUTH, "oauth", mcp, mcp),
                     APIAUTH_OK);
    assert_int_equal(admit_for(other, APIAUTH_KIND_OAUTH, "oauth", mcp, mcp),
                     APIAUTH_DENIED);
    assert_int_equal(admit_for(NULL, APIAUTH_KIND_OAUTH, "oauth", mcp, mcp),
                     APIAUTH_DENIED);
    /* a token of the server's own audience: not at a resource location */
    assert_int_equal(admit_for(mcp, APIAUTH_KIND_OAUTH, "oauth", NULL,
                               "https://as.example"), APIAUTH_DENIED);
    assert_int_equal(admit_for(NULL, APIAUTH_KIND_OAUTH, "oauth", NULL,
                               "https://as.example"), APIAUTH_OK);
    /* the jwt provider checked aud against ApiAuthJWT audience= */
    assert_int_equal(admit_for(mcp, APIAUTH_KIND_OAUTH, "jwt", NULL, mcp),
                     APIAUTH_OK);
    assert_int_equal(admit_for(mcp, APIAUTH_KIND_OAUTH, "jwt", NULL, other),
                     APIAUTH_DENIED);
    /* a key has no audience: its app decides */
    assert_int_equal(admit_for(mcp, APIAUTH_KIND_API_KEY, "dbd", NULL, NULL),
                     APIAUTH_OK);
}

/* --- the Tapglue rule at logout ------------------------------------- */

static apiauth_status_t logout(void **state, const char *app_token,
                               const char *session, apiauth_effects_t *fx)
{
    apiauth_credential_t cred = {APIAUTH_SCHEME_BASIC,
                                 APIAUTH_FROM_AUTHORIZATION, app_token,
                                 session, NULL};
    apiauth_credential_row_t app, ended;
    apiauth_error_t err;
    apiauth_status_t st;

    apiauth_effects_init(fx, unit_pool);
    st = apiauth_login_app(unit_pool, *state, NULL, &cred, NOW, &app, fx,
                           &err);
    if (st != APIAUTH_OK) {
        return st;
    }
    return apiauth_logout(unit_pool, *state, NULL, &cred, &app, NOW, &ended,
                          fx, &err);
}

static void test_logout_ends_a_session_of_the_app_and_says_so(void **state)
{
    apiauth_effects_t fx;
    const apiauth_effect_t *e;

    assert_int_equal(logout(state, s.app_token_a, s.session_alice, &fx),
                     APIAUTH_OK);
    assert_int_equal(fx.list->nelts, 2);
    e = &APR_ARRAY_IDX(fx.list, 0, apiauth_effect_t);
    assert_int_equal(e->kind, APIAUTH_EFFECT_FORGET);
    assert_string_equal(e->presented.password, s.session_alice);
    e = &APR_ARRAY_IDX(fx.list, 1, apiauth_effect_t);
    assert_int_equal(e->kind, APIAUTH_EFFECT_REVOKED);
    assert_string_equal(e->id, "ses_alice");
    assert_true(e->until == NOW + 3600);
    /* and the pair no longer resolves */
    assert_denied(basic(state, s.app_token_a, s.session_alice), "revoked");
}

static void test_logout_refuses_what_resolution_refuses(void **state)
{
    apiauth_effects_t fx;

    /* the same rule as resolution: another app's session */
    assert_denied(basic(state, s.app_token_a, s.session_b),
                  "not one of this app");
    assert_int_equal(logout(state, s.app_token_a, s.session_b, &fx),
                     APIAUTH_DENIED);
    assert_int_equal(apiauth_effects_count(&fx, APIAUTH_EFFECT_REFUSED), 1);
    assert_int_equal(apiauth_effects_count(&fx, APIAUTH_EFFECT_REVOKED), 0);
    /* a key is no app token */
    assert_int_equal(logout(state, s.key_a, s.session_alice, &fx),
                     APIAUTH_DENIED);
    assert_int_equal(apiauth_effects_count(&fx, APIAUTH_EFFECT_REFUSED), 1);
    /* no session at all */
    assert_int_equal(logout(state, s.app_token_a, "", &fx), APIAUTH_DENIED);
    /* bob's session is still live */
    assert_int_equal(basic(state, s.app_token_b, s.session_b).st, APIAUTH_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RESOLVE_TEST(test_backend_token_acts_as_a_user_of_its_app),
        RESOLVE_TEST(test_backend_token_refusals),
        RESOLVE_TEST(test_tapglue_app_token_and_session_of_its_app),
        RESOLVE_TEST(test_tapglue_refusals),
        RESOLVE_TEST(test_twake_app_id_and_one_of_its_keys),
        RESOLVE_TEST(test_twake_refusals),
        RESOLVE_TEST(test_stripe_key_as_the_user_with_no_password),
        RESOLVE_TEST(test_install_token_is_bound_to_its_install),
        RESOLVE_TEST(test_revoked_expired_unknown_and_corrupt_are_refused),
        RESOLVE_TEST(test_a_store_failure_is_an_error_not_a_refusal),
        RESOLVE_TEST(test_a_jwt_with_no_provider_for_it_is_refused),
        UNIT_TEST(test_admission_per_scheme),
        UNIT_TEST(test_admission_of_app_tokens_and_backend_tokens),
        UNIT_TEST(test_admission_expiry_and_the_jwt_leeway),
        UNIT_TEST(test_admission_of_tokens_for_a_resource),
        RESOLVE_TEST(test_logout_ends_a_session_of_the_app_and_says_so),
        RESOLVE_TEST(test_logout_refuses_what_resolution_refuses),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("resolve", tests, NULL, NULL);
    apr_terminate();
    return rc;
}
