/* test_dropout.c - inverted dropout: statistics of the mask, the three group
 * modes, reproducibility from the stream alone, exact identities, rate
 * validation, and the backward pass; locked dropout over time likewise. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "test_numeric.h"
#include "kernels.h"

/* Kept fraction within 4 sigma of 1 - rate over a million draws, and the
 * mean of a constant input preserved by the 1/(1-rate) scaling. */
START_TEST(test_dropout_statistics)
{
    static const float rates[] = {0.1f, 0.3f, 0.5f, 0.9f};
    const size_t n = 1000000;
    float *in = xcalloc(n, 4), *out = xcalloc(n, 4);
    uint8_t *mask = xcalloc(n, 1);
    for (size_t i = 0; i < n; i++)
        in[i] = 1.0f;
    for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
        double rate = rates[k];
        db_rng r;
        db_rng_seed(&r, 42, DB_RNG_DROPOUT, k);
        db_err e;
        ck_assert_msg(dropout_forward(out, mask, in, 1, n, 1, rates[k], 1, &r,
                                      &e) == 0, "%s", e.msg);
        size_t kept = 0, notbyte = 0;
        double sum = 0.0;
        for (size_t i = 0; i < n; i++) {
            notbyte += mask[i] > 1;
            kept += mask[i];
            sum += out[i];
        }
        ck_assert_uint_eq(notbyte, 0);
        double mean = n * (1.0 - rate), sd = sqrt(n * rate * (1.0 - rate));
        ck_assert_msg(fabs((double)kept - mean) <= 4.0 * sd,
                      "rate %g: kept %zu of %zu, expected %g +- %g", rate, kept,
                      n, mean, 4 * sd);
        /* mean(out) = kept / (n (1-rate)); its sd is sqrt(rate/((1-rate) n)) */
        double msd = sqrt(rate / ((1.0 - rate) * n));
        ck_assert_msg(fabs(sum / n - 1.0) <= 4.0 * msd + 1e-6,
                      "rate %g: mean %g, expected 1 +- %g", rate, sum / n,
                      4 * msd);
    }
    free(in), free(out), free(mask);
}
END_TEST

/* Checks out against in for a given mask: kept groups scaled exactly as the
 * kernel documents, dropped groups exactly 0, a whole group shares one fate. */
static void check_groups(const float *out, const uint8_t *mask,
                         const float *in, size_t B, size_t G, size_t S,
                         float rate)
{
    const float scale = 1.0f / (1.0f - rate);
    size_t kept = 0;
    for (size_t i = 0; i < B * G; i++) {
        ck_assert(mask[i] <= 1);
        kept += mask[i];
        for (size_t j = 0; j < S; j++) {
            float want = mask[i] ? in[i * S + j] * scale : 0.0f;
            ck_assert_msg(out[i * S + j] == want, "group %zu elem %zu: %g vs %g",
                          i, j, out[i * S + j], want);
        }
    }
    /* with these sizes and rate 0.5 both fates occur */
    ck_assert_uint_gt(kept, 0);
    ck_assert_uint_lt(kept, B * G);
}

START_TEST(test_dropout_modes)
{
    db_rng r, data;
    db_rng_seed(&data, 1, DB_RNG_TEST, 1);
    /* channel-wise: B=4, C=8, H*W=25 -> one draw per channel map */
    {
        enum { B = 4, G = 8, S = 25 };
        float in[B * G * S], out[B * G * S];
        uint8_t mask[B * G];
        fill(in, B * G * S, &data, 0.5f, 1.5f); /* no zeros: 0 means dropped */
        db_rng_seed(&r, 7, DB_RNG_DROPOUT, 0);
        ck_assert(dropout_forward(out, mask, in, B, G, S, 0.5f, 1, &r, NULL) == 0);
        check_groups(out, mask, in, B, G, S, 0.5f);
        for (size_t i = 0; i < B * G; i++)
            for (size_t j = 1; j < S; j++)
                ck_assert((out[i * S + j] == 0.0f) == (out[i * S] == 0.0f));
    }
    /* per-position: B=3 words of T=10 positions, D=16 -> whole vectors */
    {
        enum { B = 3, G = 10, S = 16 };
        float in[B * G * S], out[B * G * S];
        uint8_t mask[B * G];
        fill(in, B * G * S, &data, 0.5f, 1.5f);
        db_rng_seed(&r, 7, DB_RNG_DROPOUT, 1);
        ck_assert(dropout_forward(out, mask, in, B, G, S, 0.5f, 1, &r, NULL) == 0);
        check_groups(out, mask, in, B, G, S, 0.5f);
    }
    /* element-wise, odd count (last 64-bit draw half used) */
    {
        enum { B = 5, G = 13, S = 1 };
        float in[B * G], out[B * G];
        uint8_t mask[B * G];
        fill(in, B * G, &data, 0.5f, 1.5f);
        db_rng_seed(&r, 7, DB_RNG_DROPOUT, 2);
        ck_assert(dropout_forward(out, mask, in, B, G, S, 0.5f, 1, &r, NULL) == 0);
        check_groups(out, mask, in, B, G, S, 0.5f);
    }
    /* A dropped group is 0 even where the input is inf. */
    {
        float in[64], out[64];
        uint8_t mask[64];
        for (size_t i = 0; i < 64; i++)
            in[i] = INFINITY;
        db_rng_seed(&r, 7, DB_RNG_DROPOUT, 3);
        ck_assert(dropout_forward(out, mask, in, 1, 64, 1, 0.5f, 1, &r, NULL) == 0);
        for (size_t i = 0; i < 64; i++)
            ck_assert(mask[i] ? isinf(out[i]) : out[i] == 0.0f);
    }
}
END_TEST

/* The mask is a function of (seed, site) only: same stream, same mask;
 * another site or seed, another mask; and the stream advances by exactly
 * ceil(B*G/2) draws, whatever S is. */
START_TEST(test_dropout_reproducible)
{
    enum { B = 6, G = 33, S = 4, N = B * G * S };
    float in[N], o1[N], o2[N];
    uint8_t m1[B * G], m2[B * G], m3[B * G], m4[B * G];
    db_rng data;
    db_rng_seed(&data, 3, DB_RNG_TEST, 0);
    fill(in, N, &data, -1, 1);
    db_rng a, b, c, d;
    db_rng_seed(&a, 11, DB_RNG_DROPOUT, 5);
    db_rng_seed(&b, 11, DB_RNG_DROPOUT, 5);
    db_rng_seed(&c, 11, DB_RNG_DROPOUT, 6);
    db_rng_seed(&d, 12, DB_RNG_DROPOUT, 5);
    ck_assert(dropout_forward(o1, m1, in, B, G, S, 0.5f, 1, &a, NULL) == 0);
    ck_assert(dropout_forward(o2, m2, in, B, G, S, 0.5f, 1, &b, NULL) == 0);
    ck_assert(memcmp(m1, m2, sizeof m1) == 0);
    ck_assert(memcmp(o1, o2, sizeof o1) == 0);
    ck_assert(memcmp(&a, &b, sizeof a) == 0);
    ck_assert(dropout_forward(o2, m3, in, B, G, S, 0.5f, 1, &c, NULL) == 0);
    ck_assert(dropout_forward(o2, m4, in, B, G, S, 0.5f, 1, &d, NULL) == 0);
    ck_assert_msg(memcmp(m1, m3, sizeof m1) != 0, "sites 5 and 6 gave one mask");
    ck_assert_msg(memcmp(m1, m4, sizeof m1) != 0, "seeds 11 and 12 gave one mask");

    /* Stream position after the call: 99 draws for 198 groups. */
    db_rng ref;
    db_rng_seed(&ref, 11, DB_RNG_DROPOUT, 5);
    for (size_t i = 0; i < (B * G + 1) / 2; i++)
        db_rng_next(&ref);
    ck_assert(memcmp(&ref, &a, sizeof ref) == 0);
    /* A second call continues the stream: a new mask. */
    ck_assert(dropout_forward(o2, m2, in, B, G, S, 0.5f, 1, &a, NULL) == 0);
    ck_assert(memcmp(m1, m2, sizeof m1) != 0);
}
END_TEST

/* training == 0 and rate 0: bit-exact copies (NaN payloads, -0, inf and
 * denormals included), masks all 1, no random numbers consumed. */
START_TEST(test_dropout_identity)
{
    enum { N = 12 };
    float in[N] = {1.5f, -0.0f, 0.0f, INFINITY, -INFINITY, NAN, 1e-45f,
                   -3.25f, 7.0f, 1e30f, -1e-30f, 0.1f};
    float out[N];
    uint8_t mask[N];
    db_rng r, r0;
    db_rng_seed(&r, 5, DB_RNG_DROPOUT, 0);
    r0 = r;
    static const float rates[] = {0.0f, 0.5f, 0.9f};
    for (int training = 0; training <= 1; training++)
        for (size_t k = 0; k < 3; k++) {
            if (training && rates[k] != 0.0f)
                continue;
            memset(out, 0xAB, sizeof out);
            memset(mask, 7, sizeof mask);
            ck_assert(dropout_forward(out, mask, in, 3, 2, 2, rates[k],
                                      training, &r, NULL) == 0);
            ck_assert_msg(memcmp(out, in, sizeof in) == 0,
                          "training=%d rate=%g is not bit-exact", training,
                          rates[k]);
            for (size_t i = 0; i < 6; i++)
                ck_assert_uint_eq(mask[i], 1);
            ck_assert(memcmp(&r, &r0, sizeof r) == 0);
        }
    /* backward at rate 0 passes the gradient through unchanged */
    float din[N] = {0}, dout[N] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    dropout_backward(din, dout, mask, 3, 2, 2, 0.0f);
    ck_assert(memcmp(din, dout, sizeof din) == 0);
}
END_TEST

START_TEST(test_dropout_rate_validation)
{
    static const struct { float rate; const char *text; } bad[] = {
        {-0.1f, "-0.1"}, {1.0f, "1"}, {1.5f, "1.5"}, {NAN, "nan"},
        {INFINITY, "inf"}};
    float in[4] = {1, 2, 3, 4}, out[4] = {9, 9, 9, 9};
    uint8_t mask[4] = {7, 7, 7, 7};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        for (int training = 0; training <= 1; training++) {
            db_rng r, r0;
            db_rng_seed(&r, 1, DB_RNG_DROPOUT, 0);
            r0 = r;
            db_err e;
            e.msg[0] = 0;
            ck_assert_int_eq(dropout_forward(out, mask, in, 1, 4, 1, bad[k].rate,
                                             training, &r, &e), -1);
            ck_assert_msg(strstr(e.msg, bad[k].text) != NULL,
                          "message does not name %s: %s", bad[k].text, e.msg);
            ck_assert(memcmp(&r, &r0, sizeof r) == 0);
            for (size_t i = 0; i < 4; i++) {
                ck_assert(out[i] == 9.0f);
                ck_assert_uint_eq(mask[i], 7);
            }
            e.msg[0] = 0;
            ck_assert_int_eq(dropout_check_rate(bad[k].rate, &e), -1);
            ck_assert(strstr(e.msg, bad[k].text) != NULL);
        }
    ck_assert_int_eq(dropout_check_rate(0.0, NULL), 0);
    ck_assert_int_eq(dropout_check_rate(0.5, NULL), 0);
    ck_assert_int_eq(dropout_check_rate(0.999999, NULL), 0);
    ck_assert_int_eq(dropout_check_rate(-1e-300, NULL), -1);
    ck_assert_int_eq(dropout_check_rate(1.0, NULL), -1);
}
END_TEST

/* Backward: with the mask forward drew, L = sum(out * R) is linear in the
 * input, and its central-difference gradient in double must match.  Also
 * accumulation and the channel mode. */
/* The two-step form the training team uses (mask drawn once, applied slice
 * by slice) gives dropout_forward's bits and leaves the stream where
 * dropout_forward leaves it, in all three modes and for odd sizes. */
START_TEST(test_dropout_draw_then_apply)
{
    static const size_t GS[][2] = { { 37, 1 }, { 5, 9 }, { 3, 7 } };
    const size_t B = 11;
    for (size_t k = 0; k < 3; k++) {
        const size_t G = GS[k][0], S = GS[k][1], n = B * G * S;
        float *in = xcalloc(n, 4), *o1 = xcalloc(n, 4), *o2 = xcalloc(n, 4);
        uint8_t *m1 = xcalloc(B * G, 1), *m2 = xcalloc(B * G, 1);
        db_rng r, r1, r2;
        db_rng_seed(&r, 4, DB_RNG_TEST, k);
        fill(in, n, &r, -2.0f, 2.0f);
        db_rng_seed(&r1, 5, DB_RNG_DROPOUT, k);
        r2 = r1;
        ck_assert_int_eq(dropout_forward(o1, m1, in, B, G, S, 0.3f, 1, &r1, NULL), 0);
        dropout_draw_mask(m2, B * G, 0.3f, &r2);
        for (size_t lo = 0; lo < B;) {
            size_t nb = lo % 3 + 1 < B - lo ? lo % 3 + 1 : B - lo; /* slices of 1..3 */
            dropout_apply(o2 + lo * G * S, m2 + lo * G, in + lo * G * S, nb, G, S, 0.3f);
            lo += nb;
        }
        ck_assert(memcmp(m1, m2, B * G) == 0);
        ck_assert(memcmp(o1, o2, n * 4) == 0);
        ck_assert(memcmp(&r1, &r2, sizeof r1) == 0);
        size_t kept = 0;
        for (size_t i = 0; i < B * G; i++)
            kept += m1[i];
        ck_assert(kept > 0 && kept < B * G); /* the mask did something */
        free(in), free(o1), free(o2), free(m1), free(m2);
    }
}
END_TEST

START_TEST(test_dropout_backward)
{
    enum { B = 3, G = 5, S = 4, N = B * G * S };
    const float rate = 0.4f;
    db_rng r, data;
    db_rng_seed(&data, 9, DB_RNG_TEST, 9);
    db_rng_seed(&r, 9, DB_RNG_DROPOUT, 0);
    float in[N], out[N], R[N], g[N] = {0}, g2[N];
    uint8_t mask[B * G];
    fill(in, N, &data, -1, 1);
    fill(R, N, &data, -1, 1);
    ck_assert(dropout_forward(out, mask, in, B, G, S, rate, 1, &r, NULL) == 0);
    dropout_backward(g, R, mask, B, G, S, rate);

    double x[N], num[N], gn = 0.0;
    for (size_t i = 0; i < N; i++)
        x[i] = in[i];
    const double eps = 1e-5, scale = 1.0 / (1.0 - (double)rate);
    for (size_t i = 0; i < N; i++) {
        /* reference forward of element i only: the others cancel */
        double keep = mask[i / S] ? scale : 0.0;
        double fp = (x[i] + eps) * keep * R[i], fm = (x[i] - eps) * keep * R[i];
        num[i] = (fp - fm) / (2 * eps);
    }
    for (size_t i = 0; i < N; i++) {
        gn += (double)g[i] * g[i];
        ck_assert_msg(fabs(g[i] - num[i]) <= 1e-3 * fabs(num[i]) + 1e-7,
                      "dropout din[%zu]: %g vs %g", i, g[i], num[i]);
        /* and exactly the documented expression */
        ck_assert(g[i] == (mask[i / S] ? R[i] * (1.0f / (1.0f - rate)) : 0.0f));
    }
    ck_assert(sqrt(gn) > 1e-3);
    memcpy(g2, g, sizeof g);
    dropout_backward(g2, R, mask, B, G, S, rate);
    for (size_t i = 0; i < N; i++)
        ck_assert(g2[i] == 2.0f * g[i]);
    dropout_backward(NULL, R, mask, B, G, S, rate); /* first layer: no-op */
}
END_TEST

/* ---- locked dropout over time ------------------------------------------ */

/* Every step of an example drops the same features (the example's row of
 * the mask), kept values are scaled exactly as documented, and the rows of
 * different examples differ. */
START_TEST(test_locked_constant_over_time)
{
    enum { B = 8, T = 7, D = 37 };
    const float rate = 0.5f, scale = 1.0f / (1.0f - rate);
    float *in = xcalloc(B * T * D, 4), *out = xcalloc(B * T * D, 4);
    uint8_t mask[B * D];
    db_rng r, data;
    db_rng_seed(&data, 2, DB_RNG_TEST, 2);
    fill(in, B * T * D, &data, 0.5f, 1.5f); /* no zeros: 0 means dropped */
    db_rng_seed(&r, 3, DB_RNG_DROPOUT, 0);
    ck_assert(dropout_locked_forward(out, mask, in, B, T, D, rate, 1, &r, NULL) == 0);
    for (size_t b = 0; b < B; b++)
        for (size_t d = 0; d < D; d++) {
            ck_assert(mask[b * D + d] <= 1);
            for (size_t t = 0; t < T; t++) {
                size_t i = (b * T + t) * D + d;
                float want = mask[b * D + d] ? in[i] * scale : 0.0f;
                ck_assert_msg(out[i] == want, "(b %zu, t %zu, d %zu): %g vs %g", b, t,
                              d, out[i], want);
                /* the same features dropped at every step */
                ck_assert((out[i] == 0.0f) == (out[b * T * D + d] == 0.0f));
            }
        }
    size_t differ = 0, kept = 0;
    for (size_t b = 1; b < B; b++)
        differ += memcmp(mask, mask + b * D, D) != 0;
    for (size_t i = 0; i < B * D; i++)
        kept += mask[i];
    ck_assert_msg(differ == B - 1, "only %zu of %d examples differ from the first",
                  differ, B - 1);
    ck_assert(kept > 0 && kept < B * D);
    /* The mask is what dropout_draw_mask draws for B*D values, and the
     * stream ends where it leaves it. */
    uint8_t m2[B * D];
    db_rng r2;
    db_rng_seed(&r2, 3, DB_RNG_DROPOUT, 0);
    dropout_draw_mask(m2, B * D, rate, &r2);
    ck_assert(memcmp(mask, m2, sizeof m2) == 0);
    ck_assert(memcmp(&r, &r2, sizeof r) == 0);
    /* A dropped feature is exactly 0 even where the input is inf. */
    for (size_t i = 0; i < B * T * D; i++)
        in[i] = INFINITY;
    dropout_locked_apply(out, mask, in, B, T, D, rate);
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++)
            for (size_t d = 0; d < D; d++)
                ck_assert(mask[b * D + d] ? isinf(out[(b * T + t) * D + d])
                                          : out[(b * T + t) * D + d] == 0.0f);
    free(in), free(out);
}
END_TEST

/* Kept fraction within 4 sigma of 1 - rate over a million (example,
 * feature) draws, and the mean of a constant sequence preserved by the
 * scaling. */
START_TEST(test_locked_statistics)
{
    static const float rates[] = {0.1f, 0.5f, 0.8f};
    enum { B = 1000, T = 3, D = 1000 };
    float *in = xcalloc((size_t)B * T * D, 4), *out = xcalloc((size_t)B * T * D, 4);
    uint8_t *mask = xcalloc((size_t)B * D, 1);
    for (size_t i = 0; i < (size_t)B * T * D; i++)
        in[i] = 1.0f;
    for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
        const double rate = rates[k], n = (double)B * D;
        db_rng r;
        db_rng_seed(&r, 8, DB_RNG_DROPOUT, k);
        ck_assert(dropout_locked_forward(out, mask, in, B, T, D, rates[k], 1, &r,
                                         NULL) == 0);
        size_t kept = 0;
        double sum = 0.0;
        for (size_t i = 0; i < (size_t)B * D; i++)
            kept += mask[i];
        for (size_t i = 0; i < (size_t)B * T * D; i++)
            sum += out[i];
        double mean = n * (1.0 - rate), sd = sqrt(n * rate * (1.0 - rate));
        ck_assert_msg(fabs((double)kept - mean) <= 4.0 * sd,
                      "rate %g: kept %zu of %g, expected %g +- %g", rate, kept, n,
                      mean, 4 * sd);
        /* T equal copies of each draw: the mean has the sd of n draws */
        double msd = sqrt(rate / ((1.0 - rate) * n));
        ck_assert_msg(fabs(sum / (n * T) - 1.0) <= 4.0 * msd + 1e-6,
                      "rate %g: mean %g, expected 1 +- %g", rate, sum / (n * T),
                      4 * msd);
    }
    free(in), free(out), free(mask);
}
END_TEST

/* rate 0 and training == 0: bit-exact copies, masks all 1, no draws; and
 * the rate is validated. */
START_TEST(test_locked_identity)
{
    enum { B = 2, T = 3, D = 2, N = B * T * D };
    float in[N] = {1.5f, -0.0f, 0.0f, INFINITY, -INFINITY, NAN, 1e-45f,
                   -3.25f, 7.0f, 1e30f, -1e-30f, 0.1f};
    float out[N];
    uint8_t mask[B * D];
    db_rng r, r0;
    db_rng_seed(&r, 5, DB_RNG_DROPOUT, 0);
    r0 = r;
    for (int training = 0; training <= 1; training++) {
        float rate = training ? 0.0f : 0.5f;
        memset(out, 0xAB, sizeof out);
        memset(mask, 7, sizeof mask);
        ck_assert(dropout_locked_forward(out, mask, in, B, T, D, rate, training, &r,
                                         NULL) == 0);
        ck_assert_msg(memcmp(out, in, sizeof in) == 0, "training=%d not bit-exact",
                      training);
        for (size_t i = 0; i < B * D; i++)
            ck_assert_uint_eq(mask[i], 1);
        ck_assert(memcmp(&r, &r0, sizeof r) == 0);
    }
    /* backward at rate 0 with that mask passes the gradient through */
    float din[N] = {0}, dout[N] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    dropout_locked_backward(din, dout, mask, B, T, D, 0.0f);
    ck_assert(memcmp(din, dout, sizeof din) == 0);
    db_err e;
    e.msg[0] = 0;
    memset(out, 0, sizeof out);
    ck_assert_int_eq(dropout_locked_forward(out, mask, in, B, T, D, 1.0f, 1, &r, &e), -1);
    ck_assert_msg(strstr(e.msg, "1") != NULL, "%s", e.msg);
    ck_assert(memcmp(&r, &r0, sizeof r) == 0);
    for (size_t i = 0; i < N; i++)
        ck_assert(out[i] == 0.0f);
}
END_TEST

/* Backward: L = sum(out * R) is linear in the input; its central
 * difference in double, the documented expression exactly, accumulation,
 * NULL, the in-place form, and slices of examples. */
START_TEST(test_locked_backward)
{
    enum { B = 4, T = 5, D = 6, N = B * T * D };
    const float rate = 0.4f;
    db_rng r, data;
    db_rng_seed(&data, 10, DB_RNG_TEST, 10);
    db_rng_seed(&r, 10, DB_RNG_DROPOUT, 0);
    float in[N], out[N], R[N], g[N] = {0}, g2[N], gi[N];
    uint8_t mask[B * D];
    fill(in, N, &data, -1, 1);
    fill(R, N, &data, -1, 1);
    ck_assert(dropout_locked_forward(out, mask, in, B, T, D, rate, 1, &r, NULL) == 0);
    dropout_locked_backward(g, R, mask, B, T, D, rate);
    const double eps = 1e-5, scale = 1.0 / (1.0 - (double)rate);
    double gn = 0.0;
    for (size_t i = 0; i < N; i++) {
        size_t b = i / (T * D), d = i % D;
        /* the reference forward of element i: keep is the example's draw
         * for feature d, whatever the step */
        double keep = mask[b * D + d] ? scale : 0.0, x = in[i];
        double num = ((x + eps) * keep * R[i] - (x - eps) * keep * R[i]) / (2 * eps);
        ck_assert_msg(fabs(g[i] - num) <= 1e-3 * fabs(num) + 1e-7,
                      "locked din[%zu]: %g vs %g", i, g[i], num);
        ck_assert(g[i] == (mask[b * D + d] ? R[i] * (1.0f / (1.0f - rate)) : 0.0f));
        gn += (double)g[i] * g[i];
    }
    ck_assert(sqrt(gn) > 1e-3);
    memcpy(g2, g, sizeof g);
    dropout_locked_backward(g2, R, mask, B, T, D, rate);
    for (size_t i = 0; i < N; i++)
        ck_assert(g2[i] == 2.0f * g[i]);
    dropout_locked_backward(NULL, R, mask, B, T, D, rate); /* no-op */
    memcpy(gi, R, sizeof R);
    dropout_locked_backward_inplace(gi, mask, B, T, D, rate);
    ck_assert(memcmp(gi, g, sizeof g) == 0);
    /* slices of 1 and 3 examples give the whole batch's bits */
    float o2[N];
    dropout_locked_apply(o2, mask, in, 1, T, D, rate);
    dropout_locked_apply(o2 + T * D, mask + D, in + T * D, B - 1, T, D, rate);
    ck_assert(memcmp(o2, out, sizeof out) == 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("dropout");
    TCase *tc = tcase_create("dropout");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_dropout_statistics);
    tcase_add_test(tc, test_dropout_modes);
    tcase_add_test(tc, test_dropout_reproducible);
    tcase_add_test(tc, test_dropout_identity);
    tcase_add_test(tc, test_dropout_rate_validation);
    tcase_add_test(tc, test_dropout_backward);
    tcase_add_test(tc, test_dropout_draw_then_apply);
    tcase_add_test(tc, test_locked_constant_over_time);
    tcase_add_test(tc, test_locked_statistics);
    tcase_add_test(tc, test_locked_identity);
    tcase_add_test(tc, test_locked_backward);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
