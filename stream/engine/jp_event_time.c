/*
 * jp_event_time: see jp_event_time.h. The window is at most 31 values: a
 * new value replaces the oldest in the ring, and in the sorted copy the
 * old one is taken out and the new one put in with one memmove each.
 */
#include "engine/jp_event_time.h"

#include <string.h>

void jp_recent_init(jp_recent_t *r, uint32_t cap)
{
    memset(r, 0, sizeof(*r));
    r->cap = cap > JP_RECENT_MAX ? JP_RECENT_MAX : cap ? cap : 1;
}

/* Index of the first sorted value >= x. */
static uint32_t lower_bound(const jp_recent_t *r, int64_t x)
{
    uint32_t lo = 0, hi = r->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (r->sorted[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void sorted_insert(jp_recent_t *r, int64_t x)
{
    uint32_t at = lower_bound(r, x);
    memmove(&r->sorted[at + 1], &r->sorted[at], (r->n - at) * sizeof(r->sorted[0]));
    r->sorted[at] = x;
    r->n++;
}

static void sorted_remove(jp_recent_t *r, int64_t x)
{
    uint32_t at = lower_bound(r, x); /* present: it is in the ring */
    memmove(&r->sorted[at], &r->sorted[at + 1], (r->n - at - 1) * sizeof(r->sorted[0]));
    r->n--;
}

void jp_recent_add(jp_recent_t *r, int64_t t_ms)
{
    if (r->n == r->cap)
        sorted_remove(r, r->t[r->next]);
    r->t[r->next] = t_ms;
    r->next = (r->next + 1) % r->cap;
    sorted_insert(r, t_ms);
}

int jp_recent_median(const jp_recent_t *r, int64_t *out)
{
    if (r->n == 0)
        return -1;
    *out = r->sorted[(r->n - 1) / 2];
    return 0;
}

static void put64(uint8_t *p, uint64_t u)
{
    for (int b = 0; b < 8; b++)
        p[b] = (uint8_t)(u >> (56 - 8 * b));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t u = 0;
    for (int b = 0; b < 8; b++)
        u = (u << 8) | p[b];
    return u;
}

void jp_recent_encode(const jp_recent_t *r, uint8_t out[JP_RECENT_WIRE_LEN])
{
    memset(out, 0, JP_RECENT_WIRE_LEN);
    put64(out, ((uint64_t)r->cap << 32) | r->n);
    put64(out + 8, r->next);
    for (uint32_t i = 0; i < r->n; i++)
        put64(out + 16 + 8 * i, (uint64_t)r->t[i]);
}

int jp_recent_decode(jp_recent_t *r, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint32_t cap = r->cap;
    jp_recent_init(r, cap);
    if (len != JP_RECENT_WIRE_LEN)
        return -1;
    uint64_t head = get64(p), next = get64(p + 8);
    uint32_t n = (uint32_t)head, wcap = (uint32_t)(head >> 32);
    if (wcap != cap || n > cap || next >= cap)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        r->t[i] = (int64_t)get64(p + 16 + 8 * i);
        sorted_insert(r, r->t[i]);
    }
    r->next = (uint32_t)next;
    return 0;
}

int jp_event_time_too_far(const jp_recent_t *r, int64_t t_ms, int64_t max_jump_ms)
{
    const int64_t *v = r->sorted;
    uint32_t n = r->n;
    if (n == 0)
        return 0;
    /* The median trails the partition's present by half the window; twice
     * the distance from the lower quartile to the median makes up for it,
     * at any rate of records. Times are validated to [1970, 3000) before
     * they get here: no overflow. */
    int64_t median = v[(n - 1) / 2], q1 = v[(n - 1) / 4];
    return t_ms > median + 2 * (median - q1) + max_jump_ms;
}

int jp_event_time_too_many_draws(const jp_recent_t *r, const jp_calendar_t *cal, int64_t t_ms,
                                 int64_t max_periods)
{
    int64_t from;
    if (jp_recent_median(r, &from) != 0 || t_ms <= from)
        return 0;
    jp_draw_t d;
    for (int64_t seen = 0; seen <= max_periods; seen++) {
        if (jp_calendar_next_draw(cal, from, 1, &d) != 0)
            return 1; /* no headline draw within ten years of the median */
        if (d.time_ms >= t_ms)
            return 0;
        from = d.time_ms;
    }
    return 1;
}
