/*
 * jp_engine_dlq: writing dead letters (the format is jp_dlq.h's). A dead
 * letter must never stop the engine: one that is too large for the
 * producer is written truncated at once, and one the broker refuses at
 * delivery (a topic max.message.bytes below the producer's) is written
 * again as a stub - the engine's headers, no value - instead of failing
 * the commit, which would rewind every task onto the same record forever.
 * Either way the record counts as dead-lettered and processing goes on;
 * jackpot_dead_letters_truncated_total counts how many were cut.
 */
#include "jp_engine-internal.h"

#include <stdlib.h>

#include "base/jp_log.h"

/* Dead letters carry this opaque, so the delivery report can tell them
 * from changelog records (positive) and outputs (NULL). */
#define DLQ_OPAQUE ((void *)(intptr_t)-1)
/* A stub refused in turn is an ordinary delivery failure. */
#define DLQ_STUB_OPAQUE ((void *)(intptr_t)-2)

jp_counter_t *jp_engine_dlq_truncated_counter(jp_engine_t *e, int input)
{
    char labels[400], topic[300];
    jp_metrics_label_escape(topic, sizeof(topic), e->dlq[input]);
    snprintf(labels, sizeof(labels), "topic=\"%s\"", topic);
    return jp_metrics_counter(e->metrics, "jackpot_dead_letters_truncated_total",
                              "Dead letters written without all of the original record", labels);
}

static void count_truncated(jp_engine_t *e, int input)
{
    jp_counter_add(jp_engine_dlq_truncated_counter(e, input), 1);
}

/* Produces a built dead letter (its headers go to the producer). */
static rd_kafka_resp_err_t produce(jp_engine_t *e, int input, int partition, jp_dlq_record_t *r,
                                   void *opaque)
{
    rd_kafka_resp_err_t err =
        jp_engine_produce_rc(e, e->rkt_dlq[input], partition, r->key, r->key_len, r->value,
                             r->value_len, r->headers, opaque, 0);
    free(r->value);
    r->value = NULL;
    return err;
}

int jp_engine_io_dead_letter(void *ctx, int partition, const jp_task_record_t *rec,
                             const char *error_class, const char *message)
{
    jp_engine_t *e = ctx;
    const rd_kafka_message_t *m = rec->origin;
    rd_kafka_headers_t *orig = NULL;
    if (m && rd_kafka_message_headers(m, &orig) != RD_KAFKA_RESP_ERR_NO_ERROR)
        orig = NULL;
    /* A copy from the repartition topic names where it was first read. */
    jp_dlq_source_t src = {.error_class = error_class,
                           .message = message,
                           .topic = e->topics[rec->input],
                           .partition = rec->via_repartition ? rec->src_partition : partition,
                           .offset = rec->via_repartition ? rec->src_offset : rec->offset,
                           .timestamp_ms = rec->timestamp_ms};
    /* The producer's own size check is exact where the estimate is not:
     * on refusal, halve the budget until it fits. */
    for (size_t budget = e->dlq_max_bytes; budget >= 1024; budget /= 2) {
        jp_dlq_record_t r;
        if (jp_dlq_build(e->dlq_key, &src, rec->key, rec->key_len, rec->value, rec->value_len, orig,
                         budget, &r) != 0) {
            jp_log_error("engine", "cannot build the dead letter of %s [%d] offset %lld",
                         e->topics[rec->input], partition, (long long)rec->offset);
            return -1;
        }
        int truncated = r.truncated;
        rd_kafka_resp_err_t err = produce(e, rec->input, partition, &r, DLQ_OPAQUE);
        if (!err) {
            if (truncated) {
                count_truncated(e, rec->input);
                jp_log_warn("engine",
                            "%s [%d] offset %lld: dead letter (%s) written truncated: the record "
                            "is larger than the producer's message.max.bytes",
                            e->topics[rec->input], partition, (long long)rec->offset, error_class);
            }
            return 0;
        }
        if (err != RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
            jp_log_error("engine", "cannot produce to %s: %s", e->dlq[rec->input],
                         rd_kafka_err2str(err));
            return -1;
        }
    }
    jp_log_error("engine", "cannot produce a dead letter of any size to %s", e->dlq[rec->input]);
    return -1;
}

int jp_engine_dlq_refused(jp_engine_t *e, const rd_kafka_message_t *m)
{
    if (m->_private != DLQ_OPAQUE || (m->err != RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE &&
                                      m->err != RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE))
        return 0;
    int input = -1;
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        if (m->rkt == e->rkt_dlq[i])
            input = i;
    rd_kafka_headers_t *h = NULL;
    jp_dlq_record_t r;
    if (input < 0 || rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        jp_dlq_build_stub(h, m->len, &r) != 0)
        return 0;
    rd_kafka_resp_err_t err = produce(e, input, m->partition, &r, DLQ_STUB_OPAQUE);
    if (err) {
        jp_log_error("engine", "cannot produce a dead-letter stub to %s: %s", e->dlq[input],
                     rd_kafka_err2str(err));
        return 0;
    }
    count_truncated(e, input);
    jp_log_warn("engine", "%s refused a dead letter of %zu bytes (%s): written without its value",
                e->dlq[input], m->len, rd_kafka_err2str(m->err));
    return 1;
}
