/*
 * jp_metrics: Prometheus registry.
 *
 * Design. The registry is two levels of sorted pointer arrays: families
 * sorted by name, and in each family its children sorted by canonical label
 * string. Keeping them sorted at insertion makes get-or-create a binary
 * search and makes rendering deterministic without sorting at scrape time.
 * Families and children are allocated one by one, so growing an array moves
 * pointers, never the objects the engine holds.
 *
 * Concurrency. Structure (the arrays, names, labels) changes only under the
 * registry mutex, which jp_metrics_render also holds while it walks them.
 * Values are C11 atomics updated with relaxed ordering: a counter is a
 * fetch_add, a gauge stores the bits of its double, a histogram keeps one
 * non-cumulative count per bucket plus the bits of its sum (CAS loop). No
 * total count is stored: the renderer derives the cumulative buckets, the
 * +Inf bucket and _count from one read of the per-bucket counts, so a scrape
 * racing observations is still internally consistent (monotonic buckets,
 * +Inf == _count), which Prometheus requires; only _sum can be off by the
 * racing observations.
 *
 * Labels are canonicalized once, at creation: parsed, validated, sorted by
 * label name and re-joined, so two spellings of one label set cannot become
 * two series with the same identity in the exposition.
 */
#include "base/jp_metrics.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    JP_METRIC_COUNTER,
    JP_METRIC_GAUGE,
    JP_METRIC_HISTOGRAM,
    JP_METRIC_COUNTER_FLOAT, /* a counter of a double, set from a source outside */
} jp_metric_kind_t;

static const char *const kind_names[] = {"counter", "gauge", "histogram", "counter"};

#define JP_METRICS_MAX_COLLECTORS 8

struct jp_metric_child_s {
    jp_metric_kind_t kind;
    char *labels;              /* canonical, "" for none */
    _Atomic uint64_t value;    /* counter count, or gauge/histogram-sum double bits */
    const double *bounds;      /* histogram: the family's bounds */
    size_t nbounds;            /* histogram: buckets has nbounds + 1 entries */
    _Atomic uint64_t *buckets; /* histogram: non-cumulative, last one is +Inf */
};

typedef struct jp_metric_family_s {
    char *name;
    char *help;
    jp_metric_kind_t kind;
    double *bounds;
    char (*le)[32]; /* the bounds as le label values, formatted once */
    size_t nbounds;
    struct jp_metric_child_s **children;
    size_t nchildren, cap;
} jp_metric_family_t;

struct jp_metrics_s {
    pthread_mutex_t lock;
    jp_metric_family_t **families;
    size_t nfamilies, cap;
    _Atomic(const char *) error;
    /* run by jp_metrics_render before it renders (under collect_lock, so
     * two scrapes do not collect at once) */
    pthread_mutex_t collect_lock;
    struct {
        void (*fn)(void *ctx);
        void *ctx;
        void (*free_ctx)(void *ctx);
    } collectors[JP_METRICS_MAX_COLLECTORS];
    size_t ncollectors;
};

static const char *const hist_suffixes[] = {"_bucket", "_sum", "_count"};

static void fmt_double(char out[32], double v);

/* ---- doubles as atomic bits ---------------------------------------------- */

static uint64_t dbits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    return u;
}

static double bitsd(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof(v));
    return v;
}

static void atomic_add_double(_Atomic uint64_t *a, double delta)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(a, &old, dbits(bitsd(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

/* ---- names and labels ---------------------------------------------------- */

static bool is_alpha_(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool valid_metric_name(const char *s)
{
    if (!s || !(is_alpha_(*s) || *s == ':'))
        return false;
    for (s++; *s; s++)
        if (!(is_alpha_(*s) || is_digit(*s) || *s == ':'))
            return false;
    return true;
}

typedef struct {
    const char *name, *value; /* value: the escaped text between the quotes */
    size_t name_len, value_len;
} jp_label_pair_t;

static int pair_cmp(const jp_label_pair_t *a, const jp_label_pair_t *b)
{
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(a->name, b->name, n);
    return c ? c : (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

/* Parses `n="v",n="v"` into pairs; NULL or the reason it is malformed. */
static const char *labels_parse(const char *s, jp_label_pair_t *pairs, size_t *npairs)
{
    size_t n = 0;
    while (*s) {
        if (n == JP_METRICS_MAX_LABELS)
            return "too many labels";
        jp_label_pair_t *p = &pairs[n++];
        p->name = s;
        if (!is_alpha_(*s))
            return "malformed labels: expected a label name";
        while (is_alpha_(*s) || is_digit(*s))
            s++;
        p->name_len = (size_t)(s - p->name);
        if (s[0] != '=' || s[1] != '"')
            return "malformed labels: expected =\" after a label name";
        s += 2;
        p->value = s;
        for (; *s != '"'; s++) {
            if (*s == '\0' || *s == '\n')
                return "malformed labels: unterminated value";
            if (*s == '\\' && !(s[1] == '\\' || s[1] == '"' || s[1] == 'n'))
                return "malformed labels: invalid escape (use jp_metrics_label_escape)";
            if (*s == '\\')
                s++;
        }
        p->value_len = (size_t)(s - p->value);
        s++;
        if (*s == ',' && s[1] != '\0')
            s++;
        else if (*s)
            return "malformed labels: expected , between pairs";
    }
    *npairs = n;
    return NULL;
}

/* Canonical form of labels (pairs sorted by name) in *out (malloc'd). */
static const char *labels_canon(const char *labels, bool histogram, char **out)
{
    jp_label_pair_t pairs[JP_METRICS_MAX_LABELS];
    size_t n = 0, len = 0;
    const char *why = labels_parse(labels ? labels : "", pairs, &n);
    if (why)
        return why;
    for (size_t i = 1; i < n; i++) /* insertion sort: a handful of pairs */
        for (size_t j = i; j > 0 && pair_cmp(&pairs[j - 1], &pairs[j]) > 0; j--) {
            jp_label_pair_t t = pairs[j];
            pairs[j] = pairs[j - 1];
            pairs[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && pair_cmp(&pairs[i - 1], &pairs[i]) == 0)
            return "duplicate label name";
        if (histogram && pairs[i].name_len == 2 && !memcmp(pairs[i].name, "le", 2))
            return "label le is reserved on histograms";
        len += pairs[i].name_len + pairs[i].value_len + 4; /* ="", */
    }
    char *buf = malloc(len + 1), *w = buf;
    if (!buf)
        return "out of memory";
    for (size_t i = 0; i < n; i++) {
        w += sprintf(w, "%s%.*s=\"%.*s\"", i ? "," : "", (int)pairs[i].name_len, pairs[i].name,
                     (int)pairs[i].value_len, pairs[i].value);
    }
    *w = '\0';
    *out = buf;
    return NULL;
}

size_t jp_metrics_label_escape(char *dst, size_t dst_size, const char *src)
{
    size_t n = 0;
    for (; *src; src++) {
        const char *rep = *src == '\\'   ? "\\\\"
                          : *src == '"'  ? "\\\""
                          : *src == '\n' ? "\\n"
                                         : NULL;
        char one[2] = {*src, '\0'};
        for (const char *r = rep ? rep : one; *r; r++, n++)
            if (n + 1 < dst_size)
                dst[n] = *r;
    }
    if (dst_size > 0)
        dst[n < dst_size ? n : dst_size - 1] = '\0';
    return n;
}

/* ---- registry ------------------------------------------------------------ */

jp_metrics_t *jp_metrics_new(void)
{
    jp_metrics_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->collect_lock, NULL);
    atomic_init(&m->error, "");
    return m;
}

static void child_free(struct jp_metric_child_s *c)
{
    if (!c)
        return;
    free(c->labels);
    free(c->buckets);
    free(c);
}

static void family_free(jp_metric_family_t *f)
{
    for (size_t i = 0; i < f->nchildren; i++)
        child_free(f->children[i]);
    free(f->children);
    free(f->bounds);
    free(f->le);
    free(f->name);
    free(f->help);
    free(f);
}

void jp_metrics_free(jp_metrics_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nfamilies; i++)
        family_free(m->families[i]);
    free(m->families);
    for (size_t i = 0; i < m->ncollectors; i++)
        if (m->collectors[i].free_ctx)
            m->collectors[i].free_ctx(m->collectors[i].ctx);
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->collect_lock);
    free(m);
}

const char *jp_metrics_error(jp_metrics_t *m)
{
    return atomic_load(&m->error);
}

static const char *family_key(const void *p)
{
    return ((const jp_metric_family_t *)p)->name;
}

static const char *child_key(const void *p)
{
    return ((const struct jp_metric_child_s *)p)->labels;
}

/* Binary search of a pointer array sorted by key(): the index of want, or
 * its insertion point with *found false. */
static size_t sorted_find(void *const *arr, size_t n, const char *(*key)(const void *),
                          const char *want, bool *found)
{
    size_t lo = 0, hi = n;
    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key(arr[mid]), want);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t family_find(const jp_metrics_t *m, const char *name, bool *found)
{
    return sorted_find((void *const *)m->families, m->nfamilies, family_key, name, found);
}

static size_t child_find(const jp_metric_family_t *f, const char *labels, bool *found)
{
    if (f->nchildren == 0) { /* a new family has no children array yet */
        *found = false;
        return 0;
    }
    return sorted_find((void *const *)f->children, f->nchildren, child_key, labels, found);
}

/* Inserts p at index i of a growable pointer array; 0 or -1 (no memory). */
static int ptr_insert(void ***arr, size_t *n, size_t *cap, size_t i, void *p)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        void **grown = realloc(*arr, ncap * sizeof(*grown));
        if (!grown)
            return -1;
        *arr = grown;
        *cap = ncap;
    }
    memmove(*arr + i + 1, *arr + i, (*n - i) * sizeof(**arr));
    (*arr)[i] = p;
    (*n)++;
    return 0;
}

/* Would a new family `name` of kind `kind` share a series name with an
 * existing family (histogram suffixes)? */
static bool family_collides(const jp_metrics_t *m, const char *name, jp_metric_kind_t kind)
{
    size_t len = strlen(name);
    bool found;
    for (size_t s = 0; s < 3; s++) {
        size_t sl = strlen(hist_suffixes[s]);
        if (len > sl && !strcmp(name + len - sl, hist_suffixes[s])) {
            char *base = strndup(name, len - sl);
            size_t i = base ? family_find(m, base, &found) : 0;
            free(base);
            if (!base || (found && m->families[i]->kind == JP_METRIC_HISTOGRAM))
                return true;
        }
        if (kind == JP_METRIC_HISTOGRAM) {
            char *full = malloc(len + sl + 1);
            if (!full)
                return true;
            snprintf(full, len + sl + 1, "%s%s", name, hist_suffixes[s]);
            family_find(m, full, &found);
            free(full);
            if (found)
                return true;
        }
    }
    return false;
}

static const char *bounds_check(const double *b, size_t *n)
{
    if (*n > 0 && isinf(b[*n - 1]) && b[*n - 1] > 0)
        (*n)--; /* explicit +Inf: implicit anyway */
    for (size_t i = 0; i < *n; i++) {
        if (!isfinite(b[i]))
            return "histogram bounds must be finite";
        if (i > 0 && !(b[i] > b[i - 1]))
            return "histogram bounds must be strictly increasing";
    }
    return NULL;
}

static jp_metric_family_t *family_new(const char *name, const char *help, jp_metric_kind_t kind,
                                      const double *bounds, size_t nbounds)
{
    jp_metric_family_t *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->name = strdup(name);
    f->help = strdup(help);
    f->kind = kind;
    f->nbounds = nbounds;
    f->bounds = malloc((nbounds ? nbounds : 1) * sizeof(double));
    f->le = malloc((nbounds + 1) * sizeof(*f->le));
    if (!f->name || !f->help || !f->bounds || !f->le) {
        family_free(f);
        return NULL;
    }
    for (size_t i = 0; i < nbounds; i++) {
        f->bounds[i] = bounds[i];
        fmt_double(f->le[i], bounds[i]);
    }
    strcpy(f->le[nbounds], "+Inf");
    return f;
}

static struct jp_metric_child_s *child_new(const jp_metric_family_t *f, char *labels)
{
    struct jp_metric_child_s *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->kind = f->kind;
    c->labels = labels;
    atomic_init(&c->value, f->kind == JP_METRIC_COUNTER ? 0 : dbits(0.0));
    if (f->kind == JP_METRIC_HISTOGRAM) {
        c->bounds = f->bounds;
        c->nbounds = f->nbounds;
        c->buckets = malloc((f->nbounds + 1) * sizeof(*c->buckets));
        if (!c->buckets) {
            c->labels = NULL; /* the caller still owns labels */
            child_free(c);
            return NULL;
        }
        for (size_t i = 0; i <= f->nbounds; i++)
            atomic_init(&c->buckets[i], 0);
    }
    return c;
}

static struct jp_metric_child_s *get_or_create(jp_metrics_t *m, const char *name, const char *help,
                                               const char *labels, jp_metric_kind_t kind,
                                               const double *bounds, size_t nbounds)
{
    const char *why = NULL;
    char *canon = NULL;
    struct jp_metric_child_s *c = NULL;
    help = help ? help : "";
    if (!valid_metric_name(name))
        why = "invalid metric name";
    else if (kind == JP_METRIC_HISTOGRAM && !bounds && nbounds)
        why = "histogram bounds missing";
    else if (kind == JP_METRIC_HISTOGRAM && (why = bounds_check(bounds, &nbounds)))
        ;
    else
        why = labels_canon(labels, kind == JP_METRIC_HISTOGRAM, &canon);
    if (why) {
        atomic_store(&m->error, why);
        return NULL;
    }

    pthread_mutex_lock(&m->lock);
    bool found;
    size_t fi = family_find(m, name, &found);
    jp_metric_family_t *f = found ? m->families[fi] : NULL;
    if (f) {
        if (f->kind != kind)
            why = "metric name already registered with another type";
        else if (strcmp(f->help, help))
            why = "metric name already registered with another help text";
        else if (kind == JP_METRIC_HISTOGRAM &&
                 (f->nbounds != nbounds ||
                  (nbounds && memcmp(f->bounds, bounds, nbounds * sizeof(double)))))
            why = "histogram already registered with other bucket bounds";
    } else if (family_collides(m, name, kind)) {
        why = "metric name collides with a histogram's _bucket/_sum/_count series";
    } else if (!(f = family_new(name, help, kind, bounds, nbounds)) ||
               ptr_insert((void ***)&m->families, &m->nfamilies, &m->cap, fi, f)) {
        if (f)
            family_free(f);
        f = NULL;
        why = "out of memory";
    }
    if (!why) {
        size_t ci = child_find(f, canon, &found);
        if (found) {
            c = f->children[ci];
        } else if (!(c = child_new(f, canon)) ||
                   ptr_insert((void ***)&f->children, &f->nchildren, &f->cap, ci, c)) {
            if (c)
                c->labels = NULL; /* freed below with canon */
            child_free(c);
            c = NULL;
            why = "out of memory";
        } else {
            canon = NULL; /* owned by the child now */
        }
    }
    pthread_mutex_unlock(&m->lock);
    free(canon);
    if (why)
        atomic_store(&m->error, why);
    return c;
}

/* ---- updates ------------------------------------------------------------- */

jp_counter_t *jp_metrics_counter(jp_metrics_t *m, const char *name, const char *help,
                                 const char *labels)
{
    return get_or_create(m, name, help, labels, JP_METRIC_COUNTER, NULL, 0);
}

void jp_counter_add(jp_counter_t *c, uint64_t n)
{
    assert(c->kind == JP_METRIC_COUNTER);
    atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

uint64_t jp_counter_get(const jp_counter_t *c)
{
    return atomic_load_explicit(&((jp_counter_t *)c)->value, memory_order_relaxed);
}

jp_counter_t *jp_metrics_counter_float(jp_metrics_t *m, const char *name, const char *help,
                                       const char *labels)
{
    return get_or_create(m, name, help, labels, JP_METRIC_COUNTER_FLOAT, NULL, 0);
}

/* The double a gauge or a float counter holds. */
static void value_store(struct jp_metric_child_s *c, double v)
{
    atomic_store_explicit(&c->value, dbits(v), memory_order_relaxed);
}

static double value_load(const struct jp_metric_child_s *c)
{
    return bitsd(
        atomic_load_explicit(&((struct jp_metric_child_s *)c)->value, memory_order_relaxed));
}

void jp_counter_float_set(jp_counter_t *c, double total)
{
    assert(c->kind == JP_METRIC_COUNTER_FLOAT);
    value_store(c, total);
}

double jp_counter_float_get(const jp_counter_t *c)
{
    return value_load(c);
}

int jp_metrics_add_collector(jp_metrics_t *m, void (*fn)(void *ctx), void *ctx,
                             void (*free_ctx)(void *ctx))
{
    int rc = -1, known = 0;
    pthread_mutex_lock(&m->collect_lock);
    for (size_t i = 0; i < m->ncollectors; i++)
        known |= m->collectors[i].fn == fn;
    if (!known && m->ncollectors < JP_METRICS_MAX_COLLECTORS) {
        m->collectors[m->ncollectors].fn = fn;
        m->collectors[m->ncollectors].ctx = ctx;
        m->collectors[m->ncollectors++].free_ctx = free_ctx;
        rc = 0;
    }
    pthread_mutex_unlock(&m->collect_lock);
    if (known) {
        rc = 0;
        if (free_ctx)
            free_ctx(ctx);
    }
    return rc;
}

jp_gauge_t *jp_metrics_gauge(jp_metrics_t *m, const char *name, const char *help,
                             const char *labels)
{
    return get_or_create(m, name, help, labels, JP_METRIC_GAUGE, NULL, 0);
}

void jp_gauge_set(jp_gauge_t *g, double v)
{
    assert(g->kind == JP_METRIC_GAUGE);
    value_store(g, v);
}

void jp_gauge_add(jp_gauge_t *g, double delta)
{
    assert(g->kind == JP_METRIC_GAUGE);
    atomic_add_double(&g->value, delta);
}

double jp_gauge_get(const jp_gauge_t *g)
{
    return value_load(g);
}

jp_histogram_t *jp_metrics_histogram(jp_metrics_t *m, const char *name, const char *help,
                                     const char *labels, const double *upper_bounds, size_t n)
{
    return get_or_create(m, name, help, labels, JP_METRIC_HISTOGRAM, upper_bounds, n);
}

void jp_histogram_observe(jp_histogram_t *h, double v)
{
    jp_histogram_observe_n(h, v, 1);
}

void jp_histogram_observe_n(jp_histogram_t *h, double v, uint64_t n)
{
    assert(h->kind == JP_METRIC_HISTOGRAM);
    size_t lo = 0, hi = h->nbounds;
    while (lo < hi) { /* first bound >= v; NaN compares false: +Inf */
        size_t mid = lo + (hi - lo) / 2;
        if (v <= h->bounds[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_fetch_add_explicit(&h->buckets[lo], n, memory_order_relaxed);
    atomic_add_double(&h->value, v * (double)n);
}

uint64_t jp_histogram_count(const jp_histogram_t *h)
{
    uint64_t n = 0;
    for (size_t i = 0; i <= h->nbounds; i++)
        n += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
    return n;
}

double jp_histogram_sum(const jp_histogram_t *h)
{
    return bitsd(atomic_load_explicit(&((jp_histogram_t *)h)->value, memory_order_relaxed));
}

/* ---- rendering ----------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
    bool oom;
} jp_sbuf_t;

static void sb_grow(jp_sbuf_t *b, size_t need)
{
    if (b->oom || b->len + need + 1 <= b->cap)
        return;
    size_t ncap = b->cap ? b->cap : 4096;
    while (ncap < b->len + need + 1)
        ncap *= 2;
    char *p = realloc(b->buf, ncap);
    if (!p) {
        b->oom = true;
        return;
    }
    b->buf = p;
    b->cap = ncap;
}

static void sb_put(jp_sbuf_t *b, const char *s, size_t n)
{
    sb_grow(b, n);
    if (b->oom)
        return;
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

__attribute__((format(printf, 2, 3))) static void sb_printf(jp_sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    sb_grow(b, (size_t)n);
    if (b->oom)
        return;
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Integral values below 1e15 as integers (counts, offsets, money stay
 * readable); others as the shortest "%.*g" text that reads back to v;
 * Prometheus spellings for the non-finite values. %g drops trailing zeros
 * and any decimal of <= 15 digits survives a round trip through a double
 * (DBL_DIG), so when %.15g reads back it is already the shortest form: at
 * most three tries instead of seventeen. */
static void fmt_double(char out[32], double v)
{
    if (isnan(v)) {
        strcpy(out, "NaN");
        return;
    }
    if (isinf(v)) {
        strcpy(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, 32, "%.0f", v);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

static void sb_puts(jp_sbuf_t *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* One sample line: name[suffix]{labels[,le="x"]} value (the hot loop of a
 * scrape: plain appends, no format parsing). */
static void put_sample(jp_sbuf_t *b, const char *name, const char *suffix, const char *labels,
                       const char *le, const char *value)
{
    sb_puts(b, name);
    sb_puts(b, suffix);
    if (labels[0] || le) {
        sb_put(b, "{", 1);
        sb_puts(b, labels);
        if (le) {
            sb_puts(b, labels[0] ? ",le=\"" : "le=\"");
            sb_puts(b, le);
            sb_put(b, "\"", 1);
        }
        sb_put(b, "}", 1);
    }
    sb_put(b, " ", 1);
    sb_puts(b, value);
    sb_put(b, "\n", 1);
}

static void put_help(jp_sbuf_t *b, const jp_metric_family_t *f)
{
    sb_printf(b, "# HELP %s ", f->name);
    for (const char *s = f->help; *s; s++) {
        if (*s == '\\')
            sb_put(b, "\\\\", 2);
        else if (*s == '\n')
            sb_put(b, "\\n", 2);
        else
            sb_put(b, s, 1);
    }
    sb_printf(b, "\n# TYPE %s %s\n", f->name, kind_names[f->kind]);
}

/* Decimal text of u (no printf on the scrape's hot path). */
static void fmt_u64(char out[32], uint64_t u)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

static void put_histogram(jp_sbuf_t *b, const jp_metric_family_t *f, struct jp_metric_child_s *c)
{
    char val[32];
    uint64_t cum = 0;
    for (size_t i = 0; i <= c->nbounds; i++) {
        cum += atomic_load_explicit(&c->buckets[i], memory_order_relaxed);
        fmt_u64(val, cum);
        put_sample(b, f->name, "_bucket", c->labels, f->le[i], val);
    }
    fmt_double(val, jp_histogram_sum(c));
    put_sample(b, f->name, "_sum", c->labels, NULL, val);
    fmt_u64(val, cum);
    put_sample(b, f->name, "_count", c->labels, NULL, val);
}

char *jp_metrics_render(jp_metrics_t *m)
{
    jp_sbuf_t b = {0};
    sb_put(&b, "", 0); /* an empty registry renders as "" */
    pthread_mutex_lock(&m->collect_lock);
    for (size_t i = 0; i < m->ncollectors; i++)
        m->collectors[i].fn(m->collectors[i].ctx);
    pthread_mutex_unlock(&m->collect_lock);
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->nfamilies; i++) {
        const jp_metric_family_t *f = m->families[i];
        if (f->nchildren == 0)
            continue;
        put_help(&b, f);
        for (size_t j = 0; j < f->nchildren; j++) {
            struct jp_metric_child_s *c = f->children[j];
            char val[32];
            if (f->kind == JP_METRIC_HISTOGRAM) {
                put_histogram(&b, f, c);
                continue;
            }
            if (f->kind == JP_METRIC_COUNTER)
                fmt_u64(val, jp_counter_get(c));
            else if (f->kind == JP_METRIC_COUNTER_FLOAT)
                fmt_double(val, jp_counter_float_get(c));
            else
                fmt_double(val, jp_gauge_get(c));
            put_sample(&b, f->name, "", c->labels, NULL, val);
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (b.oom) {
        free(b.buf);
        return NULL;
    }
    return b.buf;
}
