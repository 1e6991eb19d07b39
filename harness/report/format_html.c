/* format_html.c - the report as one self-contained HTML page (format.h):
 * inline CSS, the figures as inline SVG (svg.h), tables that sort when a
 * column head is clicked (a few lines of inline script); nothing is
 * fetched, so the file can be mailed or opened offline. */
#include "report/format.h"

#include <string.h>

#include "report/svg.h"

static const char style[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;"
    "max-width:1100px;color:#222;background:#fff;padding:0 16px}\n"
    "h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.8em;"
    "border-bottom:1px solid #ddd;padding-bottom:.2em}h3{font-size:1.05em}\n"
    "table{border-collapse:collapse;margin:.6em 0;font-size:.9em}\n"
    "th,td{border:1px solid #ddd;padding:4px 8px;text-align:right;white-space:nowrap}\n"
    "th{background:#f3f4f6;cursor:pointer;user-select:none}th.l,td.l{text-align:left}\n"
    "th[data-dir=asc]::after{content:' \\25B2'}th[data-dir=desc]::after{content:' \\25BC'}\n"
    "tr:nth-child(even) td{background:#fafafa}\n"
    ".figs{display:flex;flex-wrap:wrap;gap:12px}.fig{border:1px solid #e5e7eb;"
    "background:#fff}\n"
    ".fig text{font-size:12px;fill:#222}.fig .ttl{font-weight:600;font-size:13px}\n"
    ".fig .lab{text-anchor:end}.fig .tick{text-anchor:middle;fill:#555}"
    ".fig .ytick{text-anchor:end;fill:#555}.fig .axt{text-anchor:middle;fill:#555}\n"
    ".fig .grid{stroke:#eee}.fig .zero{stroke:#888;stroke-dasharray:4 3}\n"
    ".fig .ci{stroke:#1f77b4;stroke-width:2}.fig .pt{fill:#1f77b4}"
    ".fig .pt.sig{fill:#d62728}.fig .pt.na{fill:#fff;stroke:#1f77b4;stroke-width:1.5}"
    ".fig .pt.base{fill:#555}\n"
    ".fig .seed{stroke:#999;stroke-width:1}.fig .bar{fill:#c7d7ea}"
    ".fig .curve{fill:none;stroke-width:2}.fig .leg{font-size:11px}\n"
    "ul{padding-left:1.2em}li{margin:.2em 0}pre{background:#f6f8fa;padding:12px;"
    "white-space:pre-wrap}\n";

/* Sorts a table by the clicked column: numbers (the first one in a cell)
 * numerically, other cells as text; a second click reverses. */
static const char script[] =
    "document.querySelectorAll('table.sortable').forEach(function(t){\n"
    " t.querySelectorAll('th').forEach(function(th,i){\n"
    "  th.addEventListener('click',function(){\n"
    "   var asc=th.getAttribute('data-dir')!=='asc';\n"
    "   t.querySelectorAll('th').forEach(function(h){h.removeAttribute('data-dir');});\n"
    "   th.setAttribute('data-dir',asc?'asc':'desc');\n"
    "   var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows);\n"
    "   function key(r){var s=r.cells[i].textContent,m=s.match(/[-+]?[0-9]*\\.?[0-9]+/);"
    "return m?parseFloat(m[0]):s;}\n"
    "   rows.sort(function(x,y){var a=key(x),c=key(y);var d=(typeof a==='number'&&"
    "typeof c==='number')?a-c:String(a).localeCompare(String(c));return asc?d:-d;});\n"
    "   rows.forEach(function(r){b.appendChild(r);});\n"
    "  });\n"
    " });\n"
    "});\n";

static void html_heading(FILE *f, const char *title, const report_set *set,
                         const report_table *t)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    svg_put_text(f, title);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>", style);
    svg_put_text(f, title);
    fprintf(f, "</h1>\n<p>%zu result file(s): %zu complete, %zu not complete, %zu unreadable",
            set->nfiles, t->ncomplete, t->nexcluded, set->nproblems);
    if (t->nforeign)
        fprintf(f, ", %zu of another framework (cross-check)", t->nforeign);
    fputs(".</p>\n", f);
}

static void html_table(FILE *f, const report_table *t, enum report_table_kind kind,
                       const char *title)
{
    fputs("<h2>", f);
    svg_put_text(f, title);
    fputs("</h2>\n<table class=\"sortable\">\n<thead><tr><th class=\"l\">strategy</th>"
          "<th class=\"l\">rates</th>",
          f);
    if (t->any_setting)
        fputs("<th class=\"l\">setting</th>", f);
    for (size_t k = 0; k < t->ntasks; k++) {
        fputs("<th>", f);
        svg_put_text(f, t->tasks[k]);
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
    /* The lead cells are text (left), the task cells numbers (right): the
     * separator after the label cells switches the class. */
    for (size_t ro = 0; ro < t->nrows; ro++) {
        const report_row *row = &t->rows[ro];
        fputs("<tr><td class=\"l\">", f);
        svg_put_text(f, row->strategy);
        fputs("</td><td class=\"l\">", f);
        svg_put_text(f, row->rates);
        if (t->any_setting) {
            fputs("</td><td class=\"l\">", f);
            svg_put_text(f, row->setting[0] ? row->setting : "-");
        }
        fputs("</td>", f);
        for (size_t k = 0; k < t->ntasks; k++) {
            char buf[160];
            report_cell_text(buf, sizeof buf, t, ro, k, kind, "±", "%");
            fputs("<td>", f);
            svg_put_text(f, buf);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody>\n</table>\n", f);
}

static void html_list(FILE *f, const char *title, char *const *items, size_t n)
{
    fputs("<h2>", f);
    svg_put_text(f, title);
    fputs("</h2>\n<ul>\n", f);
    for (size_t i = 0; i < n; i++) {
        fputs("<li>", f);
        svg_put_text(f, items[i]);
        fputs("</li>\n", f);
    }
    fputs("</ul>\n", f);
}

static void html_grid(FILE *f, const char *title, char *const *cells, size_t ncols,
                      size_t nleft, size_t nrows)
{
    fputs("<h2>", f);
    svg_put_text(f, title);
    fputs("</h2>\n<table class=\"sortable\">\n<thead><tr>", f);
    for (size_t c = 0; c < ncols; c++) {
        fputs(c < nleft ? "<th class=\"l\">" : "<th>", f);
        svg_put_text(f, cells[c]);
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
    for (size_t r = 1; r <= nrows; r++) {
        fputs("<tr>", f);
        for (size_t c = 0; c < ncols; c++) {
            fputs(c < nleft ? "<td class=\"l\">" : "<td>", f);
            svg_put_text(f, cells[r * ncols + c]);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody>\n</table>\n", f);
}

/* The page draws its own figures (html_figures); gnuplot's files stay out
 * of a self-contained page. */
static void html_images(FILE *f, const char *title, const char *prefix, char *const *names,
                        size_t n)
{
    (void)f, (void)title, (void)prefix, (void)names, (void)n;
}

static void html_figures(FILE *f, const report_set *set, const report_table *t)
{
    fputs("<h2>Figures</h2>\n<p>Per task: the paired difference of each placement "
          "against the baseline with its 95% interval (red: the interval excludes "
          "zero; hollow: too few seeds for an interval), the final test error with "
          "its spread over seeds, the learning curves, and the training time per "
          "epoch with its spread.</p>\n",
          f);
    for (size_t k = 0; k < t->ntasks; k++) {
        fputs("<h3>", f);
        svg_put_text(f, t->tasks[k]);
        fputs("</h3>\n<div class=\"figs\">\n", f);
        svg_forest(f, t, k);
        svg_errors(f, set, t, k);
        svg_curves(f, set, t, k);
        svg_overhead(f, set, t, k);
        fputs("</div>\n", f);
    }
}

static void html_appendix(FILE *f, const char *text, size_t n)
{
    fputs("<h2>Appendix</h2>\n<pre>", f);
    for (size_t i = 0; i < n; i++) {
        char s[2] = { text[i], '\0' };
        if (s[0] == '\0')
            continue;
        svg_put_text(f, s);
    }
    fputs("</pre>\n", f);
}

static void html_footer(FILE *f)
{
    fprintf(f, "<script>\n%s</script>\n</body>\n</html>\n", script);
}

const report_text_format report_format_html = { html_heading, html_table,  html_list,
                                                html_grid,    html_images, html_figures,
                                                html_appendix, html_footer };
