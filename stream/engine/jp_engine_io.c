/*
 * jp_engine_io: producing - the task's output hooks (features, dead
 * letters; output keys as plain strings or Confluent-framed Avro strings,
 * topics.output_key_format) and the delivery report that tracks, per task and store, the
 * highest changelog offset reached (written to the store at step 4 of the
 * commit). Records carry their (task, store) in the producer opaque so
 * the delivery report needs no lookup.
 */
#include "jp_engine-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jp_log.h"

/* ---- producing ----------------------------------------------------------------- */

/* Changelog records carry (task, store) in their opaque: 1 + p * N + cf. */
void *jp_engine_changelog_opaque(int p, jp_cf_t cf)
{
    return (void *)(intptr_t)(1 + (intptr_t)p * JP_CF__COUNT + cf);
}

void jp_engine_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    jp_engine_t *e = opaque;
    if (m->err && jp_engine_dlq_refused(e, m))
        return; /* written again as a stub: not a failed delivery */
    if (m->err) {
        if (!e->delivery_err)
            e->delivery_err = m->err;
        jp_engine_metrics_delivery_error(e);
        jp_log_error("engine", "delivery to %s [%d] failed: %s", rd_kafka_topic_name(m->rkt),
                     m->partition, rd_kafka_err2str(m->err));
        return;
    }
    intptr_t o = (intptr_t)m->_private;
    if (o > 0) {
        int p = (int)((o - 1) / JP_CF__COUNT);
        int cf = (int)((o - 1) % JP_CF__COUNT);
        if (p < MAX_TASKS && m->offset > e->cl_reached[p][cf])
            e->cl_reached[p][cf] = m->offset;
    }
}

rd_kafka_resp_err_t jp_engine_produce_rc(jp_engine_t *e, rd_kafka_topic_t *rkt, int partition,
                                         const void *key, size_t klen, const void *val, size_t vlen,
                                         rd_kafka_headers_t *hdrs, void *opaque,
                                         int64_t timestamp_ms)
{
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            e->producer, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)val, vlen),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
            RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            if (err && hdrs)
                rd_kafka_headers_destroy(hdrs);
            return err;
        }
        rd_kafka_poll(e->producer, QUEUE_FULL_WAIT_MS); /* deliveries, then retry */
    }
}

int jp_engine_produce_at(jp_engine_t *e, rd_kafka_topic_t *rkt, int partition, const void *key,
                         size_t klen, const void *val, size_t vlen, rd_kafka_headers_t *hdrs,
                         void *opaque, int64_t timestamp_ms)
{
    rd_kafka_resp_err_t err =
        jp_engine_produce_rc(e, rkt, partition, key, klen, val, vlen, hdrs, opaque, timestamp_ms);
    if (!err)
        return 0;
    jp_log_error("engine", "cannot produce to %s: %s", rd_kafka_topic_name(rkt),
                 rd_kafka_err2str(err));
    return -1;
}

int jp_engine_produce(jp_engine_t *e, rd_kafka_topic_t *rkt, int partition, const void *key,
                      size_t klen, const void *val, size_t vlen, rd_kafka_headers_t *hdrs,
                      void *opaque)
{
    return jp_engine_produce_at(e, rkt, partition, key, klen, val, vlen, hdrs, opaque, 0);
}

int jp_engine_output_key(jp_engine_t *e, rd_kafka_topic_t *rkt, const void *key, size_t len,
                         const void **out, size_t *out_len)
{
    *out = key;
    *out_len = len;
    if (e->cfg->topics.output_key_format != JP_KEY_FORMAT_AVRO)
        return 0;
    char err[256];
    e->key_buf.len = 0;
    if (jp_serde_encode_key(e->serde, rd_kafka_topic_name(rkt), key, len, &e->key_buf, err,
                            sizeof(err)) != JP_SERDE_OK) {
        jp_log_error("engine", "key of %s: %s", rd_kafka_topic_name(rkt), err);
        return -1;
    }
    *out = e->key_buf.data;
    *out_len = e->key_buf.len;
    return 0;
}

/* A keyed output record: the default partitioner keeps one key's records
 * in order. */
static int produce_keyed(jp_engine_t *e, rd_kafka_topic_t *rkt, const void *key, size_t klen,
                         const void *value, size_t len)
{
    const void *k;
    size_t kl;
    if (jp_engine_output_key(e, rkt, key, klen, &k, &kl) != 0)
        return -1;
    return jp_engine_produce(e, rkt, RD_KAFKA_PARTITION_UA, k, kl, value, len, NULL, NULL);
}

int jp_engine_io_features(void *ctx, int partition, const char *key, const void *value, size_t len)
{
    jp_engine_t *e = ctx;
    (void)partition;
    return produce_keyed(e, e->rkt_features, key, 2, value, len); /* key: the country */
}

int jp_engine_io_emit(void *ctx, int partition, jp_output_t topic, const char *key, size_t key_len,
                      const void *value, size_t len)
{
    jp_engine_t *e = ctx;
    (void)partition;
    if ((unsigned)topic >= JP_OUTPUT__COUNT)
        return -1;
    return produce_keyed(e, e->rkt_out[topic], key, key_len, value, len);
}

rd_kafka_headers_t *jp_engine_record_headers(const jp_task_record_t *rec, size_t extra)
{
    const rd_kafka_message_t *m = rec->origin;
    rd_kafka_headers_t *orig = NULL;
    if (m && rd_kafka_message_headers(m, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR)
        return rd_kafka_headers_copy(orig);
    return rd_kafka_headers_new(extra);
}
