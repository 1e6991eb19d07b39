/* test_kernels_gru.c - the GRU layer against a double-precision reference:
 * forward values, variable lengths, and central-difference gradients of
 * every parameter and of the input (BPTT). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "test_numeric.h"
#include "kernels.h"

/* The PyTorch formula, step by step, in double. */
typedef struct {
    size_t B, T, D, H;
    const uint32_t *len;
    double *x, *wx, *wh, *bx, *bh, *R, *h;
} gru_ctx;

static double sig(double v) { return 1.0 / (1.0 + exp(-v)); }

static void gru_ref(gru_ctx *c)
{
    const size_t B = c->B, T = c->T, D = c->D, H = c->H;
    double *hn = xcalloc(H, 8);
    for (size_t b = 0; b < B; b++) {
        double *h = c->h + b * H;
        memset(h, 0, H * sizeof *h);
        for (size_t t = 0; t < T && t < c->len[b]; t++) {
            const double *x = c->x + (b * T + t) * D;
            for (size_t j = 0; j < H; j++) {
                double a[3], hh[3];
                for (size_t q = 0; q < 3; q++) {
                    a[q] = c->bx[q * H + j];
                    hh[q] = c->bh[q * H + j];
                    for (size_t i = 0; i < D; i++)
                        a[q] += c->wx[(q * H + j) * D + i] * x[i];
                    for (size_t i = 0; i < H; i++)
                        hh[q] += c->wh[(q * H + j) * H + i] * h[i];
                }
                double r = sig(a[0] + hh[0]), z = sig(a[1] + hh[1]);
                double n = tanh(a[2] + r * hh[2]);
                hn[j] = (1.0 - z) * n + z * h[j];
            }
            memcpy(h, hn, H * sizeof *h);
        }
    }
    free(hn);
}

static double gru_loss(void *ctx)
{
    gru_ctx *c = ctx;
    gru_ref(c);
    double s = 0.0;
    for (size_t i = 0; i < c->B * c->H; i++)
        s += c->h[i] * c->R[i];
    return s;
}

/* Everything one test needs, in float (kernel) and double (reference). */
typedef struct {
    gru_shape s;
    size_t nx, nwx, nwh, nb;
    float *x, *wx, *wh, *bx, *bh, *R, *h, *cache, *work;
    gru_ctx c;
} gru_case;

static void case_init(gru_case *k, size_t B, size_t T, size_t D, size_t H,
                      const uint32_t *len, uint64_t seed)
{
    db_err e;
    ck_assert_msg(gru_shape_init(&k->s, B, T, D, H, &e) == 0, "%s", e.msg);
    k->nx = B * T * D;
    k->nwx = 3 * H * D;
    k->nwh = 3 * H * H;
    k->nb = 3 * H;
    db_rng r;
    db_rng_seed(&r, seed, DB_RNG_TEST, 20);
    k->x = xcalloc(k->nx, 4);
    k->wx = xcalloc(k->nwx, 4);
    k->wh = xcalloc(k->nwh, 4);
    k->bx = xcalloc(k->nb, 4);
    k->bh = xcalloc(k->nb, 4);
    k->R = xcalloc(B * H, 4);
    k->h = xcalloc(B * H, 4);
    k->cache = xcalloc(gru_cache_floats(&k->s), 4);
    k->work = xcalloc(gru_work_floats(&k->s), 4);
    /* Weights large enough that the gates are away from 0.5 and the
     * recurrent path matters. */
    fill(k->x, k->nx, &r, -1, 1);
    fill(k->wx, k->nwx, &r, -1, 1);
    fill(k->wh, k->nwh, &r, -1, 1);
    fill(k->bx, k->nb, &r, -0.5f, 0.5f);
    fill(k->bh, k->nb, &r, -0.5f, 0.5f);
    fill(k->R, B * H, &r, -1, 1);
    k->c = (gru_ctx){B, T, D, H, len, to_d(k->x, k->nx), to_d(k->wx, k->nwx),
                     to_d(k->wh, k->nwh), to_d(k->bx, k->nb),
                     to_d(k->bh, k->nb), to_d(k->R, B * H), xcalloc(B * H, 8)};
}

static void case_free(gru_case *k)
{
    free(k->x), free(k->wx), free(k->wh), free(k->bx), free(k->bh);
    free(k->R), free(k->h), free(k->cache), free(k->work);
    free(k->c.x), free(k->c.wx), free(k->c.wh), free(k->c.bx), free(k->c.bh);
    free(k->c.R), free(k->c.h);
}

START_TEST(test_gru_forward)
{
    /* lengths: full, 1, in between, 0 (state stays 0) */
    const uint32_t len[4] = {5, 1, 3, 0};
    gru_case k;
    case_init(&k, 4, 5, 3, 6, len, 1);
    for (size_t i = 0; i < 4 * 6; i++)
        k.h[i] = 99.0f; /* forward must overwrite */
    gru_forward(k.h, k.cache, k.x, len, k.wx, k.wh, k.bx, k.bh, &k.s);
    gru_ref(&k.c);
    for (size_t i = 0; i < 4 * 6; i++)
        ck_assert_msg(fabs(k.h[i] - k.c.h[i]) < 1e-5, "hfinal[%zu] %g vs %g",
                      i, k.h[i], k.c.h[i]);
    for (size_t j = 0; j < 6; j++)
        ck_assert(k.h[3 * 6 + j] == 0.0f);

    /* Inputs past an example's length must not matter. */
    float h2[4 * 6];
    for (size_t b = 0; b < 4; b++)
        for (size_t t = len[b]; t < 5; t++)
            for (size_t i = 0; i < 3; i++)
                k.x[(b * 5 + t) * 3 + i] = 1e3f;
    gru_forward(h2, k.cache, k.x, len, k.wx, k.wh, k.bx, k.bh, &k.s);
    ck_assert(memcmp(h2, k.h, sizeof h2) == 0);
    case_free(&k);
}
END_TEST

static void gradcheck(size_t B, size_t T, size_t D, size_t H,
                      const uint32_t *len, uint64_t seed)
{
    gru_case k;
    case_init(&k, B, T, D, H, len, seed);
    gru_forward(k.h, k.cache, k.x, len, k.wx, k.wh, k.bx, k.bh, &k.s);
    float *dx = xcalloc(k.nx, 4), *dwx = xcalloc(k.nwx, 4),
          *dwh = xcalloc(k.nwh, 4), *dbx = xcalloc(k.nb, 4),
          *dbh = xcalloc(k.nb, 4);
    gru_backward(dx, dwx, dwh, dbx, dbh, k.R, k.cache, k.x, len, k.wx, k.wh,
                 &k.s, k.work);

    double *g = xcalloc(k.nx > k.nwh ? (k.nx > k.nwx ? k.nx : k.nwx)
                                     : (k.nwh > k.nwx ? k.nwh : k.nwx), 8);
    numgrad(g, k.c.x, k.nx, gru_loss, &k.c);
    check_grad("gru dx", dx, g, k.nx);
    /* dx must be exactly 0 past each length */
    for (size_t b = 0; b < B; b++)
        for (size_t t = len[b]; t < T; t++)
            for (size_t i = 0; i < D; i++)
                ck_assert(dx[(b * T + t) * D + i] == 0.0f);
    numgrad(g, k.c.wx, k.nwx, gru_loss, &k.c);
    check_grad("gru dwx", dwx, g, k.nwx);
    numgrad(g, k.c.wh, k.nwh, gru_loss, &k.c);
    check_grad("gru dwh", dwh, g, k.nwh);
    numgrad(g, k.c.bx, k.nb, gru_loss, &k.c);
    check_grad("gru dbx", dbx, g, k.nb);
    numgrad(g, k.c.bh, k.nb, gru_loss, &k.c);
    check_grad("gru dbh", dbh, g, k.nb);

    /* Accumulation, and dx == NULL leaves the weight gradients alone. */
    float *dx2 = xcalloc(k.nx, 4), *dwx2 = xcalloc(k.nwx, 4),
          *dwh2 = xcalloc(k.nwh, 4), *dbx2 = xcalloc(k.nb, 4),
          *dbh2 = xcalloc(k.nb, 4);
    memcpy(dx2, dx, k.nx * 4);
    memcpy(dwx2, dwx, k.nwx * 4);
    memcpy(dwh2, dwh, k.nwh * 4);
    memcpy(dbx2, dbx, k.nb * 4);
    memcpy(dbh2, dbh, k.nb * 4);
    gru_backward(dx2, dwx2, dwh2, dbx2, dbh2, k.R, k.cache, k.x, len, k.wx,
                 k.wh, &k.s, k.work);
    check_twice("gru dx", dx, dx2, k.nx);
    check_twice("gru dwx", dwx, dwx2, k.nwx);
    check_twice("gru dwh", dwh, dwh2, k.nwh);
    check_twice("gru dbx", dbx, dbx2, k.nb);
    check_twice("gru dbh", dbh, dbh2, k.nb);
    memset(dwx2, 0, k.nwx * 4);
    memset(dwh2, 0, k.nwh * 4);
    memset(dbx2, 0, k.nb * 4);
    memset(dbh2, 0, k.nb * 4);
    gru_backward(NULL, dwx2, dwh2, dbx2, dbh2, k.R, k.cache, k.x, len, k.wx,
                 k.wh, &k.s, k.work);
    ck_assert(memcmp(dwx2, dwx, k.nwx * 4) == 0);
    ck_assert(memcmp(dwh2, dwh, k.nwh * 4) == 0);

    free(dx), free(dwx), free(dwh), free(dbx), free(dbh), free(g);
    free(dx2), free(dwx2), free(dwh2), free(dbx2), free(dbh2);
    case_free(&k);
}

START_TEST(test_gru_backward_mixed)
{
    /* len T, len 1 and two in between, unsorted */
    const uint32_t len[4] = {2, 5, 1, 4};
    gradcheck(4, 5, 3, 4, len, 2);
}
END_TEST

START_TEST(test_gru_backward_short)
{
    /* every sequence shorter than T (trailing steps never run), D != H */
    const uint32_t len[3] = {1, 3, 2};
    gradcheck(3, 4, 5, 3, len, 3);
}
END_TEST

START_TEST(test_gru_backward_single)
{
    /* one example, one unit, full length: the smallest recurrence */
    const uint32_t len[1] = {6};
    gradcheck(1, 6, 2, 1, len, 4);
}
END_TEST

START_TEST(test_gru_backward_wider)
{
    /* H 16 and 7 examples with seven different lengths, one of them 0 */
    const uint32_t len[7] = {4, 1, 3, 4, 2, 0, 4};
    gradcheck(7, 4, 3, 16, len, 5);
}
END_TEST

START_TEST(test_gru_backward_long_ties)
{
    /* lengths past T (count as T), ties, a 0: the rows' order by length
     * keeps ties in batch order and ends the longest at the last step */
    const uint32_t len[6] = {2, 9, 0, 2, 4, 1};
    gradcheck(6, 4, 3, 5, len, 6);
}
END_TEST

START_TEST(test_gru_shape_init)
{
    gru_shape s;
    db_err e;
    ck_assert_int_eq(gru_shape_init(&s, 0, 4, 3, 2, &e), -1);
    ck_assert_msg(strstr(e.msg, "gru") != NULL, "%s", e.msg);
    ck_assert_int_eq(gru_shape_init(&s, 1, 0, 3, 2, &e), -1);
    ck_assert_int_eq(gru_shape_init(&s, 1, 4, 0, 2, &e), -1);
    ck_assert_int_eq(gru_shape_init(&s, 1, 4, 3, 0, &e), -1);
    ck_assert_int_eq(gru_shape_init(&s, SIZE_MAX / 2, 4, 3, 2, &e), -1);
    ck_assert_msg(strstr(e.msg, "overflow") != NULL, "%s", e.msg);
    ck_assert_int_eq(gru_shape_init(&s, 1, 1, 1, SIZE_MAX / 2, &e), -1);
    ck_assert_int_eq(gru_shape_init(&s, 64, 20, 32, 128, &e), 0);
    ck_assert_uint_gt(gru_cache_floats(&s), 0);
    ck_assert_uint_gt(gru_work_floats(&s), 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("kernels_gru");
    TCase *tc = tcase_create("gru");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_gru_forward);
    tcase_add_test(tc, test_gru_backward_mixed);
    tcase_add_test(tc, test_gru_backward_short);
    tcase_add_test(tc, test_gru_backward_single);
    tcase_add_test(tc, test_gru_backward_wider);
    tcase_add_test(tc, test_gru_backward_long_ties);
    tcase_add_test(tc, test_gru_shape_init);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
