/*
 * jp_sha256: multi-buffer SHA-256 and HMAC-SHA256.
 *
 * Design. SHA-256 of one message is a chain: every block's compression
 * needs the previous block's state, and each of its 64 rounds needs the
 * previous round. Without the SHA extensions (absent on the Cascade Lake
 * this runs on) one message cannot keep more than a few scalar ALUs busy.
 * Many messages can fill vector registers: lane i of every register holds
 * message i's state, so one instruction performs the same step for 8 (AVX2)
 * or 16 (AVX-512) messages - the multi-buffer technique of Intel's
 * isa-l_crypto and Linux's sha256-mb. The tokens of a batch of customer ids
 * are exactly that workload: many short independent messages, one key.
 *
 * - The round and the message schedule are written once (JP_SHA256_COMPRESS)
 *   over a few primitive operations that each kernel defines for its type:
 *   uint32_t for the portable kernel, __m256i, __m512i. AVX-512F has a
 *   rotate (vprord) and a three-input boolean instruction (vpternlogd: Ch,
 *   Maj and each three-way XOR in one instruction), which roughly halves
 *   the instructions per round against AVX2's shift-shift-or.
 * - The state of a group of lanes lives in memory as 8 rows of 16 words
 *   (word j of lane i at st[j][i]), so a kernel moves a whole row with one
 *   vector load or store. Blocks arrive as one pointer per lane and are
 *   transposed in registers (lane i's block becomes lane i of 16 word
 *   vectors): a gather would need one base address for all lanes' blocks.
 * - Messages are hashed in groups of as many as the kernel has lanes: every
 *   lane starts from the K ^ ipad midstate, runs its message's blocks (a
 *   lane with fewer blocks is masked off for the rest: its state stops at
 *   its inner digest), then all lanes run the outer hash at once. The outer
 *   message is always the 32-byte inner digest, one block whose first 8
 *   words are the state rows themselves and whose padding is constant, so
 *   it is built in registers: no bytes are written, swapped or transposed
 *   between the two hashes. A group of mixed lengths costs its longest
 *   message; batches of ids are all of one shape, which is what this is
 *   built for.
 * - Blocks are read in place when they lie wholly inside one part of a
 *   message; only blocks straddling the prefix/data boundary or holding the
 *   padding are assembled, in a per-lane buffer, with fixed-size copies
 *   the compiler inlines rather than a memcpy call per few bytes.
 * - The keyed midstates are computed once per key, so an HMAC of a message
 *   of up to 55 bytes costs two compressions, not four.
 * - AUTO is the widest kernel the CPU reports, except for a lone message:
 *   a vector step costs the same instructions however few lanes are busy,
 *   and for one message it took 1.4 (AVX-512) and 1.7 (AVX2) times as long
 *   as the portable kernel here. The AVX-512 kernel needs AVX-512F only
 *   (the byte swap uses rotates, not the AVX-512BW vpshufb). Valgrind
 *   hides AVX-512 from CPUID, so under it AUTO is AVX2.
 *
 * All kernels execute the same 32-bit integer operations in every lane,
 * so their results are identical; tests/model/base/test_sha256.c checks each
 * against OpenSSL.
 */
#include "model/base/jp_sha256.h"

#include "model/base/jp_endian.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define JP_SHA256_X86 1
#include <immintrin.h>
#else
#define JP_SHA256_X86 0
#endif

/* Lanes of the widest kernel: state rows and per-lane arrays hold this
 * many; narrower kernels use the first ones. */
#define JP_SHA256_LANES 16

static const uint32_t jp_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static const uint32_t jp_sha256_iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                         0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

/* The outer block of an HMAC after its 8 digest words: 0x80 then zeros,
 * and the length, 64 + 32 bytes = 768 bits. */
#define JP_SHA256_OUTER_PAD 0x80000000u
#define JP_SHA256_OUTER_LEN 768u

/*
 * The compression function over any vector type. A kernel defines V (the
 * type), V_ADD, V_K(t) (round constant t in every lane), V_CH, V_MAJ,
 * V_BSIG0/1 (the big sigmas of the rounds) and V_SSIG0/1 (the small sigmas
 * of the schedule), puts the state in V s[8] and the block's words in
 * V w[16], and runs JP_SHA256_COMPRESS, which adds the 64 rounds into s.
 *
 * The schedule is computed in place as the rounds consume it (w[i] becomes
 * W[t + 16] once round t used it), so only 16 words are ever live; the
 * working variables rotate by renaming, not by moves. h + K + W does not
 * depend on the round's other inputs and is summed first, which keeps it
 * off the e -> T1 -> e dependency chain.
 */
#define JP_SHA256_W(i)                                                                             \
    (w[(i)] = V_ADD(V_ADD(w[(i)], V_SSIG0(w[((i) + 1) & 15])),                                     \
                    V_ADD(w[((i) + 9) & 15], V_SSIG1(w[((i) + 14) & 15]))))

#define JP_SHA256_RND(a, b, c, d, e, f, g, h, t, i, sched)                                         \
    do {                                                                                           \
        if (sched)                                                                                 \
            JP_SHA256_W(i);                                                                        \
        V t1_ = V_ADD(V_ADD(V_ADD((h), V_ADD(V_K((t) + (i)), w[(i)])), V_CH((e), (f), (g))),       \
                      V_BSIG1(e));                                                                 \
        V t2_ = V_ADD(V_BSIG0(a), V_MAJ((a), (b), (c)));                                           \
        (d) = V_ADD((d), t1_);                                                                     \
        (h) = V_ADD(t1_, t2_);                                                                     \
    } while (0)

#define JP_SHA256_R8(t, i, sched)                                                                  \
    do {                                                                                           \
        JP_SHA256_RND(a, b, c, d, e, f, g, h, (t), (i) + 0, (sched));                              \
        JP_SHA256_RND(h, a, b, c, d, e, f, g, (t), (i) + 1, (sched));                              \
        JP_SHA256_RND(g, h, a, b, c, d, e, f, (t), (i) + 2, (sched));                              \
        JP_SHA256_RND(f, g, h, a, b, c, d, e, (t), (i) + 3, (sched));                              \
        JP_SHA256_RND(e, f, g, h, a, b, c, d, (t), (i) + 4, (sched));                              \
        JP_SHA256_RND(d, e, f, g, h, a, b, c, (t), (i) + 5, (sched));                              \
        JP_SHA256_RND(c, d, e, f, g, h, a, b, (t), (i) + 6, (sched));                              \
        JP_SHA256_RND(b, c, d, e, f, g, h, a, (t), (i) + 7, (sched));                              \
    } while (0)

/* Rounds 0-15 use the block's words; 16-63 schedule as they go. */
#define JP_SHA256_COMPRESS                                                                         \
    do {                                                                                           \
        V a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];          \
        JP_SHA256_R8(0, 0, 0);                                                                     \
        JP_SHA256_R8(0, 8, 0);                                                                     \
        for (int t_ = 16; t_ < 64; t_ += 16) {                                                     \
            JP_SHA256_R8(t_, 0, 1);                                                                \
            JP_SHA256_R8(t_, 8, 1);                                                                \
        }                                                                                          \
        s[0] = V_ADD(s[0], a);                                                                     \
        s[1] = V_ADD(s[1], b);                                                                     \
        s[2] = V_ADD(s[2], c);                                                                     \
        s[3] = V_ADD(s[3], d);                                                                     \
        s[4] = V_ADD(s[4], e);                                                                     \
        s[5] = V_ADD(s[5], f);                                                                     \
        s[6] = V_ADD(s[6], g);                                                                     \
        s[7] = V_ADD(s[7], h);                                                                     \
    } while (0)

static inline uint32_t jp_sha256_ror(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

/*
 * Kernels. compress runs one block per lane, blk[i] being lane i's: from
 * init in every lane when given (a group's first block; every lane is then
 * written), else from st, updating only the lanes set in mask (the others
 * hold finished inner digests). outer replaces every lane's inner digest
 * by the outer hash of it, from the outer midstate mid.
 */
typedef void (*jp_sha256_compress_fn)(uint32_t (*st)[JP_SHA256_LANES], const uint8_t *const *blk,
                                      uint32_t mask, const uint32_t *init);
typedef void (*jp_sha256_outer_fn)(uint32_t (*st)[JP_SHA256_LANES], const uint32_t *mid);

/* ---- portable kernel: one lane ------------------------------------------ */

#define V              uint32_t
#define V_ADD(x, y)    ((x) + (y))
#define V_K(t)         jp_sha256_k[(t)]
#define V_CH(e, f, g)  ((((f) ^ (g)) & (e)) ^ (g))
#define V_MAJ(a, b, c) (((a) & (b)) | ((c) & ((a) | (b))))
#define V_BSIG0(x)     (jp_sha256_ror((x), 2) ^ jp_sha256_ror((x), 13) ^ jp_sha256_ror((x), 22))
#define V_BSIG1(x)     (jp_sha256_ror((x), 6) ^ jp_sha256_ror((x), 11) ^ jp_sha256_ror((x), 25))
#define V_SSIG0(x)     (jp_sha256_ror((x), 7) ^ jp_sha256_ror((x), 18) ^ ((x) >> 3))
#define V_SSIG1(x)     (jp_sha256_ror((x), 17) ^ jp_sha256_ror((x), 19) ^ ((x) >> 10))

/* Scalar rounds run about 15% faster with BMI2's rotate into another
 * register (rorx, no copy before each rotate), which x86-64's baseline
 * lacks: a clone for it is picked at load time. */
#if JP_SHA256_X86
#define JP_SHA256_CLONES __attribute__((target_clones("default", "bmi2")))
#else
#define JP_SHA256_CLONES
#endif

/* The rounds of one block, its words in w, into one state. */
JP_SHA256_CLONES static void jp_sha256_words(uint32_t s[8], uint32_t w[16])
{
    JP_SHA256_COMPRESS;
}

/* One block into one state: key setup and jp_sha256 use it directly. */
static void jp_sha256_block(uint32_t s[8], const uint8_t *p)
{
    uint32_t w[16];
    for (int i = 0; i < 16; i++)
        w[i] = jp_be32_get(p + 4 * i);
    jp_sha256_words(s, w);
}

static void jp_sha256_compress_scalar(uint32_t (*st)[JP_SHA256_LANES], const uint8_t *const *blk,
                                      uint32_t mask, const uint32_t *init)
{
    if (!init && !(mask & 1))
        return;
    uint32_t s[8];
    for (int j = 0; j < 8; j++)
        s[j] = init ? init[j] : st[j][0];
    jp_sha256_block(s, blk[0]);
    for (int j = 0; j < 8; j++)
        st[j][0] = s[j];
}

static void jp_sha256_outer_scalar(uint32_t (*st)[JP_SHA256_LANES], const uint32_t *mid)
{
    uint32_t w[16] = {0}, s[8];
    for (int j = 0; j < 8; j++) {
        w[j] = st[j][0];
        s[j] = mid[j];
    }
    w[8] = JP_SHA256_OUTER_PAD;
    w[15] = JP_SHA256_OUTER_LEN;
    jp_sha256_words(s, w);
    for (int j = 0; j < 8; j++)
        st[j][0] = s[j];
}

#undef V
#undef V_ADD
#undef V_K
#undef V_CH
#undef V_MAJ
#undef V_BSIG0
#undef V_BSIG1
#undef V_SSIG0
#undef V_SSIG1

#if JP_SHA256_X86

/* ---- AVX2: 8 lanes ------------------------------------------------------ */

#define JP_ROR256(x, n)                                                                            \
    _mm256_or_si256(_mm256_srli_epi32((x), (n)), _mm256_slli_epi32((x), 32 - (n)))

#define V             __m256i
#define V_ADD(x, y)   _mm256_add_epi32((x), (y))
#define V_K(t)        _mm256_set1_epi32((int)jp_sha256_k[(t)])
#define V_CH(e, f, g) _mm256_xor_si256(_mm256_and_si256(_mm256_xor_si256((f), (g)), (e)), (g))
#define V_MAJ(a, b, c)                                                                             \
    _mm256_or_si256(_mm256_and_si256((a), (b)), _mm256_and_si256((c), _mm256_or_si256((a), (b))))
#define V_BSIG0(x)                                                                                 \
    _mm256_xor_si256(_mm256_xor_si256(JP_ROR256((x), 2), JP_ROR256((x), 13)), JP_ROR256((x), 22))
#define V_BSIG1(x)                                                                                 \
    _mm256_xor_si256(_mm256_xor_si256(JP_ROR256((x), 6), JP_ROR256((x), 11)), JP_ROR256((x), 25))
#define V_SSIG0(x)                                                                                 \
    _mm256_xor_si256(_mm256_xor_si256(JP_ROR256((x), 7), JP_ROR256((x), 18)),                      \
                     _mm256_srli_epi32((x), 3))
#define V_SSIG1(x)                                                                                 \
    _mm256_xor_si256(_mm256_xor_si256(JP_ROR256((x), 17), JP_ROR256((x), 19)),                     \
                     _mm256_srli_epi32((x), 10))

/* 8x8 transpose of 32-bit words, big-endian words made native: o[j] lane
 * i = word j of r[i]. After the 32-bit unpacks, each 128-bit half of s
 * holds words 4h..4h+1 (lo) or 4h+2..4h+3 (hi) of two lanes; the 64-bit
 * unpacks gather four lanes' copies of one word per half; the 128-bit
 * permutes join lanes 0-3 and 4-7 of the same word. */
__attribute__((target("avx2"))) static inline void jp_sha256_tr8(const __m256i *r, __m256i *o)
{
    const __m256i bswap = _mm256_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3, 12,
                                          13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
    __m256i s0 = _mm256_unpacklo_epi32(r[0], r[1]), s1 = _mm256_unpackhi_epi32(r[0], r[1]);
    __m256i s2 = _mm256_unpacklo_epi32(r[2], r[3]), s3 = _mm256_unpackhi_epi32(r[2], r[3]);
    __m256i s4 = _mm256_unpacklo_epi32(r[4], r[5]), s5 = _mm256_unpackhi_epi32(r[4], r[5]);
    __m256i s6 = _mm256_unpacklo_epi32(r[6], r[7]), s7 = _mm256_unpackhi_epi32(r[6], r[7]);
    __m256i u00 = _mm256_unpacklo_epi64(s0, s2), u10 = _mm256_unpackhi_epi64(s0, s2);
    __m256i u20 = _mm256_unpacklo_epi64(s1, s3), u30 = _mm256_unpackhi_epi64(s1, s3);
    __m256i u01 = _mm256_unpacklo_epi64(s4, s6), u11 = _mm256_unpackhi_epi64(s4, s6);
    __m256i u21 = _mm256_unpacklo_epi64(s5, s7), u31 = _mm256_unpackhi_epi64(s5, s7);
    o[0] = _mm256_shuffle_epi8(_mm256_permute2x128_si256(u00, u01, 0x20), bswap);
    o[1] = _mm256_shuffle_epi8(_mm256_permute2x128_si256(u10, u11, 0x20), bswap);
    o[2] = _mm256_shuffle_epi8(_mm256_permute2x128_si256(u20, u21, 0x20), bswap);
    o[3] = _mm256_shuffle_epi8(_mm256_permute2x128_si256(u30, u31, 0x20), bswap);
    o[4] = _mm256_shuffle_epi8(_mm256_permute2x128_si256(u00, u01, 0x31), bswap);
    o[5] = _mm256_shuffle_epi8(_mm256_permute2x128_si256(u10, u11, 0x31), bswap);
    o[6] = _mm256_shuffle_epi8(_mm256_permute2x128_si256(u20, u21, 0x31), bswap);
    o[7] = _mm256_shuffle_epi8(_mm256_permute2x128_si256(u30, u31, 0x31), bswap);
}

__attribute__((target("avx2"))) static void jp_sha256_compress_avx2(uint32_t (*st)[JP_SHA256_LANES],
                                                                    const uint8_t *const *blk,
                                                                    uint32_t mask,
                                                                    const uint32_t *init)
{
    __m256i r[8], w[16], s[8];
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_si256((const __m256i *)blk[i]);
    jp_sha256_tr8(r, w);
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_si256((const __m256i *)(blk[i] + 32));
    jp_sha256_tr8(r, w + 8);
    for (int j = 0; j < 8; j++)
        s[j] = init ? _mm256_set1_epi32((int)init[j]) : _mm256_load_si256((const __m256i *)st[j]);
    JP_SHA256_COMPRESS;
    /* Lane i of m is all ones when bit i of mask is set. */
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    __m256i m = init ? _mm256_set1_epi32(-1)
                     : _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)mask), bit), bit);
    for (int j = 0; j < 8; j++)
        _mm256_maskstore_epi32((int *)st[j], m, s[j]);
}

__attribute__((target("avx2"))) static void jp_sha256_outer_avx2(uint32_t (*st)[JP_SHA256_LANES],
                                                                 const uint32_t *mid)
{
    __m256i w[16], s[8];
    for (int j = 0; j < 8; j++) {
        w[j] = _mm256_load_si256((const __m256i *)st[j]);
        w[8 + j] = _mm256_setzero_si256();
        s[j] = _mm256_set1_epi32((int)mid[j]);
    }
    w[8] = _mm256_set1_epi32((int)JP_SHA256_OUTER_PAD);
    w[15] = _mm256_set1_epi32((int)JP_SHA256_OUTER_LEN);
    JP_SHA256_COMPRESS;
    for (int j = 0; j < 8; j++)
        _mm256_store_si256((__m256i *)st[j], s[j]);
}

#undef V
#undef V_ADD
#undef V_K
#undef V_CH
#undef V_MAJ
#undef V_BSIG0
#undef V_BSIG1
#undef V_SSIG0
#undef V_SSIG1

/* ---- AVX-512F: 16 lanes ------------------------------------------------- */

/* vpternlogd truth tables (operands a, b, c index bits 2, 1, 0). */
#define JP_TL_XOR3 0x96 /* a ^ b ^ c */
#define JP_TL_CH   0xca /* a ? b : c */
#define JP_TL_MAJ  0xe8 /* majority */

#define JP_XOR3_512(x, y, z) _mm512_ternarylogic_epi32((x), (y), (z), JP_TL_XOR3)

#define V              __m512i
#define V_ADD(x, y)    _mm512_add_epi32((x), (y))
#define V_K(t)         _mm512_set1_epi32((int)jp_sha256_k[(t)])
#define V_CH(e, f, g)  _mm512_ternarylogic_epi32((e), (f), (g), JP_TL_CH)
#define V_MAJ(a, b, c) _mm512_ternarylogic_epi32((a), (b), (c), JP_TL_MAJ)
#define V_BSIG0(x)                                                                                 \
    JP_XOR3_512(_mm512_ror_epi32((x), 2), _mm512_ror_epi32((x), 13), _mm512_ror_epi32((x), 22))
#define V_BSIG1(x)                                                                                 \
    JP_XOR3_512(_mm512_ror_epi32((x), 6), _mm512_ror_epi32((x), 11), _mm512_ror_epi32((x), 25))
#define V_SSIG0(x)                                                                                 \
    JP_XOR3_512(_mm512_ror_epi32((x), 7), _mm512_ror_epi32((x), 18), _mm512_srli_epi32((x), 3))
#define V_SSIG1(x)                                                                                 \
    JP_XOR3_512(_mm512_ror_epi32((x), 17), _mm512_ror_epi32((x), 19), _mm512_srli_epi32((x), 10))

/* Big-endian words to native with AVX-512F alone (vpshufb on zmm is
 * AVX-512BW): bytes 3 and 1 of the result come from ror 8, bytes 2 and 0
 * from ror 24. */
__attribute__((target("avx512f"))) static inline __m512i jp_sha256_bswap512(__m512i x)
{
    return _mm512_ternarylogic_epi32(_mm512_set1_epi32((int)0xff00ff00), _mm512_ror_epi32(x, 8),
                                     _mm512_ror_epi32(x, 24), JP_TL_CH);
}

/* u[j] holds word 4q + m of lanes 4j..4j+3 in its 128-bit quarter q;
 * o[4q] gets that word of all 16 lanes: a 4x4 transpose of quarters. */
__attribute__((target("avx512f"))) static inline void
jp_sha256_tr4q(__m512i u0, __m512i u1, __m512i u2, __m512i u3, __m512i *o)
{
    __m512i v0 = _mm512_shuffle_i32x4(u0, u1, 0x44), v1 = _mm512_shuffle_i32x4(u0, u1, 0xee);
    __m512i v2 = _mm512_shuffle_i32x4(u2, u3, 0x44), v3 = _mm512_shuffle_i32x4(u2, u3, 0xee);
    o[0] = jp_sha256_bswap512(_mm512_shuffle_i32x4(v0, v2, 0x88));
    o[4] = jp_sha256_bswap512(_mm512_shuffle_i32x4(v0, v2, 0xdd));
    o[8] = jp_sha256_bswap512(_mm512_shuffle_i32x4(v1, v3, 0x88));
    o[12] = jp_sha256_bswap512(_mm512_shuffle_i32x4(v1, v3, 0xdd));
}

/* 16x16 transpose: o[j] lane i = word j of blk[i], made native. The 32-
 * and 64-bit unpacks of four lanes' blocks leave, in each 128-bit quarter
 * q, word 4q + m of those four lanes (m = 0..3 by unpack). */
__attribute__((target("avx512f"))) static inline void jp_sha256_tr16(const uint8_t *const *blk,
                                                                     __m512i *o)
{
    __m512i u[4][4]; /* u[m][j]: lanes 4j..4j+3 */
    for (int j = 0; j < 4; j++) {
        __m512i r0 = _mm512_loadu_si512(blk[4 * j]), r1 = _mm512_loadu_si512(blk[4 * j + 1]);
        __m512i r2 = _mm512_loadu_si512(blk[4 * j + 2]), r3 = _mm512_loadu_si512(blk[4 * j + 3]);
        __m512i s0 = _mm512_unpacklo_epi32(r0, r1), s1 = _mm512_unpackhi_epi32(r0, r1);
        __m512i s2 = _mm512_unpacklo_epi32(r2, r3), s3 = _mm512_unpackhi_epi32(r2, r3);
        u[0][j] = _mm512_unpacklo_epi64(s0, s2);
        u[1][j] = _mm512_unpackhi_epi64(s0, s2);
        u[2][j] = _mm512_unpacklo_epi64(s1, s3);
        u[3][j] = _mm512_unpackhi_epi64(s1, s3);
    }
    for (int m = 0; m < 4; m++)
        jp_sha256_tr4q(u[m][0], u[m][1], u[m][2], u[m][3], o + m);
}

__attribute__((target("avx512f"))) static void
jp_sha256_compress_avx512(uint32_t (*st)[JP_SHA256_LANES], const uint8_t *const *blk, uint32_t mask,
                          const uint32_t *init)
{
    __m512i w[16], s[8];
    jp_sha256_tr16(blk, w);
    for (int j = 0; j < 8; j++)
        s[j] = init ? _mm512_set1_epi32((int)init[j]) : _mm512_load_si512(st[j]);
    JP_SHA256_COMPRESS;
    __mmask16 m = init ? (__mmask16)0xffff : (__mmask16)mask;
    for (int j = 0; j < 8; j++)
        _mm512_mask_store_epi32(st[j], m, s[j]);
}

__attribute__((target("avx512f"))) static void
jp_sha256_outer_avx512(uint32_t (*st)[JP_SHA256_LANES], const uint32_t *mid)
{
    __m512i w[16], s[8];
    for (int j = 0; j < 8; j++) {
        w[j] = _mm512_load_si512(st[j]);
        w[8 + j] = _mm512_setzero_si512();
        s[j] = _mm512_set1_epi32((int)mid[j]);
    }
    w[8] = _mm512_set1_epi32((int)JP_SHA256_OUTER_PAD);
    w[15] = _mm512_set1_epi32((int)JP_SHA256_OUTER_LEN);
    JP_SHA256_COMPRESS;
    for (int j = 0; j < 8; j++)
        _mm512_store_si512(st[j], s[j]);
}

#undef V
#undef V_ADD
#undef V_K
#undef V_CH
#undef V_MAJ
#undef V_BSIG0
#undef V_BSIG1
#undef V_SSIG0
#undef V_SSIG1

#endif /* JP_SHA256_X86 */

/* ---- kernel choice ------------------------------------------------------ */

typedef struct jp_sha256_kernel_ops_s {
    int lanes;
    jp_sha256_compress_fn compress;
    jp_sha256_outer_fn outer;
} jp_sha256_kernel_ops_t;

static int jp_sha256_have(jp_sha256_kernel_t k)
{
    switch (k) {
    case JP_SHA256_KERNEL_SCALAR:
        return 1;
#if JP_SHA256_X86
    case JP_SHA256_KERNEL_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") != 0;
    case JP_SHA256_KERNEL_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") != 0;
#endif
    default:
        return 0;
    }
}

static jp_sha256_kernel_ops_t jp_sha256_ops(jp_sha256_kernel_t k)
{
    switch (k) {
#if JP_SHA256_X86
    case JP_SHA256_KERNEL_AVX2:
        return (jp_sha256_kernel_ops_t){8, jp_sha256_compress_avx2, jp_sha256_outer_avx2};
    case JP_SHA256_KERNEL_AVX512:
        return (jp_sha256_kernel_ops_t){16, jp_sha256_compress_avx512, jp_sha256_outer_avx512};
#endif
    default:
        return (jp_sha256_kernel_ops_t){1, jp_sha256_compress_scalar, jp_sha256_outer_scalar};
    }
}

jp_sha256_kernel_t jp_sha256_kernel_auto(void)
{
    if (jp_sha256_have(JP_SHA256_KERNEL_AVX512))
        return JP_SHA256_KERNEL_AVX512;
    if (jp_sha256_have(JP_SHA256_KERNEL_AVX2))
        return JP_SHA256_KERNEL_AVX2;
    return JP_SHA256_KERNEL_SCALAR;
}

const char *jp_sha256_kernel_name(jp_sha256_kernel_t k)
{
    switch (k) {
    case JP_SHA256_KERNEL_AUTO:
        return "auto";
    case JP_SHA256_KERNEL_SCALAR:
        return "scalar";
    case JP_SHA256_KERNEL_AVX2:
        return "avx2";
    case JP_SHA256_KERNEL_AVX512:
        return "avx512";
    }
    return "?";
}

/* ---- blocks of a two-part message --------------------------------------- */

/* A message prefix || data, hashed after pre bytes already absorbed (0, or
 * the HMAC pad block): bits is (pre + n1 + n2) * 8, the length field. */
typedef struct jp_sha256_src_s {
    const uint8_t *p1, *p2;
    size_t n1, n2;
    uint64_t bits;
    size_t nblocks;
} jp_sha256_src_t;

static inline void jp_sha256_src_init(jp_sha256_src_t *s, const void *p1, size_t n1, const void *p2,
                                      size_t n2, size_t pre)
{
    s->p1 = p1;
    s->n1 = n1;
    s->p2 = p2;
    s->n2 = n2;
    s->bits = ((uint64_t)pre + n1 + n2) * 8;
    /* 0x80 and the 8-byte length must fit after the last byte. */
    s->nblocks = (n1 + n2 + 8) / JP_SHA256_BLOCK + 1;
}

/* n < 64 bytes from s to d as two fixed-size copies the compiler inlines;
 * where they overlap they write the same bytes. */
static inline void jp_sha256_copy_small(uint8_t *d, const uint8_t *s, size_t n)
{
    if (n >= 32) {
        memcpy(d, s, 32);
        memcpy(d + n - 32, s + n - 32, 32);
    } else if (n >= 16) {
        memcpy(d, s, 16);
        memcpy(d + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(d, s, 4);
        memcpy(d + n - 4, s + n - 4, 4);
    } else if (n > 0) {
        d[0] = s[0];
        d[n / 2] = s[n / 2];
        d[n - 1] = s[n - 1];
    }
}

/* Block b of the padded message: the message bytes, 0x80, zeros, and the
 * length in the last 8 bytes of the last block. A pointer into the
 * message when the block lies wholly inside one part, else assembled in
 * buf. */
static const uint8_t *jp_sha256_src_block(const jp_sha256_src_t *s, size_t b, uint8_t *buf)
{
    size_t off = b * JP_SHA256_BLOCK, total = s->n1 + s->n2;
    if (off + JP_SHA256_BLOCK <= s->n1)
        return s->p1 + off;
    if (off >= s->n1 && off + JP_SHA256_BLOCK <= total)
        return s->p2 + (off - s->n1);
    memset(buf, 0, JP_SHA256_BLOCK);
    size_t n = 0;
    if (off < s->n1) {
        n = s->n1 - off; /* < 64: the whole-block case returned above */
        jp_sha256_copy_small(buf, s->p1 + off, n);
    }
    if (off + n < total) {
        size_t at = off + n - s->n1, c = s->n2 - at;
        if (c > JP_SHA256_BLOCK - n)
            c = JP_SHA256_BLOCK - n; /* < 64 even if n == 0: a whole block returned above */
        jp_sha256_copy_small(buf + n, s->p2 + at, c);
        n += c;
    }
    /* 0x80 follows the last message byte: here, unless the message filled
     * this block or ended in an earlier one (this block is then padding or
     * the length alone). */
    if (n < JP_SHA256_BLOCK && off + n == total)
        buf[n] = 0x80;
    if (b + 1 == s->nblocks) {
        jp_be32_put(buf + JP_SHA256_BLOCK - 8, (uint32_t)(s->bits >> 32));
        jp_be32_put(buf + JP_SHA256_BLOCK - 4, (uint32_t)s->bits);
    }
    return buf;
}

void jp_sha256(const void *data, size_t len, uint8_t out[JP_SHA256_LEN])
{
    jp_sha256_src_t s;
    jp_sha256_src_init(&s, NULL, 0, data, len, 0);
    uint8_t buf[JP_SHA256_BLOCK];
    uint32_t h[8];
    memcpy(h, jp_sha256_iv, sizeof(h));
    for (size_t b = 0; b < s.nblocks; b++)
        jp_sha256_block(h, jp_sha256_src_block(&s, b, buf));
    for (int j = 0; j < 8; j++)
        jp_be32_put(out + 4 * j, h[j]);
    explicit_bzero(buf, sizeof(buf)); /* the tail of data: a key, in HMAC key setup */
}

/* ---- HMAC --------------------------------------------------------------- */

void jp_hmac_sha256_key_init(jp_hmac_sha256_key_t *k, const void *key, size_t key_len)
{
    uint8_t kb[JP_SHA256_BLOCK] = {0};
    uint32_t w[16];
    if (key_len > JP_SHA256_BLOCK)
        jp_sha256(key, key_len, kb);
    else if (key_len > 0)
        memcpy(kb, key, key_len);
    /* The pads go straight into the schedule's words: the only copies of
     * the key here are kb and w, both wiped. */
    for (int i = 0; i < 16; i++)
        w[i] = jp_be32_get(kb + 4 * i) ^ 0x36363636u;
    memcpy(k->inner, jp_sha256_iv, sizeof(k->inner));
    jp_sha256_words(k->inner, w);
    for (int i = 0; i < 16; i++)
        w[i] = jp_be32_get(kb + 4 * i) ^ 0x5c5c5c5cu;
    memcpy(k->outer, jp_sha256_iv, sizeof(k->outer));
    jp_sha256_words(k->outer, w);
    explicit_bzero(kb, sizeof(kb));
    explicit_bzero(w, sizeof(w));
    k->kernel = JP_SHA256_KERNEL_AUTO;
}

int jp_hmac_sha256_key_set_kernel(jp_hmac_sha256_key_t *k, jp_sha256_kernel_t kernel)
{
    if (kernel != JP_SHA256_KERNEL_AUTO && !jp_sha256_have(kernel))
        return -1;
    k->kernel = kernel;
    return 0;
}

void jp_hmac_sha256_key_wipe(jp_hmac_sha256_key_t *k)
{
    /* Not memset: a key is usually wiped just before it is freed, and a
     * store to memory about to die is a dead store the compiler may drop. */
    explicit_bzero(k, sizeof(*k));
}

/* Input of lanes with nothing to hash: any readable block would do. */
static const uint8_t jp_sha256_zero_block[JP_SHA256_BLOCK];

void jp_hmac_sha256_many(const jp_hmac_sha256_key_t *k, const jp_hmac_sha256_msg_t *msgs, size_t n,
                         uint8_t (*out)[JP_SHA256_LEN])
{
    const int auto_kernel = k->kernel == JP_SHA256_KERNEL_AUTO;
    const jp_sha256_kernel_ops_t wide =
        jp_sha256_ops(auto_kernel ? jp_sha256_kernel_auto() : k->kernel);
    const jp_sha256_kernel_ops_t one = jp_sha256_ops(JP_SHA256_KERNEL_SCALAR);
    _Alignas(64) uint32_t st[8][JP_SHA256_LANES];
    _Alignas(64) uint8_t buf[JP_SHA256_LANES][JP_SHA256_BLOCK];
    jp_sha256_src_t src[JP_SHA256_LANES];
    const uint8_t *blk[JP_SHA256_LANES];
    size_t used = 0; /* lanes whose buffer held message bytes */
    for (size_t base = 0, cnt; base < n; base += cnt) {
        /* A lone message costs a whole vector step: the scalar kernel does
         * it sooner (its chain of rounds is shorter than the wide kernels'
         * instruction count). */
        const jp_sha256_kernel_ops_t ops = auto_kernel && n - base == 1 ? one : wide;
        cnt = n - base < (size_t)ops.lanes ? n - base : (size_t)ops.lanes;
        size_t nb = 1; /* the most blocks of a message in the group; never 0 */
        for (size_t i = 0; i < cnt; i++) {
            const jp_hmac_sha256_msg_t *m = &msgs[base + i];
            jp_sha256_src_init(&src[i], m->prefix, m->prefix_len, m->data, m->len, JP_SHA256_BLOCK);
            if (src[i].nblocks > nb)
                nb = src[i].nblocks;
        }
        for (int i = (int)cnt; i < ops.lanes; i++)
            blk[i] = jp_sha256_zero_block;
        used = cnt > used ? cnt : used;
        for (size_t b = 0; b < nb; b++) {
            uint32_t mask = 0;
            for (size_t i = 0; i < cnt; i++) {
                if (b < src[i].nblocks) {
                    blk[i] = jp_sha256_src_block(&src[i], b, buf[i]);
                    mask |= 1u << i;
                } else {
                    blk[i] = jp_sha256_zero_block;
                }
            }
            ops.compress(st, blk, mask, b == 0 ? k->inner : NULL);
        }
        ops.outer(st, k->outer);
        for (size_t i = 0; i < cnt; i++)
            for (int j = 0; j < 8; j++)
                jp_be32_put(out[base + i] + 4 * j, st[j][i]);
    }
    /* The buffers held message bytes; the state rows end as MACs. */
    explicit_bzero(buf, used * sizeof(buf[0]));
}
