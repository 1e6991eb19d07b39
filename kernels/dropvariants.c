/* dropvariants.c - the dropout variants beside inverted dropout: Gaussian
 * (multiplicative) dropout, DropConnect on a dense layer's weights, and
 * DropBlock on conv maps.  Every draw is sequential over one stream, so a
 * mask (or noise) is a function of the stream position and the sizes alone;
 * the apply and backward steps may run on slices of examples. */
#include "kernels.h"
#include "simd.h"

#include <math.h>
#include <string.h>

/* ---- Gaussian dropout ---------------------------------------------------- */

int dropout_gauss_forward(float *out /* (B, G, S) */, float *noise /* (B, G) */,
                          const float *in /* (B, G, S) */, size_t B, size_t G,
                          size_t S, float rate, int training, db_rng *rng, db_err *e)
{
    if (dropout_check_rate(rate, e) < 0)
        return -1;
    const size_t groups = B * G;
    if (!training || rate == 0.0f) {
        /* Exact identity, no draws (as dropout_forward). */
        if (out != in)
            memcpy(out, in, groups * S * sizeof *out);
        for (size_t i = 0; i < groups; i++)
            noise[i] = 1.0f;
        return 0;
    }
    dropout_gauss_draw(noise, groups, rate, rng);
    dropout_gauss_apply(out, noise, in, B, G, S);
    return 0;
}

void dropout_gauss_draw(float *noise, size_t n, float rate, db_rng *rng)
{
    /* sigma^2 = (1 - p) / p with p = 1 - rate the retention */
    const double sigma = sqrt((double)rate / (1.0 - (double)rate));
    /* Both values of each Box-Muller pair are used (db_rng_normal discards
     * the second); the pair count, hence the stream position, depends on n
     * only. */
    for (size_t i = 0; i < n; i += 2) {
        double u1 = 1.0 - db_rng_uniform_d(rng); /* (0, 1]: log is finite */
        double u2 = db_rng_uniform_d(rng);
        double r = sqrt(-2.0 * log(u1)), t = 6.283185307179586 * u2;
        noise[i] = (float)(1.0 + sigma * r * cos(t));
        if (i + 1 < n)
            noise[i + 1] = (float)(1.0 + sigma * r * sin(t));
    }
}

void dropout_gauss_apply(float *out /* (B, G, S) */, const float *noise /* (B, G) */,
                         const float *in /* (B, G, S) */, size_t B, size_t G,
                         size_t S)
{
    const size_t groups = B * G;
    if (S == 1) {
        size_t i = 0;
        for (; i + 4 <= groups; i += 4)
            v4f_store(out + i, v4f_load(in + i) * v4f_load(noise + i));
        for (; i < groups; i++)
            out[i] = in[i] * noise[i];
        return;
    }
    for (size_t i = 0; i < groups; i++) {
        const float f = noise[i];
        float *o = out + i * S;
        const float *x = in + i * S;
        for (size_t j = 0; j < S; j++)
            o[j] = x[j] * f;
    }
}

void dropout_gauss_backward(float *din /* (B, G, S) or NULL */,
                            const float *dout /* (B, G, S) */,
                            const float *noise /* (B, G) */, size_t B, size_t G,
                            size_t S)
{
    if (!din)
        return;
    const size_t groups = B * G;
    if (S == 1) {
        size_t i = 0;
        for (; i + 4 <= groups; i += 4)
            v4f_store(din + i, v4f_load(din + i) + v4f_load(dout + i) * v4f_load(noise + i));
        for (; i < groups; i++)
            din[i] += dout[i] * noise[i];
        return;
    }
    for (size_t i = 0; i < groups; i++) {
        const float f = noise[i];
        float *d = din + i * S;
        const float *g = dout + i * S;
        for (size_t j = 0; j < S; j++)
            d[j] += g[j] * f;
    }
}

void dropout_gauss_backward_inplace(float *d /* (B, G, S) */,
                                    const float *noise /* (B, G) */, size_t B,
                                    size_t G, size_t S)
{
    /* the forward's multiply, in place */
    dropout_gauss_apply(d, noise, d, B, G, S);
}

/* ---- DropConnect ------------------------------------------------------------
 * The mask over the O*In weights is element-wise dropout over O*In values
 * (one group per weight): the same draws, the same scale expression. */

int dropconnect_forward(float *wm /* (O, In) */, uint8_t *mask /* (O, In) */,
                        const float *w /* (O, In) */, size_t O, size_t In,
                        float rate, int training, db_rng *rng, db_err *e)
{
    return dropout_forward(wm, mask, w, 1, O * In, 1, rate, training, rng, e);
}

void dropconnect_apply(float *wm, const uint8_t *mask, const float *w, size_t n,
                       float rate)
{
    dropout_apply(wm, mask, w, 1, n, 1, rate);
}

void dropconnect_backward(float *dw /* (O, In) */, const float *dwm /* (O, In) */,
                          const uint8_t *mask /* (O, In) */, size_t n, float rate)
{
    /* W' = W m / (1 - rate) is linear in W, element by element */
    dropout_backward(dw, dwm, mask, 1, n, 1, rate);
}

/* ---- DropBlock ------------------------------------------------------------- */

static size_t clamp_block(size_t block, size_t n) { return block < n ? block : n; }

double dropblock_gamma(size_t H, size_t W, size_t block, double rate)
{
    const size_t bh = clamp_block(block, H), bw = clamp_block(block, W);
    return rate / ((double)bh * (double)bw) * ((double)H * (double)W) /
           ((double)(H - bh + 1) * (double)(W - bw + 1));
}

/* The number of valid square origins t in [0, n - b] whose square [t, t + b)
 * covers position i. */
static size_t cover_count(size_t i, size_t n, size_t b)
{
    size_t lo = i + 1 >= b ? i + 1 - b : 0, hi = i < n - b ? i : n - b;
    return hi - lo + 1;
}

double dropblock_expected_rate(size_t H, size_t W, size_t block, double rate)
{
    const size_t bh = clamp_block(block, H), bw = clamp_block(block, W);
    const double keep1 = 1.0 - dropblock_gamma(H, W, block, rate);
    double sum = 0.0;
    for (size_t i = 0; i < H; i++)
        for (size_t j = 0; j < W; j++)
            sum += 1.0 - pow(keep1, (double)(cover_count(i, H, bh) * cover_count(j, W, bw)));
    return sum / ((double)H * (double)W);
}

float dropblock_draw_mask(uint8_t *mask /* (B, C, H, W) */, size_t B, size_t C,
                          size_t H, size_t W, size_t block, float rate,
                          db_rng *rng)
{
    const size_t bh = clamp_block(block, H), bw = clamp_block(block, W);
    const size_t plane = H * W, total = B * C * plane;
    const size_t ch = H - bh + 1, cw = W - bw + 1; /* valid centres per axis */
    /* gamma <= rate < 1, so thr < 2^32 */
    const uint64_t thr = (uint64_t)llround(dropblock_gamma(H, W, block, rate) * 4294967296.0);
    uint64_t s[4] = { rng->s[0], rng->s[1], rng->s[2], rng->s[3] };
    uint64_t u = 0;
    int high = 0; /* the high half of u is the next uniform */
    memset(mask, 1, total);
    for (size_t p = 0; p < B * C; p++) {
        uint8_t *m = mask + p * plane;
        /* valid centre (i + bh/2, j + bw/2) <-> square with top-left (i, j) */
        for (size_t i = 0; i < ch; i++)
            for (size_t j = 0; j < cw; j++) {
                uint64_t v;
                if (high) {
                    v = u >> 32;
                    high = 0;
                } else {
                    u = db_rng_step(s);
                    v = u & 0xffffffffu;
                    high = 1;
                }
                if (v >= thr)
                    continue;
                for (size_t r = i; r < i + bh; r++)
                    memset(m + r * W + j, 0, bw);
            }
    }
    memcpy(rng->s, s, sizeof s);
    size_t kept = 0;
    for (size_t i = 0; i < total; i++)
        kept += mask[i];
    /* count(all) / count(kept) over the batch; 0 when nothing is kept (out is
     * then all 0 rather than NaN) */
    return kept ? (float)((double)total / (double)kept) : 0.0f;
}

int dropblock_forward(float *out /* (B, C, H, W) */, uint8_t *mask /* (B, C, H, W) */,
                      float *scale, const float *in /* (B, C, H, W) */, size_t B,
                      size_t C, size_t H, size_t W, size_t block, float rate,
                      int training, db_rng *rng, db_err *e)
{
    if (dropout_check_rate(rate, e) < 0)
        return -1;
    if (block == 0)
        return db_fail(e, "DropBlock block size 0 (it must be at least 1)");
    const size_t n = B * C * H * W;
    if (!training || rate == 0.0f) {
        /* Exact identity, no draws (as dropout_forward). */
        if (out != in)
            memcpy(out, in, n * sizeof *out);
        memset(mask, 1, n);
        *scale = 1.0f;
        return 0;
    }
    *scale = dropblock_draw_mask(mask, B, C, H, W, block, rate, rng);
    dropblock_apply(out, mask, in, n, *scale);
    return 0;
}

void dropblock_apply(float *out, const uint8_t *mask, const float *in, size_t n,
                     float scale)
{
    size_t i = 0;
    const v4f sc = v4f_set1(scale);
    for (; i + 4 <= n; i += 4)
        v4f_store(out + i, v4f_and(v4f_load(in + i) * sc, v4i_from_bytes(mask + i)));
    for (; i < n; i++)
        out[i] = mask[i] ? in[i] * scale : 0.0f;
}

void dropblock_backward(float *din /* (B, C, H, W) or NULL */,
                        const float *dout /* (B, C, H, W) */,
                        const uint8_t *mask /* (B, C, H, W) */, size_t n, float scale)
{
    if (!din)
        return;
    size_t i = 0;
    const v4f sc = v4f_set1(scale);
    for (; i + 4 <= n; i += 4)
        v4f_store(din + i, v4f_load(din + i) +
                               v4f_and(v4f_load(dout + i) * sc, v4i_from_bytes(mask + i)));
    for (; i < n; i++)
        if (mask[i])
            din[i] += dout[i] * scale;
}

void dropblock_backward_inplace(float *d, const uint8_t *mask, size_t n, float scale)
{
    dropblock_apply(d, mask, d, n, scale);
}
