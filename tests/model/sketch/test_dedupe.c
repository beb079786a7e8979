/*
 * jp_dedupe: answers equal a naive reference (per id: first-recorded
 * bucket, the same liveness rule) over 200k random operations with expiry,
 * sealing and restores; segments are the documented encoding, sorted and
 * independent of insertion order; a restore from segments answers like the
 * original; seal, load, expire and new() edge cases; the 16-bit bucket tag
 * across 65536-bucket wraps and long gaps in event time; growth; extreme
 * times under UBSan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model/sketch/jp_dedupe.h"
#include "model/base/jp_hash.h"
#include "model/base/jp_rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_TIME INT64_MIN

static int64_t fdiv(int64_t a, int64_t m)
{
    int64_t q = a / m;
    return a % m < 0 ? q - 1 : q;
}

/* The contract's rule, written directly (no overflow at test magnitudes). */
static int ref_live(int64_t b, int64_t bm, int64_t horizon, int64_t newest)
{
    return newest == NO_TIME || (b + 1) * bm > newest - horizon;
}

static size_t id_of(char *buf, size_t n, uint64_t tag, uint64_t i)
{
    /* Variable lengths (short and >= 32 bytes) exercise both XXH64 paths. */
    int len = snprintf(buf, n, "evt-%llx-%llu%s", (unsigned long long)tag, (unsigned long long)i,
                       i % 3 == 0 ? "-0123456789abcdef0123456789" : "");
    return (size_t)len;
}

static int check(jp_dedupe_t *d, uint64_t tag, uint64_t i, int64_t t, int64_t newest)
{
    char id[96];
    size_t n = id_of(id, sizeof id, tag, i);
    return jp_dedupe_check_add(d, id, n, t, newest);
}

/* The documented segment entry of an id: a LE, then b with its low 17 bits
 * zero, LE. */
static void expected_fp(uint8_t out[16], uint64_t tag, uint64_t i)
{
    char id[96];
    size_t n = id_of(id, sizeof id, tag, i);
    uint64_t a = jp_hash64(id, n, JP_DEDUPE_SEED_A);
    uint64_t b = jp_hash64(id, n, JP_DEDUPE_SEED_B) & ~0x1ffffULL;
    for (int k = 0; k < 8; k++) {
        out[k] = (uint8_t)(a >> (8 * k));
        out[8 + k] = (uint8_t)(b >> (8 * k));
    }
}

static int cmp16(const void *x, const void *y)
{
    return memcmp(x, y, 16);
}

static void assert_sorted_segment(const uint8_t *seg, size_t len)
{
    assert_int_equal(len % 16, 0);
    for (size_t off = 16; off < len; off += 16)
        assert_true(memcmp(seg + off - 16, seg + off, 16) < 0);
}

/* ---- a segment store: what the task would keep in RocksDB ---- */

typedef struct {
    int64_t bucket;
    uint8_t *p;
    size_t n;
} seg_t;

typedef struct {
    seg_t *v;
    size_t n, cap;
    int64_t last_bucket; /* ascending-order check within one call */
    int calls;
} store_t;

static seg_t *store_find(store_t *s, int64_t bucket, int create)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].bucket == bucket)
            return &s->v[i];
    if (!create)
        return NULL;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        assert_non_null(s->v);
    }
    seg_t *g = &s->v[s->n++];
    memset(g, 0, sizeof *g);
    g->bucket = bucket;
    return g;
}

static void store_drop(store_t *s, int64_t bucket)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].bucket == bucket) {
            free(s->v[i].p);
            s->v[i] = s->v[--s->n];
            return;
        }
}

static void store_free(store_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].p);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* take_pending callback: appends, checking order and sortedness. */
static int store_append(void *ctx, int64_t bucket, const uint8_t *seg, size_t len)
{
    store_t *s = ctx;
    if (s->calls > 0)
        assert_true(bucket > s->last_bucket);
    s->last_bucket = bucket;
    s->calls++;
    assert_true(len > 0);
    assert_sorted_segment(seg, len);
    seg_t *g = store_find(s, bucket, 1);
    g->p = realloc(g->p, g->n + len);
    assert_non_null(g->p);
    memcpy(g->p + g->n, seg, len);
    g->n += len;
    return 0;
}

/* seal callback: replaces. */
static int store_replace(void *ctx, int64_t bucket, const uint8_t *seg, size_t len)
{
    store_t *s = ctx;
    s->calls++;
    assert_sorted_segment(seg, len);
    store_drop(s, bucket);
    seg_t *g = store_find(s, bucket, 1);
    g->p = malloc(len ? len : 1);
    assert_non_null(g->p);
    memcpy(g->p, seg, len);
    g->n = len;
    return 0;
}

typedef struct {
    store_t *store;
    int64_t *got;
    size_t n, cap;
} expired_t;

static int on_expired(void *ctx, int64_t bucket)
{
    expired_t *e = ctx;
    assert_true(e->n < e->cap);
    if (e->n > 0)
        assert_true(bucket > e->got[e->n - 1]);
    e->got[e->n++] = bucket;
    if (e->store)
        store_drop(e->store, bucket);
    return 0;
}

static int take(jp_dedupe_t *d, store_t *s)
{
    s->calls = 0;
    return jp_dedupe_take_pending(d, store_append, s);
}

/* A fresh instance holding every stored segment, loaded in descending
 * bucket order (so "keep the later bucket" is exercised). */
static jp_dedupe_t *restore(const store_t *s, int64_t bm, int64_t horizon)
{
    jp_dedupe_t *r = jp_dedupe_new(bm, horizon, NULL, 0);
    assert_non_null(r);
    int64_t prev = INT64_MAX;
    for (;;) {
        const seg_t *best = NULL;
        for (size_t i = 0; i < s->n; i++)
            if (s->v[i].bucket < prev && (!best || s->v[i].bucket > best->bucket))
                best = &s->v[i];
        if (!best)
            break;
        assert_int_equal(jp_dedupe_load(r, best->bucket, best->p, best->n), 0);
        prev = best->bucket;
    }
    return r;
}

/* ---- the property test ---- */

enum { NIDS = 20000, NOPS = 200000, RECENT = 256, NBK = 16384 };

typedef struct {
    int64_t bm, horizon, bmin;
    int64_t rb[NIDS];      /* recorded bucket */
    uint8_t present[NIDS]; /* in memory (not yet expired) */
    uint8_t known[NBK];    /* recorded/loaded into and not yet expired */
    size_t count;
} ref_t;

static int ref_check_add(ref_t *r, uint64_t id, int64_t t, int64_t newest)
{
    if (r->present[id] && ref_live(r->rb[id], r->bm, r->horizon, newest))
        return 1;
    int64_t bt = fdiv(t, r->bm);
    if (!ref_live(bt, r->bm, r->horizon, newest))
        return 0; /* documented: not recorded */
    if (!r->present[id])
        r->count++;
    r->present[id] = 1;
    r->rb[id] = bt;
    assert_true(bt - r->bmin >= 0 && bt - r->bmin < NBK);
    r->known[bt - r->bmin] = 1;
    return 0;
}

static void test_against_reference(void **state)
{
    (void)state;
    static ref_t R;
    memset(&R, 0, sizeof R);
    R.bm = 100;
    R.horizon = 1000;
    const int64_t t0 = -250000; /* crosses zero: floor for negative times */
    R.bmin = fdiv(t0 - 5000, R.bm);
    jp_dedupe_t *d = jp_dedupe_new(R.bm, R.horizon, NULL, 0);
    assert_non_null(d);
    store_t store = {0};
    int64_t expired_buf[NBK];
    jp_rng_t rng;
    jp_rng_seed(&rng, 42);
    uint64_t recent[RECENT] = {0};
    int64_t newest = NO_TIME;
    size_t dups = 0, removed_total = 0, sealed = 0, restores = 0, late = 0;
    for (size_t op = 0; op < NOPS; op++) {
        int64_t t = t0 + 3 * (int64_t)op + (int64_t)jp_rng_below(&rng, 1801) - 1500;
        uint64_t id =
            jp_rng_below(&rng, 2) ? recent[jp_rng_below(&rng, RECENT)] : jp_rng_below(&rng, NIDS);
        recent[op % RECENT] = id;
        if (!ref_live(fdiv(t, R.bm), R.bm, R.horizon, newest))
            late++;
        int want = ref_check_add(&R, id, t, newest);
        int got = check(d, 1, id, t, newest);
        if (got != want)
            fail_msg("op %zu id %llu t %lld newest %lld: got %d want %d", op,
                     (unsigned long long)id, (long long)t, (long long)newest, got, want);
        dups += (size_t)got;
        if (newest == NO_TIME || t > newest)
            newest = t;

        if (op % 997 == 996)
            assert_int_equal(take(d, &store), 0);
        if (op % 1511 == 1510) {
            size_t want_removed = 0;
            for (uint64_t i = 0; i < NIDS; i++)
                if (R.present[i] && !ref_live(R.rb[i], R.bm, R.horizon, newest)) {
                    R.present[i] = 0;
                    want_removed++;
                }
            R.count -= want_removed;
            expired_t e = {&store, expired_buf, 0, NBK};
            long removed = jp_dedupe_expire(d, newest, on_expired, &e);
            assert_int_equal(removed, (long)want_removed);
            removed_total += want_removed;
            size_t k = 0;
            for (int64_t j = 0; j < NBK; j++)
                if (R.known[j] && !ref_live(R.bmin + j, R.bm, R.horizon, newest)) {
                    assert_true(k < e.n);
                    assert_int_equal(e.got[k], R.bmin + j);
                    k++;
                    R.known[j] = 0;
                }
            assert_int_equal(k, e.n);
            assert_int_equal(jp_dedupe_count(d), R.count);
            /* Nothing dead now: a second call is a no-op. */
            e.n = 0;
            assert_int_equal(jp_dedupe_expire(d, newest, on_expired, &e), 0);
            assert_int_equal(e.n, 0);
        }
        if (op % 4999 == 4998) {
            /* Seal a live bucket: exactly its fingerprints, per the reference. */
            int64_t b = fdiv(newest, R.bm) - (int64_t)jp_rng_below(&rng, 8);
            size_t want_n = 0;
            for (uint64_t i = 0; i < NIDS; i++)
                want_n += R.present[i] && R.rb[i] == b;
            store.calls = 0;
            assert_int_equal(jp_dedupe_seal(d, b, store_replace, &store), 0);
            assert_int_equal(store.calls, 1);
            seg_t *g = store_find(&store, b, 0);
            assert_non_null(g);
            assert_int_equal(g->n, 16 * want_n);
            sealed++;
        }
        if (op % 50000 == 49999 || op == NOPS - 1) {
            /* Restore from segments: same count, same answer for every id. */
            assert_int_equal(take(d, &store), 0);
            jp_dedupe_t *r = restore(&store, R.bm, R.horizon);
            assert_int_equal(jp_dedupe_count(r), jp_dedupe_count(d));
            int64_t tq = newest + 1;
            for (uint64_t i = 0; i < NIDS; i++) {
                int want_i = ref_check_add(&R, i, tq, newest);
                assert_int_equal(check(d, 1, i, tq, newest), want_i);
                assert_int_equal(check(r, 1, i, tq, newest), want_i);
            }
            jp_dedupe_free(r);
            restores++;
        }
    }
    print_message("%zu ops: %zu duplicates, %zu late, %zu expired, %zu seals, %zu restores, "
                  "%zu resident\n",
                  (size_t)NOPS, dups, late, removed_total, sealed, restores, jp_dedupe_count(d));
    /* The mix must exercise every path. */
    assert_true(dups > NOPS / 5);
    assert_true(late > 1000);
    assert_true(removed_total > NOPS / 10);
    store_free(&store);
    jp_dedupe_free(d);
}

/* ---- encoding and determinism ---- */

typedef struct {
    int64_t bucket[8];
    uint8_t *seg[8];
    size_t len[8];
    int n;
} capture_t;

static int capture(void *ctx, int64_t bucket, const uint8_t *seg, size_t len)
{
    capture_t *c = ctx;
    assert_true(c->n < 8);
    c->bucket[c->n] = bucket;
    c->seg[c->n] = malloc(len ? len : 1);
    assert_non_null(c->seg[c->n]);
    memcpy(c->seg[c->n], seg, len);
    c->len[c->n] = len;
    c->n++;
    return 0;
}

static void capture_free(capture_t *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->seg[i]);
    c->n = 0;
}

/* The segment the contract promises for ids tag:[lo, hi) with i % 3 == r
 * (r < 0: all). */
static uint8_t *expected_segment(uint64_t tag, uint64_t lo, uint64_t hi, int r, size_t *len)
{
    uint8_t *v = malloc(16 * (hi - lo));
    assert_non_null(v);
    size_t n = 0;
    for (uint64_t i = lo; i < hi; i++)
        if (r < 0 || (int)(i % 3) == r)
            expected_fp(v + 16 * n++, tag, i);
    qsort(v, n, 16, cmp16);
    *len = 16 * n;
    return v;
}

static void test_segments_sorted_and_order_independent(void **state)
{
    (void)state;
    enum { N = 6000 };
    const int64_t bm = 1000;
    jp_dedupe_t *x = jp_dedupe_new(bm, 10 * bm, NULL, 0);
    jp_dedupe_t *y = jp_dedupe_new(bm, 10 * bm, NULL, 0);
    assert_non_null(x);
    assert_non_null(y);
    /* Bucket of id i: i % 3 (times -1000, 0, 1000 -> buckets -1, 0, 1). */
    for (uint64_t i = 0; i < N; i++)
        assert_int_equal(check(x, 2, i, ((int64_t)(i % 3) - 1) * bm, 0), 0);
    jp_rng_t rng;
    jp_rng_seed(&rng, 7);
    uint64_t *perm = malloc(N * sizeof *perm);
    assert_non_null(perm);
    for (uint64_t i = 0; i < N; i++)
        perm[i] = i;
    for (uint64_t i = N - 1; i > 0; i--) {
        uint64_t j = jp_rng_below(&rng, i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (uint64_t k = 0; k < N; k++)
        assert_int_equal(check(y, 2, perm[k], ((int64_t)(perm[k] % 3) - 1) * bm, 0), 0);
    capture_t cx = {0}, cy = {0};
    assert_int_equal(jp_dedupe_take_pending(x, capture, &cx), 0);
    assert_int_equal(jp_dedupe_take_pending(y, capture, &cy), 0);
    assert_int_equal(cx.n, 3);
    assert_int_equal(cy.n, 3);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(cx.bucket[k], k - 1);
        assert_int_equal(cy.bucket[k], k - 1);
        assert_int_equal(cx.len[k], cy.len[k]);
        assert_memory_equal(cx.seg[k], cy.seg[k], cx.len[k]);
        /* Bucket k - 1 holds the ids with i % 3 == k. */
        size_t elen;
        uint8_t *e = expected_segment(2, 0, N, k, &elen);
        assert_int_equal(cx.len[k], elen);
        assert_memory_equal(cx.seg[k], e, elen);
        free(e);
    }
    /* Pending is cleared. */
    capture_free(&cx);
    assert_int_equal(jp_dedupe_take_pending(x, capture, &cx), 0);
    assert_int_equal(cx.n, 0);
    capture_free(&cy);
    free(perm);
    jp_dedupe_free(x);
    jp_dedupe_free(y);
}

/* The fingerprint is XXH64 under the two seeds (jp_hash64), for ids of
 * every length from 0 to 130 bytes: each tail path and 1 to 4 stripes. */
static void test_fingerprint_every_length(void **state)
{
    (void)state;
    enum { MAXLEN = 130 };
    uint8_t buf[MAXLEN];
    jp_rng_t rng;
    jp_rng_seed(&rng, 11);
    for (size_t i = 0; i < MAXLEN; i++)
        buf[i] = (uint8_t)jp_rng_below(&rng, 256);
    for (size_t len = 0; len <= MAXLEN; len++) {
        jp_dedupe_t *d = jp_dedupe_new(1000, 0, NULL, 0);
        assert_non_null(d);
        assert_int_equal(jp_dedupe_check_add(d, buf, len, 0, NO_TIME), 0);
        assert_int_equal(jp_dedupe_check_add(d, buf, len, 0, NO_TIME), 1);
        capture_t c = {0};
        assert_int_equal(jp_dedupe_take_pending(d, capture, &c), 0);
        assert_int_equal(c.n, 1);
        assert_int_equal(c.len[0], 16);
        uint64_t a = jp_hash64(buf, len, JP_DEDUPE_SEED_A);
        uint64_t b = jp_hash64(buf, len, JP_DEDUPE_SEED_B) & ~0x1ffffULL;
        for (int k = 0; k < 8; k++) {
            assert_int_equal(c.seg[0][k], (uint8_t)(a >> (8 * k)));
            assert_int_equal(c.seg[0][8 + k], (uint8_t)(b >> (8 * k)));
        }
        capture_free(&c);
        jp_dedupe_free(d);
    }
}

static void test_take_pending_load_roundtrip(void **state)
{
    (void)state;
    enum { N = 50000 };
    const int64_t bm = 60000, horizon = 3600000;
    jp_dedupe_t *d = jp_dedupe_new(bm, horizon, NULL, 0);
    assert_non_null(d);
    store_t s = {0};
    int64_t newest = NO_TIME;
    for (uint64_t i = 0; i < N; i++) {
        int64_t t = (int64_t)i * 100;
        assert_int_equal(check(d, 3, i, t, newest), 0);
        newest = t;
        if (i % 7000 == 6999)
            assert_int_equal(take(d, &s), 0);
    }
    assert_int_equal(take(d, &s), 0);
    jp_dedupe_t *r = restore(&s, bm, horizon);
    assert_int_equal(jp_dedupe_count(r), N);
    /* Loaded fingerprints are not pending. */
    s.calls = 0;
    assert_int_equal(jp_dedupe_take_pending(r, store_append, &s), 0);
    assert_int_equal(s.calls, 0);
    /* Every id (and 50k others) answers the same in both. */
    for (uint64_t i = 0; i < 2 * N; i++) {
        int64_t t = newest;
        int want = i < N && (fdiv((int64_t)i * 100, bm) + 1) * bm > newest - horizon;
        assert_int_equal(check(d, 3, i, t, newest), want);
        assert_int_equal(check(r, 3, i, t, newest), want);
    }
    store_free(&s);
    jp_dedupe_free(r);
    jp_dedupe_free(d);
}

static int fail_seven(void *ctx, int64_t bucket, const uint8_t *seg, size_t len)
{
    (void)ctx;
    (void)bucket;
    (void)seg;
    (void)len;
    return 7;
}

static void test_seal(void **state)
{
    (void)state;
    const int64_t bm = 1000;
    jp_dedupe_t *d = jp_dedupe_new(bm, 10 * bm, NULL, 0);
    assert_non_null(d);
    /* Bucket 5: ids 0..999 then 1000..1499; bucket 6: 2000..2699, 2700..2899. */
    for (uint64_t i = 0; i < 1000; i++)
        assert_int_equal(check(d, 4, i, 5 * bm + 1, 6 * bm), 0);
    for (uint64_t i = 2000; i < 2700; i++)
        assert_int_equal(check(d, 4, i, 6 * bm + 2, 6 * bm), 0);
    capture_t c = {0};
    assert_int_equal(jp_dedupe_take_pending(d, capture, &c), 0);
    assert_int_equal(c.n, 2);
    capture_free(&c);
    for (uint64_t i = 1000; i < 1500; i++)
        assert_int_equal(check(d, 4, i, 5 * bm + 3, 6 * bm), 0);
    for (uint64_t i = 2700; i < 2900; i++)
        assert_int_equal(check(d, 4, i, 6 * bm + 4, 6 * bm), 0);

    /* A failing callback: its result is returned and pending is kept. */
    assert_int_equal(jp_dedupe_seal(d, 5, fail_seven, NULL), 7);

    assert_int_equal(jp_dedupe_seal(d, 5, capture, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.bucket[0], 5);
    size_t elen;
    uint8_t *e = expected_segment(4, 0, 1500, -1, &elen);
    assert_int_equal(c.len[0], elen);
    assert_memory_equal(c.seg[0], e, elen);
    free(e);
    capture_free(&c);

    /* Bucket 5's pending went with the seal; bucket 6's is still there. */
    assert_int_equal(jp_dedupe_take_pending(d, capture, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.bucket[0], 6);
    e = expected_segment(4, 2700, 2900, -1, &elen);
    assert_int_equal(c.len[0], elen);
    assert_memory_equal(c.seg[0], e, elen);
    free(e);
    capture_free(&c);

    /* A bucket with nothing: one call, empty segment. */
    assert_int_equal(jp_dedupe_seal(d, 99, capture, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.len[0], 0);
    capture_free(&c);
    jp_dedupe_free(d);
}

static void test_load_rejects_bad_length(void **state)
{
    (void)state;
    jp_dedupe_t *d = jp_dedupe_new(1000, 5000, NULL, 0);
    assert_non_null(d);
    uint8_t seg[48];
    for (int i = 0; i < 3; i++)
        expected_fp(seg + 16 * i, 5, (uint64_t)i);
    qsort(seg, 3, 16, cmp16);
    assert_int_equal(jp_dedupe_load(d, 1, seg, 17), -1);
    assert_int_equal(jp_dedupe_load(d, 1, seg, 47), -1);
    assert_int_equal(jp_dedupe_count(d), 0);
    assert_int_equal(jp_dedupe_load(d, 1, seg, 0), 0);
    assert_int_equal(jp_dedupe_count(d), 0);
    /* Nothing was known from the rejected loads: expiry reports nothing. */
    expired_t e = {NULL, (int64_t[4]){0}, 0, 4};
    assert_int_equal(jp_dedupe_expire(d, 1000000, on_expired, &e), 0);
    assert_int_equal(e.n, 0);
    assert_int_equal(jp_dedupe_load(d, 1, seg, 48), 0);
    assert_int_equal(jp_dedupe_count(d), 3);
    assert_int_equal(check(d, 5, 1, 1500, 1500), 1);
    assert_int_equal(check(d, 5, 3, 1500, 1500), 0);
    jp_dedupe_free(d);
}

/* The horizon is rounded up to the bucket: bucket b is live while
 * (b + 1) * bucket_ms > newest - horizon. */
static void test_horizon_boundary(void **state)
{
    (void)state;
    jp_dedupe_t *d = jp_dedupe_new(1000, 5000, NULL, 0);
    assert_non_null(d);
    assert_int_equal(check(d, 6, 0, 1500, NO_TIME), 0); /* bucket 1 */
    assert_int_equal(check(d, 6, 1, -1, 1500), 0);      /* bucket -1 */
    assert_int_equal(check(d, 6, 0, 2000, 6999), 1);
    assert_int_equal(check(d, 6, 1, 2000, 4999), 1);
    assert_int_equal(check(d, 6, 1, 5000, 5000), 0); /* dead: re-recorded in bucket 5 */
    assert_int_equal(check(d, 6, 1, 5000, 5000), 1);
    assert_int_equal(check(d, 6, 0, 7000, 7000), 0);
    /* An event older than the horizon is not recorded. */
    assert_int_equal(check(d, 6, 2, 1000, 7000), 0);
    assert_int_equal(check(d, 6, 2, 1000, 7000), 0);
    /* NO_TIME: everything live. */
    assert_int_equal(check(d, 6, 0, 0, NO_TIME), 1);
    assert_int_equal(check(d, 6, 1, 0, NO_TIME), 1);
    jp_dedupe_free(d);
}

static int fail_expired(void *ctx, int64_t bucket)
{
    int *calls = ctx;
    (*calls)++;
    return bucket == 3 ? -1 : 0;
}

static void test_expire_callbacks(void **state)
{
    (void)state;
    const int64_t bm = 10;
    jp_dedupe_t *d = jp_dedupe_new(bm, 20, NULL, 0);
    assert_non_null(d);
    for (uint64_t i = 0; i < 100; i++) /* buckets 1..5, 20 ids each */
        assert_int_equal(check(d, 7, i, 10 + (int64_t)(i / 20) * bm, NO_TIME), 0);
    /* newest 62: live from bucket 4 (50 > 42). */
    int calls = 0;
    assert_int_equal(jp_dedupe_expire(d, 62, fail_expired, &calls), -1);
    assert_int_equal(calls, 3); /* buckets 1, 2, then 3 fails */
    assert_int_equal(jp_dedupe_count(d), 40);
    int64_t got[8];
    expired_t e = {NULL, got, 0, 8};
    assert_int_equal(jp_dedupe_expire(d, 62, on_expired, &e), 0); /* 3 again, nothing left */
    assert_int_equal(e.n, 1);
    assert_int_equal(got[0], 3);
    e.n = 0;
    assert_int_equal(jp_dedupe_expire(d, 62, on_expired, &e), 0);
    assert_int_equal(e.n, 0);
    /* Pending of a dead bucket is dropped with it. */
    capture_t c = {0};
    assert_int_equal(jp_dedupe_take_pending(d, capture, &c), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.bucket[0], 4);
    assert_int_equal(c.bucket[1], 5);
    capture_free(&c);
    assert_int_equal(jp_dedupe_expire(d, 1000, on_expired, &e), 40);
    assert_int_equal(e.n, 2);
    assert_int_equal(jp_dedupe_count(d), 0);

    /* A bucket left unreported by a failing callback, then recorded into
     * again (newest went backwards) and dead again: reported once. */
    assert_int_equal(check(d, 7, 500, 30, 30), 0); /* bucket 3 */
    calls = 0;
    assert_int_equal(jp_dedupe_expire(d, 1000, fail_expired, &calls), -1);
    assert_int_equal(check(d, 7, 501, 35, 40), 0);
    e.n = 0;
    assert_int_equal(jp_dedupe_expire(d, 1000, on_expired, &e), 1);
    assert_int_equal(e.n, 1);
    assert_int_equal(got[0], 3);
    jp_dedupe_free(d);
}

/* bucket_ms = 1 and times around multiples of 65536 * 10^6: the 16-bit tag
 * wraps (0xffff -> 0) while entries are live, and buckets 65536 apart
 * share a tag. */
static void test_tag_wrap(void **state)
{
    (void)state;
    const int64_t horizon = 100;
    jp_dedupe_t *d = jp_dedupe_new(1, horizon, NULL, 0);
    assert_non_null(d);
    const int64_t T = (int64_t)65536 * 1000003 - 300;
    const uint64_t steps = 3 * 65536 / 7 + 100;
    int64_t newest = NO_TIME;
    for (uint64_t i = 0; i < steps; i++) {
        int64_t t = T + 7 * (int64_t)i;
        assert_int_equal(check(d, 8, i, t, newest), 0);
        if (i >= 7) /* 49 ms earlier: live, across every wrap */
            assert_int_equal(check(d, 8, i - 7, t, newest), 1);
        if (i >= 20) /* 140 ms earlier: dead, re-recorded */
            assert_int_equal(check(d, 8, i - 20, t, newest), 0);
        newest = t;
        if (i % 1000 == 999)
            assert_true(jp_dedupe_expire(d, newest, NULL, NULL) > 0);
    }
    assert_true(jp_dedupe_expire(d, newest, NULL, NULL) > 0);
    assert_true(jp_dedupe_count(d) < 50);
    jp_dedupe_free(d);

    /* Same tag 65536 buckets later, after regular expiry: absent. */
    d = jp_dedupe_new(1, horizon, NULL, 0);
    assert_non_null(d);
    const int64_t U = -(int64_t)65536 * 5 - 17; /* negative times too */
    assert_int_equal(check(d, 9, 0, U, NO_TIME), 0);
    for (int64_t t = U; t <= U + 65536; t += 5000)
        jp_dedupe_expire(d, t, NULL, NULL);
    assert_int_equal(jp_dedupe_count(d), 0);
    assert_int_equal(check(d, 9, 0, U + 65536, U + 65536), 0);
    assert_int_equal(check(d, 9, 0, U + 65536, U + 65536), 1);
    /* 30000 buckets later without an expire: reconstructed exactly, dead. */
    assert_int_equal(check(d, 9, 1, U + 65536, U + 65536), 0);
    assert_int_equal(check(d, 9, 1, U + 95536, U + 95536), 0);
    assert_int_equal(jp_dedupe_count(d), 2);
    jp_dedupe_free(d);
}

/* Gaps in event time with no expire in between: entries from 40000 or
 * 302400 buckets back must not alias into the live range (reconstructing
 * tags relative to the newest bucket would call many of them duplicates). */
static void test_time_jump(void **state)
{
    (void)state;
    enum { N = 3000 };
    jp_dedupe_t *d = jp_dedupe_new(1, 100, NULL, 0);
    assert_non_null(d);
    for (uint64_t i = 0; i < N; i++)
        assert_int_equal(check(d, 13, i, 0, 0), 0);
    for (uint64_t i = 0; i < N; i++) /* 40000 buckets later: dead, re-recorded */
        assert_int_equal(check(d, 13, i, 40000, 40000), 0);
    assert_int_equal(jp_dedupe_count(d), N);
    for (uint64_t i = 0; i < N; i++)
        assert_int_equal(check(d, 13, i, 40001, 40000), 1);
    jp_dedupe_free(d);

    const int64_t bm = 60000, horizon = 7 * 86400000LL, T0 = 1700000000000LL;
    d = jp_dedupe_new(bm, horizon, NULL, 0);
    assert_non_null(d);
    for (uint64_t i = 0; i < N; i++)
        assert_int_equal(check(d, 14, i, T0 + (int64_t)i, T0 + (int64_t)i - 1), 0);
    capture_t c = {0};
    assert_int_equal(jp_dedupe_take_pending(d, capture, &c), 0);
    assert_int_equal(c.n, 1);
    capture_free(&c);
    /* 30 horizons later (302400 buckets): the first record drops the dead
     * bucket, every id is new again. */
    int64_t t1 = T0 + 30 * horizon;
    for (uint64_t i = 0; i < N; i++)
        assert_int_equal(check(d, 14, i, t1, t1), 0);
    assert_int_equal(jp_dedupe_count(d), N);
    /* The dropped bucket is still reported, once; its entries are gone. */
    int64_t got[4];
    expired_t e = {NULL, got, 0, 4};
    assert_int_equal(jp_dedupe_expire(d, t1, on_expired, &e), 0);
    assert_int_equal(e.n, 1);
    assert_int_equal(got[0], fdiv(T0, bm));
    e.n = 0;
    assert_int_equal(jp_dedupe_expire(d, t1, on_expired, &e), 0);
    assert_int_equal(e.n, 0);
    /* Only the new bucket is pending. */
    assert_int_equal(jp_dedupe_take_pending(d, capture, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.bucket[0], fdiv(t1, bm));
    capture_free(&c);
    jp_dedupe_free(d);
}

/* Event times far ahead of newest (the caller's clock-skew check should
 * have rejected them): not recorded, nothing breaks; load refuses buckets
 * 65536 or more from a held one. */
static void test_far_future_and_load_span(void **state)
{
    (void)state;
    jp_dedupe_t *d = jp_dedupe_new(1, 100, NULL, 0);
    assert_non_null(d);
    assert_int_equal(check(d, 15, 0, 0, 0), 0);
    assert_int_equal(check(d, 15, 1, 70000, 0), 0);
    assert_int_equal(check(d, 15, 1, 70000, 0), 0); /* not recorded */
    assert_int_equal(check(d, 15, 2, 65535, 0), 0);
    assert_int_equal(check(d, 15, 2, 65535, 0), 1); /* just within the span */
    assert_int_equal(jp_dedupe_count(d), 2);
    assert_int_equal(check(d, 15, 0, 1, 0), 1);
    jp_dedupe_free(d);

    d = jp_dedupe_new(1, 100, NULL, 0);
    assert_non_null(d);
    uint8_t seg[16];
    expected_fp(seg, 15, 9);
    assert_int_equal(jp_dedupe_load(d, -5, seg, 16), 0);
    assert_int_equal(jp_dedupe_load(d, 65531, seg, 16), -1);
    assert_int_equal(jp_dedupe_load(d, -65541, seg, 16), -1);
    assert_int_equal(jp_dedupe_load(d, 65530, seg, 16), 0); /* later bucket kept */
    assert_int_equal(jp_dedupe_count(d), 1);
    assert_int_equal(check(d, 15, 9, 65530, 65530), 1);
    jp_dedupe_free(d);
}

static void test_growth(void **state)
{
    (void)state;
    enum { N = 400000 };
    jp_dedupe_t *d = jp_dedupe_new(1000, 1000000, NULL, 0);
    assert_non_null(d);
    size_t m0 = jp_dedupe_memory(d);
    for (uint64_t i = 0; i < N; i++)
        assert_int_equal(check(d, 10, i, (int64_t)i, (int64_t)i), 0);
    assert_int_equal(jp_dedupe_count(d), N);
    for (uint64_t i = 0; i < N; i++)
        assert_int_equal(check(d, 10, i, N, N), 1);
    for (uint64_t i = 0; i < N; i++) /* no false positives among others */
        assert_int_equal(check(d, 11, i, N, N), 0);
    assert_int_equal(jp_dedupe_count(d), 2 * N);
    size_t m = jp_dedupe_memory(d);
    print_message("%d entries: %zu bytes (%.1f per entry, pending included)\n", 2 * N, m,
                  (double)m / (2.0 * N));
    assert_true(m > m0 * 1000);            /* several doublings from 64 slots */
    assert_true(m >= 2 * N * 16 / 7 * 10); /* load factor <= 0.7 */
    jp_dedupe_free(d);
}

static void test_new_errors(void **state)
{
    (void)state;
    char err[256];
    err[0] = 0;
    assert_null(jp_dedupe_new(0, 10, err, sizeof err));
    assert_non_null(strstr(err, "bucket_ms"));
    err[0] = 0;
    assert_null(jp_dedupe_new(-5, 10, err, sizeof err));
    assert_true(err[0] != 0);
    err[0] = 0;
    assert_null(jp_dedupe_new(10, -1, err, sizeof err));
    assert_non_null(strstr(err, "horizon_ms"));
    err[0] = 0;
    assert_null(jp_dedupe_new(1, 32766, err, sizeof err)); /* 32766 + 2 = 32768 */
    assert_non_null(strstr(err, "32768"));
    assert_null(jp_dedupe_new(1000, 32766 * 1000, NULL, 0));
    jp_dedupe_t *d = jp_dedupe_new(1, 32765, err, sizeof err);
    assert_non_null(d);
    jp_dedupe_free(d);
    d = jp_dedupe_new(1000, 0, err, sizeof err);
    assert_non_null(d);
    jp_dedupe_free(d);
    jp_dedupe_free(NULL);
}

/* Times at the ends of int64: no crash, no UB (the Asan build makes UB
 * fatal), answers still sane for the ordinary cases. */
static void test_extreme_times(void **state)
{
    (void)state;
    const int64_t ts[] = {INT64_MIN, INT64_MIN + 1, -1, 0, INT64_MAX - 1, INT64_MAX};
    for (int64_t bm = 1; bm <= 1000000007; bm += 1000000006) {
        jp_dedupe_t *d = jp_dedupe_new(bm, 16000, NULL, 0);
        assert_non_null(d);
        uint64_t k = 0;
        for (size_t i = 0; i < sizeof ts / sizeof *ts; i++)
            for (size_t j = 0; j < sizeof ts / sizeof *ts; j++) {
                int r = check(d, 12, k++, ts[i], ts[j]);
                assert_true(r == 0 || r == 1);
                jp_dedupe_expire(d, ts[j], NULL, NULL);
            }
        assert_int_equal(check(d, 12, 999, INT64_MAX, INT64_MAX), 0);
        assert_int_equal(check(d, 12, 999, INT64_MAX, INT64_MAX), 1);
        assert_int_equal(jp_dedupe_seal(d, INT64_MIN, NULL, NULL), 0);
        assert_int_equal(jp_dedupe_take_pending(d, NULL, NULL), 0);
        jp_dedupe_expire(d, INT64_MAX, NULL, NULL);
        jp_dedupe_free(d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_segments_sorted_and_order_independent),
        cmocka_unit_test(test_fingerprint_every_length),
        cmocka_unit_test(test_take_pending_load_roundtrip),
        cmocka_unit_test(test_seal),
        cmocka_unit_test(test_load_rejects_bad_length),
        cmocka_unit_test(test_horizon_boundary),
        cmocka_unit_test(test_expire_callbacks),
        cmocka_unit_test(test_tag_wrap),
        cmocka_unit_test(test_time_jump),
        cmocka_unit_test(test_far_future_and_load_span),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_new_errors),
        cmocka_unit_test(test_extreme_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
