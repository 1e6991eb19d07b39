#include "util/blas.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"

/* Not declared in every cblas.h. */
char *openblas_get_corename(void);
char *openblas_get_config(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);

static char setup_note[256] = "OpenBLAS chose its kernel set itself";

int db_blas_core_is_generic(const char *core)
{
    static const char *const generic[] = {
        "Prescott", "Core2", "Katmai", "Coppermine", "Northwood", "Banias",
        "Atom", "Penryn", "Dunnington", "Opteron", "Opteron_SSE3", "Athlon",
        "Nano", "Unknown", "generic", NULL,
    };
    for (int i = 0; generic[i]; i++)
        if (strcasecmp(core, generic[i]) == 0)
            return 1;
    return 0;
}

/* Best kernel sets for this CPU, fastest first. */
static const char *const *candidates(void)
{
    static const char *list[4];
    int n = 0;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        list[n++] = "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        list[n++] = "Haswell";
    if (__builtin_cpu_supports("avx"))
        list[n++] = "Sandybridge";
    list[n] = NULL;
    return list;
}

double db_blas_sgemm_check(void)
{
    enum { M = 37, N = 29, K = 53 };
    float a[M * K], b[K * N], c[M * N];
    unsigned x = 12345;
    for (int i = 0; i < M * K; i++) {
        x = x * 1103515245u + 12345u;
        a[i] = (float)((x >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
    for (int i = 0; i < K * N; i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (float)((x >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N,
                0.0f, c, N);
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double ref = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                ref += (double)a[i * K + k] * b[k * N + j];
                mag += fabs((double)a[i * K + k] * b[k * N + j]);
            }
            double err = fabs(c[i * N + j] - ref) / (mag + 1e-30);
            if (!(err <= worst))
                worst = isnan(err) ? INFINITY : err;
        }
    return worst;
}

static void reexec(char **argv, const char *core, const char *tried)
{
    setenv("OPENBLAS_CORETYPE", core, 1);
    setenv("DROPBENCH_BLAS_TRIED", tried, 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with what we have; info shows the note */
}

int db_blas_setup(char **argv, db_err *e)
{
    const char *core = openblas_get_corename();
    const char *tried = getenv("DROPBENCH_BLAS_TRIED");
    const char *keep = getenv("DROPBENCH_BLAS_KEEP");
    double err = db_blas_sgemm_check();
    int correct = err < 1e-5;

    if (tried && *tried)
        snprintf(setup_note, sizeof setup_note,
                 "re-executed with OPENBLAS_CORETYPE=%s (tried: %s)", core, tried);
    if (keep && *keep) {
        snprintf(setup_note, sizeof setup_note,
                 "DROPBENCH_BLAS_KEEP set: kernel set left as OpenBLAS chose%s",
                 db_blas_core_is_generic(core) ? " (generic: slow)" : "");
    } else if (!correct || db_blas_core_is_generic(core)) {
        /* Try the next candidate that has not been tried yet. */
        const char *const *c = candidates();
        char list[256];
        snprintf(list, sizeof list, "%s", tried ? tried : "");
        for (; *c; c++) {
            if (strstr(list, *c))
                continue;
            if (strcasecmp(*c, core) == 0 && !correct)
                continue;
            char next[256];
            snprintf(next, sizeof next, "%s%s%s", list, *list ? "," : "", *c);
            reexec(argv, *c, next);
        }
    }
    if (!correct)
        return db_fail(e, "OpenBLAS kernel set %s computes wrong sgemm results "
                       "(relative error %.3g against a naive product), and no other "
                       "kernel set this CPU supports was correct", core, err);
    if (!tried && !(keep && *keep) && db_blas_core_is_generic(core))
        snprintf(setup_note, sizeof setup_note,
                 "WARNING: OpenBLAS runs its generic %s kernels; no faster set is "
                 "available for this CPU", core);
    return 0;
}

void db_blas_get_info(db_blas_info *info)
{
    snprintf(info->config, sizeof info->config, "%s", openblas_get_config());
    snprintf(info->core, sizeof info->core, "%s", openblas_get_corename());
    snprintf(info->note, sizeof info->note, "%s", setup_note);
    info->threads = openblas_get_num_threads();
}

void db_blas_set_threads(int n)
{
    if (n > 0)
        openblas_set_num_threads(n);
}

double db_blas_gflops(int n, int reps)
{
    size_t nn = (size_t)n * (size_t)n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b),
          *c = malloc(nn * sizeof *c);
    double best = 0;
    if (a && b && c) {
        for (size_t i = 0; i < nn; i++) {
            a[i] = (float)(i % 7) / 7.0f;
            b[i] = (float)(i % 5) / 5.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b,
                    n, 0.0f, c, n); /* warm-up: thread start, page faults */
        for (int r = 0; r < reps; r++) {
            double t0 = db_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n,
                        b, n, 0.0f, c, n);
            double g = 2.0 * n * (double)n * n / (db_now() - t0) / 1e9;
            if (g > best)
                best = g;
        }
    }
    free(a);
    free(b);
    free(c);
    return best;
}
