/*
 * jp_broker: the dev broker - librdkafka's mock cluster on loopback, with
 * fixed ports and the configured topics created up front.
 *
 * The mock cluster speaks the real Kafka protocol, so kcat, librdkafka and
 * pure-Python clients can use it. Its limits (librdkafka 2.0.2): it keeps
 * everything in memory, at most about 5 MB per partition (older records are
 * trimmed: the low watermark moves), and offsets sent within a transaction
 * are accepted but not stored; plain commits work.
 */
#ifndef JP_BROKER_H
#define JP_BROKER_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "config/jp_config.h"

typedef struct jp_broker_s jp_broker_t;

/*
 * Starts n_brokers mock brokers on 127.0.0.1, broker i on first_port + i - 1
 * (first_port 0: ephemeral ports). NULL with the reason in errstr (for
 * example a port already in use).
 */
jp_broker_t *jp_broker_start(int n_brokers, int first_port, char *errstr, size_t errstr_size);

/* "127.0.0.1:9092,127.0.0.1:9093,..." */
const char *jp_broker_bootstraps(const jp_broker_t *b);

/* The mock cluster, for error injection in tests (rdkafka_mock.h). */
rd_kafka_mock_cluster_t *jp_broker_mock(jp_broker_t *b);

/* Creates a topic; 0, or -1 with the reason in errstr. */
int jp_broker_create_topic(jp_broker_t *b, const char *topic, int partitions, char *errstr,
                           size_t errstr_size);

/* Creates every topic of the configuration: the inputs, their dead-letter
 * topics, the engine's changelogs and repartition topic (for the
 * configuration's group.id) with the input partition count (the mock
 * cluster has no CreateTopics), and the outputs. */
int jp_broker_create_config_topics(jp_broker_t *b, const jp_config_t *cfg, char *errstr,
                                   size_t errstr_size);

/* Stops the brokers and frees everything. */
void jp_broker_stop(jp_broker_t *b);

#endif
