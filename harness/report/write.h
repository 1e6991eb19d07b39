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
#include "report/crosscheck.h"
#include "report/repro.h"
#include "report/results.h"

enum report_format { REPORT_MD = 0, REPORT_CSV, REPORT_LATEX, REPORT_HTML };

/* Parses "md"/"markdown", "csv", "latex"/"tex", "html". */
int report_parse_format(const char *s, enum report_format *f, db_err *e);

/* What a document holds beyond the tables of t (all optional: zero it). */
typedef struct report_doc {
    const char *title;              /* NULL: "dropbench report" */
    const report_crosscheck *xc;    /* dropbench beside another framework */
    const char *plot_prefix;        /* the plots' folder as seen from the
                                       output file's folder ("" or NULL:
                                       the same folder) */
    char *const *plots;             /* plot names (report_plots) */
    size_t nplots;
    const report_repro *repro;      /* runs beside the papers' figures */
    const char *append;             /* text written verbatim at the end */
    size_t append_len;
} report_doc;

/* Writes the document (tables, cross-check, plots, notes, provenance,
 * excluded and unreadable files, then doc->append) to f; CSV: the cells
 * alone.  doc may be NULL. */
int report_write(FILE *f, const report_set *set, const report_table *t,
                 enum report_format fmt, const report_doc *doc, db_err *e);

#endif
