/* conv.c - 2-D convolution with zero padding: im2col + one sgemm per chunk
 * of the batch, col2im for the input gradient.
 *
 * Layout of the scratch (conv2d_work_floats):
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
#include "kernels.h"
#include "simd.h"

#include <cblas.h>
#include <limits.h>
#include <stdint.h>
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

size_t conv2d_work_floats(const conv2d_shape *s)
{
    size_t ohw = s->OH * s->OW;
    return conv_chunk(s) * ohw * (s->C * s->K * s->K + s->OC);
}

/* Output columns [lo, hi) of a row are those whose input column
 * iw = ow*stride - pad + kw lies inside [0, W); the rest read padding. */
static void ow_range(const conv2d_shape *s, size_t kw, size_t *lo, size_t *hi)
{
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

/* col (C*K*K, nb*OH*OW) from examples [b0, b0+nb) of in. */
static void im2col(float *col, const float *in, const conv2d_shape *s,
                   size_t b0, size_t nb)
{
    const size_t C = s->C, H = s->H, W = s->W, K = s->K, OH = s->OH,
                 OW = s->OW, st = s->stride, pad = s->pad;
    const size_t ohw = OH * OW, ncol = nb * ohw;
    /* Example-major: one input plane (a few KB) stays in L1 while its K*K
     * row segments are written; the column-major order re-read the whole
     * chunk's input from L3 for every (c, kh, kw). */
    for (size_t b = 0; b < nb; b++)
        for (size_t c = 0; c < C; c++) {
            const float *plane = in + ((b0 + b) * C + c) * H * W;
            for (size_t kh = 0; kh < K; kh++)
                for (size_t kw = 0; kw < K; kw++) {
                    float *row = col + ((c * K + kh) * K + kw) * ncol + b * ohw;
                    size_t lo, hi;
                    ow_range(s, kw, &lo, &hi);
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

/* din += col2im(col): each input pixel collects every column that read it. */
static void col2im_add(float *din, const float *col, const conv2d_shape *s,
                       size_t b0, size_t nb)
{
    const size_t C = s->C, H = s->H, W = s->W, K = s->K, OH = s->OH,
                 OW = s->OW, st = s->stride, pad = s->pad;
    const size_t ohw = OH * OW, ncol = nb * ohw;
    /* Example-major like im2col: the plane being summed into stays in L1. */
    for (size_t b = 0; b < nb; b++)
        for (size_t c = 0; c < C; c++) {
            float *plane = din + ((b0 + b) * C + c) * H * W;
            for (size_t kh = 0; kh < K; kh++)
                for (size_t kw = 0; kw < K; kw++) {
                    const float *row = col + ((c * K + kh) * K + kw) * ncol + b * ohw;
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

static void conv_forward(float *out, const float *in, const float *w, const float *b,
                         const conv2d_shape *s, float *work, int relu)
{
    const size_t OC = s->OC, ohw = s->OH * s->OW;
    const size_t ckk = s->C * s->K * s->K, bc = conv_chunk(s);
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
    conv_forward(out, in, w, b, s, work, 0);
}

void conv2d_forward_relu(float *out /* (B, OC, OH, OW) */,
                         const float *in /* (B, C, H, W) */,
                         const float *w /* (OC, C, K, K) */, const float *b /* (OC) */,
                         const conv2d_shape *s, float *work)
{
    conv_forward(out, in, w, b, s, work, 1);
}

void conv2d_backward(float *din /* (B, C, H, W) or NULL */,
                     float *dw /* (OC, C, K, K) */, float *db /* (OC) */,
                     const float *dout /* (B, OC, OH, OW) */,
                     const float *in /* (B, C, H, W) */,
                     const float *w /* (OC, C, K, K) */,
                     const conv2d_shape *s, float *work)
{
    const size_t OC = s->OC, ohw = s->OH * s->OW;
    const size_t ckk = s->C * s->K * s->K, bc = conv_chunk(s);
    for (size_t b0 = 0; b0 < s->B; b0 += bc) {
        size_t nb = s->B - b0 < bc ? s->B - b0 : bc;
        size_t ncol = nb * ohw;
        float *col = work;
        float *mat = work + ckk * ncol;
        /* dout (nb, OC, ohw) -> mat (OC, nb*ohw), the layout of the forward
         * product; the bias gradient falls out of the same pass. */
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
                db[oc] += acc;
            }
        /* The im2col is recomputed rather than kept from forward: it is the
         * largest buffer of the layer and cheap to rebuild. */
        im2col(col, in, s, b0, nb);
        /* dW (OC, ckk) += mat (OC, ncol) * col^T (ncol, ckk) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)OC, (int)ckk,
                    (int)ncol, 1.0f, mat, (int)ncol, col, (int)ncol, 1.0f, dw,
                    (int)ckk);
        if (din) {
            /* dcol (ckk, ncol) = W^T (ckk, OC) * mat (OC, ncol), into col */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ckk,
                        (int)ncol, (int)OC, 1.0f, w, (int)ckk, mat, (int)ncol,
                        0.0f, col, (int)ncol);
            col2im_add(din, col, s, b0, nb);
        }
    }
}
