/*
 * jp_sim_produce: one librdkafka producer for every topic (topic handles
 * cached by name) and the event time as the message timestamp (so
 * CreateTime is simulated time, not wall time).
 *
 * Values live in the producer's slabs, not in librdkafka's messages: each
 * record is copied once, sequentially, into the current 1 MB slab, and
 * produced without RD_KAFKA_MSG_F_COPY, so librdkafka allocates only its
 * message struct and never copies the value again. A slab is released when
 * every record in it has had its delivery report, then reused. The message
 * opaque is not a pointer but the record's slab and truth fault index
 * packed into one integer (opaque_pack): a delivery report then touches no
 * memory of ours but the slab table - a header next to the value would be
 * a cache miss per record, since reports come long after the write.
 * Delivery reports are served every POLL_EVERY records, so slabs come back
 * in a steady cycle and few are ever allocated. A value larger than a slab
 * is copied by librdkafka instead.
 *
 * The closed loop's consumer is separate and never joins a group: it
 * assigns every partition of the recommendations topic from the beginning
 * and is drained without blocking whenever the generator asks for a prize.
 */
#include "sim/jp_sim_produce.h"
#include "model/base/jp_err.h"

#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jp_clock.h"
#include "base/jp_log.h"
#include "registry/jp_registry_client.h"
#include "registry/jp_registry_serde.h"
#include "serde/jp_events.h"

typedef struct {
    char country[8];
    char draw_id[48];
    int64_t prize;
} rec_t;

/* Delivery reports are served every this many records (and while the
 * local queue is full, and by flush), not after each one. */
#define POLL_EVERY 1024
#define SLAB_SIZE  (1u << 20)

typedef struct {
    unsigned char *data;
    size_t used;
    size_t refs; /* records in it still waiting for their delivery report */
} slab_t;

/* The message opaque: slab index + 1 (0: the value is not in a slab) in the
 * low OPAQUE_SLAB_BITS bits, truth fault index + 1 (0: none) above. */
#define OPAQUE_SLAB_BITS 24 /* 16M slabs of 1 MB */
#define OPAQUE_MAX_FAULT (((long)1 << (63 - OPAQUE_SLAB_BITS)) - 2)
_Static_assert(sizeof(uintptr_t) >= 8, "the message opaque packs two indices into a pointer");

static void *opaque_pack(size_t slab_plus_1, long fault)
{
    return (void *)(((uintptr_t)(fault + 1) << OPAQUE_SLAB_BITS) | (uintptr_t)slab_plus_1);
}

static size_t opaque_slab(const void *o)
{
    return (size_t)((uintptr_t)o & (((uintptr_t)1 << OPAQUE_SLAB_BITS) - 1));
}

static long opaque_fault(const void *o)
{
    return (long)((uintptr_t)o >> OPAQUE_SLAB_BITS) - 1;
}

/* Slab space of a value of len bytes (16-byte aligned records). */
static size_t slab_need(size_t len)
{
    return (len + 15) & ~(size_t)15;
}

typedef struct {
    char *name;
    rd_kafka_topic_t *rkt;
    int64_t *delivered; /* per partition, grown on demand */
    int n_partitions;
} topic_t;

struct jp_sim_producer_s {
    rd_kafka_t *rk;
    topic_t *topics;
    size_t n_topics;
    size_t last_topic; /* index of the one found last: records come in runs */
    unsigned writes;
    slab_t *slabs;
    size_t n_slabs, cur; /* cur: the one being filled, n_slabs if none */
    size_t *free_slabs, n_free;
    jp_sim_truth_t *truth;
    uint64_t failures;
    char first_error[256];

    rd_kafka_t *consumer;
    jp_registry_client_t *loop_registry;
    jp_serde_t *serde; /* the loop's, owned */
    int wait_ms;
    uint64_t misses;
    jp_avro_arena_t arena;
    rec_t *recs;
    size_t n_recs;
};

/* Properties of the processor's kafka map that only a consumer takes. */
static const char *const consumer_only[] = {"group.id",
                                            "group.instance.id",
                                            "partition.assignment.strategy",
                                            "session.timeout.ms",
                                            "heartbeat.interval.ms",
                                            "auto.offset.reset",
                                            "enable.auto.commit",
                                            "auto.commit.interval.ms",
                                            "isolation.level",
                                            "max.poll.interval.ms",
                                            "fetch.min.bytes",
                                            "enable.partition.eof",
                                            NULL};

static int consumer_only_prop(const char *key)
{
    for (int i = 0; consumer_only[i]; i++)
        if (strcmp(consumer_only[i], key) == 0)
            return 1;
    return 0;
}

/* A record of slab i (index) has had its report. */
static void slab_release(jp_sim_producer_t *p, size_t i)
{
    if (--p->slabs[i].refs == 0 && i != p->cur)
        p->free_slabs[p->n_free++] = i;
}

/* Copies value into the current slab (a fresh one when it is full); NULL
 * when out of memory or when the value exceeds a slab. */
static unsigned char *slab_put(jp_sim_producer_t *p, const void *value, size_t len)
{
    size_t need = slab_need(len);
    if (need > SLAB_SIZE)
        return NULL;
    if (p->cur == p->n_slabs || p->slabs[p->cur].used + need > SLAB_SIZE) {
        size_t old = p->cur;
        if (p->n_free) {
            p->cur = p->free_slabs[--p->n_free];
        } else {
            if (p->n_slabs + 1 >= (size_t)1 << OPAQUE_SLAB_BITS)
                return NULL; /* its index would not fit in the opaque */
            slab_t *v = realloc(p->slabs, (p->n_slabs + 1) * sizeof(*v));
            if (!v)
                return NULL;
            p->slabs = v;
            size_t *f = realloc(p->free_slabs, (p->n_slabs + 1) * sizeof(*f));
            if (!f)
                return NULL;
            p->free_slabs = f;
            v[p->n_slabs].data = malloc(SLAB_SIZE);
            if (!v[p->n_slabs].data)
                return NULL;
            v[p->n_slabs].refs = 0;
            if (old == p->n_slabs)
                old++; /* "none" moves with the count */
            p->cur = p->n_slabs++;
        }
        p->slabs[p->cur].used = 0;
        /* the full one is free as soon as its last report is in */
        if (old < p->n_slabs && p->slabs[old].refs == 0)
            p->free_slabs[p->n_free++] = old;
    }
    slab_t *sl = &p->slabs[p->cur];
    unsigned char *dst = sl->data + sl->used;
    memcpy(dst, value, len);
    sl->used += need;
    return dst;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    jp_sim_producer_t *p = opaque;
    size_t slab = opaque_slab(m->_private);
    long fault = opaque_fault(m->_private);
    if (slab)
        slab_release(p, slab - 1);
    if (m->err) {
        if (p->failures++ == 0)
            snprintf(p->first_error, sizeof(p->first_error), "%s", rd_kafka_err2str(m->err));
        return;
    }
    if (fault >= 0 && p->truth)
        jp_sim_truth_fault_delivered(p->truth, fault, m->partition, m->offset);
    for (size_t i = 0; i < p->n_topics; i++) {
        topic_t *t = &p->topics[i];
        if (t->rkt != m->rkt || m->partition < 0)
            continue;
        if (m->partition >= t->n_partitions) {
            int64_t *d = realloc(t->delivered, ((size_t)m->partition + 1) * sizeof(*d));
            if (!d)
                return;
            memset(d + t->n_partitions, 0,
                   (size_t)(m->partition + 1 - t->n_partitions) * sizeof(*d));
            t->delivered = d;
            t->n_partitions = m->partition + 1;
        }
        t->delivered[m->partition]++;
        return;
    }
}

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *errstr,
                    size_t errstr_size)
{
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        jp_err_set(errstr, errstr_size, "kafka property %s: %s", k, err);
        return -1;
    }
    return 0;
}

jp_sim_producer_t *jp_sim_producer_new(const char *brokers, const jp_conf_props_t *props,
                                       const jp_conf_props_t *overrides, jp_sim_truth_t *truth,
                                       char *errstr, size_t errstr_size)
{
    jp_sim_producer_t *p = calloc(1, sizeof(*p));
    if (!p) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    p->truth = truth;
    jp_avro_arena_init(&p->arena);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    static const char *const defaults[][2] = {
        {"enable.idempotence", "true"},
        {"partitioner", "murmur2_random"},
        {"linger.ms", "20"},
        {"batch.num.messages", "100000"},
        {"batch.size", "4000000"},
        {"queue.buffering.max.messages", "2000000"},
        {"queue.buffering.max.kbytes", "1048576"},
        {"compression.codec", "none"},
        {"client.id", "jackpot-simulate"},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]) && !bad; i++)
        bad = conf_set(conf, defaults[i][0], defaults[i][1], errstr, errstr_size);
    for (size_t i = 0; props && i < props->n && !bad; i++)
        if (!consumer_only_prop(props->keys[i]))
            bad = conf_set(conf, props->keys[i], props->values[i], errstr, errstr_size);
    for (size_t i = 0; overrides && i < overrides->n && !bad; i++)
        bad = conf_set(conf, overrides->keys[i], overrides->values[i], errstr, errstr_size);
    if (!bad && brokers)
        bad = conf_set(conf, "bootstrap.servers", brokers, errstr, errstr_size);
    if (bad) {
        rd_kafka_conf_destroy(conf);
        free(p);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, p);
    char err[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!p->rk) {
        jp_err_set(errstr, errstr_size, "cannot create the producer: %s", err);
        rd_kafka_conf_destroy(conf);
        free(p);
        return NULL;
    }
    return p;
}

void jp_sim_producer_free(jp_sim_producer_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_topics; i++) {
        rd_kafka_topic_destroy(p->topics[i].rkt);
        free(p->topics[i].name);
        free(p->topics[i].delivered);
    }
    free(p->topics);
    if (p->rk)
        rd_kafka_destroy(p->rk);
    if (p->consumer) {
        rd_kafka_consumer_close(p->consumer);
        rd_kafka_destroy(p->consumer);
    }
    jp_avro_arena_free(&p->arena);
    jp_serde_free(p->serde);
    jp_registry_client_free(p->loop_registry);
    free(p->recs);
    /* after rd_kafka_destroy: librdkafka holds no value any more */
    for (size_t i = 0; i < p->n_slabs; i++)
        free(p->slabs[i].data);
    free(p->slabs);
    free(p->free_slabs);
    free(p);
}

static rd_kafka_topic_t *topic_for(jp_sim_producer_t *p, const char *name)
{
    if (p->last_topic < p->n_topics && strcmp(p->topics[p->last_topic].name, name) == 0)
        return p->topics[p->last_topic].rkt;
    for (size_t i = 0; i < p->n_topics; i++)
        if (strcmp(p->topics[i].name, name) == 0) {
            p->last_topic = i;
            return p->topics[i].rkt;
        }
    topic_t *v = realloc(p->topics, (p->n_topics + 1) * sizeof(*v));
    if (!v)
        return NULL;
    p->topics = v;
    char *copy = strdup(name);
    rd_kafka_topic_t *t = copy ? rd_kafka_topic_new(p->rk, name, NULL) : NULL;
    if (!t) {
        free(copy);
        return NULL;
    }
    v[p->n_topics] = (topic_t){copy, t, NULL, 0};
    p->last_topic = p->n_topics++;
    return t;
}

static int producer_write(void *ctx, const char *topic, const void *key, size_t key_len,
                          const void *value, size_t len, int64_t ts, long fault)
{
    jp_sim_producer_t *p = ctx;
    rd_kafka_topic_t *t = topic_for(p, topic);
    if (!t)
        return -1;
    if (fault > OPAQUE_MAX_FAULT)
        return -1; /* would not fit in the opaque (2^39 faults: never in practice) */
    const unsigned char *copy = slab_put(p, value, len);
    size_t slab = 0;
    int flags = 0;
    if (copy) {
        value = copy;
        slab = p->cur + 1;
    } else if (slab_need(len) > SLAB_SIZE) {
        flags = RD_KAFKA_MSG_F_COPY; /* too large for a slab: librdkafka copies it */
    } else {
        return -1; /* out of memory */
    }
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p->rk, RD_KAFKA_V_RKT(t), RD_KAFKA_V_MSGFLAGS(flags),
            RD_KAFKA_V_KEY((void *)key, key_len), RD_KAFKA_V_VALUE((void *)value, len),
            RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_OPAQUE(opaque_pack(slab, fault)), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            if (p->failures++ == 0)
                snprintf(p->first_error, sizeof(p->first_error), "%s", rd_kafka_err2str(e));
            return -1; /* the slab space is simply not released: the run stops */
        }
        rd_kafka_poll(p->rk, 10);
    }
    if (slab)
        p->slabs[slab - 1].refs++;
    if (++p->writes % POLL_EVERY == 0)
        rd_kafka_poll(p->rk, 0);
    return 0;
}

jp_sim_output_t jp_sim_producer_output(jp_sim_producer_t *p)
{
    return (jp_sim_output_t){p, producer_write};
}

int jp_sim_producer_flush(jp_sim_producer_t *p, int timeout_ms, char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t e = rd_kafka_flush(p->rk, timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        jp_err_set(errstr, errstr_size, "flush: %s (%d records undelivered)", rd_kafka_err2str(e),
                   rd_kafka_outq_len(p->rk));
        return -1;
    }
    if (p->failures) {
        jp_err_set(errstr, errstr_size, "%llu records failed; first: %s",
                   (unsigned long long)p->failures, p->first_error);
        return -1;
    }
    return 0;
}

int jp_sim_producer_follow(jp_sim_producer_t *p, const char *topic, const char *registry_url,
                           int wait_ms, char *errstr, size_t errstr_size)
{
    char err[512];
    p->wait_ms = wait_ms;
    p->loop_registry = jp_registry_client_new(registry_url, errstr, errstr_size);
    if (!p->loop_registry)
        return -1;
    jp_serde_config_t sc;
    memset(&sc, 0, sizeof(sc));
    sc.registry = jp_serde_registry_client(p->loop_registry);
    p->serde = jp_serde_new(&sc, errstr, errstr_size);
    if (!p->serde)
        return -1;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *brokers = NULL;
    const rd_kafka_conf_t *pc = rd_kafka_conf(p->rk);
    char bs[1024];
    size_t bs_len = sizeof(bs);
    if (rd_kafka_conf_get(pc, "bootstrap.servers", bs, &bs_len) == RD_KAFKA_CONF_OK)
        brokers = bs;
    if ((brokers && conf_set(conf, "bootstrap.servers", brokers, errstr, errstr_size)) ||
        conf_set(conf, "group.id", "jackpot-simulate-loop", errstr, errstr_size) ||
        conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size)) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    p->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!p->consumer) {
        rd_kafka_conf_destroy(conf);
        jp_err_set(errstr, errstr_size, "cannot create the consumer: %s", err);
        return -1;
    }
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(p->consumer, topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(p->consumer, 0, t, &md, 5000);
    rd_kafka_topic_destroy(t);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        jp_err_set(errstr, errstr_size, "topic %s: %s", topic, rd_kafka_err2str(e));
        return -1;
    }
    if (md->topic_cnt != 1 || md->topics[0].err) {
        jp_err_set(errstr, errstr_size, "topic %s: %s", topic,
                   md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "not found");
        rd_kafka_metadata_destroy(md);
        return -1;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(l, topic, md->topics[0].partitions[i].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_metadata_destroy(md);
    e = rd_kafka_assign(p->consumer, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        jp_err_set(errstr, errstr_size, "assign %s: %s", topic, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

int jp_sim_producer_close_loop(jp_sim_producer_t *p, const jp_sim_world_t *w,
                               const char *registry_url, int wait_ms, jp_sim_options_t *o,
                               char *errstr, size_t errstr_size)
{
    const jp_sim_country_t *k = w->countries.items;
    int closed_loop = 0;
    for (size_t i = 0; i < w->countries.n; i++)
        closed_loop |= k[i].prize.policy == JP_SIM_POLICY_RECOMMENDATIONS;
    if (!closed_loop)
        return 0;
    if (jp_sim_producer_follow(p, w->config.topics.recommendations, registry_url, wait_ms, errstr,
                               errstr_size) != 0)
        return -1;
    o->lookup = jp_sim_producer_lookup;
    o->lookup_ctx = p;
    return 0;
}

static void remember(jp_sim_producer_t *p, const jp_recommendation_t *r)
{
    if (r->country.len >= sizeof(p->recs[0].country) ||
        r->draw_id.len >= sizeof(p->recs[0].draw_id))
        return;
    rec_t *v = realloc(p->recs, (p->n_recs + 1) * sizeof(*v));
    if (!v)
        return;
    p->recs = v;
    rec_t *x = &v[p->n_recs++];
    memcpy(x->country, r->country.ptr, r->country.len);
    x->country[r->country.len] = '\0';
    memcpy(x->draw_id, r->draw_id.ptr, r->draw_id.len);
    x->draw_id[r->draw_id.len] = '\0';
    x->prize = r->prize_minor;
}

/* Reads what has arrived (waiting up to timeout_ms for the first record). */
static void drain(jp_sim_producer_t *p, int timeout_ms)
{
    rd_kafka_message_t *m;
    while ((m = rd_kafka_consumer_poll(p->consumer, timeout_ms)) != NULL) {
        timeout_ms = 0;
        if (!m->err && m->payload) {
            jp_recommendation_t r;
            char err[256];
            jp_avro_arena_reset(&p->arena);
            /* INFEASIBLE too: its prize is the compromise that breaks the
             * fewest rules, the engine's answer for the draw */
            if (jp_serde_decode(p->serde, JP_EVENT_RECOMMENDATION, m->payload, m->len, &r,
                                &p->arena, err, sizeof(err)) == JP_SERDE_OK &&
                r.prize_minor > 0)
                remember(p, &r);
        }
        rd_kafka_message_destroy(m);
    }
}

/* The recommendation for this draw (1), else the country's latest (0), else
 * none (-1). */
static int find(const jp_sim_producer_t *p, const char *country, const char *draw_id,
                int64_t *prize_minor)
{
    long latest = -1;
    for (size_t i = p->n_recs; i-- > 0;) {
        if (strcmp(p->recs[i].country, country) != 0)
            continue;
        if (strcmp(p->recs[i].draw_id, draw_id) == 0) {
            *prize_minor = p->recs[i].prize;
            return 1;
        }
        if (latest < 0)
            latest = (long)i;
    }
    if (latest < 0)
        return -1;
    *prize_minor = p->recs[latest].prize;
    return 0;
}

uint64_t jp_sim_producer_loop_misses(const jp_sim_producer_t *p)
{
    return p->misses;
}

int jp_sim_producer_lookup(void *ctx, const char *country, const char *draw_id,
                           int64_t *prize_minor)
{
    jp_sim_producer_t *p = ctx;
    if (!p->consumer)
        return -1;
    drain(p, 0);
    int found = find(p, country, draw_id, prize_minor);
    if (found == 1 || p->wait_ms <= 0)
        return found >= 0 ? 0 : -1;
    rd_kafka_flush(p->rk, p->wait_ms);
    double deadline = jp_clock_now_s() + p->wait_ms / 1000.0;
    while (found != 1 && jp_clock_now_s() < deadline) {
        drain(p, 100);
        found = find(p, country, draw_id, prize_minor);
    }
    if (found != 1) {
        p->misses++;
        jp_log_warn("simulate",
                    "no recommendation for %s within %d ms: %s (the run is not reproducible)",
                    draw_id, p->wait_ms,
                    found == 0 ? "the country's latest stands" : "the schedule stands");
    }
    return found >= 0 ? 0 : -1;
}

int64_t jp_sim_producer_delivered(const jp_sim_producer_t *p, const char *topic, int partition)
{
    for (size_t i = 0; i < p->n_topics; i++)
        if (strcmp(p->topics[i].name, topic) == 0)
            return partition >= 0 && partition < p->topics[i].n_partitions
                       ? p->topics[i].delivered[partition]
                       : 0;
    return 0;
}
