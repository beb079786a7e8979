/*
 * The dev broker: real Kafka protocol on loopback. A librdkafka producer
 * and consumer round-trip records through it; fixed ports are honoured;
 * configured topics exist with their partition counts; a broker taken
 * down and up keeps its port. The bind(2) interposed for the fixed ports
 * leaves every other bind to the C library: in a process that never
 * starts a dev broker (as `jackpot run`), on other threads while one
 * starts, and on the starting thread once it has started.
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
#include <errno.h>
#include <pthread.h>
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

/* Binds a new TCP socket to 127.0.0.1:port (0: any); the port bound, or
 * -1 with errno. The socket is closed again. */
static int bind_loopback(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    int rc = bind(s, (struct sockaddr *)&sin, sizeof(sin)), saved = errno;
    if (rc == 0)
        assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
    close(s);
    errno = saved;
    return rc == 0 ? ntohs(sin.sin_port) : -1;
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

/* Runs first: this process has not started a dev broker yet, as a
 * `jackpot run` never does. Every bind is the C library's. */
static void test_bind_untouched_without_dev_broker(void **state)
{
    (void)state;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    errno = 0;
    assert_int_equal(bind(-1, (struct sockaddr *)&sin, sizeof(sin)), -1);
    assert_int_equal(errno, EBADF);
    int any = bind_loopback(0);
    assert_true(any > 0);
    int fixed = free_port(1);
    assert_int_equal(bind_loopback(fixed), fixed);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sin.sin_port = htons((uint16_t)fixed);
    assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(s, 1), 0);
    assert_int_equal(bind_loopback(fixed), -1); /* in use: the C library says so */
    assert_int_equal(errno, EADDRINUSE);
    close(s);
}

typedef struct {
    int port;
    jp_broker_t *b;
    volatile int done;
} starter_t;

static void *start_broker(void *arg)
{
    starter_t *st = arg;
    char err[512];
    st->b = jp_broker_start(3, st->port, err, sizeof(err));
    st->done = 1;
    return NULL;
}

/* The plan belongs to the thread starting the brokers, for that call
 * only: binds to port 0 elsewhere, or later, never get a planned port. */
static void test_bind_plan_is_the_starting_threads_only(void **state)
{
    (void)state;
    starter_t st = {free_port(3), NULL, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, start_broker, &st), 0);
    int binds = 0;
    do {
        int p = bind_loopback(0);
        assert_true(p > 0);
        assert_true(p < st.port || p > st.port + 2);
        binds++;
    } while (!st.done);
    pthread_join(th, NULL);
    assert_non_null(st.b);
    char want[96];
    snprintf(want, sizeof(want), "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", st.port, st.port + 1,
             st.port + 2);
    assert_string_equal(jp_broker_bootstraps(st.b), want);
    for (int i = 0; i < 20; i++) { /* after the start, on this thread: no plan left */
        int p = bind_loopback(0);
        assert_true(p > 0 && (p < st.port || p > st.port + 3));
    }
    print_message("%d binds while the brokers started\n", binds);
    jp_broker_stop(st.b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bind_untouched_without_dev_broker),
        cmocka_unit_test(test_bind_plan_is_the_starting_threads_only),
        cmocka_unit_test(test_roundtrip_on_fixed_ports),
        cmocka_unit_test(test_port_in_use_is_an_error),
        cmocka_unit_test(test_config_topics_and_metadata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
