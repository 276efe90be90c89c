/*
 * apiauth_dpop.c: a request's DPoP proof (apiauth_dpop.h).
 */
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>

#include "apiauth_dpop.h"
#include "apiauth_log.h"
#include "apiauth_view.h"

const char *apiauth_dpop_directive(apr_pool_t *p, const char *directive,
                                   const char *word, int *nonce,
                                   int *window)
{
    char *end;

    if (strcasecmp(word, "nonce") == 0) {
        *nonce = 1;
        return NULL;
    }
    if (strncasecmp(word, "window=", 7) == 0) {
        apr_int64_t v = apr_strtoi64(word + 7, &end, 10);
        if (word[7] && *end == '\0' && v >= 1 && v <= 600) {
            *window = (int)v;
            return NULL;
        }
    }
    return apr_psprintf(p, "%s takes nonce and window=SECONDS (1 to 600), "
                        "not '%s'", directive, word);
}

/* This process's proof keys (each module that checks proofs has its own) */
static apiauth_dpop_keys_t *proof_keys;

void apiauth_dpop_child_init(apr_pool_t *pchild)
{
    proof_keys = apiauth_dpop_keys_create(pchild, APIAUTH_DPOP_KEY_SLOTS);
}

int apiauth_dpop_present(request_rec *r)
{
    return apr_table_get(r->headers_in, "DPoP") != NULL;
}

apiauth_status_t apiauth_dpop_check(request_rec *r,
                                    const apiauth_dpop_policy_t *policy,
                                    const char *access_token,
                                    apiauth_dpop_seen_fn seen,
                                    apiauth_dpop_proof_t *proof,
                                    apiauth_error_t *err)
{
    const char *header = apr_table_get(r->headers_in, "DPoP");
    const char *parts[3];
    unsigned char key[APIAUTH_DIGEST_LEN];
    apiauth_request_view_t view;
    apiauth_dpop_expect_t expect;
    apiauth_status_t st;

    /* httpd joins repeated headers with a comma, which no JWS holds */
    if (header == NULL || ap_strchr_c(header, ',')) {
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_dpop_proof",
                            "send exactly one DPoP proof");
    }
    apiauth_view_init(r, 0, policy->tls, &view);
    expect.method = view.method;
    expect.url = apiauth_view_url(r, policy->tls, policy->forwarded_host);
    expect.access_token = access_token;
    expect.nonce_key = policy->nonce_key;
    expect.now = view.now;
    expect.window = policy->window;
    expect.keys = proof_keys;
    st = apiauth_dpop_verify(r->pool, header, &expect, proof, err);
    if (st != APIAUTH_OK) {
        /* what a proof must name here, for whoever puzzles over an htu
         * refusal behind a proxy (not a secret: the client sent it) */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, AALOGNO(30005)
                      "DPoP proof refused (%s); this request's URL: %s",
                      err->description, expect.url);
        return st;
    }
    /* one use per proof (§11.1), remembered as long as it could pass */
    parts[0] = "dpop proof";
    parts[1] = proof->jkt;
    parts[2] = proof->jti;
    if (apiauth_digest_parts(NULL, parts, 3, key) != 0) {
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "the proof could not be checked");
    }
    switch (seen(r, key, sizeof(key), proof->iat + policy->window + 1)) {
    case 1:
        return APIAUTH_OK;
    case 0:
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_dpop_proof",
                            "this DPoP proof was used before");
    default:
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "DPoP proofs cannot be remembered here now");
    }
}

void apiauth_dpop_offer_nonce(request_rec *r,
                              const apiauth_dpop_policy_t *policy,
                              int on_error)
{
    const char *nonce;

    if (policy->nonce_key == NULL) {
        return;
    }
    nonce = apiauth_dpop_nonce(r->pool, policy->nonce_key,
                               apr_time_sec(r->request_time));
    if (nonce) {
        apr_table_setn(on_error ? r->err_headers_out : r->headers_out,
                       "DPoP-Nonce", nonce);
    }
}
