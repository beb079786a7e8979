/*
 * jp_drift: known answers and detector behaviour.
 *
 * The known answers in tests/fixtures/model/drift_known_answers.txt were
 * generated once with Debian's /usr/bin/python3 (NumPy 1.24, SciPy 1.10) by
 * tests/fixtures/model/gen_drift.py and committed; this test only reads
 * them: scipy.stats.ks_2samp(method='asymp'), scipy.stats.kstwo.sf,
 * scipy.special.smirnov, a NumPy PSI (np.quantile bins, searchsorted
 * side='right', Evidently's 1e-4 smoothing), categorical PSI with an unseen
 * bucket, scipy.spatial.distance.jensenshannon(base=2), and the population
 * PSI of shifted normals computed from scipy.stats.norm.
 *
 * Page-Hinkley and ADWIN are checked on seeded synthetic streams: detection
 * of up and down shifts within a stated delay, bounded false alarms on a
 * long stationary run, window shrinking, and exact serialization round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jp_test_num.h"

#include "model/learn/jp_drift.h"
#include "model/base/jp_rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixture reader ---------------------------------------------------- */

typedef struct {
    FILE *f;
    char *line;
    size_t cap;
} fixture_t;

static void fixture_open(fixture_t *fx)
{
    const char *src = getenv("JACKPOT_SRC");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/model/drift_known_answers.txt", src ? src : ".");
    fx->f = fopen(path, "r");
    if (!fx->f)
        fail_msg("cannot open %s (run from the repo root or set JACKPOT_SRC)", path);
    fx->line = NULL;
    fx->cap = 0;
}

static void fixture_close(fixture_t *fx)
{
    fclose(fx->f);
    free(fx->line);
}

/* Next line, or NULL at EOF. */
static char *fixture_next(fixture_t *fx)
{
    return getline(&fx->line, &fx->cap, fx->f) < 0 ? NULL : fx->line;
}

static double *fixture_values(fixture_t *fx, size_t n)
{
    char *l = fixture_next(fx);
    assert_non_null(l);
    double *v = malloc((n ? n : 1) * sizeof *v);
    assert_non_null(v);
    char *p = l, *end;
    for (size_t i = 0; i < n; i++) {
        v[i] = strtod(p, &end);
        assert_true(end != p);
        p = end;
    }
    return v;
}

/* ---- known answers ----------------------------------------------------- */

static void test_fixture_known_answers(void **state)
{
    (void)state;
    fixture_t fx;
    fixture_open(&fx);
    int nks = 0, nkstwo = 0, nsmir = 0, npsi = 0, ncat = 0, njs = 0;
    char *l;
    char err[256];
    while ((l = fixture_next(&fx))) {
        char kind[16];
        if (sscanf(l, "%15s", kind) != 1)
            continue;
        if (strcmp(kind, "KS2") == 0) {
            size_t nx, ny;
            double st, pv;
            assert_int_equal(sscanf(l, "KS2 %zu %zu %lf %lf", &nx, &ny, &st, &pv), 4);
            double *x = fixture_values(&fx, nx), *y = fixture_values(&fx, ny);
            double d, p;
            assert_int_equal(jp_drift_ks_2samp(x, nx, y, ny, &d, &p, err, sizeof err), 0);
            jp_assert_near(d, st, 0, 1e-12, "ks statistic");
            jp_assert_near(p, pv, 0, 1e-6, "ks p-value");
            free(x);
            free(y);
            nks++;
        } else if (strcmp(kind, "KSTWO") == 0) {
            unsigned long long n;
            double d, sf;
            assert_int_equal(sscanf(l, "KSTWO %llu %lf %lf", &n, &d, &sf), 3);
            char what[64];
            snprintf(what, sizeof what, "kstwo.sf(%g, %llu)", d, n);
            jp_assert_near(jp_drift_kolmogorov_sf(n, d), sf, 0, 1e-6, what);
            nkstwo++;
        } else if (strcmp(kind, "SMIRNOV") == 0) {
            unsigned long long n;
            double d, sf;
            assert_int_equal(sscanf(l, "SMIRNOV %llu %lf %lf", &n, &d, &sf), 3);
            char what[64];
            snprintf(what, sizeof what, "smirnov(%llu, %g)", n, d);
            jp_assert_near(jp_drift_smirnov_sf(n, d), sf, 0, 1e-9, what);
            nsmir++;
        } else if (strcmp(kind, "PSI") == 0) {
            size_t nb, nr, nc;
            double eps, want;
            assert_int_equal(sscanf(l, "PSI %zu %lf %zu %zu %lf", &nb, &eps, &nr, &nc, &want), 5);
            double *r = fixture_values(&fx, nr), *c = fixture_values(&fx, nc);
            double got;
            assert_int_equal(jp_drift_psi(r, nr, c, nc, nb, eps, &got, err, sizeof err), 0);
            jp_assert_near(got, want, 0, 1e-9, "psi");
            free(r);
            free(c);
            npsi++;
        } else if (strcmp(kind, "PSICAT") == 0) {
            size_t k;
            double eps, unseen, want;
            assert_int_equal(sscanf(l, "PSICAT %zu %lf %lf %lf", &k, &eps, &unseen, &want), 4);
            double *r = fixture_values(&fx, k), *c = fixture_values(&fx, k);
            jp_assert_near(jp_drift_psi_categorical(r, c, k, unseen, eps), want, 0, 1e-12,
                           "psicat");
            free(r);
            free(c);
            ncat++;
        } else if (strcmp(kind, "JS") == 0) {
            size_t k;
            double want;
            assert_int_equal(sscanf(l, "JS %zu %lf", &k, &want), 2);
            double *p = fixture_values(&fx, k), *q = fixture_values(&fx, k);
            jp_assert_near(jp_drift_js_distance(p, q, k), want, 0, 1e-12, "js");
            free(p);
            free(q);
            njs++;
        }
    }
    fixture_close(&fx);
    /* The fixture really was read. */
    assert_true(nks >= 10 && nkstwo >= 100 && nsmir >= 30 && npsi >= 5 && ncat >= 3 && njs >= 5);
}

/* PSI of identical samples is 0; a large seeded sample of N(mu, 1) against
 * N(0, 1) reaches the population PSI from the fixture (sampling error of
 * PSI with 10 bins and 200k per side is ~1e-3). */
static void test_psi_properties(void **state)
{
    (void)state;
    enum { N = 200000 };
    double *ref = malloc(N * sizeof *ref), *cur = malloc(N * sizeof *cur);
    assert_non_null(ref);
    assert_non_null(cur);
    jp_rng_t r;
    jp_rng_seed(&r, 7);
    for (int i = 0; i < N; i++)
        ref[i] = jp_rng_normal(&r);
    double psi;
    char err[128];
    assert_int_equal(jp_drift_psi(ref, N, ref, N, 10, JP_DRIFT_PSI_EPS, &psi, err, sizeof err), 0);
    assert_true(psi == 0.0);

    fixture_t fx;
    fixture_open(&fx);
    char *l;
    int seen = 0;
    while ((l = fixture_next(&fx))) {
        double mu, want;
        int nb;
        if (sscanf(l, "PSITHEORY %lf %d %lf", &mu, &nb, &want) != 3)
            continue;
        for (int i = 0; i < N; i++)
            cur[i] = mu + jp_rng_normal(&r);
        assert_int_equal(
            jp_drift_psi(ref, N, cur, N, (size_t)nb, JP_DRIFT_PSI_EPS, &psi, err, sizeof err), 0);
        jp_assert_near(psi, want, 0, 0.01 + 0.05 * want, "psi vs population value");
        seen++;
    }
    fixture_close(&fx);
    assert_int_equal(seen, 3);

    /* Empty current sample is an error. */
    assert_int_equal(jp_drift_psi(ref, N, cur, 0, 10, 1e-4, &psi, err, sizeof err), -1);
    free(ref);
    free(cur);
}

/* ---- Page-Hinkley ------------------------------------------------------ */

/* River's threshold 50 is in input units, so the noise scale matters:
 * with sd 0.1 the faded cumulative sum has sd 0.1 / sqrt(2 (1 - alpha))
 * = 7.1, the threshold is 7 of those. A +-0.5 mean shift adds ~0.5 per step,
 * so it should cross 50 after about 100 steps; we allow 200. */
static void test_ph_detects_shifts(void **state)
{
    (void)state;
    for (int dir = -1; dir <= 1; dir += 2) {
        jp_ph_t ph;
        jp_ph_init(&ph, NULL);
        jp_rng_t r;
        jp_rng_seed(&r, 11);
        for (int i = 0; i < 5000; i++)
            assert_int_equal(jp_ph_update(&ph, 0.1 * jp_rng_normal(&r)), JP_DRIFT_NONE);
        int delay = -1;
        for (int i = 0; i < 1000 && delay < 0; i++) {
            int d = jp_ph_update(&ph, dir * 0.5 + 0.1 * jp_rng_normal(&r));
            if (d != JP_DRIFT_NONE) {
                assert_int_equal(d, dir > 0 ? JP_DRIFT_UP : JP_DRIFT_DOWN);
                delay = i + 1;
            }
        }
        assert_true(delay > 50 && delay <= 200);
        /* The next update resets the detector, like River. */
        jp_ph_update(&ph, 0.0);
        assert_int_equal((int)ph.n, 1);
    }
}

static void test_ph_quiet_on_stationary_noise(void **state)
{
    (void)state;
    jp_ph_t ph;
    jp_ph_init(&ph, NULL);
    jp_rng_t r;
    jp_rng_seed(&r, 12);
    int alarms = 0;
    /* 1M stationary values at sd 0.1 (see above): at most 2 false alarms
     * (seeded runs give 0-1; at sd 1 River's defaults fire ~600 times, see
     * docs/model-drift.md). */
    for (int i = 0; i < 1000000; i++)
        alarms += jp_ph_update(&ph, 5.0 + 0.1 * jp_rng_normal(&r)) != JP_DRIFT_NONE;
    assert_true(alarms <= 2);

    /* Respects mode: an up-only detector ignores a drop. */
    jp_ph_params_t p;
    jp_ph_params_default(&p);
    p.mode = JP_PH_UP;
    jp_ph_init(&ph, &p);
    for (int i = 0; i < 500; i++)
        assert_int_equal(jp_ph_update(&ph, i < 100 ? 1.0 : -1.0), JP_DRIFT_NONE);
}

static void test_ph_roundtrip(void **state)
{
    (void)state;
    jp_ph_t a, b;
    jp_ph_init(&a, NULL);
    jp_rng_t r;
    jp_rng_seed(&r, 13);
    for (int i = 0; i < 777; i++)
        jp_ph_update(&a, jp_rng_normal(&r));
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_ph_serialize(&a, &w);
    jp_bytes_reader_t rd;
    jp_bytes_reader_init(&rd, w.buf, w.len);
    char err[128];
    assert_int_equal(jp_ph_deserialize(&b, &rd, err, sizeof err), 0);
    assert_true(jp_bytes_reader_done(&rd));
    for (int i = 0; i < 2000; i++) {
        double x = (i > 1000) + jp_rng_normal(&r) * 0.1;
        assert_int_equal(jp_ph_update(&a, x), jp_ph_update(&b, x));
    }
    assert_true(a.n == b.n && a.mean == b.mean && a.sum_increase == b.sum_increase &&
                a.sum_decrease == b.sum_decrease && a.min_increase == b.min_increase &&
                a.max_decrease == b.max_decrease && a.detected == b.detected);
    /* Truncated input is refused. */
    jp_bytes_reader_init(&rd, w.buf, w.len - 1);
    assert_int_equal(jp_ph_deserialize(&b, &rd, err, sizeof err), -1);
    jp_bytes_writer_free(&w);
}

/* ---- ADWIN ------------------------------------------------------------- */

static void test_adwin_detects_and_shrinks(void **state)
{
    (void)state;
    char err[128];
    jp_adwin_t *a = jp_adwin_create(NULL, err, sizeof err);
    assert_non_null(a);
    jp_rng_t r;
    jp_rng_seed(&r, 21);
    for (int i = 0; i < 5000; i++)
        jp_adwin_update(a, 0.2 + 0.1 * jp_rng_normal(&r));
    assert_int_equal(jp_adwin_detections(a), 0);
    assert_true(jp_adwin_width(a) == 5000);
    jp_assert_near(jp_adwin_mean(a), 0.2, 0, 0.01, "adwin mean before");
    jp_assert_near(jp_adwin_variance(a), 0.01, 0, 0.001, "adwin variance before");

    int delay = -1;
    for (int i = 0; i < 2000; i++) {
        if (jp_adwin_update(a, 0.5 + 0.1 * jp_rng_normal(&r)) && delay < 0)
            delay = i + 1;
    }
    /* The check runs every clock = 32 items; a 3-sigma shift is found at
     * the first or second check. */
    assert_true(delay > 0 && delay <= 96);
    /* The old regime was cut away: the window holds (about) only new data. */
    assert_true(jp_adwin_width(a) <= 2000 + 64);
    jp_assert_near(jp_adwin_mean(a), 0.5, 0, 0.02, "adwin mean after");
    jp_adwin_free(a);
}

static void test_adwin_quiet_and_roundtrip(void **state)
{
    (void)state;
    char err[128];
    jp_adwin_t *a = jp_adwin_create(NULL, err, sizeof err);
    assert_non_null(a);
    jp_rng_t r;
    jp_rng_seed(&r, 22);
    for (int i = 0; i < 100000; i++)
        jp_adwin_update(a, jp_rng_normal(&r));
    /* delta = 0.002 bounds false cuts; over 3125 checks allow a couple. */
    assert_true(jp_adwin_detections(a) <= 2);

    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_adwin_serialize(a, &w);
    jp_bytes_reader_t rd;
    jp_bytes_reader_init(&rd, w.buf, w.len);
    jp_adwin_t *b = jp_adwin_deserialize(&rd, err, sizeof err);
    assert_non_null(b);
    assert_true(jp_bytes_reader_done(&rd));
    for (int i = 0; i < 3000; i++) {
        double x = (i > 1500 ? 2.0 : 0.0) + jp_rng_normal(&r);
        assert_int_equal(jp_adwin_update(a, x), jp_adwin_update(b, x));
    }
    assert_true(jp_adwin_detections(a) >= 1);
    jp_bytes_writer_t w1, w2;
    jp_bytes_writer_init(&w1);
    jp_bytes_writer_init(&w2);
    jp_adwin_serialize(a, &w1);
    jp_adwin_serialize(b, &w2);
    assert_int_equal(w1.len, w2.len);
    assert_memory_equal(w1.buf, w2.buf, w1.len);
    jp_bytes_writer_free(&w1);
    jp_bytes_writer_free(&w2);

    jp_bytes_reader_init(&rd, w.buf, w.len / 2);
    assert_null(jp_adwin_deserialize(&rd, err, sizeof err));
    jp_bytes_writer_free(&w);
    jp_adwin_free(a);
    jp_adwin_free(b);

    jp_adwin_params_t p;
    jp_adwin_params_default(&p);
    p.delta = 0;
    assert_null(jp_adwin_create(&p, err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_known_answers),
        cmocka_unit_test(test_psi_properties),
        cmocka_unit_test(test_ph_detects_shifts),
        cmocka_unit_test(test_ph_quiet_on_stationary_noise),
        cmocka_unit_test(test_ph_roundtrip),
        cmocka_unit_test(test_adwin_detects_and_shrinks),
        cmocka_unit_test(test_adwin_quiet_and_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
