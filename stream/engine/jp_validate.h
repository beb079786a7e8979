/*
 * jp_validate: the checks a decoded input record must pass before it is
 * applied, and the few safe auto-corrections.
 *
 * Every rejection names a reason (a stable upper-case code used as the
 * dead-letter header jp.error.class and as a metrics label) and a message
 * that names fields, never values: messages travel in DLQ headers and logs,
 * and input values carry personal data.
 *
 * Auto-corrections (each counted by kind, applied to the decoded struct in
 * place; documented in docs/processor.md):
 *   COUNTRY_CASE   "gb" -> "GB"
 *   CURRENCY_CASE  "gbp" -> "GBP"
 *   CHANNEL_UNKNOWN a channel symbol this engine does not know (a newer
 *                  writer) was mapped to UNKNOWN by the reader schema; kept
 * The checks run in a fixed order, so a record with several faults always
 * gets the same reason: country, field sizes (limits.*, FIELD_TOO_LONG),
 * an empty event id (MISSING_FIELD), an event time that is no time at all
 * (BAD_EVENT_TIME, before anything computes with it), an event time ahead
 * of the record's Kafka timestamp (FUTURE_EVENT_TIME), then the field
 * values. The time reference here is the record's own Kafka timestamp,
 * never the wall clock, so validation is deterministic; the task adds the
 * partition's recent past as a second one (jp_event_time.h).
 */
#ifndef JP_VALIDATE_H
#define JP_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "config/jp_calendar.h"
#include "config/jp_config.h"
#include "serde/jp_events.h"

typedef enum {
    JP_FIX_COUNTRY_CASE,
    JP_FIX_CURRENCY_CASE,
    JP_FIX_CHANNEL_UNKNOWN,
    JP_FIX__COUNT
} jp_fix_t;

const char *jp_fix_name(jp_fix_t f);

/* What validation needs of the configuration: the countries, their
 * calendars, and the skew bound. Built once, shared read-only. */
typedef struct jp_validator_s jp_validator_t;

jp_validator_t *jp_validator_new(const jp_config_t *cfg, char *errstr, size_t errstr_size);
void jp_validator_free(jp_validator_t *v);

/* The country config and calendar of a code, or NULL. */
const jp_country_t *jp_validator_country(const jp_validator_t *v, const char *code,
                                         const jp_calendar_t **cal);

typedef struct jp_verdict_s {
    const char *reason; /* NULL if valid, else e.g. "UNKNOWN_COUNTRY" */
    char message[160];  /* names fields, never values */
    unsigned fixes;     /* bit set of jp_fix_t applied */
    const jp_country_t *country;
    const jp_calendar_t *calendar;
    int64_t draw_ms; /* a valid sale: the time of the draw it buys tickets for */
} jp_verdict_t;

/* kafka_ts_ms: the record's Kafka timestamp (-1 if absent: the future
 * check is skipped). The struct may be corrected in place. */
void jp_validate_sale(const jp_validator_t *v, jp_sale_event_t *e, int64_t kafka_ts_ms,
                      jp_verdict_t *out);
void jp_validate_customer(const jp_validator_t *v, jp_customer_event_t *e, int64_t kafka_ts_ms,
                          jp_verdict_t *out);
void jp_validate_draw(const jp_validator_t *v, jp_draw_result_t *e, int64_t kafka_ts_ms,
                      jp_verdict_t *out);

#endif
