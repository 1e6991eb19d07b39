/* convtile.h - internal to convdirect.c and convwino.c: the 6x16 register
 * tile both run on (the direct passes, Winograd's products), the scratch
 * helpers they share, and the vector operations that let one piece of
 * source serve both instruction-set widths.
 *
 * A tile row's NR = 16 columns are one value of a "cols" type: two 8-float
 * halves with AVX2 (cols_avx2, a struct the compiler keeps in two ymm
 * registers) or one 16-float vector with AVX-512 (cols_avx512).  The tile
 * bodies below are written once over the cols_* operations and compiled
 * under each target attribute.  Each operation is the same instruction per
 * lane on either width (the same FMA, add, max(0, v), operand for operand),
 * so every output is the same chain of operations on both paths: the same
 * bits (tests/test_simd.c).  The functions are static (one copy in each file
 * that calls them, inlined and specialised there as before the split);
 * "unused" keeps quiet the file that calls only some of them. */
#ifndef DB_CONVTILE_H
#define DB_CONVTILE_H

#include "kernels.h"

#include <stddef.h>
#include <stdint.h>

#define MR 6  /* rows of a tile: pixels (forward, input) or taps (weights) */
#define NR 16 /* columns: output channels or channels */

static inline size_t up16(size_t n) { return (n + NR - 1) / NR * NR; }

/* The int32 tables follow nf floats of scratch. */
static inline int32_t *tables(float *work, size_t nf)
{
    return (int32_t *)(void *)(work + nf);
}

static inline size_t table_floats(size_t nints)
{
    return (nints * sizeof(int32_t) + sizeof(float) - 1) / sizeof(float);
}

/* Layers with fewer taps than this (first layers: C*K*K = 25, 75) run the
 * forward pass as rows6x16 tiles, six output channels by sixteen pixels of
 * an output row, so bias, ReLU and store are vector operations; with so few
 * FMAs per output, tile6x16's transposed store would cost as much as the
 * products.  Layers with more taps use tile6x16, whose rows (pixels) run
 * on across output rows and waste nothing on narrow images. */
#define ROWS_MAX_TAPS 128

static inline int rows_mode(const conv2d_shape *s)
{
    return s->C * s->K * s->K < ROWS_MAX_TAPS;
}

/* The result of a tile: for its first mr rows and jn columns,
 * c[i*ldc + j] (c[j*ldc + i] when trans) = acc (+ bias[j], ReLU) when add
 * is 0, += acc when add is 1. */
#define TILE_ARGS                                                             \
    float *c, size_t ldc, size_t mr, size_t jn, const float *bias, int relu, \
        int add, int trans

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define DIRECT_TARGET __attribute__((target("avx2,fma")))
#define AVX512_TARGET __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")))
#define TILE_INLINE static inline __attribute__((always_inline))

/* ---- the operations on a row's sixteen columns, for each width -------- */

typedef struct cols_avx2 {
    __m256 lo, hi;
} cols_avx2;
typedef __m512 cols_avx512;

/* The first n (> 0) of eight lanes, for masked loads and stores. */
DIRECT_TARGET TILE_INLINE __m256i lanes8(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

DIRECT_TARGET TILE_INLINE cols_avx2 cols_avx2_zero(void)
{
    return (cols_avx2){ _mm256_setzero_ps(), _mm256_setzero_ps() };
}

DIRECT_TARGET TILE_INLINE cols_avx2 cols_avx2_load(const float *p)
{
    return (cols_avx2){ _mm256_loadu_ps(p), _mm256_loadu_ps(p + 8) };
}

/* The float at p in every lane. */
DIRECT_TARGET TILE_INLINE cols_avx2 cols_avx2_bcast(const float *p)
{
    const __m256 x = _mm256_broadcast_ss(p);
    return (cols_avx2){ x, x };
}

DIRECT_TARGET TILE_INLINE cols_avx2 cols_avx2_set1(float x)
{
    return (cols_avx2){ _mm256_set1_ps(x), _mm256_set1_ps(x) };
}

/* a * b + c, one rounding (FMA). */
DIRECT_TARGET TILE_INLINE cols_avx2 cols_avx2_fma(cols_avx2 a, cols_avx2 b, cols_avx2 c)
{
    return (cols_avx2){ _mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi) };
}

DIRECT_TARGET TILE_INLINE cols_avx2 cols_avx2_add(cols_avx2 a, cols_avx2 b)
{
    return (cols_avx2){ _mm256_add_ps(a.lo, b.lo), _mm256_add_ps(a.hi, b.hi) };
}

/* max(0, v) returns v when v is NaN, as relu_forward: zero goes first. */
DIRECT_TARGET TILE_INLINE cols_avx2 cols_avx2_relu(cols_avx2 v)
{
    const __m256 z = _mm256_setzero_ps();
    return (cols_avx2){ _mm256_max_ps(z, v.lo), _mm256_max_ps(z, v.hi) };
}

DIRECT_TARGET TILE_INLINE void cols_avx2_store(float *p, cols_avx2 v)
{
    _mm256_storeu_ps(p, v.lo);
    _mm256_storeu_ps(p + 8, v.hi);
}

/* The first n (> 0) floats of v; nothing past them is touched. */
DIRECT_TARGET TILE_INLINE void cols_avx2_store_n(float *p, cols_avx2 v, size_t n)
{
    if (n >= NR) {
        cols_avx2_store(p, v);
        return;
    }
    _mm256_maskstore_ps(p, lanes8((int)n), v.lo);
    if (n > 8)
        _mm256_maskstore_ps(p + 8, lanes8((int)n - 8), v.hi);
}

DIRECT_TARGET TILE_INLINE void cols_avx2_halves(cols_avx2 v, __m256 *lo, __m256 *hi)
{
    *lo = v.lo;
    *hi = v.hi;
}

AVX512_TARGET TILE_INLINE cols_avx512 cols_avx512_zero(void) { return _mm512_setzero_ps(); }

AVX512_TARGET TILE_INLINE cols_avx512 cols_avx512_load(const float *p)
{
    return _mm512_loadu_ps(p);
}

AVX512_TARGET TILE_INLINE cols_avx512 cols_avx512_bcast(const float *p)
{
    return _mm512_set1_ps(*p);
}

AVX512_TARGET TILE_INLINE cols_avx512 cols_avx512_set1(float x) { return _mm512_set1_ps(x); }

AVX512_TARGET TILE_INLINE cols_avx512 cols_avx512_fma(cols_avx512 a, cols_avx512 b,
                                                      cols_avx512 c)
{
    return _mm512_fmadd_ps(a, b, c);
}

AVX512_TARGET TILE_INLINE cols_avx512 cols_avx512_add(cols_avx512 a, cols_avx512 b)
{
    return _mm512_add_ps(a, b);
}

AVX512_TARGET TILE_INLINE cols_avx512 cols_avx512_relu(cols_avx512 v)
{
    return _mm512_max_ps(_mm512_setzero_ps(), v);
}

AVX512_TARGET TILE_INLINE void cols_avx512_store(float *p, cols_avx512 v)
{
    _mm512_storeu_ps(p, v);
}

AVX512_TARGET TILE_INLINE void cols_avx512_store_n(float *p, cols_avx512 v, size_t n)
{
    _mm512_mask_storeu_ps(p, n >= NR ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1), v);
}

AVX512_TARGET TILE_INLINE void cols_avx512_halves(cols_avx512 v, __m256 *lo, __m256 *hi)
{
    *lo = _mm512_castps512_ps256(v);
    *hi = _mm512_extractf32x8_ps(v, 1);
}

/* ---- 8x8 transposes ------------------------------------------------- */

/* r[0..7] = the columns of the 8x8 block whose rows are r[0..7]. */
DIRECT_TARGET TILE_INLINE void transpose8x8(__m256 r[8])
{
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]),
                 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]),
                 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]),
                 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
                 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* d[i*ldd + j] = s[j*lds + i] for i, j < 8. */
DIRECT_TARGET __attribute__((unused)) static void transpose8(float *d, size_t ldd,
                                                             const float *s, size_t lds)
{
    __m256 r[8] = { _mm256_loadu_ps(s),           _mm256_loadu_ps(s + lds),
                    _mm256_loadu_ps(s + 2 * lds), _mm256_loadu_ps(s + 3 * lds),
                    _mm256_loadu_ps(s + 4 * lds), _mm256_loadu_ps(s + 5 * lds),
                    _mm256_loadu_ps(s + 6 * lds), _mm256_loadu_ps(s + 7 * lds) };
    transpose8x8(r);
    _mm256_storeu_ps(d, r[0]);
    _mm256_storeu_ps(d + ldd, r[1]);
    _mm256_storeu_ps(d + 2 * ldd, r[2]);
    _mm256_storeu_ps(d + 3 * ldd, r[3]);
    _mm256_storeu_ps(d + 4 * ldd, r[4]);
    _mm256_storeu_ps(d + 5 * ldd, r[5]);
    _mm256_storeu_ps(d + 6 * ldd, r[6]);
    _mm256_storeu_ps(d + 7 * ldd, r[7]);
}

/* c[j*ldc + i] (= or += when add) lane i of rows[j] after an 8x8
 * transpose of v[0..5] and two zero rows, for lanes i < mr and the jn
 * first j: six results of one column, contiguous, by one masked store. */
DIRECT_TARGET __attribute__((unused)) static void store_cols8(float *c, size_t ldc, size_t mr,
                                                              size_t jn, const __m256 v[MR],
                                                              int add)
{
    __m256 col[8] = { v[0], v[1], v[2], v[3], v[4], v[5], _mm256_setzero_ps(),
                      _mm256_setzero_ps() };
    transpose8x8(col);
    const __m256i m = lanes8((int)mr);
    for (size_t j = 0; j < jn && j < 8; j++, c += ldc) {
        __m256 x = col[j];
        if (add)
            x = _mm256_add_ps(_mm256_maskload_ps(c, m), x);
        _mm256_maskstore_ps(c, m, x);
    }
}

/* ---- the tile, once for both widths ----------------------------------- */

/* acc (cols type P) += the float at p times the columns b: one FMA. */
#define FMA_ROW(P, p, acc, b) (acc) = P##_fma(P##_bcast(p), (b), (acc))

/* Six rows r0..r5 (each + o) into the accumulators c0..c5 (names
 * r, c), against the columns b. */
#define FMA_ROWS6(P, r, o, c, b)       \
    do {                               \
        FMA_ROW(P, r##0 + (o), c##0, b); \
        FMA_ROW(P, r##1 + (o), c##1, b); \
        FMA_ROW(P, r##2 + (o), c##2, b); \
        FMA_ROW(P, r##3 + (o), c##3, b); \
        FMA_ROW(P, r##4 + (o), c##4, b); \
        FMA_ROW(P, r##5 + (o), c##5, b); \
    } while (0)

/* Declares the row pointers r0..r5 = rows[0..5] and the accumulators
 * c0..c5 = 0 of cols type P. */
#define TILE_START(P, r, rows, c)                                                \
    const float *r##0 = (rows)[0], *r##1 = (rows)[1], *r##2 = (rows)[2],         \
                *r##3 = (rows)[3], *r##4 = (rows)[4], *r##5 = (rows)[5];         \
    P c##0 = P##_zero(), c##1 = c##0, c##2 = c##0, c##3 = c##0, c##4 = c##0,     \
      c##5 = c##0

/* The end of a tile (TILE_ARGS) from its accumulators acc[0..5]: bias,
 * ReLU and sum in the same operand order on both widths; transposed
 * results go out as 8x8 blocks (store_cols8). */
#define TILE_STORE_BODY(P)                                          \
    const P bb = bias ? P##_load(bias) : P##_zero();                \
    if (trans) {                                                    \
        __m256 v0[MR], v1[MR];                                      \
        for (size_t i = 0; i < MR; i++) {                           \
            P v = acc[i];                                           \
            if (!add && bias)                                       \
                v = P##_add(v, bb);                                 \
            if (relu)                                               \
                v = P##_relu(v);                                    \
            P##_halves(v, &v0[i], &v1[i]);                          \
        }                                                           \
        store_cols8(c, ldc, mr, jn, v0, add);                       \
        if (jn > 8)                                                 \
            store_cols8(c + 8 * ldc, ldc, mr, jn - 8, v1, add);     \
        return;                                                     \
    }                                                               \
    for (size_t i = 0; i < mr; i++, c += ldc) {                     \
        P v = acc[i];                                               \
        if (add)                                                    \
            v = P##_add(P##_load(c), v);                            \
        else if (bias)                                              \
            v = P##_add(v, bb);                                     \
        if (relu)                                                   \
            v = P##_relu(v);                                        \
        P##_store(c, v);                                            \
    }

DIRECT_TARGET TILE_INLINE void tile_store_avx2(const cols_avx2 acc[MR], TILE_ARGS)
{
    TILE_STORE_BODY(cols_avx2)
}

AVX512_TARGET TILE_INLINE void tile_store_avx512(const cols_avx512 acc[MR], TILE_ARGS)
{
    TILE_STORE_BODY(cols_avx512)
}

/* The MR x NR sums of a tile: acc[i][j] = sum over k < kc of
 * r[i][off[k]] * bp[k*NR + j], six rows broadcast from anywhere, sixteen
 * columns from a packed panel; each sum runs in k order from zero, one FMA
 * per term.  Then tile_store (TILE_ARGS). */
#define TILE6X16_BODY(P)                                    \
    TILE_START(P, r, rows, c);                              \
    for (size_t k = 0; k < kc; k++, bp += NR) {             \
        const ptrdiff_t o = off[k];                         \
        const P b = P##_load(bp);                           \
        FMA_ROWS6(P, r, o, c, b);                           \
    }                                                       \
    const P acc[MR] = { c0, c1, c2, c3, c4, c5 };

DIRECT_TARGET __attribute__((unused)) static void
tile6x16_avx2(size_t kc, const float *const rows[MR], const int32_t *off, const float *bp,
              TILE_ARGS)
{
    TILE6X16_BODY(cols_avx2)
    tile_store_avx2(acc, c, ldc, mr, jn, bias, relu, add, trans);
}

AVX512_TARGET __attribute__((unused)) static void
tile6x16_avx512(size_t kc, const float *const rows[MR], const int32_t *off, const float *bp,
                TILE_ARGS)
{
    TILE6X16_BODY(cols_avx512)
    tile_store_avx512(acc, c, ldc, mr, jn, bias, relu, add, trans);
}

/* tile6x16 at 16 lanes (w512) or two halves of 8. */
static inline void tile6x16(int w512, size_t kc, const float *const r[MR], const int32_t *off,
                            const float *bp, TILE_ARGS)
{
    if (w512)
        tile6x16_avx512(kc, r, off, bp, c, ldc, mr, jn, bias, relu, add, trans);
    else
        tile6x16_avx2(kc, r, off, bp, c, ldc, mr, jn, bias, relu, add, trans);
}

/* 1 when the tiles run at 16 lanes: one relaxed load a pass. */
static inline int tiles512(void) { return db_simd_get() == DB_SIMD_AVX512; }

#else /* no AVX2: conv.c takes the direct kernels only when enabled */

static inline int tiles512(void) { return 0; }

/* Never called: the portable tile6x16, for the build. */
static inline void tile6x16(int w512, size_t kc, const float *const r[MR], const int32_t *off,
                            const float *bp, TILE_ARGS)
{
    (void)w512;
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < jn; j++) {
            float acc = 0.0f;
            for (size_t k = 0; k < kc; k++)
                acc += r[i][off[k]] * bp[k * NR + j];
            float *d = trans ? c + j * ldc + i : c + i * ldc + j;
            if (add)
                acc += *d;
            else if (bias)
                acc += bias[j];
            *d = relu && acc < 0.0f ? 0.0f : acc;
        }
}
#endif

#endif
