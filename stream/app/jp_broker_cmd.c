/*
 * `jackpot broker`: runs the dev broker until SIGINT or SIGTERM. The
 * signals are blocked before any librdkafka thread starts (threads inherit
 * the mask) and then taken synchronously with sigwait, so shutdown always
 * happens on this thread, outside any signal handler. It logs through
 * jp_log with the configuration's `log.level` and `log.format` (and their
 * JACKPOT_LOG__* overrides), as `jackpot run` does.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev/jp_broker.h"
#include "app/jp_commands.h"
#include "base/jp_log.h"
#include "config/jp_config.h"

const char jp_cmd_broker_usage[] =
    "usage: jackpot broker [--brokers N] [--port P] [--config FILE]\n"
    "\n"
    "Starts the dev broker: librdkafka's mock Kafka cluster on 127.0.0.1, broker i\n"
    "listening on port P+i-1. Creates the topics of the configuration (inputs and\n"
    "their dead-letter topics with the configured partition count, outputs), prints\n"
    "the bootstrap servers on stdout and runs until SIGINT or SIGTERM. Any Kafka\n"
    "client (kcat, librdkafka, Java, Python) can connect.\n"
    "\n"
    "Limits: everything is in memory and lost on exit; each partition keeps about\n"
    "5 MB (older records are trimmed); offsets committed inside a transaction are\n"
    "not stored.\n"
    "\n"
    "Options:\n"
    "  -b, --brokers N     number of brokers (default 3, at most 16)\n"
    "  -p, --port P        port of the first broker (default 9092; 0: ephemeral)\n"
    "  -c, --config FILE   processor configuration naming the topics\n"
    "                      (default configs/jackpot.yaml)\n"
    "  -h, --help          show this help\n";

int jp_cmd_broker(const jp_command_t *cmd, int argc, char **argv)
{
    static const struct option longopts[] = {{"brokers", required_argument, NULL, 'b'},
                                             {"port", required_argument, NULL, 'p'},
                                             {"config", required_argument, NULL, 'c'},
                                             {NULL, 0, NULL, 0}};
    long n_brokers = 3, port = 9092;
    const char *config = "configs/jackpot.yaml";
    int code, c;
    while ((c = jp_cli_getopt(cmd, argc, argv, "b:p:c:", longopts, &code)) != -1) {
        switch (c) {
        case JP_CLI_EXIT:
            return code;
        case 'b':
            if (jp_cli_parse_long(optarg, 1, 16, &n_brokers) != 0)
                return jp_cli_usage_error(cmd, "--brokers needs a number from 1 to 16");
            break;
        case 'p':
            if (jp_cli_parse_long(optarg, 0, 65535, &port) != 0)
                return jp_cli_usage_error(cmd, "--port needs a port number (0-65535)");
            break;
        case 'c':
            config = optarg;
            break;
        }
    }
    if (optind < argc)
        return jp_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);

    jp_conf_t conf;
    jp_config_t cfg;
    jp_conf_init(&conf, "JACKPOT_");
    if (jp_config_load(&conf, config, NULL, &cfg) != 0) {
        for (size_t i = 0; i < conf.n_errors; i++)
            fprintf(stderr, "%s\n", conf.errors[i]);
        jp_config_release(&cfg);
        jp_conf_destroy(&conf);
        return EX_CONFIG;
    }
    jp_conf_destroy(&conf);
    jp_log_set_level((jp_log_level_t)cfg.log.level);
    jp_log_set_format((jp_log_format_t)cfg.log.format);

    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    char err[512];
    int rc = 0;
    jp_broker_t *b = jp_broker_start((int)n_brokers, (int)port, err, sizeof(err));
    if (!b) {
        jp_log_error("broker", "%s", err);
        jp_config_release(&cfg);
        return EX_UNAVAILABLE;
    }
    if (jp_broker_create_config_topics(b, &cfg, err, sizeof(err)) != 0) {
        jp_log_error("broker", "%s", err);
        rc = EX_SOFTWARE;
    } else {
        jp_log_info("broker",
                    "%ld broker(s) up; topics %s, %s, %s (+%s) with %lld partitions, outputs "
                    "with %lld; Ctrl-C stops",
                    n_brokers, cfg.topics.sales.name, cfg.topics.customers.name,
                    cfg.topics.draws.name, cfg.topics.dlq_suffix,
                    (long long)cfg.topics.sales.partitions,
                    (long long)cfg.topics.output_partitions);
        printf("%s\n", jp_broker_bootstraps(b));
        fflush(stdout);
        int sig;
        sigwait(&stop, &sig);
        jp_log_info("broker", "%s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    jp_broker_stop(b);
    jp_config_release(&cfg);
    return rc;
}
