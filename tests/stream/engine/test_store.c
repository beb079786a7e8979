/*
 * jp_store on a real RocksDB in a temporary directory: the write-back
 * cache (put/get/del, cached misses, eviction and re-reads), commit
 * atomicity against a killed process, deterministic dirty order, scans
 * merging dirty cache entries with RocksDB, TTL expiry through the dirty
 * path, many keys under a bounded cache, destroy, a shared env, errors.
 * Expected values come from the test's own model of the data (a plain
 * array of what was written), never from the store's output.
 *
 * Label: integration
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/jp_store.h"
#include "engine/jp_task.h"
#include "jp_test.h"

/* ---- helpers ------------------------------------------------------------- */

typedef struct {
    jp_store_env_t *env;
    char *dir;  /* test's temporary directory */
    char *path; /* dir/db */
    jp_store_t *s;
} fx_t;

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static jp_store_t *open_at(jp_store_env_t *env, const char *path)
{
    char err[256] = "";
    jp_store_t *s = jp_store_open(env, path, err, sizeof err);
    if (!s)
        fail_msg("open %s: %s", path, err);
    return s;
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->env = jp_store_env_new(jp_task_store_cfs, JP_CF__COUNT, 8u << 20, 16u << 20);
    assert_non_null(f->env);
    f->dir = jp_test_tmpdir("store");
    f->path = join(f->dir, "db");
    f->s = open_at(f->env, f->path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    jp_store_close(f->s);
    jp_store_env_free(f->env);
    jp_test_rmtree(f->dir);
    free(f->path);
    free(f->dir);
    free(f);
    return 0;
}

static void reopen(fx_t *f)
{
    jp_store_close(f->s);
    f->s = open_at(f->env, f->path);
}

static void commit(jp_store_t *s)
{
    char err[256] = "";
    if (jp_store_commit(s, NULL, 0, err, sizeof err) != 0)
        fail_msg("commit: %s", err);
}

static void put_s(jp_store_t *s, jp_cf_t cf, const char *k, const char *v)
{
    assert_int_equal(jp_store_put(s, cf, k, strlen(k), v, strlen(v)), 0);
}

/* Asserts key k holds v (NULL: absent). */
static void expect(jp_store_t *s, jp_cf_t cf, const char *k, const char *v)
{
    const void *p = NULL;
    size_t n = 0;
    int rc = jp_store_get(s, cf, k, strlen(k), &p, &n);
    if (!v) {
        if (rc != 0)
            fail_msg("%s/%s: expected absent, got rc %d", jp_cf_name(cf), k, rc);
        return;
    }
    if (rc != 1)
        fail_msg("%s/%s: expected \"%s\", got rc %d (%s)", jp_cf_name(cf), k, v, rc,
                 jp_store_last_error(s));
    assert_int_equal(n, strlen(v));
    assert_memory_equal(p, v, n);
}

/* Collects "cf:key=val" / "cf:key=<del>" lines (dirty) or "key=val" (scan). */
typedef struct {
    char buf[8192];
    size_t len;
    int stop_after; /* scan: return 1 after this many rows (0: never) */
    int rows;
} col_t;

static void col_add(col_t *c, const char *cf, const void *k, size_t kl, const void *v, size_t vl)
{
    int n = snprintf(c->buf + c->len, sizeof c->buf - c->len, "%s%s%.*s=%.*s;", cf ? cf : "",
                     cf ? ":" : "", (int)kl, (const char *)k, v ? (int)vl : 5,
                     v ? (const char *)v : "<del>");
    assert_true(n > 0 && (size_t)n < sizeof c->buf - c->len);
    c->len += (size_t)n;
    c->rows++;
}

static int dirty_cb(void *ctx, int cf, const void *k, size_t kl, const void *v, size_t vl)
{
    col_add(ctx, jp_cf_name(cf), k, kl, v, vl);
    return 0;
}

static int scan_cb(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
{
    col_t *c = ctx;
    col_add(c, NULL, k, kl, v, vl);
    return c->stop_after && c->rows >= c->stop_after;
}

static const char *dirty_str(jp_store_t *s, col_t *c)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(jp_store_dirty_foreach(s, dirty_cb, c), 0);
    return c->buf;
}

static const char *scan_str(jp_store_t *s, jp_cf_t cf, const char *prefix, col_t *c)
{
    int stop = c->stop_after;
    memset(c, 0, sizeof *c);
    c->stop_after = stop;
    int rc = jp_store_scan(s, cf, prefix, prefix ? strlen(prefix) : 0, scan_cb, c);
    assert_true(rc == 0 || rc == 1);
    return c->buf;
}

static void key_of(char *k, size_t n, long i)
{
    snprintf(k, n, "k%08ld", i);
}

static void val_of(char *v, size_t n, long i, int gen)
{
    snprintf(v, n, "v%ld.%d", i * 7919 % 100003, gen);
}

/* ---- tests --------------------------------------------------------------- */

/* argv[0], to run this program again as the crash child (not
 * /proc/self/exe: under valgrind that is valgrind itself). */
static const char *self_path;

/* The crash child (run as "test_store --crash-child PATH wal|nowal" by the test
 * below, a fresh process with no inherited RocksDB threads): commits, writes
 * more without committing, and SIGKILLs itself (no close, no destructors). */
static int crash_child(const char *path, int no_wal)
{
    char err[256];
    jp_store_env_t *env = jp_store_env_new(jp_task_store_cfs, JP_CF__COUNT, 1u << 20, 4u << 20);
    jp_store_t *s = env ? jp_store_open(env, path, err, sizeof err) : NULL;
    if (!s)
        return 2;
    if (no_wal)
        jp_store_set_durability(s, JP_STORE_NO_WAL);
    /* nowal16: sixteen commits first, the last of which flushes. */
    for (int i = 1; no_wal == 2 && i <= 16; i++) {
        char v[8];
        snprintf(v, sizeof v, "%d", i);
        jp_store_put(s, JP_CF_LEDGER, "n", 1, v, strlen(v));
        jp_store_kv_t m = {"offset", 6, v, strlen(v)};
        if (jp_store_commit(s, &m, 1, err, sizeof err) != 0)
            return 3;
    }
    jp_store_put(s, JP_CF_WINDOWS, "a", 1, "1", 1);
    jp_store_put(s, JP_CF_CUSTOMERS, "b", 1, "2", 1);
    jp_store_kv_t meta = {"offset", 6, "10", 2};
    if (jp_store_commit(s, &meta, 1, err, sizeof err) != 0)
        return 3;
    jp_store_put(s, JP_CF_WINDOWS, "c", 1, "3", 1);
    jp_store_del(s, JP_CF_WINDOWS, "a", 1);
    jp_store_put(s, JP_CF_CUSTOMERS, "b", 1, "changed", 7);
    kill(getpid(), SIGKILL);
    return 4;
}

/* Runs the crash child on f's store (closed first) and reopens it. */
static void crash_and_reopen(fx_t *f, const char *mode)
{
    jp_store_close(f->s);
    f->s = NULL;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(self_path, self_path, "--crash-child", f->path, mode, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFSIGNALED(st))
        fail_msg("crash child exited with %d", WEXITSTATUS(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    f->s = open_at(f->env, f->path);
}

/* The reopened store holds exactly the killed process's commit. */
static void test_crash_keeps_only_committed(void **state)
{
    fx_t *f = *state;
    crash_and_reopen(f, "wal");
    expect(f->s, JP_CF_WINDOWS, "a", "1");
    expect(f->s, JP_CF_CUSTOMERS, "b", "2");
    expect(f->s, JP_CF_META, "offset", "10");
    expect(f->s, JP_CF_WINDOWS, "c", NULL);
    assert_int_equal(jp_store_dirty_count(f->s), 0);
}

/* Without a WAL the killed process's commit is lost (nothing flushed
 * it) but the store is consistent: the batch committed before it by a
 * process that closed cleanly (a close flushes) is there whole, meta
 * included, so a changelog restore knows where to resume. */
static void test_crash_without_wal_reverts_to_last_flush(void **state)
{
    fx_t *f = *state;
    jp_store_set_durability(f->s, JP_STORE_NO_WAL);
    put_s(f->s, JP_CF_WINDOWS, "a", "0");
    put_s(f->s, JP_CF_LEDGER, "l", "before");
    jp_store_kv_t meta = {"offset", 6, "5", 1};
    char err[256];
    assert_int_equal(jp_store_commit(f->s, &meta, 1, err, sizeof err), 0);
    crash_and_reopen(f, "nowal");
    expect(f->s, JP_CF_WINDOWS, "a", "0");
    expect(f->s, JP_CF_LEDGER, "l", "before");
    expect(f->s, JP_CF_META, "offset", "5");
    expect(f->s, JP_CF_CUSTOMERS, "b", NULL);
    expect(f->s, JP_CF_WINDOWS, "c", NULL);
}

/* Every 16th commit without a WAL flushes: a crash after it keeps it. */
static void test_crash_without_wal_keeps_flushed_commits(void **state)
{
    fx_t *f = *state;
    crash_and_reopen(f, "nowal16");
    expect(f->s, JP_CF_LEDGER, "n", "16");
    expect(f->s, JP_CF_META, "offset", "16");
    expect(f->s, JP_CF_WINDOWS, "c", NULL);
}

/* Closing without commit drops the cache; the previous commit (data and
 * meta, written together) is intact. */
static void test_close_without_commit(void **state)
{
    fx_t *f = *state;
    put_s(f->s, JP_CF_LEDGER, "x", "old");
    jp_store_kv_t meta[2] = {{"in/0", 4, "100", 3}, {"cl", 2, "7", 1}};
    char err[256];
    assert_int_equal(jp_store_commit(f->s, meta, 2, err, sizeof err), 0);
    put_s(f->s, JP_CF_LEDGER, "x", "new");
    put_s(f->s, JP_CF_LEDGER, "y", "y");
    put_s(f->s, JP_CF_META, "in/0", "200");
    reopen(f);
    expect(f->s, JP_CF_LEDGER, "x", "old");
    expect(f->s, JP_CF_LEDGER, "y", NULL);
    expect(f->s, JP_CF_META, "in/0", "100");
    expect(f->s, JP_CF_META, "cl", "7");
}

static void test_put_get_del(void **state)
{
    fx_t *f = *state;
    jp_store_t *s = f->s;
    expect(s, JP_CF_WINDOWS, "k", NULL);
    assert_int_equal(jp_store_dirty_count(s), 0); /* a cached miss is clean */
    put_s(s, JP_CF_WINDOWS, "k", "v1");
    expect(s, JP_CF_WINDOWS, "k", "v1");
    put_s(s, JP_CF_WINDOWS, "k", "value-two");
    expect(s, JP_CF_WINDOWS, "k", "value-two");
    /* same key in another CF is another entry */
    expect(s, JP_CF_DEDUPE, "k", NULL);
    put_s(s, JP_CF_DEDUPE, "k", "d");
    assert_int_equal(jp_store_dirty_count(s), 2);
    /* empty value and empty key are legal */
    assert_int_equal(jp_store_put(s, JP_CF_MODELS, "", 0, "", 0), 0);
    const void *p = NULL;
    size_t n = 99;
    assert_int_equal(jp_store_get(s, JP_CF_MODELS, "", 0, &p, &n), 1);
    assert_int_equal(n, 0);
    commit(s);
    assert_int_equal(jp_store_dirty_count(s), 0);
    expect(s, JP_CF_WINDOWS, "k", "value-two");
    assert_int_equal(jp_store_del(s, JP_CF_WINDOWS, "k", 1), 0);
    expect(s, JP_CF_WINDOWS, "k", NULL);
    assert_int_equal(jp_store_dirty_count(s), 1);
    /* deleting a key the cache knows is absent adds nothing... */
    expect(s, JP_CF_WINDOWS, "nope", NULL);
    assert_int_equal(jp_store_del(s, JP_CF_WINDOWS, "nope", 4), 0);
    assert_int_equal(jp_store_dirty_count(s), 1);
    /* ...while a blind delete of an uncached key is a tombstone */
    assert_int_equal(jp_store_del(s, JP_CF_WINDOWS, "unseen", 6), 0);
    assert_int_equal(jp_store_dirty_count(s), 2);
    expect(s, JP_CF_WINDOWS, "unseen", NULL);
    commit(s);
    reopen(f);
    s = f->s;
    expect(s, JP_CF_WINDOWS, "k", NULL);
    expect(s, JP_CF_DEDUPE, "k", "d");
    assert_int_equal(jp_store_get(s, JP_CF_MODELS, "", 0, &p, &n), 1);
    assert_int_equal(n, 0);
    /* put without ts reads back as never-expiring */
    int64_t ts = 0;
    assert_int_equal(jp_store_get_ts(s, JP_CF_DEDUPE, "k", 1, NULL, NULL, &ts), 1);
    assert_true(ts == JP_STORE_NO_TTL);
}

/* touch: a committed key comes back dirty with its committed value, a key
 * the store does not hold as a tombstone, a dirty key stays as it is; after
 * the next commit the store holds the same values as before. */
static void test_touch(void **state)
{
    fx_t *f = *state;
    put_s(f->s, JP_CF_CUSTOMERS, "kept", "v1");
    put_s(f->s, JP_CF_CUSTOMERS, "other", "v2");
    commit(f->s);
    reopen(f);
    assert_int_equal(jp_store_touch(f->s, JP_CF_CUSTOMERS, "kept", 4), 0);
    assert_int_equal(jp_store_touch(f->s, JP_CF_CUSTOMERS, "never", 5), 0);
    put_s(f->s, JP_CF_WINDOWS, "w", "new");
    assert_int_equal(jp_store_touch(f->s, JP_CF_WINDOWS, "w", 1), 0);
    assert_int_equal(jp_store_dirty_count(f->s), 3);
    col_t c;
    assert_string_equal(dirty_str(f->s, &c),
                        "windows:w=new;customers:kept=v1;customers:never=<del>;");
    assert_int_equal(jp_store_touch(f->s, 99, "x", 1), -1);
    commit(f->s);
    reopen(f);
    expect(f->s, JP_CF_CUSTOMERS, "kept", "v1");
    expect(f->s, JP_CF_CUSTOMERS, "other", "v2");
    expect(f->s, JP_CF_CUSTOMERS, "never", NULL);
    expect(f->s, JP_CF_WINDOWS, "w", "new");
}

/* Keys in scrambled order and mixed lengths over three CFs: the walk is
 * CF enum order, then memcmp order with the shorter key first. */
static const char *const order_keys[] = {"b", "ab", "a", "aa", "ba", "\x7f", "a\x01", "B"};
#define N_ORDER_KEYS (sizeof order_keys / sizeof order_keys[0])

static void test_dirty_order(void **state)
{
    fx_t *f = *state;
    for (size_t i = 0; i < N_ORDER_KEYS; i++)
        put_s(f->s, JP_CF_CUSTOMERS, order_keys[i], order_keys[i]);
    put_s(f->s, JP_CF_WINDOWS, "z", "last-key-first-cf");
    assert_int_equal(jp_store_del(f->s, JP_CF_CUSTOMERS, "aa", 2), 0);
    assert_int_equal(jp_store_del(f->s, JP_CF_LEDGER, "gone", 4), 0);
    assert_int_equal(jp_store_dirty_count(f->s), 10);
    col_t c;
    assert_string_equal(dirty_str(f->s, &c),
                        "windows:z=last-key-first-cf;customers:B=B;customers:a=a;"
                        "customers:a\x01=a\x01;customers:aa=<del>;customers:ab=ab;customers:b=b;"
                        "customers:ba=ba;customers:\x7f=\x7f;ledger:gone=<del>;");

    /* Same content written in another order into another store: same walk. */
    char *p2 = join(f->dir, "db2");
    jp_store_t *s2 = open_at(f->env, p2);
    assert_int_equal(jp_store_del(s2, JP_CF_LEDGER, "gone", 4), 0);
    assert_int_equal(jp_store_del(s2, JP_CF_CUSTOMERS, "aa", 2), 0);
    for (size_t i = N_ORDER_KEYS; i-- > 0;)
        if (strcmp(order_keys[i], "aa") != 0)
            put_s(s2, JP_CF_CUSTOMERS, order_keys[i], order_keys[i]);
    put_s(s2, JP_CF_WINDOWS, "z", "last-key-first-cf");
    col_t c2;
    dirty_str(s2, &c2);
    assert_string_equal(c.buf, c2.buf);
    jp_store_close(s2);
    free(p2);
}

/* Checks the dirty order with NUL-safe keys: a recorder keeping raw keys. */
typedef struct {
    int n;
    jp_cf_t cf[32];
    char key[32][8];
    size_t klen[32];
    int tomb[32];
} raw_t;

static int raw_cb(void *ctx, int cf, const void *k, size_t kl, const void *v, size_t vl)
{
    (void)vl;
    raw_t *r = ctx;
    assert_true(r->n < 32 && kl < 8);
    r->cf[r->n] = cf;
    memcpy(r->key[r->n], k, kl);
    r->klen[r->n] = kl;
    r->tomb[r->n] = v == NULL;
    r->n++;
    return 0;
}

static void test_dirty_order_raw(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *k;
        size_t n;
    } in[] = {{"b", 1},    {"ab", 2},   {"a", 1}, {"aa", 2},
              {"\xff", 1}, {"a\0z", 3}, {"B", 1}, {"", 0}};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        assert_int_equal(jp_store_put(f->s, JP_CF_CUSTOMERS, in[i].k, in[i].n, "v", 1), 0);
    assert_int_equal(jp_store_del(f->s, JP_CF_CUSTOMERS, "aa", 2), 0);
    assert_int_equal(jp_store_put(f->s, JP_CF_WINDOWS, "z", 1, "v", 1), 0);
    /* expected: windows first; then "", "B", "a", "a\0z", "aa"(del), "ab", "b", "\xff" */
    static const struct {
        jp_cf_t cf;
        const char *k;
        size_t n;
        int tomb;
    } want[] = {{JP_CF_WINDOWS, "z", 1, 0},      {JP_CF_CUSTOMERS, "", 0, 0},
                {JP_CF_CUSTOMERS, "B", 1, 0},    {JP_CF_CUSTOMERS, "a", 1, 0},
                {JP_CF_CUSTOMERS, "a\0z", 3, 0}, {JP_CF_CUSTOMERS, "aa", 2, 1},
                {JP_CF_CUSTOMERS, "ab", 2, 0},   {JP_CF_CUSTOMERS, "b", 1, 0},
                {JP_CF_CUSTOMERS, "\xff", 1, 0}};
    raw_t r;
    memset(&r, 0, sizeof r);
    assert_int_equal(jp_store_dirty_foreach(f->s, raw_cb, &r), 0);
    assert_int_equal(r.n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < r.n; i++) {
        assert_int_equal(r.cf[i], want[i].cf);
        assert_int_equal(r.klen[i], want[i].n);
        if (want[i].n)
            assert_memory_equal(r.key[i], want[i].k, want[i].n);
        assert_int_equal(r.tomb[i], want[i].tomb);
    }
    /* after commit nothing is dirty */
    commit(f->s);
    memset(&r, 0, sizeof r);
    assert_int_equal(jp_store_dirty_foreach(f->s, raw_cb, &r), 0);
    assert_int_equal(r.n, 0);
}

/* Thousands of dirty keys (the radix path of the sort): random binary
 * keys of 1..20 bytes, many sharing their first 8 bytes or differing only
 * past them, must come out of the walk in memcmp order, shorter first. */
typedef struct {
    unsigned char prev[32];
    size_t prev_len;
    size_t n;
} walk_t;

static int walk_check(void *ctx, int cf, const void *key, size_t klen, const void *val, size_t vlen)
{
    walk_t *w = ctx;
    (void)cf;
    (void)val;
    (void)vlen;
    if (w->n) {
        size_t m = w->prev_len < klen ? w->prev_len : klen;
        int c = memcmp(w->prev, key, m);
        assert_true(c < 0 || (c == 0 && w->prev_len < klen));
    }
    memcpy(w->prev, key, klen);
    w->prev_len = klen;
    w->n++;
    return 0;
}

static void test_dirty_order_many(void **state)
{
    fx_t *f = *state;
    uint64_t x = 88172645463325252ULL;
    size_t puts = 0;
    for (int i = 0; i < 6000; i++) {
        unsigned char k[20];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t len = 1 + (size_t)(x % 20);
        for (size_t j = 0; j < len; j++)
            k[j] = (unsigned char)(x >> (8 * (j % 8)));
        if (i % 3 == 0)
            memcpy(k, "SAMEPREF", len < 8 ? len : 8); /* ties on the 8-byte prefix */
        if (i % 5 == 0 && len > 2)
            k[1] = 0; /* zero bytes inside the prefix, like zero padding */
        assert_int_equal(jp_store_put(f->s, JP_CF_CUSTOMERS, k, len, "v", 1), 0);
        puts++;
    }
    walk_t w = {{0}, 0, 0};
    assert_int_equal(jp_store_dirty_foreach(f->s, walk_check, &w), 0);
    assert_int_equal(w.n, jp_store_dirty_count(f->s));
    assert_true(w.n > 1000 && w.n <= puts);
    commit(f->s);
}

static void test_reopen_restores(void **state)
{
    fx_t *f = *state;
    char k[32], v[32];
    for (long i = 0; i < 2000; i++) {
        key_of(k, sizeof k, i);
        val_of(v, sizeof v, i, 1);
        put_s(f->s, (jp_cf_t)(1 + i % 5), k, v);
    }
    commit(f->s);
    for (long i = 0; i < 2000; i += 3) {
        key_of(k, sizeof k, i);
        assert_int_equal(jp_store_del(f->s, (jp_cf_t)(1 + i % 5), k, strlen(k)), 0);
    }
    commit(f->s);
    reopen(f);
    for (long i = 0; i < 2000; i++) {
        key_of(k, sizeof k, i);
        val_of(v, sizeof v, i, 1);
        expect(f->s, (jp_cf_t)(1 + i % 5), k, i % 3 == 0 ? NULL : v);
        /* and not in any other CF */
        expect(f->s, (jp_cf_t)(1 + (i + 1) % 5), k, NULL);
    }
}

static void test_scan_merges_cache_and_disk(void **state)
{
    fx_t *f = *state;
    jp_store_t *s = f->s;
    put_s(s, JP_CF_WINDOWS, "o:1", "o1");
    put_s(s, JP_CF_WINDOWS, "p:1", "d1");
    put_s(s, JP_CF_WINDOWS, "p:2", "d2");
    put_s(s, JP_CF_WINDOWS, "p:3", "d3");
    put_s(s, JP_CF_WINDOWS, "p:5", "d5");
    put_s(s, JP_CF_WINDOWS, "q:1", "q1");
    commit(s);
    jp_store_set_cache_limit(s, 0, 0); /* next commit evicts everything clean */
    commit(s);
    assert_int_equal(jp_store_cache_entries(s), 0);

    put_s(s, JP_CF_WINDOWS, "p:3", "c3"); /* dirty overwrite of a disk key */
    assert_int_equal(jp_store_del(s, JP_CF_WINDOWS, "p:2", 3), 0); /* hides disk */
    put_s(s, JP_CF_WINDOWS, "p:4", "c4");                          /* only in the cache */
    put_s(s, JP_CF_WINDOWS, "p:6", "c6");                          /* after every disk key */
    put_s(s, JP_CF_WINDOWS, "p:", "c0");                           /* the prefix itself */
    put_s(s, JP_CF_WINDOWS, "q:0", "cq0");                         /* outside the prefix */
    assert_int_equal(jp_store_del(s, JP_CF_WINDOWS, "p:7", 3), 0); /* tombstone, no disk key */
    expect(s, JP_CF_WINDOWS, "p:1", "d1");                         /* a clean cached copy */
    put_s(s, JP_CF_CUSTOMERS, "p:9", "other-cf");

    col_t c = {0};
    assert_string_equal(scan_str(s, JP_CF_WINDOWS, "p:", &c),
                        "p:=c0;p:1=d1;p:3=c3;p:4=c4;p:5=d5;p:6=c6;");
    assert_string_equal(scan_str(s, JP_CF_WINDOWS, NULL, &c),
                        "o:1=o1;p:=c0;p:1=d1;p:3=c3;p:4=c4;p:5=d5;p:6=c6;q:0=cq0;q:1=q1;");
    assert_string_equal(scan_str(s, JP_CF_WINDOWS, "p:5", &c), "p:5=d5;");
    assert_string_equal(scan_str(s, JP_CF_WINDOWS, "r", &c), "");
    assert_string_equal(scan_str(s, JP_CF_CUSTOMERS, "p", &c), "p:9=other-cf;");
    /* the callback stops the scan */
    c.stop_after = 2;
    assert_string_equal(scan_str(s, JP_CF_WINDOWS, "p:", &c), "p:=c0;p:1=d1;");
    c.stop_after = 0;

    /* after commit the same view comes from disk alone */
    commit(s);
    assert_int_equal(jp_store_cache_entries(s), 0);
    assert_string_equal(scan_str(s, JP_CF_WINDOWS, "p:", &c),
                        "p:=c0;p:1=d1;p:3=c3;p:4=c4;p:5=d5;p:6=c6;");
}

/* A prefix ending in 0xff: the iterator's upper bound must still include
 * every key with the prefix. */
static void test_scan_prefix_ff(void **state)
{
    fx_t *f = *state;
    assert_int_equal(jp_store_put(f->s, JP_CF_DEDUPE, "a\xff\x01", 3, "1", 1), 0);
    assert_int_equal(jp_store_put(f->s, JP_CF_DEDUPE, "a\xff\xff\x02", 4, "2", 1), 0);
    assert_int_equal(jp_store_put(f->s, JP_CF_DEDUPE, "b", 1, "3", 1), 0);
    commit(f->s);
    col_t c = {0};
    assert_int_equal(jp_store_scan(f->s, JP_CF_DEDUPE, "a\xff", 2, scan_cb, &c), 0);
    assert_int_equal(c.rows, 2);
    c = (col_t){0};
    assert_int_equal(jp_store_scan(f->s, JP_CF_DEDUPE, "\xff", 1, scan_cb, &c), 0);
    assert_int_equal(c.rows, 0);
}

static void test_ttl_expiry(void **state)
{
    fx_t *f = *state;
    jp_store_t *s = f->s;
    jp_cf_t cf = JP_CF_DEDUPE;
    assert_int_equal(jp_store_put_ts(s, cf, "old-disk", 8, "a", 1, 100), 0);
    assert_int_equal(jp_store_put_ts(s, cf, "old-evicted", 11, "b", 1, 120), 0);
    assert_int_equal(jp_store_put_ts(s, cf, "new-disk", 8, "c", 1, 200), 0);
    assert_int_equal(jp_store_put_ts(s, cf, "edge", 4, "e", 1, 150), 0);
    put_s(s, cf, "no-ttl", "forever");
    assert_int_equal(jp_store_put_ts(s, JP_CF_LEDGER, "other-cf", 8, "x", 1, 1), 0);
    commit(s);
    jp_store_set_cache_limit(s, 0, 0);
    commit(s); /* evicts everything: "old-evicted" is found on disk only */
    jp_store_set_cache_limit(s, JP_STORE_CACHE_MAX_ENTRIES, JP_STORE_CACHE_MAX_BYTES);
    expect(s, cf, "old-disk", "a"); /* cached clean */
    int64_t ts = 0;
    const void *p;
    size_t n;
    assert_int_equal(jp_store_get_ts(s, cf, "new-disk", 8, &p, &n, &ts), 1);
    assert_int_equal(ts, 200);
    assert_int_equal(n, 1); /* the user value, without the time prefix */
    assert_int_equal(jp_store_put_ts(s, cf, "old-dirty", 9, "d", 1, 50), 0);
    assert_int_equal(jp_store_put_ts(s, cf, "refreshed", 9, "r0", 2, 10), 0);
    commit(s);
    assert_int_equal(jp_store_put_ts(s, cf, "refreshed", 9, "r1", 2, 300), 0);

    /* cutoff 150: strictly older expire (100, 120, 50), 150 stays */
    assert_int_equal(jp_store_expire(s, cf, 150), 3);
    col_t c;
    assert_string_equal(dirty_str(s, &c), "dedupe:old-dirty=<del>;dedupe:old-disk=<del>;"
                                          "dedupe:old-evicted=<del>;dedupe:refreshed=r1;");
    expect(s, cf, "old-disk", NULL);
    expect(s, cf, "old-evicted", NULL);
    expect(s, cf, "edge", "e");
    expect(s, cf, "no-ttl", "forever");
    expect(s, JP_CF_LEDGER, "other-cf", "x");
    /* expiring again finds nothing new */
    assert_int_equal(jp_store_expire(s, cf, 150), 0);
    commit(s);
    reopen(f);
    s = f->s;
    expect(s, cf, "old-disk", NULL);
    expect(s, cf, "old-evicted", NULL);
    expect(s, cf, "refreshed", "r1");
    col_t sc = {0};
    assert_string_equal(scan_str(s, cf, NULL, &sc),
                        "edge=e;new-disk=c;no-ttl=forever;refreshed=r1;");
    /* a far cutoff expires everything with a time, never the no-TTL key */
    assert_int_equal(jp_store_expire(s, cf, INT64_MAX), 3);
    assert_string_equal(scan_str(s, cf, NULL, &sc), "no-ttl=forever;");
}

/* Small cache: clean entries are evicted at commit and re-read correctly,
 * dirty ones are never evicted. */
static void test_eviction_rereads(void **state)
{
    fx_t *f = *state;
    jp_store_t *s = f->s;
    jp_store_set_cache_limit(s, 10, (size_t)-1);
    char k[32], v[32];
    for (long i = 0; i < 500; i++) {
        key_of(k, sizeof k, i);
        val_of(v, sizeof v, i, 1);
        put_s(s, JP_CF_MODELS, k, v);
    }
    assert_int_equal(jp_store_cache_entries(s), 500); /* never evicts before commit */
    commit(s);
    assert_true(jp_store_cache_entries(s) <= 10);
    for (long i = 0; i < 500; i++) {
        key_of(k, sizeof k, i);
        val_of(v, sizeof v, i, 1);
        expect(s, JP_CF_MODELS, k, v);
        if (i % 2 == 0) {
            val_of(v, sizeof v, i, 2);
            put_s(s, JP_CF_MODELS, k, v);
        }
        if (i % 50 == 49) {
            commit(s);
            assert_true(jp_store_cache_entries(s) <= 10);
        }
    }
    reopen(f);
    for (long i = 0; i < 500; i++) {
        key_of(k, sizeof k, i);
        val_of(v, sizeof v, i, i % 2 == 0 ? 2 : 1);
        expect(f->s, JP_CF_MODELS, k, v);
    }
    /* a byte bound alone also evicts */
    jp_store_set_cache_limit(f->s, (size_t)-1, 200);
    commit(f->s);
    assert_true(jp_store_cache_entries(f->s) <= 200 / 9);
}

/* A tracked column family answers exactly as an untracked one, across
 * the filter's rebuilds (growth past its capacity, then deletes), with the
 * cache too small to hold anything, and after a reopen. */
static void check_tracked(jp_store_t *s, long n, long deleted_below)
{
    char k[32], v[32];
    for (long i = 0; i < n; i++) {
        key_of(k, sizeof k, i);
        val_of(v, sizeof v, i, 1);
        expect(s, JP_CF_CUSTOMERS, k, i < deleted_below && i % 2 ? NULL : v);
        key_of(k, sizeof k, n + i); /* never written */
        expect(s, JP_CF_CUSTOMERS, k, NULL);
    }
}

static void test_tracked_keys(void **state)
{
    fx_t *f = *state;
    enum { N = 20000 };
    jp_store_t *s = f->s;
    char k[32], v[32];
    put_s(s, JP_CF_CUSTOMERS, "pending", "x");
    assert_int_equal(jp_store_track_keys(s, JP_CF_CUSTOMERS), -1); /* uncommitted writes */
    commit(s);
    assert_int_equal(jp_store_track_keys(s, JP_CF_CUSTOMERS), 0);
    expect(s, JP_CF_CUSTOMERS, "pending", "x");
    jp_store_set_cache_limit(s, 10, (size_t)-1);
    /* 20000 keys in commits of 1000: the filter (first sized for 4096)
     * is rebuilt several times on the way. */
    for (long i = 0; i < N; i++) {
        key_of(k, sizeof k, i);
        val_of(v, sizeof v, i, 1);
        put_s(s, JP_CF_CUSTOMERS, k, v);
        expect(s, JP_CF_CUSTOMERS, k, v); /* uncommitted: from the cache */
        if (i % 1000 == 999)
            commit(s);
    }
    check_tracked(s, N, 0);
    /* Deletes of every odd key below N/2: the filter keeps them as false
     * positives until the removal count triggers a rebuild. */
    for (long i = 1; i < N / 2; i += 2) {
        key_of(k, sizeof k, i);
        assert_int_equal(jp_store_del(s, JP_CF_CUSTOMERS, k, strlen(k)), 0);
        if (i % 999 == 0)
            commit(s);
    }
    commit(s);
    check_tracked(s, N, N / 2);
    reopen(f);
    assert_int_equal(jp_store_track_keys(f->s, JP_CF_CUSTOMERS), 0);
    jp_store_set_cache_limit(f->s, 10, (size_t)-1);
    check_tracked(f->s, N, N / 2);
}

typedef struct {
    long n;
    char last[32];
    int ordered;
} cnt_t;

static int count_cb(void *ctx, const void *key, size_t kl, const void *val, size_t vl)
{
    (void)val;
    (void)vl;
    cnt_t *c = ctx;
    char k[32];
    assert_true(kl < sizeof k);
    memcpy(k, key, kl);
    k[kl] = 0;
    if (c->n && strcmp(c->last, k) >= 0)
        c->ordered = 0;
    memcpy(c->last, k, kl + 1);
    c->n++;
    return 0;
}

static void test_many_keys_bounded(void **state)
{
    fx_t *f = *state;
    jp_store_t *s = f->s;
    enum { N = 200000, LIMIT = 5000 };
    jp_store_set_cache_limit(s, LIMIT, (size_t)-1);
    char k[32], v[32];
    for (long i = 0; i < N; i++) {
        key_of(k, sizeof k, i);
        val_of(v, sizeof v, i, 1);
        put_s(s, JP_CF_CUSTOMERS, k, v);
        if (i % 10000 == 9999) {
            commit(s);
            assert_true(jp_store_cache_entries(s) <= LIMIT);
        }
    }
    uint64_t bytes = 0, keys = 0;
    jp_store_size(s, &bytes, &keys);
    assert_true(keys >= N / 2 && keys <= 2 * (uint64_t)N);
    assert_true(bytes > 0);
    for (long i = 0; i < N; i += 97) {
        key_of(k, sizeof k, i);
        val_of(v, sizeof v, i, 1);
        expect(s, JP_CF_CUSTOMERS, k, v);
    }
    expect(s, JP_CF_CUSTOMERS, "k99999999", NULL);
    /* a full scan sees every key once, in order */
    cnt_t cnt = {0, "", 1};
    assert_int_equal(jp_store_scan(s, JP_CF_CUSTOMERS, "k", 1, count_cb, &cnt), 0);
    assert_int_equal(cnt.n, N);
    assert_true(cnt.ordered);
}

static void test_destroy_path(void **state)
{
    fx_t *f = *state;
    put_s(f->s, JP_CF_WINDOWS, "k", "v");
    commit(f->s);
    jp_store_close(f->s);
    f->s = NULL;
    char err[256] = "";
    assert_int_equal(jp_store_destroy_path(f->path, err, sizeof err), 0);
    struct stat st;
    assert_int_not_equal(stat(f->path, &st), 0);
    /* destroying what does not exist is fine */
    assert_int_equal(jp_store_destroy_path(f->path, err, sizeof err), 0);
    f->s = open_at(f->env, f->path);
    expect(f->s, JP_CF_WINDOWS, "k", NULL);
}

static void test_shared_env_four_stores(void **state)
{
    fx_t *f = *state;
    jp_store_t *st[4];
    char *paths[4];
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof name, "task%d", i);
        paths[i] = join(f->dir, name);
        st[i] = open_at(f->env, paths[i]);
    }
    char k[32], v[32];
    for (int t = 0; t < 4; t++) {
        for (long i = 0; i < 300; i++) {
            key_of(k, sizeof k, i);
            val_of(v, sizeof v, i, t);
            put_s(st[t], JP_CF_WINDOWS, k, v);
        }
        char off[16];
        snprintf(off, sizeof off, "%d", 1000 + t);
        jp_store_kv_t meta = {"offset", 6, off, strlen(off)};
        char err[256];
        assert_int_equal(jp_store_commit(st[t], &meta, 1, err, sizeof err), 0);
    }
    /* the same directory cannot be opened twice (RocksDB's lock) */
    char err[256] = "";
    assert_null(jp_store_open(f->env, paths[2], err, sizeof err));
    assert_true(strlen(err) > 0);
    /* close in a mixed order; each store kept its own data */
    jp_store_close(st[1]);
    jp_store_close(st[3]);
    st[1] = open_at(f->env, paths[1]);
    st[3] = open_at(f->env, paths[3]);
    for (int t = 0; t < 4; t++) {
        for (long i = 0; i < 300; i += 7) {
            key_of(k, sizeof k, i);
            val_of(v, sizeof v, i, t);
            expect(st[t], JP_CF_WINDOWS, k, v);
        }
        char off[16];
        snprintf(off, sizeof off, "%d", 1000 + t);
        expect(st[t], JP_CF_META, "offset", off);
    }
    for (int i = 0; i < 4; i++) {
        jp_store_close(st[i]);
        free(paths[i]);
    }
}

/* commit's meta entries replace a cached (even dirty) copy of the key. */
static void test_meta_overrides_cache(void **state)
{
    fx_t *f = *state;
    put_s(f->s, JP_CF_META, "wm", "1");
    expect(f->s, JP_CF_META, "wm", "1");
    jp_store_kv_t meta = {"wm", 2, "2", 1};
    char err[256];
    assert_int_equal(jp_store_commit(f->s, &meta, 1, err, sizeof err), 0);
    expect(f->s, JP_CF_META, "wm", "2");
    jp_store_kv_t meta3 = {"wm", 2, "3", 1};
    assert_int_equal(jp_store_commit(f->s, &meta3, 1, err, sizeof err), 0);
    expect(f->s, JP_CF_META, "wm", "3");
    reopen(f);
    expect(f->s, JP_CF_META, "wm", "3");
}

static void test_errors(void **state)
{
    fx_t *f = *state;
    char err[256] = "";
    /* a path below a regular file cannot be created, whoever runs this */
    char *file = jp_test_write_file(f->dir, "plain", "x");
    char *bad = join(file, "db");
    assert_null(jp_store_open(f->env, bad, err, sizeof err));
    assert_true(strlen(err) > 0);
    assert_non_null(strstr(err, bad));
    err[0] = 0;
    assert_null(jp_store_open(f->env, "", err, sizeof err));
    assert_true(strlen(err) > 0);
    err[0] = 0;
    assert_int_equal(jp_store_destroy_path(file, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    free(bad);
    free(file);
    /* out-of-range column families */
    assert_int_equal(jp_store_put(f->s, JP_CF__COUNT, "k", 1, "v", 1), -1);
    assert_int_equal(jp_store_get(f->s, (jp_cf_t)-1, "k", 1, NULL, NULL), -1);
    assert_true(strlen(jp_store_last_error(f->s)) > 0);
    assert_int_equal(jp_store_del(f->s, JP_CF__COUNT, "k", 1), -1);
    assert_int_equal(jp_store_expire(f->s, JP_CF__COUNT, 0), -1);
    assert_int_equal(jp_store_scan(f->s, JP_CF__COUNT, NULL, 0, scan_cb, NULL), -1);
    assert_null(jp_cf_name(JP_CF__COUNT));
    assert_string_equal(jp_cf_name(JP_CF_META), "meta");
    assert_string_equal(jp_cf_name(JP_CF_LEDGER), "ledger");
    assert_null(jp_store_open(NULL, f->path, err, sizeof err));
}

/* The store knows no column family of its own: any table works, column
 * family 0 takes the commit's meta entries, and a bad table is refused. */
static void test_caller_table(void **state)
{
    fx_t *f = *state;
    char err[256] = "";
    const jp_store_cf_def_t two[] = {{"head", 1}, {"items", 3}};
    jp_store_env_t *env = jp_store_env_new(two, 2, 1u << 20, 4u << 20);
    assert_non_null(env);
    char *path = join(f->dir, "two");
    jp_store_t *s = open_at(env, path);
    put_s(s, 1, "apple", "red");
    jp_store_kv_t meta = {"pos", 3, "7", 1};
    assert_int_equal(jp_store_commit(s, &meta, 1, err, sizeof err), 0);
    assert_int_equal(jp_store_put(s, 2, "k", 1, "v", 1), -1); /* beyond the table */
    jp_store_close(s);
    s = open_at(env, path);
    expect(s, 1, "apple", "red");
    expect(s, 0, "pos", "7");
    expect(s, 0, "apple", NULL);
    jp_store_close(s);
    jp_store_env_free(env);
    free(path);

    const jp_store_cf_def_t no_weight[] = {{"meta", 1}, {"x", 0}};
    const jp_store_cf_def_t reserved[] = {{"default", 1}};
    const jp_store_cf_def_t unnamed[] = {{NULL, 1}};
    jp_store_cf_def_t many[JP_STORE_MAX_CFS + 1];
    for (size_t i = 0; i < JP_STORE_MAX_CFS + 1; i++)
        many[i] = (jp_store_cf_def_t){"cf", 1};
    assert_null(jp_store_env_new(no_weight, 2, 1u << 20, 1u << 20));
    assert_null(jp_store_env_new(reserved, 1, 1u << 20, 1u << 20));
    assert_null(jp_store_env_new(unnamed, 1, 1u << 20, 1u << 20));
    assert_null(jp_store_env_new(two, 0, 1u << 20, 1u << 20));
    assert_null(jp_store_env_new(many, JP_STORE_MAX_CFS + 1, 1u << 20, 1u << 20));
}

/* State directories written before the engine passed its table (the
 * column families spelled out here) open under the task's table. */
static void test_task_table_opens_existing_stores(void **state)
{
    fx_t *f = *state;
    char err[256] = "";
    const jp_store_cf_def_t before[] = {{"meta", 1},   {"windows", 2}, {"customers", 20},
                                        {"dedupe", 4}, {"models", 2},  {"ledger", 1}};
    jp_store_env_t *env = jp_store_env_new(before, 6, 1u << 20, 4u << 20);
    assert_non_null(env);
    char *path = join(f->dir, "before");
    jp_store_t *s = open_at(env, path);
    for (int c = 0; c < 6; c++)
        put_s(s, c, "key", before[c].name);
    assert_int_equal(jp_store_commit(s, NULL, 0, err, sizeof err), 0);
    jp_store_close(s);
    jp_store_env_free(env);
    /* The column families of the old table keep their data; newer ones
     * (alerts) are created empty. */
    s = open_at(f->env, path);
    for (int c = 0; c < JP_CF__COUNT; c++)
        expect(s, c, "key", c < 6 ? jp_cf_name((jp_cf_t)c) : NULL);
    jp_store_close(s);
    free(path);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--crash-child") == 0)
        return crash_child(argv[2], strcmp(argv[3], "nowal16") == 0 ? 2
                                    : strcmp(argv[3], "nowal") == 0 ? 1
                                                                    : 0);
    self_path = argv[0];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crash_keeps_only_committed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_without_wal_reverts_to_last_flush, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crash_without_wal_keeps_flushed_commits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_without_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_get_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_touch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirty_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirty_order_raw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirty_order_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_restores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_merges_cache_and_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_prefix_ff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ttl_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eviction_rereads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_keys_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_env_four_stores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_overrides_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tracked_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caller_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_table_opens_existing_stores, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
