/*
 * credential.c: the Authorization header and its siblings (credential.h).
 *
 * Syntax follows RFC 7235 §2.1 (credentials = auth-scheme 1*SP token68),
 * RFC 6750 §2.1 (b64token) and RFC 7617 (Basic).  Scheme names compare
 * case-insensitively: Taptouch's own examples send "bearer".
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "credential.h"
#include "encoding.h"

static const struct {
    apiauth_scheme_t scheme;
    const char *name;
} scheme_names[] = {
    {APIAUTH_SCHEME_BEARER, "bearer"},
    {APIAUTH_SCHEME_APIKEY, "apikey"},
    {APIAUTH_SCHEME_TOKEN, "token"},
    {APIAUTH_SCHEME_BASIC, "basic"},
    {APIAUTH_SCHEME_INSTALL, "install"},
    {APIAUTH_SCHEME_DPOP, "dpop"},
};

const char *apiauth_scheme_name(apiauth_scheme_t scheme)
{
    size_t i;

    for (i = 0; i < sizeof(scheme_names) / sizeof(scheme_names[0]); i++) {
        if (scheme_names[i].scheme == scheme) {
            return scheme_names[i].name;
        }
    }
    return "none";
}

apiauth_scheme_t apiauth_scheme_from_name(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(scheme_names) / sizeof(scheme_names[0]); i++) {
        if (strcasecmp(scheme_names[i].name, name) == 0) {
            return scheme_names[i].scheme;
        }
    }
    return 0;
}

/* RFC 6750 b64token / RFC 7235 token68:
 * 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static int is_token68(const char *s, apr_size_t len)
{
    apr_size_t i = apiauth_chars_span(s, len, APIAUTH_CHARS_TOKEN68);

    if (i == 0) {
        return 0;
    }
    while (i < len && s[i] == '=') {
        i++;
    }
    return i == len;
}

/* A key in a header or query parameter: visible ASCII, bounded. */
static int is_plain_secret(const char *s)
{
    apr_size_t n;

    for (n = 0; s[n]; n++) {
        if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f
            || n >= APIAUTH_MAX_SECRET) {
            return 0;
        }
    }
    return n > 0;
}

/* Basic user and password: printable ASCII (space allowed in neither,
 * since none of our user ids, tokens or keys holds one). */
static int is_basic_part(const char *s, apr_size_t len)
{
    apr_size_t i;

    if (len > APIAUTH_MAX_SECRET) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

static apiauth_status_t parse_basic(apr_pool_t *p, const char *b64,
                                    apiauth_credential_t *cred,
                                    apiauth_error_t *err)
{
    unsigned char *plain;
    apr_size_t len;
    const char *colon;

    if (apiauth_b64_decode(p, b64, strlen(b64), &plain, &len) != APIAUTH_OK) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "Basic credentials are not valid base64");
    }
    if (strlen((char *)plain) != len) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "Basic credentials contain a NUL byte");
    }
    colon = strchr((char *)plain, ':');
    if (colon == NULL) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "Basic credentials lack the ':' separator");
    }
    if (colon == (char *)plain) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "Basic credentials have an empty user part");
    }
    if (!is_basic_part((char *)plain, (apr_size_t)(colon - (char *)plain))
        || !is_basic_part(colon + 1, strlen(colon + 1))) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "Basic credentials must be printable ASCII");
    }
    cred->secret = apr_pstrmemdup(p, (char *)plain,
                                  (apr_size_t)(colon - (char *)plain));
    cred->password = colon + 1;
    return APIAUTH_OK;
}

/* The Authorization header: Bearer, Token, Basic or DPoP.  A scheme that is not
 * accepted here (or not ours at all) is left alone: APIAUTH_NOT_MINE. */
static apiauth_status_t parse_authorization(apr_pool_t *p, const char *h,
                                            unsigned accepted,
                                            apiauth_credential_t *cred,
                                            apiauth_error_t *err)
{
    apr_size_t slen = 0, len = strlen(h);
    const char *rest;
    apiauth_scheme_t scheme = 0;

    if (len == 0) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "the Authorization header is empty");
    }
    if (len > APIAUTH_MAX_AUTHORIZATION) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "the Authorization header is too long");
    }
    while (h[slen] && h[slen] != ' ') {
        slen++;
    }
    if (slen == 6 && strncasecmp(h, "bearer", 6) == 0) {
        scheme = APIAUTH_SCHEME_BEARER;
    }
    else if (slen == 5 && strncasecmp(h, "token", 5) == 0) {
        scheme = APIAUTH_SCHEME_TOKEN;
    }
    else if (slen == 5 && strncasecmp(h, "basic", 5) == 0) {
        scheme = APIAUTH_SCHEME_BASIC;
    }
    else if (slen == 4 && strncasecmp(h, "dpop", 4) == 0) {
        scheme = APIAUTH_SCHEME_DPOP;
    }
    if (scheme == 0 || !(accepted & scheme)) {
        return APIAUTH_NOT_MINE;
    }
    rest = h + slen;
    while (*rest == ' ') {
        rest++;
    }
    if (*rest == '\0') {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "the Authorization header has a scheme but no "
                            "credentials");
    }
    if (!is_token68(rest, strlen(rest))) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "the Authorization credentials are malformed "
                            "(two credentials, or characters outside "
                            "token68)");
    }
    cred->scheme = scheme;
    cred->source = APIAUTH_FROM_AUTHORIZATION;
    if (scheme == APIAUTH_SCHEME_BASIC) {
        return parse_basic(p, rest, cred, err);
    }
    if (strlen(rest) > APIAUTH_MAX_SECRET && scheme == APIAUTH_SCHEME_TOKEN) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "the Token credential is too long");
    }
    cred->secret = rest;
    return APIAUTH_OK;
}

static apiauth_status_t parse_install(const apiauth_request_material_t *m,
                                      apiauth_credential_t *found, int *count,
                                      apiauth_error_t *err)
{
    int in_headers = m->install_token_header || m->install_id_header;
    int in_query = m->install_token_query_count > 0;

    if (m->install_token_query_count > 1 || m->install_id_query_count > 1) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "installid or token is repeated in the query");
    }
    if (in_headers && in_query) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "an install token is given both in the query "
                            "and in headers");
    }
    if (in_headers) {
        if (!m->install_id_header || !m->install_token_header) {
            return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                "X-Install-Id and X-Install-Token go "
                                "together");
        }
        found->install_id = m->install_id_header;
        found->secret = m->install_token_header;
        found->source = APIAUTH_FROM_INSTALL_HEADERS;
    }
    else if (in_query) {
        if (m->install_id_query == NULL) {
            return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                "an install token needs its installid");
        }
        found->install_id = m->install_id_query;
        found->secret = m->install_token_query;
        found->source = APIAUTH_FROM_INSTALL_QUERY;
    }
    else {
        return APIAUTH_NOT_MINE;
    }
    if (!is_plain_secret(found->secret) || !apiauth_name_is_valid(found->install_id)) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "the install id or token is malformed");
    }
    found->scheme = APIAUTH_SCHEME_INSTALL;
    (*count)++;
    return APIAUTH_OK;
}

static apiauth_status_t parse_apikey(const apiauth_request_material_t *m,
                                     apiauth_credential_t *found, int *count,
                                     apiauth_error_t *err)
{
    if (m->key_query_count > 1) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "the API key parameter is repeated");
    }
    if (m->key_header) {
        found->secret = m->key_header;
        found->source = APIAUTH_FROM_KEY_HEADER;
        (*count)++;
    }
    if (m->key_query_count == 1) {
        found->secret = m->key_query;
        found->source = APIAUTH_FROM_KEY_QUERY;
        (*count)++;
    }
    if (*count == 0) {
        return APIAUTH_NOT_MINE;
    }
    if (*count == 1 && !is_plain_secret(found->secret)) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "the API key is empty or malformed");
    }
    found->scheme = APIAUTH_SCHEME_APIKEY;
    return APIAUTH_OK;
}

apiauth_status_t apiauth_credential_parse(apr_pool_t *p,
                                          const apiauth_request_material_t *m,
                                          apiauth_credential_t *cred,
                                          apiauth_error_t *err)
{
    apiauth_credential_t from_auth = {0}, from_key = {0}, from_install = {0};
    apiauth_status_t st;
    int count = 0, n;

    if (m->authorization) {
        st = parse_authorization(p, m->authorization, m->accepted, &from_auth,
                                 err);
        if (st == APIAUTH_INVALID) {
            return st;
        }
        if (st == APIAUTH_OK) {
            count++;
        }
    }
    if (m->accepted & APIAUTH_SCHEME_APIKEY) {
        n = 0;
        st = parse_apikey(m, &from_key, &n, err);
        if (st == APIAUTH_INVALID) {
            return st;
        }
        count += n;
    }
    if (m->accepted & APIAUTH_SCHEME_INSTALL) {
        n = 0;
        st = parse_install(m, &from_install, &n, err);
        if (st == APIAUTH_INVALID) {
            return st;
        }
        count += n;
    }
    if (count == 0) {
        return APIAUTH_NOT_MINE;
    }
    if (count > 1) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "more than one credential in the request");
    }
    *cred = from_auth.scheme ? from_auth
            : from_key.scheme ? from_key : from_install;
    return APIAUTH_OK;
}
