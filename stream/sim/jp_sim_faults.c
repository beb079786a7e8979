/*
 * jp_sim_faults: fault selection and the mutations themselves. Selection
 * draws one uniform per record against the cumulative rates, so changing a
 * rate moves which records are faulted but never shifts the random stream
 * of anything else. The rogue schema is derived from the engine's own
 * SaleEvent schema with jansson, so it follows the real schema as that
 * evolves and differs in exactly one field.
 */
#include "sim/jp_sim_faults.h"
#include "model/base/jp_err.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/jp_sim_rng.h"
#include "model/base/jp_endian.h"

jp_sim_fault_t jp_sim_faults_pick(const double rates[JP_SIM_FAULT__COUNT], jp_event_type_t type,
                                  jp_rng_t *rng)
{
    double u = jp_rng_uniform(rng), acc = 0;
    for (int f = 0; f < JP_SIM_FAULT__COUNT; f++) {
        if (f == JP_SIM_FAULT_WRONG_TYPE && type != JP_EVENT_SALE)
            continue;
        acc += rates[f];
        if (u < acc)
            return (jp_sim_fault_t)f;
    }
    return JP_SIM_FAULT__COUNT;
}

const char *jp_sim_fault_expected_error(jp_sim_fault_t f)
{
    switch (f) {
    case JP_SIM_FAULT_NOT_FRAMED:
        return "NOT_FRAMED";
    case JP_SIM_FAULT_UNKNOWN_SCHEMA_ID:
        return "UNKNOWN_SCHEMA_ID";
    case JP_SIM_FAULT_TRUNCATED:
        return "TRUNCATED";
    case JP_SIM_FAULT_WRONG_TYPE:
        return "INCOMPATIBLE";
    default:
        return NULL;
    }
}

void jp_sim_faults_mutate_event(jp_sim_fault_t f, jp_event_type_t type, void *ev,
                                int64_t lateness_ms, int64_t grace_ms, jp_rng_t *rng)
{
    int64_t *t = type == JP_EVENT_SALE ? &((jp_sale_event_t *)ev)->event_time
                                       : &((jp_customer_event_t *)ev)->event_time;
    switch (f) {
    case JP_SIM_FAULT_LATE:
        *t -= lateness_ms + grace_ms + 3600000 + (int64_t)jp_rng_below(rng, 3600000);
        break;
    case JP_SIM_FAULT_OUT_OF_ORDER: {
        uint64_t span = lateness_ms / 2 > 1000 ? (uint64_t)(lateness_ms / 2 - 1000) : 1;
        *t -= 1000 + (int64_t)jp_rng_below(rng, span);
        break;
    }
    case JP_SIM_FAULT_OUT_OF_RANGE:
        if (type == JP_EVENT_SALE)
            ((jp_sale_event_t *)ev)->tickets = -1 - (int32_t)jp_rng_below(rng, 5);
        else
            ((jp_customer_event_t *)ev)->subscription_tickets = -1;
        break;
    case JP_SIM_FAULT_UNKNOWN_COUNTRY:
        if (type == JP_EVENT_SALE)
            ((jp_sale_event_t *)ev)->country = jp_avro_str("ZZ");
        else
            ((jp_customer_event_t *)ev)->country = jp_avro_str("ZZ");
        break;
    default:
        break;
    }
}

void jp_sim_faults_mutate_bytes(jp_sim_fault_t f, unsigned char *buf, size_t *len, uint64_t k)
{
    if (*len < 6)
        return;
    switch (f) {
    case JP_SIM_FAULT_NOT_FRAMED:
        /* The datum starts with the event id's length (72, zig-zag), never
         * the magic byte 0. */
        memmove(buf, buf + 5, *len - 5);
        *len -= 5;
        break;
    case JP_SIM_FAULT_UNKNOWN_SCHEMA_ID: {
        uint32_t id = (uint32_t)JP_SIM_UNKNOWN_SCHEMA_ID_BASE + (uint32_t)(k % 100000000);
        jp_be32_put(buf + 1, id);
        break;
    }
    case JP_SIM_FAULT_TRUNCATED:
        *len = 5 + (*len - 5) / 2;
        break;
    default:
        break;
    }
}

char *jp_sim_faults_rogue_schema(char *errstr, size_t errstr_size)
{
    size_t len;
    const char *json = jp_event_schema_json(JP_EVENT_SALE, &len);
    if (!json) {
        jp_err_set(errstr, errstr_size, "the SaleEvent schema is not compiled in");
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    json_t *fields = root ? json_object_get(root, "fields") : NULL;
    int found = 0;
    for (size_t i = 0; i < json_array_size(fields); i++) {
        json_t *fd = json_array_get(fields, i);
        const char *name = json_string_value(json_object_get(fd, "name"));
        if (name && strcmp(name, "tickets") == 0) {
            json_object_set_new(fd, "type", json_string("string"));
            json_object_del(fd, "default");
            found = 1;
        }
    }
    if (!found) {
        jp_err_set(errstr, errstr_size, "the SaleEvent schema has no 'tickets' field");
        json_decref(root);
        return NULL;
    }
    json_object_set_new(root, "doc", json_string("ROGUE: tickets as a string (simulator fault)"));
    char *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!out)
        jp_err_set(errstr, errstr_size, "out of memory");
    return out;
}

static const jp_avro_bind_t rogue_fields[] = {
    JP_AVRO_BIND(jp_sim_rogue_sale_t, event_id),
    JP_AVRO_BIND(jp_sim_rogue_sale_t, country),
    JP_AVRO_BIND(jp_sim_rogue_sale_t, event_time),
    JP_AVRO_BIND(jp_sim_rogue_sale_t, customer_id),
    JP_AVRO_BIND(jp_sim_rogue_sale_t, postcode),
    JP_AVRO_BIND(jp_sim_rogue_sale_t, channel),
    JP_AVRO_BIND(jp_sim_rogue_sale_t, tickets),
    JP_AVRO_BIND(jp_sim_rogue_sale_t, amount_minor),
    JP_AVRO_BIND(jp_sim_rogue_sale_t, currency),
    JP_AVRO_BIND(jp_sim_rogue_sale_t, draw_id),
    JP_AVRO_BIND(jp_sim_rogue_sale_t, advertised_prize_minor),
    JP_AVRO_BIND_OPT(jp_sim_rogue_sale_t, campaign, has_campaign),
    JP_AVRO_BIND_OPT(jp_sim_rogue_sale_t, purchase, has_purchase),
};

const jp_avro_layout_t jp_sim_rogue_sale_layout =
    JP_AVRO_LAYOUT("lottery.events.v1.SaleEvent", jp_sim_rogue_sale_t, rogue_fields);

void jp_sim_faults_rogue_sale(const jp_sale_event_t *in, jp_sim_rogue_sale_t *out, char *buf,
                              size_t buf_size)
{
    snprintf(buf, buf_size, "%d", (int)in->tickets);
    out->event_id = in->event_id;
    out->country = in->country;
    out->event_time = in->event_time;
    out->customer_id = in->customer_id;
    out->postcode = in->postcode;
    out->channel = in->channel;
    out->tickets = jp_avro_str(buf);
    out->amount_minor = in->amount_minor;
    out->currency = in->currency;
    out->draw_id = in->draw_id;
    out->advertised_prize_minor = in->advertised_prize_minor;
    out->has_campaign = in->has_campaign;
    out->campaign = in->campaign;
    out->has_purchase = in->has_purchase;
    out->purchase = in->purchase;
}
