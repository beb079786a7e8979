/*
 * jp_cli: shared option parsing for every command. getopt_long's own
 * messages are silenced (opterr = 0) so that every usage error has the same
 * shape: one line naming the command and the offending option, then usage.
 */
#include "app/jp_cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const jp_command_t *jp_cli_find(const char *name)
{
    for (const jp_command_t *c = jp_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

int jp_cli_usage_error(const jp_command_t *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "jackpot %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", cmd->usage);
    return EX_USAGE;
}

int jp_cli_getopt(const jp_command_t *cmd, int argc, char **argv, const char *shortopts,
                  const struct option *longopts, int *exit_code)
{
    /* Room for the caller's options plus --help and the terminator. */
    struct option opts[64];
    char shorts[128];
    size_t n = 0;
    for (; longopts && longopts[n].name && n < 62; n++)
        opts[n] = longopts[n];
    opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    opts[n] = (struct option){0, 0, 0, 0};
    /* Leading ':' makes a missing argument return ':' rather than '?'. */
    snprintf(shorts, sizeof(shorts), ":%sh", shortopts ? shortopts : "");

    opterr = 0;
    int c = getopt_long(argc, argv, shorts, opts, NULL);
    switch (c) {
    case 'h':
        fputs(cmd->usage, stdout);
        *exit_code = 0;
        return JP_CLI_EXIT;
    case '?':
        if (optopt)
            *exit_code = jp_cli_usage_error(cmd, "unknown option '-%c'", optopt);
        else
            *exit_code = jp_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        return JP_CLI_EXIT;
    case ':':
        *exit_code = jp_cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
        return JP_CLI_EXIT;
    default:
        return c;
    }
}

int jp_cli_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}
