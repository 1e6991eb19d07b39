/* dropout.c - inverted dropout over (B, G, S) groups.
 *
 * Mask draws: each 64-bit number from the stream gives two 32-bit uniforms,
 * low half for mask[2i], high half for mask[2i+1] (the high half of the last
 * draw is discarded when B*G is odd).  A group is kept iff its uniform
 * u >= thr with thr = round(rate * 2^32), so P(keep) = 1 - thr/2^32, within
 * 2^-33 of 1 - rate.  The mask is a pure function of the stream position:
 * drawing is sequential and never split across threads. */
#include "kernels.h"
#include "simd.h"

#include <math.h>
#include <string.h>

int dropout_check_rate(double rate, db_err *e)
{
    /* Written so that NaN fails both comparisons and is rejected. */
    if (!(rate >= 0.0 && rate < 1.0))
        return db_fail(e, "dropout rate %g is outside [0, 1) (it is the drop "
                          "probability)", rate);
    return 0;
}

static void draw_mask(uint8_t *mask, size_t n, double rate, db_rng *rng)
{
    uint64_t thr = (uint64_t)llround(rate * 4294967296.0); /* < 2^32 */
    uint64_t s[4] = { rng->s[0], rng->s[1], rng->s[2], rng->s[3] };
    size_t i = 0;
    for (; i + 1 < n; i += 2) {
        uint64_t u = db_rng_step(s);
        mask[i] = (u & 0xffffffffu) >= thr;
        mask[i + 1] = (u >> 32) >= thr;
    }
    if (i < n)
        mask[i] = (db_rng_step(s) & 0xffffffffu) >= thr;
    memcpy(rng->s, s, sizeof s);
}

int dropout_forward(float *out /* (B, G, S) */, uint8_t *mask /* (B, G) */,
                    const float *in /* (B, G, S) */, size_t B, size_t G,
                    size_t S, float rate, int training, db_rng *rng, db_err *e)
{
    if (dropout_check_rate(rate, e) < 0)
        return -1;
    size_t groups = B * G;
    if (!training || rate == 0.0f) {
        /* Exact identity: a copy, not a multiply by 1/(1-0), and no draws,
         * so switching dropout off leaves every other stream in place. */
        if (out != in)
            memcpy(out, in, groups * S * sizeof *out);
        memset(mask, 1, groups);
        return 0;
    }
    draw_mask(mask, groups, rate, rng);
    dropout_apply(out, mask, in, B, G, S, rate);
    return 0;
}

void dropout_draw_mask(uint8_t *mask, size_t n, float rate, db_rng *rng)
{
    draw_mask(mask, n, rate, rng);
}

void dropout_apply(float *out /* (B, G, S) */, const uint8_t *mask /* (B, G) */,
                   const float *in /* (B, G, S) */, size_t B, size_t G, size_t S,
                   float rate)
{
    const size_t groups = B * G;
    const float scale = 1.0f / (1.0f - rate);
    if (S == 1) {
        /* element-wise */
        size_t i = 0;
        const v4f sc = v4f_set1(scale);
        for (; i + 4 <= groups; i += 4)
            v4f_store(out + i, v4f_and(v4f_load(in + i) * sc, v4i_from_bytes(mask + i)));
        for (; i < groups; i++)
            out[i] = mask[i] ? in[i] * scale : 0.0f;
        return;
    }
    for (size_t i = 0; i < groups; i++) {
        float *o = out + i * S;
        const float *x = in + i * S;
        if (mask[i])
            for (size_t j = 0; j < S; j++)
                o[j] = x[j] * scale;
        else
            /* a dropped group is exactly 0 even where in is inf or NaN */
            memset(o, 0, S * sizeof *o);
    }
}

void dropout_backward(float *din, const float *dout, const uint8_t *mask,
                      size_t B, size_t G, size_t S, float rate)
{
    if (!din)
        return;
    size_t groups = B * G;
    /* Same scale expression as forward, so rate 0 gives exactly 1. */
    const float scale = 1.0f / (1.0f - rate);
    if (S == 1) {
        size_t i = 0;
        const v4f sc = v4f_set1(scale);
        for (; i + 4 <= groups; i += 4)
            v4f_store(din + i, v4f_load(din + i) +
                                   v4f_and(v4f_load(dout + i) * sc, v4i_from_bytes(mask + i)));
        for (; i < groups; i++)
            if (mask[i])
                din[i] += dout[i] * scale;
        return;
    }
    for (size_t i = 0; i < groups; i++) {
        if (!mask[i])
            continue;
        float *d = din + i * S;
        const float *g = dout + i * S;
        for (size_t j = 0; j < S; j++)
            d[j] += g[j] * scale;
    }
}

void dropout_backward_inplace(float *d, const uint8_t *mask, size_t B, size_t G,
                              size_t S, float rate)
{
    /* d = mask ? d * scale : 0 is the forward's application, in place */
    dropout_apply(d, mask, d, B, G, S, rate);
}

/* Locked dropout: each (example, step) row of D features is element-wise
 * dropout under the example's one row of the mask. */
int dropout_locked_forward(float *out /* (B, T, D) */, uint8_t *mask /* (B, D) */,
                           const float *in /* (B, T, D) */, size_t B, size_t T,
                           size_t D, float rate, int training, db_rng *rng,
                           db_err *e)
{
    if (dropout_check_rate(rate, e) < 0)
        return -1;
    if (!training || rate == 0.0f) {
        /* Exact identity, no draws (as dropout_forward). */
        if (out != in)
            memcpy(out, in, B * T * D * sizeof *out);
        memset(mask, 1, B * D);
        return 0;
    }
    draw_mask(mask, B * D, rate, rng);
    dropout_locked_apply(out, mask, in, B, T, D, rate);
    return 0;
}

void dropout_locked_apply(float *out /* (B, T, D) */, const uint8_t *mask /* (B, D) */,
                          const float *in /* (B, T, D) */, size_t B, size_t T,
                          size_t D, float rate)
{
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++)
            dropout_apply(out + (b * T + t) * D, mask + b * D, in + (b * T + t) * D, 1,
                          D, 1, rate);
}

void dropout_locked_backward(float *din /* (B, T, D) or NULL */,
                             const float *dout /* (B, T, D) */,
                             const uint8_t *mask /* (B, D) */, size_t B, size_t T,
                             size_t D, float rate)
{
    if (!din)
        return;
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++)
            dropout_backward(din + (b * T + t) * D, dout + (b * T + t) * D, mask + b * D,
                             1, D, 1, rate);
}

void dropout_locked_backward_inplace(float *d /* (B, T, D) */,
                                     const uint8_t *mask /* (B, D) */, size_t B,
                                     size_t T, size_t D, float rate)
{
    dropout_locked_apply(d, mask, d, B, T, D, rate);
}
