/*
 * jp_engine_loop: jp_engine_run's loop. One consumer fetches every stream
 * partition of the tasks it owns (the inputs and, when on, the repartition
 * topic); each has its own queue (taken off the consumer queue when its
 * task is assigned), and a round hands every task up to JP_TASK_BATCH_MAX
 * records of each of its streams in turn, so no stream waits behind
 * another's backlog (a flood of sales does not hold customers, draws or
 * copies back: each gets its batch every round). When
 * a round finds nothing, the loop sleeps in poll(2) on a pipe that
 * librdkafka writes to as soon as any of those queues - or the consumer
 * queue, which carries rebalances and errors - gets something: no fixed
 * wait anywhere. A partition that has to be re-read (a transient registry
 * outage, a rewind) is sought back and its stale buffered records are
 * dropped until the wanted offset arrives.
 */
#include "jp_engine-internal.h"
#include "model/base/jp_err.h"

#include <poll.h>
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
    rd_kafka_t *rk = e->consumer;
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

/* Hands recs[0..n) - consecutive records of one partition and stream -
 * to their task in one call. A record that must be retried or that failed
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

/* Hands msgs[0..n) to their tasks in runs, in order, and frees them. */
static void hand_over_messages(jp_engine_t *e, rd_kafka_message_t **msgs, size_t n)
{
    jp_task_record_t recs[JP_TASK_BATCH_MAX];
    size_t run = 0;
    int run_stream = N_STREAMS;
    for (size_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = msgs[i];
        int in = m->err ? N_STREAMS : jp_engine_stream_of(e, rd_kafka_topic_name(m->rkt));
        if (run > 0 && (run == JP_TASK_BATCH_MAX || in != run_stream ||
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
    for (size_t i = 0; i < n; i++)
        rd_kafka_message_destroy(msgs[i]);
}

/* ---- input queues ---------------------------------------------------------------------- */

void jp_engine_queues_open(jp_engine_t *e, int p)
{
    for (int i = 0; i < jp_engine_n_streams(e); i++) {
        if (e->inq[p][i])
            continue;
        rd_kafka_queue_t *q =
            rd_kafka_queue_get_partition(e->consumer, jp_engine_stream_topic(e, i), p);
        if (!q)
            continue; /* its records then arrive on the consumer queue */
        /* Off the consumer queue for good (librdkafka keeps an application's
         * forwarding across later assignments), before it is assigned, so
         * no record of it ever lands on the consumer queue. */
        rd_kafka_queue_forward(q, NULL);
        rd_kafka_queue_io_event_enable(q, e->wake[1], "w", 1);
        e->inq[p][i] = q;
    }
}

void jp_engine_queues_close(jp_engine_t *e, int p)
{
    for (int i = 0; i < N_STREAMS; i++)
        if (e->inq[p][i]) {
            /* The wake-up stays with librdkafka's queue, not the handle. */
            rd_kafka_queue_io_event_enable(e->inq[p][i], -1, NULL, 0);
            rd_kafka_queue_destroy(e->inq[p][i]);
            e->inq[p][i] = NULL;
        }
}

void jp_engine_inputs_release(jp_engine_t *e)
{
    for (int p = 0; p < MAX_TASKS; p++)
        jp_engine_queues_close(e, p);
    if (e->cq) {
        rd_kafka_queue_io_event_enable(e->cq, -1, NULL, 0);
        rd_kafka_queue_destroy(e->cq);
        e->cq = NULL;
    }
    for (int i = 0; i < N_STREAMS; i++)
        if (e->rkt_in[i]) {
            rd_kafka_topic_destroy(e->rkt_in[i]);
            e->rkt_in[i] = NULL;
        }
}

/* One round: the consumer queue (rebalances, errors, and records of any
 * partition without a queue of its own), then up to JP_TASK_BATCH_MAX
 * records of every stream of every task. Returns the messages handled. */
static size_t fetch_round(jp_engine_t *e)
{
    size_t got = 0;
    rd_kafka_message_t *m, *msgs[JP_TASK_BATCH_MAX];
    while (!e->stop && (m = rd_kafka_consumer_poll(e->consumer, 0)) != NULL) {
        hand_over_messages(e, &m, 1);
        got++;
    }
    for (int p = 0; p < e->n_partitions && !e->stop; p++)
        for (int i = 0; i < N_STREAMS; i++) {
            /* Read each time: a rewind while handing over may reopen tasks. */
            if (!e->inq[p][i])
                continue;
            ssize_t n = rd_kafka_consume_batch_queue(e->inq[p][i], 0, msgs, JP_TASK_BATCH_MAX);
            if (n <= 0)
                continue;
            hand_over_messages(e, msgs, (size_t)n);
            got += (size_t)n;
        }
    return got;
}

/* Sleeps until a queue has something or timeout_ms pass. A queue that
 * got something since it was last served has written to the pipe (one
 * byte per quiet period: serving the queue re-arms it), so nothing is
 * missed between the round that found the queues empty and this wait. */
static void wait_for_input(jp_engine_t *e, int timeout_ms)
{
    struct pollfd pfd = {e->wake[0], POLLIN, 0};
    if (timeout_ms > 0 && poll(&pfd, 1, timeout_ms) <= 0)
        return;
    char buf[256];
    while (read(e->wake[0], buf, sizeof(buf)) > 0)
        ;
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
    rd_kafka_resp_err_t err = rd_kafka_subscribe(e->consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err) {
        jp_err_set(errstr, errstr_size, "subscribe: %s", rd_kafka_err2str(err));
        return -1;
    }
    e->last_commit_ms = jp_clock_now_ms();
    jp_engine_update_status(e);
    jp_store_count_reads(); /* the block cache hit ratio of this thread's reads */
    while (!e->stop) {
        size_t got = fetch_round(e);
        rd_kafka_poll(e->producer, 0);
        jp_engine_metrics_poll(e);
        poll_tasks(e);
        reseek_pending(e);
        int64_t due = e->last_commit_ms + e->cfg->processing.commit_interval_ms - jp_clock_now_ms();
        if (due <= 0)
            jp_engine_commit(e);
        else if (got == 0 && !e->stop)
            wait_for_input(e, (int)(due < IDLE_WAIT_MS ? due : IDLE_WAIT_MS));
    }
    jp_engine_shutdown(e);
    /* The status keeps the figures of the last commit: tasks are closed now. */
    if (e->exit_code) {
        snprintf(errstr, errstr_size, "%s", e->fatal_err);
        return -1;
    }
    return 0;
}
