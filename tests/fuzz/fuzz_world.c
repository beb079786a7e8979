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

static char world_path[512];

static void init(void)
{
    if (world_path[0])
        return;
    static const char *const links[] = {"jackpot.yaml", "configs/jackpot.yaml", NULL};
    jp_fuzz_configs_layout(links, "sim", "world.yaml", world_path, sizeof(world_path));
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
