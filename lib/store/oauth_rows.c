/*
 * oauth_rows.c: what the OAuth 2.0 server keeps in the SQL store
 * (store.h): clients, grant families, codes, refresh tokens, the
 * deny-list of access tokens and answered consent forms.
 *
 * The one place, with credentials.c, that knows the catalogue's statement
 * ids and the order of their columns (sql/catalogue.c).
 */
#include <string.h>

#include <apr_strings.h>

#include "store.h"

/* ---- clients -------------------------------------------------------- */

/* The columns of CLIENT_COLUMNS (sql/catalogue.c), and `created` after
 * them in the listing. */
enum {
    CLI_ID, CLI_NAME, CLI_APP, CLI_SECRET, CLI_REDIRECTS, CLI_GRANTS,
    CLI_SCOPE, CLI_FIRST_PARTY, CLI_RESOURCE_SERVER, CLI_DISPLAY,
    CLI_DPOP_BOUND, CLI_TLS_SUBJECT, CLI_TLS_X5T, CLI_JWKS, CLI_RESOURCES,
    CLI_CREATED
};

static int client_read(apr_pool_t *p, const char **c, int has_created,
                       apiauth_oauth_client_t *client)
{
    const char *bad = NULL;

    memset(client, 0, sizeof(*client));
    client->id = c[CLI_ID];
    client->name = c[CLI_NAME];
    client->app = c[CLI_APP];
    client->secret_digest = apiauth_db_text(c[CLI_SECRET]);
    client->redirect_uris = c[CLI_REDIRECTS] ? c[CLI_REDIRECTS] : "";
    client->grants = apiauth_grants_parse(
        p, c[CLI_GRANTS] ? c[CLI_GRANTS] : "", &bad);
    client->scope = c[CLI_SCOPE] ? c[CLI_SCOPE] : "";
    client->first_party = apiauth_db_int_value(c[CLI_FIRST_PARTY]) != 0;
    client->resource_server =
        apiauth_db_int_value(c[CLI_RESOURCE_SERVER]) != 0;
    client->display_name = apiauth_db_text(c[CLI_DISPLAY])
                               ? c[CLI_DISPLAY]
                               : client->name;
    client->dpop_bound = apiauth_db_int_value(c[CLI_DPOP_BOUND]) != 0;
    client->tls_subject = apiauth_db_text(c[CLI_TLS_SUBJECT]);
    client->tls_x5t = apiauth_db_text(c[CLI_TLS_X5T]);
    client->jwks = apiauth_db_text(c[CLI_JWKS]);
    client->resources = apiauth_db_text(c[CLI_RESOURCES]);
    if (has_created) {
        client->created = apiauth_db_int_value(c[CLI_CREATED]);
    }
    return client->id && client->name && client->app;
}

apiauth_status_t apiauth_store_client_find(apr_pool_t *p, apiauth_db_t *db,
                                           const char *id,
                                           apiauth_oauth_client_t *client)
{
    const char *args[1] = {id};
    const char **c;
    apiauth_status_t st;

    st = apiauth_db_select_one(p, db, APIAUTH_SQL_CLIENT_FIND, 1, args, &c);
    if (st != APIAUTH_OK) {
        return st;
    }
    return client_read(p, c, 0, client) ? APIAUTH_OK : APIAUTH_NOT_MINE;
}

apiauth_status_t apiauth_store_client_lookup(apr_pool_t *p, apiauth_db_t *db,
                                             const char *ref,
                                             const char **id)
{
    const char *args[2] = {ref, ref};
    const char **c;
    apiauth_status_t st;

    st = apiauth_db_select_one(p, db, APIAUTH_SQL_CLIENT_FIND_ADMIN, 2, args,
                               &c);
    if (st == APIAUTH_OK) {
        *id = c[CLI_ID];
    }
    return st;
}

/* The columns of a client row, in the order of the insert statements. */
static void client_args(apr_pool_t *p, const apiauth_oauth_client_t *client,
                        const char *args[16])
{
    args[0] = client->id;
    args[1] = client->name;
    args[2] = client->app;
    args[3] = client->secret_digest;
    args[4] = client->redirect_uris ? client->redirect_uris : "";
    args[5] = apiauth_grants_text(p, client->grants);
    args[6] = client->scope ? client->scope : "";
    args[7] = client->first_party ? "1" : "0";
    args[8] = client->resource_server ? "1" : "0";
    args[9] = client->display_name;
    args[10] = apiauth_db_int(p, client->created);
    args[11] = client->dpop_bound ? "1" : "0";
    args[12] = client->tls_subject;
    args[13] = client->tls_x5t;
    args[14] = client->jwks;
    args[15] = client->resources;
}

apiauth_status_t apiauth_store_client_insert(
    apr_pool_t *p, apiauth_db_t *db, const apiauth_oauth_client_t *client)
{
    const char *args[16];

    client_args(p, client, args);
    return apiauth_db_exec(p, db, APIAUTH_SQL_CLIENT_INSERT, 16, args, NULL);
}

apiauth_status_t apiauth_store_client_upsert(
    apr_pool_t *p, apiauth_db_t *db, const apiauth_oauth_client_t *client)
{
    const char *args[16];

    client_args(p, client, args);
    return apiauth_db_exec(p, db, APIAUTH_SQL_CLIENT_UPSERT, 16, args, NULL);
}

apiauth_status_t apiauth_store_client_list(apr_pool_t *p, apiauth_db_t *db,
                                           apr_array_header_t **clients)
{
    apr_array_header_t *rows;
    int i;

    if (apiauth_db_select(p, db, APIAUTH_SQL_CLIENT_LIST, 0, NULL, &rows)
        != APIAUTH_OK) {
        return APIAUTH_ERROR;
    }
    *clients = apr_array_make(p, rows->nelts, sizeof(apiauth_oauth_client_t));
    for (i = 0; i < rows->nelts; i++) {
        apiauth_oauth_client_t client;
        if (client_read(p, APR_ARRAY_IDX(rows, i, apiauth_db_row_t).cols, 1,
                        &client)) {
            *(apiauth_oauth_client_t *)apr_array_push(*clients) = client;
        }
    }
    return APIAUTH_OK;
}

apiauth_status_t apiauth_store_client_delete(apr_pool_t *p, apiauth_db_t *db,
                                             const char *id, apr_int64_t now)
{
    const char *args[2] = {apiauth_db_int(p, now), id};
    apr_dbd_transaction_t *txn = NULL;
    apiauth_status_t st;
    int deleted = 0;

    if (apiauth_db_begin(p, db, &txn) != APIAUTH_OK) {
        return APIAUTH_ERROR;
    }
    st = apiauth_db_exec(p, db, APIAUTH_SQL_CLIENT_DELETE, 2, args, &deleted);
    if (st == APIAUTH_OK && deleted == 1) {
        st = apiauth_db_exec(p, db, APIAUTH_SQL_GRANT_REVOKE_CLIENT, 2, args,
                             NULL);
    }
    if (apiauth_db_end(p, db, txn, st == APIAUTH_OK) != APIAUTH_OK
        || st != APIAUTH_OK) {
        return APIAUTH_ERROR;
    }
    return deleted == 1 ? APIAUTH_OK : APIAUTH_NOT_MINE;
}

/* ---- grant families ------------------------------------------------- */

apiauth_status_t apiauth_store_grant_insert(apr_pool_t *p, apiauth_db_t *db,
                                            const char *id,
                                            const char *client_id,
                                            const char *user,
                                            const char *scope,
                                            const char *resource,
                                            apr_int64_t now,
                                            apr_int64_t expires)
{
    const char *args[7] = {id, client_id, user, scope, resource,
                           apiauth_db_int(p, now), apiauth_db_int(p, expires)};

    return apiauth_db_exec(p, db, APIAUTH_SQL_GRANT_INSERT, 7, args, NULL);
}

apiauth_status_t apiauth_store_grant_extend(apr_pool_t *p, apiauth_db_t *db,
                                            const char *id,
                                            apr_int64_t until)
{
    const char *when = apiauth_db_int(p, until);
    const char *args[3] = {when, id, when};

    return apiauth_db_exec(p, db, APIAUTH_SQL_GRANT_EXTEND, 3, args, NULL);
}

apiauth_status_t apiauth_store_grant_live(apr_pool_t *p, apiauth_db_t *db,
                                          const char *id,
                                          apiauth_grant_bound_t *bound)
{
    const char *args[1] = {id};
    const char **c;

    /* id, client_id, user_id, scope, expires, revoked, jkt, resource */
    switch (apiauth_db_select_one(p, db, APIAUTH_SQL_GRANT_FIND, 1, args,
                                  &c)) {
    case APIAUTH_OK:
        if (bound) {
            bound->jkt = apiauth_db_text(c[6]);
            bound->resource = apiauth_db_text(c[7]);
        }
        return c[5] == NULL ? APIAUTH_OK : APIAUTH_DENIED;
    case APIAUTH_NOT_MINE:
        return APIAUTH_DENIED;
    default:
        return APIAUTH_ERROR;
    }
}

apiauth_status_t apiauth_store_grant_bind(apr_pool_t *p, apiauth_db_t *db,
                                          const char *id, const char *jkt)
{
    const char *args[2] = {jkt, id};

    return apiauth_db_exec(p, db, APIAUTH_SQL_GRANT_BIND, 2, args, NULL);
}

apiauth_status_t apiauth_store_grant_revoke(apr_pool_t *p, apiauth_db_t *db,
                                            const char *id, apr_int64_t now)
{
    const char *args[2] = {apiauth_db_int(p, now), id};

    return apiauth_db_exec(p, db, APIAUTH_SQL_GRANT_REVOKE, 2, args, NULL);
}

apiauth_status_t apiauth_store_grant_revoke_user_client(
    apr_pool_t *p, apiauth_db_t *db, const char *user, const char *client_id,
    apr_int64_t now, int *n)
{
    const char *args[3] = {apiauth_db_int(p, now), user, client_id};

    *n = 0;
    return apiauth_db_exec(p, db, APIAUTH_SQL_GRANT_REVOKE_USER_CLIENT, 3,
                           args, n);
}

/* ---- codes and refresh tokens --------------------------------------- */

apiauth_status_t apiauth_store_single_use_insert(
    apr_pool_t *p, apiauth_db_t *db, apiauth_single_use_kind_t kind,
    const char *digest_hex, const apiauth_single_use_t *row)
{
    const char *args[8];

    if (kind == APIAUTH_SINGLE_USE_CODE) {
        args[0] = digest_hex;
        args[1] = row->grant_id;
        args[2] = row->client_id;
        args[3] = row->user_id;
        args[4] = row->redirect_uri;
        args[5] = row->code_challenge;
        args[6] = row->scope;
        args[7] = apiauth_db_int(p, row->expires);
        return apiauth_db_exec(p, db, APIAUTH_SQL_CODE_INSERT, 8, args, NULL);
    }
    args[0] = digest_hex;
    args[1] = row->id;
    args[2] = row->grant_id;
    args[3] = row->client_id;
    args[4] = row->user_id;
    args[5] = row->scope;
    args[6] = apiauth_db_int(p, row->created);
    args[7] = apiauth_db_int(p, row->expires);
    return apiauth_db_exec(p, db, APIAUTH_SQL_REFRESH_INSERT, 8, args, NULL);
}

apiauth_status_t apiauth_store_single_use_find(apr_pool_t *p,
                                               apiauth_db_t *db,
                                               apiauth_single_use_kind_t kind,
                                               const char *digest_hex,
                                               apiauth_single_use_t *row)
{
    const char *args[1] = {digest_hex};
    const char **c;
    int code = kind == APIAUTH_SINGLE_USE_CODE;
    apiauth_status_t st;

    st = apiauth_db_select_one(p, db, code ? APIAUTH_SQL_CODE_FIND
                                           : APIAUTH_SQL_REFRESH_FIND,
                               1, args, &c);
    if (st != APIAUTH_OK) {
        return st;
    }
    /* grant_id, client_id, user_id, scope, expires, used, then a code's
     * redirect_uri, code_challenge or a refresh token's id */
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
    else {
        row->id = c[6];
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

    return apiauth_db_exec_one(p, db, kind == APIAUTH_SINGLE_USE_CODE
                                          ? APIAUTH_SQL_CODE_CONSUME
                                          : APIAUTH_SQL_REFRESH_CONSUME,
                               2, args, APIAUTH_DENIED);
}

/* ---- access tokens -------------------------------------------------- */

apiauth_status_t apiauth_store_access_status(apr_pool_t *p, apiauth_db_t *db,
                                             const char *jti,
                                             const char *grant_id,
                                             const char *client_id,
                                             apiauth_access_status_t *st)
{
    const char *args[3] = {jti, grant_id, client_id};
    const char **c;

    /* denied (a count), grant revoked (a count), the client's app */
    if (apiauth_db_select_one(p, db, APIAUTH_SQL_ACCESS_TOKEN_STATUS, 3, args,
                              &c) != APIAUTH_OK) {
        return APIAUTH_ERROR;
    }
    st->denied = apiauth_db_int_value(c[0]) != 0;
    st->grant_revoked = apiauth_db_int_value(c[1]) != 0;
    st->client_app = c[2];
    return APIAUTH_OK;
}

apiauth_status_t apiauth_store_access_deny(apr_pool_t *p, apiauth_db_t *db,
                                           const char *jti, apr_int64_t until)
{
    const char *args[2] = {jti, apiauth_db_int(p, until)};

    return apiauth_db_exec(p, db, APIAUTH_SQL_JTI_DENY, 2, args, NULL);
}

/* ---- consent forms and the purge ------------------------------------ */

apiauth_status_t apiauth_store_consent_spend(apr_pool_t *p, apiauth_db_t *db,
                                             const char *digest_hex,
                                             apr_int64_t until)
{
    const char *args[2] = {digest_hex, apiauth_db_int(p, until)};

    return apiauth_db_exec_one(p, db, APIAUTH_SQL_CONSENT_SPEND, 2, args,
                               APIAUTH_DENIED);
}

apiauth_status_t apiauth_store_oauth_purge(apr_pool_t *p, apiauth_db_t *db,
                                           apr_int64_t now, int *n)
{
    static const apiauth_sql_id_t purges[] = {
        APIAUTH_SQL_PURGE_CODES, APIAUTH_SQL_PURGE_REFRESH,
        APIAUTH_SQL_PURGE_GRANTS, APIAUTH_SQL_PURGE_JTI,
        APIAUTH_SQL_PURGE_CONSENTS};
    const char *args[1] = {apiauth_db_int(p, now)};
    size_t i;
    int rows;

    *n = 0;
    for (i = 0; i < sizeof(purges) / sizeof(purges[0]); i++) {
        if (apiauth_db_exec(p, db, purges[i], 1, args, &rows) != APIAUTH_OK) {
            return APIAUTH_ERROR;
        }
        *n += rows;
    }
    return APIAUTH_OK;
}
