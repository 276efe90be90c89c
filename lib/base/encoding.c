/*
 * encoding.c: strict base64 / base64url / hex (see encoding.h).
 */
#include <string.h>

#include <apr_encode.h>
#include <apr_lib.h>

#include "encoding.h"

/* 1 base64, 2 base64url, 4 token68, 8 text (encoding.h) */
const unsigned char apiauth_chars[256] = {
    /* 0x00 */  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    /* 0x10 */  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    /* 0x20 */  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8, 13,  8, 14, 12, 13,
    /* 0x30 */ 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  8,  8,  8,  8,  8,  8,
    /* 0x40 */  8, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
    /* 0x50 */ 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  8,  8,  8,  8, 14,
    /* 0x60 */  8, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
    /* 0x70 */ 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  8,  8,  8, 12,  0,
    /* 0x80 */  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,
    /* 0x90 */  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,
    /* 0xa0 */  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,
    /* 0xb0 */  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,
    /* 0xc0 */  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,
    /* 0xd0 */  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,
    /* 0xe0 */  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,
    /* 0xf0 */  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,
};

apr_size_t apiauth_chars_span(const char *s, apr_size_t len, unsigned set)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        if (!(apiauth_chars[u[i]] & apiauth_chars[u[i + 1]]
              & apiauth_chars[u[i + 2]] & apiauth_chars[u[i + 3]]
              & apiauth_chars[u[i + 4]] & apiauth_chars[u[i + 5]]
              & apiauth_chars[u[i + 6]] & apiauth_chars[u[i + 7]] & set)) {
            break;
        }
    }
    while (i < len && (apiauth_chars[u[i]] & set)) {
        i++;
    }
    return i;
}

/* The value of the last character of a base64 quantum of `rem` (2 or 3)
 * characters must have its unused low bits clear: "QQ" is "A", "QR" is
 * refused rather than read as "A" too. */
static int trailing_bits_clear(unsigned char last, apr_size_t rem, int url)
{
    unsigned v;

    if (apr_isupper(last)) {
        v = last - 'A';
    }
    else if (apr_islower(last)) {
        v = last - 'a' + 26;
    }
    else if (apr_isdigit(last)) {
        v = last - '0' + 52;
    }
    else if (last == (url ? '-' : '+')) {
        v = 62;
    }
    else {
        v = 63;
    }
    return rem == 2 ? (v & 0x0f) == 0 : (v & 0x03) == 0;
}

/* s[0..len) is known to be of the alphabet, without padding: one call
 * to APR into a buffer of the exact size, len * 3 / 4 bytes. */
static apiauth_status_t decode_checked(apr_pool_t *p, const char *s,
                                       apr_size_t len, unsigned char **out,
                                       apr_size_t *outlen)
{
    apr_size_t n;
    char *buf = apr_palloc(p, len / 4 * 3 + 3);

    if (apr_decode_base64(buf, s, (apr_ssize_t)len, APR_ENCODE_NONE, &n)
        != APR_SUCCESS) {
        return APIAUTH_INVALID;
    }
    buf[n] = '\0';
    *out = (unsigned char *)buf;
    if (outlen) {
        *outlen = n;
    }
    return APIAUTH_OK;
}

apiauth_status_t apiauth_b64url_decode(apr_pool_t *p, const char *s,
                                       apr_size_t slen, unsigned char **out,
                                       apr_size_t *outlen)
{
    if (apiauth_chars_span(s, slen, APIAUTH_CHARS_B64URL) != slen) {
        return APIAUTH_INVALID;
    }
    if (slen % 4 == 1) {
        return APIAUTH_INVALID;
    }
    if (slen % 4 && !trailing_bits_clear((unsigned char)s[slen - 1],
                                         slen % 4, 1)) {
        return APIAUTH_INVALID;
    }
    if (slen == 0) {
        *out = (unsigned char *)apr_pcalloc(p, 1);
        if (outlen) {
            *outlen = 0;
        }
        return APIAUTH_OK;
    }
    return decode_checked(p, s, slen, out, outlen);
}

apiauth_status_t apiauth_b64_decode(apr_pool_t *p, const char *s,
                                    apr_size_t slen, unsigned char **out,
                                    apr_size_t *outlen)
{
    apr_size_t data = slen;

    if (slen == 0 || slen % 4 != 0) {
        return APIAUTH_INVALID;
    }
    if (s[slen - 1] == '=') {
        data--;
        if (s[slen - 2] == '=') {
            data--;
        }
    }
    if (apiauth_chars_span(s, data, APIAUTH_CHARS_B64) != data) {
        return APIAUTH_INVALID;
    }
    if (data % 4 && !trailing_bits_clear((unsigned char)s[data - 1],
                                         data % 4, 0)) {
        return APIAUTH_INVALID;
    }
    return decode_checked(p, s, data, out, outlen);
}

char *apiauth_b64url_encode(apr_pool_t *p, const void *data, apr_size_t len)
{
    apr_size_t n;

    if (len == 0) {
        return apr_pcalloc(p, 1);
    }
    return (char *)apr_pencode_base64_binary(p, data, (apr_ssize_t)len,
                                             APR_ENCODE_BASE64URL
                                             | APR_ENCODE_NOPADDING, &n);
}

char *apiauth_b64_encode(apr_pool_t *p, const void *data, apr_size_t len)
{
    apr_size_t n;

    if (len == 0) {
        return apr_pcalloc(p, 1);
    }
    return (char *)apr_pencode_base64_binary(p, data, (apr_ssize_t)len,
                                             APR_ENCODE_NONE, &n);
}

char *apiauth_hex_encode(apr_pool_t *p, const unsigned char *data,
                         apr_size_t len)
{
    apr_size_t n;

    return (char *)apr_pencode_base16_binary(p, data, (apr_ssize_t)len,
                                             APR_ENCODE_LOWER, &n);
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int apiauth_hex_decode(const char *hex, unsigned char *out, apr_size_t outlen)
{
    apr_size_t i;

    if (hex == NULL || strlen(hex) != outlen * 2) {
        return -1;
    }
    for (i = 0; i < outlen; i++) {
        int hi = hex_value((unsigned char)hex[2 * i]);
        int lo = hex_value((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}
