/* convwino.c - Winograd F(2x2, 5x5) for the stride-1 5x5 layers the direct
 * kernels take (convdirect.h): the forward pass and the input gradient,
 * their products on convtile.h's 6x16 tile.
 *
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
#include "convdirect.h"
#include "convtile.h"
#include "kernels.h"

#include <stdint.h>
#include <string.h>

#define WX 36   /* transform points: 6x6 */
#define WNT 30  /* tiles per block, a multiple of MR */
#define W8 8    /* channels per vector */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define WINO_X86 1
#define WINO_TARGET DIRECT_TARGET
#else
#define WINO_X86 0
#define WINO_TARGET
/* Never called (wino_hwc transposes only where the direct kernels run):
 * for the build. */
static void transpose8(float *d, size_t ldd, const float *s, size_t lds)
{
    for (size_t i = 0; i < 8; i++)
        for (size_t j = 0; j < 8; j++)
            d[i * ldd + j] = s[j * lds + i];
}
#endif

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

/* ---- the transforms, once for eight and sixteen channels per vector ----
 * The vector types T (v8f, and v16f with AVX-512) go through the same
 * expressions in the same order (none contracted: -std=c11 keeps
 * -ffp-contract=off), so each channel gets the same bits at either
 * width. */
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

/* Loads and stores of the vector type T through memcpy (no alignment
 * assumed), compiled for T##_TARGET. */
#define WINO_LDST(T)                                                                   \
    T##_TARGET static inline __attribute__((always_inline)) T T##_ld(const float *p)    \
    {                                                                                  \
        T v;                                                                           \
        memcpy(&v, p, sizeof v);                                                       \
        return v;                                                                      \
    }                                                                                  \
    T##_TARGET static inline __attribute__((always_inline)) void T##_st(float *p, T v) \
    {                                                                                  \
        memcpy(p, &v, sizeof v);                                                       \
    }

#define v8f_TARGET WINO_TARGET
WINO_LDST(v8f)

/* Eight channels q of T: v8f has only its own. */
WINO_TARGET static inline __attribute__((always_inline)) v8f v8f_half(v8f v, size_t q)
{
    (void)q;
    return v;
}

#if WINO_X86
typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));

#define v16f_TARGET AVX512_TARGET
WINO_LDST(v16f)

AVX512_TARGET static inline __attribute__((always_inline)) v8f v16f_half(v16f v, size_t q)
{
    return q ? __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15)
             : __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
}
#endif

/* r0..r5 = B^T d for six vectors d of type T (lvalues r, expressions d
 * evaluated once each; a float operand is taken in every lane). */
#define WINO_BT(T, r0, r1, r2, r3, r4, r5, e0, e1, e2, e3, e4, e5)      \
    do {                                                                \
        const T d0_ = (e0), d1_ = (e1), d2_ = (e2), d3_ = (e3),         \
                d4_ = (e4), d5_ = (e5);                                 \
        const T a_ = d4_ - d2_, b_ = d3_ - d1_;                         \
        (r0) = 4.0f * d0_ - 5.0f * d2_ + d4_;                           \
        (r1) = (d3_ + d4_) - 4.0f * (d1_ + d2_);                        \
        (r2) = (d4_ - d3_) + 4.0f * (d1_ - d2_);                        \
        (r3) = a_ + (b_ + b_);                                          \
        (r4) = a_ - (b_ + b_);                                          \
        (r5) = 4.0f * d1_ - 5.0f * d3_ + d5_;                           \
    } while (0)

/* y0, y1 = A^T m for six vectors m of type T. */
#define WINO_AT(T, y0, y1, m0, m1, m2, m3, m4, m5)              \
    do {                                                       \
        const T d34_ = (m3) - (m4);                            \
        (y0) = (m0) + ((m1) + (m2)) + ((m3) + (m4));           \
        (y1) = ((m1) - (m2)) + (d34_ + d34_) + (m5);           \
    } while (0)

/* V[x*xs + c] = (B^T d B)[x] of the 6x6 tile whose corner is src in the
 * channels-last planes (row length Wq), for channels c on from c, W at a
 * time in vectors of type T while W are left. */
#define WINO_INPUT_CHANNELS(T, W)                                                    \
    for (; c + (W) <= Cip; c += (W)) {                                               \
        T t[6][6];                                                                   \
        const float *p = src + c;                                                    \
        for (size_t j = 0; j < 6; j++, p += Cip)                                     \
            WINO_BT(T, t[0][j], t[1][j], t[2][j], t[3][j], t[4][j], t[5][j],         \
                    T##_ld(p), T##_ld(p + rs), T##_ld(p + 2 * rs), T##_ld(p + 3 * rs), \
                    T##_ld(p + 4 * rs), T##_ld(p + 5 * rs));                         \
        float *v = V + c;                                                            \
        for (size_t i = 0; i < 6; i++, v += 6 * xs) {                                \
            T r0, r1, r2, r3, r4, r5;                                                \
            WINO_BT(T, r0, r1, r2, r3, r4, r5, t[i][0], t[i][1], t[i][2], t[i][3],   \
                    t[i][4], t[i][5]);                                               \
            T##_st(v, r0);                                                           \
            T##_st(v + xs, r1);                                                      \
            T##_st(v + 2 * xs, r2);                                                  \
            T##_st(v + 3 * xs, r3);                                                  \
            T##_st(v + 4 * xs, r4);                                                  \
            T##_st(v + 5 * xs, r5);                                                  \
        }                                                                            \
    }

WINO_TARGET static void wino_input_tile8(float *V, size_t xs, const float *src,
                                         const wino_geom *g)
{
    const size_t Cip = g->Cip, rs = g->Wq * Cip;
    size_t c = 0;
    WINO_INPUT_CHANNELS(v8f, 8)
}

#if WINO_X86
/* Sixteen channels at a time, the last eight (Cip is a multiple of 8) as
 * wino_input_tile8. */
AVX512_TARGET static void wino_input_tile16(float *V, size_t xs, const float *src,
                                            const wino_geom *g)
{
    const size_t Cip = g->Cip, rs = g->Wq * Cip;
    size_t c = 0;
    WINO_INPUT_CHANNELS(v16f, 16)
    WINO_INPUT_CHANNELS(v8f, 8)
}
#endif

/* The tile's 36 transformed points x for channels c at V[x*xs + c]. */
static void wino_input_tile(int w512, float *V, size_t xs, const float *src,
                            const wino_geom *g)
{
#if WINO_X86
    if (w512) {
        wino_input_tile16(V, xs, src, g);
        return;
    }
#endif
    (void)w512;
    wino_input_tile8(V, xs, src, g);
}

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

/* The ny x nx outputs y of one tile for the channels [c, c + 8) below Co
 * (= or += when add), at (oy, ox) of example n's planes. */
WINO_TARGET static inline __attribute__((always_inline)) void
wino_store8(float *out, const v8f y[2][2], size_t n, size_t c, size_t oy, size_t ox,
            size_t ny, size_t nx, const wino_geom *g, int add)
{
    const size_t Co = g->Co, Wo = g->Wo, hw = g->Ho * Wo, nl = Co - c < W8 ? Co - c : W8;
    float *o = out + (n * Co + c) * hw + oy * Wo + ox;
    if (!add && nl == W8 && ny == 2 && nx == 2) {
        wino_store_pairs(o, hw, y[0][0], y[0][1]);
        wino_store_pairs(o + Wo, hw, y[1][0], y[1][1]);
        return;
    }
    for (size_t a = 0; a < ny; a++)
        for (size_t b = 0; b < nx; b++) {
            float *d = o + a * Wo + b;
            for (size_t l = 0; l < nl; l++)
                d[l * hw] = add ? d[l * hw] + y[a][b][l] : y[a][b][l];
        }
}

/* The output transform of the block's rows for output channels
 * [co0, co0 + NR), W channels per vector of type T (integer lanes TI):
 * out (= or += when add) A^T M A (+ bias, ReLU), stored eight channels at
 * a time. */
#define WINO_OUTPUT_BODY(T, TI, W)                                                       \
    const T zero = { 0 };                                                                \
    for (size_t row = 0; row < nrows; row++) {                                           \
        const size_t n = (size_t)ids[2 * row], t = (size_t)ids[2 * row + 1];             \
        const size_t oy = 2 * (t / g->TW), ox = 2 * (t % g->TW);                         \
        const size_t ny = g->Ho - oy < 2 ? 1 : 2, nx = g->Wo - ox < 2 ? 1 : 2;           \
        for (size_t h = 0; h < NR / (W) && co0 + h * (W) < g->Co; h++) {                 \
            const float *m = M + row * WX * NR + h * (W);                                \
            T s0[6], s1[6], y[2][2];                                                     \
            for (size_t i = 0; i < 6; i++) {                                             \
                const float *mi = m + i * 6 * NR;                                        \
                WINO_AT(T, s0[i], s1[i], T##_ld(mi), T##_ld(mi + NR), T##_ld(mi + 2 * NR), \
                        T##_ld(mi + 3 * NR), T##_ld(mi + 4 * NR), T##_ld(mi + 5 * NR));  \
            }                                                                            \
            WINO_AT(T, y[0][0], y[1][0], s0[0], s0[1], s0[2], s0[3], s0[4], s0[5]);      \
            WINO_AT(T, y[0][1], y[1][1], s1[0], s1[1], s1[2], s1[3], s1[4], s1[5]);      \
            if (!add) {                                                                  \
                /* bias is padded to Cop (a multiple of 16) by wino_run */               \
                const T bv = bias ? T##_ld(bias + co0 + h * (W)) : zero;                 \
                for (size_t a = 0; a < 2; a++)                                           \
                    for (size_t b = 0; b < 2; b++) {                                     \
                        y[a][b] += bv;                                                   \
                        if (relu) /* NaN passes, as relu_forward */                      \
                            y[a][b] = (T)((TI)y[a][b] & ~(y[a][b] < zero));              \
                    }                                                                    \
            }                                                                            \
            for (size_t q = 0; q < (W) / W8 && co0 + h * (W) + q * W8 < g->Co; q++) {    \
                const v8f y8[2][2] = { { T##_half(y[0][0], q), T##_half(y[0][1], q) },   \
                                       { T##_half(y[1][0], q), T##_half(y[1][1], q) } }; \
                wino_store8(out, y8, n, co0 + h * (W) + q * W8, oy, ox, ny, nx, g, add); \
            }                                                                            \
        }                                                                                \
    }

/* Inlined into each caller with constant relu and add. */
WINO_TARGET static inline __attribute__((always_inline)) void
wino_output8(float *out, const float *M, const float *bias, const int32_t *ids, size_t nrows,
             size_t co0, const wino_geom *g, int relu, int add)
{
    WINO_OUTPUT_BODY(v8f, v8i, 8)
}

#if WINO_X86
AVX512_TARGET static inline __attribute__((always_inline)) void
wino_output16(float *out, const float *M, const float *bias, const int32_t *ids,
              size_t nrows, size_t co0, const wino_geom *g, int relu, int add)
{
    WINO_OUTPUT_BODY(v16f, v16i, 16)
}

/* Two tiles of six rows each over the same columns bp: rows ra to c,
 * rows rb to cb (mra, mrb rows stored): twelve independent FMA chains,
 * each column vector feeding twelve FMAs.  Every output is the same chain
 * as tile6x16's. */
AVX512_TARGET static void tile12x16_avx512(size_t kc, const float *const ra[MR],
                                           const float *const rb[MR], const int32_t *off,
                                           const float *bp, float *c, float *cb, size_t ldc,
                                           size_t mra, size_t mrb, size_t jn)
{
    TILE_START(cols_avx512, r, ra, c);
    TILE_START(cols_avx512, s, rb, d);
    for (size_t k = 0; k < kc; k++, bp += NR) {
        const ptrdiff_t o = off[k];
        const cols_avx512 b = cols_avx512_load(bp);
        FMA_ROWS6(cols_avx512, r, o, c, b);
        FMA_ROWS6(cols_avx512, s, o, d, b);
    }
    const cols_avx512 acc[MR] = { c0, c1, c2, c3, c4, c5 }, acc1[MR] = { d0, d1, d2, d3, d4, d5 };
    tile_store_avx512(acc, c, ldc, mra, jn, NULL, 0, 0, 0);
    tile_store_avx512(acc1, cb, ldc, mrb, jn, NULL, 0, 0, 0);
}
#endif

/* The 36 products of a block of nrows tiles for the NR output channels of
 * panel p into M; on the 16-lane path twelve rows (two groups of six
 * tiles) at a time where there are twelve (tile12x16_avx512): twelve
 * independent FMA chains without a second product buffer. */
static void wino_products(float *M, const float *u, const float *V, const int32_t *off,
                          size_t nrows, size_t p, const wino_geom *g, int w512)
{
    const size_t Ci = g->Ci, Cip = g->Cip;
    for (size_t x = 0; x < WX; x++) {
        const float *bp = u + (p * WX + x) * Ci * NR, *vx = V + x * Cip;
        size_t r0 = 0;
#if WINO_X86
        for (; w512 && r0 + 2 * MR <= nrows; r0 += 2 * MR) {
            const float *r[2 * MR];
            for (size_t i = 0; i < 2 * MR; i++)
                r[i] = vx + (r0 + i) * WX * Cip;
            tile12x16_avx512(Ci, r, r + MR, off, bp, M + (r0 * WX + x) * NR,
                             M + ((r0 + MR) * WX + x) * NR, WX * NR, MR, MR, NR);
        }
#endif
        for (; r0 < nrows; r0 += MR) {
            const float *r[MR];
            const size_t mr = nrows - r0 < MR ? nrows - r0 : MR;
            for (size_t i = 0; i < MR; i++)
                r[i] = vx + (r0 + (i < mr ? i : 0)) * WX * Cip;
            tile6x16(w512, Ci, r, off, bp, M + (r0 * WX + x) * NR, WX * NR, mr, NR, NULL, 0,
                     0, 0);
        }
    }
}

/* For each panel of NR output channels, the 36 products of a block of
 * nrows tiles, then their output transform OUTPUT. */
#define WINO_BLOCK_BODY(OUTPUT, W512)                                      \
    for (size_t p = 0; p < g->Cop / NR; p++) {                             \
        wino_products(M, u, V, off, nrows, p, g, W512);                    \
        if (add)                                                           \
            OUTPUT(out, M, NULL, ids, nrows, p * NR, g, 0, 1);             \
        else if (relu)                                                     \
            OUTPUT(out, M, bias, ids, nrows, p * NR, g, 1, 0);             \
        else                                                               \
            OUTPUT(out, M, bias, ids, nrows, p * NR, g, 0, 0);             \
    }

WINO_TARGET static void wino_block8(float *out, const float *u, const float *bias,
                                    const float *V, float *M, const int32_t *off,
                                    const int32_t *ids, size_t nrows, const wino_geom *g,
                                    int relu, int add)
{
    WINO_BLOCK_BODY(wino_output8, 0)
}

#if WINO_X86
AVX512_TARGET static void wino_block16(float *out, const float *u, const float *bias,
                                       const float *V, float *M, const int32_t *off,
                                       const int32_t *ids, size_t nrows, const wino_geom *g,
                                       int relu, int add)
{
    WINO_BLOCK_BODY(wino_output16, 1)
}
#endif

static void wino_block(int w512, float *out, const float *u, const float *bias,
                       const float *V, float *M, const int32_t *off, const int32_t *ids,
                       size_t nrows, const wino_geom *g, int relu, int add)
{
#if WINO_X86
    if (w512) {
        wino_block16(out, u, bias, V, M, off, ids, nrows, g, relu, add);
        return;
    }
#endif
    (void)w512;
    wino_block8(out, u, bias, V, M, off, ids, nrows, g, relu, add);
}

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
                transpose8(d + i * Cip + c, Cip, sr + c * hw + i, hw);
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
    const int w512 = tiles512();
    size_t row = 0;
    for (size_t n = 0; n < B; n++) {
        wino_hwc(xt, in + n * Ci * Hi * Wi, g);
        for (size_t t = 0; t < T; t++) {
            float *vt = V + row * WX * Cip;
            const float *src = xt + (2 * (t / g->TW) * Wq + 2 * (t % g->TW)) * Cip;
            wino_input_tile(w512, vt, Cip, src, g);
            ids[2 * row] = (int32_t)n;
            ids[2 * row + 1] = (int32_t)t;
            if (++row == WNT) {
                wino_block(w512, out, u, b ? bias : NULL, V, M, off, ids, row, g, relu, add);
                row = 0;
            }
        }
    }
    if (row)
        wino_block(w512, out, u, b ? bias : NULL, V, M, off, ids, row, g, relu, add);
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


/* ---- the weight gradient ------------------------------------------------
 * The forward pass is y = A^T [(G k G^T) . (B^T d B)] A per tile, so for
 * the loss L = sum dy . y the filter's gradient is
 *
 *   dk = G^T [ sum over tiles of (A dy A^T) . (B^T d B) ] G
 *
 * the same 36 points: per point, a (Ci x Co) sum over every tile of the
 * batch of (B^T d B)[x][ci] (A dy A^T)[x][co], run on the 6x16 tile with
 * the tiles as its K index, then G^T . G once per filter at the end (in
 * double).  36 products per channel pair and tile instead of the direct
 * kernels' 100.  Tiles past the output (odd Ho, Wo) read zero gradients.
 *
 * Scratch: xt (Hq, Wq, Cip) the example's padded planes, channels last |
 * dt (2 TH, 2 TW, Cop) its output gradient, channels last | V (36, WNB,
 * Cip) a block's input points | U (Cop/NR, 36, WNB, NR) its gradient
 * points (each point's rows padded by a cache line) | S (36, Ci, Cop) the
 * sums | 55 Cop doubles for the last transform | off (WNB) as int32. */

#define WNB 64 /* tiles per block of the weight gradient */

/* The strides of a point x in V and U: a block's worth of floats and one
 * cache line more, so that a tile's 36 stores do not all fall in one L1
 * set (WNB * Cip * 4 and WNB * NR * 4 bytes are multiples of 4 KiB). */
static size_t wino_xsv(const wino_geom *g) { return WNB * g->Cip + 16; }
#define WINO_XSU (WNB * NR + 16)

/* dout (Co, Ho, Wo) channels last in (2 TH, 2 TW, Cop), through
 * wino_hwc: its geometry with the fields in those roles. */
static wino_geom wino_dout_geom(const wino_geom *g)
{
    wino_geom d = *g;
    d.Ci = g->Co;
    d.Hi = g->Ho;
    d.Wi = g->Wo;
    d.pad = 0;
    d.Hq = 2 * g->TH;
    d.Wq = 2 * g->TW;
    d.Cip = g->Cop;
    return d;
}

static size_t wino_weights_floats_g(const wino_geom *g)
{
    return g->Hq * g->Wq * g->Cip + 4 * g->TH * g->TW * g->Cop + WX * wino_xsv(g) +
           g->Cop / NR * WX * WINO_XSU + WX * g->Ci * g->Cop + 2 * 55 * g->Cop + 1 +
           table_floats(WNB);
}

size_t conv_wino_weights_floats(const conv2d_shape *s)
{
    wino_geom g = wino_forward_geom(s);
    return wino_weights_floats_g(&g);
}

/* o0..o5 = the six points of a, b (a row or column of a 2x2 gradient
 * tile) under A^T's columns: a, a + b, a - b, a + 2b, a - 2b, b. */
#define WINO_A(T, o, a, b)                     \
    do {                                       \
        const T a_ = (a), b_ = (b), b2_ = b_ + b_; \
        (o)[0] = a_;                           \
        (o)[1] = a_ + b_;                      \
        (o)[2] = a_ - b_;                      \
        (o)[3] = a_ + b2_;                     \
        (o)[4] = a_ - b2_;                     \
        (o)[5] = b_;                           \
    } while (0)

/* U[(c/NR*WX + x)*WINO_XSU + c%NR] = (A dy A^T)[x] of the 2x2 gradient tile
 * whose corner is src in the channels-last dt (row stride rs), W channels
 * at a time in vectors of type T. */
#define WINO_DOUT_CHANNELS(T, W)                                                       \
    for (; c + (W) <= Cop; c += (W)) {                                                 \
        T r0[6], r1[6];                                                                \
        WINO_A(T, r0, T##_ld(src + c), T##_ld(src + Cop + c));                         \
        WINO_A(T, r1, T##_ld(src + rs + c), T##_ld(src + rs + Cop + c));               \
        float *u = U + (c / NR) * WX * WINO_XSU + c % NR;                              \
        for (size_t j = 0; j < 6; j++) {                                               \
            T q[6];                                                                    \
            WINO_A(T, q, r0[j], r1[j]);                                                \
            for (size_t i = 0; i < 6; i++)                                             \
                T##_st(u + (i * 6 + j) * WINO_XSU, q[i]);                              \
        }                                                                              \
    }

WINO_TARGET static void wino_dout_tile8(float *U, const float *src, size_t rs, size_t Cop)
{
    size_t c = 0;
    WINO_DOUT_CHANNELS(v8f, 8)
}

#if WINO_X86
AVX512_TARGET static void wino_dout_tile16(float *U, const float *src, size_t rs, size_t Cop)
{
    size_t c = 0; /* Cop is a multiple of 16 */
    WINO_DOUT_CHANNELS(v16f, 16)
}
#endif

static void wino_dout_tile(int w512, float *U, const float *src, size_t rs, size_t Cop)
{
#if WINO_X86
    if (w512) {
        wino_dout_tile16(U, src, rs, Cop);
        return;
    }
#endif
    (void)w512;
    wino_dout_tile8(U, src, rs, Cop);
}

#if WINO_X86
/* Eight rows r by NP panels of sixteen columns (panel q's at bp + q bs,
 * its results at c + q NR), added to the first mr rows of c: 8 NP FMA
 * chains, each row's broadcast feeding NP FMAs.  Every output is the same
 * chain as tile6x16's (from zero in k order, then added to c). */
#define TILE8_ROW(i, NP)                                                    \
    do {                                                                  \
        const __m512 x_ = _mm512_set1_ps(r[i][o]);                        \
        a##i = _mm512_fmadd_ps(x_, b0, a##i);                             \
        if ((NP) > 1)                                                       \
            e##i = _mm512_fmadd_ps(x_, b1, e##i);                         \
    } while (0)
#define TILE8_BODY(NP)                                                                 \
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0,      \
           a6 = a0, a7 = a0, e0 = a0, e1 = a0, e2 = a0, e3 = a0, e4 = a0, e5 = a0,     \
           e6 = a0, e7 = a0;                                                           \
    for (size_t k = 0; k < kc; k++) {                                                  \
        const ptrdiff_t o = off[k];                                                    \
        const __m512 b0 = _mm512_loadu_ps(bp + k * NR);                                \
        const __m512 b1 = (NP) > 1 ? _mm512_loadu_ps(bp + bs + k * NR) : b0;             \
        TILE8_ROW(0, NP);                                                              \
        TILE8_ROW(1, NP);                                                              \
        TILE8_ROW(2, NP);                                                              \
        TILE8_ROW(3, NP);                                                              \
        TILE8_ROW(4, NP);                                                              \
        TILE8_ROW(5, NP);                                                              \
        TILE8_ROW(6, NP);                                                              \
        TILE8_ROW(7, NP);                                                              \
    }                                                                                  \
    const __m512 acc[8] = { a0, a1, a2, a3, a4, a5, a6, a7 },                          \
                 acc1[8] = { e0, e1, e2, e3, e4, e5, e6, e7 };                         \
    for (size_t i = 0; i < mr; i++) {                                                  \
        float *d = c + i * ldc;                                                        \
        _mm512_storeu_ps(d, _mm512_add_ps(_mm512_loadu_ps(d), acc[i]));                \
        if ((NP) > 1)                                                                    \
            _mm512_storeu_ps(d + NR, _mm512_add_ps(_mm512_loadu_ps(d + NR), acc1[i])); \
    }

AVX512_TARGET static void tile8x16_add_avx512(size_t kc, const float *const r[8],
                                              const int32_t *off, const float *bp, size_t bs,
                                              float *c, size_t ldc, size_t mr)
{
    (void)bs;
    TILE8_BODY(1)
}

AVX512_TARGET static void tile8x32_add_avx512(size_t kc, const float *const r[8],
                                              const int32_t *off, const float *bp, size_t bs,
                                              float *c, size_t ldc, size_t mr)
{
    TILE8_BODY(2)
}

/* The 16-lane weight products: rows eight input channels at a time,
 * columns two panels at a time. */
static void wino_weight_products16(float *S, const float *V, const float *U,
                                   const int32_t *off, size_t nrows, const wino_geom *g)
{
    const size_t Ci = g->Ci, Cop = g->Cop, np = Cop / NR, xsv = wino_xsv(g),
                 bs = WX * WINO_XSU;
    for (size_t x = 0; x < WX; x++) {
        const float *vx = V + x * xsv;
        for (size_t i0 = 0; i0 < Ci; i0 += 8) {
            const float *r[8];
            const size_t mr = Ci - i0 < 8 ? Ci - i0 : 8;
            for (size_t i = 0; i < 8; i++)
                r[i] = vx + i0 + (i < mr ? i : 0);
            float *c = S + (x * Ci + i0) * Cop;
            size_t p = 0;
            for (; p + 2 <= np; p += 2)
                tile8x32_add_avx512(nrows, r, off, U + (p * WX + x) * WINO_XSU, bs,
                                    c + p * NR, Cop, mr);
            if (p < np)
                tile8x16_add_avx512(nrows, r, off, U + (p * WX + x) * WINO_XSU, bs,
                                    c + p * NR, Cop, mr);
        }
    }
}
#endif

/* S[(x*Ci + ci)*Cop + co] += sum over the block's nrows tiles k of
 * V[x*xsv + k*Cip + ci] * U[(co/NR*WX + x)*WINO_XSU + k*NR + co%NR]: rows
 * are input channels, six at a time on the 8-lane path. */
static void wino_weight_products(float *S, const float *V, const float *U,
                                 const int32_t *off, size_t nrows, const wino_geom *g,
                                 int w512)
{
#if WINO_X86
    if (w512) {
        wino_weight_products16(S, V, U, off, nrows, g);
        return;
    }
#endif
    const size_t Ci = g->Ci, Cop = g->Cop, xsv = wino_xsv(g);
    for (size_t x = 0; x < WX; x++) {
        const float *vx = V + x * xsv;
        for (size_t p = 0; p < Cop / NR; p++) {
            const float *bp = U + (p * WX + x) * WINO_XSU;
            float *c = S + x * Ci * Cop + p * NR;
            for (size_t i0 = 0; i0 < Ci; i0 += MR) {
                const float *r[MR];
                const size_t mr = Ci - i0 < MR ? Ci - i0 : MR;
                for (size_t i = 0; i < MR; i++)
                    r[i] = vx + i0 + (i < mr ? i : 0);
                tile6x16(w512, nrows, r, off, bp, c + i0 * Cop, Cop, mr, NR, NULL, 0, 1, 0);
            }
        }
    }
}

/* G of the file's header, in double for the last transform. */
static const double wino_G[6][5] = {
    { 1.0 / 4, 0, 0, 0, 0 },
    { -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6 },
    { -1.0 / 6, 1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6 },
    { 1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 3, 2.0 / 3 },
    { 1.0 / 24, -1.0 / 12, 1.0 / 6, -1.0 / 3, 2.0 / 3 },
    { 0, 0, 0, 0, 1 },
};

/* dw (Co, Ci, 5, 5) (= when set, += otherwise) G^T S G for each filter,
 * one input channel's row of S (36 points by Cop) at a time, in double;
 * t (30 Cop) and o (25 Cop) doubles of scratch. */
static void wino_weights_out(float *dw, const float *S, const wino_geom *g, double *t,
                             double *o, int set)
{
    const size_t Ci = g->Ci, Co = g->Co, Cop = g->Cop;
    for (size_t ci = 0; ci < Ci; ci++) {
        /* t[kh][j] = sum over i of G[i][kh] S[i][j] */
        for (size_t kh = 0; kh < 5; kh++)
            for (size_t j = 0; j < 6; j++) {
                double *d = t + (kh * 6 + j) * Cop;
                for (size_t co = 0; co < Co; co++)
                    d[co] = 0.0;
                for (size_t i = 0; i < 6; i++) {
                    const double gk = wino_G[i][kh];
                    const float *sr = S + ((i * 6 + j) * Ci + ci) * Cop;
                    for (size_t co = 0; co < Co; co++)
                        d[co] += gk * sr[co];
                }
            }
        /* o[kh][kw] = sum over j of t[kh][j] G[j][kw] */
        for (size_t kh = 0; kh < 5; kh++)
            for (size_t kw = 0; kw < 5; kw++) {
                double *d = o + (kh * 5 + kw) * Cop;
                for (size_t co = 0; co < Co; co++)
                    d[co] = 0.0;
                for (size_t j = 0; j < 6; j++) {
                    const double gk = wino_G[j][kw];
                    const double *tr = t + (kh * 6 + j) * Cop;
                    for (size_t co = 0; co < Co; co++)
                        d[co] += tr[co] * gk;
                }
            }
        for (size_t co = 0; co < Co; co++) {
            float *d = dw + (co * Ci + ci) * 25;
            for (size_t k = 0; k < 25; k++)
                d[k] = (set ? 0.0f : d[k]) + (float)o[k * Cop + co];
        }
    }
}

void conv_wino_weights(float *dw, const float *dout, const float *in, const conv2d_shape *s,
                       float *work, int set)
{
    const wino_geom g = wino_forward_geom(s), gd = wino_dout_geom(&g);
    const size_t Ci = g.Ci, Cip = g.Cip, Cop = g.Cop, T = g.TH * g.TW;
    const size_t nxt = g.Hq * g.Wq * Cip, ndt = gd.Hq * gd.Wq * Cop;
    float *xt = work, *dt = xt + nxt, *V = dt + ndt, *U = V + WX * wino_xsv(&g),
          *S = U + Cop / NR * WX * WINO_XSU, *fin = S + WX * Ci * Cop;
    int32_t *off = tables(work, wino_weights_floats_g(&g) - table_floats(WNB));
    for (size_t k = 0; k < WNB; k++)
        off[k] = (int32_t)(k * Cip);
    memset(xt, 0, nxt * sizeof *xt);
    memset(dt, 0, ndt * sizeof *dt);
    memset(S, 0, WX * Ci * Cop * sizeof *S);
    const int w512 = tiles512();
    size_t row = 0;
    for (size_t n = 0; n < s->B; n++) {
        wino_hwc(xt, in + n * Ci * g.Hi * g.Wi, &g);
        wino_hwc(dt, dout + n * g.Co * g.Ho * g.Wo, &gd);
        for (size_t t = 0; t < T; t++) {
            const size_t ty = 2 * (t / g.TW), tx = 2 * (t % g.TW);
            wino_input_tile(w512, V + row * Cip, wino_xsv(&g), xt + (ty * g.Wq + tx) * Cip,
                            &g);
            wino_dout_tile(w512, U + row * NR, dt + (ty * gd.Wq + tx) * Cop, gd.Wq * Cop, Cop);
            if (++row == WNB) {
                wino_weight_products(S, V, U, off, row, &g, w512);
                row = 0;
            }
        }
    }
    if (row)
        wino_weight_products(S, V, U, off, row, &g, w512);
    /* fin: 55 Cop doubles from the first 8-byte boundary */
    double *t = (double *)(void *)(fin + ((uintptr_t)fin % 8 ? 1 : 0));
    wino_weights_out(dw, S, &g, t, t + 30 * Cop, set);
}
