/*
 * store.h: the SQL store, over apr_dbd.
 *
 * The modules hand in the connection mod_dbd gave them (ap_dbd_acquire),
 * apiauth-admin the one it opened itself; both carry the statements of
 * sql/catalogue.c prepared under their labels.  Everything that reads or
 * writes the store goes through here, so every query is one of the
 * catalogue's and every failure comes back as APIAUTH_ERROR (fail closed).
 */
#ifndef APIAUTH_STORE_H
#define APIAUTH_STORE_H

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

/* A transaction around several statements (apiauth-admin, migrations). */
apiauth_status_t apiauth_db_begin(apr_pool_t *p, apiauth_db_t *db,
                                  apr_dbd_transaction_t **txn);
apiauth_status_t apiauth_db_end(apr_pool_t *p, apiauth_db_t *db,
                                apr_dbd_transaction_t *txn, int commit);

/* Integers in and out of the store's text form. */
const char *apiauth_db_int(apr_pool_t *p, apr_int64_t v);
apr_int64_t apiauth_db_int_value(const char *s);

/* Finds a credential by the hex digest of its secret and checks the digest
 * read back in constant time.  APIAUTH_NOT_MINE when there is none. */
apiauth_status_t apiauth_store_credential_find(apr_pool_t *p,
                                               apiauth_db_t *db,
                                               const char *digest_hex,
                                               apiauth_credential_row_t *row);

/* Records a use, at most once a minute per credential. */
apiauth_status_t apiauth_store_credential_touch(apr_pool_t *p,
                                                apiauth_db_t *db,
                                                const char *id,
                                                apr_int64_t now);

/* A user: APIAUTH_OK with *app (NULL: a user of no app), or
 * APIAUTH_NOT_MINE. */
apiauth_status_t apiauth_store_user_find(apr_pool_t *p, apiauth_db_t *db,
                                         const char *user, const char **app);

/* Is `app` installed in `group`?  APIAUTH_OK, APIAUTH_NOT_MINE. */
apiauth_status_t apiauth_store_app_in_group(apr_pool_t *p, apiauth_db_t *db,
                                            const char *app,
                                            const char *group);

/* A code or a refresh token as the store holds it (by the digest of its
 * secret).  A refresh token has no redirect URI or challenge. */
typedef struct apiauth_single_use {
    const char *grant_id, *client_id, *user_id, *scope;
    const char *redirect_uri;     /* codes: as sent, NULL when left out */
    const char *code_challenge;   /* codes: S256, NULL without PKCE */
    apr_int64_t expires;
    int used;
} apiauth_single_use_t;

typedef enum {
    APIAUTH_SINGLE_USE_CODE,
    APIAUTH_SINGLE_USE_REFRESH
} apiauth_single_use_kind_t;

/* Reads the code or refresh token with this digest, changing nothing:
 * APIAUTH_OK, APIAUTH_NOT_MINE (none), APIAUTH_ERROR. */
apiauth_status_t apiauth_store_single_use_find(apr_pool_t *p,
                                               apiauth_db_t *db,
                                               apiauth_single_use_kind_t kind,
                                               const char *digest_hex,
                                               apiauth_single_use_t *row);

/* Marks it used at `now` if nobody has: APIAUTH_OK when this call did,
 * APIAUTH_DENIED when it was used already (of two concurrent calls one
 * gets OK), APIAUTH_ERROR. */
apiauth_status_t apiauth_store_single_use_spend(apr_pool_t *p,
                                                apiauth_db_t *db,
                                                apiauth_single_use_kind_t kind,
                                                const char *digest_hex,
                                                apr_int64_t now);

/* Is the grant family live?  APIAUTH_OK; APIAUTH_DENIED when it was
 * revoked, or is gone (purged); APIAUTH_ERROR. */
apiauth_status_t apiauth_store_grant_live(apr_pool_t *p, apiauth_db_t *db,
                                          const char *grant_id);

#endif
