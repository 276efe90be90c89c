/*
 * credentials.c: credentials, users, apps and groups in the SQL store
 * (store.h), and the schema's version.
 *
 * The one place, with oauth_rows.c, that knows the catalogue's statement
 * ids and the order of their columns (sql/catalogue.c).
 */
#include <string.h>

#include <apr_strings.h>

#include "store.h"

/* The columns of CREDENTIAL_COLUMNS (sql/catalogue.c), and `created`
 * after them in the listings. */
enum {
    CRD_ID, CRD_KIND, CRD_APP, CRD_USER, CRD_SCOPE, CRD_INSTALL, CRD_EXPIRES,
    CRD_REVOKED, CRD_LAST_USED, CRD_DIGEST, CRD_CREATED
};

/* 0 when the row names no kind we know, or lacks what every credential
 * has. */
static int credential_read(const char **c, int has_created,
                           apiauth_credential_row_t *row)
{
    memset(row, 0, sizeof(*row));
    if (c[CRD_ID] == NULL || c[CRD_KIND] == NULL || c[CRD_APP] == NULL
        || c[CRD_DIGEST] == NULL) {
        return 0;
    }
    row->identity.credential_id = c[CRD_ID];
    row->identity.kind = apiauth_kind_from_name(c[CRD_KIND]);
    row->identity.app = c[CRD_APP];
    row->identity.user = apiauth_db_text(c[CRD_USER]);
    row->identity.scope = c[CRD_SCOPE] ? c[CRD_SCOPE] : "";
    row->identity.install_id = apiauth_db_text(c[CRD_INSTALL]);
    row->identity.expires = apiauth_db_int_value(c[CRD_EXPIRES]);
    row->revoked = apiauth_db_int_value(c[CRD_REVOKED]);
    row->last_used = apiauth_db_int_value(c[CRD_LAST_USED]);
    row->digest_hex = c[CRD_DIGEST];
    if (has_created) {
        row->created = apiauth_db_int_value(c[CRD_CREATED]);
    }
    return row->identity.kind != APIAUTH_KIND_NONE;
}

static apiauth_status_t credential_rows(apr_pool_t *p, apiauth_db_t *db,
                                        apiauth_sql_id_t id, int nargs,
                                        const char **args,
                                        apr_array_header_t **out)
{
    apr_array_header_t *rows;
    apiauth_status_t st = apiauth_db_select(p, db, id, nargs, args, &rows);
    int i;

    if (st != APIAUTH_OK) {
        return st;
    }
    *out = apr_array_make(p, rows->nelts, sizeof(apiauth_credential_row_t));
    for (i = 0; i < rows->nelts; i++) {
        apiauth_credential_row_t row;
        if (credential_read(APR_ARRAY_IDX(rows, i, apiauth_db_row_t).cols, 1,
                            &row)) {
            *(apiauth_credential_row_t *)apr_array_push(*out) = row;
        }
    }
    return APIAUTH_OK;
}

apiauth_status_t apiauth_store_credential_find(apr_pool_t *p,
                                               apiauth_db_t *db,
                                               const char *digest_hex,
                                               apiauth_credential_row_t *row)
{
    const char *args[1] = {digest_hex};
    const char **c;
    apiauth_status_t st;

    st = apiauth_db_select_one(p, db, APIAUTH_SQL_CREDENTIAL_BY_DIGEST, 1,
                               args, &c);
    if (st != APIAUTH_OK) {
        return st;
    }
    /* the database found it by equality; the comparison that decides is
     * ours, and takes the same time whatever the bytes */
    if (!credential_read(c, 0, row)
        || !apiauth_ct_streq(c[CRD_DIGEST], digest_hex)) {
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

apiauth_status_t apiauth_store_credential_insert(
    apr_pool_t *p, apiauth_db_t *db, const apiauth_credential_new_t *c)
{
    const char *args[9];

    args[0] = c->id;
    args[1] = c->digest_hex;
    args[2] = apiauth_kind_name(c->kind);
    args[3] = c->app;
    args[4] = c->user;
    args[5] = c->scope ? c->scope : "";
    args[6] = c->install_id;
    args[7] = apiauth_db_int(p, c->created);
    args[8] = c->expires ? apiauth_db_int(p, c->expires) : NULL;
    return apiauth_db_exec(p, db, APIAUTH_SQL_CREDENTIAL_INSERT, 9, args,
                           NULL);
}

apiauth_status_t apiauth_store_credential_revoke(apr_pool_t *p,
                                                 apiauth_db_t *db,
                                                 const char *id,
                                                 apr_int64_t now)
{
    const char *args[2] = {apiauth_db_int(p, now), id};

    return apiauth_db_exec_one(p, db, APIAUTH_SQL_CREDENTIAL_REVOKE, 2, args,
                               APIAUTH_NOT_MINE);
}

apiauth_status_t apiauth_store_credential_list(apr_pool_t *p,
                                               apiauth_db_t *db,
                                               const char *app,
                                               apr_array_header_t **rows)
{
    const char *args[1] = {app};

    return app ? credential_rows(p, db, APIAUTH_SQL_CREDENTIAL_LIST_APP, 1,
                                 args, rows)
               : credential_rows(p, db, APIAUTH_SQL_CREDENTIAL_LIST, 0, NULL,
                                 rows);
}

apiauth_status_t apiauth_store_session_list(apr_pool_t *p, apiauth_db_t *db,
                                            apr_int64_t now,
                                            apr_array_header_t **rows)
{
    const char *args[1] = {apiauth_db_int(p, now)};

    return credential_rows(p, db, APIAUTH_SQL_SESSION_LIST, 1, args, rows);
}

apiauth_status_t apiauth_store_credential_purge(apr_pool_t *p,
                                                apiauth_db_t *db,
                                                apr_int64_t now,
                                                apr_int64_t revoked_before,
                                                int *n)
{
    const char *args[2] = {apiauth_db_int(p, now),
                           apiauth_db_int(p, revoked_before)};

    *n = 0;
    return apiauth_db_exec(p, db, APIAUTH_SQL_PURGE_CREDENTIALS, 2, args, n);
}

/* ---- users ---------------------------------------------------------- */

apiauth_status_t apiauth_store_user_find(apr_pool_t *p, apiauth_db_t *db,
                                         const char *user, const char **app)
{
    const char *args[1] = {user};
    const char **c;
    apiauth_status_t st;

    /* id, app_id */
    st = apiauth_db_select_one(p, db, APIAUTH_SQL_USER_FIND, 1, args, &c);
    if (st == APIAUTH_OK) {
        *app = apiauth_db_text(c[1]);
    }
    return st;
}

apiauth_status_t apiauth_store_user_login(apr_pool_t *p, apiauth_db_t *db,
                                          const char *login,
                                          apiauth_user_t *user)
{
    const char *args[2] = {login, login};
    const char **c;
    apiauth_status_t st;

    /* id, app_id, password */
    st = apiauth_db_select_one(p, db, APIAUTH_SQL_USER_LOGIN, 2, args, &c);
    if (st != APIAUTH_OK) {
        return st;
    }
    memset(user, 0, sizeof(*user));
    user->id = c[0];
    user->app = apiauth_db_text(c[1]);
    user->password_hash = c[2];
    return user->id && user->password_hash ? APIAUTH_OK : APIAUTH_NOT_MINE;
}

apiauth_status_t apiauth_store_user_insert(apr_pool_t *p, apiauth_db_t *db,
                                           const apiauth_user_t *user)
{
    const char *args[5];

    args[0] = user->id;
    args[1] = user->email;
    args[2] = user->app;
    args[3] = user->password_hash;
    args[4] = apiauth_db_int(p, user->created);
    return apiauth_db_exec(p, db, APIAUTH_SQL_USER_INSERT, 5, args, NULL);
}

apiauth_status_t apiauth_store_user_passwd(apr_pool_t *p, apiauth_db_t *db,
                                           const char *id,
                                           const char *password_hash)
{
    const char *args[2] = {password_hash, id};

    return apiauth_db_exec_one(p, db, APIAUTH_SQL_USER_PASSWD, 2, args,
                               APIAUTH_NOT_MINE);
}

apiauth_status_t apiauth_store_user_delete(apr_pool_t *p, apiauth_db_t *db,
                                           const char *id, apr_int64_t now,
                                           int *credentials, int *grants)
{
    const char *args[2] = {apiauth_db_int(p, now), id};
    apr_dbd_transaction_t *txn = NULL;
    apiauth_status_t st;
    int users = 0;

    *credentials = *grants = 0;
    if (apiauth_db_begin(p, db, &txn) != APIAUTH_OK) {
        return APIAUTH_ERROR;
    }
    st = apiauth_db_exec(p, db, APIAUTH_SQL_USER_DELETE, 2, args, &users);
    if (st == APIAUTH_OK && users == 1) {
        st = apiauth_db_exec(p, db, APIAUTH_SQL_CREDENTIAL_REVOKE_USER, 2,
                             args, credentials);
    }
    if (st == APIAUTH_OK && users == 1) {
        st = apiauth_db_exec(p, db, APIAUTH_SQL_GRANT_REVOKE_USER, 2, args,
                             grants);
    }
    if (apiauth_db_end(p, db, txn, st == APIAUTH_OK) != APIAUTH_OK
        || st != APIAUTH_OK) {
        return APIAUTH_ERROR;
    }
    return users == 1 ? APIAUTH_OK : APIAUTH_NOT_MINE;
}

apiauth_status_t apiauth_store_user_list(apr_pool_t *p, apiauth_db_t *db,
                                         apr_array_header_t **users)
{
    apr_array_header_t *rows;
    int i;

    if (apiauth_db_select(p, db, APIAUTH_SQL_USER_LIST, 0, NULL, &rows)
        != APIAUTH_OK) {
        return APIAUTH_ERROR;
    }
    *users = apr_array_make(p, rows->nelts, sizeof(apiauth_user_t));
    for (i = 0; i < rows->nelts; i++) {
        /* id, email, app_id, created */
        const char **c = APR_ARRAY_IDX(rows, i, apiauth_db_row_t).cols;
        apiauth_user_t *u = apr_array_push(*users);
        memset(u, 0, sizeof(*u));
        u->id = c[0];
        u->email = apiauth_db_text(c[1]);
        u->app = apiauth_db_text(c[2]);
        u->created = apiauth_db_int_value(c[3]);
    }
    return APIAUTH_OK;
}

/* ---- apps and groups ------------------------------------------------ */

apiauth_status_t apiauth_store_app_find(apr_pool_t *p, apiauth_db_t *db,
                                        const char *ref, apiauth_app_t *app)
{
    const char *args[2] = {ref, ref};
    const char **c;
    apiauth_status_t st;

    /* id, name */
    st = apiauth_db_select_one(p, db, APIAUTH_SQL_APP_FIND, 2, args, &c);
    if (st != APIAUTH_OK) {
        return st;
    }
    memset(app, 0, sizeof(*app));
    app->id = c[0];
    app->name = c[1];
    return app->id ? APIAUTH_OK : APIAUTH_NOT_MINE;
}

apiauth_status_t apiauth_store_app_insert(apr_pool_t *p, apiauth_db_t *db,
                                          const apiauth_app_t *app)
{
    const char *args[3] = {app->id, app->name,
                           apiauth_db_int(p, app->created)};

    return apiauth_db_exec(p, db, APIAUTH_SQL_APP_INSERT, 3, args, NULL);
}

apiauth_status_t apiauth_store_app_list(apr_pool_t *p, apiauth_db_t *db,
                                        apr_array_header_t **apps)
{
    apr_array_header_t *rows;
    int i;

    if (apiauth_db_select(p, db, APIAUTH_SQL_APP_LIST, 0, NULL, &rows)
        != APIAUTH_OK) {
        return APIAUTH_ERROR;
    }
    *apps = apr_array_make(p, rows->nelts, sizeof(apiauth_app_t));
    for (i = 0; i < rows->nelts; i++) {
        /* id, name, created */
        const char **c = APR_ARRAY_IDX(rows, i, apiauth_db_row_t).cols;
        apiauth_app_t *a = apr_array_push(*apps);
        a->id = c[0];
        a->name = c[1];
        a->created = apiauth_db_int_value(c[2]);
    }
    return APIAUTH_OK;
}

apiauth_status_t apiauth_store_app_in_group(apr_pool_t *p, apiauth_db_t *db,
                                            const char *app,
                                            const char *group)
{
    const char *args[2] = {app, group};
    const char **c;

    return apiauth_db_select_one(p, db, APIAUTH_SQL_APP_IN_GROUP, 2, args,
                                 &c);
}

apiauth_status_t apiauth_store_app_install(apr_pool_t *p, apiauth_db_t *db,
                                           const char *app, const char *group,
                                           apr_int64_t now)
{
    const char *args[3] = {app, group, apiauth_db_int(p, now)};

    return apiauth_db_exec(p, db, APIAUTH_SQL_APP_GROUP_INSERT, 3, args,
                           NULL);
}

/* ---- the schema's version ------------------------------------------- */

apiauth_status_t apiauth_store_schema_version(apr_pool_t *p, apiauth_db_t *db,
                                              int *version)
{
    apr_array_header_t *rows;

    *version = 0;
    if (apiauth_db_select(p, db, APIAUTH_SQL_SCHEMA_VERSION, 0, NULL, &rows)
        != APIAUTH_OK) {
        return APIAUTH_ERROR;
    }
    if (rows->nelts == 1) {
        *version = (int)apiauth_db_int_value(
            APR_ARRAY_IDX(rows, 0, apiauth_db_row_t).cols[0]);
    }
    return APIAUTH_OK;
}

apiauth_status_t apiauth_store_schema_record(apr_pool_t *p, apiauth_db_t *db,
                                             int version, apr_int64_t now)
{
    const char *args[2] = {apiauth_db_int(p, version), apiauth_db_int(p, now)};

    return apiauth_db_exec(p, db, APIAUTH_SQL_SCHEMA_RECORD, 2, args, NULL);
}
