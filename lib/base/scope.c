/*
 * scope.c: scope lists (see scope.h).
 */
#include <string.h>

#include <apr_strings.h>

#include "scope.h"

int apiauth_scope_token_valid(const char *s, apr_size_t len)
{
    apr_size_t i;

    if (len == 0 || len > 256) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e || c == 0x22 || c == 0x5c) {
            return 0;
        }
    }
    return 1;
}

int apiauth_scope_list_valid(const char *list)
{
    const char *cur = list;

    if (list == NULL) {
        return 0;
    }
    if (*list == '\0') {
        return 1;
    }
    for (;;) {
        const char *sp = strchr(cur, ' ');
        apr_size_t len = sp ? (apr_size_t)(sp - cur) : strlen(cur);
        if (!apiauth_scope_token_valid(cur, len)) {
            return 0;
        }
        if (sp == NULL) {
            return 1;
        }
        cur = sp + 1;
    }
}

int apiauth_scope_has(const char *list, const char *scope)
{
    apr_size_t n = strlen(scope);
    const char *cur = list, *start;

    /* "a b" would be found in "a b c" as if it were one token */
    if (list == NULL || n == 0 || memchr(scope, ' ', n) != NULL) {
        return 0;
    }
    /* token by token: on every authorized request, and lists are short */
    while (*cur) {
        start = cur;
        while (*cur && *cur != ' ') {
            cur++;
        }
        if ((apr_size_t)(cur - start) == n && memcmp(start, scope, n) == 0) {
            return 1;
        }
        while (*cur == ' ') {
            cur++;
        }
    }
    return 0;
}

int apiauth_scope_subset(const char *wanted, const char *granted)
{
    const char *cur = wanted;

    while (cur && *cur) {
        const char *sp = strchr(cur, ' ');
        apr_size_t len = sp ? (apr_size_t)(sp - cur) : strlen(cur);
        char token[257];
        if (len > 0) {
            if (len >= sizeof(token)) {
                return 0;
            }
            memcpy(token, cur, len);
            token[len] = '\0';
            if (!apiauth_scope_has(granted, token)) {
                return 0;
            }
        }
        cur = sp ? sp + 1 : NULL;
    }
    return 1;
}

apr_array_header_t *apiauth_scope_split(apr_pool_t *p, const char *list)
{
    apr_array_header_t *a = apr_array_make(p, 4, sizeof(const char *));
    char *copy = apr_pstrdup(p, list ? list : ""), *last, *tok;

    for (tok = apr_strtok(copy, " ", &last); tok;
         tok = apr_strtok(NULL, " ", &last)) {
        APR_ARRAY_PUSH(a, const char *) = tok;
    }
    return a;
}
