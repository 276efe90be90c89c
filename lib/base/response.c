/*
 * response.c: JSON error bodies and challenges (see response.h).
 */
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "response.h"

char *apiauth_json_error(apr_pool_t *p, const char *error,
                         const char *description)
{
    json_t *o = json_object();
    char *text, *out;

    json_object_set_new(o, "error", json_string(error ? error : "error"));
    if (description) {
        json_object_set_new(o, "error_description", json_string(description));
    }
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text == NULL) {
        return apr_pstrdup(p, "{\"error\":\"server_error\"}");
    }
    out = apr_pstrdup(p, text);
    free(text);
    return out;
}

/* RFC 6750 §3: %x20-21 / %x23-5B / %x5D-7E inside the quotes. */
static const char *quotable(apr_pool_t *p, const char *s)
{
    char *q = apr_pstrdup(p, s);
    char *c;

    for (c = q; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u < 0x20 || u > 0x7e || u == '"' || u == '\\') {
            *c = '?';
        }
    }
    return q;
}

char *apiauth_challenge(apr_pool_t *p, const char *scheme, const char *realm,
                        const char *error, const char *description,
                        const char *scope, const char *extra)
{
    char *c = apr_pstrcat(p, scheme, " realm=\"",
                          quotable(p, realm ? realm : "api"), "\"", NULL);

    if (error) {
        c = apr_pstrcat(p, c, ", error=\"", quotable(p, error), "\"", NULL);
    }
    if (description) {
        c = apr_pstrcat(p, c, ", error_description=\"",
                        quotable(p, description), "\"", NULL);
    }
    if (scope) {
        c = apr_pstrcat(p, c, ", scope=\"", quotable(p, scope), "\"", NULL);
    }
    if (extra) {
        c = apr_pstrcat(p, c, ", ", extra, NULL);
    }
    return c;
}
