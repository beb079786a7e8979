/*
 * `jackpot evaluate`: reads every record of the recommendations topic (no
 * consumer group: every partition assigned from its beginning and read up
 * to the end it had when the command started) and reports decision quality
 * against a simulator truth file (app/jp_evaluate.h). The rules come from
 * the processor configuration of the world the truth names (or --world).
 */
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/jp_commands.h"
#include "app/jp_evaluate.h"
#include "base/jp_clock.h"
#include "base/jp_log.h"
#include "registry/jp_registry_client.h"
#include "registry/jp_registry_serde.h"
#include "serde/jp_serde.h"
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

typedef struct {
    jp_serde_t *serde;
    jp_avro_arena_t arena;
    jp_evaluation_t *ev;
    uint64_t undecodable;
} reader_t;

static int conf(rd_kafka_conf_t *c, const char *k, const char *v, char *err, size_t n)
{
    char e[256];
    if (rd_kafka_conf_set(c, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        snprintf(err, n, "kafka property %s: %s", k, e);
        return -1;
    }
    return 0;
}

static void take(reader_t *r, const rd_kafka_message_t *m)
{
    jp_recommendation_t rec;
    char err[256];
    jp_avro_arena_reset(&r->arena);
    if (jp_serde_decode(r->serde, JP_EVENT_RECOMMENDATION, m->payload, m->len, &rec, &r->arena, err,
                        sizeof(err)) != JP_SERDE_OK) {
        if (r->undecodable++ == 0)
            jp_log_warn("evaluate", "partition %d offset %lld does not decode: %s",
                        (int)m->partition, (long long)m->offset, err);
        return;
    }
    jp_evaluation_add(r->ev, &rec);
}

/* Reads topic from the beginning up to the ends it has now. */
static int read_topic(const char *brokers, const jp_conf_props_t *xprops, const char *topic,
                      reader_t *r, char *err, size_t n)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (conf(c, "bootstrap.servers", brokers, err, n) ||
        conf(c, "group.id", "jackpot-evaluate", err, n) ||
        conf(c, "enable.auto.commit", "false", err, n) ||
        conf(c, "enable.partition.eof", "false", err, n)) {
        rd_kafka_conf_destroy(c);
        return -1;
    }
    for (size_t i = 0; xprops && i < xprops->n; i++)
        if (conf(c, xprops->keys[i], xprops->values[i], err, n)) {
            rd_kafka_conf_destroy(c);
            return -1;
        }
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof(e));
    if (!rk) {
        rd_kafka_conf_destroy(c);
        snprintf(err, n, "cannot create the consumer: %s", e);
        return -1;
    }
    int rc = -1;
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t ke = rd_kafka_metadata(rk, 0, t, &md, 10000);
    rd_kafka_topic_destroy(t);
    rd_kafka_topic_partition_list_t *l = NULL;
    int64_t *end = NULL, *at = NULL;
    if (ke || md->topic_cnt != 1 || md->topics[0].err) {
        snprintf(err, n, "topic %s: %s", topic,
                 ke ? rd_kafka_err2str(ke)
                    : rd_kafka_err2str(md->topic_cnt ? md->topics[0].err
                                                     : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        goto out;
    }
    int np = md->topics[0].partition_cnt;
    l = rd_kafka_topic_partition_list_new(np);
    end = calloc((size_t)np + 1, sizeof(*end));
    at = calloc((size_t)np + 1, sizeof(*at));
    if (!end || !at)
        goto out;
    int64_t left = 0;
    for (int p = 0; p < np; p++) {
        int64_t lo, hi;
        ke = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
        if (ke) {
            snprintf(err, n, "topic %s partition %d: %s", topic, p, rd_kafka_err2str(ke));
            goto out;
        }
        end[p] = hi;
        at[p] = lo;
        left += hi - lo;
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    if ((ke = rd_kafka_assign(rk, l)) != 0) {
        snprintf(err, n, "assign %s: %s", topic, rd_kafka_err2str(ke));
        goto out;
    }
    double deadline = jp_clock_now_s() + 60.0;
    while (left > 0 && jp_clock_now_s() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (!m->err && m->partition >= 0 && m->partition < np && m->offset < end[m->partition]) {
            left -= m->offset + 1 - at[m->partition];
            at[m->partition] = m->offset + 1;
            take(r, m);
            deadline = jp_clock_now_s() + 60.0;
        }
        rd_kafka_message_destroy(m);
    }
    if (left > 0) {
        snprintf(err, n, "topic %s: %lld records could not be read within a minute", topic,
                 (long long)left);
        goto out;
    }
    rc = 0;
out:
    free(end);
    free(at);
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

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
    jp_registry_client_t *reg = NULL;
    reader_t r = {0};
    jp_avro_arena_init(&r.arena);
    r.ev = jp_evaluation_new();
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
    reg = jp_registry_client_new(registry, err, sizeof(err));
    jp_serde_config_t sc;
    memset(&sc, 0, sizeof(sc));
    if (reg)
        sc.registry = jp_serde_registry_client(reg);
    r.serde = reg ? jp_serde_new(&sc, err, sizeof(err)) : NULL;
    if (!r.serde || !r.ev) {
        fprintf(stderr, "jackpot evaluate: registry %s: %s\n", registry, err);
        rc = EX_UNAVAILABLE;
        goto out;
    }
    if (read_topic(brokers ? brokers : "127.0.0.1:9092", &xprops, topic, &r, err, sizeof(err)) !=
        0) {
        fprintf(stderr, "jackpot evaluate: %s\n", err);
        rc = EX_UNAVAILABLE;
        goto out;
    }
    if (jp_evaluation_report(r.ev, truth, &world.config, stdout, plot, err, sizeof(err)) != 0) {
        fprintf(stderr, "jackpot evaluate: %s\n", err);
        rc = EX_DATAERR;
        goto out;
    }
    if (r.undecodable)
        fprintf(stderr, "jackpot evaluate: %llu records of %s did not decode and were skipped\n",
                (unsigned long long)r.undecodable, topic);
    rc = 0;
out:
    jp_evaluation_free(r.ev);
    jp_serde_free(r.serde);
    jp_avro_arena_free(&r.arena);
    jp_registry_client_free(reg);
    if (world_loaded)
        jp_sim_world_release(&world);
    json_decref(truth);
    jp_conf_props_free(&xprops);
    return rc;
}
