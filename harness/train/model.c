#include "train/model.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/blas.h"
#include "util/clock.h"

/* Refuse models that would need more than this much memory: a typo in a
 * config should give an error, not a swap storm. */
#define DB_MODEL_MAX_BYTES ((size_t)8 << 30)
/* The conv output of one chunk of a conv - ReLU - max-pool run (L2 holds it
 * with the layers' inputs and weights). */
#define DB_PAIR_BYTES ((size_t)192 << 10)

static atomic_int grouping_off;

int db_model_set_grouping(int on)
{
    return !atomic_exchange(&grouping_off, !on);
}

/* a*b, or 0 with *ovf set when it overflows size_t. */
static size_t mul(size_t a, size_t b, int *ovf)
{
    if (a && b > SIZE_MAX / a) {
        *ovf = 1;
        return 0;
    }
    return a * b;
}

static void *xcalloc(size_t n, size_t size, size_t *total)
{
    *total += n * size;
    return calloc(n ? n : 1, size);
}

/* A dropout layer of dropconnect mode: it acts on the weights of the dense
 * layer right above. */
static int is_dropconnect(const db_mlayer *L)
{
    return L->spec.type == DB_LAYER_DROPOUT && L->spec.mode == DROPOUT_DROPCONNECT;
}

/* Bytes of a dropout layer's mask: one per (example, group), or for
 * DropConnect one per weight of the dense layer above. */
static size_t mask_bytes(const db_model *m, size_t i)
{
    return is_dropconnect(&m->L[i]) ? m->L[i + 1].w_n : m->bmax * m->L[i].drop_g;
}

/* A dropout layer of recurrent mode: it acts inside the GRU right below. */
static int is_recurrent_drop(const db_mlayer *L)
{
    return L->spec.type == DB_LAYER_DROPOUT && L->spec.mode == DROPOUT_RECURRENT;
}

/* The recurrent-dropout mask and rate of GRU layer i: its layer above, when
 * that is a recurrent dropout with a rate > 0 and the pass trains; else
 * NULL and 0 (the plain recurrence). */
static const uint8_t *gru_rmask(const db_model *m, size_t i, int training, float *rate)
{
    *rate = 0.0f;
    if (!training || i + 1 >= m->nl || !is_recurrent_drop(&m->L[i + 1]) ||
        (float)m->L[i + 1].spec.rate <= 0.0f)
        return NULL;
    *rate = (float)m->L[i + 1].spec.rate;
    return m->L[i + 1].mask;
}

void db_model_free(db_model *m)
{
    for (size_t i = 0; i < m->nl; i++) {
        if (!m->L[i].out_alias)
            free(m->L[i].out);
        free(m->L[i].mask);
        free(m->L[i].argmax);
        free(m->L[i].cache);
        free(m->L[i].noise);
        free(m->L[i].wm);
    }
    free(m->params);
    free(m->state);
    free(m->grads);
    free(m->velocity);
    free(m->input);
    free(m->tok);
    free(m->len);
    free(m->probs);
    free(m->dbuf[0]);
    free(m->dbuf[1]);
    free(m->work);
    free(m->gpart);
    db_pool_free(m->pool);
    memset(m, 0, sizeof *m);
}

/* See model.h.  Bias, activation, pooling and dropout work is not
 * counted: the products dominate every model of the suite. */
void db_model_flops(const db_model *m, double steps, double *fwd, double *train,
                    double *train_conv)
{
    double f = 0, t = 0, tc = 0;
    int below = 0; /* a parametric layer exists below this one */
    for (size_t i = 0; i < m->nl; i++) {
        const db_mlayer *L = &m->L[i];
        double mm = 0, dx = 0, rec = 0; /* forward, input gradient, GRU state gradient */
        switch (L->spec.type) {
        case DB_LAYER_DENSE:
            mm = dx = 2.0 * (double)L->in_size * (double)L->out_size;
            break;
        case DB_LAYER_CONV:
            mm = dx = 2.0 * (double)(L->conv.OC * L->conv.OH * L->conv.OW) *
                      (double)(L->conv.C * L->conv.K * L->conv.K);
            break;
        case DB_LAYER_GRU: {
            double H3 = 3.0 * (double)L->gru.H;
            mm = 2.0 * H3 * ((double)L->gru.D + (double)L->gru.H) * steps;
            dx = 2.0 * H3 * (double)L->gru.D * steps;
            rec = 2.0 * H3 * (double)L->gru.H * steps;
            break;
        }
        default:
            break;
        }
        f += mm;
        /* the weight gradient costs as much as the forward product */
        double lt = 2 * mm + rec + (below ? dx : 0);
        t += lt;
        if (L->spec.type == DB_LAYER_CONV)
            tc += lt;
        if (L->param_index >= 0)
            below = 1;
    }
    *fwd = f;
    *train = t;
    if (train_conv)
        *train_conv = tc;
}

size_t db_model_param_count(const db_model *m) { return m->nparams; }

/* The running shape through plan_layer's helpers: the layer's input on
 * entry, its output on return; ovf is set when a size overflows size_t. */
typedef struct plan_shape {
    int kind; /* enum db_shape_kind */
    size_t c, h, w;
    int ovf;
} plan_shape;

static int plan_conv(const db_model *m, db_mlayer *L, size_t i, plan_shape *p, db_err *e)
{
    const db_layer *s = &L->spec;
    if (p->kind != DB_SHAPE_IMAGE)
        return db_fail(e, "layer %zu (conv): input is not an image", i);
    if (conv2d_shape_init(&L->conv, m->bmax, p->c, p->h, p->w, s->units, s->kernel,
                          s->stride, s->pad, e))
        return db_prefix(e, "layer %zu (conv)", i);
    L->w_rows = s->units;
    L->w_n = mul(s->units, mul(p->c, s->kernel * s->kernel, &p->ovf), &p->ovf);
    L->b_n = s->units;
    p->c = s->units;
    p->h = L->conv.OH;
    p->w = L->conv.OW;
    return 0;
}

/* Per channel of a conv map (S = H*W), per unit of a dense output (flat:
 * h = w = 1); gamma in the weight slot, beta in the bias's. */
static int plan_batchnorm(db_mlayer *L, size_t i, const plan_shape *p, db_err *e)
{
    if (p->kind == DB_SHAPE_SEQ)
        return db_fail(e, "layer %zu (batchnorm): input is a sequence; batchnorm "
                       "takes a conv map or a dense layer's output", i);
    L->w_rows = p->c;
    L->w_n = p->c;
    L->b_n = p->c;
    L->s_n = 2 * p->c;
    return 0;
}

static int plan_maxpool(const db_model *m, db_mlayer *L, size_t i, plan_shape *p, db_err *e)
{
    const db_layer *s = &L->spec;
    if (p->kind != DB_SHAPE_IMAGE)
        return db_fail(e, "layer %zu (maxpool): input is not an image", i);
    if (pool_shape_init(&L->pool, m->bmax, p->c, p->h, p->w, s->kernel, s->stride, s->pad,
                        e))
        return db_prefix(e, "layer %zu (maxpool)", i);
    p->h = L->pool.OH;
    p->w = L->pool.OW;
    return 0;
}

static int plan_dense(db_mlayer *L, size_t i, plan_shape *p, db_err *e)
{
    const db_layer *s = &L->spec;
    if (p->kind == DB_SHAPE_SEQ)
        return db_fail(e, "layer %zu (dense): input is a sequence; put a gru "
                       "layer before it", i);
    L->w_rows = s->units;
    L->w_n = mul(s->units, L->in_size, &p->ovf);
    L->b_n = s->units;
    p->kind = DB_SHAPE_FLAT;
    p->c = s->units;
    p->h = p->w = 1;
    return 0;
}

static int plan_embedding(const db_model *m, db_mlayer *L, size_t i, plan_shape *p,
                          db_err *e)
{
    const db_layer *s = &L->spec;
    if (!m->text || i != 0)
        return db_fail(e, "layer %zu (embedding): only allowed as the first layer "
                       "of a model on a text data set", i);
    if (s->vocab < m->in_w)
        return db_fail(e, "layer 0 (embedding): vocab %zu is smaller than the data "
                       "set's %zu token values", s->vocab, m->in_w);
    L->in_size = m->in_h; /* tokens per example */
    L->w_rows = s->vocab;
    L->w_n = mul(s->vocab, s->units, &p->ovf);
    p->kind = DB_SHAPE_SEQ;
    p->h = m->in_h;
    p->w = s->units;
    return 0;
}

static int plan_gru(const db_model *m, db_mlayer *L, size_t i, plan_shape *p, db_err *e)
{
    const db_layer *s = &L->spec;
    if (p->kind != DB_SHAPE_SEQ)
        return db_fail(e, "layer %zu (gru): input is not a sequence", i);
    if (gru_shape_init(&L->gru, m->bmax, p->h, p->w, s->units, e))
        return db_prefix(e, "layer %zu (gru)", i);
    L->w_n = mul(3 * s->units, p->w, &p->ovf);
    L->w2_n = mul(3 * s->units, s->units, &p->ovf);
    L->b_n = 3 * s->units;
    L->b2_n = 3 * s->units;
    if (s->seq) { /* a stack's lower layer: (T, H) per example */
        p->w = s->units;
        return 0;
    }
    p->kind = DB_SHAPE_FLAT;
    p->c = s->units;
    p->h = p->w = 1;
    return 0;
}

/* On the state of the GRU right below, inside its recurrence
 * (gru_forward_ex's rmask, one (B, H) mask per batch); the layer itself
 * passes the GRU's output on unchanged. */
static int plan_recurrent_drop(db_model *m, db_mlayer *L, size_t i, db_err *e)
{
    if (i == 0 || m->L[i - 1].spec.type != DB_LAYER_GRU)
        return db_fail(e, "layer %zu (dropout, recurrent mode): must come right "
                       "after a gru layer", i);
    if (gru_shape_set_rdrop(&m->L[i - 1].gru, 1, e))
        return db_prefix(e, "layer %zu (dropout, recurrent mode)", i);
    L->drop_g = m->L[i - 1].spec.units;
    L->drop_s = 1;
    return 0;
}

/* A dropout layer's mask groups: drop_g draws per example, each used on
 * drop_s consecutive values. */
static int plan_dropout_groups(db_model *m, db_mlayer *L, size_t i, const plan_shape *p,
                               db_err *e)
{
    const db_layer *s = &L->spec;
    if (s->mode == DROPOUT_RECURRENT)
        return plan_recurrent_drop(m, L, i, e);
    if (s->mode == DROPOUT_LOCKED) {
        if (p->kind != DB_SHAPE_SEQ)
            return db_fail(e, "layer %zu (dropout, locked mode): input is not a "
                           "sequence", i);
        L->drop_g = p->w; /* one draw per (example, feature) */
        L->drop_s = p->h; /* used at each of the T steps */
    } else if (s->mode == DROPOUT_CHANNEL) {
        if (p->kind != DB_SHAPE_IMAGE)
            return db_fail(e, "layer %zu (dropout, channel mode): input is not an "
                           "image", i);
        L->drop_g = p->c;
        L->drop_s = p->h * p->w;
    } else if (s->mode == DROPOUT_DROPBLOCK) {
        if (p->kind != DB_SHAPE_IMAGE)
            return db_fail(e, "layer %zu (dropout, dropblock mode): input is not an "
                           "image (DropBlock drops square regions of conv maps)", i);
        if (s->block < 1)
            return db_fail(e, "layer %zu (dropout, dropblock mode): block size must "
                           "be at least 1", i);
        L->drop_g = L->in_size; /* the mask is per unit */
        L->drop_s = 1;
    } else if (s->mode == DROPOUT_DROPCONNECT) {
        /* a mask on the weights of the dense layer right above
         * (plan_layers checks it is one); passes its input on */
        L->drop_g = 0;
        L->drop_s = 1;
    } else if (s->mode == DROPOUT_POSITION) {
        if (p->kind != DB_SHAPE_SEQ)
            return db_fail(e, "layer %zu (dropout, position mode): input is not a "
                           "sequence", i);
        L->drop_g = p->h;
        L->drop_s = p->w;
    } else {
        L->drop_g = L->in_size;
        L->drop_s = 1;
    }
    return 0;
}

static int plan_dropout(db_model *m, db_mlayer *L, size_t i, const plan_shape *p, db_err *e)
{
    int rc = plan_dropout_groups(m, L, i, p, e);
    if (rc)
        return rc;
    if (dropout_check_rate(L->spec.rate, e))
        return db_prefix(e, "layer %zu (dropout)", i);
    if (L->spec.wscale && !db_dropout_mode_wscales(L->spec.mode))
        return db_fail(e, "layer %zu (dropout, %s mode): weight scaling is for element, "
                       "channel and position dropout", i, db_dropout_mode_name(L->spec.mode));
    /* inverted: kept units times 1 / (1 - rate), evaluation the identity;
     * weight scaling: kept units as they are, evaluation times 1 - rate */
    L->scale_rate = L->spec.wscale ? 0.0f : (float)L->spec.rate;
    L->eval_keep = L->spec.wscale ? 1.0f - (float)L->spec.rate : 1.0f;
    L->site_index = (int)m->ndropout++;
    return 0;
}

/* Elements per example of the shape p holds. */
static size_t shape_size(plan_shape *p)
{
    return p->kind == DB_SHAPE_IMAGE ? mul(mul(p->c, p->h, &p->ovf), p->w, &p->ovf)
         : p->kind == DB_SHAPE_SEQ   ? mul(p->h, p->w, &p->ovf)
                                     : p->c;
}

/* Shape inference and parameter layout for one layer; no allocation. */
static int plan_layer(db_model *m, db_mlayer *L, size_t i, int *kind, size_t *c,
                      size_t *h, size_t *w, db_err *e)
{
    const db_layer *s = &L->spec;
    const char *tn = db_layer_type_name(s->type);
    plan_shape p = { *kind, *c, *h, *w, 0 };
    L->in_kind = p.kind;
    L->in_c = p.c;
    L->in_h = p.h;
    L->in_w = p.w;
    L->param_index = -1;
    L->dc_from = -1;
    L->in_size = shape_size(&p);
    if (m->text && i == 0 && s->type != DB_LAYER_EMBEDDING)
        return db_fail(e, "layer 0 (%s): a text data set needs an embedding layer "
                       "first", tn);
    int rc = 0;
    switch (s->type) {
    case DB_LAYER_CONV:
        rc = plan_conv(m, L, i, &p, e);
        break;
    case DB_LAYER_RELU:
    case DB_LAYER_SIGMOID:
        break;
    case DB_LAYER_BATCHNORM:
        rc = plan_batchnorm(L, i, &p, e);
        break;
    case DB_LAYER_MAXPOOL:
        rc = plan_maxpool(m, L, i, &p, e);
        break;
    case DB_LAYER_DENSE:
        rc = plan_dense(L, i, &p, e);
        break;
    case DB_LAYER_EMBEDDING:
        rc = plan_embedding(m, L, i, &p, e);
        break;
    case DB_LAYER_GRU:
        rc = plan_gru(m, L, i, &p, e);
        break;
    case DB_LAYER_DROPOUT:
        rc = plan_dropout(m, L, i, &p, e);
        break;
    default:
        return db_fail(e, "layer %zu: unknown type %d", i, s->type);
    }
    if (rc)
        return rc;
    *kind = p.kind;
    *c = p.c;
    *h = p.h;
    *w = p.w;
    L->out_kind = p.kind;
    L->out_c = p.c;
    L->out_h = p.h;
    L->out_w = p.w;
    L->out_size = shape_size(&p);
    if (p.ovf)
        return db_fail(e, "layer %zu (%s): sizes overflow", i, tn);
    return 0;
}

/* Step 1: the input shape, then every layer's shapes and parameter layout
 * (plan_layer); *np parameters and *nwork floats of scratch in all. */
static int plan_layers(db_model *m, const db_arch *a, const db_model_input *in,
                       size_t bmax, size_t *np_out, size_t *nwork_out,
                       db_err *e)
{
    m->bmax = bmax;
    m->text = in->text;
    m->classes = in->classes;
    int kind;
    size_t c, h, w;
    if (in->text) {
        m->in_h = in->T;
        m->in_w = in->vocab;
        kind = DB_SHAPE_SEQ;
        c = 1;
        h = in->T;
        w = 1;
    } else {
        m->in_c = in->c;
        m->in_h = in->h;
        m->in_w = in->w;
        kind = DB_SHAPE_IMAGE;
        c = in->c;
        h = in->h;
        w = in->w;
    }
    if (a->n == 0 || a->n > DB_ARCH_MAX)
        return db_fail(e, "model has %zu layers (1 to %d allowed)", a->n, DB_ARCH_MAX);
    m->nl = a->n;
    size_t np = 0, nwork = 0;
    int p = 0;
    for (size_t i = 0; i < a->n; i++) {
        db_mlayer *L = &m->L[i];
        L->spec = a->layers[i];
        if (plan_layer(m, L, i, &kind, &c, &h, &w, e))
            return -1;
        if (L->w_n) {
            L->param_index = p++;
            L->w_off = np;
            np += L->w_n;
            L->b_off = np;
            np += L->b_n;
            L->w2_off = np;
            np += L->w2_n;
            L->b2_off = np;
            np += L->b2_n;
        }
        size_t wk = 0;
        if (L->spec.type == DB_LAYER_CONV) {
            wk = conv2d_work_floats(&L->conv);
            if (conv2d_pooled_suits(&L->conv) && conv2d_pooled_work_floats(&L->conv) > wk)
                wk = conv2d_pooled_work_floats(&L->conv);
        }
        else if (L->spec.type == DB_LAYER_GRU)
            wk = gru_work_floats(&L->gru);
        else if (L->spec.type == DB_LAYER_DROPOUT && L->spec.mode == DROPOUT_RECURRENT)
            wk = gru_work_floats(&m->L[i - 1].gru); /* grown by its rmask */
        if (wk > nwork)
            nwork = wk;
        size_t big = (L->out_size > L->in_size ? L->out_size : L->in_size);
        if (big > SIZE_MAX / bmax / 16)
            return db_fail(e, "layer %zu: activations too large", i);
    }
    for (size_t i = 0; i < m->nl; i++) {
        db_mlayer *L = &m->L[i];
        if (L->spec.type != DB_LAYER_DROPOUT || L->spec.mode != DROPOUT_DROPCONNECT)
            continue;
        if (i + 1 >= m->nl || m->L[i + 1].spec.type != DB_LAYER_DENSE)
            return db_fail(e, "layer %zu (dropout, dropconnect mode): must come right "
                           "before a dense layer (DropConnect masks that layer's "
                           "weights)", i);
        m->L[i + 1].dc_from = (int)i;
    }
    size_t ns = 0;
    for (size_t i = 0; i < m->nl; i++) {
        m->L[i].s_off = ns;
        ns += m->L[i].s_n;
    }
    m->nstate = ns;
    const db_mlayer *last = &m->L[m->nl - 1];
    if (last->spec.type != DB_LAYER_DENSE || last->out_size != m->classes)
        return db_fail(e, "the last layer must be a dense layer with %zu units (one "
                       "per class); it is a %s layer with %zu outputs", m->classes,
                       db_layer_type_name(last->spec.type), last->out_size);
    *np_out = np;
    *nwork_out = nwork;
    return 0;
}

/* Step 2: which layers run fused or grouped (conv+ReLU, ReLU+max-pool, the
 * conv - ReLU - max-pool chunks); the chunks' scratch into *npair and
 * *nprep floats. */
/* A dropout layer that a conv - ReLU - max-pool group can take in: one
 * mask byte per (example, unit) or (example, channel), applied by
 * dropout_apply. */
static int groupable_dropout(const db_mlayer *D)
{
    return D->spec.type == DB_LAYER_DROPOUT &&
           (D->spec.mode == DROPOUT_ELEMENT || D->spec.mode == DROPOUT_CHANNEL);
}

static void plan_fusion(db_model *m, size_t bmax, size_t *npair_out,
                        size_t *nprep_out)
{
    /* A conv, dense or batchnorm layer followed by a ReLU writes the
     * ReLU's output directly: nothing needs the pre-activation values
     * (conv, dense and batchnorm backward read their input, ReLU backward
     * its output), so they are neither stored nor read again. */
    for (size_t i = 0; i + 1 < m->nl; i++) {
        db_mlayer *L = &m->L[i];
        L->relu_fused = (L->spec.type == DB_LAYER_CONV || L->spec.type == DB_LAYER_DENSE ||
                         L->spec.type == DB_LAYER_BATCHNORM) &&
                        m->L[i + 1].spec.type == DB_LAYER_RELU;
    }
    /* A max-pool right above a ReLU does the ReLU's backward in its own
     * (maxpool_backward_relu_set): one pass over the larger gradient
     * instead of two. */
    for (size_t i = 1; i < m->nl; i++)
        m->L[i].pool_relu = m->L[i].spec.type == DB_LAYER_MAXPOOL &&
                            m->L[i - 1].spec.type == DB_LAYER_RELU;
    /* A conv with a ReLU and a max-pool right above it runs the three a
     * few examples at a time (pair_member): the conv's output and its
     * gradient, a CNN's largest tensors, then stay in L2 from one layer to
     * the next instead of going through memory, and that gradient needs no
     * batch-sized buffer, only a chunk's worth of scratch per thread.  A
     * dropout between the ReLU and the pool (the `conv` and `spatial`
     * placements) joins the group when it is element-wise or channel-wise:
     * its mask is drawn for the whole batch first, as on its own. */
    size_t npair = 0, nprep = 0;
    for (size_t i = 0; i + 2 < m->nl; i++) {
        db_mlayer *L = &m->L[i];
        if (L->spec.type != DB_LAYER_CONV || !L->relu_fused || atomic_load(&grouping_off))
            continue;
        const int drop = i + 3 < m->nl && groupable_dropout(&m->L[i + 2]) &&
                         m->L[i + 3].spec.type == DB_LAYER_MAXPOOL;
        if (!drop && !m->L[i + 2].pool_relu)
            continue;
        size_t ch = DB_PAIR_BYTES / sizeof(float) / L->out_size;
        ch = ch < 1 ? 1 : ch > bmax ? bmax : ch;
        L->pair_chunk = ch;
        L->pair_drop = drop;
        m->L[i + 2].in_pair = drop;
        m->L[i + 2 + drop].paired = 2 + drop;
        if (ch * L->out_size > npair)
            npair = ch * L->out_size;
        /* its filters' Winograd transforms, once per pass, not per chunk */
        if (conv2d_prep_floats(&L->conv) > nprep)
            nprep = conv2d_prep_floats(&L->conv);
    }
    /* Dropout always writes its own output buffer (STYLE.md): the layer
     * below keeps its undropped output, whatever its backward needs. */
    for (size_t i = 0; i < m->nl; i++)
        m->L[i].out_alias = m->L[i].relu_fused;
    /* ...but recurrent dropout changes no value of its GRU's output: it
     * passes that buffer on, and so does DropConnect (it acts on the
     * weights of the dense layer above) */
    for (size_t i = 0; i < m->nl; i++)
        if ((i > 0 && is_recurrent_drop(&m->L[i])) || is_dropconnect(&m->L[i]))
            m->L[i].out_alias = 1;
    *npair_out = npair;
    *nprep_out = nprep;
}

/* Step 3: the sizes of backward's two ping-pong gradient buffers into
 * m->dsize. */
static void plan_grad_buffers(db_model *m, size_t bmax)
{
    /* The ping-pong buffers of backward, each sized for the gradients that
     * land in it: the walk below follows db_model_backward (ReLU and dropout
     * work in place, every other layer writes the other buffer, nothing
     * goes below the first parametric layer).  For LeNet the largest
     * gradient (the first conv's output) never shares a buffer with the
     * second largest. */
    size_t first = m->nl;
    for (size_t i = 0; i < m->nl && first == m->nl; i++)
        if (m->L[i].param_index >= 0)
            first = i;
    size_t dsz[2] = { bmax * m->classes, 0 };
    int cur = 0;
    for (size_t i = m->nl; first < m->nl && i-- > first;) {
        const db_mlayer *L = &m->L[i];
        if (bmax * L->out_size > dsz[cur])
            dsz[cur] = bmax * L->out_size;
        if (L->paired) { /* on to its conv; the gradient between is scratch */
            i -= (size_t)L->paired;
            L = &m->L[i];
        }
        if (i == first || L->spec.type == DB_LAYER_RELU ||
            L->spec.type == DB_LAYER_DROPOUT || L->spec.type == DB_LAYER_SIGMOID)
            continue;
        cur ^= 1;
        if (bmax * L->in_size > dsz[cur])
            dsz[cur] = bmax * L->in_size;
    }
    m->dsize[0] = dsz[0];
    m->dsize[1] = dsz[1];
}

/* Step 4: every buffer, after checking the estimate against the limit. */
static int allocate(db_model *m, size_t bmax, size_t np, size_t nwork,
                    size_t npair, size_t nprep, db_err *e)
{
    const size_t *dsz = m->dsize;
    /* Estimate before allocating anything. */
    size_t est = 3 * np + m->nstate + nwork + dsz[0] + dsz[1];
    for (size_t i = 0; i < m->nl; i++)
        est += bmax * m->L[i].out_size * 2;
    if (est > DB_MODEL_MAX_BYTES / sizeof(float))
        return db_fail(e, "model would need about %.1f GiB (limit %zu GiB)",
                       (double)est * 4 / (1 << 30), DB_MODEL_MAX_BYTES >> 30);

    size_t total = 0;
    int fail = 0;
    m->nparams = np;
    fail |= !(m->params = xcalloc(np, sizeof(float), &total));
    fail |= !(m->grads = xcalloc(np, sizeof(float), &total));
    fail |= !(m->velocity = xcalloc(np, sizeof(float), &total));
    if (m->nstate)
        fail |= !(m->state = xcalloc(m->nstate, sizeof(float), &total));
    if (m->text) {
        fail |= !(m->tok = xcalloc(bmax * m->in_h, 1, &total));
        fail |= !(m->len = xcalloc(bmax, sizeof(uint32_t), &total));
    } else {
        fail |= !(m->input = xcalloc(bmax * m->in_c * m->in_h * m->in_w,
                                     sizeof(float), &total));
    }
    fail |= !(m->probs = xcalloc(bmax * m->classes, sizeof(float), &total));
    fail |= !(m->dbuf[0] = xcalloc(dsz[0], sizeof(float), &total));
    fail |= !(m->dbuf[1] = xcalloc(dsz[1], sizeof(float), &total));
    m->nwork = nwork;
    m->npair = npair;
    m->nprep = nprep;
    m->nthreads = 1;
    m->blas_threads = 1;
    fail |= !(m->work = xcalloc(nwork, sizeof(float), &total));
    for (size_t i = 0; i < m->nl && !fail; i++) {
        db_mlayer *L = &m->L[i];
        if (!L->out_alias)
            fail |= !(L->out = xcalloc(bmax * L->out_size, sizeof(float), &total));
        if (L->spec.type == DB_LAYER_DROPOUT)
            fail |= !(L->mask = xcalloc(mask_bytes(m, i), 1, &total));
        if (is_dropconnect(L))
            fail |= !(L->wm = xcalloc(m->L[i + 1].w_n, sizeof(float), &total));
        if (L->spec.type == DB_LAYER_DROPOUT && L->spec.mode == DROPOUT_GAUSSIAN)
            fail |= !(L->noise = xcalloc(bmax * L->drop_g, sizeof(float), &total));
        if (L->spec.type == DB_LAYER_BATCHNORM)
            fail |= !(L->cache = xcalloc(batchnorm_cache_floats(L->in_c), sizeof(float),
                                         &total));
        if (L->spec.type == DB_LAYER_MAXPOOL)
            fail |= !(L->argmax = xcalloc(bmax * L->out_size, sizeof(uint32_t), &total));
        if (L->spec.type == DB_LAYER_GRU) { /* one member's, until set_threads */
            L->cache_stride = gru_cache_floats(&L->gru);
            fail |= !(L->cache = xcalloc(L->cache_stride, sizeof(float), &total));
        }
    }
    if (fail) {
        db_model_free(m);
        return db_fail(e, "out of memory allocating the model (%zu bytes so far)", total);
    }
    for (size_t i = 0; i + 1 < m->nl; i++)
        if (m->L[i].relu_fused)
            m->L[i].out = m->L[i + 1].out;
    for (size_t i = 1; i < m->nl; i++)
        if (is_recurrent_drop(&m->L[i]))
            m->L[i].out = m->L[i - 1].out;
    for (size_t i = 0; i < m->nl; i++)
        if (is_dropconnect(&m->L[i]))
            m->L[i].out = i ? m->L[i - 1].out : m->input;
    return 0;
}

int db_model_build(db_model *m, const db_arch *a, const db_model_input *in,
                   size_t bmax, db_err *e)
{
    memset(m, 0, sizeof *m);
    if (bmax == 0)
        return db_fail(e, "batch size must be positive");
    size_t np = 0, nwork = 0, npair = 0, nprep = 0;
    if (plan_layers(m, a, in, bmax, &np, &nwork, e))
        return -1;
    plan_fusion(m, bmax, &npair, &nprep);
    nwork += npair + nprep;
    plan_grad_buffers(m, bmax);
    return allocate(m, bmax, np, nwork, npair, nprep, e);
}

/* The weight gradient partials a member other than the first writes for
 * layer L (conv and GRU layers, whose weight gradients sum over the
 * batch); 0 for the others.  A layer's parameters are contiguous from
 * w_off: W, b, then a GRU's W2 and b2. */
static size_t partial_floats(const db_mlayer *L)
{
    if (L->spec.type != DB_LAYER_CONV && L->spec.type != DB_LAYER_GRU)
        return 0;
    return L->w_n + L->b_n + L->w2_n + L->b2_n;
}

/* The cache a team member needs for GRU layer L: its shape at the largest
 * slice of a batch of bmax over n members. */
static size_t gru_member_cache(const db_model *m, const db_mlayer *L, size_t n)
{
    gru_shape s = L->gru;
    s.B = (m->bmax + n - 1) / n;
    return gru_cache_floats(&s);
}

/* The GRU layers' caches for n members into caches (zeroed by the caller;
 * NULL for the other layers).  On failure the caller frees what was
 * allocated. */
static int alloc_gru_caches(const db_model *m, size_t n, float **caches, db_err *e)
{
    for (size_t i = 0; i < m->nl; i++) {
        if (m->L[i].spec.type != DB_LAYER_GRU)
            continue;
        size_t per = gru_member_cache(m, &m->L[i], n);
        if (per > SIZE_MAX / sizeof(float) / n ||
            !(caches[i] = calloc(per * n, sizeof(float))))
            return db_fail(e, "threads: out of memory allocating %zu threads' GRU caches", n);
    }
    return 0;
}

int db_model_set_threads(db_model *m, size_t n, db_err *e)
{
    if (n < 1 || n > DB_POOL_MAX)
        return db_fail(e, "threads: %zu (1 to %d allowed)", n, DB_POOL_MAX);
    /* The team splits every batch; each member's products run on one
     * OpenBLAS thread.  (A GRU's time steps are sequential, but its
     * examples are not: each member runs the recurrence over its own
     * slice of the batch.  OpenBLAS's threads inside a GRU's small
     * per-step products cost more than they gave: 2 threads ran
     * wordlang-gru slower than one.) */
    m->blas_threads = 1;
    db_blas_set_threads(1);
    if (n == m->nthreads)
        return 0;
    size_t ng = 0;
    for (size_t i = 0; i < m->nl; i++)
        if (partial_floats(&m->L[i]) > ng)
            ng = partial_floats(&m->L[i]);
    if (m->nwork > SIZE_MAX / sizeof(float) / n || ng > SIZE_MAX / sizeof(float) / n)
        return db_fail(e, "threads: %zu threads' scratch overflows", n);
    db_pool *pool = NULL;
    size_t nw = m->nwork * n, np = ng * (n - 1);
    float *work = calloc(nw ? nw : 1, sizeof(float));
    float *gpart = calloc(np ? np : 1, sizeof(float));
    float **caches = calloc(m->nl ? m->nl : 1, sizeof *caches);
    if (!work || !gpart || !caches) {
        free(work);
        free(gpart);
        free(caches);
        return db_fail(e, "out of memory allocating %zu threads' scratch", n);
    }
    if (alloc_gru_caches(m, n, caches, e) || db_pool_create(&pool, n, e)) {
        for (size_t i = 0; i < m->nl; i++)
            free(caches[i]);
        free(caches);
        free(work);
        free(gpart);
        return -1; /* the error is in e */
    }
    for (size_t i = 0; i < m->nl; i++)
        if (caches[i]) {
            free(m->L[i].cache);
            m->L[i].cache = caches[i];
            m->L[i].cache_stride = gru_member_cache(m, &m->L[i], n);
        }
    free(caches);
    free(m->work);
    free(m->gpart);
    db_pool_free(m->pool);
    m->work = work;
    m->gpart = gpart;
    m->ngpart = ng;
    m->pool = pool;
    m->nthreads = n;
    return 0;
}

size_t db_model_bytes(const db_model *m)
{
    size_t f = 3 * m->nparams + m->nstate + m->dsize[0] + m->dsize[1] + m->nwork * m->nthreads +
               (m->nthreads - 1) * m->ngpart + m->bmax * m->classes;
    size_t b = m->text ? m->bmax * (m->in_h + 4) : m->bmax * m->in_c * m->in_h * m->in_w * 4;
    for (size_t i = 0; i < m->nl; i++) {
        const db_mlayer *L = &m->L[i];
        if (!L->out_alias)
            f += m->bmax * L->out_size;
        if (L->mask)
            b += mask_bytes(m, i);
        if (L->argmax)
            b += m->bmax * L->out_size * 4;
        if (L->cache)
            f += L->spec.type == DB_LAYER_BATCHNORM ? batchnorm_cache_floats(L->in_c)
                                                    : L->cache_stride * m->nthreads;
        if (L->noise)
            f += m->bmax * L->drop_g;
        if (L->wm)
            f += m->L[i + 1].w_n;
    }
    return f * sizeof(float) + b;
}

/* The weights a dense layer runs with: W' when the DropConnect layer below
 * it formed one this pass, else its own. */
static const float *dense_weights(const db_model *m, const db_mlayer *L)
{
    if (L->spec.type == DB_LAYER_DENSE && L->dc_from >= 0 && m->L[L->dc_from].dc_active)
        return m->L[L->dc_from].wm;
    return m->params + L->w_off;
}

/* One conv, max-pool, dense, batchnorm, ReLU or dropout layer on a team
 * member's share: the member's slice of the batch, for a dense layer's
 * weight gradient its slice of the output units, for batchnorm its slice of
 * the channels (no partial sums, no reduction). */

/* Element-wise or channel dropout D forward on rows [lo, lo + nb) of the
 * batch (x: those rows of its input): the mask drawn for the pass applied
 * when on, else the identity as dropout_forward does it (a copy, mask all
 * kept, no draws). */
static void dropout_rows(const db_mlayer *D, size_t lo, size_t nb, const float *x, int on)
{
    const size_t os = D->out_size, G = D->drop_g;
    if (on) {
        dropout_apply(D->out + lo * os, D->mask + lo * G, x, nb, G, D->drop_s,
                      D->scale_rate);
        return;
    }
    float *o = D->out + lo * os;
    if (D->eval_keep != 1.0f) /* weight scaling: the expected output */
        for (size_t k = 0; k < nb * os; k++)
            o[k] = x[k] * D->eval_keep;
    else
        memcpy(o, x, nb * os * sizeof(float));
    memset(D->mask + lo * G, 1, nb * G);
}

typedef struct slice_job {
    db_model *m;
    db_mlayer *L;
    size_t B;
    const float *x;    /* layer input (B, in_size) */
    const float *d;    /* backward: gradient at the output (B, out_size) */
    float *din;        /* backward: gradient at the input, or NULL */
    int backward;
    int training;      /* dropout forward: the mask is drawn and applied */
} slice_job;

/* Batchnorm splits by channels: every member needs the whole batch of its
 * own. */
static void slice_batchnorm(const slice_job *j, size_t t, size_t n)
{
    db_model *m = j->m;
    db_mlayer *L = j->L;
    const size_t C = L->in_c, S = L->in_h * L->in_w;
    size_t clo, chi;
    db_pool_slice(C, t, n, &clo, &chi);
    if (chi == clo)
        return;
    if (j->backward)
        batchnorm_backward_channels(j->din, m->grads + L->w_off, m->grads + L->b_off,
                                    j->d, j->x, L->cache, m->params + L->w_off, j->B,
                                    C, S, clo, chi);
    else
        batchnorm_forward_channels(L->out, L->cache, m->state + L->s_off,
                                   m->state + L->s_off + C, j->x,
                                   m->params + L->w_off, m->params + L->b_off, j->B, C,
                                   S, BATCHNORM_EPS, BATCHNORM_MOMENTUM, j->training,
                                   L->relu_fused, clo, chi);
}

/* Element-wise; backward in place over the gradient (din == d). */
static void slice_relu(const slice_job *j, size_t lo, size_t nb)
{
    db_mlayer *L = j->L;
    const size_t is = L->in_size, os = L->out_size;
    if (j->backward)
        relu_backward_inplace(j->din + lo * os, L->out + lo * os, nb * os);
    else
        relu_forward(L->out + lo * os, j->x + lo * is, nb * os);
}

/* Gaussian dropout, (B, G, S) with one factor per (example, group). */
static void slice_dropout_gauss(const slice_job *j, size_t lo, size_t hi)
{
    db_mlayer *L = j->L;
    const size_t nb = hi - lo, os = L->out_size, G = L->drop_g;
    const float rate = (float)L->spec.rate;
    const float *x = j->x + lo * L->in_size;
    if (j->backward)
        dropout_gauss_backward_inplace(j->din + lo * os, L->noise + lo * G, nb, G,
                                       L->drop_s);
    else if (j->training && rate > 0.0f) /* the caller drew the noise */
        dropout_gauss_apply(L->out + lo * os, L->noise + lo * G, x, nb, G, L->drop_s);
    else {
        memcpy(L->out + lo * os, x, nb * os * sizeof(float));
        for (size_t k = lo * G; k < hi * G; k++)
            L->noise[k] = 1.0f;
    }
}

/* DropBlock: one mask byte per unit; the caller drew it and the scale. */
static void slice_dropblock(const slice_job *j, size_t lo, size_t nb)
{
    db_mlayer *L = j->L;
    const size_t os = L->out_size;
    const float rate = (float)L->spec.rate;
    const float *x = j->x + lo * L->in_size;
    if (j->backward)
        dropblock_backward_inplace(j->din + lo * os, L->mask + lo * os, nb * os,
                                   L->dbscale);
    else if (j->training && rate > 0.0f)
        dropblock_apply(L->out + lo * os, L->mask + lo * os, x, nb * os, L->dbscale);
    else {
        memcpy(L->out + lo * os, x, nb * os * sizeof(float));
        memset(L->mask + lo * os, 1, nb * os);
    }
}

static void slice_dropout(const slice_job *j, size_t lo, size_t hi)
{
    db_mlayer *L = j->L;
    if (L->spec.mode == DROPOUT_GAUSSIAN) {
        slice_dropout_gauss(j, lo, hi);
        return;
    }
    if (L->spec.mode == DROPOUT_DROPBLOCK) {
        slice_dropblock(j, lo, hi - lo);
        return;
    }
    const size_t nb = hi - lo, os = L->out_size, G = L->drop_g;
    const float rate = (float)L->spec.rate;
    const float *x = j->x + lo * L->in_size;
    if (L->spec.mode == DROPOUT_LOCKED && (j->backward || (j->training && rate > 0.0f))) {
        /* (B, T, D) with one (B, D) mask; the identity as below */
        if (j->backward)
            dropout_locked_backward_inplace(j->din + lo * os, L->mask + lo * G, nb,
                                            L->drop_s, G, rate);
        else
            dropout_locked_apply(L->out + lo * os, L->mask + lo * G, x, nb, L->drop_s,
                                 G, rate);
        return;
    }
    if (j->backward)
        dropout_backward_inplace(j->din + lo * os, L->mask + lo * G, nb, G, L->drop_s,
                                 L->scale_rate);
    else /* the caller drew the mask */
        dropout_rows(L, lo, nb, x, j->training && rate > 0.0f);
}

static void slice_maxpool(const slice_job *j, size_t lo, size_t nb)
{
    db_mlayer *L = j->L;
    const size_t is = L->in_size, os = L->out_size;
    const float *x = j->x + lo * is;
    float *din = j->din ? j->din + lo * is : NULL;
    pool_shape s = L->pool;
    s.B = nb;
    if (!j->backward) {
        maxpool_forward(L->out + lo * os, L->argmax + lo * os, x, &s);
    } else if (L->pool_relu) {
        maxpool_backward_relu_set(din, j->d + lo * os, L->argmax + lo * os,
                                  L->out + lo * os, &s);
    } else {
        maxpool_backward_set(din, j->d + lo * os, L->argmax + lo * os, &s);
    }
}

/* Split by units, not examples: every member then packs only its share of
 * W for OpenBLAS (LeNet's first dense W is 12.8 MB). */
static void slice_dense(const slice_job *j, size_t t, size_t n)
{
    db_model *m = j->m;
    db_mlayer *L = j->L;
    const size_t is = L->in_size, os = L->out_size;
    const float *W = dense_weights(m, L), *b = m->params + L->b_off;
    size_t olo, ohi;
    db_pool_slice(os, t, n, &olo, &ohi);
    if (j->backward) {
        dense_backward_weights_set(m->grads + L->w_off, m->grads + L->b_off, j->d,
                                   j->x, j->B, is, os, olo, ohi);
        if (j->din) {
            size_t ilo, ihi;
            db_pool_slice(is, t, n, &ilo, &ihi);
            dense_backward_input_set(j->din, j->d, W, j->B, is, os, ilo, ihi);
        }
    } else {
        dense_forward_units(L->out, j->x, W, b, j->B, is, os, olo, ohi);
        if (L->relu_fused && ohi > olo) /* in place, while it is in cache */
            for (size_t r = 0; r < j->B; r++)
                relu_forward(L->out + r * os + olo, L->out + r * os + olo, ohi - olo);
    }
}

static void slice_conv(const slice_job *j, size_t t, size_t lo, size_t nb)
{
    db_model *m = j->m;
    db_mlayer *L = j->L;
    const size_t is = L->in_size, os = L->out_size;
    const float *x = j->x + lo * is;
    const float *W = dense_weights(m, L), *b = m->params + L->b_off;
    float *din = j->din ? j->din + lo * is : NULL;
    conv2d_shape s = L->conv;
    s.B = nb;
    float *work = m->work + t * m->nwork;
    if (!j->backward) {
        if (nb == 0)
            return;
        if (L->relu_fused)
            conv2d_forward_relu(L->out + lo * os, x, W, b, &s, work);
        else
            conv2d_forward(L->out + lo * os, x, W, b, &s, work);
        return;
    }
    /* Member 0 writes the layer's gradients, the others their partials;
     * b_off = w_off + w_n, so the bias gradient follows the weights'. */
    float *dW = t == 0 ? m->grads + L->w_off : m->gpart + (t - 1) * m->ngpart;
    if (nb == 0) {
        memset(dW, 0, (L->w_n + L->b_n) * sizeof(float));
        return;
    }
    conv2d_backward_set(din, dW, dW + L->w_n, j->d + lo * os, x, W, &s, work);
}

/* Member t of n: its share of the layer.  A conv, dense or batchnorm layer
 * takes part with an empty slice of the batch (the conv's partials are
 * zeroed, the others split by units or channels). */
static void slice_member(void *arg, size_t t, size_t n)
{
    const slice_job *j = arg;
    const db_mlayer *L = j->L;
    size_t lo, hi;
    db_pool_slice(j->B, t, n, &lo, &hi);
    const size_t nb = hi - lo;
    if (nb == 0 && L->spec.type != DB_LAYER_CONV && L->spec.type != DB_LAYER_DENSE &&
        L->spec.type != DB_LAYER_BATCHNORM)
        return;
    switch (L->spec.type) {
    case DB_LAYER_BATCHNORM:
        slice_batchnorm(j, t, n);
        return;
    case DB_LAYER_RELU:
        slice_relu(j, lo, nb);
        return;
    case DB_LAYER_DROPOUT:
        slice_dropout(j, lo, hi);
        return;
    case DB_LAYER_MAXPOOL:
        slice_maxpool(j, lo, nb);
        return;
    case DB_LAYER_DENSE:
        slice_dense(j, t, n);
        return;
    default:
        slice_conv(j, t, lo, nb);
        return;
    }
}

/* The conv and GRU weight gradients sum over the batch: the members'
 * partials are added in member order. */
static void add_partials(db_model *m, const db_mlayer *L)
{
    float *g = m->grads + L->w_off;
    const size_t n = partial_floats(L);
    for (size_t t = 1; t < m->nthreads; t++) {
        const float *p = m->gpart + (t - 1) * m->ngpart;
        for (size_t k = 0; k < n; k++)
            g[k] += p[k];
    }
}

/* A layer over the team; with one thread, a plain call on the whole batch. */
static void run_sliced(db_model *m, db_mlayer *L, size_t B, const float *x,
                       const float *d, float *din, int backward, int training)
{
    slice_job j = { m, L, B, x, d, din, backward, training };
    if (m->nthreads == 1) {
        slice_member(&j, 0, 1);
        return;
    }
    db_pool_run(m->pool, slice_member, &j);
    if (backward && L->spec.type == DB_LAYER_CONV)
        add_partials(m, L);
}

/* A paired conv C (ReLU fused) and the max-pool P above it, with or
 * without a dropout D between the ReLU and the pool, on a member's slice of
 * the batch, pair_chunk examples at a time: forward, the conv, D and the
 * pool of each chunk; backward, the pool's gradient (with the ReLU's: the
 * pool's output is > 0 exactly where its input, past the dropout, was
 * kept and positive) into scratch, D's backward on it, then the conv's
 * backward from it, the weight gradient summed over the chunks in example
 * order.  A conv that suits conv2d_pooled_weights takes its weight
 * gradient straight from the pool's instead. */
typedef struct pair_job {
    db_model *m;
    const db_mlayer *C, *D, *P; /* D: NULL when the group has no dropout */
    size_t B;
    const float *x; /* the conv's input (B, C->in_size) */
    const float *d; /* backward: gradient at the pool's output */
    float *din;     /* backward: gradient at the conv's input, or NULL */
    int backward;
    int drop_on;    /* forward: D applies its mask (else the identity) */
    double dt[DB_POOL_MAX];     /* each member's seconds in D's passes */
} pair_job;

static void pair_member(void *arg, size_t t, size_t n)
{
    pair_job *j = arg;
    db_model *m = j->m;
    const db_mlayer *C = j->C, *P = j->P;
    size_t lo, hi;
    db_pool_slice(j->B, t, n, &lo, &hi);
    const size_t is = C->in_size, os = C->out_size, ps = P->out_size;
    const float *W = m->params + C->w_off, *b = m->params + C->b_off;
    float *work = m->work + t * m->nwork, *g = work + m->nwork - m->npair;
    float *prep = conv2d_prep_floats(&C->conv) ? g - m->nprep : NULL;
    float *dW = t == 0 ? m->grads + C->w_off : m->gpart + (t - 1) * m->ngpart;
    if (j->backward && hi == lo) {
        memset(dW, 0, (C->w_n + C->b_n) * sizeof(float));
        return;
    }
    int pooled = 0;
    if (j->backward && conv2d_pooled_suits(&C->conv)) {
        /* The weight gradient straight from the pool's; a first layer
         * needs nothing else, the others their input gradient below.  With
         * the dropout between, a pooled output > 0 came from a kept unit,
         * so the conv output it elected gets its gradient times
         * 1 / (1 - rate): the pool's gradient scaled so, in the dropout's
         * output buffer (free in backward: the pool's backward reads only
         * its argmax and output). */
        const float *gp = j->d + lo * ps;
        if (j->D) {
            float *sg = j->D->out + lo * ps;
            const float sc = 1.0f / (1.0f - j->D->scale_rate);
            for (size_t k = 0; k < (hi - lo) * ps; k++)
                sg[k] = gp[k] * sc;
            gp = sg;
        }
        conv2d_shape cs = C->conv;
        cs.B = hi - lo;
        conv2d_pooled_weights(dW, dW + C->w_n, gp, P->argmax + lo * ps,
                              P->out + lo * ps, P->pool.OH * P->pool.OW,
                              j->x + lo * is, &cs, work, 1);
        if (!j->din)
            return;
        pooled = 1;
        if (prep)
            conv2d_prep_input(prep, W, &C->conv);
    } else if (!j->backward && prep) {
        conv2d_prep_forward(prep, W, &C->conv);
    }
    for (size_t c0 = lo; c0 < hi; c0 += C->pair_chunk) {
        const size_t nb = hi - c0 < C->pair_chunk ? hi - c0 : C->pair_chunk;
        conv2d_shape cs = C->conv;
        pool_shape pl = P->pool;
        cs.B = nb;
        pl.B = nb;
        const float *x = j->x + c0 * is;
        if (!j->backward) {
            conv2d_forward_relu_prep(C->out + c0 * os, x, W, prep, b, &cs, work);
            const float *pin = C->out + c0 * os;
            if (j->D) {
                double d0 = db_now();
                dropout_rows(j->D, c0, nb, pin, j->drop_on);
                pin = j->D->out + c0 * os;
                j->dt[t] += db_now() - d0;
            }
            maxpool_forward(P->out + c0 * ps, P->argmax + c0 * ps, pin, &pl);
            continue;
        }
        maxpool_backward_relu_set(g, j->d + c0 * ps, P->argmax + c0 * ps, P->out + c0 * ps,
                                  &pl);
        if (j->D) {
            const db_mlayer *D = j->D;
            double d0 = db_now();
            dropout_backward_inplace(g, D->mask + c0 * D->drop_g, nb, D->drop_g, D->drop_s,
                                     D->scale_rate);
            j->dt[t] += db_now() - d0;
        }
        float *din = j->din ? j->din + c0 * is : NULL;
        if (pooled)
            conv2d_backward_input_set_prep(din, g, x, W, prep, &cs, work);
        else if (c0 == lo)
            conv2d_backward_set(din, dW, dW + C->w_n, g, x, W, &cs, work);
        else
            conv2d_backward_set_din(din, dW, dW + C->w_n, g, x, W, &cs, work);
    }
}

static void run_pair(db_model *m, const db_mlayer *C, size_t B, const float *x,
                     const float *d, float *din, int backward, int drop_on)
{
    pair_job j = { m, C, C->pair_drop ? C + 2 : NULL, C + 2 + C->pair_drop, B, x, d, din,
                   backward, drop_on, { 0 } };
    if (m->nthreads == 1)
        pair_member(&j, 0, 1);
    else
        db_pool_run(m->pool, pair_member, &j);
    if (backward && m->nthreads > 1)
        add_partials(m, C);
    /* the dropout's passes as the slowest member spent them */
    double dt = 0.0;
    for (size_t t = 0; t < m->nthreads; t++)
        dt = j.dt[t] > dt ? j.dt[t] : dt;
    m->t.dropout += dt;
}

/* A GRU layer on a member's slice of the batch, with the member's own
 * cache and scratch: the recurrence of each example is independent of the
 * others'.  Backward: member 0 adds to the layer's gradients (zeroed by
 * the caller), the others to their zeroed partials. */
typedef struct gru_job {
    db_model *m;
    const db_mlayer *L;
    size_t B;
    const float *x;    /* (B, T, D) */
    const float *d;    /* backward: gradient at the output */
    float *din;        /* backward: gradient at x (zeroed), or NULL */
    const uint8_t *rm; /* recurrent-dropout mask (B, H), or NULL */
    float rr;
    int backward;
} gru_job;

static void gru_member(void *arg, size_t t, size_t n)
{
    const gru_job *j = arg;
    db_model *m = j->m;
    const db_mlayer *L = j->L;
    size_t lo, hi;
    db_pool_slice(j->B, t, n, &lo, &hi);
    float *g = t == 0 ? m->grads + L->w_off : m->gpart + (t - 1) * m->ngpart;
    if (j->backward && t > 0)
        memset(g, 0, partial_floats(L) * sizeof(float));
    if (hi == lo)
        return;
    gru_shape s = L->gru;
    s.B = hi - lo;
    const size_t is = L->in_size, os = L->out_size;
    float *cache = L->cache + t * L->cache_stride, *work = m->work + t * m->nwork;
    const float *x = j->x + lo * is, *W = m->params + L->w_off;
    const float *Wh = m->params + L->w2_off;
    const uint32_t *len = m->len + lo;
    const uint8_t *rm = j->rm ? j->rm + lo * s.H : NULL;
    if (!j->backward) {
        /* gru_forward when there is no stack and no recurrent dropout (the
         * same bits); a stack's lower layer writes its sequence, its final
         * state goes to scratch (unused) */
        gru_forward_ex(L->spec.seq ? work : L->out + lo * os,
                       L->spec.seq ? L->out + lo * os : NULL, cache, x, len, rm, j->rr, W,
                       Wh, m->params + L->b_off, m->params + L->b2_off, &s);
        return;
    }
    const float *d = j->d + lo * os;
    gru_backward_ex(j->din ? j->din + lo * is : NULL, g, g + (L->w2_off - L->w_off),
                    g + (L->b_off - L->w_off), g + (L->b2_off - L->w_off),
                    L->spec.seq ? NULL : d, L->spec.seq ? d : NULL, cache, x, len, rm,
                    j->rr, W, Wh, &s, work);
}

static void run_gru(db_model *m, const db_mlayer *L, size_t B, const float *x,
                    const float *d, float *din, const uint8_t *rm, float rr, int backward)
{
    gru_job j = { m, L, B, x, d, din, rm, rr, backward };
    if (m->nthreads == 1) {
        gru_member(&j, 0, 1);
        return;
    }
    db_pool_run(m->pool, gru_member, &j);
    if (backward)
        add_partials(m, L);
}

void db_model_mc_seed(db_model *m, uint64_t seed, uint64_t evaluation)
{
    for (size_t i = 0; i < m->nl; i++)
        if (m->L[i].spec.type == DB_LAYER_DROPOUT)
            db_rng_seed(&m->L[i].mcrng, seed, DB_RNG_MC,
                        evaluation * 4096 + (uint64_t)m->L[i].site_index);
}

int db_model_check_train_batch(const db_model *m, size_t B, db_err *e)
{
    for (size_t i = 0; i < m->nl; i++) {
        const db_mlayer *L = &m->L[i];
        if (L->spec.type == DB_LAYER_BATCHNORM &&
            batchnorm_check(B, L->in_h * L->in_w, BATCHNORM_EPS, BATCHNORM_MOMENTUM, 1, e))
            return db_prefix(e, "layer %zu (batchnorm): a training batch of %zu "
                             "example(s)", i, B);
    }
    return 0;
}

void db_model_bn_moments(const db_model *m, size_t B, double *acc)
{
    size_t k = 0;
    for (size_t i = 0; i < m->nl; i++) {
        const db_mlayer *L = &m->L[i];
        if (L->spec.type != DB_LAYER_BATCHNORM)
            continue;
        const float *x = i ? m->L[i - 1].out : m->input;
        const size_t C = L->in_c, S = L->in_h * L->in_w;
        for (size_t c = 0; c < C; c++, k++) {
            double s = 0, ss = 0;
            for (size_t b = 0; b < B; b++)
                for (size_t j = 0; j < S; j++) {
                    const double v = x[(b * C + c) * S + j];
                    s += v;
                    ss += v * v;
                }
            acc[3 * k] += (double)(B * S);
            acc[3 * k + 1] += s;
            acc[3 * k + 2] += ss;
        }
    }
}

double db_model_forward(db_model *m, size_t B, const uint8_t *labels,
                        int training, size_t *correct)
{
    return db_model_forward_pass(m, B, labels, training ? DB_PASS_TRAIN : DB_PASS_EVAL,
                                 correct);
}

/* Draws dropout layer L's mask (or noise) for a batch of B in a pass that
 * drops (pass != DB_PASS_EVAL; MC passes from the Monte-Carlo stream),
 * from the site's one stream, in layer order whatever the thread count;
 * the team applies it.  The rate was validated when the model was built.
 * Returns whether the pass applies it (else the layer is the identity). */
static int draw_dropout(db_model *m, db_mlayer *L, size_t B, int pass)
{
    const float rate = (float)L->spec.rate;
    const int on = pass != DB_PASS_EVAL && rate > 0.0f;
    db_rng *rng = pass == DB_PASS_MC ? &L->mcrng : &L->rng;
    const int draw = on && !L->mask_fixed;
    double d0 = db_now();
    if (L->spec.mode == DROPOUT_GAUSSIAN) {
        if (draw)
            dropout_gauss_draw(L->noise, B * L->drop_g, rate, rng);
    } else if (L->spec.mode == DROPOUT_DROPBLOCK) {
        if (draw)
            L->dbscale = dropblock_draw_mask(L->mask, B, L->in_c, L->in_h, L->in_w,
                                             L->spec.block, rate, rng);
        else if (!on)
            L->dbscale = 1.0f;
    } else if (draw) {
        dropout_draw_mask(L->mask, B * L->drop_g, rate, rng);
    }
    if (L->in_pair) /* else the caller times the layer as a whole */
        m->t.dropout += db_now() - d0;
    return on;
}

double db_model_forward_pass(db_model *m, size_t B, const uint8_t *labels, int pass,
                             size_t *correct)
{
    double t0 = db_now();
    /* training: batchnorm on batch statistics; drop: dropout sites on, from
     * the training streams or (pass MC) the Monte-Carlo ones */
    const int training = pass == DB_PASS_TRAIN, drop = pass != DB_PASS_EVAL;
    const float *x = m->input;
    for (size_t i = 0; i < m->nl; i++) {
        db_mlayer *L = &m->L[i];
        const float *W = m->params + L->w_off;
        switch (L->spec.type) {
        case DB_LAYER_CONV:
        case DB_LAYER_MAXPOOL:
        case DB_LAYER_DENSE:
            if (L->dc_from >= 0) { /* W' from the DropConnect layer below */
                db_mlayer *D = &m->L[L->dc_from];
                const float rate = (float)D->spec.rate;
                double d0 = db_now();
                D->dc_active = drop && rate > 0.0f;
                if (D->dc_active) {
                    db_err de; /* the rate was validated when the model was built */
                    dropconnect_forward(D->wm, D->mask, W, L->w_rows, L->w_n / L->w_rows,
                                        rate, 1, pass == DB_PASS_MC ? &D->mcrng : &D->rng,
                                        &de);
                }
                m->t.dropout += db_now() - d0;
            }
            if (L->pair_chunk) {
                int on = 0;
                if (L->pair_drop) /* the group's dropout: its mask for the batch */
                    on = draw_dropout(m, &m->L[i + 2], B, pass);
                run_pair(m, L, B, x, NULL, NULL, 0, on);
            } else if (!L->paired) /* else done with its conv */
                run_sliced(m, L, B, x, NULL, NULL, 0, training);
            break;
        case DB_LAYER_BATCHNORM:
            run_sliced(m, L, B, x, NULL, NULL, 0, training);
            break;
        case DB_LAYER_RELU:
            if (!(i > 0 && m->L[i - 1].relu_fused)) /* else done by layer i-1 */
                run_sliced(m, L, B, x, NULL, NULL, 0, training);
            break;
        case DB_LAYER_EMBEDDING:
            embedding_forward(L->out, m->tok, m->len, W, B, m->in_h, L->spec.units);
            break;
        case DB_LAYER_SIGMOID:
            sigmoid_forward(L->out, x, B * L->out_size);
            break;
        case DB_LAYER_GRU: {
            float rr;
            const uint8_t *rm = gru_rmask(m, i, drop, &rr);
            if (rm && !m->L[i + 1].mask_fixed) {
                double d0 = db_now();
                dropout_draw_mask(m->L[i + 1].mask, B * m->L[i + 1].drop_g, rr,
                                  pass == DB_PASS_MC ? &m->L[i + 1].mcrng
                                                     : &m->L[i + 1].rng);
                m->t.dropout += db_now() - d0;
            }
            run_gru(m, L, B, x, NULL, NULL, rm, rr, 0);
            break;
        }
        case DB_LAYER_DROPOUT: {
            if (is_recurrent_drop(L) || is_dropconnect(L) || L->in_pair)
                break; /* done inside the GRU below / by the dense layer above /
                          by its conv's group */
            double d0 = db_now();
            draw_dropout(m, L, B, pass);
            run_sliced(m, L, B, x, NULL, NULL, 0, drop);
            m->t.dropout += db_now() - d0;
            break;
        }
        default:
            break;
        }
        x = L->out;
    }
    size_t c = 0;
    double loss = softmax_xent_forward(m->probs, &c, x, labels, B, m->classes);
    *correct += c;
    m->t.forward += db_now() - t0;
    return loss;
}

/* Layer i's backward (not a paired group): from d, the gradient at its
 * output, into din, the gradient at its input (NULL: not needed).  Returns
 * where the gradient at its input is now: din, or d for the layers that work
 * in place (ReLU, sigmoid, dropout). */
static float *backward_layer(db_model *m, size_t i, size_t B, const float *x, float *d,
                             float *din)
{
    db_mlayer *L = &m->L[i];
    float *dW = m->grads + L->w_off;
    /* Accumulating kernels need their gradients zeroed; dense and conv
     * overwrite them. */
    if (L->param_index >= 0 && L->spec.type != DB_LAYER_DENSE &&
        L->spec.type != DB_LAYER_CONV)
        memset(dW, 0, (L->w_n + L->b_n + L->w2_n + L->b2_n) * sizeof(float));
    switch (L->spec.type) {
    case DB_LAYER_CONV:
    case DB_LAYER_MAXPOOL:
    case DB_LAYER_DENSE:
        run_sliced(m, L, B, x, d, din, 1, 1);
        if (L->dc_from >= 0 && m->L[L->dc_from].dc_active) {
            /* the gradient for W' back to W: dW = dW' * mask / (1 - rate);
             * W' is no longer needed, its buffer takes dW' */
            db_mlayer *D = &m->L[L->dc_from];
            double d0 = db_now();
            memcpy(D->wm, dW, L->w_n * sizeof(float));
            memset(dW, 0, L->w_n * sizeof(float));
            dropconnect_backward(dW, D->wm, D->mask, L->w_n, (float)D->spec.rate);
            m->t.dropout += db_now() - d0;
        }
        break;
    case DB_LAYER_BATCHNORM: /* overwrites din */
        run_sliced(m, L, B, x, d, din, 1, 1);
        break;
    case DB_LAYER_RELU:
        if (!(i + 1 < m->nl && m->L[i + 1].pool_relu)) /* else done by i+1 */
            run_sliced(m, L, B, x, d, d, 1, 1);
        din = d;
        break;
    case DB_LAYER_EMBEDDING:
        embedding_backward(dW, d, m->tok, m->len, B, m->in_h, L->spec.units);
        break;
    case DB_LAYER_SIGMOID: /* in place, from its output */
        sigmoid_backward_inplace(d, L->out, B * L->out_size);
        din = d;
        break;
    case DB_LAYER_GRU: {
        if (din)
            memset(din, 0, B * L->in_size * sizeof(float));
        float rr;
        const uint8_t *rm = gru_rmask(m, i, 1, &rr);
        run_gru(m, L, B, x, d, din, rm, rr, 1);
        break;
    }
    case DB_LAYER_DROPOUT: {
        if (is_recurrent_drop(L) || is_dropconnect(L)) {
            /* its gradient went into the GRU's / the dense layer's */
            din = d;
            break;
        }
        double d0 = db_now();
        run_sliced(m, L, B, x, d, d, 1, 1);
        m->t.dropout += db_now() - d0;
        din = d;
        break;
    }
    default:
        break;
    }
    return din;
}

void db_model_backward(db_model *m, size_t B, const uint8_t *labels)
{
    double t0 = db_now();
    /* Nothing below the first parametric layer needs a gradient. */
    size_t first = m->nl;
    for (size_t i = 0; i < m->nl && first == m->nl; i++)
        if (m->L[i].param_index >= 0)
            first = i;
    int cur = 0;
    float *d = m->dbuf[cur];
    memset(d, 0, B * m->classes * sizeof(float));
    softmax_xent_backward(d, m->probs, labels, B, m->classes);
    for (size_t i = m->nl; i-- > first;) {
        db_mlayer *L = &m->L[i];
        const float *x = i ? m->L[i - 1].out : m->input;
        /* The gradient below layer i goes to the other ping-pong buffer, or
         * (ReLU, dropout) overwrites d in place.  NULL: not needed. */
        float *din = i > first ? m->dbuf[cur ^ 1] : NULL;
        if (L->paired) { /* the pool, (the dropout,) the ReLU and the conv below */
            i -= (size_t)L->paired;
            x = i ? m->L[i - 1].out : m->input;
            din = i > first ? m->dbuf[cur ^ 1] : NULL;
            run_pair(m, &m->L[i], B, x, d, din, 1, 1);
            if (!din)
                break;
            cur ^= 1;
            d = din;
            continue;
        }
        din = backward_layer(m, i, B, x, d, din);
        if (!din)
            break; /* the first parametric layer: nothing below needs a gradient */
        if (din != d)
            cur ^= 1;
        d = din;
    }
    m->t.backward += db_now() - t0;
}
