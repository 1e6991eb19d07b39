/* test_model.c - the layer groups that only the model forms: a conv with a
 * ReLU and a max-pool above it runs the three in chunks of examples, and a
 * first conv layer takes its weight gradient straight from the pool's
 * (conv2d_pooled_weights).  Each net runs grouped and layer by layer
 * (db_model_set_grouping), on 1 and 2 threads, and the two must agree. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "train/model.h"

typedef struct net_case {
    const char *name;
    size_t c, h, w, classes, B;
    size_t nl;
    db_layer layers[10];
} net_case;

#define CONV(f, k, p) { .type = DB_LAYER_CONV, .units = (f), .kernel = (k), .stride = 1, .pad = (p) }
#define RELU { .type = DB_LAYER_RELU }
#define POOL(k, s, p) { .type = DB_LAYER_MAXPOOL, .kernel = (k), .stride = (s), .pad = (p) }
#define DENSE(u) { .type = DB_LAYER_DENSE, .units = (u) }
#define DROP(p) { .type = DB_LAYER_DROPOUT, .rate = (p), .mode = DROPOUT_ELEMENT, .site = DB_SITE_POOL }
/* dropout between a conv's ReLU and its pool (the conv and spatial sites) */
#define CDROP(p) { .type = DB_LAYER_DROPOUT, .rate = (p), .mode = DROPOUT_ELEMENT, .site = DB_SITE_CONV }
#define SDROP(p) { .type = DB_LAYER_DROPOUT, .rate = (p), .mode = DROPOUT_CHANNEL, .site = DB_SITE_CONV }
/* the same with the papers' weight scaling (no 1 / (1 - rate) in training,
 * 1 - rate at evaluation) */
#define CDROPW(p) { .type = DB_LAYER_DROPOUT, .rate = (p), .mode = DROPOUT_ELEMENT, \
                    .site = DB_SITE_CONV, .wscale = 1 }
#define SDROPW(p) { .type = DB_LAYER_DROPOUT, .rate = (p), .mode = DROPOUT_CHANNEL, \
                    .site = DB_SITE_CONV, .wscale = 1 }

static const net_case nets[] = {
    /* dropout between the ReLU and the pool joins the group: element-wise
     * on the first conv (its weight gradient from the pool's, scaled by
     * 1 / (1 - rate)), channel-wise on the second, whose pool overlaps
     * (3x3 stride 2) and has an input gradient below it; 16 KB of output
     * per example: chunks of 12 of 16 */
    { "conv-dropout", 3, 16, 16, 4, 16, 9,
      { CONV(16, 5, 2), RELU, CDROP(0.3), POOL(2, 2, 0), CONV(8, 3, 1), RELU, SDROP(0.4),
        POOL(3, 2, 1), DENSE(4) } },
    /* the same with weight scaling: the first conv's pooled weight
     * gradient unscaled, the evaluation's outputs times 1 - rate */
    { "conv-dropout-wscale", 3, 16, 16, 4, 16, 9,
      { CONV(16, 5, 2), RELU, CDROPW(0.3), POOL(2, 2, 0), CONV(8, 3, 1), RELU, SDROPW(0.4),
        POOL(3, 2, 1), DENSE(4) } },
    /* CIFAR-like: the first conv's weight gradient from its pool's (3
     * channels x 5 rows), the second conv paired and with an input
     * gradient, conv outputs of 32 KB per example: chunks of 6 examples,
     * so a slice of 16 (or 8) runs in several; dropout above the pools */
    { "cifar-like", 3, 32, 32, 4, 16, 10,
      { CONV(8, 5, 2), RELU, POOL(3, 2, 1), DROP(0.25), CONV(6, 3, 0), RELU,
        POOL(2, 2, 0), DENSE(12), RELU, DENSE(4) } },
    /* a first conv too wide for conv2d_pooled_weights (4 channels x 5 rows):
     * its pairing runs the dense backward chunk by chunk, no input gradient;
     * a 104 KB output per example makes chunks of one */
    { "wide-first", 4, 26, 26, 3, 5, 6,
      { CONV(40, 5, 2), RELU, POOL(2, 2, 0), DENSE(10), RELU, DENSE(3) } },
    /* a paired conv with an input gradient over several chunks (25.6 KB
     * of output per example: chunks of 7 of a slice of 20 or 10) */
    { "deep-chunks", 2, 20, 20, 3, 20, 7,
      { CONV(16, 3, 1), RELU, POOL(2, 2, 0), CONV(64, 3, 1), RELU, POOL(2, 2, 0),
        DENSE(3) } },
    /* a paired conv too wide for the pooled kernels (K 9): its backward
     * runs dense, chunk by chunk (46 KB of output per example: chunks of
     * 4), with an input gradient; the conv below it is not paired */
    { "big-kernel", 1, 24, 24, 3, 9, 6,
      { CONV(4, 3, 1), RELU, CONV(20, 9, 4), RELU, POOL(2, 2, 0), DENSE(3) } },
    /* a paired 5x5 conv on Winograd (where the CPU runs the direct
     * kernels): filters transformed once per pass, not per chunk (64 KB
     * of output per example: chunks of 3 of a slice of 8 or 4) */
    { "winograd-chunks", 3, 32, 32, 3, 8, 7,
      { CONV(8, 3, 1), RELU, POOL(2, 2, 0), CONV(64, 5, 2), RELU, POOL(2, 2, 0),
        DENSE(3) } },
    /* LeNet-like: one channel, 2x2 pools, a conv not followed by a pool */
    { "lenet-like", 1, 16, 16, 5, 6, 8,
      { CONV(4, 5, 2), RELU, POOL(2, 2, 0), CONV(5, 3, 1), RELU, CONV(3, 3, 1),
        RELU, DENSE(5) } },
};

static void build(db_model *m, const net_case *nc, size_t threads, int grouped)
{
    db_arch a = { .n = nc->nl };
    memcpy(a.layers, nc->layers, nc->nl * sizeof a.layers[0]);
    db_model_input in = { .text = 0, .c = nc->c, .h = nc->h, .w = nc->w,
                          .classes = nc->classes };
    db_err e;
    memset(m, 0, sizeof *m);
    int was = db_model_set_grouping(grouped);
    ck_assert_msg(db_model_build(m, &a, &in, nc->B, &e) == 0, "%s: %s", nc->name, e.msg);
    db_model_set_grouping(was);
    ck_assert_msg(db_model_set_threads(m, threads, &e) == 0, "%s", e.msg);
    db_model_init(m, 7);
    db_rng r;
    db_rng_seed(&r, 21, DB_RNG_TEST, 0);
    const size_t nin = nc->B * nc->c * nc->h * nc->w;
    for (size_t i = 0; i < nin; i++)
        m->input[i] = 2.0f * db_rng_uniform(&r) - 1.0f;
}

/* The grouped model against the same model run layer by layer: the same
 * forward bits (the groups only reorder work between examples), and the
 * same gradients up to the rounding of sums split into chunks. */
static void check_net(const net_case *nc, size_t threads)
{
    db_model g, u;
    build(&g, nc, threads, 1);
    build(&u, nc, threads, 0);
    size_t groups = 0, with_drop = 0;
    for (size_t i = 0; i < g.nl; i++) {
        const size_t span = 2 + (size_t)g.L[i].pair_drop;
        groups += g.L[i].pair_chunk > 0 && i + span < g.nl && g.L[i + span].paired == (int)span;
        with_drop += g.L[i].pair_chunk > 0 && g.L[i].pair_drop && g.L[i + 2].in_pair;
    }
    ck_assert_msg(groups > 0, "%s: not grouped", nc->name);
    /* every dropout right between a ReLU and a pool is in its group */
    size_t between = 0;
    for (size_t i = 2; i + 1 < g.nl; i++)
        between += g.L[i].spec.type == DB_LAYER_DROPOUT && g.L[i - 1].spec.type == DB_LAYER_RELU &&
                   g.L[i + 1].spec.type == DB_LAYER_MAXPOOL;
    ck_assert_msg(with_drop == between, "%s: %zu of %zu dropouts grouped", nc->name, with_drop,
                  between);
    for (size_t i = 0; i < u.nl; i++)
        ck_assert(u.L[i].pair_chunk == 0 && !u.L[i].paired && !u.L[i].in_pair);
    if (strncmp(nc->name, "winograd", 8) == 0 &&
        strcmp(conv2d_kernels(), "direct-avx2+winograd") == 0) {
        int wino = 0;
        for (size_t i = 0; i < g.nl; i++)
            wino |= g.L[i].pair_chunk > 0 && conv2d_is_winograd(&g.L[i].conv);
        ck_assert_msg(wino, "%s: no paired conv runs Winograd", nc->name);
    }
    uint8_t labels[64];
    for (size_t i = 0; i < nc->B; i++)
        labels[i] = (uint8_t)(i * 7 % nc->classes);
    for (int step = 0; step < 2; step++) { /* the second with new dropout masks */
        size_t cg = 0, cu = 0;
        double lg = db_model_forward(&g, nc->B, labels, 1, &cg);
        double lu = db_model_forward(&u, nc->B, labels, 1, &cu);
        ck_assert_msg(lg == lu, "%s: loss %.17g grouped, %.17g not", nc->name, lg, lu);
        for (size_t i = 0; i < g.nl; i++)
            ck_assert_msg(memcmp(g.L[i].out, u.L[i].out,
                                 nc->B * g.L[i].out_size * sizeof(float)) == 0,
                          "%s on %zu threads: layer %zu output differs", nc->name,
                          threads, i);
        db_model_backward(&g, nc->B, labels);
        db_model_backward(&u, nc->B, labels);
        for (size_t l = 0; l < g.nl; l++) {
            const db_mlayer *L = &g.L[l];
            if (L->param_index < 0)
                continue;
            const size_t offs[2] = { L->w_off, L->b_off }, ns[2] = { L->w_n, L->b_n };
            for (int part = 0; part < 2; part++) {
                const float *a = g.grads + offs[part], *b = u.grads + offs[part];
                float big = 0.0f;
                for (size_t k = 0; k < ns[part]; k++)
                    big = fabsf(b[k]) > big ? fabsf(b[k]) : big;
                ck_assert_msg(big > 0.0f, "%s: layer %zu has no gradient", nc->name, l);
                for (size_t k = 0; k < ns[part]; k++)
                    ck_assert_msg(fabsf(a[k] - b[k]) <= 1e-5f * big,
                                  "%s on %zu threads, step %d, layer %zu %s[%zu]: %.9g "
                                  "grouped, %.9g not", nc->name, threads, step, l,
                                  part ? "bias" : "weight", k, a[k], b[k]);
            }
        }
    }
    /* evaluation: the dropouts the identity (or times 1 - rate), the
     * same bits grouped or not */
    size_t cg = 0, cu = 0;
    double lg = db_model_forward(&g, nc->B, labels, 0, &cg);
    double lu = db_model_forward(&u, nc->B, labels, 0, &cu);
    ck_assert_msg(lg == lu, "%s: evaluation loss %.17g grouped, %.17g not", nc->name, lg, lu);
    for (size_t i = 0; i < g.nl; i++)
        ck_assert_msg(memcmp(g.L[i].out, u.L[i].out, nc->B * g.L[i].out_size * sizeof(float)) ==
                          0,
                      "%s on %zu threads: evaluation, layer %zu output differs", nc->name,
                      threads, i);
    db_model_free(&g);
    db_model_free(&u);
}

START_TEST(grouped_layers_agree)
{
    for (size_t k = 0; k < sizeof nets / sizeof nets[0]; k++)
        for (size_t t = 1; t <= 2; t++)
            check_net(&nets[k], t);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, grouped_layers_agree);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
