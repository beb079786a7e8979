/*
 * jp_topic_reader: the group-less consumer that `jackpot tail` and
 * `jackpot dlq` read topics with. It assigns partitions itself (no group
 * is joined, nothing is committed, the engine's group is never
 * disturbed), finds topics in the cluster's topic list (asking for a
 * topic by name creates it on brokers with auto.create.topics.enable),
 * and bounds every wait on the brokers.
 */
#ifndef JP_TOPIC_READER_H
#define JP_TOPIC_READER_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "config/jp_conf.h"

/* A consumer for brokers (NULL: from props); props (the processor's kafka
 * map, may be NULL; consumer-group keys skipped) then x (-X, may be NULL)
 * are applied. NULL with errstr. */
rd_kafka_t *jp_topic_reader_new(const char *client_id, const char *brokers,
                                const jp_conf_props_t *props, const jp_conf_props_t *x,
                                char *errstr, size_t errstr_size);

/* The partitions of a topic and their offsets when assigned. */
typedef struct jp_topic_ends_s {
    int n;
    int32_t *partition;
    int64_t *lo, *hi; /* -1 when unknown */
} jp_topic_ends_t;

/* Assigns every partition of topic, from the beginning or the end, the
 * brokers answering within timeout_ms; ends (may be NULL) receives the
 * partitions' watermarks (free with jp_topic_ends_free). 0, or an exit
 * code with errstr: EX_NOINPUT (no such topic), EX_UNAVAILABLE. */
int jp_topic_reader_assign(rd_kafka_t *rk, const char *brokers, const char *topic,
                           int from_beginning, int timeout_ms, jp_topic_ends_t *ends, char *errstr,
                           size_t errstr_size);
void jp_topic_ends_free(jp_topic_ends_t *ends);

/* Prints one record's JSON object as a line on stdout (compact, keys in
 * insertion order) and releases it. */
void jp_topic_reader_print(json_t *line);

/* Destroys the reader without waiting on unreachable brokers. */
void jp_topic_reader_free(rd_kafka_t *rk);

#endif
