/*
 * jp_holdings: see the header for why holdings are folded in event time.
 *
 * The table is open addressing on the postcode token (a keyed hash
 * already, so its low bits index directly); the histogram is a plain array
 * indexed by tickets (a postcode holds at most a few hundred). A delta
 * moves one postcode from its old count to its new one in the histogram,
 * so deltas may be applied in any order and may make a postcode negative
 * for a moment: only counts >= 1 are in the histogram, and every move is
 * undone exactly by its reverse.
 */
#include "engine/jp_holdings.h"

#include <stdlib.h>
#include <string.h>

#define HOLD_TAG     "HOLD"
#define HOLD_VERSION 2
#define HOUR_TAG     "HHOU"
#define HOUR_MS      3600000LL

typedef struct {
    int64_t t;
    uint64_t postcode; /* 0: a change of the subscriber counts only */
    int64_t tickets;
    int8_t d_held, d_lapsed;
} delta_t;

typedef struct {
    uint64_t postcode; /* 0: empty */
    int64_t tickets;
    uint8_t dirty;
} slot_t;

struct jp_holdings_s {
    int64_t folded, held, lapsed;
    slot_t *tab;
    size_t cap, n; /* cap: a power of two >= 2 n */
    int64_t *hist; /* hist[k]: postcodes holding k tickets */
    size_t hist_len;
    delta_t *pend;
    size_t n_pend, cap_pend;
    uint64_t *dirty;
    size_t n_dirty, cap_dirty;
    int64_t *dirty_hours; /* hours whose pending deltas changed */
    size_t n_dirty_hours, cap_dirty_hours;
    int summary_dirty;
    int oom; /* a dirty hour could not be noted: the task must rewind */
    jp_held_tickets_t *out;
    size_t cap_out;
};

jp_holdings_t *jp_holdings_new(void)
{
    jp_holdings_t *h = calloc(1, sizeof(*h));
    if (h)
        h->folded = INT64_MIN;
    return h;
}

void jp_holdings_free(jp_holdings_t *h)
{
    if (!h)
        return;
    free(h->tab);
    free(h->hist);
    free(h->pend);
    free(h->dirty);
    free(h->dirty_hours);
    free(h->out);
    free(h);
}

/* Grows an array of size elements to hold at least need. */
static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int64_t hour_of(int64_t t)
{
    return t >= 0 ? t / HOUR_MS : -((-t + HOUR_MS - 1) / HOUR_MS);
}

/* Notes that an hour's pending deltas changed (a short list: the hours
 * touched since the last commit). */
static void hour_dirty(jp_holdings_t *h, int64_t t)
{
    int64_t hour = hour_of(t);
    for (size_t i = h->n_dirty_hours; i-- > 0;)
        if (h->dirty_hours[i] == hour)
            return;
    if (grow((void **)&h->dirty_hours, &h->cap_dirty_hours, h->n_dirty_hours + 1,
             sizeof(*h->dirty_hours)) != 0) {
        h->oom = 1;
        return;
    }
    h->dirty_hours[h->n_dirty_hours++] = hour;
}

static int queue(jp_holdings_t *h, const delta_t *d)
{
    if (grow((void **)&h->pend, &h->cap_pend, h->n_pend + 1, sizeof(*h->pend)) != 0)
        return -1;
    h->pend[h->n_pend++] = *d;
    hour_dirty(h, d->t);
    return h->oom ? -1 : 0;
}

int jp_holdings_delta(jp_holdings_t *h, int64_t t, uint64_t postcode, int64_t tickets)
{
    if (!postcode || !tickets)
        return 0;
    delta_t d = {t, postcode, tickets, 0, 0};
    return queue(h, &d);
}

int jp_holdings_change(jp_holdings_t *h, const jp_customer_change_t *ch)
{
    if (grow((void **)&h->pend, &h->cap_pend, h->n_pend + 3, sizeof(*h->pend)) != 0)
        return -1;
    int8_t dh = (int8_t)((ch->to_cls == JP_HOLD_ACTIVE) - (ch->from_cls == JP_HOLD_ACTIVE));
    int8_t dl = (int8_t)((ch->to_cls == JP_HOLD_LAPSED) - (ch->from_cls == JP_HOLD_LAPSED));
    if (dh || dl) {
        delta_t d = {ch->t, 0, 0, dh, dl};
        queue(h, &d);
    }
    jp_holdings_delta(h, ch->t, ch->from_postcode, -(int64_t)ch->from_tickets);
    jp_holdings_delta(h, ch->t, ch->to_postcode, ch->to_tickets);
    return 0;
}

int64_t jp_holdings_folded(const jp_holdings_t *h)
{
    return h->folded;
}

static slot_t *lookup(jp_holdings_t *h, uint64_t postcode)
{
    size_t mask = h->cap - 1;
    for (size_t i = (size_t)postcode & mask;; i = (i + 1) & mask)
        if (h->tab[i].postcode == postcode || !h->tab[i].postcode)
            return &h->tab[i];
}

static int rehash(jp_holdings_t *h, size_t cap)
{
    slot_t *old = h->tab;
    size_t old_cap = h->cap;
    h->tab = calloc(cap, sizeof(*h->tab));
    if (!h->tab) {
        h->tab = old;
        return -1;
    }
    h->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].postcode)
            *lookup(h, old[i].postcode) = old[i];
    free(old);
    return 0;
}

/* The slot of postcode, inserted with 0 tickets if new; NULL without memory. */
static slot_t *slot_for(jp_holdings_t *h, uint64_t postcode)
{
    if (2 * (h->n + 1) > h->cap && rehash(h, h->cap ? 2 * h->cap : 1024) != 0)
        return NULL;
    slot_t *s = lookup(h, postcode);
    if (!s->postcode) {
        s->postcode = postcode;
        h->n++;
    }
    return s;
}

/* Moves one postcode from k_old to k_new tickets in the histogram. */
static int hist_move(jp_holdings_t *h, int64_t k_old, int64_t k_new)
{
    if (k_new >= 1 && (size_t)k_new >= h->hist_len) {
        size_t len = (size_t)k_new + 1 > 2 * h->hist_len ? (size_t)k_new + 1 : 2 * h->hist_len;
        int64_t *p = realloc(h->hist, len * sizeof(*p));
        if (!p)
            return -1;
        memset(p + h->hist_len, 0, (len - h->hist_len) * sizeof(*p));
        h->hist = p;
        h->hist_len = len;
    }
    if (k_old >= 1)
        h->hist[k_old]--;
    if (k_new >= 1)
        h->hist[k_new]++;
    return 0;
}

static int set_tickets(jp_holdings_t *h, uint64_t postcode, int64_t tickets, int mark_dirty)
{
    slot_t *s = slot_for(h, postcode); /* found: no insertion, no rehash */
    if (!s || hist_move(h, s->tickets, tickets) != 0)
        return -1;
    s->tickets = tickets;
    if (mark_dirty && !s->dirty) {
        if (grow((void **)&h->dirty, &h->cap_dirty, h->n_dirty + 1, sizeof(*h->dirty)) != 0)
            return -1;
        h->dirty[h->n_dirty++] = postcode;
        s->dirty = 1;
    }
    return 0;
}

int jp_holdings_fold(jp_holdings_t *h, int64_t to)
{
    size_t kept = 0;
    for (size_t i = 0; i < h->n_pend; i++) {
        delta_t *d = &h->pend[i];
        if (d->t >= to) {
            h->pend[kept++] = *d;
            continue;
        }
        hour_dirty(h, d->t);
        h->held += d->d_held;
        h->lapsed += d->d_lapsed;
        if (d->postcode) {
            slot_t *s = slot_for(h, d->postcode);
            if (!s || set_tickets(h, d->postcode, s->tickets + d->tickets, 1) != 0)
                return -1;
        }
    }
    h->n_pend = kept;
    h->folded = to;
    h->summary_dirty = 1;
    return h->oom ? -1 : 0;
}

void jp_holdings_subscribers(const jp_holdings_t *h, int64_t *held, int64_t *lapsed)
{
    *held = h->held;
    *lapsed = h->lapsed;
}

const jp_held_tickets_t *jp_holdings_histogram(jp_holdings_t *h, size_t *n)
{
    size_t m = 0;
    for (size_t k = 1; k < h->hist_len; k++)
        m += h->hist[k] > 0;
    *n = 0;
    if (!m || grow((void **)&h->out, &h->cap_out, m, sizeof(*h->out)) != 0)
        return NULL;
    for (size_t k = 1; k < h->hist_len; k++)
        if (h->hist[k] > 0)
            h->out[(*n)++] = (jp_held_tickets_t){(int64_t)k, h->hist[k]};
    return h->out;
}

int jp_holdings_take_dirty(jp_holdings_t *h, jp_holdings_put_fn put, void *ctx)
{
    for (size_t i = 0; i < h->n_dirty; i++) {
        slot_t *s = lookup(h, h->dirty[i]);
        int rc = put(ctx, s->postcode, s->tickets);
        if (rc != 0)
            return rc;
        s->dirty = 0;
    }
    h->n_dirty = 0;
    return 0;
}

int jp_holdings_summary_dirty(const jp_holdings_t *h)
{
    return h->summary_dirty;
}

void jp_holdings_serialize(jp_holdings_t *h, jp_bytes_writer_t *w)
{
    jp_bytes_put_header(w, HOLD_TAG, HOLD_VERSION);
    jp_bytes_put_i64(w, h->folded);
    jp_bytes_put_i64(w, h->held);
    jp_bytes_put_i64(w, h->lapsed);
    h->summary_dirty = 0;
}

int jp_holdings_load_summary(jp_holdings_t *h, const void *buf, size_t len)
{
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, buf, len);
    jp_bytes_get_header(&r, HOLD_TAG, HOLD_VERSION);
    h->folded = jp_bytes_get_i64(&r);
    h->held = jp_bytes_get_i64(&r);
    h->lapsed = jp_bytes_get_i64(&r);
    h->summary_dirty = 0;
    return jp_bytes_reader_done(&r) ? 0 : -1;
}

int jp_holdings_take_pending(jp_holdings_t *h, jp_holdings_hour_fn put, void *ctx)
{
    for (size_t k = 0; k < h->n_dirty_hours; k++) {
        int64_t hour = h->dirty_hours[k];
        jp_bytes_writer_t w;
        jp_bytes_writer_init(&w);
        size_t n = 0;
        for (size_t i = 0; i < h->n_pend; i++)
            n += hour_of(h->pend[i].t) == hour;
        if (n) {
            jp_bytes_put_header(&w, HOUR_TAG, 1);
            jp_bytes_put_u32(&w, (uint32_t)n);
            for (size_t i = 0; i < h->n_pend; i++) {
                const delta_t *d = &h->pend[i];
                if (hour_of(d->t) != hour)
                    continue;
                jp_bytes_put_varint(&w, d->t);
                jp_bytes_put_u64(&w, d->postcode);
                jp_bytes_put_varint(&w, d->tickets);
                jp_bytes_put_u8(&w, (uint8_t)d->d_held);
                jp_bytes_put_u8(&w, (uint8_t)d->d_lapsed);
            }
        }
        int rc = w.oom ? -1 : put(ctx, hour, w.buf, w.len);
        jp_bytes_writer_free(&w);
        if (rc != 0)
            return rc;
    }
    h->n_dirty_hours = 0;
    return 0;
}

int jp_holdings_load_hour(jp_holdings_t *h, const void *buf, size_t len)
{
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, buf, len);
    jp_bytes_get_header(&r, HOUR_TAG, 1);
    uint32_t n = jp_bytes_get_u32(&r);
    if (!jp_bytes_reader_ok(&r) || n > len)
        return -1;
    for (uint32_t i = 0; i < n && jp_bytes_reader_ok(&r); i++) {
        delta_t d;
        d.t = jp_bytes_get_varint(&r);
        d.postcode = jp_bytes_get_u64(&r);
        d.tickets = jp_bytes_get_varint(&r);
        d.d_held = (int8_t)jp_bytes_get_u8(&r);
        d.d_lapsed = (int8_t)jp_bytes_get_u8(&r);
        if (grow((void **)&h->pend, &h->cap_pend, h->n_pend + 1, sizeof(*h->pend)) != 0)
            return -1;
        h->pend[h->n_pend++] = d;
    }
    return jp_bytes_reader_done(&r) ? 0 : -1;
}

int jp_holdings_load_postcode(jp_holdings_t *h, uint64_t postcode, int64_t tickets)
{
    if (!postcode)
        return -1;
    return set_tickets(h, postcode, tickets, 0);
}
