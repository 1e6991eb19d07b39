/* preprocess.c - GCN per colour channel + ZCA whitening, fitted on the
 * training set in double precision and cached on disk.  See preprocess.h
 * and docs/REPRO.md. */
#include "data/preprocess.h"

#include "util/hash.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/blas.h"
#include "util/fs.h"

/* LAPACK's symmetric eigensolver (in Debian's libopenblas). */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a,
                    const int *lda, double *w, double *work, const int *lwork, int *iwork,
                    const int *liwork, int *info, size_t jobz_len, size_t uplo_len);

#define CACHE_MAGIC "DBZCA001"
#define CACHE_KEY_BYTES 1024
#define CHUNK 256

void db_gcn_image(double *out, const uint8_t *img, size_t C, size_t hw, double bias)
{
    for (size_t c = 0; c < C; c++) {
        const uint8_t *p = img + c * hw;
        double s = 0, s2 = 0;
        for (size_t k = 0; k < hw; k++)
            s += p[k] / 255.0;
        const double m = s / (double)hw;
        for (size_t k = 0; k < hw; k++) {
            double x = p[k] / 255.0 - m;
            s2 += x * x;
        }
        const double inv = 1.0 / sqrt(bias + s2 / (double)hw);
        for (size_t k = 0; k < hw; k++)
            out[c * hw + k] = (p[k] / 255.0 - m) * inv;
    }
}

int db_zca_begin(db_zca_fit *f, size_t D, db_err *e)
{
    memset(f, 0, sizeof *f);
    if (D == 0 || D > 16384)
        return db_fail(e, "ZCA: %zu features (1 to 16384 allowed)", D);
    f->D = D;
    f->sum = calloc(D, sizeof(double));
    f->S = calloc(D * D, sizeof(double));
    if (!f->sum || !f->S) {
        db_zca_free(f);
        return db_fail(e, "ZCA: out of memory for a %zu x %zu covariance", D, D);
    }
    return 0;
}

void db_zca_free(db_zca_fit *f)
{
    free(f->sum);
    free(f->S);
    memset(f, 0, sizeof *f);
}

void db_zca_add(db_zca_fit *f, const double *X, size_t n)
{
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < f->D; k++)
            f->sum[k] += X[i * f->D + k];
    /* S += X^T X, upper triangle (row-major) */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)f->D, (int)n, 1.0, X,
                (int)f->D, 1.0, f->S, (int)f->D);
    f->N += n;
}

int db_zca_finish(db_zca_fit *f, double eps, double *mean, double *W, db_err *e)
{
    const size_t D = f->D;
    const int n = (int)D;
    if (f->N < 2) {
        db_zca_free(f);
        return db_fail(e, "ZCA: %zu examples (at least 2 needed)", f->N);
    }
    const double N = (double)f->N;
    for (size_t k = 0; k < D; k++)
        mean[k] = f->sum[k] / N;
    /* the covariance, both triangles (symmetric: row- and column-major agree) */
    double *A = f->S;
    for (size_t i = 0; i < D; i++)
        for (size_t j = i; j < D; j++) {
            double c = A[i * D + j] / N - mean[i] * mean[j];
            A[i * D + j] = A[j * D + i] = c;
        }
    double *lam = calloc(D, sizeof(double)), wq = 0;
    int iq = 0, lwork = -1, liwork = -1, info = 0;
    dsyevd_("V", "U", &n, A, &n, lam, &wq, &lwork, &iq, &liwork, &info, 1, 1);
    lwork = (int)wq + 1;
    liwork = iq;
    double *work = malloc((size_t)lwork * sizeof(double));
    int *iwork = malloc((size_t)(liwork > 0 ? liwork : 1) * sizeof(int));
    if (!lam || !work || !iwork || info != 0) {
        free(lam);
        free(work);
        free(iwork);
        db_zca_free(f);
        return db_fail(e, "ZCA: %s", info ? "eigensolver workspace query failed"
                                           : "out of memory for the eigensolver");
    }
    dsyevd_("V", "U", &n, A, &n, lam, work, &lwork, iwork, &liwork, &info, 1, 1);
    free(work);
    free(iwork);
    if (info != 0) {
        free(lam);
        db_zca_free(f);
        return db_fail(e, "ZCA: the eigensolver failed (dsyevd info %d)", info);
    }
    /* Column k of A (column-major) = row k of the row-major array = the
     * k-th eigenvector u_k.  F = diag(l + eps)^(-1/4) U^T, W = F^T F
     * = U diag(1/sqrt(l + eps)) U^T.  Rounding can leave tiny negative
     * eigenvalues of a rank-deficient covariance: they count as 0. */
    for (size_t k = 0; k < D; k++) {
        double l = lam[k] > 0 ? lam[k] : 0;
        double s = 1.0 / sqrt(sqrt(l + eps));
        for (size_t i = 0; i < D; i++)
            A[k * D + i] *= s;
    }
    free(lam);
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, n, n, 1.0, A, n, 0.0, W, n);
    for (size_t i = 0; i < D; i++)
        for (size_t j = i + 1; j < D; j++)
            W[j * D + i] = W[i * D + j];
    db_zca_free(f);
    return 0;
}

/* The cache: magic, key text (CACHE_KEY_BYTES, NUL-padded), D (uint64),
 * mean (D doubles), W (D x D floats), FNV-1a of everything before. */
static size_t cache_bytes(size_t D)
{
    return 8 + CACHE_KEY_BYTES + 8 + D * 8 + D * D * 4 + 8;
}

/* 1 when path holds a valid cache for key; mean and Wf filled. */
static int cache_read(const char *path, const char *key, size_t D, double *mean, float *Wf)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    const size_t n = cache_bytes(D);
    char *buf = malloc(n + 1);
    size_t got = buf ? fread(buf, 1, n + 1, f) : 0;
    fclose(f);
    int ok = buf && got == n && memcmp(buf, CACHE_MAGIC, 8) == 0;
    if (ok) {
        char k[CACHE_KEY_BYTES];
        memset(k, 0, sizeof k);
        snprintf(k, sizeof k, "%s", key);
        uint64_t d = 0, sum = 0;
        memcpy(&d, buf + 8 + CACHE_KEY_BYTES, 8);
        memcpy(&sum, buf + n - 8, 8);
        ok = memcmp(buf + 8, k, CACHE_KEY_BYTES) == 0 && d == D &&
             sum == db_fnv1a(DB_FNV1A_BASIS, buf, n - 8);
    }
    if (ok) {
        const char *p = buf + 8 + CACHE_KEY_BYTES + 8;
        memcpy(mean, p, D * 8);
        memcpy(Wf, p + D * 8, D * D * 4);
        for (size_t i = 0; ok && i < D; i++)
            ok = isfinite(mean[i]);
        for (size_t i = 0; ok && i < D * D; i++)
            ok = isfinite(Wf[i]);
    }
    free(buf);
    return ok;
}

static int cache_write(const char *path, const char *key, size_t D, const double *mean,
                       const float *Wf, db_err *e)
{
    const size_t n = cache_bytes(D);
    char *buf = calloc(1, n);
    if (!buf)
        return db_fail(e, "%s: out of memory", path);
    memcpy(buf, CACHE_MAGIC, 8);
    snprintf(buf + 8, CACHE_KEY_BYTES, "%s", key);
    uint64_t d = D;
    memcpy(buf + 8 + CACHE_KEY_BYTES, &d, 8);
    char *p = buf + 8 + CACHE_KEY_BYTES + 8;
    memcpy(p, mean, D * 8);
    memcpy(p + D * 8, Wf, D * D * 4);
    uint64_t sum = db_fnv1a(DB_FNV1A_BASIS, buf, n - 8);
    memcpy(buf + n - 8, &sum, 8);
    int rc = db_write_atomic(path, buf, n, e);
    free(buf);
    return rc;
}

/* Fits mean and W on d->train (GCN first), CHUNK images at a time. */
static int fit(const db_dataset *d, double gcn_bias, double eps, double *mean, float *Wf,
               db_err *e)
{
    const size_t hw = d->H * d->W, D = d->C * hw;
    db_zca_fit zf;
    if (db_zca_begin(&zf, D, e))
        return -1;
    double *X = calloc(CHUNK * D, sizeof(double));
    double *W = calloc(D * D, sizeof(double));
    if (!X || !W) {
        free(X);
        free(W);
        db_zca_free(&zf);
        return db_fail(e, "GCN + ZCA: out of memory");
    }
    for (size_t i0 = 0; i0 < d->train.n; i0 += CHUNK) {
        size_t nb = d->train.n - i0 < CHUNK ? d->train.n - i0 : CHUNK;
        for (size_t i = 0; i < nb; i++)
            db_gcn_image(X + i * D, d->train.x + (i0 + i) * D, d->C, hw, gcn_bias);
        db_zca_add(&zf, X, nb);
    }
    free(X);
    int rc = db_zca_finish(&zf, eps, mean, W, e);
    if (rc == 0)
        for (size_t i = 0; i < D * D; i++)
            Wf[i] = (float)W[i];
    free(W);
    return rc;
}

/* split.xf = W (gcn(x) - mean), CHUNK images per sgemm. */
static int apply(db_split *s, const db_dataset *d, double gcn_bias, const double *mean,
                 const float *Wf, db_err *e)
{
    const size_t hw = d->H * d->W, D = d->C * hw;
    double *g = calloc(D, sizeof(double));
    float *A = malloc(CHUNK * D * sizeof(float));
    s->xf = malloc((s->n ? s->n : 1) * D * sizeof(float));
    if (!g || !A || !s->xf) {
        free(g);
        free(A);
        free(s->xf);
        s->xf = NULL;
        return db_fail(e, "GCN + ZCA: out of memory for %zu whitened images", s->n);
    }
    for (size_t i0 = 0; i0 < s->n; i0 += CHUNK) {
        size_t nb = s->n - i0 < CHUNK ? s->n - i0 : CHUNK;
        for (size_t i = 0; i < nb; i++) {
            db_gcn_image(g, s->x + (i0 + i) * D, d->C, hw, gcn_bias);
            for (size_t k = 0; k < D; k++)
                A[i * D + k] = (float)(g[k] - mean[k]);
        }
        /* W is symmetric: rows of the result are W (x - mean) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)D, (int)D,
                    1.0f, A, (int)D, Wf, (int)D, 0.0f, s->xf + i0 * D, (int)D);
    }
    free(g);
    free(A);
    return 0;
}

int db_preprocess_gcn_zca(db_dataset *d, double gcn_bias, double zca_eps,
                          const char *root, db_preprocess_info *info, db_err *e)
{
    memset(info, 0, sizeof *info);
    if (d->kind != DB_DATA_IMAGE || d->train.n < 2)
        return db_fail(e, "GCN + ZCA: %s is not an image set with training examples",
                       d->name);
    if (!(gcn_bias >= 0) || !(zca_eps > 0) || !isfinite(gcn_bias) || !isfinite(zca_eps))
        return db_fail(e, "GCN + ZCA: gcn_bias must be >= 0 and zca_epsilon > 0");
    const size_t D = d->C * d->H * d->W;
    /* the key: every data file's sha256 and the parameters */
    char key[CACHE_KEY_BYTES];
    size_t used = (size_t)snprintf(key, sizeof key,
                                   "gcn-zca v1 set=%s D=%zu gcn_bias=%.17g zca_epsilon=%.17g",
                                   d->name, D, gcn_bias, zca_eps);
    for (size_t i = 0; i < d->nfiles && used < sizeof key; i++)
        used += (size_t)snprintf(key + used, sizeof key - used, " %s=%s", d->files[i].name,
                                 d->files[i].sha256);
    if (used >= sizeof key)
        return db_fail(e, "GCN + ZCA: cache key too long");
    char dir[4000];
    const char *cache_env = getenv("DROPBENCH_CACHE");
    if (cache_env && *cache_env)
        snprintf(dir, sizeof dir, "%s", cache_env);
    else
        snprintf(dir, sizeof dir, "%s/cache", root ? root : db_data_root());
    snprintf(info->cache_path, sizeof info->cache_path, "%s/gcn-zca-%016llx.bin", dir,
             (unsigned long long)db_fnv1a(DB_FNV1A_BASIS, key, strlen(key)));
    double *mean = calloc(D, sizeof(double));
    float *Wf = calloc(D * D, sizeof(float));
    if (!mean || !Wf) {
        free(mean);
        free(Wf);
        return db_fail(e, "GCN + ZCA: out of memory");
    }
    /* one BLAS thread: the same bits whatever the run's thread count */
    db_blas_info bi;
    db_blas_get_info(&bi);
    db_blas_set_threads(1);
    int rc = 0;
    info->cache_hit = cache_read(info->cache_path, key, D, mean, Wf);
    if (!info->cache_hit) {
        rc = fit(d, gcn_bias, zca_eps, mean, Wf, e);
        if (rc == 0 && (db_mkdirs(dir, e) || cache_write(info->cache_path, key, D, mean, Wf, e)))
            rc = db_prefix(e, "GCN + ZCA cache");
    }
    if (rc == 0)
        rc = apply(&d->train, d, gcn_bias, mean, Wf, e);
    if (rc == 0)
        rc = apply(&d->test, d, gcn_bias, mean, Wf, e);
    db_blas_set_threads(bi.threads > 0 ? bi.threads : 1);
    free(mean);
    free(Wf);
    if (rc) {
        free(d->train.xf);
        free(d->test.xf);
        d->train.xf = d->test.xf = NULL;
    }
    return rc;
}
