/* blas.h - making sure OpenBLAS runs a correct, fast kernel set.
 *
 * Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not recognise some newer CPUs
 * and silently falls back to its generic Prescott kernels, about 8x slower.
 * db_blas_setup() detects that at start-up (openblas_get_corename()), picks
 * the best kernel set the CPU's flags allow, re-executes the program once
 * with OPENBLAS_CORETYPE set (OpenBLAS reads it only when it loads), and
 * checks a small sgemm against a naive product before anything trusts it. */
#ifndef DB_BLAS_H
#define DB_BLAS_H

#include "dberr.h"

typedef struct db_blas_info {
    char config[256];   /* openblas_get_config() */
    char core[64];      /* openblas_get_corename() after any re-exec */
    char note[256];     /* what setup did, e.g. "Prescott -> Haswell" */
    int threads;        /* openblas_get_num_threads() */
} db_blas_info;

/* Call first thing in main.  May not return (re-exec).  Returns -1 when
 * sgemm gives wrong results with every kernel set the CPU allows. */
int db_blas_setup(char **argv, db_err *e);
void db_blas_get_info(db_blas_info *info);
void db_blas_set_threads(int n);
/* 1 when core is one of OpenBLAS's generic, pre-AVX kernel sets. */
int db_blas_core_is_generic(const char *core);
/* Max relative error of cblas_sgemm against a double-precision naive product
 * on odd-sized operands. */
double db_blas_sgemm_check(void);
/* Measured GFLOP/s of an n x n x n sgemm with the current thread count
 * (best of reps). */
double db_blas_gflops(int n, int reps);

#endif
