/* embedding.c - token lookup with per-example lengths. */
#include "kernels.h"

#include <string.h>

void embedding_forward(float *out /* (B, T, D) */,
                       const uint8_t *tok /* (B, T) */,
                       const uint32_t *len /* (B) */,
                       const float *table /* (V, D) */,
                       size_t B, size_t T, size_t D)
{
    for (size_t b = 0; b < B; b++) {
        /* A length beyond T is treated as T rather than read past the row. */
        size_t L = len[b] < T ? len[b] : T;
        for (size_t t = 0; t < T; t++) {
            float *o = out + (b * T + t) * D;
            if (t < L)
                memcpy(o, table + (size_t)tok[b * T + t] * D, D * sizeof *o);
            else
                memset(o, 0, D * sizeof *o);
        }
    }
}

void embedding_backward(float *dtable /* (V, D) */,
                        const float *dout /* (B, T, D) */,
                        const uint8_t *tok /* (B, T) */,
                        const uint32_t *len /* (B) */,
                        size_t B, size_t T, size_t D)
{
    if (!dtable)
        return;
    for (size_t b = 0; b < B; b++) {
        size_t L = len[b] < T ? len[b] : T;
        for (size_t t = 0; t < L; t++) {
            float *g = dtable + (size_t)tok[b * T + t] * D;
            const float *d = dout + (b * T + t) * D;
            for (size_t j = 0; j < D; j++)
                g[j] += d[j];
        }
    }
}
