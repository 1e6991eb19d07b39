/* test_faults.c - what a harness running unattended for days must survive:
 * a full disk, an unwritable results directory, SIGINT/SIGTERM in the middle
 * of a run or a sweep, non-finite numbers in configs and sweeps, and a
 * diverging configuration.  Every failure must be a clear error that leaves
 * no partial or temporary file behind.
 *
 * Full disk and read-only directories use a real tmpfs (mount(2); we run as
 * root here and in CI).  When mounting is not permitted the tests fall back
 * to RLIMIT_FSIZE (writes fail with EFBIG) and to an unprivileged child
 * (setuid nobody) on a 0555 directory, and say so in their output.  The
 * signal tests drive the real binary ($DROPBENCH_BIN, set by make test). */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "check_main.h"
#include "test_util.h"
#include "test_train.h"
#include "sweep/exec.h"
#include "sweep/plan.h"
#include "train/run.h"
#include "train/runcfg.h"
#include "train/train.h"
#include "util/fs.h"
#include "util/jsonio.h"

static char g_dir[256];     /* scratch: data/, configs, results */
static char g_data[300];

static void setup(void)
{
    scratch_with_mnist(g_dir, sizeof g_dir, "/tmp/db-test-faults.XXXXXX", g_data, sizeof g_data,
                       256, 64);
    signal(SIGXFSZ, SIG_IGN);
}

static void teardown(void)
{
    /* a test that stopped early may have left its tmpfs mounted */
    const char *mnts[] = { "full", "ro" };
    for (int i = 0; i < 2; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", g_dir, mnts[i]);
        umount2(p, MNT_DETACH);
    }
    rm_tree(g_dir);
}

static const char *in_dir(const char *name)
{
    return ring_path(g_dir, name);
}

/* Entries of dir other than . and ..; names ending in suffix when given. */
static int count_entries(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        size_t l = strlen(de->d_name), sl = suffix ? strlen(suffix) : 0;
        if (!suffix || (l >= sl && !strcmp(de->d_name + l - sl, suffix)))
            n++;
    }
    closedir(d);
    return n;
}

/* A tmpfs at dir (created); 0 when mounted, -1 when not permitted. */
static int mount_tmpfs(const char *dir, unsigned long flags, const char *opts)
{
    mkdir(dir, 0755);
    if (mount("tmpfs", dir, "tmpfs", flags, opts) != 0) {
        printf("NOTE: cannot mount a tmpfs at %s (%s)\n", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static void unmount(const char *dir)
{
    ck_assert_msg(umount2(dir, MNT_DETACH) == 0, "umount %s: %s", dir, strerror(errno));
}

/* Fills the file system holding dir until a write fails with ENOSPC. */
static void fill(const char *dir)
{
    char p[600];
    snprintf(p, sizeof p, "%s/filler", dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    static char blk[4096];
    for (;;) {
        ssize_t w = write(fd, blk, sizeof blk);
        if (w < (ssize_t)sizeof blk)
            break;
    }
    /* the last partial page too */
    while (write(fd, blk, 1) == 1)
        ;
    ck_assert_int_eq(errno, ENOSPC);
    close(fd);
}

static cJSON *resolve(const char *task, const char *strategy, long seed, int epochs,
                      double lr, long limit, char id[17])
{
    run_request rq;
    run_request_init(&rq);
    rq.task = task;
    rq.strategy = strategy;
    rq.seed = seed;
    rq.epochs = epochs;
    rq.lr = lr;
    rq.limit_train = limit;
    cJSON *cfg = NULL;
    db_err e = { "" };
    ck_assert_msg(run_resolve(&rq, &cfg, id, &e) == 0, "%s", e.msg);
    return cfg;
}

static int execute(const cJSON *cfg, const char *id, const char *results, db_err *e)
{
    run_options o;
    return run_quietly(cfg, id, g_data, results, &o, e);
}

/* ------------------------------------------------------------ full disk */

START_TEST(disk_full)
{
    const char *mnt = in_dir("full");
    static char big[256 * 1024];
    memset(big, 'x', sizeof big);
    char target[600];
    snprintf(target, sizeof target, "%s/r.json", mnt);
    db_err e = { "" };
    if (mount_tmpfs(mnt, 0, "size=64k") == 0) {
        /* a write larger than the file system */
        ck_assert_int_eq(db_write_atomic(target, big, sizeof big, &e), -1);
        ck_assert_msg(strstr(e.msg, "No space left on device") && strstr(e.msg, target),
                      "%s", e.msg);
        ck_assert_int_eq(count_entries(mnt, NULL), 0);
        /* a full file system: a training run reports it, leaves nothing */
        fill(mnt);
        char id[17];
        cJSON *cfg = resolve("mnist-mlp", "hinton", 0, 1, 0, 64, id);
        e.msg[0] = '\0';
        ck_assert_int_eq(execute(cfg, id, mnt, &e), -1);
        ck_assert_msg(strstr(e.msg, "No space left on device"), "%s", e.msg);
        ck_assert_int_eq(count_entries(mnt, NULL), 1);   /* the filler */
        /* a sweep records both runs as failed, with the reason */
        sweep_options so;
        memset(&so, 0, sizeof so);
        so.jobs = 1;
        so.results_dir = mnt;
        so.data_root = g_data;
        so.poll_seconds = 0.01;
        cJSON *sj = cJSON_Parse("{\"name\": \"full\", \"tasks\": [\"mnist-mlp\"], "
                                "\"strategies\": [\"none\"], \"seeds\": [0, 1], "
                                "\"epochs\": 1, \"limit_train\": 64}");
        sweep_plan plan;
        ck_assert_msg(sweep_plan_from_json(&plan, sj, "full", &so, &e) == 0, "%s", e.msg);
        sweep_summary s;
        ck_assert_msg(sweep_execute(&plan, &so, &s, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(s.failed, 2);
        ck_assert_ptr_nonnull(s.reason[0]);
        ck_assert_msg(strstr(s.reason[1], "No space left on device"), "%s", s.reason[1]);
        ck_assert_int_eq(count_entries(mnt, ".json"), 0);
        ck_assert_int_eq(count_entries(mnt, ".tmp"), 0);
        sweep_summary_free(&s);
        sweep_plan_free(&plan);
        cJSON_Delete(sj);
        cJSON_Delete(cfg);
        unmount(mnt);
        return;
    }
    /* fallback: a file size limit makes writes fail the same way (EFBIG) */
    printf("FALLBACK disk_full: RLIMIT_FSIZE instead of a full tmpfs\n");
    mkdir(mnt, 0755);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = { 16384, 16384 };
        setrlimit(RLIMIT_FSIZE, &rl);
        int rc = db_write_atomic(target, big, sizeof big, &e);
        _exit(rc == -1 && strstr(e.msg, "write failed") ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert_int_eq(count_entries(mnt, NULL), 0);
}
END_TEST

/* ------------------------------------------------------------ read-only */

START_TEST(read_only_results)
{
    const char *mnt = in_dir("ro");
    char sub[600], target[700];
    snprintf(sub, sizeof sub, "%s/results", mnt);
    snprintf(target, sizeof target, "%s/r.json", mnt);
    char id[17];
    cJSON *cfg = resolve("mnist-mlp", "none", 0, 1, 0, 64, id);
    db_err e = { "" };
    if (mount_tmpfs(mnt, MS_RDONLY, "size=64k") == 0) {
        ck_assert_int_eq(db_write_atomic(target, "{}\n", 3, &e), -1);
        ck_assert_msg(strstr(e.msg, "Read-only file system") && strstr(e.msg, target),
                      "%s", e.msg);
        e.msg[0] = '\0';
        ck_assert_int_eq(execute(cfg, id, sub, &e), -1);
        ck_assert_msg(strstr(e.msg, "Read-only file system"), "%s", e.msg);
        e.msg[0] = '\0';
        ck_assert_int_eq(execute(cfg, id, mnt, &e), -1);
        /* found before training (issue 19), not when the result is saved */
        ck_assert_msg(strstr(e.msg, "cannot write results there: Read-only file system"), "%s",
                      e.msg);
        ck_assert_int_eq(count_entries(mnt, NULL), 0);
        unmount(mnt);
    } else {
        printf("FALLBACK read_only_results: an unprivileged child on a 0555 "
               "directory\n");
        /* mount_tmpfs made the directory before its mount failed */
        ck_assert_int_eq(chmod(mnt, 0555), 0);
        chmod(g_dir, 0755);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            if (setgid(65534) || setuid(65534))
                _exit(3);
            int a = db_write_atomic(target, "{}\n", 3, &e) == -1 &&
                    strstr(e.msg, "Permission denied");
            int b = execute(cfg, id, mnt, &e) == -1;
            _exit(a && b ? 0 : 1);
        }
        int st;
        waitpid(pid, &st, 0);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        ck_assert_int_eq(count_entries(mnt, NULL), 0);
    }
    cJSON_Delete(cfg);
}
END_TEST

/* A run whose result cannot be written fails; the sweep goes on with the
 * next run, and says why. */
START_TEST(sweep_continues_after_failed_write)
{
    const char *res = in_dir("res");
    sweep_options so;
    memset(&so, 0, sizeof so);
    so.jobs = 1;
    so.results_dir = res;
    so.data_root = g_data;
    so.poll_seconds = 0.01;
    cJSON *sj = cJSON_Parse("{\"name\": \"c\", \"tasks\": [\"mnist-mlp\"], "
                            "\"strategies\": [\"none\"], \"seeds\": [0, 1], "
                            "\"epochs\": 1, \"limit_train\": 64}");
    sweep_plan plan;
    db_err e = { "" };
    ck_assert_msg(sweep_plan_from_json(&plan, sj, "c", &so, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(plan.n, 2);
    /* a directory where the first result should go: rename(2) fails */
    ck_assert_int_eq(db_mkdirs(res, &e), 0);
    char blocker[700];
    snprintf(blocker, sizeof blocker, "%s/%s", res, plan.runs[0].name);
    ck_assert_int_eq(mkdir(blocker, 0755), 0);
    char x[800];
    snprintf(x, sizeof x, "%s/keep", blocker);
    FILE *f = fopen(x, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    sweep_summary s;
    ck_assert_msg(sweep_execute(&plan, &so, &s, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(s.failed, 1);
    ck_assert_uint_eq(s.done, 1);
    ck_assert_int_eq(s.outcome[0], SWEEP_FAILED);
    ck_assert_int_eq(s.outcome[1], SWEEP_DONE);
    ck_assert_msg(s.reason[0] && strstr(s.reason[0], "rename failed"), "%s",
                  s.reason[0] ? s.reason[0] : "(no reason)");
    ck_assert_int_eq(count_entries(res, ".tmp"), 0);
    char p1[700];
    snprintf(p1, sizeof p1, "%s/%s", res, plan.runs[1].name);
    ck_assert_int_eq(run_result_complete(p1), 1);
    sweep_summary_free(&s);
    sweep_plan_free(&plan);
    cJSON_Delete(sj);
}
END_TEST

/* ------------------------------------------------------------ signals */

static int wait_exit(pid_t pid)
{
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st), "killed by signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return WEXITSTATUS(st);
}

static void sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    nanosleep(&ts, NULL);
}

START_TEST(signal_during_run)
{
    if (!bin()) {
        printf("SKIP signal_during_run: DROPBENCH_BIN not set (run through make test)\n");
        return;
    }
    const int sigs[2] = { SIGINT, SIGTERM };
    for (int k = 0; k < 2; k++) {
        const char *res = in_dir(k ? "sigterm" : "sigint");
        char *argv[] = { (char *)bin(), "run", "--task", "mnist-mlp", "--epochs", "1000",
                         "--data", g_data, "--results", (char *)res, "--quiet", NULL };
        const char *log = in_dir("run.log");
        pid_t pid = spawn(argv, log);
        sleep_s(1.0);   /* well into training */
        ck_assert_int_eq(kill(pid, sigs[k]), 0);
        int rc = wait_exit(pid);
        char out[4096];
        slurp_into(log, out, sizeof out);
        ck_assert_msg(rc == 130, "exit %d after %s: %s", rc, strsignal(sigs[k]), out);
        ck_assert_msg(strstr(out, "interrupted"), "%s", out);
        /* no result and no temporary file; the checkpoint of the last
         * finished epoch (.ckpt) stays for the rerun to continue from */
        ck_assert_int_le(count_entries(res, ".json"), 0);
        ck_assert_int_le(count_entries(res, ".tmp"), 0);
    }
}
END_TEST

START_TEST(signal_during_sweep_then_resume)
{
    if (!bin()) {
        printf("SKIP signal_during_sweep_then_resume: DROPBENCH_BIN not set\n");
        return;
    }
    const char *res = in_dir("sweep-res");
    const char *sw = in_dir("sig.json");
    FILE *f = fopen(sw, "w");
    ck_assert_ptr_nonnull(f);
    /* two runs of two seconds or more each (~0.05 s per epoch at -O2), one
     * worker */
    fprintf(f, "{\"name\": \"sig\", \"tasks\": [\"mnist-mlp\"], \"strategies\": "
               "[\"none\", \"dense\"], \"seeds\": [0], \"epochs\": 40}\n");
    fclose(f);
    char *argv[] = { (char *)bin(), "sweep", (char *)sw, "--jobs", "1", "--data", g_data,
                     "--results", (char *)res, NULL };
    const char *log = in_dir("sweep.log");
    pid_t pid = spawn(argv, log);
    sleep_s(0.6);
    ck_assert_int_eq(kill(pid, SIGINT), 0);
    int rc = wait_exit(pid);
    char out[8192];
    slurp_into(log, out, sizeof out);
    ck_assert_msg(rc == 128 + SIGINT, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "interrupted"), "%s", out);
    /* the run in flight left nothing (on a fast machine the first run may
     * have completed before the signal) */
    ck_assert_int_lt(count_entries(res, ".json"), 2);
    ck_assert_int_eq(count_entries(res, ".tmp"), 0);
    ck_assert_int_eq(count_entries(res, ".lock"), 0);
    /* rerunning completes the sweep */
    pid = spawn(argv, log);
    rc = wait_exit(pid);
    slurp_into(log, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_int_eq(count_entries(res, ".json"), 2);
    ck_assert_int_eq(count_entries(res, ".tmp"), 0);
}
END_TEST

/* ------------------------------------------------------------ numbers */

/* cJSON reads 1e999 as inf: every such number is rejected, naming the field. */
START_TEST(non_finite_numbers_rejected)
{
    static const struct {
        const char *from, *to, *field;
    } CASES[] = {
        { "\"lr\": 0.05", "\"lr\": 1e999", "\"lr\"" },
        { "\"lr\": 0.05", "\"lr\": -1e999", "\"lr\"" },
        { "\"momentum\": 0.9", "\"momentum\": 1e999", "\"momentum\"" },
        { "\"weight_decay\": 0", "\"weight_decay\": 1e999", "\"weight_decay\"" },
        { "\"max_norm\": 0", "\"max_norm\": 1e999", "\"max_norm\"" },
        { "\"clip_norm\": 0", "\"clip_norm\": 1e999", "\"clip_norm\"" },
        { "\"batch\": 128", "\"batch\": 1e999", "\"batch\"" },
        { "\"epochs\": 20", "\"epochs\": 1e999", "\"epochs\"" },
        { "\"seed\": 0", "\"seed\": 1e999", "\"seed\"" },
        { "\"units\": 800}", "\"units\": 1e999}", "units" },
        { "\"strategy\": \"none\"", "\"strategy\": \"none\", \"rate\": 1e999", "rate" },
        { "\"type\": \"dense\", \"units\": 10}",
          "\"type\": \"dense\", \"units\": 10}, {\"type\": \"dropout\", \"rate\": 1e999}",
          "rate" },
    };
    const char *src = getenv("DROPBENCH_SRC");
    char path[600], text[4096];
    snprintf(path, sizeof path, "%s/configs/mnist-mlp.json", src ? src : ".");
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++) {
        char *at = strstr(text, CASES[k].from);
        ck_assert_msg(at != NULL, "case %zu: preset lacks %s", k, CASES[k].from);
        char mod[4096];
        snprintf(mod, sizeof mod, "%.*s%s%s", (int)(at - text), text, CASES[k].to,
                 at + strlen(CASES[k].from));
        write_text_file(in_dir("bad.json"), mod);
        run_request rq;
        run_request_init(&rq);
        rq.config_path = in_dir("bad.json");
        cJSON *cfg = NULL;
        char id[17];
        db_err e = { "" };
        ck_assert_msg(run_resolve(&rq, &cfg, id, &e) == -1, "case %zu accepted", k);
        ck_assert_msg(strstr(e.msg, CASES[k].field), "case %zu: %s", k, e.msg);
        ck_assert_ptr_null(cfg);
    }
    /* the canonical config (what a result records, what workers execute) */
    char id[17];
    cJSON *cfg = resolve("mnist-mlp", "none", 0, 1, 0, 64, id);
    static const char *const opt_keys[] = { "lr", "momentum", "weight_decay", "max_norm",
                                            "clip_norm" };
    for (size_t k = 0; k < 5; k++) {
        cJSON *c = cJSON_Duplicate(cfg, 1);
        cJSON *o = cJSON_GetObjectItem(c, "optimizer");
        cJSON_ReplaceItemInObject(o, opt_keys[k], cJSON_CreateNumber(INFINITY));
        run_config *r = calloc(1, sizeof *r);
        db_err e = { "" };
        ck_assert_int_eq(run_config_from_canonical(r, c, &e), -1);
        ck_assert_msg(strstr(e.msg, opt_keys[k]), "%s", e.msg);
        free(r);
        cJSON_Delete(c);
    }
    cJSON_Delete(cfg);
    /* sweep files */
    static const char *const SWEEPS[][2] = {
        { "\"lr\": 1e999", "lr" },
        { "\"overrides\": {\"lr\": [0.1, 1e999]}", "lr" },
        { "\"epochs\": 1e999", "epochs" },
        { "\"rates\": [1e999]", "rate" },
        { "\"seeds\": [1e999]", "seeds" },
    };
    for (size_t k = 0; k < sizeof SWEEPS / sizeof SWEEPS[0]; k++) {
        char t[512];
        snprintf(t, sizeof t, "{\"name\": \"n\", \"tasks\": [\"mnist-mlp\"], "
                 "\"strategies\": [\"hinton\"], \"seeds\": [0], %s}", SWEEPS[k][0]);
        if (strstr(SWEEPS[k][0], "seeds"))
            snprintf(t, sizeof t, "{\"name\": \"n\", \"tasks\": [\"mnist-mlp\"], "
                     "\"strategies\": [\"hinton\"], %s}", SWEEPS[k][0]);
        write_text_file(in_dir("s.json"), t);
        sweep_options so;
        memset(&so, 0, sizeof so);
        so.results_dir = in_dir("sres");
        sweep_plan plan;
        db_err e = { "" };
        ck_assert_msg(sweep_plan_load(&plan, in_dir("s.json"), &so, &e) == -1,
                      "sweep case %zu accepted", k);
        ck_assert_msg(strstr(e.msg, SWEEPS[k][1]), "sweep case %zu: %s", k, e.msg);
    }
}
END_TEST

/* A grid that would expand to millions of runs is an error, at once. */
START_TEST(huge_grid_rejected)
{
    char t[8192];
    int n = snprintf(t, sizeof t, "{\"name\": \"big\", \"tasks\": [\"mnist-mlp\"], "
                     "\"strategies\": [\"none\"], \"seeds\": [");
    for (int i = 0; i < 1000; i++)
        n += snprintf(t + n, sizeof t - (size_t)n, "%s%d", i ? "," : "", i);
    snprintf(t + n, sizeof t - (size_t)n, "], \"overrides\": {\"lr\": [0.1, 0.2, 0.3, "
             "0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], \"epochs\": [1, 2, 3, 4, 5, 6, 7, 8, 9, "
             "10], \"limit_train\": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}}");
    write_text_file(in_dir("big.json"), t);
    sweep_options so;
    memset(&so, 0, sizeof so);
    so.results_dir = in_dir("bres");
    sweep_plan plan;
    db_err e = { "" };
    time_t t0 = time(NULL);
    ck_assert_int_eq(sweep_plan_load(&plan, in_dir("big.json"), &so, &e), -1);
    ck_assert_msg(strstr(e.msg, "expands to 1000000 runs"), "%s", e.msg);
    ck_assert(time(NULL) - t0 < 5);
}
END_TEST

/* ------------------------------------------------------------ divergence */

/* lr 1e4 on the MNIST MLP preset keeps a finite but enormous loss; it must
 * be recorded as diverged with its epoch, not as a result. */
START_TEST(lr_1e4_diverges)
{
    const char *tasks[] = { "mnist-mlp", "mnist-lenet" };
    for (int k = 0; k < 2; k++) {
        char id[17];
        cJSON *cfg = resolve(tasks[k], "none", 0, 3, 1e4, 128, id);
        db_err e = { "" };
        const char *res = in_dir("div");
        run_options o;
        ck_assert_msg(run_quietly(cfg, id, g_data, res, &o, &e) == 1, "%s: %s", tasks[k],
                      e.msg);
        cJSON *r = NULL;
        ck_assert_int_eq(db_json_load(&r, o.result_path, &e), 0);
        ck_assert_str_eq(cJSON_GetObjectItem(r, "status")->valuestring, "diverged");
        const cJSON *fin = cJSON_GetObjectItem(r, "final");
        const cJSON *de = cJSON_GetObjectItem(fin, "diverged_epoch");
        ck_assert(cJSON_IsNumber(de) && de->valueint >= 1 && de->valueint <= 3);
        ck_assert(strstr(cJSON_GetObjectItem(r, "error")->valuestring, "epoch"));
        ck_assert_int_eq(run_result_complete(o.result_path), 0);
        cJSON_Delete(r);
        cJSON_Delete(cfg);
        ck_assert_int_eq(count_entries(res, ".tmp"), 0);
    }
}
END_TEST

/* report to stdout on /dev/full: a clear error and a failing exit status */
START_TEST(report_to_dev_full)
{
    if (!bin()) {
        printf("SKIP report_to_dev_full: DROPBENCH_BIN not set\n");
        return;
    }
    char id[17];
    cJSON *cfg = resolve("mnist-mlp", "none", 0, 1, 0, 64, id);
    db_err e = { "" };
    const char *res = in_dir("rep");
    ck_assert_msg(execute(cfg, id, res, &e) == 0, "%s", e.msg);
    cJSON_Delete(cfg);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' report '%s' > /dev/full 2> '%s'", bin(), res,
             in_dir("rep.err"));
    int st = system(cmd);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    char out[1024];
    slurp_into(in_dir("rep.err"), out, sizeof out);
    ck_assert_msg(strstr(out, "No space left on device") || strstr(out, "write"), "%s", out);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("faults");
    TCase *t = tcase_create("faults");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 240);
    tcase_add_test(t, disk_full);
    tcase_add_test(t, read_only_results);
    tcase_add_test(t, sweep_continues_after_failed_write);
    tcase_add_test(t, signal_during_run);
    tcase_add_test(t, signal_during_sweep_then_resume);
    tcase_add_test(t, non_finite_numbers_rejected);
    tcase_add_test(t, huge_grid_rejected);
    tcase_add_test(t, lr_1e4_diverges);
    tcase_add_test(t, report_to_dev_full);
    suite_add_tcase(s, t);
    (void)gen_all;
    return s;
}

DB_TEST_MAIN()
