/*
 * jp_test_topic: the end of a topic is its high watermarks at the start,
 * not partition EOF events, so a reader never stops early on an empty
 * fetch and never waits for records that are not coming; a partition
 * whose last offsets hold no record (compaction, transaction markers) ends
 * at its EOF event instead. Records before a partition's next wanted
 * offset (a fetch may repeat after a retry) are skipped, so each is handed
 * over once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jp_test_topic.h"

#include <stdlib.h>

#define IDLE_POLLS_MAX 60 /* one second each */

static rd_kafka_t *reader(const char *bootstraps)
{
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(c, "bootstrap.servers", bootstraps, err, sizeof(err)), 0);
    assert_int_equal(rd_kafka_conf_set(c, "group.id", "jp-test-reader", err, sizeof(err)),
                     0); /* never joins: assign() only */
    /* Records up to 4 MB (the simulator's slab test) in one fetch. */
    assert_int_equal(rd_kafka_conf_set(c, "fetch.message.max.bytes", "4000000", err, sizeof(err)),
                     0);
    assert_int_equal(rd_kafka_conf_set(c, "enable.partition.eof", "true", err, sizeof(err)), 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    if (!rk)
        fail_msg("reader: %s", err);
    return rk;
}

static size_t partitions_of(rd_kafka_t *rk, const char *topic)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    assert_int_equal(rd_kafka_metadata(rk, 0, rkt, &md, 10000), 0);
    int parts = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    if (parts <= 0)
        fail_msg("topic %s does not exist", topic);
    return parts > 0 ? (size_t)parts : 0;
}

uint64_t jp_test_read_topic(const char *bootstraps, const char *topic, jp_test_record_fn fn,
                            void *ctx)
{
    rd_kafka_t *rk = reader(bootstraps);
    size_t parts = partitions_of(rk, topic);
    int64_t *end = calloc(parts, sizeof(*end)), *next = calloc(parts, sizeof(*end));
    assert_true(end && next);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)parts);
    int open = 0;
    for (int p = 0; p < (int)parts; p++) {
        assert_int_equal(rd_kafka_query_watermark_offsets(rk, topic, p, &next[p], &end[p], 10000),
                         0);
        if (next[p] < end[p]) {
            rd_kafka_topic_partition_list_add(l, topic, p)->offset = next[p];
            open++;
        }
    }
    assert_int_equal(rd_kafka_assign(rk, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    uint64_t n = 0;
    for (int idle = 0; open > 0;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
        if (!m) {
            if (++idle >= IDLE_POLLS_MAX)
                fail_msg("%s: no record for %d s, %d partition(s) unfinished", topic, idle, open);
            continue;
        }
        idle = 0;
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            fail_msg("%s: %s", topic, rd_kafka_message_errstr(m));
        int p = m->partition;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && next[p] < end[p] && m->offset >= end[p]) {
            next[p] = end[p]; /* no record left below the end */
            open--;
        } else if (!m->err && m->offset >= next[p] && m->offset < end[p]) {
            fn(ctx, m);
            n++;
            next[p] = m->offset + 1;
            if (next[p] == end[p])
                open--;
        }
        rd_kafka_message_destroy(m);
    }
    free(end);
    free(next);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return n;
}
