/*
 * bench_models: what the learning loop (stream/models) costs the engine.
 *
 * Input. configs/sim/load.yaml (five countries, 4.5M subscribers, about
 * 360,000 records per simulated day: the rates of a production day) is
 * generated for DAYS simulated days and fed, as it is generated, into one
 * jp_task on this thread - the engine's processing without Kafka (no
 * fetch, no produce; changelog records discarded; a commit every
 * COMMIT_EVERY records) - once with the models processor and once without,
 * alternating, jp_bench_runs() times each. The processor is configured to
 * version from the second day on (models.min_training 1d, stock_warmup 0d)
 * so that windows are scored by the trainer, the challenger and the
 * champion, as in steady state. Only the task's calls are timed, not the
 * generation, in CPU time of this thread (steadier than wall time on a
 * shared machine; RocksDB's background flushes and compactions run on their
 * own threads and are not counted). The processor's own calls are timed
 * with the monotonic clock (a CPU-time read per record would cost more
 * than the hook it measures).
 *
 * Rows (medians):
 *   events_per_s_learning_off / _on   records through the task per second
 *   learning_overhead                 1 - on / off
 *   train_ms_per_window_close         the processor's work per closed day
 *                                     window of a country: evaluation of
 *                                     every version, the sales model's
 *                                     update and fit, the churn labels and
 *                                     updates, gates and cuts
 *   record_hook_ns_per_event          the per-record hook (offsets, churn
 *                                     examples)
 *   commit_ms_per_commit              the processor's share of a commit
 *                                     (the state that changed, serialized)
 *   share_of_engine_work              the processor's time over the task's
 *                                     time, learning on
 *   share_of_real_time                the processor's time per simulated
 *                                     day over a real day: its load at
 *                                     load.yaml's (real-time) rates
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/jp_conf.h"
#include "engine/jp_pii.h"
#include "engine/jp_task.h"
#include "engine/jp_validate.h"
#include "jp_bench.h"
#include "models/jp_models.h"
#include "sim/jp_sim.h"
#include "sim/jp_sim_memreg.h"

#define BENCH        "models"
#define DAYS         4
#define COMMIT_EVERY 100000
#define DAY_MS       86400000.0

static void die(const char *what, const char *err)
{
    fprintf(stderr, "bench_models: %s: %s\n", what, err);
    exit(1);
}

/* ---- a timing proxy around the models processor ---- */

typedef struct {
    const jp_proc_t *inner;
    double t_window, t_record, t_commit;
    int64_t n_window, n_record, n_commit;
} proxy_t;

typedef struct {
    proxy_t *px;
    void *inst;
} proxied_t;

static proxy_t proxy;

static void *px_open(void *global, jp_proc_ctx_t *ctx, char *errstr, size_t errstr_size)
{
    proxy_t *px = global;
    proxied_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->px = px;
    p->inst = px->inner->open(px->inner->global, ctx, errstr, errstr_size);
    if (!p->inst) {
        free(p);
        return NULL;
    }
    return p;
}

static void px_close(void *inst)
{
    proxied_t *p = inst;
    p->px->inner->close(p->inst);
    free(p);
}

static int px_record(void *inst, const jp_proc_record_t *rec)
{
    proxied_t *p = inst;
    double t0 = jp_bench_now();
    int rc = p->px->inner->on_record(p->inst, rec);
    p->px->t_record += jp_bench_now() - t0;
    p->px->n_record++;
    return rc;
}

static int px_window(void *inst, const jp_feature_vector_t *fv)
{
    proxied_t *p = inst;
    double t0 = jp_bench_now();
    int rc = p->px->inner->on_window(p->inst, fv);
    p->px->t_window += jp_bench_now() - t0;
    p->px->n_window += fv->window_kind == JP_WINDOW_DAY;
    return rc;
}

static int px_poll(void *inst)
{
    proxied_t *p = inst;
    return p->px->inner->poll(p->inst);
}

static int px_commit(void *inst)
{
    proxied_t *p = inst;
    double t0 = jp_bench_now();
    int rc = p->px->inner->prepare_commit(p->inst);
    p->px->t_commit += jp_bench_now() - t0;
    p->px->n_commit++;
    return rc;
}

static const jp_proc_t proxy_proc = {.name = "models (timed)",
                                     .global = &proxy,
                                     .open = px_open,
                                     .close = px_close,
                                     .on_record = px_record,
                                     .on_window = px_window,
                                     .poll = px_poll,
                                     .prepare_commit = px_commit};

/* ---- one jp_task fed by the simulator ---- */

typedef struct {
    jp_sim_world_t *world;
    jp_validator_t *v;
    jp_pii_t *pii;
    jp_serde_t *serde;
    jp_store_env_t *senv;
    jp_task_env_t env;
    jp_task_t *t;
    /* the run being gathered: one input, at most JP_TASK_BATCH_MAX */
    jp_task_record_t run[JP_TASK_BATCH_MAX];
    unsigned char *buf;
    size_t buf_len, buf_cap;
    int64_t next[JP_INPUT__COUNT];
    int64_t records, since_commit;
    double busy; /* seconds in the task's calls */
} feed_t;

static int io_features(void *ctx, int partition, const char *key, const void *value, size_t len)
{
    (void)ctx, (void)partition, (void)key, (void)value, (void)len;
    return 0;
}

static int io_dead_letter(void *ctx, int partition, const jp_task_record_t *rec,
                          const char *error_class, const char *message)
{
    (void)ctx, (void)partition, (void)rec, (void)message;
    die("dead letter", error_class);
    return -1;
}

static int io_emit(void *ctx, int partition, jp_output_t topic, const char *key, size_t key_len,
                   const void *value, size_t len)
{
    (void)ctx, (void)partition, (void)topic, (void)key, (void)key_len, (void)value, (void)len;
    return 0;
}

static int discard(void *ctx, int cf, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)ctx, (void)cf, (void)key, (void)klen, (void)val, (void)vlen;
    return 0;
}

static void commit(feed_t *f)
{
    char err[512];
    int64_t none[JP_CF__COUNT];
    for (int i = 0; i < JP_CF__COUNT; i++)
        none[i] = -1;
    double t0 = jp_bench_thread_cpu();
    if (jp_task_prepare_commit(f->t, discard, NULL, err, sizeof(err)) != 0 ||
        jp_task_finish_commit(f->t, none, err, sizeof(err)) != 0)
        die("commit", err);
    f->busy += jp_bench_thread_cpu() - t0;
    f->since_commit = 0;
}

static void flush_run(feed_t *f, size_t n)
{
    jp_task_result_t res[JP_TASK_BATCH_MAX];
    double t0 = jp_bench_thread_cpu();
    if (n && (jp_task_process_batch(f->t, f->run, n, res) != n || jp_task_poll(f->t) != 0))
        die("process", "a batch stopped early");
    f->busy += jp_bench_thread_cpu() - t0;
    f->buf_len = 0;
    if (f->since_commit >= COMMIT_EVERY)
        commit(f);
}

static size_t n_run;
static double last_busy;
static int64_t last_records;

static int feed_write(void *ctx, const char *topic, const void *key, size_t key_len,
                      const void *value, size_t len, int64_t timestamp_ms, long fault)
{
    feed_t *f = ctx;
    (void)fault;
    const jp_config_t *cfg = &f->world->config;
    jp_input_t in = strcmp(topic, cfg->topics.sales.name) == 0       ? JP_INPUT_SALES
                    : strcmp(topic, cfg->topics.customers.name) == 0 ? JP_INPUT_CUSTOMERS
                                                                     : JP_INPUT_DRAWS;
    if (n_run && (n_run == JP_TASK_BATCH_MAX || f->run[0].input != in ||
                  f->buf_len + key_len + len > f->buf_cap)) {
        flush_run(f, n_run);
        n_run = 0;
    }
    if (f->buf_len + key_len + len > f->buf_cap)
        die("feed", "a record larger than the run buffer");
    unsigned char *k = f->buf + f->buf_len;
    memcpy(k, key, key_len);
    memcpy(k + key_len, value, len);
    f->buf_len += key_len + len;
    f->run[n_run++] = (jp_task_record_t){.input = in,
                                         .offset = f->next[in]++,
                                         .timestamp_ms = timestamp_ms,
                                         .key = k,
                                         .key_len = key_len,
                                         .value = k + key_len,
                                         .value_len = len};
    f->records++;
    f->since_commit++;
    return 0;
}

typedef struct {
    volatile int stop;
    int64_t end;
} until_t;

/* Called once per simulated hour: stops the run after DAYS days. */
static void until_progress(void *ctx, int64_t sim_ms, uint64_t records)
{
    until_t *u = ctx;
    (void)records;
    if (sim_ms >= u->end)
        u->stop = 1;
}

/* One run over DAYS simulated days; returns events per second of the
 * task's time (and, learning on, the processor's figures in proxy). */
static double run_once(jp_sim_world_t *w, const char *dir, int learning)
{
    char err[1024];
    feed_t f;
    memset(&f, 0, sizeof(f));
    f.world = w;
    const jp_config_t *cfg = &w->config;
    f.v = jp_validator_new(cfg, err, sizeof(err));
    const char *key = "bench-models-pii-key-not-secret";
    f.pii = jp_pii_new(key, strlen(key));
    jp_sim_memreg_t *reg = jp_sim_memreg_new();
    jp_serde_config_t sc = {0};
    sc.registry = jp_sim_memreg_registry(reg);
    sc.flags = JP_AVRO_PLAN_COPY_STRINGS;
    f.serde = jp_serde_new(&sc, err, sizeof(err));
    f.senv =
        jp_store_env_new(jp_task_store_cfs, JP_CF__COUNT, (size_t)cfg->state.block_cache_mb << 20,
                         (size_t)cfg->state.write_buffer_mb << 20);
    if (!f.v || !f.pii || !f.serde || !f.senv)
        die("setup", err);
    f.buf_cap = 1 << 20;
    f.buf = malloc(f.buf_cap);
    f.env.cfg = cfg;
    f.env.validator = f.v;
    f.env.pii = f.pii;
    f.env.store_env = f.senv;
    f.env.features_topic = cfg->topics.features;
    f.env.io = (jp_task_io_t){
        .ctx = &f, .features = io_features, .dead_letter = io_dead_letter, .emit = io_emit};
    jp_models_t *models = NULL;
    if (learning) {
        models = jp_models_new(cfg, NULL, err, sizeof(err));
        if (!models)
            die("models", err);
        memset(&proxy, 0, sizeof(proxy));
        proxy.inner = jp_models_proc(models);
        f.env.procs[0] = &proxy_proc;
        f.env.n_procs = 1;
    }
    if (mkdir(dir, 0700) != 0)
        die("mkdir", strerror(errno));
    f.t = jp_task_open(&f.env, f.serde, 0, dir, err, sizeof(err));
    if (!f.t)
        die("task", err);
    until_t until = {0, w->start_ms + (int64_t)(DAYS * DAY_MS)};
    jp_sim_options_t o = {0};
    o.registry = jp_sim_memreg_registry(reg);
    o.output = (jp_sim_output_t){&f, feed_write};
    o.progress = until_progress;
    o.progress_ctx = &until;
    o.stop = &until.stop;
    n_run = 0;
    jp_sim_stats_t stats;
    if (jp_sim_run(w, &o, NULL, &stats, err, sizeof(err)) != 0)
        die("simulate", err);
    flush_run(&f, n_run);
    n_run = 0;
    commit(&f);
    double eps = (double)f.records / f.busy;
    proxy.n_record = learning ? proxy.n_record : 0;
    jp_task_close(f.t);
    jp_models_free(models);
    jp_store_env_free(f.senv);
    jp_serde_free(f.serde);
    jp_sim_memreg_free(reg);
    jp_pii_free(f.pii);
    jp_validator_free(f.v);
    free(f.buf);
    last_busy = f.busy;
    last_records = f.records;
    return eps;
}

int main(void)
{
    char path[1200], tmp[] = "/tmp/bench-models-XXXXXX";
    const char *src = getenv("JACKPOT_SRC") ? getenv("JACKPOT_SRC") : ".";
    snprintf(path, sizeof(path), "%s/configs/sim/load.yaml", src);
    jp_conf_t conf;
    jp_conf_init(&conf, NULL);
    jp_sim_world_t w;
    if (jp_sim_world_load(&conf, path, &w) != 0)
        die("world", conf.n_errors ? conf.errors[0] : path);
    jp_conf_destroy(&conf);
    w.config.models.min_training_ms = (int64_t)DAY_MS;
    w.config.models.stock_warmup_ms = 0;
    if (!mkdtemp(tmp))
        die("mkdtemp", strerror(errno));
    int runs = jp_bench_runs();
    double *off = calloc((size_t)runs, sizeof(double)), *on = calloc((size_t)runs, sizeof(double));
    double *close_ms = calloc((size_t)runs, sizeof(double)),
           *hook_ns = calloc((size_t)runs, sizeof(double));
    double *commit_ms = calloc((size_t)runs, sizeof(double)),
           *share = calloc((size_t)runs, sizeof(double));
    double *real = calloc((size_t)runs, sizeof(double)),
           *overhead = calloc((size_t)runs, sizeof(double));
    int64_t records = 0;
    for (int r = 0; r < runs; r++) {
        char dir[1300];
        snprintf(dir, sizeof(dir), "%s/off-%d", tmp, r);
        off[r] = run_once(&w, dir, 0);
        snprintf(dir, sizeof(dir), "%s/on-%d", tmp, r);
        on[r] = run_once(&w, dir, 1);
        records = last_records;
        double models = proxy.t_window + proxy.t_record + proxy.t_commit;
        close_ms[r] = proxy.n_window ? 1e3 * proxy.t_window / (double)proxy.n_window : 0;
        hook_ns[r] = proxy.n_record ? 1e9 * proxy.t_record / (double)proxy.n_record : 0;
        commit_ms[r] = proxy.n_commit ? 1e3 * proxy.t_commit / (double)proxy.n_commit : 0;
        share[r] = models / last_busy;
        real[r] = models / DAYS / 86400.0;
        overhead[r] = 1 - on[r] / off[r];
        fprintf(stderr, "run %d: off %.0f/s, on %.0f/s, %lld day closes, %lld commits\n", r, off[r],
                on[r], (long long)proxy.n_window, (long long)proxy.n_commit);
    }
    char note[512];
    snprintf(note, sizeof(note),
             "load.yaml, %d simulated days (%lld records), one jp_task, no Kafka, commit every "
             "%d, per CPU second of the task's thread; learning on and off alternate",
             DAYS, (long long)records, COMMIT_EVERY);
    jp_bench_row(BENCH, "events_per_s_learning_off", jp_bench_median(off, (size_t)runs), "events/s",
                 NULL, note);
    jp_bench_row(BENCH, "events_per_s_learning_on", jp_bench_median(on, (size_t)runs), "events/s",
                 NULL, "the same records with the models processor");
    jp_bench_row(BENCH, "learning_overhead", 100 * jp_bench_median(overhead, (size_t)runs), "%",
                 NULL, "1 - on/off, per run");
    jp_bench_row(BENCH, "train_ms_per_window_close", jp_bench_median(close_ms, (size_t)runs), "ms",
                 NULL,
                 "per country and closed day: every version scored, the sales model updated and "
                 "fitted, churn labels scored and learned, gates, cuts");
    jp_bench_row(BENCH, "record_hook_ns_per_event", jp_bench_median(hook_ns, (size_t)runs), "ns",
                 NULL, "offsets per day, sampled churn examples");
    jp_bench_row(BENCH, "commit_ms_per_commit", jp_bench_median(commit_ms, (size_t)runs), "ms",
                 NULL, "the models' state written at a commit (what changed)");
    jp_bench_row(BENCH, "share_of_engine_work", 100 * jp_bench_median(share, (size_t)runs), "%",
                 NULL, "the processor's time over the task's, learning on");
    jp_bench_row(BENCH, "share_of_real_time", 100 * jp_bench_median(real, (size_t)runs), "%", NULL,
                 "the processor's time per simulated day over a real day: its load on the engine "
                 "thread at load.yaml's rates");
    free(off);
    free(on);
    free(close_ms);
    free(hook_ns);
    free(commit_ms);
    free(share);
    free(real);
    free(overhead);
    jp_sim_world_release(&w);
    snprintf(path, sizeof(path), "rm -rf %s", tmp);
    if (system(path) != 0)
        fprintf(stderr, "bench_models: could not remove %s\n", tmp);
    return 0;
}
