/* format_latex.c - the report as LaTeX tables (booktabs; format.h). */
#include "report/format.h"

static void put_latex(FILE *f, const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)s[0] == 0xc2 && (unsigned char)s[1] == 0xb1) {
            fputs("$\\pm$", f); /* U+00B1 plus-minus */
            s++;
            continue;
        }
        switch (*s) {
        case '&': case '%': case '$': case '#': case '_': case '{': case '}':
            fputc('\\', f);
            fputc(*s, f);
            break;
        case '~': fputs("\\textasciitilde{}", f); break;
        case '^': fputs("\\textasciicircum{}", f); break;
        case '\\': fputs("\\textbackslash{}", f); break;
        default: fputc(*s, f);
        }
    }
}

static void latex_heading(FILE *f, const char *title, const report_set *set,
                          const report_table *t)
{
    fputs("% ", f);
    for (const char *s = title; *s; s++)
        fputc(*s == '\n' ? ' ' : *s, f);
    fprintf(f, ": %zu result file(s), %zu complete, "
               "%zu not complete, %zu unreadable, %zu of another framework.\n"
               "%% needs \\usepackage{booktabs}\n\n",
            set->nfiles, t->ncomplete, t->nexcluded, set->nproblems, t->nforeign);
}

static void latex_table(FILE *f, const report_table *t,
                        enum report_table_kind kind, const char *title)
{
    size_t ncols = 2 + (t->any_setting ? 1 : 0) + t->ntasks;
    fputs("\\begin{table}[ht]\n\\centering\n", f);
    fprintf(f, "\\caption{");
    put_latex(f, title);
    fprintf(f, "}\n\\begin{tabular}{l");
    for (size_t i = 1; i < ncols; i++)
        fputs(i < ncols - t->ntasks ? "l" : "r", f);
    fputs("}\n\\toprule\nstrategy & rates", f);
    if (t->any_setting)
        fputs(" & setting", f);
    for (size_t k = 0; k < t->ntasks; k++) {
        fputs(" & ", f);
        put_latex(f, t->tasks[k]);
    }
    fputs(" \\\\\n\\midrule\n", f);
    report_table_rows(f, t, kind, put_latex, "", " & ", " \\\\\n", "$\\pm$",
                      "\\%");
    fputs("\\bottomrule\n\\end{tabular}\n\\end{table}\n\n", f);
}

/* Lists are LaTeX comments: notes for the reader of the source. */
static void latex_list(FILE *f, const char *title, char *const *items,
                       size_t n)
{
    fputs("% ", f);
    fputs(title, f);
    fputs(":\n", f);
    for (size_t i = 0; i < n; i++) {
        fputs("%   ", f);
        for (const char *s = items[i]; *s; s++)
            fputc(*s == '\n' ? ' ' : *s, f);
        fputc('\n', f);
    }
    fputc('\n', f);
}

static void latex_grid(FILE *f, const char *title, char *const *cells, size_t ncols,
                       size_t nleft, size_t nrows)
{
    fputs("\\begin{table}[ht]\n\\centering\n\\caption{", f);
    put_latex(f, title);
    fputs("}\n\\begin{tabular}{", f);
    for (size_t c = 0; c < ncols; c++)
        fputc(c < nleft ? 'l' : 'r', f);
    fputs("}\n\\toprule\n", f);
    for (size_t r = 0; r <= nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            if (c)
                fputs(" & ", f);
            put_latex(f, cells[r * ncols + c]);
        }
        fputs(r == 0 ? " \\\\\n\\midrule\n" : " \\\\\n", f);
    }
    fputs("\\bottomrule\n\\end{tabular}\n\\end{table}\n\n", f);
}

/* LaTeX does not include SVG without a converter: the plots are listed as
 * a comment. */
static void latex_images(FILE *f, const char *title, const char *prefix,
                         char *const *names, size_t n)
{
    fprintf(f, "%% %s:\n", title);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%%   %s%s%s.svg\n", prefix, *prefix ? "/" : "", names[i]);
    fputc('\n', f);
}

const report_text_format report_format_latex = { latex_heading, latex_table,
                                                  latex_list, latex_grid,
                                                  latex_images, NULL, NULL, NULL };
