/*
 * fuzz_identity.c: libFuzzer target for the credential cache form of
 * lib/base/identity.c (apiauth_identity_parse and apiauth_identity_serialize).
 *
 * A cache entry is read back from mod_socache, which memcache or redis
 * may share with other hosts: it is input like any other.  Two ways in:
 *   - the input as a cache entry, handed over in place.  What parses must
 *     serialize again, and that form must parse to the same identity and
 *     serialize to the same bytes (a fixed point after one round);
 *   - the input, after a first byte '\x01', as an identity: a kind byte,
 *     eight bytes of expiry, then the string fields separated by NUL.
 *     What serializes must parse back to the same identity, unless it is
 *     one the parser is documented to refuse.
 *
 *   make fuzz FUZZ_TARGETS=identity FUZZ_SECONDS=60
 */
#include "apiauth.h"
#include "fuzz.h"

/* The string fields, in the order of the cache form. */
#define STRING_FIELDS 12

static const char **field_of(apiauth_identity_t *id, int i)
{
    const char **fields[STRING_FIELDS] = {
        &id->credential_id, &id->app, &id->user, &id->client_id,
        &id->scope, &id->install_id, &id->acting_app, &id->issuer,
        &id->audience, &id->key_id, &id->grant_id, &id->provider};

    return fields[i];
}

/* NULL and "" are the same to the cache form. */
static int same_string(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static int same_identity(apiauth_identity_t *a, apiauth_identity_t *b)
{
    int i;

    if (a->kind != b->kind || a->expires != b->expires) {
        return 0;
    }
    for (i = 0; i < STRING_FIELDS; i++) {
        if (!same_string(*field_of(a, i), *field_of(b, i))) {
            return 0;
        }
    }
    return 1;
}

/* What apiauth_identity_parse promises of an identity it accepts. */
static void check_parsed(apiauth_identity_t *id)
{
    FUZZ_CHECK(id->kind > APIAUTH_KIND_NONE && id->kind < APIAUTH_KIND_COUNT);
    FUZZ_CHECK(id->credential_id && *id->credential_id);
    FUZZ_CHECK(id->app && *id->app);
    FUZZ_CHECK(id->scope != NULL);
    FUZZ_CHECK(id->expires >= 0);
}

static void round_trip(apr_pool_t *p, apiauth_identity_t *id)
{
    apiauth_identity_t again, third;
    const char *s, *s2;

    s = apiauth_identity_serialize(p, id);
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(apiauth_identity_parse(p, s, strlen(s), &again)
               == APIAUTH_OK);
    check_parsed(&again);
    FUZZ_CHECK(same_identity(id, &again));
    s2 = apiauth_identity_serialize(p, &again);
    FUZZ_CHECK(s2 != NULL && strcmp(s, s2) == 0);
    FUZZ_CHECK(apiauth_identity_parse(p, s2, strlen(s2), &third)
               == APIAUTH_OK);
    FUZZ_CHECK(same_identity(&again, &third));
}

static int clean(const char *s)
{
    for (; s && *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* An identity built from the input: serialize, then parse. */
static void from_fields(apr_pool_t *p, const uint8_t *data, size_t size)
{
    apiauth_identity_t id = {0}, back;
    const char *s, *q, *end;
    int i, acceptable;

    if (size < 9) {
        return;
    }
    id.kind = (apiauth_kind_t)(data[0] % (APIAUTH_KIND_COUNT + 1));
    memcpy(&id.expires, data + 1, sizeof(id.expires));
    q = (const char *)data + 9;
    end = (const char *)data + size;
    for (i = 0; i < STRING_FIELDS && q < end; i++) {
        const char *nul = memchr(q, '\0', (size_t)(end - q));
        size_t n = nul ? (size_t)(nul - q) : (size_t)(end - q);

        *field_of(&id, i) = apr_pstrmemdup(p, q, n);
        q += n + 1;
    }
    s = apiauth_identity_serialize(p, &id);
    acceptable = 1;
    for (i = 0; i < STRING_FIELDS; i++) {
        acceptable &= clean(*field_of(&id, i));
    }
    if (!acceptable) {
        /* the cache form cannot carry a control character */
        FUZZ_CHECK(s == NULL);
        return;
    }
    if (s == NULL) {
        /* an expiry the cache form cannot carry: not cached at all */
        FUZZ_CHECK(id.expires < 0 || id.expires >= 1000000000000000000LL);
        return;
    }
    acceptable = id.kind > APIAUTH_KIND_NONE && id.kind < APIAUTH_KIND_COUNT
                 && id.credential_id && *id.credential_id && id.app
                 && *id.app && id.expires >= 0 && strlen(s) <= 8192;
    if (apiauth_identity_parse(p, s, strlen(s), &back) == APIAUTH_OK) {
        FUZZ_CHECK(acceptable);
        check_parsed(&back);
        FUZZ_CHECK(same_identity(&id, &back));
    }
    else {
        FUZZ_CHECK(!acceptable);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apiauth_identity_t id;
    apr_pool_t *p = fuzz_pool();

    if (p == NULL) {
        return 0;
    }
    if (size > 0 && data[0] == 0x01) {
        from_fields(p, data + 1, size - 1);
    }
    /* libFuzzer hands over a buffer of exactly `size` bytes: one byte
     * read past the entry is an ASan report */
    if (apiauth_identity_parse(p, (const char *)data, size, &id)
        == APIAUTH_OK) {
        check_parsed(&id);
        round_trip(p, &id);
    }
    apr_pool_destroy(p);
    return 0;
}
