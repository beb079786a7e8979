/*
 * jp_models: the processor of the learning loop - its instances (one per
 * task), the per-country state, the store, the facts, the admin API and the
 * hooks (see jp_models.h; docs/models.md for the design).
 *
 * Everything a fact changes is written to the store at the next commit
 * (dirty flags), so the store always holds what the last commit's facts
 * left: a restart (or a rebalance, restoring from the changelog) reopens
 * the instance from there and carries on with the same facts, in the same
 * order, to the same records.
 */
#include "models/jp_models.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/jp_build_info.h"
#include "jp_models-internal.h"
#include "model/base/jp_err.h"
#include "serde/jp_avro_schema.h"

#define COUNTRY_TAG  "MCTY"
#define TRAINER_TAG  "MTRN"
#define REGISTRY_TAG "MREG"
#define OFFSETS_TAG  "MOFF"
#define OFFSETS_KEY  "o"
#define KIND_CHAR(k) ((k) == KIND_SALES ? 'S' : 'C')

/* ---- keys ---- */

/* "m/CC/_", "m/CC/S/t", "m/CC/S/r", "m/CC/S/v" + number, "m/CC/S/h" + number */
size_t jp_models_key(char *out, size_t size, const char *code, int kind, char what, int32_t number)
{
    if (size < 14)
        return 0;
    size_t n = 0;
    out[n++] = 'm';
    out[n++] = '/';
    out[n++] = code[0];
    out[n++] = code[1];
    out[n++] = '/';
    if (kind < 0) {
        out[n++] = '_';
        return n;
    }
    out[n++] = KIND_CHAR(kind);
    out[n++] = '/';
    out[n++] = what;
    if (what == 'v' || what == 'h')
        for (int i = 0; i < 4; i++)
            out[n++] = (char)((uint32_t)number >> (24 - 8 * i));
    return n;
}

/* ---- per-day offsets (the data snapshot of a version) ---- */

static day_offsets_t *offsets_find(inst_t *in, jp_input_t input, int64_t day, int create)
{
    day_offsets_t *v = in->offsets[input];
    size_t n = in->n_offsets[input], i = n;
    while (i > 0 && v[i - 1].day > day)
        i--;
    if (i > 0 && v[i - 1].day == day)
        return &v[i - 1];
    if (!create)
        return NULL;
    if (n == in->cap_offsets[input]) {
        size_t cap = n ? 2 * n : 64;
        day_offsets_t *g = realloc(v, cap * sizeof(*g));
        if (!g)
            return NULL;
        in->offsets[input] = v = g;
        in->cap_offsets[input] = cap;
    }
    memmove(&v[i + 1], &v[i], (n - i) * sizeof(*v));
    v[i] = (day_offsets_t){day, INT64_MAX, -1};
    in->n_offsets[input]++;
    return &v[i];
}

/* The key of a day's range as versions before the "o" blob kept it (one
 * key per input and day): "o/", the input, the day (offset binary). */
#define LEGACY_OFFSETS_KEY_LEN 11
static void legacy_offsets_key(char key[LEGACY_OFFSETS_KEY_LEN], jp_input_t input, int64_t day)
{
    key[0] = 'o';
    key[1] = '/';
    key[2] = (char)input;
    uint64_t u = (uint64_t)day ^ (1ull << 63);
    for (int i = 0; i < 8; i++)
        key[3 + i] = (char)(u >> (56 - 8 * i));
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

void jp_models_data_offsets(inst_t *in, int64_t start, int64_t end, int64_t *lo, int64_t *hi)
{
    int64_t d0 = start == INT64_MIN ? INT64_MIN : floor_div(start, DAY_MS);
    int64_t d1 = floor_div(end - 1, DAY_MS);
    for (int i = 0; i < JP_INPUT__COUNT; i++) {
        int64_t a = INT64_MAX, b = -1;
        for (size_t k = 0; k < in->n_offsets[i]; k++) {
            const day_offsets_t *d = &in->offsets[i][k];
            if (d->day < d0 || d->day > d1)
                continue;
            a = d->lo < a ? d->lo : a;
            b = d->hi > b ? d->hi : b;
        }
        lo[i] = b >= 0 ? a : -1;
        hi[i] = b >= 0 ? b + 1 : -1;
    }
}

/* Drops the days older than OFFSET_DAYS before now. */
static void offsets_prune(inst_t *in, int64_t now)
{
    int64_t keep = floor_div(now, DAY_MS) - OFFSET_DAYS;
    for (int i = 0; i < JP_INPUT__COUNT; i++) {
        size_t n = 0;
        while (n < in->n_offsets[i] && in->offsets[i][n].day < keep)
            n++;
        if (!n)
            continue;
        memmove(in->offsets[i], in->offsets[i] + n,
                (in->n_offsets[i] - n) * sizeof(*in->offsets[i]));
        in->n_offsets[i] -= n;
        in->offsets_dirty = 1;
    }
}

/* Merges a day's range into the table (loading). */
static int offsets_merge(inst_t *in, int input, int64_t day, int64_t lo, int64_t hi)
{
    if (input < 0 || input >= JP_INPUT__COUNT || lo < 0 || hi < lo)
        return -1;
    day_offsets_t *d = offsets_find(in, (jp_input_t)input, day, 1);
    if (!d)
        return -1;
    d->lo = lo < d->lo ? lo : d->lo;
    d->hi = hi > d->hi ? hi : d->hi;
    return 0;
}

/* The metric series of one country's model: its prequential error and
 * its champion changes (promotions[0] promote, [1] rollback). */
static void model_series(jp_metrics_t *metrics, const char *cc, kind_t kind, jp_gauge_t **error,
                         jp_counter_t *promotions[2])
{
    char labels[96];
    snprintf(labels, sizeof(labels), "country=\"%s\",model=\"%s\"", cc, jp_models_kind_names[kind]);
    *error = jp_metrics_gauge(
        metrics, "jackpot_model_prediction_error",
        "Prequential error of the country's champion (the trainer before there is one): "
        "sales, the mean absolute percentage error of the daily ticket forecast over 28 "
        "days; churn, the log-loss over the last 5000 labelled examples; NaN before the "
        "first evaluation",
        labels);
    for (int a = 0; a < 2; a++) {
        char l2[128];
        snprintf(l2, sizeof(l2), "%s,action=\"%s\"", labels, a ? "rollback" : "promote");
        promotions[a] = jp_metrics_counter(
            metrics, "jackpot_model_promotions_total",
            "Champion changes: promotions (by the gate or an operator) and rollbacks", l2);
    }
}

/* ---- countries ---- */

country_t *jp_models_country(inst_t *in, const char *code)
{
    for (size_t i = 0; i < in->n_countries; i++)
        if (memcmp(in->countries[i].code, code, 2) == 0)
            return &in->countries[i];
    char cc[3] = {code[0], code[1], 0};
    const jp_country_t *k = jp_config_country(in->g->cfg, cc);
    if (!k)
        return NULL;
    country_t *grown = realloc(in->countries, (in->n_countries + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    in->countries = grown;
    country_t *c = &in->countries[in->n_countries];
    memset(c, 0, sizeof(*c));
    memcpy(c->code, cc, 3);
    c->country = k;
    char err[128];
    c->cal = jp_calendar_new(k, err, sizeof(err));
    c->first_day = INT64_MIN;
    c->last_day_end = INT64_MIN;
    c->prev_held = c->prev_lapsed = -1;
    for (int kind = 0; kind < KIND__COUNT; kind++) {
        model_t *m = &c->models[kind];
        m->kind = (kind_t)kind;
        m->train_start = m->retrain_from = m->retrained_at = INT64_MIN;
        m->trained_until = INT64_MIN;
        if (in->g->metrics)
            model_series(in->g->metrics, cc, (kind_t)kind, &c->error_gauge[kind],
                         c->promotions[kind]);
    }
    int rc = c->cal ? jp_models_sales_init(&c->models[KIND_SALES], c) : -1;
    if (rc == 0)
        rc = jp_models_churn_init(&c->models[KIND_CHURN]);
    if (rc != 0) {
        for (int kind = 0; kind < KIND__COUNT; kind++)
            jp_models_model_release(&c->models[kind]);
        jp_calendar_free(c->cal);
        return NULL;
    }
    in->n_countries++;
    return c;
}

static void country_release(country_t *c)
{
    for (int k = 0; k < KIND__COUNT; k++)
        jp_models_model_release(&c->models[k]);
    jp_calendar_free(c->cal);
}

void jp_models_publish(inst_t *in, country_t *c)
{
    json_t *o = json_object(), *models = json_array();
    json_object_set_new(o, "country", json_string(c->code));
    for (int k = 0; k < KIND__COUNT; k++)
        json_array_append_new(models, jp_models_model_json(in, c, (kind_t)k));
    json_object_set_new(o, "models", models);
    pthread_mutex_lock(&in->g->lock);
    json_object_set_new(in->g->snapshots, c->code, o);
    pthread_mutex_unlock(&in->g->lock);
}

/* ---- persistence ---- */

static void put_i64v(jp_bytes_writer_t *w, const int64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        jp_bytes_put_i64(w, v[i]);
}

static void get_i64v(jp_bytes_reader_t *r, int64_t *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        *v[i] = jp_bytes_get_i64(r);
}

static int put_blob(inst_t *in, const char *key, size_t klen, jp_bytes_writer_t *w)
{
    int rc =
        w->oom ? -1 : jp_store_put(jp_proc_store(in->ctx), JP_CF_MODELS, key, klen, w->buf, w->len);
    jp_bytes_writer_free(w);
    return rc;
}

/* Why one blob and not a key per day: a day's range stops changing once
 * its records are in, so a key per day would be written once and then
 * never again, while the trainers are rewritten at every commit. A
 * changelog that keeps only its most recent bytes (the dev broker trims a
 * partition at ~5 MB; a compaction lagging behind a restore is no better)
 * then loses the old days first, and a restore from it gave the next
 * version a different data snapshot than an uninterrupted run. The blob
 * (24 bytes per input and day, at most OFFSET_DAYS days) is rewritten at
 * every commit that changed a day, so the restore always finds it whole. */
static int offsets_save(inst_t *in)
{
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_bytes_put_header(&w, OFFSETS_TAG, 1);
    for (int i = 0; i < JP_INPUT__COUNT; i++) {
        jp_bytes_put_u32(&w, (uint32_t)in->n_offsets[i]);
        for (size_t k = 0; k < in->n_offsets[i]; k++) {
            const day_offsets_t *d = &in->offsets[i][k];
            const int64_t v[] = {d->day, d->lo, d->hi};
            for (size_t j = 0; j < 3; j++)
                jp_bytes_put_i64(&w, v[j]);
        }
    }
    return put_blob(in, OFFSETS_KEY, strlen(OFFSETS_KEY), &w);
}

static int offsets_load(inst_t *in, const void *val, size_t len)
{
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, val, len);
    jp_bytes_get_header(&r, OFFSETS_TAG, 1);
    for (int i = 0; i < JP_INPUT__COUNT && jp_bytes_reader_ok(&r); i++) {
        uint32_t n = jp_bytes_get_u32(&r);
        for (uint32_t k = 0; k < n && jp_bytes_reader_ok(&r); k++) {
            int64_t day = jp_bytes_get_i64(&r), lo = jp_bytes_get_i64(&r),
                    hi = jp_bytes_get_i64(&r);
            if (jp_bytes_reader_ok(&r) && offsets_merge(in, i, day, lo, hi) != 0)
                return -1;
        }
    }
    return jp_bytes_reader_done(&r) ? 0 : -1;
}

static int save_country(inst_t *in, country_t *c)
{
    char key[16];
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_bytes_put_header(&w, COUNTRY_TAG, 1);
    const int64_t t[] = {c->first_day, c->last_day_end, c->draws_since_cut};
    put_i64v(&w, t, 3);
    jp_bytes_put_f64(&w, c->prev_held);
    jp_bytes_put_f64(&w, c->prev_lapsed);
    for (int s = 0; s < N_CAMPAIGNS; s++)
        jp_bytes_put_raw(&w, c->campaigns[s], sizeof(c->campaigns[s]));
    size_t kl = jp_models_key(key, sizeof(key), c->code, -1, 0, 0);
    return put_blob(in, key, kl, &w);
}

static int load_country(country_t *c, const void *val, size_t len)
{
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, val, len);
    jp_bytes_get_header(&r, COUNTRY_TAG, 1);
    int64_t *const t[] = {&c->first_day, &c->last_day_end, &c->draws_since_cut};
    get_i64v(&r, t, 3);
    c->prev_held = jp_bytes_get_f64(&r);
    c->prev_lapsed = jp_bytes_get_f64(&r);
    for (int s = 0; s < N_CAMPAIGNS; s++) {
        jp_bytes_get_raw(&r, c->campaigns[s], sizeof(c->campaigns[s]));
        c->campaigns[s][sizeof(c->campaigns[s]) - 1] = '\0';
    }
    return jp_bytes_reader_done(&r) ? 0 : -1;
}

static int save_trainer(inst_t *in, country_t *c, model_t *m)
{
    char key[16];
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_bytes_put_header(&w, TRAINER_TAG, 1);
    const int64_t t[] = {m->train_start, m->trained_until, m->retrain_from, m->retrained_at};
    put_i64v(&w, t, 4);
    if (m->kind == KIND_SALES) {
        jp_flows_serialize(m->flows, &w);
        jp_eval_reg_serialize(m->train_reg, &w);
    } else {
        jp_ftrl_serialize(m->ftrl, &w);
        jp_eval_cls_serialize(m->train_cls, &w);
    }
    size_t kl = jp_models_key(key, sizeof(key), c->code, m->kind, 't', 0);
    return put_blob(in, key, kl, &w);
}

static int load_trainer(model_t *m, const void *val, size_t len)
{
    char err[128];
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, val, len);
    jp_bytes_get_header(&r, TRAINER_TAG, 1);
    int64_t *const t[] = {&m->train_start, &m->trained_until, &m->retrain_from, &m->retrained_at};
    get_i64v(&r, t, 4);
    if (m->kind == KIND_SALES) {
        jp_flows_t *f = jp_bytes_reader_ok(&r) ? jp_flows_deserialize(&r, err, sizeof(err)) : NULL;
        jp_eval_reg_t *e = f ? jp_eval_reg_deserialize(&r, err, sizeof(err)) : NULL;
        if (!e) {
            jp_flows_free(f);
            return -1;
        }
        jp_flows_free(m->flows);
        jp_eval_reg_free(m->train_reg);
        m->flows = f;
        m->train_reg = e;
    } else {
        jp_ftrl_t *f = jp_bytes_reader_ok(&r) ? jp_ftrl_deserialize(&r, err, sizeof(err)) : NULL;
        jp_eval_cls_t *e = f ? jp_eval_cls_deserialize(&r, err, sizeof(err)) : NULL;
        if (!e) {
            jp_ftrl_free(f);
            return -1;
        }
        jp_ftrl_free(m->ftrl);
        jp_eval_cls_free(m->train_cls);
        m->ftrl = f;
        m->train_cls = e;
    }
    return jp_bytes_reader_done(&r) ? 0 : -1;
}

static int32_t number_of(const version_t *v)
{
    return v ? v->number : 0;
}

static int save_registry(inst_t *in, country_t *c, model_t *m)
{
    char key[16];
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_bytes_put_header(&w, REGISTRY_TAG, 1);
    jp_bytes_put_u32(&w, (uint32_t)m->last_number);
    jp_bytes_put_u32(&w, (uint32_t)number_of(m->champion));
    jp_bytes_put_u32(&w, (uint32_t)number_of(m->challenger));
    jp_bytes_put_u32(&w, (uint32_t)number_of(m->previous));
    jp_bytes_put_i64(&w, m->duel_windows);
    for (int i = 0; i < 2; i++) {
        jp_bytes_put_f64(&w, m->duel_err[i]);
        jp_bytes_put_f64(&w, m->duel_n[i]);
    }
    size_t kl = jp_models_key(key, sizeof(key), c->code, m->kind, 'r', 0);
    return put_blob(in, key, kl, &w);
}

/* The aliases by number until the versions are loaded. */
typedef struct {
    int32_t champion, challenger, previous;
} aliases_t;

static int load_registry(model_t *m, aliases_t *a, const void *val, size_t len)
{
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, val, len);
    jp_bytes_get_header(&r, REGISTRY_TAG, 1);
    m->last_number = (int32_t)jp_bytes_get_u32(&r);
    a->champion = (int32_t)jp_bytes_get_u32(&r);
    a->challenger = (int32_t)jp_bytes_get_u32(&r);
    a->previous = (int32_t)jp_bytes_get_u32(&r);
    m->duel_windows = jp_bytes_get_i64(&r);
    for (int i = 0; i < 2; i++) {
        m->duel_err[i] = jp_bytes_get_f64(&r);
        m->duel_n[i] = jp_bytes_get_f64(&r);
    }
    return jp_bytes_reader_done(&r) ? 0 : -1;
}

static version_t *kept(model_t *m, int32_t number)
{
    version_t *v[] = {m->champion, m->challenger, m->previous};
    for (size_t i = 0; i < 3; i++)
        if (v[i] && v[i]->number == number)
            return v[i];
    return NULL;
}

static int save_model(inst_t *in, country_t *c, model_t *m)
{
    jp_store_t *st = jp_proc_store(in->ctx);
    if (m->oom)
        return -1;
    if (m->dirty_trainer && save_trainer(in, c, m) != 0)
        return -1;
    m->dirty_trainer = 0;
    if (m->dirty_registry && save_registry(in, c, m) != 0)
        return -1;
    m->dirty_registry = 0;
    for (size_t i = 0; i < m->n_deleted_versions; i++) {
        char key[16];
        size_t kl = jp_models_key(key, sizeof(key), c->code, m->kind, 'v', m->deleted_versions[i]);
        if (!kept(m, m->deleted_versions[i]) && jp_store_del(st, JP_CF_MODELS, key, kl) != 0)
            return -1;
    }
    m->n_deleted_versions = 0;
    for (size_t i = 0; i < m->n_dirty_versions; i++) {
        int32_t number = m->dirty_versions[i];
        char key[16], hk[16];
        version_t *v = kept(m, number);
        if (v) {
            jp_bytes_writer_t w;
            jp_bytes_writer_init(&w);
            jp_models_version_serialize(v, m->kind, &w);
            if (put_blob(in, key, jp_models_key(key, sizeof(key), c->code, m->kind, 'v', number),
                         &w) != 0)
                return -1;
        }
        snprintf(hk, sizeof(hk), "%d", (int)number);
        json_t *h = m->history ? json_object_get(m->history, hk) : NULL;
        char *text = h ? json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (text) {
            size_t kl = jp_models_key(key, sizeof(key), c->code, m->kind, 'h', number);
            int rc = jp_store_put(st, JP_CF_MODELS, key, kl, text, strlen(text));
            free(text);
            if (rc != 0)
                return -1;
        }
    }
    m->n_dirty_versions = 0;
    return 0;
}

/* Loading: every "m/" key, then the aliases resolved. */
typedef struct {
    inst_t *in;
    aliases_t aliases[64][KIND__COUNT]; /* per country index */
    version_t *loose[64][KIND__COUNT][3];
    int failed;
} loading_t;

static int32_t key_number(const char *k)
{
    uint32_t u = 0;
    for (int i = 0; i < 4; i++)
        u = u << 8 | (uint8_t)k[8 + i];
    return (int32_t)u;
}

static int load_one(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    loading_t *ld = ctx;
    const char *k = key;
    if (klen < 6)
        return 0;
    country_t *c = jp_models_country(ld->in, k + 2);
    size_t ci = c ? (size_t)(c - ld->in->countries) : 0;
    if (!c || ci >= 64)
        return 0; /* a country no longer configured */
    if (klen == 6 && k[5] == '_') {
        if (load_country(c, val, vlen) != 0)
            ld->failed = 1;
        return 0;
    }
    if (klen < 8)
        return 0;
    kind_t kind = k[5] == 'S' ? KIND_SALES : KIND_CHURN;
    model_t *m = &c->models[kind];
    char what = k[7];
    if (what == 't' && load_trainer(m, val, vlen) != 0)
        ld->failed = 1;
    else if (what == 'r' && load_registry(m, &ld->aliases[ci][kind], val, vlen) != 0)
        ld->failed = 1;
    else if (what == 'v' && klen == 12) {
        jp_bytes_reader_t r;
        jp_bytes_reader_init(&r, val, vlen);
        version_t *v = jp_models_version_deserialize(&r, kind);
        for (int s = 0; v && s < 3; s++)
            if (!ld->loose[ci][kind][s]) {
                ld->loose[ci][kind][s] = v;
                v = NULL;
            }
        if (v || !jp_bytes_reader_done(&r))
            ld->failed = 1;
        jp_models_version_free(v);
    } else if (what == 'h' && klen == 12) {
        json_t *h = json_loadb(val, vlen, 0, NULL);
        char num[16];
        snprintf(num, sizeof(num), "%d", (int)key_number(k));
        if (!m->history)
            m->history = json_object();
        if (h)
            json_object_set_new(m->history, num, h);
    }
    return 0;
}

/* A day's range under its legacy key (see legacy_offsets_key): merged,
 * and the key deleted after the scan (the blob replaces it). */
static int load_legacy_offsets(void *ctx, const void *key, size_t klen, const void *val,
                               size_t vlen)
{
    inst_t *in = ctx;
    const uint8_t *k = key, *v = val;
    if (klen != LEGACY_OFFSETS_KEY_LEN || vlen != 16 || k[2] >= JP_INPUT__COUNT)
        return 0;
    uint64_t u = 0, lo = 0, hi = 0;
    for (int i = 0; i < 8; i++) {
        u = u << 8 | k[3 + i];
        lo = lo << 8 | v[i];
        hi = hi << 8 | v[8 + i];
    }
    if (offsets_merge(in, k[2], (int64_t)(u ^ (1ull << 63)), (int64_t)lo, (int64_t)hi) != 0)
        return -1;
    in->offsets_dirty = 1;
    return 0;
}

/* The per-day ranges: the blob, and any legacy keys (then deleted). */
static int load_offsets(inst_t *in)
{
    jp_store_t *st = jp_proc_store(in->ctx);
    const void *val;
    size_t vlen;
    int got = jp_store_get(st, JP_CF_MODELS, OFFSETS_KEY, strlen(OFFSETS_KEY), &val, &vlen);
    if (got < 0 || (got == 1 && offsets_load(in, val, vlen) != 0))
        return -1;
    if (jp_store_scan(st, JP_CF_MODELS, "o/", 2, load_legacy_offsets, in) != 0)
        return -1;
    for (int i = 0; in->offsets_dirty && i < JP_INPUT__COUNT; i++)
        for (size_t k = 0; k < in->n_offsets[i]; k++) {
            char key[LEGACY_OFFSETS_KEY_LEN];
            legacy_offsets_key(key, (jp_input_t)i, in->offsets[i][k].day);
            if (jp_store_del(st, JP_CF_MODELS, key, sizeof(key)) != 0)
                return -1;
        }
    return 0;
}

static int load(inst_t *in)
{
    loading_t *ld = calloc(1, sizeof(*ld));
    if (!ld)
        return -1;
    ld->in = in;
    jp_store_t *st = jp_proc_store(in->ctx);
    int rc = jp_store_scan(st, JP_CF_MODELS, "m/", 2, load_one, ld) == 0 && load_offsets(in) == 0 &&
                     !ld->failed
                 ? 0
                 : -1;
    for (size_t ci = 0; ci < in->n_countries && ci < 64; ci++)
        for (int kind = 0; kind < KIND__COUNT; kind++) {
            model_t *m = &in->countries[ci].models[kind];
            const aliases_t *a = &ld->aliases[ci][kind];
            for (int s = 0; s < 3; s++) {
                version_t *v = ld->loose[ci][kind][s];
                if (!v)
                    continue;
                if (v->number == a->champion)
                    m->champion = v;
                else if (v->number == a->challenger)
                    m->challenger = v;
                else if (v->number == a->previous)
                    m->previous = v;
                else
                    jp_models_version_free(v); /* left over: it goes at the next change */
            }
        }
    free(ld);
    return rc;
}

/* ---- the processor ---- */

static void inst_free(inst_t *in)
{
    if (!in)
        return;
    for (size_t i = 0; i < in->n_countries; i++)
        country_release(&in->countries[i]);
    free(in->countries);
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        free(in->offsets[i]);
    free(in);
}

static void *proc_open(void *global, jp_proc_ctx_t *ctx, char *errstr, size_t errstr_size)
{
    jp_models_t *g = global;
    inst_t *in = calloc(1, sizeof(*in));
    if (!in) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    in->g = g;
    in->ctx = ctx;
    inst_t **grown = realloc(g->insts, (g->n_insts + 1) * sizeof(*grown));
    if (!grown || load(in) != 0) {
        free(grown == g->insts ? NULL : grown);
        if (grown)
            g->insts = grown;
        inst_free(in);
        jp_err_set(errstr, errstr_size, "cannot load the models of task %d",
                   jp_proc_partition(ctx));
        return NULL;
    }
    g->insts = grown;
    g->insts[g->n_insts++] = in;
    for (size_t i = 0; i < in->n_countries; i++)
        jp_models_publish(in, &in->countries[i]);
    return in;
}

static void proc_close(void *p)
{
    inst_t *in = p;
    jp_models_t *g = in->g;
    for (size_t i = 0; i < g->n_insts; i++)
        if (g->insts[i] == in) {
            g->insts[i] = g->insts[--g->n_insts];
            break;
        }
    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < in->n_countries; i++)
        json_object_del(g->snapshots, in->countries[i].code);
    pthread_mutex_unlock(&g->lock);
    inst_free(in);
}

static int proc_record(void *p, const jp_proc_record_t *rec)
{
    inst_t *in = p;
    /* A copy (offset -1) is in no input partition's offset range. */
    if (rec->offset >= 0) {
        day_offsets_t *d = offsets_find(in, rec->input, floor_div(rec->event_time, DAY_MS), 1);
        if (!d)
            return -1;
        if (rec->offset < d->lo || rec->offset > d->hi) {
            d->lo = rec->offset < d->lo ? rec->offset : d->lo;
            d->hi = rec->offset > d->hi ? rec->offset : d->hi;
            in->offsets_dirty = 1;
        }
    }
    if (rec->input == JP_INPUT_CUSTOMERS && rec->ev.customer->type == JP_CUSTOMER_EVENT_ERASE)
        return jp_models_churn_erase(in, rec->country, rec->token);
    return jp_models_churn_record(in, rec);
}

/* A headline draw of the country in [start, end). */
static int headline_draw_in(const country_t *c, int64_t start, int64_t end)
{
    jp_draw_t d;
    return jp_calendar_next_draw(c->cal, start - 1, 1, &d) == 0 && d.time_ms < end;
}

static int apply_retrain(inst_t *in, country_t *c)
{
    for (int k = 0; k < KIND__COUNT; k++) {
        model_t *m = &c->models[k];
        if (m->retrain_from == INT64_MIN)
            continue;
        int64_t from = m->retrain_from;
        m->retrain_from = INT64_MIN;
        if (k == KIND_SALES && jp_models_sales_retrain(in, c, from) != 0)
            return -1;
        if (k == KIND_CHURN) {
            char err[64];
            jp_eval_cls_config_t cc = {CHURN_EVAL_WIN, 0.5, 10, 4096};
            jp_ftrl_t *f = jp_models_ftrl_new();
            jp_eval_cls_t *e = jp_eval_cls_create(&cc, err, sizeof(err));
            if (!f || !e) {
                jp_ftrl_free(f);
                jp_eval_cls_free(e);
                return -1;
            }
            jp_ftrl_free(m->ftrl);
            jp_eval_cls_free(m->train_cls);
            m->ftrl = f;
            m->train_cls = e;
            m->train_start = m->retrained_at = from;
        }
        m->dirty_trainer = 1;
    }
    return 0;
}

static int proc_window(void *p, const jp_feature_vector_t *fv)
{
    inst_t *in = p;
    if (fv->window_kind != JP_WINDOW_DAY || fv->country.len != 2)
        return 0;
    country_t *c = jp_models_country(in, fv->country.ptr);
    if (!c)
        return 0; /* not a configured country */
    if (fv->window_end <= c->last_day_end)
        return 0;
    int64_t now = fv->window_end;
    if (apply_retrain(in, c) != 0)
        return -1;
    if (c->first_day == INT64_MIN)
        c->first_day = fv->window_start;
    if (jp_models_sales_window(in, c, fv) != 0 || jp_models_churn_label(in, c, now) != 0)
        return -1;
    for (int k = 0; k < KIND__COUNT; k++)
        if (jp_models_gate(in, c, (kind_t)k, now) != 0)
            return -1;
    if (headline_draw_in(c, fv->window_start, fv->window_end) &&
        ++c->draws_since_cut >= in->g->cfg->models.version_every) {
        c->draws_since_cut = 0;
        for (int k = 0; k < KIND__COUNT; k++)
            if (jp_models_cut(in, c, (kind_t)k, now) != 0)
                return -1;
    }
    c->last_day_end = now;
    c->dirty = 1;
    jp_models_publish(in, c);
    offsets_prune(in, now);
    return 0;
}

static int proc_commit(void *p)
{
    inst_t *in = p;
    for (size_t i = 0; i < in->n_countries; i++) {
        country_t *c = &in->countries[i];
        if (c->dirty && save_country(in, c) != 0)
            return -1;
        c->dirty = 0;
        for (int k = 0; k < KIND__COUNT; k++)
            if (save_model(in, c, &c->models[k]) != 0)
                return -1;
    }
    if (in->offsets_dirty && offsets_save(in) != 0)
        return -1;
    in->offsets_dirty = 0;
    return 0;
}

/* Removes c from the queue of commands (the caller holds g->lock). */
static void command_unlink(jp_models_t *g, command_t *c)
{
    for (command_t **p = &g->commands; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            return;
        }
}

/* Queued admin commands of this instance's countries. */
static int proc_poll(void *p)
{
    inst_t *in = p;
    jp_models_t *g = in->g;
    pthread_mutex_lock(&g->lock);
    command_t *pending = NULL;
    for (command_t *cmd = g->commands; cmd; cmd = cmd->next)
        if (!cmd->done) {
            for (size_t i = 0; i < in->n_countries; i++)
                if (memcmp(in->countries[i].code, cmd->country, 2) == 0) {
                    cmd->done = -1; /* taken */
                    cmd->next_taken = pending;
                    pending = cmd;
                }
        }
    pthread_mutex_unlock(&g->lock);
    int rc = 0;
    for (command_t *cmd = pending, *next; cmd; cmd = next) {
        /* read before done = 1: from then on the caller may free it */
        next = cmd->next_taken;
        country_t *c = jp_models_country(in, cmd->country);
        int64_t now = c->last_day_end == INT64_MIN ? 0 : c->last_day_end;
        char msg[256] = "";
        int status = cmd->op == 0
                         ? jp_models_promote(in, c, cmd->kind, cmd->version, now, msg, sizeof(msg))
                         : jp_models_rollback(in, c, cmd->kind, now, msg, sizeof(msg));
        if (status == 500)
            rc = -1;
        jp_models_publish(in, c);
        pthread_mutex_lock(&g->lock);
        if (cmd->done == 2) { /* its caller stopped waiting: nobody reads it */
            command_unlink(g, cmd);
            free(cmd);
        } else {
            cmd->status = status ? status : 200;
            snprintf(cmd->message, sizeof(cmd->message), "%s", msg);
            cmd->done = 1;
            pthread_cond_broadcast(&g->done);
        }
        pthread_mutex_unlock(&g->lock);
    }
    return rc;
}

/* ---- the global object ---- */

static void fingerprint(jp_event_type_t t, char out[24])
{
    size_t len;
    const char *json = jp_event_schema_json(t, &len);
    char err[128];
    jp_avro_schema_t *s = json ? jp_avro_schema_parse(json, len, err, sizeof(err)) : NULL;
    snprintf(out, 24, "%016llx", s ? (unsigned long long)jp_avro_schema_fingerprint(s) : 0ull);
    jp_avro_schema_free(s);
}

jp_models_t *jp_models_new(const jp_config_t *cfg, jp_metrics_t *metrics, char *errstr,
                           size_t errstr_size)
{
    jp_models_t *g = calloc(1, sizeof(*g));
    if (!g || !(g->snapshots = json_object())) {
        free(g);
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    g->cfg = cfg;
    g->metrics = metrics;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->done, NULL);
    jp_config_hash(cfg, g->config_hash);
    snprintf(g->code_version, sizeof(g->code_version), "jackpot %s (%s)", jp_build_version,
             jp_build_commit);
    fingerprint(JP_EVENT_FEATURES, g->feature_fingerprint[KIND_SALES]);
    fingerprint(JP_EVENT_SALE, g->feature_fingerprint[KIND_CHURN]);
    g->proc = (jp_proc_t){.name = "models",
                          .global = g,
                          .open = proc_open,
                          .close = proc_close,
                          .on_record = proc_record,
                          .on_window = proc_window,
                          .poll = proc_poll,
                          .prepare_commit = proc_commit};
    /* The series exist from the start: no promotion yet, no error yet (NaN
     * until the country's first evaluation). */
    for (size_t i = 0; metrics && i < cfg->n_countries; i++)
        for (int k = 0; k < KIND__COUNT; k++) {
            jp_gauge_t *error;
            jp_counter_t *promotions[2];
            model_series(metrics, cfg->country[i].code, (kind_t)k, &error, promotions);
            if (error)
                jp_gauge_set(error, NAN);
        }
    return g;
}

void jp_models_free(jp_models_t *g)
{
    if (!g)
        return;
    while (g->commands) {
        command_t *n = g->commands->next;
        free(g->commands);
        g->commands = n;
    }
    json_decref(g->snapshots);
    free(g->insts);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->done);
    free(g);
}

const jp_proc_t *jp_models_proc(jp_models_t *g)
{
    return &g->proc;
}

void jp_models_set_listener(jp_models_t *g, jp_models_listener_fn fn, void *ctx)
{
    g->listener = fn;
    g->listener_ctx = ctx;
}

void jp_models_set_example_listener(jp_models_t *g, jp_models_example_fn fn, void *ctx)
{
    g->example_fn = fn;
    g->example_ctx = ctx;
}

/* The instance and country state of a country open here (engine thread). */
static country_t *find_country(jp_models_t *g, const char *code, inst_t **in)
{
    for (size_t i = 0; i < g->n_insts; i++)
        for (size_t k = 0; k < g->insts[i]->n_countries; k++)
            if (memcmp(g->insts[i]->countries[k].code, code, 2) == 0) {
                *in = g->insts[i];
                return &g->insts[i]->countries[k];
            }
    return NULL;
}

static int kind_of(const char *name, kind_t *out)
{
    for (int k = 0; k < KIND__COUNT; k++)
        if (strcmp(name, jp_models_kind_names[k]) == 0) {
            *out = (kind_t)k;
            return 0;
        }
    return -1;
}

int jp_models_retrain(jp_models_t *g, const char *country, const char *model, int64_t change_point)
{
    inst_t *in;
    kind_t k;
    country_t *c = find_country(g, country, &in);
    if (!c || kind_of(model, &k) != 0)
        return -1;
    c->models[k].retrain_from = change_point;
    c->models[k].dirty_trainer = 1;
    return 0;
}

int jp_models_champion(jp_models_t *g, const char *country, jp_models_champion_t *out)
{
    inst_t *in;
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        out->offsets_start[i] = out->offsets_end[i] = -1;
    country_t *c = find_country(g, country, &in);
    if (!c)
        return -1;
    const version_t *s = c->models[KIND_SALES].champion, *ch = c->models[KIND_CHURN].champion;
    out->active = c->prev_held;
    out->lapsed = c->prev_lapsed;
    out->stock_time = c->last_day_end;
    if (s) {
        out->flows = s->flows;
        out->sales_version = s->number;
        out->data_start = s->data_start;
        out->data_end = s->data_end;
        memcpy(out->offsets_start, s->off_start, sizeof(out->offsets_start));
        memcpy(out->offsets_end, s->off_end, sizeof(out->offsets_end));
    }
    if (ch) {
        out->churn = ch->ftrl;
        out->churn_version = ch->number;
    }
    return 0;
}

char *jp_models_snapshot(jp_models_t *g, const char *country)
{
    pthread_mutex_lock(&g->lock);
    json_t *o = json_object_get(g->snapshots, country);
    char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    pthread_mutex_unlock(&g->lock);
    return s;
}

/* ---- the admin API ---- */

static int reply(char **body_out, int status, json_t *o)
{
    *body_out = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(o);
    return *body_out ? status : 500;
}

static int error(char **body_out, int status, const char *msg)
{
    return reply(body_out, status, json_pack("{s:s}", "error", msg));
}

/* "sales-GB" -> kind and country. */
static int parse_model(const char *name, size_t len, kind_t *kind, char cc[3])
{
    char buf[16];
    if (len < 4 || len >= sizeof(buf) || name[len - 3] != '-')
        return -1;
    memcpy(buf, name, len - 3);
    buf[len - 3] = '\0';
    cc[0] = name[len - 2];
    cc[1] = name[len - 1];
    cc[2] = '\0';
    return kind_of(buf, kind);
}

/* A model's JSON out of the snapshots (a new reference), or NULL. */
static json_t *model_view(jp_models_t *g, const char *cc, kind_t kind)
{
    pthread_mutex_lock(&g->lock);
    json_t *models = json_object_get(json_object_get(g->snapshots, cc), "models");
    json_t *m = json_deep_copy(json_array_get(models, (size_t)kind));
    pthread_mutex_unlock(&g->lock);
    return m;
}

static int run_command(jp_models_t *g, command_t *cmd, char **body_out)
{
    command_t *c = malloc(sizeof(*c));
    if (!c)
        return error(body_out, 500, "out of memory");
    *c = *cmd;
    pthread_mutex_lock(&g->lock);
    c->next = g->commands;
    g->commands = c;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    while (c->done != 1)
        if (pthread_cond_timedwait(&g->done, &g->lock, &until) == ETIMEDOUT)
            break;
    int done = c->done == 1, status = c->status;
    char message[256];
    snprintf(message, sizeof(message), "%s", c->message);
    if (done || c->done == 0) { /* finished, or never taken: unlink it */
        command_unlink(g, c);
        free(c);
    } else {
        c->done = 2; /* taken but late: the engine thread frees it when done */
    }
    pthread_mutex_unlock(&g->lock);
    if (!done)
        return error(body_out, 503, "the engine did not apply the command in time");
    if (status != 200)
        return error(body_out, status, message);
    json_t *m = model_view(g, cmd->country, cmd->kind);
    return m ? reply(body_out, 200, m) : error(body_out, 500, "no view");
}

/* The country=CC parameter of a query string (malloc'd, upper case), or
 * NULL. */
static char *query_country(const char *query)
{
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        if (strncmp(p, "country=", 8) == 0) {
            size_t n = (size_t)(end - p - 8);
            char *v = malloc(n + 1);
            for (size_t i = 0; v && i < n; i++)
                v[i] = (char)(p[8 + i] >= 'a' && p[8 + i] <= 'z' ? p[8 + i] - 'a' + 'A' : p[8 + i]);
            if (v)
                v[n] = '\0';
            return v;
        }
        p = amp ? amp + 1 : end;
    }
    return NULL;
}

/* All countries' models, sorted by country (a new reference). */
static json_t *all_models(jp_models_t *g)
{
    json_t *out = json_array();
    pthread_mutex_lock(&g->lock);
    const char **codes = malloc((json_object_size(g->snapshots) + 1) * sizeof(*codes));
    size_t n = 0;
    const char *cc;
    json_t *v;
    json_object_foreach(g->snapshots, cc, v)
    {
        if (codes)
            codes[n++] = cc;
    }
    for (size_t i = 1; codes && i < n; i++) /* insertion sort: five countries */
        for (size_t j = i; j > 0 && strcmp(codes[j - 1], codes[j]) > 0; j--) {
            const char *t = codes[j];
            codes[j] = codes[j - 1];
            codes[j - 1] = t;
        }
    for (size_t i = 0; codes && i < n; i++)
        json_array_extend(out, json_object_get(json_object_get(g->snapshots, codes[i]), "models"));
    free(codes);
    json_t *copy = json_deep_copy(out);
    pthread_mutex_unlock(&g->lock);
    json_decref(out);
    return copy;
}

int jp_models_http(jp_models_t *g, const char *method, const char *path, const char *query,
                   const char *body, char **body_out)
{
    const char *base = "/v1/models";
    size_t bl = strlen(base);
    if (strncmp(path, base, bl) != 0 || (path[bl] && path[bl] != '/'))
        return error(body_out, 404, "not found");
    const char *rest = path[bl] ? path + bl + 1 : "";
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (!*rest) {
        if (!get)
            return error(body_out, 405, "method not allowed");
        char *cc = query ? query_country(query) : NULL;
        if (cc) {
            char *s = jp_models_snapshot(g, cc);
            int known = jp_config_country(g->cfg, cc) != NULL;
            free(cc);
            if (!s)
                return error(body_out, 404,
                             known ? "no models for this country on this instance yet"
                                   : "unknown country");
            *body_out = s;
            return 200;
        }
        return reply(body_out, 200, json_pack("{s:o}", "models", all_models(g)));
    }
    const char *slash = strchr(rest, '/');
    size_t nl = slash ? (size_t)(slash - rest) : strlen(rest);
    kind_t kind;
    char cc[3];
    if (parse_model(rest, nl, &kind, cc) != 0)
        return error(body_out, 404, "unknown model (names look like sales-GB or churn-NL)");
    const char *tail = slash ? slash + 1 : "";
    if (!*tail || strncmp(tail, "versions/", 9) == 0) {
        if (!get)
            return error(body_out, 405, "method not allowed");
        json_t *m = model_view(g, cc, kind);
        if (!m)
            return error(body_out, 404, "no such model on this instance");
        if (!*tail)
            return reply(body_out, 200, m);
        char *end;
        long n = strtol(tail + 9, &end, 10);
        json_t *found = NULL, *v;
        size_t i;
        json_array_foreach(json_object_get(m, "versions"), i, v)
        {
            if (json_integer_value(json_object_get(v, "version")) == n)
                found = json_incref(v);
        }
        json_decref(m);
        if (*end || !found)
            return error(body_out, 404, "no such version");
        return reply(body_out, 200, found);
    }
    command_t cmd;
    memset(&cmd, 0, sizeof(cmd));
    memcpy(cmd.country, cc, 3);
    cmd.kind = kind;
    if (strcmp(tail, "promote") == 0)
        cmd.op = 0;
    else if (strcmp(tail, "rollback") == 0)
        cmd.op = 1;
    else
        return error(body_out, 404, "not found");
    if (strcmp(method, "POST") != 0)
        return error(body_out, 405, "method not allowed");
    json_t *m = model_view(g, cc, kind);
    if (!m)
        return error(body_out, 404, "no such model on this instance");
    json_decref(m);
    if (cmd.op == 0 && body && *body) {
        json_error_t je;
        json_t *b = json_loads(body, 0, &je);
        json_t *v = b ? json_object_get(b, "version") : NULL;
        if (!b || (v && !json_is_integer(v))) {
            json_decref(b);
            return error(body_out, 400, "body must be {\"version\": <number>} or empty");
        }
        cmd.version = v ? (int32_t)json_integer_value(v) : 0;
        json_decref(b);
    }
    return run_command(g, &cmd, body_out);
}
