/*
 * jp_partition: the partitioning contract of the inputs, as a task checks
 * it, and the task's bookkeeping of the records that reach it through the
 * repartition topic (docs/processor.md, "Partitioning").
 *
 * Contract:
 * - A record's home is the partition the configured partitioner
 *   (topics.input_partitioner) gives its country code as a UTF-8 string
 *   key among the inputs' n partitions. jp_partition_home answers -1 (no
 *   check) for the partitioner `any` or when n is unknown (0): tests that
 *   build a task without an engine run unchecked.
 * - A task applies records of other homes' countries never: it dead-letters
 *   them (MISPARTITIONED) or hands them to the engine to produce to the
 *   repartition topic, partition = home. The home task receives the copy
 *   on its repartition stream, with the copy's provenance: the input, and
 *   the partition and offset it was read from (its source).
 * - Event time of the copies (docs/processor.md). Copies from one source
 *   partition of one input are a stream of their own at the home, with its
 *   own watermark, as an input partition is: a copy is LATE against its
 *   stream. A country that reaches the task through the repartition topic
 *   closes its windows on the streams that carried it (per input: the
 *   lowest watermark of those streams; none yet: the window waits), never
 *   on the task's input partitions, which carry other countries' clocks.
 *   So a country's windows do not depend on how its streams interleave
 *   with the others', and with one producer the content of every window
 *   is the same whichever partitioner it used.
 * - jp_partition_state_t makes the home apply each source record once:
 *   copies of one source partition reach a home in source-offset order
 *   (one producer, one partition), and an engine that re-reads a source
 *   after a rewind or a rebalance produces its copies again from a
 *   committed offset, whose earlier copies were all delivered (the commit
 *   flushes first). So a copy whose source offset is not above the highest
 *   one applied from that source partition is a replay, and is skipped.
 *   The state (per input and source partition the highest source offset,
 *   and the counters) is part of the task's state: it reaches the
 *   changelog with the rest and is restored with it.
 */
#ifndef JP_PARTITION_H
#define JP_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "model/base/jp_partitioner.h"
#include "engine/jp_state.h"

typedef struct jp_partition_check_s {
    jp_partitioner_t partitioner; /* topics.input_partitioner */
    int dead_letter;              /* topics.mispartitioned: dead_letter (else repartition) */
    int n_partitions;             /* the inputs' partition count; 0: unknown, no check */
} jp_partition_check_t;

/* The home partition of a record of country (2 letters, upper case), or -1
 * when nothing is checked. */
int jp_partition_home(const jp_partition_check_t *c, const char *country);

/* The header a copy carries on the repartition topic: "<input topic>/<source
 * partition>/<source offset>". */
#define JP_PARTITION_HDR_SOURCE "jp.repartition.source"

/* A country that arrived through the repartition topic: the source
 * partitions its copies came from, per input (a bitmap of n_partitions). */
typedef struct jp_partition_country_s {
    char cc[2];
    uint64_t *sources; /* [input * words + source / 64] */
} jp_partition_country_t;

typedef struct jp_partition_state_s {
    int n_partitions;
    int64_t next_offset; /* of the task's repartition partition; -1: none yet */
    int64_t *high;       /* [input * n_partitions + source]: highest source offset applied */
    int64_t *newest;     /* [input * n_partitions + source]: newest event time applied, or
                            INT64_MIN */
    jp_partition_country_t *countries;
    size_t n_countries;
    int64_t repartitioned[JP_INPUT__COUNT]; /* sent away (source side) */
    int64_t received[JP_INPUT__COUNT];      /* copies taken in (home side), replays excluded */
    int64_t replays[JP_INPUT__COUNT];       /* copies skipped as replays */
    int64_t lost; /* copies (of any input) removed by retention before they were read */
    int dirty;    /* changed since the last encode */
} jp_partition_state_t;

/* 0, or -1 out of memory. n_partitions may be 0 (no repartition stream). */
int jp_partition_state_init(jp_partition_state_t *s, int n_partitions);
/* Back to the state of a new task (keeps the table's size). */
void jp_partition_state_reset(jp_partition_state_t *s);
void jp_partition_state_free(jp_partition_state_t *s);

/* A copy from (input, source partition, source offset) arrives: 1 if it is
 * a replay (counted, to be skipped), 0 if it is to be processed (counted as
 * received; its source offset is now the highest). */
int jp_partition_state_admit(jp_partition_state_t *s, jp_input_t input, int source,
                             int64_t source_offset);

/* A copy of country cc from (input, source) was applied at event time
 * t_ms: its stream's newest time and the country's streams. 0, or -1 out
 * of memory. */
int jp_partition_state_applied(jp_partition_state_t *s, jp_input_t input, int source,
                               const char *cc, int64_t t_ms);
/* The stream (input, source) counts as having seen everything up to t_ms
 * (a draws stream: every draw before the next scheduled one of each
 * country it may carry); its newest time rises to t_ms if below. */
void jp_partition_stream_advance(jp_partition_state_t *s, jp_input_t input, int source,
                                 int64_t t_ms);
/* The newest event time applied from (input, source), INT64_MIN if none. */
int64_t jp_partition_stream_newest(const jp_partition_state_t *s, jp_input_t input, int source);
/* 1 if country cc has arrived through the repartition topic. */
int jp_partition_country_copied(const jp_partition_state_t *s, const char *cc);
/* For a country that arrived through the repartition topic: the lowest
 * newest event time of the streams of input that carried it (INT64_MIN if
 * none did yet). For any other country: direct_newest (the task's input
 * partition's). */
int64_t jp_partition_feed_newest(const jp_partition_state_t *s, jp_input_t input, const char *cc,
                                 int64_t direct_newest);
/* Over the input's partition (direct_newest, INT64_MIN if none) and every
 * stream of copies of input: the lowest newest event time (floor) and the
 * highest (ceiling); INT64_MIN if none has any. */
int64_t jp_partition_input_floor(const jp_partition_state_t *s, jp_input_t input,
                                 int64_t direct_newest);
int64_t jp_partition_input_ceiling(const jp_partition_state_t *s, jp_input_t input,
                                   int64_t direct_newest);

/* The state as a value of the task's meta store and back. encode returns
 * a malloc'd buffer (NULL out of memory); decode returns 0, or -1 for a
 * value it cannot read (the state is then reset). Sources beyond the
 * table (a changed partition count) are dropped. */
uint8_t *jp_partition_state_encode(const jp_partition_state_t *s, size_t *len);
int jp_partition_state_decode(jp_partition_state_t *s, const void *val, size_t len);

/* Parses the source header's value (not NUL-terminated): 0 with the input
 * topic span, partition and offset, -1 if malformed. */
int jp_partition_parse_source(const void *val, size_t len, const char **topic, size_t *topic_len,
                              int32_t *partition, int64_t *offset);

#endif
