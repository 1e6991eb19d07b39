/* test_kernels_gru_seq.c - the GRU layer's additions for stacking (the
 * output sequence hseq and its gradient dhseq) and recurrent (variational)
 * dropout, against a plain double-precision reference (unsorted, one
 * example at a time): forward values, central-difference gradients of
 * every parameter and of the input, a two-layer stack with dropout between
 * the layers assembled from layer calls, and bit-identity of gru_forward /
 * gru_backward with the _ex forms when the additions are off. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "test_numeric.h"
#include "kernels.h"

static double sig(double v) { return 1.0 / (1.0 + exp(-v)); }

/* ---- the reference -------------------------------------------------------- */

/* One layer's weights in float (kernel) and double (reference, perturbed by
 * the numerical gradient), and its recurrent mask: rmask NULL, or the bytes
 * and m = rmask / (1 - rrate) in double. */
typedef struct {
    size_t D, H;
    float *wx, *wh, *bx, *bh;
    double *dwx, *dwh, *dbx, *dbh;
    uint8_t *rmask;
    float rrate;
    double *m; /* (B, H) or NULL */
} layer;

/* The PyTorch formula with Keras' recurrent dropout, example by example:
 * hseq (B, T, H) gets the state after each step (0 past the length), hf
 * (B, H) the final state. */
static void ref_gru(double *hf, double *hseq, const double *x, const uint32_t *len,
                    const layer *L, size_t B, size_t T)
{
    const size_t D = L->D, H = L->H;
    double *hm = xcalloc(H, 8), *hn = xcalloc(H, 8);
    for (size_t b = 0; b < B; b++) {
        double *h = hf + b * H;
        memset(h, 0, H * sizeof *h);
        memset(hseq + b * T * H, 0, T * H * sizeof *hseq);
        for (size_t t = 0; t < T && t < len[b]; t++) {
            const double *xt = x + (b * T + t) * D;
            for (size_t i = 0; i < H; i++)
                hm[i] = L->m ? h[i] * L->m[b * H + i] : h[i];
            for (size_t j = 0; j < H; j++) {
                double a[3], hh[3];
                for (size_t q = 0; q < 3; q++) {
                    a[q] = L->dbx[q * H + j];
                    hh[q] = L->dbh[q * H + j];
                    for (size_t i = 0; i < D; i++)
                        a[q] += L->dwx[(q * H + j) * D + i] * xt[i];
                    for (size_t i = 0; i < H; i++)
                        hh[q] += L->dwh[(q * H + j) * H + i] * hm[i];
                }
                double r = sig(a[0] + hh[0]), z = sig(a[1] + hh[1]);
                double n = tanh(a[2] + r * hh[2]);
                hn[j] = (1.0 - z) * n + z * h[j]; /* the carry: unmasked h */
            }
            memcpy(h, hn, H * sizeof *h);
            memcpy(hseq + (b * T + t) * H, h, H * sizeof *h);
        }
    }
    free(hm), free(hn);
}

static void layer_init(layer *L, size_t B, size_t D, size_t H, float rrate, db_rng *r,
                       db_rng *drop)
{
    L->D = D;
    L->H = H;
    L->wx = xcalloc(3 * H * D, 4);
    L->wh = xcalloc(3 * H * H, 4);
    L->bx = xcalloc(3 * H, 4);
    L->bh = xcalloc(3 * H, 4);
    /* Weights large enough that the gates are away from 0.5 and the
     * recurrent path matters. */
    fill(L->wx, 3 * H * D, r, -1, 1);
    fill(L->wh, 3 * H * H, r, -1, 1);
    fill(L->bx, 3 * H, r, -0.5f, 0.5f);
    fill(L->bh, 3 * H, r, -0.5f, 0.5f);
    L->dwx = to_d(L->wx, 3 * H * D);
    L->dwh = to_d(L->wh, 3 * H * H);
    L->dbx = to_d(L->bx, 3 * H);
    L->dbh = to_d(L->bh, 3 * H);
    L->rrate = rrate;
    L->rmask = NULL;
    L->m = NULL;
    if (rrate > 0.0f) {
        L->rmask = xcalloc(B * H, 1);
        L->m = xcalloc(B * H, 8);
        size_t kept = 0;
        dropout_draw_mask(L->rmask, B * H, rrate, drop);
        for (size_t i = 0; i < B * H; i++) {
            kept += L->rmask[i];
            L->m[i] = L->rmask[i] ? 1.0 / (1.0 - (double)rrate) : 0.0;
        }
        /* the mask must both keep and drop for the test to mean anything */
        ck_assert(kept > 0 && kept < B * H);
    }
}

static void layer_free(layer *L)
{
    free(L->wx), free(L->wh), free(L->bx), free(L->bh);
    free(L->dwx), free(L->dwh), free(L->dbx), free(L->dbh);
    free(L->rmask), free(L->m);
}

/* The kernel's buffers for one layer: shape (with the recurrent-dropout
 * flag when the layer has a mask), cache, work, gradients. */
typedef struct {
    gru_shape s;
    float *cache, *work, *gwx, *gwh, *gbx, *gbh;
} kbuf;

static void kbuf_init(kbuf *k, const layer *L, size_t B, size_t T)
{
    db_err e;
    ck_assert_msg(gru_shape_init(&k->s, B, T, L->D, L->H, &e) == 0, "%s", e.msg);
    if (L->rmask)
        ck_assert(gru_shape_set_rdrop(&k->s, 1, &e) == 0);
    k->cache = xcalloc(gru_cache_floats(&k->s), 4);
    k->work = xcalloc(gru_work_floats(&k->s), 4);
    k->gwx = xcalloc(3 * L->H * L->D, 4);
    k->gwh = xcalloc(3 * L->H * L->H, 4);
    k->gbx = xcalloc(3 * L->H, 4);
    k->gbh = xcalloc(3 * L->H, 4);
}

static void kbuf_free(kbuf *k)
{
    free(k->cache), free(k->work), free(k->gwx), free(k->gwh), free(k->gbx),
        free(k->gbh);
}

static void check_param_grads(const char *tag, const layer *L, const kbuf *k,
                              loss_fn f, void *ctx)
{
    const size_t D = L->D, H = L->H;
    size_t most = 3 * H * (D > H ? D : H);
    double *g = xcalloc(most, 8);
    char what[64];
    numgrad(g, L->dwx, 3 * H * D, f, ctx);
    snprintf(what, sizeof what, "%s dwx", tag);
    check_grad(what, k->gwx, g, 3 * H * D);
    numgrad(g, L->dwh, 3 * H * H, f, ctx);
    snprintf(what, sizeof what, "%s dwh", tag);
    check_grad(what, k->gwh, g, 3 * H * H);
    numgrad(g, L->dbx, 3 * H, f, ctx);
    snprintf(what, sizeof what, "%s dbx", tag);
    check_grad(what, k->gbx, g, 3 * H);
    numgrad(g, L->dbh, 3 * H, f, ctx);
    snprintf(what, sizeof what, "%s dbh", tag);
    check_grad(what, k->gbh, g, 3 * H);
    free(g);
}

/* ---- one layer -------------------------------------------------------------- */

/* L = sum(hfinal * Rf) + sum(hseq * Rs), either term optional. */
typedef struct {
    size_t B, T;
    const uint32_t *len;
    layer *L;
    double *x, *Rf, *Rs, *hf, *hseq;
} one_ctx;

static double one_loss(void *p)
{
    one_ctx *c = p;
    const size_t BH = c->B * c->L->H;
    ref_gru(c->hf, c->hseq, c->x, c->len, c->L, c->B, c->T);
    double s = 0.0;
    if (c->Rf)
        for (size_t i = 0; i < BH; i++)
            s += c->hf[i] * c->Rf[i];
    if (c->Rs)
        for (size_t i = 0; i < BH * c->T; i++)
            s += c->hseq[i] * c->Rs[i];
    return s;
}

/* Forward against the reference, then every gradient against central
 * differences, for a loss on hfinal (use_f), on hseq (use_s) or both, with
 * recurrent dropout at rate rrate (0: none). */
static void check_one(size_t B, size_t T, size_t D, size_t H, const uint32_t *len,
                      int use_f, int use_s, float rrate, uint64_t seed)
{
    db_rng r, drop;
    db_rng_seed(&r, seed, DB_RNG_TEST, 30);
    db_rng_seed(&drop, seed, DB_RNG_DROPOUT, 30);
    layer L;
    layer_init(&L, B, D, H, rrate, &r, &drop);
    kbuf k;
    kbuf_init(&k, &L, B, T);
    const size_t nx = B * T * D, BH = B * H;
    float *x = xcalloc(nx, 4), *hf = xcalloc(BH, 4), *hseq = xcalloc(BH * T, 4);
    float *Rf = xcalloc(BH, 4), *Rs = xcalloc(BH * T, 4), *dx = xcalloc(nx, 4);
    fill(x, nx, &r, -1, 1);
    fill(Rf, BH, &r, -1, 1);
    fill(Rs, BH * T, &r, -1, 1); /* rows past the lengths too: ignored */
    for (size_t i = 0; i < BH * T; i++)
        hseq[i] = 99.0f; /* forward must overwrite every row */
    one_ctx c = {B, T, len, &L, to_d(x, nx), use_f ? to_d(Rf, BH) : NULL,
                 use_s ? to_d(Rs, BH * T) : NULL, xcalloc(BH, 8), xcalloc(BH * T, 8)};

    gru_forward_ex(hf, use_s ? hseq : NULL, k.cache, x, len, L.rmask, L.rrate, L.wx,
                   L.wh, L.bx, L.bh, &k.s);
    ref_gru(c.hf, c.hseq, c.x, len, &L, B, T);
    for (size_t i = 0; i < BH; i++)
        ck_assert_msg(fabs(hf[i] - c.hf[i]) < 1e-5, "hfinal[%zu] %.9g vs %.9g", i,
                      hf[i], c.hf[i]);
    if (use_s)
        for (size_t b = 0; b < B; b++)
            for (size_t t = 0; t < T; t++)
                for (size_t j = 0; j < H; j++) {
                    size_t i = (b * T + t) * H + j;
                    if (t >= len[b])
                        ck_assert_msg(hseq[i] == 0.0f, "hseq(%zu, %zu) past length: %g",
                                      b, t, hseq[i]);
                    else
                        ck_assert_msg(fabs(hseq[i] - c.hseq[i]) < 1e-5,
                                      "hseq(%zu, %zu, %zu) %.9g vs %.9g", b, t, j,
                                      hseq[i], c.hseq[i]);
                }

    gru_backward_ex(dx, k.gwx, k.gwh, k.gbx, k.gbh, use_f ? Rf : NULL,
                    use_s ? Rs : NULL, k.cache, x, len, L.rmask, L.rrate, L.wx, L.wh,
                    &k.s, k.work);
    double *g = xcalloc(nx, 8);
    numgrad(g, c.x, nx, one_loss, &c);
    check_grad("dx", dx, g, nx);
    for (size_t b = 0; b < B; b++)
        for (size_t t = len[b]; t < T; t++)
            for (size_t i = 0; i < D; i++)
                ck_assert(dx[(b * T + t) * D + i] == 0.0f);
    check_param_grads("layer", &L, &k, one_loss, &c);

    /* Backward accumulates: a second call doubles every gradient. */
    float *dwh1 = xcalloc(3 * H * H, 4), *dx1 = xcalloc(nx, 4);
    memcpy(dwh1, k.gwh, 3 * H * H * 4);
    memcpy(dx1, dx, nx * 4);
    gru_backward_ex(dx, k.gwx, k.gwh, k.gbx, k.gbh, use_f ? Rf : NULL,
                    use_s ? Rs : NULL, k.cache, x, len, L.rmask, L.rrate, L.wx, L.wh,
                    &k.s, k.work);
    for (size_t i = 0; i < 3 * H * H; i++)
        ck_assert(fabsf(k.gwh[i] - 2.0f * dwh1[i]) <= 1e-5f * fabsf(dwh1[i]) + 1e-6f);
    for (size_t i = 0; i < nx; i++)
        ck_assert(fabsf(dx[i] - 2.0f * dx1[i]) <= 1e-5f * fabsf(dx1[i]) + 1e-6f);

    free(dwh1), free(dx1), free(g);
    free(x), free(hf), free(hseq), free(Rf), free(Rs), free(dx);
    free(c.x), free(c.Rf), free(c.Rs), free(c.hf), free(c.hseq);
    kbuf_free(&k);
    layer_free(&L);
}

/* len T, len 1, ties, 0, past T; unsorted */
static const uint32_t LEN6[6] = {5, 1, 3, 0, 3, 7};

START_TEST(test_seq_only)
{
    /* the loss only through hseq, dhfinal NULL: a lower layer */
    check_one(6, 5, 3, 4, LEN6, 0, 1, 0.0f, 1);
}
END_TEST

START_TEST(test_seq_and_final)
{
    check_one(6, 5, 3, 4, LEN6, 1, 1, 0.0f, 2);
}
END_TEST

START_TEST(test_rdrop_final)
{
    /* recurrent dropout alone, H 9: the 8-wide gates with a tail */
    const uint32_t len[5] = {4, 2, 4, 1, 0};
    check_one(5, 4, 3, 9, len, 1, 0, 0.4f, 3);
}
END_TEST

START_TEST(test_rdrop_seq)
{
    /* both, loss through hseq and hfinal */
    check_one(6, 5, 3, 4, LEN6, 1, 1, 0.3f, 4);
}
END_TEST

START_TEST(test_rdrop_seq_only)
{
    /* both, loss through hseq only, every length T */
    const uint32_t len[3] = {4, 4, 4};
    check_one(3, 4, 5, 6, len, 0, 1, 0.5f, 5);
}
END_TEST

START_TEST(test_rdrop_forward_wide)
{
    /* forward only, against the reference, at sizes where the sgemm blocks
     * and the 8-wide lanes, the 4-wide and the scalar tail all run */
    const size_t B = 9, T = 7, D = 11, H = 21;
    const uint32_t len[9] = {7, 3, 7, 0, 1, 6, 2, 7, 4};
    db_rng r, drop;
    db_rng_seed(&r, 6, DB_RNG_TEST, 6);
    db_rng_seed(&drop, 6, DB_RNG_DROPOUT, 6);
    layer L;
    layer_init(&L, B, D, H, 0.25f, &r, &drop);
    kbuf k;
    kbuf_init(&k, &L, B, T);
    float *x = xcalloc(B * T * D, 4), *hf = xcalloc(B * H, 4), *hseq = xcalloc(B * T * H, 4);
    fill(x, B * T * D, &r, -1, 1);
    double *dx = to_d(x, B * T * D), *rf = xcalloc(B * H, 8), *rs = xcalloc(B * T * H, 8);
    gru_forward_ex(hf, hseq, k.cache, x, len, L.rmask, L.rrate, L.wx, L.wh, L.bx, L.bh,
                   &k.s);
    ref_gru(rf, rs, dx, len, &L, B, T);
    for (size_t i = 0; i < B * H; i++)
        ck_assert_msg(fabs(hf[i] - rf[i]) < 2e-5, "hfinal[%zu] %g vs %g", i, hf[i], rf[i]);
    for (size_t i = 0; i < B * T * H; i++)
        ck_assert_msg(fabs(hseq[i] - rs[i]) < 2e-5, "hseq[%zu] %g vs %g", i, hseq[i], rs[i]);
    free(x), free(hf), free(hseq), free(dx), free(rf), free(rs);
    kbuf_free(&k);
    layer_free(&L);
}
END_TEST

/* ---- a two-layer stack ---------------------------------------------------- */

/* x -> GRU 1 (hseq) -> dropout with a fixed mask (element-wise over
 * (B, T, H1), or locked: one draw per (example, feature)) -> GRU 2 ->
 * L = sum(hfinal2 * R). */
typedef struct {
    size_t B, T;
    const uint32_t *len;
    layer *L1, *L2;
    const uint8_t *mask;
    int locked;
    float rate;
    double *x, *R, *hf1, *hseq1, *x2, *hf2, *hseq2;
} stack_ctx;

static double stack_loss(void *p)
{
    stack_ctx *c = p;
    const size_t B = c->B, T = c->T, H1 = c->L1->H, H2 = c->L2->H;
    const double scale = 1.0 / (1.0 - (double)c->rate);
    ref_gru(c->hf1, c->hseq1, c->x, c->len, c->L1, B, T);
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++)
            for (size_t j = 0; j < H1; j++) {
                size_t i = (b * T + t) * H1 + j;
                uint8_t keep = c->locked ? c->mask[b * H1 + j] : c->mask[i];
                c->x2[i] = keep ? c->hseq1[i] * scale : 0.0;
            }
    ref_gru(c->hf2, c->hseq2, c->x2, c->len, c->L2, B, T);
    double s = 0.0;
    for (size_t i = 0; i < B * H2; i++)
        s += c->hf2[i] * c->R[i];
    return s;
}

static void check_stack(int locked, float rrate1, float rrate2, uint64_t seed)
{
    const size_t B = 5, T = 4, D = 3, H1 = 5, H2 = 4;
    const uint32_t len[5] = {4, 2, 0, 2, 1};
    const float rate = 0.3f;
    db_rng r, drop;
    db_rng_seed(&r, seed, DB_RNG_TEST, 40);
    db_rng_seed(&drop, seed, DB_RNG_DROPOUT, 40);
    layer L1, L2;
    layer_init(&L1, B, D, H1, rrate1, &r, &drop);
    layer_init(&L2, B, H1, H2, rrate2, &r, &drop);
    kbuf k1, k2;
    kbuf_init(&k1, &L1, B, T);
    kbuf_init(&k2, &L2, B, T);
    const size_t nx = B * T * D, n1 = B * T * H1;
    uint8_t *mask = xcalloc(n1, 1);
    dropout_draw_mask(mask, locked ? B * H1 : n1, rate, &drop);
    float *x = xcalloc(nx, 4), *R = xcalloc(B * H2, 4), *hf1 = xcalloc(B * H1, 4),
          *hseq1 = xcalloc(n1, 4), *x2 = xcalloc(n1, 4), *hf2 = xcalloc(B * H2, 4),
          *dx = xcalloc(nx, 4), *dx2 = xcalloc(n1, 4), *dhseq1 = xcalloc(n1, 4);
    fill(x, nx, &r, -1, 1);
    fill(R, B * H2, &r, -1, 1);

    /* The stack from layer calls, as a model would run it. */
    gru_forward_ex(hf1, hseq1, k1.cache, x, len, L1.rmask, L1.rrate, L1.wx, L1.wh,
                   L1.bx, L1.bh, &k1.s);
    if (locked)
        dropout_locked_apply(x2, mask, hseq1, B, T, H1, rate);
    else
        dropout_apply(x2, mask, hseq1, B, T * H1, 1, rate);
    gru_forward_ex(hf2, NULL, k2.cache, x2, len, L2.rmask, L2.rrate, L2.wx, L2.wh,
                   L2.bx, L2.bh, &k2.s);
    gru_backward_ex(dx2, k2.gwx, k2.gwh, k2.gbx, k2.gbh, R, NULL, k2.cache, x2, len,
                    L2.rmask, L2.rrate, L2.wx, L2.wh, &k2.s, k2.work);
    if (locked)
        dropout_locked_backward(dhseq1, dx2, mask, B, T, H1, rate);
    else
        dropout_backward(dhseq1, dx2, mask, B, T * H1, 1, rate);
    gru_backward_ex(dx, k1.gwx, k1.gwh, k1.gbx, k1.gbh, NULL, dhseq1, k1.cache, x, len,
                    L1.rmask, L1.rrate, L1.wx, L1.wh, &k1.s, k1.work);

    stack_ctx c = {B, T, len, &L1, &L2, mask, locked, rate, to_d(x, nx), to_d(R, B * H2),
                   xcalloc(B * H1, 8), xcalloc(n1, 8), xcalloc(n1, 8), xcalloc(B * H2, 8),
                   xcalloc(B * T * H2, 8)};
    stack_loss(&c);
    for (size_t i = 0; i < B * H2; i++)
        ck_assert_msg(fabs(hf2[i] - c.hf2[i]) < 1e-5, "stack hfinal[%zu] %g vs %g", i,
                      hf2[i], c.hf2[i]);
    double *g = xcalloc(nx, 8);
    numgrad(g, c.x, nx, stack_loss, &c);
    check_grad("stack dx", dx, g, nx);
    check_param_grads("stack layer 2", &L2, &k2, stack_loss, &c);
    check_param_grads("stack layer 1", &L1, &k1, stack_loss, &c);

    free(g), free(mask), free(x), free(R), free(hf1), free(hseq1), free(x2), free(hf2);
    free(dx), free(dx2), free(dhseq1);
    free(c.x), free(c.R), free(c.hf1), free(c.hseq1), free(c.x2), free(c.hf2), free(c.hseq2);
    kbuf_free(&k1), kbuf_free(&k2);
    layer_free(&L1), layer_free(&L2);
}

START_TEST(test_stack_two_layers)
{
    check_stack(0, 0.0f, 0.0f, 7);
}
END_TEST

START_TEST(test_stack_two_layers_rdrop_locked)
{
    /* recurrent dropout in both layers, locked dropout between them */
    check_stack(1, 0.3f, 0.4f, 8);
}
END_TEST

/* ---- the additions off: the old entry points' bits ------------------------ */

/* gru_forward / gru_backward against the _ex forms with NULLs, with and
 * without the recurrent-dropout flag on the shape; an output sequence
 * requested changes no other bit; recurrent dropout at rate 0 with an
 * all-ones mask gives the plain forward's bits. */
START_TEST(test_old_path_bits)
{
    const size_t B = 7, T = 6, D = 5, H = 13;
    const uint32_t len[7] = {6, 2, 0, 6, 3, 9, 1};
    db_rng r, drop;
    db_rng_seed(&r, 9, DB_RNG_TEST, 9);
    db_rng_seed(&drop, 9, DB_RNG_DROPOUT, 9);
    layer L;
    layer_init(&L, B, D, H, 0.0f, &r, &drop);
    gru_shape s0, s1;
    db_err e;
    ck_assert(gru_shape_init(&s0, B, T, D, H, &e) == 0);
    ck_assert_int_eq(s0.rdrop, 0);
    s1 = s0;
    ck_assert(gru_shape_set_rdrop(&s1, 1, &e) == 0);
    ck_assert_uint_eq(gru_cache_floats(&s1), gru_cache_floats(&s0) + T * B * H);
    ck_assert_uint_eq(gru_work_floats(&s1), gru_work_floats(&s0) + B * H);
    const size_t cf = gru_cache_floats(&s0), wf = gru_work_floats(&s0);
    const size_t nx = B * T * D, ng[5] = {nx, 3 * H * D, 3 * H * H, 3 * H, 3 * H};
    float *x = xcalloc(nx, 4), *R = xcalloc(B * H, 4);
    fill(x, nx, &r, -1, 1);
    fill(R, B * H, &r, -1, 1);
    uint8_t *ones = xcalloc(B * H, 1);
    memset(ones, 1, B * H);

    /* run 0: gru_forward/gru_backward on s0; 1: _ex with NULLs on s0;
     * 2: _ex with NULLs on s1; 3: _ex with hseq on s1 */
    float *hf[4], *cache[4], *work[4], *grad[4][5], *hseq = xcalloc(B * T * H, 4);
    for (int k = 0; k < 4; k++) {
        hf[k] = xcalloc(B * H, 4);
        cache[k] = xcalloc(gru_cache_floats(&s1), 4);
        work[k] = xcalloc(gru_work_floats(&s1), 4);
        for (int q = 0; q < 5; q++) {
            grad[k][q] = xcalloc(ng[q], 4);
            for (size_t i = 0; i < ng[q]; i++)
                grad[k][q][i] = 0.125f * (float)(i % 5); /* accumulated into */
        }
    }
    gru_forward(hf[0], cache[0], x, len, L.wx, L.wh, L.bx, L.bh, &s0);
    gru_backward(grad[0][0], grad[0][1], grad[0][2], grad[0][3], grad[0][4], R,
                 cache[0], x, len, L.wx, L.wh, &s0, work[0]);
    for (int k = 1; k < 4; k++) {
        const gru_shape *s = k == 1 ? &s0 : &s1;
        gru_forward_ex(hf[k], k == 3 ? hseq : NULL, cache[k], x, len, NULL, 0.5f, L.wx,
                       L.wh, L.bx, L.bh, s);
        gru_backward_ex(grad[k][0], grad[k][1], grad[k][2], grad[k][3], grad[k][4], R,
                        NULL, cache[k], x, len, NULL, 0.5f, L.wx, L.wh, s, work[k]);
        ck_assert_msg(memcmp(hf[0], hf[k], B * H * 4) == 0, "run %d: hfinal", k);
        ck_assert_msg(memcmp(cache[0], cache[k], cf * 4) == 0, "run %d: cache", k);
        ck_assert_msg(memcmp(work[0], work[k], wf * 4) == 0, "run %d: work", k);
        for (int q = 0; q < 5; q++)
            ck_assert_msg(memcmp(grad[0][q], grad[k][q], ng[q] * 4) == 0,
                          "run %d: gradient %d", k, q);
    }
    /* hseq at each example's last step is its hfinal, bit for bit */
    for (size_t b = 0; b < B; b++)
        if (len[b] > 0) {
            size_t t = (len[b] < T ? len[b] : T) - 1;
            ck_assert(memcmp(hseq + (b * T + t) * H, hf[0] + b * H, H * 4) == 0);
        }
    /* rate 0, nothing dropped: h * 1 is h, the same products */
    float *hfm = xcalloc(B * H, 4);
    gru_forward_ex(hfm, NULL, cache[1], x, len, ones, 0.0f, L.wx, L.wh, L.bx, L.bh, &s1);
    ck_assert(memcmp(hfm, hf[0], B * H * 4) == 0);
    ck_assert(gru_shape_set_rdrop(&s1, 0, &e) == 0);
    ck_assert_uint_eq(gru_cache_floats(&s1), cf);

    for (int k = 0; k < 4; k++) {
        free(hf[k]), free(cache[k]), free(work[k]);
        for (int q = 0; q < 5; q++)
            free(grad[k][q]);
    }
    free(hseq), free(hfm), free(x), free(R), free(ones);
    layer_free(&L);
}
END_TEST

/* dhfinal is the gradient at each example's last row of hseq: the two ways
 * of giving it agree (to rounding: the sums are ordered differently). */
START_TEST(test_dhfinal_is_last_dhseq)
{
    const size_t B = 6, T = 5, D = 3, H = 4;
    db_rng r, drop;
    db_rng_seed(&r, 10, DB_RNG_TEST, 10);
    db_rng_seed(&drop, 10, DB_RNG_DROPOUT, 10);
    layer L;
    layer_init(&L, B, D, H, 0.3f, &r, &drop);
    kbuf a, b;
    kbuf_init(&a, &L, B, T);
    kbuf_init(&b, &L, B, T);
    const size_t nx = B * T * D;
    float *x = xcalloc(nx, 4), *R = xcalloc(B * H, 4), *hf = xcalloc(B * H, 4),
          *dseq = xcalloc(B * T * H, 4), *dxa = xcalloc(nx, 4), *dxb = xcalloc(nx, 4);
    fill(x, nx, &r, -1, 1);
    fill(R, B * H, &r, -1, 1);
    for (size_t e = 0; e < B; e++)
        if (LEN6[e] > 0) {
            size_t t = (LEN6[e] < T ? LEN6[e] : T) - 1;
            memcpy(dseq + (e * T + t) * H, R + e * H, H * 4);
        }
    gru_forward_ex(hf, NULL, a.cache, x, LEN6, L.rmask, L.rrate, L.wx, L.wh, L.bx, L.bh,
                   &a.s);
    gru_backward_ex(dxa, a.gwx, a.gwh, a.gbx, a.gbh, R, NULL, a.cache, x, LEN6, L.rmask,
                    L.rrate, L.wx, L.wh, &a.s, a.work);
    gru_backward_ex(dxb, b.gwx, b.gwh, b.gbx, b.gbh, NULL, dseq, a.cache, x, LEN6,
                    L.rmask, L.rrate, L.wx, L.wh, &b.s, b.work);
    const float *ga[5] = {dxa, a.gwx, a.gwh, a.gbx, a.gbh};
    const float *gb[5] = {dxb, b.gwx, b.gwh, b.gbx, b.gbh};
    const size_t n[5] = {nx, 3 * H * D, 3 * H * H, 3 * H, 3 * H};
    for (int q = 0; q < 5; q++)
        for (size_t i = 0; i < n[q]; i++)
            ck_assert_msg(fabsf(ga[q][i] - gb[q][i]) <= 1e-5f * fabsf(ga[q][i]) + 1e-6f,
                          "gradient %d [%zu]: %g vs %g", q, i, ga[q][i], gb[q][i]);
    free(x), free(R), free(hf), free(dseq), free(dxa), free(dxb);
    kbuf_free(&a), kbuf_free(&b);
    layer_free(&L);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("kernels_gru_seq");
    TCase *tc = tcase_create("gru_seq");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_seq_only);
    tcase_add_test(tc, test_seq_and_final);
    tcase_add_test(tc, test_rdrop_final);
    tcase_add_test(tc, test_rdrop_seq);
    tcase_add_test(tc, test_rdrop_seq_only);
    tcase_add_test(tc, test_rdrop_forward_wide);
    tcase_add_test(tc, test_stack_two_layers);
    tcase_add_test(tc, test_stack_two_layers_rdrop_locked);
    tcase_add_test(tc, test_old_path_bits);
    tcase_add_test(tc, test_dhfinal_is_last_dhseq);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
