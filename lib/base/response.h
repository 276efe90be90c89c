/*
 * response.h: the words of a refusal, independent of who sends them.
 *
 * The JSON error body ({"error": ..., "error_description": ...}, RFC 6749
 * §5.2 and the contract's "Responses") and WWW-Authenticate challenges
 * (RFC 7235, RFC 6750 §3).  Both modules send refusals built here.
 */
#ifndef APIAUTH_RESPONSE_H
#define APIAUTH_RESPONSE_H

#include <apr_pools.h>

/* The JSON error body; description may be NULL. */
char *apiauth_json_error(apr_pool_t *p, const char *error,
                         const char *description);

/* A challenge: `Scheme realm="..."` and, where given, error,
 * error_description and scope (RFC 6750 §3), then `extra` verbatim (already
 * formed auth-params, e.g. header="X-API-Key").  Quoted values are reduced
 * to the characters RFC 6750 §3 allows, so no request data can break the
 * header. */
char *apiauth_challenge(apr_pool_t *p, const char *scheme, const char *realm,
                        const char *error, const char *description,
                        const char *scope, const char *extra);

#endif
