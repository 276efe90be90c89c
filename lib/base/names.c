/*
 * names.c: the names apiauth gives what it speaks of -- credential kinds
 * (what APIAUTH_KIND says, the store holds and Require apiauth-kind
 * takes) and OAuth grant types (what clients are registered with and
 * token requests name).  One table of each, read both ways.
 */
#include <string.h>

#include <apr_strings.h>

#include "apiauth.h"
#include "scope.h"

static const char *const kind_names[APIAUTH_KIND_COUNT] = {
    [APIAUTH_KIND_NONE] = "none",
    [APIAUTH_KIND_API_KEY] = "api_key",
    [APIAUTH_KIND_TOKEN] = "token",
    [APIAUTH_KIND_APP_TOKEN] = "app_token",
    [APIAUTH_KIND_SESSION] = "session",
    [APIAUTH_KIND_BACKEND] = "backend",
    [APIAUTH_KIND_INSTALL] = "install",
    [APIAUTH_KIND_OAUTH] = "oauth",
};

const char *apiauth_kind_name(apiauth_kind_t kind)
{
    if (kind <= APIAUTH_KIND_NONE || kind >= APIAUTH_KIND_COUNT) {
        return "none";
    }
    return kind_names[kind];
}

apiauth_kind_t apiauth_kind_from_name(const char *name)
{
    int k;

    if (name == NULL) {
        return APIAUTH_KIND_NONE;
    }
    for (k = APIAUTH_KIND_NONE + 1; k < APIAUTH_KIND_COUNT; k++) {
        if (strcmp(kind_names[k], name) == 0) {
            return (apiauth_kind_t)k;
        }
    }
    return APIAUTH_KIND_NONE;
}

static const struct {
    unsigned bit;
    const char *name;
} grant_names[] = {
    {APIAUTH_GRANT_AUTHORIZATION_CODE, "authorization_code"},
    {APIAUTH_GRANT_CLIENT_CREDENTIALS, "client_credentials"},
    {APIAUTH_GRANT_REFRESH_TOKEN, "refresh_token"},
};

unsigned apiauth_grant_from_name(const char *name)
{
    size_t i;

    for (i = 0; name && i < sizeof(grant_names) / sizeof(grant_names[0]); i++) {
        if (strcmp(grant_names[i].name, name) == 0) {
            return grant_names[i].bit;
        }
    }
    return 0;
}

const char *apiauth_grant_name(unsigned grant)
{
    size_t i;

    for (i = 0; i < sizeof(grant_names) / sizeof(grant_names[0]); i++) {
        if (grant_names[i].bit == grant) {
            return grant_names[i].name;
        }
    }
    return NULL;
}

unsigned apiauth_grants_parse(apr_pool_t *p, const char *list,
                              const char **bad)
{
    apr_array_header_t *words = apiauth_scope_split(p, list);
    unsigned bits = 0, bit;
    int i;

    for (i = 0; i < words->nelts; i++) {
        const char *w = APR_ARRAY_IDX(words, i, const char *);
        if ((bit = apiauth_grant_from_name(w)) == 0) {
            *bad = w;
            return 0;
        }
        bits |= bit;
    }
    return bits;
}

const char *apiauth_grants_text(apr_pool_t *p, unsigned grants)
{
    const char *text = "";
    size_t i;

    for (i = 0; i < sizeof(grant_names) / sizeof(grant_names[0]); i++) {
        if (grants & grant_names[i].bit) {
            text = *text ? apr_pstrcat(p, text, " ", grant_names[i].name, NULL)
                         : grant_names[i].name;
        }
    }
    return text;
}
