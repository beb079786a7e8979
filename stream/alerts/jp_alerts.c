/*
 * jp_alerts: the processor's frame - global object, per-task instances and
 * their state in the alerts column family, emission, metrics and the
 * admin snapshot. What each detector's verdict does is in
 * jp_alerts_rules.c.
 *
 * State layout (keys of the alerts column family, country first; "--" for
 * what belongs to the task rather than a country):
 *   <CC>/d/<day, 8 bytes big-endian>   a day's aggregates (jp_feat_day_t)
 *   <CC>/f                             feature drift state per feature
 *   <CC>/m/<model>                     a model's concept drift detectors
 *   <CC>/s                             last event time per input (silence)
 *   <CC>/a/<fingerprint>, --/a/<fp>    an alert (jp_alert_entry_t)
 *   --/q/<input>                       an input partition's rate buckets
 * Everything is loaded when the task opens and written back, when dirty,
 * before each commit; so the changelog carries a key per changed object
 * and commit, never the whole history.
 */
#include "jp_alerts-internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jp_clock.h"
#include "base/jp_log.h"
#include "model/base/jp_err.h"

static const char *const input_names[JP_INPUT__COUNT] = {"sales", "customers", "draws"};

/* ---- countries, days, models ---- */

country_t *jp_alerts_country(alerts_inst_t *in, const char *code)
{
    for (size_t i = 0; i < in->n_c; i++)
        if (memcmp(in->c[i].code, code, 2) == 0)
            return &in->c[i];
    country_t *c = realloc(in->c, (in->n_c + 1) * sizeof(*c));
    if (!c)
        return NULL;
    in->c = c;
    /* Insert sorted: every loop over countries runs in the same order. */
    size_t at = 0;
    while (at < in->n_c && memcmp(in->c[at].code, code, 2) < 0)
        at++;
    memmove(&in->c[at + 1], &in->c[at], (in->n_c - at) * sizeof(*c));
    c = &in->c[at];
    memset(c, 0, sizeof(*c));
    memcpy(c->code, code, 2);
    double now = jp_clock_now_s();
    for (int i = 0; i < JP_INPUT__COUNT; i++) {
        c->last_seen[i] = NO_TIME;
        c->last_wall[i] = now;
    }
    for (int f = 0; f < JP_FEAT__COUNT; f++)
        c->feat[f].last_drift = c->feat[f].rebase = NO_TIME;
    in->n_c++;
    return c;
}

day_slot_t *jp_alerts_day(country_t *c, int64_t day, int create)
{
    size_t lo = 0, hi = c->n_days;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->days[mid]->d.day == day)
            return c->days[mid];
        if (c->days[mid]->d.day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!create)
        return NULL;
    if (c->n_days == c->cap_days) {
        size_t cap = c->cap_days ? 2 * c->cap_days : 64;
        day_slot_t **v = realloc(c->days, cap * sizeof(*v));
        if (!v)
            return NULL;
        c->days = v;
        c->cap_days = cap;
    }
    day_slot_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    jp_feat_day_init(&s->d, day);
    memmove(&c->days[lo + 1], &c->days[lo], (c->n_days - lo) * sizeof(*c->days));
    c->days[lo] = s;
    c->n_days++;
    return s;
}

model_slot_t *jp_alerts_model(alerts_inst_t *in, country_t *c, const char *name)
{
    for (size_t i = 0; i < c->n_models; i++)
        if (strcmp(c->models[i].name, name) == 0)
            return &c->models[i];
    char err[256];
    const jp_concept_params_t *params = jp_alerts_concept_params(in->g, err, sizeof(err));
    jp_concept_t *k = params ? jp_concept_new(params, err, sizeof(err)) : NULL;
    if (!params)
        jp_log(JP_LOG_ERROR, "alerts", "%s", err);
    model_slot_t *m = k ? realloc(c->models, (c->n_models + 1) * sizeof(*m)) : NULL;
    if (!m) {
        jp_concept_free(k);
        return NULL;
    }
    c->models = m;
    m = &c->models[c->n_models++];
    memset(m, 0, sizeof(*m));
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->c = k;
    m->dirty = 1;
    return m;
}

static void country_free(country_t *c)
{
    for (size_t i = 0; i < c->n_days; i++)
        free(c->days[i]);
    free(c->days);
    for (size_t i = 0; i < c->n_models; i++)
        jp_concept_free(c->models[i].c);
    free(c->models);
}

/* ---- snapshot and metrics (the admin thread reads them) ---- */

/* The gauge of (country, name, severity), created at its first use. */
static jp_gauge_t *gauge_for(jp_alerts_t *g, const char *country, const char *name,
                             const char *severity)
{
    char labels[160], cc[8], nm[64], sev[16];
    jp_metrics_label_escape(cc, sizeof(cc), country);
    jp_metrics_label_escape(nm, sizeof(nm), name);
    jp_metrics_label_escape(sev, sizeof(sev), severity);
    for (char *p = sev; *p; p++)
        *p = (char)(*p | 0x20); /* severity labels are lower case, as in rules.yml */
    snprintf(labels, sizeof(labels), "country=\"%s\",name=\"%s\",severity=\"%s\"", cc, nm, sev);
    for (size_t k = 0; k < g->n_gauges; k++)
        if (strcmp(g->gauges[k].labels, labels) == 0)
            return g->gauges[k].g;
    gauge_slot_t *v = realloc(g->gauges, (g->n_gauges + 1) * sizeof(*v));
    if (!v)
        return NULL;
    g->gauges = v;
    jp_gauge_t *gg = jp_metrics_gauge(
        g->metrics, "jackpot_alerts_firing",
        "Alerts firing, by country, alert name and severity (ALERTS-style)", labels);
    if (!gg)
        return NULL;
    snprintf(v[g->n_gauges].labels, sizeof(v[g->n_gauges].labels), "%s", labels);
    v[g->n_gauges++].g = gg;
    return gg;
}

static void update_gauges_locked(jp_alerts_t *g)
{
    if (!g->metrics)
        return;
    for (size_t i = 0; i < g->n_gauges; i++)
        jp_gauge_set(g->gauges[i].g, 0);
    for (int p = 0; p < g->n_partitions; p++) {
        size_t i;
        json_t *a;
        json_array_foreach(g->snap[p], i, a)
        {
            if (strcmp(json_string_value(json_object_get(a, "status")), "FIRING") != 0)
                continue;
            const char *cc = json_string_value(json_object_get(a, "country"));
            jp_gauge_t *gg =
                gauge_for(g, cc ? cc : "", json_string_value(json_object_get(a, "name")),
                          json_string_value(json_object_get(a, "severity")));
            if (gg)
                jp_gauge_add(gg, 1);
        }
    }
}

/* Every series the rules can raise exists from the start, at 0, so that
 * dashboards and Prometheus rules see the family before anything fires. */
static void declare_gauges(jp_alerts_t *g)
{
    static const struct {
        jp_alert_rule_t rule;
        int per_country;
        jp_alert_severity_t severity;
    } series[] = {
        {JP_ALERT_FEATURE_DRIFT, 1, JP_ALERT_SEVERITY_WARNING},
        {JP_ALERT_CONCEPT_DRIFT, 1, JP_ALERT_SEVERITY_WARNING},
        {JP_ALERT_CONCEPT_DRIFT, 1, JP_ALERT_SEVERITY_CRITICAL},
        {JP_ALERT_SILENT_SOURCE, 1, JP_ALERT_SEVERITY_CRITICAL},
        {JP_ALERT_DEAD_LETTER_RATE, 0, JP_ALERT_SEVERITY_WARNING},
        {JP_ALERT_LATE_RATE, 0, JP_ALERT_SEVERITY_WARNING},
        {JP_ALERT_RECORDS_LOST, 0, JP_ALERT_SEVERITY_CRITICAL},
        {JP_ALERT_MISPARTITIONED, 0, JP_ALERT_SEVERITY_WARNING},
        {JP_ALERT_CONSUMER_LAG, 0, JP_ALERT_SEVERITY_WARNING},
    };
    for (size_t i = 0; g->metrics && i < sizeof(series) / sizeof(series[0]); i++)
        for (size_t k = 0; k < (series[i].per_country ? g->cfg->n_countries : 1); k++)
            gauge_for(g, series[i].per_country ? g->cfg->country[k].code : "",
                      jp_alert_rule_info(series[i].rule)->name,
                      jp_alert_severity_name(series[i].severity));
}

/* Publishes the instance's alerts (NULL: the task is gone from here). */
static void publish(jp_alerts_t *g, int partition, alerts_inst_t *in)
{
    json_t *arr = NULL;
    if (in) {
        arr = json_array();
        for (size_t i = 0; i < in->alerts.n; i++)
            json_array_append_new(
                arr, jp_alert_entry_json(in->alerts.v[i], g->cfg->alerts.runbook_base_url));
        in->snap_dirty = 0;
    }
    pthread_mutex_lock(&g->lock);
    json_decref(g->snap[partition]);
    g->snap[partition] = arr;
    update_gauges_locked(g);
    pthread_mutex_unlock(&g->lock);
}

static int cmp_newest(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t sx = json_integer_value(json_object_get(x, "starts_at"));
    json_int_t sy = json_integer_value(json_object_get(y, "starts_at"));
    if (sx != sy)
        return sx > sy ? -1 : 1;
    return strcmp(json_string_value(json_object_get(x, "fingerprint")),
                  json_string_value(json_object_get(y, "fingerprint")));
}

char *jp_alerts_json(jp_alerts_t *a, const char *country, const char *status)
{
    json_t **all = NULL;
    size_t n = 0, cap = 0;
    pthread_mutex_lock(&a->lock);
    for (int p = 0; p < a->n_partitions; p++) {
        size_t i;
        json_t *e;
        json_array_foreach(a->snap[p], i, e)
        {
            const char *cc = json_string_value(json_object_get(e, "country"));
            const char *st = json_string_value(json_object_get(e, "status"));
            if ((country && (!cc || strcmp(cc, country) != 0)) ||
                (status && strcmp(st, status) != 0))
                continue;
            if (n == cap) {
                size_t grown = cap ? 2 * cap : 16;
                json_t **v = realloc(all, grown * sizeof(*v));
                if (!v)
                    break;
                all = v;
                cap = grown;
            }
            all[n++] = json_deep_copy(e);
        }
    }
    pthread_mutex_unlock(&a->lock);
    if (n)
        qsort(all, n, sizeof(*all), cmp_newest);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, all[i]);
    free(all);
    json_t *root = json_pack("{s:o}", "alerts", arr);
    char *s = root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(root);
    return s;
}

/* ---- emission ---- */

static int send_entry(alerts_inst_t *in, const jp_alert_entry_t *e)
{
    jp_alerts_t *g = in->g;
    jp_alert_avro_scratch_t scratch = {0};
    jp_alert_t a;
    char err[256];
    jp_alert_entry_to_avro(e, g->cfg->alerts.runbook_base_url, &scratch, &a);
    in->out.len = 0;
    if (jp_serde_encode(jp_proc_serde(in->ctx), JP_EVENT_ALERT, g->cfg->topics.alerts, &a, &in->out,
                        err, sizeof(err)) != JP_SERDE_OK) {
        jp_log_error("alerts", "task %d: cannot encode alert %s: %s", in->partition, e->fingerprint,
                     err);
        return -1;
    }
    if (jp_proc_emit(in->ctx, JP_OUTPUT_ALERTS, e->fingerprint, strlen(e->fingerprint),
                     in->out.data, in->out.len) != 0)
        return -1;
    if (g->metrics) {
        char labels[128];
        snprintf(labels, sizeof(labels), "name=\"%s\",status=\"%s\"",
                 jp_alert_rule_info(e->rule)->name, jp_alert_status_name(e->status));
        jp_counter_add(jp_metrics_counter(g->metrics, "jackpot_alerts_total",
                                          "Alert records sent (FIRING, RESOLVED)", labels),
                       1);
    }
    if (g->listener)
        g->listener(g->listener_ctx, in->partition, &a);
    publish(g, in->partition, in);
    return 0;
}

int jp_alerts_fire(alerts_inst_t *in, jp_alert_entry_t *e, int64_t now, int *sent)
{
    jp_alert_entry_t *send = NULL;
    if (sent)
        *sent = 0;
    if (jp_alert_set_fire(&in->alerts, e, now, in->g->cfg->alerts.repeat_interval_ms, &send) != 0)
        return -1;
    in->snap_dirty = 1;
    if (!send)
        return 0;
    if (sent)
        *sent = 1;
    return send_entry(in, send);
}

int jp_alerts_resolve(alerts_inst_t *in, const char *fingerprint, int64_t ends_at, int64_t now)
{
    jp_alert_entry_t *e = jp_alert_set_resolve(&in->alerts, fingerprint, ends_at, now);
    return e ? send_entry(in, e) : 0;
}

/* ---- state in the store ---- */

static size_t key_of(char *buf, size_t size, const char *cc, const char *what, const char *rest)
{
    return (size_t)snprintf(buf, size, "%.2s/%s%s%s", cc && cc[0] ? cc : "--", what,
                            rest ? "/" : "", rest ? rest : "");
}

static size_t day_key(uint8_t *buf, const char *cc, int64_t day)
{
    buf[0] = (uint8_t)cc[0];
    buf[1] = (uint8_t)cc[1];
    buf[2] = '/';
    buf[3] = 'd';
    buf[4] = '/';
    uint64_t u = (uint64_t)day ^ (1ull << 63);
    for (int b = 0; b < 8; b++)
        buf[5 + b] = (uint8_t)(u >> (56 - 8 * b));
    return 13;
}

static int put_bytes(alerts_inst_t *in, const void *key, size_t klen, jp_bytes_writer_t *w)
{
    int rc =
        w->oom ? -1 : jp_store_put(jp_proc_store(in->ctx), JP_CF_ALERTS, key, klen, w->buf, w->len);
    jp_bytes_writer_free(w);
    return rc;
}

static void del_key(alerts_inst_t *in, const void *key, size_t klen)
{
    jp_store_del(jp_proc_store(in->ctx), JP_CF_ALERTS, key, klen);
}

static int store_feature_states(alerts_inst_t *in, country_t *c)
{
    jp_bytes_writer_t w;
    char key[32];
    jp_bytes_writer_init(&w);
    jp_bytes_put_u8(&w, JP_FEAT__COUNT);
    for (int f = 0; f < JP_FEAT__COUNT; f++) {
        jp_bytes_writer_t one;
        jp_bytes_writer_init(&one);
        jp_feat_state_serialize(&c->feat[f], &one);
        jp_bytes_put_u16(&w, (uint16_t)one.len);
        jp_bytes_put_raw(&w, one.buf, one.len);
        jp_bytes_writer_free(&one);
    }
    return put_bytes(in, key, key_of(key, sizeof(key), c->code, "f", NULL), &w);
}

static int load_feature_states(country_t *c, const void *val, size_t len)
{
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, val, len);
    unsigned n = jp_bytes_get_u8(&r);
    for (unsigned f = 0; f < n && jp_bytes_reader_ok(&r); f++) {
        size_t l = jp_bytes_get_u16(&r);
        if (r.pos + l > r.len)
            return -1;
        if (f < JP_FEAT__COUNT && jp_feat_state_deserialize(&c->feat[f], r.buf + r.pos, l) != 0)
            return -1;
        r.pos += l;
    }
    return jp_bytes_reader_done(&r) ? 0 : -1;
}

static int write_state(alerts_inst_t *in)
{
    char key[64];
    for (size_t i = 0; i < in->n_c; i++) {
        country_t *c = &in->c[i];
        for (size_t d = 0; d < c->n_days; d++) {
            day_slot_t *s = c->days[d];
            if (!s->dirty)
                continue;
            uint8_t k[13];
            jp_bytes_writer_t w;
            jp_bytes_writer_init(&w);
            jp_feat_day_serialize(&s->d, &w);
            if (put_bytes(in, k, day_key(k, c->code, s->d.day), &w) != 0)
                return -1;
            s->dirty = 0;
        }
        if (c->feat_dirty) {
            if (store_feature_states(in, c) != 0)
                return -1;
            c->feat_dirty = 0;
        }
        for (size_t m = 0; m < c->n_models; m++) {
            if (!c->models[m].dirty)
                continue;
            jp_bytes_writer_t w;
            jp_bytes_writer_init(&w);
            jp_concept_serialize(c->models[m].c, &w);
            if (put_bytes(in, key, key_of(key, sizeof(key), c->code, "m", c->models[m].name), &w) !=
                0)
                return -1;
            c->models[m].dirty = 0;
        }
        if (c->seen_dirty) {
            jp_bytes_writer_t w;
            jp_bytes_writer_init(&w);
            for (int k = 0; k < JP_INPUT__COUNT; k++)
                jp_bytes_put_i64(&w, c->last_seen[k]);
            if (put_bytes(in, key, key_of(key, sizeof(key), c->code, "s", NULL), &w) != 0)
                return -1;
            c->seen_dirty = 0;
        }
    }
    for (int i = 0; i < JP_INPUT__COUNT; i++) {
        if (!in->q_dirty[i])
            continue;
        jp_bytes_writer_t w;
        jp_bytes_writer_init(&w);
        jp_quality_serialize(&in->q[i], &w);
        if (put_bytes(in, key, key_of(key, sizeof(key), NULL, "q", input_names[i]), &w) != 0)
            return -1;
        in->q_dirty[i] = 0;
    }
    for (size_t i = 0; i < in->alerts.n; i++) {
        jp_alert_entry_t *e = in->alerts.v[i];
        if (!e->dirty)
            continue;
        jp_bytes_writer_t w;
        jp_bytes_writer_init(&w);
        jp_alert_entry_serialize(e, &w);
        if (put_bytes(in, key, key_of(key, sizeof(key), e->country, "a", e->fingerprint), &w) != 0)
            return -1;
        e->dirty = 0;
    }
    return 0;
}

static void alert_gone(void *ctx, const jp_alert_entry_t *e)
{
    char key[64];
    del_key(ctx, key, key_of(key, sizeof(key), e->country, "a", e->fingerprint));
}

/* Drops what no evaluation can use any more: days before the history and
 * resolved alerts past the retention. */
static void prune(alerts_inst_t *in, country_t *c, int64_t day, int64_t now)
{
    const jp_config_t *cfg = in->g->cfg;
    int64_t keep = (in->g->reference ? 400 : cfg->alerts.feature.reference_days) +
                   cfg->alerts.feature.current_days + 2;
    size_t drop = 0;
    while (drop < c->n_days && c->days[drop]->d.day < day - keep) {
        uint8_t k[13];
        del_key(in, k, day_key(k, c->code, c->days[drop]->d.day));
        free(c->days[drop++]);
    }
    memmove(c->days, c->days + drop, (c->n_days - drop) * sizeof(*c->days));
    c->n_days -= drop;
    jp_alert_set_prune(&in->alerts, now, cfg->alerts.resolved_retention_ms, alert_gone, in);
}

static int load_entry(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    alerts_inst_t *in = ctx;
    const char *k = key;
    char err[256];
    if (klen < 4 || k[2] != '/')
        return 0;
    char cc[3] = {k[0], k[1], 0};
    const char *what = k + 3;
    size_t wlen = klen - 3;
    int task_wide = memcmp(cc, "--", 2) == 0;
    country_t *c = task_wide ? NULL : jp_alerts_country(in, cc);
    if (!task_wide && !c)
        return 1;
    if (c && wlen == 10 && memcmp(what, "d/", 2) == 0) {
        day_slot_t s = {0};
        if (jp_feat_day_deserialize(&s.d, val, vlen) != 0)
            goto corrupt;
        day_slot_t *d = jp_alerts_day(c, s.d.day, 1);
        if (!d)
            return 1;
        d->d = s.d;
    } else if (c && wlen == 1 && what[0] == 'f') {
        if (load_feature_states(c, val, vlen) != 0)
            goto corrupt;
    } else if (c && wlen > 2 && memcmp(what, "m/", 2) == 0 && wlen - 2 < 16) {
        jp_concept_t *m = jp_concept_deserialize(val, vlen, err, sizeof(err));
        if (!m)
            goto corrupt;
        char name[16];
        memcpy(name, what + 2, wlen - 2);
        name[wlen - 2] = '\0';
        model_slot_t *s = jp_alerts_model(in, c, name);
        if (!s) {
            jp_concept_free(m);
            return 1;
        }
        jp_concept_free(s->c);
        s->c = m;
        s->dirty = 0;
    } else if (c && wlen == 1 && what[0] == 's') {
        jp_bytes_reader_t r;
        jp_bytes_reader_init(&r, val, vlen);
        for (int i = 0; i < JP_INPUT__COUNT; i++)
            c->last_seen[i] = jp_bytes_get_i64(&r);
        if (!jp_bytes_reader_done(&r))
            goto corrupt;
    } else if (wlen > 2 && memcmp(what, "a/", 2) == 0) {
        jp_alert_entry_t e;
        if (jp_alert_entry_deserialize(&e, val, vlen, err, sizeof(err)) != 0)
            goto corrupt;
        if (jp_alert_set_put(&in->alerts, &e) != 0)
            return 1;
    } else if (task_wide && wlen > 2 && memcmp(what, "q/", 2) == 0) {
        for (int i = 0; i < JP_INPUT__COUNT; i++)
            if (wlen - 2 == strlen(input_names[i]) &&
                memcmp(what + 2, input_names[i], wlen - 2) == 0 &&
                jp_quality_deserialize(&in->q[i], val, vlen) != 0)
                goto corrupt;
    }
    return 0;
corrupt:
    /* Our own state: a corrupt entry is dropped (its detector starts
     * afresh) rather than failing the task. */
    jp_log_warn("alerts", "task %d: dropping a corrupt state entry (%zu bytes)", in->partition,
                vlen);
    return 0;
}

/* ---- the processor ---- */

static void inst_free(alerts_inst_t *in)
{
    for (size_t i = 0; i < in->n_c; i++)
        country_free(&in->c[i]);
    free(in->c);
    jp_alert_set_free(&in->alerts);
    jp_avro_buf_free(&in->out);
    free(in);
}

static void *proc_open(void *global, jp_proc_ctx_t *ctx, char *errstr, size_t errstr_size)
{
    jp_alerts_t *g = global;
    int p = jp_proc_partition(ctx);
    if (p < 0 || p >= g->n_partitions) {
        jp_err_set(errstr, errstr_size, "alerts: partition %d beyond the %d configured", p,
                   g->n_partitions);
        return NULL;
    }
    alerts_inst_t *in = calloc(1, sizeof(*in));
    if (!in) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    in->g = g;
    in->ctx = ctx;
    in->partition = p;
    jp_alert_set_init(&in->alerts);
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        jp_quality_init(&in->q[i]);
    if (jp_store_scan(jp_proc_store(ctx), JP_CF_ALERTS, NULL, 0, load_entry, in) < 0) {
        jp_err_set(errstr, errstr_size, "alerts: cannot read the state of task %d", p);
        inst_free(in);
        return NULL;
    }
    g->inst[p] = in;
    publish(g, p, in);
    return in;
}

static void proc_close(void *inst)
{
    alerts_inst_t *in = inst;
    if (in->g->inst[in->partition] == in) {
        in->g->inst[in->partition] = NULL;
        publish(in->g, in->partition, NULL);
    }
    inst_free(in);
}

static int proc_record(void *inst, const jp_proc_record_t *rec)
{
    alerts_inst_t *in = inst;
    const jp_config_t *cfg = in->g->cfg;
    if (cfg->alerts.feature.enabled && rec->input != JP_INPUT_DRAWS) {
        country_t *c = jp_alerts_country(in, rec->country);
        day_slot_t *d =
            c ? jp_alerts_day(c,
                              rec->event_time >= 0 ? rec->event_time / DAY_MS
                                                   : -((-rec->event_time + DAY_MS - 1) / DAY_MS),
                              1)
              : NULL;
        if (!d)
            return -1;
        if (rec->input == JP_INPUT_SALES)
            jp_feat_day_add_sale(&d->d, rec->ev.sale);
        else
            jp_feat_day_add_customer(&d->d, rec->ev.customer);
        d->dirty = 1;
    }
    return jp_alerts_rules_record(in, rec);
}

static int proc_window(void *inst, const jp_feature_vector_t *fv)
{
    alerts_inst_t *in = inst;
    if (fv->window_kind != JP_WINDOW_DAY || fv->country.len != 2)
        return 0;
    char cc[3] = {fv->country.ptr[0], fv->country.ptr[1], 0};
    country_t *c = jp_alerts_country(in, cc);
    if (!c)
        return -1;
    int64_t now = fv->window_end + in->g->cfg->windows.grace_ms;
    int64_t day = fv->window_start / DAY_MS;
    if (in->g->cfg->alerts.feature.enabled) {
        day_slot_t *d = jp_alerts_day(c, day, 1);
        if (!d)
            return -1;
        d->d.closed = 1;
        d->d.signups = (double)fv->signups;
        d->dirty = 1;
        if (jp_alerts_rules_day(in, c, day, now) != 0)
            return -1;
    }
    if (jp_alerts_rules_concept_quiet(in, c, now) != 0)
        return -1;
    prune(in, c, day, now);
    return 0;
}

static int proc_poll(void *inst)
{
    return jp_alerts_rules_poll(inst);
}

static int proc_commit(void *inst)
{
    alerts_inst_t *in = inst;
    if (write_state(in) != 0)
        return -1;
    if (in->snap_dirty)
        publish(in->g, in->partition, in);
    return 0;
}

int jp_alerts_observe_eval(jp_alerts_t *a, int partition, const jp_alerts_eval_t *ev)
{
    if (partition < 0 || partition >= a->n_partitions || !a->inst[partition]) {
        jp_log_error("alerts", "an evaluation for task %d, which is not open here", partition);
        return -1;
    }
    if (!a->cfg->alerts.concept.enabled)
        return 0;
    return jp_alerts_rules_eval(a->inst[partition], ev);
}

/* ---- the global object ---- */

static void *calib_main(void *arg)
{
    jp_alerts_t *g = arg;
    const jp_config_t *cfg = g->cfg;
    double t0 = jp_clock_now_s();
    g->calib_rc = jp_alerts_concept_calibrate(cfg->alerts.concept.false_alarms_per_year,
                                              (uint64_t)cfg->alerts.concept.evaluations_per_year,
                                              cfg->alerts.concept.shift_sd, &g->concept,
                                              g->calib_err, sizeof(g->calib_err));
    if (g->calib_rc == 0)
        jp_log(JP_LOG_INFO, "alerts",
               "concept drift calibrated in %.1f s: ADWIN delta %.3g, CUSUM threshold %.3g",
               jp_clock_now_s() - t0, g->concept.adwin.delta, g->concept.ph.threshold);
    return NULL;
}

/* The configuration is checked here, so that a bad budget stops the
 * start; only the simulation runs on the thread. */
static int calib_start(jp_alerts_t *g, char *errstr, size_t errstr_size)
{
    if (jp_alerts_concept_check(g->cfg->alerts.concept.false_alarms_per_year, errstr,
                                errstr_size) != 0)
        return -1;
    if (pthread_create(&g->calib_thread, NULL, calib_main, g) != 0) {
        jp_err_set(errstr, errstr_size, "alerts: cannot start the concept drift calibration");
        return -1;
    }
    g->calib_running = 1;
    return 0;
}

static void calib_join(jp_alerts_t *g)
{
    pthread_mutex_lock(&g->calib_lock);
    if (g->calib_running) {
        pthread_join(g->calib_thread, NULL);
        g->calib_running = 0;
    }
    pthread_mutex_unlock(&g->calib_lock);
}

const jp_concept_params_t *jp_alerts_concept_params(jp_alerts_t *g, char *errstr,
                                                    size_t errstr_size)
{
    calib_join(g);
    if (g->calib_rc != 0) {
        jp_err_set(errstr, errstr_size, "concept drift calibration: %s", g->calib_err);
        return NULL;
    }
    return &g->concept;
}

jp_alerts_t *jp_alerts_new(const jp_config_t *cfg, jp_metrics_t *metrics, char *errstr,
                           size_t errstr_size)
{
    jp_alerts_t *g = calloc(1, sizeof(*g));
    if (!g) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    g->cfg = cfg;
    g->metrics = metrics;
    pthread_mutex_init(&g->lock, NULL);
    pthread_mutex_init(&g->calib_lock, NULL);
    g->n_partitions = (int)cfg->topics.sales.partitions;
    g->inst = calloc((size_t)g->n_partitions, sizeof(*g->inst));
    g->snap = calloc((size_t)g->n_partitions, sizeof(*g->snap));
    g->feat_cache = jp_feat_cache_new();
    if (!g->inst || !g->snap || !g->feat_cache) {
        jp_err_set(errstr, errstr_size, "out of memory");
        jp_alerts_free(g);
        return NULL;
    }
    g->cal = calloc(cfg->n_countries ? cfg->n_countries : 1, sizeof(*g->cal));
    for (size_t i = 0; g->cal && i < cfg->n_countries; i++)
        if (!(g->cal[i] = jp_calendar_new(&cfg->country[i], errstr, errstr_size))) {
            jp_alerts_free(g);
            return NULL;
        }
    if (!g->cal) {
        jp_err_set(errstr, errstr_size, "out of memory");
        jp_alerts_free(g);
        return NULL;
    }
    const jp_conf_strlist_t *fl = &cfg->alerts.feature.features;
    int tests = 0;
    for (size_t i = 0; i < fl->n; i++) {
        int f = jp_feat_by_name(fl->v[i]);
        if (f >= 0 && !(g->features & (1u << f))) {
            g->features |= 1u << f;
            tests += f == JP_FEAT_SIGNUPS ? 2 : 1;
        }
    }
    /* Bonferroni: every statistic at every daily evaluation of a year
     * shares the yearly false-alarm budget. */
    g->feat_alpha = cfg->alerts.feature.false_alarms_per_year / (365.0 * (tests ? tests : 1));
    double buckets = 365.0 * DAY_MS / (double)cfg->alerts.quality.bucket_ms;
    g->quality_alpha = cfg->alerts.quality.false_alarms_per_year / buckets;
    if (cfg->alerts.concept.enabled && calib_start(g, errstr, errstr_size) != 0) {
        jp_alerts_free(g);
        return NULL;
    }
    declare_gauges(g);
    g->proc = (jp_proc_t){
        .name = "alerts",
        .global = g,
        .open = proc_open,
        .close = proc_close,
        .on_record = proc_record,
        .on_window = proc_window,
        .poll = proc_poll,
        .prepare_commit = proc_commit,
    };
    return g;
}

void jp_alerts_free(jp_alerts_t *a)
{
    if (!a)
        return;
    calib_join(a);
    for (int p = 0; a->snap && p < a->n_partitions; p++)
        json_decref(a->snap[p]);
    free(a->snap);
    free(a->inst);
    free(a->gauges);
    for (size_t i = 0; a->cal && i < a->cfg->n_countries; i++)
        jp_calendar_free(a->cal[i]);
    free(a->cal);
    jp_feat_cache_free(a->feat_cache);
    pthread_mutex_destroy(&a->lock);
    pthread_mutex_destroy(&a->calib_lock);
    free(a);
}

const jp_proc_t *jp_alerts_proc(jp_alerts_t *a)
{
    return &a->proc;
}

void jp_alerts_set_reference_source(jp_alerts_t *a, jp_alerts_reference_fn fn, void *ctx)
{
    a->reference = fn;
    a->reference_ctx = ctx;
}

void jp_alerts_set_drift_listener(jp_alerts_t *a, jp_alerts_drift_fn fn, void *ctx)
{
    a->drift = fn;
    a->drift_ctx = ctx;
}

void jp_alerts_set_listener(jp_alerts_t *a, jp_alerts_listener_fn fn, void *ctx)
{
    a->listener = fn;
    a->listener_ctx = ctx;
}
