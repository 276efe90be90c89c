/*
 * apiauth_authn.c: AuthType apiauth.
 *
 * The check_authn hook reads the request's one credential, has it resolved
 * (apiauth_resolve.c) and publishes who the caller is: r->user, APIAUTH_*
 * variables, optional X-ApiAuth-* headers.  It then takes the credential
 * out of the request so that it reaches neither a backend nor a log.  The
 * same publication serves `AuthBasicProvider apiauth`, where mod_auth_basic
 * reads the header and we only check the pair.
 */
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>
#include <mod_auth.h>

#include "apiauth_private.h"
#include "form.h"
#include "keys.h"

#define INSTALL_ID_HEADER "X-Install-Id"
#define INSTALL_TOKEN_HEADER "X-Install-Token"
#define INSTALL_ID_PARAM "installid"
#define INSTALL_TOKEN_PARAM "token"
#define FORWARD_PREFIX "X-ApiAuth-"

static const char *key_header_of(const apiauth_dir_conf *conf)
{
    return conf->key_header ? conf->key_header : APIAUTH_DEFAULT_KEY_HEADER;
}

int apiauth_tls_ok(request_rec *r, const apiauth_dir_conf *conf)
{
    return conf->require_tls == 0 || apiauth_over_tls(r);
}

/* Everything in the request that may be a credential, as the parser
 * wants it.  Returns 0, or -1 when a query value is not decodable. */
static int gather_material(request_rec *r, const apiauth_dir_conf *conf,
                           apiauth_request_material_t *m)
{
    memset(m, 0, sizeof(*m));
    m->accepted = conf->schemes ? conf->scheme_mask : APIAUTH_DEFAULT_SCHEMES;
    m->authorization = apr_table_get(r->headers_in, "Authorization");
    if (m->accepted & APIAUTH_SCHEME_APIKEY) {
        m->key_header = apr_table_get(r->headers_in, key_header_of(conf));
        if (conf->key_query && *conf->key_query && r->args) {
            m->key_query_count = apiauth_query_get(r->pool, r->args,
                                                   conf->key_query,
                                                   &m->key_query);
            if (m->key_query_count < 0) {
                return -1;
            }
        }
    }
    if (m->accepted & APIAUTH_SCHEME_INSTALL) {
        m->install_id_header = apr_table_get(r->headers_in, INSTALL_ID_HEADER);
        m->install_token_header = apr_table_get(r->headers_in,
                                                INSTALL_TOKEN_HEADER);
        if (r->args) {
            m->install_id_query_count = apiauth_query_get(
                r->pool, r->args, INSTALL_ID_PARAM, &m->install_id_query);
            m->install_token_query_count = apiauth_query_get(
                r->pool, r->args, INSTALL_TOKEN_PARAM,
                &m->install_token_query);
            if (m->install_id_query_count < 0
                || m->install_token_query_count < 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* Removes the query parameter `name` from what later phases, the backend
 * and the access log see: r->args and the URIs lose it, the request line
 * keeps it masked so that the log still shows one was sent. */
static void strip_query_param(request_rec *r, const char *name)
{
    const char *names[2] = {name, NULL};
    const char *old_args = r->args;
    char *args, *q;

    if (old_args == NULL) {
        return;
    }
    args = apiauth_query_rewrite(r->pool, old_args, names, NULL);
    r->args = args;
    r->parsed_uri.query = args;
    q = ap_strchr(r->unparsed_uri, '?');
    if (q) {
        r->unparsed_uri = apr_pstrcat(r->pool,
                                      apr_pstrmemdup(r->pool, r->unparsed_uri,
                                                     q - r->unparsed_uri),
                                      args ? "?" : "", args, NULL);
    }
    r->the_request = (char *)apiauth_request_line_with_query(
        r->pool, r->the_request, old_args,
        apiauth_query_rewrite(r->pool, old_args, names, "***"));
}

/* ApiAuthKeepCredential on with a query credential: the backend gets the
 * query as it came, the log may not.  The request line is masked now;
 * r->args, which %q logs, once the request is over
 * (apiauth_mask_logged_query). */
static void keep_query_param(request_rec *r, apiauth_request_state *st,
                             const char *name)
{
    const char *names[2] = {name, NULL};

    st->kept_query = name;
    r->the_request = (char *)apiauth_request_line_with_query(
        r->pool, r->the_request, r->args,
        apiauth_query_rewrite(r->pool, r->args, names, "***"));
}

/* What the access log (%r, %q) must not show of a query, once the request
 * is over: a credential of ours kept for the backend (ApiAuthKeepCredential
 * on), and an OAuth access token sent in the query (RFC 6750 §2.3), which
 * no scheme here takes but which is a secret all the same.  Both stay in
 * the query the backend got. */
#define ACCESS_TOKEN_PARAM "access_token"

int apiauth_mask_logged_query(request_rec *r)
{
    const apiauth_request_state *st;
    const char *names[3] = {NULL, NULL, NULL};
    request_rec *each;
    int n = 0;

    /* the identity may be on any request of an internal redirect chain */
    for (each = r; each && n == 0; each = each->next) {
        st = ap_get_module_config(each->request_config, &apiauth_module);
        if (st && st->kept_query) {
            names[n++] = st->kept_query;
        }
    }
    for (each = r; each; each = each->next) {
        const char *type;
        /* the query first: ap_auth_type() evaluates an expression */
        if (each->args && ap_strstr_c(each->args, ACCESS_TOKEN_PARAM)
            && (type = ap_auth_type(each)) != NULL
            && strcasecmp(type, APIAUTH_AUTH_TYPE) == 0) {
            names[n++] = ACCESS_TOKEN_PARAM;
            break;
        }
    }
    for (each = r; n && each; each = each->next) {
        if (each->args) {
            each->args = apiauth_query_rewrite(each->pool, each->args, names,
                                               "***");
        }
        each->the_request = (char *)apiauth_request_line_masked(
            each->pool, each->the_request, names, "***");
    }
    return DECLINED;
}

static void strip_credential(request_rec *r, const apiauth_dir_conf *conf,
                             const apiauth_credential_t *cred)
{
    switch (cred->source) {
    case APIAUTH_FROM_AUTHORIZATION:
        apr_table_unset(r->headers_in, "Authorization");
        break;
    case APIAUTH_FROM_KEY_HEADER:
        apr_table_unset(r->headers_in, key_header_of(conf));
        break;
    case APIAUTH_FROM_KEY_QUERY:
        strip_query_param(r, conf->key_query);
        break;
    case APIAUTH_FROM_INSTALL_HEADERS:
        apr_table_unset(r->headers_in, INSTALL_TOKEN_HEADER);
        break;
    case APIAUTH_FROM_INSTALL_QUERY:
        strip_query_param(r, INSTALL_TOKEN_PARAM);
        break;
    }
}

/* Nobody outside may speak for us: X-ApiAuth-* never survive from the
 * client, whether or not this location forwards its own. */
void apiauth_strip_spoofed_headers(request_rec *r)
{
    apr_array_header_t *names = NULL;
    const apr_array_header_t *all = apr_table_elts(r->headers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)all->elts;
    int i;

    for (i = 0; i < all->nelts; i++) {
        if (e[i].key && (e[i].key[0] == 'X' || e[i].key[0] == 'x')
            && strncasecmp(e[i].key, FORWARD_PREFIX,
                           sizeof(FORWARD_PREFIX) - 1) == 0) {
            if (names == NULL) {
                names = apr_array_make(r->pool, 2, sizeof(const char *));
            }
            APR_ARRAY_PUSH(names, const char *) = e[i].key;
        }
    }
    for (i = 0; names && i < names->nelts; i++) {
        apr_table_unset(r->headers_in, APR_ARRAY_IDX(names, i, const char *));
    }
}

const apiauth_identity_t *apiauth_identity_of(request_rec *r)
{
    apiauth_request_state *st;

    for (; r; r = r->main) {
        st = ap_get_module_config(r->request_config, &apiauth_module);
        if (st) {
            return &st->identity;
        }
    }
    return NULL;
}

/* What the application sees, as environment variables and, with
 * ApiAuthForwardHeaders, as headers to a backend: names written out, so
 * that publishing costs no string building on the hot path (and the
 * header names have no underscore, which proxies tend to drop). */
enum {
    VAR_APP, VAR_KIND, VAR_SCHEME, VAR_SCOPE, VAR_CREDENTIAL_ID, VAR_EXPIRES,
    VAR_USER, VAR_CLIENT_ID, VAR_INSTALL_ID, VAR_ACTING_APP, VAR_ISSUER,
    VAR_COUNT
};

static const char *const var_names[VAR_COUNT][2] = {
    {"APIAUTH_APP", FORWARD_PREFIX "App"},
    {"APIAUTH_KIND", FORWARD_PREFIX "Kind"},
    {"APIAUTH_SCHEME", FORWARD_PREFIX "Scheme"},
    {"APIAUTH_SCOPE", FORWARD_PREFIX "Scope"},
    {"APIAUTH_CREDENTIAL_ID", FORWARD_PREFIX "Credential-Id"},
    {"APIAUTH_EXPIRES", FORWARD_PREFIX "Expires"},
    {"APIAUTH_USER", FORWARD_PREFIX "User"},
    {"APIAUTH_CLIENT_ID", FORWARD_PREFIX "Client-Id"},
    {"APIAUTH_INSTALL_ID", FORWARD_PREFIX "Install-Id"},
    {"APIAUTH_ACTING_APP", FORWARD_PREFIX "Acting-App"},
    {"APIAUTH_ISSUER", FORWARD_PREFIX "Issuer"},
};

static void set_identity_var(request_rec *r, int forward, int var,
                             const char *value)
{
    if (value == NULL) {
        return;
    }
    /* addn: nothing else sets these names in a main request (X-ApiAuth-*
     * from clients are gone already) and setn would scan the table each
     * time; a subrequest starts from a copy of its main's, so it sets */
    if (r->main == NULL) {
        apr_table_addn(r->subprocess_env, var_names[var][0], value);
        if (forward) {
            apr_table_addn(r->headers_in, var_names[var][1], value);
        }
        return;
    }
    apr_table_setn(r->subprocess_env, var_names[var][0], value);
    if (forward) {
        apr_table_setn(r->headers_in, var_names[var][1], value);
    }
}

/* An install token (aai_...) in the query of a location that does not take
 * install tokens is not a credential here, but it is still a secret: it
 * leaves the query like the credentials do. */
static void strip_stray_install_token(request_rec *r, unsigned accepted)
{
    const char *token = NULL;

    if (!(accepted & APIAUTH_SCHEME_INSTALL) && r->args
        && ap_strstr_c(r->args, INSTALL_TOKEN_PARAM "=")
        && apiauth_query_get(r->pool, r->args, INSTALL_TOKEN_PARAM, &token) > 0
        && token && strncmp(token, APIAUTH_PREFIX_INSTALL "_", 4) == 0
        && apiauth_secret_shape(token) != APIAUTH_SECRET_FOREIGN) {
        strip_query_param(r, INSTALL_TOKEN_PARAM);
    }
}

apiauth_request_state *apiauth_publish(request_rec *r,
                                       const apiauth_dir_conf *conf,
                                       const apiauth_credential_t *cred,
                                       const apiauth_identity_t *id)
{
    apiauth_request_state *st = apr_pcalloc(r->pool, sizeof(*st));
    int fwd = conf->forward_headers == 1;

    st->identity = *id;
    st->scheme = cred->scheme;
    ap_set_module_config(r->request_config, &apiauth_module, st);
    r->user = (char *)apiauth_identity_subject(id);

    set_identity_var(r, fwd, VAR_APP, id->app);
    set_identity_var(r, fwd, VAR_KIND, apiauth_kind_name(id->kind));
    set_identity_var(r, fwd, VAR_SCHEME, apiauth_scheme_name(cred->scheme));
    set_identity_var(r, fwd, VAR_SCOPE, id->scope ? id->scope : "");
    set_identity_var(r, fwd, VAR_CREDENTIAL_ID, id->credential_id);
    set_identity_var(r, fwd, VAR_EXPIRES,
                     id->expires_text ? id->expires_text
                                      : apr_off_t_toa(r->pool,
                                                      (apr_off_t)id->expires));
    set_identity_var(r, fwd, VAR_USER, id->user);
    set_identity_var(r, fwd, VAR_CLIENT_ID, id->client_id);
    set_identity_var(r, fwd, VAR_INSTALL_ID, id->install_id);
    set_identity_var(r, fwd, VAR_ACTING_APP, id->acting_app);
    set_identity_var(r, fwd, VAR_ISSUER, id->issuer);
    if (conf->keep_credential != 1) {
        strip_credential(r, conf, cred);
    }
    else if (cred->source == APIAUTH_FROM_KEY_QUERY) {
        keep_query_param(r, st, conf->key_query);
    }
    else if (cred->source == APIAUTH_FROM_INSTALL_QUERY) {
        keep_query_param(r, st, INSTALL_TOKEN_PARAM);
    }
    strip_stray_install_token(r, conf->schemes ? conf->scheme_mask
                                               : APIAUTH_DEFAULT_SCHEMES);
    return st;
}

/* Require apiauth-group: may the app act in the group the request names?
 * Asked here, not in the authz provider, so that a store failure is a 503
 * like every other. */
static apiauth_status_t check_group(request_rec *r,
                                    const apiauth_dir_conf *conf,
                                    apiauth_request_state *state,
                                    const char *group, apiauth_error_t *err)
{
    apiauth_status_t st;

    state->group = group;
    st = apiauth_app_in_group(r, conf, state->identity.app, group, err);
    if (st == APIAUTH_ERROR) {
        return st;
    }
    state->in_group = st == APIAUTH_OK;
    apr_table_setn(r->subprocess_env, "APIAUTH_GROUP", group);
    if (conf->forward_headers == 1) {
        apr_table_setn(r->headers_in, FORWARD_PREFIX "Group", group);
    }
    return APIAUTH_OK;
}

/* A refused request reaches the access log (and any ErrorDocument) too:
 * a key it carried in the query string is taken out of it first, whatever
 * the refusal -- a revoked or mistyped key is still someone's secret. */
static int refuse(request_rec *r, const apiauth_dir_conf *conf, int status,
                  const apiauth_error_t *err, apiauth_scheme_t presented)
{
    unsigned accepted = conf->schemes ? conf->scheme_mask
                                      : APIAUTH_DEFAULT_SCHEMES;

    if (conf->key_query && *conf->key_query) {
        strip_query_param(r, conf->key_query);
    }
    if (accepted & APIAUTH_SCHEME_INSTALL) {
        strip_query_param(r, INSTALL_TOKEN_PARAM);
    }
    strip_stray_install_token(r, accepted);
    /* what a guesser gets wrong counts against its address; a request
     * with no credential at all (err NULL) is a client learning the
     * challenge, not a guess */
    if (err != NULL
        && (status == HTTP_UNAUTHORIZED || status == HTTP_BAD_REQUEST)) {
        apiauth_limit_failed(r);
    }
    return apiauth_refuse(r, conf, status, err, presented, NULL);
}

static int too_many_failures(request_rec *r, const apiauth_dir_conf *conf,
                             int wait)
{
    apiauth_error_t err = {"too_many_requests", "too many refused attempts "
                           "from this address: retry later"};

    apr_table_setn(r->err_headers_out, "Retry-After",
                   apr_itoa(r->pool, wait > 0 ? wait : 1));
    return apiauth_refuse(r, conf, HTTP_TOO_MANY_REQUESTS, &err, 0, NULL);
}

static int authenticate(request_rec *r, apiauth_dir_conf *conf);

int apiauth_check_authn(request_rec *r)
{
    const char *type = ap_auth_type(r);
    apiauth_dir_conf *conf;
    apr_time_t start;
    int rc;

    if (type == NULL || strcasecmp(type, APIAUTH_AUTH_TYPE) != 0) {
        return DECLINED;
    }
    conf = ap_get_module_config(r->per_dir_config, &apiauth_module);
    r->ap_auth_type = (char *)type;
    start = apr_time_now();
    rc = authenticate(r, conf);
    apiauth_metrics_authn(r, conf, rc == OK, apr_time_now() - start);
    return rc;
}

/* The request the client sent, of which `r` may be a subrequest or an
 * internal redirect. */
request_rec *apiauth_sent_request(request_rec *r)
{
    while (r->main || r->prev) {
        r = r->main ? r->main : r->prev;
    }
    return r;
}

/* What the client presented with the request it sent, where `r` is httpd
 * serving that request from another location (FallbackResource,
 * ErrorDocument, a rewrite): the credential was stripped from the headers
 * once it passed there, and is read again under this location's rules. */
static const apiauth_request_material_t *presented_before(request_rec *r)
{
    request_rec *sent = apiauth_sent_request(r);
    const apiauth_request_state *st;

    if (sent == r) {
        return NULL;
    }
    st = ap_get_module_config(sent->request_config, &apiauth_module);
    return st ? &st->material : NULL;
}

static int authenticate(request_rec *r, apiauth_dir_conf *conf)
{
    const apiauth_request_material_t *before = presented_before(r);
    apiauth_request_material_t material;
    apiauth_presented_t pr;
    apiauth_identity_t id;
    apiauth_request_state *state;
    apiauth_error_t err = {NULL, NULL};
    apiauth_status_t st;
    const char *group = NULL;
    int wait;

    if (!apiauth_tls_ok(r, conf)) {
        apiauth_error_t tls = {"invalid_request",
                               "this API is served over HTTPS only: "
                               "calls made over plain HTTP fail"};
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(10010)
                      "refused: plain HTTP where TLS is required");
        return refuse(r, conf, HTTP_FORBIDDEN, &tls, 0);
    }
    if ((wait = apiauth_limit_blocked(r)) > 0) {
        return too_many_failures(r, conf, wait);
    }

    if (before) {
        material = *before;
        material.accepted = conf->schemes ? conf->scheme_mask
                                          : APIAUTH_DEFAULT_SCHEMES;
        st = apiauth_read_presented(r, conf, &material, &pr, &err);
    }
    else if (gather_material(r, conf, &material) != 0) {
        apiauth_fail(&err, APIAUTH_INVALID, "invalid_request",
                     "a credential in the query string is not decodable");
        st = APIAUTH_INVALID;
    }
    else {
        st = apiauth_read_presented(r, conf, &material, &pr, &err);
    }
    switch (st) {
    case APIAUTH_OK:
        break;
    case APIAUTH_NOT_MINE:
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, AALOGNO(10011)
                      "no credential: answering with challenges");
        return refuse(r, conf, HTTP_UNAUTHORIZED, NULL, 0);
    default:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(10012)
                      "malformed credential: %s", err.description);
        return refuse(r, conf, HTTP_BAD_REQUEST, &err, 0);
    }
    if (conf->group_required == 1
        && apiauth_group_read(r, conf, &group, &err) != APIAUTH_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(10016)
                      "refused: %s", err.description);
        return refuse(r, conf, HTTP_BAD_REQUEST, &err, 0);
    }

    st = apiauth_resolve(r, conf, &pr, &id, &err);
    if (st == APIAUTH_OK && pr.cred.scheme == APIAUTH_SCHEME_DPOP) {
        /* the token may come from the cache; its proof is new every time */
        st = apiauth_dpop_at_resource(r, conf, pr.cred.secret, &id, &err);
        apiauth_dpop_answered(r, conf, st != APIAUTH_OK);
    }
    if (st == APIAUTH_OK && id.bound_x5t) {
        st = apiauth_cert_at_resource(r, &id, &err);
    }
    if (st != APIAUTH_OK) {
        ap_log_rerror(APLOG_MARK, st == APIAUTH_ERROR ? APLOG_ERR : APLOG_INFO,
                      0, r, AALOGNO(10015) "%s credential refused: %s",
                      apiauth_scheme_name(pr.cred.scheme), err.description);
    }
    switch (st) {
    case APIAUTH_OK:
        state = apiauth_publish(r, conf, &pr.cred, &id);
        state->material = material;
        if (group && check_group(r, conf, state, group, &err) != APIAUTH_OK) {
            return refuse(r, conf, HTTP_SERVICE_UNAVAILABLE, &err,
                          pr.cred.scheme);
        }
        if (conf->rate_limits && apiauth_rate_check(r, conf, &id)) {
            static const apiauth_error_t slow_down = {
                "too_many_requests", "this credential's rate limit is "
                "reached here: retry after the time Retry-After says"};
            return apiauth_refuse(r, conf, HTTP_TOO_MANY_REQUESTS,
                                  &slow_down, 0, NULL);
        }
        return OK;
    case APIAUTH_ERROR:
        return refuse(r, conf, HTTP_SERVICE_UNAVAILABLE, &err,
                      pr.cred.scheme);
    case APIAUTH_INVALID:
        return refuse(r, conf, HTTP_BAD_REQUEST, &err, pr.cred.scheme);
    default:
        return refuse(r, conf, HTTP_UNAUTHORIZED, &err, pr.cred.scheme);
    }
}

/* mod_auth_basic hands a provider the very string it then logs when the
 * provider refuses (AH01617, "user %s: authentication failure") and that
 * it left in r->user, which the access log shows as %u.  A user part that
 * is no app id may be a secret (a key, an app or backend token sent as
 * the user), so it is masked where it lies, before either can read it:
 * the pool copy mod_auth_basic decoded from the header.  Only that one
 * (it is r->user): another module's string (mod_auth_form reads the user
 * from its session) is not ours to write. */
static void mask_basic_user(request_rec *r, const char *user)
{
    char *at = (char *)user;
    size_t len, i;

    if (user != r->user) {
        return;
    }
    len = strlen(at);
    for (i = 0; i < len && i < 3; i++) {
        at[i] = '*';
    }
    at[i] = '\0';
}

/* AuthBasicProvider apiauth: only Twake's public_id:private_api_key.
 * mod_auth_basic logs the user part and puts it in %u, so a secret may
 * never be the user here: app tokens, backend tokens and bare keys are
 * refused (they need AuthType apiauth), and masked first. */
static authn_status basic_check_password(request_rec *r, const char *user,
                                         const char *password)
{
    apiauth_dir_conf *conf = ap_get_module_config(r->per_dir_config,
                                                  &apiauth_module);
    apiauth_presented_t pr;
    apiauth_identity_t id;
    apiauth_request_state *state;
    apiauth_error_t err = {NULL, NULL};
    const char *group = NULL;

    if (strncmp(user, "app_", 4) != 0 || !apiauth_name_is_valid(user)) {
        mask_basic_user(r, user);
        apiauth_limit_failed(r);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(10013)
                      "AuthBasicProvider apiauth takes only an app id as "
                      "the user; use AuthType apiauth for other forms");
        return AUTH_DENIED;
    }
    if (apiauth_limit_blocked(r) > 0) {
        return AUTH_DENIED;   /* a provider cannot say 429: 401, logged */
    }
    if (!apiauth_tls_ok(r, conf)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(10014)
                      "refused: plain HTTP where TLS is required");
        return AUTH_DENIED;
    }
    memset(&pr, 0, sizeof(pr));
    pr.cred.scheme = APIAUTH_SCHEME_BASIC;
    pr.cred.source = APIAUTH_FROM_AUTHORIZATION;
    pr.cred.secret = user;
    pr.cred.password = password;
    if (conf->group_required == 1
        && apiauth_group_read(r, conf, &group, &err) != APIAUTH_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(10017)
                      "refused: %s", err.description);
        return AUTH_DENIED;
    }
    switch (apiauth_resolve(r, conf, &pr, &id, &err)) {
    case APIAUTH_OK:
        state = apiauth_publish(r, conf, &pr.cred, &id);
        if (group && check_group(r, conf, state, group, &err) != APIAUTH_OK) {
            return AUTH_GENERAL_ERROR;
        }
        return AUTH_GRANTED;
    case APIAUTH_ERROR:
        return AUTH_GENERAL_ERROR;
    default:
        apiauth_limit_failed(r);
        return AUTH_DENIED;
    }
}

static const authn_provider basic_provider = {
    basic_check_password,
    NULL
};

const void *apiauth_basic_provider = &basic_provider;
