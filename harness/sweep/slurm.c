/* slurm.c - job array scripts, submission, array tasks and status for
 * sweeps on a Slurm cluster.  See slurm.h. */
#include "sweep/slurm.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/jsonio.h"
#include "train/run.h"

/* ------------------------------------------------------------ small parts */

size_t slurm_ntasks(size_t nruns, size_t runs_per_task)
{
    if (runs_per_task < 1)
        runs_per_task = 1;
    return (nruns + runs_per_task - 1) / runs_per_task;
}

int slurm_task_runs(size_t index, size_t runs_per_task, size_t nruns,
                    size_t *first, size_t *count, db_err *e)
{
    if (runs_per_task < 1)
        return db_fail(e, "runs per task must be >= 1");
    size_t nt = slurm_ntasks(nruns, runs_per_task);
    if (index >= nt)
        return db_fail(e, "array index %zu is out of range: the sweep has %zu "
                          "run(s) in %zu task(s) of %zu", index, nruns, nt,
                       runs_per_task);
    *first = index * runs_per_task;
    *count = nruns - *first < runs_per_task ? nruns - *first : runs_per_task;
    return 0;
}

void slurm_plan_hash(char out[17], const sweep_plan *plan)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < plan->n; i++) {
        for (const char *p = plan->runs[i].name; *p; p++)
            h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
        h = (h ^ '\n') * 0x100000001b3ULL;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

char *slurm_index_list(const unsigned char *sel, size_t n)
{
    size_t cap = 64, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    buf[0] = '\0';
    for (size_t i = 0; i < n;) {
        if (!sel[i]) {
            i++;
            continue;
        }
        size_t j = i;
        while (j + 1 < n && sel[j + 1])
            j++;
        char part[64];
        int m = j > i ? snprintf(part, sizeof part, "%s%zu-%zu", len ? "," : "",
                                 i, j)
                      : snprintf(part, sizeof part, "%s%zu", len ? "," : "", i);
        if (len + (size_t)m + 1 > cap) {
            cap = 2 * cap + (size_t)m;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
        memcpy(buf + len, part, (size_t)m + 1);
        len += (size_t)m;
        i = j + 1;
    }
    return buf;
}

void slurm_job_label(char *buf, size_t n)
{
    const char *aj = getenv("SLURM_ARRAY_JOB_ID");
    const char *at = getenv("SLURM_ARRAY_TASK_ID");
    const char *j = getenv("SLURM_JOB_ID");
    if (aj && *aj && at && *at)
        snprintf(buf, n, "%s_%s", aj, at);
    else if (j && *j)
        snprintf(buf, n, "%s", j);
    else
        snprintf(buf, n, "-");
}

const char *slurm_state_name(int state)
{
    static const char *const name[SLURM_NSTATES] = {
        "missing", "done", "diverged", "running", "failed",
    };
    return state >= 0 && state < SLURM_NSTATES ? name[state] : "?";
}

/* ---------------------------------------------------------------- scripts */

/* A growing string; on out-of-memory it stays failed and text is freed. */
typedef struct sbuf {
    char *text;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (m < 0 || b->len + (size_t)m + 1 > b->cap) {
        size_t cap = 2 * b->cap + (size_t)(m > 0 ? m : 0) + 256;
        char *nt = m < 0 ? NULL : realloc(b->text, cap);
        if (!nt) {
            free(b->text);
            b->text = NULL;
            b->oom = 1;
            return;
        }
        b->text = nt;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->text + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)m;
}

/* A word for bash, single-quoted ('it'\''s'). */
static void sb_quote(sbuf *b, const char *s)
{
    sb_add(b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            sb_add(b, "'\\''");
        else
            sb_add(b, "%c", *p);
    }
    sb_add(b, "'");
}

static int has_space(const char *s)
{
    return strpbrk(s, " \t\r\n") != NULL;
}

static int check_path(const char *what, const char *p, db_err *e)
{
    if (!p || p[0] != '/')
        return db_fail(e, "%s must be an absolute path (got \"%s\")", what,
                       p ? p : "");
    if (strpbrk(p, "\r\n"))
        return db_fail(e, "%s: a newline in a path is not supported", what);
    return 0;
}

int slurm_script_text(char **out, const slurm_script *s, db_err *e)
{
    *out = NULL;
    if (check_path("the dropbench binary", s->dropbench, e) ||
        check_path("the sweep file", s->sweep_file, e) ||
        check_path("the working directory", s->chdir, e) ||
        check_path("the results directory", s->results_dir, e) ||
        (s->data_root && check_path("the data directory", s->data_root, e)) ||
        (s->config_dir && check_path("the config directory", s->config_dir, e)))
        return -1;
    /* #SBATCH lines are split on whitespace by sbatch: these go there */
    if (has_space(s->results_dir) || has_space(s->chdir))
        return db_fail(e, "%s: Slurm's #SBATCH lines cannot hold a path with "
                          "spaces", has_space(s->chdir) ? s->chdir
                                                         : s->results_dir);
    if (!s->sweep_name || !s->sweep_name[0] || has_space(s->sweep_name))
        return db_fail(e, "the sweep name must be a word");
    if (s->partition && (!s->partition[0] || has_space(s->partition)))
        return db_fail(e, "--partition: \"%s\" is not a partition name",
                       s->partition);
    if (s->time_limit && (!s->time_limit[0] || has_space(s->time_limit)))
        return db_fail(e, "--time: \"%s\" is not a Slurm time (e.g. 2:00:00 "
                          "or 1-12)", s->time_limit);
    if (!s->array || !s->array[0] ||
        strspn(s->array, "0123456789,-") != strlen(s->array))
        return db_fail(e, "--array: \"%s\" is not an index list like 0-7 or "
                          "1-3,7", s->array ? s->array : "");
    if (s->cpus_per_task < 1 || s->runs_per_task < 1 || s->max_parallel < 0)
        return db_fail(e, "cpus and runs per task must be >= 1");
    if (!s->plan_hash || strlen(s->plan_hash) != 16)
        return db_fail(e, "missing plan hash");
    for (size_t i = 0; i < s->nsbatch_args; i++) {
        const char *a = s->sbatch_args[i];
        if (a[0] != '-' || strpbrk(a, "\r\n"))
            return db_fail(e, "--sbatch-arg: \"%s\" is not one sbatch option "
                              "(e.g. --mem=4G)", a);
    }
    for (size_t i = 0; i < s->nindex_args; i++)
        if (strpbrk(s->index_args[i], "\r\n"))
            return db_fail(e, "a newline in an argument is not supported");

    sbuf b = { NULL, 0, 0, 0 };
    time_t t = time(NULL);
    struct tm tm;
    char stamp[32];
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    sb_add(&b, "#!/bin/bash\n");
    sb_add(&b, "# dropbench sweep %s as a Slurm job array, written by "
               "`dropbench sweep --slurm` at %s.\n", s->sweep_name, stamp);
    sb_add(&b, "# Array index I runs the sweep's runs from I*%zu on, %zu of "
               "its %zu runs; each run\n"
               "# takes a lock and skips a complete result, so resubmitting "
               "runs only what is missing.\n", s->runs_per_task,
           s->runs_per_task, s->nruns);
    sb_add(&b, "# dropbench-runs-per-task: %zu\n", s->runs_per_task);
    sb_add(&b, "# dropbench-plan-hash: %s\n", s->plan_hash);
    sb_add(&b, "#SBATCH --job-name=dropbench-%s\n", s->sweep_name);
    sb_add(&b, "#SBATCH --array=%s", s->array);
    if (s->max_parallel > 0)
        sb_add(&b, "%%%d", s->max_parallel);
    sb_add(&b, "\n");
    sb_add(&b, "#SBATCH --ntasks=1\n");
    sb_add(&b, "#SBATCH --cpus-per-task=%d\n", s->cpus_per_task);
    sb_add(&b, "#SBATCH --chdir=%s\n", s->chdir);
    sb_add(&b, "#SBATCH --output=%s/slurm/%%A_%%a.out\n", s->results_dir);
    if (s->partition)
        sb_add(&b, "#SBATCH --partition=%s\n", s->partition);
    if (s->time_limit)
        sb_add(&b, "#SBATCH --time=%s\n", s->time_limit);
    for (size_t i = 0; i < s->nsbatch_args; i++)
        sb_add(&b, "#SBATCH %s\n", s->sbatch_args[i]);
    sb_add(&b, "\n");
    if (s->config_dir) {
        sb_add(&b, "export DROPBENCH_CONFIGS=");
        sb_quote(&b, s->config_dir);
        sb_add(&b, "\n");
    }
    sb_add(&b, "exec ");
    sb_quote(&b, s->dropbench);
    sb_add(&b, " sweep ");
    sb_quote(&b, s->sweep_file);
    sb_add(&b, " \\\n    --index \"$SLURM_ARRAY_TASK_ID\" --runs-per-task %zu "
               "--plan-hash %s \\\n    --results ",
           s->runs_per_task, s->plan_hash);
    sb_quote(&b, s->results_dir);
    if (s->data_root) {
        sb_add(&b, " --data ");
        sb_quote(&b, s->data_root);
    }
    for (size_t i = 0; i < s->nindex_args; i++) {
        sb_add(&b, " ");
        sb_quote(&b, s->index_args[i]);
    }
    sb_add(&b, "\n");
    if (b.oom)
        return db_fail(e, "out of memory writing the job script");
    *out = b.text;
    return 0;
}

/* ----------------------------------------------------------------- status */

typedef struct log_last {
    char event[16];
    char stamp[32];
    char rest[400];
} log_last;

typedef struct name_ix {
    const char *name;
    size_t run;
} name_ix;

static int cmp_name_ix(const void *a, const void *b)
{
    return strcmp(((const name_ix *)a)->name, ((const name_ix *)b)->name);
}

/* The last sweep.log line about each run of the plan; a missing log is no
 * error (runs that were never started). */
static int read_sweep_log(log_last *last, const sweep_plan *plan, db_err *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/sweep.log", plan->results_dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : db_fail(e, "%s: %s", path, strerror(errno));
    name_ix *ix = malloc((plan->n ? plan->n : 1) * sizeof *ix);
    if (!ix) {
        fclose(f);
        return db_fail(e, "out of memory");
    }
    for (size_t i = 0; i < plan->n; i++)
        ix[i] = (name_ix){ plan->runs[i].name, i };
    qsort(ix, plan->n, sizeof *ix, cmp_name_ix);
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *save = NULL;
        char *stamp = strtok_r(line, " ", &save);
        char *event = strtok_r(NULL, " ", &save);
        char *name = strtok_r(NULL, " ", &save);
        char *rest = strtok_r(NULL, "", &save);
        if (!stamp || !event || !name)
            continue; /* a torn line: ignore */
        name_ix key = { name, 0 };
        const name_ix *hit = bsearch(&key, ix, plan->n, sizeof *ix, cmp_name_ix);
        if (!hit)
            continue;
        log_last *l = &last[hit->run];
        snprintf(l->event, sizeof l->event, "%s", event);
        snprintf(l->stamp, sizeof l->stamp, "%s", stamp);
        snprintf(l->rest, sizeof l->rest, "%s", rest ? rest : "");
    }
    int bad = ferror(f);
    fclose(f);
    free(ix);
    return bad ? db_fail(e, "%s: read error", path) : 0;
}

int slurm_status_compute(slurm_status *st, const sweep_plan *plan,
                         size_t runs_per_task, db_err *e)
{
    memset(st, 0, sizeof *st);
    if (runs_per_task < 1)
        return db_fail(e, "runs per task must be >= 1");
    st->n = plan->n;
    st->runs_per_task = runs_per_task;
    st->ntasks = slurm_ntasks(plan->n, runs_per_task);
    st->runs = calloc(plan->n ? plan->n : 1, sizeof *st->runs);
    log_last *last = calloc(plan->n ? plan->n : 1, sizeof *last);
    if (!st->runs || !last) {
        free(last);
        slurm_status_free(st);
        return db_fail(e, "out of memory");
    }
    if (read_sweep_log(last, plan, e) != 0) {
        free(last);
        slurm_status_free(st);
        return -1;
    }
    for (size_t i = 0; i < plan->n; i++) {
        slurm_run_state *rs = &st->runs[i];
        const log_last *l = &last[i];
        rs->index = i / runs_per_task;
        char path[4200], lock[4300], status[32];
        snprintf(path, sizeof path, "%s/%s", plan->results_dir,
                 plan->runs[i].name);
        snprintf(lock, sizeof lock, "%s.lock", path);
        sweep_result_status(path, status, sizeof status);
        if (strcmp(status, "complete") == 0 && run_result_complete(path) == 1) {
            rs->state = SLURM_DONE;
        } else if (strcmp(status, "diverged") == 0) {
            rs->state = SLURM_DIVERGED;
        } else if (sweep_lock_busy(lock)) {
            rs->state = SLURM_RUNNING;
            if (strcmp(l->event, "start") == 0)
                snprintf(rs->note, sizeof rs->note, "since %s %s", l->stamp,
                         l->rest);
        } else if (strcmp(status, "failed") == 0) {
            rs->state = SLURM_FAILED;
            snprintf(rs->note, sizeof rs->note, "a \"failed\" result%s%s",
                     strcmp(l->event, "failed") == 0 ? ": " : "",
                     strcmp(l->event, "failed") == 0 ? l->rest : "");
        } else if (strcmp(l->event, "failed") == 0) {
            rs->state = SLURM_FAILED;
            snprintf(rs->note, sizeof rs->note, "at %s after %s", l->stamp,
                     l->rest);
        } else {
            rs->state = SLURM_MISSING;
            if (status[0])
                snprintf(rs->note, sizeof rs->note, "its result has status "
                                                    "\"%s\"", status);
            else if (strcmp(l->event, "interrupted") == 0)
                snprintf(rs->note, sizeof rs->note, "interrupted at %s", l->stamp);
            else if (strcmp(l->event, "start") == 0)
                snprintf(rs->note, sizeof rs->note,
                         "started %s (%s) and never finished: killed (time "
                         "limit, memory, node)?", l->stamp, l->rest);
        }
        st->count[rs->state]++;
    }
    free(last);
    return 0;
}

void slurm_status_free(slurm_status *st)
{
    free(st->runs);
    memset(st, 0, sizeof *st);
}

char *slurm_status_missing(const slurm_status *st)
{
    unsigned char *sel = calloc(st->ntasks ? st->ntasks : 1, 1);
    if (!sel)
        return NULL;
    for (size_t i = 0; i < st->n; i++)
        if (st->runs[i].state == SLURM_MISSING ||
            st->runs[i].state == SLURM_FAILED)
            sel[st->runs[i].index] = 1;
    char *list = slurm_index_list(sel, st->ntasks);
    free(sel);
    return list;
}

/* -------------------------------------------------------------------- CLI */

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
          "  --status            done / running / failed / missing, from the "
          "results directory\n"
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

static int cli_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

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

static void cli_parse(slurm_cli *c, int argc, char **argv, int report)
{
    static const struct option opts[] = {
        { "jobs", required_argument, NULL, 'j' },
        { "threads", required_argument, NULL, 't' },
        { "dry-run", no_argument, NULL, 'n' },
        { "filter", required_argument, NULL, 'f' },
        { "results", required_argument, NULL, 'r' },
        { "data", required_argument, NULL, 'd' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
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
    int saved_opterr = opterr;
    opterr = report;
    optind = 0; /* a full rescan: cmd_sweep parses argv again */
    int ch;
    long v;
    while ((ch = getopt_long(argc, argv, "j:t:nf:r:d:qh", opts, NULL)) != -1) {
        const char *bad = NULL;
        switch (ch) {
        case 'j':
            if (cli_long(optarg, 1, 4096, &v) == 0)
                c->o.jobs = (int)v;
            else
                bad = "--jobs wants a number >= 1";
            break;
        case 't':
            if (cli_long(optarg, 1, 4096, &v) == 0)
                c->o.threads = (int)v;
            else
                bad = "--threads wants a number >= 1";
            break;
        case 'n': c->dry = 1; break;
        case 'f': c->filters[c->o.nfilters++] = optarg; break;
        case 'r': c->o.results_dir = optarg; break;
        case 'd': c->o.data_root = optarg; break;
        case 'q': c->o.progress = NULL; break;
        case 'h': c->bad = 2; break; /* cmd_sweep prints the help */
        case O_SLURM: set_mode(c, O_SLURM); break;
        case O_INDEX:
            set_mode(c, O_INDEX);
            if (cli_long(optarg, 0, 100000000, &c->index) != 0)
                bad = "--index wants an array index >= 0";
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
                bad = "--max-parallel wants a number >= 1";
            break;
        case O_CPUS:
            c->slurm_only = 1;
            if (cli_long(optarg, 1, 4096, &v) == 0)
                c->cpus = (int)v;
            else
                bad = "--cpus-per-task wants a number >= 1";
            break;
        case O_RPT:
            c->slurm_only = 1;
            if (cli_long(optarg, 1, 1000000, &c->runs_per_task) != 0)
                bad = "--runs-per-task wants a number >= 1";
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
    opterr = saved_opterr;
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

static int mkdir_p(const char *dir, db_err *e)
{
    return db_mkdirs(dir, e);
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
        return 2;
    }
    char *missing = slurm_status_missing(&st);
    if (!missing) {
        slurm_status_free(&st);
        fprintf(stderr, "dropbench sweep: out of memory\n");
        return 2;
    }
    int rc = st.count[SLURM_DONE] + st.count[SLURM_DIVERGED] == st.n ? 0 : 1;
    if (c->missing_only) {
        printf("%s\n", missing);
        free(missing);
        slurm_status_free(&st);
        return rc;
    }
    printf("sweep %s: %zu runs in %zu array task(s) of %ld -> %s\n",
           plan->name, plan->n, st.ntasks, rpt, plan->results_dir);
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
            printf("  %5s  %-8s  %s\n", "index", "state", "run");
        char label[512];
        sweep_run_label(label, sizeof label, &plan->runs[i]);
        printf("  %5zu  %-8s  %s%s%s\n", rs->index,
               slurm_state_name(rs->state), label, rs->note[0] ? ": " : "",
               rs->note);
    }
    if (missing[0])
        printf("indices with runs to do: %s\n"
               "  resubmit them with: dropbench sweep %s --slurm [options]\n",
               missing, c->sweep_file);
    free(missing);
    slurm_status_free(&st);
    return rc;
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
        return 2;
    }
    size_t rpt = c->runs_per_task > 0 ? (size_t)c->runs_per_task : 1;
    size_t first = 0, count = 0;
    if (slurm_task_runs((size_t)c->index, rpt, plan->n, &first, &count, &e)) {
        fprintf(stderr, "dropbench sweep: %s\n", e.msg);
        return 2;
    }
    /* a view of this task's runs; owned by plan */
    sweep_plan sub = *plan;
    sub.runs = plan->runs + first;
    sub.n = sub.cap = count;
    sweep_options o = c->o;
    if (o.jobs <= 0) {
        /* the CPUs Slurm gave this task, not the node's */
        int threads = 1;
        for (size_t i = 0; i < count; i++)
            if (sub.runs[i].threads > threads)
                threads = sub.runs[i].threads;
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
    if (o.progress)
        fprintf(o.progress, "dropbench sweep %s: index %ld = runs %zu-%zu of "
                            "%zu (slurm job %s)\n",
                plan->name, c->index, first, first + count - 1, plan->n, job);
    sweep_summary s;
    if (sweep_execute(&sub, &o, &s, &e) != 0) {
        fprintf(stderr, "dropbench sweep: %s\n", e.msg);
        return 2;
    }
    fflush(stderr);
    sweep_summary_print(stdout, &sub, &s);
    int rc = s.signal ? 128 + s.signal
             : (s.failed || s.interrupted || s.pending) ? 1
                                                        : 0;
    sweep_summary_free(&s);
    return rc;
}

static int cmd_submit(slurm_cli *c, const sweep_plan *plan)
{
    db_err e = { "" };
    size_t rpt = c->runs_per_task > 0 ? (size_t)c->runs_per_task : 1;
    size_t ntasks = slurm_ntasks(plan->n, rpt);
    if (plan->n == 0) {
        printf("sweep %s: no runs to submit\n", plan->name);
        return 0;
    }
    char *array = NULL;
    if (c->array) {
        array = strdup(c->array);
    } else {
        slurm_status st;
        if (slurm_status_compute(&st, plan, rpt, &e) != 0) {
            fprintf(stderr, "dropbench sweep: %s\n", e.msg);
            return 2;
        }
        array = slurm_status_missing(&st);
        size_t todo = st.count[SLURM_MISSING] + st.count[SLURM_FAILED];
        size_t running = st.count[SLURM_RUNNING];
        slurm_status_free(&st);
        if (array && !array[0]) {
            printf("sweep %s: nothing to submit: of %zu runs none is missing "
                   "or failed (%zu running)\n", plan->name, plan->n, running);
            free(array);
            return 0;
        }
        if (array && c->o.progress)
            fprintf(c->o.progress, "sweep %s: %zu of %zu runs to do\n",
                    plan->name, todo, plan->n);
    }
    if (!array) {
        fprintf(stderr, "dropbench sweep: out of memory\n");
        return 2;
    }

    /* everything the script names, absolute */
    char self[4096], sweepf[4096], cwd[4096], results[4096], data[4096],
        configs[4096], slurmdir[4200], script[4300], hash[17];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    int rc = 2;
    char *text = NULL;
    if (sl <= 0) {
        fprintf(stderr, "dropbench sweep: cannot find the dropbench binary "
                        "(/proc/self/exe)\n");
        goto out;
    }
    self[sl] = '\0';
    snprintf(slurmdir, sizeof slurmdir, "%s/slurm", plan->results_dir);
    const char *data_root = c->o.data_root;
    if (!data_root && getenv("DROPBENCH_DATA") && *getenv("DROPBENCH_DATA"))
        data_root = getenv("DROPBENCH_DATA");
    if (!getcwd(cwd, sizeof cwd)) {
        fprintf(stderr, "dropbench sweep: getcwd: %s\n", strerror(errno));
        goto out;
    }
    if (absolute(sweepf, c->sweep_file, "sweep file", &e) ||
        mkdir_p(slurmdir, &e) ||
        absolute(results, plan->results_dir, "results directory", &e) ||
        (data_root && absolute(data, data_root, "data directory", &e))) {
        fprintf(stderr, "dropbench sweep: %s\n", e.msg);
        goto out;
    }
    int have_configs = absolute(configs, db_config_dir(), "configs", NULL) == 0;
    slurm_plan_hash(hash, plan);

    int threads = 1;
    for (size_t i = 0; i < plan->n; i++)
        if (plan->runs[i].threads > threads)
            threads = plan->runs[i].threads;
    const char *pass[2 * 64 + 4];
    char nbuf[2][32];
    size_t np = 0;
    for (size_t i = 0; i < c->o.nfilters && np < 2 * 64; i++) {
        pass[np++] = "--filter";
        pass[np++] = c->filters[i];
    }
    if (c->o.nfilters > 64) {
        fprintf(stderr, "dropbench sweep: at most 64 --filter with --slurm\n");
        goto out;
    }
    if (c->o.threads > 0) {
        snprintf(nbuf[0], sizeof nbuf[0], "%d", c->o.threads);
        pass[np++] = "--threads";
        pass[np++] = nbuf[0];
    }
    if (c->o.jobs > 0) {
        snprintf(nbuf[1], sizeof nbuf[1], "%d", c->o.jobs);
        pass[np++] = "--jobs";
        pass[np++] = nbuf[1];
    }
    slurm_script s = {
        .sweep_name = plan->name,
        .dropbench = self,
        .sweep_file = sweepf,
        .chdir = cwd,
        .results_dir = results,
        .data_root = data_root ? data : NULL,
        .config_dir = have_configs ? configs : NULL,
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
        .nindex_args = np,
    };
    snprintf(script, sizeof script, "%s/slurm/%s.sbatch", results, plan->name);
    if (slurm_script_text(&text, &s, &e) != 0 ||
        db_write_atomic(script, text, strlen(text), &e) != 0) {
        fprintf(stderr, "dropbench sweep: %s\n", e.msg);
        goto out;
    }
    chmod(script, 0755);
    printf("sweep %s: %zu runs in %zu array task(s) of %zu; submitting "
           "indices %s\n", plan->name, plan->n, ntasks, rpt, array);
    printf("job script: %s\n", script);
    if (c->no_submit) {
        printf("not submitted (--no-submit): sbatch %s\n", script);
        rc = 0;
        goto out;
    }
    char jobid[64];
    if (submit(script, jobid, sizeof jobid, &e) != 0) {
        fprintf(stderr, "dropbench sweep: %s\n", e.msg);
        goto out;
    }
    printf("submitted job %s; Slurm logs: %s/slurm/%s_*.out\n", jobid, results,
           jobid);
    printf("progress: dropbench sweep %s --status%s\n", c->sweep_file,
           c->o.nfilters || c->o.threads > 0
               ? " (with the same --filter/--threads)"
               : "");
    rc = 0;
out:
    free(text);
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
        return 2;
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
        rc = 2;
        goto out;
    }
    cli_parse(&c, argc, argv, 1);
    rc = 2;
    if (c.bad == 3) {
        fprintf(stderr, "dropbench sweep: give one sweep file\n");
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
