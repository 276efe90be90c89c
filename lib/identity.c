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

#include <apr_strings.h>

#include "apiauth.h"

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

apiauth_status_t apiauth_fail(apiauth_error_t *err, apiauth_status_t status,
                              const char *error, const char *description)
{
    if (err) {
        err->error = error;
        err->description = description;
    }
    return status;
}

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

/* The cache form: fields separated by US (0x1f); NULL and "" are both
 * written empty and read back as NULL, except scope which is never NULL. */
#define FIELD_SEP '\x1f'
#define FIELD_COUNT 10

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
    const char *f[] = {id->credential_id, id->app, id->user, id->client_id,
                       id->scope, id->install_id, id->acting_app};
    size_t i;
    char sep[2] = {FIELD_SEP, '\0'};

    for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (!field_is_clean(f[i])) {
            return NULL;
        }
    }
    return apr_pstrcat(p, "1", sep, apiauth_kind_name(id->kind), sep,
                       f[0] ? f[0] : "", sep, f[1] ? f[1] : "", sep,
                       f[2] ? f[2] : "", sep, f[3] ? f[3] : "", sep,
                       f[4] ? f[4] : "", sep, f[5] ? f[5] : "", sep,
                       f[6] ? f[6] : "", sep,
                       apr_psprintf(p, "%" APR_INT64_T_FMT, id->expires),
                       NULL);
}

apiauth_status_t apiauth_identity_parse(apr_pool_t *p, const char *s,
                                        apr_size_t len, apiauth_identity_t *id)
{
    const char *field[FIELD_COUNT];
    char *copy, *cur, *end;
    int n = 0;

    if (s == NULL || len == 0 || len > 8192) {
        return APIAUTH_INVALID;
    }
    copy = apr_pstrmemdup(p, s, len);
    if (strlen(copy) != len) {
        return APIAUTH_INVALID;
    }
    for (cur = copy; n < FIELD_COUNT; n++) {
        field[n] = cur;
        end = strchr(cur, FIELD_SEP);
        if (end == NULL) {
            n++;
            break;
        }
        *end = '\0';
        cur = end + 1;
    }
    /* end is set when the last field was followed by yet another one */
    if (n != FIELD_COUNT || end != NULL || strcmp(field[0], "1") != 0) {
        return APIAUTH_INVALID;
    }
    for (n = 0; n < FIELD_COUNT; n++) {
        if (!field_is_clean(field[n])) {
            return APIAUTH_INVALID;
        }
    }
    memset(id, 0, sizeof(*id));
    id->kind = apiauth_kind_from_name(field[1]);
    if (id->kind == APIAUTH_KIND_NONE || *field[2] == '\0'
        || *field[3] == '\0') {
        return APIAUTH_INVALID;
    }
    id->credential_id = field[2];
    id->app = field[3];
    id->user = *field[4] ? field[4] : NULL;
    id->client_id = *field[5] ? field[5] : NULL;
    id->scope = field[6];
    id->install_id = *field[7] ? field[7] : NULL;
    id->acting_app = *field[8] ? field[8] : NULL;
    errno = 0;
    id->expires = apr_strtoi64(field[9], &end, 10);
    if (errno != 0 || end == field[9] || *end != '\0' || id->expires < 0) {
        return APIAUTH_INVALID;
    }
    return APIAUTH_OK;
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
