/* cmd_report.c - `dropbench report`: load, aggregate, write, plot. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "report/aggregate.h"
#include "report/crosscheck.h"
#include "report/plot.h"
#include "report/results.h"
#include "report/write.h"
#include "util/fs.h"
#include "util/str.h"

static void report_usage(FILE *f)
{
    fputs("usage: dropbench report DIR... [--format md|csv|latex|html] "
          "[--baseline STRATEGY]\n"
          "                        [--output FILE] [--plots OUTDIR]\n"
          "                        [--title TEXT] [--append FILE]\n"
          "                        [--reproductions DIR]...\n"
          "  Aggregates the result files (*.json) of DIR: final test error per\n"
          "  strategy and task (mean ± std over seeds), paired differences\n"
          "  against the baseline (default none) with 95% confidence intervals,\n"
          "  training and evaluation time per epoch.  Results of another\n"
          "  framework (scripts/crosscheck-pytorch) are set beside dropbench's.\n"
          "  --plots writes SVG and PNG plots (gnuplot) before the report, which\n"
          "  then shows them (Markdown: linked relative to --output's folder).\n"
          "  --title sets the heading; --append adds FILE's text at the end.\n"
          "  --reproductions adds a section with DIR's runs of presets that\n"
          "  record a paper's figure (configs/repro/), each beside the figure;\n"
          "  given again (up to 8 times), the runs of every DIR.\n"
          "  Nothing in the output depends on the time or the machine: the\n"
          "  same files give the same report, byte for byte.\n",
          f);
}

/* The document into output (atomically) or to standard output; returns
 * the exit status. */
static int write_report(const report_set *set, const report_table *t,
                        enum report_format fmt, const report_doc *doc,
                        const char *output)
{
    db_err e = { "" };
    int rc = 0;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m || report_write(m, set, t, fmt, doc, &e) != 0) {
        if (m)
            fclose(m);
        fprintf(stderr, "dropbench report: %s\n",
                m ? e.msg : "out of memory");
        rc = 1;
    } else {
        fclose(m);
        if (output) {
            if (db_write_atomic(output, buf, len, &e) != 0) {
                fprintf(stderr, "dropbench report: %s\n", e.msg);
                rc = 1;
            }
        } else if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
            fprintf(stderr, "dropbench report: cannot write to standard "
                            "output: %s\n", strerror(errno));
            rc = 1;
        }
    }
    free(buf);
    return rc;
}

/* The options of `dropbench report`. */
enum { REPORT_MAX_REPRO_DIRS = 8 };

typedef struct report_args {
    enum report_format fmt;
    const char *baseline, *output, *plots, *title, *append;
    const char *repro_dirs[REPORT_MAX_REPRO_DIRS];
    size_t nrepro;
    int baseline_given;
} report_args;

/* Parses argv into a; -1 to go on, else the exit status (said why). */
static int report_parse_args(report_args *a, int argc, char **argv)
{
    static const struct option opts[] = {
        { "format", required_argument, NULL, 'f' },
        { "baseline", required_argument, NULL, 'b' },
        { "output", required_argument, NULL, 'o' },
        { "plots", required_argument, NULL, 'p' },
        { "title", required_argument, NULL, 't' },
        { "append", required_argument, NULL, 'a' },
        { "reproductions", required_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(a, 0, sizeof *a);
    a->fmt = REPORT_MD;
    a->baseline = "none";
    db_err e = { "" };
    optind = 1;
    int c;
    while ((c = cli_getopt(argc, argv, "f:b:o:p:t:a:r:h", opts, "report", 1)) != -1) {
        switch (c) {
        case 'f':
            if (report_parse_format(optarg, &a->fmt, &e) != 0) {
                fprintf(stderr, "dropbench report: %s\n", e.msg);
                return 2;
            }
            break;
        case 'b': a->baseline = optarg; a->baseline_given = 1; break;
        case 'o': a->output = optarg; break;
        case 'p': a->plots = optarg; break;
        case 't': a->title = optarg; break;
        case 'a': a->append = optarg; break;
        case 'r':
            if (a->nrepro == REPORT_MAX_REPRO_DIRS) {
                fprintf(stderr, "dropbench report: --reproductions: at most %d folders\n",
                        REPORT_MAX_REPRO_DIRS);
                return 2;
            }
            a->repro_dirs[a->nrepro++] = optarg;
            break;
        case 'h': report_usage(stdout); return 0;
        default: return 2; /* cli_getopt said why */
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "dropbench report: give one or more results folders "
                        "(`dropbench report --help`)\n");
        return 2;
    }
    return -1;
}

/* Loads the results of folders dirs[0..n) into set; 0, or 1 once said why
 * (set is freed then). */
static int report_load_all(report_set *set, char **dirs, int n)
{
    db_err e = { "" };
    memset(set, 0, sizeof *set);
    for (int i = 0; i < n; i++) {
        size_t before = set->nfiles;
        if (report_load(set, dirs[i], &e) != 0) {
            fprintf(stderr, "dropbench report: %s\n", e.msg);
            report_set_free(set);
            return 1;
        }
        if (set->nfiles == before)
            fprintf(stderr, "dropbench report: %s: no result files (*.json) "
                            "in this directory\n", dirs[i]);
    }
    for (size_t i = 0; i < set->nproblems; i++)
        fprintf(stderr, "dropbench report: skipped %s\n", set->problems[i]);
    if (set->nfiles == 0) {
        fprintf(stderr, "dropbench report: nothing to report\n");
        report_set_free(set);
        return 1;
    }
    return 0;
}

/* An explicit --baseline must be one of the reported strategies (the
 * default, none, may be absent: then nothing is compared).  0, or 1 once
 * said why. */
static int report_check_baseline(const report_table *t, const report_args *a)
{
    int found = 0;
    for (size_t i = 0; i < t->nrows; i++)
        found |= strcmp(t->rows[i].strategy, a->baseline) == 0;
    if (found || !a->baseline_given)
        return 0;
    db_err e = { "" };
    const char **names = malloc((t->nrows + 1) * sizeof *names);
    size_t nn = 0;
    for (size_t i = 0; names && i < t->nrows; i++) {
        int dup = 0;
        for (size_t j = 0; j < nn; j++)
            dup |= strcmp(names[j], t->rows[i].strategy) == 0;
        if (!dup)
            names[nn++] = t->rows[i].strategy;
    }
    db_fail_unknown(&e, "--baseline", "baseline", a->baseline, names, nn);
    fprintf(stderr, "dropbench report: %s\n", names ? e.msg : "out of memory");
    free(names);
    return 1;
}

/* What the document shows beside the table, and what holds it. */
typedef struct report_parts {
    report_doc doc;
    char *extra, *prefix;
    report_crosscheck xc;
    report_set rset;
    report_repro repro;
    char **names;
    size_t np;
} report_parts;

/* The --append text, the cross-check and the --reproductions section into
 * p->doc; 0, or 1 once said why. */
static int report_add_sections(report_parts *p, const report_set *set,
                               const report_table *t, const report_args *a)
{
    db_err e = { "" };
    int rc = 0;
    if (a->append &&
        !(p->extra = db_read_file(a->append, &p->doc.append_len, 16u << 20, &e))) {
        fprintf(stderr, "dropbench report: --append: %s\n", e.msg);
        rc = 1;
    }
    p->doc.append = p->extra;
    if (rc == 0 && report_crosscheck_make(set, t, &p->xc, &e) != 0) {
        fprintf(stderr, "dropbench report: %s\n", e.msg);
        rc = 1;
    }
    p->doc.xc = &p->xc;
    for (size_t i = 0; rc == 0 && i < a->nrepro; i++)
        if (report_load(&p->rset, a->repro_dirs[i], &e) != 0) {
            fprintf(stderr, "dropbench report: --reproductions: %s\n", e.msg);
            rc = 1;
        }
    if (rc == 0 && a->nrepro > 0) {
        if (report_repro_make(&p->rset, &p->repro) != 0) {
            fprintf(stderr, "dropbench report: out of memory\n");
            rc = 1;
        } else {
            for (size_t i = 0; i < p->rset.nproblems; i++)
                fprintf(stderr, "dropbench report: skipped %s\n", p->rset.problems[i]);
            p->doc.repro = &p->repro;
        }
    }
    return rc;
}

/* --plots: the plots, and the document's links to them; 0, or 1 once said
 * why. */
static int report_add_plots(report_parts *p, const report_set *set,
                            const report_table *t, const report_args *a)
{
    db_err e = { "" };
    if (report_plots(set, t, a->plots, &p->np, &p->names, &e) != 0) {
        fprintf(stderr, "dropbench report: plots: %s\n", e.msg);
        return 1;
    }
    fprintf(stderr, "dropbench report: %zu plot(s) in %s (SVG and "
                    "PNG)\n", p->np, a->plots);
    p->doc.plots = p->names;
    p->doc.nplots = p->np;
    p->prefix = db_relative_dir(a->output ? a->output : "./report", a->plots);
    p->doc.plot_prefix = p->prefix;
    if (!p->prefix) {
        fprintf(stderr, "dropbench report: out of memory\n");
        return 1;
    }
    return 0;
}

static void report_parts_free(report_parts *p)
{
    db_strv_free(p->names, p->np);
    free(p->prefix);
    free(p->extra);
    report_crosscheck_free(&p->xc);
    report_repro_free(&p->repro);
    report_set_free(&p->rset);
}

int cmd_report(int argc, char **argv)
{
    report_args a;
    int rc = report_parse_args(&a, argc, argv);
    if (rc >= 0)
        return rc;
    report_set set;
    if (report_load_all(&set, argv + optind, argc - optind) != 0)
        return 1;

    db_err e = { "" };
    report_table t;
    if (report_aggregate(&set, a.baseline, &t, &e) != 0) {
        fprintf(stderr, "dropbench report: %s\n", e.msg);
        for (size_t i = 0; i < set.n; i++)
            fprintf(stderr, "  %s: %s%s%s\n", set.res[i].file,
                    set.res[i].status, set.res[i].error ? ": " : "",
                    set.res[i].error ? set.res[i].error : "");
        report_set_free(&set);
        return 1;
    }
    if (report_check_baseline(&t, &a) != 0) {
        report_table_free(&t);
        report_set_free(&set);
        return 1;
    }

    report_parts p;
    memset(&p, 0, sizeof p);
    p.doc.title = a.title;
    rc = report_add_sections(&p, &set, &t, &a);
    /* Plots first: a failed plot step prints no report. */
    if (rc == 0 && a.plots)
        rc = report_add_plots(&p, &set, &t, &a);
    if (rc == 0)
        rc = write_report(&set, &t, a.fmt, &p.doc, a.output);
    report_parts_free(&p);
    report_table_free(&t);
    report_set_free(&set);
    return rc;
}
