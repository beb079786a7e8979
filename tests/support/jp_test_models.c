/*
 * jp_test_models: day windows -> jp_flows, per country (see the header).
 */
#include "jp_test_models.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/jp_calendar.h"
#include "model/learn/jp_flows.h"

#define DAY_MS 86400000LL

typedef struct {
    int64_t start;
    jp_flows_window_t w; /* the sales' part */
    jp_flows_tw_t prize, camp[JP_FLOWS_MAX_CAMPAIGNS];
} day_t;

typedef struct {
    const jp_country_t *c;
    jp_calendar_t *cal;
    jp_flows_t *model;
    unsigned fits;
    char version[32];
    double active, lapsed;
    int64_t stock_time;
    double log_prize; /* advertised at the last sale */
    double camp_value[JP_FLOWS_MAX_CAMPAIGNS];
    char *camp_name[JP_FLOWS_MAX_CAMPAIGNS];
    unsigned n_camp;
    day_t *days; /* days with sales whose window has not been delivered yet (the
                    sales partition may be read far ahead of the task's clock) */
    size_t n_days, cap_days;
} country_t;

struct jp_test_models_s {
    country_t *k;
    size_t n;
    jp_proc_t proc;
};

static country_t *find(jp_test_models_t *m, const char *code, size_t len)
{
    for (size_t i = 0; i < m->n; i++)
        if (strlen(m->k[i].c->code) == len && memcmp(m->k[i].c->code, code, len) == 0)
            return &m->k[i];
    return NULL;
}

static int64_t day_of(int64_t t)
{
    int64_t d = t / DAY_MS;
    if (t % DAY_MS < 0)
        d--;
    return d * DAY_MS;
}

/* The day entry of start (opened with the signals' current values). */
static day_t *day_for(country_t *k, int64_t start)
{
    for (size_t i = 0; i < k->n_days; i++)
        if (k->days[i].start == start)
            return &k->days[i];
    if (k->n_days == k->cap_days) {
        k->cap_days = k->cap_days ? 2 * k->cap_days : 16;
        k->days = realloc(k->days, k->cap_days * sizeof(*k->days));
    }
    day_t *d = &k->days[k->n_days++];
    memset(d, 0, sizeof(*d));
    d->start = start;
    jp_flows_tw_init(&d->prize, start, k->log_prize);
    for (unsigned s = 0; s < JP_FLOWS_MAX_CAMPAIGNS; s++)
        jp_flows_tw_init(&d->camp[s], start, k->camp_value[s]);
    return d;
}

static unsigned campaign_slot(country_t *k, const jp_avro_str_t *name)
{
    for (unsigned s = 0; s < k->n_camp; s++)
        if (strlen(k->camp_name[s]) == name->len &&
            memcmp(k->camp_name[s], name->ptr, name->len) == 0)
            return s;
    if (k->n_camp == 4) /* the model's slots */
        return JP_FLOWS_MAX_CAMPAIGNS;
    k->camp_name[k->n_camp] = strndup(name->ptr, name->len);
    return k->n_camp++;
}

static int on_record(void *inst, const jp_proc_record_t *rec)
{
    jp_test_models_t *m = inst;
    if (rec->input != JP_INPUT_SALES)
        return 0;
    const jp_sale_event_t *s = rec->ev.sale;
    country_t *k = find(m, rec->country, strlen(rec->country));
    if (!k)
        return 0;
    day_t *d = day_for(k, day_of(s->event_time));
    jp_flows_window_t *w = &d->w;
    double t2 = (double)s->tickets * s->tickets;
    if (s->purchase == JP_SALE_PURCHASE_NEW_SUBSCRIPTION) {
        w->signup_tickets += s->tickets;
        w->signup_tickets_sq += t2;
    } else if (s->purchase == JP_SALE_PURCHASE_RENEWAL) {
        w->renewals++;
        w->renewal_tickets += s->tickets;
        w->renewal_tickets_sq += t2;
    } else {
        w->extra_purchases++;
        w->extra_tickets += s->tickets;
        w->extra_tickets_sq += t2;
    }
    k->log_prize = log((double)s->advertised_prize_minor);
    jp_flows_tw_set(&d->prize, s->event_time, k->log_prize);
    if (s->purchase != JP_SALE_PURCHASE_RENEWAL) {
        unsigned slot = s->has_campaign ? campaign_slot(k, &s->campaign) : JP_FLOWS_MAX_CAMPAIGNS;
        for (unsigned c = 0; c < k->n_camp; c++) {
            k->camp_value[c] = c == slot;
            jp_flows_tw_set(&d->camp[c], s->event_time, k->camp_value[c]);
        }
    }
    return 0;
}

static int on_window(void *inst, const jp_feature_vector_t *fv)
{
    jp_test_models_t *m = inst;
    if (fv->window_kind != JP_WINDOW_DAY)
        return 0;
    country_t *k = find(m, fv->country.ptr, fv->country.len);
    if (!k)
        return 0;
    day_t *d = day_for(k, fv->window_start);
    jp_flows_window_t w = d->w;
    w.start_ms = fv->window_start;
    w.end_ms = fv->window_end;
    jp_local_time_t lt;
    jp_calendar_local_time(k->cal, w.start_ms + DAY_MS / 2, &lt);
    w.tz_offset_min = lt.utc_offset_s / 60;
    w.log_prize = jp_flows_tw_mean(&d->prize, w.end_ms);
    w.log_prize_var = jp_flows_tw_var(&d->prize, w.end_ms);
    for (unsigned c = 0; c < k->n_camp; c++)
        w.campaign[c] = jp_flows_tw_mean(&d->camp[c], w.end_ms);
    w.signups = (double)fv->signups;
    w.reactivations = (double)fv->reactivations;
    w.cancellations = (double)fv->cancellations;
    w.payment_failures = (double)fv->payment_failures;
    w.active_start = k->active;
    w.lapsed_start = k->lapsed;
    k->active += w.signups + w.reactivations - w.cancellations;
    k->lapsed += w.cancellations - w.reactivations;
    w.active_end = k->active;
    w.lapsed_end = k->lapsed;
    k->stock_time = w.end_ms;
    *d = k->days[--k->n_days]; /* the day is done */
    char err[256];
    if (jp_flows_observe(k->model, &w, err, sizeof(err)) != 0) {
        fprintf(stderr, "test models: %s: day %lld: %s\n", k->c->code, (long long)w.start_ms, err);
    } else {
        jp_flows_fit(k->model, NULL, 0);
        snprintf(k->version, sizeof(k->version), "flows-%s@%u", k->c->code, ++k->fits);
    }
    return 0;
}

static void *open_inst(void *global, jp_proc_ctx_t *ctx, char *errstr, size_t errstr_size)
{
    (void)ctx, (void)errstr, (void)errstr_size;
    return global;
}

jp_test_models_t *jp_test_models_new(const jp_config_t *cfg, const jp_sim_world_t *w)
{
    jp_test_models_t *m = calloc(1, sizeof(*m));
    m->k = calloc(cfg->n_countries + 1, sizeof(*m->k));
    const jp_sim_country_t *sk = w->countries.items;
    for (size_t i = 0; i < cfg->n_countries; i++) {
        const jp_country_t *c = &cfg->country[i];
        const jp_sim_country_t *world = NULL;
        for (size_t j = 0; j < w->countries.n; j++)
            if (strcmp(sk[j].code, c->code) == 0)
                world = &sk[j];
        if (!world)
            continue;
        country_t *k = &m->k[m->n++];
        k->c = c;
        k->cal = jp_calendar_new(c, NULL, 0);
        jp_flows_config_t fc;
        jp_flows_config_default(&fc);
        fc.prize_ref_minor = c->prizes.headline.initial_minor;
        fc.price_minor = c->ticket.price_minor;
        fc.billing = c->ticket.billing == JP_BILLING_PER_DRAW ? JP_FLOWS_BILLING_PER_DRAW
                                                              : JP_FLOWS_BILLING_MONTHLY;
        k->model = jp_flows_create(&fc, NULL, 0);
        k->active = (double)world->population.subscribers;
        k->log_prize = log((double)c->prizes.headline.initial_minor);
    }
    m->proc = (jp_proc_t){.name = "test-models",
                          .global = m,
                          .open = open_inst,
                          .on_record = on_record,
                          .on_window = on_window};
    return m;
}

void jp_test_models_free(jp_test_models_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        jp_flows_free(m->k[i].model);
        jp_calendar_free(m->k[i].cal);
        free(m->k[i].days);
        for (unsigned s = 0; s < m->k[i].n_camp; s++)
            free(m->k[i].camp_name[s]);
    }
    free(m->k);
    free(m);
}

const jp_proc_t *jp_test_models_proc(jp_test_models_t *m)
{
    return &m->proc;
}

int jp_test_models_source(void *ctx, int partition, const char *country, int64_t time,
                          jp_decisions_model_t *out)
{
    (void)partition, (void)time;
    country_t *k = find(ctx, country, strlen(country));
    if (!k || !k->fits)
        return 0;
    out->flows = k->model;
    out->flows_version = k->version;
    out->active = k->active;
    out->lapsed = k->lapsed;
    out->stock_time_ms = k->stock_time;
    return 1;
}
