/* write.c - the report's document: which tables, titles and notes, in what
 * order; the formats (format_*.c) print it.  See write.h. */
#include "report/write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/format.h"
#include "util/str.h"

int report_parse_format(const char *s, enum report_format *f, db_err *e)
{
    if (strcmp(s, "md") == 0 || strcmp(s, "markdown") == 0)
        *f = REPORT_MD;
    else if (strcmp(s, "csv") == 0)
        *f = REPORT_CSV;
    else if (strcmp(s, "latex") == 0 || strcmp(s, "tex") == 0)
        *f = REPORT_LATEX;
    else if (strcmp(s, "html") == 0)
        *f = REPORT_HTML;
    else {
        static const char *const names[] = { "md", "csv", "latex", "tex", "html" };
        return db_fail_unknown(e, "--format", "format", s, names, 5);
    }
    return 0;
}

/* The text format that prints fmt's document (not CSV). */
static const report_text_format *text_format(enum report_format fmt)
{
    return fmt == REPORT_LATEX ? &report_format_latex
           : fmt == REPORT_HTML ? &report_format_html
                                : &report_format_md;
}

static void write_list(FILE *f, const report_text_format *tf,
                       const char *title, char *const *items, size_t n)
{
    if (n > 0)
        tf->list(f, title, items, n);
}

/* A row's rates column: its rates, with its setting when it has one. */
static char *rates_text(const report_row *rw)
{
    return rw->setting && rw->setting[0] ? db_asprintf("%s, %s", rw->rates, rw->setting)
                                         : db_strdup(rw->rates);
}

/* Prints a grid of (nrows + 1) * ncols cells unless memory ran out (oom),
 * then frees it; -1 on oom. */
static int grid_done(FILE *f, const report_text_format *tf, const char *title,
                     char **cells, size_t ncols, size_t nleft, size_t nrows, int oom)
{
    if (!oom)
        tf->grid(f, title, cells, ncols, nleft, nrows);
    for (size_t i = 0; i < (nrows + 1) * ncols; i++)
        free(cells[i]);
    free(cells);
    return oom ? -1 : 0;
}

/* The cross-check table: one row per (task, strategy, framework). */
static int write_crosscheck(FILE *f, const report_text_format *tf,
                            const report_table *t, const report_crosscheck *x)
{
    enum { NC = 8 };
    char **cells = calloc((x->n + 1) * NC, sizeof *cells);
    if (!cells)
        return -1;
    static const char *const head[NC] = {
        "task", "strategy", "framework", "dropbench", "other",
        "dropbench - other (pp)", "95% interval (Welch)", "within seed noise",
    };
    int oom = 0;
    for (size_t c = 0; c < NC; c++)
        oom |= !(cells[c] = db_strdup(head[c]));
    for (size_t i = 0; i < x->n && !oom; i++) {
        const report_xrow *r = &x->rows[i];
        char **row = cells + (i + 1) * NC;
        row[0] = db_strdup(r->task);
        row[1] = db_strdup(t->rows[r->row].strategy);
        row[2] = db_strdup(r->framework);
        row[3] = db_asprintf("%.2f ± %.2f (n=%zu)", r->db.mean, r->db.sd, r->db.n);
        row[4] = db_asprintf("%.2f ± %.2f (n=%zu)", r->other.mean, r->other.sd,
                             r->other.n);
        row[5] = db_asprintf("%+.2f", r->diff.mean);
        row[6] = r->diff.valid ? db_asprintf("[%+.2f, %+.2f]", r->diff.lo, r->diff.hi)
                               : db_strdup("-");
        row[7] = db_strdup(!r->diff.valid      ? "n too small"
                           : r->diff.significant ? "no"
                                                 : "yes");
        for (size_t c = 0; c < NC; c++)
            oom |= !row[c];
    }
    return grid_done(f, tf, "dropbench beside another framework (final test error %, "
                            "mean ± std over seeds)",
                     cells, NC, 3, x->n, oom);
}

/* The calibration table (docs/MODERN.md): one row per cell of t whose
 * results have a "calibration", the means over those seeds.  Nothing when
 * no result has one. */
static int write_calibration(FILE *f, const report_text_format *tf,
                             const report_set *set, const report_table *t)
{
    enum { NC = 11 };
    size_t nrows = 0;
    for (size_t ro = 0; ro < t->nrows; ro++)
        for (size_t k = 0; k < t->ntasks; k++) {
            const report_cell *c = report_cell_at(t, ro, k);
            int any = 0;
            for (size_t i = 0; i < c->n; i++)
                any |= set->res[c->idx[i]].mc_samples > 0;
            nrows += any;
        }
    if (nrows == 0)
        return 0;
    char **cells = calloc((nrows + 1) * NC, sizeof *cells);
    if (!cells)
        return -1;
    static const char *const head[NC] = {
        "task", "strategy", "rates", "T", "seeds", "error % (det.)", "error % (MC)",
        "NLL (det.)", "NLL (MC)", "ECE (det.)", "ECE (MC)",
    };
    int oom = 0;
    for (size_t c = 0; c < NC; c++)
        oom |= !(cells[c] = db_strdup(head[c]));
    size_t r = 0;
    for (size_t k = 0; k < t->ntasks && !oom; k++)
        for (size_t ro = 0; ro < t->nrows && !oom; ro++) {
            const report_cell *c = report_cell_at(t, ro, k);
            double sum[6] = { 0 };
            size_t n = 0;
            long T = 0;
            int mixed = 0;
            for (size_t i = 0; i < c->n; i++) {
                const report_result *x = &set->res[c->idx[i]];
                if (x->mc_samples <= 0)
                    continue;
                mixed |= T && T != x->mc_samples;
                T = x->mc_samples;
                for (int j = 0; j < 6; j++)
                    sum[j] += x->cal[j];
                n++;
            }
            if (n == 0)
                continue;
            char **row = cells + (++r) * NC;
            const report_row *rw = &t->rows[ro];
            row[0] = db_strdup(t->tasks[k]);
            row[1] = db_strdup(rw->strategy);
            row[2] = rates_text(rw);
            row[3] = mixed ? db_strdup("mixed") : db_asprintf("%ld", T);
            row[4] = db_asprintf("%zu", n);
            row[5] = db_asprintf("%.2f", sum[0] / (double)n);
            row[6] = db_asprintf("%.2f", sum[3] / (double)n);
            row[7] = db_asprintf("%.4f", sum[1] / (double)n);
            row[8] = db_asprintf("%.4f", sum[4] / (double)n);
            row[9] = db_asprintf("%.4f", sum[2] / (double)n);
            row[10] = db_asprintf("%.4f", sum[5] / (double)n);
            for (size_t j = 0; j < NC; j++)
                oom |= !row[j];
        }
    return grid_done(f, tf, "Calibration on the test set: deterministic evaluation and "
                            "the Monte-Carlo dropout average of T passes (mean over "
                            "seeds; ECE over 15 bins)",
                     cells, NC, 4, nrows, oom);
}

/* The variance-shift table (docs/MODERN.md): one row per cell of t whose
 * results have a "variance_shift", each batchnorm layer's mean ratio
 * (running variance / test-time input variance), the mean over seeds.
 * Nothing when no result has one. */
static int write_shift(FILE *f, const report_text_format *tf, const report_set *set,
                       const report_table *t)
{
    size_t nrows = 0, nl = 0;
    for (size_t ro = 0; ro < t->nrows; ro++)
        for (size_t k = 0; k < t->ntasks; k++) {
            const report_cell *c = report_cell_at(t, ro, k);
            int any = 0;
            for (size_t i = 0; i < c->n; i++) {
                const report_result *x = &set->res[c->idx[i]];
                any |= x->nshift > 0;
                nl = x->nshift > nl ? x->nshift : nl;
            }
            nrows += any;
        }
    if (nrows == 0)
        return 0;
    const size_t NC = 4 + nl;
    char **cells = calloc((nrows + 1) * NC, sizeof *cells);
    if (!cells)
        return -1;
    int oom = 0;
    static const char *const head[4] = { "task", "strategy", "rates", "seeds" };
    for (size_t c = 0; c < NC; c++)
        oom |= !(cells[c] = c < 4 ? db_strdup(head[c]) : db_asprintf("BN %zu", c - 3));
    size_t r = 0;
    for (size_t k = 0; k < t->ntasks && !oom; k++)
        for (size_t ro = 0; ro < t->nrows && !oom; ro++) {
            const report_cell *c = report_cell_at(t, ro, k);
            double sum[16] = { 0 };
            size_t n = 0, cnt[16] = { 0 };
            for (size_t i = 0; i < c->n; i++) {
                const report_result *x = &set->res[c->idx[i]];
                if (!x->nshift)
                    continue;
                for (size_t j = 0; j < x->nshift; j++) {
                    sum[j] += x->shift[j];
                    cnt[j]++;
                }
                n++;
            }
            if (n == 0)
                continue;
            char **row = cells + (++r) * NC;
            const report_row *rw = &t->rows[ro];
            row[0] = db_strdup(t->tasks[k]);
            row[1] = db_strdup(rw->strategy);
            row[2] = rates_text(rw);
            row[3] = db_asprintf("%zu", n);
            for (size_t j = 0; j < nl; j++)
                row[4 + j] = cnt[j] ? db_asprintf("%.3f", sum[j] / (double)cnt[j])
                                    : db_strdup("-");
            for (size_t j = 0; j < NC; j++)
                oom |= !row[j];
        }
    return grid_done(f, tf, "Variance shift at the batchnorm layers: running variance / "
                            "the variance of the layer's input on the test set with "
                            "dropout off (mean over channels, then over seeds; 1 = no "
                            "shift)",
                     cells, NC, 3, nrows, oom);
}

/* "file: status[: error]" of each result the tables exclude, into *excl;
 * -1 when out of memory (nothing kept). */
static int excluded_lines(const report_set *set, const report_table *t,
                          char ***excl, size_t *nexcl)
{
    for (size_t i = 0; i < t->nexcluded; i++) {
        const report_result *r = &set->res[t->excluded[i]];
        if (db_strv_push(excl, nexcl,
                     db_asprintf("%s: %s%s%s", r->file, r->status,
                               r->error ? ": " : "",
                               r->error ? r->error : "")) != 0) {
            db_strv_free(*excl, *nexcl);
            *excl = NULL;
            *nexcl = 0;
            return -1;
        }
    }
    return 0;
}

/* The tables, sections and plots of the document, from the heading on;
 * -1 when out of memory. */
static int write_body(FILE *f, const report_text_format *tf, const report_set *set,
                      const report_table *t, const report_doc *doc)
{
    char title[256];
    tf->heading(f, doc->title ? doc->title : "dropbench report", set, t);
    tf->table(f, t, REPORT_TAB_ERROR,
              "Final test error (%), mean ± std over seeds");
    snprintf(title, sizeof title,
             "Paired difference in test error against %s (percentage points)",
             t->baseline);
    tf->table(f, t, REPORT_TAB_DIFF, title);
    snprintf(title, sizeof title,
             "Training time per epoch (s, evaluation excluded), mean ± std over "
             "seeds, and overhead relative to %s", t->baseline);
    tf->table(f, t, REPORT_TAB_TIME, title);
    tf->table(f, t, REPORT_TAB_EVAL,
              "Evaluation time per epoch (s, the full test set), mean over seeds");
    if (doc->xc && doc->xc->n > 0 && write_crosscheck(f, tf, t, doc->xc) != 0)
        return -1;
    if (write_calibration(f, tf, set, t) != 0 || write_shift(f, tf, set, t) != 0)
        return -1;
    if (doc->repro && doc->repro->nrows > 0) {
        tf->grid(f, "Reproductions: each run beside the paper's figure",
                 doc->repro->cells, REPORT_REPRO_COLS, 3, doc->repro->nrows);
        write_list(f, tf, "Reproductions: what each preset scaled, and whether "
                          "the paper's order of its strategies held",
                   doc->repro->lines, doc->repro->nlines);
    }
    if (tf->figures)
        tf->figures(f, set, t);
    if (doc->nplots > 0)
        tf->images(f, "Plots", doc->plot_prefix ? doc->plot_prefix : "", doc->plots,
                   doc->nplots);
    return 0;
}

/* The notes the differences call for: *missing_base when no row is the
 * baseline's, *small when an interval lacks seeds, *tiny when one rests on
 * 2 or 3 paired seeds. */
static void diff_flags(const report_table *t, int *missing_base, int *small, int *tiny)
{
    *small = 0;
    *tiny = 0;
    *missing_base = 1;
    for (size_t ro = 0; ro < t->nrows; ro++) {
        if (t->rows[ro].is_baseline)
            *missing_base = 0;
        for (size_t k = 0; k < t->ntasks; k++) {
            const report_cell *c = report_cell_at(t, ro, k);
            if (c->has_diff && c->diff.n > 0 && !c->diff.valid)
                *small = 1;
            if (c->has_diff && (c->diff.n == 2 || c->diff.n == 3))
                *tiny = 1;
        }
    }
}

/* The document's notes into *notes; nonzero when out of memory. */
static int report_notes(const report_table *t, const report_doc *doc,
                        char ***notes, size_t *nnotes)
{
    int missing_base, small, tiny;
    diff_flags(t, &missing_base, &small, &tiny);
    int oom = 0;
    oom |= db_strv_push(notes, nnotes, db_asprintf(
        "Differences are strategy minus %s in the same task and seed (same "
        "initialisation and data order), %s at its default rates and the same "
        "setting; mean and 95%% t-interval over seeds; * marks an interval "
        "that excludes zero.",
        t->baseline, t->baseline));
    oom |= db_strv_push(notes, nnotes, db_strdup(
        "Training time per epoch is the wall time of the training passes "
        "measured inside each run (evaluation excluded); workers running side "
        "by side (sweep --jobs) or other load on the machine inflate it, so "
        "compare overheads of runs made under the same conditions."));
    if (doc->xc && doc->xc->n > 0)
        oom |= db_strv_push(notes, nnotes, db_strdup(
            "Cross-check: each side draws its own initial weights, data order "
            "and masks from the seed, so the sides are compared as samples: "
            "the difference of the means with a Welch 95% interval; 'within "
            "seed noise' when the interval contains zero."));
    if (doc->xc)
        for (size_t i = 0; i < doc->xc->nnotes; i++)
            oom |= db_strv_push(notes, nnotes, db_strdup(doc->xc->notes[i]));
    if (missing_base)
        oom |= db_strv_push(notes, nnotes, db_asprintf(
            "There are no complete results of the baseline '%s' at default "
            "rates, so no differences or overheads can be computed (choose "
            "another with --baseline).",
            t->baseline));
    if (small)
        oom |= db_strv_push(notes, nnotes, db_strdup(
            "n too small: fewer than two paired seeds, so no interval can be "
            "computed; run more seeds."));
    if (tiny)
        oom |= db_strv_push(notes, nnotes, db_strdup(
            "With 2 or 3 paired seeds the interval is wide (t = 12.71 and "
            "4.30): a difference that is not marked may still be real."));
    for (size_t i = 0; i < t->nnotes; i++)
        oom |= db_strv_push(notes, nnotes, db_strdup(t->notes[i]));
    return oom;
}

/* The closing lists (notes, provenance, exclusions, unverified data,
 * unreadable files), the appendix and the footer. */
static void write_tail(FILE *f, const report_text_format *tf, const report_set *set,
                       const report_table *t, const report_doc *doc,
                       char **const lists[3], const size_t nlists[3])
{
    write_list(f, tf, "Notes", lists[0], nlists[0]);
    write_list(f, tf, "Provenance (code and BLAS kernels of the results in the tables)",
               t->provenance, t->nprovenance);
    write_list(f, tf, "Excluded (not complete)", lists[1], nlists[1]);
    write_list(f, tf, "Trained on data that is not verified (a file's sha256 differs "
               "from docs/DATA.md)", lists[2], nlists[2]);
    write_list(f, tf, "Unreadable files (skipped)", set->problems,
               set->nproblems);
    if (doc->append_len) {
        if (tf->appendix)
            tf->appendix(f, doc->append, doc->append_len);
        else
            fwrite(doc->append, 1, doc->append_len, f);
    }
    if (tf->footer)
        tf->footer(f);
}

int report_write(FILE *f, const report_set *set, const report_table *t,
                 enum report_format fmt, const report_doc *doc, db_err *e)
{
    static const report_doc none;
    if (!doc)
        doc = &none;
    if (fmt == REPORT_CSV) {
        report_csv_write(f, t);
        return ferror(f) ? db_fail(e, "report: write error") : 0;
    }
    /* lists[0]: notes, [1]: excluded results, [2]: results on data that
     * is not verified (--allow-unverified) */
    char **lists[3] = { NULL, NULL, NULL };
    size_t nlists[3] = { 0, 0, 0 };
    if (excluded_lines(set, t, &lists[1], &nlists[1]) != 0)
        return db_fail(e, "report: out of memory");
    const report_text_format *tf = text_format(fmt);
    int oom = write_body(f, tf, set, t, doc) != 0;
    if (!oom)
        oom = report_notes(t, doc, &lists[0], &nlists[0]);
    for (size_t i = 0; i < set->n && !oom; i++)
        if (set->res[i].unverified)
            oom |= db_strv_push(&lists[2], &nlists[2], db_strdup(set->res[i].file));
    if (!oom)
        write_tail(f, tf, set, t, doc, lists, nlists);
    for (int i = 0; i < 3; i++)
        db_strv_free(lists[i], nlists[i]);
    return oom ? db_fail(e, "report: out of memory")
               : ferror(f) ? db_fail(e, "report: write error") : 0;
}
