/* main.c - the dropbench command line.  The only place that turns errors
 * into exit statuses. */
#include <cblas.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/bench.h"
#include "convdirect.h" /* the conv_direct_* passes wrapped below */
#include "util/blas.h"
#include "util/gemmtime.h"
#include "data/data.h"
#include "train/model.h"
#include "report/report.h"
#include "train/run.h"
#include "train/runcfg.h"
#include "strategy.h"
#include "sweep/sweep.h"

enum { EXIT_USAGE = 2, EXIT_DIVERGED = 3, EXIT_INTERRUPTED = 130 };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dropbench COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  run        train one task with one dropout placement, write a result JSON\n"
            "  show       print a task's architecture after a strategy's rewrite\n"
            "  strategies list the dropout placement strategies\n"
            "  sweep      run a grid of runs (see configs/sweeps/)\n"
            "  report     aggregate result files into comparison tables and plots\n"
            "  data       list the data sets, their sizes and whether they are verified\n"
            "  info       BLAS kernel set, threads and measured sgemm speed\n"
            "\n"
            "`dropbench COMMAND --help` describes a command's options.\n");
}

static void run_usage(FILE *f, const char *cmd)
{
    fprintf(f,
            "usage: dropbench %s (--task T | --config FILE) [options]\n"
            "  --strategy S     dropout placement (see `dropbench strategies`), e.g. conv+pool\n"
            "  --rate R         override every site's rate (0.3), or one per site in order\n"
            "                   from input to output (0.1,0.25,0.5)\n"
            "  --seed N         run seed: initialisation, data order, dropout masks\n"
            "  --epochs N  --lr X  --threads N\n"
            "  --limit-train N  train on the first N training examples only\n"
            "  --val N          carve a validation split of N examples from training\n"
            "  --data DIR       data root (default $DROPBENCH_DATA or ./data)\n"
            "  --results DIR    where the result JSON goes (default results/<task>)\n"
            "  --quiet          no progress output\n",
            cmd);
}

static int parse_long(long *out, const char *s, const char *opt, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "dropbench: %s: expected an integer in [%ld, %ld], got \"%s\"\n",
                opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

typedef struct run_cli {
    run_request rq;
    const char *results;
    int quiet;
} run_cli;

/* Options shared by run and show. Returns 0, or an exit status. */
static int parse_run_cli(run_cli *c, int argc, char **argv, const char *cmd)
{
    static const struct option opts[] = {
        { "task", required_argument, 0, 't' },   { "config", required_argument, 0, 'c' },
        { "strategy", required_argument, 0, 's' }, { "rate", required_argument, 0, 'r' },
        { "seed", required_argument, 0, 'S' },   { "epochs", required_argument, 0, 'e' },
        { "lr", required_argument, 0, 'l' },     { "threads", required_argument, 0, 'T' },
        { "limit-train", required_argument, 0, 'L' }, { "val", required_argument, 0, 'v' },
        { "data", required_argument, 0, 'd' },   { "results", required_argument, 0, 'o' },
        { "quiet", no_argument, 0, 'q' },        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    memset(c, 0, sizeof *c);
    run_request_init(&c->rq);
    optind = 1;
    int ch;
    long v;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 't': c->rq.task = optarg; break;
        case 'c': c->rq.config_path = optarg; break;
        case 's': c->rq.strategy = optarg; break;
        case 'r': c->rq.rate = optarg; break;
        case 'd': c->rq.data_root = optarg; break;
        case 'o': c->results = optarg; break;
        case 'q': c->quiet = 1; break;
        case 'S':
            if (parse_long(&v, optarg, "--seed", 0, 0x7fffffffffffffL))
                return EXIT_USAGE;
            c->rq.seed = v;
            break;
        case 'e':
            if (parse_long(&v, optarg, "--epochs", 1, 100000))
                return EXIT_USAGE;
            c->rq.epochs = (int)v;
            break;
        case 'T':
            if (parse_long(&v, optarg, "--threads", 1, 256))
                return EXIT_USAGE;
            c->rq.threads = (int)v;
            break;
        case 'L':
            if (parse_long(&v, optarg, "--limit-train", 1, 1000000000))
                return EXIT_USAGE;
            c->rq.limit_train = v;
            break;
        case 'v':
            if (parse_long(&v, optarg, "--val", 1, 1000000000))
                return EXIT_USAGE;
            c->rq.val = v;
            break;
        case 'l': {
            char *end;
            c->rq.lr = strtod(optarg, &end);
            if (*optarg == '\0' || *end != '\0' || !(c->rq.lr > 0)) {
                fprintf(stderr, "dropbench: --lr: expected a positive number, got \"%s\"\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        }
        case 'h':
            run_usage(stdout, cmd);
            return -1;
        default:
            run_usage(stderr, cmd);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dropbench %s: unexpected argument \"%s\"\n", cmd, argv[optind]);
        return EXIT_USAGE;
    }
    if (!c->rq.task == !c->rq.config_path) {
        fprintf(stderr, "dropbench %s: give exactly one of --task and --config\n", cmd);
        return EXIT_USAGE;
    }
    return 0;
}

static void on_signal(int sig)
{
    (void)sig;
    db_stop_requested = 1;
}

static int cmd_run(int argc, char **argv)
{
    run_cli c;
    int rc = parse_run_cli(&c, argc, argv, "run");
    if (rc)
        return rc < 0 ? 0 : rc;
    db_err e;
    cJSON *cfg = NULL;
    char id[17];
    if (run_resolve(&c.rq, &cfg, id, &e)) {
        fprintf(stderr, "dropbench run: %s\n", e.msg);
        return EXIT_FAILURE;
    }
    char dir[4096];
    if (c.results)
        snprintf(dir, sizeof dir, "%s", c.results);
    else
        snprintf(dir, sizeof dir, "results/%s",
                 cJSON_GetObjectItemCaseSensitive(cfg, "task")->valuestring);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    run_options o;
    memset(&o, 0, sizeof o);
    o.results_dir = dir;
    o.data_root = c.rq.data_root;
    o.quiet = c.quiet;
    rc = run_execute(cfg, id, &o, &e);
    cJSON_Delete(cfg);
    if (rc < 0) {
        fprintf(stderr, "dropbench run: %s\n", e.msg);
        return db_stop_requested ? EXIT_INTERRUPTED : EXIT_FAILURE;
    }
    printf("%s\n", o.result_path);
    if (rc == 1) {
        fprintf(stderr, "dropbench run: the run diverged; recorded in %s\n", o.result_path);
        return EXIT_DIVERGED;
    }
    return 0;
}

static int cmd_show(int argc, char **argv)
{
    run_cli c;
    int rc = parse_run_cli(&c, argc, argv, "show");
    if (rc)
        return rc < 0 ? 0 : rc;
    db_err e;
    cJSON *cfg = NULL;
    char id[17];
    run_config *r = calloc(1, sizeof *r);
    if (!r || run_resolve(&c.rq, &cfg, id, &e) || run_config_from_canonical(r, cfg, &e)) {
        fprintf(stderr, "dropbench show: %s\n", r ? e.msg : "out of memory");
        free(r);
        cJSON_Delete(cfg);
        return EXIT_FAILURE;
    }
    db_model_input in;
    db_model m;
    if (run_data_input(&in, r->data, &e) || db_model_build(&m, &r->arch, &in, 1, &e)) {
        fprintf(stderr, "dropbench show: %s\n", e.msg);
        free(r);
        cJSON_Delete(cfg);
        return EXIT_FAILURE;
    }
    printf("task %s, data %s, strategy %s%s%s, run id %s\n", r->task, r->data, r->strategy,
           r->rate[0] ? ", rate override " : "", r->rate, id);
    if (in.text)
        printf("input: %zu byte tokens per example (vocabulary %zu)\n", in.T, in.vocab);
    else
        printf("input: %zu x %zu x %zu\n", in.c, in.h, in.w);
    printf("%3s  %-10s %-40s %-16s %10s\n", "#", "layer", "settings", "output", "params");
    for (size_t i = 0; i < m.nl; i++) {
        const db_mlayer *L = &m.L[i];
        const db_layer *s = &L->spec;
        char set[64] = "", shape[48];
        switch (s->type) {
        case DB_LAYER_CONV:
            snprintf(set, sizeof set, "%zu filters %zux%zu stride %zu pad %zu", s->units,
                     s->kernel, s->kernel, s->stride, s->pad);
            break;
        case DB_LAYER_MAXPOOL:
            snprintf(set, sizeof set, "%zux%zu stride %zu pad %zu", s->kernel, s->kernel,
                     s->stride, s->pad);
            break;
        case DB_LAYER_DENSE:
            snprintf(set, sizeof set, "%zu units", s->units);
            break;
        case DB_LAYER_EMBEDDING:
            snprintf(set, sizeof set, "%zu x %zu", s->vocab, s->units);
            break;
        case DB_LAYER_GRU:
            snprintf(set, sizeof set, "hidden %zu, final state", s->units);
            break;
        case DB_LAYER_DROPOUT:
            snprintf(set, sizeof set, "rate %.3g %s, site %s (#%d)", s->rate,
                     db_dropout_mode_name(s->mode), db_site_name(s->site), L->site_index);
            break;
        default:
            break;
        }
        if (L->out_kind == DB_SHAPE_IMAGE)
            snprintf(shape, sizeof shape, "%zux%zux%zu", L->out_c, L->out_h, L->out_w);
        else if (L->out_kind == DB_SHAPE_SEQ)
            snprintf(shape, sizeof shape, "%zux%zu", L->out_h, L->out_w);
        else
            snprintf(shape, sizeof shape, "%zu", L->out_c);
        size_t np = L->w_n + L->b_n + L->w2_n + L->b2_n;
        printf("%3zu  %-10s %-40s %-16s %10zu\n", i, db_layer_type_name(s->type), set, shape,
               np);
    }
    printf("parameters: %zu; dropout sites: %zu\n", m.nparams, m.ndropout);
    printf("optimizer: SGD lr %g momentum %g weight decay %g max-norm %g clip %g; batch %zu, "
           "epochs %zu, seed %llu, threads %d\n", r->opt.lr, r->opt.momentum,
           r->opt.weight_decay, r->opt.max_norm, r->opt.clip_norm, r->batch, r->epochs,
           (unsigned long long)r->seed, r->threads);
    db_model_free(&m);
    free(r);
    cJSON_Delete(cfg);
    return 0;
}

static int cmd_strategies(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: dropbench strategies\n");
        return EXIT_USAGE;
    }
    size_t n;
    const db_strategy *s = db_strategies(&n);
    printf("%-11s %-40s %s\n", "strategy", "sites (mode, default rate)", "after");
    for (size_t i = 0; i < n; i++) {
        char sites[128] = "";
        size_t used = 0;
        for (size_t r = 0; r < s[i].nrules; r++) {
            const db_rule *u = &s[i].rules[r];
            used += (size_t)snprintf(sites + used, sizeof sites - used, "%s%s %s %.2g",
                                     r ? "; " : "", db_site_name(u->site),
                                     db_dropout_mode_name(u->mode), u->rate);
            if (u->nth && used < sizeof sites)
                used += (size_t)snprintf(sites + used, sizeof sites - used, " (%.2g from #%d)",
                                         u->nth_rate, u->nth);
            if (used >= sizeof sites)
                used = sizeof sites - 1;
        }
        printf("%-11s %-40s %s\n", s[i].name, s[i].nrules ? sites : "-", s[i].origin);
        printf("%-11s   %s\n", "", s[i].description);
    }
    printf("\nCombine with '+' (e.g. conv+pool); --rate overrides every site's rate.\n");
    return 0;
}

static int cmd_info(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: dropbench info\n");
        return EXIT_USAGE;
    }
    db_blas_info bi;
    db_blas_get_info(&bi);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("BLAS config:   %s\n", bi.config);
    printf("BLAS core:     %s%s\n", bi.core,
           db_blas_core_is_generic(bi.core) ? " (GENERIC: slow)" : "");
    printf("BLAS setup:    %s\n", bi.note);
    printf("BLAS threads:  %d (cores online: %ld)\n", bi.threads, cores);
    printf("conv kernels:  %s\n", conv2d_kernels());
    printf("sgemm check:   max relative error %.2g against a naive product\n",
           db_blas_sgemm_check());
    db_blas_set_threads(1);
    printf("sgemm 1024^3:  %.1f GFLOP/s with 1 thread\n", db_blas_gflops(1024, 5));
    if (bi.threads > 1) {
        db_blas_set_threads(bi.threads);
        printf("sgemm 1024^3:  %.1f GFLOP/s with %d threads\n", db_blas_gflops(1024, 5),
               bi.threads);
    }
    return 0;
}

/* The Makefile links this binary with -Wl,--wrap=cblas_sgemm (and the
 * conv_direct_* passes, below): every product the kernels ask for comes
 * through here, and `dropbench bench` counts the time spent inside them
 * (gemmtime.h).  Counting off: one relaxed load. */
static double seconds_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + 1e-9 * (double)(b->tv_nsec - a->tv_nsec);
}

void __real_cblas_sgemm(enum CBLAS_ORDER o, enum CBLAS_TRANSPOSE ta,  // NOLINT(bugprone-reserved-identifier)
                        enum CBLAS_TRANSPOSE tb, blasint M, blasint N, blasint K,
                        float alpha, const float *A, blasint lda, const float *B,
                        blasint ldb, float beta, float *C, blasint ldc);
void __wrap_cblas_sgemm(enum CBLAS_ORDER o, enum CBLAS_TRANSPOSE ta,  // NOLINT(bugprone-reserved-identifier)
                        enum CBLAS_TRANSPOSE tb, blasint M, blasint N, blasint K,
                        float alpha, const float *A, blasint lda, const float *B,
                        blasint ldb, float beta, float *C, blasint ldc);
void __wrap_cblas_sgemm(enum CBLAS_ORDER o, enum CBLAS_TRANSPOSE ta,  // NOLINT(bugprone-reserved-identifier)
                        enum CBLAS_TRANSPOSE tb, blasint M, blasint N, blasint K,
                        float alpha, const float *A, blasint lda, const float *B,
                        blasint ldb, float beta, float *C, blasint ldc)
{
    if (!db_gemmtime_on()) {
        __real_cblas_sgemm(o, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    __real_cblas_sgemm(o, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    db_gemmtime_add(DB_GEMM_SGEMM, seconds_between(&t0, &t1),
                    2.0 * (double)M * (double)N * (double)K);
}

/* The direct convolution passes (kernels/convdirect.h, internal to the
 * kernels, whose conv.c calls them), timed the same way.  Their flops are
 * the useful ones, 2*B*OC*OH*OW*C*K*K a pass, as for the sgemm they
 * replace; the zeros their tiles pad with are not counted.  Likewise a
 * first layer's weight gradient from its pool's (conv2d_pooled_weights,
 * called by the model), counted as the dense pass it replaces though it
 * does a quarter of its FMAs or fewer; and the Winograd passes of 5x5
 * layers (conv_wino_*), counted as the direct passes they replace though
 * their products are 36/100 of those (the filter transforms, once per
 * pass, are not timed). */
void __real_conv_direct_forward(float *out, const float *in, const float *w,  // NOLINT(bugprone-reserved-identifier)
                                const float *b, const conv2d_shape *s, float *work,
                                int relu);
void __real_conv_direct_weights(float *dw, const float *dout, const float *in,  // NOLINT(bugprone-reserved-identifier)
                                const conv2d_shape *s, float *work, int set);
void __real_conv_direct_input(float *din, const float *dout, const float *w,  // NOLINT(bugprone-reserved-identifier)
                              const conv2d_shape *s, float *work, int set);
void __wrap_conv_direct_forward(float *out, const float *in, const float *w,  // NOLINT(bugprone-reserved-identifier)
                                const float *b, const conv2d_shape *s, float *work,
                                int relu);
void __wrap_conv_direct_weights(float *dw, const float *dout, const float *in,  // NOLINT(bugprone-reserved-identifier)
                                const conv2d_shape *s, float *work, int set);
void __wrap_conv_direct_input(float *din, const float *dout, const float *w,  // NOLINT(bugprone-reserved-identifier)
                              const conv2d_shape *s, float *work, int set);
void __real_conv2d_pooled_weights(float *dw, float *db, const float *g,  // NOLINT(bugprone-reserved-identifier)
                                  const uint32_t *argmax, const float *pout,
                                  size_t pohw, const float *in, const conv2d_shape *s,
                                  float *work, int set);
void __wrap_conv2d_pooled_weights(float *dw, float *db, const float *g,  // NOLINT(bugprone-reserved-identifier)
                                  const uint32_t *argmax, const float *pout,
                                  size_t pohw, const float *in, const conv2d_shape *s,
                                  float *work, int set);

void __real_conv_wino_forward(float *out, const float *in, const float *u,  // NOLINT(bugprone-reserved-identifier)
                              const float *b, const conv2d_shape *s, float *work,
                              int relu);
void __real_conv_wino_input(float *din, const float *dout, const float *u,  // NOLINT(bugprone-reserved-identifier)
                            const conv2d_shape *s, float *work, int set);
void __wrap_conv_wino_forward(float *out, const float *in, const float *u,  // NOLINT(bugprone-reserved-identifier)
                              const float *b, const conv2d_shape *s, float *work,
                              int relu);
void __wrap_conv_wino_input(float *din, const float *dout, const float *u,  // NOLINT(bugprone-reserved-identifier)
                            const conv2d_shape *s, float *work, int set);

static double conv_flops(const conv2d_shape *s)
{
    return 2.0 * (double)s->B * (double)s->OC * (double)(s->OH * s->OW) *
           (double)(s->C * s->K * s->K);
}

#define TIMED_DIRECT(call, flops)                                           \
    do {                                                                    \
        if (!db_gemmtime_on()) {                                            \
            call;                                                           \
            return;                                                         \
        }                                                                   \
        struct timespec t0, t1;                                             \
        clock_gettime(CLOCK_MONOTONIC, &t0);                                \
        call;                                                               \
        clock_gettime(CLOCK_MONOTONIC, &t1);                                \
        db_gemmtime_add(DB_GEMM_DIRECT, seconds_between(&t0, &t1), (flops)); \
    } while (0)

void __wrap_conv_direct_forward(float *out, const float *in, const float *w,  // NOLINT(bugprone-reserved-identifier)
                                const float *b, const conv2d_shape *s, float *work,
                                int relu)
{
    TIMED_DIRECT(__real_conv_direct_forward(out, in, w, b, s, work, relu), conv_flops(s));
}

void __wrap_conv_direct_weights(float *dw, const float *dout, const float *in,  // NOLINT(bugprone-reserved-identifier)
                                const conv2d_shape *s, float *work, int set)
{
    TIMED_DIRECT(__real_conv_direct_weights(dw, dout, in, s, work, set), conv_flops(s));
}

void __wrap_conv_direct_input(float *din, const float *dout, const float *w,  // NOLINT(bugprone-reserved-identifier)
                              const conv2d_shape *s, float *work, int set)
{
    TIMED_DIRECT(__real_conv_direct_input(din, dout, w, s, work, set), conv_flops(s));
}

void __wrap_conv_wino_forward(float *out, const float *in, const float *u,  // NOLINT(bugprone-reserved-identifier)
                              const float *b, const conv2d_shape *s, float *work,
                              int relu)
{
    TIMED_DIRECT(__real_conv_wino_forward(out, in, u, b, s, work, relu), conv_flops(s));
}

void __wrap_conv_wino_input(float *din, const float *dout, const float *u,  // NOLINT(bugprone-reserved-identifier)
                            const conv2d_shape *s, float *work, int set)
{
    TIMED_DIRECT(__real_conv_wino_input(din, dout, u, s, work, set), conv_flops(s));
}

void __wrap_conv2d_pooled_weights(float *dw, float *db, const float *g,  // NOLINT(bugprone-reserved-identifier)
                                  const uint32_t *argmax, const float *pout,
                                  size_t pohw, const float *in, const conv2d_shape *s,
                                  float *work, int set)
{
    TIMED_DIRECT(__real_conv2d_pooled_weights(dw, db, g, argmax, pout, pohw, in, s, work,
                                              set),
                 conv_flops(s));
}

int main(int argc, char **argv)
{
    db_err e;
    if (db_blas_setup(argv, &e)) {
        fprintf(stderr, "dropbench: %s\n", e.msg);
        return EXIT_FAILURE;
    }
    /* DROPBENCH_CONV=direct keeps the 5x5 layers off Winograd, =im2col
     * runs every convolution on im2col + sgemm (A/B comparisons, machines
     * where the direct kernels are in doubt). */
    const char *conv = getenv("DROPBENCH_CONV");
    if (conv && *conv && strcmp(conv, "winograd") != 0) {
        if (strcmp(conv, "direct") == 0) {
            conv2d_set_winograd(0);
        } else if (strcmp(conv, "im2col") == 0) {
            conv2d_set_direct(0);
        } else {
            fprintf(stderr, "dropbench: DROPBENCH_CONV=\"%s\": expected \"winograd\", "
                            "\"direct\" or \"im2col\"\n", conv);
            return EXIT_USAGE;
        }
    }
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    argc--;
    argv++;
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc, argv);
    if (strcmp(cmd, "show") == 0)
        return cmd_show(argc, argv);
    if (strcmp(cmd, "strategies") == 0)
        return cmd_strategies(argc, argv);
    if (strcmp(cmd, "info") == 0)
        return cmd_info(argc, argv);
    if (strcmp(cmd, "data") == 0)
        return cmd_data(argc, argv);
    if (strcmp(cmd, "sweep") == 0)
        return cmd_sweep(argc, argv);
    if (strcmp(cmd, "report") == 0)
        return cmd_report(argc, argv);
    if (strcmp(cmd, "bench") == 0)
        return cmd_bench(argc, argv);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "dropbench: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
