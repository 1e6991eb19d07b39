/* convdirect.h - internal to kernels/: the direct (implicit-GEMM)
 * convolution that conv.c uses for stride-1 layers with large outputs on
 * CPUs with AVX2 and FMA.  No im2col is built: a 6x16 register tile reads
 * its six rows straight out of a zero-padded copy of one example's planes
 * (a row is an output pixel, its K index a (channel, kh, kw) offset into
 * the copy) and its sixteen columns from weights packed once per call.
 *
 *   forward   out^T (pixel, oc)      = in_pad (pixel, c*kh*kw) * W^T
 *   weights   dW^T  (c*kh*kw, oc)   += in_pad (c*kh*kw, pixel) * dout^T
 *   input     din^T (pixel, c)       = dout_pad (pixel, oc*kh*kw) * W flipped
 *
 * First layers (few taps) run the forward pass with the roles turned: six
 * output channels by sixteen pixels of an output row (rows6x16).
 *
 * The input gradient is the full convolution of dout, padded by K-1-pad,
 * with the flipped filters.  For "same" convolutions that is no more work
 * than sgemm + col2im; for valid ones input rows are tiled one at a time
 * over only the kernel rows that reach dout.  conv.c takes it where its
 * FMAs are at most 1.6x the useful ones, and sgemm + col2im elsewhere. */
#ifndef DB_CONVDIRECT_H
#define DB_CONVDIRECT_H

#include "kernels.h"

#include <stddef.h>

/* 1 if this CPU runs the direct kernels and they are not switched off
 * (conv2d_set_direct). */
int conv_direct_enabled(void);

/* 1 if the direct kernels take this layer (stride 1, sizes within their
 * int32 offsets, an output row wide enough for the first-layer tiles);
 * conv_direct_input_suits: and its input gradient, where the tiles' FMAs
 * (padding, rounding up to 6 rows and 16 channels) are at most 1.6x the
 * useful ones. */
int conv_direct_suits(const conv2d_shape *s);
int conv_direct_input_suits(const conv2d_shape *s);

/* Floats of scratch for each pass (tables of int32 offsets included). */
size_t conv_direct_forward_floats(const conv2d_shape *s);
size_t conv_direct_weights_floats(const conv2d_shape *s);
size_t conv_direct_input_floats(const conv2d_shape *s);

/* out (B, OC, OH, OW) = in * W + b, ReLU when relu is set.  Stride 1. */
void conv_direct_forward(float *out, const float *in, const float *w,
                         const float *b, const conv2d_shape *s, float *work,
                         int relu);
/* dw (OC, C*K*K) (= when set, += otherwise) the weight gradient over the
 * B examples; per-example contributions are added in example order. */
void conv_direct_weights(float *dw, const float *dout, const float *in,
                         const conv2d_shape *s, float *work, int set);
/* din (B, C, H, W) (= when set, += otherwise) the input gradient.  Needs
 * pad <= K - 1. */
void conv_direct_input(float *din, const float *dout, const float *w,
                       const conv2d_shape *s, float *work, int set);

/* Winograd F(2x2, 5x5) (see convwino.c) for the layers the direct
 * kernels take with K = 5 and pad <= 4: the forward pass, the weight
 * gradient and the input gradient, the first and last from filters
 * transformed beforehand into
 * conv_wino_prep_floats of u; conv_wino_floats of scratch besides. */
int conv_wino_suits(const conv2d_shape *s);
size_t conv_wino_prep_floats(const conv2d_shape *s);
size_t conv_wino_floats(const conv2d_shape *s);
void conv_wino_prep_forward(float *u, const float *w, const conv2d_shape *s);
void conv_wino_prep_input(float *u, const float *w, const conv2d_shape *s);
/* out (B, OC, OH, OW) = in * W + b, ReLU when relu is set. */
void conv_wino_forward(float *out, const float *in, const float *u, const float *b,
                       const conv2d_shape *s, float *work, int relu);
/* dw (OC, C, 5, 5) (= when set, += otherwise) the weight gradient over
 * the B examples, in conv_wino_weights_floats of scratch. */
size_t conv_wino_weights_floats(const conv2d_shape *s);
void conv_wino_weights(float *dw, const float *dout, const float *in, const conv2d_shape *s,
                       float *work, int set);
/* din (B, C, H, W) (= when set, += otherwise) the input gradient. */
void conv_wino_input(float *din, const float *dout, const float *u,
                     const conv2d_shape *s, float *work, int set);

#endif
