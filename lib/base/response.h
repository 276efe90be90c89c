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
#include <jansson.h>

/* The JSON error body; description may be NULL. */
char *apiauth_json_error(apr_pool_t *p, const char *error,
                         const char *description);

/* `value` as JSON text (json_dumpb `flags`) in pool memory, which is
 * wiped when the pool is cleared; the value itself is wiped -- each of
 * its strings, which jansson keeps in malloc'd memory -- and released
 * (json_decref), so that a response carrying fresh secrets (tokens,
 * client secrets) leaves no copy of them behind in free memory.  Only
 * for a value nobody else holds.  NULL when it cannot be written. */
char *apiauth_json_sealed(apr_pool_t *p, json_t *value, size_t flags);

/* A challenge: `Scheme realm="..."` and, where given, error,
 * error_description and scope (RFC 6750 §3), then `extra` verbatim (already
 * formed auth-params, e.g. header="X-API-Key").  Quoted values are reduced
 * to the characters RFC 6750 §3 allows, so no request data can break the
 * header. */
char *apiauth_challenge(apr_pool_t *p, const char *scheme, const char *realm,
                        const char *error, const char *description,
                        const char *scope, const char *extra);

#endif
