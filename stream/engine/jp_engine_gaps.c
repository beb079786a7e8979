/*
 * jp_engine_gaps: input records that retention removed before the engine
 * read them. The consumer never says so - a fetch position below the log
 * start is reset to the earliest offset, silently - so the task reports
 * every skipped offset range (jp_task_io_t.gap) and this file asks the
 * broker for the partition's low watermark: a range below it was removed
 * by retention; a range above it is transaction markers or compaction,
 * which lose nothing. The repartition topic is watched alike: copies it
 * lost are input records lost (its stream, JP_STREAM_REPARTITION).
 *
 * A loss is logged with its range and counted in
 * jackpot_input_records_lost_total{topic,partition} (and in the task's
 * state, for /v1/tasks); then processing.on_input_loss decides: stop (the
 * default: the engine stops with EX_TEMPFAIL before the first record after
 * the gap, commits nothing past it, and reports the same gap at the next
 * start) or continue.
 */
#include "jp_engine-internal.h"

#include <stdio.h>

#include "base/jp_log.h"

jp_counter_t *jp_engine_lost_counter(jp_engine_t *e, const char *topic_name, int partition)
{
    char labels[400], topic[300];
    jp_metrics_label_escape(topic, sizeof(topic), topic_name);
    snprintf(labels, sizeof(labels), "topic=\"%s\",partition=\"%d\"", topic, partition);
    return jp_metrics_counter(e->metrics, "jackpot_input_records_lost_total",
                              "Input records removed by retention before they were read", labels);
}

int64_t jp_engine_io_gap(void *ctx, int partition, const jp_task_record_t *rec, int64_t expected)
{
    jp_engine_t *e = ctx;
    int s = rec->via_repartition ? JP_STREAM_REPARTITION : (int)rec->input;
    const char *topic = jp_engine_stream_topic(e, s);
    int64_t got = rec->offset;
    int stop = e->cfg->processing.on_input_loss == JP_INPUT_LOSS_STOP;
    if (stop && e->gap_reported[partition][s] == expected + 1)
        return -1; /* reported already; the engine is stopping */
    int64_t lo = -1, hi = -1;
    rd_kafka_t *rk = e->consumer;
    /* The low watermark the fetch that brought `got` reported is cached:
     * at or below `expected`, the gap is markers or compaction, and a
     * transactional producer's marker per transaction costs no request. */
    if (rd_kafka_get_watermark_offsets(rk, topic, partition, &lo, &hi) == 0 && lo >= 0 &&
        lo <= expected)
        return 0;
    rd_kafka_resp_err_t err =
        jp_engine_watermarks(e, rk, topic, partition, &lo, &hi, WATERMARK_TIMEOUT_MS);
    if (err) {
        jp_log_warn("engine",
                    "%s [%d]: offsets %lld..%lld were skipped and the low watermark cannot be "
                    "read (%s): cannot tell whether records were lost",
                    topic, partition, (long long)expected, (long long)got - 1,
                    rd_kafka_err2str(err));
        return 0;
    }
    if (lo <= expected)
        return 0; /* transaction markers or compaction */
    int64_t end = lo < got ? lo : got, lost = end - expected;
    e->gap_reported[partition][s] = expected + 1;
    jp_counter_add(jp_engine_lost_counter(e, topic, partition), (uint64_t)lost);
    if (stop) {
        jp_engine_fail(e, 75,
                       "%s [%d]: %lld records (offsets %lld..%lld) were removed by retention "
                       "before the engine read them; stopping (processing.on_input_loss: stop; "
                       "set it to continue to skip them)",
                       topic, partition, (long long)lost, (long long)expected, (long long)end - 1);
        return -1;
    }
    jp_log_error("engine",
                 "%s [%d]: %lld records (offsets %lld..%lld) were removed by retention before "
                 "the engine read them; continuing (processing.on_input_loss: continue)",
                 topic, partition, (long long)lost, (long long)expected, (long long)end - 1);
    return lost;
}
