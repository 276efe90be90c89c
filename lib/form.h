/*
 * form.h: query strings and request bodies as name/value pairs.
 *
 * application/x-www-form-urlencoded (query strings and token requests) and
 * multipart/form-data (what `curl -F` sends to a token endpoint).  Both
 * are bounded and fuzzed (tests/fuzz/fuzz_form.c); neither trusts a length
 * or a boundary it reads.  RFC 6749 §3.1 rules apply where the caller asks:
 * a repeated parameter is refused, an empty one counts as absent.
 */
#ifndef APIAUTH_FORM_H
#define APIAUTH_FORM_H

#include <apr_tables.h>

#include "apiauth.h"

/* Percent-decoding with '+' as space; refuses a broken %XY escape and an
 * encoded NUL.  *out is NUL terminated pool memory. */
apiauth_status_t apiauth_urldecode(apr_pool_t *p, const char *s,
                                   apr_size_t len, char **out);

/* How often `name` occurs in the query string `args`; *value (may be NULL)
 * gets the first occurrence, decoded.  -1 when that value is malformed. */
int apiauth_query_get(apr_pool_t *p, const char *args, const char *name,
                      const char **value);

/* `args` with every parameter named in `names` (NULL terminated) removed
 * (mask NULL) or its value replaced by `mask`; NULL when nothing is left.
 * The other parameters keep their exact bytes. */
char *apiauth_query_rewrite(apr_pool_t *p, const char *args,
                            const char *const *names, const char *mask);

#endif
