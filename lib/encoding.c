/*
 * encoding.c: strict base64 / base64url / hex (see encoding.h).
 */
#include <string.h>

#include <apr_encode.h>
#include <apr_lib.h>

#include "encoding.h"

static int is_b64url_char(unsigned char c)
{
    return apr_isalnum(c) || c == '-' || c == '_';
}

static int is_b64_char(unsigned char c)
{
    return apr_isalnum(c) || c == '+' || c == '/';
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

static apiauth_status_t decode_checked(apr_pool_t *p, const char *s,
                                       apr_size_t len, unsigned char **out,
                                       apr_size_t *outlen)
{
    apr_size_t n;
    char *buf;

    if (apr_decode_base64(NULL, s, (apr_ssize_t)len, APR_ENCODE_NONE, &n)
        != APR_SUCCESS) {
        return APIAUTH_INVALID;
    }
    buf = apr_palloc(p, n + 1);
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
    apr_size_t i;

    for (i = 0; i < slen; i++) {
        if (!is_b64url_char((unsigned char)s[i])) {
            return APIAUTH_INVALID;
        }
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
    apr_size_t i, data = slen;

    if (slen == 0 || slen % 4 != 0) {
        return APIAUTH_INVALID;
    }
    if (s[slen - 1] == '=') {
        data--;
        if (s[slen - 2] == '=') {
            data--;
        }
    }
    for (i = 0; i < data; i++) {
        if (!is_b64_char((unsigned char)s[i])) {
            return APIAUTH_INVALID;
        }
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
