/* svg.h - the report's figures drawn as inline SVG by dropbench itself (no
 * gnuplot, nothing fetched): what the HTML report shows for each task.
 *
 *   forest    each strategy's paired difference in final test error against
 *             the baseline: the mean as a dot, the 95% interval as a bar, a
 *             line at zero ("does this placement help?")
 *   errors    each strategy's final test error: the mean as a dot, mean +-
 *             one std over seeds as a bar, every seed as a small mark
 *   curves    test error per epoch, the mean over seeds of each strategy at
 *             its default rates
 *   overhead  training time per epoch (evaluation excluded): mean +- one std
 *             over seeds, the baseline's mean as a dashed line
 *
 * Every number is printed with a fixed format, so the same table gives the
 * same bytes.  Library code: prints only to the FILE* given. */
#ifndef DB_REPORT_SVG_H
#define DB_REPORT_SVG_H

#include <stddef.h>
#include <stdio.h>

#include "report/aggregate.h"
#include "report/results.h"

/* s as XML/HTML text: & < > " escaped (the HTML page uses it too). */
void svg_put_text(FILE *f, const char *s);

/* Each writes one <svg> element (nothing when the task has nothing to
 * draw: returns 0 then, 1 when it drew). */
int svg_forest(FILE *f, const report_table *t, size_t task);
int svg_errors(FILE *f, const report_set *set, const report_table *t, size_t task);
int svg_curves(FILE *f, const report_set *set, const report_table *t, size_t task);
int svg_overhead(FILE *f, const report_set *set, const report_table *t, size_t task);

#endif
