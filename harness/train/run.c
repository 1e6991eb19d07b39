#include "train/run.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strategy.h"
#include "train/model.h"
#include "train/runcfg.h"
#include "util/jsonio.h"
#include "util/str.h"

void run_request_init(run_request *rq)
{
    memset(rq, 0, sizeof *rq);
    rq->seed = -1;
    const char *u = getenv("DROPBENCH_ALLOW_UNVERIFIED");
    rq->allow_unverified = u && *u && strcmp(u, "0") != 0;
}

const char *db_preset_dir(void)
{
    static char dir[PATH_MAX];
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            struct stat st;
            /* the binary sits at the project root, or in build/ below it */
            const char *rel[] = { "/configs", "/../configs" };
            for (int i = 0; i < 2; i++) {
                snprintf(dir, sizeof dir, "%s%s", exe, rel[i]);
                if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
                    return dir;
            }
        }
    }
    return "configs";
}

size_t db_config_path(const char **dirs, size_t max)
{
    static char env[8192];
    size_t n = 0;
    const char *v = getenv("DROPBENCH_CONFIGS");
    snprintf(env, sizeof env, "%s", v ? v : "");
    for (char *save = NULL, *d = strtok_r(env, ":", &save); d && n + 1 < max;
         d = strtok_r(NULL, ":", &save))
        dirs[n++] = d;
    const char *preset = db_preset_dir();
    int dup = 0;
    for (size_t i = 0; i < n; i++)
        dup |= strcmp(dirs[i], preset) == 0;
    if (!dup && n < max)
        dirs[n++] = preset;
    return n;
}

static int valid_task_name(const char *t)
{
    if (!*t || strlen(t) > 60)
        return 0;
    for (const char *c = t; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
              *c == '_'))
            return 0;
    return 1;
}

/* 1 when the JSON file at path is a sweep file (sweep/plan.h: an object
 * without "task" that has "tasks", "grid" or "strategies"), which is never
 * a task; 0 otherwise (a config, or a file the config reader will complain
 * about). */
static int is_sweep_file(const char *path)
{
    cJSON *j = NULL;
    if (db_json_load(&j, path, NULL))
        return 0;
    int sweep = cJSON_IsObject(j) && !cJSON_HasObjectItem(j, "task") &&
                (cJSON_HasObjectItem(j, "tasks") || cJSON_HasObjectItem(j, "grid") ||
                 cJSON_HasObjectItem(j, "strategies"));
    cJSON_Delete(j);
    return sweep;
}

/* The folders of one search-path entry that hold task configs: the folder
 * itself, then its repro/ (the reproduction presets, docs/REPRO.md). */
static const char *const task_subdirs[] = { "", "/repro" };

/* The config file of task `name` into path (size n): the first NAME.json of
 * the search path that is not a sweep file.  0, or -1 when there is none. */
static int find_task(char *path, size_t n, const char *name)
{
    const char *dirs[64];
    size_t nd = db_config_path(dirs, 64);
    for (size_t i = 0; i < nd; i++)
        for (size_t k = 0; k < 2; k++) {
            snprintf(path, n, "%s%s/%s.json", dirs[i], task_subdirs[k], name);
            if (access(path, F_OK) == 0 && !is_sweep_file(path))
                return 0;
        }
    return -1;
}

int db_task_names(char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    const char *dirs[64];
    size_t nd = db_config_path(dirs, 64);
    for (size_t i = 0; i < nd; i++)
        for (size_t k = 0; k < 2; k++) {
            char dir[PATH_MAX + 16];
            snprintf(dir, sizeof dir, "%s%s", dirs[i], task_subdirs[k]);
            DIR *d = opendir(dir);
            if (!d)
                continue;
            struct dirent *de;
            while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                if (l <= 5 || l - 5 > 60 || strcmp(de->d_name + l - 5, ".json") != 0)
                    continue;
                char name[64], path[PATH_MAX + 96];
                snprintf(name, sizeof name, "%.*s", (int)(l - 5), de->d_name);
                snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
                int seen = !valid_task_name(name);
                for (size_t j = 0; j < *n && !seen; j++)
                    seen = strcmp((*names)[j], name) == 0;
                if (seen || is_sweep_file(path))
                    continue;
                if (db_strv_push(names, n, db_strdup(name))) {
                    closedir(d);
                    db_strv_free(*names, *n);
                    *names = NULL;
                    *n = 0;
                    return -1;
                }
            }
            closedir(d);
        }
    return 0;
}

/* The "unknown task" error: the closest known name, and the known names
 * (sorted). */
static int unknown_task(const char *task, db_err *e)
{
    char **names = NULL;
    size_t n = 0;
    if (db_task_names(&names, &n))
        return db_fail(e, "unknown task \"%s\" (out of memory listing the tasks)", task);
    db_fail_unknown(e, NULL, "task", task, (const char *const *)names, n);
    db_strv_free(names, n);
    return -1;
}

static const char *const file_keys[] = { "task", "description", "data", "model",
                                         "strategy", "rate", "train", "seed",
                                         "threads", "retain", "init", "preprocess",
                                         "paper", "note", "mc_samples",
                                         "dropout_scaling", NULL };
static const char *const train_keys[] = { "batch", "epochs", "lr", "momentum",
                                          "weight_decay", "max_norm", "clip_norm",
                                          "schedule", "update", "momentum_schedule",
                                          "max_norm_layers", NULL };

static int check_range(double v, double lo, double hi, int integer, const char *what,
                       const char *key, db_err *e)
{
    if (!isfinite(v) || v < lo || v > hi || (integer && v != floor(v)))
        return db_fail(e, "%s: \"%s\" = %g is out of range (%s in [%g, %g])", what, key, v,
                       integer ? "an integer" : "a number", lo, hi);
    return 0;
}

/* train.update, train.max_norm_layers and train.momentum_schedule
 * (docs/REPRO.md); absent: the suite's defaults. */
static int parse_recipe_train(run_config *rc, const cJSON *t, const char *tw,
                              int momentum_given, db_err *e)
{
    const char *s = NULL;
    if (db_json_string(&s, t, "update", 0, tw, e))
        return -1;
    if (s && strcmp(s, "hinton") == 0)
        rc->opt.update = DB_UPDATE_HINTON;
    else if (s && strcmp(s, "pytorch") != 0)
        return db_fail(e, "%s: \"update\" must be \"pytorch\" or \"hinton\"", tw);
    s = NULL;
    if (db_json_string(&s, t, "max_norm_layers", 0, tw, e))
        return -1;
    if (s && strcmp(s, "hidden") == 0)
        rc->opt.max_norm_layers = DB_MAXNORM_HIDDEN;
    else if (s && strcmp(s, "all") != 0)
        return db_fail(e, "%s: \"max_norm_layers\" must be \"all\" or \"hidden\"", tw);
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(t, "momentum_schedule");
    if (!ms)
        return 0;
    static const char *const mk[] = { "type", "start", "end", "epochs", "steps", NULL };
    char mw[700];
    snprintf(mw, sizeof mw, "%s.momentum_schedule", tw);
    if (!cJSON_IsObject(ms))
        return db_fail(e, "%s: must be an object", mw);
    if (db_json_only_keys(ms, mk, mw, e))
        return -1;
    if (momentum_given)
        return db_fail(e, "%s: give \"momentum\" or \"momentum_schedule\", not both", tw);
    run_recipe *x = &rc->rx;
    double a = 0, b = 0, n = 0;
    if (db_json_string(&s, ms, "type", 1, mw, e) ||
        db_json_number(&a, ms, "start", 1, mw, e) ||
        check_range(a, 0, 0.999999, 0, mw, "start", e) ||
        db_json_number(&b, ms, "end", 1, mw, e) ||
        check_range(b, 0, 0.999999, 0, mw, "end", e))
        return -1;
    if (strcmp(s, "linear") == 0) {
        if (cJSON_GetObjectItemCaseSensitive(ms, "steps"))
            return db_fail(e, "%s: \"steps\" belongs to \"exp-step\" (linear takes "
                           "\"epochs\")", mw);
        if (db_json_number(&n, ms, "epochs", 1, mw, e) ||
            check_range(n, 1, 1e6, 1, mw, "epochs", e))
            return -1;
        x->mom_schedule = DB_MOM_LINEAR;
        x->mom_epochs = (size_t)n;
    } else if (strcmp(s, "exp-step") == 0) {
        if (cJSON_GetObjectItemCaseSensitive(ms, "epochs"))
            return db_fail(e, "%s: \"epochs\" belongs to \"linear\" (exp-step takes "
                           "\"steps\")", mw);
        if (db_json_number(&n, ms, "steps", 1, mw, e) ||
            check_range(n, 1, 1e12, 1, mw, "steps", e))
            return -1;
        x->mom_schedule = DB_MOM_EXP_STEP;
        x->mom_steps = (size_t)n;
    } else {
        return db_fail(e, "%s: \"type\" must be \"linear\" or \"exp-step\"", mw);
    }
    x->mom_start = a;
    x->mom_end = b;
    rc->opt.momentum = a;
    return 0;
}

/* "retain": retention probabilities p as the papers state them (a number or
 * a comma list), recorded as drop rates 1 - p in ratebuf. */
static int parse_retain(run_config *rc, const cJSON *r, const char *path, char *ratebuf,
                        size_t ratebuf_n, db_err *e)
{
    char given[128];
    if (cJSON_IsNumber(r))
        snprintf(given, sizeof given, "%.17g", r->valuedouble);
    else if (cJSON_IsString(r) && strlen(r->valuestring) < sizeof given)
        snprintf(given, sizeof given, "%s", r->valuestring);
    else
        return db_fail(e, "%s: \"retain\" must be a number or a string like \"0.8,0.5\" "
                       "(at most %zu characters)", path, sizeof given - 1);
    size_t used = 0;
    ratebuf[0] = '\0';
    const char *p = given;
    for (int k = 0;; k++) {
        char *end = NULL;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || !isfinite(v) || !(v > 0.0 && v <= 1.0))
            return db_fail(e, "%s: \"retain\": item %d of \"%s\" is not a retention "
                           "probability in (0, 1]", path, k + 1, given);
        while (*end == ' ')
            end++;
        /* 12 digits: 1 - 0.8 is recorded as 0.2, not 0.19999999999999996 */
        used += (size_t)snprintf(ratebuf + used, used < ratebuf_n ? ratebuf_n - used : 0,
                                 "%s%.12g", k ? "," : "", 1.0 - v);
        if (used >= ratebuf_n)
            return db_fail(e, "%s: \"retain\": list too long", path);
        if (*end == '\0')
            break;
        if (*end != ',')
            return db_fail(e, "%s: \"retain\": expected ',' after item %d of \"%s\"",
                           path, k + 1, given);
        p = end + 1;
    }
    snprintf(rc->rx.retain, sizeof rc->rx.retain, "%s", given);
    return 0;
}

/* "init": {"type": "default"} or {"type": "normal", "std": S, "bias": B}
 * with S a number, "1/sqrt(fan_in)" or one number per dense/conv layer. */
static int parse_init(run_config *rc, const cJSON *in, const char *path, db_err *e)
{
    static const char *const ik[] = { "type", "std", "bias", NULL };
    char iw[600];
    snprintf(iw, sizeof iw, "%s: init", path);
    if (!cJSON_IsObject(in))
        return db_fail(e, "%s: must be an object", iw);
    if (db_json_only_keys(in, ik, iw, e))
        return -1;
    const char *s = NULL;
    if (db_json_string(&s, in, "type", 1, iw, e))
        return -1;
    if (strcmp(s, "default") == 0) {
        if (cJSON_GetArraySize(in) != 1)
            return db_fail(e, "%s: \"default\" takes no other key", iw);
        return 0;
    }
    if (strcmp(s, "normal") != 0)
        return db_fail(e, "%s: \"type\" must be \"default\" or \"normal\"", iw);
    db_init *x = &rc->rx.init;
    x->type = DB_INIT_NORMAL;
    size_t nlayers = 0;
    for (size_t i = 0; i < rc->base.n; i++)
        nlayers += rc->base.layers[i].type == DB_LAYER_DENSE ||
                   rc->base.layers[i].type == DB_LAYER_CONV;
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(in, "std");
    if (cJSON_IsString(sd) && strcmp(sd->valuestring, "1/sqrt(fan_in)") == 0) {
        x->std_fan_in = 1;
    } else if (cJSON_IsNumber(sd)) {
        if (check_range(sd->valuedouble, 1e-12, 1e3, 0, iw, "std", e))
            return -1;
        x->nstd = 1;
        x->std[0] = sd->valuedouble;
    } else if (cJSON_IsArray(sd)) {
        if ((size_t)cJSON_GetArraySize(sd) != nlayers || nlayers < 2)
            return db_fail(e, "%s: \"std\" has %d values; the model has %zu dense and conv "
                           "layers (give one number for all of them, or one per layer)",
                           iw, cJSON_GetArraySize(sd), nlayers);
        const cJSON *v;
        cJSON_ArrayForEach(v, sd) {
            if (!cJSON_IsNumber(v) ||
                check_range(v->valuedouble, 1e-12, 1e3, 0, iw, "std", e))
                return cJSON_IsNumber(v) ? -1
                                         : db_fail(e, "%s: \"std\" must hold numbers", iw);
            x->std[x->nstd++] = v->valuedouble;
        }
    } else {
        return db_fail(e, "%s: \"std\" must be a number, \"1/sqrt(fan_in)\" or an array "
                       "with one number per dense and conv layer", iw);
    }
    x->bias = 0;
    if (db_json_number(&x->bias, in, "bias", 0, iw, e) ||
        check_range(x->bias, -1e3, 1e3, 0, iw, "bias", e))
        return -1;
    return 0;
}

/* "preprocess": {"type": "gcn-zca", "gcn_bias": b, "zca_epsilon": eps} on
 * CIFAR-10 (docs/REPRO.md); the parameters have defaults. */
static int parse_preprocess(run_config *rc, const cJSON *pp, const char *path, db_err *e)
{
    static const char *const pk[] = { "type", "gcn_bias", "zca_epsilon", NULL };
    char pw[600];
    snprintf(pw, sizeof pw, "%s: preprocess", path);
    if (!cJSON_IsObject(pp))
        return db_fail(e, "%s: must be an object", pw);
    if (db_json_only_keys(pp, pk, pw, e))
        return -1;
    const char *s = NULL;
    if (db_json_string(&s, pp, "type", 1, pw, e))
        return -1;
    if (strcmp(s, "standard") == 0) {
        if (cJSON_GetArraySize(pp) != 1)
            return db_fail(e, "%s: \"standard\" takes no other key", pw);
        return 0;
    }
    if (strcmp(s, "gcn-zca") != 0)
        return db_fail(e, "%s: \"type\" must be \"standard\" or \"gcn-zca\"", pw);
    if (strcmp(rc->data, "cifar10") != 0)
        return db_fail(e, "%s: \"gcn-zca\" is for cifar10, not %s", pw, rc->data);
    run_recipe *x = &rc->rx;
    snprintf(x->preprocess, sizeof x->preprocess, "gcn-zca");
    x->gcn_bias = DB_GCN_BIAS_DEFAULT;
    x->zca_epsilon = DB_ZCA_EPSILON_DEFAULT;
    if (db_json_number(&x->gcn_bias, pp, "gcn_bias", 0, pw, e) ||
        check_range(x->gcn_bias, 0, 1e3, 0, pw, "gcn_bias", e) ||
        db_json_number(&x->zca_epsilon, pp, "zca_epsilon", 0, pw, e) ||
        check_range(x->zca_epsilon, 1e-12, 1e6, 0, pw, "zca_epsilon", e))
        return -1;
    return 0;
}

/* "paper": the paper's figure to compare with, one object for every
 * strategy or an array of them each naming its "strategy"; the entry of
 * the resolved strategy (if any) goes into the canonical config. */
static int parse_paper(run_config *rc, const cJSON *pa, const char *path,
                       const char *strategy, db_err *e)
{
    static const char *const pk[] = { "strategy", "source", "test_error_pct",
                                      "test_errors", NULL };
    char pw[600];
    snprintf(pw, sizeof pw, "%s: paper", path);
    if (!cJSON_IsArray(pa) && !cJSON_IsObject(pa))
        return db_fail(e, "%s: must be an object or an array of objects", pw);
    const cJSON *one = cJSON_IsObject(pa) ? pa : pa->child;
    int idx = 0;
    for (; one; one = cJSON_IsObject(pa) ? NULL : one->next, idx++) {
        char ew[640];
        snprintf(ew, sizeof ew, cJSON_IsArray(pa) ? "%s[%d]" : "%s", pw, idx);
        if (!cJSON_IsObject(one))
            return db_fail(e, "%s: expected an object", ew);
        if (db_json_only_keys(one, pk, ew, e))
            return -1;
        const char *st = NULL, *src = NULL;
        double pct = 0;
        if (db_json_string(&st, one, "strategy", cJSON_IsArray(pa), ew, e) ||
            db_json_string(&src, one, "source", 1, ew, e) ||
            db_json_number(&pct, one, "test_error_pct", 1, ew, e) ||
            check_range(pct, 0, 100, 0, ew, "test_error_pct", e))
            return -1;
        if (strlen(src) >= sizeof rc->rx.paper_source)
            return db_fail(e, "%s: \"source\" is longer than %zu characters", ew,
                           sizeof rc->rx.paper_source - 1);
        const cJSON *te = cJSON_GetObjectItemCaseSensitive(one, "test_errors");
        double errs = -1;
        if (cJSON_IsNumber(te)) {
            if (check_range(te->valuedouble, 0, 1e9, 1, ew, "test_errors", e))
                return -1;
            errs = te->valuedouble;
        } else if (te && !cJSON_IsNull(te)) {
            return db_fail(e, "%s: \"test_errors\" must be an integer or null", ew);
        }
        if (st && strcmp(st, strategy) != 0)
            continue;
        if (rc->rx.has_paper)
            return db_fail(e, "%s: two entries for strategy \"%s\"", pw, strategy);
        rc->rx.has_paper = 1;
        snprintf(rc->rx.paper_source, sizeof rc->rx.paper_source, "%s", src);
        rc->rx.paper_pct = pct;
        rc->rx.paper_errors = errs;
    }
    return 0;
}

/* The recipe's top-level keys: init, preprocess, note ("retain" and
 * "paper" need the rate and the strategy, see run_resolve). */
static int parse_recipe_top(run_config *rc, const cJSON *j, const char *path, db_err *e)
{
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(j, "init");
    if (in && parse_init(rc, in, path, e))
        return -1;
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(j, "preprocess");
    if (pp && parse_preprocess(rc, pp, path, e))
        return -1;
    const char *note = NULL;
    if (db_json_string(&note, j, "note", 0, path, e))
        return -1;
    if (note && (strlen(note) >= sizeof rc->rx.note || strchr(note, '\n')))
        return db_fail(e, "%s: \"note\" must be one line of at most %zu characters", path,
                       sizeof rc->rx.note - 1);
    if (note)
        snprintf(rc->rx.note, sizeof rc->rx.note, "%s", note);
    const char *sc = NULL;
    if (db_json_string(&sc, j, "dropout_scaling", 0, path, e))
        return -1;
    if (sc && strcmp(sc, "weight") != 0 && strcmp(sc, "inverted") != 0)
        return db_fail(e, "%s: \"dropout_scaling\" must be \"inverted\" or \"weight\"",
                       path);
    rc->rx.wscale = sc && strcmp(sc, "weight") == 0;
    return 0;
}

/* "task", "data" and "model" of a config file. */
static int parse_task_model(run_config *rc, const cJSON *j, const char *path, db_err *e)
{
    const char *s = NULL;
    if (db_json_string(&s, j, "task", 1, path, e))
        return -1;
    if (!valid_task_name(s))
        return db_fail(e, "%s: \"task\" must be 1-60 characters of a-z, 0-9, '-', '_'", path);
    snprintf(rc->task, sizeof rc->task, "%s", s);
    if (db_json_string(&s, j, "data", 1, path, e))
        return -1;
    db_model_input in;
    if (run_data_input(&in, s, e))
        return db_prefix(e, "%s: \"data\"", path);
    snprintf(rc->data, sizeof rc->data, "%s", s);
    if (db_arch_from_json(&rc->base, cJSON_GetObjectItemCaseSensitive(j, "model"), path, e))
        return -1;
    for (size_t i = 0; i < rc->base.n; i++)
        if (rc->base.layers[i].type == DB_LAYER_DROPOUT)
            rc->base.layers[i].site = DB_SITE_USER;
    return 0;
}

/* "strategy", and "rate" or "retain" (into ratebuf when it is a number or
 * a retain object) of a config file. */
static int parse_strategy_rate(run_config *rc, const cJSON *j, const char *path,
                               const char **strategy, const char **rate, char *ratebuf,
                               size_t ratebuf_n, db_err *e)
{
    if (db_json_string(strategy, j, "strategy", 0, path, e))
        return -1;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "rate");
    if (cJSON_IsNumber(r)) {
        snprintf(ratebuf, ratebuf_n, "%.17g", r->valuedouble);
        *rate = ratebuf;
    } else if (cJSON_IsString(r)) {
        *rate = r->valuestring;
    } else if (r && !cJSON_IsNull(r)) {
        return db_fail(e, "%s: \"rate\" must be a number, a string like \"0.1,0.5\" or null",
                       path);
    }
    const cJSON *ret = cJSON_GetObjectItemCaseSensitive(j, "retain");
    if (ret && r && !cJSON_IsNull(r))
        return db_fail(e, "%s: give \"rate\" or \"retain\", not both", path);
    if (ret) {
        if (parse_retain(rc, ret, path, ratebuf, ratebuf_n, e))
            return -1;
        *rate = ratebuf;
    }
    return 0;
}

/* "seed", "threads" and "mc_samples" of a config file. */
static int parse_run_counts(run_config *rc, const cJSON *j, const char *path, db_err *e)
{
    double v = 0;
    if (db_json_number(&v, j, "seed", 0, path, e) ||
        check_range(v, 0, 9007199254740991.0, 1, path, "seed", e))
        return -1;
    rc->seed = (uint64_t)v;
    v = 1;
    if (db_json_number(&v, j, "threads", 0, path, e) ||
        check_range(v, 1, 256, 1, path, "threads", e))
        return -1;
    rc->threads = (int)v;
    v = 0;
    if (db_json_number(&v, j, "mc_samples", 0, path, e) ||
        check_range(v, 0, 10000, 1, path, "mc_samples", e))
        return -1;
    rc->mc_samples = (size_t)v; /* 0: no Monte-Carlo evaluation */
    return 0;
}

/* train.schedule (sw names it in messages); absent: constant. */
static int parse_schedule(run_config *rc, const cJSON *sc, const char *sw, db_err *e)
{
    static const char *const sk[] = { "type", "every", "gamma", "steps", NULL };
    const char *s = NULL;
    if (!cJSON_IsObject(sc) || db_json_only_keys(sc, sk, sw, e))
        return cJSON_IsObject(sc) ? -1 : db_fail(e, "%s: must be an object", sw);
    if (db_json_string(&s, sc, "type", 1, sw, e))
        return -1;
    if (strcmp(s, "constant") == 0) {
        rc->schedule = DB_SCHED_CONSTANT;
    } else if (strcmp(s, "step") == 0) {
        double every = 0, g = 0;
        if (db_json_number(&every, sc, "every", 1, sw, e) ||
            check_range(every, 1, 1e6, 1, sw, "every", e) ||
            db_json_number(&g, sc, "gamma", 1, sw, e) ||
            check_range(g, 1e-9, 1, 0, sw, "gamma", e))
            return -1;
        rc->schedule = DB_SCHED_STEP;
        rc->sched_every = (size_t)every;
        rc->sched_gamma = g;
    } else if (strcmp(s, "exp") == 0) {
        double g = 0;
        if (db_json_number(&g, sc, "gamma", 1, sw, e) ||
            check_range(g, 1e-9, 1, 0, sw, "gamma", e))
            return -1;
        rc->schedule = DB_SCHED_EXP;
        rc->sched_gamma = g;
    } else if (strcmp(s, "inv") == 0) {
        double steps = 0;
        if (db_json_number(&steps, sc, "steps", 1, sw, e) ||
            check_range(steps, 1, 1e9, 1, sw, "steps", e))
            return -1;
        rc->schedule = DB_SCHED_INV;
        rc->rx.sched_steps = (size_t)steps;
    } else {
        return db_fail(e, "%s: \"type\" must be \"constant\", \"step\", \"exp\" or "
                       "\"inv\"", sw);
    }
    if (rc->schedule != DB_SCHED_INV && cJSON_GetObjectItemCaseSensitive(sc, "steps"))
        return db_fail(e, "%s: \"steps\" belongs to the \"inv\" schedule", sw);
    return 0;
}

/* The "train" object of config file j (and the recipe's top-level keys). */
static int parse_train(run_config *rc, const cJSON *j, const char *path, db_err *e)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "train");
    char tw[600];
    snprintf(tw, sizeof tw, "%s: train", path);
    if (!cJSON_IsObject(t))
        return db_fail(e, "%s: missing object \"train\"", path);
    if (db_json_only_keys(t, train_keys, tw, e))
        return -1;
    double batch = 0, epochs = 0, lr = 0, mu = 0.9, wd = 0, mn = 0, cn = 0;
    if (db_json_number(&batch, t, "batch", 1, tw, e) ||
        check_range(batch, 1, 65536, 1, tw, "batch", e) ||
        db_json_number(&epochs, t, "epochs", 1, tw, e) ||
        check_range(epochs, 1, 100000, 1, tw, "epochs", e) ||
        db_json_number(&lr, t, "lr", 1, tw, e) ||
        check_range(lr, 1e-12, 1e12, 0, tw, "lr", e) ||
        db_json_number(&mu, t, "momentum", 0, tw, e) ||
        check_range(mu, 0, 0.999999, 0, tw, "momentum", e) ||
        db_json_number(&wd, t, "weight_decay", 0, tw, e) ||
        check_range(wd, 0, 1e6, 0, tw, "weight_decay", e) ||
        db_json_number(&mn, t, "max_norm", 0, tw, e) ||
        check_range(mn, 0, 1e12, 0, tw, "max_norm", e) ||
        db_json_number(&cn, t, "clip_norm", 0, tw, e) ||
        check_range(cn, 0, 1e12, 0, tw, "clip_norm", e) ||
        parse_recipe_train(rc, t, tw, cJSON_GetObjectItemCaseSensitive(t, "momentum") != NULL,
                           e) ||
        parse_recipe_top(rc, j, path, e))
        return -1;
    rc->batch = (size_t)batch;
    rc->epochs = (size_t)epochs;
    rc->opt.lr = lr;
    if (rc->rx.mom_schedule == DB_MOM_CONSTANT)
        rc->opt.momentum = mu;
    rc->opt.weight_decay = wd;
    rc->opt.max_norm = mn;
    rc->opt.clip_norm = cn;
    rc->schedule = DB_SCHED_CONSTANT;
    rc->sched_every = 0;
    rc->sched_gamma = 1;
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(t, "schedule");
    if (!sc)
        return 0;
    char sw[640];
    snprintf(sw, sizeof sw, "%s.schedule", tw);
    return parse_schedule(rc, sc, sw, e);
}

/* Reads the user-facing config file format into rc (before overrides). */
static int parse_config_file(run_config *rc, const cJSON *j, const char *path,
                             const char **strategy, const char **rate, char *ratebuf,
                             size_t ratebuf_n, db_err *e)
{
    if (!cJSON_IsObject(j))
        return db_fail(e, "%s: expected a JSON object", path);
    if (db_json_only_keys(j, file_keys, path, e))
        return -1;
    if (parse_task_model(rc, j, path, e) ||
        parse_strategy_rate(rc, j, path, strategy, rate, ratebuf, ratebuf_n, e) ||
        parse_run_counts(rc, j, path, e))
        return -1;
    return parse_train(rc, j, path, e);
}

/* The config file a request names (--config, or the task's preset) into
 * path (PATH_MAX). */
static int request_path(char *path, const run_request *rq, db_err *e)
{
    if (rq->config_path) {
        snprintf(path, PATH_MAX, "%s", rq->config_path);
    } else if (rq->task) {
        if (!valid_task_name(rq->task) || find_task(path, PATH_MAX, rq->task))
            return unknown_task(rq->task, e);
    } else {
        return db_fail(e, "give a task (--task) or a config file (--config)");
    }
    return 0;
}

/* The command line's overrides over config file `file` read into rc, and
 * its "paper"; *strategy and *rate are the file's on entry, the run's on
 * return. */
static int request_overrides(run_config *rc, const run_request *rq, const cJSON *file,
                             const char *path, const char **strategy, const char **rate,
                             db_err *e)
{
    if (rq->strategy)
        *strategy = rq->strategy;
    if (rq->rate) {
        *rate = rq->rate;
        rc->rx.retain[0] = '\0'; /* the command line's drop rates replace it */
    }
    if (!*strategy)
        *strategy = "none";
    const cJSON *paper = cJSON_GetObjectItemCaseSensitive(file, "paper");
    if (paper && parse_paper(rc, paper, path, *strategy, e))
        return -1;
    snprintf(rc->strategy, sizeof rc->strategy, "%s", *strategy);
    snprintf(rc->rate, sizeof rc->rate, "%s", *rate ? *rate : "");
    if (strlen(*strategy) >= sizeof rc->strategy || (*rate && strlen(*rate) >= sizeof rc->rate))
        return db_fail(e, "strategy or rate too long");
    if (rq->seed >= 0)
        rc->seed = (uint64_t)rq->seed;
    if (rq->epochs > 0)
        rc->epochs = (size_t)rq->epochs;
    if (rq->lr > 0)
        rc->opt.lr = rq->lr;
    if (rq->threads > 0)
        rc->threads = rq->threads;
    if (rq->limit_train > 0)
        rc->limit_train = (size_t)rq->limit_train;
    if (rq->val > 0)
        rc->val = (size_t)rq->val;
    if (rq->mc_samples > 0)
        rc->mc_samples = (size_t)rq->mc_samples;
    if (rq->lr < 0 || !isfinite(rq->lr))
        return db_fail(e, "--lr: must be a positive number");
    return 0;
}

/* rc->arch: the strategy at its rates applied to rc->base, every shape
 * checked against the data set (now, not after loading it). */
static int request_arch(run_config *rc, const char *strategy, const char *rate,
                        const char *path, db_err *e)
{
    double rates[DB_ARCH_MAX] = { 0 };
    int nrates = 0;
    if (rate) {
        nrates = db_parse_rates(rate, rates, DB_ARCH_MAX, e);
        if (nrates < 0)
            return -1;
    }
    /* Dropout layers written into the model by hand, with no strategy on
     * top, are not the baseline: such a run is labelled "hand-placed" (and
     * "hand-placed" asks for exactly that). */
    size_t nuser = 0;
    for (size_t i = 0; i < rc->base.n; i++)
        nuser += rc->base.layers[i].type == DB_LAYER_DROPOUT;
    const char *apply = strategy;
    if (strcmp(strategy, DB_HAND_PLACED) == 0) {
        if (nuser == 0)
            return db_fail(e, "%s: strategy \"%s\": the model has no dropout layers of "
                           "its own (use \"none\" for the baseline)", path, DB_HAND_PLACED);
        apply = "none";
    }
    if (strcmp(strategy, "none") == 0 && nuser > 0)
        snprintf(rc->strategy, sizeof rc->strategy, "%s", DB_HAND_PLACED);
    if (db_strategy_apply(&rc->arch, &rc->base, apply,
                          nrates > 0 ? rates : NULL, (size_t)(nrates > 0 ? nrates : 0), e))
        return db_prefix(e, "%s (task %s)", path, rc->task);
    if (rc->rx.wscale) {
        char what[700];
        snprintf(what, sizeof what, "%s (strategy %s)", path, rc->strategy);
        if (db_arch_set_wscale(&rc->arch, what, e))
            return -1;
    }
    db_model_input in;
    db_model m;
    if (run_data_input(&in, rc->data, e) || db_model_build(&m, &rc->arch, &in, 1, e))
        return db_prefix(e, "%s: model", path);
    db_model_free(&m);
    return 0;
}

/* Config file `file` (at path) read into rc with the request's overrides
 * applied and its strategy placed. */
static int request_config(run_config *rc, const run_request *rq, const cJSON *file,
                          const char *path, db_err *e)
{
    const char *strategy = NULL, *rate = NULL;
    char ratebuf[64];
    if (parse_config_file(rc, file, path, &strategy, &rate, ratebuf, sizeof ratebuf, e))
        return -1;
    if (rq->task && strcmp(rq->task, rc->task) != 0 && !rq->config_path)
        return db_fail(e, "%s: \"task\" is \"%s\", expected \"%s\"", path, rc->task,
                       rq->task);
    if (request_overrides(rc, rq, file, path, &strategy, &rate, e))
        return -1;
    return request_arch(rc, strategy, rate, path, e);
}

int run_resolve(const run_request *rq, cJSON **config, char id[17], db_err *e)
{
    *config = NULL;
    char path[PATH_MAX];
    if (request_path(path, rq, e))
        return -1;
    cJSON *file = NULL;
    if (db_json_load(&file, path, e))
        return -1;
    run_config *rc = calloc(1, sizeof *rc);
    if (!rc) {
        cJSON_Delete(file);
        return db_fail(e, "out of memory");
    }
    int rcode = request_config(rc, rq, file, path, e);
    cJSON_Delete(file);
    if (rcode) {
        free(rc);
        return -1;
    }
    /* part of the identity: a run allowed to train on unverified data never
     * shares an id with the run on verified data (the key is absent
     * otherwise, so the ids of runs on verified data are unchanged) */
    rc->allow_unverified = rq->allow_unverified != 0;
    cJSON *j = run_config_to_json(rc);
    free(rc);
    if (!j)
        return db_fail(e, "out of memory building the config");
    if (run_config_id(id, j, e)) {
        cJSON_Delete(j);
        return -1;
    }
    *config = j;
    return 0;
}

int run_result_name(char *buf, size_t n, const cJSON *config, const char *id, db_err *e)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(config, "task");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(config, "strategy");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(config, "seed");
    if (!cJSON_IsString(t) || !cJSON_IsString(s) || !cJSON_IsNumber(seed))
        return db_fail(e, "config lacks task, strategy or seed");
    if ((size_t)snprintf(buf, n, "%s.%s.s%.0f.%s.json", t->valuestring, s->valuestring,
                         seed->valuedouble, id) >= n)
        return db_fail(e, "result file name too long");
    return 0;
}

int run_result_complete(const char *path)
{
    cJSON *j = NULL;
    if (db_json_load(&j, path, NULL))
        return 0;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
    const cJSON *fin = cJSON_GetObjectItemCaseSensitive(j, "final");
    int ok = cJSON_IsString(st) && strcmp(st->valuestring, "complete") == 0 &&
             cJSON_IsObject(fin);
    cJSON_Delete(j);
    return ok;
}
