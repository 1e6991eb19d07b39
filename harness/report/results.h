/* results.h - reading a directory of result files (results/schema.json)
 * into memory for the report: one report_result per readable file, one
 * problem line per file that is not.
 *
 * Library code: nothing here prints; problems with single files are
 * collected in report_set.problems for the caller to show.  Ownership: the
 * set is freed by report_set_free. */
#ifndef DB_REPORT_RESULTS_H
#define DB_REPORT_RESULTS_H

#include <stddef.h>

#include "dberr.h"

/* One parsed result file. */
typedef struct report_result {
    char *path;         /* as opened: DIR/NAME.json */
    char *file;         /* NAME.json */
    char *task, *strategy;
    char *rates;        /* config.rate, or "default" */
    char *status;       /* "complete", "diverged", "failed", "interrupted" */
    char *error;        /* the result's "error" string, or NULL */
    long seed;
    /* setting fields; NAN / -1 when absent */
    double lr;
    long epochs, batch, limit_train, val, threads;
    double test_error;   /* final.test_error_pct (complete results) */
    double sec_epoch;    /* timing.seconds_per_epoch, NAN when absent */
    double train_sec_epoch; /* timing.train_seconds_per_epoch (training
                               only, evaluation excluded), NAN when absent */
    double eval_sec_epoch;  /* timing.eval_seconds / epochs completed, NAN
                               when absent */
    char *framework;     /* NULL for dropbench's own results; else the
                            result's "framework" ("pytorch" for
                            scripts/crosscheck-pytorch) */
    char *provenance;    /* "code version V, commit C[, dirty tree], OpenBLAS
                            core K" from the result; NULL when it has none */
    double site_rate;    /* the rate shared by every dropout site; 0 with no
                            sites; NAN when the sites differ or are absent */
    size_t ncurve;
    double *curve;       /* test_error_pct per epoch, ncurve values */
    double load_sec;     /* timing.data_load_seconds, NAN when absent */
    char *cpu;           /* environment.cpu (the model name), NULL when absent */
    char *cpu_id;        /* environment.cpu_id (vendor, family, model), NULL
                          * when absent (results before it was recorded) */
    double mtime;        /* file modification time, seconds */
    int unverified;      /* data.verified is false: trained on data whose
                            sha256 does not match docs/DATA.md */
    long mc_samples;     /* "calibration" (docs/MODERN.md): its passes, 0
                            when the result has none */
    double cal[6];       /* deterministic error %, NLL, ECE, then the
                            Monte-Carlo average's */
    size_t nshift;       /* "variance_shift": its batchnorm layers (at most 16
                            are read), 0 when absent */
    double shift[16];    /* each layer's ratio_mean, in layer order */
    long test_size;      /* data.test_size, -1 when absent */
    /* config.paper (docs/REPRO.md): the published figure this run is
     * compared with; paper_pct NAN and paper_errors -1 when absent */
    double paper_pct;
    long paper_errors;
    char *paper_source;  /* NULL when absent */
    char *note;          /* config.note: what was scaled and why, or NULL */
    char base_model[17]; /* fingerprint of the base model (the model
                            without its dropout layers, arch.h
                            db_arch_base_json): fingerprints.base_model, or
                            computed from config.model for results written
                            before it was recorded; "" when neither is
                            there (such a result pairs with any) */
} report_result;

typedef struct report_set {
    report_result *res;  /* every readable result, any status */
    size_t n, cap;
    char **problems;     /* "NAME: why it was skipped", one per bad file */
    size_t nproblems;
    size_t nfiles;       /* *.json files seen */
} report_set;

/* Reads every *.json file of dir (not recursive, hidden files ignored) into
 * set, which may already hold results of other directories (zero it before
 * the first call).  Bad files become problems; -1 only when dir itself cannot
 * be read or memory runs out. */
int report_load(report_set *set, const char *dir, db_err *e);
void report_set_free(report_set *set);

#endif
