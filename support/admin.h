/*
 * admin.h: what the parts of apiauth-admin share.
 *
 * apiauth_admin.c  main: options, usage, which command runs
 * admin_store.c    the connection, init (migrations), purge
 * admin_keys.c     apps and keys
 * admin_clients.c  OAuth clients and grants
 * admin_users.c    users, sessions, the groups apps act in
 *
 * Scriptable first: secrets and ids alone on stdout, messages on stderr,
 * --json for structured output; exit 0 done, 1 refused, 2 bad usage.
 */
#ifndef APIAUTH_ADMIN_H
#define APIAUTH_ADMIN_H

#include <apr_pools.h>
#include <jansson.h>

#include "apiauth.h"
#include "digest.h"
#include "store.h"

enum { ADMIN_OK = 0, ADMIN_REFUSED = 1, ADMIN_USAGE = 2 };

typedef struct admin {
    apr_pool_t *pool;
    const char *driver_name;      /* -D, $APIAUTH_DBD_DRIVER */
    const char *params;           /* -P, $APIAUTH_DBD_PARAMS */
    const char *pepper_file;      /* --pepper, $APIAUTH_PEPPER_FILE */
    apiauth_pepper_t *pepper;
    apiauth_db_t db;
    int json;                     /* --json */
    apr_int64_t now;
} admin_t;

/* The words after the command, with options taken out. */
typedef struct admin_args {
    int argc;
    const char **argv;             /* positional words */
    apr_table_t *opts;             /* --name value (repeatable) and flags */
} admin_args_t;

/* Messages to stderr; always returns `code` so that callers can
 * `return admin_say(...)`. */
int admin_say(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* All values of a repeatable option, in order. */
apr_array_header_t *admin_opt_all(apr_pool_t *p, const admin_args_t *a,
                                  const char *name);

/* Prints a JSON value on stdout (and frees it, its strings wiped). */
void admin_print_json(json_t *value);
/* A listing: printed with --json (else it was printed as text); ADMIN_OK. */
int admin_print_list(admin_t *ad, json_t *list);

/* admin_store.c */
int admin_connect(admin_t *ad, int prepare);
int admin_cmd_init(admin_t *ad, const admin_args_t *a);
int admin_cmd_purge(admin_t *ad, const admin_args_t *a);
/* The app whose id or name is `ref`: 0 and *id, or 1 (message printed). */
int admin_find_app(admin_t *ad, const char *ref, const char **id);

/* admin_keys.c */
int admin_cmd_app(admin_t *ad, const admin_args_t *a);
int admin_cmd_key(admin_t *ad, const admin_args_t *a);
/* Parses 30s, 15m, 1h, 2d, 1w or RFC 3339; 0 on success. */
int admin_parse_expiry(const char *s, apr_int64_t now, apr_int64_t *when);

/* admin_clients.c */
int admin_cmd_client(admin_t *ad, const admin_args_t *a);
int admin_cmd_grant(admin_t *ad, const admin_args_t *a);

/* admin_users.c */
int admin_cmd_user(admin_t *ad, const admin_args_t *a);
int admin_cmd_session(admin_t *ad, const admin_args_t *a);
int admin_app_install(admin_t *ad, const char *app, const char *group);

#endif
