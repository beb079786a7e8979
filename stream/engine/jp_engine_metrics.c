/*
 * jp_engine_metrics: what an operator watches besides the record counters
 * (jp_engine_status.c) - the process, the producer, rebalances, RocksDB,
 * how far behind wall time each task's event time is, and how long a
 * record takes from its Kafka timestamp to the commit that covers it.
 *
 * Every family exists from the start with zero values: a series that
 * appears only after the first event reads as "no data" to an alert, and
 * rate() misses its first increment. Families are named and labelled once
 * here (no label that is the same on every series: the scrape target
 * already identifies the instance), so each has one HELP.
 *
 * Nothing here decides anything: wall time is read only for these figures.
 * The per-commit figures are set on the engine thread, where the tasks
 * live; the process figures by a collector at scrape time.
 *
 * End-to-end latency: a record's latency is only known at the commit that
 * covers it, so the Kafka timestamps of the records handed over since the
 * last commit are kept (8 bytes each) and observed at the commit. Past
 * LATENCY_KEEP of them, every second one is dropped and the rest weigh
 * twice as much (and so on), which bounds the memory of a huge commit
 * interval at the cost of sampling it. A rewind drops them: those records
 * will be handed over again.
 */
#include "jp_engine-internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jp_clock.h"
#include "base/jp_process_metrics.h"

#define LATENCY_KEEP (1u << 20)

static const double latency_buckets[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,    2.5,
                                         5,    10,    30,   60,  300,  900, 3600, 86400};
static const char *const rebalance_events[] = {"assign", "revoke", "lost"};

struct jp_engine_metrics_s {
    jp_gauge_t *ready;
    jp_counter_t *delivery_errors;
    jp_gauge_t *queue;
    jp_counter_t *rebalances[3];
    jp_gauge_t *rebalance_seconds;
    jp_gauge_t *sst, *memtable, *pending_compaction, *cache_bytes, *cache_hit_ratio;
    jp_gauge_t **event_lag; /* per partition */
    jp_histogram_t *latency;
    int64_t *ts; /* Kafka timestamps since the last commit (sampled 1 in stride) */
    size_t n_ts;
    uint64_t stride, seen;
};

/* The record counters by topic and reason (jp_engine_status.c) for the
 * reasons known up front. */
static void precreate_record_counters(jp_engine_t *e)
{
    /* besides the serde errors (docs/processor.md's table) */
    static const char *const reasons[] = {"UNKNOWN_COUNTRY", "WRONG_CURRENCY", "FUTURE_EVENT_TIME",
                                          "BAD_DRAW_ID",     "BAD_POSTCODE",   "UNKNOWN_TYPE",
                                          "MISSING_FIELD",   "LATE",           "MISPARTITIONED",
                                          "FIELD_TOO_LONG",  "BAD_EVENT_TIME", "KEY_MISMATCH"};
    for (int i = 0; i < JP_INPUT__COUNT; i++) {
        jp_input_t in = (jp_input_t)i;
        jp_engine_dlq_truncated_counter(e, i);
        jp_engine_counter(e, in, "consumed", "ALL");
        jp_engine_counter(e, in, "applied", "OK");
        jp_engine_counter(e, in, "duplicate", "EVENT_ID");
        for (int r = JP_SERDE_OK + 1; r < JP_SERDE_ERR__COUNT; r++)
            if (r != JP_SERDE_REGISTRY_UNAVAILABLE && r != JP_SERDE_INVALID &&
                r != JP_SERDE_NO_MEMORY) /* retried, or never a record's fault */
                jp_engine_counter(e, in, "dead_lettered", jp_serde_err_name((jp_serde_err_t)r));
        for (size_t r = 0; r < sizeof(reasons) / sizeof(reasons[0]); r++)
            jp_engine_counter(e, in, "dead_lettered", reasons[r]);
        for (int f = 0; f < JP_FIX__COUNT; f++)
            jp_engine_counter(e, in, "corrected", jp_fix_name((jp_fix_t)f));
        if (e->repartition[0] || e->env.partition.dead_letter) {
            jp_engine_counter(e, in, "repartitioned", "MISPARTITIONED");
            jp_engine_counter(e, in, "repartition_received", "MISPARTITIONED");
            jp_engine_counter(e, in, "repartition_replays", "MISPARTITIONED");
        }
    }
    static const char *const windows[] = {"hour", "day", "draw"};
    for (size_t w = 0; w < 3; w++) {
        char labels[64];
        snprintf(labels, sizeof(labels), "window=\"%s\"", windows[w]);
        jp_metrics_counter(e->metrics, "jackpot_windows_closed_total", "Event-time windows closed",
                           labels);
    }
}

int jp_engine_metrics_init(jp_engine_t *e)
{
    jp_metrics_t *m = e->metrics;
    struct jp_engine_metrics_s *om = calloc(1, sizeof(*om));
    if (!om)
        return -1;
    e->om = om;
    om->stride = 1;
    const struct {
        jp_gauge_t **g;
        const char *name, *help;
    } gauges[] = {
        {&om->ready, "jackpot_ready",
         "1 when /readyz answers ready (tasks assigned, restored, lag under "
         "http.ready_max_lag, commits succeeding), else 0"},
        {&om->queue, "jackpot_producer_queue_messages",
         "Records queued in the producer, not yet delivered"},
        {&om->rebalance_seconds, "jackpot_rebalance_last_duration_seconds",
         "Duration of the last rebalance callback (opening tasks includes their restore)"},
        {&om->sst, "jackpot_rocksdb_sst_bytes", "Size of the live SST files of the task stores"},
        {&om->memtable, "jackpot_rocksdb_memtable_bytes", "Memtable bytes of the task stores"},
        {&om->pending_compaction, "jackpot_rocksdb_pending_compaction_bytes",
         "Bytes RocksDB estimates compaction has to rewrite"},
        {&om->cache_bytes, "jackpot_rocksdb_block_cache_bytes", "Usage of the shared block cache"},
        {&om->cache_hit_ratio, "jackpot_rocksdb_block_cache_hit_ratio",
         "Blocks the engine's reads found in the block cache, of all blocks they read, since "
         "start"},
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++)
        ok &= (*gauges[i].g = jp_metrics_gauge(m, gauges[i].name, gauges[i].help, NULL)) != NULL;
    om->delivery_errors =
        jp_metrics_counter(m, "jackpot_producer_delivery_errors_total",
                           "Records the producer could not deliver (each rewinds to the last "
                           "commit)",
                           NULL);
    for (int i = 0; i < 3; i++) {
        char labels[32];
        snprintf(labels, sizeof(labels), "event=\"%s\"", rebalance_events[i]);
        om->rebalances[i] = jp_metrics_counter(
            m, "jackpot_rebalances_total",
            "Consumer group rebalance callbacks: partitions assigned, revoked or lost", labels);
    }
    om->latency = jp_metrics_histogram(
        m, "jackpot_end_to_end_latency_seconds",
        "From a record's Kafka timestamp to the commit that covers its processing", NULL,
        latency_buckets, sizeof(latency_buckets) / sizeof(latency_buckets[0]));
    om->event_lag = calloc((size_t)e->n_partitions, sizeof(*om->event_lag));
    om->ts = malloc(LATENCY_KEEP * sizeof(*om->ts));
    e->repartition_invalid = jp_metrics_counter(
        m, "jackpot_repartition_invalid_total",
        "Records of the repartition topic without a readable source header (skipped)", NULL);
    ok &= om->delivery_errors && om->latency && om->event_lag && om->ts && e->repartition_invalid;
    for (int i = 0; i < 3; i++)
        ok &= om->rebalances[i] != NULL;
    for (int p = 0; ok && p < e->n_partitions; p++) {
        char labels[32];
        snprintf(labels, sizeof(labels), "partition=\"%d\"", p);
        om->event_lag[p] =
            jp_metrics_gauge(m, "jackpot_event_time_lag_seconds",
                             "Wall-clock time minus the task's lowest input watermark (0 while "
                             "the task is not owned here or has no watermark)",
                             labels);
        ok &= om->event_lag[p] != NULL;
        /* every input partition's lag series from the start */
        for (int i = 0; i < jp_engine_n_streams(e); i++)
            ok &= jp_engine_lag_gauge(e, p, i) != NULL &&
                  jp_engine_lost_counter(e, jp_engine_stream_topic(e, i), p) != NULL;
    }
    if (!ok)
        return -1;
    precreate_record_counters(e);
    return jp_process_metrics_init(m);
}

void jp_engine_metrics_free(jp_engine_t *e)
{
    if (!e->om)
        return;
    free(e->om->event_lag);
    free(e->om->ts);
    free(e->om);
    e->om = NULL;
}

void jp_engine_metrics_record(jp_engine_t *e, int64_t timestamp_ms)
{
    struct jp_engine_metrics_s *om = e->om;
    if (!om || timestamp_ms < 0 || om->seen++ % om->stride != 0)
        return;
    if (om->n_ts == LATENCY_KEEP) {
        for (size_t i = 0; i < LATENCY_KEEP / 2; i++)
            om->ts[i] = om->ts[2 * i];
        om->n_ts = LATENCY_KEEP / 2;
        om->stride *= 2;
    }
    om->ts[om->n_ts++] = timestamp_ms;
}

void jp_engine_metrics_rewound(jp_engine_t *e)
{
    if (!e->om)
        return;
    e->om->n_ts = 0, e->om->seen = 0, e->om->stride = 1;
    /* rewinds without a commit turn /readyz not ready (jp_engine_ready) */
    jp_gauge_set(e->om->ready, jp_engine_ready(e) ? 1 : 0);
}

void jp_engine_metrics_rebalance(jp_engine_t *e, const char *event, int64_t duration_ms)
{
    if (!e->om)
        return;
    for (int i = 0; i < 3; i++)
        if (strcmp(event, rebalance_events[i]) == 0)
            jp_counter_add(e->om->rebalances[i], 1);
    jp_gauge_set(e->om->rebalance_seconds, (double)duration_ms / 1000.0);
}

void jp_engine_metrics_delivery_error(jp_engine_t *e)
{
    if (e->om)
        jp_counter_add(e->om->delivery_errors, 1);
}

void jp_engine_metrics_poll(jp_engine_t *e)
{
    if (e->om)
        jp_gauge_set(e->om->queue, rd_kafka_outq_len(e->producer));
}

void jp_engine_metrics_commit(jp_engine_t *e, int64_t commit_ms, int ready)
{
    struct jp_engine_metrics_s *om = e->om;
    if (!om)
        return;
    jp_gauge_set(om->ready, ready ? 1 : 0);
    for (size_t i = 0; i < om->n_ts; i++)
        jp_histogram_observe_n(om->latency, (double)(commit_ms - om->ts[i]) / 1000.0, om->stride);
    om->n_ts = 0;
    om->seen = 0;
    om->stride = 1;
    int64_t now = jp_clock_wall_ms();
    for (int p = 0; p < e->n_partitions; p++) {
        int64_t wm = INT64_MAX;
        for (int i = 0; e->tasks[p] && i < JP_INPUT__COUNT; i++) {
            int64_t w = jp_task_watermark(e->tasks[p], (jp_input_t)i);
            if (w != INT64_MIN && w < wm)
                wm = w;
        }
        jp_gauge_set(om->event_lag[p], wm == INT64_MAX ? 0 : (double)(now - wm) / 1000.0);
    }
    jp_store_stats_t st;
    jp_store_env_stats(e->env.store_env, &st);
    jp_gauge_set(om->sst, (double)st.sst_bytes);
    jp_gauge_set(om->memtable, (double)st.memtable_bytes);
    jp_gauge_set(om->pending_compaction, (double)st.pending_compaction_bytes);
    jp_gauge_set(om->cache_bytes, (double)st.block_cache_bytes);
    uint64_t hits, reads;
    jp_store_read_counts(&hits, &reads);
    jp_gauge_set(om->cache_hit_ratio, hits + reads ? (double)hits / (double)(hits + reads) : 0.0);
    jp_engine_metrics_poll(e);
}
