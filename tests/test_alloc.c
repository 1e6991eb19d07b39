/* test_alloc.c - allocation failure.  This program is linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc (see the Makefile), and
 * cJSON's allocations go through the same counter (cJSON_InitHooks), so
 * allocation N can be made to fail.  For every N along a short training run
 * (config, data, model, training, result file) and along a report (loading
 * results, aggregating, writing), the code under test must return a clean
 * error with a message, leave no partial or temporary file, and free
 * everything: under `make asan` LeakSanitizer fails the program on any leak.
 *
 * Not covered: allocations made inside shared libraries (libc's fopen,
 * zlib, libpng, OpenBLAS), which do not go through the wrapped symbols. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "check_main.h"
#include "test_util.h"
#include "gen_data.h"
#include "json_schema.h"
#include "report/aggregate.h"
#include "report/results.h"
#include "report/write.h"
#include "strategy.h"
#include "train/model.h"
#include "train/run.h"
#include "train/train.h"
#include "util/jsonio.h"

/* ---- the failing allocator ---------------------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t k);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t k);
void *__wrap_realloc(void *p, size_t n);

static int g_armed;      /* count only while the code under test runs */
static long g_count;     /* allocations so far */
static long g_fail_at;   /* 1-based allocation to fail; 0: none */

static int fail_now(void)
{
    if (!g_armed)
        return 0;
    return ++g_count == g_fail_at;
}

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t k) { return fail_now() ? NULL : __real_calloc(n, k); }
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }

static void *hook_malloc(size_t n) { return __wrap_malloc(n); }

/* ---- fixtures ------------------------------------------------------------- */

static char g_dir[256], g_data[300], g_cfg[300], g_res[300], g_rep[300], g_cfg2[300];
static const char *g_train_cfg = g_cfg; /* what scenario_train runs */
static cJSON *g_schema;

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    /* a checkpoint (.ckpt) is not a result: a run that fails after an
     * epoch keeps it on purpose, for the rerun to continue from */
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
             !(l > 5 && strcmp(de->d_name + l - 5, ".ckpt") == 0);
    }
    closedir(d);
    return n;
}

static void setup(void)
{
    cJSON_Hooks h = { hook_malloc, free };
    cJSON_InitHooks(&h);
    snprintf(g_dir, sizeof g_dir, "/tmp/db-test-alloc.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    snprintf(g_data, sizeof g_data, "%s/data", g_dir);
    snprintf(g_cfg, sizeof g_cfg, "%s/tiny.json", g_dir);
    snprintf(g_res, sizeof g_res, "%s/res", g_dir);
    snprintf(g_rep, sizeof g_rep, "%s/rep", g_dir);
    ck_assert_int_eq(gen_idx_set(g_data, "mnist", 24, 8, 0, 3), 0);
    ck_assert_int_eq(gen_wordlang(g_data, 24, 8, 3), 0);
    /* a tiny GRU stack with locked, recurrent and interlayer dropout */
    snprintf(g_cfg2, sizeof g_cfg2, "%s/tiny-gru2.json", g_dir);
    FILE *f2 = fopen(g_cfg2, "w");
    ck_assert_ptr_nonnull(f2);
    fputs("{\"task\": \"tiny-gru2\", \"data\": \"wordlang\", \"model\": ["
          "{\"type\": \"embedding\", \"vocab\": 256, \"dim\": 6},"
          "{\"type\": \"gru\", \"hidden\": 8, \"num_layers\": 2},"
          "{\"type\": \"dense\", \"units\": 10}],"
          "\"strategy\": \"variational+recurrent+interlayer\","
          "\"train\": {\"batch\": 8, \"epochs\": 2, \"lr\": 0.1, \"clip_norm\": 5}}\n", f2);
    ck_assert_int_eq(fclose(f2), 0);
    /* a tiny conv net with dropout at three kinds of site */
    FILE *f = fopen(g_cfg, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"task\": \"tiny\", \"data\": \"mnist\", \"model\": ["
          "{\"type\": \"conv\", \"filters\": 2, \"kernel\": 5, \"stride\": 2},"
          "{\"type\": \"relu\"}, {\"type\": \"maxpool\", \"kernel\": 2},"
          "{\"type\": \"dense\", \"units\": 6}, {\"type\": \"relu\"},"
          "{\"type\": \"dense\", \"units\": 10}],"
          "\"strategy\": \"srivastava\","
          "\"train\": {\"batch\": 8, \"epochs\": 2, \"lr\": 0.05,"
          " \"schedule\": {\"type\": \"step\", \"every\": 1, \"gamma\": 0.5}}}\n", f);
    ck_assert_int_eq(fclose(f), 0);
    const char *src = getenv("DROPBENCH_SRC");
    char path[600];
    snprintf(path, sizeof path, "%s/results/schema.json", src ? src : ".");
    db_err e;
    ck_assert_msg(db_json_load(&g_schema, path, &e) == 0, "%s", e.msg);
}

static void teardown(void)
{
    cJSON_Delete(g_schema);
    g_schema = NULL;
    rm_tree(g_dir);
    cJSON_InitHooks(NULL);
}

/* ---- scenarios ------------------------------------------------------------ */

/* Resolve a config file, train, write the result. */
static int scenario_train(db_err *e)
{
    run_request rq;
    run_request_init(&rq);
    rq.config_path = g_train_cfg;
    rq.val = 4;
    cJSON *cfg = NULL;
    char id[17];
    if (run_resolve(&rq, &cfg, id, e))
        return -1;
    run_options o;
    memset(&o, 0, sizeof o);
    o.results_dir = g_res;
    o.data_root = g_data;
    o.quiet = 1;
    int rc = run_execute(cfg, id, &o, e);
    cJSON_Delete(cfg);
    return rc;
}

/* Load, aggregate and format a directory of results. */
static int scenario_report(db_err *e)
{
    report_set set;
    memset(&set, 0, sizeof set);
    if (report_load(&set, g_rep, e)) {
        report_set_free(&set);
        return -1;
    }
    int rc = 0;
    if (set.nproblems) {
        /* a result that could not be read for lack of memory is a problem */
        rc = db_fail(e, "%s", set.problems[0]);
    }
    report_table t;
    memset(&t, 0, sizeof t);
    if (!rc)
        rc = report_aggregate(&set, "none", &t, e);
    for (int fmt = REPORT_MD; !rc && fmt <= REPORT_HTML; fmt++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        if (!m) {
            rc = db_fail(e, "open_memstream failed");
            break;
        }
        rc = report_write(m, &set, &t, (enum report_format)fmt, NULL, e);
        fclose(m);
        free(buf);
    }
    report_table_free(&t);
    report_set_free(&set);
    return rc;
}

/* Runs scenario with allocation n failing (0: none); returns its status and
 * the number of allocations it made. */
static int run_failing(int (*scenario)(db_err *), long n, long *count, db_err *e)
{
    e->msg[0] = '\0';
    g_count = 0;
    g_fail_at = n;
    g_armed = 1;
    int rc = scenario(e);
    g_armed = 0;
    *count = g_count;
    return rc;
}

START_TEST(every_allocation_of_a_training_run)
{
    g_train_cfg = _i ? g_cfg2 : g_cfg;
    db_err e;
    long total;
    ck_assert_msg(run_failing(scenario_train, 0, &total, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(count_entries(g_res), 1);
    ck_assert_int_gt(total, 20);
    printf("training run: %ld allocations, each made to fail in turn\n", total);
    long clean = 0;
    for (long n = 1; n <= total; n++) {
        rm_tree(g_res);
        long cnt;
        int rc = run_failing(scenario_train, n, &cnt, &e);
        if (rc < 0) {
            ck_assert_msg(e.msg[0], "allocation %ld: failed without a message", n);
            ck_assert_msg(count_entries(g_res) == 0, "allocation %ld (%s): left %d file(s)",
                          n, e.msg, count_entries(g_res));
            clean++;
        } else {
            /* the failure was absorbed: the result must still be whole */
            ck_assert_msg(rc == 0, "allocation %ld: status %d", n, rc);
            ck_assert_int_eq(count_entries(g_res), 1);
            DIR *d = opendir(g_res);
            struct dirent *de;
            char path[1200] = "";
            while ((de = readdir(d)) != NULL)
                if (de->d_name[0] != '.')
                    snprintf(path, sizeof path, "%s/%s", g_res, de->d_name);
            closedir(d);
            cJSON *r = NULL;
            ck_assert_int_eq(db_json_load(&r, path, &e), 0);
            char err[512];
            ck_assert_msg(js_validate(g_schema, r, "$", err, sizeof err) == 0,
                          "allocation %ld absorbed, but the result is not valid: %s", n, err);
            cJSON_Delete(r);
        }
    }
    printf("training run: %ld clean errors, %ld absorbed\n", clean, total - clean);
}
END_TEST

/* The training loop of a stacked GRU with every sequence mode (locked on
 * the embedding and between the layers, recurrent in both, element-wise on
 * the output) allocates nothing: forward, backward, update and evaluation,
 * on 1 and 2 threads, counted through the wrapped allocator. */
START_TEST(gru_stack_training_loop_allocates_nothing)
{
    const char *js = "[{\"type\":\"embedding\",\"vocab\":256,\"dim\":16},"
                     "{\"type\":\"gru\",\"hidden\":24,\"num_layers\":2},"
                     "{\"type\":\"dense\",\"units\":10}]";
    const char *strategies[] = { "variational+recurrent+output",
                                 "embedding+interlayer+recurrent", "token+recurrent" };
    for (size_t si = 0; si < 3; si++)
        for (size_t threads = 1; threads <= 2; threads++) {
            db_arch base, a;
            db_err e;
            cJSON *j = cJSON_Parse(js);
            ck_assert_int_eq(db_arch_from_json(&base, j, "t", &e), 0);
            cJSON_Delete(j);
            ck_assert_msg(db_strategy_apply(&a, &base, strategies[si], NULL, 0, &e) == 0, "%s",
                          e.msg);
            db_model m;
            db_model_input in = { .text = 1, .T = 16, .vocab = 256, .classes = 10 };
            ck_assert_msg(db_model_build(&m, &a, &in, 32, &e) == 0, "%s", e.msg);
            ck_assert_int_eq(db_model_set_threads(&m, threads, &e), 0);
            db_model_init(&m, 1);
            uint8_t labels[32];
            for (size_t b = 0; b < 32; b++) {
                labels[b] = (uint8_t)(b % 10);
                m.len[b] = (uint32_t)(1 + b % 16);
                for (size_t t = 0; t < 16; t++)
                    m.tok[b * 16 + t] = (uint8_t)('a' + (b * 7 + t * 3) % 26);
            }
            db_optim o = { .lr = 0.1, .momentum = 0.9, .clip_norm = 5.0 };
            g_count = 0;
            g_fail_at = 0;
            g_armed = 1;
            for (int step = 0; step < 3; step++) {
                size_t correct = 0;
                const size_t B = step == 2 ? 17 : 32; /* a short last batch too */
                db_model_forward(&m, B, labels, 1, &correct);
                db_model_backward(&m, B, labels);
                db_model_update(&m, &o);
                db_model_forward(&m, B, labels, 0, &correct);
            }
            g_armed = 0;
            ck_assert_msg(g_count == 0, "%s on %zu threads: %ld allocations in the loop",
                          strategies[si], threads, g_count);
            db_model_free(&m);
        }
}
END_TEST

START_TEST(every_allocation_of_a_report)
{
    /* results to report on: three strategies x two seeds */
    const char *strategies[] = { "none", "dense", "hinton" };
    for (int s = 0; s < 3; s++)
        for (long seed = 0; seed < 2; seed++) {
            run_request rq;
            run_request_init(&rq);
            rq.config_path = g_cfg;
            rq.strategy = strategies[s];
            rq.seed = seed;
            rq.epochs = 1;
            cJSON *cfg = NULL;
            char id[17];
            db_err e;
            ck_assert_msg(run_resolve(&rq, &cfg, id, &e) == 0, "%s", e.msg);
            run_options o;
            memset(&o, 0, sizeof o);
            o.results_dir = g_rep;
            o.data_root = g_data;
            o.quiet = 1;
            ck_assert_msg(run_execute(cfg, id, &o, &e) == 0, "%s", e.msg);
            cJSON_Delete(cfg);
        }
    db_err e;
    long total;
    ck_assert_msg(run_failing(scenario_report, 0, &total, &e) == 0, "%s", e.msg);
    printf("report: %ld allocations, each made to fail in turn\n", total);
    for (long n = 1; n <= total; n++) {
        long cnt;
        int rc = run_failing(scenario_report, n, &cnt, &e);
        ck_assert_msg(rc == 0 || e.msg[0], "allocation %ld: failed without a message", n);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("alloc");
    TCase *t = tcase_create("alloc");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 600);
    tcase_add_loop_test(t, every_allocation_of_a_training_run, 0, 2); /* conv net, GRU stack */
    tcase_add_test(t, every_allocation_of_a_report);
    tcase_add_test(t, gru_stack_training_loop_allocates_nothing);
    suite_add_tcase(s, t);
    (void)gen_all;
    return s;
}

DB_TEST_MAIN()
