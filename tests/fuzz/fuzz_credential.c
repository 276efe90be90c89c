/*
 * fuzz_credential.c: libFuzzer target for lib/decide/credential.c and the query
 * string functions of lib/base/form.c.
 *
 * Input: one byte of accepted schemes (APIAUTH_SCHEME_* bits), one byte
 * saying which of the following '\n' separated fields the request
 * carries, then the fields: Authorization, X-API-Key, X-Install-Id,
 * X-Install-Token, the query string.  The material is gathered from them
 * the way apiauth_authn.c does it (the query values and counts through
 * apiauth_query_get, key parameter "api_key"), then parsed; the query
 * string is also rewritten as strip_query_param rewrites it.
 *
 * Promises checked besides memory safety: an accepted credential is of an
 * accepted scheme, its secret is non-empty printable ASCII within the
 * limits and taken from where the source says; an Authorization header of
 * an accepted scheme is never passed over for another credential; a
 * refusal carries invalid_request and a description that is a constant
 * (so never request bytes); a parameter rewritten away is gone, a masked
 * one is still there exactly as often, with the mask as its value.
 *
 *   make fuzz FUZZ_TARGETS=credential FUZZ_SECONDS=60
 */
#include <strings.h>

#include "credential.h"
#include "form.h"
#include "fuzz.h"

#define KEY_PARAM "api_key"

static int printable(const char *s, size_t max, int may_be_empty)
{
    size_t n;

    for (n = 0; s[n]; n++) {
        if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f) {
            return 0;
        }
    }
    return n <= max && (may_be_empty || n > 0);
}

/* Whether the Authorization header names a scheme this location takes:
 * then it is the credential, or the request is malformed. */
static int authorization_is_ours(const char *h, unsigned accepted)
{
    static const struct {
        const char *name;
        unsigned scheme;
    } ours[] = {{"bearer", APIAUTH_SCHEME_BEARER},
                {"token", APIAUTH_SCHEME_TOKEN},
                {"basic", APIAUTH_SCHEME_BASIC},
                {"dpop", APIAUTH_SCHEME_DPOP}};
    size_t len = strcspn(h, " "), i;

    for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
        if (len == strlen(ours[i].name)
            && strncasecmp(h, ours[i].name, len) == 0) {
            return (accepted & ours[i].scheme) != 0;
        }
    }
    return 0;
}

static void check_credential(const apiauth_request_material_t *m,
                             const apiauth_credential_t *c)
{
    FUZZ_CHECK(c->scheme & m->accepted);
    FUZZ_CHECK(c->secret != NULL);
    switch (c->source) {
    case APIAUTH_FROM_AUTHORIZATION:
        FUZZ_CHECK(c->scheme == APIAUTH_SCHEME_BEARER
                   || c->scheme == APIAUTH_SCHEME_DPOP
                   || c->scheme == APIAUTH_SCHEME_TOKEN
                   || c->scheme == APIAUTH_SCHEME_BASIC);
        FUZZ_CHECK(printable(c->secret, c->scheme == APIAUTH_SCHEME_BEARER
                                            || c->scheme == APIAUTH_SCHEME_DPOP
                                            ? APIAUTH_MAX_AUTHORIZATION
                                            : APIAUTH_MAX_SECRET, 0));
        if (c->scheme == APIAUTH_SCHEME_BASIC) {
            FUZZ_CHECK(c->password != NULL);
            FUZZ_CHECK(printable(c->password, APIAUTH_MAX_SECRET, 1));
        }
        else {
            FUZZ_CHECK(strstr(m->authorization, c->secret) != NULL);
        }
        break;
    case APIAUTH_FROM_KEY_HEADER:
    case APIAUTH_FROM_KEY_QUERY:
        FUZZ_CHECK(c->scheme == APIAUTH_SCHEME_APIKEY);
        FUZZ_CHECK(printable(c->secret, APIAUTH_MAX_SECRET, 0));
        FUZZ_CHECK(strcmp(c->secret, c->source == APIAUTH_FROM_KEY_HEADER
                                         ? m->key_header
                                         : m->key_query) == 0);
        FUZZ_CHECK(m->key_query_count
                   + (m->key_header != NULL) == 1);
        break;
    case APIAUTH_FROM_INSTALL_HEADERS:
    case APIAUTH_FROM_INSTALL_QUERY:
        FUZZ_CHECK(c->scheme == APIAUTH_SCHEME_INSTALL);
        FUZZ_CHECK(printable(c->secret, APIAUTH_MAX_SECRET, 0));
        FUZZ_CHECK(apiauth_name_is_valid(c->install_id));
        break;
    default:
        FUZZ_CHECK(!"an unknown source");
    }
    if (c->source != APIAUTH_FROM_AUTHORIZATION && m->authorization) {
        FUZZ_CHECK(!authorization_is_ours(m->authorization, m->accepted));
    }
}

/* strip_query_param's two rewrites of the query string. */
static void check_rewrites(apr_pool_t *p, const char *args)
{
    static const char *const names[] = {KEY_PARAM, "token", NULL};
    const char *stripped = apiauth_query_rewrite(p, args, names, NULL);
    const char *masked = apiauth_query_rewrite(p, args, names, "***");
    const char *value;
    int i, n;

    for (i = 0; names[i]; i++) {
        n = apiauth_query_get(p, args, names[i], NULL);
        FUZZ_CHECK(apiauth_query_get(p, stripped, names[i], NULL) == 0);
        FUZZ_CHECK(apiauth_query_get(p, masked, names[i], &value) == n);
        FUZZ_CHECK(n == 0 || strcmp(value, "***") == 0);
    }
    /* what is not named keeps its count */
    n = apiauth_query_get(p, args, "installid", NULL);
    FUZZ_CHECK(n == apiauth_query_get(p, stripped, "installid", NULL));
    FUZZ_CHECK(n == apiauth_query_get(p, masked, "installid", NULL));
    FUZZ_CHECK(stripped == NULL || *stripped != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apiauth_request_material_t m = {0};
    apiauth_credential_t cred = {0};
    apiauth_error_t err = {NULL, NULL};
    const char *field[5] = {NULL}, *args;
    apiauth_status_t st;
    unsigned present;
    apr_pool_t *p;
    int i;

    if (size < 2 || (p = fuzz_pool()) == NULL) {
        return 0;
    }
    m.accepted = data[0] & APIAUTH_SCHEME_ALL;
    present = data[1];
    data += 2;
    size -= 2;
    for (i = 0; i < 5; i++) {
        const char *f = fuzz_field(p, &data, &size);
        field[i] = (present & (1u << i)) ? f : NULL;
    }
    args = field[4];

    /* as gather_material does it */
    m.authorization = field[0];
    if (m.accepted & APIAUTH_SCHEME_APIKEY) {
        m.key_header = field[1];
        if (args) {
            m.key_query_count = apiauth_query_get(p, args, KEY_PARAM,
                                                  &m.key_query);
        }
    }
    if (m.accepted & APIAUTH_SCHEME_INSTALL) {
        m.install_id_header = field[2];
        m.install_token_header = field[3];
        if (args) {
            m.install_id_query_count = apiauth_query_get(
                p, args, "installid", &m.install_id_query);
            m.install_token_query_count = apiauth_query_get(
                p, args, "token", &m.install_token_query);
        }
    }
    if (m.key_query_count >= 0 && m.install_id_query_count >= 0
        && m.install_token_query_count >= 0) {
        st = apiauth_credential_parse(p, &m, &cred, &err);
        if (st == APIAUTH_OK) {
            check_credential(&m, &cred);
        }
        else if (st == APIAUTH_INVALID) {
            FUZZ_CHECK(err.error && strcmp(err.error, "invalid_request") == 0);
            FUZZ_CHECK(err.description && fuzz_is_constant(err.description));
        }
        else {
            FUZZ_CHECK(st == APIAUTH_NOT_MINE);
        }
    }
    if (args) {
        check_rewrites(p, args);
    }
    apr_pool_destroy(p);
    return 0;
}
