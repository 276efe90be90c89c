/*
 * store.h: what apiauth keeps, as typed operations.
 *
 * Every read and write of the SQL store is one of these: each runs a
 * statement of sql/catalogue.c and hands back records, never rows.  Only
 * lib/store/ knows statement ids and column order (credentials.c for
 * credentials, users, apps and groups; oauth_rows.c for clients, grants,
 * codes, refresh tokens, the deny-list and consent forms).
 *
 * Each answers APIAUTH_OK, APIAUTH_ERROR when the store failed (db->
 * last_error says how; fail closed), and where it says so APIAUTH_NOT_MINE
 * (nothing found) or APIAUTH_DENIED (a single-use record already used).
 * Secrets are never arguments: the store is given, and finds by, their
 * digests.  Times are Unix seconds.  Strings of records are pool memory.
 * There is no in-memory implementation: the unit tests run these over a
 * real SQLite file, which is what the store is.
 */
#ifndef APIAUTH_STORE_H
#define APIAUTH_STORE_H

#include <apr_tables.h>

#include "apiauth.h"
#include "db.h"

/* ---- credentials: keys, tokens, sessions, install tokens ------------- */

/* A credential to record: its digest, never its secret. */
typedef struct apiauth_credential_new {
    const char *id, *digest_hex;
    apiauth_kind_t kind;
    const char *app, *user, *scope, *install_id;
    apr_int64_t created, expires;          /* expires 0: never */
} apiauth_credential_new_t;

/* Finds a credential by the digest of its secret, and checks the digest
 * read back in constant time: APIAUTH_OK, APIAUTH_NOT_MINE. */
apiauth_status_t apiauth_store_credential_find(apr_pool_t *p,
                                               apiauth_db_t *db,
                                               const char *digest_hex,
                                               apiauth_credential_row_t *row);
/* Records a use, at most once a minute per credential. */
apiauth_status_t apiauth_store_credential_touch(apr_pool_t *p,
                                                apiauth_db_t *db,
                                                const char *id,
                                                apr_int64_t now);
apiauth_status_t apiauth_store_credential_insert(
    apr_pool_t *p, apiauth_db_t *db, const apiauth_credential_new_t *c);
/* APIAUTH_NOT_MINE when there is no live credential of that id. */
apiauth_status_t apiauth_store_credential_revoke(apr_pool_t *p,
                                                 apiauth_db_t *db,
                                                 const char *id,
                                                 apr_int64_t now);
/* Every credential (of `app`, or all with NULL), as
 * apiauth_credential_row_t, oldest first; or the live sessions at `now`. */
apiauth_status_t apiauth_store_credential_list(apr_pool_t *p,
                                               apiauth_db_t *db,
                                               const char *app,
                                               apr_array_header_t **rows);
apiauth_status_t apiauth_store_session_list(apr_pool_t *p, apiauth_db_t *db,
                                            apr_int64_t now,
                                            apr_array_header_t **rows);
/* Deletes credentials expired by `now` or revoked before `revoked_before`;
 * *n gets how many. */
apiauth_status_t apiauth_store_credential_purge(apr_pool_t *p,
                                                apiauth_db_t *db,
                                                apr_int64_t now,
                                                apr_int64_t revoked_before,
                                                int *n);

/* ---- users ---------------------------------------------------------- */

typedef struct apiauth_user {
    const char *id, *email, *app;          /* app NULL: a user of none */
    const char *password_hash;             /* bcrypt (login only) */
    apr_int64_t created;
} apiauth_user_t;

/* A user: *app is the app it belongs to (NULL for none). */
apiauth_status_t apiauth_store_user_find(apr_pool_t *p, apiauth_db_t *db,
                                         const char *user, const char **app);
/* The user whose id or email is `login`, with its password hash. */
apiauth_status_t apiauth_store_user_login(apr_pool_t *p, apiauth_db_t *db,
                                          const char *login,
                                          apiauth_user_t *user);
apiauth_status_t apiauth_store_user_insert(apr_pool_t *p, apiauth_db_t *db,
                                           const apiauth_user_t *user);
/* APIAUTH_NOT_MINE when there is no such user. */
apiauth_status_t apiauth_store_user_passwd(apr_pool_t *p, apiauth_db_t *db,
                                           const char *id,
                                           const char *password_hash);
/* The user, and with them every credential and grant of theirs, in one
 * transaction: *credentials and *grants get how many were revoked.
 * APIAUTH_NOT_MINE when there is no such user. */
apiauth_status_t apiauth_store_user_delete(apr_pool_t *p, apiauth_db_t *db,
                                           const char *id, apr_int64_t now,
                                           int *credentials, int *grants);
/* apiauth_user_t, oldest first (no password hash). */
apiauth_status_t apiauth_store_user_list(apr_pool_t *p, apiauth_db_t *db,
                                         apr_array_header_t **users);

/* ---- apps and the groups they are installed in ---------------------- */

typedef struct apiauth_app {
    const char *id, *name;
    apr_int64_t created;
} apiauth_app_t;

/* The app whose public id or name is `ref`. */
apiauth_status_t apiauth_store_app_find(apr_pool_t *p, apiauth_db_t *db,
                                        const char *ref, apiauth_app_t *app);
apiauth_status_t apiauth_store_app_insert(apr_pool_t *p, apiauth_db_t *db,
                                          const apiauth_app_t *app);
/* apiauth_app_t, oldest first. */
apiauth_status_t apiauth_store_app_list(apr_pool_t *p, apiauth_db_t *db,
                                        apr_array_header_t **apps);
/* Is `app` installed in `group`?  APIAUTH_OK, APIAUTH_NOT_MINE. */
apiauth_status_t apiauth_store_app_in_group(apr_pool_t *p, apiauth_db_t *db,
                                            const char *app,
                                            const char *group);
/* Installs it (again: no change). */
apiauth_status_t apiauth_store_app_install(apr_pool_t *p, apiauth_db_t *db,
                                           const char *app, const char *group,
                                           apr_int64_t now);

/* ---- OAuth clients -------------------------------------------------- */

/* A registered client (apiauth-admin client create). */
typedef struct apiauth_oauth_client {
    const char *id;                       /* cli_... */
    const char *name;
    const char *display_name;             /* for people (RFC 7591
                                           * client_name): the name when
                                           * none was given */
    const char *app;                      /* the app it belongs to */
    const char *secret_digest;            /* NULL: public client */
    const char *redirect_uris;            /* space separated */
    const char *scope;                    /* what it may ask for */
    unsigned grants;                      /* APIAUTH_GRANT_* */
    int first_party;
    int resource_server;
    int dpop_bound;                       /* must send DPoP proofs */
    const char *tls_subject;              /* RFC 8705 tls_client_auth: the
                                             subject DN of its certificate */
    const char *tls_x5t;                  /* self_signed_tls_client_auth:
                                             its certificate's thumbprint */
    const char *jwks;                     /* private_key_jwt (RFC 7523): its
                                             public keys, a JWK Set (JSON) */
    const char *jwks_uri;                 /* where a document says they
                                             are (read, not stored) */
    const char *resources;                /* RFC 8707 resources it may ask
                                             for, space separated; NULL:
                                             any of the server's */
    apr_int64_t created;
} apiauth_oauth_client_t;

/* Authenticates by its TLS certificate (RFC 8705 §2). */
#define apiauth_oauth_client_is_mtls(c) \
    ((c)->tls_subject != NULL || (c)->tls_x5t != NULL)
/* Authenticates with assertions signed by a key of its own. */
#define apiauth_oauth_client_is_jwt(c) ((c)->jwks != NULL)
/* No secret, certificate or key: only PKCE protects its codes. */
#define apiauth_oauth_client_is_public(c) \
    ((c)->secret_digest == NULL && !apiauth_oauth_client_is_mtls(c) \
     && !apiauth_oauth_client_is_jwt(c))

/* The live client with this id. */
apiauth_status_t apiauth_store_client_find(apr_pool_t *p, apiauth_db_t *db,
                                           const char *id,
                                           apiauth_oauth_client_t *client);
/* The id of the live client whose id or name is `ref`. */
apiauth_status_t apiauth_store_client_lookup(apr_pool_t *p, apiauth_db_t *db,
                                             const char *ref,
                                             const char **id);
/* Records it (display_name NULL: none given). */
apiauth_status_t apiauth_store_client_insert(
    apr_pool_t *p, apiauth_db_t *db, const apiauth_oauth_client_t *client);
/* Records it, or brings its row up to date (redirect URIs, grants, scope,
 * display name) -- unless it was deleted, which it stays. */
apiauth_status_t apiauth_store_client_upsert(
    apr_pool_t *p, apiauth_db_t *db, const apiauth_oauth_client_t *client);
/* apiauth_oauth_client_t, oldest first. */
apiauth_status_t apiauth_store_client_list(apr_pool_t *p, apiauth_db_t *db,
                                           apr_array_header_t **clients);
/* The client, and every grant of it, in one transaction.
 * APIAUTH_NOT_MINE when there is no such live client. */
apiauth_status_t apiauth_store_client_delete(apr_pool_t *p, apiauth_db_t *db,
                                             const char *id, apr_int64_t now);

/* ---- grants (families), codes, refresh tokens ------------------------ */

apiauth_status_t apiauth_store_grant_insert(apr_pool_t *p, apiauth_db_t *db,
                                            const char *id,
                                            const char *client_id,
                                            const char *user,
                                            const char *scope,
                                            const char *resource,
                                            apr_int64_t now,
                                            apr_int64_t expires);
/* Lengthens the family's life to `until` (never shortens it). */
apiauth_status_t apiauth_store_grant_extend(apr_pool_t *p, apiauth_db_t *db,
                                            const char *id,
                                            apr_int64_t until);
/* What a family is bound to: the DPoP key of its first tokens (jkt),
 * the resource it was granted for (RFC 8707); NULL members for none. */
typedef struct apiauth_grant_bound {
    const char *jkt;
    const char *resource;
} apiauth_grant_bound_t;

/* Is the family live?  APIAUTH_OK (and *bound, when asked);
 * APIAUTH_DENIED when it was revoked, or is gone (purged). */
apiauth_status_t apiauth_store_grant_live(apr_pool_t *p, apiauth_db_t *db,
                                          const char *id,
                                          apiauth_grant_bound_t *bound);
/* Binds the family to a DPoP key, if it is bound to none yet. */
apiauth_status_t apiauth_store_grant_bind(apr_pool_t *p, apiauth_db_t *db,
                                          const char *id, const char *jkt);
apiauth_status_t apiauth_store_grant_revoke(apr_pool_t *p, apiauth_db_t *db,
                                            const char *id, apr_int64_t now);
/* A user withdraws consent to a client: *n families revoked. */
apiauth_status_t apiauth_store_grant_revoke_user_client(
    apr_pool_t *p, apiauth_db_t *db, const char *user, const char *client_id,
    apr_int64_t now, int *n);

/* A code or a refresh token as the store holds it (by the digest of its
 * secret).  A refresh token has no redirect URI or challenge. */
typedef struct apiauth_single_use {
    const char *id;                       /* refresh tokens: rft_... */
    const char *grant_id, *client_id, *user_id, *scope;
    const char *redirect_uri;             /* codes: as sent, NULL when left
                                             out */
    const char *code_challenge;           /* codes: S256, NULL without PKCE */
    apr_int64_t created, expires;
    int used;
} apiauth_single_use_t;

typedef enum {
    APIAUTH_SINGLE_USE_CODE,
    APIAUTH_SINGLE_USE_REFRESH
} apiauth_single_use_kind_t;

/* Records a new one under `digest_hex` (a refresh token's id, created,
 * redirect URI and challenge as the kind has them). */
apiauth_status_t apiauth_store_single_use_insert(
    apr_pool_t *p, apiauth_db_t *db, apiauth_single_use_kind_t kind,
    const char *digest_hex, const apiauth_single_use_t *row);
/* Reads it, changing nothing: APIAUTH_OK, APIAUTH_NOT_MINE (none). */
apiauth_status_t apiauth_store_single_use_find(apr_pool_t *p,
                                               apiauth_db_t *db,
                                               apiauth_single_use_kind_t kind,
                                               const char *digest_hex,
                                               apiauth_single_use_t *row);
/* Marks it used at `now` if nobody has: APIAUTH_OK when this call did,
 * APIAUTH_DENIED when it was used already or is not there (of two
 * concurrent calls one gets OK; the other waits for its commit). */
apiauth_status_t apiauth_store_single_use_spend(apr_pool_t *p,
                                                apiauth_db_t *db,
                                                apiauth_single_use_kind_t kind,
                                                const char *digest_hex,
                                                apr_int64_t now);

/* ---- access tokens: the deny-list ----------------------------------- */

/* What the store says of an access token, in one round trip. */
typedef struct apiauth_access_status {
    int denied;              /* its jti is on the deny-list */
    int grant_revoked;       /* its family is revoked */
    const char *client_app;  /* its client's app; NULL: the client is gone */
} apiauth_access_status_t;

apiauth_status_t apiauth_store_access_status(apr_pool_t *p, apiauth_db_t *db,
                                             const char *jti,
                                             const char *grant_id,
                                             const char *client_id,
                                             apiauth_access_status_t *st);
/* Puts `jti` on the deny-list until `until`. */
apiauth_status_t apiauth_store_access_deny(apr_pool_t *p, apiauth_db_t *db,
                                           const char *jti,
                                           apr_int64_t until);

/* ---- consent forms -------------------------------------------------- */

/* Records a form answered (by the digest of its nonce) until `until`:
 * APIAUTH_OK the first time, APIAUTH_DENIED after. */
apiauth_status_t apiauth_store_consent_spend(apr_pool_t *p, apiauth_db_t *db,
                                             const char *digest_hex,
                                             apr_int64_t until);

/* Deletes what expired by `now`: codes, refresh tokens, grants, deny-list
 * entries, consent forms; *n gets how many rows. */
apiauth_status_t apiauth_store_oauth_purge(apr_pool_t *p, apiauth_db_t *db,
                                           apr_int64_t now, int *n);

/* ---- the schema's version (apiauth-admin init) ---------------------- */

/* 0 when the store records none. */
apiauth_status_t apiauth_store_schema_version(apr_pool_t *p, apiauth_db_t *db,
                                              int *version);
apiauth_status_t apiauth_store_schema_record(apr_pool_t *p, apiauth_db_t *db,
                                             int version, apr_int64_t now);

#endif
