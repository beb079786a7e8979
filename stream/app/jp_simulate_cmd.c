/*
 * `jackpot simulate`: loads a world, runs it through jp_sim, produces the
 * records with jp_sim_produce (schemas registered in the given registry)
 * and writes the truth file after every record has been delivered, so the
 * fault records name their partition and offset.
 *
 * Progress (simulated date, records/s) goes to stderr only when stderr is a
 * terminal, at most a few times per second of wall time.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/jp_clock.h"
#include "app/jp_commands.h"
#include "config/jp_config.h"
#include "base/jp_log.h"
#include "registry/jp_registry_client.h"
#include "registry/jp_registry_serde.h"
#include "serde/jp_serde.h"
#include "sim/jp_sim.h"
#include "sim/jp_sim_produce.h"
#include "sim/jp_sim_world.h"

const char jp_cmd_simulate_usage[] =
    "usage: jackpot simulate --world FILE [--brokers B] [--registry URL] [--weeks N]\n"
    "                        [--speed X | --max] [--seed S] [--truth FILE] [--no-produce]\n"
    "                        [--loop-wait SECONDS] [-X key=value]...\n"
    "\n"
    "Simulates every country of the world file (configs/sim/*.yaml) with its ground\n"
    "truth and produces sales, customer and draw records, Avro in the Confluent wire\n"
    "format, keyed by country, to the topics of the processor configuration the world\n"
    "names. The same world and seed give byte-identical topic contents.\n"
    "\n"
    "Options:\n"
    "  -w, --world FILE      the world file (required)\n"
    "  -b, --brokers B       bootstrap servers (default: the processor config's)\n"
    "  -r, --registry URL    schema registry (default: the processor config's)\n"
    "  -n, --weeks N         simulated weeks (default: the world's)\n"
    "  -s, --speed X         X simulated seconds per wall second\n"
    "  -m, --max             as fast as possible (the default)\n"
    "  -S, --seed S          seed (default: the world's)\n"
    "  -t, --truth FILE      write the ground truth as JSON (docs/simulator.md)\n"
    "  -N, --no-produce      generate and encode only (no broker, no registry)\n"
    "  -L, --loop-wait S     closed loop (prize policy recommendations): how long to\n"
    "                        wait for a draw's recommendation (default 60; 0: never)\n"
    "  -X key=value          librdkafka producer property\n"
    "  -h, --help            show this help\n";

static volatile int sim_stop;

static void on_signal(int sig)
{
    (void)sig;
    sim_stop = 1;
}

typedef struct {
    double wall0, last;
    int64_t start_ms;
} progress_t;

static void on_progress(void *ctx, int64_t sim_ms, uint64_t records)
{
    progress_t *p = ctx;
    double t = jp_clock_now_s();
    if (t - p->last < 0.25)
        return;
    p->last = t;
    int y, m, d, h;
    jp_sim_civil_from_ms(sim_ms, &y, &m, &d, &h);
    double el = t - p->wall0;
    fprintf(stderr, "\r%04d-%02d-%02d %02d:00  %llu records  %.0f records/s   ", y, m, d, h,
            (unsigned long long)records, el > 0 ? (double)records / el : 0.0);
}

int jp_cmd_simulate(const jp_command_t *cmd, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"world", required_argument, NULL, 'w'},
        {"brokers", required_argument, NULL, 'b'},
        {"registry", required_argument, NULL, 'r'},
        {"weeks", required_argument, NULL, 'n'},
        {"speed", required_argument, NULL, 's'},
        {"max", no_argument, NULL, 'm'},
        {"seed", required_argument, NULL, 'S'},
        {"truth", required_argument, NULL, 't'},
        {"no-produce", no_argument, NULL, 'N'},
        {"loop-wait", required_argument, NULL, 'L'},
        {NULL, 0, NULL, 0},
    };
    const char *world_path = NULL, *brokers = NULL, *registry = NULL, *truth_path = NULL;
    jp_sim_options_t o;
    memset(&o, 0, sizeof(o));
    jp_conf_props_t xprops = {0};
    int no_produce = 0, have_speed = 0, have_max = 0, loop_wait_ms = 60000;
    int code, c;
    while ((c = jp_cli_getopt(cmd, argc, argv, "w:b:r:n:s:mS:t:NX:L:", longopts, &code)) != -1) {
        long v;
        char *end;
        switch (c) {
        case JP_CLI_EXIT:
            return code;
        case 'w':
            world_path = optarg;
            break;
        case 'b':
            brokers = optarg;
            break;
        case 'r':
            registry = optarg;
            break;
        case 'n':
            if (jp_cli_parse_long(optarg, 1, 1040, &v) != 0)
                return jp_cli_usage_error(cmd, "--weeks needs a number from 1 to 1040");
            o.weeks = v;
            break;
        case 's':
            o.speed = strtod(optarg, &end);
            if (end == optarg || *end || !(o.speed > 0))
                return jp_cli_usage_error(cmd, "--speed needs a positive number");
            have_speed = 1;
            break;
        case 'm':
            have_max = 1;
            break;
        case 'S': {
            errno = 0;
            unsigned long long s = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-')
                return jp_cli_usage_error(cmd, "--seed needs a non-negative whole number");
            o.seed = s;
            o.seed_set = 1;
            break;
        }
        case 't':
            truth_path = optarg;
            break;
        case 'N':
            no_produce = 1;
            break;
        case 'L':
            if (jp_cli_parse_long(optarg, 0, 3600, &v) != 0)
                return jp_cli_usage_error(cmd, "--loop-wait needs seconds from 0 to 3600");
            loop_wait_ms = (int)v * 1000;
            break;
        case 'X':
            if (jp_config_add_xprop(&xprops, optarg) != 0)
                return jp_cli_usage_error(cmd, "-X needs key=value");
            break;
        default:
            return jp_cli_usage_error(cmd, "unexpected option");
        }
    }
    int rc = EX_SOFTWARE;
    if (optind < argc) {
        rc = jp_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        goto props;
    }
    if (!world_path) {
        rc = jp_cli_usage_error(cmd, "--world is required");
        goto props;
    }
    if (have_speed && have_max) {
        rc = jp_cli_usage_error(cmd, "--speed and --max exclude each other");
        goto props;
    }

    jp_conf_t conf;
    jp_conf_init(&conf, NULL);
    jp_sim_world_t world;
    if (jp_sim_world_load(&conf, world_path, &world) != 0) {
        for (size_t i = 0; i < conf.n_errors; i++)
            fprintf(stderr, "%s\n", conf.errors[i]);
        jp_conf_destroy(&conf);
        jp_sim_world_release(&world);
        rc = EX_CONFIG;
        goto props;
    }
    jp_conf_destroy(&conf);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    char err[1024] = "";
    jp_registry_client_t *rc_sim = NULL;
    jp_sim_producer_t *prod = NULL;
    jp_sim_truth_t *truth =
        jp_sim_truth_new(&world, jp_sim_seed(&world, &o), jp_sim_weeks(&world, &o));
    if (!truth) {
        jp_log_error("simulate", "out of memory");
        goto out;
    }
    if (!no_produce) {
        if (!brokers)
            brokers = jp_config_kafka_get(&world.config, "bootstrap.servers");
        if (!registry)
            registry = world.config.schema_registry.url;
        rc_sim = jp_registry_client_new(registry, err, sizeof(err));
        if (!rc_sim) {
            jp_log_error("simulate", "registry %s: %s", registry, err);
            rc = EX_USAGE;
            goto out;
        }
        o.registry = jp_serde_registry_client(rc_sim);
        prod = jp_sim_producer_new(brokers, &world.config.kafka, &xprops, truth, err, sizeof(err));
        if (!prod) {
            jp_log_error("simulate", "%s", err);
            rc = EX_UNAVAILABLE;
            goto out;
        }
        o.output = jp_sim_producer_output(prod);

        if (jp_sim_producer_close_loop(prod, &world, registry, loop_wait_ms, &o, err,
                                       sizeof(err)) != 0)
            jp_log_warn("simulate", "closed loop unavailable (%s): prizes follow the schedule",
                        err);
    }

    progress_t prog = {jp_clock_now_s(), 0, world.start_ms};
    if (isatty(2)) {
        o.progress = on_progress;
        o.progress_ctx = &prog;
    }
    o.stop = &sim_stop;
    jp_sim_stats_t stats;
    int r = jp_sim_run(&world, &o, truth, &stats, err, sizeof(err));
    if (o.progress)
        fputc('\n', stderr);
    if (r != 0) {
        jp_log_error("simulate", "%s", err);
        rc = EX_SOFTWARE;
        goto out;
    }
    if (prod && jp_sim_producer_flush(prod, 120000, err, sizeof(err)) != 0) {
        jp_log_error("simulate", "%s", err);
        rc = EX_UNAVAILABLE;
        goto out;
    }
    if (truth_path && jp_sim_truth_write(truth, truth_path, err, sizeof(err)) != 0) {
        jp_log_error("simulate", "%s", err);
        rc = EX_CANTCREAT;
        goto out;
    }
    double el = jp_clock_now_s() - prog.wall0;
    unsigned long long nf = 0;
    for (int i = 0; i < JP_SIM_FAULT__COUNT; i++)
        nf += stats.faults[i];
    jp_log_info("simulate",
                "%llu records (%llu sales, %llu customer, %llu draws; %llu faults) in %.1f s: "
                "%.0f records/s",
                (unsigned long long)stats.records, (unsigned long long)stats.records_by_type[0],
                (unsigned long long)stats.records_by_type[1],
                (unsigned long long)stats.records_by_type[2], nf, el,
                el > 0 ? (double)stats.records / el : 0.0);
    rc = 0;
out:
    jp_sim_producer_free(prod);
    jp_registry_client_free(rc_sim);
    jp_sim_truth_free(truth);
    jp_sim_world_release(&world);
props:
    jp_conf_props_free(&xprops);
    return rc;
}
