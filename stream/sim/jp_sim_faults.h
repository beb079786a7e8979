/*
 * jp_sim_faults: the realistic faults the simulator injects, each at its
 * configured rate, deterministically (from the caller's rng).
 *
 * At most one fault per record. Value-level faults change the typed event
 * before it is encoded and decode fine (the processor rejects them later):
 *   late            event time = now - lateness - grace - 1h - U(0, 1h)
 *   out_of_order    event time = now - U(1 s, lateness / 2)
 *   out_of_range    tickets (sales) / subscription_tickets (customers) < 0
 *   unknown_country "ZZ" in value and key
 *   duplicate       the record is written twice (same event id)
 * Decode-level faults change the framed bytes after encoding and must fail
 * jp_serde_decode with the reason jp_sim_fault_expected_error names:
 *   not_framed        the 5-byte frame removed        -> NOT_FRAMED
 *   unknown_schema_id an id no registry holds         -> UNKNOWN_SCHEMA_ID
 *   truncated         the Avro datum cut in half      -> TRUNCATED
 *   wrong_type        written with a rogue schema     -> INCOMPATIBLE
 *                     (SaleEvent with tickets as a string, registered under
 *                     "<topic>-rogue-value"; sales only)
 */
#ifndef JP_SIM_FAULTS_H
#define JP_SIM_FAULTS_H

#include <stddef.h>
#include <stdint.h>

#include "serde/jp_events.h"
#include "model/base/jp_rng.h"
#include "sim/jp_sim_world.h"

/* Ids from here on are never handed out by a registry in practice. */
#define JP_SIM_UNKNOWN_SCHEMA_ID_BASE 1000000000

/* Picks the fault of one record of the given type (JP_EVENT_SALE or
 * JP_EVENT_CUSTOMER); JP_SIM_FAULT__COUNT for none. Draws exactly one
 * uniform, so the stream position does not depend on the rates. */
jp_sim_fault_t jp_sim_faults_pick(const double rates[JP_SIM_FAULT__COUNT], jp_event_type_t type,
                                  jp_rng_t *rng);

/* The jp_serde_err_t name a decoder reports for the fault, or NULL for
 * value-level faults. */
const char *jp_sim_fault_expected_error(jp_sim_fault_t f);

/* Applies a value-level fault to a sale or customer event. now_ms is the
 * record's original event time. */
void jp_sim_faults_mutate_event(jp_sim_fault_t f, jp_event_type_t type, void *ev,
                                int64_t lateness_ms, int64_t grace_ms, jp_rng_t *rng);

/* Applies a decode-level fault to a framed record in place. k numbers the
 * fault (for distinct unknown ids). */
void jp_sim_faults_mutate_bytes(jp_sim_fault_t f, unsigned char *buf, size_t *len, uint64_t k);

/* The rogue writer schema: the SaleEvent schema with "tickets" a string
 * (malloc'd JSON), or NULL with errstr. */
char *jp_sim_faults_rogue_schema(char *errstr, size_t errstr_size);

/* A sale as the rogue schema lays it out. */
typedef struct jp_sim_rogue_sale_s {
    jp_avro_str_t event_id;
    jp_avro_str_t country;
    int64_t event_time;
    jp_avro_str_t customer_id;
    jp_avro_str_t postcode;
    jp_sale_channel_t channel;
    jp_avro_str_t tickets; /* the wrong type */
    int64_t amount_minor;
    jp_avro_str_t currency;
    jp_avro_str_t draw_id;
    int64_t advertised_prize_minor;
    uint8_t has_campaign;
    jp_avro_str_t campaign;
    uint8_t has_purchase;
    jp_sale_purchase_t purchase;
} jp_sim_rogue_sale_t;

extern const jp_avro_layout_t jp_sim_rogue_sale_layout;

/* Copies a sale into its rogue form; the tickets text goes to buf. */
void jp_sim_faults_rogue_sale(const jp_sale_event_t *in, jp_sim_rogue_sale_t *out, char *buf,
                              size_t buf_size);

#endif
