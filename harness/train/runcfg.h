/* runcfg.h - the resolved configuration of one run, and its canonical JSON.
 *
 * run_resolve() fills a run_config from a preset or config file plus the
 * command line, and serialises it to canonical JSON (fixed key order, every
 * field present); run_execute() parses that JSON back with
 * run_config_from_canonical().  The canonical JSON is what the run id hashes
 * and what the result file records under "config". */
#ifndef DB_RUNCFG_H
#define DB_RUNCFG_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "arch.h"
#include "dberr.h"
#include "train/model.h"

/* Bumped whenever a change alters the numbers a config produces; part of
 * every run id, so old results are not mistaken for new ones. */
#define DB_CODE_VERSION "10"
#define DB_RESULT_SCHEMA_VERSION 1

enum db_schedule { DB_SCHED_CONSTANT = 0, DB_SCHED_STEP, DB_SCHED_EXP,
                   DB_SCHED_INV /* per step: lr / (1 + step / sched_steps) */ };

/* GCN + ZCA preprocessing defaults (docs/REPRO.md). */
#define DB_GCN_BIAS_DEFAULT 1e-3
#define DB_ZCA_EPSILON_DEFAULT 0.1

/* Momentum schedules (docs/REPRO.md).  Constant: opt.momentum throughout. */
enum db_momentum_schedule {
    DB_MOM_CONSTANT = 0,
    DB_MOM_LINEAR,   /* per epoch: start -> end linearly over mom_epochs, then end */
    DB_MOM_EXP_STEP, /* per step: end - (end - start) * exp(-step / mom_steps) */
};

/* The reproduction recipes' extras (docs/REPRO.md).  All zero: none of them,
 * and none appears in the canonical config, so suite run ids are unchanged. */
typedef struct run_recipe {
    int mom_schedule;        /* enum db_momentum_schedule */
    double mom_start, mom_end;
    size_t mom_epochs, mom_steps;
    size_t sched_steps;      /* DB_SCHED_INV */
    db_init init;            /* weight initialisation (model.h) */
    char preprocess[16];     /* "" or "gcn-zca" */
    double gcn_bias, zca_epsilon;
    char retain[128];        /* retention probabilities as given, "" if none */
    int has_paper;           /* the paper's figure for this preset and strategy */
    char paper_source[128];
    double paper_pct;
    double paper_errors;     /* < 0: null */
    char note[512];          /* one line: what was scaled and why */
    int wscale;              /* "dropout_scaling": "weight": every dropout
                                site of the run (after the strategy's
                                rewrite) uses the papers' weight scaling
                                (db_layer.wscale); recorded per layer in the
                                canonical "model" */
} run_recipe;

typedef struct run_config {
    char task[64];
    char data[16];
    char strategy[128];
    char rate[128];          /* the override as given, "" for defaults */
    db_arch base;            /* the model before the strategy's rewrite */
    db_arch arch;            /* after: every dropout site in place */
    size_t batch, epochs;
    db_optim opt;
    int schedule;            /* enum db_schedule */
    size_t sched_every;      /* step: epochs between decays */
    double sched_gamma;      /* step/exp: factor */
    uint64_t seed;
    int threads;
    size_t limit_train, val;
    run_recipe rx;           /* reproduction recipe fields; zero: none */
    size_t mc_samples;       /* "mc_samples": T > 0 (only then present):
                                after training, the test set is evaluated
                                deterministically and by T Monte-Carlo
                                dropout passes, with error, NLL and ECE
                                (calib.h, docs/MODERN.md) */
    int allow_unverified;    /* "allow_unverified_data": true (only then
                                present): may train on data whose sha256
                                does not match docs/DATA.md (run.h) */
} run_config;

cJSON *run_config_to_json(const run_config *rc);
int run_config_from_canonical(run_config *rc, const cJSON *j, db_err *e);
/* Learning rate for epoch (1-based) under an epoch schedule (constant, step,
 * exp); a per-step schedule (inv) gives the base rate here, see
 * run_config_lr_at. */
double run_config_lr(const run_config *rc, size_t epoch);
/* Learning rate and momentum of the update at global step `step` (0-based)
 * in epoch `epoch` (1-based). */
double run_config_lr_at(const run_config *rc, size_t epoch, size_t step);
double run_config_momentum_at(const run_config *rc, size_t epoch, size_t step);
/* 1 when the learning rate or the momentum changes within an epoch. */
int run_config_per_step(const run_config *rc);
/* The model input of a data set by name ("mnist", ...), without loading it. */
int run_data_input(db_model_input *in, const char *data, db_err *e);
/* The full training set's size of a data set by name; 0 when unknown. */
size_t run_data_train_size(const char *data);
/* 64-bit FNV-1a of the code version and the canonical JSON, as 16 hex. */
int run_config_id(char id[17], const cJSON *canonical, db_err *e);

#endif
