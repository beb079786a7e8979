/*
 * jp_broker: mock cluster lifecycle. Fixed ports come from the bind plan
 * armed around rd_kafka_mock_cluster_new (jp_bind_plan.c explains the
 * mechanism, and why it changes nothing for any other bind).
 */
#include "dev/jp_broker.h"
#include "jp_bind_plan-internal.h"
#include "model/base/jp_err.h"

#include "base/jp_log.h"
#include "config/jp_topics.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct jp_broker_s {
    rd_kafka_t *rk; /* owner of the mock cluster */
    rd_kafka_mock_cluster_t *mcluster;
    char *bootstraps;
};

/* Mock-cluster log lines go to the log only at warning level and up, in
 * the process's log format. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 4)
        jp_log(level <= 3 ? JP_LOG_ERROR : JP_LOG_WARN, "broker", "%s: %s", fac, buf);
}

/* librdkafka 2.0.2 aborts (an assertion in rd_kafka_mock_cluster_destroy)
 * when a mock broker cannot bind, so ports are probed first, the same way
 * the mock binds them (SO_REUSEADDR), to turn "in use" into an error. */
static int probe_port(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0), on = 1, ok;
    if (s < 0)
        return -1;
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    ok = bind(s, (const struct sockaddr *)&sin, sizeof(sin)) == 0;
    close(s);
    return ok ? 0 : -1;
}

jp_broker_t *jp_broker_start(int n_brokers, int first_port, char *errstr, size_t errstr_size)
{
    char err[512];
    if (n_brokers < 1 || n_brokers > 16 || first_port < 0 || first_port + n_brokers > 65536) {
        jp_err_set(errstr, errstr_size, "invalid broker count %d or port %d", n_brokers,
                   first_port);
        return NULL;
    }
    for (int i = 0; first_port && i < n_brokers; i++)
        if (probe_port(first_port + i) != 0) {
            jp_err_set(errstr, errstr_size, "127.0.0.1:%d is in use", first_port + i);
            return NULL;
        }
    jp_broker_t *b = calloc(1, sizeof(*b));
    if (!b) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    /* The owning handle never talks to a broker; keep it quiet. */
    if (rd_kafka_conf_set(conf, "client.id", "jackpot-broker", err, sizeof(err)) != 0) {
        jp_err_set(errstr, errstr_size, "%s", err);
        rd_kafka_conf_destroy(conf);
        free(b);
        return NULL;
    }
    b->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!b->rk) {
        jp_err_set(errstr, errstr_size, "cannot create the mock cluster's handle: %s", err);
        rd_kafka_conf_destroy(conf);
        free(b);
        return NULL;
    }
    jp_bind_plan_arm(first_port);
    b->mcluster = rd_kafka_mock_cluster_new(b->rk, n_brokers);
    jp_bind_plan_disarm();
    if (!b->mcluster) {
        if (first_port)
            jp_err_set(errstr, errstr_size,
                       "cannot start %d broker(s) on 127.0.0.1 ports %d..%d (in use?)", n_brokers,
                       first_port, first_port + n_brokers - 1);
        else
            jp_err_set(errstr, errstr_size, "cannot start the mock cluster");
        rd_kafka_destroy(b->rk);
        free(b);
        return NULL;
    }
    b->bootstraps = strdup(rd_kafka_mock_cluster_bootstraps(b->mcluster));
    return b;
}

const char *jp_broker_bootstraps(const jp_broker_t *b)
{
    return b->bootstraps;
}

rd_kafka_mock_cluster_t *jp_broker_mock(jp_broker_t *b)
{
    return b->mcluster;
}

int jp_broker_create_topic(jp_broker_t *b, const char *topic, int partitions, char *errstr,
                           size_t errstr_size)
{
    int replication = 1;
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(b->mcluster, topic, partitions, replication);
    if (e) {
        jp_err_set(errstr, errstr_size, "cannot create topic %s: %s", topic, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

int jp_broker_create_config_topics(jp_broker_t *b, const jp_config_t *cfg, char *errstr,
                                   size_t errstr_size)
{
    const jp_topic_conf_t *inputs[] = {&cfg->topics.sales, &cfg->topics.customers,
                                       &cfg->topics.draws};
    for (size_t i = 0; i < 3; i++) {
        char dlq[512];
        jp_topics_dlq(cfg, inputs[i]->name, dlq, sizeof(dlq));
        if (jp_broker_create_topic(b, inputs[i]->name, (int)inputs[i]->partitions, errstr,
                                   errstr_size) ||
            jp_broker_create_topic(b, dlq, (int)inputs[i]->partitions, errstr, errstr_size))
            return -1;
    }
    for (size_t i = 0; i < jp_topics_n_changelog_stores; i++) {
        char topic[512];
        jp_topics_changelog(cfg, jp_topics_changelog_stores[i], topic, sizeof(topic));
        if (jp_broker_create_topic(b, topic, (int)cfg->topics.sales.partitions, errstr,
                                   errstr_size))
            return -1;
    }
    char repartition[512];
    if (jp_topics_repartition(cfg, repartition, sizeof(repartition)) &&
        jp_broker_create_topic(b, repartition, (int)cfg->topics.sales.partitions, errstr,
                               errstr_size))
        return -1;
    const char *outputs[] = {cfg->topics.recommendations, cfg->topics.alerts, cfg->topics.features,
                             cfg->topics.models};
    for (size_t i = 0; i < 4; i++)
        if (jp_broker_create_topic(b, outputs[i], (int)cfg->topics.output_partitions, errstr,
                                   errstr_size))
            return -1;
    return 0;
}

void jp_broker_stop(jp_broker_t *b)
{
    if (!b)
        return;
    rd_kafka_mock_cluster_destroy(b->mcluster);
    rd_kafka_destroy(b->rk);
    free(b->bootstraps);
    free(b);
}
