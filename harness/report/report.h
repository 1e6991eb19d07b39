/* report.h - aggregate a directory of result files into tables and plots.
 *
 * `dropbench report DIR... [--format md|csv|latex] [--baseline S]
 *                  [--output FILE] [--plots OUTDIR]`
 *
 * Rows are (strategy, rates label, setting), columns are tasks.  The rates
 * label is the result's config.rate override string, or "default".  The
 * setting names the config fields (epochs, lr, batch, limit_train, val,
 * threads) that differ between results of the same task, e.g. "lr=0.1"; it
 * is empty when they agree, as in the suite.  Each cell: the mean and sample
 * std of final.test_error_pct over seeds, with n; only results with status
 * "complete" count.  A second table gives seconds per epoch and the overhead
 * relative to the baseline; a third the paired differences against the
 * baseline (same task, seed and setting, baseline at its default rates),
 * with a 95% t-interval (stats.h), '*' when it excludes zero, and
 * "n too small" below two pairs.
 *
 * Library code: nothing here prints; problems with single files are
 * collected in report_set.problems for the caller to show.  Ownership: every
 * structure is freed by its own *_free function. */
#ifndef DB_REPORT_H
#define DB_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "dberr.h"
#include "report/stats.h"

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
    double site_rate;    /* the rate shared by every dropout site; 0 with no
                            sites; NAN when the sites differ or are absent */
    size_t ncurve;
    double *curve;       /* test_error_pct per epoch, ncurve values */
    double mtime;        /* file modification time, seconds */
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

typedef struct report_cell {
    size_t n;            /* seeds with a complete result */
    size_t *idx;         /* n indices into set->res, ascending seed */
    stats_summary err;   /* final test error (%) */
    size_t ntime;
    double sec_epoch;    /* mean over seeds that have timing; NAN if none */
    double overhead_pct; /* sec_epoch / baseline's - 1, in %; NAN if n/a */
    int has_diff;        /* row is not the baseline and a baseline exists */
    stats_ci diff;       /* strategy minus baseline, pp, paired by seed */
} report_cell;

typedef struct report_row {
    char *strategy, *rates, *setting;
    double rate;         /* numeric rate of the row for rate plots: the
                            override when it is one number, else the shared
                            default site rate; NAN when neither */
    int is_baseline;
} report_row;

typedef struct report_table {
    char *baseline;
    char **tasks;
    size_t ntasks;
    report_row *rows;
    size_t nrows;
    report_cell *cells;  /* nrows x ntasks, row-major */
    size_t ncomplete;
    size_t *excluded;    /* indices of results that are not complete */
    size_t nexcluded;
    char **notes;        /* e.g. duplicate seeds, newer file used */
    size_t nnotes;
    int any_setting;     /* some row has a non-empty setting */
} report_table;

/* Groups the complete results of set.  Fails when none is complete. */
int report_aggregate(const report_set *set, const char *baseline,
                     report_table *t, db_err *e);
void report_table_free(report_table *t);

static inline report_cell *report_cell_at(const report_table *t, size_t row,
                                          size_t task)
{
    return &t->cells[row * t->ntasks + task];
}

enum report_format { REPORT_MD = 0, REPORT_CSV, REPORT_LATEX };

/* Parses "md"/"markdown", "csv", "latex"/"tex". */
int report_parse_format(const char *s, enum report_format *f, db_err *e);

/* Writes the tables (and excluded list, notes) to f. */
int report_write(FILE *f, const report_set *set, const report_table *t,
                 enum report_format fmt, db_err *e);

/* Writes data files and a gnuplot script into outdir (created if missing),
 * runs gnuplot ($GNUPLOT or "gnuplot") and renames its SVG and PNG outputs
 * into place: curves-TASK (test error against epoch, mean and a band of one
 * std over seeds, default rates), curves-TASK-STRATEGY (one per rate when a
 * strategy was run at several), rates-TASK (error against rate per
 * placement, when some placement has two or more rates) and overhead (time
 * per epoch relative to the baseline).  *nplots receives the number of
 * plots made. */
int report_plots(const report_set *set, const report_table *t,
                 const char *outdir, size_t *nplots, db_err *e);

/* Writes buf to path through a temporary file and rename(). */
int report_write_atomic(const char *path, const char *buf, size_t len,
                        db_err *e);

/* `dropbench report ...`; returns the exit status: 0 ok, 1 nothing usable or
 * plotting failed, 2 usage error. */
int cmd_report(int argc, char **argv);

#endif
