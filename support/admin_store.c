/*
 * admin_store.c: apiauth-admin's connection, schema migrations and purge.
 *
 * init applies every sql/<driver>/NNN_*.sql newer than the version the
 * database records, each in its own transaction together with the record
 * of it, so an interrupted init leaves the schema at a known version and
 * running init again finishes the job.  Existing rows are never touched.
 */
#include <stdio.h>
#include <string.h>

#include <apr_dbd.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "admin.h"
#include "oauth.h"

/* Once per connection: PostgreSQL keeps a prepared statement for the
 * session and refuses to prepare its name again (init records every
 * migration with the same statement). */
static int prepare(admin_t *ad, apiauth_sql_id_t id)
{
    apr_dbd_prepared_t *st = NULL;
    const apiauth_sql_t *sql = &apiauth_sql_catalogue[id];
    int rc;

    if (apr_hash_get(ad->db.prepared, sql->label, APR_HASH_KEY_STRING)) {
        return 0;
    }
    rc = apr_dbd_prepare(ad->db.driver, ad->pool, ad->db.handle, sql->text,
                         sql->label, &st);
    if (rc != 0) {
        ad->db.last_error = apr_dbd_error(ad->db.driver, ad->db.handle, rc);
        return -1;
    }
    apr_hash_set(ad->db.prepared, sql->label, APR_HASH_KEY_STRING, st);
    return 0;
}

int admin_connect(admin_t *ad, int prepare_all)
{
    const char *err = NULL;
    apr_status_t rv;
    int i;

    if (ad->params == NULL || *ad->params == '\0') {
        return admin_say(ADMIN_USAGE, "no database: give -P PARAMS (as "
                         "DBDParams) or set APIAUTH_DBD_PARAMS");
    }
    apr_dbd_init(ad->pool);
    rv = apr_dbd_get_driver(ad->pool, ad->driver_name, &ad->db.driver);
    if (rv != APR_SUCCESS) {
        return admin_say(ADMIN_REFUSED, "no apr_dbd driver '%s' (install "
                         "libaprutil1-dbd-%s)", ad->driver_name,
                         strcmp(ad->driver_name, "pgsql") == 0 ? "pgsql"
                                                                : "sqlite3");
    }
    rv = apr_dbd_open_ex(ad->db.driver, ad->pool, ad->params, &ad->db.handle,
                         &err);
    if (rv != APR_SUCCESS) {
        return admin_say(ADMIN_REFUSED, "cannot open the %s database: %s",
                         ad->driver_name, err ? err : "unknown error");
    }
    if (strcmp(ad->driver_name, "sqlite3") == 0) {
        /* httpd's children write to the same file: wait for their locks
         * instead of failing with "database is locked" (apr_dbd's own
         * retries do not cover a prepare, and were seen to run out under
         * tests/integration/test_faults.py's writers).  SQLite's busy
         * handler is safe here, unlike in the threaded modules: this
         * process has one connection and one thread.  Set before the
         * statements are prepared, since preparing reads the schema. */
        apr_dbd_results_t *res = NULL;
        apr_dbd_row_t *row = NULL;
        if (apr_dbd_select(ad->db.driver, ad->pool, ad->db.handle, &res,
                           "PRAGMA busy_timeout = 5000", 0) == 0) {
            while (apr_dbd_get_row(ad->db.driver, ad->pool, res, &row, -1)
                   == 0) {
            }
        }
    }
    ad->db.prepared = apr_hash_make(ad->pool);
    for (i = 0; prepare_all && i < APIAUTH_SQL_COUNT; i++) {
        if ((apiauth_sql_catalogue[i].users & APIAUTH_SQL_FOR_ADMIN)
            && prepare(ad, (apiauth_sql_id_t)i) != 0) {
            return admin_say(ADMIN_REFUSED, "the database does not hold the "
                             "apiauth schema of this version (%s): run "
                             "apiauth-admin init", ad->db.last_error);
        }
    }
    return ADMIN_OK;
}

/* The schema version the database records; 0 when it has none. */
static int schema_version(admin_t *ad)
{
    apr_pool_t *sub;
    int version = 0;

    /* a fresh database has no table to prepare against: that is version 0,
     * and the failed attempt must not leave a transaction behind */
    apr_pool_create(&sub, ad->pool);
    if (prepare(ad, APIAUTH_SQL_SCHEMA_VERSION) != 0
        || apiauth_store_schema_version(sub, &ad->db, &version)
               != APIAUTH_OK) {
        version = 0;
    }
    apr_pool_destroy(sub);
    return version;
}

/* apr_dbd_sqlite3 runs a script statement by statement and fails on what
 * follows the last one, even a newline. */
static const char *without_trailing_space(apr_pool_t *p, const char *sql)
{
    apr_size_t len = strlen(sql);

    while (len > 0 && apr_isspace(sql[len - 1])) {
        len--;
    }
    return apr_pstrmemdup(p, sql, len);
}

static int apply(admin_t *ad, const apiauth_sql_migration_t *m)
{
    apr_dbd_transaction_t *txn = NULL;
    int nrows = 0, rc;

    if (apiauth_db_begin(ad->pool, &ad->db, &txn) != APIAUTH_OK) {
        return admin_say(ADMIN_REFUSED, "cannot start a transaction: %s",
                         ad->db.last_error);
    }
    rc = apr_dbd_query(ad->db.driver, ad->db.handle, &nrows,
                       without_trailing_space(ad->pool, m->text));
    /* SQLite compiles a statement against the schema it saw, so the record
     * is prepared again after each migration's DDL; PostgreSQL re-plans by
     * itself (and would refuse the name twice) */
    if (strcmp(ad->driver_name, "pgsql") != 0) {
        apr_hash_set(ad->db.prepared,
                     apiauth_sql_catalogue[APIAUTH_SQL_SCHEMA_RECORD].label,
                     APR_HASH_KEY_STRING, NULL);
    }
    if (rc == 0 && prepare(ad, APIAUTH_SQL_SCHEMA_RECORD) == 0) {
        if (apiauth_store_schema_record(ad->pool, &ad->db, m->version,
                                        ad->now) == APIAUTH_OK) {
            if (apiauth_db_end(ad->pool, &ad->db, txn, 1) != APIAUTH_OK) {
                return admin_say(ADMIN_REFUSED, "schema %s not committed: %s",
                                 m->name, ad->db.last_error);
            }
            return ADMIN_OK;
        }
    }
    else if (rc != 0) {
        ad->db.last_error = apr_dbd_error(ad->db.driver, ad->db.handle, rc);
    }
    apiauth_db_end(ad->pool, &ad->db, txn, 0);
    return admin_say(ADMIN_REFUSED, "schema %s failed: %s", m->name,
                     ad->db.last_error);
}

int admin_cmd_init(admin_t *ad, const admin_args_t *a)
{
    const apiauth_sql_migration_t *m;
    int count, i, from, rc, applied = 0;

    if (a->argc != 1) {
        return admin_say(ADMIN_USAGE, "usage: apiauth-admin init");
    }
    m = apiauth_sql_migrations(ad->driver_name, &count);
    if (m == NULL) {
        return admin_say(ADMIN_USAGE, "driver '%s' has no apiauth schema "
                         "(sqlite3 or pgsql)", ad->driver_name);
    }
    if ((rc = admin_connect(ad, 0)) != ADMIN_OK) {
        return rc;
    }
    if (strcmp(ad->driver_name, "sqlite3") == 0) {
        /* readers never wait for the writer; the mode sticks to the file */
        int nrows;
        apr_dbd_query(ad->db.driver, ad->db.handle, &nrows,
                      "PRAGMA journal_mode=WAL");
    }
    from = schema_version(ad);
    for (i = 0; i < count; i++) {
        if (m[i].version <= from) {
            continue;
        }
        if ((rc = apply(ad, &m[i])) != ADMIN_OK) {
            return rc;
        }
        applied++;
        admin_say(ADMIN_OK, "applied schema %s", m[i].name);
    }
    if (applied == 0) {
        admin_say(ADMIN_OK, "schema is up to date (version %d)", from);
    }
    return ADMIN_OK;
}

int admin_cmd_purge(admin_t *ad, const admin_args_t *a)
{
    int rc, nrows = 0, oauth_rows = 0;

    if (a->argc != 1) {
        return admin_say(ADMIN_USAGE, "usage: apiauth-admin purge");
    }
    if ((rc = admin_connect(ad, 1)) != ADMIN_OK) {
        return rc;
    }
    /* revoked rows are kept a day, so that logs can still be matched */
    if (apiauth_store_credential_purge(ad->pool, &ad->db, ad->now,
                                       ad->now - 86400, &nrows) != APIAUTH_OK
        || apiauth_store_oauth_purge(ad->pool, &ad->db, ad->now, &oauth_rows)
               != APIAUTH_OK) {
        return admin_say(ADMIN_REFUSED, "purge failed: %s", ad->db.last_error);
    }
    admin_say(ADMIN_OK, "purged %d expired or revoked credentials and %d "
              "expired OAuth rows", nrows, oauth_rows);
    return ADMIN_OK;
}

int admin_find_app(admin_t *ad, const char *ref, const char **id)
{
    apiauth_app_t app;

    switch (apiauth_store_app_find(ad->pool, &ad->db, ref, &app)) {
    case APIAUTH_OK:
        *id = app.id;
        return ADMIN_OK;
    case APIAUTH_NOT_MINE:
        return admin_say(ADMIN_REFUSED, "no app '%s' (apiauth-admin app "
                         "create NAME)", ref);
    default:
        return admin_say(ADMIN_REFUSED, "store error: %s", ad->db.last_error);
    }
}
