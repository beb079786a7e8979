/*
 * jp_test_topic: reading a topic to its end, the one way every test that
 * checks what landed in Kafka does it. Include after <stdarg.h>,
 * <stddef.h>, <setjmp.h>, <cmocka.h>.
 */
#ifndef JP_TEST_TOPIC_H
#define JP_TEST_TOPIC_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

typedef void (*jp_test_record_fn)(void *ctx, const rd_kafka_message_t *m);

/* Calls fn(ctx, m) for every record of topic: every partition, from its
 * low to its high watermark as they stand at the call (records produced
 * later are not waited for), in offset order per partition. The consumer
 * joins no group. Fails the calling test if the topic does not exist, a
 * fetch fails, or no record arrives for a minute. Returns the records
 * read. */
uint64_t jp_test_read_topic(const char *bootstraps, const char *topic, jp_test_record_fn fn,
                            void *ctx);

#endif
