/* train.h - executing one resolved run (run.h): data, model, the training
 * loop, the result file.
 *
 * One training step, top to bottom: gather a batch (data/data.h),
 * db_model_forward, db_model_backward, db_model_update (model.h), which call
 * the kernels.  Everything the loop touches is allocated before the first
 * step. */
#ifndef DB_TRAIN_H
#define DB_TRAIN_H

#include <signal.h>
#include <stdio.h>

#include <cJSON.h>

#include "dberr.h"

typedef struct run_options {
    const char *results_dir; /* where the JSON goes (created if missing) */
    const char *data_root;   /* NULL: $DROPBENCH_DATA or "data" */
    int quiet;               /* no progress output */
    int no_checkpoint;       /* 1: no mid-run checkpoint (ckpt.h) */
    FILE *notes;             /* where a resumed or ignored checkpoint is
                                reported (NULL: nowhere) */
    size_t resumed_epoch;    /* out: epochs taken from a checkpoint (0: none) */
    char result_path[4096];  /* out: the file written */
} run_options;

/* Loads the data, builds the model, trains, evaluates, writes the result file
 * atomically.  Returns 0 when the run completed, 1 when it diverged (a result
 * with status "diverged" is written), -1 on error (a "failed" result is
 * written when the failure happened after the config was resolved and the
 * results directory is writable; never a partial file). */
int run_execute(const cJSON *config, const char *id, run_options *opt,
                db_err *e);

/* Set (from a signal handler) to ask a running training loop to stop after
 * the current batch; the run is then recorded as "interrupted". */
extern volatile sig_atomic_t db_stop_requested;

#endif
