/*
 * apiauth_bound.c: sender-constrained access tokens at a resource -- bound
 * to a DPoP key (RFC 9449 §7) or to a TLS client certificate (RFC 8705
 * §3).
 *
 * `ApiAuthScheme dpop` takes `Authorization: DPoP <token>` with a DPoP
 * proof header.  The token is resolved and admitted like a Bearer token
 * (and cached like one); the proof is new with every request, so it is
 * checked every time: by the key the token is bound to (cnf.jkt), for
 * this method and URL and this token (ath), recent, and never seen before
 * -- remembered where every node looks: ApiAuthSharedStore, else the
 * socache.
 */
#include <apr_strings.h>
#include <http_core.h>

#include "apiauth_dpop.h"
#include "apiauth_private.h"
#include "apiauth_view.h"

/* In memcached's atomic add where the nodes share ApiAuthSharedStore.
 * Else in this node's table, which never forgets a proof that could still
 * pass; and where nodes share a socache (memcache, redis) there too, so
 * that a proof taken on one is refused on the others (a read then a
 * write: two nodes asked in the same instant may both take it). */
int apiauth_dpop_seen(request_rec *r, const unsigned char *key,
                      apr_size_t len, apr_int64_t until)
{
    int here;

    if (apiauth_shared_configured()) {
        return apiauth_shared_claim(r, key, len, until);
    }
    here = apiauth_claims_take(r, key, len, until);
    if (here != 1 || !apiauth_socache_configured_shared()) {
        return here;
    }
    return apiauth_socache_claim(r, key, (unsigned int)len,
                                 apr_time_from_sec(until));
}

/* ApiAuthDPoP nonce window=SECONDS */
const char *apiauth_dpop_set(cmd_parms *cmd, void *dconf, const char *arg)
{
    apiauth_dir_conf *conf = dconf;

    return apiauth_dpop_directive(cmd->pool, cmd->cmd->name, arg,
                                  &conf->dpop_nonce, &conf->dpop_window);
}

static apiauth_dpop_policy_t policy_of(request_rec *r,
                                       const apiauth_dir_conf *conf)
{
    const apiauth_server_conf *sconf =
        ap_get_module_config(r->server->module_config, &apiauth_module);
    apiauth_dpop_policy_t policy;

    policy.nonce_key = conf->dpop_nonce == 1 ? sconf->dpop_nonce_key : NULL;
    policy.window = conf->dpop_window > 0 ? conf->dpop_window
                                          : APIAUTH_DEFAULT_DPOP_WINDOW;
    policy.tls = apiauth_over_tls(r);
    policy.forwarded_host = apiauth_forwarded_host(r);
    return policy;
}

/* The key whose proof came with the request the client sent. */
#define PROVEN_NOTE "apiauth-dpop-proven-jkt"

apiauth_status_t apiauth_dpop_at_resource(request_rec *r,
                                          const apiauth_dir_conf *conf,
                                          const char *token,
                                          const apiauth_identity_t *id,
                                          apiauth_error_t *err)
{
    apiauth_dpop_policy_t policy;
    apiauth_dpop_proof_t proof;
    request_rec *sent = apiauth_sent_request(r);
    const char *proven;
    apiauth_status_t st;

    /* httpd serving the request from another location (FallbackResource,
     * ErrorDocument, a rewrite) authenticates it again: its proof named
     * the URL the client asked for and was taken once, and it holds for
     * what httpd does on that request's behalf */
    if (sent != r) {
        proven = apr_table_get(sent->notes, PROVEN_NOTE);
        if (proven && apiauth_ct_streq(proven, id->bound_jkt)) {
            return APIAUTH_OK;
        }
    }
    policy = policy_of(r, conf);
    st = apiauth_dpop_check(r, &policy, token, apiauth_dpop_seen, &proof,
                            err);
    if (st != APIAUTH_OK) {
        return st;
    }
    if (!apiauth_ct_streq(proof.jkt, id->bound_jkt)) {
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_dpop_proof",
                            "the proof is by another key than the token is "
                            "bound to");
    }
    if (sent == r) {
        apr_table_setn(r->notes, PROVEN_NOTE, proof.jkt);
    }
    return APIAUTH_OK;
}

void apiauth_dpop_answered(request_rec *r, const apiauth_dir_conf *conf,
                           int refused)
{
    apiauth_dpop_policy_t policy = policy_of(r, conf);

    apiauth_dpop_offer_nonce(r, &policy, refused);
}

apiauth_status_t apiauth_cert_at_resource(request_rec *r,
                                          const apiauth_identity_t *id,
                                          apiauth_error_t *err)
{
    /* the certificate of this connection, whoever vouches for it: what
     * counts is that it is the one the token was issued to */
    const char *x5t = apiauth_view_cert_x5t(r, apiauth_proxied_cert(r));

    if (x5t == NULL || !apiauth_ct_streq(x5t, id->bound_x5t)) {
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                            "the token is bound to a TLS client "
                            "certificate this request did not present");
    }
    return APIAUTH_OK;
}
