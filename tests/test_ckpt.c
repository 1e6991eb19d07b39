/* test_ckpt.c - mid-run checkpoints (docs/CHECKPOINTS.md), on the real
 * binary ($DROPBENCH_BIN, set by make test):
 *   - a run killed with SIGKILL at several points (after epoch 2, after
 *     epoch 5, while a checkpoint is being written) and resumed each time
 *     ends with a result identical to an uninterrupted run's (timing,
 *     environment and other measured times aside), and leaves no
 *     checkpoint or temporary file;
 *   - the same for a sweep whose process group is killed;
 *   - a truncated, corrupt, foreign (another run's), older-code, other-kernels or garbage
 *     checkpoint is reported, ignored and replaced: the result is again the
 *     uninterrupted one. */
#include <dirent.h>
#include <fcntl.h>
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
#include "gen_data.h"
#include "test_util.h"
#include "data/sha256.h"
#include "train/ckpt.h"

#define EPOCHS "12"

static char g_dir[256], g_data[300];

static void setup(void)
{
    scratch_with_mnist(g_dir, sizeof g_dir, "/tmp/db-test-ckpt.XXXXXX", g_data, sizeof g_data,
                       256, 64);
}

static void teardown(void)
{
    rm_tree(g_dir);
}

static const char *in_dir(const char *name)
{
    return ring_path(g_dir, name);
}

/* Exit status; -1 when killed by a signal. */
static int wait_pid(pid_t pid)
{
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The first entry of dir whose name ends in suffix (and contains mid when
 * given) into out; 0 when there is one. */
static int find_entry(const char *dir, const char *suffix, const char *mid, char *out,
                      size_t n)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *de;
    int found = -1;
    size_t sl = strlen(suffix);
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l >= sl && strcmp(de->d_name + l - sl, suffix) == 0 &&
            (!mid || strstr(de->d_name, mid))) {
            snprintf(out, n, "%s/%s", dir, de->d_name);
            found = 0;
            break;
        }
    }
    closedir(d);
    return found;
}

/* Epochs done according to the checkpoint in dir; 0 when there is none. */
static uint64_t ckpt_epochs(const char *dir)
{
    char p[1024];
    if (find_entry(dir, ".ckpt", NULL, p, sizeof p))
        return 0;
    unsigned char h[DB_CKPT_HEADER];
    FILE *f = fopen(p, "rb");
    if (!f)
        return 0;
    size_t k = fread(h, 1, sizeof h, f);
    fclose(f);
    uint64_t done = 0;
    if (k == sizeof h)
        memcpy(&done, h + 120, sizeof done);
    return done;
}

static void run_argv(char **argv, const char *res, const char *seed)
{
    char **a = argv;
    *a++ = (char *)bin();
    *a++ = "run";
    *a++ = "--task";
    *a++ = "mnist-mlp";
    *a++ = "--strategy";
    *a++ = "hinton";
    *a++ = "--epochs";
    *a++ = EPOCHS;
    *a++ = "--seed";
    *a++ = (char *)seed;
    *a++ = "--data";
    *a++ = g_data;
    *a++ = "--results";
    *a++ = (char *)res;
    *a++ = "--quiet";
    *a = NULL;
}

/* Runs to completion; returns the log. */
static const char *run_done(const char *res, const char *seed)
{
    static char out[8192];
    char *argv[20];
    run_argv(argv, res, seed);
    const char *log = in_dir("run.log");
    int rc = wait_pid(spawn(argv, log));
    slurp_into(log, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    return out;
}

/* The result in dir without what is measured rather than computed. */
static cJSON *load_stripped(const char *dir)
{
    char p[1024], *txt;
    ck_assert_int_eq(find_entry(dir, ".json", NULL, p, sizeof p), 0);
    FILE *f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    static char buf[1 << 20];
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[k] = '\0';
    txt = buf;
    cJSON *r = cJSON_Parse(txt);
    ck_assert_ptr_nonnull(r);
    cJSON_DeleteItemFromObject(r, "timing");
    cJSON_DeleteItemFromObject(r, "environment");
    cJSON_DeleteItemFromObject(r, "peak_rss_mib");
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(r, "data"), "load_seconds");
    cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(r, "epochs")) {
        cJSON_DeleteItemFromObject(e, "seconds");
        cJSON_DeleteItemFromObject(e, "examples_per_sec");
    }
    return r;
}

static void assert_same_result(const char *a, const char *b)
{
    cJSON *x = load_stripped(a), *y = load_stripped(b);
    if (!cJSON_Compare(x, y, 1)) {
        char *s = cJSON_Print(x), *t = cJSON_Print(y);
        ck_abort_msg("results differ:\n%s\n---\n%s", s, t);
    }
    cJSON_Delete(x);
    cJSON_Delete(y);
}

static void kill_group(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    ck_assert_int_eq(wait_pid(pid), -1);
}

/* Starts the run in res and SIGKILLs it once its checkpoint has `after`
 * epochs (after == 0: as soon as a checkpoint's temporary file exists).
 * Returns 1 when it was killed at that point, 0 when the run ended first. */
static int kill_at(const char *res, uint64_t after)
{
    char *argv[20];
    run_argv(argv, res, "1");
    pid_t pid = spawn(argv, in_dir("killed.log"));
    for (;;) {
        char p[1024];
        int hit = after ? ckpt_epochs(res) >= after
                        : find_entry(res, ".tmp", ".ckpt.", p, sizeof p) == 0;
        if (hit) {
            kill_group(pid);
            return 1;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return 0;
    }
}

/* timing.KEY of the result in dir. */
static double result_timing(const char *dir, const char *key)
{
    char p[1024];
    ck_assert_int_eq(find_entry(dir, ".json", NULL, p, sizeof p), 0);
    static char buf[1 << 20];
    slurp_into(p, buf, sizeof buf);
    cJSON *r = cJSON_Parse(buf);
    ck_assert_ptr_nonnull(r);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(r, "timing"), key);
    ck_assert_msg(cJSON_IsNumber(v), "timing.%s missing", key);
    double d = v->valuedouble;
    cJSON_Delete(r);
    return d;
}

START_TEST(killed_run_resumes_bit_identical)
{
    if (!bin()) {
        printf("SKIP: DROPBENCH_BIN not set (run through make test)\n");
        return;
    }
    const char *ref = in_dir("ref");
    run_done(ref, "1");
    ck_assert_int_eq(count_in_dir(ref, NULL), 1);   /* no checkpoint left */

    const char *res = in_dir("killed");
    ck_assert_int_eq(kill_at(res, 2), 1);
    ck_assert_uint_ge(ckpt_epochs(res), 2);
    const char *out = run_done(res, "1");
    ck_assert_msg(strstr(out, "resumed from its checkpoint after epoch"), "%s", out);
    assert_same_result(ref, res);
    ck_assert_int_eq(count_in_dir(res, NULL), 1);

    /* several kills of one run, the last while a checkpoint is written */
    rm_tree(res);
    ck_assert_int_eq(kill_at(res, 2), 1);
    /* resume and kill again further on */
    ck_assert_int_eq(kill_at(res, 5), 1);
    int during = 0;
    for (int tries = 0; tries < 5 && !during; tries++) {
        during = kill_at(res, 0);
        if (!during)   /* the run ended first: start over */
            rm_tree(res);
    }
    ck_assert_msg(during, "never caught a checkpoint being written");
    printf("killed while writing a checkpoint (a temporary file was present)\n");
    out = run_done(res, "1");
    assert_same_result(ref, res);
    ck_assert_int_eq(count_in_dir(res, NULL), 1);   /* no .tmp, no .ckpt */
    /* the run's wall time counts its earlier processes, not only the last
     * one: killed after 10 of 12 epochs, the last process runs 2 */
    rm_tree(res);
    ck_assert_int_eq(kill_at(res, 10), 1);
    out = run_done(res, "1");
    assert_same_result(ref, res);
    const char *so_far = strstr(out, "s of its wall time so far");
    ck_assert_msg(so_far, "%s", out);
    const char *open = so_far;
    while (open > out && open[-1] != '(')
        open--;
    double before = strtod(open, NULL);
    double total = result_timing(res, "total_seconds");
    ck_assert_msg(before > 0 && total >= before,
                  "total_seconds %g, but %g s before the last resume", total, before);
}
END_TEST

static void write_bytes(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

/* Re-hashes a checkpoint after an edit, so that only the edit is wrong. */
static void rehash(unsigned char *b, size_t n)
{
    db_sha256 s;
    db_sha256_init(&s);
    db_sha256_update(&s, b, 136);
    db_sha256_update(&s, b + 168, DB_CKPT_HEADER - 168);
    db_sha256_update(&s, b + DB_CKPT_HEADER, n - DB_CKPT_HEADER);
    uint8_t d[32];
    db_sha256_final(&s, d);
    memcpy(b + 136, d, 32);
}

START_TEST(bad_checkpoints_are_ignored)
{
    if (!bin()) {
        printf("SKIP: DROPBENCH_BIN not set (run through make test)\n");
        return;
    }
    const char *ref = in_dir("ref");
    run_done(ref, "1");
    /* a valid checkpoint of this run, and one of another run (seed 2) */
    const char *res = in_dir("bad");
    ck_assert_int_eq(kill_at(res, 3), 1);
    char ck[1024], name[1024];
    ck_assert_int_eq(find_entry(res, ".ckpt", NULL, ck, sizeof ck), 0);
    snprintf(name, sizeof name, "%s", ck);
    size_t n;
    unsigned char *good = read_bytes(ck, &n);
    const char *other = in_dir("other");
    {
        char *argv[20];
        run_argv(argv, other, "2");
        pid_t pid = spawn(argv, in_dir("o.log"));
        while (ckpt_epochs(other) < 2)
            ;
        kill_group(pid);
    }
    char ock[1024];
    ck_assert_int_eq(find_entry(other, ".ckpt", NULL, ock, sizeof ock), 0);
    size_t on;
    unsigned char *foreign = read_bytes(ock, &on);

    unsigned char *b = malloc(n);
    ck_assert_ptr_nonnull(b);
    static const char *const why[] = { "truncated", "checksum mismatch", "belongs to run",
                                       "code version", "not a dropbench checkpoint",
                                       "truncated", "written with kernels" };
    for (int k = 0; k < 7; k++) {
        rm_tree(res);
        mkdir(res, 0755);
        memcpy(b, good, n);
        size_t len = n;
        const unsigned char *src = b;
        switch (k) {
        case 0: len = n / 2; break;                          /* truncated */
        case 1: b[n - 100] ^= 0x40; break;                   /* a flipped bit */
        case 2: src = foreign; len = on; break;              /* another run's */
        case 3: memcpy(b + 40, "7\0", 2); rehash(b, n); break; /* older code */
        case 4: memset(b, 'x', 64); break;                    /* garbage */
        case 5: len = 0; break;                               /* empty */
        case 6: /* written with other kernels (another OpenBLAS core) */
            ck_assert_msg(strchr((char *)b + 168, '/'), "kernels field: %.64s", b + 168);
            memset(b + 168, 0, 64);
            memcpy(b + 168, "NoSuchCore/direct-avx2+winograd", 31);
            rehash(b, n);
            break;
        }
        write_bytes(name, src, len);
        const char *out = run_done(res, "1");
        ck_assert_msg(strstr(out, "ignoring checkpoint") && strstr(out, why[k]),
                      "case %d: %s", k, out);
        ck_assert_msg(!strstr(out, "resumed"), "case %d: %s", k, out);
        assert_same_result(ref, res);
        ck_assert_int_eq(count_in_dir(res, NULL), 1);
    }
    free(b);
    free(good);
    free(foreign);
}
END_TEST

START_TEST(killed_sweep_resumes_bit_identical)
{
    if (!bin()) {
        printf("SKIP: DROPBENCH_BIN not set (run through make test)\n");
        return;
    }
    const char *sw = in_dir("sw.json");
    FILE *f = fopen(sw, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"name\": \"ck\", \"tasks\": [\"mnist-mlp\"], \"strategies\": "
               "[\"hinton\", \"dense\"], \"seeds\": [0], \"epochs\": " EPOCHS "}\n");
    fclose(f);
    const char *dirs[2] = { in_dir("sw-ref"), in_dir("sw-kill") };
    for (int k = 0; k < 2; k++) {
        char *argv[] = { (char *)bin(), "sweep", (char *)sw, "--jobs", "1", "--data", g_data,
                         "--results", (char *)dirs[k], NULL };
        const char *log = in_dir("sweep.log");
        char out[16384];
        if (k == 1) {
            pid_t pid = spawn(argv, log);
            while (ckpt_epochs(dirs[k]) < 3)
                ;
            kill_group(pid);
        }
        int rc = wait_pid(spawn(argv, log));
        slurp_into(log, out, sizeof out);
        ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
        if (k == 1)
            ck_assert_msg(strstr(out, "resumed from its checkpoint"), "%s", out);
        ck_assert_int_eq(count_in_dir(dirs[k], ".json"), 2);
        ck_assert_int_eq(count_in_dir(dirs[k], ".ckpt"), 0);
        ck_assert_int_eq(count_in_dir(dirs[k], ".tmp"), 0);
        ck_assert_int_eq(count_in_dir(dirs[k], ".lock"), 0);
    }
    /* each result against its twin */
    DIR *d = opendir(dirs[0]);
    struct dirent *de;
    int compared = 0;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 5, ".json"))
            continue;
        char a[1024], b[1024];
        snprintf(a, sizeof a, "%s/one-a", g_dir);
        snprintf(b, sizeof b, "%s/one-b", g_dir);
        rm_tree(a);
        rm_tree(b);
        mkdir(a, 0755);
        mkdir(b, 0755);
        char pa[1400], pb[1400], qa[1400], qb[1400];
        snprintf(pa, sizeof pa, "%s/%s", dirs[0], de->d_name);
        snprintf(pb, sizeof pb, "%s/%s", dirs[1], de->d_name);
        snprintf(qa, sizeof qa, "%s/r.json", a);
        snprintf(qb, sizeof qb, "%s/r.json", b);
        ck_assert_int_eq(link(pa, qa), 0);
        ck_assert_int_eq(link(pb, qb), 0);
        assert_same_result(a, b);
        compared++;
    }
    closedir(d);
    ck_assert_int_eq(compared, 2);
}
END_TEST

/* What a Slurm job gets before its time limit (#SBATCH --signal=B:TERM):
 * SIGTERM to the sweep (the batch shell execs it).  The run in flight stops,
 * its checkpoint stays, and the resubmitted sweep continues it. */
START_TEST(sigterm_sweep_keeps_checkpoint)
{
    if (!bin()) {
        printf("SKIP: DROPBENCH_BIN not set (run through make test)\n");
        return;
    }
    const char *sw = in_dir("sw1.json");
    FILE *f = fopen(sw, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"name\": \"ck1\", \"tasks\": [\"mnist-mlp\"], \"strategies\": "
               "[\"hinton\"], \"seeds\": [0], \"epochs\": " EPOCHS "}\n");
    fclose(f);
    const char *res = in_dir("sw-term");
    char *argv[] = { (char *)bin(), "sweep", (char *)sw, "--jobs", "1", "--data", g_data,
                     "--results", (char *)res, NULL };
    const char *log = in_dir("term.log");
    char out[16384];
    pid_t pid = spawn(argv, log);
    while (ckpt_epochs(res) < 2)
        ;
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    int rc = wait_pid(pid);
    slurp_into(log, out, sizeof out);
    ck_assert_msg(rc == 128 + SIGTERM, "exit %d: %s", rc, out);
    ck_assert_int_eq(count_in_dir(res, ".json"), 0);
    ck_assert_int_eq(count_in_dir(res, ".ckpt"), 1);
    rc = wait_pid(spawn(argv, log));
    slurp_into(log, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "resumed from its checkpoint"), "%s", out);
    ck_assert_int_eq(count_in_dir(res, ".json"), 1);
    ck_assert_int_eq(count_in_dir(res, ".ckpt"), 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("ckpt");
    TCase *t = tcase_create("ckpt");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 300);
    tcase_add_test(t, killed_run_resumes_bit_identical);
    tcase_add_test(t, bad_checkpoints_are_ignored);
    tcase_add_test(t, killed_sweep_resumes_bit_identical);
    tcase_add_test(t, sigterm_sweep_keeps_checkpoint);
    suite_add_tcase(s, t);
    (void)gen_all;
    return s;
}

DB_TEST_MAIN()
