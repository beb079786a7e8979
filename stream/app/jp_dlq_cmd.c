/*
 * `jackpot dlq show|replay`: the operator's way into the dead-letter
 * topics, whose values and original headers are encrypted (jp_dlq.h).
 * Both read the dead-letter topics of the configuration (or one --topic)
 * from their beginning to the end they had when the command started, and
 * open each record with the configured key (plus older keys given with
 * --key-file, after a rotation).
 *
 * show prints one JSON line per dead letter: where it came from, why it
 * was rejected, and the original key, value (base64) and headers.
 *
 * replay produces the original key, value and headers of the selected
 * dead letters back to their source topic and partition, unchanged, with
 * an idempotent producer: the engine then reads them like any record (and
 * drops a second replay of the same event by its event id). Truncated
 * dead letters are not replayed (they are not the original any more): the
 * summary counts them, and their source offset says where the original
 * is while the input retains it.
 */
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/jp_commands.h"
#include "app/jp_topic_reader.h"
#include "config/jp_config.h"
#include "config/jp_topics.h"
#include "engine/jp_dlq.h"

const char jp_cmd_dlq_usage[] =
    "usage: jackpot dlq show   [--config FILE] [--topic DLQ] [--class C] [--key-file F]...\n"
    "       jackpot dlq replay [--config FILE] [--topic DLQ] [--class C] [--partition P]\n"
    "                          [--from-offset N] [--to-offset N] [--dry-run] [--key-file F]...\n"
    "\n"
    "Reads the dead-letter topics (<input topic><topics.dlq_suffix>) from their\n"
    "beginning to their current end and opens each dead letter with the key of\n"
    "dead_letters.key_file. `show` prints one JSON line per dead letter: source topic,\n"
    "partition and offset, error class and message, and the original key, value\n"
    "(base64) and headers. `replay` produces the original bytes back to the source\n"
    "topic and partition; truncated dead letters are skipped and counted.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE     processor configuration (default configs/jackpot.yaml):\n"
    "                        brokers, topics and the dead-letter key\n"
    "  -t, --topic DLQ       only this dead-letter topic (default: all three)\n"
    "      --class C         only dead letters of this error class (e.g. LATE)\n"
    "  -p, --partition P     only dead letters of this source partition\n"
    "      --from-offset N   only source offsets >= N\n"
    "      --to-offset N     only source offsets <= N\n"
    "  -n, --dry-run         replay: count what would be replayed, produce nothing\n"
    "  -k, --key-file F      another key to try (64 hex digits), e.g. before a rotation\n"
    "      --timeout D       how long the brokers may take to answer (default 10s)\n"
    "  -X key=value          librdkafka property\n"
    "  -h, --help            show this help\n"
    "\n"
    "Exit codes: 0; 65 some dead letters could not be opened (wrong key, altered);\n"
    "66 no such topic; 69 brokers unreachable; 78 configuration error.\n";

#define MAX_KEYS 8

typedef struct {
    int replay, dry_run;
    const char *only_class;
    long partition;
    long long from, to;
    int timeout_ms;
    jp_dlq_key_t *owned[MAX_KEYS];
    const jp_dlq_key_t *keys[MAX_KEYS]; /* the same, as jp_dlq_open takes them */
    size_t n_keys;
    rd_kafka_t *producer;
    /* results */
    long shown, replayed, truncated, filtered, unreadable;
} dlq_ctx_t;

static json_t *b64_json(const uint8_t *p, size_t n, int is_null)
{
    if (is_null)
        return json_null();
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out)
        return json_null();
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    json_t *s = json_string(out);
    free(out);
    return s;
}

static void show(const rd_kafka_message_t *m, const jp_dlq_opened_t *o)
{
    json_t *line = json_object();
    json_object_set_new(line, "topic", json_string(rd_kafka_topic_name(m->rkt)));
    json_object_set_new(line, "partition", json_integer(m->partition));
    json_object_set_new(line, "offset", json_integer(m->offset));
    json_object_set_new(line, "error_class", json_string(o->error_class));
    json_object_set_new(line, "message", json_string(o->message));
    json_t *src = json_object();
    json_object_set_new(src, "topic", json_string(o->topic));
    json_object_set_new(src, "partition", json_integer(o->partition));
    json_object_set_new(src, "offset", json_integer(o->offset));
    json_object_set_new(src, "timestamp", json_integer(o->timestamp_ms));
    json_object_set_new(line, "source", src);
    if (*o->truncated)
        json_object_set_new(line, "truncated", json_string(o->truncated));
    if (o->has_envelope) {
        json_object_set_new(line, "key_b64", b64_json(o->key, o->key_len, o->key_null));
        json_object_set_new(line, "value_b64", b64_json(o->value, o->value_len, o->value_null));
        json_t *h = json_array();
        for (size_t i = 0; i < o->n_headers; i++) {
            json_t *pair = json_object();
            json_object_set_new(pair, "name", json_string(o->header_names[i]));
            json_object_set_new(
                pair, "value_b64",
                b64_json(o->header_values[i], o->header_lens[i], !o->header_values[i]));
            json_array_append_new(h, pair);
        }
        json_object_set_new(line, "headers", h);
    }
    jp_topic_reader_print(line);
}

static int replay_one(dlq_ctx_t *c, const jp_dlq_opened_t *o, char *errstr, size_t errstr_size)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(o->n_headers ? o->n_headers : 1);
    for (size_t i = 0; i < o->n_headers; i++)
        rd_kafka_header_add(h, o->header_names[i], -1, o->header_values[i],
                            o->header_values[i] ? (ssize_t)o->header_lens[i] : 0);
    /* librdkafka's RD_KAFKA_V_KEY/VALUE cast their argument without parentheses, so a
     * conditional expression must be evaluated first. */
    const void *key = o->key_null ? NULL : o->key;
    const void *value = o->value_null ? NULL : o->value;
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            c->producer, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_PARTITION(o->partition),
            RD_KAFKA_V_KEY(key, o->key_len), RD_KAFKA_V_VALUE((void *)value, o->value_len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (!err)
            return 0;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_headers_destroy(h);
            snprintf(errstr, errstr_size, "produce to %s [%d]: %s", o->topic, o->partition,
                     rd_kafka_err2str(err));
            return -1;
        }
        rd_kafka_poll(c->producer, 100);
    }
}

/* One dead letter: opened, filtered, shown or replayed. -1 stops. */
static int handle(dlq_ctx_t *c, const rd_kafka_message_t *m, char *errstr, size_t errstr_size)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    jp_dlq_opened_t o;
    char why[256];
    if (jp_dlq_open(c->keys, c->n_keys, m->payload, m->len, h, &o, why, sizeof(why)) != 0) {
        fprintf(stderr, "jackpot dlq: %s [%d] offset %lld: %s\n", rd_kafka_topic_name(m->rkt),
                m->partition, (long long)m->offset, why);
        c->unreadable++;
        return 0;
    }
    int rc = 0;
    if ((c->only_class && strcmp(c->only_class, o.error_class) != 0) ||
        (c->partition >= 0 && o.partition != c->partition) || o.offset < c->from ||
        o.offset > c->to) {
        c->filtered++;
    } else if (!c->replay) {
        show(m, &o);
        c->shown++;
    } else if (*o.truncated || !o.has_envelope) {
        c->truncated++;
    } else if (!c->dry_run && (rc = replay_one(c, &o, errstr, errstr_size)) != 0) {
        rc = -1;
    } else {
        c->replayed++;
    }
    jp_dlq_opened_free(&o);
    return rc;
}

/* Reads topic from its beginning to the end it has now. 0 or an exit code. */
static int read_topic(dlq_ctx_t *c, const jp_config_t *cfg, const jp_conf_props_t *x,
                      const char *topic)
{
    char err[512];
    rd_kafka_t *rk = jp_topic_reader_new("jackpot-dlq", NULL, &cfg->kafka, x, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "jackpot dlq: %s\n", err);
        return EX_CONFIG;
    }
    jp_topic_ends_t ends;
    int rc = jp_topic_reader_assign(rk, jp_config_kafka_get(cfg, "bootstrap.servers"), topic, 1,
                                    c->timeout_ms, &ends, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "jackpot dlq: %s\n", err);
        jp_topic_reader_free(rk);
        return rc;
    }
    int open = 0;
    for (int i = 0; i < ends.n; i++) {
        if (ends.hi[i] < 0) {
            fprintf(stderr, "jackpot dlq: cannot read the end of %s [%d]\n", topic,
                    ends.partition[i]);
            rc = EX_UNAVAILABLE;
        }
        open += ends.hi[i] > ends.lo[i];
    }
    for (int idle = 0; rc == 0 && open > 0;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) {
            if (++idle * 200 > c->timeout_ms) {
                fprintf(stderr, "jackpot dlq: %s: no record within %d ms\n", topic, c->timeout_ms);
                rc = EX_UNAVAILABLE;
            }
            continue;
        }
        idle = 0;
        int k = 0;
        while (k < ends.n && ends.partition[k] != m->partition)
            k++;
        if (!m->err && k < ends.n && m->offset < ends.hi[k]) {
            if (handle(c, m, err, sizeof(err)) != 0) {
                fprintf(stderr, "jackpot dlq: %s\n", err);
                rc = EX_UNAVAILABLE;
            }
            if (m->offset + 1 == ends.hi[k])
                open--;
        } else if (m->err) {
            fprintf(stderr, "jackpot dlq: %s\n", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    jp_topic_ends_free(&ends);
    jp_topic_reader_free(rk);
    return rc;
}

static rd_kafka_t *make_producer(const jp_config_t *cfg, const jp_conf_props_t *x, char *errstr,
                                 size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    static const char *const consumer_keys[] = {"group.id", "group.instance.id",
                                                "partition.assignment.strategy"};
    for (size_t i = 0; i < cfg->kafka.n; i++) {
        int skip = 0;
        for (size_t k = 0; k < sizeof(consumer_keys) / sizeof(consumer_keys[0]); k++)
            skip |= strcmp(cfg->kafka.keys[i], consumer_keys[k]) == 0;
        if (!skip && rd_kafka_conf_set(conf, cfg->kafka.keys[i], cfg->kafka.values[i], errstr,
                                       errstr_size) != RD_KAFKA_CONF_OK)
            goto fail;
    }
    if (rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, errstr_size) ||
        rd_kafka_conf_set(conf, "client.id", "jackpot-dlq-replay", errstr, errstr_size))
        goto fail;
    for (size_t i = 0; x && i < x->n; i++)
        if (rd_kafka_conf_set(conf, x->keys[i], x->values[i], errstr, errstr_size))
            goto fail;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
    if (rk)
        return rk;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static int add_key(dlq_ctx_t *c, const char *hex, const char *what)
{
    char err[256];
    if (c->n_keys == MAX_KEYS) {
        fprintf(stderr, "jackpot dlq: at most %d keys\n", MAX_KEYS);
        return -1;
    }
    jp_dlq_key_t *k = jp_dlq_key_new(hex, err, sizeof(err));
    if (!k) {
        fprintf(stderr, "jackpot dlq: %s: %s\n", what, err);
        return -1;
    }
    c->owned[c->n_keys] = k;
    c->keys[c->n_keys++] = k;
    return 0;
}

static int run(dlq_ctx_t *c, const jp_config_t *cfg, const jp_conf_props_t *x, const char *topic)
{
    char err[512];
    if (c->replay && !c->dry_run && !(c->producer = make_producer(cfg, x, err, sizeof(err)))) {
        fprintf(stderr, "jackpot dlq: %s\n", err);
        return EX_CONFIG;
    }
    int rc = 0;
    const char *inputs[] = {cfg->topics.sales.name, cfg->topics.customers.name,
                            cfg->topics.draws.name};
    for (size_t i = 0; rc == 0 && i < (topic ? 1 : 3); i++) {
        char dlq[512];
        if (!topic)
            jp_topics_dlq(cfg, inputs[i], dlq, sizeof(dlq));
        rc = read_topic(c, cfg, x, topic ? topic : dlq);
    }
    if (c->producer) {
        if (rd_kafka_flush(c->producer, c->timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "jackpot dlq: %d replayed records were not delivered\n",
                    rd_kafka_outq_len(c->producer));
            rc = rc ? rc : EX_UNAVAILABLE;
        }
        rd_kafka_destroy(c->producer);
    }
    if (c->replay)
        fprintf(stderr,
                "jackpot dlq: %s %ld dead letters, skipped %ld truncated, %ld filtered out, %ld "
                "unreadable\n",
                c->dry_run ? "would replay" : "replayed", c->replayed, c->truncated, c->filtered,
                c->unreadable);
    else
        fprintf(stderr, "jackpot dlq: %ld dead letters shown, %ld filtered out, %ld unreadable\n",
                c->shown, c->filtered, c->unreadable);
    return rc ? rc : c->unreadable ? EX_DATAERR : 0;
}

int jp_cmd_dlq(const jp_command_t *cmd, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},      {"topic", required_argument, NULL, 't'},
        {"class", required_argument, NULL, 'C'},       {"partition", required_argument, NULL, 'p'},
        {"from-offset", required_argument, NULL, 'F'}, {"to-offset", required_argument, NULL, 'T'},
        {"dry-run", no_argument, NULL, 'n'},           {"key-file", required_argument, NULL, 'k'},
        {"timeout", required_argument, NULL, 'W'},     {NULL, 0, NULL, 0}};
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            fputs(cmd->usage, stdout);
            return 0;
        }
        return jp_cli_usage_error(cmd, "missing subcommand (show or replay)");
    }
    dlq_ctx_t c = {0};
    c.partition = -1;
    c.from = 0;
    c.to = INT64_MAX;
    c.timeout_ms = 10000;
    if (strcmp(argv[1], "replay") == 0)
        c.replay = 1;
    else if (strcmp(argv[1], "show") != 0)
        return jp_cli_usage_error(cmd, "unknown subcommand '%s'", argv[1]);
    argc--;
    argv++;
    optind = 1;
    const char *path = "configs/jackpot.yaml", *topic = NULL, *key_files[MAX_KEYS];
    size_t n_key_files = 0;
    jp_conf_props_t x = {0};
    int code, opt, rc = 0;
    long v;
    int64_t ms;
    while ((opt = jp_cli_getopt(cmd, argc, argv, "c:t:p:nk:X:", longopts, &code)) != -1) {
        switch (opt) {
        case JP_CLI_EXIT:
            rc = code;
            goto out;
        case 'c':
            path = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'C':
            c.only_class = optarg;
            break;
        case 'p':
            if (jp_cli_parse_long(optarg, 0, 1 << 20, &c.partition) != 0) {
                rc = jp_cli_usage_error(cmd, "--partition needs a partition number");
                goto out;
            }
            break;
        case 'F':
        case 'T':
            if (jp_cli_parse_long(optarg, 0, INT64_MAX, &v) != 0) {
                rc = jp_cli_usage_error(cmd, "--%s-offset needs an offset",
                                        opt == 'F' ? "from" : "to");
                goto out;
            }
            *(opt == 'F' ? &c.from : &c.to) = v;
            break;
        case 'n':
            c.dry_run = 1;
            break;
        case 'k':
            if (n_key_files == MAX_KEYS - 1) {
                rc = jp_cli_usage_error(cmd, "at most %d --key-file", MAX_KEYS - 1);
                goto out;
            }
            key_files[n_key_files++] = optarg;
            break;
        case 'W':
            if (jp_conf_parse_duration(optarg, &ms) != 0 || ms <= 0 || ms > 3600000) {
                rc = jp_cli_usage_error(cmd, "--timeout needs a duration such as 10s");
                goto out;
            }
            c.timeout_ms = (int)ms;
            break;
        case 'X':
            if (jp_config_add_xprop(&x, optarg) != 0) {
                rc = jp_cli_usage_error(cmd, "-X needs key=value, got '%s'", optarg);
                goto out;
            }
            break;
        }
    }
    if (optind < argc) {
        rc = jp_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    jp_conf_t conf;
    jp_config_t cfg;
    jp_conf_init(&conf, "JACKPOT_");
    if (jp_config_load(&conf, path, &x, &cfg) != 0) {
        for (size_t i = 0; i < conf.n_errors; i++)
            fprintf(stderr, "%s\n", conf.errors[i]);
        rc = EX_CONFIG;
    } else if (!cfg.dead_letters.key.value) {
        fprintf(stderr, "jackpot dlq: %s sets no dead_letters.key_file\n", path);
        rc = EX_CONFIG;
    } else if (add_key(&c, cfg.dead_letters.key.value, "dead_letters.key_file") != 0) {
        rc = EX_CONFIG;
    }
    for (size_t i = 0; rc == 0 && i < n_key_files; i++) {
        char err[256];
        char *hex = jp_conf_read_secret(key_files[i], err, sizeof(err));
        if (!hex || add_key(&c, hex, key_files[i]) != 0) {
            if (!hex)
                fprintf(stderr, "jackpot dlq: %s\n", err);
            rc = EX_CONFIG;
        }
        free(hex);
    }
    if (rc == 0)
        rc = run(&c, &cfg, &x, topic);
    for (size_t i = 0; i < c.n_keys; i++)
        jp_dlq_key_free(c.owned[i]);
    jp_config_release(&cfg);
    jp_conf_destroy(&conf);
out:
    jp_conf_props_free(&x);
    return rc;
}
