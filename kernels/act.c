/* act.c - ReLU. */
#include "kernels.h"
#include "simd.h"

void relu_forward(float *out, const float *in, size_t n)
{
    /* Written as "negative -> 0" rather than "positive -> keep" so a NaN
     * passes through: a diverging run must show NaN in its loss, not be
     * silently laundered to 0 by the activation.  out == in is allowed. */
    size_t i = 0;
    const v4f zero = v4f_set1(0.0f);
    for (; i + 4 <= n; i += 4) {
        v4f x = v4f_load(in + i);
        v4f_store(out + i, (v4f)((v4i)x & ~(x < zero)));
    }
    for (; i < n; i++)
        out[i] = in[i] < 0.0f ? 0.0f : in[i];
}

void relu_backward(float *din, const float *dout, const float *out, size_t n)
{
    if (!din)
        return;
    size_t i = 0;
    const v4f zero = v4f_set1(0.0f);
    for (; i + 4 <= n; i += 4)
        v4f_store(din + i, v4f_load(din + i) +
                               v4f_and(v4f_load(dout + i), v4f_load(out + i) > zero));
    for (; i < n; i++)
        din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

void relu_backward_inplace(float *d, const float *out, size_t n)
{
    size_t i = 0;
    const v4f zero = v4f_set1(0.0f);
    for (; i + 4 <= n; i += 4)
        v4f_store(d + i, v4f_and(v4f_load(d + i), v4f_load(out + i) > zero));
    for (; i < n; i++)
        d[i] = out[i] > 0.0f ? d[i] : 0.0f;
}

void sigmoid_forward(float *out, const float *in, size_t n)
{
    /* The vector sigmoid of simd.h (the GRU's gates use the same), four
     * lanes at a time; the tail runs the same code on one lane, so every
     * element gets the same bits whatever n is.  out == in is allowed. */
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        v4f_store(out + i, v4f_sigmoid(v4f_load(in + i)));
    for (; i < n; i++)
        out[i] = v4f_sigmoid(v4f_set1(in[i]))[0];
}

void sigmoid_backward(float *din, const float *dout, const float *out, size_t n)
{
    if (!din)
        return;
    size_t i = 0;
    const v4f one = v4f_set1(1.0f);
    for (; i + 4 <= n; i += 4) {
        v4f y = v4f_load(out + i);
        v4f_store(din + i, v4f_load(din + i) + v4f_load(dout + i) * (y * (one - y)));
    }
    for (; i < n; i++)
        din[i] += dout[i] * (out[i] * (1.0f - out[i]));
}

void sigmoid_backward_inplace(float *d, const float *out, size_t n)
{
    size_t i = 0;
    const v4f one = v4f_set1(1.0f);
    for (; i + 4 <= n; i += 4) {
        v4f y = v4f_load(out + i);
        v4f_store(d + i, v4f_load(d + i) * (y * (one - y)));
    }
    for (; i < n; i++)
        d[i] *= out[i] * (1.0f - out[i]);
}
