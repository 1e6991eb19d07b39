/* test_sweep.c - sweep files: expansion, validation, hashing, filters;
 * execution: skipping, failures, resume after kill -9, two sweeps on one
 * directory, SIGTERM.  Most tests use a fake backend (resolve: hash of the
 * request; execute: sleep, then write a result atomically, logging each
 * start and finish) so that they are fast and can count executions exactly;
 * the suite presets are expanded with the real run_resolve, and one test
 * trains for real on generated data. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "check_main.h"
#include "util/jsonio.h"
#include "gen_data.h"
#include "cli/commands.h"
#include "report/aggregate.h"
#include "report/results.h"
#include "sweep/exec.h"
#include "sweep/plan.h"
#include "train/run.h"
#include "train/runcfg.h" /* DB_CODE_VERSION */
#include "train/train.h"
#include "util/blas.h" /* db_cpu_model, db_cpu_id */

/* ------------------------------------------------------------ fake backend */

static char g_dir[256];        /* results directory of the test */
static char g_log[300];        /* fake executions log: "start ID" "done ID" */
static double g_sleep = 0.05;  /* seconds per fake run */
static const char *g_fail = "never"; /* strategy whose runs fail */
static const char *g_diverge = "never";

static int fake_resolve(const run_request *rq, cJSON **config, char id[17],
                        db_err *e)
{
    if (strcmp(rq->strategy, "bogus") == 0)
        return db_fail(e, "unknown strategy \"bogus\"");
    if (strcmp(rq->task, "nosuch") == 0)
        return db_fail(e, "no preset configs/nosuch.json");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "task", rq->task);
    cJSON_AddStringToObject(c, "strategy", rq->strategy);
    if (rq->rate)
        cJSON_AddStringToObject(c, "rate", rq->rate);
    else
        cJSON_AddNullToObject(c, "rate");
    cJSON_AddNumberToObject(c, "seed", (double)(rq->seed < 0 ? 0 : rq->seed));
    cJSON_AddNumberToObject(c, "epochs", rq->epochs > 0 ? rq->epochs : 5);
    cJSON_AddNumberToObject(c, "threads", rq->threads > 0 ? rq->threads : 1);
    cJSON_AddNumberToObject(c, "limit_train", rq->limit_train > 0 ? (double)rq->limit_train : 0);
    cJSON_AddNumberToObject(c, "val", rq->val > 0 ? (double)rq->val : 0);
    cJSON *o = cJSON_AddObjectToObject(c, "optimizer");
    cJSON_AddNumberToObject(o, "lr", rq->lr > 0 ? rq->lr : 0.05);
    char *text = cJSON_PrintUnformatted(c);
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = text; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    free(text);
    snprintf(id, 17, "%016llx", (unsigned long long)h);
    *config = c;
    return 0;
}

static void log_line(const char *what, const char *id)
{
    int fd = open(g_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return;
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%s %s %ld\n", what, id, (long)getpid());
    ssize_t w = write(fd, buf, (size_t)n);
    (void)w;
    close(fd);
}

static int fake_execute(const cJSON *config, const char *id, run_options *opt,
                        db_err *e)
{
    log_line("start", id);
    const char *strategy =
        cJSON_GetObjectItemCaseSensitive(config, "strategy")->valuestring;
    for (double t = 0; t < g_sleep; t += 0.005) {
        struct timespec ts = { 0, 5000000 };
        nanosleep(&ts, NULL);
        if (db_stop_requested)
            return db_fail(e, "interrupted");
    }
    if (strcmp(strategy, g_fail) == 0)
        return db_fail(e, "fake failure for %s", strategy);
    int diverged = strcmp(strategy, g_diverge) == 0;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "schema_version", 1);
    cJSON_AddStringToObject(r, "run_id", id);
    cJSON_AddStringToObject(r, "status", diverged ? "diverged" : "complete");
    cJSON_AddItemToObject(r, "config", cJSON_Duplicate(config, 1));
    cJSON *fin = cJSON_AddObjectToObject(r, "final");
    cJSON_AddNumberToObject(fin, "test_error_pct", 1.5);
    char name[256], path[600], tmp[700];
    run_result_name(name, sizeof name, config, id, NULL);
    snprintf(path, sizeof path, "%s/%s", opt->results_dir, name);
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    char *text = cJSON_Print(r);
    cJSON_Delete(r);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        free(text);
        return db_fail(e, "%s: %s", tmp, strerror(errno));
    }
    /* written in two halves with a pause, so a kill can land mid-write */
    size_t n = strlen(text);
    fwrite(text, 1, n / 2, f);
    fflush(f);
    struct timespec ts = { 0, 2000000 };
    nanosleep(&ts, NULL);
    fwrite(text + n / 2, 1, n - n / 2, f);
    free(text);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return db_fail(e, "%s: write failed", path);
    snprintf(opt->result_path, sizeof opt->result_path, "%s", path);
    log_line("done", id);
    return diverged ? 1 : 0;
}

static const sweep_backend fake_backend = {
    fake_resolve, run_result_name, run_result_complete, fake_execute,
};

/* ----------------------------------------------------------------- helpers */

static void make_dir(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/db-test-sweep-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    snprintf(g_log, sizeof g_log, "%s.log", g_dir);
    unlink(g_log);
    g_sleep = 0.05;
    g_fail = g_diverge = "never";
}

static void remove_tree(void)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", g_dir, g_log);
    ck_assert_int_eq(system(cmd), 0);
}

static int plan_from_text(sweep_plan *p, const char *json,
                          const sweep_options *o, db_err *e)
{
    cJSON *root = cJSON_Parse(json);
    ck_assert_msg(root != NULL, "bad test JSON: %s", json);
    int rc = sweep_plan_from_json(p, root, "test.json", o, e);
    cJSON_Delete(root);
    return rc;
}

static void fake_options(sweep_options *o, int jobs)
{
    memset(o, 0, sizeof *o);
    o->jobs = jobs;
    o->results_dir = g_dir;
    o->backend = &fake_backend;
    o->poll_seconds = 0.005;
}

/* Count of log lines "what id" per id; returns the max over ids and fills
 * *ids with the number of distinct ids. */
static int log_max(const char *what, size_t *ids, size_t *lines)
{
    FILE *f = fopen(g_log, "r");
    *ids = *lines = 0;
    if (!f)
        return 0;
    char seen[256][32];
    int count[256] = { 0 };
    size_t n = 0;
    char w[16], id[32];
    long pid;
    while (fscanf(f, "%15s %31s %ld", w, id, &pid) == 3) {
        if (strcmp(w, what) != 0)
            continue;
        (*lines)++;
        size_t i = 0;
        while (i < n && strcmp(seen[i], id) != 0)
            i++;
        if (i == n && n < 256)
            snprintf(seen[n++], sizeof seen[0], "%s", id);
        count[i]++;
    }
    fclose(f);
    int mx = 0;
    for (size_t i = 0; i < n; i++)
        if (count[i] > mx)
            mx = count[i];
    *ids = n;
    return mx;
}

/* Every run's result file exists, parses and is complete; no lock or
 * temporary file is left that could be taken for a result. */
static void check_all_complete(const sweep_plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", g_dir, p->runs[i].name);
        ck_assert_msg(run_result_complete(path) == 1, "%s not complete", path);
    }
    report_set set;
    memset(&set, 0, sizeof set);
    ck_assert_int_eq(report_load(&set, g_dir, NULL), 0);
    ck_assert_uint_eq(set.nproblems, 0);
    ck_assert_uint_eq(set.n, p->n);
    report_set_free(&set);
}

static const char *grid_json =
    "{\"name\": \"t\", \"seeds\": [0, 1],"
    " \"grid\": ["
    "  {\"tasks\": [\"mnist-mlp\"], \"strategies\": [\"none\", \"hinton\"],"
    "   \"rates\": [null, 0.3, \"0.1,0.25\"], \"epochs\": 2},"
    "  {\"tasks\": [\"mnist-lenet\", \"cifar-cnn\"], \"strategies\": [\"conv\"],"
    "   \"seeds\": [4], \"overrides\": {\"lr\": [0.1, 0.2], \"epochs\": [1, 3]}}"
    " ]}";

/* ---------------------------------------------------------------- expansion */

/* ------------------------------------------------------------ estimates */

/* A complete result of TASK/STRATEGY on CPU (and CPU_ID, unless NULL) with
 * seconds_per_epoch SPE and data_load_seconds LOAD, as DIR/NAME. */
static void fake_result_id(const char *dir, const char *name, const char *task,
                           const char *strategy, const char *cpu, const char *cpu_id,
                           double spe, double load)
{
    char path[700];
    snprintf(path, sizeof path, "mkdir -p '%s'", dir);
    ck_assert_int_eq(system(path), 0);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"schema_version\": 1, \"status\": \"complete\", "
               "\"config\": {\"task\": \"%s\", \"strategy\": \"%s\", \"seed\": 0, "
               "\"epochs\": 3, \"limit_train\": 0, \"threads\": 1}, "
               "\"final\": {\"test_error_pct\": 2.0, \"epochs_completed\": 3}, "
               "\"timing\": {\"seconds_per_epoch\": %g, \"data_load_seconds\": %g}, "
               "\"environment\": {\"cpu\": \"%s\"%s%s%s}}\n",
            task, strategy, spe, load, cpu, cpu_id ? ", \"cpu_id\": \"" : "",
            cpu_id ? cpu_id : "", cpu_id ? "\"" : "");
    fclose(f);
}

static void fake_result(const char *dir, const char *name, const char *task,
                        const char *strategy, const char *cpu, double spe, double load)
{
    fake_result_id(dir, name, task, strategy, cpu, NULL, spe, load);
}

static const sweep_run *find_run(const sweep_plan *p, const char *task, const char *strategy)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->runs[i].task, task) && !strcmp(p->runs[i].strategy, strategy))
            return &p->runs[i];
    ck_abort_msg("no run %s/%s", task, strategy);
    return NULL;
}

/* Estimates come from results of the task on this CPU: the sweep's own
 * folder first, then the folders beside it (in a folder named results),
 * the same strategy first; another CPU's results are not used; without
 * any, the table; the dry run names the source per task. */
START_TEST(test_estimate_sources)
{
    char root[64], prior[128], mine[128], other[128];
    snprintf(root, sizeof root, "/tmp/db-est-test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    snprintf(prior, sizeof prior, "%s/results/prior", root);
    snprintf(mine, sizeof mine, "%s/results/mine", root);
    snprintf(other, sizeof other, "%s/elsewhere/mine", root);
    char cpu[256];
    db_cpu_model(cpu, sizeof cpu);
    fake_result(prior, "a.json", "mnist-mlp", "none", cpu, 10.0, 2.0);
    fake_result(prior, "b.json", "mnist-mlp", "none", cpu, 12.0, 4.0);
    fake_result(prior, "c.json", "wordlang-gru", "token", "Some Other CPU", 1.0, 0.0);
    fake_result(prior, "d.json", "mnist-lenet", "none", cpu, 50.0, 1.0);
    const char *json = "{\"name\": \"e\", \"tasks\": [\"mnist-mlp\", \"wordlang-gru\", "
                       "\"mnist-lenet\"], \"strategies\": [\"none\", \"hinton\"], "
                       "\"seeds\": [0], \"epochs\": 2}";
    sweep_options o;
    fake_options(&o, 2);
    o.results_dir = mine;
    sweep_plan p;
    db_err e = { "" };
    ck_assert_msg(plan_from_text(&p, json, &o, &e) == 0, "%s", e.msg);
    const sweep_run *r = find_run(&p, "mnist-mlp", "none");
    /* 2 epochs of the mean 11 s, plus the mean 3 s of loading */
    ck_assert_msg(fabs(r->est_seconds - 25.0) < 1e-9, "%g", r->est_seconds);
    ck_assert_msg(strstr(r->est_source, "2 results in the folders beside it") &&
                  strstr(r->est_source, "(same strategy)"), "%s", r->est_source);
    r = find_run(&p, "mnist-mlp", "hinton");
    ck_assert_msg(fabs(r->est_seconds - 25.0) < 1e-9, "%g", r->est_seconds);
    ck_assert_msg(strstr(r->est_source, "any strategy of the task"), "%s", r->est_source);
    r = find_run(&p, "wordlang-gru", "none");
    ck_assert_msg(strstr(r->est_source, "table"), "another CPU's results: %s", r->est_source);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    sweep_dry_run(m, &p, &o);
    fclose(m);
    ck_assert_msg(strstr(buf, "estimate for mnist-mlp (1 of its 2 runs): 2 results in the "
                              "folders beside it") &&
                  strstr(buf, "estimate for wordlang-gru: table"), "%s", buf);
    free(buf);
    sweep_plan_free(&p);

    /* results in the sweep's own folder come first */
    fake_result(mine, "x.json", "mnist-mlp", "hinton", cpu, 20.0, 1.0);
    ck_assert_msg(plan_from_text(&p, json, &o, &e) == 0, "%s", e.msg);
    r = find_run(&p, "mnist-mlp", "hinton");
    ck_assert_msg(fabs(r->est_seconds - 41.0) < 1e-9, "%g", r->est_seconds);
    ck_assert_msg(strstr(r->est_source, "1 result in this results folder (same strategy)"),
                  "%s", r->est_source);
    r = find_run(&p, "mnist-mlp", "none"); /* this folder's, any strategy */
    ck_assert_msg(fabs(r->est_seconds - 41.0) < 1e-9, "%g", r->est_seconds);
    sweep_plan_free(&p);

    /* a folder not in a "results" folder: its siblings are not searched */
    o.results_dir = other;
    ck_assert_msg(plan_from_text(&p, json, &o, &e) == 0, "%s", e.msg);
    r = find_run(&p, "mnist-mlp", "none");
    ck_assert_msg(strstr(r->est_source, "table"), "%s", r->est_source);
    sweep_plan_free(&p);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* A result that records its CPU's vendor, family and model
 * (environment.cpu_id) calibrates estimates only on the same kind of CPU,
 * even where the model names agree (a VM says "AMD EPYC" for Zen 3, 4
 * and 5); one without cpu_id is matched by model name as before. */
START_TEST(test_estimate_cpu_id)
{
    char root[64], dir[128], cmd[200];
    snprintf(root, sizeof root, "/tmp/db-est-id.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    snprintf(dir, sizeof dir, "%s/results/mine", root);
    char cpu[256], id[128];
    db_cpu_model(cpu, sizeof cpu);
    db_cpu_id(id, sizeof id);
    ck_assert_msg(strcmp(id, "unknown") != 0 || access("/proc/cpuinfo", R_OK) != 0,
                  "db_cpu_id: unknown with /proc/cpuinfo present");
    /* this kind of CPU, and one of the same name but another kind */
    fake_result_id(dir, "a.json", "mnist-mlp", "none", cpu, id, 10.0, 0.0);
    fake_result_id(dir, "b.json", "mnist-mlp", "none", cpu, "OtherVendor family 1 model 2",
                   1000.0, 0.0);
    const char *json = "{\"name\": \"e\", \"tasks\": [\"mnist-mlp\"], "
                       "\"strategies\": [\"none\"], \"seeds\": [0], \"epochs\": 3}";
    sweep_options o;
    fake_options(&o, 1);
    o.results_dir = dir;
    sweep_plan p;
    db_err e = { "" };
    ck_assert_msg(plan_from_text(&p, json, &o, &e) == 0, "%s", e.msg);
    const sweep_run *r = find_run(&p, "mnist-mlp", "none");
    /* three epochs at a.json's 10 s (b.json's would make the mean 505 s) */
    ck_assert_msg(fabs(r->est_seconds - 30.0) < 1e-9, "%g", r->est_seconds);
    ck_assert_msg(strstr(r->est_source, "1 result in this results folder"), "%s", r->est_source);
    sweep_plan_free(&p);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* A task with neither results nor a table entry (here a reproduction
 * preset) is costed from its model's FLOPs: 784-800-800-10 trains at
 * 2 x 2,550,400 (forward and weight gradient) + 2 x (800 x 800 + 800 x 10)
 * (input gradients above the first layer) = 6,396,800 FLOPs an example,
 * no conv layer, so at DB_EST_GFLOPS (28) one thread; two epochs of
 * 60,000 plus 0.06 of an epoch each for the test evaluation, on 2
 * threads (2^0.7 times one), plus 1 s of loading. */
START_TEST(test_estimate_from_flops)
{
    const char *src = getenv("DROPBENCH_SRC");
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/configs", src ? src : ".");
    setenv("DROPBENCH_CONFIGS", cfg, 1);
    const char *json = "{\"name\": \"f\", \"tasks\": [\"hinton2012-mnist-short\", "
                       "\"mnist-mlp\"], \"strategies\": [\"none\"], \"seeds\": [0], "
                       "\"epochs\": 2, \"threads\": 2}";
    sweep_options o;
    memset(&o, 0, sizeof o);
    o.results_dir = "/nonexistent-results-dir";
    sweep_plan p;
    db_err e = { "" };
    ck_assert_msg(plan_from_text(&p, json, &o, &e) == 0, "%s", e.msg);
    const sweep_run *r = find_run(&p, "hinton2012-mnist-short", "none");
    ck_assert_msg(strstr(r->est_source, "the model's FLOPs"), "%s", r->est_source);
    double want = 2 * 6396800.0 * 60000 / 28e9 * 1.06 / pow(2, 0.7) + 1.0;
    ck_assert_msg(fabs(r->est_seconds - want) < 1e-9 * want, "%g, want %g", r->est_seconds,
                  want);
    r = find_run(&p, "mnist-mlp", "none"); /* the same net, in the table */
    ck_assert_msg(strstr(r->est_source, "table"), "%s", r->est_source);
    sweep_plan_free(&p);
}
END_TEST

/* A complete result of a run's task, strategy and seed from another code
 * version (another id in the file name) is not counted as done, and the dry
 * run and the sweep say so, naming the version and commit; a result of this
 * version under another id, or a file of another seed, is not counted. */
static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static char *dry_run_text(const sweep_plan *p, const sweep_options *o)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    sweep_dry_run(m, p, o);
    fclose(m);
    return buf;
}

START_TEST(test_other_version_note)
{
    make_dir();
    const char *json = "{\"name\": \"v\", \"tasks\": [\"mnist-mlp\"], "
                       "\"strategies\": [\"none\", \"hinton\"], \"seeds\": [0], "
                       "\"epochs\": 2}";
    sweep_options o;
    fake_options(&o, 1);
    sweep_plan p;
    db_err e = { "" };
    ck_assert_msg(plan_from_text(&p, json, &o, &e) == 0, "%s", e.msg);
    char *out = dry_run_text(&p, &o);
    ck_assert_msg(!strstr(out, "note:"), "%s", out);
    free(out);

    char path[700];
    snprintf(path, sizeof path, "%s/mnist-mlp.none.s0.0123456789abcdef.json", g_dir);
    write_text(path, "{\"status\": \"complete\", \"final\": {}, \"code_version\": \"1\","
                     " \"environment\": {\"git_commit\": \"abcdef0123456789abcdef\"}}");
    /* not counted: this version's, another seed's, an incomplete one */
    snprintf(path, sizeof path, "%s/mnist-mlp.hinton.s0.1111111111111111.json", g_dir);
    write_text(path, "{\"status\": \"complete\", \"final\": {}, \"code_version\": \""
                     DB_CODE_VERSION "\"}");
    snprintf(path, sizeof path, "%s/mnist-mlp.hinton.s01.2222222222222222.json", g_dir);
    write_text(path, "{\"status\": \"complete\", \"final\": {}, \"code_version\": \"1\"}");
    snprintf(path, sizeof path, "%s/mnist-mlp.hinton.s0.3333333333333333.json", g_dir);
    write_text(path, "{\"status\": \"running\", \"code_version\": \"1\"}");
    out = dry_run_text(&p, &o);
    ck_assert_msg(strstr(out, "note: 1 of the runs to do have a complete result of the same "
                              "task, strategy and seed") &&
                  strstr(out, "made by code version 1 at commit abcdef012345 (this binary "
                              "is version " DB_CODE_VERSION ")") &&
                  strstr(out, "2 runs: 2 to run, 0 already done"), "%s", out);
    free(out);

    /* the sweep says it too, on standard error, and runs both */
    fflush(stderr);
    int saved = dup(2);
    char errpath[700];
    snprintf(errpath, sizeof errpath, "%s.err", g_dir);
    int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    dup2(fd, 2);
    close(fd);
    sweep_summary s;
    int rc = sweep_execute(&p, &o, &s, &e);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ck_assert_msg(rc == 0, "%s", e.msg);
    ck_assert_uint_eq(s.done, 2);
    sweep_summary_free(&s);
    FILE *f = fopen(errpath, "r");
    ck_assert_ptr_nonnull(f);
    char line[1024] = "";
    int said = 0;
    while (fgets(line, sizeof line, f))
        said |= strstr(line, "note: 1 of the runs to do") != NULL;
    fclose(f);
    unlink(errpath);
    ck_assert_msg(said, "the sweep did not say it");
    /* once this version's results exist, nothing is said */
    out = dry_run_text(&p, &o);
    ck_assert_msg(!strstr(out, "note:") && strstr(out, "0 to run, 2 already done"), "%s", out);
    free(out);
    sweep_plan_free(&p);
    remove_tree();
}
END_TEST

START_TEST(test_expand_grid)
{
    make_dir();
    sweep_options o;
    fake_options(&o, 1);
    sweep_plan p;
    db_err e = { "" };
    ck_assert_msg(plan_from_text(&p, grid_json, &o, &e) == 0, "%s", e.msg);
    /* 1 x 2 x 3 x 2 seeds + 2 tasks x 1 x (2 x 2) x 1 seed */
    ck_assert_uint_eq(p.n, 12 + 8);
    ck_assert_str_eq(p.name, "t");
    ck_assert_str_eq(p.results_dir, g_dir);
    const sweep_run *r = &p.runs[0];
    ck_assert_str_eq(r->task, "mnist-mlp");
    ck_assert_str_eq(r->strategy, "none");
    ck_assert_ptr_null(r->rate);
    ck_assert_int_eq(r->seed, 0);
    ck_assert_int_eq(r->epochs, 2);
    ck_assert_int_eq(p.runs[1].seed, 1); /* seeds innermost */
    ck_assert_str_eq(p.runs[2].rate, "0.3");
    ck_assert_str_eq(p.runs[4].rate, "0.1,0.25");
    ck_assert_str_eq(p.runs[6].strategy, "hinton");
    r = &p.runs[12];
    ck_assert_str_eq(r->task, "mnist-lenet");
    ck_assert_int_eq(r->seed, 4);
    ck_assert_str_eq(r->overrides, "epochs=1 lr=0.1");
    ck_assert_str_eq(p.runs[13].overrides, "epochs=1 lr=0.2");
    ck_assert_str_eq(p.runs[14].overrides, "epochs=3 lr=0.1");
    ck_assert_int_eq(p.runs[14].epochs, 3);
    ck_assert_str_eq(p.runs[16].task, "cifar-cnn");
    /* names come from run_result_name, ids differ for every run */
    ck_assert_ptr_nonnull(strstr(p.runs[0].name, "mnist-mlp.none.s0."));
    for (size_t i = 0; i < p.n; i++)
        for (size_t j = i + 1; j < p.n; j++)
            ck_assert_str_ne(p.runs[i].id, p.runs[j].id);
    char label[256];
    sweep_run_label(label, sizeof label, &p.runs[13]);
    ck_assert_str_eq(label, "mnist-lenet conv rates=default seed=4 epochs=1 lr=0.2");

    /* the dry run names task, strategy, rates and seed on each line */
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    sweep_dry_run(m, &p, &o);
    fclose(m);
    ck_assert_ptr_nonnull(strstr(buf, "task=mnist-mlp strategy=hinton rates=0.1,0.25 seed=1 epochs=2"));
    ck_assert_ptr_nonnull(strstr(buf, "task=cifar-cnn strategy=conv rates=default seed=4 epochs=3 [epochs=3 lr=0.2]"));
    ck_assert_ptr_nonnull(strstr(buf, "20 runs: 20 to run, 0 already done"));
    ck_assert_ptr_nonnull(strstr(buf, "estimated cost"));
    free(buf);
    sweep_plan_free(&p);

    /* the top level alone is a block; results default to results/<name>;
     * a repeated run is kept once */
    fake_options(&o, 1);
    o.results_dir = NULL;
    ck_assert(plan_from_text(&p, "{\"name\": \"x\", \"tasks\": [\"a\"], "
                             "\"strategies\": [\"none\", \"none\"], "
                             "\"seeds\": [3, 3]}", &o, &e) == 0);
    ck_assert_uint_eq(p.n, 1);
    ck_assert_uint_eq(p.nduplicates, 3);
    ck_assert_str_eq(p.results_dir, "results/x");
    sweep_plan_free(&p);
    remove_tree();
}
END_TEST

START_TEST(test_expand_errors)
{
    make_dir();
    sweep_options o;
    fake_options(&o, 1);
    static const struct {
        const char *json, *want;
    } cases[] = {
        { "{\"name\": \"x\", \"tasks\": [\"a\"], \"strategies\": [\"none\"], \"seeds\": [0], \"sedes\": 1}",
          "unknown key \"sedes\"" },
        { "{\"name\": \"x\", \"grid\": [{\"tasks\": [\"a\"], \"strategies\": [\"none\"], \"seeds\": [0], \"rate\": [0.1]}]}",
          "grid[0]: unknown key \"rate\"" },
        { "{\"name\": \"x\", \"tasks\": [\"a\"], \"strategies\": [\"none\"], \"seeds\": [0], \"overrides\": {\"momentum\": [0.5]}}",
          "overrides: unknown key \"momentum\"" },
        { "{\"name\": \"x\", \"tasks\": [\"a\"], \"strategies\": [\"none\"], \"seeds\": [0], \"epochs\": 2, \"overrides\": {\"epochs\": [1]}}",
          "both a value and an override axis" },
        { "{\"name\": \"x\", \"tasks\": [\"a\"], \"strategies\": [\"none\"]}",
          "missing \"seeds\"" },
        { "{\"name\": \"x\", \"tasks\": [], \"strategies\": [\"none\"], \"seeds\": [0]}",
          "\"tasks\" must be a non-empty array" },
        { "{\"name\": \"x\", \"tasks\": [\"a\"], \"strategies\": [\"none\"], \"seeds\": [-1]}",
          "\"seeds\" must hold integers >= 0" },
        { "{\"name\": \"x\", \"tasks\": [\"a\"], \"strategies\": [\"none\"], \"seeds\": [0], \"epochs\": 0}",
          "\"epochs\" must be >= 1" },
        { "{\"name\": \"x\", \"tasks\": [\"a\"], \"strategies\": [\"none\"], \"seeds\": [0], \"rates\": [true]}",
          "\"rates\" entries must be null" },
        { "{\"tasks\": [\"a\"], \"strategies\": [\"none\"], \"seeds\": [0]}",
          "\"name\" must be" },
        /* a bad run fails the whole sweep, naming the run */
        { "{\"name\": \"x\", \"tasks\": [\"a\"], \"strategies\": [\"none\", \"bogus\"], \"seeds\": [0, 1]}",
          "run 3 (a bogus rates=default seed=0): unknown strategy \"bogus\"" },
        { "{\"name\": \"x\", \"grid\": [{\"tasks\": [\"nosuch\"], \"strategies\": [\"none\"], \"seeds\": [2]}]}",
          "run 1 (nosuch none rates=default seed=2): no preset" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sweep_plan p;
        db_err e = { "" };
        ck_assert_msg(plan_from_text(&p, cases[i].json, &o, &e) == -1,
                      "case %zu accepted", i);
        ck_assert_msg(strstr(e.msg, cases[i].want) != NULL,
                      "case %zu: \"%s\" lacks \"%s\"", i, e.msg, cases[i].want);
        ck_assert_ptr_nonnull(strstr(e.msg, "test.json"));
    }
    /* a file that is not JSON: the line is named */
    char path[400];
    snprintf(path, sizeof path, "%s/bad.json", g_dir);
    FILE *f = fopen(path, "w");
    fputs("{\"name\": \"x\",\n \"tasks\": [\"a\"\n}\n", f);
    fclose(f);
    sweep_plan p;
    db_err e = { "" };
    ck_assert_int_eq(sweep_plan_load(&p, path, &o, &e), -1);
    ck_assert_msg(strstr(e.msg, "line 3, column 1: unexpected '}'") != NULL, "%s", e.msg);
    remove_tree();
}
END_TEST

START_TEST(test_filter)
{
    make_dir();
    sweep_options o;
    fake_options(&o, 1);
    sweep_plan p;
    db_err e = { "" };
    static const struct {
        const char *f[2];
        size_t nf, want;
    } cases[] = {
        { { "task=mnist-mlp" }, 1, 12 },
        { { "task=mnist-*,strategy=conv" }, 1, 4 },
        { { "strategy=hinton,seed=1" }, 1, 3 },
        { { "rates=0.1,0.25" }, 1, 4 },
        { { "rates=0.1,0.25,seed=0" }, 1, 2 },
        { { "rates=default,task=mnist-mlp" }, 1, 4 },
        { { "*.conv.*" }, 1, 8 },
        { { "strategy=hinton", "task=cifar-cnn" }, 2, 6 + 4 },
        { { "task=nothing" }, 1, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ck_assert_msg(plan_from_text(&p, grid_json, &o, &e) == 0, "%s", e.msg);
        ck_assert_msg(sweep_plan_filter(&p, cases[i].f, cases[i].nf, &e) == 0,
                      "%s", e.msg);
        ck_assert_msg(p.n == cases[i].want, "filter %zu kept %zu, want %zu",
                      i, p.n, cases[i].want);
        sweep_plan_free(&p);
    }
    ck_assert(plan_from_text(&p, grid_json, &o, &e) == 0);
    const char *bad[] = { "colour=red" };
    ck_assert_int_eq(sweep_plan_filter(&p, bad, 1, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "colour"));
    sweep_plan_free(&p);
    remove_tree();
}
END_TEST

/* The suite's sweep files through the real run_resolve and presets. */
static void sweep_path(char *buf, size_t n, const char *name)
{
    const char *src = getenv("DROPBENCH_SRC");
    snprintf(buf, n, "%s/configs/sweeps/%s", src ? src : ".", name);
}

START_TEST(test_suite_files)
{
    const char *src = getenv("DROPBENCH_SRC");
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/configs", src ? src : ".");
    setenv("DROPBENCH_CONFIGS", cfg, 1);
    sweep_options o;
    memset(&o, 0, sizeof o);
    o.results_dir = "/nonexistent-results-dir";
    sweep_plan p;
    db_err e = { "" };
    char path[600];

    sweep_path(path, sizeof path, "suite-v1.json");
    ck_assert_msg(sweep_plan_load(&p, path, &o, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(p.n, 98);
    ck_assert_uint_eq(p.nduplicates, 0);
    size_t per_task[5] = { 0 };
    const char *tasks[5] = { "mnist-mlp", "mnist-lenet", "fashion-lenet",
                             "cifar-cnn", "wordlang-gru" };
    for (size_t i = 0; i < p.n; i++) {
        for (int k = 0; k < 5; k++)
            if (strcmp(p.runs[i].task, tasks[k]) == 0)
                per_task[k]++;
        for (size_t j = i + 1; j < p.n; j++)
            ck_assert_str_ne(p.runs[i].id, p.runs[j].id);
        ck_assert_ptr_null(p.runs[i].rate);
    }
    ck_assert_uint_eq(per_task[0], 20);
    ck_assert_uint_eq(per_task[1], 21);
    ck_assert_uint_eq(per_task[2], 21);
    ck_assert_uint_eq(per_task[3], 21);
    ck_assert_uint_eq(per_task[4], 15);
    /* preset epochs, and seeds 0-4 only on the MLP */
    ck_assert_int_eq(p.runs[0].epochs, 20);
    ck_assert_int_eq(p.runs[19].seed, 4);
    ck_assert_int_eq(p.runs[20].epochs, 15);
    ck_assert_str_eq(p.runs[97].strategy, "embedding+output");

    /* hashing: the same request resolves to the same id, a changed field to
     * another */
    run_request rq;
    run_request_init(&rq);
    rq.task = "mnist-mlp";
    rq.strategy = "hinton";
    rq.seed = 2;
    cJSON *c1 = NULL, *c2 = NULL;
    char id1[17], id2[17];
    ck_assert(run_resolve(&rq, &c1, id1, &e) == 0);
    int found = 0;
    for (size_t i = 0; i < p.n; i++)
        found += strcmp(p.runs[i].id, id1) == 0;
    ck_assert_int_eq(found, 1);
    rq.epochs = 19;
    ck_assert(run_resolve(&rq, &c2, id2, &e) == 0);
    ck_assert_str_ne(id1, id2);
    cJSON_Delete(c1);
    cJSON_Delete(c2);
    sweep_plan_free(&p);

    sweep_path(path, sizeof path, "demo.json");
    ck_assert_msg(sweep_plan_load(&p, path, &o, &e) == 0, "%s", e.msg);
    ck_assert_uint_ge(p.n, 4);
    for (size_t i = 0; i < p.n; i++)
        ck_assert_str_eq(p.runs[i].task, "mnist-mlp");
    sweep_plan_free(&p);

    sweep_path(path, sizeof path, "rates.json");
    ck_assert_msg(sweep_plan_load(&p, path, &o, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(p.n, 2 * 3 + 2 * 5 * 3 + 5 * 5 * 3);
    sweep_plan_free(&p);
}
END_TEST

/* -------------------------------------------------------------- execution */

static const char *small_json =
    "{\"name\": \"s\", \"tasks\": [\"mnist-mlp\", \"mnist-lenet\"],"
    " \"strategies\": [\"none\", \"dense\", \"hinton\"], \"seeds\": [0, 1]}";

START_TEST(test_execute_and_skip)
{
    make_dir();
    sweep_options o;
    fake_options(&o, 3);
    sweep_plan p;
    db_err e = { "" };
    ck_assert(plan_from_text(&p, small_json, &o, &e) == 0);
    ck_assert_uint_eq(p.n, 12);
    sweep_summary s;
    ck_assert_msg(sweep_execute(&p, &o, &s, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(s.done, 12);
    ck_assert_uint_eq(s.failed + s.skipped + s.pending, 0);
    sweep_summary_free(&s);
    check_all_complete(&p);
    size_t ids, lines;
    ck_assert_int_eq(log_max("start", &ids, &lines), 1);
    ck_assert_uint_eq(ids, 12);

    /* everything there: the second sweep runs nothing */
    ck_assert(sweep_execute(&p, &o, &s, &e) == 0);
    ck_assert_uint_eq(s.skipped, 12);
    ck_assert_uint_eq(s.done, 0);
    sweep_summary_free(&s);
    log_max("start", &ids, &lines);
    ck_assert_uint_eq(lines, 12);

    /* a failed, an interrupted, a truncated result and a leftover lock are
     * rerun; a diverged one is not */
    const char *status[] = { "failed", "interrupted", NULL, "diverged" };
    for (int i = 0; i < 4; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", g_dir, p.runs[i].name);
        FILE *f = fopen(path, "w");
        if (status[i])
            fprintf(f, "{\"schema_version\": 1, \"status\": \"%s\", "
                       "\"error\": \"x\", \"config\": {}}", status[i]);
        else
            fputs("{\"schema_version\": 1, \"sta", f);
        fclose(f);
    }
    char lock[700];
    snprintf(lock, sizeof lock, "%s/%s.lock", g_dir, p.runs[5].name);
    close(open(lock, O_CREAT | O_WRONLY, 0644));
    char path5[600];
    snprintf(path5, sizeof path5, "%s/%s", g_dir, p.runs[5].name);
    unlink(path5);
    ck_assert(sweep_execute(&p, &o, &s, &e) == 0);
    ck_assert_uint_eq(s.done, 4);
    ck_assert_uint_eq(s.skipped, 7);
    ck_assert_uint_eq(s.skipped_diverged, 1);
    ck_assert_int_eq(s.outcome[3], SWEEP_SKIPPED_DIVERGED);
    ck_assert_int_eq(s.outcome[5], SWEEP_DONE);
    sweep_summary_free(&s);
    ck_assert_int_eq(access(lock, F_OK), -1); /* released and removed */
    sweep_plan_free(&p);
    remove_tree();
}
END_TEST

START_TEST(test_failures_continue)
{
    make_dir();
    g_fail = "dense";
    g_diverge = "hinton";
    sweep_options o;
    fake_options(&o, 2);
    sweep_plan p;
    db_err e = { "" };
    ck_assert(plan_from_text(&p, small_json, &o, &e) == 0);
    sweep_summary s;
    ck_assert(sweep_execute(&p, &o, &s, &e) == 0);
    ck_assert_uint_eq(s.done, 4);
    ck_assert_uint_eq(s.failed, 4);
    ck_assert_uint_eq(s.diverged, 4);
    ck_assert_int_eq(s.outcome[2], SWEEP_FAILED);
    ck_assert_str_eq(s.reason[2], "fake failure for dense");
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    sweep_summary_print(m, &p, &s);
    fclose(m);
    ck_assert_ptr_nonnull(strstr(buf, "12 run(s)"));
    ck_assert_ptr_nonnull(strstr(buf, "4 done, 0 skipped (already complete), 4 diverged, 4 failed"));
    ck_assert_ptr_nonnull(strstr(buf, "failed mnist-mlp dense rates=default seed=0: fake failure for dense"));
    free(buf);
    sweep_summary_free(&s);

    /* rerun: only the failed ones run again, and now pass */
    g_fail = "never";
    ck_assert(sweep_execute(&p, &o, &s, &e) == 0);
    ck_assert_uint_eq(s.done, 4);
    ck_assert_uint_eq(s.skipped, 4);
    ck_assert_uint_eq(s.skipped_diverged, 4);
    sweep_summary_free(&s);
    sweep_plan_free(&p);
    remove_tree();
}
END_TEST

/* Runs the plan in a child process; returns its pid.  The child exits 0
 * when every run ended up done or skipped. */
static pid_t spawn_sweep(const sweep_plan *p, int jobs)
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sweep_options o;
        fake_options(&o, jobs);
        sweep_summary s;
        db_err e;
        int rc = sweep_execute(p, &o, &s, &e);
        int ok = rc == 0 && s.failed == 0 && s.pending == 0 &&
                 s.interrupted == 0 && s.done + s.skipped == p->n;
        _exit(ok ? 0 : 1);
    }
    return pid;
}

static int wait_status(pid_t pid)
{
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return st;
}

static int count_files(const char *suffix)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c '%s$'", g_dir, suffix);
    FILE *f = popen(cmd, "r");
    int n = 0;
    if (fscanf(f, "%d", &n) != 1)
        n = -1;
    pclose(f);
    return n;
}

START_TEST(test_kill9_resume)
{
    make_dir();
    g_sleep = 0.2;
    sweep_options o;
    fake_options(&o, 3);
    sweep_plan p;
    db_err e = { "" };
    ck_assert(plan_from_text(&p, small_json, &o, &e) == 0);

    pid_t pid = spawn_sweep(&p, 3);
    struct timespec ts = { 0, 400000000 }; /* mid-way: ~2 rounds of 3 */
    nanosleep(&ts, NULL);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int st = wait_status(pid);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    size_t ids, first_done, first_start;
    log_max("done", &ids, &first_done);
    log_max("start", &ids, &first_start);
    ck_assert_uint_gt(first_done, 0);
    ck_assert_uint_lt(first_done, 12);

    /* the workers died with the sweep: nothing more finishes */
    nanosleep(&ts, NULL);
    size_t later;
    log_max("done", &ids, &later);
    ck_assert_uint_eq(later, first_done);
    /* every file that exists is a complete result: no partial file */
    report_set set;
    memset(&set, 0, sizeof set);
    ck_assert_int_eq(report_load(&set, g_dir, NULL), 0);
    ck_assert_uint_eq(set.nproblems, 0);
    ck_assert_uint_eq(set.n, first_done);
    report_set_free(&set);

    /* the same command continues where it stopped */
    pid = spawn_sweep(&p, 3);
    st = wait_status(pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    check_all_complete(&p);
    size_t done_lines, start_lines;
    ck_assert_int_eq(log_max("done", &ids, &done_lines), 1); /* none twice */
    ck_assert_uint_eq(ids, 12);
    ck_assert_uint_eq(done_lines, 12);
    log_max("start", &ids, &start_lines);
    /* restarted: only the runs in flight at the kill (at most 3) */
    ck_assert_uint_le(start_lines, 12 + 3);
    ck_assert_uint_le(first_start - first_done, 3);
    ck_assert_int_eq(count_files(".lock"), 0);
    sweep_plan_free(&p);
    remove_tree();
}
END_TEST

START_TEST(test_concurrent_sweeps)
{
    make_dir();
    g_sleep = 0.06;
    sweep_options o;
    fake_options(&o, 2);
    sweep_plan p;
    db_err e = { "" };
    ck_assert(plan_from_text(&p, small_json, &o, &e) == 0);
    pid_t a = spawn_sweep(&p, 2);
    pid_t b = spawn_sweep(&p, 3);
    int sa = wait_status(a), sb = wait_status(b);
    ck_assert(WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
    ck_assert(WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
    check_all_complete(&p);
    size_t ids, lines;
    /* every run started exactly once across the two sweeps */
    ck_assert_int_eq(log_max("start", &ids, &lines), 1);
    ck_assert_uint_eq(ids, 12);
    ck_assert_uint_eq(lines, 12);
    ck_assert_int_eq(count_files(".lock"), 0);
    sweep_plan_free(&p);
    remove_tree();
}
END_TEST

START_TEST(test_sigterm)
{
    make_dir();
    g_sleep = 5.0; /* a run that would take long: stopped by the signal */
    sweep_options o;
    fake_options(&o, 2);
    sweep_plan p;
    db_err e = { "" };
    ck_assert(plan_from_text(&p, small_json, &o, &e) == 0);
    fflush(NULL);
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        sweep_summary s;
        int rc = sweep_execute(&p, &o, &s, &e);
        char buf[64];
        int n = snprintf(buf, sizeof buf, "%d %zu %zu %d", rc, s.interrupted,
                         s.pending, s.signal);
        ssize_t w = write(pfd[1], buf, (size_t)n);
        (void)w;
        _exit(0);
    }
    close(pfd[1]);
    struct timespec ts = { 0, 200000000 };
    nanosleep(&ts, NULL);
    double t0 = (double)time(NULL);
    kill(pid, SIGTERM);
    int st = wait_status(pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert((double)time(NULL) - t0 < 4.0); /* did not wait for the runs */
    char buf[64] = "";
    ssize_t n = read(pfd[0], buf, sizeof buf - 1);
    close(pfd[0]);
    ck_assert_int_gt(n, 0);
    int rc, sig;
    size_t intr, pend;
    ck_assert_int_eq(sscanf(buf, "%d %zu %zu %d", &rc, &intr, &pend, &sig), 4);
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(intr, 2);
    ck_assert_uint_eq(pend, 10);
    ck_assert_int_eq(sig, SIGTERM);
    ck_assert_int_eq(count_files(".json"), 0);
    ck_assert_int_eq(count_files(".lock"), 0);
    sweep_plan_free(&p);
    remove_tree();
}
END_TEST

/* ------------------------------------------------- the real run_execute */

START_TEST(test_real_runs)
{
    make_dir();
    const char *src = getenv("DROPBENCH_SRC");
    char cfg[512], data[400], sweepf[400];
    snprintf(cfg, sizeof cfg, "%s/configs", src ? src : ".");
    setenv("DROPBENCH_CONFIGS", cfg, 1);
    snprintf(data, sizeof data, "%s/data", g_dir);
    ck_assert_int_eq(gen_idx_set(data, "mnist", 512, 256, 0, 7), 0);
    char results[400];
    snprintf(results, sizeof results, "%s/results", g_dir);
    snprintf(sweepf, sizeof sweepf, "%s/real.json", g_dir);
    FILE *f = fopen(sweepf, "w");
    fprintf(f, "{\"name\": \"real\", \"results\": \"%s\", \"tasks\": "
               "[\"mnist-mlp\"], \"strategies\": [\"none\", \"hinton\"], "
               "\"seeds\": [0, 1], \"epochs\": 2}", results);
    fclose(f);

    /* through the command, as a user runs it */
    char *argv[] = { "sweep", sweepf, "--jobs", "2", "--data", data,
                     "--quiet", NULL };
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        _exit(cmd_sweep(7, argv));
    }
    int st = wait_status(pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sweep status %d", st);

    report_set set;
    memset(&set, 0, sizeof set);
    ck_assert_int_eq(report_load(&set, results, NULL), 0);
    ck_assert_uint_eq(set.n, 4);
    ck_assert_uint_eq(set.nproblems, 0);
    report_table t;
    db_err e = { "" };
    ck_assert_msg(report_aggregate(&set, "none", &t, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(t.ncomplete, 4);
    ck_assert_uint_eq(t.nrows, 2);
    ck_assert(report_cell_at(&t, 1, 0)->has_diff);
    ck_assert_uint_eq(report_cell_at(&t, 1, 0)->diff.n, 2);
    ck_assert_uint_eq(set.res[0].ncurve, 2);
    report_table_free(&t);

    /* the same command again: all skipped, files untouched */
    struct stat before[4];
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(stat(set.res[i].path, &before[i]), 0);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        _exit(cmd_sweep(7, argv));
    }
    st = wait_status(pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    for (size_t i = 0; i < 4; i++) {
        struct stat now;
        ck_assert_int_eq(stat(set.res[i].path, &now), 0);
        ck_assert(now.st_ino == before[i].st_ino);
        ck_assert(now.st_mtim.tv_sec == before[i].st_mtim.tv_sec &&
                  now.st_mtim.tv_nsec == before[i].st_mtim.tv_nsec);
    }
    report_set_free(&set);
    remove_tree();
}
END_TEST


/* docs/examples/sweep-custom.json: a custom config file named by path
 * (relative to the sweep file) and strategies from a JSON file and an
 * inline block, run for real and reported against "none". */
START_TEST(test_custom_config_and_strategies)
{
    make_dir();
    const char *src = getenv("DROPBENCH_SRC");
    char sweepf[512], data[400], results[400];
    snprintf(sweepf, sizeof sweepf, "%s/docs/examples/sweep-custom.json", src ? src : ".");
    snprintf(data, sizeof data, "%s/data", g_dir);
    ck_assert_int_eq(gen_idx_set(data, "mnist", 256, 128, 0, 7), 0);
    snprintf(results, sizeof results, "%s/results", g_dir);
    char *argv[] = { "sweep", sweepf, "--jobs", "2", "--data", data,
                     "--results", results, "--quiet", NULL };
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        _exit(cmd_sweep(9, argv));
    }
    int st = wait_status(pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sweep status %d", st);

    report_set set;
    memset(&set, 0, sizeof set);
    ck_assert_int_eq(report_load(&set, results, NULL), 0);
    ck_assert_uint_eq(set.n, 6);
    ck_assert_uint_eq(set.nproblems, 0);
    report_table t;
    db_err e = { "" };
    ck_assert_msg(report_aggregate(&set, "none", &t, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(t.ncomplete, 6);
    ck_assert_uint_eq(t.nrows, 3);
    for (size_t r = 0; r < 3; r++) {
        const char *name = t.rows[r].strategy;
        if (strcmp(name, "none") == 0)
            continue;
        ck_assert_msg(strcmp(name, "last-dense") == 0 ||
                      strcmp(name, "first-dense-channelish") == 0, "row %s", name);
        ck_assert(report_cell_at(&t, r, 0)->has_diff);
        ck_assert_uint_eq(report_cell_at(&t, r, 0)->diff.n, 2);
    }
    report_table_free(&t);
    /* the results record the rewritten model: last-dense has one site */
    size_t found = 0;
    for (size_t i = 0; i < set.n; i++) {
        ck_assert_str_eq(set.res[i].task, "custom-mlp");
        if (strcmp(set.res[i].strategy, "last-dense") != 0)
            continue;
        cJSON *j = NULL;
        ck_assert_int_eq(db_json_load(&j, set.res[i].path, NULL), 0);
        const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(j, "config");
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(cfg, "model");
        size_t ndrop = 0, at = 0, k = 0;
        const cJSON *l;
        cJSON_ArrayForEach(l, model) {
            if (!strcmp(cJSON_GetObjectItemCaseSensitive(l, "type")->valuestring, "dropout"))
                ndrop++, at = k;
            k++;
        }
        ck_assert_uint_eq(ndrop, 1);
        ck_assert_uint_eq(at, 4); /* dense relu dense relu DROP dense */
        cJSON_Delete(j);
        found++;
    }
    ck_assert_uint_eq(found, 2);
    report_set_free(&set);
    remove_tree();
}
END_TEST

/* kill -9 in the middle of real training; the rerun completes every run
 * and leaves the results finished before the kill untouched. */
START_TEST(test_real_kill9)
{
    make_dir();
    const char *src = getenv("DROPBENCH_SRC");
    char cfg[512], data[400];
    snprintf(cfg, sizeof cfg, "%s/configs", src ? src : ".");
    setenv("DROPBENCH_CONFIGS", cfg, 1);
    snprintf(data, sizeof data, "%s/data", g_dir);
    ck_assert_int_eq(gen_idx_set(data, "mnist", 1024, 128, 0, 7), 0);
    char results[400];
    snprintf(results, sizeof results, "%s/results", g_dir);
    sweep_options o;
    memset(&o, 0, sizeof o);
    o.jobs = 2;
    o.results_dir = results;
    o.data_root = data;
    o.poll_seconds = 0.01;
    sweep_plan p;
    db_err e = { "" };
    ck_assert_msg(plan_from_text(&p, "{\"name\": \"k\", \"tasks\": "
                                 "[\"mnist-mlp\"], \"strategies\": [\"none\", "
                                 "\"dense\", \"hinton\"], \"seeds\": [0, 1], "
                                 "\"epochs\": 2}", &o, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(p.n, 6);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        sweep_summary s;
        _exit(sweep_execute(&p, &o, &s, &e) == 0 ? 0 : 1);
    }
    /* wait until the first result lands, then kill */
    double waited = 0;
    report_set set;
    for (;;) {
        memset(&set, 0, sizeof set);
        report_load(&set, results, NULL);
        size_t n = set.n;
        report_set_free(&set);
        if (n >= 1 || waited > 60)
            break;
        struct timespec ts = { 0, 20000000 };
        nanosleep(&ts, NULL);
        waited += 0.02;
    }
    kill(pid, SIGKILL);
    wait_status(pid);
    struct timespec ts = { 0, 300000000 };
    nanosleep(&ts, NULL);
    memset(&set, 0, sizeof set);
    ck_assert_int_eq(report_load(&set, results, NULL), 0);
    ck_assert_uint_eq(set.nproblems, 0);
    size_t nbefore = set.n;
    ck_assert_uint_ge(nbefore, 1);
    ck_assert_uint_lt(nbefore, 6);
    struct stat before[6];
    char paths[6][700];
    for (size_t i = 0; i < nbefore; i++) {
        snprintf(paths[i], sizeof paths[i], "%s", set.res[i].path);
        ck_assert_int_eq(stat(paths[i], &before[i]), 0);
    }
    report_set_free(&set);

    sweep_summary s;
    ck_assert(sweep_execute(&p, &o, &s, &e) == 0);
    ck_assert_uint_eq(s.failed, 0);
    ck_assert_uint_eq(s.skipped, nbefore);
    ck_assert_uint_eq(s.done, 6 - nbefore);
    sweep_summary_free(&s);
    memset(&set, 0, sizeof set);
    ck_assert_int_eq(report_load(&set, results, NULL), 0);
    ck_assert_uint_eq(set.nproblems, 0);
    ck_assert_uint_eq(set.n, 6);
    for (size_t i = 0; i < 6; i++)
        ck_assert_str_eq(set.res[i].status, "complete");
    report_set_free(&set);
    for (size_t i = 0; i < nbefore; i++) { /* not run twice */
        struct stat now;
        ck_assert_int_eq(stat(paths[i], &now), 0);
        ck_assert(now.st_ino == before[i].st_ino);
    }
    sweep_plan_free(&p);
    remove_tree();
}
END_TEST

static Suite *make_suite(void)
{
    /* gen_data.h's other generators are not needed here */
    (void)gen_all;
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("expand");
    tcase_add_test(tc, test_expand_grid);
    tcase_add_test(tc, test_estimate_sources);
    tcase_add_test(tc, test_estimate_from_flops);
    tcase_add_test(tc, test_estimate_cpu_id);
    tcase_add_test(tc, test_other_version_note);
    tcase_add_test(tc, test_expand_errors);
    tcase_add_test(tc, test_filter);
    tcase_add_test(tc, test_suite_files);
    suite_add_tcase(s, tc);
    tc = tcase_create("execute");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_execute_and_skip);
    tcase_add_test(tc, test_failures_continue);
    tcase_add_test(tc, test_kill9_resume);
    tcase_add_test(tc, test_concurrent_sweeps);
    tcase_add_test(tc, test_sigterm);
    tcase_add_test(tc, test_real_runs);
    tcase_add_test(tc, test_custom_config_and_strategies);
    tcase_add_test(tc, test_real_kill9);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
