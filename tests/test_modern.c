/* test_modern.c - the layers and dropout modes of issue 21 inside the model
 * (docs/MODERN.md): batchnorm (gradient through the model, running
 * statistics, evaluation, threads, checkpoints) and the dropout relatives
 * gaussian, dropconnect and dropblock (gradients through the model with
 * their masks held fixed, and the drop rate and scaling the model applies),
 * and the Monte-Carlo evaluation pass.  The kernels' own tests are
 * test_batchnorm.c and test_dropvariants.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "test_util.h"
#include "test_train.h"
#include "pytorch/bn_case.h"
#include "train/calib.h"
#include "train/ckpt.h"
#include "train/model.h"
#include "train/run.h"
#include "train/train.h"
#include "strategy.h"
#include "report/aggregate.h"
#include "report/write.h"
#include "sweep/plan.h"
#include "util/jsonio.h"

#define CONV(f, k, p) { .type = DB_LAYER_CONV, .units = (f), .kernel = (k), .stride = 1, .pad = (p) }
#define RELU { .type = DB_LAYER_RELU }
#define SIGM { .type = DB_LAYER_SIGMOID }
#define BN { .type = DB_LAYER_BATCHNORM }
#define POOL(k, s, p) { .type = DB_LAYER_MAXPOOL, .kernel = (k), .stride = (s), .pad = (p) }
#define DENSE(u) { .type = DB_LAYER_DENSE, .units = (u) }
#define DROPM(p, m) { .type = DB_LAYER_DROPOUT, .rate = (p), .mode = (m), .site = DB_SITE_USER }
/* the papers' weight scaling (db_layer.wscale) */
#define DROPW(p, m) { .type = DB_LAYER_DROPOUT, .rate = (p), .mode = (m), .site = DB_SITE_USER, \
                      .wscale = 1 }
#define DROPB(p, b) { .type = DB_LAYER_DROPOUT, .rate = (p), .mode = DROPOUT_DROPBLOCK, \
                      .site = DB_SITE_USER, .block = (b) }

typedef struct net {
    const char *name;
    size_t c, h, w, classes, B;
    size_t nl;
    db_layer layers[12];
} net;

static void build(db_model *m, const net *nc, size_t threads, uint64_t seed)
{
    db_arch a = { .n = nc->nl };
    memcpy(a.layers, nc->layers, nc->nl * sizeof a.layers[0]);
    db_model_input in = { .text = 0, .c = nc->c, .h = nc->h, .w = nc->w,
                          .classes = nc->classes };
    db_err e;
    ck_assert_msg(db_model_build(m, &a, &in, nc->B, &e) == 0, "%s: %s", nc->name, e.msg);
    ck_assert_msg(db_model_set_threads(m, threads, &e) == 0, "%s", e.msg);
    db_model_init(m, seed);
    db_rng r;
    db_rng_seed(&r, 21, DB_RNG_TEST, 0);
    const size_t nin = nc->B * nc->c * nc->h * nc->w;
    for (size_t i = 0; i < nin; i++)
        m->input[i] = 2.0f * db_rng_uniform(&r) - 1.0f;
}

static void labels_of(uint8_t *labels, const net *nc)
{
    for (size_t i = 0; i < nc->B; i++)
        labels[i] = (uint8_t)(i * 7 % nc->classes);
}

/* Every dropout site's training stream, saved and put back: the same masks
 * on every forward of a gradient check. */
static void save_streams(const db_model *m, db_rng *saved)
{
    for (size_t i = 0; i < m->nl; i++)
        saved[i] = m->L[i].rng;
}

static void load_streams(db_model *m, const db_rng *saved)
{
    for (size_t i = 0; i < m->nl; i++)
        m->L[i].rng = saved[i];
}

/* Central differences of the training loss (masks fixed, batch statistics)
 * against db_model_backward, for every parameter of the net. */
static void gradcheck(const net *nc)
{
    db_model m;
    build(&m, nc, 1, 3);
    if (strcmp(nc->name, "batchnorm-winograd") == 0 &&
        strcmp(conv2d_kernels(), "direct-avx2+winograd") == 0)
        ck_assert_msg(conv2d_is_winograd(&m.L[0].conv), "%s: the conv is not on Winograd",
                      nc->name);
    uint8_t labels[64];
    labels_of(labels, nc);
    db_rng saved[DB_ARCH_MAX];
    save_streams(&m, saved);
    size_t c = 0;
    db_model_forward(&m, nc->B, labels, 1, &c);
    db_model_backward(&m, nc->B, labels);
    float *g = malloc(m.nparams * sizeof *g);
    ck_assert_ptr_nonnull(g);
    memcpy(g, m.grads, m.nparams * sizeof *g);
    float gmax = 0.0f;
    for (size_t k = 0; k < m.nparams; k++)
        gmax = fabsf(g[k]) > gmax ? fabsf(g[k]) : gmax;
    ck_assert_msg(gmax > 1e-4f, "%s: no gradient", nc->name);
    size_t bad = 0, checked = 0, nonzero = 0;
    for (size_t k = 0; k < m.nparams; k++) {
        const float p = m.params[k];
        const float h = 1e-2f * (fabsf(p) > 1.0f ? fabsf(p) : 1.0f);
        m.params[k] = p + h;
        load_streams(&m, saved);
        double lp = db_model_forward(&m, nc->B, labels, 1, &c);
        m.params[k] = p - h;
        load_streams(&m, saved);
        double lm = db_model_forward(&m, nc->B, labels, 1, &c);
        m.params[k] = p;
        const double num = (lp - lm) / ((double)(p + h) - (double)(p - h));
        const double err = fabs(num - (double)g[k]);
        checked++;
        nonzero += fabs(num) > 1e-3 * gmax;
        if (err > 2e-3 * gmax + 3e-2 * fabs(num)) {
            if (bad < 5)
                fprintf(stderr, "%s: parameter %zu: numeric %.6g, backward %.6g\n",
                        nc->name, k, num, (double)g[k]);
            bad++;
        }
    }
    ck_assert_msg(bad == 0, "%s: %zu of %zu gradients off", nc->name, bad, checked);
    ck_assert_msg(nonzero > checked / 4, "%s: too few gradients to check (%zu of %zu)",
                  nc->name, nonzero, checked);
    free(g);
    db_model_free(&m);
}

/* Smooth nets (sigmoid, no pools) so that central differences see no kink. */
static const net grad_nets[] = {
    /* batchnorm per channel after a conv and per unit after a dense layer */
    { "batchnorm", 2, 6, 6, 3, 8, 7,
      { CONV(3, 3, 1), BN, SIGM, DENSE(5), BN, SIGM, DENSE(3) } },
    /* a 5x5 conv of 6 channels with 8x8 outputs, under a batchnorm: where
     * the direct kernels run, its weight gradient is Winograd's (not from
     * a pool's gradient), and its input gradient too */
    { "batchnorm-winograd", 6, 8, 8, 3, 3, 4, { CONV(4, 5, 2), BN, SIGM, DENSE(3) } },
    /* batchnorm's input gradient through a layer below it */
    { "batchnorm-deep", 1, 5, 5, 3, 6, 6,
      { CONV(2, 3, 0), SIGM, CONV(3, 3, 1), BN, SIGM, DENSE(3) } },
    { "gaussian", 1, 4, 4, 3, 8, 5,
      { DENSE(6), SIGM, DROPM(0.3, DROPOUT_GAUSSIAN), DENSE(5), DENSE(3) } },
    /* DropConnect on a hidden dense layer (with an input gradient below it)
     * and on the output layer */
    { "dropconnect", 1, 4, 4, 3, 8, 7,
      { DENSE(6), SIGM, DROPM(0.4, DROPOUT_DROPCONNECT), DENSE(5), SIGM,
        DROPM(0.25, DROPOUT_DROPCONNECT), DENSE(3) } },
    { "dropblock", 2, 6, 6, 3, 6, 5,
      { CONV(3, 3, 1), SIGM, DROPB(0.3, 3), CONV(2, 3, 1), DENSE(3) } },
    /* weight scaling: kept units unscaled, element-wise on dense layers
     * and channel-wise on a conv map */
    { "weight-scaling", 1, 4, 4, 3, 8, 7,
      { DENSE(6), SIGM, DROPW(0.3, DROPOUT_ELEMENT), DENSE(5), SIGM,
        DROPW(0.5, DROPOUT_ELEMENT), DENSE(3) } },
    { "weight-scaling-channel", 2, 6, 6, 3, 6, 4,
      { CONV(3, 3, 1), SIGM, DROPW(0.25, DROPOUT_CHANNEL), DENSE(3) } },
    /* all of it together, with batchnorm after the dropouts (Li et al.'s
     * variance shift case) */
    { "mixed", 2, 6, 6, 3, 8, 10,
      { CONV(3, 3, 1), SIGM, DROPB(0.2, 2), CONV(3, 3, 1), BN, SIGM, DENSE(6),
        DROPM(0.3, DROPOUT_GAUSSIAN), BN, DENSE(3) } },
};

START_TEST(gradients_through_the_model)
{
    gradcheck(&grad_nets[_i]);
}
END_TEST

/* Running statistics after one training forward: (1 - 0.1) * start + 0.1 *
 * the batch's mean and UNBIASED variance, worked out here in double from
 * the layer's input; evaluation then normalises with them, element by
 * element, whatever the rest of the batch (and the ReLU above applies). */
START_TEST(batchnorm_running_statistics_and_evaluation)
{
    const net nc = { "bn", 2, 5, 5, 3, 7, 5, { CONV(4, 3, 1), BN, RELU, DENSE(4), DENSE(3) } };
    db_model m;
    build(&m, &nc, 1, 5);
    uint8_t labels[64];
    labels_of(labels, &nc);
    size_t c = 0;
    db_model_forward(&m, nc.B, labels, 1, &c);
    const db_mlayer *L = &m.L[1];
    const size_t C = L->in_c, S = L->in_h * L->in_w, n = nc.B * S;
    ck_assert_uint_eq(m.nstate, 2 * C);
    /* the batchnorm layer writes its ReLU's output (plan_fusion) */
    ck_assert(L->relu_fused && L->out == m.L[2].out);
    for (size_t ch = 0; ch < C; ch++) {
        double s = 0, ss = 0;
        for (size_t b = 0; b < nc.B; b++)
            for (size_t k = 0; k < S; k++)
                s += m.L[0].out[(b * C + ch) * S + k];
        const double mean = s / (double)n;
        for (size_t b = 0; b < nc.B; b++)
            for (size_t k = 0; k < S; k++) {
                double d = m.L[0].out[(b * C + ch) * S + k] - mean;
                ss += d * d;
            }
        const double var_u = ss / (double)(n - 1);
        const double rm = m.state[L->s_off + ch], rv = m.state[L->s_off + C + ch];
        ck_assert_msg(fabs(rm - 0.1 * mean) <= 1e-6 * (1 + fabs(mean)),
                      "channel %zu: running mean %.9g, want %.9g", ch, rm, 0.1 * mean);
        ck_assert_msg(fabs(rv - (0.9 + 0.1 * var_u)) <= 1e-6 * (1 + var_u),
                      "channel %zu: running var %.9g, want %.9g", ch, rv, 0.9 + 0.1 * var_u);
    }
    /* evaluation: deterministic, per example, and leaves the state alone */
    float *state = malloc(m.nstate * sizeof *state);
    ck_assert_ptr_nonnull(state);
    memcpy(state, m.state, m.nstate * sizeof *state);
    db_model_forward(&m, nc.B, labels, 0, &c);
    const size_t os = L->out_size;
    float *first = malloc(nc.B * os * sizeof *first);
    ck_assert_ptr_nonnull(first);
    memcpy(first, L->out, nc.B * os * sizeof *first);
    db_model_forward(&m, nc.B, labels, 0, &c);
    ck_assert(memcmp(first, L->out, nc.B * os * sizeof *first) == 0);
    ck_assert(memcmp(state, m.state, m.nstate * sizeof *state) == 0);
    for (size_t ch = 0; ch < C; ch++) {
        const float mu = m.state[L->s_off + ch], var = m.state[L->s_off + C + ch];
        const float gam = m.params[L->w_off + ch], bet = m.params[L->b_off + ch];
        for (size_t k = 0; k < S; k++) {
            double want = gam * (m.L[0].out[ch * S + k] - mu) / sqrt(var + 1e-5) + bet;
            want = want < 0 ? 0 : want; /* the ReLU above, fused into the layer */
            ck_assert_msg(fabs(first[ch * S + k] - want) <= 1e-5 * (1 + fabs(want)),
                          "evaluation output %.9g, want %.9g", first[ch * S + k], want);
        }
    }
    /* example 0 alone gives the same output as within the batch: the
     * running statistics, not the batch's.  Within rounding, not to the
     * bit: this small conv runs as one sgemm over the batch's im2col
     * columns, and OpenBLAS's Haswell and Zen kernels round a column in
     * an edge tile differently from the same column in a full one (its
     * SkylakeX and Cooperlake kernels happen not to). */
    db_model_forward(&m, 1, labels, 0, &c);
    for (size_t k = 0; k < os; k++)
        ck_assert_msg(fabsf(first[k] - L->out[k]) <= 1e-6f * (1.0f + fabsf(first[k])),
                      "example 0 alone: output %zu is %.9g, %.9g within the batch", k,
                      L->out[k], first[k]);
    /* a training batch of one example cannot normalise a dense layer's units */
    const net dn = { "bn-dense", 1, 3, 3, 3, 4, 4, { DENSE(4), BN, RELU, DENSE(3) } };
    db_model d;
    build(&d, &dn, 1, 5);
    db_err e;
    ck_assert_int_eq(db_model_check_train_batch(&d, 2, &e), 0);
    ck_assert_int_eq(db_model_check_train_batch(&d, 1, &e), -1);
    ck_assert_msg(strstr(e.msg, "layer 1 (batchnorm)") != NULL, "%s", e.msg);
    ck_assert_int_eq(db_model_check_train_batch(&m, 1, &e), 0); /* 25 values a channel */
    db_model_free(&d);
    free(first);
    free(state);
    db_model_free(&m);
}
END_TEST

/* The moments of batchnorm's inputs: a model run many times in training on
 * one batch (no update) has running variances that converge to the
 * unbiased variance of that batch's input (n / (n - 1) times the biased
 * one); the first batchnorm's input is the same in evaluation, so the
 * variance db_model_bn_moments gives for the batch, set beside the running
 * variance, is n / (n - 1) for every channel.  Both layers' channels are
 * counted, in layer order, with B * S values each. */
START_TEST(batchnorm_moments_and_variance_ratio)
{
    const net nc = { "bn2", 2, 4, 4, 3, 5, 7,
                     { CONV(3, 3, 1), BN, RELU, DENSE(4), BN, RELU, DENSE(3) } };
    db_model m;
    build(&m, &nc, 1, 29);
    uint8_t labels[64];
    labels_of(labels, &nc);
    size_t c = 0;
    for (int k = 0; k < 400; k++)
        db_model_forward(&m, nc.B, labels, 1, &c);
    db_model_forward(&m, nc.B, labels, 0, &c);
    double acc[3 * 7] = { 0 };
    db_model_bn_moments(&m, nc.B, acc);
    ck_assert_uint_eq(m.nstate / 2, 3 + 4);
    const db_mlayer *L = &m.L[1];
    const double n = (double)(nc.B * 16);
    for (size_t ch = 0; ch < 3; ch++) {
        const double *a = acc + 3 * ch;
        ck_assert(a[0] == n);
        const double mu = a[1] / a[0], var = a[2] / a[0] - mu * mu;
        const double r = m.state[L->s_off + 3 + ch] / var;
        ck_assert_msg(fabs(r - n / (n - 1)) < 1e-4, "channel %zu: ratio %.7f, want %.7f", ch,
                      r, n / (n - 1));
        ck_assert_msg(fabs(m.state[L->s_off + ch] - mu) < 1e-5 * (1 + fabs(mu)),
                      "channel %zu: running mean %.7g, batch mean %.7g", ch,
                      m.state[L->s_off + ch], mu);
    }
    for (size_t ch = 3; ch < 7; ch++)
        ck_assert(acc[3 * ch] == (double)nc.B);
    db_model_free(&m);
}
END_TEST

/* Batchnorm splits its channels over the team: the same bits on 1 and 2
 * threads (forward, running statistics, gamma and beta gradients). */
START_TEST(batchnorm_threads_agree)
{
    const net nc = { "bn-first", 5, 4, 4, 3, 9, 3, { BN, DENSE(7), DENSE(3) } };
    db_model a, b;
    build(&a, &nc, 1, 9);
    build(&b, &nc, 2, 9);
    uint8_t labels[64];
    labels_of(labels, &nc);
    size_t c = 0;
    db_model_forward(&a, nc.B, labels, 1, &c);
    db_model_forward(&b, nc.B, labels, 1, &c);
    ck_assert(memcmp(a.L[0].out, b.L[0].out, nc.B * a.L[0].out_size * sizeof(float)) == 0);
    ck_assert(memcmp(a.state, b.state, a.nstate * sizeof(float)) == 0);
    db_model_backward(&a, nc.B, labels);
    db_model_backward(&b, nc.B, labels);
    /* the dense layer above may round its input gradient differently per
     * thread count; gamma and beta from the same gradient agree to rounding */
    const db_mlayer *L = &a.L[0];
    for (size_t k = 0; k < L->w_n + L->b_n; k++) {
        float x = a.grads[L->w_off + k], y = b.grads[L->w_off + k];
        ck_assert_msg(fabsf(x - y) <= 1e-5f * (1.0f + fabsf(x)), "%zu: %g vs %g", k, x, y);
    }
    db_model_free(&a);
    db_model_free(&b);
}
END_TEST

/* Inserting batchnorm layers does not move the other layers' INIT streams:
 * conv and dense weights start as in the net without them. */
START_TEST(batchnorm_keeps_the_initial_weights)
{
    const net with = { "w", 2, 5, 5, 3, 4, 7,
                       { CONV(3, 3, 1), BN, RELU, DENSE(6), BN, RELU, DENSE(3) } };
    const net without = { "wo", 2, 5, 5, 3, 4, 5,
                          { CONV(3, 3, 1), RELU, DENSE(6), RELU, DENSE(3) } };
    db_model a, b;
    build(&a, &with, 1, 11);
    build(&b, &without, 1, 11);
    const size_t pairs[3][2] = { { 0, 0 }, { 3, 2 }, { 6, 4 } };
    for (int k = 0; k < 3; k++) {
        const db_mlayer *x = &a.L[pairs[k][0]], *y = &b.L[pairs[k][1]];
        ck_assert_uint_eq(x->w_n + x->b_n, y->w_n + y->b_n);
        ck_assert(memcmp(a.params + x->w_off, b.params + y->w_off,
                         (x->w_n + x->b_n) * sizeof(float)) == 0);
    }
    for (size_t k = 0; k < a.L[1].w_n; k++) {
        ck_assert(a.params[a.L[1].w_off + k] == 1.0f);
        ck_assert(a.params[a.L[1].b_off + k] == 0.0f);
        ck_assert(a.state[a.L[1].s_off + k] == 0.0f);
        ck_assert(a.state[a.L[1].s_off + a.L[1].w_n + k] == 1.0f);
    }
    db_model_free(&a);
    db_model_free(&b);
}
END_TEST

/* A checkpoint carries the running statistics: decoding puts them back. */
START_TEST(checkpoint_restores_running_statistics)
{
    const net nc = { "bn", 2, 5, 5, 3, 6, 5, { CONV(4, 3, 1), BN, RELU, DENSE(4), DENSE(3) } };
    db_model m;
    build(&m, &nc, 1, 5);
    uint8_t labels[64];
    labels_of(labels, &nc);
    size_t c = 0;
    db_model_forward(&m, nc.B, labels, 1, &c); /* running stats move */
    db_rng order;
    db_rng_seed(&order, 1, DB_RNG_TEST, 1);
    uint32_t idx[4] = { 0, 1, 2, 3 };
    double ep[3 * 2] = { 0 }, times[2] = { 0 };
    size_t done = 1;
    uint64_t fp = 5;
    db_ckpt_view v = { "0123456789abcdef", "Haswell/direct-avx2+winograd", &m, &order, idx,
                       4, ep, 3, 2, &done, &fp, times, 2, NULL, 0 };
    size_t n = db_ckpt_size(&v);
    unsigned char *buf = malloc(n);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(db_ckpt_encode(buf, n, &v), n);
    float *want = malloc(m.nstate * sizeof *want);
    ck_assert_ptr_nonnull(want);
    memcpy(want, m.state, m.nstate * sizeof *want);
    ck_assert(want[0] != 0.0f);
    for (size_t k = 0; k < m.nstate; k++)
        m.state[k] = -7.0f;
    db_err e;
    ck_assert_msg(db_ckpt_decode(buf, n, &v, &e) == 0, "%s", e.msg);
    ck_assert(memcmp(want, m.state, m.nstate * sizeof *want) == 0);
    /* a checkpoint with another amount of state is refused */
    m.nstate--;
    ck_assert_int_eq(db_ckpt_decode(buf, n, &v, &e), -1);
    m.nstate++;
    free(want);
    free(buf);
    db_model_free(&m);
}
END_TEST

static void near_f(const char *what, const float *got, const float *want, size_t n,
                   float tol)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabsf(got[i] - want[i]) <= tol * (1.0f + fabsf(want[i])),
                      "%s[%zu]: %.7g, PyTorch %.7g", what, i, got[i], want[i]);
}

/* The model against PyTorch's nn.BatchNorm2d / nn.BatchNorm1d in the same
 * net with the same weights (tests/pytorch/gen_bn_case.py): training loss,
 * logits and every gradient, the running statistics after that step, and
 * the evaluation logits from them. */
START_TEST(pytorch_batchnorm_semantics)
{
    db_arch a = { .n = 7, .layers = { CONV(BN_F, 3, 1), BN, RELU, DENSE(BN_U), BN, RELU,
                                      DENSE(BN_K) } };
    db_model_input in = { .c = BN_C, .h = BN_H, .w = BN_W, .classes = BN_K };
    db_model m;
    db_err e;
    ck_assert_msg(db_model_build(&m, &a, &in, BN_B, &e) == 0, "%s", e.msg);
    db_model_init(&m, 1);
    const float *src[5][2] = { { bn_conv_w, bn_conv_b }, { bn_bn2_w, bn_bn2_b },
                               { bn_fc1_w, bn_fc1_b }, { bn_bn1_w, bn_bn1_b },
                               { bn_fc2_w, bn_fc2_b } };
    const float *grad[5][2] = { { bn_grad_conv_w, bn_grad_conv_b },
                                { bn_grad_bn2_w, bn_grad_bn2_b },
                                { bn_grad_fc1_w, bn_grad_fc1_b },
                                { bn_grad_bn1_w, bn_grad_bn1_b },
                                { bn_grad_fc2_w, bn_grad_fc2_b } };
    const size_t layer[5] = { 0, 1, 3, 4, 6 };
    for (int k = 0; k < 5; k++) {
        const db_mlayer *L = &m.L[layer[k]];
        memcpy(m.params + L->w_off, src[k][0], L->w_n * sizeof(float));
        memcpy(m.params + L->b_off, src[k][1], L->b_n * sizeof(float));
    }
    memcpy(m.input, bn_x, sizeof bn_x);
    size_t c = 0;
    double loss = db_model_forward(&m, BN_B, bn_labels, 1, &c);
    ck_assert_msg(fabs(loss - bn_loss) <= 1e-5 * (1 + fabs(bn_loss)), "loss %.9g, PyTorch %.9g",
                  loss, bn_loss);
    near_f("logits", m.L[6].out, bn_logits, BN_B * BN_K, 1e-5f);
    db_model_backward(&m, BN_B, bn_labels);
    for (int k = 0; k < 5; k++) {
        const db_mlayer *L = &m.L[layer[k]];
        float gmax = 0.0f;
        for (size_t i = 0; i < L->w_n; i++)
            gmax = fabsf(grad[k][0][i]) > gmax ? fabsf(grad[k][0][i]) : gmax;
        for (size_t i = 0; i < L->w_n; i++)
            ck_assert_msg(fabsf(m.grads[L->w_off + i] - grad[k][0][i]) <= 1e-4f * gmax + 1e-7f,
                          "layer %zu weight gradient [%zu]: %.7g, PyTorch %.7g", layer[k], i,
                          m.grads[L->w_off + i], grad[k][0][i]);
        near_f("bias gradient", m.grads + L->b_off, grad[k][1], L->b_n, 1e-4f);
    }
    near_f("BatchNorm2d running mean", m.state + m.L[1].s_off, bn_bn2_run_mean, BN_F, 1e-5f);
    near_f("BatchNorm2d running var", m.state + m.L[1].s_off + BN_F, bn_bn2_run_var, BN_F,
           1e-5f);
    near_f("BatchNorm1d running mean", m.state + m.L[4].s_off, bn_bn1_run_mean, BN_U, 1e-5f);
    near_f("BatchNorm1d running var", m.state + m.L[4].s_off + BN_U, bn_bn1_run_var, BN_U,
           1e-5f);
    db_model_forward(&m, BN_B, bn_labels, 0, &c);
    near_f("evaluation logits", m.L[6].out, bn_eval_logits, BN_B * BN_K, 1e-5f);
    db_model_free(&m);
}
END_TEST

/* 5-sigma bound on a binomial proportion. */
static void near_rate(const char *what, double got, double p, double n)
{
    double sd = sqrt(p * (1 - p) / n);
    ck_assert_msg(fabs(got - p) <= 5 * sd + 1e-12, "%s: %.5f, expected %.5f (sd %.5f)", what,
                  got, p, sd);
}

/* Gaussian mode in the model: out = in * noise, noise of mean 1 and
 * variance rate / (1 - rate) per element; evaluation the identity. */
START_TEST(gaussian_mode_in_the_model)
{
    const net nc = { "g", 4, 8, 8, 3, 64, 3,
                     { DROPM(0.3, DROPOUT_GAUSSIAN), DENSE(4), DENSE(3) } };
    db_model m;
    build(&m, &nc, 2, 13);
    uint8_t labels[64];
    labels_of(labels, &nc);
    const size_t N = nc.B * m.L[0].out_size;
    for (size_t k = 0; k < N; k++)
        m.input[k] = 1.5f;
    size_t c = 0;
    db_model_forward(&m, nc.B, labels, 1, &c);
    double s = 0, ss = 0;
    for (size_t k = 0; k < N; k++) {
        double f = m.L[0].out[k] / 1.5;
        ck_assert(m.L[0].out[k] == 1.5f * m.L[0].noise[k]);
        s += f;
        ss += f * f;
    }
    const double mean = s / (double)N, var = ss / (double)N - mean * mean;
    const double want = 0.3 / 0.7;
    ck_assert_msg(fabs(mean - 1.0) <= 5 * sqrt(want / (double)N), "mean %.5f", mean);
    /* the variance of a sample variance of normals: 2 sigma^4 / N */
    ck_assert_msg(fabs(var - want) <= 5 * want * sqrt(2.0 / (double)N), "variance %.5f, "
                  "want %.5f", var, want);
    db_model_forward(&m, nc.B, labels, 0, &c);
    ck_assert(memcmp(m.L[0].out, m.input, N * sizeof(float)) == 0);
    db_model_free(&m);
}
END_TEST

/* Weight scaling in the model (the papers' dropout): training keeps a unit
 * as it is (out = in where the mask keeps it, 0 elsewhere, no 1 / (1 -
 * rate)), about rate of the units dropped, and from the same seed the same
 * mask as inverted dropout, whose output is this one times 1 / (1 - rate);
 * evaluation multiplies every unit by 1 - rate (with the drop rate checked,
 * the mean of the training outputs).  Element-wise and channel-wise. */
START_TEST(weight_scaling_mode_in_the_model)
{
    for (int mode = 0; mode < 2; mode++) {
        const int dm = mode ? DROPOUT_CHANNEL : DROPOUT_ELEMENT;
        const float rate = mode ? 0.4f : 0.25f;
        const net ws = { "ws", 4, 8, 8, 3, 64, 3, { DROPW(rate, dm), DENSE(4), DENSE(3) } };
        const net inv = { "inv", 4, 8, 8, 3, 64, 3, { DROPM(rate, dm), DENSE(4), DENSE(3) } };
        db_model m, n;
        build(&m, &ws, 2, 13);
        build(&n, &inv, 2, 13);
        uint8_t labels[64];
        labels_of(labels, &ws);
        const size_t N = ws.B * m.L[0].out_size, G = ws.B * m.L[0].drop_g;
        const size_t S = m.L[0].drop_s;
        ck_assert_uint_eq(S, mode ? 64 : 1);
        for (size_t k = 0; k < N; k++)
            m.input[k] = n.input[k] = 1.5f + (float)(k % 5);
        size_t c = 0;
        db_model_forward(&m, ws.B, labels, 1, &c);
        db_model_forward(&n, ws.B, labels, 1, &c);
        ck_assert(memcmp(m.L[0].mask, n.L[0].mask, G) == 0);
        size_t dropped = 0;
        for (size_t k = 0; k < N; k++) {
            const int kept = m.L[0].mask[k / S];
            ck_assert(m.L[0].out[k] == (kept ? m.input[k] : 0.0f));
            ck_assert(n.L[0].out[k] == (kept ? m.input[k] * (1.0f / (1.0f - rate)) : 0.0f));
        }
        for (size_t g = 0; g < G; g++)
            dropped += !m.L[0].mask[g];
        near_rate(mode ? "channel drop rate" : "element drop rate", (double)dropped / (double)G,
                  rate, (double)G);
        db_model_forward(&m, ws.B, labels, 0, &c);
        for (size_t k = 0; k < N; k++)
            ck_assert(m.L[0].out[k] == m.input[k] * (1.0f - rate));
        db_model_forward(&n, ws.B, labels, 0, &c);
        ck_assert(memcmp(n.L[0].out, n.input, N * sizeof(float)) == 0);
        db_model_free(&m);
        db_model_free(&n);
    }
}
END_TEST

/* DropConnect in the model: one weight mask per batch for the dense layer
 * above, about rate of it dropped, the layer's output that of
 * W' = W * mask / (1 - rate); evaluation uses W. */
START_TEST(dropconnect_mode_in_the_model)
{
    const net nc = { "dc", 1, 10, 10, 5, 6, 4,
                     { DENSE(60), DROPM(0.4, DROPOUT_DROPCONNECT), DENSE(40), DENSE(5) } };
    db_model m;
    build(&m, &nc, 2, 17);
    uint8_t labels[64];
    labels_of(labels, &nc);
    size_t c = 0;
    db_model_forward(&m, nc.B, labels, 1, &c);
    const db_mlayer *D = &m.L[1], *L = &m.L[2];
    ck_assert_int_eq(L->dc_from, 1);
    ck_assert(D->out == m.L[0].out); /* passes its input on */
    size_t kept = 0;
    for (size_t k = 0; k < L->w_n; k++)
        kept += D->mask[k];
    near_rate("dropconnect kept", (double)kept / (double)L->w_n, 0.6, (double)L->w_n);
    const float *W = m.params + L->w_off, *bias = m.params + L->b_off;
    const size_t In = L->in_size, O = L->out_size;
    for (size_t b = 0; b < nc.B; b++)
        for (size_t o = 0; o < O; o++) {
            double y = bias[o];
            for (size_t i = 0; i < In; i++)
                y += (double)m.L[0].out[b * In + i] *
                     (D->mask[o * In + i] ? W[o * In + i] / 0.6 : 0.0);
            ck_assert_msg(fabs(L->out[b * O + o] - y) <= 1e-4 * (1 + fabs(y)),
                          "training output %.7g, want %.7g", L->out[b * O + o], y);
        }
    db_model_forward(&m, nc.B, labels, 0, &c);
    for (size_t b = 0; b < nc.B; b++)
        for (size_t o = 0; o < O; o++) {
            double ye = bias[o];
            for (size_t i = 0; i < In; i++)
                ye += (double)m.L[0].out[b * In + i] * W[o * In + i];
            ck_assert_msg(fabs(L->out[b * O + o] - ye) <= 1e-4 * (1 + fabs(ye)),
                          "evaluation output %.7g, want %.7g", L->out[b * O + o], ye);
        }
    db_model_free(&m);
    /* anywhere but right before a dense layer is refused */
    const net bad = { "dc-bad", 1, 4, 4, 3, 2, 5,
                      { DENSE(6), RELU, DROPM(0.4, DROPOUT_DROPCONNECT), RELU, DENSE(3) } };
    db_arch a = { .n = bad.nl };
    memcpy(a.layers, bad.layers, bad.nl * sizeof a.layers[0]);
    db_model_input in = { .c = 1, .h = 4, .w = 4, .classes = 3 };
    db_err e;
    db_model x;
    ck_assert_int_eq(db_model_build(&x, &a, &in, 2, &e), -1);
    ck_assert_msg(strstr(e.msg, "dropconnect") && strstr(e.msg, "before a dense layer"),
                  "%s", e.msg);
}
END_TEST

/* DropBlock in the model: the dropped share near dropblock_expected_rate,
 * kept units scaled by the batch's count / kept; evaluation the identity;
 * refused on a flat input. */
START_TEST(dropblock_mode_in_the_model)
{
    const net nc = { "db", 3, 12, 12, 3, 32, 3, { DROPB(0.2, 3), DENSE(4), DENSE(3) } };
    db_model m;
    build(&m, &nc, 2, 19);
    uint8_t labels[64];
    labels_of(labels, &nc);
    size_t c = 0;
    db_model_forward(&m, nc.B, labels, 1, &c);
    const db_mlayer *L = &m.L[0];
    const size_t N = nc.B * L->out_size;
    size_t kept = 0;
    for (size_t k = 0; k < N; k++)
        kept += L->mask[k];
    ck_assert_uint_gt(kept, 0);
    const double want = dropblock_expected_rate(12, 12, 3, 0.2);
    /* units of one block are dropped together: the variance of the share is
     * at most block^2 times a binomial's */
    const double dropped = 1.0 - (double)kept / (double)N;
    ck_assert_msg(fabs(dropped - want) <= 5 * 3 * sqrt(want * (1 - want) / (double)N),
                  "dropped %.4f, expected %.4f", dropped, want);
    const float scale = (float)N / (float)kept;
    ck_assert(L->dbscale == scale);
    for (size_t k = 0; k < N; k++)
        ck_assert(L->out[k] == (L->mask[k] ? m.input[k] * scale : 0.0f));
    db_model_forward(&m, nc.B, labels, 0, &c);
    ck_assert(memcmp(L->out, m.input, N * sizeof(float)) == 0);
    db_model_free(&m);
    db_arch a = { .n = 3, .layers = { DENSE(4), DROPB(0.2, 3), DENSE(3) } };
    db_model_input in = { .c = 1, .h = 4, .w = 4, .classes = 3 };
    db_err e;
    db_model x;
    ck_assert_int_eq(db_model_build(&x, &a, &in, 2, &e), -1);
    ck_assert_msg(strstr(e.msg, "dropblock") != NULL, "%s", e.msg);
}
END_TEST

/* The Monte-Carlo pass: dropout on from the MC streams (the training
 * streams do not move), batchnorm on its running statistics (not updated),
 * different masks on each sample, the same samples after reseeding. */
START_TEST(monte_carlo_pass)
{
    const net nc = { "mc", 2, 5, 5, 3, 8, 7,
                     { CONV(3, 3, 1), BN, RELU, DROPM(0.5, DROPOUT_ELEMENT), DENSE(6),
                       DROPM(0.3, DROPOUT_DROPCONNECT), DENSE(3) } };
    db_model m;
    build(&m, &nc, 1, 23);
    uint8_t labels[64];
    labels_of(labels, &nc);
    size_t c = 0;
    db_model_forward(&m, nc.B, labels, 1, &c);
    db_rng saved[DB_ARCH_MAX];
    save_streams(&m, saved);
    float *state = malloc(m.nstate * sizeof *state);
    float p0[64 * 3], p1[64 * 3], pe[64 * 3];
    ck_assert_ptr_nonnull(state);
    memcpy(state, m.state, m.nstate * sizeof *state);
    db_model_forward(&m, nc.B, labels, 0, &c);
    memcpy(pe, m.probs, nc.B * 3 * sizeof(float));
    db_model_mc_seed(&m, 23, 1);
    db_model_forward_pass(&m, nc.B, labels, DB_PASS_MC, &c);
    memcpy(p0, m.probs, nc.B * 3 * sizeof(float));
    db_model_forward_pass(&m, nc.B, labels, DB_PASS_MC, &c);
    memcpy(p1, m.probs, nc.B * 3 * sizeof(float));
    ck_assert(memcmp(p0, p1, sizeof(float) * nc.B * 3) != 0);
    ck_assert(memcmp(p0, pe, sizeof(float) * nc.B * 3) != 0);
    for (size_t i = 0; i < m.nl; i++)
        ck_assert(memcmp(&saved[i], &m.L[i].rng, sizeof saved[i]) == 0);
    ck_assert(memcmp(state, m.state, m.nstate * sizeof *state) == 0);
    db_model_mc_seed(&m, 23, 1);
    db_model_forward_pass(&m, nc.B, labels, DB_PASS_MC, &c);
    ck_assert(memcmp(p0, m.probs, sizeof(float) * nc.B * 3) == 0);
    /* the pass after evaluation is the evaluation's again */
    db_model_forward(&m, nc.B, labels, 0, &c);
    ck_assert(memcmp(pe, m.probs, sizeof(float) * nc.B * 3) == 0);
    free(state);
    db_model_free(&m);
}
END_TEST

/* ECE of a hand-made prediction set, worked out by hand (bins of 1/15:
 * bin k holds k/15 < confidence <= (k+1)/15):
 *   p                   label  conf  right  bin
 *   0.9  0.05 0.05      0      0.9   yes    13 (0.867, 0.933]
 *   0.2  0.7  0.1       1      0.7   yes    10 (0.667, 0.733]
 *   0.62 0.28 0.1       1      0.62  no      9 (0.6, 0.667]
 *   0.88 0.1  0.02      2      0.88  no     13
 *   0.45 0.3  0.25      0      0.45  yes     6 (0.4, 0.467]
 * bin 13: 2 examples, accuracy 1/2, confidence (0.9 + 0.88)/2 = 0.89:
 *   2/5 * |0.5 - 0.89| = 0.156;  bin 10: 1/5 * |1 - 0.7| = 0.06;
 *   bin 9: 1/5 * |0 - 0.62| = 0.124;  bin 6: 1/5 * |1 - 0.45| = 0.11;
 *   ECE = 0.45.  Error 2/5 = 40%.  NLL = -(ln 0.9 + ln 0.7 + ln 0.28 +
 *   ln 0.02 + ln 0.45) / 5 = (0.1053605 + 0.3566749 + 1.2729657 + 3.9120230
 *   + 0.7985077) / 5 = 1.2891064. */
START_TEST(ece_of_a_hand_made_set)
{
    const float p[5 * 3] = { 0.9f, 0.05f, 0.05f, 0.2f, 0.7f, 0.1f, 0.62f, 0.28f, 0.1f,
                             0.88f, 0.1f, 0.02f, 0.45f, 0.3f, 0.25f };
    const uint8_t y[5] = { 0, 1, 1, 2, 0 };
    db_calib c, d;
    db_calib_init(&c);
    db_calib_add(&c, p, y, 5, 3);
    double err, nll, ece;
    db_calib_result(&c, &err, &nll, &ece);
    ck_assert_msg(fabs(ece - 0.45) < 1e-6, "ECE %.9f", ece);
    ck_assert_msg(fabs(err - 40.0) < 1e-12, "error %.9f", err);
    ck_assert_msg(fabs(nll - 1.2891064) < 1e-6, "NLL %.9f", nll);
    /* batch by batch: the same sums */
    db_calib_init(&d);
    db_calib_add(&d, p, y, 2, 3);
    db_calib_add(&d, p + 6, y + 2, 3, 3);
    double err2, nll2, ece2;
    db_calib_result(&d, &err2, &nll2, &ece2);
    ck_assert(err2 == err && ece2 == ece && fabs(nll2 - nll) < 1e-15);
    /* a perfectly calibrated set: 4 examples at confidence 0.75 (bin 11),
     * 3 right: ECE 0 */
    const float q[4 * 2] = { 0.75f, 0.25f, 0.75f, 0.25f, 0.75f, 0.25f, 0.75f, 0.25f };
    const uint8_t z[4] = { 0, 0, 0, 1 };
    db_calib_init(&c);
    db_calib_add(&c, q, z, 4, 2);
    db_calib_result(&c, &err, &nll, &ece);
    ck_assert_msg(ece < 1e-7 && fabs(err - 25.0) < 1e-12, "ECE %g error %g", ece, err);
}
END_TEST

/* The base model of a preset config. */
static void preset_arch(db_arch *a, const char *task)
{
    const char *src = getenv("DROPBENCH_SRC");
    char path[1024];
    snprintf(path, sizeof path, "%s/configs/%s.json", src ? src : ".", task);
    cJSON *j = NULL;
    db_err e;
    ck_assert_msg(db_json_load(&j, path, &e) == 0, "%s", e.msg);
    ck_assert_msg(db_arch_from_json(a, cJSON_GetObjectItemCaseSensitive(j, "model"), path,
                                    &e) == 0, "%s", e.msg);
    cJSON_Delete(j);
}

/* Which layer types and sites a strategy leaves around each dropout, as
 * "type>dropout(site,mode)>type" joined by spaces. */
static void placement(char *buf, size_t n, const db_arch *a)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < a->n && used < n; i++) {
        const db_layer *l = &a->layers[i];
        if (l->type != DB_LAYER_DROPOUT)
            continue;
        int k = snprintf(buf + used, n - used, "%s%s>%s,%s>%s", used ? " " : "",
                         i ? db_layer_type_name(a->layers[i - 1].type) : "input",
                         db_site_name(l->site), db_dropout_mode_name(l->mode),
                         i + 1 < a->n ? db_layer_type_name(a->layers[i + 1].type) : "end");
        used += k > 0 ? (size_t)k : 0;
    }
}

/* The batchnorm sites on cifar-bn: before each BN layer (on the conv or
 * dense output), only after the last BN's activation; the conv and dense
 * sites look through the BN between a layer and its ReLU; the relatives
 * on mnist-lenet; rules that misuse block are refused. */
START_TEST(strategies_place_the_new_sites_and_modes)
{
    db_arch base, out;
    db_err e;
    char got[1024];
    preset_arch(&base, "cifar-bn");
    ck_assert_msg(db_strategy_apply(&out, &base, "bn-before", NULL, 0, &e) == 0, "%s", e.msg);
    placement(got, sizeof got, &out);
    ck_assert_str_eq(got, "conv>prebn,element>batchnorm conv>prebn,element>batchnorm "
                          "conv>prebn,element>batchnorm dense>prebn,element>batchnorm "
                          "dense>prebn,element>batchnorm");
    ck_assert_msg(db_strategy_apply(&out, &base, "bn-after-last", NULL, 0, &e) == 0, "%s",
                  e.msg);
    placement(got, sizeof got, &out);
    ck_assert_str_eq(got, "relu>postbn,element>dense");
    ck_assert_uint_eq(out.n, base.n + 1);
    ck_assert_int_eq(out.layers[out.n - 3].type, DB_LAYER_RELU);
    ck_assert_int_eq(out.layers[out.n - 4].type, DB_LAYER_BATCHNORM);
    ck_assert_msg(db_strategy_apply(&out, &base, "conv+dense", NULL, 0, &e) == 0, "%s", e.msg);
    placement(got, sizeof got, &out);
    ck_assert_str_eq(got, "relu>conv,element>maxpool relu>conv,element>maxpool "
                          "relu>conv,element>maxpool relu>dense,element>dense "
                          "relu>dense,element>dense");
    /* cifar-cnn has no batchnorm: no prebn site, an error, not a baseline */
    db_arch cnn;
    preset_arch(&cnn, "cifar-cnn");
    ck_assert_int_eq(db_strategy_apply(&out, &cnn, "bn-before", NULL, 0, &e), -1);
    ck_assert_msg(strstr(e.msg, "no prebn site") != NULL, "%s", e.msg);

    db_arch lenet;
    preset_arch(&lenet, "mnist-lenet");
    ck_assert_msg(db_strategy_apply(&out, &lenet, "dropblock+dropconnect", NULL, 0, &e) == 0,
                  "%s", e.msg);
    placement(got, sizeof got, &out);
    ck_assert_str_eq(got, "relu>conv,dropblock>maxpool relu>conv,dropblock>maxpool "
                          "relu>dense,dropconnect>dense");
    for (size_t i = 0; i < out.n; i++)
        if (out.layers[i].type == DB_LAYER_DROPOUT)
            ck_assert_uint_eq(out.layers[i].block,
                              out.layers[i].mode == DROPOUT_DROPBLOCK ? 3 : 0);
    /* the canonical form carries the block size, and reads back */
    cJSON *j = db_arch_to_json(&out);
    db_arch back;
    ck_assert_int_eq(db_arch_from_json(&back, j, "rt", &e), 0);
    cJSON_Delete(j);
    ck_assert_int_eq(memcmp(back.layers, out.layers, out.n * sizeof out.layers[0]), 0);

    /* rules: block goes with dropblock, and dropblock needs it */
    const char *bad[][2] = {
        { "{\"name\": \"b1\", \"rules\": [{\"site\": \"conv\", \"mode\": \"dropblock\", "
          "\"rate\": 0.1}]}", "\"block\"" },
        { "{\"name\": \"b2\", \"rules\": [{\"site\": \"conv\", \"mode\": \"element\", "
          "\"rate\": 0.1, \"block\": 3}]}", "\"block\"" },
        { "{\"name\": \"b3\", \"rules\": [{\"site\": \"conv\", \"mode\": \"dropblock\", "
          "\"rate\": 0.1, \"block\": 0}]}", "\"block\" must be an integer" },
        { "{\"name\": \"b4\", \"rules\": [{\"site\": \"conv\", \"mode\": \"blocky\", "
          "\"rate\": 0.1}]}", "dropblock" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *sj = cJSON_Parse(bad[i][0]);
        ck_assert_ptr_nonnull(sj);
        ck_assert_int_eq(db_strategy_define(sj, "t.json", &e), -1);
        ck_assert_msg(strstr(e.msg, bad[i][1]) && strstr(e.msg, "t.json"), "%s", e.msg);
        cJSON_Delete(sj);
    }
    /* a config's dropout layer: the same rules */
    cJSON *mj = cJSON_Parse("[{\"type\": \"dropout\", \"rate\": 0.1, \"mode\": "
                            "\"dropblock\"}, {\"type\": \"dense\", \"units\": 10}]");
    ck_assert_int_eq(db_arch_from_json(&back, mj, "c.json", &e), -1);
    ck_assert_msg(strstr(e.msg, "c.json: model[0]") && strstr(e.msg, "\"block\""), "%s",
                  e.msg);
    cJSON_Delete(mj);
}
END_TEST

/* configs/sweeps/modern.json resolves: cifar-bn with the batchnorm
 * placements, the relatives on mnist-lenet, and the MLP runs with a
 * 20-pass Monte-Carlo evaluation (only those). */
START_TEST(modern_sweep_file)
{
    const char *src = getenv("DROPBENCH_SRC");
    char cfg[512], path[600];
    snprintf(cfg, sizeof cfg, "%s/configs", src ? src : ".");
    setenv("DROPBENCH_CONFIGS", cfg, 1);
    snprintf(path, sizeof path, "%s/configs/sweeps/modern.json", src ? src : ".");
    sweep_options o;
    memset(&o, 0, sizeof o);
    o.results_dir = "/nonexistent-results-dir";
    sweep_plan p;
    db_err e = { "" };
    ck_assert_msg(sweep_plan_load(&p, path, &o, &e) == 0, "%s", e.msg);
    size_t bn = 0, lenet = 0, mc = 0;
    for (size_t i = 0; i < p.n; i++) {
        const cJSON *T = cJSON_GetObjectItemCaseSensitive(p.runs[i].config, "mc_samples");
        int is_mlp = strcmp(p.runs[i].task, "mnist-mlp") == 0;
        ck_assert_msg(is_mlp == (T != NULL), "%s %s", p.runs[i].task, p.runs[i].strategy);
        mc += T && T->valuedouble == 20;
        bn += strcmp(p.runs[i].task, "cifar-bn") == 0;
        lenet += strcmp(p.runs[i].task, "mnist-lenet") == 0;
    }
    ck_assert_uint_eq(bn, 6 * 3);
    ck_assert_uint_eq(lenet, 3 * 3);
    ck_assert_uint_eq(mc, 5 * 3);
    ck_assert_uint_eq(p.n, 42);
    sweep_plan_free(&p);
}
END_TEST

/* ---- end to end, on generated data (tests/gen_data.h) ---- */

static char root[256];

static void setup_once(void)
{
    use_source_configs(1);
    make_root_with_data(root, sizeof root, "/tmp/dbtest-modern-XXXXXX", 300, 100);
}

static void teardown_once(void)
{
    remove_root(root);
}

/* Resolves and executes a run; returns the parsed result, checked against
 * results/schema.json. */
static char last_dir[400]; /* run_one's results folder */

static cJSON *run_one(const char *task, const char *strategy, const char *rate, long mc,
                      long limit, int epochs)
{
    static int k;
    run_request rq;
    run_request_init(&rq);
    rq.task = task;
    rq.strategy = strategy;
    rq.rate = rate;
    rq.mc_samples = mc;
    rq.limit_train = limit;
    rq.epochs = epochs;
    rq.allow_unverified = 1;
    cJSON *cfg = NULL;
    char id[17], data[300], out[400];
    db_err e;
    ck_assert_msg(run_resolve(&rq, &cfg, id, &e) == 0, "resolve: %s", e.msg);
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(out, sizeof out, "%s/out%d-%d", root, (int)getpid(), k++);
    snprintf(last_dir, sizeof last_dir, "%s", out);
    run_options o;
    int rc = run_quietly(cfg, id, data, out, &o, &e);
    cJSON_Delete(cfg);
    ck_assert_msg(rc == 0, "execute: %s", e.msg);
    cJSON *schema = load_schema();
    cJSON *res = load_checked_result(schema, o.result_path);
    cJSON_Delete(schema);
    return res;
}

static double num_at(const cJSON *r, const char *a, const char *b, const char *c)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(r, a);
    x = b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
    x = c ? cJSON_GetObjectItemCaseSensitive(x, c) : x;
    ck_assert_msg(cJSON_IsNumber(x), "no number at %s.%s.%s", a, b ? b : "", c ? c : "");
    return x->valuedouble;
}

/* The Markdown report of the result folders a and b (b may be NULL), as
 * `dropbench report a b` writes it; the caller frees it. */
static char *report_md(const char *a, const char *b)
{
    report_set set;
    memset(&set, 0, sizeof set);
    report_table t;
    db_err e;
    ck_assert_msg(report_load(&set, a, &e) == 0, "%s", e.msg);
    if (b)
        ck_assert_msg(report_load(&set, b, &e) == 0, "%s", e.msg);
    ck_assert_msg(report_aggregate(&set, "none", &t, &e) == 0, "%s", e.msg);
    char *doc = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&doc, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_msg(report_write(f, &set, &t, REPORT_MD, NULL, &e) == 0, "%s", e.msg);
    fclose(f);
    report_table_free(&t);
    report_set_free(&set);
    return doc;
}

/* T = 1 with dropout off (rate 0, and no dropout at all) is the
 * deterministic evaluation, bit for bit; with dropout on the samples
 * differ, and the training (the epochs' numbers) is the run's without
 * Monte-Carlo evaluation. */
START_TEST(mc_one_sample_without_dropout_is_deterministic)
{
    const char *strategies[2][2] = { { "hinton", "0" }, { "none", NULL } };
    for (int s = 0; s < 2; s++) {
        cJSON *r = run_one("mnist-mlp", strategies[s][0], strategies[s][1], 1, 200, 2);
        ck_assert(num_at(r, "config", "mc_samples", NULL) == 1);
        const char *keys[3] = { "test_error_pct", "nll", "ece" };
        for (int k = 0; k < 3; k++) {
            double a = num_at(r, "calibration", "deterministic", keys[k]);
            double b = num_at(r, "calibration", "mc", keys[k]);
            ck_assert_msg(memcmp(&a, &b, sizeof a) == 0, "%s %s: %.17g vs %.17g",
                          strategies[s][0], keys[k], a, b);
        }
        ck_assert(num_at(r, "calibration", "deterministic", "test_error_pct") ==
                  num_at(r, "final", "test_error_pct", NULL));
        /* every evaluation (epoch) has its own; the last is the run's */
        const cJSON *eps = cJSON_GetObjectItemCaseSensitive(r, "epochs");
        ck_assert_int_eq(cJSON_GetArraySize(eps), 2);
        for (int ep = 0; ep < 2; ep++) {
            const cJSON *o = cJSON_GetArrayItem(eps, ep);
            ck_assert(num_at(o, "calibration", "deterministic", "test_error_pct") ==
                      num_at(o, "test_error_pct", NULL, NULL));
            for (int k = 0; k < 3; k++) {
                double a = num_at(o, "calibration", "deterministic", keys[k]);
                double b = num_at(o, "calibration", "mc", keys[k]);
                ck_assert_msg(memcmp(&a, &b, sizeof a) == 0, "epoch %d %s", ep + 1, keys[k]);
                if (ep == 1)
                    ck_assert(a == num_at(r, "calibration", "deterministic", keys[k]));
            }
        }
        cJSON_Delete(r);
    }
    cJSON *with = run_one("mnist-mlp", "hinton", NULL, 3, 200, 2);
    char with_dir[400];
    snprintf(with_dir, sizeof with_dir, "%s", last_dir);
    cJSON *without = run_one("mnist-mlp", "hinton", NULL, 0, 200, 2);
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(without, "calibration"));
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(without, "config"), "mc_samples"));
    const cJSON *ea = cJSON_GetObjectItemCaseSensitive(with, "epochs");
    const cJSON *eb = cJSON_GetObjectItemCaseSensitive(without, "epochs");
    ck_assert_int_eq(cJSON_GetArraySize(ea), 2);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 2; k++) {
            const char *key = k ? "test_loss" : "train_loss";
            double a = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(ea, i), key)->valuedouble;
            double b = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(eb, i), key)->valuedouble;
            ck_assert_msg(a == b, "epoch %d %s: %.17g with MC, %.17g without", i, key, a, b);
        }
    ck_assert(num_at(with, "calibration", "mc", "nll") !=
              num_at(with, "calibration", "deterministic", "nll"));
    /* the report's calibration table: the run's numbers, only the run with
     * a calibration; no table for results without one */
    char *doc = report_md(with_dir, NULL);
    char want[256];
    snprintf(want, sizeof want, "| mnist-mlp | hinton | default | 3 | 1 | %.2f | %.2f | %.4f | "
             "%.4f | %.4f | %.4f |",
             num_at(with, "calibration", "deterministic", "test_error_pct"),
             num_at(with, "calibration", "mc", "test_error_pct"),
             num_at(with, "calibration", "deterministic", "nll"),
             num_at(with, "calibration", "mc", "nll"),
             num_at(with, "calibration", "deterministic", "ece"),
             num_at(with, "calibration", "mc", "ece"));
    ck_assert_msg(strstr(doc, want) != NULL, "no \"%s\" in:\n%s", want, doc);
    free(doc);
    doc = report_md(last_dir, NULL);
    ck_assert_ptr_null(strstr(doc, "Calibration"));
    free(doc);
    /* both in one report (the suite's runs beside the modern sweep's): the
     * same seed with and without the passes are two rows, not one result
     * replacing the other, whichever file is newer */
    for (int newer = 0; newer < 2; newer++) {
        char cmd[1000];
        snprintf(cmd, sizeof cmd, "touch %s/*.json", newer ? last_dir : with_dir);
        ck_assert(system(cmd) == 0);
        doc = report_md(with_dir, last_dir);
        char want2[300]; /* the row's setting joins its rates */
        snprintf(want2, sizeof want2, "| mnist-mlp | hinton | default, mc=3 |%s",
                 want + strlen("| mnist-mlp | hinton | default |"));
        ck_assert_msg(strstr(doc, want2) != NULL, "no \"%s\" in:\n%s", want2, doc);
        ck_assert_msg(strstr(doc, "| hinton | default | mc=3 |") &&
                      strstr(doc, "| hinton | default | - |"), "two rows wanted:\n%s", doc);
        ck_assert_ptr_null(strstr(doc, "using the newer"));
        free(doc);
    }
    cJSON_Delete(with);
    cJSON_Delete(without);
}
END_TEST

/* cifar-bn with the batchnorm placements, and the relatives, train end to
 * end on a tiny generated set (with a Monte-Carlo evaluation); every value
 * is finite and the result file matches the schema. */
START_TEST(modern_tasks_run)
{
    const char *runs[][3] = { { "cifar-bn", "none", NULL },
                              { "cifar-bn", "bn-before", NULL },
                              { "cifar-bn", "bn-after-last", NULL },
                              { "mnist-lenet", "dropblock+dropconnect", NULL },
                              { "mnist-mlp", "gaussian", NULL } };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        cJSON *r = run_one(runs[i][0], runs[i][1], runs[i][2], 2, 40, 1);
        double l = num_at(r, "final", "test_loss", NULL);
        ck_assert_msg(isfinite(l), "%s %s: test loss %g", runs[i][0], runs[i][1], l);
        ck_assert(isfinite(num_at(r, "calibration", "mc", "nll")));
        /* the variance shift: one entry per batchnorm layer of the model,
         * only for a model with batchnorm */
        const cJSON *vs = cJSON_GetObjectItemCaseSensitive(r, "variance_shift");
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(r, "config"), "model");
        size_t nbn = 0;
        const cJSON *ly;
        cJSON_ArrayForEach(ly, model)
            nbn += !strcmp(cJSON_GetObjectItemCaseSensitive(ly, "type")->valuestring,
                           "batchnorm");
        ck_assert_msg((vs != NULL) == (nbn > 0), "%s %s", runs[i][0], runs[i][1]);
        const cJSON *lays = cJSON_GetObjectItemCaseSensitive(vs, "layers");
        ck_assert_uint_eq((size_t)cJSON_GetArraySize(lays), nbn);
        size_t k = 0;
        cJSON_ArrayForEach(ly, lays) {
            const cJSON *at = cJSON_GetArrayItem(model, (int)num_at(ly, "layer", NULL, NULL));
            ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(at, "type")->valuestring,
                             "batchnorm");
            const size_t want[5] = { 32, 32, 64, 512, 512 };
            ck_assert(num_at(ly, "channels", NULL, NULL) == (double)want[k++]);
            ck_assert(num_at(ly, "ratio_min", NULL, NULL) <= num_at(ly, "ratio_mean", NULL, NULL));
            ck_assert(num_at(ly, "ratio_mean", NULL, NULL) <= num_at(ly, "ratio_max", NULL, NULL));
            ck_assert(num_at(ly, "ratio_min", NULL, NULL) > 0);
        }
        if (nbn) { /* the report's table shows the run's ratios */
            char *doc = report_md(last_dir, NULL);
            char want[512];
            int w = snprintf(want, sizeof want, "| %s | %s | default | 1 |", runs[i][0],
                             runs[i][1]);
            cJSON_ArrayForEach(ly, lays)
                w += snprintf(want + w, sizeof want - (size_t)w, " %.3f |",
                              num_at(ly, "ratio_mean", NULL, NULL));
            ck_assert_msg(strstr(doc, "Variance shift") && strstr(doc, want),
                          "no \"%s\" in:\n%s", want, doc);
            free(doc);
        }
        cJSON_Delete(r);
    }
}
END_TEST

/* A cifar-bn run with a Monte-Carlo evaluation, killed (SIGKILL) after its
 * first epoch's checkpoint and run again, resumes, and its result equals
 * the uninterrupted run's (scripts/result_equal): the running statistics
 * and the calibration of the epochs before came back with it, and the
 * epochs after drew the same Monte-Carlo samples. */
START_TEST(batchnorm_run_resumes_bit_identical)
{
    const char *tools = getenv("DROPBENCH_TOOLS");
    if (!bin() || !tools) {
        printf("SKIP: DROPBENCH_BIN / DROPBENCH_TOOLS not set (run through make test)\n");
        return;
    }
    char data[300], ref[400], res[400], log[450];
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(ref, sizeof ref, "%s/ck-ref", root);
    snprintf(res, sizeof res, "%s/ck-killed", root);
    snprintf(log, sizeof log, "%s/ck.log", root);
    char *argv[] = { (char *)bin(), "run", "--task", "cifar-bn", "--strategy", "bn-before",
                     "--epochs", "4", "--limit-train", "60", "--data", data, "--results",
                     ref, "--quiet", "--allow-unverified", "--mc-samples", "2", NULL };
    int st;
    ck_assert_int_eq(waitpid(spawn(argv, log), &st, 0) > 0 && WIFEXITED(st) &&
                         WEXITSTATUS(st) == 0, 1);
    argv[13] = res;
    int killed = 0;
    for (int tries = 0; tries < 5 && !killed; tries++) {
        rm_tree(res);
        pid_t pid = spawn(argv, log);
        for (;;) {
            DIR *d = opendir(res);
            struct dirent *de;
            int ck = 0;
            while (d && (de = readdir(d)) != NULL) {
                size_t l = strlen(de->d_name);
                ck |= l > 5 && strcmp(de->d_name + l - 5, ".ckpt") == 0;
            }
            if (d)
                closedir(d);
            if (ck) {
                kill(-pid, SIGKILL);
                waitpid(pid, &st, 0);
                killed = WIFSIGNALED(st);
                break;
            }
            if (waitpid(pid, &st, WNOHANG) == pid)
                break; /* ended first: try again */
        }
    }
    ck_assert_msg(killed, "never caught the run with a checkpoint");
    ck_assert_int_eq(waitpid(spawn(argv, log), &st, 0) > 0 && WIFEXITED(st) &&
                         WEXITSTATUS(st) == 0, 1);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "grep -q 'resumed from its checkpoint' '%s' && "
             "'%s/result_equal' \"$(ls '%s'/*.json)\" \"$(ls '%s'/*.json)\"",
             log, tools, ref, res);
    ck_assert_msg(system(cmd) == 0, "not resumed, or the results differ: %s", cmd);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("modern");
    TCase *t = tcase_create("modern");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, gradients_through_the_model, 0,
                        (int)(sizeof grad_nets / sizeof grad_nets[0]));
    tcase_add_test(t, batchnorm_running_statistics_and_evaluation);
    tcase_add_test(t, batchnorm_threads_agree);
    tcase_add_test(t, batchnorm_moments_and_variance_ratio);
    tcase_add_test(t, pytorch_batchnorm_semantics);
    tcase_add_test(t, batchnorm_keeps_the_initial_weights);
    tcase_add_test(t, checkpoint_restores_running_statistics);
    tcase_add_test(t, gaussian_mode_in_the_model);
    tcase_add_test(t, weight_scaling_mode_in_the_model);
    tcase_add_test(t, dropconnect_mode_in_the_model);
    tcase_add_test(t, dropblock_mode_in_the_model);
    tcase_add_test(t, monte_carlo_pass);
    tcase_add_test(t, ece_of_a_hand_made_set);
    tcase_add_test(t, strategies_place_the_new_sites_and_modes);
    tcase_add_test(t, modern_sweep_file);
    suite_add_tcase(s, t);
    TCase *r = tcase_create("runs");
    tcase_set_timeout(r, 300);
    tcase_add_unchecked_fixture(r, setup_once, teardown_once);
    tcase_add_test(r, mc_one_sample_without_dropout_is_deterministic);
    tcase_add_test(r, modern_tasks_run);
    tcase_add_test(r, batchnorm_run_resumes_bit_identical);
    suite_add_tcase(s, r);
    return s;
}

DB_TEST_MAIN()
