/*
 * Simulator throughput with configs/sim/load.yaml (five countries, ~4.5M
 * subscribers, no faults), one simulated week per run (JP_BENCH_SIM_WEEKS
 * overrides):
 *   - generate: generation + Avro encoding + framing, records discarded;
 *   - produce: the same, produced to the in-process dev broker (librdkafka
 *     mock cluster) through jp_sim_produce, flushed.
 * "On one core" is the simulator's: the generating thread and the
 * producer's librdkafka threads are pinned to one core (CPU 0); the dev
 * broker (the librdkafka mock cluster, a separate server in real use:
 * `jackpot dev` or Kafka) is started from an unpinned thread, so its
 * threads may use the other cores. Threads inherit the affinity of the
 * thread that creates them, so each run unpins, starts the broker, then
 * pins before creating the producer. (Until session 3 the first run's pin
 * leaked into every later broker: the figure then included the broker.)
 * Schemas go to the in-memory registry (registration happens once per
 * topic, so the registry is not on the hot path). Target: >= 500k records/s.
 * Both rates run from the first record written to the last one generated
 * (produce: delivered, after the flush); the population build before the
 * first record is the startup_s row (until session 4 it was inside both
 * rates: ~0.45 s of a ~1.7 s generate run).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jp_bench.h"
#include "dev/jp_broker.h"
#include "sim/jp_sim.h"
#include "sim/jp_sim_memreg.h"
#include "sim/jp_sim_produce.h"

#define TARGET 500000.0

/* Notes the time of the first record, then hands each record on (or drops
 * it when generating only). Rates are taken from the first record: building
 * the population (~4.5M subscribers) is a start-up cost, reported as its own
 * row, as bench_engine leaves group join out of its rate. */
typedef struct {
    jp_sim_output_t next;
    double first;
} stamp_t;

static int stamp_write(void *ctx, const char *topic, const void *key, size_t key_len,
                       const void *value, size_t len, int64_t ts, long fault)
{
    stamp_t *s = ctx;
    if (s->first == 0.0)
        s->first = jp_bench_now();
    return s->next.write ? s->next.write(s->next.ctx, topic, key, key_len, value, len, ts, fault)
                         : 0;
}

/* Records per second from the first record to the end (flushed); *startup_s
 * gets the time before the first record. */
static double run(const jp_sim_world_t *w, int64_t weeks, int produce, uint64_t *records,
                  double *startup_s)
{
    char err[1024];
    jp_broker_t *b = NULL;
    jp_sim_producer_t *prod = NULL;
    jp_sim_memreg_t *reg = jp_sim_memreg_new();
    jp_sim_options_t o;
    memset(&o, 0, sizeof(o));
    o.weeks = weeks;
    o.registry = jp_sim_memreg_registry(reg);
    if (produce) {
        jp_bench_unpin();
        b = jp_broker_start(1, 0, err, sizeof(err));
        if (!b || jp_broker_create_config_topics(b, &w->config, err, sizeof(err)) != 0) {
            fprintf(stderr, "broker: %s\n", err);
            exit(1);
        }
        jp_bench_pin_one_core(); /* the producer's threads share the generator's core */
        prod = jp_sim_producer_new(jp_broker_bootstraps(b), NULL, NULL, NULL, err, sizeof(err));
        if (!prod) {
            fprintf(stderr, "producer: %s\n", err);
            exit(1);
        }
    }
    stamp_t stamp = {prod ? jp_sim_producer_output(prod) : (jp_sim_output_t){NULL, NULL}, 0.0};
    o.output = (jp_sim_output_t){&stamp, stamp_write};
    jp_bench_pin_one_core();
    jp_sim_stats_t stats;
    double t0 = jp_bench_now();
    if (jp_sim_run(w, &o, NULL, &stats, err, sizeof(err)) != 0 ||
        (prod && jp_sim_producer_flush(prod, 300000, err, sizeof(err)) != 0)) {
        fprintf(stderr, "simulate: %s\n", err);
        exit(1);
    }
    double end = jp_bench_now();
    *records = stats.records;
    *startup_s = stamp.first - t0;
    jp_sim_producer_free(prod);
    if (b)
        jp_broker_stop(b);
    jp_sim_memreg_free(reg);
    return (double)stats.records / (end - stamp.first);
}

int main(void)
{
    const char *src = getenv("JACKPOT_SRC");
    char path[1024];
    snprintf(path, sizeof(path), "%s/configs/sim/load.yaml", src ? src : ".");
    jp_conf_t c;
    jp_conf_init(&c, NULL);
    jp_sim_world_t w;
    if (jp_sim_world_load(&c, path, &w) != 0) {
        for (size_t i = 0; i < c.n_errors; i++)
            fprintf(stderr, "%s\n", c.errors[i]);
        return 1;
    }
    jp_conf_destroy(&c);
    const char *wk = getenv("JP_BENCH_SIM_WEEKS");
    int64_t weeks = wk ? atoll(wk) : 1;
    int n = jp_bench_runs();
    double *gen = calloc((size_t)n, sizeof(double)), *prod = calloc((size_t)n, sizeof(double));
    double *startup = calloc(2 * (size_t)n, sizeof(double));
    if (!gen || !prod || !startup)
        return 1;
    uint64_t records = 0;
    for (int i = 0; i < n; i++) {
        gen[i] = run(&w, weeks, 0, &records, &startup[2 * i]);
        prod[i] = run(&w, weeks, 1, &records, &startup[2 * i + 1]);
    }
    char note[128], target[64];
    snprintf(target, sizeof(target), ">= %.0f", TARGET);
    double g = jp_bench_median(gen, (size_t)n), p = jp_bench_median(prod, (size_t)n);
    snprintf(note, sizeof(note), "load.yaml, %lld week(s), %llu records, %.2fx target",
             (long long)weeks, (unsigned long long)records, g / TARGET);
    jp_bench_row("simulate", "generate_records_per_s", g, "records/s", target, note);
    snprintf(note, sizeof(note), "to the dev broker, idempotent, %.2fx target", p / TARGET);
    jp_bench_row("simulate", "produce_records_per_s", p, "records/s", target, note);
    jp_bench_row("simulate", "startup_s", jp_bench_median(startup, 2 * (size_t)n), "s", NULL,
                 "before the first record: population and postcodes of every country");
    free(startup);
    free(gen);
    free(prod);
    jp_sim_world_release(&w);
    return 0;
}
