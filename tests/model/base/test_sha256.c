/*
 * jp_sha256: SHA-256 against the FIPS 180-4 examples, HMAC-SHA256 against
 * RFC 4231 test cases 1-7, and every kernel against OpenSSL (the reference
 * implementation, linked only into this test) on random keys and batches.
 *
 * The random batches target what a multi-buffer implementation can get
 * wrong: message lengths on both sides of every padding boundary (inner
 * totals of 64 + 55, 56, 63, 64 bytes and their multiples), batches of 1
 * to 40 messages mixing lengths (lanes finish at different blocks and are
 * refilled, the last lanes idle), the prefix/data split anywhere inside a
 * block or on its edges, empty parts given as NULL, and keys of 0 to 150
 * bytes (hashed first past 64). Every kernel the CPU has is forced in
 * turn; one it lacks (AVX-512 under valgrind, whose CPUID hides it) is
 * reported as skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model/base/jp_rng.h"
#include "model/base/jp_sha256.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const jp_sha256_kernel_t KERNELS[] = {JP_SHA256_KERNEL_AUTO, JP_SHA256_KERNEL_SCALAR,
                                             JP_SHA256_KERNEL_AVX2, JP_SHA256_KERNEL_AVX512};
#define N_KERNELS (sizeof(KERNELS) / sizeof(KERNELS[0]))

static void hex_to_bytes(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static void assert_hex(const uint8_t *got, const char *want_hex)
{
    uint8_t want[JP_SHA256_LEN];
    size_t n = strlen(want_hex) / 2;
    assert_true(n <= sizeof(want));
    hex_to_bytes(want_hex, want, n);
    assert_memory_equal(got, want, n);
}

static void test_fips_180_4_vectors(void **state)
{
    (void)state;
    uint8_t md[JP_SHA256_LEN];
    jp_sha256(NULL, 0, md);
    assert_hex(md, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    jp_sha256("abc", 3, md);
    assert_hex(md, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* 56 bytes: the padding needs a second block. */
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    jp_sha256(m448, strlen(m448), md);
    assert_hex(md, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    size_t n = 1000000;
    char *a = malloc(n);
    assert_non_null(a);
    memset(a, 'a', n);
    jp_sha256(a, n, md);
    assert_hex(md, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

static void test_sha256_matches_openssl(void **state)
{
    (void)state;
    uint8_t buf[300], md[JP_SHA256_LEN], ref[EVP_MAX_MD_SIZE];
    jp_rng_t rng;
    jp_rng_seed(&rng, 180);
    for (size_t len = 0; len <= sizeof(buf); len++) {
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)jp_rng_next(&rng);
        unsigned int rl = 0;
        assert_int_equal(EVP_Digest(buf, len, ref, &rl, EVP_sha256(), NULL), 1);
        assert_int_equal(rl, JP_SHA256_LEN);
        jp_sha256(buf, len, md);
        if (memcmp(md, ref, JP_SHA256_LEN) != 0)
            fail_msg("SHA-256 of %zu bytes differs from OpenSSL", len);
    }
}

typedef struct rfc4231_s {
    const char *key_hex; /* NULL: key_byte repeated key_len times */
    uint8_t key_byte;
    size_t key_len;
    const char *data; /* NULL: data_byte repeated data_len times */
    uint8_t data_byte;
    size_t data_len;
    const char *mac_hex; /* case 5 is truncated to 128 bits */
} rfc4231_t;

static const rfc4231_t RFC4231[] = {
    {NULL, 0x0b, 20, "Hi There", 0, 0,
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {"4a656665", 0, 4, "what do ya want for nothing?", 0, 0,
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {NULL, 0xaa, 20, NULL, 0xdd, 50,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
    {"0102030405060708090a0b0c0d0e0f10111213141516171819", 0, 25, NULL, 0xcd, 50,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
    {NULL, 0x0c, 20, "Test With Truncation", 0, 0, "a3b6167473100ee06e0c796c2955552b"},
    {NULL, 0xaa, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 0, 0,
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    {NULL, 0xaa, 131,
     "This is a test using a larger than block-size key and a larger than block-size data. The "
     "key needs to be hashed before being used by the HMAC algorithm.",
     0, 0, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
};

/* Each RFC 4231 case alone, then as one batch of the same message split
 * at every position (prefix = the first s bytes): every element must be
 * the published MAC. Returns 0 if the CPU lacks the kernel. */
static int check_rfc4231(jp_sha256_kernel_t kernel)
{
    for (size_t c = 0; c < sizeof(RFC4231) / sizeof(RFC4231[0]); c++) {
        const rfc4231_t *v = &RFC4231[c];
        uint8_t key[131], data[160];
        if (v->key_hex)
            hex_to_bytes(v->key_hex, key, v->key_len);
        else
            memset(key, v->key_byte, v->key_len);
        size_t len = v->data ? strlen(v->data) : v->data_len;
        assert_true(len <= sizeof(data));
        if (v->data)
            memcpy(data, v->data, len);
        else
            memset(data, v->data_byte, len);
        jp_hmac_sha256_key_t k;
        jp_hmac_sha256_key_init(&k, key, v->key_len);
        if (jp_hmac_sha256_key_set_kernel(&k, kernel) != 0)
            return 0;
        jp_hmac_sha256_msg_t m[161];
        uint8_t mac[161][JP_SHA256_LEN];
        m[0] = (jp_hmac_sha256_msg_t){NULL, 0, data, len};
        jp_hmac_sha256_many(&k, m, 1, mac);
        assert_hex(mac[0], v->mac_hex);
        for (size_t s = 0; s <= len; s++)
            m[s] = (jp_hmac_sha256_msg_t){data, s, data + s, len - s};
        memset(mac, 0, sizeof(mac));
        jp_hmac_sha256_many(&k, m, len + 1, mac);
        for (size_t s = 0; s <= len; s++)
            assert_hex(mac[s], v->mac_hex);
        jp_hmac_sha256_key_wipe(&k);
    }
    return 1;
}

/* Message lengths: uniform on 0..300 half the time, else one byte either
 * side of a padding boundary of the inner hash (64 + len = 64 b + 55, 56,
 * 63, 64). */
static size_t pick_len(jp_rng_t *rng)
{
    if (jp_rng_below(rng, 2) == 0)
        return (size_t)jp_rng_below(rng, 301);
    static const size_t edge[] = {55, 56, 63, 64};
    size_t b = (size_t)jp_rng_below(rng, 4), e = edge[jp_rng_below(rng, 4)];
    size_t len = 64 * b + e + (size_t)jp_rng_below(rng, 3) - 1;
    return len > 300 ? 300 : len;
}

#define POOL      4096
#define MAX_BATCH 40

/* Random keys and batches through kernel k, each MAC against OpenSSL's
 * HMAC(); returns 0 if the CPU lacks k. */
static int check_random(jp_sha256_kernel_t kernel, uint64_t seed)
{
    static uint8_t pool[POOL];
    jp_rng_t rng;
    jp_rng_seed(&rng, seed);
    for (size_t i = 0; i < POOL; i++)
        pool[i] = (uint8_t)jp_rng_next(&rng);
    size_t messages = 0, checked_lengths[301] = {0};
    for (int round = 0; round < 200; round++) {
        uint8_t key[150];
        size_t key_len = (size_t)jp_rng_below(&rng, sizeof(key) + 1);
        for (size_t i = 0; i < key_len; i++)
            key[i] = (uint8_t)jp_rng_next(&rng);
        jp_hmac_sha256_key_t k;
        jp_hmac_sha256_key_init(&k, key_len ? key : NULL, key_len);
        if (jp_hmac_sha256_key_set_kernel(&k, kernel) != 0)
            return 0;
        assert_true(k.kernel == kernel);
        size_t n = 1 + (size_t)jp_rng_below(&rng, MAX_BATCH);
        jp_hmac_sha256_msg_t m[MAX_BATCH];
        size_t len[MAX_BATCH];
        const uint8_t *at[MAX_BATCH];
        for (size_t i = 0; i < n; i++) {
            /* One message in ten is long: several blocks read in place. */
            len[i] = jp_rng_below(&rng, 10) == 0 ? 300 + (size_t)jp_rng_below(&rng, 1500)
                                                 : pick_len(&rng);
            at[i] = pool + jp_rng_below(&rng, POOL - len[i] + 1);
            size_t split = (size_t)jp_rng_below(&rng, len[i] + 1);
            if (jp_rng_below(&rng, 4) == 0) /* a whole-block prefix */
                split = split / 64 * 64;
            /* The two parts need not be adjacent: the data part is read
             * from its own copy. */
            m[i] = (jp_hmac_sha256_msg_t){split ? at[i] : NULL, split,
                                          len[i] > split ? at[i] + split : NULL, len[i] - split};
            if (len[i] <= 300)
                checked_lengths[len[i]]++;
        }
        uint8_t mac[MAX_BATCH][JP_SHA256_LEN];
        memset(mac, 0xee, sizeof(mac));
        jp_hmac_sha256_many(&k, m, n, mac);
        for (size_t i = 0; i < n; i++) {
            uint8_t ref[EVP_MAX_MD_SIZE];
            unsigned int rl = 0;
            assert_non_null(HMAC(EVP_sha256(), key, (int)key_len, at[i], len[i], ref, &rl));
            assert_int_equal(rl, JP_SHA256_LEN);
            if (memcmp(mac[i], ref, JP_SHA256_LEN) != 0)
                fail_msg("kernel %s round %d: message %zu of %zu (%zu bytes, prefix %zu, key "
                         "%zu bytes) differs from OpenSSL",
                         jp_sha256_kernel_name(k.kernel), round, i, n, len[i], m[i].prefix_len,
                         key_len);
        }
        messages += n;
        jp_hmac_sha256_key_wipe(&k);
    }
    /* The distribution really reached the padding boundaries. */
    static const size_t must[] = {0, 55, 56, 63, 64, 119, 120, 127, 128, 183, 184, 191, 192};
    for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
        if (checked_lengths[must[i]] == 0)
            fail_msg("no message of %zu bytes was checked", must[i]);
    assert_true(messages >= 2000);
    return 1;
}

static void run_kernel(jp_sha256_kernel_t kernel)
{
    if (!check_rfc4231(kernel) || !check_random(kernel, 4231 + (uint64_t)kernel)) {
        printf("kernel %s: not available on this CPU, skipped\n", jp_sha256_kernel_name(kernel));
        skip();
    }
    if (kernel == JP_SHA256_KERNEL_AUTO)
        printf("kernel auto: checked (groups run as %s, lone messages as scalar)\n",
               jp_sha256_kernel_name(jp_sha256_kernel_auto()));
    else
        printf("kernel %s: checked\n", jp_sha256_kernel_name(kernel));
}

static void test_kernel_auto(void **state)
{
    (void)state;
    run_kernel(JP_SHA256_KERNEL_AUTO);
}

static void test_kernel_scalar(void **state)
{
    (void)state;
    run_kernel(JP_SHA256_KERNEL_SCALAR);
}

static void test_kernel_avx2(void **state)
{
    (void)state;
    run_kernel(JP_SHA256_KERNEL_AVX2);
}

static void test_kernel_avx512(void **state)
{
    (void)state;
    run_kernel(JP_SHA256_KERNEL_AVX512);
}

/* Every kernel gives the same MACs for one batch of simulator-shaped
 * customer ids (the production shape: 9-byte domain prefix, 19-byte id),
 * in batches of sizes around the lane counts. */
static void test_kernels_agree(void **state)
{
    (void)state;
    char ids[70][20];
    jp_hmac_sha256_msg_t m[70];
    for (size_t i = 0; i < 70; i++) {
        snprintf(ids[i], sizeof(ids[i]), "GB-%016llx",
                 (unsigned long long)i * 0x9E3779B97F4A7C15ULL);
        m[i] = (jp_hmac_sha256_msg_t){"customer", 9, ids[i], 19};
    }
    static const size_t sizes[] = {1, 7, 8, 9, 15, 16, 17, 33, 64, 70};
    uint8_t want[70][JP_SHA256_LEN], got[70][JP_SHA256_LEN];
    jp_hmac_sha256_key_t k;
    jp_hmac_sha256_key_init(&k, "bench-key-0123456789abcdef-0123456789", 37);
    assert_int_equal(jp_hmac_sha256_key_set_kernel(&k, JP_SHA256_KERNEL_SCALAR), 0);
    jp_hmac_sha256_many(&k, m, 70, want);
    for (size_t c = 0; c < N_KERNELS; c++) {
        if (jp_hmac_sha256_key_set_kernel(&k, KERNELS[c]) != 0)
            continue;
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            memset(got, 0, sizeof(got));
            jp_hmac_sha256_many(&k, m, sizes[s], got);
            assert_memory_equal(got, want, sizes[s] * JP_SHA256_LEN);
        }
    }
}

static void test_key_handling(void **state)
{
    (void)state;
    jp_hmac_sha256_key_t k;
    uint8_t mac[1][JP_SHA256_LEN], ref[EVP_MAX_MD_SIZE];
    unsigned int rl = 0;
    /* The empty key and an empty message. */
    jp_hmac_sha256_key_init(&k, NULL, 0);
    assert_true(k.kernel == JP_SHA256_KERNEL_AUTO);
    assert_true(jp_sha256_kernel_auto() != JP_SHA256_KERNEL_AUTO);
    jp_hmac_sha256_msg_t m = {NULL, 0, NULL, 0};
    jp_hmac_sha256_many(&k, &m, 1, mac);
    assert_non_null(HMAC(EVP_sha256(), "", 0, (const unsigned char *)"", 0, ref, &rl));
    assert_memory_equal(mac[0], ref, JP_SHA256_LEN);
    /* n == 0 writes nothing. */
    memset(mac, 0x5a, sizeof(mac));
    jp_hmac_sha256_many(&k, &m, 0, mac);
    for (size_t i = 0; i < JP_SHA256_LEN; i++)
        assert_int_equal(mac[0][i], 0x5a);
    /* A 64-byte key is used as is, a 65-byte one is hashed first: both
     * as OpenSSL does. */
    uint8_t key[65];
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 7 + 1);
    for (size_t kl = 63; kl <= 65; kl++) {
        jp_hmac_sha256_key_init(&k, key, kl);
        m = (jp_hmac_sha256_msg_t){"x", 1, NULL, 0};
        jp_hmac_sha256_many(&k, &m, 1, mac);
        assert_non_null(HMAC(EVP_sha256(), key, (int)kl, (const unsigned char *)"x", 1, ref, &rl));
        assert_memory_equal(mac[0], ref, JP_SHA256_LEN);
    }
    /* Back to AUTO after forcing; wipe leaves nothing of the key. */
    assert_int_equal(jp_hmac_sha256_key_set_kernel(&k, JP_SHA256_KERNEL_SCALAR), 0);
    assert_int_equal(jp_hmac_sha256_key_set_kernel(&k, JP_SHA256_KERNEL_AUTO), 0);
    assert_true(k.kernel == JP_SHA256_KERNEL_AUTO);
    jp_hmac_sha256_key_wipe(&k);
    const uint8_t *raw = (const uint8_t *)&k;
    for (size_t i = 0; i < sizeof(k); i++)
        assert_int_equal(raw[i], 0);
    assert_int_equal(jp_hmac_sha256_key_set_kernel(&k, (jp_sha256_kernel_t)99), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_180_4_vectors), cmocka_unit_test(test_sha256_matches_openssl),
        cmocka_unit_test(test_kernel_auto),        cmocka_unit_test(test_kernel_scalar),
        cmocka_unit_test(test_kernel_avx2),        cmocka_unit_test(test_kernel_avx512),
        cmocka_unit_test(test_kernels_agree),      cmocka_unit_test(test_key_handling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
