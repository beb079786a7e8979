/*
 * jp_test_alerts: see jp_test_alerts.h.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jp_test_alerts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/jp_compose_alerts.h"
#include "config/jp_calendar.h"
#include "registry/jp_registry_client.h"
#include "registry/jp_registry_serde.h"

#define DAY_MS  86400000LL
#define WEEK_MS (7 * DAY_MS)

/* ---- the stand-in for the learning loop's sales evaluation --------------------------- */

#define MAX_PERIODS 64 /* the recent periods a retrain may use */
#define MAX_TASKS   64

typedef struct {
    char code[3];
    /* the open draw periods' advertised prizes (sum of ln prize, sales) */
    int64_t acc_start[8];
    double acc_log[8], acc_n[8];
    /* the last periods seen (a ring): start, ln(J / J_ref), ln(sign-ups + 1/2),
     * sign-ups */
    int64_t p_start[MAX_PERIODS];
    double p_x[MAX_PERIODS], p_y[MAX_PERIODS], p_s[MAX_PERIODS];
    size_t n_periods; /* every period seen */
    double log_ref;   /* ln J_ref: the first advertised prize */
    int32_t version;
    double a[2][2], b[2]; /* posterior precision and A * mean of (intercept, elasticity) */
    int retrain;          /* the drift listener asked for a retrain */
    int64_t retrain_from;
} model_t;

typedef struct jp_test_evaluator_s evaluator_t;

typedef struct {
    evaluator_t *g;
    jp_proc_ctx_t *ctx;
    model_t m[8];
    size_t n;
} eval_inst_t;

struct jp_test_evaluator_s {
    jp_proc_t proc;
    jp_alerts_t *alerts;
    eval_inst_t *inst[MAX_TASKS];
    int retrains;
    int64_t first_cp[8]; /* per country index of the world: first change point heard */
    char first_cc[8][3];
    size_t n_first;
    const jp_country_t *cal_of[8]; /* calendars by country */
    jp_calendar_t *cal[8];
};

static model_t *model_of(eval_inst_t *in, const char *cc)
{
    for (size_t i = 0; i < in->n; i++)
        if (memcmp(in->m[i].code, cc, 2) == 0)
            return &in->m[i];
    assert_true(in->n < 8);
    model_t *m = &in->m[in->n++];
    memset(m, 0, sizeof(*m));
    memcpy(m->code, cc, 2);
    m->version = 1;
    return m;
}

/* A weak prior: intercept free, elasticity ~ N(0.5, 1). */
static void prior(model_t *m)
{
    memset(m->a, 0, sizeof(m->a));
    memset(m->b, 0, sizeof(m->b));
    m->a[0][0] = 1e-6;
    m->a[1][1] = 1.0;
    m->b[1] = 0.5;
}

static void learn(model_t *m, double x, double y, double w)
{
    m->a[0][0] += w;
    m->a[0][1] += w * x;
    m->a[1][0] += w * x;
    m->a[1][1] += w * x * x;
    m->b[0] += w * y;
    m->b[1] += w * x * y;
}

/* Posterior mean and the variance of x'beta. */
static void predict(const model_t *m, double x, double *mean, double *var)
{
    double det = m->a[0][0] * m->a[1][1] - m->a[0][1] * m->a[1][0];
    double i00 = m->a[1][1] / det, i01 = -m->a[0][1] / det, i11 = m->a[0][0] / det;
    double b0 = i00 * m->b[0] + i01 * m->b[1], b1 = i01 * m->b[0] + i11 * m->b[1];
    *mean = b0 + b1 * x;
    *var = i00 + 2 * i01 * x + i11 * x * x;
}

static void *eval_open(void *global, jp_proc_ctx_t *ctx, char *errstr, size_t errstr_size)
{
    (void)errstr, (void)errstr_size;
    eval_inst_t *in = calloc(1, sizeof(*in));
    assert_non_null(in);
    in->g = global;
    in->ctx = ctx;
    assert_true(jp_proc_partition(ctx) < MAX_TASKS);
    in->g->inst[jp_proc_partition(ctx)] = in;
    return in;
}

static void eval_close(void *inst)
{
    eval_inst_t *in = inst;
    if (in->g->inst[jp_proc_partition(in->ctx)] == in)
        in->g->inst[jp_proc_partition(in->ctx)] = NULL;
    free(in);
}

/* Sales carry the advertised prize: its mean log per draw period (a sum:
 * the same whatever the order of the records). */
static int eval_record(void *inst, const jp_proc_record_t *rec)
{
    eval_inst_t *in = inst;
    if (rec->input != JP_INPUT_SALES)
        return 0;
    model_t *m = model_of(in, rec->country);
    const jp_country_t *k = jp_config_country(jp_proc_config(in->ctx), rec->country);
    size_t ci = 0;
    while (ci < 8 && in->g->cal_of[ci] && in->g->cal_of[ci] != k)
        ci++;
    assert_true(ci < 8);
    if (!in->g->cal_of[ci]) {
        char err[256];
        in->g->cal[ci] = jp_calendar_new(k, err, sizeof(err));
        assert_non_null(in->g->cal[ci]);
        in->g->cal_of[ci] = k;
    }
    int64_t start, end;
    jp_draw_t d;
    assert_int_equal(jp_calendar_draw_period(in->g->cal[ci], rec->event_time, &start, &end, &d), 0);
    size_t slot = (size_t)((start / DAY_MS) % 8);
    if (m->acc_start[slot] != start) {
        m->acc_start[slot] = start;
        m->acc_log[slot] = m->acc_n[slot] = 0;
    }
    m->acc_log[slot] += log((double)rec->ev.sale->advertised_prize_minor);
    m->acc_n[slot] += 1;
    return 0;
}

static void retrain(model_t *m)
{
    prior(m);
    size_t n = m->n_periods < MAX_PERIODS ? m->n_periods : MAX_PERIODS;
    for (size_t i = 0; i < n; i++)
        if (m->p_start[i] >= m->retrain_from) /* the periods from the change point on */
            learn(m, m->p_x[i], m->p_y[i], m->p_s[i] + 0.5);
    m->version++;
    m->retrain = 0;
}

static int eval_window(void *inst, const jp_feature_vector_t *fv)
{
    eval_inst_t *in = inst;
    if (fv->window_kind != JP_WINDOW_DRAW || fv->window_end - fv->window_start > WEEK_MS)
        return 0;
    char cc[3] = {fv->country.ptr[0], fv->country.ptr[1], 0};
    model_t *m = model_of(in, cc);
    size_t slot = (size_t)((fv->window_start / DAY_MS) % 8);
    if (m->acc_start[slot] != fv->window_start || m->acc_n[slot] == 0)
        return 0; /* no sale in the period (a silent source): nothing to score */
    double logj = m->acc_log[slot] / m->acc_n[slot];
    if (m->n_periods == 0) {
        m->log_ref = logj;
        prior(m);
    }
    double x = logj - m->log_ref, s = (double)fv->signups, y = log(s + 0.5), w = s + 0.5;
    int64_t t = fv->window_end + jp_proc_config(in->ctx)->windows.grace_ms;
    if (m->n_periods >= 6) {
        double mean, var;
        predict(m, x, &mean, &var);
        jp_alerts_eval_t e = {cc, "sales",         m->version, (y - mean) / sqrt(1.0 / w + var),
                              t,  fv->window_start};
        if (jp_alerts_observe_eval(in->g->alerts, jp_proc_partition(in->ctx), &e) != 0)
            return -1;
    }
    size_t at = m->n_periods++ % MAX_PERIODS;
    m->p_start[at] = fv->window_start;
    m->p_x[at] = x;
    m->p_y[at] = y;
    m->p_s[at] = s;
    if (m->retrain)
        retrain(m);
    else
        learn(m, x, y, w);
    return 0;
}

static void on_drift(void *ctx, int partition, const jp_alerts_drift_t *d)
{
    evaluator_t *g = ctx;
    eval_inst_t *in = g->inst[partition];
    assert_non_null(in);
    model_t *m = model_of(in, d->country);
    m->retrain = 1; /* after the evaluation that caused it */
    m->retrain_from = d->change_point;
    g->retrains++;
    size_t i = 0;
    while (i < g->n_first && strcmp(g->first_cc[i], d->country) != 0)
        i++;
    if (i == g->n_first && i < 8) {
        snprintf(g->first_cc[i], 3, "%s", d->country);
        g->first_cp[i] = d->change_point;
        g->n_first++;
    }
}

jp_test_evaluator_t *jp_test_evaluator_new(jp_alerts_t *alerts)
{
    evaluator_t *g = calloc(1, sizeof(*g));
    assert_non_null(g);
    g->alerts = alerts;
    g->proc = (jp_proc_t){
        .name = "test-sales-evaluator",
        .global = g,
        .open = eval_open,
        .close = eval_close,
        .on_record = eval_record,
        .on_window = eval_window,
    };
    jp_alerts_set_drift_listener(alerts, on_drift, g);
    return g;
}

void jp_test_evaluator_free(jp_test_evaluator_t *g)
{
    for (size_t i = 0; g && i < 8; i++)
        jp_calendar_free(g->cal[i]);
    free(g);
}

const jp_proc_t *jp_test_evaluator_proc(jp_test_evaluator_t *g)
{
    return &g->proc;
}

int jp_test_evaluator_retrains(const jp_test_evaluator_t *g)
{
    return g->retrains;
}

int64_t jp_test_evaluator_first_change(const jp_test_evaluator_t *g, const char *country)
{
    for (size_t i = 0; i < g->n_first; i++)
        if (strcmp(g->first_cc[i], country) == 0)
            return g->first_cp[i];
    return INT64_MIN;
}

/* ---- the alerts as they were written ------------------------------------------------ */

static jp_test_alert_t *read_alerts(jp_test_stack_t *s, const char *topic, const char *base,
                                    size_t *n, size_t *duplicates)
{
    jp_test_recset_t rs;
    jp_test_read_distinct(s, topic, &rs);
    char err[512];
    jp_registry_client_t *reg =
        jp_registry_client_new(jp_devstack_registry_url(s->stack), err, sizeof(err));
    assert_non_null(reg);
    jp_serde_config_t sc = {0};
    sc.registry = jp_serde_registry_client(reg);
    jp_serde_t *serde = jp_serde_new(&sc, err, sizeof(err));
    assert_non_null(serde);
    jp_test_alert_t *out = calloc(rs.n + 1, sizeof(*out));
    assert_non_null(out);
    for (size_t i = 0; i < rs.n; i++) {
        const unsigned char *b = (const unsigned char *)rs.items[i];
        size_t klen = (size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3];
        jp_avro_arena_t arena;
        jp_avro_arena_init(&arena);
        jp_alert_t a;
        if (jp_serde_decode(serde, JP_EVENT_ALERT, rs.items[i] + 4 + klen, rs.lens[i] - 4 - klen,
                            &a, &arena, err, sizeof(err)) != JP_SERDE_OK)
            fail_msg("an alert record does not decode: %s", err);
        jp_test_alert_t *o = &out[i];
        assert_int_equal(klen, a.fingerprint.len);
        assert_memory_equal(rs.items[i] + 4, a.fingerprint.ptr, klen); /* keyed by fingerprint */
        snprintf(o->fp, sizeof(o->fp), "%.*s", (int)a.fingerprint.len, a.fingerprint.ptr);
        snprintf(o->name, sizeof(o->name), "%.*s", (int)a.name.len, a.name.ptr);
        if (a.has_country)
            snprintf(o->country, sizeof(o->country), "%.*s", (int)a.country.len, a.country.ptr);
        const jp_avro_str_t *k = a.labels.keys, *v = a.labels.values;
        size_t len = 0;
        for (size_t j = 0; j < a.labels.n && len < sizeof(o->labels); j++)
            len += (size_t)snprintf(o->labels + len, sizeof(o->labels) - len, "%.*s=%.*s ",
                                    (int)k[j].len, k[j].ptr, (int)v[j].len, v[j].ptr);
        char runbook[192];
        snprintf(runbook, sizeof(runbook), "%sdocs/runbooks/%s.md", base, o->name);
        assert_true(jp_avro_str_eq(a.runbook_url, runbook));
        o->firing = a.status == JP_ALERT_STATUS_FIRING;
        o->critical = a.severity == JP_ALERT_SEVERITY_CRITICAL;
        o->starts_at = a.starts_at;
        o->ends_at = a.has_ends_at ? a.ends_at : -1;
        assert_int_equal(a.has_ends_at, !o->firing);
        jp_avro_arena_free(&arena);
    }
    *n = rs.n;
    if (duplicates)
        *duplicates = rs.read - rs.n;
    jp_serde_free(serde);
    jp_registry_client_free(reg);
    jp_test_recset_free(&rs);
    return out;
}

jp_test_alert_t *jp_test_alerts_read(jp_test_stack_t *s, const char *topic, size_t *n,
                                     size_t *duplicates)
{
    return read_alerts(s, topic, "", n, duplicates);
}

jp_test_alert_t *jp_test_alerts_read_base(jp_test_stack_t *s, const char *topic, const char *base,
                                          size_t *n)
{
    return read_alerts(s, topic, base, n, NULL);
}

void jp_test_alerts_run_live(jp_test_stack_t *s, const char *tag, const char *world, int weeks,
                             jp_test_alerts_loop_t loop, jp_test_alerts_run_t *out)
{
    memset(out, 0, sizeof(*out));
    jp_config_t cfg;
    jp_test_engine_config(s, tag, &cfg);
    char err[512];
    jp_alerts_t *alerts = NULL;
    jp_models_t *models = NULL;
    const jp_proc_t *procs[2];
    if (loop == JP_TEST_ALERTS_MODELS) {
        /* as jackpot run composes them: the learning loop, then the alerts */
        cfg.models.enabled = 1;
        models = jp_models_new(&cfg, NULL, err, sizeof(err));
        if (!models || jp_compose_alerts(&cfg, NULL, models, &alerts, err, sizeof(err)) != 0)
            fail_msg("compose: %s", err);
        procs[0] = jp_models_proc(models);
    } else {
        cfg.alerts.concept.evaluations_per_year = 52; /* the stand-in scores weekly periods */
        alerts = jp_alerts_new(&cfg, NULL, err, sizeof(err));
        if (!alerts)
            fail_msg("alerts: %s", err);
        out->ev = jp_test_evaluator_new(alerts);
        procs[0] = jp_test_evaluator_proc(out->ev);
    }
    procs[1] = jp_alerts_proc(alerts);
    jp_test_engine_t *e = jp_test_engine_start_with(&cfg, NULL, procs, 2);
    jp_sim_world_t w;
    jp_test_world_load(world, &w);
    jp_test_stack_stream(s, &w, weeks, e, 20000);
    jp_sim_world_release(&w);
    assert_int_equal(jp_test_engine_wait(e, -1, s->records, 600000), 0);
    jp_test_engine_stop(e, NULL);
    out->alerts = jp_test_alerts_read(s, cfg.topics.alerts, &out->n, NULL);
    snprintf(out->models_topic, sizeof(out->models_topic), "%s", cfg.topics.models);
    out->min_training_ms = cfg.models.min_training_ms;
    jp_alerts_free(alerts);
    jp_models_free(models);
    jp_config_release(&cfg);
}

void jp_test_alerts_run_free(jp_test_alerts_run_t *r)
{
    free(r->alerts);
    jp_test_evaluator_free(r->ev);
    memset(r, 0, sizeof(*r));
}

typedef struct {
    const char *model;
    int64_t after, data_from;
    jp_test_retrained_t *out;
} retrained_ctx_t;

static void see_version(void *ctx, const void *rec)
{
    retrained_ctx_t *r = ctx;
    const jp_model_version_t *mv = rec;
    if (!jp_avro_str_eq(mv->model, r->model) || !jp_avro_str_eq(mv->event, "REGISTERED") ||
        !memmem(mv->reason.ptr, mv->reason.len, "change point", 12) || mv->event_at < r->after ||
        mv->event_at >= r->out->registered_at || mv->training_data.event_time_start < r->data_from)
        return;
    r->out->registered_at = mv->event_at;
    r->out->data_start = mv->training_data.event_time_start;
}

void jp_test_alerts_retrained(jp_test_stack_t *s, const char *topic, const char *model,
                              int64_t after, int64_t data_from, jp_test_retrained_t *out)
{
    *out = (jp_test_retrained_t){INT64_MAX, INT64_MIN};
    retrained_ctx_t ctx = {model, after, data_from, out};
    jp_model_version_t mv;
    jp_test_decode_topic(s, topic, JP_EVENT_MODEL_VERSION, &mv, see_version, &ctx);
    if (out->data_start != INT64_MIN)
        printf("retrained: %s registered %.1f days after %lld, training data from %.1f days "
               "before it\n",
               model, (double)(out->registered_at - after) / 86400000.0, (long long)after,
               (double)(after - out->data_start) / 86400000.0);
}

int64_t jp_test_draw_period_ms(const jp_sim_world_t *w, const char *cc, int64_t at)
{
    char err[256];
    jp_calendar_t *cal = jp_calendar_new(jp_config_country(&w->config, cc), err, sizeof(err));
    assert_non_null(cal);
    int64_t start, end;
    jp_draw_t d;
    assert_int_equal(jp_calendar_draw_period(cal, at, &start, &end, &d), 0);
    jp_calendar_free(cal);
    return end - start;
}
