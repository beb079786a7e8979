/*
 * jp_sim: runs a world - every country's generator hour by hour, in the
 * world's country order - and turns each event into a record: scheduled
 * changes and silences applied, faults injected, encoded in the Confluent
 * wire format (schemas registered through jp_serde under "<topic>-value";
 * the bytes are jp_serde's, written by jp_sim_encode), keyed by country,
 * and handed to an output (the Kafka producer, a test capture, or nothing
 * for generation-only runs).
 *
 * Determinism: the records, their order and their content depend only on
 * the world, the seed and the weeks - never on wall time; --speed only
 * paces the loop. Fault injection uses its own random stream per country,
 * so changing fault rates never changes the generated events.
 */
#ifndef JP_SIM_H
#define JP_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "serde/jp_serde.h"
#include "sim/jp_sim_gen.h"
#include "sim/jp_sim_truth.h"
#include "sim/jp_sim_world.h"

/* Where records go. fault is the truth index of the injected fault the
 * record carries, -1 if none (for delivery reports). 0, or -1 to stop. */
typedef struct jp_sim_output_s {
    void *ctx;
    int (*write)(void *ctx, const char *topic, const void *key, size_t key_len, const void *value,
                 size_t len, int64_t timestamp_ms, long fault);
} jp_sim_output_t;

typedef struct jp_sim_options_s {
    int64_t weeks; /* 0: the world's */
    uint64_t seed; /* used when seed_set */
    int seed_set;
    double speed; /* simulated seconds per wall second; 0: as fast as possible */
    /* The registry the records' schemas are registered in; functions NULL:
     * an in-memory registry private to the run. */
    jp_serde_registry_t registry;
    jp_sim_output_t output;       /* write NULL: encode but write nothing */
    int skip_encoding;            /* generation only, no serde at all */
    jp_sim_prize_lookup_t lookup; /* closed loop (policy: recommendations) */
    void *lookup_ctx;
    /* Called once per simulated hour (may be NULL). */
    void (*progress)(void *ctx, int64_t sim_ms, uint64_t records);
    void *progress_ctx;
    volatile int *stop; /* set to non-zero to stop after the current hour */
} jp_sim_options_t;

typedef struct jp_sim_stats_s {
    uint64_t events;             /* generated */
    uint64_t records;            /* written (duplicates count twice, silenced ones not at all) */
    uint64_t records_by_type[3]; /* sales, customers, draws */
    uint64_t faults[JP_SIM_FAULT__COUNT];
    int64_t end_ms; /* simulated time reached */
} jp_sim_stats_t;

/* Runs the world. truth and stats may be NULL. 0, or -1 with errstr. */
int jp_sim_run(const jp_sim_world_t *w, const jp_sim_options_t *o, jp_sim_truth_t *truth,
               jp_sim_stats_t *stats, char *errstr, size_t errstr_size);

/* The seed a run uses: the option when set, else the world's. */
uint64_t jp_sim_seed(const jp_sim_world_t *w, const jp_sim_options_t *o);
int64_t jp_sim_weeks(const jp_sim_world_t *w, const jp_sim_options_t *o);

#endif
