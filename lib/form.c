/*
 * form.c: urlencoded pairs (see form.h).
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "form.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (char)apr_tolower(c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

apiauth_status_t apiauth_urldecode(apr_pool_t *p, const char *s,
                                   apr_size_t len, char **out)
{
    char *d = apr_palloc(p, len + 1);
    apr_size_t i, o = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '+') {
            d[o++] = ' ';
        }
        else if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= len) {
                return APIAUTH_INVALID;
            }
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                return APIAUTH_INVALID;
            }
            d[o++] = (char)(hi << 4 | lo);
            i += 2;
        }
        else if (s[i] == '\0') {
            return APIAUTH_INVALID;
        }
        else {
            d[o++] = s[i];
        }
    }
    d[o] = '\0';
    *out = d;
    return APIAUTH_OK;
}

/* Calls `fn` for each name=value pair of `args` (raw, undecoded bytes);
 * stops when fn returns non-zero and returns that. */
typedef int (*pair_fn)(void *ctx, const char *pair, apr_size_t pairlen,
                       apr_size_t namelen);

static int each_pair(const char *args, pair_fn fn, void *ctx)
{
    const char *cur = args;

    while (cur && *cur) {
        const char *amp = strchr(cur, '&');
        apr_size_t len = amp ? (apr_size_t)(amp - cur) : strlen(cur);
        const char *eq = memchr(cur, '=', len);
        apr_size_t namelen = eq ? (apr_size_t)(eq - cur) : len;
        int rc;

        if (len > 0 && (rc = fn(ctx, cur, len, namelen)) != 0) {
            return rc;
        }
        cur = amp ? amp + 1 : NULL;
    }
    return 0;
}

typedef struct {
    apr_pool_t *p;
    const char *name;
    apr_size_t namelen;
    const char **value;
    int count;
    int malformed;
} get_ctx;

static int get_pair(void *data, const char *pair, apr_size_t len,
                    apr_size_t namelen)
{
    get_ctx *c = data;

    /* names we look for never need decoding; an encoded name is another
     * parameter */
    if (namelen != c->namelen || memcmp(pair, c->name, namelen) != 0) {
        return 0;
    }
    if (c->count++ == 0 && c->value) {
        char *v = "";
        if (namelen < len
            && apiauth_urldecode(c->p, pair + namelen + 1,
                                 len - namelen - 1, &v) != APIAUTH_OK) {
            c->malformed = 1;
        }
        *c->value = v;
    }
    return 0;
}

int apiauth_query_get(apr_pool_t *p, const char *args, const char *name,
                      const char **value)
{
    get_ctx c = {p, name, strlen(name), value, 0, 0};

    if (value) {
        *value = NULL;
    }
    each_pair(args, get_pair, &c);
    return c.malformed ? -1 : c.count;
}

typedef struct {
    const char *const *names;
    const char *mask;
    char *out;
    apr_size_t used;
} rewrite_ctx;

static int rewrite_pair(void *data, const char *pair, apr_size_t len,
                        apr_size_t namelen)
{
    rewrite_ctx *c = data;
    const char *const *n;
    int named = 0;

    for (n = c->names; *n && !named; n++) {
        named = strlen(*n) == namelen && memcmp(pair, *n, namelen) == 0;
    }
    if (named && c->mask == NULL) {
        return 0;
    }
    if (c->used) {
        c->out[c->used++] = '&';
    }
    if (named) {
        memcpy(c->out + c->used, pair, namelen);
        c->used += namelen;
        c->out[c->used++] = '=';
        memcpy(c->out + c->used, c->mask, strlen(c->mask));
        c->used += strlen(c->mask);
    }
    else {
        memcpy(c->out + c->used, pair, len);
        c->used += len;
    }
    return 0;
}

char *apiauth_query_rewrite(apr_pool_t *p, const char *args,
                            const char *const *names, const char *mask)
{
    rewrite_ctx c;
    apr_size_t pairs = 1;
    const char *a;

    if (args == NULL) {
        return NULL;
    }
    for (a = args; *a; a++) {
        pairs += *a == '&';
    }
    c.names = names;
    c.mask = mask;
    c.used = 0;
    /* each pair grows by at most "=" and the mask */
    c.out = apr_palloc(p, strlen(args) + 1
                              + pairs * (2 + (mask ? strlen(mask) : 0)));
    each_pair(args, rewrite_pair, &c);
    c.out[c.used] = '\0';
    return c.used ? c.out : NULL;
}
