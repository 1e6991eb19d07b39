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

static void latex_heading(FILE *f, const report_set *set,
                          const report_table *t)
{
    fprintf(f, "%% dropbench report: %zu result file(s), %zu complete, "
               "%zu not complete, %zu unreadable.\n"
               "%% needs \\usepackage{booktabs}\n\n",
            set->nfiles, t->ncomplete, t->nexcluded, set->nproblems);
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

const report_text_format report_format_latex = { latex_heading, latex_table,
                                                  latex_list };
