/*
 * identity.c: credential kinds, the identity a credential resolves to, and
 * its cache form.
 *
 * The cache form is what mod_socache stores for a validated credential, so
 * reading it back is as strict as reading a request: an entry that does
 * not parse is treated as a cache miss, never as an identity.
 */
#include <errno.h>
#include <string.h>

#include <sys/uio.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "apiauth.h"
#include "encoding.h"


apiauth_status_t apiauth_fail(apiauth_error_t *err, apiauth_status_t status,
                              const char *error, const char *description)
{
    if (err) {
        err->error = error;
        err->description = description;
    }
    return status;
}

const char *apiauth_identity_subject(const apiauth_identity_t *id)
{
    if (id->user && *id->user) {
        return id->user;
    }
    if (id->client_id && *id->client_id) {
        return id->client_id;
    }
    return id->app;
}

int apiauth_name_is_valid(const char *s)
{
    size_t n = 0;

    if (s == NULL || *s == '\0') {
        return 0;
    }
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        /* printable ASCII, no space, none of the separators our file
         * format, headers and logs rely on */
        if (c <= 0x20 || c >= 0x7f || c == ':' || c == '"' || c == '\\'
            || c == ',' || c == ';') {
            return 0;
        }
        if (n >= 128) {
            return 0;
        }
    }
    return 1;
}

/* The cache form: "4", the kind, the string fields of string_fields in
 * that order, then expires -- separated by US (0x1f).  NULL and "" are both
 * written empty and read back as NULL, except scope which is never NULL. */
#define FIELD_SEP '\x1f'
#define FORM_VERSION "4"

static const size_t string_fields[] = {
    APR_OFFSETOF(apiauth_identity_t, bound_jkt),
    APR_OFFSETOF(apiauth_identity_t, bound_x5t),
    APR_OFFSETOF(apiauth_identity_t, resource),
    APR_OFFSETOF(apiauth_identity_t, credential_id),
    APR_OFFSETOF(apiauth_identity_t, app),
    APR_OFFSETOF(apiauth_identity_t, user),
    APR_OFFSETOF(apiauth_identity_t, client_id),
    APR_OFFSETOF(apiauth_identity_t, scope),
    APR_OFFSETOF(apiauth_identity_t, install_id),
    APR_OFFSETOF(apiauth_identity_t, acting_app),
    APR_OFFSETOF(apiauth_identity_t, issuer),
    APR_OFFSETOF(apiauth_identity_t, audience),
    APR_OFFSETOF(apiauth_identity_t, key_id),
    APR_OFFSETOF(apiauth_identity_t, grant_id),
    APR_OFFSETOF(apiauth_identity_t, provider),
};
#define STRING_FIELDS (sizeof(string_fields) / sizeof(string_fields[0]))
#define FIELD_COUNT (STRING_FIELDS + 3)

#define FIELD(id, i) (*(const char **)((char *)(id) + string_fields[i]))

static int field_is_clean(const char *s)
{
    for (; s && *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

const char *apiauth_identity_serialize(apr_pool_t *p,
                                       const apiauth_identity_t *id)
{
    struct iovec v[2 * FIELD_COUNT];
    static const char sep[1] = {FIELD_SEP};
    const char *kind = apiauth_kind_name(id->kind);
    const char *expires;
    size_t i, n = 0;

    /* only what apiauth_parse_seconds reads back: an identity that could
     * not be read from the cache is not written to it */
    if (id->expires < 0 || id->expires >= APR_INT64_C(1000000000000000000)) {
        return NULL;
    }
    expires = apr_psprintf(p, "%" APR_INT64_T_FMT, id->expires);

#define ADD(str)                                                          \
    do {                                                                  \
        const char *s_ = (str) ? (str) : "";                              \
        v[n].iov_base = (void *)s_;                                       \
        v[n++].iov_len = strlen(s_);                                      \
        v[n].iov_base = (void *)sep;                                      \
        v[n++].iov_len = 1;                                               \
    } while (0)

    ADD(FORM_VERSION);
    ADD(kind);
    for (i = 0; i < STRING_FIELDS; i++) {
        if (!field_is_clean(FIELD(id, i))) {
            return NULL;
        }
        ADD(FIELD(id, i));
    }
    ADD(expires);
#undef ADD
    return apr_pstrcatv(p, v, n - 1, NULL);
}

/* One pass, text span by text span: separators become NULs, and any other
 * control character (or a NUL inside the given length) refuses the entry.
 * This runs on every cache hit that the connection's memo does not
 * answer. */
apiauth_status_t apiauth_identity_parse_buf(char *buf, apr_size_t len,
                                            apiauth_identity_t *id)
{
    const char *field[FIELD_COUNT];
    size_t n = 0, i;

    if (buf == NULL || len == 0 || len > 8192) {
        return APIAUTH_INVALID;
    }
    field[n++] = buf;
    for (i = apiauth_chars_span(buf, len, APIAUTH_CHARS_TEXT); i < len;
         i += 1 + apiauth_chars_span(buf + i + 1, len - i - 1,
                                     APIAUTH_CHARS_TEXT)) {
        if (buf[i] != FIELD_SEP || n == FIELD_COUNT) {
            return APIAUTH_INVALID;   /* a control character, a field
                                         too many */
        }
        buf[i] = '\0';
        field[n++] = buf + i + 1;
    }
    if (n != FIELD_COUNT || strcmp(field[0], FORM_VERSION) != 0) {
        return APIAUTH_INVALID;
    }
    memset(id, 0, sizeof(*id));
    id->kind = apiauth_kind_from_name(field[1]);
    for (i = 0; i < STRING_FIELDS; i++) {
        FIELD(id, i) = *field[2 + i] ? field[2 + i] : NULL;
    }
    if (id->kind == APIAUTH_KIND_NONE || id->credential_id == NULL
        || id->app == NULL) {
        return APIAUTH_INVALID;
    }
    if (id->scope == NULL) {
        id->scope = "";
    }
    id->expires_text = field[FIELD_COUNT - 1];
    return apiauth_parse_seconds(id->expires_text, &id->expires) == 0
               ? APIAUTH_OK
               : APIAUTH_INVALID;
}

apiauth_status_t apiauth_identity_parse(apr_pool_t *p, const char *s,
                                        apr_size_t len, apiauth_identity_t *id)
{
    if (s == NULL || len == 0 || len > 8192) {
        return APIAUTH_INVALID;
    }
    return apiauth_identity_parse_buf(apr_pstrmemdup(p, s, len), len, id);
}

void apiauth_identity_move(apiauth_identity_t *id, const char *from,
                           apr_size_t len, const char *to)
{
    size_t i;

    for (i = 0; i < STRING_FIELDS; i++) {
        const char *s = FIELD(id, i);
        if (s && s >= from && s < from + len) {
            FIELD(id, i) = to + (s - from);
        }
    }
    if (id->expires_text && id->expires_text >= from
        && id->expires_text < from + len) {
        id->expires_text = to + (id->expires_text - from);
    }
}

int apiauth_parse_seconds(const char *s, apr_int64_t *out)
{
    apr_int64_t v = 0;
    const char *c = s;

    /* digits only, no sign, no leading zero, at most 18 digits (no
     * overflow): one spelling per value */
    if (*c == '\0' || (*c == '0' && c[1] != '\0')) {
        return -1;
    }
    for (; *c; c++) {
        if (*c < '0' || *c > '9' || c - s >= 18) {
            return -1;
        }
        v = v * 10 + (*c - '0');
    }
    *out = v;
    return 0;
}

apiauth_status_t apiauth_credential_row_check(
    const apiauth_credential_row_t *row, apr_int64_t now,
    apiauth_error_t *err)
{
    if (row->revoked) {
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                            "the credential has been revoked");
    }
    if (row->identity.expires && row->identity.expires <= now) {
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_token",
                            "the credential has expired");
    }
    return APIAUTH_OK;
}
