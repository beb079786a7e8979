/*
 * jp_engine_loop: jp_engine_run's poll loop. Messages of the group member
 * and the follower are handed to their tasks in runs of one partition and
 * stream (an input, or the repartition topic), in offset order per
 * partition; a partition that has to be re-read
 * (a transient registry outage, a rewind) is sought back and its stale
 * buffered records are dropped until the wanted offset arrives.
 */
#include "jp_engine-internal.h"
#include "model/base/jp_err.h"

#include <string.h>
#include <unistd.h>

#include "base/jp_clock.h"
#include "base/jp_log.h"

/* Seeks stream i of task p back to `off` (< 0: the beginning) and drops
 * records until that offset arrives. The beginning is resolved to the low
 * watermark first: a stale record fetched before the seek must not pass for
 * the first record of the partition. Unresolved (broker unreachable), every
 * record is dropped and reseek_pending() tries again. */
void jp_engine_seek_back(jp_engine_t *e, int p, int i, int64_t off)
{
    rd_kafka_t *rk = i == JP_INPUT_SALES ? e->leader : e->follower;
    const char *topic = jp_engine_stream_topic(e, i);
    if (off < 0) {
        int64_t lo = -1, hi = -1;
        rd_kafka_resp_err_t qerr =
            jp_engine_watermarks(e, rk, topic, p, &lo, &hi, WATERMARK_TIMEOUT_MS);
        off = qerr || lo < 0 ? WANT_UNRESOLVED : lo;
    }
    e->rewind[p][i].want = off;
    e->rewind[p][i].last_seek_ms = jp_clock_now_ms();
    if (off == WANT_UNRESOLVED)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, p)->offset = off;
    rd_kafka_error_t *err = rd_kafka_seek_partitions(rk, l, jp_engine_timeout(e, SEEK_TIMEOUT_MS));
    if (err) {
        jp_log_warn("engine", "seek %s [%d]: %s", topic, p, rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* A seek issued while a broker was down, or one whose fetch position was
 * already at the end of the partition, may deliver no record at all, so
 * waiting for a stale record to notice it would wait forever. */
static void reseek_pending(jp_engine_t *e)
{
    int64_t now = jp_clock_now_ms();
    for (int p = 0; p < e->n_partitions; p++)
        for (int i = 0; e->tasks[p] && i < jp_engine_n_streams(e); i++)
            if (e->rewind[p][i].want != WANT_NONE &&
                now - e->rewind[p][i].last_seek_ms > RESEEK_AFTER_MS)
                jp_engine_seek_back(e, p, i, e->rewind[p][i].want);
}

/* ---- the loop ------------------------------------------------------------------------------ */

/* Whether a message of stream `in` goes to a task. Drops errors, unknown
 * topics or partitions, and messages fetched before a pending seek took
 * effect. */
static int admit(jp_engine_t *e, const rd_kafka_message_t *m, int in)
{
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            jp_log_warn("engine", "consumer: %s", rd_kafka_message_errstr(m));
        return 0;
    }
    int p = m->partition;
    if (in == N_STREAMS || p < 0 || p >= e->n_partitions || !e->tasks[p])
        return 0;
    rewind_t *rw = &e->rewind[p][in];
    if (rw->want != WANT_NONE) {
        if (m->offset != rw->want) {
            /* Stale: fetched before the seek. A seek issued while the
             * partition was being (re)assigned may not have taken effect:
             * issue it again rather than wait for an offset that will not
             * come. */
            if (jp_clock_now_ms() - rw->last_seek_ms > RESEEK_AFTER_MS / 4)
                jp_engine_seek_back(e, p, in, rw->want);
            return 0;
        }
        rw->want = WANT_NONE;
    }
    return 1;
}

/* Hands recs[0..n) - consecutive records of one partition and stream - to
 * their task in one call. A record that must be retried or that failed
 * ends the run: the records after it are fetched again after the seek
 * (the same stream, so the seek covers them). */
static void hand_over(jp_engine_t *e, int stream, jp_task_record_t *recs, size_t n)
{
    if (n == 0)
        return;
    const rd_kafka_message_t *first = recs[0].origin;
    int p = first->partition;
    jp_task_result_t res[JP_TASK_BATCH_MAX];
    size_t done = jp_task_process_batch(e->tasks[p], recs, n, res);
    for (size_t i = 0; i < done; i++) {
        if (res[i] == JP_TASK_RETRY) {
            jp_log_warn("engine", "%s [%d] offset %lld: schema registry unavailable, retrying",
                        jp_engine_stream_topic(e, stream), p, (long long)recs[i].offset);
            jp_engine_seek_back(e, p, stream, recs[i].offset);
            usleep(REGISTRY_RETRY_PAUSE_MS * 1000);
        } else if (res[i] == JP_TASK_FAILED) {
            jp_engine_rewind_all(e, "a record's outputs could not be queued");
        } else if (res[i] != JP_TASK_SKIPPED && res[i] != JP_TASK_STOPPED &&
                   !recs[i].via_repartition) {
            /* copies are counted as received by the task */
            jp_counter_add(jp_engine_counter(e, recs[i].input, "consumed", "ALL"), 1);
        }
        if (res[i] != JP_TASK_SKIPPED && res[i] != JP_TASK_RETRY && res[i] != JP_TASK_FAILED &&
            res[i] != JP_TASK_STOPPED)
            jp_engine_metrics_record(e, recs[i].timestamp_ms);
    }
}

/* Hands the polled messages to their tasks in runs, in the order polled,
 * and frees them. */
void jp_engine_hand_over_polled(jp_engine_t *e)
{
    jp_task_record_t recs[JP_TASK_BATCH_MAX];
    size_t run = 0;
    int run_stream = N_STREAMS;
    for (size_t i = 0; i < e->n_polled; i++) {
        rd_kafka_message_t *m = e->polled[i];
        int in = m->err ? N_STREAMS : jp_engine_stream_of(e, rd_kafka_topic_name(m->rkt));
        if (run > 0 && (in != run_stream ||
                        m->partition != ((const rd_kafka_message_t *)recs[0].origin)->partition)) {
            hand_over(e, run_stream, recs, run);
            run = 0;
        }
        if (!admit(e, m, in) || jp_engine_stream_record(e, m, in, &recs[run]) != 0)
            continue;
        run_stream = in;
        run++;
    }
    hand_over(e, run_stream, recs, run);
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
            jp_engine_hand_over_polled(e);
    }
    jp_engine_hand_over_polled(e);
}

/* Processors' commands and the facts their clock has passed. */
static void poll_tasks(jp_engine_t *e)
{
    for (int p = 0; p < e->n_partitions; p++)
        if (e->tasks[p] && jp_task_poll(e->tasks[p]) != 0) {
            jp_engine_rewind_all(e, "a processor's outputs could not be queued");
            return;
        }
}

int jp_engine_run(jp_engine_t *e, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, e->topics[JP_INPUT_SALES], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(e->leader, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err) {
        jp_err_set(errstr, errstr_size, "subscribe: %s", rd_kafka_err2str(err));
        return -1;
    }
    e->last_commit_ms = jp_clock_now_ms();
    jp_engine_update_status(e);
    jp_store_count_reads(); /* the block cache hit ratio of this thread's reads */
    while (!e->stop) {
        drain(e, e->leader, POLL_WAIT_MS, 1);
        drain(e, e->follower, 0, POLL_ROUND_MAX);
        drain(e, e->leader, 0, POLL_ROUND_MAX);
        rd_kafka_poll(e->producer, 0);
        jp_engine_metrics_poll(e);
        poll_tasks(e);
        reseek_pending(e);
        if (jp_clock_now_ms() - e->last_commit_ms >= e->cfg->processing.commit_interval_ms)
            jp_engine_commit(e);
    }
    jp_engine_shutdown(e);
    /* The status keeps the figures of the last commit: tasks are closed now. */
    if (e->exit_code) {
        snprintf(errstr, errstr_size, "%s", e->fatal_err);
        return -1;
    }
    return 0;
}
