/* crosscheck.h - dropbench's results set beside another framework's
 * training of the same runs (scripts/crosscheck-pytorch writes result files
 * with "framework": "pytorch"): per (task, strategy), the final test error
 * of each side over its seeds and the difference of the means with a Welch
 * 95% interval.  The two sides draw their own initial weights, data orders
 * and masks, so agreement means "within seed noise", not equal bits.
 *
 * Library code: nothing here prints.  The rows point into the set and the
 * table they were made from. */
#ifndef DB_REPORT_CROSSCHECK_H
#define DB_REPORT_CROSSCHECK_H

#include <stddef.h>

#include "dberr.h"
#include "report/aggregate.h"
#include "report/results.h"
#include "report/stats.h"

typedef struct report_xrow {
    const char *framework;  /* the other side's name */
    const char *task;
    size_t taskno;          /* the task's column in the table */
    size_t row;             /* the dropbench table's row */
    stats_summary db, other; /* final test error (%) over seeds */
    stats_ci diff;          /* dropbench minus other (Welch) */
} report_xrow;

typedef struct report_crosscheck {
    report_xrow *rows;
    size_t n;
    char **notes;           /* foreign results with no dropbench match */
    size_t nnotes;
} report_crosscheck;

/* Pairs every complete foreign result of set with the dropbench cell of the
 * same task, strategy and rates whose results have the same epochs, lr,
 * batch, limit_train and val.  Rows in the table's task order, then row
 * order, then framework name.  -1 only when out of memory. */
int report_crosscheck_make(const report_set *set, const report_table *t,
                           report_crosscheck *x, db_err *e);
void report_crosscheck_free(report_crosscheck *x);

#endif
