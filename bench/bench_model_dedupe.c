/*
 * bench_model_dedupe: the event-id dedupe set on one core, with 36-byte
 * UUID-like ids, 1-minute buckets, a 7-day horizon and event times 1 ms
 * apart (everything stays live) - check_add of new ids with 1M and 10M
 * entries resident, check_add of resident ids (duplicates), bytes per entry
 * after take_pending (table only: pending handed out), take_pending per
 * entry (sort + encode + copying the segments out, 1M entries over 17
 * buckets) and load of those segments into a fresh instance. Ids are
 * formatted before timing. Medians of jp_bench_runs() runs. The target is
 * ours: at 1M resident a check costs about one cache miss, so the dedupe
 * step stays small next to Avro decoding (and far below the RocksDB
 * get + put it replaces).
 */
#include "jp_bench.h"
#include "model/sketch/jp_dedupe.h"
#include "model/base/jp_hash.h"
#include "model/base/jp_rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    IDLEN = 36,
    FILL1 = 1000000,
    FILL10 = 10000000,
    NEW1 = 200000,   /* timed new ids at 1M (no table growth) */
    NEW10 = 1000000, /* timed new ids at 10M (no table growth) */
    DUPS = 500000,
    SMALL = 20000, /* resident ids for the in-cache figure */
    NMETRIC = 10
};

static const int64_t BUCKET_MS = 60000, HORIZON_MS = 7 * 86400000LL, T0 = 1700000000000LL;

/* Id number i as a UUID-like string (8-4-4-4-12 hex digits). */
static void make_id(char out[IDLEN], uint64_t i)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t h[2] = {jp_hash_mix64(i + 1), jp_hash_mix64(~i)};
    int k = 0;
    for (int p = 0; p < IDLEN; p++) {
        if (p == 8 || p == 13 || p == 18 || p == 23) {
            out[p] = '-';
            continue;
        }
        out[p] = hex[(h[k / 16] >> (4 * (k % 16))) & 15];
        k++;
    }
}

static char *make_ids(uint64_t first, size_t n)
{
    char *v = malloc(n * IDLEN);
    if (v)
        for (size_t i = 0; i < n; i++)
            make_id(v + i * IDLEN, first + i);
    return v;
}

/* check_add of ids[0..n), event times from number first on; returns the
 * number of duplicates, -1 on failure. */
static long feed(jp_dedupe_t *d, const char *ids, size_t n, uint64_t first)
{
    long dups = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t t = T0 + (int64_t)(first + i);
        int r = jp_dedupe_check_add(d, ids + i * IDLEN, IDLEN, t, t - 1);
        if (r < 0)
            return -1;
        dups += r;
    }
    return dups;
}

/* Untimed fill with ids [first, first + n); handout: drop pending every 1M. */
static int fill(jp_dedupe_t *d, uint64_t first, size_t n, int handout)
{
    char id[IDLEN];
    for (size_t i = 0; i < n; i++) {
        uint64_t k = first + i;
        make_id(id, k);
        int64_t t = T0 + (int64_t)k;
        if (jp_dedupe_check_add(d, id, IDLEN, t, t - 1) != 0)
            return -1;
        if (handout && k % 1000000 == 999999 && jp_dedupe_take_pending(d, NULL, NULL) != 0)
            return -1;
    }
    return 0;
}

typedef struct {
    int64_t bucket[64];
    uint8_t *seg[64];
    size_t len[64];
    int n;
} segs_t;

static int keep_segment(void *ctx, int64_t bucket, const uint8_t *seg, size_t len)
{
    segs_t *s = ctx;
    if (s->n == 64 || !(s->seg[s->n] = malloc(len)))
        return -1;
    memcpy(s->seg[s->n], seg, len);
    s->bucket[s->n] = bucket;
    s->len[s->n++] = len;
    return 0;
}

static void segs_free(segs_t *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->seg[i]);
    s->n = 0;
}

int main(void)
{
    jp_bench_pin_one_core();
    char err[256];
    int runs = jp_bench_runs();
    double *m[NMETRIC];
    for (int i = 0; i < NMETRIC; i++)
        m[i] = malloc((size_t)runs * sizeof(double));
    char *new1 = make_ids(FILL1, NEW1);
    char *new10 = make_ids(FILL10, NEW10);
    char *small = make_ids(0, SMALL);
    char *dup1 = malloc((size_t)DUPS * IDLEN), *dup10 = malloc((size_t)DUPS * IDLEN);
    if (!new1 || !new10 || !small || !dup1 || !dup10) {
        fprintf(stderr, "bench_model_dedupe: out of memory\n");
        return 1;
    }
    jp_rng_t r;
    jp_rng_seed(&r, 3);
    for (size_t i = 0; i < DUPS; i++) {
        make_id(dup1 + i * IDLEN, jp_rng_below(&r, FILL1));
        make_id(dup10 + i * IDLEN, jp_rng_below(&r, FILL10));
    }
    segs_t segs = {0};
    for (int k = 0; k < runs; k++) {
        jp_dedupe_t *d = jp_dedupe_new(BUCKET_MS, HORIZON_MS, err, sizeof err);
        if (!d || fill(d, 0, FILL1, 0) != 0) {
            fprintf(stderr, "bench_model_dedupe: %s\n", d ? "fill failed" : err);
            return 1;
        }
        double t0 = jp_bench_now();
        int rc = jp_dedupe_take_pending(d, keep_segment, &segs);
        m[0][k] = (jp_bench_now() - t0) / FILL1 * 1e9;
        m[1][k] = (double)jp_dedupe_memory(d) / (double)jp_dedupe_count(d);

        jp_dedupe_t *l = jp_dedupe_new(BUCKET_MS, HORIZON_MS, err, sizeof err);
        if (rc != 0 || !l) {
            fprintf(stderr, "bench_model_dedupe: take_pending failed\n");
            return 1;
        }
        t0 = jp_bench_now();
        for (int i = 0; i < segs.n; i++)
            if (jp_dedupe_load(l, segs.bucket[i], segs.seg[i], segs.len[i]) != 0)
                return 1;
        m[2][k] = (jp_bench_now() - t0) / FILL1 * 1e9;
        if (jp_dedupe_count(l) != FILL1)
            return 1;
        jp_dedupe_free(l);
        segs_free(&segs);

        t0 = jp_bench_now();
        long dups = feed(d, new1, NEW1, FILL1);
        m[3][k] = (jp_bench_now() - t0) / NEW1 * 1e9;
        t0 = jp_bench_now();
        long dups2 = feed(d, dup1, DUPS, FILL1 + NEW1);
        m[4][k] = (jp_bench_now() - t0) / DUPS * 1e9;
        if (dups != 0 || dups2 != DUPS) {
            fprintf(stderr, "bench_model_dedupe: wrong answers at 1M\n");
            return 1;
        }

        if (jp_dedupe_take_pending(d, NULL, NULL) != 0 ||
            fill(d, FILL1 + NEW1, FILL10 - FILL1 - NEW1, 1) != 0 ||
            jp_dedupe_take_pending(d, NULL, NULL) != 0)
            return 1;
        m[5][k] = (double)jp_dedupe_memory(d) / (double)jp_dedupe_count(d);
        t0 = jp_bench_now();
        dups = feed(d, new10, NEW10, FILL10);
        m[6][k] = (jp_bench_now() - t0) / NEW10 * 1e9;
        t0 = jp_bench_now();
        dups2 = feed(d, dup10, DUPS, FILL10 + NEW10);
        m[7][k] = (jp_bench_now() - t0) / DUPS * 1e9;
        if (dups != 0 || dups2 != DUPS) {
            fprintf(stderr, "bench_model_dedupe: wrong answers at 10M\n");
            return 1;
        }
        /* Expiry of everything: one sweep of the 16M-slot table. */
        t0 = jp_bench_now();
        long removed = jp_dedupe_expire(d, T0 + 30 * HORIZON_MS, NULL, NULL);
        m[8][k] = (jp_bench_now() - t0) * 1e3;
        if (removed != FILL10 + NEW10)
            return 1;
        jp_dedupe_free(d);

        /* The cost without the cache miss: 20k resident (a 512 KiB table). */
        d = jp_dedupe_new(BUCKET_MS, HORIZON_MS, err, sizeof err);
        if (!d || fill(d, 0, SMALL, 0) != 0 || jp_dedupe_take_pending(d, NULL, NULL) != 0)
            return 1;
        t0 = jp_bench_now();
        for (int rep = 0; rep < DUPS / SMALL; rep++)
            if (feed(d, small, SMALL, SMALL) != SMALL)
                return 1;
        m[9][k] = (jp_bench_now() - t0) / DUPS * 1e9;
        jp_dedupe_free(d);
    }
    size_t n = (size_t)runs;
    jp_bench_row("model_dedupe", "check_add_new_1m_ns", jp_bench_median(m[3], n), "ns/op", "<= 100",
                 "new 36-byte ids, 1M resident, pending kept");
    jp_bench_row("model_dedupe", "check_add_new_10m_ns", jp_bench_median(m[6], n), "ns/op", NULL,
                 "new 36-byte ids, 10M resident");
    jp_bench_row("model_dedupe", "check_add_dup_1m_ns", jp_bench_median(m[4], n), "ns/op", NULL,
                 "random resident ids, 1M resident");
    jp_bench_row("model_dedupe", "check_add_dup_10m_ns", jp_bench_median(m[7], n), "ns/op", NULL,
                 "random resident ids, 10M resident");
    jp_bench_row("model_dedupe", "check_add_dup_20k_ns", jp_bench_median(m[9], n), "ns/op", NULL,
                 "20k resident (in cache): hashing and probing without the miss");
    jp_bench_row("model_dedupe", "bytes_per_entry_1m", jp_bench_median(m[1], n), "B", NULL,
                 "table at 1M entries (2^21 slots), no pending");
    jp_bench_row("model_dedupe", "bytes_per_entry_10m", jp_bench_median(m[5], n), "B", NULL,
                 "table at 10M entries (2^24 slots), no pending");
    jp_bench_row("model_dedupe", "take_pending_ns", jp_bench_median(m[0], n), "ns/entry", NULL,
                 "1M pending in 17 buckets: radix sort, encode, copy out");
    jp_bench_row("model_dedupe", "load_ns", jp_bench_median(m[2], n), "ns/entry", NULL,
                 "1M entries from 17 segments into a fresh instance (grows)");
    jp_bench_row("model_dedupe", "expire_all_10m_ms", jp_bench_median(m[8], n), "ms", NULL,
                 "one sweep removing 11M entries");
    for (int i = 0; i < NMETRIC; i++)
        free(m[i]);
    free(new1);
    free(new10);
    free(small);
    free(dup1);
    free(dup10);
    return 0;
}
