/*
 * jp_sim_produce: the simulator's Kafka producer (librdkafka), as a
 * jp_sim_output_t.
 *
 * Contract:
 * - Idempotent (enable.idempotence=true: no duplicates or reordering from
 *   retries, order per partition preserved), keyed by country with the
 *   murmur2_random partitioner (the Java client's, deterministic for keyed
 *   records), message timestamps = event time: the same records in the
 *   same order give the same topic contents, offsets included, on fresh
 *   topics.
 * - Tuned for throughput: linger, large batches and queue, no compression;
 *   every extra property (e.g. from the processor's kafka map or -X) is
 *   applied after the defaults and may override them. Consumer-only
 *   properties of the processor's map (group.id, ...) are skipped.
 * - The value passed to write is copied before write returns (into slabs
 *   the producer owns until the record's delivery report), so the caller
 *   may reuse its buffer at once.
 * - A full local queue is waited out (poll), never dropped. Delivery
 *   failures are counted and reported by jp_sim_producer_flush; delivery
 *   reports of fault records fill in their partition and offset in the
 *   truth.
 * - Closed loop: jp_sim_producer_lookup reads the recommendation for a
 *   draw from the recommendations topic (a separate consumer assigned to
 *   every partition, decoding with its own registry client). When it has
 *   not arrived yet, the lookup flushes what was produced and waits for it
 *   (up to the follow's wait): the engine can only decide once it has read
 *   the records before the lookup. Without it: the country's latest
 *   recommendation, logged as a fallback.
 */
#ifndef JP_SIM_PRODUCE_H
#define JP_SIM_PRODUCE_H

#include <stddef.h>
#include <stdint.h>

#include "config/jp_conf.h"
#include "serde/jp_serde.h"
#include "sim/jp_sim.h"
#include "sim/jp_sim_truth.h"

typedef struct jp_sim_producer_s jp_sim_producer_t;

/* brokers: bootstrap servers (NULL: from props); props: the processor's
 * kafka map, then overrides (-X), each may be NULL; truth may be NULL.
 * NULL with errstr. */
jp_sim_producer_t *jp_sim_producer_new(const char *brokers, const jp_conf_props_t *props,
                                       const jp_conf_props_t *overrides, jp_sim_truth_t *truth,
                                       char *errstr, size_t errstr_size);
void jp_sim_producer_free(jp_sim_producer_t *p);

jp_sim_output_t jp_sim_producer_output(jp_sim_producer_t *p);

/* Waits for every record to be delivered (timeout_ms); 0, or -1 with the
 * number of failures / the first error in errstr. */
int jp_sim_producer_flush(jp_sim_producer_t *p, int timeout_ms, char *errstr, size_t errstr_size);

/* Records of topic delivered to partition so far (delivery reports are
 * served by the thread that writes and flushes). */
int64_t jp_sim_producer_delivered(const jp_sim_producer_t *p, const char *topic, int partition);

/* Starts reading recommendations from topic, decoded with the schemas of
 * the registry at registry_url; a lookup waits up to wait_ms for a draw's
 * recommendation. 0 or -1 with errstr. */
int jp_sim_producer_follow(jp_sim_producer_t *p, const char *topic, const char *registry_url,
                           int wait_ms, char *errstr, size_t errstr_size);

/* Sets up the closed loop of a world whose countries use the
 * recommendations policy (o->lookup and o->lookup_ctx); nothing for the
 * others. 0, or -1 with errstr when the topic cannot be followed. */
int jp_sim_producer_close_loop(jp_sim_producer_t *p, const jp_sim_world_t *w,
                               const char *registry_url, int wait_ms, jp_sim_options_t *o,
                               char *errstr, size_t errstr_size);
/* Lookups that did not get their draw's recommendation within the wait. */
uint64_t jp_sim_producer_loop_misses(const jp_sim_producer_t *p);

/* A jp_sim_prize_lookup_t (ctx = the producer). */
int jp_sim_producer_lookup(void *ctx, const char *country, const char *draw_id,
                           int64_t *prize_minor);

#endif
