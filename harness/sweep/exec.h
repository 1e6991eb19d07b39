/* exec.h - running a sweep's plan (plan.h) with worker processes,
 * resumably, on this machine.
 *
 * A run is skipped when its result file (named by run_result_name
 * from the run id, which hashes the complete config and DB_CODE_VERSION) is
 * complete, or holds a "diverged" result (deterministic: rerunning would
 * diverge again).  Otherwise the sweep takes <results>/<name>.lock with
 * flock(LOCK_EX|LOCK_NB) - the lock dies with its holder, so kill -9 leaves
 * no stale lock - checks again, and forks a worker that calls run_execute()
 * and _exits 0 (complete), 1 (diverged) or 2 (failed; the message comes back
 * through a pipe).  Workers die with the sweep (PR_SET_PDEATHSIG).  A run
 * locked by another sweep is retried when the lock frees, and then skipped
 * if that sweep completed it.  A failed run does not stop the sweep.
 * `dropbench sweep` logs every run's start and end to <results>/sweep.log.
 *
 * Library code: output goes only to the FILE* given in sweep_options. */
#ifndef DB_SWEEP_EXEC_H
#define DB_SWEEP_EXEC_H

#include <stddef.h>
#include <stdio.h>

#include "dberr.h"
#include "sweep/plan.h"

/* One line per run (task, strategy, rates, seed, epochs, estimated cost,
 * state: todo/done/diverged/running/failed), then totals. */
void sweep_dry_run(FILE *f, const sweep_plan *plan, const sweep_options *o);

/* Default worker count: online cores / threads per run, at least 1. */
int sweep_default_jobs(int threads_per_run);

enum sweep_outcome {
    SWEEP_PENDING = 0,
    SWEEP_DONE,          /* ran and completed */
    SWEEP_SKIPPED,       /* already complete (by us earlier or another sweep) */
    SWEEP_SKIPPED_DIVERGED, /* a diverged result exists */
    SWEEP_DIVERGED,      /* ran and diverged */
    SWEEP_FAILED,
    SWEEP_INTERRUPTED,   /* stopped by a signal to the sweep */
};

typedef struct sweep_summary {
    size_t total, done, skipped, skipped_diverged, diverged, failed,
        interrupted, pending;
    int *outcome;        /* per run, enum sweep_outcome; owned */
    char **reason;       /* per run: why it failed, or NULL; owned */
    double seconds;      /* wall time */
    int signal;          /* the signal that stopped the sweep, or 0 */
} sweep_summary;

/* Runs the plan.  Returns 0 when it got to the end (individual runs may have
 * failed: see s), -1 when it could not work at all (results directory). */
int sweep_execute(const sweep_plan *plan, const sweep_options *o,
                  sweep_summary *s, db_err *e);
void sweep_summary_free(sweep_summary *s);

/* Summary for the user: counts, failed runs with reasons. */
void sweep_summary_print(FILE *f, const sweep_plan *plan,
                         const sweep_summary *s);

#endif
