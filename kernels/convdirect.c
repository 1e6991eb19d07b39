/* convdirect.c - direct convolution: a 6x16 AVX2/FMA register tile whose
 * rows are read from a zero-padded copy of the planes through a table of
 * offsets (see convdirect.h).  Compiled for AVX2 with a target attribute,
 * so the build needs no -march; conv_direct_enabled() checks the CPU.
 *
 * Scratch layout (floats, then int32 offset tables at the end):
 *   forward  xp (C, Hp, Wp) | wp (OCp/16, C*K*K, 16) | bias (OCp) | off (C*K*K)
 *            | base (OH*OW); first layers (rows6x16): xp (C, Hp, Wp) + 32 | off
 *   weights  xp (C, Hp, Wp) | gt (OCp/16, OH*OW, 16) | acc (C*K*K, OCp) | off | base
 *   input    gp (OC, Hq, Wq) | wf (Cp/16, K*OC*K, 16) | off (K*OC*K) | base (H*W)
 * where Hp = H + 2 pad, Hq = H + K - 1, and OCp, Cp round up to 16.  The
 * padding borders of xp and gp are zeroed once per call; each example then
 * overwrites only the interior. */
#include "convdirect.h"
#include "kernels.h"
#include "simd.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define MR 6  /* rows of a tile: pixels (forward, input) or taps (weights) */
#define NR 16 /* columns: two 8-float vectors of output channels or channels */

static atomic_int direct_off;

int conv2d_set_direct(int on)
{
    return !atomic_exchange(&direct_off, !on);
}

static size_t up16(size_t n) { return (n + NR - 1) / NR * NR; }

/* The int32 tables follow nf floats of scratch. */
static int32_t *tables(float *work, size_t nf) { return (int32_t *)(void *)(work + nf); }

static size_t table_floats(size_t nints)
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
#define ROWS_MIN_OW 12

static int rows_mode(const conv2d_shape *s)
{
    return s->C * s->K * s->K < ROWS_MAX_TAPS;
}

int conv_direct_suits(const conv2d_shape *s)
{
    const size_t lim = (size_t)INT32_MAX / 2;
    return s->stride == 1 && (!rows_mode(s) || s->OW >= ROWS_MIN_OW) &&
           s->C * (s->H + 2 * s->pad) * (s->W + 2 * s->pad) < lim &&
           s->OC * (s->H + s->K) * (s->W + s->K) < lim;
}

/* In the input gradient, input row ih reads rows ih + kh of dout padded
 * by q = K-1-pad; only [q, q + OH) of those hold dout.  [*lo, *hi): the kh
 * that reach them. */
static void kh_range(size_t ih, size_t q, size_t OH, size_t K, size_t *lo,
                     size_t *hi)
{
    size_t l = q > ih ? q - ih : 0, h = q + OH > ih ? q + OH - ih : 0;
    if (h > K)
        h = K;
    if (l > h)
        l = h;
    *lo = l;
    *hi = h;
}

/* The rows a tile starting at row i of n covers. */
static size_t mr_step(size_t i, size_t n) { return n - i < MR ? n - i : MR; }

static size_t round_mr(size_t n) { return (n + MR - 1) / MR * MR; }

/* Tile rows x kh of the input gradient tiled over all pixels and all kh,
 * and tiled row by row over only the kh that reach dout. */
static size_t input_flat_cost(const conv2d_shape *s)
{
    return round_mr(s->H * s->W) * s->K;
}

/* Input rows [ih, *next) reach the same kernel rows [*lo, *hi): tiled
 * together, their pixels run on from one row to the next (the interior
 * rows of a valid convolution all take every kh). */
static void kh_group(const conv2d_shape *s, size_t ih, size_t *next, size_t *lo,
                     size_t *hi)
{
    const size_t q = s->K - 1 - s->pad;
    kh_range(ih, q, s->OH, s->K, lo, hi);
    size_t n = ih + 1, l, h;
    for (; n < s->H; n++) {
        kh_range(n, q, s->OH, s->K, &l, &h);
        if (l != *lo || h != *hi)
            break;
    }
    *next = n;
}

static size_t input_rows_cost(const conv2d_shape *s)
{
    size_t c = 0, lo, hi, next;
    for (size_t ih = 0; ih < s->H; ih = next) {
        kh_group(s, ih, &next, &lo, &hi);
        c += round_mr((next - ih) * s->W) * (hi - lo);
    }
    return c;
}

int conv_direct_input_suits(const conv2d_shape *s)
{
    if (!conv_direct_suits(s) || s->pad > s->K - 1)
        return 0;
    /* The FMAs of the cheaper tiling, against those of sgemm + col2im. */
    size_t cost = input_flat_cost(s), rc = input_rows_cost(s);
    if (rc < cost)
        cost = rc;
    return cost * s->K * up16(s->C) * 5 <= s->OH * s->OW * s->K * s->K * s->C * 8;
}

size_t conv_direct_forward_floats(const conv2d_shape *s)
{
    size_t ckk = s->C * s->K * s->K, ohw = s->OH * s->OW;
    size_t xp = s->C * (s->H + 2 * s->pad) * (s->W + 2 * s->pad);
    if (rows_mode(s)) /* rows2x32 reads up to 2 NR - 1 floats past xp */
        return xp + 2 * NR + table_floats(ckk);
    return xp + up16(s->OC) * (ckk + 1) + table_floats(ckk + ohw);
}

size_t conv_direct_weights_floats(const conv2d_shape *s)
{
    size_t ckk = s->C * s->K * s->K, ohw = s->OH * s->OW;
    size_t xp = s->C * (s->H + 2 * s->pad) * (s->W + 2 * s->pad);
    return xp + up16(s->OC) * (ohw + ckk) + table_floats(ckk + ohw);
}

size_t conv_direct_input_floats(const conv2d_shape *s)
{
    size_t okk = s->OC * s->K * s->K;
    size_t gp = s->OC * (s->H + s->K - 1) * (s->W + s->K - 1);
    return gp + up16(s->C) * okk + table_floats(okk + s->H * s->W);
}

/* Copies the (C, H, W) planes of one example into the interior of the
 * zero-bordered (C, H + 2 pad, W + 2 pad) planes xp. */
static void pad_copy(float *xp, const float *x, size_t C, size_t H, size_t W,
                     size_t pad)
{
    const size_t Wp = W + 2 * pad, Hp = H + 2 * pad;
    for (size_t c = 0; c < C; c++)
        for (size_t h = 0; h < H; h++)
            memcpy(xp + (c * Hp + h + pad) * Wp + pad, x + (c * H + h) * W,
                   W * sizeof *x);
}

/* base[p] = position of output pixel p's window corner in a plane of row
 * length Wp: (p / OW) * Wp + p % OW. */
static void pixel_bases(int32_t *base, size_t OH, size_t OW, size_t Wp)
{
    for (size_t oh = 0; oh < OH; oh++)
        for (size_t ow = 0; ow < OW; ow++)
            base[oh * OW + ow] = (int32_t)(oh * Wp + ow);
}

/* off[(c*K + kh)*K + kw] = (c*Hp + kh)*Wp + kw: the tap's offset from a
 * window corner in (C, Hp, Wp) planes. */
static void tap_offsets(int32_t *off, size_t C, size_t K, size_t Hp, size_t Wp)
{
    for (size_t c = 0; c < C; c++)
        for (size_t kh = 0; kh < K; kh++)
            for (size_t kw = 0; kw < K; kw++)
                off[(c * K + kh) * K + kw] = (int32_t)((c * Hp + kh) * Wp + kw);
}

/* gt[(oc/NR*ohw + px)*NR + oc%NR] = g[oc*ohw + px] for oc in [oc0, oc1),
 * px in [px0, px1): one example's dout into 16-channel panels. */
static void panels_scalar(float *gt, const float *g, size_t ohw, size_t oc0,
                          size_t oc1, size_t px0, size_t px1)
{
    for (size_t oc = oc0; oc < oc1; oc++) {
        float *d = gt + ((oc / NR) * ohw) * NR + oc % NR;
        const float *gr = g + oc * ohw;
        for (size_t px = px0; px < px1; px++)
            d[px * NR] = gr[px];
    }
}

/* ---- first-layer weight gradient from a max-pool's gradient ---------- */

/* Rows of the per-output-channel sums: one per (c, kh), each a vector of
 * PW_LANES floats whose first K lanes are the kw taps. */
#define PW_LANES 8
#define PW_MAX_ROWS 15
#define PW_BLOCK 256 /* pooled outputs per pass over the sums */

int conv2d_pooled_suits(const conv2d_shape *s)
{
    const size_t lim = (size_t)INT32_MAX / 2;
    return s->stride == 1 && s->K <= PW_LANES &&
           s->C * (s->H + 2 * s->pad) * (s->W + 2 * s->pad) < lim &&
           s->OH * s->OW < lim;
}

size_t conv2d_pooled_work_floats(const conv2d_shape *s)
{
    return s->C * (s->H + 2 * s->pad) * (s->W + 2 * s->pad) + PW_LANES +
           s->OC * (s->C * s->K * PW_LANES + 1) + table_floats(s->OH * s->OW);
}

/* The sums of one example and output channel, rows r < nr:
 * acc[r*PW_LANES + kw] += gz[i] * xp[rowoff[r] + pos[i] + kw] over n
 * pooled outputs i (gz: their gradients, 0 where the ReLU stopped them;
 * pos: the corners of their conv outputs' windows in xp). */
static void pooled_plane(float *acc, const float *xp, const size_t *rowoff,
                         size_t nr, const float *gz, const int32_t *pos, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        /* pos[i] = base[argmax]: the analyzer cannot see that a pool's
         * argmax is below OH*OW, the entries pixel_bases wrote. */
        const float *x = xp + pos[i]; // NOLINT(clang-analyzer-core.UndefinedBinaryOperatorResult)
        for (size_t r = 0; r < nr; r++)
            for (size_t kw = 0; kw < PW_LANES; kw++)
                acc[r * PW_LANES + kw] += gz[i] * x[rowoff[r] + kw];
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define DIRECT_TARGET __attribute__((target("avx2,fma")))

/* One row of a tile: the float at p broadcast, times the two column
 * vectors b0, b1, added into the row's accumulators c0, c1. */
#define FMA_ROW(p, c0, c1)                         \
    do {                                           \
        const __m256 x_ = _mm256_broadcast_ss(p);  \
        (c0) = _mm256_fmadd_ps(x_, b0, (c0));      \
        (c1) = _mm256_fmadd_ps(x_, b1, (c1));      \
    } while (0)

int conv_direct_enabled(void)
{
    if (atomic_load(&direct_off))
        return 0;
    return db_simd_get() >= DB_SIMD_AVX2; /* AVX2 and FMA */
}

/* c[j*ldc + i] (= or += when add) lane i of rows[j] after an 8x8
 * transpose of v[0..5] and two zero rows, for lanes i < mr and the jn
 * first j: six results of one column, contiguous, by one masked store. */
DIRECT_TARGET static void store_cols8(float *c, size_t ldc, size_t mr, size_t jn,
                                      const __m256 v[MR], int add)
{
    const __m256 z = _mm256_setzero_ps();
    const __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]),
                 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]),
                 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]),
                 t6 = z, t7 = z;
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
                 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    const __m256 col[8] = {
        _mm256_permute2f128_ps(u0, u4, 0x20), _mm256_permute2f128_ps(u1, u5, 0x20),
        _mm256_permute2f128_ps(u2, u6, 0x20), _mm256_permute2f128_ps(u3, u7, 0x20),
        _mm256_permute2f128_ps(u0, u4, 0x31), _mm256_permute2f128_ps(u1, u5, 0x31),
        _mm256_permute2f128_ps(u2, u6, 0x31), _mm256_permute2f128_ps(u3, u7, 0x31)
    };
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)mr),
                                         _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (size_t j = 0; j < jn && j < 8; j++, c += ldc) {
        __m256 x = col[j];
        if (add)
            x = _mm256_add_ps(_mm256_maskload_ps(c, m), x);
        _mm256_maskstore_ps(c, m, x);
    }
}

/* The MR x NR sums of a tile: acc[i][j] = sum over k < kc of
 * r[i][off[k]] * bp[k*NR + j], six rows broadcast from anywhere, sixteen
 * columns from a packed panel; each sum runs in k order, one FMA per term.
 * Then, for the first mr rows and jn columns: c[i*ldc + j] (c[j*ldc + i]
 * when trans) = acc (+ bias[j], ReLU) when add is 0, += acc when add is
 * 1. */
DIRECT_TARGET static void tile6x16_avx2(size_t kc, const float *const r[MR],
                                   const int32_t *off, const float *bp,
                                   float *c, size_t ldc, size_t mr, size_t jn,
                                   const float *bias, int relu, int add, int trans)
{
    const float *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3], *r4 = r[4],
                *r5 = r[5];
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00,
           c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00,
           c50 = c00, c51 = c00;
    for (size_t k = 0; k < kc; k++, bp += NR) {
        const ptrdiff_t o = off[k];
        const __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
        FMA_ROW(r0 + o, c00, c01);
        FMA_ROW(r1 + o, c10, c11);
        FMA_ROW(r2 + o, c20, c21);
        FMA_ROW(r3 + o, c30, c31);
        FMA_ROW(r4 + o, c40, c41);
        FMA_ROW(r5 + o, c50, c51);
    }
    const __m256 acc[MR][2] = { { c00, c01 }, { c10, c11 }, { c20, c21 },
                                { c30, c31 }, { c40, c41 }, { c50, c51 } };
    const __m256 zero = _mm256_setzero_ps();
    const __m256 bb0 = bias ? _mm256_loadu_ps(bias) : zero,
                 bb1 = bias ? _mm256_loadu_ps(bias + 8) : zero;
    if (trans) {
        __m256 v0[MR], v1[MR];
        for (size_t i = 0; i < MR; i++) {
            v0[i] = acc[i][0];
            v1[i] = acc[i][1];
            if (!add && bias) {
                v0[i] = _mm256_add_ps(v0[i], bb0);
                v1[i] = _mm256_add_ps(v1[i], bb1);
            }
            if (relu) {
                v0[i] = _mm256_max_ps(zero, v0[i]);
                v1[i] = _mm256_max_ps(zero, v1[i]);
            }
        }
        store_cols8(c, ldc, mr, jn, v0, add);
        if (jn > 8)
            store_cols8(c + 8 * ldc, ldc, mr, jn - 8, v1, add);
        return;
    }
    for (size_t i = 0; i < mr; i++, c += ldc) {
        __m256 v0 = acc[i][0], v1 = acc[i][1];
        if (add) {
            v0 = _mm256_add_ps(_mm256_loadu_ps(c), v0);
            v1 = _mm256_add_ps(_mm256_loadu_ps(c + 8), v1);
        } else if (bias) {
            v0 = _mm256_add_ps(v0, bb0);
            v1 = _mm256_add_ps(v1, bb1);
        }
        if (relu) { /* max(0, v) returns v when v is NaN, as relu_forward */
            v0 = _mm256_max_ps(zero, v0);
            v1 = _mm256_max_ps(zero, v1);
        }
        _mm256_storeu_ps(c, v0);
        _mm256_storeu_ps(c + 8, v1);
    }
}

/* d[i*ldd + j] = s[j*lds + i] for i, j < 8. */
DIRECT_TARGET static void transpose8(float *d, size_t ldd, const float *s,
                                     size_t lds)
{
    const __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + lds),
                 r2 = _mm256_loadu_ps(s + 2 * lds), r3 = _mm256_loadu_ps(s + 3 * lds),
                 r4 = _mm256_loadu_ps(s + 4 * lds), r5 = _mm256_loadu_ps(s + 5 * lds),
                 r6 = _mm256_loadu_ps(s + 6 * lds), r7 = _mm256_loadu_ps(s + 7 * lds);
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
                 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
                 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
                 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
                 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(d + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(d + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(d + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(d + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(d + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(d + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(d + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}

/* One example's dout (OC, ohw) into the panels gt (OCp/16, ohw, 16), as
 * 8x8 transposes, in blocks of 16 pixels so that the rows written stay in
 * L1 while every channel visits them. */
static void dout_panels(float *gt, const float *g, size_t OC, size_t ohw)
{
    const size_t oc8 = OC / 8 * 8;
    for (size_t px0 = 0; px0 < ohw; px0 += NR) {
        const size_t px1 = ohw - px0 < NR ? ohw : px0 + NR;
        /* dout arrives from memory (the layer above wrote the whole
         * batch's); 32 or 64 rows are too many streams for the hardware
         * prefetcher. */
        for (size_t oc = 0; oc < OC; oc++)
            __builtin_prefetch(g + oc * ohw + px0 + 4 * NR);
        size_t px = px0;
        for (; px + 8 <= px1; px += 8)
            for (size_t oc = 0; oc < oc8; oc += 8)
                transpose8(gt + ((oc / NR) * ohw + px) * NR + oc % NR, NR,
                           g + oc * ohw + px, ohw);
        panels_scalar(gt, g, ohw, 0, oc8, px, px1);
        panels_scalar(gt, g, ohw, oc8, OC, px0, px1);
    }
}

/* pooled_plane with the rows in registers: one 8-float load and FMA per
 * (c, kh) row and pooled output; lanes past K gather neighbours' values
 * and are never read back. */
#define PW_FMA(r)                                                           \
    do {                                                                    \
        if ((r) < nr)                                                       \
            a##r = _mm256_fmadd_ps(gv, _mm256_loadu_ps(x + rowoff[r]), a##r); \
    } while (0)
#define PW_STORE(r)                                                         \
    do {                                                                    \
        if ((r) < nr)                                                       \
            _mm256_storeu_ps(acc + (r) * PW_LANES,                          \
                             _mm256_add_ps(_mm256_loadu_ps(acc + (r) * PW_LANES), a##r)); \
    } while (0)

DIRECT_TARGET static inline __attribute__((always_inline)) void
pooled_plane_avx2(float *acc, const float *xp, const size_t *rowoff,
                  const size_t nr, const float *gz, const int32_t *pos, size_t n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0,
           a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0, a12 = a0,
           a13 = a0, a14 = a0;
    /* Fifteen accumulators and the broadcast fill the sixteen registers:
     * nothing else is carried from one output to the next. */
    for (size_t i = 0; i < n; i++) {
        const __m256 gv = _mm256_broadcast_ss(gz + i);
        const float *x = xp + pos[i];
        PW_FMA(0); PW_FMA(1); PW_FMA(2); PW_FMA(3); PW_FMA(4);
        PW_FMA(5); PW_FMA(6); PW_FMA(7); PW_FMA(8); PW_FMA(9);
        PW_FMA(10); PW_FMA(11); PW_FMA(12); PW_FMA(13); PW_FMA(14);
    }
    PW_STORE(0); PW_STORE(1); PW_STORE(2); PW_STORE(3); PW_STORE(4);
    PW_STORE(5); PW_STORE(6); PW_STORE(7); PW_STORE(8); PW_STORE(9);
    PW_STORE(10); PW_STORE(11); PW_STORE(12); PW_STORE(13); PW_STORE(14);
}

/* 5x5 kernels over C = 1 or 3 channels (LeNet's and CIFAR's first
 * layers): each row's address from one of C channel pointers plus kh row
 * lengths (base + index*4 addressing), so no table of row offsets has to
 * live in registers or be reloaded every output. */
#define PW5_FMA(a, p, off) (a) = _mm256_fmadd_ps(gv, _mm256_loadu_ps((p) + (off)), (a))
#define PW5_ROWS(a0, a1, a2, a3, a4, p)                                        \
    do {                                                                       \
        PW5_FMA(a0, p, 0);                                                     \
        PW5_FMA(a1, p, w1);                                                    \
        PW5_FMA(a2, p, w2);                                                    \
        PW5_FMA(a3, p, w3);                                                    \
        PW5_FMA(a4, p, w4);                                                    \
    } while (0)

DIRECT_TARGET static void pooled_plane_k5(float *acc, const float *xp, size_t C,
                                          size_t plane, size_t Wp, const float *gz,
                                          const int32_t *pos, size_t n)
{
    const size_t w1 = Wp, w2 = 2 * Wp, w3 = 3 * Wp, w4 = 4 * Wp;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0,
           a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0, a12 = a0,
           a13 = a0, a14 = a0;
    if (C == 1) {
        for (size_t i = 0; i < n; i++) {
            const __m256 gv = _mm256_broadcast_ss(gz + i);
            const float *x0 = xp + pos[i];
            PW5_ROWS(a0, a1, a2, a3, a4, x0);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            const __m256 gv = _mm256_broadcast_ss(gz + i);
            const float *x0 = xp + pos[i], *x1 = x0 + plane, *x2 = x1 + plane;
            PW5_ROWS(a0, a1, a2, a3, a4, x0);
            PW5_ROWS(a5, a6, a7, a8, a9, x1);
            PW5_ROWS(a10, a11, a12, a13, a14, x2);
        }
    }
    const size_t nr = 5 * C;
    PW_STORE(0); PW_STORE(1); PW_STORE(2); PW_STORE(3); PW_STORE(4);
    PW_STORE(5); PW_STORE(6); PW_STORE(7); PW_STORE(8); PW_STORE(9);
    PW_STORE(10); PW_STORE(11); PW_STORE(12); PW_STORE(13); PW_STORE(14);
}

/* Any other row count up to 15, with a test per row. */
DIRECT_TARGET static void pooled_plane_fast(float *acc, const float *xp,
                                            const size_t *rowoff, size_t nr,
                                            size_t K, const float *gz,
                                            const int32_t *pos, size_t n)
{
    if (K == 5 && (nr == 5 || nr == 15)) /* rowoff[5] - rowoff[0]: a plane */
        pooled_plane_k5(acc, xp, nr / 5, nr == 5 ? 0 : rowoff[5], rowoff[1],
                        gz, pos, n);
    else
        pooled_plane_avx2(acc, xp, rowoff, nr, gz, pos, n);
}

/* Rows-by-pixels tile for layers with few taps: out[oc_i][px0 + j] for six
 * output channels (weights a[i][k], broadcast) and sixteen adjacent pixels
 * of one output row, read as vectors at src + off[k]; bias, ReLU and the
 * store (first jn columns, first mr rows) happen here, in vectors. */
DIRECT_TARGET static void rows6x16_avx2(size_t kc, const float *const a[MR],
                                   const int32_t *off, const float *src,
                                   float *const o[MR], const float *bias,
                                   size_t mr, size_t jn, int relu)
{
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4],
                *a5 = a[5];
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00,
           c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00,
           c50 = c00, c51 = c00;
    for (size_t k = 0; k < kc; k++) {
        const float *b = src + off[k];
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        FMA_ROW(a0 + k, c00, c01);
        FMA_ROW(a1 + k, c10, c11);
        FMA_ROW(a2 + k, c20, c21);
        FMA_ROW(a3 + k, c30, c31);
        FMA_ROW(a4 + k, c40, c41);
        FMA_ROW(a5 + k, c50, c51);
    }
    const __m256 acc[MR][2] = { { c00, c01 }, { c10, c11 }, { c20, c21 },
                                { c30, c31 }, { c40, c41 }, { c50, c51 } };
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)jn), lane);
    const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)jn - 8), lane);
    const __m256 zero = _mm256_setzero_ps();
    for (size_t i = 0; i < mr; i++) {
        const __m256 bi = _mm256_set1_ps(bias[i]);
        __m256 v0 = _mm256_add_ps(acc[i][0], bi), v1 = _mm256_add_ps(acc[i][1], bi);
        if (relu) { /* max(0, v) returns v when v is NaN, as relu_forward */
            v0 = _mm256_max_ps(zero, v0);
            v1 = _mm256_max_ps(zero, v1);
        }
        if (jn == NR) {
            _mm256_storeu_ps(o[i], v0);
            _mm256_storeu_ps(o[i] + 8, v1);
        } else {
            _mm256_maskstore_ps(o[i], m0, v0);
            _mm256_maskstore_ps(o[i] + 8, m1, v1);
        }
    }
}
/* One or two output channels (mr) by up to 32 pixels (jn) of an output
 * row: rows6x16's remainder.  Weights a0, a1 broadcast, pixels four
 * vectors at src + off[k]; bias, ReLU and the masked stores here.  With
 * mr = 1, a1 and o1 must name the same channel as a0 and o0 (computed,
 * not stored). */
DIRECT_TARGET static void rows2x32_avx2(size_t kc, const float *a0, const float *a1,
                                   const int32_t *off, const float *src, float *o0,
                                   float *o1, float bias0, float bias1, size_t mr,
                                   size_t jn, int relu)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c03 = c00, c10 = c00,
           c11 = c00, c12 = c00, c13 = c00;
    for (size_t k = 0; k < kc; k++) {
        const float *p = src + off[k];
        const __m256 x0 = _mm256_loadu_ps(p), x1 = _mm256_loadu_ps(p + 8),
                     x2 = _mm256_loadu_ps(p + 16), x3 = _mm256_loadu_ps(p + 24);
        const __m256 w0 = _mm256_broadcast_ss(a0 + k), w1 = _mm256_broadcast_ss(a1 + k);
        c00 = _mm256_fmadd_ps(w0, x0, c00);
        c01 = _mm256_fmadd_ps(w0, x1, c01);
        c02 = _mm256_fmadd_ps(w0, x2, c02);
        c03 = _mm256_fmadd_ps(w0, x3, c03);
        c10 = _mm256_fmadd_ps(w1, x0, c10);
        c11 = _mm256_fmadd_ps(w1, x1, c11);
        c12 = _mm256_fmadd_ps(w1, x2, c12);
        c13 = _mm256_fmadd_ps(w1, x3, c13);
    }
    const __m256 acc[2][4] = { { c00, c01, c02, c03 }, { c10, c11, c12, c13 } };
    const float bias[2] = { bias0, bias1 };
    float *const o[2] = { o0, o1 };
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 zero = _mm256_setzero_ps();
    for (size_t i = 0; i < mr; i++)
        for (size_t v = 0; v < 4 && 8 * v < jn; v++) {
            __m256 x = _mm256_add_ps(acc[i][v], _mm256_set1_ps(bias[i]));
            if (relu) /* max(0, v) returns v when v is NaN, as relu_forward */
                x = _mm256_max_ps(zero, x);
            if (8 * v + 8 <= jn)
                _mm256_storeu_ps(o[i] + 8 * v, x);
            else
                _mm256_maskstore_ps(o[i] + 8 * v,
                                    _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(jn - 8 * v)),
                                                       lane), x);
        }
}
/* ---- AVX-512 (db_simd_get() == DB_SIMD_AVX512) ---------------------------
 * The same tiles with one 16-float vector where the AVX2 ones use two
 * 8-float halves: every output is the same chain of FMAs in k order from
 * zero, and the same bias add, ReLU (max(0, v)) and sum with c in the
 * same operand order, so both paths give the same bits
 * (tests/test_simd.c).  Loads and stores cover the same floats. */
#define AVX512_TARGET __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")))

AVX512_TARGET static inline __mmask16 lanes16(size_t n)
{
    return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
}

#define FMA_ROW512(p, c) (c) = _mm512_fmadd_ps(_mm512_set1_ps(*(p)), b, (c))

/* The end of a tile (the first mr rows, jn columns): as tile6x16's. */
AVX512_TARGET static inline __attribute__((always_inline)) void
tile_store512(const __m512 acc[MR], float *c, size_t ldc, size_t mr, size_t jn,
              const float *bias, int relu, int add, int trans)
{
    const __m512 zero = _mm512_setzero_ps();
    const __m512 bb = bias ? _mm512_loadu_ps(bias) : zero;
    if (trans) {
        /* the AVX2 store of the two halves: the 8x8 transposes */
        __m256 v0[MR], v1[MR];
        for (size_t i = 0; i < MR; i++) {
            __m512 v = acc[i];
            if (!add && bias)
                v = _mm512_add_ps(v, bb);
            if (relu)
                v = _mm512_max_ps(zero, v);
            v0[i] = _mm512_castps512_ps256(v);
            v1[i] = _mm512_extractf32x8_ps(v, 1);
        }
        store_cols8(c, ldc, mr, jn, v0, add);
        if (jn > 8)
            store_cols8(c + 8 * ldc, ldc, mr, jn - 8, v1, add);
        return;
    }
    for (size_t i = 0; i < mr; i++, c += ldc) {
        __m512 v = acc[i];
        if (add)
            v = _mm512_add_ps(_mm512_loadu_ps(c), v);
        else if (bias)
            v = _mm512_add_ps(v, bb);
        if (relu) /* max(0, v) returns v when v is NaN, as relu_forward */
            v = _mm512_max_ps(zero, v);
        _mm512_storeu_ps(c, v);
    }
}

AVX512_TARGET static void tile6x16_avx512(size_t kc, const float *const r[MR],
                                          const int32_t *off, const float *bp, float *c,
                                          size_t ldc, size_t mr, size_t jn,
                                          const float *bias, int relu, int add, int trans)
{
    const float *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3], *r4 = r[4],
                *r5 = r[5];
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    for (size_t k = 0; k < kc; k++, bp += NR) {
        const ptrdiff_t o = off[k];
        const __m512 b = _mm512_loadu_ps(bp);
        FMA_ROW512(r0 + o, c0);
        FMA_ROW512(r1 + o, c1);
        FMA_ROW512(r2 + o, c2);
        FMA_ROW512(r3 + o, c3);
        FMA_ROW512(r4 + o, c4);
        FMA_ROW512(r5 + o, c5);
    }
    const __m512 acc[MR] = { c0, c1, c2, c3, c4, c5 };
    tile_store512(acc, c, ldc, mr, jn, bias, relu, add, trans);
}

/* Two tiles of the same six rows side by side: columns from the panels
 * bp and bp + pst (each NR wide), results to c and c + cst (jn and jn1
 * columns, biases bias and bias + NR): twelve independent FMA chains
 * instead of six, each broadcast feeding two FMAs.  Every output is the
 * same chain as tile6x16's. */
#define FMA_ROW512x2(p, c, d)                                  \
    do {                                                       \
        const __m512 x_ = _mm512_set1_ps(*(p));                \
        (c) = _mm512_fmadd_ps(x_, b, (c));                     \
        (d) = _mm512_fmadd_ps(x_, b1, (d));                    \
    } while (0)

AVX512_TARGET static void tile6x32_avx512(size_t kc, const float *const r[MR],
                                          const int32_t *off, const float *bp, size_t pst,
                                          float *c, size_t cst, size_t ldc, size_t mr,
                                          size_t jn, size_t jn1, const float *bias,
                                          int relu, int add, int trans)
{
    const float *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3], *r4 = r[4],
                *r5 = r[5];
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0,
           d0 = c0, d1 = c0, d2 = c0, d3 = c0, d4 = c0, d5 = c0;
    const float *bq = bp + pst;
    for (size_t k = 0; k < kc; k++, bp += NR, bq += NR) {
        const ptrdiff_t o = off[k];
        const __m512 b = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bq);
        FMA_ROW512x2(r0 + o, c0, d0);
        FMA_ROW512x2(r1 + o, c1, d1);
        FMA_ROW512x2(r2 + o, c2, d2);
        FMA_ROW512x2(r3 + o, c3, d3);
        FMA_ROW512x2(r4 + o, c4, d4);
        FMA_ROW512x2(r5 + o, c5, d5);
    }
    const __m512 acc[MR] = { c0, c1, c2, c3, c4, c5 }, acc1[MR] = { d0, d1, d2, d3, d4, d5 };
    tile_store512(acc, c, ldc, mr, jn, bias, relu, add, trans);
    tile_store512(acc1, c + cst, ldc, mr, jn1, bias ? bias + NR : NULL, relu, add, trans);
}

/* Two tiles of six rows each over the same columns bp: rows ra to c,
 * rows rb to cb (mra, mrb rows stored): twelve independent FMA chains,
 * each column vector feeding twelve FMAs.  Every output is the same chain
 * as tile6x16's. */
AVX512_TARGET static void tile12x16_avx512(size_t kc, const float *const ra[MR],
                                           const float *const rb[MR], const int32_t *off,
                                           const float *bp, float *c, float *cb, size_t ldc,
                                           size_t mra, size_t mrb, size_t jn,
                                           const float *bias, int relu, int add, int trans)
{
    const float *r0 = ra[0], *r1 = ra[1], *r2 = ra[2], *r3 = ra[3], *r4 = ra[4],
                *r5 = ra[5], *s0 = rb[0], *s1 = rb[1], *s2 = rb[2], *s3 = rb[3],
                *s4 = rb[4], *s5 = rb[5];
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0,
           d0 = c0, d1 = c0, d2 = c0, d3 = c0, d4 = c0, d5 = c0;
    for (size_t k = 0; k < kc; k++, bp += NR) {
        const ptrdiff_t o = off[k];
        const __m512 b = _mm512_loadu_ps(bp);
        FMA_ROW512(r0 + o, c0);
        FMA_ROW512(r1 + o, c1);
        FMA_ROW512(r2 + o, c2);
        FMA_ROW512(r3 + o, c3);
        FMA_ROW512(r4 + o, c4);
        FMA_ROW512(r5 + o, c5);
        FMA_ROW512(s0 + o, d0);
        FMA_ROW512(s1 + o, d1);
        FMA_ROW512(s2 + o, d2);
        FMA_ROW512(s3 + o, d3);
        FMA_ROW512(s4 + o, d4);
        FMA_ROW512(s5 + o, d5);
    }
    const __m512 acc[MR] = { c0, c1, c2, c3, c4, c5 }, acc1[MR] = { d0, d1, d2, d3, d4, d5 };
    tile_store512(acc, c, ldc, mra, jn, bias, relu, add, trans);
    tile_store512(acc1, cb, ldc, mrb, jn, bias, relu, add, trans);
}

AVX512_TARGET static void rows6x16_avx512(size_t kc, const float *const a[MR],
                                          const int32_t *off, const float *src,
                                          float *const o[MR], const float *bias, size_t mr,
                                          size_t jn, int relu)
{
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4],
                *a5 = a[5];
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    for (size_t k = 0; k < kc; k++) {
        const __m512 b = _mm512_loadu_ps(src + off[k]);
        FMA_ROW512(a0 + k, c0);
        FMA_ROW512(a1 + k, c1);
        FMA_ROW512(a2 + k, c2);
        FMA_ROW512(a3 + k, c3);
        FMA_ROW512(a4 + k, c4);
        FMA_ROW512(a5 + k, c5);
    }
    const __m512 acc[MR] = { c0, c1, c2, c3, c4, c5 };
    const __m512 zero = _mm512_setzero_ps();
    const __mmask16 m = lanes16(jn);
    for (size_t i = 0; i < mr; i++) {
        __m512 v = _mm512_add_ps(acc[i], _mm512_set1_ps(bias[i]));
        if (relu)
            v = _mm512_max_ps(zero, v);
        _mm512_mask_storeu_ps(o[i], m, v);
    }
}

AVX512_TARGET static void rows2x32_avx512(size_t kc, const float *a0, const float *a1,
                                          const int32_t *off, const float *src, float *o0,
                                          float *o1, float bias0, float bias1, size_t mr,
                                          size_t jn, int relu)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00;
    for (size_t k = 0; k < kc; k++) {
        const float *p = src + off[k];
        const __m512 x0 = _mm512_loadu_ps(p), x1 = _mm512_loadu_ps(p + 16);
        const __m512 w0 = _mm512_set1_ps(a0[k]), w1 = _mm512_set1_ps(a1[k]);
        c00 = _mm512_fmadd_ps(w0, x0, c00);
        c01 = _mm512_fmadd_ps(w0, x1, c01);
        c10 = _mm512_fmadd_ps(w1, x0, c10);
        c11 = _mm512_fmadd_ps(w1, x1, c11);
    }
    const __m512 acc[2][2] = { { c00, c01 }, { c10, c11 } };
    const float bias[2] = { bias0, bias1 };
    float *const o[2] = { o0, o1 };
    const __m512 zero = _mm512_setzero_ps();
    for (size_t i = 0; i < mr; i++)
        for (size_t v = 0; v < 2 && 16 * v < jn; v++) {
            __m512 x = _mm512_add_ps(acc[i][v], _mm512_set1_ps(bias[i]));
            if (relu)
                x = _mm512_max_ps(zero, x);
            _mm512_mask_storeu_ps(o[i] + 16 * v, lanes16(jn - 16 * v), x);
        }
}

static int tiles512(void) { return db_simd_get() == DB_SIMD_AVX512; }

/* The dispatch: one relaxed load a tile. */
static void tile6x16(size_t kc, const float *const r[MR], const int32_t *off,
                     const float *bp, float *c, size_t ldc, size_t mr, size_t jn,
                     const float *bias, int relu, int add, int trans)
{
    if (db_simd_get() == DB_SIMD_AVX512)
        tile6x16_avx512(kc, r, off, bp, c, ldc, mr, jn, bias, relu, add, trans);
    else
        tile6x16_avx2(kc, r, off, bp, c, ldc, mr, jn, bias, relu, add, trans);
}

static void rows6x16(size_t kc, const float *const a[MR], const int32_t *off,
                     const float *src, float *const o[MR], const float *bias, size_t mr,
                     size_t jn, int relu)
{
    if (db_simd_get() == DB_SIMD_AVX512)
        rows6x16_avx512(kc, a, off, src, o, bias, mr, jn, relu);
    else
        rows6x16_avx2(kc, a, off, src, o, bias, mr, jn, relu);
}

static void rows2x32(size_t kc, const float *a0, const float *a1, const int32_t *off,
                     const float *src, float *o0, float *o1, float bias0, float bias1,
                     size_t mr, size_t jn, int relu)
{
    if (db_simd_get() == DB_SIMD_AVX512)
        rows2x32_avx512(kc, a0, a1, off, src, o0, o1, bias0, bias1, mr, jn, relu);
    else
        rows2x32_avx2(kc, a0, a1, off, src, o0, o1, bias0, bias1, mr, jn, relu);
}
#else
int conv_direct_enabled(void)
{
    return 0;
}



static void dout_panels(float *gt, const float *g, size_t OC, size_t ohw)
{
    panels_scalar(gt, g, ohw, 0, OC, 0, ohw);
}

static void pooled_plane_fast(float *acc, const float *xp, const size_t *rowoff,
                              size_t nr, size_t K, const float *gz, const int32_t *pos,
                              size_t n)
{
    (void)K;
    pooled_plane(acc, xp, rowoff, nr, gz, pos, n);
}

/* Never called: conv.c takes the direct path only when enabled. */
static void tile6x16(size_t kc, const float *const r[MR], const int32_t *off,
                     const float *bp, float *c, size_t ldc, size_t mr, size_t jn,
                     const float *bias, int relu, int add, int trans)
{
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

static void rows6x16(size_t kc, const float *const a[MR], const int32_t *off,
                     const float *src, float *const o[MR], const float *bias,
                     size_t mr, size_t jn, int relu)
{
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < jn; j++) {
            float acc = 0.0f;
            for (size_t k = 0; k < kc; k++)
                acc += a[i][k] * src[off[k] + j];
            acc += bias[i];
            o[i][j] = relu && acc < 0.0f ? 0.0f : acc;
        }
}

/* The scalar rows6x16 takes rows of any width. */
static void rows2x32(size_t kc, const float *a0, const float *a1, const int32_t *off,
                     const float *src, float *o0, float *o1, float bias0, float bias1,
                     size_t mr, size_t jn, int relu)
{
    const float *const a[MR] = { a0, a1, a0, a0, a0, a0 };
    float *const o[MR] = { o0, o1, o0, o0, o0, o0 };
    const float bias[MR] = { bias0, bias1 };
    rows6x16(kc, a, off, src, o, bias, mr, jn, relu);
}

static int tiles512(void) { return 0; }

/* Never called: tiles512() is 0 here. */
static void tile6x32_avx512(size_t kc, const float *const r[MR], const int32_t *off,
                            const float *bp, size_t pst, float *c, size_t cst, size_t ldc,
                            size_t mr, size_t jn, size_t jn1, const float *bias, int relu,
                            int add, int trans)
{
    tile6x16(kc, r, off, bp, c, ldc, mr, jn, bias, relu, add, trans);
    tile6x16(kc, r, off, bp + pst, c + cst, ldc, mr, jn1, bias ? bias + NR : NULL, relu,
             add, trans);
}
#endif

/* Row pointers of a tile starting at row i0 of n: rows past the end repeat
 * row i0 (computed, never stored). */
static size_t tile_rows(const float *r[MR], const float *origin,
                        const int32_t *pos, size_t i0, size_t n)
{
    size_t mr = n - i0 < MR ? n - i0 : MR;
    for (size_t i = 0; i < MR; i++)
        r[i] = origin + pos[i0 + (i < mr ? i : 0)];
    return mr;
}

static void forward_rows(float *out, const float *in, const float *w,
                         const float *b, const conv2d_shape *s, float *work,
                         int relu)
{
    const size_t C = s->C, H = s->H, W = s->W, K = s->K, pad = s->pad,
                 OC = s->OC, OH = s->OH, OW = s->OW;
    const size_t Hp = H + 2 * pad, Wp = W + 2 * pad, ohw = OH * OW,
                 ckk = C * K * K, nxp = C * Hp * Wp + 2 * NR;
    float *xp = work;
    int32_t *off = tables(work, nxp);
    /* Output channels left over by the six-row tiles: one or two run as
     * rows2x32 (a six-row tile would spend two thirds of its FMAs on
     * repeated rows), three to five as a partial six-row tile. */
    const size_t oc_main = OC % MR <= 2 ? OC - OC % MR : OC;
    tap_offsets(off, C, K, Hp, Wp);
    memset(xp, 0, nxp * sizeof *xp);
    for (size_t n = 0; n < s->B; n++) {
        pad_copy(xp, in + n * C * H * W, C, H, W, pad);
        float *on = out + n * OC * ohw;
        for (size_t oh = 0; oh < OH; oh++)
            for (size_t ow0 = 0; ow0 < OW; ow0 += NR) {
                const size_t jn = OW - ow0 < NR ? OW - ow0 : NR;
                const float *src = xp + oh * Wp + ow0;
                for (size_t oc0 = 0; oc0 < oc_main; oc0 += MR) {
                    const size_t mr = OC - oc0 < MR ? OC - oc0 : MR;
                    const float *a[MR];
                    float *o[MR];
                    for (size_t i = 0; i < MR; i++) {
                        size_t oc = oc0 + (i < mr ? i : 0);
                        a[i] = w + oc * ckk;
                        o[i] = on + oc * ohw + oh * OW + ow0;
                    }
                    rows6x16(ckk, a, off, src, o, b + oc0, mr, jn, relu);
                }
            }
        if (oc_main == OC)
            continue;
        const size_t last = OC - 1, oc1 = oc_main + 1 < OC ? oc_main + 1 : last;
        for (size_t oh = 0; oh < OH; oh++)
            for (size_t ow0 = 0; ow0 < OW; ow0 += 2 * NR) {
                const size_t jn = OW - ow0 < 2 * NR ? OW - ow0 : 2 * NR;
                rows2x32(ckk, w + oc_main * ckk, w + oc1 * ckk, off,
                         xp + oh * Wp + ow0, on + oc_main * ohw + oh * OW + ow0,
                         on + oc1 * ohw + oh * OW + ow0, b[oc_main], b[oc1],
                         OC - oc_main, jn, relu);
            }
    }
}

void conv_direct_forward(float *out, const float *in, const float *w,
                         const float *b, const conv2d_shape *s, float *work,
                         int relu)
{
    if (rows_mode(s)) {
        forward_rows(out, in, w, b, s, work, relu);
        return;
    }
    const size_t C = s->C, H = s->H, W = s->W, K = s->K, pad = s->pad,
                 OC = s->OC, OH = s->OH, OW = s->OW;
    const size_t Hp = H + 2 * pad, Wp = W + 2 * pad, ohw = OH * OW,
                 ckk = C * K * K, OCp = up16(OC), nxp = C * Hp * Wp;
    float *xp = work, *wp = work + nxp, *bp = wp + OCp * ckk;
    int32_t *off = tables(work, nxp + OCp * (ckk + 1)), *base = off + ckk;
    for (size_t oc = 0; oc < OCp; oc++) /* the bias, zero past OC */
        bp[oc] = oc < OC ? b[oc] : 0.0f;
    /* wp[(p*ckk + k)*NR + j] = W[p*NR + j][k], zero past OC. */
    for (size_t p = 0; p < OCp / NR; p++)
        for (size_t k = 0; k < ckk; k++)
            for (size_t j = 0; j < NR; j++) {
                size_t oc = p * NR + j;
                wp[(p * ckk + k) * NR + j] = oc < OC ? w[oc * ckk + k] : 0.0f;
            }
    tap_offsets(off, C, K, Hp, Wp);
    pixel_bases(base, OH, OW, Wp);
    if (pad)
        memset(xp, 0, nxp * sizeof *xp);
    const int w512 = tiles512();
    for (size_t n = 0; n < s->B; n++) {
        const float *x = in + n * C * H * W;
        if (pad)
            pad_copy(xp, x, C, H, W, pad);
        const float *src = pad ? xp : x;
        float *o = out + n * OC * ohw;
        size_t p = 0;
        if (w512) /* two panels at a time, the same sums */
            for (; p + 2 <= OCp / NR; p += 2) {
                const size_t jn1 = OC - (p + 1) * NR < NR ? OC - (p + 1) * NR : NR;
                for (size_t p0 = 0; p0 < ohw; p0 += MR) {
                    const float *r[MR];
                    size_t mr = tile_rows(r, src, base, p0, ohw);
                    tile6x32_avx512(ckk, r, off, wp + p * ckk * NR, ckk * NR,
                                    o + p * NR * ohw + p0, NR * ohw, ohw, mr, NR, jn1,
                                    bp + p * NR, relu, 0, 1);
                }
            }
        for (; p < OCp / NR; p++) {
            const size_t jn = OC - p * NR < NR ? OC - p * NR : NR;
            for (size_t p0 = 0; p0 < ohw; p0 += MR) {
                const float *r[MR];
                size_t mr = tile_rows(r, src, base, p0, ohw);
                tile6x16(ckk, r, off, wp + p * ckk * NR, o + p * NR * ohw + p0, ohw,
                         mr, jn, bp + p * NR, relu, 0, 1);
            }
        }
    }
}

void conv_direct_weights(float *dw, const float *dout, const float *in,
                         const conv2d_shape *s, float *work, int set)
{
    const size_t C = s->C, H = s->H, W = s->W, K = s->K, pad = s->pad,
                 OC = s->OC, OH = s->OH, OW = s->OW;
    const size_t Hp = H + 2 * pad, Wp = W + 2 * pad, ohw = OH * OW,
                 ckk = C * K * K, OCp = up16(OC), nxp = C * Hp * Wp;
    float *xp = work, *gt = work + nxp, *acc = gt + OCp * ohw;
    int32_t *off = tables(work, nxp + OCp * (ohw + ckk)), *base = off + ckk;
    tap_offsets(off, C, K, Hp, Wp);
    pixel_bases(base, OH, OW, Wp);
    memset(acc, 0, ckk * OCp * sizeof *acc);
    /* Output channels past OC stay zero in every example's panel. */
    if (OC < OCp)
        memset(gt + (OCp - NR) * ohw, 0, NR * ohw * sizeof *gt);
    if (pad)
        memset(xp, 0, nxp * sizeof *xp);
    const int w512 = tiles512();
    for (size_t n = 0; n < s->B; n++) {
        const float *x = in + n * C * H * W, *g = dout + n * OC * ohw;
        if (pad)
            pad_copy(xp, x, C, H, W, pad);
        const float *src = pad ? xp : x;
        /* gt[(p*ohw + px)*NR + j] = dout[p*NR + j][px] */
        dout_panels(gt, g, OC, ohw);
        size_t p = 0;
        if (w512) /* two panels at a time, the same sums */
            for (; p + 2 <= OCp / NR; p += 2)
                for (size_t k0 = 0; k0 < ckk; k0 += MR) {
                    const float *r[MR];
                    size_t mr = tile_rows(r, src, off, k0, ckk);
                    tile6x32_avx512(ohw, r, base, gt + p * ohw * NR, ohw * NR,
                                    acc + k0 * OCp + p * NR, NR, OCp, mr, NR, NR, NULL, 0, 1,
                                    0);
                }
        for (; p < OCp / NR; p++)
            for (size_t k0 = 0; k0 < ckk; k0 += MR) {
                const float *r[MR];
                size_t mr = tile_rows(r, src, off, k0, ckk);
                tile6x16(ohw, r, base, gt + p * ohw * NR,
                         acc + k0 * OCp + p * NR, OCp, mr, NR, NULL, 0, 1, 0);
            }
    }
    for (size_t oc = 0; oc < OC; oc++)
        for (size_t k = 0; k < ckk; k++) {
            float *d = dw + oc * ckk + k;
            *d = (set ? 0.0f : *d) + acc[k * OCp + oc];
        }
}

void conv_direct_input(float *din, const float *dout, const float *w,
                       const conv2d_shape *s, float *work, int set)
{
    const size_t C = s->C, H = s->H, W = s->W, K = s->K, OC = s->OC,
                 OH = s->OH, OW = s->OW, q = K - 1 - s->pad;
    const size_t Hq = H + K - 1, Wq = W + K - 1, hw = H * W, ohw = OH * OW,
                 okk = OC * K * K, Cp = up16(C), ngp = OC * Hq * Wq, ok = OC * K;
    float *gp = work, *wf = work + ngp;
    int32_t *off = tables(work, ngp + Cp * okk), *base = off + okk;
    /* Taps in (kh, oc, kw) order, so that the taps of a range of kh are
     * contiguous: wf[(p*okk + (kh*OC + oc)*K + kw)*NR + j] =
     * W[oc][p*NR + j][K-1-kh][K-1-kw], off[(kh*OC + oc)*K + kw] =
     * (oc*Hq + kh)*Wq + kw. */
    for (size_t p = 0; p < Cp / NR; p++)
        for (size_t kh = 0; kh < K; kh++)
            for (size_t oc = 0; oc < OC; oc++)
                for (size_t kw = 0; kw < K; kw++) {
                    float *d = wf + (p * okk + (kh * OC + oc) * K + kw) * NR;
                    for (size_t j = 0; j < NR; j++) {
                        size_t c = p * NR + j;
                        d[j] = c < C ? w[((oc * C + c) * K + K - 1 - kh) * K + K - 1 - kw]
                                     : 0.0f;
                    }
                }
    for (size_t kh = 0; kh < K; kh++)
        for (size_t oc = 0; oc < OC; oc++)
            for (size_t kw = 0; kw < K; kw++)
                off[(kh * OC + oc) * K + kw] = (int32_t)((oc * Hq + kh) * Wq + kw);
    pixel_bases(base, H, W, Wq);
    memset(gp, 0, ngp * sizeof *gp);
    const int by_row = input_rows_cost(s) < input_flat_cost(s);
    const int w512 = tiles512();
    for (size_t n = 0; n < s->B; n++) {
        /* dout's planes, bordered by q = K-1-pad zeros: input pixel (ih, iw)
         * reads window corner (ih, iw) of gp. */
        pad_copy(gp, dout + n * OC * ohw, OC, OH, OW, q);
        float *o = din + n * C * hw;
        const size_t npan = Cp / NR;
        for (size_t p = 0; p < npan; p += w512 && p + 2 <= npan ? 2 : 1) {
            const int two = w512 && p + 2 <= npan; /* two panels, the same sums */
            const size_t jn = C - p * NR < NR ? C - p * NR : NR;
            const size_t jn1 = two ? (C - (p + 1) * NR < NR ? C - (p + 1) * NR : NR) : 0;
            const float *wp = wf + p * okk * NR;
            /* Tiles of six pixels: all of them in turn over every tap, or
             * (by_row) within rows that reach the same kernel rows, over the
             * taps whose kh reaches dout rather than its zero border. */
            for (size_t ih = 0, q0 = 0, next; q0 < hw; ih = next) {
                size_t end = hw, lo = 0, hi = K;
                next = H;
                if (by_row) {
                    kh_group(s, ih, &next, &lo, &hi);
                    end = next * W;
                }
                for (; q0 < end; q0 += mr_step(q0, end)) {
                    const float *r[MR];
                    size_t mr = tile_rows(r, gp, base, q0, end);
                    if (two)
                        tile6x32_avx512((hi - lo) * ok, r, off + lo * ok, wp + lo * ok * NR,
                                        okk * NR, o + p * NR * hw + q0, NR * hw, hw, mr, jn,
                                        jn1, NULL, 0, !set, 1);
                    else
                        tile6x16((hi - lo) * ok, r, off + lo * ok, wp + lo * ok * NR,
                                 o + p * NR * hw + q0, hw, mr, jn, NULL, 0, !set, 1);
                }
            }
        }
    }
}

void conv2d_pooled_weights(float *dw, float *db, const float *g,
                           const uint32_t *argmax, const float *pout, size_t pohw,
                           const float *in, const conv2d_shape *s, float *work,
                           int set)
{
    const size_t C = s->C, H = s->H, W = s->W, K = s->K, pad = s->pad,
                 OC = s->OC, Hp = H + 2 * pad, Wp = W + 2 * pad,
                 nxp = C * Hp * Wp + PW_LANES, nr = C * K, ckk = C * K * K;
    float *xp = work, *acc = work + nxp, *bsum = acc + OC * nr * PW_LANES;
    int32_t *base = tables(work, nxp + OC * (nr * PW_LANES + 1));
    /* The rows go through the sums in blocks of whole channels, at most
     * PW_MAX_ROWS rows (three channels of a 5x5 kernel), each block's
     * rows in registers; rowoff: a block's rows from its first channel. */
    const size_t cb = PW_MAX_ROWS / K;
    size_t rowoff[PW_MAX_ROWS] = { 0 };
    for (size_t c = 0; c < cb; c++)
        for (size_t kh = 0; kh < K; kh++)
            rowoff[c * K + kh] = (c * Hp + kh) * Wp;
    pixel_bases(base, s->OH, s->OW, Wp);
    memset(work, 0, (nxp + OC * (nr * PW_LANES + 1)) * sizeof *work);
    const int fast = conv_direct_enabled();
    for (size_t n = 0; n < s->B; n++) {
        pad_copy(xp, in + n * C * H * W, C, H, W, pad);
        for (size_t oc = 0; oc < OC; oc++) {
            const size_t o = (n * OC + oc) * pohw;
            float *a = acc + oc * nr * PW_LANES;
            for (size_t i0 = 0; i0 < pohw; i0 += PW_BLOCK) {
                const size_t m = pohw - i0 < PW_BLOCK ? pohw - i0 : PW_BLOCK;
                const float *gi = g + o + i0, *pi = pout + o + i0;
                const uint32_t *ai = argmax + o + i0;
                /* The ReLU's backward, then the outputs whose gradient is
                 * not zero (a quarter to a half are: ReLU, a dropout above
                 * the pool), compacted without a branch, so the sums skip
                 * the others without mispredicting on them; and their
                 * window corners, so the sums' loads wait on one load, not
                 * two.  A skipped 0 * x is a 0 the sums do not miss while
                 * the input is finite. */
                float gz[PW_BLOCK], b = 0.0f;
                int32_t pos[PW_BLOCK];
                v4f b4 = v4f_set1(0.0f);
                size_t i = 0;
                for (; i + 4 <= m; i += 4) {
                    v4f z = v4f_and(v4f_load(gi + i), v4f_load(pi + i) > 0.0f);
                    v4f_store(gz + i, z);
                    b4 += z;
                }
                for (; i < m; i++) {
                    gz[i] = pi[i] > 0.0f ? gi[i] : 0.0f;
                    b += gz[i];
                }
                size_t nz = 0;
                for (i = 0; i < m; i++) {
                    gz[nz] = gz[i];
                    pos[nz] = base[ai[i]];
                    nz += gz[i] != 0.0f;
                }
                bsum[oc] += (b4[0] + b4[1]) + (b4[2] + b4[3]) + b;
                for (size_t c0 = 0; c0 < C; c0 += cb) {
                    const size_t nrb = (C - c0 < cb ? C - c0 : cb) * K;
                    float *ab = a + c0 * K * PW_LANES;
                    const float *xb = xp + c0 * Hp * Wp;
                    if (fast)
                        pooled_plane_fast(ab, xb, rowoff, nrb, K, gz, pos, nz);
                    else
                        pooled_plane(ab, xb, rowoff, nrb, gz, pos, nz);
                }
            }
        }
    }
    for (size_t oc = 0; oc < OC; oc++) {
        for (size_t r = 0; r < nr; r++)
            for (size_t kw = 0; kw < K; kw++) {
                float *d = dw + oc * ckk + r * K + kw;
                *d = (set ? 0.0f : *d) + acc[(oc * nr + r) * PW_LANES + kw];
            }
        db[oc] = (set ? 0.0f : db[oc]) + bsum[oc];
    }
}

/* ---- Winograd F(2x2, 5x5) ------------------------------------------------
 * A stride-1 5x5 correlation on 2x2 output tiles, each from a 6x6 input
 * tile (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks",
 * 2016), with the points 0, 1, -1, 2, -2 and infinity:
 *
 *   Y = A^T [ sum over ci of (G g G^T) . (B^T d B) ] A        (. element-wise)
 *
 *   B^T = [ 4  0 -5  0  1  0 ]   G = [  1/4    0     0     0    0  ]
 *         [ 0 -4 -4  1  1  0 ]       [ -1/6  -1/6  -1/6  -1/6 -1/6 ]
 *         [ 0  4 -4 -1  1  0 ]       [ -1/6   1/6  -1/6   1/6 -1/6 ]
 *         [ 0 -2 -1  2  1  0 ]       [ 1/24  1/12   1/6   1/3  2/3 ]
 *         [ 0  2 -1 -2  1  0 ]       [ 1/24 -1/12   1/6  -1/3  2/3 ]
 *         [ 0  4  0 -5  0  1 ]       [   0     0     0     0    1  ]
 *
 *   A^T = [ 1 1  1 1  1 0 ]
 *         [ 0 1 -1 2 -2 1 ]
 *
 * (scripts/wino-matrices derives them in exact arithmetic and checks the
 * identity).  36 products per channel pair and tile instead of 100: the
 * sums over input channels are 36 independent products (tiles x Ci) *
 * (Ci x Co), run on tile6x16.  Tiles stream through blocks of WNT that
 * may span examples; per block and 16 output channels the 36 products
 * land in M, which the output transform reads back while it is in L1/L2.
 *
 * The forward pass and the input gradient (the full correlation of dout,
 * padded by K-1-pad, with the filters turned by 180 degrees and their
 * channel roles swapped) are the same computation on different planes.
 *
 * Scratch: xt (Hq, Wq, Cip) the example's zero-padded planes, channels
 * last | V (WNT, 36, Cip) | M (WNT, 36, NR) | bias (Cop) | off (Ci) and
 * ids (2 WNT) as int32; the transformed filters u (Cop/NR, 36, Ci, NR)
 * are prepared apart (conv_wino_prep_*). */
#define WX 36   /* transform points: 6x6 */
#define WNT 30  /* tiles per block, a multiple of MR */
#define W8 8    /* channels per vector */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define WINO_TARGET __attribute__((target("avx2,fma")))
#else
#define WINO_TARGET
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
static void wino_transpose8(float *d, size_t ldd, const float *s, size_t lds)
{
    transpose8(d, ldd, s, lds);
}
#else
static void wino_transpose8(float *d, size_t ldd, const float *s, size_t lds)
{
    for (size_t i = 0; i < 8; i++)
        for (size_t j = 0; j < 8; j++)
            d[i * ldd + j] = s[j * lds + i];
}
#endif

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

typedef struct wino_geom {
    size_t Ci, Hi, Wi, pad; /* input planes, zero-padded by pad */
    size_t Co, Ho, Wo;      /* output planes: Ho = Hi + 2 pad - 4 */
    size_t TH, TW;          /* 2x2 tiles over the output */
    size_t Hq, Wq, Cip, Cop;
} wino_geom;

static wino_geom wino_geom_of(size_t Ci, size_t Hi, size_t Wi, size_t pad, size_t Co,
                              size_t Ho, size_t Wo)
{
    wino_geom g = { Ci, Hi, Wi, pad, Co, Ho, Wo, (Ho + 1) / 2, (Wo + 1) / 2, 0, 0,
                    (Ci + W8 - 1) / W8 * W8, up16(Co) };
    g.Hq = 2 * g.TH + 4;
    g.Wq = 2 * g.TW + 4;
    return g;
}

static wino_geom wino_forward_geom(const conv2d_shape *s)
{
    return wino_geom_of(s->C, s->H, s->W, s->pad, s->OC, s->OH, s->OW);
}

static wino_geom wino_input_geom(const conv2d_shape *s)
{
    return wino_geom_of(s->OC, s->OH, s->OW, s->K - 1 - s->pad, s->C, s->H, s->W);
}

int conv_wino_suits(const conv2d_shape *s)
{
    return conv_direct_suits(s) && !rows_mode(s) && s->K == 5 && s->pad <= 4;
}

static size_t wino_prep_floats_g(const wino_geom *g) { return WX * g->Ci * g->Cop; }

static size_t wino_run_floats_g(const wino_geom *g)
{
    return g->Hq * g->Wq * g->Cip + WX * WNT * (g->Cip + NR) + g->Cop +
           table_floats(g->Ci + 2 * WNT);
}

size_t conv_wino_prep_floats(const conv2d_shape *s)
{
    wino_geom f = wino_forward_geom(s), i = wino_input_geom(s);
    size_t a = wino_prep_floats_g(&f), b = wino_prep_floats_g(&i);
    return a > b ? a : b;
}

size_t conv_wino_floats(const conv2d_shape *s)
{
    wino_geom f = wino_forward_geom(s), i = wino_input_geom(s);
    size_t a = wino_run_floats_g(&f), b = wino_run_floats_g(&i);
    return a > b ? a : b;
}

/* o[0..5] = G v for the five taps v[0], v[st], ..., v[4 st]. */
static void wino_g(float o[6], const float *v, size_t st)
{
    const float v0 = v[0], v1 = v[st], v2 = v[2 * st], v3 = v[3 * st], v4 = v[4 * st];
    const float e = v0 + v2 + v4, od = v1 + v3;
    const float e2 = v0 * (1.0f / 24) + v2 * (1.0f / 6) + v4 * (2.0f / 3),
                o2 = v1 * (1.0f / 12) + v3 * (1.0f / 3);
    o[0] = v0 * 0.25f;
    o[1] = (e + od) * (-1.0f / 6);
    o[2] = (e - od) * (-1.0f / 6);
    o[3] = e2 + o2;
    o[4] = e2 - o2;
    o[5] = v4;
}

/* u[((co/NR*WX + x)*Ci + ci)*NR + co%NR] = (G f G^T)[x] for each filter
 * f = the (co, ci) 5x5 kernel, turned by 180 degrees when flip; zero for
 * co past Co.  w is (Co, Ci, 5, 5), or (Ci, Co, 5, 5) when flip. */
static void wino_prep(float *u, const float *w, const wino_geom *g, int flip)
{
    const size_t Ci = g->Ci, Co = g->Co;
    memset(u, 0, wino_prep_floats_g(g) * sizeof *u);
    for (size_t co = 0; co < Co; co++)
        for (size_t ci = 0; ci < Ci; ci++) {
            const float *f = w + (flip ? ci * Co + co : co * Ci + ci) * 25;
            float k[25], t[5][6], x[6];
            for (size_t i = 0; i < 25; i++)
                k[i] = f[flip ? 24 - i : i];
            for (size_t j = 0; j < 5; j++) /* columns: t[j] = G k[., j] */
                wino_g(t[j], k + j, 5);
            float *d = u + ((co / NR * WX) * Ci + ci) * NR + co % NR;
            for (size_t i = 0; i < 6; i++) { /* rows i of G k G^T */
                wino_g(x, &t[0][i], 6);
                for (size_t j = 0; j < 6; j++)
                    d[(i * 6 + j) * Ci * NR] = x[j];
            }
        }
}

void conv_wino_prep_forward(float *u, const float *w, const conv2d_shape *s)
{
    wino_geom g = wino_forward_geom(s);
    wino_prep(u, w, &g, 0);
}

void conv_wino_prep_input(float *u, const float *w, const conv2d_shape *s)
{
    wino_geom g = wino_input_geom(s);
    wino_prep(u, w, &g, 1);
}

WINO_TARGET static inline __attribute__((always_inline)) v8f v8f_ld(const float *p)
{
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

WINO_TARGET static inline __attribute__((always_inline)) void v8f_st(float *p, v8f v)
{
    memcpy(p, &v, sizeof v);
}

/* r0..r5 = B^T d for six vectors d (lvalues r, expressions d evaluated
 * once each). */
#define WINO_BT(r0, r1, r2, r3, r4, r5, e0, e1, e2, e3, e4, e5)         \
    do {                                                                \
        const v8f d0_ = (e0), d1_ = (e1), d2_ = (e2), d3_ = (e3),       \
                  d4_ = (e4), d5_ = (e5);                               \
        const v8f four_ = { 4, 4, 4, 4, 4, 4, 4, 4 },                   \
                  five_ = { 5, 5, 5, 5, 5, 5, 5, 5 };                   \
        const v8f a_ = d4_ - d2_, b_ = d3_ - d1_;                       \
        (r0) = four_ * d0_ - five_ * d2_ + d4_;                         \
        (r1) = (d3_ + d4_) - four_ * (d1_ + d2_);                       \
        (r2) = (d4_ - d3_) + four_ * (d1_ - d2_);                       \
        (r3) = a_ + (b_ + b_);                                          \
        (r4) = a_ - (b_ + b_);                                          \
        (r5) = four_ * d1_ - five_ * d3_ + d5_;                         \
    } while (0)

/* V[x*Cip + c] = (B^T d B)[x] of the 6x6 tile whose corner is src in the
 * channels-last planes (row length Wq), for every channel. */
WINO_TARGET static void wino_input_tile(float *V, const float *src, const wino_geom *g)
{
    const size_t Cip = g->Cip, rs = g->Wq * Cip;
    for (size_t c = 0; c < Cip; c += W8) {
        v8f t[6][6];
        const float *p = src + c;
        for (size_t j = 0; j < 6; j++, p += Cip)
            WINO_BT(t[0][j], t[1][j], t[2][j], t[3][j], t[4][j], t[5][j], v8f_ld(p),
                    v8f_ld(p + rs), v8f_ld(p + 2 * rs), v8f_ld(p + 3 * rs),
                    v8f_ld(p + 4 * rs), v8f_ld(p + 5 * rs));
        float *v = V + c;
        for (size_t i = 0; i < 6; i++, v += 6 * Cip) {
            v8f r0, r1, r2, r3, r4, r5;
            WINO_BT(r0, r1, r2, r3, r4, r5, t[i][0], t[i][1], t[i][2], t[i][3], t[i][4],
                    t[i][5]);
            v8f_st(v, r0);
            v8f_st(v + Cip, r1);
            v8f_st(v + 2 * Cip, r2);
            v8f_st(v + 3 * Cip, r3);
            v8f_st(v + 4 * Cip, r4);
            v8f_st(v + 5 * Cip, r5);
        }
    }
}

/* y0, y1 = A^T m for six vectors m. */
#define WINO_AT(y0, y1, m0, m1, m2, m3, m4, m5)                 \
    do {                                                       \
        const v8f d34_ = (m3) - (m4);                          \
        (y0) = (m0) + ((m1) + (m2)) + ((m3) + (m4));           \
        (y1) = ((m1) - (m2)) + (d34_ + d34_) + (m5);           \
    } while (0)

typedef float v2f __attribute__((vector_size(8)));

/* One output row of a tile for eight channels: channel l's two outputs
 * a[l], b[l] to o + l*hw, as 8-byte stores after two unpacks. */
WINO_TARGET static inline __attribute__((always_inline)) void
wino_store_pairs(float *o, size_t hw, v8f a, v8f b)
{
    const v8f lo = __builtin_shufflevector(a, b, 0, 8, 1, 9, 4, 12, 5, 13),
              hi = __builtin_shufflevector(a, b, 2, 10, 3, 11, 6, 14, 7, 15);
    const v2f p[8] = { __builtin_shufflevector(lo, lo, 0, 1),
                       __builtin_shufflevector(lo, lo, 2, 3),
                       __builtin_shufflevector(hi, hi, 0, 1),
                       __builtin_shufflevector(hi, hi, 2, 3),
                       __builtin_shufflevector(lo, lo, 4, 5),
                       __builtin_shufflevector(lo, lo, 6, 7),
                       __builtin_shufflevector(hi, hi, 4, 5),
                       __builtin_shufflevector(hi, hi, 6, 7) };
    memcpy(o, &p[0], sizeof p[0]);
    memcpy(o + hw, &p[1], sizeof p[1]);
    memcpy(o + 2 * hw, &p[2], sizeof p[2]);
    memcpy(o + 3 * hw, &p[3], sizeof p[3]);
    memcpy(o + 4 * hw, &p[4], sizeof p[4]);
    memcpy(o + 5 * hw, &p[5], sizeof p[5]);
    memcpy(o + 6 * hw, &p[6], sizeof p[6]);
    memcpy(o + 7 * hw, &p[7], sizeof p[7]);
}

/* The output transform of the block's rows for output channels
 * [co0, co0 + NR): out (= or += when add) A^T M A (+ bias, ReLU).  Inlined
 * into each caller with constant relu and add. */
WINO_TARGET static inline __attribute__((always_inline)) void
wino_output(float *out, const float *M, const float *bias, const int32_t *ids,
            size_t nrows, size_t co0, const wino_geom *g, int relu, int add)
{
    const size_t Co = g->Co, Ho = g->Ho, Wo = g->Wo, hw = Ho * Wo;
    const v8f zero = { 0 };
    for (size_t row = 0; row < nrows; row++) {
        const size_t n = (size_t)ids[2 * row], t = (size_t)ids[2 * row + 1];
        const size_t oy = 2 * (t / g->TW), ox = 2 * (t % g->TW);
        const size_t ny = Ho - oy < 2 ? 1 : 2, nx = Wo - ox < 2 ? 1 : 2;
        for (size_t h = 0; h < NR / W8 && co0 + h * W8 < Co; h++) {
            const float *m = M + row * WX * NR + h * W8;
            v8f s0[6], s1[6], y[2][2];
            for (size_t i = 0; i < 6; i++) {
                const float *mi = m + i * 6 * NR;
                WINO_AT(s0[i], s1[i], v8f_ld(mi), v8f_ld(mi + NR), v8f_ld(mi + 2 * NR),
                        v8f_ld(mi + 3 * NR), v8f_ld(mi + 4 * NR), v8f_ld(mi + 5 * NR));
            }
            WINO_AT(y[0][0], y[1][0], s0[0], s0[1], s0[2], s0[3], s0[4], s0[5]);
            WINO_AT(y[0][1], y[1][1], s1[0], s1[1], s1[2], s1[3], s1[4], s1[5]);
            const size_t c = co0 + h * W8, nl = Co - c < W8 ? Co - c : W8;
            float *o = out + (n * Co + c) * hw + oy * Wo + ox;
            if (!add) {
                const v8f bv = bias ? v8f_ld(bias + c) : zero;
                for (size_t a = 0; a < 2; a++)
                    for (size_t b = 0; b < 2; b++) {
                        y[a][b] += bv;
                        if (relu) /* NaN passes, as relu_forward */
                            y[a][b] = (v8f)((v8i)y[a][b] & ~(y[a][b] < zero));
                    }
                if (nl == W8 && ny == 2 && nx == 2) {
                    wino_store_pairs(o, hw, y[0][0], y[0][1]);
                    wino_store_pairs(o + Wo, hw, y[1][0], y[1][1]);
                    continue;
                }
            }
            for (size_t a = 0; a < ny; a++)
                for (size_t b = 0; b < nx; b++) {
                    float *d = o + a * Wo + b;
                    for (size_t l = 0; l < nl; l++)
                        d[l * hw] = add ? d[l * hw] + y[a][b][l] : y[a][b][l];
                }
        }
    }
}

/* The 36 products of a block of nrows tiles for each panel of NR output
 * channels, each followed by its output transform. */
WINO_TARGET static void wino_block(float *out, const float *u, const float *bias, const float *V,
                       float *M, const int32_t *off, const int32_t *ids, size_t nrows,
                       const wino_geom *g, int relu, int add)
{
    const size_t Ci = g->Ci, Cip = g->Cip;
    for (size_t p = 0; p < g->Cop / NR; p++) {
        for (size_t x = 0; x < WX; x++) {
            const float *bp = u + (p * WX + x) * Ci * NR, *vx = V + x * Cip;
            for (size_t r0 = 0; r0 < nrows; r0 += MR) {
                const float *r[MR];
                const size_t mr = nrows - r0 < MR ? nrows - r0 : MR;
                for (size_t i = 0; i < MR; i++)
                    r[i] = vx + (r0 + (i < mr ? i : 0)) * WX * Cip;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
                tile6x16_avx2(Ci, r, off, bp, M + (r0 * WX + x) * NR, WX * NR, mr, NR, NULL,
                              0, 0, 0); /* wino_block512 is the AVX-512 path */
#else
                tile6x16(Ci, r, off, bp, M + (r0 * WX + x) * NR, WX * NR, mr, NR, NULL, 0,
                         0, 0);
#endif
            }
        }
        if (add)
            wino_output(out, M, NULL, ids, nrows, p * NR, g, 0, 1);
        else if (relu)
            wino_output(out, M, bias, ids, nrows, p * NR, g, 1, 0);
        else
            wino_output(out, M, bias, ids, nrows, p * NR, g, 0, 0);
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* ---- Winograd transforms with AVX-512 ---------------------------------
 * Sixteen channels per vector where the code above has eight: each
 * channel's transform is the same expressions in the same order (none
 * contracted: -std=c11 keeps -ffp-contract=off), so the same bits. */
#define WINO512_TARGET __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")))
typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));

WINO512_TARGET static inline __attribute__((always_inline)) v16f v16f_ld(const float *p)
{
    v16f v;
    memcpy(&v, p, sizeof v);
    return v;
}

WINO512_TARGET static inline __attribute__((always_inline)) void v16f_st(float *p, v16f v)
{
    memcpy(p, &v, sizeof v);
}

/* WINO_BT and WINO_AT on 16 lanes: the same expressions. */
#define WINO_BT16(r0, r1, r2, r3, r4, r5, e0, e1, e2, e3, e4, e5)       \
    do {                                                                \
        const v16f d0_ = (e0), d1_ = (e1), d2_ = (e2), d3_ = (e3),      \
                   d4_ = (e4), d5_ = (e5);                              \
        const v16f four_ = { 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4 }, \
                   five_ = { 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5 }; \
        const v16f a_ = d4_ - d2_, b_ = d3_ - d1_;                      \
        (r0) = four_ * d0_ - five_ * d2_ + d4_;                         \
        (r1) = (d3_ + d4_) - four_ * (d1_ + d2_);                       \
        (r2) = (d4_ - d3_) + four_ * (d1_ - d2_);                       \
        (r3) = a_ + (b_ + b_);                                          \
        (r4) = a_ - (b_ + b_);                                          \
        (r5) = four_ * d1_ - five_ * d3_ + d5_;                         \
    } while (0)

#define WINO_AT16(y0, y1, m0, m1, m2, m3, m4, m5)               \
    do {                                                       \
        const v16f d34_ = (m3) - (m4);                         \
        (y0) = (m0) + ((m1) + (m2)) + ((m3) + (m4));           \
        (y1) = ((m1) - (m2)) + (d34_ + d34_) + (m5);           \
    } while (0)

/* wino_input_tile, sixteen channels at a time, the last eight (Cip is a
 * multiple of 8) as there. */
WINO512_TARGET static void wino_input_tile512(float *V, const float *src, const wino_geom *g)
{
    const size_t Cip = g->Cip, rs = g->Wq * Cip;
    size_t c = 0;
    for (; c + 16 <= Cip; c += 16) {
        v16f t[6][6];
        const float *p = src + c;
        for (size_t j = 0; j < 6; j++, p += Cip)
            WINO_BT16(t[0][j], t[1][j], t[2][j], t[3][j], t[4][j], t[5][j], v16f_ld(p),
                      v16f_ld(p + rs), v16f_ld(p + 2 * rs), v16f_ld(p + 3 * rs),
                      v16f_ld(p + 4 * rs), v16f_ld(p + 5 * rs));
        float *v = V + c;
        for (size_t i = 0; i < 6; i++, v += 6 * Cip) {
            v16f r0, r1, r2, r3, r4, r5;
            WINO_BT16(r0, r1, r2, r3, r4, r5, t[i][0], t[i][1], t[i][2], t[i][3], t[i][4],
                      t[i][5]);
            v16f_st(v, r0);
            v16f_st(v + Cip, r1);
            v16f_st(v + 2 * Cip, r2);
            v16f_st(v + 3 * Cip, r3);
            v16f_st(v + 4 * Cip, r4);
            v16f_st(v + 5 * Cip, r5);
        }
    }
    for (; c < Cip; c += W8) {
        v8f t[6][6];
        const float *p = src + c;
        for (size_t j = 0; j < 6; j++, p += Cip)
            WINO_BT(t[0][j], t[1][j], t[2][j], t[3][j], t[4][j], t[5][j], v8f_ld(p),
                    v8f_ld(p + rs), v8f_ld(p + 2 * rs), v8f_ld(p + 3 * rs),
                    v8f_ld(p + 4 * rs), v8f_ld(p + 5 * rs));
        float *v = V + c;
        for (size_t i = 0; i < 6; i++, v += 6 * Cip) {
            v8f r0, r1, r2, r3, r4, r5;
            WINO_BT(r0, r1, r2, r3, r4, r5, t[i][0], t[i][1], t[i][2], t[i][3], t[i][4],
                    t[i][5]);
            v8f_st(v, r0);
            v8f_st(v + Cip, r1);
            v8f_st(v + 2 * Cip, r2);
            v8f_st(v + 3 * Cip, r3);
            v8f_st(v + 4 * Cip, r4);
            v8f_st(v + 5 * Cip, r5);
        }
    }
}

/* wino_output with the sixteen channels of a panel in one vector (the
 * transform, bias and ReLU), stored as its two halves exactly as there. */
WINO512_TARGET static inline __attribute__((always_inline)) void
wino_output512(float *out, const float *M, const float *bias, const int32_t *ids,
               size_t nrows, size_t co0, const wino_geom *g, int relu, int add)
{
    const size_t Co = g->Co, Ho = g->Ho, Wo = g->Wo, hw = Ho * Wo;
    const v16f zero = { 0 };
    for (size_t row = 0; row < nrows; row++) {
        const size_t n = (size_t)ids[2 * row], t = (size_t)ids[2 * row + 1];
        const size_t oy = 2 * (t / g->TW), ox = 2 * (t % g->TW);
        const size_t ny = Ho - oy < 2 ? 1 : 2, nx = Wo - ox < 2 ? 1 : 2;
        const float *m = M + row * WX * NR;
        v16f s0[6], s1[6], y[2][2];
        for (size_t i = 0; i < 6; i++) {
            const float *mi = m + i * 6 * NR;
            WINO_AT16(s0[i], s1[i], v16f_ld(mi), v16f_ld(mi + NR), v16f_ld(mi + 2 * NR),
                      v16f_ld(mi + 3 * NR), v16f_ld(mi + 4 * NR), v16f_ld(mi + 5 * NR));
        }
        WINO_AT16(y[0][0], y[1][0], s0[0], s0[1], s0[2], s0[3], s0[4], s0[5]);
        WINO_AT16(y[0][1], y[1][1], s1[0], s1[1], s1[2], s1[3], s1[4], s1[5]);
        if (!add) {
            /* bias is padded to Cop (a multiple of 16) by wino_run */
            const v16f bv = bias ? v16f_ld(bias + co0) : zero;
            for (size_t a = 0; a < 2; a++)
                for (size_t b = 0; b < 2; b++) {
                    y[a][b] += bv;
                    if (relu) /* NaN passes, as relu_forward */
                        y[a][b] = (v16f)((v16i)y[a][b] & ~(y[a][b] < zero));
                }
        }
        for (size_t h = 0; h < NR / W8 && co0 + h * W8 < Co; h++) {
            v8f q[2][2];
            for (size_t a = 0; a < 2; a++)
                for (size_t b = 0; b < 2; b++)
                    q[a][b] = h ? __builtin_shufflevector(y[a][b], y[a][b], 8, 9, 10, 11, 12,
                                                          13, 14, 15)
                                : __builtin_shufflevector(y[a][b], y[a][b], 0, 1, 2, 3, 4,
                                                          5, 6, 7);
            const size_t c = co0 + h * W8, nl = Co - c < W8 ? Co - c : W8;
            float *o = out + (n * Co + c) * hw + oy * Wo + ox;
            if (!add && nl == W8 && ny == 2 && nx == 2) {
                wino_store_pairs(o, hw, q[0][0], q[0][1]);
                wino_store_pairs(o + Wo, hw, q[1][0], q[1][1]);
                continue;
            }
            for (size_t a = 0; a < ny; a++)
                for (size_t b = 0; b < nx; b++) {
                    float *d = o + a * Wo + b;
                    for (size_t l = 0; l < nl; l++)
                        d[l * hw] = add ? d[l * hw] + q[a][b][l] : q[a][b][l];
                }
        }
    }
}

/* wino_block with the transforms above, and twelve rows (two groups of
 * six tiles) at a time where there are twelve (tile12x16_avx512): twelve
 * independent FMA chains without a second product buffer. */
WINO512_TARGET static void wino_block512(float *out, const float *u, const float *bias,
                                         const float *V, float *M, const int32_t *off,
                                         const int32_t *ids, size_t nrows, const wino_geom *g,
                                         int relu, int add)
{
    const size_t Ci = g->Ci, Cip = g->Cip;
    for (size_t p = 0; p < g->Cop / NR; p++) {
        for (size_t x = 0; x < WX; x++) {
            const float *bp = u + (p * WX + x) * Ci * NR, *vx = V + x * Cip;
            size_t r0 = 0;
            for (; r0 + 2 * MR <= nrows; r0 += 2 * MR) {
                const float *r[2 * MR];
                for (size_t i = 0; i < 2 * MR; i++)
                    r[i] = vx + (r0 + i) * WX * Cip;
                tile12x16_avx512(Ci, r, r + MR, off, bp, M + (r0 * WX + x) * NR,
                                 M + ((r0 + MR) * WX + x) * NR, WX * NR, MR, MR, NR, NULL, 0,
                                 0, 0);
            }
            for (; r0 < nrows; r0 += MR) {
                const float *r[MR];
                const size_t mr = nrows - r0 < MR ? nrows - r0 : MR;
                for (size_t i = 0; i < MR; i++)
                    r[i] = vx + (r0 + (i < mr ? i : 0)) * WX * Cip;
                tile6x16_avx512(Ci, r, off, bp, M + (r0 * WX + x) * NR, WX * NR, mr, NR, NULL,
                                0, 0, 0);
            }
        }
        if (add)
            wino_output512(out, M, NULL, ids, nrows, p * NR, g, 0, 1);
        else if (relu)
            wino_output512(out, M, bias, ids, nrows, p * NR, g, 1, 0);
        else
            wino_output512(out, M, bias, ids, nrows, p * NR, g, 0, 0);
    }
}

static int wino512(void) { return db_simd_get() == DB_SIMD_AVX512; }
#else
static int wino512(void) { return 0; }
static void wino_input_tile512(float *V, const float *src, const wino_geom *g)
{
    wino_input_tile(V, src, g);
}
static void wino_block512(float *out, const float *u, const float *bias, const float *V,
                          float *M, const int32_t *off, const int32_t *ids, size_t nrows,
                          const wino_geom *g, int relu, int add)
{
    wino_block(out, u, bias, V, M, off, ids, nrows, g, relu, add);
}
#endif

/* One example's planes x (Ci, Hi, Wi) into the interior of the
 * channels-last copy xt (Hq, Wq, Cip): 8x8 transposes of eight channels by
 * eight pixels of a row, the rest one by one. */
static void wino_hwc(float *xt, const float *x, const wino_geom *g)
{
    const size_t Ci = g->Ci, Hi = g->Hi, Wi = g->Wi, Cip = g->Cip, Wq = g->Wq,
                 pad = g->pad, hw = Hi * Wi, c8 = conv_direct_enabled() ? Ci / 8 * 8 : 0,
                 w8 = Wi / 8 * 8;
    for (size_t y = 0; y < Hi; y++) {
        float *d = xt + ((y + pad) * Wq + pad) * Cip;
        const float *sr = x + y * Wi;
        for (size_t c = 0; c < c8; c += 8)
            for (size_t i = 0; i < w8; i += 8)
                wino_transpose8(d + i * Cip + c, Cip, sr + c * hw + i, hw);
        for (size_t c = 0; c < Ci; c++)
            for (size_t i = c < c8 ? w8 : 0; i < Wi; i++)
                d[i * Cip + c] = sr[c * hw + i];
    }
}

/* out (B, Co, Ho, Wo) (= or += when add) the correlation of in (B, Ci, Hi,
 * Wi), zero-padded by pad, with the filters u (+ bias, ReLU). */
static void wino_run(float *out, const float *in, const float *u, const float *b,
                     size_t B, const wino_geom *g, float *work, int relu, int add)
{
    const size_t Ci = g->Ci, Hi = g->Hi, Wi = g->Wi, Cip = g->Cip, Wq = g->Wq,
                 nxt = g->Hq * Wq * Cip, T = g->TH * g->TW;
    float *xt = work, *V = xt + nxt, *M = V + WX * WNT * Cip, *bias = M + WX * WNT * NR;
    int32_t *off = tables(work, wino_run_floats_g(g) - table_floats(Ci + 2 * WNT)),
            *ids = off + Ci;
    for (size_t k = 0; k < Ci; k++)
        off[k] = (int32_t)k;
    for (size_t c = 0; c < g->Cop; c++)
        bias[c] = b && c < g->Co ? b[c] : 0.0f;
    memset(xt, 0, nxt * sizeof *xt);
    const int w512 = wino512();
    size_t row = 0;
    for (size_t n = 0; n < B; n++) {
        wino_hwc(xt, in + n * Ci * Hi * Wi, g);
        for (size_t t = 0; t < T; t++) {
            float *vt = V + row * WX * Cip;
            const float *src = xt + (2 * (t / g->TW) * Wq + 2 * (t % g->TW)) * Cip;
            if (w512)
                wino_input_tile512(vt, src, g);
            else
                wino_input_tile(vt, src, g);
            ids[2 * row] = (int32_t)n;
            ids[2 * row + 1] = (int32_t)t;
            if (++row == WNT) {
                if (w512)
                    wino_block512(out, u, b ? bias : NULL, V, M, off, ids, row, g, relu, add);
                else
                    wino_block(out, u, b ? bias : NULL, V, M, off, ids, row, g, relu, add);
                row = 0;
            }
        }
    }
    if (row && w512)
        wino_block512(out, u, b ? bias : NULL, V, M, off, ids, row, g, relu, add);
    else if (row)
        wino_block(out, u, b ? bias : NULL, V, M, off, ids, row, g, relu, add);
}

void conv_wino_forward(float *out, const float *in, const float *u, const float *b,
                       const conv2d_shape *s, float *work, int relu)
{
    wino_geom g = wino_forward_geom(s);
    wino_run(out, in, u, b, s->B, &g, work, relu, 0);
}

void conv_wino_input(float *din, const float *dout, const float *u,
                     const conv2d_shape *s, float *work, int set)
{
    wino_geom g = wino_input_geom(s);
    wino_run(din, dout, u, NULL, s->B, &g, work, 0, !set);
}
