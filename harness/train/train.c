/* train.c - run_execute: data, model, the training loop, the result file.
 *
 * One training step, top to bottom: gather a batch (bytes -> floats),
 * db_model_forward, db_model_backward, db_model_update.  Everything the loop
 * touches is allocated before the first step.  See train.h. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/data.h"
#include "data/preprocess.h"
#include "train/calib.h"
#include "train/ckpt.h"
#include "train/model.h"
#include "train/run.h"
#include "train/runcfg.h"
#include "train/train.h"
#include "util/blas.h"
#include "util/clock.h"
#include "util/hash.h"
#include "util/fs.h"
#include "util/jsonio.h"
#include "util/version.h"

/* A mean cross-entropy this large means the weights have blown up even
 * while the loss is still finite (log-sum-exp keeps it finite up to enormous
 * logits; lr 1e4 reaches ~1e28): the run is recorded as diverged, not as a
 * result.  A model that learns anything starts near ln(classes) ~ 2.3. */
#define DB_DIVERGED_LOSS 1e3

typedef struct epoch_stats {
    double train_loss, train_err, test_loss, test_err, val_loss, val_err;
    double seconds, examples_per_sec, lr;
    double momentum;           /* at the epoch's first step */
} epoch_stats;

/* Copies examples idx[0..n) of split s into the model's input buffers. */
static void load_batch(db_model *m, uint8_t *labels, const db_dataset *d,
                       const db_split *s, const uint32_t *idx, size_t n)
{
    if (d->kind == DB_DATA_TEXT)
        db_batch_text(m->tok, m->len, d, s, idx, n);
    else
        db_batch_images(m->input, d, s, idx, n);
    for (size_t i = 0; i < n; i++)
        labels[i] = s->y[idx[i]];
}

/* Mean loss and error (percent) of the model on examples idx[0..n) of s,
 * dropout off. */
static void evaluate(double *loss, double *err, db_model *m, uint8_t *labels,
                     const db_dataset *d, const db_split *s, const uint32_t *idx,
                     size_t n)
{
    double total = 0;
    size_t correct = 0;
    for (size_t off = 0; off < n; off += m->bmax) {
        size_t B = n - off < m->bmax ? n - off : m->bmax;
        load_batch(m, labels, d, s, idx + off, B);
        total += db_model_forward(m, B, labels, 0, &correct) * (double)B;
    }
    *loss = n ? total / (double)n : 0;
    *err = n ? 100.0 * (double)(n - correct) / (double)n : 0;
}

static void progress(int quiet, int tty, size_t epoch, size_t epochs, size_t done,
                     size_t total, double loss, double eps, double eta)
{
    if (quiet || !tty)
        return;
    fprintf(stderr, "\r\033[Kepoch %zu/%zu  %5.1f%%  loss %.4f  %.0f ex/s  ETA %.0fs",
            epoch, epochs, 100.0 * (double)done / (double)total, loss, eps, eta);
    fflush(stderr);
}

static cJSON *environment_json(const char *start, const char *end, size_t team)
{
    cJSON *env = cJSON_CreateObject();
    if (!env)
        return NULL;
    int ok = 1;
    char cpu[256], cpu_id[128], host[256] = "unknown";
    db_cpu_model(cpu, sizeof cpu);
    db_cpu_id(cpu_id, sizeof cpu_id);
    gethostname(host, sizeof host - 1);
    db_blas_info bi;
    db_blas_get_info(&bi);
    ok &= cJSON_AddStringToObject(env, "cpu", cpu) != NULL;
    ok &= cJSON_AddStringToObject(env, "cpu_id", cpu_id) != NULL;
    ok &= cJSON_AddNumberToObject(env, "cores", (double)sysconf(_SC_NPROCESSORS_ONLN)) != NULL;
    ok &= cJSON_AddStringToObject(env, "blas", bi.config) != NULL;
    ok &= cJSON_AddStringToObject(env, "blas_core", bi.core) != NULL;
    ok &= cJSON_AddNumberToObject(env, "blas_threads", bi.threads) != NULL;
    ok &= cJSON_AddNumberToObject(env, "team_threads", (double)team) != NULL;
    ok &= cJSON_AddStringToObject(env, "conv_kernels", conv2d_kernels()) != NULL;
    ok &= cJSON_AddStringToObject(env, "simd", db_simd_name(db_simd_get())) != NULL;
    ok &= cJSON_AddStringToObject(env, "blas_note", bi.note) != NULL;
    ok &= cJSON_AddStringToObject(env, "compiler", db_compiler) != NULL;
    ok &= cJSON_AddStringToObject(env, "git_commit", db_git_commit) != NULL;
    ok &= cJSON_AddBoolToObject(env, "git_dirty", db_git_dirty) != NULL;
    ok &= cJSON_AddStringToObject(env, "host", host) != NULL;
    ok &= cJSON_AddStringToObject(env, "start_utc", start) != NULL;
    ok &= cJSON_AddStringToObject(env, "end_utc", end) != NULL;
    const char *slurm[][2] = { { "slurm_job_id", "SLURM_JOB_ID" },
                               { "slurm_array_job_id", "SLURM_ARRAY_JOB_ID" },
                               { "slurm_array_task_id", "SLURM_ARRAY_TASK_ID" },
                               { "slurm_node", "SLURMD_NODENAME" } };
    for (size_t i = 0; i < sizeof slurm / sizeof slurm[0]; i++) {
        const char *v = getenv(slurm[i][1]);
        if (v)
            ok &= cJSON_AddStringToObject(env, slurm[i][0], v) != NULL;
        else
            ok &= cJSON_AddNullToObject(env, slurm[i][0]) != NULL;
    }
    if (!ok) {
        cJSON_Delete(env);
        return NULL;
    }
    return env;
}

/* Returns the item added, NULL when out of memory. */
static cJSON *add_num_or_null(cJSON *o, const char *k, double v, int present)
{
    return present ? cJSON_AddNumberToObject(o, k, v) : cJSON_AddNullToObject(o, k);
}

volatile sig_atomic_t db_stop_requested = 0;

/* One run_execute: what it loads, builds and measures.  Zeroed first; every
 * pointer owned and freed by run_execute. */
/* One batchnorm layer's variance shift (variance_shift below). */
typedef struct bn_shift {
    size_t layer, channels;
    double mean, min, max;   /* running var / test-time input var */
} bn_shift;

typedef struct run_state {
    run_config *rc;
    db_dataset data;
    db_model m;
    epoch_stats *ep;           /* rc->epochs of them */
    uint32_t *train_idx, *test_idx;
    const uint32_t *val_idx;   /* the tail of train_idx, nval long */
    uint8_t *labels;           /* one batch */
    size_t ntrain_all, ntrain, nval;
    uint64_t init_fp, order_fp; /* FNV-1a (util/hash.h) of the initial weights
                                   and of the data order: two strategies under
                                   one seed start from the same weights and
                                   see the same examples in the same order */
    size_t done_epochs, diverged_epoch;
    double t_data, train_seconds, eval_seconds;
    /* the run's own wall time: this process started at t_start (db_now());
     * the processes before it, up to their last checkpoints, took
     * wall_before seconds (0 unless resumed) */
    double t_start, wall_before;
    size_t step;               /* updates so far: per-step schedules */
    int made_dir;              /* prepare created the results folder */
    db_preprocess_info pre;    /* config "preprocess" (GCN + ZCA) */
    const char *id;
    unsigned char *ckbuf;      /* the checkpoint, allocated before training */
    size_t ckcap;
    char ckpath[4200];         /* "" when checkpoints are off */
    float *mcsum;              /* mc_samples: one batch's mean softmax */
    double *bnacc;             /* batchnorm: count, sum, sum of squares of
                                  each channel's input (db_model_bn_moments) */
    bn_shift *shift;           /* batchnorm: per layer, after training */
    size_t nshift;             /* 0: not measured */
    double *cal;               /* mc_samples: per epoch, the deterministic
                                  error %, NLL, ECE, then the Monte-Carlo
                                  average's (DB_CAL_N doubles an epoch) */
    char kernels[DB_CKPT_KERNELS]; /* "<OpenBLAS core>/<conv kernels>" */
} run_state;

#define DB_CAL_N 6


/* Step 1: the config, the result file's path (its directory created) and
 * the BLAS threads. */
static int prepare(run_state *rs, const cJSON *config, const char *id,
                   run_options *opt, db_err *e)
{
    char name[512];
    if (run_config_from_canonical(rs->rc, config, e) ||
        run_result_name(name, sizeof name, config, id, e))
        return -1;
    struct stat st;
    rs->made_dir = stat(opt->results_dir, &st) != 0;
    if (db_mkdirs(opt->results_dir, e))
        return -1;
    if ((size_t)snprintf(opt->result_path, sizeof opt->result_path, "%s/%s",
                         opt->results_dir, name) >= sizeof opt->result_path)
        return db_fail(e, "%s: results path too long", opt->results_dir);
    /* a folder the result cannot be written to is found now, not after
     * hours of training */
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.write-check-XXXXXX", opt->results_dir);
    int fd = mkstemp(probe);
    if (fd < 0)
        return db_fail(e, "%s: cannot write results there: %s", opt->results_dir,
                       strerror(errno));
    close(fd);
    unlink(probe);
    db_blas_set_threads(rs->rc->threads);
    return 0;
}

/* Step 2: the data set, checked against the model input the config
 * expects (*in). */
static int load_data(run_state *rs, db_model_input *in, const run_options *opt,
                     db_err *e)
{
    const run_config *rc = rs->rc;
    double t_data = db_now();
    if (db_dataset_load(&rs->data, rc->data, opt->data_root, e))
        return -1;
    rs->t_data = db_now() - t_data;
    if (run_data_input(in, rc->data, e))
        return -1;
    const db_dataset *d = &rs->data;
    if (in->text != (d->kind == DB_DATA_TEXT) || d->classes != in->classes ||
        (!in->text && (d->C != in->c || d->H != in->h || d->W != in->w)))
        return db_fail(e, "data set %s: dimensions differ from what the config expects",
                       rc->data);
    if (in->text)
        in->T = d->T;
    if (rc->rx.preprocess[0]) { /* docs/REPRO.md: GCN + ZCA, cached */
        double t_pre = db_now();
        if (db_preprocess_gcn_zca(&rs->data, rc->rx.gcn_bias, rc->rx.zca_epsilon,
                                  opt->data_root, &rs->pre, e))
            return -1;
        rs->pre.seconds = db_now() - t_pre;
    }
    return 0;
}

/* Step 2b: data whose sha256 does not match docs/DATA.md is refused unless
 * the config allows it ("allow_unverified_data", part of the run id); then
 * a warning says so (opt->notes) and the result records the hashes. */
static int check_verified(const run_state *rs, const char *id, const run_options *opt,
                          db_err *e)
{
    const db_dataset *d = &rs->data;
    if (db_dataset_verified(d))
        return 0;
    const char *bad = d->nfiles ? d->files[0].name : "(no files)";
    const char *sha = d->nfiles ? d->files[0].sha256 : "";
    for (size_t i = 0; i < d->nfiles; i++)
        if (!d->files[i].verified) {
            bad = d->files[i].name;
            sha = d->files[i].sha256;
            break;
        }
    if (!rs->rc->allow_unverified)
        return db_fail(e, "data set %s is not verified: %s has sha256 %.16s..., not the "
                       "value docs/DATA.md lists (see `dropbench data`); refusing to train "
                       "on it (--allow-unverified trains anyway, under a run id of its own)",
                       d->name, bad, sha);
    if (opt->notes)
        fprintf(opt->notes, "dropbench: WARNING: data set %s is not verified (%s has sha256 "
                "%.16s...); training anyway (--allow-unverified): run %s is not a run on "
                "the real data, its result records the files' hashes\n",
                d->name, bad, sha, id);
    return 0;
}

/* Step 3: the splits.  The validation examples are a seeded random subset
 * of the training set; --limit-train keeps the first N of what remains. */
static int make_splits(run_state *rs, db_err *e)
{
    const run_config *rc = rs->rc;
    rs->ntrain_all = rs->data.train.n;
    if (rc->val >= rs->ntrain_all)
        return db_fail(e, "val: %zu examples requested but the training set has %zu",
                       rc->val, rs->ntrain_all);
    rs->train_idx = malloc(rs->ntrain_all * sizeof *rs->train_idx);
    rs->test_idx = malloc((rs->data.test.n ? rs->data.test.n : 1) * sizeof *rs->test_idx);
    rs->labels = malloc(rc->batch);
    rs->ep = calloc(rc->epochs, sizeof *rs->ep);
    if (!rs->train_idx || !rs->test_idx || !rs->labels || !rs->ep)
        return db_fail(e, "out of memory");
    for (size_t i = 0; i < rs->ntrain_all; i++)
        rs->train_idx[i] = (uint32_t)i;
    for (size_t i = 0; i < rs->data.test.n; i++)
        rs->test_idx[i] = (uint32_t)i;
    rs->nval = rc->val;
    rs->ntrain = rs->ntrain_all - rs->nval;
    if (rs->nval) {
        db_rng vr;
        db_rng_seed(&vr, rc->seed, DB_RNG_ORDER, 1);
        db_rng_shuffle(&vr, rs->train_idx, rs->ntrain_all);
        rs->val_idx = rs->train_idx + rs->ntrain;
        /* the training part keeps the data's order before epoch shuffling */
    }
    if (rc->limit_train && rc->limit_train < rs->ntrain)
        rs->ntrain = rc->limit_train;
    else if (rc->limit_train > rs->ntrain)
        fprintf(stderr, "dropbench: note: limit_train %zu is more than the %zu training "
                        "examples there are: all %zu are used\n",
                rc->limit_train, rs->ntrain, rs->ntrain);
    return 0;
}

/* Step 4: the model, its team of threads and its seeded initial weights
 * (fingerprinted). */
static int build_model(run_state *rs, const db_model_input *in, db_err *e)
{
    const run_config *rc = rs->rc;
    if (db_model_build(&rs->m, &rc->arch, in, rc->batch, e) ||
        db_model_set_threads(&rs->m, (size_t)rc->threads, e))
        return -1;
    /* batchnorm needs two values a channel: every training batch size
     * (the full one and the last, partial one) is checked now */
    size_t full = rc->batch < rs->ntrain ? rc->batch : rs->ntrain, last = rs->ntrain % rc->batch;
    if (db_model_check_train_batch(&rs->m, full, e) ||
        (last && db_model_check_train_batch(&rs->m, last, e)))
        return db_prefix(e, "%s (%zu training examples in batches of %zu)", rc->task,
                         rs->ntrain, rc->batch);
    if (rc->mc_samples &&
        (!(rs->mcsum = malloc(rc->batch * rs->m.classes * sizeof *rs->mcsum)) ||
         !(rs->cal = calloc(rc->epochs * DB_CAL_N, sizeof *rs->cal))))
        return db_fail(e, "out of memory");
    if (rs->m.nstate && (!(rs->bnacc = calloc(3 * (rs->m.nstate / 2), sizeof *rs->bnacc)) ||
                         !(rs->shift = calloc(rs->m.nl, sizeof *rs->shift))))
        return db_fail(e, "out of memory");
    db_model_init_with(&rs->m, rc->seed, &rc->rx.init);
    rs->init_fp = db_fnv1a(DB_FNV1A_BASIS, rs->m.params,
                        rs->m.nparams * sizeof(float));
    rs->order_fp = DB_FNV1A_BASIS;
    return 0;
}

/* After each epoch of a run with mc_samples > 0: the test set evaluated
 * deterministically and by the mean softmax of mc_samples passes with
 * dropout on, each into its calibration (calib.h), kept in
 * rs->cal[epoch - 1].  The Monte-Carlo masks come from the sites' own MC
 * streams, seeded for this epoch: the training streams, and so the
 * training, are those of the run without it, and a resumed run draws the
 * same samples. */
static void calibrate(run_state *rs, size_t epoch)
{
    db_model *m = &rs->m;
    const size_t T = rs->rc->mc_samples, K = m->classes, n = rs->data.test.n;
    db_calib det, mc;
    db_calib_init(&det);
    db_calib_init(&mc);
    db_model_mc_seed(m, rs->rc->seed, epoch);
    for (size_t off = 0; off < n; off += m->bmax) {
        size_t B = n - off < m->bmax ? n - off : m->bmax, c = 0;
        load_batch(m, rs->labels, &rs->data, &rs->data.test, rs->test_idx + off, B);
        db_model_forward_pass(m, B, rs->labels, DB_PASS_EVAL, &c);
        db_calib_add(&det, m->probs, rs->labels, B, K);
        memset(rs->mcsum, 0, B * K * sizeof *rs->mcsum);
        for (size_t t = 0; t < T; t++) {
            db_model_forward_pass(m, B, rs->labels, DB_PASS_MC, &c);
            for (size_t k = 0; k < B * K; k++)
                rs->mcsum[k] += m->probs[k];
        }
        for (size_t k = 0; k < B * K; k++)
            rs->mcsum[k] /= (float)T;
        db_calib_add(&mc, rs->mcsum, rs->labels, B, K);
    }
    double *c = rs->cal + (epoch - 1) * DB_CAL_N;
    db_calib_result(&det, &c[0], &c[1], &c[2]);
    db_calib_result(&mc, &c[3], &c[4], &c[5]);
}

/* Step 5, one epoch: shuffle, train on every batch, evaluate; its numbers
 * into rs->ep[epoch - 1], or rs->diverged_epoch set.  -1 when a signal
 * asked to stop. */
static int train_epoch(run_state *rs, db_rng *order, size_t epoch, int tty,
                       const run_options *opt, db_err *e)
{
    const run_config *rc = rs->rc;
    db_model *m = &rs->m;
    size_t ntrain = rs->ntrain;
    size_t nb = (ntrain + rc->batch - 1) / rc->batch;
    double t0 = db_now();
    db_optim o = rc->opt;
    o.lr = run_config_lr(rc, epoch);
    /* the recipes' schedules (docs/REPRO.md); none: the constant momentum */
    const int per_step = run_config_per_step(rc);
    if (rc->rx.mom_schedule != DB_MOM_CONSTANT)
        o.momentum = run_config_momentum_at(rc, epoch, rs->step);
    if (per_step)
        o.lr = run_config_lr_at(rc, epoch, rs->step);
    const double lr_first = o.lr, mom_first = o.momentum;
    db_rng_shuffle(order, rs->train_idx, ntrain);
    rs->order_fp = db_fnv1a(rs->order_fp, rs->train_idx, ntrain * sizeof *rs->train_idx);
    double total_loss = 0;
    size_t correct = 0;
    for (size_t b = 0; b < nb; b++) {
        if (db_stop_requested)
            return db_fail(e, "interrupted by a signal during epoch %zu", epoch);
        size_t off = b * rc->batch;
        size_t B = ntrain - off < rc->batch ? ntrain - off : rc->batch;
        load_batch(m, rs->labels, &rs->data, &rs->data.train, rs->train_idx + off, B);
        double loss = db_model_forward(m, B, rs->labels, 1, &correct);
        if (!(loss <= DB_DIVERGED_LOSS)) {   /* also NaN */
            rs->diverged_epoch = epoch;
            return 0;
        }
        total_loss += loss * (double)B;
        db_model_backward(m, B, rs->labels);
        if (per_step) {
            o.lr = run_config_lr_at(rc, epoch, rs->step);
            o.momentum = run_config_momentum_at(rc, epoch, rs->step);
        }
        db_model_update(m, &o);
        rs->step++;
        if ((b & 15) == 0 || b + 1 == nb) {
            double el = db_now() - t0, eps = (double)(off + B) / (el > 0 ? el : 1e-9);
            double remain = (double)(ntrain - off - B) +
                            (double)(rc->epochs - epoch) * (double)ntrain;
            progress(opt->quiet, tty, epoch, rc->epochs, off + B, ntrain,
                     total_loss / (double)(off + B), eps, remain / eps);
        }
    }
    double t1 = db_now();
    rs->train_seconds += t1 - t0;
    epoch_stats *s = &rs->ep[epoch - 1];
    s->lr = lr_first;
    s->momentum = mom_first;
    s->train_loss = total_loss / (double)ntrain;
    s->train_err = 100.0 * (double)(ntrain - correct) / (double)ntrain;
    s->examples_per_sec = (double)ntrain / (t1 - t0);
    evaluate(&s->test_loss, &s->test_err, m, rs->labels, &rs->data, &rs->data.test,
             rs->test_idx, rs->data.test.n);
    if (rs->nval)
        evaluate(&s->val_loss, &s->val_err, m, rs->labels, &rs->data, &rs->data.train,
                 rs->val_idx, rs->nval);
    if (rc->mc_samples)
        calibrate(rs, epoch);
    rs->eval_seconds += db_now() - t1;
    s->seconds = db_now() - t0;
    rs->done_epochs = epoch;
    if (!opt->quiet) {
        if (tty)
            fprintf(stderr, "\r\033[K");
        fprintf(stderr, "epoch %zu/%zu  train loss %.4f err %.2f%%  test loss %.4f "
                "err %.2f%%  %.1fs  %.0f ex/s\n", epoch, rc->epochs, s->train_loss,
                s->train_err, s->test_loss, s->test_err, s->seconds,
                s->examples_per_sec);
    }
    if (!(s->test_loss <= DB_DIVERGED_LOSS) || !(s->train_loss <= DB_DIVERGED_LOSS))
        rs->diverged_epoch = epoch;
    return 0;
}

/* ---- checkpoints (ckpt.h, docs/CHECKPOINTS.md) ---- */

static db_ckpt_view ckpt_view(run_state *rs, db_rng *order, double *times)
{
    db_ckpt_view v = { rs->id, rs->kernels, &rs->m, order, rs->train_idx, rs->ntrain_all,
                       (double *)rs->ep, rs->rc->epochs,
                       sizeof(epoch_stats) / sizeof(double), &rs->done_epochs,
                       &rs->order_fp, times, 3, rs->cal,
                       rs->cal ? rs->rc->epochs * DB_CAL_N : 0 };
    return v;
}

/* Step 4b: the checkpoint's path and buffer; stray temporary files of this
 * result (a process killed while writing it or its checkpoint) removed. */
static int ckpt_prepare(run_state *rs, const run_options *opt, db_err *e)
{
    if (opt->no_checkpoint || rs->rc->epochs < 2)
        return 0;
    if (db_ckpt_path(rs->ckpath, sizeof rs->ckpath, opt->result_path))
        return db_fail(e, "%s: path too long", opt->result_path);
    db_blas_info bi;
    db_blas_get_info(&bi);
    snprintf(rs->kernels, sizeof rs->kernels, "%s/%s", bi.core, conv2d_kernels());
    double times[3] = { 0, 0, 0 };
    db_rng order = { { 0, 0, 0, 0 } };   /* only sizes are read */
    db_ckpt_view v = ckpt_view(rs, &order, times);
    rs->ckcap = db_ckpt_size(&v);
    rs->ckbuf = malloc(rs->ckcap);
    if (!rs->ckbuf)
        return db_fail(e, "out of memory");
    const char *base = strrchr(opt->result_path, '/');
    base = base ? base + 1 : opt->result_path;
    size_t bl = strlen(base);
    DIR *d = opendir(opt->results_dir);
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > bl + 4 && strncmp(de->d_name, base, bl) == 0 && de->d_name[bl] == '.' &&
            strcmp(de->d_name + l - 4, ".tmp") == 0) {
            char p[8192];
            snprintf(p, sizeof p, "%s/%s", opt->results_dir, de->d_name);
            unlink(p);
        }
    }
    closedir(d);
    return 0;
}

/* Continues from the checkpoint when there is a valid one of this run; a
 * corrupt or mismatched one is reported (opt->notes) and ignored. */
static void ckpt_resume(run_state *rs, db_rng *order, run_options *opt)
{
    if (!rs->ckbuf)
        return;
    db_err e;
    size_t n = 0;
    int fd = db_open_regular(rs->ckpath, &n, &e);
    if (fd < 0) {
        if (access(rs->ckpath, F_OK) == 0 && opt->notes)
            fprintf(opt->notes, "dropbench: ignoring checkpoint %s\n", e.msg);
        return;
    }
    size_t got = 0;
    while (n <= rs->ckcap && got < n) {
        ssize_t r = read(fd, rs->ckbuf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    double times[3] = { rs->train_seconds, rs->eval_seconds, 0 };
    db_ckpt_view v = ckpt_view(rs, order, times);
    const char *why = n > rs->ckcap ? "larger than this run's" : got < n ? "cannot be read" : NULL;
    if (why ? db_fail(&e, "%s", why) : db_ckpt_decode(rs->ckbuf, n, &v, &e)) {
        if (opt->notes)
            fprintf(opt->notes, "dropbench: ignoring checkpoint %s: %s; starting over\n",
                    rs->ckpath, e.msg);
        unlink(rs->ckpath);
        return;
    }
    rs->train_seconds = times[0];
    rs->eval_seconds = times[1];
    rs->wall_before = times[2];
    /* per-step schedules go on from the same step: every finished epoch
     * ran all its batches */
    rs->step = rs->done_epochs * ((rs->ntrain + rs->rc->batch - 1) / rs->rc->batch);
    opt->resumed_epoch = rs->done_epochs;
    if (opt->notes)
        fprintf(opt->notes, "dropbench: run %s resumed from its checkpoint after epoch "
                "%zu of %zu (%.2f s of its wall time so far)\n", rs->id, rs->done_epochs,
                rs->rc->epochs, rs->wall_before);
}

/* Writes the checkpoint after an epoch; a failure is reported, not fatal
 * (the run goes on; the result write will say if the disk is full). */
static void ckpt_save(run_state *rs, db_rng *order, const run_options *opt)
{
    if (!rs->ckbuf)
        return;
    double times[3] = { rs->train_seconds, rs->eval_seconds,
                        rs->wall_before + db_now() - rs->t_start };
    db_ckpt_view v = ckpt_view(rs, order, times);
    size_t n = db_ckpt_encode(rs->ckbuf, rs->ckcap, &v);
    db_err e;
    if (db_write_atomic(rs->ckpath, (const char *)rs->ckbuf, n, &e) && opt->notes)
        fprintf(opt->notes, "dropbench: checkpoint not written: %s\n", e.msg);
}

/* Step 5: every epoch, until the last or divergence. */
static int train_epochs(run_state *rs, run_options *opt, db_err *e)
{
    db_rng order;
    db_rng_seed(&order, rs->rc->seed, DB_RNG_ORDER, 0);
    int tty = isatty(2);
    ckpt_resume(rs, &order, opt);
    for (size_t epoch = rs->done_epochs + 1; epoch <= rs->rc->epochs; epoch++) {
        if (train_epoch(rs, &order, epoch, tty, opt, e) != 0)
            return -1;
        if (rs->diverged_epoch)
            break;
        if (epoch < rs->rc->epochs)
            ckpt_save(rs, &order, opt);
    }
    if (rs->diverged_epoch && !opt->quiet) {
        if (tty)
            fprintf(stderr, "\r\033[K");
        fprintf(stderr, "diverged: loss non-finite or above %g in epoch %zu\n",
                DB_DIVERGED_LOSS, rs->diverged_epoch);
    }
    return 0;
}

/* Step 6: the result file's parts.  Every field is checked: a result
 * missing one for lack of memory is never written.  Each returns -1 when
 * out of memory. */
#define ADD(item) do { if (!(item)) return -1; } while (0)

static int add_data_json(cJSON *res, const run_state *rs)
{
    const db_dataset *d = &rs->data;
    cJSON *dj = cJSON_AddObjectToObject(res, "data");
    if (!dj)
        return -1;
    ADD(cJSON_AddStringToObject(dj, "name", d->name));
    ADD(cJSON_AddNumberToObject(dj, "train_size", (double)rs->ntrain));
    ADD(cJSON_AddNumberToObject(dj, "train_available", (double)rs->ntrain_all));
    ADD(cJSON_AddNumberToObject(dj, "val_size", (double)rs->nval));
    ADD(cJSON_AddNumberToObject(dj, "test_size", (double)d->test.n));
    ADD(cJSON_AddNumberToObject(dj, "load_seconds", rs->t_data));
    cJSON *files = cJSON_AddArrayToObject(dj, "files");
    if (!files)
        return -1;
    int all_verified = d->nfiles > 0;
    for (size_t i = 0; i < d->nfiles; i++) {
        cJSON *f = cJSON_CreateObject();
        if (!f || !cJSON_AddItemToArray(files, f)) {
            cJSON_Delete(f);
            return -1;
        }
        ADD(cJSON_AddStringToObject(f, "name", d->files[i].name));
        ADD(cJSON_AddStringToObject(f, "sha256", d->files[i].sha256));
        ADD(cJSON_AddBoolToObject(f, "verified", d->files[i].verified));
        all_verified &= d->files[i].verified != 0;
    }
    ADD(cJSON_AddBoolToObject(dj, "verified", all_verified));
    if (rs->rc->rx.preprocess[0]) {
        cJSON *pj = cJSON_AddObjectToObject(dj, "preprocess");
        if (!pj)
            return -1;
        ADD(cJSON_AddStringToObject(pj, "type", rs->rc->rx.preprocess));
        ADD(cJSON_AddStringToObject(pj, "cache", rs->pre.cache_path));
        ADD(cJSON_AddBoolToObject(pj, "cache_hit", rs->pre.cache_hit));
        ADD(cJSON_AddNumberToObject(pj, "seconds", rs->pre.seconds));
    }
    return 0;
}

/* After training, for a model with batchnorm: each batchnorm layer's input
 * over the test set in evaluation (dropout off, batchnorm on its running
 * statistics), channel by channel, beside the running variance training
 * left: ratio = running var / test-time var (Li et al. 2019's variance
 * shift; above 1 when dropout before the layer inflated its training
 * variance).  The mean, smallest and largest ratio over the layer's
 * channels into rs->shift. */
static void variance_shift(run_state *rs)
{
    db_model *m = &rs->m;
    const size_t n = rs->data.test.n, nch = m->nstate / 2;
    memset(rs->bnacc, 0, 3 * nch * sizeof *rs->bnacc);
    for (size_t off = 0; off < n; off += m->bmax) {
        size_t B = n - off < m->bmax ? n - off : m->bmax, c = 0;
        load_batch(m, rs->labels, &rs->data, &rs->data.test, rs->test_idx + off, B);
        db_model_forward_pass(m, B, rs->labels, DB_PASS_EVAL, &c);
        db_model_bn_moments(m, B, rs->bnacc);
    }
    size_t k = 0;
    rs->nshift = 0;
    for (size_t i = 0; i < m->nl; i++) {
        const db_mlayer *L = &m->L[i];
        if (L->spec.type != DB_LAYER_BATCHNORM)
            continue;
        bn_shift *s = &rs->shift[rs->nshift++];
        s->layer = i;
        s->channels = L->in_c;
        s->mean = 0;
        s->min = INFINITY;
        s->max = -INFINITY;
        for (size_t ch = 0; ch < L->in_c; ch++, k++) {
            const double *a = rs->bnacc + 3 * k;
            const double mu = a[1] / a[0], var = a[2] / a[0] - mu * mu;
            const double r = (double)m->state[L->s_off + L->in_c + ch] / var;
            s->mean += r / (double)L->in_c;
            s->min = r < s->min ? r : s->min;
            s->max = r > s->max ? r : s->max;
        }
    }
}

/* "variance_shift", only for a model with batchnorm that completed. */
static int add_shift_json(cJSON *res, const run_state *rs)
{
    if (!rs->nshift)
        return 0;
    cJSON *o = cJSON_AddObjectToObject(res, "variance_shift");
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "layers") : NULL;
    if (!arr || !cJSON_AddStringToObject(o, "split", "test"))
        return -1;
    for (size_t i = 0; i < rs->nshift; i++) {
        const bn_shift *s = &rs->shift[i];
        cJSON *l = cJSON_CreateObject();
        if (!l || !cJSON_AddItemToArray(arr, l)) {
            cJSON_Delete(l);
            return -1;
        }
        if (!cJSON_AddNumberToObject(l, "layer", (double)s->layer) ||
            !cJSON_AddNumberToObject(l, "channels", (double)s->channels) ||
            !cJSON_AddNumberToObject(l, "ratio_mean", s->mean) ||
            !cJSON_AddNumberToObject(l, "ratio_min", s->min) ||
            !cJSON_AddNumberToObject(l, "ratio_max", s->max))
            return -1;
    }
    return 0;
}

/* {"deterministic": {...}, "mc": {...}} of one epoch's calibration c into o. */
static int add_calib_pair(cJSON *o, const double *c)
{
    static const char *const part[2] = { "deterministic", "mc" };
    for (int p = 0; p < 2; p++) {
        cJSON *j = cJSON_AddObjectToObject(o, part[p]);
        if (!j || !cJSON_AddNumberToObject(j, "test_error_pct", c[3 * p]) ||
            !cJSON_AddNumberToObject(j, "nll", c[3 * p + 1]) ||
            !cJSON_AddNumberToObject(j, "ece", c[3 * p + 2]))
            return -1;
    }
    return 0;
}

/* "calibration": the last epoch's, only for a run with mc_samples that
 * completed. */
static int add_calibration_json(cJSON *res, const run_state *rs)
{
    if (!rs->cal || rs->diverged_epoch || rs->done_epochs != rs->rc->epochs)
        return 0;
    cJSON *cj = cJSON_AddObjectToObject(res, "calibration");
    if (!cj || !cJSON_AddStringToObject(cj, "split", "test") ||
        !cJSON_AddNumberToObject(cj, "mc_samples", (double)rs->rc->mc_samples) ||
        !cJSON_AddNumberToObject(cj, "bins", DB_CALIB_BINS))
        return -1;
    return add_calib_pair(cj, rs->cal + (rs->done_epochs - 1) * DB_CAL_N);
}

/* "epochs" and "final". */
static int add_epochs_json(cJSON *res, const run_state *rs)
{
    cJSON *eps = cJSON_AddArrayToObject(res, "epochs");
    if (!eps)
        return -1;
    size_t nval = rs->nval, done_epochs = rs->done_epochs;
    double best_val = INFINITY;
    size_t best_epoch = 0;
    for (size_t i = 0; i < done_epochs; i++) {
        const epoch_stats *s = &rs->ep[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(eps, o)) {
            cJSON_Delete(o);
            return -1;
        }
        ADD(cJSON_AddNumberToObject(o, "epoch", (double)(i + 1)));
        ADD(cJSON_AddNumberToObject(o, "lr", s->lr));
        if (rs->rc->rx.mom_schedule != DB_MOM_CONSTANT) /* only then: suite results unchanged */
            ADD(cJSON_AddNumberToObject(o, "momentum", s->momentum));
        ADD(cJSON_AddNumberToObject(o, "train_loss", s->train_loss));
        ADD(cJSON_AddNumberToObject(o, "train_error_pct", s->train_err));
        ADD(cJSON_AddNumberToObject(o, "test_loss", s->test_loss));
        ADD(cJSON_AddNumberToObject(o, "test_error_pct", s->test_err));
        ADD(add_num_or_null(o, "val_loss", s->val_loss, nval > 0));
        ADD(add_num_or_null(o, "val_error_pct", s->val_err, nval > 0));
        ADD(cJSON_AddNumberToObject(o, "seconds", s->seconds));
        ADD(cJSON_AddNumberToObject(o, "examples_per_sec", s->examples_per_sec));
        if (rs->cal) { /* mc_samples: this epoch's calibration */
            cJSON *cj = cJSON_AddObjectToObject(o, "calibration");
            if (!cj || add_calib_pair(cj, rs->cal + i * DB_CAL_N))
                return -1;
        }
        if (nval && s->val_err < best_val) {
            best_val = s->val_err;
            best_epoch = i + 1;
        }
    }
    cJSON *fin = cJSON_AddObjectToObject(res, "final");
    if (!fin)
        return -1;
    const epoch_stats *last = done_epochs ? &rs->ep[done_epochs - 1] : NULL;
    ADD(add_num_or_null(fin, "test_error_pct", last ? last->test_err : 0, last != NULL));
    ADD(add_num_or_null(fin, "test_loss", last ? last->test_loss : 0, last != NULL));
    ADD(add_num_or_null(fin, "train_error_pct", last ? last->train_err : 0, last != NULL));
    ADD(cJSON_AddNumberToObject(fin, "epochs_completed", (double)done_epochs));
    ADD(add_num_or_null(fin, "best_val_error_pct", best_val, best_epoch > 0));
    ADD(add_num_or_null(fin, "best_val_epoch", (double)best_epoch, best_epoch > 0));
    ADD(add_num_or_null(fin, "diverged_epoch", (double)rs->diverged_epoch,
                        rs->diverged_epoch > 0));
    return 0;
}

/* "timing" (total: the run's own wall time, over all its processes when
 * resumed) and "fingerprints". */
static int add_timing_json(cJSON *res, const run_state *rs, double total)
{
    const db_model *m = &rs->m;
    size_t done_epochs = rs->done_epochs;
    cJSON *tj = cJSON_AddObjectToObject(res, "timing");
    if (!tj)
        return -1;
    ADD(cJSON_AddNumberToObject(tj, "total_seconds", total));
    ADD(cJSON_AddNumberToObject(tj, "train_seconds", rs->train_seconds));
    ADD(add_num_or_null(tj, "seconds_per_epoch",
                        done_epochs ? (rs->train_seconds + rs->eval_seconds) /
                                          (double)done_epochs
                                    : 0,
                        done_epochs > 0));
    ADD(add_num_or_null(tj, "train_seconds_per_epoch",
                        done_epochs ? rs->train_seconds / (double)done_epochs : 0,
                        done_epochs > 0));
    ADD(cJSON_AddNumberToObject(tj, "forward_seconds", m->t.forward));
    ADD(cJSON_AddNumberToObject(tj, "backward_seconds", m->t.backward));
    ADD(cJSON_AddNumberToObject(tj, "update_seconds", m->t.update));
    ADD(cJSON_AddNumberToObject(tj, "dropout_seconds", m->t.dropout));
    ADD(cJSON_AddNumberToObject(tj, "eval_seconds", rs->eval_seconds));
    ADD(cJSON_AddNumberToObject(tj, "data_load_seconds", rs->t_data));
    char fp[17];
    cJSON *rj = cJSON_AddObjectToObject(res, "fingerprints");
    if (!rj)
        return -1;
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)rs->init_fp);
    ADD(cJSON_AddStringToObject(rj, "initial_weights", fp));
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)rs->order_fp);
    ADD(cJSON_AddStringToObject(rj, "data_order", fp));
    return 0;
}

/* The whole result into *out (caller frees); start: the run's start (UTC),
 * t_start: its db_now().  -1 when out of memory. */
static int result_json(cJSON **out, const run_state *rs, const cJSON *config,
                       const char *id, const char *start, double t_start)
{
    char end[32];
    db_utc_stamp(end, sizeof end);
    cJSON *res = *out = cJSON_CreateObject();
    if (!res)
        return -1;
    ADD(cJSON_AddNumberToObject(res, "schema_version", DB_RESULT_SCHEMA_VERSION));
    ADD(cJSON_AddStringToObject(res, "run_id", id));
    ADD(cJSON_AddStringToObject(res, "config_hash", id));
    ADD(cJSON_AddStringToObject(res, "code_version", DB_CODE_VERSION));
    ADD(cJSON_AddStringToObject(res, "status", rs->diverged_epoch ? "diverged" : "complete"));
    if (rs->diverged_epoch) {
        char msg[128];
        snprintf(msg, sizeof msg, "loss non-finite or above %g in epoch %zu",
                 DB_DIVERGED_LOSS, rs->diverged_epoch);
        ADD(cJSON_AddStringToObject(res, "error", msg));
    } else {
        ADD(cJSON_AddNullToObject(res, "error"));
    }
    cJSON *cfg = cJSON_Duplicate(config, 1);
    if (!cfg || !cJSON_AddItemToObject(res, "config", cfg)) {
        cJSON_Delete(cfg);
        return -1;
    }
    if (add_data_json(res, rs) || add_epochs_json(res, rs) || add_calibration_json(res, rs) ||
        add_shift_json(res, rs) ||
        add_timing_json(res, rs, rs->wall_before + db_now() - t_start))
        return -1;
    /* the base model's fingerprint (arch.h db_arch_base_json): the report
     * pairs a run with the baseline only when theirs are equal */
    cJSON *base = NULL;
    char fp[17];
    int bad = db_arch_base_json(&base, cJSON_GetObjectItemCaseSensitive(config, "model"),
                                "config", NULL) ||
              db_json_fingerprint(fp, base, NULL);
    cJSON_Delete(base);
    if (bad)
        return -1;
    ADD(cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(res, "fingerprints"),
                                "base_model", fp));
    ADD(cJSON_AddNumberToObject(res, "parameters", (double)rs->m.nparams));
    ADD(cJSON_AddNumberToObject(res, "model_bytes", (double)db_model_bytes(&rs->m)));
    ADD(cJSON_AddNumberToObject(res, "peak_rss_mib", db_peak_rss_mib()));
    cJSON *env = environment_json(start, end, rs->m.nthreads);
    if (!env || !cJSON_AddItemToObject(res, "environment", env)) {
        cJSON_Delete(env);
        return -1;
    }
    return 0;
}

#undef ADD

int run_execute(const cJSON *config, const char *id, run_options *opt, db_err *e)
{
    opt->result_path[0] = '\0';
    run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.rc = calloc(1, sizeof *rs.rc);
    if (!rs.rc)
        return db_fail(e, "out of memory");
    cJSON *res = NULL;
    int ret = -1;
    char start[32];
    db_utc_stamp(start, sizeof start);
    double t_start = rs.t_start = db_now();
    db_model_input in;
    rs.id = id;
    if (prepare(&rs, config, id, opt, e) || load_data(&rs, &in, opt, e) ||
        check_verified(&rs, id, opt, e) || make_splits(&rs, e) || build_model(&rs, &in, e) || ckpt_prepare(&rs, opt, e) ||
        train_epochs(&rs, opt, e))
        goto out;
    if (rs.bnacc && !rs.diverged_epoch && rs.done_epochs == rs.rc->epochs)
        variance_shift(&rs);
    if (result_json(&res, &rs, config, id, start, t_start) != 0) {
        db_fail(e, "out of memory building the result");
        goto out;
    }
    if (db_json_save(opt->result_path, res, e))
        goto out;
    if (rs.ckpath[0])
        unlink(rs.ckpath);
    ret = rs.diverged_epoch ? 1 : 0;
out:
    if (ret < 0) {
        opt->result_path[0] = '\0';
        if (rs.made_dir)
            rmdir(opt->results_dir); /* only if the run left it empty */
    }
    cJSON_Delete(res);
    free(rs.ep);
    free(rs.train_idx);
    free(rs.test_idx);
    free(rs.labels);
    free(rs.mcsum);
    free(rs.cal);
    free(rs.bnacc);
    free(rs.shift);
    free(rs.ckbuf);
    db_model_free(&rs.m);
    db_dataset_free(&rs.data);
    free(rs.rc);
    return ret;
}
