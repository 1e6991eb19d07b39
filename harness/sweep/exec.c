/* exec.c - a plan run by worker processes: locks, forks, progress, the
 * sweep log, the summary.  See exec.h. */
#include "sweep/exec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "sweep/lock.h"
#include "train/ckpt.h"
#include "train/runcfg.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/jsonio.h"
#include "util/str.h"

static void fmt_duration(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, n, "?");
    else if (s < 60)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}


int sweep_default_jobs(int threads_per_run)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    if (threads_per_run < 1)
        threads_per_run = 1;
    long j = cores / threads_per_run;
    return j < 1 ? 1 : (int)j;
}

/* ---------------------------------------------------------------- dry run */

/* Whether the results folder holds a complete result of r's task, strategy
 * and seed made by another code version: its file name is r's with another
 * id (ids hash DB_CODE_VERSION), so the sweep will not count it as done.
 * Copies that version (and the commit it records) into ver. */
static int other_version_result(const sweep_plan *plan, const sweep_backend *b,
                                const sweep_run *r, char *ver, size_t nver)
{
    /* r->name is "<task>.<strategy>.s<seed>.<id>.json": keep up to the id */
    const char *dot = strrchr(r->name, '.');
    const char *idstart = NULL;
    for (const char *p = r->name; dot && p < dot; p++)
        if (*p == '.')
            idstart = p + 1;
    if (!idstart)
        return 0;
    size_t plen = (size_t)(idstart - r->name);
    DIR *d = opendir(plan->results_dir);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *de;
    while (!found && (de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (strncmp(de->d_name, r->name, plen) != 0 || len < plen + 5 ||
            strcmp(de->d_name + len - 5, ".json") != 0 ||
            strchr(de->d_name + plen, '.') != de->d_name + len - 5 ||
            strcmp(de->d_name, r->name) == 0)
            continue;
        char path[4200];
        if (snprintf(path, sizeof path, "%s/%s", plan->results_dir, de->d_name) >=
            (int)sizeof path)
            continue;
        cJSON *j = NULL;
        if (b->result_complete(path) != 1 || db_json_load(&j, path, NULL))
            continue;
        const cJSON *cv = cJSON_GetObjectItemCaseSensitive(j, "code_version");
        if (cJSON_IsString(cv) && strcmp(cv->valuestring, DB_CODE_VERSION) != 0) {
            const cJSON *env = cJSON_GetObjectItemCaseSensitive(j, "environment");
            const cJSON *gc = cJSON_GetObjectItemCaseSensitive(env, "git_commit");
            if (cJSON_IsString(gc))
                snprintf(ver, nver, "%s at commit %.12s", cv->valuestring,
                         gc->valuestring);
            else
                snprintf(ver, nver, "%s", cv->valuestring);
            found = 1;
        }
        cJSON_Delete(j);
    }
    closedir(d);
    return found;
}

/* Says (on f) how many of the plan's runs without a complete result have one
 * of their task, strategy and seed from another code version: a sweep file
 * run with a newer binary than the one that made its folder's results would
 * otherwise start the whole set again without a word. */
static void note_other_versions(FILE *f, const sweep_plan *plan,
                                const sweep_backend *b)
{
    size_t n = 0;
    char ver[64] = "";
    for (size_t i = 0; i < plan->n; i++) {
        const sweep_run *r = &plan->runs[i];
        char path[4096], v[64];
        if (sweep_run_path(path, sizeof path, plan, r, "") != 0 ||
            b->result_complete(path) == 1 ||
            !other_version_result(plan, b, r, v, sizeof v))
            continue;
        if (n++ == 0)
            snprintf(ver, sizeof ver, "%s", v);
        else if (strcmp(ver, v) != 0)
            snprintf(ver, sizeof ver, "several versions");
    }
    if (n)
        fprintf(f, "note: %zu of the runs to do have a complete result of the "
                   "same task, strategy and seed in %s, made by code version %s "
                   "(this binary is version %s); run ids hash the code version, "
                   "so this binary does not count them as done: to complete "
                   "that set, run the sweep with a binary built from the "
                   "commit its results record\n",
                n, plan->results_dir, ver, DB_CODE_VERSION);
}

/* Where the estimates come from: per task, and per source when the task's
 * runs have several. */
static void print_estimate_sources(FILE *f, const sweep_plan *plan)
{
    for (size_t i = 0; i < plan->n; i++) {
        const sweep_run *r = &plan->runs[i];
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(plan->runs[j].task, r->task) == 0 &&
                   strcmp(plan->runs[j].est_source, r->est_source) == 0;
        if (seen)
            continue;
        size_t nr = 0, nt = 0;
        for (size_t j = 0; j < plan->n; j++)
            if (strcmp(plan->runs[j].task, r->task) == 0) {
                nt++;
                nr += strcmp(plan->runs[j].est_source, r->est_source) == 0;
            }
        if (nr == nt)
            fprintf(f, "estimate for %s: %s\n", r->task, r->est_source);
        else
            fprintf(f, "estimate for %s (%zu of its %zu runs): %s\n", r->task, nr, nt,
                    r->est_source);
    }
}

void sweep_dry_run(FILE *f, const sweep_plan *plan, const sweep_options *o)
{
    const sweep_backend *b = o && o->backend ? o->backend : &sweep_backend_default;
    double todo_cost = 0, all_cost = 0;
    size_t ntodo = 0, ndone = 0, nbusy = 0;
    int maxthreads = 1;
    size_t w = 1;
    for (size_t n = plan->n; n >= 10; n /= 10)
        w++;
    fprintf(f, "sweep %s: %zu runs -> %s\n", plan->name, plan->n,
            plan->results_dir);
    for (size_t i = 0; i < plan->n; i++) {
        const sweep_run *r = &plan->runs[i];
        char path[4096], lpath[4200], st[32] = "", cost[32];
        const char *state = "todo";
        if (sweep_run_path(path, sizeof path, plan, r, "") == 0) {
            snprintf(lpath, sizeof lpath, "%s.lock", path);
            if (b->result_complete(path) == 1) {
                state = "done";
            } else {
                sweep_result_status(path, st, sizeof st);
                if (strcmp(st, "diverged") == 0)
                    state = "diverged";
                else if (sweep_lock_busy(lpath))
                    state = "running";
                else if (st[0])
                    state = strcmp(st, "failed") == 0 ? "rerun(failed)"
                                                      : "rerun(interrupted)";
            }
        }
        int todo = strcmp(state, "done") != 0 && strcmp(state, "diverged") != 0;
        if (strcmp(state, "running") == 0)
            nbusy++;
        else if (todo)
            ntodo++, todo_cost += r->est_seconds;
        else
            ndone++;
        all_cost += r->est_seconds;
        if (r->threads > maxthreads)
            maxthreads = r->threads;
        fmt_duration(cost, sizeof cost, r->est_seconds);
        fprintf(f, "%*zu  task=%s strategy=%s rates=%s seed=%ld epochs=%d%s%s%s"
                   "  est=%s  %s  %s\n",
                (int)w, i + 1, r->task, r->strategy,
                r->rate ? r->rate : "default", r->seed, r->epochs,
                r->overrides[0] ? " [" : "", r->overrides,
                r->overrides[0] ? "]" : "", cost, state, r->name);
    }
    int jobs = o && o->jobs > 0 ? o->jobs : sweep_default_jobs(maxthreads);
    char a[32], t[32], wall[32];
    fmt_duration(a, sizeof a, all_cost);
    fmt_duration(t, sizeof t, todo_cost);
    fmt_duration(wall, sizeof wall,
                 todo_cost / (double)(ntodo < (size_t)jobs ? (ntodo ? ntodo : 1)
                                                           : (size_t)jobs));
    fprintf(f, "%zu runs: %zu to run, %zu already done, %zu running in another "
               "sweep%s\n",
            plan->n, ntodo, ndone, nbusy,
            plan->nduplicates ? " (duplicates removed)" : "");
    note_other_versions(f, plan, b);
    fprintf(f, "estimated cost: %s of worker time to run (%s for all); about "
               "%s wall with %d job(s) of %d thread(s)\n",
            t, a, wall, jobs, maxthreads);
    print_estimate_sources(f, plan);
}

/* -------------------------------------------------------------- execution */

static volatile sig_atomic_t g_stop;

static void on_stop(int sig) { g_stop = sig; }
static void on_child(int sig) { (void)sig; }

typedef struct slot {
    pid_t pid;           /* 0: free */
    size_t run;
    int lockfd, pipefd;
    double start;
    char lockpath[4200];
} slot;

void sweep_summary_free(sweep_summary *s)
{
    if (s->reason)
        for (size_t i = 0; i < s->total; i++)
            free(s->reason[i]);
    free(s->reason);
    free(s->outcome);
    memset(s, 0, sizeof *s);
}

static void set_reason(sweep_summary *s, size_t i, const char *msg)
{
    free(s->reason[i]);
    s->reason[i] = db_strdup(msg);
}

/* The child: never returns. */
static void worker_on_stop(int sig)
{
    (void)sig;
    db_stop_requested = 1;
}

static void worker(const sweep_plan *plan, const sweep_run *r,
                   const sweep_options *o, const sweep_backend *b, int wfd,
                   pid_t parent)
{
    /* SIGINT/SIGTERM (the sweep stopping, or ^C to the process group) ask
     * the training loop to stop after its batch and record "interrupted" */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = worker_on_stop;
    db_stop_requested = 0;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    if (getppid() != parent) /* the sweep died before prctl */
        _exit(3);
    run_options ro;
    memset(&ro, 0, sizeof ro);
    ro.results_dir = plan->results_dir;
    ro.data_root = o->data_root;
    ro.quiet = 1;
    ro.notes = o->progress; /* a resumed or ignored checkpoint is said */
    db_err e = { "" };
    int rc = b->execute(r->config, r->id, &ro, &e);
    if (rc != 0 && rc != 1) {
        size_t n = strnlen(e.msg, sizeof e.msg);
        if (n == 0) {
            memcpy(e.msg, "failed without a message", 25);
            n = 24;
        }
        ssize_t wr = write(wfd, e.msg, n); /* < PIPE_BUF: one piece */
        (void)wr;
    }
    _exit(rc == 0 ? 0 : rc == 1 ? 1 : 2);
}

static void progress(const sweep_options *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void progress(const sweep_options *o, const char *fmt, ...)
{
    if (!o->progress)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(o->progress, fmt, ap);
    va_end(ap);
    fflush(o->progress);
}

/* ETA from the estimates, corrected by how fast finished runs were. */
static double eta(const sweep_plan *plan, const sweep_summary *s,
                  const slot *slots, int jobs, double ratio, double now)
{
    double left = 0;
    size_t nleft = 0;
    for (size_t i = 0; i < plan->n; i++)
        if (s->outcome[i] == SWEEP_PENDING) {
            double el = 0;
            for (int j = 0; j < jobs; j++)
                if (slots[j].pid > 0 && slots[j].run == i)
                    el = now - slots[j].start;
            double est = plan->runs[i].est_seconds * ratio - el;
            left += est > 0 ? est : 0;
            nleft++;
        }
    if (nleft == 0)
        return 0;
    return left / (double)(nleft < (size_t)jobs ? nleft : (size_t)jobs);
}

/* One line appended to o->log_path (see plan.h), in a single write so that
 * concurrent sweeps' lines do not mix; a log that cannot be written does not
 * stop the sweep. */
static void sweep_log(const sweep_options *o, const char *event,
                      const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void sweep_log(const sweep_options *o, const char *event,
                      const char *name, const char *fmt, ...)
{
    if (!o->log_path)
        return;
    char line[2048], stamp[32];
    db_utc_stamp(stamp, sizeof stamp);
    int n = snprintf(line, sizeof line, "%s %s %s ", stamp, event, name);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = strnlen(line, sizeof line - 2);
    for (size_t i = 0; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';
    int fd = open(o->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    ssize_t w = write(fd, line, len);
    (void)w;
    close(fd);
}

static void finish(const sweep_plan *plan, sweep_summary *s, slot *sl,
                   int status, const sweep_backend *b, double now,
                   const sweep_options *o)
{
    const sweep_run *r = &plan->runs[sl->run];
    char msg[DB_ERR_MSG + 1];
    ssize_t got = read(sl->pipefd, msg, DB_ERR_MSG);
    msg[got > 0 ? got : 0] = '\0';
    close(sl->pipefd);
    char path[4096];
    sweep_run_path(path, sizeof path, plan, r, "");
    int outcome;
    char why[DB_ERR_MSG + 4200] = "";
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        if (b->result_complete(path) == 1) {
            outcome = SWEEP_DONE;
        } else {
            outcome = SWEEP_FAILED;
            snprintf(why, sizeof why, "the worker finished but %s is not a "
                                      "complete result", path);
        }
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 1) {
        outcome = SWEEP_DIVERGED;
    } else if (g_stop) {
        /* asked to stop: the worker recorded "interrupted", or died */
        outcome = SWEEP_INTERRUPTED;
        snprintf(why, sizeof why, "interrupted (%s)", strsignal(g_stop));
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
        outcome = SWEEP_FAILED;
        snprintf(why, sizeof why, "%s", msg[0] ? msg : "failed");
    } else if (WIFSIGNALED(status) && g_stop) {
        outcome = SWEEP_INTERRUPTED;
        snprintf(why, sizeof why, "interrupted (%s)", strsignal(g_stop));
    } else if (WIFSIGNALED(status)) {
        outcome = SWEEP_FAILED;
        snprintf(why, sizeof why, "worker killed by signal %d (%s)%s",
                 WTERMSIG(status), strsignal(WTERMSIG(status)),
                 WTERMSIG(status) == SIGKILL ? "; out of memory?" : "");
    } else {
        outcome = SWEEP_FAILED;
        snprintf(why, sizeof why, "worker exited with status %d",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    s->outcome[sl->run] = outcome;
    if (why[0])
        set_reason(s, sl->run, why);
    switch (outcome) {
    case SWEEP_DONE: s->done++; break;
    case SWEEP_DIVERGED: s->diverged++; break;
    case SWEEP_INTERRUPTED: s->interrupted++; break;
    default: s->failed++; break;
    }
    /* logged before the lock goes: a reader that sees the lock free sees
     * how the run ended */
    sweep_log(o,
              outcome == SWEEP_DONE       ? "done"
              : outcome == SWEEP_DIVERGED ? "diverged"
              : outcome == SWEEP_INTERRUPTED ? "interrupted"
                                             : "failed",
              r->name, "%.1fs%s%s", now - sl->start, why[0] ? " " : "", why);
    sweep_lock_release(sl->lockpath, sl->lockfd);
    sl->pid = 0;
    sl->lockfd = sl->pipefd = -1;
}

/* One sweep_execute: the plan, its workers and how far it got. */
typedef struct sweep_exec {
    const sweep_plan *plan;
    const sweep_options *o;
    const sweep_backend *b;
    sweep_summary *s;
    slot *slots;             /* jobs of them */
    int jobs, running;
    unsigned char *deferred; /* per run: locked by another sweep, retry */
    size_t next;             /* the first run not yet considered */
    size_t finished;
    double est_done, real_done; /* for the ETA correction */
    pid_t self;
} sweep_exec;

/* Run `pick` failed before a worker started. */
static void fail_early(sweep_exec *x, size_t pick, const char *why)
{
    x->s->outcome[pick] = SWEEP_FAILED;
    set_reason(x->s, pick, why);
    x->s->failed++;
    x->finished++;
}

/* The next run to start: a deferred one before x->next (from *dcur on,
 * once per round), else the next new one; plan->n when there is none. */
static size_t pick_run(sweep_exec *x, size_t *dcur, int *from_deferred)
{
    *from_deferred = 0;
    for (; *dcur < x->next; (*dcur)++)
        if (x->deferred[*dcur]) {
            size_t pick = (*dcur)++;
            *from_deferred = 1;
            x->deferred[pick] = 0;
            return pick;
        }
    if (x->next >= x->plan->n)
        return x->plan->n;
    return x->next++;
}

/* Whether run `pick` (result at path) must run: checked before and again
 * after taking its lock into sl.  0: run it (sl holds the lock); 1 / 2:
 * skip, complete / diverged before; 3: not now (locked by another sweep,
 * deferred; or the lock failed, recorded). */
static int check_run(sweep_exec *x, slot *sl, size_t pick, const char *path,
                     const char *label, int from_deferred)
{
    char st[32];
    int skip = 0;
    for (int pass = 0; pass < 2 && !skip; pass++) {
        if (pass == 1) {
            db_err le = { "" };
            sl->lockfd = sweep_lock_take(sl->lockpath, &le);
            if (sl->lockfd == -2) {
                x->deferred[pick] = 1;
                if (!from_deferred)
                    progress(x->o, "         %s: locked by another "
                                   "sweep, will retry\n", label);
                return 3;
            }
            if (sl->lockfd < 0) {
                fail_early(x, pick, le.msg);
                return 3;
            }
        }
        if (x->b->result_complete(path) == 1) {
            skip = 1;
            /* a worker killed between writing its result and removing its
             * checkpoint left the checkpoint behind: the run is done */
            char ck[4200];
            if (db_ckpt_path(ck, sizeof ck, path) == 0)
                unlink(ck);
        } else {
            sweep_result_status(path, st, sizeof st);
            if (strcmp(st, "diverged") == 0)
                skip = 2;
        }
    }
    return skip;
}

/* Run `pick` needs nothing (skip 1: complete, 2: diverged). */
static void record_skip(sweep_exec *x, slot *sl, size_t pick, int skip,
                        const char *label, int from_deferred)
{
    /* a lock file left by a killed sweep: tidy it up */
    if (sl->lockfd < 0 && access(sl->lockpath, F_OK) == 0)
        sl->lockfd = sweep_lock_take(sl->lockpath, NULL);
    if (sl->lockfd >= 0)
        sweep_lock_release(sl->lockpath, sl->lockfd);
    sl->lockfd = -1;
    x->s->outcome[pick] = skip == 1 ? SWEEP_SKIPPED : SWEEP_SKIPPED_DIVERGED;
    if (skip == 1)
        x->s->skipped++;
    else
        x->s->skipped_diverged++;
    x->finished++;
    if (from_deferred)
        progress(x->o, "[%zu/%zu] skip   %s: completed by another "
                       "sweep\n", x->finished, x->plan->n, label);
}

/* Forks the worker of run `pick` into sl, which holds the run's lock. */
static void start_worker(sweep_exec *x, slot *sl, size_t pick,
                         const char *label)
{
    const sweep_run *r = &x->plan->runs[pick];
    int pfd[2];
    if (pipe(pfd) != 0) {
        sweep_lock_release(sl->lockpath, sl->lockfd);
        fail_early(x, pick, strerror(errno));
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        for (int j = 0; j < x->jobs; j++)
            if (x->slots[j].pid > 0) {
                close(x->slots[j].lockfd);
                close(x->slots[j].pipefd);
            }
        worker(x->plan, r, x->o, x->b, pfd[1], x->self);
    }
    close(pfd[1]);
    if (pid < 0) {
        close(pfd[0]);
        sweep_lock_release(sl->lockpath, sl->lockfd);
        fail_early(x, pick, strerror(errno));
        return;
    }
    sl->pid = pid;
    sl->run = pick;
    sl->pipefd = pfd[0];
    sl->start = db_now();
    x->running++;
    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    sweep_log(x->o, "start", r->name, "host=%s pid=%ld slurm=%s", host,
              (long)pid, x->o->job_label ? x->o->job_label : "-");
    progress(x->o, "         start  %s\n", label);
}

/* Starts runs while there are free slots: runs deferred on another sweep's
 * lock are tried once per round, then new ones. */
static void start_runs(sweep_exec *x)
{
    size_t dcur = 0;
    while (x->running < x->jobs && !g_stop) {
        int from_deferred;
        size_t pick = pick_run(x, &dcur, &from_deferred);
        if (pick == x->plan->n)
            break;
        const sweep_run *r = &x->plan->runs[pick];
        char path[4096], label[512];
        sweep_run_label(label, sizeof label, r);
        if (sweep_run_path(path, sizeof path, x->plan, r, "") != 0) {
            fail_early(x, pick, "results path too long");
            continue;
        }
        slot *sl = NULL;
        for (int j = 0; j < x->jobs; j++)
            if (x->slots[j].pid == 0)
                sl = &x->slots[j];
        snprintf(sl->lockpath, sizeof sl->lockpath, "%s.lock", path);
        sl->lockfd = -1;
        int skip = check_run(x, sl, pick, path, label, from_deferred);
        if (skip == 3)
            continue;
        if (skip) {
            record_skip(x, sl, pick, skip, label, from_deferred);
            continue;
        }
        start_worker(x, sl, pick, label);
    }
}

/* The progress line of a run that just ended in slot j's worker. */
static void report_end(sweep_exec *x, size_t ri, double took, double now)
{
    const sweep_summary *s = x->s;
    char label[512], run_list[1024] = "", eta_s[32], took_s[32];
    sweep_run_label(label, sizeof label, &x->plan->runs[ri]);
    size_t m = 0;
    for (int q = 0; q < x->jobs; q++)
        if (x->slots[q].pid > 0 && m < sizeof run_list) {
            char l2[512];
            sweep_run_label(l2, sizeof l2, &x->plan->runs[x->slots[q].run]);
            m += (size_t)snprintf(run_list + m, sizeof run_list - m, "%s%s",
                                  m ? "; " : "", l2);
        }
    double ratio = x->est_done > 0 ? x->real_done / x->est_done : 1.0;
    fmt_duration(eta_s, sizeof eta_s,
                 eta(x->plan, s, x->slots, x->jobs, ratio, now));
    fmt_duration(took_s, sizeof took_s, took);
    static const char *const word[] = {
        "?", "done", "skip", "skip", "DIVERGED", "FAILED", "stopped",
    };
    progress(x->o, "[%zu/%zu] %-6s %s (%s)%s%s | running: %s | ETA %s\n",
             x->finished, x->plan->n, word[s->outcome[ri]], label, took_s,
             s->reason[ri] ? ": " : "", s->reason[ri] ? s->reason[ri] : "",
             run_list[0] ? run_list : "-", eta_s);
}

/* Reaps the workers that have ended (only our own: the caller may have
 * other children).  Returns 1 when one had. */
static int reap_workers(sweep_exec *x)
{
    int status, reaped = 0;
    for (int j = 0; j < x->jobs; j++) {
        if (x->slots[j].pid <= 0)
            continue;
        pid_t pid = waitpid(x->slots[j].pid, &status, WNOHANG);
        if (pid == 0 || (pid < 0 && errno == EINTR))
            continue;
        if (pid < 0) /* cannot happen for our child; do not spin */
            status = 0x7f00; /* "exited 127" */
        reaped = 1;
        double now = db_now();
        size_t ri = x->slots[j].run;
        double took = now - x->slots[j].start;
        finish(x->plan, x->s, &x->slots[j], status, x->b, now, x->o);
        x->running--;
        x->finished++;
        if (x->s->outcome[ri] == SWEEP_DONE ||
            x->s->outcome[ri] == SWEEP_DIVERGED) {
            x->est_done += x->plan->runs[ri].est_seconds;
            x->real_done += took;
        }
        report_end(x, ri, took, now);
    }
    return reaped;
}

/* Stops the workers after a signal to the sweep; what they leave behind is
 * at most a temporary file: results are written by rename. */
static void stop_workers(sweep_exec *x)
{
    for (int j = 0; j < x->jobs; j++)
        if (x->slots[j].pid > 0)
            kill(x->slots[j].pid, SIGTERM);
    double deadline = db_now() + 10.0;
    while (x->running > 0) {
        for (int j = 0; j < x->jobs; j++) {
            int status;
            if (x->slots[j].pid <= 0)
                continue;
            pid_t pid = waitpid(x->slots[j].pid, &status, WNOHANG);
            if (pid == 0 || (pid < 0 && errno == EINTR))
                continue;
            if (pid < 0)
                status = 0x7f00;
            finish(x->plan, x->s, &x->slots[j], status, x->b, db_now(), x->o);
            x->running--;
        }
        if (x->running > 0 && db_now() > deadline)
            for (int j = 0; j < x->jobs; j++)
                if (x->slots[j].pid > 0)
                    kill(x->slots[j].pid, SIGKILL);
        db_sleep(0.02);
    }
}

/* x's state for plan and o, with s's per-run arrays; -1 (s freed) when
 * out of memory or the results folder cannot be made. */
static int exec_init(sweep_exec *x, const sweep_plan *plan, const sweep_options *o,
                     sweep_summary *s, db_err *e)
{
    memset(s, 0, sizeof *s);
    memset(x, 0, sizeof *x);
    x->plan = plan;
    x->o = o;
    x->s = s;
    x->b = o->backend ? o->backend : &sweep_backend_default;
    int maxthreads = 1;
    for (size_t i = 0; i < plan->n; i++)
        if (plan->runs[i].threads > maxthreads)
            maxthreads = plan->runs[i].threads;
    x->jobs = o->jobs > 0 ? o->jobs : sweep_default_jobs(maxthreads);
    s->total = plan->n;
    size_t n = plan->n ? plan->n : 1;
    s->outcome = calloc(n, sizeof *s->outcome);
    s->reason = calloc(n, sizeof *s->reason);
    x->slots = calloc((size_t)x->jobs, sizeof *x->slots);
    x->deferred = calloc(n, 1);
    int rc = 0;
    if (!s->outcome || !s->reason || !x->slots || !x->deferred)
        rc = db_fail(e, "sweep: out of memory");
    else if (db_mkdirs(plan->results_dir, e) != 0)
        rc = -1;
    if (rc != 0) {
        free(x->slots);
        free(x->deferred);
        sweep_summary_free(s);
    }
    return rc;
}

/* The signal handlers of a sweep (stop on SIGINT/SIGTERM, reap on
 * SIGCHLD), and the caller's, restored by restore_signals. */
typedef struct exec_signals {
    struct sigaction old_int, old_term, old_chld;
} exec_signals;

static void install_signals(exec_signals *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    g_stop = 0;
    sigaction(SIGINT, &sa, &old->old_int);
    sigaction(SIGTERM, &sa, &old->old_term);
    sa.sa_handler = on_child;
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, &old->old_chld);
}

static void restore_signals(const exec_signals *old)
{
    sigaction(SIGINT, &old->old_int, NULL);
    sigaction(SIGTERM, &old->old_term, NULL);
    sigaction(SIGCHLD, &old->old_chld, NULL);
}

int sweep_execute(const sweep_plan *plan, const sweep_options *o,
                  sweep_summary *s, db_err *e)
{
    sweep_exec x;
    if (exec_init(&x, plan, o, s, e) != 0)
        return -1;
    double poll = o->poll_seconds > 0 ? o->poll_seconds : 0.05;
    exec_signals old;
    install_signals(&old);

    double t0 = db_now();
    x.self = getpid();
    progress(o, "sweep %s: %zu runs, %d job(s) -> %s\n", plan->name, plan->n,
             x.jobs, plan->results_dir);
    note_other_versions(stderr, plan, x.b);
    for (;;) {
        if (g_stop)
            break;
        start_runs(&x);
        if (x.running == 0) {
            int any_deferred = 0;
            for (size_t i = 0; i < plan->n; i++)
                any_deferred |= x.deferred[i];
            if (!any_deferred && x.next >= plan->n)
                break;
            db_sleep(poll); /* waiting for another sweep's lock */
            continue;
        }
        if (!reap_workers(&x))
            db_sleep(poll);
    }
    if (g_stop) {
        stop_workers(&x);
        s->signal = g_stop;
    }
    for (size_t i = 0; i < plan->n; i++)
        if (s->outcome[i] == SWEEP_PENDING)
            s->pending++;
    s->seconds = db_now() - t0;
    restore_signals(&old);
    free(x.slots);
    free(x.deferred);
    return 0;
}

void sweep_summary_print(FILE *f, const sweep_plan *plan,
                         const sweep_summary *s)
{
    char t[32];
    fmt_duration(t, sizeof t, s->seconds);
    fprintf(f, "sweep %s: %zu run(s) in %s: %zu done, %zu skipped (already "
               "complete)",
            plan->name, s->total, t, s->done, s->skipped);
    if (s->skipped_diverged)
        fprintf(f, ", %zu skipped (diverged before)", s->skipped_diverged);
    if (s->diverged)
        fprintf(f, ", %zu diverged", s->diverged);
    fprintf(f, ", %zu failed", s->failed);
    if (s->interrupted)
        fprintf(f, ", %zu interrupted", s->interrupted);
    if (s->pending)
        fprintf(f, ", %zu not started", s->pending);
    fputc('\n', f);
    for (size_t i = 0; i < s->total; i++) {
        int oc = s->outcome[i];
        if (oc != SWEEP_FAILED && oc != SWEEP_DIVERGED &&
            oc != SWEEP_INTERRUPTED)
            continue;
        char label[512];
        sweep_run_label(label, sizeof label, &plan->runs[i]);
        fprintf(f, "  %s %s: %s\n",
                oc == SWEEP_FAILED     ? "failed"
                : oc == SWEEP_DIVERGED ? "diverged"
                                       : "interrupted",
                label,
                s->reason[i] ? s->reason[i]
                             : (oc == SWEEP_DIVERGED ? "see its result file"
                                                     : ""));
    }
    if (s->signal)
        fprintf(f, "stopped by %s: run the same command again to continue\n",
                strsignal(s->signal));
    fprintf(f, "results in %s\n", plan->results_dir);
}
