/*
 * jp_engine_group: task ownership. The group decides which sales
 * partitions the consumer owns; its rebalance callback opens the tasks of
 * assigned ones (store, restore, positions) and adds their customers and
 * draws partitions - and their repartition topic partition, when it is on
 * - to the same consumer's assignment, and closes revoked or lost tasks
 * (committing first when the revocation is orderly), removing those
 * partitions. librdkafka's assignors balance topic-partitions
 * independently and cannot keep co-partitioned streams together;
 * assigning the others in the callback keeps one fetcher for all of a
 * task's streams (the group's bookkeeping only ever sees sales).
 */
#include "jp_engine-internal.h"
#include "model/base/jp_err.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/jp_clock.h"
#include "base/jp_log.h"

/* The group's commit point for the tasks of r[0..n): the committed offset
 * of every stream, and the changelog ends that commit point covers (from
 * the offsets' metadata; where streams disagree, after a commit that
 * reached only some of them, the lowest end per store). One request for
 * every task. */
static int read_commit_points(jp_engine_t *e, jp_engine_restore_t *r, int n, char *errstr,
                              size_t errstr_size)
{
    int ns = jp_engine_n_streams(e);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(ns * n);
    for (int k = 0; k < n; k++)
        for (int i = 0; i < ns; i++)
            rd_kafka_topic_partition_list_add(l, jp_engine_stream_topic(e, i),
                                              jp_task_partition(r[k].t));
    /* Short: a stop must not wait behind it (jp_engine_open_tasks retries). */
    rd_kafka_resp_err_t err =
        rd_kafka_committed(e->consumer, l, jp_engine_timeout(e, OPEN_COMMITTED_MS));
    for (int k = 0; !err && k < n; k++) {
        r[k].have_ends = 0;
        for (int i = 0; i < N_STREAMS; i++)
            r[k].committed[i] = -1;
        for (int i = 0; i < ns; i++) {
            const rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(
                l, jp_engine_stream_topic(e, i), jp_task_partition(r[k].t));
            int64_t ends[JP_CF__COUNT];
            r[k].committed[i] = tp && tp->offset >= 0 ? tp->offset : -1;
            if (!tp || tp->offset < 0 ||
                jp_engine_changelog_ends_parse(tp->metadata, tp->metadata_size, ends) != 0)
                continue;
            for (int cf = 0; cf < JP_CF__COUNT; cf++)
                if (!r[k].have_ends || ends[cf] < r[k].ends[cf])
                    r[k].ends[cf] = ends[cf];
            r[k].have_ends = 1;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (err)
        jp_err_set(errstr, errstr_size, "cannot read committed offsets: %s", rd_kafka_err2str(err));
    return err ? -1 : 0;
}

/* Opens the tasks of partitions ps[0..n): their stores, one restore of all
 * of them up to the group's commit point, their positions. On failure none
 * is left open. */
static int open_tasks_once(jp_engine_t *e, const int *ps, int n, char *errstr, size_t errstr_size)
{
    jp_engine_restore_t *r = calloc((size_t)n, sizeof(*r));
    if (!r) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return -1;
    }
    jp_task_t **ts = calloc((size_t)n, sizeof(*ts));
    int rc = ts ? jp_task_open_many(&e->env, e->serde, ps, (size_t)n, e->state_dir, ts, errstr,
                                    errstr_size)
                : -1;
    if (!ts)
        jp_err_set(errstr, errstr_size, "out of memory");
    int opened = rc == 0 ? n : 0;
    for (int k = 0; k < opened; k++)
        r[k].t = ts[k];
    free(ts);
    if (rc == 0)
        rc = read_commit_points(e, r, n, errstr, errstr_size);
    if (rc == 0) {
        e->restoring = 1;
        for (int k = 0; k < n; k++)
            for (int i = 0; i < jp_engine_n_streams(e); i++)
                jp_engine_set_stream_offset(r[k].t, i, r[k].committed[i]);
        rc = jp_engine_restore_tasks(e, r, n, errstr, errstr_size);
        for (int k = 0; rc == 0 && k < n; k++)
            rc = jp_task_restore_done(r[k].t, errstr, errstr_size);
        e->restoring = 0;
    }
    for (int k = 0; k < opened; k++) {
        if (rc != 0) {
            jp_task_close(r[k].t);
            continue;
        }
        int p = ps[k];
        e->tasks[p] = r[k].t;
        for (int i = 0; i < JP_CF__COUNT; i++)
            e->cl_reached[p][i] = jp_task_changelog_offset(r[k].t, (jp_cf_t)i);
        for (int i = 0; i < N_STREAMS; i++)
            e->rewind[p][i].want = WANT_NONE;
    }
    free(r);
    return rc;
}

/* Opening tasks reads the committed offsets and the changelogs, so it
 * fails while the coordinator or a partition leader is unreachable: a
 * broker restart must not stop the engine, so it retries until
 * REOPEN_DEADLINE_MS and only then gives up (the caller stops the engine). */
int jp_engine_open_tasks(jp_engine_t *e, const int *ps, int n, char *errstr, size_t errstr_size)
{
    if (n == 0)
        return 0;
    int64_t t0 = jp_clock_now_ms(), deadline = t0 + REOPEN_DEADLINE_MS;
    for (;;) {
        if (open_tasks_once(e, ps, n, errstr, errstr_size) == 0) {
            jp_log_info("engine", "%d task(s) opened in %.3f s", n,
                        (double)(jp_clock_now_ms() - t0) / 1000.0);
            return 0;
        }
        if (e->stop || jp_clock_now_ms() >= deadline)
            return -1;
        jp_log_warn("engine", "opening %d task(s): %s; retrying", n, errstr);
        usleep(REOPEN_BACKOFF_MS * 1000);
    }
}

/* ---- assignment ------------------------------------------------------------------------- */

/* Adds customers-p, draws-p and (when on) repartition-p of task p to l,
 * at the task's positions (add) or to be removed. */
static void add_extras(jp_engine_t *e, rd_kafka_topic_partition_list_t *l, int p, int add)
{
    for (int i = JP_INPUT_CUSTOMERS; i < jp_engine_n_streams(e); i++) {
        int64_t off = add ? jp_engine_stream_offset(e->tasks[p], i) : -1;
        rd_kafka_topic_partition_list_add(l, jp_engine_stream_topic(e, i), p)->offset =
            off >= 0 ? off : RD_KAFKA_OFFSET_BEGINNING;
    }
}

void jp_engine_close_task(jp_engine_t *e, int p)
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

void jp_engine_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    jp_engine_t *e = opaque;
    char errstr[512];
    int64_t t0 = jp_clock_now_ms();
    const char *event = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assign"
                        : rd_kafka_assignment_lost(rk)              ? "lost"
                                                                    : "revoke";
    /* NULL while the consumer closes outside a group generation. */
    const char *proto = rd_kafka_rebalance_protocol(rk);
    int coop = proto && strcmp(proto, "COOPERATIVE") == 0;
    /* The group's partitions plus the other inputs of the tasks opened or
     * closed here: assigned or removed together, incrementally. Replacing
     * the whole assignment of the cooperative protocol would stop and
     * restart every partition's fetcher at each rebalance, and back-to-back
     * stops trip a race in librdkafka's assignment teardown
     * (confluentinc/librdkafka#5573, fixed upstream in 2026; Debian 12
     * ships 2.0.2). */
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_error_t *aerr = NULL;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        /* The new tasks open together: one request for their commit
         * points, one for their changelogs' watermarks, one restore. */
        int ps[MAX_TASKS], n = 0;
        unsigned char fresh[MAX_TASKS] = {0};
        for (int i = 0; i < l->cnt; i++) {
            int p = l->elems[i].partition;
            /* Stopping: no task is opened any more. */
            if (p >= 0 && p < e->n_partitions && !e->tasks[p] && !fresh[p] && !e->stop) {
                fresh[p] = 1;
                ps[n++] = p;
            }
        }
        jp_log_info("engine", "assigned %d new task(s)", n);
        if (jp_engine_open_tasks(e, ps, n, errstr, sizeof(errstr)) != 0) {
            jp_log_error("engine", "tasks: %s", errstr);
            e->stop = 1;
        }
        for (int i = 0, n0 = l->cnt; i < n0; i++) { /* the group's; extras are appended */
            int p = l->elems[i].partition;
            if (p < 0 || p >= e->n_partitions || !e->tasks[p])
                continue;
            if (fresh[p]) {
                int64_t off = jp_task_next_offset(e->tasks[p], JP_INPUT_SALES);
                l->elems[i].offset = off >= 0 ? off : RD_KAFKA_OFFSET_BEGINNING;
                jp_engine_queues_open(e, p);
                jp_log_info("engine", "task %d assigned", p);
            }
            /* An eager assignment replaces the whole one: every task's
             * inputs again; a cooperative one adds what is new. */
            if (!coop || !e->extras[p]) {
                add_extras(e, l, p, 1);
                e->extras[p] = 1;
            }
        }
        if (coop)
            aerr = rd_kafka_incremental_assign(rk, l);
        else
            rd_kafka_assign(rk, l);
    } else {
        int lost = rd_kafka_assignment_lost(rk);
        if (!lost)
            jp_engine_commit(e);
        int n = l->cnt;
        for (int i = 0; i < n; i++) {
            int p = l->elems[i].partition;
            if (p >= e->n_partitions)
                continue;
            if (e->tasks[p]) {
                jp_engine_close_task(e, p);
                jp_log_info("engine", "task %d %s", p, lost ? "lost" : "revoked");
            }
            jp_engine_queues_close(e, p);
            if (e->extras[p]) {
                add_extras(e, l, p, 0);
                e->extras[p] = 0;
            }
        }
        if (coop)
            aerr = rd_kafka_incremental_unassign(rk, l);
        else
            rd_kafka_assign(rk, NULL);
    }
    if (aerr) {
        jp_log_warn("engine", "%s: %s",
                    err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assign" : "unassign",
                    rd_kafka_error_string(aerr));
        rd_kafka_error_destroy(aerr);
    }
    rd_kafka_topic_partition_list_destroy(l);
    count_tasks(e);
    jp_engine_metrics_rebalance(e, event, jp_clock_now_ms() - t0);
}
