/*
 * jp_engine_deadline: a stop must end the process within
 * processing.shutdown_grace whatever the cluster does - unreachable, or a
 * broker killed mid-run. librdkafka's blocking calls (flush, synchronous
 * commit, consumer close, watermark queries) wait on their own timeouts of
 * up to minutes, so every call on the shutdown path takes its timeout from
 * here: its normal value while running, what is left of the grace once
 * jp_engine_stop was called. Long waits are cut into short slices so that
 * a stop arriving in the middle of one (a commit flushing when SIGTERM
 * comes) is noticed at once.
 *
 * Giving up is safe: a commit that does not reach its commit point leaves
 * the committed offsets and state where they were, and the next start
 * reads the records since then again (at least once); nothing committed is
 * lost. The Kafka share of the grace leaves a fifth of it for closing the
 * stores and the admin server. Destroying a librdkafka handle can itself
 * wait on broker threads; once the grace is short it runs on a thread of
 * its own that the engine stops waiting for at nine tenths of the grace
 * (the process is ending: the handle's memory is all it leaves behind).
 */
#include "jp_engine-internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/jp_clock.h"
#include "base/jp_log.h"

#define SLICE_MS       100
#define QUERY_SLICE_MS 500 /* offset queries: each slice is a request */

void jp_engine_stop(jp_engine_t *e)
{
    int64_t zero = 0;
    atomic_compare_exchange_strong(&e->stop_at_ms, &zero, jp_clock_now_ms());
    e->stop = 1;
    /* Wake the loop if it sleeps: write(2) is async-signal-safe, and a
     * full pipe means it is awake already. */
    if (e->wake[1] >= 0 && write(e->wake[1], "s", 1) < 0) {
        /* nothing to do */
    }
}

int jp_engine_exit_code(const jp_engine_t *e)
{
    return e->exit_code;
}

void jp_engine_fail(jp_engine_t *e, int code, const char *fmt, ...)
{
    if (!e->exit_code) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->fatal_err, sizeof(e->fatal_err), fmt, ap);
        va_end(ap);
        e->exit_code = code;
        jp_log_error("engine", "%s", e->fatal_err);
    }
    jp_engine_stop(e);
}

/* Milliseconds left of the Kafka share of the grace; -1 while running. */
static int64_t left_ms(jp_engine_t *e)
{
    int64_t at = atomic_load(&e->stop_at_ms);
    if (!e->stop || !at)
        return -1;
    int64_t left = at + e->cfg->processing.shutdown_grace_ms * 4 / 5 - jp_clock_now_ms();
    return left > 0 ? left : 0;
}

int jp_engine_timeout(jp_engine_t *e, int normal_ms)
{
    int64_t left = left_ms(e);
    return left < 0 || left > normal_ms ? normal_ms : (int)left;
}

/* The next slice (ms, >= 0) of a wait that ends at `until`: at most
 * max_ms, and no longer than what is left of a stop's grace. */
static int slice_of(jp_engine_t *e, int64_t until, int max_ms)
{
    int64_t left = until - jp_clock_now_ms();
    int slice = jp_engine_timeout(e, (int)(left < max_ms ? left : max_ms));
    return slice > 0 ? slice : 0;
}

/* Whether a sliced wait that ends at `until` is over (or the grace is). */
static int gave_up(jp_engine_t *e, int64_t until)
{
    return jp_clock_now_ms() >= until || left_ms(e) == 0;
}

rd_kafka_resp_err_t jp_engine_flush(jp_engine_t *e, int timeout_ms)
{
    int64_t until = jp_clock_now_ms() + timeout_ms;
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_flush(e->producer, slice_of(e, until, SLICE_MS));
        if (err != RD_KAFKA_RESP_ERR__TIMED_OUT || gave_up(e, until))
            return err;
    }
}

rd_kafka_resp_err_t jp_engine_commit_offsets(jp_engine_t *e,
                                             const rd_kafka_topic_partition_list_t *offsets)
{
    /* 60 s: the longest a commit is waited for while running (librdkafka
     * retries within it). */
    int64_t until = jp_clock_now_ms() + 60000;
    rd_kafka_queue_t *q = rd_kafka_queue_new(e->consumer);
    rd_kafka_resp_err_t err = rd_kafka_commit_queue(e->consumer, offsets, q, NULL, NULL);
    while (!err) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, slice_of(e, until, SLICE_MS));
        if (ev) {
            if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_OFFSET_COMMIT) {
                err = rd_kafka_event_error(ev);
                const rd_kafka_topic_partition_list_t *l = rd_kafka_event_topic_partition_list(ev);
                for (int i = 0; !err && l && i < l->cnt; i++)
                    err = l->elems[i].err;
                rd_kafka_event_destroy(ev);
                break;
            }
            rd_kafka_event_destroy(ev);
        } else if (gave_up(e, until)) {
            err = RD_KAFKA_RESP_ERR__TIMED_OUT;
        }
    }
    rd_kafka_queue_destroy(q);
    return err;
}

typedef struct {
    rd_kafka_t *rk;
    int flags;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done, abandoned;
} destroy_job_t;

static void destroy_job_free(destroy_job_t *j)
{
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->cond);
    free(j);
}

static void *destroy_main(void *arg)
{
    destroy_job_t *j = arg;
    rd_kafka_destroy_flags(j->rk, j->flags);
    pthread_mutex_lock(&j->lock);
    j->done = 1;
    int abandoned = j->abandoned;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->lock);
    if (abandoned)
        destroy_job_free(j);
    return NULL;
}

void jp_engine_destroy_handle(jp_engine_t *e, rd_kafka_t *rk, int flags)
{
    int64_t at = atomic_load(&e->stop_at_ms);
    destroy_job_t *j = at ? calloc(1, sizeof(*j)) : NULL;
    pthread_t th;
    if (j) {
        j->rk = rk;
        j->flags = flags;
        pthread_mutex_init(&j->lock, NULL);
        pthread_cond_init(&j->cond, NULL);
    }
    if (!j || pthread_create(&th, NULL, destroy_main, j) != 0) {
        if (j)
            destroy_job_free(j);
        rd_kafka_destroy_flags(rk, flags);
        return;
    }
    int64_t until = at + e->cfg->processing.shutdown_grace_ms * 9 / 10;
    pthread_mutex_lock(&j->lock);
    while (!j->done) {
        int64_t left = until - jp_clock_now_ms();
        if (left <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (left % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&j->cond, &j->lock, &ts);
    }
    int done = j->done;
    j->abandoned = !done;
    pthread_mutex_unlock(&j->lock);
    if (done) {
        pthread_join(th, NULL);
        destroy_job_free(j);
    } else {
        jp_log_warn("engine", "a Kafka client did not shut down within the grace; left behind");
        pthread_detach(th);
    }
}

rd_kafka_resp_err_t jp_engine_watermarks(jp_engine_t *e, rd_kafka_t *rk, const char *topic,
                                         int partition, int64_t *lo, int64_t *hi, int timeout_ms)
{
    int64_t until = jp_clock_now_ms() + timeout_ms;
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
            rk, topic, partition, lo, hi, slice_of(e, until, QUERY_SLICE_MS));
        if (err != RD_KAFKA_RESP_ERR__TIMED_OUT || gave_up(e, until))
            return err;
    }
}

rd_kafka_resp_err_t jp_engine_offsets_for_times(jp_engine_t *e, rd_kafka_t *rk,
                                                rd_kafka_topic_partition_list_t *l, int64_t which,
                                                int timeout_ms)
{
    int64_t until = jp_clock_now_ms() + timeout_ms;
    for (;;) {
        /* Each attempt asks afresh: a timed-out one may have answered some
         * partitions already. */
        for (int i = 0; i < l->cnt; i++)
            l->elems[i].offset = which;
        rd_kafka_resp_err_t err =
            rd_kafka_offsets_for_times(rk, l, slice_of(e, until, QUERY_SLICE_MS));
        if (err != RD_KAFKA_RESP_ERR__TIMED_OUT || gave_up(e, until))
            return err;
    }
}

void jp_engine_close_consumer(jp_engine_t *e, rd_kafka_t *rk)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_error_t *err = rd_kafka_consumer_close_queue(rk, q);
    int closed = 0;
    if (err) {
        jp_log_warn("engine", "consumer close: %s", rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
    } else {
        /* The revocation arrives here as an event; the rebalance callback
         * handles it as a plain close would have. Fetched messages and
         * errors still queued are dropped. */
        int64_t until = jp_clock_now_ms() + 30000;
        while (!(closed = rd_kafka_consumer_closed(rk))) {
            int64_t now = jp_clock_now_ms();
            if (now >= until || left_ms(e) == 0)
                break;
            rd_kafka_event_t *ev = rd_kafka_queue_poll(q, jp_engine_timeout(e, SLICE_MS));
            if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
                jp_engine_rebalance_cb(rk, rd_kafka_event_error(ev),
                                       rd_kafka_event_topic_partition_list(ev), e);
            if (ev)
                rd_kafka_event_destroy(ev);
        }
    }
    rd_kafka_queue_destroy(q);
    if (!closed)
        jp_log_warn("engine", "the consumer did not close within the shutdown grace");
    jp_engine_destroy_handle(e, rk, closed ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    jp_log_debug("engine", "consumer destroyed");
}

void jp_engine_shutdown(jp_engine_t *e)
{
    if (!atomic_load(&e->stop_at_ms))
        jp_engine_stop(e); /* an unrecoverable error: the same grace */
    jp_engine_commit(e);
    jp_log_debug("engine", "shutdown: last commit done; leaving the group");
    /* librdkafka wants the queue handles gone before the consumer closes;
     * leaving the group then revokes (and commits) the tasks. */
    jp_engine_inputs_release(e);
    jp_engine_close_consumer(e, e->consumer);
    e->consumer = NULL;
    for (int p = 0; p < e->n_partitions; p++)
        if (e->tasks[p])
            jp_engine_close_task(e, p);
    jp_log_debug("engine", "shutdown: tasks closed; flushing");
    if (jp_engine_flush(e, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_purge(e->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT |
                                        RD_KAFKA_PURGE_F_NON_BLOCKING);
}
