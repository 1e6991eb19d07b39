/* slurm.h - a sweep on a Slurm cluster: one job array, one array index per
 * run (or per chunk of runs), the shared results directory as the only
 * state.
 *
 *   dropbench sweep SWEEP.json --slurm [--partition P] [--time T]
 *       [--max-parallel K] [--cpus-per-task C] [--runs-per-task R]
 *       [--sbatch-arg ARG]... [--array LIST] [--no-submit]
 *       [--filter EXPR]... [--threads N] [--results DIR] [--data DIR]
 *   dropbench sweep SWEEP.json --index I [same --runs-per-task/--filter/
 *       --threads/--results/--data] [--plan-hash H] [--jobs N]
 *   dropbench sweep SWEEP.json --status [--missing-indices]
 *       [--runs-per-task R] [--filter EXPR]... [--results DIR]
 *
 * --slurm writes <results>/slurm/<name>.sbatch and submits it with
 * `sbatch --parsable` ($DROPBENCH_SBATCH overrides the command).  Array
 * index I runs the runs I*R .. I*R+R-1 of the expanded (and filtered) sweep
 * by executing `dropbench sweep SWEEP.json --index I`: the same per-run
 * locks and skip-if-complete as a local sweep, so a resubmission runs only
 * what is missing, and two tasks never run one run twice.  Every path in
 * the script is absolute; Slurm's output goes to <results>/slurm/%A_%a.out.
 * The script records R and a hash of the run list (--plan-hash); a task
 * whose sweep no longer expands to the same runs (sweep file, presets or
 * binary changed since submission) refuses to run.  Without --array the
 * array holds the indices that have a missing or failed run; nothing is
 * submitted when there is none.
 *
 * --status reads the results directory only: a run is done (complete
 * result), diverged, running (its lock is held), failed (a "failed" result,
 * or the sweep log's last word on it is "failed") or missing.
 * --missing-indices prints the array indices holding a missing or failed
 * run as a list for `sbatch --array` ("1-3,7"; empty when none).  R
 * defaults to the value in the last submitted script.
 *
 * The commands are cli/cmd_slurm.c's; array index I runs its runs with
 * sweep/exec.h.  This part uses the plan (sweep/plan.h) and the run locks
 * (sweep/lock.h) and nothing else of sweeps: the plan knows nothing of
 * Slurm.  Library functions return 0 / -1 with db_err and print nothing. */
#ifndef DB_SLURM_H
#define DB_SLURM_H

#include <stddef.h>
#include <stdio.h>

#include "dberr.h"
#include "sweep/plan.h"

/* What the job script holds.  Paths must be absolute (checked). */
typedef struct slurm_script {
    const char *sweep_name;
    const char *dropbench;    /* the binary */
    const char *sweep_file;
    const char *chdir;        /* working directory of every task */
    const char *results_dir;
    const char *data_root;    /* NULL: the tasks' default */
    const char *config_dir;   /* exported as DROPBENCH_CONFIGS, or NULL */
    const char *partition;    /* NULL: the cluster's default */
    const char *time_limit;   /* sbatch --time, or NULL */
    const char *array;        /* index list, e.g. "0-7" or "1-3,7" */
    int max_parallel;         /* "%K" throttle; 0: none */
    int cpus_per_task;        /* >= 1 */
    size_t runs_per_task;     /* >= 1 */
    size_t nruns;
    const char *plan_hash;    /* slurm_plan_hash */
    const char *const *sbatch_args; /* extra "#SBATCH" lines, verbatim */
    size_t nsbatch_args;
    const char *const *index_args;  /* passed on to --index (--filter X,
                                       --threads N, --jobs N) */
    size_t nindex_args;
} slurm_script;

/* The script text (caller frees).  Fails on a relative path or a value
 * that would break the script (newline, whitespace in a path-less value). */
int slurm_script_text(char **out, const slurm_script *s, db_err *e);

/* 16 hex digits identifying the plan's run list, in order. */
void slurm_plan_hash(char out[17], const sweep_plan *plan);

/* Array tasks for n runs, r per task. */
size_t slurm_ntasks(size_t nruns, size_t runs_per_task);

/* The runs of array index i: [*first, *first + *count). */
int slurm_task_runs(size_t index, size_t runs_per_task, size_t nruns,
                    size_t *first, size_t *count, db_err *e);

/* "0-3,5,7-8" for the indices i < n with sel[i] set (caller frees; "" when
 * none); NULL when out of memory. */
char *slurm_index_list(const unsigned char *sel, size_t n);

/* "ARRAYJOB_TASK" or "JOBID" from the Slurm environment, else "-". */
void slurm_job_label(char *buf, size_t n);

enum slurm_state {
    SLURM_MISSING = 0,
    SLURM_DONE,
    SLURM_DIVERGED,
    SLURM_RUNNING,
    SLURM_FAILED,
    SLURM_NSTATES
};

typedef struct slurm_run_state {
    int state;           /* enum slurm_state */
    size_t index;        /* array index holding the run */
    char note[512];      /* why, from the result or the sweep log, or "" */
} slurm_run_state;

typedef struct slurm_status {
    size_t n, runs_per_task, ntasks;
    slurm_run_state *runs;     /* per run of the plan; owned */
    size_t count[SLURM_NSTATES];
} slurm_status;

/* Reads plan->results_dir (results, *.lock, sweep.log); creates nothing. */
int slurm_status_compute(slurm_status *st, const sweep_plan *plan,
                         size_t runs_per_task, db_err *e);
void slurm_status_free(slurm_status *st);
/* Indices holding a missing or failed run (see slurm_index_list). */
char *slurm_status_missing(const slurm_status *st);
const char *slurm_state_name(int state);

#endif
