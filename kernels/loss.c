/* loss.c - softmax cross-entropy, mean over the batch. */
#include "kernels.h"

#include <math.h>

double softmax_xent_forward(float *probs /* (B, K) */, size_t *correct,
                            const float *logits /* (B, K) */,
                            const uint8_t *labels /* (B) */, size_t B, size_t K)
{
    double loss = 0.0;
    size_t ok = 0;
    for (size_t n = 0; n < B; n++) {
        const float *x = logits + n * K;
        float *p = probs + n * K;
        /* The max doubles as the predicted class (first maximum wins, as
         * documented) and as the shift that keeps expf from overflowing. */
        size_t arg = 0;
        float mx = x[0];
        for (size_t k = 1; k < K; k++)
            if (x[k] > mx) {
                mx = x[k];
                arg = k;
            }
        double sum = 0.0;
        for (size_t k = 0; k < K; k++) {
            p[k] = expf(x[k] - mx);
            sum += p[k];
        }
        float inv = (float)(1.0 / sum);
        for (size_t k = 0; k < K; k++)
            p[k] *= inv;
        /* -log p[label] from the shifted logits, not from p: p can underflow
         * to 0 for a confidently wrong example, and log(0) would be -inf. */
        loss += log(sum) - ((double)x[labels[n]] - (double)mx);
        ok += arg == labels[n];
    }
    if (correct)
        *correct = ok;
    return B ? loss / (double)B : 0.0;
}

void softmax_xent_backward(float *dlogits /* (B, K) */,
                           const float *probs /* (B, K) */,
                           const uint8_t *labels /* (B) */, size_t B, size_t K)
{
    if (!dlogits || B == 0)
        return;
    float invb = 1.0f / (float)B;
    for (size_t n = 0; n < B; n++) {
        const float *p = probs + n * K;
        float *d = dlogits + n * K;
        for (size_t k = 0; k < K; k++)
            d[k] += p[k] * invb;
        d[labels[n]] -= invb;
    }
}
