/*
 * jp_task: the processing of one input partition triple (see jp_task.h for
 * the event-time rules that make it deterministic).
 *
 * In memory a task keeps only what every record touches: the watermarks,
 * the counters and the open windows (a handful per country). Customers and
 * dedupe entries live in the store's write-back cache. At commit the open
 * windows and the metadata are written into the store's dirty set, so one
 * mechanism - the dirty set - feeds both the changelog and the RocksDB
 * batch.
 *
 * Expiry is decided on read, by event time: a dedupe entry or a customer
 * older than its horizon is treated as absent whether or not garbage
 * collection (jp_store_expire at commit, whose timing depends on the commit
 * interval) has removed it yet. So commit timing never changes a result.
 */
#include "engine/jp_task.h"
#include "model/base/jp_err.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/jp_log.h"
#include "engine/jp_customer.h"
#include "model/base/jp_bytes.h"
#include "engine/jp_event_time.h"
#include "engine/jp_holdings.h"
#include "model/base/jp_err.h"
#include "model/sketch/jp_dedupe.h"
#include "model/base/jp_endian.h"
#include "config/jp_tz.h"

#define NO_TIME INT64_MIN
/* Restore commits to RocksDB every this many changelog records, bounding
 * the cache while a large store is rebuilt. */
#define RESTORE_BATCH 10000
/* Stores opened side by side by jp_task_open_many. */
#define JP_TASK_OPEN_THREADS 4

/* Memtable weights: the customers CF takes nearly every write of a busy
 * task (one key per active customer per commit); meta, windows, models and
 * ledger take a few keys per commit. An equal split gave customers so
 * small a memtable that a single commit filled it several times over, and
 * with atomic flush every fill flushed all six CFs and stalled writes. */
const jp_store_cf_def_t jp_task_store_cfs[JP_CF__COUNT] = {
    [JP_CF_META] = {"meta", 1},
    [JP_CF_WINDOWS] = {"windows", 2},
    [JP_CF_CUSTOMERS] = {"customers", 20},
    [JP_CF_DEDUPE] = {"dedupe", 4},
    [JP_CF_MODELS] = {"models", 2},
    [JP_CF_LEDGER] = {"ledger", 1},
    [JP_CF_ALERTS] = {"alerts", 1},
};
_Static_assert(JP_CF_META == JP_STORE_META_CF, "jp_store commits meta entries to CF 0");

const char *jp_cf_name(jp_cf_t cf)
{
    return (unsigned)cf < JP_CF__COUNT ? jp_task_store_cfs[cf].name : NULL;
}

static const char *const meta_wm = "wm";
static const char *const meta_cnt = "cnt";
static const char *const meta_gc = "gc";
static const char *const local_in = "local/in";
static const char *const local_cl = "local/cl";
static const char *const meta_first = "first";
static const char *const meta_clock = "clk";
static const char *const meta_repartition = "rp";
static const char *const meta_draw_next = "dnext";
static const char *const meta_recent = "recent";
static const char *const meta_lost = "lost";
/* Per country (see "holdings" below): the step signals "sig/CC", the
 * holdings' summary "hold/CC", each postcode "hpc/CC" + token and each
 * hour of pending deltas "hph/CC" + hour (8 bytes, big-endian). */
static const char *const meta_signals = "sig/";
static const char *const meta_holdings = "hold/";
static const char *const meta_postcode = "hpc/";
static const char *const meta_pending = "hph/";

/* A fact waiting for the clock (jp_proc.h): a closed window's
 * FeatureVector, kept in meta under its delivery key
 *     "fact" | time (8) | kind (1) | country (2) | window kind (1) | start (8)
 * (times big-endian offset binary, so keys sort in delivery order). */
#define FACT_KEY_LEN 24
enum { FACT_WINDOW = 0 };
typedef struct {
    uint8_t key[FACT_KEY_LEN];
    uint8_t *val; /* the framed FeatureVector */
    size_t len;
} fact_t;

struct jp_proc_ctx_s {
    jp_task_t *t;
};

typedef struct {
    char country[3];
    jp_window_kind_t kind;
    int64_t active;     /* subscribers at the last close */
    char *last_json;    /* features of the last closed window */
    int64_t last_start; /* its start (from last_json), NO_TIME if none */
    int dirty;
} carried_t;

typedef struct {
    jp_window_t *w;
    int dirty;
} open_window_t;

/* What a task keeps per country besides windows: the advertised prize and
 * campaigns in the sales partition's order, and the holdings. */
typedef struct {
    char code[3];
    jp_window_signals_t signals;
    int signals_dirty;
    jp_holdings_t *holdings;
} country_state_t;

typedef union {
    jp_sale_event_t sale;
    jp_customer_event_t customer;
    jp_draw_result_t draw;
} event_t;

/* One record of a batch between decoding and applying. */
typedef struct batch_slot_s {
    event_t ev;
    jp_serde_err_t err;
    char msg[256]; /* the decoding error, if any */
    char token[JP_PII_TOKEN_LEN + 1];
    uint64_t postcode; /* the postcode's token as a number, 0: none */
} batch_slot_t;

struct jp_task_s {
    const jp_task_env_t *env;
    jp_serde_t *serde;
    int partition;
    jp_store_t *store;
    int64_t next_offset[JP_INPUT__COUNT];
    int64_t max_event[JP_INPUT__COUNT]; /* highest applied event time, NO_TIME if none */
    jp_task_counts_t counts[JP_INPUT__COUNT];
    jp_recent_t recent[JP_INPUT__COUNT]; /* recent event times (jp_event_time.h) */
    int64_t lost[JP_INPUT__COUNT];       /* records removed by retention before read */
    int64_t cl_offset[JP_CF__COUNT];
    int meta_dirty;
    open_window_t *open;
    size_t n_open, cap_open;
    carried_t *carried;
    size_t n_carried;
    jp_avro_arena_t arena; /* the events of the batch being processed */
    batch_slot_t *batch;   /* JP_TASK_BATCH_MAX records */
    char (*batch_tokens)[JP_PII_TOKEN_LEN + 1];
    jp_avro_buf_t out;
    long restored_since_commit;
    /* Keys of changelog records a restore skipped (jp_task_restore_skip):
     * (cf u8, length u32, bytes) packed, touched once the restore is done. */
    jp_bytes_writer_t skipped;
    int64_t gc_customers; /* last expiry cutoff of customers; NO_TIME: none yet */
    /* Event ids within the horizon, per input (jp_dedupe), persisted as
     * segments in the dedupe CF; see "Deduplication" below. */
    jp_dedupe_t *dedupe[JP_INPUT__COUNT];
    uint64_t dedupe_seq;                    /* next segment sequence number */
    int64_t dedupe_sealed[JP_INPUT__COUNT]; /* buckets below this are sealed */
    unsigned kinds; /* bit per jp_window_kind_t configured in windows.sizes */
    /* The last draw period found per calendar: most records fall in the
     * current one, and finding it walks the calendar in local time.
     * The engine swaps validators only after jp_task_forget_calendars. */
    struct {
        const jp_calendar_t *cal;
        int64_t start, end;
    } draw_period[8];
    unsigned draw_period_next;
    /* Processors (jp_proc.h): one instance each, the facts waiting for the
     * clock (sorted by key), and what the data snapshot and timers need. */
    struct jp_proc_ctx_s pctx;
    void *proc[JP_TASK_MAX_PROCS];
    fact_t *facts;
    size_t n_facts, cap_facts;
    int64_t first_event[JP_INPUT__COUNT], first_offset[JP_INPUT__COUNT];
    int64_t timer_cursor; /* timers have run up to here; NO_TIME: not started */
    int64_t last_clock;
    /* Draws are scheduled: per country seen on the draws input, its next
     * scheduled draw after the last one applied (see watermark()). */
    struct {
        char country[4];
        int64_t next_ms;
    } draw_next[JP_TASK_MAX_DRAW_COUNTRIES];
    size_t n_draw_next;
    jp_avro_arena_t fact_arena;
    jp_partition_state_t rp; /* the repartition stream (jp_partition.h) */
    /* Per country signals and holdings, and the earliest end of an open
     * window still waiting for its holdings snapshot (INT64_MAX: none). */
    country_state_t *cstate;
    size_t n_cstate;
    int64_t fold_next;
    /* The customer state after the record being applied, for processors. */
    jp_customer_t rec_customer;
    int rec_has_customer;
};

/* ---- helpers ------------------------------------------------------------- */

static unsigned kinds_enabled(const jp_config_t *cfg);
static int dedupe_load(jp_task_t *t);
static void fold_next_update(jp_task_t *t);

static void put_i64s(uint8_t *buf, const int64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        jp_be64_put(buf + 8 * i, (uint64_t)v[i]);
}

static int get_i64s(const void *val, size_t len, int64_t *v, size_t n)
{
    const uint8_t *p = val;
    if (len != 8 * n)
        return -1;
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)jp_be64_get(p + 8 * i);
    return 0;
}

static int64_t lateness(const jp_task_t *t)
{
    return t->env->cfg->windows.allowed_lateness_ms;
}

static int64_t grace(const jp_task_t *t)
{
    return t->env->cfg->windows.grace_ms;
}

/* The earliest next scheduled draw of the countries whose draws may reach
 * the task - those the partitioning contract homes here, or every
 * configured one when nothing is checked - on its draws partition or as
 * copies; INT64_MAX while one of them has had no draw applied yet (its
 * first draw may still come, older than the others' next ones). */
static int64_t draws_next(const jp_task_t *t)
{
    int64_t next = INT64_MAX;
    for (size_t c = 0; c < t->env->cfg->n_countries; c++) {
        const char *cc = t->env->cfg->country[c].code;
        int home = jp_partition_home(&t->env->partition, cc);
        if (home >= 0 && home != t->partition)
            continue;
        size_t k = 0;
        while (k < t->n_draw_next && strcmp(t->draw_next[k].country, cc) != 0)
            k++;
        if (k == t->n_draw_next)
            return INT64_MAX;
        if (t->draw_next[k].next_ms < next)
            next = t->draw_next[k].next_ms;
    }
    return next;
}

/* The event time input partition i counts as having seen: the highest
 * applied from it; draws follow the countries' calendars, so a draws
 * partition has seen every draw before the next scheduled one of each
 * country it may carry (draws_next): it counts as if it had seen a record just before the
 * earliest of those (a sparse draw calendar - a monthly draw alone on its
 * partition - would otherwise hold the task's clock, and every fact and
 * decision, until the next draw). A stream of draws copies advances the
 * same way (apply()). Its watermark wm[i] is that minus the allowed
 * lateness. */
static int64_t seen(const jp_task_t *t, jp_input_t i)
{
    if (t->max_event[i] == NO_TIME)
        return NO_TIME;
    int64_t s = t->max_event[i];
    if (i == JP_INPUT_DRAWS && t->n_draw_next) {
        int64_t next = draws_next(t);
        if (next != INT64_MAX && next - 1 > s)
            s = next - 1;
    }
    return s;
}

static int64_t watermark(const jp_task_t *t, jp_input_t i)
{
    int64_t s = seen(t, i);
    return s == NO_TIME ? NO_TIME : s - lateness(t);
}

/* A draw of country at t_ms was applied: its next scheduled draw. */
static void draw_applied(jp_task_t *t, const char *country, const jp_calendar_t *cal, int64_t t_ms)
{
    jp_draw_t next;
    if (!cal || jp_calendar_next_draw(cal, t_ms, 0, &next) != 0)
        return;
    size_t k = 0;
    while (k < t->n_draw_next && strcmp(t->draw_next[k].country, country) != 0)
        k++;
    if (k == t->n_draw_next) {
        if (k == JP_TASK_MAX_DRAW_COUNTRIES || strlen(country) >= sizeof(t->draw_next[k].country))
            return; /* more countries than tracked: the raw watermark only */
        strcpy(t->draw_next[k].country, country);
        t->draw_next[k].next_ms = next.time_ms;
        t->n_draw_next++;
    } else if (next.time_ms > t->draw_next[k].next_ms) {
        t->draw_next[k].next_ms = next.time_ms;
    }
    t->meta_dirty = 1;
}

/* The newest event time of input i over the task's input partition and
 * its streams of copies (jp_partition.h): the lowest of them (floor: what
 * the clock and the dedupe horizon may assume) or the highest. With no
 * copies, the input partition's. */
static int64_t input_newest(const jp_task_t *t, jp_input_t i, int floor)
{
    if (!t->rp.n_countries)
        return seen(t, i);
    return floor ? jp_partition_input_floor(&t->rp, i, seen(t, i))
                 : jp_partition_input_ceiling(&t->rp, i, seen(t, i));
}

/* The watermark of input i for the windows of country cc: the input
 * partition's, or for a country that came as copies the lowest of the
 * streams that carried it. */
static int64_t feed_watermark(const jp_task_t *t, jp_input_t i, const char *cc)
{
    int64_t n =
        t->rp.n_countries ? jp_partition_feed_newest(&t->rp, i, cc, seen(t, i)) : seen(t, i);
    return n == NO_TIME ? NO_TIME : n - lateness(t);
}

static void count(const jp_task_t *t, jp_input_t input, const char *what, const char *reason)
{
    if (t->env->io.count)
        t->env->io.count(t->env->io.ctx, input, what, reason);
}

static carried_t *carried_find(const jp_task_t *t, const char *country, jp_window_kind_t kind)
{
    for (size_t i = 0; i < t->n_carried; i++)
        if (t->carried[i].kind == kind && memcmp(t->carried[i].country, country, 2) == 0)
            return &t->carried[i];
    return NULL;
}

static carried_t *carried_for(jp_task_t *t, const char *country, jp_window_kind_t kind)
{
    carried_t *found = carried_find(t, country, kind);
    if (found)
        return found;
    carried_t *c = realloc(t->carried, (t->n_carried + 1) * sizeof(*c));
    if (!c)
        return NULL;
    t->carried = c;
    c = &t->carried[t->n_carried++];
    memset(c, 0, sizeof(*c));
    memcpy(c->country, country, 2);
    c->kind = kind;
    c->last_start = NO_TIME;
    return c;
}

/* Meta key of a carried entry: "act/GB/0". */
static size_t carried_key(const carried_t *c, char *key, size_t size)
{
    return (size_t)snprintf(key, size, "car/%.2s/%d", c->country, (int)c->kind);
}

/* ---- per-country state -------------------------------------------------------- */

static void cstate_clear(jp_task_t *t)
{
    for (size_t i = 0; i < t->n_cstate; i++)
        jp_holdings_free(t->cstate[i].holdings);
    free(t->cstate);
    t->cstate = NULL;
    t->n_cstate = 0;
}

/* The state of a country, created empty if needed; NULL without memory. */
static country_state_t *cstate_for(jp_task_t *t, const char *code)
{
    for (size_t i = 0; i < t->n_cstate; i++)
        if (memcmp(t->cstate[i].code, code, 2) == 0)
            return &t->cstate[i];
    jp_holdings_t *h = jp_holdings_new();
    country_state_t *c = h ? realloc(t->cstate, (t->n_cstate + 1) * sizeof(*c)) : NULL;
    if (!c) {
        jp_holdings_free(h);
        return NULL;
    }
    t->cstate = c;
    c = &t->cstate[t->n_cstate++];
    memset(c, 0, sizeof(*c));
    memcpy(c->code, code, 2);
    c->holdings = h;
    return c;
}

/* "sig/GB", "hold/GB": the key's country, or NULL. */
static country_state_t *cstate_of_key(jp_task_t *t, const char *prefix, const void *key,
                                      size_t klen)
{
    size_t pl = strlen(prefix);
    if (klen < pl + 2)
        return NULL;
    char code[3] = {((const char *)key)[pl], ((const char *)key)[pl + 1], 0};
    return cstate_for(t, code);
}

static int load_signals(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    country_state_t *c = cstate_of_key(ctx, meta_signals, key, klen);
    if (!c)
        return 1;
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, val, vlen);
    if (jp_window_signals_deserialize(&r, &c->signals) != 0)
        memset(&c->signals, 0, sizeof(c->signals)); /* corrupt: start from no signals */
    return 0;
}

static int load_holdings(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    country_state_t *c = cstate_of_key(ctx, meta_holdings, key, klen);
    if (!c)
        return 1;
    if (jp_holdings_load_summary(c->holdings, val, vlen) != 0)
        jp_log_error("task", "task %d: corrupt holdings of %s dropped",
                     ((jp_task_t *)ctx)->partition, c->code);
    return 0;
}

static int load_pending(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    country_state_t *c = cstate_of_key(ctx, meta_pending, key, klen);
    if (!c)
        return 1;
    if (jp_holdings_load_hour(c->holdings, val, vlen) != 0)
        jp_log_error("task", "task %d: corrupt pending holdings of %s dropped",
                     ((jp_task_t *)ctx)->partition, c->code);
    return 0;
}

static uint64_t get_u64_be(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | p[i];
    return u;
}

static int load_postcode(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    size_t pl = strlen(meta_postcode);
    country_state_t *c = cstate_of_key(ctx, meta_postcode, key, klen);
    int64_t tickets;
    if (!c)
        return 1;
    if (klen != pl + 2 + 8 || get_i64s(val, vlen, &tickets, 1) != 0)
        return 0; /* not ours */
    return jp_holdings_load_postcode(c->holdings, get_u64_be((const uint8_t *)key + pl + 2),
                                     tickets) == 0
               ? 0
               : 1;
}

typedef struct {
    jp_task_t *t;
    const country_state_t *c;
} postcode_put_t;

/* prefix + country + 8 bytes of u, big-endian (u ^ flip: offset binary
 * for signed values, so keys sort in order). */
static size_t country_key(uint8_t key[16], const char *prefix, const char *code, uint64_t u)
{
    size_t pl = 0;
    for (; prefix[pl]; pl++) /* not a string any more: no terminator */
        key[pl] = (uint8_t)prefix[pl];
    key[pl] = (uint8_t)code[0];
    key[pl + 1] = (uint8_t)code[1];
    for (int i = 0; i < 8; i++)
        key[pl + 2 + (size_t)i] = (uint8_t)(u >> (56 - 8 * i));
    return pl + 10;
}

static int put_postcode(void *ctx, uint64_t postcode, int64_t tickets)
{
    postcode_put_t *p = ctx;
    uint8_t key[16];
    size_t kl = country_key(key, meta_postcode, p->c->code, postcode);
    if (!tickets)
        return jp_store_del(p->t->store, JP_CF_META, key, kl);
    uint8_t v[8];
    put_i64s(v, &tickets, 1);
    return jp_store_put(p->t->store, JP_CF_META, key, kl, v, sizeof(v));
}

static int put_pending(void *ctx, int64_t hour, const void *buf, size_t len)
{
    postcode_put_t *p = ctx;
    uint8_t key[16];
    size_t kl = country_key(key, meta_pending, p->c->code, (uint64_t)hour ^ (1ull << 63));
    if (!len)
        return jp_store_del(p->t->store, JP_CF_META, key, kl);
    return jp_store_put(p->t->store, JP_CF_META, key, kl, buf, len);
}

/* The commit's share of the per-country state: what changed since the last. */
static int cstate_prepare(jp_task_t *t)
{
    for (size_t i = 0; i < t->n_cstate; i++) {
        country_state_t *c = &t->cstate[i];
        char key[16];
        jp_bytes_writer_t w;
        int rc = 0;
        if (c->signals_dirty) {
            int kl = snprintf(key, sizeof(key), "%s%.2s", meta_signals, c->code);
            jp_bytes_writer_init(&w);
            jp_window_signals_serialize(&c->signals, &w);
            rc = w.oom ? -1 : jp_store_put(t->store, JP_CF_META, key, (size_t)kl, w.buf, w.len);
            jp_bytes_writer_free(&w);
            c->signals_dirty = 0;
        }
        if (rc == 0 && jp_holdings_summary_dirty(c->holdings)) {
            int kl = snprintf(key, sizeof(key), "%s%.2s", meta_holdings, c->code);
            jp_bytes_writer_init(&w);
            jp_holdings_serialize(c->holdings, &w);
            rc = w.oom ? -1 : jp_store_put(t->store, JP_CF_META, key, (size_t)kl, w.buf, w.len);
            jp_bytes_writer_free(&w);
        }
        postcode_put_t pp = {t, c};
        if (rc != 0 || jp_holdings_take_dirty(c->holdings, put_postcode, &pp) != 0 ||
            jp_holdings_take_pending(c->holdings, put_pending, &pp) != 0)
            return -1;
    }
    return 0;
}

/* ---- open / close ---------------------------------------------------------- */

static int load_window(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)key;
    (void)klen;
    jp_task_t *t = ctx;
    char err[128];
    jp_window_t *w = jp_window_deserialize(val, vlen, err, sizeof(err));
    if (!w)
        return 0; /* a corrupt window is dropped rather than failing the task */
    if (t->n_open == t->cap_open) {
        size_t cap = t->cap_open ? 2 * t->cap_open : 16;
        open_window_t *o = realloc(t->open, cap * sizeof(*o));
        if (!o) {
            jp_window_free(w);
            return 1;
        }
        t->open = o;
        t->cap_open = cap;
    }
    t->open[t->n_open].w = w;
    t->open[t->n_open++].dirty = 0;
    return 0;
}

static int load_carried(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    jp_task_t *t = ctx;
    char k[32];
    int kind;
    if (klen >= sizeof(k))
        return 0;
    memcpy(k, key, klen);
    k[klen] = '\0';
    char cc[3] = {0};
    if (sscanf(k, "car/%2c/%d", cc, &kind) != 2)
        return 0;
    carried_t *c = carried_for(t, cc, (jp_window_kind_t)kind);
    const uint8_t *p = val;
    if (!c || vlen < 8)
        return 0;
    get_i64s(p, 8, &c->active, 1);
    free(c->last_json);
    c->last_json = vlen > 8 ? strndup((const char *)p + 8, vlen - 8) : NULL;
    json_t *j = c->last_json ? json_loads(c->last_json, 0, NULL) : NULL;
    json_t *start = json_object_get(j, "window_start");
    c->last_start = json_is_integer(start) ? json_integer_value(start) : NO_TIME;
    json_decref(j);
    return 0;
}

/* ---- processors (jp_proc.h) --------------------------------------------------------- */

static void facts_clear(jp_task_t *t)
{
    for (size_t i = 0; i < t->n_facts; i++)
        free(t->facts[i].val);
    t->n_facts = 0;
}

/* Adds a fact in key order (keys are unique: a window closes once). */
static int fact_insert(jp_task_t *t, const uint8_t key[FACT_KEY_LEN], const void *val, size_t len)
{
    if (t->n_facts == t->cap_facts) {
        size_t cap = t->cap_facts ? 2 * t->cap_facts : 16;
        fact_t *f = realloc(t->facts, cap * sizeof(*f));
        if (!f)
            return -1;
        t->facts = f;
        t->cap_facts = cap;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return -1;
    memcpy(copy, val, len);
    size_t at = t->n_facts;
    while (at > 0 && memcmp(t->facts[at - 1].key, key, FACT_KEY_LEN) > 0)
        at--;
    memmove(&t->facts[at + 1], &t->facts[at], (t->n_facts - at) * sizeof(*t->facts));
    memcpy(t->facts[at].key, key, FACT_KEY_LEN);
    t->facts[at].val = copy;
    t->facts[at].len = len;
    t->n_facts++;
    return 0;
}

static int load_fact(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    if (klen != FACT_KEY_LEN)
        return 0;
    return fact_insert(ctx, key, val, vlen) == 0 ? 0 : 1;
}

/* Offset binary: signed times sort as unsigned big-endian bytes. */
static void put_time_key(uint8_t *out, int64_t v)
{
    int64_t u = (int64_t)((uint64_t)v ^ (1ull << 63));
    put_i64s(out, &u, 1);
}

static int64_t get_time_key(const uint8_t *in)
{
    int64_t u = 0;
    get_i64s(in, 8, &u, 1);
    return (int64_t)((uint64_t)u ^ (1ull << 63));
}

/* Queues a closed window's FeatureVector until the clock reaches its end
 * + grace, in the store (so a crash or rebalance keeps it). */
static int fact_add_window(jp_task_t *t, const jp_window_t *w, const void *fv, size_t len)
{
    uint8_t key[FACT_KEY_LEN];
    memcpy(key, "fact", 4);
    put_time_key(key + 4, w->end_ms + grace(t));
    key[12] = FACT_WINDOW;
    memcpy(key + 13, w->country, 2);
    key[15] = (uint8_t)w->kind;
    put_time_key(key + 16, w->start_ms);
    if (jp_store_put(t->store, JP_CF_META, key, sizeof(key), fv, len) != 0)
        return -1;
    return fact_insert(t, key, fv, len);
}

static void procs_close(jp_task_t *t)
{
    for (size_t i = 0; i < t->env->n_procs; i++) {
        if (t->proc[i] && t->env->procs[i]->close)
            t->env->procs[i]->close(t->proc[i]);
        t->proc[i] = NULL;
    }
}

/* One instance per processor, from the state just loaded. */
static int procs_open(jp_task_t *t)
{
    procs_close(t);
    t->pctx.t = t;
    for (size_t i = 0; i < t->env->n_procs; i++) {
        char err[256] = "";
        const jp_proc_t *p = t->env->procs[i];
        t->proc[i] = p->open(p->global, &t->pctx, err, sizeof(err));
        if (!t->proc[i]) {
            jp_log_error("task", "task %d: processor %s: %s", t->partition, p->name, err);
            return -1;
        }
    }
    return 0;
}

int64_t jp_task_clock(const jp_task_t *t)
{
    int64_t clock = INT64_MAX;
    for (int i = 0; i < JP_INPUT__COUNT; i++) {
        int64_t n = input_newest(t, (jp_input_t)i, 1);
        if (n == NO_TIME)
            return NO_TIME;
        if (n - lateness(t) < clock)
            clock = n - lateness(t);
    }
    return clock;
}

void *jp_task_proc_instance(const jp_task_t *t, size_t i)
{
    return i < t->env->n_procs ? t->proc[i] : NULL;
}

static int deliver_window(jp_task_t *t, const fact_t *f)
{
    jp_feature_vector_t fv;
    char err[256];
    jp_avro_arena_reset(&t->fact_arena);
    if (jp_serde_decode(t->serde, JP_EVENT_FEATURES, f->val, f->len, &fv, &t->fact_arena, err,
                        sizeof(err)) != JP_SERDE_OK) {
        /* Our own record, encoded by this process or a restored one. */
        jp_log_error("task", "task %d: a queued window does not decode: %s", t->partition, err);
        return 0;
    }
    for (size_t i = 0; i < t->env->n_procs; i++)
        if (t->env->procs[i]->on_window && t->env->procs[i]->on_window(t->proc[i], &fv) != 0)
            return -1;
    return 0;
}

/* The earliest timer any processor wants after the cursor. */
static int64_t next_timer(jp_task_t *t)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < t->env->n_procs; i++)
        if (t->env->procs[i]->next_timer) {
            int64_t n = t->env->procs[i]->next_timer(t->proc[i], t->timer_cursor);
            if (n > t->timer_cursor && n < next)
                next = n;
        }
    return next;
}

/* Delivers every fact and timer the clock has passed, in time order
 * (windows before timers of the same time). */
static int run_facts(jp_task_t *t)
{
    int64_t clock = jp_task_clock(t);
    if (clock == NO_TIME || clock == t->last_clock || t->env->n_procs == 0)
        return 0;
    t->last_clock = clock;
    if (t->timer_cursor == NO_TIME) {
        /* Timers start at the earliest event of the stream: the first
         * applied record of each input partition is the same in every run. */
        int64_t first = INT64_MAX;
        for (int i = 0; i < JP_INPUT__COUNT; i++)
            if (t->first_event[i] != NO_TIME && t->first_event[i] < first)
                first = t->first_event[i];
        t->timer_cursor = first - 1;
        t->meta_dirty = 1;
    }
    for (;;) {
        int64_t tf = t->n_facts ? get_time_key(t->facts[0].key + 4) : INT64_MAX;
        int64_t tt = next_timer(t);
        int64_t now = tf <= tt ? tf : tt;
        if (now > clock)
            return 0;
        if (tf <= tt) {
            fact_t f = t->facts[0];
            memmove(&t->facts[0], &t->facts[1], (t->n_facts - 1) * sizeof(*t->facts));
            t->n_facts--;
            int rc = deliver_window(t, &f);
            jp_store_del(t->store, JP_CF_META, f.key, FACT_KEY_LEN);
            free(f.val);
            if (rc != 0)
                return -1;
            continue;
        }
        for (size_t i = 0; i < t->env->n_procs; i++) {
            const jp_proc_t *p = t->env->procs[i];
            if (p->next_timer && p->on_timer && p->next_timer(t->proc[i], t->timer_cursor) == tt &&
                p->on_timer(t->proc[i], tt) != 0)
                return -1;
        }
        t->timer_cursor = tt;
        t->meta_dirty = 1;
    }
}

static int procs_record(jp_task_t *t, const jp_task_record_t *rec, const event_t *ev,
                        const char *country, const char *token, int64_t t_ms)
{
    if (t->first_event[rec->input] == NO_TIME) {
        t->first_event[rec->input] = t_ms;
        /* A copy's offset is not one of the input partition's. */
        if (!rec->via_repartition)
            t->first_offset[rec->input] = rec->offset;
        t->meta_dirty = 1;
    }
    jp_proc_record_t r = {.input = rec->input,
                          .offset = rec->via_repartition ? -1 : rec->offset,
                          .event_time = t_ms,
                          .country = country,
                          .token = token ? token : "",
                          .customer = t->rec_has_customer ? &t->rec_customer : NULL};
    if (rec->input == JP_INPUT_SALES)
        r.ev.sale = &ev->sale;
    else if (rec->input == JP_INPUT_CUSTOMERS)
        r.ev.customer = &ev->customer;
    else
        r.ev.draw = &ev->draw;
    for (size_t i = 0; i < t->env->n_procs; i++)
        if (t->env->procs[i]->on_record && t->env->procs[i]->on_record(t->proc[i], &r) != 0)
            return -1;
    return 0;
}

int jp_task_poll(jp_task_t *t)
{
    for (size_t i = 0; i < t->env->n_procs; i++)
        if (t->env->procs[i]->poll && t->env->procs[i]->poll(t->proc[i]) != 0)
            return -1;
    return run_facts(t);
}

/* ---- jp_proc_ctx_t --------------------------------------------------------------------- */

int jp_proc_partition(const jp_proc_ctx_t *c)
{
    return c->t->partition;
}

const jp_config_t *jp_proc_config(const jp_proc_ctx_t *c)
{
    return c->t->env->cfg;
}

jp_store_t *jp_proc_store(jp_proc_ctx_t *c)
{
    return c->t->store;
}

jp_serde_t *jp_proc_serde(jp_proc_ctx_t *c)
{
    return c->t->serde;
}

int64_t jp_proc_clock(const jp_proc_ctx_t *c)
{
    return jp_task_clock(c->t);
}

void jp_proc_offsets(const jp_proc_ctx_t *c, jp_input_t input, int64_t *first, int64_t *next)
{
    *first = c->t->first_offset[input] == NO_TIME ? -1 : c->t->first_offset[input];
    *next = c->t->next_offset[input];
}

const char *jp_proc_input_topic(const jp_proc_ctx_t *c, jp_input_t input)
{
    const jp_config_t *cfg = c->t->env->cfg;
    return input == JP_INPUT_SALES       ? cfg->topics.sales.name
           : input == JP_INPUT_CUSTOMERS ? cfg->topics.customers.name
                                         : cfg->topics.draws.name;
}

void jp_proc_counts(const jp_proc_ctx_t *c, jp_input_t input, jp_proc_counts_t *out)
{
    const jp_task_counts_t *k = &c->t->counts[input];
    *out = (jp_proc_counts_t){.consumed = k->consumed,
                              .applied = k->applied,
                              .dead_lettered = k->dead_lettered,
                              .duplicates = k->duplicates,
                              .late = k->late,
                              .lost = c->t->lost[input]};
}

int64_t jp_proc_lag(const jp_proc_ctx_t *c, jp_input_t input, int ask_broker)
{
    const jp_task_io_t *io = &c->t->env->io;
    int64_t end = io->end_offset ? io->end_offset(io->ctx, c->t->partition, input, ask_broker) : -1;
    int64_t next = c->t->next_offset[input];
    if (end < 0 || (next < 0 && end > 0))
        return -1;
    return next < 0 || end <= next ? 0 : end - next;
}

int jp_proc_emit(jp_proc_ctx_t *c, jp_output_t topic, const char *key, size_t key_len,
                 const void *value, size_t len)
{
    const jp_task_io_t *io = &c->t->env->io;
    if (!io->emit)
        return -1;
    return io->emit(io->ctx, c->t->partition, topic, key, key_len, value, len);
}

/* (Re)loads the in-memory part of the state from the store. */
static int load_state(jp_task_t *t)
{
    const void *v;
    size_t n;
    for (size_t i = 0; i < t->n_open; i++)
        jp_window_free(t->open[i].w);
    t->n_open = 0;
    for (size_t i = 0; i < t->n_carried; i++)
        free(t->carried[i].last_json);
    t->n_carried = 0;
    for (int i = 0; i < JP_INPUT__COUNT; i++) {
        t->max_event[i] = NO_TIME;
        t->next_offset[i] = -1;
        t->lost[i] = 0;
        memset(&t->counts[i], 0, sizeof(t->counts[i]));
        jp_recent_init(&t->recent[i], i == JP_INPUT_DRAWS ? JP_RECENT_DRAWS : JP_RECENT_MAX);
    }
    for (int i = 0; i < JP_CF__COUNT; i++)
        t->cl_offset[i] = -1;
    if (jp_store_get(t->store, JP_CF_META, meta_wm, strlen(meta_wm), &v, &n) == 1)
        get_i64s(v, n, t->max_event, JP_INPUT__COUNT);
    if (jp_store_get(t->store, JP_CF_META, meta_cnt, strlen(meta_cnt), &v, &n) == 1)
        get_i64s(v, n, (int64_t *)t->counts, JP_INPUT__COUNT * 5);
    t->gc_customers = NO_TIME;
    if (jp_store_get(t->store, JP_CF_META, meta_gc, strlen(meta_gc), &v, &n) == 1)
        get_i64s(v, n, &t->gc_customers, 1);
    if (jp_store_get(t->store, JP_CF_META, meta_lost, strlen(meta_lost), &v, &n) == 1)
        get_i64s(v, n, t->lost, JP_INPUT__COUNT);
    if (jp_store_get(t->store, JP_CF_META, meta_recent, strlen(meta_recent), &v, &n) == 1 &&
        n == JP_INPUT__COUNT * JP_RECENT_WIRE_LEN)
        for (int i = 0; i < JP_INPUT__COUNT; i++)
            jp_recent_decode(&t->recent[i], (const uint8_t *)v + i * JP_RECENT_WIRE_LEN,
                             JP_RECENT_WIRE_LEN);
    if (jp_store_get(t->store, JP_CF_META, local_in, strlen(local_in), &v, &n) == 1)
        get_i64s(v, n, t->next_offset, JP_INPUT__COUNT);
    if (jp_store_get(t->store, JP_CF_META, local_cl, strlen(local_cl), &v, &n) == 1)
        get_i64s(v, n, t->cl_offset, JP_CF__COUNT);
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        t->first_event[i] = t->first_offset[i] = NO_TIME;
    if (jp_store_get(t->store, JP_CF_META, meta_first, strlen(meta_first), &v, &n) == 1) {
        int64_t f[2 * JP_INPUT__COUNT];
        if (get_i64s(v, n, f, 2 * JP_INPUT__COUNT) == 0) {
            memcpy(t->first_event, f, sizeof(t->first_event));
            memcpy(t->first_offset, f + JP_INPUT__COUNT, sizeof(t->first_offset));
        }
    }
    t->timer_cursor = NO_TIME;
    if (jp_store_get(t->store, JP_CF_META, meta_clock, strlen(meta_clock), &v, &n) == 1)
        get_i64s(v, n, &t->timer_cursor, 1);
    int64_t rp_next = t->rp.next_offset; /* a position, not state: the engine's */
    jp_partition_state_reset(&t->rp);
    t->rp.next_offset = rp_next;
    if (jp_store_get(t->store, JP_CF_META, meta_repartition, strlen(meta_repartition), &v, &n) ==
            1 &&
        jp_partition_state_decode(&t->rp, v, n) != 0)
        jp_log_error("task",
                     "task %d: the repartition state does not decode: replays of "
                     "copies may be applied again",
                     t->partition);
    t->n_draw_next = 0;
    if (jp_store_get(t->store, JP_CF_META, meta_draw_next, strlen(meta_draw_next), &v, &n) == 1)
        for (const uint8_t *p = v; n >= 12 && t->n_draw_next < JP_TASK_MAX_DRAW_COUNTRIES;
             p += 12, n -= 12) {
            memcpy(t->draw_next[t->n_draw_next].country, p, 4);
            t->draw_next[t->n_draw_next].country[3] = '\0';
            get_i64s(p + 4, 8, &t->draw_next[t->n_draw_next].next_ms, 1);
            t->n_draw_next++;
        }
    facts_clear(t);
    cstate_clear(t);
    if (jp_store_scan(t->store, JP_CF_WINDOWS, NULL, 0, load_window, t) < 0 ||
        jp_store_scan(t->store, JP_CF_META, "car/", 4, load_carried, t) < 0 ||
        jp_store_scan(t->store, JP_CF_META, "fact", 4, load_fact, t) < 0 ||
        jp_store_scan(t->store, JP_CF_META, meta_signals, strlen(meta_signals), load_signals, t) !=
            0 ||
        jp_store_scan(t->store, JP_CF_META, meta_holdings, strlen(meta_holdings), load_holdings,
                      t) != 0 ||
        jp_store_scan(t->store, JP_CF_META, meta_postcode, strlen(meta_postcode), load_postcode,
                      t) != 0 ||
        jp_store_scan(t->store, JP_CF_META, meta_pending, strlen(meta_pending), load_pending, t) !=
            0)
        return -1;
    fold_next_update(t);
    if (dedupe_load(t) != 0)
        return -1;
    t->last_clock = jp_task_clock(t);
    return procs_open(t);
}

/* A task without its store. */
static jp_task_t *task_new(const jp_task_env_t *env, jp_serde_t *serde, int partition)
{
    jp_task_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->env = env;
    t->serde = serde;
    t->partition = partition;
    t->kinds = kinds_enabled(env->cfg);
    t->fold_next = INT64_MAX;
    jp_avro_arena_init(&t->arena);
    jp_avro_arena_init(&t->fact_arena);
    jp_bytes_writer_init(&t->skipped);
    t->batch = malloc(JP_TASK_BATCH_MAX * sizeof(*t->batch));
    t->batch_tokens = malloc(JP_TASK_BATCH_MAX * sizeof(*t->batch_tokens));
    if (!t->batch || !t->batch_tokens ||
        jp_partition_state_init(&t->rp, env->partition.n_partitions) != 0) {
        jp_task_close(t);
        return NULL;
    }
    return t;
}

/* Opening stores side by side: tasks t[i] for i = first, first + step, ... */
typedef struct {
    jp_task_t **t;
    size_t n, first, step;
    const char *dir;
    char err[256];
    int rc;
} store_opener_t;

/* Opens the store of each of its tasks and builds its key filter (a scan
 * of the customers it holds): all store work, none of the task's own. */
static void *open_stores(void *arg)
{
    store_opener_t *o = arg;
    for (size_t i = o->first; o->rc == 0 && i < o->n; i += o->step) {
        jp_task_t *t = o->t[i];
        char path[1024];
        snprintf(path, sizeof(path), "%s/task-%d", o->dir, t->partition);
        t->store = jp_store_open(t->env->store_env, path, o->err, sizeof(o->err));
        if (!t->store) {
            o->rc = -1;
            break;
        }
        /* The changelog replays whatever a crash loses (jp_engine's restore,
         * the same path as a lost state directory): no WAL. */
        jp_store_set_durability(t->store, JP_STORE_NO_WAL);
        /* Most reads of these miss (a new customer): let the store answer
         * those without RocksDB. */
        if (jp_store_track_keys(t->store, JP_CF_CUSTOMERS) != 0) {
            jp_err_set(o->err, sizeof(o->err), "task %d: key filter: %s", t->partition,
                       jp_store_last_error(t->store));
            o->rc = -1;
        }
    }
    return NULL;
}

int jp_task_open_many(const jp_task_env_t *env, jp_serde_t *serde, const int *partitions, size_t n,
                      const char *dir, jp_task_t **out, char *errstr, size_t errstr_size)
{
    size_t made = 0;
    int rc = 0;
    for (; made < n; made++)
        if (!(out[made] = task_new(env, serde, partitions[made]))) {
            jp_err_set(errstr, errstr_size, "out of memory");
            rc = -1;
            break;
        }
    size_t n_th = n < JP_TASK_OPEN_THREADS ? n : JP_TASK_OPEN_THREADS;
    store_opener_t op[JP_TASK_OPEN_THREADS];
    pthread_t th[JP_TASK_OPEN_THREADS];
    int started[JP_TASK_OPEN_THREADS] = {0};
    for (size_t k = 0; rc == 0 && k < n_th; k++) {
        op[k] = (store_opener_t){out, n, k, n_th, dir, "", 0};
        /* One opener runs on this thread; a thread that cannot start leaves
         * its share to it. */
        started[k] = k > 0 && pthread_create(&th[k], NULL, open_stores, &op[k]) == 0;
    }
    for (size_t k = 0; rc == 0 && k < n_th; k++) {
        if (started[k])
            pthread_join(th[k], NULL);
        else
            open_stores(&op[k]);
    }
    for (size_t k = 0; rc == 0 && k < n_th; k++)
        if (op[k].rc != 0) {
            jp_err_set(errstr, errstr_size, "%s", op[k].err);
            rc = -1;
        }
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (load_state(out[i]) != 0) {
            jp_err_set(errstr, errstr_size, "cannot load the state of task %d", out[i]->partition);
            rc = -1;
        }
    if (rc != 0)
        for (size_t i = 0; i < made; i++) {
            jp_task_close(out[i]);
            out[i] = NULL;
        }
    return rc;
}

jp_task_t *jp_task_open(const jp_task_env_t *env, jp_serde_t *serde, int partition, const char *dir,
                        char *errstr, size_t errstr_size)
{
    jp_task_t *t;
    return jp_task_open_many(env, serde, &partition, 1, dir, &t, errstr, errstr_size) == 0 ? t
                                                                                           : NULL;
}

int jp_task_peek_offsets(const jp_task_env_t *env, const char *dir, int partition,
                         int64_t next[JP_INPUT__COUNT], int64_t changelog[JP_CF__COUNT],
                         char *errstr, size_t errstr_size)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/task-%d", dir, partition);
    jp_store_t *st = jp_store_open(env->store_env, path, errstr, errstr_size);
    if (!st)
        return -1;
    const void *v;
    size_t n;
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        next[i] = -1;
    for (int i = 0; i < JP_CF__COUNT; i++)
        changelog[i] = -1;
    if (jp_store_get(st, JP_CF_META, local_in, strlen(local_in), &v, &n) == 1)
        get_i64s(v, n, next, JP_INPUT__COUNT);
    if (jp_store_get(st, JP_CF_META, local_cl, strlen(local_cl), &v, &n) == 1)
        get_i64s(v, n, changelog, JP_CF__COUNT);
    jp_store_close(st);
    return 0;
}

void jp_task_close(jp_task_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_open; i++)
        jp_window_free(t->open[i].w);
    free(t->open);
    for (size_t i = 0; i < t->n_carried; i++)
        free(t->carried[i].last_json);
    free(t->carried);
    jp_avro_arena_free(&t->arena);
    free(t->batch);
    free(t->batch_tokens);
    jp_avro_buf_free(&t->out);
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        jp_dedupe_free(t->dedupe[i]);
    procs_close(t);
    facts_clear(t);
    free(t->facts);
    cstate_clear(t);
    jp_avro_arena_free(&t->fact_arena);
    jp_partition_state_free(&t->rp);
    jp_bytes_writer_free(&t->skipped);
    jp_store_close(t->store);
    free(t);
}

void jp_task_forget_calendars(jp_task_t *t)
{
    memset(t->draw_period, 0, sizeof(t->draw_period));
    t->draw_period_next = 0;
}

int jp_task_partition(const jp_task_t *t)
{
    return t->partition;
}

int64_t jp_task_next_offset(const jp_task_t *t, jp_input_t input)
{
    return t->next_offset[input];
}

void jp_task_set_next_offset(jp_task_t *t, jp_input_t input, int64_t offset)
{
    t->next_offset[input] = offset;
}

void jp_task_counts(const jp_task_t *t, jp_input_t input, jp_task_counts_t *out)
{
    *out = t->counts[input];
}

void jp_task_repartition_counts(const jp_task_t *t, jp_input_t input,
                                jp_task_repartition_counts_t *out)
{
    out->repartitioned = t->rp.repartitioned[input];
    out->received = t->rp.received[input];
    out->replays = t->rp.replays[input];
}

int64_t jp_task_repartition_lost(const jp_task_t *t)
{
    return t->rp.lost;
}

int64_t jp_task_repartition_offset(const jp_task_t *t)
{
    return t->rp.next_offset;
}

void jp_task_set_repartition_offset(jp_task_t *t, int64_t offset)
{
    t->rp.next_offset = offset;
}

int64_t jp_task_watermark(const jp_task_t *t, jp_input_t input)
{
    int64_t n = input_newest(t, input, 1);
    return n == NO_TIME ? NO_TIME : n - lateness(t);
}

int64_t jp_task_lost(const jp_task_t *t, jp_input_t input)
{
    return t->lost[input];
}

int64_t jp_task_changelog_offset(const jp_task_t *t, jp_cf_t cf)
{
    return t->cl_offset[cf];
}

const char *jp_task_last_features(const jp_task_t *t, const char *country, jp_window_kind_t kind)
{
    const carried_t *c = carried_find(t, country, kind);
    return c ? c->last_json : NULL;
}

void jp_task_foreach_open_window(const jp_task_t *t, void (*fn)(void *, const jp_window_t *),
                                 void *ctx)
{
    for (size_t i = 0; i < t->n_open; i++)
        fn(ctx, t->open[i].w);
}

/* ---- windows ----------------------------------------------------------------- */

static int window_cmp(const jp_window_t *a, const char *country, jp_window_kind_t kind,
                      int64_t start)
{
    int c = memcmp(a->country, country, 2);
    if (c)
        return c;
    if (a->kind != kind)
        return a->kind < kind ? -1 : 1;
    return (a->start_ms > start) - (a->start_ms < start);
}

/* The open window (country, kind, [start, end)), created if needed; the
 * array stays sorted by key, so closing order is deterministic. */
static open_window_t *window_for(jp_task_t *t, const char *country, jp_window_kind_t kind,
                                 int64_t start, int64_t end)
{
    size_t lo = 0, hi = t->n_open;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = window_cmp(t->open[mid].w, country, kind, start);
        if (c == 0)
            return &t->open[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (t->n_open == t->cap_open) {
        size_t cap = t->cap_open ? 2 * t->cap_open : 16;
        open_window_t *o = realloc(t->open, cap * sizeof(*o));
        if (!o)
            return NULL;
        t->open = o;
        t->cap_open = cap;
    }
    jp_window_t *w = jp_window_new(country, kind, start, end);
    if (!w)
        return NULL;
    memmove(&t->open[lo + 1], &t->open[lo], (t->n_open - lo) * sizeof(*t->open));
    t->open[lo].w = w;
    t->open[lo].dirty = 1;
    t->n_open++;
    if (end < t->fold_next)
        t->fold_next = end;
    return &t->open[lo];
}

static unsigned kinds_enabled(const jp_config_t *cfg)
{
    unsigned m = 0;
    const jp_conf_strlist_t *s = &cfg->windows.sizes;
    for (size_t i = 0; i < s->n; i++)
        for (unsigned k = JP_WINDOW_HOUR; k < JP_WINDOW_UNKNOWN; k++)
            if (strcmp(s->v[i], jp_window_kind_name((jp_window_kind_t)k)) == 0)
                m |= 1u << k;
    return m;
}

/* Bounds of the window of `kind` containing t_ms; -1 if there is none. */
static int window_bounds(jp_task_t *t, const jp_calendar_t *cal, jp_window_kind_t kind,
                         int64_t t_ms, int64_t *start, int64_t *end)
{
    static const int64_t hour = 3600000, day = 86400000;
    int64_t size = kind == JP_WINDOW_HOUR ? hour : day;
    if (kind == JP_WINDOW_DRAW) {
        const size_t n = sizeof(t->draw_period) / sizeof(t->draw_period[0]);
        for (size_t i = 0; i < n; i++)
            if (t->draw_period[i].cal == cal && t_ms >= t->draw_period[i].start &&
                t_ms < t->draw_period[i].end) {
                *start = t->draw_period[i].start;
                *end = t->draw_period[i].end;
                return 0;
            }
        jp_draw_t draw;
        if (jp_calendar_draw_period(cal, t_ms, start, end, &draw) != 0)
            return -1;
        size_t i = t->draw_period_next++ % n;
        t->draw_period[i].cal = cal;
        t->draw_period[i].start = *start;
        t->draw_period[i].end = *end;
        return 0;
    }
    *start = jp_tz_floor_div(t_ms, size) * size;
    *end = *start + size;
    return 0;
}

/* keys: a sale's token and sector, hashed once for all its windows. */
typedef void (*window_apply_fn)(jp_window_t *w, const void *ev, const jp_window_sale_keys_t *keys);

static void apply_sale(jp_window_t *w, const void *ev, const jp_window_sale_keys_t *keys)
{
    jp_window_add_sale(w, ev, keys);
}

static void apply_customer(jp_window_t *w, const void *ev, const jp_window_sale_keys_t *keys)
{
    (void)keys;
    jp_window_add_customer(w, ev);
}

static void apply_draw(jp_window_t *w, const void *ev, const jp_window_sale_keys_t *keys)
{
    (void)keys;
    jp_window_add_draw(w, ev);
}

static int apply_windows(jp_task_t *t, jp_input_t input, const jp_verdict_t *v, int64_t t_ms,
                         window_apply_fn fn, const void *ev, const jp_window_sale_keys_t *keys)
{
    for (int k = JP_WINDOW_HOUR; k <= JP_WINDOW_DRAW; k++) {
        /* Draw results feed only draw windows (jp_task.h). */
        if (!(t->kinds & (1u << k)) || (input == JP_INPUT_DRAWS && k != JP_WINDOW_DRAW))
            continue;
        int64_t start, end;
        if (window_bounds(t, v->calendar, (jp_window_kind_t)k, t_ms, &start, &end) != 0)
            continue;
        open_window_t *o = window_for(t, v->country->code, (jp_window_kind_t)k, start, end);
        if (!o)
            return -1;
        fn(o->w, ev, keys);
        o->dirty = 1;
    }
    return 0;
}

/* 1 if a record of input at t_ms falls in a window of its country that
 * is closed already (windows of a country and kind close in time order). */
static int window_closed(jp_task_t *t, jp_input_t input, const jp_verdict_t *v, int64_t t_ms)
{
    for (int k = JP_WINDOW_HOUR; k <= JP_WINDOW_DRAW; k++) {
        if (!(t->kinds & (1u << k)) || (input == JP_INPUT_DRAWS && k != JP_WINDOW_DRAW))
            continue;
        int64_t start, end;
        const carried_t *car = carried_find(t, v->country->code, (jp_window_kind_t)k);
        if (car && car->last_start != NO_TIME &&
            window_bounds(t, v->calendar, (jp_window_kind_t)k, t_ms, &start, &end) == 0 &&
            start <= car->last_start)
            return 1;
    }
    return 0;
}

/* JSON of a closed window's features: keys sorted, so it is deterministic. */
static char *features_json(const jp_feature_vector_t *fv)
{
    json_t *o = json_object();
    json_object_set_new(o, "country", json_stringn(fv->country.ptr, fv->country.len));
    json_object_set_new(o, "window", json_string(jp_window_kind_name(fv->window_kind)));
    json_object_set_new(o, "window_start", json_integer(fv->window_start));
    json_object_set_new(o, "window_end", json_integer(fv->window_end));
    json_object_set_new(o, "tickets", json_integer(fv->tickets));
    json_object_set_new(o, "revenue_minor", json_integer(fv->revenue_minor));
    json_object_set_new(o, "signups", json_integer(fv->signups));
    json_object_set_new(o, "cancellations", json_integer(fv->cancellations));
    json_object_set_new(o, "reactivations", json_integer(fv->reactivations));
    json_object_set_new(o, "payment_failures", json_integer(fv->payment_failures));
    json_object_set_new(o, "active_subscribers", json_integer(fv->active_subscribers));
    json_object_set_new(o, "unique_players", json_integer(fv->unique_players));
    json_object_set_new(o, "extra_tickets", json_integer(fv->extra_tickets));
    json_object_set_new(o, "prizes_paid_minor", json_integer(fv->prizes_paid_minor));
    json_t *mix = json_object();
    const int64_t *mv = fv->channel_mix.values;
    for (size_t i = 0; i < fv->channel_mix.n; i++) {
        char k[32];
        snprintf(k, sizeof(k), "%.*s", (int)fv->channel_mix.keys[i].len,
                 fv->channel_mix.keys[i].ptr);
        json_object_set_new(mix, k, json_integer(mv[i]));
    }
    json_object_set_new(o, "channel_mix", mix);
    json_t *q = json_array();
    const double *qv = fv->sector_ticket_quantiles.items;
    for (size_t i = 0; i < fv->sector_ticket_quantiles.n; i++)
        json_array_append_new(q, json_real(qv[i]));
    json_object_set_new(o, "sector_ticket_quantiles", q);
    json_object_set_new(o, "advertised_prize_minor", json_integer(fv->advertised_prize_minor));
    json_object_set_new(o, "subscribers_held", json_integer(fv->subscribers_held));
    json_object_set_new(o, "subscribers_lapsed", json_integer(fv->subscribers_lapsed));
    json_object_set_new(o, "participating_postcodes", json_integer(fv->participating_postcodes));
    json_object_set_new(o, "held_tickets", json_integer(fv->held_tickets));
    json_object_set_new(o, "held_tickets_mean", json_real(fv->held_tickets_mean));
    json_t *hq = json_array();
    const double *hv = fv->held_ticket_quantiles.items;
    for (size_t i = 0; i < fv->held_ticket_quantiles.n; i++)
        json_array_append_new(hq, json_real(hv[i]));
    json_object_set_new(o, "held_ticket_quantiles", hq);
    json_t *camp = json_object();
    const double *cv = fv->campaign_shares.values;
    for (size_t i = 0; i < fv->campaign_shares.n; i++) {
        char k[64];
        snprintf(k, sizeof(k), "%.*s", (int)fv->campaign_shares.keys[i].len,
                 fv->campaign_shares.keys[i].ptr);
        json_object_set_new(camp, k, json_real(cv[i]));
    }
    json_object_set_new(o, "campaign_shares", camp);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

/* The watermarks that close the windows of country cc (NULL: of the input
 * partitions): sales and customers (hour and day windows), and all three
 * (draw windows); NO_TIME while one is missing. */
static void feed_watermarks(const jp_task_t *t, const char *cc, int64_t *wm_sc, int64_t *wm_all)
{
    int64_t s = cc ? feed_watermark(t, JP_INPUT_SALES, cc) : watermark(t, JP_INPUT_SALES);
    int64_t c = cc ? feed_watermark(t, JP_INPUT_CUSTOMERS, cc) : watermark(t, JP_INPUT_CUSTOMERS);
    int64_t d = cc ? feed_watermark(t, JP_INPUT_DRAWS, cc) : watermark(t, JP_INPUT_DRAWS);
    *wm_sc = *wm_all = NO_TIME;
    if (s != NO_TIME && c != NO_TIME)
        *wm_sc = s < c ? s : c;
    if (*wm_sc != NO_TIME && d != NO_TIME)
        *wm_all = *wm_sc < d ? *wm_sc : d;
}

/* ---- holdings ------------------------------------------------------------------ */

/*
 * Holdings (jp_holdings.h) are folded in event time, up to window ends
 * only: once the sales and customer watermarks are past a window's end +
 * grace, no record older than the end can be applied any more (it would
 * be LATE), so the holdings folded to the end are final and the window
 * gets its snapshot - an hour or day window just before it closes, a draw
 * window (which also waits for the draws partition) when its end passes.
 * A window opened after its end was folded past (a draw result for a
 * period with no sale and no customer event) has no snapshot.
 */
static void fold_next_update(jp_task_t *t)
{
    t->fold_next = INT64_MAX;
    for (size_t i = 0; i < t->n_open; i++)
        if (!t->open[i].w->holdings.taken && t->open[i].w->end_ms < t->fold_next)
            t->fold_next = t->open[i].w->end_ms;
}

static int by_country_end(const void *a, const void *b)
{
    const jp_window_t *x = *(jp_window_t *const *)a, *y = *(jp_window_t *const *)b;
    int c = memcmp(x->country, y->country, 2);
    if (c)
        return c;
    return (x->end_ms > y->end_ms) - (x->end_ms < y->end_ms);
}

/* The event time up to which no record of country cc (NULL: of the input
 * partitions) can come any more; NO_TIME while unknown. A copied country's
 * records come on its own streams (feed_watermarks). */
static int64_t holdings_final(const jp_task_t *t, const char *cc)
{
    int64_t wm_sc, wm_all;
    feed_watermarks(t, cc, &wm_sc, &wm_all);
    return wm_sc == NO_TIME ? NO_TIME : wm_sc - grace(t);
}

static int fold_holdings(jp_task_t *t)
{
    /* With copies, each country on its own streams: the input partition
     * may have no watermark (all its records went away). */
    int64_t final = holdings_final(t, NULL);
    if (!t->rp.n_countries && (final == NO_TIME || final < t->fold_next))
        return 0;
    jp_window_t **due = malloc(t->n_open * sizeof(*due));
    if (!due)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < t->n_open; i++) {
        jp_window_t *w = t->open[i].w;
        if (t->rp.n_countries)
            final = holdings_final(t, w->country);
        if (!w->holdings.taken && final != NO_TIME && w->end_ms <= final) {
            due[n++] = w;
            t->open[i].dirty = 1;
        }
    }
    qsort(due, n, sizeof(*due), by_country_end);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        jp_window_t *w = due[i];
        country_state_t *cs = cstate_for(t, w->country);
        if (!cs) {
            rc = -1;
            break;
        }
        int64_t folded = jp_holdings_folded(cs->holdings);
        if (w->end_ms > folded && jp_holdings_fold(cs->holdings, w->end_ms) != 0) {
            rc = -1;
            break;
        }
        if (w->end_ms < folded) {
            w->holdings.taken = 2; /* too late for a snapshot */
            continue;
        }
        int64_t held, lapsed;
        size_t nh;
        jp_holdings_subscribers(cs->holdings, &held, &lapsed);
        const jp_held_tickets_t *hist = jp_holdings_histogram(cs->holdings, &nh);
        rc = jp_window_set_holdings(w, held, lapsed, hist, nh);
    }
    free(due);
    fold_next_update(t);
    return rc;
}

/* Closes, in key order, every open window whose feeding partitions all
 * have watermarks at or past its end + grace. */
static int close_windows(jp_task_t *t)
{
    if (fold_holdings(t) != 0)
        return -1;
    int64_t wm_sc = NO_TIME, wm_all = NO_TIME;
    feed_watermarks(t, NULL, &wm_sc, &wm_all);
    size_t kept = 0;
    int rc = 0;
    for (size_t i = 0; i < t->n_open; i++) {
        jp_window_t *w = t->open[i].w;
        if (t->rp.n_countries) /* a copied country closes on its own streams */
            feed_watermarks(t, w->country, &wm_sc, &wm_all);
        int64_t wm = w->kind == JP_WINDOW_DRAW ? wm_all : wm_sc;
        if (rc != 0 || wm == NO_TIME || w->end_ms + grace(t) > wm) {
            t->open[kept++] = t->open[i];
            continue;
        }
        carried_t *car = carried_for(t, w->country, w->kind);
        if (!car) {
            t->open[kept++] = t->open[i];
            rc = -1;
            continue;
        }
        int64_t active = car->active + jp_window_net_subscribers(w);
        jp_window_fv_scratch_t scratch;
        jp_feature_vector_t fv;
        jp_window_to_features(w, active, &scratch, &fv);
        char err[256];
        t->out.len = 0;
        if (jp_serde_encode(t->serde, JP_EVENT_FEATURES, t->env->features_topic, &fv, &t->out, err,
                            sizeof(err)) != JP_SERDE_OK ||
            t->env->io.features(t->env->io.ctx, t->partition, w->country, t->out.data,
                                t->out.len) != 0) {
            t->open[kept++] = t->open[i];
            rc = -1;
            continue;
        }
        if (t->env->n_procs && fact_add_window(t, w, t->out.data, t->out.len) != 0) {
            t->open[kept++] = t->open[i];
            rc = -1;
            continue;
        }
        car->active = active;
        car->last_start = w->start_ms;
        free(car->last_json);
        car->last_json = features_json(&fv);
        car->dirty = 1;
        for (size_t h = 0; h < t->env->n_on_close; h++)
            t->env->on_close[h](t->env->on_close_ctx[h], w, &fv);
        uint8_t key[JP_WINDOW_KEY_LEN];
        jp_window_key(w->country, w->kind, w->start_ms, key);
        jp_store_del(t->store, JP_CF_WINDOWS, key, sizeof(key));
        count(t, JP_INPUT_SALES, "window_closed", jp_window_kind_name(w->kind));
        jp_window_free(w);
    }
    t->n_open = kept;
    return rc;
}

/* ---- processing -------------------------------------------------------------- */

static jp_task_result_t dead_letter(jp_task_t *t, jp_task_record_t *rec, const char *cls,
                                    const char *msg)
{
    t->counts[rec->input].dead_lettered++;
    if (strcmp(cls, "LATE") == 0)
        t->counts[rec->input].late++;
    t->meta_dirty = 1;
    count(t, rec->input, "dead_lettered", cls);
    if (t->env->io.dead_letter(t->env->io.ctx, t->partition, rec, cls, msg) != 0)
        return JP_TASK_FAILED;
    return JP_TASK_DEAD_LETTERED;
}

/* Offsets missing before this record (retention removed them before they
 * were read, or transaction markers): the engine tells which and decides.
 * 0 to go on, -1 to stop before the record. */
static int check_gap(jp_task_t *t, const jp_task_record_t *rec)
{
    /* A copy's offset is in the repartition topic. A partition nothing
     * was read from starts at offset 0. */
    int64_t next = rec->via_repartition ? t->rp.next_offset : t->next_offset[rec->input];
    int64_t expect = next >= 0 ? next : 0;
    if (rec->offset <= expect || !t->env->io.gap)
        return 0;
    int64_t lost = t->env->io.gap(t->env->io.ctx, t->partition, rec, expect);
    if (lost < 0)
        return -1;
    if (rec->via_repartition) {
        t->rp.lost += lost; /* copies of any input */
        t->rp.dirty = 1;
    } else {
        t->lost[rec->input] += lost;
        t->meta_dirty = 1;
    }
    return 0;
}

/* ---- partitioning (jp_partition.h) ---------------------------------------- */

/* A copy from the repartition topic: JP_TASK_APPLIED when it is to be
 * processed like a record of its input, or what to answer instead. */
static jp_task_result_t admit_copy(jp_task_t *t, const jp_task_record_t *rec, const batch_slot_t *b)
{
    if (t->rp.next_offset >= 0 && rec->offset < t->rp.next_offset)
        return JP_TASK_SKIPPED;
    if (b->err == JP_SERDE_REGISTRY_UNAVAILABLE)
        return JP_TASK_RETRY;
    if (check_gap(t, rec) != 0)
        return JP_TASK_STOPPED;
    t->rp.next_offset = rec->offset + 1;
    if (jp_partition_state_admit(&t->rp, rec->input, rec->src_partition, rec->src_offset)) {
        count(t, rec->input, "repartition_replays", "MISPARTITIONED");
        return JP_TASK_SKIPPED;
    }
    count(t, rec->input, "repartition_received", "MISPARTITIONED");
    return JP_TASK_APPLIED;
}

/* A valid record of another task's country: to its home through the
 * repartition topic, or dead-lettered. A copy that is no home's either
 * (the partition count changed under it) is dead-lettered, never sent
 * round again. */
static jp_task_result_t away(jp_task_t *t, jp_task_record_t *rec, int home)
{
    if (rec->via_repartition || t->env->partition.dead_letter || !t->env->io.repartition) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "partition %d, but the %s partitioner maps the country to partition %d of %d",
                 rec->via_repartition ? rec->src_partition : t->partition,
                 jp_partitioner_name(t->env->partition.partitioner), home,
                 t->env->partition.n_partitions);
        return dead_letter(t, rec, "MISPARTITIONED", msg);
    }
    t->rp.repartitioned[rec->input]++;
    t->rp.dirty = 1;
    count(t, rec->input, "repartitioned", "MISPARTITIONED");
    if (t->env->io.repartition(t->env->io.ctx, t->partition, home, rec) != 0)
        return JP_TASK_FAILED;
    return JP_TASK_REPARTITIONED;
}

/* 1 if (input, id) was seen within the dedupe horizon; records it if not.
 * -1 if out of memory. */
static int seen_before(jp_task_t *t, jp_input_t input, const jp_avro_str_t *id, int64_t t_ms)
{
    return jp_dedupe_check_add(t->dedupe[input], id->ptr, id->len, t_ms, input_newest(t, input, 1));
}

/* The holding a record says the customer has from its event time on; 0
 * when it says nothing about it (extra purchases, unknown types). */
static int holding_point(jp_input_t input, const event_t *ev, uint64_t postcode,
                         jp_customer_point_t *p)
{
    memset(p, 0, sizeof(*p));
    if (input == JP_INPUT_SALES) {
        const jp_sale_event_t *e = &ev->sale;
        if (!e->has_purchase || (e->purchase != JP_SALE_PURCHASE_RENEWAL &&
                                 e->purchase != JP_SALE_PURCHASE_NEW_SUBSCRIPTION))
            return 0;
        *p = (jp_customer_point_t){e->event_time, jp_customer_rank_sale(e), e->tickets, postcode,
                                   JP_HOLD_ACTIVE};
        return 1;
    }
    const jp_customer_event_t *e = &ev->customer;
    p->t = e->event_time;
    p->rank = jp_customer_rank_event(e);
    p->postcode = postcode;
    switch (e->type) {
    case JP_CUSTOMER_EVENT_SIGNUP:
    case JP_CUSTOMER_EVENT_REACTIVATE:
    case JP_CUSTOMER_EVENT_PAYMENT_FAILED: /* a failed payment does not end the subscription */
        p->cls = JP_HOLD_ACTIVE;
        p->tickets = e->subscription_tickets;
        return 1;
    case JP_CUSTOMER_EVENT_UPDATE:
        p->cls = e->subscription_tickets > 0 ? JP_HOLD_ACTIVE : JP_HOLD_LAPSED;
        p->tickets = e->subscription_tickets;
        return 1;
    case JP_CUSTOMER_EVENT_CANCEL:
        p->cls = JP_HOLD_LAPSED;
        return 1;
    case JP_CUSTOMER_EVENT_ERASE:
        p->postcode = 0; /* holds nothing from now on */
        return 1;
    default:
        return 0;
    }
}

/* Applies a sale or customer event to the customer's state and its
 * holding to the country's holdings; an erasure deletes the state (its
 * tombstone reaches the changelog at the next commit). The state after the
 * record stays in t->rec_customer for the processors. */
static int update_customer(jp_task_t *t, const char *token, const event_t *ev, jp_input_t input,
                           int64_t t_ms, country_state_t *cs, uint64_t postcode)
{
    const void *v;
    size_t vlen;
    jp_customer_t *c = &t->rec_customer;
    t->rec_has_customer = 0;
    int r = jp_store_get(t->store, JP_CF_CUSTOMERS, token, JP_PII_TOKEN_LEN, &v, &vlen);
    if (r < 0)
        return -1;
    jp_customer_init(c);
    int64_t ttl_start = t_ms - t->env->cfg->state.customer_ttl_ms;
    if (r == 1 && (jp_customer_deserialize(v, vlen, c) != 0 || c->last_activity_ms < ttl_start))
        jp_customer_init(c); /* corrupt or expired: start afresh */
    if (input == JP_INPUT_SALES)
        jp_customer_apply_sale(c, &ev->sale);
    else
        jp_customer_apply_event(c, &ev->customer);
    jp_customer_point_t p;
    if (holding_point(input, ev, postcode, &p)) {
        jp_customer_change_t ch[2];
        size_t n = jp_customer_hold(c, &p, jp_holdings_folded(cs->holdings), ch);
        for (size_t i = 0; i < n; i++)
            if (jp_holdings_change(cs->holdings, &ch[i]) != 0)
                return -1;
    }
    if (input == JP_INPUT_CUSTOMERS && ev->customer.type == JP_CUSTOMER_EVENT_ERASE)
        return jp_store_del(t->store, JP_CF_CUSTOMERS, token, JP_PII_TOKEN_LEN);
    t->rec_has_customer = 1;
    uint8_t buf[JP_CUSTOMER_ENCODED_MAX];
    size_t n = jp_customer_encode(c, buf);
    return jp_store_put_ts(t->store, JP_CF_CUSTOMERS, token, JP_PII_TOKEN_LEN, buf, n,
                           c->last_activity_ms);
}

/* Step 1 for one record: the decoded event (in the batch's arena), or the
 * decoding error with its message. */
static void decode(jp_task_t *t, const jp_task_record_t *rec, batch_slot_t *b)
{
    b->err = jp_serde_decode(t->serde, JP_EVENT_SALE + (int)rec->input, rec->value, rec->value_len,
                             &b->ev, &t->arena, b->msg, sizeof(b->msg));
}

/* The customer id a decoded record is keyed by, or NULL (draws). */
static const jp_avro_str_t *customer_id(const jp_task_record_t *rec, const batch_slot_t *b)
{
    if (b->err != JP_SERDE_OK)
        return NULL;
    if (rec->input == JP_INPUT_SALES)
        return &b->ev.sale.customer_id;
    if (rec->input == JP_INPUT_CUSTOMERS)
        return &b->ev.customer.customer_id;
    return NULL;
}

/* The two bytes of a country code in a record key: the key itself, or an
 * Avro string in the Confluent wire format (producers with a "string" key
 * schema, as Confluent's Avro serializers write keys). NULL otherwise. */
static const char *key_country(const void *key, size_t len)
{
    int32_t id;
    const unsigned char *payload;
    size_t plen;
    if (key && len == 2)
        return key;
    /* Avro string of length 2: zigzag varint 4, then the bytes */
    if (key && jp_serde_frame_parse(key, len, &id, &payload, &plen) == JP_SERDE_OK && plen == 3 &&
        payload[0] == 4)
        return (const char *)payload + 1;
    return NULL;
}

/* KEY_MISMATCH unless the record key is the value's country code: the
 * key decides the partition, and a country split across partitions would
 * be split across tasks (two tasks closing the same window). */
static void check_key(const jp_task_record_t *rec, jp_verdict_t *v)
{
    const char *cc = key_country(rec->key, rec->key_len);
    if (cc && memcmp(cc, v->country->code, 2) == 0)
        return;
    v->reason = "KEY_MISMATCH";
    snprintf(v->message, sizeof(v->message), "the record key is not the value's %s (%s)", "country",
             "upper-case ISO code");
}

/* Wall-clock milliseconds, for processing.future_wall_clock only. */
static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* FUTURE_EVENT_TIME against references the producer cannot set alone (see
 * jp_event_time.h). */
static void check_future(jp_task_t *t, jp_input_t in, int64_t t_ms, jp_verdict_t *v)
{
    const jp_config_t *cfg = t->env->cfg;
    jp_recent_t *r = &t->recent[in];
    if (cfg->processing.future_wall_clock && t_ms > wall_ms() + cfg->processing.max_clock_skew_ms) {
        v->reason = "FUTURE_EVENT_TIME";
        snprintf(v->message, sizeof(v->message),
                 "event time is further ahead of the wall clock than %s",
                 "processing.max_clock_skew");
    } else if (in != JP_INPUT_DRAWS &&
               jp_event_time_too_far(r, t_ms, cfg->processing.max_event_time_jump_ms)) {
        v->reason = "FUTURE_EVENT_TIME";
        snprintf(v->message, sizeof(v->message),
                 "event time is further ahead of the partition's recent median than %s",
                 "processing.max_event_time_jump");
    } else if (in == JP_INPUT_DRAWS &&
               jp_event_time_too_many_draws(r, v->calendar, t_ms,
                                            cfg->processing.max_draw_periods_ahead)) {
        v->reason = "FUTURE_EVENT_TIME";
        snprintf(v->message, sizeof(v->message),
                 "draw time is more headline draws ahead of the partition's recent median than "
                 "%s",
                 "processing.max_draw_periods_ahead");
    }
}

/* Steps 2-4 for one record whose event (and token) step 1 produced. */
static jp_task_result_t apply(jp_task_t *t, jp_task_record_t *rec, batch_slot_t *b)
{
    jp_input_t in = rec->input;
    if (rec->via_repartition) {
        jp_task_result_t r = admit_copy(t, rec, b);
        if (r != JP_TASK_APPLIED)
            return r;
    } else {
        if (t->next_offset[in] >= 0 && rec->offset < t->next_offset[in])
            return JP_TASK_SKIPPED;
        if (b->err == JP_SERDE_REGISTRY_UNAVAILABLE)
            return JP_TASK_RETRY;
        if (check_gap(t, rec) != 0)
            return JP_TASK_STOPPED;
        t->next_offset[in] = rec->offset + 1;
        t->counts[in].consumed++;
    }
    t->meta_dirty = 1;
    if (b->err != JP_SERDE_OK)
        return dead_letter(t, rec, jp_serde_err_name(b->err), b->msg);

    event_t *ev = &b->ev;
    const char *token = b->token;
    jp_verdict_t v;
    int64_t t_ms;
    const jp_avro_str_t *id;
    char sector[16] = "";
    switch (in) {
    case JP_INPUT_SALES:
        jp_validate_sale(t->env->validator, &ev->sale, rec->timestamp_ms, &v);
        if (!v.reason &&
            jp_pii_postcode_sector(v.country->code, ev->sale.postcode.ptr, ev->sale.postcode.len,
                                   sector, sizeof(sector)) != 0) {
            v.reason = "BAD_POSTCODE";
            snprintf(v.message, sizeof(v.message), "postcode is not valid for the country");
        }
        t_ms = ev->sale.event_time;
        id = &ev->sale.event_id;
        break;
    case JP_INPUT_CUSTOMERS:
        jp_validate_customer(t->env->validator, &ev->customer, rec->timestamp_ms, &v);
        t_ms = ev->customer.event_time;
        id = &ev->customer.event_id;
        break;
    default:
        jp_validate_draw(t->env->validator, &ev->draw, rec->timestamp_ms, &v);
        t_ms = ev->draw.draw_time;
        id = &ev->draw.draw_id;
        break;
    }
    if (!v.reason)
        check_key(rec, &v);
    /* A copy was judged against its source partition's recent past. */
    if (!v.reason && !rec->via_repartition)
        check_future(t, in, t_ms, &v);
    /* Every record that is not LATE joins the window, FUTURE ones too:
     * a genuine jump becomes the new normal. */
    int future = v.reason && strcmp(v.reason, "FUTURE_EVENT_TIME") == 0;
    if (future)
        jp_recent_add(&t->recent[in], t_ms);
    if (v.reason)
        return dead_letter(t, rec, v.reason, v.message);
    int home = jp_partition_home(&t->env->partition, v.country->code);
    if (home >= 0 && home != t->partition) {
        /* The partition's recent past is all of its records, whichever
         * task applies them (jp_event_time.h: offset order). */
        if (!rec->via_repartition)
            jp_recent_add(&t->recent[in], t_ms);
        return away(t, rec, home);
    }
    for (int f = 0; f < JP_FIX__COUNT; f++)
        if (v.fixes & (1u << f))
            count(t, in, "corrected", jp_fix_name((jp_fix_t)f));

    /* A copy is late against its stream (jp_partition.h), a record of a
     * copied country also when its window was closed on other streams. */
    int64_t wm = watermark(t, in);
    if (rec->via_repartition) {
        int64_t newest = jp_partition_stream_newest(&t->rp, in, rec->src_partition);
        wm = newest == NO_TIME ? NO_TIME : newest - lateness(t);
    }
    if (wm != NO_TIME && t_ms < wm - grace(t))
        return dead_letter(t, rec, "LATE",
                           "event time is older than the partition's watermark minus grace");
    if ((rec->via_repartition || jp_partition_country_copied(&t->rp, v.country->code)) &&
        window_closed(t, in, &v, t_ms))
        return dead_letter(t, rec, "LATE", "its window is closed");
    if (!rec->via_repartition)
        jp_recent_add(&t->recent[in], t_ms);

    int dup = seen_before(t, in, id, t_ms);
    if (dup < 0)
        return JP_TASK_FAILED;
    if (dup) {
        t->counts[in].duplicates++;
        count(t, in, "duplicate", "EVENT_ID");
        return JP_TASK_DUPLICATE;
    }

    int rc = 0;
    country_state_t *cs = cstate_for(t, v.country->code);
    if (!cs)
        return JP_TASK_FAILED;
    t->rec_has_customer = 0;
    switch (in) {
    case JP_INPUT_SALES:;
        jp_window_sale_keys_t keys;
        jp_window_sale_keys(&keys, token, sector);
        keys.signals = &cs->signals; /* in force before this sale */
        rc = apply_windows(t, in, &v, t_ms, apply_sale, &ev->sale, &keys);
        jp_window_signals_apply(&cs->signals, &ev->sale);
        cs->signals_dirty = 1;
        if (rc == 0)
            rc = update_customer(t, token, ev, in, t_ms, cs, b->postcode);
        /* Extra tickets are held from their sale until their draw. */
        if (rc == 0 && jp_window_is_extra(&ev->sale) &&
            (jp_holdings_delta(cs->holdings, t_ms, b->postcode, ev->sale.tickets) != 0 ||
             jp_holdings_delta(cs->holdings, v.draw_ms, b->postcode, -ev->sale.tickets) != 0))
            rc = -1;
        break;
    case JP_INPUT_CUSTOMERS:
        rc = apply_windows(t, in, &v, t_ms, apply_customer, &ev->customer, NULL);
        if (rc == 0)
            rc = update_customer(t, token, ev, in, t_ms, cs, b->postcode);
        break;
    default:
        rc = apply_windows(t, in, &v, t_ms, apply_draw, &ev->draw, NULL);
        break;
    }
    if (rc != 0)
        return JP_TASK_FAILED;
    if (t->env->n_procs && procs_record(t, rec, ev, v.country->code, token, t_ms) != 0)
        return JP_TASK_FAILED;
    if (rec->via_repartition) {
        if (jp_partition_state_applied(&t->rp, in, rec->src_partition, v.country->code, t_ms) != 0)
            return JP_TASK_FAILED;
        if (in == JP_INPUT_DRAWS) {
            draw_applied(t, v.country->code, v.calendar, t_ms);
            int64_t next = draws_next(t);
            if (next != INT64_MAX)
                jp_partition_stream_advance(&t->rp, in, rec->src_partition, next - 1);
        }
    } else {
        if (t_ms > t->max_event[in] || t->max_event[in] == NO_TIME)
            t->max_event[in] = t_ms;
        if (in == JP_INPUT_DRAWS)
            draw_applied(t, v.country->code, v.calendar, t_ms);
    }
    t->counts[in].applied++;
    count(t, in, "applied", "OK");
    return close_windows(t) == 0 && run_facts(t) == 0 ? JP_TASK_APPLIED : JP_TASK_FAILED;
}

/* A postcode as tokenized: letters and digits, upper case ("sw1a 1aa" and
 * "SW1A1AA" are one postcode); at most 15 characters. */
static size_t postcode_norm(const jp_avro_str_t *pc, char out[16])
{
    size_t n = 0;
    for (size_t i = 0; i < pc->len && n < 15; i++) {
        char ch = pc->ptr[i];
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        if ((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
            out[n++] = ch;
    }
    out[n] = '\0';
    return n;
}

/* The first 64 bits of a token (hex) as a number, never 0. */
static uint64_t token_number(const char *hex)
{
    uint64_t u = 0;
    for (int i = 0; i < 16; i++) {
        char ch = hex[i];
        u = u << 4 | (uint64_t)(ch <= '9' ? ch - '0' : ch - 'a' + 10);
    }
    return u ? u : 1;
}

size_t jp_task_process_batch(jp_task_t *t, jp_task_record_t *recs, size_t n,
                             jp_task_result_t *results)
{
    if (n > JP_TASK_BATCH_MAX)
        n = JP_TASK_BATCH_MAX;
    batch_slot_t *b = t->batch;
    jp_pii_value_t ids[JP_TASK_BATCH_MAX];
    size_t owner[JP_TASK_BATCH_MAX], n_ids = 0;
    jp_avro_arena_reset(&t->arena);
    for (size_t i = 0; i < n; i++) {
        decode(t, &recs[i], &b[i]);
        const jp_avro_str_t *cid = customer_id(&recs[i], &b[i]);
        b[i].token[0] = '\0';
        if (cid) {
            ids[n_ids] = (jp_pii_value_t){cid->ptr, cid->len};
            owner[n_ids++] = i;
        }
    }
    /* Tokens for the whole batch at once (SIMD lanes side by side); those of
     * records that turn out invalid or duplicate are computed for nothing,
     * which is cheaper than a call per record. */
    char(*tokens)[JP_PII_TOKEN_LEN + 1] = t->batch_tokens;
    jp_pii_token_many(t->env->pii, "customer", ids, n_ids, tokens);
    for (size_t k = 0; k < n_ids; k++)
        memcpy(b[owner[k]].token, tokens[k], sizeof(tokens[k]));
    /* The same records' postcodes, normalized, for the holdings. */
    char norm[JP_TASK_BATCH_MAX][16];
    for (size_t k = 0; k < n_ids; k++) {
        size_t i = owner[k];
        const jp_avro_str_t *pc =
            recs[i].input == JP_INPUT_SALES ? &b[i].ev.sale.postcode : &b[i].ev.customer.postcode;
        ids[k].len = postcode_norm(pc, norm[k]);
        ids[k].ptr = norm[k];
    }
    jp_pii_token_many(t->env->pii, "postcode", ids, n_ids, tokens);
    for (size_t k = 0; k < n_ids; k++)
        b[owner[k]].postcode = ids[k].len ? token_number(tokens[k]) : 0;
    for (size_t i = 0; i < n; i++) {
        results[i] = apply(t, &recs[i], &b[i]);
        if (results[i] == JP_TASK_RETRY || results[i] == JP_TASK_FAILED ||
            results[i] == JP_TASK_STOPPED)
            return i + 1;
    }
    return n;
}

jp_task_result_t jp_task_process(jp_task_t *t, jp_task_record_t *rec)
{
    jp_task_result_t r;
    jp_task_process_batch(t, rec, 1, &r);
    return r;
}

/* ---- deduplication ---------------------------------------------------------- */

/*
 * Event ids live in memory (jp_dedupe: 128-bit fingerprints by hour of
 * event time), not as a state key each: a key per event doubled the
 * store's writes and changelog records. The dedupe CF holds segments:
 *     key = input (1) | hour bucket (8, offset binary, big-endian)
 *           | sequence (8, big-endian)
 *     value = the bucket's fingerprints recorded since the previous
 *           commit (jp_dedupe's segment format)
 * one per input and bucket touched per commit. Once no record can reach a
 * bucket any more (its end is older than the watermark minus grace: such a
 * record is LATE before deduplication), its segments are sealed into one;
 * a bucket past the horizon has its segments deleted. Both go through the
 * store, so the changelog carries them and a restore rebuilds the set by
 * loading every segment (jp_task_restore_done -> load_state).
 */
#define DEDUPE_BUCKET_MS 3600000LL
#define DEDUPE_KEY_LEN   17

static void dedupe_key(jp_input_t input, int64_t bucket, uint64_t seq, uint8_t key[DEDUPE_KEY_LEN])
{
    key[0] = (uint8_t)input;
    jp_be64_put_sortable(key + 1, bucket);
    jp_be64_put(key + 9, seq);
}

static void dedupe_key_parse(const uint8_t *key, int *input, int64_t *bucket, uint64_t *seq)
{
    *input = key[0];
    *bucket = jp_be64_get_sortable(key + 1);
    *seq = jp_be64_get(key + 9);
}

static int dedupe_load_one(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    jp_task_t *t = ctx;
    int input;
    int64_t bucket;
    uint64_t seq;
    if (klen != DEDUPE_KEY_LEN)
        return 0; /* not a segment (an older layout): ignored */
    dedupe_key_parse(key, &input, &bucket, &seq);
    if (input >= JP_INPUT__COUNT)
        return 0;
    if (seq >= t->dedupe_seq)
        t->dedupe_seq = seq + 1;
    return jp_dedupe_load(t->dedupe[input], bucket, val, vlen) == 0 ? 0 : -1;
}

/* (Re)creates the in-memory sets from the dedupe CF. */
static int dedupe_load(jp_task_t *t)
{
    char err[128];
    t->dedupe_seq = 0;
    for (int i = 0; i < JP_INPUT__COUNT; i++) {
        jp_dedupe_free(t->dedupe[i]);
        t->dedupe[i] = jp_dedupe_new(DEDUPE_BUCKET_MS, t->env->cfg->processing.dedupe_horizon_ms,
                                     err, sizeof(err));
        if (!t->dedupe[i])
            return -1;
        t->dedupe_sealed[i] = NO_TIME; /* unknown: buckets seen from now on are sealed */
    }
    return jp_store_scan(t->store, JP_CF_DEDUPE, NULL, 0, dedupe_load_one, t) < 0 ? -1 : 0;
}

typedef struct {
    jp_task_t *t;
    jp_input_t input;
    int64_t bucket; /* delete_bucket: the bucket whose segments go */
} dedupe_ctx_t;

static int dedupe_put(void *ctx, int64_t bucket, const uint8_t *seg, size_t len)
{
    dedupe_ctx_t *c = ctx;
    uint8_t key[DEDUPE_KEY_LEN];
    dedupe_key(c->input, bucket, c->t->dedupe_seq++, key);
    return jp_store_put(c->t->store, JP_CF_DEDUPE, key, sizeof(key), seg, len);
}

/* Collects the keys of one bucket's segments (scan callbacks must not
 * modify the store, so deleting is a second pass). */
typedef struct {
    uint8_t (*keys)[DEDUPE_KEY_LEN];
    size_t n, cap;
} dedupe_keys_t;

static int dedupe_collect(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    dedupe_keys_t *k = ctx;
    (void)val;
    (void)vlen;
    if (klen != DEDUPE_KEY_LEN)
        return 0;
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 16;
        void *nk = realloc(k->keys, cap * sizeof(*k->keys));
        if (!nk)
            return -1;
        k->keys = nk;
        k->cap = cap;
    }
    memcpy(k->keys[k->n++], key, DEDUPE_KEY_LEN);
    return 0;
}

/* Deletes every segment of (input, bucket). */
static int dedupe_delete_bucket(jp_task_t *t, jp_input_t input, int64_t bucket)
{
    uint8_t prefix[DEDUPE_KEY_LEN];
    dedupe_key(input, bucket, 0, prefix);
    dedupe_keys_t k = {0};
    int rc = jp_store_scan(t->store, JP_CF_DEDUPE, prefix, 9, dedupe_collect, &k) == 0 ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < k.n; i++)
        rc = jp_store_del(t->store, JP_CF_DEDUPE, k.keys[i], DEDUPE_KEY_LEN);
    free(k.keys);
    return rc;
}

static int dedupe_expired(void *ctx, int64_t bucket)
{
    dedupe_ctx_t *c = ctx;
    return dedupe_delete_bucket(c->t, c->input, bucket);
}

/* Replaces a sealed bucket's segments by the one seal hands over. */
static int dedupe_sealed(void *ctx, int64_t bucket, const uint8_t *seg, size_t len)
{
    dedupe_ctx_t *c = ctx;
    if (dedupe_delete_bucket(c->t, c->input, bucket) != 0)
        return -1;
    return len ? dedupe_put(ctx, bucket, seg, len) : 0;
}

/* The commit's share of deduplication: expired buckets deleted, this
 * interval's fingerprints written, buckets no record can reach sealed. */
static int dedupe_prepare(jp_task_t *t)
{
    for (int i = 0; i < JP_INPUT__COUNT; i++) {
        dedupe_ctx_t c = {t, (jp_input_t)i, 0};
        /* the lowest of the input's streams: the others may still reach
         * what it can */
        int64_t newest = input_newest(t, (jp_input_t)i, 1);
        if (jp_dedupe_expire(t->dedupe[i], newest, dedupe_expired, &c) < 0 ||
            jp_dedupe_take_pending(t->dedupe[i], dedupe_put, &c) != 0)
            return -1;
        if (newest == NO_TIME)
            continue;
        /* Buckets ending at or before the LATE boundary receive nothing more. */
        int64_t open_from = jp_tz_floor_div(newest - lateness(t) - grace(t), DEDUPE_BUCKET_MS);
        if (t->dedupe_sealed[i] == NO_TIME || t->dedupe_sealed[i] > open_from) {
            t->dedupe_sealed[i] = open_from; /* first commit since loading: seal from here on */
            continue;
        }
        /* Buckets past the horizon were expired above: nothing to seal. */
        int64_t b =
            jp_tz_floor_div(newest - t->env->cfg->processing.dedupe_horizon_ms, DEDUPE_BUCKET_MS);
        for (b = b > t->dedupe_sealed[i] ? b : t->dedupe_sealed[i]; b < open_from; b++)
            if (jp_dedupe_seal(t->dedupe[i], b, dedupe_sealed, &c) != 0)
                return -1;
        t->dedupe_sealed[i] = open_from;
    }
    return 0;
}

/* ---- commit and restore -------------------------------------------------------- */

/* Garbage collection reads a whole column family (jp_store_expire): run at
 * every commit it costs O(state) per commit - seconds with millions of
 * customers. It runs only once its cutoff has moved by 1/GC_STEPS of the
 * horizon since the last run, so an entry is removed at most horizon /
 * GC_STEPS (event time) after it expired - reads ignore it meanwhile - and
 * the scans cost O(state) per 1/GC_STEPS of the horizon, not per commit.
 * The last cutoffs live in state (meta "gc"), so restarts do not reset the
 * count; a store that never collected starts counting at its first commit
 * instead of scanning (everything it holds was written since). */
#define GC_STEPS 16

static void collect(jp_task_t *t, jp_cf_t cf, int64_t cutoff, int64_t horizon, int64_t *last)
{
    if (*last != NO_TIME && cutoff - *last < horizon / GC_STEPS)
        return;
    if (*last != NO_TIME)
        jp_store_expire(t->store, cf, cutoff);
    *last = cutoff;
    t->meta_dirty = 1;
}

int jp_task_prepare_commit(jp_task_t *t, jp_store_dirty_cb fn, void *ctx, char *errstr,
                           size_t errstr_size)
{
    for (size_t i = 0; i < t->env->n_procs; i++)
        if (t->env->procs[i]->prepare_commit && t->env->procs[i]->prepare_commit(t->proc[i]) != 0) {
            jp_err_set(errstr, errstr_size, "processor %s cannot write its state",
                       t->env->procs[i]->name);
            return -1;
        }
    for (size_t i = 0; i < t->n_open; i++) {
        if (!t->open[i].dirty)
            continue;
        size_t n;
        uint8_t key[JP_WINDOW_KEY_LEN];
        uint8_t *buf = jp_window_serialize(t->open[i].w, &n);
        jp_window_key(t->open[i].w->country, t->open[i].w->kind, t->open[i].w->start_ms, key);
        if (!buf || jp_store_put(t->store, JP_CF_WINDOWS, key, sizeof(key), buf, n) != 0) {
            free(buf);
            jp_err_set(errstr, errstr_size, "cannot write window state");
            return -1;
        }
        free(buf);
        t->open[i].dirty = 0;
    }
    for (size_t i = 0; i < t->n_carried; i++) {
        carried_t *c = &t->carried[i];
        if (!c->dirty)
            continue;
        char key[32];
        size_t kl = carried_key(c, key, sizeof(key));
        size_t jl = c->last_json ? strlen(c->last_json) : 0;
        uint8_t *val = malloc(8 + jl);
        if (!val)
            return -1;
        put_i64s(val, &c->active, 1);
        if (jl)
            memcpy(val + 8, c->last_json, jl);
        jp_store_put(t->store, JP_CF_META, key, kl, val, 8 + jl);
        free(val);
        c->dirty = 0;
    }
    /* Garbage collection only; reads already ignore expired entries. */
    int64_t newest = NO_TIME;
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        if (input_newest(t, (jp_input_t)i, 0) > newest)
            newest = input_newest(t, (jp_input_t)i, 0);
    if (newest != NO_TIME) {
        int64_t ttl = t->env->cfg->state.customer_ttl_ms;
        collect(t, JP_CF_CUSTOMERS, newest - ttl, ttl, &t->gc_customers);
    }
    if (dedupe_prepare(t) != 0) {
        jp_err_set(errstr, errstr_size, "cannot write deduplication state: %s",
                   jp_store_last_error(t->store));
        return -1;
    }
    if (cstate_prepare(t) != 0) {
        jp_err_set(errstr, errstr_size, "cannot write the holdings: %s",
                   jp_store_last_error(t->store));
        return -1;
    }
    if (t->meta_dirty) {
        uint8_t wm[8 * JP_INPUT__COUNT], cnt[8 * 5 * JP_INPUT__COUNT];
        put_i64s(wm, t->max_event, JP_INPUT__COUNT);
        put_i64s(cnt, (const int64_t *)t->counts, 5 * JP_INPUT__COUNT);
        jp_store_put(t->store, JP_CF_META, meta_wm, strlen(meta_wm), wm, sizeof(wm));
        jp_store_put(t->store, JP_CF_META, meta_cnt, strlen(meta_cnt), cnt, sizeof(cnt));
        uint8_t gc[8];
        put_i64s(gc, &t->gc_customers, 1);
        jp_store_put(t->store, JP_CF_META, meta_gc, strlen(meta_gc), gc, sizeof(gc));
        int64_t first[2 * JP_INPUT__COUNT];
        memcpy(first, t->first_event, sizeof(t->first_event));
        memcpy(first + JP_INPUT__COUNT, t->first_offset, sizeof(t->first_offset));
        uint8_t fb[sizeof(first)], clk[8];
        put_i64s(fb, first, 2 * JP_INPUT__COUNT);
        jp_store_put(t->store, JP_CF_META, meta_first, strlen(meta_first), fb, sizeof(fb));
        put_i64s(clk, &t->timer_cursor, 1);
        jp_store_put(t->store, JP_CF_META, meta_clock, strlen(meta_clock), clk, sizeof(clk));
        uint8_t dn[12 * JP_TASK_MAX_DRAW_COUNTRIES];
        for (size_t k = 0; k < t->n_draw_next; k++) {
            memcpy(dn + 12 * k, t->draw_next[k].country, 4);
            put_i64s(dn + 12 * k + 4, &t->draw_next[k].next_ms, 1);
        }
        if (t->n_draw_next)
            jp_store_put(t->store, JP_CF_META, meta_draw_next, strlen(meta_draw_next), dn,
                         12 * t->n_draw_next);
        uint8_t lost[8 * JP_INPUT__COUNT], recent[JP_INPUT__COUNT * JP_RECENT_WIRE_LEN];
        put_i64s(lost, t->lost, JP_INPUT__COUNT);
        jp_store_put(t->store, JP_CF_META, meta_lost, strlen(meta_lost), lost, sizeof(lost));
        for (int i = 0; i < JP_INPUT__COUNT; i++)
            jp_recent_encode(&t->recent[i], recent + i * JP_RECENT_WIRE_LEN);
        jp_store_put(t->store, JP_CF_META, meta_recent, strlen(meta_recent), recent,
                     sizeof(recent));
        t->meta_dirty = 0;
    }
    if (t->rp.dirty) {
        size_t n;
        uint8_t *rp = jp_partition_state_encode(&t->rp, &n);
        if (!rp || jp_store_put(t->store, JP_CF_META, meta_repartition, strlen(meta_repartition),
                                rp, n) != 0) {
            free(rp);
            jp_err_set(errstr, errstr_size, "cannot write the repartition state");
            return -1;
        }
        free(rp);
        t->rp.dirty = 0;
    }
    return jp_store_dirty_foreach(t->store, fn, ctx);
}

static int write_local(jp_task_t *t, char *errstr, size_t errstr_size)
{
    uint8_t in[8 * JP_INPUT__COUNT], cl[8 * JP_CF__COUNT];
    put_i64s(in, t->next_offset, JP_INPUT__COUNT);
    put_i64s(cl, t->cl_offset, JP_CF__COUNT);
    jp_store_kv_t meta[] = {{local_in, strlen(local_in), in, sizeof(in)},
                            {local_cl, strlen(local_cl), cl, sizeof(cl)}};
    return jp_store_commit(t->store, meta, 2, errstr, errstr_size);
}

int jp_task_finish_commit(jp_task_t *t, const int64_t changelog_offsets[JP_CF__COUNT], char *errstr,
                          size_t errstr_size)
{
    for (int i = 0; i < JP_CF__COUNT; i++)
        if (changelog_offsets && changelog_offsets[i] >= 0)
            t->cl_offset[i] = changelog_offsets[i];
    return write_local(t, errstr, errstr_size);
}

int jp_task_restore_record(jp_task_t *t, jp_cf_t cf, const void *key, size_t klen, const void *val,
                           size_t vlen, int64_t changelog_offset)
{
    int r;
    if (!val) {
        r = jp_store_del(t->store, cf, key, klen);
    } else if (cf == JP_CF_CUSTOMERS) {
        jp_customer_t c;
        int64_t when = jp_customer_deserialize(val, vlen, &c) == 0 ? c.last_activity_ms : 0;
        r = jp_store_put_ts(t->store, cf, key, klen, val, vlen, when);
    } else {
        r = jp_store_put(t->store, cf, key, klen, val, vlen);
    }
    if (r != 0)
        return -1;
    t->cl_offset[cf] = changelog_offset;
    if (++t->restored_since_commit >= RESTORE_BATCH) {
        char err[256];
        t->restored_since_commit = 0;
        /* Straight to RocksDB: restored records are not produced again. */
        return write_local(t, err, sizeof(err));
    }
    return 0;
}

int jp_task_restore_skip(jp_task_t *t, jp_cf_t cf, const void *key, size_t klen)
{
    if ((unsigned)cf >= JP_CF__COUNT || klen > UINT32_MAX)
        return -1;
    jp_bytes_put_u8(&t->skipped, (uint8_t)cf);
    jp_bytes_put_u32(&t->skipped, (uint32_t)klen);
    jp_bytes_put_raw(&t->skipped, key, klen);
    return t->skipped.oom ? -1 : 0;
}

/* The keys the restore skipped, dirty again (after the state is loaded:
 * a restore's intermediate commits would clean them). */
static int touch_skipped(jp_task_t *t)
{
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, t->skipped.buf, t->skipped.len);
    int rc = 0;
    while (rc == 0 && r.pos < r.len) {
        int cf = jp_bytes_get_u8(&r);
        uint32_t n = jp_bytes_get_u32(&r);
        if (!jp_bytes_reader_ok(&r) || r.len - r.pos < n)
            break; /* cannot happen: the buffer is ours */
        rc = jp_store_touch(t->store, cf, r.buf + r.pos, n);
        r.pos += n;
    }
    jp_bytes_writer_free(&t->skipped);
    jp_bytes_writer_init(&t->skipped);
    return rc;
}

int jp_task_restore_done(jp_task_t *t, char *errstr, size_t errstr_size)
{
    int64_t next[JP_INPUT__COUNT];
    memcpy(next, t->next_offset, sizeof(next));
    t->restored_since_commit = 0;
    if (write_local(t, errstr, errstr_size) != 0 || load_state(t) != 0)
        return -1;
    if (touch_skipped(t) != 0) {
        jp_err_set(errstr, errstr_size, "cannot mark skipped changelog keys: %s",
                   jp_store_last_error(t->store));
        return -1;
    }
    /* The engine set the positions from the group before restoring. */
    memcpy(t->next_offset, next, sizeof(next));
    return 0;
}
