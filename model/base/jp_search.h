/*
 * jp_search: binary search in an ascending array of doubles, the two
 * sides NumPy's searchsorted offers. The drift statistics bin values by
 * quantile edges and the feature imputers look values up in sorted
 * tables; one pair of searches serves them all.
 *
 * Contract:
 * - sorted[0..n) is ascending (ties allowed); n may be 0.
 * - jp_search_left: the first index whose value is >= x (the number of
 *   values below x); jp_search_right: the first index whose value is > x
 *   (the number of values <= x). Both are in [0, n].
 * - A NaN x compares false everywhere: both give 0.
 */
#ifndef JP_SEARCH_H
#define JP_SEARCH_H

#include <stddef.h>

size_t jp_search_left(const double *sorted, size_t n, double x);
size_t jp_search_right(const double *sorted, size_t n, double x);

#endif
