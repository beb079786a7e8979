/*
 * jp_window: counters, one HyperLogLog and a sector table per window.
 * The sector table is an array in order of first sale with an open-
 * addressing index over it (every sale of a country looks its sector up in
 * three windows, among thousands of sectors: a sorted array cost a binary
 * search of string compares plus a memmove per new sector). Order is
 * imposed where it matters: serialization and features walk the sectors
 * sorted by name, so the bytes do not depend on arrival order.
 *
 * The step signals (prize, campaigns) start at the window's first sale
 * from the signals in force before it and are set at every later sale;
 * the holdings are a copy of the task's histogram at the window's end.
 */
#include "engine/jp_window.h"
#include "model/base/jp_err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/jp_bytes.h"
#include "model/base/jp_endian.h"
#include "model/base/jp_hash.h"
#include "model/sketch/jp_qsketch.h"

#define WINDOW_TAG     "WIND"
#define WINDOW_VERSION 2
#define SIGNALS_TAG    "SIGN"
/* Seed of every window's HyperLogLog: one seed, so windows can be merged. */
#define WINDOW_HLL_SEED 0x6a61636b706f7421ull

typedef struct {
    char sector[JP_WINDOW_SECTOR_LEN];
    int64_t tickets;
} sector_t;

struct jp_window_sectors_s {
    sector_t *v; /* in order of first sale; serialized sorted */
    size_t n, cap;
    uint32_t *index;  /* open addressing: 1 + position in v, 0 empty */
    size_t index_cap; /* power of two, >= 2 * n; 0 before the first */
};

const double jp_window_quantile_probs[JP_WINDOW_N_QUANTILES] = {0.1, 0.25, 0.5, 0.75,
                                                                0.9, 0.99, 1.0};
const double jp_window_held_probs[JP_WINDOW_N_HELD_QUANTILES] = {0.5, 0.9, 0.99, 0.999, 1.0};

/* Mirrors the symbols of SaleEvent.channel (schemas/SaleEvent.avsc);
 * tests/stream/engine/test_window.c checks the two agree. */
static const char *const channel_names[JP_WINDOW_N_CHANNELS] = {
    "WEB", "APP", "PHONE", "DIRECT_DEBIT", "RETAIL", "PARTNER", "UNKNOWN"};

const char *jp_window_channel_name(jp_sale_channel_t c)
{
    return (unsigned)c < JP_WINDOW_N_CHANNELS ? channel_names[c] : "UNKNOWN";
}

jp_window_t *jp_window_new(const char *country, jp_window_kind_t kind, int64_t start_ms,
                           int64_t end_ms)
{
    char err[128];
    jp_window_t *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    memcpy(w->country, country, 2);
    w->kind = kind;
    w->start_ms = start_ms;
    w->end_ms = end_ms;
    w->players = jp_hll_create(JP_WINDOW_HLL_P, WINDOW_HLL_SEED, err, sizeof(err));
    w->sectors = calloc(1, sizeof(*w->sectors));
    if (!w->players || !w->sectors) {
        jp_window_free(w);
        return NULL;
    }
    return w;
}

void jp_window_free(jp_window_t *w)
{
    if (!w)
        return;
    jp_hll_free(w->players);
    free(w->holdings.hist);
    if (w->sectors) {
        free(w->sectors->v);
        free(w->sectors->index);
        free(w->sectors);
    }
    free(w);
}

static size_t jp_window_pow2(size_t n)
{
    size_t p = 1;
    while (p < n)
        p *= 2;
    return p;
}

static uint64_t sector_hash(const char *sector)
{
    return jp_hash_str(sector, WINDOW_HLL_SEED);
}

/* Rebuilds the index for cap slots. -1 if out of memory. */
static int sector_reindex(jp_window_sectors_t *t, size_t cap)
{
    uint32_t *idx = calloc(cap, sizeof(*idx));
    if (!idx)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = (size_t)sector_hash(t->v[i].sector) & (cap - 1);
        while (idx[j])
            j = (j + 1) & (cap - 1);
        idx[j] = (uint32_t)i + 1;
    }
    free(t->index);
    t->index = idx;
    t->index_cap = cap;
    return 0;
}

/* key: a sector name zero-padded to the size of the table's names (as
 * names are stored), so equality and order are plain fixed-size memcmp. */
static int sector_add(jp_window_sectors_t *t, const char *key, uint64_t hash, int64_t tickets)
{
    if (2 * (t->n + 1) > t->index_cap &&
        sector_reindex(t, t->index_cap ? 2 * t->index_cap : 64) != 0)
        return -1;
    size_t mask = t->index_cap - 1, j = (size_t)hash & mask;
    for (; t->index[j]; j = (j + 1) & mask) {
        sector_t *s = &t->v[t->index[j] - 1];
        if (memcmp(s->sector, key, JP_WINDOW_SECTOR_LEN) == 0) {
            s->tickets += tickets;
            return 0;
        }
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        sector_t *s = realloc(t->v, cap * sizeof(*s));
        if (!s)
            return -1;
        t->v = s;
        t->cap = cap;
    }
    sector_t *s = &t->v[t->n];
    memcpy(s->sector, key, JP_WINDOW_SECTOR_LEN);
    s->tickets = tickets;
    t->index[j] = (uint32_t)++t->n;
    return 0;
}

/* Names are zero-padded (sector_add, calloc on load): memcmp orders them
 * as strcmp does, without stopping at every byte to look for the end. */
static int sector_cmp(const void *a, const void *b)
{
    return memcmp((*(const sector_t *const *)a)->sector, (*(const sector_t *const *)b)->sector,
                  JP_WINDOW_SECTOR_LEN);
}

/* The sectors sorted by name (malloc'd array of pointers into w; NULL if
 * there are none or memory ran out - *ok tells which). */
static const sector_t **sectors_sorted(const jp_window_sectors_t *t, int *ok)
{
    *ok = 1;
    if (!t->n)
        return NULL;
    const sector_t **v = malloc(t->n * sizeof(*v));
    if (!v) {
        *ok = 0;
        return NULL;
    }
    for (size_t i = 0; i < t->n; i++)
        v[i] = &t->v[i];
    qsort(v, t->n, sizeof(*v), sector_cmp);
    return v;
}

size_t jp_window_n_sectors(const jp_window_t *w)
{
    return w->sectors->n;
}

int jp_window_is_extra(const jp_sale_event_t *e)
{
    if (e->has_purchase && e->purchase != JP_SALE_PURCHASE_UNKNOWN)
        return e->purchase == JP_SALE_PURCHASE_EXTRA;
    return e->channel != JP_SALE_CHANNEL_DIRECT_DEBIT;
}

void jp_window_sale_keys(jp_window_sale_keys_t *k, const char *player_token, const char *sector)
{
    k->signals = NULL;
    k->player_token = player_token;
    k->player_hash = player_token ? jp_hash_str(player_token, WINDOW_HLL_SEED) : 0;
    k->sector = sector;
    /* As strncpy stores names: at most size - 1 bytes, the rest zeros. */
    strncpy(k->sector_key, sector ? sector : "", JP_WINDOW_SECTOR_LEN - 1);
    k->sector_key[JP_WINDOW_SECTOR_LEN - 1] = '\0';
    k->sector_hash = sector ? sector_hash(k->sector_key) : 0;
}

/* ---- step signals ---- */

/* The campaign code of a sale, cut to a table name; "" for none. */
static void campaign_name(const jp_sale_event_t *e, char out[JP_WINDOW_CAMPAIGN_LEN])
{
    size_t n = e->has_campaign ? e->campaign.len : 0;
    if (n > JP_WINDOW_CAMPAIGN_LEN - 1)
        n = JP_WINDOW_CAMPAIGN_LEN - 1;
    memset(out, 0, JP_WINDOW_CAMPAIGN_LEN);
    if (n)
        memcpy(out, e->campaign.ptr, n);
}

static int is_renewal(const jp_sale_event_t *e)
{
    return e->has_purchase && e->purchase == JP_SALE_PURCHASE_RENEWAL;
}

void jp_window_signals_apply(jp_window_signals_t *s, const jp_sale_event_t *e)
{
    if (e->advertised_prize_minor > 0 && (!s->has_prize || e->event_time >= s->prize_ms)) {
        s->has_prize = 1;
        s->log_prize = log((double)e->advertised_prize_minor);
        s->prize_minor = e->advertised_prize_minor;
        s->prize_ms = e->event_time;
    }
    /* campaigns ride on the sales they cause */
    if (is_renewal(e) || (s->has_campaign_ms && e->event_time < s->campaign_ms))
        return;
    s->campaign_ms = e->event_time;
    s->has_campaign_ms = 1;
    char name[JP_WINDOW_CAMPAIGN_LEN];
    campaign_name(e, name);
    size_t found = s->n_campaigns;
    for (size_t i = 0; i < s->n_campaigns; i++) {
        s->active[i] = name[0] && memcmp(s->campaign[i], name, sizeof(name)) == 0;
        if (s->active[i])
            found = i;
    }
    if (!name[0] || found < s->n_campaigns)
        return;
    size_t slot = s->n_campaigns;
    if (slot == JP_WINDOW_MAX_CAMPAIGNS)
        slot = 0; /* every other one is inactive now: reuse the oldest */
    else
        s->n_campaigns++;
    memcpy(s->campaign[slot], name, sizeof(name));
    s->active[slot] = 1;
}

void jp_window_signals_serialize(const jp_window_signals_t *s, jp_bytes_writer_t *w)
{
    jp_bytes_put_header(w, SIGNALS_TAG, 1);
    jp_bytes_put_u8(w, (uint8_t)s->has_prize);
    jp_bytes_put_f64(w, s->log_prize);
    jp_bytes_put_i64(w, s->prize_minor);
    jp_bytes_put_i64(w, s->prize_ms);
    jp_bytes_put_i64(w, s->campaign_ms);
    jp_bytes_put_u8(w, (uint8_t)s->has_campaign_ms);
    jp_bytes_put_u8(w, (uint8_t)s->n_campaigns);
    for (size_t i = 0; i < s->n_campaigns; i++) {
        jp_bytes_put_raw(w, s->campaign[i], JP_WINDOW_CAMPAIGN_LEN);
        jp_bytes_put_u8(w, s->active[i]);
    }
}

int jp_window_signals_deserialize(jp_bytes_reader_t *r, jp_window_signals_t *out)
{
    memset(out, 0, sizeof(*out));
    jp_bytes_get_header(r, SIGNALS_TAG, 1);
    out->has_prize = jp_bytes_get_u8(r);
    out->log_prize = jp_bytes_get_f64(r);
    out->prize_minor = jp_bytes_get_i64(r);
    out->prize_ms = jp_bytes_get_i64(r);
    out->campaign_ms = jp_bytes_get_i64(r);
    out->has_campaign_ms = jp_bytes_get_u8(r);
    out->n_campaigns = jp_bytes_get_u8(r);
    if (out->n_campaigns > JP_WINDOW_MAX_CAMPAIGNS)
        return -1;
    for (size_t i = 0; i < out->n_campaigns; i++) {
        jp_bytes_get_raw(r, out->campaign[i], JP_WINDOW_CAMPAIGN_LEN);
        out->campaign[i][JP_WINDOW_CAMPAIGN_LEN - 1] = '\0';
        out->active[i] = jp_bytes_get_u8(r);
    }
    return jp_bytes_reader_ok(r) ? 0 : -1;
}

/* The window's signal of campaign name, started from the signals (NULL
 * when the table is full). */
static jp_window_campaign_t *window_campaign(jp_window_t *w, const char *name,
                                             const jp_window_signals_t *sig)
{
    for (size_t i = 0; i < w->n_campaigns; i++)
        if (memcmp(w->campaigns[i].name, name, JP_WINDOW_CAMPAIGN_LEN) == 0)
            return &w->campaigns[i];
    if (w->n_campaigns == JP_WINDOW_MAX_CAMPAIGNS)
        return NULL;
    double was = 0;
    for (size_t i = 0; sig && i < sig->n_campaigns; i++)
        if (memcmp(sig->campaign[i], name, JP_WINDOW_CAMPAIGN_LEN) == 0)
            was = sig->active[i];
    jp_window_campaign_t *c = &w->campaigns[w->n_campaigns++];
    memcpy(c->name, name, JP_WINDOW_CAMPAIGN_LEN);
    jp_flows_tw_init(&c->share, w->start_ms, was);
    return c;
}

static void add_signals(jp_window_t *w, const jp_sale_event_t *e, const jp_window_signals_t *sig)
{
    if (e->advertised_prize_minor > 0) {
        double lp = log((double)e->advertised_prize_minor);
        if (!w->has_prize) {
            int carried = sig && sig->has_prize;
            jp_flows_tw_init(&w->prize, w->start_ms, carried ? sig->log_prize : lp);
            w->prize_minor = carried ? sig->prize_minor : e->advertised_prize_minor;
            w->has_prize = 1;
        }
        if (e->event_time >= w->prize.last_ms)
            w->prize_minor = e->advertised_prize_minor;
        jp_flows_tw_set(&w->prize, e->event_time, lp);
    }
    if (is_renewal(e))
        return;
    char name[JP_WINDOW_CAMPAIGN_LEN];
    campaign_name(e, name);
    if (name[0])
        window_campaign(w, name, sig);
    for (size_t i = 0; sig && i < sig->n_campaigns; i++)
        window_campaign(w, sig->campaign[i], sig);
    for (size_t i = 0; i < w->n_campaigns; i++)
        jp_flows_tw_set(&w->campaigns[i].share, e->event_time,
                        name[0] && memcmp(w->campaigns[i].name, name, sizeof(name)) == 0);
}

int jp_window_set_holdings(jp_window_t *w, int64_t held, int64_t lapsed,
                           const jp_held_tickets_t *hist, size_t n_hist)
{
    jp_window_holdings_t *h = &w->holdings;
    jp_held_tickets_t *copy = n_hist ? malloc(n_hist * sizeof(*copy)) : NULL;
    if (n_hist && !copy)
        return -1;
    if (n_hist)
        memcpy(copy, hist, n_hist * sizeof(*copy));
    free(h->hist);
    h->hist = copy;
    h->n_hist = n_hist;
    h->taken = 1;
    h->held = held;
    h->lapsed = lapsed;
    h->participating = h->tickets = 0;
    for (size_t i = 0; i < n_hist; i++) {
        h->participating += hist[i].postcodes;
        h->tickets += hist[i].tickets * hist[i].postcodes;
    }
    return 0;
}

void jp_window_add_sale(jp_window_t *w, const jp_sale_event_t *e, const jp_window_sale_keys_t *k)
{
    w->tickets += e->tickets;
    w->revenue_minor += e->amount_minor;
    int64_t sq = (int64_t)e->tickets * e->tickets;
    if (jp_window_is_extra(e)) {
        w->extra_tickets += e->tickets;
        w->extra_purchases++;
        w->extra_tickets_sq += sq;
    } else if (e->has_purchase && e->purchase == JP_SALE_PURCHASE_NEW_SUBSCRIPTION) {
        w->new_subscriptions++;
        w->signup_tickets += e->tickets;
        w->signup_tickets_sq += sq;
    } else if (is_renewal(e)) {
        w->renewals++;
        w->renewal_tickets += e->tickets;
        w->renewal_tickets_sq += sq;
    }
    add_signals(w, e, k->signals);
    if ((unsigned)e->channel < JP_WINDOW_N_CHANNELS)
        w->channel_tickets[e->channel] += e->tickets;
    /* Every window's sketch has WINDOW_HLL_SEED (deserialization checks),
     * so the hash made once per sale is the one jp_hll_add would make. */
    if (k->player_token)
        jp_hll_add_hash(w->players, k->player_hash);
    if (k->sector)
        sector_add(w->sectors, k->sector_key, k->sector_hash, e->tickets);
}

void jp_window_add_customer(jp_window_t *w, const jp_customer_event_t *e)
{
    switch (e->type) {
    case JP_CUSTOMER_EVENT_SIGNUP:
        w->signups++;
        break;
    case JP_CUSTOMER_EVENT_CANCEL:
        w->cancellations++;
        break;
    case JP_CUSTOMER_EVENT_REACTIVATE:
        w->reactivations++;
        break;
    case JP_CUSTOMER_EVENT_PAYMENT_FAILED:
        w->payment_failures++;
        break;
    default:
        break;
    }
}

void jp_window_add_draw(jp_window_t *w, const jp_draw_result_t *e)
{
    const jp_prize_paid_t *p = e->prizes_paid.items;
    for (size_t i = 0; i < e->prizes_paid.n; i++)
        w->prizes_paid_minor += p[i].amount_minor;
}

int64_t jp_window_net_subscribers(const jp_window_t *w)
{
    return w->signups - w->cancellations + w->reactivations;
}

void jp_window_key(const char *country, jp_window_kind_t kind, int64_t start_ms,
                   uint8_t key[JP_WINDOW_KEY_LEN])
{
    key[0] = (uint8_t)country[0];
    key[1] = (uint8_t)country[1];
    key[2] = (uint8_t)kind;
    jp_be64_put_sortable(key + 3, start_ms); /* negative times sort too */
}

static void put_tw(jp_bytes_writer_t *b, const jp_flows_tw_t *tw)
{
    jp_bytes_put_i64(b, tw->start_ms);
    jp_bytes_put_i64(b, tw->last_ms);
    jp_bytes_put_f64(b, tw->value);
    jp_bytes_put_f64(b, tw->sum);
    jp_bytes_put_f64(b, tw->sum2);
}

static void get_tw(jp_bytes_reader_t *r, jp_flows_tw_t *tw)
{
    tw->start_ms = jp_bytes_get_i64(r);
    tw->last_ms = jp_bytes_get_i64(r);
    tw->value = jp_bytes_get_f64(r);
    tw->sum = jp_bytes_get_f64(r);
    tw->sum2 = jp_bytes_get_f64(r);
}

/* Version 2's part: sales by kind, step signals, holdings. */
static void put_v2(const jp_window_t *w, jp_bytes_writer_t *b)
{
    const int64_t kinds[] = {w->new_subscriptions, w->signup_tickets,   w->signup_tickets_sq,
                             w->renewals,          w->renewal_tickets,  w->renewal_tickets_sq,
                             w->extra_purchases,   w->extra_tickets_sq, w->prize_minor};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        jp_bytes_put_varint(b, kinds[i]);
    jp_bytes_put_u8(b, (uint8_t)w->has_prize);
    if (w->has_prize)
        put_tw(b, &w->prize);
    jp_bytes_put_u8(b, (uint8_t)w->n_campaigns);
    for (size_t i = 0; i < w->n_campaigns; i++) {
        jp_bytes_put_raw(b, w->campaigns[i].name, JP_WINDOW_CAMPAIGN_LEN);
        put_tw(b, &w->campaigns[i].share);
    }
    const jp_window_holdings_t *h = &w->holdings;
    jp_bytes_put_u8(b, (uint8_t)h->taken);
    if (h->taken != 1)
        return;
    jp_bytes_put_varint(b, h->held);
    jp_bytes_put_varint(b, h->lapsed);
    jp_bytes_put_u32(b, (uint32_t)h->n_hist);
    for (size_t i = 0; i < h->n_hist; i++) {
        jp_bytes_put_varint(b, h->hist[i].tickets);
        jp_bytes_put_varint(b, h->hist[i].postcodes);
    }
}

static void get_v2(jp_window_t *w, jp_bytes_reader_t *r)
{
    int64_t *kinds[] = {&w->new_subscriptions, &w->signup_tickets,   &w->signup_tickets_sq,
                        &w->renewals,          &w->renewal_tickets,  &w->renewal_tickets_sq,
                        &w->extra_purchases,   &w->extra_tickets_sq, &w->prize_minor};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        *kinds[i] = jp_bytes_get_varint(r);
    w->has_prize = jp_bytes_get_u8(r);
    if (w->has_prize)
        get_tw(r, &w->prize);
    w->n_campaigns = jp_bytes_get_u8(r);
    if (w->n_campaigns > JP_WINDOW_MAX_CAMPAIGNS) {
        r->err = 1;
        return;
    }
    for (size_t i = 0; i < w->n_campaigns; i++) {
        jp_bytes_get_raw(r, w->campaigns[i].name, JP_WINDOW_CAMPAIGN_LEN);
        w->campaigns[i].name[JP_WINDOW_CAMPAIGN_LEN - 1] = '\0';
        get_tw(r, &w->campaigns[i].share);
    }
    w->holdings.taken = jp_bytes_get_u8(r);
    if (w->holdings.taken != 1)
        return;
    int64_t held = jp_bytes_get_varint(r), lapsed = jp_bytes_get_varint(r);
    uint32_t n = jp_bytes_get_u32(r);
    if (!jp_bytes_reader_ok(r) || n > r->len) {
        r->err = 1;
        return;
    }
    jp_held_tickets_t *hist = calloc(n ? n : 1, sizeof(*hist));
    if (!hist) {
        r->err = 1;
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        hist[i].tickets = jp_bytes_get_varint(r);
        hist[i].postcodes = jp_bytes_get_varint(r);
    }
    if (jp_bytes_reader_ok(r) && jp_window_set_holdings(w, held, lapsed, hist, n) != 0)
        r->err = 1;
    free(hist);
}

uint8_t *jp_window_serialize(const jp_window_t *w, size_t *len)
{
    jp_bytes_writer_t b;
    jp_bytes_writer_init(&b);
    jp_bytes_put_header(&b, WINDOW_TAG, WINDOW_VERSION);
    jp_bytes_put_raw(&b, w->country, 2);
    jp_bytes_put_u8(&b, (uint8_t)w->kind);
    const int64_t ints[] = {
        w->start_ms, w->end_ms,        w->tickets,       w->revenue_minor,    w->extra_tickets,
        w->signups,  w->cancellations, w->reactivations, w->payment_failures, w->prizes_paid_minor};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        jp_bytes_put_i64(&b, ints[i]);
    for (size_t i = 0; i < JP_WINDOW_N_CHANNELS; i++)
        jp_bytes_put_i64(&b, w->channel_tickets[i]);
    jp_hll_serialize(w->players, &b);
    int ok;
    const sector_t **sorted = sectors_sorted(w->sectors, &ok);
    jp_bytes_put_u32(&b, (uint32_t)w->sectors->n);
    for (size_t i = 0; ok && i < w->sectors->n; i++) {
        size_t n = strlen(sorted[i]->sector);
        jp_bytes_put_u8(&b, (uint8_t)n);
        jp_bytes_put_raw(&b, sorted[i]->sector, n);
        jp_bytes_put_i64(&b, sorted[i]->tickets);
    }
    free(sorted);
    if (!ok) {
        jp_bytes_writer_free(&b);
        if (len)
            *len = 0;
        return NULL;
    }
    put_v2(w, &b);
    return jp_bytes_writer_take(&b, len);
}

jp_window_t *jp_window_deserialize(const void *buf, size_t len, char *errstr, size_t errstr_size)
{
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, buf, len);
    jp_window_t *w = calloc(1, sizeof(*w));
    if (!w) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    uint16_t version = jp_bytes_get_header(&r, WINDOW_TAG, WINDOW_VERSION);
    jp_bytes_get_raw(&r, w->country, 2);
    w->kind = (jp_window_kind_t)jp_bytes_get_u8(&r);
    int64_t *ints[] = {&w->start_ms,         &w->end_ms,        &w->tickets,
                       &w->revenue_minor,    &w->extra_tickets, &w->signups,
                       &w->cancellations,    &w->reactivations, &w->payment_failures,
                       &w->prizes_paid_minor};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        *ints[i] = jp_bytes_get_i64(&r);
    for (size_t i = 0; i < JP_WINDOW_N_CHANNELS; i++)
        w->channel_tickets[i] = jp_bytes_get_i64(&r);
    if (jp_bytes_reader_ok(&r))
        w->players = jp_hll_deserialize(&r, errstr, errstr_size);
    uint32_t n = jp_bytes_get_u32(&r);
    /* Another seed would make jp_window_add_sale's shared hash wrong. */
    if (!w->players || jp_hll_seed(w->players) != WINDOW_HLL_SEED || !jp_bytes_reader_ok(&r) ||
        n > len) {
        jp_err_set(errstr, errstr_size, "corrupt window state");
        jp_window_free(w);
        return NULL;
    }
    jp_window_sectors_t *t = w->sectors = calloc(1, sizeof(*w->sectors));
    if (t) {
        t->v = calloc(n ? n : 1, sizeof(*t->v));
        t->cap = n ? n : 1;
    }
    for (uint32_t i = 0; t && t->v && i < n && jp_bytes_reader_ok(&r); i++) {
        uint8_t sl = jp_bytes_get_u8(&r);
        if (sl >= sizeof(t->v[i].sector)) {
            r.err = 1;
            break;
        }
        jp_bytes_get_raw(&r, t->v[i].sector, sl);
        t->v[i].tickets = jp_bytes_get_i64(&r);
        t->n++;
    }
    if (t && t->v && version >= 2)
        get_v2(w, &r);
    if (!t || !t->v || !jp_bytes_reader_done(&r) ||
        sector_reindex(t, 64 > 4 * t->n ? 64 : jp_window_pow2(4 * t->n)) != 0) {
        jp_err_set(errstr, errstr_size, "corrupt window state");
        jp_window_free(w);
        return NULL;
    }
    return w;
}

static int campaign_cmp(const void *a, const void *b)
{
    return strcmp(((const jp_window_campaign_t *const *)a)[0]->name,
                  ((const jp_window_campaign_t *const *)b)[0]->name);
}

static void signals_to_features(const jp_window_t *w, jp_window_fv_scratch_t *scratch,
                                jp_feature_vector_t *fv)
{
    fv->new_subscriptions = w->new_subscriptions;
    fv->signup_tickets = w->signup_tickets;
    fv->signup_tickets_sq = w->signup_tickets_sq;
    fv->renewals = w->renewals;
    fv->renewal_tickets = w->renewal_tickets;
    fv->renewal_tickets_sq = w->renewal_tickets_sq;
    fv->extra_purchases = w->extra_purchases;
    fv->extra_tickets_sq = w->extra_tickets_sq;
    fv->advertised_prize_minor = w->prize_minor;
    if (w->has_prize) {
        fv->has_log_prize_mean = 1;
        fv->log_prize_mean = jp_flows_tw_mean(&w->prize, w->end_ms);
        fv->log_prize_var = jp_flows_tw_var(&w->prize, w->end_ms);
    }
    const jp_window_campaign_t *sorted[JP_WINDOW_MAX_CAMPAIGNS] = {NULL};
    for (size_t i = 0; i < w->n_campaigns; i++)
        sorted[i] = &w->campaigns[i];
    if (w->n_campaigns > 1)
        qsort(sorted, w->n_campaigns, sizeof(sorted[0]), campaign_cmp);
    size_t n = 0;
    for (size_t i = 0; i < w->n_campaigns; i++) {
        double share = jp_flows_tw_mean(&sorted[i]->share, w->end_ms);
        if (share > 0) {
            scratch->campaign_keys[n] = jp_avro_str(sorted[i]->name);
            scratch->campaign_values[n++] = share;
        }
    }
    fv->campaign_shares.keys = scratch->campaign_keys;
    fv->campaign_shares.values = scratch->campaign_values;
    fv->campaign_shares.n = n;
}

/* The smallest k with at least a share p of the postcodes holding <= k
 * tickets (nearest rank; p = 1: the maximum). */
static double held_quantile(const jp_window_holdings_t *h, double p)
{
    double need = ceil(p * (double)h->participating - 1e-9), seen = 0;
    if (need < 1)
        need = 1;
    for (size_t i = 0; i < h->n_hist; i++) {
        seen += (double)h->hist[i].postcodes;
        if (seen >= need)
            return (double)h->hist[i].tickets;
    }
    return h->n_hist ? (double)h->hist[h->n_hist - 1].tickets : 0.0;
}

static void holdings_to_features(const jp_window_holdings_t *h, jp_window_fv_scratch_t *scratch,
                                 jp_feature_vector_t *fv)
{
    if (h->taken != 1)
        return;
    fv->subscribers_held = h->held;
    fv->subscribers_lapsed = h->lapsed;
    fv->participating_postcodes = h->participating;
    fv->held_tickets = h->tickets;
    fv->held_tickets_mean = h->participating ? (double)h->tickets / (double)h->participating : 0;
    if (h->participating) {
        for (size_t i = 0; i < JP_WINDOW_N_HELD_QUANTILES; i++)
            scratch->held_quantiles[i] = held_quantile(h, jp_window_held_probs[i]);
        fv->held_ticket_quantiles.items = scratch->held_quantiles;
        fv->held_ticket_quantiles.n = JP_WINDOW_N_HELD_QUANTILES;
    }
    fv->held_ticket_histogram.items = h->hist;
    fv->held_ticket_histogram.n = h->n_hist;
}

void jp_window_to_features(const jp_window_t *w, int64_t active_subscribers,
                           jp_window_fv_scratch_t *scratch, jp_feature_vector_t *fv)
{
    memset(fv, 0, sizeof(*fv));
    fv->country.ptr = w->country;
    fv->country.len = 2;
    fv->window_kind = w->kind;
    fv->window_start = w->start_ms;
    fv->window_end = w->end_ms;
    fv->tickets = w->tickets;
    fv->revenue_minor = w->revenue_minor;
    fv->signups = w->signups;
    fv->cancellations = w->cancellations;
    fv->reactivations = w->reactivations;
    fv->payment_failures = w->payment_failures;
    fv->active_subscribers = active_subscribers;
    fv->unique_players = (int64_t)(jp_hll_estimate(w->players) + 0.5);
    fv->extra_tickets = w->extra_tickets;
    fv->prizes_paid_minor = w->prizes_paid_minor;
    size_t n = 0;
    for (size_t i = 0; i < JP_WINDOW_N_CHANNELS; i++)
        if (w->channel_tickets[i]) {
            scratch->channel_keys[n] = jp_avro_str(channel_names[i]);
            scratch->channel_values[n++] = w->channel_tickets[i];
        }
    fv->channel_mix.keys = scratch->channel_keys;
    fv->channel_mix.values = scratch->channel_values;
    fv->channel_mix.n = n;

    /* Quantiles of tickets per participating sector, from the one quantile
     * sketch implementation (relative accuracy 1%). */
    char err[128];
    jp_qsketch_t *q = jp_qsketch_create(0.01, 2048, err, sizeof(err));
    int ok; /* in name order, as serialized: the sketch sees the same sequence after a restore */
    const sector_t **sorted = sectors_sorted(w->sectors, &ok);
    if (!ok) {
        jp_qsketch_free(q);
        q = NULL;
    }
    for (size_t i = 0; q && i < w->sectors->n; i++)
        jp_qsketch_add(q, (double)sorted[i]->tickets);
    free(sorted);
    for (size_t i = 0; i < JP_WINDOW_N_QUANTILES; i++)
        scratch->quantiles[i] =
            q && w->sectors->n ? jp_qsketch_quantile(q, jp_window_quantile_probs[i]) : 0.0;
    jp_qsketch_free(q);
    fv->sector_ticket_quantiles.items = scratch->quantiles;
    fv->sector_ticket_quantiles.n = JP_WINDOW_N_QUANTILES;
    signals_to_features(w, scratch, fv);
    holdings_to_features(&w->holdings, scratch, fv);
}
