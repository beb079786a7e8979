/*
 * jp_sim_gen: the generation loop of one country.
 *
 * An hour is cut at draw times into segments; a segment first changes the
 * population (sign-ups, cancellations, reactivations, extra tickets,
 * renewals) and records each change as a compact item (time, kind,
 * subscriber), then sorts the items by (time, sequence) and only then
 * materializes them into typed events, so strings are formatted once per
 * event into reusable buffers and nothing is allocated per event. Draws
 * happen between segments, so a draw sees exactly the tickets bought
 * before it.
 *
 * Expected counts are the Poisson means (and, for cancellations, the exact
 * sum of hazards from the population's buckets), accumulated per headline
 * draw period next to the realized counts; renewals are deterministic given
 * the population, so they count the same in both.
 */
#include "sim/jp_sim_gen.h"
#include "model/base/jp_err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/jp_calendar.h"
#include "model/base/jp_hash.h"
#include "model/base/jp_rng.h"
#include "sim/jp_sim_rng.h"

#include "jp_sim_population-internal.h"

#define HOUR_MS 3600000LL
#define WEEK_MS (7 * 24 * HOUR_MS)

enum { IT_SIGNUP, IT_CANCEL, IT_REACT, IT_PF, IT_EXTRA, IT_RENEW };

typedef struct {
    int64_t t;
    uint32_t seq;
    uint32_t sub;
    uint8_t kind;
    uint8_t channel;
    int16_t tickets;
} item_t;

typedef struct {
    int64_t draw_time;
    int64_t prize;
    const char *policy;
    int64_t decided_ms; /* when the prize started to be advertised */
} decision_t;

#define MAX_DECISIONS 16

struct jp_sim_gen_s {
    const jp_sim_world_t *w;
    const jp_sim_country_t *k;
    const jp_country_t *country;
    size_t index;
    uint64_t seed;
    jp_sim_truth_t *truth;
    jp_sim_prize_lookup_t lookup;
    void *lookup_ctx;
    jp_calendar_t *cal;
    jp_sim_pop_t *pop;
    jp_rng_t rng_gen, rng_draw;
    jp_sim_poisson_t p_tickets, p_extra; /* exp(-mean) caches */
    jp_sim_below_t span;                 /* the current segment's length in ms */
    uint64_t id_base, cust_base;
    uint64_t id_counter, events;

    /* ground truth in force (changes modify these) */
    double e_signup, e_cancel, e_extra, tickets_mean, pf_rate, extra_tickets_mean;
    double signups_per_day;
    jp_sim_season_t season;

    int64_t advertised;
    const char *advertised_policy;
    decision_t decisions[MAX_DECISIONS];
    size_t n_decisions;
    jp_draw_t pending; /* next headline draw whose prize is not decided */

    /* current headline period */
    int64_t period_start;
    jp_sim_counts_t exp, real;
    jp_sim_counts_t exp_after; /* expected since this period's draw was decided */
    double season_weighted, logj_weighted, hours;

    item_t *items, *tmp;
    size_t n_items, cap_items, cap_tmp;
    uint32_t seq;

    /* per-segment context for materializing */
    jp_draw_t next_headline;
    size_t draw_id_len, currency_len, campaign_len;
    const char *campaign;
    char uuid[37], cust[24], email[96], postcode[16], sector[16];
};

#define CUSTOMER_ID_LEN 19 /* "GB-" and 16 hex digits */

/* The 8 lowercase hex digits of v, most significant first, as the bytes of
 * a little-endian word: each nibble spread into its own byte, turned into
 * ASCII without branches, then byte-swapped. This runs three times per
 * event (id and customer). */
static uint64_t hex8(uint32_t v)
{
    uint64_t x = v;
    x = (x | (x << 16)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x << 8)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FULL; /* byte k = nibble k */
    uint64_t letter = ((x + 0x0606060606060606ULL) >> 4) & 0x0101010101010101ULL;
    x += 0x3030303030303030ULL + letter * ('a' - '0' - 10);
    return __builtin_bswap64(x);
}

static void hex16(uint64_t v, char *out)
{
    uint64_t hi = hex8((uint32_t)(v >> 32)), lo = hex8((uint32_t)v);
    memcpy(out, &hi, 8);
    memcpy(out + 8, &lo, 8);
}

void jp_sim_uuid(uint64_t a, uint64_t b, char out[37])
{
    /* version 4 and variant 10 bits set, like a random UUID */
    a = (a & ~0xF000ULL) | 0x4000ULL;
    b = (b & ~(3ULL << 62)) | (2ULL << 62);
    /* 8-4-4-4-12: a's digits 0-7 | 8-11 | 12-15, b's 0-3 | 4-15 */
    char h[32];
    hex16(a, h);
    hex16(b, h + 16);
    memcpy(out, h, 8);
    out[8] = '-';
    memcpy(out + 9, h + 8, 4);
    out[13] = '-';
    memcpy(out + 14, h + 12, 4);
    out[18] = '-';
    memcpy(out + 19, h + 16, 4);
    out[23] = '-';
    memcpy(out + 24, h + 20, 12);
    out[36] = '\0';
}

void jp_sim_rng_seed(jp_rng_t *rng, uint64_t seed, const char *country, const char *stream)
{
    char name[64];
    snprintf(name, sizeof(name), "%s/%s", country, stream);
    jp_rng_seed(rng, jp_hash_str(name, seed));
}

static const char *const first_names[] = {
    "olivia", "noah",  "emma", "liam",    "sofia", "lucas",  "mia",    "elias",
    "anna",   "jonas", "ella", "oscar",   "freya", "hugo",   "lena",   "finn",
    "julia",  "leon",  "sara", "emil",    "maja",  "theo",   "nora",   "isak",
    "amelia", "jack",  "ida",  "william", "alice", "oliver", "ingrid", "daan"};
static const char *const last_names[] = {
    "smith",   "jones",   "de.jong",  "jansen",   "muller",   "schmidt",  "andersson", "johansson",
    "hansen",  "olsen",   "taylor",   "brown",    "visser",   "bakker",   "schneider", "fischer",
    "nilsson", "larsson", "berg",     "haugen",   "williams", "wilson",   "smit",      "meijer",
    "weber",   "wagner",  "karlsson", "eriksson", "johnsen",  "pedersen", "evans",     "thomas"};

static void format_customer(jp_sim_gen_t *g, uint32_t id)
{
    uint64_t h = jp_hash_mix64(g->cust_base ^ (uint64_t)id);
    char *p = g->cust;
    *p++ = g->k->code[0];
    *p++ = g->k->code[1];
    *p++ = '-';
    hex16(h, p);
    p[16] = '\0';
}

/* Returns the length (the e-mail fits: names are short). */
static size_t format_email(jp_sim_gen_t *g, uint32_t id)
{
    uint64_t h = jp_hash_mix64(g->cust_base + 0x9E3779B97F4A7C15ULL * ((uint64_t)id + 1));
    int n =
        snprintf(g->email, sizeof(g->email), "%s.%s%u@example.%c%c", first_names[h % 32],
                 last_names[(h >> 8) % 32], id % 1000, g->k->code[0] | 0x20, g->k->code[1] | 0x20);
    return n < 0 ? 0 : (size_t)n < sizeof(g->email) ? (size_t)n : sizeof(g->email) - 1;
}

static void next_uuid(jp_sim_gen_t *g)
{
    uint64_t c = g->id_counter++;
    uint64_t a = jp_hash_mix64(g->id_base ^ (c * 2 + 1));
    uint64_t b = jp_hash_mix64(a ^ g->id_base ^ (c << 1));
    jp_sim_uuid(a, b, g->uuid);
}

/* ---- prize policy --------------------------------------------------------- */

static int64_t schedule_prize(const jp_sim_gen_t *g, int64_t draw_time)
{
    int64_t week = (draw_time - g->w->start_ms) / WEEK_MS;
    int64_t prize = g->country->prizes.headline.initial_minor;
    const jp_sim_schedule_entry_t *s = g->k->prize.schedule.items;
    for (size_t i = 0; i < g->k->prize.schedule.n; i++)
        if (s[i].week <= week)
            prize = s[i].prize_minor;
    return prize;
}

/* 1 when the closed loop decides draw d (after the warm-up). */
static int loop_draw(const jp_sim_gen_t *g, const jp_draw_t *d)
{
    return g->k->prize.policy == JP_SIM_POLICY_RECOMMENDATIONS &&
           jp_calendar_decision_time(g->cal, d) - g->w->start_ms >=
               g->k->prize.warmup_weeks * WEEK_MS;
}

/* When draw d's prize is decided: its decision time, in the closed loop
 * (warm-up included) later by the loop delay. */
static int64_t decide_at(const jp_sim_gen_t *g, const jp_draw_t *d)
{
    int64_t t = jp_calendar_decision_time(g->cal, d);
    return g->k->prize.policy == JP_SIM_POLICY_RECOMMENDATIONS ? t + g->k->prize.loop_delay_ms : t;
}

/* ask: the draw is decided in the run (the first draw's prize counts as
 * decided before it). */
static void decide(jp_sim_gen_t *g, const jp_draw_t *d, int64_t now, int ask)
{
    int64_t prize = 0, recommended = 0;
    const char *policy = "schedule";
    /* The closed loop asks for every draw's recommendation, the warm-up's
     * too: the lookup waits for the engine, so the simulator never runs
     * ahead of it by more than a draw period (the dev broker keeps only a
     * few MB a partition). During the warm-up the schedule still decides. */
    int answered = ask && g->k->prize.policy == JP_SIM_POLICY_RECOMMENDATIONS && g->lookup &&
                   g->lookup(g->lookup_ctx, g->k->code, d->id, &recommended) == 0 &&
                   recommended > 0;
    if (g->k->prize.policy == JP_SIM_POLICY_FIXED) {
        prize = g->k->prize.fixed_minor;
        policy = "fixed";
    } else if (answered && loop_draw(g, d)) {
        prize = recommended;
        policy = "recommendation";
    } else {
        /* the schedule; also the closed loop's fallback before any recommendation */
        prize = schedule_prize(g, d->time_ms);
    }
    if (g->n_decisions == MAX_DECISIONS) {
        memmove(g->decisions, g->decisions + 1, (MAX_DECISIONS - 1) * sizeof(decision_t));
        g->n_decisions--;
    }
    g->decisions[g->n_decisions++] = (decision_t){d->time_ms, prize, policy, now};
    g->advertised = prize;
    g->advertised_policy = policy;
}

static const decision_t *decision_for(const jp_sim_gen_t *g, int64_t draw_time)
{
    for (size_t i = 0; i < g->n_decisions; i++)
        if (g->decisions[i].draw_time == draw_time)
            return &g->decisions[i];
    return NULL;
}

/* ---- construction ----------------------------------------------------------- */

static int initial_tickets(jp_sim_gen_t *g, jp_rng_t *rng)
{
    int t = 1 + (int)jp_sim_poisson(&g->p_tickets, rng, g->tickets_mean - 1.0);
    int64_t cap = g->country->ticket.max_per_player;
    if (cap > 0 && t > cap)
        t = (int)cap;
    return t > JP_SIM_MAX_TICKETS ? JP_SIM_MAX_TICKETS : t;
}

/* The initial subscribers, each drawn as jp_sim_pop_pick_postcode, then
 * its tenure, then its tickets, from rng - the same draws in the same
 * order as one jp_sim_pop_add per subscriber, but in batches: draw a
 * batch, prefetch its alias entries, resolve the postcodes and prefetch
 * their counters, then add. The population's tables are far larger than
 * the caches, so this overlaps the misses instead of taking them one by
 * one. */
#define BUILD_BATCH 64

static int build_population(jp_sim_gen_t *g, jp_rng_t *rng)
{
    jp_sim_pop_t *pop = g->pop;
    size_t total = (size_t)g->k->population.subscribers;
    uint64_t tenures = (uint64_t)g->k->population.max_tenure_months + 1;
    /* room for the run's sign-ups too, so the arrays rarely move */
    if (jp_sim_pop_reserve(pop, total + total / 8 + 1024) != 0)
        return -1;
    uint32_t idx[BUILD_BATCH], pc[BUILD_BATCH];
    double u[BUILD_BATCH];
    int tenure[BUILD_BATCH], tickets[BUILD_BATCH];
    jp_sim_below_t by_postcode, by_tenure;
    jp_sim_below_init(&by_postcode, pop->n_postcodes);
    jp_sim_below_init(&by_tenure, tenures);
    for (size_t done = 0; done < total;) {
        size_t m = total - done < BUILD_BATCH ? total - done : BUILD_BATCH;
        for (size_t j = 0; j < m; j++) {
            idx[j] = (uint32_t)jp_sim_rng_below_by(rng, &by_postcode);
            u[j] = jp_rng_uniform(rng);
            tenure[j] = (int)jp_sim_rng_below_by(rng, &by_tenure);
            tickets[j] = initial_tickets(g, rng);
            __builtin_prefetch(&pop->alias[idx[j]]);
        }
        for (size_t j = 0; j < m; j++) {
            pc[j] = jp_sim_pop_alias(pop, idx[j], u[j]);
            __builtin_prefetch(&pop->count[pc[j]], 1);
        }
        for (size_t j = 0; j < m; j++)
            if (jp_sim_pop_add(pop, pc[j], tickets[j], tenure[j]) < 0)
                return -1;
        done += m;
    }
    return 0;
}

jp_sim_gen_t *jp_sim_gen_new(const jp_sim_world_t *w, size_t country_index, uint64_t seed,
                             jp_sim_truth_t *truth, jp_sim_prize_lookup_t lookup, void *lookup_ctx,
                             char *errstr, size_t errstr_size)
{
    const jp_sim_country_t *k = (const jp_sim_country_t *)w->countries.items + country_index;
    if (!k->country) {
        jp_err_set(errstr, errstr_size, "%s: not in the processor configuration", k->code);
        return NULL;
    }
    jp_sim_gen_t *g = calloc(1, sizeof(*g));
    if (!g) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    g->w = w;
    g->k = k;
    g->country = k->country;
    g->index = country_index;
    g->seed = seed;
    g->truth = truth;
    g->lookup = lookup;
    g->lookup_ctx = lookup_ctx;
    g->e_signup = k->response.signup_elasticity;
    g->e_cancel = k->response.cancel_elasticity;
    g->e_extra = k->response.extra_elasticity;
    g->tickets_mean = k->population.tickets_mean;
    g->pf_rate = k->response.payment_failure;
    g->extra_tickets_mean = k->response.extra_tickets_mean;
    g->signups_per_day = k->response.signups_per_day;
    g->season = k->season;
    g->currency_len = strlen(g->country->currency);
    g->id_base = jp_hash_str(k->code, seed ^ 0x1D5ULL);
    g->cust_base = jp_hash_str(k->code, seed ^ 0xC057ULL);
    jp_sim_rng_seed(&g->rng_gen, seed, k->code, "events");
    jp_sim_rng_seed(&g->rng_draw, seed, k->code, "draws");

    g->cal = jp_calendar_new(k->country, errstr, errstr_size);
    if (!g->cal) {
        jp_sim_gen_free(g);
        return NULL;
    }
    jp_rng_t rng_pop;
    jp_sim_rng_seed(&rng_pop, seed, k->code, "population");
    jp_sim_pop_params_t pp = {
        .country = k->code,
        .postcodes = (size_t)k->population.postcodes,
        .postcodes_per_sector = (size_t)k->population.postcodes_per_sector,
        .density_sigma = k->population.density_sigma,
        .churn_intercept = k->churn.intercept,
        .churn_tenure = k->churn.tenure,
        .churn_pf = k->churn.payment_failures,
        .churn_tickets = k->churn.tickets,
    };
    g->pop = jp_sim_pop_new(&pp, &rng_pop, errstr, errstr_size);
    if (!g->pop) {
        jp_sim_gen_free(g);
        return NULL;
    }
    if (build_population(g, &rng_pop) != 0) {
        jp_err_set(errstr, errstr_size, "out of memory");
        jp_sim_gen_free(g);
        return NULL;
    }

    /* The first headline draw's prize counts as decided before the run. */
    jp_draw_t first;
    if (jp_calendar_next_draw(g->cal, w->start_ms - 1, 1, &first) != 0) {
        jp_err_set(errstr, errstr_size, "%s: no headline draw after the start", k->code);
        jp_sim_gen_free(g);
        return NULL;
    }
    decide(g, &first, w->start_ms, 0);
    jp_calendar_next_draw(g->cal, first.time_ms, 1, &g->pending);
    g->period_start = w->start_ms;
    if (truth)
        jp_sim_truth_country(truth, k);
    return g;
}

void jp_sim_gen_free(jp_sim_gen_t *g)
{
    if (!g)
        return;
    jp_calendar_free(g->cal);
    jp_sim_pop_free(g->pop);
    free(g->items);
    free(g->tmp);
    free(g);
}

const jp_sim_pop_t *jp_sim_gen_population(const jp_sim_gen_t *g)
{
    return g->pop;
}

uint64_t jp_sim_gen_events(const jp_sim_gen_t *g)
{
    return g->events;
}

void jp_sim_gen_apply_change(jp_sim_gen_t *g, const jp_sim_change_t *c)
{
    const char *t = c->target ? c->target : "";
    switch (c->kind) {
    case JP_SIM_CHANGE_ELASTICITY:
        if (strcmp(t, "signup") == 0)
            g->e_signup = c->value;
        else if (strcmp(t, "cancel") == 0)
            g->e_cancel = c->value;
        else if (strcmp(t, "extra") == 0)
            g->e_extra = c->value;
        break;
    case JP_SIM_CHANGE_SEASONALITY:
        if (c->weekly[0] > 0) {
            double sum = 0;
            for (int i = 0; i < 7; i++)
                sum += c->weekly[i];
            for (int i = 0; i < 7; i++)
                g->season.weekly[i] = c->weekly[i] * 7.0 / sum;
        }
        if (c->yearly_amplitude >= 0)
            g->season.yearly_amplitude = c->yearly_amplitude;
        break;
    case JP_SIM_CHANGE_FEATURE_SHIFT:
        if (strcmp(t, "tickets_mean") == 0 && c->value >= 1)
            g->tickets_mean = c->value;
        else if (strcmp(t, "payment_failure") == 0 && c->value >= 0 && c->value <= 1)
            g->pf_rate = c->value;
        else if (strcmp(t, "extra_tickets_mean") == 0 && c->value >= 1)
            g->extra_tickets_mean = c->value;
        else if (strcmp(t, "signups_per_day") == 0 && c->value >= 0)
            g->signups_per_day = c->value;
        break;
    default: /* silence is the runner's business */
        break;
    }
}

/* ---- one segment -------------------------------------------------------------- */

static int push(jp_sim_gen_t *g, int64_t t, uint8_t kind, uint32_t sub, int tickets,
                uint8_t channel)
{
    if (g->n_items == g->cap_items) {
        size_t cap = g->cap_items ? g->cap_items * 2 : 4096;
        item_t *n = realloc(g->items, cap * sizeof(*n));
        if (!n)
            return -1;
        g->items = n;
        g->cap_items = cap;
    }
    g->items[g->n_items++] =
        (item_t){t, g->seq++, sub, kind, channel, (int16_t)(tickets > 32767 ? 32767 : tickets)};
    return 0;
}

/* Sorts the segment's items by time, ties in push (seq) order: a stable
 * LSD radix sort on the offset from the segment start (< 2^22 ms in an
 * hour), two passes of 11 bits; O(n) and no comparisons. */
static int sort_items(jp_sim_gen_t *g, int64_t a)
{
    size_t n = g->n_items;
    if (n < 2)
        return 0;
    if (g->cap_tmp < n) {
        item_t *t = realloc(g->tmp, g->cap_items * sizeof(item_t));
        if (!t)
            return -1;
        g->tmp = t;
        g->cap_tmp = g->cap_items;
    }
    item_t *src = g->items, *dst = g->tmp;
    for (int pass = 0; pass < 2; pass++) {
        size_t count[2049] = {0};
        int shift = pass * 11;
        for (size_t i = 0; i < n; i++)
            count[(((uint64_t)(src[i].t - a) >> shift) & 2047) + 1]++;
        for (size_t k = 1; k <= 2048; k++)
            count[k] += count[k - 1];
        for (size_t i = 0; i < n; i++)
            dst[count[((uint64_t)(src[i].t - a) >> shift) & 2047]++] = src[i];
        item_t *t = src;
        src = dst;
        dst = t;
    }
    return 0; /* two passes: the result is back in g->items */
}

static double season_factor(const jp_sim_gen_t *g, int64_t t)
{
    jp_local_time_t lt;
    jp_calendar_local_time(g->cal, t, &lt);
    double week = (lt.yday - 1) / 7.0;
    double yearly = 1.0 + g->season.yearly_amplitude *
                              cos(2.0 * M_PI * (week - (double)g->season.yearly_peak_week) / 52.0);
    return g->season.weekly[lt.weekday] * g->season.hourly[lt.hour] * yearly;
}

static double campaign_lift(jp_sim_gen_t *g, int64_t t)
{
    int64_t week = (t - g->w->start_ms) / WEEK_MS;
    const jp_sim_campaign_t *c = g->k->campaigns.items;
    double lift = 1.0;
    g->campaign = NULL;
    for (size_t i = 0; i < g->k->campaigns.n; i++)
        if (week >= c[i].start_week && week < c[i].start_week + c[i].weeks) {
            lift *= c[i].lift;
            g->campaign = c[i].name;
        }
    g->campaign_len = g->campaign ? strlen(g->campaign) : 0;
    return lift;
}

/* A time uniform in the current segment [a, b) (g->span is b - a). */
static int64_t uniform_time(jp_sim_gen_t *g, int64_t a)
{
    return a + (int64_t)jp_sim_rng_below_by(&g->rng_gen, &g->span);
}

static uint8_t signup_channel(jp_sim_gen_t *g)
{
    /* web 45%, app 35%, phone 10%, partner 10% */
    double u = jp_rng_uniform(&g->rng_gen);
    return u < 0.45   ? JP_SALE_CHANNEL_WEB
           : u < 0.80 ? JP_SALE_CHANNEL_APP
           : u < 0.90 ? JP_SALE_CHANNEL_PHONE
                      : JP_SALE_CHANNEL_PARTNER;
}

static int renewals(jp_sim_gen_t *g, int64_t a)
{
    jp_sim_pop_t *pop = g->pop;
    size_t slot, stride;
    if (g->country->ticket.billing == JP_BILLING_MONTHLY) {
        int y, m, d, h;
        jp_sim_civil_from_ms(a, &y, &m, &d, &h);
        if (d > 28)
            return 0;
        slot = (size_t)(d - 1) * 24 + (size_t)h;
        stride = 28 * 24;
    } else {
        int64_t before = (g->next_headline.time_ms - a + HOUR_MS - 1) / HOUR_MS;
        if (before < 1 || before > 24)
            return 0;
        slot = (size_t)(24 - before);
        stride = 24;
    }
    size_t n = pop->n_subs, ahead = 8 * stride;
    for (size_t i = slot; i < n; i += stride) {
        if (i + ahead < n) /* a large stride: help the prefetcher */
            __builtin_prefetch(&pop->subs[i + ahead], 1);
        if (pop->subs[i].state != JP_SIM_SUB_ACTIVE)
            continue;
        int64_t t = uniform_time(g, a);
        if (jp_rng_uniform(&g->rng_gen) < g->pf_rate) {
            jp_sim_pop_payment_failed(pop, (uint32_t)i);
            g->real.payment_failures++;
            g->exp.payment_failures += g->pf_rate;
            if (push(g, t, IT_PF, (uint32_t)i, pop->subs[i].tickets, 0))
                return -1;
        } else {
            jp_sim_pop_renewed(pop, (uint32_t)i);
            g->exp.payment_failures += g->pf_rate;
            g->real.tickets += pop->subs[i].tickets;
            g->exp.tickets += pop->subs[i].tickets;
            g->real.renewal_tickets += pop->subs[i].tickets;
            g->exp.renewal_tickets += pop->subs[i].tickets;
            if (push(g, t, IT_RENEW, (uint32_t)i, pop->subs[i].tickets,
                     JP_SALE_CHANNEL_DIRECT_DEBIT))
                return -1;
        }
    }
    return 0;
}

static void fill_sale(jp_sim_gen_t *g, jp_sale_event_t *s, const item_t *it)
{
    jp_sim_pop_t *pop = g->pop;
    next_uuid(g);
    format_customer(g, it->sub);
    memset(s, 0, sizeof(*s));
    uint32_t pc = pop->subs[it->sub].postcode;
    s->event_id = (jp_avro_str_t){g->uuid, 36};
    s->country = (jp_avro_str_t){g->k->code, 2};
    s->event_time = it->t;
    s->customer_id = (jp_avro_str_t){g->cust, CUSTOMER_ID_LEN};
    s->postcode = (jp_avro_str_t){jp_sim_pop_postcode(pop, pc), jp_sim_pop_postcode_len(pop, pc)};
    s->channel = (jp_sale_channel_t)it->channel;
    s->tickets = it->tickets;
    s->amount_minor = (int64_t)it->tickets * g->country->ticket.price_minor;
    s->currency = (jp_avro_str_t){g->country->currency, g->currency_len};
    s->draw_id = (jp_avro_str_t){g->next_headline.id, g->draw_id_len};
    s->advertised_prize_minor = g->advertised;
    if (g->campaign && it->kind != IT_RENEW) {
        s->has_campaign = 1;
        s->campaign = (jp_avro_str_t){g->campaign, g->campaign_len};
    }
    s->has_purchase = 1;
    s->purchase = it->kind == IT_SIGNUP  ? JP_SALE_PURCHASE_NEW_SUBSCRIPTION
                  : it->kind == IT_RENEW ? JP_SALE_PURCHASE_RENEWAL
                                         : JP_SALE_PURCHASE_EXTRA;
}

static void fill_customer(jp_sim_gen_t *g, jp_customer_event_t *c, const item_t *it,
                          jp_customer_event_type_t type, const char *reason)
{
    jp_sim_pop_t *pop = g->pop;
    next_uuid(g);
    format_customer(g, it->sub);
    memset(c, 0, sizeof(*c));
    uint32_t pc = pop->subs[it->sub].postcode;
    c->event_id = (jp_avro_str_t){g->uuid, 36};
    c->country = (jp_avro_str_t){g->k->code, 2};
    c->event_time = it->t;
    c->customer_id = (jp_avro_str_t){g->cust, CUSTOMER_ID_LEN};
    if (type == JP_CUSTOMER_EVENT_SIGNUP || type == JP_CUSTOMER_EVENT_REACTIVATE) {
        c->has_email = 1;
        c->email = (jp_avro_str_t){g->email, format_email(g, it->sub)};
    }
    c->postcode = (jp_avro_str_t){jp_sim_pop_postcode(pop, pc), jp_sim_pop_postcode_len(pop, pc)};
    c->type = type;
    c->subscription_tickets = pop->subs[it->sub].tickets;
    if (reason) {
        c->has_reason = 1;
        c->reason = jp_avro_str(reason);
    }
}

static int materialize(jp_sim_gen_t *g, int64_t a, const jp_sim_emit_t *out)
{
    if (sort_items(g, a) != 0)
        return -1;
    jp_sale_event_t sale;
    jp_customer_event_t cust;
    const jp_sim_pop_t *pop = g->pop;
    /* Items name subscribers at random: fetch their entry D items ahead
     * and their postcode's string D/2 ahead. */
    enum { D = 16 };
    for (size_t i = 0; i < g->n_items && i < D; i++)
        __builtin_prefetch(&pop->subs[g->items[i].sub]);
    for (size_t i = 0; i < g->n_items; i++) {
        const item_t *it = &g->items[i];
        if (i + D < g->n_items)
            __builtin_prefetch(&pop->subs[it[D].sub]);
        if (i + D / 2 < g->n_items)
            __builtin_prefetch(pop->pc_str[pop->subs[it[D / 2].sub].postcode]);
        int rc = 0;
        switch (it->kind) {
        case IT_SIGNUP:
            fill_customer(g, &cust, it, JP_CUSTOMER_EVENT_SIGNUP, NULL);
            rc = out->emit(out->ctx, g->index, JP_EVENT_CUSTOMER, &cust);
            g->events++;
            if (rc == 0) {
                fill_sale(g, &sale, it);
                rc = out->emit(out->ctx, g->index, JP_EVENT_SALE, &sale);
                g->events++;
            }
            break;
        case IT_CANCEL:
            fill_customer(g, &cust, it, JP_CUSTOMER_EVENT_CANCEL, "voluntary");
            rc = out->emit(out->ctx, g->index, JP_EVENT_CUSTOMER, &cust);
            g->events++;
            break;
        case IT_REACT:
            fill_customer(g, &cust, it, JP_CUSTOMER_EVENT_REACTIVATE, NULL);
            rc = out->emit(out->ctx, g->index, JP_EVENT_CUSTOMER, &cust);
            g->events++;
            break;
        case IT_PF:
            fill_customer(g, &cust, it, JP_CUSTOMER_EVENT_PAYMENT_FAILED, "card_declined");
            rc = out->emit(out->ctx, g->index, JP_EVENT_CUSTOMER, &cust);
            g->events++;
            break;
        default: /* IT_EXTRA, IT_RENEW */
            fill_sale(g, &sale, it);
            rc = out->emit(out->ctx, g->index, JP_EVENT_SALE, &sale);
            g->events++;
            break;
        }
        if (rc != 0)
            return -1;
    }
    g->n_items = 0;
    return 0;
}

/* n extra purchases by uniform active subscribers (there is one at least).
 * Per purchase the draws are: the subscriber, its tickets, the channel,
 * the time - none depends on the population's counters and the active list
 * does not change here, so a batch is drawn first and the subscriber's
 * entries are prefetched before they are used (see build_population). */
#define EXTRA_BATCH 32

static int extras(jp_sim_gen_t *g, uint64_t n, int64_t a)
{
    jp_sim_pop_t *pop = g->pop;
    jp_rng_t *r = &g->rng_gen;
    int64_t cap = g->country->ticket.max_per_player;
    uint32_t id[EXTRA_BATCH];
    int tickets[EXTRA_BATCH];
    uint8_t channel[EXTRA_BATCH];
    int64_t t[EXTRA_BATCH];
    jp_sim_below_t by_active;
    jp_sim_below_init(&by_active, pop->n_active);
    for (uint64_t done = 0; done < n;) {
        size_t m = n - done < EXTRA_BATCH ? (size_t)(n - done) : EXTRA_BATCH;
        for (size_t j = 0; j < m; j++) {
            id[j] = (uint32_t)jp_sim_rng_below_by(r, &by_active); /* the index, for now */
            __builtin_prefetch(&pop->active[id[j]]);
            tickets[j] = 1 + (int)jp_sim_poisson(&g->p_extra, r, g->extra_tickets_mean - 1.0);
            if (cap > 0 && tickets[j] > cap)
                tickets[j] = (int)cap;
            channel[j] = jp_rng_uniform(r) < 0.6 ? JP_SALE_CHANNEL_APP : JP_SALE_CHANNEL_WEB;
            t[j] = uniform_time(g, a);
        }
        for (size_t j = 0; j < m; j++) {
            id[j] = pop->active[id[j]];
            __builtin_prefetch(&pop->subs[id[j]]);
        }
        for (size_t j = 0; j < m; j++)
            __builtin_prefetch(&pop->count[pop->subs[id[j]].postcode], 1);
        for (size_t j = 0; j < m; j++) {
            jp_sim_pop_add_extra(pop, pop->subs[id[j]].postcode, tickets[j]);
            g->real.extra_purchases++;
            g->real.extra_tickets += tickets[j];
            g->real.tickets += tickets[j];
            if (push(g, t[j], IT_EXTRA, id[j], tickets[j], channel[j]))
                return -1;
        }
        done += m;
    }
    return 0;
}

/* dst += now - before, field by field (revenue is derived from tickets). */
static void counts_add_change(jp_sim_counts_t *dst, const jp_sim_counts_t *now,
                              const jp_sim_counts_t *before)
{
    double *d = &dst->signups;
    const double *n = &now->signups, *b = &before->signups;
    for (size_t i = 0; i < sizeof(*dst) / sizeof(double); i++)
        d[i] += n[i] - b[i];
}

static int segment(jp_sim_gen_t *g, int64_t a, int64_t b, int with_renewals,
                   const jp_sim_emit_t *out)
{
    jp_sim_pop_t *pop = g->pop;
    jp_rng_t *r = &g->rng_gen;
    double L = (double)(b - a) / (double)HOUR_MS;
    double s = season_factor(g, a) * campaign_lift(g, a);
    double pj = (double)g->advertised / (double)g->k->response.prize_ref_minor;
    double f_s = pow(pj, g->e_signup), f_c = pow(pj, g->e_cancel), f_x = pow(pj, g->e_extra);
    jp_calendar_next_draw(g->cal, a, 1, &g->next_headline);
    g->draw_id_len = strlen(g->next_headline.id);
    jp_sim_below_init(&g->span, (uint64_t)(b - a));
    g->seq = 0;

    g->season_weighted += s * L;
    g->logj_weighted += log((double)g->advertised) * L;
    g->hours += L;
    /* the part of the period after its draw's prize was decided */
    int after = decision_for(g, g->next_headline.time_ms) != NULL;
    jp_sim_counts_t exp_before = g->exp;

    /* cancellations first, on the population at the segment start */
    double m_cancel = jp_sim_pop_hazard_sum(pop) / 24.0 * L * f_c;
    g->exp.cancellations += m_cancel;
    if (pop->hazard_max > 0 && pop->n_active) {
        uint64_t cand = jp_rng_poisson(r, (double)pop->n_active * pop->hazard_max / 24.0 * L * f_c);
        for (uint64_t i = 0; i < cand; i++) {
            long id = jp_sim_pop_random_active(pop, r);
            if (id < 0)
                break;
            if (jp_rng_uniform(r) * pop->hazard_max < jp_sim_pop_hazard(pop, (uint32_t)id)) {
                jp_sim_pop_cancel(pop, (uint32_t)id);
                g->real.cancellations++;
                if (push(g, uniform_time(g, a), IT_CANCEL, (uint32_t)id, 0, 0))
                    return -1;
            }
        }
    }

    double m_react =
        (double)pop->n_cancelled * g->k->response.reactivations_per_day / 24.0 * L * s * f_s;
    g->exp.reactivations += m_react;
    uint64_t n = jp_rng_poisson(r, m_react);
    for (uint64_t i = 0; i < n; i++) {
        long id = jp_sim_pop_random_cancelled(pop, r);
        if (id < 0)
            break;
        jp_sim_pop_reactivate(pop, (uint32_t)id);
        g->real.reactivations++;
        if (push(g, uniform_time(g, a), IT_REACT, (uint32_t)id, 0, 0))
            return -1;
    }

    double m_signup = g->signups_per_day / 24.0 * L * s * f_s;
    double price = (double)g->country->ticket.price_minor;
    g->exp.signups += m_signup;
    g->exp.tickets += m_signup * g->tickets_mean;
    g->exp.signup_tickets += m_signup * g->tickets_mean;
    n = jp_rng_poisson(r, m_signup);
    for (uint64_t i = 0; i < n; i++) {
        uint32_t pc = jp_sim_pop_pick_postcode(pop, r);
        int tickets = initial_tickets(g, r);
        long id = jp_sim_pop_add(pop, pc, tickets, 0);
        if (id < 0)
            return -1;
        g->real.signups++;
        g->real.tickets += tickets;
        g->real.signup_tickets += tickets;
        /* the channel is drawn before the time (the order GCC chose when
         * both were arguments of one call; now it is the defined one) */
        uint8_t channel = signup_channel(g);
        if (push(g, uniform_time(g, a), IT_SIGNUP, (uint32_t)id, tickets, channel))
            return -1;
    }

    double m_extra =
        (double)pop->n_active * g->k->response.extra_per_subscriber_per_day / 24.0 * L * s * f_x;
    g->exp.extra_purchases += m_extra;
    g->exp.extra_tickets += m_extra * g->extra_tickets_mean;
    g->exp.tickets += m_extra * g->extra_tickets_mean;
    n = jp_rng_poisson(r, m_extra);
    if (pop->n_active && extras(g, n, a) != 0)
        return -1;

    if (with_renewals && renewals(g, a) != 0)
        return -1;
    g->exp.revenue_minor = g->exp.tickets * price;
    g->real.revenue_minor = g->real.tickets * price;
    if (after) {
        counts_add_change(&g->exp_after, &g->exp, &exp_before);
        g->exp_after.revenue_minor = g->exp_after.tickets * price;
    }
    return materialize(g, a, out);
}

/* ---- draws ---------------------------------------------------------------------- */

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Tickets held per participating postcode: mean and lower quantiles. */
static void postcode_dist(const jp_sim_pop_t *pop, jp_sim_postcode_dist_t *out)
{
    memset(out, 0, sizeof(*out));
    int32_t *v = malloc((pop->n_postcodes + 1) * sizeof(*v));
    if (!v)
        return;
    size_t n = 0;
    double sum = 0;
    for (size_t i = 0; i < pop->n_postcodes; i++) {
        int32_t t = pop->count[i].sub_tickets + pop->count[i].extra;
        if (t > 0) {
            v[n++] = t;
            sum += t;
        }
    }
    if (n > 0) {
        qsort(v, n, sizeof(*v), cmp_i32);
        const double level[] = {0.5, 0.9, 0.99, 0.999};
        double *q[] = {&out->p50, &out->p90, &out->p99, &out->p999};
        for (size_t k = 0; k < 4; k++) {
            size_t i = (size_t)ceil(level[k] * (double)n);
            *q[k] = v[i > 0 ? i - 1 : 0];
        }
        out->max = v[n - 1];
        out->mean = sum / (double)n;
    }
    free(v);
}

static int do_draw(jp_sim_gen_t *g, const jp_draw_t *d, const jp_sim_emit_t *out)
{
    const jp_draw_conf_t *series =
        (const jp_draw_conf_t *)g->country->calendar.draws.items + d->series;
    const jp_secondary_prize_t *sec = g->country->prizes.secondary.items;
    jp_prize_paid_t paid[8];
    size_t n_paid = 0;
    int64_t prize = 0;
    int kind = JP_COUNTRY_PRIZE_PER_TICKET;
    const char *policy = NULL;

    long pc = jp_sim_pop_draw_postcode(g->pop, &g->rng_draw);
    int64_t tickets = pc >= 0 ? jp_sim_pop_postcode_tickets(g->pop, (uint32_t)pc) : 0;
    if (pc >= 0) {
        jp_sim_pop_postcode_str(g->pop, (uint32_t)pc, g->postcode, sizeof(g->postcode));
        jp_sim_pop_sector_str(g->pop, (uint32_t)pc, g->sector, sizeof(g->sector));
    } else {
        g->postcode[0] = g->sector[0] = '\0';
    }

    const decision_t *dec = NULL;
    if (d->headline) {
        dec = decision_for(g, d->time_ms);
        prize = dec ? dec->prize : g->advertised;
        policy = dec ? dec->policy : g->advertised_policy;
        kind = g->country->prizes.headline.kind;
        if (pc >= 0)
            paid[n_paid++] =
                (jp_prize_paid_t){jp_avro_str("headline"), (int32_t)tickets,
                                  kind == JP_COUNTRY_PRIZE_PER_TICKET ? prize * tickets : prize};
    }
    for (size_t i = 0; i < g->country->prizes.secondary.n && n_paid < 8; i++) {
        if (strcmp(sec[i].draw, series->name) != 0)
            continue;
        if (!d->headline && prize == 0) {
            prize = sec[i].amount_minor;
            kind = sec[i].kind;
        }
        if (pc >= 0)
            paid[n_paid++] = (jp_prize_paid_t){jp_avro_str(sec[i].name), (int32_t)tickets,
                                               sec[i].kind == JP_COUNTRY_PRIZE_PER_TICKET
                                                   ? sec[i].amount_minor * tickets
                                                   : sec[i].amount_minor};
    }
    int64_t payout = 0;
    for (size_t i = 0; i < n_paid; i++)
        payout += paid[i].amount_minor;

    jp_draw_result_t r;
    memset(&r, 0, sizeof(r));
    r.country = (jp_avro_str_t){g->k->code, 2};
    r.draw_id = jp_avro_str(d->id);
    r.draw_time = d->time_ms;
    r.headline_prize_minor = prize;
    r.prize_kind =
        kind == JP_COUNTRY_PRIZE_SHARED ? JP_PRIZE_KIND_SHARED : JP_PRIZE_KIND_PER_TICKET;
    r.winning_sector = jp_avro_str(g->sector);
    r.tickets_in_winning_postcode = (int32_t)tickets;
    r.prizes_paid = (jp_avro_array_t){paid, n_paid};

    if (g->truth) {
        jp_sim_draw_truth_t t = {
            .draw_id = d->id,
            .time_ms = d->time_ms,
            .headline = d->headline,
            .period_start_ms = g->period_start,
            .prize_minor = prize,
            .prize_kind = kind == JP_COUNTRY_PRIZE_SHARED ? "shared" : "per_ticket",
            .policy = policy,
            .signup_elasticity = g->e_signup,
            .cancel_elasticity = g->e_cancel,
            .extra_elasticity = g->e_extra,
            .season_mean = g->hours > 0 ? g->season_weighted / g->hours : 0,
            .mean_log_prize = g->hours > 0 ? g->logj_weighted / g->hours : 0,
            .expected = g->exp,
            .realized = g->real,
            .active_subscribers = (int64_t)g->pop->n_active,
            .participating_postcodes = (int64_t)g->pop->n_participating,
            .tickets_held = jp_sim_pop_total_tickets(g->pop),
            .winning_postcode = g->postcode,
            .winning_sector = g->sector,
            .tickets_in_winning_postcode = tickets,
            .payout_minor = payout,
        };
        if (d->headline) {
            int64_t decided = dec ? dec->decided_ms : g->period_start;
            t.switch_ms = decided > g->period_start ? decided : g->period_start;
            t.expected_after_switch = g->exp_after;
            postcode_dist(g->pop, &t.postcodes);
        }
        jp_sim_truth_draw(g->truth, g->k->code, &t);
    }
    int rc = out->emit(out->ctx, g->index, JP_EVENT_DRAW, &r);
    g->events++;
    if (d->headline) {
        jp_sim_pop_reset_extra(g->pop);
        g->period_start = d->time_ms;
        memset(&g->exp, 0, sizeof(g->exp));
        memset(&g->real, 0, sizeof(g->real));
        memset(&g->exp_after, 0, sizeof(g->exp_after));
        g->season_weighted = g->logj_weighted = g->hours = 0;
    }
    return rc;
}

int jp_sim_gen_hour(jp_sim_gen_t *g, int64_t t, const jp_sim_emit_t *out)
{
    int64_t end = t + HOUR_MS;
    while (decide_at(g, &g->pending) <= t) {
        decide(g, &g->pending, t, 1);
        jp_draw_t next;
        if (jp_calendar_next_draw(g->cal, g->pending.time_ms, 1, &next) != 0)
            break;
        g->pending = next;
    }
    int64_t cur = t;
    int first = 1;
    for (;;) {
        jp_draw_t d;
        int have = jp_calendar_next_draw(g->cal, cur - 1, 0, &d) == 0 && d.time_ms < end;
        int64_t seg_end = have ? d.time_ms : end;
        if (seg_end > cur) {
            if (segment(g, cur, seg_end, first, out) != 0)
                return -1;
            first = 0;
        }
        if (!have)
            break;
        if (do_draw(g, &d, out) != 0)
            return -1;
        cur = d.time_ms + 1;
    }
    return 0;
}
