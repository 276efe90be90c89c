/*
 * pkce.c: S256 challenges and verifiers (see pkce.h).
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_pools.h>

#include "digest.h"
#include "encoding.h"
#include "pkce.h"

static int all_of(const char *s, const char *extra)
{
    for (; *s; s++) {
        if (!apr_isalnum(*s) && strchr(extra, *s) == NULL) {
            return 0;
        }
    }
    return 1;
}

int apiauth_pkce_verifier_valid(const char *verifier)
{
    size_t n = verifier ? strlen(verifier) : 0;

    /* unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~" */
    return n >= 43 && n <= 128 && all_of(verifier, "-._~");
}

int apiauth_pkce_challenge_valid(const char *challenge)
{
    return challenge && strlen(challenge) == 43 && all_of(challenge, "-_");
}

int apiauth_pkce_matches(apr_pool_t *p, const char *verifier,
                         const char *challenge)
{
    unsigned char d[APIAUTH_DIGEST_LEN];
    const char *computed;

    if (!apiauth_pkce_verifier_valid(verifier)
        || !apiauth_pkce_challenge_valid(challenge)
        || apiauth_sha256(verifier, strlen(verifier), d) != 0) {
        return 0;
    }
    computed = apiauth_b64url_encode(p, d, sizeof(d));
    return computed && strlen(computed) == 43
           && apiauth_ct_equal(computed, challenge, 43);
}
