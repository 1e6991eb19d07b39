/* End-to-end runs on generated data: every task trains one epoch and writes a
 * schema-valid result; runs are bit-reproducible; strategies share the seed's
 * initial weights and data order; bad requests fail cleanly, leaving no file. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "test_util.h"
#include "test_train.h"
#include "train/run.h"
#include "train/train.h"
#include "util/fs.h"
#include "util/jsonio.h"

static char root[256];     /* generated data */
static char tmp[256];      /* scratch for results */
static cJSON *schema;
static int run_threads;    /* 0: the config's */

static void setup_once(void)
{
    use_source_configs(0);
    make_root_with_data(root, sizeof root, "/tmp/dbtest-run-XXXXXX", 500, 120);
    schema = load_schema();
}

static void teardown_once(void)
{
    remove_root(root);
    cJSON_Delete(schema);
}

static void fresh_tmp(void)
{
    static int k;
    snprintf(tmp, sizeof tmp, "%s/out%d-%d", root, (int)getpid(), k++);
}

/* Resolves and executes a run; returns the parsed result file. */
static cJSON *run(const char *task, const char *strategy, const char *rate, long seed,
                  int epochs, long limit, int *status)
{
    run_request rq;
    run_request_init(&rq);
    rq.task = task;
    rq.strategy = strategy;
    rq.rate = rate;
    rq.seed = seed;
    rq.epochs = epochs;
    rq.threads = run_threads;
    rq.limit_train = limit;
    cJSON *cfg = NULL;
    char id[17];
    db_err e;
    ck_assert_msg(run_resolve(&rq, &cfg, id, &e) == 0, "resolve: %s", e.msg);
    char data[300];
    snprintf(data, sizeof data, "%s/data", root);
    fresh_tmp();
    run_options o;
    int rc = run_quietly(cfg, id, data, tmp, &o, &e);
    cJSON_Delete(cfg);
    ck_assert_msg(rc >= 0, "execute: %s", e.msg);
    if (status)
        *status = rc;
    return load_checked_result(schema, o.result_path);
}

static double final_err(const cJSON *r)
{
    return cJSON_GetObjectItem(cJSON_GetObjectItem(r, "final"), "test_error_pct")->valuedouble;
}

static const char *fingerprint(const cJSON *r, const char *k)
{
    return cJSON_GetObjectItem(cJSON_GetObjectItem(r, "fingerprints"), k)->valuestring;
}

START_TEST(every_task_one_epoch)
{
    const char *tasks[][2] = { { "mnist-mlp", "hinton" }, { "mnist-lenet", "srivastava" },
                               { "fashion-lenet", "spatial" }, { "cifar-cnn", "srivastava" },
                               { "wordlang-gru", "embedding+output" },
                               { "wordlang-gru2", "embedding+interlayer" },
                               { "cifar-cnn", "spatial-pool" } };
    for (size_t i = 0; i < 7; i++) {
        int st;
        cJSON *r = run(tasks[i][0], tasks[i][1], NULL, 0, 1, 0, &st);
        ck_assert_int_eq(st, 0);
        ck_assert_str_eq(cJSON_GetObjectItem(r, "status")->valuestring, "complete");
        double err = final_err(r);
        ck_assert(err >= 0 && err <= 100);
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "epochs")), 1);
        cJSON_Delete(r);
    }
}
END_TEST

START_TEST(training_learns_the_signal)
{
    /* chance is 90% error; the generated classes are easy to separate */
    cJSON *r = run("mnist-mlp", "none", NULL, 0, 3, 0, NULL);
    ck_assert_msg(final_err(r) < 30.0, "error %.1f%%", final_err(r));
    cJSON_Delete(r);
    r = run("wordlang-gru", "none", NULL, 0, 3, 0, NULL);
    ck_assert_msg(final_err(r) < 60.0, "error %.1f%%", final_err(r));
    cJSON_Delete(r);
}
END_TEST

/* Metrics of two results, timing removed, must be identical. */
static void strip_timing(cJSON *r)
{
    cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(r, "epochs")) {
        cJSON_DeleteItemFromObject(e, "seconds");
        cJSON_DeleteItemFromObject(e, "examples_per_sec");
    }
}

START_TEST(bit_identical_reruns)
{
    const char *tasks[][2] = { { "mnist-mlp", "hinton" }, { "mnist-lenet", "spatial" },
                               { "wordlang-gru", "token" },
                               { "wordlang-gru2", "variational+recurrent+output" } };
    for (size_t i = 0; i < 4; i++) {
        cJSON *a = run(tasks[i][0], tasks[i][1], NULL, 3, 2, 300, NULL);
        cJSON *b = run(tasks[i][0], tasks[i][1], NULL, 3, 2, 300, NULL);
        strip_timing(a);
        strip_timing(b);
        ck_assert(cJSON_Compare(cJSON_GetObjectItem(a, "epochs"),
                                cJSON_GetObjectItem(b, "epochs"), 1));
        ck_assert_str_eq(fingerprint(a, "initial_weights"), fingerprint(b, "initial_weights"));
        /* and a different seed really changes things */
        cJSON *c = run(tasks[i][0], tasks[i][1], NULL, 4, 2, 300, NULL);
        strip_timing(c);
        ck_assert(!cJSON_Compare(cJSON_GetObjectItem(a, "epochs"),
                                 cJSON_GetObjectItem(c, "epochs"), 1));
        ck_assert_str_ne(fingerprint(a, "initial_weights"), fingerprint(c, "initial_weights"));
        ck_assert_str_ne(fingerprint(a, "data_order"), fingerprint(c, "data_order"));
        cJSON_Delete(a);
        cJSON_Delete(b);
        cJSON_Delete(c);
    }
}
END_TEST

static double epoch_num(const cJSON *r, const char *k)
{
    return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "epochs"), 0), k)
        ->valuedouble;
}

/* Two threads split each batch (257 examples: the last batch of one leaves
 * a member with nothing to do): reruns are bit-identical, the result
 * records the thread count, and the numbers agree with one thread up to
 * the order of the weight-gradient sums. */
START_TEST(threaded_runs)
{
    const char *tasks[][2] = { { "mnist-lenet", "srivastava" }, { "cifar-cnn", "srivastava" },
                               { "mnist-mlp", "hinton" }, { "wordlang-gru", "token" },
                               { "wordlang-gru2", "variational+recurrent+interlayer" } };
    for (size_t i = 0; i < 5; i++) {
        run_threads = 2;
        cJSON *a = run(tasks[i][0], tasks[i][1], NULL, 5, 1, 257, NULL);
        cJSON *b = run(tasks[i][0], tasks[i][1], NULL, 5, 1, 257, NULL);
        run_threads = 1;
        cJSON *c = run(tasks[i][0], tasks[i][1], NULL, 5, 1, 257, NULL);
        run_threads = 0;
        ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "config"), "threads")
                             ->valueint, 2);
        /* the batch is split by the team (GRU models too), each member's
         * products on one OpenBLAS thread */
        const cJSON *env = cJSON_GetObjectItem(a, "environment");
        ck_assert_int_eq(cJSON_GetObjectItem(env, "team_threads")->valueint, 2);
        ck_assert_int_eq(cJSON_GetObjectItem(env, "blas_threads")->valueint, 1);
        strip_timing(a);
        strip_timing(b);
        ck_assert_msg(cJSON_Compare(cJSON_GetObjectItem(a, "epochs"),
                                    cJSON_GetObjectItem(b, "epochs"), 1), "%s", tasks[i][0]);
        ck_assert_str_eq(fingerprint(a, "initial_weights"), fingerprint(c, "initial_weights"));
        ck_assert_str_eq(fingerprint(a, "data_order"), fingerprint(c, "data_order"));
        double la = epoch_num(a, "test_loss"), lc = epoch_num(c, "test_loss");
        ck_assert_msg(fabs(la - lc) <= 1e-3 * fabs(lc), "%s: test loss %.9g (2 threads) vs "
                      "%.9g (1 thread)", tasks[i][0], la, lc);
        cJSON_Delete(a);
        cJSON_Delete(b);
        cJSON_Delete(c);
    }
}
END_TEST

START_TEST(strategies_share_init_and_order)
{
    const char *conv[] = { "none", "input", "conv", "pool", "spatial", "srivastava", "dense" };
    cJSON *base = run("mnist-lenet", "none", NULL, 7, 2, 256, NULL);
    for (size_t i = 1; i < sizeof conv / sizeof conv[0]; i++) {
        cJSON *r = run("mnist-lenet", conv[i], NULL, 7, 2, 256, NULL);
        ck_assert_str_eq(fingerprint(base, "initial_weights"), fingerprint(r, "initial_weights"));
        ck_assert_str_eq(fingerprint(base, "data_order"), fingerprint(r, "data_order"));
        /* dropout does change the training trajectory */
        ck_assert(final_err(r) != final_err(base) ||
                  cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "epochs"), 0),
                                      "train_loss")->valuedouble !=
                      cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(base, "epochs"), 0),
                                          "train_loss")->valuedouble);
        cJSON_Delete(r);
    }
    cJSON_Delete(base);
    cJSON *a = run("wordlang-gru", "none", NULL, 1, 1, 200, NULL);
    cJSON *b = run("wordlang-gru", "embedding+output", NULL, 1, 1, 200, NULL);
    ck_assert_str_eq(fingerprint(a, "initial_weights"), fingerprint(b, "initial_weights"));
    ck_assert_str_eq(fingerprint(a, "data_order"), fingerprint(b, "data_order"));
    cJSON_Delete(a);
    cJSON_Delete(b);
}
END_TEST

/* spatial and spatial-pool are one function (docs/PLACEMENTS.md): the same
 * masks, the same forward; only the rounding of the gradients differs (the
 * pool site lets the conv run grouped with its pool).  Two epochs end
 * within rounding noise of each other. */
START_TEST(spatial_and_spatial_pool_runs_agree)
{
    const char *tasks[] = { "mnist-lenet", "cifar-cnn" };
    for (size_t i = 0; i < 2; i++) {
        cJSON *a = run(tasks[i], "spatial", NULL, 2, 2, 300, NULL);
        cJSON *b = run(tasks[i], "spatial-pool", NULL, 2, 2, 300, NULL);
        /* element-wise at the same sites and rate: another function */
        cJSON *c = run(tasks[i], "pool", "0.1", 2, 2, 300, NULL);
        for (int ep = 0; ep < 2; ep++) {
            const cJSON *ea = cJSON_GetArrayItem(cJSON_GetObjectItem(a, "epochs"), ep);
            const cJSON *eb = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "epochs"), ep);
            const cJSON *ec = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "epochs"), ep);
            const char *keys[] = { "train_loss", "test_loss" };
            for (int k = 0; k < 2; k++) {
                double va = cJSON_GetObjectItem(ea, keys[k])->valuedouble;
                double vb = cJSON_GetObjectItem(eb, keys[k])->valuedouble;
                double vc = cJSON_GetObjectItem(ec, keys[k])->valuedouble;
                ck_assert_msg(fabs(va - vb) <= 1e-6 * fabs(va), "%s epoch %d %s: %.9g "
                              "(spatial) vs %.9g (spatial-pool)", tasks[i], ep + 1, keys[k],
                              va, vb);
                ck_assert_msg(fabs(va - vc) > 1e-5 * fabs(va), "%s: pool agrees with spatial",
                              tasks[i]);
            }
        }
        cJSON_Delete(a);
        cJSON_Delete(b);
        cJSON_Delete(c);
    }
}
END_TEST

START_TEST(divergence_is_recorded)
{
    run_request rq;
    run_request_init(&rq);
    rq.task = "mnist-mlp";
    rq.epochs = 2;
    rq.lr = 1e6;
    rq.limit_train = 300;
    cJSON *cfg = NULL;
    char id[17];
    db_err e;
    ck_assert_int_eq(run_resolve(&rq, &cfg, id, &e), 0);
    char data[300];
    snprintf(data, sizeof data, "%s/data", root);
    fresh_tmp();
    run_options o;
    ck_assert_int_eq(run_quietly(cfg, id, data, tmp, &o, &e), 1);
    cJSON_Delete(cfg);
    cJSON *r = NULL;
    ck_assert_int_eq(db_json_load(&r, o.result_path, &e), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(r, "status")->valuestring, "diverged");
    ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "final"), "diverged_epoch")->valueint, 1);
    ck_assert_int_eq(run_result_complete(o.result_path), 0);
    char err[512];
    ck_assert_msg(js_validate(schema, r, "$", err, sizeof err) == 0, "%s", err);
    cJSON_Delete(r);
}
END_TEST

/* Runs the binary; returns its exit status, stderr in *errtext. */
static int cli(const char *args, char *errtext, size_t n)
{
    const char *bin = getenv("DROPBENCH_BIN");
    ck_assert_msg(bin != NULL, "DROPBENCH_BIN not set (run through make test)");
    char cmd[4096], errf[400];
    snprintf(errf, sizeof errf, "%s/stderr.txt", root);
    snprintf(cmd, sizeof cmd, "'%s' %s --data '%s/data' >/dev/null 2>'%s'", bin, args, root,
             errf);
    int st = system(cmd);
    FILE *f = fopen(errf, "r");
    size_t got = f ? fread(errtext, 1, n - 1, f) : 0;
    errtext[got] = '\0';
    if (f)
        fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

START_TEST(cli_errors_leave_nothing)
{
    char cfgdir[300], badjson[400], badkey[400], badtype[400];
    snprintf(cfgdir, sizeof cfgdir, "%s/cfg", root);
    db_mkdirs(cfgdir, NULL);
    snprintf(badjson, sizeof badjson, "%s/bad.json", cfgdir);
    snprintf(badkey, sizeof badkey, "%s/badkey.json", cfgdir);
    snprintf(badtype, sizeof badtype, "%s/badtype.json", cfgdir);
    FILE *f = fopen(badjson, "w");
    fputs("{\"task\": \"x\",\n \"data\": \"mnist\",\n \"model\": [\n", f);
    fclose(f);
    f = fopen(badkey, "w");
    fputs("{\"task\":\"x\",\"data\":\"mnist\",\"model\":[{\"type\":\"dense\",\"units\":10}],"
          "\"train\":{\"batch\":8,\"epochs\":1,\"lr\":0.1,\"momentun\":0.9}}", f);
    fclose(f);
    f = fopen(badtype, "w");
    fputs("{\"task\":\"x\",\"data\":\"mnist\",\"model\":[{\"type\":\"dense\",\"units\":\"ten\"}],"
          "\"train\":{\"batch\":8,\"epochs\":1,\"lr\":0.1}}", f);
    fclose(f);
    struct {
        const char *args;
        const char *expect;
    } cases[] = {
        { "run --task mnist-mlpx", "unknown task \"mnist-mlpx\"" },
        { "run --task ../etc/passwd", "unknown task" },
        { "run --task mnist-mlp --strategy dropall", "unknown strategy \"dropall\"" },
        { "run --task mnist-mlp --strategy hinton --rate 1.0", "rate" },
        { "run --task mnist-mlp --strategy hinton --rate -0.1", "rate" },
        { "run --task mnist-mlp --strategy hinton --rate abc", "rate" },
        { "run --task mnist-mlp --strategy hinton --rate 0.1,0.2", "places 3 dropout sites" },
        { "run --task mnist-mlp --strategy conv", "places no dropout" },
        { "run --task wordlang-gru --strategy spatial", "places no dropout" },
        { "run --task mnist-mlp --epochs 0", "--epochs" },
        { "run --task mnist-mlp --lr -1", "--lr" },
        { "run --task mnist-mlp --bogus", "" },
        { NULL, NULL },
    };
    char err[4096], args[1200];
    for (int i = 0; cases[i].args; i++) {
        fresh_tmp();
        snprintf(args, sizeof args, "%s --results '%s'", cases[i].args, tmp);
        int st = cli(args, err, sizeof err);
        ck_assert_msg(st != 0, "%s: exit 0", cases[i].args);
        ck_assert_msg(strstr(err, cases[i].expect) != NULL, "%s: stderr \"%s\"", cases[i].args,
                      err);
        ck_assert_msg(count_in_dir(tmp, NULL) == 0, "%s left files in %s", cases[i].args, tmp);
    }
    const char *files[][2] = { { badjson, "line 4, column 1: the text ends early" },
                               { badkey, "unknown key \"momentun\"; did you mean \"momentum\"?" },
                               { badtype, "model[0].units" } };
    for (int i = 0; i < 3; i++) {
        fresh_tmp();
        snprintf(args, sizeof args, "run --config '%s' --results '%s'", files[i][0], tmp);
        ck_assert_int_ne(cli(args, err, sizeof err), 0);
        ck_assert_msg(strstr(err, files[i][1]) && strstr(err, files[i][0]), "stderr: %s", err);
        ck_assert_int_eq(count_in_dir(tmp, NULL), 0);
    }
    /* a run that fails after making its results folder leaves no empty
     * folder behind (issue 19): here the validation split asks for more
     * examples than there are, found after the folder was made */
    fresh_tmp();
    char fresh[700];
    snprintf(fresh, sizeof fresh, "%s/new/results", tmp);
    snprintf(args, sizeof args, "run --task mnist-mlp --epochs 1 --val 999999 --results '%s'",
             fresh);
    ck_assert_int_ne(cli(args, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "val: 999999 examples requested") != NULL, "stderr: %s", err);
    struct stat st;
    ck_assert_msg(stat(fresh, &st) != 0, "%s was left behind", fresh);
}
END_TEST

START_TEST(cli_run_task_and_config)
{
    char err[4096], args[1200];
    const char *src = getenv("DROPBENCH_SRC");
    fresh_tmp();
    snprintf(args, sizeof args,
             "run --config '%s/configs/mnist-lenet.json' --strategy conv --seed 1 --epochs 1 "
             "--limit-train 128 --quiet --results '%s'", src ? src : ".", tmp);
    ck_assert_msg(cli(args, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(count_in_dir(tmp, NULL), 1);
    fresh_tmp();
    snprintf(args, sizeof args,
             "run --task mnist-lenet --strategy conv --seed 1 --epochs 1 --limit-train 128 "
             "--quiet --results '%s'", tmp);
    ck_assert_msg(cli(args, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(count_in_dir(tmp, NULL), 1);
    fresh_tmp();
    snprintf(args, sizeof args, "run --task mnist-mlp --lr 1e6 --epochs 1 --limit-train 300 "
             "--quiet --results '%s'", tmp);
    ck_assert_int_eq(cli(args, err, sizeof err), 3); /* diverged */
    ck_assert_ptr_nonnull(strstr(err, "diverged"));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("run");
    TCase *tc = tcase_create("end-to-end");
    tcase_add_unchecked_fixture(tc, setup_once, teardown_once);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, every_task_one_epoch);
    tcase_add_test(tc, training_learns_the_signal);
    tcase_add_test(tc, bit_identical_reruns);
    tcase_add_test(tc, threaded_runs);
    tcase_add_test(tc, strategies_share_init_and_order);
    tcase_add_test(tc, spatial_and_spatial_pool_runs_agree);
    tcase_add_test(tc, divergence_is_recorded);
    tcase_add_test(tc, cli_errors_leave_nothing);
    tcase_add_test(tc, cli_run_task_and_config);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
