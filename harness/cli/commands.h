/* commands.h - the dropbench commands, one file each under cli/ (cmd_*.c),
 * called by main with the command's own argv (argv[0] is the command name).
 * Each returns the process's exit status, by one convention (docs/CLI.md):
 * 0 success, 1 an input error or a failure, EXIT_USAGE (2) a usage error
 * (the command line itself); the others are documented per command.  Every
 * error is one line `dropbench <command>: <where>: <problem>` on stderr.
 * Only cli/ prints to stdout/stderr and turns errors into exit statuses. */
#ifndef DB_COMMANDS_H
#define DB_COMMANDS_H

#include <getopt.h>
#include <stdio.h>

enum { EXIT_USAGE = 2, EXIT_DIVERGED = 3, EXIT_INTERRUPTED = 130 };

/* `dropbench run`: 0 complete, 1 failed, EXIT_DIVERGED, EXIT_INTERRUPTED. */
int cmd_run(int argc, char **argv);
/* `dropbench show`: the model of a task after a strategy's rewrite. */
int cmd_show(int argc, char **argv);
/* `dropbench strategies`: the registry. */
int cmd_strategies(int argc, char **argv);
/* `dropbench info`: BLAS kernel set, threads, sgemm speed. */
int cmd_info(int argc, char **argv);
/* `dropbench data [--data DIR] [SET...]`: lists each set (all by default)
 * with its location, size, counts per split and class, and whether every
 * file is verified.  0 when every listed set that is present loads and is
 * verified, 1 when one is malformed or unverified or a set named on the
 * command line is unknown or absent, 2 on usage errors. */
int cmd_data(int argc, char **argv);

/* `dropbench bench`: training and evaluation throughput of one task on the
 * real data, for scripts/bench (make bench).
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
int cmd_bench(int argc, char **argv);

/* `dropbench sweep ...` (sweep/plan.h, sweep/exec.h); with --slurm,
 * --index or --status it is slurm_cmd_sweep's.  Returns 0 every run
 * complete (or skipped), 1 a sweep file error or some run failed or was
 * interrupted, 2 usage error, 128+N stopped by signal N. */
int cmd_sweep(int argc, char **argv);

/* `dropbench sweep` with --slurm, --index or --status (sweep/slurm.h): the
 * exit status; -1 when argv asks for none of them (cmd_sweep carries on). */
int slurm_cmd_sweep(int argc, char **argv);
/* Runs plan's runs (sweep_execute) and prints the summary on stdout;
 * returns cmd_sweep's exit status for them (0, 1, or 128+N). */
struct sweep_plan;
struct sweep_options;
int cli_sweep_execute(const struct sweep_plan *plan, const struct sweep_options *o);
/* The option help of the Slurm modes, for `dropbench sweep --help`. */
void slurm_usage(FILE *f);
/* Every option of `dropbench sweep` (getopt_long(3) table, NULL-terminated),
 * the Slurm modes' included: what an unknown option is compared with. */
extern const struct option sweep_all_options[];

/* `dropbench report ...` (report/): 0 ok, 1 a folder that cannot be read,
 * nothing usable, or plotting failed, 2 usage error. */
int cmd_report(int argc, char **argv);

#endif
