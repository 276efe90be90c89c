/*
 * provider_jwt.c: ApiAuthProvider jwt -- access tokens checked with public
 * keys alone (RFC 9068, RFC 8725).
 *
 * For tokens of another issuer, or for nodes that verify ours without the
 * store: ApiAuthJWT keys= (PEM or JWKS files), issuer= and audience= (all
 * required), leeway=.  The algorithm is
 * the key's, never the token's: no "none", no HMAC keyed with a public
 * key.  What this provider cannot know is revocation; a token it accepts
 * stays accepted until it expires.
 *
 * A good signature says who issued the claims, not that they are safe to
 * use here: sub, client_id, app, jti and scope become r->user, APIAUTH_*
 * variables and, with ApiAuthForwardHeaders, headers to the backend.  So
 * they are held to the rules of names apiauth-admin creates, and a user
 * may not pass for one of our apps or clients (docs/design.md: subjects never
 * collide).  Names of ours (app_..., cli_...) and the `app` claim are
 * believed only from an issuer the operator declares this deployment's
 * own (ApiAuthJWT issuer=URL local: a node that checks our tokens without
 * the store); another issuer's token names its client alone, and
 * APIAUTH_ISSUER tells a backend whose names they are.
 */
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>

#include "apiauth_private.h"
#include "jwt.h"
#include "scope.h"

const char *apiauth_jwt_add_keys(cmd_parms *cmd, void *dconf, const char *arg)
{
    apiauth_dir_conf *conf = dconf;
    const char *path = ap_server_root_relative(cmd->pool, arg);
    const char *errmsg = NULL;

    if (path == NULL
        || apiauth_jwk_load_public(cmd->pool, path, &conf->jwt_keys, &errmsg)
               != APIAUTH_OK) {
        return apr_psprintf(cmd->pool, "%s keys: %s", cmd->cmd->name,
                            errmsg ? errmsg : "cannot read");
    }
    return NULL;
}

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

const char *apiauth_jwt_set_issuer(cmd_parms *cmd, void *dconf,
                                   const char *issuer, const char *local)
{
    apiauth_dir_conf *conf = dconf;

    if (local && strcasecmp(local, "local") != 0) {
        return "ApiAuthJWTIssuer URL [local]: 'local' says the issuer is "
               "this deployment's own authorization server (ApiAuthJWT "
               "issuer=URL local)";
    }
    conf->jwt_issuer = issuer;
    conf->jwt_local = local != NULL;
    return NULL;
}

/* The claim that cannot name anyone here, or NULL when all can: control
 * characters and separators would split a header or a log line, and a
 * token of another issuer may not take the name of an app or a client of
 * ours (nor may a user of any issuer pass for one). */
static const char *unusable_claim(const apiauth_jwt_claims_t *claims,
                                  const char *app, int local)
{
    if (!apiauth_name_is_valid(claims->client_id)
        || has_prefix(claims->client_id, "app_")
        || (!local && apiauth_name_is_ours(claims->client_id))) {
        return "client_id";
    }
    if (!apiauth_name_is_valid(claims->sub)
        || (strcmp(claims->sub, claims->client_id) != 0
            && apiauth_name_is_ours(claims->sub))
        || (!local && apiauth_name_is_ours(claims->sub))) {
        return "sub";
    }
    if (app && !apiauth_name_is_valid(app)) {
        return "app";
    }
    if (!apiauth_name_is_valid(claims->jti)) {
        return "jti";
    }
    if (*claims->scope && !apiauth_scope_list_valid(claims->scope)) {
        return "scope";
    }
    return NULL;
}

static apiauth_status_t jwt_verify_token(request_rec *r, const char *token,
                                         apiauth_identity_t *id,
                                         apiauth_error_t *err)
{
    apiauth_dir_conf *conf = ap_get_module_config(r->per_dir_config,
                                                  &apiauth_module);
    apiauth_jwt_expect_t expect;
    apiauth_jwt_claims_t claims;
    const char *app, *bad;
    apiauth_status_t st;

    if (conf->jwt_keys == NULL || conf->jwt_issuer == NULL
        || conf->jwt_audience == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(10070)
                      "ApiAuthProvider jwt needs ApiAuthJWT issuer=, "
                      "audience= and keys= here");
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "token verification is not configured");
    }
    expect.issuer = conf->jwt_issuer;
    expect.audience = conf->jwt_audience;
    expect.typ = "at+jwt";
    expect.now = apr_time_sec(r->request_time);
    expect.leeway = conf->jwt_leeway >= 0 ? conf->jwt_leeway
                                          : APIAUTH_DEFAULT_JWT_LEEWAY;
    expect.resources = NULL;
    st = apiauth_jwt_verify(r->pool, token, conf->jwt_keys, &expect, &claims,
                            err);
    if (st != APIAUTH_OK) {
        return st;
    }
    /* the app of a token is ours to name: only our own issuer's is
     * believed, another issuer's token is its client's alone */
    app = conf->jwt_local == 1
              ? json_string_value(json_object_get(claims.payload, "app"))
              : NULL;
    if ((bad = unusable_claim(&claims, app, conf->jwt_local == 1)) != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(10071)
                      "token of %s refused: its %s claim is not a name "
                      "usable here", conf->jwt_issuer, bad);
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                            apr_psprintf(r->pool, "the token's %s claim "
                                         "cannot name anyone here", bad));
    }
    apiauth_jwt_identity(&claims, app, expect.issuer, expect.audience, id);
    id->key_id = claims.kid;
    return APIAUTH_OK;
}

const apiauth_provider_t apiauth_provider_jwt = {
    NULL,
    jwt_verify_token,
    NULL,   /* owns nothing: the oauth provider owns our own issuer */
    NULL,
    NULL,
};
