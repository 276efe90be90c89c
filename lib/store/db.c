/*
 * db.c: statements of the catalogue run over apr_dbd (see db.h).  Only
 * lib/store/ runs them: everything else speaks the typed operations of
 * store.h.
 *
 * PostgreSQL needs two things apr_dbd_pgsql leaves to its caller:
 * - Prepared statements live in the server's session.  When mod_dbd finds
 *   a pooled connection the server has cut (a restart, a failover), the
 *   driver reconnects it in place (PQreset) and every statement mod_dbd
 *   prepared on it is gone: it would fail each request until httpd
 *   restarts.  So after a failure outside a transaction the session is
 *   checked, its statements prepared again if they are missing, and the
 *   statement run once more.
 * - apr_dbd_transaction_start dereferences a NULL transaction when BEGIN
 *   fails (on a connection the server dropped: a crashed child), so our
 *   PostgreSQL transactions are plain BEGIN, COMMIT and ROLLBACK.
 */
#include <errno.h>
#include <string.h>

#include <apr_strings.h>

#include "encoding.h"
#include "db.h"

static apr_dbd_prepared_t *statement(apiauth_db_t *db, apiauth_sql_id_t id)
{
    if (db == NULL || db->prepared == NULL || id >= APIAUTH_SQL_COUNT) {
        return NULL;
    }
    return apr_hash_get(db->prepared, apiauth_sql_catalogue[id].label,
                        APR_HASH_KEY_STRING);
}

static apiauth_status_t db_failed(apiauth_db_t *db, int rc, const char *what)
{
    const char *msg = NULL;

    if (db && db->driver && db->handle && rc != 0) {
        msg = apr_dbd_error(db->driver, db->handle, rc);
    }
    db->last_error = msg ? msg : what;
    return APIAUTH_ERROR;
}

static int is_pgsql(const apiauth_db_t *db)
{
    return strcmp(apr_dbd_name(db->driver), "pgsql") == 0;
}

/* 1 when the session had lost its prepared statements (see the top of the
 * file) and has them again: the statement that failed did not run in it
 * and may be tried once more.  A session holds all of them or none, so
 * the first one tells: a refused PREPARE means it is there (or the
 * connection is still down). */
static int session_repaired(apr_pool_t *p, apiauth_db_t *db)
{
    int i, repaired = 0;

    if (!is_pgsql(db) || db->in_transaction) {
        return 0;
    }
    /* the driver's message lives in the connection, which the repair
     * overwrites: keep the failure's */
    if (db->last_error) {
        db->last_error = apr_pstrdup(p, db->last_error);
    }
    if (apr_dbd_check_conn(db->driver, p, db->handle) != APR_SUCCESS) {
        return 0;
    }
    for (i = 0; i < APIAUTH_SQL_COUNT; i++) {
        const apiauth_sql_t *sql = &apiauth_sql_catalogue[i];
        apr_dbd_prepared_t *again = NULL;

        if (apr_hash_get(db->prepared, sql->label, APR_HASH_KEY_STRING)
            == NULL) {
            continue;
        }
        if (apr_dbd_prepare(db->driver, p, db->handle, sql->text, sql->label,
                            &again) != 0 && !repaired) {
            return 0;
        }
        repaired = 1;
    }
    return repaired;
}

static apiauth_status_t exec_statement(apr_pool_t *p, apiauth_db_t *db,
                                       apiauth_sql_id_t id, int nargs,
                                       const char **args, int *nrows)
{
    apr_dbd_prepared_t *st = statement(db, id);
    int rows = 0, rc;

    if (st == NULL) {
        return db_failed(db, 0, "statement not prepared");
    }
    rc = apr_dbd_pquery(db->driver, p, db->handle, &rows, st, nargs, args);
    if (rc != 0) {
        db_failed(db, rc, "query failed");
        if (!session_repaired(p, db)) {
            return APIAUTH_ERROR;
        }
        rc = apr_dbd_pquery(db->driver, p, db->handle, &rows, st, nargs,
                            args);
        if (rc != 0) {
            return db_failed(db, rc, "query failed");
        }
    }
    if (nrows) {
        *nrows = rows;
    }
    return APIAUTH_OK;
}

/* A write outside a transaction queues on the writer lock too (SQLite):
 * a statement is a transaction of its own. */
apiauth_status_t apiauth_db_exec(apr_pool_t *p, apiauth_db_t *db,
                                 apiauth_sql_id_t id, int nargs,
                                 const char **args, int *nrows)
{
    apiauth_status_t st;

    if (db->writer == NULL || db->writer_held
        || apr_global_mutex_lock(db->writer) != APR_SUCCESS) {
        return exec_statement(p, db, id, nargs, args, nrows);
    }
    st = exec_statement(p, db, id, nargs, args, nrows);
    apr_global_mutex_unlock(db->writer);
    return st;
}

apiauth_status_t apiauth_db_select(apr_pool_t *p, apiauth_db_t *db,
                                   apiauth_sql_id_t id, int nargs,
                                   const char **args,
                                   apr_array_header_t **rows)
{
    apr_dbd_prepared_t *st = statement(db, id);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rc, ncols, i;

    if (st == NULL) {
        return db_failed(db, 0, "statement not prepared");
    }
    /* random access (seek 1): apr_dbd_pgsql's sequential mode knows the
     * number of columns only after the first row, reads a statement that
     * failed as an empty result, and sleeps 100 ms on every empty result;
     * ours are a few rows, and sqlite3 reads them all either way */
    rc = apr_dbd_pselect(db->driver, p, db->handle, &res, st, 1, nargs, args);
    if (rc != 0) {
        db_failed(db, rc, "select failed");
        if (!session_repaired(p, db)) {
            return APIAUTH_ERROR;
        }
        res = NULL;
        rc = apr_dbd_pselect(db->driver, p, db->handle, &res, st, 1, nargs,
                             args);
        if (rc != 0) {
            return db_failed(db, rc, "select failed");
        }
    }
    ncols = apr_dbd_num_cols(db->driver, res);
    *rows = apr_array_make(p, 2, sizeof(apiauth_db_row_t));
    /* read to the end: drivers release the statement only then */
    while ((rc = apr_dbd_get_row(db->driver, p, res, &row, -1)) == 0) {
        apiauth_db_row_t *out = apr_array_push(*rows);
        out->ncols = ncols;
        out->cols = apr_pcalloc(p, sizeof(char *) * (ncols ? ncols : 1));
        for (i = 0; i < ncols; i++) {
            char *v = NULL;
            /* datum_get tells NULL from "" (get_entry does not, on pgsql);
             * the copy because apr_dbd_pgsql hands out pointers into its
             * result, which it frees once the last row has been read */
            if (apr_dbd_datum_get(db->driver, row, i, APR_DBD_TYPE_STRING,
                                  &v) == APR_SUCCESS) {
                out->cols[i] = apr_pstrdup(p, v);
            }
        }
    }
    if (rc != -1) {
        return db_failed(db, rc, "reading rows failed");
    }
    return APIAUTH_OK;
}

apiauth_status_t apiauth_db_select_one(apr_pool_t *p, apiauth_db_t *db,
                                       apiauth_sql_id_t id, int nargs,
                                       const char **args, const char ***cols)
{
    apr_array_header_t *rows;
    apiauth_status_t st = apiauth_db_select(p, db, id, nargs, args, &rows);

    if (st != APIAUTH_OK) {
        return st;
    }
    if (rows->nelts != 1) {
        return APIAUTH_NOT_MINE;
    }
    *cols = APR_ARRAY_IDX(rows, 0, apiauth_db_row_t).cols;
    return APIAUTH_OK;
}

apiauth_status_t apiauth_db_exec_one(apr_pool_t *p, apiauth_db_t *db,
                                     apiauth_sql_id_t id, int nargs,
                                     const char **args,
                                     apiauth_status_t none)
{
    int changed = 0;

    if (apiauth_db_exec(p, db, id, nargs, args, &changed) != APIAUTH_OK) {
        return APIAUTH_ERROR;
    }
    return changed == 1 ? APIAUTH_OK : none;
}

const char *apiauth_db_text(const char *col)
{
    return col && *col ? col : NULL;
}

/* Registered on the pool of apiauth_db_begin while the writer lock is
 * held, so that a request that never reaches apiauth_db_end lets it go. */
static apr_status_t writer_unlock(void *mutex)
{
    return apr_global_mutex_unlock(mutex);
}

static void writer_release(apiauth_db_t *db)
{
    if (db->writer_held) {
        db->writer_held = 0;
        apr_pool_cleanup_run(db->writer_pool, db->writer, writer_unlock);
    }
}

apiauth_status_t apiauth_db_begin(apr_pool_t *p, apiauth_db_t *db,
                                  apr_dbd_transaction_t **txn)
{
    int rc;

    /* the drivers reuse a transaction handed back in, rollback mode and
     * all: a variable used for a rolled back transaction would silently
     * roll back the next one too */
    *txn = NULL;
    if (is_pgsql(db)) {
        int nrows = 0;
        rc = apr_dbd_query(db->driver, db->handle, &nrows, "BEGIN");
        if (rc != 0) {
            return db_failed(db, rc, "cannot start a transaction");
        }
        db->in_transaction = 1;
        return APIAUTH_OK;
    }
    /* without the lock (it could not be taken) SQLite's own still keeps
     * writers apart, only more slowly */
    if (db->writer && apr_global_mutex_lock(db->writer) == APR_SUCCESS) {
        apr_pool_cleanup_register(p, db->writer, writer_unlock,
                                  apr_pool_cleanup_null);
        db->writer_pool = p;
        db->writer_held = 1;
    }
    rc = apr_dbd_transaction_start(db->driver, p, db->handle, txn);
    if (rc != 0) {
        writer_release(db);
        return db_failed(db, rc, "cannot start a transaction");
    }
    return APIAUTH_OK;
}

apiauth_status_t apiauth_db_end(apr_pool_t *p, apiauth_db_t *db,
                                apr_dbd_transaction_t *txn, int commit)
{
    int rc;

    if (is_pgsql(db)) {
        int nrows = 0;
        /* after an error PostgreSQL answers COMMIT with a rollback */
        rc = apr_dbd_query(db->driver, db->handle, &nrows,
                           commit ? "COMMIT" : "ROLLBACK");
        db->in_transaction = 0;
        if (rc != 0) {
            return db_failed(db, rc, "cannot end a transaction");
        }
        if (!commit) {
            /* the failure may have been a session that lost its
             * statements: the next request on it finds them again */
            session_repaired(p, db);
        }
        return APIAUTH_OK;
    }
    if (!commit) {
        apr_dbd_transaction_mode_set(db->driver, txn,
                                     APR_DBD_TRANSACTION_ROLLBACK);
    }
    rc = apr_dbd_transaction_end(db->driver, p, txn);
    writer_release(db);
    return rc == 0 ? APIAUTH_OK : db_failed(db, rc, "cannot end a transaction");
}

const char *apiauth_db_int(apr_pool_t *p, apr_int64_t v)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, v);
}

apr_int64_t apiauth_db_int_value(const char *s)
{
    char *end;
    apr_int64_t v;

    if (s == NULL || *s == '\0') {
        return 0;
    }
    errno = 0;
    v = apr_strtoi64(s, &end, 10);
    return errno == 0 && *end == '\0' ? v : 0;
}
