/*
 * jp_alerts_quality: data-quality rates of one input partition, judged per
 * bucket of the partition's own event time.
 *
 * Contract:
 * - Determinism without facts. Dead letters never reach a processor and
 *   their order across inputs depends on fetch timing, but within one input
 *   partition everything is in offset order: the task's counters read in
 *   on_record of that input (jp_proc_counts) are the same in every run at
 *   the same record. A bucket is a span of the partition's stream time
 *   (its highest applied event time) between multiples of bucket_ms: the
 *   record that moves the stream time past a multiple closes the open
 *   bucket, with the counters' differences since it opened, once it holds
 *   at least min_records consumed records (a quiet partition's bucket
 *   spans several multiples instead of being too small to judge). So every
 *   record belongs to exactly one bucket and a bucket's counts are final
 *   when it closes. Records lost before the partition's first record
 *   belong to the first bucket.
 * - Rates: dead-lettered records that are not LATE, and LATE records, over
 *   the consumed records of the bucket. A rate is high when it is above
 *   its band and the binomial test says so: P(X >= k | n, band) < alpha,
 *   so a small bucket does not fire on a few unlucky records.
 * - "QUAL" v1 serialization.
 */
#ifndef JP_ALERTS_QUALITY_H
#define JP_ALERTS_QUALITY_H

#include <stddef.h>
#include <stdint.h>

#include "engine/jp_proc.h"
#include "model/base/jp_bytes.h"

typedef struct jp_quality_s {
    int64_t stream_time; /* INT64_MIN: no record yet */
    int64_t start_ms;    /* start of the open bucket */
    int64_t bucket;      /* the multiple of bucket_ms the stream time is in */
    jp_proc_counts_t at_start;
} jp_quality_t;

typedef struct jp_quality_bucket_s {
    int64_t start_ms, end_ms;
    int64_t consumed, dead_lettered, late, lost, mispartitioned;
} jp_quality_bucket_t;

void jp_quality_init(jp_quality_t *q);
/* One applied record with its event time and the partition's counters as
 * on_record sees them (this record counted as consumed). 1 with *closed
 * filled when it closed the open bucket, else 0. */
int jp_quality_record(jp_quality_t *q, int64_t bucket_ms, int64_t min_records, int64_t event_time,
                      const jp_proc_counts_t *counts, jp_quality_bucket_t *closed);

typedef struct jp_quality_rate_s {
    int judged, high;
    int64_t k, n;
    double rate, p_value;
} jp_quality_rate_t;
/* The verdict on k of n records against band at level alpha. */
void jp_quality_rate(int64_t k, int64_t n, double band, double alpha, int64_t min_records,
                     jp_quality_rate_t *out);
/* P(X >= k) for X ~ Binomial(n, p). */
double jp_binomial_sf(int64_t k, int64_t n, double p);

void jp_quality_serialize(const jp_quality_t *q, jp_bytes_writer_t *w);
int jp_quality_deserialize(jp_quality_t *q, const void *buf, size_t len);

#endif
