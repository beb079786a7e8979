/*
 * jp_pii: tokens are HMAC-SHA256 (checked against OpenSSL's command-line
 * HMAC of the same message), domain-separated, stable, the same whether
 * computed alone or in a batch, and the postcode sector rules of each
 * country.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/jp_pii.h"
#include "jp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char key[] = "0123456789abcdef-test-key";

/* The token of value in domain under k (a printable key) must be the
 * first 32 hex digits of the openssl CLI's HMAC over domain || 0 || value. */
static void assert_token_matches_openssl(const char *k, const char *domain, const char *value,
                                         size_t len)
{
    jp_pii_t *p = jp_pii_new(k, strlen(k));
    assert_non_null(p);
    char tok[JP_PII_TOKEN_LEN + 1];
    jp_pii_token(p, domain, value, len, tok);
    jp_pii_free(p);
    char *dir = jp_test_tmpdir("pii");
    char *msg = jp_test_write_file(dir, "msg", "");
    FILE *f = fopen(msg, "wb");
    assert_non_null(f);
    fwrite(domain, 1, strlen(domain) + 1, f);
    fwrite(value, 1, len, f);
    fclose(f);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -hmac '%s' -r %s > %s/out", k, msg, dir);
    assert_int_equal(system(cmd), 0);
    char path[600];
    snprintf(path, sizeof(path), "%s/out", dir);
    char *ref = jp_test_read_file(path, NULL);
    assert_non_null(ref);
    assert_memory_equal(tok, ref, JP_PII_TOKEN_LEN);
    free(ref);
    free(msg);
    jp_test_rmtree(dir);
    free(dir);
}

static void test_token_is_truncated_hmac_sha256(void **state)
{
    (void)state;
    assert_token_matches_openssl(key, "customer", "C-0001", 6);
    /* A key longer than SHA-256's block is hashed first (RFC 2104), and a
     * value longer than any buffer is fed whole. */
    char long_key[101], long_value[3000];
    for (size_t i = 0; i < sizeof(long_key) - 1; i++)
        long_key[i] = (char)('a' + i % 26);
    long_key[sizeof(long_key) - 1] = '\0';
    for (size_t i = 0; i < sizeof(long_value); i++)
        long_value[i] = (char)('0' + i % 10);
    assert_token_matches_openssl(long_key, "customer", "C-0001", 6);
    assert_token_matches_openssl(key, "email", long_value, sizeof(long_value));

    jp_pii_t *p = jp_pii_new(key, strlen(key));
    assert_non_null(p);
    char tok[JP_PII_TOKEN_LEN + 1];
    jp_pii_token(p, "customer", "C-0001", 6, tok);

    char again[JP_PII_TOKEN_LEN + 1], other[JP_PII_TOKEN_LEN + 1];
    jp_pii_token(p, "customer", "C-0001", 6, again);
    assert_string_equal(tok, again);
    jp_pii_token(p, "email", "C-0001", 6, other);
    assert_string_not_equal(tok, other);
    jp_pii_free(p);

    jp_pii_t *q = jp_pii_new("another-key-of-16+", 18);
    jp_pii_token(q, "customer", "C-0001", 6, other);
    assert_string_not_equal(tok, other);
    jp_pii_free(q);
    assert_null(jp_pii_new("short", 5));
}

/* jp_pii_token_many writes, element by element, what jp_pii_token writes
 * for the same value: batches of every size around the SIMD lane counts
 * (8, 16) and jp_pii's chunk of 64, values of mixed lengths (empty, short
 * ids, lengths straddling the SHA-256 block and padding boundaries, a few
 * long ones), bytes including NULs, and several domains. A lone value and
 * a batch take different kernels (jp_sha256.h), so this compares real
 * work, not one code path with itself. */
static void test_token_many_equals_token(void **state)
{
    (void)state;
    jp_pii_t *p = jp_pii_new(key, strlen(key));
    assert_non_null(p);
    static char pool[4096];
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < sizeof(pool); i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        pool[i] = (char)x;
    }
    enum { MAX = 150 };
    jp_pii_value_t v[MAX];
    char(*many)[JP_PII_TOKEN_LEN + 1] = malloc(MAX * sizeof(*many));
    assert_non_null(many);
    static const size_t sizes[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 100, 129, MAX};
    static const char *const domains[] = {"customer", "email", ""};
    for (size_t d = 0; d < sizeof(domains) / sizeof(domains[0]); d++) {
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            size_t n = sizes[s];
            for (size_t i = 0; i < n; i++) {
                size_t len = (i * 37 + n * 11 + d) % 140;
                if (i % 23 == 5)
                    len = 300 + i * 13; /* several blocks */
                v[i] = (jp_pii_value_t){pool + (i * 101 + s) % 512, len};
            }
            memset(many, 'x', MAX * sizeof(*many));
            jp_pii_token_many(p, domains[d], v, n, many);
            for (size_t i = 0; i < n; i++) {
                char one[JP_PII_TOKEN_LEN + 1];
                jp_pii_token(p, domains[d], v[i].ptr, v[i].len, one);
                assert_int_equal(strlen(one), JP_PII_TOKEN_LEN);
                if (strcmp(many[i], one) != 0)
                    fail_msg("domain '%s' batch of %zu: value %zu (%zu bytes): %s != %s",
                             domains[d], n, i, v[i].len, many[i], one);
            }
            if (n < MAX) /* nothing written past the batch */
                assert_int_equal(many[n][0], 'x');
        }
    }
    /* Simulator-shaped customer ids, a full chunk and a bit. */
    char ids[70][20];
    for (size_t i = 0; i < 70; i++) {
        snprintf(ids[i], sizeof(ids[i]), "GB-%016llx",
                 (unsigned long long)i * 0x9E3779B97F4A7C15ULL);
        v[i] = (jp_pii_value_t){ids[i], 19};
    }
    jp_pii_token_many(p, "customer", v, 70, many);
    for (size_t i = 0; i < 70; i++) {
        char one[JP_PII_TOKEN_LEN + 1];
        jp_pii_token(p, "customer", ids[i], 19, one);
        assert_string_equal(many[i], one);
    }
    free(many);
    jp_pii_free(p);
}

static void test_postcode_sectors(void **state)
{
    (void)state;
    static const struct {
        const char *cc, *postcode, *sector;
    } ok[] = {
        {"GB", "SW1A 1AA", "SW1A 1"}, {"GB", "m1 1ae", "M1 1"}, {"GB", "EH12 9QX", "EH12 9"},
        {"NL", "1234 AB", "1234"},    {"NL", "9999zz", "9999"}, {"SE", "123 45", "123"},
        {"DE", "10115", "101"},       {"NO", "0150", "01"},
    };
    char out[16];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(
            jp_pii_postcode_sector(ok[i].cc, ok[i].postcode, strlen(ok[i].postcode), out, 16), 0);
        assert_string_equal(out, ok[i].sector);
    }
    /* Other countries drop the last two characters; the output is cut to
     * the buffer as snprintf cuts it. */
    assert_int_equal(jp_pii_postcode_sector("FR", "75 008", 6, out, 16), 0);
    assert_string_equal(out, "750");
    assert_int_equal(jp_pii_postcode_sector("XX", "ABCDEFGHIJKL", 12, out, 8), 0);
    assert_string_equal(out, "ABCDEFG");
    assert_int_equal(jp_pii_postcode_sector("GB", "EH12 9QX", 8, out, 8), 0);
    assert_string_equal(out, "EH12 9");
    static const struct {
        const char *cc, *postcode;
    } bad[] = {{"GB", "12345"}, {"GB", "SW1A"}, {"NL", "0123 AB"}, {"NL", "1234 5B"},
               {"SE", "1234"},  {"DE", "1011"}, {"NO", "01500"},   {"GB", "SW1A-1AA"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(
            jp_pii_postcode_sector(bad[i].cc, bad[i].postcode, strlen(bad[i].postcode), out, 16),
            -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_is_truncated_hmac_sha256),
        cmocka_unit_test(test_token_many_equals_token),
        cmocka_unit_test(test_postcode_sectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
