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
 * so tailing never disturbs the engine's group. It never waits without a
 * bound it was given: the brokers must answer within --timeout (10 s by
 * default), a topic that does not exist is reported at once (found in the
 * cluster's topic list, so asking never creates it on a broker with
 * auto.create.topics.enable), and --timeout also ends a wait for records
 * that do not come. Dead letters (jp_dlq.h) are shown with their headers
 * (--headers) and an encrypted value is not decoded: `jackpot dlq show`
 * opens it with the key.
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
#include "app/jp_topic_reader.h"
#include "base/jp_clock.h"
#include "config/jp_config.h"
#include "engine/jp_dlq.h"
#include "registry/jp_registry_client.h"
#include "serde/jp_serde.h"

const char jp_cmd_tail_usage[] =
    "usage: jackpot tail TOPIC [--brokers B] [--registry URL] [--from-beginning]\n"
    "                    [--count N] [--timeout D] [--headers] [-X key=value]...\n"
    "\n"
    "Consumes TOPIC and prints each record as one JSON line: topic, partition,\n"
    "offset, key (a plain or an Avro-framed string key as its text), schema id and\n"
    "the value decoded with its writer schema. A record that cannot be decoded\n"
    "prints \"error\" (NOT_FRAMED, UNKNOWN_SCHEMA_ID, REGISTRY_UNAVAILABLE,\n"
    "MALFORMED) and \"reason\" instead. No consumer group is joined and nothing is\n"
    "committed. Exits 0 after N records, on Ctrl-C, or when --timeout passes\n"
    "without a new record after at least one was printed.\n"
    "\n"
    "Options:\n"
    "  -b, --brokers B        bootstrap servers (default 127.0.0.1:9092)\n"
    "  -r, --registry URL     schema registry (default http://127.0.0.1:8081)\n"
    "  -f, --from-beginning   start at the oldest record (default: only new ones)\n"
    "  -n, --count N          exit after N records\n"
    "  -t, --timeout D        give up after D without a record (e.g. 5s, 2m); the\n"
    "                         brokers must answer within D too (default 10s; no\n"
    "                         limit on waiting for records without this option)\n"
    "  -H, --headers          print each record's headers (dead letters: jp.error.class,\n"
    "                         jp.source.*; their values are encrypted)\n"
    "  -X key=value           librdkafka consumer property\n"
    "  -h, --help             show this help\n"
    "\n"
    "Exit codes: 0; 66 the topic does not exist, or no record came within --timeout;\n"
    "69 the brokers cannot be reached; 64 usage.\n";

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

/* Header values print as strings when they are UTF-8 text, else hex. */
static json_t *bytes_json(const void *p, size_t n)
{
    if (!p)
        return json_null();
    json_t *s = json_stringn(p, n);
    if (s)
        return s;
    char *hex = malloc(n * 2 + 1);
    for (size_t i = 0; hex && i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", ((const unsigned char *)p)[i]);
    s = hex ? json_string(hex) : json_null();
    free(hex);
    return s;
}

/* A plain string key, or an Avro string in the Confluent frame, as its
 * text; other keys as bytes_json. */
static json_t *key_json(const rd_kafka_message_t *m)
{
    if (!m->key)
        return json_null();
    const void *key;
    size_t len;
    jp_serde_key_string(m->key, m->key_len, &key, &len);
    return bytes_json(key, len);
}

static json_t *headers_json(rd_kafka_headers_t *h)
{
    json_t *o = json_object();
    const char *name;
    const void *v;
    size_t n;
    for (size_t i = 0; h && rd_kafka_header_get_all(h, i, &name, &v, &n) == 0; i++)
        json_object_set_new(o, name, bytes_json(v, n));
    return o;
}

static void print_record(tail_t *t, const rd_kafka_message_t *m, int with_headers)
{
    char reason[512] = "";
    int32_t id = -1;
    jp_serde_err_t err = JP_SERDE_OK;
    json_t *line = json_object();
    json_object_set_new(line, "topic", json_string(rd_kafka_topic_name(m->rkt)));
    json_object_set_new(line, "partition", json_integer(m->partition));
    json_object_set_new(line, "offset", json_integer(m->offset));
    json_object_set_new(line, "key", key_json(m));
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    if (with_headers)
        json_object_set_new(line, "headers", headers_json(h));
    const void *kid;
    size_t kid_len;
    if (m->payload && h && rd_kafka_header_get_last(h, JP_DLQ_HDR_KEY, &kid, &kid_len) == 0) {
        /* A dead letter: its value is an envelope only the key opens. */
        json_t *enc = json_object();
        json_object_set_new(enc, "key_id", bytes_json(kid, kid_len));
        json_object_set_new(enc, "bytes", json_integer((json_int_t)m->len));
        json_object_set_new(line, "encrypted_value", enc);
        jp_topic_reader_print(line);
        return;
    }
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
    jp_topic_reader_print(line);
}

int jp_cmd_tail(const jp_command_t *cmd, int argc, char **argv)
{
    static const struct option longopts[] = {{"brokers", required_argument, NULL, 'b'},
                                             {"registry", required_argument, NULL, 'r'},
                                             {"from-beginning", no_argument, NULL, 'f'},
                                             {"count", required_argument, NULL, 'n'},
                                             {"timeout", required_argument, NULL, 't'},
                                             {"headers", no_argument, NULL, 'H'},
                                             {NULL, 0, NULL, 0}};
    const char *brokers = "127.0.0.1:9092", *registry_url = "http://127.0.0.1:8081";
    int from_beginning = 0, with_headers = 0, code, c, rc = 0;
    long count = -1;
    int64_t idle_ms = 0; /* 0: wait for records without a limit */
    jp_conf_props_t x = {0};
    char err[512];
    while ((c = jp_cli_getopt(cmd, argc, argv, "b:r:fn:t:HX:", longopts, &code)) != -1) {
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
        case 't':
            if (jp_conf_parse_duration(optarg, &idle_ms) != 0 || idle_ms <= 0 ||
                idle_ms > 86400000) {
                rc = jp_cli_usage_error(cmd, "--timeout needs a duration such as 5s or 2m");
                goto out;
            }
            break;
        case 'H':
            with_headers = 1;
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
    rd_kafka_t *rk = jp_topic_reader_new("jackpot-tail", brokers, NULL, &x, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "jackpot tail: %s\n", err);
        jp_registry_client_free(t.registry);
        rc = EX_CONFIG;
        goto out;
    }
    jp_topic_ends_t ends;
    int empty = 1;
    if ((rc = jp_topic_reader_assign(rk, brokers, topic, from_beginning,
                                     idle_ms ? (int)idle_ms : 10000, &ends, err, sizeof(err))) !=
        0) {
        fprintf(stderr, "jackpot tail: %s\n", err);
    } else {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGPIPE, SIG_IGN);
        for (int i = 0; i < ends.n; i++)
            empty &= ends.hi[i] >= 0 && ends.hi[i] == ends.lo[i];
        jp_topic_ends_free(&ends);
        if (empty && !idle_ms)
            fprintf(stderr, "jackpot tail: %s is empty; waiting for records (--timeout gives up)\n",
                    topic);
        int64_t last = jp_clock_now_ms();
        long seen = 0;
        while (!tail_stop && (count < 0 || seen < count)) {
            if (idle_ms && jp_clock_now_ms() - last >= idle_ms) {
                if (seen == 0) {
                    fprintf(stderr, "jackpot tail: no record in %s within %lld ms\n", topic,
                            (long long)idle_ms);
                    rc = EX_NOINPUT;
                }
                break;
            }
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
            if (!m)
                continue;
            if (m->err)
                fprintf(stderr, "jackpot tail: %s\n", rd_kafka_message_errstr(m));
            else {
                print_record(&t, m, with_headers);
                fflush(stdout);
                seen++;
                last = jp_clock_now_ms();
            }
            rd_kafka_message_destroy(m);
        }
    }
    jp_topic_reader_free(rk);
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
