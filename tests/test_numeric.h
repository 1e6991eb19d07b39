/* test_numeric.h - the helpers the kernel and layer tests share: checked
 * allocation, uniform fills from a test stream, float -> double copies and
 * the largest magnitude, and the gradient checks against double references
 * (central differences, float against double comparisons). */
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

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
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

/* x[0..n) uniform in [-1, 1) from r. */
static inline void fill_pm1(float *x, size_t n, db_rng *r)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 2.0f * db_rng_uniform(r) - 1.0f;
}

/* Float kernel result against a double reference, element-wise: within
 * rtol of the value plus a tenth of rtol of the largest one. */
static inline void check_close(const char *what, const float *a, const double *ref,
                               size_t n, double rtol)
{
    double mx = maxabs_d(ref, n);
    size_t bad = n;
    for (size_t i = 0; i < n && bad == n; i++)
        if (!(fabs(a[i] - ref[i]) <= rtol * fabs(ref[i]) + rtol * 0.1 * mx + 1e-7))
            bad = i;
    /* one assertion per array: Check logs every assertion it passes */
    ck_assert_msg(bad == n, "%s[%zu]: got %.9g, reference %.9g", what, bad,
                  bad < n ? a[bad] : 0.0, bad < n ? ref[bad] : 0.0);
}

/* Analytic (float) gradient against numeric (double) one, as check_close
 * with rtol 1e-3; also insists the gradient is not trivially zero, which
 * would make the comparison vacuous. */
static inline void check_grad(const char *what, const float *a, const double *num,
                              size_t n)
{
    double na = 0.0;
    for (size_t i = 0; i < n; i++)
        na += (double)a[i] * a[i];
    ck_assert_msg(sqrt(na) > 1e-3, "%s: gradient norm %g is trivially small",
                  what, sqrt(na));
    check_close(what, a, num, n, 1e-3);
}

/* Backward accumulates: a second call on the same gradient doubles it. */
static inline void check_twice(const char *what, const float *once,
                               const float *twice, size_t n)
{
    size_t bad = n;
    for (size_t i = 0; i < n && bad == n; i++)
        if (!(fabsf(twice[i] - 2.0f * once[i]) <= 1e-5f * fabsf(once[i]) + 1e-6f))
            bad = i;
    ck_assert_msg(bad == n, "%s[%zu]: second backward gave %g, expected 2 x %g",
                  what, bad, bad < n ? twice[bad] : 0.0, bad < n ? once[bad] : 0.0);
}

/* The loss as a function of the double copies, for central differences. */
typedef double (*loss_fn)(void *ctx);

/* Central differences (eps 1e-5) of f with respect to p[0..n), in double. */
static inline void numgrad(double *g, double *p, size_t n, loss_fn f, void *ctx)
{
    const double eps = 1e-5;
    for (size_t i = 0; i < n; i++) {
        double keep = p[i];
        p[i] = keep + eps;
        double fp = f(ctx);
        p[i] = keep - eps;
        double fm = f(ctx);
        p[i] = keep;
        g[i] = (fp - fm) / (2.0 * eps);
    }
}

#endif
