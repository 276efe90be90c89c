/*
 * provider_dbd.c: ApiAuthProvider dbd, the SQL store through mod_dbd.
 *
 * mod_dbd owns the connections (DBDriver, DBDParams, pooling); we add the
 * statements of sql/catalogue.c to every server before mod_dbd prepares
 * them, and borrow a connection per request with ap_dbd_acquire.  When
 * there is none (database down, schema missing) the answer is
 * APIAUTH_ERROR: the request fails closed with 503.
 */
#include <apr_dbd.h>
#include <apr_optional.h>
#include <http_core.h>
#include <http_log.h>
#include <mod_dbd.h>

#include "apiauth_private.h"
#include "store.h"

static APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *dbd_acquire;

void apiauth_dbd_retrieve_functions(void)
{
    dbd_acquire = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
}

/* Runs in post_config, before mod_dbd's. */
void apiauth_dbd_prepare_statements(server_rec *s)
{
    APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *prepare =
        APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
    server_rec *sp;
    int i;

    if (prepare == NULL) {
        return;   /* mod_dbd not loaded: the dbd provider will say so */
    }
    for (sp = s; sp; sp = sp->next) {
        for (i = 0; i < APIAUTH_SQL_COUNT; i++) {
            if (apiauth_sql_catalogue[i].users & APIAUTH_SQL_FOR_AUTHN) {
                prepare(sp, apiauth_sql_catalogue[i].text,
                        apiauth_sql_catalogue[i].label);
            }
        }
    }
}

/* The request's connection, or NULL (logged) when there is none. */
static int open_store(request_rec *r, apiauth_db_t *db)
{
    ap_dbd_t *dbd;

    if (dbd_acquire == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(10050)
                      "ApiAuthProvider dbd needs mod_dbd (LoadModule "
                      "dbd_module) and DBDriver/DBDParams");
        return -1;
    }
    dbd = dbd_acquire(r);
    if (dbd == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(10051)
                      "no database connection from mod_dbd (database down, "
                      "or schema missing: run apiauth-admin init)");
        return -1;
    }
    db->driver = dbd->driver;
    db->handle = dbd->handle;
    db->prepared = dbd->prepared;
    db->last_error = NULL;
    return 0;
}

static apiauth_status_t dbd_find_secret(request_rec *r, const char *digest_hex,
                                        apiauth_credential_row_t *row,
                                        apiauth_error_t *err)
{
    apiauth_db_t db;
    apr_int64_t now = apr_time_sec(r->request_time);
    apiauth_status_t st;

    if (open_store(r, &db) != 0) {
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "the credential store is unreachable");
    }
    st = apiauth_store_credential_find(r->pool, &db, digest_hex, row);
    if (st == APIAUTH_ERROR) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(10052)
                      "credential lookup failed: %s", db.last_error);
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "the credential store is unreachable");
    }
    if (st == APIAUTH_OK && !row->revoked
        && now - row->last_used >= 60
        && apiauth_store_credential_touch(r->pool, &db,
                                          row->identity.credential_id, now)
               != APIAUTH_OK) {
        /* bookkeeping only: the request goes on */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, AALOGNO(10053)
                      "cannot record the use of credential %s: %s",
                      row->identity.credential_id, db.last_error);
    }
    return st;
}

const apiauth_provider_t apiauth_provider_dbd = {
    dbd_find_secret,
    NULL,   /* verify_token: JWTs are for jwt and oauth */
    NULL,
    NULL,   /* find_user: with the users table */
    NULL,   /* app_in_group: with the groups table */
};
