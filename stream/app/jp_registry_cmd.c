/*
 * `jackpot registry`: runs the embedded schema registry until SIGINT or
 * SIGTERM; `jackpot registry export|import` move schemas between registries
 * (jp_registry_transfer) through their REST API.
 *
 * Design. The command only wires the pieces together: open the store (its
 * recovery note, if any, becomes a warning), bind the server on a fresh
 * event_base, announce the URL on stdout once the socket is bound (so a
 * parent process using port 0 learns the real port from the first line),
 * then dispatch. Signals are event-loop signal events, so shutdown happens
 * between requests: the loop exits, the server and the store are closed
 * (every acknowledged write was already fsync'd) and the exit code is 0.
 * Logging follows JACKPOT_LOG__LEVEL and JACKPOT_LOG__FORMAT, the variables
 * that override `log.level` and `log.format` for `jackpot run`, so one
 * deployment setting makes every process log alike.
 */
#include "app/jp_commands.h"
#include "base/jp_listen.h"
#include "base/jp_log.h"
#include "registry/jp_registry_server.h"
#include "registry/jp_registry_store.h"
#include "registry/jp_registry_transfer.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_URL "http://127.0.0.1:8081"

const char jp_cmd_registry_usage[] =
    "usage: jackpot registry [--listen HOST:PORT] [--data DIR] [--verbose]\n"
    "       jackpot registry export [--url URL] > FILE\n"
    "       jackpot registry import [--url URL] FILE\n"
    "\n"
    "Runs the embedded Confluent-compatible schema registry (Avro) until SIGINT\n"
    "or SIGTERM. Prints \"listening on http://HOST:PORT\" on stdout once bound.\n"
    "\n"
    "export writes every live subject version of the registry at URL (ids,\n"
    "versions, schemas, compatibility levels) as JSON on stdout; import registers\n"
    "such a file into the registry at URL with the same ids and versions, in\n"
    "IMPORT mode (which it sets and afterwards restores; the target must have no\n"
    "live subjects unless it is in IMPORT mode already). Either end may be\n"
    "Confluent Schema Registry, Karapace or jackpot registry.\n"
    "\n"
    "Options:\n"
    "  -l, --listen HOST:PORT  address to serve on (default 127.0.0.1:8081;\n"
    "                          port 0 picks a free port)\n"
    "  -d, --data DIR          directory of the persistent log (default\n"
    "                          ./registry-data; created if missing)\n"
    "  -v, --verbose           log one line per request on stderr\n"
    "  -u, --url URL           registry to export from or import into\n"
    "                          (default " DEFAULT_URL ")\n"
    "  -h, --help              show this help\n"
    "\n"
    "Environment: JACKPOT_LOG__LEVEL (debug, info, warn, error) and\n"
    "JACKPOT_LOG__FORMAT (text, json), as for jackpot run.\n"
    "\n"
    "Exit codes: 0 after a signal or a finished transfer, 64 usage (also a\n"
    "malformed HOST:PORT), 65 the file is not an export or the target refused\n"
    "it, 66 the file cannot be read, 69 cannot listen or reach the registry,\n"
    "73 cannot open or recover the data directory, 74 cannot write the export,\n"
    "78 bad JACKPOT_LOG__*.\n";

static void on_signal(evutil_socket_t sig, short events, void *arg)
{
    (void)events;
    jp_log_info("registry", "received signal %d, shutting down", (int)sig);
    event_base_loopbreak(arg);
}

/* JACKPOT_LOG__LEVEL / JACKPOT_LOG__FORMAT, validated like run's config. */
static int log_from_env(void)
{
    const char *level = getenv("JACKPOT_LOG__LEVEL"), *format = getenv("JACKPOT_LOG__FORMAT");
    jp_log_level_t l;
    jp_log_format_t f;
    if (level && jp_log_level_parse(level, &l)) {
        fprintf(stderr, "JACKPOT_LOG__LEVEL: must be one of debug, info, warn, error (got '%s')\n",
                level);
        return EX_CONFIG;
    }
    if (format && jp_log_format_parse(format, &f)) {
        fprintf(stderr, "JACKPOT_LOG__FORMAT: must be one of text, json (got '%s')\n", format);
        return EX_CONFIG;
    }
    if (level)
        jp_log_set_level(l);
    if (format)
        jp_log_set_format(f);
    return 0;
}

/* Exit code of a transfer result. */
static int transfer_exit(int rc)
{
    return rc == JP_TRANSFER_OK            ? 0
           : rc == JP_TRANSFER_UNAVAILABLE ? EX_UNAVAILABLE
           : rc == JP_TRANSFER_NO_INPUT    ? EX_NOINPUT
                                           : EX_DATAERR;
}

/* `export` and `import`: argv[0] is the subcommand. */
static int transfer(const jp_command_t *cmd, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},
        {NULL, 0, NULL, 0},
    };
    bool import = strcmp(argv[0], "import") == 0;
    const char *url = DEFAULT_URL;
    int code, c;
    optind = 1;
    while ((c = jp_cli_getopt(cmd, argc, argv, "u:", longopts, &code)) != -1) {
        if (c == JP_CLI_EXIT)
            return code;
        url = optarg;
    }
    if (import && optind != argc - 1)
        return jp_cli_usage_error(cmd, "import needs exactly one FILE");
    if (!import && optind < argc)
        return jp_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    char err[1024], *doc = NULL;
    signal(SIGPIPE, SIG_IGN);
    jp_registry_client_t *client = jp_registry_client_new(url, err, sizeof(err));
    if (!client)
        return jp_cli_usage_error(cmd, "--url: %s", err);
    jp_transfer_stats_t st;
    int rc = import ? jp_registry_import(client, argv[optind], &st, err, sizeof(err))
                    : jp_registry_export(client, &doc, &st, err, sizeof(err));
    jp_registry_client_free(client);
    if (rc == JP_TRANSFER_OK && !import && (fputs(doc, stdout) == EOF || fflush(stdout))) {
        jp_log_error("registry", "export: cannot write to stdout: %s", strerror(errno));
        free(doc);
        return EX_IOERR;
    }
    free(doc);
    if (rc != JP_TRANSFER_OK) {
        jp_log_error("registry", "%s: %s", argv[0], err);
        return transfer_exit(rc);
    }
    jp_log_info("registry", "%s: %zu versions of %zu subjects, %zu schema ids",
                import ? "imported" : "exported", st.versions, st.subjects, st.ids);
    return 0;
}

int jp_cmd_registry(const jp_command_t *cmd, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"data", required_argument, NULL, 'd'},
        {"verbose", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    const char *listen = "127.0.0.1:8081";
    const char *dir = "./registry-data";
    int code, c;
    if ((code = log_from_env()))
        return code;
    if (argc > 1 && (strcmp(argv[1], "export") == 0 || strcmp(argv[1], "import") == 0))
        return transfer(cmd, argc - 1, argv + 1);
    while ((c = jp_cli_getopt(cmd, argc, argv, "l:d:v", longopts, &code)) != -1) {
        switch (c) {
        case JP_CLI_EXIT:
            return code;
        case 'l':
            listen = optarg;
            break;
        case 'd':
            dir = optarg;
            break;
        case 'v':
            jp_log_set_level(JP_LOG_DEBUG);
            break;
        default:
            return jp_cli_usage_error(cmd, "unexpected option");
        }
    }
    if (optind < argc)
        return jp_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    char err[1024], host[256];
    int port;
    if (jp_listen_parse(listen, host, sizeof(host), &port, err, sizeof(err)))
        return jp_cli_usage_error(cmd, "%s", err);

    /* A client vanishing mid-reply must not kill the registry. */
    signal(SIGPIPE, SIG_IGN);

    jp_registry_store_t *store;
    if (jp_registry_store_open(dir, &store, err, sizeof(err))) {
        jp_log_error("registry", "%s", err);
        return EX_CANTCREAT;
    }
    const char *note = jp_registry_store_recovery_note(store);
    if (note)
        jp_log_warn("registry", "%s", note);

    int rc = EX_UNAVAILABLE;
    struct event_base *base = event_base_new();
    struct event *sigint = base ? evsignal_new(base, SIGINT, on_signal, base) : NULL;
    struct event *sigterm = base ? evsignal_new(base, SIGTERM, on_signal, base) : NULL;
    jp_registry_server_t *srv = NULL;
    if (!sigint || !sigterm || event_add(sigint, NULL) || event_add(sigterm, NULL)) {
        jp_log_error("registry", "cannot set up the event loop");
    } else if (!(srv = jp_registry_server_new(base, store, listen, err, sizeof(err)))) {
        jp_log_error("registry", "%s", err);
    } else {
        printf("listening on %s\n", jp_registry_server_url(srv));
        fflush(stdout);
        jp_log_info("registry", "serving %s from %s", jp_registry_server_url(srv), dir);
        rc = event_base_dispatch(base) < 0 ? EX_SOFTWARE : 0;
    }
    jp_registry_server_free(srv);
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    if (base)
        event_base_free(base);
    jp_registry_store_close(store);
    return rc;
}
