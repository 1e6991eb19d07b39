/* main.c - the dropbench command line: BLAS set-up, then the command
 * (cli/cmd_*.c).  cli/ is the only place that turns errors into exit
 * statuses.  Also the --wrap timing wrappers, which only this binary has. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "convdirect.h" /* the conv_direct_* passes wrapped below */
#include "kernels.h"
#include "util/blas.h"
#include "train/runcfg.h" /* DB_CODE_VERSION */
#include "util/gemmtime.h"
#include "util/version.h"

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
            "  bench      training and evaluation throughput of one task (make bench)\n"
            "\n"
            "`dropbench COMMAND --help` describes a command's options;\n"
            "`dropbench --version` names the code that built this binary.\n"
            "Exit status: 0 success, 1 input error or failure (a bad file or name, a\n"
            "failed run), 2 usage error (the command line), 3 a diverged run, 130\n"
            "interrupted.  Messages: `dropbench COMMAND: WHERE: PROBLEM` (docs/CLI.md).\n"
            "$DROPBENCH_CONFIGS: folders (':'-separated) searched for --task before\n"
            "the presets.\n");
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
    if (*db_blas_warning())
        fprintf(stderr, "dropbench: warning: %s\n", db_blas_warning());
    /* DROPBENCH_SIMD=scalar|avx2|avx512 forces the kernels' instruction
     * set (default: the widest the CPU runs; kernels.h db_simd). */
    const char *simd = getenv("DROPBENCH_SIMD");
    if (simd && *simd) {
        db_simd p;
        if (db_simd_parse(simd, &p)) {
            fprintf(stderr, "dropbench: DROPBENCH_SIMD=\"%s\": expected \"scalar\", "
                            "\"avx2\" or \"avx512\"\n", simd);
            return EXIT_USAGE;
        }
        if (db_simd_set(p)) {
            fprintf(stderr, "dropbench: DROPBENCH_SIMD=%s: this CPU cannot run it (the "
                            "widest path here is %s)\n", simd, db_simd_name(db_simd_best()));
            return EXIT_FAILURE;
        }
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
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        { "run", cmd_run },       { "show", cmd_show },     { "strategies", cmd_strategies },
        { "sweep", cmd_sweep },   { "report", cmd_report }, { "data", cmd_data },
        { "info", cmd_info },     { "bench", cmd_bench },
    };
    const char *names[sizeof cmds / sizeof cmds[0]];
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(cmd, cmds[i].name) == 0)
            return cmds[i].fn(argc, argv);
        names[i] = cmds[i].name;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("dropbench code version %s, commit %s%s, compiler %s\n", DB_CODE_VERSION,
               db_git_commit, db_git_dirty ? " (uncommitted changes)" : "", db_compiler);
        return 0;
    }
    db_fail_unknown(&e, NULL, "command", cmd, names, sizeof names / sizeof names[0]);
    fprintf(stderr, "dropbench: %s\n", e.msg);
    return EXIT_USAGE;
}
