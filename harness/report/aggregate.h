/* aggregate.h - result files grouped into the report's rows and cells, with
 * their statistics; what the output formats (write.h) and plots (plot.h)
 * print.
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
 * "complete" count, and only dropbench's own (a result with a "framework"
 * other than dropbench is set beside them by crosscheck.h instead).  A
 * second table gives training seconds per epoch (evaluation excluded) and
 * the overhead
 * relative to the baseline; a third the paired differences against the
 * baseline (same task, seed and setting, baseline at its default rates,
 * same base model: results.h base_model; a cell whose base model differs
 * from the baseline's is not compared, with a note),
 * with a 95% t-interval (stats.h), '*' when it excludes zero, and
 * "n too small" below two pairs.
 *
 * Library code: nothing here prints.  Ownership: the table is freed by
 * report_table_free; it points into the set it was made from. */
#ifndef DB_REPORT_AGGREGATE_H
#define DB_REPORT_AGGREGATE_H

#include <stddef.h>

#include "dberr.h"
#include "report/results.h"
#include "report/stats.h"

typedef struct report_cell {
    size_t n;            /* seeds with a complete result */
    size_t *idx;         /* n indices into set->res, ascending seed */
    stats_summary err;   /* final test error (%) */
    size_t ntime;
    double sec_epoch;    /* training time per epoch (evaluation excluded):
                            mean over seeds that have it; NAN if none */
    double sec_sd;       /* its sample std over those seeds (0 below 2) */
    double eval_sec;     /* evaluation time per epoch, mean; NAN if none */
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
    char **provenance;   /* "code version V, commit C, ...: N result(s)",
                            one per distinct origin of the counted results */
    size_t nprovenance;
    size_t nforeign;     /* results of another framework (crosscheck.h),
                            not in the table */
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

#endif
