/* dense.c - fully connected layer, out = in * W^T + b, through cblas_sgemm. */
#include "kernels.h"

#include <cblas.h>
#include <string.h>

/* OpenBLAS's cblas.h pulls in <complex.h>, whose macro I would clobber the
 * input-size parameter below. */
#undef I

/* cblas takes int dimensions; callers keep B, I, O below INT_MAX (every layer
 * dropbench builds is far smaller). */

void dense_forward(float *out /* (B, O) */, const float *in /* (B, I) */,
                   const float *w /* (O, I) */, const float *b /* (O) */,
                   size_t B, size_t I, size_t O)
{
    if (B == 0 || O == 0)
        return;
    /* Bias first, then sgemm with beta = 1 adds the product on top: one pass
     * over out instead of a second sweep after the product. */
    for (size_t n = 0; n < B; n++)
        memcpy(out + n * O, b, O * sizeof *out);
    if (I == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)O, (int)I,
                1.0f, in, (int)I, w, (int)I, 1.0f, out, (int)O);
}

void dense_backward(float *din /* (B, I) or NULL */, float *dw /* (O, I) */,
                    float *db /* (O) */, const float *dout /* (B, O) */,
                    const float *in /* (B, I) */, const float *w /* (O, I) */,
                    size_t B, size_t I, size_t O)
{
    if (B == 0 || O == 0)
        return;
    for (size_t n = 0; n < B; n++) {
        const float *d = dout + n * O;
        for (size_t o = 0; o < O; o++)
            db[o] += d[o];
    }
    if (I == 0)
        return;
    /* dW (O, I) += dout^T (O, B) * in (B, I) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)O, (int)I, (int)B,
                1.0f, dout, (int)O, in, (int)I, 1.0f, dw, (int)I);
    /* din (B, I) += dout (B, O) * W (O, I) */
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)I,
                    (int)O, 1.0f, dout, (int)O, w, (int)I, 1.0f, din, (int)I);
}
