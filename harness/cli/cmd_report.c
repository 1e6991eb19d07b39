/* cmd_report.c - `dropbench report`: load, aggregate, write, plot. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
          "                        [--reproductions DIR]\n"
          "  Aggregates the result files (*.json) of DIR: final test error per\n"
          "  strategy and task (mean ± std over seeds), paired differences\n"
          "  against the baseline (default none) with 95% confidence intervals,\n"
          "  training and evaluation time per epoch.  Results of another\n"
          "  framework (scripts/crosscheck-pytorch) are set beside dropbench's.\n"
          "  --plots writes SVG and PNG plots (gnuplot) before the report, which\n"
          "  then shows them (Markdown: linked relative to --output's folder).\n"
          "  --title sets the heading; --append adds FILE's text at the end.\n"
          "  --reproductions adds a section with DIR's runs of presets that\n"
          "  record a paper's figure (configs/repro/), each beside the figure.\n"
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

int cmd_report(int argc, char **argv)
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
    enum report_format fmt = REPORT_MD;
    const char *baseline = "none", *output = NULL, *plots = NULL;
    const char *title = NULL, *append = NULL, *repro_dir = NULL;
    db_err e = { "" };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "f:b:o:p:t:a:r:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (report_parse_format(optarg, &fmt, &e) != 0) {
                fprintf(stderr, "dropbench report: %s\n", e.msg);
                return 2;
            }
            break;
        case 'b': baseline = optarg; break;
        case 'o': output = optarg; break;
        case 'p': plots = optarg; break;
        case 't': title = optarg; break;
        case 'a': append = optarg; break;
        case 'r': repro_dir = optarg; break;
        case 'h': report_usage(stdout); return 0;
        default: report_usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        report_usage(stderr);
        return 2;
    }

    report_set set;
    memset(&set, 0, sizeof set);
    for (int i = optind; i < argc; i++) {
        size_t before = set.nfiles;
        if (report_load(&set, argv[i], &e) != 0) {
            fprintf(stderr, "dropbench report: %s\n", e.msg);
            report_set_free(&set);
            return 1;
        }
        if (set.nfiles == before)
            fprintf(stderr, "dropbench report: %s: no result files (*.json) "
                            "in this directory\n", argv[i]);
    }
    for (size_t i = 0; i < set.nproblems; i++)
        fprintf(stderr, "dropbench report: skipped %s\n", set.problems[i]);
    if (set.nfiles == 0) {
        fprintf(stderr, "dropbench report: nothing to report\n");
        report_set_free(&set);
        return 1;
    }

    report_table t;
    if (report_aggregate(&set, baseline, &t, &e) != 0) {
        fprintf(stderr, "dropbench report: %s\n", e.msg);
        for (size_t i = 0; i < set.n; i++)
            fprintf(stderr, "  %s: %s%s%s\n", set.res[i].file,
                    set.res[i].status, set.res[i].error ? ": " : "",
                    set.res[i].error ? set.res[i].error : "");
        report_set_free(&set);
        return 1;
    }

    int rc = 0;
    report_doc doc;
    memset(&doc, 0, sizeof doc);
    doc.title = title;
    char *extra = NULL, *prefix = NULL;
    report_crosscheck xc;
    memset(&xc, 0, sizeof xc);
    if (append && !(extra = db_read_file(append, &doc.append_len, 16u << 20, &e))) {
        fprintf(stderr, "dropbench report: --append: %s\n", e.msg);
        rc = 1;
    }
    doc.append = extra;
    if (rc == 0 && report_crosscheck_make(&set, &t, &xc, &e) != 0) {
        fprintf(stderr, "dropbench report: %s\n", e.msg);
        rc = 1;
    }
    doc.xc = &xc;
    report_set rset;
    memset(&rset, 0, sizeof rset);
    report_repro repro;
    memset(&repro, 0, sizeof repro);
    if (rc == 0 && repro_dir) {
        if (report_load(&rset, repro_dir, &e) != 0) {
            fprintf(stderr, "dropbench report: --reproductions: %s\n", e.msg);
            rc = 1;
        } else if (report_repro_make(&rset, &repro) != 0) {
            fprintf(stderr, "dropbench report: out of memory\n");
            rc = 1;
        } else {
            for (size_t i = 0; i < rset.nproblems; i++)
                fprintf(stderr, "dropbench report: skipped %s\n", rset.problems[i]);
            doc.repro = &repro;
        }
    }
    /* Plots first: a failed plot step prints no report. */
    char **names = NULL;
    size_t np = 0;
    if (rc == 0 && plots) {
        if (report_plots(&set, &t, plots, &np, &names, &e) != 0) {
            fprintf(stderr, "dropbench report: plots: %s\n", e.msg);
            rc = 1;
        } else {
            fprintf(stderr, "dropbench report: %zu plot(s) in %s (SVG and "
                            "PNG)\n", np, plots);
            doc.plots = names;
            doc.nplots = np;
            prefix = db_relative_dir(output ? output : "./report", plots);
            if (!prefix) {
                fprintf(stderr, "dropbench report: out of memory\n");
                rc = 1;
            }
            doc.plot_prefix = prefix;
        }
    }
    if (rc == 0)
        rc = write_report(&set, &t, fmt, &doc, output);
    db_strv_free(names, np);
    free(prefix);
    free(extra);
    report_crosscheck_free(&xc);
    report_repro_free(&repro);
    report_set_free(&rset);
    report_table_free(&t);
    report_set_free(&set);
    return rc;
}
