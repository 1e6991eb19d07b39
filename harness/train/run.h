/* run.h - one training run, before it runs: a request resolved into a
 * complete canonical config (runcfg.h) and its run id, and the name of its
 * result file.  train.h executes it.
 *
 * The canonical config (a cJSON object) holds everything that decides the
 * numbers: task, data set, strategy and the expanded model with every dropout
 * site and rate, optimiser, batch, epochs, seed, threads, limits.  Its hash
 * (together with DB_CODE_VERSION) is the run id: two requests that resolve to
 * the same config are the same run. */
#ifndef DB_RUN_H
#define DB_RUN_H

#include <stddef.h>

#include <cJSON.h>

#include "dberr.h"

/* The strategy label of a run whose model has dropout layers of its own
 * (written into the config by hand) and no strategy on top ("strategy":
 * "none" or "hand-placed"): such a run is not the baseline. */
#define DB_HAND_PLACED "hand-placed"

/* What the user asked for.  Unset fields keep the config's value. */
typedef struct run_request {
    const char *task;        /* preset name (configs/<task>.json), or NULL */
    const char *config_path; /* a config file; one of task/config_path */
    const char *strategy;    /* "none", "conv+pool", ...; NULL: config's */
    const char *rate;        /* "0.3" (all sites) or "0.1,0.25,0.5" (per
                                site, in order from input to output); NULL */
    long seed;               /* < 0: config's (default 0) */
    int epochs;              /* <= 0: config's */
    double lr;               /* <= 0: config's */
    int threads;             /* <= 0: config's (default 1) */
    long limit_train;        /* <= 0: all training examples */
    long val;                /* <= 0: no validation split */
    long mc_samples;         /* > 0: Monte-Carlo dropout evaluation with
                                that many passes; <= 0: config's */
    const char *data_root;   /* NULL: $DROPBENCH_DATA or "data" */
    int allow_unverified;    /* train on data whose sha256 does not match
                                docs/DATA.md: "allow_unverified_data": true
                                goes into the config, so the run gets an id
                                of its own.  run_request_init sets it from
                                $DROPBENCH_ALLOW_UNVERIFIED (non-empty, not
                                "0"); --allow-unverified sets it too. */
} run_request;

void run_request_init(run_request *rq);

/* Resolves rq into a canonical config (caller frees with cJSON_Delete) and
 * its run id, 16 lowercase hex digits + NUL.  Validates everything that can
 * be validated without data: unknown task/strategy, rate outside [0,1),
 * strategy/model mismatch, malformed config (naming the file and field). */
int run_resolve(const run_request *rq, cJSON **config, char id[17], db_err *e);

/* Result file name for a resolved config: "<task>.<strategy>.s<seed>.<id>.json"
 * (a '+' in the strategy is kept).  Writes into buf (size n). */
int run_result_name(char *buf, size_t n, const cJSON *config, const char *id,
                    db_err *e);

/* Status of an existing result file: 1 = complete, 0 = absent, or present
 * with another status (failed, diverged, interrupted) or unreadable. */
int run_result_complete(const char *path);

/* The built-in presets: configs/ beside the executable (or one folder up,
 * for build/dropbench), else ./configs. */
const char *db_preset_dir(void);
/* The config search path into dirs[0..max): each folder of
 * $DROPBENCH_CONFIGS (':'-separated, in order), then the presets
 * (db_preset_dir), which the variable adds to and never replaces.  A task
 * NAME is the first NAME.json found in a folder or its repro/ subfolder
 * that is not a sweep file (sweep files are never tasks).  Returns the
 * count.  The strings live until the next call. */
size_t db_config_path(const char **dirs, size_t max);
/* Every task name the search path offers (sweep files left out), unsorted,
 * each once, into *names (caller frees with db_strv_free).  0, or -1 when
 * out of memory. */
int db_task_names(char ***names, size_t *n);

#endif
