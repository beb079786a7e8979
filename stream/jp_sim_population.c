/*
 * jp_sim_population: subscribers as struct-of-arrays indexed by id (ids are
 * never reused, so an id also names the customer for the whole run), two
 * dense index lists (active, cancelled) with swap-removal for O(1) uniform
 * picks, per-postcode ticket counts with a Fenwick tree over participating
 * postcodes, and counts per hazard bucket (failed payments x tickets x
 * tenure) so that the sum of hazards is exact without visiting anyone.
 *
 * Postcode strings are derived from the postcode index alone: sector
 * s = index / per_sector, unit u = index % per_sector, formatted per
 * country; nothing is stored per postcode but counts.
 */
#include "jp_sim_population.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    size_t pf = pop->pf[id] > JP_SIM_MAX_PF ? JP_SIM_MAX_PF : pop->pf[id];
    size_t t = pop->tenure[id] > JP_SIM_MAX_TENURE ? JP_SIM_MAX_TENURE : pop->tenure[id];
    size_t k = (size_t)pop->tickets[id] - 1;
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
        pop->alias_prob[s] = scaled[s];
        pop->alias_idx[s] = l;
        scaled[l] = scaled[l] + scaled[s] - 1.0;
        if (scaled[l] < 1.0)
            small[ns++] = l;
        else
            large[nl++] = l;
    }
    while (nl) {
        uint32_t l = large[--nl];
        pop->alias_prob[l] = 1.0;
        pop->alias_idx[l] = l;
    }
    while (ns) {
        uint32_t s = small[--ns];
        pop->alias_prob[s] = 1.0;
        pop->alias_idx[s] = s;
    }
    free(scaled);
    free(small);
    free(large);
    return 0;
}

jp_sim_pop_t *jp_sim_pop_new(const jp_sim_pop_params_t *p, jp_rng_t *rng, char *errstr,
                             size_t errstr_size)
{
    jp_sim_pop_t *pop = calloc(1, sizeof(*pop));
    if (!pop) {
        snprintf(errstr, errstr_size, "out of memory");
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
        snprintf(errstr, errstr_size,
                 "%s: %zu postcodes in sectors of %zu need %zu sectors; its postcode format names "
                 "at most %zu",
                 p->country, pop->n_postcodes, pop->per_sector, sectors,
                 style_max_sectors[pop->style]);
        free(pop);
        return NULL;
    }
    size_t n = pop->n_postcodes;
    pop->sub_tickets = calloc(n, sizeof(int32_t));
    pop->extra = calloc(n, sizeof(int32_t));
    pop->fenwick = calloc(n + 1, sizeof(int32_t));
    pop->extra_touched = malloc(n * sizeof(uint32_t));
    pop->alias_prob = malloc(n * sizeof(double));
    pop->alias_idx = malloc(n * sizeof(uint32_t));
    double *w = malloc(n * sizeof(double));
    if (!pop->sub_tickets || !pop->extra || !pop->fenwick || !pop->extra_touched ||
        !pop->alias_prob || !pop->alias_idx || !w) {
        free(w);
        jp_sim_pop_free(pop);
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        w[i] = exp(p->density_sigma * jp_rng_normal(rng));
    int rc = build_alias(pop, w, n);
    free(w);
    if (rc != 0) {
        jp_sim_pop_free(pop);
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pop->pc_str = malloc(n * sizeof(*pop->pc_str));
    if (!pop->pc_str) {
        jp_sim_pop_free(pop);
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        jp_sim_pop_postcode_str(pop, (uint32_t)i, pop->pc_str[i], sizeof(pop->pc_str[i]));
    build_hazards(pop, p);
    return pop;
}

void jp_sim_pop_free(jp_sim_pop_t *pop)
{
    if (!pop)
        return;
    free(pop->sub_tickets);
    free(pop->extra);
    free(pop->fenwick);
    free(pop->extra_touched);
    free(pop->alias_prob);
    free(pop->alias_idx);
    free(pop->pc_str);
    free(pop->postcode);
    free(pop->tickets);
    free(pop->pf);
    free(pop->state);
    free(pop->tenure);
    free(pop->pos);
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
    int64_t before = (int64_t)pop->sub_tickets[pc] + pop->extra[pc];
    *counter += delta; /* counter is sub_tickets[pc] or extra[pc] */
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

long jp_sim_pop_add(jp_sim_pop_t *pop, uint32_t postcode, int tickets, int tenure)
{
    if (pop->n_subs == pop->cap_subs) {
        size_t cap = pop->cap_subs ? pop->cap_subs * 2 : 1024;
        if (cap > UINT32_MAX)
            return -1;
        if (grow((void **)&pop->postcode, 4, cap) || grow((void **)&pop->tickets, 1, cap) ||
            grow((void **)&pop->pf, 1, cap) || grow((void **)&pop->state, 1, cap) ||
            grow((void **)&pop->tenure, 2, cap) || grow((void **)&pop->pos, 4, cap) ||
            grow((void **)&pop->active, 4, cap) || grow((void **)&pop->cancelled, 4, cap))
            return -1;
        pop->cap_subs = cap;
    }
    if (tickets < 1)
        tickets = 1;
    if (tickets > JP_SIM_MAX_TICKETS)
        tickets = JP_SIM_MAX_TICKETS;
    uint32_t id = (uint32_t)pop->n_subs++;
    pop->postcode[id] = postcode;
    pop->tickets[id] = (uint8_t)tickets;
    pop->pf[id] = 0;
    pop->tenure[id] = (uint16_t)(tenure < 0 ? 0 : tenure > 65535 ? 65535 : tenure);
    pop->state[id] = JP_SIM_SUB_ACTIVE;
    pop->pos[id] = (uint32_t)pop->n_active;
    pop->active[pop->n_active++] = id;
    pop->bucket_count[bucket_of(pop, id)]++;
    postcode_add(pop, postcode, &pop->sub_tickets[postcode], tickets);
    return (long)id;
}

uint32_t jp_sim_pop_pick_postcode(const jp_sim_pop_t *pop, jp_rng_t *rng)
{
    uint32_t i = (uint32_t)jp_rng_below(rng, pop->n_postcodes);
    return jp_rng_uniform(rng) < pop->alias_prob[i] ? i : pop->alias_idx[i];
}

static void list_remove(uint32_t *list, size_t *n, uint32_t *pos, uint32_t id)
{
    uint32_t at = pos[id];
    uint32_t last = list[--*n];
    list[at] = last;
    pos[last] = at;
}

void jp_sim_pop_cancel(jp_sim_pop_t *pop, uint32_t id)
{
    if (pop->state[id] != JP_SIM_SUB_ACTIVE)
        return;
    pop->bucket_count[bucket_of(pop, id)]--;
    list_remove(pop->active, &pop->n_active, pop->pos, id);
    pop->state[id] = JP_SIM_SUB_CANCELLED;
    pop->pos[id] = (uint32_t)pop->n_cancelled;
    pop->cancelled[pop->n_cancelled++] = id;
    postcode_add(pop, pop->postcode[id], &pop->sub_tickets[pop->postcode[id]], -pop->tickets[id]);
}

void jp_sim_pop_reactivate(jp_sim_pop_t *pop, uint32_t id)
{
    if (pop->state[id] != JP_SIM_SUB_CANCELLED)
        return;
    list_remove(pop->cancelled, &pop->n_cancelled, pop->pos, id);
    pop->state[id] = JP_SIM_SUB_ACTIVE;
    pop->pf[id] = 0;
    pop->pos[id] = (uint32_t)pop->n_active;
    pop->active[pop->n_active++] = id;
    pop->bucket_count[bucket_of(pop, id)]++;
    postcode_add(pop, pop->postcode[id], &pop->sub_tickets[pop->postcode[id]], pop->tickets[id]);
}

/* Changes a field of an active subscriber that its hazard bucket depends on. */
#define REBUCKET(pop, id, stmt)                                                                    \
    do {                                                                                           \
        int active_ = (pop)->state[id] == JP_SIM_SUB_ACTIVE;                                       \
        if (active_)                                                                               \
            (pop)->bucket_count[bucket_of(pop, id)]--;                                             \
        stmt;                                                                                      \
        if (active_)                                                                               \
            (pop)->bucket_count[bucket_of(pop, id)]++;                                             \
    } while (0)

void jp_sim_pop_payment_failed(jp_sim_pop_t *pop, uint32_t id)
{
    if (pop->pf[id] < 255)
        REBUCKET(pop, id, pop->pf[id]++);
}

void jp_sim_pop_renewed(jp_sim_pop_t *pop, uint32_t id)
{
    if (pop->tenure[id] < 65535)
        REBUCKET(pop, id, pop->tenure[id]++);
}

void jp_sim_pop_set_tickets(jp_sim_pop_t *pop, uint32_t id, int tickets)
{
    if (tickets < 1)
        tickets = 1;
    if (tickets > JP_SIM_MAX_TICKETS)
        tickets = JP_SIM_MAX_TICKETS;
    int delta = tickets - pop->tickets[id];
    REBUCKET(pop, id, pop->tickets[id] = (uint8_t)tickets);
    if (pop->state[id] == JP_SIM_SUB_ACTIVE)
        postcode_add(pop, pop->postcode[id], &pop->sub_tickets[pop->postcode[id]], delta);
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
    if (pop->extra[postcode] == 0)
        pop->extra_touched[pop->n_extra_touched++] = postcode;
    postcode_add(pop, postcode, &pop->extra[postcode], tickets);
}

void jp_sim_pop_reset_extra(jp_sim_pop_t *pop)
{
    for (size_t i = 0; i < pop->n_extra_touched; i++) {
        uint32_t pc = pop->extra_touched[i];
        postcode_add(pop, pc, &pop->extra[pc], -pop->extra[pc]);
    }
    pop->n_extra_touched = 0;
}

const char *jp_sim_pop_postcode(const jp_sim_pop_t *pop, uint32_t postcode)
{
    return pop->pc_str[postcode];
}

int64_t jp_sim_pop_postcode_tickets(const jp_sim_pop_t *pop, uint32_t postcode)
{
    return (int64_t)pop->sub_tickets[postcode] + pop->extra[postcode];
}

int64_t jp_sim_pop_total_tickets(const jp_sim_pop_t *pop)
{
    int64_t s = 0;
    for (size_t i = 0; i < pop->n_postcodes; i++)
        s += (int64_t)pop->sub_tickets[i] + pop->extra[i];
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
