/*
 * jp_engine_group: task ownership. The group member's rebalance callback
 * opens the tasks of assigned sales partitions (store, restore, positions)
 * and closes revoked or lost ones, committing first when the revocation
 * is orderly; the follower consumer's assignment of the tasks' customers
 * and draws partitions (and repartition partition) follows incrementally.
 */
#include "jp_engine-internal.h"
#include "model/base/jp_err.h"

#include <string.h>
#include <unistd.h>

#include "base/jp_clock.h"
#include "base/jp_log.h"

/* Opens task p: its store, a restore up to the group's committed offsets,
 * and its positions. */
static jp_task_t *open_task_once(jp_engine_t *e, int p, char *errstr, size_t errstr_size)
{
    jp_task_t *t = jp_task_open(&e->env, e->serde, p, e->state_dir, errstr, errstr_size);
    if (!t)
        return NULL;
    int ns = jp_engine_n_streams(e);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(ns);
    for (int i = 0; i < ns; i++)
        rd_kafka_topic_partition_list_add(l, jp_engine_stream_topic(e, i), p);
    /* Short: a stop must not wait behind it (jp_engine_open_task retries). */
    rd_kafka_resp_err_t err =
        rd_kafka_committed(e->leader, l, jp_engine_timeout(e, OPEN_COMMITTED_MS));
    int64_t committed[N_STREAMS] = {-1, -1, -1, -1};
    for (int i = 0; i < ns; i++)
        committed[i] = err ? -1 : l->elems[i].offset < 0 ? -1 : l->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        jp_err_set(errstr, errstr_size, "cannot read committed offsets: %s", rd_kafka_err2str(err));
        jp_task_close(t);
        return NULL;
    }
    e->restoring = 1;
    for (int i = 0; i < ns; i++)
        jp_engine_set_stream_offset(t, i, committed[i]);
    int rc = 0;
    rc = jp_engine_restore_task(e, t, committed, errstr, errstr_size);
    if (rc == 0)
        rc = jp_task_restore_done(t, errstr, errstr_size);
    e->restoring = 0;
    if (rc != 0) {
        jp_task_close(t);
        return NULL;
    }
    for (int i = 0; i < JP_CF__COUNT; i++)
        e->cl_reached[p][i] = jp_task_changelog_offset(t, (jp_cf_t)i);
    for (int i = 0; i < N_STREAMS; i++)
        e->rewind[p][i].want = WANT_NONE;
    return t;
}

/* Opening a task reads the committed offsets and the changelogs, so it
 * fails while the coordinator or a partition leader is unreachable: a
 * broker restart must not stop the engine, so it retries until
 * REOPEN_DEADLINE_MS and only then gives up (the caller stops the engine). */
jp_task_t *jp_engine_open_task(jp_engine_t *e, int p, char *errstr, size_t errstr_size)
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

/* The follower's customers-p / draws-p (and repartition-p) for the task
 * partitions in parts,
 * added (at the tasks' positions) or removed incrementally: replacing the
 * whole assignment would stop and restart every partition's fetcher at
 * each rebalance, and back-to-back stops trip a race in librdkafka's
 * assignment teardown (confluentinc/librdkafka#5573, fixed upstream in
 * 2026; Debian 12 ships 2.0.2). */
static void follower_update(jp_engine_t *e, const rd_kafka_topic_partition_list_t *parts, int add)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(3 * parts->cnt);
    for (int k = 0; k < parts->cnt; k++) {
        int p = parts->elems[k].partition;
        if (p < 0 || p >= e->n_partitions || (add && !e->tasks[p]))
            continue;
        for (int i = JP_INPUT_CUSTOMERS; i < jp_engine_n_streams(e); i++) {
            int64_t off = add ? jp_engine_stream_offset(e->tasks[p], i) : -1;
            rd_kafka_topic_partition_list_add(l, jp_engine_stream_topic(e, i), p)->offset =
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
    jp_engine_hand_over_polled(e);
    /* NULL while the consumer closes outside a group generation. */
    const char *proto = rd_kafka_rebalance_protocol(rk);
    int coop = proto && strcmp(proto, "COOPERATIVE") == 0;
    /* The tasks opened or closed here: their follower inputs follow. */
    rd_kafka_topic_partition_list_t *changed = rd_kafka_topic_partition_list_new(parts->cnt);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++) {
            int p = parts->elems[i].partition;
            if (p >= e->n_partitions || e->tasks[p] || e->stop)
                continue; /* stopping: no task is opened any more */
            rd_kafka_topic_partition_list_add(changed, e->topics[JP_INPUT_SALES], p);
            e->tasks[p] = jp_engine_open_task(e, p, errstr, sizeof(errstr));
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
            jp_engine_commit(e);
        for (int i = 0; i < parts->cnt; i++) {
            int p = parts->elems[i].partition;
            if (p < e->n_partitions && e->tasks[p]) {
                rd_kafka_topic_partition_list_add(changed, e->topics[JP_INPUT_SALES], p);
                jp_engine_close_task(e, p);
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
    jp_engine_metrics_rebalance(e, event, jp_clock_now_ms() - t0);
}
