/*
 * jackpot: the one binary. Git-style dispatch over the command table in
 * jp_commands.c; every command owns its options (see jp_cli.h).
 */
#include "app/jp_cli.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        jp_cli_print_overview(stderr);
        return EX_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        jp_cli_print_overview(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0)
        name = "version";
    const jp_command_t *cmd = jp_cli_find(name);
    if (!cmd) {
        fprintf(stderr, "jackpot: unknown command '%s'\n\n", name);
        jp_cli_print_overview(stderr);
        return EX_USAGE;
    }
    /* The command sees itself as argv[0]; getopt restarts from index 1. */
    optind = 1;
    return cmd->main(cmd, argc - 1, argv + 1);
}
