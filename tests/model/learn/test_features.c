/*
 * jp_features: known answers for Welford (incl. merge, weights, offsets),
 * imputation, dictionary / one-hot encoding, feature selection, and exact
 * serialization round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jp_test_num.h"

#include "model/base/jp_bytes.h"
#include "model/learn/jp_features.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_welford_known(void **state)
{
    (void)state;
    const double v[8] = {2, 4, 4, 4, 5, 5, 7, 9};
    jp_welford_t all, a, b;
    jp_welford_init(&all);
    jp_welford_init(&a);
    jp_welford_init(&b);
    assert_true(isnan(jp_welford_mean(&all)) && isnan(jp_welford_var(&all)));
    for (int i = 0; i < 8; i++) {
        jp_welford_add(&all, v[i]);
        jp_welford_add(i < 3 ? &a : &b, v[i]);
    }
    jp_assert_near(jp_welford_mean(&all), 5.0, 1e-15, 0, NULL);
    jp_assert_near(jp_welford_var(&all), 4.0, 1e-15, 0, NULL);
    jp_assert_near(jp_welford_var_sample(&all), 32.0 / 7.0, 1e-15, 0, NULL);
    jp_welford_merge(&a, &b);
    assert_int_equal(a.n, 8);
    jp_assert_near(jp_welford_mean(&a), 5.0, 1e-15, 0, NULL);
    jp_assert_near(jp_welford_var(&a), 4.0, 1e-15, 0, NULL);
    /* merging into / from an empty accumulator */
    jp_welford_t e;
    jp_welford_init(&e);
    jp_welford_merge(&e, &all);
    assert_memory_equal(&e, &all, sizeof(e));
    jp_welford_init(&e);
    jp_welford_merge(&all, &e);
    jp_assert_near(jp_welford_var(&all), 4.0, 1e-15, 0, NULL);

    /* weights: x=1 (w=3), x=4 (w=1): mean 1.75, population var 1.6875 */
    jp_welford_t w;
    jp_welford_init(&w);
    jp_welford_add_weighted(&w, 1.0, 3.0);
    jp_welford_add_weighted(&w, 4.0, 1.0);
    jp_welford_add_weighted(&w, 100.0, 0.0);  /* ignored */
    jp_welford_add_weighted(&w, NAN, 1.0);    /* ignored */
    jp_welford_add_weighted(&w, 100.0, -1.0); /* ignored */
    jp_assert_near(jp_welford_mean(&w), 1.75, 1e-15, 0, NULL);
    jp_assert_near(jp_welford_var(&w), 1.6875, 1e-15, 0, NULL);
    jp_assert_near(jp_welford_var_sample(&w), 6.75 / 3.0, 1e-15, 0, NULL);

    /* a large offset: 1e9 + {4, 7, 13, 16} has variance 22.5 */
    jp_welford_t o;
    jp_welford_init(&o);
    const double d[4] = {4, 7, 13, 16};
    for (int k = 0; k < 100000; k++)
        jp_welford_add(&o, 1e9 + d[k % 4]);
    jp_assert_near(jp_welford_mean(&o), 1e9 + 10.0, 1e-14, 0, NULL);
    jp_assert_near(jp_welford_var(&o), 22.5, 1e-7, 0, NULL);
}

static void test_welford_serialize(void **state)
{
    (void)state;
    jp_welford_t s, t;
    jp_welford_init(&s);
    for (int i = 0; i < 10; i++)
        jp_welford_add(&s, 0.1 * i * i);
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_welford_serialize(&s, &w);
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, w.buf, w.len);
    assert_int_equal(jp_welford_deserialize(&r, &t), 0);
    assert_true(jp_bytes_reader_done(&r));
    assert_memory_equal(&s, &t, sizeof(s));
    jp_bytes_reader_init(&r, w.buf, w.len - 1);
    assert_int_equal(jp_welford_deserialize(&r, &t), -1);
    jp_bytes_writer_free(&w);
}

static const jp_impute_spec_t SPECS[3] = {
    {JP_IMPUTE_MEAN, 7.0},
    {JP_IMPUTE_MODE, 8.0},
    {JP_IMPUTE_CONSTANT, -1.0},
};

static void test_imputer_known(void **state)
{
    (void)state;
    char err[128];
    jp_imputer_t *imp = jp_imputer_create(3, SPECS, 16, err, sizeof(err));
    assert_non_null(imp);
    double out[3], miss[3];
    const double row0[3] = {NAN, NAN, NAN};
    /* before any data: the specs' constants */
    assert_int_equal(jp_imputer_transform(imp, row0, out, miss), 3);
    assert_true(out[0] == 7.0 && out[1] == 8.0 && out[2] == -1.0);
    assert_true(miss[0] == 1.0 && miss[1] == 1.0 && miss[2] == 1.0);

    const double rows[6][3] = {
        {1.0, 3.0, 10.0}, {2.0, 5.0, NAN},       {NAN, 5.0, 11.0},
        {6.0, 3.0, 12.0}, {INFINITY, -0.0, 1.0}, {3.0, 0.0, NAN},
    };
    for (int i = 0; i < 6; i++)
        jp_imputer_observe(imp, rows[i]);
    /* mean of {1, 2, 6, 3} = 3; mode of {3, 5, 5, 3, 0, 0}: three values
     * tied at 2 counts (-0.0 == 0.0), the smallest (0) wins */
    jp_assert_near(jp_imputer_fill_value(imp, 0), 3.0, 1e-15, 0, NULL);
    assert_true(jp_imputer_fill_value(imp, 1) == 0.0);
    assert_true(jp_imputer_fill_value(imp, 2) == -1.0);
    assert_int_equal(jp_imputer_missing_count(imp, 0), 2);
    assert_int_equal(jp_imputer_missing_count(imp, 1), 0);
    assert_int_equal(jp_imputer_missing_count(imp, 2), 2);
    double one[3] = {5.0, 3.0, NAN};
    jp_imputer_observe(imp, one); /* 3 now leads with 3 counts */
    assert_true(jp_imputer_fill_value(imp, 1) == 3.0);

    const double q[3] = {NAN, 42.0, NAN};
    assert_int_equal(jp_imputer_transform(imp, q, out, miss), 2);
    jp_assert_near(out[0], 3.4, 1e-15, 0, NULL); /* {1,2,6,3,5} */
    assert_true(out[1] == 42.0 && out[2] == -1.0);
    assert_true(miss[0] == 1.0 && miss[1] == 0.0 && miss[2] == 1.0);
    /* in place, no indicator */
    double inplace[3] = {NAN, NAN, 4.0};
    assert_int_equal(jp_imputer_transform(imp, inplace, inplace, NULL), 2);
    assert_true(inplace[1] == 3.0 && inplace[2] == 4.0);
    jp_imputer_free(imp);
}

static void test_imputer_mode_overflow_and_serialize(void **state)
{
    (void)state;
    char err[128];
    jp_imputer_t *imp = jp_imputer_create(3, SPECS, 2, err, sizeof(err));
    assert_non_null(imp);
    const double rows[5][3] = {
        {1, 9, 1}, {2, 9, 2}, {3, 4, 3}, {NAN, 7, 4}, {5, 7, 5},
    };
    for (int i = 0; i < 5; i++)
        jp_imputer_observe(imp, rows[i]);
    /* only 9 and 4 fit in the table; 7 (twice) is overflow */
    assert_int_equal(jp_imputer_mode_overflow(imp, 1), 2);
    assert_true(jp_imputer_fill_value(imp, 1) == 9.0);

    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_imputer_serialize(imp, &w);
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, w.buf, w.len);
    jp_imputer_t *back = jp_imputer_deserialize(&r, err, sizeof(err));
    assert_non_null(back);
    assert_true(jp_bytes_reader_done(&r));
    jp_bytes_writer_t w2;
    jp_bytes_writer_init(&w2);
    jp_imputer_serialize(back, &w2);
    assert_int_equal(w.len, w2.len);
    assert_memory_equal(w.buf, w2.buf, w.len);
    const double q[3] = {NAN, NAN, NAN};
    double o1[3], o2[3];
    jp_imputer_transform(imp, q, o1, NULL);
    jp_imputer_transform(back, q, o2, NULL);
    assert_memory_equal(o1, o2, sizeof(o1));
    for (size_t cut = 0; cut < w.len; cut++) {
        jp_bytes_reader_init(&r, w.buf, cut);
        assert_null(jp_imputer_deserialize(&r, err, sizeof(err)));
    }
    jp_bytes_writer_free(&w);
    jp_bytes_writer_free(&w2);
    jp_imputer_free(back);
    jp_imputer_free(imp);

    jp_impute_spec_t bad = {(jp_impute_strategy_t)9, 0.0};
    assert_null(jp_imputer_create(1, &bad, 4, err, sizeof(err)));
    assert_null(jp_imputer_create(0, SPECS, 4, err, sizeof(err)));
    assert_null(jp_imputer_create(3, SPECS, 0, err, sizeof(err)));
}

static uint32_t enc(jp_dict_t *d, const char *s, int learn)
{
    return jp_dict_encode(d, s, strlen(s), learn);
}

static void test_dict_known(void **state)
{
    (void)state;
    char err[128];
    jp_dict_t *d = jp_dict_create(3, err, sizeof(err));
    assert_non_null(d);
    assert_int_equal(jp_dict_width(d), 4);
    assert_int_equal(enc(d, "NL", 1), 1);
    assert_int_equal(enc(d, "DE", 1), 2);
    assert_int_equal(enc(d, "NL", 1), 1);
    assert_int_equal(enc(d, "SE", 0), JP_DICT_UNSEEN); /* not learning */
    assert_int_equal(enc(d, "", 1), 3);                /* empty string is a category */
    assert_int_equal(enc(d, "FR", 1), JP_DICT_UNSEEN); /* full */
    assert_int_equal(jp_dict_size(d), 3);
    assert_int_equal(jp_dict_unseen_count(d), 2);
    assert_int_equal(jp_dict_lookup(d, "DE", 2), 2);
    assert_int_equal(jp_dict_lookup(d, "D", 1), JP_DICT_UNSEEN);
    size_t len;
    const char *name = jp_dict_name(d, 2, &len);
    assert_true(len == 2 && memcmp(name, "DE", 2) == 0);
    assert_null(jp_dict_name(d, 0, NULL));
    assert_null(jp_dict_name(d, 4, NULL));

    double oh[4];
    assert_int_equal(jp_dict_onehot(d, 2, oh, 4), 0);
    assert_true(oh[0] == 0 && oh[1] == 0 && oh[2] == 1 && oh[3] == 0);
    assert_int_equal(jp_dict_onehot(d, enc(d, "XX", 0), oh, 4), 0);
    assert_true(oh[0] == 1 && oh[1] == 0 && oh[2] == 0 && oh[3] == 0);
    assert_int_equal(jp_dict_onehot(d, 1, oh, 3), -1);
    assert_int_equal(jp_dict_onehot(d, 9, oh, 4), -1);
    jp_dict_free(d);
    assert_null(jp_dict_create(0, err, sizeof(err)));
}

static void test_dict_many_and_serialize(void **state)
{
    (void)state;
    char err[128], buf[32];
    jp_dict_t *d = jp_dict_create(5000, err, sizeof(err));
    for (int i = 0; i < 5000; i++) {
        snprintf(buf, sizeof(buf), "postcode-%d", i * 7919);
        assert_int_equal(enc(d, buf, 1), (uint32_t)i + 1);
    }
    for (int i = 4999; i >= 0; i--) {
        snprintf(buf, sizeof(buf), "postcode-%d", i * 7919);
        assert_int_equal(enc(d, buf, 1), (uint32_t)i + 1);
    }
    const char nul[3] = {'a', '\0', 'b'};
    jp_dict_t *small = jp_dict_create(4, err, sizeof(err));
    assert_int_equal(jp_dict_encode(small, nul, 3, 1), 1);
    assert_int_equal(jp_dict_encode(small, nul, 1, 1), 2); /* "a" differs from "a\0b" */
    enc(small, "zz", 0);

    jp_dict_t *ds[2] = {d, small};
    for (int k = 0; k < 2; k++) {
        jp_bytes_writer_t w, w2;
        jp_bytes_writer_init(&w);
        jp_bytes_writer_init(&w2);
        jp_dict_serialize(ds[k], &w);
        jp_bytes_reader_t r;
        jp_bytes_reader_init(&r, w.buf, w.len);
        jp_dict_t *back = jp_dict_deserialize(&r, err, sizeof(err));
        assert_non_null(back);
        assert_true(jp_bytes_reader_done(&r));
        jp_dict_serialize(back, &w2);
        assert_int_equal(w.len, w2.len);
        assert_memory_equal(w.buf, w2.buf, w.len);
        assert_int_equal(jp_dict_size(back), jp_dict_size(ds[k]));
        assert_int_equal(jp_dict_unseen_count(back), jp_dict_unseen_count(ds[k]));
        if (k == 0) {
            assert_int_equal(jp_dict_lookup(back, "postcode-7919", 13), 2);
        } else {
            assert_int_equal(jp_dict_lookup(back, nul, 3), 1);
            assert_int_equal(jp_dict_lookup(back, nul, 1), 2);
            for (size_t cut = 0; cut < w.len; cut++) {
                jp_bytes_reader_init(&r, w.buf, cut);
                assert_null(jp_dict_deserialize(&r, err, sizeof(err)));
            }
        }
        jp_dict_free(back);
        jp_bytes_writer_free(&w);
        jp_bytes_writer_free(&w2);
    }
    jp_dict_free(d);
    jp_dict_free(small);
}

static void test_select_variance(void **state)
{
    (void)state;
    jp_welford_t s[4];
    for (int j = 0; j < 4; j++)
        jp_welford_init(&s[j]);
    /* variances: 0 (constant), 0.25 ({0,1}), 4 ({2,..,9} above), none */
    const double v[8] = {2, 4, 4, 4, 5, 5, 7, 9};
    for (int i = 0; i < 8; i++) {
        jp_welford_add(&s[0], 3.0);
        jp_welford_add(&s[1], i % 2);
        jp_welford_add(&s[2], v[i]);
    }
    uint8_t keep[4];
    assert_int_equal(jp_select_by_variance(s, 4, 0.0, keep), 2);
    assert_true(!keep[0] && keep[1] && keep[2] && !keep[3]);
    assert_int_equal(jp_select_by_variance(s, 4, 0.25, keep), 1); /* strictly greater */
    assert_true(!keep[0] && !keep[1] && keep[2] && !keep[3]);
}

static void test_select_l1(void **state)
{
    (void)state;
    const double w[6] = {0.0, -0.5, 0.1, 2.0, -2.0, 0.05};
    uint8_t keep[6];
    assert_int_equal(jp_select_by_l1(w, 6, 0.1, 0, keep), 4);
    const uint8_t k1[6] = {0, 1, 1, 1, 1, 0};
    assert_memory_equal(keep, k1, 6);
    assert_int_equal(jp_select_by_l1(w, 6, 0.1, 2, keep), 2);
    const uint8_t k2[6] = {0, 0, 0, 1, 1, 0};
    assert_memory_equal(keep, k2, 6);
    assert_int_equal(jp_select_by_l1(w, 6, 0.1, 3, keep), 3);
    const uint8_t k3[6] = {0, 1, 0, 1, 1, 0};
    assert_memory_equal(keep, k3, 6);
    assert_int_equal(jp_select_by_l1(w, 6, 0.0, 0, keep), 5); /* zero weights dropped */
    const double t[3] = {1.0, -1.0, 1.0};
    assert_int_equal(jp_select_by_l1(t, 3, 0.0, 2, keep), 2); /* ties: lower index */
    assert_true(keep[0] && keep[1] && !keep[2]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_welford_known),
        cmocka_unit_test(test_welford_serialize),
        cmocka_unit_test(test_imputer_known),
        cmocka_unit_test(test_imputer_mode_overflow_and_serialize),
        cmocka_unit_test(test_dict_known),
        cmocka_unit_test(test_dict_many_and_serialize),
        cmocka_unit_test(test_select_variance),
        cmocka_unit_test(test_select_l1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
