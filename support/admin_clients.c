/*
 * admin_clients.c: OAuth clients and grants (apiauth-admin client ...,
 * grant revoke).
 *
 * Registration is where redirect URIs are held to RFC 9700 §2.1: absolute,
 * https (http only on loopback, RFC 8252 §7.3), no fragment -- the
 * authorization endpoint then compares them exactly.
 */
#include <stdio.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "admin.h"
#include "keys.h"
#include "oauth.h"
#include "scope.h"
#include "url.h"

/* The app a new client belongs to: --app, or an app of its own. */
static int client_app(admin_t *ad, const admin_args_t *a, const char *name,
                      const char **app)
{
    const char *ref = apr_table_get(a->opts, "app");
    apiauth_app_t own;

    if (ref) {
        return admin_find_app(ad, ref, app);
    }
    own.id = *app = apiauth_id_new(ad->pool, "app");
    own.name = name;
    own.created = ad->now;
    if (own.id == NULL
        || apiauth_store_app_insert(ad->pool, &ad->db, &own) != APIAUTH_OK) {
        return admin_say(ADMIN_REFUSED, "cannot create app '%s' for the client "
                         "(an app of that name exists? use --app)", name);
    }
    return ADMIN_OK;
}

/* --tls-cert FILE: the thumbprint of the PEM certificate in it. */
/* Does the PEM text begin with a certificate OpenSSL can read? */
static int pem_is_certificate(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    int ok = cert != NULL;

    X509_free(cert);
    BIO_free(bio);
    ERR_clear_error();
    return ok;
}

static int certificate_of(admin_t *ad, const char *path, const char **x5t)
{
    apr_file_t *f;
    apr_finfo_t fi;
    char *pem;
    apr_size_t len;

    if (apr_file_open(&f, path, APR_FOPEN_READ, 0, ad->pool) != APR_SUCCESS
        || apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS
        || fi.size > 65536) {
        return admin_say(ADMIN_USAGE, "--tls-cert %s: cannot read it (or it "
                         "is over 64 KiB)", path);
    }
    pem = apr_palloc(ad->pool, (apr_size_t)fi.size + 1);
    len = (apr_size_t)fi.size;
    if (apr_file_read_full(f, pem, len, &len) != APR_SUCCESS) {
        apr_file_close(f);
        return admin_say(ADMIN_USAGE, "--tls-cert %s: cannot read it", path);
    }
    apr_file_close(f);
    pem[len] = '\0';
    *x5t = pem_is_certificate(pem) ? apiauth_cert_thumbprint(ad->pool, pem)
                                   : NULL;
    if (*x5t == NULL) {
        return admin_say(ADMIN_USAGE, "--tls-cert %s: no PEM certificate "
                         "in it", path);
    }
    return ADMIN_OK;
}

static int client_create(admin_t *ad, const admin_args_t *a)
{
    const char *name = a->argv[2];
    apr_array_header_t *uris = admin_opt_all(ad->pool, a, "redirect-uri");
    apr_array_header_t *grants = admin_opt_all(ad->pool, a, "grant");
    apr_array_header_t *scopes = admin_opt_all(ad->pool, a, "scope");
    int public = apr_table_get(a->opts, "public") != NULL;
    const char *grant_list = apr_array_pstrcat(ad->pool, grants, ' ');
    const char *scope = apr_array_pstrcat(ad->pool, scopes, ' ');
    const char *display = apr_table_get(a->opts, "display-name");
    const char *tls_subject = apr_table_get(a->opts, "tls-subject");
    const char *tls_cert = apr_table_get(a->opts, "tls-cert");
    apr_array_header_t *resources = admin_opt_all(ad->pool, a, "resource");
    const char *tls_x5t = NULL;
    const char *bad = NULL, *app = NULL;
    apiauth_oauth_client_t client;
    char *secret = NULL;
    unsigned bits;
    int i, rc;

    if (!apiauth_name_is_valid(name) || strncmp(name, "cli_", 4) == 0
        || strncmp(name, "app_", 4) == 0) {
        return admin_say(ADMIN_USAGE, "a client name is printable, without "
                         "space or separators, and does not start with cli_ "
                         "or app_");
    }
    bits = apiauth_grants_parse(ad->pool, grant_list, &bad);
    if (bits == 0) {
        return admin_say(ADMIN_USAGE, bad ? "unknown --grant %s" : "%s",
                         bad ? bad : "give at least one --grant "
                         "(authorization_code, client_credentials, "
                         "refresh_token)");
    }
    if ((tls_subject || tls_cert) && (public || (tls_subject && tls_cert))) {
        return admin_say(ADMIN_USAGE, "a client authenticates with one "
                         "thing: --tls-subject DN (a certificate a CA "
                         "vouches for), --tls-cert FILE (its own), a "
                         "secret, or, --public, nothing");
    }
    if (tls_subject && (*tls_subject == '\0' || strlen(tls_subject) > 1024
                        || strpbrk(tls_subject, "\r\n"))) {
        return admin_say(ADMIN_USAGE, "--tls-subject takes the certificate's "
                         "subject DN as RFC 4514 writes it, CN=agent,O=Example");
    }
    if (tls_cert && (rc = certificate_of(ad, tls_cert, &tls_x5t)) != ADMIN_OK) {
        return rc;
    }
    if (public && (bits & APIAUTH_GRANT_CLIENT_CREDENTIALS)) {
        return admin_say(ADMIN_USAGE, "a --public client has no secret, so "
                         "it cannot use client_credentials");
    }
    if ((bits & APIAUTH_GRANT_AUTHORIZATION_CODE) && uris->nelts == 0) {
        return admin_say(ADMIN_USAGE, "authorization_code needs at least one "
                         "--redirect-uri");
    }
    for (i = 0; i < uris->nelts; i++) {
        if (!apiauth_oauth_redirect_uri_registrable(
                ad->pool, APR_ARRAY_IDX(uris, i, const char *), 0)) {
            return admin_say(ADMIN_USAGE, "--redirect-uri %s: absolute https "
                             "URI without fragment (http only on 127.0.0.1 "
                             "or [::1])", APR_ARRAY_IDX(uris, i, const char *));
        }
    }
    for (i = 0; i < resources->nelts; i++) {
        if (!apiauth_resource_uri_valid(
                ad->pool, APR_ARRAY_IDX(resources, i, const char *))) {
            return admin_say(ADMIN_USAGE, "--resource %s: an http or https "
                             "URL without query or fragment",
                             APR_ARRAY_IDX(resources, i, const char *));
        }
    }
    if (!apiauth_scope_list_valid(scope)) {
        return admin_say(ADMIN_USAGE, "a --scope is printable ASCII without "
                         "space, quote or backslash");
    }
    if (display && !apiauth_oauth_client_name_valid(display)) {
        return admin_say(ADMIN_USAGE, "--display-name is 1 to 100 characters "
                         "of UTF-8 text without control characters");
    }
    if ((rc = admin_connect(ad, 1)) != ADMIN_OK
        || (rc = client_app(ad, a, name, &app)) != ADMIN_OK) {
        return rc;
    }
    memset(&client, 0, sizeof(client));
    client.id = apiauth_id_new(ad->pool, "cli");
    client.tls_subject = tls_subject;
    client.tls_x5t = tls_x5t;
    /* one that authenticates with its certificate needs no secret */
    if (!public && !tls_subject && !tls_x5t) {
        secret = apiauth_secret_new(ad->pool, APIAUTH_PREFIX_CLIENT_SECRET);
    }
    client.name = name;
    client.app = app;
    client.secret_digest =
        secret ? apiauth_digest_hex(ad->pool, ad->pepper, secret) : NULL;
    client.redirect_uris = apr_array_pstrcat(ad->pool, uris, ' ');
    client.grants = bits;
    client.scope = scope;
    client.first_party = apr_table_get(a->opts, "first-party") != NULL;
    client.resource_server = apr_table_get(a->opts, "resource-server") != NULL;
    client.dpop_bound = apr_table_get(a->opts, "dpop-bound") != NULL;
    client.resources = resources->nelts
                           ? apr_array_pstrcat(ad->pool, resources, ' ')
                           : NULL;
    client.display_name = display;
    client.created = ad->now;
    if (client.id == NULL
        || (secret == NULL) != (public || tls_subject || tls_x5t)
        || (secret && client.secret_digest == NULL)) {
        return admin_say(ADMIN_REFUSED, "OpenSSL could not mint the client");
    }
    if (apiauth_store_client_insert(ad->pool, &ad->db, &client)
        != APIAUTH_OK) {
        return admin_say(ADMIN_REFUSED, "client '%s' not created (does it "
                         "exist?): %s", name, ad->db.last_error);
    }
    if (ad->json) {
        admin_print_json(json_pack("{s:s, s:s?, s:s, s:s, s:s}", "client_id",
                                   client.id, "client_secret", secret, "app", app,
                                   "name", name, "client_name",
                                   display ? display : name));
    }
    else {
        puts(client.id);
        if (secret) {
            puts(secret);
        }
    }
    admin_say(ADMIN_OK, "client %s (%s, %s) created%s", client.id, name,
              public ? "public"
                     : tls_subject || tls_x5t ? "mutual TLS" : "confidential",
              secret ? "; the secret is shown this once" : "");
    if (secret) {
        OPENSSL_cleanse(secret, strlen(secret));
    }
    return ADMIN_OK;
}

static int client_list(admin_t *ad)
{
    apr_array_header_t *clients;
    json_t *list = json_array();
    int i, rc;

    if ((rc = admin_connect(ad, 1)) != ADMIN_OK) {
        return rc;
    }
    if (apiauth_store_client_list(ad->pool, &ad->db, &clients)
        != APIAUTH_OK) {
        return admin_say(ADMIN_REFUSED, "store error: %s", ad->db.last_error);
    }
    if (!ad->json) {
        puts("ID\tNAME\tAPP\tTYPE\tGRANTS\tSCOPE\tREDIRECT_URIS");
    }
    for (i = 0; i < clients->nelts; i++) {
        const apiauth_oauth_client_t *c =
            &APR_ARRAY_IDX(clients, i, apiauth_oauth_client_t);
        const char *type =
            apiauth_oauth_client_is_public(c) ? "public" : "confidential";
        const char *grants = apiauth_grants_text(ad->pool, c->grants);
        if (ad->json) {
            json_array_append_new(list, json_pack(
                "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b}",
                "client_id", c->id, "name", c->name, "client_name",
                c->display_name, "app", c->app, "type", type,
                "redirect_uris", c->redirect_uris, "grant_types", grants,
                "scope", c->scope, "first_party", c->first_party,
                "resource_server", c->resource_server, "dpop_bound",
                c->dpop_bound));
            if (apiauth_oauth_client_is_mtls(c)) {
                json_object_set_new(json_array_get(list,
                                                   json_array_size(list) - 1),
                                    c->tls_x5t ? "tls_cert_x5t"
                                               : "tls_subject",
                                    json_string(c->tls_x5t ? c->tls_x5t
                                                           : c->tls_subject));
            }
            if (c->resources) {
                json_object_set_new(json_array_get(list,
                                                   json_array_size(list) - 1),
                                    "resources",
                                    json_string(c->resources));
            }
        }
        else {
            printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c->id, c->name, c->app,
                   type, grants, *c->scope ? c->scope : "-",
                   *c->redirect_uris ? c->redirect_uris : "-");
        }
    }
    return admin_print_list(ad, list);
}

/* The client's id from its id or name. */
static int find_client(admin_t *ad, const char *ref, const char **id)
{
    switch (apiauth_store_client_lookup(ad->pool, &ad->db, ref, id)) {
    case APIAUTH_OK:
        return ADMIN_OK;
    case APIAUTH_NOT_MINE:
        return admin_say(ADMIN_REFUSED, "no client '%s'", ref);
    default:
        return admin_say(ADMIN_REFUSED, "store error: %s", ad->db.last_error);
    }
}

static int client_delete(admin_t *ad, const char *ref)
{
    const char *id = NULL;
    int rc;

    if ((rc = admin_connect(ad, 1)) != ADMIN_OK
        || (rc = find_client(ad, ref, &id)) != ADMIN_OK) {
        return rc;
    }
    /* NOT_MINE: deleted by another admin since find_client; gone either
     * way */
    if (apiauth_store_client_delete(ad->pool, &ad->db, id, ad->now)
        == APIAUTH_ERROR) {
        return admin_say(ADMIN_REFUSED, "store error: %s", ad->db.last_error);
    }
    admin_say(ADMIN_OK, "client %s deleted; its grants are revoked", id);
    return ADMIN_OK;
}

int admin_cmd_client(admin_t *ad, const admin_args_t *a)
{
    const char *sub = a->argc > 1 ? a->argv[1] : "";

    if (strcmp(sub, "create") == 0 && a->argc == 3) {
        return client_create(ad, a);
    }
    if (strcmp(sub, "list") == 0 && a->argc == 2) {
        return client_list(ad);
    }
    if (strcmp(sub, "delete") == 0 && a->argc == 3) {
        return client_delete(ad, a->argv[2]);
    }
    return admin_say(ADMIN_USAGE, "usage: apiauth-admin client create NAME "
                     "... | client list | client delete ID");
}

int admin_cmd_grant(admin_t *ad, const admin_args_t *a)
{
    const char *id = NULL;
    int rc, nrows = 0;

    if (a->argc != 4 || strcmp(a->argv[1], "revoke") != 0) {
        return admin_say(ADMIN_USAGE, "usage: apiauth-admin grant revoke USER "
                         "CLIENT");
    }
    if ((rc = admin_connect(ad, 1)) != ADMIN_OK
        || (rc = find_client(ad, a->argv[3], &id)) != ADMIN_OK) {
        return rc;
    }
    if (apiauth_store_grant_revoke_user_client(ad->pool, &ad->db, a->argv[2],
                                               id, ad->now, &nrows)
        != APIAUTH_OK) {
        return admin_say(ADMIN_REFUSED, "store error: %s", ad->db.last_error);
    }
    if (nrows == 0) {
        return admin_say(ADMIN_REFUSED, "user %s has no live grant to client "
                         "%s", a->argv[2], id);
    }
    admin_say(ADMIN_OK, "revoked %d grant(s) of user %s to client %s: their "
              "refresh tokens stop at once, access tokens at once where the "
              "oauth provider checks them, else when they expire", nrows,
              a->argv[2], id);
    return ADMIN_OK;
}
