/*
 * apiauth-admin: the operator's tool, in the spirit of htpasswd and htdbm.
 *
 * It speaks to the same store as the modules (apr_dbd, the statements of
 * sql/catalogue.c) and mints secrets with the same code (lib/base/keys.c), so a
 * key it prints is a key the server accepts.  This file reads the command
 * line and hands over to the command.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "admin.h"
#include "response.h"

static const char usage_text[] =
"usage: apiauth-admin [-D DRIVER] [-P PARAMS] [--pepper FILE] [--json]\n"
"                     COMMAND ...\n"
"\n"
"  -D DRIVER     apr_dbd driver, as DBDriver: sqlite3 or pgsql\n"
"                (default $APIAUTH_DBD_DRIVER, else sqlite3)\n"
"  -P PARAMS     connection, as DBDParams: a file for sqlite3, a conninfo\n"
"                string for pgsql (default $APIAUTH_DBD_PARAMS)\n"
"  --pepper FILE the file of ApiAuthSecretPepper, when the server has one\n"
"                (default $APIAUTH_PEPPER_FILE)\n"
"  --json        structured output on stdout\n"
"\n"
"Secrets and ids go alone to stdout, messages to stderr.\n"
"\n"
"the store\n"
"  init                       create or migrate the schema (keeps every row)\n"
"      apiauth-admin -P /var/lib/apiauth/apiauth.db init\n"
"  purge                      delete expired and long-revoked rows\n"
"      apiauth-admin purge\n"
"\n"
"apps and keys\n"
"  app create NAME            prints the app's public id (app_...)\n"
"      apiauth-admin app create shop\n"
"  app list                   ids and names\n"
"      apiauth-admin --json app list\n"
"  app install APP GROUP      the app may act in GROUP (a Twake company)\n"
"      apiauth-admin app install crm company-42\n"
"  key create APP [--kind api_key|token|backend|app_token] [--user U]\n"
"             [--scope S]... [--expires 30s|15m|1h|2d|1w|2027-01-31]\n"
"             [--file FILE]   prints the secret, once; --user binds a token\n"
"                             key to a user; --file writes a line for\n"
"                             ApiAuthProvider file instead of the store\n"
"      apiauth-admin key create shop --scope integration.store --expires 30d\n"
"      apiauth-admin key create shop --kind token --user alice\n"
"      apiauth-admin key create shop --kind backend\n"
"  key list [APP]             ids, kinds, scopes, expiry, last use; never a\n"
"                             secret\n"
"      apiauth-admin --json key list shop\n"
"  key revoke ID              stops the key (at once without a cache, else\n"
"                             within ApiAuthCacheTTL)\n"
"      apiauth-admin key revoke crd_4f8Qz1mW0aTz9LkP\n"
"\n"
"users and sessions\n"
"  user create NAME [--app APP] [--email E]\n"
"                             a user who logs in (apiauth-login) or whom a\n"
"                             backend token acts as; password on stdin\n"
"      printf '%s\\n' \"$PW\" | apiauth-admin user create alice --app shop\n"
"  user passwd NAME           a new password, on stdin\n"
"      printf '%s\\n' \"$PW\" | apiauth-admin user passwd alice\n"
"  user delete NAME           the user and every session and key of theirs\n"
"      apiauth-admin user delete alice\n"
"  user list                  ids, emails, apps; never a password\n"
"      apiauth-admin user list\n"
"  session list [USER]        live login sessions\n"
"      apiauth-admin session list alice\n"
"  session revoke ID          ends one session (ses_...)\n"
"      apiauth-admin session revoke ses_9xQ2mW0aTz9LkPq1\n"
"\n"
"OAuth clients and grants\n"
"  client create NAME --grant G... [--redirect-uri URI]... [--scope S]...\n"
"             [--display-name TEXT] [--app APP] [--public] [--first-party]\n"
"             [--resource-server] [--dpop-bound] [--resource URL]...\n"
"             [--tls-subject DN | --tls-cert PEM-FILE]\n"
"                             prints client_id, then client_secret (once);\n"
"                             the display name is what the consent page shows\n"
"      apiauth-admin client create shopify --display-name \"Acme Shop\" \\\n"
"          --grant authorization_code --grant refresh_token \\\n"
"          --redirect-uri https://shop.example/cb --scope integration.store\n"
"  client list                clients, grants, scopes, redirect URIs\n"
"      apiauth-admin client list\n"
"  client delete ID           the client and every grant of it end\n"
"      apiauth-admin client delete cli_8Hq2kW0aTz9LkPq1\n"
"  grant revoke USER CLIENT   a user withdraws consent: the client's tokens\n"
"                             for that user stop working\n"
"      apiauth-admin grant revoke alice shopify\n"
"\n"
"An option the command does not take is bad usage, and nothing is done.\n"
"exit status: 0 done, 1 refused (not found, exists, store error), 2 bad usage\n";

int admin_say(int code, const char *fmt, ...)
{
    va_list ap;

    fputs("apiauth-admin: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

void admin_print_json(json_t *value)
{
    apr_pool_t *p;
    char *text;

    /* a new key's secret leaves no copy behind once printed */
    apr_pool_create(&p, NULL);
    text = apiauth_json_sealed(p, value, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text) {
        puts(text);
    }
    apr_pool_destroy(p);
}

int admin_print_list(admin_t *ad, json_t *list)
{
    if (ad->json) {
        admin_print_json(list);
    }
    else {
        json_decref(list);
    }
    return ADMIN_OK;
}

apr_array_header_t *admin_opt_all(apr_pool_t *p, const admin_args_t *a,
                                  const char *name)
{
    apr_array_header_t *out = apr_array_make(p, 2, sizeof(const char *));
    const apr_array_header_t *elts = apr_table_elts(a->opts);
    const apr_table_entry_t *e = (const apr_table_entry_t *)elts->elts;
    int i;

    for (i = 0; i < elts->nelts; i++) {
        if (strcmp(e[i].key, name) == 0) {
            APR_ARRAY_PUSH(out, const char *) = e[i].val;
        }
    }
    return out;
}

/* Every --option, and whether it takes a value. */
static const struct {
    const char *name;
    int takes_value;
} options[] = {
    {"json", 0}, {"help", 0}, {"pepper", 1},
    {"kind", 1}, {"user", 1}, {"scope", 1}, {"expires", 1}, {"file", 1},
    {"app", 1}, {"email", 1}, {"grant", 1}, {"redirect-uri", 1},
    {"display-name", 1}, {"public", 0}, {"first-party", 0},
    {"resource-server", 0}, {"dpop-bound", 0}, {"tls-subject", 1},
    {"tls-cert", 1}, {"resource", 1},
};

/* Which options each command takes, beyond json, help and pepper (which
 * every one takes). */
static const struct {
    const char *command, *sub, *takes;
} takes[] = {
    {"init", NULL, ""},
    {"purge", NULL, ""},
    {"app", "create", ""},
    {"app", "list", ""},
    {"app", "install", ""},
    {"key", "create", " kind user scope expires file "},
    {"key", "list", ""},
    {"key", "revoke", ""},
    {"user", "create", " app email "},
    {"user", "passwd", ""},
    {"user", "delete", ""},
    {"user", "list", ""},
    {"session", "list", ""},
    {"session", "revoke", ""},
    {"client", "create", " grant redirect-uri scope display-name app public "
                         "first-party resource-server dpop-bound tls-subject "
                         "tls-cert resource "},
    {"client", "list", ""},
    {"client", "delete", ""},
    {"grant", "revoke", ""},
};

/* 1 takes a value, 0 is a flag, -1 is no option of ours. */
static int option_kind(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
        if (strcmp(options[i].name, name) == 0) {
            return options[i].takes_value;
        }
    }
    return -1;
}

/* Is every option given one the command takes?  A usage error names the
 * first that is not. */
static int options_fit(apr_pool_t *p, const admin_args_t *a)
{
    const char *cmd = a->argv[0], *sub = a->argc > 1 ? a->argv[1] : NULL;
    const apr_array_header_t *given = apr_table_elts(a->opts);
    size_t i, n = sizeof(takes) / sizeof(takes[0]);
    int j;

    for (i = 0; i < n; i++) {
        if (strcmp(takes[i].command, cmd) == 0
            && (takes[i].sub == NULL
                || (sub && strcmp(takes[i].sub, sub) == 0))) {
            break;
        }
    }
    if (i == n) {
        return ADMIN_OK;           /* the command itself says what is wrong */
    }
    for (j = 0; j < given->nelts; j++) {
        const char *name = APR_ARRAY_IDX(given, j, apr_table_entry_t).key;
        if (strcmp(name, "json") != 0 && strcmp(name, "help") != 0
            && strcmp(name, "pepper") != 0
            && strstr(takes[i].takes,
                      apr_pstrcat(p, " ", name, " ", NULL)) == NULL) {
            return admin_say(ADMIN_USAGE, "%s%s%s takes no --%s (see --help)",
                             cmd, takes[i].sub ? " " : "",
                             takes[i].sub ? takes[i].sub : "", name);
        }
    }
    return ADMIN_OK;
}

/* Splits argv into positional words and --options, anywhere. */
static int parse_args(admin_t *ad, int argc, const char *const *argv,
                      admin_args_t *a)
{
    int i;

    a->argv = apr_pcalloc(ad->pool, sizeof(char *) * (argc + 1));
    a->argc = 0;
    a->opts = apr_table_make(ad->pool, 4);
    for (i = 0; i < argc; i++) {
        const char *w = argv[i];
        if (strncmp(w, "--", 2) == 0 && w[2]) {
            const char *name = w + 2, *eq = strchr(name, '='), *value;
            int kind;
            if (eq) {
                name = apr_pstrmemdup(ad->pool, name, eq - name);
            }
            /* never a word taken as the value of an option we lack */
            if ((kind = option_kind(name)) < 0) {
                return admin_say(ADMIN_USAGE, "unknown option --%s (see "
                                 "--help)", name);
            }
            if (eq && kind == 0) {
                return admin_say(ADMIN_USAGE, "no value for --%s (see "
                                 "--help)", name);
            }
            if (eq) {
                value = eq + 1;
            }
            else if (kind == 0) {
                value = "1";
            }
            else if (i + 1 < argc) {
                value = argv[++i];
            }
            else {
                return admin_say(ADMIN_USAGE, "--%s needs a value", name);
            }
            apr_table_addn(a->opts, name, value);
        }
        else if (strcmp(w, "-D") == 0 || strcmp(w, "-P") == 0) {
            if (i + 1 >= argc) {
                return admin_say(ADMIN_USAGE, "%s needs a value", w);
            }
            if (w[1] == 'D') {
                ad->driver_name = argv[++i];
            }
            else {
                ad->params = argv[++i];
            }
        }
        else if (w[0] == '-' && w[1] && !(w[1] >= '0' && w[1] <= '9')) {
            return admin_say(ADMIN_USAGE, "unknown option %s (see --help)", w);
        }
        else {
            a->argv[a->argc++] = w;
        }
    }
    return ADMIN_OK;
}

static int run(admin_t *ad, const admin_args_t *a)
{
    const char *cmd = a->argc > 0 ? a->argv[0] : NULL;

    if (apr_table_get(a->opts, "help") || (cmd && strcmp(cmd, "help") == 0)) {
        fputs(usage_text, stdout);
        return ADMIN_OK;
    }
    if (cmd == NULL) {
        fputs(usage_text, stderr);
        return ADMIN_USAGE;
    }
    if (options_fit(ad->pool, a) != ADMIN_OK) {
        return ADMIN_USAGE;
    }
    ad->json = apr_table_get(a->opts, "json") != NULL;
    if (apr_table_get(a->opts, "pepper")) {
        ad->pepper_file = apr_table_get(a->opts, "pepper");
    }
    if (ad->pepper_file && *ad->pepper_file) {
        const char *errmsg = NULL;
        if (apiauth_pepper_load(ad->pool, ad->pepper_file, &ad->pepper,
                                &errmsg) != APIAUTH_OK) {
            return admin_say(ADMIN_REFUSED, "%s", errmsg);
        }
    }
    if (strcmp(cmd, "init") == 0) {
        return admin_cmd_init(ad, a);
    }
    if (strcmp(cmd, "purge") == 0) {
        return admin_cmd_purge(ad, a);
    }
    if (strcmp(cmd, "app") == 0) {
        return admin_cmd_app(ad, a);
    }
    if (strcmp(cmd, "key") == 0) {
        return admin_cmd_key(ad, a);
    }
    if (strcmp(cmd, "client") == 0) {
        return admin_cmd_client(ad, a);
    }
    if (strcmp(cmd, "grant") == 0) {
        return admin_cmd_grant(ad, a);
    }
    if (strcmp(cmd, "user") == 0) {
        return admin_cmd_user(ad, a);
    }
    if (strcmp(cmd, "session") == 0) {
        return admin_cmd_session(ad, a);
    }
    return admin_say(ADMIN_USAGE, "unknown command '%s' (see --help)", cmd);
}

int main(int argc, const char *const *argv)
{
    admin_t ad;
    admin_args_t args;
    int rc;

    if (apr_app_initialize(&argc, &argv, NULL) != APR_SUCCESS) {
        fputs("apiauth-admin: cannot initialise APR\n", stderr);
        return ADMIN_REFUSED;
    }
    atexit(apr_terminate);
    memset(&ad, 0, sizeof(ad));
    apr_pool_create(&ad.pool, NULL);
    ad.driver_name = getenv("APIAUTH_DBD_DRIVER");
    ad.params = getenv("APIAUTH_DBD_PARAMS");
    ad.pepper_file = getenv("APIAUTH_PEPPER_FILE");
    ad.now = apr_time_sec(apr_time_now());
    if (ad.driver_name == NULL || *ad.driver_name == '\0') {
        ad.driver_name = "sqlite3";
    }
    rc = parse_args(&ad, argc - 1, argv + 1, &args);
    if (rc == ADMIN_OK) {
        rc = run(&ad, &args);
    }
    apr_pool_destroy(ad.pool);
    return rc;
}
