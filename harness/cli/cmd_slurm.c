/* cmd_slurm.c - `dropbench sweep --slurm | --index I | --status`: a sweep
 * as a Slurm job array (sweep/slurm.h): writing and submitting the job
 * script, running one array index's runs (sweep/exec.h), and the status
 * from the shared results directory. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "sweep/exec.h"
#include "sweep/plan.h"
#include "sweep/slurm.h"
#include "train/run.h"
#include "util/fs.h"

void slurm_usage(FILE *f)
{
    fputs("On a Slurm cluster (the results directory must be shared):\n"
          "  --slurm             submit the sweep as a job array "
          "(`sbatch`), one index per run\n"
          "    --partition P --time T --cpus-per-task C --max-parallel K\n"
          "    --runs-per-task R   R runs per array index (default 1)\n"
          "    --sbatch-arg ARG    an extra sbatch option, e.g. --mem=4G "
          "(repeatable)\n"
          "    --array LIST        indices to submit (default: those with "
          "runs to do)\n"
          "    --no-submit         only write <results>/slurm/<name>.sbatch\n"
          "  --index I           run array index I's runs (what each array "
          "task does)\n"
          "  --status            (see above) counts array indices once the sweep "
          "was submitted\n"
          "    --missing-indices   print the indices to resubmit, e.g. 1-3,7\n",
          f);
}

enum {
    O_SLURM = 1000, O_PARTITION, O_TIME, O_MAXPAR, O_CPUS, O_SBATCH_ARG,
    O_RPT, O_NOSUBMIT, O_INDEX, O_STATUS, O_MISSING, O_ARRAY, O_PLANHASH,
};

typedef struct slurm_cli {
    int mode;                /* O_SLURM, O_INDEX, O_STATUS, or 0 */
    int slurm_only;          /* an option that needs a mode was given */
    int bad;                 /* a usage error was printed */
    sweep_options o;
    const char **filters;
    const char **sbatch_args;
    size_t nsbatch_args;
    const char *partition, *time_limit, *array, *plan_hash;
    int max_parallel, cpus, no_submit, missing_only, dry;
    long runs_per_task;      /* 0: default */
    long index;
    const char *sweep_file;
} slurm_cli;

static int set_mode(slurm_cli *c, int mode)
{
    if (c->mode && c->mode != mode) {
        fprintf(stderr, "dropbench sweep: --slurm, --index and --status "
                        "exclude each other\n");
        c->bad = 1;
        return -1;
    }
    c->mode = mode;
    return 0;
}

/* Every option of `dropbench sweep`, the Slurm modes' included. */
const struct option sweep_all_options[] = {
    CLI_SWEEP_OPTIONS,
    { "slurm", no_argument, NULL, O_SLURM },
    { "partition", required_argument, NULL, O_PARTITION },
    { "time", required_argument, NULL, O_TIME },
    { "max-parallel", required_argument, NULL, O_MAXPAR },
    { "cpus-per-task", required_argument, NULL, O_CPUS },
    { "sbatch-arg", required_argument, NULL, O_SBATCH_ARG },
    { "runs-per-task", required_argument, NULL, O_RPT },
    { "no-submit", no_argument, NULL, O_NOSUBMIT },
    { "index", required_argument, NULL, O_INDEX },
    { "status", no_argument, NULL, O_STATUS },
    { "missing-indices", no_argument, NULL, O_MISSING },
    { "array", required_argument, NULL, O_ARRAY },
    { "plan-hash", required_argument, NULL, O_PLANHASH },
    { NULL, 0, NULL, 0 },
};

static void cli_parse(slurm_cli *c, int argc, char **argv, int report)
{
    const struct option *opts = sweep_all_options;
    optind = 0; /* a full rescan: cmd_sweep parses argv again */
    int ch;
    long v;
    while ((ch = cli_getopt(argc, argv, "j:t:nf:r:d:qh", opts, "sweep", report)) != -1) {
        const char *bad = NULL;
        switch (ch) {
        case 'j':
            if (cli_long(optarg, 1, 4096, &v) == 0)
                c->o.jobs = (int)v;
            else
                bad = "--jobs: expected an integer in [1, 4096]";
            break;
        case 't':
            if (cli_long(optarg, 1, 4096, &v) == 0)
                c->o.threads = (int)v;
            else
                bad = "--threads: expected an integer in [1, 4096]";
            break;
        case 'n': c->dry = 1; break;
        case 'f': c->filters[c->o.nfilters++] = optarg; break;
        case 'r': c->o.results_dir = optarg; break;
        case 'd': c->o.data_root = optarg; break;
        case 'q': c->o.progress = NULL; break;
        case 'U': setenv("DROPBENCH_ALLOW_UNVERIFIED", "1", 1); break;
        case 'h': c->bad = 2; break; /* cmd_sweep prints the help */
        case O_SLURM: set_mode(c, O_SLURM); break;
        case O_INDEX:
            set_mode(c, O_INDEX);
            if (cli_long(optarg, 0, 100000000, &c->index) != 0)
                bad = "--index: expected an array index >= 0";
            break;
        case O_STATUS: set_mode(c, O_STATUS); break;
        case O_MISSING:
            set_mode(c, O_STATUS);
            c->missing_only = 1;
            break;
        case O_PARTITION: c->partition = optarg; c->slurm_only = 1; break;
        case O_TIME: c->time_limit = optarg; c->slurm_only = 1; break;
        case O_ARRAY: c->array = optarg; c->slurm_only = 1; break;
        case O_PLANHASH: c->plan_hash = optarg; c->slurm_only = 1; break;
        case O_NOSUBMIT: c->no_submit = 1; c->slurm_only = 1; break;
        case O_SBATCH_ARG:
            c->sbatch_args[c->nsbatch_args++] = optarg;
            c->slurm_only = 1;
            break;
        case O_MAXPAR:
            c->slurm_only = 1;
            if (cli_long(optarg, 1, 1000000, &v) == 0)
                c->max_parallel = (int)v;
            else
                bad = "--max-parallel: expected an integer >= 1";
            break;
        case O_CPUS:
            c->slurm_only = 1;
            if (cli_long(optarg, 1, 4096, &v) == 0)
                c->cpus = (int)v;
            else
                bad = "--cpus-per-task: expected an integer >= 1";
            break;
        case O_RPT:
            c->slurm_only = 1;
            if (cli_long(optarg, 1, 1000000, &c->runs_per_task) != 0)
                bad = "--runs-per-task: expected an integer >= 1";
            break;
        default:
            if (c->bad == 0)
                c->bad = 1; /* getopt said why (when reporting) */
            break;
        }
        if (bad && report) {
            fprintf(stderr, "dropbench sweep: %s\n", bad);
            c->bad = 1;
        } else if (bad && c->bad == 0) {
            c->bad = 1;
        }
    }
    if (optind == argc - 1)
        c->sweep_file = argv[optind];
    else if (c->bad == 0)
        c->bad = 3;
}

/* An absolute version of path (which must exist). */
static int absolute(char *out, const char *path, const char *what, db_err *e)
{
    char buf[PATH_MAX];
    if (!realpath(path, buf))
        return db_fail(e, "%s %s: %s", what, path, strerror(errno));
    if (strlen(buf) >= 4096)
        return db_fail(e, "%s %s: path too long", what, path);
    snprintf(out, 4096, "%s", buf);
    return 0;
}

/* R and the plan hash recorded in the last script, when there is one. */
static void last_submission(const sweep_plan *plan, long *rpt, char hash[17])
{
    char path[4200], line[512];
    snprintf(path, sizeof path, "%s/slurm/%s.sbatch", plan->results_dir,
             plan->name);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    for (int i = 0; i < 20 && fgets(line, sizeof line, f); i++) {
        long v;
        char h[32];
        if (sscanf(line, "# dropbench-runs-per-task: %ld", &v) == 1 && v >= 1)
            *rpt = v;
        if (sscanf(line, "# dropbench-plan-hash: %16s", h) == 1)
            snprintf(hash, 17, "%s", h);
    }
    fclose(f);
}

/* Runs `sbatch --parsable SCRIPT` ($DROPBENCH_SBATCH instead of sbatch);
 * the job id into jobid. */
static int submit(const char *script, char *jobid, size_t n, db_err *e)
{
    const char *sbatch = getenv("DROPBENCH_SBATCH");
    if (!sbatch || !*sbatch)
        sbatch = "sbatch";
    int pfd[2];
    if (pipe(pfd) != 0)
        return db_fail(e, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return db_fail(e, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execlp(sbatch, sbatch, "--parsable", script, (char *)NULL);
        fprintf(stderr, "dropbench sweep: %s: %s\n", sbatch, strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    char out[256];
    size_t len = 0;
    for (;;) {
        ssize_t got = read(pfd[0], out + len, sizeof out - 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        len += (size_t)got;
        if (len == sizeof out - 1)
            break;
    }
    out[len] = '\0';
    close(pfd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return db_fail(e, "%s --parsable %s failed (exit %d; its message is "
                          "above)", sbatch, script,
                       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    size_t idl = strspn(out, "0123456789");
    if (idl == 0 || idl >= n)
        return db_fail(e, "%s printed no job id (\"%.60s\")", sbatch, out);
    memcpy(jobid, out, idl);
    jobid[idl] = '\0';
    return 0;
}

static int cmd_status(slurm_cli *c, const sweep_plan *plan)
{
    long rpt = 1;
    char hash[17] = "", now[17];
    last_submission(plan, &rpt, hash);
    if (c->runs_per_task > 0)
        rpt = c->runs_per_task;
    slurm_plan_hash(now, plan);
    db_err e = { "" };
    slurm_status st;
    if (slurm_status_compute(&st, plan, (size_t)rpt, &e) != 0) {
        fprintf(stderr, "dropbench sweep: %s\n", e.msg);
        return 1;
    }
    char *missing = slurm_status_missing(&st);
    if (!missing) {
        slurm_status_free(&st);
        fprintf(stderr, "dropbench sweep: out of memory\n");
        return 1;
    }
    int rc = st.count[SLURM_DONE] + st.count[SLURM_DIVERGED] == st.n ? 0 : 1;
    if (c->missing_only) {
        printf("%s\n", missing);
        free(missing);
        slurm_status_free(&st);
        return rc;
    }
    /* a sweep never submitted to Slurm (no job script) is spoken of in
     * runs; one submitted, in array indices (--slurm, --index) */
    int slurm = hash[0] != '\0';
    if (slurm)
        printf("sweep %s: %zu runs in %zu array task(s) of %ld -> %s\n",
               plan->name, plan->n, st.ntasks, rpt, plan->results_dir);
    else
        printf("sweep %s: %zu runs -> %s\n", plan->name, plan->n, plan->results_dir);
    if (hash[0] && strcmp(hash, now) != 0)
        printf("note: the sweep's runs differ from the last submission "
               "(%s/slurm/%s.sbatch);\n      indices here are those of the "
               "sweep as it expands now\n", plan->results_dir, plan->name);
    printf("  done %zu, diverged %zu, running %zu, failed %zu, missing %zu\n",
           st.count[SLURM_DONE], st.count[SLURM_DIVERGED],
           st.count[SLURM_RUNNING], st.count[SLURM_FAILED],
           st.count[SLURM_MISSING]);
    int any = 0;
    for (size_t i = 0; i < st.n && c->o.progress; i++) {
        const slurm_run_state *rs = &st.runs[i];
        if (rs->state == SLURM_DONE)
            continue;
        if (!any++)
            printf("  %5s  %-8s  %s\n", slurm ? "index" : "run", "state", "run");
        char label[512];
        sweep_run_label(label, sizeof label, &plan->runs[i]);
        printf("  %5zu  %-8s  %s%s%s\n", slurm ? rs->index : i,
               slurm_state_name(rs->state), label, rs->note[0] ? ": " : "",
               rs->note);
    }
    size_t todo = st.n - st.count[SLURM_DONE] - st.count[SLURM_DIVERGED] -
                  st.count[SLURM_RUNNING];
    if (missing[0] && slurm)
        printf("indices with runs to do: %s\n"
               "  resubmit them with: dropbench sweep %s --slurm [options]\n",
               missing, c->sweep_file);
    else if (todo)
        printf("runs to do: %zu\n  run them with: dropbench sweep %s [options]\n", todo,
               c->sweep_file);
    free(missing);
    slurm_status_free(&st);
    return rc;
}

/* The most BLAS threads any of the n runs asks for (at least 1). */
static int runs_max_threads(const sweep_run *runs, size_t n)
{
    int threads = 1;
    for (size_t i = 0; i < n; i++)
        if (runs[i].threads > threads)
            threads = runs[i].threads;
    return threads;
}

static int cmd_index(slurm_cli *c, const sweep_plan *plan)
{
    db_err e = { "" };
    char hash[17];
    slurm_plan_hash(hash, plan);
    if (c->plan_hash && strcmp(c->plan_hash, hash) != 0) {
        fprintf(stderr, "dropbench sweep: %s no longer expands to the runs "
                        "that were submitted (plan %s, submitted %s): the "
                        "sweep file, a preset or dropbench changed; submit "
                        "again\n", c->sweep_file, hash, c->plan_hash);
        return 1;
    }
    size_t rpt = c->runs_per_task > 0 ? (size_t)c->runs_per_task : 1;
    size_t first = 0, count = 0;
    if (slurm_task_runs((size_t)c->index, rpt, plan->n, &first, &count, &e)) {
        fprintf(stderr, "dropbench sweep: --index: %s\n", e.msg);
        return 2; /* the command line's value */
    }
    /* a view of this task's runs; owned by plan */
    sweep_plan sub = *plan;
    sub.runs = plan->runs + first;
    sub.n = sub.cap = count;
    sweep_options o = c->o;
    if (o.jobs <= 0) {
        /* the CPUs Slurm gave this task, not the node's */
        int threads = runs_max_threads(sub.runs, count);
        const char *cpt = getenv("SLURM_CPUS_PER_TASK");
        long cpus;
        if (!cpt || cli_long(cpt, 1, 4096, &cpus) != 0)
            cpus = threads;
        o.jobs = (int)(cpus / threads < 1 ? 1 : cpus / threads);
        if ((size_t)o.jobs > count)
            o.jobs = (int)count;
    }
    char log_path[4200];
    snprintf(log_path, sizeof log_path, "%s/sweep.log", plan->results_dir);
    o.log_path = log_path;
    char job[96];
    slurm_job_label(job, sizeof job);
    o.job_label = job;
    if (o.progress)
        fprintf(o.progress, "dropbench sweep %s: index %ld = runs %zu-%zu of "
                            "%zu (slurm job %s)\n",
                plan->name, c->index, first, first + count - 1, plan->n, job);
    return cli_sweep_execute(&sub, &o);
}

/* The array indices to submit into *array (--array, or those with runs
 * missing or failed).  0: go on; 1: nothing to submit (said so), return 0;
 * -1: an error (said so), return 1. */
static int submit_indices(const slurm_cli *c, const sweep_plan *plan, size_t rpt,
                          char **array)
{
    db_err e = { "" };
    if (c->array) {
        *array = strdup(c->array);
    } else {
        slurm_status st;
        if (slurm_status_compute(&st, plan, rpt, &e) != 0) {
            fprintf(stderr, "dropbench sweep: %s\n", e.msg);
            return -1;
        }
        *array = slurm_status_missing(&st);
        size_t todo = st.count[SLURM_MISSING] + st.count[SLURM_FAILED];
        size_t running = st.count[SLURM_RUNNING];
        slurm_status_free(&st);
        if (*array && !(*array)[0]) {
            printf("sweep %s: nothing to submit: of %zu runs none is missing "
                   "or failed (%zu running)\n", plan->name, plan->n, running);
            free(*array);
            *array = NULL;
            return 1;
        }
        if (*array && c->o.progress)
            fprintf(c->o.progress, "sweep %s: %zu of %zu runs to do\n",
                    plan->name, todo, plan->n);
    }
    if (!*array) {
        fprintf(stderr, "dropbench sweep: out of memory\n");
        return -1;
    }
    return 0;
}

/* Everything the script names, absolute. */
typedef struct submit_paths {
    char self[4096], sweepf[4096], cwd[4096], results[4096], data[4096],
        configs[4096], slurmdir[4200], script[4300];
    const char *data_root;   /* NULL: none given */
    int have_configs;
} submit_paths;

/* The config search path (run.h db_config_path), folder by folder made
 * absolute, for the array tasks' DROPBENCH_CONFIGS, into p->configs. */
static int submit_configs(submit_paths *p)
{
    const char *cdirs[64];
    size_t ncd = db_config_path(cdirs, 64), cused = 0;
    p->configs[0] = '\0';
    for (size_t i = 0; i < ncd; i++) {
        char one[4096];
        if (absolute(one, cdirs[i], "configs", NULL) != 0)
            continue;
        if (cused + strlen(one) + 2 > sizeof p->configs) {
            fprintf(stderr, "dropbench sweep: DROPBENCH_CONFIGS: longer than %zu "
                            "characters once made absolute\n", sizeof p->configs - 1);
            return -1;
        }
        cused += (size_t)snprintf(p->configs + cused, sizeof p->configs - cused,
                                  "%s%s", cused ? ":" : "", one);
    }
    p->have_configs = cused > 0;
    return 0;
}

/* Fills p (and makes <results>/slurm/); -1 once an error is printed. */
static int submit_resolve_paths(submit_paths *p, const slurm_cli *c,
                                const sweep_plan *plan)
{
    db_err e = { "" };
    ssize_t sl = readlink("/proc/self/exe", p->self, sizeof p->self - 1);
    if (sl <= 0) {
        fprintf(stderr, "dropbench sweep: cannot find the dropbench binary "
                        "(/proc/self/exe)\n");
        return -1;
    }
    p->self[sl] = '\0';
    snprintf(p->slurmdir, sizeof p->slurmdir, "%s/slurm", plan->results_dir);
    p->data_root = c->o.data_root;
    if (!p->data_root && getenv("DROPBENCH_DATA") && *getenv("DROPBENCH_DATA"))
        p->data_root = getenv("DROPBENCH_DATA");
    if (!getcwd(p->cwd, sizeof p->cwd)) {
        fprintf(stderr, "dropbench sweep: getcwd: %s\n", strerror(errno));
        return -1;
    }
    if (absolute(p->sweepf, c->sweep_file, "sweep file", &e) ||
        db_mkdirs(p->slurmdir, &e) ||
        absolute(p->results, plan->results_dir, "results directory", &e) ||
        (p->data_root && absolute(p->data, p->data_root, "data directory", &e))) {
        fprintf(stderr, "dropbench sweep: %s\n", e.msg);
        return -1;
    }
    return submit_configs(p);
}

/* The options each array task's `--index` passes on, into pass (room for
 * 2 * 64 + 5); nbuf holds their numbers.  The count, or -1 (too many
 * --filter, said so: a usage error). */
static long submit_index_args(const slurm_cli *c, const char **pass, char nbuf[2][32])
{
    size_t np = 0;
    for (size_t i = 0; i < c->o.nfilters && np < 2 * 64; i++) {
        pass[np++] = "--filter";
        pass[np++] = c->filters[i];
    }
    if (c->o.nfilters > 64) {
        fprintf(stderr, "dropbench sweep: --filter: at most 64 with --slurm\n");
        return -1;
    }
    const char *unv = getenv("DROPBENCH_ALLOW_UNVERIFIED");
    if (unv && *unv && strcmp(unv, "0") != 0)   /* the array tasks' run ids */
        pass[np++] = "--allow-unverified";
    if (c->o.threads > 0) {
        snprintf(nbuf[0], 32, "%d", c->o.threads);
        pass[np++] = "--threads";
        pass[np++] = nbuf[0];
    }
    if (c->o.jobs > 0) {
        snprintf(nbuf[1], 32, "%d", c->o.jobs);
        pass[np++] = "--jobs";
        pass[np++] = nbuf[1];
    }
    return (long)np;
}

/* Writes the job script s to p->script; 0, or the exit status once an
 * error is printed. */
static int submit_write_script(submit_paths *p, const slurm_script *s,
                               const char *name)
{
    db_err e = { "" };
    char *text = NULL;
    snprintf(p->script, sizeof p->script, "%s/slurm/%s.sbatch", p->results, name);
    if (slurm_script_text(&text, s, &e) != 0) {
        /* a bad option value (--time, --array, ...: the message names it)
         * is a usage error; a path it cannot write into the script, input */
        fprintf(stderr, "dropbench sweep: %s\n", e.msg);
        free(text);
        return strncmp(e.msg, "--", 2) == 0 ? 2 : 1;
    }
    int rc = 0;
    if (db_write_atomic(p->script, text, strlen(text), &e) != 0) {
        fprintf(stderr, "dropbench sweep: %s\n", e.msg);
        rc = 1;
    } else {
        chmod(p->script, 0755);
    }
    free(text);
    return rc;
}

/* sbatch the written script (unless --no-submit) and say what to do next. */
static int submit_script(const slurm_cli *c, const submit_paths *p)
{
    db_err e = { "" };
    if (c->no_submit) {
        printf("not submitted (--no-submit): sbatch %s\n", p->script);
        return 0;
    }
    char jobid[64];
    if (submit(p->script, jobid, sizeof jobid, &e) != 0) {
        fprintf(stderr, "dropbench sweep: %s\n", e.msg);
        return 1;
    }
    printf("submitted job %s; Slurm logs: %s/slurm/%s_*.out\n", jobid, p->results,
           jobid);
    printf("progress: dropbench sweep %s --status%s\n", c->sweep_file,
           c->o.nfilters || c->o.threads > 0
               ? " (with the same --filter/--threads)"
               : "");
    return 0;
}

static int cmd_submit(slurm_cli *c, const sweep_plan *plan)
{
    size_t rpt = c->runs_per_task > 0 ? (size_t)c->runs_per_task : 1;
    size_t ntasks = slurm_ntasks(plan->n, rpt);
    if (plan->n == 0) {
        printf("sweep %s: no runs to submit\n", plan->name);
        return 0;
    }
    char *array = NULL;
    int got = submit_indices(c, plan, rpt, &array);
    if (got != 0)
        return got > 0 ? 0 : 1;

    submit_paths paths, *p = &paths;
    int rc = 1;
    char hash[17];
    if (submit_resolve_paths(p, c, plan) != 0)
        goto out;
    slurm_plan_hash(hash, plan);
    int threads = runs_max_threads(plan->runs, plan->n);
    const char *pass[2 * 64 + 5];
    char nbuf[2][32];
    long np = submit_index_args(c, pass, nbuf);
    if (np < 0) {
        rc = 2;
        goto out;
    }
    slurm_script s = {
        .sweep_name = plan->name,
        .dropbench = p->self,
        .sweep_file = p->sweepf,
        .chdir = p->cwd,
        .results_dir = p->results,
        .data_root = p->data_root ? p->data : NULL,
        .config_dir = p->have_configs ? p->configs : NULL,
        .partition = c->partition,
        .time_limit = c->time_limit,
        .array = array,
        .max_parallel = c->max_parallel,
        .cpus_per_task = c->cpus > 0 ? c->cpus : threads,
        .runs_per_task = rpt,
        .nruns = plan->n,
        .plan_hash = hash,
        .sbatch_args = c->sbatch_args,
        .nsbatch_args = c->nsbatch_args,
        .index_args = pass,
        .nindex_args = (size_t)np,
    };
    rc = submit_write_script(p, &s, plan->name);
    if (rc != 0)
        goto out;
    printf("sweep %s: %zu runs in %zu array task(s) of %zu; submitting "
           "indices %s\n", plan->name, plan->n, ntasks, rpt, array);
    printf("job script: %s\n", p->script);
    rc = submit_script(c, p);
out:
    free(array);
    return rc;
}

int slurm_cmd_sweep(int argc, char **argv)
{
    slurm_cli c;
    memset(&c, 0, sizeof c);
    c.o.progress = stderr;
    c.filters = calloc((size_t)argc + 1, sizeof *c.filters);
    c.sbatch_args = calloc((size_t)argc + 1, sizeof *c.sbatch_args);
    if (!c.filters || !c.sbatch_args) {
        free(c.filters);
        free(c.sbatch_args);
        return 1;
    }
    /* first quietly: is this ours at all? */
    cli_parse(&c, argc, argv, 0);
    int rc = -1;
    if (c.bad == 2 || (!c.mode && !c.slurm_only))
        goto out; /* --help, or a local sweep: cmd_sweep's */
    if (!c.mode) {
        fprintf(stderr, "dropbench sweep: --partition, --time, --max-parallel, "
                        "--cpus-per-task, --sbatch-arg, --runs-per-task, "
                        "--array, --no-submit and --plan-hash go with "
                        "--slurm (or --index, --status)\n");
        rc = 2;
        goto out;
    }
    int mode = c.mode;
    free(c.filters);        /* the quiet pass's arrays */
    free(c.sbatch_args);
    memset(&c, 0, sizeof c);
    c.o.progress = stderr;
    c.filters = calloc((size_t)argc + 1, sizeof *c.filters);
    c.sbatch_args = calloc((size_t)argc + 1, sizeof *c.sbatch_args);
    if (!c.filters || !c.sbatch_args) {
        rc = 1;
        goto out;
    }
    cli_parse(&c, argc, argv, 1);
    rc = 2;
    if (c.bad == 3) {
        fprintf(stderr, "dropbench sweep: give one sweep file (`dropbench sweep --help`)\n");
        goto out;
    }
    if (c.bad)
        goto out;
    if (c.dry) {
        fprintf(stderr, "dropbench sweep: --dry-run does not go with --slurm, "
                        "--index or --status (see --no-submit)\n");
        goto out;
    }
    if (mode != O_SLURM && (c.partition || c.time_limit || c.array ||
                            c.no_submit || c.nsbatch_args || c.max_parallel ||
                            c.cpus)) {
        fprintf(stderr, "dropbench sweep: sbatch options go with --slurm\n");
        goto out;
    }
    c.o.filters = c.filters;
    db_err e = { "" };
    sweep_plan plan;
    if (sweep_plan_load(&plan, c.sweep_file, &c.o, &e) != 0) {
        fprintf(stderr, "dropbench sweep: %s\n", e.msg);
        rc = 1; /* the sweep file: an input error */
        goto out;
    }
    if (sweep_plan_filter(&plan, c.o.filters, c.o.nfilters, &e) != 0) {
        fprintf(stderr, "dropbench sweep: %s\n", e.msg);
        sweep_plan_free(&plan);
        goto out;
    }
    if (mode == O_STATUS)
        rc = cmd_status(&c, &plan);
    else if (mode == O_INDEX)
        rc = cmd_index(&c, &plan);
    else
        rc = cmd_submit(&c, &plan);
    sweep_plan_free(&plan);
out:
    free(c.filters);
    free(c.sbatch_args);
    return rc;
}
