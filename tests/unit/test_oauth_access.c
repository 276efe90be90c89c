/*
 * test_oauth_access.c: access tokens checked with and without the store,
 * introspection (RFC 7662), revocation (RFC 7009) and the purge of what
 * has expired (lib/oauth/access.c), over a real SQLite store and real keys.
 */
#include "unit.h"

#include "oauth_fixture.h"

#define CB "https://client.example/cb"
#define OTHER_CB "https://other.example/cb"

static void add_clients(void)
{
    client_add("cli_conf", "aacs_conf",
               "authorization_code client_credentials refresh_token",
               "read write admin", CB, 0);
    client_add("cli_other", "aacs_other",
               "authorization_code client_credentials refresh_token",
               "read write", OTHER_CB, 0);
    client_add("cli_rs", "aacs_rs", "client_credentials", "read", "",
               CLIENT_RESOURCE_SERVER);
}

/* An access token of `client_id` for itself, minted at `now`. */
static const char *client_token(const char *client_id, apr_int64_t now)
{
    apiauth_oauth_client_t c = client_get(client_id);
    const char *t = apiauth_oauth_access_token(unit_pool, &fx.cfg, &c, NULL,
                                               "read", NULL, NULL, NULL, now);

    assert_non_null(t);
    return t;
}

typedef struct {
    const char *access, *refresh, *gid;
} user_tokens_t;

/* What `client_id` gets for USER through a code redeemed at `now`. */
static user_tokens_t user_tokens(const char *client_id, apr_int64_t now)
{
    apiauth_oauth_client_t c = client_get(client_id);
    const char *code = code_for(client_id, NULL, CHALLENGE, "read write",
                                now);
    apiauth_error_t err;
    user_tokens_t u;
    json_t *r = NULL;

    if (apiauth_oauth_token(unit_pool, &fx.cfg, fx.db, &c,
                            params_of("grant_type", "authorization_code",
                                      "code", code, "code_verifier", VERIFIER,
                                      NULL), NULL, now, &r, NULL, &err)
        != APIAUTH_OK) {
        fail_msg("token: %s (%s)", err.error, err.description);
    }
    json_kept(r);
    u.access = json_string_value(json_object_get(r, "access_token"));
    u.refresh = json_string_value(json_object_get(r, "refresh_token"));
    u.gid = sql_text(apr_psprintf(unit_pool, "SELECT grant_id FROM "
                                  "apiauth_refresh_tokens WHERE digest = '%s'",
                                  apiauth_digest_hex(unit_pool, NULL,
                                                     u.refresh)));
    assert_non_null(u.access);
    assert_non_null(u.refresh);
    assert_non_null(u.gid);
    return u;
}

static apiauth_status_t check(apiauth_db_t *db, const char *token,
                              apr_int64_t now, apiauth_identity_t *id,
                              apiauth_error_t *err)
{
    memset(err, 0, sizeof(*err));
    return apiauth_oauth_access_token_check(unit_pool, &fx.cfg, db, token,
                                            now, id, NULL, err);
}

static json_t *introspect(const char *caller, const char *token,
                          apr_int64_t now)
{
    apiauth_oauth_client_t c = client_get(caller);
    apiauth_error_t err = {NULL, NULL};
    json_t *r = NULL;

    if (apiauth_oauth_introspect(unit_pool, &fx.cfg, fx.db, &c, token, now,
                                 &r, &err) != APIAUTH_OK) {
        fail_msg("introspect: %s (%s)", err.error, err.description);
    }
    return json_kept(r);
}

static void assert_inactive(json_t *r)
{
    json_t *inactive = json_pack("{s:b}", "active", 0);

    /* nothing else: not even whose token it was */
    assert_true(json_equal(r, inactive));
    json_decref(inactive);
}

static const char *jstr(json_t *r, const char *name)
{
    return json_string_value(json_object_get(r, name));
}

static apr_int64_t jint(json_t *r, const char *name)
{
    return json_integer_value(json_object_get(r, name));
}

/* 1 when an access token was revoked: its jti marked until it expires,
 * and the token as presented forgotten. */
static int revoke_as(const char *caller, const char *token, apr_int64_t now)
{
    apiauth_oauth_client_t c = client_get(caller);
    apiauth_error_t err = {NULL, NULL};
    apiauth_effects_t done;
    const apiauth_effect_t *e;

    apiauth_effects_init(&done, unit_pool);
    if (apiauth_oauth_revoke(unit_pool, &fx.cfg, fx.db, &c, token, now,
                             &done, &err) != APIAUTH_OK) {
        fail_msg("revoke: %s (%s)", err.error, err.description);
    }
    if (apiauth_effects_count(&done, APIAUTH_EFFECT_FORGET) == 0) {
        /* a refresh token revokes its family, or nothing was revoked */
        assert_true(done.list->nelts == 0
                    || (done.list->nelts == 1
                        && strcmp(APR_ARRAY_IDX(done.list, 0,
                                                apiauth_effect_t).what,
                                  "grant") == 0));
        return 0;
    }
    assert_int_equal(done.list->nelts, 2);
    e = &APR_ARRAY_IDX(done.list, 0, apiauth_effect_t);
    assert_string_equal(e->presented.secret, token);
    e = &APR_ARRAY_IDX(done.list, 1, apiauth_effect_t);
    assert_int_equal(e->kind, APIAUTH_EFFECT_REVOKED);
    assert_string_equal(e->what, "token");
    assert_true(e->until > now);
    return 1;
}

static apiauth_status_t refresh(const char *client_id, const char *rt,
                                apr_int64_t now)
{
    apiauth_oauth_client_t c = client_get(client_id);
    apiauth_error_t err;
    json_t *r = NULL;
    apiauth_status_t st = apiauth_oauth_token(
        unit_pool, &fx.cfg, fx.db, &c,
        params_of("grant_type", "refresh_token", "refresh_token", rt, NULL),
        NULL, now, &r, NULL, &err);

    json_kept(r);
    return st;
}

/* --- checking access tokens ---------------------------------------------- */

static void test_check_without_a_store_reads_the_token(void **state)
{
    apiauth_jwt_claims_t claims;
    apiauth_identity_t id;
    apiauth_error_t err;
    const char *t;

    add_clients();
    t = client_token("cli_conf", NOW);
    assert_int_equal(apiauth_oauth_access_token_check(
                         unit_pool, &fx.cfg, NULL, t, NOW + 1, &id, &claims,
                         &err), APIAUTH_OK);
    assert_int_equal(id.kind, APIAUTH_KIND_OAUTH);
    assert_string_equal(id.credential_id, claims.jti);
    assert_int_equal(strncmp(id.credential_id, "atk_", 4), 0);
    assert_string_equal(id.client_id, "cli_conf");
    assert_string_equal(id.app, APP_ID);
    assert_null(id.user);
    assert_string_equal(id.scope, "read");
    assert_true(id.expires == NOW + ACCESS_LIFETIME);
    assert_string_equal(claims.iss, ISSUER);
    assert_string_equal(claims.sub, "cli_conf");
}

static void test_check_of_a_user_token_names_the_user(void **state)
{
    apiauth_identity_t id;
    apiauth_error_t err;
    user_tokens_t u;

    add_clients();
    u = user_tokens("cli_conf", NOW);
    assert_int_equal(check(fx.db, u.access, NOW, &id, &err), APIAUTH_OK);
    assert_string_equal(id.user, USER);
    assert_string_equal(id.client_id, "cli_conf");
    assert_string_equal(id.scope, "read write");
}

static void test_check_with_a_store_takes_the_app_from_the_client(
    void **state)
{
    const apiauth_app_t app = {"app_moved", "moved", 1700000000};
    apiauth_identity_t id;
    apiauth_error_t err;
    const char *t;

    add_clients();
    t = client_token("cli_conf", NOW);
    assert_int_equal(apiauth_store_app_insert(unit_pool, fx.db, &app),
                     APIAUTH_OK);
    assert_int_equal(sql_run("UPDATE apiauth_clients SET app_id = "
                             "'app_moved' WHERE id = 'cli_conf'"), 0);
    assert_int_equal(check(fx.db, t, NOW, &id, &err), APIAUTH_OK);
    assert_string_equal(id.app, "app_moved");
    /* offline, the token's own claim is all there is */
    assert_int_equal(check(NULL, t, NOW, &id, &err), APIAUTH_OK);
    assert_string_equal(id.app, APP_ID);
}

static void test_check_refuses_revoked_tokens_with_distinct_reasons(
    void **state)
{
    apiauth_error_t denied, grant, deleted;
    apiauth_identity_t id;
    const char *t;
    user_tokens_t u, v;

    add_clients();
    /* deny-listed jti */
    t = client_token("cli_conf", NOW);
    assert_int_equal(revoke_as("cli_conf", t, NOW), 1);
    assert_int_equal(check(fx.db, t, NOW, &id, &denied), APIAUTH_DENIED);
    assert_string_equal(denied.error, "invalid_token");
    assert_int_equal(check(NULL, t, NOW, &id, &denied), APIAUTH_OK);
    assert_int_equal(check(fx.db, t, NOW, &id, &denied), APIAUTH_DENIED);

    /* revoked grant */
    u = user_tokens("cli_conf", NOW);
    assert_int_equal(apiauth_store_grant_revoke(unit_pool, fx.db, u.gid, NOW),
                     APIAUTH_OK);
    assert_int_equal(check(fx.db, u.access, NOW, &id, &grant),
                     APIAUTH_DENIED);
    assert_string_equal(grant.error, "invalid_token");

    /* deleted client */
    v = user_tokens("cli_other", NOW);
    assert_int_equal(check(fx.db, v.access, NOW, &id, &deleted), APIAUTH_OK);
    client_delete("cli_other");
    assert_int_equal(check(fx.db, v.access, NOW, &id, &deleted),
                     APIAUTH_DENIED);
    assert_string_equal(deleted.error, "invalid_token");

    assert_string_not_equal(denied.description, grant.description);
    assert_string_not_equal(denied.description, deleted.description);
    assert_string_not_equal(grant.description, deleted.description);
}

static void test_check_refuses_a_token_at_its_exp(void **state)
{
    apiauth_identity_t id;
    apiauth_error_t err;
    const char *t;

    add_clients();
    t = client_token("cli_conf", NOW);
    assert_int_equal(check(fx.db, t, NOW + ACCESS_LIFETIME - 1, &id, &err),
                     APIAUTH_OK);
    /* our own exp, by our own clock: no leeway */
    assert_int_equal(check(fx.db, t, NOW + ACCESS_LIFETIME, &id, &err),
                     APIAUTH_DENIED);
    assert_string_equal(err.error, "invalid_token");
    assert_int_equal(check(NULL, t, NOW + ACCESS_LIFETIME, &id, &err),
                     APIAUTH_DENIED);
}

static void test_check_allows_a_token_minted_a_leeway_ahead(void **state)
{
    apiauth_identity_t id;
    apiauth_error_t err;

    add_clients();
    /* another node of ours, its clock a little ahead: nbf and iat */
    assert_int_equal(check(fx.db, client_token("cli_conf", NOW + LEEWAY),
                           NOW, &id, &err), APIAUTH_OK);
    assert_int_equal(check(fx.db, client_token("cli_conf", NOW + LEEWAY + 1),
                           NOW, &id, &err), APIAUTH_DENIED);
    assert_string_equal(err.error, "invalid_token");
}

static void test_check_refuses_another_issuer_audience_or_key(void **state)
{
    apiauth_identity_t id;
    apiauth_error_t err;
    const char *t;

    add_clients();
    t = client_token("cli_conf", NOW);
    fx.cfg.issuer = "https://other-as.example";
    assert_int_equal(check(fx.db, t, NOW, &id, &err), APIAUTH_DENIED);
    fx.cfg.issuer = ISSUER;
    fx.cfg.audience = "https://other-api.example";
    assert_int_equal(check(fx.db, t, NOW, &id, &err), APIAUTH_DENIED);
    fx.cfg.audience = AUDIENCE;
    fx.cfg.keys = key_set(key_rsa, key_ed, NULL);
    assert_int_equal(check(fx.db, t, NOW, &id, &err), APIAUTH_DENIED);
    assert_string_equal(err.error, "invalid_token");
}

static void test_check_reports_a_store_failure(void **state)
{
    apiauth_identity_t id;
    apiauth_error_t err;
    const char *t;

    add_clients();
    t = client_token("cli_conf", NOW);
    assert_int_equal(schema_change("DROP TABLE apiauth_denied_jti"), 0);
    assert_int_equal(check(fx.db, t, NOW, &id, &err), APIAUTH_ERROR);
    assert_string_equal(err.error, "temporarily_unavailable");
    /* fail closed, but only where the store is needed */
    assert_int_equal(check(NULL, t, NOW, &id, &err), APIAUTH_OK);
}

/* --- introspection --------------------------------------------------------- */

static void test_introspect_own_access_token(void **state)
{
    apiauth_jwt_claims_t claims;
    apiauth_identity_t id;
    apiauth_error_t err;
    user_tokens_t u;
    json_t *r;

    add_clients();
    u = user_tokens("cli_conf", NOW);
    assert_int_equal(apiauth_oauth_access_token_check(
                         unit_pool, &fx.cfg, NULL, u.access, NOW, &id,
                         &claims, &err), APIAUTH_OK);
    r = introspect("cli_conf", u.access, NOW + 1);
    assert_true(json_is_true(json_object_get(r, "active")));
    assert_string_equal(jstr(r, "scope"), "read write");
    assert_string_equal(jstr(r, "client_id"), "cli_conf");
    assert_string_equal(jstr(r, "sub"), USER);
    assert_string_equal(jstr(r, "aud"), AUDIENCE);
    assert_string_equal(jstr(r, "iss"), ISSUER);
    assert_string_equal(jstr(r, "jti"), claims.jti);
    assert_string_equal(jstr(r, "token_type"), "Bearer");
    assert_true(jint(r, "exp") == NOW + ACCESS_LIFETIME);
    assert_true(jint(r, "iat") == NOW);
    assert_true(jint(r, "nbf") == NOW);
}

static void test_introspect_another_clients_token_is_inactive(void **state)
{
    add_clients();
    assert_inactive(introspect("cli_other", client_token("cli_conf", NOW),
                               NOW));
    assert_inactive(introspect("cli_other",
                               user_tokens("cli_conf", NOW).refresh, NOW));
}

static void test_resource_server_introspects_any_token(void **state)
{
    user_tokens_t u;
    json_t *r;

    add_clients();
    u = user_tokens("cli_conf", NOW);
    r = introspect("cli_rs", u.access, NOW);
    assert_true(json_is_true(json_object_get(r, "active")));
    assert_string_equal(jstr(r, "client_id"), "cli_conf");
    r = introspect("cli_rs", u.refresh, NOW);
    assert_true(json_is_true(json_object_get(r, "active")));
    assert_string_equal(jstr(r, "client_id"), "cli_conf");
}

static void test_introspect_expired_access_token_is_inactive(void **state)
{
    add_clients();
    assert_inactive(introspect("cli_conf", client_token("cli_conf", NOW),
                               NOW + ACCESS_LIFETIME));
}

static void test_introspect_revoked_access_token_is_inactive(void **state)
{
    const char *t;
    user_tokens_t u;

    add_clients();
    t = client_token("cli_conf", NOW);
    revoke_as("cli_conf", t, NOW);
    assert_inactive(introspect("cli_conf", t, NOW));
    u = user_tokens("cli_conf", NOW);
    apiauth_store_grant_revoke(unit_pool, fx.db, u.gid, NOW);
    assert_inactive(introspect("cli_conf", u.access, NOW));
}

static void test_introspect_refresh_token(void **state)
{
    user_tokens_t u;
    json_t *r;

    add_clients();
    u = user_tokens("cli_conf", NOW);
    r = introspect("cli_conf", u.refresh, NOW + 1);
    assert_true(json_is_true(json_object_get(r, "active")));
    assert_string_equal(jstr(r, "scope"), "read write");
    assert_string_equal(jstr(r, "client_id"), "cli_conf");
    assert_string_equal(jstr(r, "sub"), USER);
    assert_string_equal(jstr(r, "iss"), ISSUER);
    assert_true(jint(r, "exp") == NOW + REFRESH_LIFETIME);
    /* it says what it knows, and never the token */
    assert_null(json_object_get(r, "refresh_token"));
}

static void test_introspect_used_refresh_token_is_inactive(void **state)
{
    user_tokens_t u;

    add_clients();
    u = user_tokens("cli_conf", NOW);
    assert_int_equal(refresh("cli_conf", u.refresh, NOW + 1), APIAUTH_OK);
    assert_inactive(introspect("cli_conf", u.refresh, NOW + 2));
}

static void test_introspect_expired_refresh_token_is_inactive(void **state)
{
    user_tokens_t u;

    add_clients();
    u = user_tokens("cli_conf", NOW);
    assert_inactive(introspect("cli_conf", u.refresh,
                               NOW + REFRESH_LIFETIME));
}

static void test_introspect_refresh_token_of_a_revoked_grant_is_inactive(
    void **state)
{
    user_tokens_t u;

    add_clients();
    u = user_tokens("cli_conf", NOW);
    apiauth_store_grant_revoke(unit_pool, fx.db, u.gid, NOW);
    assert_inactive(introspect("cli_conf", u.refresh, NOW));
}

static void test_introspect_garbage_is_inactive(void **state)
{
    const char *t;
    char *forged;
    const char *garbage[] = {"", "garbage", "a.b.c", "..", "aar_unknown",
                             "aac_unknown", "Bearer x"};
    size_t i;

    add_clients();
    for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        assert_inactive(introspect("cli_conf", garbage[i], NOW));
    }
    assert_inactive(introspect("cli_conf", NULL, NOW));
    /* one of ours with its signature broken */
    t = client_token("cli_conf", NOW);
    forged = apr_pstrdup(unit_pool, t);
    forged[strlen(forged) - 2] = forged[strlen(forged) - 2] == 'A' ? 'B'
                                                                   : 'A';
    assert_inactive(introspect("cli_conf", forged, NOW));
}

static void test_introspect_reports_a_store_failure(void **state)
{
    apiauth_oauth_client_t c;
    apiauth_error_t err;
    user_tokens_t u;
    json_t *r = NULL;

    add_clients();
    u = user_tokens("cli_conf", NOW);
    c = client_get("cli_conf");
    assert_int_equal(schema_change("DROP TABLE apiauth_refresh_tokens"), 0);
    assert_int_equal(apiauth_oauth_introspect(unit_pool, &fx.cfg, fx.db, &c,
                                              u.refresh, NOW, &r, &err),
                     APIAUTH_ERROR);
    json_kept(r);
    assert_string_equal(err.error, "temporarily_unavailable");
}

/* --- revocation -------------------------------------------------------------- */

static void test_revoke_access_token_deny_lists_its_jti(void **state)
{
    apiauth_jwt_claims_t claims;
    apiauth_identity_t id;
    apiauth_error_t err;
    const char *t, *other;

    add_clients();
    t = client_token("cli_conf", NOW);
    other = client_token("cli_conf", NOW);
    assert_int_equal(apiauth_oauth_access_token_check(
                         unit_pool, &fx.cfg, NULL, t, NOW, &id, &claims,
                         &err), APIAUTH_OK);
    assert_int_equal(revoke_as("cli_conf", t, NOW + 1), 1);
    /* kept as long as the token could still be accepted */
    assert_true(sql_int(apr_psprintf(unit_pool, "SELECT expires FROM "
                                     "apiauth_denied_jti WHERE jti = '%s'",
                                     claims.jti))
                >= NOW + ACCESS_LIFETIME + LEEWAY);
    assert_int_equal(check(fx.db, t, NOW + 2, &id, &err), APIAUTH_DENIED);
    /* only that one */
    assert_int_equal(check(fx.db, other, NOW + 2, &id, &err), APIAUTH_OK);
    /* twice is fine */
    assert_int_equal(revoke_as("cli_conf", t, NOW + 3), 1);
}

static void test_revoke_refresh_token_revokes_the_family(void **state)
{
    apiauth_identity_t id;
    apiauth_error_t err;
    user_tokens_t u, v;

    add_clients();
    u = user_tokens("cli_conf", NOW);
    v = user_tokens("cli_conf", NOW);
    assert_int_equal(revoke_as("cli_conf", u.refresh, NOW + 1), 0);
    assert_int_equal(sql_int(apr_psprintf(unit_pool, "SELECT revoked FROM "
                                          "apiauth_grants WHERE id = '%s'",
                                          u.gid)), NOW + 1);
    assert_int_equal(refresh("cli_conf", u.refresh, NOW + 2),
                     APIAUTH_INVALID);
    assert_int_equal(check(fx.db, u.access, NOW + 2, &id, &err),
                     APIAUTH_DENIED);
    /* another family of the same user and client lives on */
    assert_int_equal(check(fx.db, v.access, NOW + 2, &id, &err), APIAUTH_OK);
    assert_int_equal(refresh("cli_conf", v.refresh, NOW + 2), APIAUTH_OK);
}

static void test_revoke_unknown_token_changes_nothing(void **state)
{
    const char *garbage[] = {"aar_unknown", "a.b.c", "garbage", ""};
    size_t i;

    add_clients();
    user_tokens("cli_conf", NOW);
    for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        assert_int_equal(revoke_as("cli_conf", garbage[i], NOW), 0);
    }
    assert_int_equal(revoke_as("cli_conf", NULL, NOW), 0);
    assert_true(sql_int("SELECT COUNT(*) FROM apiauth_denied_jti") == 0);
    assert_true(sql_int("SELECT COUNT(*) FROM apiauth_grants WHERE revoked "
                        "IS NOT NULL") == 0);
}

static void test_revoke_another_clients_token_changes_nothing(void **state)
{
    apiauth_identity_t id;
    apiauth_error_t err;
    const char *t;
    user_tokens_t u;

    add_clients();
    t = client_token("cli_conf", NOW);
    u = user_tokens("cli_conf", NOW);
    assert_int_equal(revoke_as("cli_other", t, NOW), 0);
    assert_int_equal(revoke_as("cli_other", u.access, NOW), 0);
    assert_int_equal(revoke_as("cli_other", u.refresh, NOW), 0);
    /* not even a resource server may revoke others' tokens */
    assert_int_equal(revoke_as("cli_rs", u.refresh, NOW), 0);
    assert_int_equal(check(fx.db, t, NOW, &id, &err), APIAUTH_OK);
    assert_int_equal(check(fx.db, u.access, NOW, &id, &err), APIAUTH_OK);
    assert_int_equal(refresh("cli_conf", u.refresh, NOW + 1), APIAUTH_OK);
}

static void test_revoke_reports_a_store_failure(void **state)
{
    apiauth_oauth_client_t c;
    apiauth_error_t err = {NULL, NULL};
    const char *t;
    apiauth_effects_t done;

    add_clients();
    t = client_token("cli_conf", NOW);
    c = client_get("cli_conf");
    apiauth_effects_init(&done, unit_pool);
    assert_int_equal(schema_change("DROP TABLE apiauth_denied_jti"), 0);
    assert_int_equal(apiauth_oauth_revoke(unit_pool, &fx.cfg, fx.db, &c, t,
                                          NOW, &done, &err),
                     APIAUTH_ERROR);
    assert_string_equal(err.error, "temporarily_unavailable");
    /* nothing was revoked, so no cache is told otherwise */
    assert_int_equal(done.list->nelts, 0);
}

static void test_grant_revoke_keeps_the_first_revocation(void **state)
{
    user_tokens_t u;

    add_clients();
    u = user_tokens("cli_conf", NOW);
    assert_int_equal(apiauth_store_grant_revoke(unit_pool, fx.db, u.gid,
                                                NOW + 1), APIAUTH_OK);
    assert_int_equal(apiauth_store_grant_revoke(unit_pool, fx.db, u.gid,
                                                NOW + 9), APIAUTH_OK);
    assert_int_equal(sql_int(apr_psprintf(unit_pool, "SELECT revoked FROM "
                                          "apiauth_grants WHERE id = '%s'",
                                          u.gid)), NOW + 1);
    /* an unknown grant is nothing to revoke, not an error */
    assert_int_equal(apiauth_store_grant_revoke(unit_pool, fx.db, "grt_none",
                                                NOW), APIAUTH_OK);
}

/* --- purge --------------------------------------------------------------------- */

static apr_int64_t count(const char *table)
{
    return sql_int(apr_pstrcat(unit_pool, "SELECT COUNT(*) FROM ", table,
                               NULL));
}

static void test_purge_removes_only_expired_rows(void **state)
{
    const apr_int64_t t = NOW + 10000;
    user_tokens_t old, live;
    int rows = -1;

    add_clients();
    /* an unredeemed code and its grant, long expired */
    code_for("cli_conf", NULL, CHALLENGE, "read", NOW);
    /* an unredeemed code that expires exactly at t, and one after */
    code_for("cli_conf", NULL, CHALLENGE, "read", t - CODE_LIFETIME);
    code_for("cli_conf", NULL, CHALLENGE, "read", t - 10);
    /* a family whose every token has expired, one revoked access token
     * of it; and a live family with its own */
    old = user_tokens("cli_conf", NOW);
    live = user_tokens("cli_conf", t - 100);
    revoke_as("cli_conf", old.access, NOW);
    revoke_as("cli_conf", live.access, t - 100);

    assert_true(count("apiauth_codes") == 5);
    assert_true(count("apiauth_grants") == 5);
    assert_true(count("apiauth_refresh_tokens") == 2);
    assert_true(count("apiauth_denied_jti") == 2);
    assert_int_equal(apiauth_store_oauth_purge(unit_pool, fx.db, t, &rows),
                     APIAUTH_OK);
    /* codes: the old unredeemed one and both redeemed ones (their 60
     * seconds are over); grants: the old code's and the old family */
    assert_int_equal(rows, 3 + 2 + 1 + 1);
    assert_true(count("apiauth_codes") == 2);
    assert_true(count("apiauth_grants") == 3);
    assert_true(count("apiauth_refresh_tokens") == 1);
    assert_true(count("apiauth_denied_jti") == 1);
    /* what is left is what still matters */
    assert_true(sql_int(apr_psprintf(unit_pool, "SELECT COUNT(*) FROM "
                                     "apiauth_grants WHERE id = '%s'",
                                     live.gid)) == 1);
    assert_int_equal(refresh("cli_conf", live.refresh, t), APIAUTH_OK);

    /* again: nothing more to do */
    assert_int_equal(apiauth_store_oauth_purge(unit_pool, fx.db, t, &rows),
                     APIAUTH_OK);
    assert_int_equal(rows, 0);
}

/* Two nodes of ours share the store, their clocks LEEWAY - 1 seconds
 * apart: the one ahead purges just after a token's exp, when the one
 * behind still takes the token by its own clock. */
#define AHEAD(exp) ((exp) + 1)
#define BEHIND(exp) (AHEAD(exp) - (LEEWAY - 1))

static void test_purge_keeps_a_revoked_token_refused_on_a_lagging_node(
    void **state)
{
    const apr_int64_t exp = NOW + ACCESS_LIFETIME;
    apiauth_identity_t id;
    apiauth_error_t err;
    const char *t;
    int rows;

    add_clients();
    t = client_token("cli_conf", NOW);
    revoke_as("cli_conf", t, NOW);
    assert_int_equal(apiauth_store_oauth_purge(unit_pool, fx.db, AHEAD(exp), &rows),
                     APIAUTH_OK);
    assert_int_equal(check(NULL, t, BEHIND(exp), &id, &err),
                     APIAUTH_OK);
    assert_int_equal(check(fx.db, t, BEHIND(exp), &id, &err),
                     APIAUTH_DENIED);
    /* a leeway on, the row goes: no node takes the token any more */
    assert_int_equal(apiauth_store_oauth_purge(unit_pool, fx.db,
                                         exp + LEEWAY + 1, &rows),
                     APIAUTH_OK);
    assert_int_equal(rows, 1);
}

static void test_purge_keeps_a_revoked_grant_refused_on_a_lagging_node(
    void **state)
{
    apr_int64_t exp;
    apiauth_identity_t id;
    apiauth_error_t err;
    user_tokens_t u;
    int rows;

    add_clients();
    /* access tokens outliving refresh tokens: the family's life is the
     * access token's */
    fx.cfg.access_lifetime = 2 * REFRESH_LIFETIME;
    exp = NOW + fx.cfg.access_lifetime;
    u = user_tokens("cli_conf", NOW);
    apiauth_store_grant_revoke(unit_pool, fx.db, u.gid, NOW);
    assert_int_equal(apiauth_store_oauth_purge(unit_pool, fx.db, AHEAD(exp), &rows),
                     APIAUTH_OK);
    assert_int_equal(check(NULL, u.access, BEHIND(exp), &id, &err),
                     APIAUTH_OK);
    assert_int_equal(check(fx.db, u.access, BEHIND(exp), &id, &err),
                     APIAUTH_DENIED);
}

static void test_purge_reports_a_store_failure(void **state)
{
    int rows;

    add_clients();
    assert_int_equal(schema_change("DROP TABLE apiauth_denied_jti"), 0);
    assert_int_equal(apiauth_store_oauth_purge(unit_pool, fx.db, NOW, &rows),
                     APIAUTH_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        OAUTH_TEST(test_check_without_a_store_reads_the_token),
        OAUTH_TEST(test_check_of_a_user_token_names_the_user),
        OAUTH_TEST(test_check_with_a_store_takes_the_app_from_the_client),
        OAUTH_TEST(test_check_refuses_revoked_tokens_with_distinct_reasons),
        OAUTH_TEST(test_check_refuses_a_token_at_its_exp),
        OAUTH_TEST(test_check_allows_a_token_minted_a_leeway_ahead),
        OAUTH_TEST(test_check_refuses_another_issuer_audience_or_key),
        OAUTH_TEST(test_check_reports_a_store_failure),
        OAUTH_TEST(test_introspect_own_access_token),
        OAUTH_TEST(test_introspect_another_clients_token_is_inactive),
        OAUTH_TEST(test_resource_server_introspects_any_token),
        OAUTH_TEST(test_introspect_expired_access_token_is_inactive),
        OAUTH_TEST(test_introspect_revoked_access_token_is_inactive),
        OAUTH_TEST(test_introspect_refresh_token),
        OAUTH_TEST(test_introspect_used_refresh_token_is_inactive),
        OAUTH_TEST(test_introspect_expired_refresh_token_is_inactive),
        OAUTH_TEST(
            test_introspect_refresh_token_of_a_revoked_grant_is_inactive),
        OAUTH_TEST(test_introspect_garbage_is_inactive),
        OAUTH_TEST(test_introspect_reports_a_store_failure),
        OAUTH_TEST(test_revoke_access_token_deny_lists_its_jti),
        OAUTH_TEST(test_revoke_refresh_token_revokes_the_family),
        OAUTH_TEST(test_revoke_unknown_token_changes_nothing),
        OAUTH_TEST(test_revoke_another_clients_token_changes_nothing),
        OAUTH_TEST(test_revoke_reports_a_store_failure),
        OAUTH_TEST(test_grant_revoke_keeps_the_first_revocation),
        OAUTH_TEST(test_purge_removes_only_expired_rows),
        OAUTH_TEST(test_purge_keeps_a_revoked_token_refused_on_a_lagging_node),
        OAUTH_TEST(test_purge_keeps_a_revoked_grant_refused_on_a_lagging_node),
        OAUTH_TEST(test_purge_reports_a_store_failure),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("oauth_tokens", tests, oauth_keys_make,
                                     oauth_keys_remove);
    apr_terminate();
    return rc;
}
