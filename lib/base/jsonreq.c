/*
 * jsonreq.c: top-level members of a JSON request body (jsonreq.h).
 *
 * jansson does the parsing; this file decides what a request body may be
 * before and after it does.  It is not a JSON library and builds nothing:
 * answers are written by response.c and the glue.
 */
#include <apr_strings.h>
#include <jansson.h>

#include "jsonreq.h"

static apiauth_status_t refuse(apiauth_error_t *err, const char *why)
{
    return apiauth_fail(err, APIAUTH_INVALID, "invalid_request", why);
}

/* 1 when no object or array in s[0..len) opens deeper than `max`.  Only
 * brackets outside strings count, and in a valid document strings are
 * closed by an unescaped quote: the count is exact for anything jansson
 * would accept, and whatever it miscounts jansson refuses anyway. */
static int nesting_within(const char *s, apr_size_t len, int max)
{
    int depth = 0, in_string = 0;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        char c = s[i];

        if (in_string) {
            if (c == '\\') {
                i++;
            }
            else if (c == '"') {
                in_string = 0;
            }
        }
        else if (c == '"') {
            in_string = 1;
        }
        else if (c == '{' || c == '[') {
            if (++depth > max) {
                return 0;
            }
        }
        else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 1;
}

/* One named member as a pool string; NULL (and *ok = 0) if it is of a
 * type the caller did not allow. */
static const char *member_value(apr_pool_t *p, json_t *v, unsigned flags,
                                int *ok)
{
    *ok = 1;
    if (json_is_string(v)) {
        return apr_pstrmemdup(p, json_string_value(v), json_string_length(v));
    }
    /* APR's own format, not JSON_INTEGER_FORMAT: apr_psprintf reads
     * "%lld" as "%l" followed by a stray "d". */
    if (json_is_integer(v) && (flags & APIAUTH_JSON_INTEGERS)) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT,
                            (apr_int64_t)json_integer_value(v));
    }
    *ok = 0;
    return NULL;
}

apiauth_status_t apiauth_json_fields(apr_pool_t *p, const char *body,
                                     apr_size_t len,
                                     const char *const *names,
                                     unsigned flags, const char **values,
                                     apiauth_error_t *err)
{
    const char *bad = NULL;
    json_t *doc, *v;
    size_t i, n;
    int ok;

    for (n = 0; names[n]; n++) {
        values[n] = NULL;
    }
    if (body == NULL || len > APIAUTH_JSON_MAX_BODY) {
        return refuse(err, "the JSON body is missing or too large");
    }
    if (!nesting_within(body, len, APIAUTH_JSON_MAX_DEPTH)) {
        return refuse(err, "the JSON body nests too deeply");
    }
    doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return refuse(err, "the body is not a JSON object (or repeats a "
                      "member)");
    }
    for (i = 0; i < n && bad == NULL; i++) {
        v = json_object_get(doc, names[i]);
        if (v) {
            values[i] = member_value(p, v, flags, &ok);
            if (!ok) {
                bad = names[i];
            }
        }
    }
    json_decref(doc);
    if (bad) {
        for (i = 0; i < n; i++) {
            values[i] = NULL;
        }
        return refuse(err, apr_psprintf(p, "\"%s\" must be a %s", bad,
                                        (flags & APIAUTH_JSON_INTEGERS)
                                            ? "string or an integer"
                                            : "string"));
    }
    return APIAUTH_OK;
}
