/*
 * jsonreq.h: the few members the server reads from a JSON request body.
 *
 * apiauth-login takes {"username" or "email", "password"}, and Require
 * apiauth-group with ApiAuthGroupFrom json=NAME reads one member of a
 * body that is really meant for the application behind.  Both go through
 * this one reader: strict about the document (one top-level object, no
 * member twice, bounded size and nesting), indifferent to every member it
 * is not asked for.  It is fuzzed (tests/fuzz/fuzz_json.c).
 */
#ifndef APIAUTH_JSONREQ_H
#define APIAUTH_JSONREQ_H

#include "apiauth.h"

/* The largest body read, the most either directive that bounds a body
 * (ApiAuthGroupBodyLimit, ApiAuthOAuthMaxBody) allows. */
#define APIAUTH_JSON_MAX_BODY (16 * 1024 * 1024)
/* Objects and arrays nested deeper than this are refused before jansson
 * (whose parser recurses) sees them. */
#define APIAUTH_JSON_MAX_DEPTH 64

/* Flags: a JSON integer member is read as its decimal string ("42"). */
#define APIAUTH_JSON_INTEGERS 0x1

/* Reads the top-level members `names` (NULL terminated) of the JSON
 * object in body[0..len) into values[i]: NULL when absent, else a NUL
 * terminated pool copy of the string (jansson refuses "\u0000", so there
 * is no NUL inside).  APIAUTH_INVALID, error "invalid_request", when the
 * body is not one JSON object, repeats a member name anywhere, is too
 * large or too deep, or when a named member is of another type (null
 * included; with APIAUTH_JSON_INTEGERS an integer is read too).  A repeat
 * is refused because RFC 8259 §4 leaves its meaning to each parser: the
 * group we check could be the first "group_id" while the application
 * behind acts on the last.  The description never quotes the body.  On a
 * refusal every values[i] is NULL. */
apiauth_status_t apiauth_json_fields(apr_pool_t *p, const char *body,
                                     apr_size_t len,
                                     const char *const *names,
                                     unsigned flags, const char **values,
                                     apiauth_error_t *err);

#endif
