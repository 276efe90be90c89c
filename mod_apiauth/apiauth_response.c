/*
 * apiauth_response.c: how a refusal is answered.
 *
 * A refusal is returned as an HTTP status from a hook, so httpd's own
 * error machinery sends it (logging, keep-alive and ErrorDocument rules
 * all as usual).  We only add to it: WWW-Authenticate challenges in
 * err_headers_out (httpd keeps those on error responses), the JSON body as
 * a custom response, and a small output filter that labels that body
 * application/json, since ap_send_error_response labels every error body
 * text/html after the insert_error_filter hook has run.
 */
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include "apiauth_private.h"
#include "dpop.h"
#include "response.h"

#define NOTE_ERROR "apiauth-error"
#define NOTE_CHALLENGED "apiauth-challenged"
/* the last Require apiauth-* denial, until httpd decides the request */
#define NOTE_DENIED_ERROR "apiauth-denied-error"
#define NOTE_DENIED_DESCRIPTION "apiauth-denied-description"
#define NOTE_DENIED_SCOPE "apiauth-denied-scope"

static const char *challenge_scheme(apiauth_scheme_t s)
{
    switch (s) {
    case APIAUTH_SCHEME_BEARER:
        return "Bearer";
    case APIAUTH_SCHEME_TOKEN:
        return "Token";
    case APIAUTH_SCHEME_BASIC:
        return "Basic";
    case APIAUTH_SCHEME_APIKEY:
        return "ApiKey";
    case APIAUTH_SCHEME_DPOP:
        return "DPoP";
    default:
        return "Install";
    }
}

/* Scheme-specific auth-params telling a client where the credential goes. */
static const char *challenge_extra(request_rec *r, const apiauth_dir_conf *conf,
                                   apiauth_scheme_t s)
{
    if (s == APIAUTH_SCHEME_APIKEY) {
        const char *h = conf->key_header ? conf->key_header
                                         : APIAUTH_DEFAULT_KEY_HEADER;
        if (conf->key_query && *conf->key_query) {
            return apr_psprintf(r->pool, "header=\"%s\", query=\"%s\"", h,
                                conf->key_query);
        }
        return apr_psprintf(r->pool, "header=\"%s\"", h);
    }
    if (s == APIAUTH_SCHEME_INSTALL) {
        return "query=\"installid token\", "
               "header=\"X-Install-Id X-Install-Token\"";
    }
    if (s == APIAUTH_SCHEME_DPOP) {
        return "algs=\"" APIAUTH_DPOP_ALGS_TEXT "\"";   /* RFC 9449 §7.1 */
    }
    return NULL;
}

static const apr_array_header_t *schemes_of(request_rec *r,
                                            const apiauth_dir_conf *conf)
{
    static const apiauth_scheme_t defaults[] = {
        APIAUTH_SCHEME_BEARER, APIAUTH_SCHEME_APIKEY, APIAUTH_SCHEME_TOKEN,
        APIAUTH_SCHEME_BASIC};
    apr_array_header_t *a;
    size_t i;

    if (conf->schemes) {
        return conf->schemes;
    }
    a = apr_array_make(r->pool, 4, sizeof(apiauth_scheme_t));
    for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        APR_ARRAY_PUSH(a, apiauth_scheme_t) = defaults[i];
    }
    return a;
}

/* The auth-params of a challenge: the scheme's own, and for a token
 * scheme at a location with ApiAuthResource, where its metadata is
 * (RFC 9728 §5.1). */
static const char *challenge_params(request_rec *r,
                                    const apiauth_dir_conf *conf,
                                    apiauth_scheme_t s)
{
    const char *extra = challenge_extra(r, conf, s);
    const char *discovery = (s == APIAUTH_SCHEME_BEARER
                             || s == APIAUTH_SCHEME_DPOP)
                                ? apiauth_resource_challenge(r, conf, 1)
                                : NULL;

    if (discovery == NULL) {
        return extra;
    }
    return extra ? apr_pstrcat(r->pool, discovery, ", ", extra, NULL)
                 : discovery;
}

static void add_challenge(request_rec *r, const apiauth_dir_conf *conf,
                          const apiauth_error_t *err,
                          apiauth_scheme_t presented, apiauth_scheme_t s)
{
    int with_error = err && (s == presented
                             || (presented == 0
                                 && s == APIAUTH_SCHEME_BEARER));

    apr_table_addn(r->err_headers_out, "WWW-Authenticate",
                   apiauth_challenge(r->pool, challenge_scheme(s),
                                     ap_auth_name(r),
                                     with_error ? err->error : NULL,
                                     with_error ? err->description : NULL,
                                     NULL, challenge_params(r, conf, s)));
}

/* One challenge per accepted scheme, in ApiAuthScheme order; at a location
 * with ApiAuthResource, Bearer's first where it is accepted (the clients
 * that discover from a 401 may read only the first: the MCP SDK does).
 * The error (RFC 6750 §3) goes on the challenge of the scheme that was
 * presented; on a 400 with no scheme known, on Bearer's. */
static void add_challenges(request_rec *r, const apiauth_dir_conf *conf,
                           const apiauth_error_t *err,
                           apiauth_scheme_t presented)
{
    const apr_array_header_t *schemes = schemes_of(r, conf);
    unsigned mask = conf->schemes ? conf->scheme_mask
                                  : APIAUTH_DEFAULT_SCHEMES;
    int bearer_first = conf->resource && (mask & APIAUTH_SCHEME_BEARER);
    int i;

    if (bearer_first) {
        add_challenge(r, conf, err, presented, APIAUTH_SCHEME_BEARER);
    }
    for (i = 0; i < schemes->nelts; i++) {
        apiauth_scheme_t s = APR_ARRAY_IDX(schemes, i, apiauth_scheme_t);
        if (!bearer_first || s != APIAUTH_SCHEME_BEARER) {
            add_challenge(r, conf, err, presented, s);
        }
    }
    apr_table_setn(r->notes, NOTE_CHALLENGED, "1");
}

static void set_json_body(request_rec *r, int status,
                          const apiauth_error_t *err)
{
    const char *body = apiauth_json_error(r->pool, err->error,
                                          err->description);

    ap_custom_response(r, status, body);
    apr_table_setn(r->notes, NOTE_ERROR, err->error);
}

int apiauth_refuse(request_rec *r, const apiauth_dir_conf *conf, int status,
                   const apiauth_error_t *err, apiauth_scheme_t presented,
                   const char *scope)
{
    static const apiauth_error_t missing = {
        "unauthorized", "authentication is required"};
    static const apiauth_error_t unavailable = {
        "temporarily_unavailable", "the credential store is unreachable"};
    const apiauth_error_t *body = err;

    apiauth_metrics_refused(r, conf, status, err);
    if (status == HTTP_SERVICE_UNAVAILABLE) {
        body = &unavailable;   /* never say more about the store */
    }
    else if (body == NULL) {
        body = &missing;
    }

    if (status == HTTP_UNAUTHORIZED || status == HTTP_BAD_REQUEST) {
        add_challenges(r, conf, err, presented);
    }
    else if (status == HTTP_FORBIDDEN && scope) {
        apr_table_addn(r->err_headers_out, "WWW-Authenticate",
                       apiauth_challenge(r->pool,
                                         challenge_scheme(presented
                                                          ? presented
                                                          : APIAUTH_SCHEME_BEARER),
                                         ap_auth_name(r), body->error,
                                         body->description, scope,
                                         apiauth_resource_challenge(
                                             r, conf, 0)));
        apr_table_setn(r->notes, NOTE_CHALLENGED, "1");
    }
    set_json_body(r, status, body);
    return status;
}

/* An authorization denial is only noted: a later Require of the same
 * <RequireAny> may still grant the request, and a granted request must
 * carry neither the challenge nor the body of a denial on its way.  The
 * answer is written from the last denial once httpd refuses (401 or 403,
 * by AuthzSendForbiddenOnFailure), so its challenge and body agree. */
void apiauth_refuse_authz(request_rec *r, const apiauth_error_t *err,
                          const char *scope)
{
    apr_table_setn(r->notes, NOTE_DENIED_ERROR, err->error);
    apr_table_setn(r->notes, NOTE_DENIED_DESCRIPTION, err->description);
    if (scope) {
        apr_table_setn(r->notes, NOTE_DENIED_SCOPE, scope);
    }
    else {
        apr_table_unset(r->notes, NOTE_DENIED_SCOPE);
    }
}

/* httpd granted the request after all (fixups run only then). */
void apiauth_forget_denial(request_rec *r)
{
    /* the three are noted together: one look, not three, when there is
     * none (every granted request) */
    if (apr_table_get(r->notes, NOTE_DENIED_ERROR) == NULL) {
        return;
    }
    apr_table_unset(r->notes, NOTE_DENIED_ERROR);
    apr_table_unset(r->notes, NOTE_DENIED_DESCRIPTION);
    apr_table_unset(r->notes, NOTE_DENIED_SCOPE);
}

/* Writes the answer to the noted denial, if there is one. */
static void answer_denial(request_rec *r)
{
    apiauth_dir_conf *conf;
    const apiauth_request_state *st;
    apiauth_error_t err;
    const char *scope;

    err.error = apr_table_get(r->notes, NOTE_DENIED_ERROR);
    if (err.error == NULL) {
        return;
    }
    err.description = apr_table_get(r->notes, NOTE_DENIED_DESCRIPTION);
    scope = apr_table_get(r->notes, NOTE_DENIED_SCOPE);
    apiauth_forget_denial(r);
    conf = ap_get_module_config(r->per_dir_config, &apiauth_module);
    st = ap_get_module_config(r->request_config, &apiauth_module);
    apiauth_refuse(r, conf, HTTP_FORBIDDEN, &err, st ? st->scheme : 0, scope);
    set_json_body(r, HTTP_UNAUTHORIZED, &err);
}

/* httpd calls this when it answers 401 to a Require denial. */
int apiauth_note_auth_failure(request_rec *r, const char *auth_type)
{
    apiauth_dir_conf *conf;

    if (strcasecmp(auth_type, APIAUTH_AUTH_TYPE) != 0) {
        return DECLINED;
    }
    answer_denial(r);
    if (apr_table_get(r->notes, NOTE_CHALLENGED) == NULL) {
        conf = ap_get_module_config(r->per_dir_config, &apiauth_module);
        add_challenges(r, conf, NULL, 0);
    }
    return OK;
}

/* Runs as httpd starts an error response, before it sends err_headers_out
 * and looks up the custom response: the last moment to answer a denial
 * (the 403 of AuthzSendForbiddenOnFailure, or a 401 of AuthType Basic). */
void apiauth_insert_error_filter(request_rec *r)
{
    if (r->status == HTTP_FORBIDDEN || r->status == HTTP_UNAUTHORIZED) {
        answer_denial(r);
    }
    if (apr_table_get(r->notes, NOTE_ERROR)) {
        ap_add_output_filter(APIAUTH_ERROR_FILTER, NULL, r, r->connection);
    }
}

apr_status_t apiauth_error_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    ap_set_content_type(f->r, "application/json");
    apr_table_setn(f->r->headers_out, "Cache-Control", "no-store");
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}
