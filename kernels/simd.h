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

/* exp, sigmoid and tanh for any float vector type V (integer lanes VI,
 * broadcast SET1), named PFX_exp, PFX_sigmoid, PFX_tanh: the 4-wide ones
 * below, and gru.c's 8-wide ones, which give the same bits lane by lane
 * (the same operations, none of them contracted).
 *
 * exp(x): Cephes' expf polynomial after reduction by n = round(x / ln 2),
 * about 1 ulp over the float range; x is clamped to [-87.3, 88.7] (results
 * 1e-38 .. 3e38), NaN stays NaN; 2^n in two factors so n = 128 (x near
 * 88.7) does not overflow the exponent field.
 * tanh: an odd Taylor polynomial below |x| = 0.125 (relative error < 2e-9),
 * 1 - 2/(exp(2|x|) + 1) with the sign restored above. */
#define DB_VMATH(V, VI, SET1, PFX)                                             \
    static inline V PFX##_exp(V x)                                             \
    {                                                                          \
        const V hi = SET1(88.7f), lo = SET1(-87.3f);                           \
        VI over = x > hi, under = x < lo; /* both false for NaN */            \
        x = (V)(((VI)x & ~(over | under)) | ((VI)hi & over) | ((VI)lo & under)); \
        const V magic = SET1(12582912.0f); /* 1.5 * 2^23: round to int */     \
        V t = x * SET1(1.44269504088896341f) + magic;                          \
        V n = t - magic;                                                       \
        VI ni = (VI)t - (VI)magic;                                             \
        V r = x - n * SET1(0.693359375f);                                      \
        r = r - n * SET1(-2.12194440e-4f);                                     \
        V p = SET1(1.9875691500e-4f);                                          \
        p = p * r + SET1(1.3981999507e-3f);                                    \
        p = p * r + SET1(8.3334519073e-3f);                                    \
        p = p * r + SET1(4.1665795894e-2f);                                    \
        p = p * r + SET1(1.6666665459e-1f);                                    \
        p = p * r + SET1(5.0000001201e-1f);                                    \
        p = p * (r * r) + r + SET1(1.0f);                                      \
        VI h = ni >> 1;                                                        \
        V s1 = (V)((h + 127) << 23), s2 = (V)((ni - h + 127) << 23);           \
        return p * s1 * s2;                                                    \
    }                                                                          \
    static inline V PFX##_sigmoid(V x)                                         \
    {                                                                          \
        return SET1(1.0f) / (SET1(1.0f) + PFX##_exp(-x));                      \
    }                                                                          \
    static inline V PFX##_tanh(V x)                                            \
    {                                                                          \
        const VI sign = (VI)SET1(-0.0f);                                       \
        V a = (V)((VI)x & ~sign);                                              \
        V big = SET1(1.0f) - SET1(2.0f) / (PFX##_exp(a + a) + SET1(1.0f));     \
        V x2 = x * x;                                                          \
        V small = SET1(-17.0f / 315.0f);                                       \
        small = small * x2 + SET1(2.0f / 15.0f);                               \
        small = small * x2 + SET1(-1.0f / 3.0f);                               \
        small = small * x2 * a + a;                                            \
        VI use_small = a < SET1(0.125f);                                       \
        V r = (V)(((VI)small & use_small) | ((VI)big & ~use_small));           \
        return (V)((VI)r | ((VI)x & sign));                                    \
    }

DB_VMATH(v4f, v4i, v4f_set1, v4f)

#endif
