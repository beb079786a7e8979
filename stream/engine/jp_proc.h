/*
 * jp_proc: the capabilities that run inside every task after ingestion -
 * the learning loop, decisions, alerts. A processor keeps its state in the
 * task's store (changelogged, so it survives crashes and rebalances exactly
 * like the windows), and emits output records through the engine.
 *
 * Determinism. The order in which a task applies records across its input
 * partitions depends on fetch timing, and a replay must give byte-identical
 * outputs. So processors act on *facts*, each stamped with the event time
 * from which it is final, delivered in one order that every run agrees on:
 *
 *   - a closed window (its FeatureVector): time = window end + grace;
 *   - a timer a processor asked for (e.g. a country's decision time).
 *
 * The task's clock is the lowest watermark of its input partitions (every
 * record older than clock - grace is LATE in its own partition, so nothing
 * the facts summarise can still change). A fact is delivered once the
 * clock has passed its time, in order of (time, kind: windows before
 * timers, country, window kind, window start / processor order). Windows
 * that closed earlier (hour and day windows close on the sales and
 * customer watermarks alone) wait, in the meta store, until the clock
 * reaches them.
 *
 * Records. on_record sees every applied record as it is applied. Its order
 * across inputs is NOT deterministic: use it only to accumulate what
 * commutes (counts, sums, sets keyed by event time) and act on facts.
 *
 * Threads. Every callback runs on the engine thread. A processor that
 * serves the admin API publishes snapshots under its own lock; commands
 * from the admin API (promote, rollback) are queued by the processor and
 * applied in poll, on the engine thread.
 */
#ifndef JP_PROC_H
#define JP_PROC_H

#include <stddef.h>
#include <stdint.h>

#include "config/jp_config.h"
#include "engine/jp_customer.h"
#include "engine/jp_state.h"
#include "engine/jp_store.h"
#include "serde/jp_events.h"
#include "serde/jp_serde.h"

/* An applied record, decoded and validated. token is the customer's PII
 * token (sales and customer events), "" otherwise; customer is the
 * customer's state after the record (NULL for draws and erasures), valid
 * during the call. offset is the record's in the task's input partition,
 * -1 for a copy from the repartition topic (docs/processor.md,
 * "Partitioning"): its offset there is none of the input's. */
typedef struct jp_proc_record_s {
    jp_input_t input;
    int64_t offset;
    int64_t event_time;
    const char *country;
    const char *token;
    const jp_customer_t *customer;
    union {
        const jp_sale_event_t *sale;
        const jp_customer_event_t *customer;
        const jp_draw_result_t *draw;
    } ev;
} jp_proc_record_t;

/* The output topics a processor writes (topics.* in the configuration). */
typedef enum {
    JP_OUTPUT_RECOMMENDATIONS,
    JP_OUTPUT_ALERTS,
    JP_OUTPUT_MODELS,
    JP_OUTPUT__COUNT
} jp_output_t;

/* What a processor may ask of its task: handed to open(), valid until
 * close(). */
typedef struct jp_proc_ctx_s jp_proc_ctx_t;

int jp_proc_partition(const jp_proc_ctx_t *c);
const jp_config_t *jp_proc_config(const jp_proc_ctx_t *c);
/* The task's store: processors use their own column families (jp_cf_t in
 * engine/jp_state.h: models, ledger, alerts), keyed by country first. */
jp_store_t *jp_proc_store(jp_proc_ctx_t *c);
/* The engine thread's serde (encodes outputs with the registered schemas). */
jp_serde_t *jp_proc_serde(jp_proc_ctx_t *c);
/* The task's clock (see above); INT64_MIN before every input has a
 * watermark. */
int64_t jp_proc_clock(const jp_proc_ctx_t *c);
/* The data snapshot a result is computed from: per input, the first
 * offset this task ever applied (-1 if none) and the next offset. */
void jp_proc_offsets(const jp_proc_ctx_t *c, jp_input_t input, int64_t *first, int64_t *next);
/* The topic name of an input. */
const char *jp_proc_input_topic(const jp_proc_ctx_t *c, jp_input_t input);

/* The counters the task keeps in state for one of its input partitions
 * (consumed = applied + dead_lettered + duplicates). Read in on_record of
 * that same input they are deterministic: they count the partition's
 * records up to the one being applied (it is counted as consumed, not yet
 * as applied), whatever the interleaving across inputs. lost counts the
 * records retention removed before they were read (added when the record
 * after the gap arrives, before it is applied); mispartitioned (records of
 * another task's country) stays 0 until the engine counts it. */
typedef struct jp_proc_counts_s {
    int64_t consumed, applied, dead_lettered, duplicates, late;
    int64_t mispartitioned, lost;
} jp_proc_counts_t;
void jp_proc_counts(const jp_proc_ctx_t *c, jp_input_t input, jp_proc_counts_t *out);

/* Records of the input partition not yet read: the partition's end offset
 * minus the task's next offset; -1 when unknown. The end offset is the one
 * of the last fetch response (no I/O; stale while the consumer is not
 * fetching that partition), or, with ask_broker, the broker's (a round
 * trip that blocks the engine thread for up to a second: call it rarely).
 * It depends on timing: for live checks (a silent partition that has been
 * read to its end), never for what a fact decides. */
int64_t jp_proc_lag(const jp_proc_ctx_t *c, jp_input_t input, int ask_broker);

/* Queues an output record (value is a framed Avro record; key is copied).
 * Outputs reach Kafka before the commit point of the facts that caused
 * them, so they are at least once, with deterministic content. 0, or -1 if
 * it could not be queued (the engine then rewinds the task). */
int jp_proc_emit(jp_proc_ctx_t *c, jp_output_t topic, const char *key, size_t key_len,
                 const void *value, size_t len);

/* A processor. Every callback but name and open may be NULL. Callbacks
 * return 0, or -1 on a failure that must rewind the task (out of memory,
 * an output that cannot be queued): the engine then drops the task's
 * uncommitted state and re-reads from the last commit. */
typedef struct jp_proc_s {
    const char *name;
    void *global; /* the processor's shared object (admin views, commands) */
    /* One instance per task, once its store is restored. NULL with errstr. */
    void *(*open)(void *global, jp_proc_ctx_t *ctx, char *errstr, size_t errstr_size);
    void (*close)(void *inst);
    int (*on_record)(void *inst, const jp_proc_record_t *rec);
    /* A closed window, as the FeatureVector emitted to the features topic
     * (the versioned feature log: what a model learns from can be read
     * back from Kafka). */
    int (*on_window)(void *inst, const jp_feature_vector_t *fv);
    /* The next event time > after at which on_timer must run (INT64_MAX:
     * none). Must depend only on the processor's state and config. */
    int64_t (*next_timer)(void *inst, int64_t after);
    int (*on_timer)(void *inst, int64_t time);
    /* Once per batch: apply queued admin commands. */
    int (*poll)(void *inst);
    /* Before the commit: write in-memory state into the store. */
    int (*prepare_commit)(void *inst);
} jp_proc_t;

#endif
