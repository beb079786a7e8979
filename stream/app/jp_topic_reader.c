/*
 * jp_topic_reader: see jp_topic_reader.h.
 */
#include "app/jp_topic_reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

/* Properties of the processor's map a group-less reader must not take. */
static int group_key(const char *key)
{
    return strcmp(key, "group.id") == 0 || strcmp(key, "group.instance.id") == 0 ||
           strcmp(key, "partition.assignment.strategy") == 0 || strncmp(key, "session.", 8) == 0 ||
           strncmp(key, "heartbeat.", 10) == 0 || strcmp(key, "client.id") == 0;
}

static int apply(rd_kafka_conf_t *conf, const jp_conf_props_t *p, int skip_group, char *errstr,
                 size_t errstr_size)
{
    for (size_t i = 0; p && i < p->n; i++) {
        if (skip_group && group_key(p->keys[i]))
            continue;
        if (rd_kafka_conf_set(conf, p->keys[i], p->values[i], errstr, errstr_size) !=
            RD_KAFKA_CONF_OK)
            return -1;
    }
    return 0;
}

rd_kafka_t *jp_topic_reader_new(const char *client_id, const char *brokers,
                                const jp_conf_props_t *props, const jp_conf_props_t *x,
                                char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (apply(conf, props, 1, errstr, errstr_size) != 0 ||
        (brokers && rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, errstr_size)) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "false", errstr, errstr_size) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size) ||
        rd_kafka_conf_set(conf, "client.id", client_id, errstr, errstr_size) ||
        /* Never joins (partitions are assigned), but a consumer without a
         * group.id reports "Unknown group" on assign. */
        rd_kafka_conf_set(conf, "group.id", client_id, errstr, errstr_size) ||
        apply(conf, x, 0, errstr, errstr_size) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
    if (!rk)
        rd_kafka_conf_destroy(conf);
    return rk;
}

void jp_topic_ends_free(jp_topic_ends_t *ends)
{
    if (!ends)
        return;
    free(ends->partition);
    free(ends->lo);
    free(ends->hi);
    memset(ends, 0, sizeof(*ends));
}

int jp_topic_reader_assign(rd_kafka_t *rk, const char *brokers, const char *topic,
                           int from_beginning, int timeout_ms, jp_topic_ends_t *ends, char *errstr,
                           size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    if (ends)
        memset(ends, 0, sizeof(*ends));
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (e) {
        snprintf(errstr, errstr_size, "cannot reach the Kafka brokers at %s within %d ms: %s",
                 brokers ? brokers : "(kafka map)", timeout_ms, rd_kafka_err2str(e));
        return EX_UNAVAILABLE;
    }
    const struct rd_kafka_metadata_topic *mt = NULL;
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, topic) == 0)
            mt = &md->topics[i];
    if (!mt || mt->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || mt->partition_cnt == 0) {
        snprintf(errstr, errstr_size, "topic %s does not exist on %s", topic,
                 brokers ? brokers : "the cluster");
        rd_kafka_metadata_destroy(md);
        return EX_NOINPUT;
    }
    if (mt->err) {
        snprintf(errstr, errstr_size, "topic %s: %s", topic, rd_kafka_err2str(mt->err));
        rd_kafka_metadata_destroy(md);
        return EX_UNAVAILABLE;
    }
    int n = mt->partition_cnt;
    jp_topic_ends_t local = {0}, *t = ends ? ends : &local;
    t->n = n;
    t->partition = calloc((size_t)n, sizeof(*t->partition));
    t->lo = calloc((size_t)n, sizeof(*t->lo));
    t->hi = calloc((size_t)n, sizeof(*t->hi));
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; t->partition && t->lo && t->hi && i < n; i++) {
        int32_t p = mt->partitions[i].id;
        t->partition[i] = p;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &t->lo[i], &t->hi[i], timeout_ms))
            t->lo[i] = t->hi[i] = -1;
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
            from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
    }
    rd_kafka_metadata_destroy(md);
    e = parts->cnt == n ? rd_kafka_assign(rk, parts) : RD_KAFKA_RESP_ERR__FAIL;
    rd_kafka_topic_partition_list_destroy(parts);
    jp_topic_ends_free(&local);
    if (e) {
        jp_topic_ends_free(ends);
        snprintf(errstr, errstr_size, "assign %s: %s", topic, rd_kafka_err2str(e));
        return EX_UNAVAILABLE;
    }
    return 0;
}

void jp_topic_reader_print(json_t *line)
{
    char *s = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s)
        puts(s);
    free(s);
    json_decref(line);
}

void jp_topic_reader_free(rd_kafka_t *rk)
{
    if (rk)
        rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}
