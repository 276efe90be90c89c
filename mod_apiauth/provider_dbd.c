/*
 * provider_dbd.c: ApiAuthProvider dbd, the SQL store through mod_dbd.
 *
 * The connection is mod_dbd's, borrowed through glue/apiauth_dbd.c.  When
 * there is none (database down, schema missing) the answer is
 * APIAUTH_ERROR: the request fails closed with 503.
 */
#include <http_core.h>
#include <http_log.h>

#include "apiauth_dbd.h"
#include "apiauth_private.h"
#include "store.h"

/* Runs in post_config, before mod_dbd's. */
void apiauth_dbd_prepare_statements(server_rec *s)
{
    apiauth_dbd_prepare(s, APIAUTH_SQL_FOR_AUTHN, 0);
}

static apiauth_status_t dbd_find_secret(request_rec *r, const char *digest_hex,
                                        apiauth_credential_row_t *row,
                                        apiauth_error_t *err)
{
    apiauth_db_t db;
    apr_int64_t now = apr_time_sec(r->request_time);
    apiauth_status_t st;

    if (apiauth_dbd_open(r, &db) != 0) {
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

static apiauth_status_t dbd_find_user(request_rec *r, const char *user,
                                      const char **app)
{
    apiauth_db_t db;
    apiauth_status_t st;

    if (apiauth_dbd_open(r, &db) != 0) {
        return APIAUTH_ERROR;
    }
    st = apiauth_store_user_find(r->pool, &db, user, app);
    if (st == APIAUTH_ERROR) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(10054)
                      "user lookup failed: %s", db.last_error);
    }
    return st;
}

static apiauth_status_t dbd_app_in_group(request_rec *r, const char *app,
                                         const char *group)
{
    apiauth_db_t db;
    apiauth_status_t st;

    if (apiauth_dbd_open(r, &db) != 0) {
        return APIAUTH_ERROR;
    }
    st = apiauth_store_app_in_group(r->pool, &db, app, group);
    if (st == APIAUTH_ERROR) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(10055)
                      "group lookup failed: %s", db.last_error);
    }
    return st;
}

const apiauth_provider_t apiauth_provider_dbd = {
    dbd_find_secret,
    NULL,   /* verify_token: JWTs are for jwt and oauth */
    NULL,
    dbd_find_user,
    dbd_app_in_group,
};
