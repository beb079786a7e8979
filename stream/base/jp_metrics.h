/*
 * jp_metrics: a Prometheus metrics registry (counters, gauges, histograms)
 * rendered in the text exposition format 0.0.4.
 *
 * Contract:
 * - A family is a metric name with its help text and type; a child (series)
 *   is one label set of a family. jp_metrics_counter/_gauge/_histogram are
 *   get-or-create: the first call creates the family and/or the child, later
 *   calls with the same name and labels return the same pointer, which stays
 *   valid until jp_metrics_free. They take the registry mutex: call them at
 *   setup time (or when a new label value first appears) and keep the
 *   pointer, not once per event.
 * - They return NULL on: an invalid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*),
 *   malformed labels, a name already registered with another type, another
 *   help text or (histograms) other bucket bounds, a name whose series would
 *   collide with a histogram's <name>_bucket/_sum/_count, or no memory.
 *   jp_metrics_error names the reason of the last failure.
 * - labels is NULL/"" or an already-formatted label list
 *   `name="value",name="value"` (no spaces, no trailing comma) whose values
 *   are escaped with jp_metrics_label_escape. The order of the pairs does not
 *   matter: labels are canonicalized (sorted by name), so `a="1",b="2"` and
 *   `b="2",a="1"` are one series. Duplicate label names are rejected, and so
 *   is `le` on a histogram.
 * - Updates (jp_counter_add, jp_gauge_set/_add, jp_histogram_observe) are
 *   lock-free (relaxed C11 atomics) and may run on any thread, concurrently
 *   with each other and with jp_metrics_render.
 * - jp_metrics_render is deterministic for a given set of values: families
 *   sorted by name, one # HELP and # TYPE line each, children sorted by their
 *   canonical label string. Histogram buckets are cumulative, end with
 *   le="+Inf", and _count equals the +Inf bucket even while observations are
 *   racing the render (_sum may lag or lead by those observations).
 * - Float values print as integers when integral and below 1e15
 *   ("1000000"), else as the shortest text that reads back to the same
 *   double ("0.1", "2.5e+300"), or +Inf, -Inf, NaN.
 */
#ifndef JP_METRICS_H
#define JP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define JP_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define JP_METRICS_MAX_LABELS   16 /* label pairs per series */

typedef struct jp_metrics_s jp_metrics_t;
typedef struct jp_metric_child_s jp_counter_t;
typedef struct jp_metric_child_s jp_gauge_t;
typedef struct jp_metric_child_s jp_histogram_t;

jp_metrics_t *jp_metrics_new(void);
/* Frees the registry and every series; no update may run concurrently. */
void jp_metrics_free(jp_metrics_t *m);

/* Reason of the last failed get-or-create on m (static text, "" if none). */
const char *jp_metrics_error(jp_metrics_t *m);

jp_counter_t *jp_metrics_counter(jp_metrics_t *m, const char *name, const char *help,
                                 const char *labels);
void jp_counter_add(jp_counter_t *c, uint64_t n);
uint64_t jp_counter_get(const jp_counter_t *c);

/* A counter of a non-integral total kept elsewhere (CPU seconds): typed
 * counter, set to the source's running total (which never decreases). A
 * name is either kind of counter, not both. */
jp_counter_t *jp_metrics_counter_float(jp_metrics_t *m, const char *name, const char *help,
                                       const char *labels);
void jp_counter_float_set(jp_counter_t *c, double total);
double jp_counter_float_get(const jp_counter_t *c);

jp_gauge_t *jp_metrics_gauge(jp_metrics_t *m, const char *name, const char *help,
                             const char *labels);
void jp_gauge_set(jp_gauge_t *g, double v);
void jp_gauge_add(jp_gauge_t *g, double delta); /* may be negative */
double jp_gauge_get(const jp_gauge_t *g);

/* upper_bounds: n finite, strictly increasing bucket bounds (a trailing
 * +Inf is accepted and ignored: the +Inf bucket always exists). The array is
 * copied. Every child of a family has the family's bounds. */
jp_histogram_t *jp_metrics_histogram(jp_metrics_t *m, const char *name, const char *help,
                                     const char *labels, const double *upper_bounds, size_t n);
/* v is counted in the first bucket with v <= bound (NaN: only in +Inf). */
void jp_histogram_observe(jp_histogram_t *h, double v);
/* n observations of v at once (a sample standing for n). */
void jp_histogram_observe_n(jp_histogram_t *h, double v, uint64_t n);
/* Total observations and their sum (racy snapshot, for tests and logs). */
uint64_t jp_histogram_count(const jp_histogram_t *h);
double jp_histogram_sum(const jp_histogram_t *h);

/* The whole registry in the text exposition format; malloc'd, NUL-terminated,
 * NULL only when out of memory. Safe while other threads update series.
 * Runs the collectors first. */
char *jp_metrics_render(jp_metrics_t *m);

/* fn(ctx) runs at the start of every render, on the rendering thread, one
 * render at a time: it reads values that live elsewhere (/proc) into
 * series. The registry owns ctx (free_ctx, may be NULL, runs at
 * jp_metrics_free). At most 8 per registry; adding a fn registered already
 * frees the new ctx and keeps the first. 0, or -1 when full (ctx is then
 * still the caller's). */
int jp_metrics_add_collector(jp_metrics_t *m, void (*fn)(void *ctx), void *ctx,
                             void (*free_ctx)(void *ctx));

/* Escapes a label value (\ -> \\, " -> \", newline -> \n) into dst, always
 * NUL-terminated when dst_size > 0. Returns the length of the full escaped
 * text (like snprintf): a result >= dst_size means it was truncated. */
size_t jp_metrics_label_escape(char *dst, size_t dst_size, const char *src);

#endif
