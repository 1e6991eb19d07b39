/* test_simd.c - the kernels' instruction-set paths (kernels.h db_simd):
 * the AVX-512 kernels give the same bits as the AVX2 ones, on shapes that
 * reach every edge of their tiles and vector tails (direct conv forward,
 * forward + ReLU, weight and input gradients, Winograd, weight gradients
 * from a pool's, GRU forward and backward, dropout's passes); the GRU
 * and dropout also match the portable 4-wide code (the scalar path), the
 * weight gradients from a pool's the portable sums to rounding.
 * On a CPU without AVX-512 (or AVX2) the paths it cannot run are checked
 * to be refused, and the comparisons it can make are made. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "test_numeric.h"
#include "kernels.h"
#include "rng.h"

/* The paths this CPU runs, widest first. */
static int paths(db_simd *p)
{
    int n = 0;
    for (int v = DB_SIMD_AVX512; v >= DB_SIMD_SCALAR; v--)
        if ((db_simd)v <= db_simd_best())
            p[n++] = (db_simd)v;
    return n;
}

/* Bitwise equality of two float arrays, naming the first difference. */
static void same_bits(const char *what, db_simd a, db_simd b, const float *x,
                      const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u, v;
        memcpy(&u, x + i, 4);
        memcpy(&v, y + i, 4);
        ck_assert_msg(u == v, "%s: %s and %s differ at %zu: %.9g (0x%08x) vs %.9g (0x%08x)",
                      what, db_simd_name(a), db_simd_name(b), i, x[i], u, y[i], v);
    }
}

START_TEST(test_simd_paths)
{
    db_simd keep = db_simd_get();
    ck_assert_int_eq(db_simd_set(DB_SIMD_SCALAR), 0); /* every CPU runs it */
    ck_assert_int_eq(db_simd_get(), DB_SIMD_SCALAR);
    ck_assert_str_eq(conv2d_kernels(), "im2col-sgemm");
    for (int v = DB_SIMD_SCALAR; v <= DB_SIMD_AVX512; v++) {
        int ok = db_simd_set((db_simd)v) == 0;
        ck_assert_int_eq(ok, (db_simd)v <= db_simd_best());
        db_simd back;
        ck_assert_int_eq(db_simd_parse(db_simd_name((db_simd)v), &back), 0);
        ck_assert_int_eq(back, v);
    }
    db_simd x;
    ck_assert_int_eq(db_simd_parse("avx3", &x), -1);
    ck_assert_int_eq(db_simd_parse("", &x), -1);
    ck_assert_int_eq(db_simd_set((db_simd)7), -1);
    ck_assert_int_eq(db_simd_set(keep), 0);
    printf("this CPU: widest path %s\n", db_simd_name(db_simd_best()));
}
END_TEST

/* ---- convolutions ---------------------------------------------------- */

static const size_t conv_shapes[][8] = {
    /* B, C, H, W, OC, K, stride, pad: test_kernels' direct shapes, and
     * Winograd's (5x5, C >= 6) */
    { 2, 16, 10, 10, 20, 5, 1, 2 }, { 2, 6, 13, 12, 17, 5, 1, 0 },
    { 3, 3, 14, 13, 7, 5, 1, 2 },   { 2, 1, 20, 21, 6, 3, 1, 1 },
    { 2, 24, 9, 9, 33, 3, 1, 1 },   { 2, 16, 12, 12, 16, 5, 1, 0 },
    { 2, 16, 16, 16, 16, 5, 1, 0 }, { 1, 16, 8, 8, 16, 3, 1, 3 },
    { 2, 2, 12, 40, 8, 5, 1, 2 },   { 1, 3, 9, 35, 13, 3, 1, 1 },
    { 2, 6, 14, 14, 16, 5, 1, 0 },  { 3, 32, 8, 8, 64, 5, 1, 2 },
    { 2, 7, 11, 9, 5, 5, 1, 1 },    { 2, 1, 28, 28, 6, 5, 1, 2 },
    { 2, 40, 8, 8, 36, 5, 1, 2 }, /* three panels each way: a pair and one */
};

/* Every pass of one shape on the current path, outputs concatenated. */
static float *conv_all(const conv2d_shape *s, size_t *n_out, int wino)
{
    db_rng r;
    db_rng_seed(&r, 20, DB_RNG_TEST, 1);
    const size_t nin = s->B * s->C * s->H * s->W, nw = s->OC * s->C * s->K * s->K,
                 nout = s->B * s->OC * s->OH * s->OW;
    size_t nwork = conv2d_work_floats(s);
    if (conv2d_pooled_suits(s) && conv2d_pooled_work_floats(s) > nwork)
        nwork = conv2d_pooled_work_floats(s);
    float *in = xmalloc(nin * 4), *w = xmalloc(nw * 4), *b = xmalloc(s->OC * 4),
          *R = xmalloc(nout * 4), *work = xmalloc(nwork * 4);
    fill_pm1(in, nin, &r);
    fill_pm1(w, nw, &r);
    fill_pm1(b, s->OC, &r);
    fill_pm1(R, nout, &r);
    const size_t total = 3 * nout + 2 * (nin + nw + s->OC) + nw + s->OC;
    float *o = xmalloc(total * 4), *p = o;
    int was = conv2d_set_winograd(wino);
    conv2d_forward(p, in, w, b, s, work);
    p += nout;
    conv2d_forward_relu(p, in, w, b, s, work);
    p += nout;
    conv2d_backward_set(p, p + nin, p + nin + nw, R, in, w, s, work);
    memcpy(p + nin + nw + s->OC, p, (nin + nw + s->OC) * 4);
    p += nin + nw + s->OC;
    conv2d_backward(p, p + nin, p + nin + nw, R, in, w, s, work); /* adds */
    p += nin + nw + s->OC;
    /* weight gradients from a 2x2/2 max-pool's */
    pool_shape ps;
    if (conv2d_pooled_suits(s) && s->OH >= 2 && s->OW >= 2 &&
        pool_shape_init(&ps, s->B, s->OC, s->OH, s->OW, 2, 2, 0, NULL) == 0) {
        const size_t npo = s->B * s->OC * ps.OH * ps.OW;
        float *relu = xmalloc(nout * 4), *po = xmalloc(npo * 4), *g = xmalloc(npo * 4);
        uint32_t *am = xmalloc(npo * 4);
        conv2d_forward_relu(relu, in, w, b, s, work);
        maxpool_forward(po, am, relu, &ps);
        fill_pm1(g, npo, &r);
        conv2d_pooled_weights(p, p + nw, g, am, po, ps.OH * ps.OW, in, s, work, 1);
        free(relu), free(po), free(g), free(am);
    } else {
        memset(p, 0, (nw + s->OC) * 4);
    }
    p += nw + s->OC;
    /* the forward once more, over the first output: no state carried */
    conv2d_forward(p, in, w, b, s, work);
    p += nout;
    ck_assert_uint_eq((size_t)(p - o), total);
    conv2d_set_winograd(was);
    free(in), free(w), free(b), free(R), free(work);
    *n_out = total;
    return o;
}

START_TEST(test_simd_conv)
{
    db_simd p[3];
    int np = paths(p);
    db_simd keep = db_simd_get();
    if (p[0] < DB_SIMD_AVX2) {
        printf("no AVX2: the direct kernels do not run here\n");
        return;
    }
    /* the Winograd shapes do run Winograd (the first, the 32- and
     * 40-channel ones) */
    {
        ck_assert_int_eq(db_simd_set(p[0]), 0);
        int was = conv2d_set_winograd(1);
        static const size_t wk[] = { 0, 11, 14 };
        for (size_t i = 0; i < 3; i++) {
            const size_t *v = conv_shapes[wk[i]];
            conv2d_shape s;
            ck_assert(conv2d_shape_init(&s, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7],
                                        NULL) == 0);
            ck_assert_msg(conv2d_is_winograd(&s), "shape %zu is not on Winograd", wk[i]);
        }
        conv2d_set_winograd(was);
    }
    for (size_t k = 0; k < sizeof conv_shapes / sizeof conv_shapes[0]; k++)
        for (int wino = 0; wino < 2; wino++) {
            const size_t *v = conv_shapes[k];
            conv2d_shape s;
            ck_assert(conv2d_shape_init(&s, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7],
                                        NULL) == 0);
            float *ref = NULL;
            size_t n = 0;
            int compared = 0;
            for (int i = 0; i < np; i++) {
                if (p[i] < DB_SIMD_AVX2)
                    continue; /* im2col + sgemm: other rounding */
                ck_assert_int_eq(db_simd_set(p[i]), 0);
                size_t m;
                float *o = conv_all(&s, &m, wino);
                if (!ref) {
                    ref = o;
                    n = m;
                    continue;
                }
                ck_assert_uint_eq(m, n);
                char what[96];
                snprintf(what, sizeof what, "conv shape %zu%s", k, wino ? " winograd" : "");
                same_bits(what, p[0], p[i], ref, o, n);
                compared++;
                free(o);
            }
            free(ref);
            if (db_simd_best() == DB_SIMD_AVX512)
                ck_assert_int_eq(compared, 1);
        }
    ck_assert_int_eq(db_simd_set(keep), 0);
}
END_TEST

/* ---- weight gradients from a pool's ----------------------------------- */

/* B, C, H, W, OC, K, pad; pool K, stride.  The rows (C*K) go through the
 * sums in blocks of up to 15 (AVX2) or 30 (AVX-512): blocks of each size
 * and remainders, the 5x5 kernels' channel-pointer forms (C = 1, 3, six
 * channels at a time) and the table of row offsets (K = 3, remainders). */
static const size_t pooled_simd_shapes[][9] = {
    { 2, 1, 28, 28, 6, 5, 2, 2, 2 },  /* LeNet's first: 5 rows */
    { 2, 3, 17, 15, 8, 5, 2, 3, 2 },  /* CIFAR's first, odd sizes, overlapping pool */
    { 2, 32, 11, 13, 5, 5, 0, 2, 2 }, /* 160 rows: 5 x 30 + 10 (15-row blocks on AVX2) */
    { 1, 64, 9, 9, 3, 5, 2, 3, 2 },   /* 320 rows: 10 x 30 + 20 */
    { 2, 6, 13, 11, 7, 5, 2, 2, 2 },  /* LeNet's second: 30 rows */
    { 2, 3, 13, 11, 4, 3, 0, 2, 2 },  /* 9 rows */
    { 2, 32, 9, 11, 4, 3, 2, 2, 2 },  /* 96 rows: 3 x 30 + 6 */
    { 1, 64, 8, 7, 3, 3, 0, 2, 2 },   /* 192 rows: 6 x 30 + 12 */
    { 2, 1, 21, 19, 3, 3, 2, 3, 2 },  /* 3 rows, a full convolution */
};

/* The pool's output, argmax and gradient for conv2d_pooled_weights (on the
 * current path); whole windows at 0 after the ReLU and two thirds of the
 * gradient zero, as under a dropout. */
typedef struct pooled_case {
    conv2d_shape s;
    pool_shape p;
    float *in, *po, *g, *work;
    uint32_t *am;
    size_t nw;
} pooled_case;

static void pooled_case_init(pooled_case *c, const size_t *v)
{
    ck_assert(conv2d_shape_init(&c->s, v[0], v[1], v[2], v[3], v[4], v[5], 1, v[6], NULL) == 0);
    const conv2d_shape *s = &c->s;
    ck_assert(conv2d_pooled_suits(s));
    ck_assert(pool_shape_init(&c->p, s->B, s->OC, s->OH, s->OW, v[7], v[8], 0, NULL) == 0);
    db_rng r;
    db_rng_seed(&r, 23, DB_RNG_TEST, v[1] * 100 + v[5]);
    const size_t nin = s->B * s->C * s->H * s->W, nout = s->B * s->OC * s->OH * s->OW,
                 npo = s->B * s->OC * c->p.OH * c->p.OW;
    size_t nwork = conv2d_work_floats(s);
    if (conv2d_pooled_work_floats(s) > nwork)
        nwork = conv2d_pooled_work_floats(s);
    c->nw = s->OC * s->C * s->K * s->K;
    float *w = xmalloc(c->nw * 4), *b = xmalloc(s->OC * 4), *out = xmalloc(nout * 4);
    c->in = xmalloc(nin * 4);
    c->po = xmalloc(npo * 4);
    c->g = xmalloc(npo * 4);
    c->work = xmalloc(nwork * 4);
    c->am = xmalloc(npo * 4);
    fill_pm1(c->in, nin, &r);
    fill_pm1(w, c->nw, &r);
    fill_pm1(b, s->OC, &r);
    for (size_t i = 0; i < s->OC; i++)
        b[i] -= sqrtf((float)(s->C * s->K * s->K) / 9.0f);
    conv2d_forward_relu(out, c->in, w, b, s, c->work);
    maxpool_forward(c->po, c->am, out, &c->p);
    fill_pm1(c->g, npo, &r);
    for (size_t i = 0; i < npo; i++)
        if (i % 3)
            c->g[i] = 0.0f;
    free(w), free(b), free(out);
}

static void pooled_case_free(pooled_case *c)
{
    free(c->in), free(c->po), free(c->g), free(c->work), free(c->am);
}

/* dw, db set, then added to once more: 2 (nw + OC) floats. */
static float *pooled_run(pooled_case *c)
{
    const size_t n = c->nw + c->s.OC, pohw = c->p.OH * c->p.OW;
    float *o = xmalloc(2 * n * 4);
    conv2d_pooled_weights(o, o + c->nw, c->g, c->am, c->po, pohw, c->in, &c->s, c->work, 1);
    memcpy(o + n, o, n * 4);
    conv2d_pooled_weights(o + n, o + n + c->nw, c->g, c->am, c->po, pohw, c->in, &c->s,
                          c->work, 0);
    return o;
}

START_TEST(test_simd_pooled)
{
    db_simd p[3];
    int np = paths(p);
    db_simd keep = db_simd_get();
    int was = conv2d_set_direct(1);
    for (size_t k = 0; k < sizeof pooled_simd_shapes / sizeof pooled_simd_shapes[0]; k++) {
        pooled_case c;
        ck_assert_int_eq(db_simd_set(p[0]), 0); /* the same inputs for every path */
        pooled_case_init(&c, pooled_simd_shapes[k]);
        const size_t n = 2 * (c.nw + c.s.OC);
        float *ref = pooled_run(&c);
        int compared = 0;
        for (int i = 1; i < np; i++) {
            ck_assert_int_eq(db_simd_set(p[i]), 0);
            float *o = pooled_run(&c);
            char what[64];
            snprintf(what, sizeof what, "pooled shape %zu", k);
            if (p[i] >= DB_SIMD_AVX2) {
                same_bits(what, p[0], p[i], ref, o, n);
                compared++;
            } else /* portable sums, in another order */
                for (size_t j = 0; j < n; j++)
                    ck_assert_msg(fabsf(o[j] - ref[j]) <= 1e-5f * (1.0f + fabsf(ref[j])),
                                  "%s: %s and %s at %zu: %g vs %g", what,
                                  db_simd_name(p[0]), db_simd_name(p[i]), j, ref[j], o[j]);
            free(o);
        }
        if (db_simd_best() == DB_SIMD_AVX512)
            ck_assert_int_eq(compared, 1);
        free(ref);
        pooled_case_free(&c);
    }
    conv2d_set_direct(was);
    ck_assert_int_eq(db_simd_set(keep), 0);
}
END_TEST

/* ---- GRU --------------------------------------------------------------- */

static float *gru_all(size_t B, size_t T, size_t D, size_t H, int rdrop, size_t *n_out)
{
    db_rng r;
    db_rng_seed(&r, 21, DB_RNG_TEST, (uint64_t)H);
    gru_shape s;
    ck_assert(gru_shape_init(&s, B, T, D, H, NULL) == 0);
    ck_assert(gru_shape_set_rdrop(&s, rdrop, NULL) == 0);
    const size_t H3 = 3 * H;
    float *x = xmalloc(B * T * D * 4), *wx = xmalloc(H3 * D * 4), *wh = xmalloc(H3 * H * 4),
          *bx = xmalloc(H3 * 4), *bh = xmalloc(H3 * 4), *cache = xmalloc(gru_cache_floats(&s) * 4),
          *work = xmalloc(gru_work_floats(&s) * 4), *dhf = xmalloc(B * H * 4),
          *dhs = xmalloc(B * T * H * 4);
    uint32_t *len = xmalloc(B * 4);
    uint8_t *mask = xmalloc(B * H);
    fill_pm1(x, B * T * D, &r);
    fill_pm1(wx, H3 * D, &r);
    fill_pm1(wh, H3 * H, &r);
    fill_pm1(bx, H3, &r);
    fill_pm1(bh, H3, &r);
    fill_pm1(dhf, B * H, &r);
    fill_pm1(dhs, B * T * H, &r);
    for (size_t b = 0; b < B; b++)
        len[b] = (uint32_t)(b % (T + 1)); /* 0 .. T steps */
    for (size_t i = 0; i < B * H; i++)
        mask[i] = (uint8_t)(db_rng_uniform(&r) >= 0.3);
    /* large pre-activations too: the exp's clamps */
    x[0] = 60.0f;
    if (B * T * D > 1)
        x[1] = -60.0f;
    const size_t total = B * H + B * T * H + B * T * D + H3 * D + H3 * H + 2 * H3;
    float *o = xmalloc(total * 4), *p = o;
    const uint8_t *rm = rdrop ? mask : NULL;
    gru_forward_ex(p, p + B * H, cache, x, len, rm, 0.3f, wx, wh, bx, bh, &s);
    p += B * H + B * T * H;
    memset(p, 0, (B * T * D + H3 * D + H3 * H + 2 * H3) * 4);
    gru_backward_ex(p, p + B * T * D, p + B * T * D + H3 * D, p + B * T * D + H3 * D + H3 * H,
                    p + B * T * D + H3 * D + H3 * H + H3, dhf, dhs, cache, x, len, rm, 0.3f,
                    wx, wh, &s, work);
    free(x), free(wx), free(wh), free(bx), free(bh), free(cache), free(work), free(dhf);
    free(dhs), free(len), free(mask);
    *n_out = total;
    return o;
}

START_TEST(test_simd_gru)
{
    static const size_t shapes[][5] = {
        /* B, T, D, H, rdrop: H = 16 + 8 + 4 + 3, 16 + 8, 4 + 1, 48 */
        { 3, 4, 5, 31, 0 }, { 5, 3, 7, 24, 1 }, { 2, 2, 3, 5, 0 }, { 4, 5, 16, 48, 1 },
        { 1, 1, 1, 1, 0 },  { 3, 3, 9, 17, 0 },
    };
    db_simd p[3];
    int np = paths(p);
    db_simd keep = db_simd_get();
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const size_t *v = shapes[k];
        float *ref = NULL;
        size_t n = 0;
        for (int i = 0; i < np; i++) {
            ck_assert_int_eq(db_simd_set(p[i]), 0);
            size_t m;
            float *o = gru_all(v[0], v[1], v[2], v[3], (int)v[4], &m);
            if (!ref) {
                ref = o;
                n = m;
                continue;
            }
            ck_assert_uint_eq(m, n);
            char what[64];
            snprintf(what, sizeof what, "gru shape %zu", k);
            same_bits(what, p[0], p[i], ref, o, n);
            free(o);
        }
        free(ref);
    }
    ck_assert_int_eq(db_simd_set(keep), 0);
}
END_TEST

/* ---- dropout ------------------------------------------------------------- */

static float *dropout_all(size_t B, size_t G, size_t S, float rate, size_t *n_out)
{
    db_rng r;
    db_rng_seed(&r, 22, DB_RNG_TEST, (uint64_t)(B * 1000 + G * 10 + S));
    const size_t n = B * G * S, groups = B * G;
    float *in = xmalloc(n * 4), *d = xmalloc(n * 4);
    uint8_t *mask = xmalloc(groups);
    fill_pm1(in, n, &r);
    fill_pm1(d, n, &r);
    /* specials: a dropped group is +0 even for inf and NaN; -0 in din */
    in[0] = INFINITY;
    if (n > 1)
        in[1] = NAN;
    if (n > 2)
        d[2] = -0.0f;
    if (n > 5)
        d[5] = -0.0f;
    for (size_t i = 0; i < groups; i++)
        mask[i] = (uint8_t)(db_rng_uniform(&r) >= rate ? 1 + (i % 3) : 0); /* any nonzero */
    const size_t total = 5 * n;
    float *o = xmalloc(total * 4);
    dropout_apply(o, mask, in, B, G, S, rate);
    /* the definition: in * scale where kept, +0 where dropped */
    const float scale = 1.0f / (1.0f - rate);
    for (size_t i = 0; i < n; i++) {
        float e = mask[i / S] ? in[i] * scale : 0.0f;
        uint32_t u, v;
        memcpy(&u, &e, 4);
        memcpy(&v, o + i, 4);
        ck_assert_msg(u == v || (isnan(e) && isnan(o[i])), "dropout %zu: %g, expected %g", i,
                      o[i], e);
    }
    memcpy(o + n, d, n * 4);
    dropout_backward(o + n, in, mask, B, G, S, rate);
    memcpy(o + 2 * n, in, n * 4);
    dropout_backward_inplace(o + 2 * n, mask, B, G, S, rate);
    /* locked: (B, T = G, D = S) under a (B, D) mask */
    uint8_t *lm = xmalloc(B * S);
    for (size_t i = 0; i < B * S; i++)
        lm[i] = (uint8_t)((i * 7) % 5 != 0);
    dropout_locked_apply(o + 3 * n, lm, in, B, G, S, rate);
    memcpy(o + 4 * n, d, n * 4);
    dropout_locked_backward(o + 4 * n, in, lm, B, G, S, rate);
    free(in), free(d), free(mask), free(lm);
    *n_out = total;
    return o;
}

START_TEST(test_simd_dropout)
{
    static const size_t shapes[][3] = {
        /* B, G, S: element-wise (S = 1) lengths around 4 and 16, groups */
        { 1, 1, 1 },  { 1, 3, 1 },  { 1, 4, 1 },   { 1, 15, 1 }, { 1, 16, 1 },
        { 1, 17, 1 }, { 3, 21, 1 }, { 7, 37, 1 },  { 2, 5, 3 },  { 2, 3, 16 },
        { 3, 4, 17 }, { 2, 6, 49 }, { 64, 10, 1 }, { 4, 8, 36 },
    };
    db_simd p[3];
    int np = paths(p);
    db_simd keep = db_simd_get();
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        for (int ri = 0; ri < 2; ri++) {
            const float rate = ri ? 0.5f : 0.2f;
            const size_t *v = shapes[k];
            float *ref = NULL;
            size_t n = 0;
            for (int i = 0; i < np; i++) {
                ck_assert_int_eq(db_simd_set(p[i]), 0);
                size_t m;
                float *o = dropout_all(v[0], v[1], v[2], rate, &m);
                if (!ref) {
                    ref = o;
                    n = m;
                    continue;
                }
                char what[64];
                snprintf(what, sizeof what, "dropout shape %zu rate %g", k, rate);
                same_bits(what, p[0], p[i], ref, o, n);
                free(o);
            }
            free(ref);
        }
    ck_assert_int_eq(db_simd_set(keep), 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("simd");
    TCase *tc = tcase_create("simd");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_simd_paths);
    tcase_add_test(tc, test_simd_conv);
    tcase_add_test(tc, test_simd_pooled);
    tcase_add_test(tc, test_simd_gru);
    tcase_add_test(tc, test_simd_dropout);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
