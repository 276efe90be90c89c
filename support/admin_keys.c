/*
 * admin_keys.c: apps and their keys (apiauth-admin app ..., key ...).
 *
 * A key's secret is printed once, on stdout, and never stored: the store
 * (or a credentials file, with --file) gets its digest.  Listing shows ids,
 * kinds, scopes and dates, never a secret or a digest.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/crypto.h>

#include "admin.h"
#include "keys.h"
#include "scope.h"

int admin_parse_expiry(const char *s, apr_int64_t now, apr_int64_t *when)
{
    char *end;
    apr_int64_t n;
    struct tm tm;

    if (s == NULL || *s == '\0') {
        return -1;
    }
    if (apr_isdigit(s[0]) && strlen(s) <= 12) {
        n = apr_strtoi64(s, &end, 10);
        if (n > 0 && end[0] && end[1] == '\0') {
            static const struct { char unit; apr_int64_t seconds; } units[] = {
                {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400},
                {'w', 7 * 86400}};
            size_t i;
            for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                if (end[0] == units[i].unit) {
                    *when = now + n * units[i].seconds;
                    return 0;
                }
            }
            return -1;
        }
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end == NULL || *end != '\0') {
        memset(&tm, 0, sizeof(tm));
        end = strptime(s, "%Y-%m-%d", &tm);
        if (end == NULL || *end != '\0') {
            return -1;
        }
    }
    *when = (apr_int64_t)timegm(&tm);
    return *when > now ? 0 : -1;
}

static const char *when_text(apr_pool_t *p, apr_int64_t v)
{
    apr_time_exp_t t;
    char buf[32];
    apr_size_t len;

    if (v <= 0) {
        return NULL;
    }
    apr_time_exp_gmt(&t, apr_time_from_sec(v));
    apr_strftime(buf, &len, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &t);
    return apr_pstrdup(p, buf);
}

/* ------------------------------------------------------------------ */
/* app                                                                 */
/* ------------------------------------------------------------------ */

static int app_create(admin_t *ad, const char *name)
{
    apiauth_app_t app;
    int rc;

    if (!apiauth_name_is_valid(name)) {
        return admin_say(ADMIN_USAGE, "an app name is 1 to 128 printable "
                         "characters without space, quote, comma, colon or "
                         "semicolon");
    }
    if ((rc = admin_connect(ad, 1)) != ADMIN_OK) {
        return rc;
    }
    app.id = apiauth_id_new(ad->pool, "app");
    app.name = name;
    app.created = ad->now;
    if (app.id == NULL
        || apiauth_store_app_insert(ad->pool, &ad->db, &app) != APIAUTH_OK) {
        return admin_say(ADMIN_REFUSED, "app '%s' not created (does it "
                         "exist?): %s", name, ad->db.last_error);
    }
    if (ad->json) {
        admin_print_json(json_pack("{s:s, s:s}", "id", app.id, "name",
                                   name));
    }
    else {
        puts(app.id);
    }
    admin_say(ADMIN_OK, "app '%s' created", name);
    return ADMIN_OK;
}

static int app_list(admin_t *ad)
{
    apr_array_header_t *apps;
    json_t *list = json_array();
    int i, rc;

    if ((rc = admin_connect(ad, 1)) != ADMIN_OK) {
        return rc;
    }
    if (apiauth_store_app_list(ad->pool, &ad->db, &apps) != APIAUTH_OK) {
        return admin_say(ADMIN_REFUSED, "store error: %s", ad->db.last_error);
    }
    for (i = 0; i < apps->nelts; i++) {
        const apiauth_app_t *app = &APR_ARRAY_IDX(apps, i, apiauth_app_t);
        if (ad->json) {
            json_array_append_new(list, json_pack(
                "{s:s, s:s, s:s?}", "id", app->id, "name", app->name,
                "created", when_text(ad->pool, app->created)));
        }
        else {
            printf("%s\t%s\n", app->id, app->name);
        }
    }
    return admin_print_list(ad, list);
}

int admin_cmd_app(admin_t *ad, const admin_args_t *a)
{
    const char *sub = a->argc > 1 ? a->argv[1] : "";

    if (strcmp(sub, "create") == 0 && a->argc == 3) {
        return app_create(ad, a->argv[2]);
    }
    if (strcmp(sub, "list") == 0 && a->argc == 2) {
        return app_list(ad);
    }
    if (strcmp(sub, "install") == 0 && a->argc == 4) {
        return admin_app_install(ad, a->argv[2], a->argv[3]);
    }
    return admin_say(ADMIN_USAGE, "usage: apiauth-admin app create NAME | "
                     "app list | app install APP GROUP");
}

/* ------------------------------------------------------------------ */
/* key                                                                 */
/* ------------------------------------------------------------------ */

/* --scope values, each a scope-token (several may share one --scope). */
static int scope_of(admin_t *ad, const admin_args_t *a, const char **scope)
{
    apr_array_header_t *all = admin_opt_all(ad->pool, a, "scope");
    const char *joined = apr_array_pstrcat(ad->pool, all, ' ');

    if (!apiauth_scope_list_valid(joined)) {
        return admin_say(ADMIN_USAGE, "a scope is printable ASCII without "
                         "space, quote or backslash");
    }
    *scope = joined;
    return ADMIN_OK;
}

/* A key bound to a user: the user exists and is of this app or of none. */
static int user_of_app(admin_t *ad, const char *user, const char *app)
{
    const char *user_app = NULL;
    apiauth_status_t st = apiauth_store_user_find(ad->pool, &ad->db, user,
                                                  &user_app);

    if (st == APIAUTH_ERROR) {
        return admin_say(ADMIN_REFUSED, "store error: %s", ad->db.last_error);
    }
    if (st != APIAUTH_OK) {
        return admin_say(ADMIN_REFUSED, "no user %s (apiauth-admin user "
                         "create)", user);
    }
    if (user_app && strcmp(user_app, app) != 0) {
        return admin_say(ADMIN_REFUSED, "user %s belongs to another app",
                         user);
    }
    return ADMIN_OK;
}

/* Appends the key to a credentials file (provider "file"). */
static int key_to_file(admin_t *ad, const char *path, const char *line)
{
    apr_file_t *f;
    apr_status_t rv;

    rv = apr_file_open(&f, path,
                       APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_APPEND,
                       APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD,
                       ad->pool);
    if (rv == APR_SUCCESS) {
        rv = apr_file_puts(line, f);
        apr_file_close(f);
    }
    if (rv != APR_SUCCESS) {
        return admin_say(ADMIN_REFUSED, "cannot append to %s: %pm", path, &rv);
    }
    return ADMIN_OK;
}

static int key_create(admin_t *ad, const admin_args_t *a)
{
    const char *app = a->argv[2];
    const char *kind_name = apr_table_get(a->opts, "kind");
    const char *user = apr_table_get(a->opts, "user");
    const char *expires_text = apr_table_get(a->opts, "expires");
    const char *file = apr_table_get(a->opts, "file");
    apiauth_kind_t kind = kind_name ? apiauth_kind_from_name(kind_name)
                                    : APIAUTH_KIND_API_KEY;
    apr_int64_t expires = 0;
    const char *scope = "", *id, *digest;
    apiauth_credential_new_t c;
    char *secret;
    int rc;

    if (kind != APIAUTH_KIND_API_KEY && kind != APIAUTH_KIND_TOKEN
        && kind != APIAUTH_KIND_BACKEND && kind != APIAUTH_KIND_APP_TOKEN) {
        return admin_say(ADMIN_USAGE, "--kind is api_key, token, backend or "
                         "app_token");
    }
    if (kind == APIAUTH_KIND_TOKEN && user == NULL) {
        return admin_say(ADMIN_USAGE, "a key of kind token is bound to a "
                         "user: give --user");
    }
    if (user && (kind != APIAUTH_KIND_TOKEN || !apiauth_name_is_valid(user))) {
        return admin_say(ADMIN_USAGE, "--user goes with --kind token, and is "
                         "a valid user id");
    }
    if (expires_text
        && admin_parse_expiry(expires_text, ad->now, &expires) != 0) {
        return admin_say(ADMIN_USAGE, "--expires takes 30s, 15m, 1h, 2d, 1w "
                         "or a future date 2027-01-31[T00:00:00Z]");
    }
    if ((rc = scope_of(ad, a, &scope)) != ADMIN_OK) {
        return rc;
    }
    if (file) {
        if (strncmp(app, "app_", 4) != 0 || !apiauth_name_is_valid(app)) {
            return admin_say(ADMIN_USAGE, "with --file, APP is the app's "
                             "public id (app_...)");
        }
    }
    else {
        if ((rc = admin_connect(ad, 1)) != ADMIN_OK
            || (rc = admin_find_app(ad, app, &app)) != ADMIN_OK
            || (user && (rc = user_of_app(ad, user, app)) != ADMIN_OK)) {
            return rc;
        }
    }
    secret = apiauth_secret_new(ad->pool, APIAUTH_PREFIX_KEY);
    id = apiauth_id_new(ad->pool, "crd");
    digest = secret ? apiauth_digest_hex(ad->pool, ad->pepper, secret) : NULL;
    if (id == NULL || digest == NULL) {
        return admin_say(ADMIN_REFUSED, "OpenSSL could not mint a key");
    }
    if (file) {
        rc = key_to_file(ad, file, apr_psprintf(
            ad->pool, "%s:%s:%s:%s:%s:%" APR_INT64_T_FMT ":%s\n", digest, id,
            apiauth_kind_name(kind), app, user ? user : "", expires, scope));
    }
    else {
        memset(&c, 0, sizeof(c));
        c.id = id;
        c.digest_hex = digest;
        c.kind = kind;
        c.app = app;
        c.user = user;
        c.scope = scope;
        c.created = ad->now;
        c.expires = expires;
        rc = apiauth_store_credential_insert(ad->pool, &ad->db, &c)
                     == APIAUTH_OK
                 ? ADMIN_OK
                 : admin_say(ADMIN_REFUSED, "key not stored: %s",
                             ad->db.last_error);
    }
    if (rc == ADMIN_OK) {
        if (ad->json) {
            admin_print_json(json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s}",
                                       "id", id, "secret", secret, "kind",
                                       apiauth_kind_name(kind), "app", app,
                                       "user", user, "scope", scope));
        }
        else {
            puts(secret);
        }
        admin_say(ADMIN_OK, "key %s (%s) created for %s; the secret is shown "
                  "this once", id, apiauth_kind_name(kind), app);
    }
    OPENSSL_cleanse(secret, strlen(secret));
    return rc;
}

static int key_list(admin_t *ad, const admin_args_t *a)
{
    apr_array_header_t *rows;
    json_t *list = json_array();
    const char *app = NULL;
    int i, rc;

    if ((rc = admin_connect(ad, 1)) != ADMIN_OK) {
        return rc;
    }
    if (a->argc == 3 && (rc = admin_find_app(ad, a->argv[2], &app)) != ADMIN_OK) {
        return rc;
    }
    if (apiauth_store_credential_list(ad->pool, &ad->db, app, &rows)
        != APIAUTH_OK) {
        return admin_say(ADMIN_REFUSED, "store error: %s", ad->db.last_error);
    }
    if (!ad->json) {
        puts("ID\tKIND\tAPP\tUSER\tSCOPE\tEXPIRES\tREVOKED\tLAST_USED");
    }
    for (i = 0; i < rows->nelts; i++) {
        /* the digest is not shown */
        const apiauth_credential_row_t *row =
            &APR_ARRAY_IDX(rows, i, apiauth_credential_row_t);
        const apiauth_identity_t *k = &row->identity;
        const char *exp = when_text(ad->pool, k->expires);
        const char *rev = when_text(ad->pool, row->revoked);
        const char *used = when_text(ad->pool, row->last_used);
        if (ad->json) {
            json_array_append_new(list, json_pack(
                "{s:s, s:s, s:s, s:s?, s:s, s:s?, s:s?, s:s?, s:s?, s:s?}",
                "id", k->credential_id, "kind", apiauth_kind_name(k->kind),
                "app", k->app, "user", k->user, "scope", k->scope,
                "install_id", k->install_id, "created",
                when_text(ad->pool, row->created), "expires", exp, "revoked",
                rev, "last_used", used));
        }
        else {
            printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k->credential_id,
                   apiauth_kind_name(k->kind), k->app,
                   k->user ? k->user : "-", *k->scope ? k->scope : "-",
                   exp ? exp : "never", rev ? rev : "-", used ? used : "never");
        }
    }
    return admin_print_list(ad, list);
}

static int key_revoke(admin_t *ad, const char *id)
{
    int rc;

    if ((rc = admin_connect(ad, 1)) != ADMIN_OK) {
        return rc;
    }
    switch (apiauth_store_credential_revoke(ad->pool, &ad->db, id, ad->now)) {
    case APIAUTH_OK:
        break;
    case APIAUTH_NOT_MINE:
        return admin_say(ADMIN_REFUSED, "no live key %s", id);
    default:
        return admin_say(ADMIN_REFUSED, "store error: %s", ad->db.last_error);
    }
    admin_say(ADMIN_OK, "key %s revoked", id);
    return ADMIN_OK;
}

int admin_cmd_key(admin_t *ad, const admin_args_t *a)
{
    const char *sub = a->argc > 1 ? a->argv[1] : "";

    if (strcmp(sub, "create") == 0 && a->argc == 3) {
        return key_create(ad, a);
    }
    if (strcmp(sub, "list") == 0 && a->argc <= 3) {
        return key_list(ad, a);
    }
    if (strcmp(sub, "revoke") == 0 && a->argc == 3) {
        return key_revoke(ad, a->argv[2]);
    }
    return admin_say(ADMIN_USAGE, "usage: apiauth-admin key create APP [...] "
                     "| key list [APP] | key revoke ID");
}
