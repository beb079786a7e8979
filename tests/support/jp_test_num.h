/*
 * jp_test_num: the one numeric comparison of the tests (model/ and
 * stream/ alike: header only, so model tests need nothing but cmocka).
 * Include after <stdarg.h>, <stddef.h>, <setjmp.h>, <cmocka.h>.
 *
 * A value is near another when |got - want| <= abs_tol + rel_tol * |want|:
 * rel_tol alone is a relative comparison (exact for want == 0), abs_tol
 * alone an absolute one, both a relative one with a floor near zero. A NaN
 * is near nothing. The failure names what was compared, both values to
 * the last digit, and the caller's file and line.
 */
#ifndef JP_TEST_NUM_H
#define JP_TEST_NUM_H

#include <math.h>

static inline void jp_test_near_at(double got, double want, double rel_tol, double abs_tol,
                                   const char *what, const char *file, int line)
{
    double err = fabs(got - want);
    if (err <= abs_tol + rel_tol * fabs(want))
        return;
    print_error("%s: got %.17g want %.17g (|error| %.3g > %.3g + %.3g * |want|)\n",
                what ? what : "value", got, want, err, abs_tol, rel_tol);
    _fail(file, line);
}

#define jp_assert_near(got, want, rel_tol, abs_tol, what)                                          \
    jp_test_near_at((got), (want), (rel_tol), (abs_tol), (what), __FILE__, __LINE__)

#endif
