/*
 * handler_authorize.c: the authorization endpoint and its consent page.
 *
 * The resource owner is whoever httpd authenticated for this location
 * (r->user, any AuthType): this module only asks whether they allow the
 * client what it asks for.  GET shows the consent page (or, for a
 * first-party client, goes straight back with a code); the page POSTs the
 * answer with a token (its CSRF defence) bound to the user and to the
 * whole authorization request, good for one answer, and gets a 303 back
 * to the client.  The pages are consent_page.c's.  Errors before the
 * client and its redirect URI check out are shown as a page, never
 * redirected (lib/oauth/authorize.c decides which).
 */
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>

#include "form.h"
#include "oauth_private.h"
#include "scope.h"

/* Back to the client: 302 from the GET, 303 after the consent POST. */
static int redirect_back(request_rec *r, const apiauth_oauth_authz_t *a,
                         const char *code, const apiauth_error_t *err)
{
    const char *params[] = {
        "code", code,
        "error", err ? err->error : NULL,
        "error_description", err ? err->description : NULL,
        "state", a->state,
        "iss", oauth_conf(r)->oauth.issuer,   /* RFC 9207 */
        NULL};

    apr_table_setn(r->headers_out, "Location",
                   apiauth_oauth_redirect(r->pool, a->redirect_to, params));
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (err) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(20031)
                      "authorization for client %s refused: %s (%s)",
                      a->client.id, err->error,
                      err->description ? err->description : "");
    }
    r->status = r->method_number == M_POST ? HTTP_SEE_OTHER
                                            : HTTP_MOVED_TEMPORARILY;
    return DONE;
}

static int consent_page(request_rec *r, const apiauth_oauth_authz_t *a)
{
    oauth_server_conf *conf = oauth_conf(r);
    const char *token = apiauth_oauth_consent_token(
        r->pool, conf->consent_key, r->user, a,
        apr_time_sec(r->request_time));

    if (token == NULL) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return oauth_consent_page(r, a, token);
}

/* The code for `a`; `nonce`: the consent form's, spent with it (NULL for
 * a first-party client, which gets no form). */
static int issue_code(request_rec *r, apiauth_db_t *db,
                      const apiauth_oauth_authz_t *a, const char *nonce)
{
    oauth_server_conf *conf = oauth_conf(r);
    const char *code = NULL;
    apiauth_error_t err;
    apiauth_status_t st;

    st = apiauth_oauth_authorize_issue(r->pool, &conf->oauth, db, a, r->user,
                                       nonce, apr_time_sec(r->request_time),
                                       &code, &err);
    if (st == APIAUTH_DENIED) {
        return oauth_error_page(r, HTTP_FORBIDDEN, &err);
    }
    if (st != APIAUTH_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(20032)
                      "cannot record an authorization: %s",
                      db->last_error ? db->last_error : err.description);
        err.error = "temporarily_unavailable";
        return redirect_back(r, a, NULL, &err);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(20033)
                  "user %s authorized client %s for \"%s\"", r->user,
                  a->client.id, a->granted_scope);
    return redirect_back(r, a, code, NULL);
}

/* The user becomes the sub of every token of this grant, then r->user,
 * APIAUTH_USER and X-ApiAuth-User at the resources: a name with
 * separators would split those, and one like app_... or cli_... (or the
 * client's own id, which makes a token look like the client's) would pass
 * for an app or a client (docs/design.md: subjects never collide). */
static int subject_name_usable(const char *user)
{
    return apiauth_name_is_valid(user) && strncmp(user, "app_", 4) != 0
           && strncmp(user, "cli_", 4) != 0;
}

int oauth_handle_authorize(request_rec *r)
{
    oauth_server_conf *conf = oauth_conf(r);
    apiauth_form_limits_t limits = {(apr_size_t)conf->max_body,
                                    OAUTH_MAX_PARAMS};
    apiauth_oauth_authz_t a;
    apiauth_error_t err = {NULL, NULL};
    apr_table_t *params;
    apiauth_db_t db;
    apiauth_status_t st;
    const char *decision, *nonce = NULL;
    int redirectable = 0, rc, posted = r->method_number == M_POST;

    if (!posted && (rc = oauth_require_method(r, M_GET)) != OK) {
        return rc;
    }
    if (r->header_only) {
        /* HEAD must not issue a first-party client's code */
        apiauth_error_t get_only = {"invalid_request",
                                    "this endpoint takes GET"};
        apr_table_setn(r->headers_out, "Allow", "GET, POST");
        return oauth_answer_error(r, HTTP_METHOD_NOT_ALLOWED, &get_only);
    }
    if (r->user == NULL || conf->oauth.issuer == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(20034)
                      "apiauth-authorize needs the resource owner "
                      "authenticated here (AuthType ..., Require "
                      "valid-user) and ApiAuthOAuthIssuer");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!subject_name_usable(r->user)) {
        apiauth_error_t unusable = {"access_denied", "this account's name "
                                    "cannot be the subject of a token "
                                    "(separators, or app_ or cli_ first)"};
        return oauth_error_page(r, HTTP_FORBIDDEN, &unusable);
    }
    if (posted) {
        if ((rc = oauth_read_params(r, 1, &params)) != OK) {
            return rc;
        }
    }
    else if (apiauth_form_parse(r->pool, "application/x-www-form-urlencoded",
                                r->args ? r->args : "",
                                r->args ? strlen(r->args) : 0, &limits,
                                &params, &err) != APIAUTH_OK) {
        return oauth_error_page(r, HTTP_BAD_REQUEST, &err);
    }
    if (oauth_store(r, &db) != 0) {
        apiauth_error_t down = {"temporarily_unavailable",
                                "the authorization server cannot reach its "
                                "store; try again later"};
        return oauth_error_page(r, HTTP_SERVICE_UNAVAILABLE, &down);
    }
    /* a client named by its metadata document's URL: known from now on */
    st = oauth_cimd_prepare(r, &db, apr_table_get(params, "client_id"), &err);
    if (st != APIAUTH_OK) {
        return oauth_error_page(r, st == APIAUTH_ERROR
                                       ? HTTP_SERVICE_UNAVAILABLE
                                       : HTTP_BAD_REQUEST, &err);
    }
    st = apiauth_oauth_authorize_check(r->pool, &conf->oauth, &db, params, &a,
                                       &redirectable, &err);
    if (st == APIAUTH_ERROR) {
        return oauth_error_page(r, HTTP_SERVICE_UNAVAILABLE, &err);
    }
    if (st != APIAUTH_OK) {
        return redirectable ? redirect_back(r, &a, NULL, &err)
                            : oauth_error_page(r, HTTP_BAD_REQUEST, &err);
    }
    if (!posted) {
        return a.client.first_party ? issue_code(r, &db, &a, NULL)
                                    : consent_page(r, &a);
    }
    /* the form answers the very request it was made for, once */
    if (!apiauth_oauth_consent_token_valid(r->pool, conf->consent_key,
                                           apr_table_get(params, "csrf"),
                                           r->user, &a,
                                           apr_time_sec(r->request_time),
                                           &nonce)) {
        apiauth_error_t forged = {"access_denied", "the consent form has "
                                  "expired, was changed, or was not issued "
                                  "to you"};
        return oauth_error_page(r, HTTP_FORBIDDEN, &forged);
    }
    decision = apr_table_get(params, "decision");
    if (decision && strcmp(decision, "approve") == 0) {
        return issue_code(r, &db, &a, nonce);
    }
    switch (apiauth_oauth_consent_spend(r->pool, &conf->oauth, &db, nonce,
                                        apr_time_sec(r->request_time))) {
    case APIAUTH_OK:
        break;
    case APIAUTH_DENIED: {
        apiauth_error_t used = {"access_denied", "this consent form was "
                                "answered already"};
        return oauth_error_page(r, HTTP_FORBIDDEN, &used);
    }
    default: {
        apiauth_error_t down = {"temporarily_unavailable",
                                "the authorization server cannot reach its "
                                "store; try again later"};
        return oauth_error_page(r, HTTP_SERVICE_UNAVAILABLE, &down);
    }
    }
    err.error = "access_denied";
    err.description = "the user denied the request";
    return redirect_back(r, &a, NULL, &err);
}
