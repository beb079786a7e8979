/*
 * jp_engine: see jp_engine.h for the task model and the commit protocol.
 *
 * One thread owns three librdkafka handles - the group member (`leader`,
 * subscribed to the sales topic), the follower consumer (the task's other
 * input partitions) and the producer (outputs, dead letters, changelogs) -
 * plus a fourth, group-less consumer used only while restoring. Records are
 * handed to their task in offset order per partition; a partition that has
 * to be re-read (transient registry outage, a rewind) is sought back and
 * its stale buffered records are dropped until the wanted offset arrives.
 */
#include "engine/jp_engine.h"
#include "base/jp_clock.h"

#include <errno.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/jp_build_info.h"
#include "base/jp_log.h"
#include "config/jp_topics.h"
#include "registry/jp_registry_client.h"
#include "registry/jp_registry_serde.h"

#define MAX_TASKS 1024
/* Changelog stores in use, in jp_topics_changelog_stores' order (the names
 * are the column families'; jp_engine_new checks they agree). */
static const jp_cf_t changelog_cfs[] = {JP_CF_META, JP_CF_WINDOWS, JP_CF_CUSTOMERS, JP_CF_DEDUPE};
#define N_CHANGELOG (sizeof(changelog_cfs) / sizeof(changelog_cfs[0]))
#define HDR_OFFSETS "jp.input.offsets"
/* Used only by `jackpot dev` when no key file is configured. */
static const char dev_pii_key[] = "jackpot-dev-mode-pii-key-not-secret";

#define REOPEN_DEADLINE_MS 120000
#define REOPEN_BACKOFF_MS  500
#define RESEEK_AFTER_MS    2000 /* a rewind's first record not seen by then: seek again */

#define WANT_NONE       (-1)
#define WANT_UNRESOLVED (-2) /* rewound to the beginning, low watermark not yet known */

typedef struct {
    int64_t want;         /* WANT_NONE, WANT_UNRESOLVED, or drop records until this offset */
    int64_t last_seek_ms; /* when the seek to want was last issued */
} rewind_t;

typedef struct {
    jp_input_t input;
    const char *what;
    const char *reason;
    jp_counter_t *c;
} counter_slot_t;

struct jp_engine_s {
    const jp_config_t *cfg;
    jp_metrics_t *metrics;
    char state_dir[1024];
    rd_kafka_t *leader, *follower, *producer, *restorer;
    int cooperative;
    int n_partitions;
    const char *topics[JP_INPUT__COUNT];
    char dlq[JP_INPUT__COUNT][300];
    char changelog[JP_CF__COUNT][300];
    /* Producer topic handles, made once: producing by name looks the topic
     * up under a lock for every record. */
    rd_kafka_topic_t *rkt_dlq[JP_INPUT__COUNT], *rkt_changelog[JP_CF__COUNT], *rkt_features;
    jp_registry_client_t *registry;
    jp_serde_t *serde;
    jp_pii_t *pii;
    jp_validator_t *validator;
    jp_task_env_t env;
    jp_task_t *tasks[MAX_TASKS];
    /* Messages polled and not yet handed to their tasks (see drain). */
    rd_kafka_message_t *polled[JP_TASK_BATCH_MAX];
    size_t n_polled;
    rewind_t rewind[MAX_TASKS][JP_INPUT__COUNT];
    int64_t cl_reached[MAX_TASKS][JP_CF__COUNT];
    rd_kafka_resp_err_t delivery_err;
    volatile sig_atomic_t stop;
    int64_t last_commit_ms;
    int restoring;
    jp_validator_t *pending_validator; /* set by a reload, swapped in at a commit */
    jp_validator_t *retired[16];       /* previous validators, freed with the engine */
    size_t n_retired;
    /* metrics */
    counter_slot_t slots[256];
    size_t n_slots;
    jp_histogram_t *commit_latency;
    jp_counter_t *commits, *rewinds, *restored_records;
    jp_gauge_t *restore_progress, *assigned_tasks;
    /* status for the admin thread */
    pthread_mutex_t status_lock;
    char *status_json;
    int ready;
    jp_engine_totals_t totals;
    int64_t windows_closed;
};

/* ---- metrics ---------------------------------------------------------------- */

static jp_counter_t *counter_for(jp_engine_t *e, jp_input_t input, const char *what,
                                 const char *reason)
{
    for (size_t i = 0; i < e->n_slots; i++)
        if (e->slots[i].input == input && e->slots[i].what == what && e->slots[i].reason == reason)
            return e->slots[i].c;
    char name[96], labels[512], topic[300], why[96];
    snprintf(name, sizeof(name), "jackpot_records_%s_total", what);
    jp_metrics_label_escape(topic, sizeof(topic), e->topics[input]);
    jp_metrics_label_escape(why, sizeof(why), reason);
    snprintf(labels, sizeof(labels), "topic=\"%s\",reason=\"%s\"", topic, why);
    jp_counter_t *c =
        jp_metrics_counter(e->metrics, name, "Input records by outcome and reason", labels);
    if (c && e->n_slots < sizeof(e->slots) / sizeof(e->slots[0]))
        e->slots[e->n_slots++] = (counter_slot_t){input, what, reason, c};
    return c;
}

static void io_count(void *ctx, jp_input_t input, const char *what, const char *reason)
{
    jp_engine_t *e = ctx;
    if (strcmp(what, "window_closed") == 0) {
        e->windows_closed++;
        char labels[64];
        snprintf(labels, sizeof(labels), "window=\"%s\"", reason);
        jp_counter_add(jp_metrics_counter(e->metrics, "jackpot_windows_closed_total",
                                          "Event-time windows closed", labels),
                       1);
        return;
    }
    jp_counter_t *c = counter_for(e, input, what, reason);
    if (c)
        jp_counter_add(c, 1);
}

/* ---- producing ----------------------------------------------------------------- */

/* Changelog records carry (task, store) in their opaque: 1 + p * N + cf. */
static void *changelog_opaque(int p, jp_cf_t cf)
{
    return (void *)(intptr_t)(1 + (intptr_t)p * JP_CF__COUNT + cf);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    jp_engine_t *e = opaque;
    if (m->err) {
        if (!e->delivery_err)
            e->delivery_err = m->err;
        jp_log_error("engine", "delivery to %s [%d] failed: %s", rd_kafka_topic_name(m->rkt),
                     m->partition, rd_kafka_err2str(m->err));
        return;
    }
    intptr_t o = (intptr_t)m->_private;
    if (o > 0) {
        int p = (int)((o - 1) / JP_CF__COUNT);
        int cf = (int)((o - 1) % JP_CF__COUNT);
        if (p < MAX_TASKS && m->offset > e->cl_reached[p][cf])
            e->cl_reached[p][cf] = m->offset;
    }
}

static int produce(jp_engine_t *e, rd_kafka_topic_t *rkt, int partition, const void *key,
                   size_t klen, const void *val, size_t vlen, rd_kafka_headers_t *hdrs,
                   void *opaque)
{
    for (;;) {
        rd_kafka_resp_err_t err =
            rd_kafka_producev(e->producer, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)val, vlen),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                              RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
        if (!err)
            return 0;
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(e->producer, 100); /* wait for deliveries, then retry */
            continue;
        }
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        jp_log_error("engine", "cannot produce to %s: %s", rd_kafka_topic_name(rkt),
                     rd_kafka_err2str(err));
        return -1;
    }
}

static int io_features(void *ctx, int partition, const char *key, const void *value, size_t len)
{
    jp_engine_t *e = ctx;
    (void)partition;
    /* The default partitioner places the record by its key (the country). */
    return produce(e, e->rkt_features, RD_KAFKA_PARTITION_UA, key, 2, value, len, NULL, NULL);
}

static int io_dead_letter(void *ctx, int partition, const jp_task_record_t *rec,
                          const char *error_class, const char *message)
{
    jp_engine_t *e = ctx;
    const rd_kafka_message_t *m = rec->origin;
    rd_kafka_headers_t *orig = NULL, *h;
    if (m && rd_kafka_message_headers(m, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR)
        h = rd_kafka_headers_copy(orig);
    else
        h = rd_kafka_headers_new(6);
    char num[32];
    rd_kafka_header_add(h, "jp.error.class", -1, error_class, -1);
    rd_kafka_header_add(h, "jp.error.message", -1, message, -1);
    rd_kafka_header_add(h, "jp.source.topic", -1, e->topics[rec->input], -1);
    snprintf(num, sizeof(num), "%d", partition);
    rd_kafka_header_add(h, "jp.source.partition", -1, num, -1);
    snprintf(num, sizeof(num), "%lld", (long long)rec->offset);
    rd_kafka_header_add(h, "jp.source.offset", -1, num, -1);
    snprintf(num, sizeof(num), "%lld", (long long)rec->timestamp_ms);
    rd_kafka_header_add(h, "jp.source.timestamp", -1, num, -1);
    return produce(e, e->rkt_dlq[rec->input], partition, rec->key, rec->key_len, rec->value,
                   rec->value_len, h, NULL);
}

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

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque);

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
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    } else {
        /* The follower and the restorer never join the group, but a
         * consumer without any group.id reports "Unknown group" errors. */
        char gid[300];
        snprintf(gid, sizeof(gid), "%s.%s", jp_config_kafka_get(e->cfg, "group.id"),
                 role == 1 ? "assigned" : "group");
        if (role)
            bad |= set(conf, "group.id", gid, errstr, errstr_size);
        bad |= set(conf, "enable.auto.commit", "false", errstr, errstr_size);
        bad |= set(conf, "enable.auto.offset.store", "false", errstr, errstr_size);
        bad |= set(conf, "auto.offset.reset", "earliest", errstr, errstr_size);
        if (role == 0)
            rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
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
    rd_kafka_resp_err_t err = rd_kafka_metadata(e->producer, 1, NULL, &md, 15000);
    if (err) {
        snprintf(errstr, errstr_size, "cannot read cluster metadata from %s: %s",
                 jp_config_kafka_get(e->cfg, "bootstrap.servers"), rd_kafka_err2str(err));
        *exit_code = 69;
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
            snprintf(errstr, errstr_size, "input topic %s does not exist", e->topics[i]);
            *exit_code = 69;
            return -1;
        }
    if (counts[1] != counts[0] || counts[2] != counts[0]) {
        snprintf(errstr, errstr_size,
                 "input topics are not co-partitioned: %s has %d partitions, %s has %d, %s has %d",
                 e->topics[0], counts[0], e->topics[1], counts[1], e->topics[2], counts[2]);
        *exit_code = 78;
        return -1;
    }
    if (counts[0] > MAX_TASKS) {
        snprintf(errstr, errstr_size, "%d partitions exceed the supported %d", counts[0],
                 MAX_TASKS);
        *exit_code = 78;
        return -1;
    }
    e->n_partitions = counts[0];
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
                snprintf(errstr, errstr_size, "cannot create %s: %s", buf, strerror(errno));
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
    rd_kafka_resp_err_t merr = rd_kafka_metadata(e->producer, 1, NULL, &md, 15000);
    if (merr) {
        snprintf(errstr, errstr_size, "metadata: %s", rd_kafka_err2str(merr));
        return -1;
    }
    rd_kafka_NewTopic_t *nt[JP_INPUT__COUNT + N_CHANGELOG];
    size_t n = 0;
    char err[256], missing[1024] = "";
    const char *names[JP_INPUT__COUNT + N_CHANGELOG];
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        names[i] = e->dlq[i];
    for (size_t i = 0; i < N_CHANGELOG; i++)
        names[JP_INPUT__COUNT + i] = e->changelog[changelog_cfs[i]];
    for (size_t i = 0; i < JP_INPUT__COUNT + N_CHANGELOG; i++) {
        if (topic_exists(md, names[i]))
            continue;
        nt[n] = rd_kafka_NewTopic_new(names[i], e->n_partitions, -1, err, sizeof(err));
        if (i >= JP_INPUT__COUNT)
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
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 10000);
    int rc = 0;
    if (!ev) {
        snprintf(errstr, errstr_size,
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
                snprintf(errstr, errstr_size, "cannot create topic %s: %s",
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
    *exit_code = 70;
    tune_malloc();
    jp_engine_t *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    e->cfg = cfg;
    e->metrics = metrics;
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
    for (size_t i = 0; i < N_CHANGELOG; i++)
        if (N_CHANGELOG != jp_topics_n_changelog_stores ||
            strcmp(jp_cf_name(changelog_cfs[i]), jp_topics_changelog_stores[i]) != 0)
            abort(); /* the two lists are edited together */
    for (int p = 0; p < MAX_TASKS; p++)
        for (int i = 0; i < JP_INPUT__COUNT; i++)
            e->rewind[p][i].want = WANT_NONE;

    if (make_dirs(e->state_dir, errstr, errstr_size) != 0) {
        *exit_code = 73;
        goto fail;
    }
    const char *key = cfg->pii.token_key.value;
    if (!key && !(opts && opts->dev_mode)) {
        snprintf(errstr, errstr_size,
                 "no PII token key: set pii.token_key_file (only `jackpot dev` runs without one)");
        *exit_code = 78;
        goto fail;
    }
    if (!key)
        key = dev_pii_key;
    e->pii = jp_pii_new(key, strlen(key));
    if (!e->pii) {
        snprintf(errstr, errstr_size, "the PII token key must be at least 16 bytes");
        *exit_code = 78;
        goto fail;
    }
    e->validator = jp_validator_new(cfg, errstr, errstr_size);
    if (!e->validator) {
        *exit_code = 78;
        goto fail;
    }
    e->registry = jp_registry_client_new(cfg->schema_registry.url, errstr, errstr_size);
    if (!e->registry) {
        *exit_code = 78;
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
        !(e->leader = make_client(e, RD_KAFKA_CONSUMER, 0, errstr, errstr_size)) ||
        !(e->follower = make_client(e, RD_KAFKA_CONSUMER, 1, errstr, errstr_size)) ||
        !(e->restorer = make_client(e, RD_KAFKA_CONSUMER, 1, errstr, errstr_size))) {
        *exit_code = 78;
        goto fail;
    }
    e->rkt_features = rd_kafka_topic_new(e->producer, cfg->topics.features, NULL);
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        e->rkt_dlq[i] = rd_kafka_topic_new(e->producer, e->dlq[i], NULL);
    for (int i = 0; i < JP_CF__COUNT; i++)
        e->rkt_changelog[i] = rd_kafka_topic_new(e->producer, e->changelog[i], NULL);
    int rkt_ok = e->rkt_features != NULL;
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        rkt_ok &= e->rkt_dlq[i] != NULL;
    for (int i = 0; i < JP_CF__COUNT; i++)
        rkt_ok &= e->rkt_changelog[i] != NULL;
    if (!rkt_ok) {
        snprintf(errstr, errstr_size, "cannot create producer topic handles: %s",
                 rd_kafka_err2str(rd_kafka_last_error()));
        *exit_code = 78;
        goto fail;
    }
    rd_kafka_poll_set_consumer(e->leader);
    rd_kafka_poll_set_consumer(e->follower);
    rd_kafka_poll_set_consumer(e->restorer);
    if (check_topics(e, exit_code, errstr, errstr_size) != 0)
        goto fail;
    if (create_topics(e, errstr, errstr_size) != 0) {
        *exit_code = 69;
        goto fail;
    }

    e->env.cfg = cfg;
    e->env.validator = e->validator;
    e->env.pii = e->pii;
    e->env.store_env = jp_store_env_new((size_t)cfg->state.block_cache_mb << 20,
                                        (size_t)cfg->state.write_buffer_mb << 20);
    e->env.features_topic = cfg->topics.features;
    e->env.io = (jp_task_io_t){e, io_features, io_dead_letter, io_count};
    if (!e->env.store_env) {
        snprintf(errstr, errstr_size, "cannot create the RocksDB environment");
        goto fail;
    }
    jp_store_env_expect_stores(e->env.store_env, (size_t)e->n_partitions);

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
    *exit_code = 0;
    return e;
fail:
    jp_engine_free(e);
    return NULL;
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

void jp_engine_stop(jp_engine_t *e)
{
    e->stop = 1;
}

/* ---- restore ------------------------------------------------------------------------- */

/* Input offsets from a changelog record's header; -1 if absent. */
static int header_offsets(const rd_kafka_message_t *m, int64_t out[JP_INPUT__COUNT])
{
    rd_kafka_headers_t *h;
    const void *v;
    size_t n;
    if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, HDR_OFFSETS, &v, &n) ||
        n != 8 * JP_INPUT__COUNT)
        return -1;
    const uint8_t *p = v;
    for (int i = 0; i < JP_INPUT__COUNT; i++) {
        uint64_t u = 0;
        for (int b = 0; b < 8; b++)
            u = (u << 8) | p[8 * i + b];
        out[i] = (int64_t)u;
    }
    return 0;
}

/* The store whose changelog topic is `topic`, -1 if none. */
static int changelog_cf_of(const jp_engine_t *e, const char *topic)
{
    for (size_t i = 0; i < N_CHANGELOG; i++)
        if (strcmp(topic, e->changelog[changelog_cfs[i]]) == 0)
            return (int)changelog_cfs[i];
    return -1;
}

/* Restores task t from every changelog it is missing records of, in one
 * assignment of those partitions: a restore per store paid the consumer's
 * assign-to-first-fetch latency once per store. Records of different
 * stores interleave; each store's order is kept, which is all the restore
 * needs (stores are independent). */
static int restore_task(jp_engine_t *e, jp_task_t *t, const int64_t committed[JP_INPUT__COUNT],
                        char *errstr, size_t errstr_size)
{
    int p = jp_task_partition(t);
    int64_t from[JP_CF__COUNT], hi[JP_CF__COUNT], last[JP_CF__COUNT];
    int64_t applied[JP_CF__COUNT] = {0}, skipped[JP_CF__COUNT] = {0}, total = 0, done = 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(N_CHANGELOG);
    for (size_t i = 0; i < N_CHANGELOG; i++) {
        jp_cf_t cf = changelog_cfs[i];
        int64_t lo;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(e->restorer, e->changelog[cf], p, &lo, &hi[cf], 10000);
        if (err) {
            snprintf(errstr, errstr_size, "changelog %s [%d]: %s", e->changelog[cf], p,
                     rd_kafka_err2str(err));
            rd_kafka_topic_partition_list_destroy(l);
            return -1;
        }
        from[cf] = jp_task_changelog_offset(t, cf) + 1;
        if (from[cf] < lo) {
            if (from[cf] > 0)
                jp_log_warn("engine",
                            "changelog %s [%d] starts at %lld, the store needs %lld: records were "
                            "removed by retention",
                            e->changelog[cf], p, (long long)lo, (long long)from[cf]);
            from[cf] = lo;
        }
        last[cf] = from[cf] - 1;
        if (from[cf] >= hi[cf])
            continue;
        jp_log_info("engine", "task %d: restoring %s from %s offsets %lld..%lld", p, jp_cf_name(cf),
                    e->changelog[cf], (long long)from[cf], (long long)hi[cf] - 1);
        rd_kafka_topic_partition_list_add(l, e->changelog[cf], p)->offset = from[cf];
        total += hi[cf] - from[cf];
    }
    if (!l->cnt) {
        rd_kafka_topic_partition_list_destroy(l);
        return 0;
    }
    rd_kafka_assign(e->restorer, l);
    rd_kafka_topic_partition_list_destroy(l);
    int rc = 0;
    int64_t deadline = jp_clock_now_ms() + 120000;
    while (done < total && rc == 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(e->restorer, 500);
        if (!m) {
            if (jp_clock_now_ms() > deadline) {
                snprintf(errstr, errstr_size, "restore of task %d stalled (%lld of %lld records)",
                         p, (long long)done, (long long)total);
                rc = -1;
            }
            continue;
        }
        int cf = m->err ? -1 : changelog_cf_of(e, rd_kafka_topic_name(m->rkt));
        if (cf >= 0 && m->partition == p && m->offset > last[cf] && m->offset < hi[cf]) {
            int64_t offs[JP_INPUT__COUNT];
            int beyond = 0;
            /* committed -1 (nothing committed for that input yet) is a
             * limit too: a record that saw any of that input belongs to
             * a batch whose commit failed. */
            if (header_offsets(m, offs) == 0)
                for (int i = 0; i < JP_INPUT__COUNT; i++)
                    beyond |= offs[i] > (committed[i] >= 0 ? committed[i] : -1);
            if (beyond) {
                skipped[cf]++;
            } else if (jp_task_restore_record(t, (jp_cf_t)cf, m->key, m->key_len, m->payload,
                                              m->len, m->offset) != 0) {
                snprintf(errstr, errstr_size, "cannot write restored state");
                rc = -1;
            } else {
                applied[cf]++;
            }
            done += m->offset - last[cf];
            last[cf] = m->offset;
            if (done % 1000 == 0)
                jp_gauge_set(e->restore_progress, (double)done / (double)total);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(e->restorer, NULL);
    jp_gauge_set(e->restore_progress, 1);
    for (size_t i = 0; i < N_CHANGELOG; i++) {
        jp_cf_t cf = changelog_cfs[i];
        if (from[cf] >= hi[cf])
            continue;
        jp_counter_add(e->restored_records, (uint64_t)applied[cf]);
        jp_log_info("engine",
                    "task %d: restored %lld %s records, skipped %lld beyond the commit point", p,
                    (long long)applied[cf], jp_cf_name(cf), (long long)skipped[cf]);
    }
    return rc;
}

/* Opens task p: its store, a restore up to the group's committed offsets,
 * and its positions. */
static jp_task_t *open_task_once(jp_engine_t *e, int p, char *errstr, size_t errstr_size)
{
    jp_task_t *t = jp_task_open(&e->env, e->serde, p, e->state_dir, errstr, errstr_size);
    if (!t)
        return NULL;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(JP_INPUT__COUNT);
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        rd_kafka_topic_partition_list_add(l, e->topics[i], p);
    rd_kafka_resp_err_t err = rd_kafka_committed(e->leader, l, 10000);
    int64_t committed[JP_INPUT__COUNT];
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        committed[i] = err ? -1 : l->elems[i].offset < 0 ? -1 : l->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        snprintf(errstr, errstr_size, "cannot read committed offsets: %s", rd_kafka_err2str(err));
        jp_task_close(t);
        return NULL;
    }
    e->restoring = 1;
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        jp_task_set_next_offset(t, (jp_input_t)i, committed[i]);
    int rc = 0;
    rc = restore_task(e, t, committed, errstr, errstr_size);
    if (rc == 0)
        rc = jp_task_restore_done(t, errstr, errstr_size);
    e->restoring = 0;
    if (rc != 0) {
        jp_task_close(t);
        return NULL;
    }
    for (int i = 0; i < JP_CF__COUNT; i++)
        e->cl_reached[p][i] = jp_task_changelog_offset(t, (jp_cf_t)i);
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        e->rewind[p][i].want = WANT_NONE;
    return t;
}

/* Opening a task reads the committed offsets and the changelogs, so it
 * fails while the coordinator or a partition leader is unreachable: a
 * broker restart must not stop the engine, so it retries until
 * REOPEN_DEADLINE_MS and only then gives up (the caller stops the engine). */
static jp_task_t *open_task(jp_engine_t *e, int p, char *errstr, size_t errstr_size)
{
    int64_t deadline = jp_clock_now_ms() + REOPEN_DEADLINE_MS;
    for (;;) {
        jp_task_t *t = open_task_once(e, p, errstr, errstr_size);
        if (t || e->stop || jp_clock_now_ms() >= deadline)
            return t;
        jp_log_warn("engine", "task %d: %s; retrying", p, errstr);
        usleep(REOPEN_BACKOFF_MS * 1000);
    }
}

/* ---- assignment ------------------------------------------------------------------------- */

/* The follower's customers-p / draws-p for the task partitions in parts,
 * added (at the tasks' positions) or removed incrementally: replacing the
 * whole assignment would stop and restart every partition's fetcher at
 * each rebalance, and back-to-back stops trip a race in librdkafka's
 * assignment teardown (confluentinc/librdkafka#5573, fixed upstream in
 * 2026; Debian 12 ships 2.0.2). */
static void follower_update(jp_engine_t *e, const rd_kafka_topic_partition_list_t *parts, int add)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2 * parts->cnt);
    for (int k = 0; k < parts->cnt; k++) {
        int p = parts->elems[k].partition;
        if (p < 0 || p >= e->n_partitions || (add && !e->tasks[p]))
            continue;
        for (int i = JP_INPUT_CUSTOMERS; i <= JP_INPUT_DRAWS; i++) {
            int64_t off = add ? jp_task_next_offset(e->tasks[p], (jp_input_t)i) : -1;
            rd_kafka_topic_partition_list_add(l, e->topics[i], p)->offset =
                off >= 0 ? off : RD_KAFKA_OFFSET_BEGINNING;
        }
    }
    rd_kafka_error_t *err = !l->cnt ? NULL
                            : add   ? rd_kafka_incremental_assign(e->follower, l)
                                    : rd_kafka_incremental_unassign(e->follower, l);
    if (err) {
        jp_log_warn("engine", "follower %s: %s", add ? "assign" : "unassign",
                    rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static int commit(jp_engine_t *e);

static void close_task(jp_engine_t *e, int p)
{
    jp_task_close(e->tasks[p]);
    e->tasks[p] = NULL;
}

static void count_tasks(jp_engine_t *e)
{
    int n = 0;
    for (int p = 0; p < e->n_partitions; p++)
        n += e->tasks[p] != NULL;
    jp_gauge_set(e->assigned_tasks, n);
}

static void hand_over_polled(jp_engine_t *e);

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    jp_engine_t *e = opaque;
    char errstr[512];
    hand_over_polled(e);
    /* NULL while the consumer closes outside a group generation. */
    const char *proto = rd_kafka_rebalance_protocol(rk);
    int coop = proto && strcmp(proto, "COOPERATIVE") == 0;
    /* The tasks opened or closed here: their follower inputs follow. */
    rd_kafka_topic_partition_list_t *changed = rd_kafka_topic_partition_list_new(parts->cnt);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++) {
            int p = parts->elems[i].partition;
            if (p >= e->n_partitions || e->tasks[p])
                continue;
            rd_kafka_topic_partition_list_add(changed, e->topics[JP_INPUT_SALES], p);
            e->tasks[p] = open_task(e, p, errstr, sizeof(errstr));
            if (!e->tasks[p]) {
                jp_log_error("engine", "task %d: %s", p, errstr);
                e->stop = 1;
                continue;
            }
            int64_t off = jp_task_next_offset(e->tasks[p], JP_INPUT_SALES);
            parts->elems[i].offset = off >= 0 ? off : RD_KAFKA_OFFSET_BEGINNING;
            jp_log_info("engine", "task %d assigned", p);
        }
        if (coop)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
        follower_update(e, changed, 1);
    } else {
        int lost = rd_kafka_assignment_lost(rk);
        if (!lost)
            commit(e);
        for (int i = 0; i < parts->cnt; i++) {
            int p = parts->elems[i].partition;
            if (p < e->n_partitions && e->tasks[p]) {
                rd_kafka_topic_partition_list_add(changed, e->topics[JP_INPUT_SALES], p);
                close_task(e, p);
                jp_log_info("engine", "task %d %s", p, lost ? "lost" : "revoked");
            }
        }
        if (coop)
            rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
        else
            rd_kafka_assign(rk, NULL);
        follower_update(e, changed, 0);
    }
    rd_kafka_topic_partition_list_destroy(changed);
    count_tasks(e);
}

/* ---- commit ------------------------------------------------------------------------------ */

typedef struct {
    jp_engine_t *e;
    int p;
    uint8_t offsets[8 * JP_INPUT__COUNT];
    int failed;
} changelog_ctx_t;

static int changelog_cb(void *ctx, jp_cf_t cf, const void *key, size_t klen, const void *val,
                        size_t vlen)
{
    changelog_ctx_t *c = ctx;
    rd_kafka_headers_t *h = rd_kafka_headers_new(1);
    rd_kafka_header_add(h, HDR_OFFSETS, -1, c->offsets, sizeof(c->offsets));
    if (produce(c->e, c->e->rkt_changelog[cf], c->p, key, klen, val, val ? vlen : 0, h,
                changelog_opaque(c->p, cf)) != 0) {
        c->failed = 1;
        return -1;
    }
    return 0;
}

static void rewind_all(jp_engine_t *e, const char *why);

static void update_status(jp_engine_t *e);

/* The protocol of jp_engine.h; 0, or -1 after rewinding every task. */
static int commit(jp_engine_t *e)
{
    char errstr[512];
    int64_t t0 = jp_clock_now_ms();
    int any = 0;
    e->delivery_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    /* (1) changelog records of every dirty key */
    for (int p = 0; p < e->n_partitions; p++) {
        jp_task_t *t = e->tasks[p];
        if (!t)
            continue;
        any = 1;
        changelog_ctx_t c = {e, p, {0}, 0};
        for (int i = 0; i < JP_INPUT__COUNT; i++) {
            uint64_t u = (uint64_t)jp_task_next_offset(t, (jp_input_t)i);
            for (int b = 0; b < 8; b++)
                c.offsets[8 * i + b] = (uint8_t)(u >> (56 - 8 * b));
        }
        if (jp_task_prepare_commit(t, changelog_cb, &c, errstr, sizeof(errstr)) != 0 || c.failed) {
            rewind_all(e, "changelog could not be produced");
            return -1;
        }
    }
    /* (2) everything queued so far is delivered, or nothing is committed */
    rd_kafka_resp_err_t ferr = rd_kafka_flush(e->producer, 60000);
    if (ferr || e->delivery_err) {
        rewind_all(e, rd_kafka_err2str(ferr ? ferr : e->delivery_err));
        return -1;
    }
    if (!any) {
        e->last_commit_ms = jp_clock_now_ms();
        return 0;
    }
    /* (3) the commit point */
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(JP_INPUT__COUNT * e->n_partitions);
    for (int p = 0; p < e->n_partitions; p++)
        for (int i = 0; e->tasks[p] && i < JP_INPUT__COUNT; i++) {
            int64_t off = jp_task_next_offset(e->tasks[p], (jp_input_t)i);
            if (off >= 0)
                rd_kafka_topic_partition_list_add(l, e->topics[i], p)->offset = off;
        }
    rd_kafka_resp_err_t cerr =
        l->cnt ? rd_kafka_commit(e->leader, l, 0) : RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_topic_partition_list_destroy(l);
    if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        rewind_all(e, rd_kafka_err2str(cerr));
        return -1;
    }
    /* (4) state + offsets, atomically per task */
    for (int p = 0; p < e->n_partitions; p++)
        if (e->tasks[p] &&
            jp_task_finish_commit(e->tasks[p], e->cl_reached[p], errstr, sizeof(errstr)) != 0) {
            /* The commit point is passed: the next assignment restores the
             * missing batch from the changelog. Rewinding does exactly that. */
            rewind_all(e, errstr);
            return -1;
        }
    /* A reload takes effect between commits, never within a batch. */
    pthread_mutex_lock(&e->status_lock);
    jp_validator_t *nv = e->pending_validator;
    e->pending_validator = NULL;
    pthread_mutex_unlock(&e->status_lock);
    if (nv && e->n_retired < sizeof(e->retired) / sizeof(e->retired[0])) {
        e->retired[e->n_retired++] = e->validator;
        e->validator = nv;
        e->env.validator = nv;
        jp_log_info("engine", "country configurations reloaded");
    } else if (nv) {
        jp_validator_free(nv);
        jp_log_warn("engine", "too many reloads; restart to apply new country configurations");
    }
    int64_t t1 = jp_clock_now_ms();
    jp_histogram_observe(e->commit_latency, (double)(t1 - t0) / 1000.0);
    jp_counter_add(e->commits, 1);
    e->last_commit_ms = t1;
    update_status(e);
    return 0;
}

/* Seeks input i of task p back to `off` (< 0: the beginning) and drops
 * records until that offset arrives. The beginning is resolved to the low
 * watermark first: a stale record fetched before the seek must not pass for
 * the first record of the partition. Unresolved (broker unreachable), every
 * record is dropped and reseek_pending() tries again. */
static void seek_back(jp_engine_t *e, int p, jp_input_t i, int64_t off)
{
    rd_kafka_t *rk = i == JP_INPUT_SALES ? e->leader : e->follower;
    if (off < 0) {
        int64_t lo = -1, hi = -1;
        rd_kafka_resp_err_t qerr =
            rd_kafka_query_watermark_offsets(rk, e->topics[i], p, &lo, &hi, 5000);
        off = qerr || lo < 0 ? WANT_UNRESOLVED : lo;
    }
    e->rewind[p][i].want = off;
    e->rewind[p][i].last_seek_ms = jp_clock_now_ms();
    if (off == WANT_UNRESOLVED)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, e->topics[i], p)->offset = off;
    rd_kafka_error_t *err = rd_kafka_seek_partitions(rk, l, 10000);
    if (err) {
        jp_log_warn("engine", "seek %s [%d]: %s", e->topics[i], p, rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Every task back to the last commit point: stores reopened (dropping what
 * was not committed), restored from the changelog where the local batch is
 * missing, and every input partition sought back. */
static void rewind_all(jp_engine_t *e, const char *why)
{
    char errstr[512];
    jp_log_warn("engine", "rewinding every task to the last commit: %s", why);
    jp_counter_add(e->rewinds, 1);
    rd_kafka_purge(e->producer, RD_KAFKA_PURGE_F_QUEUE);
    rd_kafka_flush(e->producer, 10000);
    for (int p = 0; p < e->n_partitions; p++) {
        if (!e->tasks[p])
            continue;
        close_task(e, p);
        e->tasks[p] = open_task(e, p, errstr, sizeof(errstr));
        if (!e->tasks[p]) {
            jp_log_error("engine", "task %d: %s", p, errstr);
            e->stop = 1;
            continue;
        }
        for (int i = 0; i < JP_INPUT__COUNT; i++)
            seek_back(e, p, (jp_input_t)i, jp_task_next_offset(e->tasks[p], (jp_input_t)i));
    }
    e->delivery_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    usleep(200000); /* let a transient broker fault pass before trying again */
}

/* A seek issued while a broker was down, or one whose fetch position was
 * already at the end of the partition, may deliver no record at all, so
 * waiting for a stale record to notice it would wait forever. */
static void reseek_pending(jp_engine_t *e)
{
    int64_t now = jp_clock_now_ms();
    for (int p = 0; p < e->n_partitions; p++)
        for (int i = 0; e->tasks[p] && i < JP_INPUT__COUNT; i++)
            if (e->rewind[p][i].want != WANT_NONE &&
                now - e->rewind[p][i].last_seek_ms > RESEEK_AFTER_MS)
                seek_back(e, p, (jp_input_t)i, e->rewind[p][i].want);
}

/* ---- the loop ------------------------------------------------------------------------------ */

static jp_input_t input_of(const jp_engine_t *e, const char *topic)
{
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        if (strcmp(topic, e->topics[i]) == 0)
            return (jp_input_t)i;
    return JP_INPUT__COUNT;
}

/* Whether a message goes to a task; on success its input and partition.
 * Drops errors, unknown topics or partitions, and messages fetched before
 * a pending seek took effect. */
static int admit(jp_engine_t *e, const rd_kafka_message_t *m, jp_input_t in)
{
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            jp_log_warn("engine", "consumer: %s", rd_kafka_message_errstr(m));
        return 0;
    }
    int p = m->partition;
    if (in == JP_INPUT__COUNT || p < 0 || p >= e->n_partitions || !e->tasks[p])
        return 0;
    rewind_t *rw = &e->rewind[p][in];
    if (rw->want != WANT_NONE) {
        if (m->offset != rw->want) {
            /* Stale: fetched before the seek. A seek issued while the
             * partition was being (re)assigned may not have taken effect:
             * issue it again rather than wait for an offset that will not
             * come. */
            if (jp_clock_now_ms() - rw->last_seek_ms > RESEEK_AFTER_MS / 4)
                seek_back(e, p, in, rw->want);
            return 0;
        }
        rw->want = WANT_NONE;
    }
    return 1;
}

/* Hands recs[0..n) - consecutive records of one partition and input - to
 * their task in one call. A record that must be retried or that failed
 * ends the run: the records after it are fetched again after the seek
 * (the same input, so the seek covers them). */
static void hand_over(jp_engine_t *e, jp_task_record_t *recs, size_t n)
{
    if (n == 0)
        return;
    const rd_kafka_message_t *first = recs[0].origin;
    int p = first->partition;
    jp_input_t in = recs[0].input;
    jp_task_result_t res[JP_TASK_BATCH_MAX];
    size_t done = jp_task_process_batch(e->tasks[p], recs, n, res);
    for (size_t i = 0; i < done; i++) {
        if (res[i] == JP_TASK_RETRY) {
            jp_log_warn("engine", "%s [%d] offset %lld: schema registry unavailable, retrying",
                        e->topics[in], p, (long long)recs[i].offset);
            seek_back(e, p, in, recs[i].offset);
            usleep(500000);
        } else if (res[i] == JP_TASK_FAILED) {
            rewind_all(e, "a record's outputs could not be queued");
        } else if (res[i] != JP_TASK_SKIPPED) {
            jp_counter_add(counter_for(e, in, "consumed", "ALL"), 1);
        }
    }
}

/* Hands the polled messages to their tasks in runs, in the order polled,
 * and frees them. */
static void hand_over_polled(jp_engine_t *e)
{
    jp_task_record_t recs[JP_TASK_BATCH_MAX];
    size_t run = 0;
    for (size_t i = 0; i < e->n_polled; i++) {
        rd_kafka_message_t *m = e->polled[i];
        jp_input_t in = m->err ? JP_INPUT__COUNT : input_of(e, rd_kafka_topic_name(m->rkt));
        if (run > 0 && (in != recs[0].input ||
                        m->partition != ((const rd_kafka_message_t *)recs[0].origin)->partition)) {
            hand_over(e, recs, run);
            run = 0;
        }
        if (!admit(e, m, in))
            continue;
        rd_kafka_timestamp_type_t tst;
        int64_t ts = rd_kafka_message_timestamp(m, &tst);
        recs[run++] = (jp_task_record_t){
            in,     m->offset,  tst == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts,
            m->key, m->key_len, m->payload,
            m->len, m};
    }
    hand_over(e, recs, run);
    for (size_t i = 0; i < e->n_polled; i++)
        rd_kafka_message_destroy(e->polled[i]);
    e->n_polled = 0;
}

/* Polls up to max messages from rk (waiting up to timeout_ms for the
 * first) and hands them to their tasks JP_TASK_BATCH_MAX at a time. A
 * rebalance callback run by a poll hands over what was polled before it
 * first, so every message still meets the assignment it was fetched
 * under, as if it had been handled at once. */
static void drain(jp_engine_t *e, rd_kafka_t *rk, int timeout_ms, int max)
{
    for (int total = 0; total < max && !e->stop;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, total == 0 ? timeout_ms : 0);
        if (!m)
            break;
        e->polled[e->n_polled++] = m;
        total++;
        if (e->n_polled == JP_TASK_BATCH_MAX)
            hand_over_polled(e);
    }
    hand_over_polled(e);
}

int jp_engine_run(jp_engine_t *e, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, e->topics[JP_INPUT_SALES], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(e->leader, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err) {
        snprintf(errstr, errstr_size, "subscribe: %s", rd_kafka_err2str(err));
        return -1;
    }
    e->last_commit_ms = jp_clock_now_ms();
    update_status(e);
    while (!e->stop) {
        drain(e, e->leader, 20, 1);
        drain(e, e->follower, 0, 1000);
        drain(e, e->leader, 0, 1000);
        rd_kafka_poll(e->producer, 0);
        reseek_pending(e);
        if (jp_clock_now_ms() - e->last_commit_ms >= e->cfg->processing.commit_interval_ms)
            commit(e);
    }
    commit(e);
    /* Leaving the group revokes (and commits) the tasks. */
    rd_kafka_consumer_close(e->leader);
    for (int p = 0; p < e->n_partitions; p++)
        if (e->tasks[p])
            close_task(e, p);
    rd_kafka_flush(e->producer, 10000);
    /* The status keeps the figures of the last commit: tasks are closed now. */
    return 0;
}

/* ---- status -------------------------------------------------------------------------------- */

static const char *const kind_names[] = {"hour", "day", "draw"};

typedef struct {
    json_t *countries;
} open_ctx_t;

static void add_open_window(void *ctx, const jp_window_t *w)
{
    open_ctx_t *o = ctx;
    char cc[3] = {w->country[0], w->country[1], 0};
    json_t *c = json_object_get(o->countries, cc);
    if (!c) {
        c = json_object();
        json_object_set_new(c, "open", json_array());
        json_object_set_new(c, "last_closed", json_object());
        json_object_set_new(o->countries, cc, c);
    }
    json_t *win = json_object();
    json_object_set_new(win, "window", json_string(kind_names[w->kind]));
    json_object_set_new(win, "window_start", json_integer(w->start_ms));
    json_object_set_new(win, "window_end", json_integer(w->end_ms));
    json_object_set_new(win, "tickets", json_integer(w->tickets));
    json_object_set_new(win, "revenue_minor", json_integer(w->revenue_minor));
    json_object_set_new(win, "signups", json_integer(w->signups));
    json_object_set_new(win, "cancellations", json_integer(w->cancellations));
    json_array_append_new(json_object_get(c, "open"), win);
}

static void update_status(jp_engine_t *e)
{
    json_t *root = json_object(), *tasks = json_array();
    open_ctx_t oc = {json_object()};
    jp_engine_totals_t tot = {0};
    int64_t lag = 0;
    for (int p = 0; p < e->n_partitions; p++) {
        jp_task_t *t = e->tasks[p];
        if (!t)
            continue;
        tot.tasks++;
        json_t *tj = json_object(), *inputs = json_array();
        json_object_set_new(tj, "partition", json_integer(p));
        for (int i = 0; i < JP_INPUT__COUNT; i++) {
            jp_task_counts_t c;
            jp_task_counts(t, (jp_input_t)i, &c);
            tot.consumed += c.consumed;
            tot.applied += c.applied;
            tot.dead_lettered += c.dead_lettered;
            tot.duplicates += c.duplicates;
            tot.late += c.late;
            int64_t lo = 0, hi = 0, next = jp_task_next_offset(t, (jp_input_t)i);
            rd_kafka_get_watermark_offsets(i == 0 ? e->leader : e->follower, e->topics[i], p, &lo,
                                           &hi);
            int64_t l = hi - (next >= 0 ? next : lo);
            if (l > 0)
                lag += l;
            char labels[400], topic[300];
            jp_metrics_label_escape(topic, sizeof(topic), e->topics[i]);
            snprintf(labels, sizeof(labels), "topic=\"%s\",partition=\"%d\"", topic, p);
            jp_gauge_set(jp_metrics_gauge(e->metrics, "jackpot_consumer_lag_records",
                                          "Records behind the end of the input partition", labels),
                         l > 0 ? (double)l : 0.0);
            json_t *ij = json_object();
            json_object_set_new(ij, "topic", json_string(e->topics[i]));
            json_object_set_new(ij, "next_offset", json_integer(next));
            json_object_set_new(ij, "watermark", json_integer(jp_task_watermark(t, (jp_input_t)i)));
            json_object_set_new(ij, "consumed", json_integer(c.consumed));
            json_object_set_new(ij, "applied", json_integer(c.applied));
            json_object_set_new(ij, "dead_lettered", json_integer(c.dead_lettered));
            json_object_set_new(ij, "duplicates", json_integer(c.duplicates));
            json_object_set_new(ij, "late", json_integer(c.late));
            json_object_set_new(ij, "lag", json_integer(l > 0 ? l : 0));
            json_array_append_new(inputs, ij);
        }
        json_object_set_new(tj, "inputs", inputs);
        json_array_append_new(tasks, tj);
        jp_task_foreach_open_window(t, add_open_window, &oc);
        for (size_t k = 0; k < e->cfg->n_countries; k++) {
            const char *cc = e->cfg->country[k].code;
            for (int kind = 0; kind < 3; kind++) {
                const char *last = jp_task_last_features(t, cc, (jp_window_kind_t)kind);
                if (!last)
                    continue;
                json_t *c = json_object_get(oc.countries, cc);
                if (!c) {
                    c = json_object();
                    json_object_set_new(c, "open", json_array());
                    json_object_set_new(c, "last_closed", json_object());
                    json_object_set_new(oc.countries, cc, c);
                }
                json_object_set_new(json_object_get(c, "last_closed"), kind_names[kind],
                                    json_loads(last, 0, NULL));
            }
        }
    }
    tot.windows_closed = e->windows_closed;
    tot.lag = lag;
    tot.commits = (int64_t)jp_counter_get(e->commits);
    int ready = tot.tasks > 0 && !e->restoring && lag <= e->cfg->http.ready_max_lag;
    json_object_set_new(root, "ready", json_boolean(ready));
    json_object_set_new(root, "lag", json_integer(lag));
    json_object_set_new(root, "tasks", tasks);
    json_object_set_new(root, "countries", oc.countries);
    char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    pthread_mutex_lock(&e->status_lock);
    free(e->status_json);
    e->status_json = s;
    e->ready = ready;
    e->totals = tot;
    pthread_mutex_unlock(&e->status_lock);
}

char *jp_engine_status_json(jp_engine_t *e)
{
    pthread_mutex_lock(&e->status_lock);
    char *s = e->status_json ? strdup(e->status_json) : strdup("{}");
    pthread_mutex_unlock(&e->status_lock);
    return s;
}

int jp_engine_ready(jp_engine_t *e)
{
    pthread_mutex_lock(&e->status_lock);
    int r = e->ready;
    pthread_mutex_unlock(&e->status_lock);
    return r;
}

void jp_engine_totals(jp_engine_t *e, jp_engine_totals_t *out)
{
    pthread_mutex_lock(&e->status_lock);
    *out = e->totals;
    pthread_mutex_unlock(&e->status_lock);
}

void jp_engine_free(jp_engine_t *e)
{
    if (!e)
        return;
    for (int p = 0; p < MAX_TASKS; p++)
        if (e->tasks[p])
            close_task(e, p);
    if (e->follower) {
        rd_kafka_consumer_close(e->follower);
        rd_kafka_destroy(e->follower);
    }
    if (e->restorer) {
        rd_kafka_consumer_close(e->restorer);
        rd_kafka_destroy(e->restorer);
    }
    if (e->leader)
        rd_kafka_destroy(e->leader);
    if (e->producer) {
        rd_kafka_flush(e->producer, 5000);
        if (e->rkt_features)
            rd_kafka_topic_destroy(e->rkt_features);
        for (int i = 0; i < JP_INPUT__COUNT; i++)
            if (e->rkt_dlq[i])
                rd_kafka_topic_destroy(e->rkt_dlq[i]);
        for (int i = 0; i < JP_CF__COUNT; i++)
            if (e->rkt_changelog[i])
                rd_kafka_topic_destroy(e->rkt_changelog[i]);
        rd_kafka_destroy(e->producer);
    }
    jp_store_env_free(e->env.store_env);
    jp_serde_free(e->serde);
    jp_registry_client_free(e->registry);
    jp_validator_free(e->validator);
    jp_validator_free(e->pending_validator);
    for (size_t i = 0; i < e->n_retired; i++)
        jp_validator_free(e->retired[i]);
    jp_pii_free(e->pii);
    free(e->status_json);
    pthread_mutex_destroy(&e->status_lock);
    free(e);
}
