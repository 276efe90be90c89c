/*
 * handler_login.c: the endpoints that mint credentials for people and
 * devices -- apiauth-login (Tapglue's user/login: POST logs a user in
 * within an app and returns a session token, DELETE ends that session) and
 * apiauth-install-token (Contextual's GET .../users/token?installid=X: a
 * dashboard user authenticated by mod_apiauth gets a token for one device
 * install).  The logic is lib/oauth/login.c; this file reads and answers.
 */
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>

#include "credential.h"
#include "form.h"
#include "jsonreq.h"
#include "oauth_private.h"
#include "response.h"
#include "login.h"

static const apiauth_error_t store_down = {
    "temporarily_unavailable", "the credential store is unreachable"};

/* A 401 naming the Basic scheme these endpoints take. */
static int unauthorized(request_rec *r, const char *error,
                        const char *description)
{
    apiauth_error_t err = {error, description};

    apr_table_setn(r->headers_out, "WWW-Authenticate",
                   apiauth_challenge(r->pool, "Basic",
                                     ap_auth_name(r) ? ap_auth_name(r) : "api",
                                     NULL, NULL, NULL, NULL));
    return oauth_answer_error(r, HTTP_UNAUTHORIZED, &err);
}

/* The app token (and second part) of `Authorization: Basic` and the app
 * it names: OK, or an answer already sent (DONE). */
static int app_of_request(request_rec *r, apiauth_db_t *db,
                          apiauth_credential_t *cred,
                          apiauth_credential_row_t *app)
{
    apiauth_request_material_t m = {0};
    apiauth_error_t err = {NULL, NULL};
    apiauth_effects_t fx;
    apiauth_status_t st;

    m.accepted = APIAUTH_SCHEME_BASIC;
    m.authorization = apr_table_get(r->headers_in, "Authorization");
    st = apiauth_credential_parse(r->pool, &m, cred, &err);
    if (st == APIAUTH_INVALID) {
        return oauth_answer_error(r, HTTP_BAD_REQUEST, &err);
    }
    if (st != APIAUTH_OK) {
        return unauthorized(r, "invalid_client", "the app token is required "
                            "as the Basic user name");
    }
    apiauth_effects_init(&fx, r->pool);
    st = apiauth_login_app(r->pool, db, oauth_conf(r)->oauth.pepper, cred,
                           apr_time_sec(r->request_time), app, &fx, &err);
    oauth_apply(r, &fx);
    if (st == APIAUTH_ERROR) {
        return oauth_send_error(r, st, &err);
    }
    return st == APIAUTH_OK ? OK : unauthorized(r, err.error, err.description);
}

/* {"username"|"email": ..., "password": ...} as JSON, or the same fields
 * of a form.  The body and the copies read from it are wiped when the
 * request ends (oauth_http.c); jansson's own copies of a JSON body go
 * back to malloc unwiped: its allocator is the process's, shared with
 * every other module, and not ours to replace. */
static int login_fields(request_rec *r, const char **login,
                        const char **password)
{
    const char *type = apr_table_get(r->headers_in, "Content-Type");
    apiauth_error_t bad = {"invalid_request", "send {\"username\" or "
                           "\"email\", \"password\"} as JSON or a form"};
    apr_table_t *params;
    int rc;

    if (type && strncasecmp(type, "application/json", 16) == 0) {
        static const char *const names[] = {"username", "email", "password",
                                            NULL};
        const char *v[3];
        char *body;
        apr_size_t len;
        if ((rc = oauth_read_body(r, &body, &len)) != OK) {
            return rc;
        }
        /* exactly one of username and email */
        if (apiauth_json_fields(r->pool, body, len, names, 0, v, NULL)
                != APIAUTH_OK
            || (v[0] != NULL) == (v[1] != NULL) || v[2] == NULL) {
            return oauth_answer_error(r, HTTP_BAD_REQUEST, &bad);
        }
        *login = v[0] ? v[0] : v[1];
        *password = v[2];
        oauth_wipe_later(r, (char *)v[2], strlen(v[2]));
    }
    else {
        if ((rc = oauth_read_params(r, 1, &params)) != OK) {
            return rc;
        }
        *login = apr_table_get(params, "username");
        if (*login == NULL) {
            *login = apr_table_get(params, "email");
        }
        *password = apr_table_get(params, "password");
        if (*login == NULL || *password == NULL
            || (apr_table_get(params, "username")
                && apr_table_get(params, "email"))) {
            return oauth_answer_error(r, HTTP_BAD_REQUEST, &bad);
        }
    }
    if (**login == '\0' || strlen(*login) > 256 || strlen(*password) > 1024) {
        return oauth_answer_error(r, HTTP_BAD_REQUEST, &bad);
    }
    return OK;
}

static int login(request_rec *r, apiauth_db_t *db)
{
    oauth_server_conf *conf = oauth_conf(r);
    apiauth_credential_t cred;
    apiauth_credential_row_t app;
    apiauth_error_t err;
    const char *login_name = NULL, *password = NULL, *user, *secret, *id;
    apr_int64_t now = apr_time_sec(r->request_time);
    apiauth_effects_t fx;
    apiauth_status_t st;
    int rc;

    if ((rc = app_of_request(r, db, &cred, &app)) != OK) {
        return rc;
    }
    if (*cred.password != '\0') {
        return unauthorized(r, "invalid_request", "log in with the app token "
                            "and an empty password");
    }
    if ((rc = login_fields(r, &login_name, &password)) != OK) {
        return rc;
    }
    apiauth_effects_init(&fx, r->pool);
    st = apiauth_login_check(r->pool, db, app.identity.app, login_name,
                             password, &user, &fx, &err);
    if (st == APIAUTH_OK
        && apiauth_mint_credential(r->pool, db, conf->oauth.pepper,
                                   APIAUTH_KIND_SESSION, app.identity.app,
                                   user, NULL, now, conf->session_lifetime,
                                   &secret, &id, &fx) != APIAUTH_OK) {
        return oauth_send_error(r, APIAUTH_ERROR, &store_down);
    }
    oauth_apply(r, &fx);
    if (st == APIAUTH_ERROR) {
        return oauth_send_error(r, st, &err);
    }
    if (st != APIAUTH_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(20050)
                      "login to app %s refused (app token %s)",
                      app.identity.app, app.identity.credential_id);
        return unauthorized(r, err.error, err.description);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(20051)
                  "user %s logged in to app %s: session %s", user,
                  app.identity.app, id);
    return oauth_send_json(r, HTTP_CREATED, json_pack(
               "{s:s, s:s, s:I}", "user_id", user, "session_token", secret,
               "expires_in", (json_int_t)conf->session_lifetime)) == OK
               ? DONE
               : HTTP_INTERNAL_SERVER_ERROR;
}

static int logout(request_rec *r, apiauth_db_t *db)
{
    apiauth_credential_t cred;
    apiauth_credential_row_t app, session;
    apiauth_effects_t fx;
    apiauth_error_t err;
    apiauth_status_t st;
    int rc;

    if ((rc = app_of_request(r, db, &cred, &app)) != OK) {
        return rc;
    }
    apiauth_effects_init(&fx, r->pool);
    st = apiauth_logout(r->pool, db, oauth_conf(r)->oauth.pepper, &cred, &app,
                        apr_time_sec(r->request_time), &session, &fx, &err);
    oauth_apply(r, &fx);
    if (st == APIAUTH_ERROR) {
        return oauth_send_error(r, st, &err);
    }
    if (st != APIAUTH_OK) {
        return unauthorized(r, err.error, err.description);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(20052)
                  "session %s of user %s ended", session.identity.credential_id,
                  session.identity.user);
    r->status = HTTP_NO_CONTENT;
    return DONE;
}

int oauth_handle_login(request_rec *r)
{
    apiauth_db_t db;
    int rc;

    if (r->method_number != M_POST && r->method_number != M_DELETE) {
        apiauth_error_t err = {"invalid_request", "POST logs in, DELETE logs "
                               "out"};
        apr_table_setn(r->headers_out, "Allow", "POST, DELETE");
        return oauth_answer_error(r, HTTP_METHOD_NOT_ALLOWED, &err);
    }
    if ((rc = oauth_too_many_failures(r)) != OK) {
        return rc;
    }
    if (oauth_store(r, &db) != 0) {
        return oauth_send_error(r, APIAUTH_ERROR, &store_down);
    }
    return r->method_number == M_POST ? login(r, &db) : logout(r, &db);
}

int oauth_handle_install_token(request_rec *r)
{
    APR_OPTIONAL_FN_TYPE(apiauth_request_identity) *identity_of =
        APR_RETRIEVE_OPTIONAL_FN(apiauth_request_identity);
    oauth_server_conf *conf = oauth_conf(r);
    const apiauth_identity_t *caller = identity_of ? identity_of(r) : NULL;
    const char *install_id = NULL, *app_key = NULL, *secret, *id;
    apiauth_error_t err = {"invalid_request", NULL};
    apiauth_effects_t fx;
    apiauth_db_t db;
    int n, rc;

    if ((rc = oauth_require_method(r, M_GET)) != OK) {
        return rc;
    }
    if (caller == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(20053)
                      "apiauth-install-token needs AuthType apiauth on its "
                      "location: the caller must be authenticated");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    n = apiauth_query_get(r->pool, r->args, "installid", &install_id);
    if (n != 1 || !apiauth_name_is_valid(install_id)) {
        err.description = n == 0 ? "installid is required"
                                 : "installid is repeated or malformed";
        return oauth_answer_error(r, HTTP_BAD_REQUEST, &err);
    }
    n = apiauth_query_get(r->pool, r->args, "app_key", &app_key);
    if (n > 1 || n < 0) {
        err.description = "app_key is repeated or malformed";
        return oauth_answer_error(r, HTTP_BAD_REQUEST, &err);
    }
    if (oauth_store(r, &db) != 0) {
        return oauth_send_error(r, APIAUTH_ERROR, &store_down);
    }
    if (app_key && !oauth_app_matches(r, &db, app_key, caller->app)) {
        apiauth_error_t denied = {"access_denied", "app_key is not the app "
                                  "of your credential"};
        return oauth_answer_error(r, HTTP_FORBIDDEN, &denied);
    }
    apiauth_effects_init(&fx, r->pool);
    if (apiauth_mint_credential(r->pool, &db, conf->oauth.pepper,
                                APIAUTH_KIND_INSTALL, caller->app,
                                caller->user, install_id,
                                apr_time_sec(r->request_time),
                                conf->install_lifetime, &secret, &id, &fx)
        != APIAUTH_OK) {
        return oauth_send_error(r, APIAUTH_ERROR, &store_down);
    }
    oauth_apply(r, &fx);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(20054)
                  "install token %s for install %s of app %s, by %s", id,
                  install_id, caller->app, apiauth_identity_subject(caller));
    oauth_send_json(r, HTTP_OK, json_pack(
        "{s:s, s:s, s:I}", "token", secret, "installid", install_id,
        "expires_in", (json_int_t)conf->install_lifetime));
    return DONE;
}
