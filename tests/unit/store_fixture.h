/*
 * store_fixture.h: a real SQLite store for the unit tests that need one.
 *
 * Each STORE_TEST gets a new database file in its own directory, with the
 * schema applied from the embedded migrations and every catalogue
 * statement prepared under its label, the way apiauth-admin does it; the
 * test finds the apiauth_db_t in *state.  Teardown closes it and removes
 * the file, its journals and the directory, even after a failed setup.
 * Include after unit.h.
 */
#ifndef APIAUTH_STORE_FIXTURE_H
#define APIAUTH_STORE_FIXTURE_H

#include <stdlib.h>

#include <apr_dbd.h>
#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "store.h"

typedef struct {
    char *dir;
    char *path;
    apiauth_db_t db;
} store_fixture_t;

static store_fixture_t store_fx;

static const char *sqlite_script(const char *text)
{
    apr_size_t len = strlen(text);

    /* apr_dbd_sqlite3 fails on anything after the last statement, even a
     * newline */
    while (len > 0 && apr_isspace(text[len - 1])) {
        len--;
    }
    return apr_pstrmemdup(unit_pool, text, len);
}

static int prepare_statement(apiauth_db_t *db, apiauth_sql_id_t id,
                             const char **why)
{
    const apiauth_sql_t *sql = &apiauth_sql_catalogue[id];
    apr_dbd_prepared_t *st = NULL;
    int rc = apr_dbd_prepare(db->driver, unit_pool, db->handle, sql->text,
                             sql->label, &st);

    if (rc != 0) {
        *why = apr_pstrcat(unit_pool, sql->label, ": ",
                           apr_dbd_error(db->driver, db->handle, rc), NULL);
        return -1;
    }
    apr_hash_set(db->prepared, sql->label, APR_HASH_KEY_STRING, st);
    return 0;
}

static int store_teardown(void **state)
{
    const char *journal[] = {"", "-journal", "-wal", "-shm"};
    size_t i;

    if (store_fx.db.handle) {
        apr_dbd_close(store_fx.db.driver, store_fx.db.handle);
    }
    for (i = 0; store_fx.path && i < sizeof(journal) / sizeof(journal[0]);
         i++) {
        apr_file_remove(apr_pstrcat(unit_pool, store_fx.path, journal[i],
                                    NULL), unit_pool);
    }
    if (store_fx.dir) {
        apr_dir_remove(store_fx.dir, unit_pool);
    }
    memset(&store_fx, 0, sizeof(store_fx));
    return unit_teardown(state);
}

static int store_open(void)
{
    const char *base = getenv("TMPDIR"), *err = NULL;
    const apiauth_sql_migration_t *m;
    int count, i, nrows;

    store_fx.dir = apr_pstrcat(unit_pool, base && *base ? base : "/tmp",
                               "/apiauth-unit-store-XXXXXX", NULL);
    if (mkdtemp(store_fx.dir) == NULL) {
        store_fx.dir = NULL;
        return -1;
    }
    store_fx.path = apr_pstrcat(unit_pool, store_fx.dir, "/apiauth.db", NULL);
    apr_dbd_init(unit_pool);
    if (apr_dbd_get_driver(unit_pool, "sqlite3", &store_fx.db.driver)
            != APR_SUCCESS
        || apr_dbd_open_ex(store_fx.db.driver, unit_pool, store_fx.path,
                           &store_fx.db.handle, &err) != APR_SUCCESS) {
        print_error("cannot open %s: %s\n", store_fx.path,
                    err ? err : "no driver");
        store_fx.db.handle = NULL;
        return -1;
    }
    m = apiauth_sql_migrations("sqlite3", &count);
    for (i = 0; i < count; i++) {
        if (apr_dbd_query(store_fx.db.driver, store_fx.db.handle, &nrows,
                          sqlite_script(m[i].text)) != 0) {
            print_error("schema %s failed\n", m[i].name);
            return -1;
        }
    }
    store_fx.db.prepared = apr_hash_make(unit_pool);
    for (i = 0; i < APIAUTH_SQL_COUNT; i++) {
        if (prepare_statement(&store_fx.db, (apiauth_sql_id_t)i, &err) != 0) {
            print_error("%s\n", err);
            return -1;
        }
    }
    return 0;
}

static int store_setup(void **state)
{
    if (unit_setup(state) != 0) {
        return -1;
    }
    memset(&store_fx, 0, sizeof(store_fx));
    if (store_open() != 0) {
        /* cmocka skips the teardown of a failed setup: clean up here */
        store_teardown(state);
        return -1;
    }
    *state = &store_fx.db;
    return 0;
}

#define STORE_TEST(f) cmocka_unit_test_setup_teardown(f, store_setup, \
                                                       store_teardown)

#endif
