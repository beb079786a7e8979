/*
 * jp_decisions: the recommendation processor.
 *
 * Determinism. Records reach a processor in an order that depends on fetch
 * timing, so the ledger only accumulates what commutes - revenue summed per
 * hour of event time, draw results keyed by draw time, a country's
 * earliest event time - and a decision reads only what is final for it:
 * once the task's clock has passed the decision time T, every input's
 * watermark is past T, so a record with an event time before T - grace
 * that has not been applied never will be (it is LATE). The decision
 * therefore reads whole hours before T - grace and draws before it, and
 * the same inputs give the same record whatever the interleaving.
 *
 * The horizon's first period starts at the stock's time (the sales model
 * knows the stock there); the draw's proceeds before it are the revenue
 * already realized since the previous draw, and the payout-ratio ledger
 * takes proceeds up to the previous draw only, so no revenue counts twice.
 *
 * Serving. A decision copies its problem into a snapshot (the plan is
 * immutable and safe to evaluate from any thread) and publishes it under
 * the object's lock; the admin thread evaluates what-ifs on a referenced
 * snapshot without ever touching the task's state.
 */
#include "jp_decisions-internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jp_build_info.h"
#include "base/jp_log.h"
#include "model/base/jp_err.h"
#include "model/base/jp_sha256.h"

#define HOUR_MS     3600000LL
#define DAY_MS      86400000.0
#define WEEK_MS     (7LL * 24 * HOUR_MS)
#define KEEP_MS     (54 * WEEK_MS) /* ledger kept: a rolling 52 weeks or a calendar year */
#define MAX_SAMPLES (DEC_MAX_ATOMS)
#define NO_TIME     INT64_MIN

static const char *const reason_codes[DEC_N_REASONS] = {
    "no_model",    "model_source_error", "not_ready",   "no_elasticity", "no_stock",
    "stale_stock", "error_out_of_band",  "plan_failed", "solve_failed"};
static const char *const reason_text[DEC_N_REASONS] = {
    "no champion sales model",
    "the model source failed",
    "the sales model is not fitted yet",
    "a flow of the sales model has no prize elasticity yet (the prize has not moved in its data)",
    "the model source gave no subscriber stock",
    "the model's stock is older than the previous draw",
    "the model's recent error is above decision.fallback.max_error",
    "the forecast plan could not be built",
    "the optimizer failed"};
static const char *const status_names[DEC_N_STATUS] = {"OK", "INFEASIBLE"};

/* ---- one country's ledger --------------------------------------------------- */

typedef struct {
    int64_t hour; /* start of the hour, event time */
    int64_t revenue;
    int dirty;
} rev_t;

typedef struct {
    int64_t time;
    int64_t prizes;
    int64_t prize; /* the draw's headline (or series) prize */
    int32_t tickets;
    int32_t headline;
    int dirty;
} draw_t;

typedef struct {
    size_t index; /* in cfg->country */
    const jp_country_t *c;
    const jp_calendar_t *cal;
    int64_t first_ms;
    int first_dirty;
    rev_t *rev; /* sorted by hour */
    size_t n_rev, cap_rev;
    draw_t *draws; /* sorted by time */
    size_t n_draws, cap_draws;
    uint8_t *last; /* the latest record (encoded) */
    size_t last_len;
    int last_dirty;
    /* keys deleted since the last commit */
} country_t;

typedef struct {
    jp_decisions_t *g;
    jp_proc_ctx_t *ctx;
    country_t *k; /* one per configured country, in cfg order (sorted by code) */
    size_t n;
    int64_t pruned_to;
} inst_t;

/* Ledger keys: country (2) | kind (1) | time (8, big-endian offset binary). */
enum { KEY_FIRST = 'f', KEY_REV = 'r', KEY_DRAW = 'd', KEY_LAST = 'x' };
#define KEY_LEN 11

static void put_u64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_u64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return v;
}

static void make_key(uint8_t *key, const char *code, int kind, int64_t t)
{
    key[0] = (uint8_t)code[0];
    key[1] = (uint8_t)code[1];
    key[2] = (uint8_t)kind;
    put_u64(key + 3, (uint64_t)t ^ (1ull << 63));
}

static int64_t floor_hour(int64_t t)
{
    int64_t h = t / HOUR_MS;
    if (t % HOUR_MS < 0)
        h--;
    return h * HOUR_MS;
}

/* The element keyed t of a sorted array of elements of `size` bytes that
 * start with their int64_t key; inserted (zeroed, keyed) when absent.
 * NULL when out of memory. */
static void *slot(void **items, size_t *n, size_t *cap, size_t size, int64_t t)
{
    unsigned char *v = *items;
    size_t lo = 0, hi = *n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t key;
        memcpy(&key, v + mid * size, sizeof(key));
        if (key < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    int64_t found = 0;
    if (lo < *n)
        memcpy(&found, v + lo * size, sizeof(found));
    if (lo < *n && found == t)
        return v + lo * size;
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        unsigned char *nv = realloc(v, c * size);
        if (!nv)
            return NULL;
        *items = v = nv;
        *cap = c;
    }
    memmove(v + (lo + 1) * size, v + lo * size, (*n - lo) * size);
    (*n)++;
    memset(v + lo * size, 0, size);
    memcpy(v + lo * size, &t, sizeof(t));
    return v + lo * size;
}

static rev_t *rev_slot(country_t *k, int64_t hour)
{
    void *items = k->rev;
    rev_t *r = slot(&items, &k->n_rev, &k->cap_rev, sizeof(rev_t), hour);
    k->rev = items;
    return r;
}

static draw_t *draw_slot(country_t *k, int64_t time)
{
    void *items = k->draws;
    draw_t *d = slot(&items, &k->n_draws, &k->cap_draws, sizeof(draw_t), time);
    k->draws = items;
    return d;
}

static country_t *country_of(inst_t *x, const char *code)
{
    size_t lo = 0, hi = x->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(x->k[mid].c->code, code);
        if (c == 0)
            return &x->k[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- state: load and commit ---------------------------------------------------- */

static int load_entry(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    inst_t *x = ctx;
    const uint8_t *kb = key, *vb = val;
    if (klen < 3)
        return 0;
    char code[3] = {(char)kb[0], (char)kb[1], 0};
    country_t *k = country_of(x, code);
    if (!k)
        return 0; /* a country no longer configured */
    int64_t t = klen == KEY_LEN ? (int64_t)(get_u64(kb + 3) ^ (1ull << 63)) : 0;
    switch (kb[2]) {
    case KEY_FIRST:
        if (vlen == 8)
            k->first_ms = (int64_t)get_u64(vb);
        break;
    case KEY_REV:
        if (vlen == 8 && klen == KEY_LEN) {
            rev_t *r = rev_slot(k, t);
            if (!r)
                return -1;
            r->revenue = (int64_t)get_u64(vb);
        }
        break;
    case KEY_DRAW:
        if (vlen == 24 && klen == KEY_LEN) {
            draw_t *d = draw_slot(k, t);
            if (!d)
                return -1;
            d->prizes = (int64_t)get_u64(vb);
            d->prize = (int64_t)get_u64(vb + 8);
            uint64_t tw = get_u64(vb + 16);
            d->tickets = (int32_t)(tw >> 32);
            d->headline = (int32_t)(tw & 1);
        }
        break;
    case KEY_LAST:
        free(k->last);
        k->last = malloc(vlen ? vlen : 1);
        if (!k->last)
            return -1;
        memcpy(k->last, val, vlen);
        k->last_len = vlen;
        break;
    default:
        break;
    }
    return 0;
}

static int write_first(jp_store_t *s, country_t *k)
{
    uint8_t key[KEY_LEN], v[8];
    make_key(key, k->c->code, KEY_FIRST, 0);
    put_u64(v, (uint64_t)k->first_ms);
    k->first_dirty = 0;
    return jp_store_put(s, JP_CF_LEDGER, key, KEY_LEN, v, 8);
}

static int prepare_commit(void *inst)
{
    inst_t *x = inst;
    jp_store_t *s = jp_proc_store(x->ctx);
    for (size_t i = 0; i < x->n; i++) {
        country_t *k = &x->k[i];
        uint8_t key[KEY_LEN], v[24];
        if (k->first_dirty && write_first(s, k) != 0)
            return -1;
        for (size_t j = 0; j < k->n_rev; j++) {
            if (!k->rev[j].dirty)
                continue;
            make_key(key, k->c->code, KEY_REV, k->rev[j].hour);
            put_u64(v, (uint64_t)k->rev[j].revenue);
            if (jp_store_put(s, JP_CF_LEDGER, key, KEY_LEN, v, 8) != 0)
                return -1;
            k->rev[j].dirty = 0;
        }
        for (size_t j = 0; j < k->n_draws; j++) {
            draw_t *d = &k->draws[j];
            if (!d->dirty)
                continue;
            make_key(key, k->c->code, KEY_DRAW, d->time);
            put_u64(v, (uint64_t)d->prizes);
            put_u64(v + 8, (uint64_t)d->prize);
            put_u64(v + 16, ((uint64_t)(uint32_t)d->tickets << 32) | (uint64_t)(d->headline != 0));
            if (jp_store_put(s, JP_CF_LEDGER, key, KEY_LEN, v, 24) != 0)
                return -1;
            d->dirty = 0;
        }
        if (k->last_dirty) {
            make_key(key, k->c->code, KEY_LAST, 0);
            if (jp_store_put(s, JP_CF_LEDGER, key, KEY_LEN, k->last, k->last_len) != 0)
                return -1;
            k->last_dirty = 0;
        }
    }
    return 0;
}

/* Forgets the ledger older than keep_from (the store's keys too). */
static int prune(inst_t *x, country_t *k, int64_t keep_from)
{
    jp_store_t *s = jp_proc_store(x->ctx);
    uint8_t key[KEY_LEN];
    size_t r = 0;
    while (r < k->n_rev && k->rev[r].hour < keep_from) {
        make_key(key, k->c->code, KEY_REV, k->rev[r].hour);
        if (jp_store_del(s, JP_CF_LEDGER, key, KEY_LEN) != 0)
            return -1;
        r++;
    }
    if (r) /* rev is NULL while the country has no ledger: no memmove of NULL */
        memmove(k->rev, k->rev + r, (k->n_rev - r) * sizeof(*k->rev));
    k->n_rev -= r;
    size_t d = 0;
    while (d < k->n_draws && k->draws[d].time < keep_from) {
        make_key(key, k->c->code, KEY_DRAW, k->draws[d].time);
        if (jp_store_del(s, JP_CF_LEDGER, key, KEY_LEN) != 0)
            return -1;
        d++;
    }
    if (d)
        memmove(k->draws, k->draws + d, (k->n_draws - d) * sizeof(*k->draws));
    k->n_draws -= d;
    return 0;
}

/* ---- records -------------------------------------------------------------------- */

static int on_record(void *inst, const jp_proc_record_t *rec)
{
    inst_t *x = inst;
    country_t *k = country_of(x, rec->country);
    if (!k)
        return 0;
    if (k->first_ms == NO_TIME || rec->event_time < k->first_ms) {
        k->first_ms = rec->event_time;
        k->first_dirty = 1;
    }
    if (rec->input == JP_INPUT_SALES) {
        rev_t *r = rev_slot(k, floor_hour(rec->event_time));
        if (!r)
            return -1;
        r->revenue += rec->ev.sale->amount_minor;
        r->dirty = 1;
    } else if (rec->input == JP_INPUT_DRAWS) {
        const jp_draw_result_t *dr = rec->ev.draw;
        draw_t *d = draw_slot(k, dr->draw_time);
        if (!d)
            return -1;
        d->prizes = 0;
        const jp_prize_paid_t *pp = dr->prizes_paid.items;
        for (size_t i = 0; i < dr->prizes_paid.n; i++)
            d->prizes += pp[i].amount_minor;
        d->prize = dr->headline_prize_minor;
        d->tickets = dr->tickets_in_winning_postcode;
        jp_draw_t hd;
        d->headline = jp_calendar_prev_draw(k->cal, dr->draw_time, 1, &hd) == 0 &&
                      hd.time_ms == dr->draw_time;
        d->dirty = 1;
    }
    return 0;
}

/* ---- timers ----------------------------------------------------------------------- */

/* The headline draw whose decision time is the first one after `after`. */
static int next_decision(const country_t *k, int64_t after, jp_draw_t *d, int64_t *t)
{
    int64_t lead = k->c->calendar.decision_lead_ms;
    if (jp_calendar_next_draw(k->cal, after + lead, 1, d) != 0)
        return -1;
    *t = jp_calendar_decision_time(k->cal, d);
    return 0;
}

static int64_t next_timer(void *inst, int64_t after)
{
    inst_t *x = inst;
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < x->n; i++) {
        jp_draw_t d;
        int64_t t;
        if (x->k[i].first_ms != NO_TIME && next_decision(&x->k[i], after, &d, &t) == 0 && t < next)
            next = t;
    }
    return next;
}

/* ---- the horizon: the sales model's plan ------------------------------------------- */

int dec_horizon_eval(void *ctx, double prize, const double *params, jp_decide_outcome_t *out)
{
    const dec_horizon_t *h = ctx;
    int64_t prizes[JP_DECIDE_MAX_HORIZON];
    jp_flows_forecast_t f[JP_DECIDE_MAX_HORIZON];
    int64_t j = (int64_t)llround(prize);
    for (size_t i = 0; i < h->n; i++)
        prizes[i] = j;
    if (jp_flows_plan_eval(h->plan, prizes, params, f) != 0)
        return -1;
    for (size_t i = 0; i < h->n; i++) {
        jp_decide_period_t *p = &out->period[i];
        p->tickets = f[i].tickets + (i == 0 ? h->realized_tickets : 0.0);
        p->tickets_sd = (f[i].tickets_p95 - f[i].tickets) / 1.6448536269514722;
        if (!(p->tickets_sd >= 0.0))
            p->tickets_sd = 0.0;
        p->active = f[i].active_end;
        p->days = h->days[i];
    }
    return 0;
}

/* ---- one decision ------------------------------------------------------------------- */

/* "xxxxxxxx-xxxx-5xxx-yxxx-xxxxxxxxxxxx" from SHA-256(country, draw id);
 * *seed gets the digest's last 8 bytes (the Thompson draw's seed). */
static void decision_id(const char *country, const char *draw_id, char out[37], uint64_t *seed)
{
    char msg[96];
    int n = snprintf(msg, sizeof(msg), "jackpot-decision/%s/%s", country, draw_id);
    uint8_t h[JP_SHA256_LEN];
    jp_sha256(msg, (size_t)n, h);
    h[6] = (uint8_t)((h[6] & 0x0F) | 0x50);
    h[8] = (uint8_t)((h[8] & 0x3F) | 0x80);
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[h[i] >> 4];
        out[o++] = hex[h[i] & 15];
    }
    out[o] = '\0';
    *seed = get_u64(h + 24);
}

typedef struct {
    jp_decisions_model_t m;
    int have;            /* the source answered 1 */
    dec_reason_t reason; /* why the model cannot decide (when not usable) */
    int usable;
    int can_forecast; /* a plan exists (the fallback can be evaluated) */
} model_t;

static void ask_model(inst_t *x, const country_t *k, int64_t t, model_t *mm)
{
    memset(mm, 0, sizeof(*mm));
    mm->m.error = mm->m.lifetime_days = mm->m.churn_hazard_per_day = NAN;
    mm->m.active = NAN;
    mm->m.lapsed = -1;
    jp_decisions_t *g = x->g;
    int rc =
        g->source ? g->source(g->source_ctx, jp_proc_partition(x->ctx), k->c->code, t, &mm->m) : 0;
    mm->have = rc == 1 && mm->m.flows;
    if (rc < 0)
        mm->reason = DEC_REASON_SOURCE_ERROR;
    else if (!mm->have)
        mm->reason = DEC_REASON_NO_MODEL;
    else if (!jp_flows_ready(mm->m.flows))
        mm->reason = DEC_REASON_NOT_READY;
    else if (!(mm->m.active > 0.0) || !isfinite(mm->m.active))
        mm->reason = DEC_REASON_NO_STOCK;
    else {
        double e, s;
        int identified = jp_flows_elasticity(mm->m.flows, JP_FLOW_SIGNUPS, &e, &s) == 0 &&
                         jp_flows_elasticity(mm->m.flows, JP_FLOW_EXTRAS, &e, &s) == 0 &&
                         jp_flows_elasticity(mm->m.flows, JP_FLOW_CANCELLATIONS, &e, &s) == 0;
        mm->can_forecast = 1;
        if (!identified)
            mm->reason = DEC_REASON_NO_ELASTICITY;
        else if (isfinite(mm->m.error) && mm->m.error > k->c->decision.fallback.max_error)
            mm->reason = DEC_REASON_ERROR_OUT_OF_BAND;
        else
            mm->usable = 1;
    }
}

static int atom_cmp(const void *x, const void *y)
{
    double a = ((const jp_opt_mass_t *)x)->tickets, b = ((const jp_opt_mass_t *)y)->tickets;
    return (a > b) - (a < b);
}

/* Payout atoms: the source's, else the tickets in the winning postcodes of
 * the country's latest draws (every series: each draws a postcode
 * uniformly among the participating ones). */
static size_t payout_atoms(const country_t *k, const model_t *mm, int64_t cut, jp_opt_mass_t *a)
{
    if (mm->m.tickets_in_postcode && mm->m.n_tickets_in_postcode > 0) {
        size_t n = mm->m.n_tickets_in_postcode < DEC_MAX_ATOMS ? mm->m.n_tickets_in_postcode
                                                               : DEC_MAX_ATOMS;
        memcpy(a, mm->m.tickets_in_postcode, n * sizeof(*a));
        return n;
    }
    size_t end = 0;
    while (end < k->n_draws && k->draws[end].time < cut)
        end++;
    size_t start = end > MAX_SAMPLES ? end - MAX_SAMPLES : 0, n = end - start;
    for (size_t i = 0; i < n; i++)
        a[i] = (jp_opt_mass_t){(double)k->draws[start + i].tickets, 1.0 / (double)n};
    /* one atom per distinct count (counts repeat; every solve and what-if
     * sorts and scans the atoms) */
    qsort(a, n, sizeof(*a), atom_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && a[m - 1].tickets == a[i].tickets)
            a[m - 1].prob += a[i].prob;
        else
            a[m++] = a[i];
    }
    return m;
}

/* The data snapshot when the source gives none: the decision's event-time
 * range (offsets are not part of it: how far a task has read when its clock
 * passes a decision time depends on fetch timing). */
static void task_snapshot(const country_t *k, int64_t cut, jp_data_snapshot_t *s)
{
    memset(s, 0, sizeof(*s));
    s->event_time_start = k->first_ms;
    s->event_time_end = cut;
}

static void model_meta(const model_t *mm, dec_meta_t *m)
{
    m->flows_version = mm->have ? mm->m.flows_version : NULL;
    m->churn_version = mm->have ? mm->m.churn_version : NULL;
    m->error = mm->m.error;
    m->lifetime_days = NAN;
    for (int f = 0; f < DEC_FLOWS; f++)
        m->has_est[f] = mm->can_forecast &&
                        jp_flows_elasticity(mm->m.flows, (jp_flow_t)f, &m->est[f], &m->sd[f]) == 0;
}

/* A subscriber's expected remaining lifetime, days (0: unknown). */
static double lifetime(const model_t *mm)
{
    if (mm->m.lifetime_days > 0.0 && isfinite(mm->m.lifetime_days))
        return mm->m.lifetime_days;
    if (mm->m.churn_hazard_per_day > 0.0 && isfinite(mm->m.churn_hazard_per_day))
        return 1.0 / mm->m.churn_hazard_per_day;
    jp_flows_info_t in;
    if (jp_flows_info(mm->m.flows, JP_FLOW_CANCELLATIONS, &in) == 0 && in.rate > 0.0)
        return 1.0 / in.rate;
    return 0.0;
}

/* The prize of the last headline draw before cut (0: none). */
static int64_t last_prize(const country_t *k, int64_t cut)
{
    int64_t prize = 0;
    for (size_t i = 0; i < k->n_draws && k->draws[i].time < cut; i++)
        if (k->draws[i].headline)
            prize = k->draws[i].prize;
    return prize;
}

/* The decision problem with the sales model's plan as the horizon; the
 * snapshot owns everything it points to. 0, or -1 with *why. */
static int build_problem(inst_t *x, country_t *k, const jp_draw_t *d, int64_t t, model_t *mm,
                         dec_snapshot_t *s, dec_reason_t *why, char *err, size_t errsize)
{
    int64_t cut = t - x->g->cfg->windows.grace_ms;
    jp_draw_t prev;
    *why = DEC_REASON_PLAN_FAILED;
    if (jp_calendar_prev_draw(k->cal, d->time_ms - 1, 1, &prev) != 0)
        return -1;
    int64_t stock_at = mm->m.stock_time_ms < cut ? mm->m.stock_time_ms : cut;
    stock_at = floor_hour(stock_at);
    if (stock_at < prev.time_ms) {
        *why = DEC_REASON_STALE_STOCK;
        jp_err_set(err, errsize, "the model's stock is older than the previous draw");
        return -1;
    }
    /* the ledger: proceeds up to the previous draw, every draw's prizes */
    s->ledger = malloc((k->n_rev + k->n_draws + 1) * sizeof(*s->ledger));
    if (!s->ledger)
        return -1;
    size_t n_ledger = 0;
    double realized = 0.0;
    for (size_t i = 0; i < k->n_rev; i++) {
        const rev_t *r = &k->rev[i];
        if (r->hour + HOUR_MS <= prev.time_ms)
            s->ledger[n_ledger++] = (jp_opt_ledger_entry_t){r->hour, r->revenue, 0};
        else if (r->hour >= prev.time_ms && r->hour + HOUR_MS <= stock_at)
            realized += (double)r->revenue;
    }
    for (size_t i = 0; i < k->n_draws && k->draws[i].time < cut; i++)
        s->ledger[n_ledger++] = (jp_opt_ledger_entry_t){k->draws[i].time, 0, k->draws[i].prizes};
    size_t n_atoms = payout_atoms(k, mm, cut, s->atoms);
    /* the previous prize: the last headline draw's */
    int64_t previous = last_prize(k, cut);
    if (previous <= 0)
        previous = k->c->prizes.headline.initial_minor;
    jp_decision_state_t st = {.decision_time_ms = t,
                              .previous_prize = previous,
                              .ledger = s->ledger,
                              .n_ledger = n_ledger,
                              .atoms = s->atoms,
                              .n_atoms = n_atoms,
                              .active_ref = mm->m.active,
                              .lifetime_days = lifetime(mm)};
    if (jp_country_decision_init(&s->cd, k->c, k->cal, d, &st, err, errsize) != 0)
        return -1;
    /* the payout-ratio rule only sums the entries in its window: one entry
     * (the proceeds year to date were taken from the full ledger above) */
    jp_opt_ledger_entry_t sum = {t - 1, 0, 0};
    for (size_t i = 0; i < n_ledger; i++)
        if (jp_opt_ledger_counts(&s->cd.p.opt, s->ledger[i].draw_time_ms)) {
            sum.proceeds += s->ledger[i].proceeds;
            sum.prizes_paid += s->ledger[i].prizes_paid;
        }
    s->ledger[0] = sum;
    s->cd.p.opt.n_ledger = 1;
    s->meta.lifetime_days = s->cd.p.lifetime_days;
    /* the plan: from the stock's time to the draw, then whole draw periods */
    size_t n = s->cd.p.horizon_draws;
    jp_flows_period_t per[JP_DECIDE_MAX_HORIZON];
    memset(per, 0, sizeof(per));
    for (size_t h = 0; h < n; h++) {
        const jp_horizon_draw_t *q = &s->cd.period[h];
        per[h].start_ms = h == 0 ? stock_at : q->start_ms;
        per[h].end_ms = q->draw.time_ms;
        per[h].switch_ms = q->decision_ms;
        jp_local_time_t lt;
        jp_calendar_local_time(k->cal, (per[h].start_ms + per[h].end_ms) / 2, &lt);
        per[h].tz_offset_min = lt.utc_offset_s / 60;
        per[h].billing_share = -1.0;
        s->horizon.days[h] = (double)(q->draw.time_ms - q->start_ms) / DAY_MS;
    }
    jp_flows_stock_t stock = {mm->m.active, mm->m.lapsed, previous, mm->m.churn_hazard_per_day,
                              previous};
    s->horizon.plan = jp_flows_plan_new(mm->m.flows, per, n, &stock, err, errsize);
    if (!s->horizon.plan)
        return -1;
    s->horizon.n = n;
    s->horizon.realized_tickets = realized / (double)k->c->ticket.price_minor;
    s->cd.p.horizon = dec_horizon_eval;
    s->cd.p.horizon_ctx = &s->horizon;
    s->have_problem = 1;
    return 0;
}

/* Thompson sampling over the flows' elasticities (reactivations share the
 * sign-ups' when the model has none of its own). */
static void exploration(const country_t *k, const dec_meta_t *m, uint64_t seed, double *mean,
                        double *sd, jp_decide_problem_t *p)
{
    for (int f = 0; f < DEC_FLOWS; f++) {
        int src = m->has_est[f] ? f : JP_FLOW_SIGNUPS;
        mean[f] = m->est[src];
        sd[f] = m->sd[src];
    }
    p->explore = k->c->decision.exploration.enabled;
    p->n_params = DEC_FLOWS;
    p->param_mean = mean;
    p->param_sd = sd;
    p->seed = seed;
}

static void count_decision(jp_decisions_t *g, const country_t *k, int status, int64_t prize,
                           int reason)
{
    if (!g->metrics)
        return;
    jp_counter_add(g->recommendations[k->index][status], 1);
    jp_gauge_set(g->prize[k->index], (double)prize);
    if (reason >= 0)
        jp_counter_add(g->fallbacks[k->index][reason], 1);
}

static int emit(inst_t *x, country_t *k, const jp_recommendation_t *r)
{
    jp_avro_buf_t buf = {0};
    char err[256];
    const jp_config_t *cfg = x->g->cfg;
    if (jp_serde_encode(jp_proc_serde(x->ctx), JP_EVENT_RECOMMENDATION, cfg->topics.recommendations,
                        r, &buf, err, sizeof(err)) != JP_SERDE_OK) {
        jp_log_error("decisions", "%s: cannot encode the recommendation: %s", k->c->code, err);
        jp_avro_buf_free(&buf);
        return -1;
    }
    int rc = jp_proc_emit(x->ctx, JP_OUTPUT_RECOMMENDATIONS, k->c->code, strlen(k->c->code),
                          buf.data, buf.len);
    if (rc == 0) {
        uint8_t *copy = malloc(buf.len ? buf.len : 1);
        if (copy) {
            memcpy(copy, buf.data, buf.len);
            free(k->last);
            k->last = copy;
            k->last_len = buf.len;
            k->last_dirty = 1;
        }
    }
    jp_avro_buf_free(&buf);
    return rc;
}

static int decide(inst_t *x, country_t *k, const jp_draw_t *d, int64_t t)
{
    jp_decisions_t *g = x->g;
    int64_t cut = t - g->cfg->windows.grace_ms;
    dec_snapshot_t *s = calloc(1, sizeof(*s));
    if (!s)
        return -1;
    s->refs = 1;
    uint64_t seed;
    decision_id(k->c->code, d->id, s->decision_id, &seed);
    snprintf(s->draw_id, sizeof(s->draw_id), "%s", d->id);
    dec_meta_t *m = &s->meta;
    m->c = k->c;
    m->draw_id = s->draw_id;
    m->decision_time = t;
    m->decision_id = s->decision_id;
    m->config_hash = g->config_hash[k->index];
    m->code_version = g->code_version;

    model_t mm;
    ask_model(x, k, t, &mm);
    model_meta(&mm, m);
    if (mm.have) {
        snprintf(s->flows_version, sizeof(s->flows_version), "%s",
                 mm.m.flows_version ? mm.m.flows_version : "flows");
        m->flows_version = s->flows_version;
        if (mm.m.churn_version) {
            snprintf(s->churn_version, sizeof(s->churn_version), "%s", mm.m.churn_version);
            m->churn_version = s->churn_version;
        }
    }
    if (mm.have && mm.m.snapshot) {
        m->snapshot = *mm.m.snapshot;
        size_t n =
            m->snapshot.offsets.n < JP_INPUT__COUNT ? m->snapshot.offsets.n : JP_INPUT__COUNT;
        memcpy(s->offsets, m->snapshot.offsets.items, n * sizeof(*s->offsets));
        m->snapshot.offsets = (jp_avro_array_t){s->offsets, n};
    } else {
        task_snapshot(k, cut, &m->snapshot);
    }

    char err[256] = "";
    int reason = -1; /* -1: the model decides */
    if (!mm.can_forecast) {
        reason = (int)mm.reason;
    } else {
        dec_reason_t why;
        if (build_problem(x, k, d, t, &mm, s, &why, err, sizeof(err)) != 0)
            reason = (int)why;
        else if (!mm.usable)
            reason = (int)mm.reason;
    }
    jp_decide_result_t res;
    double mean[DEC_FLOWS], sd[DEC_FLOWS];
    int have_res = 0;
    if (reason < 0) {
        exploration(k, m, seed, mean, sd, &s->cd.p);
        if (jp_decide_solve(&s->cd.p, &res, err, sizeof(err)) == 0)
            have_res = 1;
        else
            reason = DEC_REASON_SOLVE_FAILED;
        s->cd.p.explore = 0; /* what-ifs never explore */
        s->cd.p.param_mean = s->cd.p.param_sd = NULL;
        s->cd.p.n_params = 0;
    }
    if (reason >= 0) {
        /* the country's rule: keep the advertised prize, or the initial one */
        int initial = k->c->decision.fallback.rule == JP_FALLBACK_INITIAL;
        int64_t prize = initial ? 0 : last_prize(k, cut);
        if (prize <= 0)
            prize = k->c->prizes.headline.initial_minor;
        snprintf(s->fallback, sizeof(s->fallback), "%s: %s (%s rule)", reason_codes[reason],
                 err[0] ? err : reason_text[reason], initial ? "initial" : "keep");
        m->fallback = s->fallback;
        if (err[0])
            jp_log_warn("decisions", "%s %s: %s", k->c->code, d->id, err);
        have_res = s->have_problem &&
                   jp_decide_evaluate(&s->cd.p, (double)prize, &res, err, sizeof(err)) == 0;
        if (!have_res) {
            memset(&res, 0, sizeof(res));
            res.prize = res.opt.prize = prize;
        }
        /* the rule's prize stands: status OK, whatever the rules say of it */
        res.opt.status = JP_OPT_OPTIMAL;
        res.opt.conflict_mask = 0;
    }
    dec_record_t *rec =
        dec_record_new(m, res.prize, have_res ? &res : NULL, s->have_problem ? &s->cd.p : NULL);
    if (!rec) {
        dec_snapshot_release(g, s);
        return -1;
    }
    const jp_recommendation_t *r = dec_record_avro(rec);
    int rc = emit(x, k, r);
    if (rc == 0) {
        s->latest_json = dec_record_json(r, 0);
        count_decision(g, k, r->status == JP_RECOMMENDATION_INFEASIBLE, r->prize_minor, reason);
        dec_publish(g, k->index, s);
    } else {
        dec_snapshot_release(g, s);
    }
    dec_record_free(rec);
    return rc;
}

static int on_timer(void *inst, int64_t time)
{
    inst_t *x = inst;
    int64_t grace = x->g->cfg->windows.grace_ms;
    for (size_t i = 0; i < x->n; i++) {
        country_t *k = &x->k[i];
        jp_draw_t d;
        int64_t t;
        if (k->first_ms == NO_TIME || next_decision(k, time - 1, &d, &t) != 0 || t != time)
            continue;
        if (!(k->first_ms < time - grace))
            continue; /* the country's stream starts after this decision */
        if (prune(x, k, time - KEEP_MS) != 0 || decide(x, k, &d, time) != 0)
            return -1;
    }
    return 0;
}

/* ---- open / close ---------------------------------------------------------------- */

static void inst_free(inst_t *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->n; i++) {
        free(x->k[i].rev);
        free(x->k[i].draws);
        free(x->k[i].last);
    }
    free(x->k);
    free(x);
}

static void *open_inst(void *global, jp_proc_ctx_t *ctx, char *errstr, size_t errstr_size)
{
    jp_decisions_t *g = global;
    inst_t *x = calloc(1, sizeof(*x));
    if (x)
        x->k = calloc(g->cfg->n_countries + 1, sizeof(*x->k));
    if (!x || !x->k) {
        free(x);
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    x->g = g;
    x->ctx = ctx;
    x->n = g->cfg->n_countries;
    for (size_t i = 0; i < x->n; i++) {
        x->k[i].index = i;
        x->k[i].c = &g->cfg->country[i];
        x->k[i].cal = g->cal[i];
        x->k[i].first_ms = NO_TIME;
    }
    if (jp_store_scan(jp_proc_store(ctx), JP_CF_LEDGER, NULL, 0, load_entry, x) < 0) {
        jp_err_set(errstr, errstr_size, "cannot load the decisions ledger");
        inst_free(x);
        return NULL;
    }
    return x;
}

static void close_inst(void *inst)
{
    inst_free(inst);
}

/* ---- the global object -------------------------------------------------------------- */

/* SHA-256 of the country file, its available cash and the event-time
 * settings: what a decision depends on besides its inputs. */
static void config_hash(const jp_config_t *cfg, const jp_country_t *c, char out[65])
{
    char extra[96];
    int n = snprintf(extra, sizeof(extra), "\n%lld %lld %lld", (long long)c->cash.available_minor,
                     (long long)cfg->windows.allowed_lateness_ms, (long long)cfg->windows.grace_ms);
    /* the file, then extra (just the extra when the file cannot be read) */
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    FILE *f = buf && c->file ? fopen(c->file, "rb") : NULL;
    while (f) {
        if (len + 1024 + sizeof(extra) > cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t r = fread(buf + len, 1, 1024, f);
        if (r == 0)
            break;
        len += r;
    }
    if (f)
        fclose(f);
    uint8_t h[JP_SHA256_LEN];
    if (buf) {
        memcpy(buf + len, extra, (size_t)n);
        jp_sha256(buf, len + (size_t)n, h);
    } else {
        jp_sha256(extra, (size_t)n, h);
    }
    free(buf);
    for (int i = 0; i < JP_SHA256_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static int make_metrics(jp_decisions_t *g)
{
    for (size_t i = 0; i < g->cfg->n_countries; i++) {
        char cc[16], labels[128];
        jp_metrics_label_escape(cc, sizeof(cc), g->cfg->country[i].code);
        for (int s = 0; s < DEC_N_STATUS; s++) {
            snprintf(labels, sizeof(labels), "country=\"%s\",status=\"%s\"", cc, status_names[s]);
            g->recommendations[i][s] =
                jp_metrics_counter(g->metrics, "jackpot_recommendations_total",
                                   "Headline-prize recommendations published, by outcome", labels);
            if (!g->recommendations[i][s])
                return -1;
        }
        for (int r = 0; r < DEC_N_REASONS; r++) {
            snprintf(labels, sizeof(labels), "country=\"%s\",reason=\"%s\"", cc, reason_codes[r]);
            g->fallbacks[i][r] = jp_metrics_counter(
                g->metrics, "jackpot_recommendation_fallbacks_total",
                "Recommendations decided by the country's fallback rule, by reason", labels);
            if (!g->fallbacks[i][r])
                return -1;
        }
        snprintf(labels, sizeof(labels), "country=\"%s\"", cc);
        g->prize[i] =
            jp_metrics_gauge(g->metrics, "jackpot_recommended_prize_minor",
                             "The latest recommended headline prize, minor units", labels);
        if (!g->prize[i])
            return -1;
    }
    return 0;
}

jp_decisions_t *jp_decisions_new(const jp_config_t *cfg, jp_metrics_t *metrics, char *errstr,
                                 size_t errstr_size)
{
    jp_decisions_t *g = calloc(1, sizeof(*g));
    size_t n = cfg->n_countries;
    if (g) {
        g->cal = calloc(n + 1, sizeof(*g->cal));
        g->config_hash = calloc(n + 1, sizeof(*g->config_hash));
        g->recommendations = calloc(n + 1, sizeof(*g->recommendations));
        g->prize = calloc(n + 1, sizeof(*g->prize));
        g->fallbacks = calloc(n + 1, sizeof(*g->fallbacks));
        g->snap = calloc(n + 1, sizeof(*g->snap));
    }
    if (!g || !g->cal || !g->config_hash || !g->recommendations || !g->prize || !g->fallbacks ||
        !g->snap) {
        jp_decisions_free(g);
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    g->cfg = cfg;
    g->metrics = metrics;
    pthread_mutex_init(&g->lock, NULL);
    snprintf(g->code_version, sizeof(g->code_version), "jackpot %s (%s)", jp_build_version,
             jp_build_commit);
    for (size_t i = 0; i < n; i++) {
        g->cal[i] = jp_calendar_new(&cfg->country[i], errstr, errstr_size);
        if (!g->cal[i]) {
            jp_decisions_free(g);
            return NULL;
        }
        config_hash(cfg, &cfg->country[i], g->config_hash[i]);
    }
    if (metrics && make_metrics(g) != 0) {
        jp_err_set(errstr, errstr_size, "metrics: %s", jp_metrics_error(metrics));
        jp_decisions_free(g);
        return NULL;
    }
    g->proc = (jp_proc_t){.name = "decisions",
                          .global = g,
                          .open = open_inst,
                          .close = close_inst,
                          .on_record = on_record,
                          .next_timer = next_timer,
                          .on_timer = on_timer,
                          .prepare_commit = prepare_commit};
    return g;
}

void jp_decisions_free(jp_decisions_t *g)
{
    if (!g)
        return;
    for (size_t i = 0; g->cfg && i < g->cfg->n_countries; i++) {
        if (g->cal)
            jp_calendar_free(g->cal[i]);
        if (g->snap && g->snap[i])
            dec_snapshot_release(g, g->snap[i]);
    }
    if (g->cfg)
        pthread_mutex_destroy(&g->lock);
    free(g->cal);
    free(g->config_hash);
    free(g->recommendations);
    free(g->prize);
    free(g->fallbacks);
    free(g->snap);
    free(g);
}

void jp_decisions_set_model_source(jp_decisions_t *d, jp_decisions_model_fn fn, void *ctx)
{
    d->source = fn;
    d->source_ctx = ctx;
}

const jp_proc_t *jp_decisions_proc(jp_decisions_t *d)
{
    return &d->proc;
}
