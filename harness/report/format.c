/* format.c - what the text formats share (format.h): a cell's text and
 * the rows of a table. */
#include "report/format.h"

#include <math.h>
#include <stdio.h>

void report_cell_text(char *buf, size_t n, const report_table *t, size_t ro,
                      size_t k, enum report_table_kind kind, const char *pm,
                      const char *pct)
{
    const report_cell *c = report_cell_at(t, ro, k);
    if (c->n == 0) {
        snprintf(buf, n, "-");
        return;
    }
    switch (kind) {
    case REPORT_TAB_ERROR:
        if (c->n >= 2)
            snprintf(buf, n, "%.2f %s %.2f (n=%zu)", c->err.mean, pm,
                     c->err.sd, c->n);
        else
            snprintf(buf, n, "%.2f (n=1)", c->err.mean);
        break;
    case REPORT_TAB_TIME:
        if (!isfinite(c->sec_epoch))
            snprintf(buf, n, "-");
        else {
            int prec = c->sec_epoch >= 100 ? 0 : c->sec_epoch >= 1 ? 1 : 3;
            int m = c->ntime >= 2
                        ? snprintf(buf, n, "%.*f %s %.*f s", prec, c->sec_epoch, pm,
                                   prec, c->sec_sd)
                        : snprintf(buf, n, "%.*f s", prec, c->sec_epoch);
            if (isfinite(c->overhead_pct) && m > 0 && (size_t)m < n)
                snprintf(buf + m, n - (size_t)m, " (%+.1f%s)",
                         c->overhead_pct, pct);
        }
        break;
    case REPORT_TAB_EVAL:
        if (!isfinite(c->eval_sec))
            snprintf(buf, n, "-");
        else
            snprintf(buf, n, "%.*f s", c->eval_sec >= 100 ? 0 : c->eval_sec >= 1 ? 1 : 3,
                     c->eval_sec);
        break;
    case REPORT_TAB_DIFF:
        if (t->rows[ro].is_baseline)
            snprintf(buf, n, "baseline");
        else if (!c->has_diff)
            snprintf(buf, n, "no baseline");
        else if (c->diff.n == 0)
            snprintf(buf, n, "no paired seeds");
        else if (!c->diff.valid)
            snprintf(buf, n, "%+.2f, n too small (n=%zu)", c->diff.mean,
                     c->diff.n);
        else
            snprintf(buf, n, "%+.2f [%+.2f, %+.2f] n=%zu%s", c->diff.mean,
                     c->diff.lo, c->diff.hi, c->diff.n,
                     c->diff.significant ? " *" : "");
        break;
    }
}

void report_table_rows(FILE *f, const report_table *t,
                       enum report_table_kind kind,
                       void (*put)(FILE *f, const char *s), const char *lead,
                       const char *sep, const char *end, const char *pm,
                       const char *pct)
{
    for (size_t ro = 0; ro < t->nrows; ro++) {
        const report_row *row = &t->rows[ro];
        fputs(lead, f);
        put(f, row->strategy);
        fputs(sep, f);
        put(f, row->rates);
        if (t->any_setting) {
            fputs(sep, f);
            put(f, row->setting[0] ? row->setting : "-");
        }
        for (size_t k = 0; k < t->ntasks; k++) {
            char buf[160];
            report_cell_text(buf, sizeof buf, t, ro, k, kind, pm, pct);
            fputs(sep, f);
            /* cell texts are made of format-safe characters */
            fputs(buf, f);
        }
        fputs(end, f);
    }
}
