/* optim.c - SGD with momentum, max-norm, and small vector helpers. */
#include "kernels.h"
#include "simd.h"

#include <math.h>

void sgd_momentum_step(float *w, float *v, const float *grad, size_t n,
                       float lr, float mu, float wd)
{
    /* Weight decay enters the gradient (L2 penalty wd/2 |w|^2), so it is
     * carried by the velocity like the rest of the gradient, as in PyTorch's
     * SGD. */
    size_t i = 0;
    const v4f vwd = v4f_set1(wd), vmu = v4f_set1(mu), vlr = v4f_set1(lr);
    for (; i + 4 <= n; i += 4) {
        v4f wi = v4f_load(w + i);
        v4f g = v4f_load(grad + i) + vwd * wi;
        v4f vi = vmu * v4f_load(v + i) + g;
        v4f_store(v + i, vi);
        v4f_store(w + i, wi - vlr * vi);
    }
    for (; i < n; i++) {
        float g = grad[i] + wd * w[i];
        v[i] = mu * v[i] + g;
        w[i] -= lr * v[i];
    }
}

void sgd_hinton_step(float *w, float *dw, const float *grad, size_t n,
                     float lr, float mu, float wd)
{
    /* dw = mu dw - (1 - mu) lr (g + wd w); w += dw (Hinton et al. 2012,
     * appendix A).  The step is (1 - mu) times PyTorch's form at the same
     * lr and mu: a ramping momentum does not inflate the step size. */
    const float a = (1.0f - mu) * lr;
    size_t i = 0;
    const v4f vwd = v4f_set1(wd), vmu = v4f_set1(mu), va = v4f_set1(a);
    for (; i + 4 <= n; i += 4) {
        v4f wi = v4f_load(w + i);
        v4f g = v4f_load(grad + i) + vwd * wi;
        v4f d = vmu * v4f_load(dw + i) - va * g;
        v4f_store(dw + i, d);
        v4f_store(w + i, wi + d);
    }
    for (; i < n; i++) {
        float g = grad[i] + wd * w[i];
        dw[i] = mu * dw[i] - a * g;
        w[i] += dw[i];
    }
}

void maxnorm_apply(float *w /* (O, I) */, size_t O, size_t I, float c)
{
    if (!(c > 0.0f))
        return;
    for (size_t o = 0; o < O; o++) {
        float *row = w + o * I;
        double ss = 0.0;
        for (size_t i = 0; i < I; i++)
            ss += (double)row[i] * row[i];
        double norm = sqrt(ss);
        /* Only rows outside the ball are projected back onto its surface;
         * rows inside are left bit-for-bit alone. */
        if (norm > (double)c) {
            float a = (float)((double)c / norm);
            for (size_t i = 0; i < I; i++)
                row[i] *= a;
        }
    }
}

double sumsq(const float *x, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return s;
}

void scale_inplace(float *x, size_t n, float a)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        v4f_store(x + i, v4f_load(x + i) * v4f_set1(a));
    for (; i < n; i++)
        x[i] *= a;
}
