/* plot.h - the report's plots, drawn by gnuplot from the aggregated table.
 *
 * Library code: prints nothing; gnuplot's own output goes to
 * OUTDIR/gnuplot.log. */
#ifndef DB_REPORT_PLOT_H
#define DB_REPORT_PLOT_H

#include <stddef.h>

#include "dberr.h"
#include "report/aggregate.h"
#include "report/results.h"

/* Writes data files and a gnuplot script into outdir (created if missing),
 * runs gnuplot ($GNUPLOT or "gnuplot") and renames its SVG and PNG outputs
 * into place: curves-TASK (test error against epoch, mean and a band of one
 * std over seeds, default rates), curves-TASK-STRATEGY (one per rate when a
 * strategy was run at several), rates-TASK (error against rate per
 * placement, when some placement has two or more rates), forest-TASK (each
 * strategy's paired difference against the baseline with its 95% interval)
 * and overhead (time
 * per epoch relative to the baseline, training only).  *nplots receives the
 * number of plots made; names (may be NULL) their names in order, without
 * extension (free with db_strv_free(*names, *nplots)). */
int report_plots(const report_set *set, const report_table *t,
                 const char *outdir, size_t *nplots, char ***names, db_err *e);

#endif
