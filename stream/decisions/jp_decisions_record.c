/*
 * jp_decisions_record: a decision as a JackpotRecommendation, the same as
 * JSON, and the serving side (latest recommendation, what-if).
 *
 * One path for all three: the Avro struct is filled from the decision's
 * result, and the JSON is written from the Avro struct - so the admin API
 * says exactly what the topic carries. A what-if builds the same struct
 * from jp_decide_evaluate on the published snapshot.
 */
#include "decisions/jp_decisions-internal.h"

#include <jansson.h>
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

static json_t *jstr(jp_avro_str_t s)
{
    return json_stringn(s.ptr ? s.ptr : "", s.len);
}

/* JSON has no NaN or infinity: null instead. */
static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jstrs(const jp_avro_array_t *a)
{
    json_t *o = json_array();
    const jp_avro_str_t *s = a->items;
    for (size_t i = 0; i < a->n; i++)
        json_array_append_new(o, jstr(s[i]));
    return o;
}

static void set(json_t *o, const char *k, json_t *v)
{
    json_object_set_new(o, k, v);
}

static json_t *provenance_json(const jp_provenance_t *p)
{
    json_t *o = json_object(), *snap = json_object(), *offs = json_array();
    const jp_offset_range_t *r = p->data_snapshot.offsets.items;
    for (size_t i = 0; i < p->data_snapshot.offsets.n; i++) {
        json_t *e = json_object();
        set(e, "topic", jstr(r[i].topic));
        set(e, "partition", json_integer(r[i].partition));
        set(e, "start_offset", json_integer(r[i].start_offset));
        set(e, "end_offset", json_integer(r[i].end_offset));
        json_array_append_new(offs, e);
    }
    set(snap, "offsets", offs);
    set(snap, "event_time_start", json_integer(p->data_snapshot.event_time_start));
    set(snap, "event_time_end", json_integer(p->data_snapshot.event_time_end));
    set(o, "model_version", jstr(p->model_version));
    set(o, "data_snapshot", snap);
    set(o, "config_hash", jstr(p->config_hash));
    set(o, "code_version", jstr(p->code_version));
    return o;
}

static json_t *model_json(const jp_model_info_t *m)
{
    json_t *o = json_object(), *v = json_object(), *el = json_array();
    const jp_avro_str_t *vals = m->versions.values;
    for (size_t i = 0; i < m->versions.n; i++) {
        char key[64];
        snprintf(key, sizeof(key), "%.*s", (int)m->versions.keys[i].len, m->versions.keys[i].ptr);
        set(v, key, jstr(vals[i]));
    }
    const jp_elasticity_t *e = m->elasticities.items;
    for (size_t i = 0; i < m->elasticities.n; i++) {
        json_t *x = json_object();
        set(x, "flow", jstr(e[i].flow));
        set(x, "estimate", jnum(e[i].estimate));
        set(x, "sd", jnum(e[i].sd));
        json_array_append_new(el, x);
    }
    set(o, "versions", v);
    set(o, "elasticities", el);
    set(o, "error", m->has_error ? jnum(m->error) : json_null());
    set(o, "lifetime_days", m->has_lifetime_days ? jnum(m->lifetime_days) : json_null());
    return o;
}

char *dec_record_json(const jp_recommendation_t *r, int whatif)
{
    json_t *o = json_object();
    set(o, "country", jstr(r->country));
    set(o, "decision_id", jstr(r->decision_id));
    set(o, "draw_id", jstr(r->draw_id));
    set(o, "decision_time", json_integer(r->decision_time));
    set(o, "currency", jstr(r->currency));
    set(o, "status", json_string(r->status == JP_RECOMMENDATION_INFEASIBLE ? "INFEASIBLE" : "OK"));
    if (whatif)
        set(o, "whatif", json_true());
    set(o, "prize_minor", json_integer(r->prize_minor));
    set(o, "expected_tickets", jnum(r->expected_tickets));
    set(o, "expected_tickets_p5", jnum(r->expected_tickets_p5));
    set(o, "expected_tickets_p95", jnum(r->expected_tickets_p95));
    set(o, "expected_sales_minor", jnum(r->expected_sales_minor));
    set(o, "expected_sales_p5_minor", jnum(r->expected_sales_p5_minor));
    set(o, "expected_sales_p95_minor", jnum(r->expected_sales_p95_minor));
    set(o, "expected_payout_minor", jnum(r->expected_payout_minor));
    set(o, "expected_net_revenue_minor", jnum(r->expected_net_revenue_minor));
    set(o, "payout_ratio", jnum(r->payout_ratio));
    set(o, "payout_ratio_after",
        r->has_payout_ratio_after ? jnum(r->payout_ratio_after) : json_null());
    set(o, "loss_probability", jnum(r->loss_probability));
    set(o, "horizon_draws", json_integer(r->horizon_draws));
    set(o, "horizon_value_minor", jnum(r->horizon_value_minor));
    set(o, "stock_value_minor", jnum(r->stock_value_minor));
    set(o, "binding_constraints", jstrs(&r->binding_constraints));
    set(o, "infeasible_rules", jstrs(&r->infeasible_rules));
    json_t *cons = json_array();
    const jp_constraint_slack_t *c = r->constraints.items;
    for (size_t i = 0; i < r->constraints.n; i++) {
        json_t *x = json_object();
        set(x, "name", jstr(c[i].name));
        set(x, "value", jnum(c[i].value));
        set(x, "limit", jnum(c[i].limit));
        set(x, "slack", jnum(c[i].slack));
        set(x, "binding", json_boolean(c[i].binding));
        set(x, "violated", json_boolean(c[i].violated));
        json_array_append_new(cons, x);
    }
    set(o, "constraints", cons);
    json_t *alts = json_array();
    const jp_alternative_t *a = r->alternatives.items;
    for (size_t i = 0; i < r->alternatives.n; i++) {
        json_t *x = json_object();
        set(x, "prize_minor", json_integer(a[i].prize_minor));
        set(x, "expected_sales_minor", jnum(a[i].expected_sales_minor));
        set(x, "expected_net_revenue_minor", jnum(a[i].expected_net_revenue_minor));
        set(x, "feasible", json_boolean(a[i].feasible));
        set(x, "violated_constraints", jstrs(&a[i].violated_constraints));
        json_array_append_new(alts, x);
    }
    set(o, "alternatives", alts);
    json_t *ex = json_object();
    set(ex, "explored", json_boolean(r->exploration.explored));
    set(ex, "greedy_prize_minor", json_integer(r->exploration.greedy_prize_minor));
    set(ex, "sampled_prize_minor", json_integer(r->exploration.sampled_prize_minor));
    set(ex, "cost_minor", jnum(r->exploration.cost_minor));
    set(ex, "budget_minor", jnum(r->exploration.budget_minor));
    set(ex, "share", jnum(r->exploration.share));
    set(o, "exploration", ex);
    set(o, "fallback_reason", r->has_fallback_reason ? jstr(r->fallback_reason) : json_null());
    set(o, "model", model_json(&r->model));
    set(o, "provenance", provenance_json(&r->provenance));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
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
    json_t *o = json_object();
    set(o, "error", json_string(msg));
    *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
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
