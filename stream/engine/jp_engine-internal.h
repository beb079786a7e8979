/*
 * jp_engine-internal: the engine's shared state and the functions its
 * files call across each other (engine room only; jp_engine.h is the
 * public contract).
 *
 * One thread owns two librdkafka handles - the consumer (the group
 * member: subscribed to the sales topic, and assigned by the engine the
 * customers, draws and repartition partitions of every task it owns, so
 * one fetcher reads every stream) and the producer (outputs, dead letters, changelogs) -
 * plus a third, group-less consumer used only while restoring. Every
 * field below belongs to that thread except `stop` (any thread, signal
 * handlers) and what status_lock guards (the admin thread).
 *
 * The files, one job each:
 *   jp_engine.c          set-up (clients, topics, metrics), reload, free
 *   jp_engine_io.c       producing: task outputs, dead letters, delivery reports
 *   jp_engine_group.c    rebalance, task open (with restore) and close
 *   jp_engine_restore.c  a task's store rebuilt from its changelogs
 *   jp_engine_commit.c   the commit protocol and the rewind to the last commit
 *   jp_engine_loop.c     jp_engine_run: polling, handing records over, seeks
 *   jp_engine_status.c   record counters, lag, the status JSON and totals
 *   jp_engine_repartition.c  the repartition topic: copies out, the stream in
 *   jp_engine_metrics.c  operators' metrics: producer, rebalances, RocksDB,
 *                        event-time lag, end-to-end latency, readiness
 *   jp_engine_dlq.c      dead letters: encrypted, truncated when too large
 *   jp_engine_identity.c refusing state written against another cluster or topic
 *   jp_engine_gaps.c     input records removed by retention before they were read
 *   jp_engine_deadline.c the shutdown deadline every Kafka call on that path keeps
 *
 * Streams. A task reads its three input partitions and, when mispartitioned
 * records are repartitioned, its partition of the repartition topic: stream
 * JP_STREAM_REPARTITION, after the inputs. Queues, positions, rewinds,
 * commits and restores treat the four alike (jp_engine_stream_*).
 */
#ifndef JP_ENGINE_INTERNAL_H
#define JP_ENGINE_INTERNAL_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/jp_dlq.h"
#include "engine/jp_engine.h"
#include "registry/jp_registry_client.h"

#define MAX_TASKS 1024
/* Changelog stores in use, in jp_topics_changelog_stores' order (the names
 * are the column families'; jp_engine_new checks they agree). */
#define N_CHANGELOG 7
extern const jp_cf_t jp_engine_changelog_cfs[N_CHANGELOG];
/* The input-offsets header of changelog records written before the
 * changelog ends travelled with the commit point (read by restores). */
#define HDR_OFFSETS "jp.input.offsets"

/* Waits and deadlines (ms). Kafka calls that block get a bound so that an
 * unreachable broker stalls the engine thread for a known time at most. */
#define REOPEN_DEADLINE_MS    120000 /* a task that cannot open by then stops the engine */
#define REOPEN_BACKOFF_MS     500
#define RESEEK_AFTER_MS       2000 /* a rewind's first record not seen by then: seek again */
#define IDLE_WAIT_MS          100  /* the loop's longest sleep when no input arrives */
#define METADATA_TIMEOUT_MS   15000
#define CREATE_TOPICS_WAIT_MS 10000
#define REQUEST_TIMEOUT_MS    10000 /* committed offsets, seeks, changelog watermarks */
#define SEEK_TIMEOUT_MS       2000  /* a seek back: bounded by what is left of a stop's grace */
#define OPEN_COMMITTED_MS                                                                          \
    2000                              /* a task's committed offsets: short, so a stop never waits  \
                                         behind it (jp_engine_open_tasks retries) */
#define WATERMARK_TIMEOUT_MS    5000  /* resolving "the beginning" of an input partition */
#define COMMIT_FLUSH_MS         60000 /* step 2 of the commit: everything delivered */
#define FLUSH_TIMEOUT_MS        10000 /* after a rewind's purge, and at shutdown */
#define FREE_FLUSH_MS           5000
#define QUEUE_FULL_WAIT_MS      100    /* producer queue full: serve deliveries, retry */
#define REWIND_PAUSE_MS         200    /* let a transient broker fault pass before retrying */
#define REGISTRY_RETRY_PAUSE_MS 500    /* schema registry unavailable: offer the record later */
#define RESTORE_DEADLINE_MS     120000 /* a restore still waiting for records by then fails */
#define RESTORE_POLL_MS         500
#define RESTORE_PROGRESS_EVERY  1000 /* records between updates of the progress gauge */

/* The task's streams: the inputs, then the repartition topic's partition. */
#define JP_STREAM_REPARTITION JP_INPUT__COUNT
#define N_STREAMS             (JP_INPUT__COUNT + 1)
/* /readyz turns not ready after this many rewinds without a commit. */
#define STALL_REWINDS 3

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
    rd_kafka_t *consumer, *producer, *restorer;
    /* Each input partition of an owned task has its own queue, taken off
     * the consumer queue, so the loop serves the inputs in turn (see
     * jp_engine_loop.c); every queue, the consumer queue included, wakes
     * the loop through the pipe wake[]. extras[p]: customers-p and
     * draws-p (and repartition-p) are in the consumer's assignment. */
    rd_kafka_queue_t *cq, *inq[MAX_TASKS][N_STREAMS];
    /* The consumer's handles on the streams' topics: their metadata stays
     * known, so a partition is fetched as soon as it is assigned (the
     * group subscription alone would know only sales). */
    rd_kafka_topic_t *rkt_in[N_STREAMS];
    unsigned char extras[MAX_TASKS];
    int wake[2];
    int cooperative;
    int n_partitions;
    const char *topics[JP_INPUT__COUNT];
    char dlq[JP_INPUT__COUNT][300];
    char changelog[JP_CF__COUNT][300];
    /* Producer topic handles, made once: producing by name looks the topic
     * up under a lock for every record. */
    rd_kafka_topic_t *rkt_dlq[JP_INPUT__COUNT], *rkt_changelog[JP_CF__COUNT], *rkt_features;
    rd_kafka_topic_t *rkt_out[JP_OUTPUT__COUNT];
    jp_avro_buf_t key_buf; /* an output key in the Avro format */
    jp_registry_client_t *registry;
    jp_serde_t *serde;
    jp_pii_t *pii;
    jp_validator_t *validator;
    jp_task_env_t env;
    jp_task_t *tasks[MAX_TASKS];
    rewind_t rewind[MAX_TASKS][N_STREAMS];
    int64_t cl_reached[MAX_TASKS][JP_CF__COUNT];
    rd_kafka_resp_err_t delivery_err;
    volatile sig_atomic_t stop;
    _Atomic int64_t stop_at_ms; /* when jp_engine_stop was called (monotonic) */
    int no_more_commits;        /* a commit failed while stopping: close without committing */
    int exit_code;              /* set with fatal_err when the engine must stop (sysexits) */
    char fatal_err[512];
    int64_t last_commit_ms;
    int restoring;
    /* dead letters */
    jp_dlq_key_t *dlq_key;
    size_t dlq_max_bytes; /* the producer's message.max.bytes */
    /* retention gaps: the expected offset last reported per task and input */
    int64_t gap_reported[MAX_TASKS][N_STREAMS];
    jp_validator_t *pending_validator; /* set by a reload, swapped in at a commit */
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
    uint64_t rewinds_at_commit; /* the rewinds counter at the last commit */
    jp_engine_totals_t totals;
    int64_t windows_closed;
    /* the repartition topic (jp_engine_repartition.c); "" when off */
    char repartition[300];
    rd_kafka_topic_t *rkt_repartition;
    jp_counter_t *repartition_invalid;
    /* operators' metrics (jp_engine_metrics.c) */
    struct jp_engine_metrics_s *om;
};

/* ---- jp_engine_io.c ---- */
/* jp_engine_produce_at without logging: the producer's error (hdrs are
 * destroyed on error). */
rd_kafka_resp_err_t jp_engine_produce_rc(jp_engine_t *e, rd_kafka_topic_t *rkt, int partition,
                                         const void *key, size_t klen, const void *val, size_t vlen,
                                         rd_kafka_headers_t *hdrs, void *opaque,
                                         int64_t timestamp_ms);
/* Changelog records carry (task, store) in their opaque. */
void *jp_engine_changelog_opaque(int p, jp_cf_t cf);
/* The producer's delivery report (opaque: the engine). */
void jp_engine_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
/* Queues one record, waiting while the queue is full; takes hdrs. 0 or -1. */
int jp_engine_produce(jp_engine_t *e, rd_kafka_topic_t *rkt, int partition, const void *key,
                      size_t klen, const void *val, size_t vlen, rd_kafka_headers_t *hdrs,
                      void *opaque);
/* The same with the record's timestamp (0: now). */
int jp_engine_produce_at(jp_engine_t *e, rd_kafka_topic_t *rkt, int partition, const void *key,
                         size_t klen, const void *val, size_t vlen, rd_kafka_headers_t *hdrs,
                         void *opaque, int64_t timestamp_ms);
/* The key an output record of rkt carries (topics.output_key_format): key
 * itself, or framed Avro in the engine's buffer (valid until the next
 * call). 0, or -1 if the key schema cannot be registered. */
int jp_engine_output_key(jp_engine_t *e, rd_kafka_topic_t *rkt, const void *key, size_t len,
                         const void **out, size_t *out_len);
/* A copy of the headers of rec's message (room for `extra` more when it
 * has none), for a record produced on its behalf; the caller adds to it. */
rd_kafka_headers_t *jp_engine_record_headers(const jp_task_record_t *rec, size_t extra);
/* jp_task_io_t hooks (ctx: the engine). */
int jp_engine_io_features(void *ctx, int partition, const char *key, const void *value, size_t len);
int jp_engine_io_emit(void *ctx, int partition, jp_output_t topic, const char *key, size_t key_len,
                      const void *value, size_t len);

/* ---- jp_engine_group.c ---- */
/* The group member's rebalance callback (opaque: the engine). */
void jp_engine_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *parts, void *opaque);
/* Opens the tasks of partitions ps[0..n) together (stores, one restore,
 * positions) into e->tasks, retrying while Kafka is unreachable, up to
 * REOPEN_DEADLINE_MS. 0, or -1 with errstr (none of them open). */
int jp_engine_open_tasks(jp_engine_t *e, const int *ps, int n, char *errstr, size_t errstr_size);
void jp_engine_close_task(jp_engine_t *e, int p);

/* ---- jp_engine_restore.c ---- */
/* A task about to be restored, and the group's commit point for it. */
typedef struct {
    jp_task_t *t;
    int64_t committed[N_STREAMS]; /* next offset per stream, -1: none committed */
    int64_t ends[JP_CF__COUNT];   /* changelog ends the commit point covers */
    int have_ends; /* 0: no commit point records them (none yet, or an older engine's) */
} jp_engine_restore_t;
/* Restores the tasks of r[0..n) from their changelogs, in one assignment of
 * every changelog partition they miss records of: the records up to each
 * store's committed end are applied, those beyond are skipped (and their
 * keys written again by the next commit). 0, or -1 with errstr. */
int jp_engine_restore_tasks(jp_engine_t *e, jp_engine_restore_t *r, int n, char *errstr,
                            size_t errstr_size);

/* ---- jp_engine_commit.c ---- */
/* The protocol of jp_engine.h; 0, or -1 after rewinding every task. */
int jp_engine_commit(jp_engine_t *e);
/* The changelog ends of task p (the highest offset reached per store) as
 * the metadata of its committed offsets; the length written. */
size_t jp_engine_changelog_ends_format(const jp_engine_t *e, int p, char *buf, size_t size);
/* Reads them back; -1 if md is not such metadata (then ends is unset). */
int jp_engine_changelog_ends_parse(const void *md, size_t len, int64_t ends[JP_CF__COUNT]);
/* Every task back to the last commit point. */
void jp_engine_rewind_all(jp_engine_t *e, const char *why);

/* ---- jp_engine_loop.c ---- */
/* Seeks stream i of task p back to off (< 0: the beginning). */
void jp_engine_seek_back(jp_engine_t *e, int p, int i, int64_t off);
/* Takes the queues of task p's stream partitions (inputs and repartition
 * topic) off the consumer queue (before they are assigned), or gives them
 * back. */
void jp_engine_queues_open(jp_engine_t *e, int p);
void jp_engine_queues_close(jp_engine_t *e, int p);
/* Before the consumer closes (librdkafka wants its queue and topic handles
 * gone first): every input queue, the consumer queue's wake-up and the
 * input topic handles. */
void jp_engine_inputs_release(jp_engine_t *e);

/* ---- jp_engine_repartition.c ---- */
/* Names the repartition topic (e->repartition, "" when off). */
void jp_engine_repartition_init(jp_engine_t *e);
/* How many streams a task reads: the inputs, plus the repartition topic's
 * partition when it is on. */
int jp_engine_n_streams(const jp_engine_t *e);
/* The topic of stream s. */
const char *jp_engine_stream_topic(const jp_engine_t *e, int s);
/* The stream of a topic, or N_STREAMS if it is none of the task's. */
int jp_engine_stream_of(const jp_engine_t *e, const char *topic);
/* Next offset of stream s of task t (-1: none), and setting it. */
int64_t jp_engine_stream_offset(const jp_task_t *t, int s);
void jp_engine_set_stream_offset(jp_task_t *t, int s, int64_t off);
/* The task's view of message m of stream s; 0, or -1 for a copy without a
 * readable source header (counted, logged; it is skipped). */
int jp_engine_stream_record(jp_engine_t *e, const rd_kafka_message_t *m, int s,
                            jp_task_record_t *out);
/* jp_task_io_t's repartition hook (ctx: the engine). */
int jp_engine_io_repartition(void *ctx, int partition, int home, const jp_task_record_t *rec);

/* ---- jp_engine_metrics.c ---- */
/* Creates every family (zero) at start; 0 or -1. */
int jp_engine_metrics_init(jp_engine_t *e);
void jp_engine_metrics_free(jp_engine_t *e);
/* Per commit (engine thread): RocksDB, event-time lag, readiness, and the
 * end-to-end latency of the records the commit covered. */
void jp_engine_metrics_commit(jp_engine_t *e, int64_t commit_ms, int ready);
/* Every record handed to a task (for the end-to-end latency). */
void jp_engine_metrics_record(jp_engine_t *e, int64_t timestamp_ms);
/* Records handed over since the last commit are not committed (rewind);
 * readiness is updated (STALL_REWINDS). */
void jp_engine_metrics_rewound(jp_engine_t *e);
/* A rebalance callback took duration_ms. */
void jp_engine_metrics_rebalance(jp_engine_t *e, const char *event, int64_t duration_ms);
/* A delivery failed; the loop's sample of the producer queue. */
void jp_engine_metrics_delivery_error(jp_engine_t *e);
void jp_engine_metrics_poll(jp_engine_t *e);
/* ---- jp_engine_dlq.c ---- */
/* jp_task_io_t's dead-letter hook (ctx: the engine). */
int jp_engine_io_dead_letter(void *ctx, int partition, const jp_task_record_t *rec,
                             const char *error_class, const char *message);
/* From the delivery report: 1 if m is a dead letter the broker refused as
 * too large and a stub was queued in its place (not a failure). */
int jp_engine_dlq_refused(jp_engine_t *e, const rd_kafka_message_t *m);
/* jackpot_dead_letters_truncated_total of input's dead-letter topic. */
jp_counter_t *jp_engine_dlq_truncated_counter(jp_engine_t *e, int input);

/* ---- jp_engine_identity.c ---- */
/* Compares the state directory with the cluster and topics (cluster id,
 * and each task store's offsets against the topics' ends); discards the
 * state first when reset. 0, or -1 with errstr and *exit_code (78). */
int jp_engine_check_identity(jp_engine_t *e, int reset, int *exit_code, char *errstr,
                             size_t errstr_size);

/* ---- jp_engine_gaps.c ---- */
/* jp_task_io_t's gap hook (ctx: the engine). */
int64_t jp_engine_io_gap(void *ctx, int partition, const jp_task_record_t *rec, int64_t expected);
/* jackpot_input_records_lost_total of (topic, partition). */
jp_counter_t *jp_engine_lost_counter(jp_engine_t *e, const char *topic, int partition);

/* ---- jp_engine_deadline.c ---- */
/* normal_ms, or what is left of the shutdown grace once stopping (>= 0). */
int jp_engine_timeout(jp_engine_t *e, int normal_ms);
/* rd_kafka_flush within jp_engine_timeout(timeout_ms), giving up as soon
 * as a stop's grace runs out. */
rd_kafka_resp_err_t jp_engine_flush(jp_engine_t *e, int timeout_ms);
/* rd_kafka_query_watermark_offsets in short slices within timeout_ms,
 * giving up as soon as a stop's grace runs out. */
rd_kafka_resp_err_t jp_engine_watermarks(jp_engine_t *e, rd_kafka_t *rk, const char *topic,
                                         int partition, int64_t *lo, int64_t *hi, int timeout_ms);
/* The offset `which` (RD_KAFKA_OFFSET_BEGINNING or _END: a watermark) of
 * every partition of l, into its offset, by rd_kafka_offsets_for_times (one
 * request per broker) in the same slices. */
rd_kafka_resp_err_t jp_engine_offsets_for_times(jp_engine_t *e, rd_kafka_t *rk,
                                                rd_kafka_topic_partition_list_t *l, int64_t which,
                                                int timeout_ms);
/* The synchronous offset commit, within the same deadline. */
rd_kafka_resp_err_t jp_engine_commit_offsets(jp_engine_t *e,
                                             const rd_kafka_topic_partition_list_t *offsets);
/* After the poll loop: the last commit, leaving the group (revoking and
 * closing the tasks), the producer's last deliveries - all within the
 * shutdown grace. */
void jp_engine_shutdown(jp_engine_t *e);
/* rd_kafka_destroy_flags, given up on (the handle left to a thread of its
 * own) past nine tenths of the grace once stopping. */
void jp_engine_destroy_handle(jp_engine_t *e, rd_kafka_t *rk, int flags);
/* Closes and destroys a consumer within the grace. */
void jp_engine_close_consumer(jp_engine_t *e, rd_kafka_t *rk);
/* Records a fatal condition: the engine stops and exits with code. */
void jp_engine_fail(jp_engine_t *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- jp_engine_status.c ---- */
/* The records counter of (input, what, reason); what and reason are
 * string constants (compared by address). NULL if metrics failed. */
jp_counter_t *jp_engine_counter(jp_engine_t *e, jp_input_t input, const char *what,
                                const char *reason);
/* The consumer-lag gauge of stream s of partition p (NULL if metrics
 * failed). */
jp_gauge_t *jp_engine_lag_gauge(jp_engine_t *e, int p, int s);
/* jp_task_io_t's count hook (ctx: the engine). */
void jp_engine_io_count(void *ctx, jp_input_t input, const char *what, const char *reason);
/* jp_task_io_t's end_offset hook (ctx: the engine): the high watermark
 * librdkafka last saw for input partition p, or the broker's when
 * ask_broker (one second at most); -1 if none. */
int64_t jp_engine_io_end_offset(void *ctx, int partition, jp_input_t input, int ask_broker);
/* Rebuilds the status snapshot (engine thread). */
void jp_engine_update_status(jp_engine_t *e);

#endif
