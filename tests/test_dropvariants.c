/* test_dropvariants.c - Gaussian dropout, DropConnect and DropBlock:
 * statistics of the noise and masks (4-sigma bounds), the draws against the
 * documented stream use, exact identities (rate 0, evaluation: no random
 * numbers consumed), validation, and gradient checks against central
 * differences in double (through a dense product for DropConnect). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "test_numeric.h"
#include "kernels.h"

/* Input values that a bit-exact copy must preserve. */
static const float specials[12] = { 1.5f, -0.0f, 0.0f, INFINITY, -INFINITY, NAN,
                                    1e-45f, -3.25f, 7.0f, 1e30f, -1e-30f, 0.1f };

/* ---- Gaussian dropout ---------------------------------------------------- */

/* Over a million factors: mean 1 within 4 sigma/sqrt(n), variance
 * rate/(1-rate) within 4 sd of the sample variance (sd sigma^2 sqrt(2/(n-1))
 * for normal samples), and the output of a constant input likewise. */
START_TEST(test_gauss_statistics)
{
    static const float rates[] = { 0.1f, 0.5f, 0.8f };
    const size_t n = 1000000;
    float *in = xcalloc(n, 4), *out = xcalloc(n, 4), *noise = xcalloc(n, 4);
    for (size_t i = 0; i < n; i++)
        in[i] = 2.0f;
    for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
        const double rate = rates[k], v = rate / (1.0 - rate);
        db_rng r;
        db_rng_seed(&r, 21, DB_RNG_DROPOUT, k);
        db_err e;
        ck_assert_msg(dropout_gauss_forward(out, noise, in, 1, n, 1, rates[k], 1, &r, &e)
                          == 0, "%s", e.msg);
        double s = 0.0, so = 0.0, q = 0.0;
        size_t neg = 0;
        for (size_t i = 0; i < n; i++) {
            s += noise[i];
            so += out[i];
            neg += noise[i] < 0.0f;
        }
        const double mean = s / n;
        for (size_t i = 0; i < n; i++)
            q += (noise[i] - mean) * (noise[i] - mean);
        const double var = q / (n - 1), msd = sqrt(v / n), vsd = v * sqrt(2.0 / (n - 1));
        ck_assert_msg(fabs(mean - 1.0) <= 4 * msd, "rate %g: mean %.6f, want 1 +- %.6f",
                      rate, mean, 4 * msd);
        ck_assert_msg(fabs(var - v) <= 4 * vsd, "rate %g: variance %.6f, want %.6f +- %.6f",
                      rate, var, v, 4 * vsd);
        ck_assert_msg(fabs(so / n - 2.0) <= 8 * msd, "rate %g: output mean %.6f", rate,
                      so / n);
        /* the noise is not truncated: at rate 0.5 (sigma 1) P(noise < 0) is
         * Phi(-1) = 0.1587 */
        if (k == 1)
            ck_assert_msg(fabs(neg / (double)n - 0.158655) <= 4 * sqrt(0.1587 * 0.8413 / n),
                          "negative fraction %g", neg / (double)n);
    }
    free(in), free(out), free(noise);
}
END_TEST

/* The draw is the documented Box-Muller on the stream, both values of a
 * pair used; it advances the stream by 2 ceil(n/2) numbers; one factor per
 * group; the two-step form gives the same bits. */
START_TEST(test_gauss_draws)
{
    enum { B = 3, G = 5, S = 7, N = B * G * S }; /* B*G = 15: odd */
    const float rate = 0.3f;
    float in[N], out[N], o2[N], noise[B * G], n2[B * G];
    db_rng data, r, r2, ref;
    db_rng_seed(&data, 1, DB_RNG_TEST, 22);
    fill(in, N, &data, -1.0f, 1.0f);
    db_rng_seed(&r, 2, DB_RNG_DROPOUT, 0);
    r2 = r;
    ref = r;
    ck_assert(dropout_gauss_forward(out, noise, in, B, G, S, rate, 1, &r, NULL) == 0);
    const double sigma = sqrt((double)rate / (1.0 - (double)rate)); /* of the float rate */
    for (size_t i = 0; i < B * G; i += 2) {
        double u1 = 1.0 - db_rng_uniform_d(&ref), u2 = db_rng_uniform_d(&ref);
        double rr = sqrt(-2.0 * log(u1));
        ck_assert(noise[i] == (float)(1.0 + sigma * rr * cos(6.283185307179586 * u2)));
        if (i + 1 < B * G)
            ck_assert(noise[i + 1] ==
                      (float)(1.0 + sigma * rr * sin(6.283185307179586 * u2)));
    }
    ck_assert(memcmp(&r, &ref, sizeof r) == 0); /* 16 numbers for 15 factors */
    for (size_t i = 0; i < N; i++)
        ck_assert(out[i] == in[i] * noise[i / S]);
    dropout_gauss_draw(n2, B * G, rate, &r2);
    ck_assert(memcmp(noise, n2, sizeof n2) == 0);
    dropout_gauss_apply(o2, n2, in, 1, G, S);
    dropout_gauss_apply(o2 + G * S, n2 + G, in + G * S, B - 1, G, S);
    ck_assert(memcmp(out, o2, sizeof out) == 0);
    /* element-wise (S = 1) through the vector path, odd length */
    float e_in[13], e_out[13];
    memcpy(e_in, in, sizeof e_in);
    dropout_gauss_apply(e_out, noise, e_in, 1, 13, 1);
    for (size_t i = 0; i < 13; i++)
        ck_assert(e_out[i] == e_in[i] * noise[i]);
    /* distinct draws */
    size_t distinct = 0;
    for (size_t i = 1; i < B * G; i++)
        distinct += noise[i] != noise[0];
    ck_assert_uint_eq(distinct, B * G - 1);
}
END_TEST

START_TEST(test_gauss_identity)
{
    float out[12], noise[6];
    db_rng r, r0;
    db_rng_seed(&r, 5, DB_RNG_DROPOUT, 0);
    r0 = r;
    for (int training = 0; training <= 1; training++) {
        float rate = training ? 0.0f : 0.5f;
        memset(out, 0xAB, sizeof out);
        memset(noise, 0xAB, sizeof noise);
        ck_assert(dropout_gauss_forward(out, noise, specials, 3, 2, 2, rate, training, &r,
                                        NULL) == 0);
        ck_assert_msg(memcmp(out, specials, sizeof out) == 0, "training=%d", training);
        for (size_t i = 0; i < 6; i++)
            ck_assert(noise[i] == 1.0f);
        ck_assert(memcmp(&r, &r0, sizeof r) == 0);
    }
    float din[12] = { 0 }, dout[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    dropout_gauss_backward(din, dout, noise, 3, 2, 2);
    ck_assert(memcmp(din, dout, sizeof din) == 0);
    /* bad rates: -1, nothing touched */
    db_err e;
    e.msg[0] = 0;
    memset(out, 0, sizeof out);
    ck_assert_int_eq(dropout_gauss_forward(out, noise, specials, 3, 2, 2, 1.0f, 1, &r, &e),
                     -1);
    ck_assert(strstr(e.msg, "1") != NULL);
    ck_assert_int_eq(dropout_gauss_forward(out, noise, specials, 3, 2, 2, NAN, 0, &r, &e),
                     -1);
    ck_assert(memcmp(&r, &r0, sizeof r) == 0);
    for (size_t i = 0; i < 12; i++)
        ck_assert(out[i] == 0.0f);
}
END_TEST

/* L = sum(out * R) against central differences of a double forward with
 * the drawn noise; the exact expression; accumulation; in place; NULL. */
START_TEST(test_gauss_backward)
{
    static const size_t GS[][2] = { { 5, 4 }, { 11, 1 } };
    for (size_t k = 0; k < 2; k++) {
        const size_t B = 3, G = GS[k][0], S = GS[k][1], N = B * G * S;
        float *in = xcalloc(N, 4), *out = xcalloc(N, 4), *R = xcalloc(N, 4),
              *g = xcalloc(N, 4), *g2 = xcalloc(N, 4), *noise = xcalloc(B * G, 4);
        db_rng r, data;
        db_rng_seed(&data, 3, DB_RNG_TEST, 22);
        db_rng_seed(&r, 3, DB_RNG_DROPOUT, k);
        fill(in, N, &data, -1, 1);
        fill(R, N, &data, -1, 1);
        ck_assert(dropout_gauss_forward(out, noise, in, B, G, S, 0.4f, 1, &r, NULL) == 0);
        dropout_gauss_backward(g, R, noise, B, G, S);
        double *num = xcalloc(N, 8);
        const double eps = 1e-5;
        for (size_t i = 0; i < N; i++) {
            double f = noise[i / S], x = in[i];
            num[i] = ((x + eps) * f * R[i] - (x - eps) * f * R[i]) / (2 * eps);
        }
        check_grad("gaussian dropout din", g, num, N);
        for (size_t i = 0; i < N; i++)
            ck_assert(g[i] == R[i] * noise[i / S]);
        memcpy(g2, g, N * 4);
        dropout_gauss_backward(g2, R, noise, B, G, S);
        for (size_t i = 0; i < N; i++)
            ck_assert(g2[i] == 2.0f * g[i]);
        memcpy(g2, R, N * 4);
        dropout_gauss_backward_inplace(g2, noise, B, G, S);
        ck_assert(memcmp(g2, g, N * 4) == 0);
        dropout_gauss_backward(NULL, R, noise, B, G, S);
        free(in), free(out), free(R), free(g), free(g2), free(noise), free(num);
    }
}
END_TEST

/* ---- DropConnect --------------------------------------------------------- */

/* A 1000 x 1000 weight matrix: kept fraction within 4 sigma of 1 - rate,
 * kept weights exactly w / (1 - rate), dropped exactly 0; the mask is
 * dropout_draw_mask's over O*In values, and dropconnect_apply on slices
 * forms the same W'.  Then E[W'] = W: the mean of W'
 * over 4000 draws of a small W within 4 sigma of W, element by element. */
START_TEST(test_dropconnect_statistics)
{
    enum { O = 1000, I = 1000 };
    const size_t n = (size_t)O * I;
    float *w = xcalloc(n, 4), *wm = xcalloc(n, 4);
    uint8_t *mask = xcalloc(n, 1), *m2 = xcalloc(n, 1);
    db_rng data;
    db_rng_seed(&data, 4, DB_RNG_TEST, 22);
    fill(w, n, &data, 0.5f, 1.5f);
    static const float rates[] = { 0.2f, 0.5f };
    for (size_t k = 0; k < 2; k++) {
        const float rate = rates[k];
        const float scale = 1.0f / (1.0f - rate);
        db_rng r, r2;
        db_rng_seed(&r, 4, DB_RNG_DROPOUT, k);
        r2 = r;
        ck_assert(dropconnect_forward(wm, mask, w, O, I, rate, 1, &r, NULL) == 0);
        size_t kept = 0, bad = n;
        for (size_t i = 0; i < n; i++) {
            kept += mask[i];
            if (bad == n && !(mask[i] <= 1 && wm[i] == (mask[i] ? w[i] * scale : 0.0f)))
                bad = i;
        }
        ck_assert_msg(bad == n, "weight %zu: %g from %g, mask %d", bad, wm[bad], w[bad],
                      mask[bad]);
        const double mean = n * (1.0 - rate), sd = sqrt(n * rate * (1.0 - rate));
        ck_assert_msg(fabs(kept - mean) <= 4 * sd, "rate %g: kept %zu, want %g +- %g",
                      rate, kept, mean, 4 * sd);
        dropout_draw_mask(m2, n, rate, &r2);
        ck_assert(memcmp(mask, m2, n) == 0);
        ck_assert(memcmp(&r, &r2, sizeof r) == 0);
        /* the two-step form: the mask applied to two slices of rows (an
         * odd split, through the scalar tail) gives the same W' */
        float *wm2 = xcalloc(n, 4);
        dropconnect_apply(wm2, m2, w, 3 * I + 1, rate);
        dropconnect_apply(wm2 + 3 * I + 1, m2 + 3 * I + 1, w + 3 * I + 1, n - 3 * I - 1, rate);
        ck_assert(memcmp(wm2, wm, n * 4) == 0);
        free(wm2);
    }
    /* E[W'] = W */
    enum { SO = 4, SI = 5, DRAWS = 4000 };
    const float rate = 0.4f;
    float sw[SO * SI], swm[SO * SI];
    uint8_t sm[SO * SI];
    double acc[SO * SI] = { 0 };
    fill(sw, SO * SI, &data, -1.0f, 1.0f);
    db_rng r;
    db_rng_seed(&r, 5, DB_RNG_DROPOUT, 0);
    for (size_t d = 0; d < DRAWS; d++) {
        ck_assert(dropconnect_forward(swm, sm, sw, SO, SI, rate, 1, &r, NULL) == 0);
        for (size_t i = 0; i < SO * SI; i++)
            acc[i] += swm[i];
    }
    for (size_t i = 0; i < SO * SI; i++) {
        /* W' = w m / (1-rate): variance w^2 rate / (1 - rate) */
        double sd = fabs(sw[i]) * sqrt(rate / (1.0 - rate) / DRAWS);
        ck_assert_msg(fabs(acc[i] / DRAWS - sw[i]) <= 4 * sd + 1e-6,
                      "weight %zu: mean %g, want %g +- %g", i, acc[i] / DRAWS, sw[i], 4 * sd);
    }
    free(w), free(wm), free(mask), free(m2);
}
END_TEST

START_TEST(test_dropconnect_identity)
{
    float wm[12];
    uint8_t mask[12];
    db_rng r, r0;
    db_rng_seed(&r, 6, DB_RNG_DROPOUT, 0);
    r0 = r;
    for (int training = 0; training <= 1; training++) {
        memset(wm, 0xAB, sizeof wm);
        memset(mask, 7, sizeof mask);
        ck_assert(dropconnect_forward(wm, mask, specials, 3, 4, training ? 0.0f : 0.5f,
                                      training, &r, NULL) == 0);
        ck_assert(memcmp(wm, specials, sizeof wm) == 0);
        for (size_t i = 0; i < 12; i++)
            ck_assert_uint_eq(mask[i], 1);
        ck_assert(memcmp(&r, &r0, sizeof r) == 0);
    }
    db_err e;
    e.msg[0] = 0;
    ck_assert_int_eq(dropconnect_forward(wm, mask, specials, 3, 4, -0.5f, 1, &r, &e), -1);
    ck_assert(strstr(e.msg, "-0.5") != NULL);
    ck_assert(memcmp(&r, &r0, sizeof r) == 0);
    /* a dropped weight is exactly 0 even when it is inf or NaN */
    uint8_t m[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
    dropconnect_apply(wm, m, specials, 12, 0.5f);
    for (size_t i = 0; i < 12; i++)
        ck_assert(wm[i] == 0.0f);
}
END_TEST

/* Through a dense layer: out = in W'^T + b, W' = W m / (1 - rate).  The
 * dense kernels run on W', dropconnect_backward maps dW' to dW; all three
 * gradients against central differences of a double forward with the
 * drawn mask.  A dropped weight's gradient is exactly 0. */
typedef struct {
    size_t B, I, O;
    double *in, *w, *b, *R;
    const uint8_t *mask;
    double scale;
} dc_ctx;

static double dc_loss(void *p)
{
    dc_ctx *c = p;
    double L = 0.0;
    for (size_t n = 0; n < c->B; n++)
        for (size_t o = 0; o < c->O; o++) {
            double acc = c->b[o];
            for (size_t i = 0; i < c->I; i++)
                acc += c->in[n * c->I + i] * c->w[o * c->I + i] *
                       (c->mask[o * c->I + i] ? c->scale : 0.0);
            L += acc * c->R[n * c->O + o];
        }
    return L;
}

START_TEST(test_dropconnect_backward)
{
    enum { B = 3, I = 6, O = 5 };
    const float rate = 0.4f;
    float in[B * I], w[O * I], b[O], R[B * O], wm[O * I], out[B * O];
    float din[B * I] = { 0 }, dwm[O * I] = { 0 }, db[O] = { 0 }, dw[O * I] = { 0 };
    uint8_t mask[O * I];
    db_rng data, r;
    db_rng_seed(&data, 7, DB_RNG_TEST, 22);
    db_rng_seed(&r, 7, DB_RNG_DROPOUT, 0);
    fill(in, B * I, &data, -1, 1);
    fill(w, O * I, &data, -1, 1);
    fill(b, O, &data, -1, 1);
    fill(R, B * O, &data, -1, 1);
    ck_assert(dropconnect_forward(wm, mask, w, O, I, rate, 1, &r, NULL) == 0);
    dense_forward(out, in, wm, b, B, I, O);
    dense_backward(din, dwm, db, R, in, wm, B, I, O);
    dropconnect_backward(dw, dwm, mask, O * I, rate);

    dc_ctx c = { B, I, O, to_d(in, B * I), to_d(w, O * I), to_d(b, O), to_d(R, B * O),
                 mask, 1.0 / (1.0 - (double)rate) };
    double gin[B * I], gw[O * I], gb[O];
    numgrad(gin, c.in, B * I, dc_loss, &c);
    numgrad(gw, c.w, O * I, dc_loss, &c);
    numgrad(gb, c.b, O, dc_loss, &c);
    check_grad("dropconnect din", din, gin, B * I);
    check_grad("dropconnect dw", dw, gw, O * I);
    check_grad("dropconnect db", db, gb, O);
    size_t kept = 0;
    for (size_t i = 0; i < O * I; i++) {
        kept += mask[i];
        if (!mask[i])
            ck_assert(dw[i] == 0.0f);
        else
            ck_assert(dw[i] == dwm[i] * (1.0f / (1.0f - rate)));
    }
    ck_assert(kept > 0 && kept < O * I);
    /* accumulates */
    float dw2[O * I];
    memcpy(dw2, dw, sizeof dw);
    dropconnect_backward(dw2, dwm, mask, O * I, rate);
    for (size_t i = 0; i < O * I; i++)
        ck_assert(dw2[i] == 2.0f * dw[i]);
    free(c.in), free(c.w), free(c.b), free(c.R);
}
END_TEST

/* ---- DropBlock ----------------------------------------------------------- */

/* The mask the documentation describes, built from the stream directly:
 * uniforms in (b, c, i, j) order over the valid top-left corners, low half
 * first; the square of a drawn centre zeroed. */
static void dropblock_ref_mask(uint8_t *mask, size_t B, size_t C, size_t H, size_t W,
                               size_t block, double rate, db_rng *r)
{
    const size_t bh = block < H ? block : H, bw = block < W ? block : W;
    const double gamma = rate / (double)(bh * bw) * (double)(H * W) /
                         (double)((H - bh + 1) * (W - bw + 1));
    const uint64_t thr = (uint64_t)llround(gamma * 4294967296.0);
    size_t k = 0;
    uint64_t u = 0;
    memset(mask, 1, B * C * H * W);
    for (size_t p = 0; p < B * C; p++)
        for (size_t i = 0; i + bh <= H; i++)
            for (size_t j = 0; j + bw <= W; j++, k++) {
                if (k % 2 == 0)
                    u = db_rng_next(r);
                uint64_t v = k % 2 ? u >> 32 : u & 0xffffffffu;
                if (v < thr)
                    for (size_t y = i; y < i + bh; y++)
                        for (size_t x = j; x < j + bw; x++)
                            mask[p * H * W + y * W + x] = 0;
            }
}

/* Every dropped unit lies in a bh x bw square of dropped units inside the
 * map: the zeros are a union of whole squares. */
static int zeros_are_squares(const uint8_t *m, size_t H, size_t W, size_t bh, size_t bw)
{
    for (size_t y = 0; y < H; y++)
        for (size_t x = 0; x < W; x++) {
            if (m[y * W + x])
                continue;
            int found = 0;
            for (size_t i = y + 1 >= bh ? y + 1 - bh : 0; !found && i <= y && i + bh <= H; i++)
                for (size_t j = x + 1 >= bw ? x + 1 - bw : 0; !found && j <= x && j + bw <= W;
                     j++) {
                    int all = 1;
                    for (size_t a = i; all && a < i + bh; a++)
                        for (size_t b = j; all && b < j + bw; b++)
                            all = !m[a * W + b];
                    found = all;
                }
            if (!found)
                return 0;
        }
    return 1;
}

/* gamma as the paper's formula; the block clamped to the map; the exact
 * expected rate of a hand-checked case. */
START_TEST(test_dropblock_gamma)
{
    ck_assert(fabs(dropblock_gamma(16, 16, 3, 0.1) - 0.1 / 9 * 256 / 196) < 1e-15);
    ck_assert(fabs(dropblock_gamma(12, 20, 5, 0.2) - 0.2 / 25 * 240 / (8 * 16)) < 1e-15);
    ck_assert(fabs(dropblock_gamma(7, 7, 9, 0.3) - 0.3) < 1e-15); /* one 7x7 block */
    ck_assert(fabs(dropblock_gamma(5, 9, 1, 0.3) - 0.3) < 1e-15); /* block 1 = dropout */
    /* mean over the 16x16 map of 1 - (1 - gamma)^k, k = covering centres
     * (3 x 3 inside, fewer at the edges): 0.0951514, worked out separately */
    ck_assert_msg(fabs(dropblock_expected_rate(16, 16, 3, 0.1) - 0.09515139112289) < 1e-12,
                  "%.14f", dropblock_expected_rate(16, 16, 3, 0.1));
    ck_assert(fabs(dropblock_expected_rate(7, 7, 7, 0.1) - 0.1) < 1e-12);
    ck_assert(fabs(dropblock_expected_rate(6, 5, 1, 0.25) - 0.25) < 1e-12);
}
END_TEST

/* The mask is the documented draw (odd and even blocks, non-square maps,
 * an odd centre count), the stream ends where the documentation says, the
 * zeros are whole squares, every (example, channel) has its own mask, and
 * out = mask ? in * scale : 0 with scale = count / kept over the batch. */
START_TEST(test_dropblock_mask)
{
    static const size_t cases[][5] = {
        /* B, C, H, W, block; odd centre counts per map (7 x 9, 5 x 7) make a
         * 64-bit number straddle two maps */
        { 3, 4, 9, 11, 3 }, { 2, 5, 10, 8, 4 }, { 2, 3, 7, 7, 1 }, { 3, 3, 5, 6, 9 },
        { 1, 3, 6, 8, 2 }, /* 5 x 7 centres a map, 105 in all: the last high half unused */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const size_t B = cases[k][0], C = cases[k][1], H = cases[k][2], W = cases[k][3],
                     blk = cases[k][4], n = B * C * H * W;
        const size_t bh = blk < H ? blk : H, bw = blk < W ? blk : W;
        const float rate = 0.3f;
        float *in = xcalloc(n, 4), *out = xcalloc(n, 4), *o2 = xcalloc(n, 4), scale;
        uint8_t *mask = xcalloc(n, 1), *ref = xcalloc(n, 1), *m2 = xcalloc(n, 1);
        db_rng data, r, r2, r3;
        db_rng_seed(&data, 8, DB_RNG_TEST, k);
        fill(in, n, &data, 0.5f, 1.5f);
        db_rng_seed(&r, 8, DB_RNG_DROPOUT, k);
        r2 = r3 = r;
        ck_assert(dropblock_forward(out, mask, &scale, in, B, C, H, W, blk, rate, 1, &r,
                                    NULL) == 0);
        dropblock_ref_mask(ref, B, C, H, W, blk, rate, &r2);
        ck_assert_msg(memcmp(mask, ref, n) == 0, "case %zu: mask differs from the draw", k);
        ck_assert_msg(memcmp(&r, &r2, sizeof r) == 0, "case %zu: stream position", k);
        size_t kept = 0;
        for (size_t i = 0; i < n; i++)
            kept += mask[i];
        ck_assert(kept > 0 && kept < n);
        ck_assert(scale == (float)((double)n / (double)kept));
        for (size_t i = 0; i < n; i++)
            ck_assert(out[i] == (mask[i] ? in[i] * scale : 0.0f));
        for (size_t p = 0; p < B * C; p++)
            ck_assert_msg(zeros_are_squares(mask + p * H * W, H, W, bh, bw),
                          "case %zu map %zu: zeros are not whole squares", k, p);
        /* maps differ across examples and channels (not a tiled copy), in
         * the cases with enough centres to tell */
        if (H - bh + 1 >= 4) {
            size_t same = 0;
            for (size_t p = 1; p < B * C; p++)
                same += memcmp(mask, mask + p * H * W, H * W) == 0;
            ck_assert_msg(same < (B * C - 1) / 2, "case %zu: %zu maps equal the first", k,
                          same);
        }
        /* two steps, applied to slices of examples */
        float s2 = dropblock_draw_mask(m2, B, C, H, W, blk, rate, &r3);
        ck_assert(s2 == scale && memcmp(m2, mask, n) == 0);
        const size_t ex = C * H * W;
        dropblock_apply(o2, m2, in, ex, s2);
        dropblock_apply(o2 + ex, m2 + ex, in + ex, n - ex, s2);
        ck_assert(memcmp(o2, out, n * 4) == 0);
        free(in), free(out), free(o2), free(mask), free(ref), free(m2);
    }
}
END_TEST

/* The dropped fraction over 20000 maps of 16x16 (block 3, rate 0.1; and
 * block 5, rate 0.3) against the expected rate the gamma formula implies
 * (dropblock_expected_rate: below the nominal rate because squares
 * overlap), within 4 sd of the mean of independent per-map fractions (sd
 * estimated from those fractions).  The expected rate's gap to the nominal
 * rate, worked out separately, is 0.00485 below 0.1 (5% relative) and
 * 0.0498 below 0.3 (17%): the first-order formula ignores overlaps, which
 * grow with gamma and the block's area.  The scale makes the batch's mean
 * output equal its mean input for a constant input. */
START_TEST(test_dropblock_statistics)
{
    static const struct { size_t block; float rate; double want; } cases[] = {
        { 3, 0.1f, 0.0951514 }, { 5, 0.3f, 0.2502105 } };
    enum { B = 200, C = 100, H = 16, W = 16 };
    const size_t maps = (size_t)B * C, n = maps * H * W;
    uint8_t *mask = xcalloc(n, 1);
    for (size_t k = 0; k < 2; k++) {
        db_rng r;
        db_rng_seed(&r, 9, DB_RNG_DROPOUT, k);
        float scale = dropblock_draw_mask(mask, B, C, H, W, cases[k].block, cases[k].rate, &r);
        double s = 0.0, q = 0.0;
        size_t kept = 0;
        for (size_t p = 0; p < maps; p++) {
            size_t dropped = 0;
            for (size_t i = 0; i < H * W; i++)
                dropped += !mask[p * H * W + i];
            kept += H * W - dropped;
            double f = dropped / (double)(H * W);
            s += f;
            q += f * f;
        }
        const double mean = s / maps, var = (q - s * s / maps) / (maps - 1);
        const double sd = sqrt(var / maps);
        const double want = dropblock_expected_rate(H, W, cases[k].block, cases[k].rate);
        fprintf(stderr, "dropblock %dx%d block %zu rate %.2f: gamma %.6f, measured "
                        "dropped fraction %.5f +- %.5f (1 sd), expected %.5f, nominal "
                        "%.2f (gap %.5f)\n", H, W, cases[k].block, cases[k].rate,
                dropblock_gamma(H, W, cases[k].block, cases[k].rate), mean, sd, want,
                cases[k].rate, cases[k].rate - mean);
        ck_assert_msg(fabs(mean - want) <= 4 * sd, "block %zu: dropped %.5f, expected %.5f "
                      "+- %.5f", cases[k].block, mean, want, 4 * sd);
        ck_assert_msg(fabs(want - cases[k].want) < 1e-7, "expected rate %.8f", want);
        ck_assert(scale == (float)((double)n / (double)kept));
        /* scale * kept fraction = 1: a constant input keeps its batch mean */
        ck_assert(fabs(scale * (kept / (double)n) - 1.0) < 1e-6);
    }
    free(mask);
}
END_TEST

START_TEST(test_dropblock_identity)
{
    float out[12], scale;
    uint8_t mask[12];
    db_rng r, r0;
    db_rng_seed(&r, 10, DB_RNG_DROPOUT, 0);
    r0 = r;
    for (int training = 0; training <= 1; training++) {
        memset(out, 0xAB, sizeof out);
        memset(mask, 7, sizeof mask);
        scale = 7.0f;
        ck_assert(dropblock_forward(out, mask, &scale, specials, 1, 3, 2, 2, 2,
                                    training ? 0.0f : 0.5f, training, &r, NULL) == 0);
        ck_assert(memcmp(out, specials, sizeof out) == 0);
        for (size_t i = 0; i < 12; i++)
            ck_assert_uint_eq(mask[i], 1);
        ck_assert(scale == 1.0f);
        ck_assert(memcmp(&r, &r0, sizeof r) == 0);
    }
    float din[12] = { 0 }, dout[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    dropblock_backward(din, dout, mask, 12, scale);
    ck_assert(memcmp(din, dout, sizeof din) == 0);
    /* validation: nothing touched */
    db_err e;
    memset(out, 0, sizeof out);
    e.msg[0] = 0;
    ck_assert_int_eq(dropblock_forward(out, mask, &scale, specials, 1, 3, 2, 2, 0, 0.5f, 1,
                                       &r, &e), -1);
    ck_assert(strstr(e.msg, "block size 0") != NULL);
    e.msg[0] = 0;
    ck_assert_int_eq(dropblock_forward(out, mask, &scale, specials, 1, 3, 2, 2, 2, 1.5f, 1,
                                       &r, &e), -1);
    ck_assert(strstr(e.msg, "1.5") != NULL);
    ck_assert(memcmp(&r, &r0, sizeof r) == 0);
    for (size_t i = 0; i < 12; i++)
        ck_assert(out[i] == 0.0f && mask[i] == 1);
    /* every unit dropped: scale 0, out all exactly 0 (not NaN) even for
     * inf inputs.  One 4x4 block per map at rate 0.99 (gamma 0.99): the
     * first seed that drops both maps. */
    float big[32], bout[32];
    uint8_t bmask[32];
    for (size_t i = 0; i < 32; i++)
        big[i] = i % 2 ? INFINITY : 1.0f;
    int seen = 0;
    for (uint64_t seed = 0; seed < 100 && !seen; seed++) {
        db_rng_seed(&r, seed, DB_RNG_DROPOUT, 0);
        ck_assert(dropblock_forward(bout, bmask, &scale, big, 2, 1, 4, 4, 4, 0.99f, 1, &r,
                                    NULL) == 0);
        size_t kept = 0;
        for (size_t i = 0; i < 32; i++)
            kept += bmask[i];
        if (kept)
            continue;
        seen = 1;
        ck_assert(scale == 0.0f);
        for (size_t i = 0; i < 32; i++)
            ck_assert(bout[i] == 0.0f);
    }
    ck_assert(seen);
}
END_TEST

/* L = sum(out * R), linear in the input for the drawn mask and scale:
 * central differences, the exact expression, accumulation, in place, NULL. */
START_TEST(test_dropblock_backward)
{
    enum { B = 2, C = 3, H = 7, W = 5, N = B * C * H * W }; /* N % 4 = 2: the scalar tail */
    float in[N], out[N], R[N], g[N] = { 0 }, g2[N], scale;
    uint8_t mask[N];
    db_rng data, r;
    db_rng_seed(&data, 11, DB_RNG_TEST, 22);
    db_rng_seed(&r, 11, DB_RNG_DROPOUT, 0);
    fill(in, N, &data, -1, 1);
    fill(R, N, &data, -1, 1);
    ck_assert(dropblock_forward(out, mask, &scale, in, B, C, H, W, 2, 0.3f, 1, &r, NULL) ==
              0);
    dropblock_backward(g, R, mask, N, scale);
    double num[N];
    const double eps = 1e-5;
    size_t kept = 0;
    for (size_t i = 0; i < N; i++) {
        double f = mask[i] ? scale : 0.0, x = in[i];
        num[i] = ((x + eps) * f * R[i] - (x - eps) * f * R[i]) / (2 * eps);
        kept += mask[i];
    }
    ck_assert(kept > 0 && kept < N);
    check_grad("dropblock din", g, num, N);
    for (size_t i = 0; i < N; i++)
        ck_assert(g[i] == (mask[i] ? R[i] * scale : 0.0f));
    memcpy(g2, g, sizeof g);
    dropblock_backward(g2, R, mask, N, scale);
    for (size_t i = 0; i < N; i++)
        ck_assert(g2[i] == 2.0f * g[i]);
    memcpy(g2, R, sizeof R);
    dropblock_backward_inplace(g2, mask, N, scale);
    ck_assert(memcmp(g2, g, sizeof g) == 0);
    dropblock_backward(NULL, R, mask, N, scale);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("dropvariants");
    TCase *tc = tcase_create("dropvariants");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_gauss_statistics);
    tcase_add_test(tc, test_gauss_draws);
    tcase_add_test(tc, test_gauss_identity);
    tcase_add_test(tc, test_gauss_backward);
    tcase_add_test(tc, test_dropconnect_statistics);
    tcase_add_test(tc, test_dropconnect_identity);
    tcase_add_test(tc, test_dropconnect_backward);
    tcase_add_test(tc, test_dropblock_gamma);
    tcase_add_test(tc, test_dropblock_mask);
    tcase_add_test(tc, test_dropblock_statistics);
    tcase_add_test(tc, test_dropblock_identity);
    tcase_add_test(tc, test_dropblock_backward);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
