/*
 * catalogue.c: the statements (see catalogue.h).
 *
 * Keep them portable between SQLite >= 3.35 and PostgreSQL >= 12: plain
 * SELECT/INSERT/UPDATE/DELETE, ON CONFLICT, RETURNING.  Single-use rules
 * (codes, refresh tokens) are enforced by an UPDATE ... WHERE used IS NULL
 * whose row count is checked, never by a read followed by a write.
 */
#include "catalogue.h"

#define CREDENTIAL_COLUMNS \
    "id, kind, app_id, user_id, scope, install_id, expires, revoked, " \
    "last_used, digest"

#define CLIENT_COLUMNS \
    "id, name, app_id, secret_digest, redirect_uris, grant_types, scope, " \
    "first_party, resource_server, display_name, dpop_bound, tls_subject, " \
    "tls_x5t, jwks, resources"

/* a code's first six columns are the same (CODE_FIND) */
#define REFRESH_COLUMNS \
    "grant_id, client_id, user_id, scope, expires, used, id"

const apiauth_sql_t apiauth_sql_catalogue[APIAUTH_SQL_COUNT] = {
    [APIAUTH_SQL_CREDENTIAL_BY_DIGEST] = {
        "apiauth_credential_by_digest",
        APIAUTH_SQL_FOR_AUTHN | APIAUTH_SQL_FOR_OAUTH | APIAUTH_SQL_FOR_ADMIN,
        "SELECT " CREDENTIAL_COLUMNS " FROM apiauth_credentials"
        " WHERE digest = %s"},
    /* last use is written at most once a minute per credential */
    [APIAUTH_SQL_CREDENTIAL_TOUCH] = {
        "apiauth_credential_touch",
        APIAUTH_SQL_FOR_AUTHN,
        "UPDATE apiauth_credentials SET last_used = %lld"
        " WHERE id = %s AND (last_used IS NULL OR last_used <= %lld)"},
    [APIAUTH_SQL_CREDENTIAL_INSERT] = {
        "apiauth_credential_insert",
        APIAUTH_SQL_FOR_OAUTH | APIAUTH_SQL_FOR_ADMIN,
        "INSERT INTO apiauth_credentials"
        " (id, digest, kind, app_id, user_id, scope, install_id, created,"
        "  expires)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %lld, %lld)"},
    [APIAUTH_SQL_CREDENTIAL_REVOKE] = {
        "apiauth_credential_revoke",
        APIAUTH_SQL_FOR_OAUTH | APIAUTH_SQL_FOR_ADMIN,
        "UPDATE apiauth_credentials SET revoked = %lld"
        " WHERE id = %s AND revoked IS NULL"},
    [APIAUTH_SQL_CREDENTIAL_LIST] = {
        "apiauth_credential_list",
        APIAUTH_SQL_FOR_ADMIN,
        "SELECT " CREDENTIAL_COLUMNS ", created FROM apiauth_credentials"
        " ORDER BY created, id"},
    [APIAUTH_SQL_CREDENTIAL_LIST_APP] = {
        "apiauth_credential_list_app",
        APIAUTH_SQL_FOR_ADMIN,
        "SELECT " CREDENTIAL_COLUMNS ", created FROM apiauth_credentials"
        " WHERE app_id = %s ORDER BY created, id"},
    [APIAUTH_SQL_APP_INSERT] = {
        "apiauth_app_insert",
        APIAUTH_SQL_FOR_ADMIN,
        "INSERT INTO apiauth_apps (id, name, created) VALUES (%s, %s, %lld)"},
    [APIAUTH_SQL_APP_FIND] = {
        "apiauth_app_find",
        APIAUTH_SQL_FOR_AUTHN | APIAUTH_SQL_FOR_OAUTH | APIAUTH_SQL_FOR_ADMIN,
        "SELECT id, name FROM apiauth_apps WHERE id = %s OR name = %s"},
    [APIAUTH_SQL_PURGE_CREDENTIALS] = {
        "apiauth_purge_credentials",
        APIAUTH_SQL_FOR_ADMIN,
        "DELETE FROM apiauth_credentials"
        " WHERE (expires IS NOT NULL AND expires < %lld)"
        "    OR (revoked IS NOT NULL AND revoked < %lld)"},
    [APIAUTH_SQL_APP_LIST] = {
        "apiauth_app_list",
        APIAUTH_SQL_FOR_ADMIN,
        "SELECT id, name, created FROM apiauth_apps ORDER BY created, id"},

    /* --- OAuth 2.0 (schema 2) ------------------------------------------ */
    [APIAUTH_SQL_CLIENT_FIND] = {
        "apiauth_client_find",
        APIAUTH_SQL_FOR_OAUTH | APIAUTH_SQL_FOR_ADMIN,
        "SELECT " CLIENT_COLUMNS " FROM apiauth_clients"
        " WHERE id = %s AND deleted IS NULL"},
    [APIAUTH_SQL_CLIENT_FIND_ADMIN] = {
        "apiauth_client_find_admin",
        APIAUTH_SQL_FOR_ADMIN,
        "SELECT " CLIENT_COLUMNS " FROM apiauth_clients"
        " WHERE (id = %s OR name = %s) AND deleted IS NULL"},
    [APIAUTH_SQL_CLIENT_INSERT] = {
        "apiauth_client_insert",
        APIAUTH_SQL_FOR_ADMIN | APIAUTH_SQL_FOR_OAUTH,
        "INSERT INTO apiauth_clients (id, name, app_id, secret_digest,"
        " redirect_uris, grant_types, scope, first_party, resource_server,"
        " display_name, created, dpop_bound, tls_subject, tls_x5t, jwks,"
        " resources)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %lld, %lld, %s, %lld, %lld,"
        " %s, %s, %s, %s)"},
    /* a client known by its metadata document: what the document says
     * now, unless an operator deleted the client */
    [APIAUTH_SQL_CLIENT_UPSERT] = {
        "apiauth_client_upsert",
        APIAUTH_SQL_FOR_OAUTH,
        "INSERT INTO apiauth_clients (id, name, app_id, secret_digest,"
        " redirect_uris, grant_types, scope, first_party, resource_server,"
        " display_name, created, dpop_bound, tls_subject, tls_x5t, jwks,"
        " resources)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %lld, %lld, %s, %lld, %lld,"
        " %s, %s, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET redirect_uris = excluded.redirect_uris,"
        " grant_types = excluded.grant_types, scope = excluded.scope,"
        " display_name = excluded.display_name, jwks = excluded.jwks"
        " WHERE apiauth_clients.deleted IS NULL"},
    [APIAUTH_SQL_CLIENT_LIST] = {
        "apiauth_client_list",
        APIAUTH_SQL_FOR_ADMIN,
        "SELECT " CLIENT_COLUMNS ", created FROM apiauth_clients"
        " WHERE deleted IS NULL ORDER BY created, id"},
    [APIAUTH_SQL_CLIENT_DELETE] = {
        "apiauth_client_delete",
        APIAUTH_SQL_FOR_ADMIN,
        "UPDATE apiauth_clients SET deleted = %lld"
        " WHERE id = %s AND deleted IS NULL"},
    [APIAUTH_SQL_GRANT_INSERT] = {
        "apiauth_grant_insert",
        APIAUTH_SQL_FOR_OAUTH,
        "INSERT INTO apiauth_grants (id, client_id, user_id, scope, resource,"
        " created, expires) VALUES (%s, %s, %s, %s, %s, %lld, %lld)"},
    [APIAUTH_SQL_GRANT_FIND] = {
        "apiauth_grant_find",
        APIAUTH_SQL_FOR_OAUTH,
        "SELECT id, client_id, user_id, scope, expires, revoked, jkt,"
        " resource FROM apiauth_grants WHERE id = %s"},
    /* a family bound to the DPoP key of its first tokens (schema 5) */
    [APIAUTH_SQL_GRANT_BIND] = {
        "apiauth_grant_bind",
        APIAUTH_SQL_FOR_OAUTH,
        "UPDATE apiauth_grants SET jkt = %s WHERE id = %s AND jkt IS NULL"},
    /* a family lives as long as its newest refresh token */
    [APIAUTH_SQL_GRANT_EXTEND] = {
        "apiauth_grant_extend",
        APIAUTH_SQL_FOR_OAUTH,
        "UPDATE apiauth_grants SET expires = %lld"
        " WHERE id = %s AND expires < %lld"},
    [APIAUTH_SQL_GRANT_REVOKE] = {
        "apiauth_grant_revoke",
        APIAUTH_SQL_FOR_OAUTH | APIAUTH_SQL_FOR_ADMIN,
        "UPDATE apiauth_grants SET revoked = %lld"
        " WHERE id = %s AND revoked IS NULL"},
    [APIAUTH_SQL_GRANT_REVOKE_USER_CLIENT] = {
        "apiauth_grant_revoke_user_client",
        APIAUTH_SQL_FOR_OAUTH | APIAUTH_SQL_FOR_ADMIN,
        "UPDATE apiauth_grants SET revoked = %lld"
        " WHERE user_id = %s AND client_id = %s AND revoked IS NULL"},
    [APIAUTH_SQL_GRANT_REVOKE_CLIENT] = {
        "apiauth_grant_revoke_client",
        APIAUTH_SQL_FOR_ADMIN,
        "UPDATE apiauth_grants SET revoked = %lld"
        " WHERE client_id = %s AND revoked IS NULL"},
    [APIAUTH_SQL_CODE_INSERT] = {
        "apiauth_code_insert",
        APIAUTH_SQL_FOR_OAUTH,
        "INSERT INTO apiauth_codes (digest, grant_id, client_id, user_id,"
        " redirect_uri, code_challenge, scope, expires)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %lld)"},
    /* single use: of two concurrent redemptions exactly one changes the
     * row; the row is read first (CODE_FIND), and spent only once every
     * check has passed */
    [APIAUTH_SQL_CODE_CONSUME] = {
        "apiauth_code_consume",
        APIAUTH_SQL_FOR_OAUTH,
        "UPDATE apiauth_codes SET used = %lld"
        " WHERE digest = %s AND used IS NULL"},
    [APIAUTH_SQL_CODE_FIND] = {
        "apiauth_code_find",
        APIAUTH_SQL_FOR_OAUTH,
        "SELECT grant_id, client_id, user_id, scope, expires, used,"
        " redirect_uri, code_challenge FROM apiauth_codes WHERE digest = %s"},
    [APIAUTH_SQL_REFRESH_INSERT] = {
        "apiauth_refresh_insert",
        APIAUTH_SQL_FOR_OAUTH,
        "INSERT INTO apiauth_refresh_tokens (digest, id, grant_id,"
        " client_id, user_id, scope, created, expires)"
        " VALUES (%s, %s, %s, %s, %s, %s, %lld, %lld)"},
    [APIAUTH_SQL_REFRESH_CONSUME] = {
        "apiauth_refresh_consume",
        APIAUTH_SQL_FOR_OAUTH,
        "UPDATE apiauth_refresh_tokens SET used = %lld"
        " WHERE digest = %s AND used IS NULL"},
    [APIAUTH_SQL_REFRESH_FIND] = {
        "apiauth_refresh_find",
        APIAUTH_SQL_FOR_OAUTH,
        "SELECT " REFRESH_COLUMNS " FROM apiauth_refresh_tokens"
        " WHERE digest = %s"},
    [APIAUTH_SQL_JTI_DENY] = {
        "apiauth_jti_deny",
        APIAUTH_SQL_FOR_OAUTH,
        "INSERT INTO apiauth_denied_jti (jti, expires) VALUES (%s, %lld)"
        " ON CONFLICT (jti) DO NOTHING"},
    /* one round trip per uncached Bearer request: is the token denied, is
     * its grant revoked, and the app of its client if it still exists */
    [APIAUTH_SQL_ACCESS_TOKEN_STATUS] = {
        "apiauth_access_token_status",
        APIAUTH_SQL_FOR_OAUTH,
        "SELECT (SELECT COUNT(*) FROM apiauth_denied_jti WHERE jti = %s),"
        " (SELECT COUNT(*) FROM apiauth_grants"
        "   WHERE id = %s AND revoked IS NOT NULL),"
        " (SELECT app_id FROM apiauth_clients"
        "   WHERE id = %s AND deleted IS NULL)"},
    [APIAUTH_SQL_PURGE_CODES] = {
        "apiauth_purge_codes",
        APIAUTH_SQL_FOR_OAUTH | APIAUTH_SQL_FOR_ADMIN,
        "DELETE FROM apiauth_codes WHERE expires < %lld"},
    [APIAUTH_SQL_PURGE_REFRESH] = {
        "apiauth_purge_refresh",
        APIAUTH_SQL_FOR_OAUTH | APIAUTH_SQL_FOR_ADMIN,
        "DELETE FROM apiauth_refresh_tokens WHERE expires < %lld"},
    [APIAUTH_SQL_PURGE_GRANTS] = {
        "apiauth_purge_grants",
        APIAUTH_SQL_FOR_OAUTH | APIAUTH_SQL_FOR_ADMIN,
        "DELETE FROM apiauth_grants WHERE expires < %lld"},
    [APIAUTH_SQL_PURGE_CONSENTS] = {
        "apiauth_purge_consents",
        APIAUTH_SQL_FOR_OAUTH | APIAUTH_SQL_FOR_ADMIN,
        "DELETE FROM apiauth_consents WHERE expires < %lld"},
    /* one consent form, one answer: of two posts of the same form, one
     * inserts the row (schema 4) */
    [APIAUTH_SQL_CONSENT_SPEND] = {
        "apiauth_consent_spend",
        APIAUTH_SQL_FOR_OAUTH,
        "INSERT INTO apiauth_consents (digest, expires) VALUES (%s, %lld)"
        " ON CONFLICT (digest) DO NOTHING"},
    [APIAUTH_SQL_PURGE_JTI] = {
        "apiauth_purge_jti",
        APIAUTH_SQL_FOR_OAUTH | APIAUTH_SQL_FOR_ADMIN,
        "DELETE FROM apiauth_denied_jti WHERE expires < %lld"},

    /* --- users and groups (schema 3) ------------------------------------- */
    /* login by user id or by email */
    [APIAUTH_SQL_USER_LOGIN] = {
        "apiauth_user_login",
        APIAUTH_SQL_FOR_OAUTH,
        "SELECT id, app_id, password FROM apiauth_users"
        " WHERE (id = %s OR email = %s) AND deleted IS NULL"},
    [APIAUTH_SQL_USER_FIND] = {
        "apiauth_user_find",
        APIAUTH_SQL_FOR_AUTHN | APIAUTH_SQL_FOR_ADMIN,
        "SELECT id, app_id FROM apiauth_users"
        " WHERE id = %s AND deleted IS NULL"},
    [APIAUTH_SQL_USER_INSERT] = {
        "apiauth_user_insert",
        APIAUTH_SQL_FOR_ADMIN,
        "INSERT INTO apiauth_users (id, email, app_id, password, created)"
        " VALUES (%s, %s, %s, %s, %lld)"},
    [APIAUTH_SQL_USER_PASSWD] = {
        "apiauth_user_passwd",
        APIAUTH_SQL_FOR_ADMIN,
        "UPDATE apiauth_users SET password = %s"
        " WHERE id = %s AND deleted IS NULL"},
    [APIAUTH_SQL_USER_DELETE] = {
        "apiauth_user_delete",
        APIAUTH_SQL_FOR_ADMIN,
        "UPDATE apiauth_users SET deleted = %lld"
        " WHERE id = %s AND deleted IS NULL"},
    [APIAUTH_SQL_USER_LIST] = {
        "apiauth_user_list",
        APIAUTH_SQL_FOR_ADMIN,
        "SELECT id, email, app_id, created FROM apiauth_users"
        " WHERE deleted IS NULL ORDER BY created, id"},
    [APIAUTH_SQL_APP_IN_GROUP] = {
        "apiauth_app_in_group",
        APIAUTH_SQL_FOR_AUTHN,
        "SELECT app_id FROM apiauth_app_groups"
        " WHERE app_id = %s AND group_id = %s"},
    [APIAUTH_SQL_APP_GROUP_INSERT] = {
        "apiauth_app_group_insert",
        APIAUTH_SQL_FOR_ADMIN,
        "INSERT INTO apiauth_app_groups (app_id, group_id, created)"
        " VALUES (%s, %s, %lld) ON CONFLICT (app_id, group_id) DO NOTHING"},
    [APIAUTH_SQL_SESSION_LIST] = {
        "apiauth_session_list",
        APIAUTH_SQL_FOR_ADMIN,
        "SELECT " CREDENTIAL_COLUMNS ", created FROM apiauth_credentials"
        " WHERE kind = 'session' AND revoked IS NULL"
        " AND (expires IS NULL OR expires > %lld) ORDER BY created, id"},
    /* a deleted user's sessions and tokens end with them */
    [APIAUTH_SQL_CREDENTIAL_REVOKE_USER] = {
        "apiauth_credential_revoke_user",
        APIAUTH_SQL_FOR_ADMIN,
        "UPDATE apiauth_credentials SET revoked = %lld"
        " WHERE user_id = %s AND revoked IS NULL"},
    [APIAUTH_SQL_GRANT_REVOKE_USER] = {
        "apiauth_grant_revoke_user",
        APIAUTH_SQL_FOR_ADMIN,
        "UPDATE apiauth_grants SET revoked = %lld"
        " WHERE user_id = %s AND revoked IS NULL"},

    /* these two are prepared by apiauth-admin init only, around the
     * migrations (the table they use is created by the first one) */
    [APIAUTH_SQL_SCHEMA_VERSION] = {
        "apiauth_schema_version",
        0,
        "SELECT MAX(version) FROM apiauth_schema"},
    [APIAUTH_SQL_SCHEMA_RECORD] = {
        "apiauth_schema_record",
        0,
        "INSERT INTO apiauth_schema (version, applied) VALUES (%lld, %lld)"},
};
