/*
 * `jackpot evaluate`: reads every record of the recommendations topic
 * (jp_evaluation_read) and reports decision quality against a simulator
 * truth file (app/jp_evaluate.h). The rules come from the processor
 * configuration of the world the truth names (or --world).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/jp_commands.h"
#include "app/jp_evaluate.h"
#include "sim/jp_sim_world.h"

const char jp_cmd_evaluate_usage[] =
    "usage: jackpot evaluate --truth FILE [--brokers B] [--registry URL] [--world FILE]\n"
    "                        [--topic NAME] [--plot FILE.png] [-X key=value]...\n"
    "\n"
    "Judges the engine's recommendations against a simulator truth file\n"
    "(`jackpot simulate --truth`): for each decision, the oracle prize under the\n"
    "truth model and the same rules, the regret of the recommended prize (share\n"
    "of the oracle's value), exploration and its true cost, and the champion\n"
    "model's elasticity errors. Prints one table, then one line per country\n"
    "  regret CC <mean % over the second half of the decisions> decisions <n>\n"
    "and exits 0.\n"
    "\n"
    "Options:\n"
    "  -t, --truth FILE      the truth file (required)\n"
    "  -b, --brokers B       bootstrap servers (default: the world's processor config)\n"
    "  -r, --registry URL    schema registry (default: the world's processor config)\n"
    "  -w, --world FILE      the world file (default: the one the truth names)\n"
    "      --topic NAME      recommendations topic (default: the truth's)\n"
    "  -p, --plot FILE       write a PNG of recommended vs oracle prize (gnuplot)\n"
    "  -X key=value          librdkafka consumer property\n"
    "  -h, --help            show this help\n"
    "\n"
    "Exit codes: 0 done, 64 usage, 65 bad truth or records, 69 Kafka or registry\n"
    "unreachable, 78 world or configuration error.\n";

int jp_cmd_evaluate(const jp_command_t *cmd, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"truth", required_argument, NULL, 't'},
        {"brokers", required_argument, NULL, 'b'},
        {"registry", required_argument, NULL, 'r'},
        {"world", required_argument, NULL, 'w'},
        {"topic", required_argument, NULL, 'T'},
        {"plot", required_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };
    const char *truth_path = NULL, *brokers = NULL, *registry = NULL, *world_path = NULL;
    const char *topic = NULL, *plot = NULL;
    jp_conf_props_t xprops = {0};
    int code, c, rc = EX_SOFTWARE;
    while ((c = jp_cli_getopt(cmd, argc, argv, "t:b:r:w:T:p:X:", longopts, &code)) != -1) {
        switch (c) {
        case JP_CLI_EXIT:
            jp_conf_props_free(&xprops);
            return code;
        case 't':
            truth_path = optarg;
            break;
        case 'b':
            brokers = optarg;
            break;
        case 'r':
            registry = optarg;
            break;
        case 'w':
            world_path = optarg;
            break;
        case 'T':
            topic = optarg;
            break;
        case 'p':
            plot = optarg;
            break;
        case 'X':
            if (jp_config_add_xprop(&xprops, optarg) != 0) {
                jp_conf_props_free(&xprops);
                return jp_cli_usage_error(cmd, "-X needs key=value");
            }
            break;
        default:
            jp_conf_props_free(&xprops);
            return jp_cli_usage_error(cmd, "unexpected option");
        }
    }
    if (optind < argc || !truth_path) {
        jp_conf_props_free(&xprops);
        return optind < argc ? jp_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind])
                             : jp_cli_usage_error(cmd, "--truth is required");
    }
    char err[1024] = "";
    json_error_t je;
    json_t *truth = json_load_file(truth_path, 0, &je);
    jp_sim_world_t world;
    int world_loaded = 0;
    jp_evaluation_t *ev = jp_evaluation_new();
    if (!truth) {
        fprintf(stderr, "jackpot evaluate: %s:%d: %s\n", truth_path, je.line, je.text);
        rc = EX_DATAERR;
        goto out;
    }
    if (!world_path)
        world_path = json_string_value(json_object_get(truth, "world"));
    jp_conf_t cf;
    jp_conf_init(&cf, NULL);
    world_loaded = world_path && jp_sim_world_load(&cf, world_path, &world) == 0;
    if (!world_loaded) {
        for (size_t i = 0; i < cf.n_errors; i++)
            fprintf(stderr, "%s\n", cf.errors[i]);
        fprintf(stderr, "jackpot evaluate: cannot load the world %s (give it with --world)\n",
                world_path ? world_path : "(none named in the truth)");
        jp_conf_destroy(&cf);
        if (world_path)
            jp_sim_world_release(&world);
        rc = EX_CONFIG;
        goto out;
    }
    jp_conf_destroy(&cf);
    if (!topic)
        topic =
            json_string_value(json_object_get(json_object_get(truth, "topics"), "recommendations"));
    if (!topic)
        topic = world.config.topics.recommendations;
    if (!brokers)
        brokers = jp_config_kafka_get(&world.config, "bootstrap.servers");
    if (!registry)
        registry = world.config.schema_registry.url;
    long skipped = jp_evaluation_read(ev, brokers ? brokers : "127.0.0.1:9092", &xprops, topic,
                                      registry, err, sizeof(err));
    if (skipped < 0) {
        fprintf(stderr, "jackpot evaluate: %s\n", err);
        rc = EX_UNAVAILABLE;
        goto out;
    }
    if (jp_evaluation_report(ev, truth, &world.config, stdout, plot, err, sizeof(err)) != 0) {
        fprintf(stderr, "jackpot evaluate: %s\n", err);
        rc = EX_DATAERR;
        goto out;
    }
    if (skipped)
        fprintf(stderr, "jackpot evaluate: %ld records of %s did not decode and were skipped\n",
                skipped, topic);
    rc = 0;
out:
    jp_evaluation_free(ev);
    if (world_loaded)
        jp_sim_world_release(&world);
    json_decref(truth);
    jp_conf_props_free(&xprops);
    return rc;
}
