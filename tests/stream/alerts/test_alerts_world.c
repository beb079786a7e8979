/*
 * The alerts processor on configs/sim/drift.yaml, through the engine on
 * the embedded broker, against the world's documented changes (its truth):
 *
 *   week 12  GB  sign-up elasticity 0.6 -> 0.1 as the prize moves to 2x
 *   week 16  NL  sign-ups 40 -> 20 a day (level shift)
 *   week 20  GB  tickets per new subscription 1.4 -> 3.0
 *   week 24  NL  payment failures 1.5% -> 8%
 *   week 28  SE  sales silent for 2 weeks
 *
 * The learning loop is not on this branch, so a stand-in plays its part on
 * the same hooks the application wires: a processor registered before the
 * alerts that scores each weekly headline draw period's sign-ups (GB and
 * SE; NL draws monthly and its level shift is FeatureDrift's here) against
 * a log-linear model of the advertised prize (Bayesian, prequential:
 * predict, score, then learn) and hands the standardized residual to
 * jp_alerts_observe_eval; the drift listener makes it retrain on the
 * periods after the change point under a new version.
 *
 * Asserted: every change is detected within 2 draw periods of its week
 * (GB and SE draw weekly, NL monthly) by the alert that documents it
 * (ConceptDrift for the elasticity, FeatureDrift on the shifted feature,
 * SilentSource for the sales) naming the right country; every FIRING alert
 * belongs to a documented change of its country; critical concept drift
 * reached the listener with a change point within two periods of the
 * truth; and every drift alert resolved before the world ended (feature
 * drift once the trailing reference holds the new regime, concept drift
 * once the retrained model's residuals stayed quiet for resolve_after).
 * The delays are printed.
 *
 * The 40 weeks (about 650k records) are read while they are written
 * (jp_test_stack_simulate_live): the dev broker keeps about 5 MB per
 * partition. Under ASan the world is cut after week 22 and only the first
 * three changes are checked (the same code, a quarter of the records).
 *
 * Label: integration
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/jp_alerts.h"
#include "config/jp_calendar.h"
#include "jp_test.h"
#include "jp_test_engine.h"
#include "registry/jp_registry_client.h"
#include "registry/jp_registry_serde.h"
#include "sim/jp_sim_world.h"

#if defined(__SANITIZE_ADDRESS__)
#define WEEKS 22
#else
#define WEEKS 40
#endif
#define WORLD   "configs/sim/drift.yaml"
#define DAY_MS  86400000LL
#define WEEK_MS (7 * DAY_MS)

static jp_test_stack_t st;

/* ---- the stand-in for the learning loop's sales evaluation --------------------------- */

#define MAX_PERIODS 64

typedef struct {
    char code[3];
    /* the open draw periods' advertised prizes (sum of ln prize, sales) */
    int64_t acc_start[8];
    double acc_log[8], acc_n[8];
    /* the periods seen: start, ln(J / J_ref), ln(sign-ups + 1/2), sign-ups */
    int64_t p_start[MAX_PERIODS];
    double p_x[MAX_PERIODS], p_y[MAX_PERIODS], p_s[MAX_PERIODS];
    size_t n_periods;
    double log_ref; /* ln J_ref: the first advertised prize */
    int32_t version;
    double a[2][2], b[2]; /* posterior precision and A * mean of (intercept, elasticity) */
    int retrain;          /* the drift listener asked for a retrain */
    int64_t retrain_from;
} model_t;

typedef struct evaluator_s evaluator_t;

typedef struct {
    evaluator_t *g;
    jp_proc_ctx_t *ctx;
    model_t m[8];
    size_t n;
} eval_inst_t;

struct evaluator_s {
    jp_alerts_t *alerts;
    eval_inst_t *inst[16];
    int retrains, critical;
    int64_t first_cp[8]; /* per country index of the world: first change point heard */
    char first_cc[8][3];
    size_t n_first;
    const jp_country_t *cal_of[8]; /* calendars by country */
    jp_calendar_t *cal[8];
};

static evaluator_t ev;

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
    for (size_t i = 0; i < m->n_periods; i++)
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
        jp_alerts_eval_t e = {cc,
                              "sales",
                              m->version,
                              JP_ALERTS_EVAL_RESIDUAL,
                              (y - mean) / sqrt(1.0 / w + var),
                              t,
                              fv->window_start};
        if (jp_alerts_observe_eval(in->g->alerts, jp_proc_partition(in->ctx), &e) != 0)
            return -1;
    }
    assert_true(m->n_periods < MAX_PERIODS);
    m->p_start[m->n_periods] = fv->window_start;
    m->p_x[m->n_periods] = x;
    m->p_y[m->n_periods] = y;
    m->p_s[m->n_periods++] = s;
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

static const jp_proc_t evaluator = {
    .name = "test-sales-evaluator",
    .global = &ev,
    .open = eval_open,
    .close = eval_close,
    .on_record = eval_record,
    .on_window = eval_window,
};

/* ---- the alerts as they were written ------------------------------------------------- */

typedef struct {
    char fp[17], name[32], country[3], labels[96];
    int firing, critical;
    int64_t starts_at, ends_at;
} alert_t;

static alert_t *read_alerts(const char *topic, size_t *n)
{
    jp_test_recset_t rs;
    jp_test_read_distinct(&st, topic, &rs);
    char err[512];
    jp_registry_client_t *reg =
        jp_registry_client_new(jp_devstack_registry_url(st.stack), err, sizeof(err));
    assert_non_null(reg);
    jp_serde_config_t sc = {0};
    sc.registry = jp_serde_registry_client(reg);
    jp_serde_t *serde = jp_serde_new(&sc, err, sizeof(err));
    assert_non_null(serde);
    alert_t *out = calloc(rs.n + 1, sizeof(*out));
    assert_non_null(out);
    for (size_t i = 0; i < rs.n; i++) {
        const unsigned char *b = (const unsigned char *)rs.items[i];
        size_t klen = (size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3];
        jp_avro_arena_t arena;
        jp_avro_arena_init(&arena);
        jp_alert_t a;
        assert_int_equal(jp_serde_decode(serde, JP_EVENT_ALERT, rs.items[i] + 4 + klen,
                                         rs.lens[i] - 4 - klen, &a, &arena, err, sizeof(err)),
                         JP_SERDE_OK);
        alert_t *o = &out[i];
        assert_int_equal(klen, 16);
        assert_memory_equal(rs.items[i] + 4, a.fingerprint.ptr, 16); /* keyed by fingerprint */
        snprintf(o->fp, sizeof(o->fp), "%.*s", (int)a.fingerprint.len, a.fingerprint.ptr);
        snprintf(o->name, sizeof(o->name), "%.*s", (int)a.name.len, a.name.ptr);
        if (a.has_country)
            snprintf(o->country, sizeof(o->country), "%.*s", (int)a.country.len, a.country.ptr);
        const jp_avro_str_t *k = a.labels.keys, *v = a.labels.values;
        size_t len = 0;
        for (size_t j = 0; j < a.labels.n; j++)
            len += (size_t)snprintf(o->labels + len, sizeof(o->labels) - len, "%.*s=%.*s ",
                                    (int)k[j].len, k[j].ptr, (int)v[j].len, v[j].ptr);
        o->firing = a.status == JP_ALERT_STATUS_FIRING;
        o->critical = a.severity == JP_ALERT_SEVERITY_CRITICAL;
        o->starts_at = a.starts_at;
        o->ends_at = a.has_ends_at ? a.ends_at : 0;
        assert_true(a.runbook_url.len > 0);
        jp_avro_arena_free(&arena);
    }
    *n = rs.n;
    jp_serde_free(serde);
    jp_registry_client_free(reg);
    jp_test_recset_free(&rs);
    return out;
}

/* The alerts that document a change. */
static int documents(const jp_sim_change_t *c, const alert_t *a)
{
    if (c->kind == JP_SIM_CHANGE_SILENCE)
        return strcmp(a->name, "SilentSource") == 0 && strstr(a->labels, "input=sales");
    if (c->kind == JP_SIM_CHANGE_ELASTICITY)
        return strcmp(a->name, "ConceptDrift") == 0;
    if (strcmp(c->target, "signups_per_day") == 0)
        return strcmp(a->name, "ConceptDrift") == 0 || strstr(a->labels, "feature=signups ");
    if (strcmp(c->target, "tickets_mean") == 0)
        return strstr(a->labels, "feature=tickets_per_signup") != NULL;
    return strstr(a->labels, "feature=payment_failures") != NULL;
}

static int64_t draw_period_ms(const jp_sim_world_t *w, const char *cc, int64_t at)
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

static void test_drift_world(void **state)
{
    (void)state;
    jp_config_t cfg;
    jp_test_engine_config(&st, "alerts-world", &cfg);
    char err[512];
    ev.alerts = jp_alerts_new(&cfg, NULL, err, sizeof(err));
    if (!ev.alerts)
        fail_msg("alerts: %s", err);
    jp_alerts_set_drift_listener(ev.alerts, on_drift, &ev);
    const jp_proc_t *procs[] = {&evaluator, jp_alerts_proc(ev.alerts)};
    jp_test_engine_t *e = jp_test_engine_start_with(&cfg, NULL, procs, 2);
    jp_test_stack_simulate_live(&st, WORLD, WEEKS, e, 20000);
    assert_int_equal(jp_test_engine_wait(e, -1, st.records, 300000), 0);
    jp_test_engine_stop(e, NULL);

    size_t n;
    alert_t *al = read_alerts(cfg.topics.alerts, &n);
    jp_sim_world_t w;
    jp_test_world_load(WORLD, &w);
    const jp_sim_change_t *ch = w.changes.items;
    int64_t end_ms = w.start_ms + WEEKS * WEEK_MS;
    /* Every FIRING belongs to a documented change of its country. */
    for (size_t i = 0; i < n; i++) {
        int ok = !al[i].firing;
        for (size_t c = 0; c < w.changes.n && !ok; c++) {
            int64_t at = w.start_ms + ch[c].week * WEEK_MS;
            ok = strcmp(ch[c].country, al[i].country) == 0 && documents(&ch[c], &al[i]) &&
                 al[i].starts_at >= at && al[i].starts_at <= at + 20 * WEEK_MS;
        }
        if (!ok)
            fail_msg("an alert no change documents: %s %s %s from %" PRId64, al[i].name,
                     al[i].country, al[i].labels, al[i].starts_at);
    }
    /* Every change is detected within 2 draw periods of its week. */
    int checked = 0;
    for (size_t c = 0; c < w.changes.n; c++) {
        int64_t at = w.start_ms + ch[c].week * WEEK_MS;
        int64_t bound = 2 * draw_period_ms(&w, ch[c].country, at);
        if (at + bound + WEEK_MS > end_ms)
            continue; /* the world (under ASan: cut short) ends before the bound */
        const alert_t *first = NULL;
        for (size_t i = 0; i < n; i++)
            if (al[i].firing && strcmp(al[i].country, ch[c].country) == 0 &&
                documents(&ch[c], &al[i]) && al[i].starts_at >= at &&
                (!first || al[i].starts_at < first->starts_at))
                first = &al[i];
        if (!first)
            fail_msg("week %lld %s: not detected", (long long)ch[c].week, ch[c].country);
        printf("week %2lld %s %-13s %-16s -> %-13s %-40s after %5.1f days (bound %.0f)\n",
               (long long)ch[c].week, ch[c].country,
               ch[c].kind == JP_SIM_CHANGE_SILENCE ? "silence" : "change",
               ch[c].target ? ch[c].target : "", first->name, first->labels,
               (double)(first->starts_at - at) / DAY_MS, (double)bound / DAY_MS);
        assert_true(first->starts_at - at <= bound);
        checked++;
    }
    assert_true(checked >= (WEEKS >= 40 ? 5 : 3));
    /* Critical concept drift reached the listener, change point near the
     * truth: the elasticity change of GB. */
    size_t gb = 0;
    while (gb < ev.n_first && strcmp(ev.first_cc[gb], "GB") != 0)
        gb++;
    assert_true(gb < ev.n_first);
    int64_t gb_at = w.start_ms + 12 * WEEK_MS;
    printf("retrains %d; GB change point %+.1f days from the truth\n", ev.retrains,
           (double)(ev.first_cp[gb] - gb_at) / DAY_MS);
    assert_true(llabs(ev.first_cp[gb] - gb_at) <= 2 * WEEK_MS);
    /* Every drift alert resolved (only the last weeks' may still fire). */
    for (size_t i = 0; i < n; i++) {
        if (!al[i].firing || strcmp(al[i].name, "SilentSource") == 0)
            continue;
        int resolved = 0;
        for (size_t j = 0; j < n && !resolved; j++)
            resolved = !al[j].firing && strcmp(al[j].fp, al[i].fp) == 0 &&
                       al[j].ends_at >= al[i].starts_at;
        printf("%-12s %s %-40s from %5.1f weeks: %s\n", al[i].name, al[i].country, al[i].labels,
               (double)(al[i].starts_at - w.start_ms) / WEEK_MS,
               resolved ? "resolved" : "still firing");
        if (al[i].starts_at < end_ms - 12 * WEEK_MS)
            assert_true(resolved);
    }
    free(al);
    jp_sim_world_release(&w);
    jp_alerts_free(ev.alerts);
    for (size_t i = 0; i < 8; i++)
        jp_calendar_free(ev.cal[i]);
    jp_config_release(&cfg);
}

static int setup(void **state)
{
    (void)state;
    jp_test_stack_start(&st, "alerts-world", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    jp_test_stack_stop(&st);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drift_world),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
