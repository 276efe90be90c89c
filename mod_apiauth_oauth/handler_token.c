/*
 * handler_token.c: the endpoints where a client authenticates itself --
 * token (RFC 6749 §3.2), introspection (RFC 7662), revocation (RFC 7009).
 *
 * Each reads the POST body, authenticates the client (lib/oauth/client.c)
 * and hands over to the protocol code; this file only turns the result
 * into an HTTP answer.
 */
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>

#include "apiauth_view.h"
#include "jwt.h"
#include "keys.h"
#include "oauth_private.h"

static const apiauth_error_t store_down = {
    "temporarily_unavailable", "the token store is unreachable; try again"};

/* What every client-authenticated endpoint does first: POST, a configured
 * issuer, the parameters, the store, and who the client is (*cert_x5t,
 * when given: the thumbprint of the TLS certificate it authenticated
 * with, NULL otherwise). */
static int authenticated_client(request_rec *r, int public_allowed,
                                apr_table_t **params, apiauth_db_t *db,
                                apiauth_oauth_client_t *client,
                                const char **cert_x5t)
{
    oauth_server_conf *conf = oauth_conf(r);
    apiauth_client_auth_t how;
    apiauth_tls_client_t tls;
    apiauth_effects_t fx;
    apiauth_error_t err;
    apiauth_status_t st;
    int rc;

    if ((rc = oauth_require_method(r, M_POST)) != OK
        || (rc = oauth_too_many_failures(r)) != OK) {
        return rc;
    }
    if (conf->oauth.issuer == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(20020)
                      "%s needs ApiAuthOAuthIssuer and ApiAuthOAuthSigningKey",
                      r->handler);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((rc = oauth_read_params(r, 1, params)) != OK) {
        return rc;
    }
    if (oauth_store(r, db) != 0) {
        return oauth_send_error(r, APIAUTH_ERROR, &store_down);
    }
    /* a client named by its metadata document may come here first (a
     * client_credentials grant has no authorization request) */
    {
        const char *named = apr_table_get(*params, "client_id");
        const char *assertion = apr_table_get(*params, "client_assertion");
        if (named == NULL && assertion) {
            named = apiauth_jwt_peek_issuer(r->pool, assertion);
        }
        st = oauth_cimd_prepare(r, db, named, &err);
        if (st != APIAUTH_OK) {
            return oauth_send_error(r, st == APIAUTH_ERROR ? st
                                                           : APIAUTH_DENIED,
                                    &err);
        }
    }
    apiauth_effects_init(&fx, r->pool);
    apiauth_view_tls_client(r, oauth_services()->proxied_cert(r), &tls);
    st = apiauth_oauth_client_authenticate(
        r->pool, &conf->oauth, db, apr_table_get(r->headers_in,
                                                 "Authorization"),
        *params, &tls, public_allowed, client, &how, &fx, &err);
    oauth_apply(r, &fx);
    if (st != APIAUTH_OK) {
        if (st == APIAUTH_ERROR) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(20021)
                          "client lookup failed: %s", db->last_error);
        }
        return oauth_send_error(r, st, &err);
    }
    if (cert_x5t) {
        *cert_x5t = how == APIAUTH_CLIENT_AUTH_TLS ? tls.x5t : NULL;
    }
    return OK;
}

/* Now and then, a token request clears expired rows, so that the tables
 * stay bounded even where nobody runs apiauth-admin purge. */
static void purge_now_and_then(request_rec *r, apiauth_db_t *db)
{
    unsigned char dice;
    int rows = 0;

    if (apiauth_random_bytes(&dice, 1) != 0 || dice != 0) {
        return;
    }
    if (apiauth_store_oauth_purge(r->pool, db, apr_time_sec(r->request_time), &rows)
        == APIAUTH_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, AALOGNO(20022)
                      "purged %d expired OAuth rows", rows);
    }
}

int oauth_handle_token(request_rec *r)
{
    apiauth_oauth_binding_t bind = {NULL, NULL};
    apiauth_effects_t fx;
    apr_table_t *params;
    apiauth_db_t db;
    apiauth_oauth_client_t client;
    apiauth_error_t err;
    apiauth_status_t st;
    json_t *response = NULL;
    int rc;

    if ((rc = authenticated_client(r, 1, &params, &db, &client, &bind.x5t))
        != OK) {
        return rc;
    }
    if ((rc = oauth_dpop_binding(r, &bind)) != OK) {
        return rc;
    }
    apiauth_effects_init(&fx, r->pool);
    st = apiauth_oauth_token(r->pool, &oauth_conf(r)->oauth, &db, &client,
                             params, &bind, apr_time_sec(r->request_time),
                             &response, &fx, &err);
    /* the transaction is over: a replay's revocation reaches the cache */
    oauth_apply(r, &fx);
    if (st != APIAUTH_OK) {
        if (st == APIAUTH_ERROR && db.last_error) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(20023)
                          "token store: %s", db.last_error);
        }
        return oauth_send_error(r, st, &err);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(20024)
                  "%s: tokens issued to client %s, scope \"%s\"",
                  apr_table_get(params, "grant_type"), client.id,
                  json_string_value(json_object_get(response, "scope")));
    purge_now_and_then(r, &db);
    oauth_dpop_nonce(r);
    oauth_send_json(r, HTTP_OK, response);
    return DONE;
}

int oauth_handle_introspect(request_rec *r)
{
    oauth_server_conf *conf = oauth_conf(r);
    apiauth_error_t err;
    apr_table_t *params;
    apiauth_db_t db;
    apiauth_oauth_client_t caller;
    json_t *response = NULL;
    const char *token;
    int rc;

    if ((rc = authenticated_client(r, 0, &params, &db, &caller, NULL))
        != OK) {
        return rc;
    }
    if ((token = apr_table_get(params, "token")) == NULL) {
        apiauth_error_t missing = {"invalid_request", "token is required"};
        return oauth_send_error(r, APIAUTH_INVALID, &missing);
    }
    if (apiauth_oauth_introspect(r->pool, &conf->oauth, &db, &caller, token,
                                 apr_time_sec(r->request_time), &response,
                                 &err) != APIAUTH_OK) {
        json_decref(response);
        return oauth_send_error(r, APIAUTH_ERROR, &err);
    }
    oauth_send_json(r, HTTP_OK, response);
    return DONE;
}

int oauth_handle_revoke(request_rec *r)
{
    apiauth_effects_t fx;
    apiauth_error_t err;
    apr_table_t *params;
    apiauth_db_t db;
    apiauth_oauth_client_t caller;
    const char *token;
    apiauth_status_t st;
    int rc;

    if ((rc = authenticated_client(r, 1, &params, &db, &caller, NULL))
        != OK) {
        return rc;
    }
    if ((token = apr_table_get(params, "token")) == NULL) {
        apiauth_error_t missing = {"invalid_request", "token is required"};
        return oauth_send_error(r, APIAUTH_INVALID, &missing);
    }
    apiauth_effects_init(&fx, r->pool);
    st = apiauth_oauth_revoke(r->pool, &oauth_conf(r)->oauth, &db, &caller,
                              token, apr_time_sec(r->request_time), &fx,
                              &err);
    oauth_apply(r, &fx);
    if (st != APIAUTH_OK) {
        return oauth_send_error(r, APIAUTH_ERROR, &err);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(20025)
                  "revocation request of client %s handled", caller.id);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, 0);
    return OK;
}
