/*
 * db.h: the SQL store's connection and its statements, over apr_dbd.
 *
 * The modules hand in the connection mod_dbd gave them (ap_dbd_acquire),
 * apiauth-admin the one it opened itself; both carry the statements of
 * sql/catalogue.c prepared under their labels.  Everything that reads or
 * writes the store goes through here, so every query is one of the
 * catalogue's and every failure comes back as APIAUTH_ERROR (fail closed).
 * The statements are run by lib/store/ alone, which knows their columns;
 * the rest of apiauth uses store.h's typed operations and never sees a
 * row.  Transactions (apiauth_db_begin/_end) and the conversions of
 * integers are everyone's.
 */
#ifndef APIAUTH_DB_H
#define APIAUTH_DB_H

#include <apr_dbd.h>
#include <apr_global_mutex.h>
#include <apr_hash.h>

#include "apiauth.h"
#include "catalogue.h"
#include "digest.h"

typedef struct apiauth_db {
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    apr_hash_t *prepared;   /* label -> apr_dbd_prepared_t *, as mod_dbd */
    const char *last_error; /* the driver's message after APIAUTH_ERROR */
    int in_transaction;     /* between apiauth_db_begin and _end (pgsql) */
    /* SQLite: held from apiauth_db_begin to _end when set, so that the
     * write transactions of one server queue behind each other for as long
     * as each lasts, instead of meeting SQLite's lock and apr_dbd_sqlite3's
     * 100 ms retries.  NULL: no such lock (PostgreSQL, apiauth-admin). */
    apr_global_mutex_t *writer;
    apr_pool_t *writer_pool;    /* while held: the pool of its cleanup */
    int writer_held;
} apiauth_db_t;

/* One row of a SELECT: cols[i] is NULL for SQL NULL. */
typedef struct apiauth_db_row {
    const char **cols;
    int ncols;
} apiauth_db_row_t;

/* Runs an INSERT/UPDATE/DELETE of the catalogue; *nrows (may be NULL)
 * gets the number of rows changed. */
apiauth_status_t apiauth_db_exec(apr_pool_t *p, apiauth_db_t *db,
                                 apiauth_sql_id_t id, int nargs,
                                 const char **args, int *nrows);

/* Runs a SELECT of the catalogue; *rows is an array of apiauth_db_row_t. */
apiauth_status_t apiauth_db_select(apr_pool_t *p, apiauth_db_t *db,
                                   apiauth_sql_id_t id, int nargs,
                                   const char **args,
                                   apr_array_header_t **rows);

/* A SELECT that finds one row or none: APIAUTH_OK with its columns in
 * *cols, APIAUTH_NOT_MINE for none (or, which a unique key rules out,
 * several). */
apiauth_status_t apiauth_db_select_one(apr_pool_t *p, apiauth_db_t *db,
                                       apiauth_sql_id_t id, int nargs,
                                       const char **args, const char ***cols);

/* An UPDATE/INSERT meant to change exactly one row: APIAUTH_OK when it
 * did, `none` when it changed nothing (no such row, or already done),
 * APIAUTH_ERROR when the store failed. */
apiauth_status_t apiauth_db_exec_one(apr_pool_t *p, apiauth_db_t *db,
                                     apiauth_sql_id_t id, int nargs,
                                     const char **args,
                                     apiauth_status_t none);

/* A column as a string where "" means none: NULL for SQL NULL and "". */
const char *apiauth_db_text(const char *col);

/* A transaction around several statements (apiauth-admin, migrations). */
apiauth_status_t apiauth_db_begin(apr_pool_t *p, apiauth_db_t *db,
                                  apr_dbd_transaction_t **txn);
apiauth_status_t apiauth_db_end(apr_pool_t *p, apiauth_db_t *db,
                                apr_dbd_transaction_t *txn, int commit);

/* Integers in and out of the store's text form. */
const char *apiauth_db_int(apr_pool_t *p, apr_int64_t v);
apr_int64_t apiauth_db_int_value(const char *s);

#endif
