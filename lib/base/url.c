/*
 * url.c: the normal form of a URL (url.h).
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "url.h"

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static int unreserved(int c)
{
    return apr_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* The path with its percent-encodings normalised (§6.2.2.1-2); NULL when
 * one is broken or a character has no place in a path. */
static char *path_encodings(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= len) {
                return NULL;
            }
            hi = hexval((unsigned char)s[i + 1]);
            lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) {
                return NULL;
            }
            c = (unsigned char)(hi * 16 + lo);
            if (unreserved(c)) {
                *o++ = (char)c;
            }
            else {
                *o++ = '%';
                *o++ = "0123456789ABCDEF"[hi];
                *o++ = "0123456789ABCDEF"[lo];
            }
            i += 2;
        }
        else if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>'
                 || c == '\\' || c == '^' || c == '`' || c == '{' || c == '|'
                 || c == '}') {
            return NULL;
        }
        else {
            *o++ = (char)c;
        }
    }
    *o = '\0';
    return out;
}

/* RFC 3986 §5.2.4, in place: "/a/./b/../c" -> "/a/c". */
static void remove_dot_segments(char *path)
{
    char *in = path, *out = path;

    while (*in) {
        if (strncmp(in, "/./", 3) == 0) {
            in += 2;
        }
        else if (strcmp(in, "/.") == 0) {
            in[1] = '\0';
        }
        else if (strncmp(in, "/../", 4) == 0 || strcmp(in, "/..") == 0) {
            if (in[3] == '\0') {
                in += 2;              /* "/.." becomes "/" */
                *in = '/';
            }
            else {
                in += 3;              /* "/../x" becomes "/x" */
            }
            /* and the segment written last goes */
            while (out > path && *--out != '/') {
            }
        }
        else {
            do {
                *out++ = *in++;
            } while (*in && *in != '/');
        }
    }
    *out = '\0';
    if (*path == '\0') {
        path[0] = '/';
        path[1] = '\0';
    }
}

char *apiauth_url_normalise(apr_pool_t *p, const char *url)
{
    const char *rest, *host, *host_end, *path;
    const char *default_port;
    char *scheme, *h, *c, *port = NULL, *out_path;
    apr_size_t path_len;

    if (url == NULL) {
        return NULL;
    }
    if (strncasecmp(url, "https://", 8) == 0) {
        scheme = "https";
        default_port = "443";
        rest = url + 8;
    }
    else if (strncasecmp(url, "http://", 7) == 0) {
        scheme = "http";
        default_port = "80";
        rest = url + 7;
    }
    else {
        return NULL;
    }
    host = rest;
    host_end = host + strcspn(host, "/?#");
    path = host_end;
    if (memchr(host, '@', (apr_size_t)(host_end - host))) {
        return NULL;
    }
    h = apr_pstrmemdup(p, host, (apr_size_t)(host_end - host));
    /* the port is after the last colon outside an IPv6 literal */
    {
        char *close = strrchr(h, ']');
        char *colon = strrchr(close ? close : h, ':');
        if (colon) {
            *colon = '\0';
            port = colon + 1;
        }
    }
    if (*h == '\0') {
        return NULL;
    }
    for (c = h; *c; c++) {
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) {
            return NULL;
        }
        *c = (char)apr_tolower(*c);
    }
    if (port) {
        apr_int64_t n = 0;
        const char *d = port;
        if (*d == '\0') {
            port = NULL;                  /* "host:" means the default */
        }
        for (; port && *d; d++) {
            if (!apr_isdigit(*d) || (n = n * 10 + (*d - '0')) > 65535) {
                return NULL;
            }
        }
        if (port && n == 0) {
            return NULL;
        }
        if (port) {
            port = apr_psprintf(p, "%d", (int)n);
            if (strcmp(port, default_port) == 0) {
                port = NULL;
            }
        }
    }
    path_len = strcspn(path, "?#");
    out_path = path_encodings(p, path, path_len);
    if (out_path == NULL) {
        return NULL;
    }
    if (*out_path == '\0') {
        out_path = apr_pstrdup(p, "/");
    }
    remove_dot_segments(out_path);
    return apr_pstrcat(p, scheme, "://", h, port ? ":" : "", port ? port : "",
                       out_path, NULL);
}

int apiauth_resource_uri_valid(apr_pool_t *p, const char *uri)
{
    return uri && apiauth_url_normalise(p, uri) != NULL
           && strpbrk(uri, "?#") == NULL;
}

char *apiauth_resource_metadata_url(apr_pool_t *p, const char *resource,
                                    const char **path)
{
    const char *after = strstr(resource, "://");
    const char *slash = after ? strchr(after + 3, '/') : NULL;
    const char *rest = slash && strcmp(slash, "/") != 0 ? slash : "";
    apr_size_t origin = slash ? (apr_size_t)(slash - resource)
                              : strlen(resource);

    if (path) {
        *path = apr_pstrcat(p, APIAUTH_RESOURCE_METADATA_PATH, rest, NULL);
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, resource, origin),
                       APIAUTH_RESOURCE_METADATA_PATH, rest, NULL);
}
