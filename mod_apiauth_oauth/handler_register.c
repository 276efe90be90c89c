/*
 * handler_register.c: SetHandler apiauth-register -- dynamic client
 * registration (RFC 7591), off unless ApiAuthOAuthRegistration says how:
 *
 *   open      anyone may register a public client (no secret; PKCE
 *             protects its codes), as MCP clients do
 *   token=FILE  the initial access token (the file's content, as a Bearer
 *             token) lets a confidential client be registered too
 *   app=NAME  the app registered clients belong to (required)
 *
 * What is registered is checked in lib/oauth/register.c; this file reads
 * the request and writes the answer.
 */
#include <apr_file_io.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>

#include <apr_lib.h>
#include <openssl/crypto.h>

#include "digest.h"
#include "encoding.h"
#include "oauth_private.h"

const char *oauth_registration_set(cmd_parms *cmd, void *dummy,
                                   const char *word)
{
    oauth_server_conf *conf = ap_get_module_config(cmd->server->module_config,
                                                   &apiauth_oauth_module);
    unsigned char digest[APIAUTH_DIGEST_LEN];
    apr_file_t *f;
    char token[512];
    apr_size_t len = sizeof(token) - 1;

    if (strcasecmp(word, "open") == 0) {
        conf->registration_open = 1;
        return NULL;
    }
    if (strncasecmp(word, "app=", 4) == 0 && word[4]) {
        conf->registration_app = word + 4;
        return NULL;
    }
    if (strncasecmp(word, "token=", 6) != 0 || word[6] == '\0') {
        return apr_psprintf(cmd->pool, "ApiAuthOAuthRegistration takes open, "
                            "token=FILE and app=NAME, not '%s'", word);
    }
    if (apr_file_open(&f, ap_server_root_relative(cmd->temp_pool, word + 6),
                      APR_FOPEN_READ, 0, cmd->temp_pool) != APR_SUCCESS
        || apr_file_read(f, token, &len) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "ApiAuthOAuthRegistration: cannot "
                            "read the initial access token from %s",
                            word + 6);
    }
    apr_file_close(f);
    while (len > 0 && apr_isspace(token[len - 1])) {
        len--;
    }
    if (len < 32) {
        OPENSSL_cleanse(token, sizeof(token));
        return "ApiAuthOAuthRegistration: an initial access token has at "
               "least 32 characters";
    }
    /* kept as its digest only, like every secret */
    if (apiauth_sha256(token, len, digest) != 0) {
        OPENSSL_cleanse(token, sizeof(token));
        return "ApiAuthOAuthRegistration: no SHA-256";
    }
    OPENSSL_cleanse(token, sizeof(token));
    conf->registration_token = apr_pmemdup(cmd->pool, digest, sizeof(digest));
    return NULL;
}

/* Did the request bring the initial access token?  1 yes, 0 none sent,
 * -1 a wrong one. */
static int initial_token(request_rec *r, const oauth_server_conf *conf)
{
    const char *auth = apr_table_get(r->headers_in, "Authorization");
    unsigned char digest[APIAUTH_DIGEST_LEN];

    if (auth == NULL) {
        return 0;
    }
    if (conf->registration_token == NULL
        || strncasecmp(auth, "Bearer ", 7) != 0
        || apiauth_sha256(auth + 7, strlen(auth + 7), digest) != 0
        || !apiauth_ct_equal(digest, conf->registration_token,
                             sizeof(digest))) {
        return -1;
    }
    return 1;
}

int oauth_handle_register(request_rec *r)
{
    static const apiauth_error_t closed = {
        "access_denied", "client registration is not open here"};
    static const apiauth_error_t wrong_token = {
        "invalid_token", "the initial access token is not valid"};
    static const apiauth_error_t not_json = {
        "invalid_client_metadata", "send the client metadata as "
        "application/json (RFC 7591 §3.1)"};
    static const apiauth_error_t store_down = {
        "temporarily_unavailable", "clients cannot be registered now"};
    oauth_server_conf *conf = oauth_conf(r);
    const char *type = apr_table_get(r->headers_in, "Content-Type");
    apiauth_app_t app;
    apiauth_error_t err;
    apiauth_status_t st;
    apiauth_db_t db;
    json_t *answer;
    apr_size_t len;
    char *body;
    int rc, trusted;

    if ((rc = oauth_require_method(r, M_POST)) != OK
        || (rc = oauth_too_many_failures(r)) != OK) {
        return rc;
    }
    if (conf->oauth.issuer == NULL || conf->registration_app == NULL
        || (!conf->registration_open && conf->registration_token == NULL)) {
        return oauth_answer_error(r, HTTP_FORBIDDEN, &closed);
    }
    trusted = initial_token(r, conf);
    if (trusted < 0) {
        apiauth_effects_t fx;
        apiauth_effects_init(&fx, r->pool);
        apiauth_effect_refused(&fx, "initial access token");
        oauth_apply(r, &fx);
        apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                       "Bearer error=\"invalid_token\"");
        return oauth_answer_error(r, HTTP_UNAUTHORIZED, &wrong_token);
    }
    if (!trusted && !conf->registration_open) {
        apr_table_setn(r->err_headers_out, "WWW-Authenticate", "Bearer");
        return oauth_answer_error(r, HTTP_UNAUTHORIZED, &closed);
    }
    if (type == NULL || strncasecmp(type, "application/json", 16) != 0) {
        return oauth_answer_error(r, HTTP_BAD_REQUEST, &not_json);
    }
    if ((rc = oauth_read_body(r, &body, &len)) != OK) {
        return rc;
    }
    if (oauth_store(r, &db) != 0
        || apiauth_store_app_find(r->pool, &db, conf->registration_app, &app)
               != APIAUTH_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(20070)
                      "client registration: the app %s of "
                      "ApiAuthOAuthRegistration is not in the store",
                      conf->registration_app);
        return oauth_send_error(r, APIAUTH_ERROR, &store_down);
    }
    st = apiauth_oauth_register(r->pool, &conf->oauth, &db, body, len, app.id,
                                trusted, apr_time_sec(r->request_time),
                                &answer, &err);
    if (st != APIAUTH_OK) {
        return oauth_send_error(r, st, &err);
    }
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, AALOGNO(20071)
                  "client %s registered (%s) from %s",
                  json_string_value(json_object_get(answer, "client_id")),
                  json_object_get(answer, "client_secret") ? "confidential"
                                                           : "public",
                  r->useragent_ip);
    return oauth_send_json(r, HTTP_CREATED, answer);
}
