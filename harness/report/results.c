/* results.c - result files -> report_set.  See results.h. */
#include "report/results.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "arch.h"
#include "util/fs.h"
#include "util/jsonio.h"
#include "util/str.h"

#define REPORT_MAX_FILE (64u << 20) /* a result file is a few KiB */

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

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
    free(r->framework);
    free(r->provenance);
    free(r->paper_source);
    free(r->note);
    free(r->cpu);
    free(r->cpu_id);
}

void report_set_free(report_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        result_free(&set->res[i]);
    free(set->res);
    db_strv_free(set->problems, set->nproblems);
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

/* r->provenance from a dropbench result's code_version and environment;
 * -1 when out of memory. */
static int provenance_of(report_result *r, const cJSON *root)
{
    const cJSON *cv = cJSON_GetObjectItemCaseSensitive(root, "code_version");
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(root, "environment");
    const cJSON *commit = cJSON_GetObjectItemCaseSensitive(env, "git_commit");
    const cJSON *dirty = cJSON_GetObjectItemCaseSensitive(env, "git_dirty");
    const cJSON *core = cJSON_GetObjectItemCaseSensitive(env, "blas_core");
    if (!cJSON_IsString(cv) && !cJSON_IsString(commit))
        return 0;
    r->provenance = db_asprintf(
        "code version %s, commit %.12s%s, OpenBLAS core %s",
        cJSON_IsString(cv) ? cv->valuestring : "?",
        cJSON_IsString(commit) ? commit->valuestring : "?",
        cJSON_IsTrue(dirty) ? " (uncommitted changes)" : "",
        cJSON_IsString(core) ? core->valuestring : "?");
    return r->provenance ? 0 : -1;
}

static int is_hex16(const char *s)
{
    size_t n = strspn(s, "0123456789abcdef");
    return n == 16 && s[n] == '\0';
}

/* r->base_model: the recorded fingerprint, else the one of config.model
 * (results written before it was recorded), else "".  -1 only when out of
 * memory. */
static int base_model_of(report_result *r, const cJSON *root, const cJSON *cfg)
{
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "fingerprints"), "base_model");
    r->base_model[0] = '\0';
    if (cJSON_IsString(fp) && is_hex16(fp->valuestring)) {
        memcpy(r->base_model, fp->valuestring, 17);
        return 0;
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(cfg, "model");
    if (!model)
        return 0;
    cJSON *base = NULL;
    db_err e;
    int rc = 0;
    if (db_arch_base_json(&base, model, "config", &e) == 0 &&
        db_json_fingerprint(r->base_model, base, &e) != 0)
        rc = -1;
    else if (!base && strstr(e.msg, "out of memory"))
        rc = -1;
    cJSON_Delete(base);
    return rc;
}

/* The fields every result must have, in the order they are checked: NULL,
 * or why the result is refused (static text). */
static const char *result_required(const cJSON *root)
{
    if (!cJSON_IsObject(root))
        return "not a JSON object";
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(root, "schema_version");
    if (sv && (!cJSON_IsNumber(sv) || sv->valuedouble != 1))
        return "unsupported schema_version (expected 1)";
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status");
    if (!cJSON_IsString(st))
        return "missing \"status\"";
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
    if (!cJSON_IsObject(cfg))
        return "missing \"config\" object";
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(cfg, "task");
    const cJSON *strat = cJSON_GetObjectItemCaseSensitive(cfg, "strategy");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(cfg, "seed");
    if (!cJSON_IsString(task) || !task->valuestring[0])
        return "missing \"config.task\"";
    if (!cJSON_IsString(strat) || !strat->valuestring[0])
        return "missing \"config.strategy\"";
    if (!cJSON_IsNumber(seed))
        return "missing \"config.seed\"";
    if (!(seed->valuedouble >= 0.0) || seed->valuedouble > 9007199254740991.0 ||
        seed->valuedouble != floor(seed->valuedouble))
        return "\"config.seed\" is not an integer in [0, 2^53)";
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(cfg, "rate");
    if (rate && !cJSON_IsNull(rate) && !cJSON_IsString(rate) &&
        !cJSON_IsNumber(rate))
        return "\"config.rate\" is neither null, a string nor a number";
    if (strcmp(st->valuestring, "complete") == 0 &&
        !isfinite(opt_num(cJSON_GetObjectItemCaseSensitive(root, "final"),
                          "test_error_pct")))
        return "complete but no numeric \"final.test_error_pct\"";
    return NULL;
}

/* Task, strategy, rates, status, error, seed and test error, from a result
 * result_required accepted; -1 when out of memory. */
static int result_identity(report_result *r, const cJSON *root, const cJSON *cfg)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status");
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(cfg, "task");
    const cJSON *strat = cJSON_GetObjectItemCaseSensitive(cfg, "strategy");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(cfg, "seed");
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(cfg, "rate");
    r->task = db_strdup(task->valuestring);
    r->strategy = db_strdup(strat->valuestring);
    if (cJSON_IsString(rate))
        r->rates = db_strdup(rate->valuestring);
    else if (cJSON_IsNumber(rate))
        r->rates = db_asprintf("%g", rate->valuedouble);
    else
        r->rates = db_strdup("default");
    r->status = db_strdup(st->valuestring);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    r->error = cJSON_IsString(err) ? db_strdup(err->valuestring) : NULL;
    if (!r->task || !r->strategy || !r->rates || !r->status ||
        (cJSON_IsString(err) && !r->error))
        return -1;
    r->seed = (long)seed->valuedouble;
    r->test_error = strcmp(st->valuestring, "complete") == 0
                        ? opt_num(cJSON_GetObjectItemCaseSensitive(root, "final"),
                                  "test_error_pct")
                        : NAN;
    return 0;
}

/* The variance shift ratios and the calibration numbers; NULL, or why the
 * result is refused. */
static const char *result_shift_calibration(report_result *r, const cJSON *root)
{
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "variance_shift"), "layers");
    const cJSON *vl;
    cJSON_ArrayForEach(vl, vs) {
        double v = opt_num(vl, "ratio_mean");
        if (!isfinite(v))
            return "\"variance_shift\" lacks a ratio_mean";
        if (r->nshift < sizeof r->shift / sizeof r->shift[0])
            r->shift[r->nshift++] = v;
    }
    const cJSON *cal = cJSON_GetObjectItemCaseSensitive(root, "calibration");
    if (!cal)
        return NULL;
    static const char *const part[2] = { "deterministic", "mc" };
    static const char *const key[3] = { "test_error_pct", "nll", "ece" };
    double T = opt_num(cal, "mc_samples");
    if (!(T >= 1) || T != floor(T) || T > 1e9)
        return "\"calibration.mc_samples\" is not a positive integer";
    r->mc_samples = (long)T;
    for (int p = 0; p < 2; p++)
        for (int k = 0; k < 3; k++) {
            r->cal[p * 3 + k] =
                opt_num(cJSON_GetObjectItemCaseSensitive(cal, part[p]), key[k]);
            if (!isfinite(r->cal[p * 3 + k]))
                return "\"calibration\" lacks a number";
        }
    return NULL;
}

/* The run's settings and timings (NaN or -1 where absent). */
static void result_settings(report_result *r, const cJSON *root, const cJSON *cfg)
{
    r->epochs = opt_long(cfg, "epochs");
    r->batch = opt_long(cfg, "batch");
    r->limit_train = opt_long(cfg, "limit_train");
    r->val = opt_long(cfg, "val");
    r->threads = opt_long(cfg, "threads");
    r->lr = opt_num(cJSON_GetObjectItemCaseSensitive(cfg, "optimizer"), "lr");
    const cJSON *timing = cJSON_GetObjectItemCaseSensitive(root, "timing");
    r->sec_epoch = opt_num(timing, "seconds_per_epoch");
    r->train_sec_epoch = opt_num(timing, "train_seconds_per_epoch");
    r->eval_sec_epoch = NAN;
    double ev = opt_num(timing, "eval_seconds");
    long done = opt_long(cJSON_GetObjectItemCaseSensitive(root, "final"),
                         "epochs_completed");
    if (isfinite(ev) && done > 0)
        r->eval_sec_epoch = ev / (double)done;
    r->load_sec = opt_num(timing, "data_load_seconds");
}

/* Where the result comes from: CPU, framework or provenance, test set size,
 * the paper's number, the note and the base model; -1 when out of memory. */
static int result_origin(report_result *r, const cJSON *root, const cJSON *cfg)
{
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(root, "environment");
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(env, "cpu");
    if (cJSON_IsString(cpu) && !(r->cpu = db_strdup(cpu->valuestring)))
        return -1;
    const cJSON *cpu_id = cJSON_GetObjectItemCaseSensitive(env, "cpu_id");
    if (cJSON_IsString(cpu_id) && !(r->cpu_id = db_strdup(cpu_id->valuestring)))
        return -1;
    const cJSON *fw = cJSON_GetObjectItemCaseSensitive(root, "framework");
    if (cJSON_IsString(fw) && strcmp(fw->valuestring, "dropbench") != 0 &&
        !(r->framework = db_strdup(fw->valuestring)))
        return -1;
    if (!r->framework && provenance_of(r, root) != 0)
        return -1;
    r->test_size = opt_long(cJSON_GetObjectItemCaseSensitive(root, "data"),
                            "test_size");
    r->paper_pct = NAN;
    r->paper_errors = -1;
    const cJSON *paper = cJSON_GetObjectItemCaseSensitive(cfg, "paper");
    if (cJSON_IsObject(paper)) {
        r->paper_pct = opt_num(paper, "test_error_pct");
        r->paper_errors = opt_long(paper, "test_errors");
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(paper, "source");
        if (cJSON_IsString(src) && !(r->paper_source = db_strdup(src->valuestring)))
            return -1;
    }
    const cJSON *note = cJSON_GetObjectItemCaseSensitive(cfg, "note");
    if (cJSON_IsString(note) && !(r->note = db_strdup(note->valuestring)))
        return -1;
    return base_model_of(r, root, cfg);
}

/* r->site_rate: the rate every config.dropout_sites entry shares (0 with no
 * site, NaN when they differ or there is no such list). */
static void result_site_rate(report_result *r, const cJSON *cfg)
{
    r->site_rate = NAN;
    const cJSON *sites = cJSON_GetObjectItemCaseSensitive(cfg, "dropout_sites");
    if (!cJSON_IsArray(sites))
        return;
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

/* r->curve: the test error per epoch, up to the first gap; -1 when out of
 * memory. */
static int result_curve(report_result *r, const cJSON *root)
{
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "epochs");
    if (!cJSON_IsArray(eps))
        return 0;
    int ne = cJSON_GetArraySize(eps);
    if (ne <= 0)
        return 0;
    r->curve = malloc((size_t)ne * sizeof *r->curve);
    if (!r->curve)
        return -1;
    const cJSON *ep;
    cJSON_ArrayForEach(ep, eps) {
        double v = opt_num(ep, "test_error_pct");
        if (!isfinite(v))
            break; /* a curve stops at the first gap */
        r->curve[r->ncurve++] = v;
    }
    return 0;
}

/* Fills r from a parsed result; on a missing/invalid required field returns
 * -1 with why in *why (static text). */
static int result_from_json(report_result *r, const cJSON *root,
                            const char **why)
{
    const char *bad = result_required(root);
    if (bad)
        return *why = bad, -1;
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
    if (result_identity(r, root, cfg) != 0)
        return *why = "out of memory", -1;
    const cJSON *dv = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "data"), "verified");
    r->unverified = cJSON_IsFalse(dv);
    if ((bad = result_shift_calibration(r, root)) != NULL)
        return *why = bad, -1;
    result_settings(r, root, cfg);
    if (result_origin(r, root, cfg) != 0)
        return *why = "out of memory", -1;
    result_site_rate(r, cfg);
    if (result_curve(r, root) != 0)
        return *why = "out of memory", -1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of dir's *.json files (not hidden ones), sorted, into *names
 * (*nn of them). */
static int list_json_files(char ***names, size_t *nn, const char *dir, db_err *e)
{
    DIR *d = opendir(dir);
    if (!d)
        return db_fail(e, "%s: %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || !ends_with(de->d_name, ".json"))
            continue;
        if (db_strv_push(names, nn, db_strdup(de->d_name)) != 0) {
            closedir(d);
            db_strv_free(*names, *nn);
            return db_fail(e, "%s: out of memory", dir);
        }
    }
    closedir(d);
    if (*nn)
        qsort(*names, *nn, sizeof **names, cmp_str);
    return 0;
}

/* The result file at path, parsed (its stat in *sb); NULL with the reason in
 * *why (written to whybuf, n bytes, when it is not static text). */
static cJSON *read_result(const char *path, struct stat *sb, char *whybuf, size_t n,
                          const char **why)
{
    size_t len = 0;
    db_err re = { "" };
    char *text = stat(path, sb) == 0 ? db_read_file(path, &len, REPORT_MAX_FILE, &re)
                                      : NULL;
    cJSON *root = NULL;
    if (!text) {
        const char *msg = re.msg;
        if (stat(path, sb) != 0)
            msg = strerror(errno);
        else if (!strncmp(msg, path, strlen(path)) && msg[strlen(path)] == ':')
            msg += strlen(path) + 2; /* the reason without the path */
        snprintf(whybuf, n, "cannot read: %s", msg);
        *why = whybuf;
    } else if (!(root = cJSON_ParseWithLength(text, len))) {
        *why = "not valid JSON";
    }
    free(text);
    return root;
}

/* Room in set->res for one more result; -1 when out of memory. */
static int grow_set(report_set *set)
{
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 64;
        report_result *nr = realloc(set->res, cap * sizeof *nr);
        if (!nr)
            return -1;
        set->res = nr;
        set->cap = cap;
    }
    return 0;
}

/* The result in root (file name at *path, sb its stat) added to set, or why
 * it is refused in *why.  Once root parses as a result, *path is the
 * result's (freed with it if it cannot be kept) and *path is set to NULL. */
static void add_result(report_set *set, const cJSON *root, char **path, const char *name,
                       const struct stat *sb, const char **why)
{
    report_result *r = &set->res[set->n];
    memset(r, 0, sizeof *r);
    if (result_from_json(r, root, why) == 0) {
        r->path = *path;
        r->file = db_strdup(name);
        r->mtime = (double)sb->st_mtim.tv_sec +
                   1e-9 * (double)sb->st_mtim.tv_nsec;
        *path = NULL;
        if (!r->file) {
            *why = "out of memory";
            result_free(r);
        } else {
            set->n++;
        }
    } else {
        result_free(r);
    }
}

int report_load(report_set *set, const char *dir, db_err *e)
{
    char **names = NULL;
    size_t nn = 0;
    if (list_json_files(&names, &nn, dir, e) != 0)
        return -1;

    int rc = 0;
    for (size_t i = 0; i < nn && rc == 0; i++) {
        set->nfiles++;
        char *path = db_asprintf("%s/%s", dir, names[i]);
        if (!path) {
            rc = db_fail(e, "out of memory");
            break;
        }
        const char *why = NULL;
        char whybuf[256];
        struct stat sb;
        cJSON *root = read_result(path, &sb, whybuf, sizeof whybuf, &why);
        if (root) {
            if (grow_set(set) != 0) {
                cJSON_Delete(root);
                free(path);
                rc = db_fail(e, "out of memory");
                break;
            }
            add_result(set, root, &path, names[i], &sb, &why);
            cJSON_Delete(root);
        }
        free(path);
        if (why &&
            db_strv_push(&set->problems, &set->nproblems,
                     db_asprintf("%s/%s: %s", dir, names[i], why)) != 0)
            rc = db_fail(e, "out of memory");
    }
    db_strv_free(names, nn);
    return rc;
}
