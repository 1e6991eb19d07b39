/* test_optim.c - SGD with momentum and weight decay, max-norm, sumsq and
 * scale_inplace against values worked out by hand. */
#include <math.h>
#include <string.h>

#include "check_main.h"
#include "kernels.h"

#define CLOSE(a, b) ck_assert_msg(fabs((double)(a) - (double)(b)) < 1e-6, \
                                  "%s = %.9g, expected %.9g", #a, (double)(a), \
                                  (double)(b))

/* lr 0.1, mu 0.9, no decay, constant gradient 0.5 on w = 1:
 *   v1 = 0.5            w1 = 1     - 0.05   = 0.95
 *   v2 = 0.45 + 0.5     w2 = 0.95  - 0.095  = 0.855
 *   v3 = 0.855 + 0.5    w3 = 0.855 - 0.1355 = 0.7195 */
START_TEST(test_momentum)
{
    float w[2] = {1.0f, -2.0f}, v[2] = {0, 0}, g[2] = {0.5f, 0.0f};
    static const double wv[3] = {0.95, 0.855, 0.7195};
    static const double vv[3] = {0.5, 0.95, 1.355};
    for (int k = 0; k < 3; k++) {
        sgd_momentum_step(w, v, g, 2, 0.1f, 0.9f, 0.0f);
        CLOSE(w[0], wv[k]);
        CLOSE(v[0], vv[k]);
        /* zero gradient, zero velocity, no decay: untouched */
        ck_assert(w[1] == -2.0f && v[1] == 0.0f);
    }
}
END_TEST

/* Weight decay 0.1 with zero gradient on w = 1 (lr 0.1, mu 0.9):
 *   g1 = 0.1      v1 = 0.1                   w1 = 0.99
 *   g2 = 0.099    v2 = 0.09 + 0.099 = 0.189  w2 = 0.99 - 0.0189 = 0.9711
 *   g3 = 0.09711  v3 = 0.1701 + 0.09711      w3 = 0.9711 - 0.026721
 *                    = 0.26721                  = 0.944379
 * and plain SGD (mu 0) with decay and gradient: w = 2, g = 1, wd 0.5,
 * lr 0.1: w1 = 2 - 0.1 * (1 + 1) = 1.8, w2 = 1.8 - 0.1 * 1.9 = 1.61. */
START_TEST(test_weight_decay)
{
    float w[2] = {1.0f, 2.0f}, v[2] = {0, 0}, g0[2] = {0, 0};
    static const double wv[3] = {0.99, 0.9711, 0.944379};
    static const double vv[3] = {0.1, 0.189, 0.26721};
    for (int k = 0; k < 3; k++) {
        sgd_momentum_step(w, v, g0, 1, 0.1f, 0.9f, 0.1f);
        CLOSE(w[0], wv[k]);
        CLOSE(v[0], vv[k]);
    }
    ck_assert(w[1] == 2.0f); /* n = 1: the second element is not touched */
    float w2 = 2.0f, v2 = 0.0f, g2 = 1.0f;
    sgd_momentum_step(&w2, &v2, &g2, 1, 0.1f, 0.0f, 0.5f);
    CLOSE(w2, 1.8);
    sgd_momentum_step(&w2, &v2, &g2, 1, 0.1f, 0.0f, 0.5f);
    CLOSE(w2, 1.61);
}
END_TEST

/* The papers' form dw = mu dw - (1 - mu) lr g; w += dw, w = 1, g = 0.5,
 * lr 0.1, momentum 0.5 then 0.9 (a ramp changes mu between steps):
 *   mu 0.5: a = 0.05  dw1 = -0.025                    w1 = 0.975
 *   mu 0.5:           dw2 = -0.0125 - 0.025 = -0.0375 w2 = 0.9375
 *   mu 0.9: a = 0.01  dw3 = -0.03375 - 0.005 = -0.03875  w3 = 0.89875
 * With mu 0 it is plain SGD, decay included: w = 2, g = 1, wd 0.5, lr 0.1:
 * w1 = 2 - 0.1 * 2 = 1.8. */
START_TEST(test_hinton_update)
{
    float w[5] = {1, 1, 1, 1, 1}, dw[5] = {0}, g[5] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    static const double wv[3] = {0.975, 0.9375, 0.89875};
    static const double dv[3] = {-0.025, -0.0375, -0.03875};
    static const float mus[3] = {0.5f, 0.5f, 0.9f};
    for (int k = 0; k < 3; k++) {
        sgd_hinton_step(w, dw, g, 5, 0.1f, mus[k], 0.0f);
        for (int i = 0; i < 5; i++) { /* vector lanes and the scalar tail */
            CLOSE(w[i], wv[k]);
            CLOSE(dw[i], dv[k]);
        }
    }
    float w2 = 2.0f, d2 = 0.0f, g2 = 1.0f;
    sgd_hinton_step(&w2, &d2, &g2, 1, 0.1f, 0.0f, 0.5f);
    CLOSE(w2, 1.8);
}
END_TEST

START_TEST(test_maxnorm)
{
    /* rows: norm 5 -> scaled to 2; norm 1 and 0 -> untouched; norm exactly
     * 2 -> untouched; (1,2,2) norm 3 -> (2/3, 4/3, 4/3) */
    float w[5 * 3] = {3, 4, 0,   0.6f, 0.8f, 0,   0, 0, 0,
                      0, 2, 0,   1, 2, 2};
    float orig[15];
    memcpy(orig, w, sizeof w);
    maxnorm_apply(w, 5, 3, 2.0f);
    CLOSE(w[0], 1.2);
    CLOSE(w[1], 1.6);
    ck_assert(w[2] == 0.0f);
    ck_assert(memcmp(w + 3, orig + 3, 9 * sizeof *w) == 0);
    CLOSE(w[12], 2.0 / 3.0);
    CLOSE(w[13], 4.0 / 3.0);
    CLOSE(w[14], 4.0 / 3.0);
    /* c <= 0 disables */
    memcpy(w, orig, sizeof w);
    maxnorm_apply(w, 5, 3, 0.0f);
    maxnorm_apply(w, 5, 3, -1.0f);
    ck_assert(memcmp(w, orig, sizeof w) == 0);
    /* idempotent: a projected row stays put */
    maxnorm_apply(w, 5, 3, 2.0f);
    float again[15];
    memcpy(again, w, sizeof w);
    maxnorm_apply(again, 5, 3, 2.0f);
    for (size_t i = 0; i < 15; i++)
        CLOSE(again[i], w[i]);
}
END_TEST

START_TEST(test_sumsq_scale)
{
    float x[3] = {1, -2, 3};
    ck_assert(sumsq(x, 3) == 14.0);
    ck_assert(sumsq(x, 0) == 0.0);
    /* 3e7^2 + 1 = 900000000000001 is exact in double, lost in float */
    float y[2] = {3e7f, 1.0f};
    ck_assert(sumsq(y, 2) == 900000000000001.0);
    scale_inplace(x, 3, 0.5f);
    ck_assert(x[0] == 0.5f && x[1] == -1.0f && x[2] == 1.5f);
    scale_inplace(x, 2, 0.0f);
    ck_assert(x[0] == 0.0f && x[1] == 0.0f && x[2] == 1.5f);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_test(tc, test_momentum);
    tcase_add_test(tc, test_weight_decay);
    tcase_add_test(tc, test_hinton_update);
    tcase_add_test(tc, test_maxnorm);
    tcase_add_test(tc, test_sumsq_scale);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
