/*
 * bench_engine: the stream processor (jp_engine / jp_task) on the embedded
 * stack - librdkafka's mock cluster and the schema registry in this
 * process, real RocksDB in a temporary directory.
 *
 * Input. configs/sim/load.yaml is run with jp_sim_run from its start until
 * GEN_RECORDS records (sales, customer events and draws in simulation
 * order) and captured in memory, encoded against the stack's registry. The
 * mock cluster keeps only ~5 MB per partition and trims older records, so
 * the engine's steady-state run is fed STEADY_RECORDS of them as it
 * consumes them (never more than STEADY_BACKLOG ahead), and the rows that
 * read their input whole (ceiling, floors, Python peer, cold start) replay
 * the first THRU_RECORDS onto fresh input topics, checking that every
 * partition still starts at offset 0 and that the high watermarks add up
 * to the records produced. Every run gets its own input, dead-letter and
 * changelog topics
 * (changelog_prefix), consumer group and state directory, so no run sees
 * another's offsets or changelog.
 *
 * Rows (medians of jp_bench_runs() runs unless said otherwise; each run
 * measures the engine, the ceiling, both floors and the Python peer, in
 * that order, and ratios are medians of the runs' paired ratios, steadier
 * on a machine whose speed swings 2x):
 *   events_per_s    the engine's steady state (consume, decode, validate,
 *                   state, changelog, commit). The engine thread - and with
 *                   it every librdkafka thread the engine creates - is
 *                   pinned to one core. The engine starts on empty input
 *                   topics and is assigned and idle (it has committed once)
 *                   before a producer on the other core writes the
 *                   STEADY_RECORDS records, as fast as it can but at most
 *                   STEADY_BACKLOG ahead of what the engine has consumed
 *                   (the producer is faster: the engine is never idle, and
 *                   the note gives the producer's rate). The clock starts
 *                   at the first consumed record (the engine's per-record
 *                   consumed counters, polled); when every record has been
 *                   consumed the engine is stopped, which commits at once,
 *                   and the clock stops when that commit completes
 *                   (jackpot_commits_total moves).
 *   fixed_cost_share  the same measurement over PROBE_RECORDS records (on
 *                   fresh topics) over the main run's time: what does not
 *                   grow with the input (wake-up, the final commit's round
 *                   trips, a RocksDB batch), as a share of the figure above.
 *   cold_start_s    a fresh engine (new group, changelogs and state) on the
 *                   run's input, already there: from its creation to its
 *                   first commit covering consumed records.
 *   ceiling_events_per_s  a bare librdkafka consumer, pinned the same way,
 *                   assigned to the same partitions, only counting the same
 *                   records: first record to last.
 *   ratio_to_ceiling  engine over ceiling.
 *   changelog_records_per_event  the records in the run's changelog topics
 *                   (their high watermarks) per input record: how many state
 *                   keys each event dirties between two commits.
 *   protocol_floor_events_per_s  the ceiling's consumer, pinned the same
 *                   way, also producing every record it consumes once (a
 *                   copy of key and value, to the same partition of a
 *                   scratch topic, no header - as the engine's changelog
 *                   records - by a producer configured as the engine's and
 *                   made ready before the clock starts): first record to
 *                   last delivery. It is the Kafka I/O that the commit
 *                   protocol needs when each event dirties a key of its own,
 *                   with no decoding, state or RocksDB; its ratio to the
 *                   ceiling bounds what ratio_to_ceiling can reach.
 *   state_floor_events_per_s  the protocol floor plus the state the
 *                   protocol keeps: one jp_store per partition (no WAL, as
 *                   the engine's tasks), a put per record under a key of its
 *                   own (32 hex characters, 40 bytes of value), and every
 *                   commit interval the dirty keys' changelog records, the
 *                   flush and the RocksDB batch - steps (1), (2) and (4) of
 *                   the protocol. Still no decoding, validation or features.
 *   ratio_to_protocol_floor, ratio_to_state_floor  engine over each floor.
 *   python_peer_events_per_s  bench/bench_engine_peer.py, pinned to the
 *                   engine's core: the loop a Quix Streams user would write
 *                   with python3-confluent-kafka and python3-avro (consume,
 *                   decode, dict state, one changelog record per dirty key
 *                   and a synchronous commit every commit interval); first
 *                   record to its final commit.
 *   ratio_to_python_peer  engine over Python peer.
 *   commit_latency_p50_ms / _p99_ms  record-to-commit at half the measured
 *                   events/s: a paced producer replays the records onto
 *                   fresh topics noting each record's send time; delivery
 *                   reports give each record's (partition, offset); a
 *                   separate consumer handle reads the group's committed
 *                   offsets every POLL_MS, and a record counts as committed
 *                   at the first poll whose committed offset is past it.
 *                   Includes the producer's linger (1 ms), the broker, the
 *                   engine's commit interval and up to POLL_MS of polling.
 *                   The mock cluster keeps ~5 MB per partition: if the
 *                   engine falls that far behind the pace, unread input is
 *                   trimmed and the note says the rows were not measured.
 *   restore_loop_s_per_million_keys / restore_assignment_s_per_million_keys
 *                   after the last steady-state run, a fresh engine with
 *                   an empty state directory in its group restores its
 *                   changelogs
 *                   (the group's offsets are at the end, so nothing else
 *                   runs). The loop
 *                   row is the engine's own restore loop (first record asked
 *                   for to the last applied, from its log); the assignment
 *                   row runs from the engine logging the assignment to it
 *                   reporting ready (stores opened, commit points and
 *                   watermarks read, the loop, state loaded; commit
 *                   interval 50 ms for this run, so up to ~50 ms of slack).
 *                   Both are divided by the changelog records applied (each
 *                   one a state key written) and extrapolated linearly to a
 *                   million.
 *   peak_rss_1m_customers  Kafka bypassed (the mock cannot hold 1M
 *                   records): in a child process, one jp_task fed
 *                   RSS_CUSTOMERS sales of distinct customers (decoded
 *                   through jp_serde with an in-memory registry), committing
 *                   every RSS_COMMIT_EVERY records with the changelog
 *                   records discarded; ru_maxrss of the child, single run.
 *                   The child also reports task_events_per_s (process +
 *                   commit, without Kafka) and counts the customer keys in
 *                   the store afterwards.
 *
 *   task_load_events_per_s  the captured records through one jp_task
 *                   in this thread (no Kafka, changelog discarded, commit
 *                   every TASK_COMMIT_EVERY): the processing ceiling.
 *
 * Environment: JACKPOT_SRC (repository root, default "."), JP_BENCH_RUNS,
 * JP_BENCH_ENGINE_ONLY=task|thru|restore (only task_load_events_per_s, only
 * the throughput rows, or only the restore rows: for profiling),
 * JP_BENCH_DEBUG (the engine's log while it restores, the steady runs'
 * split between consuming and the final commit, each changelog's record
 * count, on stderr).
 * Every wait has a timeout; any failure is reported on stderr and makes
 * the exit status non-zero (rows already measured are still printed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jp_bench.h"
#include "dev/jp_devstack.h"
#include "engine/jp_engine.h"
#include "model/base/jp_hash.h"
#include "base/jp_log.h"
#include "config/jp_topics.h"
#include "registry/jp_registry_client.h"
#include "registry/jp_registry_serde.h"
#include "sim/jp_sim.h"
#include "sim/jp_sim_memreg.h"
#include "sim/jp_sim_world.h"
#include "engine/jp_store.h"
#include "engine/jp_task.h"

#define BENCH            "engine"
#define GEN_RECORDS      400000 /* captured from the simulator */
#define THRU_RECORDS     90000  /* per throughput run: fits the mock's ~5 MB/partition */
#define PROBE_RECORDS    256    /* the fixed-cost probe's run */
#define STEADY_RECORDS   250000 /* per steady-state run, fed as the engine consumes */
#define STEADY_BACKLOG   40000  /* records produced ahead of the engine's consumption */
#define LAT_SECONDS      4.0    /* paced traffic per latency run */
#define LAT_MIN          20000
#define POLL_MS          20
#define RSS_CUSTOMERS    1000000
#define RSS_COMMIT_EVERY 50000
#define WAIT_S           90.0 /* timeout of any single wait */

static int failed;

static void fail(const char *what, const char *err)
{
    fprintf(stderr, "bench_engine: %s: %s\n", what, err);
    failed = 1;
}

static void die(const char *what, const char *err)
{
    fail(what, err);
    exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        die("calloc", "out of memory");
    return p;
}

static void set_str(char **field, const char *value)
{
    free(*field);
    *field = strdup(value);
    if (!*field)
        die("strdup", "out of memory");
}

static double pct(double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- peak RSS with 1M customers (child process, no Kafka) --------------------- */

typedef struct {
    int64_t features, dead_letters;
    char first_reason[128];
} rss_io_t;

static int rss_features(void *ctx, int partition, const char *key, const void *value, size_t len)
{
    (void)partition, (void)key, (void)value, (void)len;
    ((rss_io_t *)ctx)->features++;
    return 0;
}

static int rss_dead_letter(void *ctx, int partition, const jp_task_record_t *rec,
                           const char *error_class, const char *message)
{
    rss_io_t *io = ctx;
    (void)partition, (void)rec;
    if (io->dead_letters++ == 0)
        snprintf(io->first_reason, sizeof(io->first_reason), "%s: %s", error_class, message);
    return 0;
}

static int discard_changelog(void *ctx, int cf, const void *key, size_t klen, const void *val,
                             size_t vlen)
{
    (void)ctx, (void)cf, (void)key, (void)klen, (void)val, (void)vlen;
    return 0;
}

static int count_key(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)key, (void)klen, (void)val, (void)vlen;
    (*(uint64_t *)ctx)++;
    return 0;
}

static int task_commit(jp_task_t *t, char *err, size_t n)
{
    int64_t none[JP_CF__COUNT];
    for (int i = 0; i < JP_CF__COUNT; i++)
        none[i] = -1;
    return jp_task_prepare_commit(t, discard_changelog, NULL, err, n) != 0 ||
                   jp_task_finish_commit(t, none, err, n) != 0
               ? -1
               : 0;
}

/* 2026-03-02T00:00:00Z, a Monday; every sale is for that Saturday's draw. */
#define RSS_T0 1772409600000LL

/* One jp_task outside the engine: the processor config, its validator,
 * PII key, serde and store environment, with outputs counted and dead
 * letters noted. */
typedef struct {
    jp_config_t cfg;
    jp_validator_t *v;
    jp_pii_t *pii;
    jp_sim_memreg_t *reg;
    jp_serde_t *serde;
    jp_store_env_t *senv;
    rss_io_t io;
    jp_task_env_t env;
    jp_task_t *t;
} task_rig_t;

/* registry NULL: an in-memory one (records encoded by the rig's serde). */
static void task_rig_open(task_rig_t *g, const char *src, const char *dir,
                          const jp_serde_registry_t *registry)
{
    char err[1024], path[1200];
    jp_conf_t conf;
    memset(g, 0, sizeof(*g));
    jp_conf_init(&conf, NULL);
    snprintf(path, sizeof(path), "%s/configs/jackpot.yaml", src);
    if (jp_config_load(&conf, path, NULL, &g->cfg) != 0)
        die("config", conf.n_errors ? conf.errors[0] : path);
    jp_conf_destroy(&conf);
    g->v = jp_validator_new(&g->cfg, err, sizeof(err));
    if (!g->v)
        die("validator", err);
    const char *key =
        g->cfg.pii.token_key.value ? g->cfg.pii.token_key.value : "bench-engine-pii-key-not-secret";
    g->pii = jp_pii_new(key, strlen(key));
    jp_serde_config_t sc = {0};
    if (registry) {
        sc.registry = *registry;
    } else {
        g->reg = jp_sim_memreg_new();
        sc.registry = jp_sim_memreg_registry(g->reg);
    }
    sc.flags = JP_AVRO_PLAN_COPY_STRINGS;
    g->serde = jp_serde_new(&sc, err, sizeof(err));
    g->senv =
        jp_store_env_new(jp_task_store_cfs, JP_CF__COUNT, (size_t)g->cfg.state.block_cache_mb << 20,
                         (size_t)g->cfg.state.write_buffer_mb << 20);
    if (!g->pii || !g->serde || !g->senv)
        die("setup", g->pii ? err : "PII key");
    g->env.cfg = &g->cfg;
    g->env.validator = g->v;
    g->env.pii = g->pii;
    g->env.store_env = g->senv;
    g->env.features_topic = g->cfg.topics.features;
    g->env.io =
        (jp_task_io_t){.ctx = &g->io, .features = rss_features, .dead_letter = rss_dead_letter};
    if (mkdir(dir, 0700) != 0)
        die("mkdir", strerror(errno));
    g->t = jp_task_open(&g->env, g->serde, 0, dir, err, sizeof(err));
    if (!g->t)
        die("task", err);
}

static void task_rig_close(task_rig_t *g)
{
    if (g->t)
        jp_task_close(g->t);
    jp_store_env_free(g->senv);
    jp_serde_free(g->serde);
    if (g->reg)
        jp_sim_memreg_free(g->reg);
    jp_pii_free(g->pii);
    jp_validator_free(g->v);
    jp_config_release(&g->cfg);
}

static int rss_child(const char *src, const char *dir)
{
    char err[1024], path[1200];
    task_rig_t g;
    task_rig_open(&g, src, dir, NULL);
    const jp_config_t *cfg = &g.cfg;
    jp_serde_t *serde = g.serde;
    jp_task_t *t = g.t;
    jp_task_set_next_offset(t, JP_INPUT_SALES, 0);

    static const char *const postcodes[] = {"SW1A 1AA", "EH12 9QX", "M1 1AE", "B33 8TH"};
    jp_avro_buf_t buf = {0};
    char id[64], cust[32];
    double busy = 0, in_commit = 0;
    for (int64_t i = 0; i < RSS_CUSTOMERS; i++) {
        snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012lld", (long long)i);
        snprintf(cust, sizeof(cust), "C-%08lld", (long long)i);
        jp_sale_event_t e = {0};
        e.event_id = jp_avro_str(id);
        e.country = jp_avro_str("GB");
        e.event_time = RSS_T0 + i * 250; /* ~69 hours, all before the draw */
        e.customer_id = jp_avro_str(cust);
        e.postcode = jp_avro_str(postcodes[i % 4]);
        e.channel = i % 3 ? JP_SALE_CHANNEL_DIRECT_DEBIT : JP_SALE_CHANNEL_WEB;
        e.tickets = 1 + (int32_t)(i % 3);
        e.amount_minor = 1225LL * e.tickets;
        e.currency = jp_avro_str("GBP");
        e.draw_id = jp_avro_str("GB-20260307-saturday");
        e.advertised_prize_minor = 100000000;
        buf.len = 0;
        if (jp_serde_encode(serde, JP_EVENT_SALE, cfg->topics.sales.name, &e, &buf, err,
                            sizeof(err)) != JP_SERDE_OK)
            die("encode", err);
        jp_task_record_t rec = {
            JP_INPUT_SALES, i, e.event_time, "GB", 2, buf.data, buf.len, NULL, 0, 0, 0};
        double t0 = jp_bench_now();
        jp_task_result_t r = jp_task_process(t, &rec);
        if (r != JP_TASK_APPLIED && r != JP_TASK_DEAD_LETTERED && r != JP_TASK_DUPLICATE)
            die("process", "a record was neither applied nor rejected");
        double t1 = jp_bench_now();
        if ((i + 1) % RSS_COMMIT_EVERY == 0 && task_commit(t, err, sizeof(err)) != 0)
            die("commit", err);
        double t2 = jp_bench_now();
        busy += t2 - t0;
        in_commit += t2 - t1;
    }
    jp_avro_buf_free(&buf);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mib = (double)ru.ru_maxrss / 1024.0;
    jp_task_counts_t c;
    jp_task_counts(t, JP_INPUT_SALES, &c);
    jp_task_close(t);
    g.t = NULL;
    if (c.applied != RSS_CUSTOMERS) {
        snprintf(err, sizeof(err), "%lld of %d sales applied (first dead letter: %s)",
                 (long long)c.applied, RSS_CUSTOMERS, g.io.first_reason);
        die("rss", err);
    }

    /* The customer keys the store holds (committed state, exact). */
    snprintf(path, sizeof(path), "%s/task-0", dir);
    jp_store_t *s = jp_store_open(g.senv, path, err, sizeof(err));
    if (!s)
        die("reopen", err);
    uint64_t keys = 0;
    if (jp_store_scan(s, JP_CF_CUSTOMERS, NULL, 0, count_key, &keys) != 0)
        die("scan", jp_store_last_error(s));
    jp_store_close(s);

    char note[256];
    snprintf(note, sizeof(note),
             "one task, %d sales of distinct customers, commit every %d, %llu customer keys "
             "in state; ru_maxrss, single run",
             RSS_CUSTOMERS, RSS_COMMIT_EVERY, (unsigned long long)keys);
    jp_bench_row(BENCH, "peak_rss_1m_customers", rss_mib, "MiB", "<= 512 MiB", note);
    snprintf(note, sizeof(note),
             "jp_task_process + commits only (no Kafka, no changelog), same %d sales, not "
             "pinned; %.1f s of %.1f s in commits",
             RSS_CUSTOMERS, in_commit, busy);
    jp_bench_row(BENCH, "task_events_per_s", RSS_CUSTOMERS / busy, "events/s", NULL, note);
    task_rig_close(&g);
    return keys >= RSS_CUSTOMERS ? 0 : 1;
}

/* ---- the captured input ---------------------------------------------------------------- */

typedef struct {
    jp_input_t input;
    int64_t ts;
    uint32_t key_off, key_len, val_off, val_len;
} rec_t;

typedef struct {
    const jp_config_t *cfg;
    rec_t *recs;
    size_t n;
    unsigned char *data;
    size_t len, cap;
    volatile int stop;
} capture_t;

static int capture_write(void *ctx, const char *topic, const void *key, size_t key_len,
                         const void *value, size_t len, int64_t timestamp_ms, long fault)
{
    capture_t *c = ctx;
    (void)fault;
    if (c->n >= GEN_RECORDS)
        return 0; /* the rest of the simulated hour is dropped */
    jp_input_t in = strcmp(topic, c->cfg->topics.sales.name) == 0       ? JP_INPUT_SALES
                    : strcmp(topic, c->cfg->topics.customers.name) == 0 ? JP_INPUT_CUSTOMERS
                    : strcmp(topic, c->cfg->topics.draws.name) == 0     ? JP_INPUT_DRAWS
                                                                        : JP_INPUT__COUNT;
    if (in == JP_INPUT__COUNT)
        return 0;
    while (c->len + key_len + len > c->cap) {
        c->cap = c->cap ? 2 * c->cap : 1 << 24;
        c->data = realloc(c->data, c->cap);
        if (!c->data)
            die("capture", "out of memory");
    }
    rec_t *r = &c->recs[c->n++];
    r->input = in;
    r->ts = timestamp_ms;
    r->key_off = (uint32_t)c->len;
    r->key_len = (uint32_t)key_len;
    memcpy(c->data + c->len, key, key_len);
    c->len += key_len;
    r->val_off = (uint32_t)c->len;
    r->val_len = (uint32_t)len;
    memcpy(c->data + c->len, value, len);
    c->len += len;
    return 0;
}

static void capture_progress(void *ctx, int64_t sim_ms, uint64_t records)
{
    capture_t *c = ctx;
    (void)sim_ms, (void)records;
    if (c->n >= GEN_RECORDS)
        c->stop = 1;
}

/* ---- the processing ceiling without Kafka ------------------------------------------------ */

#define TASK_COMMIT_EVERY 100000

/* Every captured record through one jp_task (no Kafka; changelog records
 * discarded), committing every TASK_COMMIT_EVERY records: what the engine
 * could do if consuming and producing were free. Medians of `runs`. */
static void task_load_row(const char *src, const char *tmp, const capture_t *cap,
                          jp_serde_registry_t registry, int runs)
{
    char err[1024], dir[600], note[256];
    double *eps = xcalloc((size_t)runs, sizeof(double)), in_commit = 0, total = 0;
    double *cpu_eps = xcalloc((size_t)runs, sizeof(double));
    int64_t applied = 0;
    for (int r = 0; r < runs; r++) {
        snprintf(dir, sizeof(dir), "%s/task-load%d", tmp, r);
        task_rig_t g;
        task_rig_open(&g, src, dir, &registry);
        int64_t next[JP_INPUT__COUNT] = {0};
        double cpu0 = jp_bench_thread_cpu();
        double t0 = jp_bench_now();
        /* As the engine hands records over: runs of one input, at most
         * JP_TASK_BATCH_MAX, never across a commit. */
        jp_task_record_t run[JP_TASK_BATCH_MAX];
        jp_task_result_t res[JP_TASK_BATCH_MAX];
        size_t n_run = 0;
        for (size_t i = 0; i < cap->n; i++) {
            const rec_t *c = &cap->recs[i];
            run[n_run++] = (jp_task_record_t){c->input,   next[c->input]++,
                                              c->ts,      (const char *)cap->data + c->key_off,
                                              c->key_len, cap->data + c->val_off,
                                              c->val_len, NULL,
                                              0,          0,
                                              0};
            int commit_now = (i + 1) % TASK_COMMIT_EVERY == 0;
            if (i + 1 < cap->n && !commit_now && n_run < JP_TASK_BATCH_MAX &&
                cap->recs[i + 1].input == c->input)
                continue;
            if (jp_task_process_batch(g.t, run, n_run, res) != n_run)
                die("process", "a batch stopped early");
            for (size_t k = 0; k < n_run; k++)
                if (res[k] != JP_TASK_APPLIED && res[k] != JP_TASK_DEAD_LETTERED &&
                    res[k] != JP_TASK_DUPLICATE)
                    die("process", "a record was neither applied nor rejected");
            n_run = 0;
            if (commit_now) {
                double c0 = jp_bench_now();
                if (task_commit(g.t, err, sizeof(err)) != 0)
                    die("commit", err);
                in_commit += jp_bench_now() - c0;
            }
        }
        double c0 = jp_bench_now();
        if (task_commit(g.t, err, sizeof(err)) != 0)
            die("commit", err);
        in_commit += jp_bench_now() - c0;
        total += jp_bench_now() - t0;
        eps[r] = (double)cap->n / (jp_bench_now() - t0);
        cpu_eps[r] = (double)cap->n / (jp_bench_thread_cpu() - cpu0);
        applied = 0;
        for (int in = 0; in < JP_INPUT__COUNT; in++) {
            jp_task_counts_t c;
            jp_task_counts(g.t, (jp_input_t)in, &c);
            applied += c.applied;
        }
        task_rig_close(&g);
    }
    snprintf(note, sizeof(note),
             "load.yaml, %zu records (%lld applied) through one jp_task, commit every %d, no "
             "Kafka, changelog discarded, not pinned; %.0f%% of the time in commits; %.0f "
             "per second of this thread's CPU time",
             cap->n, (long long)applied, TASK_COMMIT_EVERY, 100.0 * in_commit / total,
             jp_bench_median(cpu_eps, (size_t)runs));
    jp_bench_row(BENCH, "task_load_events_per_s", jp_bench_median(eps, (size_t)runs), "events/s",
                 NULL, note);
    free(eps);
    free(cpu_eps);
}

/* ---- scenarios: fresh topics, group and state per run ----------------------------------- */

typedef struct {
    jp_config_t *cfg;
    jp_devstack_t *stack;
    const char *tmp;
    capture_t *cap;
    int64_t commit_interval_ms; /* the configured one */
    char floor_topic[256];      /* the protocol floor's output, per scenario */
    char peer_topic[256];       /* the Python peer's changelog, per scenario */
    const char *src;            /* the repository (for the peer's script) */
} ctx_t;

/* Input topics of input_tag; changelogs, floor and peer topics, group and
 * state directory of tag (the same tag: a fresh scenario; another: a
 * fresh engine reading an earlier scenario's input). */
static void scenario_on(ctx_t *x, const char *input_tag, const char *tag)
{
    char buf[512];
    jp_config_t *cfg = x->cfg;
    snprintf(buf, sizeof(buf), "bench.%s.sales", input_tag);
    set_str(&cfg->topics.sales.name, buf);
    snprintf(buf, sizeof(buf), "bench.%s.customers", input_tag);
    set_str(&cfg->topics.customers.name, buf);
    snprintf(buf, sizeof(buf), "bench.%s.draws", input_tag);
    set_str(&cfg->topics.draws.name, buf);
    snprintf(buf, sizeof(buf), "bench.%s.", tag);
    set_str(&cfg->topics.changelog_prefix, buf);
    snprintf(x->floor_topic, sizeof(x->floor_topic), "bench.%s.floor", tag);
    snprintf(x->peer_topic, sizeof(x->peer_topic), "bench.%s.peer-changelog", tag);
    snprintf(buf, sizeof(buf), "bench-%s", tag);
    if (jp_conf_props_set(&cfg->kafka, "group.id", buf) != 0)
        die("config", "cannot set group.id");
    snprintf(buf, sizeof(buf), "%s/state-%s", x->tmp, tag);
    set_str(&cfg->state.dir, buf);
    cfg->processing.commit_interval_ms = x->commit_interval_ms;
}

static void scenario(ctx_t *x, const char *tag)
{
    scenario_on(x, tag, tag);
}

static const char *input_topic(const jp_config_t *cfg, jp_input_t in)
{
    return in == JP_INPUT_SALES       ? cfg->topics.sales.name
           : in == JP_INPUT_CUSTOMERS ? cfg->topics.customers.name
                                      : cfg->topics.draws.name;
}

static int n_parts(const jp_config_t *cfg)
{
    return (int)cfg->topics.sales.partitions;
}

/* A client of the stack: bootstrap.servers and the NULL-terminated
 * key/value pairs of kv, with dr (NULL: none) as its delivery-report
 * callback and opaque. Any error ends the bench, naming what. */
static rd_kafka_t *new_client(ctx_t *x, rd_kafka_type_t type, const char *const *kv,
                              void (*dr)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                              void *opaque, const char *what)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "bootstrap.servers", jp_devstack_bootstraps(x->stack), err,
                          sizeof(err)) != RD_KAFKA_CONF_OK)
        die(what, err);
    for (; kv && kv[0]; kv += 2)
        if (rd_kafka_conf_set(c, kv[0], kv[1], err, sizeof(err)) != RD_KAFKA_CONF_OK)
            die(what, err);
    rd_kafka_conf_set_opaque(c, opaque);
    if (dr)
        rd_kafka_conf_set_dr_msg_cb(c, dr);
    rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof(err));
    if (!rk)
        die(what, err);
    return rk;
}

/* Inputs (with inputs set), dead-letter, changelog, repartition, floor
 * and peer topics of the scenario (the mock cluster has no CreateTopics;
 * the outputs exist from the stack's start). */
static void create_scenario_topics(ctx_t *x, int inputs)
{
    char err[512], t[600];
    jp_broker_t *b = jp_devstack_broker(x->stack);
    for (int i = 0; inputs && i < JP_INPUT__COUNT; i++) {
        const char *name = input_topic(x->cfg, (jp_input_t)i);
        jp_topics_dlq(x->cfg, name, t, sizeof(t));
        if (jp_broker_create_topic(b, name, n_parts(x->cfg), err, sizeof(err)) != 0 ||
            jp_broker_create_topic(b, t, n_parts(x->cfg), err, sizeof(err)) != 0)
            die("topics", err);
    }
    for (size_t i = 0; i < jp_topics_n_changelog_stores; i++) {
        jp_topics_changelog(x->cfg, jp_topics_changelog_stores[i], t, sizeof(t));
        if (jp_broker_create_topic(b, t, n_parts(x->cfg), err, sizeof(err)) != 0)
            die("topics", err);
    }
    if ((jp_topics_repartition(x->cfg, t, sizeof(t)) &&
         jp_broker_create_topic(b, t, n_parts(x->cfg), err, sizeof(err)) != 0) ||
        jp_broker_create_topic(b, x->floor_topic, n_parts(x->cfg), err, sizeof(err)) != 0 ||
        jp_broker_create_topic(b, x->peer_topic, n_parts(x->cfg), err, sizeof(err)) != 0)
        die("topics", err);
}

static void create_topics(ctx_t *x)
{
    create_scenario_topics(x, 1);
}

/* Records in the changelog topics of the current scenario (the sum of
 * their partitions' high watermarks: every topic starts empty, and a high
 * watermark counts what the mock has trimmed since). */
static int64_t changelog_records(ctx_t *x)
{
    char t[600];
    rd_kafka_t *rk = new_client(x, RD_KAFKA_PRODUCER, NULL, NULL, NULL, "watermarks");
    int64_t total = 0;
    for (size_t i = 0; i < jp_topics_n_changelog_stores; i++) {
        jp_topics_changelog(x->cfg, jp_topics_changelog_stores[i], t, sizeof(t));
        int64_t store = 0;
        for (int p = 0; p < n_parts(x->cfg); p++) {
            int64_t lo = -1, hi = -1;
            rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, t, p, &lo, &hi, 10000);
            if (e)
                die("changelog watermarks", rd_kafka_err2str(e));
            store += hi;
        }
        if (getenv("JP_BENCH_DEBUG"))
            fprintf(stderr, "changelog %s: %lld records\n", t, (long long)store);
        total += store;
    }
    rd_kafka_destroy(rk);
    return total;
}

static void wait_for(const char *what, double deadline)
{
    if (jp_bench_now() > deadline)
        die("timeout", what);
}

/* ---- producing ---------------------------------------------------------------------------- */

typedef struct {
    rd_kafka_t *rk;
    int32_t *part; /* per record, from delivery reports */
    int64_t *off;
    double *sent; /* send time per record (may be NULL) */
    atomic_long delivered, errors;
} producer_t;

static void producer_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    producer_t *p = opaque;
    (void)rk;
    size_t i = (size_t)(uintptr_t)m->_private;
    if (m->err) {
        atomic_fetch_add(&p->errors, 1);
        return;
    }
    p->part[i] = m->partition;
    p->off[i] = m->offset;
    atomic_fetch_add(&p->delivered, 1);
}

static void producer_init(producer_t *p, ctx_t *x, size_t n, const char *linger)
{
    memset(p, 0, sizeof(*p));
    const char *const kv[] = {"enable.idempotence",
                              "true",
                              "partitioner",
                              "murmur2_random",
                              "linger.ms",
                              linger,
                              "queue.buffering.max.messages",
                              "1000000",
                              NULL};
    p->rk = new_client(x, RD_KAFKA_PRODUCER, kv, producer_dr, p, "producer");
    p->part = xcalloc(n, sizeof(*p->part));
    p->off = xcalloc(n, sizeof(*p->off));
    p->sent = xcalloc(n, sizeof(*p->sent));
}

static void producer_free(producer_t *p)
{
    rd_kafka_destroy(p->rk);
    free(p->part);
    free(p->off);
    free(p->sent);
}

/* Produces records [0, n) in order; rate records/s (0: as fast as
 * possible). With consumed set, never more than backlog records ahead of
 * what those counters say was consumed (for inputs larger than the mock
 * cluster keeps: it trims a partition beyond ~5 MB). */
static void produce_paced(producer_t *p, ctx_t *x, size_t n, double rate,
                          jp_counter_t *const *consumed, size_t backlog)
{
    const capture_t *c = x->cap;
    double t0 = jp_bench_now(), deadline = t0 + WAIT_S;
    for (size_t i = 0; i < n; i++) {
        while (consumed && i % 1024 == 0) {
            uint64_t got = 0;
            for (int k = 0; k < JP_INPUT__COUNT; k++)
                got += jp_counter_get(consumed[k]);
            if (i < got + backlog)
                break;
            rd_kafka_poll(p->rk, 0);
            wait_for("the engine consuming the paced input", deadline);
            usleep(1000);
        }
        if (rate > 0) {
            double due = t0 + (double)i / rate;
            double now = jp_bench_now();
            if (due > now) {
                rd_kafka_poll(p->rk, 0);
                if (due - now > 0.0002)
                    usleep((useconds_t)((due - now) * 1e6));
            }
        }
        const rec_t *r = &c->recs[i];
        for (;;) {
            p->sent[i] = jp_bench_now();
            rd_kafka_resp_err_t e = rd_kafka_producev(
                p->rk, RD_KAFKA_V_TOPIC(input_topic(x->cfg, r->input)),
                RD_KAFKA_V_KEY((c->data + r->key_off), r->key_len),
                RD_KAFKA_V_VALUE((c->data + r->val_off), r->val_len), RD_KAFKA_V_TIMESTAMP(r->ts),
                RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)i), RD_KAFKA_V_END);
            if (!e)
                break;
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                die("produce", rd_kafka_err2str(e));
            rd_kafka_poll(p->rk, 10);
        }
        if (rate <= 0 && i % 1024 == 0)
            rd_kafka_poll(p->rk, 0);
    }
    if (rd_kafka_flush(p->rk, 60000) != 0 || atomic_load(&p->errors) ||
        atomic_load(&p->delivered) != (long)n)
        die("produce", "not every record was delivered within 60 s");
}

static void produce(producer_t *p, ctx_t *x, size_t n, double rate)
{
    produce_paced(p, x, n, rate, NULL, 0);
}

/* Every input partition starts at 0 and the ends add up to n: the whole
 * input is present (nothing trimmed by the mock's retention). */
static void check_input(ctx_t *x, rd_kafka_t *rk, size_t n)
{
    int64_t total = 0;
    char err[600];
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        for (int p = 0; p < n_parts(x->cfg); p++) {
            int64_t lo, hi;
            const char *topic = input_topic(x->cfg, (jp_input_t)i);
            rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
            if (e)
                die("watermarks", rd_kafka_err2str(e));
            if (getenv("JP_BENCH_DEBUG"))
                fprintf(stderr, "%s [%d] %lld..%lld\n", topic, p, (long long)lo, (long long)hi);
            if (lo != 0) {
                snprintf(err, sizeof(err),
                         "%s [%d] starts at %lld: the dev broker trimmed the input; lower "
                         "THRU_RECORDS",
                         topic, p, (long long)lo);
                die("input", err);
            }
            total += hi;
        }
    if (total != (int64_t)n) {
        snprintf(err, sizeof(err), "%lld records in the input topics, %zu produced",
                 (long long)total, n);
        die("input", err);
    }
}

/* ---- running the engine ---------------------------------------------------------------------- */

typedef struct {
    ctx_t *x;
    jp_metrics_t *m;
    jp_engine_t *e;
    atomic_int state; /* 0 starting, 1 created, -1 failed */
    int rc;
    char err[1024];
    pthread_t th;
} engine_t;

static void *engine_main(void *arg)
{
    engine_t *g = arg;
    int code;
    jp_bench_pin_one_core(); /* before jp_engine_new: librdkafka's threads inherit it */
    jp_engine_opts_t o = {.dev_mode = 1};
    g->e = jp_engine_new(g->x->cfg, g->m, &o, &code, g->err, sizeof(g->err));
    if (!g->e) {
        atomic_store(&g->state, -1);
        return NULL;
    }
    atomic_store(&g->state, 1);
    g->rc = jp_engine_run(g->e, g->err, sizeof(g->err));
    return NULL;
}

static void engine_start(engine_t *g, ctx_t *x)
{
    memset(g, 0, sizeof(*g));
    g->x = x;
    g->m = jp_metrics_new();
    if (!g->m || pthread_create(&g->th, NULL, engine_main, g) != 0)
        die("engine", "cannot start the engine thread");
    double deadline = jp_bench_now() + WAIT_S;
    while (atomic_load(&g->state) == 0) {
        wait_for("engine start", deadline);
        usleep(1000);
    }
    if (atomic_load(&g->state) < 0)
        die("engine", g->err);
}

static jp_engine_totals_t engine_finish(engine_t *g)
{
    jp_engine_totals_t t;
    jp_engine_stop(g->e);
    pthread_join(g->th, NULL);
    if (g->rc != 0)
        die("engine run", g->err);
    jp_engine_totals(g->e, &t);
    jp_engine_free(g->e);
    jp_metrics_free(g->m);
    return t;
}

/* The engine's per-input consumed counters (get-or-create: same name,
 * help and labels as the engine's). */
static void consumed_counters(engine_t *g, jp_counter_t *c[JP_INPUT__COUNT])
{
    for (int i = 0; i < JP_INPUT__COUNT; i++) {
        char topic[400], labels[512];
        jp_metrics_label_escape(topic, sizeof(topic), input_topic(g->x->cfg, (jp_input_t)i));
        snprintf(labels, sizeof(labels), "topic=\"%s\"", topic);
        c[i] = jp_metrics_counter(g->m, "jackpot_records_consumed_total",
                                  "Input records read from their topic", labels);
        if (!c[i])
            die("metrics", jp_metrics_error(g->m));
    }
}

static jp_counter_t *counter(jp_metrics_t *m, const char *name, const char *help)
{
    jp_counter_t *c = jp_metrics_counter(m, name, help, NULL);
    if (!c)
        die("metrics", jp_metrics_error(m));
    return c;
}

/* ---- events/s and the ceiling ------------------------------------------------------------------
 */

/* Pins the calling thread to every CPU but the measured one (when there
 * is another): the feeder must not take the engine's core. */
static void pin_off_measured_core(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (long i = 1; i < n && i < CPU_SETSIZE; i++)
        CPU_SET((int)i, &set);
    if (n > 1)
        (void)sched_setaffinity(0, sizeof(set), &set);
}

/* Produces the first n captured records as fast as it can, on its own
 * thread off the measured core, and checks they all arrived. */
typedef struct {
    ctx_t *x;
    size_t n;
    jp_counter_t *const *consumed; /* backlog > 0: the engine's counters */
    size_t backlog;                /* 0: everything at once (and checked) */
    double rate;                   /* records/s it produced at */
    pthread_t th;
} feeder_t;

static void *feeder_main(void *arg)
{
    feeder_t *f = arg;
    pin_off_measured_core(); /* before the producer: its threads inherit it */
    producer_t p;
    producer_init(&p, f->x, f->n, "5");
    double t0 = jp_bench_now();
    produce_paced(&p, f->x, f->n, 0, f->backlog ? f->consumed : NULL, f->backlog);
    f->rate = (double)f->n / (jp_bench_now() - t0);
    if (!f->backlog) /* a paced input outgrows what the mock keeps */
        check_input(f->x, p.rk, f->n);
    producer_free(&p);
    return NULL;
}

/* Waits until the engine owns every task and has committed once: it is
 * assigned, restored (nothing) and idle. */
static void wait_idle(engine_t *g)
{
    double deadline = jp_bench_now() + WAIT_S;
    for (;;) {
        jp_engine_totals_t t;
        jp_engine_totals(g->e, &t);
        if (t.tasks == n_parts(g->x->cfg) && t.commits > 0)
            return;
        wait_for("the engine's assignment", deadline);
        usleep(5000);
    }
}

/* Steady state: the engine is assigned and idle before the first record
 * of the scenario's (empty) input topics is produced; then n records
 * arrive as fast as a producer on the other core writes them. The clock
 * runs from the first record consumed to the final commit (the engine is
 * stopped once it has consumed all, which commits at once). Returns
 * events/s; *feed (may be NULL) gets the producer's rate. */
static double engine_steady(ctx_t *x, size_t n, size_t backlog, double *feed)
{
    engine_t g;
    jp_counter_t *consumed[JP_INPUT__COUNT];
    engine_start(&g, x);
    consumed_counters(&g, consumed);
    jp_counter_t *commits = counter(g.m, "jackpot_commits_total", "Completed commits");
    wait_idle(&g);
    feeder_t f = {x, n, consumed, backlog, 0, 0};
    if (pthread_create(&f.th, NULL, feeder_main, &f) != 0)
        die("feeder", "cannot start the thread");
    double t_first = 0, deadline = jp_bench_now() + WAIT_S;
    for (;;) {
        uint64_t c = 0;
        for (int i = 0; i < JP_INPUT__COUNT; i++)
            c += jp_counter_get(consumed[i]);
        if (c > 0 && t_first == 0)
            t_first = jp_bench_now();
        if (c >= n)
            break;
        wait_for("engine consuming the input (is jackpot_records_consumed_total still "
                 "counted per record?)",
                 deadline);
        usleep(200);
    }
    uint64_t k = jp_counter_get(commits);
    double t_last = jp_bench_now();
    jp_engine_stop(g.e); /* commits at once */
    while (jp_counter_get(commits) == k) {
        wait_for("the engine's final commit", deadline);
        usleep(100);
    }
    double el = jp_bench_now() - t_first;
    pthread_join(f.th, NULL);
    if (getenv("JP_BENCH_DEBUG"))
        fprintf(stderr, "steady %zu: consume %.1f ms, final commit %.1f ms, fed at %.0f/s\n", n,
                (t_last - t_first) * 1e3, (jp_bench_now() - t_last) * 1e3, f.rate);
    jp_engine_totals_t t = engine_finish(&g);
    if (t.consumed != (int64_t)n || t.consumed != t.applied + t.dead_lettered + t.duplicates) {
        char err[256];
        snprintf(err, sizeof(err),
                 "totals: consumed %lld (want %zu), applied %lld, dead-lettered %lld, "
                 "duplicates %lld",
                 (long long)t.consumed, n, (long long)t.applied, (long long)t.dead_lettered,
                 (long long)t.duplicates);
        die("engine", err);
    }
    if (feed)
        *feed = f.rate;
    return (double)n / el;
}

/* Cold start: a fresh engine (new group, empty state) on input that is
 * already there; seconds from its creation to its first commit that
 * covers consumed records (group join, assignment, opening and restoring
 * nothing, and the first commit interval). */
static double cold_start(ctx_t *x)
{
    engine_t g;
    double t0 = jp_bench_now(), deadline = t0 + WAIT_S;
    engine_start(&g, x);
    for (;;) {
        jp_engine_totals_t t;
        jp_engine_totals(g.e, &t);
        if (t.commits > 0 && t.consumed > 0)
            break;
        wait_for("the cold engine's first commit", deadline);
        usleep(1000);
    }
    double el = jp_bench_now() - t0;
    engine_finish(&g);
    return el;
}

/* The Python peer (bench/bench_engine_peer.py) over the scenario's n input
 * records, pinned to the measured core: events/s. */
static double python_peer(ctx_t *x, size_t n)
{
    char cmd[2048], line[512];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 '%s/bench/bench_engine_peer.py' --cpu 0 --bootstrap '%s' "
             "--registry '%s' --topics '%s,%s,%s' --partitions %d --changelog '%s' "
             "--group '%s-peer' --expect %zu --commit-interval-ms %lld",
             x->src, jp_devstack_bootstraps(x->stack), jp_devstack_registry_url(x->stack),
             input_topic(x->cfg, JP_INPUT_SALES), input_topic(x->cfg, JP_INPUT_CUSTOMERS),
             input_topic(x->cfg, JP_INPUT_DRAWS), n_parts(x->cfg), x->peer_topic,
             jp_config_kafka_get(x->cfg, "group.id"), n, (long long)x->commit_interval_ms);
    fflush(stdout);
    FILE *f = popen(cmd, "r");
    if (!f)
        die("python peer", strerror(errno));
    double secs = 0;
    long long records = 0;
    int got = 0;
    while (fgets(line, sizeof(line), f))
        got |= sscanf(line, "{\"records\": %lld, \"seconds\": %lf", &records, &secs) == 2;
    if (pclose(f) != 0 || !got || records != (long long)n || secs <= 0)
        die("python peer", "bench/bench_engine_peer.py failed (see above)");
    return (double)n / secs;
}

enum { CEILING, FLOOR_PROTOCOL, FLOOR_STATE };

typedef struct {
    ctx_t *x;
    size_t n;
    int mode; /* CEILING, FLOOR_PROTOCOL or FLOOR_STATE */
    double rate;
} ceiling_t;

/* The protocol floor's producer, configured as the engine's is. */
static rd_kafka_t *floor_producer(ctx_t *x)
{
    const char *const kv[] = {"enable.idempotence",           "true",    "linger.ms", "5",
                              "queue.buffering.max.messages", "1000000", NULL};
    rd_kafka_t *rk = new_client(x, RD_KAFKA_PRODUCER, kv, NULL, NULL, "floor producer");
    /* Ready before the clock starts, as the engine's producer is by its
     * first commit: the topic's metadata and the idempotent producer id
     * took ~0.9 s on the mock, which would otherwise land in the figure. */
    for (int p = 0; p < n_parts(x->cfg); p++)
        if (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(x->floor_topic), RD_KAFKA_V_PARTITION(p),
                              RD_KAFKA_V_VALUE("warm-up", 7),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) != 0)
            die("floor producer", "cannot queue the warm-up records");
    if (rd_kafka_flush(rk, 30000) != 0)
        die("floor producer", "the warm-up records were not delivered within 30 s");
    return rk;
}

/* A changelog record as the engine produces one: key and value copied, no
 * header, to partition p (of the floor topic). */
static void floor_produce(rd_kafka_t *pk, ctx_t *x, int32_t p, const void *key, size_t klen,
                          const void *val, size_t vlen)
{
    for (;;) {
        rd_kafka_resp_err_t e =
            rd_kafka_producev(pk, RD_KAFKA_V_TOPIC(x->floor_topic), RD_KAFKA_V_PARTITION(p),
                              RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)val, vlen),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (!e)
            return;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            die("floor produce", rd_kafka_err2str(e));
        rd_kafka_poll(pk, 10);
    }
}

/* The protocol floor's step per record: what any design that follows
 * the commit protocol (docs/processor.md) must produce when each record dirties a key
 * of its own (load.yaml: see changelog_records_per_event). */
static void floor_forward(rd_kafka_t *pk, ctx_t *x, const rd_kafka_message_t *m)
{
    floor_produce(pk, x, m->partition, m->key, m->key_len, m->payload, m->len);
}

/* The state floor: the protocol floor plus the state the commit protocol
 * keeps - one jp_store per partition (as the engine's tasks, without a
 * WAL), a put per record under a key of its own, and at every commit
 * interval steps (1), (2) and (4): the dirty keys' changelog records, the
 * flush, the RocksDB batch. No decoding, validation or features, and no
 * consumer-offset commit (one request per interval). */
#define FLOOR_MAX_PARTS 64
#define FLOOR_VALUE_LEN 40 /* about an encoded customer's size */

typedef struct {
    rd_kafka_t *pk;
    ctx_t *x;
    jp_store_env_t *env;
    jp_store_t *s[FLOOR_MAX_PARTS];
    int np;
    int32_t p; /* the partition whose dirty keys are being produced */
} state_floor_t;

static void state_floor_open(state_floor_t *f, ctx_t *x, rd_kafka_t *pk)
{
    char path[1200], err[512];
    memset(f, 0, sizeof(*f));
    f->pk = pk;
    f->x = x;
    f->np = n_parts(x->cfg);
    if (f->np > FLOOR_MAX_PARTS)
        die("state floor", "more than 64 partitions");
    f->env = jp_store_env_new(jp_task_store_cfs, JP_CF__COUNT,
                              (size_t)x->cfg->state.block_cache_mb << 20,
                              (size_t)x->cfg->state.write_buffer_mb << 20);
    if (!f->env)
        die("state floor", "cannot create the store environment");
    jp_store_env_expect_stores(f->env, (size_t)f->np);
    snprintf(path, sizeof(path), "%s/%s", x->tmp, x->floor_topic);
    if (mkdir(path, 0700) != 0)
        die("state floor", strerror(errno));
    for (int p = 0; p < f->np; p++) {
        snprintf(path, sizeof(path), "%s/%s/p%d", x->tmp, x->floor_topic, p);
        f->s[p] = jp_store_open(f->env, path, err, sizeof(err));
        if (!f->s[p])
            die("state floor", err);
        jp_store_set_durability(f->s[p], JP_STORE_NO_WAL);
    }
}

/* A key that looks like a customer token (32 hex characters, from the
 * record's topic, partition and offset) and the first bytes of the value. */
static void state_floor_put(state_floor_t *f, const rd_kafka_message_t *m)
{
    static const char hex[] = "0123456789abcdef";
    const char *topic = rd_kafka_topic_name(m->rkt);
    uint64_t coord[2] = {(uint64_t)m->partition, (uint64_t)m->offset};
    uint64_t seed = jp_hash64(topic, strlen(topic), 1);
    uint64_t h[2] = {jp_hash64(coord, sizeof(coord), seed), jp_hash64(coord, sizeof(coord), ~seed)};
    char key[32];
    for (int i = 0; i < 32; i++)
        key[i] = hex[(h[i / 16] >> (60 - 4 * (i % 16))) & 15];
    size_t len = m->len < FLOOR_VALUE_LEN ? m->len : FLOOR_VALUE_LEN;
    if (jp_store_put_ts(f->s[m->partition], JP_CF_CUSTOMERS, key, sizeof(key), m->payload, len,
                        rd_kafka_message_timestamp(m, NULL)) != 0)
        die("state floor put", jp_store_last_error(f->s[m->partition]));
}

static int state_floor_changelog(void *ctx, int cf, const void *key, size_t klen, const void *val,
                                 size_t vlen)
{
    state_floor_t *f = ctx;
    (void)cf;
    floor_produce(f->pk, f->x, f->p, key, klen, val, vlen);
    return 0;
}

static void state_floor_commit(state_floor_t *f)
{
    char err[512];
    for (f->p = 0; f->p < f->np; f->p++)
        if (jp_store_dirty_foreach(f->s[f->p], state_floor_changelog, f) != 0)
            die("state floor changelog", jp_store_last_error(f->s[f->p]));
    if (rd_kafka_flush(f->pk, 60000) != 0 || rd_kafka_outq_len(f->pk) != 0)
        die("state floor", "not every changelog record was delivered within 60 s");
    for (int p = 0; p < f->np; p++)
        if (jp_store_commit(f->s[p], NULL, 0, err, sizeof(err)) != 0)
            die("state floor commit", err);
}

static void state_floor_close(state_floor_t *f)
{
    for (int p = 0; p < f->np; p++)
        jp_store_close(f->s[p]);
    jp_store_env_free(f->env);
}

static void *ceiling_main(void *arg)
{
    ceiling_t *c = arg;
    jp_bench_pin_one_core();
    const char *const kv[] = {"group.id", "bench-ceiling", "enable.auto.commit", "false", NULL};
    rd_kafka_t *rk = new_client(c->x, RD_KAFKA_CONSUMER, kv, NULL, NULL, "ceiling");
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(JP_INPUT__COUNT * n_parts(c->x->cfg));
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        for (int p = 0; p < n_parts(c->x->cfg); p++)
            rd_kafka_topic_partition_list_add(l, input_topic(c->x->cfg, (jp_input_t)i), p)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    /* created pinned, as rk */
    rd_kafka_t *pk = c->mode != CEILING ? floor_producer(c->x) : NULL;
    state_floor_t sf;
    if (c->mode == FLOOR_STATE)
        state_floor_open(&sf, c->x, pk);
    size_t got = 0;
    double t_first = 0, t_commit = 0, deadline = jp_bench_now() + WAIT_S;
    double interval = (double)c->x->commit_interval_ms / 1000.0;
    while (got < c->n) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m) {
            if (!m->err && got++ == 0)
                t_first = t_commit = jp_bench_now();
            if (!m->err && c->mode == FLOOR_PROTOCOL) {
                floor_forward(pk, c->x, m);
                if (got % 1024 == 0)
                    rd_kafka_poll(pk, 0); /* delivery reports, as the engine serves them */
            } else if (!m->err && c->mode == FLOOR_STATE) {
                state_floor_put(&sf, m);
            }
            rd_kafka_message_destroy(m);
        }
        if (c->mode == FLOOR_STATE && t_first > 0 && jp_bench_now() - t_commit >= interval) {
            state_floor_commit(&sf);
            t_commit = jp_bench_now();
        }
        wait_for(pk ? "the floor consumer" : "the ceiling consumer", deadline);
    }
    if (c->mode == FLOOR_STATE)
        state_floor_commit(&sf);
    else if (pk && (rd_kafka_flush(pk, 60000) != 0 || rd_kafka_outq_len(pk) != 0))
        die("floor", "not every record was delivered within 60 s");
    c->rate = (double)c->n / (jp_bench_now() - t_first);
    if (c->mode == FLOOR_STATE)
        state_floor_close(&sf);
    if (pk)
        rd_kafka_destroy(pk);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return NULL;
}

/* A floor's rows: <name>_floor_events_per_s (median of eps) and its ratio
 * to the ceiling (median of the runs' ratios), which bounds what
 * ratio_to_ceiling can reach. */
static void floor_rows(const char *name, double *eps, int runs, const double *ceil,
                       const char *what)
{
    char row[64], note[160];
    double *r = xcalloc((size_t)runs, sizeof(double));
    for (int i = 0; i < runs; i++)
        r[i] = eps[i] / ceil[i];
    snprintf(row, sizeof(row), "%s_floor_events_per_s", name);
    jp_bench_row(BENCH, row, jp_bench_median(eps, (size_t)runs), "events/s", NULL, what);
    snprintf(row, sizeof(row), "%s_floor_ratio_to_ceiling", name);
    snprintf(note, sizeof(note),
             "%s floor over ceiling, median of the runs' ratios: the most ratio_to_ceiling "
             "can reach",
             name);
    jp_bench_row(BENCH, row, jp_bench_median(r, (size_t)runs), "ratio", NULL, note);
    free(r);
}

static double ceiling_throughput(ctx_t *x, size_t n, int mode)
{
    ceiling_t c = {x, n, mode, 0};
    pthread_t th;
    if (pthread_create(&th, NULL, ceiling_main, &c) != 0)
        die("ceiling", "cannot start the thread");
    pthread_join(th, NULL);
    return c.rate;
}

/* ---- restore ------------------------------------------------------------------------------------
 */

typedef struct {
    int fd;
    atomic_int started;
    _Atomic double t_start; /* when the engine logged its first assignment */
    _Atomic double loop_s;  /* restore loops, as the engine logged them */
} logwatch_t;

/* Reads the engine's log (a pipe): when the first assignment arrives, and
 * the restore loop's own seconds ("(reading X s)"). */
static void *logwatch_main(void *arg)
{
    logwatch_t *w = arg;
    char buf[8192];
    size_t have = 0;
    for (;;) {
        ssize_t r = read(w->fd, buf + have, sizeof(buf) - 1 - have);
        if (r <= 0)
            return NULL;
        double now = jp_bench_now();
        if (getenv("JP_BENCH_DEBUG"))
            fwrite(buf + have, 1, (size_t)r, stderr);
        have += (size_t)r;
        buf[have] = '\0';
        if (!atomic_load(&w->started) && strstr(buf, ": assigned ")) {
            atomic_store(&w->t_start, now);
            atomic_store(&w->started, 1);
        }
        char *nl = strrchr(buf, '\n');
        for (const char *at = buf; nl && (at = strstr(at, "(reading ")) && at < nl; at++) {
            double s = 0;
            if (sscanf(at, "(reading %lf s)", &s) == 1)
                atomic_store(&w->loop_s, atomic_load(&w->loop_s) + s);
        }
        if (nl) { /* keep a partial last line */
            size_t rest = have - (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, rest);
            have = rest;
        } else if (have > sizeof(buf) / 2) {
            have = 0;
        }
    }
}

/* Restores the changelogs of the current scenario into a fresh state
 * directory: seconds per million changelog records applied, of the whole
 * assignment (first assignment logged to the engine reporting ready; the
 * commit interval is 50 ms for this run, so up to ~50 ms of slack) and of
 * the restore loop itself (*loop_s_per_m). */
static double restore_time(ctx_t *x, const char *state_dir, uint64_t *records, double *loop_s_per_m)
{
    set_str(&x->cfg->state.dir, state_dir); /* a new, empty directory */
    x->cfg->processing.commit_interval_ms = 50;
    int fds[2];
    if (pipe(fds) != 0)
        die("pipe", strerror(errno));
    logwatch_t w = {fds[0], 0, 0, 0};
    pthread_t th;
    if (pthread_create(&th, NULL, logwatch_main, &w) != 0)
        die("restore", "cannot start the log reader");
    jp_log_set_fd(fds[1]);
    jp_log_set_level(JP_LOG_INFO);

    engine_t g;
    engine_start(&g, x);
    jp_counter_t *restored =
        counter(g.m, "jackpot_restored_records_total", "Changelog records applied by restores");
    double deadline = jp_bench_now() + WAIT_S;
    while (!jp_engine_ready(g.e)) {
        wait_for("the engine's restore", deadline);
        usleep(200);
    }
    double t_end = jp_bench_now();
    *records = jp_counter_get(restored);
    engine_finish(&g);
    jp_log_set_fd(2);
    jp_log_set_level(JP_LOG_WARN);
    close(fds[1]);
    pthread_join(th, NULL);
    close(fds[0]);
    x->cfg->processing.commit_interval_ms = x->commit_interval_ms;
    if (!atomic_load(&w.started) || *records == 0)
        die("restore", "the engine restored nothing (no \"assigned\" log line)");
    *loop_s_per_m = atomic_load(&w.loop_s) / (double)*records * 1e6;
    return (t_end - atomic_load(&w.t_start)) / (double)*records * 1e6;
}

/* The restore rows: an engine on scenario tag processed STEADY_RECORDS
 * records (more than the mock keeps of an input at once, fed as it
 * consumed them); its group's offsets are at the end of the input, so an
 * engine on the same scenario only restores, into a new state directory
 * each time. */
static void restore_rows(ctx_t *x, int runs, const char *tag)
{
    char path[1200], note[512];
    scenario(x, tag);
    int rruns = runs < 3 ? runs : 3;
    double *rs = xcalloc((size_t)rruns, sizeof(double));
    double *rl = xcalloc((size_t)rruns, sizeof(double));
    uint64_t restored = 0;
    for (int r = 0; r < rruns; r++) {
        snprintf(path, sizeof(path), "%s/restore%d", x->tmp, r);
        rs[r] = restore_time(x, path, &restored, &rl[r]);
    }
    snprintf(note, sizeof(note),
             "%llu changelog records (of a %d-record run) restored into empty stores: the "
             "engine's restore loop "
             "(first changelog record asked for to the last applied), extrapolated linearly to "
             "1M; median of %d",
             (unsigned long long)restored, STEADY_RECORDS, rruns);
    jp_bench_row(BENCH, "restore_loop_s_per_million_keys", jp_bench_median(rl, (size_t)rruns),
                 "s/1M keys", NULL, note);
    snprintf(note, sizeof(note),
             "the same restores, whole assignment: assignment received to ready (stores "
             "opened, commit points and watermarks read, restored, state loaded), "
             "extrapolated linearly to 1M; median of %d",
             rruns);
    jp_bench_row(BENCH, "restore_assignment_s_per_million_keys", jp_bench_median(rs, (size_t)rruns),
                 "s/1M keys", "<= 3 s", note);

    free(rs);
    free(rl);
}

/* ---- record-to-commit latency
 * --------------------------------------------------------------------- */

typedef struct {
    double t;
    int64_t off[JP_INPUT__COUNT][64];
} snap_t;

typedef struct {
    producer_t *p;
    ctx_t *x;
    size_t n;
    double rate;
    atomic_int done;
} pacer_t;

static void *pacer_main(void *arg)
{
    pacer_t *pc = arg;
    produce(pc->p, pc->x, pc->n, pc->rate);
    atomic_store(&pc->done, 1);
    return NULL;
}

/* p50 and p99 record-to-commit latency (ms) at rate records/s. */
/* Returns how many of the n records the engine consumed: fewer when it
 * fell so far behind the pace that the mock cluster trimmed input it had
 * not read (its committed offsets then skip them, and the figures are not
 * record-to-commit latencies). */
static int64_t commit_latency(ctx_t *x, size_t n, double rate, double *p50, double *p99)
{
    int np = n_parts(x->cfg);
    if (np > 64)
        die("latency", "more than 64 partitions");
    engine_t g;
    engine_start(&g, x);
    double deadline = jp_bench_now() + WAIT_S;
    for (;;) { /* assigned: the first commit publishes the tasks */
        jp_engine_totals_t t;
        jp_engine_totals(g.e, &t);
        if (t.tasks == np)
            break;
        wait_for("the engine's assignment", deadline);
        usleep(5000);
    }

    const char *const kv[] = {"group.id", jp_config_kafka_get(x->cfg, "group.id"),
                              "enable.auto.commit", "false", NULL};
    rd_kafka_t *rk = new_client(x, RD_KAFKA_CONSUMER, kv, NULL, NULL, "offsets reader");

    producer_t p;
    producer_init(&p, x, n, "1");
    pacer_t pc = {&p, x, n, rate, 0};
    pthread_t th;
    if (pthread_create(&th, NULL, pacer_main, &pc) != 0)
        die("latency", "cannot start the producer thread");

    size_t cap = 1024, ns = 0;
    snap_t *snaps = xcalloc(cap, sizeof(*snaps));
    deadline = jp_bench_now() + (double)n / rate + WAIT_S;
    for (;;) {
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(JP_INPUT__COUNT * np);
        for (int i = 0; i < JP_INPUT__COUNT; i++)
            for (int q = 0; q < np; q++)
                rd_kafka_topic_partition_list_add(l, input_topic(x->cfg, (jp_input_t)i), q);
        rd_kafka_resp_err_t e = rd_kafka_committed(rk, l, 5000);
        double now = jp_bench_now();
        if (e)
            die("committed offsets", rd_kafka_err2str(e));
        if (ns == cap) {
            cap *= 2;
            snaps = realloc(snaps, cap * sizeof(*snaps));
            if (!snaps)
                die("latency", "out of memory");
        }
        snap_t *s = &snaps[ns++];
        s->t = now;
        int64_t total = 0;
        for (int k = 0; k < l->cnt; k++) {
            int64_t o = l->elems[k].offset < 0 ? 0 : l->elems[k].offset;
            s->off[k / np][k % np] = o;
            total += o;
        }
        rd_kafka_topic_partition_list_destroy(l);
        if (atomic_load(&pc.done) && total >= (int64_t)n)
            break;
        wait_for("every record committed at the paced rate", deadline);
        usleep(POLL_MS * 1000);
    }
    pthread_join(th, NULL);
    rd_kafka_destroy(rk);
    int64_t consumed = engine_finish(&g).consumed;

    /* Offsets are dense from 0 on fresh topics: index records by them. */
    size_t *start = xcalloc((size_t)JP_INPUT__COUNT * np + 1, sizeof(size_t));
    size_t *by_off = xcalloc(n, sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        start[x->cap->recs[i].input * np + p.part[i] + 1]++;
    for (int k = 0; k < JP_INPUT__COUNT * np; k++)
        start[k + 1] += start[k];
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)x->cap->recs[i].input * np + (size_t)p.part[i];
        if (p.off[i] < 0 || start[k] + (size_t)p.off[i] >= start[k + 1])
            die("latency", "delivered offsets are not dense from 0");
        by_off[start[k] + (size_t)p.off[i]] = i;
    }
    double *lat = xcalloc(n, sizeof(double));
    size_t nl = 0;
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        for (int q = 0; q < np; q++) {
            size_t k = (size_t)i * np + (size_t)q;
            int64_t prev = 0;
            for (size_t s = 0; s < ns; s++) {
                int64_t c = snaps[s].off[i][q];
                for (int64_t o = prev; o < c && start[k] + (size_t)o < start[k + 1]; o++)
                    lat[nl++] = (snaps[s].t - p.sent[by_off[start[k] + (size_t)o]]) * 1e3;
                if (c > prev)
                    prev = c;
            }
        }
    if (nl != n)
        die("latency", "not every record was seen committed");
    qsort(lat, nl, sizeof(double), cmp_double);
    *p50 = pct(lat, nl, 0.50);
    *p99 = pct(lat, nl, 0.99);
    free(lat);
    free(by_off);
    free(start);
    free(snaps);
    producer_free(&p);
    return consumed;
}

/* ---- main
 * ------------------------------------------------------------------------------------------- */

static void generate(jp_sim_world_t *w, jp_serde_registry_t registry, capture_t *cap)
{
    char err[1024];
    jp_sim_options_t o;
    memset(&o, 0, sizeof(o));
    memset(cap, 0, sizeof(*cap));
    cap->cfg = &w->config;
    cap->recs = xcalloc(GEN_RECORDS, sizeof(rec_t));
    o.registry = registry;
    o.output = (jp_sim_output_t){cap, capture_write};
    o.progress = capture_progress;
    o.progress_ctx = cap;
    o.stop = &cap->stop;
    if (jp_sim_run(w, &o, NULL, NULL, err, sizeof(err)) != 0)
        die("simulate", err);
    if (cap->n < GEN_RECORDS)
        die("simulate", "the world ended before enough records were generated");
}

static void rss_row(const char *src, const char *tmp)
{
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/rss", tmp);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fail("fork", strerror(errno));
        return;
    }
    if (pid == 0) {
        jp_log_set_level(JP_LOG_WARN);
        _exit(rss_child(src, dir));
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail("peak RSS", "the child failed (see above)");
}

int main(void)
{
    const char *src = getenv("JACKPOT_SRC") ? getenv("JACKPOT_SRC") : ".";
    char tmp[] = "/tmp/bench_engine.XXXXXX", path[1200], err[1024], note[512];
    if (!mkdtemp(tmp))
        die("mkdtemp", strerror(errno));
    jp_log_set_level(JP_LOG_WARN);

    const char *only = getenv("JP_BENCH_ENGINE_ONLY") ? getenv("JP_BENCH_ENGINE_ONLY") : "";
    int task_only = strcmp(only, "task") == 0, thru_only = strcmp(only, "thru") == 0;
    int restore_only = strcmp(only, "restore") == 0;
    /* First, before any thread or large allocation of this process. */
    if (!*only)
        rss_row(src, tmp);

    jp_conf_t c;
    jp_conf_init(&c, NULL);
    jp_sim_world_t w;
    snprintf(path, sizeof(path), "%s/configs/sim/load.yaml", src);
    if (jp_sim_world_load(&c, path, &w) != 0)
        die("load.yaml", c.n_errors ? c.errors[0] : path);
    jp_conf_destroy(&c);
    snprintf(path, sizeof(path), "%s/registry", tmp);
    jp_devstack_t *stack =
        jp_devstack_start(&w.config, 1, 0, "127.0.0.1:0", path, err, sizeof(err));
    if (!stack || jp_devstack_configure(stack, &w.config) != 0)
        die("devstack", err);
    jp_registry_client_t *reg =
        jp_registry_client_new(jp_devstack_registry_url(stack), err, sizeof(err));
    if (!reg)
        die("registry client", err);
    capture_t cap;
    generate(&w, jp_serde_registry_client(reg), &cap);
    int runs = jp_bench_runs();
    if (!*only || task_only)
        task_load_row(src, tmp, &cap, jp_serde_registry_client(reg), runs);
    if (task_only)
        return failed;

    ctx_t x = {.cfg = &w.config,
               .src = src,
               .stack = stack,
               .tmp = tmp,
               .cap = &cap,
               .commit_interval_ms = w.config.processing.commit_interval_ms};
    /* Two settings for the mock cluster. It keeps a member that left a
     * group until its session times out, which the next member's join (the
     * restore rows' engines, in the group of a steady run) waits for: 45 s
     * by default. And it holds a fetch that found no data for the whole
     * fetch.wait.max.ms (500 ms by default), even when records arrive
     * meanwhile - a broker answers as soon as they do - so an engine that
     * has caught up with a live feed would sit idle for it. */
    if (jp_conf_props_set(&x.cfg->kafka, "session.timeout.ms", "6000") != 0 ||
        jp_conf_props_set(&x.cfg->kafka, "heartbeat.interval.ms", "1000") != 0 ||
        jp_conf_props_set(&x.cfg->kafka, "fetch.wait.max.ms", "5") != 0)
        die("config", "cannot set the consumer's timeouts");
    if (restore_only) {
        scenario(&x, "restore-source");
        create_topics(&x);
        engine_steady(&x, STEADY_RECORDS, STEADY_BACKLOG, NULL);
        restore_rows(&x, runs, "restore-source");
        return failed;
    }
    /* Per run, interleaved on one input: the engine (steady state), the
     * ceiling, the two floors, the Python peer; then a cold engine on the
     * same input and the fixed-cost probe. */
    enum { ENGINE, CEIL, PROTO, STATE, PEER, COLD, FIXED, FEED, CL, N_SERIES };
    double *v[N_SERIES];
    for (int i = 0; i < N_SERIES; i++)
        v[i] = xcalloc((size_t)runs, sizeof(double));
    double *ratio[PEER + 1]; /* engine over each, per run (paired on a machine that swings) */
    for (int i = CEIL; i <= PEER; i++)
        ratio[i] = xcalloc((size_t)runs, sizeof(double));
    char tag[64], tag2[64], tag_steady[64] = "";
    for (int r = 0; r < runs; r++) {
        snprintf(tag, sizeof(tag), "steady%d", r);
        snprintf(tag_steady, sizeof(tag_steady), "%s", tag);
        scenario(&x, tag);
        create_topics(&x);
        v[ENGINE][r] = engine_steady(&x, STEADY_RECORDS, STEADY_BACKLOG, &v[FEED][r]);
        v[CL][r] = (double)changelog_records(&x) / STEADY_RECORDS;
        /* The others read THRU_RECORDS records that are all there before
         * they start (no more than the mock keeps at once). */
        snprintf(tag, sizeof(tag), "thru%d", r);
        scenario(&x, tag);
        create_topics(&x);
        producer_t p;
        producer_init(&p, &x, THRU_RECORDS, "5");
        produce(&p, &x, THRU_RECORDS, 0);
        check_input(&x, p.rk, THRU_RECORDS);
        producer_free(&p);
        v[CEIL][r] = ceiling_throughput(&x, THRU_RECORDS, CEILING);
        v[PROTO][r] = ceiling_throughput(&x, THRU_RECORDS, FLOOR_PROTOCOL);
        v[STATE][r] = ceiling_throughput(&x, THRU_RECORDS, FLOOR_STATE);
        v[PEER][r] = python_peer(&x, THRU_RECORDS);
        for (int i = CEIL; i <= PEER; i++)
            ratio[i][r] = v[ENGINE][r] / v[i][r];
        snprintf(tag2, sizeof(tag2), "cold%d", r);
        scenario_on(&x, tag, tag2);
        create_scenario_topics(&x, 0);
        v[COLD][r] = cold_start(&x);
        snprintf(tag2, sizeof(tag2), "probe%d", r);
        scenario(&x, tag2);
        create_topics(&x);
        /* the same measurement on PROBE_RECORDS: what does not grow with
         * the input, as a share of the run above */
        v[FIXED][r] = (PROBE_RECORDS / engine_steady(&x, PROBE_RECORDS, 0, NULL)) /
                      (STEADY_RECORDS / v[ENGINE][r]);
        if (getenv("JP_BENCH_DEBUG"))
            fprintf(stderr,
                    "run %d: engine %.0f ceiling %.0f protocol %.0f state %.0f peer %.0f cold "
                    "%.2f s fixed %.3f\n",
                    r, v[ENGINE][r], v[CEIL][r], v[PROTO][r], v[STATE][r], v[PEER][r], v[COLD][r],
                    v[FIXED][r]);
    }
    double med[N_SERIES], rmed[PEER + 1];
    for (int i = 0; i < N_SERIES; i++)
        med[i] = jp_bench_median(v[i], (size_t)runs);
    for (int i = CEIL; i <= PEER; i++)
        rmed[i] = jp_bench_median(ratio[i], (size_t)runs);
    snprintf(note, sizeof(note),
             "load.yaml, first %d records on 6 partitions x 3 inputs, produced (at a median "
             "%.0f/s, other core, at most %d ahead of the engine) once it is assigned and idle; "
             "engine + its librdkafka threads pinned to one core; first consumed record to final "
             "commit done; median of %d",
             STEADY_RECORDS, med[FEED], STEADY_BACKLOG, runs);
    jp_bench_row(BENCH, "events_per_s", med[ENGINE], "events/s", ">= 300k/s", note);
    snprintf(note, sizeof(note),
             "time of a %d-record run measured the same way, over the run's time (what does "
             "not grow with the input: wake-up, the final commit's round trips)",
             PROBE_RECORDS);
    jp_bench_row(BENCH, "fixed_cost_share", med[FIXED], "ratio", "< 0.05", note);
    jp_bench_row(BENCH, "cold_start_s", med[COLD], "s", NULL,
                 "a fresh engine (new group, empty state) on the same input already there: "
                 "created to its first commit covering records (group join, assignment, "
                 "stores, one commit interval)");
    jp_bench_row(BENCH, "ceiling_events_per_s", med[CEIL], "events/s", NULL,
                 "bare librdkafka consumer counting the same records, pinned, same runs");
    jp_bench_row(BENCH, "ratio_to_ceiling", rmed[CEIL], "ratio", ">= 0.5",
                 "engine over ceiling, median of the runs' ratios");
    jp_bench_row(BENCH, "changelog_records_per_event", med[CL], "records", NULL,
                 "changelog records the engine produced per input record (state keys dirtied "
                 "per commit)");
    floor_rows("protocol", v[PROTO], runs, v[CEIL],
               "the ceiling's consumer also producing each record once, key and value as the "
               "engine's changelog records (producer as the engine's), pinned, to the last "
               "delivery: the Kafka I/O of one changelog record per event, no processing");
    jp_bench_row(BENCH, "ratio_to_protocol_floor", rmed[PROTO], "ratio", NULL,
                 "engine over protocol floor, median of the runs' ratios");
    floor_rows("state", v[STATE], runs, v[CEIL],
               "the protocol floor plus its state: a jp_store put per record (own key) and, "
               "every commit interval, the dirty keys' changelog, flush and RocksDB batch; no "
               "decoding or features");
    jp_bench_row(BENCH, "ratio_to_state_floor", rmed[STATE], "ratio", ">= 0.7",
                 "engine over state floor, median of the runs' ratios");
    jp_bench_row(BENCH, "python_peer_events_per_s", med[PEER], "events/s", NULL,
                 "bench/bench_engine_peer.py (python3-confluent-kafka, python3-avro): consume, "
                 "decode, dict state, one changelog record per dirty key and a sync commit per "
                 "commit interval; pinned to the engine's core");
    jp_bench_row(BENCH, "ratio_to_python_peer", rmed[PEER], "ratio", ">= 10",
                 "engine over Python peer, median of the runs' ratios");
    if (thru_only)
        return failed;

    restore_rows(&x, runs, tag_steady);

    int rruns = runs < 2 ? runs : 2, behind = 0; /* each needs a group join */
    double e_med = med[ENGINE];
    double rate = e_med / 2;
    size_t n = (size_t)(rate * LAT_SECONDS);
    n = n > GEN_RECORDS ? GEN_RECORDS : n < LAT_MIN ? LAT_MIN : n;
    double *p50 = xcalloc((size_t)rruns, sizeof(double)),
           *p99 = xcalloc((size_t)rruns, sizeof(double));
    for (int r = 0; r < rruns; r++) {
        snprintf(tag, sizeof(tag), "lat%d", r);
        scenario(&x, tag);
        create_topics(&x);
        if (commit_latency(&x, n, rate, &p50[r], &p99[r]) != (int64_t)n)
            behind++;
    }
    snprintf(note, sizeof(note),
             "%zu records paced at %.0f/s (half of events_per_s), commit interval %lld ms, "
             "committed offsets polled every %d ms; median of %d%s",
             n, rate, (long long)x.commit_interval_ms, POLL_MS, rruns,
             behind ? "; NOT MEASURED: the engine fell behind the pace until the mock cluster "
                      "trimmed unread input"
                    : "");
    jp_bench_row(BENCH, "commit_latency_p50_ms", jp_bench_median(p50, (size_t)rruns), "ms", NULL,
                 note);
    char target[64];
    snprintf(target, sizeof(target), "<= %lld ms", (long long)(x.commit_interval_ms * 3 / 2));
    jp_bench_row(BENCH, "commit_latency_p99_ms", jp_bench_median(p99, (size_t)rruns), "ms", target,
                 note);

    free(p50);
    free(p99);
    for (int i = 0; i < N_SERIES; i++)
        free(v[i]);
    for (int i = CEIL; i <= PEER; i++)
        free(ratio[i]);
    free(cap.recs);
    free(cap.data);
    jp_registry_client_free(reg);
    jp_devstack_stop(stack);
    jp_sim_world_release(&w);
    snprintf(path, sizeof(path), "rm -rf '%s'", tmp);
    if (system(path) != 0)
        fprintf(stderr, "bench_engine: could not remove %s\n", tmp);
    return failed ? 1 : 0;
}
