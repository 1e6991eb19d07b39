/* gru.c - one GRU layer over variable-length sequences (PyTorch formula and
 * gate order r, z, n), with backpropagation through time.
 *
 * Examples run in order of decreasing length (ties in batch order), so
 * those still running at step t are the first nact[t] rows of the step and
 * the recurrent products cover only them (as PyTorch's packed sequences):
 * on the wordlang words, about two thirds of the batch x longest-word
 * steps.  The states and recurrent gradients are stored compactly, step t
 * at rows cum[t] .. cum[t] + nact[t], R = cum[maxlen] rows in all.
 *
 * Cache layout (gru_cache_floats), filled by forward, read by backward:
 *   g   (B, T, 3H)   first the input projections Wx x + bx of every step (one
 *                    sgemm); step t then overwrites row (b, t) with the gate
 *                    values [r, z, n] for each example still running.
 *   hn  (R, H)       Wh_n h + bh_n of each running (step, example) (n needs
 *                    it before r scales it).
 *   hs  (R, H)       the state each running (step, example) starts from
 *                    (zero at step 0); an example's state after its last
 *                    step goes straight to hfinal.
 *   hg  (B, 3H)      per-step scratch for Wh h + bh.
 *   perm (B), nact (T+1), cum (T+1)   uint32: the order of the examples
 *                    (perm[i]: batch row of row i), how many run at each
 *                    step, where each step's rows start.
 *   hm  (R, H)       only for a shape with recurrent dropout
 *                    (gru_shape_set_rdrop): hs with the mask applied,
 *                    h * rmask / (1 - rrate), what Wh multiplies (and so
 *                    what dWh is made of).  Last, so that the layout before
 *                    it does not depend on the flag.
 *
 * Work layout (gru_work_floats), backward only:
 *   dxg (B, T, 3H)   gradient at the input projections (row order of x, so
 *                    dWx and dx are one sgemm each over all steps); zero
 *                    where no step ran.
 *   dhg (R, 3H)      gradient at Wh h + bh (row order of hs, so dWh is one
 *                    sgemm over all running steps).
 *   dh, dh2 (B, H)   state gradient at the current and previous step, in
 *                    the rows' order.
 *   dr  (B, H)       only with recurrent dropout: the gradient at the masked
 *                    previous state (dhg_t Wh), before the mask routes it to
 *                    dh2.
 *
 * Stacking (hseq, dhseq) needs no memory of its own: the state after each
 * step is copied out as it is made, and dhseq is added to the state
 * gradient at the step it belongs to.
 */
#include "kernels.h"
#include "simd.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

static int mul_ok(size_t *r, size_t a, size_t b)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *r = a * b;
    return 1;
}

static int add_ok(size_t *r, size_t a, size_t b)
{
    if (b > SIZE_MAX - a)
        return 0;
    *r = a + b;
    return 1;
}

int gru_shape_init(gru_shape *s, size_t B, size_t T, size_t D, size_t H,
                   db_err *e)
{
    if (!B || !T || !D || !H)
        return db_fail(e, "gru: sizes must be > 0 (B=%zu T=%zu D=%zu H=%zu)",
                       B, T, D, H);
    size_t bt, h3, t1, x, wx, wh, g, st, c, w;
    /* Every buffer size, plus the cache and work totals. */
    if (!mul_ok(&bt, B, T) || !mul_ok(&h3, 3, H) || !mul_ok(&x, bt, D) ||
        !mul_ok(&wx, h3, D) || !mul_ok(&wh, h3, H) || !mul_ok(&g, bt, h3) ||
        !add_ok(&t1, T, 1) || !mul_ok(&st, t1, B) || !mul_ok(&st, st, H) ||
        !mul_ok(&c, bt, H) || !add_ok(&c, c, g) || !add_ok(&c, c, st) ||
        !mul_ok(&w, B, h3) || !add_ok(&c, c, w) || !mul_ok(&w, g, 2) ||
        !add_ok(&w, w, B * H) || !add_ok(&w, w, B * H))
        return db_fail(e, "gru: buffer sizes overflow size_t (B=%zu T=%zu "
                          "D=%zu H=%zu)", B, T, D, H);
    if (bt > INT_MAX || h3 > INT_MAX || D > INT_MAX)
        return db_fail(e, "gru: B*T=%zu, 3H=%zu or D=%zu exceeds the BLAS int "
                          "range", bt, h3, D);
    s->B = B;
    s->T = T;
    s->D = D;
    s->H = H;
    s->rdrop = 0;
    return 0;
}

/* The cache and work sizes without the recurrent-dropout extras. */
static size_t cache_base(const gru_shape *s)
{
    size_t B = s->B, T = s->T, H = s->H;
    return B * T * 3 * H + 2 * T * B * H + B * 3 * H + B + 2 * (T + 1);
}

static size_t work_base(const gru_shape *s)
{
    size_t B = s->B, T = s->T, H = s->H;
    return 2 * B * T * 3 * H + 2 * B * H;
}

int gru_shape_set_rdrop(gru_shape *s, int on, db_err *e)
{
    size_t c, w;
    /* gru_shape_init checked (T+1)*B*H, so T*B*H and B*H fit. */
    if (on && (!add_ok(&c, cache_base(s), s->T * s->B * s->H) ||
               !add_ok(&w, work_base(s), s->B * s->H)))
        return db_fail(e, "gru: buffer sizes with recurrent dropout overflow "
                          "size_t (B=%zu T=%zu H=%zu)", s->B, s->T, s->H);
    s->rdrop = on != 0;
    return 0;
}

size_t gru_cache_floats(const gru_shape *s)
{
    return cache_base(s) + (s->rdrop ? s->T * s->B * s->H : 0);
}

size_t gru_work_floats(const gru_shape *s)
{
    return work_base(s) + (s->rdrop ? s->B * s->H : 0);
}

/* The gate functions go through the vector exp of simd.h (about 1 ulp, and
 * four lanes at a time): glibc's scalar expf/tanhf were most of the GRU's
 * time.  The scalar tail uses the same vector code on one lane, so every
 * element gets bit-identical values whatever H is. */
static inline float sigmoid1(float x) { return v4f_sigmoid(v4f_set1(x))[0]; }
static inline float tanh1(float x) { return v4f_tanh(v4f_set1(x))[0]; }

/* dst[k] += src[k]: the bias gradients, one row at a time (same order of
 * additions per element as a scalar loop). */
static void add_row(float *dst, const float *src, size_t n)
{
    size_t k = 0;
    for (; k + 4 <= n; k += 4)
        v4f_store(dst + k, v4f_load(dst + k) + v4f_load(src + k));
    for (; k < n; k++)
        dst[k] += src[k];
}

/* One example's gates from lane j on, W lanes at a time in vectors of type
 * V (v4f or v8f): forward (gx, gh -> r, z, n into gx, the new state into
 * hnb, Wh_n h + bh_n into hnt) and backward (the gradients at the input
 * and recurrent projections, dxr and dhr, and at the previous state). */
#define GATES_FORWARD(V, W)                                                   \
    for (; j + (W) <= H; j += (W)) {                                          \
        V r = V##_sigmoid(V##_load(gx + j) + V##_load(gh + j));               \
        V z = V##_sigmoid(V##_load(gx + H + j) + V##_load(gh + H + j));       \
        V hnj = V##_load(gh + 2 * H + j);                                     \
        V n = V##_tanh(V##_load(gx + 2 * H + j) + r * hnj);                   \
        V##_store(hnb + j, (V##_set1(1.0f) - z) * n + z * V##_load(hpb + j)); \
        V##_store(gx + j, r);                                                 \
        V##_store(gx + H + j, z);                                             \
        V##_store(gx + 2 * H + j, n);                                         \
        V##_store(hnt + j, hnj);                                              \
    }
#define GATES_BACKWARD(V, W)                                                  \
    for (; j + (W) <= H; j += (W)) {                                          \
        const V one = V##_set1(1.0f);                                         \
        V r = V##_load(gr + j), z = V##_load(gr + H + j),                     \
          n = V##_load(gr + 2 * H + j);                                       \
        V d = V##_load(dhb + j);                                              \
        V dan = d * (one - z) * (one - n * n);                                \
        V daz = d * (V##_load(hpb + j) - n) * z * (one - z);                  \
        V dar = dan * V##_load(hnt + j) * r * (one - r);                      \
        V##_store(dxr + j, dar);                                              \
        V##_store(dxr + H + j, daz);                                          \
        V##_store(dxr + 2 * H + j, dan);                                      \
        V##_store(dhr + j, dar);                                              \
        V##_store(dhr + H + j, daz);                                          \
        V##_store(dhr + 2 * H + j, dan * r); /* r gates Wh_n h + bh_n */      \
        V##_store(dpb + j, d * z);                                            \
    }

/* The gates eight lanes at a time on CPUs with AVX2 (GCC's target pragma;
 * elsewhere four): the same operations per lane as the 4-wide loops, none
 * contracted into an FMA, so the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC target("avx2")
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

static inline v8f v8f_set1(float x) { return (v8f){ x, x, x, x, x, x, x, x }; }

static inline v8f v8f_load(const float *p)
{
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void v8f_store(float *p, v8f v) { memcpy(p, &v, sizeof v); }

DB_VMATH(v8f, v8i, v8f_set1, v8f)

/* Forward gates of one example, lanes [0, 8 * (H / 8)); returns the
 * first lane left. */
static size_t gates_forward8(float *gx, const float *gh, const float *hpb,
                             float *hnb, float *hnt, size_t H)
{
    size_t j = 0;
    GATES_FORWARD(v8f, 8)
    return j;
}

/* Backward through the gates of one example, as gates_forward8. */
static size_t gates_backward8(float *dxr, float *dhr, float *dpb, const float *gr,
                              const float *hnt, const float *hpb, const float *dhb,
                              size_t H)
{
    size_t j = 0;
    GATES_BACKWARD(v8f, 8)
    return j;
}
#pragma GCC pop_options

/* Sixteen lanes at a time with AVX-512, then eight: the same operations
 * per lane again, so the same bits as the 8- and 4-wide loops. */
#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")
typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));

static inline v16f v16f_set1(float x)
{
    return (v16f){ x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x };
}

static inline v16f v16f_load(const float *p)
{
    v16f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void v16f_store(float *p, v16f v) { memcpy(p, &v, sizeof v); }

DB_VMATH(v16f, v16i, v16f_set1, v16f)

static size_t gates_forward16(float *gx, const float *gh, const float *hpb,
                              float *hnb, float *hnt, size_t H)
{
    size_t j = 0;
    GATES_FORWARD(v16f, 16)
    GATES_FORWARD(v8f, 8)
    return j;
}

static size_t gates_backward16(float *dxr, float *dhr, float *dpb, const float *gr,
                               const float *hnt, const float *hpb, const float *dhb,
                               size_t H)
{
    size_t j = 0;
    GATES_BACKWARD(v16f, 16)
    GATES_BACKWARD(v8f, 8)
    return j;
}
#pragma GCC pop_options

/* 2: sixteen lanes, 1: eight, 0: four (the path chosen, kernels.h). */
static int wide_gates(void)
{
    db_simd p = db_simd_get();
    return p == DB_SIMD_AVX512 ? 2 : p == DB_SIMD_AVX2;
}
#else
static int wide_gates(void) { return 0; }

static size_t gates_forward16(float *gx, const float *gh, const float *hpb,
                              float *hnb, float *hnt, size_t H)
{
    (void)gx, (void)gh, (void)hpb, (void)hnb, (void)hnt, (void)H;
    return 0;
}

static size_t gates_backward16(float *dxr, float *dhr, float *dpb, const float *gr,
                               const float *hnt, const float *hpb, const float *dhb,
                               size_t H)
{
    (void)dxr, (void)dhr, (void)dpb, (void)gr, (void)hnt, (void)hpb, (void)dhb, (void)H;
    return 0;
}

static size_t gates_forward8(float *gx, const float *gh, const float *hpb,
                             float *hnb, float *hnt, size_t H)
{
    (void)gx, (void)gh, (void)hpb, (void)hnb, (void)hnt, (void)H;
    return 0;
}

static size_t gates_backward8(float *dxr, float *dhr, float *dpb, const float *gr,
                              const float *hnt, const float *hpb, const float *dhb,
                              size_t H)
{
    (void)dxr, (void)dhr, (void)dpb, (void)gr, (void)hnt, (void)hpb, (void)dhb, (void)H;
    return 0;
}
#endif

/* Lengths beyond T count as T; the longest decides how many steps run. */
static size_t steps_of(const uint32_t *len, size_t b, size_t T)
{
    return len[b] < T ? len[b] : T;
}

typedef struct gru_order {
    uint32_t *perm, *nact, *cum;
    size_t maxlen;
} gru_order;

/* The order tables at the end of the cache. */
static gru_order order_of(const float *cache, const gru_shape *s)
{
    const size_t B = s->B, T = s->T, H = s->H;
    uint32_t *u = (uint32_t *)(void *)(cache + B * T * 3 * H + 2 * T * B * H + B * 3 * H);
    gru_order o = { u, u + B, u + B + T + 1, 0 };
    return o;
}

/* perm: the rows by decreasing steps, ties in batch order (a stable
 * counting sort); nact[t]: rows running at step t; cum: their prefix sums. */
static gru_order sort_rows(float *cache, const uint32_t *len, const gru_shape *s)
{
    const size_t B = s->B, T = s->T;
    gru_order o = order_of(cache, s);
    memset(o.nact, 0, (T + 1) * sizeof *o.nact);
    for (size_t b = 0; b < B; b++) /* nact[k]: rows of exactly k steps, for now */
        o.nact[steps_of(len, b, T)]++;
    /* cum[k]: where the rows of k steps start in perm (longest first) */
    uint32_t at = 0;
    for (size_t k = T + 1; k-- > 0;) {
        o.cum[k] = at;
        at += o.nact[k];
    }
    for (size_t b = 0; b < B; b++)
        o.perm[o.cum[steps_of(len, b, T)]++] = (uint32_t)b;
    /* now nact[t] = rows of more than t steps, cum[t] = rows before step t */
    uint32_t run = (uint32_t)B - o.nact[0];
    for (size_t t = 0; t <= T; t++) {
        uint32_t ends = t + 1 <= T ? o.nact[t + 1] : 0; /* rows of t+1 steps */
        o.nact[t] = run;
        run -= ends;
    }
    at = 0;
    o.maxlen = 0;
    for (size_t t = 0; t <= T; t++) {
        o.cum[t] = at;
        at += o.nact[t];
        if (o.nact[t])
            o.maxlen = t + 1;
    }
    return o;
}

void gru_forward(float *hfinal /* (B, H) */, float *cache,
                 const float *x /* (B, T, D) */, const uint32_t *len /* (B) */,
                 const float *wx /* (3H, D) */, const float *wh /* (3H, H) */,
                 const float *bx /* (3H) */, const float *bh /* (3H) */,
                 const gru_shape *s)
{
    gru_forward_ex(hfinal, NULL, cache, x, len, NULL, 0.0f, wx, wh, bx, bh, s);
}

void gru_forward_ex(float *hfinal /* (B, H) */, float *hseq /* (B, T, H) or NULL */,
                    float *cache, const float *x /* (B, T, D) */,
                    const uint32_t *len /* (B) */,
                    const uint8_t *rmask /* (B, H) or NULL */, float rrate,
                    const float *wx /* (3H, D) */, const float *wh /* (3H, H) */,
                    const float *bx /* (3H) */, const float *bh /* (3H) */,
                    const gru_shape *s)
{
    const size_t B = s->B, T = s->T, D = s->D, H = s->H, H3 = 3 * H;
    float *g = cache;
    float *hn = g + B * T * H3;
    float *hs = hn + T * B * H;
    float *hg = hs + T * B * H;
    float *hm = cache + cache_base(s); /* rmask only */
    const gru_order o = sort_rows(cache, len, s);

    /* Input projections of every step at once: x viewed as (B*T, D). */
    for (size_t r = 0; r < B * T; r++)
        memcpy(g + r * H3, bx, H3 * sizeof *g);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(B * T), (int)H3,
                (int)D, 1.0f, x, (int)D, wx, (int)D, 1.0f, g, (int)H3);

    const int wide = wide_gates();
    /* Rows that run no step end in the zero state. */
    for (size_t i = o.nact[0]; i < B; i++)
        memset(hfinal + o.perm[i] * H, 0, H * sizeof *hfinal);
    memset(hs, 0, o.nact[0] * H * sizeof *hs);
    if (rmask) /* the masked h0 is 0 too; dWh's product reads it */
        memset(hm, 0, o.nact[0] * H * sizeof *hm);
    /* Steps an example does not run output zeros. */
    if (hseq)
        for (size_t b = 0; b < B; b++)
            for (size_t t = steps_of(len, b, T); t < T; t++)
                memset(hseq + (b * T + t) * H, 0, H * sizeof *hseq);
    for (size_t t = 0; t < o.maxlen; t++) {
        const size_t na = o.nact[t], na1 = o.nact[t + 1];
        const float *hp = hs + o.cum[t] * H;
        float *hnext = hs + o.cum[t + 1] * H;
        /* What Wh multiplies: the state, or with recurrent dropout the
         * state under the example's mask (the same mask every step). */
        const float *hw = hp;
        if (rmask && t > 0) {
            float *hmt = hm + o.cum[t] * H;
            for (size_t i = 0; i < na; i++)
                dropout_apply(hmt + i * H, rmask + o.perm[i] * H, hp + i * H, 1, H,
                              1, rrate);
            hw = hmt;
        }
        for (size_t i = 0; i < na; i++)
            memcpy(hg + i * H3, bh, H3 * sizeof *hg);
        if (t > 0) /* h0 = 0: the first product would add nothing */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)na,
                        (int)H3, (int)H, 1.0f, hw, (int)H, wh, (int)H, 1.0f,
                        hg, (int)H3);
        for (size_t i = 0; i < na; i++) {
            const size_t b = o.perm[i];
            const float *hpb = hp + i * H;
            /* the next step's state, or after the last step the final one */
            float *hnb = i < na1 ? hnext + i * H : hfinal + b * H;
            float *hnt = hn + (o.cum[t] + i) * H;
            float *gx = g + (b * T + t) * H3;
            const float *gh = hg + i * H3;
            size_t j = wide == 2   ? gates_forward16(gx, gh, hpb, hnb, hnt, H)
                       : wide ? gates_forward8(gx, gh, hpb, hnb, hnt, H) : 0;
            GATES_FORWARD(v4f, 4)
            for (; j < H; j++) {
                float r = sigmoid1(gx[j] + gh[j]);
                float z = sigmoid1(gx[H + j] + gh[H + j]);
                float hnj = gh[2 * H + j];
                float n = tanh1(gx[2 * H + j] + r * hnj);
                hnb[j] = (1.0f - z) * n + z * hpb[j];
                gx[j] = r;
                gx[H + j] = z;
                gx[2 * H + j] = n;
                hnt[j] = hnj;
            }
            if (hseq)
                memcpy(hseq + (b * T + t) * H, hnb, H * sizeof *hseq);
        }
    }
}

void gru_backward(float *dx /* (B, T, D) or NULL */, float *dwx, float *dwh,
                  float *dbx, float *dbh, const float *dhfinal /* (B, H) */,
                  const float *cache, const float *x, const uint32_t *len,
                  const float *wx, const float *wh, const gru_shape *s,
                  float *work)
{
    gru_backward_ex(dx, dwx, dwh, dbx, dbh, dhfinal, NULL, cache, x, len, NULL,
                    0.0f, wx, wh, s, work);
}

void gru_backward_ex(float *dx /* (B, T, D) or NULL */, float *dwx /* (3H, D) */,
                     float *dwh /* (3H, H) */, float *dbx /* (3H) */,
                     float *dbh /* (3H) */,
                     const float *dhfinal /* (B, H) or NULL */,
                     const float *dhseq /* (B, T, H) or NULL */,
                     const float *cache, const float *x /* (B, T, D) */,
                     const uint32_t *len /* (B) */,
                     const uint8_t *rmask /* (B, H) or NULL */, float rrate,
                     const float *wx /* (3H, D) */, const float *wh /* (3H, H) */,
                     const gru_shape *s, float *work)
{
    const size_t B = s->B, T = s->T, D = s->D, H = s->H, H3 = 3 * H;
    const float *g = cache;
    const float *hn = g + B * T * H3;
    const float *hs = hn + T * B * H;
    const float *hm = cache + cache_base(s); /* rmask only */
    float *dxg = work;
    float *dhg = dxg + B * T * H3;
    float *dh = dhg + T * B * H3;
    float *dh2 = dh + B * H;
    float *dr = work + work_base(s); /* rmask only */
    gru_order o = order_of(cache, s);
    /* the forward pass's tables, recomputed for maxlen only */
    o.maxlen = 0;
    for (size_t b = 0; b < B; b++)
        if (steps_of(len, b, T) > o.maxlen)
            o.maxlen = steps_of(len, b, T);
    if (o.maxlen == 0)
        return; /* no step ran: nothing depends on any weight */
    const int wide = wide_gates();

    for (size_t t = o.maxlen; t-- > 0;) {
        const size_t na = o.nact[t], na1 = o.nact[t + 1];
        const float *hp = hs + o.cum[t] * H;
        float *dhgt = dhg + o.cum[t] * H3;
        /* Rows whose last step this is start from the final state's
         * gradient. */
        for (size_t i = na1; i < na; i++) {
            if (dhfinal)
                memcpy(dh + i * H, dhfinal + o.perm[i] * H, H * sizeof *dh);
            else
                memset(dh + i * H, 0, H * sizeof *dh);
        }
        /* The loss reaches this step's state through the output sequence
         * too (the layer above). */
        if (dhseq)
            for (size_t i = 0; i < na; i++)
                add_row(dh + i * H, dhseq + (o.perm[i] * T + t) * H, H);
        for (size_t i = 0; i < na; i++) {
            const size_t b = o.perm[i];
            float *dxr = dxg + (b * T + t) * H3;
            float *dhr = dhgt + i * H3;
            const float *dhb = dh + i * H;
            float *dpb = dh2 + i * H;
            const float *gr = g + (b * T + t) * H3;
            const float *hnt = hn + (o.cum[t] + i) * H;
            const float *hpb = hp + i * H;
            size_t j = wide == 2 ? gates_backward16(dxr, dhr, dpb, gr, hnt, hpb, dhb, H)
                       : wide ? gates_backward8(dxr, dhr, dpb, gr, hnt, hpb, dhb, H) : 0;
            GATES_BACKWARD(v4f, 4)
            for (; j < H; j++) {
                float r = gr[j], z = gr[H + j], n = gr[2 * H + j];
                float d = dhb[j];
                float dan = d * (1.0f - z) * (1.0f - n * n);
                float daz = d * (hpb[j] - n) * z * (1.0f - z);
                float dar = dan * hnt[j] * r * (1.0f - r);
                dxr[j] = dar;
                dxr[H + j] = daz;
                dxr[2 * H + j] = dan;
                dhr[j] = dar;
                dhr[H + j] = daz;
                dhr[2 * H + j] = dan * r;
                dpb[j] = d * z;
            }
        }
        /* dh_prev (na, H) += dhg_t (na, 3H) * Wh (3H, H).  At t = 0 the
         * gradient reaches the constant h0, so skip it.  With recurrent
         * dropout Wh saw the masked state: the product goes through the
         * mask first (the carry term z * h, already in dh2, did not). */
        if (t > 0 && !rmask)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)na,
                        (int)H, (int)H3, 1.0f, dhgt, (int)H3, wh, (int)H, 1.0f,
                        dh2, (int)H);
        if (t > 0 && rmask) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)na,
                        (int)H, (int)H3, 1.0f, dhgt, (int)H3, wh, (int)H, 0.0f,
                        dr, (int)H);
            for (size_t i = 0; i < na; i++)
                dropout_backward(dh2 + i * H, dr + i * H, rmask + o.perm[i] * H, 1,
                                 H, 1, rrate);
        }
        float *tmp = dh;
        dh = dh2;
        dh2 = tmp;
    }
    /* No step ran at (b, t) for t >= steps: zero input-projection gradient. */
    for (size_t b = 0; b < B; b++)
        for (size_t t = steps_of(len, b, T); t < T; t++)
            memset(dxg + (b * T + t) * H3, 0, H3 * sizeof *dxg);

    /* Weight gradients over all running steps at once (Wh multiplied the
     * masked states under recurrent dropout). */
    size_t rows = o.cum[o.maxlen];
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)H3, (int)H,
                (int)rows, 1.0f, dhg, (int)H3, rmask ? hm : hs, (int)H, 1.0f, dwh,
                (int)H);
    for (size_t r = 0; r < rows; r++)
        add_row(dbh, dhg + r * H3, H3);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)H3, (int)D,
                (int)(B * T), 1.0f, dxg, (int)H3, x, (int)D, 1.0f, dwx, (int)D);
    for (size_t r = 0; r < B * T; r++)
        add_row(dbx, dxg + r * H3, H3);
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(B * T),
                    (int)D, (int)H3, 1.0f, dxg, (int)H3, wx, (int)D, 1.0f, dx,
                    (int)D);
}
