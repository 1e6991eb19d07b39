/* cmd_bench.c - `dropbench bench` (see commands.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cJSON.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "data/data.h"
#include "train/model.h"
#include "train/run.h"
#include "train/runcfg.h"
#include "util/blas.h"
#include "util/clock.h"
#include "util/gemmtime.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: dropbench bench --task T [--strategy S] [--threads N] [--seconds S]\n"
               "                       [--eval-seconds S] [--warmup B] [--data DIR]\n"
               "       dropbench bench --sgemm [--threads N]\n"
               "--sgemm: sgemm 1024^3 GFLOP/s with 1 and 2 threads, or with N only.\n");
}

static int bench_sgemm(int threads)
{
    db_blas_info bi;
    db_blas_get_info(&bi);
    if (threads > 0) {
        /* one count only: `scripts/bench` starts two of these at once for
         * the peak of two concurrent 1-thread processes */
        db_blas_set_threads(threads);
        double g = db_blas_gflops(1024, 40); /* ~1 s: long enough to overlap */
        printf("{\"sgemm_n\": 1024, \"threads\": %d, \"sgemm_gflops\": %.2f, "
               "\"blas_core\": \"%s\"}\n", threads, g, bi.core);
        return 0;
    }
    db_blas_set_threads(1);
    double g1 = db_blas_gflops(1024, 5);
    db_blas_set_threads(2);
    double g2 = db_blas_gflops(1024, 5);
    printf("{\"sgemm_n\": 1024, \"sgemm_gflops_1\": %.2f, \"sgemm_gflops_2\": %.2f, "
           "\"blas_core\": \"%s\", \"blas_config\": \"%s\"}\n", g1, g2, bi.core, bi.config);
    return 0;
}

typedef struct bench_opts {
    run_request rq;
    double seconds, eval_seconds;
    long warmup;
    int sgemm;
} bench_opts;

/* The values parse_bench read: 0, or -1 after saying which is wrong. */
static int bench_check(const bench_opts *b, int argc, char **argv)
{
    const char *bad = optind < argc ? "unexpected argument (options start with --)"
                      : b->rq.threads < 0 ? "--threads: must be >= 1"
                      : !(b->seconds > 0) ? "--seconds: must be > 0"
                      : !(b->eval_seconds >= 0) ? "--eval-seconds: must be >= 0"
                      : b->warmup < 0 ? "--warmup: must be >= 0" : NULL;
    if (!bad)
        return 0;
    if (optind < argc)
        fprintf(stderr, "dropbench bench: \"%s\": %s\n", argv[optind], bad);
    else
        fprintf(stderr, "dropbench bench: %s\n", bad);
    return -1;
}

/* Step 1: the options.  Returns -1 to go on, else the exit status. */
static int parse_bench(bench_opts *b, int argc, char **argv)
{
    static const struct option opts[] = {
        { "task", required_argument, 0, 't' },    { "strategy", required_argument, 0, 's' },
        { "threads", required_argument, 0, 'T' }, { "seconds", required_argument, 0, 'S' },
        { "eval-seconds", required_argument, 0, 'E' },
        { "warmup", required_argument, 0, 'w' },  { "data", required_argument, 0, 'd' },
        { "sgemm", no_argument, 0, 'g' },         { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    run_request_init(&b->rq);
    b->seconds = 10;
    b->eval_seconds = 3;
    b->warmup = 5;
    b->sgemm = 0;
    optind = 1;
    int ch;
    while ((ch = cli_getopt(argc, argv, "h", opts, "bench", 1)) != -1) {
        char *end = NULL;
        switch (ch) {
        case 't': b->rq.task = optarg; break;
        case 's': b->rq.strategy = optarg; break;
        case 'd': b->rq.data_root = optarg; break;
        case 'g': b->sgemm = 1; break;
        case 'T': b->rq.threads = (int)strtol(optarg, &end, 10); break;
        case 'S': b->seconds = strtod(optarg, &end); break;
        case 'E': b->eval_seconds = strtod(optarg, &end); break;
        case 'w': b->warmup = strtol(optarg, &end, 10); break;
        case 'h': usage(stdout); return 0;
        default: return 2; /* cli_getopt said why */
        }
        if (end && (*end != '\0' || end == optarg)) {
            const char *name = "?";
            for (size_t i = 0; opts[i].name; i++)
                if (opts[i].val == ch)
                    name = opts[i].name;
            fprintf(stderr, "dropbench bench: --%s: expected a number, got \"%s\"\n", name,
                    optarg);
            return 2;
        }
    }
    if (b->sgemm)
        return bench_check(b, argc, argv) ? 2 : bench_sgemm(b->rq.threads);
    if (bench_check(b, argc, argv))
        return 2;
    if (!b->rq.task) {
        fprintf(stderr, "dropbench bench: give --task T (or --sgemm)\n");
        return 2;
    }
    return -1;
}

/* What one benchmark holds; zeroed first, freed by bench_free. */
typedef struct bench_run {
    run_config *rc;
    cJSON *cfg;
    db_dataset data;
    db_model m;
    uint32_t *idx;
    uint8_t *labels;
    double steps;              /* mean GRU steps per example */
} bench_run;

static void bench_free(bench_run *r)
{
    free(r->idx);
    free(r->labels);
    db_model_free(&r->m);
    db_dataset_free(&r->data);
    cJSON_Delete(r->cfg);
    free(r->rc);
}

/* Step 2: config, data, model, a shuffled training order. */
static int bench_setup(bench_run *r, const run_request *rq, db_err *e)
{
    char id[17];
    db_model_input in;
    if (run_resolve(rq, &r->cfg, id, e) || run_config_from_canonical(r->rc, r->cfg, e) ||
        db_dataset_load(&r->data, r->rc->data, rq->data_root, e) ||
        run_data_input(&in, r->rc->data, e))
        return -1;
    const run_config *rc = r->rc;
    const db_dataset *data = &r->data;
    if (in.text)
        in.T = data->T;
    db_blas_set_threads(rc->threads);
    if (db_model_build(&r->m, &rc->arch, &in, rc->batch, e) ||
        db_model_set_threads(&r->m, (size_t)rc->threads, e))
        return -1;
    db_model_init(&r->m, rc->seed);
    size_t n = data->train.n;
    /* calloc: every index is defined even when a batch is larger than n */
    r->idx = calloc(n > data->test.n ? n : data->test.n, sizeof *r->idx);
    r->labels = malloc(rc->batch);
    if (!r->idx || !r->labels)
        return db_fail(e, "out of memory");
    for (size_t i = 0; i < n; i++)
        r->idx[i] = (uint32_t)i;
    db_rng order;
    db_rng_seed(&order, rc->seed, DB_RNG_ORDER, 0);
    db_rng_shuffle(&order, r->idx, n);
    r->steps = 0;
    if (in.text) {
        for (size_t i = 0; i < n; i++)
            r->steps += data->train.len[i] < data->T ? data->train.len[i] : (double)data->T;
        r->steps /= (double)n;
    }
    return 0;
}

/* Copies examples bi[0..B) of split s into the model's inputs and labels. */
static void bench_batch(bench_run *r, const db_split *s, const uint32_t *bi, size_t B)
{
    if (r->data.kind == DB_DATA_TEXT)
        db_batch_text(r->m.tok, r->m.len, &r->data, s, bi, B);
    else
        db_batch_images(r->m.input, &r->data, s, bi, B);
}

/* Step 3, training: whole batches in a shuffled order, wrapping around,
 * timed (with the products, gemmtime.h) after the warm-up batches until
 * `seconds` have passed.  *examples trained on in *el seconds. */
static void bench_train(bench_run *r, long warmup, double seconds, size_t *examples,
                        double *el)
{
    db_model *m = &r->m;
    size_t n = r->data.train.n, B = r->rc->batch;
    size_t off = 0, batches = 0;
    double t0 = db_now();
    *examples = 0;
    *el = 0;
    db_optim o = r->rc->opt;
    for (;;) {
        if (off + B > n)
            off = 0;
        const uint32_t *bi = r->idx + off;
        off += B;
        bench_batch(r, &r->data.train, bi, B);
        for (size_t i = 0; i < B; i++)
            r->labels[i] = r->data.train.y[bi[i]];
        size_t correct = 0;
        db_model_forward(m, B, r->labels, 1, &correct);
        db_model_backward(m, B, r->labels);
        db_model_update(m, &o);
        batches++;
        if (batches == (size_t)warmup) {
            memset(&m->t, 0, sizeof m->t);
            db_gemmtime_start();
            t0 = db_now();
        } else if (batches > (size_t)warmup) {
            *examples += B;
            *el = db_now() - t0;
            if (*el >= seconds)
                break;
        }
    }
    db_gemmtime_stop();
}

/* Step 4, evaluation: the test set in order, dropout off, for at most
 * eval_seconds.  *ne examples in *el seconds. */
static void bench_eval(bench_run *r, double eval_seconds, size_t *ne, double *el)
{
    const db_split *test = &r->data.test;
    size_t B = r->rc->batch;
    *ne = 0;
    *el = 0;
    double te = db_now();
    for (size_t o2 = 0; o2 < test->n; o2 += B) {
        size_t b = test->n - o2 < B ? test->n - o2 : B;
        for (size_t i = 0; i < b; i++)
            r->idx[i] = (uint32_t)(o2 + i);
        bench_batch(r, test, r->idx, b);
        for (size_t i = 0; i < b; i++)
            r->labels[i] = test->y[o2 + i];
        size_t correct = 0;
        db_model_forward(&r->m, b, r->labels, 0, &correct);
        *ne += b;
        *el = db_now() - te;
        if (*el >= eval_seconds)
            break;
    }
}

int cmd_bench(int argc, char **argv)
{
    bench_opts bo;
    int status = parse_bench(&bo, argc, argv);
    if (status >= 0)
        return status;
    status = 1;
    db_err e;
    bench_run r;
    memset(&r, 0, sizeof r);
    r.rc = calloc(1, sizeof *r.rc);
    if (!r.rc) {
        fprintf(stderr, "dropbench bench: out of memory\n");
        return 1;
    }
    if (bench_setup(&r, &bo.rq, &e)) {
        fprintf(stderr, "dropbench bench: %s\n", e.msg);
        bench_free(&r);
        return status;
    }
    const run_config *rc = r.rc;
    size_t B = rc->batch;
    double steps = r.steps;
    double fwd_flops, train_flops;
    db_model_flops(&r.m, steps, &fwd_flops, &train_flops, NULL);

    size_t examples;
    double el;
    bench_train(&r, bo.warmup, bo.seconds, &examples, &el);
    db_model_timing tt = r.m.t;
    db_gemmtime gt, gd, ga;
    db_gemmtime_read(&gt, DB_GEMM_SGEMM);
    db_gemmtime_read(&gd, DB_GEMM_DIRECT);
    db_gemmtime_read(&ga, DB_GEMM_ALL);
    size_t ne;
    double el_e;
    bench_eval(&r, bo.eval_seconds, &ne, &el_e);

    db_blas_info blas;
    db_blas_get_info(&blas);
    double eps = (double)examples / el;
    printf("{\"framework\": \"dropbench\", \"task\": \"%s\", \"strategy\": \"%s\", "
           "\"threads\": %d, \"batch\": %zu, "
           "\"train_examples_per_sec\": %.2f, \"train_examples\": %zu, "
           "\"train_seconds\": %.3f, \"eval_examples_per_sec\": %.2f, "
           "\"eval_examples\": %zu, "
           "\"train_mflop_per_example\": %.4f, \"eval_mflop_per_example\": %.4f, "
           "\"gru_mean_steps\": %.4f, \"train_gflops\": %.2f, \"eval_gflops\": %.2f, "
           "\"forward_seconds\": %.3f, \"backward_seconds\": %.3f, "
           "\"update_seconds\": %.3f, \"dropout_seconds\": %.3f, "
           "\"sgemm_calls\": %lu, \"sgemm_seconds_max_thread\": %.3f, "
           "\"sgemm_seconds_total\": %.3f, \"sgemm_gflop\": %.3f, "
           "\"direct_calls\": %lu, \"direct_seconds_max_thread\": %.3f, "
           "\"direct_seconds_total\": %.3f, \"direct_gflop\": %.3f, "
           "\"products_seconds_max_thread\": %.3f, \"products_seconds_total\": %.3f, "
           "\"products_gflop\": %.3f, "
           "\"model_bytes\": %zu, \"peak_rss_mib\": %.2f, \"blas_core\": \"%s\", "
           "\"conv_kernels\": \"%s\", \"simd\": \"%s\"}\n",
           rc->task, rc->strategy, rc->threads, B, eps, examples, el,
           (double)ne / el_e, ne, train_flops / 1e6, fwd_flops / 1e6, steps,
           eps * train_flops / 1e9, (double)ne / el_e * fwd_flops / 1e9, tt.forward,
           tt.backward, tt.update, tt.dropout, gt.calls, gt.max_thread_seconds,
           gt.total_seconds, gt.flops / 1e9, gd.calls, gd.max_thread_seconds,
           gd.total_seconds, gd.flops / 1e9, ga.max_thread_seconds, ga.total_seconds,
           ga.flops / 1e9, db_model_bytes(&r.m), db_peak_rss_mib(),
           blas.core, conv2d_kernels(), db_simd_name(db_simd_get()));
    bench_free(&r);
    return 0;
}
