/*
 * fuzz_form.c: libFuzzer target for lib/base/form.c and lib/base/multipart.c.
 *
 * Input: a Content-Type, '\n', a body.  The body is handed over in place,
 * exactly as long as the input, so that ASan sees any read past `len`.
 * Besides memory errors, the target traps when apiauth_form_parse breaks
 * its own promises (an empty value in the table, more parameters than the
 * limit, a refusal without an error).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ilib -Isql \
 *       $(apr-1-config --cppflags --includes) tests/fuzz/fuzz_form.c \
 *       lib/base/form.c lib/base/multipart.c lib/base/identity.c -o fuzz_form \
 *       $(apr-1-config --link-ld --libs)
 *   mkdir -p /tmp/form-corpus
 *   ./fuzz_form -dict=tests/fuzz/form.dict -max_len=3000 \
 *       -artifact_prefix=/tmp/ /tmp/form-corpus tests/fuzz/corpus/form
 *
 * (libFuzzer writes new inputs to the first directory: keep the seeds
 * clean.)
 */
#include <stdint.h>
#include <string.h>

#include <apr_allocator.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "form.h"

static void check_params(const apr_table_t *params, int max_params)
{
    const apr_array_header_t *arr = apr_table_elts(params);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    int i;

    if (arr->nelts > max_params) {
        __builtin_trap();
    }
    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key[0] == '\0' || e[i].val[0] == '\0') {
            __builtin_trap();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialized;
    static const char *const secrets[] = {"client_secret", "code", NULL};
    const apiauth_form_limits_t limits = {2048, 8};
    const char *in = (const char *)data;
    const char *nl = size ? memchr(in, '\n', size) : NULL;
    const char *ctype, *body, *value;
    apr_size_t len;
    apr_table_t *params;
    apiauth_error_t err = {NULL, NULL};
    apr_allocator_t *allocator;
    apr_pool_t *p;
    char *decoded, *args;

    if (!initialized) {
        apr_initialize();
        initialized = 1;
    }
    /* A pool with its own allocator, so that its memory goes back to
     * malloc (and ASan's quarantine) at the end of every run instead of
     * being recycled by APR. */
    if (apr_allocator_create(&allocator) != APR_SUCCESS) {
        return 0;
    }
    if (apr_pool_create_ex(&p, NULL, NULL, allocator) != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        return 0;
    }
    apr_allocator_owner_set(allocator, p);
    ctype = apr_pstrmemdup(p, in, nl ? (apr_size_t)(nl - in) : size);
    body = nl ? nl + 1 : in + size;
    len = nl ? size - (apr_size_t)(nl + 1 - in) : 0;

    if (apiauth_form_parse(p, ctype, body, len, &limits, &params, &err)
        == APIAUTH_OK) {
        check_params(params, limits.max_params);
    }
    else if (params != NULL || err.error == NULL || err.description == NULL) {
        __builtin_trap();
    }

    apiauth_urldecode(p, body, len, &decoded);
    args = apr_pstrmemdup(p, body, len);
    apiauth_query_get(p, args, "client_id", &value);
    apiauth_query_get(p, args, "scope", NULL);
    apiauth_query_rewrite(p, args, secrets, NULL);
    apiauth_query_rewrite(p, args, secrets, "***");

    apr_pool_destroy(p);
    return 0;
}
