/* report.c - result files -> tables (Markdown, CSV, LaTeX) and gnuplot plots.
 * See report.h for what is grouped with what. */
#include "report/report.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cJSON.h>

#include "strategy.h"

#define REPORT_MAX_FILE (64u << 20) /* a result file is a few KiB */

/* ---------------------------------------------------------------- helpers */

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static char *xasprintf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Appends p to a growing array of pointers; 0 or -1 (out of memory). */
static int push_str(char ***arr, size_t *n, char *p)
{
    if (!p)
        return -1;
    char **a = realloc(*arr, (*n + 1) * sizeof *a);
    if (!a) {
        free(p);
        return -1;
    }
    a[(*n)++] = p;
    *arr = a;
    return 0;
}

static void free_strs(char **a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(a[i]);
    free(a);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Reads a whole file, NUL-terminated; NULL with errno set on failure. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            if (cap >= REPORT_MAX_FILE) {
                free(buf);
                buf = NULL;
                errno = EFBIG;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                free(buf);
                buf = NULL;
                errno = EIO;
            }
            break;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = n;
    }
    return buf;
}

int report_write_atomic(const char *path, const char *buf, size_t len,
                        db_err *e)
{
    char *tmp = xasprintf("%s.%ld.tmp", path, (long)getpid());
    if (!tmp)
        return db_fail(e, "%s: out of memory", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        db_fail(e, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            db_fail(e, "%s: write: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            free(tmp);
            return -1;
        }
        off += (size_t)w;
    }
    int serr = fsync(fd) != 0 ? errno : 0;   /* and close fd either way */
    if (close(fd) != 0 && !serr)
        serr = errno;
    if (serr) {
        db_fail(e, "%s: %s", tmp, strerror(serr));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        db_fail(e, "%s: rename: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
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

/* ---------------------------------------------------------------- loading */

static void result_free(report_result *r)
{
    free(r->path);
    free(r->file);
    free(r->task);
    free(r->strategy);
    free(r->rates);
    free(r->status);
    free(r->error);
    free(r->curve);
}

void report_set_free(report_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        result_free(&set->res[i]);
    free(set->res);
    free_strs(set->problems, set->nproblems);
    memset(set, 0, sizeof *set);
}

/* An optional count: -1 when missing, negative or above 2^53 - 1 (what a
 * config accepts; converting a larger double could overflow a long). */
static long opt_long(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0.0) ||
        v->valuedouble > 9007199254740991.0)
        return -1;
    return (long)v->valuedouble;
}

static double opt_num(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Fills r from a parsed result; on a missing/invalid required field returns
 * -1 with why in *why (static text). */
static int result_from_json(report_result *r, const cJSON *root,
                            const char **why)
{
    if (!cJSON_IsObject(root))
        return *why = "not a JSON object", -1;
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(root, "schema_version");
    if (sv && (!cJSON_IsNumber(sv) || sv->valuedouble != 1))
        return *why = "unsupported schema_version (expected 1)", -1;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status");
    if (!cJSON_IsString(st))
        return *why = "missing \"status\"", -1;
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
    if (!cJSON_IsObject(cfg))
        return *why = "missing \"config\" object", -1;
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(cfg, "task");
    const cJSON *strat = cJSON_GetObjectItemCaseSensitive(cfg, "strategy");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(cfg, "seed");
    if (!cJSON_IsString(task) || !task->valuestring[0])
        return *why = "missing \"config.task\"", -1;
    if (!cJSON_IsString(strat) || !strat->valuestring[0])
        return *why = "missing \"config.strategy\"", -1;
    if (!cJSON_IsNumber(seed))
        return *why = "missing \"config.seed\"", -1;
    if (!(seed->valuedouble >= 0.0) || seed->valuedouble > 9007199254740991.0 ||
        seed->valuedouble != floor(seed->valuedouble))
        return *why = "\"config.seed\" is not an integer in [0, 2^53)", -1;
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(cfg, "rate");
    if (rate && !cJSON_IsNull(rate) && !cJSON_IsString(rate) &&
        !cJSON_IsNumber(rate))
        return *why = "\"config.rate\" is neither null, a string nor a number",
               -1;

    int complete = strcmp(st->valuestring, "complete") == 0;
    const cJSON *fin = cJSON_GetObjectItemCaseSensitive(root, "final");
    double terr = NAN;
    if (complete) {
        terr = opt_num(fin, "test_error_pct");
        if (!isfinite(terr))
            return *why = "complete but no numeric \"final.test_error_pct\"",
                   -1;
    }

    r->task = xstrdup(task->valuestring);
    r->strategy = xstrdup(strat->valuestring);
    if (cJSON_IsString(rate))
        r->rates = xstrdup(rate->valuestring);
    else if (cJSON_IsNumber(rate))
        r->rates = xasprintf("%g", rate->valuedouble);
    else
        r->rates = xstrdup("default");
    r->status = xstrdup(st->valuestring);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    r->error = cJSON_IsString(err) ? xstrdup(err->valuestring) : NULL;
    if (!r->task || !r->strategy || !r->rates || !r->status ||
        (cJSON_IsString(err) && !r->error))
        return *why = "out of memory", -1;
    r->seed = (long)seed->valuedouble;
    r->test_error = terr;
    r->epochs = opt_long(cfg, "epochs");
    r->batch = opt_long(cfg, "batch");
    r->limit_train = opt_long(cfg, "limit_train");
    r->val = opt_long(cfg, "val");
    r->threads = opt_long(cfg, "threads");
    r->lr = opt_num(cJSON_GetObjectItemCaseSensitive(cfg, "optimizer"), "lr");
    r->sec_epoch =
        opt_num(cJSON_GetObjectItemCaseSensitive(root, "timing"),
                "seconds_per_epoch");

    r->site_rate = NAN;
    const cJSON *sites = cJSON_GetObjectItemCaseSensitive(cfg, "dropout_sites");
    if (cJSON_IsArray(sites)) {
        int ns = cJSON_GetArraySize(sites);
        r->site_rate = 0.0;
        const cJSON *s;
        int first = 1;
        cJSON_ArrayForEach(s, sites) {
            double v = opt_num(s, "rate");
            if (first)
                r->site_rate = v;
            else if (!(v == r->site_rate))
                r->site_rate = NAN;
            first = 0;
        }
        if (ns == 0)
            r->site_rate = 0.0;
    }

    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "epochs");
    if (cJSON_IsArray(eps)) {
        int ne = cJSON_GetArraySize(eps);
        if (ne > 0) {
            r->curve = malloc((size_t)ne * sizeof *r->curve);
            if (!r->curve)
                return *why = "out of memory", -1;
            const cJSON *ep;
            cJSON_ArrayForEach(ep, eps) {
                double v = opt_num(ep, "test_error_pct");
                if (!isfinite(v))
                    break; /* a curve stops at the first gap */
                r->curve[r->ncurve++] = v;
            }
        }
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int report_load(report_set *set, const char *dir, db_err *e)
{
    DIR *d = opendir(dir);
    if (!d)
        return db_fail(e, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t nn = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || !ends_with(de->d_name, ".json"))
            continue;
        if (push_str(&names, &nn, xstrdup(de->d_name)) != 0) {
            closedir(d);
            free_strs(names, nn);
            return db_fail(e, "%s: out of memory", dir);
        }
    }
    closedir(d);
    if (nn)
        qsort(names, nn, sizeof *names, cmp_str);

    int rc = 0;
    for (size_t i = 0; i < nn && rc == 0; i++) {
        set->nfiles++;
        char *path = xasprintf("%s/%s", dir, names[i]);
        if (!path) {
            rc = db_fail(e, "out of memory");
            break;
        }
        const char *why = NULL;
        char whybuf[256];
        size_t len = 0;
        struct stat sb;
        char *text = stat(path, &sb) == 0 && S_ISREG(sb.st_mode)
                         ? slurp(path, &len)
                         : NULL;
        cJSON *root = NULL;
        if (!text) {
            snprintf(whybuf, sizeof whybuf, "cannot read: %s",
                     errno ? strerror(errno) : "not a regular file");
            why = whybuf;
        } else if (!(root = cJSON_ParseWithLength(text, len))) {
            why = "not valid JSON";
        }
        free(text);
        if (root) {
            if (set->n == set->cap) {
                size_t cap = set->cap ? set->cap * 2 : 64;
                report_result *nr = realloc(set->res, cap * sizeof *nr);
                if (!nr) {
                    cJSON_Delete(root);
                    free(path);
                    rc = db_fail(e, "out of memory");
                    break;
                }
                set->res = nr;
                set->cap = cap;
            }
            report_result *r = &set->res[set->n];
            memset(r, 0, sizeof *r);
            if (result_from_json(r, root, &why) == 0) {
                r->path = path;
                r->file = xstrdup(names[i]);
                r->mtime = (double)sb.st_mtim.tv_sec +
                           1e-9 * (double)sb.st_mtim.tv_nsec;
                path = NULL;
                if (!r->file) {
                    why = "out of memory";
                    result_free(r);
                } else {
                    set->n++;
                }
            } else {
                result_free(r);
            }
            cJSON_Delete(root);
        }
        free(path);
        if (why &&
            push_str(&set->problems, &set->nproblems,
                     xasprintf("%s/%s: %s", dir, names[i], why)) != 0)
            rc = db_fail(e, "out of memory");
    }
    free_strs(names, nn);
    return rc;
}

/* ------------------------------------------------------------ aggregation */

static const char *const task_order[] = {
    "mnist-mlp", "mnist-lenet", "fashion-lenet", "cifar-cnn", "wordlang-gru",
};

static size_t task_rank(const char *t)
{
    for (size_t i = 0; i < sizeof task_order / sizeof *task_order; i++)
        if (strcmp(t, task_order[i]) == 0)
            return i;
    return SIZE_MAX;
}

static int cmp_task(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    size_t rx = task_rank(x), ry = task_rank(y);
    if (rx != ry)
        return rx < ry ? -1 : 1;
    return strcmp(x, y);
}

/* Registry display order; combinations after single strategies, ordered by
 * their first part; unknown names last. */
static size_t strategy_rank(const char *s)
{
    size_t n = 0;
    const db_strategy *tab = db_strategies(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(tab[i].name, s) == 0)
            return i;
    size_t first = strcspn(s, "+");
    for (size_t i = 0; i < n; i++)
        if (strlen(tab[i].name) == first && strncmp(tab[i].name, s, first) == 0)
            return n + i;
    return 2 * n;
}

/* A rates label as one number, or NAN. */
static double rates_number(const char *s)
{
    if (!s || !*s)
        return NAN;
    char *end;
    double v = strtod(s, &end);
    return *end == '\0' ? v : NAN;
}

static const char *g_baseline; /* for the row comparator only */

static int cmp_row(const void *a, const void *b)
{
    const report_row *x = a, *y = b;
    int bx = strcmp(x->strategy, g_baseline) == 0;
    int by = strcmp(y->strategy, g_baseline) == 0;
    if (bx != by)
        return by - bx;
    size_t rx = strategy_rank(x->strategy), ry = strategy_rank(y->strategy);
    if (rx != ry)
        return rx < ry ? -1 : 1;
    int c = strcmp(x->strategy, y->strategy);
    if (c)
        return c;
    c = strcmp(x->setting, y->setting);
    if (c)
        return c;
    int dx = strcmp(x->rates, "default") == 0;
    int dy = strcmp(y->rates, "default") == 0;
    if (dx != dy)
        return dy - dx;
    double nx = rates_number(x->rates), ny = rates_number(y->rates);
    if (isfinite(nx) && isfinite(ny) && nx != ny)
        return nx < ny ? -1 : 1;
    return strcmp(x->rates, y->rates);
}

void report_table_free(report_table *t)
{
    free(t->baseline);
    free_strs(t->tasks, t->ntasks);
    for (size_t i = 0; i < t->nrows; i++) {
        free(t->rows[i].strategy);
        free(t->rows[i].rates);
        free(t->rows[i].setting);
    }
    free(t->rows);
    if (t->cells)
        for (size_t i = 0; i < t->nrows * t->ntasks; i++)
            free(t->cells[i].idx);
    free(t->cells);
    free(t->excluded);
    free_strs(t->notes, t->nnotes);
    memset(t, 0, sizeof *t);
}

/* Which setting fields vary within one task. */
enum { SET_EPOCHS = 1, SET_LR = 2, SET_BATCH = 4, SET_LIMIT = 8, SET_VAL = 16,
       SET_THREADS = 32 };

static int same_num(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

static unsigned varying_fields(const report_set *set, const char *task)
{
    const report_result *first = NULL;
    unsigned v = 0;
    for (size_t i = 0; i < set->n; i++) {
        const report_result *r = &set->res[i];
        if (strcmp(r->status, "complete") != 0 || strcmp(r->task, task) != 0)
            continue;
        if (!first) {
            first = r;
            continue;
        }
        if (r->epochs != first->epochs) v |= SET_EPOCHS;
        if (!same_num(r->lr, first->lr)) v |= SET_LR;
        if (r->batch != first->batch) v |= SET_BATCH;
        if (r->limit_train != first->limit_train) v |= SET_LIMIT;
        if (r->val != first->val) v |= SET_VAL;
        if (r->threads != first->threads) v |= SET_THREADS;
    }
    return v;
}

static char *setting_of(const report_result *r, unsigned v)
{
    char buf[256] = "";
    size_t n = 0;
#define ADD(...) \
    n += (size_t)snprintf(buf + n, n < sizeof buf ? sizeof buf - n : 0, __VA_ARGS__)
    if (v & SET_EPOCHS) ADD("%sepochs=%ld", n ? " " : "", r->epochs);
    if (v & SET_LR) ADD("%slr=%g", n ? " " : "", r->lr);
    if (v & SET_BATCH) ADD("%sbatch=%ld", n ? " " : "", r->batch);
    if (v & SET_LIMIT) ADD("%slimit_train=%ld", n ? " " : "", r->limit_train);
    if (v & SET_VAL) ADD("%sval=%ld", n ? " " : "", r->val);
    if (v & SET_THREADS) ADD("%sthreads=%ld", n ? " " : "", r->threads);
#undef ADD
    return xstrdup(buf);
}

static const report_set *g_set; /* for the seed comparator only */

static int cmp_idx_seed(const void *a, const void *b)
{
    const report_result *x = &g_set->res[*(const size_t *)a];
    const report_result *y = &g_set->res[*(const size_t *)b];
    if (x->seed != y->seed)
        return x->seed < y->seed ? -1 : 1;
    /* newest first, so that deduplication keeps it */
    if (x->mtime != y->mtime)
        return x->mtime > y->mtime ? -1 : 1;
    return strcmp(x->file, y->file);
}

static long find_row(const report_table *t, const char *strategy,
                     const char *rates, const char *setting)
{
    for (size_t i = 0; i < t->nrows; i++)
        if (strcmp(t->rows[i].strategy, strategy) == 0 &&
            strcmp(t->rows[i].rates, rates) == 0 &&
            strcmp(t->rows[i].setting, setting) == 0)
            return (long)i;
    return -1;
}

static long find_task(const report_table *t, const char *task)
{
    for (size_t i = 0; i < t->ntasks; i++)
        if (strcmp(t->tasks[i], task) == 0)
            return (long)i;
    return -1;
}

int report_aggregate(const report_set *set, const char *baseline,
                     report_table *t, db_err *e)
{
    memset(t, 0, sizeof *t);
    char **setting = calloc(set->n ? set->n : 1, sizeof *setting);
    long *rowof = calloc(set->n ? set->n : 1, sizeof *rowof);
    t->baseline = xstrdup(baseline);
    t->excluded = malloc((set->n ? set->n : 1) * sizeof *t->excluded);
    if (!setting || !rowof || !t->baseline || !t->excluded)
        goto oom;

    for (size_t i = 0; i < set->n; i++) {
        const report_result *r = &set->res[i];
        if (strcmp(r->status, "complete") != 0) {
            t->excluded[t->nexcluded++] = i;
            continue;
        }
        t->ncomplete++;
        if (find_task(t, r->task) < 0 &&
            push_str(&t->tasks, &t->ntasks, xstrdup(r->task)) != 0)
            goto oom;
    }
    if (t->ncomplete == 0) {
        size_t nex = t->nexcluded;
        free(setting);
        free(rowof);
        report_table_free(t);
        return db_fail(e, "no complete results (%zu file(s) read, %zu not "
                          "complete, %zu unreadable)",
                       set->nfiles, nex, set->nproblems);
    }
    qsort(t->tasks, t->ntasks, sizeof *t->tasks, cmp_task);

    /* settings and rows */
    for (size_t k = 0; k < t->ntasks; k++) {
        unsigned v = varying_fields(set, t->tasks[k]);
        for (size_t i = 0; i < set->n; i++) {
            const report_result *r = &set->res[i];
            if (strcmp(r->status, "complete") != 0 ||
                strcmp(r->task, t->tasks[k]) != 0)
                continue;
            if (!(setting[i] = setting_of(r, v)))
                goto oom;
            if (setting[i][0])
                t->any_setting = 1;
            if (find_row(t, r->strategy, r->rates, setting[i]) >= 0)
                continue;
            report_row *nr = realloc(t->rows, (t->nrows + 1) * sizeof *nr);
            if (!nr)
                goto oom;
            t->rows = nr;
            report_row *row = &t->rows[t->nrows];
            memset(row, 0, sizeof *row);
            row->strategy = xstrdup(r->strategy);
            row->rates = xstrdup(r->rates);
            row->setting = xstrdup(setting[i]);
            t->nrows++;
            if (!row->strategy || !row->rates || !row->setting)
                goto oom;
            row->rate = rates_number(r->rates);
            if (!isfinite(row->rate) && strcmp(r->rates, "default") == 0)
                row->rate = r->site_rate;
            row->is_baseline = strcmp(r->strategy, baseline) == 0 &&
                               strcmp(r->rates, "default") == 0;
        }
    }
    g_baseline = baseline;
    qsort(t->rows, t->nrows, sizeof *t->rows, cmp_row);
    for (size_t i = 0; i < set->n; i++)
        rowof[i] = setting[i] ? find_row(t, set->res[i].strategy,
                                         set->res[i].rates, setting[i])
                              : -1;

    /* cells */
    t->cells = calloc(t->nrows * t->ntasks, sizeof *t->cells);
    if (!t->cells)
        goto oom;
    g_set = set;
    for (size_t ro = 0; ro < t->nrows; ro++) {
        for (size_t k = 0; k < t->ntasks; k++) {
            report_cell *c = report_cell_at(t, ro, k);
            c->sec_epoch = c->overhead_pct = NAN;
            size_t m = 0;
            for (size_t i = 0; i < set->n; i++)
                if (rowof[i] == (long)ro &&
                    strcmp(set->res[i].task, t->tasks[k]) == 0)
                    m++;
            if (m == 0)
                continue;
            if (!(c->idx = malloc(m * sizeof *c->idx)))
                goto oom;
            for (size_t i = 0; i < set->n; i++)
                if (rowof[i] == (long)ro &&
                    strcmp(set->res[i].task, t->tasks[k]) == 0)
                    c->idx[c->n++] = i;
            qsort(c->idx, c->n, sizeof *c->idx, cmp_idx_seed);
            /* one result per seed: the newest file */
            size_t w = 0;
            for (size_t j = 0; j < c->n; j++) {
                if (w > 0 && set->res[c->idx[w - 1]].seed ==
                                 set->res[c->idx[j]].seed) {
                    if (push_str(&t->notes, &t->nnotes,
                                 xasprintf("%s and %s are both %s %s seed "
                                           "%ld: using the newer, %s",
                                           set->res[c->idx[w - 1]].file,
                                           set->res[c->idx[j]].file,
                                           t->tasks[k], t->rows[ro].strategy,
                                           set->res[c->idx[j]].seed,
                                           set->res[c->idx[w - 1]].file)) != 0)
                        goto oom;
                    continue;
                }
                c->idx[w++] = c->idx[j];
            }
            c->n = w;
            double *v = malloc(c->n * sizeof *v);
            if (!v)
                goto oom;
            double tsum = 0.0;
            for (size_t j = 0; j < c->n; j++) {
                const report_result *r = &set->res[c->idx[j]];
                v[j] = r->test_error;
                if (isfinite(r->sec_epoch)) {
                    tsum += r->sec_epoch;
                    c->ntime++;
                }
            }
            stats_summarize(v, c->n, &c->err);
            free(v);
            if (c->ntime)
                c->sec_epoch = tsum / (double)c->ntime;
        }
    }

    /* baseline comparisons */
    for (size_t ro = 0; ro < t->nrows; ro++) {
        const report_row *row = &t->rows[ro];
        long bro = find_row(t, baseline, "default", row->setting);
        if (bro < 0 || (size_t)bro == ro)
            continue;
        for (size_t k = 0; k < t->ntasks; k++) {
            report_cell *c = report_cell_at(t, ro, k);
            const report_cell *b = report_cell_at(t, (size_t)bro, k);
            if (c->n == 0 || b->n == 0)
                continue;
            c->has_diff = 1;
            if (isfinite(c->sec_epoch) && isfinite(b->sec_epoch) &&
                b->sec_epoch > 0)
                c->overhead_pct = 100.0 * (c->sec_epoch / b->sec_epoch - 1.0);
            double *a = malloc(3 * c->n * sizeof *a);
            if (!a)
                goto oom;
            double *bb = a + c->n, *d = a + 2 * c->n;
            size_t np = 0, j = 0, l = 0;
            while (j < c->n && l < b->n) {
                const report_result *x = &set->res[c->idx[j]];
                const report_result *y = &set->res[b->idx[l]];
                if (x->seed == y->seed) {
                    a[np] = x->test_error;
                    bb[np++] = y->test_error;
                    j++;
                    l++;
                } else if (x->seed < y->seed) {
                    j++;
                } else {
                    l++;
                }
            }
            stats_paired_ci(a, bb, np, d, &c->diff);
            free(a);
        }
    }
    for (size_t i = 0; i < set->n; i++)
        free(setting[i]);
    free(setting);
    free(rowof);
    return 0;
oom:
    if (setting)
        for (size_t i = 0; i < set->n; i++)
            free(setting[i]);
    free(setting);
    free(rowof);
    report_table_free(t);
    return db_fail(e, "report: out of memory");
}

/* ---------------------------------------------------------------- writing */

int report_parse_format(const char *s, enum report_format *f, db_err *e)
{
    if (strcmp(s, "md") == 0 || strcmp(s, "markdown") == 0)
        *f = REPORT_MD;
    else if (strcmp(s, "csv") == 0)
        *f = REPORT_CSV;
    else if (strcmp(s, "latex") == 0 || strcmp(s, "tex") == 0)
        *f = REPORT_LATEX;
    else
        return db_fail(e, "unknown format '%s' (md, csv or latex)", s);
    return 0;
}

static void put_latex(FILE *f, const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)s[0] == 0xc2 && (unsigned char)s[1] == 0xb1) {
            fputs("$\\pm$", f); /* U+00B1 plus-minus */
            s++;
            continue;
        }
        switch (*s) {
        case '&': case '%': case '$': case '#': case '_': case '{': case '}':
            fputc('\\', f);
            fputc(*s, f);
            break;
        case '~': fputs("\\textasciitilde{}", f); break;
        case '^': fputs("\\textasciicircum{}", f); break;
        case '\\': fputs("\\textbackslash{}", f); break;
        default: fputc(*s, f);
        }
    }
}

static void put_csv(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\n\r") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Markdown: '|' would split a cell. */
static void put_md(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', f);
        fputc(*s, f);
    }
}

static void put_text(FILE *f, enum report_format fmt, const char *s)
{
    if (fmt == REPORT_LATEX)
        put_latex(f, s);
    else
        put_md(f, s);
}

enum table_kind { TAB_ERROR, TAB_TIME, TAB_DIFF };

/* Cell text; pm is the plus-minus sign of the format. */
static void cell_text(char *buf, size_t n, const report_table *t, size_t ro,
                      size_t k, enum table_kind kind, enum report_format fmt)
{
    const report_cell *c = report_cell_at(t, ro, k);
    const char *pm = fmt == REPORT_LATEX ? "$\\pm$" : "±";
    const char *pct = fmt == REPORT_LATEX ? "\\%" : "%";
    if (c->n == 0) {
        snprintf(buf, n, "-");
        return;
    }
    switch (kind) {
    case TAB_ERROR:
        if (c->n >= 2)
            snprintf(buf, n, "%.2f %s %.2f (n=%zu)", c->err.mean, pm,
                     c->err.sd, c->n);
        else
            snprintf(buf, n, "%.2f (n=1)", c->err.mean);
        break;
    case TAB_TIME:
        if (!isfinite(c->sec_epoch))
            snprintf(buf, n, "-");
        else {
            int prec = c->sec_epoch >= 100 ? 0 : c->sec_epoch >= 1 ? 1 : 3;
            int m = snprintf(buf, n, "%.*f s", prec, c->sec_epoch);
            if (isfinite(c->overhead_pct) && m > 0 && (size_t)m < n)
                snprintf(buf + m, n - (size_t)m, " (%+.1f%s)",
                         c->overhead_pct, pct);
        }
        break;
    case TAB_DIFF:
        if (t->rows[ro].is_baseline)
            snprintf(buf, n, "baseline");
        else if (!c->has_diff)
            snprintf(buf, n, "no baseline");
        else if (c->diff.n == 0)
            snprintf(buf, n, "no paired seeds");
        else if (!c->diff.valid)
            snprintf(buf, n, "%+.2f, n too small (n=%zu)", c->diff.mean,
                     c->diff.n);
        else
            snprintf(buf, n, "%+.2f [%+.2f, %+.2f] n=%zu%s", c->diff.mean,
                     c->diff.lo, c->diff.hi, c->diff.n,
                     c->diff.significant ? " *" : "");
        break;
    }
}

static void write_table(FILE *f, const report_table *t, enum table_kind kind,
                        enum report_format fmt, const char *title)
{
    size_t ncols = 2 + (t->any_setting ? 1 : 0) + t->ntasks;
    if (fmt == REPORT_MD) {
        fprintf(f, "## %s\n\n| strategy | rates |%s", title,
                t->any_setting ? " setting |" : "");
        for (size_t k = 0; k < t->ntasks; k++) {
            fputc(' ', f);
            put_md(f, t->tasks[k]);
            fputs(" |", f);
        }
        fputs("\n|", f);
        for (size_t i = 0; i < ncols; i++)
            fputs(i < ncols - t->ntasks ? "---|" : "---:|", f);
        fputc('\n', f);
    } else {
        fputs("\\begin{table}[ht]\n\\centering\n", f);
        fprintf(f, "\\caption{");
        put_latex(f, title);
        fprintf(f, "}\n\\begin{tabular}{l");
        for (size_t i = 1; i < ncols; i++)
            fputs(i < ncols - t->ntasks ? "l" : "r", f);
        fputs("}\n\\toprule\nstrategy & rates", f);
        if (t->any_setting)
            fputs(" & setting", f);
        for (size_t k = 0; k < t->ntasks; k++) {
            fputs(" & ", f);
            put_latex(f, t->tasks[k]);
        }
        fputs(" \\\\\n\\midrule\n", f);
    }
    for (size_t ro = 0; ro < t->nrows; ro++) {
        const report_row *row = &t->rows[ro];
        const char *sep = fmt == REPORT_MD ? " | " : " & ";
        if (fmt == REPORT_MD)
            fputs("| ", f);
        put_text(f, fmt, row->strategy);
        fputs(sep, f);
        put_text(f, fmt, row->rates);
        if (t->any_setting) {
            fputs(sep, f);
            put_text(f, fmt, row->setting[0] ? row->setting : "-");
        }
        for (size_t k = 0; k < t->ntasks; k++) {
            char buf[160];
            cell_text(buf, sizeof buf, t, ro, k, kind, fmt);
            fputs(sep, f);
            /* cell texts are made of format-safe characters */
            fputs(buf, f);
        }
        fputs(fmt == REPORT_MD ? " |\n" : " \\\\\n", f);
    }
    if (fmt == REPORT_MD)
        fputc('\n', f);
    else
        fputs("\\bottomrule\n\\end{tabular}\n\\end{table}\n\n", f);
}

static void csv_num(FILE *f, double v, const char *fmt)
{
    fputc(',', f);
    if (isfinite(v))
        fprintf(f, fmt, v);
}

static void write_csv(FILE *f, const report_table *t)
{
    fputs("strategy,rates,setting,task,n,test_error_mean,test_error_sd,"
          "seconds_per_epoch,time_overhead_pct,diff_n,diff_mean,diff_sd,"
          "diff_ci_low,diff_ci_high,diff_significant\n",
          f);
    for (size_t ro = 0; ro < t->nrows; ro++) {
        const report_row *row = &t->rows[ro];
        for (size_t k = 0; k < t->ntasks; k++) {
            const report_cell *c = report_cell_at(t, ro, k);
            if (c->n == 0)
                continue;
            put_csv(f, row->strategy);
            fputc(',', f);
            put_csv(f, row->rates);
            fputc(',', f);
            put_csv(f, row->setting);
            fputc(',', f);
            put_csv(f, t->tasks[k]);
            fprintf(f, ",%zu", c->n);
            csv_num(f, c->err.mean, "%.4f");
            csv_num(f, c->n >= 2 ? c->err.sd : NAN, "%.4f");
            csv_num(f, c->sec_epoch, "%.6g");
            csv_num(f, c->overhead_pct, "%.3f");
            if (c->has_diff) {
                fprintf(f, ",%zu", c->diff.n);
                csv_num(f, c->diff.n ? c->diff.mean : NAN, "%.4f");
                csv_num(f, c->diff.valid ? c->diff.sd : NAN, "%.4f");
                csv_num(f, c->diff.valid ? c->diff.lo : NAN, "%.4f");
                csv_num(f, c->diff.valid ? c->diff.hi : NAN, "%.4f");
                fprintf(f, ",%s", c->diff.valid
                                      ? (c->diff.significant ? "yes" : "no")
                                      : "n too small");
            } else {
                fputs(",,,,,,", f);
            }
            fputc('\n', f);
        }
    }
}

static void write_list(FILE *f, enum report_format fmt, const char *title,
                       char **items, size_t n)
{
    if (n == 0)
        return;
    if (fmt == REPORT_MD) {
        fprintf(f, "%s:\n\n", title);
        for (size_t i = 0; i < n; i++) {
            fputs("- ", f);
            put_md(f, items[i]);
            fputc('\n', f);
        }
        fputc('\n', f);
    } else {
        fputs("% ", f);
        fputs(title, f);
        fputs(":\n", f);
        for (size_t i = 0; i < n; i++) {
            fputs("%   ", f);
            for (const char *s = items[i]; *s; s++)
                fputc(*s == '\n' ? ' ' : *s, f);
            fputc('\n', f);
        }
        fputc('\n', f);
    }
}

int report_write(FILE *f, const report_set *set, const report_table *t,
                 enum report_format fmt, db_err *e)
{
    if (fmt == REPORT_CSV) {
        write_csv(f, t);
        return ferror(f) ? db_fail(e, "report: write error") : 0;
    }
    char **excl = NULL;
    size_t nexcl = 0;
    for (size_t i = 0; i < t->nexcluded; i++) {
        const report_result *r = &set->res[t->excluded[i]];
        if (push_str(&excl, &nexcl,
                     xasprintf("%s: %s%s%s", r->file, r->status,
                               r->error ? ": " : "",
                               r->error ? r->error : "")) != 0) {
            free_strs(excl, nexcl);
            return db_fail(e, "report: out of memory");
        }
    }

    int small = 0, tiny = 0, missing_base = 1;
    for (size_t ro = 0; ro < t->nrows; ro++) {
        if (t->rows[ro].is_baseline)
            missing_base = 0;
        for (size_t k = 0; k < t->ntasks; k++) {
            const report_cell *c = report_cell_at(t, ro, k);
            if (c->has_diff && c->diff.n > 0 && !c->diff.valid)
                small = 1;
            if (c->has_diff && (c->diff.n == 2 || c->diff.n == 3))
                tiny = 1;
        }
    }

    char title[256];
    if (fmt == REPORT_MD) {
        fprintf(f, "# dropbench report\n\n%zu result file(s): %zu complete, "
                   "%zu not complete, %zu unreadable.\n\n",
                set->nfiles, t->ncomplete, t->nexcluded, set->nproblems);
    } else {
        fprintf(f, "%% dropbench report: %zu result file(s), %zu complete, "
                   "%zu not complete, %zu unreadable.\n"
                   "%% needs \\usepackage{booktabs}\n\n",
                set->nfiles, t->ncomplete, t->nexcluded, set->nproblems);
    }
    write_table(f, t, TAB_ERROR, fmt,
                "Final test error (%), mean ± std over seeds");
    snprintf(title, sizeof title,
             "Time per epoch (s) and overhead relative to %s", t->baseline);
    write_table(f, t, TAB_TIME, fmt, title);
    snprintf(title, sizeof title,
             "Paired difference in test error against %s (percentage points)",
             t->baseline);
    write_table(f, t, TAB_DIFF, fmt, title);

    char **notes = NULL;
    size_t nnotes = 0;
    int oom = 0;
    oom |= push_str(&notes, &nnotes, xasprintf(
        "Differences are strategy minus %s in the same task and seed (same "
        "initialisation and data order), %s at its default rates and the same "
        "setting; mean and 95%% t-interval over seeds; * marks an interval "
        "that excludes zero.",
        t->baseline, t->baseline));
    oom |= push_str(&notes, &nnotes, xstrdup(
        "Time per epoch is the wall time measured inside each run; workers "
        "running side by side (sweep --jobs) or other load on the machine "
        "inflate it, so compare overheads of runs made under the same "
        "conditions."));
    if (missing_base)
        oom |= push_str(&notes, &nnotes, xasprintf(
            "There are no complete results of the baseline '%s' at default "
            "rates, so no differences or overheads can be computed (choose "
            "another with --baseline).",
            t->baseline));
    if (small)
        oom |= push_str(&notes, &nnotes, xstrdup(
            "n too small: fewer than two paired seeds, so no interval can be "
            "computed; run more seeds."));
    if (tiny)
        oom |= push_str(&notes, &nnotes, xstrdup(
            "With 2 or 3 paired seeds the interval is wide (t = 12.71 and "
            "4.30): a difference that is not marked may still be real."));
    for (size_t i = 0; i < t->nnotes; i++)
        oom |= push_str(&notes, &nnotes, xstrdup(t->notes[i]));
    if (oom) {
        free_strs(excl, nexcl);
        free_strs(notes, nnotes);
        return db_fail(e, "report: out of memory");
    }
    write_list(f, fmt, "Notes", notes, nnotes);
    write_list(f, fmt, "Excluded (not complete)", excl, nexcl);
    write_list(f, fmt, "Unreadable files (skipped)", set->problems,
               set->nproblems);
    free_strs(excl, nexcl);
    free_strs(notes, nnotes);
    return ferror(f) ? db_fail(e, "report: write error") : 0;
}

/* ------------------------------------------------------------------ plots */

/* gnuplot string literal in single quotes: '' escapes a quote. */
static void put_gp(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

static void row_label(char *buf, size_t n, const report_row *row, int rates)
{
    size_t m = (size_t)snprintf(buf, n, "%s", row->strategy);
    if (rates && strcmp(row->rates, "default") != 0 && m < n)
        m += (size_t)snprintf(buf + m, n - m, " %s", row->rates);
    if (row->setting[0] && m < n)
        snprintf(buf + m, n - m, " %s", row->setting);
}

/* Safe file name part: keeps [A-Za-z0-9.+-], maps the rest to '_'. */
static void file_part(char *buf, size_t n, const char *s)
{
    size_t i = 0;
    for (; *s && i + 1 < n; s++, i++)
        buf[i] = ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                  (*s >= '0' && *s <= '9') || *s == '.' || *s == '+' ||
                  *s == '-')
                     ? *s
                     : '_';
    buf[i] = '\0';
}

typedef struct plot_ctx {
    const char *outdir;
    FILE *gp;          /* the script being written (memory stream) */
    char **outputs;    /* final names of files gnuplot writes */
    size_t noutputs;
    size_t nplots;
} plot_ctx;

/* Starts a plot: the script draws it twice, SVG then PNG, into *.tmp files
 * that are renamed after gnuplot succeeded. */
static int plot_begin(plot_ctx *p, const char *name)
{
    FILE *g = p->gp;
    fprintf(g, "\n# ---- %s\nreset\nset encoding utf8\n", name);
    fprintf(g, "set terminal svg size 800,500 dynamic enhanced font "
               "'sans,12' background rgb 'white'\n");
    fprintf(g, "set output '%s.svg.tmp'\n", name);
    fputs("set grid lc rgb '#dddddd'\nset key outside right top noenhanced\n"
          "set border 3\nset tics nomirror\n", g);
    if (push_str(&p->outputs, &p->noutputs, xasprintf("%s.svg", name)) ||
        push_str(&p->outputs, &p->noutputs, xasprintf("%s.png", name)))
        return -1;
    p->nplots++;
    return 0;
}

static void plot_end(plot_ctx *p, const char *name)
{
    fprintf(p->gp, "set terminal pngcairo size 1000,625 enhanced font "
                   "'sans,11' background rgb 'white'\n"
                   "set output '%s.png.tmp'\nreplot\nunset output\n",
            name);
}

static int write_data(const plot_ctx *p, const char *name, char *buf,
                      size_t len, db_err *e)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", p->outdir, name) >=
        (int)sizeof path)
        return db_fail(e, "%s: path too long", p->outdir);
    return report_write_atomic(path, buf, len, e);
}

/* Learning curves of the rows selected by sel (indices), one data block
 * per row: epoch mean lo hi. */
static int plot_curves(plot_ctx *p, const report_set *set,
                       const report_table *t, size_t k, const size_t *sel,
                       size_t nsel, const char *name, const char *title,
                       int label_rates, db_err *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *d = open_memstream(&buf, &len);
    if (!d)
        return db_fail(e, "out of memory");
    size_t nblocks = 0;
    size_t *blockrow = malloc((nsel ? nsel : 1) * sizeof *blockrow);
    if (!blockrow) {
        fclose(d);
        free(buf);
        return db_fail(e, "out of memory");
    }
    for (size_t s = 0; s < nsel; s++) {
        const report_cell *c = report_cell_at(t, sel[s], k);
        size_t ne = SIZE_MAX;
        for (size_t j = 0; j < c->n; j++)
            if (set->res[c->idx[j]].ncurve < ne)
                ne = set->res[c->idx[j]].ncurve;
        if (c->n == 0 || ne == 0 || ne == SIZE_MAX)
            continue;
        char label[256];
        row_label(label, sizeof label, &t->rows[sel[s]], label_rates);
        fprintf(d, "# %s (n=%zu)\n", label, c->n);
        for (size_t ep = 0; ep < ne; ep++) {
            double v[256];
            size_t m = c->n < 256 ? c->n : 256;
            for (size_t j = 0; j < m; j++)
                v[j] = set->res[c->idx[j]].curve[ep];
            stats_summary s2;
            stats_summarize(v, m, &s2);
            fprintf(d, "%zu %.6g %.6g %.6g\n", ep + 1, s2.mean,
                    s2.mean - s2.sd, s2.mean + s2.sd);
        }
        fputs("\n\n", d);
        blockrow[nblocks++] = sel[s];
    }
    fclose(d);
    int rc = 0;
    if (nblocks == 0)
        goto out;
    char dat[512];
    snprintf(dat, sizeof dat, "%s.dat", name);
    if ((rc = write_data(p, dat, buf, len, e)) != 0)
        goto out;
    if ((rc = plot_begin(p, name)) != 0) {
        rc = db_fail(e, "out of memory");
        goto out;
    }
    FILE *g = p->gp;
    fputs("set title ", g);
    put_gp(g, title);
    fputs(" noenhanced\nset xlabel 'epoch'\nset ylabel 'test error (%)'\n"
          "set style fill transparent solid 0.18 noborder\n"
          "set xtics 1\nset autoscale xfixmin\nset autoscale xfixmax\nplot ",
          g);
    for (size_t b = 0; b < nblocks; b++)
        fprintf(g, "%s'%s' index %zu using 1:3:4 with filledcurves lc %zu "
                   "notitle",
                b ? ", \\\n     " : "", dat, b, b + 1);
    for (size_t b = 0; b < nblocks; b++) {
        char label[256];
        row_label(label, sizeof label, &t->rows[blockrow[b]], label_rates);
        fprintf(g, ", \\\n     '%s' index %zu using 1:2 with linespoints "
                   "lc %zu lw 2 pt 7 ps 0.6 title ",
                dat, b, b + 1);
        put_gp(g, label);
    }
    fputc('\n', g);
    plot_end(p, name);
out:
    free(blockrow);
    free(buf);
    return rc;
}

/* Test error against rate, one line per (strategy, setting) with at least
 * two distinct numeric rates; the baseline as a dashed line. */
static int plot_rates(plot_ctx *p, const report_table *t, size_t k,
                      db_err *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *d = open_memstream(&buf, &len);
    if (!d)
        return db_fail(e, "out of memory");
    char names[64][256];
    size_t nblocks = 0;
    double base = NAN;
    char basename_[256] = "";
    for (size_t ro = 0; ro < t->nrows && nblocks < 64; ro++) {
        const report_row *row = &t->rows[ro];
        if (row->is_baseline && row->setting[0] == '\0' &&
            report_cell_at(t, ro, k)->n > 0) {
            base = report_cell_at(t, ro, k)->err.mean;
            snprintf(basename_, sizeof basename_, "%s", row->strategy);
            continue;
        }
        /* the first row of each (strategy, setting) group gathers it */
        int seen = 0;
        for (size_t q = 0; q < ro; q++)
            if (strcmp(t->rows[q].strategy, row->strategy) == 0 &&
                strcmp(t->rows[q].setting, row->setting) == 0)
                seen = 1;
        if (seen || row->is_baseline)
            continue;
        size_t npts = 0;
        double last = NAN;
        for (size_t q = ro; q < t->nrows; q++) {
            const report_row *r2 = &t->rows[q];
            if (strcmp(r2->strategy, row->strategy) != 0 ||
                strcmp(r2->setting, row->setting) != 0 || !isfinite(r2->rate) ||
                report_cell_at(t, q, k)->n == 0)
                continue;
            if (!(r2->rate == last))
                npts++;
            last = r2->rate;
        }
        if (npts < 2)
            continue;
        /* points sorted by rate: rows are sorted by rates label, with the
         * default first, so sort here */
        double rr[256], mm[256], ss[256];
        size_t m = 0;
        for (size_t q = ro; q < t->nrows && m < 256; q++) {
            const report_row *r2 = &t->rows[q];
            const report_cell *c = report_cell_at(t, q, k);
            if (strcmp(r2->strategy, row->strategy) != 0 ||
                strcmp(r2->setting, row->setting) != 0 || !isfinite(r2->rate) ||
                c->n == 0)
                continue;
            /* the default rates as a point, unless the same rate was also
             * given explicitly */
            int dup = 0;
            for (size_t q2 = ro; q2 < t->nrows && strcmp(r2->rates, "default") == 0; q2++)
                if (q2 != q && strcmp(t->rows[q2].strategy, row->strategy) == 0 &&
                    strcmp(t->rows[q2].setting, row->setting) == 0 &&
                    t->rows[q2].rate == r2->rate && report_cell_at(t, q2, k)->n > 0)
                    dup = 1;
            if (dup)
                continue;
            size_t at = m;
            while (at > 0 && rr[at - 1] > r2->rate) {
                rr[at] = rr[at - 1];
                mm[at] = mm[at - 1];
                ss[at] = ss[at - 1];
                at--;
            }
            rr[at] = r2->rate;
            mm[at] = c->err.mean;
            ss[at] = c->n >= 2 ? c->err.sd : 0.0;
            m++;
        }
        row_label(names[nblocks], sizeof names[nblocks], row, 0);
        fprintf(d, "# %s: rate mean sd\n", names[nblocks]);
        for (size_t j = 0; j < m; j++)
            fprintf(d, "%.6g %.6g %.6g\n", rr[j], mm[j], ss[j]);
        fputs("\n\n", d);
        nblocks++;
    }
    fclose(d);
    int rc = 0;
    if (nblocks == 0)
        goto out;
    char part[200], name[256], dat[300];
    file_part(part, sizeof part, t->tasks[k]);
    snprintf(name, sizeof name, "rates-%s", part);
    snprintf(dat, sizeof dat, "%s.dat", name);
    if ((rc = write_data(p, dat, buf, len, e)) != 0)
        goto out;
    if (plot_begin(p, name) != 0) {
        rc = db_fail(e, "out of memory");
        goto out;
    }
    FILE *g = p->gp;
    fputs("set title ", g);
    char title[300];
    snprintf(title, sizeof title, "%s: test error against dropout rate",
             t->tasks[k]);
    put_gp(g, title);
    fputs(" noenhanced\nset xlabel 'dropout rate (probability of dropping)'\n"
          "set ylabel 'final test error (%), mean ± std over seeds'\n"
          "set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05\nplot ",
          g);
    for (size_t b = 0; b < nblocks; b++) {
        fprintf(g, "%s'%s' index %zu using 1:2:3 with yerrorlines lc %zu "
                   "lw 2 pt 7 title ",
                b ? ", \\\n     " : "", dat, b, b + 1);
        put_gp(g, names[b]);
    }
    if (isfinite(base)) {
        fprintf(g, ", \\\n     %.6g with lines lc rgb 'black' dt 2 title ", base);
        put_gp(g, basename_);
    }
    fputc('\n', g);
    plot_end(p, name);
out:
    free(buf);
    return rc;
}

/* Seconds per epoch overhead against the baseline: clustered bars, one
 * cluster per row at default rates (all rows when none is at default), one
 * bar per task. */
static int plot_overhead(plot_ctx *p, const report_table *t, db_err *e)
{
    int any_default = 0, any = 0;
    for (size_t ro = 0; ro < t->nrows; ro++)
        if (!t->rows[ro].is_baseline &&
            strcmp(t->rows[ro].rates, "default") == 0)
            any_default = 1;
    char *buf = NULL;
    size_t len = 0;
    FILE *d = open_memstream(&buf, &len);
    if (!d)
        return db_fail(e, "out of memory");
    fputs("row", d);
    for (size_t k = 0; k < t->ntasks; k++)
        fprintf(d, " \"%s\"", t->tasks[k]);
    fputc('\n', d);
    for (size_t ro = 0; ro < t->nrows; ro++) {
        const report_row *row = &t->rows[ro];
        if (row->is_baseline ||
            (any_default && strcmp(row->rates, "default") != 0))
            continue;
        int has = 0;
        for (size_t k = 0; k < t->ntasks; k++)
            if (isfinite(report_cell_at(t, ro, k)->overhead_pct))
                has = 1;
        if (!has)
            continue;
        char label[256];
        row_label(label, sizeof label, row, 1);
        fputc('"', d);
        for (const char *s = label; *s; s++)
            fputc(*s == '"' ? '\'' : *s, d);
        fputc('"', d);
        for (size_t k = 0; k < t->ntasks; k++) {
            double v = report_cell_at(t, ro, k)->overhead_pct;
            if (isfinite(v))
                fprintf(d, " %.4g", v);
            else
                fputs(" NaN", d);
        }
        fputc('\n', d);
        any = 1;
    }
    fclose(d);
    int rc = 0;
    if (!any)
        goto out;
    if ((rc = write_data(p, "overhead.dat", buf, len, e)) != 0)
        goto out;
    if (plot_begin(p, "overhead") != 0) {
        rc = db_fail(e, "out of memory");
        goto out;
    }
    FILE *g = p->gp;
    fputs("set title ", g);
    char title[300];
    snprintf(title, sizeof title,
             "time per epoch relative to %s (overhead, %%)", t->baseline);
    put_gp(g, title);
    fprintf(g, " noenhanced\nset ylabel 'overhead (%%)'\n"
               "set style data histogram\n"
               "set style histogram cluster gap 1\n"
               "set style fill solid 0.8 border -1\nset boxwidth 0.9\n"
               "set xtics rotate by -30 noenhanced\nset xzeroaxis lt -1\n"
               "set yrange [*<0:0<*]\n"
               "set key noenhanced autotitle columnhead\n"
               "plot for [c=2:%zu] 'overhead.dat' using c:xtic(1) title "
               "columnhead(c)\n",
            t->ntasks + 1);
    plot_end(p, "overhead");
out:
    free(buf);
    return rc;
}

static int run_gnuplot(const char *outdir, db_err *e)
{
    const char *bin = getenv("GNUPLOT");
    if (!bin || !*bin)
        bin = "gnuplot";
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return db_fail(e, "fork: %s", strerror(errno));
    if (pid == 0) {
        if (chdir(outdir) != 0)
            _exit(126);
        int fd = open("gnuplot.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execlp(bin, bin, "plots.gp", (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return db_fail(e, "waitpid: %s", strerror(errno));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        return db_fail(e, "cannot run '%s': gnuplot is not installed "
                          "(Debian: apt-get install gnuplot-nox; or set "
                          "$GNUPLOT)", bin);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return db_fail(e, "gnuplot failed on %s/plots.gp; see %s/gnuplot.log",
                       outdir, outdir);
    return 0;
}

int report_plots(const report_set *set, const report_table *t,
                 const char *outdir, size_t *nplots, db_err *e)
{
    *nplots = 0;
    if (mkdir_p(outdir, e) != 0)
        return -1;
    char *script = NULL;
    size_t slen = 0;
    plot_ctx p = { outdir, open_memstream(&script, &slen), NULL, 0, 0 };
    if (!p.gp)
        return db_fail(e, "out of memory");
    fputs("# written by dropbench report --plots; run: gnuplot plots.gp\n",
          p.gp);
    size_t *sel = malloc((t->nrows ? t->nrows : 1) * sizeof *sel);
    int rc = sel ? 0 : db_fail(e, "out of memory");
    for (size_t k = 0; k < t->ntasks && rc == 0; k++) {
        char part[200], name[512], title[512];
        file_part(part, sizeof part, t->tasks[k]);
        /* every row at default rates, one curve each */
        size_t nsel = 0;
        for (size_t ro = 0; ro < t->nrows; ro++)
            if (strcmp(t->rows[ro].rates, "default") == 0)
                sel[nsel++] = ro;
        snprintf(name, sizeof name, "curves-%s", part);
        snprintf(title, sizeof title, "%s: test error per epoch (mean ± std "
                 "over seeds)", t->tasks[k]);
        rc = plot_curves(&p, set, t, k, sel, nsel, name, title, 0, e);
        /* strategies run at several rates: one plot each */
        for (size_t ro = 0; ro < t->nrows && rc == 0; ro++) {
            const report_row *row = &t->rows[ro];
            int first = 1;
            for (size_t q = 0; q < ro; q++)
                if (strcmp(t->rows[q].strategy, row->strategy) == 0)
                    first = 0;
            if (!first)
                continue;
            nsel = 0;
            int nondefault = 0;
            for (size_t q = ro; q < t->nrows; q++)
                if (strcmp(t->rows[q].strategy, row->strategy) == 0 &&
                    report_cell_at(t, q, k)->n > 0) {
                    sel[nsel++] = q;
                    nondefault |= strcmp(t->rows[q].rates, "default") != 0;
                }
            if (nsel < 2 || !nondefault)
                continue;
            char spart[200];
            file_part(spart, sizeof spart, row->strategy);
            snprintf(name, sizeof name, "curves-%s-%s", part, spart);
            snprintf(title, sizeof title, "%s, %s: test error per epoch by "
                     "rate", t->tasks[k], row->strategy);
            rc = plot_curves(&p, set, t, k, sel, nsel, name, title, 1, e);
        }
        if (rc == 0)
            rc = plot_rates(&p, t, k, e);
    }
    if (rc == 0)
        rc = plot_overhead(&p, t, e);
    free(sel);
    fclose(p.gp);
    if (rc == 0 && p.nplots == 0)
        rc = db_fail(e, "nothing to plot: no result has per-epoch test "
                        "errors or timings");
    char path[4096];
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/plots.gp", outdir);
        rc = report_write_atomic(path, script, slen, e);
    }
    if (rc == 0)
        rc = run_gnuplot(outdir, e);
    for (size_t i = 0; i < p.noutputs; i++) {
        char tmp[4200];
        snprintf(path, sizeof path, "%s/%s", outdir, p.outputs[i]);
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        if (rc == 0) {
            if (rename(tmp, path) != 0)
                rc = db_fail(e, "%s: gnuplot did not write it (%s)", tmp,
                             strerror(errno));
        } else {
            unlink(tmp);
        }
    }
    free_strs(p.outputs, p.noutputs);
    free(script);
    if (rc == 0)
        *nplots = p.nplots;
    return rc;
}

/* -------------------------------------------------------------------- CLI */

static void report_usage(FILE *f)
{
    fputs("usage: dropbench report DIR... [--format md|csv|latex] "
          "[--baseline STRATEGY]\n"
          "                        [--output FILE] [--plots OUTDIR]\n"
          "  Aggregates the result files (*.json) of DIR: final test error per\n"
          "  strategy and task (mean ± std over seeds), time per epoch, and\n"
          "  paired differences against the baseline (default none) with 95%\n"
          "  confidence intervals.  --plots writes SVG and PNG plots (gnuplot).\n",
          f);
}

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        { "format", required_argument, NULL, 'f' },
        { "baseline", required_argument, NULL, 'b' },
        { "output", required_argument, NULL, 'o' },
        { "plots", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    enum report_format fmt = REPORT_MD;
    const char *baseline = "none", *output = NULL, *plots = NULL;
    db_err e = { "" };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "f:b:o:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (report_parse_format(optarg, &fmt, &e) != 0) {
                fprintf(stderr, "dropbench report: %s\n", e.msg);
                return 2;
            }
            break;
        case 'b': baseline = optarg; break;
        case 'o': output = optarg; break;
        case 'p': plots = optarg; break;
        case 'h': report_usage(stdout); return 0;
        default: report_usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        report_usage(stderr);
        return 2;
    }

    report_set set;
    memset(&set, 0, sizeof set);
    for (int i = optind; i < argc; i++) {
        size_t before = set.nfiles;
        if (report_load(&set, argv[i], &e) != 0) {
            fprintf(stderr, "dropbench report: %s\n", e.msg);
            report_set_free(&set);
            return 1;
        }
        if (set.nfiles == before)
            fprintf(stderr, "dropbench report: %s: no result files (*.json) "
                            "in this directory\n", argv[i]);
    }
    for (size_t i = 0; i < set.nproblems; i++)
        fprintf(stderr, "dropbench report: skipped %s\n", set.problems[i]);
    if (set.nfiles == 0) {
        fprintf(stderr, "dropbench report: nothing to report\n");
        report_set_free(&set);
        return 1;
    }

    report_table t;
    if (report_aggregate(&set, baseline, &t, &e) != 0) {
        fprintf(stderr, "dropbench report: %s\n", e.msg);
        for (size_t i = 0; i < set.n; i++)
            fprintf(stderr, "  %s: %s%s%s\n", set.res[i].file,
                    set.res[i].status, set.res[i].error ? ": " : "",
                    set.res[i].error ? set.res[i].error : "");
        report_set_free(&set);
        return 1;
    }

    int rc = 0;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m || report_write(m, &set, &t, fmt, &e) != 0) {
        if (m)
            fclose(m);
        fprintf(stderr, "dropbench report: %s\n",
                m ? e.msg : "out of memory");
        rc = 1;
    } else {
        fclose(m);
        if (output) {
            if (report_write_atomic(output, buf, len, &e) != 0) {
                fprintf(stderr, "dropbench report: %s\n", e.msg);
                rc = 1;
            }
        } else if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
            fprintf(stderr, "dropbench report: cannot write to standard "
                            "output: %s\n", strerror(errno));
            rc = 1;
        }
    }
    free(buf);

    if (rc == 0 && plots) {
        size_t np = 0;
        if (report_plots(&set, &t, plots, &np, &e) != 0) {
            fprintf(stderr, "dropbench report: plots: %s\n", e.msg);
            rc = 1;
        } else {
            fprintf(stderr, "dropbench report: %zu plot(s) in %s (SVG and "
                            "PNG)\n", np, plots);
        }
    }
    report_table_free(&t);
    report_set_free(&set);
    return rc;
}
