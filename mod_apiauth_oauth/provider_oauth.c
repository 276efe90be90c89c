/*
 * provider_oauth.c: ApiAuthProvider oauth -- this server's access tokens
 * at a resource location, with revocation.
 *
 * A Bearer JWT whose iss is our issuer is decided by this provider alone
 * (owns_token), wherever it is listed: the signature and RFC 9068 claims,
 * then the store -- deny-listed jti, revoked grant, deleted client -- so
 * that a revocation through this server holds at once.  (The jwt provider
 * of mod_apiauth checks signatures only, for nodes without the store.)
 */
#include <http_core.h>
#include <http_log.h>

#include "jwt.h"
#include "oauth_private.h"

static int oauth_owns_token(request_rec *r, const char *token)
{
    const char *issuer = oauth_conf(r)->oauth.issuer;
    const char *iss;

    if (issuer == NULL) {
        return 0;
    }
    iss = apiauth_jwt_peek_issuer(r->pool, token);
    return iss && strcmp(iss, issuer) == 0;
}

static apiauth_status_t oauth_verify_token(request_rec *r, const char *token,
                                           apiauth_identity_t *id,
                                           apiauth_error_t *err)
{
    oauth_server_conf *conf = oauth_conf(r);
    apiauth_db_t db;
    apiauth_status_t st;

    if (conf->oauth.issuer == NULL || !oauth_owns_token(r, token)) {
        return APIAUTH_NOT_MINE;
    }
    if (oauth_store(r, &db) != 0) {
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "the token store is unreachable");
    }
    st = apiauth_oauth_access_token_check(r->pool, &conf->oauth, &db, token,
                                          apr_time_sec(r->request_time), id,
                                          NULL, err);
    if (st == APIAUTH_ERROR) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(20040)
                      "access token check failed: %s",
                      db.last_error ? db.last_error : err->description);
    }
    return st;
}

const apiauth_provider_t oauth_provider = {
    NULL,                /* find_secret: keys are mod_apiauth's business */
    oauth_verify_token,
    oauth_owns_token,
    NULL,
    NULL,
};
