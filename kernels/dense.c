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
    if (B == 0 || O == 0)
        return;
    /* Bias first, then sgemm with beta = 1 adds the product on top: one pass
     * over out instead of a second sweep after the product. */
    for (size_t n = 0; n < B; n++)
        memcpy(out + n * O, b, O * sizeof *out);
    if (In == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)O, (int)In,
                1.0f, in, (int)In, w, (int)In, 1.0f, out, (int)O);
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

void dense_backward_set(float *din /* (B, In) or NULL */, float *dw /* (O, In) */,
                        float *db /* (O) */, const float *dout /* (B, O) */,
                        const float *in /* (B, In) */, const float *w /* (O, In) */,
                        size_t B, size_t In, size_t O)
{
    if (O == 0)
        return;
    if (B == 0) {
        memset(dw, 0, O * In * sizeof *dw);
        memset(db, 0, O * sizeof *db);
        if (din)
            memset(din, 0, B * In * sizeof *din);
        return;
    }
    /* Row 0 copied, then rows 1.. added in order: the same sums as
     * accumulating every row into zeros. */
    memcpy(db, dout, O * sizeof *db);
    for (size_t n = 1; n < B; n++) {
        const float *d = dout + n * O;
        size_t o = 0;
        for (; o + 4 <= O; o += 4)
            v4f_store(db + o, v4f_load(db + o) + v4f_load(d + o));
        for (; o < O; o++)
            db[o] += d[o];
    }
    if (In == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)O, (int)In, (int)B,
                1.0f, dout, (int)O, in, (int)In, 0.0f, dw, (int)In);
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)In,
                    (int)O, 1.0f, dout, (int)O, w, (int)In, 0.0f, din, (int)In);
}
