/* plot.c - the report's plots: data files and one gnuplot script, run
 * once; SVG and PNG of each plot renamed into place when gnuplot succeeds.
 * See plot.h. */
#include "report/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/str.h"

/* gnuplot string literal in single quotes: '' escapes a quote. */
static void put_gp(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

static void row_label(char *buf, size_t n, const report_row *row, int rates)
{
    size_t m = (size_t)snprintf(buf, n, "%s", row->strategy);
    if (rates && strcmp(row->rates, "default") != 0 && m < n)
        m += (size_t)snprintf(buf + m, n - m, " %s", row->rates);
    if (row->setting[0] && m < n)
        snprintf(buf + m, n - m, " %s", row->setting);
}

/* Safe file name part: keeps [A-Za-z0-9.+-], maps the rest to '_'. */
static void file_part(char *buf, size_t n, const char *s)
{
    size_t i = 0;
    for (; *s && i + 1 < n; s++, i++)
        buf[i] = ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                  (*s >= '0' && *s <= '9') || *s == '.' || *s == '+' ||
                  *s == '-')
                     ? *s
                     : '_';
    buf[i] = '\0';
}

typedef struct plot_ctx {
    const char *outdir;
    FILE *gp;          /* the script being written (memory stream) */
    char **outputs;    /* final names of files gnuplot writes */
    size_t noutputs;
    size_t nplots;
    char **names;      /* the plots' names, nplots of them */
} plot_ctx;

/* Starts a plot: the script draws it twice, SVG then PNG, into *.tmp files
 * that are renamed after gnuplot succeeded. */
static int plot_begin(plot_ctx *p, const char *name)
{
    FILE *g = p->gp;
    fprintf(g, "\n# ---- %s\nreset\nset encoding utf8\n", name);
    fprintf(g, "set terminal svg size 800,500 dynamic enhanced font "
               "'sans,12' background rgb 'white'\n");
    fprintf(g, "set output '%s.svg.tmp'\n", name);
    fputs("set grid lc rgb '#dddddd'\nset key outside right top noenhanced\n"
          "set border 3\nset tics nomirror\n", g);
    if (db_strv_push(&p->outputs, &p->noutputs, db_asprintf("%s.svg", name)) ||
        db_strv_push(&p->outputs, &p->noutputs, db_asprintf("%s.png", name)))
        return -1;
    size_t nn = p->nplots;
    if (db_strv_push(&p->names, &nn, db_strdup(name)))
        return -1;
    p->nplots++;
    return 0;
}

static void plot_end(plot_ctx *p, const char *name)
{
    fprintf(p->gp, "set terminal pngcairo size 1000,625 enhanced font "
                   "'sans,11' background rgb 'white'\n"
                   "set output '%s.png.tmp'\nreplot\nunset output\n",
            name);
}

static int write_data(const plot_ctx *p, const char *name, const char *buf,
                      size_t len, db_err *e)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", p->outdir, name) >=
        (int)sizeof path)
        return db_fail(e, "%s: path too long", p->outdir);
    return db_write_atomic(path, buf, len, e);
}

/* Learning curves of the rows selected by sel (indices), one data block
 * per row: epoch mean lo hi. */
static int plot_curves(plot_ctx *p, const report_set *set,
                       const report_table *t, size_t k, const size_t *sel,
                       size_t nsel, const char *name, const char *title,
                       int label_rates, db_err *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *d = open_memstream(&buf, &len);
    if (!d)
        return db_fail(e, "out of memory");
    size_t nblocks = 0;
    size_t *blockrow = malloc((nsel ? nsel : 1) * sizeof *blockrow);
    if (!blockrow) {
        fclose(d);
        free(buf);
        return db_fail(e, "out of memory");
    }
    for (size_t s = 0; s < nsel; s++) {
        const report_cell *c = report_cell_at(t, sel[s], k);
        size_t ne = SIZE_MAX;
        for (size_t j = 0; j < c->n; j++)
            if (set->res[c->idx[j]].ncurve < ne)
                ne = set->res[c->idx[j]].ncurve;
        if (c->n == 0 || ne == 0 || ne == SIZE_MAX)
            continue;
        char label[256];
        row_label(label, sizeof label, &t->rows[sel[s]], label_rates);
        fprintf(d, "# %s (n=%zu)\n", label, c->n);
        for (size_t ep = 0; ep < ne; ep++) {
            double v[256];
            size_t m = c->n < 256 ? c->n : 256;
            for (size_t j = 0; j < m; j++)
                v[j] = set->res[c->idx[j]].curve[ep];
            stats_summary s2;
            stats_summarize(v, m, &s2);
            fprintf(d, "%zu %.6g %.6g %.6g\n", ep + 1, s2.mean,
                    s2.mean - s2.sd, s2.mean + s2.sd);
        }
        fputs("\n\n", d);
        blockrow[nblocks++] = sel[s];
    }
    fclose(d);
    int rc = 0;
    if (nblocks == 0)
        goto out;
    char dat[512];
    snprintf(dat, sizeof dat, "%s.dat", name);
    if ((rc = write_data(p, dat, buf, len, e)) != 0)
        goto out;
    if ((rc = plot_begin(p, name)) != 0) {
        rc = db_fail(e, "out of memory");
        goto out;
    }
    FILE *g = p->gp;
    fputs("set title ", g);
    put_gp(g, title);
    fputs(" noenhanced\nset xlabel 'epoch'\nset ylabel 'test error (%)'\n"
          "set style fill transparent solid 0.18 noborder\n"
          "set xtics 1\nset autoscale xfixmin\nset autoscale xfixmax\nplot ",
          g);
    for (size_t b = 0; b < nblocks; b++)
        fprintf(g, "%s'%s' index %zu using 1:3:4 with filledcurves lc %zu "
                   "notitle",
                b ? ", \\\n     " : "", dat, b, b + 1);
    for (size_t b = 0; b < nblocks; b++) {
        char label[256];
        row_label(label, sizeof label, &t->rows[blockrow[b]], label_rates);
        fprintf(g, ", \\\n     '%s' index %zu using 1:2 with linespoints "
                   "lc %zu lw 2 pt 7 ps 0.6 title ",
                dat, b, b + 1);
        put_gp(g, label);
    }
    fputc('\n', g);
    plot_end(p, name);
out:
    free(blockrow);
    free(buf);
    return rc;
}

/* A per-task plot's start: its data (buf) written to PREFIX-TASK.dat and
 * the plot begun; name and dat receive the names (256 and 300 bytes). */
static int task_plot_begin(plot_ctx *p, const char *prefix, const char *task,
                           const char *buf, size_t len, char *name, char *dat, db_err *e)
{
    char part[200];
    file_part(part, sizeof part, task);
    snprintf(name, 256, "%s-%s", prefix, part);
    snprintf(dat, 300, "%s.dat", name);
    if (write_data(p, dat, buf, len, e) != 0)
        return -1;
    if (plot_begin(p, name) != 0)
        return db_fail(e, "out of memory");
    return 0;
}

/* 1 when row ro is the first row of its (strategy, setting) group: that row
 * gathers the group's points. */
static int rates_group_first(const report_table *t, size_t ro)
{
    const report_row *row = &t->rows[ro];
    int seen = 0;
    for (size_t q = 0; q < ro; q++)
        if (strcmp(t->rows[q].strategy, row->strategy) == 0 &&
            strcmp(t->rows[q].setting, row->setting) == 0)
            seen = 1;
    return !seen;
}

/* The number of distinct numeric rates with results (column k) in the group
 * of row ro, from ro on. */
static size_t rates_group_points(const report_table *t, size_t k, size_t ro)
{
    const report_row *row = &t->rows[ro];
    size_t npts = 0;
    double last = NAN;
    for (size_t q = ro; q < t->nrows; q++) {
        const report_row *r2 = &t->rows[q];
        if (strcmp(r2->strategy, row->strategy) != 0 ||
            strcmp(r2->setting, row->setting) != 0 || !isfinite(r2->rate) ||
            report_cell_at(t, q, k)->n == 0)
            continue;
        if (!(r2->rate == last))
            npts++;
        last = r2->rate;
    }
    return npts;
}

/* The points of row ro's group (rate, mean, sd; at most 256) into rr, mm and
 * ss, sorted by rate; returns how many. */
static size_t rates_group_sorted(const report_table *t, size_t k, size_t ro,
                                 double *rr, double *mm, double *ss)
{
    const report_row *row = &t->rows[ro];
    /* points sorted by rate: rows are sorted by rates label, with the
     * default first, so sort here */
    size_t m = 0;
    for (size_t q = ro; q < t->nrows && m < 256; q++) {
        const report_row *r2 = &t->rows[q];
        const report_cell *c = report_cell_at(t, q, k);
        if (strcmp(r2->strategy, row->strategy) != 0 ||
            strcmp(r2->setting, row->setting) != 0 || !isfinite(r2->rate) ||
            c->n == 0)
            continue;
        /* the default rates as a point, unless the same rate was also
         * given explicitly */
        int dup = 0;
        for (size_t q2 = ro; q2 < t->nrows && strcmp(r2->rates, "default") == 0; q2++)
            if (q2 != q && strcmp(t->rows[q2].strategy, row->strategy) == 0 &&
                strcmp(t->rows[q2].setting, row->setting) == 0 &&
                t->rows[q2].rate == r2->rate && report_cell_at(t, q2, k)->n > 0)
                dup = 1;
        if (dup)
            continue;
        size_t at = m;
        while (at > 0 && rr[at - 1] > r2->rate) {
            rr[at] = rr[at - 1];
            mm[at] = mm[at - 1];
            ss[at] = ss[at - 1];
            at--;
        }
        rr[at] = r2->rate;
        mm[at] = c->err.mean;
        ss[at] = c->n >= 2 ? c->err.sd : 0.0;
        m++;
    }
    return m;
}

/* The script of task's rates plot: one line per data block of dat, titled
 * names[b], and the baseline (base, when finite) as a dashed line. */
static void rates_script(plot_ctx *p, const char *task, const char *dat,
                         char (*names)[256], size_t nblocks, double base,
                         const char *basename_)
{
    FILE *g = p->gp;
    fputs("set title ", g);
    char title[300];
    snprintf(title, sizeof title, "%s: test error against dropout rate", task);
    put_gp(g, title);
    fputs(" noenhanced\nset xlabel 'dropout rate (probability of dropping)'\n"
          "set ylabel 'final test error (%), mean ± std over seeds'\n"
          "set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05\nplot ",
          g);
    for (size_t b = 0; b < nblocks; b++) {
        fprintf(g, "%s'%s' index %zu using 1:2:3 with yerrorlines lc %zu "
                   "lw 2 pt 7 title ",
                b ? ", \\\n     " : "", dat, b, b + 1);
        put_gp(g, names[b]);
    }
    if (isfinite(base)) {
        fprintf(g, ", \\\n     %.6g with lines lc rgb 'black' dt 2 title ", base);
        put_gp(g, basename_);
    }
    fputc('\n', g);
}

/* Test error against rate, one line per (strategy, setting) with at least
 * two distinct numeric rates; the baseline as a dashed line. */
static int plot_rates(plot_ctx *p, const report_table *t, size_t k,
                      db_err *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *d = open_memstream(&buf, &len);
    if (!d)
        return db_fail(e, "out of memory");
    char names[64][256];
    size_t nblocks = 0;
    double base = NAN;
    char basename_[256] = "";
    for (size_t ro = 0; ro < t->nrows && nblocks < 64; ro++) {
        const report_row *row = &t->rows[ro];
        if (row->is_baseline && row->setting[0] == '\0' &&
            report_cell_at(t, ro, k)->n > 0) {
            base = report_cell_at(t, ro, k)->err.mean;
            snprintf(basename_, sizeof basename_, "%s", row->strategy);
            continue;
        }
        if (!rates_group_first(t, ro) || row->is_baseline)
            continue;
        if (rates_group_points(t, k, ro) < 2)
            continue;
        double rr[256], mm[256], ss[256];
        size_t m = rates_group_sorted(t, k, ro, rr, mm, ss);
        row_label(names[nblocks], sizeof names[nblocks], row, 0);
        fprintf(d, "# %s: rate mean sd\n", names[nblocks]);
        for (size_t j = 0; j < m; j++)
            fprintf(d, "%.6g %.6g %.6g\n", rr[j], mm[j], ss[j]);
        fputs("\n\n", d);
        nblocks++;
    }
    fclose(d);
    int rc = 0;
    if (nblocks == 0)
        goto out;
    char name[256], dat[300];
    if ((rc = task_plot_begin(p, "rates", t->tasks[k], buf, len, name, dat, e)) != 0)
        goto out;
    rates_script(p, t->tasks[k], dat, names, nblocks, base, basename_);
    plot_end(p, name);
out:
    free(buf);
    return rc;
}

/* The forest plot of one task: each row's paired difference against the
 * baseline, the mean as a point and the 95% interval as a bar (a point
 * alone where there are too few seeds), a line at zero. */
static int plot_forest(plot_ctx *p, const report_table *t, size_t k, db_err *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *d = open_memstream(&buf, &len);
    if (!d)
        return db_fail(e, "out of memory");
    size_t n = 0;
    for (size_t ro = t->nrows; ro-- > 0;) { /* bottom to top: first row on top */
        const report_cell *c = report_cell_at(t, ro, k);
        if (!c->has_diff || c->diff.n == 0)
            continue;
        char label[256];
        row_label(label, sizeof label, &t->rows[ro], 1);
        fprintf(d, "%zu %.6g %.6g %.6g \"", n, c->diff.mean,
                c->diff.valid ? c->diff.lo : c->diff.mean,
                c->diff.valid ? c->diff.hi : c->diff.mean);
        for (const char *s = label; *s; s++)
            fputc(*s == '"' ? '\'' : *s, d);
        fputs("\"\n", d);
        n++;
    }
    fclose(d);
    int rc = 0;
    if (n == 0)
        goto out;
    char name[256], dat[300];
    if ((rc = task_plot_begin(p, "forest", t->tasks[k], buf, len, name, dat, e)) != 0)
        goto out;
    FILE *g = p->gp;
    char title[300];
    snprintf(title, sizeof title, "%s: paired difference in final test error against %s "
             "(mean, 95%% interval)", t->tasks[k], t->baseline);
    fputs("set title ", g);
    put_gp(g, title);
    fprintf(g, " noenhanced\nset xlabel 'strategy minus %s (percentage points)'\n"
               "set ytics noenhanced\nset yrange [-0.7:%zu.3]\nset offsets graph 0.05, "
               "graph 0.05, 0, 0\nset arrow from 0, graph 0 to 0, graph 1 nohead dt 2 "
               "lc rgb '#888888'\nplot '%s' using 2:1:3:4:ytic(5) with xerrorbars pt 7 "
               "ps 1 lw 2 lc rgb '#1f77b4' notitle\n",
            t->baseline, n - 1, dat);
    plot_end(p, name);
out:
    free(buf);
    return rc;
}

/* Seconds per epoch overhead against the baseline: clustered bars, one
 * cluster per row at default rates (all rows when none is at default), one
 * bar per task. */
static int plot_overhead(plot_ctx *p, const report_table *t, db_err *e)
{
    int any_default = 0, any = 0;
    for (size_t ro = 0; ro < t->nrows; ro++)
        if (!t->rows[ro].is_baseline &&
            strcmp(t->rows[ro].rates, "default") == 0)
            any_default = 1;
    /* only the tasks with some overhead (gnuplot refuses a column of
     * NaN): col[k] */
    int col[256] = { 0 };
    size_t ncols = 0;
    for (size_t k = 0; k < t->ntasks && k < 256; k++)
        for (size_t ro = 0; ro < t->nrows && !col[k]; ro++)
            if (!t->rows[ro].is_baseline &&
                (!any_default || strcmp(t->rows[ro].rates, "default") == 0) &&
                isfinite(report_cell_at(t, ro, k)->overhead_pct))
                col[k] = 1, ncols++;
    char *buf = NULL;
    size_t len = 0;
    FILE *d = open_memstream(&buf, &len);
    if (!d)
        return db_fail(e, "out of memory");
    fputs("row", d);
    for (size_t k = 0; k < t->ntasks && k < 256; k++)
        if (col[k])
            fprintf(d, " \"%s\"", t->tasks[k]);
    fputc('\n', d);
    for (size_t ro = 0; ro < t->nrows; ro++) {
        const report_row *row = &t->rows[ro];
        if (row->is_baseline ||
            (any_default && strcmp(row->rates, "default") != 0))
            continue;
        int has = 0;
        for (size_t k = 0; k < t->ntasks; k++)
            if (isfinite(report_cell_at(t, ro, k)->overhead_pct))
                has = 1;
        if (!has)
            continue;
        char label[256];
        row_label(label, sizeof label, row, 1);
        fputc('"', d);
        for (const char *s = label; *s; s++)
            fputc(*s == '"' ? '\'' : *s, d);
        fputc('"', d);
        for (size_t k = 0; k < t->ntasks && k < 256; k++) {
            if (!col[k])
                continue;
            double v = report_cell_at(t, ro, k)->overhead_pct;
            if (isfinite(v))
                fprintf(d, " %.4g", v);
            else
                fputs(" NaN", d);
        }
        fputc('\n', d);
        any = 1;
    }
    fclose(d);
    int rc = 0;
    if (!any)
        goto out;
    if ((rc = write_data(p, "overhead.dat", buf, len, e)) != 0)
        goto out;
    if (plot_begin(p, "overhead") != 0) {
        rc = db_fail(e, "out of memory");
        goto out;
    }
    FILE *g = p->gp;
    fputs("set title ", g);
    char title[300];
    snprintf(title, sizeof title,
             "training time per epoch relative to %s (overhead, %%)", t->baseline);
    put_gp(g, title);
    fprintf(g, " noenhanced\nset ylabel 'overhead (%%)'\n"
               "set style data histogram\n"
               "set style histogram cluster gap 1\n"
               "set style fill solid 0.8 border -1\nset boxwidth 0.9\n"
               "set xtics rotate by -30 noenhanced\nset xzeroaxis lt -1\n"
               "set yrange [*<0:0<*]\n"
               "set key noenhanced autotitle columnhead\n"
               "plot for [c=2:%zu] 'overhead.dat' using c:xtic(1) title "
               "columnhead(c)\n",
            ncols + 1);
    plot_end(p, "overhead");
out:
    free(buf);
    return rc;
}

static int run_gnuplot(const char *outdir, db_err *e)
{
    const char *bin = getenv("GNUPLOT");
    if (!bin || !*bin)
        bin = "gnuplot";
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return db_fail(e, "fork: %s", strerror(errno));
    if (pid == 0) {
        if (chdir(outdir) != 0)
            _exit(126);
        int fd = open("gnuplot.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execlp(bin, bin, "plots.gp", (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return db_fail(e, "waitpid: %s", strerror(errno));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        return db_fail(e, "cannot run '%s': gnuplot is not installed "
                          "(Debian: apt-get install gnuplot-nox; or set "
                          "$GNUPLOT)", bin);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return db_fail(e, "gnuplot failed on %s/plots.gp; see %s/gnuplot.log",
                       outdir, outdir);
    return 0;
}

int report_plots(const report_set *set, const report_table *t,
                 const char *outdir, size_t *nplots, char ***names, db_err *e)
{
    *nplots = 0;
    if (names)
        *names = NULL;
    if (db_mkdirs(outdir, e) != 0)
        return -1;
    char *script = NULL;
    size_t slen = 0;
    plot_ctx p = { outdir, open_memstream(&script, &slen), NULL, 0, 0, NULL };
    if (!p.gp)
        return db_fail(e, "out of memory");
    fputs("# written by dropbench report --plots; run: gnuplot plots.gp\n",
          p.gp);
    size_t *sel = malloc((t->nrows ? t->nrows : 1) * sizeof *sel);
    int rc = sel ? 0 : db_fail(e, "out of memory");
    for (size_t k = 0; k < t->ntasks && rc == 0; k++) {
        char part[200], name[512], title[512];
        file_part(part, sizeof part, t->tasks[k]);
        /* every row at default rates, one curve each */
        size_t nsel = 0;
        for (size_t ro = 0; ro < t->nrows; ro++)
            if (strcmp(t->rows[ro].rates, "default") == 0)
                sel[nsel++] = ro;
        snprintf(name, sizeof name, "curves-%s", part);
        snprintf(title, sizeof title, "%s: test error per epoch (mean ± std "
                 "over seeds)", t->tasks[k]);
        rc = plot_curves(&p, set, t, k, sel, nsel, name, title, 0, e);
        /* strategies run at several rates: one plot each */
        for (size_t ro = 0; ro < t->nrows && rc == 0; ro++) {
            const report_row *row = &t->rows[ro];
            int first = 1;
            for (size_t q = 0; q < ro; q++)
                if (strcmp(t->rows[q].strategy, row->strategy) == 0)
                    first = 0;
            if (!first)
                continue;
            nsel = 0;
            int nondefault = 0;
            for (size_t q = ro; q < t->nrows; q++)
                if (strcmp(t->rows[q].strategy, row->strategy) == 0 &&
                    report_cell_at(t, q, k)->n > 0) {
                    sel[nsel++] = q;
                    nondefault |= strcmp(t->rows[q].rates, "default") != 0;
                }
            if (nsel < 2 || !nondefault)
                continue;
            char spart[200];
            file_part(spart, sizeof spart, row->strategy);
            snprintf(name, sizeof name, "curves-%s-%s", part, spart);
            snprintf(title, sizeof title, "%s, %s: test error per epoch by "
                     "rate", t->tasks[k], row->strategy);
            rc = plot_curves(&p, set, t, k, sel, nsel, name, title, 1, e);
        }
        if (rc == 0)
            rc = plot_rates(&p, t, k, e);
        if (rc == 0)
            rc = plot_forest(&p, t, k, e);
    }
    if (rc == 0)
        rc = plot_overhead(&p, t, e);
    free(sel);
    fclose(p.gp);
    if (rc == 0 && p.nplots == 0)
        rc = db_fail(e, "nothing to plot: no result has per-epoch test "
                        "errors or timings");
    char path[4096];
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/plots.gp", outdir);
        rc = db_write_atomic(path, script, slen, e);
    }
    if (rc == 0)
        rc = run_gnuplot(outdir, e);
    for (size_t i = 0; i < p.noutputs; i++) {
        char tmp[4200];
        snprintf(path, sizeof path, "%s/%s", outdir, p.outputs[i]);
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        if (rc == 0) {
            if (rename(tmp, path) != 0)
                rc = db_fail(e, "%s: gnuplot did not write it (%s)", tmp,
                             strerror(errno));
        } else {
            unlink(tmp);
        }
    }
    db_strv_free(p.outputs, p.noutputs);
    free(script);
    if (rc == 0)
        *nplots = p.nplots;
    if (rc == 0 && names)
        *names = p.names;
    else
        db_strv_free(p.names, p.nplots);
    return rc;
}
