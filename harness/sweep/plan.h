/* plan.h - a sweep file expanded into the list of runs it names (the plan);
 * running them is exec.h's.
 *
 * Sweep file (JSON object; an unknown key anywhere is an error naming it):
 *
 *   {
 *     "name": "demo",                  required, a string
 *     "description": "...",            optional, ignored
 *     "results": "results/demo",       optional; default "results/<name>"
 *                                      (relative to the working directory)
 *     "grid": [ BLOCK, ... ],          optional; without it the top level
 *                                      itself is the only block
 *     "strategy_files": ["s.json"],    optional; strategy files
 *                                      (docs/STRATEGIES.md), relative to
 *                                      the sweep file, defined first
 *     ...any BLOCK key...              defaults for every block of "grid"
 *   }
 *
 *   BLOCK keys (a block's own key replaces the top-level default; the
 *   three marked required must be given in the block or at the top level):
 *     "tasks":      ["mnist-mlp", ...]        required, preset names, or
 *                   config files (an entry with '/' or ending in .json,
 *                   relative to the sweep file)
 *     "strategies": ["none", "conv+pool", ...] required; an entry may be a
 *                   strategy object (docs/STRATEGIES.md), defined and used
 *     "seeds":      [0, 1, 2]                 required, integers >= 0
 *     "rates":      [null, 0.3, "0.1,0.25"]   optional, default [null]:
 *                   null = the strategy's default rates, a number = that
 *                   rate at every site, a string = one rate per site
 *     "epochs", "lr", "limit_train", "val", "threads", "mc_samples":
 *                   optional scalars overriding the preset (see run.h)
 *     "overrides":  {"lr": [0.05, 0.1], "epochs": [1, 2]}
 *                   optional; each key (one of the six scalars above, not
 *                   also given as a scalar) adds an axis to the grid
 *
 * A block expands to tasks x strategies x rates x overrides x seeds, seeds
 * innermost; blocks follow each other.  Every run is resolved with
 * run_resolve() while expanding, so a bad task, strategy or rate fails the
 * whole sweep before anything runs, naming the run.  Runs that resolve to the
 * same run id are kept once.
 *
 * Library code: prints nothing. */
#ifndef DB_SWEEP_PLAN_H
#define DB_SWEEP_PLAN_H

#include <stddef.h>
#include <stdio.h>

#include <cJSON.h>

#include "dberr.h"
#include "train/run.h"
#include "train/train.h"

typedef struct sweep_run {
    char *task, *strategy;
    char *rate;          /* override string, or NULL for the defaults */
    char *overrides;     /* "lr=0.1 epochs=2" for override axes, or "" */
    long seed;
    int epochs;          /* from the resolved config */
    long limit_train;
    int threads;
    cJSON *config;       /* resolved canonical config, owned */
    char id[17];
    char name[256];      /* result file name within the results dir */
    double est_seconds;  /* estimated cost, seconds of one worker */
    char est_source[320]; /* what the estimate is calibrated from */
} sweep_run;

typedef struct sweep_plan {
    char *name;
    char *results_dir;
    sweep_run *runs;
    size_t n, cap;
    size_t nduplicates;  /* runs dropped because their id repeated */
} sweep_plan;

/* What a sweep calls to resolve, name, check and execute runs: run.h's
 * functions by default; tests substitute fakes. */
typedef struct sweep_backend {
    int (*resolve)(const run_request *rq, cJSON **config, char id[17],
                   db_err *e);
    int (*result_name)(char *buf, size_t n, const cJSON *config,
                       const char *id, db_err *e);
    int (*result_complete)(const char *path);
    int (*execute)(const cJSON *config, const char *id, run_options *opt,
                   db_err *e);
} sweep_backend;

extern const sweep_backend sweep_backend_default;

typedef struct sweep_options {
    int jobs;                /* worker processes; <= 0: cores / threads */
    int threads;             /* BLAS threads per run; <= 0: sweep file's */
    const char *results_dir; /* NULL: the sweep file's */
    const char *data_root;   /* NULL: run.h's default */
    const char *const *filters; /* --filter expressions, ORed */
    size_t nfilters;
    FILE *progress;          /* progress lines; NULL: silent */
    const sweep_backend *backend; /* NULL: sweep_backend_default */
    double poll_seconds;     /* wait between checks; <= 0: 0.05 */
    const char *log_path;    /* sweep log, or NULL: none.  One line per
                                event, appended with O_APPEND:
                                "UTC start NAME host=H pid=P slurm=J"
                                "UTC done|diverged|failed|interrupted NAME
                                 SECONDSs [reason]" (NAME: result file) */
    const char *job_label;   /* J above: the batch job this sweep runs in,
                                as the command line found it, or NULL:
                                "-" */
} sweep_options;

/* Parses a sweep (root is not kept; what names it in messages), expands and
 * resolves every run, sets the results directory and cost estimates. */
int sweep_plan_from_json(sweep_plan *plan, const cJSON *root, const char *what,
                         const sweep_options *o, db_err *e);
int sweep_plan_load(sweep_plan *plan, const char *path,
                    const sweep_options *o, db_err *e);
void sweep_plan_free(sweep_plan *plan);

/* Keeps the runs matching at least one filter (all when nfilters == 0).
 * A filter is a comma-separated list of conditions that must all hold:
 * KEY=GLOB with KEY one of task, strategy, rates ("default" when none),
 * seed, name (the result file name), or a bare GLOB matched against the
 * result file name.  Globs are fnmatch(3) patterns. */
int sweep_plan_filter(sweep_plan *plan, const char *const *filters,
                      size_t nfilters, db_err *e);

/* A run as text: "mnist-mlp hinton rates=default seed=0 [lr=0.1]". */
void sweep_run_label(char *buf, size_t n, const sweep_run *r);

/* The path of run r's file in the results directory plus suffix ("" for
 * the result, ".lock" for its lock) into buf; -1 when it does not fit. */
int sweep_run_path(char *buf, size_t n, const sweep_plan *plan,
                   const sweep_run *r, const char *suffix);

#endif
