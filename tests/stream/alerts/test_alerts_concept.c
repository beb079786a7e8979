/*
 * Concept drift of one model's evaluations (alerts/jp_alerts_concept.h):
 *
 * - calibrated to 0.2 false alarms per 52 evaluations (the default: one
 *   model scored at every weekly draw, a country-year), both detectors
 *   together raise between a quarter and 1.5 times that on 400k seeded
 *   N(0, 1) residuals;
 * - a 3-sd shift (the sales model after an elasticity change at a large
 *   prize move) is found within 2.5 evaluations on average (Page-Hinkley
 *   tuned to a 1-sd shift: 2.5 sd of drift a step against a threshold of
 *   about 5); the change point (the CUSUM's last extreme before the
 *   excursion: its maximum-likelihood estimate) is within two evaluations
 *   of the truth in 3/4 of 400 runs and never more than one after it (a
 *   run of low values just before the change can pull it earlier:
 *   seed 8 gave 217 exact, 107 one or two early, 74 further);
 * - autocorrelated residuals (AR(1), rho 0.5, unit variance): rho is
 *   learned within 0.05 and the false-alarm rate stays in the same band
 *   (without the prewhitening it is several times the target);
 * - a new model version restarts the detectors;
 * - the serialized state continues exactly like the original; a state of
 *   the first format (log-loss trackers with a warm-up) starts afresh.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/jp_alerts_concept.h"
#include "model/base/jp_rng.h"

#define WEEK (7 * 86400000LL)

static jp_concept_params_t params;

static int setup(void **state)
{
    (void)state;
    char err[256];
    if (jp_alerts_concept_calibrate(0.2, 52, 1.0, &params, err, sizeof(err)) != 0)
        fail_msg("calibrate: %s", err);
    printf("Page-Hinkley delta %.3f threshold %.3f (ARL1 %.1f); ADWIN delta %.4g (delay %.1f)\n",
           params.ph.delta, params.ph.threshold, params.ph_arl1, params.adwin.delta,
           params.adwin_delay);
    return 0;
}

static jp_concept_t *fresh(void)
{
    char err[256];
    jp_concept_t *c = jp_concept_new(&params, err, sizeof(err));
    if (!c)
        fail_msg("new: %s", err);
    return c;
}

static void test_false_alarms(void **state)
{
    (void)state;
    jp_concept_t *c = fresh();
    jp_rng_t r;
    jp_rng_seed(&r, 7);
    const int n = 400000;
    int alarms = 0;
    jp_concept_detection_t d;
    for (int i = 0; i < n; i++) {
        assert_int_equal(
            jp_concept_observe(c, &params, 1, jp_rng_normal(&r), i * WEEK, i * WEEK, &d), 0);
        alarms += d.detected;
    }
    double per52 = alarms / ((double)n / 52.0);
    printf("%d alarms in %d stationary evaluations: %.3f per 52 (target 0.2)\n", alarms, n, per52);
    assert_true(per52 >= 0.05 && per52 <= 0.3);
    jp_concept_free(c);
}

static void test_shift(void **state)
{
    (void)state;
    jp_rng_t r;
    jp_rng_seed(&r, 8);
    const int runs = 400;
    double delays = 0;
    int near = 0;
    for (int run = 0; run < runs; run++) {
        jp_concept_t *c = fresh();
        jp_concept_detection_t d;
        int i = 0, found = 0;
        for (; i < 30; i++) /* 30 quiet evaluations first */
            jp_concept_observe(c, &params, 1, jp_rng_normal(&r), i * WEEK, i * WEEK, &d);
        for (int k = 1; k <= 30 && !found; k++, i++) {
            jp_concept_observe(c, &params, 1, -3.0 + jp_rng_normal(&r), i * WEEK, i * WEEK, &d);
            if (d.detected) {
                found = k;
                assert_int_equal(d.direction, -1);
                near += llabs(d.change_point - 30 * WEEK) <= 2 * WEEK;
                assert_true(d.change_point <= 31 * WEEK);
            }
        }
        assert_true(found > 0);
        delays += found;
        jp_concept_free(c);
    }
    printf("3-sd shift: mean delay %.2f evaluations, change point within two in %d of %d\n",
           delays / runs, near, runs);
    assert_true(delays / runs <= 2.5);
    assert_true(near >= runs * 3 / 4);
}

static void test_autocorrelated(void **state)
{
    (void)state;
    jp_concept_t *c = fresh();
    jp_rng_t r;
    jp_rng_seed(&r, 9);
    const int n = 400000;
    const double rho = 0.5, innov_sd = sqrt(1 - rho * rho);
    double z = jp_rng_normal(&r);
    int alarms = 0;
    jp_concept_detection_t d;
    for (int i = 0; i < n; i++) {
        z = rho * z + innov_sd * jp_rng_normal(&r);
        assert_int_equal(jp_concept_observe(c, &params, 1, z, i * WEEK, i * WEEK, &d), 0);
        alarms += d.detected;
    }
    double per52 = alarms / ((double)n / 52.0);
    printf("AR(1) rho %.2f (learned %.3f): %d alarms in %d evaluations, %.3f per 52 (target "
           "0.2)\n",
           rho, jp_concept_rho(c), alarms, n, per52);
    assert_true(fabs(jp_concept_rho(c) - rho) < 0.05);
    assert_true(per52 >= 0.05 && per52 <= 0.3);
    jp_concept_free(c);
}

static void test_serialization(void **state)
{
    (void)state;
    jp_concept_t *a = fresh();
    jp_rng_t r;
    jp_rng_seed(&r, 10);
    jp_concept_detection_t da, db;
    for (int i = 0; i < 300; i++)
        jp_concept_observe(a, &params, 2, jp_rng_normal(&r) + (i > 250 ? 0.8 : 0), i * WEEK,
                           i * WEEK, &da);
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_concept_serialize(a, &w);
    char err[128];
    jp_concept_t *b = jp_concept_deserialize(w.buf, w.len, err, sizeof(err));
    if (!b)
        fail_msg("deserialize: %s", err);
    assert_null(jp_concept_deserialize(w.buf, w.len - 3, err, sizeof(err)));
    jp_bytes_writer_free(&w);
    int detections = 0;
    for (int i = 300; i < 600; i++) {
        double x = jp_rng_normal(&r) + 1.0;
        jp_concept_observe(a, &params, 2, x, i * WEEK, i * WEEK, &da);
        jp_concept_observe(b, &params, 2, x, i * WEEK, i * WEEK, &db);
        assert_int_equal(da.detected, db.detected);
        assert_int_equal(da.change_point, db.change_point);
        detections += da.detected;
    }
    assert_true(detections > 0);
    jp_concept_free(a);
    jp_concept_free(b);
}

/* A state written by the first format (a log-loss tracker and its
 * warm-up) is read, and the next evaluation starts every detector afresh. */
static void test_first_format(void **state)
{
    (void)state;
    jp_concept_t *ref = fresh();
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_bytes_put_header(&w, "CNCP", 1);
    jp_bytes_put_u8(&w, 1); /* LOSS */
    jp_bytes_put_u32(&w, 7);
    jp_bytes_put_i64(&w, 3 * WEEK);
    jp_bytes_put_u64(&w, 12);
    jp_bytes_put_u64(&w, 8);
    jp_bytes_put_f64(&w, 0.3);
    jp_bytes_put_f64(&w, 0.01);
    jp_bytes_put_u8(&w, 3);
    jp_bytes_put_i64(&w, INT64_MIN);
    jp_bytes_put_i64(&w, INT64_MIN);
    jp_bytes_put_i64(&w, INT64_MIN);
    jp_bytes_put_u32(&w, 1);
    jp_bytes_put_i64(&w, 14 * WEEK);
    jp_bytes_put_i64(&w, 14 * WEEK);
    jp_bytes_put_f64(&w, 0.31);
    jp_ph_serialize(&ref->ph, &w);
    jp_adwin_serialize(ref->adwin, &w);
    char err[128];
    jp_concept_t *c = jp_concept_deserialize(w.buf, w.len, err, sizeof(err));
    jp_bytes_writer_free(&w);
    if (!c)
        fail_msg("deserialize v1: %s", err);
    jp_concept_detection_t d;
    assert_int_equal(jp_concept_observe(c, &params, 7, 0.5, 15 * WEEK, 15 * WEEK, &d), 0);
    assert_int_equal(c->version, 7);
    assert_int_equal(c->n, 1);
    assert_int_equal(c->ring_n, 1);
    assert_int_equal(c->version_since, 15 * WEEK);
    jp_concept_free(c);
    jp_concept_free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_false_alarms),   cmocka_unit_test(test_shift),
        cmocka_unit_test(test_autocorrelated), cmocka_unit_test(test_first_format),
        cmocka_unit_test(test_serialization),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
