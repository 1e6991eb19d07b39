/* dense.c - fully connected layer, out = in * W^T + b, through cblas_sgemm. */
#include "kernels.h"
#include "simd.h"

#include <cblas.h>
#include <string.h>

/* cblas takes int dimensions; callers keep B, In, O below INT_MAX (every layer
 * dropbench builds is far smaller). */

void dense_forward(float *out /* (B, O) */, const float *in /* (B, In) */,
                   const float *w /* (O, In) */, const float *b /* (O) */,
                   size_t B, size_t In, size_t O)
{
    dense_forward_units(out, in, w, b, B, In, O, 0, O);
}

void dense_forward_units(float *out /* (B, O) */, const float *in /* (B, In) */,
                         const float *w /* (O, In) */, const float *b /* (O) */,
                         size_t B, size_t In, size_t O, size_t o_lo, size_t o_hi)
{
    if (o_hi > O)
        o_hi = O;
    if (B == 0 || o_lo >= o_hi)
        return;
    const size_t no = o_hi - o_lo;
    /* Bias first, then sgemm with beta = 1 adds the product on top: one pass
     * over out instead of a second sweep after the product. */
    for (size_t n = 0; n < B; n++)
        memcpy(out + n * O + o_lo, b + o_lo, no * sizeof *out);
    if (In == 0)
        return;
    /* out[:, o_lo:o_hi] (B, no) += in (B, In) * W[o_lo:o_hi]^T (In, no) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)no, (int)In,
                1.0f, in, (int)In, w + o_lo * In, (int)In, 1.0f, out + o_lo, (int)O);
}

void dense_backward(float *din /* (B, In) or NULL */, float *dw /* (O, In) */,
                    float *db /* (O) */, const float *dout /* (B, O) */,
                    const float *in /* (B, In) */, const float *w /* (O, In) */,
                    size_t B, size_t In, size_t O)
{
    if (B == 0 || O == 0)
        return;
    for (size_t n = 0; n < B; n++) {
        const float *d = dout + n * O;
        for (size_t o = 0; o < O; o++)
            db[o] += d[o];
    }
    if (In == 0)
        return;
    /* dW (O, In) += dout^T (O, B) * in (B, In) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)O, (int)In, (int)B,
                1.0f, dout, (int)O, in, (int)In, 1.0f, dw, (int)In);
    /* din (B, In) += dout (B, O) * W (O, In) */
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)In,
                    (int)O, 1.0f, dout, (int)O, w, (int)In, 1.0f, din, (int)In);
}

void dense_backward_weights_set(float *dw /* (O, In) */, float *db /* (O) */,
                                const float *dout /* (B, O) */,
                                const float *in /* (B, In) */,
                                size_t B, size_t In, size_t O, size_t o_lo, size_t o_hi)
{
    if (o_hi > O)
        o_hi = O;
    if (o_lo >= o_hi)
        return;
    const size_t no = o_hi - o_lo;
    float *dwr = dw + o_lo * In, *dbr = db + o_lo;
    if (B == 0) {
        memset(dwr, 0, no * In * sizeof *dw);
        memset(dbr, 0, no * sizeof *db);
        return;
    }
    /* Row 0 copied, then rows 1.. added in order: the same sums as
     * accumulating every row into zeros. */
    memcpy(dbr, dout + o_lo, no * sizeof *db);
    for (size_t n = 1; n < B; n++) {
        const float *d = dout + n * O + o_lo;
        size_t o = 0;
        for (; o + 4 <= no; o += 4)
            v4f_store(dbr + o, v4f_load(dbr + o) + v4f_load(d + o));
        for (; o < no; o++)
            dbr[o] += d[o];
    }
    if (In == 0)
        return;
    /* dW rows (no, In) = dout[:, o_lo:o_hi]^T (no, B) * in (B, In), as
     * zeros plus the product with beta = 1: the same bits as beta = 0,
     * whose separate scaling pass in OpenBLAS (sgemm_beta: 3.9% of a
     * 2-thread mnist-mlp profile, against 2.8% for the memsets) is slower
     * than a memset. */
    memset(dwr, 0, no * In * sizeof *dwr);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)no, (int)In, (int)B,
                1.0f, dout + o_lo, (int)O, in, (int)In, 1.0f, dwr, (int)In);
}

void dense_backward_input_set(float *din /* (B, In) */, const float *dout /* (B, O) */,
                              const float *w /* (O, In) */, size_t B, size_t In, size_t O,
                              size_t i_lo, size_t i_hi)
{
    if (i_hi > In)
        i_hi = In;
    if (B == 0 || i_lo >= i_hi)
        return;
    const size_t ni = i_hi - i_lo;
    if (O == 0) {
        for (size_t n = 0; n < B; n++)
            memset(din + n * In + i_lo, 0, ni * sizeof *din);
        return;
    }
    /* din[:, i_lo:i_hi] (B, ni) = dout (B, O) * W[:, i_lo:i_hi] (O, ni),
     * zeros plus the product as above */
    for (size_t n = 0; n < B; n++)
        memset(din + n * In + i_lo, 0, ni * sizeof *din);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)ni, (int)O,
                1.0f, dout, (int)O, w + i_lo, (int)In, 1.0f, din + i_lo, (int)In);
}

void dense_backward_set(float *din /* (B, In) or NULL */, float *dw /* (O, In) */,
                        float *db /* (O) */, const float *dout /* (B, O) */,
                        const float *in /* (B, In) */, const float *w /* (O, In) */,
                        size_t B, size_t In, size_t O)
{
    if (O == 0)
        return;
    dense_backward_weights_set(dw, db, dout, in, B, In, O, 0, O);
    if (din)
        dense_backward_input_set(din, dout, w, B, In, O, 0, In);
}
