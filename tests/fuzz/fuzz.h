/*
 * fuzz.h: what the libFuzzer targets of tests/fuzz/ share.
 *
 * A fresh pool per input, a splitter for inputs made of several fields,
 * the check that an error description is one of the program's own
 * strings, and FUZZ_CHECK, which turns a broken promise into a crash that
 * libFuzzer keeps.  Not for the unit tests: these helpers trade clarity
 * for catching memory errors (see fuzz_pool).
 */
#ifndef APIAUTH_FUZZ_H
#define APIAUTH_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <apr_allocator.h>
#include <apr_general.h>
#include <apr_strings.h>

#define FUZZ_CHECK(cond)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__,       \
                    __LINE__, #cond);                                      \
            __builtin_trap();                                              \
        }                                                                  \
    } while (0)

/* A pool with its own allocator, so that everything it held goes back to
 * malloc (and into ASan's quarantine) when it is destroyed, instead of
 * being recycled by APR for the next input.  NULL if APR fails. */
static apr_pool_t *fuzz_pool(void)
{
    static int initialized;
    apr_allocator_t *allocator;
    apr_pool_t *p;

    if (!initialized) {
        apr_initialize();
        initialized = 1;
    }
    if (apr_allocator_create(&allocator) != APR_SUCCESS) {
        return NULL;
    }
    if (apr_pool_create_ex(&p, NULL, NULL, allocator) != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        return NULL;
    }
    apr_allocator_owner_set(allocator, p);
    return p;
}

/* The next field of *in (up to '\n' or the end) as a NUL terminated pool
 * copy, or NULL when the input is used up.  A NUL inside a field ends the
 * string early, as it would in any C string httpd hands to us. */
static const char *fuzz_field(apr_pool_t *p, const uint8_t **in,
                              size_t *left)
{
    const uint8_t *nl;
    size_t n;
    const char *out;

    if (*in == NULL) {
        return NULL;
    }
    nl = *left ? memchr(*in, '\n', *left) : NULL;
    n = nl ? (size_t)(nl - *in) : *left;
    out = apr_pstrmemdup(p, (const char *)*in, n);
    if (nl) {
        *left -= n + 1;
        *in = nl + 1;
    }
    else {
        *left = 0;
        *in = NULL;
    }
    return out;
}

/* 1 when `s` lies in the program image (its string constants), not in
 * memory filled at run time: a description that passes cannot hold bytes
 * of the input.  The bounds come from the GNU ld default linker script. */
extern const char __executable_start[];
extern const char edata[];

static int fuzz_is_constant(const char *s)
{
    return s >= __executable_start && s < edata;
}

#endif
