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
