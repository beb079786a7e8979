/*
 * jp_engine_restore: rebuilding the stores of the tasks being opened from
 * their changelogs up to the group's commit point (see "On assignment" in
 * jp_engine.h). Runs on the engine thread with the restorer, a group-less
 * consumer assigned to the tasks' changelog partitions only while it
 * restores. Every task opened by one assignment (or rewind) is restored
 * together: one request for the watermarks of all their changelog
 * partitions, one assignment of the restorer, one read.
 */
#include "jp_engine-internal.h"
#include "model/base/jp_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jp_clock.h"
#include "base/jp_log.h"
#include "model/base/jp_endian.h"

/* Changelog records taken from the restorer per call. */
#define RESTORE_POLL_BATCH 1024

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

/* One changelog partition to read: store cf of task r[k]. */
typedef struct {
    int k;
    jp_cf_t cf;
    int64_t from, hi, last; /* read [from, hi); last: the highest offset seen */
    int64_t applied, skipped;
} slot_t;

/* The watermarks of every changelog partition in l (offset in: which
 * one, RD_KAFKA_OFFSET_BEGINNING or _END; out: the offset), in one request
 * per broker. */
static int watermarks(jp_engine_t *e, rd_kafka_topic_partition_list_t *l, int64_t which,
                      char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t err =
        jp_engine_offsets_for_times(e, e->restorer, l, which, REQUEST_TIMEOUT_MS);
    for (int i = 0; !err && i < l->cnt; i++)
        if (l->elems[i].err)
            err = l->elems[i].err;
    if (err)
        jp_err_set(errstr, errstr_size, "changelog watermarks: %s", rd_kafka_err2str(err));
    return err ? -1 : 0;
}

/* Whether a changelog record is beyond the commit point of its task. */
static int beyond_commit(const jp_engine_restore_t *r, jp_cf_t cf, const rd_kafka_message_t *m)
{
    if (r->have_ends)
        return m->offset > r->ends[cf];
    /* A commit point from before changelog ends were recorded: records
     * carry their task's input offsets. committed -1 (nothing committed for
     * that input yet) is a limit too: a record that saw any of that input
     * belongs to a batch whose commit failed. No header: written by an
     * engine that records ends, whose first commit never completed. */
    int64_t offs[N_STREAMS];
    if (header_offsets(m, offs) != 0)
        return 1;
    for (int i = 0; i < N_STREAMS; i++)
        if (offs[i] > (r->committed[i] >= 0 ? r->committed[i] : -1))
            return 1;
    return 0;
}

/* Plans what to read: per task and store, from the local store's changelog
 * offset (or the log start, after retention) to the high watermark. One
 * request per broker for the low watermarks and one for the high ones,
 * for every store of every task. */
static int plan(jp_engine_t *e, jp_engine_restore_t *r, int n, slot_t *slots, int *n_slots,
                char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *lo = rd_kafka_topic_partition_list_new(n * N_CHANGELOG);
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < N_CHANGELOG; i++)
            rd_kafka_topic_partition_list_add(lo, e->changelog[jp_engine_changelog_cfs[i]],
                                              jp_task_partition(r[k].t));
    rd_kafka_topic_partition_list_t *hi = rd_kafka_topic_partition_list_copy(lo);
    int rc = watermarks(e, lo, RD_KAFKA_OFFSET_BEGINNING, errstr, errstr_size) == 0 &&
                     watermarks(e, hi, RD_KAFKA_OFFSET_END, errstr, errstr_size) == 0
                 ? 0
                 : -1;
    *n_slots = 0;
    for (int k = 0; rc == 0 && k < n; k++) {
        int p = jp_task_partition(r[k].t);
        for (size_t i = 0; i < N_CHANGELOG; i++) {
            jp_cf_t cf = jp_engine_changelog_cfs[i];
            const char *topic = e->changelog[cf];
            int64_t low = rd_kafka_topic_partition_list_find(lo, topic, p)->offset;
            int64_t high = rd_kafka_topic_partition_list_find(hi, topic, p)->offset;
            int64_t from = jp_task_changelog_offset(r[k].t, cf) + 1;
            if (from < low) {
                /* An empty store too: a changelog's log start moves only
                 * by retention (compaction keeps it), so its state is lost. */
                jp_log_warn("engine",
                            "changelog %s [%d] starts at %lld, the store needs %lld: records "
                            "were removed by retention",
                            topic, p, (long long)low, (long long)from);
                from = low;
            }
            if (from >= high)
                continue;
            jp_log_info("engine", "task %d: restoring %s from %s offsets %lld..%lld", p,
                        jp_cf_name(cf), topic, (long long)from, (long long)high - 1);
            slots[(*n_slots)++] = (slot_t){k, cf, from, high, from - 1, 0, 0};
        }
    }
    rd_kafka_topic_partition_list_destroy(lo);
    rd_kafka_topic_partition_list_destroy(hi);
    return rc;
}

/* The read of a restore: where each message goes, and how far it got. */
typedef struct {
    jp_engine_t *e;
    jp_engine_restore_t *r;
    slot_t *slots;
    const int *by, *at; /* see jp_engine_restore_tasks */
    const rd_kafka_topic_t *last_rkt;
    int last_cf;  /* the store of last_rkt's records */
    int64_t done; /* offsets read past, over every slot */
} reader_t;

/* Applies or skips one changelog record. 0, or -1 with errstr. */
static int restore_one(reader_t *rd, const rd_kafka_message_t *m, char *errstr, size_t errstr_size)
{
    if (m->err)
        return 0;
    if (m->rkt != rd->last_rkt) {
        rd->last_rkt = m->rkt;
        rd->last_cf = changelog_cf_of(rd->e, rd_kafka_topic_name(m->rkt));
    }
    int k = rd->last_cf < 0 || m->partition < 0 || m->partition >= rd->e->n_partitions
                ? -1
                : rd->at[m->partition];
    int at = k < 0 ? -1 : rd->by[k * JP_CF__COUNT + rd->last_cf];
    slot_t *s = at < 0 ? NULL : &rd->slots[at];
    if (!s || m->offset <= s->last || m->offset >= s->hi)
        return 0;
    jp_task_t *t = rd->r[k].t;
    int rc = 0;
    if (beyond_commit(&rd->r[k], s->cf, m)) {
        if (jp_task_restore_skip(t, s->cf, m->key, m->key_len) != 0) {
            jp_err_set(errstr, errstr_size, "out of memory");
            rc = -1;
        }
        s->skipped++;
    } else if (jp_task_restore_record(t, s->cf, m->key, m->key_len, m->payload, m->len,
                                      m->offset) != 0) {
        jp_err_set(errstr, errstr_size, "cannot write restored state");
        rc = -1;
    } else {
        s->applied++;
    }
    rd->done += m->offset - s->last;
    s->last = m->offset;
    return rc;
}

/* Restores every task of r from every changelog partition it is missing
 * records of, in one assignment of those partitions: a restore per task,
 * or per store, paid the consumer's assign-to-first-fetch latency each
 * time. Records of different partitions interleave; each partition's
 * order is kept, which is all the restore needs (stores are independent).
 * A record at or below its store's committed end is applied; one beyond it
 * belongs to a commit that never reached its commit point and is skipped,
 * its key remembered so the next commit writes it again (see "State and
 * the commit protocol" in docs/processor.md). */
int jp_engine_restore_tasks(jp_engine_t *e, jp_engine_restore_t *r, int n, char *errstr,
                            size_t errstr_size)
{
    /* slots; by[k * JP_CF__COUNT + cf]: the slot of (task k, store cf) or
     * -1; at[p]: the task of partition p or -1 */
    slot_t *slots = calloc((size_t)n * N_CHANGELOG, sizeof(*slots));
    int *by = malloc(((size_t)n * JP_CF__COUNT + (size_t)e->n_partitions) * sizeof(*by));
    int *at = by ? by + (size_t)n * JP_CF__COUNT : NULL;
    int n_slots = 0, rc = 0;
    int64_t t0 = jp_clock_now_ms();
    if (!slots || !by) {
        jp_err_set(errstr, errstr_size, "out of memory");
        rc = -1;
    } else if (plan(e, r, n, slots, &n_slots, errstr, errstr_size) != 0) {
        rc = -1;
    }
    if (rc != 0 || n_slots == 0) {
        free(slots);
        free(by);
        return rc;
    }
    for (int i = 0; i < n * JP_CF__COUNT; i++)
        by[i] = -1;
    for (int p = 0; p < e->n_partitions; p++)
        at[p] = -1;
    for (int k = 0; k < n; k++)
        at[jp_task_partition(r[k].t)] = k;
    int64_t total = 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n_slots);
    for (int i = 0; i < n_slots; i++) {
        by[slots[i].k * JP_CF__COUNT + slots[i].cf] = i;
        rd_kafka_topic_partition_list_add(l, e->changelog[slots[i].cf],
                                          jp_task_partition(r[slots[i].k].t))
            ->offset = slots[i].from;
        total += slots[i].hi - slots[i].from;
    }
    rd_kafka_assign(e->restorer, l);
    rd_kafka_topic_partition_list_destroy(l);
    int64_t t_loop = jp_clock_now_ms(), deadline = t_loop + RESTORE_DEADLINE_MS;
    reader_t rd = {e, r, slots, by, at, NULL, -1, 0};
    /* Messages in batches from the restorer's queue: a poll per message
     * cost more than applying most of them. */
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(e->restorer);
    rd_kafka_message_t *msgs[RESTORE_POLL_BATCH];
    while (rd.done < total && rc == 0) {
        ssize_t got =
            q ? rd_kafka_consume_batch_queue(q, RESTORE_POLL_MS, msgs, RESTORE_POLL_BATCH) : -1;
        if (got <= 0) {
            if (e->stop) {
                jp_err_set(errstr, errstr_size,
                           "restore interrupted by a stop (%lld of %lld records)",
                           (long long)rd.done, (long long)total);
                rc = -1;
            } else if (jp_clock_now_ms() > deadline) {
                jp_err_set(errstr, errstr_size,
                           "restore stalled (%lld of %lld records, none for %d s)",
                           (long long)rd.done, (long long)total, RESTORE_DEADLINE_MS / 1000);
                rc = -1;
            }
            continue;
        }
        for (ssize_t j = 0; j < got; j++) {
            if (rc == 0)
                rc = restore_one(&rd, msgs[j], errstr, errstr_size);
            rd_kafka_message_destroy(msgs[j]);
        }
        deadline = jp_clock_now_ms() + RESTORE_DEADLINE_MS;
        jp_gauge_set(e->restore_progress, (double)rd.done / (double)total);
    }
    if (q)
        rd_kafka_queue_destroy(q);
    rd_kafka_assign(e->restorer, NULL);
    jp_gauge_set(e->restore_progress, 1);
    int64_t applied = 0, skipped = 0, t1 = jp_clock_now_ms();
    for (int i = 0; i < n_slots; i++) {
        const slot_t *s = &slots[i];
        applied += s->applied;
        skipped += s->skipped;
        jp_counter_add(e->restored_records, (uint64_t)s->applied);
        jp_log_info("engine",
                    "task %d: restored %lld %s records, skipped %lld beyond the commit point",
                    jp_task_partition(r[s->k].t), (long long)s->applied, jp_cf_name(s->cf),
                    (long long)s->skipped);
    }
    jp_log_info("engine",
                "restore of %d task(s): %lld records applied, %lld skipped, in %.3f s (reading "
                "%.3f s)",
                n, (long long)applied, (long long)skipped, (double)(t1 - t0) / 1000.0,
                (double)(t1 - t_loop) / 1000.0);
    free(by);
    free(slots);
    return rc;
}
