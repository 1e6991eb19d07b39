/* test_kernels_convpool.c - the fast paths of conv2d and max-pool added for
 * speed: the vectorised 2x2/2 and 3x3/2 max-pool give exactly the naive
 * window scan (values and argmax, ties included), maxpool_backward_set and
 * conv2d_backward_set give exactly zeroing + the accumulating kernels, and
 * the per-example and "same"-convolution im2col paths of conv2d match
 * direct loops in double precision. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "test_numeric.h"
#include "kernels.h"

/* Few distinct values, so windows often hold ties: the first maximum in
 * row-major order must win on every path. */
static void fill_ties(float *x, size_t n, db_rng *r)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(int)(4.0f * db_rng_uniform(r)) - 2.0f;
}

/* ---- max-pool ------------------------------------------------------------ */

static void pool_naive(float *out, uint32_t *am, const float *in, const pool_shape *s)
{
    for (size_t p = 0; p < s->B * s->C; p++)
        for (size_t oh = 0; oh < s->OH; oh++)
            for (size_t ow = 0; ow < s->OW; ow++) {
                const float *x = in + p * s->H * s->W;
                int found = 0;
                size_t best = 0;
                for (size_t kh = 0; kh < s->K; kh++)
                    for (size_t kw = 0; kw < s->K; kw++) {
                        size_t h = oh * s->stride + kh, w = ow * s->stride + kw;
                        if (h < s->pad || w < s->pad || h - s->pad >= s->H ||
                            w - s->pad >= s->W)
                            continue;
                        size_t i = (h - s->pad) * s->W + (w - s->pad);
                        if (!found || x[i] > x[best]) {
                            best = i;
                            found = 1;
                        }
                    }
                ck_assert(found);
                out[(p * s->OH + oh) * s->OW + ow] = x[best];
                am[(p * s->OH + oh) * s->OW + ow] = (uint32_t)best;
            }
}

/* B, C, H, W, K, stride, pad: the nets' shapes and odd ones around them */
static const size_t pool_fast_shapes[][7] = {
    {2, 3, 28, 28, 2, 2, 0}, {1, 2, 14, 14, 2, 2, 0}, {2, 2, 9, 11, 2, 2, 0},
    {1, 1, 2, 17, 2, 2, 0},  {2, 3, 32, 32, 3, 2, 1}, {2, 2, 12, 12, 3, 2, 1},
    {1, 2, 16, 13, 3, 2, 1}, {1, 2, 15, 15, 3, 2, 0}, {1, 1, 2, 2, 3, 2, 1},
    {1, 1, 3, 21, 3, 2, 2},  {1, 1, 21, 3, 3, 2, 1},  {1, 2, 5, 40, 3, 2, 1},
    {1, 1, 4, 19, 3, 2, 0},
};

START_TEST(test_pool_fast_paths)
{
    db_rng r;
    db_rng_seed(&r, 11, DB_RNG_TEST, 0);
    for (size_t k = 0; k < sizeof pool_fast_shapes / sizeof pool_fast_shapes[0]; k++) {
        const size_t *v = pool_fast_shapes[k];
        pool_shape s;
        db_err e;
        ck_assert_msg(pool_shape_init(&s, v[0], v[1], v[2], v[3], v[4], v[5], v[6],
                                      &e) == 0, "%s", e.msg);
        size_t nin = s.B * s.C * s.H * s.W, nout = s.B * s.C * s.OH * s.OW;
        float *in = xmalloc(nin * 4), *o1 = xmalloc(nout * 4), *o2 = xmalloc(nout * 4);
        uint32_t *a1 = xmalloc(nout * 4), *a2 = xmalloc(nout * 4);
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 0)
                fill_ties(in, nin, &r);
            else
                fill_pm1(in, nin, &r);
            pool_naive(o1, a1, in, &s);
            maxpool_forward(o2, a2, in, &s);
            ck_assert_msg(memcmp(o1, o2, nout * 4) == 0, "shape %zu values", k);
            ck_assert_msg(memcmp(a1, a2, nout * 4) == 0, "shape %zu argmax", k);
        }
        /* backward_set overwrites garbage and equals zero + backward */
        float *g = xmalloc(nout * 4), *d1 = xmalloc(nin * 4), *d2 = xmalloc(nin * 4);
        fill_pm1(g, nout, &r);
        memset(d1, 0, nin * 4);
        maxpool_backward(d1, g, a2, &s);
        for (size_t i = 0; i < nin; i++)
            d2[i] = 1e30f;
        maxpool_backward_set(d2, g, a2, &s);
        ck_assert_msg(memcmp(d1, d2, nin * 4) == 0, "shape %zu backward_set", k);
        maxpool_backward_set(NULL, g, a2, &s); /* no input gradient: no-op */
        /* over a ReLU's output (about half of it 0): the fused backward
         * equals pool backward then ReLU backward, bit for bit */
        for (size_t i = 0; i < nin; i++)
            in[i] = in[i] < 0.0f ? 0.0f : in[i];
        maxpool_forward(o2, a2, in, &s);
        maxpool_backward_set(d1, g, a2, &s);
        relu_backward_inplace(d1, in, nin);
        for (size_t i = 0; i < nin; i++)
            d2[i] = 1e30f;
        maxpool_backward_relu_set(d2, g, a2, o2, &s);
        ck_assert_msg(memcmp(d1, d2, nin * 4) == 0, "shape %zu backward_relu_set", k);
        size_t passed = 0;
        for (size_t i = 0; i < nout; i++)
            passed += o2[i] > 0.0f;
        ck_assert_msg(passed > 0, "shape %zu: the test needs positive maxima", k);
        free(in), free(o1), free(o2), free(a1), free(a2), free(g), free(d1), free(d2);
    }
}
END_TEST

/* ---- conv2d -------------------------------------------------------------- */

static void conv_direct(const conv2d_shape *s, double *out, const float *in,
                        const float *w, const float *b)
{
    for (size_t n = 0; n < s->B; n++)
        for (size_t oc = 0; oc < s->OC; oc++)
            for (size_t oh = 0; oh < s->OH; oh++)
                for (size_t ow = 0; ow < s->OW; ow++) {
                    double acc = b[oc];
                    for (size_t c = 0; c < s->C; c++)
                        for (size_t kh = 0; kh < s->K; kh++)
                            for (size_t kw = 0; kw < s->K; kw++) {
                                size_t h = oh * s->stride + kh, x = ow * s->stride + kw;
                                if (h < s->pad || x < s->pad || h - s->pad >= s->H ||
                                    x - s->pad >= s->W)
                                    continue;
                                acc += (double)w[((oc * s->C + c) * s->K + kh) * s->K + kw] *
                                       in[((n * s->C + c) * s->H + h - s->pad) * s->W +
                                          x - s->pad];
                            }
                    out[((n * s->OC + oc) * s->OH + oh) * s->OW + ow] = acc;
                }
}

/* din, dw, db of sum(out * g) by direct loops */
static void conv_direct_backward(const conv2d_shape *s, double *din, double *dw,
                                 double *db, const float *g, const float *in,
                                 const float *w)
{
    memset(din, 0, s->B * s->C * s->H * s->W * sizeof *din);
    memset(dw, 0, s->OC * s->C * s->K * s->K * sizeof *dw);
    memset(db, 0, s->OC * sizeof *db);
    for (size_t n = 0; n < s->B; n++)
        for (size_t oc = 0; oc < s->OC; oc++)
            for (size_t oh = 0; oh < s->OH; oh++)
                for (size_t ow = 0; ow < s->OW; ow++) {
                    double go = g[((n * s->OC + oc) * s->OH + oh) * s->OW + ow];
                    db[oc] += go;
                    for (size_t c = 0; c < s->C; c++)
                        for (size_t kh = 0; kh < s->K; kh++)
                            for (size_t kw = 0; kw < s->K; kw++) {
                                size_t h = oh * s->stride + kh, x = ow * s->stride + kw;
                                if (h < s->pad || x < s->pad || h - s->pad >= s->H ||
                                    x - s->pad >= s->W)
                                    continue;
                                size_t ii = ((n * s->C + c) * s->H + h - s->pad) * s->W +
                                            x - s->pad;
                                size_t wi = ((oc * s->C + c) * s->K + kh) * s->K + kw;
                                dw[wi] += go * in[ii];
                                din[ii] += go * w[wi];
                            }
                }
}

static void assert_close(const float *a, const double *ref, size_t n, const char *what,
                         size_t k)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(a[i] - ref[i]) <= 1e-4 * (1.0 + fabs(ref[i])),
                      "shape %zu %s[%zu]: %.9g vs %.9g", k, what, i, a[i], ref[i]);
}

/* B, C, H, W, OC, K, stride, pad: per-example (OH*OW >= 64) and batched,
 * "same" (K = 2 pad + 1) and not, the nets' own layers among them */
static const size_t conv_fast_shapes[][8] = {
    {3, 1, 28, 28, 4, 5, 1, 2},  /* LeNet conv1: per example, same */
    {3, 4, 14, 14, 5, 5, 1, 2},  /* LeNet conv2 */
    {2, 3, 32, 32, 4, 5, 1, 2},  /* CIFAR conv1 */
    {3, 4, 16, 16, 3, 5, 1, 0},  /* CIFAR conv2: per example, pad 0 */
    {3, 4, 6, 6, 5, 5, 1, 0},    /* CIFAR conv3: batched, 2x2 output */
    {2, 2, 9, 9, 3, 3, 1, 1},    /* same, K 3, per example */
    {2, 2, 7, 5, 3, 3, 1, 1},    /* same, batched */
    {2, 2, 10, 11, 3, 3, 1, 2},  /* over-padded: not "same" */
    {2, 1, 3, 3, 2, 5, 1, 2},    /* same with K > W */
    {2, 2, 20, 18, 3, 3, 2, 1},  /* stride 2, per example */
};

START_TEST(test_conv_fast_paths)
{
    db_rng r;
    db_rng_seed(&r, 12, DB_RNG_TEST, 0);
    for (size_t k = 0; k < sizeof conv_fast_shapes / sizeof conv_fast_shapes[0]; k++) {
        const size_t *v = conv_fast_shapes[k];
        conv2d_shape s;
        db_err e;
        ck_assert_msg(conv2d_shape_init(&s, v[0], v[1], v[2], v[3], v[4], v[5], v[6],
                                        v[7], &e) == 0, "%s", e.msg);
        size_t nin = s.B * s.C * s.H * s.W, nw = s.OC * s.C * s.K * s.K,
               nout = s.B * s.OC * s.OH * s.OW, nwork = conv2d_work_floats(&s);
        float *in = xmalloc(nin * 4), *w = xmalloc(nw * 4), *b = xmalloc(s.OC * 4),
              *out = xmalloc(nout * 4), *out2 = xmalloc(nout * 4),
              *work = xmalloc(nwork * 4), *g = xmalloc(nout * 4);
        double *ref = xmalloc(nout * 8), *rin = xmalloc(nin * 8), *rw = xmalloc(nw * 8),
               *rb = xmalloc(s.OC * 8);
        fill_pm1(in, nin, &r);
        fill_pm1(w, nw, &r);
        fill_pm1(b, s.OC, &r);
        fill_pm1(g, nout, &r);
        for (size_t i = 0; i < nwork; i++)
            work[i] = 1e30f; /* the scratch holds garbage between calls */
        conv2d_forward(out, in, w, b, &s, work);
        conv_direct(&s, ref, in, w, b);
        assert_close(out, ref, nout, "out", k);
        conv2d_forward_relu(out2, in, w, b, &s, work);
        for (size_t i = 0; i < nout; i++)
            ck_assert(out2[i] == (out[i] < 0.0f ? 0.0f : out[i]));

        /* accumulating backward from zero, then backward_set over garbage:
         * identical bits; both close to the direct loops */
        float *din = xmalloc(nin * 4), *dw = xmalloc(nw * 4), *db = xmalloc(s.OC * 4),
              *din2 = xmalloc(nin * 4), *dw2 = xmalloc(nw * 4), *db2 = xmalloc(s.OC * 4);
        memset(din, 0, nin * 4);
        memset(dw, 0, nw * 4);
        memset(db, 0, s.OC * 4);
        conv2d_backward(din, dw, db, g, in, w, &s, work);
        for (size_t i = 0; i < nin; i++)
            din2[i] = 1e30f;
        for (size_t i = 0; i < nw; i++)
            dw2[i] = -1e30f;
        for (size_t i = 0; i < s.OC; i++)
            db2[i] = 7.0f;
        conv2d_backward_set(din2, dw2, db2, g, in, w, &s, work);
        ck_assert_msg(memcmp(din, din2, nin * 4) == 0, "shape %zu din set", k);
        ck_assert_msg(memcmp(dw, dw2, nw * 4) == 0, "shape %zu dw set", k);
        ck_assert_msg(memcmp(db, db2, s.OC * 4) == 0, "shape %zu db set", k);
        conv_direct_backward(&s, rin, rw, rb, g, in, w);
        assert_close(din, rin, nin, "din", k);
        assert_close(dw, rw, nw, "dw", k);
        assert_close(db, rb, s.OC, "db", k);
        /* without an input gradient the weight gradients are unchanged */
        for (size_t i = 0; i < nw; i++)
            dw2[i] = 3.0f;
        conv2d_backward_set(NULL, dw2, db2, g, in, w, &s, work);
        ck_assert_msg(memcmp(dw, dw2, nw * 4) == 0, "shape %zu dw set, no din", k);
        free(in), free(w), free(b), free(out), free(out2), free(work), free(g);
        free(ref), free(rin), free(rw), free(rb);
        free(din), free(dw), free(db), free(din2), free(dw2), free(db2);
    }
}
END_TEST

/* ---- first-layer weight gradient straight from the pool's ---------------- */

/* B, C, H, W, OC, K, pad; pool K, stride, pad: CIFAR's and LeNet's first
 * layers made small, one row count (C*K) on the generic path, a 3x3 kernel,
 * and layers of more channels than one block of rows holds (15 rows with
 * AVX2, 30 with AVX-512: make test runs this suite on each path) */
static const size_t pooled_shapes[][10] = {
    {3, 3, 12, 12, 5, 5, 2, 3, 2, 1}, /* 15 rows, overlapping pool */
    {2, 1, 10, 10, 4, 5, 2, 2, 2, 0}, /* 5 rows, 2x2 pool */
    {2, 2, 9, 11, 3, 3, 1, 3, 2, 1},  /* 6 rows, K 3, odd sizes */
    {2, 3, 12, 12, 3, 5, 0, 2, 2, 0}, /* no padding */
    {1, 1, 40, 40, 2, 3, 1, 2, 2, 0},  /* 400 pooled outputs: two blocks */
    {2, 8, 10, 10, 6, 5, 0, 2, 2, 0},  /* 8 channels: row blocks of 3, 3, 2 */
    {2, 7, 9, 9, 4, 3, 1, 3, 2, 1},    /* K 3: row blocks of 5 and 2 channels */
    {1, 2, 12, 12, 3, 8, 3, 2, 2, 0},  /* K 8: one channel per block */
    {2, 13, 9, 9, 3, 5, 2, 2, 2, 0},   /* 13 channels: blocks of 6, 6, 1 with AVX-512 */
    {1, 12, 8, 10, 2, 3, 0, 3, 2, 1},  /* K 3, 36 rows: 30 + 6 with AVX-512 */
};

START_TEST(test_conv_pooled_weights)
{
    db_rng r;
    db_rng_seed(&r, 12, DB_RNG_TEST, 0);
    for (int path = 0; path < 2; path++) { /* direct kernels, then generic */
        int was = conv2d_set_direct(path == 0);
        for (size_t k = 0; k < sizeof pooled_shapes / sizeof pooled_shapes[0]; k++) {
            const size_t *v = pooled_shapes[k];
            conv2d_shape s;
            pool_shape p;
            ck_assert(conv2d_shape_init(&s, v[0], v[1], v[2], v[3], v[4], v[5], 1, v[6],
                                        NULL) == 0);
            ck_assert(pool_shape_init(&p, s.B, s.OC, s.OH, s.OW, v[7], v[8], v[9],
                                      NULL) == 0);
            ck_assert(conv2d_pooled_suits(&s));
            size_t nin = s.B * s.C * s.H * s.W, nw = s.OC * s.C * s.K * s.K,
                   nout = s.B * s.OC * s.OH * s.OW, pohw = p.OH * p.OW,
                   npo = s.B * s.OC * pohw, nwork = conv2d_work_floats(&s);
            if (conv2d_pooled_work_floats(&s) > nwork)
                nwork = conv2d_pooled_work_floats(&s);
            float *in = xmalloc(nin * 4), *w = xmalloc(nw * 4), *b = xmalloc(s.OC * 4),
                  *out = xmalloc(nout * 4), *po = xmalloc(npo * 4), *g = xmalloc(npo * 4),
                  *dc = xmalloc(nout * 4), *work = xmalloc(nwork * 4),
                  *rw = xmalloc(nw * 4), *rb = xmalloc(s.OC * 4), *dw = xmalloc(nw * 4),
                  *db = xmalloc(s.OC * 4);
            uint32_t *am = xmalloc(npo * 4);
            fill_pm1(in, nin, &r);
            fill_pm1(w, nw, &r);
            fill_pm1(b, s.OC, &r);
            /* whole windows at 0 after the ReLU: a bias near the sums' spread */
            for (size_t i = 0; i < s.OC; i++)
                b[i] -= sqrtf((float)(s.C * s.K * s.K) / 9.0f);
            fill_pm1(g, npo, &r);
            for (size_t i = 0; i < npo; i += 4) /* as a dropout above the pool */
                g[i] = 0.0f;
            conv2d_forward_relu(out, in, w, b, &s, work);
            maxpool_forward(po, am, out, &p);
            size_t passed = 0, stopped = 0;
            for (size_t i = 0; i < npo; i++) {
                passed += po[i] > 0.0f;
                stopped += !(po[i] > 0.0f);
            }
            ck_assert_msg(passed > npo / 16 && stopped > npo / 16,
                          "shape %zu: the test needs both (%zu passed, %zu stopped)", k,
                          passed, stopped);
            /* the reference: the pool's backward with the ReLU's, then the conv's */
            maxpool_backward_relu_set(dc, g, am, po, &p);
            conv2d_backward_set(NULL, rw, rb, dc, in, w, &s, work);
            for (size_t i = 0; i < nw; i++)
                dw[i] = NAN;
            for (size_t i = 0; i < s.OC; i++)
                db[i] = NAN;
            conv2d_pooled_weights(dw, db, g, am, po, pohw, in, &s, work, 1);
            for (size_t i = 0; i < nw; i++)
                ck_assert_msg(fabsf(dw[i] - rw[i]) <= 1e-5f * (1.0f + fabsf(rw[i])),
                              "path %d shape %zu dw[%zu]: %g vs %g", path, k, i, dw[i], rw[i]);
            for (size_t i = 0; i < s.OC; i++)
                ck_assert_msg(fabsf(db[i] - rb[i]) <= 1e-5f * (1.0f + fabsf(rb[i])),
                              "path %d shape %zu db[%zu]: %g vs %g", path, k, i, db[i], rb[i]);
            /* set = 0 adds */
            conv2d_pooled_weights(dw, db, g, am, po, pohw, in, &s, work, 0);
            for (size_t i = 0; i < nw; i++)
                ck_assert_msg(fabsf(dw[i] - 2.0f * rw[i]) <= 2e-5f * (1.0f + fabsf(rw[i])),
                              "path %d shape %zu dw[%zu] added", path, k, i);
            for (size_t i = 0; i < s.OC; i++)
                ck_assert_msg(fabsf(db[i] - 2.0f * rb[i]) <= 2e-5f * (1.0f + fabsf(rb[i])),
                              "path %d shape %zu db[%zu] added", path, k, i);
            free(in), free(w), free(b), free(out), free(po), free(g), free(dc), free(work);
            free(rw), free(rb), free(dw), free(db), free(am);
        }
        conv2d_set_direct(was);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("kernels_convpool");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_pool_fast_paths);
    tcase_add_test(tc, test_conv_fast_paths);
    tcase_add_test(tc, test_conv_pooled_weights);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
