/*
 * Fuzz target: configuration YAML - the processor file (jp_config_load,
 * which also loads the country files of its countries.dir and the secrets
 * it names) and a country file on its own (jp_country_load) - the
 * declarative decoder, the YAML layer, durations, secrets and every check
 * between fields, all of which must turn any input into errors, never into
 * a crash.
 *
 * Input: the YAML text, loaded both ways. It lives in a scratch directory
 * laid out like configs/ (countries/, dev-secrets/ and sim/ link to the
 * real ones), so the seed files (configs/jackpot.yaml, configs/countries/,
 * tests/configs/broken/) resolve their relative paths as they do in the
 * repository. Every error must carry a message.
 */
#include "jp_fuzz.h"

#include "config/jp_conf.h"
#include "config/jp_config.h"
#include "config/jp_country.h"

static char processor_path[512], country_path[512];

static void init(void)
{
    if (processor_path[0])
        return;
    static const char *const links[] = {"sim", "configs/sim", NULL};
    jp_fuzz_configs_layout(links, "fuzzed-countries", "gb.yaml", country_path,
                           sizeof(country_path));
    jp_fuzz_path("jackpot.yaml", processor_path, sizeof(processor_path));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    jp_fuzz_write(processor_path, data, size);
    jp_fuzz_write(country_path, data, size);

    jp_conf_t conf;
    jp_config_t cfg;
    jp_conf_init(&conf, NULL);
    (void)jp_config_load(&conf, processor_path, NULL, &cfg);
    jp_fuzz_check_conf_errors(&conf);
    jp_config_release(&cfg);
    jp_conf_destroy(&conf);

    jp_country_t country;
    jp_conf_init(&conf, NULL);
    (void)jp_country_load(&conf, country_path, &country);
    jp_fuzz_check_conf_errors(&conf);
    jp_country_release(&country);
    jp_conf_destroy(&conf);
    return 0;
}
