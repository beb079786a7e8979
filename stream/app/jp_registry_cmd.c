/*
 * `jackpot registry`: runs the embedded schema registry until SIGINT or
 * SIGTERM.
 *
 * Design. The command only wires the pieces together: open the store (its
 * recovery note, if any, becomes a warning), bind the server on a fresh
 * event_base, announce the URL on stdout once the socket is bound (so a
 * parent process using port 0 learns the real port from the first line),
 * then dispatch. Signals are event-loop signal events, so shutdown happens
 * between requests: the loop exits, the server and the store are closed
 * (every acknowledged write was already fsync'd) and the exit code is 0.
 */
#include "app/jp_commands.h"
#include "base/jp_listen.h"
#include "base/jp_log.h"
#include "registry/jp_registry_server.h"
#include "registry/jp_registry_store.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

const char jp_cmd_registry_usage[] =
    "usage: jackpot registry [--listen HOST:PORT] [--data DIR] [--verbose]\n"
    "\n"
    "Runs the embedded Confluent-compatible schema registry (Avro) until SIGINT\n"
    "or SIGTERM. Prints \"listening on http://HOST:PORT\" on stdout once bound.\n"
    "\n"
    "Options:\n"
    "  -l, --listen HOST:PORT  address to serve on (default 127.0.0.1:8081;\n"
    "                          port 0 picks a free port)\n"
    "  -d, --data DIR          directory of the persistent log (default\n"
    "                          ./registry-data; created if missing)\n"
    "  -v, --verbose           log one line per request on stderr\n"
    "  -h, --help              show this help\n"
    "\n"
    "Exit codes: 0 after a signal, 64 usage (also a malformed HOST:PORT),\n"
    "69 cannot listen, 73 cannot open or recover the data directory.\n";

static void on_signal(evutil_socket_t sig, short events, void *arg)
{
    (void)events;
    jp_log_info("registry", "received signal %d, shutting down", (int)sig);
    event_base_loopbreak(arg);
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
