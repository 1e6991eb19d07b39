/* slurm.c - job array scripts, array tasks and status for sweeps on a
 * Slurm cluster; submitting and the command line are cli/cmd_slurm.c's.
 * See slurm.h. */
#include "sweep/slurm.h"

/* How long before its time limit Slurm is asked to signal a job. */
#define DB_SLURM_SIGNAL_SECONDS 120

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sweep/lock.h"
#include "train/run.h"
#include "util/hash.h"
#include "util/clock.h"

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
    uint64_t h = DB_FNV1A_BASIS;
    for (size_t i = 0; i < plan->n; i++) {
        h = db_fnv1a(h, plan->runs[i].name, strlen(plan->runs[i].name));
        h = db_fnv1a(h, "\n", 1);
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

/* Everything the script holds must go there as written: paths without
 * spaces where #SBATCH reads them, options of the right form. */
static int script_check(const slurm_script *s, db_err *e)
{
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
    return 0;
}

/* The script's comments and #SBATCH lines. */
static void script_header(sbuf *b, const slurm_script *s)
{
    char stamp[32];
    db_utc_stamp(stamp, sizeof stamp);
    sb_add(b, "#!/bin/bash\n");
    sb_add(b, "# dropbench sweep %s as a Slurm job array, written by "
              "`dropbench sweep --slurm` at %s.\n", s->sweep_name, stamp);
    sb_add(b, "# Array index I runs the sweep's runs from I*%zu on, %zu of "
              "its %zu runs; each run\n"
              "# takes a lock and skips a complete result, so resubmitting "
              "runs only what is missing.\n", s->runs_per_task,
           s->runs_per_task, s->nruns);
    sb_add(b, "# dropbench-runs-per-task: %zu\n", s->runs_per_task);
    sb_add(b, "# dropbench-plan-hash: %s\n", s->plan_hash);
    sb_add(b, "#SBATCH --job-name=dropbench-%s\n", s->sweep_name);
    sb_add(b, "#SBATCH --array=%s", s->array);
    if (s->max_parallel > 0)
        sb_add(b, "%%%d", s->max_parallel);
    sb_add(b, "\n");
    sb_add(b, "#SBATCH --ntasks=1\n");
    /* Before a time limit (or a preemption), SIGTERM goes to the batch
     * shell, which is dropbench itself (exec below): its handler stops each
     * run after the current batch, keeping the checkpoint of the last whole
     * epoch, so that a resubmission continues the run from there
     * (docs/CHECKPOINTS.md). */
    sb_add(b, "# SIGTERM %d s before the time limit: runs stop and keep their "
              "checkpoints;\n# resubmitting continues them.\n", DB_SLURM_SIGNAL_SECONDS);
    sb_add(b, "#SBATCH --signal=B:TERM@%d\n", DB_SLURM_SIGNAL_SECONDS);
    sb_add(b, "#SBATCH --cpus-per-task=%d\n", s->cpus_per_task);
    sb_add(b, "#SBATCH --chdir=%s\n", s->chdir);
    sb_add(b, "#SBATCH --output=%s/slurm/%%A_%%a.out\n", s->results_dir);
    if (s->partition)
        sb_add(b, "#SBATCH --partition=%s\n", s->partition);
    if (s->time_limit)
        sb_add(b, "#SBATCH --time=%s\n", s->time_limit);
    for (size_t i = 0; i < s->nsbatch_args; i++)
        sb_add(b, "#SBATCH %s\n", s->sbatch_args[i]);
    sb_add(b, "\n");
}

/* The script's command: dropbench sweep --index for this array task. */
static void script_command(sbuf *b, const slurm_script *s)
{
    if (s->config_dir) {
        sb_add(b, "export DROPBENCH_CONFIGS=");
        sb_quote(b, s->config_dir);
        sb_add(b, "\n");
    }
    sb_add(b, "exec ");
    sb_quote(b, s->dropbench);
    sb_add(b, " sweep ");
    sb_quote(b, s->sweep_file);
    sb_add(b, " \\\n    --index \"$SLURM_ARRAY_TASK_ID\" --runs-per-task %zu "
              "--plan-hash %s \\\n    --results ",
           s->runs_per_task, s->plan_hash);
    sb_quote(b, s->results_dir);
    if (s->data_root) {
        sb_add(b, " --data ");
        sb_quote(b, s->data_root);
    }
    for (size_t i = 0; i < s->nindex_args; i++) {
        sb_add(b, " ");
        sb_quote(b, s->index_args[i]);
    }
    sb_add(b, "\n");
}

int slurm_script_text(char **out, const slurm_script *s, db_err *e)
{
    *out = NULL;
    if (script_check(s, e))
        return -1;
    sbuf b = { NULL, 0, 0, 0 };
    script_header(&b, s);
    script_command(&b, s);
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
