/*
 * jp_engine: the stream processor's Kafka side - consumer group, tasks,
 * dead letters, changelogs, the commit protocol and restores - around the
 * Kafka-free processing of jp_task.
 *
 * Tasks and the group. A task is partition p of every input topic. The
 * consumer group assigns partitions of the first input (sales) with the
 * configured assignor (cooperative-sticky by default; static membership
 * with group.instance.id when configured); for each assigned sales-p the
 * engine adds customers-p and draws-p to the same consumer's assignment.
 * librdkafka's built-in assignors balance topic-partitions independently
 * and cannot keep co-partitioned inputs together, so the group decides
 * task ownership through one topic and the engine keeps the task's other
 * partitions with it. One consumer fetches and commits all three; each
 * input partition is served in turn, so no input waits behind another's
 * backlog. Co-partitioning is checked at start-up.
 *
 * Commit protocol (docs/processor.md), every processing.commit_interval and on
 * revocation or shutdown: (1) each task writes its dirty state keys to its
 * changelogs (jackpot.<store>-changelog, partition p); (2) the producer is
 * flushed, which gives each store's changelog end; (3) the consumer offsets
 * are committed synchronously, carrying the task's changelog ends as
 * metadata - the commit point; (4) each task's RocksDB batch is written
 * with the input and changelog offsets. If any step fails, every task is
 * rewound to the last commit point (stores reopened, partitions sought
 * back) and the work is redone: nothing is skipped, nothing is counted
 * twice.
 *
 * On assignment the new tasks restore together from their changelogs what
 * their local stores are missing (from the local changelog offset, or from
 * the beginning when the store is new), skipping records beyond the
 * committed changelog ends (written by a commit that never reached its
 * commit point); the next commit writes the skipped keys again.
 *
 * Threads: everything Kafka and state runs on the thread calling
 * jp_engine_run. jp_engine_stop may be called from any thread or a signal
 * handler. The status snapshot (jp_engine_status_json) is rebuilt at each
 * commit and read under a mutex by the admin HTTP thread.
 */
#ifndef JP_ENGINE_H
#define JP_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "config/jp_config.h"
#include "base/jp_metrics.h"
#include "engine/jp_task.h"

typedef struct jp_engine_s jp_engine_t;

typedef struct jp_engine_opts_s {
    /* Allow running without pii.token_key (a fixed dev key is used);
     * only `jackpot dev` sets this. */
    int dev_mode;
    /* Directory for task stores; NULL: cfg->state.dir. */
    const char *state_dir;
    /* Discard a state directory written against another cluster or other
     * topics instead of refusing to start (`--reset-state`). */
    int reset_state;
} jp_engine_opts_t;

/* Checks the topics (co-partitioning), connects, creates missing dead-letter
 * and changelog topics, and checks that the state directory belongs to
 * this cluster and these topics. NULL with errstr; *exit_code gets the
 * sysexits code (EX_CONFIG for a configuration problem such as mismatched
 * partitions or a state directory of another cluster, EX_UNAVAILABLE when
 * Kafka or the registry cannot be reached). */
jp_engine_t *jp_engine_new(const jp_config_t *cfg, jp_metrics_t *metrics,
                           const jp_engine_opts_t *opts, int *exit_code, char *errstr,
                           size_t errstr_size);

/* Runs until jp_engine_stop; then commits, closes the stores and leaves the
 * group, within processing.shutdown_grace of the stop whatever the cluster
 * does (a commit that cannot finish in time is abandoned: the records
 * since the last commit are read again at the next start). 0, or -1 on an
 * unrecoverable error (errstr; jp_engine_exit_code says which). */
int jp_engine_run(jp_engine_t *e, char *errstr, size_t errstr_size);

/* Asks jp_engine_run to finish; async-signal-safe. */
void jp_engine_stop(jp_engine_t *e);

/* The sysexits code of the condition that stopped the engine, 0 if none:
 * EX_TEMPFAIL (75) when input records were lost to retention and
 * processing.on_input_loss is stop. */
int jp_engine_exit_code(const jp_engine_t *e);

void jp_engine_free(jp_engine_t *e);

/* Replaces the country configurations (SIGHUP), as often as wanted:
 * validation and calendars of records processed after the next commit use
 * countries (a reload replaces one not yet applied); the caller keeps
 * countries alive until jp_engine_free. Thread-safe request: the swap
 * happens on the engine thread. 0, or -1 if the countries do not build
 * (the old ones stay). */
int jp_engine_reload_countries(jp_engine_t *e, const jp_config_t *countries, char *errstr,
                               size_t errstr_size);

/* Adds a processor (jp_proc.h) to every task (before jp_engine_run; at
 * most JP_TASK_MAX_PROCS; proc must outlive the engine). 0 or -1. */
int jp_engine_add_proc(jp_engine_t *e, const jp_proc_t *proc);

/* Registers a window-close handler (before jp_engine_run). */
int jp_engine_on_window_close(jp_engine_t *e, jp_task_window_cb fn, void *ctx);

/* Status for the admin endpoints, as JSON (malloc'd): "tasks", "countries",
 * "ready". Thread-safe. */
char *jp_engine_status_json(jp_engine_t *e);
/* 1 when assigned, restored, lag is under http.ready_max_lag, and the
 * engine makes progress (fewer than 3 rewinds since the last commit). */
int jp_engine_ready(jp_engine_t *e);

/* Totals over the tasks this instance owns (for `jackpot dev`'s view and
 * tests). Thread-safe (from the last commit). */
typedef struct jp_engine_totals_s {
    int64_t consumed, applied, dead_lettered, duplicates, late;
    /* through the repartition topic: sent away, and copies taken in;
     * consumed + received = applied + dead_lettered + duplicates +
     * repartitioned, and received = repartitioned once nothing is in
     * flight (lag 0) */
    int64_t repartitioned, received;
    int64_t replays; /* copies seen again after a rewind or rebalance, skipped */
    int64_t lost;    /* input records removed by retention before they were read */
    int64_t windows_closed;
    int64_t commits;
    int64_t lag; /* records behind the ends of the input (and repartition) partitions */
    int tasks;
} jp_engine_totals_t;
void jp_engine_totals(jp_engine_t *e, jp_engine_totals_t *out);

#endif
