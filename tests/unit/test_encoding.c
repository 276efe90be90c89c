/*
 * test_encoding.c: base64, base64url and hex, and how strictly they decode.
 *
 * A credential must have exactly one accepted spelling: a decoder that
 * also takes padding, the other alphabet or stray trailing bits lets one
 * secret be presented in several forms, which defeats caches keyed by the
 * presented text and confuses anyone comparing logs.
 */
#include "unit.h"

#include "encoding.h"

/* RFC 4648 §10 */
static const struct {
    const char *plain, *b64, *b64url, *hex;
} rfc4648[] = {
    {"", "", "", ""},
    {"f", "Zg==", "Zg", "66"},
    {"fo", "Zm8=", "Zm8", "666f"},
    {"foo", "Zm9v", "Zm9v", "666f6f"},
    {"foob", "Zm9vYg==", "Zm9vYg", "666f6f62"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE", "666f6f6261"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy", "666f6f626172"},
};

#define NVEC (sizeof(rfc4648) / sizeof(rfc4648[0]))

static apiauth_status_t url_decode(const char *s, unsigned char **out,
                                   apr_size_t *outlen)
{
    return apiauth_b64url_decode(unit_pool, s, strlen(s), out, outlen);
}

static apiauth_status_t std_decode(const char *s, unsigned char **out,
                                   apr_size_t *outlen)
{
    return apiauth_b64_decode(unit_pool, s, strlen(s), out, outlen);
}

/* Bytes that reach every sextet, 62 and 63 included, at every length. */
static void fill(unsigned char *buf, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        buf[i] = (unsigned char)(0xff - i * 7 - len);
    }
}

static void test_base64url_round_trips_every_length_up_to_70(void **state)
{
    unsigned char data[70], *back;
    apr_size_t len, outlen;

    for (len = 0; len <= sizeof(data); len++) {
        char *enc;

        fill(data, len);
        enc = apiauth_b64url_encode(unit_pool, data, len);
        assert_non_null(enc);
        /* unpadded: 4 characters per 3 bytes, 2 or 3 for the rest */
        assert_int_equal(strlen(enc), (len * 4 + 2) / 3);
        assert_null(strpbrk(enc, "=+/"));
        back = NULL;
        outlen = 999;
        assert_int_equal(url_decode(enc, &back, &outlen), APIAUTH_OK);
        assert_int_equal(outlen, len);
        assert_memory_equal(back, data, len);
        assert_int_equal(back[len], '\0');
    }
}

static void test_base64_round_trips_every_length_up_to_70(void **state)
{
    unsigned char data[70], *back;
    apr_size_t len, outlen;

    for (len = 1; len <= sizeof(data); len++) {
        char *enc;

        fill(data, len);
        enc = apiauth_b64_encode(unit_pool, data, len);
        assert_non_null(enc);
        assert_int_equal(strlen(enc), (len + 2) / 3 * 4);
        assert_null(strpbrk(enc, "-_"));
        back = NULL;
        assert_int_equal(std_decode(enc, &back, &outlen), APIAUTH_OK);
        assert_int_equal(outlen, len);
        assert_memory_equal(back, data, len);
        assert_int_equal(back[len], '\0');
    }
}

static void test_alphabets_differ_in_characters_62_and_63(void **state)
{
    const unsigned char data[] = {0xfb, 0xff, 0xbf};

    assert_string_equal(apiauth_b64_encode(unit_pool, data, 3), "+/+/");
    assert_string_equal(apiauth_b64url_encode(unit_pool, data, 3), "-_-_");
}

static void test_rfc4648_vectors_encode(void **state)
{
    size_t i;

    for (i = 0; i < NVEC; i++) {
        apr_size_t n = strlen(rfc4648[i].plain);
        assert_string_equal(apiauth_b64_encode(unit_pool, rfc4648[i].plain, n),
                            rfc4648[i].b64);
        assert_string_equal(
            apiauth_b64url_encode(unit_pool, rfc4648[i].plain, n),
            rfc4648[i].b64url);
        assert_string_equal(
            apiauth_hex_encode(unit_pool,
                               (const unsigned char *)rfc4648[i].plain, n),
            rfc4648[i].hex);
    }
}

static void test_rfc4648_vectors_decode(void **state)
{
    unsigned char *out, bin[8];
    apr_size_t outlen;
    size_t i;

    for (i = 0; i < NVEC; i++) {
        apr_size_t n = strlen(rfc4648[i].plain);

        assert_int_equal(url_decode(rfc4648[i].b64url, &out, &outlen),
                         APIAUTH_OK);
        assert_int_equal(outlen, n);
        assert_string_equal((char *)out, rfc4648[i].plain);

        /* Basic never carries an empty credential: "" is refused (below) */
        if (n > 0) {
            assert_int_equal(std_decode(rfc4648[i].b64, &out, &outlen),
                             APIAUTH_OK);
            assert_int_equal(outlen, n);
            assert_string_equal((char *)out, rfc4648[i].plain);
        }

        memset(bin, 0xee, sizeof(bin));
        assert_int_equal(apiauth_hex_decode(rfc4648[i].hex, bin, n), 0);
        assert_memory_equal(bin, rfc4648[i].plain, n);
    }
}

static void test_base64_refuses_empty_input(void **state)
{
    unsigned char *out;
    apr_size_t outlen;

    assert_int_equal(std_decode("", &out, &outlen), APIAUTH_INVALID);
}

static void test_decoded_length_counts_embedded_nul(void **state)
{
    unsigned char *out;
    apr_size_t outlen = 0;

    /* 00 61 00 62 */
    assert_int_equal(url_decode("AGEAYg", &out, &outlen), APIAUTH_OK);
    assert_int_equal(outlen, 4);
    assert_memory_equal(out, "\0a\0b", 4);
    assert_int_equal(std_decode("AGEAYg==", &out, &outlen), APIAUTH_OK);
    assert_int_equal(outlen, 4);
    assert_memory_equal(out, "\0a\0b", 4);
    /* and it is the caller's out-of-band length, not strlen, that says so */
    assert_int_equal(strlen((char *)out), 0);
}

static void test_base64url_refuses_padding(void **state)
{
    const char *bad[] = {"Zg==", "Zm8=", "Zg=", "Zm9vYg==", "=", "===="};
    unsigned char *out;
    apr_size_t outlen;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(url_decode(bad[i], &out, &outlen), APIAUTH_INVALID);
    }
}

static void test_base64url_refuses_the_standard_alphabet(void **state)
{
    const char *bad[] = {"+/+/", "ab+c", "ab/c", "Zm9v+w", "Zm9v/w"};
    unsigned char *out;
    apr_size_t outlen;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(url_decode(bad[i], &out, &outlen), APIAUTH_INVALID);
    }
    assert_int_equal(url_decode("-_-_", &out, &outlen), APIAUTH_OK);
    assert_int_equal(outlen, 3);
    assert_memory_equal(out, "\xfb\xff\xbf", 3);
}

static void test_base64_refuses_the_url_alphabet(void **state)
{
    const char *bad[] = {"-_-_", "ab-c", "ab_c", "Zm9v-w==", "Zm9v_w=="};
    unsigned char *out;
    apr_size_t outlen;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(std_decode(bad[i], &out, &outlen), APIAUTH_INVALID);
    }
    assert_int_equal(std_decode("+/+/", &out, &outlen), APIAUTH_OK);
    assert_memory_equal(out, "\xfb\xff\xbf", 3);
}

static void test_base64url_refuses_impossible_lengths(void **state)
{
    const char *bad[] = {"Z", "Zm9vY", "Zm9vYmFyZ"};
    unsigned char *out;
    apr_size_t outlen;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(url_decode(bad[i], &out, &outlen), APIAUTH_INVALID);
    }
}

static void test_base64_refuses_unpadded_or_misplaced_padding(void **state)
{
    const char *bad[] = {"Zg", "Zm8", "Zg=", "Zg===", "Z===", "====",
                         "Zg==Zg==", "Z=g=", "=Zm8", "Zm9v=", "Zm9vYg=="
                         "=="};
    unsigned char *out;
    apr_size_t outlen;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(std_decode(bad[i], &out, &outlen), APIAUTH_INVALID);
    }
}

static void test_non_canonical_trailing_bits_are_refused(void **state)
{
    unsigned char *out;
    apr_size_t outlen;

    /* "QQ" and "QUI" are the canonical spellings of "A" and "AB" */
    assert_int_equal(url_decode("QQ", &out, &outlen), APIAUTH_OK);
    assert_string_equal((char *)out, "A");
    assert_int_equal(url_decode("QUI", &out, &outlen), APIAUTH_OK);
    assert_string_equal((char *)out, "AB");
    assert_int_equal(std_decode("QQ==", &out, &outlen), APIAUTH_OK);
    assert_string_equal((char *)out, "A");
    assert_int_equal(std_decode("QUI=", &out, &outlen), APIAUTH_OK);
    assert_string_equal((char *)out, "AB");

    /* ... and these would decode to the same bytes with bits left over */
    assert_int_equal(url_decode("QR", &out, &outlen), APIAUTH_INVALID);
    assert_int_equal(url_decode("Q_", &out, &outlen), APIAUTH_INVALID);
    assert_int_equal(url_decode("QUJ", &out, &outlen), APIAUTH_INVALID);
    assert_int_equal(url_decode("QU-", &out, &outlen), APIAUTH_INVALID);
    assert_int_equal(std_decode("QR==", &out, &outlen), APIAUTH_INVALID);
    assert_int_equal(std_decode("Q/==", &out, &outlen), APIAUTH_INVALID);
    assert_int_equal(std_decode("QUJ=", &out, &outlen), APIAUTH_INVALID);
    assert_int_equal(std_decode("QU+=", &out, &outlen), APIAUTH_INVALID);
}

static void test_decoders_refuse_space_controls_and_non_ascii(void **state)
{
    const char *bad[] = {"Zm9v Yg", "Zm9v\nYg", "Zm9v\tYg", " Zm9v",
                         "Zm9v\xc3\xa9", "Zm9v.w", "Zm9v~w"};
    unsigned char *out;
    apr_size_t outlen;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(url_decode(bad[i], &out, &outlen), APIAUTH_INVALID);
    }
    assert_int_equal(std_decode("Zm9v YmFy", &out, &outlen), APIAUTH_INVALID);
    assert_int_equal(std_decode("Zm9v\r\nYmFy", &out, &outlen),
                     APIAUTH_INVALID);
}

static void test_decoders_stop_at_the_given_length(void **state)
{
    unsigned char *out;
    apr_size_t outlen;

    /* the bytes past slen are not part of the input */
    assert_int_equal(apiauth_b64url_decode(unit_pool, "Zm9v!!!!", 4, &out,
                                           &outlen), APIAUTH_OK);
    assert_int_equal(outlen, 3);
    assert_string_equal((char *)out, "foo");
    assert_int_equal(apiauth_b64_decode(unit_pool, "Zg==junk", 4, &out,
                                        &outlen), APIAUTH_OK);
    assert_int_equal(outlen, 1);
    assert_string_equal((char *)out, "f");
}

/* The alphabets, checked against their definitions character by
 * character, and the span at every length and every place of a stray
 * character (it goes eight at a time). */
static void test_character_classes_are_the_rfc_alphabets(void **state)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                              "qrstuvwxyz0123456789";
    int c;

    for (c = 0; c < 256; c++) {
        int alnum = c != 0 && strchr(b64, c) != NULL;
        assert_int_equal(!!apiauth_char_is(c, APIAUTH_CHARS_B64),
                         alnum || c == '+' || c == '/');
        assert_int_equal(!!apiauth_char_is(c, APIAUTH_CHARS_B64URL),
                         alnum || c == '-' || c == '_');
        assert_int_equal(!!apiauth_char_is(c, APIAUTH_CHARS_TOKEN68),
                         alnum || (c != 0 && strchr("-._~+/", c) != NULL));
    }
}

static void test_chars_span_stops_at_the_first_stranger(void **state)
{
    char s[40];
    size_t len, at;
    static const char strangers[] = {' ', '=', '\x80', '\xff', '\0', '.'};
    size_t k;

    for (len = 0; len < sizeof(s); len++) {
        memset(s, 'a', sizeof(s));
        assert_int_equal(apiauth_chars_span(s, len, APIAUTH_CHARS_B64URL),
                         len);
        for (at = 0; at < len; at++) {
            for (k = 0; k < sizeof(strangers); k++) {
                s[at] = strangers[k];
                assert_int_equal(
                    apiauth_chars_span(s, len, APIAUTH_CHARS_B64URL), at);
            }
            s[at] = 'a';
        }
    }
}

static void test_hex_encodes_lower_case(void **state)
{
    const unsigned char data[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef,
                                  0xff};

    assert_string_equal(apiauth_hex_encode(unit_pool, data, sizeof(data)),
                        "00017f80abcdefff");
}

static void test_hex_decode_reads_either_case(void **state)
{
    unsigned char out[4];

    assert_int_equal(apiauth_hex_decode("DeadBEEF", out, 4), 0);
    assert_memory_equal(out, "\xde\xad\xbe\xef", 4);
    assert_int_equal(apiauth_hex_decode("", out, 0), 0);
}

static void test_hex_decode_refuses_wrong_length_and_odd_characters(
    void **state)
{
    unsigned char out[2];
    const char *bad[] = {"", "a", "abc", "abcde", "abcdef", "abc ", " abc",
                         "ab\ncd", "0g00", "00x0", "+123", "-123", "0x12",
                         "ab\xc3\xa9"};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(apiauth_hex_decode(bad[i], out, 2), -1);
    }
    assert_int_equal(apiauth_hex_decode(NULL, out, 2), -1);
    assert_int_equal(apiauth_hex_decode("abcd", out, 2), 0);
}

static void test_hex_round_trips_every_byte(void **state)
{
    unsigned char data[256], back[256];
    char *hex;
    int i;

    for (i = 0; i < 256; i++) {
        data[i] = (unsigned char)i;
    }
    hex = apiauth_hex_encode(unit_pool, data, sizeof(data));
    assert_int_equal(strlen(hex), 512);
    assert_int_equal(apiauth_hex_decode(hex, back, sizeof(back)), 0);
    assert_memory_equal(back, data, sizeof(data));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_base64url_round_trips_every_length_up_to_70),
        UNIT_TEST(test_base64_round_trips_every_length_up_to_70),
        UNIT_TEST(test_alphabets_differ_in_characters_62_and_63),
        UNIT_TEST(test_rfc4648_vectors_encode),
        UNIT_TEST(test_rfc4648_vectors_decode),
        UNIT_TEST(test_base64_refuses_empty_input),
        UNIT_TEST(test_decoded_length_counts_embedded_nul),
        UNIT_TEST(test_base64url_refuses_padding),
        UNIT_TEST(test_base64url_refuses_the_standard_alphabet),
        UNIT_TEST(test_base64_refuses_the_url_alphabet),
        UNIT_TEST(test_base64url_refuses_impossible_lengths),
        UNIT_TEST(test_base64_refuses_unpadded_or_misplaced_padding),
        UNIT_TEST(test_non_canonical_trailing_bits_are_refused),
        UNIT_TEST(test_decoders_refuse_space_controls_and_non_ascii),
        UNIT_TEST(test_decoders_stop_at_the_given_length),
        UNIT_TEST(test_character_classes_are_the_rfc_alphabets),
        UNIT_TEST(test_chars_span_stops_at_the_first_stranger),
        UNIT_TEST(test_hex_encodes_lower_case),
        UNIT_TEST(test_hex_decode_reads_either_case),
        UNIT_TEST(test_hex_decode_refuses_wrong_length_and_odd_characters),
        UNIT_TEST(test_hex_round_trips_every_byte),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("encoding", tests, NULL, NULL);
    apr_terminate();
    return rc;
}
