/*
 * jp_dedupe: event-id fingerprint set. See jp_dedupe.h for the contract.
 *
 * Layout. One open-addressing table of 16-byte slots {a, b} (linear
 * probing from a & mask, power-of-two capacity, load <= 0.7): four slots
 * per cache line, so a lookup is one cache miss in the common case. The
 * bucket tag lives in b's low 16 bits, so moving an entry to another bucket
 * is a store, and there is no per-bucket index: the only per-bucket state
 * is a small sorted array of known buckets (entry count, pending
 * fingerprints), which tells expiry whether anything died at all and seal
 * how much to expect.
 *
 * Tags. An entry's 16-bit tag is resolved against the oldest held bucket
 * (entry_bucket): exact because held buckets span fewer than 65536, which
 * in_span guards on every record and load. Dead buckets leave the held
 * list when expired (or early, in check_add, when a jump in event time
 * would break the span) and wait in the retired list until expire reports
 * them, so the caller hears of each one exactly once.
 *
 * Removal. Expiry clears dead slots in one pass and, in the same pass,
 * re-inserts the live entries that follow a cleared slot in their cluster
 * (the pass starts just after an empty slot, so no probe chain crosses its
 * start and each re-inserted entry lands at or before its old position).
 * No tombstones, no second table: memory never doubles during expiry.
 *
 * Segments are sorted with an LSD radix sort on the first 8 encoded bytes
 * (as a big-endian key, so numeric order is bytewise order), with runs of
 * equal first halves (practically never) finished by insertion sort: O(n)
 * whatever the ids, unlike a comparison sort or an MSD split that crafted
 * ids could unbalance.
 */
#include "model/sketch/jp_dedupe.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "model/base/jp_err.h"
#include "model/base/jp_endian.h"

#define JP_DEDUPE_TAG_MASK  0xffffULL
#define JP_DEDUPE_USED_BIT  0x10000ULL    /* set in every occupied slot's b */
#define JP_DEDUPE_FP_MASK   (~0x1ffffULL) /* b's fingerprint bits */
#define JP_DEDUPE_MIN_SLOTS 64
#define JP_DEDUPE_AHEAD     16 /* slots prefetched ahead in bulk inserts */

typedef struct jp_dedupe_fp_s {
    uint64_t a;
    uint64_t b; /* table: fingerprint | USED_BIT | tag; pending: fingerprint only */
} jp_dedupe_fp_t;

/* The last time -> bucket division, reused while times stay in that bucket
 * (a 64-bit division costs tens of cycles; event times mostly do). start is
 * bucket * bucket_ms in wrapping arithmetic, so the range test is exact even
 * where that product leaves int64. */
typedef struct jp_dedupe_bcache_s {
    int valid;
    uint64_t start;
    int64_t bucket;
} jp_dedupe_bcache_t;

typedef struct jp_dedupe_bucket_s {
    int64_t bucket;
    size_t count;         /* entries of this bucket in the table */
    jp_dedupe_fp_t *pend; /* pending fingerprints (b in segment form) */
    size_t npend;
    size_t cpend;
} jp_dedupe_bucket_t;

struct jp_dedupe_s {
    int64_t bucket_ms;
    int64_t horizon_ms;
    jp_dedupe_fp_t *slots;
    size_t mask; /* capacity - 1 */
    size_t count;
    size_t limit; /* most entries before the table doubles */
    /* Buckets with entries in the table (or recorded/loaded into since they
     * last died), ascending, spanning fewer than 65536 buckets: every
     * entry's tag names exactly one of them. */
    jp_dedupe_bucket_t *buckets;
    size_t nbuckets;
    size_t cbuckets;
    size_t last; /* index of the last bucket used by check_add (a hint) */
    /* Dead buckets whose entries are gone, not yet reported by expire
     * (ascending, unique). */
    int64_t *retired;
    size_t nretired;
    size_t cretired;
    jp_dedupe_bcache_t event_cache;   /* bucket(t_ms) */
    jp_dedupe_bcache_t horizon_cache; /* bucket(newest_ms - horizon_ms) */
};

/* Live-ness as of one newest_ms: bucket b is live iff all || b >= lo. */
typedef struct jp_dedupe_live_s {
    int all; /* newest_ms == INT64_MIN: everything is live */
    int64_t lo;
} jp_dedupe_live_t;

static int64_t floor_div(int64_t a, int64_t m)
{
    int64_t q = a / m; /* m > 0: never INT64_MIN / -1 */
    return a % m < 0 ? q - 1 : q;
}

static int64_t bucket_of(const jp_dedupe_t *d, jp_dedupe_bcache_t *c, int64_t t)
{
    if (c->valid && (uint64_t)t - c->start < (uint64_t)d->bucket_ms)
        return c->bucket;
    c->bucket = floor_div(t, d->bucket_ms);
    c->start = (uint64_t)c->bucket * (uint64_t)d->bucket_ms;
    c->valid = 1;
    return c->bucket;
}

static void live_init(jp_dedupe_t *d, int64_t newest_ms, jp_dedupe_live_t *L)
{
    L->all = newest_ms == INT64_MIN;
    int64_t x;
    if (__builtin_sub_overflow(newest_ms, d->horizon_ms, &x))
        x = INT64_MIN;
    /* (b + 1) * bucket_ms > x  <=>  b >= floor(x / bucket_ms) */
    L->lo = bucket_of(d, &d->horizon_cache, x);
}

static int is_live(const jp_dedupe_live_t *L, int64_t bucket)
{
    return L->all || bucket >= L->lo;
}

static uint16_t slot_tag(const jp_dedupe_fp_t *s)
{
    return (uint16_t)(s->b & JP_DEDUPE_TAG_MASK);
}

static uint16_t bucket_tag(int64_t bucket)
{
    return (uint16_t)((uint64_t)bucket & JP_DEDUPE_TAG_MASK);
}

/* The bucket of an entry with this tag: the one held bucket congruent to it
 * mod 65536, found from the oldest held bucket (wrapping arithmetic: never
 * UB). Requires nbuckets > 0, true whenever the table has entries. */
static int64_t entry_bucket(const jp_dedupe_t *d, uint16_t tag)
{
    int64_t b0 = d->buckets[0].bucket;
    uint64_t off = (uint64_t)(uint16_t)(tag - bucket_tag(b0));
    return (int64_t)((uint64_t)b0 + off);
}

/* Whether bucket can be held without two held buckets 65536 or more apart
 * (which would make tags ambiguous). */
static int in_span(const jp_dedupe_t *d, int64_t bucket)
{
    if (d->nbuckets == 0)
        return 1;
    int64_t b0 = d->buckets[0].bucket, b1 = d->buckets[d->nbuckets - 1].bucket;
    if (bucket < b0)
        return (uint64_t)b1 - (uint64_t)bucket <= JP_DEDUPE_TAG_MASK;
    if (bucket > b1)
        return (uint64_t)bucket - (uint64_t)b0 <= JP_DEDUPE_TAG_MASK;
    return 1;
}

/* XXH64 of the id under both seeds in one pass: the same two values as
 * jp_hash64(id, len, JP_DEDUPE_SEED_A) and (..., JP_DEDUPE_SEED_B) (the
 * tests check it against jp_hash64), but as two interleaved dependency
 * chains, which the CPU runs side by side: for a 36-byte id this halves
 * the hashing latency, most of check_add's cost outside the one cache miss.
 * The per-lane rounds of the tail do not depend on the seed and are shared.
 * Constants and steps: the XXH64 specification, as in jp_hash.c. */
#define JP_XXH_P1 0x9E3779B185EBCA87ULL
#define JP_XXH_P2 0xC2B2AE3D27D4EB4FULL
#define JP_XXH_P3 0x165667B19E3779F9ULL
#define JP_XXH_P4 0x85EBCA77C2B2AE63ULL
#define JP_XXH_P5 0x27D4EB2F165667C5ULL

static inline uint64_t xxh_rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t xxh_round(uint64_t acc, uint64_t lane)
{
    return xxh_rotl(acc + lane * JP_XXH_P2, 31) * JP_XXH_P1;
}

static inline uint64_t xxh_merge(uint64_t acc, uint64_t v)
{
    return (acc ^ xxh_round(0, v)) * JP_XXH_P1 + JP_XXH_P4;
}

static inline uint64_t xxh_converge(const uint64_t v[4])
{
    uint64_t h = xxh_rotl(v[0], 1) + xxh_rotl(v[1], 7) + xxh_rotl(v[2], 12) + xxh_rotl(v[3], 18);
    for (int i = 0; i < 4; i++)
        h = xxh_merge(h, v[i]);
    return h;
}

static inline uint64_t xxh_avalanche(uint64_t h)
{
    h ^= h >> 33;
    h *= JP_XXH_P2;
    h ^= h >> 29;
    h *= JP_XXH_P3;
    return h ^ (h >> 32);
}

static void fingerprint(const void *id, size_t n, uint64_t *ha, uint64_t *hb)
{
    const uint8_t *p = id;
    const uint8_t *end = p + n;
    uint64_t h, g;
    if (n >= 32) {
        const uint64_t sa = JP_DEDUPE_SEED_A, sb = JP_DEDUPE_SEED_B;
        uint64_t v[4] = {sa + JP_XXH_P1 + JP_XXH_P2, sa + JP_XXH_P2, sa, sa - JP_XXH_P1};
        uint64_t w[4] = {sb + JP_XXH_P1 + JP_XXH_P2, sb + JP_XXH_P2, sb, sb - JP_XXH_P1};
        const uint8_t *limit = end - 32;
        do {
            for (int i = 0; i < 4; i++) {
                uint64_t lane = jp_le64_get(p + 8 * i);
                v[i] = xxh_round(v[i], lane);
                w[i] = xxh_round(w[i], lane);
            }
            p += 32;
        } while (p <= limit);
        h = xxh_converge(v);
        g = xxh_converge(w);
    } else {
        h = JP_DEDUPE_SEED_A + JP_XXH_P5;
        g = JP_DEDUPE_SEED_B + JP_XXH_P5;
    }
    h += (uint64_t)n;
    g += (uint64_t)n;
    while (end - p >= 8) {
        uint64_t k = xxh_round(0, jp_le64_get(p));
        h = xxh_rotl(h ^ k, 27) * JP_XXH_P1 + JP_XXH_P4;
        g = xxh_rotl(g ^ k, 27) * JP_XXH_P1 + JP_XXH_P4;
        p += 8;
    }
    if (end - p >= 4) {
        uint64_t k = (uint64_t)jp_le32_get(p) * JP_XXH_P1;
        h = xxh_rotl(h ^ k, 23) * JP_XXH_P2 + JP_XXH_P3;
        g = xxh_rotl(g ^ k, 23) * JP_XXH_P2 + JP_XXH_P3;
        p += 4;
    }
    while (p < end) {
        uint64_t k = (uint64_t)(*p++) * JP_XXH_P5;
        h = xxh_rotl(h ^ k, 11) * JP_XXH_P1;
        g = xxh_rotl(g ^ k, 11) * JP_XXH_P1;
    }
    *ha = xxh_avalanche(h);
    *hb = xxh_avalanche(g);
}

/* Slot of (a, key) if present (*found = 1), else the empty slot ending its
 * probe sequence. key = fingerprint bits | USED_BIT. */
static size_t probe(const jp_dedupe_t *d, uint64_t a, uint64_t key, int *found)
{
    size_t i = (size_t)a & d->mask;
    for (;;) {
        const jp_dedupe_fp_t *s = &d->slots[i];
        if (s->b == 0) {
            *found = 0;
            return i;
        }
        if (s->a == a && (s->b & ~JP_DEDUPE_TAG_MASK) == key) {
            *found = 1;
            return i;
        }
        i = (i + 1) & d->mask;
    }
}

/* A zeroed table of cap slots. From 2 MiB up it is 2 MiB-aligned and
 * advised to use transparent huge pages: every lookup is a random access
 * into the whole table, and with 4 KiB pages it also misses the TLB (at
 * 10M entries, 256 MiB, check_add ran about 40% faster with huge pages in
 * bench_model_dedupe). A hint only: results are identical without it. */
static jp_dedupe_fp_t *table_alloc(size_t cap)
{
    const size_t huge = (size_t)2 << 20;
    size_t bytes = cap * sizeof(jp_dedupe_fp_t);
    if (bytes < huge)
        return calloc(cap, sizeof(jp_dedupe_fp_t));
    void *p = NULL;
    if (posix_memalign(&p, huge, bytes) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
    memset(p, 0, bytes);
    return p;
}

static size_t limit_of(size_t cap)
{
    return cap / 10 * 7 + cap % 10 * 7 / 10;
}

/* Grows the table so that it can hold `need` entries. */
static int reserve(jp_dedupe_t *d, size_t need)
{
    if (need <= d->limit)
        return 0;
    size_t cap = d->mask + 1;
    while (limit_of(cap) < need) {
        if (cap > SIZE_MAX / 2 / sizeof(jp_dedupe_fp_t))
            return -1;
        cap *= 2;
    }
    jp_dedupe_fp_t *ns = table_alloc(cap);
    if (!ns)
        return -1;
    size_t nmask = cap - 1;
    for (size_t i = 0; i <= d->mask; i++) {
        /* Sources are read in order, destinations are random: fetch ahead. */
        if (i + JP_DEDUPE_AHEAD <= d->mask)
            __builtin_prefetch(&ns[(size_t)d->slots[i + JP_DEDUPE_AHEAD].a & nmask], 1);
        if (d->slots[i].b == 0)
            continue;
        size_t j = (size_t)d->slots[i].a & nmask;
        while (ns[j].b != 0)
            j = (j + 1) & nmask;
        ns[j] = d->slots[i];
    }
    free(d->slots);
    d->slots = ns;
    d->mask = nmask;
    d->limit = limit_of(cap);
    return 0;
}

/* Index of bucket in the known list, or where it would go (*found = 0). */
static size_t bucket_search(const jp_dedupe_t *d, int64_t bucket, int *found)
{
    if (d->last < d->nbuckets && d->buckets[d->last].bucket == bucket) {
        *found = 1;
        return d->last;
    }
    size_t lo = 0, hi = d->nbuckets;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->buckets[mid].bucket < bucket)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < d->nbuckets && d->buckets[lo].bucket == bucket;
    return lo;
}

/* The known bucket's index, added (empty) if new; SIZE_MAX if out of memory. */
static size_t bucket_get(jp_dedupe_t *d, int64_t bucket, int *created)
{
    int found;
    size_t i = bucket_search(d, bucket, &found);
    *created = 0;
    if (found)
        return i;
    if (d->nbuckets == d->cbuckets) {
        size_t nc = d->cbuckets ? 2 * d->cbuckets : 16;
        jp_dedupe_bucket_t *nb = realloc(d->buckets, nc * sizeof *nb);
        if (!nb)
            return SIZE_MAX;
        d->buckets = nb;
        d->cbuckets = nc;
    }
    memmove(d->buckets + i + 1, d->buckets + i, (d->nbuckets - i) * sizeof *d->buckets);
    memset(d->buckets + i, 0, sizeof *d->buckets);
    d->buckets[i].bucket = bucket;
    d->nbuckets++;
    *created = 1;
    return i;
}

static void bucket_drop_pending(jp_dedupe_bucket_t *bk)
{
    free(bk->pend);
    bk->pend = NULL;
    bk->npend = bk->cpend = 0;
}

/* One entry of bucket left it (re-recorded elsewhere). */
static void bucket_dec(jp_dedupe_t *d, int64_t bucket)
{
    int found;
    size_t i = bucket_search(d, bucket, &found);
    if (found && d->buckets[i].count > 0)
        d->buckets[i].count--;
}

static int pend_reserve(jp_dedupe_bucket_t *bk)
{
    if (bk->npend < bk->cpend)
        return 0;
    size_t nc = bk->cpend ? 2 * bk->cpend : 64;
    if (nc > SIZE_MAX / sizeof(jp_dedupe_fp_t))
        return -1;
    jp_dedupe_fp_t *np = realloc(bk->pend, nc * sizeof *np);
    if (!np)
        return -1;
    bk->pend = np;
    bk->cpend = nc;
    return 0;
}

jp_dedupe_t *jp_dedupe_new(int64_t bucket_ms, int64_t horizon_ms, char *errstr, size_t n)
{
    if (bucket_ms <= 0) {
        jp_err_set(errstr, n, "dedupe: bucket_ms must be > 0 (got %lld)", (long long)bucket_ms);
        return NULL;
    }
    if (horizon_ms < 0) {
        jp_err_set(errstr, n, "dedupe: horizon_ms must be >= 0 (got %lld)", (long long)horizon_ms);
        return NULL;
    }
    if (horizon_ms / bucket_ms + 2 >= 32768) {
        jp_err_set(errstr, n,
                   "dedupe: horizon_ms / bucket_ms + 2 must be < 32768 (horizon %lld ms, bucket "
                   "%lld ms): use larger buckets",
                   (long long)horizon_ms, (long long)bucket_ms);
        return NULL;
    }
    jp_dedupe_t *d = calloc(1, sizeof *d);
    if (d)
        d->slots = table_alloc(JP_DEDUPE_MIN_SLOTS);
    if (!d || !d->slots) {
        free(d);
        jp_err_set(errstr, n, "dedupe: out of memory");
        return NULL;
    }
    d->bucket_ms = bucket_ms;
    d->horizon_ms = horizon_ms;
    d->mask = JP_DEDUPE_MIN_SLOTS - 1;
    d->limit = limit_of(JP_DEDUPE_MIN_SLOTS);
    return d;
}

void jp_dedupe_free(jp_dedupe_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nbuckets; i++)
        free(d->buckets[i].pend);
    free(d->buckets);
    free(d->retired);
    free(d->slots);
    free(d);
}

/* Clears the slots of entries in buckets below lo and re-packs the
 * clusters they were in (see the file comment). Returns entries removed. */
static size_t sweep(jp_dedupe_t *d, int64_t lo)
{
    size_t s0 = 0;
    while (d->slots[s0].b != 0) /* exists: load <= 0.7 */
        s0++;
    size_t removed = 0;
    int hole = 0; /* a slot was cleared in the current cluster */
    for (size_t j = 1; j <= d->mask; j++) {
        size_t p = (s0 + j) & d->mask;
        jp_dedupe_fp_t e = d->slots[p];
        if (e.b == 0) {
            hole = 0; /* untouched empty slot: a cluster boundary */
            continue;
        }
        if (entry_bucket(d, slot_tag(&e)) < lo) {
            d->slots[p].a = d->slots[p].b = 0;
            removed++;
            hole = 1;
            continue;
        }
        if (hole) {
            d->slots[p].a = d->slots[p].b = 0;
            size_t q = (size_t)e.a & d->mask;
            while (d->slots[q].b != 0)
                q = (q + 1) & d->mask;
            d->slots[q] = e;
        }
    }
    d->count -= removed;
    return removed;
}

/* Removes the entries and pending fingerprints of every held bucket below
 * lo and moves those buckets to the retired list (reported by expire).
 * Returns entries removed, -1 if out of memory (nothing changed). */
static long retire(jp_dedupe_t *d, int64_t lo)
{
    size_t e = 0, dead = 0;
    while (e < d->nbuckets && d->buckets[e].bucket < lo)
        dead += d->buckets[e++].count;
    if (e == 0)
        return 0;
    if (d->nretired + e > d->cretired) {
        size_t nc = 2 * (d->nretired + e);
        int64_t *nr = realloc(d->retired, nc * sizeof *nr);
        if (!nr)
            return -1;
        d->retired = nr;
        d->cretired = nc;
    }
    size_t removed = dead > 0 ? sweep(d, lo) : 0;
    /* Merge buckets[0, e) into retired, from the back. Both ascending; a
     * bucket may be in both when newest_ms went backwards. */
    size_t i = d->nretired, j = e, k = d->nretired + e;
    while (j > 0) {
        int64_t b = d->buckets[j - 1].bucket;
        if (i > 0 && d->retired[i - 1] > b)
            d->retired[--k] = d->retired[--i];
        else if (i > 0 && d->retired[i - 1] == b)
            --j; /* already there */
        else {
            d->retired[--k] = b;
            --j;
        }
    }
    while (i > 0)
        d->retired[--k] = d->retired[--i];
    /* k retired slots at the front went unused by duplicates: close them. */
    memmove(d->retired, d->retired + k, (d->nretired + e - k) * sizeof *d->retired);
    d->nretired += e - k;
    for (size_t b = 0; b < e; b++)
        bucket_drop_pending(&d->buckets[b]);
    memmove(d->buckets, d->buckets + e, (d->nbuckets - e) * sizeof *d->buckets);
    d->nbuckets -= e;
    d->last = 0;
    return (long)removed;
}

int jp_dedupe_check_add(jp_dedupe_t *d, const void *id, size_t len, int64_t t_ms, int64_t newest_ms)
{
    uint64_t a, fpb;
    fingerprint(id, len, &a, &fpb);
    fpb &= JP_DEDUPE_FP_MASK;
    uint64_t key = fpb | JP_DEDUPE_USED_BIT;
    jp_dedupe_live_t L;
    live_init(d, newest_ms, &L);
    int found;
    size_t i = probe(d, a, key, &found);
    if (found && is_live(&L, entry_bucket(d, slot_tag(&d->slots[i]))))
        return 1;
    int64_t bt = bucket_of(d, &d->event_cache, t_ms);
    if (!is_live(&L, bt))
        return 0; /* older than the horizon: would count as absent anyway */
    if (!in_span(d, bt)) {
        /* A jump in event time: let the dead buckets go first. */
        if (!L.all && d->nbuckets > 0 && d->buckets[0].bucket < L.lo) {
            if (retire(d, L.lo) < 0)
                return -1;
            i = probe(d, a, key, &found); /* the sweep moves entries */
        }
        if (!in_span(d, bt))
            return 0; /* far ahead of every held live bucket: not recorded */
    }
    if (!found && d->count + 1 > d->limit) {
        if (reserve(d, d->count + 1) != 0)
            return -1;
        i = probe(d, a, key, &found);
    }
    int64_t old = found ? entry_bucket(d, slot_tag(&d->slots[i])) : 0;
    int created;
    size_t bi = bucket_get(d, bt, &created);
    if (bi == SIZE_MAX)
        return -1;
    jp_dedupe_bucket_t *bk = &d->buckets[bi];
    if (pend_reserve(bk) != 0) {
        if (created) {
            memmove(bk, bk + 1, (d->nbuckets - bi - 1) * sizeof *bk);
            d->nbuckets--;
        }
        return -1;
    }
    d->last = bi;
    bk->count++;
    bk->pend[bk->npend].a = a;
    bk->pend[bk->npend].b = fpb;
    bk->npend++;
    if (found) /* present in a dead bucket: moves to bt */
        bucket_dec(d, old);
    else
        d->count++;
    d->slots[i].a = a;
    d->slots[i].b = key | bucket_tag(bt);
    return 0;
}

static int key_less(const jp_dedupe_fp_t *x, const jp_dedupe_fp_t *y)
{
    return x->a < y->a || (x->a == y->a && x->b < y->b);
}

static void insertion_sort(jp_dedupe_fp_t *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        jp_dedupe_fp_t x = v[i];
        size_t j = i;
        while (j > 0 && key_less(&x, &v[j - 1])) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* Sorts keys v[0..n) by (a, b); tmp has room for n. Returns v or tmp,
 * whichever holds the result. */
static jp_dedupe_fp_t *sort_keys(jp_dedupe_fp_t *v, jp_dedupe_fp_t *tmp, size_t n)
{
    if (n < 64) {
        insertion_sort(v, n);
        return v;
    }
    size_t(*cnt)[256] = calloc(8, sizeof *cnt);
    if (!cnt) { /* 16 KiB; fall back rather than fail */
        insertion_sort(v, n);
        return v;
    }
    for (size_t i = 0; i < n; i++)
        for (int g = 0; g < 8; g++)
            cnt[g][(v[i].a >> (8 * g)) & 255]++;
    jp_dedupe_fp_t *src = v, *dst = tmp;
    for (int g = 0; g < 8; g++) {
        size_t *c = cnt[g];
        if (c[(src[0].a >> (8 * g)) & 255] == n)
            continue; /* every key has the same digit */
        size_t sum = 0;
        for (int k = 0; k < 256; k++) {
            size_t t = c[k];
            c[k] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++)
            dst[c[(src[i].a >> (8 * g)) & 255]++] = src[i];
        jp_dedupe_fp_t *t = src;
        src = dst;
        dst = t;
    }
    free(cnt);
    for (size_t i = 0; i < n;) { /* equal first halves: order by the second */
        size_t j = i + 1;
        while (j < n && src[j].a == src[i].a)
            j++;
        if (j - i > 1)
            insertion_sort(src + i, j - i);
        i = j;
    }
    return src;
}

/* Turns fingerprints (pending form) into a sorted segment. v and tmp have
 * room for n; returns the segment bytes (inside v or tmp). */
static const uint8_t *encode_segment(jp_dedupe_fp_t *v, jp_dedupe_fp_t *tmp, size_t n)
{
    /* Big-endian keys of the little-endian encodings: numeric order is
     * bytewise order. */
    for (size_t i = 0; i < n; i++) {
        v[i].a = __builtin_bswap64(v[i].a);
        v[i].b = __builtin_bswap64(v[i].b);
    }
    jp_dedupe_fp_t *s = sort_keys(v, tmp, n);
    uint8_t *out = (uint8_t *)s;
    for (size_t i = 0; i < n; i++) {
        uint64_t ka = s[i].a, kb = s[i].b;
        jp_be64_put(out + 16 * i, ka);
        jp_be64_put(out + 16 * i + 8, kb);
    }
    return out;
}

int jp_dedupe_take_pending(jp_dedupe_t *d, jp_dedupe_seg_fn fn, void *ctx)
{
    size_t maxn = 0;
    for (size_t i = 0; i < d->nbuckets; i++)
        if (d->buckets[i].npend > maxn)
            maxn = d->buckets[i].npend;
    if (maxn == 0)
        return 0;
    jp_dedupe_fp_t *v = NULL, *tmp = NULL;
    if (fn) {
        v = malloc(maxn * sizeof *v);
        tmp = malloc(maxn * sizeof *tmp);
        if (!v || !tmp) {
            free(v);
            free(tmp);
            return -1;
        }
    }
    int rc = 0;
    for (size_t i = 0; i < d->nbuckets && rc == 0; i++) {
        jp_dedupe_bucket_t *bk = &d->buckets[i];
        if (bk->npend == 0)
            continue;
        if (fn) {
            memcpy(v, bk->pend, bk->npend * sizeof *v);
            const uint8_t *seg = encode_segment(v, tmp, bk->npend);
            rc = fn(ctx, bk->bucket, seg, bk->npend * JP_DEDUPE_FP_BYTES);
        }
        if (rc == 0)
            bucket_drop_pending(bk);
    }
    free(v);
    free(tmp);
    return rc;
}

int jp_dedupe_load(jp_dedupe_t *d, int64_t bucket, const uint8_t *seg, size_t len)
{
    if (len % JP_DEDUPE_FP_BYTES != 0)
        return -1;
    size_t n = len / JP_DEDUPE_FP_BYTES;
    if (n == 0)
        return 0;
    if (d->count > SIZE_MAX - n || reserve(d, d->count + n) != 0)
        return -1;
    if (!in_span(d, bucket))
        return -1;
    int created;
    size_t bi = bucket_get(d, bucket, &created);
    if (bi == SIZE_MAX)
        return -1;
    uint16_t tag = bucket_tag(bucket);
    for (size_t k = 0; k < n; k++) {
        const uint8_t *p = seg + k * JP_DEDUPE_FP_BYTES;
        if (k + JP_DEDUPE_AHEAD < n) /* all keys are known: fetch their slots ahead */
            __builtin_prefetch(&d->slots[(size_t)jp_le64_get(p + JP_DEDUPE_AHEAD * 16) & d->mask]);
        uint64_t a = jp_le64_get(p);
        uint64_t key = (jp_le64_get(p + 8) & JP_DEDUPE_FP_MASK) | JP_DEDUPE_USED_BIT;
        int found;
        size_t i = probe(d, a, key, &found);
        if (!found) {
            d->slots[i].a = a;
            d->slots[i].b = key | tag;
            d->count++;
            d->buckets[bi].count++;
            continue;
        }
        int64_t old = entry_bucket(d, slot_tag(&d->slots[i]));
        if (bucket > old) { /* keep the later bucket */
            d->slots[i].b = key | tag;
            d->buckets[bi].count++;
            bucket_dec(d, old);
        }
    }
    return 0;
}

long jp_dedupe_expire(jp_dedupe_t *d, int64_t newest_ms, jp_dedupe_expired_fn fn, void *ctx)
{
    long removed = 0;
    if (newest_ms != INT64_MIN) {
        jp_dedupe_live_t L;
        live_init(d, newest_ms, &L);
        removed = retire(d, L.lo);
        if (removed < 0)
            return -1;
    }
    for (size_t i = 0; i < d->nretired; i++) {
        if (fn && fn(ctx, d->retired[i]) != 0) {
            memmove(d->retired, d->retired + i, (d->nretired - i) * sizeof *d->retired);
            d->nretired -= i;
            return -1;
        }
    }
    d->nretired = 0;
    return removed;
}

int jp_dedupe_seal(jp_dedupe_t *d, int64_t bucket, jp_dedupe_seg_fn fn, void *ctx)
{
    int found;
    size_t bi = bucket_search(d, bucket, &found);
    if (!found) { /* not held: no entries (and its tag may be another's) */
        static const uint8_t none[1];
        return fn ? fn(ctx, bucket, none, 0) : 0;
    }
    size_t cap = d->buckets[bi].count + 16;
    jp_dedupe_fp_t *v = malloc(cap * sizeof *v);
    if (!v)
        return -1;
    size_t n = 0;
    uint16_t tag = bucket_tag(bucket);
    for (size_t i = 0; i <= d->mask; i++) {
        const jp_dedupe_fp_t *s = &d->slots[i];
        if (s->b == 0 || slot_tag(s) != tag)
            continue;
        if (n == cap) { /* counts are exact in valid use; be safe anyway */
            jp_dedupe_fp_t *nv =
                cap > SIZE_MAX / 2 / sizeof *nv ? NULL : realloc(v, 2 * cap * sizeof *nv);
            if (!nv) {
                free(v);
                return -1;
            }
            v = nv;
            cap *= 2;
        }
        v[n].a = s->a;
        v[n].b = s->b & JP_DEDUPE_FP_MASK;
        n++;
    }
    jp_dedupe_fp_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp) {
        free(v);
        return -1;
    }
    const uint8_t *seg = encode_segment(v, tmp, n);
    int rc = fn ? fn(ctx, bucket, seg, n * JP_DEDUPE_FP_BYTES) : 0;
    if (rc == 0)
        bucket_drop_pending(&d->buckets[bi]);
    free(v);
    free(tmp);
    return rc;
}

size_t jp_dedupe_count(const jp_dedupe_t *d)
{
    return d->count;
}

size_t jp_dedupe_memory(const jp_dedupe_t *d)
{
    size_t m = sizeof *d + (d->mask + 1) * sizeof *d->slots + d->cbuckets * sizeof *d->buckets +
               d->cretired * sizeof *d->retired;
    for (size_t i = 0; i < d->nbuckets; i++)
        m += d->buckets[i].cpend * sizeof *d->buckets[i].pend;
    return m;
}
