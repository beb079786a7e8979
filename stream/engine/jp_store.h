/*
 * jp_store: one RocksDB database per task (input partition), with a column
 * family per state store, a write-back cache in front of it, and the
 * commit step of the commit protocol (docs/processor.md).
 *
 * Column families: the caller's table (jp_store_cf_def_t), given once to
 * the env: a name per column family (the RocksDB column family: a store
 * reopens only under the same names) and its memtable weight. Column
 * family 0 is the caller's metadata by contract: jp_store_commit writes
 * its meta entries there, and a store without a WAL flushes it last. Keys
 * and values are opaque bytes chosen by the caller. A column family is
 * named by its index in the table (the caller's enum).
 *
 * Write-back cache: jp_store_get/put/del work on an in-memory map per
 * column family; only jp_store_commit writes to RocksDB, in one atomic
 * WriteBatch together with the metadata the caller passes. Hot keys are
 * therefore read from RocksDB at most once and written once per commit.
 * The dirty set is exposed (jp_store_dirty_foreach) so the engine can
 * produce changelog records for exactly the keys changed since the last
 * commit, before committing (steps 1-4 of the protocol are the engine's;
 * this module does step 4 atomically). Eviction of clean entries happens
 * only at commit, so between two commits the cache holds every key touched.
 *
 * Memory: every store opened through one jp_store_env_t shares one LRU
 * block cache (index and filter blocks included) and one memtable budget,
 * so the process's RocksDB memory is bounded whatever the number of tasks.
 * RocksDB 7.8's C API has no WriteBufferManager, so the budget is enforced
 * by the env itself: with n stores open (or the expected count, if
 * larger: jp_store_env_expect_stores), each column family's
 * write_buffer_size is set (SetOptions, rebalanced on open and close) to
 * the largest power of two <= budget / (n * 2 memtables) * its weight /
 * the sum of the table's weights (the caller weighs where its writes go),
 * floor 256 KiB, with max_write_buffer_number = 2. Memtables therefore
 * stay within the budget unless n is so large that the floor applies.
 *
 * On-disk format (every column family): key = the engine's key bytes;
 * value = 8-byte little-endian two's-complement event time (ms) followed by
 * the engine's value bytes. Values written without an event time (put, and
 * commit's meta entries) carry JP_STORE_NO_TTL and never expire.
 * jp_store_get, scan and dirty_foreach return the engine's bytes only.
 *
 * TTL: entries of a column family with a TTL carry the event time they
 * were last written (jp_store_put_ts); jp_store_expire deletes those older
 * than a cutoff (event time, never wall time) through the same dirty path,
 * so expiry reaches the changelog as tombstones.
 *
 * Not thread-safe: a store belongs to the thread running its task. The env
 * may be shared by stores living on different threads (open and close lock).
 */
#ifndef JP_STORE_H
#define JP_STORE_H

#include <stddef.h>
#include <stdint.h>

/* One column family of the caller's table. */
typedef struct jp_store_cf_def_s {
    const char *name; /* RocksDB column family; not "default" */
    unsigned weight;  /* share of the memtable budget, > 0 */
} jp_store_cf_def_t;

/* Most column families a table may have. */
#define JP_STORE_MAX_CFS 15
/* The column family of jp_store_commit's meta entries. */
#define JP_STORE_META_CF 0

/* Event time of entries that never expire (put, meta). */
#define JP_STORE_NO_TTL INT64_MAX

/* Default cache bounds per column family, applied at commit. */
#define JP_STORE_CACHE_MAX_ENTRIES 100000
#define JP_STORE_CACHE_MAX_BYTES   (64u * 1024 * 1024)

typedef struct jp_store_env_s jp_store_env_t;
typedef struct jp_store_s jp_store_t;

/* Shared column family table, block cache and memtable budget
 * (write_buffer_bytes is the total for every store of the env, see Memory
 * above). cfs[0..n_cfs) is copied; its names must outlive the env. NULL if
 * out of memory or the table is invalid (empty, more than
 * JP_STORE_MAX_CFS, a name missing or "default", a weight of 0). Free only
 * after every store of the env is closed. */
jp_store_env_t *jp_store_env_new(const jp_store_cf_def_t *cfs, size_t n_cfs,
                                 size_t block_cache_bytes, size_t write_buffer_bytes);
void jp_store_env_free(jp_store_env_t *env);
/* The memtable split assumes at least n stores open (default 0: the
 * stores actually open). Resizing memtables rewrites each store's OPTIONS
 * file per column family, which costs more than a commit: a caller that
 * knows how many stores it may open (the engine: one per partition) sets
 * it once, so opening and closing stores never resizes. */
void jp_store_env_expect_stores(jp_store_env_t *env, size_t n);

/* Opens (creating if missing) the database at path. NULL with errstr. */
jp_store_t *jp_store_open(jp_store_env_t *env, const char *path, char *errstr, size_t errstr_size);
/* Closes without committing: uncommitted cache contents are dropped. */
void jp_store_close(jp_store_t *s);
/* Deletes a closed store's directory (e.g. before a full restore). A path
 * that does not exist is not an error. */
int jp_store_destroy_path(const char *path, char *errstr, size_t errstr_size);

/* Cache bounds per column family (entries, and bytes of keys + values),
 * enforced at the next commit by evicting clean entries (CLOCK order). */
void jp_store_set_cache_limit(jp_store_t *s, size_t max_entries, size_t max_bytes);
/* What a committed batch survives (the column families always flush
 * atomically, so a store reopens at one batch, never a mix):
 * - JP_STORE_WAL (default): a process crash; an OS crash may lose the
 *   last commits.
 * - JP_STORE_WAL_SYNC: an OS crash too (fsync at every commit).
 * - JP_STORE_NO_WAL: nothing; a crash reverts the store to its last
 *   memtable flush (every column family, meta included, at the same
 *   batch). For stores whose changelog replays the rest: each batch is
 *   written once instead of twice. Every 16th commit flushes (meta
 *   last), which bounds the replay; a clean close flushes. */
typedef enum { JP_STORE_WAL, JP_STORE_WAL_SYNC, JP_STORE_NO_WAL } jp_store_durability_t;
void jp_store_set_durability(jp_store_t *s, jp_store_durability_t d);
/* Entries (clean, dirty, cached absences) held by the cache, all CFs. */
size_t jp_store_cache_entries(const jp_store_t *s);
/* Message of the last failed get/put/del/scan/expire/dirty_foreach. */
const char *jp_store_last_error(const jp_store_t *s);

/*
 * Keeps the 64-bit hashes of the keys cf holds in RocksDB in memory
 * (jp_u64set, 16-32 bytes per key), so that reading a key the store never
 * wrote costs no RocksDB lookup - for column families where most reads
 * miss (new customers). Built now by scanning cf (which must have nothing
 * uncommitted), kept current by every write (growing by rehashing itself,
 * never by re-reading RocksDB), rebuilt by a scan at a commit once deletes
 * since the last build exceed half of it (a deleted key's hash stays until
 * then: it only costs the read it fails to save). Never a false negative.
 * 0, or -1 (the store then reads RocksDB for every miss, as without it;
 * the same happens if memory runs out later).
 */
int jp_store_track_keys(jp_store_t *s, int cf);

/* Read through the cache. Returns 1 and a pointer valid until the next
 * call that modifies this key or commits, 0 if absent (or deleted), -1 on
 * a RocksDB error (jp_store_last_error). val and vlen may be NULL. A miss
 * is cached, absence included. */
int jp_store_get(jp_store_t *s, int cf, const void *key, size_t klen, const void **val,
                 size_t *vlen);
/* As get, also returning the recorded event time (JP_STORE_NO_TTL if
 * none); ts may be NULL. */
int jp_store_get_ts(jp_store_t *s, int cf, const void *key, size_t klen, const void **val,
                    size_t *vlen, int64_t *event_time_ms);
/* Writes into the cache (copies key and value); marks the key dirty.
 * 0, or -1 if out of memory or cf is invalid. */
int jp_store_put(jp_store_t *s, int cf, const void *key, size_t klen, const void *val, size_t vlen);
/* As put, recording the event time for TTL expiry. */
int jp_store_put_ts(jp_store_t *s, int cf, const void *key, size_t klen, const void *val,
                    size_t vlen, int64_t event_time_ms);
/* Deletes through the cache (a dirty tombstone; a no-op for a key the
 * cache knows to be absent from RocksDB with nothing pending). */
int jp_store_del(jp_store_t *s, int cf, const void *key, size_t klen);

/* Marks key dirty as it stands - its cached or committed value, or a
 * tombstone if the store does not hold it - so that the next commit (and
 * the changelog) carries it again. For keys whose last changelog record
 * may not be the committed one (jp_engine's restore). 0, or -1 on a
 * RocksDB error or out of memory. */
int jp_store_touch(jp_store_t *s, int cf, const void *key, size_t klen);

/* Calls fn for every dirty key (val NULL for a tombstone), in key order
 * (memcmp, shorter first on a tie) per column family, column families in
 * table order: deterministic. fn must not modify the store. Returns 0, the
 * first non-zero value fn returned (which stops the walk), or -1 if out of
 * memory. */
typedef int (*jp_store_dirty_cb)(void *ctx, int cf, const void *key, size_t klen, const void *val,
                                 size_t vlen);
int jp_store_dirty_foreach(jp_store_t *s, jp_store_dirty_cb fn, void *ctx);
/* As dirty_foreach, with the event time of puts (JP_STORE_NO_TTL if none,
 * 0 for tombstones), so changelog records can carry it for restores. */
typedef int (*jp_store_dirty_ts_cb)(void *ctx, int cf, const void *key, size_t klen,
                                    const void *val, size_t vlen, int64_t event_time_ms);
int jp_store_dirty_foreach_ts(jp_store_t *s, jp_store_dirty_ts_cb fn, void *ctx);
size_t jp_store_dirty_count(const jp_store_t *s);

/* Writes every dirty key plus the given meta entries (column family
 * JP_STORE_META_CF; they win over a dirty meta key of the same name) in one atomic
 * batch (durability: jp_store_set_durability), then clears the dirty set. The cache keeps the
 * values (bounded: clean entries beyond the cache limit are evicted). On failure nothing is written
 * and the dirty set is kept, so commit can be retried. */
typedef struct jp_store_kv_s {
    const void *key;
    size_t klen;
    const void *val;
    size_t vlen;
} jp_store_kv_t;
int jp_store_commit(jp_store_t *s, const jp_store_kv_t *meta, size_t n_meta, char *errstr,
                    size_t errstr_size);

/* Iterates committed + cached state of a column family in key order
 * (dirty puts and tombstones of the cache win over RocksDB), from the
 * first key >= prefix (NULL: from the beginning), stopping when fn returns
 * non-zero or the key no longer has prefix (NULL: no prefix). fn must not
 * modify the store. Returns 0, the non-zero value fn returned, or -1 on an
 * error (jp_store_last_error). Costs a pass over the cache's slots plus
 * the sort of the matching dirty keys. */
typedef int (*jp_store_iter_cb)(void *ctx, const void *key, size_t klen, const void *val,
                                size_t vlen);
int jp_store_scan(jp_store_t *s, int cf, const void *prefix, size_t plen, jp_store_iter_cb fn,
                  void *ctx);

/* Deletes (as dirty tombstones) entries of cf whose recorded event time is
 * older than cutoff_ms (strictly). Returns how many, -1 on an error. Reads
 * the whole column family (committed + cached). */
long jp_store_expire(jp_store_t *s, int cf, int64_t cutoff_ms);

/* Approximate live bytes (SST estimate + memtables) and keys (RocksDB
 * properties, summed over the column families), for metrics. */
void jp_store_size(jp_store_t *s, uint64_t *bytes, uint64_t *keys);

/* RocksDB's own figures, summed over the env's open stores and column
 * families: live SST files, memtables, bytes compaction is estimated to
 * rewrite, and the shared block cache's usage. Thread-safe. */
typedef struct jp_store_stats_s {
    uint64_t sst_bytes, memtable_bytes, pending_compaction_bytes, block_cache_bytes;
    size_t stores;
} jp_store_stats_t;
void jp_store_env_stats(jp_store_env_t *env, jp_store_stats_t *out);
/* Counts the calling thread's block reads from now on (RocksDB's perf
 * context, counters only), and reads the counts: blocks found in the block
 * cache, and blocks read from files (the misses). */
void jp_store_count_reads(void);
void jp_store_read_counts(uint64_t *block_cache_hits, uint64_t *block_reads);

#endif
