/*
 * fuzz_json.c: libFuzzer target for lib/base/jsonreq.c, the reader of the JSON
 * bodies apiauth-login and Require apiauth-group take.
 *
 * Input: one byte (bit 0: integers allowed; the next bits: which members
 * are asked for -- the login's, the group's, or names that include the
 * empty one), then the body, handed over in place so that ASan sees any
 * read past its end.
 *
 * Besides memory safety, the answer is checked against jansson read
 * directly, with the nesting measured on the parsed tree: the body is
 * accepted exactly when it is one object, nested no deeper than
 * APIAUTH_JSON_MAX_DEPTH, whose named members are of an allowed type, and
 * then every value is the member's, byte for byte.  A refusal leaves no
 * value behind and says invalid_request without quoting the body.
 *
 *   make fuzz FUZZ_TARGETS=json FUZZ_SECONDS=60
 */
#include <stdlib.h>

#include <jansson.h>

#include "fuzz.h"
#include "jsonreq.h"

#define MAX_NAMES 3

static const char *const name_sets[][MAX_NAMES + 1] = {
    {"username", "email", "password", NULL},
    {"group_id", NULL},
    {"a", "", "b", NULL},
};
#define NAME_SETS (sizeof(name_sets) / sizeof(name_sets[0]))

/* Objects and arrays on the deepest path: what nesting_within counts. */
static int depth_of(json_t *v)
{
    const char *key;
    json_t *item;
    size_t i;
    int d, max = 0;

    if (json_is_object(v)) {
        json_object_foreach(v, key, item) {
            d = depth_of(item);
            max = d > max ? d : max;
        }
        return max + 1;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, item) {
            d = depth_of(item);
            max = d > max ? d : max;
        }
        return max + 1;
    }
    return 0;
}

static int allowed(json_t *v, unsigned flags)
{
    return v == NULL || json_is_string(v)
           || (json_is_integer(v) && (flags & APIAUTH_JSON_INTEGERS));
}

static void check_value(const char *got, json_t *v)
{
    char num[32];

    if (v == NULL) {
        FUZZ_CHECK(got == NULL);
    }
    else if (json_is_string(v)) {
        FUZZ_CHECK(got != NULL);
        FUZZ_CHECK(strlen(got) == json_string_length(v));
        FUZZ_CHECK(memcmp(got, json_string_value(v), strlen(got)) == 0);
    }
    else {
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        FUZZ_CHECK(got != NULL && strcmp(got, num) == 0);
    }
}

/* A refusal's description: a constant, or the one built from a name we
 * asked for. */
static int description_is_ours(apr_pool_t *p, const char *d,
                               const char *const *names)
{
    int i;

    if (fuzz_is_constant(d)) {
        return 1;
    }
    for (i = 0; names[i]; i++) {
        if (strcmp(d, apr_psprintf(p, "\"%s\" must be a string", names[i]))
                == 0
            || strcmp(d, apr_psprintf(p, "\"%s\" must be a string or an "
                                      "integer", names[i])) == 0) {
            return 1;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *values[MAX_NAMES];
    const char *const *names;
    apiauth_error_t err = {NULL, NULL};
    apiauth_status_t st;
    unsigned flags;
    json_t *doc;
    int expected, i;
    apr_pool_t *p;

    if (size < 1 || (p = fuzz_pool()) == NULL) {
        return 0;
    }
    flags = (data[0] & 1) ? APIAUTH_JSON_INTEGERS : 0;
    names = name_sets[(data[0] >> 1) % NAME_SETS];
    st = apiauth_json_fields(p, (const char *)data + 1, size - 1, names,
                             flags, values, &err);

    doc = json_loadb((const char *)data + 1, size - 1,
                     JSON_REJECT_DUPLICATES, NULL);
    expected = json_is_object(doc) && depth_of(doc) <= APIAUTH_JSON_MAX_DEPTH;
    for (i = 0; expected && names[i]; i++) {
        expected = allowed(json_object_get(doc, names[i]), flags);
    }
    FUZZ_CHECK((st == APIAUTH_OK) == expected);
    if (st == APIAUTH_OK) {
        for (i = 0; names[i]; i++) {
            check_value(values[i], json_object_get(doc, names[i]));
        }
    }
    else {
        FUZZ_CHECK(st == APIAUTH_INVALID);
        for (i = 0; names[i]; i++) {
            FUZZ_CHECK(values[i] == NULL);
        }
        FUZZ_CHECK(err.error && strcmp(err.error, "invalid_request") == 0);
        FUZZ_CHECK(err.description
                   && description_is_ours(p, err.description, names));
    }
    json_decref(doc);
    apr_pool_destroy(p);
    return 0;
}
