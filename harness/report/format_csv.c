/* format_csv.c - the report's cells as CSV, one line per (row, task) that
 * has results (format.h). */
#include "report/format.h"

#include <math.h>
#include <string.h>

static void put_csv(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\n\r") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_num(FILE *f, double v, const char *fmt)
{
    fputc(',', f);
    if (isfinite(v))
        fprintf(f, fmt, v);
}

void report_csv_write(FILE *f, const report_table *t)
{
    fputs("strategy,rates,setting,task,n,test_error_mean,test_error_sd,"
          "train_seconds_per_epoch,train_seconds_per_epoch_sd,time_overhead_pct,"
          "eval_seconds_per_epoch,diff_n,diff_mean,diff_sd,"
          "diff_ci_low,diff_ci_high,diff_significant\n",
          f);
    for (size_t ro = 0; ro < t->nrows; ro++) {
        const report_row *row = &t->rows[ro];
        for (size_t k = 0; k < t->ntasks; k++) {
            const report_cell *c = report_cell_at(t, ro, k);
            if (c->n == 0)
                continue;
            put_csv(f, row->strategy);
            fputc(',', f);
            put_csv(f, row->rates);
            fputc(',', f);
            put_csv(f, row->setting);
            fputc(',', f);
            put_csv(f, t->tasks[k]);
            fprintf(f, ",%zu", c->n);
            csv_num(f, c->err.mean, "%.4f");
            csv_num(f, c->n >= 2 ? c->err.sd : NAN, "%.4f");
            csv_num(f, c->sec_epoch, "%.6g");
            csv_num(f, c->ntime >= 2 ? c->sec_sd : NAN, "%.6g");
            csv_num(f, c->overhead_pct, "%.3f");
            csv_num(f, c->eval_sec, "%.6g");
            if (c->has_diff) {
                fprintf(f, ",%zu", c->diff.n);
                csv_num(f, c->diff.n ? c->diff.mean : NAN, "%.4f");
                csv_num(f, c->diff.valid ? c->diff.sd : NAN, "%.4f");
                csv_num(f, c->diff.valid ? c->diff.lo : NAN, "%.4f");
                csv_num(f, c->diff.valid ? c->diff.hi : NAN, "%.4f");
                fprintf(f, ",%s", c->diff.valid
                                      ? (c->diff.significant ? "yes" : "no")
                                      : "n too small");
            } else {
                fputs(",,,,,,", f);
            }
            fputc('\n', f);
        }
    }
}
