/*
 * The command table: every `jackpot` command is one row here, and the two
 * commands that are about the binary itself (help, version) live here too.
 * Adding a command means adding its module and one row.
 */
#include "app/jp_commands.h"

#include <stdio.h>
#include <string.h>

#include "base/jp_version.h"

static int cmd_help(const jp_command_t *cmd, int argc, char **argv);
static int cmd_version(const jp_command_t *cmd, int argc, char **argv);

static const char help_usage[] = "usage: jackpot help [COMMAND]\n"
                                 "\n"
                                 "Lists the commands, or shows the help of one.\n";
static const char version_usage[] =
    "usage: jackpot version\n"
    "\n"
    "Prints the version, the git commit it was built from, and the\n"
    "versions of the libraries actually linked.\n";

const jp_command_t jp_commands[] = {
    {"help", "list the commands, or show one command's help", help_usage, cmd_help},
    {"version", "print version, commit and linked library versions", version_usage, cmd_version},
    {"config", "check the processor and country configuration", jp_cmd_config_usage, jp_cmd_config},
    {"registry", "run the embedded Confluent-compatible schema registry", jp_cmd_registry_usage,
     jp_cmd_registry},
    {"broker", "run the dev Kafka broker (librdkafka mock cluster) on loopback",
     jp_cmd_broker_usage, jp_cmd_broker},
    {"tail", "print a topic's records as JSON lines, decoded with their schemas", jp_cmd_tail_usage,
     jp_cmd_tail},
    {"simulate", "generate a lottery world's events with known ground truth", jp_cmd_simulate_usage,
     jp_cmd_simulate},
    {"run", "run the stream processor (consumer group, state, windows, admin HTTP)",
     jp_cmd_run_usage, jp_cmd_run},
    {"dev", "run broker, registry, simulator and processor together (the demo)", jp_cmd_dev_usage,
     jp_cmd_dev},
    {"evaluate", "judge recommendations against a simulator truth file (regret, oracle)",
     jp_cmd_evaluate_usage, jp_cmd_evaluate},
    {"dlq", "show or replay dead letters (decrypted with the dead-letter key)", jp_cmd_dlq_usage,
     jp_cmd_dlq},
    {"models", "list, show, compare, promote and roll back model versions", jp_cmd_models_usage,
     jp_cmd_models},
    {NULL, NULL, NULL, NULL},
};

void jp_cli_print_overview(FILE *out)
{
    fputs("usage: jackpot <command> [options]\n"
          "\n"
          "jackpot-stream: a streaming MLOps engine for postcode lotteries.\n"
          "\n"
          "Commands:\n",
          out);
    for (const jp_command_t *c = jp_commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fputs("\nRun 'jackpot <command> --help' for a command's options.\n", out);
}

static int cmd_help(const jp_command_t *cmd, int argc, char **argv)
{
    int code;
    int c;
    while ((c = jp_cli_getopt(cmd, argc, argv, "", NULL, &code)) != -1)
        if (c == JP_CLI_EXIT)
            return code;
    if (optind >= argc) {
        jp_cli_print_overview(stdout);
        return 0;
    }
    const jp_command_t *target = jp_cli_find(argv[optind]);
    if (!target)
        return jp_cli_usage_error(cmd, "unknown command '%s'", argv[optind]);
    fputs(target->usage, stdout);
    return 0;
}

static int cmd_version(const jp_command_t *cmd, int argc, char **argv)
{
    int code;
    int c;
    while ((c = jp_cli_getopt(cmd, argc, argv, "", NULL, &code)) != -1)
        if (c == JP_CLI_EXIT)
            return code;
    if (optind < argc)
        return jp_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    jp_version_print(stdout);
    return 0;
}
