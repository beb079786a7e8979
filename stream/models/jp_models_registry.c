/*
 * The model registry of one country's models: versions cut from the
 * trainer, the aliases champion and challenger, the stages (CANDIDATE =
 * none, STAGING, PRODUCTION, ARCHIVED), the promotion gate, manual
 * promotion and rollback, and the ModelVersion record of every change.
 *
 * A version is a frozen copy of the trainer when it was cut (docs/models.md
 * "When versions are cut"), with the trainer's prequential evaluation up to
 * then (train.*) and its own evaluation on the windows after (eval.*: it
 * forecasts every later day, or scores every later churn label, without
 * learning). The challenger and the champion are compared on the same
 * windows - the duel - and the gate decides once, when the challenger has
 * promote_min_windows of them: promoted (the champion becomes the previous
 * champion, kept for rollback) or rejected (archived). A challenger not
 * decided before the next cut is rejected as superseded.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jp_models-internal.h"
#include "model/base/jp_err.h"

#define VERSION_TAG "MVER"

const char *const jp_models_kind_names[KIND__COUNT] = {"sales", "churn"};

version_t *jp_models_version_new(void)
{
    version_t *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        v->off_start[i] = v->off_end[i] = -1;
    return v;
}

void jp_models_version_free(version_t *v)
{
    if (!v)
        return;
    jp_flows_free(v->flows);
    jp_ftrl_free(v->ftrl);
    jp_eval_reg_free(v->train_reg);
    jp_eval_reg_free(v->reg);
    jp_eval_cls_free(v->train_cls);
    jp_eval_cls_free(v->cls);
    free(v);
}

void jp_models_model_release(model_t *m)
{
    jp_models_version_free(m->champion);
    jp_models_version_free(m->challenger);
    jp_models_version_free(m->previous);
    jp_flows_free(m->flows);
    jp_ftrl_free(m->ftrl);
    jp_eval_reg_free(m->train_reg);
    jp_eval_cls_free(m->train_cls);
    json_decref(m->history);
    free(m->dirty_versions);
    free(m->deleted_versions);
    memset(m, 0, sizeof(*m));
}

/* Adds number to a set kept as an array (a few entries per commit). */
static void mark(int32_t **v, size_t *n, size_t *cap, int32_t number, int *oom)
{
    for (size_t i = 0; i < *n; i++)
        if ((*v)[i] == number)
            return;
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 8;
        int32_t *grown = realloc(*v, c * sizeof(**v));
        if (!grown) {
            *oom = 1;
            return;
        }
        *v = grown;
        *cap = c;
    }
    (*v)[(*n)++] = number;
}

void jp_models_mark_version(model_t *m, int32_t number)
{
    mark(&m->dirty_versions, &m->n_dirty_versions, &m->cap_dirty_versions, number, &m->oom);
}

/* ---- serialization ---- */

static void put_str(jp_bytes_writer_t *w, const char *s)
{
    size_t n = strlen(s);
    jp_bytes_put_u32(w, (uint32_t)n);
    jp_bytes_put_raw(w, s, n);
}

static void get_str(jp_bytes_reader_t *r, char *out, size_t size)
{
    uint32_t n = jp_bytes_get_u32(r);
    if (n >= size) {
        r->err = 1;
        out[0] = '\0';
        return;
    }
    jp_bytes_get_raw(r, out, n);
    out[n] = '\0';
}

void jp_models_version_serialize(const version_t *v, kind_t kind, jp_bytes_writer_t *w)
{
    jp_bytes_put_header(w, VERSION_TAG, 1);
    jp_bytes_put_u32(w, (uint32_t)v->number);
    jp_bytes_put_u8(w, v->stage);
    const int64_t t[] = {v->created_at, v->event_at, v->data_start, v->data_end, v->windows};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        jp_bytes_put_i64(w, t[i]);
    for (int i = 0; i < JP_INPUT__COUNT; i++) {
        jp_bytes_put_i64(w, v->off_start[i]);
        jp_bytes_put_i64(w, v->off_end[i]);
    }
    put_str(w, v->event);
    put_str(w, v->reason);
    if (kind == KIND_SALES) {
        jp_flows_serialize(v->flows, w);
        jp_eval_reg_serialize(v->train_reg, w);
        jp_eval_reg_serialize(v->reg, w);
    } else {
        jp_ftrl_serialize(v->ftrl, w);
        jp_eval_cls_serialize(v->train_cls, w);
        jp_eval_cls_serialize(v->cls, w);
    }
}

version_t *jp_models_version_deserialize(jp_bytes_reader_t *r, kind_t kind)
{
    char err[128];
    version_t *v = jp_models_version_new();
    if (!v)
        return NULL;
    jp_bytes_get_header(r, VERSION_TAG, 1);
    v->number = (int32_t)jp_bytes_get_u32(r);
    v->stage = jp_bytes_get_u8(r);
    int64_t *t[] = {&v->created_at, &v->event_at, &v->data_start, &v->data_end, &v->windows};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        *t[i] = jp_bytes_get_i64(r);
    for (int i = 0; i < JP_INPUT__COUNT; i++) {
        v->off_start[i] = jp_bytes_get_i64(r);
        v->off_end[i] = jp_bytes_get_i64(r);
    }
    get_str(r, v->event, sizeof(v->event));
    get_str(r, v->reason, sizeof(v->reason));
    if (jp_bytes_reader_ok(r) && kind == KIND_SALES) {
        v->flows = jp_flows_deserialize(r, err, sizeof(err));
        v->train_reg = v->flows ? jp_eval_reg_deserialize(r, err, sizeof(err)) : NULL;
        v->reg = v->train_reg ? jp_eval_reg_deserialize(r, err, sizeof(err)) : NULL;
    } else if (jp_bytes_reader_ok(r)) {
        v->ftrl = jp_ftrl_deserialize(r, err, sizeof(err));
        v->train_cls = v->ftrl ? jp_eval_cls_deserialize(r, err, sizeof(err)) : NULL;
        v->cls = v->train_cls ? jp_eval_cls_deserialize(r, err, sizeof(err)) : NULL;
    }
    if (!jp_bytes_reader_ok(r) || (kind == KIND_SALES ? !v->reg : !v->cls)) {
        jp_models_version_free(v);
        return NULL;
    }
    return v;
}

/* ---- metrics ---- */

#define MAX_METRICS 96

typedef struct {
    const char *names[MAX_METRICS];
    char name_buf[MAX_METRICS][48];
    double values[MAX_METRICS];
    size_t n;
} metrics_t;

static void metric(metrics_t *m, const char *prefix, const char *name, double v)
{
    if (m->n == MAX_METRICS)
        return;
    snprintf(m->name_buf[m->n], sizeof(m->name_buf[0]), "%s%s", prefix, name);
    m->names[m->n] = m->name_buf[m->n];
    m->values[m->n++] = v;
}

static void reg_metrics(metrics_t *m, const char *prefix, const jp_eval_reg_t *e)
{
    if (!e)
        return;
    jp_eval_reg_result_t r;
    jp_eval_reg_cumulative(e, &r);
    metric(m, prefix, "windows", (double)r.n);
    metric(m, prefix, "mape", r.mape);
    metric(m, prefix, "mae", r.mae);
    metric(m, prefix, "coverage", r.coverage);
    metric(m, prefix, "band_width", r.mean_width);
}

static void cls_metrics(metrics_t *m, const char *prefix, const jp_eval_cls_t *e)
{
    if (!e)
        return;
    jp_eval_cls_result_t r;
    jp_eval_cls_cumulative(e, &r);
    metric(m, prefix, "n", (double)r.n);
    metric(m, prefix, "auc", r.auc);
    metric(m, prefix, "log_loss", r.log_loss);
    metric(m, prefix, "brier", r.brier);
    metric(m, prefix, "accuracy", r.accuracy);
    metric(m, prefix, "precision", r.precision);
    metric(m, prefix, "recall", r.recall);
    metric(m, prefix, "f1", r.f1);
    metric(m, prefix, "ece", r.ece);
    uint64_t count[10];
    double pred[10], obs[10];
    if (jp_eval_cls_calibration(e, 0, 10, count, pred, obs) != 0)
        return;
    for (int b = 0; b < 10; b++) {
        char name[40];
        snprintf(name, sizeof(name), "calibration.%d.count", b);
        metric(m, prefix, name, (double)count[b]);
        snprintf(name, sizeof(name), "calibration.%d.predicted", b);
        metric(m, prefix, name, pred[b]);
        snprintf(name, sizeof(name), "calibration.%d.observed", b);
        metric(m, prefix, name, obs[b]);
    }
}

static void version_metrics(const model_t *mod, const version_t *v, metrics_t *m)
{
    m->n = 0;
    if (mod->kind == KIND_SALES) {
        reg_metrics(m, "eval.", v->reg);
        reg_metrics(m, "train.", v->train_reg);
    } else {
        cls_metrics(m, "eval.", v->cls);
        cls_metrics(m, "train.", v->train_cls);
    }
    if (v == mod->challenger) {
        metric(m, "", "gate.windows", (double)mod->duel_windows);
        metric(m, "", "gate.error", mod->duel_n[0] ? mod->duel_err[0] / mod->duel_n[0] : NAN);
        metric(m, "", "gate.champion_error",
               mod->duel_n[1] ? mod->duel_err[1] / mod->duel_n[1] : NAN);
    }
}

static const char *stage_name(uint8_t s)
{
    static const char *const names[] = {"CANDIDATE", "STAGING", "PRODUCTION", "ARCHIVED"};
    return s < 4 ? names[s] : "UNKNOWN";
}

static void iso_time(int64_t ms, char *out, size_t size)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%MZ", &tm);
}

/* ---- the record ---- */

static void model_name(const country_t *c, kind_t kind, char *out, size_t size)
{
    snprintf(out, size, "%s-%s", jp_models_kind_names[kind], c->code);
}

/* Aliases of v: champion, challenger. */
static size_t aliases(const model_t *m, const version_t *v, jp_avro_str_t out[2])
{
    size_t n = 0;
    if (v == m->champion)
        out[n++] = jp_avro_str("champion");
    if (v == m->challenger)
        out[n++] = jp_avro_str("challenger");
    return n;
}

/* The named coefficients: each flow's elasticity (sales), each feature's
 * weight (churn: no standard error, NaN). */
static size_t coefficients(const model_t *m, const version_t *v, jp_named_coefficient_t *out,
                           char names[][48])
{
    size_t n = 0;
    if (m->kind == KIND_SALES) {
        for (int f = 0; f < JP_FLOW__COUNT; f++) {
            double e, sd;
            if (jp_flows_elasticity(v->flows, (jp_flow_t)f, &e, &sd) != 0)
                continue;
            snprintf(names[n], 48, "%s.log_prize", jp_flow_name((jp_flow_t)f));
            out[n] = (jp_named_coefficient_t){jp_avro_str(names[n]), e, sd};
            n++;
        }
        return n;
    }
    snprintf(names[n], 48, "intercept");
    out[n] = (jp_named_coefficient_t){jp_avro_str(names[n]), jp_ftrl_bias(v->ftrl), NAN};
    n++;
    for (size_t i = 0; i < JP_MODELS_CHURN_FEATURES; i++) {
        const char *f = jp_models_churn_feature_name(i);
        snprintf(names[n], 48, "%s", f);
        out[n] = (jp_named_coefficient_t){
            jp_avro_str(names[n]), jp_ftrl_weight(v->ftrl, jp_ftrl_hash_numeric(v->ftrl, f)), NAN};
        n++;
    }
    return n;
}

static int emit(inst_t *in, const country_t *c, const model_t *m, version_t *v)
{
    jp_models_t *g = in->g;
    const jp_config_t *cfg = g->cfg;
    char name[16], key[32];
    model_name(c, m->kind, name, sizeof(name));
    int kl = snprintf(key, sizeof(key), "%s/%d", name, (int)v->number);

    jp_model_version_t mv;
    memset(&mv, 0, sizeof(mv));
    mv.model = jp_avro_str(name);
    mv.version = v->number;
    mv.stage = (jp_model_stage_t)v->stage;
    jp_avro_str_t al[2];
    mv.aliases.items = al;
    mv.aliases.n = aliases(m, v, al);

    jp_bytes_writer_t pw;
    jp_bytes_writer_init(&pw);
    if (m->kind == KIND_SALES)
        jp_models_sales_parameters(v->flows, &pw);
    else
        jp_ftrl_serialize(v->ftrl, &pw);
    mv.parameters = (jp_avro_str_t){(const char *)pw.buf, pw.len};

    static metrics_t mx; /* engine thread only */
    version_metrics(m, v, &mx);
    jp_avro_str_t mkeys[MAX_METRICS];
    for (size_t i = 0; i < mx.n; i++)
        mkeys[i] = jp_avro_str(mx.names[i]);
    mv.metrics.keys = mkeys;
    mv.metrics.values = mx.values;
    mv.metrics.n = mx.n;

    jp_offset_range_t ranges[JP_INPUT__COUNT];
    size_t nr = 0;
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        if (v->off_start[i] >= 0)
            ranges[nr++] =
                (jp_offset_range_t){jp_avro_str(jp_proc_input_topic(in->ctx, (jp_input_t)i)),
                                    jp_proc_partition(in->ctx), v->off_start[i], v->off_end[i]};
    mv.training_data.offsets.items = ranges;
    mv.training_data.offsets.n = nr;
    mv.training_data.event_time_start = v->data_start;
    mv.training_data.event_time_end = v->data_end;
    mv.code_version = jp_avro_str(g->code_version);
    mv.config_hash = jp_avro_str(g->config_hash);
    mv.created_at = v->created_at;
    mv.country = jp_avro_str(c->code);
    mv.kind = jp_avro_str(jp_models_kind_names[m->kind]);
    mv.event = jp_avro_str(v->event);
    mv.reason = jp_avro_str(v->reason);
    mv.event_at = v->event_at;

    jp_named_coefficient_t co[JP_MODELS_CHURN_FEATURES + JP_FLOW__COUNT + 1];
    char co_names[JP_MODELS_CHURN_FEATURES + JP_FLOW__COUNT + 1][48];
    mv.coefficients.items = co;
    mv.coefficients.n = coefficients(m, v, co, co_names);

    mv.feature_schema.record = jp_avro_str(
        jp_event_info(m->kind == KIND_SALES ? JP_EVENT_FEATURES : JP_EVENT_SALE)->record);
    mv.feature_schema.fingerprint = jp_avro_str(g->feature_fingerprint[m->kind]);
    jp_avro_str_t fnames[JP_FLOWS_MAX_FEATURES];
    size_t nf = 0;
    if (m->kind == KIND_SALES)
        for (; nf < jp_flows_n_features(v->flows) && nf < JP_FLOWS_MAX_FEATURES; nf++)
            fnames[nf] = jp_avro_str(jp_flows_feature_name(v->flows, nf));
    else
        for (; nf < JP_MODELS_CHURN_FEATURES; nf++)
            fnames[nf] = jp_avro_str(jp_models_churn_feature_name(nf));
    mv.feature_schema.features.items = fnames;
    mv.feature_schema.features.n = nf;

    jp_avro_buf_t out = {0};
    char err[256];
    int rc =
        pw.oom || jp_serde_encode(jp_proc_serde(in->ctx), JP_EVENT_MODEL_VERSION,
                                  cfg->topics.models, &mv, &out, err, sizeof(err)) != JP_SERDE_OK
            ? -1
            : jp_proc_emit(in->ctx, JP_OUTPUT_MODELS, key, (size_t)kl, out.data, out.len);
    jp_avro_buf_free(&out);
    jp_bytes_writer_free(&pw);
    return rc;
}

/* ---- JSON views ---- */

static json_t *number_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *jp_models_version_json(const inst_t *in, const country_t *c, kind_t kind,
                               const version_t *v)
{
    const model_t *m = &c->models[kind];
    char name[16];
    model_name(c, kind, name, sizeof(name));
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(name));
    json_object_set_new(o, "version", json_integer(v->number));
    json_object_set_new(o, "stage", json_string(stage_name(v->stage)));
    json_t *al = json_array();
    jp_avro_str_t a[2];
    size_t na = aliases(m, v, a);
    for (size_t i = 0; i < na; i++)
        json_array_append_new(al, json_stringn(a[i].ptr, a[i].len));
    json_object_set_new(o, "aliases", al);
    json_object_set_new(o, "created_at", json_integer(v->created_at));
    json_object_set_new(o, "event", json_string(v->event));
    json_object_set_new(o, "event_at", json_integer(v->event_at));
    json_object_set_new(o, "reason", json_string(v->reason));
    static metrics_t mx; /* engine thread only */
    version_metrics(m, v, &mx);
    json_t *mj = json_object();
    for (size_t i = 0; i < mx.n; i++)
        json_object_set_new(mj, mx.names[i], number_or_null(mx.values[i]));
    json_object_set_new(o, "metrics", mj);
    json_t *data = json_object(), *offs = json_array();
    json_object_set_new(data, "event_time_start", json_integer(v->data_start));
    json_object_set_new(data, "event_time_end", json_integer(v->data_end));
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        if (v->off_start[i] >= 0)
            json_array_append_new(offs, json_pack("{s:s,s:i,s:I,s:I}", "topic",
                                                  jp_proc_input_topic(in->ctx, (jp_input_t)i),
                                                  "partition", jp_proc_partition(in->ctx),
                                                  "start_offset", (json_int_t)v->off_start[i],
                                                  "end_offset", (json_int_t)v->off_end[i]));
    json_object_set_new(data, "offsets", offs);
    json_object_set_new(o, "data", data);
    json_object_set_new(o, "code_version", json_string(in->g->code_version));
    json_object_set_new(o, "config_hash", json_string(in->g->config_hash));
    if (kind == KIND_SALES)
        json_object_set_new(o, "elasticities", jp_models_elasticities(v->flows));
    jp_named_coefficient_t co[JP_MODELS_CHURN_FEATURES + JP_FLOW__COUNT + 1];
    char co_names[JP_MODELS_CHURN_FEATURES + JP_FLOW__COUNT + 1][48];
    size_t nc = v->flows || v->ftrl ? coefficients(m, v, co, co_names) : 0;
    json_t *cj = json_array();
    for (size_t i = 0; i < nc; i++)
        json_array_append_new(cj, json_pack("{s:s,s:o,s:o}", "name", co_names[i], "estimate",
                                            number_or_null(co[i].estimate), "stderr",
                                            number_or_null(co[i].stderr_)));
    json_object_set_new(o, "coefficients", cj);
    return o;
}

json_t *jp_models_model_json(const inst_t *in, const country_t *c, kind_t kind)
{
    const model_t *m = &c->models[kind];
    char name[16];
    model_name(c, kind, name, sizeof(name));
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(name));
    json_object_set_new(o, "country", json_string(c->code));
    json_object_set_new(o, "kind", json_string(jp_models_kind_names[kind]));
    json_t *al = json_object();
    json_object_set_new(al, "champion",
                        m->champion ? jp_models_version_json(in, c, kind, m->champion)
                                    : json_null());
    json_object_set_new(al, "challenger",
                        m->challenger ? jp_models_version_json(in, c, kind, m->challenger)
                                      : json_null());
    json_object_set_new(o, "aliases", al);
    json_object_set_new(o, "previous_champion",
                        m->previous ? json_integer(m->previous->number) : json_null());
    /* every version's last registry view, by number */
    json_t *versions = json_array();
    for (int32_t n = 1; n <= m->last_number; n++) {
        char k[16];
        snprintf(k, sizeof(k), "%d", (int)n);
        json_t *h = m->history ? json_object_get(m->history, k) : NULL;
        if (h)
            json_array_append(versions, h);
    }
    json_object_set_new(o, "versions", versions);
    json_t *tr = json_object();
    json_object_set_new(tr, "data_start",
                        m->train_start == INT64_MIN ? json_null() : json_integer(m->train_start));
    json_object_set_new(tr, "data_end", json_integer(m->trained_until));
    metrics_t *mx = calloc(1, sizeof(*mx));
    if (mx) {
        if (kind == KIND_SALES)
            reg_metrics(mx, "", m->train_reg);
        else
            cls_metrics(mx, "", m->train_cls);
        json_t *mj = json_object();
        for (size_t i = 0; i < mx->n; i++)
            json_object_set_new(mj, mx->names[i], number_or_null(mx->values[i]));
        json_object_set_new(tr, "metrics", mj);
        free(mx);
    }
    if (kind == KIND_SALES)
        json_object_set_new(tr, "elasticities", jp_models_elasticities(m->flows));
    json_object_set_new(o, "trainer", tr);
    return o;
}

/* Records v's change: its event, the record, and its history entry. */
static int record(inst_t *in, country_t *c, model_t *m, version_t *v, const char *event,
                  int64_t now)
{
    snprintf(v->event, sizeof(v->event), "%s", event);
    v->event_at = now;
    if (!m->history)
        m->history = json_object();
    char k[16];
    snprintf(k, sizeof(k), "%d", (int)v->number);
    json_object_set_new(m->history, k, jp_models_version_json(in, c, m->kind, v));
    jp_models_mark_version(m, v->number);
    m->dirty_registry = 1;
    return emit(in, c, m, v);
}

/* A version that keeps no parameters any more. */
static void drop(model_t *m, version_t *v)
{
    mark(&m->deleted_versions, &m->n_deleted_versions, &m->cap_deleted_versions, v->number,
         &m->oom);
    jp_models_version_free(v);
}

static void duel_reset(model_t *m)
{
    m->duel_windows = 0;
    m->duel_err[0] = m->duel_err[1] = m->duel_n[0] = m->duel_n[1] = 0;
}

/* ---- cut ---- */

static int ready(const inst_t *in, const model_t *m, int64_t now)
{
    if (m->train_start == INT64_MIN || now - m->train_start < in->g->cfg->models.min_training_ms)
        return 0;
    if (m->kind == KIND_SALES)
        return jp_flows_ready(m->flows);
    jp_eval_cls_result_t r;
    jp_eval_cls_cumulative(m->train_cls, &r);
    return r.tp + r.fn >= CHURN_MIN_LABEL && r.tn + r.fp >= CHURN_MIN_LABEL;
}

static void *copy_reg(const jp_eval_reg_t *e)
{
    char err[64];
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_eval_reg_serialize(e, &w);
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, w.buf, w.len);
    jp_eval_reg_t *c = w.oom ? NULL : jp_eval_reg_deserialize(&r, err, sizeof(err));
    jp_bytes_writer_free(&w);
    return c;
}

static void *copy_cls(const jp_eval_cls_t *e)
{
    char err[64];
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_eval_cls_serialize(e, &w);
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, w.buf, w.len);
    jp_eval_cls_t *c = w.oom ? NULL : jp_eval_cls_deserialize(&r, err, sizeof(err));
    jp_bytes_writer_free(&w);
    return c;
}

int jp_models_cut(inst_t *in, country_t *c, kind_t kind, int64_t now)
{
    model_t *m = &c->models[kind];
    if (!ready(in, m, now))
        return 0;
    char err[64], when[32];
    version_t *v = jp_models_version_new();
    if (!v)
        return -1;
    v->number = m->last_number + 1;
    v->stage = JP_MODEL_STAGE_STAGING;
    v->created_at = now;
    v->data_start = m->train_start;
    v->data_end = now;
    jp_models_data_offsets(in, v->data_start, v->data_end, v->off_start, v->off_end);
    if (kind == KIND_SALES) {
        v->flows = jp_models_flows_copy(m->flows);
        v->train_reg = copy_reg(m->train_reg);
        v->reg = jp_eval_reg_create(SALES_EVAL_WIN, err, sizeof(err));
    } else {
        jp_eval_cls_config_t cc = {CHURN_EVAL_WIN, 0.5, 10, 4096};
        v->ftrl = jp_models_ftrl_copy(m->ftrl);
        v->train_cls = copy_cls(m->train_cls);
        v->cls = jp_eval_cls_create(&cc, err, sizeof(err));
    }
    if (kind == KIND_SALES ? !v->flows || !v->train_reg || !v->reg
                           : !v->ftrl || !v->train_cls || !v->cls) {
        jp_models_version_free(v);
        return -1;
    }
    m->last_number = v->number;
    iso_time(now, when, sizeof(when));
    if (m->retrained_at != INT64_MIN) {
        char from[32];
        iso_time(m->retrained_at, from, sizeof(from));
        snprintf(v->reason, sizeof(v->reason),
                 "cut at %s from a trainer restarted at the change point %s", when, from);
    } else {
        snprintf(v->reason, sizeof(v->reason), "cut at %s (headline draw)", when);
    }
    if (m->challenger) {
        version_t *old = m->challenger;
        old->stage = JP_MODEL_STAGE_ARCHIVED;
        snprintf(old->reason, sizeof(old->reason),
                 "superseded by version %d after %lld of %lld gate windows", (int)v->number,
                 (long long)m->duel_windows, (long long)c->country->models.promote_min_windows);
        m->challenger = NULL;
        int rc = record(in, c, m, old, "REJECTED", now);
        drop(m, old);
        if (rc != 0) {
            jp_models_version_free(v);
            return -1;
        }
    }
    m->challenger = v;
    duel_reset(m);
    return record(in, c, m, v, "REGISTERED", now);
}

/* ---- promotion ---- */

/* Makes the challenger the champion; the champion becomes the previous
 * champion (kept for rollback), the old previous one is dropped. */
static int promote(inst_t *in, country_t *c, model_t *m, int64_t now, const char *reason)
{
    version_t *v = m->challenger, *old = m->champion;
    m->challenger = NULL;
    m->champion = v;
    v->stage = JP_MODEL_STAGE_PRODUCTION;
    snprintf(v->reason, sizeof(v->reason), "%s", reason);
    int rc = 0;
    if (old) {
        old->stage = JP_MODEL_STAGE_ARCHIVED;
        snprintf(old->reason, sizeof(old->reason), "replaced by version %d", (int)v->number);
        rc = record(in, c, m, old, "ARCHIVED", now);
        if (m->previous)
            drop(m, m->previous);
        m->previous = old;
        jp_models_mark_version(m, old->number);
    }
    if (c->promotions[m->kind][0])
        jp_counter_add(c->promotions[m->kind][0], 1);
    duel_reset(m);
    return rc == 0 ? record(in, c, m, v, "PROMOTED", now) : rc;
}

static double pct(double x)
{
    return 100 * x;
}

int jp_models_gate(inst_t *in, country_t *c, kind_t kind, int64_t now)
{
    model_t *m = &c->models[kind];
    const jp_country_t *k = c->country;
    if (!m->challenger || m->duel_windows < k->models.promote_min_windows)
        return 0;
    const char *what = kind == KIND_SALES ? "mape" : "log-loss";
    double err_ch = m->duel_n[0] ? m->duel_err[0] / m->duel_n[0] : NAN;
    double err_champ = m->duel_n[1] ? m->duel_err[1] / m->duel_n[1] : NAN;
    double scale = kind == KIND_SALES ? 100 : 1;
    const char *unit = kind == KIND_SALES ? "%" : "";
    char why[REASON_LEN], band[96] = "";
    int pass = isfinite(err_ch);
    int len = snprintf(why, sizeof(why), "gate: %s %.4g%s", what, err_ch * scale, unit);
    if (m->champion) {
        double limit = err_champ * (1 - k->models.promote_margin);
        pass = pass && isfinite(err_champ) && err_ch <= limit;
        len += snprintf(why + len, sizeof(why) - (size_t)len, " vs champion %.4g%s (margin %g%%)",
                        err_champ * scale, unit, pct(k->models.promote_margin));
    }
    len += snprintf(why + len, sizeof(why) - (size_t)len, " over %lld windows",
                    (long long)m->duel_windows);
    if (kind == KIND_SALES) {
        jp_eval_reg_result_t r;
        jp_eval_reg_cumulative(m->challenger->reg, &r);
        int in_band = isfinite(r.coverage) && r.coverage >= k->models.coverage_min &&
                      r.coverage <= k->models.coverage_max;
        snprintf(band, sizeof(band), ", coverage %.1f%% %s [%g%%, %g%%]", pct(r.coverage),
                 in_band ? "in" : "outside", pct(k->models.coverage_min),
                 pct(k->models.coverage_max));
        pass = pass && in_band;
        /* an elasticity that is not identified (a prize that never moved)
         * is absent, not NaN */
        for (int f = 0; f < JP_FLOW__COUNT; f++) {
            double e, sd;
            if (jp_flows_elasticity(m->challenger->flows, (jp_flow_t)f, &e, &sd) == 0 &&
                (!isfinite(e) || !isfinite(sd))) {
                pass = 0;
                snprintf(band + strlen(band), sizeof(band) - strlen(band), ", %s elasticity NaN",
                         jp_flow_name((jp_flow_t)f));
                break;
            }
        }
    }
    snprintf(why + len, sizeof(why) - (size_t)len, "%s: %s", band,
             pass ? (m->champion ? "promoted" : "first champion") : "rejected");
    if (pass)
        return promote(in, c, m, now, why);
    version_t *v = m->challenger;
    m->challenger = NULL;
    v->stage = JP_MODEL_STAGE_ARCHIVED;
    snprintf(v->reason, sizeof(v->reason), "%s", why);
    duel_reset(m);
    int rc = record(in, c, m, v, "REJECTED", now);
    drop(m, v);
    return rc;
}

int jp_models_rollback(inst_t *in, country_t *c, kind_t kind, int64_t now, char *msg,
                       size_t msg_size)
{
    model_t *m = &c->models[kind];
    if (!m->previous) {
        jp_err_set(msg, msg_size, "no previous champion to roll back to");
        return 409;
    }
    version_t *back = m->previous, *cur = m->champion;
    m->previous = cur;
    m->champion = back;
    back->stage = JP_MODEL_STAGE_PRODUCTION;
    snprintf(back->reason, sizeof(back->reason), "rolled back to by an operator (from version %d)",
             cur ? (int)cur->number : 0);
    int rc = 0;
    if (cur) {
        cur->stage = JP_MODEL_STAGE_ARCHIVED;
        snprintf(cur->reason, sizeof(cur->reason), "rolled back by an operator to version %d",
                 (int)back->number);
        rc = record(in, c, m, cur, "ARCHIVED", now);
    }
    if (rc == 0)
        rc = record(in, c, m, back, "ROLLED_BACK", now);
    if (c->promotions[kind][1])
        jp_counter_add(c->promotions[kind][1], 1);
    if (rc != 0)
        jp_err_set(msg, msg_size, "the registry record could not be queued");
    return rc ? 500 : 0;
}

int jp_models_promote(inst_t *in, country_t *c, kind_t kind, int32_t number, int64_t now, char *msg,
                      size_t msg_size)
{
    model_t *m = &c->models[kind];
    if (m->challenger && (number == 0 || number == m->challenger->number)) {
        char why[REASON_LEN];
        snprintf(why, sizeof(why), "promoted by an operator after %lld gate windows",
                 (long long)m->duel_windows);
        if (promote(in, c, m, now, why) != 0) {
            jp_err_set(msg, msg_size, "the registry record could not be queued");
            return 500;
        }
        return 0;
    }
    if (m->previous && number == m->previous->number)
        return jp_models_rollback(in, c, kind, now, msg, msg_size);
    if (number == 0)
        jp_err_set(msg, msg_size, "there is no challenger to promote");
    else
        jp_err_set(msg, msg_size,
                   "version %d is neither the challenger nor the previous champion (only those "
                   "keep their parameters)",
                   (int)number);
    return 409;
}
