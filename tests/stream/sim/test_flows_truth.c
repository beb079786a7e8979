/*
 * Identification of the stock-and-flow sales model (model/learn/jp_flows.h)
 * on the simulator's ground truth: configs/sim/explore.yaml is generated in
 * process (each country's jp_sim_gen hour by hour, events handed to this
 * test, nothing encoded or produced), the events are aggregated into UTC
 * day windows exactly as the engine's windows count them (sign-ups,
 * reactivations, cancellations and payment failures from customer events;
 * sales by purchase kind with their tickets; the advertised prize and the
 * campaigns as time-weighted step signals from the sales that carry them;
 * the stock as the running count of sign-ups + reactivations -
 * cancellations from the known starting base), and the model sees only
 * those aggregates. The truth parameters are read for the comparison only.
 *
 * Asserted after the simulated year:
 *   - sign-up and extra-purchase elasticities within +-10% of the truth
 *     for GB, NL and SE, cancellations within +-15% (this seed is within
 *     +-7%; over eleven seeds one SE year reached -10.7%: docs/model-sales.md);
 *   - every elasticity's error within 4 posterior standard deviations for
 *     every country with a moving prize (the reported stderr is honest);
 *   - prequential forecasts of each draw period's tickets from the second
 *     quarter on (model fitted and snapshotted at the period's start, then
 *     evaluated for the prizes that were advertised: the previous one until
 *     the draw's decision time, the draw's own after it): mean absolute
 *     error under 1% and the 5-95% band covering 80-99% of the periods;
 *   - the model serialized at every period start restores to the same bytes.
 * Everything is seeded: the same run prints the same table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <math.h>

#include "config/jp_calendar.h"
#include "model/learn/jp_flows.h"
#include "sim/jp_sim_gen.h"
#include "sim/jp_sim_world.h"
#include "jp_test.h"
#include "jp_test_engine.h"

#define HOUR_MS 3600000LL
#define DAY_MS  (24 * HOUR_MS)
#define WEEK_MS (7 * DAY_MS)

/* Forecasts are scored for periods starting after this week. */
#define FORECAST_FROM_WEEK 13

typedef struct {
    const jp_sim_country_t *k;
    jp_calendar_t *cal;
    jp_flows_t *model;
    /* the open day window */
    int64_t day_start;
    jp_flows_window_t w;
    jp_flows_tw_t prize, camp[JP_FLOWS_MAX_CAMPAIGNS];
    char *camp_name[JP_FLOWS_MAX_CAMPAIGNS];
    unsigned n_camp;
    double log_prize; /* advertised now */
    double active, lapsed;
    /* the open headline draw period */
    int64_t period_start, next_draw;
    jp_flows_tw_t period_camp[JP_FLOWS_MAX_CAMPAIGNS];
    int64_t period_switch, period_prize_now;
    double period_tickets, period_active, period_lapsed;
    jp_flows_t *snapshot; /* the model as fitted at the period's start */
    /* forecast scores */
    unsigned scored, covered;
    double abs_err;
    int failed;
} country_t;

static int32_t tz_min(const country_t *c, int64_t t)
{
    jp_local_time_t lt;
    jp_calendar_local_time(c->cal, t, &lt);
    return lt.utc_offset_s / 60;
}

static void open_day(country_t *c, int64_t start)
{
    memset(&c->w, 0, sizeof(c->w));
    c->day_start = start;
    c->w.start_ms = start;
    c->w.end_ms = start + DAY_MS;
    c->w.active_start = c->active;
    c->w.lapsed_start = c->lapsed;
    jp_flows_tw_init(&c->prize, start, c->log_prize);
    for (unsigned s = 0; s < JP_FLOWS_MAX_CAMPAIGNS; s++)
        jp_flows_tw_init(&c->camp[s], start, c->camp[s].value);
}

static void close_day(country_t *c)
{
    jp_flows_window_t *w = &c->w;
    w->tz_offset_min = tz_min(c, w->start_ms + DAY_MS / 2);
    w->log_prize = jp_flows_tw_mean(&c->prize, w->end_ms);
    w->log_prize_var = jp_flows_tw_var(&c->prize, w->end_ms);
    for (unsigned s = 0; s < c->n_camp; s++)
        w->campaign[s] = jp_flows_tw_mean(&c->camp[s], w->end_ms);
    w->active_end = c->active;
    w->lapsed_end = c->lapsed;
    char err[256];
    if (jp_flows_observe(c->model, w, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", c->k->code, err);
        c->failed = 1;
    }
    jp_flows_fit(c->model, NULL, 0); /* as the engine does at every close (it weighs samples) */
    open_day(c, w->end_ms);
}

/* Serializes the model and restores it: the restored copy must write the
 * same bytes. Returns the copy. */
static jp_flows_t *snapshot(country_t *c)
{
    jp_bytes_writer_t bw;
    jp_bytes_writer_init(&bw);
    jp_flows_serialize(c->model, &bw);
    jp_bytes_reader_t br;
    jp_bytes_reader_init(&br, bw.buf, bw.len);
    char err[256];
    jp_flows_t *copy = jp_flows_deserialize(&br, err, sizeof(err));
    if (!copy || !jp_bytes_reader_done(&br)) {
        fprintf(stderr, "%s: snapshot: %s\n", c->k->code, copy ? "trailing bytes" : err);
        c->failed = 1;
    } else {
        jp_bytes_writer_t again;
        jp_bytes_writer_init(&again);
        jp_flows_serialize(copy, &again);
        if (again.len != bw.len || memcmp(again.buf, bw.buf, bw.len) != 0) {
            fprintf(stderr, "%s: snapshot re-serializes differently\n", c->k->code);
            c->failed = 1;
        }
        jp_bytes_writer_free(&again);
    }
    jp_bytes_writer_free(&bw);
    return copy;
}

/* Scores the forecast of the period that ends now, for the prize that was
 * advertised over it. */
static void score_period(country_t *c, int64_t end)
{
    jp_flows_period_t per;
    memset(&per, 0, sizeof(per));
    per.start_ms = c->period_start;
    per.end_ms = end;
    per.switch_ms = c->period_switch;
    per.tz_offset_min = tz_min(c, c->period_start);
    per.billing_share = -1.0;
    for (unsigned s = 0; s < c->n_camp; s++)
        per.campaign[s] = jp_flows_tw_mean(&c->period_camp[s], end);
    jp_flows_stock_t st = {c->period_active, c->period_lapsed, c->period_prize_now, NAN, 0};
    int64_t prize = (int64_t)llround(exp(c->log_prize));
    jp_flows_forecast_t f;
    char err[256];
    if (jp_flows_forecast_one(c->snapshot, &per, &st, prize, &f, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: forecast: %s\n", c->k->code, err);
        c->failed = 1;
        return;
    }
    c->scored++;
    c->abs_err += fabs(f.tickets - c->period_tickets) / c->period_tickets;
    c->covered += c->period_tickets >= f.tickets_p05 && c->period_tickets <= f.tickets_p95;
}

static void headline_draw(country_t *c, int64_t t, int64_t world_start)
{
    if (c->snapshot) {
        score_period(c, t);
        jp_flows_free(c->snapshot);
        c->snapshot = NULL;
    }
    c->period_start = t;
    c->period_tickets = 0;
    c->period_active = c->active;
    c->period_lapsed = c->lapsed;
    c->period_prize_now = (int64_t)llround(exp(c->log_prize));
    for (unsigned s = 0; s < JP_FLOWS_MAX_CAMPAIGNS; s++)
        jp_flows_tw_init(&c->period_camp[s], t, c->camp[s].value);
    if (t - world_start >= FORECAST_FROM_WEEK * WEEK_MS && jp_flows_ready(c->model))
        c->snapshot = snapshot(c); /* as fitted at the last day's close */
    jp_draw_t d;
    c->next_draw = INT64_MAX;
    if (jp_calendar_next_draw(c->cal, t, 1, &d) == 0) {
        c->next_draw = d.time_ms;
        c->period_switch = jp_calendar_decision_time(c->cal, &d);
    }
}

typedef struct {
    country_t *c;
    int64_t world_start;
} emit_ctx_t;

/* Closes the day windows and draw periods that end at or before t. */
static void advance(country_t *c, int64_t t, int64_t world_start)
{
    for (;;) {
        int64_t day_end = c->day_start + DAY_MS;
        if (day_end <= t && day_end <= c->next_draw)
            close_day(c);
        else if (c->next_draw <= t)
            headline_draw(c, c->next_draw, world_start);
        else
            break;
    }
}

static unsigned campaign_slot(country_t *c, const jp_avro_str_t *name)
{
    for (unsigned s = 0; s < c->n_camp; s++)
        if (strlen(c->camp_name[s]) == name->len &&
            memcmp(c->camp_name[s], name->ptr, name->len) == 0)
            return s;
    assert_true(c->n_camp < JP_FLOWS_MAX_CAMPAIGNS);
    c->camp_name[c->n_camp] = strndup(name->ptr, name->len);
    return c->n_camp++;
}

static void on_sale(country_t *c, const jp_sale_event_t *s)
{
    int64_t t = s->event_time;
    c->log_prize = log((double)s->advertised_prize_minor);
    jp_flows_tw_set(&c->prize, t, c->log_prize);
    if (s->purchase != JP_SALE_PURCHASE_RENEWAL) {
        /* campaigns ride on the sales they cause (never on renewals) */
        unsigned slot = s->has_campaign ? campaign_slot(c, &s->campaign) : JP_FLOWS_MAX_CAMPAIGNS;
        for (unsigned k = 0; k < c->n_camp; k++) {
            jp_flows_tw_set(&c->camp[k], t, k == slot);
            jp_flows_tw_set(&c->period_camp[k], t, k == slot);
        }
    }
    c->period_tickets += s->tickets;
    if (s->purchase == JP_SALE_PURCHASE_NEW_SUBSCRIPTION) {
        c->w.signup_tickets += s->tickets;
        c->w.signup_tickets_sq += (double)s->tickets * s->tickets;
    } else if (s->purchase == JP_SALE_PURCHASE_RENEWAL) {
        c->w.renewals++;
        c->w.renewal_tickets += s->tickets;
        c->w.renewal_tickets_sq += (double)s->tickets * s->tickets;
    } else {
        c->w.extra_purchases++;
        c->w.extra_tickets += s->tickets;
        c->w.extra_tickets_sq += (double)s->tickets * s->tickets;
    }
}

static void on_customer(country_t *c, const jp_customer_event_t *e)
{
    switch (e->type) {
    case JP_CUSTOMER_EVENT_SIGNUP:
        c->w.signups++;
        c->active++;
        break;
    case JP_CUSTOMER_EVENT_REACTIVATE:
        c->w.reactivations++;
        c->active++;
        c->lapsed--;
        break;
    case JP_CUSTOMER_EVENT_CANCEL:
        c->w.cancellations++;
        c->active--;
        c->lapsed++;
        break;
    case JP_CUSTOMER_EVENT_PAYMENT_FAILED:
        c->w.payment_failures++;
        break;
    default:
        break;
    }
}

static int on_event(void *ctx, size_t country_index, jp_event_type_t type, void *ev)
{
    emit_ctx_t *x = ctx;
    country_t *c = x->c;
    (void)country_index;
    if (type == JP_EVENT_DRAW)
        return 0; /* draw periods come from the calendar */
    int64_t t = type == JP_EVENT_SALE ? ((jp_sale_event_t *)ev)->event_time
                                      : ((jp_customer_event_t *)ev)->event_time;
    advance(c, t, x->world_start);
    if (type == JP_EVENT_SALE)
        on_sale(c, ev);
    else
        on_customer(c, ev);
    return 0;
}

static void run_country(const jp_sim_world_t *w, size_t i, country_t *c)
{
    const jp_sim_country_t *k = (const jp_sim_country_t *)w->countries.items + i;
    char err[256];
    memset(c, 0, sizeof(*c));
    c->k = k;
    c->cal = jp_calendar_new(k->country, err, sizeof(err));
    assert_non_null(c->cal);
    jp_flows_config_t cfg;
    jp_flows_config_default(&cfg);
    cfg.prize_ref_minor = k->country->prizes.headline.initial_minor;
    cfg.price_minor = k->country->ticket.price_minor;
    cfg.billing = k->country->ticket.billing == JP_BILLING_PER_DRAW ? JP_FLOWS_BILLING_PER_DRAW
                                                                    : JP_FLOWS_BILLING_MONTHLY;
    c->model = jp_flows_create(&cfg, err, sizeof(err));
    assert_non_null(c->model);

    jp_sim_gen_t *g = jp_sim_gen_new(w, i, (uint64_t)w->seed, NULL, NULL, NULL, err, sizeof(err));
    assert_non_null(g);
    /* The operator knows its base when the model starts; every change after
     * that is an event. The prize in force is the first sale's. */
    c->active = (double)k->population.subscribers;
    c->lapsed = 0;
    c->log_prize = log((double)k->country->prizes.headline.initial_minor);
    open_day(c, w->start_ms);
    jp_draw_t d;
    assert_int_equal(jp_calendar_next_draw(c->cal, w->start_ms - 1, 1, &d), 0);
    c->next_draw = d.time_ms;
    c->period_start = -1;

    emit_ctx_t x = {c, w->start_ms};
    jp_sim_emit_t emit = {&x, on_event};
    int64_t end = w->start_ms + w->weeks * WEEK_MS;
    for (int64_t t = w->start_ms; t < end; t += HOUR_MS)
        assert_int_equal(jp_sim_gen_hour(g, t, &emit), 0);
    advance(c, end, w->start_ms);
    jp_sim_gen_free(g);
    assert_int_equal(jp_flows_fit(c->model, err, sizeof(err)), 0);
}

static void release_country(country_t *c)
{
    jp_flows_free(c->model);
    jp_flows_free(c->snapshot);
    jp_calendar_free(c->cal);
    for (unsigned s = 0; s < c->n_camp; s++)
        free(c->camp_name[s]);
}

static int asserted(const char *code)
{
    return strcmp(code, "GB") == 0 || strcmp(code, "NL") == 0 || strcmp(code, "SE") == 0;
}

static void test_elasticities_recovered(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof(path), "%s/configs/sim/explore.yaml", jp_test_src());
    jp_sim_world_t w;
    jp_test_world_load(path, &w);

    /* s2/poisson: the residual variance over its Poisson part (1 = the
     * model explains everything but counting noise) */
    printf("country flow            truth  estimate  stderr   error    z  s2/poisson\n");
    unsigned scored = 0, covered = 0;
    double abs_err = 0;
    int bad = 0;
    for (size_t i = 0; i < w.countries.n; i++) {
        country_t c;
        run_country(&w, i, &c);
        const jp_sim_country_t *k = c.k;
        const double truth[JP_FLOW__COUNT] = {
            k->response.signup_elasticity, k->response.signup_elasticity,
            k->response.extra_elasticity, k->response.cancel_elasticity};
        const double tol[JP_FLOW__COUNT] = {0.10, -1, 0.10, 0.15};
        for (int f = 0; f < JP_FLOW__COUNT; f++) {
            double est, sd;
            if (jp_flows_elasticity(c.model, (jp_flow_t)f, &est, &sd) != 0) {
                printf("%-7s %-14s %6.3f  (not identified)\n", k->code, jp_flow_name(f), truth[f]);
                bad |= f != JP_FLOW_REACTIVATIONS;
                continue;
            }
            double rel = (est - truth[f]) / fabs(truth[f]), z = (est - truth[f]) / sd;
            jp_flows_info_t in;
            jp_flows_info(c.model, (jp_flow_t)f, &in);
            printf("%-7s %-14s %6.3f  %8.4f  %6.4f  %+6.1f%%  %+5.2f  %5.2f\n", k->code,
                   jp_flow_name(f), truth[f], est, sd, 100 * rel, z, in.sigma2 / in.poisson_var);
            if (asserted(k->code) && tol[f] > 0 && fabs(rel) > tol[f]) {
                printf("  ^ %s %s outside +-%.0f%%\n", k->code, jp_flow_name(f), 100 * tol[f]);
                bad = 1;
            }
            if (f != JP_FLOW_REACTIVATIONS && fabs(z) > 4) {
                printf("  ^ %s %s error is %.1f standard errors\n", k->code, jp_flow_name(f), z);
                bad = 1;
            }
        }
        printf("%-7s forecast of %u draw periods: mean |error| %.2f%%, band covers %u\n", k->code,
               c.scored, c.scored ? 100 * c.abs_err / c.scored : 0, c.covered);
        scored += c.scored;
        covered += c.covered;
        abs_err += c.abs_err;
        bad |= c.failed;
        release_country(&c);
    }
    jp_sim_world_release(&w);
    double cov = (double)covered / scored, mae = abs_err / scored;
    printf("all     forecasts %u: mean |error| %.2f%%, 5-95%% band coverage %.1f%%\n", scored,
           100 * mae, 100 * cov);
    assert_true(scored >= 100);
    assert_true(mae < 0.01);
    assert_true(cov >= 0.80 && cov <= 0.99);
    assert_false(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elasticities_recovered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
