/* repro.h - the report's "Reproductions" section: runs of presets that
 * record a paper's figure (config.paper, docs/REPRO.md), each beside that
 * figure, and one line per preset on what it scaled and whether the
 * paper's ordering of its strategies held.
 *
 * Library code: builds texts only; write.c prints them. */
#ifndef DB_REPORT_REPRO_H
#define DB_REPORT_REPRO_H

#include <stddef.h>

#include "report/results.h"

enum { REPORT_REPRO_COLS = 8 };

typedef struct report_repro {
    char **cells;   /* (nrows + 1) * REPORT_REPRO_COLS texts, heads first */
    size_t nrows;
    char **lines;   /* one per preset */
    size_t nlines;
} report_repro;

/* Fills r from the results of set that carry a paper figure; r->nrows is 0
 * when none does.  -1 only when memory runs out (r is then freed). */
int report_repro_make(const report_set *set, report_repro *r);
void report_repro_free(report_repro *r);

#endif
