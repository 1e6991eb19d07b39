/* bench.h - `dropbench bench`: training and evaluation throughput of one
 * task on the real data, for scripts/bench (make bench).
 *
 *   dropbench bench --task T [--strategy S] [--threads N] [--seconds S]
 *                   [--eval-seconds S] [--warmup B] [--data DIR]
 *   dropbench bench --sgemm      sgemm 1024^3 GFLOP/s with 1 and 2 threads
 *
 * Prints one JSON object on stdout: examples/s of training (forward +
 * backward + update, dropout on, batch from the config, a fixed time window
 * after warm-up batches) and of evaluation (dropout off), the analytic
 * floating-point operation count per example (the matrix products of dense,
 * conv and GRU layers; what a framework that skips unneeded input gradients
 * must do), the achieved GFLOP/s, and the process's peak RSS.  Writes no
 * result file. */
#ifndef DB_BENCH_H
#define DB_BENCH_H

/* Returns the exit status. */
int cmd_bench(int argc, char **argv);

#endif
