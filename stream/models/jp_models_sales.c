/*
 * The sales model in the learning loop: each closed UTC day window's
 * FeatureVector becomes a jp_flows_window_t (docs/model-sales.md, "What the
 * engine gives the model"), every version forecasts the day's tickets from
 * the window's own exogenous inputs (advertised prize, campaigns, the stock
 * at its start) before the trainer learns from it - predict, score, then
 * learn - and the window is kept a year for retraining from a change point.
 *
 * The stock comes from the engine's holdings (subscribers held and lapsed
 * at each window's end, carried as the next window's start). Customers
 * first seen through a renewal are counted from then on, so for
 * models.stock_warmup after the first window the stock is reported
 * unknown: the flows per subscriber (extras, cancellations, reactivations)
 * and the forecasts wait, sign-ups learn from day one.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jp_models-internal.h"

#define WINDOW_TAG "MWIN"
#define PARAM_TAG  "FLWP"

jp_flows_t *jp_models_flows_copy(const jp_flows_t *m)
{
    char err[128];
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_flows_serialize(m, &w);
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, w.buf, w.len);
    jp_flows_t *copy = w.oom ? NULL : jp_flows_deserialize(&r, err, sizeof(err));
    jp_bytes_writer_free(&w);
    return copy;
}

static jp_flows_t *flows_new(const country_t *c)
{
    char err[128];
    jp_flows_config_t fc;
    jp_flows_config_default(&fc);
    fc.prize_ref_minor = c->country->prizes.headline.initial_minor;
    fc.price_minor = c->country->ticket.price_minor;
    fc.billing = c->country->ticket.billing == JP_BILLING_PER_DRAW ? JP_FLOWS_BILLING_PER_DRAW
                                                                   : JP_FLOWS_BILLING_MONTHLY;
    fc.n_campaigns = N_CAMPAIGNS;
    return jp_flows_create(&fc, err, sizeof(err));
}

int jp_models_sales_init(model_t *m, const country_t *c)
{
    char err[128];
    m->flows = flows_new(c);
    m->train_reg = jp_eval_reg_create(SALES_EVAL_WIN, err, sizeof(err));
    return m->flows && m->train_reg ? 0 : -1;
}

/* The campaign slot of a code: first seen, first slot; -1 when all are
 * taken by other codes. */
static int campaign_slot(country_t *c, const jp_avro_str_t *name)
{
    for (int s = 0; s < N_CAMPAIGNS; s++) {
        size_t n = strlen(c->campaigns[s]);
        if (!n) {
            snprintf(c->campaigns[s], sizeof(c->campaigns[s]), "%.*s", (int)name->len, name->ptr);
            c->dirty = 1;
            return s;
        }
        if (n == name->len && memcmp(c->campaigns[s], name->ptr, n) == 0)
            return s;
    }
    return -1;
}

/* The window the model takes; 0 when it has no prize (nothing to learn). */
static int build_window(const inst_t *in, country_t *c, const jp_feature_vector_t *fv,
                        jp_flows_window_t *w)
{
    memset(w, 0, sizeof(*w));
    w->start_ms = fv->window_start;
    w->end_ms = fv->window_end;
    jp_local_time_t lt;
    jp_calendar_local_time(c->cal, fv->window_start + (fv->window_end - fv->window_start) / 2, &lt);
    w->tz_offset_min = lt.utc_offset_s / 60;
    w->log_prize = fv->log_prize_mean;
    w->log_prize_var = fv->log_prize_var;
    const double *shares = fv->campaign_shares.values;
    for (size_t i = 0; i < fv->campaign_shares.n; i++) {
        int s = campaign_slot(c, &fv->campaign_shares.keys[i]);
        if (s >= 0)
            w->campaign[s] = shares[i];
    }
    w->signups = (double)fv->signups;
    w->reactivations = (double)fv->reactivations;
    w->cancellations = (double)fv->cancellations;
    w->payment_failures = (double)fv->payment_failures;
    w->extra_purchases = (double)fv->extra_purchases;
    w->extra_tickets = (double)fv->extra_tickets;
    w->extra_tickets_sq = (double)fv->extra_tickets_sq;
    w->signup_tickets = (double)fv->signup_tickets;
    w->signup_tickets_sq = (double)fv->signup_tickets_sq;
    w->renewals = (double)fv->renewals;
    w->renewal_tickets = (double)fv->renewal_tickets;
    w->renewal_tickets_sq = (double)fv->renewal_tickets_sq;
    /* the stock: known once every subscriber had time to be billed */
    int warm = c->first_day != INT64_MIN &&
               fv->window_start >= c->first_day + in->g->cfg->models.stock_warmup_ms;
    int known = warm && c->prev_held > 0 && fv->subscribers_held > 0;
    w->active_start = known ? c->prev_held : 0;
    w->active_end = known ? (double)fv->subscribers_held : 0;
    w->lapsed_start = known ? c->prev_lapsed : -1;
    w->lapsed_end = known ? (double)fv->subscribers_lapsed : -1;
    return fv->has_log_prize_mean && isfinite(fv->log_prize_mean);
}

/* The share of the stock billed in [start, end) (jp_flows' billing_share):
 * countries that bill per draw charge every subscriber in the 24 hours
 * before each headline draw, so a day holds the part of those 24 hours it
 * overlaps; monthly billing is left to the model's learned profile (-1). */
static double billing_share(const country_t *c, int64_t start, int64_t end)
{
    if (c->country->ticket.billing != JP_BILLING_PER_DRAW)
        return -1.0;
    const int64_t span = 24 * 3600000LL;
    double share = 0;
    jp_draw_t d;
    for (int64_t t = start - 1;
         jp_calendar_next_draw(c->cal, t, 1, &d) == 0 && d.time_ms - span < end; t = d.time_ms) {
        int64_t a = d.time_ms - span > start ? d.time_ms - span : start;
        int64_t b = d.time_ms < end ? d.time_ms : end;
        if (b > a)
            share += (double)(b - a) / (double)span;
    }
    return share;
}

/* The model's forecast of the window's tickets; -1 when it cannot make one
 * (not ready, stock unknown). */
static int forecast(const jp_flows_t *m, const jp_flows_window_t *w, double billing,
                    jp_flows_forecast_t *f)
{
    if (!m || !jp_flows_ready(m) || w->active_start <= 0)
        return -1;
    jp_flows_period_t per;
    memset(&per, 0, sizeof(per));
    per.start_ms = w->start_ms;
    per.end_ms = w->end_ms;
    per.switch_ms = w->start_ms;
    per.tz_offset_min = w->tz_offset_min;
    memcpy(per.campaign, w->campaign, sizeof(per.campaign));
    per.billing_share = billing;
    int64_t prize = llround(exp(w->log_prize));
    jp_flows_stock_t st = {w->active_start, w->lapsed_start, prize, NAN, 0};
    char err[128];
    if (jp_flows_forecast_one(m, &per, &st, prize, f, err, sizeof(err)) != 0)
        return -1;
    return isfinite(f->tickets) && isfinite(f->tickets_p05) && isfinite(f->tickets_p95) ? 0 : -1;
}

/* Scores one model's forecast of y into e: the absolute percentage error
 * and the standardized residual (NaN when no forecast). */
static double score(const jp_flows_t *m, jp_eval_reg_t *e, const jp_flows_window_t *w,
                    double billing, double y, double *z)
{
    jp_flows_forecast_t f;
    *z = NAN;
    if (forecast(m, w, billing, &f) != 0 || !(y > 0))
        return NAN;
    jp_eval_reg_add_interval(e, y, f.tickets, f.tickets_p05, f.tickets_p95);
    double sd = (f.tickets_p95 - f.tickets_p05) / (2 * 1.6448536269514722);
    *z = sd > 0 ? (y - f.tickets) / sd : NAN;
    return fabs(y - f.tickets) / y;
}

static void window_key(char key[16], const char *code, int64_t start)
{
    key[0] = 'w';
    key[1] = '/';
    key[2] = code[0];
    key[3] = code[1];
    key[4] = '/';
    uint64_t u = (uint64_t)start ^ (1ull << 63);
    for (int i = 0; i < 8; i++)
        key[5 + i] = (char)(u >> (56 - 8 * i));
}

#define WINDOW_KEY_LEN 13

static int store_window(inst_t *in, const country_t *c, const jp_flows_window_t *w)
{
    char key[16];
    jp_store_t *st = jp_proc_store(in->ctx);
    jp_bytes_writer_t b;
    jp_bytes_writer_init(&b);
    jp_models_window_serialize(w, &b);
    window_key(key, c->code, w->start_ms);
    int rc = b.oom ? -1 : jp_store_put(st, JP_CF_MODELS, key, WINDOW_KEY_LEN, b.buf, b.len);
    jp_bytes_writer_free(&b);
    /* the window that leaves the year (if there is one) */
    window_key(key, c->code, w->start_ms - WINDOW_DAYS * DAY_MS);
    if (rc == 0)
        rc = jp_store_del(st, JP_CF_MODELS, key, WINDOW_KEY_LEN);
    return rc;
}

int jp_models_sales_window(inst_t *in, country_t *c, const jp_feature_vector_t *fv)
{
    model_t *m = &c->models[KIND_SALES];
    jp_flows_window_t w;
    int learnable = build_window(in, c, fv, &w);
    double y = (double)fv->tickets, z_trainer, z_ch = NAN, z_champ = NAN;
    double bill = billing_share(c, w.start_ms, w.end_ms);
    score(m->flows, m->train_reg, &w, bill, y, &z_trainer);
    double e_ch =
        m->challenger ? score(m->challenger->flows, m->challenger->reg, &w, bill, y, &z_ch) : NAN;
    double e_champ =
        m->champion ? score(m->champion->flows, m->champion->reg, &w, bill, y, &z_champ) : NAN;
    if (m->challenger && !isnan(e_ch)) {
        m->challenger->windows++;
        if (!m->champion || !isnan(e_champ)) {
            m->duel_windows++;
            m->duel_err[0] += e_ch;
            m->duel_n[0]++;
            if (m->champion) {
                m->duel_err[1] += e_champ;
                m->duel_n[1]++;
            }
            m->dirty_registry = 1; /* the duel lives in the registry's state */
        }
        jp_models_mark_version(m, m->challenger->number);
    }
    if (m->champion && !isnan(e_champ)) {
        m->champion->windows++;
        jp_models_mark_version(m, m->champion->number);
    }
    const version_t *served = m->champion;
    double z = served ? z_champ : z_trainer;
    if (in->g->listener && !isnan(z)) {
        jp_models_evaluation_t ev = {c->code, "sales", served ? served->number : 0, z,
                                     fv->window_end};
        if (in->g->listener(in->g->listener_ctx, jp_proc_partition(in->ctx), &ev) != 0)
            return -1;
    }
    if (c->error_gauge[KIND_SALES]) {
        jp_eval_reg_result_t r;
        jp_eval_reg_rolling(served ? served->reg : m->train_reg, &r);
        jp_gauge_set(c->error_gauge[KIND_SALES], r.mape);
    }

    if (learnable) {
        char err[256];
        if (jp_flows_observe(m->flows, &w, err, sizeof(err)) != 0) {
            /* a window the model refuses (not finite, negative) is skipped */
        } else {
            jp_flows_fit(m->flows, NULL, 0);
            if (m->train_start == INT64_MIN)
                m->train_start = w.start_ms;
            m->trained_until = w.end_ms;
        }
        if (store_window(in, c, &w) != 0)
            return -1;
    }
    m->dirty_trainer = 1;
    int known = fv->subscribers_held > 0;
    c->prev_held = known ? (double)fv->subscribers_held : -1;
    c->prev_lapsed = known ? (double)fv->subscribers_lapsed : -1;
    c->dirty = 1;
    return 0;
}

typedef struct {
    jp_flows_t *flows;
    int64_t from;
} replay_t;

static int replay_one(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    replay_t *r = ctx;
    jp_flows_window_t w;
    (void)key;
    if (klen != WINDOW_KEY_LEN || jp_models_window_deserialize(val, vlen, &w) != 0)
        return 0; /* a damaged window is skipped */
    if (w.start_ms >= r->from && jp_flows_observe(r->flows, &w, NULL, 0) == 0)
        jp_flows_fit(r->flows, NULL, 0);
    return 0;
}

int jp_models_sales_retrain(inst_t *in, country_t *c, int64_t change_point)
{
    model_t *m = &c->models[KIND_SALES];
    jp_flows_t *fresh = flows_new(c);
    char err[128];
    jp_eval_reg_t *reg = jp_eval_reg_create(SALES_EVAL_WIN, err, sizeof(err));
    if (!fresh || !reg) {
        jp_flows_free(fresh);
        jp_eval_reg_free(reg);
        return -1;
    }
    char prefix[16];
    window_key(prefix, c->code, change_point);
    replay_t r = {fresh, change_point};
    /* the country's windows, in time order */
    if (jp_store_scan(jp_proc_store(in->ctx), JP_CF_MODELS, prefix, 5, replay_one, &r) < 0) {
        jp_flows_free(fresh);
        jp_eval_reg_free(reg);
        return -1;
    }
    jp_flows_free(m->flows);
    jp_eval_reg_free(m->train_reg);
    m->flows = fresh;
    m->train_reg = reg;
    m->train_start = change_point;
    m->retrained_at = change_point;
    m->dirty_trainer = 1;
    return 0;
}

json_t *jp_models_elasticities(const jp_flows_t *m)
{
    static const jp_flow_t flows[] = {JP_FLOW_SIGNUPS, JP_FLOW_EXTRAS, JP_FLOW_CANCELLATIONS};
    json_t *o = json_object();
    for (size_t i = 0; i < sizeof(flows) / sizeof(flows[0]); i++) {
        double e, sd;
        json_t *v = json_null();
        if (m && jp_flows_elasticity(m, flows[i], &e, &sd) == 0 && isfinite(e) && isfinite(sd))
            v = json_pack("{s:f,s:f}", "estimate", e, "stderr", sd);
        json_object_set_new(o, jp_flow_name(flows[i]), v);
    }
    return o;
}

void jp_models_sales_parameters(const jp_flows_t *m, jp_bytes_writer_t *w)
{
    const jp_flows_config_t *fc = jp_flows_config(m);
    jp_bytes_put_header(w, PARAM_TAG, 1);
    jp_bytes_put_i64(w, fc->prize_ref_minor);
    jp_bytes_put_i64(w, fc->price_minor);
    jp_bytes_put_u8(w, (uint8_t)fc->billing);
    size_t p = jp_flows_n_features(m);
    jp_bytes_put_u32(w, (uint32_t)p);
    for (size_t j = 0; j < p; j++) {
        const char *name = jp_flows_feature_name(m, j);
        size_t n = name ? strlen(name) : 0;
        jp_bytes_put_u8(w, (uint8_t)n);
        jp_bytes_put_raw(w, name, n);
    }
    double beta[JP_FLOWS_MAX_FEATURES];
    for (int f = 0; f < JP_FLOW__COUNT; f++) {
        double b0, e, sd;
        jp_flows_info_t info;
        int fitted = jp_flows_coef(m, (jp_flow_t)f, beta, &b0) == 0 &&
                     jp_flows_info(m, (jp_flow_t)f, &info) == 0;
        jp_bytes_put_u8(w, (uint8_t)fitted);
        if (!fitted)
            continue;
        jp_bytes_put_f64(w, b0);
        for (size_t j = 0; j < p; j++)
            jp_bytes_put_f64(w, beta[j]);
        int has_e = jp_flows_elasticity(m, (jp_flow_t)f, &e, &sd) == 0;
        jp_bytes_put_f64(w, has_e ? sd : NAN);
        jp_bytes_put_u64(w, info.samples);
        jp_bytes_put_f64(w, info.sigma2);
        jp_bytes_put_f64(w, info.rate);
    }
    jp_flows_ratios_t r;
    jp_flows_ratios(m, &r);
    const double ratios[] = {r.tickets_per_signup, r.tickets_per_extra, r.tickets_per_renewal,
                             r.var_per_signup,     r.var_per_extra,     r.var_per_renewal,
                             r.payment_failure,    r.billing_error};
    for (size_t i = 0; i < sizeof(ratios) / sizeof(ratios[0]); i++)
        jp_bytes_put_f64(w, ratios[i]);
}

/* The window's fields in one order for both directions. */
#define WINDOW_DOUBLES 17
static void window_doubles(jp_flows_window_t *w, double **v)
{
    double *p[WINDOW_DOUBLES] = {&w->log_prize,       &w->log_prize_var,      &w->signups,
                                 &w->reactivations,   &w->cancellations,      &w->payment_failures,
                                 &w->extra_purchases, &w->extra_tickets,      &w->extra_tickets_sq,
                                 &w->signup_tickets,  &w->signup_tickets_sq,  &w->renewals,
                                 &w->renewal_tickets, &w->renewal_tickets_sq, &w->active_start,
                                 &w->active_end,      &w->lapsed_start};
    memcpy(v, p, sizeof(p));
}

void jp_models_window_serialize(const jp_flows_window_t *w, jp_bytes_writer_t *b)
{
    jp_flows_window_t copy = *w;
    double *v[WINDOW_DOUBLES];
    window_doubles(&copy, v);
    jp_bytes_put_header(b, WINDOW_TAG, 1);
    jp_bytes_put_i64(b, w->start_ms);
    jp_bytes_put_i64(b, w->end_ms);
    jp_bytes_put_u32(b, (uint32_t)w->tz_offset_min);
    for (size_t i = 0; i < WINDOW_DOUBLES; i++)
        jp_bytes_put_f64(b, *v[i]);
    jp_bytes_put_f64(b, w->lapsed_end);
    for (size_t s = 0; s < JP_FLOWS_MAX_CAMPAIGNS; s++)
        jp_bytes_put_f64(b, w->campaign[s]);
}

int jp_models_window_deserialize(const void *buf, size_t len, jp_flows_window_t *w)
{
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, buf, len);
    memset(w, 0, sizeof(*w));
    double *v[WINDOW_DOUBLES];
    window_doubles(w, v);
    jp_bytes_get_header(&r, WINDOW_TAG, 1);
    w->start_ms = jp_bytes_get_i64(&r);
    w->end_ms = jp_bytes_get_i64(&r);
    w->tz_offset_min = (int32_t)jp_bytes_get_u32(&r);
    for (size_t i = 0; i < WINDOW_DOUBLES; i++)
        *v[i] = jp_bytes_get_f64(&r);
    w->lapsed_end = jp_bytes_get_f64(&r);
    for (size_t s = 0; s < JP_FLOWS_MAX_CAMPAIGNS; s++)
        w->campaign[s] = jp_bytes_get_f64(&r);
    return jp_bytes_reader_done(&r) ? 0 : -1;
}
