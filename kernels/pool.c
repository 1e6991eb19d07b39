/* pool.c - max-pooling with kernel, stride and padding. */
#include "kernels.h"

#include <stdint.h>

static int mul_ok(size_t *r, size_t a, size_t b)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *r = a * b;
    return 1;
}

int pool_shape_init(pool_shape *s, size_t B, size_t C, size_t H, size_t W,
                    size_t K, size_t stride, size_t pad, db_err *e)
{
    if (!B || !C || !H || !W || !K || !stride)
        return db_fail(e, "maxpool: sizes must be > 0 (B=%zu C=%zu H=%zu W=%zu "
                          "K=%zu stride=%zu)", B, C, H, W, K, stride);
    /* pad < K keeps every window on at least one real input: the first
     * window ends at K-1-pad >= 0 and the last starts at most at
     * H+pad-K < H. */
    if (pad >= K)
        return db_fail(e, "maxpool: padding %zu must be smaller than the "
                          "kernel %zu", pad, K);
    if (H > SIZE_MAX / 4 || W > SIZE_MAX / 4)
        return db_fail(e, "maxpool: H=%zu W=%zu too large", H, W);
    if (K > H + 2 * pad || K > W + 2 * pad)
        return db_fail(e, "maxpool: kernel %zu does not fit %zux%zu input with "
                          "padding %zu", K, H, W, pad);
    size_t OH = (H + 2 * pad - K) / stride + 1;
    size_t OW = (W + 2 * pad - K) / stride + 1;
    size_t hw, t, insz, outsz;
    if (!mul_ok(&hw, H, W) || !mul_ok(&t, B, C) || !mul_ok(&insz, t, hw) ||
        !mul_ok(&outsz, t, OH) || !mul_ok(&outsz, outsz, OW))
        return db_fail(e, "maxpool: buffer sizes overflow size_t (B=%zu C=%zu "
                          "H=%zu W=%zu)", B, C, H, W);
    if (hw > UINT32_MAX)
        return db_fail(e, "maxpool: plane %zux%zu too large for 32-bit argmax",
                       H, W);
    s->B = B;
    s->C = C;
    s->H = H;
    s->W = W;
    s->K = K;
    s->stride = stride;
    s->pad = pad;
    s->OH = OH;
    s->OW = OW;
    return 0;
}

/* Clip window [o*stride - pad, +K) to [0, n): padded positions are simply
 * not visited, which is how they "act as -infinity". */
static void window(size_t o, size_t stride, size_t pad, size_t K, size_t n,
                   size_t *lo, size_t *hi)
{
    size_t start = o * stride; /* in padded coordinates */
    *lo = start < pad ? 0 : start - pad;
    size_t end = start + K - pad; /* > 0 because pad < K */
    *hi = end < n ? end : n;
}

void maxpool_forward(float *out /* (B, C, OH, OW) */,
                     uint32_t *argmax /* (B, C, OH, OW) */,
                     const float *in /* (B, C, H, W) */, const pool_shape *s)
{
    const size_t H = s->H, W = s->W, OH = s->OH, OW = s->OW;
    const size_t planes = s->B * s->C;
    if (s->K == 2 && s->stride == 2 && s->pad == 0) {
        /* LeNet's pool: every window is whole, no clipping; same visiting
         * order (row by row) and strict > as the general path. */
        for (size_t p = 0; p < planes; p++) {
            const float *x = in + p * H * W;
            float *o = out + p * OH * OW;
            uint32_t *a = argmax + p * OH * OW;
            for (size_t oh = 0; oh < OH; oh++) {
                const float *r0 = x + 2 * oh * W, *r1 = r0 + W;
                for (size_t ow = 0; ow < OW; ow++) {
                    size_t c = 2 * ow, best = 2 * oh * W + c;
                    float bv = r0[c];
                    if (r0[c + 1] > bv) {
                        bv = r0[c + 1];
                        best = 2 * oh * W + c + 1;
                    }
                    if (r1[c] > bv) {
                        bv = r1[c];
                        best = (2 * oh + 1) * W + c;
                    }
                    if (r1[c + 1] > bv) {
                        bv = r1[c + 1];
                        best = (2 * oh + 1) * W + c + 1;
                    }
                    o[oh * OW + ow] = bv;
                    a[oh * OW + ow] = (uint32_t)best;
                }
            }
        }
        return;
    }
    for (size_t p = 0; p < planes; p++) {
        const float *x = in + p * H * W;
        float *o = out + p * OH * OW;
        uint32_t *a = argmax + p * OH * OW;
        for (size_t oh = 0; oh < OH; oh++) {
            size_t h0, h1;
            window(oh, s->stride, s->pad, s->K, H, &h0, &h1);
            for (size_t ow = 0; ow < OW; ow++) {
                size_t w0, w1;
                window(ow, s->stride, s->pad, s->K, W, &w0, &w1);
                /* Start from a real input, never from -inf, so the stored
                 * index always names a real position. Strict > keeps the
                 * first maximum. */
                size_t best = h0 * W + w0;
                float bv = x[best];
                for (size_t h = h0; h < h1; h++)
                    for (size_t w = w0; w < w1; w++)
                        if (x[h * W + w] > bv) {
                            bv = x[h * W + w];
                            best = h * W + w;
                        }
                o[oh * OW + ow] = bv;
                a[oh * OW + ow] = (uint32_t)best;
            }
        }
    }
}

void maxpool_backward(float *din /* (B, C, H, W) */,
                      const float *dout /* (B, C, OH, OW) */,
                      const uint32_t *argmax /* (B, C, OH, OW) */,
                      const pool_shape *s)
{
    if (!din)
        return;
    const size_t hw = s->H * s->W, ohw = s->OH * s->OW;
    const size_t planes = s->B * s->C;
    /* += because overlapping windows (3x3 stride 2) can elect the same input
     * more than once. */
    for (size_t p = 0; p < planes; p++) {
        float *d = din + p * hw;
        const float *g = dout + p * ohw;
        const uint32_t *a = argmax + p * ohw;
        for (size_t i = 0; i < ohw; i++)
            d[a[i]] += g[i];
    }
}
