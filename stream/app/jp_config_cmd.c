/*
 * `jackpot config check`: loads the processor file and every country it
 * refers to and either prints a summary (exit 0) or every error found
 * (exit 78, EX_CONFIG). It shares jp_config_load with the engine, so what
 * it accepts is exactly what `jackpot run` accepts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/jp_commands.h"
#include "config/jp_config.h"

const char jp_cmd_config_usage[] =
    "usage: jackpot config check [--config FILE] [-X key=value]...\n"
    "       jackpot config reference\n"
    "\n"
    "Loads and validates the processor configuration and every country\n"
    "configuration it refers to. Prints a summary and exits 0, or lists every\n"
    "error as file:line:column: key: message and exits 78.\n"
    "\n"
    "`config reference` prints every key of the processor and country files\n"
    "(type, default, range, meaning) as Markdown: docs/configuration.md.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   processor configuration (default configs/jackpot.yaml)\n"
    "  -X key=value        librdkafka property, overrides the kafka: map\n"
    "  -h, --help          show this help\n"
    "\n"
    "Environment overrides: JACKPOT_<SECTION>__<KEY>, e.g. JACKPOT_STATE__DIR=/data,\n"
    "JACKPOT_KAFKA__BOOTSTRAP_SERVERS=broker:9092.\n";

int jp_cmd_config(const jp_command_t *cmd, int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {NULL, 0, NULL, 0}};
    const char *path = "configs/jackpot.yaml";
    jp_conf_props_t xprops = {0};
    int code, c, rc = 0;

    if (argc < 2 || argv[1][0] == '-') {
        /* Only `--help` may come before the subcommand. */
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            fputs(cmd->usage, stdout);
            return 0;
        }
        return jp_cli_usage_error(cmd, "missing subcommand (check or reference)");
    }
    if (strcmp(argv[1], "reference") == 0) {
        if (argc > 2)
            return jp_cli_usage_error(cmd, "unexpected argument '%s'", argv[2]);
        jp_config_print_reference(stdout);
        return 0;
    }
    if (strcmp(argv[1], "check") != 0)
        return jp_cli_usage_error(cmd, "unknown subcommand '%s'", argv[1]);
    argc--;
    argv++;
    optind = 1;
    while ((c = jp_cli_getopt(cmd, argc, argv, "c:X:", longopts, &code)) != -1) {
        if (c == JP_CLI_EXIT) {
            rc = code;
            goto out;
        }
        if (c == 'c') {
            path = optarg;
        } else if (c == 'X' && jp_config_add_xprop(&xprops, optarg) != 0) {
            rc = jp_cli_usage_error(cmd, "-X needs key=value, got '%s'", optarg);
            goto out;
        }
    }
    if (optind < argc) {
        rc = jp_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        goto out;
    }

    jp_conf_t conf;
    jp_config_t cfg;
    jp_conf_init(&conf, "JACKPOT_");
    if (jp_config_load(&conf, path, &xprops, &cfg) == 0) {
        jp_config_print_summary(&cfg, stdout);
    } else {
        for (size_t i = 0; i < conf.n_errors; i++)
            fprintf(stderr, "%s\n", conf.errors[i]);
        fprintf(stderr, "jackpot config check: %zu error%s\n", conf.n_errors,
                conf.n_errors == 1 ? "" : "s");
        rc = EX_CONFIG;
    }
    jp_config_release(&cfg);
    jp_conf_destroy(&conf);
out:
    jp_conf_props_free(&xprops);
    return rc;
}
