/*
 * jp_metrics: exact exposition text for a small registry (sorting,
 * canonical labels, escaping, float spelling, cumulative histogram buckets),
 * the label escape helper, every rejection rule, concurrent updates from 4
 * threads while rendering (each scrape self-consistent, totals exact), and
 * promtool's verdict on the output when promtool is installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/jp_metrics.h"
#include "jp_test.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_render_known_answer(void **state)
{
    (void)state;
    jp_metrics_t *m = jp_metrics_new();
    assert_non_null(m);
    const double lat[] = {0.005, 0.5, 1, 2.5};
    const double wait[] = {1, INFINITY};
    char esc[64];
    jp_metrics_label_escape(esc, sizeof(esc), "x\"y\\z\nw");
    char src[80];
    snprintf(src, sizeof(src), "src=\"%s\"", esc);

    /* registered out of name order; children out of label order */
    jp_histogram_t *h =
        jp_metrics_histogram(m, "jp_latency_seconds", "Stage latency.", "stage=\"decode\"", lat, 4);
    jp_counter_t *eb = jp_metrics_counter(m, "jp_events_total", "Events consumed.", "topic=\"b\"");
    jp_counter_t *ea = jp_metrics_counter(m, "jp_events_total", "Events consumed.", "topic=\"a\"");
    jp_counter_t *el =
        jp_metrics_counter(m, "jp_events_total", "Events consumed.", "topic=\"a\",reason=\"LATE\"");
    jp_gauge_t *lx = jp_metrics_gauge(m, "jp_lag", "Lag \\ in\nrecords", src);
    jp_gauge_t *l0 = jp_metrics_gauge(m, "jp_lag", "Lag \\ in\nrecords", NULL);
    jp_gauge_t *bm = jp_metrics_gauge(m, "jp_big", "Big values.", "k=\"million\"");
    jp_gauge_t *bi = jp_metrics_gauge(m, "jp_big", "Big values.", "k=\"inf\"");
    jp_histogram_t *w = jp_metrics_histogram(m, "jp_wait_seconds", "Wait.", "", wait, 2);
    assert_non_null(h);
    assert_non_null(eb);
    assert_non_null(ea);
    assert_non_null(el);
    assert_non_null(lx);
    assert_non_null(l0);
    assert_non_null(bm);
    assert_non_null(bi);
    assert_non_null(w);

    jp_counter_add(eb, 3);
    jp_counter_add(ea, 4);
    jp_counter_add(ea, 1);
    jp_counter_add(el, 2);
    jp_gauge_set(lx, 0.1);
    jp_gauge_set(l0, -1.0);
    jp_gauge_add(l0, -1.5);
    jp_gauge_set(bm, 1e6);
    jp_gauge_set(bi, INFINITY);
    const double obs[] = {0.25, 0.5, 0.75, 2, 3};
    for (size_t i = 0; i < 5; i++)
        jp_histogram_observe(h, obs[i]);
    jp_histogram_observe(w, 0.5);
    jp_histogram_observe(w, 7);

    const char *want = "# HELP jp_big Big values.\n"
                       "# TYPE jp_big gauge\n"
                       "jp_big{k=\"inf\"} +Inf\n"
                       "jp_big{k=\"million\"} 1000000\n"
                       "# HELP jp_events_total Events consumed.\n"
                       "# TYPE jp_events_total counter\n"
                       "jp_events_total{reason=\"LATE\",topic=\"a\"} 2\n"
                       "jp_events_total{topic=\"a\"} 5\n"
                       "jp_events_total{topic=\"b\"} 3\n"
                       "# HELP jp_lag Lag \\\\ in\\nrecords\n"
                       "# TYPE jp_lag gauge\n"
                       "jp_lag -2.5\n"
                       "jp_lag{src=\"x\\\"y\\\\z\\nw\"} 0.1\n"
                       "# HELP jp_latency_seconds Stage latency.\n"
                       "# TYPE jp_latency_seconds histogram\n"
                       "jp_latency_seconds_bucket{stage=\"decode\",le=\"0.005\"} 0\n"
                       "jp_latency_seconds_bucket{stage=\"decode\",le=\"0.5\"} 2\n"
                       "jp_latency_seconds_bucket{stage=\"decode\",le=\"1\"} 3\n"
                       "jp_latency_seconds_bucket{stage=\"decode\",le=\"2.5\"} 4\n"
                       "jp_latency_seconds_bucket{stage=\"decode\",le=\"+Inf\"} 5\n"
                       "jp_latency_seconds_sum{stage=\"decode\"} 6.5\n"
                       "jp_latency_seconds_count{stage=\"decode\"} 5\n"
                       "# HELP jp_wait_seconds Wait.\n"
                       "# TYPE jp_wait_seconds histogram\n"
                       "jp_wait_seconds_bucket{le=\"1\"} 1\n"
                       "jp_wait_seconds_bucket{le=\"+Inf\"} 2\n"
                       "jp_wait_seconds_sum 7.5\n"
                       "jp_wait_seconds_count 2\n";
    char *got = jp_metrics_render(m);
    assert_non_null(got);
    assert_string_equal(got, want);
    /* rendering reads, it does not reset */
    char *again = jp_metrics_render(m);
    assert_string_equal(again, want);
    free(got);
    free(again);

    assert_int_equal(jp_counter_get(ea), 5);
    assert_true(jp_gauge_get(l0) == -2.5);
    assert_int_equal(jp_histogram_count(h), 5);
    assert_true(jp_histogram_sum(h) == 6.5);
    jp_metrics_free(m);
}

static void test_empty_registry(void **state)
{
    (void)state;
    jp_metrics_t *m = jp_metrics_new();
    char *got = jp_metrics_render(m);
    assert_string_equal(got, "");
    free(got);
    jp_metrics_free(m);
}

static void test_float_spelling(void **state)
{
    (void)state;
    const struct {
        double v;
        const char *text;
    } cases[] = {
        {0, "0"},
        {1, "1"},
        {-0.25, "-0.25"},
        {0.1, "0.1"},
        {1.0 / 3, "0.3333333333333333"},
        {123456789, "123456789"},
        {1e-9, "1e-09"},
        {NAN, "NaN"},
        {-INFINITY, "-Inf"},
        {2.5e300, "2.5e+300"},
        {1e15, "1e+15"},
        {-999999999999999, "-999999999999999"},
        {12.5, "12.5"},
        {-0.0, "-0"},
    };
    jp_metrics_t *m = jp_metrics_new();
    jp_gauge_t *g = jp_metrics_gauge(m, "g", "", NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        jp_gauge_set(g, cases[i].v);
        char want[128];
        snprintf(want, sizeof(want), "# HELP g \n# TYPE g gauge\ng %s\n", cases[i].text);
        char *got = jp_metrics_render(m);
        assert_string_equal(got, want);
        free(got);
    }
    jp_metrics_free(m);
}

static void test_label_escape(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(jp_metrics_label_escape(buf, sizeof(buf), "plain"), 5);
    assert_string_equal(buf, "plain");
    assert_int_equal(jp_metrics_label_escape(buf, sizeof(buf), "a\\b\"c\nd"), 10);
    assert_string_equal(buf, "a\\\\b\\\"c\\nd");
    assert_int_equal(jp_metrics_label_escape(buf, sizeof(buf), ""), 0);
    assert_string_equal(buf, "");
    /* utf-8 passes through untouched */
    assert_int_equal(jp_metrics_label_escape(buf, sizeof(buf), "K\xc3\xb8"), 3);
    /* truncation: snprintf-like length, always terminated */
    char small[4];
    assert_int_equal(jp_metrics_label_escape(small, sizeof(small), "\"\"\""), 6);
    assert_int_equal(strlen(small), 3);
    assert_int_equal(jp_metrics_label_escape(NULL, 0, "ab\n"), 4);
}

static void test_labels_canonical(void **state)
{
    (void)state;
    jp_metrics_t *m = jp_metrics_new();
    jp_counter_t *a = jp_metrics_counter(m, "c_total", "h", "b=\"2\",a=\"1\"");
    jp_counter_t *b = jp_metrics_counter(m, "c_total", "h", "a=\"1\",b=\"2\"");
    jp_counter_t *none1 = jp_metrics_counter(m, "c_total", "h", NULL);
    jp_counter_t *none2 = jp_metrics_counter(m, "c_total", "h", "");
    jp_counter_t *esc = jp_metrics_counter(m, "c_total", "h", "a=\"q\\\"\\\\\\n,b=\"");
    assert_non_null(a);
    assert_ptr_equal(a, b);
    assert_non_null(none1);
    assert_ptr_equal(none1, none2);
    assert_true(a != none1);
    assert_non_null(esc);
    jp_counter_add(a, 7);
    char *got = jp_metrics_render(m);
    assert_string_equal(got, "# HELP c_total h\n# TYPE c_total counter\n"
                             "c_total 0\n"
                             "c_total{a=\"1\",b=\"2\"} 7\n"
                             "c_total{a=\"q\\\"\\\\\\n,b=\"} 0\n");
    free(got);
    jp_metrics_free(m);
}

static void test_rejections(void **state)
{
    (void)state;
    jp_metrics_t *m = jp_metrics_new();
    const double b2[] = {1, 2}, b3[] = {1, 2, 3}, bad1[] = {2, 1}, bad2[] = {1, NAN},
                 bad3[] = {1, 1};
    const char *bad_names[] = {"", "1abc", "a-b", "a b", "é"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        assert_null(jp_metrics_counter(m, bad_names[i], "", NULL));
        assert_string_equal(jp_metrics_error(m), "invalid metric name");
    }
    assert_null(jp_metrics_counter(m, NULL, "", NULL));
    assert_non_null(jp_metrics_counter(m, "ns:sub_total", "", NULL));

    const char *bad_labels[] = {
        "a=1",       "a=\"1\" ,b=\"2\"", "a=\"1\",",  "a=\"x\\q\"", "a=\"1\",a=\"2\"", "1a=\"x\"",
        "a=\"x",     "a=\"1\"b=\"2\"",   "a-b=\"1\"", " a=\"1\"",   "a=\"\n\"",        ",a=\"1\"",
        "a=\"x\\\"", "a=\"1\",,b=\"2\"",
    };
    for (size_t i = 0; i < sizeof(bad_labels) / sizeof(bad_labels[0]); i++) {
        assert_null(jp_metrics_counter(m, "l_total", "", bad_labels[i]));
        assert_true(strlen(jp_metrics_error(m)) > 0);
    }
    char many[512] = "";
    for (int i = 0; i <= JP_METRICS_MAX_LABELS; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sl%d=\"v\"", i ? "," : "", i);
    assert_null(jp_metrics_counter(m, "l_total", "", many));
    assert_string_equal(jp_metrics_error(m), "too many labels");

    /* one name, one type, one help, one set of bounds */
    assert_non_null(jp_metrics_counter(m, "x_total", "help", NULL));
    assert_null(jp_metrics_gauge(m, "x_total", "help", NULL));
    assert_null(jp_metrics_histogram(m, "x_total", "help", NULL, b2, 2));
    assert_null(jp_metrics_counter(m, "x_total", "other help", "k=\"v\""));
    assert_non_null(jp_metrics_histogram(m, "h", "", NULL, b2, 2));
    assert_non_null(jp_metrics_histogram(m, "h", "", "k=\"v\"", b2, 2));
    assert_null(jp_metrics_histogram(m, "h", "", "k=\"w\"", b3, 3));
    assert_null(jp_metrics_histogram(m, "h", "", "k=\"w\"", b3, 2 - 1));
    assert_null(jp_metrics_histogram(m, "bad", "", NULL, bad1, 2));
    assert_null(jp_metrics_histogram(m, "bad", "", NULL, bad2, 2));
    assert_null(jp_metrics_histogram(m, "bad", "", NULL, bad3, 2));
    assert_null(jp_metrics_histogram(m, "bad", "", NULL, NULL, 2));
    assert_non_null(jp_metrics_histogram(m, "nob", "", NULL, NULL, 0));

    /* histogram series names are reserved both ways; le only on histograms */
    assert_null(jp_metrics_counter(m, "h_count", "", NULL));
    assert_null(jp_metrics_gauge(m, "h_sum", "", NULL));
    assert_null(jp_metrics_gauge(m, "h_bucket", "", NULL));
    assert_non_null(jp_metrics_gauge(m, "g_sum", "", NULL));
    assert_null(jp_metrics_histogram(m, "g", "", NULL, b2, 2));
    assert_null(jp_metrics_histogram(m, "h2", "", "le=\"1\"", b2, 2));
    assert_non_null(jp_metrics_gauge(m, "le_ok", "", "le=\"1\""));

    /* failures left nothing behind: the exposition has only the accepted */
    char *got = jp_metrics_render(m);
    assert_null(strstr(got, "l_total"));
    assert_null(strstr(got, "bad"));
    assert_null(strstr(got, "# TYPE h_count"));
    assert_non_null(strstr(got, "nob_bucket{le=\"+Inf\"} 0\n"));
    free(got);
    jp_metrics_free(m);
}

/* ---- concurrency --------------------------------------------------------- */

#define THREADS 4
#define ITERS   50000

typedef struct {
    jp_metrics_t *m;
    int id;
} worker_arg_t;

static const double conc_bounds[] = {0.5, 1.5, 2.5};

static void *worker(void *p)
{
    worker_arg_t *w = p;
    char labels[32];
    snprintf(labels, sizeof(labels), "thread=\"%d\"", w->id);
    jp_counter_t *shared = jp_metrics_counter(w->m, "conc_total", "Shared.", NULL);
    jp_gauge_t *g = jp_metrics_gauge(w->m, "conc_gauge", "Shared gauge.", NULL);
    jp_histogram_t *h =
        jp_metrics_histogram(w->m, "conc_seconds", "Shared histogram.", NULL, conc_bounds, 3);
    for (int i = 0; i < ITERS; i++) {
        jp_counter_add(shared, 1);
        jp_gauge_add(g, 1.0);
        jp_histogram_observe(h, (double)(i % 4));
        if (i % 1000 == 0) /* get-or-create racing the renderer and each other */
            jp_counter_add(jp_metrics_counter(w->m, "conc_thread_total", "Per thread.", labels),
                           1000);
    }
    return NULL;
}

/* Value of the sample line starting with prefix (e.g. "x{a=\"1\"} "). */
static bool sample(const char *text, const char *prefix, double *v)
{
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, prefix, strlen(prefix))) {
            *v = strtod(p + strlen(prefix), NULL);
            return true;
        }
    return false;
}

static void check_scrape(const char *text, double *last_total)
{
    double total, b[4], count;
    const char *les[] = {"0.5", "1.5", "2.5", "+Inf"};
    for (int i = 0; i < 4; i++) {
        char pre[64];
        snprintf(pre, sizeof(pre), "conc_seconds_bucket{le=\"%s\"} ", les[i]);
        if (!sample(text, pre, &b[i]))
            return; /* not registered yet */
        if (i > 0)
            assert_true(b[i] >= b[i - 1]);
    }
    assert_true(sample(text, "conc_seconds_count ", &count));
    assert_true(count == b[3]);
    if (sample(text, "conc_total ", &total)) {
        assert_true(total >= *last_total);
        *last_total = total;
    }
}

static void test_concurrent_updates(void **state)
{
    (void)state;
    jp_metrics_t *m = jp_metrics_new();
    pthread_t t[THREADS];
    worker_arg_t args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg_t){m, i};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &args[i]), 0);
    }
    double last_total = 0;
    int scrapes = 0;
    for (; scrapes < 200; scrapes++) {
        char *text = jp_metrics_render(m);
        assert_non_null(text);
        check_scrape(text, &last_total);
        bool done = last_total == (double)THREADS * ITERS;
        free(text);
        if (done)
            break;
        usleep(500);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    char *text = jp_metrics_render(m);
    check_scrape(text, &last_total);
    print_message("%d scrapes during the updates\n", scrapes);

    char want[2048];
    snprintf(want, sizeof(want),
             "# HELP conc_gauge Shared gauge.\n# TYPE conc_gauge gauge\nconc_gauge %d\n"
             "# HELP conc_seconds Shared histogram.\n# TYPE conc_seconds histogram\n"
             "conc_seconds_bucket{le=\"0.5\"} %d\n"
             "conc_seconds_bucket{le=\"1.5\"} %d\n"
             "conc_seconds_bucket{le=\"2.5\"} %d\n"
             "conc_seconds_bucket{le=\"+Inf\"} %d\n"
             "conc_seconds_sum %d\n"
             "conc_seconds_count %d\n"
             "# HELP conc_thread_total Per thread.\n# TYPE conc_thread_total counter\n"
             "conc_thread_total{thread=\"0\"} %d\n"
             "conc_thread_total{thread=\"1\"} %d\n"
             "conc_thread_total{thread=\"2\"} %d\n"
             "conc_thread_total{thread=\"3\"} %d\n"
             "# HELP conc_total Shared.\n# TYPE conc_total counter\nconc_total %d\n",
             THREADS * ITERS, THREADS * ITERS / 4, THREADS * ITERS / 2, THREADS * ITERS * 3 / 4,
             THREADS * ITERS, THREADS * ITERS / 4 * 6, THREADS * ITERS, ITERS, ITERS, ITERS, ITERS,
             THREADS * ITERS);
    assert_string_equal(text, want);
    free(text);
    jp_metrics_free(m);
}

/* ---- promtool ------------------------------------------------------------ */

static void test_promtool(void **state)
{
    (void)state;
    if (access("/usr/bin/promtool", X_OK) != 0) {
        print_message("SKIPPED: promtool not installed (Debian package prometheus); "
                      "exposition not checked by promtool\n");
        skip();
    }
    jp_metrics_t *m = jp_metrics_new();
    const double b[] = {0.001, 0.01, 0.1, 1};
    char esc[64], labels[128];
    jp_metrics_label_escape(esc, sizeof(esc), "we\"ird\\va\nlue");
    snprintf(labels, sizeof(labels), "topic=\"lottery.sales.v1\",reason=\"%s\"", esc);
    jp_counter_add(jp_metrics_counter(m, "jp_dlq_records_total", "Records dead-lettered.", labels),
                   3);
    jp_counter_add(jp_metrics_counter(m, "jp_dlq_records_total", "Records dead-lettered.",
                                      "topic=\"lottery.sales.v1\",reason=\"LATE\""),
                   1);
    jp_gauge_set(jp_metrics_gauge(m, "jp_consumer_lag", "Lag in records, by partition.\nMax.",
                                  "partition=\"0\""),
                 12);
    jp_gauge_set(jp_metrics_gauge(m, "jp_watermark_skew_seconds", "Skew \\ of watermarks.", NULL),
                 NAN);
    jp_histogram_t *h = jp_metrics_histogram(m, "jp_commit_duration_seconds", "Commit latency.",
                                             "task=\"3\"", b, 4);
    jp_histogram_observe(h, 0.004);
    jp_histogram_observe(h, 5);
    char *text = jp_metrics_render(m);
    char *dir = jp_test_tmpdir("metrics");
    char *path = jp_test_write_file(dir, "metrics.txt", text);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", path);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    jp_test_result_t r = jp_test_run(argv);
    if (r.status != 0)
        print_message("promtool said:\n%s%s\non:\n%s", r.out, r.err, text);
    assert_int_equal(r.status, 0);
    jp_test_result_free(&r);
    jp_test_rmtree(dir);
    free(path);
    free(dir);
    free(text);
    jp_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_known_answer), cmocka_unit_test(test_empty_registry),
        cmocka_unit_test(test_float_spelling),      cmocka_unit_test(test_label_escape),
        cmocka_unit_test(test_labels_canonical),    cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_concurrent_updates),  cmocka_unit_test(test_promtool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
