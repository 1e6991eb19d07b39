/* kernels.h - the numeric core.
 *
 * Conventions (every kernel):
 *  - Pure functions over float arrays with explicit sizes: no allocation, no
 *    I/O, no globals.  Scratch memory is passed in by the caller, sized by the
 *    matching *_work_floats() function.
 *  - Arguments in the order outputs, inputs, weights, sizes.  Shape comments
 *    give the layout, row-major, batch first; images are (B, C, H, W).
 *  - Forward OVERWRITES its outputs.  Backward ACCUMULATES (+=) into every
 *    gradient it is given (weights and inputs alike), so the caller zeroes
 *    gradients once per step.  A NULL input-gradient pointer means "not
 *    needed" (first layer) and skips that work.
 *  - Element counts are size_t.  Heavy products go through cblas_sgemm.
 *  - A function that validates returns 0 / -1 with a message in db_err.
 */
#ifndef DB_KERNELS_H
#define DB_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "dberr.h"
#include "rng.h"

/* ---- dense: out = in * W^T + b ------------------------------------------ */
/* W is (O, In): row o holds the incoming weights of output unit o, which is
 * what max-norm constrains. */
void dense_forward(float *out /* (B, O) */, const float *in /* (B, In) */,
                   const float *w /* (O, In) */, const float *b /* (O) */,
                   size_t B, size_t In, size_t O);
/* dense_forward for output units [o_lo, o_hi) only (columns of out). */
void dense_forward_units(float *out /* (B, O) */, const float *in /* (B, In) */,
                         const float *w /* (O, In) */, const float *b /* (O) */,
                         size_t B, size_t In, size_t O, size_t o_lo, size_t o_hi);
void dense_backward(float *din /* (B, In) or NULL */, float *dw /* (O, In) */,
                    float *db /* (O) */, const float *dout /* (B, O) */,
                    const float *in /* (B, In) */, const float *w /* (O, In) */,
                    size_t B, size_t In, size_t O);

/* As dense_backward, but OVERWRITES dw, db and din instead of adding to
 * them (the same values as dense_backward into zeroed buffers), so the
 * caller need not clear them first. */
void dense_backward_set(float *din /* (B, In) or NULL */, float *dw /* (O, In) */,
                        float *db /* (O) */, const float *dout /* (B, O) */,
                        const float *in /* (B, In) */, const float *w /* (O, In) */,
                        size_t B, size_t In, size_t O);

/* dense_backward_set split in two, so that threads can share one layer's
 * backward without partial sums: the weight and bias gradients of output
 * units [o_lo, o_hi), and the input gradient of inputs [i_lo, i_hi)
 * (columns of din), both over the whole batch.  Only those rows of dw and
 * db, and columns of din, are written.  Each thread then packs only its
 * share of W for OpenBLAS, instead of all of it.  The bias gradient has
 * the bits dense_backward_set computes; the products agree with it to
 * rounding (OpenBLAS may order a block's sums differently from the whole
 * matrix's). */
void dense_backward_weights_set(float *dw /* (O, In) */, float *db /* (O) */,
                                const float *dout /* (B, O) */,
                                const float *in /* (B, In) */,
                                size_t B, size_t In, size_t O, size_t o_lo, size_t o_hi);
void dense_backward_input_set(float *din /* (B, In) */, const float *dout /* (B, O) */,
                              const float *w /* (O, In) */, size_t B, size_t In, size_t O,
                              size_t i_lo, size_t i_hi);

/* ---- conv2d: im2col + sgemm, zero padding -------------------------------- */
typedef struct conv2d_shape {
    size_t B, C, H, W;    /* input */
    size_t OC, K;         /* filters: (OC, C, K, K) */
    size_t stride, pad;
    size_t OH, OW;        /* output, filled by conv2d_shape_init */
} conv2d_shape;

/* Validates sizes (all > 0, K <= H+2pad and W+2pad, no size_t overflow in any
 * buffer size) and computes OH = (H + 2pad - K)/stride + 1, likewise OW. */
int conv2d_shape_init(conv2d_shape *s, size_t B, size_t C, size_t H, size_t W,
                      size_t OC, size_t K, size_t stride, size_t pad, db_err *e);
/* Floats of scratch that conv2d_forward / conv2d_backward need. */
size_t conv2d_work_floats(const conv2d_shape *s);
void conv2d_forward(float *out /* (B, OC, OH, OW) */,
                    const float *in /* (B, C, H, W) */,
                    const float *w /* (OC, C, K, K) */, const float *b /* (OC) */,
                    const conv2d_shape *s, float *work);
/* conv2d_forward followed by relu_forward, in one pass over the output
 * (the pre-activation values are never stored). */
void conv2d_forward_relu(float *out /* (B, OC, OH, OW) */,
                         const float *in /* (B, C, H, W) */,
                         const float *w /* (OC, C, K, K) */, const float *b /* (OC) */,
                         const conv2d_shape *s, float *work);
void conv2d_backward(float *din /* (B, C, H, W) or NULL */,
                     float *dw /* (OC, C, K, K) */, float *db /* (OC) */,
                     const float *dout /* (B, OC, OH, OW) */,
                     const float *in /* (B, C, H, W) */,
                     const float *w /* (OC, C, K, K) */,
                     const conv2d_shape *s, float *work);
/* conv2d_backward into din, dw, db it overwrites (no zeroing by the caller);
 * identical results to zeroing them and calling conv2d_backward. */
void conv2d_backward_set(float *din /* (B, C, H, W) or NULL */,
                         float *dw /* (OC, C, K, K) */, float *db /* (OC) */,
                         const float *dout /* (B, OC, OH, OW) */,
                         const float *in /* (B, C, H, W) */,
                         const float *w /* (OC, C, K, K) */,
                         const conv2d_shape *s, float *work);
/* Overwrites din (no zeroing by the caller) and adds to dw, db: the
 * backward of a batch done in chunks of examples, the first chunk with
 * conv2d_backward_set, the others with this. */
void conv2d_backward_set_din(float *din /* (B, C, H, W) or NULL */,
                             float *dw /* (OC, C, K, K) */, float *db /* (OC) */,
                             const float *dout /* (B, OC, OH, OW) */,
                             const float *in /* (B, C, H, W) */,
                             const float *w /* (OC, C, K, K) */,
                             const conv2d_shape *s, float *work);
/* The weight and bias gradients of a conv whose output goes through a ReLU
 * and a max-pool, straight from the gradient g at the pool's output: the
 * pool routes g[i] to conv output argmax[i] where the pooled value pout[i]
 * is > 0 (as maxpool_backward_relu_set does), so only those outputs, at
 * most one per window, enter the sums, and the conv's output gradient is
 * never formed (a first layer needs nothing else; conv2d_backward_input_set
 * gives the input gradient).  Outputs with a zero gradient are skipped: the
 * same sums while in is finite.  Overwrites dw and db when set, adds to
 * them otherwise.  Needs conv2d_pooled_suits (stride 1, K <= 8) and
 * conv2d_pooled_work_floats of scratch. */
int conv2d_pooled_suits(const conv2d_shape *s);
size_t conv2d_pooled_work_floats(const conv2d_shape *s);
void conv2d_pooled_weights(float *dw /* (OC, C, K, K) */, float *db /* (OC) */,
                           const float *g /* (B, OC, pohw) */,
                           const uint32_t *argmax /* (B, OC, pohw) */,
                           const float *pout /* (B, OC, pohw) */, size_t pohw,
                           const float *in /* (B, C, H, W) */,
                           const conv2d_shape *s, float *work, int set);
/* The input gradient alone, overwritten: conv2d_backward_set without dw and
 * db. */
void conv2d_backward_input_set(float *din /* (B, C, H, W) */,
                               const float *dout /* (B, OC, OH, OW) */,
                               const float *in /* (B, C, H, W) */,
                               const float *w /* (OC, C, K, K) */,
                               const conv2d_shape *s, float *work);
/* Stride-1 layers with at least 64 output pixels (and, below 128 taps
 * C*K*K, output rows of at least 12) run on direct AVX2/FMA kernels when
 * the CPU has them (kernels/convdirect.h), elsewhere on im2col + sgemm; the
 * two agree to rounding.  on = 0 forces im2col + sgemm everywhere (tests,
 * A/B benchmarks).  Call it before sizing scratch with conv2d_work_floats
 * (the two paths need different amounts) and before any thread runs a
 * conv2d function.  Returns the previous setting. */
int conv2d_set_direct(int on);
/* 0: the layer runs on im2col + sgemm; 1: on the direct kernels, but for
 * its input gradient (sgemm + col2im); 2: wholly on the direct kernels. */
int conv2d_is_direct(const conv2d_shape *s);
/* What the layers the direct kernels suit run on here:
 * "direct-avx2+winograd", "direct-avx2" (conv2d_set_winograd(0)) or
 * "im2col-sgemm" (no AVX2/FMA, or conv2d_set_direct(0)). */
const char *conv2d_kernels(void);

/* Of the direct layers, those with 5x5 filters and pad <= 4 run their
 * forward pass and input gradient as Winograd F(2x2, 5x5) (36 products
 * per four outputs instead of 100; results agree with the direct sums to
 * rounding, slightly larger than theirs).  on = 0 keeps them on the direct
 * kernels; the same rules as conv2d_set_direct apply.  Returns the
 * previous setting. */
int conv2d_set_winograd(int on);
int conv2d_is_winograd(const conv2d_shape *s);
/* Winograd layers transform their filters before each pass; a caller that
 * runs a layer in chunks can do it once: conv2d_prep_floats (0 for a layer
 * that needs none) of prep, filled by conv2d_prep_forward for
 * conv2d_forward_relu_prep, by conv2d_prep_input for
 * conv2d_backward_input_set_prep.  With prep NULL these are
 * conv2d_forward_relu and conv2d_backward_input_set; the results are the
 * same bits either way. */
size_t conv2d_prep_floats(const conv2d_shape *s);
void conv2d_prep_forward(float *prep, const float *w /* (OC, C, K, K) */,
                         const conv2d_shape *s);
void conv2d_prep_input(float *prep, const float *w /* (OC, C, K, K) */,
                       const conv2d_shape *s);
void conv2d_forward_relu_prep(float *out /* (B, OC, OH, OW) */,
                              const float *in /* (B, C, H, W) */,
                              const float *w /* (OC, C, K, K) */, const float *prep,
                              const float *b /* (OC) */, const conv2d_shape *s,
                              float *work);
void conv2d_backward_input_set_prep(float *din /* (B, C, H, W) */,
                                    const float *dout /* (B, OC, OH, OW) */,
                                    const float *in /* (B, C, H, W) */,
                                    const float *w /* (OC, C, K, K) */,
                                    const float *prep, const conv2d_shape *s,
                                    float *work);

/* ---- max-pool with kernel, stride, padding ------------------------------- */
/* Padded positions never win (they act as -infinity).  Windows may overlap
 * (3x3 stride 2).  argmax stores, per output, the flat index h*W + w of the
 * winning input within its (b, c) plane; backward routes gradient there. */
typedef struct pool_shape {
    size_t B, C, H, W;
    size_t K, stride, pad;
    size_t OH, OW;        /* filled by pool_shape_init */
} pool_shape;

/* OH = (H + 2pad - K)/stride + 1 (floor), requires pad < K and every window
 * to contain at least one real input. */
int pool_shape_init(pool_shape *s, size_t B, size_t C, size_t H, size_t W,
                    size_t K, size_t stride, size_t pad, db_err *e);
void maxpool_forward(float *out /* (B, C, OH, OW) */,
                     uint32_t *argmax /* (B, C, OH, OW) */,
                     const float *in /* (B, C, H, W) */, const pool_shape *s);
void maxpool_backward(float *din /* (B, C, H, W) */,
                      const float *dout /* (B, C, OH, OW) */,
                      const uint32_t *argmax /* (B, C, OH, OW) */,
                      const pool_shape *s);
/* maxpool_backward into a din it overwrites (no zeroing by the caller):
 * din = 0, then the same += in the same order, so the result is identical
 * to a memset followed by maxpool_backward. */
void maxpool_backward_set(float *din /* (B, C, H, W) or NULL */,
                          const float *dout /* (B, C, OH, OW) */,
                          const uint32_t *argmax /* (B, C, OH, OW) */,
                          const pool_shape *s);

/* maxpool_backward_set over a ReLU's output, with the ReLU's backward done
 * too (din is the gradient below the ReLU): the pooled value out[i] is the
 * ReLU output at argmax[i], so every gradient that reaches an input whose
 * ReLU output is not > 0 would be zeroed, and is skipped instead.  The same
 * bits as maxpool_backward_set followed by relu_backward_inplace, with one
 * pass over din instead of two. */
void maxpool_backward_relu_set(float *din /* (B, C, H, W) or NULL */,
                               const float *dout /* (B, C, OH, OW) */,
                               const uint32_t *argmax /* (B, C, OH, OW) */,
                               const float *out /* (B, C, OH, OW) */,
                               const pool_shape *s);

/* ---- ReLU ---------------------------------------------------------------- */
void relu_forward(float *out, const float *in, size_t n);
/* din += dout where out > 0 */
void relu_backward(float *din, const float *dout, const float *out, size_t n);
/* In place: d = out > 0 ? d : 0 (the gradient below a ReLU, written over the
 * gradient above it). */
void relu_backward_inplace(float *d, const float *out, size_t n);

/* ---- logistic sigmoid ------------------------------------------------------ *
 * out = 1 / (1 + exp(-in)) with simd.h's vector exp (about 1 ulp; the same
 * bits for an element whatever its position).  The derivative is taken from
 * the output: y (1 - y). */
void sigmoid_forward(float *out, const float *in, size_t n);
/* din += dout * out * (1 - out); a NULL din does nothing. */
void sigmoid_backward(float *din, const float *dout, const float *out, size_t n);
/* In place: d = d * out * (1 - out). */
void sigmoid_backward_inplace(float *d, const float *out, size_t n);

/* ---- softmax cross-entropy (mean over the batch) ------------------------- */
/* Numerically stable (max subtracted).  Writes probs, returns the mean loss
 * over B examples, and stores in *correct the number of examples whose argmax
 * (first maximum) equals the label.  Labels must be < K (caller validates). */
double softmax_xent_forward(float *probs /* (B, K) */, size_t *correct,
                            const float *logits /* (B, K) */,
                            const uint8_t *labels /* (B) */, size_t B, size_t K);
/* dlogits += (probs - onehot(label)) / B */
void softmax_xent_backward(float *dlogits /* (B, K) */,
                           const float *probs /* (B, K) */,
                           const uint8_t *labels /* (B) */, size_t B, size_t K);

/* ---- embedding ------------------------------------------------------------ */
/* out[b, t, :] = table[tok[b, t], :] for t < len[b]; zero for t >= len[b].
 * Tokens must be < V (caller validates). */
void embedding_forward(float *out /* (B, T, D) */,
                       const uint8_t *tok /* (B, T) */,
                       const uint32_t *len /* (B) */,
                       const float *table /* (V, D) */,
                       size_t B, size_t T, size_t D);
/* dtable[tok[b,t], :] += dout[b, t, :] for t < len[b] */
void embedding_backward(float *dtable /* (V, D) */,
                        const float *dout /* (B, T, D) */,
                        const uint8_t *tok /* (B, T) */,
                        const uint32_t *len /* (B) */,
                        size_t B, size_t T, size_t D);

/* ---- GRU (one layer, PyTorch gate order r, z, n) ------------------------- *
 *   r = sigmoid(Wx_r x + bx_r + Wh_r h + bh_r)
 *   z = sigmoid(Wx_z x + bx_z + Wh_z h + bh_z)
 *   n = tanh   (Wx_n x + bx_n + r * (Wh_n h + bh_n))
 *   h' = (1 - z) * n + z * h
 * h starts at 0.  For example b, steps t >= len[b] do not update its state
 * (h stays as it was), so hfinal[b] is the state after len[b] steps.
 * Lengths beyond T count as T; a length of 0 leaves the state 0.
 * Wx is (3H, D) and Wh (3H, H), rows in the order r, z, n. */
typedef struct gru_shape {
    size_t B, T, D, H;
    int rdrop;            /* room for recurrent dropout in cache and work:
                           * 0 from gru_shape_init, set by gru_shape_set_rdrop */
} gru_shape;

/* Validates sizes (all > 0, no size_t overflow, B*T, 3H and D within the
 * BLAS int range) and sets rdrop = 0. */
int gru_shape_init(gru_shape *s, size_t B, size_t T, size_t D, size_t H,
                   db_err *e);
/* on != 0: gru_cache_floats and gru_work_floats grow by T*B*H (the masked
 * states) and B*H floats, which gru_forward_ex / gru_backward_ex need to be
 * given an rmask.  Returns -1 (s unchanged) if the larger sizes overflow
 * size_t.  Call it after gru_shape_init and before sizing buffers; a shape
 * with rdrop set still runs without a mask, with the same results as
 * without the flag. */
int gru_shape_set_rdrop(gru_shape *s, int on, db_err *e);
/* Floats of cache that forward fills and backward reads (everything backward
 * needs from forward lives here, nothing is hidden). */
size_t gru_cache_floats(const gru_shape *s);
/* Floats of scratch for backward. */
size_t gru_work_floats(const gru_shape *s);
void gru_forward(float *hfinal /* (B, H) */, float *cache,
                 const float *x /* (B, T, D) */, const uint32_t *len /* (B) */,
                 const float *wx /* (3H, D) */, const float *wh /* (3H, H) */,
                 const float *bx /* (3H) */, const float *bh /* (3H) */,
                 const gru_shape *s);
void gru_backward(float *dx /* (B, T, D) or NULL */, float *dwx, float *dwh,
                  float *dbx, float *dbh, const float *dhfinal /* (B, H) */,
                  const float *cache, const float *x, const uint32_t *len,
                  const float *wx, const float *wh, const gru_shape *s,
                  float *work);

/* gru_forward / gru_backward with the two additions a stack of GRU layers
 * needs (as PyTorch's nn.GRU(num_layers=L) on packed sequences).  With
 * hseq, dhseq and rmask NULL they are gru_forward and gru_backward, to the
 * bit (those two are these with NULLs).
 *
 * Output sequence: hseq, when not NULL, receives row (b, t) = the state
 * after step t for t < len[b], and 0 for t >= len[b] (what the layer
 * above takes as its x, with the same len).  hfinal is written either way.
 * In backward, dhseq (NULL: none) is the loss gradient at each row of hseq
 * (rows t >= len[b] are ignored); it adds to the state gradient at that
 * step, as dhfinal does at the last one.  dhfinal may be NULL (a layer
 * whose final state the loss does not use).  hseq and dhseq must not
 * overlap the other buffers.
 *
 * Recurrent (variational) dropout (Gal & Ghahramani 2016; Keras'
 * recurrent_dropout): rmask (B, H) bytes, 1 kept / 0 dropped, one mask per
 * sequence used at every step, rrate the DROP probability (already checked
 * with dropout_check_rate), m = rmask / (1 - rrate).  The recurrent
 * projections of all three gates see h * m:
 *   r, z: Wh_{r,z} (h * m) + bh_{r,z};   n: r * (Wh_n (h * m) + bh_n)
 * while the carry term z * h of h' uses the unmasked h.  Draw rmask with
 * dropout_draw_mask(rmask, B*H, rrate, rng) once per batch; backward must
 * be given the same rmask and rrate as forward.  NULL (evaluation, or rate
 * 0) switches it off.  A non-NULL rmask needs a shape with
 * gru_shape_set_rdrop(s, 1) before the cache and work were sized.  The mask
 * is applied outside the gate loops (an exact multiply), so the results do
 * not depend on AVX2 any more than gru_forward's do. */
void gru_forward_ex(float *hfinal /* (B, H) */, float *hseq /* (B, T, H) or NULL */,
                    float *cache, const float *x /* (B, T, D) */,
                    const uint32_t *len /* (B) */,
                    const uint8_t *rmask /* (B, H) or NULL */, float rrate,
                    const float *wx /* (3H, D) */, const float *wh /* (3H, H) */,
                    const float *bx /* (3H) */, const float *bh /* (3H) */,
                    const gru_shape *s);
void gru_backward_ex(float *dx /* (B, T, D) or NULL */, float *dwx /* (3H, D) */,
                     float *dwh /* (3H, H) */, float *dbx /* (3H) */,
                     float *dbh /* (3H) */,
                     const float *dhfinal /* (B, H) or NULL */,
                     const float *dhseq /* (B, T, H) or NULL */,
                     const float *cache, const float *x /* (B, T, D) */,
                     const uint32_t *len /* (B) */,
                     const uint8_t *rmask /* (B, H) or NULL */, float rrate,
                     const float *wx /* (3H, D) */, const float *wh /* (3H, H) */,
                     const gru_shape *s, float *work);

/* ---- dropout (inverted) --------------------------------------------------- *
 * The input is B examples of G groups of S contiguous floats; one draw per
 * (example, group) decides the whole group:
 *   element-wise:  G = features,  S = 1
 *   channel-wise:  G = channels,  S = H*W       (Tompson et al. 2015)
 *   per-position:  G = positions, S = embedding (whole token vector)
 * A kept group is scaled by 1/(1-rate).  mask[b*G + g] is 1 (kept) or 0.
 * rate is the DROP probability (retention p = 1 - rate).  rate 0 and
 * training == 0 are exact identities (out = in bit for bit, mask all 1, no
 * random numbers consumed). */
enum dropout_mode { DROPOUT_ELEMENT = 0, DROPOUT_CHANNEL = 1, DROPOUT_POSITION = 2,
                    /* the sequence modes of docs/PLACEMENTS.md: locked over
                     * time (dropout_locked_*), and recurrent, on a GRU's
                     * state inside the recurrence (gru_forward_ex's rmask) */
                    DROPOUT_LOCKED = 3, DROPOUT_RECURRENT = 4,
                    /* dropout's relatives (issue 21, docs/MODERN.md), as
                     * modes of a dropout layer: Gaussian noise per element
                     * (dropout_gauss_*), DropConnect on the weights of the
                     * dense layer right after it (dropconnect_*), DropBlock
                     * on a conv map (dropblock_*) */
                    DROPOUT_GAUSSIAN = 5, DROPOUT_DROPCONNECT = 6,
                    DROPOUT_DROPBLOCK = 7 };
#define DROPOUT_NMODES 8

/* 0 if 0 <= rate < 1 (and not NaN), else -1 naming the value. */
int dropout_check_rate(double rate, db_err *e);
/* Draws B*G mask bytes from rng and applies them.  Returns -1 for a rate
 * outside [0, 1) without touching out, mask or rng. */
int dropout_forward(float *out /* (B, G, S) */, uint8_t *mask /* (B, G) */,
                    const float *in /* (B, G, S) */, size_t B, size_t G,
                    size_t S, float rate, int training, db_rng *rng, db_err *e);
/* dropout_forward in two steps, so that threads can share the second: the
 * n = B*G mask bytes drawn from rng (the same stream positions), then the
 * mask applied to any slice of examples (B rows of mask, in and out).
 * rate must already be checked and > 0. */
void dropout_draw_mask(uint8_t *mask, size_t n, float rate, db_rng *rng);
void dropout_apply(float *out /* (B, G, S) */, const uint8_t *mask /* (B, G) */,
                   const float *in /* (B, G, S) */, size_t B, size_t G, size_t S,
                   float rate);
/* din += dout * mask / (1 - rate), with the mask forward drew. */
void dropout_backward(float *din, const float *dout, const uint8_t *mask,
                      size_t B, size_t G, size_t S, float rate);

/* In place: d = mask ? d / (1 - rate) : 0, the gradient below the dropout
 * written over the gradient above it. */
void dropout_backward_inplace(float *d /* (B, G, S) */, const uint8_t *mask /* (B, G) */,
                              size_t B, size_t G, size_t S, float rate);

/* ---- locked dropout over time (Gal & Ghahramani 2016; Merity et al. 2018) --
 * On sequences (B, T, D): one draw per (example, feature), the same at
 * every step t, so a dropped feature is dropped for the whole sequence.
 * mask[b*D + d] is 1 (kept) or 0; kept values are scaled by 1/(1-rate),
 * rate the DROP probability.  The mask is B*D bytes drawn as
 * dropout_draw_mask(mask, B*D, rate, rng) (the same stream positions as
 * element-wise dropout over B*D values); the apply and backward functions
 * may then run on any slice of examples (B rows of mask, in and out). */
/* Draws the mask and applies it.  rate 0 and training == 0 are exact
 * identities (out = in bit for bit, mask all 1, no random numbers
 * consumed), as for dropout_forward.  Returns -1 for a rate outside [0, 1)
 * without touching out, mask or rng. */
int dropout_locked_forward(float *out /* (B, T, D) */, uint8_t *mask /* (B, D) */,
                           const float *in /* (B, T, D) */, size_t B, size_t T,
                           size_t D, float rate, int training, db_rng *rng,
                           db_err *e);
/* out[b, t, d] = mask[b, d] ? in[b, t, d] / (1 - rate) : 0 (exactly 0, even
 * for an inf or NaN input).  rate must already be checked. */
void dropout_locked_apply(float *out /* (B, T, D) */, const uint8_t *mask /* (B, D) */,
                          const float *in /* (B, T, D) */, size_t B, size_t T,
                          size_t D, float rate);
/* din += dout * mask / (1 - rate), with the mask forward used; din NULL
 * does nothing. */
void dropout_locked_backward(float *din /* (B, T, D) or NULL */,
                             const float *dout /* (B, T, D) */,
                             const uint8_t *mask /* (B, D) */, size_t B, size_t T,
                             size_t D, float rate);
/* In place: d = mask ? d / (1 - rate) : 0. */
void dropout_locked_backward_inplace(float *d /* (B, T, D) */,
                                     const uint8_t *mask /* (B, D) */, size_t B,
                                     size_t T, size_t D, float rate);

/* ---- Gaussian dropout (Srivastava et al. 2014, section 10) --------------- *
 * Multiplicative noise instead of a Bernoulli mask: every (example, group)
 * of the (B, G, S) layout of dropout_forward gets one factor
 * noise ~ N(1, sigma^2), sigma^2 = rate / (1 - rate), shared by the S floats
 * of the group (S = 1: per element, the paper's form).  rate is the drop
 * probability of the Bernoulli dropout it stands for (retention p = 1 - rate,
 * sigma^2 = (1 - p) / p): the same mean and variance per unit as inverted
 * dropout at that rate.  The noise is unbounded (may be negative) and is kept
 * as one float per group for backward.
 *
 * Draws: noise[2i] and noise[2i+1] come from one Box-Muller pair on two
 * consecutive 64-bit numbers u1, u2 of the stream (53-bit uniforms, as
 * db_rng_uniform_d): r = sqrt(-2 ln(1 - u1)), z0 = r cos(2 pi u2),
 * z1 = r sin(2 pi u2), noise = (float)(1 + sigma z), in double.  An odd
 * count discards the last z1, so the stream advances by 2 * ceil(n / 2)
 * numbers, a function of n alone.  The factors' last bits are those of the
 * C library's log, cos and sin (as db_rng_normal's): the same on one
 * machine, not promised across libm versions. */
/* Draws B*G noise factors and applies them.  rate 0 and training == 0 are
 * exact identities (out = in bit for bit, noise all 1, no random numbers
 * consumed).  Returns -1 for a rate outside [0, 1) without touching out,
 * noise or rng. */
int dropout_gauss_forward(float *out /* (B, G, S) */, float *noise /* (B, G) */,
                          const float *in /* (B, G, S) */, size_t B, size_t G,
                          size_t S, float rate, int training, db_rng *rng, db_err *e);
/* dropout_gauss_forward in two steps, as dropout_draw_mask/dropout_apply:
 * n factors drawn (rate already checked, > 0), then applied to any slice of
 * examples: out = in * noise[group]. */
void dropout_gauss_draw(float *noise, size_t n, float rate, db_rng *rng);
void dropout_gauss_apply(float *out /* (B, G, S) */, const float *noise /* (B, G) */,
                         const float *in /* (B, G, S) */, size_t B, size_t G,
                         size_t S);
/* din += dout * noise (the same noise forward drew); din NULL does nothing. */
void dropout_gauss_backward(float *din /* (B, G, S) or NULL */,
                            const float *dout /* (B, G, S) */,
                            const float *noise /* (B, G) */, size_t B, size_t G,
                            size_t S);
/* In place: d = d * noise. */
void dropout_gauss_backward_inplace(float *d /* (B, G, S) */,
                                    const float *noise /* (B, G) */, size_t B,
                                    size_t G, size_t S);

/* ---- DropConnect on a dense layer (Wan et al. 2013) ----------------------- *
 * A Bernoulli mask on the weight matrix W (O, In) instead of on the
 * activations: W' = W * m / (1 - rate), m (O, In) bytes, 1 kept / 0 dropped,
 * rate the DROP probability.  The dense layer then runs unchanged on W'
 * (dense_forward / dense_backward with w = W'), and the gradient it leaves
 * for W' maps back to W through dropconnect_backward: dW += dW' * m /
 * (1 - rate).  The bias is not masked.
 *
 * One mask per BATCH, shared by every example: a mask per example would need
 * B masked copies of W and B matrix-vector products instead of one GEMM (the
 * paper's own implementation pays that; here it would cost O*In*B bytes of
 * mask and lose the sgemm).  Each step still draws a fresh mask.
 *
 * Evaluation uses W itself: with the inverted scaling E[W'] = W, so W is the
 * mean-field approximation (dropbench does not offer the paper's Gaussian
 * moment-matching inference).  The mask is drawn exactly as dropout_draw_mask(mask,
 * O*In, rate, rng) (the same stream positions). */
/* Draws the mask and forms W' into wm.  rate 0 and training == 0 are exact
 * identities (wm = w bit for bit, mask all 1, no random numbers consumed).
 * Returns -1 for a rate outside [0, 1) without touching wm, mask or rng.
 * wm is caller scratch of O*In floats (not the weights). */
int dropconnect_forward(float *wm /* (O, In) */, uint8_t *mask /* (O, In) */,
                        const float *w /* (O, In) */, size_t O, size_t In,
                        float rate, int training, db_rng *rng, db_err *e);
/* wm = mask ? w / (1 - rate) : 0 (exactly 0 even for an inf or NaN weight)
 * over any n consecutive weights; rate already checked. */
void dropconnect_apply(float *wm, const uint8_t *mask, const float *w, size_t n,
                       float rate);
/* dw += dwm * mask / (1 - rate), dwm the gradient dense_backward gave for
 * W' (caller scratch of O*In floats, zeroed before dense_backward or filled
 * by dense_backward_set; only read here).  dw NULL does nothing. */
void dropconnect_backward(float *dw /* (O, In) */, const float *dwm /* (O, In) */,
                          const uint8_t *mask /* (O, In) */, size_t n, float rate);

/* ---- DropBlock on conv maps (Ghiasi et al. 2018) -------------------------- *
 * For every (example, channel) map of (B, C, H, W), block centres are drawn
 * with probability gamma each over the VALID centre region, and the
 * bh x bw square of every drawn centre is zeroed (bh = min(block, H),
 * bw = min(block, W), as the reference implementation clamps the block to
 * the map).  Centres are valid, as in the reference implementation, where
 * the whole square fits: rows [bh/2, H - (bh-1)/2) (integer division),
 * likewise columns; (H - bh + 1) x (W - bw + 1) centres, and the square of
 * centre (i, j) covers rows [i - bh/2, i + (bh-1)/2] (for an even block one
 * more row above the centre than below, as TF's SAME max-pool).  So every
 * dropped region is a union of whole squares inside the map; none is
 * clipped.
 *   gamma = rate / (bh bw) * (H W) / ((H - bh + 1) (W - bw + 1))
 * (the paper's formula, <= rate): the expected number of dropped units would
 * be rate * H*W if blocks never overlapped; they do, so the dropped fraction
 * is a little below rate (dropblock_expected_rate gives it exactly).
 * After masking, kept units are scaled by count(mask) / count_ones(mask)
 * over the WHOLE batch mask (B*C*H*W units), one scalar per batch, as the
 * reference implementation (percent_ones over the tensor): a per-map factor
 * would be undefined for a fully dropped map and noisy for small maps.  The
 * scale is a constant to backward (it depends on the mask only).  If every
 * unit is dropped the scale is 0 (out all 0).
 *
 * Mask draws: one 32-bit uniform per valid centre, in the order (b, c, i, j)
 * with (i, j) row-major over the valid region, two per 64-bit number of the
 * stream (low half first; the high half of the last number is discarded when
 * the count is odd); centre dropped iff u < round(gamma 2^32).  This is the
 * draw of dropout_draw_mask(seed, B*C*nc, gamma, rng), nc the valid centres
 * per map, with seed 0 marking a drawn centre.  mask is B*C*H*W bytes, 1
 * kept / 0 dropped, kept for backward with the scale. */
/* gamma for the sizes (block clamped as above); block >= 1, H, W >= 1. */
double dropblock_gamma(size_t H, size_t W, size_t block, double rate);
/* The expected dropped fraction for these sizes and gamma: the mean over
 * the map of 1 - (1 - gamma)^k, k the number of valid centres whose square
 * covers the unit. */
double dropblock_expected_rate(size_t H, size_t W, size_t block, double rate);
/* Draws the mask and applies it; *scale receives the batch scale.  rate 0 and
 * training == 0 are exact identities (out = in bit for bit, mask all 1,
 * *scale 1, no random numbers consumed).  Returns -1 (nothing touched) for a
 * rate outside [0, 1) or block 0. */
int dropblock_forward(float *out /* (B, C, H, W) */, uint8_t *mask /* (B, C, H, W) */,
                      float *scale, const float *in /* (B, C, H, W) */, size_t B,
                      size_t C, size_t H, size_t W, size_t block, float rate,
                      int training, db_rng *rng, db_err *e);
/* dropblock_forward in two steps: the mask drawn for the whole batch
 * (rate checked and > 0, block >= 1), returning the scale, then applied to
 * any n consecutive units (a slice of examples) with that scale:
 * out = mask ? in * scale : 0 (exactly 0 even for an inf or NaN input). */
float dropblock_draw_mask(uint8_t *mask /* (B, C, H, W) */, size_t B, size_t C,
                          size_t H, size_t W, size_t block, float rate,
                          db_rng *rng);
void dropblock_apply(float *out, const uint8_t *mask, const float *in, size_t n,
                     float scale);
/* din += dout * mask * scale (mask and scale from forward); din NULL does
 * nothing. */
void dropblock_backward(float *din /* (B, C, H, W) or NULL */,
                        const float *dout /* (B, C, H, W) */,
                        const uint8_t *mask /* (B, C, H, W) */, size_t n, float scale);
/* In place: d = mask ? d * scale : 0. */
void dropblock_backward_inplace(float *d, const uint8_t *mask, size_t n, float scale);

/* ---- batch normalisation (Ioffe & Szegedy 2015; PyTorch semantics) -------- *
 * On (B, C, S): per channel c, over the B*S values of (b, c, s):
 *   conv maps (B, C, H, W): S = H*W (BatchNorm2d);  dense (B, N): C = N, S = 1
 *   (BatchNorm1d).
 * Training: mean and BIASED variance var over the n = B*S values,
 *   out = gamma * (in - mean) / sqrt(var + eps) + beta,
 * and the running estimates move with momentum m (PyTorch's default 0.1):
 *   run_mean = (1 - m) run_mean + m mean
 *   run_var  = (1 - m) run_var  + m var * n / (n - 1)   (UNBIASED variance)
 * which is why training needs n >= 2 (PyTorch refuses one value per channel).
 * Evaluation: out = gamma * (in - run_mean) / sqrt(run_var + eps) + beta,
 * element by element, so an example's output does not depend on the rest
 * of the batch; running stats are not touched.
 * Initial values as PyTorch: gamma 1, beta 0, run_mean 0, run_var 1.
 *
 * Precision and determinism: sums run in double, every channel's in a fixed
 * order (b, then s, in four interleaved partial sums combined in a fixed
 * order), the variance in a second pass around the mean; mean and
 * 1/sqrt(var + eps) are then rounded to float, and those floats are what
 * forward normalises with and backward reads.  The results are a function
 * of the inputs alone: not of the thread count, of a split into channel
 * ranges, or of the CPU features.
 *
 * cache: batchnorm_cache_floats(C) = 2C floats, filled by training forward:
 * cache[c] = mean, cache[C + c] = 1/sqrt(var + eps).  Evaluation does not
 * touch it (it may be NULL).  out must not overlap in. */
#define BATCHNORM_EPS 1e-5f
#define BATCHNORM_MOMENTUM 0.1f
size_t batchnorm_cache_floats(size_t C);
/* 0 if eps > 0, 0 <= momentum <= 1 (both finite) and, when training,
 * B*S >= 2; else -1 with a message naming the value. */
int batchnorm_check(size_t B, size_t S, float eps, float momentum, int training,
                    db_err *e);
/* Checks (batchnorm_check) and runs forward over all channels; returns -1
 * with nothing touched if the check fails. */
int batchnorm_forward(float *out /* (B, C, S) */, float *cache /* 2C or NULL */,
                      float *run_mean /* (C) */, float *run_var /* (C) */,
                      const float *in /* (B, C, S) */, const float *gamma /* (C) */,
                      const float *beta /* (C) */, size_t B, size_t C, size_t S,
                      float eps, float momentum, int training, db_err *e);
/* Forward for channels [c_lo, c_hi) only (their out, cache and running
 * entries), arguments already checked: threads can share a layer by
 * channel ranges, with the bits of batchnorm_forward.  relu: out is then
 * relu_forward of that output, to the bit, in the same pass (a ReLU right
 * above needs no pass of its own). */
void batchnorm_forward_channels(float *out /* (B, C, S) */, float *cache /* 2C or NULL */,
                                float *run_mean /* (C) */, float *run_var /* (C) */,
                                const float *in /* (B, C, S) */,
                                const float *gamma /* (C) */, const float *beta /* (C) */,
                                size_t B, size_t C, size_t S, float eps, float momentum,
                                int training, int relu, size_t c_lo, size_t c_hi);
/* Training-mode backward (batch statistics depend on the input), with the
 * cache training forward filled and the same in and gamma.  With
 * xhat = (in - mean) * istd, per channel over its n values:
 *   dbeta  += sum(dout)
 *   dgamma += sum(dout * xhat)
 *   din     = gamma istd / n * (n dout - sum(dout) - xhat sum(dout xhat))
 * sums in double.  ACCUMULATES into dgamma and dbeta (the convention) but
 * OVERWRITES din, as +0 + value (the bits an accumulation into zeros gives:
 * the caller need not zero it, and it is not read); din NULL skips the
 * input gradient. */
void batchnorm_backward(float *din /* (B, C, S) or NULL */, float *dgamma /* (C) */,
                        float *dbeta /* (C) */, const float *dout /* (B, C, S) */,
                        const float *in /* (B, C, S) */, const float *cache /* 2C */,
                        const float *gamma /* (C) */, size_t B, size_t C, size_t S);
/* batchnorm_backward for channels [c_lo, c_hi) only. */
void batchnorm_backward_channels(float *din /* (B, C, S) or NULL */,
                                 float *dgamma /* (C) */, float *dbeta /* (C) */,
                                 const float *dout /* (B, C, S) */,
                                 const float *in /* (B, C, S) */,
                                 const float *cache /* 2C */, const float *gamma /* (C) */,
                                 size_t B, size_t C, size_t S, size_t c_lo, size_t c_hi);

/* ---- optimiser ------------------------------------------------------------ */
/* For each i: g = grad[i] + wd * w[i]; v[i] = mu * v[i] + g; w[i] -= lr * v[i] */
void sgd_momentum_step(float *w, float *v, const float *grad, size_t n,
                       float lr, float mu, float wd);
/* The update of Hinton et al. 2012 (appendix A) and Srivastava et al. 2014:
 * for each i: g = grad[i] + wd * w[i]; dw[i] = mu * dw[i] - (1 - mu) * lr * g;
 * w[i] += dw[i]  (dw starts at 0). */
void sgd_hinton_step(float *w, float *dw, const float *grad, size_t n,
                     float lr, float mu, float wd);
/* Rescales each row of w (O rows of In) whose L2 norm exceeds c to norm c
 * (Srivastava et al. 2014).  c <= 0 disables. */
void maxnorm_apply(float *w /* (O, In) */, size_t O, size_t In, float c);
/* Sum of squares in double (for gradient-norm clipping). */
double sumsq(const float *x, size_t n);
void scale_inplace(float *x, size_t n, float a);

/* ---- instruction-set paths (issue 20) ---------------------------------- */

/* Which vector code the kernels run.  One binary runs everywhere: the
 * AVX2 and AVX-512 functions are compiled with target attributes and
 * chosen at run time.  The AVX-512 functions compute every output with
 * the same sequence of operations as the AVX2 ones (wider vectors over
 * independent outputs, nothing reassociated), so the two paths give the
 * same bits (tests/test_simd.c).  DB_SIMD_SCALAR is the x86-64 baseline:
 * no direct convolution kernels (im2col + sgemm, other rounding), 4-wide
 * SSE GRU gates and dropout (the same bits as the wider ones). */
typedef enum db_simd { DB_SIMD_SCALAR = 0, DB_SIMD_AVX2 = 1, DB_SIMD_AVX512 = 2 } db_simd;
/* The widest path this CPU runs: AVX-512 needs AVX-512F/BW/DQ/VL besides
 * AVX2 and FMA; AVX2 needs AVX2 and FMA. */
db_simd db_simd_best(void);
/* Selects the path of every kernel: once at start-up, before any thread
 * runs a kernel and before scratch is sized (conv2d_work_floats depends on
 * it).  -1 when the CPU cannot run it.  Until called: db_simd_best(). */
int db_simd_set(db_simd p);
db_simd db_simd_get(void);
/* "scalar", "avx2", "avx512". */
const char *db_simd_name(db_simd p);
/* The inverse of db_simd_name; -1 for anything else. */
int db_simd_parse(const char *name, db_simd *p);

#endif
