/*
 * jp_decisions_record: a decision as a JackpotRecommendation, the same as
 * JSON, and the serving side (latest recommendation, what-if).
 *
 * One path for all three: the Avro struct is filled from the decision's
 * result, and the JSON is written from the Avro struct - so the admin API
 * says exactly what the topic carries (amounts rounded to minor units). A what-if builds the same
 * struct from jp_decide_evaluate on the published snapshot.
 */
#include "jp_decisions-internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const flow_names[DEC_FLOWS] = {"signups", "reactivations", "extras",
                                                  "cancellations"};

struct dec_record_s {
    jp_recommendation_t r;
    char model_version[160];
    jp_avro_str_t binding[JP_OPT_C_COUNT], infeasible[JP_OPT_C_COUNT];
    jp_avro_str_t violated[JP_OPT_MAX_ALTERNATIVES][JP_OPT_C_COUNT];
    jp_alternative_t alt[JP_OPT_MAX_ALTERNATIVES];
    jp_constraint_slack_t cons[JP_OPT_C_COUNT];
    jp_avro_str_t ver_keys[2], ver_vals[2];
    jp_elasticity_t el[DEC_FLOWS];
};

/* Names of the rules in mask into out; returns how many. */
static size_t mask_names(uint32_t mask, jp_avro_str_t *out)
{
    size_t n = 0;
    for (unsigned c = 0; c < JP_OPT_C_COUNT; c++)
        if (mask & (1u << c))
            out[n++] = jp_avro_str(jp_opt_constraint_name((jp_opt_constraint_id_t)c));
    return n;
}

static void fill_model(dec_record_t *x, const dec_meta_t *m)
{
    jp_recommendation_t *r = &x->r;
    size_t nv = 0;
    if (m->flows_version) {
        x->ver_keys[nv] = jp_avro_str("flows");
        x->ver_vals[nv++] = jp_avro_str(m->flows_version);
    }
    if (m->churn_version) {
        x->ver_keys[nv] = jp_avro_str("churn");
        x->ver_vals[nv++] = jp_avro_str(m->churn_version);
    }
    r->model.versions = (jp_avro_map_t){x->ver_keys, x->ver_vals, nv};
    size_t ne = 0;
    for (int f = 0; f < DEC_FLOWS; f++)
        if (m->has_est[f])
            x->el[ne++] = (jp_elasticity_t){jp_avro_str(flow_names[f]), m->est[f], m->sd[f]};
    r->model.elasticities = (jp_avro_array_t){x->el, ne};
    r->model.has_error = isfinite(m->error);
    r->model.error = r->model.has_error ? m->error : 0.0;
    r->model.has_lifetime_days = isfinite(m->lifetime_days) && m->lifetime_days > 0.0;
    r->model.lifetime_days = r->model.has_lifetime_days ? m->lifetime_days : 0.0;
    snprintf(x->model_version, sizeof(x->model_version), "%s%s%s",
             m->flows_version ? m->flows_version : "none", m->churn_version ? " " : "",
             m->churn_version ? m->churn_version : "");
    r->provenance.model_version = jp_avro_str(x->model_version);
    r->provenance.data_snapshot = m->snapshot;
    r->provenance.config_hash = jp_avro_str(m->config_hash);
    r->provenance.code_version = jp_avro_str(m->code_version);
}

static void fill_result(dec_record_t *x, const jp_decide_result_t *res,
                        const jp_decide_problem_t *p)
{
    jp_recommendation_t *r = &x->r;
    const jp_opt_result_t *o = &res->opt;
    r->expected_sales_minor = o->expected_revenue;
    r->expected_sales_p5_minor = o->revenue_p05;
    r->expected_sales_p95_minor = o->revenue_p95;
    r->expected_net_revenue_minor = o->expected_net_revenue;
    r->payout_ratio =
        o->expected_revenue > 0.0 ? o->expected_total_payout / o->expected_revenue : 0.0;
    r->expected_tickets = o->expected_tickets;
    r->expected_tickets_p5 = o->tickets_p05;
    r->expected_tickets_p95 = o->tickets_p95;
    r->expected_payout_minor = o->expected_total_payout;
    r->has_payout_ratio_after = isfinite(o->payout_ratio_after);
    r->payout_ratio_after = r->has_payout_ratio_after ? o->payout_ratio_after : 0.0;
    r->loss_probability = isfinite(o->loss_probability) ? o->loss_probability : 0.0;
    r->horizon_draws = p ? (int32_t)p->horizon_draws : 1;
    r->horizon_value_minor = o->objective;
    r->stock_value_minor = res->stock_value;
    r->binding_constraints = (jp_avro_array_t){x->binding, mask_names(o->binding_mask, x->binding)};
    r->infeasible_rules = (jp_avro_array_t){
        x->infeasible,
        o->status == JP_OPT_INFEASIBLE ? mask_names(o->conflict_mask, x->infeasible) : 0};
    size_t nc = 0;
    for (unsigned c = 0; c < JP_OPT_C_COUNT; c++) {
        const jp_opt_constraint_t *ct = &o->constraints[c];
        if (!ct->enabled)
            continue;
        x->cons[nc++] = (jp_constraint_slack_t){
            jp_avro_str(ct->name), ct->value, ct->limit, ct->slack, (uint8_t)ct->binding,
            (uint8_t)ct->violated};
    }
    r->constraints = (jp_avro_array_t){x->cons, nc};
    double price = p ? (double)p->opt.ticket_price : 0.0;
    for (size_t a = 0; a < o->n_alternatives; a++)
        x->alt[a] = (jp_alternative_t){
            o->alternatives[a].prize, o->alternatives[a].expected_tickets * price,
            o->alternatives[a].expected_net_revenue, 1, (jp_avro_array_t){x->violated[a], 0}};
    r->alternatives = (jp_avro_array_t){x->alt, o->n_alternatives};
    r->exploration.explored = (uint8_t)res->explored;
    r->exploration.greedy_prize_minor = res->greedy_prize;
    r->exploration.sampled_prize_minor = res->thompson_prize;
    r->exploration.cost_minor = res->exploration_cost;
    r->exploration.budget_minor = res->exploration_budget;
    r->exploration.share =
        res->greedy_objective != 0.0 ? res->exploration_cost / fabs(res->greedy_objective) : 0.0;
}

dec_record_t *dec_record_new(const dec_meta_t *m, int64_t prize, const jp_decide_result_t *res,
                             const jp_decide_problem_t *p)
{
    dec_record_t *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    jp_recommendation_t *r = &x->r;
    r->country = jp_avro_str(m->c->code);
    r->decision_id = jp_avro_str(m->decision_id);
    r->draw_id = jp_avro_str(m->draw_id);
    r->decision_time = m->decision_time;
    r->currency = jp_avro_str(m->c->currency);
    r->prize_minor = prize;
    r->status = res && res->opt.status == JP_OPT_INFEASIBLE ? JP_RECOMMENDATION_INFEASIBLE
                                                            : JP_RECOMMENDATION_OK;
    r->horizon_draws = 1;
    if (res)
        fill_result(x, res, p);
    r->has_fallback_reason = m->fallback != NULL;
    r->fallback_reason = jp_avro_str(m->fallback);
    fill_model(x, m);
    return x;
}

void dec_record_free(dec_record_t *r)
{
    free(r);
}

const jp_recommendation_t *dec_record_avro(const dec_record_t *r)
{
    return &r->r;
}

/* ---- JSON ------------------------------------------------------------------------ */

/* The JSON is written straight into a buffer: a what-if is answered for
 * every request, and building a jansson tree of ~100 nodes (one allocation
 * each) and formatting its reals with printf cost several times the
 * evaluation itself. Numbers: amounts in minor units are rounded to whole
 * ones; other reals have nine significant digits; NaN and infinities (JSON
 * has none) are null. */
typedef struct {
    char *p;
    size_t len, cap;
    int fail;
    int first; /* no member or element yet in the current object or array */
} jb_t;

/* Room for n more bytes and the terminator; 0, or -1 (b->fail). */
static int jb_grow(jb_t *b, size_t n)
{
    if (b->fail)
        return -1;
    size_t cap = b->cap ? b->cap : 8192;
    while (b->len + n + 1 > cap)
        cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
        b->fail = 1;
        return -1;
    }
    b->p = np;
    b->cap = cap;
    return 0;
}

static inline void jb_raw(jb_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap && jb_grow(b, n) != 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void jb_sep(jb_t *b)
{
    if (!b->first)
        jb_raw(b, ",", 1);
    b->first = 0;
}

static void jb_string(jb_t *b, const char *s, size_t n)
{
    jb_raw(b, "\"", 1);
    size_t run = 0; /* characters that need no escape, appended together */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '"' && c != '\\' && c >= 0x20)
            continue;
        jb_raw(b, s + run, i - run);
        run = i + 1;
        if (c < 0x20) {
            char e[8];
            snprintf(e, sizeof(e), "\\u%04x", c);
            jb_raw(b, e, 6);
        } else {
            char e[2] = {'\\', (char)c};
            jb_raw(b, e, 2);
        }
    }
    jb_raw(b, s + run, n - run);
    jb_raw(b, "\"", 1);
}

/* Decimal digits of v into the end of buf[24]; returns where they start. */
static char *jb_digits(unsigned long long v, char *end)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

/* Keys are this file's literals: nothing to escape. */
static void jb_key(jb_t *b, const char *k)
{
    size_t n = strlen(k);
    if (b->len + n + 5 > b->cap && jb_grow(b, n + 4) != 0)
        return;
    char *p = b->p + b->len;
    if (!b->first)
        *p++ = ',';
    b->first = 0;
    *p++ = '"';
    memcpy(p, k, n);
    p += n;
    *p++ = '"';
    *p++ = ':';
    *p = '\0';
    b->len = (size_t)(p - b->p);
}

static void jb_open(jb_t *b, const char *k, char c)
{
    if (k)
        jb_key(b, k);
    else
        jb_sep(b);
    jb_raw(b, &c, 1);
    b->first = 1;
}

static void jb_close(jb_t *b, char c)
{
    jb_raw(b, &c, 1);
    b->first = 0;
}

static void jb_int(jb_t *b, const char *k, long long v)
{
    char s[24], *end = s + sizeof(s);
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    char *p = jb_digits(u, end);
    if (v < 0)
        *--p = '-';
    if (k)
        jb_key(b, k);
    else
        jb_sep(b);
    jb_raw(b, p, (size_t)(end - p));
}

static void jb_str(jb_t *b, const char *k, jp_avro_str_t s)
{
    if (k)
        jb_key(b, k);
    else
        jb_sep(b);
    jb_string(b, s.ptr ? s.ptr : "", s.ptr ? s.len : 0);
}

static void jb_lit(jb_t *b, const char *k, const char *lit)
{
    jb_key(b, k);
    jb_raw(b, lit, strlen(lit));
}

static void jb_bool(jb_t *b, const char *k, int v)
{
    jb_lit(b, k, v ? "true" : "false");
}

/* Nine significant digits without printf where the value allows it. */
static void jb_num(jb_t *b, const char *k, double v)
{
    if (!isfinite(v)) {
        jb_lit(b, k, "null");
        return;
    }
    char s[48];
    int n;
    double a = fabs(v);
    if (a == 0.0) {
        n = snprintf(s, sizeof(s), "0");
    } else if (a >= 1e-4 && a < 1e15) {
        /* q = |v| x 10^d holds the nine significant digits; split it into
         * the integer part and the fraction's d digits */
        int e = (int)floor(log10(a)), d = e >= 8 ? 0 : 8 - e;
        static const unsigned long long pow10[] = {
            1ull,           10ull,           100ull,           1000ull,          10000ull,
            100000ull,      1000000ull,      10000000ull,      100000000ull,     1000000000ull,
            10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull};
        unsigned long long q = (unsigned long long)llround(a * (double)pow10[d]);
        unsigned long long ip = q / pow10[d], fp = q % pow10[d];
        char *end = s + 24, *p = jb_digits(ip, end);
        if (v < 0)
            *--p = '-';
        n = (int)(end - p);
        memmove(s, p, (size_t)n);
        if (fp) {
            s[n++] = '.';
            for (int i = d - 1; i >= 0; i--) /* d digits, leading zeros kept */
                s[n + i] = (char)('0' + fp % 10), fp /= 10;
            n += d;
            while (s[n - 1] == '0')
                n--;
        }
    } else {
        n = snprintf(s, sizeof(s), "%.9g", v);
    }
    jb_key(b, k);
    jb_raw(b, s, (size_t)n);
}

static void jb_money(jb_t *b, const char *k, double v)
{
    if (isfinite(v) && fabs(v) < 9e18)
        jb_int(b, k, llround(v));
    else
        jb_lit(b, k, "null");
}

static void jb_strs(jb_t *b, const char *k, const jp_avro_array_t *a)
{
    const jp_avro_str_t *s = a->items;
    jb_open(b, k, '[');
    for (size_t i = 0; i < a->n; i++)
        jb_str(b, NULL, s[i]);
    jb_close(b, ']');
}

static void provenance_json(jb_t *b, const jp_provenance_t *p)
{
    jb_open(b, "provenance", '{');
    jb_str(b, "model_version", p->model_version);
    jb_open(b, "data_snapshot", '{');
    jb_open(b, "offsets", '[');
    const jp_offset_range_t *r = p->data_snapshot.offsets.items;
    for (size_t i = 0; i < p->data_snapshot.offsets.n; i++) {
        jb_open(b, NULL, '{');
        jb_str(b, "topic", r[i].topic);
        jb_int(b, "partition", r[i].partition);
        jb_int(b, "start_offset", r[i].start_offset);
        jb_int(b, "end_offset", r[i].end_offset);
        jb_close(b, '}');
    }
    jb_close(b, ']');
    jb_int(b, "event_time_start", p->data_snapshot.event_time_start);
    jb_int(b, "event_time_end", p->data_snapshot.event_time_end);
    jb_close(b, '}');
    jb_str(b, "config_hash", p->config_hash);
    jb_str(b, "code_version", p->code_version);
    jb_close(b, '}');
}

static void model_json(jb_t *b, const jp_model_info_t *m)
{
    jb_open(b, "model", '{');
    jb_open(b, "versions", '{');
    const jp_avro_str_t *vals = m->versions.values;
    for (size_t i = 0; i < m->versions.n; i++) {
        jb_sep(b);
        jb_string(b, m->versions.keys[i].ptr, m->versions.keys[i].len);
        jb_raw(b, ":", 1);
        jb_string(b, vals[i].ptr, vals[i].len);
    }
    jb_close(b, '}');
    jb_open(b, "elasticities", '[');
    const jp_elasticity_t *e = m->elasticities.items;
    for (size_t i = 0; i < m->elasticities.n; i++) {
        jb_open(b, NULL, '{');
        jb_str(b, "flow", e[i].flow);
        jb_num(b, "estimate", e[i].estimate);
        jb_num(b, "sd", e[i].sd);
        jb_close(b, '}');
    }
    jb_close(b, ']');
    jb_num(b, "error", m->has_error ? m->error : NAN);
    jb_num(b, "lifetime_days", m->has_lifetime_days ? m->lifetime_days : NAN);
    jb_close(b, '}');
}

static void constraints_json(jb_t *b, const jp_avro_array_t *a)
{
    const jp_constraint_slack_t *c = a->items;
    jb_open(b, "constraints", '[');
    for (size_t i = 0; i < a->n; i++) {
        jb_open(b, NULL, '{');
        jb_str(b, "name", c[i].name);
        jb_num(b, "value", c[i].value);
        jb_num(b, "limit", c[i].limit);
        jb_num(b, "slack", c[i].slack);
        jb_bool(b, "binding", c[i].binding);
        jb_bool(b, "violated", c[i].violated);
        jb_close(b, '}');
    }
    jb_close(b, ']');
}

static void alternatives_json(jb_t *b, const jp_avro_array_t *arr)
{
    const jp_alternative_t *a = arr->items;
    jb_open(b, "alternatives", '[');
    for (size_t i = 0; i < arr->n; i++) {
        jb_open(b, NULL, '{');
        jb_int(b, "prize_minor", a[i].prize_minor);
        jb_money(b, "expected_sales_minor", a[i].expected_sales_minor);
        jb_money(b, "expected_net_revenue_minor", a[i].expected_net_revenue_minor);
        jb_bool(b, "feasible", a[i].feasible);
        jb_strs(b, "violated_constraints", &a[i].violated_constraints);
        jb_close(b, '}');
    }
    jb_close(b, ']');
}

char *dec_record_json(const jp_recommendation_t *r, int whatif)
{
    jb_t b = {NULL, 0, 0, 0, 1};
    jb_raw(&b, "{", 1);
    jb_str(&b, "country", r->country);
    jb_str(&b, "decision_id", r->decision_id);
    jb_str(&b, "draw_id", r->draw_id);
    jb_int(&b, "decision_time", r->decision_time);
    jb_str(&b, "currency", r->currency);
    jb_str(&b, "status",
           jp_avro_str(r->status == JP_RECOMMENDATION_INFEASIBLE ? "INFEASIBLE" : "OK"));
    if (whatif)
        jb_bool(&b, "whatif", 1);
    jb_int(&b, "prize_minor", r->prize_minor);
    jb_num(&b, "expected_tickets", r->expected_tickets);
    jb_num(&b, "expected_tickets_p5", r->expected_tickets_p5);
    jb_num(&b, "expected_tickets_p95", r->expected_tickets_p95);
    jb_money(&b, "expected_sales_minor", r->expected_sales_minor);
    jb_money(&b, "expected_sales_p5_minor", r->expected_sales_p5_minor);
    jb_money(&b, "expected_sales_p95_minor", r->expected_sales_p95_minor);
    jb_money(&b, "expected_payout_minor", r->expected_payout_minor);
    jb_money(&b, "expected_net_revenue_minor", r->expected_net_revenue_minor);
    jb_num(&b, "payout_ratio", r->payout_ratio);
    jb_num(&b, "payout_ratio_after", r->has_payout_ratio_after ? r->payout_ratio_after : NAN);
    jb_num(&b, "loss_probability", r->loss_probability);
    jb_int(&b, "horizon_draws", r->horizon_draws);
    jb_money(&b, "horizon_value_minor", r->horizon_value_minor);
    jb_money(&b, "stock_value_minor", r->stock_value_minor);
    jb_strs(&b, "binding_constraints", &r->binding_constraints);
    jb_strs(&b, "infeasible_rules", &r->infeasible_rules);
    constraints_json(&b, &r->constraints);
    alternatives_json(&b, &r->alternatives);
    jb_open(&b, "exploration", '{');
    jb_bool(&b, "explored", r->exploration.explored);
    jb_int(&b, "greedy_prize_minor", r->exploration.greedy_prize_minor);
    jb_int(&b, "sampled_prize_minor", r->exploration.sampled_prize_minor);
    jb_money(&b, "cost_minor", r->exploration.cost_minor);
    jb_money(&b, "budget_minor", r->exploration.budget_minor);
    jb_num(&b, "share", r->exploration.share);
    jb_close(&b, '}');
    if (r->has_fallback_reason)
        jb_str(&b, "fallback_reason", r->fallback_reason);
    else
        jb_lit(&b, "fallback_reason", "null");
    model_json(&b, &r->model);
    provenance_json(&b, &r->provenance);
    jb_close(&b, '}');
    if (b.fail) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---- serving ------------------------------------------------------------------- */

void dec_snapshot_release(jp_decisions_t *d, dec_snapshot_t *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&d->lock);
    int last = --s->refs == 0;
    pthread_mutex_unlock(&d->lock);
    if (!last)
        return;
    jp_flows_plan_free(s->horizon.plan);
    free(s->ledger);
    free(s->latest_json);
    free(s);
}

/* The snapshot copies its problem: its pointers must lead into itself. */
void dec_publish(jp_decisions_t *d, size_t country, dec_snapshot_t *s)
{
    pthread_mutex_lock(&d->lock);
    dec_snapshot_t *old = d->snap[country];
    if (old && old->meta.decision_time > s->meta.decision_time) {
        old = s; /* an older decision (a replay's): keep the newer one */
    } else {
        d->snap[country] = s;
    }
    pthread_mutex_unlock(&d->lock);
    dec_snapshot_release(d, old);
}

static size_t country_index(const jp_decisions_t *d, const char *code)
{
    for (size_t i = 0; i < d->cfg->n_countries; i++)
        if (strcmp(d->cfg->country[i].code, code) == 0)
            return i;
    return (size_t)-1;
}

static dec_snapshot_t *take(jp_decisions_t *d, const char *country)
{
    size_t i = country_index(d, country);
    if (i == (size_t)-1)
        return NULL;
    pthread_mutex_lock(&d->lock);
    dec_snapshot_t *s = d->snap[i];
    if (s)
        s->refs++;
    pthread_mutex_unlock(&d->lock);
    return s;
}

char *jp_decisions_latest_json(jp_decisions_t *d, const char *country)
{
    dec_snapshot_t *s = take(d, country);
    char *out = s && s->latest_json ? strdup(s->latest_json) : NULL;
    dec_snapshot_release(d, s);
    return out;
}

static int error_body(char **body, int status, const char *msg)
{
    jb_t b = {NULL, 0, 0, 0, 1};
    jb_raw(&b, "{", 1);
    jb_str(&b, "error", jp_avro_str(msg));
    jb_close(&b, '}');
    *body = b.fail ? NULL : b.p;
    if (b.fail)
        free(b.p);
    return status;
}

int jp_decisions_whatif_json(jp_decisions_t *d, const char *country, int64_t prize,
                             const char *draw_id, char **body)
{
    *body = NULL;
    dec_snapshot_t *s = take(d, country);
    char msg[320];
    int status = 0;
    if (!s) {
        snprintf(msg, sizeof(msg), "no decision for %s yet", country);
        status = 404;
    } else if (draw_id && strcmp(draw_id, s->draw_id) != 0) {
        snprintf(msg, sizeof(msg), "what-ifs answer for the latest decision's draw %s, not %s",
                 s->draw_id, draw_id);
        status = 404;
    } else if (!s->have_problem) {
        snprintf(msg, sizeof(msg), "the latest decision had no sales model: %s", s->fallback);
        status = 404;
    } else if (prize < s->cd.p.opt.prize_min || prize > s->cd.p.opt.prize_max) {
        snprintf(msg, sizeof(msg), "prize %lld is outside the country's prizes %lld..%lld",
                 (long long)prize, (long long)s->cd.p.opt.prize_min,
                 (long long)s->cd.p.opt.prize_max);
        status = 400;
    } else {
        jp_decide_result_t res;
        char err[256];
        if (jp_decide_evaluate(&s->cd.p, (double)prize, &res, err, sizeof(err)) != 0) {
            snprintf(msg, sizeof(msg), "what-if failed: %s", err);
            status = 500;
        } else {
            dec_meta_t m = s->meta;
            m.fallback = NULL;
            dec_record_t *r = dec_record_new(&m, prize, &res, &s->cd.p);
            *body = r ? dec_record_json(dec_record_avro(r), 1) : NULL;
            dec_record_free(r);
            status = *body ? 200 : 500;
            snprintf(msg, sizeof(msg), "out of memory");
        }
    }
    if (!*body)
        error_body(body, status, msg);
    dec_snapshot_release(d, s);
    return status;
}
