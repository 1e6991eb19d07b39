/* repro.c - runs beside the papers' figures.  See repro.h. */
#include "report/repro.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

static const report_set *sort_set; /* qsort has no context argument */

/* By preset, then the paper's figure from the largest (the baseline) down,
 * then strategy and seed. */
static int cmp_run(const void *a, const void *b)
{
    const report_result *x = &sort_set->res[*(const size_t *)a];
    const report_result *y = &sort_set->res[*(const size_t *)b];
    int c = strcmp(x->task, y->task);
    if (c)
        return c;
    if (x->paper_pct != y->paper_pct)
        return x->paper_pct > y->paper_pct ? -1 : 1;
    if ((c = strcmp(x->strategy, y->strategy)))
        return c;
    return (x->seed > y->seed) - (x->seed < y->seed);
}

/* Errors out of the test set: the percentage times its size, rounded. */
static char *count_text(double pct, long n)
{
    if (n <= 0 || !isfinite(pct))
        return db_strdup("-");
    return db_asprintf("%ld / %ld", lround(pct * (double)n / 100.0), n);
}

/* One preset's strategies (idx[lo..hi), sorted by cmp_run): their mean run
 * error, then a line saying what the preset scaled and whether the runs
 * keep the paper's order. */
static char *preset_line(const report_set *set, const size_t *idx, size_t lo,
                         size_t hi)
{
    const report_result *first = &set->res[idx[lo]];
    char *paper = db_strdup(""), *runs = db_strdup("");
    int same = 1, compared = 0, oom = !paper || !runs;
    double prev_paper = NAN, prev_run = NAN;
    for (size_t i = lo; i < hi && !oom;) {
        const report_result *r = &set->res[idx[i]];
        double sum = 0.0;
        size_t n = 0, j = i;
        for (; j < hi && !strcmp(set->res[idx[j]].strategy, r->strategy); j++)
            if (!strcmp(set->res[idx[j]].status, "complete")) {
                sum += set->res[idx[j]].test_error;
                n++;
            }
        const char *psep = i == lo ? "" : " > ", *rsep = i == lo ? "" : ", ";
        char *p2 = db_asprintf("%s%s%s %.2f", paper, psep, r->strategy, r->paper_pct);
        char *r2 = n ? db_asprintf("%s%s%s %.2f", runs, rsep, r->strategy, sum / (double)n)
                     : db_asprintf("%s%s%s (no complete run)", runs, rsep, r->strategy);
        free(paper);
        free(runs);
        paper = p2;
        runs = r2;
        oom = !paper || !runs;
        if (n) {
            double m = sum / (double)n;
            if (isfinite(prev_run) && r->paper_pct < prev_paper) {
                compared = 1;
                if (!(m < prev_run))
                    same = 0;
            }
            prev_run = m;
        } else {
            same = 0;
        }
        prev_paper = r->paper_pct;
        i = j;
    }
    char *line = NULL;
    if (!oom)
        line = db_asprintf(
            "%s: %s. Paper (test error %%): %s; runs (mean over seeds): %s: %s.",
            first->task, first->note ? first->note : "no note recorded", paper,
            runs,
            !compared ? "one strategy, no order to compare"
            : same    ? "the paper's order holds"
                      : "the paper's order does not hold");
    free(paper);
    free(runs);
    return line;
}

void report_repro_free(report_repro *r)
{
    db_strv_free(r->cells, r->cells ? (r->nrows + 1) * REPORT_REPRO_COLS : 0);
    db_strv_free(r->lines, r->nlines);
    memset(r, 0, sizeof *r);
}

int report_repro_make(const report_set *set, report_repro *r)
{
    memset(r, 0, sizeof *r);
    size_t *idx = malloc((set->n ? set->n : 1) * sizeof *idx), n = 0;
    if (!idx)
        return -1;
    for (size_t i = 0; i < set->n; i++)
        if (isfinite(set->res[i].paper_pct) && !set->res[i].framework)
            idx[n++] = i;
    if (n == 0) {
        free(idx);
        return 0;
    }
    sort_set = set;
    qsort(idx, n, sizeof *idx, cmp_run);
    r->cells = calloc((n + 1) * REPORT_REPRO_COLS, sizeof *r->cells);
    int oom = !r->cells;
    if (!oom) {
        r->nrows = n;
        static const char *const head[REPORT_REPRO_COLS] = {
            "preset", "strategy", "seed", "test error %", "test errors",
            "paper %", "paper errors", "run - paper (pp)",
        };
        for (size_t c = 0; c < REPORT_REPRO_COLS; c++)
            oom |= !(r->cells[c] = db_strdup(head[c]));
    }
    for (size_t i = 0; i < n && !oom; i++) {
        const report_result *x = &set->res[idx[i]];
        char **row = r->cells + (i + 1) * REPORT_REPRO_COLS;
        int ok = !strcmp(x->status, "complete");
        row[0] = db_strdup(x->task);
        row[1] = db_strdup(x->strategy);
        row[2] = db_asprintf("%ld", x->seed);
        row[3] = ok ? db_asprintf("%.2f", x->test_error) : db_strdup(x->status);
        row[4] = ok ? count_text(x->test_error, x->test_size) : db_strdup("-");
        row[5] = db_asprintf("%.2f", x->paper_pct);
        row[6] = x->paper_errors >= 0 ? db_asprintf("%ld", x->paper_errors)
                                      : db_strdup("-");
        row[7] = ok ? db_asprintf("%+.2f", x->test_error - x->paper_pct)
                    : db_strdup("-");
        for (size_t c = 0; c < REPORT_REPRO_COLS; c++)
            oom |= !row[c];
    }
    for (size_t lo = 0; lo < n && !oom;) {
        size_t hi = lo;
        while (hi < n && !strcmp(set->res[idx[hi]].task, set->res[idx[lo]].task))
            hi++;
        oom |= db_strv_push(&r->lines, &r->nlines, preset_line(set, idx, lo, hi)) != 0;
        lo = hi;
    }
    free(idx);
    if (oom) {
        report_repro_free(r);
        return -1;
    }
    return 0;
}
