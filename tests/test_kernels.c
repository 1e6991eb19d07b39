/* test_kernels.c - dense, conv2d, max-pool, ReLU, softmax cross-entropy and
 * embedding against naive double-precision references, with central-
 * difference gradient checks of every backward.
 *
 * Gradient checks: the reference forward runs in double on the same (float)
 * inputs; the loss is L = sum(out * R) for a fixed random R, so the float
 * backward is called with dout = R.  Numeric gradients use central
 * differences in double (eps 1e-5), accurate to ~1e-10, so the tolerance
 * only has to absorb the float kernel's rounding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "test_numeric.h"
#include "kernels.h"

/* ---- helpers ------------------------------------------------------------ */

/* x[0..n) = v (NaN: a kernel that must overwrite its output shows it) */
static void set_all(float *x, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        x[i] = v;
}

static double dot_d(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* ---- dense ---------------------------------------------------------------- */

typedef struct {
    size_t B, I, O;
    double *in, *w, *b, *R, *out;
} dense_ctx;

static void dense_ref(dense_ctx *c)
{
    for (size_t n = 0; n < c->B; n++)
        for (size_t o = 0; o < c->O; o++) {
            double acc = c->b[o];
            for (size_t i = 0; i < c->I; i++)
                acc += c->in[n * c->I + i] * c->w[o * c->I + i];
            c->out[n * c->O + o] = acc;
        }
}

static double dense_loss(void *p)
{
    dense_ctx *c = p;
    dense_ref(c);
    return dot_d(c->out, c->R, c->B * c->O);
}

START_TEST(test_dense_forward)
{
    static const size_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9},
                                       {64, 70, 130}};
    db_rng r;
    db_rng_seed(&r, 1, DB_RNG_TEST, 1);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        size_t B = shapes[k][0], I = shapes[k][1], O = shapes[k][2];
        float *in = xcalloc(B * I, 4), *w = xcalloc(O * I, 4),
              *b = xcalloc(O, 4), *out = xcalloc(B * O, 4);
        fill(in, B * I, &r, -1, 1);
        fill(w, O * I, &r, -1, 1);
        fill(b, O, &r, -1, 1);
        dense_forward(out, in, w, b, B, I, O);
        dense_ctx c = {B, I, O, to_d(in, B * I), to_d(w, O * I), to_d(b, O),
                       NULL, xcalloc(B * O, 8)};
        dense_ref(&c);
        check_close("dense out", out, c.out, B * O, 1e-5);
        free(in), free(w), free(b), free(out);
        free(c.in), free(c.w), free(c.b), free(c.out);
    }
}
END_TEST

START_TEST(test_dense_backward)
{
    const size_t B = 3, I = 5, O = 4;
    db_rng r;
    db_rng_seed(&r, 2, DB_RNG_TEST, 2);
    float in[3 * 5], w[4 * 5], b[4], R[3 * 4];
    fill(in, B * I, &r, -1, 1);
    fill(w, O * I, &r, -1, 1);
    fill(b, O, &r, -1, 1);
    fill(R, B * O, &r, -1, 1);
    float din[3 * 5] = {0}, dw[4 * 5] = {0}, db[4] = {0};
    dense_backward(din, dw, db, R, in, w, B, I, O);

    dense_ctx c = {B, I, O, to_d(in, B * I), to_d(w, O * I), to_d(b, O),
                   to_d(R, B * O), xcalloc(B * O, 8)};
    double gin[15], gw[20], gb[4];
    numgrad(gin, c.in, B * I, dense_loss, &c);
    numgrad(gw, c.w, O * I, dense_loss, &c);
    numgrad(gb, c.b, O, dense_loss, &c);
    check_grad("dense din", din, gin, B * I);
    check_grad("dense dw", dw, gw, O * I);
    check_grad("dense db", db, gb, O);

    float din2[15], dw2[20], db2[4];
    memcpy(din2, din, sizeof din);
    memcpy(dw2, dw, sizeof dw);
    memcpy(db2, db, sizeof db);
    dense_backward(din2, dw2, db2, R, in, w, B, I, O);
    check_twice("dense din", din, din2, B * I);
    check_twice("dense dw", dw, dw2, O * I);
    check_twice("dense db", db, db2, O);

    /* din == NULL (first layer) still yields the weight gradients. */
    float dw3[20] = {0}, db3[4] = {0};
    dense_backward(NULL, dw3, db3, R, in, w, B, I, O);
    ck_assert(memcmp(dw3, dw, sizeof dw) == 0);
    ck_assert(memcmp(db3, db, sizeof db) == 0);
    free(c.in), free(c.w), free(c.b), free(c.R), free(c.out);
}
END_TEST

/* ---- conv2d --------------------------------------------------------------- */

typedef struct {
    conv2d_shape s;
    double *in, *w, *b, *R, *out;
} conv_ctx;

/* The direct 7-loop convolution (plus batch), zero padding by skipping. */
static void conv_ref(const conv2d_shape *s, double *out, const double *in,
                     const double *w, const double *b)
{
    for (size_t n = 0; n < s->B; n++)
        for (size_t oc = 0; oc < s->OC; oc++)
            for (size_t oh = 0; oh < s->OH; oh++)
                for (size_t ow = 0; ow < s->OW; ow++) {
                    double acc = b[oc];
                    for (size_t c = 0; c < s->C; c++)
                        for (size_t kh = 0; kh < s->K; kh++)
                            for (size_t kw = 0; kw < s->K; kw++) {
                                long ih = (long)(oh * s->stride + kh) - (long)s->pad;
                                long iw = (long)(ow * s->stride + kw) - (long)s->pad;
                                if (ih < 0 || iw < 0 || ih >= (long)s->H ||
                                    iw >= (long)s->W)
                                    continue;
                                acc += in[((n * s->C + c) * s->H + (size_t)ih) * s->W + (size_t)iw] *
                                       w[((oc * s->C + c) * s->K + kh) * s->K + kw];
                            }
                    out[((n * s->OC + oc) * s->OH + oh) * s->OW + ow] = acc;
                }
}

/* Direct backward, for shapes too large for central differences. */
static void conv_ref_backward(const conv2d_shape *s, double *din, double *dw,
                              double *db, const double *dout, const double *in,
                              const double *w)
{
    for (size_t n = 0; n < s->B; n++)
        for (size_t oc = 0; oc < s->OC; oc++)
            for (size_t oh = 0; oh < s->OH; oh++)
                for (size_t ow = 0; ow < s->OW; ow++) {
                    double d = dout[((n * s->OC + oc) * s->OH + oh) * s->OW + ow];
                    db[oc] += d;
                    for (size_t c = 0; c < s->C; c++)
                        for (size_t kh = 0; kh < s->K; kh++)
                            for (size_t kw = 0; kw < s->K; kw++) {
                                long ih = (long)(oh * s->stride + kh) - (long)s->pad;
                                long iw = (long)(ow * s->stride + kw) - (long)s->pad;
                                if (ih < 0 || iw < 0 || ih >= (long)s->H ||
                                    iw >= (long)s->W)
                                    continue;
                                size_t ii = ((n * s->C + c) * s->H + (size_t)ih) * s->W + (size_t)iw;
                                size_t wi = ((oc * s->C + c) * s->K + kh) * s->K + kw;
                                dw[wi] += d * in[ii];
                                din[ii] += d * w[wi];
                            }
                }
}

/* A conv layer's random input, filters, bias and output gradient (filled
 * in that order from r), their double copies and the double forward
 * reference. */
typedef struct conv_data {
    size_t nin, nw, nout;
    float *in, *w, *b, *R;
    double *din, *dw, *dbias, *dR, *ref;
} conv_data;

static void conv_data_init(conv_data *d, const conv2d_shape *s, db_rng *r)
{
    d->nin = s->B * s->C * s->H * s->W;
    d->nw = s->OC * s->C * s->K * s->K;
    d->nout = s->B * s->OC * s->OH * s->OW;
    d->in = xcalloc(d->nin, 4);
    d->w = xcalloc(d->nw, 4);
    d->b = xcalloc(s->OC, 4);
    d->R = xcalloc(d->nout, 4);
    fill(d->in, d->nin, r, -1, 1);
    fill(d->w, d->nw, r, -0.5f, 0.5f);
    fill(d->b, s->OC, r, -1, 1);
    fill(d->R, d->nout, r, -1, 1);
    d->din = to_d(d->in, d->nin);
    d->dw = to_d(d->w, d->nw);
    d->dbias = to_d(d->b, s->OC);
    d->dR = to_d(d->R, d->nout);
    d->ref = xcalloc(d->nout, 8);
    conv_ref(s, d->ref, d->din, d->dw, d->dbias);
}

static void conv_data_free(conv_data *d)
{
    free(d->in), free(d->w), free(d->b), free(d->R);
    free(d->din), free(d->dw), free(d->dbias), free(d->dR), free(d->ref);
}

static double conv_loss(void *p)
{
    conv_ctx *c = p;
    conv_ref(&c->s, c->out, c->in, c->w, c->b);
    return dot_d(c->out, c->R, c->s.B * c->s.OC * c->s.OH * c->s.OW);
}

/* B, C, H, W, OC, K, stride, pad */
static const size_t conv_shapes[][8] = {
    {2, 3, 7, 6, 4, 3, 2, 1}, /* stride 2, pad 1, odd, non-square */
    {1, 1, 5, 5, 1, 1, 1, 0}, /* 1x1 */
    {3, 2, 8, 5, 3, 3, 1, 1}, /* same padding */
    {2, 2, 6, 7, 3, 2, 3, 0}, /* stride > K: skipped pixels */
    {1, 3, 4, 4, 2, 5, 1, 2}, /* kernel larger than the image */
    {2, 1, 5, 3, 2, 3, 2, 2}, /* pad 2 with K 3: border outputs see only pad */
    {1, 2, 1, 9, 2, 3, 2, 1}, /* a single row */
    {2, 3, 6, 6, 4, 5, 1, 0}, /* valid, 2x2 outputs (CIFAR conv3's shape) */
    {2, 2, 4, 7, 3, 3, 1, 0}, /* valid, 2x5: wider than the tiny path */
    {1, 2, 5, 6, 2, 3, 1, 0}, /* valid, 3x4 */
};

START_TEST(test_conv_forward)
{
    db_rng r;
    db_rng_seed(&r, 3, DB_RNG_TEST, 3);
    for (size_t k = 0; k < sizeof conv_shapes / sizeof conv_shapes[0]; k++) {
        const size_t *v = conv_shapes[k];
        conv2d_shape s;
        db_err e;
        ck_assert_msg(conv2d_shape_init(&s, v[0], v[1], v[2], v[3], v[4], v[5],
                                        v[6], v[7], &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(s.OH, (v[2] + 2 * v[7] - v[5]) / v[6] + 1);
        ck_assert_uint_eq(s.OW, (v[3] + 2 * v[7] - v[5]) / v[6] + 1);
        size_t nin = s.B * s.C * s.H * s.W, nw = s.OC * s.C * s.K * s.K,
               nout = s.B * s.OC * s.OH * s.OW;
        float *in = xcalloc(nin, 4), *w = xcalloc(nw, 4), *b = xcalloc(s.OC, 4),
              *out = xcalloc(nout, 4),
              *work = xcalloc(conv2d_work_floats(&s), 4);
        fill(in, nin, &r, -1, 1);
        fill(w, nw, &r, -1, 1);
        fill(b, s.OC, &r, -1, 1);
        conv2d_forward(out, in, w, b, &s, work);
        double *din = to_d(in, nin), *dw = to_d(w, nw), *dbias = to_d(b, s.OC),
               *ref = xcalloc(nout, 8);
        conv_ref(&s, ref, din, dw, dbias);
        check_close("conv out", out, ref, nout, 1e-5);
        free(in), free(w), free(b), free(out), free(work);
        free(din), free(dw), free(dbias), free(ref);
    }
}
END_TEST

START_TEST(test_conv_backward)
{
    db_rng r;
    db_rng_seed(&r, 4, DB_RNG_TEST, 4);
    for (size_t k = 0; k < sizeof conv_shapes / sizeof conv_shapes[0]; k++) {
        const size_t *v = conv_shapes[k];
        conv_ctx c;
        ck_assert(conv2d_shape_init(&c.s, v[0], v[1], v[2], v[3], v[4], v[5],
                                    v[6], v[7], NULL) == 0);
        const conv2d_shape *s = &c.s;
        size_t nin = s->B * s->C * s->H * s->W, nw = s->OC * s->C * s->K * s->K,
               nout = s->B * s->OC * s->OH * s->OW, nwork = conv2d_work_floats(s);
        float *in = xcalloc(nin, 4), *w = xcalloc(nw, 4), *b = xcalloc(s->OC, 4),
              *R = xcalloc(nout, 4), *work = xcalloc(nwork, 4);
        fill(in, nin, &r, -1, 1);
        fill(w, nw, &r, -1, 1);
        fill(b, s->OC, &r, -1, 1);
        fill(R, nout, &r, -1, 1);
        float *gin = xcalloc(nin, 4), *gw = xcalloc(nw, 4), *gb = xcalloc(s->OC, 4);
        conv2d_backward(gin, gw, gb, R, in, w, s, work);

        c.in = to_d(in, nin);
        c.w = to_d(w, nw);
        c.b = to_d(b, s->OC);
        c.R = to_d(R, nout);
        c.out = xcalloc(nout, 8);
        double *nin_g = xcalloc(nin, 8), *nw_g = xcalloc(nw, 8),
               *nb_g = xcalloc(s->OC, 8);
        numgrad(nin_g, c.in, nin, conv_loss, &c);
        numgrad(nw_g, c.w, nw, conv_loss, &c);
        numgrad(nb_g, c.b, s->OC, conv_loss, &c);
        check_grad("conv din", gin, nin_g, nin);
        check_grad("conv dw", gw, nw_g, nw);
        check_grad("conv db", gb, nb_g, s->OC);

        float *gin2 = xcalloc(nin, 4), *gw2 = xcalloc(nw, 4),
              *gb2 = xcalloc(s->OC, 4);
        memcpy(gin2, gin, nin * 4);
        memcpy(gw2, gw, nw * 4);
        memcpy(gb2, gb, s->OC * 4);
        conv2d_backward(gin2, gw2, gb2, R, in, w, s, work);
        check_twice("conv din", gin, gin2, nin);
        check_twice("conv dw", gw, gw2, nw);
        check_twice("conv db", gb, gb2, s->OC);

        /* din == NULL skips only the input gradient. */
        memset(gw2, 0, nw * 4);
        memset(gb2, 0, s->OC * 4);
        conv2d_backward(NULL, gw2, gb2, R, in, w, s, work);
        ck_assert(memcmp(gw2, gw, nw * 4) == 0);
        ck_assert(memcmp(gb2, gb, s->OC * 4) == 0);

        free(in), free(w), free(b), free(R), free(work);
        free(gin), free(gw), free(gb), free(gin2), free(gw2), free(gb2);
        free(c.in), free(c.w), free(c.b), free(c.R), free(c.out);
        free(nin_g), free(nw_g), free(nb_g);
    }
}
END_TEST

/* A layer whose im2col does not fit one chunk: the batch is split (2 + 1
 * examples here), forward and backward must still match the direct loops. */
static void chunked_case(void)
{
    conv2d_shape s;
    ck_assert(conv2d_shape_init(&s, 3, 16, 64, 64, 8, 5, 1, 2, NULL) == 0);
    size_t nin = s.B * s.C * s.H * s.W, nw = s.OC * s.C * s.K * s.K,
           nout = s.B * s.OC * s.OH * s.OW, nwork = conv2d_work_floats(&s);
    size_t full = s.B * s.OH * s.OW * (s.C * s.K * s.K + s.OC);
    ck_assert_msg(nwork < full, "work %zu should be below a full-batch %zu",
                  nwork, full);
    db_rng r;
    db_rng_seed(&r, 5, DB_RNG_TEST, 5);
    float *in = xcalloc(nin, 4), *w = xcalloc(nw, 4), *b = xcalloc(s.OC, 4),
          *out = xcalloc(nout, 4), *work = xcalloc(nwork, 4),
          *R = xcalloc(nout, 4);
    fill(in, nin, &r, -1, 1);
    fill(w, nw, &r, -0.1f, 0.1f);
    fill(b, s.OC, &r, -1, 1);
    fill(R, nout, &r, -1, 1);
    conv2d_forward(out, in, w, b, &s, work);
    double *din = to_d(in, nin), *dw = to_d(w, nw), *dbias = to_d(b, s.OC),
           *ref = xcalloc(nout, 8), *dR = to_d(R, nout);
    conv_ref(&s, ref, din, dw, dbias);
    check_close("chunked conv out", out, ref, nout, 1e-4);

    float *gin = xcalloc(nin, 4), *gw = xcalloc(nw, 4), *gb = xcalloc(s.OC, 4);
    conv2d_backward(gin, gw, gb, R, in, w, &s, work);
    double *rin = xcalloc(nin, 8), *rw = xcalloc(nw, 8), *rb = xcalloc(s.OC, 8);
    conv_ref_backward(&s, rin, rw, rb, dR, din, dw);
    check_close("chunked conv din", gin, rin, nin, 1e-4);
    check_close("chunked conv dw", gw, rw, nw, 1e-4);
    check_close("chunked conv db", gb, rb, s.OC, 1e-4);
    free(in), free(w), free(b), free(out), free(work), free(R);
    free(din), free(dw), free(dbias), free(ref), free(dR);
    free(gin), free(gw), free(gb), free(rin), free(rw), free(rb);
}

START_TEST(test_conv_chunked)
{
    /* On the direct kernels where the CPU has them, then on im2col. */
    chunked_case();
    int was = conv2d_set_direct(0);
    chunked_case();
    conv2d_set_direct(was);
}
END_TEST

/* Layers on the direct kernels (kernels/convdirect.c), with every edge of
 * their tiling: output channels and channels not multiples of 16, pixel
 * and channel counts not multiples of 6, output rows narrower and wider
 * than 16, "same" convolutions (direct input gradient) and others (sgemm +
 * col2im).  The last column is conv2d_is_direct's expected answer on a CPU
 * with AVX2 and FMA. */
static const size_t direct_shapes[][9] = {
    /* B, C, H, W, OC, K, stride, pad, path */
    {2, 16, 10, 10, 20, 5, 1, 2, 2}, /* 6x16 pixel tiles, 100 pixels */
    {2, 6, 13, 12, 17, 5, 1, 0, 1},  /* valid convolution: sgemm input gradient */
    {3, 3, 14, 13, 7, 5, 1, 2, 1},   /* first-layer row tiles, 13-pixel rows */
    {2, 1, 20, 21, 6, 3, 1, 1, 1},   /* row tiles, 21 = 16 + 5 pixels; C = 1 */
    {2, 24, 9, 9, 33, 3, 1, 1, 2},   /* 3 channel panels, 2 input panels */
    {2, 16, 12, 12, 16, 5, 1, 0, 2}, /* valid: input gradient row by row */
    {2, 16, 16, 16, 16, 5, 1, 0, 2}, /* the same, rows of 16 = 6 + 6 + 4 */
    {1, 16, 8, 8, 16, 3, 1, 3, 1},   /* pad > K - 1: sgemm input gradient */
    {2, 4, 9, 9, 8, 5, 1, 2, 0},     /* 4 output rows narrower than 12: im2col */
    {2, 2, 12, 40, 8, 5, 1, 2, 1},   /* row tiles + 2 channels of rows2x32, 32 + 8 */
    {1, 3, 9, 35, 13, 3, 1, 1, 1},   /* + 1 channel of rows2x32, 32 + 3 pixels */
};

/* The direct kernels run (the path chosen, kernels.h db_simd). */
static int cpu_has_avx2_fma(void)
{
    return db_simd_get() >= DB_SIMD_AVX2;
}

/* Forward (plain and ReLU) and backward (adding and set) against the
 * double-precision loops, and against the im2col + sgemm path to rounding;
 * set must write every entry (the buffers start as NaN). */
START_TEST(test_conv_direct)
{
    db_rng r;
    db_rng_seed(&r, 9, DB_RNG_TEST, 9);
    /* the direct kernels themselves; test_conv_winograd takes the 5x5
     * layers' Winograd path */
    int wino_was = conv2d_set_winograd(0);
    for (size_t k = 0; k < sizeof direct_shapes / sizeof direct_shapes[0]; k++) {
        const size_t *v = direct_shapes[k];
        conv2d_shape s;
        ck_assert(conv2d_shape_init(&s, v[0], v[1], v[2], v[3], v[4], v[5],
                                    v[6], v[7], NULL) == 0);
        if (cpu_has_avx2_fma())
            ck_assert_msg(conv2d_is_direct(&s) == (int)v[8],
                          "shape %zu: path %d, expected %zu", k,
                          conv2d_is_direct(&s), v[8]);
        conv_data cd;
        conv_data_init(&cd, &s, &r);
        const size_t nin = cd.nin, nw = cd.nw, nout = cd.nout,
                     nwork = conv2d_work_floats(&s);
        const float *in = cd.in, *w = cd.w, *b = cd.b, *R = cd.R;
        const double *din = cd.din, *dw = cd.dw, *dR = cd.dR, *ref = cd.ref;
        float *out = xcalloc(nout, 4), *out2 = xcalloc(nout, 4), *work = xcalloc(nwork, 4);

        set_all(out, nout, NAN);
        conv2d_forward(out, in, w, b, &s, work);
        check_close("direct conv out", out, ref, nout, 1e-5);
        conv2d_forward_relu(out2, in, w, b, &s, work);
        for (size_t i = 0; i < nout; i++)
            ck_assert_msg(out2[i] == (out[i] < 0.0f ? 0.0f : out[i]),
                          "shape %zu: relu output %zu: %g for %g", k, i,
                          (double)out2[i], (double)out[i]);

        /* Accumulating backward onto 0.25, and the set variant over NaN. */
        float *gin = xcalloc(nin, 4), *gw = xcalloc(nw, 4), *gb = xcalloc(s.OC, 4);
        set_all(gin, nin, 0.25f);
        set_all(gw, nw, 0.25f);
        set_all(gb, s.OC, 0.25f);
        conv2d_backward(gin, gw, gb, R, in, w, &s, work);
        double *rin = xcalloc(nin, 8), *rw = xcalloc(nw, 8), *rb = xcalloc(s.OC, 8);
        conv_ref_backward(&s, rin, rw, rb, dR, din, dw);
        for (size_t i = 0; i < nin; i++)
            gin[i] -= 0.25f;
        for (size_t i = 0; i < nw; i++)
            gw[i] -= 0.25f;
        for (size_t i = 0; i < s.OC; i++)
            gb[i] -= 0.25f;
        check_close("direct conv din", gin, rin, nin, 1e-4);
        check_close("direct conv dw", gw, rw, nw, 1e-4);
        check_close("direct conv db", gb, rb, s.OC, 1e-4);

        float *sin = xcalloc(nin, 4), *sw = xcalloc(nw, 4), *sb = xcalloc(s.OC, 4);
        set_all(sin, nin, NAN);
        set_all(sw, nw, NAN);
        set_all(sb, s.OC, NAN);
        conv2d_backward_set(sin, sw, sb, R, in, w, &s, work);
        check_close("direct conv set din", sin, rin, nin, 1e-4);
        check_close("direct conv set dw", sw, rw, nw, 1e-4);
        check_close("direct conv set db", sb, rb, s.OC, 1e-4);

        /* The im2col + sgemm path agrees to rounding. */
        int was = conv2d_set_direct(0);
        ck_assert_int_eq(conv2d_is_direct(&s), 0);
        float *pin = xcalloc(nin, 4), *pw = xcalloc(nw, 4), *pb = xcalloc(s.OC, 4),
              *pwork = xcalloc(conv2d_work_floats(&s), 4);
        conv2d_forward(out2, in, w, b, &s, pwork);
        conv2d_backward_set(pin, pw, pb, R, in, w, &s, pwork);
        conv2d_set_direct(was);
        double *pout_d = to_d(out2, nout), *pin_d = to_d(pin, nin),
               *pw_d = to_d(pw, nw);
        check_close("direct vs im2col out", out, pout_d, nout, 1e-5);
        check_close("direct vs im2col din", sin, pin_d, nin, 1e-4);
        check_close("direct vs im2col dw", sw, pw_d, nw, 1e-4);

        conv_data_free(&cd);
        free(out), free(out2), free(work);
        free(gin), free(gw), free(gb), free(rin), free(rw), free(rb);
        free(sin), free(sw), free(sb), free(pin), free(pw), free(pb), free(pwork);
        free(pout_d), free(pin_d), free(pw_d);
    }
    conv2d_set_winograd(wino_was);
}
END_TEST

/* Winograd F(2x2, 5x5) layers: output tiles cut by the edge (odd output
 * sizes), channel counts not multiples of 8 or 16, blocks of tiles that
 * span examples (3 x 49 tiles in blocks of 24), every pad from 0 to 4
 * (input gradient padded by 4 to 0), fewer than 8 output channels. */
static const size_t wino_shapes[][6] = {
    /* B, C, H, W, OC, pad */
    {3, 32, 14, 14, 64, 2}, /* mnist-lenet's second conv */
    {2, 32, 16, 16, 32, 0}, /* cifar-cnn's second conv: valid */
    {2, 13, 11, 9, 21, 2},  /* 11x9 output: partial tiles */
    {1, 8, 12, 15, 8, 1},   /* 10x13 output, input gradient padded by 3 */
    {2, 9, 10, 10, 7, 4},   /* 14x14 output, input gradient unpadded */
    {2, 6, 9, 12, 17, 3},   /* 11x14 output; 6 channels: the fewest taken */
};

/* The largest error of a Winograd result against the double reference,
 * relative to the reference's largest magnitude. */
static double rel_err(const float *a, const double *ref, size_t n)
{
    double e = 0.0, mx = maxabs_d(ref, n);
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - ref[i]);
        if (!(d <= e)) /* NaN too */
            e = d;
    }
    return e / mx;
}

/* Forward (plain, ReLU, with filters prepared once) and input gradient
 * (set over NaN, adding, prepared) against the double loops, within
 * WINO_TOL of the largest value: Winograd's transforms lose a few more
 * bits than direct sums (on these shapes 4.1e-6 at most, the direct
 * kernels 1.2e-6; a wrong tap, tile or transform coefficient is off by
 * 1e-2 or more).  The weight gradient (set over NaN, added onto itself)
 * within WINO_TOL_W: its 36 sums run over every tile of the batch before
 * G^T . G, and lose more (1.2e-5 at most on these shapes, the direct
 * kernels 5.7e-7: the test prints both).  Prepared and unprepared calls
 * give the same bits. */
#define WINO_TOL 2e-5
#define WINO_TOL_W 5e-5
START_TEST(test_conv_winograd)
{
    if (!cpu_has_avx2_fma())
        return; /* conv.c runs Winograd only where the direct kernels run */
    db_rng r;
    db_rng_seed(&r, 9, DB_RNG_TEST, 10);
    double worst = 0.0, worstw = 0.0, worstd = 0.0;
    for (size_t k = 0; k < sizeof wino_shapes / sizeof wino_shapes[0]; k++) {
        const size_t *v = wino_shapes[k];
        conv2d_shape s;
        ck_assert(conv2d_shape_init(&s, v[0], v[1], v[2], v[3], v[4], 5, 1, v[5],
                                    NULL) == 0);
        ck_assert_msg(conv2d_is_winograd(&s) && conv2d_is_direct(&s) == 2,
                      "shape %zu: not on the Winograd path", k);
        const size_t np = conv2d_prep_floats(&s);
        ck_assert(np > 0);
        conv_data cd;
        conv_data_init(&cd, &s, &r);
        const size_t nin = cd.nin, nw = cd.nw, nout = cd.nout;
        const float *in = cd.in, *w = cd.w, *b = cd.b, *R = cd.R;
        const double *din = cd.din, *dw = cd.dw, *dR = cd.dR, *ref = cd.ref;
        float *out = xcalloc(nout, 4), *out2 = xcalloc(nout, 4),
              *work = xcalloc(conv2d_work_floats(&s), 4), *prep = xcalloc(np, 4);

        set_all(out, nout, NAN);
        conv2d_forward(out, in, w, b, &s, work);
        double e = rel_err(out, ref, nout);
        ck_assert_msg(e < WINO_TOL, "shape %zu: forward error %g", k, e);
        worst = e > worst ? e : worst;
        conv2d_forward_relu(out2, in, w, b, &s, work);
        for (size_t i = 0; i < nout; i++)
            ck_assert_msg(out2[i] == (out[i] < 0.0f ? 0.0f : out[i]),
                          "shape %zu: relu output %zu: %g for %g", k, i,
                          (double)out2[i], (double)out[i]);
        conv2d_prep_forward(prep, w, &s);
        set_all(out, nout, NAN);
        conv2d_forward_relu_prep(out, in, w, prep, b, &s, work);
        ck_assert_msg(memcmp(out, out2, nout * 4) == 0, "shape %zu: prepared forward", k);

        /* The set backward over NaN. */
        float *sin = xcalloc(nin, 4), *sw = xcalloc(nw, 4), *sb = xcalloc(s.OC, 4),
              *gin = xcalloc(nin, 4);
        double *rin = xcalloc(nin, 8), *rw = xcalloc(nw, 8), *rb = xcalloc(s.OC, 8);
        set_all(sin, nin, NAN);
        set_all(sw, nw, NAN);
        conv2d_backward_set(sin, sw, sb, R, in, w, &s, work);
        conv_ref_backward(&s, rin, rw, rb, dR, din, dw);
        e = rel_err(sin, rin, nin);
        ck_assert_msg(e < WINO_TOL, "shape %zu: input gradient error %g", k, e);
        worst = e > worst ? e : worst;
        double ew = rel_err(sw, rw, nw);
        ck_assert_msg(ew < WINO_TOL_W, "shape %zu: weight gradient error %g", k, ew);
        worstw = ew > worstw ? ew : worstw;
        {   /* the direct kernels' weight gradient, for the comparison printed */
            int was = conv2d_set_winograd(0);
            float *dw0 = xcalloc(nw, 4), *db0 = xcalloc(s.OC, 4),
                  *w0 = xcalloc(conv2d_work_floats(&s), 4);
            conv2d_backward_set(NULL, dw0, db0, R, in, w, &s, w0);
            const double ed = rel_err(dw0, rw, nw);
            worstd = ed > worstd ? ed : worstd;
            conv2d_set_winograd(was);
            free(dw0), free(db0), free(w0);
        }
        check_close("winograd layer db", sb, rb, s.OC, 1e-4);
        /* Adding onto 0.25, and the weight gradient onto itself: the
         * same sums added (a + a, exact). */
        float *sw0 = xmalloc(nw * 4);
        memcpy(sw0, sw, nw * 4);
        set_all(gin, nin, 0.25f);
        conv2d_backward(gin, sw, sb, R, in, w, &s, work);
        for (size_t i = 0; i < nw; i++)
            ck_assert_msg(sw[i] == 2.0f * sw0[i], "shape %zu: adding weight gradient %zu: %g, set %g",
                          k, i, (double)sw[i], (double)sw0[i]);
        free(sw0);
        for (size_t i = 0; i < nin; i++)
            ck_assert_msg(fabsf(gin[i] - 0.25f - sin[i]) <= 1e-6f * (1.0f + fabsf(sin[i])),
                          "shape %zu: adding input gradient %zu: %g, set %g", k, i,
                          (double)gin[i], (double)sin[i]);
        conv2d_prep_input(prep, w, &s);
        set_all(gin, nin, NAN);
        conv2d_backward_input_set_prep(gin, R, in, w, prep, &s, work);
        ck_assert_msg(memcmp(gin, sin, nin * 4) == 0, "shape %zu: prepared input gradient",
                      k);
        conv_data_free(&cd);
        free(out), free(out2), free(work), free(prep);
        free(sin), free(sw), free(sb), free(gin), free(rin), free(rw), free(rb);
    }
    fprintf(stderr,
            "winograd: largest error %.3g of the largest value (forward, input gradient), "
            "%.3g (weight gradient; the direct kernels' %.3g)\n",
            worst, worstw, worstd);
}
END_TEST

START_TEST(test_conv_shape_init)
{
    conv2d_shape s;
    db_err e;
    e.msg[0] = 0;
    ck_assert_int_eq(conv2d_shape_init(&s, 0, 1, 4, 4, 1, 3, 1, 0, &e), -1);
    ck_assert_msg(strstr(e.msg, "conv2d") != NULL, "%s", e.msg);
    ck_assert_int_eq(conv2d_shape_init(&s, 1, 1, 4, 4, 1, 3, 0, 0, &e), -1);
    ck_assert_int_eq(conv2d_shape_init(&s, 1, 1, 4, 4, 0, 3, 1, 0, &e), -1);
    ck_assert_int_eq(conv2d_shape_init(&s, 1, 1, 4, 4, 1, 0, 1, 0, &e), -1);
    /* kernel does not fit: 5 > 4 + 0, 5 > 2 + 2*1 */
    ck_assert_int_eq(conv2d_shape_init(&s, 1, 1, 4, 4, 1, 5, 1, 0, &e), -1);
    ck_assert_msg(strstr(e.msg, "fit") != NULL, "%s", e.msg);
    ck_assert_int_eq(conv2d_shape_init(&s, 1, 1, 4, 2, 1, 5, 1, 1, &e), -1);
    ck_assert_int_eq(conv2d_shape_init(&s, 1, 1, 4, 2, 1, 5, 1, 2, NULL), 0);
    /* size_t overflow in B*C*H*W and in the weights */
    ck_assert_int_eq(conv2d_shape_init(&s, SIZE_MAX / 2, 4, 8, 8, 1, 3, 1, 0, &e), -1);
    ck_assert_msg(strstr(e.msg, "overflow") != NULL, "%s", e.msg);
    ck_assert_int_eq(conv2d_shape_init(&s, 1, (size_t)1 << 40, 8, 8, (size_t)1 << 40, 3, 1, 0, &e), -1);
    ck_assert_int_eq(conv2d_shape_init(&s, 1, 1, SIZE_MAX / 2, 8, 1, 3, 1, 0, &e), -1);
    ck_assert_int_eq(conv2d_shape_init(&s, 1, 1, 8, 8, 1, 3, 1, SIZE_MAX / 2, &e), -1);
    /* valid, with the documented output size */
    ck_assert_int_eq(conv2d_shape_init(&s, 2, 3, 32, 32, 64, 5, 1, 2, &e), 0);
    ck_assert_uint_eq(s.OH, 32);
    ck_assert_uint_eq(s.OW, 32);
    ck_assert_int_eq(conv2d_shape_init(&s, 2, 3, 7, 6, 4, 3, 2, 1, &e), 0);
    ck_assert_uint_eq(s.OH, 4);
    ck_assert_uint_eq(s.OW, 3);
    ck_assert_uint_gt(conv2d_work_floats(&s), 0);
}
END_TEST

/* ---- max-pool ------------------------------------------------------------- */

/* Naive pool: scan the window in padded coordinates, skip padding, keep the
 * first maximum. */
static void pool_ref(const pool_shape *s, double *out, uint32_t *arg,
                     const double *in)
{
    for (size_t p = 0; p < s->B * s->C; p++)
        for (size_t oh = 0; oh < s->OH; oh++)
            for (size_t ow = 0; ow < s->OW; ow++) {
                double best = -INFINITY;
                long bi = -1;
                for (size_t kh = 0; kh < s->K; kh++)
                    for (size_t kw = 0; kw < s->K; kw++) {
                        long ih = (long)(oh * s->stride + kh) - (long)s->pad;
                        long iw = (long)(ow * s->stride + kw) - (long)s->pad;
                        if (ih < 0 || iw < 0 || ih >= (long)s->H || iw >= (long)s->W)
                            continue;
                        double v = in[p * s->H * s->W + (size_t)ih * s->W + (size_t)iw];
                        if (bi < 0 || v > best) {
                            best = v;
                            bi = ih * (long)s->W + iw;
                        }
                    }
                ck_assert(bi >= 0);
                out[(p * s->OH + oh) * s->OW + ow] = best;
                if (arg)
                    arg[(p * s->OH + oh) * s->OW + ow] = (uint32_t)bi;
            }
}

typedef struct {
    pool_shape s;
    double *in, *R, *out;
} pool_ctx;

static double pool_loss(void *p)
{
    pool_ctx *c = p;
    pool_ref(&c->s, c->out, NULL, c->in);
    return dot_d(c->out, c->R, c->s.B * c->s.C * c->s.OH * c->s.OW);
}

/* B, C, H, W, K, stride, pad */
static const size_t pool_shapes[][7] = {
    {2, 3, 7, 9, 3, 2, 1}, /* overlapping 3x3/2, pad 1, odd non-square */
    {1, 2, 8, 8, 2, 2, 0}, /* plain 2x2/2 */
    {2, 1, 6, 5, 3, 1, 1}, /* 3x3/1 "same" */
    {1, 2, 5, 5, 3, 2, 0}, /* overlapping without pad */
    {1, 1, 2, 3, 3, 2, 1}, /* window larger than the image */
    {1, 1, 9, 4, 2, 3, 1}, /* stride > K */
};

/* Distinct values, far apart (0.01) compared with the finite-difference
 * step, so no window has a near-tie that eps could flip. */
static void fill_distinct(float *x, size_t n, db_rng *r)
{
    uint32_t *perm = xcalloc(n, sizeof *perm);
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    db_rng_shuffle(r, perm, n);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)perm[i] * 0.01f - (float)n * 0.005f;
    free(perm);
}

START_TEST(test_pool_forward)
{
    db_rng r;
    db_rng_seed(&r, 6, DB_RNG_TEST, 6);
    for (size_t k = 0; k < sizeof pool_shapes / sizeof pool_shapes[0]; k++) {
        const size_t *v = pool_shapes[k];
        pool_shape s;
        db_err e;
        ck_assert_msg(pool_shape_init(&s, v[0], v[1], v[2], v[3], v[4], v[5],
                                      v[6], &e) == 0, "%s", e.msg);
        size_t nin = s.B * s.C * s.H * s.W, nout = s.B * s.C * s.OH * s.OW;
        float *in = xcalloc(nin, 4), *out = xcalloc(nout, 4);
        uint32_t *arg = xcalloc(nout, 4), *rarg = xcalloc(nout, 4);
        /* Negative inputs: a padded zero must never beat them. Coarse values
         * so ties happen and the first maximum must win. */
        for (size_t i = 0; i < nin; i++)
            in[i] = -1.0f - (float)db_rng_below(&r, 4);
        double *din = to_d(in, nin), *ref = xcalloc(nout, 8);
        maxpool_forward(out, arg, in, &s);
        pool_ref(&s, ref, rarg, din);
        for (size_t i = 0; i < nout; i++) {
            ck_assert_msg(out[i] == (float)ref[i], "pool out[%zu] %g vs %g", i,
                          out[i], ref[i]);
            ck_assert_msg(out[i] < 0.0f, "padding won at %zu", i);
            ck_assert_uint_eq(arg[i], rarg[i]);
        }
        free(in), free(out), free(arg), free(rarg), free(din), free(ref);
    }
}
END_TEST

START_TEST(test_pool_backward)
{
    db_rng r;
    db_rng_seed(&r, 7, DB_RNG_TEST, 7);
    for (size_t k = 0; k < sizeof pool_shapes / sizeof pool_shapes[0]; k++) {
        const size_t *v = pool_shapes[k];
        pool_ctx c;
        ck_assert(pool_shape_init(&c.s, v[0], v[1], v[2], v[3], v[4], v[5],
                                  v[6], NULL) == 0);
        const pool_shape *s = &c.s;
        size_t nin = s->B * s->C * s->H * s->W, nout = s->B * s->C * s->OH * s->OW;
        float *in = xcalloc(nin, 4), *out = xcalloc(nout, 4),
              *R = xcalloc(nout, 4), *g = xcalloc(nin, 4), *g2 = xcalloc(nin, 4);
        uint32_t *arg = xcalloc(nout, 4);
        fill_distinct(in, nin, &r);
        fill(R, nout, &r, -1, 1);
        maxpool_forward(out, arg, in, s);
        maxpool_backward(g, R, arg, s);
        c.in = to_d(in, nin);
        c.R = to_d(R, nout);
        c.out = xcalloc(nout, 8);
        double *ng = xcalloc(nin, 8);
        numgrad(ng, c.in, nin, pool_loss, &c);
        check_grad("maxpool din", g, ng, nin);
        memcpy(g2, g, nin * 4);
        maxpool_backward(g2, R, arg, s);
        check_twice("maxpool din", g, g2, nin);
        free(in), free(out), free(R), free(g), free(g2), free(arg);
        free(c.in), free(c.R), free(c.out), free(ng);
    }
}
END_TEST

/* One input that wins four overlapping 3x3/2 windows gets all four grads. */
START_TEST(test_pool_overlap)
{
    pool_shape s;
    ck_assert(pool_shape_init(&s, 1, 1, 5, 5, 3, 2, 0, NULL) == 0);
    ck_assert_uint_eq(s.OH, 2);
    float in[25], out[4], dout[4] = {1, 10, 100, 1000}, din[25] = {0};
    uint32_t arg[4];
    for (size_t i = 0; i < 25; i++)
        in[i] = (float)i * 0.01f;
    in[2 * 5 + 2] = 5.0f; /* the centre belongs to all four windows */
    maxpool_forward(out, arg, in, &s);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_uint_eq(arg[i], 12);
        ck_assert(out[i] == 5.0f);
    }
    maxpool_backward(din, dout, arg, &s);
    for (size_t i = 0; i < 25; i++)
        ck_assert(din[i] == (i == 12 ? 1111.0f : 0.0f));
}
END_TEST

START_TEST(test_pool_shape_init)
{
    pool_shape s;
    db_err e;
    ck_assert_int_eq(pool_shape_init(&s, 1, 1, 4, 4, 3, 2, 3, &e), -1);
    ck_assert_msg(strstr(e.msg, "padding") != NULL, "%s", e.msg);
    ck_assert_int_eq(pool_shape_init(&s, 1, 1, 4, 4, 0, 2, 0, &e), -1);
    ck_assert_int_eq(pool_shape_init(&s, 1, 1, 4, 4, 2, 0, 0, &e), -1);
    ck_assert_int_eq(pool_shape_init(&s, 0, 1, 4, 4, 2, 2, 0, &e), -1);
    ck_assert_int_eq(pool_shape_init(&s, 1, 1, 2, 4, 4, 2, 0, &e), -1);
    ck_assert_msg(strstr(e.msg, "fit") != NULL, "%s", e.msg);
    ck_assert_int_eq(pool_shape_init(&s, SIZE_MAX / 4, 8, 4, 4, 2, 2, 0, &e), -1);
    ck_assert_msg(strstr(e.msg, "overflow") != NULL, "%s", e.msg);
    /* plane too large for a uint32 argmax */
    ck_assert_int_eq(pool_shape_init(&s, 1, 1, (size_t)1 << 17, (size_t)1 << 17, 2, 2, 0, &e), -1);
    /* AlexNet-style 3x3/2 on 32x32 with pad 1: floor((32+2-3)/2)+1 = 16 */
    ck_assert_int_eq(pool_shape_init(&s, 2, 3, 32, 32, 3, 2, 1, &e), 0);
    ck_assert_uint_eq(s.OH, 16);
    ck_assert_uint_eq(s.OW, 16);
}
END_TEST

/* ---- ReLU ----------------------------------------------------------------- */

START_TEST(test_relu)
{
    const size_t n = 40;
    db_rng r;
    db_rng_seed(&r, 8, DB_RNG_TEST, 8);
    float in[40], out[40], R[40], g[40] = {0}, g2[40];
    for (size_t i = 0; i < n; i++) {
        /* keep away from the kink so central differences are exact */
        float m = 0.05f + db_rng_uniform(&r);
        in[i] = (i % 3 == 0) ? -m : m;
    }
    fill(R, n, &r, -1, 1);
    relu_forward(out, in, n);
    double ng[40], din[40], Rd[40];
    for (size_t i = 0; i < n; i++) {
        ck_assert(out[i] == (in[i] > 0 ? in[i] : 0.0f));
        din[i] = in[i];
        Rd[i] = R[i];
    }
    /* L = sum(relu(in) * R), differentiated numerically in double */
    for (size_t i = 0; i < n; i++) {
        const double eps = 1e-5;
        double p = din[i] + eps, m = din[i] - eps;
        ng[i] = ((p > 0 ? p : 0) - (m > 0 ? m : 0)) * Rd[i] / (2 * eps);
    }
    relu_backward(g, R, out, n);
    check_grad("relu din", g, ng, n);
    memcpy(g2, g, sizeof g);
    relu_backward(g2, R, out, n);
    check_twice("relu din", g, g2, n);
    /* NaN passes through rather than being hidden as 0 */
    float nan_in = NAN, nan_out = 0.0f;
    relu_forward(&nan_out, &nan_in, 1);
    ck_assert(isnan(nan_out));
}
END_TEST

/* ---- logistic sigmoid ------------------------------------------------------ */

/* Forward against 1/(1+exp(-x)) in double (the vector exp is about 1 ulp),
 * the same bits for an element at any position (vector lanes and the
 * scalar tail), and the gradient of L = sum(sigmoid(in) * R) against
 * central differences in double. */
START_TEST(test_sigmoid)
{
    const size_t n = 43; /* a scalar tail of 3 */
    db_rng r;
    db_rng_seed(&r, 9, DB_RNG_TEST, 9);
    float in[43], out[43], R[43], g[43] = {0}, g2[43], d[43];
    fill(in, n, &r, -6, 6);
    in[0] = 0.0f, in[1] = -30.0f, in[2] = 30.0f, in[3] = -90.0f;
    fill(R, n, &r, -1, 1);
    sigmoid_forward(out, in, n);
    double ng[43];
    for (size_t i = 0; i < n; i++) {
        double want = 1.0 / (1.0 + exp(-(double)in[i]));
        ck_assert_msg(fabs(out[i] - want) <= 4e-7 * want + 1e-30, "sigmoid(%g) = %.9g, want %.9g",
                      (double)in[i], (double)out[i], want);
        float one;
        sigmoid_forward(&one, &in[i], 1); /* alone: the scalar tail */
        ck_assert_msg(one == out[i], "element %zu differs alone", i);
        const double eps = 1e-4, x = in[i];
        ng[i] = (1.0 / (1.0 + exp(-(x + eps))) - 1.0 / (1.0 + exp(-(x - eps)))) * R[i] /
                (2 * eps);
    }
    ck_assert(out[0] == 0.5f);
    sigmoid_backward(g, R, out, n);
    check_grad("sigmoid din", g, ng, n);
    memcpy(g2, g, sizeof g);
    sigmoid_backward(g2, R, out, n);
    check_twice("sigmoid din", g, g2, n);
    memcpy(d, R, sizeof d);
    sigmoid_backward_inplace(d, out, n);
    for (size_t i = 0; i < n; i++) /* the same values as into zeros (+0 vs -0 aside) */
        ck_assert_msg(d[i] == g[i], "in place %zu: %g vs %g", i, (double)d[i], (double)g[i]);
    sigmoid_backward(NULL, R, out, n);            /* no input gradient: no-op */
}
END_TEST

/* ---- softmax cross-entropy ----------------------------------------------- */

typedef struct {
    size_t B, K;
    double *x;
    const uint8_t *y;
} xent_ctx;

static double xent_ref(void *p)
{
    xent_ctx *c = p;
    double loss = 0.0;
    for (size_t n = 0; n < c->B; n++) {
        const double *x = c->x + n * c->K;
        double mx = x[0], s = 0.0;
        for (size_t k = 1; k < c->K; k++)
            mx = fmax(mx, x[k]);
        for (size_t k = 0; k < c->K; k++)
            s += exp(x[k] - mx);
        loss += mx + log(s) - x[c->y[n]];
    }
    return loss / (double)c->B;
}

START_TEST(test_softmax_xent)
{
    enum { B = 5, K = 7 };
    db_rng r;
    db_rng_seed(&r, 9, DB_RNG_TEST, 9);
    float x[B * K], p[B * K], g[B * K] = {0}, g2[B * K];
    uint8_t y[B] = {0, 6, 3, 3, 1};
    fill(x, B * K, &r, -3, 3);
    size_t correct = 99;
    double loss = softmax_xent_forward(p, &correct, x, y, B, K);
    xent_ctx c = {B, K, to_d(x, B * K), y};
    ck_assert_msg(fabs(loss - xent_ref(&c)) < 1e-5, "loss %g vs %g", loss,
                  xent_ref(&c));
    size_t want = 0;
    for (size_t n = 0; n < B; n++) {
        double s = 0.0;
        size_t arg = 0;
        for (size_t k = 0; k < K; k++) {
            s += p[n * K + k];
            ck_assert(p[n * K + k] > 0.0f);
            if (x[n * K + k] > x[n * K + arg])
                arg = k;
        }
        ck_assert(fabs(s - 1.0) < 1e-5);
        want += arg == y[n];
    }
    ck_assert_uint_eq(correct, want);

    softmax_xent_backward(g, p, y, B, K);
    double ng[B * K];
    numgrad(ng, c.x, B * K, xent_ref, &c);
    check_grad("xent dlogits", g, ng, B * K);
    memcpy(g2, g, sizeof g);
    softmax_xent_backward(g2, p, y, B, K);
    check_twice("xent dlogits", g, g2, B * K);
    free(c.x);
}
END_TEST

START_TEST(test_softmax_xent_stable)
{
    /* Logits that overflow a naive exp, a confidently wrong example whose
     * probability underflows, and ties (first maximum counts). */
    float x[3 * 3] = {1e4f, 0.0f, -1e4f,   /* label 2: p underflows to 0 */
                      88.0f, 89.0f, 90.0f, /* label 2, correct */
                      5.0f, 5.0f, 1.0f};   /* tie: argmax 0; label 1 wrong */
    uint8_t y[3] = {2, 2, 1};
    float p[9];
    size_t correct = 0;
    double loss = softmax_xent_forward(p, &correct, x, y, 3, 3);
    ck_assert(isfinite(loss));
    for (size_t i = 0; i < 9; i++)
        ck_assert(isfinite(p[i]));
    double l0 = 2e4, l1 = log(exp(-2.0) + exp(-1.0) + 1.0),
           l2 = log(2.0 + exp(-4.0));
    ck_assert_msg(fabs(loss - (l0 + l1 + l2) / 3.0) < 1e-3 * (l0 / 3.0),
                  "loss %g", loss);
    ck_assert_uint_eq(correct, 1);
}
END_TEST

/* ---- embedding ------------------------------------------------------------ */

START_TEST(test_embedding)
{
    enum { B = 3, T = 4, D = 5, V = 6 };
    db_rng r;
    db_rng_seed(&r, 10, DB_RNG_TEST, 10);
    float table[V * D], out[B * T * D], R[B * T * D], g[V * D] = {0}, g2[V * D];
    /* token 2 repeats (gradient must sum), token 5 only appears past a
     * length (gradient must stay 0) */
    uint8_t tok[B * T] = {2, 0, 2, 5,   1, 5, 5, 5,   3, 4, 2, 2};
    uint32_t len[B] = {3, 1, 4};
    fill(table, V * D, &r, -1, 1);
    fill(R, B * T * D, &r, -1, 1);
    for (size_t i = 0; i < B * T * D; i++)
        out[i] = 123.0f; /* forward must overwrite the padding with zeros */
    embedding_forward(out, tok, len, table, B, T, D);
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++)
            for (size_t j = 0; j < D; j++) {
                float want = t < len[b] ? table[tok[b * T + t] * D + j] : 0.0f;
                ck_assert(out[(b * T + t) * D + j] == want);
            }
    embedding_backward(g, R, tok, len, B, T, D);
    /* L = sum(out * R) is linear in the table: numeric grad in double */
    double ng[V * D];
    for (size_t v = 0; v < V; v++)
        for (size_t j = 0; j < D; j++) {
            double acc = 0.0;
            for (size_t b = 0; b < B; b++)
                for (size_t t = 0; t < len[b]; t++)
                    if (tok[b * T + t] == v)
                        acc += R[(b * T + t) * D + j];
            ng[v * D + j] = acc;
        }
    check_grad("embedding dtable", g, ng, V * D);
    for (size_t j = 0; j < D; j++)
        ck_assert(g[5 * D + j] == 0.0f);
    memcpy(g2, g, sizeof g);
    embedding_backward(g2, R, tok, len, B, T, D);
    check_twice("embedding dtable", g, g2, V * D);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sigmoid);
    tcase_add_test(tc, test_dense_forward);
    tcase_add_test(tc, test_dense_backward);
    tcase_add_test(tc, test_conv_forward);
    tcase_add_test(tc, test_conv_backward);
    tcase_add_test(tc, test_conv_winograd);
    tcase_add_test(tc, test_conv_chunked);
    tcase_add_test(tc, test_conv_direct);
    tcase_add_test(tc, test_conv_shape_init);
    tcase_add_test(tc, test_pool_forward);
    tcase_add_test(tc, test_pool_backward);
    tcase_add_test(tc, test_pool_overlap);
    tcase_add_test(tc, test_pool_shape_init);
    tcase_add_test(tc, test_relu);
    tcase_add_test(tc, test_softmax_xent);
    tcase_add_test(tc, test_softmax_xent_stable);
    tcase_add_test(tc, test_embedding);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
