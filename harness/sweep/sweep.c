/* sweep.c - sweep files -> resolved runs -> worker processes.
 * See sweep.h for the file format and the locking protocol. */
#include "sweep/sweep.h"


#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "util/jsonio.h"
#include "report/report.h"
#include "sweep/slurm.h"

const sweep_backend sweep_backend_default = {
    run_resolve, run_result_name, run_result_complete, run_execute,
};

/* ---------------------------------------------------------------- helpers */

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_seconds(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    nanosleep(&ts, NULL); /* a signal (SIGCHLD) ends it early: fine */
}

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

static int mkdir_p(const char *dir, db_err *e)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return db_fail(e, "%s: path too long", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return db_fail(e, "%s: mkdir: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return db_fail(e, "%s: mkdir: %s", buf, strerror(errno));
    return 0;
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

void sweep_run_label(char *buf, size_t n, const sweep_run *r)
{
    snprintf(buf, n, "%s %s rates=%s seed=%ld%s%s", r->task, r->strategy,
             r->rate ? r->rate : "default", r->seed,
             r->overrides[0] ? " " : "", r->overrides);
}

/* ------------------------------------------------------------ sweep files */

/* Most runs one sweep file may expand to (suite v1 has 98). */
#define SWEEP_MAX_RUNS 20000

/* The scalar request fields a block may set or put on an axis. */
enum { F_EPOCHS, F_LR, F_LIMIT, F_VAL, F_THREADS, F_N };
static const char *const field_name[F_N] = {
    "epochs", "lr", "limit_train", "val", "threads",
};

static int field_index(const char *k)
{
    for (int i = 0; i < F_N; i++)
        if (strcmp(k, field_name[i]) == 0)
            return i;
    return -1;
}

/* Checks a value of field f; what/key name it in messages. */
static int field_check(int f, const cJSON *v, const char *what,
                       const char *key, db_err *e)
{
    if (!cJSON_IsNumber(v))
        return db_fail(e, "%s: \"%s\" must be a number", what, key);
    double x = v->valuedouble;
    if (f == F_LR) {
        if (!(x > 0) || !isfinite(x))
            return db_fail(e, "%s: \"%s\" must be > 0", what, key);
        return 0;
    }
    if (x != floor(x) || x > 1e9)
        return db_fail(e, "%s: \"%s\" must be an integer", what, key);
    if ((f == F_EPOCHS || f == F_THREADS) && x < 1)
        return db_fail(e, "%s: \"%s\" must be >= 1", what, key);
    if (x < 0)
        return db_fail(e, "%s: \"%s\" must be >= 0", what, key);
    return 0;
}

static const char *const top_keys[] = { "name", "description", "results",
                                        "grid" };
static const char *const block_keys[] = { "tasks", "strategies", "seeds",
                                          "rates", "overrides", "epochs",
                                          "lr", "limit_train", "val",
                                          "threads" };

static int in_list(const char *k, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k, list[i]) == 0)
            return 1;
    return 0;
}

#define NELEM(a) (sizeof(a) / sizeof *(a))

/* A block key's value: the block's own, else the top level's. */
static const cJSON *block_get(const cJSON *block, const cJSON *top,
                              const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(block, key);
    if (!v && top != block)
        v = cJSON_GetObjectItemCaseSensitive(top, key);
    return v;
}

static int nonempty_array(const cJSON *v, const char *where, const char *key,
                          db_err *e)
{
    if (!v)
        return db_fail(e, "%s: missing \"%s\"", where, key);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
        return db_fail(e, "%s: \"%s\" must be a non-empty array", where, key);
    return 0;
}

/* Cost model: seconds per epoch on the full training set with one BLAS
 * thread, measured on this project's reference machine; scaled by the share
 * of the training set used, plus a per-epoch test evaluation.  Results
 * already in the results directory replace these when present. */
static const struct {
    const char *task;
    double sec_epoch;
    double train_n;
} cost_table[] = {
    { "mnist-mlp", 14.5, 60000 },
    { "mnist-lenet", 160.0, 60000 },
    { "fashion-lenet", 160.0, 60000 },
    { "cifar-cnn", 145.0, 50000 },
    { "wordlang-gru", 37.0, 100000 },
};

static double estimate_run(const sweep_run *r, const report_set *prior)
{
    double base = 60.0, train_n = 60000;
    for (size_t i = 0; i < NELEM(cost_table); i++)
        if (strcmp(cost_table[i].task, r->task) == 0) {
            base = cost_table[i].sec_epoch;
            train_n = cost_table[i].train_n;
        }
    double frac = r->limit_train > 0 && (double)r->limit_train < train_n
                      ? (double)r->limit_train / train_n
                      : 1.0;
    /* measured: prefer the same task, strategy and limit, then the task */
    double sum = 0, n = 0, sum_t = 0, n_t = 0;
    for (size_t i = 0; prior && i < prior->n; i++) {
        const report_result *p = &prior->res[i];
        if (strcmp(p->task, r->task) != 0 || !isfinite(p->sec_epoch) ||
            p->sec_epoch <= 0)
            continue;
        double pf = p->limit_train > 0 && (double)p->limit_train < train_n
                        ? (double)p->limit_train / train_n
                        : 1.0;
        double full = p->sec_epoch / (pf + 0.06) *
                      (p->threads > 1 ? pow((double)p->threads, 0.7) : 1.0);
        if (strcmp(p->strategy, r->strategy) == 0 &&
            p->limit_train == r->limit_train) {
            sum += full;
            n++;
        }
        sum_t += full;
        n_t++;
    }
    if (n > 0)
        base = sum / n;
    else if (n_t > 0)
        base = sum_t / n_t;
    double speed = r->threads > 1 ? pow((double)r->threads, 0.7) : 1.0;
    return (double)r->epochs * base * (frac + 0.06) / speed;
}

static void run_free(sweep_run *r)
{
    free(r->task);
    free(r->strategy);
    free(r->rate);
    free(r->overrides);
    cJSON_Delete(r->config);
}

void sweep_plan_free(sweep_plan *plan)
{
    for (size_t i = 0; i < plan->n; i++)
        run_free(&plan->runs[i]);
    free(plan->runs);
    free(plan->name);
    free(plan->results_dir);
    memset(plan, 0, sizeof *plan);
}

static long cfg_long(const cJSON *cfg, const char *key, long dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    return cJSON_IsNumber(v) ? (long)v->valuedouble : dflt;
}

/* Resolves one request and appends it to the plan (unless its id repeats). */
static int plan_add(sweep_plan *plan, const run_request *rq,
                    const char *overrides, const sweep_backend *b,
                    const char *what, db_err *e)
{
    sweep_run r;
    memset(&r, 0, sizeof r);
    r.seed = rq->seed;
    char label[512];
    snprintf(label, sizeof label, "%s %s rates=%s seed=%ld%s%s", rq->task,
             rq->strategy, rq->rate ? rq->rate : "default", rq->seed,
             overrides[0] ? " " : "", overrides);
    if (b->resolve(rq, &r.config, r.id, e) != 0)
        return db_prefix(e, "%s: run %zu (%s)", what,
                         plan->n + plan->nduplicates + 1, label);
    if (b->result_name(r.name, sizeof r.name, r.config, r.id, e) != 0) {
        cJSON_Delete(r.config);
        return db_prefix(e, "%s: run %zu (%s)", what,
                         plan->n + plan->nduplicates + 1, label);
    }
    for (size_t i = 0; i < plan->n; i++)
        if (strcmp(plan->runs[i].name, r.name) == 0) {
            cJSON_Delete(r.config);
            plan->nduplicates++;
            return 0;
        }
    r.task = xstrdup(rq->task);
    r.strategy = xstrdup(rq->strategy);
    r.rate = rq->rate ? xstrdup(rq->rate) : NULL;
    r.overrides = xstrdup(overrides);
    r.epochs = (int)cfg_long(r.config, "epochs", rq->epochs > 0 ? rq->epochs : 1);
    r.limit_train = cfg_long(r.config, "limit_train", rq->limit_train);
    r.threads = (int)cfg_long(r.config, "threads", rq->threads > 0 ? rq->threads : 1);
    if (!r.task || !r.strategy || (rq->rate && !r.rate) || !r.overrides)
        goto oom;
    if (plan->n == plan->cap) {
        size_t cap = plan->cap ? plan->cap * 2 : 64;
        sweep_run *nr = realloc(plan->runs, cap * sizeof *nr);
        if (!nr)
            goto oom;
        plan->runs = nr;
        plan->cap = cap;
    }
    plan->runs[plan->n++] = r;
    return 0;
oom:
    run_free(&r);
    return db_fail(e, "%s: out of memory", what);
}

/* Expands one block. */
static int expand_block(sweep_plan *plan, const cJSON *block,
                        const cJSON *top, const char *where,
                        const sweep_options *o, const sweep_backend *b,
                        const char *what, db_err *e)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, block) {
        if (!in_list(it->string, block_keys, NELEM(block_keys)) &&
            (block != top || !in_list(it->string, top_keys, NELEM(top_keys))))
            return db_fail(e, "%s: unknown key \"%s\"", where, it->string);
    }
    const cJSON *tasks = block_get(block, top, "tasks");
    const cJSON *strats = block_get(block, top, "strategies");
    const cJSON *seeds = block_get(block, top, "seeds");
    const cJSON *rates = block_get(block, top, "rates");
    const cJSON *ovr = block_get(block, top, "overrides");
    if (nonempty_array(tasks, where, "tasks", e) ||
        nonempty_array(strats, where, "strategies", e) ||
        nonempty_array(seeds, where, "seeds", e))
        return -1;
    if (rates && nonempty_array(rates, where, "rates", e))
        return -1;
    cJSON_ArrayForEach(it, tasks) if (!cJSON_IsString(it) || !it->valuestring[0])
        return db_fail(e, "%s: \"tasks\" must hold names", where);
    cJSON_ArrayForEach(it, strats) if (!cJSON_IsString(it) || !it->valuestring[0])
        return db_fail(e, "%s: \"strategies\" must hold names", where);
    cJSON_ArrayForEach(it, seeds) if (!cJSON_IsNumber(it) || it->valuedouble < 0 ||
                                      it->valuedouble != floor(it->valuedouble) ||
                                      it->valuedouble > 2e9)
        return db_fail(e, "%s: \"seeds\" must hold integers >= 0", where);
    cJSON_ArrayForEach(it, rates) if (!cJSON_IsNull(it) && !cJSON_IsString(it) &&
                                      !cJSON_IsNumber(it))
        return db_fail(e, "%s: \"rates\" entries must be null, a number or "
                          "a string like \"0.1,0.25\"", where);

    /* scalars and axes */
    const cJSON *scalar[F_N] = { NULL };
    const cJSON *axis[F_N] = { NULL };
    char key[64];
    for (int f = 0; f < F_N; f++) {
        scalar[f] = block_get(block, top, field_name[f]);
        if (scalar[f] && field_check(f, scalar[f], where, field_name[f], e))
            return -1;
    }
    if (ovr) {
        if (!cJSON_IsObject(ovr))
            return db_fail(e, "%s: \"overrides\" must be an object", where);
        cJSON_ArrayForEach(it, ovr) {
            int f = field_index(it->string);
            if (f < 0)
                return db_fail(e, "%s: unknown key \"overrides.%s\" (one of "
                                  "epochs, lr, limit_train, val, threads; "
                                  "rates have their own \"rates\")",
                               where, it->string);
            snprintf(key, sizeof key, "overrides.%s", it->string);
            if (nonempty_array(it, where, key, e))
                return -1;
            if (scalar[f])
                return db_fail(e, "%s: \"%s\" is both a value and an "
                                  "override axis", where, field_name[f]);
            const cJSON *v;
            cJSON_ArrayForEach(v, it) if (field_check(f, v, where, key, e))
                return -1;
            axis[f] = it;
        }
    }

    size_t nrates = rates ? (size_t)cJSON_GetArraySize(rates) : 1;
    /* A typo in a grid (a seed list of 1000 times 3 override axes) must be
     * an error, not hours of resolving and gigabytes of plan. */
    double nblock = (double)cJSON_GetArraySize(tasks) *
                    (double)cJSON_GetArraySize(strats) * (double)nrates *
                    (double)cJSON_GetArraySize(seeds);
    for (int f = 0; f < F_N; f++)
        if (axis[f])
            nblock *= (double)cJSON_GetArraySize(axis[f]);
    if (nblock + (double)(plan->n + plan->nduplicates) > SWEEP_MAX_RUNS)
        return db_fail(e, "%s: expands to %.0f runs; a sweep holds at most %d",
                       where, nblock + (double)(plan->n + plan->nduplicates),
                       SWEEP_MAX_RUNS);
    for (const cJSON *task = tasks->child; task; task = task->next)
    for (const cJSON *st = strats->child; st; st = st->next)
    for (size_t ri = 0; ri < nrates; ri++) {
        char ratebuf[64];
        const char *rate = NULL;
        const cJSON *rv = rates ? cJSON_GetArrayItem(rates, (int)ri) : NULL;
        if (cJSON_IsString(rv)) {
            rate = rv->valuestring;
        } else if (cJSON_IsNumber(rv)) {
            snprintf(ratebuf, sizeof ratebuf, "%.17g", rv->valuedouble);
            /* shortest form that reads back the same */
            for (int p = 1; p <= 17; p++) {
                char tmp[64];
                snprintf(tmp, sizeof tmp, "%.*g", p, rv->valuedouble);
                if (strtod(tmp, NULL) == rv->valuedouble) {
                    memcpy(ratebuf, tmp, sizeof tmp);
                    break;
                }
            }
            rate = ratebuf;
        }
        /* odometer over the override axes */
        int pos[F_N] = { 0 };
        for (;;) {
            run_request rq;
            run_request_init(&rq);
            rq.task = task->valuestring;
            rq.strategy = st->valuestring;
            rq.rate = rate;
            rq.data_root = o ? o->data_root : NULL;
            char ovtext[256] = "";
            size_t ol = 0;
            for (int f = 0; f < F_N; f++) {
                const cJSON *v = scalar[f];
                if (axis[f]) {
                    v = cJSON_GetArrayItem(axis[f], pos[f]);
                    ol += (size_t)snprintf(ovtext + ol,
                                           ol < sizeof ovtext ? sizeof ovtext - ol : 0,
                                           "%s%s=%g", ol ? " " : "",
                                           field_name[f], v->valuedouble);
                }
                if (!v)
                    continue;
                switch (f) {
                case F_EPOCHS: rq.epochs = (int)v->valuedouble; break;
                case F_LR: rq.lr = v->valuedouble; break;
                case F_LIMIT: rq.limit_train = (long)v->valuedouble; break;
                case F_VAL: rq.val = (long)v->valuedouble; break;
                case F_THREADS: rq.threads = (int)v->valuedouble; break;
                }
            }
            if (o && o->threads > 0)
                rq.threads = o->threads;
            for (const cJSON *sd = seeds->child; sd; sd = sd->next) {
                rq.seed = (long)sd->valuedouble;
                if (plan_add(plan, &rq, ovtext, b, what, e) != 0)
                    return -1;
            }
            int f = F_N - 1;
            for (; f >= 0; f--) {
                if (!axis[f])
                    continue;
                if (++pos[f] < cJSON_GetArraySize(axis[f]))
                    break;
                pos[f] = 0;
            }
            if (f < 0)
                break;
        }
    }
    return 0;
}

int sweep_plan_from_json(sweep_plan *plan, const cJSON *root, const char *what,
                         const sweep_options *o, db_err *e)
{
    memset(plan, 0, sizeof *plan);
    const sweep_backend *b = o && o->backend ? o->backend : &sweep_backend_default;
    if (!cJSON_IsObject(root))
        return db_fail(e, "%s: a sweep is a JSON object", what);
    const cJSON *it;
    cJSON_ArrayForEach(it, root) {
        if (!in_list(it->string, top_keys, NELEM(top_keys)) &&
            !in_list(it->string, block_keys, NELEM(block_keys)))
            return db_fail(e, "%s: unknown key \"%s\"", what, it->string);
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(root, "description");
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(root, "results");
    const cJSON *grid = cJSON_GetObjectItemCaseSensitive(root, "grid");
    if (!cJSON_IsString(name) || !name->valuestring[0] ||
        strpbrk(name->valuestring, "/ \t\n"))
        return db_fail(e, "%s: \"name\" must be a non-empty string without "
                          "'/' or spaces", what);
    if (desc && !cJSON_IsString(desc))
        return db_fail(e, "%s: \"description\" must be a string", what);
    if (res && (!cJSON_IsString(res) || !res->valuestring[0]))
        return db_fail(e, "%s: \"results\" must be a directory name", what);
    if (grid && (!cJSON_IsArray(grid) || cJSON_GetArraySize(grid) == 0))
        return db_fail(e, "%s: \"grid\" must be a non-empty array of objects",
                       what);

    char dirbuf[4096];
    if (o && o->results_dir)
        snprintf(dirbuf, sizeof dirbuf, "%s", o->results_dir);
    else if (res)
        snprintf(dirbuf, sizeof dirbuf, "%s", res->valuestring);
    else
        snprintf(dirbuf, sizeof dirbuf, "results/%s", name->valuestring);
    plan->name = xstrdup(name->valuestring);
    plan->results_dir = xstrdup(dirbuf);
    if (!plan->name || !plan->results_dir) {
        sweep_plan_free(plan);
        return db_fail(e, "%s: out of memory", what);
    }

    int rc = 0;
    if (grid) {
        int bi = 0;
        cJSON_ArrayForEach(it, grid) {
            char where[512];
            snprintf(where, sizeof where, "%s: grid[%d]", what, bi++);
            if (!cJSON_IsObject(it)) {
                rc = db_fail(e, "%s: must be an object", where);
                break;
            }
            if ((rc = expand_block(plan, it, root, where, o, b, what, e)) != 0)
                break;
        }
    } else {
        rc = expand_block(plan, root, root, what, o, b, what, e);
    }
    if (rc != 0) {
        sweep_plan_free(plan);
        return -1;
    }

    /* cost estimates, from earlier results when there are any */
    report_set prior;
    memset(&prior, 0, sizeof prior);
    int have_prior = report_load(&prior, plan->results_dir, NULL) == 0;
    for (size_t i = 0; i < plan->n; i++)
        plan->runs[i].est_seconds =
            estimate_run(&plan->runs[i], have_prior ? &prior : NULL);
    report_set_free(&prior);
    return 0;
}

int sweep_plan_load(sweep_plan *plan, const char *path,
                    const sweep_options *o, db_err *e)
{
    memset(plan, 0, sizeof *plan);
    FILE *f = fopen(path, "rb");
    if (!f)
        return db_fail(e, "%s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = cap <= (16u << 20) ? realloc(buf, cap) : NULL;
            if (!nb) {
                free(buf);
                fclose(f);
                return db_fail(e, "%s: too large or out of memory", path);
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return db_fail(e, "%s: read error", path);
    }
    cJSON *root = cJSON_ParseWithLength(buf, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t line = 1;
        for (const char *p = buf; at && p < at && p < buf + len; p++)
            line += *p == '\n';
        free(buf);
        return db_fail(e, "%s: invalid JSON near line %zu", path, line);
    }
    free(buf);
    int rc = sweep_plan_from_json(plan, root, path, o, e);
    cJSON_Delete(root);
    return rc;
}

/* ---------------------------------------------------------------- filters */

static int filter_cond(const sweep_run *r, const char *cond, db_err *e,
                       int *match)
{
    const char *eq = strchr(cond, '=');
    if (!eq) {
        *match = fnmatch(cond, r->name, 0) == 0;
        return 0;
    }
    char key[32];
    size_t kl = (size_t)(eq - cond);
    if (kl >= sizeof key)
        return db_fail(e, "--filter: unknown key in '%s'", cond);
    memcpy(key, cond, kl);
    key[kl] = '\0';
    const char *pat = eq + 1;
    char seed[32];
    snprintf(seed, sizeof seed, "%ld", r->seed);
    const char *val;
    if (strcmp(key, "task") == 0)
        val = r->task;
    else if (strcmp(key, "strategy") == 0)
        val = r->strategy;
    else if (strcmp(key, "rates") == 0 || strcmp(key, "rate") == 0)
        val = r->rate ? r->rate : "default";
    else if (strcmp(key, "seed") == 0)
        val = seed;
    else if (strcmp(key, "name") == 0)
        val = r->name;
    else
        return db_fail(e, "--filter: unknown key '%s' (task, strategy, "
                          "rates, seed or name)", key);
    *match = fnmatch(pat, val, 0) == 0;
    return 0;
}

/* Conditions are separated by ',' except inside a rates value, which may
 * itself hold commas ("rates=0.1,0.25"): a part without '=' that follows a
 * rates condition continues it. */
static int filter_match(const sweep_run *r, const char *filter, db_err *e,
                        int *match)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", filter) >= (int)sizeof buf)
        return db_fail(e, "--filter: too long");
    char *conds[64];
    size_t nc = 0;
    for (char *p = buf; p && nc < 64;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (nc > 0 && !strchr(p, '=') &&
            (strncmp(conds[nc - 1], "rates=", 6) == 0 ||
             strncmp(conds[nc - 1], "rate=", 5) == 0))
            p[-1] = ','; /* glue back onto the rates condition */
        else
            conds[nc++] = p;
        p = comma ? comma + 1 : NULL;
    }
    *match = 1;
    for (size_t i = 0; i < nc; i++) {
        int m = 0;
        if (conds[i][0] == '\0')
            return db_fail(e, "--filter: empty condition in '%s'", filter);
        if (filter_cond(r, conds[i], e, &m) != 0)
            return -1;
        if (!m)
            *match = 0;
    }
    return 0;
}

int sweep_plan_filter(sweep_plan *plan, const char *const *filters,
                      size_t nfilters, db_err *e)
{
    if (nfilters == 0)
        return 0;
    size_t w = 0;
    for (size_t i = 0; i < plan->n; i++) {
        int keep = 0;
        for (size_t f = 0; f < nfilters; f++) {
            int m = 0;
            if (filter_match(&plan->runs[i], filters[f], e, &m) != 0) {
                for (size_t j = i; j < plan->n; j++)
                    run_free(&plan->runs[j]);
                plan->n = w;
                return -1;
            }
            keep |= m;
        }
        if (keep)
            plan->runs[w++] = plan->runs[i];
        else
            run_free(&plan->runs[i]);
    }
    plan->n = w;
    return 0;
}

/* ------------------------------------------------------------------ locks */

static int run_path(char *buf, size_t n, const sweep_plan *plan,
                    const sweep_run *r, const char *suffix)
{
    return snprintf(buf, n, "%s/%s%s", plan->results_dir, r->name, suffix) <
                   (int)n
               ? 0
               : -1;
}

/* Takes the run's lock: fd >= 0, -2 when another process holds it, -1 on
 * error.  The file may be unlinked by a holder that finishes; a lock on an
 * unlinked file protects nothing, so the inode is checked after locking. */
static int lock_take(const char *path, db_err *e)
{
    for (int tries = 0; tries < 100; tries++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return db_fail(e, "%s: %s", path, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int err = errno;
            close(fd);
            if (err == EWOULDBLOCK)
                return -2;
            if (err == EINTR)
                continue;
            return db_fail(e, "%s: flock: %s", path, strerror(err));
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev) {
            char txt[64];
            int m = snprintf(txt, sizeof txt, "%ld\n", (long)getpid());
            if (ftruncate(fd, 0) == 0 && write(fd, txt, (size_t)m) < 0) {
                /* the pid is informational only */
            }
            return fd;
        }
        close(fd);
    }
    return db_fail(e, "%s: lock file keeps changing", path);
}

static void lock_release(const char *path, int fd)
{
    if (fd < 0)
        return;
    unlink(path); /* while still holding it: see lock_take */
    close(fd);
}

int sweep_lock_busy(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int busy = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return busy;
}

void sweep_result_status(const char *path, char *buf, size_t n)
{
    buf[0] = '\0';
    cJSON *j = NULL;
    if (access(path, F_OK) != 0 || db_json_load(&j, path, NULL) != 0)
        return;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
    if (cJSON_IsString(st))
        snprintf(buf, n, "%s", st->valuestring);
    cJSON_Delete(j);
}

/* ---------------------------------------------------------------- dry run */

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
        if (run_path(path, sizeof path, plan, r, "") == 0) {
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
    fprintf(f, "estimated cost: %s of worker time to run (%s for all); about "
               "%s wall with %d job(s) of %d thread(s)\n",
            t, a, wall, jobs, maxthreads);
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
    s->reason[i] = xstrdup(msg);
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

/* One line appended to o->log_path (see sweep.h), in a single write so that
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
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
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
    run_path(path, sizeof path, plan, r, "");
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
    lock_release(sl->lockpath, sl->lockfd);
    sl->pid = 0;
    sl->lockfd = sl->pipefd = -1;
}

int sweep_execute(const sweep_plan *plan, const sweep_options *o,
                  sweep_summary *s, db_err *e)
{
    memset(s, 0, sizeof *s);
    const sweep_backend *b = o->backend ? o->backend : &sweep_backend_default;
    double poll = o->poll_seconds > 0 ? o->poll_seconds : 0.05;
    int maxthreads = 1;
    for (size_t i = 0; i < plan->n; i++)
        if (plan->runs[i].threads > maxthreads)
            maxthreads = plan->runs[i].threads;
    int jobs = o->jobs > 0 ? o->jobs : sweep_default_jobs(maxthreads);
    s->total = plan->n;
    s->outcome = calloc(plan->n ? plan->n : 1, sizeof *s->outcome);
    s->reason = calloc(plan->n ? plan->n : 1, sizeof *s->reason);
    slot *slots = calloc((size_t)jobs, sizeof *slots);
    unsigned char *deferred = calloc(plan->n ? plan->n : 1, 1);
    if (!s->outcome || !s->reason || !slots || !deferred) {
        free(slots);
        free(deferred);
        sweep_summary_free(s);
        return db_fail(e, "sweep: out of memory");
    }
    if (mkdir_p(plan->results_dir, e) != 0) {
        free(slots);
        free(deferred);
        sweep_summary_free(s);
        return -1;
    }

    struct sigaction sa, old_int, old_term, old_chld;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    g_stop = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sa.sa_handler = on_child;
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, &old_chld);

    double t0 = now_seconds();
    double est_done = 0, real_done = 0; /* for the ETA correction */
    size_t next = 0, finished = 0;
    int running = 0;
    pid_t self = getpid();
    progress(o, "sweep %s: %zu runs, %d job(s) -> %s\n", plan->name, plan->n,
             jobs, plan->results_dir);

    for (;;) {
        if (g_stop)
            break;
        /* start runs while there are free slots: runs deferred on another
         * sweep's lock are tried once per round, then new ones */
        size_t dcur = 0;
        while (running < jobs && !g_stop) {
            size_t pick = plan->n;
            int from_deferred = 0;
            for (; dcur < next; dcur++)
                if (deferred[dcur]) {
                    pick = dcur++;
                    from_deferred = 1;
                    deferred[pick] = 0;
                    break;
                }
            if (pick == plan->n) {
                if (next >= plan->n)
                    break;
                pick = next++;
            }
            const sweep_run *r = &plan->runs[pick];
            char path[4096], label[512];
            sweep_run_label(label, sizeof label, r);
            if (run_path(path, sizeof path, plan, r, "") != 0) {
                s->outcome[pick] = SWEEP_FAILED;
                set_reason(s, pick, "results path too long");
                s->failed++;
                finished++;
                continue;
            }
            slot *sl = NULL;
            for (int j = 0; j < jobs; j++)
                if (slots[j].pid == 0)
                    sl = &slots[j];
            snprintf(sl->lockpath, sizeof sl->lockpath, "%s.lock", path);
            sl->lockfd = -1;
            char st[32];
            int skip = 0;
            for (int pass = 0; pass < 2 && !skip; pass++) {
                /* before and again after taking the lock */
                if (pass == 1) {
                    db_err le = { "" };
                    sl->lockfd = lock_take(sl->lockpath, &le);
                    if (sl->lockfd == -2) {
                        deferred[pick] = 1;
                        if (!from_deferred)
                            progress(o, "         %s: locked by another "
                                        "sweep, will retry\n", label);
                        skip = 3;
                        break;
                    }
                    if (sl->lockfd < 0) {
                        s->outcome[pick] = SWEEP_FAILED;
                        set_reason(s, pick, le.msg);
                        s->failed++;
                        finished++;
                        skip = 3;
                        break;
                    }
                }
                if (b->result_complete(path) == 1) {
                    skip = 1;
                } else {
                    sweep_result_status(path, st, sizeof st);
                    if (strcmp(st, "diverged") == 0)
                        skip = 2;
                }
            }
            if (skip == 3)
                continue;
            if (skip) {
                /* a lock file left by a killed sweep: tidy it up */
                if (sl->lockfd < 0 && access(sl->lockpath, F_OK) == 0)
                    sl->lockfd = lock_take(sl->lockpath, NULL);
                if (sl->lockfd >= 0)
                    lock_release(sl->lockpath, sl->lockfd);
                sl->lockfd = -1;
                s->outcome[pick] =
                    skip == 1 ? SWEEP_SKIPPED : SWEEP_SKIPPED_DIVERGED;
                if (skip == 1)
                    s->skipped++;
                else
                    s->skipped_diverged++;
                finished++;
                if (from_deferred)
                    progress(o, "[%zu/%zu] skip   %s: completed by another "
                                "sweep\n", finished, plan->n, label);
                continue;
            }
            int pfd[2];
            if (pipe(pfd) != 0) {
                lock_release(sl->lockpath, sl->lockfd);
                s->outcome[pick] = SWEEP_FAILED;
                set_reason(s, pick, strerror(errno));
                s->failed++;
                finished++;
                continue;
            }
            fflush(NULL);
            pid_t pid = fork();
            if (pid == 0) {
                close(pfd[0]);
                for (int j = 0; j < jobs; j++)
                    if (slots[j].pid > 0) {
                        close(slots[j].lockfd);
                        close(slots[j].pipefd);
                    }
                worker(plan, r, o, b, pfd[1], self);
            }
            close(pfd[1]);
            if (pid < 0) {
                close(pfd[0]);
                lock_release(sl->lockpath, sl->lockfd);
                s->outcome[pick] = SWEEP_FAILED;
                set_reason(s, pick, strerror(errno));
                s->failed++;
                finished++;
                continue;
            }
            sl->pid = pid;
            sl->run = pick;
            sl->pipefd = pfd[0];
            sl->start = now_seconds();
            running++;
            {
                char host[256] = "?", job[96] = "-";
                gethostname(host, sizeof host - 1);
                host[sizeof host - 1] = '\0';
                slurm_job_label(job, sizeof job);
                sweep_log(o, "start", r->name, "host=%s pid=%ld slurm=%s",
                          host, (long)pid, job);
            }
            progress(o, "         start  %s\n", label);
        }

        if (running == 0) {
            int any_deferred = 0;
            for (size_t i = 0; i < plan->n; i++)
                any_deferred |= deferred[i];
            if (!any_deferred && next >= plan->n)
                break;
            sleep_seconds(poll); /* waiting for another sweep's lock */
            continue;
        }

        /* only our own workers are waited for: the caller may have other
         * children */
        int status, reaped = 0;
        for (int j = 0; j < jobs; j++) {
            if (slots[j].pid <= 0)
                continue;
            pid_t pid = waitpid(slots[j].pid, &status, WNOHANG);
            if (pid == 0 || (pid < 0 && errno == EINTR))
                continue;
            if (pid < 0) /* cannot happen for our child; do not spin */
                status = 0x7f00; /* "exited 127" */
            reaped = 1;
            double now = now_seconds();
            size_t ri = slots[j].run;
            double took = now - slots[j].start;
            finish(plan, s, &slots[j], status, b, now, o);
            running--;
            finished++;
            if (s->outcome[ri] == SWEEP_DONE || s->outcome[ri] == SWEEP_DIVERGED) {
                est_done += plan->runs[ri].est_seconds;
                real_done += took;
            }
            char label[512], run_list[1024] = "", eta_s[32], took_s[32];
            sweep_run_label(label, sizeof label, &plan->runs[ri]);
            size_t m = 0;
            for (int q = 0; q < jobs; q++)
                if (slots[q].pid > 0 && m < sizeof run_list) {
                    char l2[512];
                    sweep_run_label(l2, sizeof l2, &plan->runs[slots[q].run]);
                    m += (size_t)snprintf(run_list + m, sizeof run_list - m,
                                          "%s%s", m ? "; " : "", l2);
                }
            double ratio = est_done > 0 ? real_done / est_done : 1.0;
            fmt_duration(eta_s, sizeof eta_s,
                         eta(plan, s, slots, jobs, ratio, now));
            fmt_duration(took_s, sizeof took_s, took);
            static const char *const word[] = {
                "?", "done", "skip", "skip", "DIVERGED", "FAILED", "stopped",
            };
            progress(o, "[%zu/%zu] %-6s %s (%s)%s%s | running: %s | ETA %s\n",
                     finished, plan->n, word[s->outcome[ri]], label, took_s,
                     s->reason[ri] ? ": " : "",
                     s->reason[ri] ? s->reason[ri] : "",
                     run_list[0] ? run_list : "-", eta_s);
        }
        if (!reaped)
            sleep_seconds(poll);
    }

    if (g_stop) {
        /* stop the workers; what they leave behind is at most a temporary
         * file: results are written by rename */
        for (int j = 0; j < jobs; j++)
            if (slots[j].pid > 0)
                kill(slots[j].pid, SIGTERM);
        double deadline = now_seconds() + 10.0;
        while (running > 0) {
            for (int j = 0; j < jobs; j++) {
                int status;
                if (slots[j].pid <= 0)
                    continue;
                pid_t pid = waitpid(slots[j].pid, &status, WNOHANG);
                if (pid == 0 || (pid < 0 && errno == EINTR))
                    continue;
                if (pid < 0)
                    status = 0x7f00;
                finish(plan, s, &slots[j], status, b, now_seconds(), o);
                running--;
            }
            if (running > 0 && now_seconds() > deadline)
                for (int j = 0; j < jobs; j++)
                    if (slots[j].pid > 0)
                        kill(slots[j].pid, SIGKILL);
            sleep_seconds(0.02);
        }
        s->signal = g_stop;
    }
    for (size_t i = 0; i < plan->n; i++)
        if (s->outcome[i] == SWEEP_PENDING)
            s->pending++;
    s->seconds = now_seconds() - t0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGCHLD, &old_chld, NULL);
    free(slots);
    free(deferred);
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

/* -------------------------------------------------------------------- CLI */

static void sweep_usage(FILE *f)
{
    fputs("usage: dropbench sweep SWEEP.json [--jobs N] [--threads N] "
          "[--dry-run]\n"
          "                       [--filter EXPR]... [--results DIR] "
          "[--data DIR] [--quiet]\n"
          "  Runs every run of the sweep's grid that has no complete result "
          "yet,\n"
          "  N at a time (default: one per core, one BLAS thread each).\n"
          "  --filter task=mnist-*,strategy=hinton,seed=0 (globs; repeat to "
          "OR)\n"
          "  --dry-run lists the runs with their state and estimated cost.\n"
          "  Each run's start and end is appended to <results>/sweep.log.\n"
          "\n",
          f);
    slurm_usage(f);
}

static int parse_int(const char *s, int lo, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > 4096)
        return -1;
    *out = (int)v;
    return 0;
}

int cmd_sweep(int argc, char **argv)
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
        { NULL, 0, NULL, 0 },
    };
    int slurm_rc = slurm_cmd_sweep(argc, argv);
    if (slurm_rc >= 0) /* --slurm, --index or --status */
        return slurm_rc;
    sweep_options o;
    memset(&o, 0, sizeof o);
    o.progress = stderr;
    int dry = 0;
    const char **filters = calloc((size_t)argc + 1, sizeof *filters);
    if (!filters)
        return 2;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "j:t:nf:r:d:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            if (parse_int(optarg, 1, &o.jobs) != 0) {
                fprintf(stderr, "dropbench sweep: --jobs wants a number >= 1\n");
                free(filters);
                return 2;
            }
            break;
        case 't':
            if (parse_int(optarg, 1, &o.threads) != 0) {
                fprintf(stderr, "dropbench sweep: --threads wants a number >= 1\n");
                free(filters);
                return 2;
            }
            break;
        case 'n': dry = 1; break;
        case 'f': filters[o.nfilters++] = optarg; break;
        case 'r': o.results_dir = optarg; break;
        case 'd': o.data_root = optarg; break;
        case 'q': o.progress = NULL; break;
        case 'h': sweep_usage(stdout); free(filters); return 0;
        default: sweep_usage(stderr); free(filters); return 2;
        }
    }
    if (optind != argc - 1) {
        sweep_usage(stderr);
        free(filters);
        return 2;
    }
    o.filters = filters;

    db_err e = { "" };
    sweep_plan plan;
    if (sweep_plan_load(&plan, argv[optind], &o, &e) != 0) {
        fprintf(stderr, "dropbench sweep: %s\n", e.msg);
        free(filters);
        return 2;
    }
    size_t before = plan.n;
    if (sweep_plan_filter(&plan, o.filters, o.nfilters, &e) != 0) {
        fprintf(stderr, "dropbench sweep: %s\n", e.msg);
        sweep_plan_free(&plan);
        free(filters);
        return 2;
    }
    if (o.nfilters && o.progress)
        fprintf(o.progress, "dropbench sweep: --filter kept %zu of %zu runs\n",
                plan.n, before);
    int rc = 0;
    char log_path[4200];
    if (snprintf(log_path, sizeof log_path, "%s/sweep.log", plan.results_dir) <
        (int)sizeof log_path)
        o.log_path = log_path;
    if (dry) {
        sweep_dry_run(stdout, &plan, &o);
    } else {
        sweep_summary s;
        if (sweep_execute(&plan, &o, &s, &e) != 0) {
            fprintf(stderr, "dropbench sweep: %s\n", e.msg);
            rc = 2;
        } else {
            fflush(stderr);
            sweep_summary_print(stdout, &plan, &s);
            rc = s.signal ? 128 + s.signal
                 : (s.failed || s.interrupted || s.pending) ? 1
                                                            : 0;
            sweep_summary_free(&s);
        }
    }
    sweep_plan_free(&plan);
    free(filters);
    return rc;
}
