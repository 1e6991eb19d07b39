/* gemmtime.h - wall time spent inside cblas_sgemm, per calling thread, for
 * `dropbench bench`: how much of a training step OpenBLAS already takes,
 * the rate it reaches on the model's own shapes, and the throughput the
 * step would reach if nothing but the products took time.
 *
 * Only the dropbench binary counts: it is linked with
 * -Wl,--wrap=cblas_sgemm, and its wrapper (harness/main.c) calls
 * db_gemmtime_add around every product while counting is on.  Elsewhere
 * (the tests) nothing is counted and db_gemmtime_read reports 0 calls. */
#ifndef DB_GEMMTIME_H
#define DB_GEMMTIME_H

#include <stddef.h>

typedef struct db_gemmtime {
    double max_thread_seconds; /* the busiest calling thread's time inside */
    double total_seconds;      /* summed over calling threads */
    double flops;              /* 2*M*N*K summed over the calls */
    unsigned long calls;
} db_gemmtime;

/* Zeroes the counters and starts counting; call from the thread that owns
 * the training team, while the team is idle. */
void db_gemmtime_start(void);
void db_gemmtime_stop(void);
int db_gemmtime_on(void);
/* One product of `flops` flops took `seconds` on the calling thread. */
void db_gemmtime_add(double seconds, double flops);
/* After db_gemmtime_stop, with the team idle. */
void db_gemmtime_read(db_gemmtime *g);

#endif
