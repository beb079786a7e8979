/*
 * jp_task: one task = partition p of every input topic, with its state
 * store. It decodes, validates, deduplicates and applies records, keeps the
 * event-time windows, and closes them. It does no Kafka I/O itself: the
 * engine (jp_engine.h) feeds it records and carries out what it asks
 * through jp_task_io_t, which keeps the processing logic testable alone.
 *
 * Event time, per input partition. Each input partition i of the task has
 * its own watermark wm[i] = (highest event time seen in i) - allowed
 * lateness; draws follow their countries' calendars, so the draws
 * partition counts as seen up to just before the next scheduled draw of
 * every country it has carried a draw of (a monthly draw alone on its
 * partition does not hold the clock for a month). A record is LATE when its
 * event time is earlier than
 * wm[i] - grace, judged before the record raises wm[i]; it goes to the
 * dead-letter topic. A window closes when every input partition that feeds
 * it has a watermark at or past window end + grace: hour and day windows
 * are fed by sales and customers, draw windows by all three inputs. Any
 * record of a closed window is therefore LATE in its own partition, and a
 * window's content is exactly the non-late records with event times in it:
 * it does not depend on how the partitions interleave, so features are
 * byte-identical across runs, restarts and rebalances.
 *
 * State (the column families jp_cf_t, in a jp_store): windows (open windows), customers
 * (per PII token, TTL'd by event time), dedupe (segments of event-id
 * fingerprints per hour of event time, held in memory by jp_dedupe and
 * deleted once past the horizon), meta (watermarks, per-partition counters, carried
 * subscriber counts, last closed features). All of it reaches the
 * changelog, so a restore from the changelog reproduces it exactly.
 */
#ifndef JP_TASK_H
#define JP_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "config/jp_config.h"
#include "serde/jp_events.h"
#include "engine/jp_partition.h"
#include "engine/jp_pii.h"
#include "engine/jp_proc.h"
#include "engine/jp_state.h"
#include "serde/jp_serde.h"
#include "engine/jp_store.h"
#include "engine/jp_validate.h"
#include "engine/jp_window.h"

/* One input record as the task sees it (the engine's copy of a Kafka
 * message; the value buffer must be writable and outlive the call). */
typedef struct jp_task_record_s {
    jp_input_t input;
    int64_t offset;
    int64_t timestamp_ms; /* Kafka timestamp, -1 if none */
    const void *key;
    size_t key_len;
    void *value;
    size_t value_len;
    const void *origin; /* the engine's handle on the message (e.g. for its headers) */
    /* A copy from the repartition topic (jp_partition.h): offset is its
     * offset there, src_partition/src_offset where it was first read. */
    int via_repartition;
    int32_t src_partition;
    int64_t src_offset;
} jp_task_record_t;

typedef enum {
    JP_TASK_APPLIED,
    JP_TASK_DEAD_LETTERED,
    JP_TASK_DUPLICATE,
    JP_TASK_RETRY,         /* transient (registry unavailable): offer the record again later */
    JP_TASK_SKIPPED,       /* offset already processed */
    JP_TASK_FAILED,        /* an output could not be queued: the engine must rewind */
    JP_TASK_REPARTITIONED, /* another task's country: handed to io.repartition */
    JP_TASK_STOPPED,       /* not consumed: input before it was lost and the engine stops */
} jp_task_result_t;

/* Counters kept per input partition, in state (so they survive restarts
 * and restores): consumed = applied + dead_lettered + duplicates, plus
 * the repartition stream's (jp_task_repartition_counts) when records are
 * repartitioned. */
typedef struct jp_task_counts_s {
    int64_t consumed, applied, dead_lettered, duplicates, late;
} jp_task_counts_t;

/* What a task asks of the engine. Each returns 0, or -1 if the record
 * could not be queued for delivery. */
typedef struct jp_task_io_s {
    void *ctx;
    /* A closed window's features: key = country, value = framed Avro. */
    int (*features)(void *ctx, int partition, const char *key, const void *value, size_t len);
    /* A rejected record, to <input topic><dlq suffix>, with its reason. */
    int (*dead_letter)(void *ctx, int partition, const jp_task_record_t *rec,
                       const char *error_class, const char *message);
    /* Counts by reason for metrics (may be NULL). */
    void (*count)(void *ctx, jp_input_t input, const char *what, const char *reason);
    /* A processor's output record (jp_proc_emit); may be NULL if no
     * processor is registered. */
    int (*emit)(void *ctx, int partition, jp_output_t topic, const char *key, size_t key_len,
                const void *value, size_t len);
    /* A record of another task's country (the home partition), to the
     * repartition topic with its original bytes; may be NULL when
     * env.partition dead-letters. */
    int (*repartition)(void *ctx, int partition, int home, const jp_task_record_t *rec);
    /* The end offset of an input partition, as last fetched or (ask_broker)
     * from the broker (jp_proc_lag; may be NULL): -1 when unknown. */
    int64_t (*end_offset)(void *ctx, int partition, jp_input_t input, int ask_broker);
    /* Offsets [expected, rec->offset) of rec's partition were skipped
     * (may be NULL): of its input partition, or for a copy of the task's
     * repartition partition. Answers the number of records retention
     * removed before they were read (0 for transaction markers or
     * compaction), or -1 to stop before rec (it is then JP_TASK_STOPPED). */
    int64_t (*gap)(void *ctx, int partition, const jp_task_record_t *rec, int64_t expected);
} jp_task_io_t;

#define JP_TASK_MAX_PROCS 8
/* Countries per task whose draw calendar advances the draws watermark. */
#define JP_TASK_MAX_DRAW_COUNTRIES 16

/* Called for every closed window, after its features were emitted. */
typedef void (*jp_task_window_cb)(void *ctx, const jp_window_t *w, const jp_feature_vector_t *fv);

/* Shared, read-only while tasks run (one per engine). */
typedef struct jp_task_env_s {
    const jp_config_t *cfg;
    const jp_validator_t *validator;
    const jp_pii_t *pii;
    jp_store_env_t *store_env;
    const char *features_topic;
    jp_task_io_t io;
    jp_task_window_cb on_close[8];
    void *on_close_ctx[8];
    size_t n_on_close;
    /* Processors (jp_proc.h), run in this order for facts of equal time. */
    const jp_proc_t *procs[JP_TASK_MAX_PROCS];
    size_t n_procs;
    /* The inputs' partitioning contract (zero: nothing checked). */
    jp_partition_check_t partition;
} jp_task_env_t;

typedef struct jp_task_s jp_task_t;

/*
 * Opens the task's store at dir/task-<partition> (creating it). serde is
 * the engine thread's (tasks share it). NULL with errstr.
 */
jp_task_t *jp_task_open(const jp_task_env_t *env, jp_serde_t *serde, int partition, const char *dir,
                        char *errstr, size_t errstr_size);
/* Opens the tasks of partitions[0..n) as jp_task_open would, their stores
 * side by side on a few threads: opening a RocksDB mostly waits on the disk
 * (a new one syncs its manifest and options files for every column
 * family), and those waits overlap. Only store work runs on those threads
 * (opening, the customers key filter); the tasks' state and processors are
 * loaded on the calling thread. 0 with out[0..n) set, or -1 with errstr
 * and none of them open. */
int jp_task_open_many(const jp_task_env_t *env, jp_serde_t *serde, const int *partitions, size_t n,
                      const char *dir, jp_task_t **out, char *errstr, size_t errstr_size);
/* Closes the store; uncommitted state is dropped. */
void jp_task_close(jp_task_t *t);

/* The offsets a closed task's store at dir/task-<partition> has reached:
 * next input offset per input and changelog offset per store (-1: none).
 * 0, or -1 with errstr. */
int jp_task_peek_offsets(const jp_task_env_t *env, const char *dir, int partition,
                         int64_t next[JP_INPUT__COUNT], int64_t changelog[JP_CF__COUNT],
                         char *errstr, size_t errstr_size);

int jp_task_partition(const jp_task_t *t);

/* Drops what the task cached from the validator's calendars (the draw
 * periods last found). Call before the validator of env is replaced and
 * freed (a reload of the countries). */
void jp_task_forget_calendars(jp_task_t *t);

/* Next offset to process per input (from the store; -1 if none yet). */
int64_t jp_task_next_offset(const jp_task_t *t, jp_input_t input);
/* Sets the position (e.g. the group's committed offset at assignment). */
void jp_task_set_next_offset(jp_task_t *t, jp_input_t input, int64_t offset);

/* The most records jp_task_process_batch takes per call. */
#define JP_TASK_BATCH_MAX 256

/*
 * Processes recs[0..n) in order, exactly as n calls of jp_task_process
 * would, and stores each record's result. Returns how many records were
 * handled: fewer than n when one's result is JP_TASK_RETRY or
 * JP_TASK_FAILED or JP_TASK_STOPPED (it is the last one handled; the records after it were not
 * looked at and must be offered again), or when n > JP_TASK_BATCH_MAX (the
 * first JP_TASK_BATCH_MAX are handled). Batching only saves time: the
 * records are decoded first and their customer ids tokenized together.
 */
size_t jp_task_process_batch(jp_task_t *t, jp_task_record_t *recs, size_t n,
                             jp_task_result_t *results);
/* Once per batch of the engine: processors apply their queued commands,
 * then facts the clock has passed are delivered. 0, or -1 (rewind). */
int jp_task_poll(jp_task_t *t);

/* One record: jp_task_process_batch with n = 1. */
jp_task_result_t jp_task_process(jp_task_t *t, jp_task_record_t *rec);

/* Commit, steps 1 and 4 of the commit protocol (docs/processor.md). prepare
 * writes the in-memory windows and metadata into the store's dirty set and
 * hands each dirty key to fn (the engine produces it to the changelog).
 * finish writes the batch with the changelog offsets now reached (-1:
 * unchanged). */
int jp_task_prepare_commit(jp_task_t *t, jp_store_dirty_cb fn, void *ctx, char *errstr,
                           size_t errstr_size);
int jp_task_finish_commit(jp_task_t *t, const int64_t changelog_offsets[JP_CF__COUNT], char *errstr,
                          size_t errstr_size);

/* Changelog offsets the local store has applied (-1: none). */
int64_t jp_task_changelog_offset(const jp_task_t *t, jp_cf_t cf);
/* Restore: applies one changelog record (val NULL: tombstone) without
 * producing it again; call jp_task_restore_done at the end. */
int jp_task_restore_record(jp_task_t *t, jp_cf_t cf, const void *key, size_t klen, const void *val,
                           size_t vlen, int64_t changelog_offset);
/* Restore: a changelog record beyond the commit point, not applied. Its
 * key is written again by the next commit (as the store holds it at the
 * commit point, or a tombstone), so that the changelog's latest record of
 * the key is a committed one again. */
int jp_task_restore_skip(jp_task_t *t, jp_cf_t cf, const void *key, size_t klen);
int jp_task_restore_done(jp_task_t *t, char *errstr, size_t errstr_size);

void jp_task_counts(const jp_task_t *t, jp_input_t input, jp_task_counts_t *out);

/* The repartition stream (jp_partition.h). Per input, in state like the
 * counts: repartitioned (records of this partition sent to their home),
 * received (copies applied, dead-lettered or found duplicate here) and
 * replays (copies skipped). Conservation per task and input:
 * consumed + received = applied + dead_lettered + duplicates + repartitioned. */
typedef struct jp_task_repartition_counts_s {
    int64_t repartitioned, received, replays;
} jp_task_repartition_counts_t;
void jp_task_repartition_counts(const jp_task_t *t, jp_input_t input,
                                jp_task_repartition_counts_t *out);
/* Copies removed from the task's repartition partition by retention
 * before they were read (state; their input is unknown). */
int64_t jp_task_repartition_lost(const jp_task_t *t);
/* Next offset of the task's partition of the repartition topic (-1: none). */
int64_t jp_task_repartition_offset(const jp_task_t *t);
void jp_task_set_repartition_offset(jp_task_t *t, int64_t offset);
int64_t jp_task_watermark(const jp_task_t *t, jp_input_t input);
/* Records of the input lost to retention before they were read (state). */
int64_t jp_task_lost(const jp_task_t *t, jp_input_t input);
/* The task's clock: the lowest input watermark (jp_proc.h); INT64_MIN
 * until every input has one. */
int64_t jp_task_clock(const jp_task_t *t);
/* The instance of processor i of the env on this task (NULL if it has none
 * or it failed to open). */
void *jp_task_proc_instance(const jp_task_t *t, size_t i);

/* The last closed window of a country and kind as a JSON object
 * (NUL-terminated, owned by the task), or NULL. */
const char *jp_task_last_features(const jp_task_t *t, const char *country, jp_window_kind_t kind);
/* Calls fn for every open window (for the admin endpoint). */
void jp_task_foreach_open_window(const jp_task_t *t, void (*fn)(void *, const jp_window_t *),
                                 void *ctx);

#endif
