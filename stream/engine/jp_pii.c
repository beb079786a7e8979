/*
 * jp_pii: tokens are HMAC-SHA256 from model/base/jp_sha256, whose key holds the
 * SHA-256 states after K ^ ipad and K ^ opad (RFC 2104), computed once at
 * jp_pii_new: a token of a short value costs two block compressions.
 * Batches go further: jp_sha256 hashes up to 16 values side by side in
 * SIMD lanes, so a token of a batch costs a fraction of a lone one. Every
 * entry point is jp_pii_token_many (jp_pii_token is a batch of one), so
 * single and batched tokens cannot drift apart. The message is the
 * domain with its NUL terminator (the 0x00 separator) as a prefix, then
 * the value, both read in place. The keyed states are wiped on free.
 * Where the CPU has the SHA extensions (SHA-NI), groups smaller than
 * JP_PII_SHA_NI_BELOW are hashed one message at a time by OpenSSL's
 * SHA-256, which uses them, resumed from the same keyed midstates: a lone
 * token took 255-430 ns that way against 1120-1960 ns with the portable
 * kernel, about what a token of a full AVX2 batch costs (300-450 ns; the
 * same machine, three runs each). Full SIMD batches stay with jp_sha256.
 * The engine tokenizes runs of records, so lone tokens are those of a
 * caught-up engine and the odd ends of runs. Valgrind hides SHA-NI from
 * CPUID, so under it everything takes jp_sha256's kernels.
 * Postcode parsing is per-country and strict, so a malformed postcode is a
 * validation error rather than a silently odd sector.
 */
#include "engine/jp_pii.h"

#include "model/base/jp_sha256.h"

/* SHA256_CTX and its functions are deprecated in OpenSSL 3 in favour of
 * EVP, whose per-call dispatch costs more than the hash of a short value. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Values per jp_hmac_sha256_many call: a multiple of every kernel's lanes,
 * and small enough for the stack. */
#define JP_PII_CHUNK 64
/* Groups of fewer values than this go one by one through SHA-NI (if the
 * CPU has it): the AVX2 kernel's lanes. */
#define JP_PII_SHA_NI_BELOW 8

struct jp_pii_s {
    jp_hmac_sha256_key_t key; /* never modified after jp_pii_new */
    int sha_ni;
    SHA256_CTX inner, outer; /* the keyed midstates, as OpenSSL resumes them */
};

static int jp_pii_cpu_has_sha_ni(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b >> 29 & 1);
#else
    return 0;
#endif
}

/* An OpenSSL SHA-256 context that has absorbed one 64-byte block and holds
 * the state mid (the HMAC pad blocks' midstates). */
static void jp_pii_ctx_at(SHA256_CTX *c, const uint32_t mid[8])
{
    memset(c, 0, sizeof(*c));
    for (int i = 0; i < 8; i++)
        c->h[i] = mid[i];
    c->Nl = 64 * 8;
    c->md_len = SHA256_DIGEST_LENGTH;
}

jp_pii_t *jp_pii_new(const void *key, size_t key_len)
{
    if (!key || key_len < 16)
        return NULL;
    jp_pii_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    jp_hmac_sha256_key_init(&p->key, key, key_len);
    p->sha_ni = jp_pii_cpu_has_sha_ni();
    jp_pii_ctx_at(&p->inner, p->key.inner);
    jp_pii_ctx_at(&p->outer, p->key.outer);
    return p;
}

void jp_pii_free(jp_pii_t *p)
{
    if (!p)
        return;
    jp_hmac_sha256_key_wipe(&p->key);
    OPENSSL_cleanse(&p->inner, sizeof(p->inner));
    OPENSSL_cleanse(&p->outer, sizeof(p->outer));
    free(p);
}

/* HMAC-SHA256(key, m) with OpenSSL's SHA-256 (SHA-NI), from the midstates. */
static void jp_pii_hmac_one(const jp_pii_t *p, const jp_hmac_sha256_msg_t *m,
                            uint8_t mac[JP_SHA256_LEN])
{
    uint8_t inner[SHA256_DIGEST_LENGTH];
    SHA256_CTX c = p->inner;
    SHA256_Update(&c, m->prefix, m->prefix_len);
    SHA256_Update(&c, m->data, m->len);
    SHA256_Final(inner, &c);
    c = p->outer;
    SHA256_Update(&c, inner, sizeof(inner));
    SHA256_Final(mac, &c);
    OPENSSL_cleanse(&c, sizeof(c));
}

/* "00" to "ff": byte b's two characters at 2 * b. */
static const char jp_pii_hex_pairs[2 * 256 + 1] = "000102030405060708090a0b0c0d0e0f"
                                                  "101112131415161718191a1b1c1d1e1f"
                                                  "202122232425262728292a2b2c2d2e2f"
                                                  "303132333435363738393a3b3c3d3e3f"
                                                  "404142434445464748494a4b4c4d4e4f"
                                                  "505152535455565758595a5b5c5d5e5f"
                                                  "606162636465666768696a6b6c6d6e6f"
                                                  "707172737475767778797a7b7c7d7e7f"
                                                  "808182838485868788898a8b8c8d8e8f"
                                                  "909192939495969798999a9b9c9d9e9f"
                                                  "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
                                                  "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
                                                  "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
                                                  "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
                                                  "e0e1e2e3e4e5e6e7e8e9eaebecedeeef"
                                                  "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

/* The first JP_PII_TOKEN_LEN / 2 bytes of mac as lower-case hex, and a NUL.
 * Two characters per table entry and one 2-byte copy per byte: byte-wise
 * lookups into a 16-character table were merged by the compiler into
 * partial-register writes that stalled, costing about as much as a SIMD
 * lane's share of the hashing. */
static void jp_pii_hex(const uint8_t *mac, char *out)
{
    for (size_t b = 0; b < JP_PII_TOKEN_LEN / 2; b++)
        memcpy(out + 2 * b, jp_pii_hex_pairs + 2 * mac[b], 2);
    out[JP_PII_TOKEN_LEN] = '\0';
}

void jp_pii_token(const jp_pii_t *p, const char *domain, const char *value, size_t len,
                  char out[JP_PII_TOKEN_LEN + 1])
{
    const jp_pii_value_t v = {value, len};
    jp_pii_token_many(p, domain, &v, 1, (char(*)[JP_PII_TOKEN_LEN + 1]) out);
}

void jp_pii_token_many(const jp_pii_t *p, const char *domain, const jp_pii_value_t *values,
                       size_t n, char (*out)[JP_PII_TOKEN_LEN + 1])
{
    const size_t dlen = strlen(domain) + 1; /* the NUL is the 0x00 separator */
    jp_hmac_sha256_msg_t m[JP_PII_CHUNK];
    uint8_t mac[JP_PII_CHUNK][JP_SHA256_LEN];
    for (size_t at = 0; at < n; at += JP_PII_CHUNK) {
        size_t c = n - at < JP_PII_CHUNK ? n - at : JP_PII_CHUNK;
        for (size_t i = 0; i < c; i++)
            m[i] = (jp_hmac_sha256_msg_t){domain, dlen, values[at + i].ptr, values[at + i].len};
        /* Whole vectors to the SIMD kernels, what is left one by one. */
        size_t simd = p->sha_ni ? c / JP_PII_SHA_NI_BELOW * JP_PII_SHA_NI_BELOW : c;
        if (simd)
            jp_hmac_sha256_many(&p->key, m, simd, mac);
        for (size_t i = simd; i < c; i++)
            jp_pii_hmac_one(p, &m[i], mac[i]);
        for (size_t i = 0; i < c; i++)
            jp_pii_hex(mac[i], out[at + i]);
    }
}

/* Upper-cases and removes spaces: "sw1a 1aa" -> "SW1A1AA". */
static size_t compact(const char *in, size_t len, char *out, size_t out_size)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == ' ')
            continue;
        if (!isalnum(c) || n + 1 >= out_size)
            return 0;
        out[n++] = (char)toupper(c);
    }
    out[n] = '\0';
    return n;
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* out = the first n bytes of c, then (if tail) a space and tail, cut to
 * out_size - 1 bytes as snprintf would; sectors are made per sale, and
 * snprintf's format parsing cost more than the rest of the work. */
static void put_sector(char *out, size_t out_size, const char *c, size_t n, char tail)
{
    char buf[20];
    size_t k = n < sizeof(buf) - 2 ? n : sizeof(buf) - 2;
    memcpy(buf, c, k);
    if (tail) {
        buf[k++] = ' ';
        buf[k++] = tail;
    }
    if (k > out_size - 1)
        k = out_size - 1;
    memcpy(out, buf, k);
    out[k] = '\0';
}

int jp_pii_postcode_sector(const char *country, const char *postcode, size_t len, char *out,
                           size_t out_size)
{
    char c[16];
    size_t n = compact(postcode, len, c, sizeof(c));
    if (n < 2 || out_size < 8)
        return -1;
    if (strcmp(country, "GB") == 0) {
        /* Inward code is always digit + two letters; outward is 2-4 chars. */
        if (n < 5 || n > 7 || !isdigit((unsigned char)c[n - 3]) ||
            !isalpha((unsigned char)c[n - 2]) || !isalpha((unsigned char)c[n - 1]) ||
            !isalpha((unsigned char)c[0]))
            return -1;
        put_sector(out, out_size, c, n - 3, c[n - 3]);
    } else if (strcmp(country, "NL") == 0) {
        if (n != 6 || !all_digits(c, 4) || !isalpha((unsigned char)c[4]) ||
            !isalpha((unsigned char)c[5]) || c[0] == '0')
            return -1;
        put_sector(out, out_size, c, 4, 0);
    } else if (strcmp(country, "SE") == 0) {
        if (n != 5 || !all_digits(c, 5))
            return -1;
        put_sector(out, out_size, c, 3, 0);
    } else if (strcmp(country, "DE") == 0) {
        if (n != 5 || !all_digits(c, 5))
            return -1;
        put_sector(out, out_size, c, 3, 0);
    } else if (strcmp(country, "NO") == 0) {
        if (n != 4 || !all_digits(c, 4))
            return -1;
        put_sector(out, out_size, c, 2, 0);
    } else {
        if (n < 3)
            return -1;
        put_sector(out, out_size, c, n - 2, 0);
    }
    return 0;
}
