/* bench.c - `dropbench bench` (see bench.h). */
#include "cli/bench.h"
#include "util/gemmtime.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cJSON.h>

#include "util/blas.h"
#include "data/data.h"
#include "train/model.h"
#include "train/run.h"
#include "train/runcfg.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (double)ru.ru_maxrss / 1024.0;
}

/* Floating-point operations per example of the matrix products, forward
 * alone (*fwd) and one training step (*train: forward, weight gradients,
 * and input gradients of every parametric layer above the first).  steps:
 * mean GRU steps per example (the words' mean length). */
static void count_flops(const db_model *m, double steps, double *fwd, double *train)
{
    double f = 0, t = 0;
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
        t += 2 * mm + rec;
        if (below)
            t += dx;
        if (L->param_index >= 0)
            below = 1;
    }
    *fwd = f;
    *train = t;
}

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

int cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {
        { "task", required_argument, 0, 't' },    { "strategy", required_argument, 0, 's' },
        { "threads", required_argument, 0, 'T' }, { "seconds", required_argument, 0, 'S' },
        { "eval-seconds", required_argument, 0, 'E' },
        { "warmup", required_argument, 0, 'w' },  { "data", required_argument, 0, 'd' },
        { "sgemm", no_argument, 0, 'g' },         { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    run_request rq;
    run_request_init(&rq);
    double seconds = 10, eval_seconds = 3;
    long warmup = 5;
    int sgemm = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        switch (ch) {
        case 't': rq.task = optarg; break;
        case 's': rq.strategy = optarg; break;
        case 'd': rq.data_root = optarg; break;
        case 'g': sgemm = 1; break;
        case 'T': rq.threads = (int)strtol(optarg, &end, 10); break;
        case 'S': seconds = strtod(optarg, &end); break;
        case 'E': eval_seconds = strtod(optarg, &end); break;
        case 'w': warmup = strtol(optarg, &end, 10); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (end && (*end != '\0' || end == optarg)) {
            fprintf(stderr, "dropbench bench: bad number \"%s\"\n", optarg);
            return 2;
        }
    }
    if (sgemm)
        return rq.threads < 0 || optind < argc ? (usage(stderr), 2) : bench_sgemm(rq.threads);
    if (!rq.task || optind < argc || rq.threads < 0 || !(seconds > 0) ||
        !(eval_seconds >= 0) || warmup < 0) {
        usage(stderr);
        return 2;
    }

    db_err e;
    cJSON *cfg = NULL;
    char id[17];
    run_config *rc = calloc(1, sizeof *rc);
    db_dataset data;
    memset(&data, 0, sizeof data);
    db_model m;
    memset(&m, 0, sizeof m);
    uint32_t *idx = NULL;
    uint8_t *labels = NULL;
    int status = 1;
    if (!rc) {
        fprintf(stderr, "dropbench bench: out of memory\n");
        return 1;
    }
    db_model_input in;
    if (run_resolve(&rq, &cfg, id, &e) || run_config_from_canonical(rc, cfg, &e) ||
        db_dataset_load(&data, rc->data, rq.data_root, &e) ||
        run_data_input(&in, rc->data, &e))
        goto fail;
    if (in.text)
        in.T = data.T;
    db_blas_set_threads(rc->threads);
    if (db_model_build(&m, &rc->arch, &in, rc->batch, &e) ||
        db_model_set_threads(&m, (size_t)rc->threads, &e))
        goto fail;
    db_model_init(&m, rc->seed);
    size_t n = data.train.n, B = rc->batch;
    idx = malloc((n > data.test.n ? n : data.test.n) * sizeof *idx);
    labels = malloc(B);
    if (!idx || !labels) {
        db_fail(&e, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = (uint32_t)i;
    db_rng order;
    db_rng_seed(&order, rc->seed, DB_RNG_ORDER, 0);
    db_rng_shuffle(&order, idx, n);
    double steps = 0;
    if (in.text) {
        for (size_t i = 0; i < n; i++)
            steps += data.train.len[i] < data.T ? data.train.len[i] : (double)data.T;
        steps /= (double)n;
    }
    double fwd_flops, train_flops;
    count_flops(&m, steps, &fwd_flops, &train_flops);

    /* Training: whole batches in a shuffled order, wrapping around. */
    size_t off = 0, examples = 0, batches = 0;
    double t0 = now(), el = 0;
    db_optim o = rc->opt;
    for (;;) {
        if (off + B > n)
            off = 0;
        const uint32_t *bi = idx + off;
        off += B;
        if (data.kind == DB_DATA_TEXT)
            db_batch_text(m.tok, m.len, &data, &data.train, bi, B);
        else
            db_batch_images(m.input, &data, &data.train, bi, B);
        for (size_t i = 0; i < B; i++)
            labels[i] = data.train.y[bi[i]];
        size_t correct = 0;
        db_model_forward(&m, B, labels, 1, &correct);
        db_model_backward(&m, B, labels);
        db_model_update(&m, &o);
        batches++;
        if (batches == (size_t)warmup) {
            memset(&m.t, 0, sizeof m.t);
            db_gemmtime_start();
            t0 = now();
        } else if (batches > (size_t)warmup) {
            examples += B;
            el = now() - t0;
            if (el >= seconds)
                break;
        }
    }
    db_gemmtime_stop();
    db_model_timing tt = m.t;
    db_gemmtime gt, gd, ga;
    db_gemmtime_read(&gt, DB_GEMM_SGEMM);
    db_gemmtime_read(&gd, DB_GEMM_DIRECT);
    db_gemmtime_read(&ga, DB_GEMM_ALL);

    /* Evaluation: the test set in order, dropout off. */
    size_t ne = 0;
    double te = now(), el_e = 0;
    for (size_t o2 = 0; o2 < data.test.n; o2 += B) {
        size_t b = data.test.n - o2 < B ? data.test.n - o2 : B;
        for (size_t i = 0; i < b; i++)
            idx[i] = (uint32_t)(o2 + i);
        if (data.kind == DB_DATA_TEXT)
            db_batch_text(m.tok, m.len, &data, &data.test, idx, b);
        else
            db_batch_images(m.input, &data, &data.test, idx, b);
        for (size_t i = 0; i < b; i++)
            labels[i] = data.test.y[o2 + i];
        size_t correct = 0;
        db_model_forward(&m, b, labels, 0, &correct);
        ne += b;
        el_e = now() - te;
        if (el_e >= eval_seconds)
            break;
    }

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
           "\"conv_kernels\": \"%s\"}\n",
           rc->task, rc->strategy, rc->threads, B, eps, examples, el,
           (double)ne / el_e, ne, train_flops / 1e6, fwd_flops / 1e6, steps,
           eps * train_flops / 1e9, (double)ne / el_e * fwd_flops / 1e9, tt.forward,
           tt.backward, tt.update, tt.dropout, gt.calls, gt.max_thread_seconds,
           gt.total_seconds, gt.flops / 1e9, gd.calls, gd.max_thread_seconds,
           gd.total_seconds, gd.flops / 1e9, ga.max_thread_seconds, ga.total_seconds,
           ga.flops / 1e9, db_model_bytes(&m), peak_rss_mib(),
           blas.core, conv2d_kernels());
    status = 0;
    goto out;
fail:
    fprintf(stderr, "dropbench bench: %s\n", e.msg);
out:
    free(idx);
    free(labels);
    db_model_free(&m);
    db_dataset_free(&data);
    cJSON_Delete(cfg);
    free(rc);
    return status;
}
