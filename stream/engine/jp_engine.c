/*
 * jp_engine: see jp_engine.h for the task model and the commit protocol,
 * and jp_engine-internal.h for the threads and how the engine's files
 * divide the work. This file sets the engine up - the librdkafka clients
 * and their properties, the topic checks and creation, the metrics - and
 * takes it down; country reloads are requested here and applied at a
 * commit (jp_engine_commit.c).
 */
#include "jp_engine-internal.h"
#include "model/base/jp_err.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "base/jp_build_info.h"
#include "base/jp_log.h"
#include "config/jp_topics.h"
#include "model/base/jp_err.h"
#include "registry/jp_registry_serde.h"

const jp_cf_t jp_engine_changelog_cfs[N_CHANGELOG] = {JP_CF_META,   JP_CF_WINDOWS, JP_CF_CUSTOMERS,
                                                      JP_CF_DEDUPE, JP_CF_MODELS,  JP_CF_LEDGER,
                                                      JP_CF_ALERTS};
/* Used only by `jackpot dev` when no key file is configured. */
static const char dev_pii_key[] = "jackpot-dev-mode-pii-key-not-secret";
static const char dev_dlq_key[] =
    "6a61636b706f742d6465762d6d6f64652d646c712d6b65792d6e6f742d736563";

/* ---- setup ----------------------------------------------------------------------- */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    jp_log(level <= 3   ? JP_LOG_ERROR
           : level <= 4 ? JP_LOG_WARN
                        : JP_LOG_DEBUG,
           "kafka", "%s: %s", fac, buf);
}

/* Properties that only the group member may carry. */
static int group_only(const char *key)
{
    return strcmp(key, "group.id") == 0 || strcmp(key, "group.instance.id") == 0 ||
           strcmp(key, "partition.assignment.strategy") == 0 || strncmp(key, "session.", 8) == 0 ||
           strncmp(key, "heartbeat.", 10) == 0;
}

static int consumer_only(const char *key)
{
    return group_only(key) || strncmp(key, "fetch.", 6) == 0 || strncmp(key, "auto.", 5) == 0 ||
           strncmp(key, "enable.auto", 11) == 0 || strcmp(key, "isolation.level") == 0 ||
           strcmp(key, "max.poll.interval.ms") == 0 || strcmp(key, "enable.partition.eof") == 0;
}

static rd_kafka_conf_t *base_conf(const jp_engine_t *e, int (*skip)(const char *), char *errstr,
                                  size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    for (size_t i = 0; i < e->cfg->kafka.n; i++) {
        if (skip && skip(e->cfg->kafka.keys[i]))
            continue;
        if (rd_kafka_conf_set(conf, e->cfg->kafka.keys[i], e->cfg->kafka.values[i], errstr,
                              errstr_size) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    return conf;
}

static int set(rd_kafka_conf_t *conf, const char *k, const char *v, char *errstr, size_t n)
{
    return rd_kafka_conf_set(conf, k, v, errstr, n) == RD_KAFKA_CONF_OK ? 0 : -1;
}

static rd_kafka_t *make_client(jp_engine_t *e, rd_kafka_type_t type, int role, char *errstr,
                               size_t errstr_size)
{
    rd_kafka_conf_t *conf = base_conf(e,
                                      type == RD_KAFKA_PRODUCER ? consumer_only
                                      : role                    ? group_only
                                                                : NULL,
                                      errstr, errstr_size);
    if (!conf)
        return NULL;
    int bad = 0;
    rd_kafka_conf_set_opaque(conf, e);
    if (type == RD_KAFKA_PRODUCER) {
        bad |= set(conf, "enable.idempotence", "true", errstr, errstr_size);
        bad |= set(conf, "linger.ms", "5", errstr, errstr_size);
        /* A commit queues a changelog record per dirty key of every task
         * at once (hundreds of thousands after a busy interval): a queue
         * that holds them avoids waiting on deliveries mid-commit. */
        bad |= set(conf, "queue.buffering.max.messages", "1000000", errstr, errstr_size);
        rd_kafka_conf_set_dr_msg_cb(conf, jp_engine_dr_cb);
    } else {
        /* The restorer never joins the group, but a consumer without any
         * group.id reports "Unknown group" errors. */
        char gid[300];
        snprintf(gid, sizeof(gid), "%s.restore", jp_config_kafka_get(e->cfg, "group.id"));
        if (role)
            bad |= set(conf, "group.id", gid, errstr, errstr_size);
        bad |= set(conf, "enable.auto.commit", "false", errstr, errstr_size);
        bad |= set(conf, "enable.auto.offset.store", "false", errstr, errstr_size);
        bad |= set(conf, "auto.offset.reset", "earliest", errstr, errstr_size);
        if (role == 0)
            rd_kafka_conf_set_rebalance_cb(conf, jp_engine_rebalance_cb);
    }
    if (bad) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, errstr_size);
    if (!rk)
        rd_kafka_conf_destroy(conf);
    return rk;
}

/* Partition count of every input; co-partitioning is required. */
static int check_topics(jp_engine_t *e, int *exit_code, char *errstr, size_t errstr_size)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t err = rd_kafka_metadata(e->producer, 1, NULL, &md, METADATA_TIMEOUT_MS);
    if (err) {
        jp_err_set(errstr, errstr_size, "cannot read cluster metadata from %s: %s",
                   jp_config_kafka_get(e->cfg, "bootstrap.servers"), rd_kafka_err2str(err));
        *exit_code = EX_UNAVAILABLE;
        return -1;
    }
    int counts[JP_INPUT__COUNT] = {0};
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        for (int t = 0; t < md->topic_cnt; t++)
            if (strcmp(md->topics[t].topic, e->topics[i]) == 0 && !md->topics[t].err)
                counts[i] = md->topics[t].partition_cnt;
    rd_kafka_metadata_destroy(md);
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        if (!counts[i]) {
            jp_err_set(errstr, errstr_size, "input topic %s does not exist", e->topics[i]);
            *exit_code = EX_UNAVAILABLE;
            return -1;
        }
    if (counts[1] != counts[0] || counts[2] != counts[0]) {
        jp_err_set(
            errstr, errstr_size,
            "input topics are not co-partitioned: %s has %d partitions, %s has %d, %s has %d",
            e->topics[0], counts[0], e->topics[1], counts[1], e->topics[2], counts[2]);
        *exit_code = EX_CONFIG;
        return -1;
    }
    if (counts[0] > MAX_TASKS) {
        jp_err_set(errstr, errstr_size, "%d partitions exceed the supported %d", counts[0],
                   MAX_TASKS);
        *exit_code = EX_CONFIG;
        return -1;
    }
    e->n_partitions = counts[0];
    return 0;
}

/* The repartition topic, once it exists, must be partitioned like the
 * inputs: a copy goes to its home's partition number. */
static int check_repartition_topic(jp_engine_t *e, int *exit_code, char *errstr, size_t errstr_size)
{
    if (!e->repartition[0])
        return 0;
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t err = rd_kafka_metadata(e->producer, 1, NULL, &md, METADATA_TIMEOUT_MS);
    if (err) {
        jp_err_set(errstr, errstr_size, "cannot read cluster metadata: %s", rd_kafka_err2str(err));
        *exit_code = EX_UNAVAILABLE;
        return -1;
    }
    int n = 0;
    for (int t = 0; t < md->topic_cnt; t++)
        if (strcmp(md->topics[t].topic, e->repartition) == 0 && !md->topics[t].err)
            n = md->topics[t].partition_cnt;
    rd_kafka_metadata_destroy(md);
    if (n != e->n_partitions) {
        jp_err_set(errstr, errstr_size,
                   "repartition topic %s has %d partitions, the inputs %d: create it with %d "
                   "partitions (or set topics.mispartitioned: dead_letter)",
                   e->repartition, n, e->n_partitions, e->n_partitions);
        *exit_code = n ? EX_CONFIG : EX_UNAVAILABLE;
        return -1;
    }
    return 0;
}

/* mkdir -p */
static int make_dirs(const char *path, char *errstr, size_t errstr_size)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
                jp_err_set(errstr, errstr_size, "cannot create %s: %s", buf, strerror(errno));
                return -1;
            }
            if (!c)
                return 0;
            *p = c;
        }
    }
}

/* 1 if the topic exists, from all-topics metadata. */
static int topic_exists(const struct rd_kafka_metadata *md, const char *topic)
{
    for (int t = 0; t < md->topic_cnt; t++)
        if (strcmp(md->topics[t].topic, topic) == 0 && !md->topics[t].err)
            return 1;
    return 0;
}

/* Creates the dead-letter and changelog topics that do not exist yet
 * (changelogs compacted, as many partitions as the inputs). */
static int create_topics(jp_engine_t *e, char *errstr, size_t errstr_size)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t merr = rd_kafka_metadata(e->producer, 1, NULL, &md, METADATA_TIMEOUT_MS);
    if (merr) {
        jp_err_set(errstr, errstr_size, "metadata: %s", rd_kafka_err2str(merr));
        return -1;
    }
    rd_kafka_NewTopic_t *nt[JP_INPUT__COUNT + N_CHANGELOG + 1];
    size_t n = 0;
    char err[256], missing[1024] = "";
    const char *names[JP_INPUT__COUNT + N_CHANGELOG + 1];
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        names[i] = e->dlq[i];
    for (size_t i = 0; i < N_CHANGELOG; i++)
        names[JP_INPUT__COUNT + i] = e->changelog[jp_engine_changelog_cfs[i]];
    /* last, and not compacted: the repartition topic (when on) */
    names[JP_INPUT__COUNT + N_CHANGELOG] = e->repartition;
    for (size_t i = 0; i < JP_INPUT__COUNT + N_CHANGELOG + 1; i++) {
        if (!names[i][0] || topic_exists(md, names[i]))
            continue;
        nt[n] = rd_kafka_NewTopic_new(names[i], e->n_partitions, -1, err, sizeof(err));
        if (i >= JP_INPUT__COUNT && i < JP_INPUT__COUNT + N_CHANGELOG)
            rd_kafka_NewTopic_set_config(nt[n], "cleanup.policy", "compact");
        n++;
        snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), "%s%s",
                 *missing ? ", " : "", names[i]);
    }
    rd_kafka_metadata_destroy(md);
    if (n == 0)
        return 0;
    jp_log_info("engine", "creating topics %s", missing);
    rd_kafka_queue_t *q = rd_kafka_queue_new(e->producer);
    rd_kafka_CreateTopics(e->producer, nt, n, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, CREATE_TOPICS_WAIT_MS);
    int rc = 0;
    if (!ev) {
        jp_err_set(errstr, errstr_size,
                   "cannot create topics %s (no answer to CreateTopics): create them with %d "
                   "partitions",
                   missing, e->n_partitions);
        rc = -1;
    } else {
        size_t cnt;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t te = rd_kafka_topic_result_error(res[i]);
            if (te && te != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                jp_err_set(errstr, errstr_size, "cannot create topic %s: %s",
                           rd_kafka_topic_result_name(res[i]), rd_kafka_err2str(te));
                rc = -1;
            }
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy_array(nt, n);
    return rc;
}

/* A pipe with both ends non-blocking and close-on-exec: librdkafka's
 * threads write to it and must never block on a full pipe. */
static int wake_pipe(int fds[2])
{
    if (pipe(fds) != 0) {
        fds[0] = fds[1] = -1;
        return -1;
    }
    for (int i = 0; i < 2; i++)
        if (fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK) != 0 ||
            fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0)
            return -1; /* closed by jp_engine_free */
    return 0;
}

/* glibc's defaults suit short programs, not a commit cycle: every commit
 * queues tens of MB of changelog copies that are freed on delivery, and
 * by default the heap top was trimmed back to the kernel after each
 * commit and faulted in page by page at the next (about a tenth of a
 * commit's time went to page faults and consolidation). Keep freed memory
 * for reuse instead: it stays bounded by the largest commit. Process-wide,
 * set once by the first engine. */
static void tune_malloc(void)
{
    static atomic_flag done = ATOMIC_FLAG_INIT;
    if (atomic_flag_test_and_set(&done))
        return;
    mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
    mallopt(M_TOP_PAD, 64 * 1024 * 1024);
    mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
}

jp_engine_t *jp_engine_new(const jp_config_t *cfg, jp_metrics_t *metrics,
                           const jp_engine_opts_t *opts, int *exit_code, char *errstr,
                           size_t errstr_size)
{
    *exit_code = EX_SOFTWARE;
    tune_malloc();
    jp_engine_t *e = calloc(1, sizeof(*e));
    if (!e) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    e->cfg = cfg;
    e->metrics = metrics;
    e->wake[0] = e->wake[1] = -1;
    pthread_mutex_init(&e->status_lock, NULL);
    snprintf(e->state_dir, sizeof(e->state_dir), "%s",
             opts && opts->state_dir ? opts->state_dir : cfg->state.dir);
    e->topics[JP_INPUT_SALES] = cfg->topics.sales.name;
    e->topics[JP_INPUT_CUSTOMERS] = cfg->topics.customers.name;
    e->topics[JP_INPUT_DRAWS] = cfg->topics.draws.name;
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        jp_topics_dlq(cfg, e->topics[i], e->dlq[i], sizeof(e->dlq[i]));
    for (int i = 0; i < JP_CF__COUNT; i++)
        jp_topics_changelog(cfg, jp_cf_name((jp_cf_t)i), e->changelog[i], sizeof(e->changelog[i]));
    jp_engine_repartition_init(e);
    for (size_t i = 0; i < N_CHANGELOG; i++)
        if (N_CHANGELOG != jp_topics_n_changelog_stores ||
            strcmp(jp_cf_name(jp_engine_changelog_cfs[i]), jp_topics_changelog_stores[i]) != 0)
            abort(); /* the two lists are edited together */
    for (int p = 0; p < MAX_TASKS; p++)
        for (int i = 0; i < N_STREAMS; i++)
            e->rewind[p][i].want = WANT_NONE;

    if (make_dirs(e->state_dir, errstr, errstr_size) != 0) {
        *exit_code = EX_CANTCREAT;
        goto fail;
    }
    const char *key = cfg->pii.token_key.value;
    if (!key && !(opts && opts->dev_mode)) {
        jp_err_set(
            errstr, errstr_size,
            "no PII token key: set pii.token_key_file (only `jackpot dev` runs without one)");
        *exit_code = EX_CONFIG;
        goto fail;
    }
    if (!key)
        key = dev_pii_key;
    e->pii = jp_pii_new(key, strlen(key));
    if (!e->pii) {
        jp_err_set(errstr, errstr_size, "the PII token key must be at least 16 bytes");
        *exit_code = EX_CONFIG;
        goto fail;
    }
    const char *dlq_key = cfg->dead_letters.key.value;
    if (!dlq_key && !(opts && opts->dev_mode)) {
        snprintf(errstr, errstr_size,
                 "no dead-letter key: set dead_letters.key_file (64 hex digits; only `jackpot "
                 "dev` runs without one)");
        *exit_code = 78;
        goto fail;
    }
    char why[256];
    e->dlq_key = jp_dlq_key_new(dlq_key ? dlq_key : dev_dlq_key, why, sizeof(why));
    if (!e->dlq_key) {
        snprintf(errstr, errstr_size, "dead_letters.key_file %s: %s",
                 cfg->dead_letters.key.path ? cfg->dead_letters.key.path : "", why);
        *exit_code = 78;
        goto fail;
    }
    e->validator = jp_validator_new(cfg, errstr, errstr_size);
    if (!e->validator) {
        *exit_code = EX_CONFIG;
        goto fail;
    }
    e->registry = jp_registry_client_new(cfg->schema_registry.url, errstr, errstr_size);
    if (!e->registry) {
        *exit_code = EX_CONFIG;
        goto fail;
    }
    jp_registry_client_set_timeout(e->registry, (int)cfg->schema_registry.timeout_ms);
    jp_serde_config_t sc = {0};
    sc.registry = jp_serde_registry_client(e->registry);
    sc.flags = JP_AVRO_PLAN_COPY_STRINGS;
    e->serde = jp_serde_new(&sc, errstr, errstr_size);
    if (!e->serde)
        goto fail;

    if (!(e->producer = make_client(e, RD_KAFKA_PRODUCER, 0, errstr, errstr_size)) ||
        !(e->consumer = make_client(e, RD_KAFKA_CONSUMER, 0, errstr, errstr_size)) ||
        !(e->restorer = make_client(e, RD_KAFKA_CONSUMER, 1, errstr, errstr_size))) {
        *exit_code = EX_CONFIG;
        goto fail;
    }
    char mmb[32];
    size_t mmb_len = sizeof(mmb);
    e->dlq_max_bytes = rd_kafka_conf_get(rd_kafka_conf(e->producer), "message.max.bytes", mmb,
                                         &mmb_len) == RD_KAFKA_CONF_OK
                           ? (size_t)strtoull(mmb, NULL, 10)
                           : 1000000;
    rd_kafka_poll_set_consumer(e->consumer);
    rd_kafka_poll_set_consumer(e->restorer);
    /* The loop sleeps in poll(2) on this pipe; librdkafka writes a byte to
     * it when a queue the loop serves gets something (never blocking). */
    if (wake_pipe(e->wake) != 0) {
        jp_err_set(errstr, errstr_size, "cannot create the wake-up pipe: %s", strerror(errno));
        goto fail;
    }
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        e->rkt_in[i] = rd_kafka_topic_new(e->consumer, e->topics[i], NULL);
    e->cq = rd_kafka_queue_get_consumer(e->consumer);
    rd_kafka_queue_io_event_enable(e->cq, e->wake[1], "w", 1);
    if (check_topics(e, exit_code, errstr, errstr_size) != 0)
        goto fail;
    if (create_topics(e, errstr, errstr_size) != 0) {
        *exit_code = EX_UNAVAILABLE;
        goto fail;
    }
    if (check_repartition_topic(e, exit_code, errstr, errstr_size) != 0)
        goto fail;
    /* The consumer's handle on it only now, for the same reason as the
     * producer's below. */
    if (e->repartition[0])
        e->rkt_in[JP_STREAM_REPARTITION] = rd_kafka_topic_new(e->consumer, e->repartition, NULL);
    /* The producer's topic handles only now: a handle makes the producer
     * ask for the topic's metadata, which a broker with automatic topic
     * creation answers by creating it with its default partition count. */
    e->rkt_features = rd_kafka_topic_new(e->producer, cfg->topics.features, NULL);
    const char *outputs[JP_OUTPUT__COUNT] = {[JP_OUTPUT_RECOMMENDATIONS] =
                                                 cfg->topics.recommendations,
                                             [JP_OUTPUT_ALERTS] = cfg->topics.alerts,
                                             [JP_OUTPUT_MODELS] = cfg->topics.models};
    for (int i = 0; i < JP_OUTPUT__COUNT; i++)
        e->rkt_out[i] = rd_kafka_topic_new(e->producer, outputs[i], NULL);
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        e->rkt_dlq[i] = rd_kafka_topic_new(e->producer, e->dlq[i], NULL);
    for (int i = 0; i < JP_CF__COUNT; i++)
        e->rkt_changelog[i] = rd_kafka_topic_new(e->producer, e->changelog[i], NULL);
    if (e->repartition[0])
        e->rkt_repartition = rd_kafka_topic_new(e->producer, e->repartition, NULL);
    int rkt_ok = e->rkt_features != NULL && (!e->repartition[0] || e->rkt_repartition);
    for (int i = 0; i < JP_OUTPUT__COUNT; i++)
        rkt_ok &= e->rkt_out[i] != NULL;
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        rkt_ok &= e->rkt_dlq[i] != NULL;
    for (int i = 0; i < JP_CF__COUNT; i++)
        rkt_ok &= e->rkt_changelog[i] != NULL;
    if (!rkt_ok) {
        jp_err_set(errstr, errstr_size, "cannot create producer topic handles: %s",
                   rd_kafka_err2str(rd_kafka_last_error()));
        *exit_code = EX_CONFIG;
        goto fail;
    }
    /* Avro keys: their schema registered now, so that an unreachable
     * registry stops the start, not the first window. */
    rd_kafka_topic_t *keyed[JP_OUTPUT__COUNT + 1] = {e->rkt_features};
    memcpy(keyed + 1, e->rkt_out, sizeof(e->rkt_out));
    for (int i = 0; i <= JP_OUTPUT__COUNT; i++) {
        const void *k;
        size_t kl;
        if (jp_engine_output_key(e, keyed[i], "", 0, &k, &kl) != 0) {
            jp_err_set(errstr, errstr_size,
                       "cannot register the key schema of %s in the schema registry %s",
                       rd_kafka_topic_name(keyed[i]), cfg->schema_registry.url);
            *exit_code = EX_UNAVAILABLE;
            goto fail;
        }
    }

    e->env.cfg = cfg;
    e->env.validator = e->validator;
    e->env.pii = e->pii;
    e->env.store_env =
        jp_store_env_new(jp_task_store_cfs, JP_CF__COUNT, (size_t)cfg->state.block_cache_mb << 20,
                         (size_t)cfg->state.write_buffer_mb << 20);
    e->env.features_topic = cfg->topics.features;
    e->env.io = (jp_task_io_t){.ctx = e,
                               .features = jp_engine_io_features,
                               .dead_letter = jp_engine_io_dead_letter,
                               .count = jp_engine_io_count,
                               .emit = jp_engine_io_emit,
                               .repartition = e->repartition[0] ? jp_engine_io_repartition : NULL,
                               .end_offset = jp_engine_io_end_offset,
                               .gap = jp_engine_io_gap};
    e->env.partition = (jp_partition_check_t){
        (jp_partitioner_t)cfg->topics.input_partitioner,
        cfg->topics.mispartitioned == JP_MISPARTITIONED_DEAD_LETTER, e->n_partitions};
    if (!e->env.store_env) {
        jp_err_set(errstr, errstr_size, "cannot create the RocksDB environment");
        goto fail;
    }
    jp_store_env_expect_stores(e->env.store_env, (size_t)e->n_partitions);
    if (jp_engine_check_identity(e, opts && opts->reset_state, exit_code, errstr, errstr_size) != 0)
        goto fail;

    static const double latency_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                             0.1,   0.25,   0.5,   1,    2.5,   5};
    e->commit_latency =
        jp_metrics_histogram(metrics, "jackpot_commit_seconds",
                             "Duration of a commit (changelog, flush, offsets, state)", NULL,
                             latency_buckets, sizeof(latency_buckets) / sizeof(latency_buckets[0]));
    e->commits = jp_metrics_counter(metrics, "jackpot_commits_total", "Completed commits", NULL);
    e->rewinds = jp_metrics_counter(metrics, "jackpot_rewinds_total",
                                    "Times every task was rewound to the last commit", NULL);
    e->restored_records = jp_metrics_counter(metrics, "jackpot_restored_records_total",
                                             "Changelog records applied by restores", NULL);
    e->restore_progress = jp_metrics_gauge(metrics, "jackpot_restore_progress_ratio",
                                           "Progress of the running restore (1 when idle)", NULL);
    e->assigned_tasks = jp_metrics_gauge(metrics, "jackpot_assigned_tasks",
                                         "Tasks (input partitions) owned by this instance", NULL);
    char labels[256];
    snprintf(labels, sizeof(labels), "version=\"%s\",commit=\"%s\"", jp_build_version,
             jp_build_commit);
    jp_gauge_set(jp_metrics_gauge(metrics, "jackpot_build_info", "Build of this engine", labels),
                 1);
    jp_gauge_set(e->restore_progress, 1);
    if (jp_engine_metrics_init(e) != 0) {
        jp_err_set(errstr, errstr_size, "cannot create the metrics: %s", jp_metrics_error(metrics));
        goto fail;
    }
    *exit_code = 0;
    return e;
fail:
    jp_engine_free(e);
    return NULL;
}

int jp_engine_add_proc(jp_engine_t *e, const jp_proc_t *proc)
{
    if (e->env.n_procs == JP_TASK_MAX_PROCS || !proc || !proc->open)
        return -1;
    e->env.procs[e->env.n_procs++] = proc;
    return 0;
}

int jp_engine_on_window_close(jp_engine_t *e, jp_task_window_cb fn, void *ctx)
{
    if (e->env.n_on_close == sizeof(e->env.on_close) / sizeof(e->env.on_close[0]))
        return -1;
    e->env.on_close[e->env.n_on_close] = fn;
    e->env.on_close_ctx[e->env.n_on_close++] = ctx;
    return 0;
}

int jp_engine_reload_countries(jp_engine_t *e, const jp_config_t *countries, char *errstr,
                               size_t errstr_size)
{
    /* The validator is the only consumer of country configs; building the
     * new one first means a bad reload changes nothing. */
    jp_validator_t *v = jp_validator_new(countries, errstr, errstr_size);
    if (!v)
        return -1;
    pthread_mutex_lock(&e->status_lock);
    jp_validator_t *old = e->pending_validator;
    e->pending_validator = v;
    pthread_mutex_unlock(&e->status_lock);
    jp_validator_free(old);
    return 0;
}

void jp_engine_free(jp_engine_t *e)
{
    if (!e)
        return;
    for (int p = 0; p < MAX_TASKS; p++)
        if (e->tasks[p])
            jp_engine_close_task(e, p);
    /* Every wait below keeps the shutdown grace (jp_engine_deadline.c). */
    if (!atomic_load(&e->stop_at_ms))
        jp_engine_stop(e);
    jp_log_debug("engine", "closing the consumers and the producer");
    jp_engine_inputs_release(e);
    if (e->restorer)
        jp_engine_close_consumer(e, e->restorer);
    if (e->consumer)
        jp_engine_destroy_handle(e, e->consumer, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    if (e->producer) {
        if (jp_engine_flush(e, FREE_FLUSH_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
            rd_kafka_purge(e->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT |
                                            RD_KAFKA_PURGE_F_NON_BLOCKING);
        if (e->rkt_features)
            rd_kafka_topic_destroy(e->rkt_features);
        for (int i = 0; i < JP_OUTPUT__COUNT; i++)
            if (e->rkt_out[i])
                rd_kafka_topic_destroy(e->rkt_out[i]);
        for (int i = 0; i < JP_INPUT__COUNT; i++)
            if (e->rkt_dlq[i])
                rd_kafka_topic_destroy(e->rkt_dlq[i]);
        for (int i = 0; i < JP_CF__COUNT; i++)
            if (e->rkt_changelog[i])
                rd_kafka_topic_destroy(e->rkt_changelog[i]);
        if (e->rkt_repartition)
            rd_kafka_topic_destroy(e->rkt_repartition);
        jp_engine_destroy_handle(e, e->producer, 0);
        jp_log_debug("engine", "producer destroyed");
    }
    jp_engine_metrics_free(e);
    jp_avro_buf_free(&e->key_buf);
    jp_store_env_free(e->env.store_env);
    jp_serde_free(e->serde);
    jp_registry_client_free(e->registry);
    jp_validator_free(e->validator);
    jp_validator_free(e->pending_validator);
    jp_pii_free(e->pii);
    jp_dlq_key_free(e->dlq_key);
    for (int i = 0; i < 2; i++)
        if (e->wake[i] >= 0)
            close(e->wake[i]);
    free(e->status_json);
    pthread_mutex_destroy(&e->status_lock);
    free(e);
}
