/*
 * response.c: JSON error bodies and challenges (see response.h).
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <openssl/crypto.h>
#include <jansson.h>

#include "response.h"

/* Each string of `v`, wiped where jansson keeps it. */
static void wipe_strings(json_t *v)
{
    const char *key;
    json_t *item;
    size_t i;

    if (json_is_string(v)) {
        OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
    }
    else if (json_is_object(v)) {
        json_object_foreach(v, key, item) {
            wipe_strings(item);
        }
    }
    else if (json_is_array(v)) {
        json_array_foreach(v, i, item) {
            wipe_strings(item);
        }
    }
}

static apr_status_t wipe_text(void *text)
{
    OPENSSL_cleanse(text, strlen(text));
    return APR_SUCCESS;
}

char *apiauth_json_sealed(apr_pool_t *p, json_t *value, size_t flags)
{
    /* written once (a token response is mostly one long string, whose
     * every character jansson looks at): json_dumpb would write it twice,
     * to learn its length first */
    char *dumped = value ? json_dumps(value, flags) : NULL;
    char *text = NULL;

    if (dumped) {
        apr_size_t len = strlen(dumped);
        text = apr_pmemdup(p, dumped, len + 1);
        OPENSSL_cleanse(dumped, len);
        free(dumped);
        apr_pool_cleanup_register(p, text, wipe_text, apr_pool_cleanup_null);
    }
    if (value) {
        wipe_strings(value);
        json_decref(value);
    }
    return text;
}

char *apiauth_json_error(apr_pool_t *p, const char *error,
                         const char *description)
{
    json_t *o = json_object();
    char *text;

    json_object_set_new(o, "error", json_string(error ? error : "error"));
    if (description) {
        json_object_set_new(o, "error_description", json_string(description));
    }
    text = apiauth_json_sealed(p, o, JSON_COMPACT);
    return text ? text : apr_pstrdup(p, "{\"error\":\"server_error\"}");
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
