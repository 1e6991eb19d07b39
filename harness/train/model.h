/* model.h - a trainable network built from an architecture description.
 *
 * All memory is allocated once by db_model_build: parameters, gradients and
 * momentum in three blocks carved by the same offsets, one activation buffer
 * per layer (sized for the largest batch), two ping-pong gradient buffers for
 * backward, and one shared scratch buffer for the kernels.  The training loop
 * allocates nothing. */
#ifndef DB_MODEL_H
#define DB_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "dberr.h"
#include "kernels.h"
#include "rng.h"
#include "train/pool.h"

/* What a layer's output looks like per example. */
enum db_shape_kind { DB_SHAPE_IMAGE = 0, DB_SHAPE_FLAT, DB_SHAPE_SEQ };

typedef struct db_mlayer {
    db_layer spec;
    int in_kind, out_kind;     /* enum db_shape_kind */
    size_t in_c, in_h, in_w;   /* image: C,H,W; flat: in_c = features;
                                  seq: in_h = T, in_w = D */
    size_t out_c, out_h, out_w;
    size_t in_size, out_size;  /* floats per example */
    conv2d_shape conv;         /* B = batch capacity; reset per batch */
    pool_shape pool;
    gru_shape gru;
    /* parameter offsets into the params/grads/velocity blocks */
    size_t w_off, w_n, w_rows, b_off, b_n;
    size_t w2_off, w2_n, b2_off, b2_n;  /* GRU: Wh and bh */
    int param_index;           /* -1 when the layer has no parameters */
    int relu_fused;            /* conv/dense/batchnorm followed by a ReLU: this layer
                                  writes the ReLU's output directly, its out
                                  aliases the ReLU's (not owned), and the
                                  ReLU layer does nothing in forward */
    int pool_relu;             /* maxpool over a ReLU's output: its backward
                                  does the ReLU's too, and the ReLU layer
                                  does nothing in backward */
    int out_alias;             /* out points into another layer's buffer (a
                                  conv/dense/batchnorm fused with its ReLU) */
    size_t pair_chunk;         /* conv with a ReLU and a max-pool above it
                                  (with an element-wise or channel dropout
                                  between ReLU and pool, or none): they run
                                  together, pair_chunk examples at a time (0:
                                  not paired) */
    int pair_drop;             /* paired conv: 1 when that dropout is there */
    int paired;                /* a max-pool that its conv runs (nothing to
                                  do on its own): how many layers below it
                                  the conv is, 2 or 3 (with the dropout) */
    int in_pair;               /* the dropout of such a group: its conv's
                                  group draws, applies and reverses it */
    float *out;                /* (B, out_size) */
    uint8_t *mask;             /* dropout: (B, G) */
    uint32_t *argmax;          /* maxpool: (B, out_size) */
    float *cache;              /* GRU: one gru_cache_floats per team member,
                                  cache_stride floats apart */
    size_t cache_stride;
    size_t drop_g, drop_s;     /* dropout grouping per example */
    int site_index;            /* dropout: site number (rng stream index) */
    int mask_fixed;            /* dropout: training uses `mask` as it is, no
                                  draw (tests that pin another framework's
                                  semantics with its mask); 0 normally */
    db_rng rng;                /* dropout: this site's mask stream */
    db_rng mcrng;              /* dropout: its Monte-Carlo evaluation stream
                                  (db_model_mc_seed), never the training one */
    /* dropout's relatives (docs/MODERN.md) */
    float *noise;              /* gaussian mode: (B, G) factors */
    float dbscale;             /* dropblock mode: the batch's scale */
    float scale_rate;          /* element, channel, position mode: the
                                  rate the kept units are scaled by,
                                  1 / (1 - scale_rate): the rate, or 0 with
                                  weight scaling (spec.wscale) */
    float eval_keep;           /* those modes: the factor of a pass that
                                  does not drop (evaluation): 1, or
                                  1 - rate with weight scaling */
    float *wm;                 /* dropconnect mode: W' of the dense layer
                                  above, (O, In); backward's scratch after */
    int dc_active;             /* dropconnect mode: this pass formed W' */
    int dc_from;               /* dense layer: the index of the dropconnect
                                  layer right below it, or -1 */
    /* batchnorm: the running mean and variance at state + s_off (C each);
     * cache (2C) holds the batch's mean and 1/std for backward */
    size_t s_off, s_n;
} db_mlayer;

typedef struct db_model_timing {
    double forward, backward, update, dropout; /* seconds */
} db_model_timing;

typedef struct db_model {
    size_t nl;
    db_mlayer L[DB_ARCH_MAX];
    size_t bmax;               /* batch capacity */
    int text;                  /* input: 1 = tokens (B, T), 0 = images */
    size_t in_c, in_h, in_w;   /* image input; text: in_h = T, in_w = vocab */
    size_t classes;
    size_t nparams;
    float *params, *grads, *velocity;
    size_t nstate;             /* batchnorm running statistics: not trained */
    float *state;              /* by SGD, but saved by checkpoints */
    float *input;              /* (B, C, H, W) images */
    uint8_t *tok;              /* (B, T) text */
    uint32_t *len;             /* (B) text */
    float *probs;              /* (B, classes) */
    float *dbuf[2];            /* backward ping-pong, dsize[k] floats each */
    size_t dsize[2];
    float *work;               /* kernel scratch, nwork floats per thread, */
    size_t nwork;              /* the last npair of them the gradient of a */
    size_t npair;              /* paired conv's output, one chunk's worth, */
    size_t nprep;              /* the nprep before them a paired conv's
                                  transformed filters (conv2d_prep_floats) */
    /* db_model_set_threads: the conv, max-pool and GRU layers split the
     * batch over a team of nthreads; members 1.. write their conv and GRU
     * weight gradients to gpart (ngpart floats each), added to grads in
     * member order.  NULL pool: one thread. */
    db_pool *pool;
    size_t nthreads;
    size_t blas_threads;       /* OpenBLAS threads per product */
    float *gpart;
    size_t ngpart;
    size_t ndropout;
    db_model_timing t;
} db_model;

/* Input description, from the data set. */
typedef struct db_model_input {
    int text;
    size_t c, h, w;            /* image */
    size_t T, vocab;           /* text */
    size_t classes;
} db_model_input;

/* Builds the model (shapes checked, memory allocated, nothing initialised).
 * Errors name the layer.  On failure nothing stays allocated. */
/* 0: models built from now on run every layer on its own (no conv - ReLU -
 * max-pool groups, no first-layer gradient from the pool's), for tests
 * that compare the two.  Returns the previous setting. */
int db_model_set_grouping(int on);
int db_model_build(db_model *m, const db_arch *a, const db_model_input *in,
                   size_t bmax, db_err *e);
/* Runs the model on n threads from now on.  Conv, max-pool, GRU and dense
 * layers split the batch (dense: the units) over a team of n threads
 * (n - 1 started here, with n scratch buffers, n GRU caches and n - 1
 * weight gradient partials), each calling single-threaded OpenBLAS; sets
 * the OpenBLAS thread count to 1.  Results depend on n (conv and GRU
 * weight gradients are summed per slice of the batch) and are
 * bit-identical for a given n. */
int db_model_set_threads(db_model *m, size_t n, db_err *e);
void db_model_free(db_model *m);
size_t db_model_param_count(const db_model *m);
/* Floating-point operations per example of the matrix products: forward
 * alone (*fwd) and one training step (*train: forward, weight gradients,
 * and input gradients of every parametric layer above the first).  steps:
 * mean GRU steps per example.  *train_conv (unless NULL): the conv
 * layers' part of *train. */
void db_model_flops(const db_model *m, double steps, double *fwd, double *train,
                    double *train_conv);
/* Bytes the model allocated (for show and memory accounting). */
size_t db_model_bytes(const db_model *m);

/* docs/SUITE.md initialisation from the seed's INIT streams (one per parametric
 * layer, so inserting dropout never shifts them), zero momentum, and every
 * dropout site's stream seeded from (seed, DROPOUT, site index). */
void db_model_init(db_model *m, uint64_t seed);

/* Weight initialisation of a reproduction recipe (docs/REPRO.md). */
enum db_init_type { DB_INIT_DEFAULT = 0, DB_INIT_NORMAL };
typedef struct db_init {
    int type;                /* enum db_init_type */
    int std_fan_in;          /* normal: std = 1/sqrt(fan_in) of each layer */
    size_t nstd;             /* normal, !std_fan_in: 1 = one std for every
                                dense and conv layer, else one per such
                                layer, from input to output */
    double std[DB_ARCH_MAX];
    double bias;             /* normal: every dense and conv bias */
} db_init;
/* db_model_init, except that with init->type DB_INIT_NORMAL every dense and
 * conv weight is drawn from N(0, std^2) (from the same per-layer stream)
 * and its biases set to init->bias.  init NULL or DB_INIT_DEFAULT: exactly
 * db_model_init. */
void db_model_init_with(db_model *m, uint64_t seed, const db_init *init);

/* Forward pass on B examples already in m->input (or m->tok/m->len). Returns
 * the mean loss and adds the number of correct predictions to *correct.
 * training = 0 switches every dropout site off and batchnorm to its running
 * statistics. */
double db_model_forward(db_model *m, size_t B, const uint8_t *labels,
                        int training, size_t *correct);
/* The passes db_model_forward_pass runs: training (dropout on from the
 * training streams, batchnorm on batch statistics, running statistics
 * updated), evaluation (both off: db_model_forward with training 0), and a
 * Monte-Carlo evaluation sample (dropout on from the sites' mcrng streams,
 * batchnorm on its running statistics, nothing updated). */
enum db_pass { DB_PASS_EVAL = 0, DB_PASS_TRAIN = 1, DB_PASS_MC = 2 };
double db_model_forward_pass(db_model *m, size_t B, const uint8_t *labels, int pass,
                             size_t *correct);
/* Seeds every dropout site's Monte-Carlo stream from (seed, DB_RNG_MC,
 * evaluation * 4096 + site): each evaluation's samples are a function of
 * the seed and its number alone, and the training streams are untouched. */
void db_model_mc_seed(db_model *m, uint64_t seed, uint64_t evaluation);
/* 0 when a training batch of B examples suits every layer (batchnorm needs
 * two values per channel: B >= 2 after a dense layer); else -1 naming the
 * layer. */
int db_model_check_train_batch(const db_model *m, size_t B, db_err *e);
/* After a forward pass on B examples: adds, for every channel (or unit) of
 * every batchnorm layer in layer order, the count, sum and sum of squares
 * of that layer's input values to acc[3k], acc[3k+1], acc[3k+2] (k the
 * channel's number counting through all batchnorm layers, nstate / 2 of
 * them), in double.  With an evaluation pass over a test set these give
 * the input variance batchnorm meets at test time, to set beside its
 * running variance (the variance shift of Li et al. 2019, docs/MODERN.md). */
void db_model_bn_moments(const db_model *m, size_t B, double *acc);
/* Backward after a training forward: grads = d(loss)/d(params).  Layers
 * below the first parametric layer are not visited (no gradient needed),
 * and ReLU/dropout gradients are computed in place. */
void db_model_backward(db_model *m, size_t B, const uint8_t *labels);

/* The update form (docs/REPRO.md): PyTorch's v = mu v + g; w -= lr v, or
 * the papers' dw = mu dw - (1 - mu) lr g; w += dw (kernels' sgd_hinton_step;
 * the velocity block holds dw). */
enum db_update { DB_UPDATE_PYTORCH = 0, DB_UPDATE_HINTON };
/* Which layers max-norm constrains: every dense and conv layer, or all of
 * them but the output layer (the papers' "hidden units"). */
enum db_maxnorm_layers { DB_MAXNORM_ALL = 0, DB_MAXNORM_HIDDEN };

typedef struct db_optim {
    double lr, momentum, weight_decay, max_norm, clip_norm; /* as configured */
    int update;              /* enum db_update */
    int max_norm_layers;     /* enum db_maxnorm_layers */
} db_optim;
/* Clipping (global norm), SGD with momentum (the update form of o->update),
 * then max-norm on dense and conv weights (o->max_norm_layers).  Returns the gradient norm before clipping when clipping is on,
 * 0 when it is off (the norm is then not computed: a full pass over the
 * gradients that nothing uses). */
double db_model_update(db_model *m, const db_optim *o);

#endif
