/* format.h - what one output format of write.h provides; used by write.c
 * only.  A text format (Markdown, LaTeX, ...) prints the document that
 * report_write puts together: a heading, three tables and titled lists,
 * each through one hook, so that a new format is one new file
 * (format_FMT.c), its name in report_parse_format and its case in
 * write.c's text_format.  CSV is not a document but the cells alone
 * (report_csv_write). */
#ifndef DB_REPORT_FORMAT_H
#define DB_REPORT_FORMAT_H

#include <stddef.h>
#include <stdio.h>

#include "report/aggregate.h"
#include "report/results.h"

enum report_table_kind { REPORT_TAB_ERROR, REPORT_TAB_TIME, REPORT_TAB_EVAL,
                         REPORT_TAB_DIFF };

typedef struct report_text_format {
    /* the heading: the title, then file counts from set and t */
    void (*heading)(FILE *f, const char *title, const report_set *set,
                    const report_table *t);
    /* one table of the kind's cell texts (report_cell_text) */
    void (*table)(FILE *f, const report_table *t, enum report_table_kind kind,
                  const char *title);
    /* a titled list; called only when n > 0 */
    void (*list)(FILE *f, const char *title, char *const *items, size_t n);
    /* a titled table of texts: cells[(r + 1) * ncols + c] for row r, the
     * column heads first; the first nleft columns are text, the others
     * numbers.  Texts may hold the plus-minus sign as UTF-8. */
    void (*grid)(FILE *f, const char *title, char *const *cells, size_t ncols,
                 size_t nleft, size_t nrows);
    /* titled images: prefix/NAME.svg for each name (prefix may be "") */
    void (*images)(FILE *f, const char *title, const char *prefix,
                   char *const *names, size_t n);
    /* Optional (NULL in formats without them): figures the format draws
     * itself, after the tables; the appended text (default: verbatim);
     * the document's end. */
    void (*figures)(FILE *f, const report_set *set, const report_table *t);
    void (*appendix)(FILE *f, const char *text, size_t n);
    void (*footer)(FILE *f);
} report_text_format;

extern const report_text_format report_format_md;
extern const report_text_format report_format_latex;
extern const report_text_format report_format_html;

/* Every cell of t's rows and tasks, one CSV line each, with a header. */
void report_csv_write(FILE *f, const report_table *t);

/* A cell's text for a table of the kind, made of characters that need no
 * escaping in any format but the two given: pm (the plus-minus sign) and
 * pct (the percent sign) as the format writes them. */
void report_cell_text(char *buf, size_t n, const report_table *t, size_t row,
                      size_t task, enum report_table_kind kind, const char *pm,
                      const char *pct);

/* The rows of one table, each: lead, the row's strategy, rates and (when
 * some row has one) setting written by put, then its cells' texts
 * (report_cell_text with pm and pct), all separated by sep, then end. */
void report_table_rows(FILE *f, const report_table *t,
                       enum report_table_kind kind,
                       void (*put)(FILE *f, const char *s), const char *lead,
                       const char *sep, const char *end, const char *pm,
                       const char *pct);

#endif
