/*
 * jp_sim_population: subscribers as an array of entries indexed by id (ids
 * are never reused, so an id also names the customer for the whole run), two
 * dense index lists (active, cancelled) with swap-removal for O(1) uniform
 * picks, per-postcode ticket counts with a Fenwick tree over participating
 * postcodes, and counts per hazard bucket (failed payments x tickets x
 * tenure) so that the sum of hazards is exact without visiting anyone.
 *
 * Postcode strings are derived from the postcode index alone: sector
 * s = index / per_sector, unit u = index % per_sector, formatted per
 * country; nothing is stored per postcode but counts.
 */
#include "sim/jp_sim_population.h"
#include "jp_sim_population-internal.h"
#include "model/base/jp_err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/jp_sim_rng.h"

enum { STYLE_GB, STYLE_NL, STYLE_DE, STYLE_SE, STYLE_NO };

/* Sectors each format can name (units per sector are at most 99). */
static const size_t style_max_sectors[] = {676 * 100, 9000, 900, 900, 90};

static int style_of(const char *code)
{
    if (strcmp(code, "NL") == 0)
        return STYLE_NL;
    if (strcmp(code, "DE") == 0)
        return STYLE_DE;
    if (strcmp(code, "SE") == 0)
        return STYLE_SE;
    if (strcmp(code, "NO") == 0)
        return STYLE_NO;
    return STYLE_GB;
}

static size_t bucket_of(const jp_sim_pop_t *pop, uint32_t id)
{
    const jp_sim_sub_t *s = &pop->subs[id];
    size_t pf = s->pf > JP_SIM_MAX_PF ? JP_SIM_MAX_PF : s->pf;
    size_t t = s->tenure > JP_SIM_MAX_TENURE ? JP_SIM_MAX_TENURE : s->tenure;
    size_t k = (size_t)s->tickets - 1;
    return (pf * JP_SIM_MAX_TICKETS + k) * (JP_SIM_MAX_TENURE + 1) + t;
}

static void build_hazards(jp_sim_pop_t *pop, const jp_sim_pop_params_t *p)
{
    pop->hazard_max = 0;
    for (size_t pf = 0; pf <= JP_SIM_MAX_PF; pf++)
        for (size_t k = 0; k < JP_SIM_MAX_TICKETS; k++)
            for (size_t t = 0; t <= JP_SIM_MAX_TENURE; t++) {
                double z = p->churn_intercept + p->churn_tenure * log1p((double)t) +
                           p->churn_pf * (double)pf + p->churn_tickets * (double)k;
                double h = 1.0 / (1.0 + exp(-z));
                pop->hazard[(pf * JP_SIM_MAX_TICKETS + k) * (JP_SIM_MAX_TENURE + 1) + t] = h;
                if (h > pop->hazard_max)
                    pop->hazard_max = h;
            }
}

/* Walker's alias method (Vose's stable construction). */
static int build_alias(jp_sim_pop_t *pop, const double *w, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += w[i];
    double *scaled = malloc(n * sizeof(*scaled));
    uint32_t *small = malloc(n * sizeof(*small)), *large = malloc(n * sizeof(*large));
    if (!scaled || !small || !large) {
        free(scaled);
        free(small);
        free(large);
        return -1;
    }
    size_t ns = 0, nl = 0;
    for (size_t i = 0; i < n; i++) {
        scaled[i] = w[i] * (double)n / sum;
        if (scaled[i] < 1.0)
            small[ns++] = (uint32_t)i;
        else
            large[nl++] = (uint32_t)i;
    }
    while (ns && nl) {
        uint32_t s = small[--ns], l = large[--nl];
        pop->alias[s].prob = scaled[s];
        pop->alias[s].idx = l;
        scaled[l] = scaled[l] + scaled[s] - 1.0;
        if (scaled[l] < 1.0)
            small[ns++] = l;
        else
            large[nl++] = l;
    }
    while (nl) {
        uint32_t l = large[--nl];
        pop->alias[l].prob = 1.0;
        pop->alias[l].idx = l;
    }
    while (ns) {
        uint32_t s = small[--ns];
        pop->alias[s].prob = 1.0;
        pop->alias[s].idx = s;
    }
    free(scaled);
    free(small);
    free(large);
    return 0;
}

/* Writes v in decimal, zero-padded to at least width digits (as "%0*u"). */
static char *put_uint(char *o, unsigned v, int width)
{
    char tmp[12];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width)
        tmp[n++] = '0';
    while (n)
        *o++ = tmp[--n];
    return o;
}

static void letters(unsigned v, char *out);

/* jp_sim_pop_postcode_str without snprintf, for the table built at
 * creation (tests/stream/sim/test_sim_model.c checks they agree); returns the
 * length written (out holds 8 bytes, NUL included). */
static size_t format_postcode(const jp_sim_pop_t *pop, uint32_t postcode, char *out)
{
    unsigned s = (unsigned)(postcode / pop->per_sector);
    unsigned u = (unsigned)(postcode % pop->per_sector);
    char buf[32], *o = buf;
    switch (pop->style) {
    case STYLE_NL:
        o = put_uint(o, 1000 + s, 4);
        letters(u, o);
        o += 2;
        break;
    case STYLE_DE:
        o = put_uint(o, 100 + s, 3);
        o = put_uint(o, u, 2);
        break;
    case STYLE_SE:
        o = put_uint(o, 100 + s, 3);
        *o++ = ' ';
        o = put_uint(o, u, 2);
        break;
    case STYLE_NO:
        o = put_uint(o, 10 + s, 2);
        o = put_uint(o, u, 2);
        break;
    default:
        letters(s / 100, o);
        o += 2;
        o = put_uint(o, (s / 10) % 10, 1);
        *o++ = ' ';
        o = put_uint(o, s % 10, 1);
        letters(u, o);
        o += 2;
        break;
    }
    size_t n = (size_t)(o - buf);
    if (n > 7) /* as snprintf into 8 bytes: truncated */
        n = 7;
    memcpy(out, buf, n);
    out[n] = '\0';
    return n;
}

jp_sim_pop_t *jp_sim_pop_new(const jp_sim_pop_params_t *p, jp_rng_t *rng, char *errstr,
                             size_t errstr_size)
{
    jp_sim_pop_t *pop = calloc(1, sizeof(*pop));
    if (!pop) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    snprintf(pop->country, sizeof(pop->country), "%s", p->country);
    pop->style = style_of(p->country);
    pop->n_postcodes = p->postcodes;
    pop->per_sector = p->postcodes_per_sector ? p->postcodes_per_sector : 20;
    if (pop->per_sector > 99)
        pop->per_sector = 99;
    size_t sectors = (pop->n_postcodes + pop->per_sector - 1) / pop->per_sector;
    if (sectors > style_max_sectors[pop->style]) {
        jp_err_set(
            errstr, errstr_size,
            "%s: %zu postcodes in sectors of %zu need %zu sectors; its postcode format names "
            "at most %zu",
            p->country, pop->n_postcodes, pop->per_sector, sectors, style_max_sectors[pop->style]);
        free(pop);
        return NULL;
    }
    size_t n = pop->n_postcodes;
    pop->count = calloc(n, sizeof(*pop->count));
    pop->fenwick = calloc(n + 1, sizeof(int32_t));
    pop->extra_touched = malloc(n * sizeof(uint32_t));
    pop->alias = malloc(n * sizeof(*pop->alias));
    double *w = malloc(n * sizeof(double));
    if (!pop->count || !pop->fenwick || !pop->extra_touched || !pop->alias || !w) {
        free(w);
        jp_sim_pop_free(pop);
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        w[i] = exp(p->density_sigma * jp_rng_normal(rng));
    int rc = build_alias(pop, w, n);
    free(w);
    if (rc != 0) {
        jp_sim_pop_free(pop);
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pop->pc_str = malloc(n * sizeof(*pop->pc_str));
    if (!pop->pc_str) {
        jp_sim_pop_free(pop);
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = format_postcode(pop, (uint32_t)i, pop->pc_str[i]);
        if (i == 0)
            pop->pc_len = len;
        else if (len != pop->pc_len)
            pop->pc_len = 0;
    }
    build_hazards(pop, p);
    return pop;
}

void jp_sim_pop_free(jp_sim_pop_t *pop)
{
    if (!pop)
        return;
    free(pop->count);
    free(pop->fenwick);
    free(pop->extra_touched);
    free(pop->alias);
    free(pop->pc_str);
    free(pop->subs);
    free(pop->active);
    free(pop->cancelled);
    free(pop);
}

static void fenwick_add(jp_sim_pop_t *pop, uint32_t postcode, int delta)
{
    for (size_t i = (size_t)postcode + 1; i <= pop->n_postcodes; i += i & (~i + 1))
        pop->fenwick[i] += delta;
    pop->n_participating += (size_t)(ptrdiff_t)delta;
}

/* Adjusts a postcode's tickets and its participation. */
static void postcode_add(jp_sim_pop_t *pop, uint32_t pc, int32_t *counter, int delta)
{
    int64_t before = (int64_t)pop->count[pc].sub_tickets + pop->count[pc].extra;
    *counter += delta; /* counter is count[pc].sub_tickets or .extra */
    int64_t after = before + delta;
    if (before <= 0 && after > 0)
        fenwick_add(pop, pc, 1);
    else if (before > 0 && after <= 0)
        fenwick_add(pop, pc, -1);
}

static int grow(void **p, size_t elem, size_t cap)
{
    void *q = realloc(*p, elem * cap);
    if (!q)
        return -1;
    *p = q;
    return 0;
}

int jp_sim_pop_reserve(jp_sim_pop_t *pop, size_t cap)
{
    if (cap <= pop->cap_subs)
        return 0;
    if (cap > UINT32_MAX)
        return -1;
    if (grow((void **)&pop->subs, sizeof(jp_sim_sub_t), cap) ||
        grow((void **)&pop->active, 4, cap) || grow((void **)&pop->cancelled, 4, cap))
        return -1;
    pop->cap_subs = cap;
    return 0;
}

long jp_sim_pop_add(jp_sim_pop_t *pop, uint32_t postcode, int tickets, int tenure)
{
    if (pop->n_subs == pop->cap_subs &&
        jp_sim_pop_reserve(pop, pop->cap_subs ? pop->cap_subs * 2 : 1024) != 0)
        return -1;
    if (tickets < 1)
        tickets = 1;
    if (tickets > JP_SIM_MAX_TICKETS)
        tickets = JP_SIM_MAX_TICKETS;
    uint32_t id = (uint32_t)pop->n_subs++;
    pop->subs[id] = (jp_sim_sub_t){
        .postcode = postcode,
        .pos = (uint32_t)pop->n_active,
        .tenure = (uint16_t)(tenure < 0       ? 0
                             : tenure > 65535 ? 65535
                                              : tenure),
        .tickets = (uint8_t)tickets,
        .pf = 0,
        .state = JP_SIM_SUB_ACTIVE,
    };
    pop->active[pop->n_active++] = id;
    pop->bucket_count[bucket_of(pop, id)]++;
    postcode_add(pop, postcode, &pop->count[postcode].sub_tickets, tickets);
    return (long)id;
}

uint32_t jp_sim_pop_pick_postcode(const jp_sim_pop_t *pop, jp_rng_t *rng)
{
    uint32_t i = (uint32_t)jp_rng_below(rng, pop->n_postcodes);
    return jp_sim_pop_alias(pop, i, jp_rng_uniform(rng));
}

static void list_remove(uint32_t *list, size_t *n, jp_sim_sub_t *subs, uint32_t id)
{
    uint32_t at = subs[id].pos;
    uint32_t last = list[--*n];
    list[at] = last;
    subs[last].pos = at;
}

void jp_sim_pop_cancel(jp_sim_pop_t *pop, uint32_t id)
{
    jp_sim_sub_t *s = &pop->subs[id];
    if (s->state != JP_SIM_SUB_ACTIVE)
        return;
    pop->bucket_count[bucket_of(pop, id)]--;
    list_remove(pop->active, &pop->n_active, pop->subs, id);
    s->state = JP_SIM_SUB_CANCELLED;
    s->pos = (uint32_t)pop->n_cancelled;
    pop->cancelled[pop->n_cancelled++] = id;
    postcode_add(pop, s->postcode, &pop->count[s->postcode].sub_tickets, -s->tickets);
}

void jp_sim_pop_reactivate(jp_sim_pop_t *pop, uint32_t id)
{
    jp_sim_sub_t *s = &pop->subs[id];
    if (s->state != JP_SIM_SUB_CANCELLED)
        return;
    list_remove(pop->cancelled, &pop->n_cancelled, pop->subs, id);
    s->state = JP_SIM_SUB_ACTIVE;
    s->pf = 0;
    s->pos = (uint32_t)pop->n_active;
    pop->active[pop->n_active++] = id;
    pop->bucket_count[bucket_of(pop, id)]++;
    postcode_add(pop, s->postcode, &pop->count[s->postcode].sub_tickets, s->tickets);
}

/* Changes a field of an active subscriber that its hazard bucket depends on. */
#define REBUCKET(pop, id, stmt)                                                                    \
    do {                                                                                           \
        int active_ = (pop)->subs[id].state == JP_SIM_SUB_ACTIVE;                                  \
        if (active_)                                                                               \
            (pop)->bucket_count[bucket_of(pop, id)]--;                                             \
        stmt;                                                                                      \
        if (active_)                                                                               \
            (pop)->bucket_count[bucket_of(pop, id)]++;                                             \
    } while (0)

void jp_sim_pop_payment_failed(jp_sim_pop_t *pop, uint32_t id)
{
    if (pop->subs[id].pf < 255)
        REBUCKET(pop, id, pop->subs[id].pf++);
}

void jp_sim_pop_renewed(jp_sim_pop_t *pop, uint32_t id)
{
    if (pop->subs[id].tenure < 65535)
        REBUCKET(pop, id, pop->subs[id].tenure++);
}

void jp_sim_pop_set_tickets(jp_sim_pop_t *pop, uint32_t id, int tickets)
{
    if (tickets < 1)
        tickets = 1;
    if (tickets > JP_SIM_MAX_TICKETS)
        tickets = JP_SIM_MAX_TICKETS;
    jp_sim_sub_t *s = &pop->subs[id];
    int delta = tickets - s->tickets;
    REBUCKET(pop, id, s->tickets = (uint8_t)tickets);
    if (s->state == JP_SIM_SUB_ACTIVE)
        postcode_add(pop, s->postcode, &pop->count[s->postcode].sub_tickets, delta);
}

long jp_sim_pop_random_active(const jp_sim_pop_t *pop, jp_rng_t *rng)
{
    return pop->n_active ? (long)pop->active[jp_rng_below(rng, pop->n_active)] : -1;
}

long jp_sim_pop_random_cancelled(const jp_sim_pop_t *pop, jp_rng_t *rng)
{
    return pop->n_cancelled ? (long)pop->cancelled[jp_rng_below(rng, pop->n_cancelled)] : -1;
}

double jp_sim_pop_hazard(const jp_sim_pop_t *pop, uint32_t id)
{
    return pop->hazard[bucket_of(pop, id)];
}

double jp_sim_pop_hazard_sum(const jp_sim_pop_t *pop)
{
    double s = 0;
    for (size_t b = 0; b < JP_SIM_HAZARD_BUCKETS; b++)
        if (pop->bucket_count[b])
            s += (double)pop->bucket_count[b] * pop->hazard[b];
    return s;
}

void jp_sim_pop_add_extra(jp_sim_pop_t *pop, uint32_t postcode, int tickets)
{
    if (pop->count[postcode].extra == 0)
        pop->extra_touched[pop->n_extra_touched++] = postcode;
    postcode_add(pop, postcode, &pop->count[postcode].extra, tickets);
}

void jp_sim_pop_reset_extra(jp_sim_pop_t *pop)
{
    for (size_t i = 0; i < pop->n_extra_touched; i++) {
        uint32_t pc = pop->extra_touched[i];
        postcode_add(pop, pc, &pop->count[pc].extra, -pop->count[pc].extra);
    }
    pop->n_extra_touched = 0;
}

const char *jp_sim_pop_postcode(const jp_sim_pop_t *pop, uint32_t postcode)
{
    return pop->pc_str[postcode];
}

size_t jp_sim_pop_postcode_len(const jp_sim_pop_t *pop, uint32_t postcode)
{
    return pop->pc_len ? pop->pc_len : strlen(pop->pc_str[postcode]);
}

int64_t jp_sim_pop_postcode_tickets(const jp_sim_pop_t *pop, uint32_t postcode)
{
    return (int64_t)pop->count[postcode].sub_tickets + pop->count[postcode].extra;
}

size_t jp_sim_pop_n_participating(const jp_sim_pop_t *pop)
{
    return pop->n_participating;
}

size_t jp_sim_pop_n_subs(const jp_sim_pop_t *pop)
{
    return pop->n_subs;
}

const jp_sim_sub_t *jp_sim_pop_sub(const jp_sim_pop_t *pop, uint32_t id)
{
    return id < pop->n_subs ? &pop->subs[id] : NULL;
}

int64_t jp_sim_pop_total_tickets(const jp_sim_pop_t *pop)
{
    int64_t s = 0;
    for (size_t i = 0; i < pop->n_postcodes; i++)
        s += (int64_t)pop->count[i].sub_tickets + pop->count[i].extra;
    return s;
}

long jp_sim_pop_draw_postcode(const jp_sim_pop_t *pop, jp_rng_t *rng)
{
    if (pop->n_participating == 0)
        return -1;
    /* The k-th participating postcode (0-based): Fenwick descent. */
    int64_t k = (int64_t)jp_rng_below(rng, pop->n_participating);
    size_t pos = 0, step = 1;
    while (step * 2 <= pop->n_postcodes)
        step *= 2;
    for (; step; step /= 2)
        if (pos + step <= pop->n_postcodes && pop->fenwick[pos + step] <= k) {
            pos += step;
            k -= pop->fenwick[pos];
        }
    return (long)pos; /* 1-based pos + 1 is the postcode; 0-based it is pos */
}

static void letters(unsigned v, char *out)
{
    out[0] = (char)('A' + (v / 26) % 26);
    out[1] = (char)('A' + v % 26);
}

void jp_sim_pop_sector_str(const jp_sim_pop_t *pop, uint32_t postcode, char *out, size_t size)
{
    unsigned s = (unsigned)(postcode / pop->per_sector);
    char l[2];
    switch (pop->style) {
    case STYLE_NL:
        snprintf(out, size, "%04u", 1000 + s);
        break;
    case STYLE_DE:
    case STYLE_SE:
        snprintf(out, size, "%03u", 100 + s);
        break;
    case STYLE_NO:
        snprintf(out, size, "%02u", 10 + s);
        break;
    default:
        letters(s / 100, l);
        snprintf(out, size, "%c%c%u %u", l[0], l[1], (s / 10) % 10, s % 10);
        break;
    }
}

void jp_sim_pop_postcode_str(const jp_sim_pop_t *pop, uint32_t postcode, char *out, size_t size)
{
    char sector[16], l[2];
    unsigned u = (unsigned)(postcode % pop->per_sector);
    jp_sim_pop_sector_str(pop, postcode, sector, sizeof(sector));
    switch (pop->style) {
    case STYLE_NL:
        letters(u, l);
        snprintf(out, size, "%s%c%c", sector, l[0], l[1]);
        break;
    case STYLE_DE:
    case STYLE_NO:
        snprintf(out, size, "%s%02u", sector, u);
        break;
    case STYLE_SE:
        snprintf(out, size, "%s %02u", sector, u);
        break;
    default:
        letters(u, l);
        snprintf(out, size, "%s%c%c", sector, l[0], l[1]);
        break;
    }
}
