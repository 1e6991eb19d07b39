/* test_batchnorm.c - batch normalisation over (B, C, S): both modes against
 * a double-precision reference, the running-statistics update (unbiased
 * variance) on a hand-sized example, determinism (same bits twice, channel
 * ranges, an example's evaluation output independent of the batch),
 * central-difference gradient checks of the training backward for conv
 * (S > 1) and dense (S = 1) layouts, and argument validation.
 *
 * Gradient checks as in test_kernels.c: L = sum(out * R) for a fixed random
 * R, the reference forward in double on the float inputs (with the batch
 * statistics recomputed at every perturbation, since they depend on the
 * input), central differences with eps 1e-5. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "test_numeric.h"
#include "kernels.h"

/* ---- double reference ---------------------------------------------------- */

typedef struct {
    size_t B, C, S;
    double eps;
    double *in, *gamma, *beta, *R, *out;
    double *mean, *var; /* (C): batch mean, biased variance */
} bn_ctx;

static void bn_ref_train(bn_ctx *c)
{
    const size_t n = c->B * c->S;
    for (size_t ch = 0; ch < c->C; ch++) {
        double s = 0.0, q = 0.0;
        for (size_t b = 0; b < c->B; b++)
            for (size_t j = 0; j < c->S; j++)
                s += c->in[(b * c->C + ch) * c->S + j];
        double mean = s / n;
        for (size_t b = 0; b < c->B; b++)
            for (size_t j = 0; j < c->S; j++) {
                double d = c->in[(b * c->C + ch) * c->S + j] - mean;
                q += d * d;
            }
        double var = q / n, is = 1.0 / sqrt(var + c->eps);
        c->mean[ch] = mean;
        c->var[ch] = var;
        for (size_t b = 0; b < c->B; b++)
            for (size_t j = 0; j < c->S; j++) {
                size_t i = (b * c->C + ch) * c->S + j;
                c->out[i] = c->gamma[ch] * (c->in[i] - mean) * is + c->beta[ch];
            }
    }
}

static double bn_loss(void *p)
{
    bn_ctx *c = p;
    bn_ref_train(c);
    double s = 0.0;
    for (size_t i = 0; i < c->B * c->C * c->S; i++)
        s += c->out[i] * c->R[i];
    return s;
}

static const size_t shapes[][3] = {
    /* B, C, S */
    { 3, 4, 25 },  /* conv, 5x5 maps */
    { 2, 3, 7 },   /* S not a multiple of 4: the partial sums' tail */
    { 7, 70, 1 },  /* dense, more channels than one tile */
    { 16, 5, 1 },  /* dense */
    { 1, 2, 9 },   /* one example: statistics over its 3x3 map */
};

/* Training forward against the reference: out, the cache (mean and
 * 1/sqrt(var + eps)), and the running statistics moved with the UNBIASED
 * variance.  Inputs are offset (values around 50 +- 2) so a one-pass
 * E[x^2] - E[x]^2 in float would fail the variance. */
START_TEST(test_bn_train_reference)
{
    db_rng r;
    db_rng_seed(&r, 1, DB_RNG_TEST, 21);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const size_t B = shapes[k][0], C = shapes[k][1], S = shapes[k][2], N = B * C * S;
        float *in = xcalloc(N, 4), *out = xcalloc(N, 4), *g = xcalloc(C, 4),
              *be = xcalloc(C, 4), *rm = xcalloc(C, 4), *rv = xcalloc(C, 4),
              *cache = xcalloc(batchnorm_cache_floats(C), 4);
        fill(in, N, &r, 48.0f, 52.0f);
        fill(g, C, &r, 0.5f, 1.5f);
        fill(be, C, &r, -1.0f, 1.0f);
        fill(rm, C, &r, -1.0f, 1.0f);
        fill(rv, C, &r, 0.5f, 2.0f);
        double *rm0 = to_d(rm, C), *rv0 = to_d(rv, C);
        db_err e;
        ck_assert_msg(batchnorm_forward(out, cache, rm, rv, in, g, be, B, C, S, BATCHNORM_EPS,
                                        BATCHNORM_MOMENTUM, 1, &e) == 0, "%s", e.msg);
        bn_ctx c = { B, C, S, BATCHNORM_EPS, to_d(in, N), to_d(g, C), to_d(be, C), NULL,
                     xcalloc(N, 8), xcalloc(C, 8), xcalloc(C, 8) };
        bn_ref_train(&c);
        check_close("bn train out", out, c.out, N, 1e-5);
        double *is = xcalloc(C, 8), *wrm = xcalloc(C, 8), *wrv = xcalloc(C, 8);
        const double n = (double)(B * S), mo = BATCHNORM_MOMENTUM;
        for (size_t ch = 0; ch < C; ch++) {
            is[ch] = 1.0 / sqrt(c.var[ch] + BATCHNORM_EPS);
            wrm[ch] = (1.0 - mo) * rm0[ch] + mo * c.mean[ch];
            wrv[ch] = (1.0 - mo) * rv0[ch] + mo * c.var[ch] * n / (n - 1.0);
        }
        check_close("bn cache mean", cache, c.mean, C, 1e-6);
        check_close("bn cache istd", cache + C, is, C, 1e-6);
        check_close("bn running mean", rm, wrm, C, 1e-6);
        check_close("bn running var", rv, wrv, C, 1e-6);
        free(in), free(out), free(g), free(be), free(rm), free(rv), free(cache);
        free(rm0), free(rv0), free(is), free(wrm), free(wrv);
        free(c.in), free(c.gamma), free(c.beta), free(c.out), free(c.mean), free(c.var);
    }
}
END_TEST

/* Evaluation: the running statistics, element by element; they and the
 * cache are left alone (cache NULL is allowed). */
START_TEST(test_bn_eval_reference)
{
    db_rng r;
    db_rng_seed(&r, 2, DB_RNG_TEST, 21);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const size_t B = shapes[k][0], C = shapes[k][1], S = shapes[k][2], N = B * C * S;
        float *in = xcalloc(N, 4), *out = xcalloc(N, 4), *g = xcalloc(C, 4),
              *be = xcalloc(C, 4), *rm = xcalloc(C, 4), *rv = xcalloc(C, 4);
        fill(in, N, &r, -3.0f, 3.0f);
        fill(g, C, &r, 0.5f, 1.5f);
        fill(be, C, &r, -1.0f, 1.0f);
        fill(rm, C, &r, -1.0f, 1.0f);
        fill(rv, C, &r, 0.5f, 2.0f);
        float *rm0 = xcalloc(C, 4), *rv0 = xcalloc(C, 4);
        memcpy(rm0, rm, C * 4);
        memcpy(rv0, rv, C * 4);
        ck_assert(batchnorm_forward(out, NULL, rm, rv, in, g, be, B, C, S, BATCHNORM_EPS,
                                    BATCHNORM_MOMENTUM, 0, NULL) == 0);
        double *want = xcalloc(N, 8);
        for (size_t i = 0; i < N; i++) {
            size_t ch = i / S % C;
            want[i] = (double)g[ch] * (in[i] - (double)rm[ch]) /
                          sqrt((double)rv[ch] + BATCHNORM_EPS) + be[ch];
        }
        check_close("bn eval out", out, want, N, 1e-5);
        ck_assert(memcmp(rm, rm0, C * 4) == 0 && memcmp(rv, rv0, C * 4) == 0);
        free(in), free(out), free(g), free(be), free(rm), free(rv), free(rm0), free(rv0);
        free(want);
    }
}
END_TEST

/* A hand-sized example: B = 2 examples of C = 2 channels of S = 2 values.
 *   channel 0: 1, 2 | 3, 4     mean 2.5, biased var 1.25, unbiased 5/3
 *   channel 1: 0, 0 | 0, 8     mean 2,   biased var 12,   unbiased 16
 * Running stats from PyTorch's initial (0, 1), momentum 0.1:
 *   step 1: mean 0.25, 0.2;   var 0.9 + 1/6 = 1.0666667, 0.9 + 1.6 = 2.5
 *   step 2: mean 0.475, 0.38; var 0.96 + 1/6 = 1.1266667, 2.25 + 1.6 = 3.85
 * and out = (x - mean) / sqrt(var + 1e-5) with gamma 1, beta 0. */
START_TEST(test_bn_running_hand)
{
    const float in[8] = { 1, 2, 0, 0, 3, 4, 0, 8 };
    const float g[2] = { 1, 1 }, be[2] = { 0, 0 };
    float rm[2] = { 0, 0 }, rv[2] = { 1, 1 }, out[8], cache[4];
    const double want_rm1[2] = { 0.25, 0.2 }, want_rv1[2] = { 0.9 + 1.0 / 6.0, 2.5 };
    const double want_rm2[2] = { 0.475, 0.38 }, want_rv2[2] = { 0.96 + 1.0 / 6.0, 3.85 };
    ck_assert(batchnorm_forward(out, cache, rm, rv, in, g, be, 2, 2, 2, 1e-5f, 0.1f, 1,
                                NULL) == 0);
    for (int c = 0; c < 2; c++) {
        ck_assert_msg(fabs(rm[c] - want_rm1[c]) < 1e-6, "run_mean[%d] %.9g", c, rm[c]);
        ck_assert_msg(fabs(rv[c] - want_rv1[c]) < 1e-6, "run_var[%d] %.9g (the biased "
                      "variance would give %.9g)", c, rv[c],
                      c ? 0.9 + 1.2 : 0.9 + 0.125);
    }
    const double s0 = sqrt(1.25 + 1e-5), s1 = sqrt(12.0 + 1e-5);
    const double want[8] = { -1.5 / s0, -0.5 / s0, -2 / s1, -2 / s1,
                             0.5 / s0,  1.5 / s0,  -2 / s1, 6 / s1 };
    for (int i = 0; i < 8; i++)
        ck_assert_msg(fabs(out[i] - want[i]) < 1e-6, "out[%d] %.9g vs %.9g", i, out[i],
                      want[i]);
    ck_assert(fabs(cache[0] - 2.5) < 1e-7 && fabs(cache[1] - 2.0) < 1e-7);
    ck_assert(fabs(cache[2] - 1 / s0) < 1e-6 && fabs(cache[3] - 1 / s1) < 1e-6);
    ck_assert(batchnorm_forward(out, cache, rm, rv, in, g, be, 2, 2, 2, 1e-5f, 0.1f, 1,
                                NULL) == 0);
    for (int c = 0; c < 2; c++) {
        ck_assert_msg(fabs(rm[c] - want_rm2[c]) < 1e-6, "run_mean[%d] %.9g", c, rm[c]);
        ck_assert_msg(fabs(rv[c] - want_rv2[c]) < 1e-6, "run_var[%d] %.9g", c, rv[c]);
    }
    /* momentum 0 freezes the running statistics; 1 replaces them */
    float rm2[2] = { 0.3f, 0.4f }, rv2[2] = { 1.5f, 2.5f };
    ck_assert(batchnorm_forward(out, cache, rm2, rv2, in, g, be, 2, 2, 2, 1e-5f, 0.0f, 1,
                                NULL) == 0);
    ck_assert(rm2[0] == 0.3f && rm2[1] == 0.4f && rv2[0] == 1.5f && rv2[1] == 2.5f);
    ck_assert(batchnorm_forward(out, cache, rm2, rv2, in, g, be, 2, 2, 2, 1e-5f, 1.0f, 1,
                                NULL) == 0);
    ck_assert(rm2[0] == 2.5f && rm2[1] == 2.0f);
    ck_assert(fabs(rv2[0] - 5.0 / 3.0) < 1e-6 && rv2[1] == 16.0f);
}
END_TEST

/* Same input, same bits (both modes); channel ranges give the whole call's
 * bits (forward and backward); and in evaluation an example's output is the
 * same bits alone, in its batch, and in a batch of other examples. */
START_TEST(test_bn_deterministic)
{
    static const size_t sh[][3] = { { 5, 6, 13 }, { 9, 130, 1 } };
    for (size_t k = 0; k < 2; k++) {
        const size_t B = sh[k][0], C = sh[k][1], S = sh[k][2], N = B * C * S, X = C * S;
        db_rng r;
        db_rng_seed(&r, 3 + k, DB_RNG_TEST, 21);
        float *in = xcalloc(N, 4), *in2 = xcalloc(N, 4), *o1 = xcalloc(N, 4),
              *o2 = xcalloc(N, 4), *o3 = xcalloc(N, 4), *g = xcalloc(C, 4),
              *be = xcalloc(C, 4), *rm = xcalloc(C, 4), *rv = xcalloc(C, 4),
              *rm2 = xcalloc(C, 4), *rv2 = xcalloc(C, 4), *c1 = xcalloc(2 * C, 4),
              *c2 = xcalloc(2 * C, 4), *dy = xcalloc(N, 4);
        fill(in, N, &r, -2.0f, 2.0f);
        fill(in2, N, &r, -5.0f, 5.0f);
        fill(g, C, &r, 0.5f, 1.5f);
        fill(be, C, &r, -1.0f, 1.0f);
        fill(rv, C, &r, 0.5f, 2.0f);
        fill(rm, C, &r, -0.5f, 0.5f);
        fill(dy, N, &r, -1.0f, 1.0f);
        memcpy(rm2, rm, C * 4);
        memcpy(rv2, rv, C * 4);
        /* training twice from the same running stats */
        batchnorm_forward(o1, c1, rm, rv, in, g, be, B, C, S, BATCHNORM_EPS,
                          BATCHNORM_MOMENTUM, 1, NULL);
        /* channel ranges of 1, 2, 3, ... channels, in reverse order */
        size_t bounds[64], nb = 0;
        for (size_t c = 0, w = 1; c < C; c += w, w++)
            bounds[nb++] = c;
        bounds[nb] = C;
        for (size_t i = nb; i-- > 0;)
            batchnorm_forward_channels(o2, c2, rm2, rv2, in, g, be, B, C, S, BATCHNORM_EPS,
                                       BATCHNORM_MOMENTUM, 1, 0, bounds[i], bounds[i + 1]);
        ck_assert(memcmp(o1, o2, N * 4) == 0);
        ck_assert(memcmp(c1, c2, 2 * C * 4) == 0);
        ck_assert(memcmp(rm, rm2, C * 4) == 0 && memcmp(rv, rv2, C * 4) == 0);
        /* with the ReLU fused: relu_forward of that output, to the bit, in
         * training and in evaluation (about half the outputs negative) */
        {
            float *o5 = xcalloc(N, 4), *o4 = xcalloc(N, 4), *c3 = xcalloc(2 * C, 4),
                  *rm3 = xcalloc(C, 4), *rv3 = xcalloc(C, 4);
            for (int training = 1; training >= 0; training--) {
                for (size_t c = 0; c < C; c++)
                    rv3[c] = 1.0f, rm3[c] = 0.0f;
                batchnorm_forward_channels(o4, c3, rm3, rv3, in, g, be, B, C, S, BATCHNORM_EPS,
                                           BATCHNORM_MOMENTUM, training, 0, 0, C);
                relu_forward(o4, o4, N);
                for (size_t c = 0; c < C; c++)
                    rv3[c] = 1.0f, rm3[c] = 0.0f;
                batchnorm_forward_channels(o5, c3, rm3, rv3, in, g, be, B, C, S, BATCHNORM_EPS,
                                           BATCHNORM_MOMENTUM, training, 1, 0, C);
                size_t zeros = 0;
                for (size_t i = 0; i < N; i++)
                    zeros += o5[i] == 0.0f;
                ck_assert_msg(zeros > 0 && zeros < N, "shape %zu: %zu of %zu zero", k, zeros, N);
                ck_assert_msg(memcmp(o5, o4, N * 4) == 0, "shape %zu: fused ReLU (training %d)",
                              k, training);
            }
            free(o5), free(o4), free(c3), free(rm3), free(rv3);
        }
        float *dx1 = xcalloc(N, 4), *dx2 = xcalloc(N, 4), *dg1 = xcalloc(C, 4),
              *dg2 = xcalloc(C, 4), *db1 = xcalloc(C, 4), *db2 = xcalloc(C, 4);
        batchnorm_backward(dx1, dg1, db1, dy, in, c1, g, B, C, S);
        for (size_t i = 0; i < nb; i++)
            batchnorm_backward_channels(dx2, dg2, db2, dy, in, c1, g, B, C, S, bounds[i],
                                        bounds[i + 1]);
        ck_assert(memcmp(dx1, dx2, N * 4) == 0);
        ck_assert(memcmp(dg1, dg2, C * 4) == 0 && memcmp(db1, db2, C * 4) == 0);

        /* evaluation: twice the same bits */
        batchnorm_forward(o1, NULL, rm, rv, in, g, be, B, C, S, BATCHNORM_EPS,
                          BATCHNORM_MOMENTUM, 0, NULL);
        batchnorm_forward(o2, NULL, rm, rv, in, g, be, B, C, S, BATCHNORM_EPS,
                          BATCHNORM_MOMENTUM, 0, NULL);
        ck_assert(memcmp(o1, o2, N * 4) == 0);
        /* example 2 alone, and example 2 put among the examples of in2 */
        batchnorm_forward(o2, NULL, rm, rv, in + 2 * X, g, be, 1, C, S, BATCHNORM_EPS,
                          BATCHNORM_MOMENTUM, 0, NULL);
        ck_assert(memcmp(o2, o1 + 2 * X, X * 4) == 0);
        memcpy(in2 + 4 * X, in + 2 * X, X * 4);
        batchnorm_forward(o3, NULL, rm, rv, in2, g, be, B, C, S, BATCHNORM_EPS,
                          BATCHNORM_MOMENTUM, 0, NULL);
        ck_assert(memcmp(o3 + 4 * X, o1 + 2 * X, X * 4) == 0);
        /* while in training it does depend on the batch */
        batchnorm_forward(o3, c2, rm2, rv2, in2, g, be, B, C, S, BATCHNORM_EPS,
                          BATCHNORM_MOMENTUM, 1, NULL);
        batchnorm_forward(o2, c2, rm2, rv2, in, g, be, B, C, S, BATCHNORM_EPS,
                          BATCHNORM_MOMENTUM, 1, NULL);
        ck_assert(memcmp(o3 + 4 * X, o2 + 2 * X, X * 4) != 0);
        free(in), free(in2), free(o1), free(o2), free(o3), free(g), free(be), free(rm);
        free(rv), free(rm2), free(rv2), free(c1), free(c2), free(dy), free(dx1), free(dx2);
        free(dg1), free(dg2), free(db1), free(db2);
    }
}
END_TEST

/* Training backward against central differences for din, dgamma, dbeta;
 * dgamma and dbeta accumulate (a second call doubles them), din is
 * overwritten and never read; din NULL leaves dgamma, dbeta. */
START_TEST(test_bn_backward)
{
    static const size_t sh[][3] = { { 2, 3, 9 }, { 3, 2, 6 }, { 4, 5, 1 }, { 1, 2, 5 } };
    db_rng r;
    db_rng_seed(&r, 4, DB_RNG_TEST, 21);
    for (size_t k = 0; k < sizeof sh / sizeof sh[0]; k++) {
        const size_t B = sh[k][0], C = sh[k][1], S = sh[k][2], N = B * C * S;
        float *in = xcalloc(N, 4), *out = xcalloc(N, 4), *R = xcalloc(N, 4),
              *g = xcalloc(C, 4), *be = xcalloc(C, 4), *rm = xcalloc(C, 4),
              *rv = xcalloc(C, 4), *cache = xcalloc(2 * C, 4);
        fill(in, N, &r, -2.0f, 2.0f);
        fill(R, N, &r, -1.0f, 1.0f);
        fill(g, C, &r, 0.5f, 1.5f);
        fill(be, C, &r, -1.0f, 1.0f);
        ck_assert(batchnorm_forward(out, cache, rm, rv, in, g, be, B, C, S, BATCHNORM_EPS,
                                    BATCHNORM_MOMENTUM, 1, NULL) == 0);
        float *dx = xcalloc(N, 4), *dg = xcalloc(C, 4), *db = xcalloc(C, 4);
        batchnorm_backward(dx, dg, db, R, in, cache, g, B, C, S);

        bn_ctx c = { B, C, S, BATCHNORM_EPS, to_d(in, N), to_d(g, C), to_d(be, C),
                     to_d(R, N), xcalloc(N, 8), xcalloc(C, 8), xcalloc(C, 8) };
        double *nx = xcalloc(N, 8), *ng = xcalloc(C, 8), *nb = xcalloc(C, 8);
        numgrad(nx, c.in, N, bn_loss, &c);
        numgrad(ng, c.gamma, C, bn_loss, &c);
        numgrad(nb, c.beta, C, bn_loss, &c);
        check_grad("bn din", dx, nx, N);
        check_grad("bn dgamma", dg, ng, C);
        check_grad("bn dbeta", db, nb, C);
        /* each channel's input gradient sums to 0 (the mean is subtracted) */
        for (size_t ch = 0; ch < C; ch++) {
            double s = 0.0, a = 0.0;
            for (size_t b = 0; b < B; b++)
                for (size_t j = 0; j < S; j++) {
                    s += dx[(b * C + ch) * S + j];
                    a += fabs(dx[(b * C + ch) * S + j]);
                }
            ck_assert_msg(fabs(s) <= 1e-5 * a + 1e-7, "channel %zu: din sums to %g", ch, s);
        }

        float *dx2 = xcalloc(N, 4), *dg2 = xcalloc(C, 4), *db2 = xcalloc(C, 4);
        memcpy(dx2, dx, N * 4);
        memcpy(dg2, dg, C * 4);
        memcpy(db2, db, C * 4);
        for (size_t i = 0; i < N; i++)
            dx2[i] = i % 3 == 0 ? NAN : -7.0f; /* din is overwritten, never read */
        batchnorm_backward(dx2, dg2, db2, R, in, cache, g, B, C, S);
        ck_assert_msg(memcmp(dx2, dx, N * 4) == 0, "din not overwritten");
        for (size_t i = 0; i < C; i++)
            ck_assert(dg2[i] == 2.0f * dg[i] && db2[i] == 2.0f * db[i]);
        memset(dg2, 0, C * 4);
        memset(db2, 0, C * 4);
        batchnorm_backward(NULL, dg2, db2, R, in, cache, g, B, C, S);
        ck_assert(memcmp(dg2, dg, C * 4) == 0 && memcmp(db2, db, C * 4) == 0);
        free(in), free(out), free(R), free(g), free(be), free(rm), free(rv), free(cache);
        free(dx), free(dg), free(db), free(dx2), free(dg2), free(db2), free(nx), free(ng);
        free(nb), free(c.in), free(c.gamma), free(c.beta), free(c.R), free(c.out);
        free(c.mean), free(c.var);
    }
}
END_TEST

/* ---- the summation order, bit for bit -------------------------------------
 * A scalar transcription of the order kernels/batchnorm.c documents for
 * S > 1 (one row at a time; each row's S values in four interleaved double
 * partial sums, its tail added to the first, combined (p0 + p1) + (p2 + p3);
 * rows added in example order) and of the float element-wise formulas.  The
 * kernel runs several rows side by side in vectors; it must give these bits
 * exactly, since results are compared across versions and CPUs. */

static double ord_row(const float *x, const float *y, size_t S, int kind, double mean,
                      float m, float is)
{
    double p[4] = { 0 };
    for (size_t j = 0; j < S; j++) {
        double v;
        if (kind == 0)
            v = x[j];
        else if (kind == 1)
            v = (x[j] - mean) * (x[j] - mean);
        else if (kind == 2)
            v = y[j];
        else
            v = (double)y[j] * ((x[j] - m) * is);
        const size_t quads = S & ~(size_t)3; /* the tail goes to p[0] */
        p[j < quads ? j % 4 : 0] += v;
    }
    return (p[0] + p[1]) + (p[2] + p[3]);
}

static double ord_channel(const float *in, const float *dy, size_t B, size_t C, size_t c,
                          size_t S, int kind, double mean, float m, float is)
{
    double s = 0.0;
    for (size_t b = 0; b < B; b++)
        s += ord_row(in + (b * C + c) * S, dy ? dy + (b * C + c) * S : NULL, S, kind, mean,
                     m, is);
    return s;
}

START_TEST(test_bn_order_bits)
{
    /* B: 4-row groups and a remainder; S: whole quads and a tail */
    static const size_t sh[][3] = { { 9, 3, 16 }, { 6, 2, 7 }, { 4, 2, 5 }, { 3, 2, 4 },
                                    { 13, 2, 33 }, { 8, 1, 2 } };
    for (size_t k = 0; k < sizeof sh / sizeof sh[0]; k++) {
        const size_t B = sh[k][0], C = sh[k][1], S = sh[k][2], N = B * C * S;
        const double n = (double)(B * S);
        db_rng r;
        db_rng_seed(&r, 50 + k, DB_RNG_TEST, 21);
        float *in = xcalloc(N, 4), *dy = xcalloc(N, 4), *out = xcalloc(N, 4),
              *dx = xcalloc(N, 4), *g = xcalloc(C, 4), *be = xcalloc(C, 4),
              *rm = xcalloc(C, 4), *rv = xcalloc(C, 4), *cache = xcalloc(2 * C, 4),
              *dg = xcalloc(C, 4), *db = xcalloc(C, 4);
        /* magnitudes from 2^-20 to 2^20, so that double sums round and
         * their order shows in the bits */
        fill(in, N, &r, -1.0f, 1.0f);
        fill(dy, N, &r, -1.0f, 1.0f);
        for (size_t i = 0; i < N; i++) {
            in[i] = ldexpf(in[i], (int)(i * 7919 % 41) - 20);
            dy[i] = ldexpf(dy[i], (int)(i * 104729 % 41) - 20);
        }
        /* and in the odd shapes, rows whose partial sums p0..p3 are
         * 2^50 + 1, -2^50 + 2^-10, ...: (p0 + p1) + (p2 + p3) gives 1,
         * (p0 + p2) + (p1 + p3) gives 1 + 2^-10, a float apart */
        static const float pat[4] = { 0x1p50f, 1.0f, -0x1p50f, 0x1p-10f };
        for (size_t i = 0; k % 2 && i < N; i++)
            in[i] = dy[i] = pat[i % S % 4] * (float)(1 + i / S % 3);
        fill(g, C, &r, 0.5f, 1.5f);
        g[0] = 0.0f; /* din = +0 + 0 * (...): zeros of both signs before the +0 */
        fill(be, C, &r, -1.0f, 1.0f);
        fill(rv, C, &r, 0.5f, 2.0f);
        ck_assert(batchnorm_forward(out, cache, rm, rv, in, g, be, B, C, S, BATCHNORM_EPS,
                                    BATCHNORM_MOMENTUM, 1, NULL) == 0);
        batchnorm_backward(dx, dg, db, dy, in, cache, g, B, C, S);
        for (size_t c = 0; c < C; c++) {
            const double mean = ord_channel(in, NULL, B, C, c, S, 0, 0, 0, 0) / n;
            const double var = ord_channel(in, NULL, B, C, c, S, 1, mean, 0, 0) / n;
            const float m = (float)mean, is = (float)(1.0 / sqrt(var + (double)BATCHNORM_EPS)),
                        kf = g[c] * is;
            ck_assert(memcmp(&cache[c], &m, 4) == 0 && memcmp(&cache[C + c], &is, 4) == 0);
            const double sdy = ord_channel(in, dy, B, C, c, S, 2, 0, m, is);
            const double sdyx = ord_channel(in, dy, B, C, c, S, 3, 0, m, is);
            const float fdb = (float)sdy, fdg = (float)sdyx;
            ck_assert(memcmp(&db[c], &fdb, 4) == 0 && memcmp(&dg[c], &fdg, 4) == 0);
            const float a = (float)(sdy / n), q = (float)(sdyx / n);
            for (size_t b = 0; b < B; b++)
                for (size_t j = 0; j < S; j++) {
                    const size_t i = (b * C + c) * S + j;
                    const float o = (in[i] - m) * kf + be[c];
                    float d = 0.0f;
                    d += kf * (dy[i] - a - (in[i] - m) * is * q);
                    ck_assert_msg(memcmp(&out[i], &o, 4) == 0, "shape %zu out[%zu]", k, i);
                    ck_assert_msg(memcmp(&dx[i], &d, 4) == 0, "shape %zu din[%zu]: %a, not %a",
                                  k, i, (double)dx[i], (double)d);
                }
        }
        free(in), free(dy), free(out), free(dx), free(g), free(be), free(rm), free(rv);
        free(cache), free(dg), free(db);
    }
}
END_TEST

/* A constant channel (variance 0) normalises to beta through eps, with
 * finite gradients. */
START_TEST(test_bn_constant_channel)
{
    float in[6] = { 3, 3, 3, 3, 3, 3 }, out[6], g[1] = { 2 }, be[1] = { 0.5f };
    float rm[1] = { 0 }, rv[1] = { 1 }, cache[2], dy[6] = { 1, -2, 3, 0, 1, 1 };
    float dx[6] = { 0 }, dg[1] = { 0 }, db[1] = { 0 };
    ck_assert(batchnorm_forward(out, cache, rm, rv, in, g, be, 3, 1, 2, BATCHNORM_EPS,
                                BATCHNORM_MOMENTUM, 1, NULL) == 0);
    for (int i = 0; i < 6; i++)
        ck_assert(out[i] == 0.5f);
    ck_assert(fabs(rv[0] - 0.9) < 1e-7);
    batchnorm_backward(dx, dg, db, dy, in, cache, g, 3, 1, 2);
    ck_assert(db[0] == 4.0f && dg[0] == 0.0f);
    /* din = gamma / sqrt(eps) (dy - mean(dy)) */
    for (int i = 0; i < 6; i++)
        ck_assert_msg(fabs(dx[i] - 2.0 / sqrt(1e-5) * (dy[i] - 4.0 / 6.0)) <=
                          1e-3 * fabs(dx[i]) + 1e-3,
                      "din[%d] %g", i, dx[i]);
}
END_TEST

/* Bad arguments: -1 with a message naming the value, nothing touched. */
START_TEST(test_bn_validation)
{
    float in[4] = { 1, 2, 3, 4 }, out[4] = { 9, 9, 9, 9 }, g[4] = { 1, 1, 1, 1 },
          be[4] = { 0 }, rm[4] = { 0 }, rv[4] = { 1, 1, 1, 1 }, cache[8] = { 0 };
    static const struct {
        size_t B, S;
        float eps, mo;
        const char *text;
    } bad[] = {
        { 1, 1, 1e-5f, 0.1f, "B*S = 1" }, { 2, 1, 0.0f, 0.1f, "eps 0" },
        { 2, 1, -1e-5f, 0.1f, "eps -1e-05" }, { 2, 1, NAN, 0.1f, "eps nan" },
        { 2, 1, 1e-5f, 1.5f, "momentum 1.5" }, { 2, 1, 1e-5f, NAN, "momentum nan" },
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        db_err e;
        e.msg[0] = 0;
        size_t C = 4 / (bad[k].B * bad[k].S);
        ck_assert_int_eq(batchnorm_forward(out, cache, rm, rv, in, g, be, bad[k].B, C,
                                           bad[k].S, bad[k].eps, bad[k].mo, 1, &e), -1);
        ck_assert_msg(strstr(e.msg, bad[k].text) != NULL, "%s: %s", bad[k].text, e.msg);
        for (int i = 0; i < 4; i++)
            ck_assert(out[i] == 9.0f && rm[i] == 0.0f && rv[i] == 1.0f);
    }
    /* one value per channel is fine in evaluation */
    ck_assert_int_eq(batchnorm_forward(out, NULL, rm, rv, in, g, be, 1, 4, 1, 1e-5f, 0.1f,
                                       0, NULL), 0);
    ck_assert_int_eq(batchnorm_check(2, 1, 1e-5f, 0.1f, 1, NULL), 0);
    ck_assert_int_eq(batchnorm_check(1, 2, 1e-5f, 1.0f, 1, NULL), 0);
    ck_assert_uint_eq(batchnorm_cache_floats(7), 14);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("batchnorm");
    TCase *tc = tcase_create("batchnorm");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_bn_train_reference);
    tcase_add_test(tc, test_bn_eval_reference);
    tcase_add_test(tc, test_bn_running_hand);
    tcase_add_test(tc, test_bn_deterministic);
    tcase_add_test(tc, test_bn_backward);
    tcase_add_test(tc, test_bn_order_bits);
    tcase_add_test(tc, test_bn_constant_channel);
    tcase_add_test(tc, test_bn_validation);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
