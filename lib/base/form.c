/*
 * form.c: urlencoded pairs, and request bodies as parameters (see form.h).
 *
 * Query strings and x-www-form-urlencoded bodies share one pair splitter
 * and one percent-decoder.  The RFC 6749 §3.1 rules (repeats, empties, NUL
 * bytes, how many) are applied here, once, to urlencoded and multipart
 * bodies alike; multipart.c only finds the fields.
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "form.h"
#include "multipart.h"

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

/* Calls `fn` for each name=value pair of args[0..len) (raw, undecoded
 * bytes; args need not be NUL terminated); stops when fn returns non-zero
 * and returns that. */
typedef int (*pair_fn)(void *ctx, const char *pair, apr_size_t pairlen,
                       apr_size_t namelen);

static int each_pair(const char *args, apr_size_t len, pair_fn fn, void *ctx)
{
    apr_size_t pos = 0;

    while (pos < len) {
        const char *cur = args + pos;
        const char *amp = memchr(cur, '&', len - pos);
        apr_size_t plen = amp ? (apr_size_t)(amp - cur) : len - pos;
        const char *eq = memchr(cur, '=', plen);
        apr_size_t namelen = eq ? (apr_size_t)(eq - cur) : plen;
        int rc;

        if (plen > 0 && (rc = fn(ctx, cur, plen, namelen)) != 0) {
            return rc;
        }
        pos += plen + 1;
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
    /* "name=" and "name" are absent, as an empty body parameter is */
    if (namelen + 1 >= len) {
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
    each_pair(args, args ? strlen(args) : 0, get_pair, &c);
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
    /* an empty one holds no secret, and masked would gain a value: it
     * counts as absent (apiauth_query_get) and stays so */
    named = named && namelen + 1 < len;
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
    each_pair(args, strlen(args), rewrite_pair, &c);
    c.out[c.used] = '\0';
    return c.used ? c.out : NULL;
}

const char *apiauth_request_line_with_query(apr_pool_t *p, const char *line,
                                            const char *args,
                                            const char *with)
{
    const char *q = line ? strchr(line, '?') : NULL;
    apr_size_t len = args ? strlen(args) : 0;

    if (q == NULL || len == 0 || strncmp(q + 1, args, len) != 0
        || (q[1 + len] != ' ' && q[1 + len] != '\0')) {
        return line;
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, line, q - line),
                       with ? "?" : "", with ? with : "", q + 1 + len, NULL);
}

const char *apiauth_request_line_masked(apr_pool_t *p, const char *line,
                                        const char *const *names,
                                        const char *mask)
{
    const char *q = line ? strchr(line, '?') : NULL;
    const char *sp, *args, *masked;

    if (q == NULL) {
        return line;
    }
    sp = strchr(q + 1, ' ');
    args = sp ? apr_pstrmemdup(p, q + 1, sp - (q + 1)) : q + 1;
    masked = apiauth_query_rewrite(p, args, names, mask);
    if (masked == NULL || strcmp(masked, args) == 0) {
        return line;
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, line, q + 1 - line), masked,
                       sp ? sp : "", NULL);
}

/* The parameters of one body, as apiauth_form_parse builds them. */
typedef struct {
    apr_pool_t *p;
    apr_table_t *params;   /* the non-empty ones: the answer */
    int count;
    int max;
} body_params;

/* The name is request data: say it only when it is short and plain. */
static const char *repeated(apr_pool_t *p, const char *name)
{
    const char *s;

    for (s = name; *s && s - name < 64; s++) {
        if (!apr_isalnum(*s) && *s != '_' && *s != '-' && *s != '.') {
            return "a parameter is repeated";
        }
    }
    if (*s) {
        return "a parameter is repeated";
    }
    return apr_psprintf(p, "the %s parameter is repeated", name);
}

/* RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if
 * they were omitted from the request ... Request and response parameters
 * MUST NOT be included more than once."  An empty one is omitted before
 * repeats are looked for: "grant_type=&grant_type=client_credentials"
 * sends one grant type, and reads as nothing else. */
static apiauth_status_t add_param(void *ctx, const char *name,
                                  apr_size_t namelen, const char *value,
                                  apr_size_t valuelen, apiauth_error_t *err)
{
    body_params *b = ctx;
    const char *n;

    if (++b->count > b->max) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            apr_psprintf(b->p, "the body has more than %d "
                                         "parameters", b->max));
    }
    if (namelen == 0) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "a parameter has no name");
    }
    if (memchr(name, '\0', namelen)
        || (valuelen && memchr(value, '\0', valuelen))) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "a parameter contains a NUL byte");
    }
    if (valuelen == 0) {
        return APIAUTH_OK;
    }
    n = apr_pstrmemdup(b->p, name, namelen);
    if (apr_table_get(b->params, n)) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            repeated(b->p, n));
    }
    apr_table_addn(b->params, n, apr_pstrmemdup(b->p, value, valuelen));
    return APIAUTH_OK;
}

typedef struct {
    body_params *params;
    apiauth_error_t *err;
    apiauth_status_t status;
} urlencoded_ctx;

static int urlencoded_pair(void *data, const char *pair, apr_size_t len,
                           apr_size_t namelen)
{
    urlencoded_ctx *u = data;
    apr_pool_t *p = u->params->p;
    char *name, *value = "";

    if (memchr(pair, '\0', len)) {
        u->status = apiauth_fail(u->err, APIAUTH_INVALID, "invalid_request",
                                 "a parameter contains a NUL byte");
        return 1;
    }
    if (apiauth_urldecode(p, pair, namelen, &name) != APIAUTH_OK
        || (namelen < len
            && apiauth_urldecode(p, pair + namelen + 1, len - namelen - 1,
                                 &value) != APIAUTH_OK)) {
        u->status = apiauth_fail(u->err, APIAUTH_INVALID, "invalid_request",
                                 "a parameter is not validly percent-encoded"
                                 " (or encodes a NUL byte)");
        return 1;
    }
    u->status = add_param(u->params, name, strlen(name), value,
                          strlen(value), u->err);
    return u->status != APIAUTH_OK;
}

apiauth_status_t apiauth_form_parse(apr_pool_t *p, const char *content_type,
                                    const char *body, apr_size_t len,
                                    const apiauth_form_limits_t *limits,
                                    apr_table_t **params, apiauth_error_t *err)
{
    static const apiauth_form_limits_t defaults = {
        APIAUTH_FORM_MAX_BODY_DEFAULT, APIAUTH_FORM_MAX_PARAMS_DEFAULT
    };
    body_params b;
    apiauth_status_t rc;
    apr_size_t ctlen, rest;

    *params = NULL;
    if (limits == NULL) {
        limits = &defaults;
    }
    if (content_type == NULL) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "the body has no Content-Type");
    }
    if (len > limits->max_body) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            apr_psprintf(p, "the body is longer than %"
                                         APR_SIZE_T_FMT " bytes",
                                         limits->max_body));
    }
    b.p = p;
    b.params = apr_table_make(p, 8);
    b.count = 0;
    b.max = limits->max_params;

    ctlen = strlen(content_type);
    if (apiauth_mime_value_is(content_type, ctlen,
                              "application/x-www-form-urlencoded", &rest)) {
        urlencoded_ctx u = {&b, err, APIAUTH_OK};

        each_pair(body, len, urlencoded_pair, &u);
        rc = u.status;
    }
    else if (apiauth_mime_value_is(content_type, ctlen,
                                   "multipart/form-data", &rest)) {
        rc = apiauth_multipart_read(content_type + rest, ctlen - rest, body,
                                    len, add_param, &b, err);
    }
    else {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "the body must be application/x-www-form-"
                            "urlencoded or multipart/form-data");
    }
    if (rc == APIAUTH_OK) {
        *params = b.params;
    }
    return rc;
}
