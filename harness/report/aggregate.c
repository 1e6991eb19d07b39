/* aggregate.c - results grouped into rows (strategy, rates, setting) and
 * task columns, with the statistics of each cell.  See aggregate.h. */
#include "report/aggregate.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strategy.h"
#include "util/str.h"

static const char *const task_order[] = {
    "mnist-mlp", "mnist-lenet", "fashion-lenet", "cifar-cnn", "wordlang-gru",
};

static size_t task_rank(const char *t)
{
    for (size_t i = 0; i < sizeof task_order / sizeof *task_order; i++)
        if (strcmp(t, task_order[i]) == 0)
            return i;
    return SIZE_MAX;
}

static int cmp_task(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    size_t rx = task_rank(x), ry = task_rank(y);
    if (rx != ry)
        return rx < ry ? -1 : 1;
    return strcmp(x, y);
}

/* Registry display order; combinations after single strategies, ordered by
 * their first part; unknown names last. */
static size_t strategy_rank(const char *s)
{
    size_t n = 0;
    const db_strategy *tab = db_strategies(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(tab[i].name, s) == 0)
            return i;
    size_t first = strcspn(s, "+");
    for (size_t i = 0; i < n; i++)
        if (strlen(tab[i].name) == first && strncmp(tab[i].name, s, first) == 0)
            return n + i;
    return 2 * n;
}

/* A rates label as one number, or NAN. */
static double rates_number(const char *s)
{
    if (!s || !*s)
        return NAN;
    char *end;
    double v = strtod(s, &end);
    return *end == '\0' ? v : NAN;
}

static const char *g_baseline; /* for the row comparator only */

static int cmp_row(const void *a, const void *b)
{
    const report_row *x = a, *y = b;
    int bx = strcmp(x->strategy, g_baseline) == 0;
    int by = strcmp(y->strategy, g_baseline) == 0;
    if (bx != by)
        return by - bx;
    size_t rx = strategy_rank(x->strategy), ry = strategy_rank(y->strategy);
    if (rx != ry)
        return rx < ry ? -1 : 1;
    int c = strcmp(x->strategy, y->strategy);
    if (c)
        return c;
    c = strcmp(x->setting, y->setting);
    if (c)
        return c;
    int dx = strcmp(x->rates, "default") == 0;
    int dy = strcmp(y->rates, "default") == 0;
    if (dx != dy)
        return dy - dx;
    double nx = rates_number(x->rates), ny = rates_number(y->rates);
    if (isfinite(nx) && isfinite(ny) && nx != ny)
        return nx < ny ? -1 : 1;
    return strcmp(x->rates, y->rates);
}

void report_table_free(report_table *t)
{
    free(t->baseline);
    db_strv_free(t->tasks, t->ntasks);
    for (size_t i = 0; i < t->nrows; i++) {
        free(t->rows[i].strategy);
        free(t->rows[i].rates);
        free(t->rows[i].setting);
    }
    free(t->rows);
    if (t->cells)
        for (size_t i = 0; i < t->nrows * t->ntasks; i++)
            free(t->cells[i].idx);
    free(t->cells);
    free(t->excluded);
    db_strv_free(t->notes, t->nnotes);
    db_strv_free(t->provenance, t->nprovenance);
    memset(t, 0, sizeof *t);
}

/* Whether a result is one of the table's: complete and dropbench's own. */
static int counts(const report_result *r)
{
    return !r->framework && strcmp(r->status, "complete") == 0;
}

/* Which setting fields vary within one task.  The Monte-Carlo passes
 * (docs/MODERN.md) are one: a run evaluated with them trains as the run
 * without them does, so the same seed of both would otherwise meet in one
 * cell, and its evaluation time counts the passes. */
enum { SET_EPOCHS = 1, SET_LR = 2, SET_BATCH = 4, SET_LIMIT = 8, SET_VAL = 16,
       SET_THREADS = 32, SET_MC = 64 };

static int same_num(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

static unsigned varying_fields(const report_set *set, const char *task)
{
    const report_result *first = NULL;
    unsigned v = 0;
    for (size_t i = 0; i < set->n; i++) {
        const report_result *r = &set->res[i];
        if (!counts(r) || strcmp(r->task, task) != 0)
            continue;
        if (!first) {
            first = r;
            continue;
        }
        if (r->epochs != first->epochs) v |= SET_EPOCHS;
        if (!same_num(r->lr, first->lr)) v |= SET_LR;
        if (r->batch != first->batch) v |= SET_BATCH;
        if (r->limit_train != first->limit_train) v |= SET_LIMIT;
        if (r->val != first->val) v |= SET_VAL;
        if (r->threads != first->threads) v |= SET_THREADS;
        if (r->mc_samples != first->mc_samples) v |= SET_MC;
    }
    return v;
}

static char *setting_of(const report_result *r, unsigned v)
{
    char buf[256] = "";
    size_t n = 0;
#define ADD(...) \
    n += (size_t)snprintf(buf + n, n < sizeof buf ? sizeof buf - n : 0, __VA_ARGS__)
    if (v & SET_EPOCHS) ADD("%sepochs=%ld", n ? " " : "", r->epochs);
    if (v & SET_LR) ADD("%slr=%g", n ? " " : "", r->lr);
    if (v & SET_BATCH) ADD("%sbatch=%ld", n ? " " : "", r->batch);
    if (v & SET_LIMIT) ADD("%slimit_train=%ld", n ? " " : "", r->limit_train);
    if (v & SET_VAL) ADD("%sval=%ld", n ? " " : "", r->val);
    if (v & SET_THREADS) ADD("%sthreads=%ld", n ? " " : "", r->threads);
    if ((v & SET_MC) && r->mc_samples > 0) ADD("%smc=%ld", n ? " " : "", r->mc_samples);
#undef ADD
    return db_strdup(buf);
}

static const report_set *g_set; /* for the seed comparator only */

static int cmp_idx_seed(const void *a, const void *b)
{
    const report_result *x = &g_set->res[*(const size_t *)a];
    const report_result *y = &g_set->res[*(const size_t *)b];
    if (x->seed != y->seed)
        return x->seed < y->seed ? -1 : 1;
    /* newest first, so that deduplication keeps it */
    if (x->mtime != y->mtime)
        return x->mtime > y->mtime ? -1 : 1;
    return strcmp(x->file, y->file);
}

static long find_row(const report_table *t, const char *strategy,
                     const char *rates, const char *setting)
{
    for (size_t i = 0; i < t->nrows; i++)
        if (strcmp(t->rows[i].strategy, strategy) == 0 &&
            strcmp(t->rows[i].rates, rates) == 0 &&
            strcmp(t->rows[i].setting, setting) == 0)
            return (long)i;
    return -1;
}

static long find_task(const report_table *t, const char *task)
{
    for (size_t i = 0; i < t->ntasks; i++)
        if (strcmp(t->tasks[i], task) == 0)
            return (long)i;
    return -1;
}

/* Step 1: the complete results' tasks, in display order; the indices of the
 * other results into t->excluded.  -1 when out of memory. */
static int collect_tasks(const report_set *set, report_table *t)
{
    for (size_t i = 0; i < set->n; i++) {
        const report_result *r = &set->res[i];
        if (r->framework) {
            t->nforeign++;
            continue;
        }
        if (strcmp(r->status, "complete") != 0) {
            t->excluded[t->nexcluded++] = i;
            continue;
        }
        t->ncomplete++;
        if (find_task(t, r->task) < 0 &&
            db_strv_push(&t->tasks, &t->ntasks, db_strdup(r->task)) != 0)
            return -1;
    }
    if (t->ncomplete > 0)
        qsort(t->tasks, t->ntasks, sizeof *t->tasks, cmp_task);
    return 0;
}

/* Step 2: every complete result's setting (setting[i]) and the rows they
 * make, sorted; rowof[i] is result i's row, or -1.  -1 when out of
 * memory. */
static int make_rows(const report_set *set, const char *baseline,
                     report_table *t, char **setting, long *rowof)
{
    for (size_t k = 0; k < t->ntasks; k++) {
        unsigned v = varying_fields(set, t->tasks[k]);
        for (size_t i = 0; i < set->n; i++) {
            const report_result *r = &set->res[i];
            if (!counts(r) || strcmp(r->task, t->tasks[k]) != 0)
                continue;
            if (!(setting[i] = setting_of(r, v)))
                return -1;
            if (setting[i][0])
                t->any_setting = 1;
            if (find_row(t, r->strategy, r->rates, setting[i]) >= 0)
                continue;
            report_row *nr = realloc(t->rows, (t->nrows + 1) * sizeof *nr);
            if (!nr)
                return -1;
            t->rows = nr;
            report_row *row = &t->rows[t->nrows];
            memset(row, 0, sizeof *row);
            row->strategy = db_strdup(r->strategy);
            row->rates = db_strdup(r->rates);
            row->setting = db_strdup(setting[i]);
            t->nrows++;
            if (!row->strategy || !row->rates || !row->setting)
                return -1;
            row->rate = rates_number(r->rates);
            if (!isfinite(row->rate) && strcmp(r->rates, "default") == 0)
                row->rate = r->site_rate;
            row->is_baseline = strcmp(r->strategy, baseline) == 0 &&
                               strcmp(r->rates, "default") == 0;
        }
    }
    g_baseline = baseline;
    qsort(t->rows, t->nrows, sizeof *t->rows, cmp_row);
    for (size_t i = 0; i < set->n; i++)
        rowof[i] = setting[i] ? find_row(t, set->res[i].strategy,
                                         set->res[i].rates, setting[i])
                              : -1;
    return 0;
}

/* Step 3, one cell: its results (one per seed, the newest file; a note for
 * each older one), their error statistics and mean time per epoch.  -1 when
 * out of memory. */
static int fill_cell(const report_set *set, report_table *t, size_t ro,
                     size_t k, const long *rowof)
{
    report_cell *c = report_cell_at(t, ro, k);
    c->sec_epoch = c->overhead_pct = c->eval_sec = NAN;
    size_t m = 0;
    for (size_t i = 0; i < set->n; i++)
        if (rowof[i] == (long)ro && strcmp(set->res[i].task, t->tasks[k]) == 0)
            m++;
    if (m == 0)
        return 0;
    if (!(c->idx = malloc(m * sizeof *c->idx)))
        return -1;
    for (size_t i = 0; i < set->n; i++)
        if (rowof[i] == (long)ro && strcmp(set->res[i].task, t->tasks[k]) == 0)
            c->idx[c->n++] = i;
    g_set = set;
    qsort(c->idx, c->n, sizeof *c->idx, cmp_idx_seed);
    /* one result per seed: the newest file */
    size_t w = 0;
    for (size_t j = 0; j < c->n; j++) {
        if (w > 0 && set->res[c->idx[w - 1]].seed == set->res[c->idx[j]].seed) {
            if (db_strv_push(&t->notes, &t->nnotes,
                             db_asprintf("%s and %s are both %s %s seed "
                                         "%ld: using the newer, %s",
                                         set->res[c->idx[w - 1]].file,
                                         set->res[c->idx[j]].file,
                                         t->tasks[k], t->rows[ro].strategy,
                                         set->res[c->idx[j]].seed,
                                         set->res[c->idx[w - 1]].file)) != 0)
                return -1;
            continue;
        }
        c->idx[w++] = c->idx[j];
    }
    c->n = w;
    double *v = malloc(2 * c->n * sizeof *v);
    if (!v)
        return -1;
    double *tv = v + c->n, esum = 0.0;
    size_t neval = 0;
    for (size_t j = 0; j < c->n; j++) {
        const report_result *r = &set->res[c->idx[j]];
        v[j] = r->test_error;
        if (isfinite(r->train_sec_epoch))
            tv[c->ntime++] = r->train_sec_epoch;
        if (isfinite(r->eval_sec_epoch)) {
            esum += r->eval_sec_epoch;
            neval++;
        }
    }
    stats_summarize(v, c->n, &c->err);
    if (c->ntime) {
        stats_summary ts;
        stats_summarize(tv, c->ntime, &ts);
        c->sec_epoch = ts.mean;
        c->sec_sd = ts.sd;
    }
    free(v);
    if (neval)
        c->eval_sec = esum / (double)neval;
    return 0;
}

/* Whether two results have the same base model (results.h base_model);
 * a result that records none pairs with any. */
static int same_base(const report_result *x, const report_result *y)
{
    return !x->base_model[0] || !y->base_model[0] ||
           strcmp(x->base_model, y->base_model) == 0;
}

/* Step 4, one cell (row ro, task k) against the baseline's cell b of the
 * same task and setting: time overhead, and the paired difference over the
 * seeds both have, when they have the same base model (a cell whose
 * results share no base model with the baseline's is not compared, with a
 * note).  -1 when out of memory. */
static int compare_cell(const report_set *set, report_table *t, size_t ro,
                        size_t k, const report_cell *b)
{
    report_cell *c = report_cell_at(t, ro, k);
    if (c->n == 0 || b->n == 0)
        return 0;
    int comparable = 0;
    for (size_t j = 0; j < c->n && !comparable; j++)
        for (size_t l = 0; l < b->n && !comparable; l++)
            comparable = same_base(&set->res[c->idx[j]], &set->res[b->idx[l]]);
    if (!comparable)
        return db_strv_push(&t->notes, &t->nnotes,
                            db_asprintf("%s %s (%s) has another base model than %s "
                                        "(model without dropout layers: fingerprint "
                                        "%s, %s's %s): not compared",
                                        t->tasks[k], t->rows[ro].strategy,
                                        set->res[c->idx[0]].file, t->baseline,
                                        set->res[c->idx[0]].base_model, t->baseline,
                                        set->res[b->idx[0]].base_model));
    c->has_diff = 1;
    if (isfinite(c->sec_epoch) && isfinite(b->sec_epoch) && b->sec_epoch > 0)
        c->overhead_pct = 100.0 * (c->sec_epoch / b->sec_epoch - 1.0);
    double *a = malloc(3 * c->n * sizeof *a);
    if (!a)
        return -1;
    double *bb = a + c->n, *d = a + 2 * c->n;
    size_t np = 0, j = 0, l = 0;
    while (j < c->n && l < b->n) {
        const report_result *x = &set->res[c->idx[j]];
        const report_result *y = &set->res[b->idx[l]];
        if (x->seed == y->seed && !same_base(x, y)) {
            j++;
            l++;
        } else if (x->seed == y->seed) {
            a[np] = x->test_error;
            bb[np++] = y->test_error;
            j++;
            l++;
        } else if (x->seed < y->seed) {
            j++;
        } else {
            l++;
        }
    }
    stats_paired_ci(a, bb, np, d, &c->diff);
    free(a);
    return 0;
}

/* Step 5: the distinct origins of the counted results, with counts, in
 * the order first met (files are read in name order).  -1 when out of
 * memory. */
static int collect_provenance(const report_set *set, report_table *t)
{
    size_t *count = calloc(set->n ? set->n : 1, sizeof *count);
    const char **what = calloc(set->n ? set->n : 1, sizeof *what);
    size_t nd = 0;
    int rc = count && what ? 0 : -1;
    for (size_t i = 0; i < set->n && rc == 0; i++) {
        const report_result *r = &set->res[i];
        if (!counts(r))
            continue;
        const char *p = r->provenance ? r->provenance : "origin not recorded";
        size_t j = 0;
        while (j < nd && strcmp(what[j], p) != 0)
            j++;
        if (j == nd)
            what[nd++] = p;
        count[j]++;
    }
    for (size_t j = 0; j < nd && rc == 0; j++)
        rc = db_strv_push(&t->provenance, &t->nprovenance,
                          db_asprintf("%s: %zu result(s)", what[j], count[j]));
    free(count);
    free(what);
    return rc;
}

int report_aggregate(const report_set *set, const char *baseline,
                     report_table *t, db_err *e)
{
    memset(t, 0, sizeof *t);
    char **setting = calloc(set->n ? set->n : 1, sizeof *setting);
    long *rowof = calloc(set->n ? set->n : 1, sizeof *rowof);
    t->baseline = db_strdup(baseline);
    t->excluded = malloc((set->n ? set->n : 1) * sizeof *t->excluded);
    if (!setting || !rowof || !t->baseline || !t->excluded)
        goto oom;

    if (collect_tasks(set, t) != 0)
        goto oom;
    if (t->ncomplete == 0) {
        size_t nex = t->nexcluded;
        free(setting);
        free(rowof);
        report_table_free(t);
        return db_fail(e, "no complete results (%zu file(s) read, %zu not "
                          "complete, %zu unreadable)",
                       set->nfiles, nex, set->nproblems);
    }
    if (make_rows(set, baseline, t, setting, rowof) != 0)
        goto oom;
    t->cells = calloc(t->nrows * t->ntasks, sizeof *t->cells);
    if (!t->cells)
        goto oom;
    for (size_t ro = 0; ro < t->nrows; ro++)
        for (size_t k = 0; k < t->ntasks; k++)
            if (fill_cell(set, t, ro, k, rowof) != 0)
                goto oom;
    for (size_t ro = 0; ro < t->nrows; ro++) {
        long bro = find_row(t, baseline, "default", t->rows[ro].setting);
        if (bro < 0 || (size_t)bro == ro)
            continue;
        for (size_t k = 0; k < t->ntasks; k++)
            if (compare_cell(set, t, ro, k, report_cell_at(t, (size_t)bro, k)) != 0)
                goto oom;
    }
    if (collect_provenance(set, t) != 0)
        goto oom;
    for (size_t i = 0; i < set->n; i++)
        free(setting[i]);
    free(setting);
    free(rowof);
    return 0;
oom:
    if (setting)
        for (size_t i = 0; i < set->n; i++)
            free(setting[i]);
    free(setting);
    free(rowof);
    report_table_free(t);
    return db_fail(e, "report: out of memory");
}
