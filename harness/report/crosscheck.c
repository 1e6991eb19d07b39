/* crosscheck.c - see crosscheck.h. */
#include "report/crosscheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

void report_crosscheck_free(report_crosscheck *x)
{
    free(x->rows);
    db_strv_free(x->notes, x->nnotes);
    memset(x, 0, sizeof *x);
}

static int same_setting(const report_result *a, const report_result *b)
{
    return a->epochs == b->epochs && a->batch == b->batch &&
           a->limit_train == b->limit_train && a->val == b->val &&
           (a->lr == b->lr || (isnan(a->lr) && isnan(b->lr)));
}

/* The table cell (row, task) that a foreign result r belongs beside, or -1
 * for the row. */
static long match_row(const report_set *set, const report_table *t,
                      const report_result *r, size_t *task)
{
    for (size_t k = 0; k < t->ntasks; k++) {
        if (strcmp(t->tasks[k], r->task) != 0)
            continue;
        for (size_t ro = 0; ro < t->nrows; ro++) {
            const report_cell *c = report_cell_at(t, ro, k);
            if (c->n == 0 || strcmp(t->rows[ro].strategy, r->strategy) != 0 ||
                strcmp(t->rows[ro].rates, r->rates) != 0 ||
                !same_setting(&set->res[c->idx[0]], r))
                continue;
            *task = k;
            return (long)ro;
        }
    }
    return -1;
}

static int cmp_xrow(const void *a, const void *b)
{
    const report_xrow *x = a, *y = b;
    if (x->taskno != y->taskno)
        return x->taskno < y->taskno ? -1 : 1;
    if (x->row != y->row)
        return x->row < y->row ? -1 : 1;
    return strcmp(x->framework, y->framework);
}

/* The final errors of the other framework's results in cell (ro, k), one per
 * seed (the first file in name order), into v; returns how many. */
static size_t foreign_errors(const report_set *set, const report_table *t,
                             const char *fw, size_t ro, size_t k, double *v,
                             long *seeds)
{
    size_t n = 0;
    for (size_t i = 0; i < set->n; i++) {
        const report_result *r = &set->res[i];
        size_t kk;
        if (!r->framework || strcmp(r->framework, fw) != 0 ||
            strcmp(r->status, "complete") != 0 || match_row(set, t, r, &kk) != (long)ro ||
            kk != k)
            continue;
        size_t j = 0;
        while (j < n && seeds[j] != r->seed)
            j++;
        if (j < n)
            continue;
        seeds[n] = r->seed;
        v[n++] = r->test_error;
    }
    return n;
}

int report_crosscheck_make(const report_set *set, const report_table *t,
                           report_crosscheck *x, db_err *e)
{
    memset(x, 0, sizeof *x);
    double *v = malloc((set->n ? set->n : 1) * sizeof *v);
    long *seeds = malloc((set->n ? set->n : 1) * sizeof *seeds);
    int oom = !v || !seeds;
    for (size_t i = 0; i < set->n && !oom; i++) {
        const report_result *r = &set->res[i];
        if (!r->framework || strcmp(r->status, "complete") != 0)
            continue;
        size_t k = 0;
        long ro = match_row(set, t, r, &k);
        if (ro < 0) {
            oom |= db_strv_push(&x->notes, &x->nnotes, db_asprintf(
                "%s (%s): no dropbench results of %s %s with the same "
                "settings (epochs, lr, batch, limit_train, val)",
                r->file, r->framework, r->task, r->strategy));
            continue;
        }
        int seen = 0;
        for (size_t j = 0; j < x->n; j++)
            seen |= x->rows[j].row == (size_t)ro && x->rows[j].task == t->tasks[k] &&
                    strcmp(x->rows[j].framework, r->framework) == 0;
        if (seen)
            continue;
        report_xrow *nr = realloc(x->rows, (x->n + 1) * sizeof *nr);
        if (!nr) {
            oom = 1;
            break;
        }
        x->rows = nr;
        report_xrow *xr = &x->rows[x->n++];
        memset(xr, 0, sizeof *xr);
        xr->framework = r->framework;
        xr->task = t->tasks[k];
        xr->taskno = k;
        xr->row = (size_t)ro;
        const report_cell *c = report_cell_at(t, (size_t)ro, k);
        xr->db = c->err;
        size_t n = foreign_errors(set, t, r->framework, (size_t)ro, k, v, seeds);
        stats_summarize(v, n, &xr->other);
        stats_welch_ci(&xr->db, &xr->other, &xr->diff);
    }
    free(v);
    free(seeds);
    if (oom) {
        report_crosscheck_free(x);
        return db_fail(e, "report: out of memory");
    }
    if (x->n > 1)
        qsort(x->rows, x->n, sizeof *x->rows, cmp_xrow);
    return 0;
}
