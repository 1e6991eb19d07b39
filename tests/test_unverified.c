/* test_unverified.c - data whose sha256 does not match docs/DATA.md (issue
 * 19).  The generated data of the tests is such data.  Without
 * --allow-unverified (and without $DROPBENCH_ALLOW_UNVERIFIED, which make
 * test sets for the other suites and this one unsets) `run` and `sweep`
 * refuse it with a clear error and write nothing; with it they train, warn,
 * record the files' hashes, and the run id differs from the one without
 * (which is what a run on the verified data gets: unchanged); `report`
 * lists such results. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cJSON.h>

#include "check_main.h"
#include "gen_data.h"
#include "test_util.h"
#include "train/run.h"

static char g_dir[256], g_data[300];

static void setup(void)
{
    scratch_with_mnist(g_dir, sizeof g_dir, "/tmp/db-test-unverified.XXXXXX", g_data, sizeof g_data,
                       128, 32);
    unsetenv("DROPBENCH_ALLOW_UNVERIFIED");
}

static void teardown(void)
{
    rm_tree(g_dir);
}

/* Runs argv to completion, output into out; returns the exit status. */
static int run_cmd(char *const argv[], char *out, size_t n)
{
    char log[512];
    snprintf(log, sizeof log, "%s/cmd.log", g_dir);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    out[0] = '\0';
    FILE *f = fopen(log, "r");
    if (f) {
        size_t k = fread(out, 1, n - 1, f);
        out[k] = '\0';
        fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int count_json(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s/*.json 2>/dev/null | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = 0;
    if (p) {
        if (fscanf(p, "%d", &n) != 1)
            n = 0;
        pclose(p);
    }
    return n;
}

START_TEST(refused_without_the_option)
{
    if (!bin()) {
        printf("SKIP: DROPBENCH_BIN not set (run through make test)\n");
        return;
    }
    char res[400], out[8192], sw[400];
    snprintf(res, sizeof res, "%s/res", g_dir);
    char *argv[] = { (char *)bin(), "run", "--task", "mnist-mlp", "--epochs", "1",
                     "--data", g_data, "--results", res, "--quiet", NULL };
    int rc = run_cmd(argv, out, sizeof out);
    ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "is not verified") && strstr(out, "--allow-unverified") &&
                  strstr(out, "refusing"), "%s", out);
    ck_assert_int_eq(count_json(res), 0);
    /* a sweep: every run fails with the same reason */
    snprintf(sw, sizeof sw, "%s/sw.json", g_dir);
    FILE *f = fopen(sw, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"name\": \"u\", \"tasks\": [\"mnist-mlp\"], \"strategies\": [\"none\"], "
               "\"seeds\": [0], \"epochs\": 1}\n");
    fclose(f);
    char *sargv[] = { (char *)bin(), "sweep", sw, "--jobs", "1", "--data", g_data,
                      "--results", res, NULL };
    rc = run_cmd(sargv, out, sizeof out);
    ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "is not verified"), "%s", out);
    ck_assert_int_eq(count_json(res), 0);
    /* with the option the sweep trains */
    char *sargv2[] = { (char *)bin(), "sweep", sw, "--jobs", "1", "--data", g_data,
                       "--results", res, "--allow-unverified", NULL };
    rc = run_cmd(sargv2, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_int_eq(count_json(res), 1);
    /* and a rerun finds it done */
    rc = run_cmd(sargv2, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_int_eq(count_json(res), 1);
}
END_TEST

START_TEST(allowed_with_its_own_id_and_marked)
{
    if (!bin()) {
        printf("SKIP: DROPBENCH_BIN not set (run through make test)\n");
        return;
    }
    /* the id without the option is the resolver's, unchanged; with it, another */
    run_request rq;
    run_request_init(&rq);
    ck_assert_int_eq(rq.allow_unverified, 0);
    rq.task = "mnist-mlp";
    rq.epochs = 1;
    cJSON *c1, *c2;
    char id1[17], id2[17];
    db_err e;
    ck_assert_msg(run_resolve(&rq, &c1, id1, &e) == 0, "%s", e.msg);
    ck_assert_ptr_null(cJSON_GetObjectItem(c1, "allow_unverified_data"));
    rq.allow_unverified = 1;
    ck_assert_msg(run_resolve(&rq, &c2, id2, &e) == 0, "%s", e.msg);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(c2, "allow_unverified_data")));
    ck_assert_str_ne(id1, id2);
    cJSON_Delete(c1);
    cJSON_Delete(c2);
    setenv("DROPBENCH_ALLOW_UNVERIFIED", "1", 1);
    run_request_init(&rq);
    ck_assert_int_eq(rq.allow_unverified, 1);
    unsetenv("DROPBENCH_ALLOW_UNVERIFIED");

    char res[400], out[16384];
    snprintf(res, sizeof res, "%s/res2", g_dir);
    char *argv[] = { (char *)bin(), "run", "--task", "mnist-mlp", "--epochs", "1",
                     "--data", g_data, "--results", res, "--quiet", "--allow-unverified",
                     NULL };
    int rc = run_cmd(argv, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "WARNING") && strstr(out, "not verified"), "%s", out);
    char path[800];
    snprintf(path, sizeof path, "%s/mnist-mlp.none.s0.%s.json", res, id2);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no %s: %s", path, out);
    static char buf[1 << 20];
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    buf[k] = '\0';
    fclose(f);
    cJSON *r = cJSON_Parse(buf);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(cJSON_GetObjectItem(r, "run_id")->valuestring, id2);
    cJSON *d = cJSON_GetObjectItem(r, "data");
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(d, "verified")));
    cJSON *fl;
    int nfiles = 0;
    cJSON_ArrayForEach(fl, cJSON_GetObjectItem(d, "files")) {
        ck_assert_int_eq((int)strlen(cJSON_GetObjectItem(fl, "sha256")->valuestring), 64);
        nfiles++;
    }
    ck_assert_int_eq(nfiles, 4);
    cJSON_Delete(r);
    /* report lists it */
    char *rargv[] = { (char *)bin(), "report", res, NULL };
    rc = run_cmd(rargv, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "not verified") && strstr(out, id2), "%s", out);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("unverified");
    TCase *t = tcase_create("unverified");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, refused_without_the_option);
    tcase_add_test(t, allowed_with_its_own_id_and_marked);
    suite_add_tcase(s, t);
    (void)gen_all;
    return s;
}

DB_TEST_MAIN()
