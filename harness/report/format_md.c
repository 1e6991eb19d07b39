/* format_md.c - the report as Markdown (format.h). */
#include "report/format.h"

/* Markdown: '|' would split a cell. */
static void put_md(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', f);
        fputc(*s, f);
    }
}

static void md_heading(FILE *f, const char *title, const report_set *set,
                       const report_table *t)
{
    fputs("# ", f);
    put_md(f, title);
    fprintf(f, "\n\n%zu result file(s): %zu complete, %zu not complete, "
               "%zu unreadable",
            set->nfiles, t->ncomplete, t->nexcluded, set->nproblems);
    if (t->nforeign)
        fprintf(f, ", %zu of another framework (cross-check)", t->nforeign);
    fputs(".\n\n", f);
}

static void md_table(FILE *f, const report_table *t,
                     enum report_table_kind kind, const char *title)
{
    size_t ncols = 2 + (t->any_setting ? 1 : 0) + t->ntasks;
    fprintf(f, "## %s\n\n| strategy | rates |%s", title,
            t->any_setting ? " setting |" : "");
    for (size_t k = 0; k < t->ntasks; k++) {
        fputc(' ', f);
        put_md(f, t->tasks[k]);
        fputs(" |", f);
    }
    fputs("\n|", f);
    for (size_t i = 0; i < ncols; i++)
        fputs(i < ncols - t->ntasks ? "---|" : "---:|", f);
    fputc('\n', f);
    report_table_rows(f, t, kind, put_md, "| ", " | ", " |\n", "±", "%");
    fputc('\n', f);
}

static void md_list(FILE *f, const char *title, char *const *items, size_t n)
{
    fprintf(f, "%s:\n\n", title);
    for (size_t i = 0; i < n; i++) {
        fputs("- ", f);
        put_md(f, items[i]);
        fputc('\n', f);
    }
    fputc('\n', f);
}

static void md_grid(FILE *f, const char *title, char *const *cells, size_t ncols,
                    size_t nleft, size_t nrows)
{
    fprintf(f, "## %s\n\n", title);
    for (size_t r = 0; r <= nrows; r++) {
        fputc('|', f);
        for (size_t c = 0; c < ncols; c++) {
            fputc(' ', f);
            put_md(f, cells[r * ncols + c]);
            fputs(" |", f);
        }
        fputc('\n', f);
        if (r == 0) {
            fputc('|', f);
            for (size_t c = 0; c < ncols; c++)
                fputs(c < nleft ? "---|" : "---:|", f);
            fputc('\n', f);
        }
    }
    fputc('\n', f);
}

static void md_images(FILE *f, const char *title, const char *prefix,
                      char *const *names, size_t n)
{
    fprintf(f, "## %s\n\n", title);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "![%s](%s%s%s.svg)\n\n", names[i], prefix, *prefix ? "/" : "",
                names[i]);
}

const report_text_format report_format_md = { md_heading, md_table, md_list, md_grid,
                                              md_images, NULL, NULL, NULL };
