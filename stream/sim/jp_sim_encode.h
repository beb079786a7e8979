/*
 * jp_sim_encode: the simulator's direct encoders of its three record types
 * (SaleEvent, CustomerEvent, DrawResult) into the Confluent wire format,
 * written straight from the event structs into the caller's buffer.
 *
 * Contract:
 * - For every struct jp_serde_encode accepts, the bytes are exactly the
 *   ones it writes with the same schema id (magic 0, big-endian id, the
 *   Avro binary datum of the engine's schema, schemas/<Name>.avsc): field
 *   order, zig-zag varints, union branch 0 = null. The schema id comes from
 *   the caller (jp_serde registers the schema on its first record).
 * - A struct the generic encoder would refuse (enum value out of range, a
 *   string or array with a length but no data) is not written: 0 is
 *   returned and the caller falls back to jp_serde_encode, which reports
 *   the error as before.
 * - out must hold jp_sim_encode_bound(type, ev) bytes.
 * - Schemas may evolve: jp_sim_encode_check compares these encoders with
 *   jp_serde's generic one on sample events (every optional branch, arrays
 *   empty and not) under the schemas compiled into this binary;
 *   jp_sim_run uses them only when it passes, and the unit tests check it.
 * Pure functions, no allocation (except in the check), thread-safe.
 */
#ifndef JP_SIM_ENCODE_H
#define JP_SIM_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "serde/jp_events.h"

/* Upper bound of the framed size of ev (a jp_sale_event_t,
 * jp_customer_event_t or jp_draw_result_t for JP_EVENT_SALE, _CUSTOMER,
 * _DRAW); 0 for other types. */
size_t jp_sim_encode_bound(jp_event_type_t type, const void *ev);

/* Writes the framed record; returns its length, or 0 when the generic
 * encoder must handle it (see above) or type is not one of the three. */
size_t jp_sim_encode(jp_event_type_t type, const void *ev, int32_t schema_id, unsigned char *out);

/* 1 if the direct encoders agree with jp_serde_encode under the compiled-in
 * schemas, 0 if not (or on allocation failure). */
int jp_sim_encode_check(void);

#endif
