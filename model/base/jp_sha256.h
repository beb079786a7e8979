/*
 * jp_sha256: SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) over batches of
 * independent messages, hashed side by side in SIMD lanes.
 *
 * Contract:
 * - jp_sha256 is SHA-256 of one message; jp_hmac_sha256_many writes for each
 *   message exactly HMAC-SHA256(key, prefix || data), bit for bit what any
 *   conforming implementation (OpenSSL's HMAC(EVP_sha256(), ...)) computes,
 *   whatever kernel runs and however the batch mixes message lengths.
 * - Keys of any length are accepted; keys longer than 64 bytes (the block)
 *   are hashed first, as RFC 2104 says. A key holds only the two keyed
 *   midstates (the key itself is not kept) and is read-only once
 *   initialized, so one key serves any number of threads.
 * - Messages are two parts read in place (no copy needed to prepend a
 *   domain or separator): prefix_len bytes at prefix then len bytes at data.
 *   Either part may be empty (its pointer may then be NULL); lengths are
 *   arbitrary. Inputs and outputs must not overlap.
 * - Timing depends on the message lengths (the number of blocks), not on
 *   the key or message bytes: no branch or table index depends on them.
 * - Buffers this module fills with key or message bytes (the key's copy
 *   and pads in key setup, the blocks assembled by jp_sha256 and
 *   jp_hmac_sha256_many) are wiped before returning, and
 *   jp_hmac_sha256_key_wipe wipes a key, in ways the compiler cannot elide.
 *   What the compiler spills to the stack inside the rounds is not (C
 *   cannot reach it; OpenSSL's assembly leaves its schedule there too).
 */
#ifndef JP_SHA256_H
#define JP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define JP_SHA256_LEN   32 /* digest bytes */
#define JP_SHA256_BLOCK 64 /* block bytes */

/* SHA-256 of len bytes at data (data may be NULL when len == 0). */
void jp_sha256(const void *data, size_t len, uint8_t out[JP_SHA256_LEN]);

/* Compression kernels: SCALAR (portable C, one message at a time), AVX2 (8
 * messages per instruction) and AVX512 (16 messages, AVX-512F). Every kernel
 * computes the same function. AUTO uses the widest this build and CPU offer
 * for groups of messages and SCALAR for a lone one (a batch of 1, or the
 * last message of a batch after its full groups): one message leaves all
 * lanes but one idle, and its chain of rounds finishes sooner in scalar
 * code. Forcing a kernel exists so tests can prove the identity. */
typedef enum jp_sha256_kernel_e {
    JP_SHA256_KERNEL_AUTO,
    JP_SHA256_KERNEL_SCALAR,
    JP_SHA256_KERNEL_AVX2,
    JP_SHA256_KERNEL_AVX512
} jp_sha256_kernel_t;

/* The kernel AUTO uses for groups of messages on this CPU (never AUTO). */
jp_sha256_kernel_t jp_sha256_kernel_auto(void);
/* Name of a kernel ("auto", "scalar", "avx2", "avx512"). */
const char *jp_sha256_kernel_name(jp_sha256_kernel_t k);

/* An HMAC-SHA256 key: the SHA-256 states after absorbing K ^ ipad and
 * K ^ opad, and the batch kernel. Plain data: may be copied or embedded. */
typedef struct jp_hmac_sha256_key_s {
    uint32_t inner[8], outer[8];
    jp_sha256_kernel_t kernel; /* AUTO unless forced */
} jp_hmac_sha256_key_t;

/* key_len bytes at key (key may be NULL when key_len == 0); kernel AUTO. */
void jp_hmac_sha256_key_init(jp_hmac_sha256_key_t *k, const void *key, size_t key_len);
/* Selects the batch kernel, AUTO included: 0, or -1 (nothing changed) if
 * this build or CPU lacks it. */
int jp_hmac_sha256_key_set_kernel(jp_hmac_sha256_key_t *k, jp_sha256_kernel_t kernel);
/* Zeroes the key (not elided as a dead store). */
void jp_hmac_sha256_key_wipe(jp_hmac_sha256_key_t *k);

/* One message: prefix || data. */
typedef struct jp_hmac_sha256_msg_s {
    const void *prefix;
    size_t prefix_len;
    const void *data;
    size_t len;
} jp_hmac_sha256_msg_t;

/* out[i] = HMAC-SHA256(key, msgs[i].prefix || msgs[i].data) for i < n,
 * computed with k's kernel. Reentrant. */
void jp_hmac_sha256_many(const jp_hmac_sha256_key_t *k, const jp_hmac_sha256_msg_t *msgs, size_t n,
                         uint8_t (*out)[JP_SHA256_LEN]);

#endif
