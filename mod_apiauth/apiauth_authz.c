/*
 * apiauth_authz.c: Require apiauth-scope | apiauth-app | apiauth-kind |
 * apiauth-group.
 *
 * Authorization providers in httpd's own group, so they combine with
 * <RequireAll>/<RequireAny> like any other.  Each one reads the identity
 * that authentication left for the request; a denial prepares its own
 * answer (403 insufficient_scope with the scopes needed, or 403 naming
 * what is not allowed).  The require line is parsed once, at startup.
 */
#include <apr_strings.h>
#include <ap_provider.h>
#include <http_core.h>
#include <http_request.h>
#include <mod_auth.h>

#include "apiauth_private.h"
#include "scope.h"

/* Our configuration of the section a Require line is in, made now if no
 * directive of ours has made it yet: Require lines tell the location
 * what its requests must carry (apiauth-group, apiauth-kind app_token). */
apiauth_dir_conf *apiauth_section_conf(cmd_parms *cmd)
{
    return ap_set_config_vectors(cmd->server, cmd->context, cmd->path,
                                 &apiauth_module, cmd->pool);
}

/* The words of a require line, checked by `valid` at startup. */
static const char *parse_words(cmd_parms *cmd, const char *line,
                               const void **parsed,
                               int (*valid)(const char *), const char *what)
{
    apr_array_header_t *words = apr_array_make(cmd->pool, 4,
                                               sizeof(const char *));
    const char *w;

    while (*(w = ap_getword_conf(cmd->pool, &line)) != '\0') {
        if (!valid(w)) {
            return apr_psprintf(cmd->pool, "Require %s: '%s' is not valid",
                                what, w);
        }
        APR_ARRAY_PUSH(words, const char *) = w;
    }
    if (words->nelts == 0) {
        return apr_psprintf(cmd->pool, "Require %s needs at least one value",
                            what);
    }
    *parsed = words;
    return NULL;
}

static int scope_word_valid(const char *w)
{
    return apiauth_scope_token_valid(w, strlen(w));
}

static int kind_word_valid(const char *w)
{
    return apiauth_kind_from_name(w) != APIAUTH_KIND_NONE;
}

/* The scopes are also what the section's resource metadata and
 * challenges name (apiauth_discovery.c). */
static const char *parse_scope(cmd_parms *cmd, const char *line,
                               const void **parsed)
{
    const char *err = parse_words(cmd, line, parsed, scope_word_valid,
                                  "apiauth-scope");
    const apr_array_header_t *words = *parsed;
    apiauth_dir_conf *conf;
    int i;

    if (err || (conf = apiauth_section_conf(cmd)) == NULL) {
        return err;
    }
    for (i = 0; i < words->nelts; i++) {
        const char *w = APR_ARRAY_IDX(words, i, const char *);
        if (conf->scopes_required == NULL) {
            conf->scopes_required = w;
        }
        else if (!apiauth_scope_has(conf->scopes_required, w)) {
            conf->scopes_required = apr_pstrcat(cmd->pool,
                                                conf->scopes_required, " ",
                                                w, NULL);
        }
    }
    return NULL;
}

static const char *parse_app(cmd_parms *cmd, const char *line,
                             const void **parsed)
{
    return parse_words(cmd, line, parsed, apiauth_name_is_valid,
                       "apiauth-app");
}

/* An app token alone (Tapglue's APP_TOKEN: with no session) is the app,
 * not one of its users: it is accepted only where a Require line names the
 * kind app_token, which this records for the section. */
static const char *parse_kind(cmd_parms *cmd, const char *line,
                              const void **parsed)
{
    const char *err = parse_words(cmd, line, parsed, kind_word_valid,
                                  "apiauth-kind");
    const apr_array_header_t *kinds = *parsed;
    apiauth_dir_conf *conf;
    int i;

    if (err) {
        return err;
    }
    conf = apiauth_section_conf(cmd);
    for (i = 0; conf && i < kinds->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(kinds, i, const char *), "app_token") == 0) {
            conf->app_token_allowed = 1;
        }
    }
    return NULL;
}

/* The identity, or the status that says there is none to judge. */
static const apiauth_identity_t *identity_or(request_rec *r,
                                             authz_status *none)
{
    const apiauth_identity_t *id = apiauth_identity_of(r);

    if (id == NULL) {
        *none = r->user ? AUTHZ_DENIED : AUTHZ_DENIED_NO_USER;
    }
    return id;
}

static authz_status check_scope(request_rec *r, const char *line,
                                const void *parsed)
{
    const apr_array_header_t *want = parsed;
    const apiauth_identity_t *id;
    authz_status none;
    int i;

    if ((id = identity_or(r, &none)) == NULL) {
        return none;
    }
    for (i = 0; i < want->nelts; i++) {
        if (!apiauth_scope_has(id->scope, APR_ARRAY_IDX(want, i, const char *))) {
            apiauth_error_t err = {"insufficient_scope",
                                   "the credential lacks a scope this "
                                   "resource requires"};
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(10030)
                          "credential %s lacks scope %s",
                          id->credential_id,
                          APR_ARRAY_IDX(want, i, const char *));
            apiauth_refuse_authz(r, &err, apr_array_pstrcat(r->pool, want,
                                                            ' '));
            return AUTHZ_DENIED;
        }
    }
    return AUTHZ_GRANTED;
}

static authz_status check_in_list(request_rec *r, const apr_array_header_t *list,
                                  const char *value, const char *what,
                                  const apiauth_identity_t *id)
{
    apiauth_error_t err = {"access_denied", NULL};
    int i;

    for (i = 0; value && i < list->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(list, i, const char *), value) == 0) {
            return AUTHZ_GRANTED;
        }
    }
    err.description = apr_psprintf(r->pool, "this %s may not use this "
                                   "resource", what);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(10031)
                  "credential %s: %s %s not allowed here",
                  id->credential_id, what, value ? value : "(none)");
    apiauth_refuse_authz(r, &err, NULL);
    return AUTHZ_DENIED;
}

static authz_status check_app(request_rec *r, const char *line,
                              const void *parsed)
{
    const apiauth_identity_t *id;
    authz_status none;

    if ((id = identity_or(r, &none)) == NULL) {
        return none;
    }
    return check_in_list(r, parsed, id->app, "app", id);
}

static authz_status check_kind(request_rec *r, const char *line,
                               const void *parsed)
{
    const apiauth_identity_t *id;
    authz_status none;

    if ((id = identity_or(r, &none)) == NULL) {
        return none;
    }
    return check_in_list(r, parsed, apiauth_kind_name(id->kind),
                         "kind of credential", id);
}

/* The decision was taken with the credential (apiauth_authn.c asks the
 * providers, so that a store failure is a 503); here it is only applied. */
static authz_status check_group(request_rec *r, const char *line,
                                const void *parsed)
{
    const apiauth_request_state *st;
    apiauth_error_t err = {"access_denied",
                           "the app is not installed in this group"};
    authz_status none;

    if (identity_or(r, &none) == NULL) {
        return none;
    }
    st = ap_get_module_config(r->request_config, &apiauth_module);
    if (st && st->group && st->in_group) {
        return AUTHZ_GRANTED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(10032)
                  "app %s may not act in group %s",
                  st ? st->identity.app : "(none)",
                  st && st->group ? st->group : "(none)");
    apiauth_refuse_authz(r, &err, NULL);
    return AUTHZ_DENIED;
}

static const authz_provider scope_provider = {check_scope, parse_scope};
static const authz_provider app_provider = {check_app, parse_app};
static const authz_provider kind_provider = {check_kind, parse_kind};
static const authz_provider group_provider = {check_group,
                                              apiauth_group_parse_require};

void apiauth_register_authz(apr_pool_t *p)
{
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "apiauth-scope",
                              AUTHZ_PROVIDER_VERSION, &scope_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "apiauth-app",
                              AUTHZ_PROVIDER_VERSION, &app_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "apiauth-kind",
                              AUTHZ_PROVIDER_VERSION, &kind_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "apiauth-group",
                              AUTHZ_PROVIDER_VERSION, &group_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
}
