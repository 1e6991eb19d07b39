/* write.h - the report's tables (aggregate.h) as text: Markdown, CSV or
 * LaTeX.  The text formats share one document - a heading, the three
 * tables (test error, time per epoch, paired differences), notes and the
 * lists of excluded and unreadable files - and each prints it its own way
 * (format.h); CSV is the cells alone, one line per (row, task).
 *
 * Library code: prints only to the FILE* given. */
#ifndef DB_REPORT_WRITE_H
#define DB_REPORT_WRITE_H

#include <stdio.h>

#include "dberr.h"
#include "report/aggregate.h"
#include "report/results.h"

enum report_format { REPORT_MD = 0, REPORT_CSV, REPORT_LATEX };

/* Parses "md"/"markdown", "csv", "latex"/"tex". */
int report_parse_format(const char *s, enum report_format *f, db_err *e);

/* Writes the tables (and excluded list, notes) to f. */
int report_write(FILE *f, const report_set *set, const report_table *t,
                 enum report_format fmt, db_err *e);

#endif
