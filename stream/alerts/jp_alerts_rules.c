/*
 * jp_alerts_rules: what each detector's verdict does to the alerts - the
 * labels that make an alert's identity, the annotations that explain it,
 * when it fires and when it resolves.
 *
 * Every check runs on one deterministic stream of events: day facts
 * (feature drift), the models' evaluations delivered inside facts (concept
 * drift), or the records of one input partition in offset order (rates,
 * silence). The two live checks in jp_alerts_rules_poll are the only
 * exceptions (jp_alerts.h says why they exist).
 *
 * SilentSource for (country, input) is established three ways, all with
 * the same content - starts_at = last event time + the input's silence
 * span, ends_at = the event time of the record that ends it:
 *   1. the input partition's stream time moves past starts_at + lateness
 *      + grace (other countries keep it going): from then on any record of
 *      the silent country before starts_at would be LATE, so the silence
 *      is a fact;
 *   2. its next record arrives more than a span after the previous one
 *      (the gap itself: fired and resolved at once if 1 did not fire);
 *   3. live: the partition has been read to its end (and stayed so for a
 *      few seconds of wall time) and the task's other inputs are past
 *      starts_at + lateness + grace (the partition is silent altogether,
 *      so 1 cannot happen and the task's clock stops).
 */
#include "jp_alerts-internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/jp_clock.h"
#include "base/jp_log.h"
#include "model/base/jp_hash.h"

static const char *const input_names[JP_INPUT__COUNT] = {"sales", "customers", "draws"};

static void fmt_time(char *buf, size_t size, int64_t ms)
{
    time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%MZ", &tm) == 0)
        snprintf(buf, size, "%lld", (long long)ms);
}

static int64_t lateness_grace(const alerts_inst_t *in)
{
    return in->g->cfg->windows.allowed_lateness_ms + in->g->cfg->windows.grace_ms;
}

static int64_t silence_span(const alerts_inst_t *in, jp_input_t i)
{
    const jp_config_t *cfg = in->g->cfg;
    return i == JP_INPUT_SALES       ? cfg->alerts.quality.silence_sales_ms
           : i == JP_INPUT_CUSTOMERS ? cfg->alerts.quality.silence_customers_ms
                                     : cfg->alerts.quality.silence_draws_ms;
}

/* When (country, input) is silent if nothing more arrives: a span after
 * its last record; for draw results a span after the first draw the
 * calendar schedules after the last result (draws are days or weeks
 * apart). NO_TIME when nothing was seen yet. */
static int64_t silence_due(const alerts_inst_t *in, const country_t *c, jp_input_t i)
{
    int64_t last = c->last_seen[i];
    if (last == NO_TIME)
        return NO_TIME;
    const jp_config_t *cfg = in->g->cfg;
    if (i == JP_INPUT_DRAWS)
        for (size_t k = 0; k < cfg->n_countries; k++) {
            jp_draw_t next;
            if (memcmp(cfg->country[k].code, c->code, 2) == 0 &&
                jp_calendar_next_draw(in->g->cal[k], last, 0, &next) == 0)
                return next.time_ms + silence_span(in, i);
        }
    return last + silence_span(in, i);
}

/* ---- data quality (task-wide, per input partition) ---- */

static void partition_alert(alerts_inst_t *in, jp_alert_entry_t *e, jp_alert_rule_t rule,
                            jp_input_t i, int64_t starts_at)
{
    char p[16];
    snprintf(p, sizeof(p), "%d", in->partition);
    jp_alert_init(e, rule, NULL, starts_at);
    jp_alert_label(e, "input", input_names[i]);
    jp_alert_label(e, "partition", p);
    jp_alert_fingerprint(e);
}

/* A rate against its band on a closed bucket. */
static int judge_rate(alerts_inst_t *in, jp_input_t i, jp_alert_rule_t rule, int64_t k,
                      const jp_quality_bucket_t *b, double band, int64_t now)
{
    const jp_config_t *cfg = in->g->cfg;
    jp_quality_rate_t r;
    jp_quality_rate(k, b->consumed, band, in->g->quality_alpha, cfg->alerts.quality.min_records,
                    &r);
    if (!r.judged)
        return 0;
    jp_alert_entry_t e;
    partition_alert(in, &e, rule, i, b->start_ms);
    if (!r.high)
        return r.rate <= band ? jp_alerts_resolve(in, e.fingerprint, b->start_ms, now) : 0;
    const char *what = rule == JP_ALERT_LATE_RATE ? "late" : "dead-lettered";
    char from[32];
    fmt_time(from, sizeof(from), b->start_ms);
    jp_alert_note(&e, "description",
                  "%lld of %lld records of %s partition %d were %s in the %lld minutes of event "
                  "time from %s: %.2f%%, above the band of %.2f%% (binomial p = %.2g < %.2g)",
                  (long long)k, (long long)b->consumed, jp_proc_input_topic(in->ctx, i),
                  in->partition, what, (long long)((b->end_ms - b->start_ms) / 60000), from,
                  100.0 * r.rate, 100.0 * band, r.p_value, in->g->quality_alpha);
    jp_alert_note(&e, "value", "%.6g", r.rate);
    jp_alert_note(&e, "threshold", "%.6g", band);
    jp_alert_summary(&e, "%s partition %d: %.1f%% of records %s (band %.1f%%)",
                     jp_proc_input_topic(in->ctx, i), in->partition, 100.0 * r.rate, what,
                     100.0 * band);
    return jp_alerts_fire(in, &e, now, NULL);
}

/* Records lost to retention or sent to the wrong partition: any is one
 * too many; a clean bucket resolves. */
static int judge_count(alerts_inst_t *in, jp_input_t i, jp_alert_rule_t rule, int64_t k,
                       const jp_quality_bucket_t *b, int64_t now)
{
    jp_alert_entry_t e;
    partition_alert(in, &e, rule, i, b->start_ms);
    if (k <= 0)
        return b->consumed > 0 ? jp_alerts_resolve(in, e.fingerprint, b->start_ms, now) : 0;
    const char *what = rule == JP_ALERT_RECORDS_LOST
                           ? "were lost to retention before they were read"
                           : "belonged to another partition's country";
    jp_alert_note(&e, "description", "%lld records of %s partition %d %s", (long long)k,
                  jp_proc_input_topic(in->ctx, i), in->partition, what);
    jp_alert_note(&e, "value", "%lld", (long long)k);
    jp_alert_summary(&e, "%s partition %d: %lld records %s", jp_proc_input_topic(in->ctx, i),
                     in->partition, (long long)k, what);
    return jp_alerts_fire(in, &e, now, NULL);
}

static int quality_record(alerts_inst_t *in, const jp_proc_record_t *rec)
{
    const jp_config_t *cfg = in->g->cfg;
    jp_input_t i = rec->input;
    jp_proc_counts_t counts;
    jp_quality_bucket_t b;
    jp_proc_counts(in->ctx, i, &counts);
    in->q_dirty[i] = 1;
    if (!jp_quality_record(&in->q[i], cfg->alerts.quality.bucket_ms,
                           cfg->alerts.quality.min_records, rec->event_time, &counts, &b))
        return 0;
    int64_t now = in->q[i].stream_time;
    if (judge_rate(in, i, JP_ALERT_DEAD_LETTER_RATE, b.dead_lettered - b.late, &b,
                   cfg->alerts.quality.dead_letter_rate, now) != 0 ||
        judge_rate(in, i, JP_ALERT_LATE_RATE, b.late, &b, cfg->alerts.quality.late_rate, now) !=
            0 ||
        judge_count(in, i, JP_ALERT_RECORDS_LOST, b.lost, &b, now) != 0 ||
        judge_count(in, i, JP_ALERT_MISPARTITIONED, b.mispartitioned, &b, now) != 0)
        return -1;
    return 0;
}

/* ---- silence ---- */

static void silence_alert(alerts_inst_t *in, const country_t *c, jp_input_t i, jp_alert_entry_t *e)
{
    int64_t span = silence_span(in, i);
    char last[32];
    fmt_time(last, sizeof(last), c->last_seen[i]);
    jp_alert_init(e, JP_ALERT_SILENT_SOURCE, c->code, silence_due(in, c, i));
    jp_alert_label(e, "input", input_names[i]);
    jp_alert_fingerprint(e);
    jp_alert_note(e, "description",
                  "no %s record of %s for more than %lld minutes of event time since %s%s; "
                  "while an input partition is silent its task's windows wait (the clock is its "
                  "lowest watermark)",
                  jp_proc_input_topic(in->ctx, i), c->code, (long long)(span / 60000), last,
                  i == JP_INPUT_DRAWS ? " and the draw scheduled after it" : "");
    jp_alert_note(e, "last_event", "%lld", (long long)c->last_seen[i]);
    jp_alert_summary(e, "%s: no %s events since %s", c->code, input_names[i], last);
}

static int silence_firing(alerts_inst_t *in, const country_t *c, jp_input_t i)
{
    jp_alert_entry_t e;
    silence_alert(in, c, i, &e);
    return jp_alert_set_firing(&in->alerts, e.fingerprint);
}

static int silence_fire(alerts_inst_t *in, const country_t *c, jp_input_t i, int64_t now)
{
    jp_alert_entry_t e;
    silence_alert(in, c, i, &e);
    if (jp_alert_set_firing(&in->alerts, e.fingerprint))
        return 0;
    return jp_alerts_fire(in, &e, now, NULL);
}

static int silence_record(alerts_inst_t *in, const jp_proc_record_t *rec)
{
    jp_input_t i = rec->input;
    country_t *c = jp_alerts_country(in, rec->country);
    if (!c)
        return -1;
    int64_t t = rec->event_time;
    if (c->last_seen[i] != NO_TIME) {
        jp_alert_entry_t e;
        silence_alert(in, c, i, &e);
        if (t > silence_due(in, c, i) && jp_alerts_fire(in, &e, t, NULL) != 0)
            return -1;
        if (jp_alerts_resolve(in, e.fingerprint, t, t) != 0)
            return -1;
    }
    if (c->last_seen[i] == NO_TIME || t > c->last_seen[i]) {
        c->last_seen[i] = t;
        c->seen_dirty = 1;
    }
    c->last_wall[i] = in->g->cfg->alerts.quality.wall_silence_ms > 0 ? jp_clock_now_s() : 0;
    /* The other countries of this partition, by its stream time. */
    int64_t reach = in->q[i].stream_time - lateness_grace(in);
    for (size_t k = 0; k < in->n_c; k++) {
        const country_t *o = &in->c[k];
        if (o != c && o->last_seen[i] != NO_TIME && reach >= silence_due(in, o, i) &&
            silence_fire(in, o, i, in->q[i].stream_time) != 0)
            return -1;
    }
    return 0;
}

int jp_alerts_rules_record(alerts_inst_t *in, const jp_proc_record_t *rec)
{
    return quality_record(in, rec) == 0 && silence_record(in, rec) == 0 ? 0 : -1;
}

/* ---- live checks ---- */

static int lag_check(alerts_inst_t *in, jp_input_t i)
{
    int64_t max = in->g->cfg->alerts.quality.max_lag;
    int64_t lag = jp_proc_lag(in->ctx, i, 0);
    int64_t now = in->q[i].stream_time == NO_TIME ? 0 : in->q[i].stream_time;
    jp_alert_entry_t e;
    partition_alert(in, &e, JP_ALERT_CONSUMER_LAG, i, now);
    if (lag >= 0 && lag <= max / 2)
        return jp_alerts_resolve(in, e.fingerprint, now, now);
    if (lag <= max)
        return 0;
    jp_alert_note(&e, "description",
                  "the task is %lld records behind the end of %s partition %d (bound %lld); "
                  "decisions use stale features",
                  (long long)lag, jp_proc_input_topic(in->ctx, i), in->partition, (long long)max);
    jp_alert_note(&e, "value", "%lld", (long long)lag);
    jp_alert_note(&e, "threshold", "%lld", (long long)max);
    jp_alert_summary(&e, "%s partition %d: %lld records behind", jp_proc_input_topic(in->ctx, i),
                     in->partition, (long long)lag);
    return jp_alerts_fire(in, &e, now, NULL);
}

/* Whether a partition has been read to its end. The end offset of the
 * last fetch response is cheap but stale whenever the consumer is not
 * fetching that partition (a drained queue with the next response on its
 * way, a consumer busy with other partitions), so it only nominates: once
 * it has said "nothing behind" for CROSS_INPUT_HOLD_S of wall time, the
 * broker is asked (a round trip, at most once per hold per input). */
#define CROSS_INPUT_HOLD_S 5.0

static int read_to_end(alerts_inst_t *in, jp_input_t i, double wall)
{
    if (jp_proc_lag(in->ctx, i, 0) != 0) {
        in->at_end_since[i] = 0;
        return 0;
    }
    if (in->at_end_since[i] == 0)
        in->at_end_since[i] = wall;
    if (wall - in->at_end_since[i] < CROSS_INPUT_HOLD_S)
        return 0;
    if (jp_proc_lag(in->ctx, i, 1) == 0)
        return 1;
    in->at_end_since[i] = wall; /* the broker has more: ask again after another hold */
    return 0;
}

int jp_alerts_rules_poll(alerts_inst_t *in)
{
    const jp_config_t *cfg = in->g->cfg;
    double wall = jp_clock_now_s();
    if (wall - in->last_live < 0.1)
        return 0;
    in->last_live = wall;
    for (int ii = 0; ii < JP_INPUT__COUNT; ii++) {
        jp_input_t i = (jp_input_t)ii;
        if (cfg->alerts.quality.cross_input_silence) {
            int64_t evidence = NO_TIME;
            for (int j = 0; j < JP_INPUT__COUNT; j++)
                if (j != ii && in->q[j].stream_time > evidence)
                    evidence = in->q[j].stream_time;
            int candidate = 0;
            for (size_t k = 0; evidence != NO_TIME && k < in->n_c && !candidate; k++)
                candidate = in->c[k].last_seen[i] != NO_TIME &&
                            evidence - lateness_grace(in) >= silence_due(in, &in->c[k], i) &&
                            !silence_firing(in, &in->c[k], i);
            if (!candidate)
                in->at_end_since[i] = 0;
            for (size_t k = 0; candidate && k < in->n_c && read_to_end(in, i, wall); k++) {
                const country_t *c = &in->c[k];
                if (c->last_seen[i] != NO_TIME &&
                    evidence - lateness_grace(in) >= silence_due(in, c, i) &&
                    silence_fire(in, c, i, evidence) != 0)
                    return -1;
            }
        }
        int64_t wall_span = cfg->alerts.quality.wall_silence_ms;
        for (size_t k = 0; wall_span > 0 && k < in->n_c; k++) {
            const country_t *c = &in->c[k];
            if (c->last_seen[i] != NO_TIME &&
                (wall - c->last_wall[i]) * 1000.0 >= (double)wall_span &&
                silence_fire(in, c, i, c->last_seen[i]) != 0)
                return -1;
        }
        if (cfg->alerts.quality.max_lag > 0 && lag_check(in, i) != 0)
            return -1;
    }
    return 0;
}

/* ---- feature drift ---- */

/* The reference days of country c for a current window that starts at
 * day `from`: the champion's training window when the learning loop gives
 * one with at least two weeks of complete days, else the complete days of
 * the trailing reference_days from `floor` on (at least 80% of
 * reference_days: still warming up otherwise). */
static size_t reference_days(alerts_inst_t *in, country_t *c, int64_t from, int64_t floor,
                             const jp_feat_day_t **ref, size_t cap, char *what, size_t what_size)
{
    const jp_config_t *cfg = in->g->cfg;
    int64_t s, e, span = cfg->alerts.feature.reference_days;
    size_t n = 0;
    char a[32], b[32];
    if (in->g->reference &&
        in->g->reference(in->g->reference_ctx, in->partition, c->code, &s, &e) == 1) {
        for (size_t k = 0; k < c->n_days && n < cap; k++) {
            const jp_feat_day_t *d = &c->days[k]->d;
            if (jp_feat_day_complete(d) && d->day < from && d->day * DAY_MS >= s &&
                (d->day + 1) * DAY_MS <= e)
                ref[n++] = d;
        }
        if (n >= 14) {
            fmt_time(a, sizeof(a), s);
            fmt_time(b, sizeof(b), e);
            snprintf(what, what_size, "the champion's training window %s..%s", a, b);
            return n;
        }
        n = 0;
    }
    int64_t first = from - span > floor ? from - span : floor;
    for (int64_t d = first; d < from && n < cap; d++) {
        const day_slot_t *s2 = jp_alerts_day(c, d, 0);
        if (s2 && jp_feat_day_complete(&s2->d))
            ref[n++] = &s2->d;
    }
    if ((double)n < 0.8 * (double)span)
        return 0;
    fmt_time(a, sizeof(a), first * DAY_MS);
    fmt_time(b, sizeof(b), from * DAY_MS);
    snprintf(what, what_size, "the trailing %lld days %s..%s", (long long)(from - first), a, b);
    return n;
}

/* Judges feature f of country c after day `day` closed: the current window
 * is cur[0..ncur) (ncur 0: incomplete), the reference is chosen here (a
 * drift moves the trailing reference's floor past the day that found it,
 * so the new regime is never compared with a mixture of both; the feature
 * is then not judged until the reference is filled again). */
static int judge_feature(alerts_inst_t *in, country_t *c, jp_feat_t f, const jp_feat_day_t **cur,
                         size_t ncur, int64_t day, int64_t now)
{
    const jp_config_t *cfg = in->g->cfg;
    jp_feat_params_t p = {in->g->feat_alpha, (double)cfg->alerts.feature.min_count, 0};
    char seed[32], err[256], ref_what[160] = "";
    snprintf(seed, sizeof(seed), "%s/%d/%lld", c->code, (int)f, (long long)day);
    p.seed = jp_hash_str(seed, 0);
    jp_feat_state_t *st = &c->feat[f];
    int64_t from = day + 1 - (int64_t)ncur;
    const jp_feat_day_t **ref = malloc((c->n_days ? c->n_days : 1) * sizeof(*ref));
    if (!ref)
        return -1;
    size_t nref =
        ncur ? reference_days(in, c, from, st->rebase, ref, c->n_days, ref_what, sizeof(ref_what))
             : 0;
    jp_feat_result_t r;
    int rc = jp_feat_evaluate(f, ref, nref, cur, nref ? ncur : 0, &p, in->g->feat_cache, st, &r,
                              err, sizeof(err));
    free(ref);
    if (rc != 0) {
        jp_log_error("alerts", "task %d: %s %s: %s", in->partition, c->code, jp_feat_name(f), err);
        return -1;
    }
    c->feat_dirty = 1;
    int64_t end = (day + 1) * DAY_MS;
    jp_alert_entry_t e;
    jp_alert_init(&e, JP_ALERT_FEATURE_DRIFT, c->code, end);
    jp_alert_label(&e, "feature", jp_feat_name(f));
    jp_alert_fingerprint(&e);
    int64_t since = st->last_drift == NO_TIME ? INT64_MAX : day - st->last_drift;
    if (!r.judged) {
        /* Not judged for a whole reference and current window since the
         * last drift (and its refill): nothing supports the alert any more. */
        return since != INT64_MAX && since >= 2 * (cfg->alerts.feature.reference_days +
                                                   cfg->alerts.feature.current_days)
                   ? jp_alerts_resolve(in, e.fingerprint, end, now)
                   : 0;
    }
    if (!r.drift) {
        st->quiet++;
        return since >= cfg->alerts.feature.resolve_days
                   ? jp_alerts_resolve(in, e.fingerprint, end, now)
                   : 0;
    }
    st->last_drift = day;
    st->quiet = 0;
    if (!jp_alert_set_firing(&in->alerts, e.fingerprint))
        st->rebase = day + 1; /* after the day that showed it: the new regime only */
    char a[32];
    fmt_time(a, sizeof(a), from * DAY_MS);
    jp_alert_note(&e, "description", "%s; the %zu days from %s against %s", r.description, ncur, a,
                  ref_what);
    jp_alert_note(&e, "value", "%.6g", r.stat[0]);
    jp_alert_note(&e, "threshold", "%.6g", r.threshold[0]);
    if (r.n_stats == 2) {
        jp_alert_note(&e, "ks", "%.6g", r.stat[1]);
        jp_alert_note(&e, "ks_threshold", "%.6g", r.threshold[1]);
    }
    jp_alert_note(&e, "detected_at", "%lld", (long long)end);
    jp_alert_summary(&e, "%s: %s drifted (%s %.3g > %.3g)", c->code, jp_feat_name(f),
                     r.worst ? "KS" : "PSI", r.stat[r.worst], r.threshold[r.worst]);
    return jp_alerts_fire(in, &e, now, NULL);
}

int jp_alerts_rules_day(alerts_inst_t *in, country_t *c, int64_t day, int64_t now)
{
    size_t ncur = (size_t)in->g->cfg->alerts.feature.current_days;
    const jp_feat_day_t *cur[90];
    for (size_t k = 0; k < ncur; k++) {
        const day_slot_t *s = jp_alerts_day(c, day - (int64_t)k, 0);
        if (!s || !jp_feat_day_complete(&s->d)) {
            ncur = 0; /* a day of the window is missing: nothing is judged today */
            break;
        }
        cur[k] = &s->d;
    }
    for (int f = 0; f < JP_FEAT__COUNT; f++)
        if ((in->g->features & (1u << f)) &&
            judge_feature(in, c, (jp_feat_t)f, cur, ncur, day, now) != 0)
            return -1;
    return 0;
}

/* ---- concept drift ---- */

int jp_alerts_rules_eval(alerts_inst_t *in, const jp_alerts_eval_t *ev)
{
    jp_alerts_t *g = in->g;
    country_t *c = jp_alerts_country(in, ev->country);
    model_slot_t *m = c ? jp_alerts_model(in, c, ev->model) : NULL;
    char err[256];
    const jp_concept_params_t *params = m ? jp_alerts_concept_params(g, err, sizeof(err)) : NULL;
    if (!params)
        return -1;
    jp_concept_detection_t d;
    int64_t t = ev->event_time;
    if (jp_concept_observe(m->c, params, ev->version, ev->value, t,
                           ev->window_start ? ev->window_start : t, &d) != 0)
        return 0; /* not a number: nothing to learn from */
    m->dirty = 1;
    if (d.detected) {
        char version[16], cp[32];
        snprintf(version, sizeof(version), "%d", ev->version);
        fmt_time(cp, sizeof(cp), d.change_point);
        jp_alert_entry_t e;
        jp_alert_init(&e, JP_ALERT_CONCEPT_DRIFT, c->code, t);
        jp_alert_label(&e, "model", m->name);
        jp_alert_label(&e, "model_version", version);
        int critical = fabs(d.shift) >= g->cfg->alerts.concept.critical_shift_sd;
        e.severity = critical ? JP_ALERT_SEVERITY_CRITICAL : JP_ALERT_SEVERITY_WARNING;
        const char *what = strcmp(m->name, "churn") == 0 ? "log-loss against its expectation"
                                                         : "standardized residuals";
        jp_alert_note(&e, "description",
                      "%s: the %s of %s model version %d moved by %+.2f sd since %s (%llu "
                      "evaluations); statistic %.4g, threshold %.4g",
                      d.detector, what, m->name, ev->version, d.shift, cp,
                      (unsigned long long)d.points, d.statistic, d.threshold);
        jp_alert_note(&e, "detector", "%s", d.detector);
        jp_alert_note(&e, "change_point", "%lld", (long long)d.change_point);
        jp_alert_note(&e, "value", "%.4g", d.shift);
        jp_alert_note(&e, "threshold", "%.4g", g->cfg->alerts.concept.critical_shift_sd);
        jp_alert_note(&e, "detected_at", "%lld", (long long)t);
        jp_alert_summary(&e, "%s %s model v%d: concept drift (%+.2f sd since %s)", c->code, m->name,
                         ev->version, d.shift, cp);
        jp_alert_fingerprint(&e);
        const jp_alert_entry_t *prev = jp_alert_set_find(&in->alerts, e.fingerprint);
        int was_critical = prev && prev->status == JP_ALERT_STATUS_FIRING &&
                           prev->severity == JP_ALERT_SEVERITY_CRITICAL;
        if (jp_alerts_fire(in, &e, t, NULL) != 0)
            return -1;
        if (critical && !was_critical && g->drift) {
            jp_alerts_drift_t out = {c->code, m->name, ev->version,  d.change_point,
                                     t,       d.shift, e.fingerprint};
            g->drift(g->drift_ctx, in->partition, &out);
        }
    }
    return jp_alerts_rules_concept_quiet(in, c, t);
}

int jp_alerts_rules_concept_quiet(alerts_inst_t *in, country_t *c, int64_t now)
{
    int64_t quiet = in->g->cfg->alerts.concept.resolve_after_ms;
    for (size_t k = 0; k < in->alerts.n; k++) {
        const jp_alert_entry_t *e = in->alerts.v[k];
        if (e->rule != JP_ALERT_CONCEPT_DRIFT || e->status != JP_ALERT_STATUS_FIRING ||
            strcmp(e->country, c->code) != 0)
            continue;
        const char *model = jp_alert_label_get(e, "model");
        int64_t last = e->starts_at;
        for (size_t m = 0; model && m < c->n_models; m++)
            if (strcmp(c->models[m].name, model) == 0 && c->models[m].c->last_detect > last)
                last = c->models[m].c->last_detect;
        if (now - last >= quiet && jp_alerts_resolve(in, e->fingerprint, now, now) != 0)
            return -1;
    }
    return 0;
}
