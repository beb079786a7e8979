/*
 * jp_alerts_quality: buckets of an input partition's counters and the
 * binomial verdict on a rate (see jp_alerts_quality.h).
 */
#include "alerts/jp_alerts_quality.h"

#include <math.h>
#include <string.h>

#define NO_TIME INT64_MIN

void jp_quality_init(jp_quality_t *q)
{
    memset(q, 0, sizeof(*q));
    q->stream_time = NO_TIME;
    q->bucket = NO_TIME;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int jp_quality_record(jp_quality_t *q, int64_t bucket_ms, int64_t min_records, int64_t event_time,
                      const jp_proc_counts_t *counts, jp_quality_bucket_t *closed)
{
    if (q->stream_time == NO_TIME || event_time > q->stream_time)
        q->stream_time = event_time;
    /* The counters before this record: it belongs to the bucket it opens. */
    jp_proc_counts_t before = *counts;
    before.consumed--;
    int64_t b = floor_div(q->stream_time, bucket_ms);
    if (q->bucket == NO_TIME) {
        q->bucket = b;
        q->start_ms = b * bucket_ms;
        q->at_start = before;
        /* Records lost before the partition's first record (a consumer
         * that started after retention trimmed the partition) belong to
         * the first bucket: nothing earlier judged them. */
        q->at_start.lost = 0;
        return 0;
    }
    if (b <= q->bucket)
        return 0;
    q->bucket = b;
    if (before.consumed - q->at_start.consumed < min_records)
        return 0; /* too few to judge: the bucket goes on */
    closed->start_ms = q->start_ms;
    closed->end_ms = b * bucket_ms;
    closed->consumed = before.consumed - q->at_start.consumed;
    closed->dead_lettered = before.dead_lettered - q->at_start.dead_lettered;
    closed->late = before.late - q->at_start.late;
    closed->lost = before.lost - q->at_start.lost;
    closed->mispartitioned = before.mispartitioned - q->at_start.mispartitioned;
    q->start_ms = closed->end_ms;
    q->at_start = before;
    return 1;
}

double jp_binomial_sf(int64_t k, int64_t n, double p)
{
    if (k <= 0)
        return 1.0;
    if (k > n || p <= 0.0)
        return 0.0;
    if (p >= 1.0)
        return 1.0;
    double lp = log(p), lq = log1p(-p);
    /* Sum the pmf from k upward in log space (terms shrink past the mean);
     * below the mean the complement is summed downward instead. */
    int upper = (double)k >= (double)n * p;
    double lead = lgamma((double)n + 1) - lgamma((double)k + 1) - lgamma((double)(n - k) + 1) +
                  (double)k * lp + (double)(n - k) * lq;
    double sum = 0, term = 1.0;
    if (upper) {
        for (int64_t j = k; j <= n; j++) {
            sum += term;
            term *= (double)(n - j) / (double)(j + 1) * p / (1.0 - p);
            if (term < 1e-17 * sum)
                break;
        }
        return fmin(1.0, exp(lead) * sum);
    }
    /* P(X >= k) = 1 - P(X <= k - 1): start at k - 1 and walk down. */
    lead += log((double)k / (double)(n - k + 1)) + lq - lp;
    for (int64_t j = k - 1; j >= 0; j--) {
        sum += term;
        term *= (double)j / (double)(n - j + 1) * (1.0 - p) / p;
        if (term < 1e-17 * sum)
            break;
    }
    return fmax(0.0, 1.0 - exp(lead) * sum);
}

void jp_quality_rate(int64_t k, int64_t n, double band, double alpha, int64_t min_records,
                     jp_quality_rate_t *out)
{
    memset(out, 0, sizeof(*out));
    out->k = k;
    out->n = n;
    if (n < min_records || n <= 0)
        return;
    out->judged = 1;
    out->rate = (double)k / (double)n;
    out->p_value = out->rate > band ? jp_binomial_sf(k, n, band) : 1.0;
    out->high = out->rate > band && out->p_value < alpha;
}

static void put_counts(jp_bytes_writer_t *w, const jp_proc_counts_t *c)
{
    const int64_t v[] = {c->consumed, c->applied,        c->dead_lettered, c->duplicates,
                         c->late,     c->mispartitioned, c->lost};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        jp_bytes_put_varint(w, v[i]);
}

static void get_counts(jp_bytes_reader_t *r, jp_proc_counts_t *c)
{
    int64_t *v[] = {&c->consumed, &c->applied,        &c->dead_lettered, &c->duplicates,
                    &c->late,     &c->mispartitioned, &c->lost};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        *v[i] = jp_bytes_get_varint(r);
}

void jp_quality_serialize(const jp_quality_t *q, jp_bytes_writer_t *w)
{
    jp_bytes_put_header(w, "QUAL", 1);
    jp_bytes_put_i64(w, q->stream_time);
    jp_bytes_put_i64(w, q->start_ms);
    jp_bytes_put_i64(w, q->bucket);
    put_counts(w, &q->at_start);
}

int jp_quality_deserialize(jp_quality_t *q, const void *buf, size_t len)
{
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, buf, len);
    jp_quality_init(q);
    jp_bytes_get_header(&r, "QUAL", 1);
    q->stream_time = jp_bytes_get_i64(&r);
    q->start_ms = jp_bytes_get_i64(&r);
    q->bucket = jp_bytes_get_i64(&r);
    get_counts(&r, &q->at_start);
    return jp_bytes_reader_done(&r) ? 0 : -1;
}
