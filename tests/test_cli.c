/* test_cli.c - the command line's conventions (docs/CLI.md), on the real
 * binary ($DROPBENCH_BIN, set by make test):
 *   - every command answers -h and --help on standard output with exit
 *     status 0, and its help names only options it takes;
 *   - --version names the code version and commit;
 *   - one message format, `dropbench <command>: <where>: <problem>`, on
 *     standard error with nothing on standard output, and one exit-status
 *     convention: 2 for usage errors (the command line itself), 1 for input
 *     errors (what it names: files, tasks, strategies, data) and failures;
 *   - "did you mean" for unknown commands, options, tasks, strategies, data
 *     sets and keys (config, strategy and sweep files), known names sorted;
 *   - DROPBENCH_CONFIGS adds folders to the presets, never lists sweep files;
 *   - a local `sweep --status` speaks of runs, not Slurm array tasks. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "test_util.h"

static const char *const commands[] = { "run",    "show", "strategies", "sweep",
                                        "report", "data", "info",       "bench" };

static char tmp[256]; /* files the tests write */

static void setup_once(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/dbtest-cli-XXXXXX");
    if (!mkdtemp(tmp))
        abort();
}

static void teardown_once(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
}

/* tmp/name with text in it. */
static void put(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* Runs `ENV dropbench ARGS` (env: NULL or "VAR=value ..."), stdout into out,
 * stderr into err; returns the exit status.  "@T" in args stands for tmp. */
static int db_env(const char *env, const char *args, char *out, size_t nout, char *err,
                  size_t nerr)
{
    const char *bin = getenv("DROPBENCH_BIN");
    ck_assert_msg(bin != NULL, "DROPBENCH_BIN not set (run through make test)");
    char a[2048] = "";
    for (const char *p = args; *p && strlen(a) + sizeof tmp < sizeof a; p++) {
        if (p[0] == '@' && p[1] == 'T') {
            strcat(a, tmp);
            p++;
        } else {
            strncat(a, p, 1);
        }
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s '%s' %s >%s/out.$$ 2>%s/err.$$; s=$?; cat %s/out.$$; echo '@@'; "
             "cat %s/err.$$; rm -f %s/out.$$ %s/err.$$; exit $s",
             env ? env : "", bin, a, tmp, tmp, tmp, tmp, tmp, tmp);
    return popen_split(cmd, out, nout, err, nerr);
}

static int db(const char *args, char *out, size_t nout, char *err, size_t nerr)
{
    return db_env(NULL, args, out, nout, err, nerr);
}

START_TEST(help_of_every_command)
{
    static char out[1 << 16], err[4096];
    const char *flag = _i % 2 ? "-h" : "--help";
    const char *c = commands[_i / 2];
    char args[64];
    snprintf(args, sizeof args, "%s %s", c, flag);
    ck_assert_msg(db(args, out, sizeof out, err, sizeof err) == 0, "%s: %s", args, err);
    ck_assert_msg(strstr(out, "usage: dropbench") != NULL, "%s printed no usage: %s", args, out);
    ck_assert_msg(err[0] == '\0', "%s wrote to stderr: %s", args, err);
}
END_TEST

/* Every --option a command's help names is one the command takes: given
 * it (with a bogus positional argument, so that nothing runs), the command
 * never says "unknown option". */
START_TEST(help_names_only_own_options)
{
    static char help[1 << 16], out[1 << 16], err[8192];
    const char *c = commands[_i];
    char args[256];
    snprintf(args, sizeof args, "%s --help", c);
    ck_assert_int_eq(db(args, help, sizeof help, err, sizeof err), 0);
    size_t checked = 0;
    for (const char *p = strstr(help, "--"); p; p = strstr(p + 2, "--")) {
        if (p > help && p[-1] != ' ' && p[-1] != '[' && p[-1] != '(' && p[-1] != '|')
            continue;
        if (p - help >= 5 && strncmp(p - 5, "e.g. ", 5) == 0)
            continue; /* an example of another program's option (sbatch's) */
        char opt[40];
        size_t n = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz-");
        if (n == 0 || n >= sizeof opt - 2)
            continue;
        snprintf(opt, sizeof opt, "--%.*s", (int)n, p + 2);
        if (!strcmp(opt, "--help") || !strcmp(opt, "--version"))
            continue;
        snprintf(args, sizeof args, "%s %s @T/no-such-thing", c, opt);
        db(args, out, sizeof out, err, sizeof err);
        ck_assert_msg(strstr(err, "unknown option") == NULL,
                      "`dropbench %s --help` names %s, which it does not take: %s", c, opt,
                      err);
        checked++;
    }
    if (strcmp(c, "info") && strcmp(c, "strategies"))
        ck_assert_msg(checked > 0, "%s: no options found in its help", c);
}
END_TEST

START_TEST(show_help_is_shows)
{
    static char out[1 << 16], err[4096];
    ck_assert_int_eq(db("show --help", out, sizeof out, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(out, "--json"));
    ck_assert_ptr_nonnull(strstr(out, "--strategy"));
    const char *run_only[] = { "--results", "--quiet", "--data" };
    for (int i = 0; i < 3; i++)
        ck_assert_msg(strstr(out, run_only[i]) == NULL, "show --help lists %s", run_only[i]);
    ck_assert_int_eq(db("run --help", out, sizeof out, err, sizeof err), 0);
    ck_assert_ptr_null(strstr(out, "--json"));
    ck_assert_ptr_nonnull(strstr(out, "--results"));
}
END_TEST

START_TEST(version_and_top_level_help)
{
    static char out[1 << 16], err[4096];
    ck_assert_int_eq(db("--version", out, sizeof out, err, sizeof err), 0);
    ck_assert_msg(strstr(out, "dropbench code version ") != NULL && strstr(out, "commit ") != NULL,
                  "%s", out);
    ck_assert_int_eq(db("--help", out, sizeof out, err, sizeof err), 0);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        char want[32];
        snprintf(want, sizeof want, "  %s ", commands[i]);
        ck_assert_msg(strstr(out, want) != NULL, "top-level help lacks %s", commands[i]);
    }
    ck_assert_int_eq(db("", out, sizeof out, err, sizeof err), 2);
}
END_TEST

START_TEST(unknown_command_did_you_mean)
{
    static char out[1 << 16], err[4096];
    ck_assert_int_eq(db("swep", out, sizeof out, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "dropbench: unknown command \"swep\"; did you mean \"sweep\"? "
                              "(known: bench, data, info, report, run, show, strategies, "
                              "sweep)\n") == err,
                  "%s", err);
    ck_assert_int_eq(db("reprot", out, sizeof out, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "did you mean \"report\"?") != NULL, "%s", err);
    ck_assert_int_eq(db("frobnicate", out, sizeof out, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "unknown command \"frobnicate\" (known: bench,") != NULL, "%s", err);
    ck_assert_ptr_null(strstr(err, "did you mean"));
}
END_TEST

/* A sample of errors of every command: status, and the message's start
 * and (when given) a part of it. */
static const struct {
    const char *args;
    int status;
    const char *prefix; /* stderr starts with it */
    const char *part;   /* and holds it, or NULL */
} errors[] = {
    /* usage errors: 2 */
    { "run --task mnist-mlp --sed 1", 2, "dropbench run: unknown option \"--sed\"; did you "
      "mean \"--seed\"? (known: --allow-unverified, --config, --data,", NULL },
    { "run --task", 2, "dropbench run: --task: needs a value", NULL },
    { "run --task mnist-mlp --epochs 0", 2, "dropbench run: --epochs: expected an integer", NULL },
    { "run --task mnist-mlp stray", 2, "dropbench run: \"stray\": unexpected argument", NULL },
    { "run", 2, "dropbench run: give exactly one of --task and --config", NULL },
    { "show --task mnist-mlp --results x", 2, "dropbench show: unknown option \"--results\"",
      NULL },
    { "show --task mnist-mlp --lr -1", 2, "dropbench show: --lr: expected a positive number",
      NULL },
    { "strategies extra", 2, "dropbench strategies: \"extra\": unexpected argument", NULL },
    { "strategies --al", 2, "dropbench strategies: unknown option \"--al\"", NULL },
    { "sweep", 2, "dropbench sweep: give a sweep file", NULL },
    { "sweep --jbos 2 x.json", 2, "dropbench sweep: unknown option \"--jbos\"; did you mean "
      "\"--jobs\"?", NULL },
    { "sweep --slurn x.json", 2, "dropbench sweep: unknown option \"--slurn\"; did you mean "
      "\"--slurm\"?", NULL },
    { "sweep --jobs 0 x.json", 2, "dropbench sweep: --jobs: expected an integer", NULL },
    { "report", 2, "dropbench report: give one or more results folders", NULL },
    { "report --fromat md x", 2, "dropbench report: unknown option \"--fromat\"; did you mean "
      "\"--format\"?", NULL },
    { "report --format htm x", 2, "dropbench report: --format: unknown format \"htm\"; did "
      "you mean \"html\"? (known: csv, html, latex, md, tex)", NULL },
    { "data --bogus", 2, "dropbench data: unknown option \"--bogus\"", NULL },
    { "data --data", 2, "dropbench data: --data: needs a value", NULL },
    { "info extra", 2, "dropbench info: \"extra\": unexpected argument", NULL },
    { "bench --task mnist-mlp --seconds 3x", 2, "dropbench bench: --seconds: expected a number",
      NULL },
    { "bench", 2, "dropbench bench: give --task", NULL },
    /* input errors: 1 */
    { "run --config @T/none.json", 1, "dropbench run: @T/none.json: ", NULL },
    { "run --task mnist-mpl", 1, "dropbench run: unknown task \"mnist-mpl\"; did you mean "
      "\"mnist-mlp\"? (known: cifar-bn, cifar-cnn, fashion-lenet,", NULL },
    { "show --task mnist-mlp --strategy hintn", 1, "dropbench show: ",
      "unknown strategy \"hintn\"; did you mean \"hinton\"? (known: bn-after-last, bn-before, "
      "conv, dense," },
    { "show --config @T/badkey.json", 1, "dropbench show: @T/badkey.json: train: unknown key "
      "\"momentun\"; did you mean \"momentum\"? (known: batch, clip_norm, epochs,", NULL },
    { "show --config @T/badlayer.json", 1, "dropbench show: @T/badlayer.json: model[0] (a dense "
      "layer): unknown key \"unit\"; did you mean \"units\"? (known: type, units)", NULL },
    { "sweep @T/none.json", 1, "dropbench sweep: @T/none.json: ", NULL },
    { "sweep @T/badsweep.json --dry-run", 1, "dropbench sweep: @T/badsweep.json: unknown key "
      "\"sedes\"; did you mean \"seeds\"?", NULL },
    { "sweep @T/badrule.json --dry-run", 1, "dropbench sweep: @T/badrule.json",
      "rules[0]: unknown key \"mdoe\"; did you mean \"mode\"? (known: at, block, from, mode, "
      "rate, site)" },
    { "sweep @T/badtask.json --dry-run", 1, "dropbench sweep: @T/badtask.json",
      "unknown task \"mnist-mpl\"; did you mean \"mnist-mlp\"?" },
    { "report @T/no-such-folder", 1, "dropbench report: @T/no-such-folder: ", NULL },
    { "report --baseline nonee tests/fixtures/report/results", 1, "dropbench report: "
      "--baseline: unknown baseline \"nonee\"; did you mean \"none\"? (known: dense, hinton, "
      "none)", NULL },
    { "data imagnet", 1, "dropbench data: unknown data set \"imagnet\" (known: cifar10, "
      "fashion, mnist, wordlang)", NULL },
    { "data --data @T/no-such-folder", 1, "dropbench data: @T/no-such-folder: ", NULL },
};

static void error_files(void)
{
    put("badkey.json", "{\"task\": \"x\", \"data\": \"mnist\", \"model\": [{\"type\": \"dense\", "
                       "\"units\": 10}], \"train\": {\"batch\": 8, \"epochs\": 1, \"lr\": 0.1, "
                       "\"momentun\": 0.9}}\n");
    put("badlayer.json", "{\"task\": \"x\", \"data\": \"mnist\", \"model\": [{\"type\": "
                         "\"dense\", \"unit\": 10}], \"train\": {\"batch\": 8, \"epochs\": 1, "
                         "\"lr\": 0.1}}\n");
    put("badsweep.json", "{\"name\": \"x\", \"tasks\": [\"mnist-mlp\"], \"strategies\": "
                         "[\"none\"], \"sedes\": [0]}\n");
    put("badrule.json", "{\"name\": \"x\", \"tasks\": [\"mnist-mlp\"], \"seeds\": [0], "
                        "\"strategies\": [{\"name\": \"x1\", \"rules\": [{\"site\": \"dense\", "
                        "\"rate\": 0.1, \"mdoe\": \"channel\"}]}]}\n");
    put("badtask.json", "{\"name\": \"x\", \"tasks\": [\"mnist-mpl\"], \"seeds\": [0], "
                        "\"strategies\": [\"none\"]}\n");
}

/* "@T" in s replaced by tmp, into buf. */
static const char *with_tmp(char *buf, size_t n, const char *s)
{
    buf[0] = '\0';
    for (const char *p = s; *p && strlen(buf) + sizeof tmp < n; p++) {
        if (p[0] == '@' && p[1] == 'T') {
            strcat(buf, tmp);
            p++;
        } else {
            strncat(buf, p, 1);
        }
    }
    return buf;
}

START_TEST(error_format_and_status)
{
    static char out[1 << 16], err[8192];
    char prefix[1024], part[1024];
    error_files();
    int rc = db(errors[_i].args, out, sizeof out, err, sizeof err);
    ck_assert_msg(rc == errors[_i].status, "`dropbench %s`: exit status %d, expected %d: %s",
                  errors[_i].args, rc, errors[_i].status, err);
    with_tmp(prefix, sizeof prefix, errors[_i].prefix);
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
                  "`dropbench %s`:\n  said: %s  expected it to start: %s", errors[_i].args,
                  err, prefix);
    if (errors[_i].part)
        ck_assert_msg(strstr(err, with_tmp(part, sizeof part, errors[_i].part)) != NULL,
                      "`dropbench %s`: %s lacks %s", errors[_i].args, err, part);
    /* one line, nothing on stdout (the data listing names its root first) */
    ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1, "`dropbench %s`: %s",
                  errors[_i].args, err);
    if (strncmp(errors[_i].args, "data ", 5) != 0 || rc == 2)
        ck_assert_msg(out[0] == '\0', "`dropbench %s` printed on stdout: %s", errors[_i].args,
                      out);
}
END_TEST

/* DROPBENCH_CONFIGS adds folders (':'-separated) before the presets; a
 * sweep file in them is never a task. */
START_TEST(config_folders_add_to_the_presets)
{
    static char out[1 << 16], err[8192];
    char mine[300], env[1200];
    snprintf(mine, sizeof mine, "%s/mine", tmp);
    ck_assert_int_eq(mkdir(mine, 0755) == 0 || access(mine, F_OK) == 0, 1);
    put("mine/my-task.json", "{\"task\": \"my-task\", \"data\": \"mnist\", \"model\": "
                             "[{\"type\": \"dense\", \"units\": 10}], \"train\": {\"batch\": "
                             "8, \"epochs\": 1, \"lr\": 0.1}}\n");
    put("mine/my-sweep.json", "{\"name\": \"s\", \"tasks\": [\"my-task\"], \"strategies\": "
                              "[\"none\"], \"seeds\": [0]}\n");
    const char *src = getenv("DROPBENCH_SRC");
    snprintf(env, sizeof env, "DROPBENCH_CONFIGS='%s:%s/tests/configs'", mine,
             src ? src : ".");
    ck_assert_msg(db_env(env, "show --task my-task", out, sizeof out, err, sizeof err) == 0,
                  "%s", err);
    ck_assert_ptr_nonnull(strstr(out, "task my-task,"));
    /* the second folder, and the presets, are still there */
    ck_assert_msg(db_env(env, "show --task tiny-cnn", out, sizeof out, err, sizeof err) == 0,
                  "%s", err);
    ck_assert_msg(db_env(env, "show --task mnist-mlp", out, sizeof out, err, sizeof err) == 0,
                  "%s", err);
    /* the sweep file is not a task, and not listed as one */
    ck_assert_int_eq(db_env(env, "show --task my-sweep", out, sizeof out, err, sizeof err), 1);
    ck_assert_msg(strstr(err, "unknown task \"my-sweep\"") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "my-task") && strstr(err, "tiny-cnn") && strstr(err, "mnist-mlp"),
                  "%s", err);
    ck_assert_msg(strstr(err, ", my-sweep") == NULL, "%s", err);
    /* nor are the sweeps of configs/sweeps, given as a folder */
    snprintf(env, sizeof env, "DROPBENCH_CONFIGS='%s/configs/sweeps'", src ? src : ".");
    ck_assert_int_eq(db_env(env, "show --task demo", out, sizeof out, err, sizeof err), 1);
    ck_assert_msg(strstr(err, "unknown task \"demo\"") && !strstr(err, " demo,") &&
                      strstr(err, "mnist-mlp"),
                  "%s", err);
}
END_TEST

/* A sweep never submitted to Slurm: --status counts runs, and says how to
 * run the rest here. */
START_TEST(local_status_speaks_of_runs)
{
    static char out[1 << 16], err[8192];
    char env[600];
    const char *src = getenv("DROPBENCH_SRC");
    snprintf(env, sizeof env, "DROPBENCH_CONFIGS='%s/tests/configs'", src ? src : ".");
    put("local.json", "{\"name\": \"local\", \"tasks\": [\"tiny-cnn\"], \"strategies\": "
                      "[\"none\", \"dense\"], \"seeds\": [0, 1]}\n");
    int rc = db_env(env, "sweep @T/local.json --status --results @T/local-results", out,
                    sizeof out, err, sizeof err);
    ck_assert_msg(rc == 1, "status %d: %s%s", rc, out, err);
    ck_assert_msg(strstr(out, "sweep local: 4 runs -> ") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "missing 4") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "runs to do: 4") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "array task") == NULL && strstr(out, "indices") == NULL &&
                      strstr(out, "--slurm") == NULL,
                  "%s", out);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("conventions");
    tcase_add_unchecked_fixture(tc, setup_once, teardown_once);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, help_of_every_command, 0,
                        (int)(2 * sizeof commands / sizeof *commands));
    tcase_add_loop_test(tc, help_names_only_own_options, 0,
                        (int)(sizeof commands / sizeof *commands));
    tcase_add_test(tc, show_help_is_shows);
    tcase_add_test(tc, version_and_top_level_help);
    tcase_add_test(tc, unknown_command_did_you_mean);
    tcase_add_loop_test(tc, error_format_and_status, 0,
                        (int)(sizeof errors / sizeof *errors));
    tcase_add_test(tc, config_folders_add_to_the_presets);
    tcase_add_test(tc, local_status_speaks_of_runs);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
