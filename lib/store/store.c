/*
 * store.c: statements of the catalogue run over apr_dbd (see store.h).
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
#include "store.h"

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

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

apiauth_status_t apiauth_store_credential_find(apr_pool_t *p,
                                               apiauth_db_t *db,
                                               const char *digest_hex,
                                               apiauth_credential_row_t *row)
{
    apr_array_header_t *rows;
    const char **c;
    const char *args[1] = {digest_hex};
    apiauth_status_t st;

    st = apiauth_db_select(p, db, APIAUTH_SQL_CREDENTIAL_BY_DIGEST, 1, args,
                           &rows);
    if (st != APIAUTH_OK) {
        return st;
    }
    if (rows->nelts != 1) {
        return APIAUTH_NOT_MINE;
    }
    c = APR_ARRAY_IDX(rows, 0, apiauth_db_row_t).cols;
    /* the database found it by equality; the comparison that decides is
     * ours, and takes the same time whatever the bytes */
    if (c[0] == NULL || c[1] == NULL || c[2] == NULL || c[9] == NULL
        || !apiauth_ct_streq(c[9], digest_hex)) {
        return APIAUTH_NOT_MINE;
    }
    memset(row, 0, sizeof(*row));
    row->identity.credential_id = c[0];
    row->identity.kind = apiauth_kind_from_name(c[1]);
    row->identity.app = c[2];
    row->identity.user = nonempty(c[3]);
    row->identity.scope = c[4] ? c[4] : "";
    row->identity.install_id = nonempty(c[5]);
    row->identity.expires = apiauth_db_int_value(c[6]);
    row->revoked = apiauth_db_int_value(c[7]);
    row->last_used = apiauth_db_int_value(c[8]);
    row->digest_hex = c[9];
    if (row->identity.kind == APIAUTH_KIND_NONE) {
        return APIAUTH_NOT_MINE;
    }
    return APIAUTH_OK;
}

apiauth_status_t apiauth_store_credential_touch(apr_pool_t *p,
                                                apiauth_db_t *db,
                                                const char *id,
                                                apr_int64_t now)
{
    const char *args[3];

    args[0] = apiauth_db_int(p, now);
    args[1] = id;
    args[2] = apiauth_db_int(p, now - 60);
    return apiauth_db_exec(p, db, APIAUTH_SQL_CREDENTIAL_TOUCH, 3, args, NULL);
}

apiauth_status_t apiauth_store_user_find(apr_pool_t *p, apiauth_db_t *db,
                                         const char *user, const char **app)
{
    apr_array_header_t *rows;
    const char *args[1] = {user};
    apiauth_status_t st;

    st = apiauth_db_select(p, db, APIAUTH_SQL_USER_FIND, 1, args, &rows);
    if (st != APIAUTH_OK) {
        return st;
    }
    if (rows->nelts != 1) {
        return APIAUTH_NOT_MINE;
    }
    *app = nonempty(APR_ARRAY_IDX(rows, 0, apiauth_db_row_t).cols[1]);
    return APIAUTH_OK;
}

apiauth_status_t apiauth_store_app_in_group(apr_pool_t *p, apiauth_db_t *db,
                                            const char *app,
                                            const char *group)
{
    apr_array_header_t *rows;
    const char *args[2] = {app, group};
    apiauth_status_t st;

    st = apiauth_db_select(p, db, APIAUTH_SQL_APP_IN_GROUP, 2, args, &rows);
    if (st != APIAUTH_OK) {
        return st;
    }
    return rows->nelts == 1 ? APIAUTH_OK : APIAUTH_NOT_MINE;
}

apiauth_status_t apiauth_store_single_use_find(apr_pool_t *p,
                                               apiauth_db_t *db,
                                               apiauth_single_use_kind_t kind,
                                               const char *digest_hex,
                                               apiauth_single_use_t *row)
{
    apr_array_header_t *rows;
    const char *args[1] = {digest_hex};
    const char **c;
    int code = kind == APIAUTH_SINGLE_USE_CODE;

    if (apiauth_db_select(p, db, code ? APIAUTH_SQL_CODE_FIND
                                      : APIAUTH_SQL_REFRESH_FIND,
                          1, args, &rows) != APIAUTH_OK) {
        return APIAUTH_ERROR;
    }
    if (rows->nelts != 1) {
        return APIAUTH_NOT_MINE;
    }
    /* grant_id, client_id, user_id, scope, expires, used, then a code's
     * redirect_uri, code_challenge */
    c = APR_ARRAY_IDX(rows, 0, apiauth_db_row_t).cols;
    if (c[0] == NULL || c[1] == NULL) {
        return APIAUTH_NOT_MINE;
    }
    memset(row, 0, sizeof(*row));
    row->grant_id = c[0];
    row->client_id = c[1];
    row->user_id = c[2];
    row->scope = c[3] ? c[3] : "";
    row->expires = apiauth_db_int_value(c[4]);
    row->used = c[5] != NULL;
    if (code) {
        row->redirect_uri = c[6];
        row->code_challenge = c[7];
    }
    return APIAUTH_OK;
}

apiauth_status_t apiauth_store_single_use_spend(apr_pool_t *p,
                                                apiauth_db_t *db,
                                                apiauth_single_use_kind_t kind,
                                                const char *digest_hex,
                                                apr_int64_t now)
{
    const char *args[2] = {apiauth_db_int(p, now), digest_hex};
    int changed = 0;

    if (apiauth_db_exec(p, db, kind == APIAUTH_SINGLE_USE_CODE
                                   ? APIAUTH_SQL_CODE_CONSUME
                                   : APIAUTH_SQL_REFRESH_CONSUME,
                        2, args, &changed) != APIAUTH_OK) {
        return APIAUTH_ERROR;
    }
    return changed == 1 ? APIAUTH_OK : APIAUTH_DENIED;
}

apiauth_status_t apiauth_store_grant_live(apr_pool_t *p, apiauth_db_t *db,
                                          const char *grant_id)
{
    apr_array_header_t *rows;
    const char *args[1] = {grant_id};

    if (apiauth_db_select(p, db, APIAUTH_SQL_GRANT_FIND, 1, args, &rows)
        != APIAUTH_OK) {
        return APIAUTH_ERROR;
    }
    /* id, client_id, user_id, scope, expires, revoked */
    return rows->nelts == 1
                   && APR_ARRAY_IDX(rows, 0, apiauth_db_row_t).cols[5] == NULL
               ? APIAUTH_OK
               : APIAUTH_DENIED;
}
