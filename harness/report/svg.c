/* svg.c - inline SVG figures of the HTML report.  See svg.h. */
#include "report/svg.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "report/stats.h"

#define W 640.0          /* figure width */
#define LABEL 190.0      /* room for the row labels */
#define RIGHT 24.0
#define ROW 24.0         /* height of one row */
#define TOP 34.0         /* room for the title */
#define BOTTOM 40.0      /* room for the axis */

static const char *const palette[] = {
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
};

void svg_put_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* A row's label: strategy, then rates and setting when not the default. */
static void put_label(FILE *f, const report_row *row)
{
    svg_put_text(f, row->strategy);
    if (strcmp(row->rates, "default") != 0) {
        fputs(" (", f);
        svg_put_text(f, row->rates);
        fputc(')', f);
    }
    if (row->setting[0]) {
        fputc(' ', f);
        svg_put_text(f, row->setting);
    }
}

/* An axis range [lo, hi] widened to whole steps of a 1-2-5 step giving
 * about five ticks. */
typedef struct axis {
    double lo, hi, step;
} axis;

static axis nice_axis(double lo, double hi)
{
    axis a;
    if (!(hi > lo)) {
        double m = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1.0;
        lo -= m;
        hi += m;
    }
    double raw = (hi - lo) / 5.0, mag = pow(10.0, floor(log10(raw)));
    double r = raw / mag;
    a.step = (r <= 1.0 ? 1.0 : r <= 2.0 ? 2.0 : r <= 5.0 ? 5.0 : 10.0) * mag;
    a.lo = floor(lo / a.step) * a.step;
    a.hi = ceil(hi / a.step) * a.step;
    return a;
}

static double xpos(const axis *a, double v, double x0, double w)
{
    return x0 + (v - a->lo) / (a->hi - a->lo) * w;
}

static void open_svg(FILE *f, double h, const char *title, const char *task)
{
    fprintf(f, "<svg class=\"fig\" width=\"%.0f\" "
               "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n",
            W, h, W, h);
    fputs("<text class=\"ttl\" x=\"8\" y=\"20\">", f);
    svg_put_text(f, task);
    fputs(": ", f);
    svg_put_text(f, title);
    fputs("</text>\n", f);
}

/* A horizontal value axis under rows [y0, y1]: grid lines, ticks, labels
 * (fmt for one number) and the axis title. */
static void x_axis(FILE *f, const axis *a, double y0, double y1, const char *fmt,
                   const char *name)
{
    double x0 = LABEL, w = W - LABEL - RIGHT;
    for (int i = 0;; i++) {
        double v = a->lo + i * a->step;
        if (v > a->hi + 1e-9 * a->step)
            break;
        double x = xpos(a, v, x0, w);
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                x, y0, x, y1);
        char buf[64];
        snprintf(buf, sizeof buf, fmt, fabs(v) < 1e-12 * a->step ? 0.0 : v);
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">%s</text>\n", x, y1 + 14,
                buf);
    }
    fprintf(f, "<text class=\"axt\" x=\"%.1f\" y=\"%.1f\">", x0 + w / 2, y1 + 32);
    svg_put_text(f, name);
    fputs("</text>\n", f);
}

static void row_text(FILE *f, const report_row *row, double y)
{
    fprintf(f, "<text class=\"lab\" x=\"%.1f\" y=\"%.1f\">", LABEL - 8, y + 4);
    put_label(f, row);
    fputs("</text>\n", f);
}

int svg_forest(FILE *f, const report_table *t, size_t k)
{
    size_t n = 0;
    double lo = 0.0, hi = 0.0;
    for (size_t ro = 0; ro < t->nrows; ro++) {
        const report_cell *c = report_cell_at(t, ro, k);
        if (!c->has_diff || c->diff.n == 0)
            continue;
        n++;
        double a = c->diff.valid ? c->diff.lo : c->diff.mean;
        double b = c->diff.valid ? c->diff.hi : c->diff.mean;
        lo = fmin(lo, a);
        hi = fmax(hi, b);
    }
    if (n == 0)
        return 0;
    axis ax = nice_axis(lo, hi);
    double h = TOP + ROW * (double)n + BOTTOM, y1 = TOP + ROW * (double)n;
    char title[200];
    snprintf(title, sizeof title, "paired difference in final test error against %s, "
                                  "mean and 95%% interval", t->baseline);
    open_svg(f, h, title, t->tasks[k]);
    x_axis(f, &ax, TOP, y1, "%+.2f", "strategy minus baseline (percentage points; "
                                      "left of 0: fewer errors)");
    double x0 = LABEL, w = W - LABEL - RIGHT, zx = xpos(&ax, 0.0, x0, w);
    fprintf(f, "<line class=\"zero\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
            zx, TOP - 4, zx, y1);
    size_t i = 0;
    for (size_t ro = 0; ro < t->nrows; ro++) {
        const report_cell *c = report_cell_at(t, ro, k);
        if (!c->has_diff || c->diff.n == 0)
            continue;
        double y = TOP + ROW * ((double)i + 0.5);
        row_text(f, &t->rows[ro], y);
        const char *cls = !c->diff.valid ? "pt na" : c->diff.significant ? "pt sig" : "pt";
        fprintf(f, "<g><title>%+.2f pp", c->diff.mean);
        if (c->diff.valid)
            fprintf(f, " [%+.2f, %+.2f]", c->diff.lo, c->diff.hi);
        fprintf(f, ", n=%zu paired seeds%s</title>\n", c->diff.n,
                c->diff.valid ? "" : " (too few for an interval)");
        if (c->diff.valid)
            fprintf(f, "<line class=\"ci\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                    xpos(&ax, c->diff.lo, x0, w), y, xpos(&ax, c->diff.hi, x0, w), y);
        fprintf(f, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\"/></g>\n", cls,
                xpos(&ax, c->diff.mean, x0, w), y);
        i++;
    }
    fputs("</svg>\n", f);
    return 1;
}

int svg_errors(FILE *f, const report_set *set, const report_table *t, size_t k)
{
    size_t n = 0;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t ro = 0; ro < t->nrows; ro++) {
        const report_cell *c = report_cell_at(t, ro, k);
        if (c->n == 0)
            continue;
        n++;
        lo = fmin(lo, c->err.mean - c->err.sd);
        hi = fmax(hi, c->err.mean + c->err.sd);
        for (size_t j = 0; j < c->n; j++) {
            lo = fmin(lo, set->res[c->idx[j]].test_error);
            hi = fmax(hi, set->res[c->idx[j]].test_error);
        }
    }
    if (n == 0)
        return 0;
    axis ax = nice_axis(fmax(lo, 0.0), hi); /* an error is never below 0 */
    double y1 = TOP + ROW * (double)n;
    open_svg(f, y1 + BOTTOM, "final test error, mean, mean ± std and every seed", t->tasks[k]);
    x_axis(f, &ax, TOP, y1, "%.2f", "final test error (%)");
    double x0 = LABEL, w = W - LABEL - RIGHT;
    size_t i = 0;
    for (size_t ro = 0; ro < t->nrows; ro++) {
        const report_cell *c = report_cell_at(t, ro, k);
        if (c->n == 0)
            continue;
        double y = TOP + ROW * ((double)i + 0.5);
        row_text(f, &t->rows[ro], y);
        fprintf(f, "<g><title>%.2f ± %.2f %%, n=%zu</title>\n", c->err.mean, c->err.sd, c->n);
        if (c->n >= 2)
            fprintf(f, "<line class=\"ci\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                    xpos(&ax, fmax(c->err.mean - c->err.sd, ax.lo), x0, w), y,
                    xpos(&ax, c->err.mean + c->err.sd, x0, w), y);
        for (size_t j = 0; j < c->n; j++) {
            double x = xpos(&ax, set->res[c->idx[j]].test_error, x0, w);
            fprintf(f, "<line class=\"seed\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                    x, y - 7, x, y + 7);
        }
        fprintf(f, "<circle class=\"pt%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\"/></g>\n",
                t->rows[ro].is_baseline ? " base" : "", xpos(&ax, c->err.mean, x0, w), y);
        i++;
    }
    fputs("</svg>\n", f);
    return 1;
}

/* The mean test error per epoch of a cell over its seeds, for the epochs
 * every seed has; returns that count (at most cap). */
static size_t mean_curve(const report_set *set, const report_cell *c, double *out, size_t cap)
{
    size_t ne = SIZE_MAX;
    for (size_t j = 0; j < c->n; j++)
        if (set->res[c->idx[j]].ncurve < ne)
            ne = set->res[c->idx[j]].ncurve;
    if (c->n == 0 || ne == SIZE_MAX)
        return 0;
    if (ne > cap)
        ne = cap;
    for (size_t ep = 0; ep < ne; ep++) {
        double s = 0.0;
        for (size_t j = 0; j < c->n; j++)
            s += set->res[c->idx[j]].curve[ep];
        out[ep] = s / (double)c->n;
    }
    return ne;
}

int svg_curves(FILE *f, const report_set *set, const report_table *t, size_t k)
{
    enum { CAP = 1000 };
    static double v[CAP];
    size_t nlines = 0, emax = 0;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t ro = 0; ro < t->nrows; ro++) {
        if (strcmp(t->rows[ro].rates, "default") != 0)
            continue;
        size_t ne = mean_curve(set, report_cell_at(t, ro, k), v, CAP);
        if (ne < 2)
            continue;
        nlines++;
        if (ne > emax)
            emax = ne;
        for (size_t ep = 0; ep < ne; ep++) {
            lo = fmin(lo, v[ep]);
            hi = fmax(hi, v[ep]);
        }
    }
    if (nlines == 0)
        return 0;
    const double px0 = 56, pw = W - px0 - 180, py0 = TOP, ph = 240;
    double h = py0 + ph + BOTTOM;
    if (h < TOP + 16.0 * (double)nlines + 10)
        h = TOP + 16.0 * (double)nlines + 10;
    open_svg(f, h, "test error per epoch, mean over seeds (default rates)", t->tasks[k]);
    axis ay = nice_axis(lo, hi);
    for (int i = 0;; i++) {
        double val = ay.lo + i * ay.step;
        if (val > ay.hi + 1e-9 * ay.step)
            break;
        double y = py0 + ph - (val - ay.lo) / (ay.hi - ay.lo) * ph;
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                px0, y, px0 + pw, y);
        fprintf(f, "<text class=\"ytick\" x=\"%.1f\" y=\"%.1f\">%.2f</text>\n", px0 - 4, y + 4,
                val);
    }
    size_t xstep = emax <= 10 ? 1 : emax <= 30 ? 5 : emax <= 100 ? 10 : 100;
    for (size_t ep = 1; ep <= emax; ep++) {
        if (ep != 1 && ep % xstep != 0)
            continue;
        double x = px0 + (emax > 1 ? (double)(ep - 1) / (double)(emax - 1) : 0.5) * pw;
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">%zu</text>\n", x, py0 + ph + 14,
                ep);
    }
    fprintf(f, "<text class=\"axt\" x=\"%.1f\" y=\"%.1f\">epoch</text>\n", px0 + pw / 2,
            py0 + ph + 32);
    fprintf(f, "<text class=\"axt\" transform=\"translate(14 %.1f) rotate(-90)\">test error "
               "(%%)</text>\n",
            py0 + ph / 2);
    size_t li = 0;
    for (size_t ro = 0; ro < t->nrows; ro++) {
        if (strcmp(t->rows[ro].rates, "default") != 0)
            continue;
        size_t ne = mean_curve(set, report_cell_at(t, ro, k), v, CAP);
        if (ne < 2)
            continue;
        const char *col = palette[li % (sizeof palette / sizeof *palette)];
        fprintf(f, "<polyline class=\"curve\" stroke=\"%s\" points=\"", col);
        for (size_t ep = 0; ep < ne; ep++)
            fprintf(f, "%s%.1f,%.1f", ep ? " " : "",
                    px0 + (double)ep / (double)(emax - 1) * pw,
                    py0 + ph - (v[ep] - ay.lo) / (ay.hi - ay.lo) * ph);
        fputs("\"><title>", f);
        put_label(f, &t->rows[ro]);
        fputs("</title></polyline>\n", f);
        double ly = TOP + 6 + 16.0 * (double)li;
        fprintf(f, "<line stroke=\"%s\" stroke-width=\"3\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                   "y2=\"%.1f\"/>\n",
                col, px0 + pw + 12, ly, px0 + pw + 30, ly);
        fprintf(f, "<text class=\"leg\" x=\"%.1f\" y=\"%.1f\">", px0 + pw + 36, ly + 4);
        put_label(f, &t->rows[ro]);
        fputs("</text>\n", f);
        li++;
    }
    fputs("</svg>\n", f);
    return 1;
}

int svg_overhead(FILE *f, const report_set *set, const report_table *t, size_t k)
{
    (void)set;
    size_t n = 0;
    double lo = INFINITY, hi = -INFINITY, base = NAN;
    for (size_t ro = 0; ro < t->nrows; ro++) {
        const report_cell *c = report_cell_at(t, ro, k);
        if (c->n == 0 || !isfinite(c->sec_epoch))
            continue;
        n++;
        lo = fmin(lo, c->sec_epoch - c->sec_sd);
        hi = fmax(hi, c->sec_epoch + c->sec_sd);
        if (t->rows[ro].is_baseline && !t->rows[ro].setting[0])
            base = c->sec_epoch;
    }
    if (n == 0)
        return 0;
    axis ax = nice_axis(fmin(lo, 0.0), hi);
    double y1 = TOP + ROW * (double)n;
    open_svg(f, y1 + BOTTOM,
             "training time per epoch (evaluation excluded), mean ± std over seeds",
             t->tasks[k]);
    x_axis(f, &ax, TOP, y1, "%.3g", "seconds per epoch");
    double x0 = LABEL, w = W - LABEL - RIGHT;
    if (isfinite(base)) {
        double bx = xpos(&ax, base, x0, w);
        fprintf(f, "<line class=\"zero\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                bx, TOP - 4, bx, y1);
    }
    size_t i = 0;
    for (size_t ro = 0; ro < t->nrows; ro++) {
        const report_cell *c = report_cell_at(t, ro, k);
        if (c->n == 0 || !isfinite(c->sec_epoch))
            continue;
        double y = TOP + ROW * ((double)i + 0.5);
        row_text(f, &t->rows[ro], y);
        fprintf(f, "<g><title>%.3g ± %.2g s", c->sec_epoch, c->sec_sd);
        if (isfinite(c->overhead_pct))
            fprintf(f, " (%+.1f%% against %s)", c->overhead_pct, t->baseline);
        fputs("</title>\n", f);
        fprintf(f, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"10\"/>\n",
                x0, y - 5, xpos(&ax, c->sec_epoch, x0, w) - x0);
        if (c->ntime >= 2)
            fprintf(f, "<line class=\"ci\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                    xpos(&ax, c->sec_epoch - c->sec_sd, x0, w), y,
                    xpos(&ax, c->sec_epoch + c->sec_sd, x0, w), y);
        fputs("</g>\n", f);
        i++;
    }
    fputs("</svg>\n", f);
    return 1;
}
