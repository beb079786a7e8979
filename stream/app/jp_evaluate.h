/*
 * jp_evaluate: decision quality of a run against the simulator's ground
 * truth, as `jackpot evaluate` prints it (docs/decisions.md).
 *
 * Recommendations are added as they are read (the last record of a
 * country and draw counts: outputs are at least once). The report solves
 * each decision's oracle (sim/jp_sim_oracle.h) and prints one table row per
 * decision - recommended and oracle prize, regret, exploration and its true
 * cost, the champion's elasticity errors - then one line per country
 *     regret CC <mean % over the second half> decisions <n>
 * where n counts the country's decisions (records) and the mean is over
 * the evaluable ones (their horizon inside the truth) of the later half in
 * decision time. With a plot path it writes a PNG (gnuplot) of recommended
 * vs oracle prize over time, one panel per country.
 */
#ifndef JP_EVALUATE_H
#define JP_EVALUATE_H

#include <jansson.h>
#include <stdio.h>

#include "config/jp_config.h"
#include "serde/jp_events.h"

typedef struct jp_evaluation_s jp_evaluation_t;

jp_evaluation_t *jp_evaluation_new(void);
void jp_evaluation_free(jp_evaluation_t *ev);

/* Adds (or replaces, same country and draw) a decoded recommendation.
 * 0, or -1 when out of memory. */
int jp_evaluation_add(jp_evaluation_t *ev, const jp_recommendation_t *r);
size_t jp_evaluation_count(const jp_evaluation_t *ev);

/* Reads every record of topic (all partitions, from the beginning to the
 * ends they have now; no consumer group) into ev, decoded with the schemas
 * of the registry at registry_url. Returns how many records did not decode
 * (skipped, the first one logged), or -1 with errstr. */
long jp_evaluation_read(jp_evaluation_t *ev, const char *brokers, const jp_conf_props_t *props,
                        const char *topic, const char *registry_url, char *errstr,
                        size_t errstr_size);

/* One country's summary after jp_evaluation_report. */
typedef struct jp_evaluation_summary_s {
    char country[3];
    size_t decisions;          /* records */
    size_t evaluated;          /* with their horizon in the truth */
    double regret_second_half; /* mean, as a fraction; NaN without evaluable decisions */
    double regret_mean;        /* over every evaluated decision */
    size_t explored, fallbacks, infeasible;
} jp_evaluation_summary_t;

/* Prints the table and the per-country lines to out; the plot when
 * plot_path is set (needs gnuplot). 0, or -1 with errstr. */
int jp_evaluation_report(jp_evaluation_t *ev, const json_t *truth, const jp_config_t *cfg,
                         FILE *out, const char *plot_path, char *errstr, size_t errstr_size);

/* After a report: its countries in code order. */
size_t jp_evaluation_summaries(const jp_evaluation_t *ev, const jp_evaluation_summary_t **out);

#endif
