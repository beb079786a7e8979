/*
 * jp_cli: the git-style command table and the option-parsing conventions
 * every command follows.
 *
 * Each command is one entry of jp_commands[] (stream/app/jp_main.c): a name, a
 * one-line summary for `jackpot help`, its full usage text for
 * `jackpot <command> --help`, and its entry point. Commands parse options
 * with jp_cli_getopt, which gives every command the same behaviour:
 * -h/--help prints the usage on stdout and exits 0; an unknown option or a
 * missing argument prints the problem and the usage on stderr and exits 64
 * (EX_USAGE). Exit codes follow sysexits.h.
 */
#ifndef JP_CLI_H
#define JP_CLI_H

#include <getopt.h>
#include <stdio.h>
#include <sysexits.h>

typedef struct jp_command_s jp_command_t;

struct jp_command_s {
    const char *name;    /* e.g. "registry" */
    const char *summary; /* one line, shown by `jackpot help` */
    const char *usage;   /* full help text, starts with "usage: jackpot ..." */
    /* argv[0] is the command name; returns the process exit code. */
    int (*main)(const jp_command_t *cmd, int argc, char **argv);
};

/* The command table, terminated by an entry whose name is NULL. */
extern const jp_command_t jp_commands[];

/* Prints the overview (usage line and the command list). */
void jp_cli_print_overview(FILE *out);

/* Looks a command up by name; NULL if unknown. */
const jp_command_t *jp_cli_find(const char *name);

/* Sentinel returned by jp_cli_getopt when the command must exit now with
 * *exit_code (help printed: 0; usage error: EX_USAGE). */
#define JP_CLI_EXIT (-2)

/*
 * getopt_long with the shared conventions. longopts need not list "help":
 * -h and --help are always recognised. Returns the option character (or
 * longopts' val), -1 at the end of options, or JP_CLI_EXIT.
 */
int jp_cli_getopt(const jp_command_t *cmd, int argc, char **argv, const char *shortopts,
                  const struct option *longopts, int *exit_code);

/* Prints "jackpot <command>: <message>" and the command's usage on stderr;
 * returns EX_USAGE. */
int jp_cli_usage_error(const jp_command_t *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses a whole decimal number within [min, max]; 0 on success, -1 otherwise. */
int jp_cli_parse_long(const char *s, long min, long max, long *out);

#endif
