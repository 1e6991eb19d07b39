/* cmd_info.c - `dropbench info`: the BLAS kernel set and its speed. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "kernels.h"
#include "util/blas.h"

static void info_usage(FILE *f)
{
    fputs("usage: dropbench info\n  The BLAS library, its kernel set and how it was "
          "chosen, the threads,\n  the convolution kernels, an sgemm check against a "
          "naive product and\n  the sgemm speed with 1 and 2 threads.\n", f);
}

int cmd_info(int argc, char **argv)
{
    int rc = cli_no_args(argc, argv, "info", info_usage);
    if (rc >= 0)
        return rc;
    db_blas_info bi;
    db_blas_get_info(&bi);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("BLAS config:   %s\n", bi.config);
    printf("BLAS core:     %s%s\n", bi.core,
           db_blas_core_is_generic(bi.core) ? " (GENERIC: slow)" : "");
    printf("BLAS setup:    %s\n", bi.note);
    const db_blas_decision *d = db_blas_get_decision();
    if (d) {
        printf("BLAS candidates (sgemm %d^3, 1 thread, each in a child process, %s, %.2f s, "
               "load average %.1f):\n",
               DB_BLAS_PROBE_N, d->measured_utc, d->seconds, d->load_average);
        for (int i = 0; i < d->n; i++) {
            const db_blas_cand *c = &d->c[i];
            int own = strcasecmp(c->core, d->own) == 0, ch = strcasecmp(c->core, d->choice) == 0;
            if (c->ok)
                printf("  %-15s %7.1f GFLOP/s  check %.2g%s%s\n", c->core, c->gflops, c->err,
                       own ? "  (OpenBLAS's own choice)" : "", ch ? "  <- chosen" : "");
            else
                printf("  %-15s %s%s\n", c->core, c->why, own ? "  (OpenBLAS's own choice)" : "");
        }
    } else {
        printf("BLAS candidates: not measured (DROPBENCH_BLAS_KEEP or OPENBLAS_CORETYPE set, "
               "or no cache folder)\n");
    }
    printf("BLAS threads:  %d (cores online: %ld)\n", bi.threads, cores);
    printf("conv kernels:  %s\n", conv2d_kernels());
    printf("SIMD path:     %s (widest this CPU runs: %s; DROPBENCH_SIMD forces one)\n",
           db_simd_name(db_simd_get()), db_simd_name(db_simd_best()));
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
