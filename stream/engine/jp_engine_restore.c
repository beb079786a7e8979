/*
 * jp_engine_restore: rebuilding a task's store from its changelogs up to
 * the group's commit point (see "On assignment" in jp_engine.h). Runs on
 * the engine thread with the restorer, a group-less consumer assigned to
 * the task's changelog partitions only while it restores.
 */
#include "jp_engine-internal.h"
#include "model/base/jp_err.h"

#include <stdio.h>
#include <string.h>

#include "base/jp_clock.h"
#include "base/jp_log.h"
#include "model/base/jp_endian.h"

/* ---- restore ------------------------------------------------------------------------- */

/* Stream offsets from a changelog record's header; -1 if absent. A header
 * of the inputs only (written without a repartition stream) leaves the
 * repartition stream's at -1. */
static int header_offsets(const rd_kafka_message_t *m, int64_t out[N_STREAMS])
{
    rd_kafka_headers_t *h;
    const void *v;
    size_t n;
    if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, HDR_OFFSETS, &v, &n) ||
        (n != 8 * JP_INPUT__COUNT && n != 8 * N_STREAMS))
        return -1;
    out[JP_STREAM_REPARTITION] = -1;
    for (size_t i = 0; i < n / 8; i++)
        out[i] = (int64_t)jp_be64_get((const uint8_t *)v + 8 * i);
    return 0;
}

/* The store whose changelog topic is `topic`, -1 if none. */
static int changelog_cf_of(const jp_engine_t *e, const char *topic)
{
    for (size_t i = 0; i < N_CHANGELOG; i++)
        if (strcmp(topic, e->changelog[jp_engine_changelog_cfs[i]]) == 0)
            return (int)jp_engine_changelog_cfs[i];
    return -1;
}

/* Restores task t from every changelog it is missing records of, in one
 * assignment of those partitions: a restore per store paid the consumer's
 * assign-to-first-fetch latency once per store. Records of different
 * stores interleave; each store's order is kept, which is all the restore
 * needs (stores are independent). */
int jp_engine_restore_task(jp_engine_t *e, jp_task_t *t, const int64_t committed[N_STREAMS],
                           char *errstr, size_t errstr_size)
{
    int p = jp_task_partition(t);
    int64_t from[JP_CF__COUNT], hi[JP_CF__COUNT], last[JP_CF__COUNT];
    int64_t applied[JP_CF__COUNT] = {0}, skipped[JP_CF__COUNT] = {0}, total = 0, done = 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(N_CHANGELOG);
    for (size_t i = 0; i < N_CHANGELOG; i++) {
        jp_cf_t cf = jp_engine_changelog_cfs[i];
        int64_t lo;
        rd_kafka_resp_err_t err = jp_engine_watermarks(e, e->restorer, e->changelog[cf], p, &lo,
                                                       &hi[cf], REQUEST_TIMEOUT_MS);
        if (err) {
            jp_err_set(errstr, errstr_size, "changelog %s [%d]: %s", e->changelog[cf], p,
                       rd_kafka_err2str(err));
            rd_kafka_topic_partition_list_destroy(l);
            return -1;
        }
        from[cf] = jp_task_changelog_offset(t, cf) + 1;
        if (from[cf] < lo) {
            if (from[cf] > 0)
                jp_log_warn("engine",
                            "changelog %s [%d] starts at %lld, the store needs %lld: records were "
                            "removed by retention",
                            e->changelog[cf], p, (long long)lo, (long long)from[cf]);
            from[cf] = lo;
        }
        last[cf] = from[cf] - 1;
        if (from[cf] >= hi[cf])
            continue;
        jp_log_info("engine", "task %d: restoring %s from %s offsets %lld..%lld", p, jp_cf_name(cf),
                    e->changelog[cf], (long long)from[cf], (long long)hi[cf] - 1);
        rd_kafka_topic_partition_list_add(l, e->changelog[cf], p)->offset = from[cf];
        total += hi[cf] - from[cf];
    }
    if (!l->cnt) {
        rd_kafka_topic_partition_list_destroy(l);
        return 0;
    }
    rd_kafka_assign(e->restorer, l);
    rd_kafka_topic_partition_list_destroy(l);
    int rc = 0;
    int64_t deadline = jp_clock_now_ms() + RESTORE_DEADLINE_MS;
    while (done < total && rc == 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(e->restorer, RESTORE_POLL_MS);
        if (!m) {
            if (e->stop) {
                jp_err_set(errstr, errstr_size, "restore of task %d interrupted by a stop", p);
                rc = -1;
            } else if (jp_clock_now_ms() > deadline) {
                jp_err_set(errstr, errstr_size, "restore of task %d stalled (%lld of %lld records)",
                           p, (long long)done, (long long)total);
                rc = -1;
            }
            continue;
        }
        int cf = m->err ? -1 : changelog_cf_of(e, rd_kafka_topic_name(m->rkt));
        if (cf >= 0 && m->partition == p && m->offset > last[cf] && m->offset < hi[cf]) {
            int64_t offs[N_STREAMS];
            int beyond = 0;
            /* committed -1 (nothing committed for that input yet) is a
             * limit too: a record that saw any of that input belongs to
             * a batch whose commit failed. */
            if (header_offsets(m, offs) == 0)
                for (int i = 0; i < jp_engine_n_streams(e); i++)
                    beyond |= offs[i] > (committed[i] >= 0 ? committed[i] : -1);
            if (beyond) {
                skipped[cf]++;
            } else if (jp_task_restore_record(t, (jp_cf_t)cf, m->key, m->key_len, m->payload,
                                              m->len, m->offset) != 0) {
                jp_err_set(errstr, errstr_size, "cannot write restored state");
                rc = -1;
            } else {
                applied[cf]++;
            }
            done += m->offset - last[cf];
            last[cf] = m->offset;
            if (done % RESTORE_PROGRESS_EVERY == 0)
                jp_gauge_set(e->restore_progress, (double)done / (double)total);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(e->restorer, NULL);
    jp_gauge_set(e->restore_progress, 1);
    for (size_t i = 0; i < N_CHANGELOG; i++) {
        jp_cf_t cf = jp_engine_changelog_cfs[i];
        if (from[cf] >= hi[cf])
            continue;
        jp_counter_add(e->restored_records, (uint64_t)applied[cf]);
        jp_log_info("engine",
                    "task %d: restored %lld %s records, skipped %lld beyond the commit point", p,
                    (long long)applied[cf], jp_cf_name(cf), (long long)skipped[cf]);
    }
    return rc;
}
