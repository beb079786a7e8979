/*
 * jp_sim_population-internal: the population's tables, for the generator
 * (jp_sim_gen.c) that walks and prefetches them directly in its batched
 * loops. Sim room only; everyone else uses jp_sim_population.h.
 */
#ifndef JP_SIM_POPULATION_INTERNAL_H
#define JP_SIM_POPULATION_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sim/jp_sim_population.h"

typedef struct jp_sim_postcode_count_s {
    int32_t sub_tickets; /* tickets of active subscriptions */
    int32_t extra;       /* extra tickets for the coming headline draw */
} jp_sim_postcode_count_t;

typedef struct jp_sim_alias_s {
    double prob;
    uint32_t idx;
} jp_sim_alias_t;

struct jp_sim_pop_s {
    char country[3];
    int style; /* postcode format */
    size_t n_postcodes, per_sector;
    jp_sim_postcode_count_t *count; /* per postcode */
    int32_t *fenwick;               /* 1-based, over participating (sub_tickets + extra > 0) */
    uint32_t *extra_touched;
    size_t n_extra_touched;
    size_t n_participating;
    jp_sim_alias_t *alias; /* per postcode */
    char (*pc_str)[8];     /* every postcode's string, formatted once */
    size_t pc_len;         /* their common length (fixed per format), 0 if they differ */

    /* subscribers, by id */
    size_t n_subs, cap_subs;
    jp_sim_sub_t *subs;
    uint32_t *active, *cancelled;
    size_t n_active, n_cancelled;

    double hazard[JP_SIM_HAZARD_BUCKETS]; /* daily, without the prize factor */
    int64_t bucket_count[JP_SIM_HAZARD_BUCKETS];
    double hazard_max;
};

/* The postcode jp_sim_pop_pick_postcode returns for the draws (i, u), for
 * callers that draw first and look up later (batched, with prefetching). */
static inline uint32_t jp_sim_pop_alias(const jp_sim_pop_t *pop, uint32_t i, double u)
{
    return u < pop->alias[i].prob ? i : pop->alias[i].idx;
}

#endif
