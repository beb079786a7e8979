/*
 * bench_store: jp_store on a real RocksDB in a temporary directory, on one
 * core (RocksDB's flush and compaction threads inherit the pinning, so
 * their cost is in the figures).
 *   put_commit   puts of 200k fresh keys (16-byte keys, 64-byte values),
 *                commit every 10k keys: keys/s
 *   get_hit      get of keys held by the write-back cache: ns/op
 *   get_miss     get of keys not in the cache, read from RocksDB (fresh
 *                env per run, so the block cache starts cold; the OS page
 *                cache does not): ns/op
 *   bulk_load    restore-style load of 1M keys (put + commit every 10k):
 *                seconds per million keys
 * Medians of jp_bench_runs() runs. The targets are ours: a task restores a
 * changelog partition in seconds and a cached get costs less than decoding
 * the event that triggers it.
 */
#include "jp_bench.h"
#include "model/base/jp_rng.h"
#include "engine/jp_store.h"
#include "engine/jp_task.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    PUT_KEYS = 200000,
    COMMIT_EVERY = 10000,
    HIT_KEYS = 50000,
    HIT_ROUNDS = 20,
    MISS_GETS = 100000,
    BULK_KEYS = 1000000,
    KEY_LEN = 16,
    VAL_LEN = 64
};

static void key_of(char *k, uint64_t i)
{
    snprintf(k, KEY_LEN + 1, "key-%012llu", (unsigned long long)i);
}

static void val_of(char *v, uint64_t i)
{
    memset(v, 'a' + (int)(i % 26), VAL_LEN);
    memcpy(v, &i, sizeof i);
}

static void die(const char *what, const char *err)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, err);
    exit(1);
}

static jp_store_t *open_fresh(jp_store_env_t *env, const char *path)
{
    char err[256];
    if (jp_store_destroy_path(path, err, sizeof err) != 0)
        die("destroy", err);
    jp_store_t *s = jp_store_open(env, path, err, sizeof err);
    if (!s)
        die("open", err);
    return s;
}

/* Puts keys [0, n) with a commit every COMMIT_EVERY keys; seconds. */
static double load(jp_store_t *s, uint64_t n)
{
    char k[KEY_LEN + 1], v[VAL_LEN], err[256];
    double t0 = jp_bench_now();
    for (uint64_t i = 0; i < n; i++) {
        key_of(k, i);
        val_of(v, i);
        if (jp_store_put(s, JP_CF_WINDOWS, k, KEY_LEN, v, VAL_LEN) != 0)
            die("put", jp_store_last_error(s));
        if ((i + 1) % COMMIT_EVERY == 0 || i + 1 == n) {
            jp_store_kv_t meta = {"offset", 6, &i, sizeof i};
            if (jp_store_commit(s, &meta, 1, err, sizeof err) != 0)
                die("commit", err);
        }
    }
    return jp_bench_now() - t0;
}

int main(void)
{
    jp_bench_pin_one_core();
    char tmpl[] = "/tmp/bench_store.XXXXXX";
    if (!mkdtemp(tmpl))
        die("mkdtemp", "failed");
    char path[sizeof tmpl + 8], bulk_path[sizeof tmpl + 8];
    snprintf(path, sizeof path, "%s/db", tmpl);
    snprintf(bulk_path, sizeof bulk_path, "%s/bulk", tmpl);
    int runs = jp_bench_runs();
    double *t_put = calloc((size_t)runs, sizeof(double));
    double *t_hit = calloc((size_t)runs, sizeof(double));
    double *t_miss = calloc((size_t)runs, sizeof(double));
    double *t_bulk = calloc((size_t)runs, sizeof(double));
    /* keys are formatted before the timed loops */
    char *keys = malloc((size_t)(HIT_KEYS > MISS_GETS ? HIT_KEYS : MISS_GETS) * (KEY_LEN + 1));
    if (!t_put || !t_hit || !t_miss || !t_bulk || !keys)
        die("setup", "out of memory");
    size_t acc = 0;
    char err[256];
    jp_rng_t rng;
    jp_rng_seed(&rng, 7);

    for (int r = 0; r < runs; r++) {
        jp_store_env_t *env =
            jp_store_env_new(jp_task_store_cfs, JP_CF__COUNT, 64u << 20, 64u << 20);
        if (!env)
            die("env", "out of memory");

        jp_store_t *s = open_fresh(env, path);
        t_put[r] = PUT_KEYS / load(s, PUT_KEYS);
        jp_store_close(s);

        /* hits: a working set that fits the cache, read after its commit */
        s = open_fresh(env, path);
        load(s, HIT_KEYS);
        for (uint64_t i = 0; i < HIT_KEYS; i++)
            key_of(keys + i * (KEY_LEN + 1), i * 7919 % HIT_KEYS);
        double t0 = jp_bench_now();
        for (int round = 0; round < HIT_ROUNDS; round++) {
            for (uint64_t i = 0; i < HIT_KEYS; i++) {
                const void *v;
                size_t vl;
                const char *hk = keys + ((i + (uint64_t)round) % HIT_KEYS) * (KEY_LEN + 1);
                acc += (size_t)jp_store_get(s, JP_CF_WINDOWS, hk, KEY_LEN, &v, &vl) + vl;
            }
        }
        t_hit[r] = (jp_bench_now() - t0) / ((double)HIT_KEYS * HIT_ROUNDS) * 1e9;
        jp_store_close(s);

        /* bulk load, then misses on it after a reopen with a fresh env */
        s = open_fresh(env, bulk_path);
        t_bulk[r] = load(s, BULK_KEYS) * (1e6 / BULK_KEYS);
        jp_store_close(s);
        jp_store_env_free(env);

        env = jp_store_env_new(jp_task_store_cfs, JP_CF__COUNT, 64u << 20, 64u << 20);
        s = env ? jp_store_open(env, bulk_path, err, sizeof err) : NULL;
        if (!s)
            die("reopen", err);
        for (uint64_t i = 0; i < MISS_GETS; i++)
            key_of(keys + i * (KEY_LEN + 1), jp_rng_below(&rng, BULK_KEYS));
        t0 = jp_bench_now();
        for (uint64_t i = 0; i < MISS_GETS; i++) {
            const void *v;
            size_t vl = 0;
            if (jp_store_get(s, JP_CF_WINDOWS, keys + i * (KEY_LEN + 1), KEY_LEN, &v, &vl) != 1)
                die("get", "bulk key missing");
            acc += vl;
        }
        t_miss[r] = (jp_bench_now() - t0) / MISS_GETS * 1e9;
        jp_store_close(s);
        jp_store_env_free(env);
    }
    jp_bench_sink(&acc);
    if (jp_store_destroy_path(path, err, sizeof err) != 0 ||
        jp_store_destroy_path(bulk_path, err, sizeof err) != 0)
        die("cleanup", err);
    rmdir(tmpl);

    size_t n = (size_t)runs;
    jp_bench_row("store", "put_commit_keys_per_s", jp_bench_median(t_put, n), "keys/s", ">= 200000",
                 "16B keys, 64B values, commit every 10k, WAL on");
    jp_bench_row("store", "get_hit_ns", jp_bench_median(t_hit, n), "ns/op", "<= 150",
                 "write-back cache hit");
    jp_bench_row("store", "get_miss_ns", jp_bench_median(t_miss, n), "ns/op", "<= 10000",
                 "RocksDB read of 1M-key store, cold block cache");
    jp_bench_row("store", "bulk_load_s_per_1M", jp_bench_median(t_bulk, n), "s/1M keys", "<= 10",
                 "restore-style put + commit every 10k");
    free(t_put);
    free(t_hit);
    free(t_miss);
    free(t_bulk);
    free(keys);
    return 0;
}
