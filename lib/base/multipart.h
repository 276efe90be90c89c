/*
 * multipart.h: the multipart/form-data reader behind apiauth_form_parse.
 *
 * Internal to lib/: form.c is its only caller and the place the RFC 6749
 * §3.1 rules live.  Not installed.
 */
#ifndef APIAUTH_MULTIPART_H
#define APIAUTH_MULTIPART_H

#include "apiauth.h"

/* Does the header value s[0..len) start with the media type (or
 * disposition type) `type`, compared case-insensitively and followed by
 * the end, whitespace or ';'?  Then *params is where its parameters
 * begin. */
int apiauth_mime_value_is(const char *s, apr_size_t len, const char *type,
                          apr_size_t *params);

/* Takes one field; anything but APIAUTH_OK (with *err filled) stops the
 * reader, which returns that status. */
typedef apiauth_status_t (*apiauth_field_fn)(void *ctx,
                                             const char *name,
                                             apr_size_t namelen,
                                             const char *value,
                                             apr_size_t valuelen,
                                             apiauth_error_t *err);

/* Reads body[0..len) as multipart/form-data (RFC 7578) with the boundary
 * given in `params` (the Content-Type after its media type, plen bytes)
 * and calls fn for each part in order.  name and value point into `body`:
 * they are neither copied nor NUL terminated, and may hold NUL bytes.
 * The caller bounds len and the number of fields (fn refuses one too
 * many). */
apiauth_status_t apiauth_multipart_read(const char *params, apr_size_t plen,
                                        const char *body, apr_size_t len,
                                        apiauth_field_fn fn, void *ctx,
                                        apiauth_error_t *err);

#endif
