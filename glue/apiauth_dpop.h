/*
 * apiauth_dpop.h: the DPoP proof of a request (RFC 9449), checked the same
 * way at the token endpoint (mod_apiauth_oauth) and at a resource
 * (mod_apiauth).  What a proof must say is lib/jose/dpop.c's; this adds
 * the request (its one DPoP header, its method, the URL the client
 * addressed) and the memory of proofs seen.
 */
#ifndef APIAUTH_GLUE_DPOP_H
#define APIAUTH_GLUE_DPOP_H

#include <httpd.h>

#include "dpop.h"

/* Remembers that the proof named by `key` (a digest) was used, until
 * `until` (Unix seconds): 1 the first time, 0 when it was seen before, -1
 * when it cannot be said (no shared memory to remember in). */
typedef int (*apiauth_dpop_seen_fn)(request_rec *r, const unsigned char *key,
                                    apr_size_t len, apr_int64_t until);

/* What a server asks of proofs. */
typedef struct apiauth_dpop_policy {
    const apiauth_pepper_t *nonce_key;   /* require our nonce (§8); NULL:
                                            no nonce asked for */
    int window;                          /* seconds iat may be off */
    int tls;                             /* the client reached us over TLS
                                            (here or at a trusted proxy):
                                            htu is https */
    const char *forwarded_host;          /* the host[:port] a trusted proxy
                                            was asked for (X-Forwarded-
                                            Host), or NULL */
} apiauth_dpop_policy_t;

/* One word of ApiAuthDPoP / ApiAuthOAuthDPoP (`directive`): "nonce" sets
 * *nonce, "window=SECONDS" (1 to 600) *window.  NULL, or why not. */
const char *apiauth_dpop_directive(apr_pool_t *p, const char *directive,
                                   const char *word, int *nonce,
                                   int *window);

/* Proof keys kept per process (lib/jose/dpop.h): as many clients as are
 * likely to be busy at once; another one costs a key import per proof. */
#define APIAUTH_DPOP_KEY_SLOTS 64

/* Makes this process's cache of proof keys: the child_init of each module
 * that calls apiauth_dpop_check. */
void apiauth_dpop_child_init(apr_pool_t *pchild);

/* Is there a DPoP header at all? */
int apiauth_dpop_present(request_rec *r);

/* Checks the request's one DPoP proof: APIAUTH_OK with *proof; a
 * refusal as apiauth_dpop_verify says (and "invalid_dpop_proof" for two
 * proofs, or one used before); APIAUTH_ERROR when proofs cannot be
 * remembered.  `access_token` as for apiauth_dpop_expect_t. */
apiauth_status_t apiauth_dpop_check(request_rec *r,
                                    const apiauth_dpop_policy_t *policy,
                                    const char *access_token,
                                    apiauth_dpop_seen_fn seen,
                                    apiauth_dpop_proof_t *proof,
                                    apiauth_error_t *err);

/* A fresh nonce in the DPoP-Nonce header of the answer (§8.2), where the
 * policy asks for them. */
void apiauth_dpop_offer_nonce(request_rec *r,
                              const apiauth_dpop_policy_t *policy,
                              int on_error);

#endif
