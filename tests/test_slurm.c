/* test_slurm.c - Slurm support without a cluster: index lists, array task
 * ranges, the job script (checked by bash and executed against a fake
 * dropbench), status from a results directory (results, held locks, the
 * sweep log), and the command: --slurm with a fake sbatch, --status,
 * --missing-indices, --index refusing a changed sweep, and --index running
 * one array task's real runs on generated data with the Slurm environment
 * recorded.  tests/slurm/run-slurm-test does the same on a real cluster. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cJSON.h>

#include "check_main.h"
#include "test_util.h"
#include "gen_data.h"
#include "cli/commands.h"
#include "sweep/plan.h"
#include "sweep/slurm.h"
#include "util/fs.h"
#include "util/jsonio.h"

static char g_dir[256];

static void make_dir(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/db-test-slurm-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static void remove_tree(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    char *copy = malloc(n + 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, buf, n + 1);
    return copy;
}

static int count_lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Runs slurm_cmd_sweep in a child with stdout (and stderr) in files;
 * returns the exit status. */
static int run_cmd(char **argv, const char *out_path)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        char err[300];
        snprintf(err, sizeof err, "%s.err", out_path);
        int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fe, 2);
        int rc = slurm_cmd_sweep(argc, argv);
        fflush(NULL);
        _exit(rc < 0 ? 99 : rc);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void use_presets(void)
{
    const char *src = getenv("DROPBENCH_SRC");
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/configs", src ? src : ".");
    setenv("DROPBENCH_CONFIGS", cfg, 1);
}

/* ------------------------------------------------------------ small parts */

START_TEST(test_index_list)
{
    struct { const char *sel; const char *want; } cases[] = {
        { "", "" },           { "0000", "" },     { "1", "0" },
        { "1111", "0-3" },    { "01110001", "1-3,7" },
        { "10101", "0,2,4" }, { "0000011", "5-6" }, { "1101", "0-1,3" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        unsigned char sel[16];
        size_t n = strlen(cases[c].sel);
        for (size_t i = 0; i < n; i++)
            sel[i] = cases[c].sel[i] == '1';
        char *got = slurm_index_list(sel, n);
        ck_assert_ptr_nonnull(got);
        ck_assert_msg(strcmp(got, cases[c].want) == 0, "%s: got \"%s\"",
                      cases[c].sel, got);
        free(got);
    }
    /* long lists grow */
    unsigned char many[3000];
    for (size_t i = 0; i < 3000; i++)
        many[i] = i % 2 == 0;
    char *got = slurm_index_list(many, 3000);
    ck_assert_ptr_nonnull(got);
    ck_assert(strncmp(got, "0,2,4,", 6) == 0);
    ck_assert(strcmp(got + strlen(got) - 5, ",2998") == 0);
    free(got);
}
END_TEST

START_TEST(test_task_runs)
{
    db_err e = { "" };
    size_t first = 99, count = 99;
    ck_assert_uint_eq(slurm_ntasks(7, 3), 3);
    ck_assert_uint_eq(slurm_ntasks(6, 3), 2);
    ck_assert_uint_eq(slurm_ntasks(6, 1), 6);
    ck_assert_uint_eq(slurm_ntasks(0, 1), 0);
    ck_assert_int_eq(slurm_task_runs(0, 3, 7, &first, &count, &e), 0);
    ck_assert_uint_eq(first, 0);
    ck_assert_uint_eq(count, 3);
    ck_assert_int_eq(slurm_task_runs(2, 3, 7, &first, &count, &e), 0);
    ck_assert_uint_eq(first, 6);
    ck_assert_uint_eq(count, 1);
    ck_assert_int_eq(slurm_task_runs(3, 3, 7, &first, &count, &e), -1);
    ck_assert_msg(strstr(e.msg, "out of range"), "%s", e.msg);
    ck_assert_int_eq(slurm_task_runs(0, 0, 7, &first, &count, &e), -1);
}
END_TEST

START_TEST(test_job_label)
{
    char buf[64];
    unsetenv("SLURM_ARRAY_JOB_ID");
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("SLURM_JOB_ID");
    slurm_job_label(buf, sizeof buf);
    ck_assert_str_eq(buf, "-");
    setenv("SLURM_JOB_ID", "17", 1);
    slurm_job_label(buf, sizeof buf);
    ck_assert_str_eq(buf, "17");
    setenv("SLURM_ARRAY_JOB_ID", "12", 1);
    setenv("SLURM_ARRAY_TASK_ID", "5", 1);
    slurm_job_label(buf, sizeof buf);
    ck_assert_str_eq(buf, "12_5");
    unsetenv("SLURM_ARRAY_JOB_ID");
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("SLURM_JOB_ID");
}
END_TEST

/* ---------------------------------------------------------------- scripts */

static slurm_script example_script(void)
{
    static const char *const sb[] = { "--mem=4G", "--qos=long job" };
    static const char *const ix[] = { "--filter", "task=mnist-*,seed=0",
                                      "--threads", "2" };
    slurm_script s = {
        .sweep_name = "demo",
        .dropbench = "/opt/db/build/dropbench",
        .sweep_file = "/home/me/it's/sweep.json",
        .chdir = "/home/me/work",
        .results_dir = "/shared/results/demo",
        .data_root = "/shared/data",
        .config_dir = "/opt/db/configs",
        .partition = "cpu",
        .time_limit = "1:30:00",
        .array = "0-5",
        .max_parallel = 2,
        .cpus_per_task = 2,
        .runs_per_task = 3,
        .nruns = 17,
        .plan_hash = "0123456789abcdef",
        .sbatch_args = sb,
        .nsbatch_args = 2,
        .index_args = ix,
        .nindex_args = 4,
    };
    return s;
}

START_TEST(test_script_text)
{
    slurm_script s = example_script();
    char *text = NULL;
    db_err e = { "" };
    ck_assert_msg(slurm_script_text(&text, &s, &e) == 0, "%s", e.msg);
    const char *want[] = {
        "#!/bin/bash\n",
        "\n# dropbench-runs-per-task: 3\n",
        "\n# dropbench-plan-hash: 0123456789abcdef\n",
        "\n#SBATCH --job-name=dropbench-demo\n",
        "\n#SBATCH --array=0-5%2\n",
        "\n#SBATCH --ntasks=1\n",
        /* the warning before a time limit: runs keep their checkpoints */
        "\n#SBATCH --signal=B:TERM@120\n",
        "\n#SBATCH --cpus-per-task=2\n",
        "\n#SBATCH --chdir=/home/me/work\n",
        "\n#SBATCH --output=/shared/results/demo/slurm/%A_%a.out\n",
        "\n#SBATCH --partition=cpu\n",
        "\n#SBATCH --time=1:30:00\n",
        "\n#SBATCH --mem=4G\n",
        "\n#SBATCH --qos=long job\n",
        "\nexport DROPBENCH_CONFIGS='/opt/db/configs'\n",
        "\nexec '/opt/db/build/dropbench' sweep '/home/me/it'\\''s/sweep.json'",
        "--index \"$SLURM_ARRAY_TASK_ID\" --runs-per-task 3 --plan-hash "
        "0123456789abcdef",
        "--results '/shared/results/demo' --data '/shared/data' '--filter' "
        "'task=mnist-*,seed=0' '--threads' '2'\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(text, want[i]), "missing <%s> in:\n%s", want[i],
                      text);
    /* every #SBATCH line comes before the first command */
    const char *cmd = strstr(text, "\nexport");
    ck_assert_ptr_nonnull(cmd);
    ck_assert_ptr_null(strstr(cmd, "#SBATCH"));
    free(text);

    /* optional parts left out */
    s.partition = s.time_limit = s.data_root = s.config_dir = NULL;
    s.max_parallel = 0;
    s.nsbatch_args = s.nindex_args = 0;
    ck_assert_int_eq(slurm_script_text(&text, &s, &e), 0);
    ck_assert(strstr(text, "\n#SBATCH --array=0-5\n"));
    ck_assert_ptr_null(strstr(text, "--partition"));
    ck_assert_ptr_null(strstr(text, "--time"));
    ck_assert_ptr_null(strstr(text, "--data"));
    ck_assert_ptr_null(strstr(text, "DROPBENCH_CONFIGS"));
    free(text);
}
END_TEST

START_TEST(test_script_rejects)
{
    db_err e = { "" };
    char *text = (char *)"unchanged";
    slurm_script s = example_script();
    s.sweep_file = "sweep.json";
    ck_assert_int_eq(slurm_script_text(&text, &s, &e), -1);
    ck_assert_ptr_null(text);
    ck_assert_msg(strstr(e.msg, "absolute"), "%s", e.msg);
    s = example_script();
    s.results_dir = "/shared/my results";
    ck_assert_int_eq(slurm_script_text(&text, &s, &e), -1);
    s = example_script();
    s.time_limit = "1:00 --mem=1";
    ck_assert_int_eq(slurm_script_text(&text, &s, &e), -1);
    ck_assert_msg(strstr(e.msg, "--time"), "%s", e.msg);
    s = example_script();
    s.array = "0-3;rm";
    ck_assert_int_eq(slurm_script_text(&text, &s, &e), -1);
    s = example_script();
    const char *bad[] = { "--mem=1G\n#SBATCH --x" };
    s.sbatch_args = bad;
    s.nsbatch_args = 1;
    ck_assert_int_eq(slurm_script_text(&text, &s, &e), -1);
    const char *notopt[] = { "mem=1G" };
    s.sbatch_args = notopt;
    ck_assert_int_eq(slurm_script_text(&text, &s, &e), -1);
    s = example_script();
    s.partition = "";
    ck_assert_int_eq(slurm_script_text(&text, &s, &e), -1);
}
END_TEST

/* The script is valid bash, and running it (as Slurm would, with a fake
 * dropbench) passes every argument through intact. */
START_TEST(test_script_runs)
{
    make_dir();
    char fake[400], args[400], sweepf[400], script[400], results[400];
    snprintf(fake, sizeof fake, "%s/fake-dropbench", g_dir);
    snprintf(args, sizeof args, "%s/args", g_dir);
    snprintf(sweepf, sizeof sweepf, "%s/it's here.json", g_dir);
    snprintf(script, sizeof script, "%s/job.sbatch", g_dir);
    snprintf(results, sizeof results, "%s/results", g_dir);
    char text[800];
    snprintf(text, sizeof text,
             "#!/bin/sh\nfor a in \"$@\"; do printf '%%s\\n' \"$a\"; done > "
             "'%s'\necho \"configs=$DROPBENCH_CONFIGS\" >> '%s'\n", args, args);
    write_text_file(fake, text);
    chmod(fake, 0755);
    slurm_script s = example_script();
    s.dropbench = fake;
    s.sweep_file = sweepf;
    s.chdir = g_dir;
    s.results_dir = results;
    char *body = NULL;
    db_err e = { "" };
    ck_assert_int_eq(slurm_script_text(&body, &s, &e), 0);
    write_text_file(script, body);
    free(body);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "bash -n '%s'", script);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "SLURM_ARRAY_TASK_ID=4 bash '%s'", script);
    ck_assert_int_eq(system(cmd), 0);
    char *got = slurp(args);
    ck_assert_ptr_nonnull(got);
    char want[1200];
    snprintf(want, sizeof want,
             "sweep\n%s\n--index\n4\n--runs-per-task\n3\n--plan-hash\n"
             "0123456789abcdef\n--results\n%s\n--data\n/shared/data\n"
             "--filter\ntask=mnist-*,seed=0\n--threads\n2\n"
             "configs=/opt/db/configs\n",
             sweepf, results);
    ck_assert_str_eq(got, want);
    free(got);
    remove_tree();
}
END_TEST

/* ----------------------------------------------------------------- status */

static int fake_resolve(const run_request *rq, cJSON **config, char id[17],
                        db_err *e)
{
    (void)e;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "task", rq->task);
    cJSON_AddStringToObject(c, "strategy", rq->strategy);
    cJSON_AddNumberToObject(c, "seed", (double)rq->seed);
    cJSON_AddNumberToObject(c, "epochs", 1);
    cJSON_AddNumberToObject(c, "threads", 1);
    snprintf(id, 17, "%016lx", 0xabc000UL + (unsigned long)rq->seed);
    *config = c;
    return 0;
}

static const sweep_backend fake_backend = {
    fake_resolve, run_result_name, run_result_complete, NULL,
};

static void result_file(const sweep_plan *p, size_t i, const char *json)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", p->results_dir, p->runs[i].name);
    write_text_file(path, json);
}

START_TEST(test_status)
{
    make_dir();
    char json[600];
    snprintf(json, sizeof json,
             "{\"name\": \"st\", \"results\": \"%s/res\", \"tasks\": [\"t\"], "
             "\"strategies\": [\"none\"], \"seeds\": [0, 1, 2, 3, 4, 5, 6, 7]}",
             g_dir);
    cJSON *root = cJSON_Parse(json);
    sweep_options o;
    memset(&o, 0, sizeof o);
    o.backend = &fake_backend;
    sweep_plan p;
    db_err e = { "" };
    ck_assert_msg(sweep_plan_from_json(&p, root, "st.json", &o, &e) == 0, "%s",
                  e.msg);
    cJSON_Delete(root);
    ck_assert_uint_eq(p.n, 8);

    /* nothing there yet: all missing, and looking creates nothing */
    slurm_status st;
    ck_assert_int_eq(slurm_status_compute(&st, &p, 1, &e), 0);
    ck_assert_uint_eq(st.count[SLURM_MISSING], 8);
    char *m = slurm_status_missing(&st);
    ck_assert_str_eq(m, "0-7");
    free(m);
    slurm_status_free(&st);
    ck_assert_int_ne(access(p.results_dir, F_OK), 0);

    ck_assert_int_eq(db_mkdirs(p.results_dir, &e), 0);
    /* 0 done, 1 diverged, 2 running (lock held), 3 a failed result, 4 the
     * log says failed, 5 started and never finished, 6 interrupted, 7 a
     * result with status "interrupted" */
    result_file(&p, 0, "{\"status\": \"complete\", \"final\": {}}");
    result_file(&p, 1, "{\"status\": \"diverged\", \"final\": {}}");
    result_file(&p, 3, "{\"status\": \"failed\"}");
    result_file(&p, 7, "{\"status\": \"interrupted\"}");
    char lock[600];
    snprintf(lock, sizeof lock, "%s/%s.lock", p.results_dir, p.runs[2].name);
    int lfd = open(lock, O_RDWR | O_CREAT, 0644);
    ck_assert_int_ge(lfd, 0);
    ck_assert_int_eq(flock(lfd, LOCK_EX | LOCK_NB), 0);
    /* a stale lock file that nobody holds: not running */
    snprintf(lock, sizeof lock, "%s/%s.lock", p.results_dir, p.runs[6].name);
    write_text_file(lock, "123\n");
    char logp[600], log[4000];
    snprintf(logp, sizeof logp, "%s/sweep.log", p.results_dir);
    snprintf(log, sizeof log,
             "2026-01-01T00:00:00Z start %s host=n1 pid=1 slurm=9_1\n"
             "2026-01-01T00:00:01Z start %s host=n1 pid=2 slurm=9_2\n"
             "2026-01-01T00:00:02Z failed %s 0.5s data set mnist: missing\n"
             "2026-01-01T00:00:03Z start %s host=n2 pid=3 slurm=9_2\n"
             "2026-01-01T00:00:04Z start %s host=n1 pid=4 slurm=9_3\n"
             "2026-01-01T00:00:05Z interrupted %s 1.0s interrupted\n"
             "2026-01-01T00:00:06Z done other.json 1.0s\n"
             "torn\n"
             "2026-01-01T00:00:07Z fai",
             p.runs[2].name, p.runs[4].name, p.runs[4].name, p.runs[5].name,
             p.runs[6].name, p.runs[6].name);
    write_text_file(logp, log);

    ck_assert_msg(slurm_status_compute(&st, &p, 2, &e) == 0, "%s", e.msg);
    int want[8] = { SLURM_DONE, SLURM_DIVERGED, SLURM_RUNNING, SLURM_FAILED,
                    SLURM_FAILED, SLURM_MISSING, SLURM_MISSING, SLURM_MISSING };
    for (size_t i = 0; i < 8; i++) {
        ck_assert_msg(st.runs[i].state == want[i], "run %zu: %s, want %s", i,
                      slurm_state_name(st.runs[i].state),
                      slurm_state_name(want[i]));
        ck_assert_uint_eq(st.runs[i].index, i / 2);
    }
    ck_assert_msg(strstr(st.runs[2].note, "slurm=9_1"), "%s", st.runs[2].note);
    ck_assert_msg(strstr(st.runs[4].note, "data set mnist: missing"), "%s",
                  st.runs[4].note);
    ck_assert_msg(strstr(st.runs[5].note, "never finished"), "%s",
                  st.runs[5].note);
    ck_assert_msg(strstr(st.runs[6].note, "interrupted"), "%s", st.runs[6].note);
    ck_assert_msg(strstr(st.runs[7].note, "interrupted"), "%s", st.runs[7].note);
    ck_assert_uint_eq(st.count[SLURM_DONE], 1);
    ck_assert_uint_eq(st.count[SLURM_DIVERGED], 1);
    ck_assert_uint_eq(st.count[SLURM_RUNNING], 1);
    ck_assert_uint_eq(st.count[SLURM_FAILED], 2);
    ck_assert_uint_eq(st.count[SLURM_MISSING], 3);
    ck_assert_uint_eq(st.ntasks, 4);
    /* task 0: done+diverged; 1: running+failed; 2: failed+missing; 3 */
    m = slurm_status_missing(&st);
    ck_assert_str_eq(m, "1-3");
    free(m);
    slurm_status_free(&st);

    /* the lock freed: run 2 is missing (its log says it started) */
    close(lfd);
    ck_assert_int_eq(slurm_status_compute(&st, &p, 1, &e), 0);
    ck_assert_int_eq(st.runs[2].state, SLURM_MISSING);
    m = slurm_status_missing(&st);
    ck_assert_str_eq(m, "2-7");
    free(m);
    slurm_status_free(&st);
    sweep_plan_free(&p);
    remove_tree();
}
END_TEST

/* ---------------------------------------------------------------- command */

static void write_sweep(char *path, size_t n, const char *results)
{
    snprintf(path, n, "%s/cl.json", g_dir);
    char text[600];
    snprintf(text, sizeof text,
             "{\"name\": \"cl\", \"results\": \"%s\", \"tasks\": "
             "[\"mnist-mlp\"], \"strategies\": [\"none\", \"hinton\"], "
             "\"seeds\": [0, 1], \"epochs\": 1, \"limit_train\": 64}",
             results);
    write_text_file(path, text);
}

START_TEST(test_cmd_submit_and_status)
{
    make_dir();
    use_presets();
    char sweepf[400], results[400], data[400], fake[400], args[400],
        out[400], script[500];
    snprintf(results, sizeof results, "%s/results", g_dir);
    snprintf(data, sizeof data, "%s/data", g_dir);
    mkdir(data, 0755);
    write_sweep(sweepf, sizeof sweepf, results);
    snprintf(fake, sizeof fake, "%s/fake-sbatch", g_dir);
    snprintf(args, sizeof args, "%s/sbatch-args", g_dir);
    snprintf(out, sizeof out, "%s/out", g_dir);
    char text[600];
    snprintf(text, sizeof text,
             "#!/bin/sh\nprintf '%%s\\n' \"$@\" >> '%s'\necho '4242;cluster'\n",
             args);
    write_text_file(fake, text);
    chmod(fake, 0755);
    setenv("DROPBENCH_SBATCH", fake, 1);

    /* not ours: a local sweep */
    char *local[] = { "sweep", sweepf, "--jobs", "2", NULL };
    ck_assert_int_eq(run_cmd(local, out), 99);
    /* sbatch options without --slurm, and conflicting modes */
    char *lone[] = { "sweep", sweepf, "--partition", "p", NULL };
    ck_assert_int_eq(run_cmd(lone, out), 2);
    char *both[] = { "sweep", sweepf, "--slurm", "--status", NULL };
    ck_assert_int_eq(run_cmd(both, out), 2);
    char *badtime[] = { "sweep", sweepf, "--slurm", "--time", "1 day", NULL };
    ck_assert_int_eq(run_cmd(badtime, out), 2);

    /* 4 runs, 3 per task: indices 0-1 */
    char *sub[] = { "sweep", sweepf, "--slurm", "--runs-per-task", "3",
                    "--partition", "p1", "--data", data, "--max-parallel",
                    "1", "--sbatch-arg=--mem=1G", NULL };
    ck_assert_int_eq(run_cmd(sub, out), 0);
    char *o = slurp(out);
    ck_assert_msg(strstr(o, "submitted job 4242"), "%s", o);
    free(o);
    snprintf(script, sizeof script, "%s/slurm/cl.sbatch", results);
    char *sc = slurp(script);
    ck_assert_ptr_nonnull(sc);
    ck_assert_msg(strstr(sc, "\n#SBATCH --array=0-1%1\n"), "%s", sc);
    ck_assert(strstr(sc, "\n#SBATCH --partition=p1\n"));
    ck_assert(strstr(sc, "\n#SBATCH --mem=1G\n"));
    ck_assert(strstr(sc, "--runs-per-task 3"));
    ck_assert(strstr(sc, "--data '"));
    free(sc);
    char *a = slurp(args);
    char want[600];
    snprintf(want, sizeof want, "--parsable\n%s\n", script);
    ck_assert_str_eq(a, want);
    free(a);

    /* --no-submit writes the script only */
    unlink(args);
    char *nosub[] = { "sweep", sweepf, "--slurm", "--no-submit", "--array",
                      "1", NULL };
    ck_assert_int_eq(run_cmd(nosub, out), 0);
    ck_assert_int_ne(access(args, F_OK), 0);
    sc = slurp(script);
    ck_assert(strstr(sc, "\n#SBATCH --array=1\n"));
    ck_assert(strstr(sc, "--runs-per-task 1"));
    free(sc);

    /* status: nothing done (exit 1), indices from the last script's R=1 */
    char *status[] = { "sweep", sweepf, "--status", NULL };
    ck_assert_int_eq(run_cmd(status, out), 1);
    o = slurp(out);
    ck_assert_msg(strstr(o, "missing 4"), "%s", o);
    ck_assert(strstr(o, "indices with runs to do: 0-3"));
    free(o);
    char *miss[] = { "sweep", sweepf, "--missing-indices", "--runs-per-task",
                     "3", NULL };
    ck_assert_int_eq(run_cmd(miss, out), 1);
    o = slurp(out);
    ck_assert_str_eq(o, "0-1\n");
    free(o);

    /* --index refuses a sweep that changed since submission, and an index
     * beyond the array; neither runs anything */
    char *changed[] = { "sweep", sweepf, "--index", "0", "--plan-hash",
                        "0000000000000000", "--data", data, NULL };
    ck_assert_int_eq(run_cmd(changed, out), 1); /* the sweep changed: input */
    char *beyond[] = { "sweep", sweepf, "--index", "4", "--data", data, NULL };
    ck_assert_int_eq(run_cmd(beyond, out), 2);
    char logp[500];
    snprintf(logp, sizeof logp, "%s/sweep.log", results);
    ck_assert_int_ne(access(logp, F_OK), 0);

    /* all complete: nothing to submit */
    sweep_options so;
    memset(&so, 0, sizeof so);
    sweep_plan p;
    db_err e = { "" };
    ck_assert_msg(sweep_plan_load(&p, sweepf, &so, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < p.n; i++)
        result_file(&p, i, "{\"status\": \"complete\", \"final\": {}}");
    sweep_plan_free(&p);
    unlink(args);
    ck_assert_int_eq(run_cmd(sub, out), 0);
    o = slurp(out);
    ck_assert_msg(strstr(o, "nothing to submit"), "%s", o);
    free(o);
    ck_assert_int_ne(access(args, F_OK), 0);
    ck_assert_int_eq(run_cmd(status, out), 0);
    ck_assert_int_eq(run_cmd(miss, out), 0);
    o = slurp(out);
    ck_assert_str_eq(o, "\n");
    free(o);
    unsetenv("DROPBENCH_SBATCH");
    remove_tree();
}
END_TEST

/* One array task for real, on generated data, in a fake Slurm environment:
 * it runs exactly its runs, logs them, and each result records the ids. */
START_TEST(test_cmd_index_real)
{
    make_dir();
    use_presets();
    char sweepf[400], results[400], data[400], out[400];
    snprintf(results, sizeof results, "%s/results", g_dir);
    snprintf(data, sizeof data, "%s/data", g_dir);
    snprintf(out, sizeof out, "%s/out", g_dir);
    ck_assert_int_eq(gen_idx_set(data, "mnist", 128, 64, 0, 5), 0);
    write_sweep(sweepf, sizeof sweepf, results);
    sweep_options so;
    memset(&so, 0, sizeof so);
    so.data_root = data;
    sweep_plan p;
    db_err e = { "" };
    ck_assert_msg(sweep_plan_load(&p, sweepf, &so, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(p.n, 4);
    char hash[17];
    slurm_plan_hash(hash, &p);

    setenv("SLURM_JOB_ID", "78", 1);
    setenv("SLURM_ARRAY_JOB_ID", "77", 1);
    setenv("SLURM_ARRAY_TASK_ID", "1", 1);
    setenv("SLURMD_NODENAME", "node7", 1);
    setenv("SLURM_CPUS_PER_TASK", "2", 1);
    char *idx[] = { "sweep", sweepf, "--index", "1", "--runs-per-task", "2",
                    "--plan-hash", hash, "--data", data, "--quiet", NULL };
    ck_assert_int_eq(run_cmd(idx, out), 0);
    /* again: skipped, nothing new in the log */
    ck_assert_int_eq(run_cmd(idx, out), 0);
    unsetenv("SLURM_JOB_ID");
    unsetenv("SLURM_ARRAY_JOB_ID");
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("SLURMD_NODENAME");
    unsetenv("SLURM_CPUS_PER_TASK");

    char logp[500];
    snprintf(logp, sizeof logp, "%s/sweep.log", results);
    char *log = slurp(logp);
    ck_assert_ptr_nonnull(log);
    ck_assert_int_eq(count_lines_with(log, " start "), 2);
    ck_assert_int_eq(count_lines_with(log, " done "), 2);
    ck_assert_int_eq(count_lines_with(log, "slurm=77_1"), 2);
    for (size_t i = 0; i < p.n; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", results, p.runs[i].name);
        int mine = i >= 2;
        ck_assert_int_eq(run_result_complete(path), mine);
        ck_assert(!strstr(log, p.runs[i].name) == !mine);
        if (!mine)
            continue;
        cJSON *j = NULL;
        ck_assert_int_eq(db_json_load(&j, path, &e), 0);
        const cJSON *env = cJSON_GetObjectItemCaseSensitive(j, "environment");
        const char *keys[][2] = { { "slurm_job_id", "78" },
                                  { "slurm_array_job_id", "77" },
                                  { "slurm_array_task_id", "1" },
                                  { "slurm_node", "node7" } };
        for (size_t k = 0; k < 4; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(env, keys[k][0]);
            ck_assert_msg(cJSON_IsString(v) && strcmp(v->valuestring,
                                                      keys[k][1]) == 0,
                          "%s", keys[k][0]);
        }
        cJSON_Delete(j);
    }
    free(log);

    /* the status sees two done, two missing, in index 0 */
    char *miss[] = { "sweep", sweepf, "--missing-indices", "--runs-per-task",
                     "2", "--data", data, NULL };
    ck_assert_int_eq(run_cmd(miss, out), 1);
    char *o = slurp(out);
    ck_assert_str_eq(o, "0\n");
    free(o);
    sweep_plan_free(&p);
    remove_tree();
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("slurm");
    TCase *tc = tcase_create("unit");
    tcase_add_test(tc, test_index_list);
    tcase_add_test(tc, test_task_runs);
    tcase_add_test(tc, test_job_label);
    tcase_add_test(tc, test_script_text);
    tcase_add_test(tc, test_script_rejects);
    tcase_add_test(tc, test_script_runs);
    tcase_add_test(tc, test_status);
    suite_add_tcase(s, tc);
    TCase *cmd = tcase_create("command");
    tcase_set_timeout(cmd, 60);
    tcase_add_test(cmd, test_cmd_submit_and_status);
    tcase_add_test(cmd, test_cmd_index_real);
    suite_add_tcase(s, cmd);
    return s;
}

DB_TEST_MAIN()
