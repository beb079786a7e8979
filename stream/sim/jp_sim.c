/*
 * jp_sim: the run loop. One generator per country; per simulated hour the
 * countries run in world order, and each emitted event goes through
 * on_event: silence check, fault choice (one uniform per sales/customer
 * record from the country's "faults" stream), value-level mutation,
 * encoding into one reusable buffer, byte-level mutation, output. Faults
 * are recorded in the truth with the record's per-topic sequence number
 * and a hash of its bytes so a consumer can match every dead letter.
 *
 * Countries are generated one after another per hour, but a topic's
 * partition may hold several countries (the key is the country), so the
 * hour's records are buffered and written in the order of the times they
 * were generated for (before any fault moved an event time), countries
 * interleaved: a shared partition stays in event-time order, as it would
 * with real producers, and late or out-of-order faults keep exactly their
 * intended displacement. Sequence numbers are assigned at that write.
 *
 * That order is a stable sort of the hour by generation time, ties in
 * arrival order (country order, then emission order). Each country emits
 * its hour in time order already (jp_sim_gen.h), so every country's
 * records are encoded straight into a buffer of its own and flush_hour
 * merges the countries' lists (ties to the lower country index) instead
 * of sorting; a list found out of order is stable-sorted first, so the
 * result is the sort's in every case.
 *
 * Encoding: the first record of each type goes through jp_serde_encode,
 * which registers its schema (so registration order and ids are those of
 * first use) and gives the id; the rest are written by jp_sim_encode
 * (byte-identical, checked against jp_serde once per run), falling back to
 * jp_serde_encode for anything it declines.
 */
#include "sim/jp_sim.h"
#include "model/base/jp_err.h"
#include "base/jp_clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/base/jp_hash.h"
#include "sim/jp_sim_encode.h"
#include "sim/jp_sim_faults.h"
#include "sim/jp_sim_memreg.h"

#define HOUR_MS 3600000LL
#define WEEK_MS (7 * 24 * HOUR_MS)

enum { T_SALES, T_CUSTOMERS, T_DRAWS };

/* One buffered record of the hour; its key and value are in its country's
 * bytes (a duplicate's two records share them). */
typedef struct pending_s {
    int64_t order; /* generation time */
    uint32_t n;    /* arrival order in its country: the tie-break of the sort */
    int topic;
    size_t key_off, key_len, val_off, val_len;
    int64_t ts;
    long fault;
} pending_t;

typedef struct {
    jp_sim_gen_t *gen;
    jp_rng_t rng_faults;
    int64_t silent_until[3]; /* 0: not silent */
    /* the hour's records, in arrival order */
    pending_t *pend;
    size_t n_pend, cap_pend;
    int unordered; /* a record arrived with an earlier generation time */
    jp_avro_buf_t bytes;
} country_run_t;

typedef struct {
    const jp_sim_world_t *w;
    const jp_sim_options_t *o;
    jp_sim_truth_t *truth;
    jp_sim_stats_t *stats;
    jp_serde_t *serde;
    int rogue_reader;
    char rogue_topic[256];
    country_run_t *c;
    const char *topic[3];
    uint64_t seq[3];
    int32_t schema_id[3]; /* per topic, once its first record registered it */
    int have_id[3];
    int direct; /* jp_sim_encode agrees with jp_serde here */
    /* Some fault rate is non-zero. Without one the fault stream is never
     * drawn from: it feeds nothing else, so outputs are unchanged. */
    int any_fault;
    int64_t now;
    char *errstr;
    size_t errstr_size;
} run_t;

uint64_t jp_sim_seed(const jp_sim_world_t *w, const jp_sim_options_t *o)
{
    return o && o->seed_set ? o->seed : (uint64_t)w->seed;
}

int64_t jp_sim_weeks(const jp_sim_world_t *w, const jp_sim_options_t *o)
{
    return o && o->weeks > 0 ? o->weeks : w->weeks;
}

static int type_topic(jp_event_type_t type)
{
    return type == JP_EVENT_SALE ? T_SALES : type == JP_EVENT_CUSTOMER ? T_CUSTOMERS : T_DRAWS;
}

static int write_now(run_t *r, int t, const char *key, size_t key_len, const void *val, size_t len,
                     int64_t ts, long fault)
{
    r->seq[t]++;
    r->stats->records++;
    r->stats->records_by_type[t]++;
    if (fault >= 0 && r->truth)
        jp_sim_truth_fault_seq(r->truth, fault, r->seq[t]);
    if (!r->o->output.write)
        return 0;
    if (r->o->output.write(r->o->output.ctx, r->topic[t], key, key_len, val, len, ts, fault) != 0) {
        jp_err_set(r->errstr, r->errstr_size, "writing to %s failed", r->topic[t]);
        return -1;
    }
    return 0;
}

/* Buffers one record of the current hour (see the design note above): its
 * value is already at val_off in the country's bytes. */
static int add_pending(country_run_t *c, int64_t order, int t, size_t key_off, size_t key_len,
                       size_t val_off, size_t val_len, int64_t ts, long fault)
{
    if (c->n_pend == c->cap_pend) {
        size_t cap = c->cap_pend ? 2 * c->cap_pend : 4096;
        pending_t *p = realloc(c->pend, cap * sizeof(*p));
        if (!p)
            return -1;
        c->pend = p;
        c->cap_pend = cap;
    }
    if (c->n_pend && order < c->pend[c->n_pend - 1].order)
        c->unordered = 1;
    pending_t *p = &c->pend[c->n_pend];
    *p = (pending_t){order, (uint32_t)c->n_pend, t, key_off, key_len, val_off, val_len, ts, fault};
    c->n_pend++;
    return 0;
}

static int pending_cmp(const void *a, const void *b)
{
    const pending_t *x = a, *y = b;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return (x->n > y->n) - (x->n < y->n);
}

static int write_pending(run_t *r, const country_run_t *c, const pending_t *p)
{
    return write_now(r, p->topic, (const char *)c->bytes.data + p->key_off, p->key_len,
                     c->bytes.data + p->val_off, p->val_len, p->ts, p->fault);
}

/* Writes the hour: the countries' lists merged by generation time, ties to
 * the lower country index (it arrived first), then emptied. */
static int flush_hour(run_t *r)
{
    size_t n = r->w->countries.n;
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (r->c[i].unordered) {
            qsort(r->c[i].pend, r->c[i].n_pend, sizeof(pending_t), pending_cmp);
            r->c[i].unordered = 0;
        }
    size_t head[64];
    size_t *h = n <= 64 ? head : calloc(n, sizeof(size_t));
    if (!h)
        return -1;
    memset(h, 0, n * sizeof(size_t));
    while (rc == 0) {
        size_t best = n;
        int64_t best_order = 0;
        for (size_t i = 0; i < n; i++) {
            const country_run_t *c = &r->c[i];
            if (h[i] < c->n_pend && (best == n || c->pend[h[i]].order < best_order)) {
                best = i;
                best_order = c->pend[h[i]].order;
            }
        }
        if (best == n)
            break;
        rc = write_pending(r, &r->c[best], &r->c[best].pend[h[best]++]);
    }
    if (h != head)
        free(h);
    for (size_t i = 0; i < n; i++) {
        r->c[i].n_pend = 0;
        r->c[i].bytes.len = 0;
    }
    return rc;
}

/* Appends the framed record of ev to out: jp_sim_encode once the topic's
 * schema id is known, else (and for anything it declines) jp_serde. */
static int encode(run_t *r, int reader, int t, const char *topic, const void *ev,
                  jp_avro_buf_t *out)
{
    if (reader < JP_EVENT__COUNT && r->direct && r->have_id[t]) {
        size_t bound = jp_sim_encode_bound((jp_event_type_t)reader, ev);
        if (jp_avro_buf_reserve(out, bound) != 0) {
            jp_err_set(r->errstr, r->errstr_size, "out of memory");
            return -1;
        }
        size_t n =
            jp_sim_encode((jp_event_type_t)reader, ev, r->schema_id[t], out->data + out->len);
        if (n) {
            out->len += n;
            return 0;
        }
    }
    size_t mark = out->len;
    jp_serde_err_t e = jp_serde_encode(r->serde, reader, topic, ev, out, r->errstr, r->errstr_size);
    if (e != JP_SERDE_OK)
        return -1;
    if (reader < JP_EVENT__COUNT && !r->have_id[t]) {
        const unsigned char *payload;
        size_t plen;
        if (jp_serde_frame_parse(out->data + mark, out->len - mark, &r->schema_id[t], &payload,
                                 &plen) == JP_SERDE_OK)
            r->have_id[t] = 1;
    }
    return 0;
}

static int on_event(void *ctx, size_t ci, jp_event_type_t type, void *ev)
{
    run_t *r = ctx;
    country_run_t *c = &r->c[ci];
    int t = type_topic(type);
    r->stats->events++;
    if (c->silent_until[t] > r->now)
        return 0;
    if (r->o->skip_encoding)
        return 0;

    int64_t gen_time = type == JP_EVENT_SALE       ? ((jp_sale_event_t *)ev)->event_time
                       : type == JP_EVENT_CUSTOMER ? ((jp_customer_event_t *)ev)->event_time
                                                   : ((jp_draw_result_t *)ev)->draw_time;
    jp_sim_fault_t f = JP_SIM_FAULT__COUNT;
    if (type != JP_EVENT_DRAW && r->any_fault)
        f = jp_sim_faults_pick(r->w->fault_rate, type, &c->rng_faults);
    if (f != JP_SIM_FAULT__COUNT)
        jp_sim_faults_mutate_event(f, type, ev, r->w->config.windows.allowed_lateness_ms,
                                   r->w->config.windows.grace_ms, &c->rng_faults);

    const jp_avro_str_t *country = type == JP_EVENT_SALE ? &((jp_sale_event_t *)ev)->country
                                   : type == JP_EVENT_CUSTOMER
                                       ? &((jp_customer_event_t *)ev)->country
                                       : &((jp_draw_result_t *)ev)->country;
    int64_t ts = type == JP_EVENT_SALE       ? ((jp_sale_event_t *)ev)->event_time
                 : type == JP_EVENT_CUSTOMER ? ((jp_customer_event_t *)ev)->event_time
                                             : ((jp_draw_result_t *)ev)->draw_time;
    const jp_avro_str_t *event_id = type == JP_EVENT_SALE ? &((jp_sale_event_t *)ev)->event_id
                                    : type == JP_EVENT_CUSTOMER
                                        ? &((jp_customer_event_t *)ev)->event_id
                                        : &((jp_draw_result_t *)ev)->draw_id;

    /* key, then the framed value, into the country's bytes */
    jp_avro_buf_t *b = &c->bytes;
    size_t key_off = b->len;
    if (jp_avro_buf_append(b, country->ptr, country->len) != 0) {
        jp_err_set(r->errstr, r->errstr_size, "out of memory");
        return -1;
    }
    size_t val_off = b->len;
    if (f == JP_SIM_FAULT_WRONG_TYPE) {
        jp_sim_rogue_sale_t rogue;
        char text[16];
        jp_sim_faults_rogue_sale(ev, &rogue, text, sizeof(text));
        if (encode(r, r->rogue_reader, t, r->rogue_topic, &rogue, b) != 0)
            return -1;
    } else if (encode(r, (int)type, t, r->topic[t], ev, b) != 0) {
        return -1;
    }
    size_t len = b->len - val_off;
    unsigned char *val = b->data + val_off;
    if (f != JP_SIM_FAULT__COUNT) {
        jp_sim_faults_mutate_bytes(f, val, &len, r->stats->faults[f]);
        b->len = val_off + len;
    }

    long fault = -1;
    if (f != JP_SIM_FAULT__COUNT) {
        r->stats->faults[f]++;
        if (r->truth) {
            char key[8], id[64];
            snprintf(key, sizeof(key), "%.*s", (int)country->len, country->ptr);
            snprintf(id, sizeof(id), "%.*s", (int)event_id->len, event_id->ptr);
            /* set when written (flush_hour); a duplicate's fault is its second copy */
            uint64_t seq = 0;
            fault = jp_sim_truth_fault(r->truth, f, r->topic[t], key, id, seq,
                                       jp_sim_fault_expected_error(f), jp_hash64(val, len, 0));
        }
    }
    if ((f == JP_SIM_FAULT_DUPLICATE &&
         add_pending(c, gen_time, t, key_off, country->len, val_off, len, ts, -1) != 0) ||
        add_pending(c, gen_time, t, key_off, country->len, val_off, len, ts, fault) != 0) {
        jp_err_set(r->errstr, r->errstr_size, "out of memory");
        return -1;
    }
    return 0;
}

static void apply_changes(run_t *r, unsigned char *applied, int64_t t)
{
    const jp_sim_change_t *ch = r->w->changes.items;
    const jp_sim_country_t *k = r->w->countries.items;
    for (size_t i = 0; i < r->w->changes.n; i++) {
        if (applied[i] || t < r->w->start_ms + ch[i].week * WEEK_MS)
            continue;
        applied[i] = 1;
        for (size_t j = 0; j < r->w->countries.n; j++) {
            if (ch[i].country && strcmp(ch[i].country, k[j].code) != 0)
                continue;
            if (ch[i].kind == JP_SIM_CHANGE_SILENCE) {
                int topic = strcmp(ch[i].target, "sales") == 0       ? T_SALES
                            : strcmp(ch[i].target, "customers") == 0 ? T_CUSTOMERS
                                                                     : T_DRAWS;
                r->c[j].silent_until[topic] = ch[i].weeks ? t + ch[i].weeks * WEEK_MS : INT64_MAX;
            } else {
                jp_sim_gen_apply_change(r->c[j].gen, &ch[i]);
            }
            if (r->truth)
                jp_sim_truth_change(r->truth, &ch[i], k[j].code, t);
        }
    }
}

/* Paces the run: wall time follows simulated time / speed. Wall time
 * never reaches the records. */
static void pace(double wall0, int64_t sim_elapsed_ms, double speed)
{
    double due = (double)sim_elapsed_ms / 1000.0 / speed;
    double ahead = due - (jp_clock_now_s() - wall0);
    if (ahead > 0) {
        struct timespec ts = {(time_t)ahead, (long)((ahead - (double)(time_t)ahead) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

int jp_sim_run(const jp_sim_world_t *w, const jp_sim_options_t *o, jp_sim_truth_t *truth,
               jp_sim_stats_t *stats, char *errstr, size_t errstr_size)
{
    jp_sim_stats_t local_stats;
    run_t r;
    memset(&r, 0, sizeof(r));
    if (!stats)
        stats = &local_stats;
    memset(stats, 0, sizeof(*stats));
    r.w = w;
    r.o = o;
    r.truth = truth;
    r.stats = stats;
    r.errstr = errstr;
    r.errstr_size = errstr_size;
    if (errstr_size)
        errstr[0] = '\0';
    if (!w->config_loaded) {
        jp_err_set(errstr, errstr_size, "the world's processor configuration is not loaded");
        return -1;
    }
    r.topic[T_SALES] = w->config.topics.sales.name;
    r.topic[T_CUSTOMERS] = w->config.topics.customers.name;
    r.topic[T_DRAWS] = w->config.topics.draws.name;
    snprintf(r.rogue_topic, sizeof(r.rogue_topic), "%s-rogue", r.topic[T_SALES]);
    for (int f = 0; f < JP_SIM_FAULT__COUNT; f++)
        r.any_fault |= w->fault_rate[f] > 0;
    uint64_t seed = jp_sim_seed(w, o);
    int64_t weeks = jp_sim_weeks(w, o);
    size_t n = w->countries.n;
    int rc = -1;
    jp_sim_memreg_t *memreg = NULL;
    char *rogue = NULL;
    unsigned char *applied = calloc(w->changes.n + 1, 1);
    r.c = calloc(n, sizeof(country_run_t));
    if (!applied || !r.c) {
        jp_err_set(errstr, errstr_size, "out of memory");
        goto out;
    }

    if (!o->skip_encoding) {
        r.direct = jp_sim_encode_check();
        jp_serde_config_t sc;
        memset(&sc, 0, sizeof(sc));
        sc.registry = o->registry;
        if (!sc.registry.register_schema) {
            memreg = jp_sim_memreg_new();
            if (!memreg) {
                jp_err_set(errstr, errstr_size, "out of memory");
                goto out;
            }
            sc.registry = jp_sim_memreg_registry(memreg);
        }
        r.serde = jp_serde_new(&sc, errstr, errstr_size);
        if (!r.serde)
            goto out;
        r.rogue_reader = -1;
        if (w->fault_rate[JP_SIM_FAULT_WRONG_TYPE] > 0) {
            rogue = jp_sim_faults_rogue_schema(errstr, errstr_size);
            if (!rogue)
                goto out;
            r.rogue_reader = jp_serde_add_reader(r.serde, rogue, strlen(rogue),
                                                 &jp_sim_rogue_sale_layout, errstr, errstr_size);
            if (r.rogue_reader < 0)
                goto out;
        }
    }

    const jp_sim_country_t *k = w->countries.items;
    for (size_t i = 0; i < n; i++) {
        r.c[i].gen =
            jp_sim_gen_new(w, i, seed, truth, o->lookup, o->lookup_ctx, errstr, errstr_size);
        if (!r.c[i].gen)
            goto out;
        jp_sim_rng_seed(&r.c[i].rng_faults, seed, k[i].code, "faults");
    }

    jp_sim_emit_t emit = {&r, on_event};
    int64_t end = w->start_ms + weeks * WEEK_MS;
    double wall0 = jp_clock_now_s();
    rc = 0;
    for (int64_t t = w->start_ms; t < end && rc == 0; t += HOUR_MS) {
        if (o->stop && *o->stop)
            break;
        r.now = t;
        apply_changes(&r, applied, t);
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = jp_sim_gen_hour(r.c[i].gen, t, &emit);
        if (rc == 0)
            rc = flush_hour(&r);
        stats->end_ms = t + HOUR_MS;
        if (o->progress)
            o->progress(o->progress_ctx, stats->end_ms, stats->records);
        if (o->speed > 0)
            pace(wall0, stats->end_ms - w->start_ms, o->speed);
    }
    if (rc != 0 && !*errstr)
        jp_err_set(errstr, errstr_size, "generation failed");
    if (truth)
        for (int t = 0; t < 3; t++)
            jp_sim_truth_totals(truth, r.topic[t], r.seq[t]);

out:
    if (r.c)
        for (size_t i = 0; i < n; i++) {
            jp_sim_gen_free(r.c[i].gen);
            free(r.c[i].pend);
            jp_avro_buf_free(&r.c[i].bytes);
        }
    free(r.c);
    free(applied);
    free(rogue);
    jp_serde_free(r.serde);
    jp_sim_memreg_free(memreg);
    return rc;
}
