/* train.c - run_execute: data, model, the training loop, the result file.
 *
 * One training step, top to bottom: gather a batch (bytes -> floats),
 * db_model_forward, db_model_backward, db_model_update.  Everything the loop
 * touches is allocated before the first step. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "util/blas.h"
#include "data/data.h"
#include "util/jsonio.h"
#include "train/model.h"
#include "train/run.h"
#include "train/runcfg.h"
#include "util/version.h"

/* A mean cross-entropy this large means the weights have blown up even
 * while the loss is still finite (log-sum-exp keeps it finite up to enormous
 * logits; lr 1e4 reaches ~1e28): the run is recorded as diverged, not as a
 * result.  A model that learns anything starts near ln(classes) ~ 2.3. */
#define DB_DIVERGED_LOSS 1e3

typedef struct epoch_stats {
    double train_loss, train_err, test_loss, test_err, val_loss, val_err;
    double seconds, examples_per_sec, lr;
} epoch_stats;

/* FNV-1a over bytes, continuing from h: a fingerprint of the initial weights
 * and of the data order, so results can prove that two strategies under one
 * seed started from the same weights and saw the same examples in the same
 * order. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void utc_now(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

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

static void read_cpu_model(char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t')
                    c++;
                c[strcspn(c, "\n")] = '\0';
                snprintf(buf, n, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

static cJSON *environment_json(const char *start, const char *end, size_t team)
{
    cJSON *env = cJSON_CreateObject();
    if (!env)
        return NULL;
    int ok = 1;
    char cpu[256], host[256] = "unknown";
    read_cpu_model(cpu, sizeof cpu);
    gethostname(host, sizeof host - 1);
    db_blas_info bi;
    db_blas_get_info(&bi);
    ok &= cJSON_AddStringToObject(env, "cpu", cpu) != NULL;
    ok &= cJSON_AddNumberToObject(env, "cores", (double)sysconf(_SC_NPROCESSORS_ONLN)) != NULL;
    ok &= cJSON_AddStringToObject(env, "blas", bi.config) != NULL;
    ok &= cJSON_AddStringToObject(env, "blas_core", bi.core) != NULL;
    ok &= cJSON_AddNumberToObject(env, "blas_threads", bi.threads) != NULL;
    ok &= cJSON_AddNumberToObject(env, "team_threads", (double)team) != NULL;
    ok &= cJSON_AddStringToObject(env, "conv_kernels", conv2d_kernels()) != NULL;
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

static double peak_rss_mib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
}

/* Returns the item added, NULL when out of memory. */
static cJSON *add_num_or_null(cJSON *o, const char *k, double v, int present)
{
    return present ? cJSON_AddNumberToObject(o, k, v) : cJSON_AddNullToObject(o, k);
}

int run_execute(const cJSON *config, const char *id, run_options *opt, db_err *e)
{
    opt->result_path[0] = '\0';
    run_config *rc = calloc(1, sizeof *rc);
    if (!rc)
        return db_fail(e, "out of memory");
    db_dataset data;
    memset(&data, 0, sizeof data);
    db_model m;
    memset(&m, 0, sizeof m);
    epoch_stats *ep = NULL;
    uint32_t *train_idx = NULL, *val_idx = NULL, *test_idx = NULL;
    uint8_t *labels = NULL;
    cJSON *res = NULL;
    int ret = -1;
    char start[32], end[32], name[512];
    utc_now(start, sizeof start);
    double t_start = now();

    if (run_config_from_canonical(rc, config, e) ||
        run_result_name(name, sizeof name, config, id, e))
        goto out;
    if (db_mkdirs(opt->results_dir, e))
        goto out;
    if ((size_t)snprintf(opt->result_path, sizeof opt->result_path, "%s/%s",
                         opt->results_dir, name) >= sizeof opt->result_path) {
        db_fail(e, "%s: results path too long", opt->results_dir);
        goto out;
    }
    db_blas_set_threads(rc->threads);

    double t_data = now();
    if (db_dataset_load(&data, rc->data, opt->data_root, e))
        goto out;
    t_data = now() - t_data;
    db_model_input in;
    if (run_data_input(&in, rc->data, e))
        goto out;
    if (in.text != (data.kind == DB_DATA_TEXT) || data.classes != in.classes ||
        (!in.text && (data.C != in.c || data.H != in.h || data.W != in.w))) {
        db_fail(e, "data set %s: dimensions differ from what the config expects", rc->data);
        goto out;
    }
    if (in.text)
        in.T = data.T;

    /* Splits: the validation examples are a seeded random subset of the
     * training set; --limit-train keeps the first N of what remains. */
    size_t ntrain_all = data.train.n;
    if (rc->val >= ntrain_all) {
        db_fail(e, "val: %zu examples requested but the training set has %zu",
                rc->val, ntrain_all);
        goto out;
    }
    train_idx = malloc(ntrain_all * sizeof *train_idx);
    test_idx = malloc((data.test.n ? data.test.n : 1) * sizeof *test_idx);
    labels = malloc(rc->batch);
    ep = calloc(rc->epochs, sizeof *ep);
    if (!train_idx || !test_idx || !labels || !ep) {
        db_fail(e, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < ntrain_all; i++)
        train_idx[i] = (uint32_t)i;
    for (size_t i = 0; i < data.test.n; i++)
        test_idx[i] = (uint32_t)i;
    size_t nval = rc->val, ntrain = ntrain_all - nval;
    if (nval) {
        db_rng vr;
        db_rng_seed(&vr, rc->seed, DB_RNG_ORDER, 1);
        db_rng_shuffle(&vr, train_idx, ntrain_all);
        val_idx = train_idx + ntrain;
        /* the training part keeps the data's order before epoch shuffling */
    }
    if (rc->limit_train && rc->limit_train < ntrain)
        ntrain = rc->limit_train;

    if (db_model_build(&m, &rc->arch, &in, rc->batch, e) ||
        db_model_set_threads(&m, (size_t)rc->threads, e))
        goto out;
    db_model_init(&m, rc->seed);
    uint64_t init_fp = fnv1a(0xcbf29ce484222325ULL, m.params, m.nparams * sizeof(float));
    uint64_t order_fp = 0xcbf29ce484222325ULL;

    db_rng order;
    db_rng_seed(&order, rc->seed, DB_RNG_ORDER, 0);
    int tty = isatty(2);
    size_t nb = (ntrain + rc->batch - 1) / rc->batch;
    size_t done_epochs = 0, diverged_epoch = 0;
    double eval_seconds = 0, train_seconds = 0;
    for (size_t epoch = 1; epoch <= rc->epochs; epoch++) {
        double t0 = now();
        db_optim o = rc->opt;
        o.lr = run_config_lr(rc, epoch);
        db_rng_shuffle(&order, train_idx, ntrain);
        order_fp = fnv1a(order_fp, train_idx, ntrain * sizeof *train_idx);
        double total_loss = 0;
        size_t correct = 0;
        for (size_t b = 0; b < nb; b++) {
            if (db_stop_requested) {
                db_fail(e, "interrupted by a signal during epoch %zu", epoch);
                goto out;
            }
            size_t off = b * rc->batch;
            size_t B = ntrain - off < rc->batch ? ntrain - off : rc->batch;
            load_batch(&m, labels, &data, &data.train, train_idx + off, B);
            double loss = db_model_forward(&m, B, labels, 1, &correct);
            if (!(loss <= DB_DIVERGED_LOSS)) {   /* also NaN */
                diverged_epoch = epoch;
                break;
            }
            total_loss += loss * (double)B;
            db_model_backward(&m, B, labels);
            db_model_update(&m, &o);
            if ((b & 15) == 0 || b + 1 == nb) {
                double el = now() - t0, eps = (double)(off + B) / (el > 0 ? el : 1e-9);
                double remain = (double)(ntrain - off - B) +
                                (double)(rc->epochs - epoch) * (double)ntrain;
                progress(opt->quiet, tty, epoch, rc->epochs, off + B, ntrain,
                         total_loss / (double)(off + B), eps, remain / eps);
            }
        }
        if (diverged_epoch)
            break;
        double t1 = now();
        train_seconds += t1 - t0;
        epoch_stats *s = &ep[epoch - 1];
        s->lr = o.lr;
        s->train_loss = total_loss / (double)ntrain;
        s->train_err = 100.0 * (double)(ntrain - correct) / (double)ntrain;
        s->examples_per_sec = (double)ntrain / (t1 - t0);
        evaluate(&s->test_loss, &s->test_err, &m, labels, &data, &data.test, test_idx,
                 data.test.n);
        if (nval)
            evaluate(&s->val_loss, &s->val_err, &m, labels, &data, &data.train, val_idx,
                     nval);
        eval_seconds += now() - t1;
        s->seconds = now() - t0;
        done_epochs = epoch;
        if (!opt->quiet) {
            if (tty)
                fprintf(stderr, "\r\033[K");
            fprintf(stderr, "epoch %zu/%zu  train loss %.4f err %.2f%%  test loss %.4f "
                    "err %.2f%%  %.1fs  %.0f ex/s\n", epoch, rc->epochs, s->train_loss,
                    s->train_err, s->test_loss, s->test_err, s->seconds,
                    s->examples_per_sec);
        }
        if (!(s->test_loss <= DB_DIVERGED_LOSS) || !(s->train_loss <= DB_DIVERGED_LOSS)) {
            diverged_epoch = epoch;
            break;
        }
    }
    if (diverged_epoch && !opt->quiet) {
        if (tty)
            fprintf(stderr, "\r\033[K");
        fprintf(stderr, "diverged: loss non-finite or above %g in epoch %zu\n",
                DB_DIVERGED_LOSS, diverged_epoch);
    }

    /* ---- the result file ---- */
    /* Every field is checked: a result missing one for lack of memory is
     * never written. */
#define ADD(item) do { if (!(item)) goto oom; } while (0)
    utc_now(end, sizeof end);
    res = cJSON_CreateObject();
    if (!res)
        goto oom;
    ADD(cJSON_AddNumberToObject(res, "schema_version", DB_RESULT_SCHEMA_VERSION));
    ADD(cJSON_AddStringToObject(res, "run_id", id));
    ADD(cJSON_AddStringToObject(res, "config_hash", id));
    ADD(cJSON_AddStringToObject(res, "code_version", DB_CODE_VERSION));
    ADD(cJSON_AddStringToObject(res, "status", diverged_epoch ? "diverged" : "complete"));
    if (diverged_epoch) {
        char msg[128];
        snprintf(msg, sizeof msg, "loss non-finite or above %g in epoch %zu",
                 DB_DIVERGED_LOSS, diverged_epoch);
        ADD(cJSON_AddStringToObject(res, "error", msg));
    } else {
        ADD(cJSON_AddNullToObject(res, "error"));
    }
    cJSON *cfg = cJSON_Duplicate(config, 1);
    if (!cfg || !cJSON_AddItemToObject(res, "config", cfg)) {
        cJSON_Delete(cfg);
        goto oom;
    }
    cJSON *dj = cJSON_AddObjectToObject(res, "data");
    if (!dj)
        goto oom;
    ADD(cJSON_AddStringToObject(dj, "name", data.name));
    ADD(cJSON_AddNumberToObject(dj, "train_size", (double)ntrain));
    ADD(cJSON_AddNumberToObject(dj, "train_available", (double)ntrain_all));
    ADD(cJSON_AddNumberToObject(dj, "val_size", (double)nval));
    ADD(cJSON_AddNumberToObject(dj, "test_size", (double)data.test.n));
    ADD(cJSON_AddNumberToObject(dj, "load_seconds", t_data));
    cJSON *files = cJSON_AddArrayToObject(dj, "files");
    if (!files)
        goto oom;
    int all_verified = data.nfiles > 0;
    for (size_t i = 0; i < data.nfiles; i++) {
        cJSON *f = cJSON_CreateObject();
        if (!f || !cJSON_AddItemToArray(files, f)) {
            cJSON_Delete(f);
            goto oom;
        }
        ADD(cJSON_AddStringToObject(f, "name", data.files[i].name));
        ADD(cJSON_AddStringToObject(f, "sha256", data.files[i].sha256));
        ADD(cJSON_AddBoolToObject(f, "verified", data.files[i].verified));
        all_verified &= data.files[i].verified != 0;
    }
    ADD(cJSON_AddBoolToObject(dj, "verified", all_verified));
    cJSON *eps = cJSON_AddArrayToObject(res, "epochs");
    if (!eps)
        goto oom;
    double best_val = INFINITY;
    size_t best_epoch = 0;
    for (size_t i = 0; i < done_epochs; i++) {
        const epoch_stats *s = &ep[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(eps, o)) {
            cJSON_Delete(o);
            goto oom;
        }
        ADD(cJSON_AddNumberToObject(o, "epoch", (double)(i + 1)));
        ADD(cJSON_AddNumberToObject(o, "lr", s->lr));
        ADD(cJSON_AddNumberToObject(o, "train_loss", s->train_loss));
        ADD(cJSON_AddNumberToObject(o, "train_error_pct", s->train_err));
        ADD(cJSON_AddNumberToObject(o, "test_loss", s->test_loss));
        ADD(cJSON_AddNumberToObject(o, "test_error_pct", s->test_err));
        ADD(add_num_or_null(o, "val_loss", s->val_loss, nval > 0));
        ADD(add_num_or_null(o, "val_error_pct", s->val_err, nval > 0));
        ADD(cJSON_AddNumberToObject(o, "seconds", s->seconds));
        ADD(cJSON_AddNumberToObject(o, "examples_per_sec", s->examples_per_sec));
        if (nval && s->val_err < best_val) {
            best_val = s->val_err;
            best_epoch = i + 1;
        }
    }
    cJSON *fin = cJSON_AddObjectToObject(res, "final");
    if (!fin)
        goto oom;
    const epoch_stats *last = done_epochs ? &ep[done_epochs - 1] : NULL;
    ADD(add_num_or_null(fin, "test_error_pct", last ? last->test_err : 0, last != NULL));
    ADD(add_num_or_null(fin, "test_loss", last ? last->test_loss : 0, last != NULL));
    ADD(add_num_or_null(fin, "train_error_pct", last ? last->train_err : 0, last != NULL));
    ADD(cJSON_AddNumberToObject(fin, "epochs_completed", (double)done_epochs));
    ADD(add_num_or_null(fin, "best_val_error_pct", best_val, best_epoch > 0));
    ADD(add_num_or_null(fin, "best_val_epoch", (double)best_epoch, best_epoch > 0));
    ADD(add_num_or_null(fin, "diverged_epoch", (double)diverged_epoch, diverged_epoch > 0));
    cJSON *tj = cJSON_AddObjectToObject(res, "timing");
    if (!tj)
        goto oom;
    double total = now() - t_start;
    ADD(cJSON_AddNumberToObject(tj, "total_seconds", total));
    ADD(cJSON_AddNumberToObject(tj, "train_seconds", train_seconds));
    ADD(add_num_or_null(tj, "seconds_per_epoch",
                        done_epochs ? (train_seconds + eval_seconds) / (double)done_epochs : 0,
                        done_epochs > 0));
    ADD(add_num_or_null(tj, "train_seconds_per_epoch",
                        done_epochs ? train_seconds / (double)done_epochs : 0,
                        done_epochs > 0));
    ADD(cJSON_AddNumberToObject(tj, "forward_seconds", m.t.forward));
    ADD(cJSON_AddNumberToObject(tj, "backward_seconds", m.t.backward));
    ADD(cJSON_AddNumberToObject(tj, "update_seconds", m.t.update));
    ADD(cJSON_AddNumberToObject(tj, "dropout_seconds", m.t.dropout));
    ADD(cJSON_AddNumberToObject(tj, "eval_seconds", eval_seconds));
    ADD(cJSON_AddNumberToObject(tj, "data_load_seconds", t_data));
    char fp[17];
    cJSON *rj = cJSON_AddObjectToObject(res, "fingerprints");
    if (!rj)
        goto oom;
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)init_fp);
    ADD(cJSON_AddStringToObject(rj, "initial_weights", fp));
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)order_fp);
    ADD(cJSON_AddStringToObject(rj, "data_order", fp));
    ADD(cJSON_AddNumberToObject(res, "parameters", (double)m.nparams));
    ADD(cJSON_AddNumberToObject(res, "model_bytes", (double)db_model_bytes(&m)));
    ADD(cJSON_AddNumberToObject(res, "peak_rss_mib", peak_rss_mib()));
    cJSON *env = environment_json(start, end, m.nthreads);
    if (!env || !cJSON_AddItemToObject(res, "environment", env)) {
        cJSON_Delete(env);
        goto oom;
    }
    if (db_json_save(opt->result_path, res, e))
        goto out;
    ret = diverged_epoch ? 1 : 0;
    goto out;
#undef ADD
oom:
    db_fail(e, "out of memory building the result");
out:
    if (ret < 0)
        opt->result_path[0] = '\0';
    cJSON_Delete(res);
    free(ep);
    free(train_idx);
    free(test_idx);
    free(labels);
    db_model_free(&m);
    db_dataset_free(&data);
    free(rc);
    return ret;
}
