/*
 * jp_engine_status: what the engine shows of itself - the per-reason record
 * counters (the tasks' count hook), the consumer-lag gauges, and the
 * status snapshot behind /v1/tasks, readiness and the totals. The snapshot
 * is rebuilt on the engine thread at each commit and swapped in under
 * status_lock, so the admin thread reads a finished document and never
 * touches a task.
 */
#include "jp_engine-internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- metrics ---------------------------------------------------------------- */

/* The record families: their help, and whether they have a reason label
 * (the others would carry one that never changes). */
static const struct {
    const char *what, *help;
    int by_reason;
} record_families[] = {
    {"consumed", "Input records read from their topic", 0},
    {"applied", "Input records applied to state and windows", 0},
    {"dead_lettered", "Input records dead-lettered, by reason", 1},
    {"duplicate", "Input records dropped as duplicates (event id seen within the horizon)", 0},
    {"corrected", "Input records auto-corrected, by correction", 1},
    {"repartitioned", "Input records sent to their country's task through the repartition topic",
     0},
    {"repartition_received", "Copies taken in from the repartition topic (replays excluded)", 0},
    {"repartition_replays", "Copies seen again after a rewind or rebalance, skipped", 0},
};

jp_counter_t *jp_engine_counter(jp_engine_t *e, jp_input_t input, const char *what,
                                const char *reason)
{
    for (size_t i = 0; i < e->n_slots; i++)
        if (e->slots[i].input == input && e->slots[i].what == what && e->slots[i].reason == reason)
            return e->slots[i].c;
    const char *help = "Input records";
    int by_reason = 1;
    for (size_t i = 0; i < sizeof(record_families) / sizeof(record_families[0]); i++)
        if (strcmp(what, record_families[i].what) == 0) {
            help = record_families[i].help;
            by_reason = record_families[i].by_reason;
        }
    char name[96], labels[512], topic[300], why[96];
    snprintf(name, sizeof(name), "jackpot_records_%s_total", what);
    jp_metrics_label_escape(topic, sizeof(topic), e->topics[input]);
    jp_metrics_label_escape(why, sizeof(why), reason);
    if (by_reason)
        snprintf(labels, sizeof(labels), "topic=\"%s\",reason=\"%s\"", topic, why);
    else
        snprintf(labels, sizeof(labels), "topic=\"%s\"", topic);
    jp_counter_t *c = jp_metrics_counter(e->metrics, name, help, labels);
    if (c && e->n_slots < sizeof(e->slots) / sizeof(e->slots[0]))
        e->slots[e->n_slots++] = (counter_slot_t){input, what, reason, c};
    return c;
}

void jp_engine_io_count(void *ctx, jp_input_t input, const char *what, const char *reason)
{
    jp_engine_t *e = ctx;
    if (strcmp(what, "window_closed") == 0) {
        e->windows_closed++;
        char labels[64];
        snprintf(labels, sizeof(labels), "window=\"%s\"", reason);
        jp_counter_add(jp_metrics_counter(e->metrics, "jackpot_windows_closed_total",
                                          "Event-time windows closed", labels),
                       1);
        return;
    }
    jp_counter_t *c = jp_engine_counter(e, input, what, reason);
    if (c)
        jp_counter_add(c, 1);
}

/* The offsets of input partition p from the last fetch response librdkafka
 * cached (no broker round trip); 0, or -1 if it has none. */
/* The consumer's cached watermarks of stream s of partition p. */
static int stream_watermarks(jp_engine_t *e, int p, int s, int64_t *lo, int64_t *hi)
{
    *lo = *hi = 0;
    return rd_kafka_get_watermark_offsets(e->consumer, jp_engine_stream_topic(e, s), p, lo, hi) ==
                   RD_KAFKA_RESP_ERR_NO_ERROR
               ? 0
               : -1;
}

int64_t jp_engine_io_end_offset(void *ctx, int partition, jp_input_t input, int ask_broker)
{
    jp_engine_t *e = ctx;
    int64_t lo = -1, hi = -1;
    if (!ask_broker)
        return stream_watermarks(e, partition, (int)input, &lo, &hi) == 0 ? hi : -1;
    return jp_engine_watermarks(e, e->consumer, e->topics[input], partition, &lo, &hi, 1000) ==
                   RD_KAFKA_RESP_ERR_NO_ERROR
               ? hi
               : -1;
}

/* ---- status -------------------------------------------------------------------------------- */

typedef struct {
    json_t *countries;
} open_ctx_t;

static void add_open_window(void *ctx, const jp_window_t *w)
{
    open_ctx_t *o = ctx;
    char cc[3] = {w->country[0], w->country[1], 0};
    json_t *c = json_object_get(o->countries, cc);
    if (!c) {
        c = json_object();
        json_object_set_new(c, "open", json_array());
        json_object_set_new(c, "last_closed", json_object());
        json_object_set_new(o->countries, cc, c);
    }
    json_t *win = json_object();
    json_object_set_new(win, "window", json_string(jp_window_kind_name(w->kind)));
    json_object_set_new(win, "window_start", json_integer(w->start_ms));
    json_object_set_new(win, "window_end", json_integer(w->end_ms));
    json_object_set_new(win, "tickets", json_integer(w->tickets));
    json_object_set_new(win, "revenue_minor", json_integer(w->revenue_minor));
    json_object_set_new(win, "signups", json_integer(w->signups));
    json_object_set_new(win, "cancellations", json_integer(w->cancellations));
    json_array_append_new(json_object_get(c, "open"), win);
}

jp_gauge_t *jp_engine_lag_gauge(jp_engine_t *e, int p, int s)
{
    char labels[400], topic[300];
    jp_metrics_label_escape(topic, sizeof(topic), jp_engine_stream_topic(e, s));
    snprintf(labels, sizeof(labels), "topic=\"%s\",partition=\"%d\"", topic, p);
    return jp_metrics_gauge(e->metrics, "jackpot_consumer_lag_records",
                            "Records behind the end of the input partition", labels);
}

/* Records behind the end of stream i of partition p, from the consumer's
 * cached watermarks; its gauge is set (0 for a task this instance does
 * not own, so a revoked task's lag does not stay behind). */
static int64_t stream_lag(jp_engine_t *e, int p, int i)
{
    int64_t l = 0;
    if (e->tasks[p]) {
        int64_t lo = 0, hi = 0, next = jp_engine_stream_offset(e->tasks[p], i);
        stream_watermarks(e, p, i, &lo, &hi);
        l = hi - (next >= 0 ? next : lo);
        l = l > 0 ? l : 0;
    }
    jp_gauge_t *g = jp_engine_lag_gauge(e, p, i);
    if (g)
        jp_gauge_set(g, (double)l);
    return l;
}

void jp_engine_update_status(jp_engine_t *e)
{
    json_t *root = json_object(), *tasks = json_array();
    open_ctx_t oc = {json_object()};
    jp_engine_totals_t tot = {0};
    int64_t lag = 0;
    for (int p = 0; p < e->n_partitions; p++) {
        jp_task_t *t = e->tasks[p];
        if (!t) {
            for (int i = 0; i < jp_engine_n_streams(e); i++)
                stream_lag(e, p, i);
            continue;
        }
        tot.tasks++;
        json_t *tj = json_object(), *inputs = json_array();
        json_object_set_new(tj, "partition", json_integer(p));
        for (int i = 0; i < JP_INPUT__COUNT; i++) {
            jp_task_counts_t c;
            jp_task_repartition_counts_t rc;
            jp_task_counts(t, (jp_input_t)i, &c);
            jp_task_repartition_counts(t, (jp_input_t)i, &rc);
            tot.consumed += c.consumed;
            tot.applied += c.applied;
            tot.dead_lettered += c.dead_lettered;
            tot.duplicates += c.duplicates;
            tot.late += c.late;
            tot.repartitioned += rc.repartitioned;
            tot.received += rc.received;
            tot.replays += rc.replays;
            int64_t lost = jp_task_lost(t, (jp_input_t)i);
            tot.lost += lost;
            int64_t next = jp_task_next_offset(t, (jp_input_t)i);
            int64_t l = stream_lag(e, p, i);
            lag += l;
            json_t *ij = json_object();
            json_object_set_new(ij, "topic", json_string(e->topics[i]));
            json_object_set_new(ij, "next_offset", json_integer(next));
            json_object_set_new(ij, "watermark", json_integer(jp_task_watermark(t, (jp_input_t)i)));
            json_object_set_new(ij, "consumed", json_integer(c.consumed));
            json_object_set_new(ij, "applied", json_integer(c.applied));
            json_object_set_new(ij, "dead_lettered", json_integer(c.dead_lettered));
            json_object_set_new(ij, "duplicates", json_integer(c.duplicates));
            json_object_set_new(ij, "late", json_integer(c.late));
            json_object_set_new(ij, "repartitioned", json_integer(rc.repartitioned));
            json_object_set_new(ij, "received", json_integer(rc.received));
            json_object_set_new(ij, "replays", json_integer(rc.replays));
            json_object_set_new(ij, "lost", json_integer(lost));
            json_object_set_new(ij, "lag", json_integer(l));
            json_array_append_new(inputs, ij);
        }
        json_object_set_new(tj, "inputs", inputs);
        if (jp_engine_n_streams(e) > JP_STREAM_REPARTITION) {
            int64_t l = stream_lag(e, p, JP_STREAM_REPARTITION);
            lag += l;
            json_t *rj = json_object();
            json_object_set_new(rj, "topic", json_string(e->repartition));
            json_object_set_new(rj, "next_offset", json_integer(jp_task_repartition_offset(t)));
            json_object_set_new(rj, "lost", json_integer(jp_task_repartition_lost(t)));
            tot.lost += jp_task_repartition_lost(t);
            json_object_set_new(rj, "lag", json_integer(l));
            json_object_set_new(tj, "repartition", rj);
        }
        json_array_append_new(tasks, tj);
        jp_task_foreach_open_window(t, add_open_window, &oc);
        for (size_t k = 0; k < e->cfg->n_countries; k++) {
            const char *cc = e->cfg->country[k].code;
            for (int kind = JP_WINDOW_HOUR; kind < JP_WINDOW_UNKNOWN; kind++) {
                const char *last = jp_task_last_features(t, cc, (jp_window_kind_t)kind);
                if (!last)
                    continue;
                json_t *c = json_object_get(oc.countries, cc);
                if (!c) {
                    c = json_object();
                    json_object_set_new(c, "open", json_array());
                    json_object_set_new(c, "last_closed", json_object());
                    json_object_set_new(oc.countries, cc, c);
                }
                json_object_set_new(json_object_get(c, "last_closed"),
                                    jp_window_kind_name((jp_window_kind_t)kind),
                                    json_loads(last, 0, NULL));
            }
        }
    }
    tot.windows_closed = e->windows_closed;
    tot.lag = lag;
    tot.commits = (int64_t)jp_counter_get(e->commits);
    int ready = tot.tasks > 0 && !e->restoring && lag <= e->cfg->http.ready_max_lag;
    json_object_set_new(root, "ready", json_boolean(ready));
    json_object_set_new(root, "lag", json_integer(lag));
    json_object_set_new(root, "tasks", tasks);
    json_object_set_new(root, "countries", oc.countries);
    char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    pthread_mutex_lock(&e->status_lock);
    free(e->status_json);
    e->status_json = s;
    e->ready = ready;
    e->rewinds_at_commit = jp_counter_get(e->rewinds);
    e->totals = tot;
    pthread_mutex_unlock(&e->status_lock);
}

char *jp_engine_status_json(jp_engine_t *e)
{
    pthread_mutex_lock(&e->status_lock);
    char *s = e->status_json ? strdup(e->status_json) : strdup("{}");
    pthread_mutex_unlock(&e->status_lock);
    return s;
}

int jp_engine_ready(jp_engine_t *e)
{
    /* Rewinds happen between commits, when the snapshot is not rebuilt:
     * a task that cannot make progress (every commit failing, each
     * failure rewinding every task) shows here first. */
    pthread_mutex_lock(&e->status_lock);
    int r = e->ready && jp_counter_get(e->rewinds) - e->rewinds_at_commit < STALL_REWINDS;
    pthread_mutex_unlock(&e->status_lock);
    return r;
}

void jp_engine_totals(jp_engine_t *e, jp_engine_totals_t *out)
{
    pthread_mutex_lock(&e->status_lock);
    *out = e->totals;
    pthread_mutex_unlock(&e->status_lock);
}
