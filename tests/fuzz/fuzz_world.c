/*
 * Fuzz target: the simulator's world YAML (jp_sim_world_load): its own
 * fields, its checks between countries, faults and dates, and the
 * processor configuration it names.
 *
 * Input: the YAML text, written to sim/world.yaml in a scratch directory
 * laid out like configs/ (jackpot.yaml, countries/ and dev-secrets/ link to
 * the real ones), so `config: ../jackpot.yaml` in the seeds (configs/sim/,
 * tests/configs/sim/) resolves as in the repository.
 */
#include "jp_fuzz.h"

#include "config/jp_conf.h"
#include "sim/jp_sim_world.h"

#include <stdio.h>
#include <sys/stat.h>

static char world_path[512];

static void init(void)
{
    if (world_path[0])
        return;
    jp_fuzz_link("jackpot.yaml", "configs/jackpot.yaml");
    jp_fuzz_link("countries", "configs/countries");
    jp_fuzz_link("dev-secrets", "configs/dev-secrets");
    char dir[512];
    if (mkdir(jp_fuzz_path("sim", dir, sizeof(dir)), 0755) != 0)
        jp_fuzz_fail("cannot create %s", dir);
    jp_fuzz_path("sim/world.yaml", world_path, sizeof(world_path));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    jp_fuzz_write(world_path, data, size);
    jp_conf_t conf;
    jp_sim_world_t world;
    jp_conf_init(&conf, NULL);
    (void)jp_sim_world_load(&conf, world_path, &world);
    jp_fuzz_check_conf_errors(&conf);
    jp_sim_world_release(&world);
    jp_conf_destroy(&conf);
    return 0;
}
