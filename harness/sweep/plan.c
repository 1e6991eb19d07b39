/* plan.c - sweep file -> the plan: blocks expanded into runs, each
 * resolved (run_resolve), deduplicated, filtered and costed.  See plan.h. */
#include "sweep/plan.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/results.h"
#include "strategy.h"
#include "train/model.h"
#include "train/runcfg.h"
#include "util/blas.h" /* db_cpu_model, db_cpu_id */
#include "util/jsonio.h"
#include "util/str.h"

const sweep_backend sweep_backend_default = {
    run_resolve, run_result_name, run_result_complete, run_execute,
};

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
enum { F_EPOCHS, F_LR, F_LIMIT, F_VAL, F_THREADS, F_MC, F_N };
static const char *const field_name[F_N] = {
    "epochs", "lr", "limit_train", "val", "threads", "mc_samples",
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
    if ((f == F_EPOCHS || f == F_THREADS || f == F_MC) && x < 1)
        return db_fail(e, "%s: \"%s\" must be >= 1", what, key);
    if (x < 0)
        return db_fail(e, "%s: \"%s\" must be >= 0", what, key);
    return 0;
}

static const char *const top_keys[] = { "name", "description", "results",
                                        "grid", "strategy_files" };
static const char *const block_keys[] = { "tasks", "strategies", "seeds",
                                          "rates", "overrides", "epochs",
                                          "lr", "limit_train", "val",
                                          "threads", "mc_samples" };
/* the top level takes both */
static const char *const all_keys[] = { "name", "description", "results", "grid",
                                        "strategy_files", "tasks", "strategies",
                                        "seeds", "rates", "overrides", "epochs",
                                        "lr", "limit_train", "val", "threads",
                                        "mc_samples" };

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

/* Cost model (issue 20): seconds per epoch on the full training set with
 * one BLAS thread, scaled by the share of the training set used (plus a
 * per-epoch test evaluation, 0.06 of a full epoch), plus the data loading,
 * calibrated from completed results of the same task on this machine's
 * kind of CPU (environment.cpu_id, else environment.cpu: same_machine):
 * first those in the sweep's own results folder, then, when that folder is
 * in a folder named results, those of the folders beside it
 * (results/suite-v1 for results/new); the same strategy and training-set
 * size when there are some, else any strategy of the task.  Without any, the table below:
 * the suite's results on the development machine (AMD EPYC, 2 cores, two
 * 1-thread runs at a time), a rough guide; a task not in the table is
 * costed from its model's FLOPs (flops_epoch).  The source is named per
 * run (sweep_run.est_source) and shown by --dry-run. */
static const struct {
    const char *task;
    double sec_epoch;
    double train_n;
} cost_table[] = {
    /* medians of the complete suite-v1 (code version 8, 98 runs) and of
     * placements-16's wordlang-gru2 runs (10 of them) */
    { "mnist-mlp", 13.9, 60000 },     /* 20 runs */
    { "mnist-lenet", 90.4, 60000 },   /* 21 runs */
    { "fashion-lenet", 45.0, 60000 }, /* 21 runs */
    { "cifar-cnn", 29.5, 50000 },     /* 21 runs (revision 2) */
    /* cifar-cnn's, scaled by make bench's 2-concurrent throughputs of the
     * two (2508 and 4131 ex/s, results/bench/table.md, code version 9) */
    { "cifar-bn", 48.6, 50000 },
    { "wordlang-gru", 20.6, 100000 }, /* 15 runs */
    { "wordlang-gru2", 17.4, 100000 },/* 10 runs */
};

typedef struct est_pool {
    const report_set *set;
    const char *where;   /* "this results folder" or the folder's path */
} est_pool;

/* Mean full-epoch seconds (and load seconds) over the results of pool
 * that match r (same strategy and limit when strict); 0 when none. */
/* This machine, as results record it (environment.cpu and .cpu_id). */
typedef struct est_machine {
    char cpu[256], cpu_id[128];
} est_machine;

/* Whether result p was measured on this machine's kind of CPU: by vendor,
 * family and model where p records them, else by model name (results
 * made before environment.cpu_id existed; a VM's model name may cover
 * several kinds of CPU). */
static int same_machine(const report_result *p, const est_machine *m)
{
    if (p->cpu_id)
        return strcmp(p->cpu_id, m->cpu_id) == 0;
    return !p->cpu || strcmp(p->cpu, m->cpu) == 0;
}

static int calibrate(const sweep_run *r, const est_pool *pool, const est_machine *mach,
                     double train_n, int strict, double *full, double *load)
{
    double sum = 0, lsum = 0;
    int n = 0, nl = 0;
    for (size_t i = 0; pool->set && i < pool->set->n; i++) {
        const report_result *p = &pool->set->res[i];
        if (strcmp(p->task, r->task) != 0 || p->framework || !isfinite(p->sec_epoch) ||
            p->sec_epoch <= 0 || strcmp(p->status, "complete") != 0)
            continue;
        if (!same_machine(p, mach))
            continue; /* another machine's times */
        if (strict && (strcmp(p->strategy, r->strategy) != 0 ||
                       p->limit_train != r->limit_train))
            continue;
        double pf = p->limit_train > 0 && (double)p->limit_train < train_n
                        ? (double)p->limit_train / train_n
                        : 1.0;
        sum += p->sec_epoch / (pf + 0.06) *
               (p->threads > 1 ? pow((double)p->threads, 0.7) : 1.0);
        n++;
        if (isfinite(p->load_sec) && p->load_sec >= 0) {
            lsum += p->load_sec;
            nl++;
        }
    }
    if (n) {
        *full = sum / n;
        *load = nl ? lsum / nl : 0;
    }
    return n;
}

/* A task in neither the table nor the results (a user's own model, the
 * reproduction presets): a full epoch's seconds on one thread from its
 * model's training FLOPs per example (db_model_flops: the matrix
 * products), the conv layers' at DB_EST_CONV_GFLOPS and the rest at
 * DB_EST_GFLOPS.  The two rates are fitted to the six tasks of the table
 * with results (suite-v1 and placements-16, code version 8: the medians of
 * their measured epochs), which they predict within 0.7x-1.4x; the conv
 * rate counts direct-convolution FLOPs, which the Winograd and fused
 * kernels beat.  A GRU counts DB_EST_GRU_STEPS steps per example (the
 * mean length of wordlang's training words, 10.45 bytes).  0 when the
 * model cannot be built (run_resolve has built it once already). */
#define DB_EST_CONV_GFLOPS 185.0
#define DB_EST_GFLOPS 28.0
#define DB_EST_GRU_STEPS 10.5
static double flops_epoch(const sweep_run *r, double *train_n)
{
    run_config *rc = malloc(sizeof *rc);
    db_model_input in;
    db_model m;
    db_err e;
    double fwd = 0, train = 0, conv = 0, n = 0;
    if (rc && r->config && run_config_from_canonical(rc, r->config, &e) == 0 &&
        run_data_input(&in, rc->data, &e) == 0 &&
        db_model_build(&m, &rc->arch, &in, 1, &e) == 0) {
        db_model_flops(&m, in.text ? DB_EST_GRU_STEPS : 0, &fwd, &train, &conv);
        n = (double)run_data_train_size(rc->data);
        db_model_free(&m);
    }
    free(rc);
    if (n > 0)
        *train_n = n;
    return n * (conv / (DB_EST_CONV_GFLOPS * 1e9) + (train - conv) / (DB_EST_GFLOPS * 1e9));
}

static double estimate_run(sweep_run *r, const est_pool *pools, size_t npools,
                           const est_machine *mach)
{
    double base = 60.0, train_n = 60000, load = 1.0;
    int known = 0;
    for (size_t i = 0; i < NELEM(cost_table); i++)
        if (strcmp(cost_table[i].task, r->task) == 0) {
            base = cost_table[i].sec_epoch;
            train_n = cost_table[i].train_n;
            known = 1;
        }
    snprintf(r->est_source, sizeof r->est_source, "%s",
             known ? "table (no results of the task on this CPU)"
                   : "guess: 60 s an epoch (task not in the table, no results)");
    double fl = known ? 0 : flops_epoch(r, &train_n);
    if (fl > 0) {
        base = fl;
        snprintf(r->est_source, sizeof r->est_source,
                 "the model's FLOPs (task not in the table, no results)");
    }
    double frac = r->limit_train > 0 && (double)r->limit_train < train_n
                      ? (double)r->limit_train / train_n
                      : 1.0;
    int found = 0;
    for (size_t k = 0; k < npools && !found; k++)
        for (int strict = 1; strict >= 0 && !found; strict--) {
            double full, l;
            int n = calibrate(r, &pools[k], mach, train_n, strict, &full, &l);
            if (n) {
                base = full;
                load = l;
                found = 1;
                snprintf(r->est_source, sizeof r->est_source, "%d result%s in %s (%s)", n,
                         n == 1 ? "" : "s", pools[k].where,
                         strict ? "same strategy" : "any strategy of the task");
            }
        }
    double speed = r->threads > 1 ? pow((double)r->threads, 0.7) : 1.0;
    return (double)r->epochs * base * (frac + 0.06) / speed + load;
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
    const char *task = rq->task ? rq->task : rq->config_path;
    snprintf(label, sizeof label, "%s %s rates=%s seed=%ld%s%s", task,
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
    r.task = db_strdup(task);
    /* the resolved label: "none" on a model with dropout of its own is
     * "hand-placed" (run.h) */
    const cJSON *label_j = cJSON_GetObjectItemCaseSensitive(r.config, "strategy");
    r.strategy = db_strdup(cJSON_IsString(label_j) ? label_j->valuestring : rq->strategy);
    r.rate = rq->rate ? db_strdup(rq->rate) : NULL;
    r.overrides = db_strdup(overrides);
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

/* A block's lists, each one key's value in the block or at the top level. */
typedef struct block_lists {
    const cJSON *tasks, *strats, *seeds, *rates, *ovr;
} block_lists;

/* Step 1 of a block: its keys and lists, checked. */
static int block_check(block_lists *l, const cJSON *block, const cJSON *top,
                       const char *where, db_err *e)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, block) {
        if (!in_list(it->string, block_keys, NELEM(block_keys)) &&
            (block != top || !in_list(it->string, top_keys, NELEM(top_keys))))
            return block == top ? db_fail_unknown(e, where, "key", it->string, all_keys,
                                                  NELEM(all_keys))
                                : db_fail_unknown(e, where, "key", it->string, block_keys,
                                                  NELEM(block_keys));
    }
    const cJSON *tasks = l->tasks = block_get(block, top, "tasks");
    const cJSON *strats = l->strats = block_get(block, top, "strategies");
    const cJSON *seeds = l->seeds = block_get(block, top, "seeds");
    const cJSON *rates = l->rates = block_get(block, top, "rates");
    l->ovr = block_get(block, top, "overrides");
    if (nonempty_array(tasks, where, "tasks", e) ||
        nonempty_array(strats, where, "strategies", e) ||
        nonempty_array(seeds, where, "seeds", e))
        return -1;
    if (rates && nonempty_array(rates, where, "rates", e))
        return -1;
    cJSON_ArrayForEach(it, tasks) if (!cJSON_IsString(it) || !it->valuestring[0])
        return db_fail(e, "%s: \"tasks\" must hold names", where);
    cJSON_ArrayForEach(it, strats) {
        if (cJSON_IsObject(it)) {
            /* an inline definition (docs/STRATEGIES.md), used by its name */
            if (db_strategy_define(it, where, e))
                return -1;
            continue;
        }
        if (!cJSON_IsString(it) || !it->valuestring[0])
            return db_fail(e, "%s: \"strategies\" must hold names or strategy "
                              "objects", where);
    }
    cJSON_ArrayForEach(it, seeds) if (!cJSON_IsNumber(it) || it->valuedouble < 0 ||
                                      it->valuedouble != floor(it->valuedouble) ||
                                      it->valuedouble > 2e9)
        return db_fail(e, "%s: \"seeds\" must hold integers >= 0", where);
    cJSON_ArrayForEach(it, rates) if (!cJSON_IsNull(it) && !cJSON_IsString(it) &&
                                      !cJSON_IsNumber(it))
        return db_fail(e, "%s: \"rates\" entries must be null, a number or "
                          "a string like \"0.1,0.25\"", where);
    return 0;
}

/* Step 2 of a block: each scalar field's value (scalar[f]) or its override
 * axis (axis[f]), checked; NULL where neither. */
static int block_axes(const cJSON *scalar[F_N], const cJSON *axis[F_N],
                      const cJSON *block, const cJSON *top, const cJSON *ovr,
                      const char *where, db_err *e)
{
    const cJSON *it;
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
            if (f < 0) {
                char ow[700];
                snprintf(ow, sizeof ow, "%s: overrides", where);
                return db_fail_unknown(e, ow, "key", it->string, field_name, F_N);
            }
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
    return 0;
}

/* A rate as the shortest text that reads back as the same number. */
static void rate_text(char *buf, size_t n, double rate)
{
    snprintf(buf, n, "%.17g", rate);
    for (int p = 1; p <= 17; p++) {
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%.*g", p, rate);
        if (strtod(tmp, NULL) == rate) {
            snprintf(buf, n, "%s", tmp);
            break;
        }
    }
}

/* path as written in the sweep file `what`: relative to the sweep file's
 * folder unless absolute. */
static void sweep_relative(char *buf, size_t n, const char *what, const char *path)
{
    const char *slash = strrchr(what, '/');
    if (path[0] == '/' || !slash)
        snprintf(buf, n, "%s", path);
    else
        snprintf(buf, n, "%.*s/%s", (int)(slash - what), what, path);
}

/* Step 3 of a block: the runs of one task, strategy and rate, over every
 * combination of the override axes (an odometer, the last axis fastest)
 * and every seed. */
static int add_axis_runs(sweep_plan *plan, const char *task, const char *strategy,
                         const char *rate, const cJSON *const scalar[F_N],
                         const cJSON *const axis[F_N], const cJSON *seeds,
                         const sweep_options *o, const sweep_backend *b,
                         const char *what, db_err *e)
{
    int pos[F_N] = { 0 };
    char cfgpath[4096];
    int is_path = strchr(task, '/') != NULL ||
                  (strlen(task) > 5 && strcmp(task + strlen(task) - 5, ".json") == 0);
    if (is_path)
        sweep_relative(cfgpath, sizeof cfgpath, what, task);
    for (;;) {
        run_request rq;
        run_request_init(&rq);
        rq.task = is_path ? NULL : task;
        rq.config_path = is_path ? cfgpath : NULL;
        rq.strategy = strategy;
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
            case F_MC: rq.mc_samples = (long)v->valuedouble; break;
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
            return 0;
    }
}

/* Expands one block: tasks x strategies x rates x override axes x seeds. */
static int expand_block(sweep_plan *plan, const cJSON *block,
                        const cJSON *top, const char *where,
                        const sweep_options *o, const sweep_backend *b,
                        const char *what, db_err *e)
{
    block_lists l = { NULL, NULL, NULL, NULL, NULL };
    const cJSON *scalar[F_N] = { NULL };
    const cJSON *axis[F_N] = { NULL };
    if (block_check(&l, block, top, where, e) ||
        block_axes(scalar, axis, block, top, l.ovr, where, e))
        return -1;
    const cJSON *rates = l.rates;
    size_t nrates = rates ? (size_t)cJSON_GetArraySize(rates) : 1;
    /* A typo in a grid (a seed list of 1000 times 3 override axes) must be
     * an error, not hours of resolving and gigabytes of plan. */
    double nblock = (double)cJSON_GetArraySize(l.tasks) *
                    (double)cJSON_GetArraySize(l.strats) * (double)nrates *
                    (double)cJSON_GetArraySize(l.seeds);
    for (int f = 0; f < F_N; f++)
        if (axis[f])
            nblock *= (double)cJSON_GetArraySize(axis[f]);
    if (nblock + (double)(plan->n + plan->nduplicates) > SWEEP_MAX_RUNS)
        return db_fail(e, "%s: expands to %.0f runs; a sweep holds at most %d",
                       where, nblock + (double)(plan->n + plan->nduplicates),
                       SWEEP_MAX_RUNS);
    for (const cJSON *task = l.tasks->child; task; task = task->next)
    for (const cJSON *st = l.strats->child; st; st = st->next)
    for (size_t ri = 0; ri < nrates; ri++) {
        char ratebuf[64];
        const char *rate = NULL;
        const cJSON *rv = rates ? cJSON_GetArrayItem(rates, (int)ri) : NULL;
        if (cJSON_IsString(rv)) {
            rate = rv->valuestring;
        } else if (cJSON_IsNumber(rv)) {
            rate_text(ratebuf, sizeof ratebuf, rv->valuedouble);
            rate = ratebuf;
        }
        const cJSON *sname = cJSON_IsObject(st)
                                 ? cJSON_GetObjectItemCaseSensitive(st, "name")
                                 : st;
        if (add_axis_runs(plan, task->valuestring, sname->valuestring, rate,
                          scalar, axis, l.seeds, o, b, what, e) != 0)
            return -1;
    }
    return 0;
}

/* The sweep file's top-level keys: known ones only, and name, description,
 * results and grid of the right types. */
static int check_top(const cJSON *root, const char *what, db_err *e)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, root) {
        if (!in_list(it->string, top_keys, NELEM(top_keys)) &&
            !in_list(it->string, block_keys, NELEM(block_keys)))
            return db_fail_unknown(e, what, "key", it->string, all_keys, NELEM(all_keys));
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
    return 0;
}

/* Defines the strategies of "strategy_files" (paths relative to the sweep
 * file). */
static int define_strategy_files(const cJSON *root, const char *what, db_err *e)
{
    const cJSON *sfiles = cJSON_GetObjectItemCaseSensitive(root, "strategy_files");
    if (sfiles && !cJSON_IsArray(sfiles))
        return db_fail(e, "%s: \"strategy_files\" must be an array of file names",
                       what);
    const cJSON *it;
    cJSON_ArrayForEach(it, sfiles) {
        char sp[4096];
        cJSON *sj = NULL;
        if (!cJSON_IsString(it) || !it->valuestring[0])
            return db_fail(e, "%s: \"strategy_files\" must be an array of file names",
                           what);
        sweep_relative(sp, sizeof sp, what, it->valuestring);
        if (db_json_load(&sj, sp, e))
            return db_prefix(e, "%s", what);
        int src = db_strategy_define(sj, sp, e);
        cJSON_Delete(sj);
        if (src)
            return -1;
    }
    return 0;
}

/* The runs of every block of "grid" (or of the file as one block). */
static int expand_blocks(sweep_plan *plan, const cJSON *root, const char *what,
                         const sweep_options *o, const sweep_backend *b, db_err *e)
{
    const cJSON *grid = cJSON_GetObjectItemCaseSensitive(root, "grid");
    if (!grid)
        return expand_block(plan, root, root, what, o, b, what, e);
    int bi = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, grid) {
        char where[512];
        snprintf(where, sizeof where, "%s: grid[%d]", what, bi++);
        if (!cJSON_IsObject(it))
            return db_fail(e, "%s: must be an object", where);
        int rc = expand_block(plan, it, root, where, o, b, what, e);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Adds to *set the results of the folders beside results_dir, when it is
 * one of a folder of result folders (results/NAME, the default: never every
 * folder of /tmp or a home); returns that parent folder (to free), or NULL. */
static char *load_siblings(report_set *set, const char *results_dir)
{
    char *parent = db_strdup(results_dir);
    size_t pl = parent ? strlen(parent) : 0;
    while (pl > 1 && parent[pl - 1] == '/')
        parent[--pl] = '\0';
    char *slash = parent ? strrchr(parent, '/') : NULL;
    DIR *d = NULL;
    if (slash && slash != parent) {
        *slash = '\0';
        const char *pb = strrchr(parent, '/');
        if (strcmp(pb ? pb + 1 : parent, "results") == 0)
            d = opendir(parent);
    }
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, slash + 1) == 0)
            continue;
        char *sub = db_asprintf("%s/%s", parent, de->d_name);
        struct stat st;
        if (sub && stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            report_load(set, sub, NULL); /* adds to what it holds */
        free(sub);
    }
    if (d)
        closedir(d);
    return parent;
}

/* Cost estimates of the plan's runs, from earlier results when there are
 * any: this folder's, then those of the folders beside it (all together). */
static void estimate_plan(sweep_plan *plan)
{
    report_set sets[2];
    est_pool pools[2];
    size_t np = 0;
    memset(sets, 0, sizeof sets);
    if (report_load(&sets[0], plan->results_dir, NULL) == 0) {
        pools[np].set = &sets[0];
        pools[np++].where = "this results folder";
    }
    char *parent = load_siblings(&sets[1], plan->results_dir);
    char *where = NULL;
    if (sets[1].n > 0 && (where = db_asprintf("the folders beside it (%s/*)", parent))) {
        pools[np].set = &sets[1];
        pools[np++].where = where;
    }
    est_machine mach;
    db_cpu_model(mach.cpu, sizeof mach.cpu);
    db_cpu_id(mach.cpu_id, sizeof mach.cpu_id);
    for (size_t i = 0; i < plan->n; i++)
        plan->runs[i].est_seconds = estimate_run(&plan->runs[i], pools, np, &mach);
    report_set_free(&sets[0]);
    report_set_free(&sets[1]);
    free(where);
    free(parent);
}

int sweep_plan_from_json(sweep_plan *plan, const cJSON *root, const char *what,
                         const sweep_options *o, db_err *e)
{
    memset(plan, 0, sizeof *plan);
    const sweep_backend *b = o && o->backend ? o->backend : &sweep_backend_default;
    if (!cJSON_IsObject(root))
        return db_fail(e, "%s: a sweep is a JSON object", what);
    if (check_top(root, what, e) || define_strategy_files(root, what, e))
        return -1;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(root, "results");
    char dirbuf[4096];
    if (o && o->results_dir)
        snprintf(dirbuf, sizeof dirbuf, "%s", o->results_dir);
    else if (res)
        snprintf(dirbuf, sizeof dirbuf, "%s", res->valuestring);
    else
        snprintf(dirbuf, sizeof dirbuf, "results/%s", name->valuestring);
    plan->name = db_strdup(name->valuestring);
    plan->results_dir = db_strdup(dirbuf);
    if (!plan->name || !plan->results_dir) {
        sweep_plan_free(plan);
        return db_fail(e, "%s: out of memory", what);
    }
    if (expand_blocks(plan, root, what, o, b, e) != 0) {
        sweep_plan_free(plan);
        return -1;
    }
    estimate_plan(plan);
    return 0;
}

int sweep_plan_load(sweep_plan *plan, const char *path,
                    const sweep_options *o, db_err *e)
{
    memset(plan, 0, sizeof *plan);
    cJSON *root = NULL;
    if (db_json_load(&root, path, e))
        return -1;
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
    else {
        static const char *const keys[] = { "task", "strategy", "rates", "rate",
                                            "seed", "name" };
        return db_fail_unknown(e, "--filter", "key", key, keys, NELEM(keys));
    }
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


int sweep_run_path(char *buf, size_t n, const sweep_plan *plan,
                    const sweep_run *r, const char *suffix)
{
    return snprintf(buf, n, "%s/%s%s", plan->results_dir, r->name, suffix) <
                   (int)n
               ? 0
               : -1;
}

