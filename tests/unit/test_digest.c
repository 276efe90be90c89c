/*
 * test_digest.c: what the store holds for a secret, and how it is compared.
 *
 * The known answers are published ones (FIPS 180-2, RFC 4231) or were
 * computed with another implementation (Python's hashlib/hmac), so a
 * change in how a digest is formed -- which would orphan every credential
 * already stored -- fails here.
 */
#include <stdio.h>
#include <stdlib.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include <openssl/evp.h>

#include "unit.h"

#include "digest.h"

#define LONG_PARTS_SHA256 "91ca198c7f86778f7d44a5e9bb0ca0ee26424a0714c6f79fe0073067bd4990b5"
#include "encoding.h"

#define SHA256_ABC \
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA256_EMPTY \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_448_BITS \
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"

/* RFC 4231 §4.7, test case 6 */
#define RFC4231_6_DATA "Test Using Larger Than Block-Size Key - Hash Key First"
#define RFC4231_6_MAC \
    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"

/* Each pepper test gets its own directory, emptied and removed after. */
static char *tmpdir;

static int pepper_setup(void **state)
{
    const char *base = getenv("TMPDIR");

    if (unit_setup(state) != 0) {
        return -1;
    }
    tmpdir = apr_pstrcat(unit_pool, base && *base ? base : "/tmp",
                         "/apiauth-unit-digest-XXXXXX", NULL);
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int pepper_teardown(void **state)
{
    apr_dir_t *dir;
    apr_finfo_t fi;

    if (apr_dir_open(&dir, tmpdir, unit_pool) == APR_SUCCESS) {
        while (apr_dir_read(&fi, APR_FINFO_NAME, dir) == APR_SUCCESS) {
            if (strcmp(fi.name, ".") && strcmp(fi.name, "..")) {
                apr_file_remove(apr_pstrcat(unit_pool, tmpdir, "/", fi.name,
                                            NULL), unit_pool);
            }
        }
        apr_dir_close(dir);
    }
    apr_dir_remove(tmpdir, unit_pool);
    return unit_teardown(state);
}

#define PEPPER_TEST(f) cmocka_unit_test_setup_teardown(f, pepper_setup, \
                                                        pepper_teardown)

static const char *write_file(const char *name, const void *data,
                              apr_size_t len)
{
    const char *path = apr_pstrcat(unit_pool, tmpdir, "/", name, NULL);
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static char *hex(const unsigned char d[APIAUTH_DIGEST_LEN])
{
    return apiauth_hex_encode(unit_pool, d, APIAUTH_DIGEST_LEN);
}

static apiauth_pepper_t *rfc4231_pepper(const char *trailer)
{
    unsigned char key[131 + 16];
    apr_size_t tlen = strlen(trailer);
    apiauth_pepper_t *pepper = NULL;
    const char *msg = NULL;

    memset(key, 0xaa, 131);
    memcpy(key + 131, trailer, tlen);
    assert_int_equal(apiauth_pepper_load(unit_pool,
                                         write_file("pepper", key, 131 + tlen),
                                         &pepper, &msg), APIAUTH_OK);
    assert_non_null(pepper);
    return pepper;
}

static void test_sha256_known_answers(void **state)
{
    unsigned char d[APIAUTH_DIGEST_LEN];
    const char *msg448 =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

    assert_int_equal(apiauth_sha256("abc", 3, d), 0);
    assert_string_equal(hex(d), SHA256_ABC);
    assert_int_equal(apiauth_sha256("", 0, d), 0);
    assert_string_equal(hex(d), SHA256_EMPTY);
    assert_int_equal(apiauth_sha256(msg448, strlen(msg448), d), 0);
    assert_string_equal(hex(d), SHA256_448_BITS);
}

static void test_digest_without_pepper_is_sha256(void **state)
{
    unsigned char d[APIAUTH_DIGEST_LEN];

    assert_int_equal(apiauth_digest(NULL, "abc", 3, d), 0);
    assert_string_equal(hex(d), SHA256_ABC);
    assert_string_equal(apiauth_digest_hex(unit_pool, NULL, "abc"),
                        SHA256_ABC);
}

static void test_digest_init_changes_nothing(void **state)
{
    unsigned char before[APIAUTH_DIGEST_LEN], after[APIAUTH_DIGEST_LEN];

    assert_int_equal(apiauth_digest(NULL, "abc", 3, before), 0);
    assert_int_equal(apiauth_digest_init(NULL), 0);
    assert_int_equal(apiauth_digest_init(NULL), 0);
    assert_int_equal(apiauth_digest(NULL, "abc", 3, after), 0);
    assert_memory_equal(before, after, APIAUTH_DIGEST_LEN);
}

static void test_digest_with_pepper_is_hmac_sha256(void **state)
{
    apiauth_pepper_t *pepper = rfc4231_pepper("");
    unsigned char d[APIAUTH_DIGEST_LEN];

    assert_int_equal(apiauth_digest(pepper, RFC4231_6_DATA,
                                     strlen(RFC4231_6_DATA), d), 0);
    assert_string_equal(hex(d), RFC4231_6_MAC);
    assert_string_equal(apiauth_digest_hex(unit_pool, pepper, RFC4231_6_DATA),
                        RFC4231_6_MAC);
    /* the pepper is reusable: a second digest gives the same answer */
    assert_int_equal(apiauth_digest(pepper, RFC4231_6_DATA,
                                     strlen(RFC4231_6_DATA), d), 0);
    assert_string_equal(hex(d), RFC4231_6_MAC);
}

static void test_pepper_changes_the_digest(void **state)
{
    apiauth_pepper_t *pepper = rfc4231_pepper("");

    assert_string_not_equal(apiauth_digest_hex(unit_pool, pepper, "abc"),
                            SHA256_ABC);
}

/* A derived key is no digest of any secret a request can present: else a
 * client sending the label as its "code" would have the server compute
 * the key, and hand it to the store as the digest to look up. */
static void test_a_derived_key_is_no_digest_of_its_label(void **state)
{
    apiauth_pepper_t *pepper = rfc4231_pepper(""), *derived, *again;
    const char *label = "apiauth credential cache entry";
    unsigned char key_of_label[APIAUTH_DIGEST_LEN], a[APIAUTH_DIGEST_LEN],
        b[APIAUTH_DIGEST_LEN];
    const void *data[1] = {"x"};
    apr_size_t lens[1] = {1};

    assert_int_equal(apiauth_pepper_derive(unit_pool, pepper, label,
                                           &derived), APIAUTH_OK);
    assert_int_equal(apiauth_pepper_derive(unit_pool, pepper, label,
                                           &again), APIAUTH_OK);
    /* the same pepper and label: the same key (every node agrees) */
    assert_int_equal(apiauth_hmac(derived, data, lens, 1, a), 0);
    assert_int_equal(apiauth_hmac(again, data, lens, 1, b), 0);
    assert_memory_equal(a, b, sizeof(a));
    /* and not HMAC(pepper, label): a key made of the label's digest
     * gives another MAC */
    assert_int_equal(apiauth_digest(pepper, label, strlen(label),
                                    key_of_label), 0);
    assert_memory_not_equal(a, key_of_label, sizeof(a));
    {
        unsigned char expect[APIAUTH_DIGEST_LEN];
        size_t n = 0;
        assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL,
                                  key_of_label, sizeof(key_of_label),
                                  (const unsigned char *)"x", 1, expect,
                                  sizeof(expect), &n));
        assert_memory_not_equal(a, expect, sizeof(a));
    }
    /* without a pepper: random, two keys differ */
    assert_int_equal(apiauth_pepper_derive(unit_pool, NULL, NULL, &derived),
                     APIAUTH_OK);
    assert_int_equal(apiauth_pepper_derive(unit_pool, NULL, NULL, &again),
                     APIAUTH_OK);
    assert_int_equal(apiauth_hmac(derived, data, lens, 1, a), 0);
    assert_int_equal(apiauth_hmac(again, data, lens, 1, b), 0);
    assert_memory_not_equal(a, b, sizeof(a));
}

static void test_pepper_file_trailing_whitespace_is_ignored(void **state)
{
    const char *trailers[] = {"\n", "\r\n", " \t\n\n", "\n\v\f "};
    unsigned char d[APIAUTH_DIGEST_LEN];
    size_t i;

    for (i = 0; i < sizeof(trailers) / sizeof(trailers[0]); i++) {
        apiauth_pepper_t *pepper = rfc4231_pepper(trailers[i]);
        assert_int_equal(apiauth_digest(pepper, RFC4231_6_DATA,
                                         strlen(RFC4231_6_DATA), d), 0);
        assert_string_equal(hex(d), RFC4231_6_MAC);
    }
}

static void test_pepper_of_32_and_1024_bytes_is_accepted(void **state)
{
    char key[1024 + 1];
    apiauth_pepper_t *pepper;
    const char *msg;

    memset(key, 'k', sizeof(key));
    key[32] = '\n';
    assert_int_equal(apiauth_pepper_load(unit_pool,
                                         write_file("p32", key, 33),
                                         &pepper, &msg), APIAUTH_OK);
    key[32] = 'k';
    key[1024] = '\n';
    assert_int_equal(apiauth_pepper_load(unit_pool,
                                         write_file("p1024", key, 1025),
                                         &pepper, &msg), APIAUTH_OK);
    assert_non_null(apiauth_digest_hex(unit_pool, pepper, "abc"));
}

static void test_pepper_followed_by_much_white_space_is_accepted(void **state)
{
    unsigned char key[3000];
    apiauth_pepper_t *pepper;
    const char *msg;
    unsigned char d1[APIAUTH_DIGEST_LEN], d2[APIAUTH_DIGEST_LEN];

    /* 1024 key bytes, then 1976 of white space: the same key as without */
    memset(key, 'k', 1024);
    memset(key + 1024, ' ', sizeof(key) - 1024);
    key[sizeof(key) - 1] = '\n';
    assert_int_equal(apiauth_pepper_load(unit_pool,
                                         write_file("spaced", key, sizeof(key)),
                                         &pepper, &msg), APIAUTH_OK);
    assert_int_equal(apiauth_digest(pepper, "abc", 3, d1), 0);
    assert_int_equal(apiauth_pepper_load(unit_pool,
                                         write_file("bare", key, 1024),
                                         &pepper, &msg), APIAUTH_OK);
    assert_int_equal(apiauth_digest(pepper, "abc", 3, d2), 0);
    assert_memory_equal(d1, d2, APIAUTH_DIGEST_LEN);
}

/* A refusal names the file and the rule, never what the file holds. */
static void assert_refused_quietly(const char *path, const char *content)
{
    apiauth_pepper_t *pepper = NULL;
    const char *msg = NULL;

    assert_int_equal(apiauth_pepper_load(unit_pool, path, &pepper, &msg),
                     APIAUTH_ERROR);
    assert_null(pepper);
    assert_non_null(msg);
    assert_non_null(strstr(msg, path));
    if (content) {
        assert_null(strstr(msg, content));
    }
}

static void test_short_pepper_file_is_refused_without_its_content(void **state)
{
    const char *secret = "Sh0rtPepperS3cret";   /* 17 bytes */
    const char *padded = "Sh0rtPepperS3cret            \n\n\t"
                         "                                ";

    assert_refused_quietly(write_file("short", secret, strlen(secret)),
                           secret);
    /* trailing white space does not count towards the 32 */
    assert_refused_quietly(write_file("padded", padded, strlen(padded)),
                           secret);
    /* 31 bytes */
    assert_refused_quietly(
        write_file("p31", "0123456789abcdef0123456789abcde", 31),
        "0123456789abcdef");
    assert_refused_quietly(write_file("empty", "", 0), NULL);
}

static void test_missing_pepper_file_is_refused(void **state)
{
    assert_refused_quietly(apr_pstrcat(unit_pool, tmpdir, "/absent", NULL),
                           NULL);
}

static void test_long_pepper_file_is_refused_without_its_content(void **state)
{
    char key[4096];

    memset(key, 'L', sizeof(key));
    memcpy(key, "L0ngPepperMarker", 16);
    assert_refused_quietly(write_file("p1025", key, 1025), "L0ngPepperMarker");
    assert_refused_quietly(write_file("p4096", key, sizeof(key)),
                           "L0ngPepperMarker");
}

static void test_pepper_longer_than_1024_is_refused_even_after_a_space(
    void **state)
{
    /* 1024 bytes, a space, more key: the key is 1026 bytes, not the 1024
     * before the space */
    char key[1026];

    memset(key, 'k', sizeof(key));
    key[1024] = ' ';
    assert_refused_quietly(write_file("pspace", key, sizeof(key)), NULL);
    key[1024] = '\n';
    assert_refused_quietly(write_file("pnl", key, sizeof(key)), NULL);
}

static void test_digest_parts_are_length_prefixed(void **state)
{
    const char *ab_c[] = {"ab", "c"};
    const char *a_bc[] = {"a", "bc"};
    const char *abc[] = {"abc"};
    unsigned char d1[APIAUTH_DIGEST_LEN], d2[APIAUTH_DIGEST_LEN],
        d3[APIAUTH_DIGEST_LEN];

    assert_int_equal(apiauth_digest_parts(NULL, ab_c, 2, d1), 0);
    assert_int_equal(apiauth_digest_parts(NULL, a_bc, 2, d2), 0);
    assert_int_equal(apiauth_digest_parts(NULL, abc, 1, d3), 0);
    assert_memory_not_equal(d1, d2, APIAUTH_DIGEST_LEN);
    assert_memory_not_equal(d1, d3, APIAUTH_DIGEST_LEN);
    /* SHA-256(0002 "ab" 0001 "c") */
    assert_string_equal(hex(d1), "2fd9ed9427a9ce1308ac7d3631dead79"
                                 "a87d5e1ac34ee69b67cf3bf9f5524da6");
}

static void test_digest_parts_of_an_empty_part_is_its_length(void **state)
{
    const char *empty[] = {""};
    unsigned char d[APIAUTH_DIGEST_LEN];

    /* SHA-256(0000) */
    assert_int_equal(apiauth_digest_parts(NULL, empty, 1, d), 0);
    assert_string_equal(hex(d), "96a296d224f285c67bee93c30f8a3091"
                                "57f0daa35dc5b87e410b78630a09cfc7");
}

static void test_digest_parts_with_pepper_is_hmac_of_the_framing(void **state)
{
    apiauth_pepper_t *pepper = rfc4231_pepper("");
    const char *ab_c[] = {"ab", "c"};
    unsigned char d[APIAUTH_DIGEST_LEN];

    /* HMAC-SHA-256(0xaa * 131, 0002 "ab" 0001 "c") */
    assert_int_equal(apiauth_digest_parts(pepper, ab_c, 2, d), 0);
    assert_string_equal(hex(d), "324d9ce7de5cc82903ae49d409941d2d"
                                "44516c79e8fff0ae54c3405854ce2c1e");
}

static void test_digest_parts_of_long_parts_are_framed_alike(void **state)
{
    /* parts too long for the one-buffer path take the streamed one, with
     * the same framing: SHA-256(0001 "x" 07d0 "y" * 2000) */
    char *long_part = apr_palloc(unit_pool, 2001);
    const char *parts[2] = {"x", NULL};
    unsigned char d[APIAUTH_DIGEST_LEN];

    memset(long_part, 'y', 2000);
    long_part[2000] = '\0';
    parts[1] = long_part;
    assert_int_equal(apiauth_digest_parts(NULL, parts, 2, d), 0);
    assert_string_equal(hex(d), LONG_PARTS_SHA256);
}

static void test_digest_parts_refuses_zero_or_too_many_parts(void **state)
{
    const char *parts[9] = {"1", "2", "3", "4", "5", "6", "7", "8", "9"};
    unsigned char d[APIAUTH_DIGEST_LEN];

    assert_int_equal(apiauth_digest_parts(NULL, parts, 0, d), -1);
    assert_int_equal(apiauth_digest_parts(NULL, parts, 9, d), -1);
    assert_int_equal(apiauth_digest_parts(NULL, parts, 8, d), 0);
}

static void test_digest_hex_is_64_lower_case_hex(void **state)
{
    const char *secrets[] = {"", "a", "aak_0123456789", "\xff\xfe"};
    size_t i, j;

    for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        const char *h = apiauth_digest_hex(unit_pool, NULL, secrets[i]);
        assert_non_null(h);
        assert_int_equal(strlen(h), APIAUTH_DIGEST_HEX_LEN);
        for (j = 0; h[j]; j++) {
            assert_true((h[j] >= '0' && h[j] <= '9')
                        || (h[j] >= 'a' && h[j] <= 'f'));
        }
    }
}

static void test_ct_equal_compares_every_byte(void **state)
{
    unsigned char a[64], b[64];
    size_t i;

    memset(a, 0x5a, sizeof(a));
    memcpy(b, a, sizeof(b));
    assert_int_equal(apiauth_ct_equal(a, b, sizeof(a)), 1);
    assert_int_equal(apiauth_ct_equal(a, b, 0), 1);
    for (i = 0; i < sizeof(b); i++) {
        b[i] ^= 0x01;
        assert_int_equal(apiauth_ct_equal(a, b, sizeof(a)), 0);
        b[i] ^= 0x01;
    }
    /* only the first len bytes count */
    b[63] = 0;
    assert_int_equal(apiauth_ct_equal(a, b, 63), 1);
}

/* It reads 64, 32, 8 bytes and then one at a time: every length around
 * those steps, from unaligned addresses, with a difference in any byte and
 * any bit. */
static void test_ct_equal_at_every_length_and_alignment(void **state)
{
    unsigned char a[160], b[160];
    size_t len, i, off, bit;

    for (i = 0; i < sizeof(a); i++) {
        a[i] = (unsigned char)(i * 37 + 11);
    }
    for (off = 0; off < 8; off++) {
        for (len = 0; len + off <= sizeof(a); len++) {
            memcpy(b, a, sizeof(b));
            assert_int_equal(apiauth_ct_equal(a + off, b + off, len), 1);
            for (i = 0; i < len; i++) {
                for (bit = 0; bit < 8; bit++) {
                    b[off + i] ^= (unsigned char)(1u << bit);
                    assert_int_equal(
                        apiauth_ct_equal(a + off, b + off, len), 0);
                    b[off + i] ^= (unsigned char)(1u << bit);
                }
            }
            /* a difference just past the end does not count */
            if (off + len < sizeof(b)) {
                b[off + len] ^= 0xff;
                assert_int_equal(apiauth_ct_equal(a + off, b + off, len), 1);
            }
        }
    }
}

static void test_ct_streq_needs_same_length_and_bytes(void **state)
{
    assert_int_equal(apiauth_ct_streq("abc", "abc"), 1);
    assert_int_equal(apiauth_ct_streq("", ""), 1);
    assert_int_equal(apiauth_ct_streq("abc", "abd"), 0);
    assert_int_equal(apiauth_ct_streq("abc", "Abc"), 0);
    assert_int_equal(apiauth_ct_streq("abc", "abcd"), 0);
    assert_int_equal(apiauth_ct_streq("abcd", "abc"), 0);
    assert_int_equal(apiauth_ct_streq("", "a"), 0);
}

static void test_ct_streq_is_false_for_null(void **state)
{
    assert_int_equal(apiauth_ct_streq(NULL, "abc"), 0);
    assert_int_equal(apiauth_ct_streq("abc", NULL), 0);
    assert_int_equal(apiauth_ct_streq(NULL, NULL), 0);
    assert_int_equal(apiauth_ct_streq(NULL, ""), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_sha256_known_answers),
        UNIT_TEST(test_digest_without_pepper_is_sha256),
        UNIT_TEST(test_digest_init_changes_nothing),
        PEPPER_TEST(test_digest_with_pepper_is_hmac_sha256),
        PEPPER_TEST(test_pepper_changes_the_digest),
        PEPPER_TEST(test_a_derived_key_is_no_digest_of_its_label),
        PEPPER_TEST(test_pepper_file_trailing_whitespace_is_ignored),
        PEPPER_TEST(test_pepper_of_32_and_1024_bytes_is_accepted),
        PEPPER_TEST(test_pepper_followed_by_much_white_space_is_accepted),
        PEPPER_TEST(test_short_pepper_file_is_refused_without_its_content),
        PEPPER_TEST(test_missing_pepper_file_is_refused),
        PEPPER_TEST(test_long_pepper_file_is_refused_without_its_content),
        PEPPER_TEST(test_pepper_longer_than_1024_is_refused_even_after_a_space),
        UNIT_TEST(test_digest_parts_are_length_prefixed),
        UNIT_TEST(test_digest_parts_of_an_empty_part_is_its_length),
        PEPPER_TEST(test_digest_parts_with_pepper_is_hmac_of_the_framing),
        UNIT_TEST(test_digest_parts_of_long_parts_are_framed_alike),
        UNIT_TEST(test_digest_parts_refuses_zero_or_too_many_parts),
        UNIT_TEST(test_digest_hex_is_64_lower_case_hex),
        UNIT_TEST(test_ct_equal_compares_every_byte),
        UNIT_TEST(test_ct_equal_at_every_length_and_alignment),
        UNIT_TEST(test_ct_streq_needs_same_length_and_bytes),
        UNIT_TEST(test_ct_streq_is_false_for_null),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("digest", tests, NULL, NULL);
    apr_terminate();
    return rc;
}
