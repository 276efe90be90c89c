/*
 * register.c: OAuth 2.0 dynamic client registration (RFC 7591), as the
 * clients that arrive knowing only a URL use it (MCP clients).
 *
 * A registration is a JSON document of client metadata; what we take of it
 * is checked as apiauth-admin checks a client made by hand, and the client
 * is then an ordinary one: listed and deleted with apiauth-admin.  Without
 * the initial access token (open registration) only public clients are
 * made -- a secret handed to whoever asks proves nothing -- and only with
 * redirect URIs that are https, loopback http, or a native app's own
 * scheme.
 */
#include <string.h>

#include <apr_strings.h>

#include "keys.h"
#include "oauth.h"
#include "scope.h"

#define MAX_REDIRECT_URIS 10
#define MAX_URI_LEN 2048

static apiauth_status_t bad(apiauth_error_t *err, const char *error,
                            const char *why)
{
    return apiauth_fail(err, APIAUTH_INVALID, error, why);
}

/* A member that must be a string when present. */
static int string_member(json_t *doc, const char *name, const char **out)
{
    json_t *v = json_object_get(doc, name);

    *out = json_string_value(v);
    return v == NULL || *out != NULL;
}

/* A member that must be an array of strings when present: their list,
 * space separated, in *out (NULL when absent); 0 when malformed or when
 * a string holds a space. */
static int list_member(apr_pool_t *p, json_t *doc, const char *name,
                       int max, const char **out)
{
    json_t *v = json_object_get(doc, name), *item;
    const char *list = NULL;
    size_t i;

    *out = NULL;
    if (v == NULL) {
        return 1;
    }
    if (!json_is_array(v) || json_array_size(v) == 0
        || json_array_size(v) > (size_t)max) {
        return 0;
    }
    json_array_foreach(v, i, item) {
        const char *s = json_string_value(item);
        if (s == NULL || *s == '\0' || strchr(s, ' ')
            || strlen(s) > MAX_URI_LEN) {
            return 0;
        }
        list = list ? apr_pstrcat(p, list, " ", s, NULL) : s;
    }
    *out = list;
    return 1;
}

/* A space-separated list as a JSON array. */
static json_t *words_array(apr_pool_t *p, const char *list)
{
    char *copy = apr_pstrdup(p, list ? list : ""), *last;
    json_t *out = json_array();
    const char *w;

    for (w = apr_strtok(copy, " ", &last); w; w = apr_strtok(NULL, " ", &last)) {
        json_array_append_new(out, json_string(w));
    }
    return out;
}

/* The scopes the server has for any of `grants`, space separated. */
static const char *scopes_for(apr_pool_t *p, const apiauth_oauth_config_t *cfg,
                              unsigned grants)
{
    const char *out = "";
    int i;

    for (i = 0; cfg->scopes && i < cfg->scopes->nelts; i++) {
        const apiauth_oauth_scope_t *s =
            &APR_ARRAY_IDX(cfg->scopes, i, apiauth_oauth_scope_t);
        if (s->grants & grants) {
            out = *out ? apr_pstrcat(p, out, " ", s->name, NULL) : s->name;
        }
    }
    return out;
}

/* Reads and checks the metadata into *c (all but id, name, app, secret). */
/* private_key_jwt: the client's keys, inline (jwks) or, where the caller
 * can fetch them, at an https URL (jwks_uri). */
static apiauth_status_t read_keys(apr_pool_t *p, json_t *doc,
                                  int uri_allowed, apiauth_oauth_client_t *c,
                                  apiauth_error_t *err)
{
    json_t *jwks = json_object_get(doc, "jwks");
    const char *uri = json_string_value(json_object_get(doc, "jwks_uri"));
    apr_array_header_t *keys = NULL;
    const char *why = NULL;
    char *text;

    if ((jwks == NULL) == (uri == NULL)
        || (uri && (!uri_allowed || strncmp(uri, "https://", 8) != 0))) {
        return bad(err, "invalid_client_metadata", uri_allowed
                   ? "private_key_jwt needs its keys: jwks, or an https "
                     "jwks_uri"
                   : "private_key_jwt needs its keys inline (jwks)");
    }
    if (uri) {
        c->jwks_uri = apr_pstrdup(p, uri);
        return APIAUTH_OK;
    }
    text = json_dumps(jwks, JSON_COMPACT);
    if (text == NULL
        || apiauth_jwks_parse(p, text, strlen(text), &keys, &why)
               != APIAUTH_OK) {
        free(text);
        return bad(err, "invalid_client_metadata",
                   apr_pstrcat(p, "jwks: ", why ? why : "not a JWK set",
                               NULL));
    }
    c->jwks = apr_pstrdup(p, text);
    free(text);
    return APIAUTH_OK;
}

static apiauth_status_t read_metadata(apr_pool_t *p,
                                      const apiauth_oauth_config_t *cfg,
                                      json_t *doc, int trusted,
                                      int from_document,
                                      apiauth_oauth_client_t *c,
                                      const char **auth_method,
                                      apiauth_error_t *err)
{
    const char *uris, *grant_list, *responses, *method, *scope, *name, *type;
    const char *bad_word = NULL, *offered;
    char *word, *last, *copy;
    int native;

    if (!list_member(p, doc, "redirect_uris", MAX_REDIRECT_URIS, &uris)) {
        return bad(err, "invalid_redirect_uri", "redirect_uris is an array "
                   "of at most 10 URIs");
    }
    if (!list_member(p, doc, "grant_types", 3, &grant_list)
        || !list_member(p, doc, "response_types", 1, &responses)
        || !string_member(doc, "token_endpoint_auth_method", &method)
        || !string_member(doc, "scope", &scope)
        || !string_member(doc, "client_name", &name)
        || !string_member(doc, "application_type", &type)) {
        return bad(err, "invalid_client_metadata", "grant_types and "
                   "response_types are arrays of strings; "
                   "token_endpoint_auth_method, scope, client_name and "
                   "application_type are strings");
    }
    if (type && strcmp(type, "web") != 0 && strcmp(type, "native") != 0) {
        return bad(err, "invalid_client_metadata", "application_type is web "
                   "or native");
    }
    native = type && strcmp(type, "native") == 0;
    c->grants = apiauth_grants_parse(p, grant_list ? grant_list
                                                   : "authorization_code",
                                     &bad_word);
    if (c->grants == 0) {
        return bad(err, "invalid_client_metadata", "grant_types may be "
                   "authorization_code, refresh_token, client_credentials");
    }
    if (responses && strcmp(responses, "code") != 0) {
        return bad(err, "invalid_client_metadata", "response_types may only "
                   "be code");
    }
    /* RFC 7591 §2: client_secret_basic unless said otherwise; an open
     * registration makes public clients only */
    if (method == NULL) {
        method = trusted ? "client_secret_basic" : "none";
    }
    if (strcmp(method, "private_key_jwt") == 0) {
        apiauth_status_t st = read_keys(p, doc, from_document, c, err);
        if (st != APIAUTH_OK) {
            return st;
        }
    }
    else if (strcmp(method, "none") != 0
        && (!trusted || (strcmp(method, "client_secret_basic") != 0
                         && strcmp(method, "client_secret_post") != 0))) {
        return bad(err, "invalid_client_metadata", trusted
                   ? "token_endpoint_auth_method is none, "
                     "client_secret_basic or client_secret_post"
                   : "without an initial access token a client is public "
                     "(token_endpoint_auth_method none) or has keys "
                     "(private_key_jwt)");
    }
    *auth_method = method;
    if (strcmp(method, "none") == 0
        && (c->grants & APIAUTH_GRANT_CLIENT_CREDENTIALS)) {
        return bad(err, "invalid_client_metadata", "a public client cannot "
                   "use client_credentials");
    }
    /* a key proves the same client each time, not who it is: where no
     * user consents (client_credentials) somebody must have vouched for
     * the client, the initial access token's holder or the operator who
     * named a metadata document's domain */
    if (!trusted && !from_document
        && (c->grants & APIAUTH_GRANT_CLIENT_CREDENTIALS)) {
        return bad(err, "invalid_client_metadata", "without an initial "
                   "access token a client cannot use client_credentials");
    }
    if ((c->grants & APIAUTH_GRANT_AUTHORIZATION_CODE) && uris == NULL) {
        return bad(err, "invalid_redirect_uri", "authorization_code needs "
                   "redirect_uris");
    }
    copy = apr_pstrdup(p, uris ? uris : "");
    for (word = apr_strtok(copy, " ", &last); word;
         word = apr_strtok(NULL, " ", &last)) {
        if (!apiauth_oauth_redirect_uri_registrable(p, word, native)) {
            return bad(err, "invalid_redirect_uri", native
                       ? "a redirect URI is https, http on a loopback "
                         "address, or a private scheme named after a domain"
                       : "a redirect URI is https, or http on a loopback "
                         "address");
        }
    }
    c->redirect_uris = uris ? uris : "";
    offered = scopes_for(p, cfg, c->grants);
    if (scope == NULL) {
        scope = offered;
    }
    else if (!apiauth_scope_list_valid(scope)
             || !apiauth_scope_subset(scope, offered)) {
        return bad(err, "invalid_client_metadata", "scope names a scope this "
                   "server does not have for these grant types");
    }
    c->scope = scope;
    if (name && !apiauth_oauth_client_name_valid(name)) {
        return bad(err, "invalid_client_metadata", "client_name is 1 to 100 "
                   "characters of text");
    }
    c->display_name = name;
    return APIAUTH_OK;
}

/* Mints the client read into *c, records it and writes the answer. */
static apiauth_status_t record(apr_pool_t *p, const apiauth_oauth_config_t *cfg,
                               apiauth_db_t *db, apiauth_oauth_client_t *cp,
                               const char *method, apr_int64_t now,
                               json_t **response, apiauth_error_t *err)
{
    apiauth_oauth_client_t c = *cp;
    const char *secret = NULL;
    json_t *out;

    c.id = apiauth_id_new(p, "cli");
    c.name = c.id ? apr_pstrcat(p, "registered-", c.id + 4, NULL) : NULL;
    c.created = now;
    /* a secret for the methods that send one: a public client has none,
     * a private_key_jwt one has its keys */
    if (strcmp(method, "client_secret_basic") == 0
        || strcmp(method, "client_secret_post") == 0) {
        secret = apiauth_secret_new(p, APIAUTH_PREFIX_CLIENT_SECRET);
        c.secret_digest = secret ? apiauth_digest_hex(p, cfg->pepper, secret)
                                 : NULL;
        if (c.secret_digest == NULL) {
            c.id = NULL;
        }
    }
    if (c.id == NULL) {
        return apiauth_fail(err, APIAUTH_ERROR, "server_error",
                            "the client could not be minted");
    }
    if (apiauth_store_client_insert(p, db, &c) != APIAUTH_OK) {
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "the client could not be recorded");
    }
    /* RFC 7591 §3.2.1: the client as registered */
    out = json_pack("{s:s, s:I, s:s, s:s, s:[s]}", "client_id", c.id,
                    "client_id_issued_at", (json_int_t)now,
                    "token_endpoint_auth_method", method,
                    "scope", c.scope, "response_types", "code");
    json_object_set_new(out, "grant_types",
                        words_array(p, apiauth_grants_text(p, c.grants)));
    json_object_set_new(out, "redirect_uris", words_array(p, c.redirect_uris));
    if (c.display_name) {
        json_object_set_new(out, "client_name",
                            json_string(c.display_name));
    }
    if (secret) {
        json_object_set_new(out, "client_secret", json_string(secret));
        json_object_set_new(out, "client_secret_expires_at",
                            json_integer(0));
    }
    *response = out;
    return APIAUTH_OK;
}

apiauth_status_t apiauth_oauth_register(apr_pool_t *p,
                                        const apiauth_oauth_config_t *cfg,
                                        apiauth_db_t *db, const char *body,
                                        apr_size_t len, const char *app,
                                        int trusted, apr_int64_t now,
                                        json_t **response,
                                        apiauth_error_t *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    apiauth_oauth_client_t c;
    const char *method = NULL;
    apiauth_status_t st;

    *response = NULL;
    if (!json_is_object(doc)) {
        json_decref(doc);
        return bad(err, "invalid_client_metadata", "the body is one JSON "
                   "object of client metadata (RFC 7591 §2)");
    }
    memset(&c, 0, sizeof(c));
    c.app = app;
    st = read_metadata(p, cfg, doc, trusted, 0, &c, &method, err);
    if (st == APIAUTH_OK) {
        st = record(p, cfg, db, &c, method, now, response, err);
    }
    json_decref(doc);   /* what *c points into */
    return st;
}

apiauth_status_t apiauth_oauth_client_document(
    apr_pool_t *p, const apiauth_oauth_config_t *cfg, const char *url,
    const char *body, apr_size_t len, const char *app,
    apiauth_oauth_client_t *client, apiauth_error_t *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *id, *method = NULL;
    apiauth_status_t st;

    memset(client, 0, sizeof(*client));
    if (!json_is_object(doc)) {
        json_decref(doc);
        return bad(err, "invalid_client", "the client metadata document is "
                   "not a JSON object");
    }
    id = json_string_value(json_object_get(doc, "client_id"));
    if (id == NULL || strcmp(id, url) != 0) {
        json_decref(doc);
        return bad(err, "invalid_client", "the client metadata document "
                   "names another client_id than its URL");
    }
    /* what a registration may say, a document may say; and like an open
     * registration, it makes a public client */
    st = read_metadata(p, cfg, doc, 0, 1, client, &method, err);
    if (st == APIAUTH_OK) {
        client->redirect_uris = apr_pstrdup(p, client->redirect_uris);
        client->scope = apr_pstrdup(p, client->scope);
        client->display_name = client->display_name
                                   ? apr_pstrdup(p, client->display_name)
                                   : NULL;
        /* jwks and jwks_uri were copied to the pool by read_keys */
        client->id = client->name = apr_pstrdup(p, url);
        client->app = app;
    }
    else {
        err->error = "invalid_client";
    }
    json_decref(doc);
    return st;
}
