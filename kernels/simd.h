/* simd.h - internal to kernels/: 4-wide float vectors through the GCC/Clang
 * vector extensions, so the element-wise loops are explicitly vectorised at
 * -O2 (GCC's -O2 cost model leaves plain loops over possibly aliasing
 * pointers scalar).  SSE on x86-64, NEON on arm64, plain code elsewhere.
 * Loads and stores go through memcpy: no alignment is assumed. */
#ifndef DB_SIMD_H
#define DB_SIMD_H

#include <stdint.h>
#include <string.h>

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef uint32_t v4u __attribute__((vector_size(16)));

static inline v4f v4f_load(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void v4f_store(float *p, v4f v) { memcpy(p, &v, sizeof v); }

static inline v4f v4f_set1(float x) { return (v4f){ x, x, x, x }; }

/* m ? a : 0, m from a vector comparison (all ones or zero per lane). */
static inline v4f v4f_and(v4f a, v4i m) { return (v4f)((v4i)a & m); }

/* m ? a : b per lane, m from a vector comparison. */
static inline v4f v4f_select(v4i m, v4f a, v4f b)
{
    return (v4f)(((v4i)a & m) | ((v4i)b & ~m));
}

static inline v4u v4u_select(v4i m, v4u a, v4u b)
{
    return (a & (v4u)m) | (b & ~(v4u)m);
}

static inline void v4u_store(uint32_t *p, v4u v) { memcpy(p, &v, sizeof v); }

/* Even and odd lanes of the eight floats a, b (a[0], a[2], b[0], b[2] and
 * a[1], a[3], b[1], b[3]). */
static inline v4f v4f_even(v4f a, v4f b)
{
    return __builtin_shufflevector(a, b, 0, 2, 4, 6);
}

static inline v4f v4f_odd(v4f a, v4f b)
{
    return __builtin_shufflevector(a, b, 1, 3, 5, 7);
}

/* Four mask bytes (0 or 1) widened to lane masks (-1 where nonzero): on
 * x86-64 one 4-byte load and two unpacks, not four byte loads and
 * inserts. */
#if defined(__SSE2__)
#include <emmintrin.h>
static inline v4i v4i_from_bytes(const uint8_t *m)
{
    int32_t u;
    memcpy(&u, m, sizeof u);
    const __m128i z = _mm_setzero_si128();
    __m128i w = _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128(u), z), z);
    return (v4i)w != 0;
}
#else
static inline v4i v4i_from_bytes(const uint8_t *m)
{
    v4i v = { m[0], m[1], m[2], m[3] };
    return v != 0;
}
#endif

/* exp(x) for float lanes: Cephes' expf polynomial after reduction by
 * n = round(x / ln 2), about 1 ulp over the float range; x is clamped to
 * [-87.3, 88.7] (results 1e-38 .. 3e38), NaN stays NaN. */
static inline v4f v4f_exp(v4f x)
{
    const v4f hi = v4f_set1(88.7f), lo = v4f_set1(-87.3f);
    v4i over = x > hi, under = x < lo; /* both false for NaN */
    x = (v4f)(((v4i)x & ~(over | under)) | ((v4i)hi & over) | ((v4i)lo & under));
    const v4f magic = v4f_set1(12582912.0f); /* 1.5 * 2^23: round to int */
    v4f t = x * v4f_set1(1.44269504088896341f) + magic;
    v4f n = t - magic;
    v4i ni = (v4i)t - (v4i)magic;
    v4f r = x - n * v4f_set1(0.693359375f);
    r = r - n * v4f_set1(-2.12194440e-4f);
    v4f p = v4f_set1(1.9875691500e-4f);
    p = p * r + v4f_set1(1.3981999507e-3f);
    p = p * r + v4f_set1(8.3334519073e-3f);
    p = p * r + v4f_set1(4.1665795894e-2f);
    p = p * r + v4f_set1(1.6666665459e-1f);
    p = p * r + v4f_set1(5.0000001201e-1f);
    p = p * (r * r) + r + v4f_set1(1.0f);
    /* 2^n in two factors so n = 128 (x near 88.7) does not overflow the
     * exponent field. */
    v4i h = ni >> 1;
    v4f s1 = (v4f)((h + 127) << 23), s2 = (v4f)((ni - h + 127) << 23);
    return p * s1 * s2;
}

static inline v4f v4f_sigmoid(v4f x)
{
    return v4f_set1(1.0f) / (v4f_set1(1.0f) + v4f_exp(-x));
}

/* tanh: an odd Taylor polynomial below |x| = 0.125 (relative error < 2e-9),
 * 1 - 2/(exp(2|x|) + 1) with the sign restored above. */
static inline v4f v4f_tanh(v4f x)
{
    const v4i sign = (v4i)v4f_set1(-0.0f);
    v4f a = (v4f)((v4i)x & ~sign);
    v4f big = v4f_set1(1.0f) - v4f_set1(2.0f) / (v4f_exp(a + a) + v4f_set1(1.0f));
    v4f x2 = x * x;
    v4f small = v4f_set1(-17.0f / 315.0f);
    small = small * x2 + v4f_set1(2.0f / 15.0f);
    small = small * x2 + v4f_set1(-1.0f / 3.0f);
    small = small * x2 * a + a;
    v4i use_small = a < v4f_set1(0.125f);
    v4f r = (v4f)(((v4i)small & use_small) | ((v4i)big & ~use_small));
    return (v4f)((v4i)r | ((v4i)x & sign));
}

#endif
