/*
 * jp_sim_truth: builds the truth document with jansson as the simulation
 * runs. Fault records are kept in an array indexed by the value returned
 * from jp_sim_truth_fault, so the producer's delivery reports (which come
 * later, from librdkafka's poll) can fill in partition and offset.
 */
#include "sim/jp_sim_truth.h"
#include "model/base/jp_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jp_sim_truth_s {
    json_t *root;
    json_t *countries, *changes, *fault_counts, *fault_records, *totals;
};

static void set(json_t *o, const char *k, json_t *v)
{
    json_object_set_new(o, k, v);
}

jp_sim_truth_t *jp_sim_truth_new(const jp_sim_world_t *w, uint64_t seed, int64_t weeks)
{
    jp_sim_truth_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->root = json_object();
    set(t->root, "world", json_string(w->file ? w->file : ""));
    set(t->root, "seed", json_integer((json_int_t)seed));
    set(t->root, "start_ms", json_integer(w->start_ms));
    set(t->root, "weeks", json_integer(weeks));
    json_t *topics = json_object();
    if (w->config_loaded) {
        set(topics, "sales", json_string(w->config.topics.sales.name));
        set(topics, "customers", json_string(w->config.topics.customers.name));
        set(topics, "draws", json_string(w->config.topics.draws.name));
        set(topics, "recommendations", json_string(w->config.topics.recommendations));
        set(topics, "allowed_lateness_ms", json_integer(w->config.windows.allowed_lateness_ms));
        set(topics, "grace_ms", json_integer(w->config.windows.grace_ms));
    }
    set(t->root, "topics", topics);
    t->totals = json_object();
    set(t->root, "records_written", t->totals);
    t->countries = json_object();
    set(t->root, "countries", t->countries);
    t->changes = json_array();
    set(t->root, "changes", t->changes);
    json_t *faults = json_object();
    t->fault_counts = json_object();
    for (int i = 0; i < JP_SIM_FAULT__COUNT; i++)
        set(t->fault_counts, jp_sim_fault_name((jp_sim_fault_t)i), json_integer(0));
    t->fault_records = json_array();
    json_t *rates = json_object();
    for (int i = 0; i < JP_SIM_FAULT__COUNT; i++)
        set(rates, jp_sim_fault_name((jp_sim_fault_t)i), json_real(w->fault_rate[i]));
    set(faults, "rates", rates);
    set(faults, "counts", t->fault_counts);
    set(faults, "records", t->fault_records);
    set(t->root, "faults", faults);
    return t;
}

void jp_sim_truth_free(jp_sim_truth_t *t)
{
    if (!t)
        return;
    json_decref(t->root);
    free(t);
}

static const char *const policy_names[] = {"fixed", "schedule", "recommendations"};

void jp_sim_truth_country(jp_sim_truth_t *t, const jp_sim_country_t *k)
{
    json_t *c = json_object(), *p = json_object(), *season = json_object();
    set(p, "prize_ref_minor", json_integer(k->response.prize_ref_minor));
    set(p, "signups_per_day", json_real(k->response.signups_per_day));
    set(p, "signup_elasticity", json_real(k->response.signup_elasticity));
    set(p, "cancel_elasticity", json_real(k->response.cancel_elasticity));
    set(p, "reactivations_per_day", json_real(k->response.reactivations_per_day));
    set(p, "extra_per_subscriber_per_day", json_real(k->response.extra_per_subscriber_per_day));
    set(p, "extra_elasticity", json_real(k->response.extra_elasticity));
    set(p, "extra_tickets_mean", json_real(k->response.extra_tickets_mean));
    set(p, "payment_failure", json_real(k->response.payment_failure));
    set(p, "tickets_mean", json_real(k->population.tickets_mean));
    set(p, "churn_intercept", json_real(k->churn.intercept));
    set(p, "churn_tenure", json_real(k->churn.tenure));
    set(p, "churn_payment_failures", json_real(k->churn.payment_failures));
    set(p, "churn_tickets", json_real(k->churn.tickets));
    json_t *wk = json_array(), *hr = json_array();
    for (int i = 0; i < 7; i++)
        json_array_append_new(wk, json_real(k->season.weekly[i]));
    for (int i = 0; i < 24; i++)
        json_array_append_new(hr, json_real(k->season.hourly[i]));
    set(season, "weekly", wk);
    set(season, "hourly", hr);
    set(season, "yearly_amplitude", json_real(k->season.yearly_amplitude));
    set(season, "yearly_peak_week", json_integer(k->season.yearly_peak_week));
    set(p, "seasonality", season);
    set(p, "policy", json_string(policy_names[k->prize.policy]));
    set(p, "initial_subscribers", json_integer(k->population.subscribers));
    set(p, "postcodes", json_integer(k->population.postcodes));
    set(c, "parameters", p);
    set(c, "draws", json_array());
    set(t->countries, k->code, c);
}

static json_t *counts_json(const jp_sim_counts_t *c)
{
    json_t *o = json_object();
    set(o, "signups", json_real(c->signups));
    set(o, "cancellations", json_real(c->cancellations));
    set(o, "reactivations", json_real(c->reactivations));
    set(o, "payment_failures", json_real(c->payment_failures));
    set(o, "extra_purchases", json_real(c->extra_purchases));
    set(o, "extra_tickets", json_real(c->extra_tickets));
    set(o, "renewal_tickets", json_real(c->renewal_tickets));
    set(o, "signup_tickets", json_real(c->signup_tickets));
    set(o, "tickets", json_real(c->tickets));
    set(o, "revenue_minor", json_real(c->revenue_minor));
    return o;
}

void jp_sim_truth_draw(jp_sim_truth_t *t, const char *country, const jp_sim_draw_truth_t *d)
{
    json_t *c = json_object_get(t->countries, country);
    if (!c)
        return;
    json_t *o = json_object();
    set(o, "draw_id", json_string(d->draw_id));
    set(o, "time_ms", json_integer(d->time_ms));
    set(o, "headline", json_boolean(d->headline));
    set(o, "prize_minor", json_integer(d->prize_minor));
    set(o, "prize_kind", json_string(d->prize_kind));
    if (d->headline) {
        set(o, "period_start_ms", json_integer(d->period_start_ms));
        set(o, "policy", json_string(d->policy));
        json_t *p = json_object();
        set(p, "signup_elasticity", json_real(d->signup_elasticity));
        set(p, "cancel_elasticity", json_real(d->cancel_elasticity));
        set(p, "extra_elasticity", json_real(d->extra_elasticity));
        set(p, "season_mean", json_real(d->season_mean));
        set(p, "mean_log_prize", json_real(d->mean_log_prize));
        set(o, "parameters", p);
        set(o, "expected", counts_json(&d->expected));
        set(o, "realized", counts_json(&d->realized));
        set(o, "switch_ms", json_integer(d->switch_ms));
        set(o, "expected_after_switch", counts_json(&d->expected_after_switch));
        json_t *pc = json_object();
        set(pc, "mean", json_real(d->postcodes.mean));
        set(pc, "p50", json_real(d->postcodes.p50));
        set(pc, "p90", json_real(d->postcodes.p90));
        set(pc, "p99", json_real(d->postcodes.p99));
        set(pc, "p999", json_real(d->postcodes.p999));
        set(pc, "max", json_real(d->postcodes.max));
        set(o, "tickets_per_postcode", pc);
    }
    set(o, "active_subscribers", json_integer(d->active_subscribers));
    set(o, "participating_postcodes", json_integer(d->participating_postcodes));
    set(o, "tickets_held", json_integer(d->tickets_held));
    set(o, "winning_postcode", json_string(d->winning_postcode ? d->winning_postcode : ""));
    set(o, "winning_sector", json_string(d->winning_sector ? d->winning_sector : ""));
    set(o, "tickets_in_winning_postcode", json_integer(d->tickets_in_winning_postcode));
    set(o, "payout_minor", json_integer(d->payout_minor));
    json_array_append_new(json_object_get(c, "draws"), o);
}

static const char *const change_names[] = {"elasticity", "seasonality", "feature_shift", "silence"};

void jp_sim_truth_change(jp_sim_truth_t *t, const jp_sim_change_t *c, const char *country,
                         int64_t time_ms)
{
    json_t *o = json_object();
    set(o, "week", json_integer(c->week));
    set(o, "time_ms", json_integer(time_ms));
    set(o, "country", json_string(country));
    set(o, "kind", json_string(change_names[c->kind]));
    if (c->target)
        set(o, "target", json_string(c->target));
    if (c->kind == JP_SIM_CHANGE_ELASTICITY || c->kind == JP_SIM_CHANGE_FEATURE_SHIFT)
        set(o, "value", json_real(c->value));
    if (c->kind == JP_SIM_CHANGE_SEASONALITY) {
        if (c->weekly[0] > 0) {
            json_t *wk = json_array();
            for (size_t i = 0; i < 7; i++)
                json_array_append_new(wk, json_real(c->weekly[i]));
            set(o, "weekly", wk);
        }
        set(o, "yearly_amplitude", json_real(c->yearly_amplitude));
    }
    if (c->kind == JP_SIM_CHANGE_SILENCE)
        set(o, "weeks", json_integer(c->weeks));
    json_array_append_new(t->changes, o);
}

long jp_sim_truth_fault(jp_sim_truth_t *t, jp_sim_fault_t type, const char *topic, const char *key,
                        const char *event_id, uint64_t seq, const char *expected_error,
                        uint64_t value_hash)
{
    const char *name = jp_sim_fault_name(type);
    json_t *n = json_object_get(t->fault_counts, name);
    json_integer_set(n, json_integer_value(n) + 1);
    json_t *o = json_object();
    char hash[17];
    snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)value_hash);
    set(o, "type", json_string(name));
    set(o, "topic", json_string(topic));
    set(o, "key", json_string(key));
    set(o, "event_id", json_string(event_id));
    set(o, "seq", json_integer((json_int_t)seq));
    set(o, "expected_error", expected_error ? json_string(expected_error) : json_null());
    set(o, "value_xxh64", json_string(hash));
    set(o, "partition", json_integer(-1));
    set(o, "offset", json_integer(-1));
    json_array_append_new(t->fault_records, o);
    return (long)json_array_size(t->fault_records) - 1;
}

void jp_sim_truth_fault_seq(jp_sim_truth_t *t, long index, uint64_t seq)
{
    json_t *o = json_array_get(t->fault_records, (size_t)index);
    if (o)
        set(o, "seq", json_integer((json_int_t)seq));
}

void jp_sim_truth_fault_delivered(jp_sim_truth_t *t, long index, int32_t partition, int64_t offset)
{
    json_t *o = json_array_get(t->fault_records, (size_t)index);
    if (!o)
        return;
    set(o, "partition", json_integer(partition));
    set(o, "offset", json_integer(offset));
}

void jp_sim_truth_totals(jp_sim_truth_t *t, const char *topic, uint64_t records)
{
    set(t->totals, topic, json_integer((json_int_t)records));
}

json_t *jp_sim_truth_json(jp_sim_truth_t *t)
{
    return t->root;
}

int jp_sim_truth_write(jp_sim_truth_t *t, const char *path, char *errstr, size_t errstr_size)
{
    if (json_dump_file(t->root, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER) != 0) {
        jp_err_set(errstr, errstr_size, "cannot write the truth file %s", path);
        return -1;
    }
    return 0;
}
