/* test_report.c - aggregation of result files, paired statistics against
 * hand-computed values, output formats, bad and empty directories, plots.
 * The result files are written here with cJSON: no training involved. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "check_main.h"
#include "test_util.h"
#include "cli/commands.h"
#include "report/aggregate.h"
#include "report/plot.h"
#include "report/repro.h"
#include "report/results.h"
#include "report/write.h"
#include "train/train.h"

static char g_dir[256];

static void make_dir(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/db-test-report-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static void remove_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void write_text(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    write_text_file(path, text);
}

/* A result file as run_execute writes it (the fields the report reads).
 * rate: NULL for defaults; site_rate < 0: no sites. */
static void write_result(const char *task, const char *strategy,
                         const char *rate, long seed, const char *status,
                         double test_err, double sec_epoch, double lr,
                         double site_rate)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "schema_version", 1);
    cJSON_AddStringToObject(r, "run_id", "0123456789abcdef");
    cJSON_AddStringToObject(r, "status", status);
    if (strcmp(status, "complete") == 0)
        cJSON_AddNullToObject(r, "error");
    else
        cJSON_AddStringToObject(r, "error", "loss became NaN at epoch 2");
    cJSON *c = cJSON_AddObjectToObject(r, "config");
    cJSON_AddStringToObject(c, "task", task);
    cJSON_AddStringToObject(c, "strategy", strategy);
    if (rate)
        cJSON_AddStringToObject(c, "rate", rate);
    else
        cJSON_AddNullToObject(c, "rate");
    cJSON_AddNumberToObject(c, "seed", (double)seed);
    cJSON_AddNumberToObject(c, "epochs", 3);
    cJSON_AddNumberToObject(c, "batch", 128);
    cJSON_AddNumberToObject(c, "threads", 1);
    cJSON_AddNumberToObject(c, "limit_train", 0);
    cJSON_AddNumberToObject(c, "val", 0);
    cJSON *o = cJSON_AddObjectToObject(c, "optimizer");
    cJSON_AddNumberToObject(o, "lr", lr);
    cJSON *sites = cJSON_AddArrayToObject(c, "dropout_sites");
    if (site_rate >= 0)
        for (int i = 0; i < 2; i++) {
            cJSON *s = cJSON_CreateObject();
            cJSON_AddNumberToObject(s, "index", i);
            cJSON_AddNumberToObject(s, "rate", site_rate);
            cJSON_AddItemToArray(sites, s);
        }
    cJSON *eps = cJSON_AddArrayToObject(r, "epochs");
    for (int ep = 1; ep <= 3; ep++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "epoch", ep);
        cJSON_AddNumberToObject(x, "test_error_pct", test_err + 2.0 * (3 - ep));
        cJSON_AddNumberToObject(x, "seconds", sec_epoch);
        cJSON_AddItemToArray(eps, x);
    }
    cJSON *fin = cJSON_AddObjectToObject(r, "final");
    cJSON_AddNumberToObject(fin, "test_error_pct", test_err);
    cJSON_AddNumberToObject(fin, "epochs_completed", 3);
    cJSON *t = cJSON_AddObjectToObject(r, "timing");
    cJSON_AddNumberToObject(t, "seconds_per_epoch", sec_epoch + 0.5);
    cJSON_AddNumberToObject(t, "train_seconds_per_epoch", sec_epoch);
    cJSON_AddNumberToObject(t, "eval_seconds", 1.5); /* 0.5 s per epoch */
    char name[256];
    snprintf(name, sizeof name, "%s.%s%s%s.s%ld.%08x.json", task, strategy,
             rate ? "-r" : "", rate ? rate : "", seed,
             (unsigned)(lr * 1000) + (unsigned)(test_err * 100));
    char *text = cJSON_Print(r);
    write_text(name, text);
    free(text);
    cJSON_Delete(r);
}

/* The standard fixture:
 * mnist-mlp none   seeds 0,1,2: 2.0 2.5 3.0, 10 s/epoch
 *           hinton seeds 0,1,2: 1.0 0.5 0.0 (diffs -1 -2 -3), 12 s/epoch
 *           dense  seeds 0,1,2: 1.0 1.4 2.1 (diffs -1.0 -1.1 -0.9)
 *           input  seed 0 only: 1.8         (n too small)
 *           dense rate "0.3" seeds 0,1: 1.5 1.7
 *           hinton seed 3: diverged (excluded)
 * cifar-cnn none seeds 0,1: 30 32; conv seeds 0,1: 29 30 */
static void fixture(void)
{
    const double none[] = { 2.0, 2.5, 3.0 }, hin[] = { 1.0, 0.5, 0.0 },
                 den[] = { 1.0, 1.4, 2.1 };
    for (long s = 0; s < 3; s++) {
        write_result("mnist-mlp", "none", NULL, s, "complete", none[s], 10.0,
                     0.05, -1);
        write_result("mnist-mlp", "hinton", NULL, s, "complete", hin[s], 12.0,
                     0.05, -1);
        write_result("mnist-mlp", "dense", NULL, s, "complete", den[s], 11.0,
                     0.05, 0.5);
    }
    write_result("mnist-mlp", "input", NULL, 0, "complete", 1.8, 10.5, 0.05,
                 0.2);
    write_result("mnist-mlp", "dense", "0.3", 0, "complete", 1.5, 11.0, 0.05,
                 0.3);
    write_result("mnist-mlp", "dense", "0.3", 1, "complete", 1.7, 11.0, 0.05,
                 0.3);
    write_result("mnist-mlp", "hinton", NULL, 3, "diverged", 90.0, 12.0, 0.05,
                 -1);
    write_result("cifar-cnn", "none", NULL, 0, "complete", 30.0, 100.0, 0.01,
                 -1);
    write_result("cifar-cnn", "none", NULL, 1, "complete", 32.0, 100.0, 0.01,
                 -1);
    write_result("cifar-cnn", "conv", NULL, 0, "complete", 29.0, 130.0, 0.01,
                 0.1);
    write_result("cifar-cnn", "conv", NULL, 1, "complete", 30.0, 130.0, 0.01,
                 0.1);
}

static long row_of(const report_table *t, const char *strategy,
                   const char *rates)
{
    for (size_t i = 0; i < t->nrows; i++)
        if (strcmp(t->rows[i].strategy, strategy) == 0 &&
            strcmp(t->rows[i].rates, rates) == 0)
            return (long)i;
    return -1;
}

static long task_of(const report_table *t, const char *task)
{
    for (size_t i = 0; i < t->ntasks; i++)
        if (strcmp(t->tasks[i], task) == 0)
            return (long)i;
    return -1;
}

static const report_cell *cell(const report_table *t, const char *strategy,
                               const char *rates, const char *task)
{
    long r = row_of(t, strategy, rates), k = task_of(t, task);
    ck_assert_msg(r >= 0 && k >= 0, "no cell %s/%s/%s", strategy, rates, task);
    return report_cell_at(t, (size_t)r, (size_t)k);
}

static void load_fixture(report_set *set, report_table *t)
{
    db_err e = { "" };
    memset(set, 0, sizeof *set);
    ck_assert_msg(report_load(set, g_dir, &e) == 0, "%s", e.msg);
    ck_assert_msg(report_aggregate(set, "none", t, &e) == 0, "%s", e.msg);
}

START_TEST(test_aggregate)
{
    make_dir();
    fixture();
    report_set set;
    report_table t;
    load_fixture(&set, &t);
    ck_assert_uint_eq(set.nfiles, 17);
    ck_assert_uint_eq(set.nproblems, 0);
    ck_assert_uint_eq(t.ncomplete, 16);
    ck_assert_uint_eq(t.nexcluded, 1);
    ck_assert_str_eq(set.res[t.excluded[0]].status, "diverged");
    /* columns in suite order, rows: baseline first, registry order */
    ck_assert_uint_eq(t.ntasks, 2);
    ck_assert_str_eq(t.tasks[0], "mnist-mlp");
    ck_assert_str_eq(t.tasks[1], "cifar-cnn");
    ck_assert_uint_eq(t.nrows, 6);
    ck_assert_str_eq(t.rows[0].strategy, "none");
    ck_assert(t.rows[0].is_baseline);
    ck_assert_str_eq(t.rows[1].strategy, "input");
    ck_assert_str_eq(t.rows[2].strategy, "dense");
    ck_assert_str_eq(t.rows[2].rates, "default");
    ck_assert_str_eq(t.rows[3].strategy, "dense");
    ck_assert_str_eq(t.rows[3].rates, "0.3");
    ck_assert_str_eq(t.rows[4].strategy, "conv");
    ck_assert_str_eq(t.rows[5].strategy, "hinton");
    ck_assert(!t.any_setting);

    const report_cell *c = cell(&t, "none", "default", "mnist-mlp");
    ck_assert_uint_eq(c->n, 3);
    ck_assert_double_eq_tol(c->err.mean, 2.5, 1e-12);
    ck_assert_double_eq_tol(c->err.sd, 0.5, 1e-12);
    ck_assert(!c->has_diff);

    /* hinton: diffs -1 -2 -3, mean -2, sd 1, CI -2 +- 2.484: not marked */
    c = cell(&t, "hinton", "default", "mnist-mlp");
    ck_assert_uint_eq(c->n, 3); /* the diverged seed 3 does not count */
    ck_assert_double_eq_tol(c->err.mean, 0.5, 1e-12);
    ck_assert(c->has_diff);
    ck_assert_uint_eq(c->diff.n, 3);
    ck_assert_double_eq_tol(c->diff.mean, -2.0, 1e-12);
    ck_assert_double_eq_tol(c->diff.sd, 1.0, 1e-12);
    ck_assert_double_eq_tol(c->diff.lo, -4.484, 1e-3);
    ck_assert_double_eq_tol(c->diff.hi, 0.484, 1e-3);
    ck_assert(!c->diff.significant);
    ck_assert_double_eq_tol(c->sec_epoch, 12.0, 1e-12);
    ck_assert_double_eq_tol(c->overhead_pct, 20.0, 1e-9);

    /* dense: diffs -1.0 -1.1 -0.9: mean -1, sd 0.1, half 0.2484: marked */
    c = cell(&t, "dense", "default", "mnist-mlp");
    ck_assert_double_eq_tol(c->diff.mean, -1.0, 1e-9);
    ck_assert_double_eq_tol(c->diff.sd, 0.1, 1e-9);
    ck_assert_double_eq_tol(c->diff.half, 0.2484, 1e-4);
    ck_assert(c->diff.significant);
    ck_assert_double_eq_tol(c->overhead_pct, 10.0, 1e-9);

    /* input: one seed */
    c = cell(&t, "input", "default", "mnist-mlp");
    ck_assert_uint_eq(c->diff.n, 1);
    ck_assert(!c->diff.valid);

    /* dense 0.3: seeds 0, 1 against none 2.0, 2.5: diffs -0.5 -0.8 */
    c = cell(&t, "dense", "0.3", "mnist-mlp");
    ck_assert_uint_eq(c->diff.n, 2);
    ck_assert_double_eq_tol(c->diff.mean, -0.65, 1e-9);
    ck_assert_double_eq_tol(c->diff.half,
                            12.706205 * sqrt(0.045) / sqrt(2.0), 1e-6);
    ck_assert_double_eq_tol(t.rows[row_of(&t, "dense", "0.3")].rate, 0.3,
                            1e-12);
    ck_assert_double_eq_tol(t.rows[row_of(&t, "dense", "default")].rate, 0.5,
                            1e-12);

    /* conv on cifar: diffs -1 -2 */
    c = cell(&t, "conv", "default", "cifar-cnn");
    ck_assert_uint_eq(c->diff.n, 2);
    ck_assert_double_eq_tol(c->diff.mean, -1.5, 1e-12);
    ck_assert_double_eq_tol(c->overhead_pct, 30.0, 1e-9);
    /* hinton has no cifar results */
    ck_assert_uint_eq(cell(&t, "hinton", "default", "cifar-cnn")->n, 0);

    report_table_free(&t);
    report_set_free(&set);
    remove_tree(g_dir);
}
END_TEST

static char *render(const report_set *set, const report_table *t,
                    enum report_format f)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(m);
    db_err e = { "" };
    ck_assert_msg(report_write(m, set, t, f, NULL, &e) == 0, "%s", e.msg);
    fclose(m);
    return buf;
}

START_TEST(test_formats)
{
    make_dir();
    fixture();
    write_result("mnist-mlp", "dense", "0.1,0.25", 0, "complete", 1.2, 11.0,
                 0.05, -1);
    report_set set;
    report_table t;
    load_fixture(&set, &t);

    char *md = render(&set, &t, REPORT_MD);
    ck_assert_ptr_nonnull(strstr(md, "| strategy | rates | mnist-mlp | cifar-cnn |"));
    ck_assert_ptr_nonnull(strstr(md, "| none | default | 2.50 ± 0.50 (n=3) | 31.00 ± 1.41 (n=2) |"));
    ck_assert_ptr_nonnull(strstr(md, "| hinton | default | 0.50 ± 0.50 (n=3) | - |"));
    ck_assert_ptr_nonnull(strstr(md, "12.0 ± 0.0 s (+20.0%)"));
    ck_assert_ptr_nonnull(strstr(md, "-2.00 [-4.48, +0.48] n=3 |"));
    ck_assert_ptr_nonnull(strstr(md, "-1.00 [-1.25, -0.75] n=3 * |"));
    ck_assert_ptr_nonnull(strstr(md, "n too small (n=1)"));
    ck_assert_ptr_nonnull(strstr(md, "Excluded (not complete)"));
    ck_assert_ptr_nonnull(strstr(md, "diverged: loss became NaN"));
    ck_assert_ptr_nonnull(strstr(md, "| baseline |"));
    free(md);

    char *csv = render(&set, &t, REPORT_CSV);
    ck_assert_ptr_nonnull(strstr(csv, "strategy,rates,setting,task,n,test_error_mean"));
    ck_assert_ptr_nonnull(strstr(csv, "\ndense,\"0.1,0.25\",,mnist-mlp,1,1.2000,"));
    ck_assert_ptr_nonnull(strstr(csv, "\nhinton,default,,mnist-mlp,3,0.5000,0.5000,12,0,20.000,0.5,3,-2.0000,1.0000,-4.4841,0.4841,no\n"));
    ck_assert_ptr_nonnull(strstr(csv, "\ndense,default,,mnist-mlp,3,1.5000,0.5568,11,0,10.000,0.5,3,-1.0000,0.1000,-1.2484,-0.7516,yes\n"));
    ck_assert_ptr_nonnull(strstr(csv, "\ninput,default,,mnist-mlp,1,1.8000,,10.5,,5.000,0.5,1,-0.2000,,,,n too small\n"));
    free(csv);

    char *tex = render(&set, &t, REPORT_LATEX);
    ck_assert_ptr_nonnull(strstr(tex, "\\toprule"));
    ck_assert_ptr_nonnull(strstr(tex, "none & default & 2.50 $\\pm$ 0.50 (n=3) & 31.00 $\\pm$ 1.41 (n=2) \\\\"));
    ck_assert_ptr_nonnull(strstr(tex, "(+20.0\\%)"));
    ck_assert_ptr_null(strstr(tex, "±"));
    free(tex);

    db_err e = { "" };
    enum report_format f;
    ck_assert_int_eq(report_parse_format("latex", &f, &e), 0);
    ck_assert_int_eq(f, REPORT_LATEX);
    ck_assert_int_eq(report_parse_format("html", &f, &e), 0);
    ck_assert_int_eq(f, REPORT_HTML);
    ck_assert_int_eq(report_parse_format("pdf", &f, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "pdf"));
    ck_assert_ptr_nonnull(strstr(e.msg, "html"));

    /* HTML: one self-contained page with the tables, a forest plot per
     * task and nothing fetched */
    char *html = render(&set, &t, REPORT_HTML);
    ck_assert_ptr_nonnull(strstr(html, "<!DOCTYPE html>"));
    ck_assert_ptr_nonnull(strstr(html, "</html>"));
    ck_assert_ptr_nonnull(strstr(html, "12.0 ± 0.0 s (+20.0%)"));
    ck_assert_ptr_nonnull(strstr(html, "mnist-mlp: paired difference in final test error"));
    ck_assert_ptr_nonnull(strstr(html, "cifar-cnn: paired difference in final test error"));
    ck_assert_ptr_null(strstr(html, "http:"));
    ck_assert_ptr_null(strstr(html, "https:"));
    ck_assert_ptr_null(strstr(html, " src="));
    free(html);

    report_table_free(&t);
    report_set_free(&set);
    remove_tree(g_dir);
}
END_TEST

START_TEST(test_malformed)
{
    make_dir();
    fixture();
    write_text("broken.json", "{\"status\": \"complete\", \"config\": ");
    write_text("notask.json", "{\"status\": \"complete\", \"config\": {\"strategy\": \"none\", \"seed\": 0}, \"final\": {\"test_error_pct\": 1}}");
    write_text("nofinal.json", "{\"status\": \"complete\", \"config\": {\"task\": \"mnist-mlp\", \"strategy\": \"none\", \"seed\": 7}}");
    write_text("array.json", "[1, 2]");
    /* a seed no double-to-long conversion can hold (found by fuzz_result) */
    write_text("seed.json", "{\"status\": \"complete\", \"config\": {\"task\": \"t\", \"strategy\": \"none\", \"seed\": 7e77}, \"final\": {\"test_error_pct\": 1}}");
    write_text("notes.txt", "not a result, ignored");
    write_text(".hidden.json", "ignored");
    write_text("x.json.lock", "");
    report_set set;
    report_table t;
    load_fixture(&set, &t);
    ck_assert_uint_eq(set.nfiles, 22);
    ck_assert_uint_eq(set.nproblems, 5);
    const char *want[] = { "array.json: not a JSON object",
                           "broken.json: not valid JSON",
                           "nofinal.json: complete but no numeric",
                           "notask.json: missing \"config.task\"",
                           "seed.json: \"config.seed\" is not an integer" };
    for (size_t i = 0; i < 5; i++)
        ck_assert_msg(strstr(set.problems[i], want[i]) != NULL,
                      "problem %zu: %s", i, set.problems[i]);
    /* the good files are all still used */
    ck_assert_uint_eq(t.ncomplete, 16);
    ck_assert_uint_eq(cell(&t, "none", "default", "mnist-mlp")->n, 3);
    char *md = render(&set, &t, REPORT_MD);
    ck_assert_ptr_nonnull(strstr(md, "Unreadable files (skipped)"));
    ck_assert_ptr_nonnull(strstr(md, "broken.json: not valid JSON"));
    free(md);
    report_table_free(&t);
    report_set_free(&set);
    remove_tree(g_dir);
}
END_TEST

/* Runs cmd_report with stdout and stderr sent to files; returns its exit
 * status and the texts (caller frees). */
static int run_cmd(char **argv, int argc, char **out, char **err)
{
    char op[300], ep[300];
    snprintf(op, sizeof op, "%s.out", g_dir);
    snprintf(ep, sizeof ep, "%s.err", g_dir);
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    FILE *fo = fopen(op, "w"), *fe = fopen(ep, "w");
    ck_assert(fo && fe);
    dup2(fileno(fo), 1);
    dup2(fileno(fe), 2);
    int rc = cmd_report(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    fclose(fo);
    fclose(fe);
    char *texts[2] = { NULL, NULL };
    const char *paths[2] = { op, ep };
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(paths[i], "r");
        ck_assert_ptr_nonnull(f);
        size_t cap = 1 << 20;
        texts[i] = calloc(cap, 1);
        size_t n = fread(texts[i], 1, cap - 1, f);
        texts[i][n] = '\0';
        fclose(f);
        unlink(paths[i]);
    }
    *out = texts[0];
    *err = texts[1];
    return rc;
}

START_TEST(test_cmd_empty_and_errors)
{
    make_dir();
    char *out, *err;
    char *a1[] = { "report", g_dir, NULL };
    ck_assert_int_ne(run_cmd(a1, 2, &out, &err), 0);
    ck_assert_ptr_nonnull(strstr(err, "no result files"));
    free(out);
    free(err);

    /* only unreadable / incomplete files */
    write_text("junk.json", "nope");
    write_result("mnist-mlp", "none", NULL, 0, "failed", 0, 1, 0.05, -1);
    ck_assert_int_ne(run_cmd(a1, 2, &out, &err), 0);
    ck_assert_ptr_nonnull(strstr(err, "junk.json: not valid JSON"));
    ck_assert_ptr_nonnull(strstr(err, "no complete results"));
    ck_assert_ptr_nonnull(strstr(err, "failed"));
    free(out);
    free(err);

    char *a2[] = { "report", "/nonexistent/dir/xyz", NULL };
    ck_assert_int_ne(run_cmd(a2, 2, &out, &err), 0);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/dir/xyz"));
    free(out);
    free(err);

    char *a3[] = { "report", "--format", "pdf", g_dir, NULL };
    ck_assert_int_eq(run_cmd(a3, 4, &out, &err), 2);
    free(out);
    free(err);
    remove_tree(g_dir);
}
END_TEST

START_TEST(test_cmd_output)
{
    make_dir();
    fixture();
    write_text("bad.json", "{");
    char outpath[300];
    snprintf(outpath, sizeof outpath, "%s.csv", g_dir);
    char *out, *err;
    char *a[] = { "report", "--format", "csv", "--baseline", "hinton",
                  "--output", outpath, g_dir, NULL };
    ck_assert_int_eq(run_cmd(a, 8, &out, &err), 0);
    ck_assert_str_eq(out, "");
    ck_assert_ptr_nonnull(strstr(err, "bad.json: not valid JSON"));
    FILE *f = fopen(outpath, "r");
    ck_assert_ptr_nonnull(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(outpath);
    /* against hinton: none - hinton = +1 +2 +3 */
    ck_assert_ptr_nonnull(strstr(buf, "\nnone,default,,mnist-mlp,3,2.5000,0.5000,10,0,-16.667,0.5,3,2.0000,1.0000,"));
    free(out);
    free(err);

    char *b[] = { "report", g_dir, NULL };
    ck_assert_int_eq(run_cmd(b, 2, &out, &err), 0);
    ck_assert_ptr_nonnull(strstr(out, "# dropbench report"));
    ck_assert_ptr_nonnull(strstr(out, "18 result file(s): 16 complete, 1 not complete, 1 unreadable"));
    free(out);
    free(err);
    remove_tree(g_dir);
}
END_TEST

START_TEST(test_settings_and_duplicates)
{
    make_dir();
    /* lr varies within the task: rows split by setting, baselines matched */
    for (long s = 0; s < 2; s++) {
        write_result("mnist-mlp", "none", NULL, s, "complete", 2.0 + s, 10, 0.05, -1);
        write_result("mnist-mlp", "none", NULL, s, "complete", 3.0 + s, 10, 0.1, -1);
        write_result("mnist-mlp", "hinton", NULL, s, "complete", 1.0 + s, 10, 0.05, -1);
        write_result("mnist-mlp", "hinton", NULL, s, "complete", 1.5 + 2 * s, 10, 0.1, -1);
    }
    /* a duplicate of hinton lr=0.05 seed 0, written later: it wins */
    sleep(1);
    write_result("mnist-mlp", "hinton", NULL, 0, "complete", 1.25, 10, 0.05, -1);
    report_set set;
    report_table t;
    load_fixture(&set, &t);
    ck_assert(t.any_setting);
    ck_assert_uint_eq(t.nrows, 4);
    ck_assert_str_eq(t.rows[0].setting, "lr=0.05");
    ck_assert_str_eq(t.rows[1].setting, "lr=0.1");
    ck_assert_str_eq(t.rows[2].strategy, "hinton");
    ck_assert_str_eq(t.rows[2].setting, "lr=0.05");
    const report_cell *c = report_cell_at(&t, 2, 0);
    ck_assert_uint_eq(c->n, 2);
    /* seed 0 uses the newer 1.25: diffs 1.25-2 = -0.75, 2-3 = -1 */
    ck_assert_double_eq_tol(c->diff.mean, -0.875, 1e-12);
    c = report_cell_at(&t, 3, 0);
    /* lr 0.1: 1.5-3 = -1.5, 3.5-4 = -0.5 */
    ck_assert_double_eq_tol(c->diff.mean, -1.0, 1e-12);
    ck_assert_uint_eq(t.nnotes, 1);
    ck_assert_ptr_nonnull(strstr(t.notes[0], "using the newer"));
    char *md = render(&set, &t, REPORT_MD);
    ck_assert_ptr_nonnull(strstr(md, "| strategy | rates | setting | mnist-mlp |"));
    ck_assert_ptr_nonnull(strstr(md, "| hinton | default | lr=0.1 |"));
    free(md);
    report_table_free(&t);
    report_set_free(&set);
    remove_tree(g_dir);
}
END_TEST

static int file_size(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat sb;
    return stat(path, &sb) == 0 ? (int)sb.st_size : -1;
}

START_TEST(test_plots)
{
    make_dir();
    fixture();
    const double rates[] = { 0.1, 0.2, 0.7 };
    for (int i = 0; i < 3; i++)
        for (long s = 0; s < 2; s++) {
            char r[16];
            snprintf(r, sizeof r, "%g", rates[i]);
            write_result("mnist-mlp", "input", r, s, "complete",
                         1.5 + rates[i] + 0.1 * (double)s, 10.4, 0.05,
                         rates[i]);
        }
    report_set set;
    report_table t;
    load_fixture(&set, &t);
    char out[300];
    snprintf(out, sizeof out, "%s/plots/sub", g_dir);
    db_err e = { "" };
    size_t np = 0;

    /* without gnuplot: a plain message, nothing half-written */
    setenv("GNUPLOT", "/nonexistent/gnuplot", 1);
    ck_assert_int_eq(report_plots(&set, &t, out, &np, NULL, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "not installed"));
    ck_assert_int_eq(file_size(out, "curves-mnist-mlp.svg.tmp"), -1);
    unsetenv("GNUPLOT");

    if (access("/usr/bin/gnuplot", X_OK) != 0) {
        fprintf(stderr, "test_plots: gnuplot not installed, skipping the "
                        "rendering half\n");
    } else {
        ck_assert_msg(report_plots(&set, &t, out, &np, NULL, &e) == 0, "%s", e.msg);
        /* curves x2 tasks, curves per rate for dense and input on mlp,
         * rates for mlp, forest x2 tasks, overhead */
        ck_assert_uint_eq(np, 8);
        const char *files[] = {
            "curves-mnist-mlp.svg", "curves-mnist-mlp.png",
            "curves-cifar-cnn.svg", "curves-mnist-mlp-input.png",
            "curves-mnist-mlp-dense.svg", "rates-mnist-mlp.svg",
            "rates-mnist-mlp.png", "overhead.svg", "overhead.png",
            "plots.gp", "curves-mnist-mlp.dat", "forest-mnist-mlp.svg",
            "forest-cifar-cnn.png", "forest-mnist-mlp.dat",
        };
        for (size_t i = 0; i < sizeof files / sizeof *files; i++)
            ck_assert_msg(file_size(out, files[i]) > 100, "%s missing",
                          files[i]);
        ck_assert_int_eq(file_size(out, "rates-cifar-cnn.svg"), -1);
        ck_assert_int_eq(file_size(out, "overhead.svg.tmp"), -1);
    }
    report_table_free(&t);
    report_set_free(&set);
    remove_tree(g_dir);
}
END_TEST

/* A result of a reproduction preset: config.paper and config.note, and
 * data.test_size, as run_execute writes them. */
static void write_paper_result(const char *task, const char *strategy,
                               long seed, const char *status, double err,
                               double paper_pct, long paper_errors)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "schema_version", 1);
    cJSON_AddStringToObject(r, "status", status);
    cJSON *c = cJSON_AddObjectToObject(r, "config");
    cJSON_AddStringToObject(c, "task", task);
    cJSON_AddStringToObject(c, "strategy", strategy);
    cJSON_AddNumberToObject(c, "seed", (double)seed);
    cJSON *p = cJSON_AddObjectToObject(c, "paper");
    cJSON_AddStringToObject(p, "source", "a paper, a table");
    cJSON_AddNumberToObject(p, "test_error_pct", paper_pct);
    if (paper_errors >= 0)
        cJSON_AddNumberToObject(p, "test_errors", (double)paper_errors);
    char note[128];
    snprintf(note, sizeof note, "%s scaled 30x", task);
    cJSON_AddStringToObject(c, "note", note);
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(r, "data"), "test_size", 10000);
    cJSON *fin = cJSON_AddObjectToObject(r, "final");
    if (!strcmp(status, "complete"))
        cJSON_AddNumberToObject(fin, "test_error_pct", err);
    char name[256];
    snprintf(name, sizeof name, "%s.%s.s%ld.json", task, strategy, seed);
    char *text = cJSON_Print(r);
    write_text(name, text);
    free(text);
    cJSON_Delete(r);
}

/* The Reproductions section: rows by preset, the paper's baseline first;
 * errors as counts out of the test set; the difference; one line per
 * preset saying whether the paper's order held. */
START_TEST(test_reproductions)
{
    make_dir();
    /* order holds: none 1.55 > dense (1.40 + 1.50)/2 > hinton 1.20 */
    write_paper_result("p-good", "none", 0, "complete", 1.55, 1.60, 160);
    write_paper_result("p-good", "dense", 0, "complete", 1.40, 1.30, 130);
    write_paper_result("p-good", "dense", 1, "complete", 1.50, 1.30, 130);
    write_paper_result("p-good", "hinton", 0, "complete", 1.20, 1.10, -1);
    /* order broken: hinton above dense; one run diverged */
    write_paper_result("p-bad", "none", 0, "complete", 2.00, 1.60, 160);
    write_paper_result("p-bad", "dense", 0, "complete", 1.50, 1.30, 130);
    write_paper_result("p-bad", "hinton", 0, "complete", 1.70, 1.10, 110);
    write_paper_result("p-bad", "hinton", 1, "diverged", 0, 1.10, 110);

    report_set set;
    memset(&set, 0, sizeof set);
    db_err e = { "" };
    ck_assert_int_eq(report_load(&set, g_dir, &e), 0);
    report_repro rp;
    ck_assert_int_eq(report_repro_make(&set, &rp), 0);
    ck_assert_uint_eq(rp.nrows, 8);
    enum { C = REPORT_REPRO_COLS };
    /* p-bad sorts before p-good; within a preset, the paper's largest first */
    const char *want[8][C] = {
        { "p-bad", "none", "0", "2.00", "200 / 10000", "1.60", "160", "+0.40" },
        { "p-bad", "dense", "0", "1.50", "150 / 10000", "1.30", "130", "+0.20" },
        { "p-bad", "hinton", "0", "1.70", "170 / 10000", "1.10", "110", "+0.60" },
        { "p-bad", "hinton", "1", "diverged", "-", "1.10", "110", "-" },
        { "p-good", "none", "0", "1.55", "155 / 10000", "1.60", "160", "-0.05" },
        { "p-good", "dense", "0", "1.40", "140 / 10000", "1.30", "130", "+0.10" },
        { "p-good", "dense", "1", "1.50", "150 / 10000", "1.30", "130", "+0.20" },
        { "p-good", "hinton", "0", "1.20", "120 / 10000", "1.10", "-", "+0.10" },
    };
    for (size_t r = 0; r < 8; r++)
        for (size_t c = 0; c < C; c++)
            ck_assert_msg(!strcmp(rp.cells[(r + 1) * C + c], want[r][c]),
                          "row %zu col %zu: '%s', expected '%s'", r, c,
                          rp.cells[(r + 1) * C + c], want[r][c]);
    ck_assert_uint_eq(rp.nlines, 2);
    ck_assert_ptr_nonnull(strstr(rp.lines[0], "p-bad scaled 30x"));
    ck_assert_ptr_nonnull(strstr(rp.lines[0], "none 1.60 > dense 1.30 > hinton 1.10"));
    ck_assert_ptr_nonnull(strstr(rp.lines[0], "none 2.00, dense 1.50, hinton 1.70"));
    ck_assert_ptr_nonnull(strstr(rp.lines[0], "the paper's order does not hold"));
    ck_assert_ptr_nonnull(strstr(rp.lines[1], "none 1.55, dense 1.45, hinton 1.20"));
    ck_assert_ptr_nonnull(strstr(rp.lines[1], "the paper's order holds"));

    /* through the command: the section is in the Markdown report; a
     * missing folder is an error naming the option */
    char *out, *err;
    char *argv1[] = { "report", g_dir, "--reproductions", g_dir };
    ck_assert_int_eq(run_cmd(argv1, 4, &out, &err), 0);
    ck_assert_ptr_nonnull(strstr(out, "## Reproductions: each run beside the paper's figure"));
    ck_assert_ptr_nonnull(strstr(out, "| p-good | hinton | 0 | 1.20 | 120 / 10000 | 1.10 | - | +0.10 |"));
    free(out);
    free(err);
    /* given twice, the runs of both folders (a preset of its own in a
     * subfolder, which the first folder's load does not read) */
    char sub[300], from[600], to[600];
    snprintf(sub, sizeof sub, "%s/more", g_dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    write_paper_result("p-two", "hinton", 0, "complete", 1.30, 1.05, -1);
    snprintf(from, sizeof from, "%s/p-two.hinton.s0.json", g_dir);
    snprintf(to, sizeof to, "%s/p-two.hinton.s0.json", sub);
    ck_assert_int_eq(rename(from, to), 0);
    char *argv3[] = { "report", g_dir, "--reproductions", g_dir, "--reproductions", sub };
    ck_assert_int_eq(run_cmd(argv3, 6, &out, &err), 0);
    ck_assert_ptr_nonnull(strstr(out, "| p-good | hinton | 0 | 1.20 | 120 / 10000 | 1.10 | - | +0.10 |"));
    ck_assert_ptr_nonnull(strstr(out, "| p-two | hinton | 0 | 1.30 | 130 / 10000 | 1.05 | - | +0.25 |"));
    free(out);
    free(err);
    ck_assert_int_eq(run_cmd(argv1, 4, &out, &err), 0);
    ck_assert_ptr_null(strstr(out, "p-two"));
    free(out);
    free(err);
    char missing[300];
    snprintf(missing, sizeof missing, "%s/nothing-here", g_dir);
    char *argv2[] = { "report", g_dir, "--reproductions", missing };
    ck_assert_int_eq(run_cmd(argv2, 4, &out, &err), 1);
    ck_assert_ptr_nonnull(strstr(err, "dropbench report: --reproductions: "));
    ck_assert_ptr_nonnull(strstr(err, "nothing-here"));
    ck_assert_str_eq(out, "");
    free(out);
    free(err);
    report_repro_free(&rp);
    report_set_free(&set);
    remove_tree(g_dir);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_aggregate);
    tcase_add_test(tc, test_formats);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_cmd_empty_and_errors);
    tcase_add_test(tc, test_cmd_output);
    tcase_add_test(tc, test_settings_and_duplicates);
    tcase_add_test(tc, test_plots);
    tcase_add_test(tc, test_reproductions);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
