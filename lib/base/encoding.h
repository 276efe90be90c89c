/*
 * encoding.h: base64, base64url and hex, strict on the way in.
 *
 * APR 1.7's apr_encode does the arithmetic; these wrappers add what a
 * credential parser needs and APR does not check: the alphabet, the
 * padding rules and canonical trailing bits, so that one value has exactly
 * one accepted spelling.
 */
#ifndef APIAUTH_ENCODING_H
#define APIAUTH_ENCODING_H

#include <apr_pools.h>

#include "apiauth.h"

/* base64url without padding (RFC 7515 §2), NUL terminated. */
char *apiauth_b64url_encode(apr_pool_t *p, const void *data, apr_size_t len);

/* Decodes unpadded base64url; refuses any other character, a length that
 * cannot occur, and non-zero trailing bits.  *out is NUL terminated. */
apiauth_status_t apiauth_b64url_decode(apr_pool_t *p, const char *s,
                                       apr_size_t slen, unsigned char **out,
                                       apr_size_t *outlen);

/* Decodes padded standard base64 (RFC 4648 §4), as HTTP Basic sends it. */
apiauth_status_t apiauth_b64_decode(apr_pool_t *p, const char *s,
                                    apr_size_t slen, unsigned char **out,
                                    apr_size_t *outlen);

/* Standard base64 with padding. */
char *apiauth_b64_encode(apr_pool_t *p, const void *data, apr_size_t len);

/* Lower-case hex of `len` bytes. */
char *apiauth_hex_encode(apr_pool_t *p, const unsigned char *data,
                         apr_size_t len);

/* Exactly 2*outlen hex digits into `out`; 0 on success. */
int apiauth_hex_decode(const char *hex, unsigned char *out, apr_size_t outlen);

/* The alphabets the parsers check, one bit each in a table indexed by the
 * byte: a credential of a few hundred characters is scanned with one load
 * and one test per character. */
#define APIAUTH_CHARS_B64 0x01      /* A-Z a-z 0-9 + / (RFC 4648 §4) */
#define APIAUTH_CHARS_B64URL 0x02   /* A-Z a-z 0-9 - _ (RFC 4648 §5) */
#define APIAUTH_CHARS_TOKEN68 0x04  /* A-Z a-z 0-9 - . _ ~ + / (RFC 7235) */
#define APIAUTH_CHARS_TEXT 0x08     /* anything but a control character */
extern const unsigned char apiauth_chars[256];
#define apiauth_char_is(c, set) (apiauth_chars[(unsigned char)(c)] & (set))

/* How many of the first `len` bytes of s are all in `set`: len when all
 * are.  Eight at a time, for the long ones (a JWT). */
apr_size_t apiauth_chars_span(const char *s, apr_size_t len, unsigned set);

#endif
