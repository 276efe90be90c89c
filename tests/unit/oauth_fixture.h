/*
 * oauth_fixture.h: an authorization server over a real SQLite store, for
 * tests/unit/test_oauth_*.c.
 *
 * OAUTH_TEST(f) gives each test a fresh store (store_fixture.h), one app
 * and a configuration `fx.cfg` whose scopes are registered per grant:
 *
 *   read     every grant
 *   write    authorization_code, refresh_token
 *   profile  authorization_code
 *   admin    client_credentials
 *   metrics  client_credentials
 *
 * Programs that mint tokens run oauth_keys_make as their group setup: it
 * makes an EC P-256, an RSA 2048 and an Ed25519 key with the openssl
 * command line in a temporary directory, loads them, and removes the
 * files at once; fx.cfg then signs with the EC key and verifies with all
 * three.  Times are fixed (NOW): nothing here depends on the clock.
 */
#ifndef APIAUTH_OAUTH_FIXTURE_H
#define APIAUTH_OAUTH_FIXTURE_H

#include <stdio.h>
#include <unistd.h>

#include "store_fixture.h"

#include "digest.h"
#include "jose.h"
#include "jwt.h"
#include "keys.h"
#include "oauth.h"

/* not every test program uses every helper */
#define FIXTURE_FN static __attribute__((unused))

#define NOW APR_INT64_C(1700000000)
#define ISSUER "https://as.example"
#define AUDIENCE "https://api.example"
#define ACCESS_LIFETIME 600
#define REFRESH_LIFETIME 3600
#define CODE_LIFETIME 60
#define LEEWAY 30
#define APP_ID "app_test"
#define USER "alice"

/* An S256 pair: RFC 7636 Appendix B. */
#define VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

typedef struct {
    apiauth_db_t *db;
    apiauth_oauth_config_t cfg;
} oauth_fixture_t;

static oauth_fixture_t fx;

/* the keys live for the whole program, in their own pool */
static apr_pool_t *oauth_key_pool;
static apiauth_jwk_t *key_ec, *key_rsa, *key_ed;

FIXTURE_FN int oauth_keys_make(void **state)
{
    const char *base = getenv("TMPDIR"), *errmsg = NULL;
    char dir[512], cmd[1024];
    static const struct {
        const char *file, *opts;
        apiauth_jwk_t **key;
    } keys[] = {
        {"ec.pem", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256", &key_ec},
        {"rsa.pem", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048", &key_rsa},
        {"ed.pem", "-algorithm ED25519", &key_ed},
    };
    size_t i;
    int rc = 0;

    snprintf(dir, sizeof(dir), "%s/apiauth-unit-keys-XXXXXX",
             base && *base ? base : "/tmp");
    if (mkdtemp(dir) == NULL
        || apr_pool_create(&oauth_key_pool, NULL) != APR_SUCCESS) {
        return -1;
    }
    for (i = 0; rc == 0 && i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *path = apr_pstrcat(oauth_key_pool, dir, "/", keys[i].file,
                                       NULL);
        snprintf(cmd, sizeof(cmd), "openssl genpkey %s -out '%s' 2>/dev/null",
                 keys[i].opts, path);
        if (system(cmd) != 0
            || apiauth_jwk_load_private(oauth_key_pool, path, keys[i].key,
                                        &errmsg) != APIAUTH_OK) {
            fprintf(stderr, "key %s: %s\n", keys[i].file,
                    errmsg ? errmsg : "openssl genpkey failed");
            rc = -1;
        }
        remove(path);
    }
    rmdir(dir);
    return rc;
}

FIXTURE_FN int oauth_keys_remove(void **state)
{
    if (oauth_key_pool) {
        apr_pool_destroy(oauth_key_pool);
        oauth_key_pool = NULL;
    }
    return 0;
}

/* A key set for cfg.keys or apiauth_jwt_verify. */
FIXTURE_FN apr_array_header_t *key_set(const apiauth_jwk_t *a,
                                       const apiauth_jwk_t *b,
                                       const apiauth_jwk_t *c)
{
    apr_array_header_t *keys = apr_array_make(unit_pool, 3,
                                              sizeof(apiauth_jwk_t *));

    if (a) {
        APR_ARRAY_PUSH(keys, const apiauth_jwk_t *) = a;
    }
    if (b) {
        APR_ARRAY_PUSH(keys, const apiauth_jwk_t *) = b;
    }
    if (c) {
        APR_ARRAY_PUSH(keys, const apiauth_jwk_t *) = c;
    }
    return keys;
}

static void add_scope(apr_array_header_t *scopes, const char *name,
                      unsigned grants)
{
    apiauth_oauth_scope_t *s = apr_array_push(scopes);

    s->name = name;
    s->grants = grants;
    s->description = apr_pstrcat(unit_pool, "may ", name, NULL);
}

/* Raw SQL on the test's store, for what the catalogue never does
 * (reading rows back, changing them behind the code's back). */
FIXTURE_FN int sql_run(const char *sql)
{
    int nrows = 0;
    int rc = apr_dbd_query(fx.db->driver, fx.db->handle, &nrows, sql);

    if (rc != 0) {
        print_error("%s: %s\n", sql,
                    apr_dbd_error(fx.db->driver, fx.db->handle, rc));
    }
    return rc;
}

/* DDL on the test's store (a trigger that makes one statement fail, a
 * dropped table), then the catalogue prepared again: apr_dbd_sqlite3
 * prepares with the legacy sqlite3_prepare, whose statements fail for
 * good once the schema changes.  A statement that no longer prepares
 * keeps its stale handle, which fails -- as it should. */
FIXTURE_FN int schema_change(const char *sql)
{
    const char *why;
    int rc = sql_run(sql), i;

    for (i = 0; rc == 0 && i < APIAUTH_SQL_COUNT; i++) {
        prepare_statement(fx.db, (apiauth_sql_id_t)i, &why);
    }
    return rc;
}

/* The first column of the first row of `sql`: NULL when there is no row
 * or the value is NULL; the test fails when the query does. */
FIXTURE_FN const char *sql_text(const char *sql)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *v = NULL;
    int first = 1;

    if (apr_dbd_select(fx.db->driver, unit_pool, fx.db->handle, &res, sql, 0)
        != 0) {
        fail_msg("%s: %s", sql, apr_dbd_error(fx.db->driver, fx.db->handle,
                                              1));
    }
    while (apr_dbd_get_row(fx.db->driver, unit_pool, res, &row, -1) == 0) {
        if (first) {
            v = apr_dbd_get_entry(fx.db->driver, row, 0);
            first = 0;
        }
    }
    return v;
}

/* The same as an integer: -1 for no row or NULL. */
FIXTURE_FN apr_int64_t sql_int(const char *sql)
{
    const char *v = sql_text(sql);

    return v ? apr_atoi64(v) : -1;
}

static int oauth_setup(void **state)
{
    const apiauth_app_t app = {APP_ID, "test", 1700000000};
    apr_array_header_t *scopes;

    if (store_setup(state) != 0) {
        return -1;
    }
    memset(&fx, 0, sizeof(fx));
    fx.db = &store_fx.db;
    scopes = apr_array_make(unit_pool, 5, sizeof(apiauth_oauth_scope_t));
    add_scope(scopes, "read", APIAUTH_GRANT_AUTHORIZATION_CODE
                                  | APIAUTH_GRANT_CLIENT_CREDENTIALS
                                  | APIAUTH_GRANT_REFRESH_TOKEN);
    add_scope(scopes, "write", APIAUTH_GRANT_AUTHORIZATION_CODE
                                   | APIAUTH_GRANT_REFRESH_TOKEN);
    add_scope(scopes, "profile", APIAUTH_GRANT_AUTHORIZATION_CODE);
    add_scope(scopes, "admin", APIAUTH_GRANT_CLIENT_CREDENTIALS);
    add_scope(scopes, "metrics", APIAUTH_GRANT_CLIENT_CREDENTIALS);
    fx.cfg.issuer = ISSUER;
    fx.cfg.audience = AUDIENCE;
    fx.cfg.signing_key = key_ec;
    fx.cfg.keys = key_set(key_ec, key_rsa, key_ed);
    fx.cfg.pepper = NULL;
    fx.cfg.access_lifetime = ACCESS_LIFETIME;
    fx.cfg.refresh_lifetime = REFRESH_LIFETIME;
    fx.cfg.code_lifetime = CODE_LIFETIME;
    fx.cfg.leeway = LEEWAY;
    fx.cfg.scopes = scopes;
    fx.cfg.require_pkce_all = 0;
    fx.cfg.resources = NULL;
    if (apiauth_store_app_insert(unit_pool, fx.db, &app) != APIAUTH_OK) {
        store_teardown(state);
        return -1;
    }
    *state = &fx;
    return 0;
}

static int oauth_teardown(void **state)
{
    memset(&fx, 0, sizeof(fx));
    return store_teardown(state);
}

#define OAUTH_TEST(f) cmocka_unit_test_setup_teardown(f, oauth_setup, \
                                                       oauth_teardown)

/* Client flags. */
#define CLIENT_FIRST_PARTY     0x1
#define CLIENT_RESOURCE_SERVER 0x2

/* Registers a client as apiauth-admin does; `secret` NULL: public.  The
 * secret is stored by its digest under fx.cfg.pepper. */
FIXTURE_FN void client_add(const char *id, const char *secret,
                           const char *grants, const char *scope,
                           const char *redirect_uris, int flags)
{
    apiauth_oauth_client_t c;
    const char *bad = NULL;

    memset(&c, 0, sizeof(c));
    c.id = id;
    c.name = apr_pstrcat(unit_pool, "name-", id, NULL);
    c.app = APP_ID;
    c.secret_digest = secret ? apiauth_digest_hex(unit_pool, fx.cfg.pepper,
                                                  secret)
                             : NULL;
    c.redirect_uris = redirect_uris;
    c.grants = apiauth_grants_parse(unit_pool, grants, &bad);
    c.scope = scope;
    c.first_party = (flags & CLIENT_FIRST_PARTY) != 0;
    c.resource_server = (flags & CLIENT_RESOURCE_SERVER) != 0;
    c.display_name = NULL;   /* none given: the name is shown */
    c.created = 1700000000;
    assert_int_equal(apiauth_store_client_insert(unit_pool, fx.db, &c),
                     APIAUTH_OK);
}

FIXTURE_FN void client_delete(const char *id)
{
    /* the client alone, its grants left live (apiauth_store_client_delete
     * would revoke them): what the resource sees of a client that is gone */
    assert_int_equal(sql_run(apr_psprintf(unit_pool, "UPDATE apiauth_clients"
                                          " SET deleted = 1700000001 WHERE"
                                          " id = '%s'", id)), 0);
}

FIXTURE_FN apiauth_oauth_client_t client_get(const char *id)
{
    apiauth_oauth_client_t c;

    assert_int_equal(apiauth_oauth_client_find(unit_pool, fx.db, id, &c),
                     APIAUTH_OK);
    return c;
}

FIXTURE_FN apr_status_t json_release(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

/* `j`, released with the test's pool. */
FIXTURE_FN json_t *json_kept(json_t *j)
{
    if (j) {
        apr_pool_cleanup_register(unit_pool, j, json_release,
                                  apr_pool_cleanup_null);
    }
    return j;
}

/* A request's parameters: name, value, ..., NULL; a NULL value leaves
 * the parameter out. */
FIXTURE_FN apr_table_t *params_of(const char *name, ...)
{
    apr_table_t *t = apr_table_make(unit_pool, 8);
    va_list ap;

    va_start(ap, name);
    while (name) {
        const char *value = va_arg(ap, const char *);
        if (value) {
            apr_table_set(t, name, value);
        }
        name = va_arg(ap, const char *);
    }
    va_end(ap);
    return t;
}

/* A code of `client_id` for USER, as the authorization endpoint issues
 * it at `now`; NULL arguments are left out of the authorization request
 * (a challenge comes with method S256). */
FIXTURE_FN const char *code_for(const char *client_id,
                                const char *redirect_uri,
                                const char *challenge, const char *scope,
                                apr_int64_t now)
{
    apiauth_oauth_authz_t a;
    apiauth_error_t err = {NULL, NULL};
    const char *code = NULL;
    int redirectable;

    if (apiauth_oauth_authorize_check(
            unit_pool, &fx.cfg, fx.db,
            params_of("response_type", "code", "client_id", client_id,
                      "redirect_uri", redirect_uri, "scope", scope,
                      "code_challenge", challenge, "code_challenge_method",
                      challenge ? "S256" : NULL, NULL),
            &a, &redirectable, &err) != APIAUTH_OK) {
        fail_msg("authorize: %s (%s)", err.error, err.description);
    }
    assert_int_equal(apiauth_oauth_authorize_issue(unit_pool, &fx.cfg, fx.db,
                                                   &a, USER, NULL, now,
                                                   &code, &err), APIAUTH_OK);
    return code;
}

#endif
