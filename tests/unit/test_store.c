/*
 * test_store.c: the statement catalogue and the store over a real SQLite.
 *
 * Each store test gets a new database file in its own directory, with the
 * schema applied from the embedded migrations and every catalogue
 * statement prepared under its label, the way apiauth-admin does it
 * (store_fixture.h).  A statement that does not fit the schema fails here,
 * not in production.
 */
#include "unit.h"

#include "digest.h"
#include "store_fixture.h"

static void insert_app(apiauth_db_t *db, const char *id, const char *name)
{
    const char *args[] = {id, name, "1700000000"};

    assert_int_equal(apiauth_db_exec(unit_pool, db, APIAUTH_SQL_APP_INSERT, 3,
                                     args, NULL), APIAUTH_OK);
}

/* id, secret, kind, app, user, scope, install id, created, expires */
static void insert_credential(apiauth_db_t *db, const char *id,
                              const char *secret, const char *kind,
                              const char *user, const char *install_id,
                              const char *expires)
{
    const char *args[9];
    int nrows = 0;

    args[0] = id;
    args[1] = apiauth_digest_hex(unit_pool, NULL, secret);
    args[2] = kind;
    args[3] = "app_test";
    args[4] = user;
    args[5] = "read write";
    args[6] = install_id;
    args[7] = "1700000000";
    args[8] = expires;
    assert_int_equal(apiauth_db_exec(unit_pool, db,
                                     APIAUTH_SQL_CREDENTIAL_INSERT, 9, args,
                                     &nrows), APIAUTH_OK);
    assert_int_equal(nrows, 1);
}

static apiauth_db_t *seeded(void **state)
{
    apiauth_db_t *db = *state;

    insert_app(db, "app_test", "test");
    return db;
}

static apiauth_status_t find(apiauth_db_t *db, const char *secret,
                             apiauth_credential_row_t *row)
{
    return apiauth_store_credential_find(
        unit_pool, db, apiauth_digest_hex(unit_pool, NULL, secret), row);
}

/* --- the catalogue and the migrations, no database needed -------------- */

static void test_catalogue_entries_have_distinct_labels_and_text(void **state)
{
    int i, j;

    for (i = 0; i < APIAUTH_SQL_COUNT; i++) {
        const apiauth_sql_t *s = &apiauth_sql_catalogue[i];
        assert_non_null(s->label);
        assert_non_null(s->text);
        assert_true(strncmp(s->label, "apiauth_", 8) == 0);
        assert_true(strlen(s->text) > 10);
        for (j = 0; j < i; j++) {
            assert_string_not_equal(s->label, apiauth_sql_catalogue[j].label);
        }
    }
}

static void test_pgsql_migrations_match_the_sqlite_versions(void **state)
{
    const apiauth_sql_migration_t *lite, *pg;
    int nlite = -1, npg = -1, i;

    lite = apiauth_sql_migrations("sqlite3", &nlite);
    pg = apiauth_sql_migrations("pgsql", &npg);
    assert_non_null(lite);
    assert_non_null(pg);
    assert_true(nlite >= 1);
    assert_int_equal(npg, nlite);
    for (i = 0; i < nlite; i++) {
        /* 1, 2, 3 ...: init applies them in this order, none skipped */
        assert_int_equal(lite[i].version, i + 1);
        assert_int_equal(pg[i].version, lite[i].version);
        assert_string_equal(pg[i].name, lite[i].name);
        assert_true(strlen(lite[i].text) > 0);
        assert_true(strlen(pg[i].text) > 0);
    }
}

/* Every table and index one driver's migration creates, the other's
 * creates too. */
static void assert_same_objects(const char *a, const char *b)
{
    const char *kw[] = {"CREATE TABLE IF NOT EXISTS ", "CREATE TABLE ",
                        "CREATE INDEX ", "CREATE UNIQUE INDEX "};
    size_t k;

    for (k = 0; k < sizeof(kw) / sizeof(kw[0]); k++) {
        const char *p = a;
        while ((p = strstr(p, kw[k])) != NULL) {
            const char *name = p + strlen(kw[k]);
            apr_size_t n = strcspn(name, " (\n");
            char *stmt = apr_pstrcat(unit_pool, kw[k],
                                     apr_pstrmemdup(unit_pool, name, n), NULL);
            if (strncmp(name, "IF NOT EXISTS ", 14) != 0) {
                if (strstr(b, stmt) == NULL) {
                    fail_msg("missing in the other driver: %s", stmt);
                }
            }
            p = name;
        }
    }
}

static void test_pgsql_migrations_create_the_same_tables(void **state)
{
    const apiauth_sql_migration_t *lite, *pg;
    int nlite, npg, i;

    lite = apiauth_sql_migrations("sqlite3", &nlite);
    pg = apiauth_sql_migrations("pgsql", &npg);
    assert_int_equal(npg, nlite);
    for (i = 0; i < nlite; i++) {
        /* each changes the schema (schema 5 only adds columns) */
        assert_true(strstr(lite[i].text, "CREATE TABLE")
                    || strstr(lite[i].text, "ALTER TABLE"));
        assert_same_objects(lite[i].text, pg[i].text);
        assert_same_objects(pg[i].text, lite[i].text);
    }
}

static void test_unknown_driver_has_no_migrations(void **state)
{
    int n = 42;

    assert_null(apiauth_sql_migrations("mysql", &n));
    assert_int_equal(n, 0);
}

static void test_db_int_round_trips(void **state)
{
    const apr_int64_t values[] = {0, 1, -1, APR_INT64_C(1700000000),
                                  APR_INT64_MAX, APR_INT64_MIN};
    size_t i;

    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        assert_true(apiauth_db_int_value(apiauth_db_int(unit_pool, values[i]))
                    == values[i]);
    }
    assert_string_equal(apiauth_db_int(unit_pool, 42), "42");
}

static void test_db_int_value_reads_junk_as_zero(void **state)
{
    const char *junk[] = {"", "x", "12x", "1.5", "99999999999999999999"};
    size_t i;

    for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        assert_true(apiauth_db_int_value(junk[i]) == 0);
    }
    assert_true(apiauth_db_int_value(NULL) == 0);
}

/* --- against the schema -------------------------------------------------- */

static void test_every_catalogue_statement_prepares_against_the_schema(
    void **state)
{
    apiauth_db_t *db = *state;
    int i;

    /* setup prepared them already; do it again, one by one, to name the
     * statement that does not fit */
    db->prepared = apr_hash_make(unit_pool);
    for (i = 0; i < APIAUTH_SQL_COUNT; i++) {
        const char *why = NULL;
        if (prepare_statement(db, (apiauth_sql_id_t)i, &why) != 0) {
            fail_msg("%s", why);
        }
    }
    assert_int_equal(apr_hash_count(db->prepared), APIAUTH_SQL_COUNT);
}

static void test_a_statement_with_a_typo_does_not_prepare(void **state)
{
    apiauth_db_t *db = *state;
    apr_dbd_prepared_t *st = NULL;

    /* what the test above relies on: SQLite checks names at prepare */
    assert_int_not_equal(apr_dbd_prepare(db->driver, unit_pool, db->handle,
                                         "SELECT id, nmae FROM apiauth_apps"
                                         " WHERE id = %s", "typo", &st), 0);
}

static void test_select_keeps_null_apart_from_empty(void **state)
{
    apiauth_db_t *db = seeded(state);
    const char *args[] = {apiauth_digest_hex(unit_pool, NULL, "s1")};
    apr_array_header_t *rows = NULL;
    const char **c;

    /* user NULL, install id "", expires NULL */
    insert_credential(db, "crd_1", "s1", "api_key", NULL, "", NULL);
    assert_int_equal(apiauth_db_select(unit_pool, db,
                                       APIAUTH_SQL_CREDENTIAL_BY_DIGEST, 1,
                                       args, &rows), APIAUTH_OK);
    assert_int_equal(rows->nelts, 1);
    assert_int_equal(APR_ARRAY_IDX(rows, 0, apiauth_db_row_t).ncols, 10);
    c = APR_ARRAY_IDX(rows, 0, apiauth_db_row_t).cols;
    assert_string_equal(c[0], "crd_1");
    assert_string_equal(c[1], "api_key");
    assert_string_equal(c[2], "app_test");
    assert_null(c[3]);                        /* user_id NULL */
    assert_string_equal(c[4], "read write");
    assert_non_null(c[5]);                    /* install_id "" */
    assert_string_equal(c[5], "");
    assert_null(c[6]);                        /* expires NULL */
    assert_null(c[7]);                        /* revoked NULL */
    assert_null(c[8]);                        /* last_used NULL */
    assert_string_equal(c[9], args[0]);
}

static void test_select_of_nothing_is_no_rows(void **state)
{
    apiauth_db_t *db = seeded(state);
    const char *args[] = {"app_none", "none"};
    apr_array_header_t *rows = NULL;

    assert_int_equal(apiauth_db_select(unit_pool, db, APIAUTH_SQL_APP_FIND, 2,
                                       args, &rows), APIAUTH_OK);
    assert_non_null(rows);
    assert_int_equal(rows->nelts, 0);
}

static void test_select_returns_every_row(void **state)
{
    apiauth_db_t *db = seeded(state);
    apr_array_header_t *rows = NULL;

    insert_app(db, "app_b", "b");
    insert_app(db, "app_c", "c");
    assert_int_equal(apiauth_db_select(unit_pool, db, APIAUTH_SQL_APP_LIST, 0,
                                       NULL, &rows), APIAUTH_OK);
    assert_int_equal(rows->nelts, 3);
    assert_string_equal(APR_ARRAY_IDX(rows, 0, apiauth_db_row_t).cols[0],
                        "app_b");
    assert_string_equal(APR_ARRAY_IDX(rows, 2, apiauth_db_row_t).cols[1],
                        "test");
}

static void test_exec_reports_rows_changed(void **state)
{
    apiauth_db_t *db = seeded(state);
    const char *revoke[] = {"1700000500", "crd_1"};
    int nrows = -1;

    insert_credential(db, "crd_1", "s1", "api_key", NULL, NULL, NULL);
    assert_int_equal(apiauth_db_exec(unit_pool, db,
                                     APIAUTH_SQL_CREDENTIAL_REVOKE, 2, revoke,
                                     &nrows), APIAUTH_OK);
    assert_int_equal(nrows, 1);
    /* already revoked: nothing changes */
    assert_int_equal(apiauth_db_exec(unit_pool, db,
                                     APIAUTH_SQL_CREDENTIAL_REVOKE, 2, revoke,
                                     &nrows), APIAUTH_OK);
    assert_int_equal(nrows, 0);
}

static void test_failed_statement_is_an_error_with_the_driver_message(
    void **state)
{
    apiauth_db_t *db = seeded(state);
    const char *args[] = {"app_test", "test", "1"};

    db->last_error = NULL;
    assert_int_equal(apiauth_db_exec(unit_pool, db, APIAUTH_SQL_APP_INSERT, 3,
                                     args, NULL), APIAUTH_ERROR);
    assert_non_null(db->last_error);
    assert_true(strlen(db->last_error) > 0);
}

static void test_unprepared_statement_is_an_error(void **state)
{
    apiauth_db_t *db = *state;
    apr_array_header_t *rows;
    const char *args[] = {"x"};

    apr_hash_set(db->prepared,
                 apiauth_sql_catalogue[APIAUTH_SQL_APP_FIND].label,
                 APR_HASH_KEY_STRING, NULL);
    db->last_error = NULL;
    assert_int_equal(apiauth_db_select(unit_pool, db, APIAUTH_SQL_APP_FIND, 1,
                                       args, &rows), APIAUTH_ERROR);
    assert_non_null(db->last_error);
    db->last_error = NULL;
    assert_int_equal(apiauth_db_exec(unit_pool, db, APIAUTH_SQL_COUNT, 1,
                                     args, NULL), APIAUTH_ERROR);
    assert_non_null(db->last_error);
}

static void test_rollback_then_commit_keeps_only_the_commit(void **state)
{
    apiauth_db_t *db = seeded(state);
    apr_dbd_transaction_t *txn = NULL;
    apiauth_credential_row_t row;

    /* one variable for both transactions, as a caller retrying would */
    assert_int_equal(apiauth_db_begin(unit_pool, db, &txn), APIAUTH_OK);
    insert_credential(db, "crd_1", "s1", "api_key", NULL, NULL, NULL);
    assert_int_equal(apiauth_db_end(unit_pool, db, txn, 0), APIAUTH_OK);
    assert_int_equal(find(db, "s1", &row), APIAUTH_NOT_MINE);

    assert_int_equal(apiauth_db_begin(unit_pool, db, &txn), APIAUTH_OK);
    insert_credential(db, "crd_1", "s1", "api_key", NULL, NULL, NULL);
    assert_int_equal(apiauth_db_end(unit_pool, db, txn, 1), APIAUTH_OK);
    assert_int_equal(find(db, "s1", &row), APIAUTH_OK);
}

static void test_credential_is_found_by_the_digest_of_its_secret(void **state)
{
    apiauth_db_t *db = seeded(state);
    apiauth_credential_row_t row;

    insert_credential(db, "crd_1", "aak_secret", "install", "alice", "dev-1",
                      "1900000000");
    memset(&row, 0xa5, sizeof(row));
    assert_int_equal(find(db, "aak_secret", &row), APIAUTH_OK);
    assert_int_equal(row.identity.kind, APIAUTH_KIND_INSTALL);
    assert_string_equal(row.identity.credential_id, "crd_1");
    assert_string_equal(row.identity.app, "app_test");
    assert_string_equal(row.identity.user, "alice");
    assert_string_equal(row.identity.scope, "read write");
    assert_string_equal(row.identity.install_id, "dev-1");
    assert_null(row.identity.client_id);
    assert_null(row.identity.acting_app);
    assert_true(row.identity.expires == APR_INT64_C(1900000000));
    assert_true(row.revoked == 0);
    assert_true(row.last_used == 0);
    assert_string_equal(row.digest_hex,
                        apiauth_digest_hex(unit_pool, NULL, "aak_secret"));
}

static void test_credential_absent_fields_read_as_absent(void **state)
{
    apiauth_db_t *db = seeded(state);
    apiauth_credential_row_t row;

    insert_credential(db, "crd_1", "s1", "api_key", NULL, "", NULL);
    assert_int_equal(find(db, "s1", &row), APIAUTH_OK);
    assert_null(row.identity.user);
    assert_null(row.identity.install_id);
    assert_true(row.identity.expires == 0);
}

static void test_credential_of_another_secret_is_not_mine(void **state)
{
    apiauth_db_t *db = seeded(state);
    apiauth_credential_row_t row;

    insert_credential(db, "crd_1", "s1", "api_key", NULL, NULL, NULL);
    assert_int_equal(find(db, "s2", &row), APIAUTH_NOT_MINE);
    assert_int_equal(find(db, "", &row), APIAUTH_NOT_MINE);
    /* the digest is the only way in: the secret itself finds nothing */
    assert_int_equal(apiauth_store_credential_find(unit_pool, db, "s1", &row),
                     APIAUTH_NOT_MINE);
}

static void test_credential_of_unknown_kind_is_not_mine(void **state)
{
    apiauth_db_t *db = seeded(state);
    apiauth_credential_row_t row;

    insert_credential(db, "crd_1", "s1", "wizard", NULL, NULL, NULL);
    insert_credential(db, "crd_2", "s2", "none", NULL, NULL, NULL);
    assert_int_equal(find(db, "s1", &row), APIAUTH_NOT_MINE);
    assert_int_equal(find(db, "s2", &row), APIAUTH_NOT_MINE);
}

static void test_revoked_credential_is_found_with_its_revocation(void **state)
{
    apiauth_db_t *db = seeded(state);
    const char *revoke[] = {"1700000500", "crd_1"};
    apiauth_credential_row_t row;

    insert_credential(db, "crd_1", "s1", "token", "bob", NULL, NULL);
    assert_int_equal(apiauth_db_exec(unit_pool, db,
                                     APIAUTH_SQL_CREDENTIAL_REVOKE, 2, revoke,
                                     NULL), APIAUTH_OK);
    assert_int_equal(find(db, "s1", &row), APIAUTH_OK);
    assert_true(row.revoked == APR_INT64_C(1700000500));
    assert_int_equal(apiauth_credential_row_check(&row, 1700000600, NULL),
                     APIAUTH_DENIED);
}

static apr_int64_t last_used(apiauth_db_t *db, const char *secret)
{
    apiauth_credential_row_t row;

    assert_int_equal(find(db, secret, &row), APIAUTH_OK);
    return row.last_used;
}

static void test_touch_writes_last_use_at_most_once_a_minute(void **state)
{
    apiauth_db_t *db = seeded(state);

    insert_credential(db, "crd_1", "s1", "api_key", NULL, NULL, NULL);
    assert_true(last_used(db, "s1") == 0);

    assert_int_equal(apiauth_store_credential_touch(unit_pool, db, "crd_1",
                                                    1000), APIAUTH_OK);
    assert_true(last_used(db, "s1") == 1000);
    /* within the minute: not written */
    assert_int_equal(apiauth_store_credential_touch(unit_pool, db, "crd_1",
                                                    1030), APIAUTH_OK);
    assert_true(last_used(db, "s1") == 1000);
    assert_int_equal(apiauth_store_credential_touch(unit_pool, db, "crd_1",
                                                    1059), APIAUTH_OK);
    assert_true(last_used(db, "s1") == 1000);
    /* a minute on: written */
    assert_int_equal(apiauth_store_credential_touch(unit_pool, db, "crd_1",
                                                    1060), APIAUTH_OK);
    assert_true(last_used(db, "s1") == 1060);
}

static void test_touch_compares_times_as_numbers(void **state)
{
    apiauth_db_t *db = seeded(state);

    /* as text "999" > "10000": a string comparison would never write */
    insert_credential(db, "crd_1", "s1", "api_key", NULL, NULL, NULL);
    assert_int_equal(apiauth_store_credential_touch(unit_pool, db, "crd_1",
                                                    999), APIAUTH_OK);
    assert_int_equal(apiauth_store_credential_touch(unit_pool, db, "crd_1",
                                                    10000), APIAUTH_OK);
    assert_true(last_used(db, "s1") == 10000);
}

static void test_touch_writes_only_the_credential_named(void **state)
{
    apiauth_db_t *db = seeded(state);

    insert_credential(db, "crd_1", "s1", "api_key", NULL, NULL, NULL);
    insert_credential(db, "crd_2", "s2", "api_key", NULL, NULL, NULL);
    assert_int_equal(apiauth_store_credential_touch(unit_pool, db, "crd_2",
                                                    5000), APIAUTH_OK);
    assert_true(last_used(db, "s1") == 0);
    assert_true(last_used(db, "s2") == 5000);
    /* an unknown id is not an error: there is simply nothing to write */
    assert_int_equal(apiauth_store_credential_touch(unit_pool, db, "crd_x",
                                                    9000), APIAUTH_OK);
}

/* --- the typed operations of store.h -------------------------------- */

static void test_credential_revoke_says_when_there_was_none(void **state)
{
    apiauth_db_t *db = seeded(state);

    insert_credential(db, "crd_1", "s1", "api_key", NULL, NULL, NULL);
    assert_int_equal(apiauth_store_credential_revoke(unit_pool, db, "crd_1",
                                                     1700000500),
                     APIAUTH_OK);
    /* a second time, or an id that never was: nothing live to revoke */
    assert_int_equal(apiauth_store_credential_revoke(unit_pool, db, "crd_1",
                                                     1700000600),
                     APIAUTH_NOT_MINE);
    assert_int_equal(apiauth_store_credential_revoke(unit_pool, db, "crd_x",
                                                     1700000600),
                     APIAUTH_NOT_MINE);
}

static void test_credential_insert_and_list_round_trip(void **state)
{
    apiauth_db_t *db = seeded(state);
    apiauth_credential_new_t c;
    apr_array_header_t *rows = NULL;
    const apiauth_credential_row_t *row;

    memset(&c, 0, sizeof(c));
    c.id = "ses_1";
    c.digest_hex = apiauth_digest_hex(unit_pool, NULL, "aas_one");
    c.kind = APIAUTH_KIND_SESSION;
    c.app = "app_test";
    c.user = "alice";
    c.created = 1700000000;
    c.expires = 1700003600;
    assert_int_equal(apiauth_store_credential_insert(unit_pool, db, &c),
                     APIAUTH_OK);
    insert_credential(db, "crd_2", "s2", "api_key", NULL, NULL, NULL);
    assert_int_equal(apiauth_store_credential_list(unit_pool, db, "app_test",
                                                   &rows), APIAUTH_OK);
    assert_int_equal(rows->nelts, 2);
    assert_int_equal(apiauth_store_credential_list(unit_pool, db, "app_none",
                                                   &rows), APIAUTH_OK);
    assert_int_equal(rows->nelts, 0);
    /* live sessions only: this one before it expires, not after */
    assert_int_equal(apiauth_store_session_list(unit_pool, db, 1700000100,
                                                &rows), APIAUTH_OK);
    assert_int_equal(rows->nelts, 1);
    row = &APR_ARRAY_IDX(rows, 0, apiauth_credential_row_t);
    assert_string_equal(row->identity.credential_id, "ses_1");
    assert_string_equal(row->identity.user, "alice");
    assert_string_equal(row->identity.scope, "");
    assert_true(row->created == 1700000000);
    assert_true(row->identity.expires == 1700003600);
    assert_int_equal(apiauth_store_session_list(unit_pool, db, 1700003600,
                                                &rows), APIAUTH_OK);
    assert_int_equal(rows->nelts, 0);
}

static void test_user_delete_ends_their_credentials_and_grants(void **state)
{
    apiauth_db_t *db = seeded(state);
    apiauth_user_t u = {"alice", "alice@example.com", "app_test", "$2y$x",
                        1700000000};
    apiauth_user_t found;
    const char *app = "unset";
    int creds = -1, grants = -1;
    apiauth_oauth_client_t cli;

    memset(&cli, 0, sizeof(cli));
    cli.id = "cli_1";
    cli.name = "one";
    cli.app = "app_test";
    cli.grants = APIAUTH_GRANT_AUTHORIZATION_CODE;
    assert_int_equal(apiauth_store_client_insert(unit_pool, db, &cli),
                     APIAUTH_OK);
    assert_int_equal(apiauth_store_user_insert(unit_pool, db, &u), APIAUTH_OK);
    insert_credential(db, "crd_1", "s1", "token", "alice", NULL, NULL);
    insert_credential(db, "crd_2", "s2", "token", "bob", NULL, NULL);
    assert_int_equal(apiauth_store_grant_insert(unit_pool, db, "grt_1",
                                                "cli_1", "alice", "read",
                                                NULL, 1700000000, 1800000000),
                     APIAUTH_OK);
    assert_int_equal(apiauth_store_user_login(unit_pool, db,
                                              "alice@example.com", &found),
                     APIAUTH_OK);
    assert_string_equal(found.id, "alice");
    assert_string_equal(found.password_hash, "$2y$x");
    assert_int_equal(apiauth_store_user_find(unit_pool, db, "alice", &app),
                     APIAUTH_OK);
    assert_string_equal(app, "app_test");

    assert_int_equal(apiauth_store_user_delete(unit_pool, db, "alice",
                                               1700000500, &creds, &grants),
                     APIAUTH_OK);
    assert_int_equal(creds, 1);
    assert_int_equal(grants, 1);
    assert_int_equal(apiauth_store_grant_live(unit_pool, db, "grt_1", NULL),
                     APIAUTH_DENIED);
    assert_int_equal(apiauth_store_user_find(unit_pool, db, "alice", &app),
                     APIAUTH_NOT_MINE);
    assert_int_equal(apiauth_store_user_login(unit_pool, db, "alice", &found),
                     APIAUTH_NOT_MINE);
    /* bob's key is untouched; a user that is gone is not there to delete */
    assert_true(last_used(db, "s2") == 0);
    assert_int_equal(apiauth_store_user_delete(unit_pool, db, "alice",
                                               1700000600, &creds, &grants),
                     APIAUTH_NOT_MINE);
    assert_int_equal(creds, 0);
}

static void test_client_round_trips_through_the_store(void **state)
{
    apiauth_db_t *db = seeded(state);
    apiauth_oauth_client_t c, got;
    apr_array_header_t *list = NULL;
    const char *id = NULL;

    memset(&c, 0, sizeof(c));
    c.id = "cli_1";
    c.name = "one";
    c.app = "app_test";
    c.redirect_uris = "https://a.example/cb https://b.example/cb";
    c.grants = APIAUTH_GRANT_REFRESH_TOKEN | APIAUTH_GRANT_AUTHORIZATION_CODE;
    c.scope = "read write";
    c.first_party = 1;
    c.created = 1700000000;
    assert_int_equal(apiauth_store_client_insert(unit_pool, db, &c),
                     APIAUTH_OK);
    assert_int_equal(apiauth_store_client_find(unit_pool, db, "cli_1", &got),
                     APIAUTH_OK);
    assert_string_equal(got.name, "one");
    /* none given: people see the name */
    assert_string_equal(got.display_name, "one");
    assert_null(got.secret_digest);
    assert_true(got.grants == c.grants);
    assert_string_equal(got.redirect_uris, c.redirect_uris);
    assert_int_equal(got.first_party, 1);
    assert_int_equal(got.resource_server, 0);
    assert_int_equal(apiauth_store_client_lookup(unit_pool, db, "one", &id),
                     APIAUTH_OK);
    assert_string_equal(id, "cli_1");
    assert_int_equal(apiauth_store_client_list(unit_pool, db, &list),
                     APIAUTH_OK);
    assert_int_equal(list->nelts, 1);
    assert_true(APR_ARRAY_IDX(list, 0, apiauth_oauth_client_t).created
                == 1700000000);

    assert_int_equal(apiauth_store_grant_insert(unit_pool, db, "grt_1",
                                                "cli_1", "alice", "read",
                                                "https://api.example/mcp",
                                                1700000000, 1800000000),
                     APIAUTH_OK);
    {
        apiauth_grant_bound_t bound;
        assert_int_equal(apiauth_store_grant_live(unit_pool, db, "grt_1",
                                                  &bound), APIAUTH_OK);
        assert_string_equal(bound.resource, "https://api.example/mcp");
        assert_null(bound.jkt);
    }
    assert_int_equal(apiauth_store_client_delete(unit_pool, db, "cli_1",
                                                 1700000500), APIAUTH_OK);
    assert_int_equal(apiauth_store_grant_live(unit_pool, db, "grt_1", NULL),
                     APIAUTH_DENIED);
    assert_int_equal(apiauth_store_client_find(unit_pool, db, "cli_1", &got),
                     APIAUTH_NOT_MINE);
    assert_int_equal(apiauth_store_client_lookup(unit_pool, db, "one", &id),
                     APIAUTH_NOT_MINE);
    assert_int_equal(apiauth_store_client_delete(unit_pool, db, "cli_1",
                                                 1700000600),
                     APIAUTH_NOT_MINE);
}

static void test_apps_are_found_by_id_or_name_and_listed_in_order(
    void **state)
{
    apiauth_db_t *db = seeded(state);
    apiauth_app_t b = {"app_b", "b", 1600000000}, found;
    apr_array_header_t *apps = NULL;

    assert_int_equal(apiauth_store_app_insert(unit_pool, db, &b), APIAUTH_OK);
    /* a name taken is refused */
    assert_int_equal(apiauth_store_app_insert(unit_pool, db, &b),
                     APIAUTH_ERROR);
    assert_int_equal(apiauth_store_app_find(unit_pool, db, "b", &found),
                     APIAUTH_OK);
    assert_string_equal(found.id, "app_b");
    assert_int_equal(apiauth_store_app_find(unit_pool, db, "app_test",
                                            &found), APIAUTH_OK);
    assert_string_equal(found.name, "test");
    assert_int_equal(apiauth_store_app_find(unit_pool, db, "nope", &found),
                     APIAUTH_NOT_MINE);
    assert_int_equal(apiauth_store_app_list(unit_pool, db, &apps),
                     APIAUTH_OK);
    assert_int_equal(apps->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(apps, 0, apiauth_app_t).id, "app_b");
    assert_int_equal(apiauth_store_app_in_group(unit_pool, db, "app_b", "g1"),
                     APIAUTH_NOT_MINE);
    assert_int_equal(apiauth_store_app_install(unit_pool, db, "app_b", "g1",
                                               1700000000), APIAUTH_OK);
    /* again: no change, no error */
    assert_int_equal(apiauth_store_app_install(unit_pool, db, "app_b", "g1",
                                               1700000001), APIAUTH_OK);
    assert_int_equal(apiauth_store_app_in_group(unit_pool, db, "app_b", "g1"),
                     APIAUTH_OK);
    assert_int_equal(apiauth_store_app_in_group(unit_pool, db, "app_test",
                                                "g1"), APIAUTH_NOT_MINE);
}

static void test_schema_version_is_the_newest_recorded(void **state)
{
    apiauth_db_t *db = *state;
    int version = -1;

    /* the fixture applies the scripts without recording them */
    assert_int_equal(apiauth_store_schema_version(unit_pool, db, &version),
                     APIAUTH_OK);
    assert_int_equal(version, 0);
    assert_int_equal(apiauth_store_schema_record(unit_pool, db, 2, 100),
                     APIAUTH_OK);
    assert_int_equal(apiauth_store_schema_record(unit_pool, db, 1, 100),
                     APIAUTH_OK);
    assert_int_equal(apiauth_store_schema_version(unit_pool, db, &version),
                     APIAUTH_OK);
    assert_int_equal(version, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_catalogue_entries_have_distinct_labels_and_text),
        UNIT_TEST(test_pgsql_migrations_match_the_sqlite_versions),
        UNIT_TEST(test_pgsql_migrations_create_the_same_tables),
        UNIT_TEST(test_unknown_driver_has_no_migrations),
        UNIT_TEST(test_db_int_round_trips),
        UNIT_TEST(test_db_int_value_reads_junk_as_zero),
        STORE_TEST(test_every_catalogue_statement_prepares_against_the_schema),
        STORE_TEST(test_a_statement_with_a_typo_does_not_prepare),
        STORE_TEST(test_select_keeps_null_apart_from_empty),
        STORE_TEST(test_select_of_nothing_is_no_rows),
        STORE_TEST(test_select_returns_every_row),
        STORE_TEST(test_exec_reports_rows_changed),
        STORE_TEST(test_failed_statement_is_an_error_with_the_driver_message),
        STORE_TEST(test_unprepared_statement_is_an_error),
        STORE_TEST(test_rollback_then_commit_keeps_only_the_commit),
        STORE_TEST(test_credential_is_found_by_the_digest_of_its_secret),
        STORE_TEST(test_credential_absent_fields_read_as_absent),
        STORE_TEST(test_credential_of_another_secret_is_not_mine),
        STORE_TEST(test_credential_of_unknown_kind_is_not_mine),
        STORE_TEST(test_revoked_credential_is_found_with_its_revocation),
        STORE_TEST(test_touch_writes_last_use_at_most_once_a_minute),
        STORE_TEST(test_touch_compares_times_as_numbers),
        STORE_TEST(test_touch_writes_only_the_credential_named),
        STORE_TEST(test_credential_revoke_says_when_there_was_none),
        STORE_TEST(test_credential_insert_and_list_round_trip),
        STORE_TEST(test_user_delete_ends_their_credentials_and_grants),
        STORE_TEST(test_client_round_trips_through_the_store),
        STORE_TEST(test_apps_are_found_by_id_or_name_and_listed_in_order),
        STORE_TEST(test_schema_version_is_the_newest_recorded),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("store", tests, NULL, NULL);
    apr_terminate();
    return rc;
}
