/*
 * test_keys.c: minted secrets, their checksum, and public ids.
 *
 * The checksum is a published format: secret scanners verify it offline,
 * so the two fixed keys below (checksums computed outside apiauth) must
 * stay valid for as long as keys minted today are in use.
 */
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "unit.h"

#include "keys.h"

#define RANDOM_LEN 32
#define CHECKSUM_LEN 6

static const char base62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* prefix_ + 32 random + checksum, checksum = base62(first 4 bytes of
 * SHA-256("prefix_random")) in 6 digits */
#define FIXED_KEY "aak_0123456789ABCDEFGHIJKLMNOPQRSTUV3ULq1R"
#define FIXED_CLIENT_SECRET "aacs_ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543ky8Qp"

static const char *const prefixes[] = {
    APIAUTH_PREFIX_KEY, APIAUTH_PREFIX_SESSION, APIAUTH_PREFIX_INSTALL,
    APIAUTH_PREFIX_CODE, APIAUTH_PREFIX_REFRESH, APIAUTH_PREFIX_CLIENT_SECRET,
};

#define NPREFIXES (sizeof(prefixes) / sizeof(prefixes[0]))

static int all_base62(const char *s, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] == '\0' || strchr(base62, s[i]) == NULL) {
            return 0;
        }
    }
    return 1;
}

static void test_prefixes_are_the_documented_ones(void **state)
{
    const char *const expected[] = {"aak", "aas", "aai", "aac", "aar", "aacs"};
    size_t i;

    for (i = 0; i < NPREFIXES; i++) {
        assert_string_equal(prefixes[i], expected[i]);
    }
}

static void test_new_secret_is_prefix_underscore_38_base62(void **state)
{
    size_t i;

    for (i = 0; i < NPREFIXES; i++) {
        apr_size_t plen = strlen(prefixes[i]);
        char *s = apiauth_secret_new(unit_pool, prefixes[i]);

        assert_non_null(s);
        assert_int_equal(strlen(s), plen + 1 + RANDOM_LEN + CHECKSUM_LEN);
        assert_memory_equal(s, prefixes[i], plen);
        assert_int_equal(s[plen], '_');
        assert_true(all_base62(s + plen + 1, RANDOM_LEN + CHECKSUM_LEN));
    }
}

static void test_new_secrets_are_valid_for_every_prefix(void **state)
{
    size_t i;
    int n;

    for (i = 0; i < NPREFIXES; i++) {
        for (n = 0; n < 50; n++) {
            char *s = apiauth_secret_new(unit_pool, prefixes[i]);
            assert_int_equal(apiauth_secret_shape(s), APIAUTH_SECRET_VALID);
        }
    }
}

static void test_new_secrets_do_not_repeat(void **state)
{
    apr_hash_t *seen = apr_hash_make(unit_pool);
    int n;

    for (n = 0; n < 20000; n++) {
        char *s = apiauth_secret_new(unit_pool, APIAUTH_PREFIX_KEY);
        assert_non_null(s);
        assert_null(apr_hash_get(seen, s, APR_HASH_KEY_STRING));
        apr_hash_set(seen, s, APR_HASH_KEY_STRING, s);
    }
    assert_int_equal(apr_hash_count(seen), 20000);
}

static void test_published_keys_stay_valid(void **state)
{
    assert_int_equal(apiauth_secret_shape(FIXED_KEY), APIAUTH_SECRET_VALID);
    assert_int_equal(apiauth_secret_shape(FIXED_CLIENT_SECRET),
                     APIAUTH_SECRET_VALID);
}

/* Every single-character typo, in the random part or in the checksum, is
 * caught: each position changed to another base62 character. */
static void test_one_changed_character_makes_a_key_corrupt(void **state)
{
    const char *keys[] = {FIXED_KEY, FIXED_CLIENT_SECRET};
    size_t k, i;

    for (k = 0; k < 2; k++) {
        char *s = apr_pstrdup(unit_pool, keys[k]);
        size_t body = strchr(s, '_') - s + 1;

        for (i = body; s[i]; i++) {
            char orig = s[i];
            char other_case = (char)(apr_isupper(orig) ? apr_tolower(orig)
                                                       : apr_toupper(orig));
            const char subst[] = {'0', 'Z', 'a', other_case};
            size_t j;

            for (j = 0; j < sizeof(subst); j++) {
                if (subst[j] == orig) {
                    continue;
                }
                s[i] = subst[j];
                assert_int_equal(apiauth_secret_shape(s),
                                 APIAUTH_SECRET_CORRUPT);
            }
            s[i] = orig;
        }
        assert_int_equal(apiauth_secret_shape(s), APIAUTH_SECRET_VALID);
    }
}

static void test_checksum_covers_the_prefix(void **state)
{
    char *s = apr_pstrdup(unit_pool, FIXED_KEY);

    memcpy(s, "aas", 3);
    assert_int_equal(apiauth_secret_shape(s), APIAUTH_SECRET_CORRUPT);
    memcpy(s, "aar", 3);
    assert_int_equal(apiauth_secret_shape(s), APIAUTH_SECRET_CORRUPT);
}

static void test_swapped_characters_make_a_minted_key_corrupt(void **state)
{
    char *s = apr_pstrdup(unit_pool, FIXED_KEY);
    char t;

    /* "01" -> "10" */
    t = s[4];
    s[4] = s[5];
    s[5] = t;
    assert_int_equal(apiauth_secret_shape(s), APIAUTH_SECRET_CORRUPT);
}

static void test_foreign_formats_are_foreign(void **state)
{
    const char *foreign[] = {
        "5a0e8a0fe3e74b6aa4f1f1f4c1a2b3c4",          /* Tapglue, 32 hex */
        "aa0e8a0fe3e74b6aa4f1f1f4c1a2b3c4",          /* same, starting aa */
        "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b",  /* Contextual, 40 hex */
        "aaaab09199c62bcf9418ad846dd0e4bbdfc6ee4b",  /* same, starting aaaa */
        "52b29f04992fe340912d273be198f533159f0368",
        "",
        "aak",
        "aak_",
        "eyJhbGciOiJFUzI1NiJ9.e30.sig",
    };
    size_t i;

    for (i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
        assert_int_equal(apiauth_secret_shape(foreign[i]),
                         APIAUTH_SECRET_FOREIGN);
    }
}

static void test_wrong_length_is_foreign_not_corrupt(void **state)
{
    char *shorter = apr_pstrndup(unit_pool, FIXED_KEY, strlen(FIXED_KEY) - 1);
    char *longer = apr_pstrcat(unit_pool, FIXED_KEY, "0", NULL);
    char *no_sum = apr_pstrndup(unit_pool, FIXED_KEY, 4 + RANDOM_LEN);

    assert_int_equal(apiauth_secret_shape(shorter), APIAUTH_SECRET_FOREIGN);
    assert_int_equal(apiauth_secret_shape(longer), APIAUTH_SECRET_FOREIGN);
    assert_int_equal(apiauth_secret_shape(no_sum), APIAUTH_SECRET_FOREIGN);
}

static void test_prefix_variants_not_ours_are_foreign(void **state)
{
    const char *body = FIXED_KEY + 4;   /* the 38 characters after "aak_" */
    const char *variants[] = {
        "AAK_", "Aak_", "aAk_", "aaK_",  /* case */
        "aa_", "ak_", "a_", "_",         /* too short */
        "aakey_", "aacsx_",              /* too long */
        "aak-", "aak.", "aak__", "aak",  /* separator */
        "aa1_", "aa9x_", " aak_",
    };
    size_t i;

    for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        const char *s = apr_pstrcat(unit_pool, variants[i], body, NULL);
        assert_int_equal(apiauth_secret_shape(s), APIAUTH_SECRET_FOREIGN);
    }
}

static void test_non_base62_body_is_foreign(void **state)
{
    const char *bad[] = {"-", "_", ".", " ", "\xc3", "="};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *s = apr_pstrdup(unit_pool, FIXED_KEY);
        s[10] = bad[i][0];
        assert_int_equal(apiauth_secret_shape(s), APIAUTH_SECRET_FOREIGN);
    }
}

static void test_new_id_is_prefix_underscore_16_base62(void **state)
{
    const char *ids[] = {"app", "cli", "crd"};
    apr_hash_t *seen = apr_hash_make(unit_pool);
    size_t i;
    int n;

    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        for (n = 0; n < 2000; n++) {
            char *id = apiauth_id_new(unit_pool, ids[i]);
            assert_non_null(id);
            assert_int_equal(strlen(id), 3 + 1 + 16);
            assert_memory_equal(id, ids[i], 3);
            assert_int_equal(id[3], '_');
            assert_true(all_base62(id + 4, 16));
            assert_null(apr_hash_get(seen, id, APR_HASH_KEY_STRING));
            apr_hash_set(seen, id, APR_HASH_KEY_STRING, id);
        }
    }
}

/*
 * The random part is uniform over base62.  Over 128,000 characters each
 * is expected 2064.5 times; a modulo bias (bytes % 62 without rejection)
 * makes eight characters 25% likelier and Pearson's statistic about 840.
 * With 61 degrees of freedom, unbiased draws exceed 250 with probability
 * below 1e-20, so the bound catches the bias and never flakes.
 */
static void test_random_characters_are_uniform_over_base62(void **state)
{
    enum { SECRETS = 4000 };
    unsigned long count[62] = {0};
    double expected = (double)SECRETS * RANDOM_LEN / 62, chi2 = 0;
    int n, i;

    for (n = 0; n < SECRETS; n++) {
        const char *s = apiauth_secret_new(unit_pool, APIAUTH_PREFIX_KEY);
        assert_non_null(s);
        for (i = 4; i < 4 + RANDOM_LEN; i++) {
            count[strchr(base62, s[i]) - base62]++;
        }
    }
    for (i = 0; i < 62; i++) {
        double d = (double)count[i] - expected;
        assert_true(count[i] > 0);
        chi2 += d * d / expected;
    }
    assert_true(chi2 < 250.0);
}

static void test_random_bytes_fill_the_buffer(void **state)
{
    unsigned char a[64], b[64];

    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    assert_int_equal(apiauth_random_bytes(a, sizeof(a)), 0);
    assert_int_equal(apiauth_random_bytes(b, sizeof(b)), 0);
    /* 2^-512 */
    assert_memory_not_equal(a, b, sizeof(a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_prefixes_are_the_documented_ones),
        UNIT_TEST(test_new_secret_is_prefix_underscore_38_base62),
        UNIT_TEST(test_new_secrets_are_valid_for_every_prefix),
        UNIT_TEST(test_new_secrets_do_not_repeat),
        UNIT_TEST(test_published_keys_stay_valid),
        UNIT_TEST(test_one_changed_character_makes_a_key_corrupt),
        UNIT_TEST(test_checksum_covers_the_prefix),
        UNIT_TEST(test_swapped_characters_make_a_minted_key_corrupt),
        UNIT_TEST(test_foreign_formats_are_foreign),
        UNIT_TEST(test_wrong_length_is_foreign_not_corrupt),
        UNIT_TEST(test_prefix_variants_not_ours_are_foreign),
        UNIT_TEST(test_non_base62_body_is_foreign),
        UNIT_TEST(test_new_id_is_prefix_underscore_16_base62),
        UNIT_TEST(test_random_characters_are_uniform_over_base62),
        UNIT_TEST(test_random_bytes_fill_the_buffer),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("keys", tests, NULL, NULL);
    apr_terminate();
    return rc;
}
