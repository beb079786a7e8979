/*
 * jp_engine_repartition: the repartition topic, jackpot.<group>-repartition
 * (docs/processor.md, "Partitioning").
 *
 * Out: a task that meets a record of another task's country hands it here
 * (jp_task_io_t.repartition); it is produced to the home's partition of the
 * repartition topic with its original key, value, headers and timestamp,
 * plus the source header (jp_partition.h) naming the input topic and the
 * partition and offset it was read from. The producer is the engine's
 * idempotent one, so the copies of one source partition reach a home
 * partition in order, and the commit's flush (step 2) delivers them before
 * the source offsets are committed (step 3).
 *
 * In: each task reads its partition of the topic as a fourth stream, next
 * to its inputs, with the follower consumer; the commit commits its offset
 * with the inputs' and the changelog header carries it, so a rewind, a
 * restore or a rebalance treats it exactly as an input. A copy reaches the
 * task as a record of its input (the source header says which) and is
 * processed like one, after jp_task's replay check.
 */
#include "jp_engine-internal.h"

#include <stdio.h>
#include <string.h>

#include "base/jp_log.h"
#include "config/jp_topics.h"

void jp_engine_repartition_init(jp_engine_t *e)
{
    jp_topics_repartition(e->cfg, e->repartition, sizeof(e->repartition));
}

int jp_engine_n_streams(const jp_engine_t *e)
{
    return e->repartition[0] ? N_STREAMS : JP_INPUT__COUNT;
}

const char *jp_engine_stream_topic(const jp_engine_t *e, int s)
{
    return s == JP_STREAM_REPARTITION ? e->repartition : e->topics[s];
}

int jp_engine_stream_of(const jp_engine_t *e, const char *topic)
{
    for (int s = 0; s < jp_engine_n_streams(e); s++)
        if (strcmp(topic, jp_engine_stream_topic(e, s)) == 0)
            return s;
    return N_STREAMS;
}

int64_t jp_engine_stream_offset(const jp_task_t *t, int s)
{
    return s == JP_STREAM_REPARTITION ? jp_task_repartition_offset(t)
                                      : jp_task_next_offset(t, (jp_input_t)s);
}

void jp_engine_set_stream_offset(jp_task_t *t, int s, int64_t off)
{
    if (s == JP_STREAM_REPARTITION)
        jp_task_set_repartition_offset(t, off);
    else
        jp_task_set_next_offset(t, (jp_input_t)s, off);
}

int jp_engine_stream_record(jp_engine_t *e, const rd_kafka_message_t *m, int s,
                            jp_task_record_t *out)
{
    rd_kafka_timestamp_type_t tst;
    int64_t ts = rd_kafka_message_timestamp(m, &tst);
    *out = (jp_task_record_t){(jp_input_t)s,
                              m->offset,
                              tst == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts,
                              m->key,
                              m->key_len,
                              m->payload,
                              m->len,
                              m,
                              0,
                              -1,
                              -1};
    if (s != JP_STREAM_REPARTITION)
        return 0;
    rd_kafka_headers_t *h;
    const void *v = NULL;
    size_t n = 0, tlen;
    const char *topic;
    int32_t part;
    int64_t off;
    int in = N_STREAMS;
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(h, JP_PARTITION_HDR_SOURCE, &v, &n) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        v && jp_partition_parse_source(v, n, &topic, &tlen, &part, &off) == 0)
        for (int i = 0; i < JP_INPUT__COUNT; i++)
            if (strlen(e->topics[i]) == tlen && memcmp(e->topics[i], topic, tlen) == 0)
                in = i;
    if (in == N_STREAMS) {
        /* Not a copy this engine wrote (or of inputs it no longer has):
         * nothing to apply it as. */
        jp_log_error("engine", "%s [%d] offset %lld: no readable %s header; skipped",
                     e->repartition, m->partition, (long long)m->offset, JP_PARTITION_HDR_SOURCE);
        jp_counter_add(e->repartition_invalid, 1);
        return -1;
    }
    out->input = (jp_input_t)in;
    out->via_repartition = 1;
    out->src_partition = part;
    out->src_offset = off;
    return 0;
}

int jp_engine_io_repartition(void *ctx, int partition, int home, const jp_task_record_t *rec)
{
    jp_engine_t *e = ctx;
    rd_kafka_headers_t *h = jp_engine_record_headers(rec, 1);
    char src[400];
    int n = snprintf(src, sizeof(src), "%s/%d/%lld", e->topics[rec->input], partition,
                     (long long)rec->offset);
    rd_kafka_header_add(h, JP_PARTITION_HDR_SOURCE, -1, src, n);
    /* The original timestamp: the home validates event time against it. */
    return jp_engine_produce_at(e, e->rkt_repartition, home, rec->key, rec->key_len, rec->value,
                                rec->value_len, h, NULL,
                                rec->timestamp_ms > 0 ? rec->timestamp_ms : 0);
}
