/*
 * oauth_http.c: what every endpoint of mod_apiauth_oauth does the same way.
 *
 * Reading parameters (the query, or a bounded body parsed by lib/base/form.c
 * with RFC 6749 §3.1 rules), answering in JSON with Cache-Control:
 * no-store, mapping a refusal to its status (RFC 6749 §5.2: 400, or 401
 * with a Basic challenge for invalid_client; 503 when the store is down),
 * and borrowing the request's store connection from mod_dbd.
 */
#include <apr_optional.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <openssl/crypto.h>

#include "apiauth_dbd.h"
#include "apiauth_dpop.h"
#include "form.h"
#include "oauth_private.h"
#include "response.h"

/* mod_apiauth's, which post_config makes sure of (it refuses to start
 * without), so that handlers never find it missing. */
static const apiauth_services_t *services;

/* Asked again at each (re)start: mod_apiauth may have been loaded anew. */
void oauth_retrieve_services(void)
{
    APR_OPTIONAL_FN_TYPE(apiauth_services) *services_of =
        APR_RETRIEVE_OPTIONAL_FN(apiauth_services);

    services = services_of ? services_of() : NULL;
}

const apiauth_services_t *oauth_services(void)
{
    return services;
}

void oauth_apply(request_rec *r, const apiauth_effects_t *fx)
{
    services->apply(r, fx);
}

/* Our statements, added before mod_dbd prepares them.  Those mod_apiauth
 * prepares too are left to it: mod_dbd warns about a label given twice. */
void oauth_prepare_statements(server_rec *s)
{
    apiauth_dbd_prepare(s, APIAUTH_SQL_FOR_OAUTH, APIAUTH_SQL_FOR_AUTHN);
}

int oauth_store(request_rec *r, apiauth_db_t *db)
{
    return apiauth_dbd_open(r, db);
}

/* JSON text as the answer; `cache_control` NULL: RFC 6749 §5.1, tokens
 * and their errors are never cached. */
static int send_text(request_rec *r, int status, const char *text,
                     const char *cache_control)
{
    r->status = status;
    ap_set_content_type(r, "application/json");
    if (cache_control) {
        apr_table_setn(r->headers_out, "Cache-Control", cache_control);
    }
    else {
        apr_table_setn(r->headers_out, "Cache-Control", "no-store");
        apr_table_setn(r->headers_out, "Pragma", "no-cache");
    }
    ap_set_content_length(r, strlen(text));
    if (!r->header_only) {
        ap_rwrite(text, (int)strlen(text), r);
    }
    return OK;
}

int oauth_send_json(request_rec *r, int status, json_t *body)
{
    /* tokens and secrets leave no copy in free memory */
    const char *text = apiauth_json_sealed(r->pool, body, JSON_COMPACT);

    return text ? send_text(r, status, text, NULL)
                : HTTP_INTERNAL_SERVER_ERROR;
}

int oauth_send_public_json(request_rec *r, json_t *body)
{
    /* public and slow to change: let clients keep it a few minutes, long
     * enough to help, short enough for a key rotation to spread */
    const char *text = apiauth_json_sealed(r->pool, body, JSON_COMPACT);

    return text ? send_text(r, HTTP_OK, text, "public, max-age=300")
                : HTTP_INTERNAL_SERVER_ERROR;
}

int oauth_answer_error(request_rec *r, int status, const apiauth_error_t *err)
{
    if (status == HTTP_UNAUTHORIZED) {
        apr_table_setn(r->headers_out, "WWW-Authenticate",
                       apiauth_challenge(r->pool, "Basic",
                                         oauth_conf(r)->issuer, NULL, NULL,
                                         NULL, NULL));
    }
    else if (status == HTTP_SERVICE_UNAVAILABLE) {
        apr_table_setn(r->headers_out, "Retry-After", "5");
    }
    ap_log_rerror(APLOG_MARK, status >= 500 ? APLOG_ERR : APLOG_INFO, 0, r,
                  AALOGNO(20011) "%s refused (%d): %s (%s)", r->handler,
                  status, err->error,
                  err->description ? err->description : "");
    send_text(r, status, apiauth_json_error(r->pool, err->error,
                                            err->description), NULL);
    return DONE;
}

int oauth_send_error(request_rec *r, apiauth_status_t st,
                     const apiauth_error_t *err)
{
    if (st == APIAUTH_ERROR) {
        return oauth_answer_error(r, HTTP_SERVICE_UNAVAILABLE, err);
    }
    if (strcmp(err->error, "invalid_client") == 0) {
        return oauth_answer_error(r, HTTP_UNAUTHORIZED, err);
    }
    return oauth_answer_error(r, HTTP_BAD_REQUEST, err);
}

int oauth_too_many_failures(request_rec *r)
{
    apiauth_error_t err = {"too_many_requests", "too many refused attempts "
                           "from this address: retry later"};
    int wait = services->retry_after(r);

    if (wait <= 0) {
        return OK;
    }
    apr_table_setn(r->headers_out, "Retry-After", apr_itoa(r->pool, wait));
    return oauth_answer_error(r, HTTP_TOO_MANY_REQUESTS, &err);
}

int oauth_require_tls(request_rec *r)
{
    apiauth_error_t err = {"invalid_request",
                           "this endpoint is served over HTTPS only"};

    if (services->tls_satisfied(r)) {
        return OK;
    }
    return oauth_answer_error(r, HTTP_FORBIDDEN, &err);
}

int oauth_require_method(request_rec *r, int method)
{
    apiauth_error_t err = {"invalid_request", NULL};

    if (r->method_number == method) {
        return OK;
    }
    err.description = apr_psprintf(r->pool, "this endpoint takes %s",
                                   method == M_POST ? "POST" : "GET");
    apr_table_setn(r->headers_out, "Allow", method == M_POST ? "POST"
                                                              : "GET, HEAD");
    return oauth_answer_error(r, HTTP_METHOD_NOT_ALLOWED, &err);
}

typedef struct {
    char *at;
    apr_size_t len;
} wipe_span;

static apr_status_t wipe_span_now(void *data)
{
    wipe_span *w = data;

    OPENSSL_cleanse(w->at, w->len);
    return APR_SUCCESS;
}

void oauth_wipe_later(request_rec *r, char *at, apr_size_t len)
{
    wipe_span *w = apr_palloc(r->pool, sizeof(*w));

    w->at = at;
    w->len = len;
    apr_pool_cleanup_register(r->pool, w, wipe_span_now,
                              apr_pool_cleanup_null);
}

static int wipe_value(void *unused, const char *key, const char *value)
{
    OPENSSL_cleanse((char *)value, strlen(value));
    return 1;
}

static apr_status_t wipe_params(void *params)
{
    apr_table_do(wipe_value, NULL, params, NULL);
    return APR_SUCCESS;
}

/* The request body, at most `max` bytes: OK, or a status answered.  The
 * buffer is sized from Content-Length, or grown for a chunked body; it
 * holds secrets (client secrets, codes, passwords), so the request's end
 * wipes it. */
static int read_body_max(request_rec *r, apr_int64_t max, char **body,
                         apr_size_t *len)
{
    apiauth_error_t too_big = {"invalid_request", "the request body is too "
                               "large"};
    apr_size_t used = 0, cap;
    char *buf, *bigger;
    long n;
    int rc;

    if ((rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK) {
        return rc;
    }
    if (r->remaining > max) {
        return oauth_answer_error(r, HTTP_REQUEST_ENTITY_TOO_LARGE, &too_big);
    }
    /* one byte more than announced: a body longer than its length is
     * seen, not cut */
    cap = r->remaining > 0 ? (apr_size_t)r->remaining + 1 : 4096;
    buf = apr_palloc(r->pool, cap + 1);
    if (ap_should_client_block(r)) {
        while ((n = ap_get_client_block(r, buf + used, cap - used)) > 0) {
            used += (apr_size_t)n;
            if (used > (apr_size_t)max) {
                OPENSSL_cleanse(buf, used);
                return oauth_answer_error(r, HTTP_REQUEST_ENTITY_TOO_LARGE,
                                          &too_big);
            }
            if (used == cap) {
                bigger = apr_palloc(r->pool, 2 * cap + 1);
                memcpy(bigger, buf, used);
                OPENSSL_cleanse(buf, used);
                buf = bigger;
                cap *= 2;
            }
        }
        if (n < 0) {
            OPENSSL_cleanse(buf, used);
            return HTTP_BAD_REQUEST;
        }
    }
    buf[used] = '\0';
    oauth_wipe_later(r, buf, used);
    *body = buf;
    *len = used;
    return OK;
}

int oauth_read_params(request_rec *r, int from_body, apr_table_t **params)
{
    oauth_server_conf *conf = oauth_conf(r);
    apiauth_form_limits_t limits = {(apr_size_t)conf->max_body,
                                    OAUTH_MAX_PARAMS};
    apiauth_error_t err = {NULL, NULL};
    const char *type;
    char *body = "";
    apr_size_t len = 0;
    int rc;

    if (from_body) {
        if ((rc = read_body_max(r, conf->max_body, &body, &len)) != OK) {
            return rc;
        }
        type = apr_table_get(r->headers_in, "Content-Type");
        if (type == NULL && len == 0) {
            *params = apr_table_make(r->pool, 1);
            return OK;
        }
    }
    else {
        body = r->args ? r->args : "";
        len = strlen(body);
        type = "application/x-www-form-urlencoded";
    }
    if (apiauth_form_parse(r->pool, type ? type : "", body, len, &limits,
                           params, &err) != APIAUTH_OK) {
        return oauth_send_error(r, APIAUTH_INVALID, &err);
    }
    if (from_body) {
        apr_pool_cleanup_register(r->pool, *params, wipe_params,
                                  apr_pool_cleanup_null);
    }
    return OK;
}

int oauth_read_body(request_rec *r, char **body, apr_size_t *len)
{
    return read_body_max(r, oauth_conf(r)->max_body, body, len);
}

int oauth_app_matches(request_rec *r, apiauth_db_t *db, const char *ref,
                      const char *app_id)
{
    apiauth_app_t app;

    return apiauth_store_app_find(r->pool, db, ref, &app) == APIAUTH_OK
           && strcmp(app.id, app_id) == 0;
}

static apiauth_dpop_policy_t dpop_policy(request_rec *r)
{
    oauth_server_conf *conf = oauth_conf(r);
    apiauth_dpop_policy_t policy;

    policy.nonce_key = conf->dpop_nonce == 1 ? conf->dpop_nonce_key : NULL;
    policy.window = conf->dpop_window > 0 ? conf->dpop_window
                                          : OAUTH_DEFAULT_DPOP_WINDOW;
    policy.tls = services->over_tls(r);
    policy.forwarded_host = services->forwarded_host(r);
    return policy;
}

int oauth_dpop_binding(request_rec *r, apiauth_oauth_binding_t *bind)
{
    apiauth_dpop_policy_t policy = dpop_policy(r);
    apiauth_dpop_proof_t proof;
    apiauth_error_t err;
    apiauth_status_t st;

    bind->jkt = NULL;
    if (!apiauth_dpop_present(r)) {
        return OK;
    }
    st = apiauth_dpop_check(r, &policy, NULL, services->dpop_seen, &proof,
                            &err);
    if (st == APIAUTH_OK) {
        bind->jkt = proof.jkt;
        return OK;
    }
    if (st == APIAUTH_DENIED && strcmp(err.error, "use_dpop_nonce") == 0) {
        /* §8: the nonce to use, on the refusal that asks for it */
        apiauth_dpop_offer_nonce(r, &policy, 0);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(20060)
                  "DPoP proof refused: %s", err.description);
    return oauth_answer_error(r, st == APIAUTH_ERROR
                                     ? HTTP_SERVICE_UNAVAILABLE
                                     : HTTP_BAD_REQUEST, &err);
}

void oauth_dpop_nonce(request_rec *r)
{
    apiauth_dpop_policy_t policy = dpop_policy(r);

    apiauth_dpop_offer_nonce(r, &policy, 0);
}
