/* conv.c - 2-D convolution with zero padding: im2col + sgemm, col2im for
 * the input gradient, in one of two modes chosen by the output size.
 *
 * Per example (OH*OW >= CONV_PER_EXAMPLE_OHW: LeNet's convs, CIFAR's first
 * two): scratch col (C*K*K, OH*OW) holds one example's im2col; the sgemm
 * writes straight into the example's (OC, OH*OW) output, and backward reads
 * dout in place, so nothing is re-laid out, and the scratch stays in L2.
 *
 * Batched (small outputs, e.g. CIFAR's 2x2 third conv, where a per-example
 * sgemm would have N = 4).  Layout of the scratch:
 *   col (C*K*K, Nc)   im2col of a chunk of Bc examples, Nc = Bc*OH*OW;
 *                     column (b, oh, ow) holds the receptive field of one
 *                     output pixel.  Backward reuses it for dcol.
 *   mat (OC, Nc)      the sgemm result (forward) or dout gathered into the
 *                     same layout (backward).
 * Bc is the largest number of examples whose col+mat fit in
 * CONV_CHUNK_FLOATS (at least 1), so the whole batch is one sgemm for the
 * small images dropbench trains on while the scratch of a large layer stays
 * bounded (a full-batch im2col of a 64-channel 5x5 layer at 32x32 would
 * need ~1 GB). */
#include "convdirect.h"
#include "kernels.h"
#include "simd.h"

#include <cblas.h>
#include <limits.h>
#include <stdint.h>
#include <stdatomic.h>
#include <string.h>

/* 1M floats = 4 MB: big enough that sgemm's N is in the thousands (1176
 * for LeNet's second conv), small enough to stay in the last-level cache
 * between im2col and the product, and to keep the MNIST nets' peak RSS
 * within 150 MiB. */
#define CONV_CHUNK_FLOATS ((size_t)1 << 20)

static int mul_ok(size_t *r, size_t a, size_t b)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *r = a * b;
    return 1;
}

/* Examples per chunk; conv2d_shape_init has checked the products. */
static size_t conv_chunk(const conv2d_shape *s)
{
    size_t per = s->OH * s->OW * (s->C * s->K * s->K + s->OC);
    size_t bc = CONV_CHUNK_FLOATS / per;
    if (bc < 1)
        bc = 1;
    if (bc > s->B)
        bc = s->B;
    /* sgemm takes int; keep Nc representable. */
    size_t maxb = (size_t)INT_MAX / (s->OH * s->OW);
    if (bc > maxb)
        bc = maxb;
    return bc;
}

int conv2d_shape_init(conv2d_shape *s, size_t B, size_t C, size_t H, size_t W,
                      size_t OC, size_t K, size_t stride, size_t pad, db_err *e)
{
    if (!B || !C || !H || !W || !OC || !K || !stride)
        return db_fail(e, "conv2d: sizes must be > 0 (B=%zu C=%zu H=%zu W=%zu "
                          "OC=%zu K=%zu stride=%zu)", B, C, H, W, OC, K, stride);
    if (pad > SIZE_MAX / 4 || H > SIZE_MAX / 4 || W > SIZE_MAX / 4)
        return db_fail(e, "conv2d: H=%zu W=%zu pad=%zu too large", H, W, pad);
    if (K > H + 2 * pad || K > W + 2 * pad)
        return db_fail(e, "conv2d: kernel %zu does not fit %zux%zu input with "
                          "padding %zu", K, H, W, pad);
    size_t OH = (H + 2 * pad - K) / stride + 1;
    size_t OW = (W + 2 * pad - K) / stride + 1;
    /* Every buffer the layer implies: in, out, weights, the scratch of one
     * example (a chunk is never larger than that or CONV_CHUNK_FLOATS). */
    size_t t, ohw, kk, ckk;
    if (!mul_ok(&t, B, C) || !mul_ok(&t, t, H) || !mul_ok(&t, t, W) ||
        !mul_ok(&ohw, OH, OW) || !mul_ok(&t, B, OC) || !mul_ok(&t, t, ohw) ||
        !mul_ok(&kk, K, K) || !mul_ok(&ckk, C, kk) || !mul_ok(&t, OC, ckk) ||
        ckk > SIZE_MAX - OC || !mul_ok(&t, ohw, ckk + OC))
        return db_fail(e, "conv2d: buffer sizes overflow size_t (B=%zu C=%zu "
                          "H=%zu W=%zu OC=%zu K=%zu)", B, C, H, W, OC, K);
    /* cblas dimensions and leading dimensions are int. */
    if (ckk > INT_MAX || OC > INT_MAX || ohw > INT_MAX)
        return db_fail(e, "conv2d: C*K*K=%zu, OC=%zu or OH*OW=%zu exceeds the "
                          "BLAS int range", ckk, OC, ohw);
    s->B = B;
    s->C = C;
    s->H = H;
    s->W = W;
    s->OC = OC;
    s->K = K;
    s->stride = stride;
    s->pad = pad;
    s->OH = OH;
    s->OW = OW;
    return 0;
}

/* Layers with at least this many output pixels per example run one example
 * at a time: the sgemm then writes straight into the (OC, OH*OW) output
 * plane of the example (no re-layout of the product, none of dout in
 * backward), and the example's im2col (C*K*K, OH*OW), a few hundred KB,
 * stays in L2 between im2col, sgemm and col2im.  Below it the sgemm's N
 * would be too small to run well, and a chunk of examples is batched. */
#define CONV_PER_EXAMPLE_OHW 64

static int per_example(const conv2d_shape *s)
{
    return s->OH * s->OW >= CONV_PER_EXAMPLE_OHW;
}

/* The direct kernels (convdirect.c) replace im2col + sgemm for the layers
 * run per example that they suit. */
static int direct(const conv2d_shape *s)
{
    return per_example(s) && conv_direct_suits(s) && conv_direct_enabled();
}

static atomic_int wino_off;

int conv2d_set_winograd(int on)
{
    return !atomic_exchange(&wino_off, !on);
}

/* Of those, the 5x5 layers run their forward pass and input gradient as
 * Winograd F(2x2, 5x5): 36 products per tile of four outputs instead of
 * 100. */
static int wino(const conv2d_shape *s)
{
    return direct(s) && conv_wino_suits(s) && !atomic_load(&wino_off);
}

static int direct_input(const conv2d_shape *s)
{
    return direct(s) && (wino(s) || conv_direct_input_suits(s));
}

const char *conv2d_kernels(void)
{
    if (!conv_direct_enabled())
        return "im2col-sgemm";
    return atomic_load(&wino_off) ? "direct-avx2" : "direct-avx2+winograd";
}

int conv2d_is_direct(const conv2d_shape *s)
{
    return direct(s) ? 1 + direct_input(s) : 0;
}

int conv2d_is_winograd(const conv2d_shape *s)
{
    return wino(s);
}

size_t conv2d_prep_floats(const conv2d_shape *s)
{
    return wino(s) ? conv_wino_prep_floats(s) : 0;
}

void conv2d_prep_forward(float *prep, const float *w, const conv2d_shape *s)
{
    if (wino(s))
        conv_wino_prep_forward(prep, w, s);
}

void conv2d_prep_input(float *prep, const float *w, const conv2d_shape *s)
{
    if (wino(s))
        conv_wino_prep_input(prep, w, s);
}

size_t conv2d_work_floats(const conv2d_shape *s)
{
    size_t ohw = s->OH * s->OW, ckk = s->C * s->K * s->K;
    if (direct(s)) {
        size_t n = conv_direct_forward_floats(s);
        size_t wn = wino(s) ? conv_wino_weights_floats(s) : conv_direct_weights_floats(s);
        /* The input gradient runs after the weights' pass, in its space. */
        size_t in = direct_input(s) ? conv_direct_input_floats(s) : ohw * ckk;
        if (wn > n)
            n = wn;
        if (wino(s)) {
            /* the filters' transforms, then the passes' scratch */
            in = conv_wino_prep_floats(s) + conv_wino_floats(s);
        }
        return in > n ? in : n;
    }
    if (per_example(s))
        return ohw * ckk;
    return conv_chunk(s) * ohw * (ckk + s->OC);
}

/* Output columns [lo, hi) of a row are those whose input column
 * iw = ow*stride - pad + kw lies inside [0, W); the rest read padding. */
static inline void ow_range(const conv2d_shape *s, size_t kw, size_t *lo, size_t *hi)
{
    if (s->stride == 1) {
        /* The nets' case, without the divisions (this runs once per
         * (example, channel, kh, kw), i.e. for every few rows copied). */
        size_t l = kw < s->pad ? s->pad - kw : 0;
        size_t h = s->W + s->pad > kw ? s->W + s->pad - kw : 0;
        if (h > s->OW)
            h = s->OW;
        if (l > h)
            l = h;
        *lo = l;
        *hi = h;
        return;
    }
    ptrdiff_t st = (ptrdiff_t)s->stride;
    ptrdiff_t off = (ptrdiff_t)kw - (ptrdiff_t)s->pad; /* iw = ow*st + off */
    ptrdiff_t l = off >= 0 ? 0 : (-off + st - 1) / st;
    ptrdiff_t lim = (ptrdiff_t)s->W - off; /* need ow*st < lim */
    ptrdiff_t h = lim <= 0 ? 0 : (lim + st - 1) / st;
    if (h > (ptrdiff_t)s->OW)
        h = (ptrdiff_t)s->OW;
    if (l > h)
        l = h;
    *lo = (size_t)l;
    *hi = (size_t)h;
}

/* Short row copies (OW is 2..32 floats here): inline vector moves instead
 * of a memcpy call per row. */
static inline void copy_floats(float *dst, const float *src, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        v4f_store(dst + i, v4f_load(src + i));
    for (; i < n; i++)
        dst[i] = src[i];
}

static inline void add_floats(float *dst, const float *src, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        v4f_store(dst + i, v4f_load(dst + i) + v4f_load(src + i));
    for (; i < n; i++)
        dst[i] += src[i];
}

static inline void zero_floats(float *dst, size_t n)
{
    const v4f z = v4f_set1(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        v4f_store(dst + i, z);
    for (; i < n; i++)
        dst[i] = 0.0f;
}

/* Rows [oh_lo, oh_hi) of output rows read input rows oh + kh - pad inside
 * [0, H) (stride 1); the others read padding. */
static void oh_range1(const conv2d_shape *s, size_t kh, size_t *lo, size_t *hi)
{
    size_t l = kh < s->pad ? s->pad - kh : 0;
    size_t h = s->H + s->pad > kh ? s->H + s->pad - kh : 0;
    if (h > s->OH)
        h = s->OH;
    if (l > h)
        l = h;
    *lo = l;
    *hi = h;
}

/* "Same" convolutions (stride 1, OW == W, i.e. K = 2*pad + 1, pad < W):
 * for a fixed (kh, kw) the valid output rows read a contiguous run of the
 * input plane shifted by (kh - pad)*W + (kw - pad), so the im2col row is
 * one long vector copy; only the pad - kw first (kw < pad) or kw - pad last
 * (kw > pad) columns of each output row wrapped around into the
 * neighbouring input row and are zeroed afterwards.  The copy is trimmed at
 * both ends so it never reads outside the plane. */
static int same_conv(const conv2d_shape *s)
{
    return s->stride == 1 && s->OW == s->W && s->pad < s->W;
}

/* Valid stride-1 convolutions with outputs a few pixels wide (the CIFAR
 * net's third conv: 2x2 outputs): every window lies inside the plane, and
 * the rows are too short for copy_floats' loops to pay; plain loops move
 * them.  Channel-major: one channel's planes of the whole chunk (a few
 * KB) stay in L1 while each im2col row is written from start to end;
 * example-major, every row would get a few floats per example, a cache
 * line each, over a col larger than L2. */
static int tiny_valid(const conv2d_shape *s)
{
    return s->stride == 1 && s->pad == 0 && s->OW <= 4;
}

static void im2col_tiny(float *col, const float *in, const conv2d_shape *s,
                        size_t b0, size_t nb)
{
    const size_t C = s->C, H = s->H, W = s->W, K = s->K, OH = s->OH, OW = s->OW;
    const size_t ohw = OH * OW, ncol = nb * ohw;
    for (size_t c = 0; c < C; c++)
        for (size_t kh = 0; kh < K; kh++)
            for (size_t kw = 0; kw < K; kw++) {
                float *row = col + ((c * K + kh) * K + kw) * ncol;
                for (size_t b = 0; b < nb; b++) {
                    const float *src = in + ((b0 + b) * C + c) * H * W + kh * W + kw;
                    for (size_t oh = 0; oh < OH; oh++)
                        for (size_t ow = 0; ow < OW; ow++)
                            row[b * ohw + oh * OW + ow] = src[oh * W + ow];
                }
            }
}

/* Each input pixel still sums its (kh, kw) contributions in (kh, kw)
 * order, as col2im_add's example-major loop does: the same bits. */
static void col2im_tiny(float *din, const float *col, const conv2d_shape *s,
                        size_t b0, size_t nb, int set)
{
    const size_t C = s->C, H = s->H, W = s->W, K = s->K, OH = s->OH, OW = s->OW;
    const size_t ohw = OH * OW, ncol = nb * ohw;
    if (set)
        memset(din + b0 * C * H * W, 0, nb * C * H * W * sizeof *din);
    for (size_t c = 0; c < C; c++)
        for (size_t kh = 0; kh < K; kh++)
            for (size_t kw = 0; kw < K; kw++) {
                const float *row = col + ((c * K + kh) * K + kw) * ncol;
                for (size_t b = 0; b < nb; b++) {
                    float *dst = din + ((b0 + b) * C + c) * H * W + kh * W + kw;
                    for (size_t oh = 0; oh < OH; oh++)
                        for (size_t ow = 0; ow < OW; ow++)
                            dst[oh * W + ow] += row[b * ohw + oh * OW + ow];
                }
            }
}

static void im2col_same_row(float *row, const float *plane, const conv2d_shape *s,
                            size_t kh, size_t kw)
{
    const size_t OW = s->OW, OH = s->OH, W = s->W, pad = s->pad;
    size_t oh_lo, oh_hi;
    oh_range1(s, kh, &oh_lo, &oh_hi);
    zero_floats(row, oh_lo * OW);
    zero_floats(row + oh_hi * OW, (OH - oh_hi) * OW);
    if (oh_lo == oh_hi)
        return;
    float *d = row + oh_lo * OW;
    const size_t len = (oh_hi - oh_lo) * OW;
    const size_t front = kw < pad ? pad - kw : 0, back = kw > pad ? kw - pad : 0;
    /* d[j] reads plane[(oh_lo + kh - pad)*W + kw - pad + j]; start is that
     * index at j = front, >= 0 (oh_lo >= pad - kh, kw + front >= pad). */
    const size_t start = (oh_lo + kh - pad) * W + (kw + front - pad);
    if (len > front + back)
        copy_floats(d + front, plane + start, len - front - back);
    for (size_t r = 0; r < oh_hi - oh_lo; r++) {
        zero_floats(d + r * OW, front);
        zero_floats(d + r * OW + OW - back, back);
    }
}

/* The inverse: plane += the valid entries of the row; the wrapped ones are
 * zeroed in the row (scratch) first so the add can run as one long add. */
static void col2im_same_row(float *plane, float *row, const conv2d_shape *s,
                            size_t kh, size_t kw)
{
    const size_t OW = s->OW, W = s->W, pad = s->pad;
    size_t oh_lo, oh_hi;
    oh_range1(s, kh, &oh_lo, &oh_hi);
    if (oh_lo == oh_hi)
        return;
    float *d = row + oh_lo * OW;
    const size_t len = (oh_hi - oh_lo) * OW;
    const size_t front = kw < pad ? pad - kw : 0, back = kw > pad ? kw - pad : 0;
    for (size_t r = 0; r < oh_hi - oh_lo; r++) {
        zero_floats(d + r * OW, front);
        zero_floats(d + r * OW + OW - back, back);
    }
    const size_t start = (oh_lo + kh - pad) * W + (kw + front - pad);
    if (len > front + back)
        add_floats(plane + start, d + front, len - front - back);
}

/* col (C*K*K, nb*OH*OW) from examples [b0, b0+nb) of in. */
static void im2col(float *col, const float *in, const conv2d_shape *s,
                   size_t b0, size_t nb)
{
    const size_t C = s->C, H = s->H, W = s->W, K = s->K, OH = s->OH,
                 OW = s->OW, st = s->stride, pad = s->pad;
    const size_t ohw = OH * OW, ncol = nb * ohw;
    const int same = same_conv(s);
    if (tiny_valid(s)) {
        im2col_tiny(col, in, s, b0, nb);
        return;
    }
    /* Example-major: one input plane (a few KB) stays in L1 while its K*K
     * row segments are written; the column-major order re-read the whole
     * chunk's input from L3 for every (c, kh, kw). */
    for (size_t b = 0; b < nb; b++)
        for (size_t c = 0; c < C; c++) {
            const float *plane = in + ((b0 + b) * C + c) * H * W;
            for (size_t kh = 0; kh < K; kh++)
                for (size_t kw = 0; kw < K; kw++) {
                    float *row = col + ((c * K + kh) * K + kw) * ncol + b * ohw;
                    if (same) {
                        im2col_same_row(row, plane, s, kh, kw);
                        continue;
                    }
                    size_t lo, hi;
                    ow_range(s, kw, &lo, &hi);
                    if (st == 1 && lo == 0 && hi == OW) {
                        /* Whole rows: rows oh_lo..oh_hi read input rows
                         * oh + kh - pad, the others are padding. */
                        size_t oh_lo = kh < pad ? pad - kh : 0;
                        size_t oh_hi = H + pad > kh ? H + pad - kh : 0;
                        if (oh_hi > OH)
                            oh_hi = OH;
                        if (oh_lo > oh_hi)
                            oh_lo = oh_hi;
                        zero_floats(row, oh_lo * OW);
                        if (oh_lo < oh_hi) {
                            const float *src =
                                plane + (oh_lo + kh - pad) * W + (kw - pad);
                            if (OW == W) /* rows adjoin in the input too */
                                copy_floats(row + oh_lo * OW, src,
                                            (oh_hi - oh_lo) * OW);
                            else
                                for (size_t oh = oh_lo; oh < oh_hi; oh++)
                                    copy_floats(row + oh * OW,
                                                src + (oh - oh_lo) * W, OW);
                        }
                        zero_floats(row + oh_hi * OW, (OH - oh_hi) * OW);
                        continue;
                    }
                    for (size_t oh = 0; oh < OH; oh++) {
                        float *dst = row + oh * OW;
                        ptrdiff_t ih = (ptrdiff_t)(oh * st + kh) - (ptrdiff_t)pad;
                        if (ih < 0 || ih >= (ptrdiff_t)H) {
                            memset(dst, 0, OW * sizeof *dst);
                            continue;
                        }
                        for (size_t ow = 0; ow < lo; ow++)
                            dst[ow] = 0.0f;
                        if (lo < hi) {
                            /* input column of ow = lo, >= 0 by ow_range */
                            const float *src =
                                plane + (size_t)ih * W + (lo * st + kw - pad);
                            if (st == 1)
                                copy_floats(dst + lo, src, hi - lo);
                            else
                                for (size_t ow = lo; ow < hi; ow++)
                                    dst[ow] = src[(ow - lo) * st];
                        }
                        for (size_t ow = hi; ow < OW; ow++)
                            dst[ow] = 0.0f;
                    }
                }
        }
}

/* din += col2im(col): each input pixel collects every column that read it.
 * col is scratch and may be changed (the padding entries are zeroed). */
static void col2im_add(float *din, float *col, const conv2d_shape *s,
                       size_t b0, size_t nb, int set)
{
    const size_t C = s->C, H = s->H, W = s->W, K = s->K, OH = s->OH,
                 OW = s->OW, st = s->stride, pad = s->pad;
    const size_t ohw = OH * OW, ncol = nb * ohw;
    const int same = same_conv(s);
    if (tiny_valid(s)) {
        col2im_tiny(din, col, s, b0, nb, set);
        return;
    }
    /* Example-major like im2col: the plane being summed into stays in L1. */
    for (size_t b = 0; b < nb; b++)
        for (size_t c = 0; c < C; c++) {
            float *plane = din + ((b0 + b) * C + c) * H * W;
            if (set) /* zeroed here, in L1, rather than by the caller */
                memset(plane, 0, H * W * sizeof *plane);
            for (size_t kh = 0; kh < K; kh++)
                for (size_t kw = 0; kw < K; kw++) {
                    float *row = col + ((c * K + kh) * K + kw) * ncol + b * ohw;
                    if (same) {
                        col2im_same_row(plane, row, s, kh, kw);
                        continue;
                    }
                    size_t lo, hi;
                    ow_range(s, kw, &lo, &hi);
                    if (lo >= hi)
                        continue;
                    for (size_t oh = 0; oh < OH; oh++) {
                        ptrdiff_t ih = (ptrdiff_t)(oh * st + kh) - (ptrdiff_t)pad;
                        if (ih < 0 || ih >= (ptrdiff_t)H)
                            continue;
                        const float *src = row + oh * OW + lo;
                        float *dst = plane + (size_t)ih * W + (lo * st + kw - pad);
                        if (st == 1)
                            add_floats(dst, src, hi - lo);
                        else
                            for (size_t i = 0; i < hi - lo; i++)
                                dst[i * st] += src[i];
                    }
                }
        }
}

/* (OC, nb, ohw) -> (nb, OC, ohw), adding the bias on the way, and the ReLU
 * when relu is set (negative -> 0, so NaN passes as in relu_forward). */
static void unpack_out(float *out, const float *mat, const float *b, size_t nb,
                       size_t OC, size_t ohw, size_t ncol, int relu)
{
    const v4f zero = v4f_set1(0.0f);
    for (size_t n = 0; n < nb; n++)
        for (size_t oc = 0; oc < OC; oc++) {
            float *dst = out + (n * OC + oc) * ohw;
            const float *src = mat + oc * ncol + n * ohw;
            const float bias = b[oc];
            const v4f vb = v4f_set1(bias);
            size_t i = 0;
            if (relu) {
                for (; i + 4 <= ohw; i += 4) {
                    v4f x = v4f_load(src + i) + vb;
                    v4f_store(dst + i, (v4f)((v4i)x & ~(x < zero)));
                }
                for (; i < ohw; i++) {
                    float x = src[i] + bias;
                    dst[i] = x < 0.0f ? 0.0f : x;
                }
            } else {
                for (; i + 4 <= ohw; i += 4)
                    v4f_store(dst + i, v4f_load(src + i) + vb);
                for (; i < ohw; i++)
                    dst[i] = src[i] + bias;
            }
        }
}

/* out (OC, ohw) = bias, broadcast along each row. */
static void fill_bias(float *out, const float *b, size_t OC, size_t ohw)
{
    for (size_t oc = 0; oc < OC; oc++) {
        float *o = out + oc * ohw;
        const v4f vb = v4f_set1(b[oc]);
        size_t i = 0;
        for (; i + 4 <= ohw; i += 4)
            v4f_store(o + i, vb);
        for (; i < ohw; i++)
            o[i] = b[oc];
    }
}

/* Negative -> 0 in place; NaN passes as in relu_forward. */
static void relu_inplace(float *x, size_t n)
{
    const v4f zero = v4f_set1(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v4f v = v4f_load(x + i);
        v4f_store(x + i, (v4f)((v4i)v & ~(v < zero)));
    }
    for (; i < n; i++)
        x[i] = x[i] < 0.0f ? 0.0f : x[i];
}

static void conv_forward(float *out, const float *in, const float *w, const float *b,
                         const conv2d_shape *s, float *work, int relu, const float *prep)
{
    const size_t OC = s->OC, ohw = s->OH * s->OW;
    const size_t ckk = s->C * s->K * s->K, bc = conv_chunk(s);
    if (wino(s)) {
        if (!prep) {
            conv_wino_prep_forward(work, w, s);
            prep = work;
            work += conv_wino_prep_floats(s);
        }
        conv_wino_forward(out, in, prep, b, s, work, relu);
        return;
    }
    if (direct(s)) {
        conv_direct_forward(out, in, w, b, s, work, relu);
        return;
    }
    if (per_example(s)) {
        for (size_t n = 0; n < s->B; n++) {
            float *o = out + n * OC * ohw;
            im2col(work, in, s, n, 1);
            /* out_n (OC, ohw) = bias + W (OC, ckk) * col (ckk, ohw): with
             * beta = 1 OpenBLAS skips its pass that zeroes C for beta = 0,
             * and the bias needs no pass of its own. */
            fill_bias(o, b, OC, ohw);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)OC,
                        (int)ohw, (int)ckk, 1.0f, w, (int)ckk, work, (int)ohw,
                        1.0f, o, (int)ohw);
            if (relu)
                relu_inplace(o, OC * ohw);
        }
        return;
    }
    for (size_t b0 = 0; b0 < s->B; b0 += bc) {
        size_t nb = s->B - b0 < bc ? s->B - b0 : bc;
        size_t ncol = nb * ohw;
        float *col = work;               /* (ckk, ncol) */
        float *mat = work + ckk * ncol;  /* (OC, ncol) */
        im2col(col, in, s, b0, nb);
        /* mat (OC, ncol) = W (OC, ckk) * col (ckk, ncol) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)OC,
                    (int)ncol, (int)ckk, 1.0f, w, (int)ckk, col, (int)ncol,
                    0.0f, mat, (int)ncol);
        unpack_out(out + b0 * OC * ohw, mat, b, nb, OC, ohw, ncol, relu);
    }
}

void conv2d_forward(float *out /* (B, OC, OH, OW) */,
                    const float *in /* (B, C, H, W) */,
                    const float *w /* (OC, C, K, K) */, const float *b /* (OC) */,
                    const conv2d_shape *s, float *work)
{
    conv_forward(out, in, w, b, s, work, 0, NULL);
}

void conv2d_forward_relu(float *out /* (B, OC, OH, OW) */,
                         const float *in /* (B, C, H, W) */,
                         const float *w /* (OC, C, K, K) */, const float *b /* (OC) */,
                         const conv2d_shape *s, float *work)
{
    conv_forward(out, in, w, b, s, work, 1, NULL);
}

void conv2d_forward_relu_prep(float *out /* (B, OC, OH, OW) */,
                              const float *in /* (B, C, H, W) */,
                              const float *w /* (OC, C, K, K) */, const float *prep,
                              const float *b /* (OC) */, const conv2d_shape *s,
                              float *work)
{
    conv_forward(out, in, w, b, s, work, 1, prep);
}

/* db (OC) += the sums of the rows of g (OC, ohw). */
static void bias_grad(float *db, const float *g, size_t OC, size_t ohw)
{
    for (size_t oc = 0; oc < OC; oc++) {
        const float *src = g + oc * ohw;
        v4f acc4 = v4f_set1(0.0f);
        size_t i = 0;
        for (; i + 4 <= ohw; i += 4)
            acc4 += v4f_load(src + i);
        float acc = (acc4[0] + acc4[1]) + (acc4[2] + acc4[3]);
        for (; i < ohw; i++)
            acc += src[i];
        db[oc] += acc;
    }
}

/* set: overwrite dw and db instead of adding to them; set_din: likewise
 * din; dw NULL: no weight and bias gradients.  The overwrite is done as
 * zero-then-add, in the same order as the accumulating path, so both give
 * identical bits. */
/* conv_backward's paths; db is zeroed already where set asks for it. */

/* The direct kernels (weights and input through Winograd or direct tiles,
 * the input else sgemm + col2im per example). */
static void backward_direct(float *din, float *dw, float *db, const float *dout,
                            const float *in, const float *w, const conv2d_shape *s,
                            float *work, int set, int set_din, const float *prep)
{
    const size_t OC = s->OC, ohw = s->OH * s->OW, ckk = s->C * s->K * s->K;
    if (dw) {
        for (size_t n = 0; n < s->B; n++)
            bias_grad(db, dout + n * OC * ohw, OC, ohw);
        if (wino(s))
            conv_wino_weights(dw, dout, in, s, work, set);
        else
            conv_direct_weights(dw, dout, in, s, work, set);
    }
    if (!din)
        return;
    if (wino(s)) {
        if (!prep) {
            conv_wino_prep_input(work, w, s);
            prep = work;
            work += conv_wino_prep_floats(s);
        }
        conv_wino_input(din, dout, prep, s, work, set_din);
        return;
    }
    if (direct_input(s)) {
        conv_direct_input(din, dout, w, s, work, set_din);
        return;
    }
    for (size_t n = 0; n < s->B; n++) {
        /* dcol (ckk, ohw) = W^T (ckk, OC) * dout_n (OC, ohw) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ckk, (int)ohw, (int)OC,
                    1.0f, w, (int)ckk, dout + n * OC * ohw, (int)ohw, 0.0f, work, (int)ohw);
        col2im_add(din, work, s, n, 1, set_din);
    }
}

/* The two products of examples [b0, b0 + nb) from g (OC, nb * ohw), the
 * output gradient in the forward product's layout, with col (ckk, nb * ohw)
 * as scratch: dW = g col^T (overwritten when first, else added; the im2col
 * is recomputed rather than kept from forward: it is the largest buffer of
 * the layer and cheap to rebuild), and din from dcol = W^T g. */
static void col_products(float *din, float *dw, const float *g, const float *in,
                         const float *w, const conv2d_shape *s, float *col, size_t b0,
                         size_t nb, int first, int set_din)
{
    const size_t OC = s->OC, ncol = nb * s->OH * s->OW, ckk = s->C * s->K * s->K;
    if (dw) {
        im2col(col, in, s, b0, nb);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)OC, (int)ckk, (int)ncol,
                    1.0f, g, (int)ncol, col, (int)ncol, first ? 0.0f : 1.0f, dw, (int)ckk);
    }
    if (din) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ckk, (int)ncol, (int)OC,
                    1.0f, w, (int)ckk, g, (int)ncol, 0.0f, col, (int)ncol);
        col2im_add(din, col, s, b0, nb, set_din);
    }
}

/* im2col and sgemm one example at a time. */
static void backward_per_example(float *din, float *dw, float *db, const float *dout,
                                 const float *in, const float *w, const conv2d_shape *s,
                                 float *work, int set, int set_din)
{
    const size_t OC = s->OC, ohw = s->OH * s->OW;
    for (size_t n = 0; n < s->B; n++) {
        const float *g = dout + n * OC * ohw; /* (OC, ohw) */
        if (dw)
            bias_grad(db, g, OC, ohw);
        col_products(din, dw, g, in, w, s, work, n, 1, set && n == 0, set_din);
    }
}

/* dout (nb, OC, ohw) -> mat (OC, nb*ohw), the layout of the forward
 * product; the bias gradient (when dw) falls out of the same pass. */
static void gather_dout(float *mat, float *db, const float *dout, size_t b0, size_t nb,
                        size_t OC, size_t ohw, int dw)
{
    const size_t ncol = nb * ohw;
    for (size_t n = 0; n < nb; n++)
        for (size_t oc = 0; oc < OC; oc++) {
            const float *src = dout + ((b0 + n) * OC + oc) * ohw;
            float *dst = mat + oc * ncol + n * ohw;
            v4f acc4 = v4f_set1(0.0f);
            size_t i = 0;
            for (; i + 4 <= ohw; i += 4) {
                v4f x = v4f_load(src + i);
                v4f_store(dst + i, x);
                acc4 += x;
            }
            float acc = (acc4[0] + acc4[1]) + (acc4[2] + acc4[3]);
            for (; i < ohw; i++) {
                dst[i] = src[i];
                acc += src[i];
            }
            if (dw)
                db[oc] += acc;
        }
}

/* im2col and sgemm over chunks of conv_chunk(s) examples. */
static void backward_chunked(float *din, float *dw, float *db, const float *dout,
                             const float *in, const float *w, const conv2d_shape *s,
                             float *work, int set, int set_din)
{
    const size_t OC = s->OC, ohw = s->OH * s->OW;
    const size_t ckk = s->C * s->K * s->K, bc = conv_chunk(s);
    for (size_t b0 = 0; b0 < s->B; b0 += bc) {
        size_t nb = s->B - b0 < bc ? s->B - b0 : bc;
        size_t ncol = nb * ohw;
        float *col = work;
        float *mat = work + ckk * ncol;
        gather_dout(mat, db, dout, b0, nb, OC, ohw, dw != NULL);
        col_products(din, dw, mat, in, w, s, col, b0, nb, set && b0 == 0, set_din);
    }
}

static void conv_backward(float *din, float *dw, float *db, const float *dout,
                          const float *in, const float *w, const conv2d_shape *s,
                          float *work, int set, int set_din, const float *prep)
{
    if (dw && set)
        memset(db, 0, s->OC * sizeof *db);
    if (direct(s))
        backward_direct(din, dw, db, dout, in, w, s, work, set, set_din, prep);
    else if (per_example(s))
        backward_per_example(din, dw, db, dout, in, w, s, work, set, set_din);
    else
        backward_chunked(din, dw, db, dout, in, w, s, work, set, set_din);
}

void conv2d_backward(float *din /* (B, C, H, W) or NULL */,
                     float *dw /* (OC, C, K, K) */, float *db /* (OC) */,
                     const float *dout /* (B, OC, OH, OW) */,
                     const float *in /* (B, C, H, W) */,
                     const float *w /* (OC, C, K, K) */,
                     const conv2d_shape *s, float *work)
{
    conv_backward(din, dw, db, dout, in, w, s, work, 0, 0, NULL);
}

void conv2d_backward_set(float *din /* (B, C, H, W) or NULL */,
                         float *dw /* (OC, C, K, K) */, float *db /* (OC) */,
                         const float *dout /* (B, OC, OH, OW) */,
                         const float *in /* (B, C, H, W) */,
                         const float *w /* (OC, C, K, K) */,
                         const conv2d_shape *s, float *work)
{
    conv_backward(din, dw, db, dout, in, w, s, work, 1, 1, NULL);
}

void conv2d_backward_set_din(float *din /* (B, C, H, W) or NULL */,
                             float *dw /* (OC, C, K, K) */, float *db /* (OC) */,
                             const float *dout /* (B, OC, OH, OW) */,
                             const float *in /* (B, C, H, W) */,
                             const float *w /* (OC, C, K, K) */,
                             const conv2d_shape *s, float *work)
{
    conv_backward(din, dw, db, dout, in, w, s, work, 0, 1, NULL);
}

void conv2d_backward_input_set(float *din /* (B, C, H, W) */,
                               const float *dout /* (B, OC, OH, OW) */,
                               const float *in /* (B, C, H, W) */,
                               const float *w /* (OC, C, K, K) */,
                               const conv2d_shape *s, float *work)
{
    conv_backward(din, NULL, NULL, dout, in, w, s, work, 1, 1, NULL);
}

void conv2d_backward_input_set_prep(float *din /* (B, C, H, W) */,
                                    const float *dout /* (B, OC, OH, OW) */,
                                    const float *in /* (B, C, H, W) */,
                                    const float *w /* (OC, C, K, K) */,
                                    const float *prep, const conv2d_shape *s,
                                    float *work)
{
    conv_backward(din, NULL, NULL, dout, in, w, s, work, 1, 1, prep);
}
