/* act.c - ReLU. */
#include "kernels.h"

void relu_forward(float *out, const float *in, size_t n)
{
    /* Written as "negative -> 0" rather than "positive -> keep" so a NaN
     * passes through: a diverging run must show NaN in its loss, not be
     * silently laundered to 0 by the activation. */
    for (size_t i = 0; i < n; i++)
        out[i] = in[i] < 0.0f ? 0.0f : in[i];
}

void relu_backward(float *din, const float *dout, const float *out, size_t n)
{
    if (!din)
        return;
    for (size_t i = 0; i < n; i++)
        din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}
