/* batchnorm.c - batch normalisation over (B, C, S), PyTorch semantics.
 *
 * Every channel's sums run in double in one fixed order: example by example,
 * each example's S values in four interleaved partial sums combined as
 * (p0 + p1) + (p2 + p3).  Dense layers (S = 1) walk the batch a row at a time
 * over a tile of channels instead (the same per-channel order, since a row of
 * one value is its own sum), so each pass reads contiguous memory. */
#include "kernels.h"

#include <math.h>

#include "simd.h"

/* channels per tile in the S = 1 passes: 2 x 64 doubles on the stack */
#define BN_TILE 64

/* Rows (examples) of one channel whose sums run side by side (S > 1).  A
 * row's four partial sums are the four lanes of one double vector, and the
 * rows' vectors are independent, so the additions of four rows overlap
 * instead of waiting on one another; each row's lanes see exactly the
 * scalar order above, so the bits are those of one row at a time. */
#define BN_ROWS 4

typedef double v4d __attribute__((vector_size(32)));

/* (macros: a function taking or returning a 32-byte vector has an ABI of
 * its own without AVX) */
#define v4d_from(x) __builtin_convertvector((x), v4d)

size_t batchnorm_cache_floats(size_t C) { return 2 * C; }

int batchnorm_check(size_t B, size_t S, float eps, float momentum, int training,
                    db_err *e)
{
    /* Written so that NaN fails the comparisons. */
    if (!(eps > 0.0f && eps < INFINITY))
        return db_fail(e, "batch norm eps %g must be positive and finite", (double)eps);
    if (!(momentum >= 0.0f && momentum <= 1.0f))
        return db_fail(e, "batch norm momentum %g is outside [0, 1]", (double)momentum);
    if (training && B * S < 2)
        return db_fail(e, "batch norm in training needs at least 2 values per "
                          "channel, got B*S = %zu", B * S);
    return 0;
}

/* From a channel's batch mean and biased variance: the cache entries, the
 * running estimates, and the float mean and gamma * istd forward uses. */
static void finish_stats(float *m, float *k, float *cache, float *run_mean,
                         float *run_var, double mean, double var, float gamma,
                         size_t n, float eps, float momentum, size_t C, size_t c)
{
    const float is = (float)(1.0 / sqrt(var + (double)eps));
    const double mo = momentum;
    *m = (float)mean;
    *k = gamma * is;
    if (cache) {
        cache[c] = *m;
        cache[C + c] = is;
    }
    run_mean[c] = (float)((1.0 - mo) * run_mean[c] + mo * mean);
    run_var[c] = (float)((1.0 - mo) * run_var[c] + mo * var * (double)n / (double)(n - 1));
}

static void eval_stats(float *m, float *k, const float *run_mean, const float *run_var,
                       float gamma, float eps, size_t c)
{
    *m = run_mean[c];
    *k = gamma * (float)(1.0 / sqrt((double)run_var[c] + (double)eps));
}

/* The plane passes, for the baseline instruction set and for AVX2. */
#define BN_ISA base
#include "batchnorm_rows.h"
#undef BN_ISA

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC target("avx2")
#define BN_ISA avx2
#include "batchnorm_rows.h"
#undef BN_ISA
#pragma GCC pop_options

static int bn_avx2(void) { return db_simd_get() >= DB_SIMD_AVX2; }
#else
static int bn_avx2(void) { return 0; }
#define planes_forward_avx2 planes_forward_base
#define planes_backward_avx2 planes_backward_base
#endif

void batchnorm_forward_channels(float *out /* (B, C, S) */, float *cache /* 2C or NULL */,
                                float *run_mean /* (C) */, float *run_var /* (C) */,
                                const float *in /* (B, C, S) */,
                                const float *gamma /* (C) */, const float *beta /* (C) */,
                                size_t B, size_t C, size_t S, float eps, float momentum,
                                int training, int relu, size_t c_lo, size_t c_hi)
{
    if (c_hi > C)
        c_hi = C;
    const size_t n = B * S;
    if (S == 1) {
        for (size_t c0 = c_lo; c0 < c_hi; c0 += BN_TILE) {
            const size_t nt = c_hi - c0 < BN_TILE ? c_hi - c0 : BN_TILE;
            float m[BN_TILE], k[BN_TILE];
            if (training) {
                double sum[BN_TILE] = { 0 }, sq[BN_TILE] = { 0 };
                for (size_t b = 0; b < B; b++) {
                    const float *x = in + b * C + c0;
                    for (size_t t = 0; t < nt; t++)
                        sum[t] += x[t];
                }
                for (size_t t = 0; t < nt; t++)
                    sum[t] /= (double)n; /* now the mean */
                for (size_t b = 0; b < B; b++) {
                    const float *x = in + b * C + c0;
                    for (size_t t = 0; t < nt; t++) {
                        double d = x[t] - sum[t];
                        sq[t] += d * d;
                    }
                }
                for (size_t t = 0; t < nt; t++)
                    finish_stats(&m[t], &k[t], cache, run_mean, run_var, sum[t],
                                 sq[t] / (double)n, gamma[c0 + t], n, eps, momentum, C,
                                 c0 + t);
            } else {
                for (size_t t = 0; t < nt; t++)
                    eval_stats(&m[t], &k[t], run_mean, run_var, gamma[c0 + t], eps, c0 + t);
            }
            for (size_t b = 0; b < B; b++) {
                const float *x = in + b * C + c0;
                float *o = out + b * C + c0;
                for (size_t t = 0; t < nt; t++) {
                    const float v = (x[t] - m[t]) * k[t] + beta[c0 + t];
                    o[t] = relu && v < 0.0f ? 0.0f : v;
                }
            }
        }
        return;
    }
    if (bn_avx2())
        planes_forward_avx2(out, cache, run_mean, run_var, in, gamma, beta, B, C, S, eps,
                            momentum, training, relu, c_lo, c_hi);
    else
        planes_forward_base(out, cache, run_mean, run_var, in, gamma, beta, B, C, S, eps,
                            momentum, training, relu, c_lo, c_hi);
}

int batchnorm_forward(float *out /* (B, C, S) */, float *cache /* 2C or NULL */,
                      float *run_mean /* (C) */, float *run_var /* (C) */,
                      const float *in /* (B, C, S) */, const float *gamma /* (C) */,
                      const float *beta /* (C) */, size_t B, size_t C, size_t S,
                      float eps, float momentum, int training, db_err *e)
{
    if (batchnorm_check(B, S, eps, momentum, training, e) < 0)
        return -1;
    batchnorm_forward_channels(out, cache, run_mean, run_var, in, gamma, beta, B, C, S,
                               eps, momentum, training, 0, 0, C);
    return 0;
}

void batchnorm_backward_channels(float *din /* (B, C, S) or NULL */,
                                 float *dgamma /* (C) */, float *dbeta /* (C) */,
                                 const float *dout /* (B, C, S) */,
                                 const float *in /* (B, C, S) */,
                                 const float *cache /* 2C */, const float *gamma /* (C) */,
                                 size_t B, size_t C, size_t S, size_t c_lo, size_t c_hi)
{
    if (c_hi > C)
        c_hi = C;
    const size_t n = B * S;
    if (n == 0)
        return;
    if (S == 1) {
        for (size_t c0 = c_lo; c0 < c_hi; c0 += BN_TILE) {
            const size_t nt = c_hi - c0 < BN_TILE ? c_hi - c0 : BN_TILE;
            const float *m = cache + c0, *is = cache + C + c0;
            double sdy[BN_TILE] = { 0 }, sdyx[BN_TILE] = { 0 };
            for (size_t b = 0; b < B; b++) {
                const float *x = in + b * C + c0, *dy = dout + b * C + c0;
                for (size_t t = 0; t < nt; t++) {
                    sdy[t] += dy[t];
                    sdyx[t] += (double)dy[t] * ((x[t] - m[t]) * is[t]);
                }
            }
            float k[BN_TILE], a[BN_TILE], q[BN_TILE];
            for (size_t t = 0; t < nt; t++) {
                dbeta[c0 + t] += (float)sdy[t];
                dgamma[c0 + t] += (float)sdyx[t];
                k[t] = gamma[c0 + t] * is[t];
                a[t] = (float)(sdy[t] / (double)n);
                q[t] = (float)(sdyx[t] / (double)n);
            }
            if (!din)
                continue;
            for (size_t b = 0; b < B; b++) {
                const float *x = in + b * C + c0, *dy = dout + b * C + c0;
                float *dx = din + b * C + c0;
                for (size_t t = 0; t < nt; t++)
                    dx[t] = 0.0f + k[t] * (dy[t] - a[t] - (x[t] - m[t]) * is[t] * q[t]);
            }
        }
        return;
    }
    if (bn_avx2())
        planes_backward_avx2(din, dgamma, dbeta, dout, in, cache, gamma, B, C, S, c_lo, c_hi);
    else
        planes_backward_base(din, dgamma, dbeta, dout, in, cache, gamma, B, C, S, c_lo, c_hi);
}

void batchnorm_backward(float *din /* (B, C, S) or NULL */, float *dgamma /* (C) */,
                        float *dbeta /* (C) */, const float *dout /* (B, C, S) */,
                        const float *in /* (B, C, S) */, const float *cache /* 2C */,
                        const float *gamma /* (C) */, size_t B, size_t C, size_t S)
{
    batchnorm_backward_channels(din, dgamma, dbeta, dout, in, cache, gamma, B, C, S, 0, C);
}
