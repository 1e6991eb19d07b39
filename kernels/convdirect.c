/* convdirect.c - direct convolution: a 6x16 register tile (convtile.h)
 * whose rows are read from a zero-padded copy of the planes through a
 * table of offsets (see convdirect.h), and the weight gradient from a
 * max-pool's (conv2d_pooled_weights).  Compiled for AVX2 and AVX-512 with
 * target attributes, so the build needs no -march; conv_direct_enabled()
 * checks the CPU and db_simd_get() picks the width.  Winograd F(2x2, 5x5)
 * runs on the same tile in convwino.c.
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
#include "convtile.h"
#include "kernels.h"
#include "simd.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* rows6x16 tiles (rows_mode, convtile.h) need output rows this wide. */
#define ROWS_MIN_OW 12

static atomic_int direct_off;

int conv2d_set_direct(int on)
{
    return !atomic_exchange(&direct_off, !on);
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
 * PW_LANES floats whose first K lanes are the kw taps.  A pass over the
 * pooled outputs keeps up to PW_ROWS_AVX2 rows in registers on the AVX2
 * path (fifteen accumulators and the broadcast fill the sixteen ymm
 * registers), PW_MAX_ROWS with AVX-512 (its VL encodings reach 32 ymm
 * registers: thirty accumulators and the broadcast).  The rows stay eight
 * lanes wide there too: sixteen lanes would hold two rows (a shuffle per
 * FMA) or two outputs (sums reassociated, other bits); instead each pass
 * takes twice the rows, half the passes over gz and pos and half the
 * broadcasts. */
#define PW_LANES 8
#define PW_ROWS_AVX2 15
#define PW_MAX_ROWS 30
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

int conv_direct_enabled(void)
{
    if (atomic_load(&direct_off))
        return 0;
    return db_simd_get() >= DB_SIMD_AVX2; /* AVX2 and FMA */
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

/* pooled_plane with the rows in registers (accumulators a0, a1, ...): one
 * 8-float load and FMA per (c, kh) row and pooled output, each row's sum
 * from zero in i order, then added to acc; lanes past K gather neighbours'
 * values and are never read back.  The same operations on both paths, so
 * the same bits whichever rows share a pass.  PW_EACHn(M) applies M to
 * the first n rows. */
#define PW_EACH15(M)                                                             \
    M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14)
#define PW_EACH30(M)                                                             \
    PW_EACH15(M) M(15) M(16) M(17) M(18) M(19) M(20) M(21) M(22) M(23) M(24)     \
    M(25) M(26) M(27) M(28) M(29)
#define PW_ZERO(r) __m256 a##r = _mm256_setzero_ps();
#define PW_FMA(r)                                                               \
    if ((r) < nr)                                                               \
        a##r = _mm256_fmadd_ps(gv, _mm256_loadu_ps(x + rowoff[r]), a##r);
#define PW_STORE(r)                                                             \
    if ((r) < nr)                                                               \
        _mm256_storeu_ps(acc + (r) * PW_LANES,                                  \
                         _mm256_add_ps(_mm256_loadu_ps(acc + (r) * PW_LANES), a##r));

/* Any row count nr up to n rows of EACH, with a test per row. */
#define PW_PLANE_BODY(EACH)                                                     \
    EACH(PW_ZERO)                                                               \
    for (size_t i = 0; i < n; i++) {                                            \
        const __m256 gv = _mm256_broadcast_ss(gz + i);                          \
        const float *x = xp + pos[i];                                           \
        EACH(PW_FMA)                                                            \
    }                                                                           \
    EACH(PW_STORE)

DIRECT_TARGET TILE_INLINE void pooled_plane_avx2(float *acc, const float *xp,
                                                 const size_t *rowoff, const size_t nr,
                                                 const float *gz, const int32_t *pos,
                                                 size_t n)
{
    PW_PLANE_BODY(PW_EACH15)
}

AVX512_TARGET TILE_INLINE void pooled_plane_avx512(float *acc, const float *xp,
                                                   const size_t *rowoff, const size_t nr,
                                                   const float *gz, const int32_t *pos,
                                                   size_t n)
{
    PW_PLANE_BODY(PW_EACH30)
}

/* 5x5 kernels over C = 1, 3 (LeNet's and CIFAR's first layers) or, with
 * AVX-512, 6 channels: each row's address from one of C channel pointers
 * plus kh row lengths (base + index*4 addressing), so no table of row
 * offsets has to live in registers or be reloaded every output.  Channel
 * ch's five rows are the accumulators a(5 ch) to a(5 ch + 4). */
#define PW5_FMA(a, p, off) (a) = _mm256_fmadd_ps(gv, _mm256_loadu_ps((p) + (off)), (a))
#define PW5_ROWS(a0, a1, a2, a3, a4, p)                                        \
    do {                                                                       \
        const float *p_ = (p);                                                 \
        PW5_FMA(a0, p_, 0);                                                    \
        PW5_FMA(a1, p_, w1);                                                   \
        PW5_FMA(a2, p_, w2);                                                   \
        PW5_FMA(a3, p_, w3);                                                   \
        PW5_FMA(a4, p_, w4);                                                   \
    } while (0)
#define PW5_C1 PW5_ROWS(a0, a1, a2, a3, a4, x0);
#define PW5_C3                                                                 \
    PW5_C1 PW5_ROWS(a5, a6, a7, a8, a9, x0 + plane);                           \
    PW5_ROWS(a10, a11, a12, a13, a14, x0 + 2 * plane);
#define PW5_C6                                                                 \
    PW5_C3 PW5_ROWS(a15, a16, a17, a18, a19, x0 + 3 * plane);                  \
    PW5_ROWS(a20, a21, a22, a23, a24, x0 + 4 * plane);                         \
    PW5_ROWS(a25, a26, a27, a28, a29, x0 + 5 * plane);
/* Over the n outputs: the rows of CHANNELS (PW5_Cn). */
#define PW5_LOOP(CHANNELS)                                                     \
    for (size_t i = 0; i < n; i++) {                                           \
        const __m256 gv = _mm256_broadcast_ss(gz + i);                         \
        const float *x0 = xp + pos[i];                                         \
        CHANNELS                                                               \
    }

DIRECT_TARGET static void pooled_plane_k5(float *acc, const float *xp, size_t C,
                                          size_t plane, size_t Wp, const float *gz,
                                          const int32_t *pos, size_t n)
{
    const size_t w1 = Wp, w2 = 2 * Wp, w3 = 3 * Wp, w4 = 4 * Wp, nr = 5 * C;
    PW_EACH15(PW_ZERO)
    if (C == 1)
        PW5_LOOP(PW5_C1)
    else
        PW5_LOOP(PW5_C3)
    PW_EACH15(PW_STORE)
}

AVX512_TARGET static void pooled_plane_k5x6(float *acc, const float *xp, size_t plane,
                                            size_t Wp, const float *gz, const int32_t *pos,
                                            size_t n)
{
    const size_t w1 = Wp, w2 = 2 * Wp, w3 = 3 * Wp, w4 = 4 * Wp, nr = PW_MAX_ROWS;
    PW_EACH30(PW_ZERO)
    PW5_LOOP(PW5_C6)
    PW_EACH30(PW_STORE)
}

/* The AVX2 path: the 5x5 forms, or any row count up to 15 with a test per
 * row.  rowoff[5] - rowoff[0]: a plane; rowoff[1]: a row. */
DIRECT_TARGET static void pooled_plane_fast(float *acc, const float *xp,
                                            const size_t *rowoff, size_t nr,
                                            size_t K, const float *gz,
                                            const int32_t *pos, size_t n)
{
    if (K == 5 && (nr == 5 || nr == 15))
        pooled_plane_k5(acc, xp, nr / 5, nr == 5 ? 0 : rowoff[5], rowoff[1],
                        gz, pos, n);
    else
        pooled_plane_avx2(acc, xp, rowoff, nr, gz, pos, n);
}

/* Blocks of up to 30 rows; those of up to 15 take the AVX2 kernels, no
 * fewer passes to be had. */
AVX512_TARGET static void pooled_plane_fast512(float *acc, const float *xp,
                                               const size_t *rowoff, size_t nr, size_t K,
                                               const float *gz, const int32_t *pos,
                                               size_t n)
{
    if (nr <= PW_ROWS_AVX2)
        pooled_plane_fast(acc, xp, rowoff, nr, K, gz, pos, n);
    else if (K == 5 && nr == PW_MAX_ROWS)
        pooled_plane_k5x6(acc, xp, rowoff[5], rowoff[1], gz, pos, n);
    else
        pooled_plane_avx512(acc, xp, rowoff, nr, gz, pos, n);
}

/* Rows-by-pixels tile for layers with few taps: out[oc_i][px0 + j] for six
 * output channels (weights a[i][k], broadcast) and sixteen adjacent pixels
 * of one output row, read as vectors at src + off[k]; bias, ReLU and the
 * store (first jn columns, first mr rows) happen here, in vectors. */
#define ROWS6X16_BODY(P)                                                \
    TILE_START(P, a, w, c);                                             \
    for (size_t k = 0; k < kc; k++) {                                   \
        const P b = P##_load(src + off[k]);                             \
        FMA_ROWS6(P, a, k, c, b);                                       \
    }                                                                   \
    const P acc[MR] = { c0, c1, c2, c3, c4, c5 };                       \
    for (size_t i = 0; i < mr; i++) {                                   \
        P v = P##_add(acc[i], P##_set1(bias[i]));                       \
        if (relu)                                                       \
            v = P##_relu(v);                                            \
        P##_store_n(o[i], v, jn);                                       \
    }

DIRECT_TARGET static void rows6x16_avx2(size_t kc, const float *const w[MR],
                                        const int32_t *off, const float *src,
                                        float *const o[MR], const float *bias, size_t mr,
                                        size_t jn, int relu)
{
    ROWS6X16_BODY(cols_avx2)
}

AVX512_TARGET static void rows6x16_avx512(size_t kc, const float *const w[MR],
                                          const int32_t *off, const float *src,
                                          float *const o[MR], const float *bias, size_t mr,
                                          size_t jn, int relu)
{
    ROWS6X16_BODY(cols_avx512)
}

/* One or two output channels (mr) by up to 32 pixels (jn) of an output
 * row: rows6x16's remainder.  Weights a0, a1 broadcast, pixels two
 * sixteen-column vectors at src + off[k]; bias, ReLU and the masked stores
 * here.  With mr = 1, a1 and o1 must name the same channel as a0 and o0
 * (computed, not stored). */
#define ROWS2X32_BODY(P)                                                    \
    P c00 = P##_zero(), c01 = c00, c10 = c00, c11 = c00;                    \
    for (size_t k = 0; k < kc; k++) {                                       \
        const float *p = src + off[k];                                      \
        const P x0 = P##_load(p), x1 = P##_load(p + NR);                    \
        const P w0 = P##_bcast(a0 + k), w1 = P##_bcast(a1 + k);             \
        c00 = P##_fma(w0, x0, c00);                                         \
        c01 = P##_fma(w0, x1, c01);                                         \
        c10 = P##_fma(w1, x0, c10);                                         \
        c11 = P##_fma(w1, x1, c11);                                         \
    }                                                                       \
    const P acc[2][2] = { { c00, c01 }, { c10, c11 } };                     \
    const float bias[2] = { bias0, bias1 };                                 \
    float *const o[2] = { o0, o1 };                                         \
    for (size_t i = 0; i < mr; i++)                                         \
        for (size_t v = 0; v < 2 && NR * v < jn; v++) {                     \
            P x = P##_add(acc[i][v], P##_set1(bias[i]));                    \
            if (relu)                                                       \
                x = P##_relu(x);                                            \
            P##_store_n(o[i] + NR * v, x, jn - NR * v);                     \
        }

DIRECT_TARGET static void rows2x32_avx2(size_t kc, const float *a0, const float *a1,
                                        const int32_t *off, const float *src, float *o0,
                                        float *o1, float bias0, float bias1, size_t mr,
                                        size_t jn, int relu)
{
    ROWS2X32_BODY(cols_avx2)
}

AVX512_TARGET static void rows2x32_avx512(size_t kc, const float *a0, const float *a1,
                                          const int32_t *off, const float *src, float *o0,
                                          float *o1, float bias0, float bias1, size_t mr,
                                          size_t jn, int relu)
{
    ROWS2X32_BODY(cols_avx512)
}

/* Two tiles of the same six rows side by side (AVX-512 only): columns
 * from the panels bp and bp + pst (each NR wide), results to c and c + cst
 * (jn and jn1 columns, biases bias and bias + NR): twelve independent FMA
 * chains instead of six, each broadcast feeding two FMAs.  Every output is
 * the same chain as tile6x16's. */
#define FMA_ROW2(P, p, c, d, b, b1)             \
    do {                                        \
        const P x_ = P##_bcast(p);              \
        (c) = P##_fma(x_, (b), (c));            \
        (d) = P##_fma(x_, (b1), (d));           \
    } while (0)

AVX512_TARGET static void tile6x32_avx512(size_t kc, const float *const rows[MR],
                                          const int32_t *off, const float *bp, size_t pst,
                                          float *c, size_t cst, size_t ldc, size_t mr,
                                          size_t jn, size_t jn1, const float *bias,
                                          int relu, int add, int trans)
{
    TILE_START(cols_avx512, r, rows, c);
    cols_avx512 d0 = c0, d1 = c0, d2 = c0, d3 = c0, d4 = c0, d5 = c0;
    const float *bq = bp + pst;
    for (size_t k = 0; k < kc; k++, bp += NR, bq += NR) {
        const ptrdiff_t o = off[k];
        const cols_avx512 b = cols_avx512_load(bp), b1 = cols_avx512_load(bq);
        FMA_ROW2(cols_avx512, r0 + o, c0, d0, b, b1);
        FMA_ROW2(cols_avx512, r1 + o, c1, d1, b, b1);
        FMA_ROW2(cols_avx512, r2 + o, c2, d2, b, b1);
        FMA_ROW2(cols_avx512, r3 + o, c3, d3, b, b1);
        FMA_ROW2(cols_avx512, r4 + o, c4, d4, b, b1);
        FMA_ROW2(cols_avx512, r5 + o, c5, d5, b, b1);
    }
    const cols_avx512 acc[MR] = { c0, c1, c2, c3, c4, c5 }, acc1[MR] = { d0, d1, d2, d3, d4, d5 };
    tile_store_avx512(acc, c, ldc, mr, jn, bias, relu, add, trans);
    tile_store_avx512(acc1, c + cst, ldc, mr, jn1, bias ? bias + NR : NULL, relu, add, trans);
}

/* The dispatch: w512 from tiles512(), once a pass. */
static void rows6x16(int w512, size_t kc, const float *const a[MR], const int32_t *off,
                     const float *src, float *const o[MR], const float *bias, size_t mr,
                     size_t jn, int relu)
{
    if (w512)
        rows6x16_avx512(kc, a, off, src, o, bias, mr, jn, relu);
    else
        rows6x16_avx2(kc, a, off, src, o, bias, mr, jn, relu);
}

static void rows2x32(int w512, size_t kc, const float *a0, const float *a1,
                     const int32_t *off, const float *src, float *o0, float *o1, float bias0,
                     float bias1, size_t mr, size_t jn, int relu)
{
    if (w512)
        rows2x32_avx512(kc, a0, a1, off, src, o0, o1, bias0, bias1, mr, jn, relu);
    else
        rows2x32_avx2(kc, a0, a1, off, src, o0, o1, bias0, bias1, mr, jn, relu);
}

static void pooled_plane_any(int w512, float *acc, const float *xp, const size_t *rowoff,
                             size_t nr, size_t K, const float *gz, const int32_t *pos,
                             size_t n)
{
    if (w512)
        pooled_plane_fast512(acc, xp, rowoff, nr, K, gz, pos, n);
    else
        pooled_plane_fast(acc, xp, rowoff, nr, K, gz, pos, n);
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

static void pooled_plane_any(int w512, float *acc, const float *xp, const size_t *rowoff,
                             size_t nr, size_t K, const float *gz, const int32_t *pos,
                             size_t n)
{
    (void)w512, (void)K;
    pooled_plane(acc, xp, rowoff, nr, gz, pos, n);
}

/* Never called: conv.c takes the direct path only when enabled. */
static void rows6x16(int w512, size_t kc, const float *const a[MR], const int32_t *off,
                     const float *src, float *const o[MR], const float *bias, size_t mr,
                     size_t jn, int relu)
{
    (void)w512;
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
static void rows2x32(int w512, size_t kc, const float *a0, const float *a1,
                     const int32_t *off, const float *src, float *o0, float *o1, float bias0,
                     float bias1, size_t mr, size_t jn, int relu)
{
    const float *const a[MR] = { a0, a1, a0, a0, a0, a0 };
    float *const o[MR] = { o0, o1, o0, o0, o0, o0 };
    const float bias[MR] = { bias0, bias1 };
    rows6x16(w512, kc, a, off, src, o, bias, mr, jn, relu);
}

/* Never called: tiles512() is 0 here. */
static void tile6x32_avx512(size_t kc, const float *const r[MR], const int32_t *off,
                            const float *bp, size_t pst, float *c, size_t cst, size_t ldc,
                            size_t mr, size_t jn, size_t jn1, const float *bias, int relu,
                            int add, int trans)
{
    tile6x16(0, kc, r, off, bp, c, ldc, mr, jn, bias, relu, add, trans);
    tile6x16(0, kc, r, off, bp + pst, c + cst, ldc, mr, jn1, bias ? bias + NR : NULL, relu,
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
    const int w512 = tiles512();
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
                    rows6x16(w512, ckk, a, off, src, o, b + oc0, mr, jn, relu);
                }
            }
        if (oc_main == OC)
            continue;
        const size_t last = OC - 1, oc1 = oc_main + 1 < OC ? oc_main + 1 : last;
        for (size_t oh = 0; oh < OH; oh++)
            for (size_t ow0 = 0; ow0 < OW; ow0 += 2 * NR) {
                const size_t jn = OW - ow0 < 2 * NR ? OW - ow0 : 2 * NR;
                rows2x32(w512, ckk, w + oc_main * ckk, w + oc1 * ckk, off,
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
                tile6x16(w512, ckk, r, off, wp + p * ckk * NR, o + p * NR * ohw + p0, ohw,
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
                tile6x16(w512, ohw, r, base, gt + p * ohw * NR,
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
                        tile6x16(w512, (hi - lo) * ok, r, off + lo * ok, wp + lo * ok * NR,
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
     * PW_ROWS_AVX2 rows (three channels of a 5x5 kernel), PW_MAX_ROWS (six)
     * with AVX-512, each block's rows in registers; rowoff: a block's rows
     * from its first channel. */
    const int fast = conv_direct_enabled(), w512 = fast && tiles512();
    const size_t cb = (w512 ? PW_MAX_ROWS : PW_ROWS_AVX2) / K;
    size_t rowoff[PW_MAX_ROWS] = { 0 };
    for (size_t c = 0; c < cb; c++)
        for (size_t kh = 0; kh < K; kh++)
            rowoff[c * K + kh] = (c * Hp + kh) * Wp;
    pixel_bases(base, s->OH, s->OW, Wp);
    memset(work, 0, (nxp + OC * (nr * PW_LANES + 1)) * sizeof *work);
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
                    /* still no branch; spelled so that the analyzer sees
                     * nz <= m, the gz the sums read initialised */
                    nz += gz[i] != 0.0f ? 1 : 0;
                }
                bsum[oc] += (b4[0] + b4[1]) + (b4[2] + b4[3]) + b;
                for (size_t c0 = 0; c0 < C; c0 += cb) {
                    const size_t nrb = (C - c0 < cb ? C - c0 : cb) * K;
                    float *ab = a + c0 * K * PW_LANES;
                    const float *xb = xp + c0 * Hp * Wp;
                    if (fast)
                        pooled_plane_any(w512, ab, xb, rowoff, nrb, K, gz, pos, nz);
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

