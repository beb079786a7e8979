/*
 * jp_sim_memreg: a schema registry in memory, for running the simulator
 * without a registry process: generation-only runs, benchmarks of the
 * generator, and tests that decode what the simulator wrote through the
 * same jp_serde_registry_t.
 *
 * Contract: ids are handed out 1, 2, 3... in registration order; the same
 * schema text registered again under the same subject returns its id.
 * There are no compatibility checks. Not thread-safe.
 */
#ifndef JP_SIM_MEMREG_H
#define JP_SIM_MEMREG_H

#include "serde/jp_serde.h"

typedef struct jp_sim_memreg_s jp_sim_memreg_t;

jp_sim_memreg_t *jp_sim_memreg_new(void);
void jp_sim_memreg_free(jp_sim_memreg_t *r);

/* The registry as jp_serde sees it (ctx = r, which must outlive its users). */
jp_serde_registry_t jp_sim_memreg_registry(jp_sim_memreg_t *r);

#endif
