/*
 * `jackpot tail`: prints a topic's records as JSON lines, like Confluent's
 * kafka-avro-console-consumer. Any topic, not only the engine's inputs:
 * each record is decoded with its own writer schema (looked up by id,
 * cached) through avro-c's generic reader, so no reader schema is needed;
 * the Confluent frame is split by the same jp_serde_frame_parse the engine
 * uses. A record that does not decode prints its error class and reason
 * instead of a value, and tail goes on.
 *
 * It assigns every partition itself (no consumer group, nothing committed),
 * so tailing never disturbs the engine's group.
 */
#include <avro.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/jp_commands.h"
#include "model/base/jp_err.h"
#include "config/jp_config.h"
#include "registry/jp_registry_client.h"
#include "serde/jp_serde.h"

const char jp_cmd_tail_usage[] =
    "usage: jackpot tail TOPIC [--brokers B] [--registry URL] [--from-beginning]\n"
    "                    [--count N] [-X key=value]...\n"
    "\n"
    "Consumes TOPIC and prints each record as one JSON line: topic, partition,\n"
    "offset, key (a plain or an Avro-framed string key as its text), schema id and\n"
    "the value decoded with its writer schema. A record that cannot be decoded\n"
    "prints \"error\" (NOT_FRAMED, UNKNOWN_SCHEMA_ID, REGISTRY_UNAVAILABLE,\n"
    "MALFORMED) and \"reason\" instead. No consumer group is joined and nothing is\n"
    "committed. Exits 0 after N records or on Ctrl-C.\n"
    "\n"
    "Options:\n"
    "  -b, --brokers B        bootstrap servers (default 127.0.0.1:9092)\n"
    "  -r, --registry URL     schema registry (default http://127.0.0.1:8081)\n"
    "  -f, --from-beginning   start at the oldest record (default: only new ones)\n"
    "  -n, --count N          exit after N records\n"
    "  -X key=value           librdkafka consumer property\n"
    "  -h, --help             show this help\n";

static volatile sig_atomic_t tail_stop;

static void on_signal(int sig)
{
    (void)sig;
    tail_stop = 1;
}

typedef struct {
    int32_t id;
    avro_schema_t schema;
    avro_value_iface_t *iface;
} writer_t;

typedef struct {
    jp_registry_client_t *registry;
    writer_t *writers;
    size_t n_writers;
} tail_t;

/* The decoder for a schema id, fetched once. NULL with the error class. */
static writer_t *writer_for(tail_t *t, int32_t id, jp_serde_err_t *err, char *errstr,
                            size_t errstr_size)
{
    for (size_t i = 0; i < t->n_writers; i++)
        if (t->writers[i].id == id)
            return &t->writers[i];
    char *json = NULL;
    int r = jp_registry_client_get_schema(t->registry, id, &json, errstr, errstr_size);
    if (r != JP_REGISTRY_OK) {
        *err =
            r == JP_REGISTRY_NOT_FOUND ? JP_SERDE_UNKNOWN_SCHEMA_ID : JP_SERDE_REGISTRY_UNAVAILABLE;
        return NULL;
    }
    avro_schema_t schema;
    if (avro_schema_from_json_length(json, strlen(json), &schema) != 0) {
        jp_err_set(errstr, errstr_size, "schema %d: %s", id, avro_strerror());
        free(json);
        *err = JP_SERDE_INVALID;
        return NULL;
    }
    free(json);
    writer_t *w = realloc(t->writers, (t->n_writers + 1) * sizeof(*w));
    if (!w) {
        avro_schema_decref(schema);
        *err = JP_SERDE_NO_MEMORY;
        return NULL;
    }
    t->writers = w;
    w = &t->writers[t->n_writers++];
    w->id = id;
    w->schema = schema;
    w->iface = avro_generic_class_from_schema(schema);
    return w;
}

/* Decodes one framed value into a JSON value, or NULL with the reason. */
static json_t *decode(tail_t *t, const void *buf, size_t len, int32_t *id, jp_serde_err_t *err,
                      char *errstr, size_t errstr_size)
{
    const unsigned char *payload;
    size_t payload_len;
    *err = jp_serde_frame_parse(buf, len, id, &payload, &payload_len);
    if (*err != JP_SERDE_OK) {
        jp_err_set(errstr, errstr_size, "%zu bytes without the Confluent frame (magic byte 0)",
                   len);
        return NULL;
    }
    writer_t *w = writer_for(t, *id, err, errstr, errstr_size);
    if (!w)
        return NULL;
    avro_value_t value;
    avro_generic_value_new(w->iface, &value);
    avro_reader_t reader = avro_reader_memory((const char *)payload, (int64_t)payload_len);
    json_t *out = NULL;
    char *text = NULL;
    if (avro_value_read(reader, &value) != 0) {
        *err = JP_SERDE_MALFORMED;
        jp_err_set(errstr, errstr_size, "%s", avro_strerror());
    } else if (avro_value_to_json(&value, 1, &text) != 0 ||
               !(out = json_loads(text, JSON_DECODE_ANY, NULL))) {
        *err = JP_SERDE_MALFORMED;
        jp_err_set(errstr, errstr_size, "cannot render as JSON: %s", avro_strerror());
    }
    free(text);
    avro_reader_free(reader);
    avro_value_decref(&value);
    return out;
}

static json_t *key_json(const rd_kafka_message_t *m)
{
    if (!m->key)
        return json_null();
    /* A plain string key, or an Avro string in the Confluent frame. */
    const void *key;
    size_t len;
    jp_serde_key_string(m->key, m->key_len, &key, &len);
    json_t *k = json_stringn(key, len);
    if (k)
        return k;
    /* Not UTF-8: hex, so the line stays valid JSON. */
    char *hex = malloc(m->key_len * 2 + 1);
    for (size_t i = 0; hex && i < m->key_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", ((const unsigned char *)m->key)[i]);
    k = hex ? json_string(hex) : json_null();
    free(hex);
    return k;
}

static void print_record(tail_t *t, const rd_kafka_message_t *m)
{
    char reason[512] = "";
    int32_t id = -1;
    jp_serde_err_t err = JP_SERDE_OK;
    json_t *line = json_object();
    json_object_set_new(line, "topic", json_string(rd_kafka_topic_name(m->rkt)));
    json_object_set_new(line, "partition", json_integer(m->partition));
    json_object_set_new(line, "offset", json_integer(m->offset));
    json_object_set_new(line, "key", key_json(m));
    json_t *value =
        m->payload ? decode(t, m->payload, m->len, &id, &err, reason, sizeof(reason)) : json_null();
    if (id >= 0)
        json_object_set_new(line, "schema_id", json_integer(id));
    if (m->payload && !value) {
        json_object_set_new(line, "error", json_string(jp_serde_err_name(err)));
        json_object_set_new(line, "reason", json_string(reason));
    } else {
        json_object_set_new(line, "value", value);
    }
    char *s = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s)
        puts(s);
    free(s);
    json_decref(line);
}

static rd_kafka_t *make_consumer(const char *brokers, const jp_conf_props_t *x, char *errstr,
                                 size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, errstr_size) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "false", errstr, errstr_size) ||
        rd_kafka_conf_set(conf, "client.id", "jackpot-tail", errstr, errstr_size) ||
        /* Never joins (partitions are assigned), but a consumer without a
         * group.id reports "Unknown group" on assign. */
        rd_kafka_conf_set(conf, "group.id", "jackpot-tail", errstr, errstr_size)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    for (size_t i = 0; i < x->n; i++)
        if (rd_kafka_conf_set(conf, x->keys[i], x->values[i], errstr, errstr_size)) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
    if (!rk)
        rd_kafka_conf_destroy(conf);
    return rk;
}

/* Assigns every partition of topic at the start or the end. */
static int assign_all(rd_kafka_t *rk, const char *topic, int from_beginning, char *errstr,
                      size_t errstr_size)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (e) {
        jp_err_set(errstr, errstr_size, "topic %s: %s", topic, rd_kafka_err2str(e));
        return -1;
    }
    if (md->topic_cnt != 1 || md->topics[0].err) {
        jp_err_set(errstr, errstr_size, "topic %s: %s", topic,
                   md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "not found");
        rd_kafka_metadata_destroy(md);
        return -1;
    }
    rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset =
            from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
    rd_kafka_metadata_destroy(md);
    e = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (e) {
        jp_err_set(errstr, errstr_size, "assign: %s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

int jp_cmd_tail(const jp_command_t *cmd, int argc, char **argv)
{
    static const struct option longopts[] = {{"brokers", required_argument, NULL, 'b'},
                                             {"registry", required_argument, NULL, 'r'},
                                             {"from-beginning", no_argument, NULL, 'f'},
                                             {"count", required_argument, NULL, 'n'},
                                             {NULL, 0, NULL, 0}};
    const char *brokers = "127.0.0.1:9092", *registry_url = "http://127.0.0.1:8081";
    int from_beginning = 0, code, c, rc = 0;
    long count = -1;
    jp_conf_props_t x = {0};
    char err[512];
    while ((c = jp_cli_getopt(cmd, argc, argv, "b:r:fn:X:", longopts, &code)) != -1) {
        switch (c) {
        case JP_CLI_EXIT:
            rc = code;
            goto out;
        case 'b':
            brokers = optarg;
            break;
        case 'r':
            registry_url = optarg;
            break;
        case 'f':
            from_beginning = 1;
            break;
        case 'n':
            if (jp_cli_parse_long(optarg, 1, 1L << 62, &count) != 0) {
                rc = jp_cli_usage_error(cmd, "--count needs a positive number");
                goto out;
            }
            break;
        case 'X':
            if (jp_config_add_xprop(&x, optarg) != 0) {
                rc = jp_cli_usage_error(cmd, "-X needs key=value, got '%s'", optarg);
                goto out;
            }
            break;
        }
    }
    if (optind != argc - 1) {
        rc = jp_cli_usage_error(cmd, optind >= argc ? "missing TOPIC" : "unexpected argument '%s'",
                                argv[argc - 1]);
        goto out;
    }
    const char *topic = argv[optind];

    tail_t t = {0};
    t.registry = jp_registry_client_new(registry_url, err, sizeof(err));
    if (!t.registry) {
        rc = jp_cli_usage_error(cmd, "--registry: %s", err);
        goto out;
    }
    rd_kafka_t *rk = make_consumer(brokers, &x, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "jackpot tail: %s\n", err);
        jp_registry_client_free(t.registry);
        rc = EX_CONFIG;
        goto out;
    }
    if (assign_all(rk, topic, from_beginning, err, sizeof(err)) != 0) {
        fprintf(stderr, "jackpot tail: %s\n", err);
        rc = EX_UNAVAILABLE;
    } else {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGPIPE, SIG_IGN);
        for (long seen = 0; !tail_stop && (count < 0 || seen < count);) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
            if (!m)
                continue;
            if (m->err)
                fprintf(stderr, "jackpot tail: %s\n", rd_kafka_message_errstr(m));
            else {
                print_record(&t, m);
                fflush(stdout);
                seen++;
            }
            rd_kafka_message_destroy(m);
        }
    }
    rd_kafka_destroy(rk);
    for (size_t i = 0; i < t.n_writers; i++) {
        avro_value_iface_decref(t.writers[i].iface);
        avro_schema_decref(t.writers[i].schema);
    }
    free(t.writers);
    jp_registry_client_free(t.registry);
out:
    jp_conf_props_free(&x);
    return rc;
}
