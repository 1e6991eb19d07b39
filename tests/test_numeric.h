/* test_numeric.h - the helpers the kernel and layer tests share: checked
 * allocation, uniform fills from a test stream, float -> double copies and
 * the largest magnitude (for gradient checks against double references). */
#ifndef DB_TEST_NUMERIC_H
#define DB_TEST_NUMERIC_H

#include <math.h>
#include <stdlib.h>

#include <check.h>

#include "kernels.h"

static inline void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    ck_assert_ptr_nonnull(p);
    return p;
}

static inline void fill(float *x, size_t n, db_rng *r, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * db_rng_uniform(r);
}

static inline double *to_d(const float *f, size_t n)
{
    double *d = xcalloc(n, sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = f[i];
    return d;
}

static inline double maxabs_d(const double *x, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i]) > m)
            m = fabs(x[i]);
    return m;
}

#endif
