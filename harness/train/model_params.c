/* model_params.c - a model's parameters: their seeded initialisation
 * (docs/SUITE.md's distributions, or a recipe's N(0, sigma)) and the
 * optimiser step (clipping, SGD in PyTorch's or the papers' form, max-norm),
 * spread over the model's team of threads.  See model.h. */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "train/model.h"
#include "util/clock.h"

static void fill_uniform(float *x, size_t n, double bound, db_rng *r)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((2.0 * db_rng_uniform_d(r) - 1.0) * bound);
}

void db_model_init(db_model *m, uint64_t seed)
{
    db_model_init_with(m, seed, NULL);
}

void db_model_init_with(db_model *m, uint64_t seed, const db_init *init)
{
    const int normal = init && init->type == DB_INIT_NORMAL;
    size_t k_dense = 0; /* dense/conv layers so far: index into init->std */
    /* INIT stream of each parametric layer but batchnorm (whose start
     * values are fixed): a net with batchnorm layers inserted starts from
     * the same weights as the net without them */
    uint64_t k_init = 0;
    memset(m->velocity, 0, m->nparams * sizeof(float));
    memset(m->grads, 0, m->nparams * sizeof(float));
    memset(&m->t, 0, sizeof m->t);
    for (size_t i = 0; i < m->nl; i++) {
        db_mlayer *L = &m->L[i];
        if (L->spec.type == DB_LAYER_DROPOUT) {
            db_rng_seed(&L->rng, seed, DB_RNG_DROPOUT, (uint64_t)L->site_index);
            /* evaluation 0's Monte-Carlo stream (db_model_mc_seed) */
            db_rng_seed(&L->mcrng, seed, DB_RNG_MC, (uint64_t)L->site_index);
        }
        L->dc_active = 0;
        if (L->param_index < 0)
            continue;
        if (L->spec.type == DB_LAYER_BATCHNORM) {
            /* PyTorch's: gamma 1, beta 0, running mean 0, running var 1 */
            const size_t C = L->w_n;
            for (size_t k = 0; k < C; k++) {
                m->params[L->w_off + k] = 1.0f;
                m->params[L->b_off + k] = 0.0f;
                m->state[L->s_off + k] = 0.0f;
                m->state[L->s_off + C + k] = 1.0f;
            }
            continue;
        }
        db_rng r;
        db_rng_seed(&r, seed, DB_RNG_INIT, k_init++);
        float *w = m->params + L->w_off;
        switch (L->spec.type) {
        case DB_LAYER_EMBEDDING:
            for (size_t k = 0; k < L->w_n; k++)
                w[k] = (float)db_rng_normal(&r);
            break;
        case DB_LAYER_GRU: {
            double bound = 1.0 / sqrt((double)L->spec.units);
            fill_uniform(w, L->w_n, bound, &r);
            fill_uniform(m->params + L->w2_off, L->w2_n, bound, &r);
            fill_uniform(m->params + L->b_off, L->b_n, bound, &r);
            fill_uniform(m->params + L->b2_off, L->b2_n, bound, &r);
            break;
        }
        default: { /* dense, conv: fan_in = inputs per output unit */
            double bound = 1.0 / sqrt((double)(L->w_n / L->w_rows));
            if (normal) {
                double sd = init->std_fan_in ? bound
                          : init->std[init->nstd > 1 ? k_dense : 0];
                for (size_t k = 0; k < L->w_n; k++)
                    w[k] = (float)(sd * db_rng_normal(&r));
                for (size_t k = 0; k < L->b_n; k++)
                    m->params[L->b_off + k] = (float)init->bias;
                k_dense++;
                break;
            }
            fill_uniform(w, L->w_n, bound, &r);
            fill_uniform(m->params + L->b_off, L->b_n, bound, &r);
            break;
        }
        }
    }
}

/* The update of one team member: rows [R*t/n, R*(t+1)/n) of every weight
 * matrix and the same share of every bias, so each member's max-norm sees
 * rows it finished updating itself.  Element-wise: the values do not
 * depend on the split. */
typedef struct update_job {
    db_model *m;
    const db_optim *o;
} update_job;

static void update_part(db_model *m, size_t off, size_t n, size_t t, size_t nt,
                        size_t row, const db_optim *o, float wd)
{
    size_t lo, hi;
    db_pool_slice(n / row, t, nt, &lo, &hi);
    lo *= row;
    hi *= row;
    if (o->update == DB_UPDATE_HINTON)
        sgd_hinton_step(m->params + off + lo, m->velocity + off + lo, m->grads + off + lo,
                        hi - lo, (float)o->lr, (float)o->momentum, wd);
    else
        sgd_momentum_step(m->params + off + lo, m->velocity + off + lo,
                          m->grads + off + lo, hi - lo, (float)o->lr, (float)o->momentum,
                          wd);
}

static void update_member(void *arg, size_t t, size_t nt)
{
    const update_job *j = arg;
    db_model *m = j->m;
    const db_optim *o = j->o;
    for (size_t i = 0; i < m->nl; i++) {
        db_mlayer *L = &m->L[i];
        if (L->param_index < 0)
            continue;
        /* a GRU's three stacked matrices are split by element */
        const size_t cols = L->w_rows ? L->w_n / L->w_rows : 1;
        /* weight decay on weights, never on biases nor on batchnorm's
         * scale (docs/MODERN.md) */
        update_part(m, L->w_off, L->w_n, t, nt, cols, o,
                    L->spec.type == DB_LAYER_BATCHNORM ? 0.0f : (float)o->weight_decay);
        update_part(m, L->b_off, L->b_n, t, nt, 1, o, 0.0f);
        if (L->w2_n)
            update_part(m, L->w2_off, L->w2_n, t, nt, 1, o, (float)o->weight_decay);
        if (L->b2_n)
            update_part(m, L->b2_off, L->b2_n, t, nt, 1, o, 0.0f);
        if (o->max_norm > 0 &&
            (L->spec.type == DB_LAYER_DENSE || L->spec.type == DB_LAYER_CONV) &&
            !(o->max_norm_layers == DB_MAXNORM_HIDDEN && i + 1 == m->nl)) {
            size_t lo, hi;
            db_pool_slice(L->w_rows, t, nt, &lo, &hi);
            maxnorm_apply(m->params + L->w_off + lo * cols, hi - lo, cols,
                          (float)o->max_norm);
        }
    }
}

double db_model_update(db_model *m, const db_optim *o)
{
    double t0 = db_now();
    double norm = 0;
    if (o->clip_norm > 0) {
        norm = sqrt(sumsq(m->grads, m->nparams));
        if (norm > o->clip_norm)
            scale_inplace(m->grads, m->nparams, (float)(o->clip_norm / norm));
    }
    update_job j = { m, o };
    if (m->nthreads == 1)
        update_member(&j, 0, 1);
    else
        db_pool_run(m->pool, update_member, &j);
    m->t.update += db_now() - t0;
    return norm;
}
