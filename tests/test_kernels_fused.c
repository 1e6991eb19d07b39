/* test_kernels_fused.c - the fused and overwriting kernel variants added for
 * speed give exactly what the plain kernels give (conv2d_forward_relu,
 * dense_backward_set, relu_backward_inplace, dropout_backward_inplace), and
 * the vectorised gate functions stay close to libm. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "test_numeric.h"
#include "kernels.h"

START_TEST(test_conv_forward_relu)
{
    db_rng r;
    db_rng_seed(&r, 1, DB_RNG_TEST, 0);
    conv2d_shape s;
    db_err e;
    /* odd sizes: vector tails everywhere */
    ck_assert_int_eq(conv2d_shape_init(&s, 3, 2, 7, 9, 5, 3, 1, 1, &e), 0);
    size_t nin = 3 * 2 * 7 * 9, nout = 3 * 5 * s.OH * s.OW, nw = 5 * 2 * 9;
    float *in = malloc(nin * 4), *w = malloc(nw * 4), b[5], *o1 = malloc(nout * 4),
          *o2 = malloc(nout * 4), *work = malloc(conv2d_work_floats(&s) * 4);
    fill_pm1(in, nin, &r);
    fill_pm1(w, nw, &r);
    fill_pm1(b, 5, &r);
    conv2d_forward(o1, in, w, b, &s, work);
    relu_forward(o1, o1, nout);
    conv2d_forward_relu(o2, in, w, b, &s, work);
    ck_assert(memcmp(o1, o2, nout * 4) == 0);
    size_t pos = 0;
    for (size_t i = 0; i < nout; i++)
        pos += o2[i] > 0;
    ck_assert(pos > 0 && pos < nout); /* the ReLU did something */
    free(in), free(w), free(o1), free(o2), free(work);
}
END_TEST

START_TEST(test_dense_backward_set)
{
    db_rng r;
    db_rng_seed(&r, 2, DB_RNG_TEST, 0);
    enum { B = 5, In = 7, O = 6 };
    float in[B * In], w[O * In], dout[B * O];
    fill_pm1(in, B * In, &r);
    fill_pm1(w, O * In, &r);
    fill_pm1(dout, B * O, &r);
    float dw1[O * In] = { 0 }, db1[O] = { 0 }, din1[B * In] = { 0 };
    float dw2[O * In], db2[O], din2[B * In];
    for (size_t i = 0; i < O * In; i++)
        dw2[i] = 99.0f; /* garbage that must be overwritten */
    for (size_t i = 0; i < O; i++)
        db2[i] = -7.0f;
    for (size_t i = 0; i < B * In; i++)
        din2[i] = 3.0f;
    dense_backward(din1, dw1, db1, dout, in, w, B, In, O);
    dense_backward_set(din2, dw2, db2, dout, in, w, B, In, O);
    ck_assert(memcmp(dw1, dw2, sizeof dw1) == 0);
    ck_assert(memcmp(db1, db2, sizeof db1) == 0);
    ck_assert(memcmp(din1, din2, sizeof din1) == 0);
    dense_backward_set(NULL, dw2, db2, dout, in, w, B, In, O); /* first layer */
    ck_assert(memcmp(dw1, dw2, sizeof dw1) == 0);
}
END_TEST

/* The split used by the training team: weight rows by output unit, input
 * gradient by input (columns), any number of parts (some empty), gives the
 * whole call's values; so does the forward split by output unit. */
START_TEST(test_dense_backward_split)
{
    db_rng r;
    db_rng_seed(&r, 5, DB_RNG_TEST, 0);
    enum { B = 13, In = 37, O = 29 };
    float *in = malloc(B * In * 4), *w = malloc(O * In * 4), *dout = malloc(B * O * 4);
    float *dw1 = malloc(O * In * 4), *db1 = malloc(O * 4), *din1 = malloc(B * In * 4);
    float *dw2 = malloc(O * In * 4), *db2 = malloc(O * 4), *din2 = malloc(B * In * 4);
    fill_pm1(in, B * In, &r);
    fill_pm1(w, O * In, &r);
    fill_pm1(dout, B * O, &r);
    dense_backward_set(din1, dw1, db1, dout, in, w, B, In, O);
    for (size_t n = 1; n <= 40; n += (n < 4 ? 1 : 17)) {
        for (size_t i = 0; i < O * In; i++)
            dw2[i] = NAN; /* every entry must be written by some part */
        for (size_t i = 0; i < O; i++)
            db2[i] = NAN;
        for (size_t i = 0; i < B * In; i++)
            din2[i] = NAN;
        for (size_t t = 0; t < n; t++) {
            size_t olo = O * t / n, ohi = O * (t + 1) / n;
            size_t ilo = In * t / n, ihi = In * (t + 1) / n;
            dense_backward_weights_set(dw2, db2, dout, in, B, In, O, olo, ohi);
            dense_backward_input_set(din2, dout, w, B, In, O, ilo, ihi);
        }
        /* OpenBLAS may order a product's sums differently for a block of
         * rows than for the whole matrix: the products agree to rounding
         * (and NaN, an entry left unwritten, fails); the bias gradient is
         * our own loop and keeps its bits. */
        for (size_t i = 0; i < O * In; i++)
            ck_assert_msg(fabsf(dw1[i] - dw2[i]) <= 1e-5f, "dw[%zu], %zu parts: %g vs %g",
                          i, n, dw1[i], dw2[i]);
        for (size_t i = 0; i < B * In; i++)
            ck_assert_msg(fabsf(din1[i] - din2[i]) <= 1e-5f, "din[%zu], %zu parts: %g vs %g",
                          i, n, din1[i], din2[i]);
        ck_assert_msg(memcmp(db1, db2, O * 4) == 0, "db, %zu parts", n);
        /* forward, by output unit */
        float *o1 = dw1, *o2 = dw2; /* reused: B*O <= O*In */
        dense_forward(o1, in, w, db1, B, In, O);
        for (size_t i = 0; i < B * O; i++)
            o2[i] = NAN;
        for (size_t t = 0; t < n; t++)
            dense_forward_units(o2, in, w, db1, B, In, O, O * t / n, O * (t + 1) / n);
        for (size_t i = 0; i < B * O; i++)
            ck_assert_msg(fabsf(o1[i] - o2[i]) <= 1e-5f, "out[%zu], %zu parts: %g vs %g",
                          i, n, o1[i], o2[i]);
        dense_backward_set(din1, dw1, db1, dout, in, w, B, In, O); /* restore */
    }
    free(in), free(w), free(dout), free(dw1), free(db1), free(din1);
    free(dw2), free(db2), free(din2);
}
END_TEST

START_TEST(test_inplace_backward)
{
    db_rng r;
    db_rng_seed(&r, 3, DB_RNG_TEST, 0);
    enum { N = 37 };
    float x[N], out[N], d[N], g1[N] = { 0 }, g2[N];
    fill_pm1(x, N, &r);
    fill_pm1(d, N, &r);
    relu_forward(out, x, N);
    relu_backward(g1, d, out, N);
    memcpy(g2, d, sizeof d);
    relu_backward_inplace(g2, out, N);
    ck_assert(memcmp(g1, g2, sizeof g1) == 0);

    /* dropout, element-wise and grouped */
    const size_t shapes[2][3] = { { 3, 11, 1 }, { 2, 3, 5 } };
    for (int k = 0; k < 2; k++) {
        size_t B = shapes[k][0], G = shapes[k][1], S = shapes[k][2], n = B * G * S;
        float y[33], h1[33] = { 0 }, h2[33];
        uint8_t mask[33];
        db_rng mr;
        db_rng_seed(&mr, 4, DB_RNG_TEST, (uint64_t)k);
        ck_assert_int_eq(dropout_forward(y, mask, x, B, G, S, 0.4f, 1, &mr, NULL), 0);
        dropout_backward(h1, d, mask, B, G, S, 0.4f);
        memcpy(h2, d, n * sizeof *d);
        dropout_backward_inplace(h2, mask, B, G, S, 0.4f);
        ck_assert(memcmp(h1, h2, n * sizeof *h1) == 0);
    }
}
END_TEST

START_TEST(test_gru_gates_close_to_libm)
{
    /* The GRU's forward on one step against the formula with libm. */
    gru_shape s;
    db_err e;
    enum { B = 2, T = 1, D = 3, H = 5 };
    ck_assert_int_eq(gru_shape_init(&s, B, T, D, H, &e), 0);
    db_rng r;
    db_rng_seed(&r, 5, DB_RNG_TEST, 0);
    float x[B * T * D], wx[3 * H * D], wh[3 * H * H], bx[3 * H], bh[3 * H], h[B * H];
    fill_pm1(x, sizeof x / 4, &r);
    fill_pm1(wx, sizeof wx / 4, &r);
    fill_pm1(wh, sizeof wh / 4, &r);
    fill_pm1(bx, sizeof bx / 4, &r);
    fill_pm1(bh, sizeof bh / 4, &r);
    for (size_t i = 0; i < sizeof x / 4; i++)
        x[i] *= 4.0f; /* reach the saturating parts */
    uint32_t len[B] = { 1, 1 };
    float *cache = malloc(gru_cache_floats(&s) * 4);
    gru_forward(h, cache, x, len, wx, wh, bx, bh, &s);
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < H; j++) {
            double a[3];
            for (int g = 0; g < 3; g++) {
                a[g] = bx[g * H + j];
                for (size_t k = 0; k < D; k++)
                    a[g] += (double)wx[(g * H + j) * D + k] * x[b * D + k];
            }
            double rr = 1 / (1 + exp(-(a[0] + bh[j])));
            double z = 1 / (1 + exp(-(a[1] + bh[H + j])));
            double n = tanh(a[2] + rr * bh[2 * H + j]);
            double ref = (1 - z) * n; /* h0 = 0 */
            ck_assert_msg(fabs(h[b * H + j] - ref) < 1e-6, "h %g vs %g", h[b * H + j], ref);
        }
    free(cache);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("kernels_fused");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_conv_forward_relu);
    tcase_add_test(tc, test_dense_backward_set);
    tcase_add_test(tc, test_dense_backward_split);
    tcase_add_test(tc, test_inplace_backward);
    tcase_add_test(tc, test_gru_gates_close_to_libm);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
