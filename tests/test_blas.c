/* test_blas.c - the OpenBLAS kernel-set choice (util/blas.h): which sets a
 * CPU's flags allow (synthetic flag sets: a set is never offered to a CPU
 * without its instructions), the pick from a measurement, the cache file
 * (round trip, another machine's key, every kind of corruption), and, on
 * the real binary ($DROPBENCH_BIN), the measurement, the re-exec, the
 * cached decision, a corrupt cache, DROPBENCH_BLAS_KEEP and a user's
 * OPENBLAS_CORETYPE. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check_main.h"
#include "test_util.h"
#include "util/blas.h"

/* Flag lines as /proc/cpuinfo prints them (abridged to what matters). */
static const char zen3[] =
    "fpu vme sse sse2 ht syscall nx mmxext pdpe1gb lm sse3 pclmulqdq ssse3 fma cx16 sse4_1 "
    "sse4_2 movbe popcnt aes xsave avx f16c rdrand lahf_lm cmp_legacy abm sse4a misalignsse "
    "bmi1 avx2 smep bmi2 erms invpcid rdseed adx smap clflushopt clwb sha_ni vaes vpclmulqdq";
static const char zen4[] =
    "fpu sse sse2 sse3 ssse3 fma sse4_1 sse4_2 avx f16c abm sse4a bmi1 avx2 bmi2 avx512f "
    "avx512dq avx512ifma avx512cd avx512bw avx512vl avx512_bf16 avx512vbmi avx512_vbmi2 "
    "gfni vaes vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq";
static const char skx[] = /* Intel Skylake-SP */
    "fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c abm bmi1 avx2 bmi2 avx512f avx512dq "
    "avx512cd avx512bw avx512vl";
static const char spr[] = /* Intel Sapphire Rapids */
    "fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c abm bmi1 avx2 bmi2 avx512f avx512dq "
    "avx512cd avx512bw avx512vl avx512_vnni avx512_bf16 amx_bf16 avx512_fp16 amx_tile "
    "amx_int8";
static const char haswell[] = "fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c bmi1 avx2 bmi2";

static int list(const char *flags, char *out, size_t n)
{
    const char *c[DB_BLAS_MAX_CAND];
    int k = db_blas_candidates(flags, c, DB_BLAS_MAX_CAND);
    out[0] = '\0';
    for (int i = 0; i < k; i++)
        snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "," : "", c[i]);
    return k;
}

START_TEST(test_blas_candidates_by_flags)
{
    char l[256];
    list(zen3, l, sizeof l);
    ck_assert_str_eq(l, "Zen,Haswell,Sandybridge"); /* never SkylakeX without AVX-512 */
    list(zen4, l, sizeof l);
    ck_assert_str_eq(l, "Cooperlake,SkylakeX,Zen,Haswell,Sandybridge");
    list(skx, l, sizeof l);
    ck_assert_str_eq(l, "SkylakeX,Haswell,Sandybridge"); /* Zen's set only on AMD */
    list(spr, l, sizeof l);
    ck_assert_str_eq(l, "SapphireRapids,Cooperlake,SkylakeX,Haswell,Sandybridge");
    list(haswell, l, sizeof l);
    ck_assert_str_eq(l, "Haswell,Sandybridge");
    ck_assert_int_eq(list("fpu sse sse2 sse3", l, sizeof l), 0);
    ck_assert_int_eq(list("", l, sizeof l), 0);
    /* AVX-512F alone (no BW/DQ/VL, Knights Landing): no AVX-512 set */
    list("avx avx2 fma avx512f avx512cd avx512er avx512pf", l, sizeof l);
    ck_assert_str_eq(l, "Haswell,Sandybridge");
    /* whole words only: avx512fx is not avx512f, avx2x not avx2 */
    list("avx avx2x fma avx512fx avx512bw avx512dq avx512vl avx512cd", l, sizeof l);
    ck_assert_str_eq(l, "Sandybridge");
    /* tabs and a trailing newline, as in a raw cpuinfo line */
    list("avx\tavx2 fma\n", l, sizeof l);
    ck_assert_str_eq(l, "Haswell,Sandybridge");
    /* max is respected */
    const char *c[2];
    ck_assert_int_eq(db_blas_candidates(zen4, c, 2), 2);
    ck_assert_str_eq(c[1], "SkylakeX");
}
END_TEST

static void cand(db_blas_decision *d, const char *core, int ok, double gf)
{
    db_blas_cand *c = &d->c[d->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->core, sizeof c->core, "%s", core);
    c->ok = ok;
    c->err = ok ? 1e-7 : 0.5;
    c->gflops = ok ? gf : 0;
    snprintf(c->why, sizeof c->why, "%s", ok ? "" : "wrong sgemm");
}

START_TEST(test_blas_pick)
{
    db_blas_decision d;
    memset(&d, 0, sizeof d);
    snprintf(d.own, sizeof d.own, "Haswell");
    cand(&d, "SkylakeX", 1, 209);
    cand(&d, "Zen", 1, 96);
    cand(&d, "Haswell", 1, 97);
    ck_assert_int_eq(db_blas_pick(&d), 0);
    ck_assert_str_eq(d.choice, "SkylakeX");
    /* less than 5% faster than OpenBLAS's own: the own set stays */
    d.c[0].gflops = 101;
    ck_assert_int_eq(db_blas_pick(&d), 2);
    ck_assert_str_eq(d.choice, "Haswell");
    /* a fast but wrong set is never chosen */
    d.c[0].gflops = 300;
    d.c[0].ok = 0;
    ck_assert_int_eq(db_blas_pick(&d), 2);
    /* own choice wrong: the fastest correct one */
    d.c[2].ok = 0;
    ck_assert_int_eq(db_blas_pick(&d), 1);
    ck_assert_str_eq(d.choice, "Zen");
    /* nothing correct */
    d.c[1].ok = 0;
    ck_assert_int_eq(db_blas_pick(&d), -1);
    ck_assert_str_eq(d.choice, "");
    /* own choice not measured (generic): the fastest */
    memset(&d, 0, sizeof d);
    snprintf(d.own, sizeof d.own, "Prescott");
    cand(&d, "Haswell", 1, 50);
    cand(&d, "Sandybridge", 1, 30);
    ck_assert_int_eq(db_blas_pick(&d), 0);
}
END_TEST

static void tmpdir(char *buf, size_t n)
{
    snprintf(buf, n, "/tmp/db-blas-test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(buf));
}

static void sample(db_blas_decision *d)
{
    memset(d, 0, sizeof *d);
    snprintf(d->key, sizeof d->key, "cpu=Test CPU; flags=avx avx2 fma");
    snprintf(d->own, sizeof d->own, "Haswell");
    snprintf(d->measured_utc, sizeof d->measured_utc, "2026-12-05T12:00:00Z");
    d->seconds = 0.25;
    d->load_average = 0.5;
    cand(d, "SkylakeX", 1, 209.5);
    cand(d, "Zen", 0, 0);
    cand(d, "Haswell", 1, 97.25);
    db_blas_pick(d);
}

START_TEST(test_blas_cache_roundtrip)
{
    char dir[64], path[128];
    tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/sub/blas.json", dir); /* folder created */
    db_blas_decision d, r;
    sample(&d);
    db_err e;
    ck_assert_int_eq(db_blas_cache_write(path, &d, &e), 0);
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(db_blas_cache_read(path, d.key, &r, &e), 1);
    ck_assert_str_eq(r.choice, "SkylakeX");
    ck_assert_str_eq(r.own, "Haswell");
    ck_assert_str_eq(r.measured_utc, d.measured_utc);
    ck_assert_int_eq(r.n, 3);
    ck_assert(r.c[0].gflops == 209.5 && r.c[0].ok && r.c[2].gflops == 97.25);
    ck_assert(!r.c[1].ok);
    ck_assert_str_eq(r.c[1].why, "wrong sgemm");
    /* another machine (or OpenBLAS) under the same name: a miss, untouched */
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(db_blas_cache_read(path, "cpu=Other CPU; flags=avx", &r, &e), 0);
    ck_assert_int_eq(r.n, 0);
    /* no file: a silent miss */
    char none[160];
    snprintf(none, sizeof none, "%s/none.json", dir);
    ck_assert_int_eq(db_blas_cache_read(none, d.key, &r, &e), 0);
    /* no temporary file left beside it */
    char sub[128];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    DIR *dd = opendir(sub);
    ck_assert_ptr_nonnull(dd);
    int files = 0;
    struct dirent *de;
    while ((de = readdir(dd)))
        files += de->d_name[0] != '.';
    closedir(dd);
    ck_assert_int_eq(files, 1);
    rm_tree(dir);
}
END_TEST

START_TEST(test_blas_cache_corrupt)
{
    char dir[64], path[128];
    tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/blas.json", dir);
    db_blas_decision d, r;
    sample(&d);
    db_err e;
    ck_assert_int_eq(db_blas_cache_write(path, &d, &e), 0);
    char *good = NULL;
    {
        FILE *f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        good = calloc(1, 1 << 16);
        ck_assert_uint_gt(fread(good, 1, (1 << 16) - 1, f), 100);
        fclose(f);
    }
    /* each corruption is an error naming the file, never a hit */
    struct {
        const char *from, *to, *why;
    } bad[] = {
        { NULL, NULL, "not valid JSON" },                       /* truncated */
        { "\"format\":\t1", "\"format\":\t2", "format" },
        { "\"choice\":\t\"SkylakeX\"", "\"choice\":\t\"Zen\"", "does not follow" },
        { "\"choice\":\t\"SkylakeX\"", "\"choice\":\t7", "wrong type" },
        { "\"gflops\":\t209.5", "\"gflops\":\t-209.5", "malformed" },
        { "\"gflops\":\t209.5", "\"gflops\":\t\"fast\"", "malformed" },
        { "\"sgemm_n\":\t320", "\"sgemm_n\":\t64", "sgemm size" },
        { "\"measured_utc\"", "\"measured\"", "wrong type" },
        { "\"load_average\":\t0.5", "\"load_average\":\tnull", "wrong type" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *t = strdup(good);
        ck_assert_ptr_nonnull(t);
        if (!bad[i].from) {
            t[strlen(t) / 2] = '\0';
        } else {
            char *p = strstr(t, bad[i].from);
            ck_assert_msg(p != NULL, "case %zu: %s not in the file", i, bad[i].from);
            char *n = malloc(strlen(t) + strlen(bad[i].to) + 1);
            ck_assert_ptr_nonnull(n);
            sprintf(n, "%.*s%s%s", (int)(p - t), t, bad[i].to, p + strlen(bad[i].from));
            free(t);
            t = n;
        }
        write_text_file(path, t);
        free(t);
        memset(&r, 0, sizeof r);
        e.msg[0] = '\0';
        ck_assert_int_eq(db_blas_cache_read(path, d.key, &r, &e), -1);
        ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, bad[i].why),
                      "case %zu: message \"%s\"", i, e.msg);
        ck_assert_int_eq(r.n, 0);
    }
    write_text_file(path, "");
    ck_assert_int_eq(db_blas_cache_read(path, d.key, &r, &e), -1);
    /* a folder where the file should be */
    remove(path);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_eq(db_blas_cache_read(path, d.key, &r, &e), -1);
    free(good);
    rm_tree(dir);
}
END_TEST

START_TEST(test_blas_cache_path)
{
    char p[512], q[512];
    const char *key = "cpu=Test; flags=avx";
    setenv("XDG_CACHE_HOME", "/x/cache", 1);
    setenv("HOME", "/home/u", 1);
    ck_assert_int_eq(db_blas_cache_path(key, p, sizeof p), 0);
    ck_assert_msg(strncmp(p, "/x/cache/dropbench/blas-", 24) == 0 && strlen(p) == 24 + 16 + 5,
                  "%s", p);
    ck_assert_int_eq(db_blas_cache_path("cpu=Other; flags=avx", q, sizeof q), 0);
    ck_assert_str_ne(p, q); /* one file per key */
    setenv("XDG_CACHE_HOME", "relative/cache", 1); /* ignored, as the spec says */
    ck_assert_int_eq(db_blas_cache_path(key, p, sizeof p), 0);
    ck_assert_msg(strncmp(p, "/home/u/.cache/dropbench/blas-", 30) == 0, "%s", p);
    unsetenv("XDG_CACHE_HOME");
    unsetenv("HOME");
    ck_assert_int_eq(db_blas_cache_path(key, p, sizeof p), -1);
}
END_TEST

/* ---- the real binary ----------------------------------------------------- */

/* Runs `ENV dropbench ARGS` with the BLAS variables cleared; stdout into
 * out, stderr into err; returns the exit status. */
static int db(const char *env, const char *args, char *out, size_t nout, char *err,
              size_t nerr)
{
    const char *b = bin();
    ck_assert_msg(b != NULL, "DROPBENCH_BIN not set (run through make test)");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "unset DROPBENCH_BLAS_KEEP OPENBLAS_CORETYPE DROPBENCH_BLAS_CHOSEN "
             "DROPBENCH_BLAS_TRIED DROPBENCH_BLAS_REASON DROPBENCH_BLAS_KEY; "
             "env %s '%s' %s >/tmp/db-blas-out.$PPID 2>/tmp/db-blas-err.$PPID; "
             "s=$?; cat /tmp/db-blas-out.$PPID; echo '@@'; "
             "cat /tmp/db-blas-err.$PPID; rm -f /tmp/db-blas-*.$PPID; exit $s",
             env, b, args);
    return popen_split(cmd, out, nout, err, nerr);
}

/* The value of "NAME:   value" in info's output. */
static void field(const char *out, const char *name, char *v, size_t n)
{
    const char *p = strstr(out, name);
    ck_assert_msg(p != NULL, "no %s in:\n%s", name, out);
    p += strlen(name);
    while (*p == ' ')
        p++;
    snprintf(v, n, "%.*s", (int)strcspn(p, " \n"), p);
}

/* The only file in dir/dropbench, into path; 0 when none. */
static int cache_file(const char *dir, char *path, size_t n)
{
    char d[256];
    snprintf(d, sizeof d, "%s/dropbench", dir);
    DIR *dd = opendir(d);
    if (!dd)
        return 0;
    int files = 0;
    struct dirent *de;
    while ((de = readdir(dd)))
        if (de->d_name[0] != '.') {
            files++;
            snprintf(path, n, "%s/%s", d, de->d_name);
        }
    closedir(dd);
    return files;
}

START_TEST(test_blas_choice_binary)
{
    char dir[64], env[256], out[8192], err[4096], core[64], path[512];
    tmpdir(dir, sizeof dir);
    snprintf(env, sizeof env, "XDG_CACHE_HOME=%s", dir);

    /* first run: measured, cached, and the process runs the chosen set */
    ck_assert_int_eq(db(env, "info", out, sizeof out, err, sizeof err), 0);
    ck_assert_msg(strstr(out, "chosen by measurement (20"), "%s", out);
    ck_assert_msg(strstr(out, "<- chosen"), "%s", out);
    ck_assert_str_eq(err, "");
    field(out, "BLAS core:", core, sizeof core);
    ck_assert_int_eq(cache_file(dir, path, sizeof path), 1);
    db_blas_decision d;
    char key[4096], flags[4096];
    /* the key of this machine: the file is found under it */
    db_blas_info bi;
    db_blas_get_info(&bi);
    db_blas_machine_key(bi.config, bi.core, key, sizeof key, flags, sizeof flags);
    ck_assert_msg(strstr(key, "flags=") && strlen(flags) > 0, "%s", key);
    db_err e;
    ck_assert_int_eq(db_blas_cache_read(path, key, &d, &e), 1);
    ck_assert_str_eq(d.choice, core);
    ck_assert_str_eq(d.own, bi.core); /* this process: OpenBLAS's own choice */
    ck_assert(d.seconds > 0 && d.seconds < 10);
    /* only sets the flags allow, and OpenBLAS's own choice */
    const char *allowed[DB_BLAS_MAX_CAND];
    int na = db_blas_candidates(flags, allowed, DB_BLAS_MAX_CAND);
    for (int i = 0; i < d.n; i++) {
        int ok = strcmp(d.c[i].core, d.own) == 0;
        for (int k = 0; k < na; k++)
            ok |= strcmp(d.c[i].core, allowed[k]) == 0;
        ck_assert_msg(ok, "%s measured but not allowed by the flags", d.c[i].core);
    }

    /* second run: the cached decision, no new measurement */
    struct stat st0, st1;
    ck_assert_int_eq(stat(path, &st0), 0);
    ck_assert_int_eq(db(env, "info", out, sizeof out, err, sizeof err), 0);
    ck_assert_msg(strstr(out, "(cached, "), "%s", out);
    char core2[64];
    field(out, "BLAS core:", core2, sizeof core2);
    ck_assert_str_eq(core2, core);
    ck_assert_int_eq(stat(path, &st1), 0);
    ck_assert(st0.st_mtim.tv_sec == st1.st_mtim.tv_sec &&
              st0.st_mtim.tv_nsec == st1.st_mtim.tv_nsec && st0.st_ino == st1.st_ino);

    /* a corrupt cache: a warning, a new measurement, a good file again */
    write_text_file(path, "{\"format\": 1, \"key\": [");
    ck_assert_int_eq(db(env, "--version", out, sizeof out, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "warning: ignoring the BLAS kernel-set cache") &&
                  strstr(err, path) && strstr(err, "measuring again"), "%s", err);
    ck_assert_int_eq(db_blas_cache_read(path, key, &d, &e), 1);
    /* ... said once: the re-executed process does not pass it on */
    ck_assert_int_eq(db(env, "info", out, sizeof out, err, sizeof err), 0);
    ck_assert_str_eq(err, "");
    /* a choice inherited from another machine (another key: a Slurm job's
     * environment from the login node) is not trusted: chosen afresh */
    char env2[512];
    snprintf(env2, sizeof env2,
             "%s OPENBLAS_CORETYPE=Sandybridge DROPBENCH_BLAS_CHOSEN=Sandybridge "
             "DROPBENCH_BLAS_REASON=elsewhere DROPBENCH_BLAS_KEY=0123456789abcdef", env);
    ck_assert_int_eq(db(env2, "info", out, sizeof out, err, sizeof err), 0);
    ck_assert_msg(!strstr(out, "elsewhere") && strstr(out, "chosen by measurement (cached"),
                  "%s", out);
    field(out, "BLAS core:", core2, sizeof core2);
    ck_assert_str_eq(core2, d.choice);
    rm_tree(dir);

    /* DROPBENCH_BLAS_KEEP: OpenBLAS's own choice, nothing measured */
    tmpdir(dir, sizeof dir);
    snprintf(env, sizeof env, "XDG_CACHE_HOME=%s DROPBENCH_BLAS_KEEP=1", dir);
    ck_assert_int_eq(db(env, "info", out, sizeof out, err, sizeof err), 0);
    field(out, "BLAS core:", core, sizeof core);
    ck_assert_str_eq(core, bi.core);
    ck_assert_msg(strstr(out, "DROPBENCH_BLAS_KEEP set"), "%s", out);
    ck_assert_int_eq(cache_file(dir, path, sizeof path), 0);

    /* a user's OPENBLAS_CORETYPE is kept as it is (scripts/suite pins
     * Haswell), when the CPU has it */
    if (na > 0) {
        const char *last = allowed[na - 1]; /* the most basic, e.g. Sandybridge */
        snprintf(env, sizeof env, "XDG_CACHE_HOME=%s OPENBLAS_CORETYPE=%s", dir, last);
        ck_assert_int_eq(db(env, "info", out, sizeof out, err, sizeof err), 0);
        field(out, "BLAS core:", core, sizeof core);
        ck_assert_str_eq(core, last);
        ck_assert_msg(strstr(out, "set in the environment: kept"), "%s", out);
        ck_assert_int_eq(cache_file(dir, path, sizeof path), 0);
    }
    /* ... even a generic one (slow, said so) */
    snprintf(env, sizeof env, "XDG_CACHE_HOME=%s OPENBLAS_CORETYPE=Prescott", dir);
    ck_assert_int_eq(db(env, "info", out, sizeof out, err, sizeof err), 0);
    field(out, "BLAS core:", core, sizeof core);
    ck_assert_str_eq(core, "Prescott");
    ck_assert_msg(strstr(out, "(generic: slow)"), "%s", out);
    rm_tree(dir);

    /* no cache folder at all: measured every time, still runs */
    ck_assert_int_eq(db("-u HOME -u XDG_CACHE_HOME", "info", out, sizeof out, err, sizeof err),
                     0);
    ck_assert_msg(strstr(out, "chosen by measurement"), "%s", out);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("blas");
    TCase *tc = tcase_create("blas");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_blas_candidates_by_flags);
    tcase_add_test(tc, test_blas_pick);
    tcase_add_test(tc, test_blas_cache_roundtrip);
    tcase_add_test(tc, test_blas_cache_corrupt);
    tcase_add_test(tc, test_blas_cache_path);
    tcase_add_test(tc, test_blas_choice_binary);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
