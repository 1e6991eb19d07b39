/* gemmtime.h - wall time spent inside the products, per calling thread,
 * for `dropbench bench`: cblas_sgemm, and the direct convolution kernels
 * (kernels/convdirect.h) that replace it for most conv layers.  It tells
 * how much of a training step the products already take, the rate they
 * reach on the model's own shapes, and the throughput the step would reach
 * if nothing but the products took time.
 *
 * Only the dropbench binary counts: it is linked with -Wl,--wrap for
 * cblas_sgemm and the three conv_direct_* passes, and its wrappers
 * (harness/cli/main.c) call db_gemmtime_add around every call while counting
 * is on.  Elsewhere (the tests) nothing is counted and db_gemmtime_read
 * reports 0 calls. */
#ifndef DB_GEMMTIME_H
#define DB_GEMMTIME_H

#include <stddef.h>

enum db_gemm_kind {
    DB_GEMM_SGEMM,  /* cblas_sgemm */
    DB_GEMM_DIRECT, /* conv_direct_forward, _weights, _input */
    DB_GEMM_KINDS,
    DB_GEMM_ALL = DB_GEMM_KINDS /* for db_gemmtime_read: both, summed per thread */
};

typedef struct db_gemmtime {
    double max_thread_seconds; /* the busiest calling thread's time inside */
    double total_seconds;      /* summed over calling threads */
    double flops;              /* useful flops (2*M*N*K for sgemm) over the calls */
    unsigned long calls;
} db_gemmtime;

/* Zeroes the counters and starts counting; call from the thread that owns
 * the training team, while the team is idle. */
void db_gemmtime_start(void);
void db_gemmtime_stop(void);
int db_gemmtime_on(void);
/* One call of `kind` doing `flops` flops took `seconds` on the calling
 * thread. */
void db_gemmtime_add(int kind, double seconds, double flops);
/* After db_gemmtime_stop, with the team idle: the calls of one kind, or of
 * both (DB_GEMM_ALL; a thread's time is then its sum over both). */
void db_gemmtime_read(db_gemmtime *g, int kind);

#endif
