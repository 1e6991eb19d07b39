/* pool.c - max-pooling with kernel, stride and padding. */
#include "kernels.h"
#include "simd.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

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

/* The general window: start from a real input, never from -inf, so the
 * stored index always names a real position; strict > keeps the first
 * maximum in row-major order.  Every fast path below visits in the same
 * order with the same comparison, so they give identical results. */
static inline uint32_t pool_window(const float *x, size_t W, size_t h0, size_t h1,
                                   size_t w0, size_t w1, float *out)
{
    size_t best = h0 * W + w0;
    float bv = x[best];
    for (size_t h = h0; h < h1; h++)
        for (size_t w = w0; w < w1; w++)
            if (x[h * W + w] > bv) {
                bv = x[h * W + w];
                best = h * W + w;
            }
    *out = bv;
    return (uint32_t)best;
}

/* One step of the running maximum over four windows at once. */
#define POOL_STEP(v, idx)                    \
    do {                                     \
        v4i m_ = (v) > bv;                   \
        bv = v4f_select(m_, (v), bv);        \
        best = v4u_select(m_, (idx), best);  \
    } while (0)

/* 2x2 stride 2, no padding (LeNet): every window is whole. */
static void pool_2x2s2(float *o, uint32_t *a, const float *x, size_t W, size_t OH,
                       size_t OW)
{
    const v4u lane = { 0, 2, 4, 6 };
    for (size_t oh = 0; oh < OH; oh++) {
        const size_t i0 = 2 * oh * W; /* first input of the row pair */
        const float *r0 = x + i0, *r1 = r0 + W;
        size_t ow = 0;
        /* 2*ow + 8 <= 2*OW <= W: the eight loads stay in the row.  The
         * last group may overlap the previous one: it recomputes identical
         * values. */
        for (; ow < OW && OW >= 4; ow += 4) {
            if (ow + 4 > OW)
                ow = OW - 4;
            const size_t c = 2 * ow;
            v4f a0 = v4f_load(r0 + c), a1 = v4f_load(r0 + c + 4);
            v4f b0 = v4f_load(r1 + c), b1 = v4f_load(r1 + c + 4);
            v4u idx = lane + (uint32_t)(i0 + c);
            v4f bv = v4f_even(a0, a1);
            v4u best = idx;
            POOL_STEP(v4f_odd(a0, a1), idx + 1);
            POOL_STEP(v4f_even(b0, b1), idx + (uint32_t)W);
            POOL_STEP(v4f_odd(b0, b1), idx + (uint32_t)(W + 1));
            v4f_store(o + oh * OW + ow, bv);
            v4u_store(a + oh * OW + ow, best);
        }
        for (; ow < OW; ow++)
            a[oh * OW + ow] = pool_window(x, W, 2 * oh, 2 * oh + 2, 2 * ow, 2 * ow + 2,
                                          o + oh * OW + ow);
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

static int pool8_ok(void)
{
    /* the path chosen (kernels.h); the AVX2 windows give the scalar
     * code's values and indices, so this changes speed only */
    return db_simd_get() >= DB_SIMD_AVX2;
}

/* Eight 3x3/2 windows side by side, whole in width: outputs j = 0..7 of
 * the row of windows whose first column is c, over input rows [h0, h1).
 * Same scan and comparison as pool_window (row-major, strict >, ordered so
 * NaN never replaces), hence identical values and indices.  The lanes hold
 * outputs 0, 1, 4, 5, 2, 3, 6, 7 (the in-lane order of _mm256_shuffle_ps)
 * until the final permute. */
__attribute__((target("avx2"))) static void pool3x3s2_8(float *o, uint32_t *a,
                                                       const float *x, size_t W,
                                                       size_t h0, size_t h1,
                                                       size_t c)
{
    const __m256i lane = _mm256_setr_epi32(0, 2, 8, 10, 4, 6, 12, 14);
    __m256 bv = _mm256_setzero_ps();
    __m256i best = lane;
    for (size_t h = h0; h < h1; h++) {
        const float *row = x + h * W + c;
        /* Reads row[0..16]: the last window's third column is row[16]. */
        const __m256 p = _mm256_loadu_ps(row), q = _mm256_loadu_ps(row + 8);
        const __m256 p1 = _mm256_loadu_ps(row + 1), q1 = _mm256_loadu_ps(row + 9);
        const __m256 c0 = _mm256_shuffle_ps(p, q, _MM_SHUFFLE(2, 0, 2, 0));
        const __m256 c1 = _mm256_shuffle_ps(p, q, _MM_SHUFFLE(3, 1, 3, 1));
        const __m256 c2 = _mm256_shuffle_ps(p1, q1, _MM_SHUFFLE(3, 1, 3, 1));
        const __m256i idx = _mm256_add_epi32(lane, _mm256_set1_epi32((int)(h * W + c)));
        __m256 m;
        if (h == h0) {
            bv = c0;
            best = idx;
        } else {
            m = _mm256_cmp_ps(c0, bv, _CMP_GT_OQ);
            bv = _mm256_blendv_ps(bv, c0, m);
            best = _mm256_castps_si256(_mm256_blendv_ps(
                _mm256_castsi256_ps(best), _mm256_castsi256_ps(idx), m));
        }
        m = _mm256_cmp_ps(c1, bv, _CMP_GT_OQ);
        bv = _mm256_blendv_ps(bv, c1, m);
        best = _mm256_castps_si256(_mm256_blendv_ps(
            _mm256_castsi256_ps(best),
            _mm256_castsi256_ps(_mm256_add_epi32(idx, _mm256_set1_epi32(1))), m));
        m = _mm256_cmp_ps(c2, bv, _CMP_GT_OQ);
        bv = _mm256_blendv_ps(bv, c2, m);
        best = _mm256_castps_si256(_mm256_blendv_ps(
            _mm256_castsi256_ps(best),
            _mm256_castsi256_ps(_mm256_add_epi32(idx, _mm256_set1_epi32(2))), m));
    }
    _mm256_storeu_ps(o, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(bv), 0xD8)));
    _mm256_storeu_si256((__m256i *)(void *)a, _mm256_permute4x64_epi64(best, 0xD8));
}
#else
static int pool8_ok(void) { return 0; }
static void pool3x3s2_8(float *o, uint32_t *a, const float *x, size_t W,
                        size_t h0, size_t h1, size_t c)
{
    (void)o, (void)a, (void)x, (void)W, (void)h0, (void)h1, (void)c;
}
#endif

/* 3x3 stride 2, any padding (the CIFAR net's overlapping pool, pad 1). */
static void pool_3x3s2(float *o, uint32_t *a, const float *x, const pool_shape *s)
{
    const size_t H = s->H, W = s->W, OH = s->OH, OW = s->OW, pad = s->pad;
    /* Outputs [lo, hi) of a row have whole windows: 2*ow >= pad and
     * 2*ow - pad + 3 <= W. */
    size_t lo = (pad + 1) / 2;
    size_t hi = W + pad < 3 ? 0 : (W + pad - 3) / 2 + 1;
    if (hi > OW)
        hi = OW;
    if (lo > hi)
        lo = hi;
    const v4u lane = { 0, 2, 4, 6 };
    const int wide = pool8_ok() && hi - lo >= 8;
    for (size_t oh = 0; oh < OH; oh++) {
        size_t h0, h1;
        window(oh, 2, pad, 3, H, &h0, &h1);
        float *orow = o + oh * OW;
        uint32_t *arow = a + oh * OW;
        size_t ow = 0;
        /* Windows of outputs [lo, hi) have all three columns; the rows may
         * be clipped at the top or bottom (h1 - h0 < 3), which changes the
         * number of rows scanned, not the order. */
        for (; ow < lo; ow++) {
            size_t w0, w1;
            window(ow, 2, pad, 3, W, &w0, &w1);
            arow[ow] = pool_window(x, W, h0, h1, w0, w1, orow + ow);
        }
        while (wide && ow < hi) {
            /* The last group may overlap the previous one. */
            if (ow + 8 > hi)
                ow = hi - 8;
            pool3x3s2_8(orow + ow, arow + ow, x, W, h0, h1, 2 * ow - pad);
            ow += 8;
        }
        while (ow < hi && hi - lo >= 4) {
            /* The last group may overlap the previous one: it recomputes
             * identical values. */
            if (ow + 4 > hi)
                ow = hi - 4;
            const size_t c = 2 * ow - pad; /* first column of window ow */
            v4f bv = v4f_set1(0.0f);
            v4u best = lane;
            for (size_t h = h0; h < h1; h++) {
                const float *row = x + h * W + c;
                v4f p = v4f_load(row), q = v4f_load(row + 4);
                v4f c0 = v4f_even(p, q), c1 = v4f_odd(p, q);
                /* odd lanes of row[1..8]: the third columns, row[2..8] */
                v4f c2 = v4f_odd(v4f_load(row + 1), v4f_load(row + 5));
                v4u idx = lane + (uint32_t)(h * W + c);
                if (h == h0) {
                    bv = c0;
                    best = idx;
                } else {
                    POOL_STEP(c0, idx);
                }
                POOL_STEP(c1, idx + 1);
                POOL_STEP(c2, idx + 2);
            }
            v4f_store(orow + ow, bv);
            v4u_store(arow + ow, best);
            ow += 4;
        }
        for (; ow < OW; ow++) {
            size_t w0, w1;
            window(ow, 2, pad, 3, W, &w0, &w1);
            arow[ow] = pool_window(x, W, h0, h1, w0, w1, orow + ow);
        }
    }
}

void maxpool_forward(float *out /* (B, C, OH, OW) */,
                     uint32_t *argmax /* (B, C, OH, OW) */,
                     const float *in /* (B, C, H, W) */, const pool_shape *s)
{
    const size_t H = s->H, W = s->W, OH = s->OH, OW = s->OW;
    const size_t planes = s->B * s->C;
    for (size_t p = 0; p < planes; p++) {
        const float *x = in + p * H * W;
        float *o = out + p * OH * OW;
        uint32_t *a = argmax + p * OH * OW;
        if (s->K == 2 && s->stride == 2 && s->pad == 0) {
            pool_2x2s2(o, a, x, W, OH, OW);
            continue;
        }
        if (s->K == 3 && s->stride == 2) {
            pool_3x3s2(o, a, x, s);
            continue;
        }
        for (size_t oh = 0; oh < OH; oh++) {
            size_t h0, h1;
            window(oh, s->stride, s->pad, s->K, H, &h0, &h1);
            for (size_t ow = 0; ow < OW; ow++) {
                size_t w0, w1;
                window(ow, s->stride, s->pad, s->K, W, &w0, &w1);
                a[oh * OW + ow] = pool_window(x, W, h0, h1, w0, w1, o + oh * OW + ow);
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

/* din = 0, then the scatter of dout, plane by plane: zeroing a plane just
 * before its scatter keeps it in L1 (a memset of the whole din first would
 * evict it).  With out (the pooled values over a ReLU's output), gradients
 * reaching an input whose ReLU output is not > 0 (NaN included) are
 * skipped, which is what ReLU's backward would do to them. */
static void backward_set(float *din, const float *dout, const uint32_t *argmax,
                         const float *out, const pool_shape *s)
{
    if (!din)
        return;
    const size_t hw = s->H * s->W, ohw = s->OH * s->OW;
    const size_t planes = s->B * s->C;
    for (size_t p = 0; p < planes; p++) {
        float *d = din + p * hw;
        const float *g = dout + p * ohw;
        const uint32_t *a = argmax + p * ohw;
        memset(d, 0, hw * sizeof *d);
        if (!out) {
            for (size_t i = 0; i < ohw; i++)
                d[a[i]] += g[i];
            continue;
        }
        const float *o = out + p * ohw;
        for (size_t i = 0; i < ohw; i++)
            if (o[i] > 0.0f)
                d[a[i]] += g[i];
    }
}

void maxpool_backward_set(float *din /* (B, C, H, W) or NULL */,
                          const float *dout /* (B, C, OH, OW) */,
                          const uint32_t *argmax /* (B, C, OH, OW) */,
                          const pool_shape *s)
{
    backward_set(din, dout, argmax, NULL, s);
}

void maxpool_backward_relu_set(float *din /* (B, C, H, W) or NULL */,
                               const float *dout /* (B, C, OH, OW) */,
                               const uint32_t *argmax /* (B, C, OH, OW) */,
                               const float *out /* (B, C, OH, OW) */,
                               const pool_shape *s)
{
    backward_set(din, dout, argmax, out, s);
}
