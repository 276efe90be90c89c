/*
 * catalogue.h: every SQL statement apiauth runs, by name.
 *
 * Both modules prepare these through mod_dbd (ap_dbd_prepare) and
 * apiauth-admin through apr_dbd_prepare, under the same labels, so the
 * same SQL text is never written twice.  Placeholders are apr_dbd's:
 * %s text, %lld a 64-bit integer (PostgreSQL needs the type); values are
 * always passed as strings.  Request data only ever reaches SQL as a bound
 * value of one of these statements.
 */
#ifndef APIAUTH_SQL_CATALOGUE_H
#define APIAUTH_SQL_CATALOGUE_H

/* Who prepares a statement: a module prepares only what it runs. */
#define APIAUTH_SQL_FOR_AUTHN 0x1   /* mod_apiauth */
#define APIAUTH_SQL_FOR_OAUTH 0x2   /* mod_apiauth_oauth */
#define APIAUTH_SQL_FOR_ADMIN 0x4   /* apiauth-admin */

typedef enum {
    APIAUTH_SQL_CREDENTIAL_BY_DIGEST,
    APIAUTH_SQL_CREDENTIAL_TOUCH,
    APIAUTH_SQL_CREDENTIAL_INSERT,
    APIAUTH_SQL_CREDENTIAL_REVOKE,
    APIAUTH_SQL_CREDENTIAL_LIST,
    APIAUTH_SQL_CREDENTIAL_LIST_APP,
    APIAUTH_SQL_APP_INSERT,
    APIAUTH_SQL_APP_FIND,
    APIAUTH_SQL_PURGE_CREDENTIALS,
    APIAUTH_SQL_APP_LIST,
    APIAUTH_SQL_CLIENT_FIND,
    APIAUTH_SQL_CLIENT_FIND_ADMIN,
    APIAUTH_SQL_CLIENT_INSERT,
    APIAUTH_SQL_CLIENT_UPSERT,
    APIAUTH_SQL_CLIENT_LIST,
    APIAUTH_SQL_CLIENT_DELETE,
    APIAUTH_SQL_GRANT_INSERT,
    APIAUTH_SQL_GRANT_FIND,
    APIAUTH_SQL_GRANT_BIND,
    APIAUTH_SQL_GRANT_EXTEND,
    APIAUTH_SQL_GRANT_REVOKE,
    APIAUTH_SQL_GRANT_REVOKE_USER_CLIENT,
    APIAUTH_SQL_GRANT_REVOKE_CLIENT,
    APIAUTH_SQL_CODE_INSERT,
    APIAUTH_SQL_CODE_CONSUME,
    APIAUTH_SQL_CODE_FIND,
    APIAUTH_SQL_REFRESH_INSERT,
    APIAUTH_SQL_REFRESH_CONSUME,
    APIAUTH_SQL_REFRESH_FIND,
    APIAUTH_SQL_JTI_DENY,
    APIAUTH_SQL_ACCESS_TOKEN_STATUS,
    APIAUTH_SQL_PURGE_CODES,
    APIAUTH_SQL_PURGE_REFRESH,
    APIAUTH_SQL_PURGE_GRANTS,
    APIAUTH_SQL_PURGE_JTI,
    APIAUTH_SQL_PURGE_CONSENTS,
    APIAUTH_SQL_CONSENT_SPEND,
    APIAUTH_SQL_USER_LOGIN,
    APIAUTH_SQL_USER_FIND,
    APIAUTH_SQL_USER_INSERT,
    APIAUTH_SQL_USER_PASSWD,
    APIAUTH_SQL_USER_DELETE,
    APIAUTH_SQL_USER_LIST,
    APIAUTH_SQL_APP_IN_GROUP,
    APIAUTH_SQL_APP_GROUP_INSERT,
    APIAUTH_SQL_SESSION_LIST,
    APIAUTH_SQL_CREDENTIAL_REVOKE_USER,
    APIAUTH_SQL_GRANT_REVOKE_USER,
    APIAUTH_SQL_SCHEMA_VERSION,      /* apiauth-admin init: where we are */
    APIAUTH_SQL_SCHEMA_RECORD,       /* ... and what it applied */
    APIAUTH_SQL_COUNT
} apiauth_sql_id_t;

typedef struct apiauth_sql {
    const char *label;   /* the prepared statement's name */
    unsigned users;      /* APIAUTH_SQL_FOR_* */
    const char *text;    /* portable SQL (SQLite and PostgreSQL) */
} apiauth_sql_t;

extern const apiauth_sql_t apiauth_sql_catalogue[APIAUTH_SQL_COUNT];

/* The schema scripts, per driver, in version order (sql/<driver>/NNN_*.sql,
 * embedded at build time by sql/embed.sh). */
typedef struct apiauth_sql_migration {
    int version;
    const char *name;
    const char *text;
} apiauth_sql_migration_t;

/* The migrations for "sqlite3" or "pgsql"; NULL for another driver. */
const apiauth_sql_migration_t *apiauth_sql_migrations(const char *driver,
                                                      int *count);

#endif
