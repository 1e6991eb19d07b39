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

/* The AVX-512 path (db_simd_get() == DB_SIMD_AVX512): sixteen lanes and a
 * mask register where the portable code below uses four lanes and a lane
 * mask, with the same operation on every element, hence the same bits:
 * a kept element is in * scale (one rounding), a dropped one +0 (even
 * where in is inf or NaN); the backward adds din + (kept ? dout * scale :
 * +0) over the elements the 4-wide loop covers and leaves the scalar
 * tail's untouched where dropped, exactly as that loop and its tail do. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define AVX512_TARGET __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")))

/* Lanes of mask[0..n) (n <= 16) that are nonzero. */
AVX512_TARGET static inline __mmask16 keep16(const uint8_t *mask, size_t n)
{
    const __mmask16 lm = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
    const __m128i b = _mm_maskz_loadu_epi8(lm, mask);
    return _mm_test_epi8_mask(b, b);
}

AVX512_TARGET static inline __mmask16 lanes16(size_t n)
{
    return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
}

/* out[i] = mask[i] ? in[i] * scale : +0, i < n. */
AVX512_TARGET static void apply_elem512(float *out, const uint8_t *mask, const float *in,
                                        size_t n, float scale)
{
    const __m512 sc = _mm512_set1_ps(scale);
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 lm = lanes16(n - i), k = keep16(mask + i, n - i);
        _mm512_mask_storeu_ps(out + i, lm,
                              _mm512_maskz_mul_ps(k, _mm512_maskz_loadu_ps(lm, in + i), sc));
    }
}

/* o[j] = x[j] * scale, j < n. */
AVX512_TARGET static void scale512(float *o, const float *x, size_t n, float scale)
{
    const __m512 sc = _mm512_set1_ps(scale);
    for (size_t j = 0; j < n; j += 16) {
        const __mmask16 lm = lanes16(n - j);
        _mm512_mask_storeu_ps(o + j, lm, _mm512_mul_ps(_mm512_maskz_loadu_ps(lm, x + j), sc));
    }
}

/* d[j] = d[j] + g[j] * scale, j < n (a product, then a sum: no FMA). */
AVX512_TARGET static void axpy512(float *d, const float *g, size_t n, float scale)
{
    const __m512 sc = _mm512_set1_ps(scale);
    for (size_t j = 0; j < n; j += 16) {
        const __mmask16 lm = lanes16(n - j);
        const __m512 p = _mm512_mul_ps(_mm512_maskz_loadu_ps(lm, g + j), sc);
        _mm512_mask_storeu_ps(d + j, lm, _mm512_add_ps(_mm512_maskz_loadu_ps(lm, d + j), p));
    }
}

/* din[i] = din[i] + (mask[i] ? dout[i] * scale : +0), i < n. */
AVX512_TARGET static void backward_elem512(float *din, const float *dout,
                                           const uint8_t *mask, size_t n, float scale)
{
    const __m512 sc = _mm512_set1_ps(scale);
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 lm = lanes16(n - i), k = keep16(mask + i, n - i);
        const __m512 p = _mm512_maskz_mul_ps(k, _mm512_maskz_loadu_ps(lm, dout + i), sc);
        _mm512_mask_storeu_ps(din + i, lm,
                              _mm512_add_ps(_mm512_maskz_loadu_ps(lm, din + i), p));
    }
}

static int wide512(void) { return db_simd_get() == DB_SIMD_AVX512; }
#else
static int wide512(void) { return 0; }
static void apply_elem512(float *out, const uint8_t *mask, const float *in, size_t n,
                          float scale)
{
    (void)out, (void)mask, (void)in, (void)n, (void)scale;
}
static void scale512(float *o, const float *x, size_t n, float scale)
{
    (void)o, (void)x, (void)n, (void)scale;
}
static void axpy512(float *d, const float *g, size_t n, float scale)
{
    (void)d, (void)g, (void)n, (void)scale;
}
static void backward_elem512(float *din, const float *dout, const uint8_t *mask, size_t n,
                             float scale)
{
    (void)din, (void)dout, (void)mask, (void)n, (void)scale;
}
#endif

void dropout_apply(float *out /* (B, G, S) */, const uint8_t *mask /* (B, G) */,
                   const float *in /* (B, G, S) */, size_t B, size_t G, size_t S,
                   float rate)
{
    const size_t groups = B * G;
    const float scale = 1.0f / (1.0f - rate);
    const int w512 = wide512();
    if (S == 1 && w512) {
        apply_elem512(out, mask, in, groups, scale);
        return;
    }
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
        if (mask[i] && w512)
            scale512(o, x, S, scale);
        else if (mask[i])
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
    const int w512 = wide512();
    if (S == 1) {
        size_t i = 0;
        const v4f sc = v4f_set1(scale);
        if (w512) /* the 4-wide loop's elements; the tail below as ever */
            backward_elem512(din, dout, mask, i = groups / 4 * 4, scale);
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
        if (w512) {
            axpy512(d, g, S, scale);
            continue;
        }
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
