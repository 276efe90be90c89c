/*
 * admin_users.c: users, sessions and the groups apps act in
 * (apiauth-admin user ..., session ..., app install).
 *
 * A user's password is read from stdin (never from the command line, where
 * ps and shell history would keep it) and stored as a bcrypt hash.  User
 * ids may not look like app or client ids: r->user never leaves doubt
 * about what a subject is.
 */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>
#include <openssl/crypto.h>

#include "admin.h"
#include "login.h"

/* The password from stdin: its first line, without the line end. */
static int read_password(admin_t *ad, const char **password)
{
    char buf[1025];
    size_t n;

    if (fgets(buf, sizeof(buf), stdin) == NULL) {
        return admin_say(ADMIN_USAGE, "give the password on stdin, e.g. "
                         "printf '%%s\\n' \"$PW\" | apiauth-admin user ...");
    }
    n = strcspn(buf, "\r\n");
    buf[n] = '\0';
    if (n < 8) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return admin_say(ADMIN_USAGE, "a password has at least 8 characters");
    }
    *password = apiauth_password_hash(ad->pool, buf);
    OPENSSL_cleanse(buf, sizeof(buf));
    return *password ? ADMIN_OK
                     : admin_say(ADMIN_REFUSED, "cannot hash the password");
}

static int user_create(admin_t *ad, const admin_args_t *a)
{
    const char *name = a->argv[2], *email = apr_table_get(a->opts, "email");
    const char *app_ref = apr_table_get(a->opts, "app");
    const char *app = NULL, *hash = NULL;
    apiauth_user_t user;
    int rc;

    /* no '@': logins match ids and emails alike, so an id may never be
     * someone's email */
    if (!apiauth_name_is_valid(name) || strncmp(name, "app_", 4) == 0
        || strncmp(name, "cli_", 4) == 0 || strchr(name, '@')) {
        return admin_say(ADMIN_USAGE, "a user id is printable, without space, "
                         "@ or separators, and does not start with app_ or "
                         "cli_");
    }
    if (email && (!apiauth_name_is_valid(email) || !strchr(email, '@'))) {
        return admin_say(ADMIN_USAGE, "--email takes an address");
    }
    if ((rc = read_password(ad, &hash)) != ADMIN_OK
        || (rc = admin_connect(ad, 1)) != ADMIN_OK
        || (app_ref && (rc = admin_find_app(ad, app_ref, &app)) != ADMIN_OK)) {
        return rc;
    }
    user.id = name;
    user.email = email;
    user.app = app;
    user.password_hash = hash;
    user.created = ad->now;
    if (apiauth_store_user_insert(ad->pool, &ad->db, &user) != APIAUTH_OK) {
        return admin_say(ADMIN_REFUSED, "user '%s' not created (exists, or "
                         "the email is taken?): %s", name, ad->db.last_error);
    }
    if (ad->json) {
        admin_print_json(json_pack("{s:s, s:s?, s:s?}", "user_id", name,
                                   "email", email, "app", app));
    }
    else {
        puts(name);
    }
    admin_say(ADMIN_OK, "user %s created%s%s", name, app ? " in app " : "",
              app ? app : " (any app may log them in)");
    return ADMIN_OK;
}

static int user_passwd(admin_t *ad, const char *name)
{
    const char *hash = NULL;
    int rc;

    if ((rc = read_password(ad, &hash)) != ADMIN_OK
        || (rc = admin_connect(ad, 1)) != ADMIN_OK) {
        return rc;
    }
    switch (apiauth_store_user_passwd(ad->pool, &ad->db, name, hash)) {
    case APIAUTH_OK:
        break;
    case APIAUTH_NOT_MINE:
        return admin_say(ADMIN_REFUSED, "no user %s", name);
    default:
        return admin_say(ADMIN_REFUSED, "store error: %s", ad->db.last_error);
    }
    admin_say(ADMIN_OK, "password of %s changed (existing sessions go on; "
              "end them with session revoke)", name);
    return ADMIN_OK;
}

static int user_delete(admin_t *ad, const char *name)
{
    int rc, revoked = 0, grants = 0;

    if ((rc = admin_connect(ad, 1)) != ADMIN_OK) {
        return rc;
    }
    switch (apiauth_store_user_delete(ad->pool, &ad->db, name, ad->now,
                                      &revoked, &grants)) {
    case APIAUTH_OK:
        break;
    case APIAUTH_NOT_MINE:
        return admin_say(ADMIN_REFUSED, "no user %s", name);
    default:
        return admin_say(ADMIN_REFUSED, "store error: %s", ad->db.last_error);
    }
    admin_say(ADMIN_OK, "user %s deleted; %d of their sessions and keys and "
              "%d OAuth grants revoked", name, revoked, grants);
    return ADMIN_OK;
}

static int user_list(admin_t *ad)
{
    apr_array_header_t *users;
    json_t *list = json_array();
    int i, rc;

    if ((rc = admin_connect(ad, 1)) != ADMIN_OK) {
        return rc;
    }
    if (apiauth_store_user_list(ad->pool, &ad->db, &users) != APIAUTH_OK) {
        return admin_say(ADMIN_REFUSED, "store error: %s", ad->db.last_error);
    }
    for (i = 0; i < users->nelts; i++) {
        const apiauth_user_t *u = &APR_ARRAY_IDX(users, i, apiauth_user_t);
        if (ad->json) {
            json_array_append_new(list, json_pack("{s:s, s:s?, s:s?}",
                                                  "user_id", u->id, "email",
                                                  u->email, "app", u->app));
        }
        else {
            printf("%s\t%s\t%s\n", u->id, u->email ? u->email : "-",
                   u->app ? u->app : "-");
        }
    }
    return admin_print_list(ad, list);
}

int admin_cmd_user(admin_t *ad, const admin_args_t *a)
{
    const char *sub = a->argc > 1 ? a->argv[1] : "";

    if (strcmp(sub, "create") == 0 && a->argc == 3) {
        return user_create(ad, a);
    }
    if (strcmp(sub, "passwd") == 0 && a->argc == 3) {
        return user_passwd(ad, a->argv[2]);
    }
    if (strcmp(sub, "delete") == 0 && a->argc == 3) {
        return user_delete(ad, a->argv[2]);
    }
    if (strcmp(sub, "list") == 0 && a->argc == 2) {
        return user_list(ad);
    }
    return admin_say(ADMIN_USAGE, "usage: apiauth-admin user create NAME "
                     "[--app APP] [--email E] | user passwd NAME | user "
                     "delete NAME | user list   (passwords on stdin)");
}

static int session_list(admin_t *ad, const char *user)
{
    apr_array_header_t *rows;
    json_t *list = json_array();
    int i, rc;

    if ((rc = admin_connect(ad, 1)) != ADMIN_OK) {
        return rc;
    }
    if (apiauth_store_session_list(ad->pool, &ad->db, ad->now, &rows)
        != APIAUTH_OK) {
        return admin_say(ADMIN_REFUSED, "store error: %s", ad->db.last_error);
    }
    for (i = 0; i < rows->nelts; i++) {
        const apiauth_credential_row_t *row =
            &APR_ARRAY_IDX(rows, i, apiauth_credential_row_t);
        const apiauth_identity_t *s = &row->identity;
        if (user && (s->user == NULL || strcmp(s->user, user) != 0)) {
            continue;
        }
        if (ad->json) {
            json_array_append_new(list, json_pack(
                "{s:s, s:s, s:s?, s:I, s:I}", "id", s->credential_id, "app",
                s->app, "user", s->user, "created", (json_int_t)row->created,
                "expires", (json_int_t)s->expires));
        }
        else {
            printf("%s\t%s\t%s\n", s->credential_id, s->app,
                   s->user ? s->user : "-");
        }
    }
    return admin_print_list(ad, list);
}

int admin_cmd_session(admin_t *ad, const admin_args_t *a)
{
    const char *sub = a->argc > 1 ? a->argv[1] : "";
    int rc;

    if (strcmp(sub, "list") == 0 && a->argc <= 3) {
        return session_list(ad, a->argc == 3 ? a->argv[2] : NULL);
    }
    if (strcmp(sub, "revoke") == 0 && a->argc == 3) {
        if (strncmp(a->argv[2], "ses_", 4) != 0) {
            return admin_say(ADMIN_USAGE, "a session id starts with ses_ "
                             "(see session list)");
        }
        if ((rc = admin_connect(ad, 1)) != ADMIN_OK) {
            return rc;
        }
        switch (apiauth_store_credential_revoke(ad->pool, &ad->db,
                                                a->argv[2], ad->now)) {
        case APIAUTH_OK:
            break;
        case APIAUTH_NOT_MINE:
            return admin_say(ADMIN_REFUSED, "no live session %s", a->argv[2]);
        default:
            return admin_say(ADMIN_REFUSED, "store error: %s",
                             ad->db.last_error);
        }
        admin_say(ADMIN_OK, "session %s revoked", a->argv[2]);
        return ADMIN_OK;
    }
    return admin_say(ADMIN_USAGE, "usage: apiauth-admin session list [USER] | "
                     "session revoke ID");
}

int admin_app_install(admin_t *ad, const char *app_ref, const char *group)
{
    const char *app = NULL;
    int rc;

    if (!apiauth_name_is_valid(group)) {
        return admin_say(ADMIN_USAGE, "a group id is printable, without space "
                         "or separators");
    }
    if ((rc = admin_connect(ad, 1)) != ADMIN_OK
        || (rc = admin_find_app(ad, app_ref, &app)) != ADMIN_OK) {
        return rc;
    }
    if (apiauth_store_app_install(ad->pool, &ad->db, app, group, ad->now)
        != APIAUTH_OK) {
        return admin_say(ADMIN_REFUSED, "store error: %s", ad->db.last_error);
    }
    admin_say(ADMIN_OK, "app %s may act in group %s", app, group);
    return ADMIN_OK;
}
