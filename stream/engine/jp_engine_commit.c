/*
 * jp_engine_commit: the commit protocol of jp_engine.h (changelog, flush,
 * offsets, state) and the rewind to the last commit point that every
 * failed step falls back to. A country reload is swapped in here, between
 * two commits, never within a batch.
 *
 * Changelog records are the state keys alone (no header). What a restore
 * needs to tell committed records from the rest travels with the commit
 * point itself: the offsets committed at step 3 carry, as their metadata,
 * the changelog offset each of the task's stores had reached at step 2
 * (jp_engine_changelog_ends). See docs/processor.md for why that is enough,
 * compaction included.
 */
#include "jp_engine-internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/jp_clock.h"
#include "base/jp_log.h"

/* ---- commit ------------------------------------------------------------------------------ */

#define ENDS_TAG "jp.changelog"

size_t jp_engine_changelog_ends_format(const jp_engine_t *e, int p, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "%s", ENDS_TAG);
    for (size_t i = 0; i < N_CHANGELOG && n < size; i++) {
        jp_cf_t cf = jp_engine_changelog_cfs[i];
        n += (size_t)snprintf(buf + n, size - n, " %s=%" PRId64, jp_cf_name(cf),
                              e->cl_reached[p][cf]);
    }
    return n < size ? n : size - 1;
}

int jp_engine_changelog_ends_parse(const void *md, size_t len, int64_t ends[JP_CF__COUNT])
{
    char buf[512];
    if (!md || len < sizeof(ENDS_TAG) - 1 || len >= sizeof(buf) ||
        memcmp(md, ENDS_TAG, sizeof(ENDS_TAG) - 1) != 0)
        return -1;
    memcpy(buf, md, len);
    buf[len] = '\0';
    for (int cf = 0; cf < JP_CF__COUNT; cf++)
        ends[cf] = -1; /* a store the commit did not name has nothing committed */
    char *save = NULL;
    for (char *tok = strtok_r(buf + sizeof(ENDS_TAG) - 1, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq)
            return -1;
        *eq = '\0';
        char *end;
        long long v = strtoll(eq + 1, &end, 10);
        if (*end)
            return -1;
        for (int cf = 0; cf < JP_CF__COUNT; cf++)
            if (strcmp(tok, jp_cf_name((jp_cf_t)cf)) == 0)
                ends[cf] = v;
    }
    return 0;
}

typedef struct {
    jp_engine_t *e;
    int p;
    int failed;
} changelog_ctx_t;

static int changelog_cb(void *ctx, int cf, const void *key, size_t klen, const void *val,
                        size_t vlen)
{
    changelog_ctx_t *c = ctx;
    if (jp_engine_produce(c->e, c->e->rkt_changelog[cf], c->p, key, klen, val, val ? vlen : 0, NULL,
                          jp_engine_changelog_opaque(c->p, cf)) != 0) {
        c->failed = 1;
        return -1;
    }
    return 0;
}

/* Swaps in the validator of the last reload, if any. It happens between
 * commits, never within a batch; every task drops the calendar pointers it
 * cached from the old validator first, so the old one can go at once,
 * however many reloads there are. */
static void apply_reload(jp_engine_t *e)
{
    pthread_mutex_lock(&e->status_lock);
    jp_validator_t *nv = e->pending_validator;
    e->pending_validator = NULL;
    pthread_mutex_unlock(&e->status_lock);
    if (!nv)
        return;
    for (int p = 0; p < e->n_partitions; p++)
        if (e->tasks[p])
            jp_task_forget_calendars(e->tasks[p]);
    jp_validator_free(e->validator);
    e->validator = nv;
    e->env.validator = nv;
    jp_log_info("engine", "country configurations reloaded");
}

/* The protocol of jp_engine.h; 0, or -1 after rewinding every task. */
int jp_engine_commit(jp_engine_t *e)
{
    char errstr[512];
    int64_t t0 = jp_clock_now_ms();
    int any = 0;
    if (e->no_more_commits)
        return -1;
    e->delivery_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    /* (1) changelog records of every dirty key */
    for (int p = 0; p < e->n_partitions; p++) {
        jp_task_t *t = e->tasks[p];
        if (!t)
            continue;
        any = 1;
        changelog_ctx_t c = {e, p, 0};
        if (jp_task_prepare_commit(t, changelog_cb, &c, errstr, sizeof(errstr)) != 0 || c.failed) {
            jp_engine_rewind_all(e, "changelog could not be produced");
            return -1;
        }
    }
    /* (2) everything queued so far is delivered, or nothing is committed */
    rd_kafka_resp_err_t ferr = jp_engine_flush(e, COMMIT_FLUSH_MS);
    if (ferr || e->delivery_err) {
        jp_engine_rewind_all(e, rd_kafka_err2str(ferr ? ferr : e->delivery_err));
        return -1;
    }
    if (!any) {
        apply_reload(e);
        e->last_commit_ms = jp_clock_now_ms();
        /* no task (any more): readiness and the figures say so */
        jp_engine_update_status(e);
        jp_engine_metrics_commit(e, e->last_commit_ms, jp_engine_ready(e));
        return 0;
    }
    /* (3) the commit point: input offsets, and the changelog ends they
     * cover as metadata (on each input, so any committed one tells) */
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(N_STREAMS * e->n_partitions);
    for (int p = 0; p < e->n_partitions; p++) {
        char ends[512];
        size_t n = e->tasks[p] ? jp_engine_changelog_ends_format(e, p, ends, sizeof(ends)) : 0;
        for (int i = 0; e->tasks[p] && i < jp_engine_n_streams(e); i++) {
            int64_t off = jp_engine_stream_offset(e->tasks[p], i);
            if (off < 0)
                continue;
            rd_kafka_topic_partition_t *tp =
                rd_kafka_topic_partition_list_add(l, jp_engine_stream_topic(e, i), p);
            tp->offset = off;
            tp->metadata = malloc(n);
            if (tp->metadata) {
                memcpy(tp->metadata, ends, n);
                tp->metadata_size = n;
            }
        }
    }
    rd_kafka_resp_err_t cerr = l->cnt ? jp_engine_commit_offsets(e, l) : RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_topic_partition_list_destroy(l);
    if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        jp_engine_rewind_all(e, rd_kafka_err2str(cerr));
        return -1;
    }
    /* (4) state + offsets, atomically per task */
    for (int p = 0; p < e->n_partitions; p++)
        if (e->tasks[p] &&
            jp_task_finish_commit(e->tasks[p], e->cl_reached[p], errstr, sizeof(errstr)) != 0) {
            /* The commit point is passed: the next assignment restores the
             * missing batch from the changelog. Rewinding does exactly that. */
            jp_engine_rewind_all(e, errstr);
            return -1;
        }
    apply_reload(e);
    int64_t t1 = jp_clock_now_ms();
    jp_histogram_observe(e->commit_latency, (double)(t1 - t0) / 1000.0);
    jp_counter_add(e->commits, 1);
    /* The interval runs from commit start to commit start: a record waits
     * at most one interval plus one commit for its commit point, however
     * long commits take (from their ends, it waited two commits). */
    e->last_commit_ms = t0;
    jp_engine_update_status(e);
    jp_engine_metrics_commit(e, t1, jp_engine_ready(e));
    return 0;
}

/* Every task back to the last commit point: stores reopened (dropping what
 * was not committed), restored from the changelog where the local batch is
 * missing (all in one restore), and every input partition sought back. */
void jp_engine_rewind_all(jp_engine_t *e, const char *why)
{
    char errstr[512];
    if (e->stop) {
        /* Stopping: the tasks close with the work since the last commit
         * dropped (it is read again at the next start). */
        jp_log_warn("engine", "stopping without committing: %s", why);
        e->no_more_commits = 1;
        rd_kafka_purge(e->producer, RD_KAFKA_PURGE_F_QUEUE);
        return;
    }
    jp_log_warn("engine", "rewinding every task to the last commit: %s", why);
    jp_counter_add(e->rewinds, 1);
    jp_engine_metrics_rewound(e);
    rd_kafka_purge(e->producer, RD_KAFKA_PURGE_F_QUEUE);
    rd_kafka_flush(e->producer, FLUSH_TIMEOUT_MS);
    int ps[MAX_TASKS], n = 0;
    for (int p = 0; p < e->n_partitions; p++)
        if (e->tasks[p]) {
            jp_engine_close_task(e, p);
            ps[n++] = p;
        }
    if (jp_engine_open_tasks(e, ps, n, errstr, sizeof(errstr)) != 0) {
        jp_log_error("engine", "tasks: %s", errstr);
        e->stop = 1;
    }
    for (int k = 0; k < n; k++)
        for (int i = 0; e->tasks[ps[k]] && i < jp_engine_n_streams(e); i++)
            jp_engine_seek_back(e, ps[k], i, jp_engine_stream_offset(e->tasks[ps[k]], i));
    e->delivery_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    usleep(REWIND_PAUSE_MS * 1000);
}
