/*
 * Fuzz target: the engine's decode path without the engine - a framed
 * record through jp_serde (frame, schema id, cached writer schema, plan)
 * into the event struct, then jp_validate with the validator built from
 * configs/jackpot.yaml, exactly as a task does before applying a record.
 *
 * Input: byte 0 picks the reader (sale, customer, draw: value % 3) and
 * whether the record carries a Kafka timestamp (bit 2); the rest is the
 * Kafka message value. The registry is a table: ids 1-3 are the engine's
 * own schemas, 4-6 older writers (each without its last field), 7-9 newer
 * writers (an extra array field first and an extra enum symbol), 10 the
 * poison schema of issue 15, anything else unknown. The seed corpus holds
 * records written by jp_serde_encode (and by tests/fuzz/make_seeds.py's
 * transformations of them).
 */
#include "jp_fuzz.h"

#include "config/jp_conf.h"
#include "config/jp_config.h"
#include "engine/jp_validate.h"
#include "serde/jp_serde.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define N_IDS 11

static char *schemas[N_IDS];
static jp_serde_t *serde;
static jp_validator_t *validator;
static jp_config_t cfg;

static jp_serde_err_t table_lookup(void *ctx, int32_t id, char **json_out, char *errstr,
                                   size_t errstr_size)
{
    (void)ctx, (void)errstr, (void)errstr_size;
    if (id < 1 || id >= N_IDS || !schemas[id])
        return JP_SERDE_UNKNOWN_SCHEMA_ID;
    *json_out = strdup(schemas[id]);
    return *json_out ? JP_SERDE_OK : JP_SERDE_REGISTRY_UNAVAILABLE;
}

/* An evolution of an engine schema: older (its last field dropped) or
 * newer (an extra array field first, an extra symbol in its first enum). */
static char *evolve(const char *json, int newer)
{
    json_t *s = json_loads(json, 0, NULL);
    json_t *fields = json_object_get(s, "fields");
    if (!newer) {
        json_array_remove(fields, json_array_size(fields) - 1);
    } else {
        json_array_insert_new(fields, 0,
                              json_pack("{s:s, s:{s:s, s:[s,s]}}", "name", "added_later", "type",
                                        "type", "array", "items", "null", "long"));
        size_t i;
        json_t *f;
        json_array_foreach(fields, i, f)
        {
            json_t *t = json_object_get(f, "type");
            if (json_is_object(t) && json_object_get(t, "symbols")) {
                json_array_append_new(json_object_get(t, "symbols"), json_string("FROM_LATER"));
                break;
            }
        }
    }
    char *out = json_dumps(s, JSON_COMPACT);
    json_decref(s);
    return out;
}

static void init(void)
{
    if (serde)
        return;
    static const jp_event_type_t types[] = {JP_EVENT_SALE, JP_EVENT_CUSTOMER, JP_EVENT_DRAW};
    for (int i = 0; i < 3; i++) {
        const char *json = jp_event_schema_json(types[i], NULL);
        schemas[1 + i] = strdup(json);
        schemas[4 + i] = evolve(json, 0);
        schemas[7 + i] = evolve(json, 1);
    }
    schemas[10] = strdup("{\"type\":\"record\",\"name\":\"SaleEvent\",\"namespace\":"
                         "\"lottery.events.v1\",\"fields\":[{\"name\":\"c\",\"type\":[],"
                         "\"default\":null}]}");
    /* Strings copied into the arena, as the engine decodes (validation
     * corrects them in place). */
    jp_serde_config_t sc = {.registry = {NULL, table_lookup, NULL},
                            .flags = JP_AVRO_PLAN_COPY_STRINGS};
    char err[512], path[1024];
    if (!(serde = jp_serde_new(&sc, err, sizeof(err))))
        jp_fuzz_fail("jp_serde_new: %s", err);
    jp_conf_t conf;
    jp_conf_init(&conf, NULL);
    snprintf(path, sizeof(path), "%s/configs/jackpot.yaml", jp_fuzz_src());
    if (jp_config_load(&conf, path, NULL, &cfg) != 0)
        jp_fuzz_fail("%s: %s", path, conf.n_errors ? conf.errors[0] : "cannot load");
    jp_conf_destroy(&conf);
    if (!(validator = jp_validator_new(&cfg, err, sizeof(err))))
        jp_fuzz_fail("jp_validator_new: %s", err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    if (size < 1)
        return 0;
    static const jp_event_type_t types[] = {JP_EVENT_SALE, JP_EVENT_CUSTOMER, JP_EVENT_DRAW};
    jp_event_type_t type = types[data[0] % 3];
    int64_t kafka_ts = data[0] & 4 ? 1767225600000 : -1; /* 2026-01-01 */
    union {
        jp_sale_event_t sale;
        jp_customer_event_t customer;
        jp_draw_result_t draw;
    } ev;
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    char err[512];
    jp_serde_err_t rc =
        jp_serde_decode(serde, (int)type, data + 1, size - 1, &ev, &arena, err, sizeof(err));
    if (rc == JP_SERDE_OK) {
        jp_verdict_t v;
        memset(&v, 0, sizeof(v));
        if (type == JP_EVENT_SALE)
            jp_validate_sale(validator, &ev.sale, kafka_ts, &v);
        else if (type == JP_EVENT_CUSTOMER)
            jp_validate_customer(validator, &ev.customer, kafka_ts, &v);
        else
            jp_validate_draw(validator, &ev.draw, kafka_ts, &v);
        if (v.reason && !v.message[0])
            jp_fuzz_fail("rejection %s without a message", v.reason);
    } else if (!err[0]) {
        jp_fuzz_fail("decode error %s without a reason", jp_serde_err_name(rc));
    }
    jp_avro_arena_free(&arena);
    return 0;
}
