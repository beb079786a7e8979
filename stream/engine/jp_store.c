/*
 * jp_store: RocksDB state of one task behind a write-back cache.
 *
 * Cache. One open-addressing hash table per column family (linear probing,
 * power-of-two capacity, load <= 0.7, jp_hash64 with a fixed seed so the
 * layout is the same on every run). An entry owns one allocation laid out
 * exactly as the RocksDB value is, preceded by the key:
 *     key bytes | 8-byte LE event time | value bytes
 * so a commit hands RocksDB a pointer into the entry without re-encoding,
 * and a get returns a pointer past the event time. Entries are either
 * VALUE or ABSENT; dirty ABSENT is a tombstone, clean ABSENT a cached miss
 * (so a key looked up repeatedly and never found costs one RocksDB read).
 * A clean entry always equals what RocksDB holds, which is why scans only
 * need to merge the dirty entries and why commit's meta entries, written
 * behind the cache's back, drop their cached copy.
 *
 * Removal uses backward-shift deletion (no tombstone slots), so probe
 * chains stay short however many evictions happen. Eviction runs only at
 * commit (pointers returned by get stay valid between commits as the
 * header promises) and follows CLOCK: get/put set a reference bit, the
 * hand clears it on its first pass and evicts on the second, which keeps
 * hot keys without a per-access list and is deterministic (no clock time).
 *
 * Determinism of dirty_foreach and scan: dirty entries are collected and
 * sorted by key (memcmp, shorter first), never walked in slot order.
 *
 * Memory. The env owns one LRU block cache and one block-based table
 * configuration (bloom filters, index/filter blocks in the cache) that every
 * column family of every store uses, and the memtable budget, split among
 * the open stores (see jp_store.h: the 7.8 C API has no WriteBufferManager,
 * so write_buffer_size is rebalanced with SetOptions, quantized to powers of
 * two so opening n stores costs O(log n) rebalances, not O(n)). Background
 * flushes and compactions run on RocksDB's default Env thread pools, which
 * every store shares.
 *
 * Expiry reads every value of the column family for its event time: cheap
 * next to the window sizes the engine expires, and it keeps expiry on the
 * dirty path (a compaction filter would delete without a changelog record).
 *
 * Memtables. A commit hands RocksDB its batch in key order, and inserting
 * it into the memtable's skiplist was about half of a task's instructions
 * (callgrind, 40k sales of 30k customers through one jp_task committing
 * every 10k: 879M instructions, 53% in rocksdb_write, 26% in
 * InlineSkipList::Insert's splice recomputation, 12% in the thread-local
 * perf context every key comparison updates). Two settings keep what
 * measured better:
 *   - memtable_insert_with_hint_prefix_extractor with an empty prefix: the
 *     skiplist keeps the last insert position as a hint and, the batch being
 *     sorted, repairs the splice from the bottom up instead of searching
 *     from the top for every key (721M instructions);
 *   - the perf context off (PerfLevel kDisable) on every thread that calls
 *     RocksDB: the counters are never read here (788M; both: 665M, -24%,
 *     and -20% of the loop's CPU time in three native runs of 200k sales).
 * A hash skiplist memtable with a 32-byte prefix extractor on customers
 * cut instructions further (503M) but cost more CPU per flush (a sorted
 * copy of the memtable) and in the buckets' cache misses (+28% CPU time
 * natively), so it is not used. A vector memtable on customers (with a
 * memtable bloom filter) inserts for 457M, but every point read of a key
 * it may hold sorts a copy of it, and customers are read back whenever the
 * cache has evicted them: 200k sales took 77-93 s of CPU instead of 0.6 s.
 * The comparator stays RocksDB's bytewise one, which is also what every
 * existing store was created with.
 *
 * One hash per read-then-write. A task reads a customer and writes it back
 * at once; the cache map keeps the entry last read or set (the map's hint),
 * and writes look there first, so the write after a read costs one memcmp
 * instead of a second hash and probe. Reads do not check the hint: a read
 * rarely repeats the key before it, and checking cost random reads ~21%
 * more instructions (up to 60% more time in a loop of 50k cached gets).
 */
#include "engine/jp_store.h"
#include "model/base/jp_err.h"

#include "model/base/jp_hash.h"
#include "model/base/jp_endian.h"
#include "model/base/jp_u64set.h"

#include <errno.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JP_STORE_TS_LEN      8
#define JP_STORE_SEED        0x6a7073746f72655fULL
#define JP_STORE_MIN_WBS     ((size_t)256 * 1024)
#define JP_STORE_N_WBUF      2
#define JP_STORE_BLOOM       10.0
#define JP_STORE_ERR_SIZE    256
#define JP_STORE_FLUSH_EVERY 16 /* commits between flush requests without a WAL */

enum { JP_ENT_VALUE = 1, JP_ENT_ABSENT = 2 };

typedef struct jp_store_ent_s {
    unsigned char *buf; /* key | ts | value; NULL marks an empty slot */
    uint64_t hash;
    size_t klen, vlen;
    size_t cap; /* bytes allocated at buf */
    uint8_t kind, dirty, ref;
} jp_store_ent_t;

typedef struct jp_store_map_s {
    jp_store_ent_t *slot;
    size_t cap, count, ndirty, bytes, hand;
    /* The entry last read or set: the update that follows a get of the
     * same key (a customer read, then written) finds it with one memcmp,
     * without hashing the key or probing again (writes check it, reads do
     * not). Cleared whenever entries move (resize, removal). */
    jp_store_ent_t *hint;
} jp_store_map_t;

struct jp_store_env_s {
    jp_store_cf_def_t cfs[JP_STORE_MAX_CFS]; /* the caller's table (names not copied) */
    int n_cfs;
    unsigned weight_sum;
    rocksdb_env_t *env;
    rocksdb_cache_t *cache;
    rocksdb_block_based_table_options_t *bbto;
    size_t wb_budget;
    size_t expected; /* jp_store_env_expect_stores */
    pthread_mutex_t lock;
    jp_store_t *stores; /* open stores, for rebalancing the memtable budget */
    size_t n_stores;
};

/* The key filter of a tracked CF (jp_store_track_keys): the 64-bit hashes
 * of every key RocksDB holds (or will hold at the next commit). Deletes
 * leave their hash behind (two keys may share one, so removing it could
 * hide the other): a stale hash only costs the read it fails to save, and
 * the set is rebuilt from RocksDB once they reach half of it. */
typedef struct jp_store_keys_s {
    jp_u64set_t set;
    int tracked;
    size_t removed; /* deletes since the last build */
} jp_store_keys_t;

struct jp_store_s {
    jp_store_env_t *env;
    int n_cfs; /* env->n_cfs */
    rocksdb_t *db;
    rocksdb_column_family_handle_t *cfh[JP_STORE_MAX_CFS + 1]; /* [0] is "default" */
    rocksdb_readoptions_t *ropts;
    rocksdb_writeoptions_t *wopts;
    int no_wal;
    unsigned commits_unflushed; /* NO_WAL: commits since the last flush request */
    jp_store_map_t map[JP_STORE_MAX_CFS];
    /* The sorted dirty set of each CF, kept from the changelog walk
     * (dirty_foreach) for the commit that follows, while gen is unchanged. */
    struct {
        struct jp_store_ref_s *r;
        size_t n;
        uint64_t gen;
        int valid;
    } sorted[JP_STORE_MAX_CFS];
    uint64_t gen;                           /* bumped by every cache write */
    jp_store_keys_t keys[JP_STORE_MAX_CFS]; /* jp_store_track_keys: every key RocksDB holds */
    size_t max_entries, max_bytes;
    size_t wbs[JP_STORE_MAX_CFS]; /* write_buffer_size currently set per CF */
    jp_store_t *prev, *next;
    char err[JP_STORE_ERR_SIZE];
};

/* A dirty entry seen from outside the table (sorted copies of these are
 * stable while the callback runs, unlike slot addresses). */
typedef struct jp_store_ref_s {
    uint64_t pfx; /* the key's first 8 bytes, big-endian, zero-padded: most
                     comparisons end here without a memcmp call */
    const unsigned char *key;
    size_t klen;
    const unsigned char *val; /* NULL for a tombstone */
    size_t vlen;
    int64_t ts;
} jp_store_ref_t;

/* A key about to reach RocksDB. Out of memory, the CF stops being tracked
 * (every miss reads RocksDB again): a key missing from the set would read
 * as absent, which loses state. */
static void jp_store_keys_note(jp_store_keys_t *k, uint64_t h)
{
    if (jp_u64set_add(&k->set, h) < 0) {
        jp_u64set_free(&k->set);
        k->tracked = 0;
    }
}

/* ---- small helpers ------------------------------------------------------ */

/* RocksDB's perf context, off for the calling thread (see Memtables above;
 * the level is thread-local in RocksDB). */
static void jp_store_perf_off(void)
{
    static _Thread_local unsigned char off;
    if (!off) {
        rocksdb_set_perf_level(rocksdb_disable);
        off = 1;
    }
}

/* Takes ownership of a RocksDB error string. */
static void jp_store_rderr(char *dst, size_t size, const char *what, char *rerr)
{
    jp_err_set(dst, size, "%s: %s", what, rerr ? rerr : "unknown error");
    rocksdb_free(rerr);
}

static void jp_store_ts_put(unsigned char *p, int64_t ts)
{
    jp_le64_put(p, (uint64_t)ts);
}

static int64_t jp_store_ts_get(const unsigned char *p)
{
    return (int64_t)jp_le64_get(p);
}

static int jp_store_key_cmp(const void *a, size_t la, const void *b, size_t lb)
{
    size_t n = la < lb ? la : lb;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return (la > lb) - (la < lb);
}

static int jp_store_has_prefix(const void *key, size_t klen, const void *prefix, size_t plen)
{
    return plen == 0 || (klen >= plen && memcmp(key, prefix, plen) == 0);
}

static uint64_t jp_store_hash(const void *key, size_t klen)
{
    return jp_hash64(key, klen, JP_STORE_SEED);
}

static int jp_store_cf_ok(const jp_store_t *s, int cf)
{
    return s && cf >= 0 && cf < s->n_cfs;
}

/* ---- hash table --------------------------------------------------------- */

static size_t jp_store_ent_bytes(const jp_store_ent_t *e)
{
    return e->klen + JP_STORE_TS_LEN + e->vlen;
}

static int64_t jp_store_ent_ts(const jp_store_ent_t *e)
{
    return jp_store_ts_get(e->buf + e->klen);
}

static const unsigned char *jp_store_ent_val(const jp_store_ent_t *e)
{
    return e->buf + e->klen + JP_STORE_TS_LEN;
}

static jp_store_ent_t *jp_store_map_find(const jp_store_map_t *m, const void *key, size_t klen,
                                         uint64_t h)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        jp_store_ent_t *e = &m->slot[i];
        if (!e->buf)
            return NULL;
        if (e->hash == h && e->klen == klen && (klen == 0 || memcmp(e->buf, key, klen) == 0))
            return e;
    }
}

/* Key's entry or NULL; *h gets the key's hash either way. */
static jp_store_ent_t *jp_store_lookup(const jp_store_map_t *m, const void *key, size_t klen,
                                       uint64_t *h)
{
    jp_store_ent_t *e = m->hint;
    if (e && e->klen == klen && (klen == 0 || memcmp(e->buf, key, klen) == 0)) {
        *h = e->hash;
        return e;
    }
    *h = jp_store_hash(key, klen);
    return jp_store_map_find(m, key, klen, *h);
}

/* Rehashes into ncap slots (a power of two holding count at load < 0.7). */
static int jp_store_map_resize(jp_store_map_t *m, size_t ncap)
{
    jp_store_ent_t *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slot[i].buf)
            continue;
        size_t j = m->slot[i].hash & (ncap - 1);
        while (ns[j].buf)
            j = (j + 1) & (ncap - 1);
        ns[j] = m->slot[i];
    }
    free(m->slot);
    m->slot = ns;
    m->cap = ncap;
    m->hand = 0;
    m->hint = NULL;
    return 0;
}

static int jp_store_map_grow(jp_store_map_t *m)
{
    return jp_store_map_resize(m, m->cap ? m->cap * 2 : 64);
}

/* After an eviction the table may be far too large for what is left (a
 * burst of keys between two commits): give the memory back. */
static void jp_store_map_shrink(jp_store_map_t *m)
{
    if (m->cap <= 64 || m->count * 8 > m->cap)
        return;
    size_t ncap = 64;
    while (m->count * 10 >= ncap * 4)
        ncap *= 2;
    (void)jp_store_map_resize(m, ncap); /* on failure the big table still works */
}

/* An empty slot for hash h (the caller fills it), growing first if the
 * load would pass 0.7. */
static jp_store_ent_t *jp_store_map_slot(jp_store_map_t *m, uint64_t h)
{
    if ((m->count + 1) * 10 > m->cap * 7 && jp_store_map_grow(m) != 0)
        return NULL;
    size_t mask = m->cap - 1, i = h & mask;
    while (m->slot[i].buf)
        i = (i + 1) & mask;
    return &m->slot[i];
}

/* Backward-shift deletion: moves later members of the probe chain into the
 * hole so lookups never need tombstone slots. */
static void jp_store_map_remove_at(jp_store_map_t *m, size_t i)
{
    jp_store_ent_t *e = &m->slot[i];
    m->hint = NULL; /* entries shift */
    m->count--;
    m->bytes -= jp_store_ent_bytes(e);
    if (e->dirty)
        m->ndirty--;
    free(e->buf);
    size_t mask = m->cap - 1, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->slot[j].buf)
            break;
        size_t home = m->slot[j].hash & mask;
        /* slot j may move to hole i iff its home is not in (i, j] cyclically */
        int in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            m->slot[i] = m->slot[j];
            i = j;
        }
    }
    memset(&m->slot[i], 0, sizeof m->slot[i]);
}

static void jp_store_map_free(jp_store_map_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slot[i].buf);
    free(m->slot);
    memset(m, 0, sizeof *m);
}

/* CLOCK: clean entries only (after a commit every entry is clean). */
static void jp_store_map_evict(jp_store_map_t *m, size_t max_entries, size_t max_bytes)
{
    size_t budget = 3 * m->cap;
    while ((m->count > max_entries || m->bytes > max_bytes) && m->count > m->ndirty && budget--) {
        jp_store_ent_t *e = &m->slot[m->hand];
        if (e->buf && !e->dirty) {
            if (!e->ref) {
                jp_store_map_remove_at(m, m->hand);
                continue; /* the hole may now hold a shifted entry */
            }
            e->ref = 0;
        }
        m->hand = (m->hand + 1) & (m->cap - 1);
    }
}

/* Allocation size of an entry of n bytes: rounded up, with room for a
 * small value, so that the usual get-miss-then-put of a new key (an ABSENT
 * entry, then its first value) and later updates of a similar size reuse
 * the buffer instead of a free and a malloc per event. */
static size_t jp_store_ent_cap(size_t n)
{
    return n < 96 ? 96 : (n + 31) & ~(size_t)31;
}

/* Sets key's entry to kind/ts/val: e is its entry (from jp_store_lookup,
 * with its hash h), or NULL to insert one. */
static jp_store_ent_t *jp_store_cache_set(jp_store_t *s, int cf, const void *key, size_t klen,
                                          uint64_t h, jp_store_ent_t *e, uint8_t kind, int64_t ts,
                                          const void *val, size_t vlen, int dirty)
{
    jp_store_map_t *m = &s->map[cf];
    s->gen++;
    size_t need = klen + JP_STORE_TS_LEN + vlen;
    /* A dirty value reaches RocksDB at the next commit: the filter must
     * know it from now on (a cached value is already in it). */
    if (s->keys[cf].tracked && kind == JP_ENT_VALUE && dirty && !(e && e->kind == JP_ENT_VALUE))
        jp_store_keys_note(&s->keys[cf], h);
    /* The value may come from this very entry (a get's pointer): then copy
     * it out of a fresh buffer, not onto itself. Compared as integers:
     * unrelated pointers must not be ordered. */
    uintptr_t vp = (uintptr_t)val, bp = e ? (uintptr_t)e->buf : 0;
    int overlap = e && vlen && vp >= bp && vp - bp < e->cap;
    int reuse = e && e->cap >= need && !overlap;
    unsigned char *buf = reuse ? e->buf : malloc(jp_store_ent_cap(need));
    if (!buf) {
        jp_err_set(s->err, sizeof s->err, "out of memory");
        return NULL;
    }
    if (!reuse && klen)
        memcpy(buf, key, klen);
    jp_store_ts_put(buf + klen, ts);
    if (vlen)
        memcpy(buf + klen + JP_STORE_TS_LEN, val, vlen);
    if (e) {
        m->bytes -= jp_store_ent_bytes(e);
        if (e->dirty)
            m->ndirty--;
        if (!reuse)
            free(e->buf);
    } else {
        e = jp_store_map_slot(m, h);
        if (!e) {
            free(buf);
            jp_err_set(s->err, sizeof s->err, "out of memory");
            return NULL;
        }
        m->count++;
    }
    if (!reuse)
        e->cap = jp_store_ent_cap(need);
    e->buf = buf;
    e->hash = h;
    e->klen = klen;
    e->vlen = vlen;
    e->kind = kind;
    e->dirty = dirty ? 1 : 0;
    e->ref = 1;
    m->bytes += jp_store_ent_bytes(e);
    if (dirty)
        m->ndirty++;
    m->hint = e;
    return e;
}

/* Sorted copies of the dirty entries of m whose key has prefix. */
static int jp_store_ref_cmp(const void *a, const void *b)
{
    const jp_store_ref_t *x = a, *y = b;
    if (x->pfx != y->pfx)
        return x->pfx < y->pfx ? -1 : 1;
    return jp_store_key_cmp(x->key, x->klen, y->key, y->klen);
}

static uint64_t jp_store_key_prefix(const unsigned char *key, size_t klen)
{
    unsigned char pad[8] = {0};
    memcpy(pad, key, klen < 8 ? klen : 8);
    return jp_be64_get(pad);
}

/* Sorts refs by key: LSD radix sort of (8-byte prefix, position) pairs,
 * then the rare runs of equal prefixes by full key. A commit sorts every
 * dirty key (tens of thousands), and qsort's indirect comparisons were a
 * tenth of a commit. -1 if out of memory (r unchanged). */
typedef struct {
    uint64_t pfx;
    size_t at;
} jp_store_pfx_t;

static int jp_store_sort_refs(jp_store_ref_t *r, size_t n)
{
    if (n < 64) {
        qsort(r, n, sizeof *r, jp_store_ref_cmp);
        return 0;
    }
    jp_store_pfx_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    jp_store_ref_t *out = malloc(n * sizeof *out);
    if (!a || !b || !out) {
        free(a);
        free(b);
        free(out);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        a[i] = (jp_store_pfx_t){r[i].pfx, i};
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[((a[i].pfx >> shift) & 0xff) + 1]++;
        if (count[((a[0].pfx >> shift) & 0xff) + 1] == n)
            continue; /* every key has the same byte here */
        for (int d = 0; d < 256; d++)
            count[d + 1] += count[d];
        for (size_t i = 0; i < n; i++)
            b[count[(a[i].pfx >> shift) & 0xff]++] = a[i];
        jp_store_pfx_t *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = r[a[i].at];
    for (size_t i = 0; i < n;) { /* equal prefixes: by the whole key */
        size_t j = i + 1;
        while (j < n && out[j].pfx == out[i].pfx)
            j++;
        if (j - i > 1)
            qsort(out + i, j - i, sizeof *out, jp_store_ref_cmp);
        i = j;
    }
    memcpy(r, out, n * sizeof *r);
    free(a);
    free(b);
    free(out);
    return 0;
}

static int jp_store_collect_dirty(jp_store_t *s, const jp_store_map_t *m, const void *prefix,
                                  size_t plen, jp_store_ref_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!m->ndirty)
        return 0;
    jp_store_ref_t *r = malloc(m->ndirty * sizeof *r);
    if (!r) {
        jp_err_set(s->err, sizeof s->err, "out of memory");
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < m->cap; i++) {
        const jp_store_ent_t *e = &m->slot[i];
        if (!e->buf || !e->dirty || !jp_store_has_prefix(e->buf, e->klen, prefix, plen))
            continue;
        int put = e->kind == JP_ENT_VALUE;
        r[k++] = (jp_store_ref_t){jp_store_key_prefix(e->buf, e->klen),
                                  e->buf,
                                  e->klen,
                                  put ? jp_store_ent_val(e) : NULL,
                                  put ? e->vlen : 0,
                                  put ? jp_store_ent_ts(e) : 0};
    }
    if (jp_store_sort_refs(r, k) != 0) {
        free(r);
        jp_err_set(s->err, sizeof s->err, "out of memory");
        return -1;
    }
    *out = r;
    *n = k;
    return 0;
}

/* The whole dirty set of cf, sorted, owned by the store: computed once
 * for the changelog walk and the commit that follows, unless a write came
 * in between. */
static int jp_store_sorted_dirty(jp_store_t *s, int cf, const jp_store_ref_t **r, size_t *n)
{
    if (!s->sorted[cf].valid || s->sorted[cf].gen != s->gen) {
        jp_store_ref_t *fresh = NULL;
        size_t k = 0;
        if (jp_store_collect_dirty(s, &s->map[cf], NULL, 0, &fresh, &k) != 0)
            return -1;
        free(s->sorted[cf].r);
        s->sorted[cf].r = fresh;
        s->sorted[cf].n = k;
        s->sorted[cf].gen = s->gen;
        s->sorted[cf].valid = 1;
    }
    *r = s->sorted[cf].r;
    *n = s->sorted[cf].n;
    return 0;
}

static void jp_store_sorted_drop(jp_store_t *s)
{
    for (int c = 0; c < s->n_cfs; c++) {
        free(s->sorted[c].r);
        s->sorted[c].r = NULL;
        s->sorted[c].valid = 0;
    }
}

/* ---- env ---------------------------------------------------------------- */

jp_store_env_t *jp_store_env_new(const jp_store_cf_def_t *cfs, size_t n_cfs,
                                 size_t block_cache_bytes, size_t write_buffer_bytes)
{
    if (!cfs || n_cfs == 0 || n_cfs > JP_STORE_MAX_CFS)
        return NULL;
    jp_store_env_t *env = calloc(1, sizeof *env);
    if (!env)
        return NULL;
    for (size_t c = 0; c < n_cfs; c++) {
        if (!cfs[c].name || !*cfs[c].name || strcmp(cfs[c].name, "default") == 0 ||
            cfs[c].weight == 0) {
            free(env);
            return NULL;
        }
        env->cfs[c] = cfs[c];
        env->weight_sum += cfs[c].weight;
    }
    env->n_cfs = (int)n_cfs;
    if (pthread_mutex_init(&env->lock, NULL) != 0) {
        free(env);
        return NULL;
    }
    env->env = rocksdb_create_default_env();
    env->cache = rocksdb_cache_create_lru(block_cache_bytes);
    env->bbto = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(env->bbto, env->cache);
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(env->bbto, 1);
    rocksdb_block_based_options_set_pin_l0_filter_and_index_blocks_in_cache(env->bbto, 1);
    /* the table options take ownership of the policy */
    rocksdb_block_based_options_set_filter_policy(
        env->bbto, rocksdb_filterpolicy_create_bloom_full(JP_STORE_BLOOM));
    env->wb_budget = write_buffer_bytes;
    return env;
}

void jp_store_env_free(jp_store_env_t *env)
{
    if (!env)
        return;
    rocksdb_block_based_options_destroy(env->bbto);
    rocksdb_cache_destroy(env->cache);
    rocksdb_env_destroy(env->env);
    pthread_mutex_destroy(&env->lock);
    free(env);
}

void jp_store_env_expect_stores(jp_store_env_t *env, size_t n)
{
    pthread_mutex_lock(&env->lock);
    env->expected = n;
    pthread_mutex_unlock(&env->lock);
}

/* Memtable size of cf with n stores open (see jp_store.h). */
static size_t jp_store_env_wbs(const jp_store_env_t *env, size_t n, int cf)
{
    if (n < env->expected)
        n = env->expected;
    size_t per =
        env->wb_budget / (n ? n : 1) / JP_STORE_N_WBUF / env->weight_sum * env->cfs[cf].weight;
    size_t p = JP_STORE_MIN_WBS;
    while (p <= per / 2)
        p *= 2;
    return p;
}

/* Applies the current split to every open store. Caller holds env->lock.
 * A failed SetOptions only leaves that CF on its previous size. */
static void jp_store_env_rebalance(jp_store_env_t *env)
{
    for (jp_store_t *s = env->stores; s; s = s->next)
        for (int c = 0; c < env->n_cfs; c++) {
            size_t wbs = jp_store_env_wbs(env, env->n_stores, c);
            if (s->wbs[c] == wbs)
                continue;
            char val[32], *err = NULL;
            snprintf(val, sizeof val, "%zu", wbs);
            const char *keys[1] = {"write_buffer_size"}, *vals[1] = {val};
            rocksdb_set_options_cf(s->db, s->cfh[c + 1], 1, keys, vals, &err);
            if (err)
                rocksdb_free(err);
            else
                s->wbs[c] = wbs;
        }
}

/* ---- open / close ------------------------------------------------------- */

static rocksdb_options_t *jp_store_options(jp_store_env_t *env, size_t wbs)
{
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_set_create_missing_column_families(o, 1);
    rocksdb_options_set_env(o, env->env);
    rocksdb_options_set_block_based_table_factory(o, env->bbto);
    rocksdb_options_set_write_buffer_size(o, wbs);
    rocksdb_options_set_max_write_buffer_number(o, JP_STORE_N_WBUF);
    rocksdb_options_set_max_background_jobs(o, 2);
    /* No compression (Kafka Streams' RocksDB default too): values are a few
     * dozen bytes of varints that Snappy barely shrinks, the changelog is
     * the durable copy, and flushes and compactions run on the cores the
     * processor needs - Snappy was ~2% of a task's CPU time. */
    rocksdb_options_set_compression(o, rocksdb_no_compression);
    /* Every CF flushes with the others, so a store without a WAL still
     * reopens at one batch (jp_store_set_durability). */
    rocksdb_options_set_atomic_flush(o, 1);
    rocksdb_options_set_info_log_level(o, 2 /* WARN */);
    rocksdb_options_set_keep_log_file_num(o, 2);
    rocksdb_options_set_max_log_file_size(o, 1024 * 1024);
    /* Sorted batches insert from the last position (see Memtables above).
     * The C API has no setter; an options string does it. If this RocksDB
     * does not know the option, the store works without it. */
    rocksdb_options_t *hinted = rocksdb_options_create();
    char *err = NULL;
    rocksdb_get_options_from_string(
        o, "memtable_insert_with_hint_prefix_extractor=rocksdb.FixedPrefix.0", hinted, &err);
    if (err) {
        rocksdb_free(err);
        rocksdb_options_destroy(hinted);
        return o;
    }
    rocksdb_options_destroy(o);
    return hinted;
}

jp_store_t *jp_store_open(jp_store_env_t *env, const char *path, char *errstr, size_t errstr_size)
{
    if (!env || !path || !*path) {
        jp_err_set(errstr, errstr_size, "jp_store_open: env and path are required");
        return NULL;
    }
    jp_store_t *s = calloc(1, sizeof *s);
    if (!s) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    s->env = env;
    s->n_cfs = env->n_cfs;
    s->max_entries = JP_STORE_CACHE_MAX_ENTRIES;
    s->max_bytes = JP_STORE_CACHE_MAX_BYTES;

    /* Options per CF, memtable sizes as if this store were open already
     * (the default CF holds nothing: the smallest size). */
    const int n = env->n_cfs;
    rocksdb_options_t *cfo_own[JP_STORE_MAX_CFS + 1] = {0};
    pthread_mutex_lock(&env->lock);
    for (int c = 0; c <= n; c++) {
        size_t wbs = c ? jp_store_env_wbs(env, env->n_stores + 1, c - 1) : JP_STORE_MIN_WBS;
        if (c)
            s->wbs[c - 1] = wbs;
        cfo_own[c] = jp_store_options(env, wbs);
    }
    pthread_mutex_unlock(&env->lock);

    const char *names[JP_STORE_MAX_CFS + 1];
    const rocksdb_options_t *cfo[JP_STORE_MAX_CFS + 1];
    names[0] = "default";
    for (int c = 0; c < n; c++)
        names[c + 1] = env->cfs[c].name;
    for (int c = 0; c <= n; c++)
        cfo[c] = cfo_own[c];
    char *err = NULL;
    s->db = rocksdb_open_column_families(cfo_own[0], path, n + 1, names, cfo, s->cfh, &err);
    for (int c = 0; c <= n; c++)
        rocksdb_options_destroy(cfo_own[c]);
    if (err || !s->db) {
        jp_store_rderr(errstr, errstr_size, path, err);
        free(s);
        return NULL;
    }
    s->ropts = rocksdb_readoptions_create();
    s->wopts = rocksdb_writeoptions_create();

    pthread_mutex_lock(&env->lock);
    s->next = env->stores;
    if (env->stores)
        env->stores->prev = s;
    env->stores = s;
    env->n_stores++;
    jp_store_env_rebalance(env);
    pthread_mutex_unlock(&env->lock);
    return s;
}

void jp_store_close(jp_store_t *s)
{
    if (!s)
        return;
    jp_store_env_t *env = s->env;
    pthread_mutex_lock(&env->lock);
    if (s->prev)
        s->prev->next = s->next;
    else
        env->stores = s->next;
    if (s->next)
        s->next->prev = s->prev;
    env->n_stores--;
    jp_store_env_rebalance(env);
    pthread_mutex_unlock(&env->lock);

    jp_store_sorted_drop(s);
    for (int c = 0; c < s->n_cfs; c++) {
        jp_store_map_free(&s->map[c]);
        jp_u64set_free(&s->keys[c].set);
    }
    for (int c = 0; c <= s->n_cfs; c++)
        rocksdb_column_family_handle_destroy(s->cfh[c]);
    rocksdb_close(s->db);
    rocksdb_readoptions_destroy(s->ropts);
    rocksdb_writeoptions_destroy(s->wopts);
    free(s);
}

int jp_store_destroy_path(const char *path, char *errstr, size_t errstr_size)
{
    struct stat st;
    if (!path || !*path) {
        jp_err_set(errstr, errstr_size, "jp_store_destroy_path: path is required");
        return -1;
    }
    if (stat(path, &st) != 0 && errno == ENOENT)
        return 0;
    rocksdb_options_t *o = rocksdb_options_create();
    char *err = NULL;
    rocksdb_destroy_db(o, path, &err);
    rocksdb_options_destroy(o);
    if (err) {
        jp_store_rderr(errstr, errstr_size, path, err);
        return -1;
    }
    /* DestroyDB leaves the directory if anything else lives in it */
    if (rmdir(path) != 0 && errno != ENOENT) {
        jp_err_set(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

void jp_store_set_cache_limit(jp_store_t *s, size_t max_entries, size_t max_bytes)
{
    s->max_entries = max_entries;
    s->max_bytes = max_bytes;
}

void jp_store_set_durability(jp_store_t *s, jp_store_durability_t d)
{
    s->no_wal = d == JP_STORE_NO_WAL;
    rocksdb_writeoptions_disable_WAL(s->wopts, s->no_wal);
    rocksdb_writeoptions_set_sync(s->wopts, d == JP_STORE_WAL_SYNC);
}

size_t jp_store_cache_entries(const jp_store_t *s)
{
    size_t n = 0;
    for (int c = 0; c < s->n_cfs; c++)
        n += s->map[c].count;
    return n;
}

const char *jp_store_last_error(const jp_store_t *s)
{
    return s->err;
}

/* ---- key filter --------------------------------------------------------- */

/* (Re)builds cf's filter from the keys RocksDB holds, sized for twice as
 * many, so that adds and deletes between rebuilds cost O(1) amortized scans
 * per key. Called with nothing dirty in cf (open, end of a commit). On
 * failure the filter is dropped: the store reads RocksDB for every miss
 * again, which is slower but exact. */
static int jp_store_keys_build(jp_store_t *s, int cf)
{
    jp_store_keys_t *k = &s->keys[cf];
    jp_u64set_free(&k->set);
    k->tracked = 0;
    k->removed = 0;
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_fill_cache(ro, 0);
    jp_store_perf_off();
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, ro, s->cfh[cf + 1]);
    int rc = 0;
    for (rocksdb_iter_seek_to_first(it); rc == 0 && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl = 0;
        const char *key = rocksdb_iter_key(it, &kl);
        rc = jp_u64set_add(&k->set, jp_store_hash(key, kl)) < 0 ? -1 : 0;
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    if (err) {
        jp_store_rderr(s->err, sizeof s->err, "key filter", err);
        rc = -1;
    }
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    if (rc == 0)
        k->tracked = 1;
    else
        jp_u64set_free(&k->set);
    return rc;
}

int jp_store_track_keys(jp_store_t *s, int cf)
{
    if (!jp_store_cf_ok(s, cf)) {
        if (s)
            jp_err_set(s->err, sizeof s->err, "invalid column family %d", (int)cf);
        return -1;
    }
    if (s->map[cf].ndirty) {
        jp_err_set(s->err, sizeof s->err, "track_keys: %s has uncommitted writes",
                   s->env->cfs[cf].name);
        return -1;
    }
    return jp_store_keys_build(s, cf);
}

/* ---- reads and writes --------------------------------------------------- */

/* Reads key from RocksDB into the cache (as a clean VALUE or ABSENT);
 * h is its hash. A key the filter has never seen is absent without a read. */
static jp_store_ent_t *jp_store_load(jp_store_t *s, int cf, const void *key, size_t klen,
                                     uint64_t h)
{
    if (s->keys[cf].tracked && !jp_u64set_has(&s->keys[cf].set, h))
        return jp_store_cache_set(s, cf, key, klen, h, NULL, JP_ENT_ABSENT, JP_STORE_NO_TTL, NULL,
                                  0, 0);
    char *err = NULL;
    jp_store_perf_off();
    rocksdb_pinnableslice_t *ps =
        rocksdb_get_pinned_cf(s->db, s->ropts, s->cfh[cf + 1], (const char *)key, klen, &err);
    if (err) {
        jp_store_rderr(s->err, sizeof s->err, "get", err);
        return NULL;
    }
    if (!ps)
        return jp_store_cache_set(s, cf, key, klen, h, NULL, JP_ENT_ABSENT, JP_STORE_NO_TTL, NULL,
                                  0, 0);
    size_t len = 0;
    const unsigned char *v = (const unsigned char *)rocksdb_pinnableslice_value(ps, &len);
    jp_store_ent_t *e = NULL;
    if (len < JP_STORE_TS_LEN)
        jp_err_set(s->err, sizeof s->err, "%s: corrupt value (%zu bytes)", s->env->cfs[cf].name,
                   len);
    else
        e = jp_store_cache_set(s, cf, key, klen, h, NULL, JP_ENT_VALUE, jp_store_ts_get(v),
                               v + JP_STORE_TS_LEN, len - JP_STORE_TS_LEN, 0);
    rocksdb_pinnableslice_destroy(ps);
    return e;
}

int jp_store_get_ts(jp_store_t *s, int cf, const void *key, size_t klen, const void **val,
                    size_t *vlen, int64_t *event_time_ms)
{
    if (!jp_store_cf_ok(s, cf)) {
        if (s)
            jp_err_set(s->err, sizeof s->err, "invalid column family %d", (int)cf);
        return -1;
    }
    /* Not through the hint: a read rarely repeats the key before it (and
     * checking made random reads slower); the update after it does. */
    uint64_t h = jp_store_hash(key, klen);
    jp_store_ent_t *e = jp_store_map_find(&s->map[cf], key, klen, h);
    if (!e && !(e = jp_store_load(s, cf, key, klen, h)))
        return -1;
    s->map[cf].hint = e;
    e->ref = 1;
    if (e->kind != JP_ENT_VALUE)
        return 0;
    if (val)
        *val = jp_store_ent_val(e);
    if (vlen)
        *vlen = e->vlen;
    if (event_time_ms)
        *event_time_ms = jp_store_ent_ts(e);
    return 1;
}

int jp_store_get(jp_store_t *s, int cf, const void *key, size_t klen, const void **val,
                 size_t *vlen)
{
    return jp_store_get_ts(s, cf, key, klen, val, vlen, NULL);
}

int jp_store_put_ts(jp_store_t *s, int cf, const void *key, size_t klen, const void *val,
                    size_t vlen, int64_t event_time_ms)
{
    if (!jp_store_cf_ok(s, cf)) {
        if (s)
            jp_err_set(s->err, sizeof s->err, "invalid column family %d", (int)cf);
        return -1;
    }
    uint64_t h;
    jp_store_ent_t *e = jp_store_lookup(&s->map[cf], key, klen, &h);
    return jp_store_cache_set(s, cf, key, klen, h, e, JP_ENT_VALUE, event_time_ms, val, vlen, 1)
               ? 0
               : -1;
}

int jp_store_put(jp_store_t *s, int cf, const void *key, size_t klen, const void *val, size_t vlen)
{
    return jp_store_put_ts(s, cf, key, klen, val, vlen, JP_STORE_NO_TTL);
}

int jp_store_del(jp_store_t *s, int cf, const void *key, size_t klen)
{
    if (!jp_store_cf_ok(s, cf)) {
        if (s)
            jp_err_set(s->err, sizeof s->err, "invalid column family %d", (int)cf);
        return -1;
    }
    uint64_t h;
    jp_store_ent_t *e = jp_store_lookup(&s->map[cf], key, klen, &h);
    if (e && e->kind == JP_ENT_ABSENT && !e->dirty)
        return 0;
    return jp_store_cache_set(s, cf, key, klen, h, e, JP_ENT_ABSENT, JP_STORE_NO_TTL, NULL, 0, 1)
               ? 0
               : -1;
}

int jp_store_touch(jp_store_t *s, int cf, const void *key, size_t klen)
{
    if (!jp_store_cf_ok(s, cf)) {
        if (s)
            jp_err_set(s->err, sizeof s->err, "invalid column family %d", (int)cf);
        return -1;
    }
    jp_store_map_t *m = &s->map[cf];
    uint64_t h;
    jp_store_ent_t *e = jp_store_lookup(m, key, klen, &h);
    if (!e && !(e = jp_store_load(s, cf, key, klen, h)))
        return -1;
    if (!e->dirty) {
        e->dirty = 1;
        m->ndirty++;
        s->gen++;
    }
    return 0;
}

/* ---- dirty set and commit ----------------------------------------------- */

int jp_store_dirty_foreach_ts(jp_store_t *s, jp_store_dirty_ts_cb fn, void *ctx)
{
    for (int c = 0; c < s->n_cfs; c++) {
        const jp_store_ref_t *r;
        size_t n;
        if (jp_store_sorted_dirty(s, c, &r, &n) != 0)
            return -1;
        int rc = 0;
        for (size_t i = 0; i < n && !rc; i++)
            rc = fn(ctx, c, r[i].key, r[i].klen, r[i].val, r[i].vlen, r[i].ts);
        if (rc)
            return rc;
    }
    return 0;
}

typedef struct {
    jp_store_dirty_cb fn;
    void *ctx;
} jp_store_dirty_adapter_t;

static int jp_store_dirty_adapt(void *ctx, int cf, const void *key, size_t klen, const void *val,
                                size_t vlen, int64_t ts)
{
    (void)ts;
    jp_store_dirty_adapter_t *a = ctx;
    return a->fn(a->ctx, cf, key, klen, val, vlen);
}

int jp_store_dirty_foreach(jp_store_t *s, jp_store_dirty_cb fn, void *ctx)
{
    jp_store_dirty_adapter_t a = {fn, ctx};
    return jp_store_dirty_foreach_ts(s, jp_store_dirty_adapt, &a);
}

size_t jp_store_dirty_count(const jp_store_t *s)
{
    size_t n = 0;
    for (int c = 0; c < s->n_cfs; c++)
        n += s->map[c].ndirty;
    return n;
}

int jp_store_commit(jp_store_t *s, const jp_store_kv_t *meta, size_t n_meta, char *errstr,
                    size_t errstr_size)
{
    if (n_meta > (size_t)INT32_MAX || (n_meta && !meta)) {
        jp_err_set(errstr, errstr_size, "commit: invalid meta entries");
        return -1;
    }
    /* Key order: the memtable's skiplist inserts a sorted batch several
     * times faster than one in hash order, and the batch is deterministic. */
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    size_t removed[JP_STORE_MAX_CFS] = {0};
    for (int c = 0; c < s->n_cfs; c++) {
        const jp_store_ref_t *r;
        size_t n;
        if (jp_store_sorted_dirty(s, c, &r, &n) != 0) {
            rocksdb_writebatch_destroy(wb);
            jp_err_set(errstr, errstr_size, "commit: out of memory");
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            if (r[i].val)
                rocksdb_writebatch_put_cf(wb, s->cfh[c + 1], (const char *)r[i].key, r[i].klen,
                                          (const char *)r[i].key + r[i].klen,
                                          JP_STORE_TS_LEN + r[i].vlen);
            else
                rocksdb_writebatch_delete_cf(wb, s->cfh[c + 1], (const char *)r[i].key, r[i].klen);
            removed[c] += !r[i].val;
        }
    }
    unsigned char ts[JP_STORE_TS_LEN];
    jp_store_ts_put(ts, JP_STORE_NO_TTL);
    for (size_t i = 0; i < n_meta; i++) {
        const char *kp[1] = {meta[i].klen ? meta[i].key : ""};
        const char *vp[2] = {(const char *)ts, meta[i].vlen ? meta[i].val : ""};
        size_t ks[1] = {meta[i].klen}, vs[2] = {JP_STORE_TS_LEN, meta[i].vlen};
        rocksdb_writebatch_putv_cf(wb, s->cfh[JP_STORE_META_CF + 1], 1, kp, ks, 2, vp, vs);
    }
    char *err = NULL;
    jp_store_perf_off();
    rocksdb_write(s->db, s->wopts, wb, &err);
    rocksdb_writebatch_destroy(wb);
    if (err) {
        jp_store_rderr(errstr, errstr_size, "commit", err);
        return -1;
    }
    jp_store_sorted_drop(s); /* entries are about to be cleaned and evicted */
    /* Without a WAL a crash loses every batch since the last flush, and
     * the changelog must replay them: flush every JP_STORE_FLUSH_EVERY
     * commits to bound that replay. The C API flushes one column family
     * at a time, so meta (the offsets a restore resumes from) goes last:
     * a crash in between leaves data ahead of meta, which the replay of
     * whole values overwrites, never meta ahead of data. */
    if (s->no_wal && ++s->commits_unflushed >= JP_STORE_FLUSH_EVERY) {
        rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
        rocksdb_flushoptions_set_wait(fo, 1);
        for (int c = s->n_cfs - 1; c >= 0; c--) { /* JP_STORE_META_CF is 0: last */
            char *ferr = NULL;
            rocksdb_flush_cf(s->db, fo, s->cfh[c + 1], &ferr);
            rocksdb_free(ferr); /* a failed flush only lengthens a restore */
        }
        rocksdb_flushoptions_destroy(fo);
        s->commits_unflushed = 0;
    }
    /* meta entries bypassed the cache: drop any cached copy */
    jp_store_map_t *mm = &s->map[JP_STORE_META_CF];
    for (size_t i = 0; i < n_meta; i++) {
        jp_store_ent_t *e = jp_store_map_find(mm, meta[i].key, meta[i].klen,
                                              jp_store_hash(meta[i].key, meta[i].klen));
        if (e)
            jp_store_map_remove_at(mm, (size_t)(e - mm->slot));
    }
    for (int c = 0; c < s->n_cfs; c++) {
        jp_store_map_t *m = &s->map[c];
        for (size_t i = 0; m->ndirty && i < m->cap; i++) {
            if (m->slot[i].buf && m->slot[i].dirty) {
                m->slot[i].dirty = 0;
                m->ndirty--;
            }
        }
        jp_store_map_evict(m, s->max_entries, s->max_bytes);
        jp_store_map_shrink(m);
        jp_store_keys_t *k = &s->keys[c];
        k->removed += removed[c];
        if (k->tracked && k->removed > jp_u64set_count(&k->set) / 2)
            jp_store_keys_build(s, c);
    }
    return 0;
}

/* ---- scan and expiry ---------------------------------------------------- */

int jp_store_scan(jp_store_t *s, int cf, const void *prefix, size_t plen, jp_store_iter_cb fn,
                  void *ctx)
{
    if (!jp_store_cf_ok(s, cf)) {
        if (s)
            jp_err_set(s->err, sizeof s->err, "invalid column family %d", (int)cf);
        return -1;
    }
    if (!prefix)
        plen = 0;
    jp_store_ref_t *d;
    size_t nd;
    if (jp_store_collect_dirty(s, &s->map[cf], prefix, plen, &d, &nd) != 0)
        return -1;

    /* Upper bound = the prefix's successor, so RocksDB stops at the
     * prefix's end instead of stepping over deleted keys past it. */
    unsigned char *ub = NULL;
    size_t ublen = plen;
    if (plen) {
        ub = malloc(plen);
        if (!ub) {
            free(d);
            jp_err_set(s->err, sizeof s->err, "out of memory");
            return -1;
        }
        memcpy(ub, prefix, plen);
        while (ublen && ub[ublen - 1] == 0xff)
            ublen--;
        if (ublen)
            ub[ublen - 1]++;
    }
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    if (ublen)
        rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)ub, ublen);
    jp_store_perf_off();
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, ro, s->cfh[cf + 1]);
    if (plen)
        rocksdb_iter_seek(it, prefix, plen);
    else
        rocksdb_iter_seek_to_first(it);

    int rc = 0;
    size_t j = 0;
    for (;;) {
        const char *ik = NULL;
        size_t ikl = 0;
        int ivalid = rocksdb_iter_valid(it);
        if (ivalid) {
            ik = rocksdb_iter_key(it, &ikl);
            ivalid = jp_store_has_prefix(ik, ikl, prefix, plen);
        }
        if (!ivalid && j >= nd)
            break;
        int c = !ivalid ? 1 : j >= nd ? -1 : jp_store_key_cmp(ik, ikl, d[j].key, d[j].klen);
        if (c < 0) {
            size_t vl = 0;
            const char *v = rocksdb_iter_value(it, &vl);
            if (vl < JP_STORE_TS_LEN) {
                jp_err_set(s->err, sizeof s->err, "%s: corrupt value (%zu bytes)",
                           s->env->cfs[cf].name, vl);
                rc = -1;
                break;
            }
            rc = fn(ctx, ik, ikl, v + JP_STORE_TS_LEN, vl - JP_STORE_TS_LEN);
            rocksdb_iter_next(it);
        } else {
            if (c == 0)
                rocksdb_iter_next(it); /* the cache's version wins */
            if (d[j].val)
                rc = fn(ctx, d[j].key, d[j].klen, d[j].val, d[j].vlen);
            j++;
        }
        if (rc)
            break;
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    if (err) {
        jp_store_rderr(s->err, sizeof s->err, "scan", err);
        rc = -1;
    }
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    free(ub);
    free(d);
    return rc;
}

long jp_store_expire(jp_store_t *s, int cf, int64_t cutoff_ms)
{
    if (!jp_store_cf_ok(s, cf)) {
        if (s)
            jp_err_set(s->err, sizeof s->err, "invalid column family %d", (int)cf);
        return -1;
    }
    jp_store_map_t *m = &s->map[cf];
    long n = 0;
    /* Committed entries the cache does not hold: the cache's version (same
     * as disk if clean, newer if dirty) is judged in the second pass. */
    jp_store_perf_off();
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, s->ropts, s->cfh[cf + 1]);
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl = 0, vl = 0;
        const char *k = rocksdb_iter_key(it, &kl);
        const unsigned char *v = (const unsigned char *)rocksdb_iter_value(it, &vl);
        if (vl < JP_STORE_TS_LEN) {
            jp_err_set(s->err, sizeof s->err, "%s: corrupt value (%zu bytes)", s->env->cfs[cf].name,
                       vl);
            n = -1;
            break;
        }
        uint64_t h;
        if (jp_store_ts_get(v) >= cutoff_ms || jp_store_lookup(m, k, kl, &h))
            continue;
        if (!jp_store_cache_set(s, cf, k, kl, h, NULL, JP_ENT_ABSENT, JP_STORE_NO_TTL, NULL, 0,
                                1)) {
            n = -1;
            break;
        }
        n++;
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    rocksdb_iter_destroy(it);
    if (err) {
        jp_store_rderr(s->err, sizeof s->err, "expire", err);
        return -1;
    }
    if (n < 0)
        return -1;
    /* Cached values (turning one into a tombstone never moves slots). */
    for (size_t i = 0; i < m->cap; i++) {
        jp_store_ent_t *e = &m->slot[i];
        if (!e->buf || e->kind != JP_ENT_VALUE || jp_store_ent_ts(e) >= cutoff_ms)
            continue;
        m->bytes -= e->vlen;
        e->vlen = 0;
        jp_store_ts_put(e->buf + e->klen, JP_STORE_NO_TTL);
        e->kind = JP_ENT_ABSENT;
        if (!e->dirty) {
            e->dirty = 1;
            m->ndirty++;
        }
        n++;
    }
    return n;
}

void jp_store_size(jp_store_t *s, uint64_t *bytes, uint64_t *keys)
{
    uint64_t b = 0, k = 0;
    for (int c = 1; c <= s->n_cfs; c++) {
        uint64_t v = 0;
        if (rocksdb_property_int_cf(s->db, s->cfh[c], "rocksdb.estimate-live-data-size", &v) == 0)
            b += v;
        if (rocksdb_property_int_cf(s->db, s->cfh[c], "rocksdb.cur-size-all-mem-tables", &v) == 0)
            b += v;
        if (rocksdb_property_int_cf(s->db, s->cfh[c], "rocksdb.estimate-num-keys", &v) == 0)
            k += v;
    }
    if (bytes)
        *bytes = b;
    if (keys)
        *keys = k;
}

/* ---- statistics ------------------------------------------------------------ */

void jp_store_env_stats(jp_store_env_t *env, jp_store_stats_t *out)
{
    static const char *const props[] = {"rocksdb.total-sst-files-size",
                                        "rocksdb.cur-size-all-mem-tables",
                                        "rocksdb.estimate-pending-compaction-bytes"};
    uint64_t sum[3] = {0, 0, 0};
    pthread_mutex_lock(&env->lock);
    for (jp_store_t *s = env->stores; s; s = s->next)
        for (int c = 1; c <= s->n_cfs; c++)
            for (int k = 0; k < 3; k++) {
                uint64_t v = 0;
                if (rocksdb_property_int_cf(s->db, s->cfh[c], props[k], &v) == 0)
                    sum[k] += v;
            }
    out->stores = env->n_stores;
    pthread_mutex_unlock(&env->lock);
    out->sst_bytes = sum[0];
    out->memtable_bytes = sum[1];
    out->pending_compaction_bytes = sum[2];
    out->block_cache_bytes = rocksdb_cache_get_usage(env->cache);
}

/* The perf context is per thread: reads of other threads (compactions)
 * are not counted, which is what a hit ratio of the engine's reads wants. */
void jp_store_count_reads(void)
{
    rocksdb_set_perf_level(rocksdb_enable_count);
}

void jp_store_read_counts(uint64_t *block_cache_hits, uint64_t *block_reads)
{
    rocksdb_perfcontext_t *pc = rocksdb_perfcontext_create();
    *block_cache_hits = rocksdb_perfcontext_metric(pc, rocksdb_block_cache_hit_count);
    *block_reads = rocksdb_perfcontext_metric(pc, rocksdb_block_read_count);
    rocksdb_perfcontext_destroy(pc);
}
