/* preprocess.h - CIFAR-10's preprocessing in Srivastava et al. 2014: global
 * contrast normalisation (GCN) per colour channel, then ZCA whitening fitted
 * on the training set (docs/REPRO.md has the formulas and the readings).
 *
 * The fit runs in double precision on one BLAS thread and is cached on disk
 * (written atomically), keyed by the sha256 of every data file and by the
 * parameters, so a sweep fits it once.  The whitened images replace the
 * bytes' per-batch conversion: split.xf (data.h). */
#ifndef DB_PREPROCESS_H
#define DB_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "data/data.h"
#include "dberr.h"

typedef struct db_preprocess_info {
    char cache_path[4096];  /* the cache file used or written */
    int cache_hit;          /* 1: read from the cache, 0: fitted now */
    double seconds;         /* set by the caller */
} db_preprocess_info;

/* GCN of one image (C planes of hw bytes), per channel:
 *   x = byte / 255;  out[c][k] = (x[c][k] - m_c) / sqrt(bias + v_c)
 * with m_c and v_c the mean and the (population) variance of plane c. */
void db_gcn_image(double *out, const uint8_t *img, size_t C, size_t hw, double bias);

/* ZCA fit on N rows of D values (X row-major, double): mean (D) and the
 * symmetric whitening matrix W (D x D, row-major):
 *   mu = mean of the rows;  S = (1/N) sum (x - mu)(x - mu)^T = U diag(l) U^T;
 *   W = U diag(1 / sqrt(l + eps)) U^T;   white(x) = W (x - mu).
 * Accumulates S from rows given in any number of db_zca_add calls. */
typedef struct db_zca_fit {
    size_t D, N;
    double *sum;   /* D */
    double *S;     /* D x D: sum of x x^T (upper triangle) */
} db_zca_fit;
int db_zca_begin(db_zca_fit *f, size_t D, db_err *e);
void db_zca_add(db_zca_fit *f, const double *X, size_t n);
/* mean (D) and W (D x D) from the rows added; frees f's buffers. */
int db_zca_finish(db_zca_fit *f, double eps, double *mean, double *W, db_err *e);
void db_zca_free(db_zca_fit *f);

/* Preprocesses a loaded image set: GCN + ZCA fitted on d->train (or read
 * from the cache: $DROPBENCH_CACHE, else <root>/cache/), applied to train
 * and test into their xf arrays.  root NULL: db_data_root(). */
int db_preprocess_gcn_zca(db_dataset *d, double gcn_bias, double zca_eps,
                          const char *root, db_preprocess_info *info, db_err *e);

#endif
