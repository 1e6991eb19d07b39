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

void run_request_init(run_request *rq)
{
    memset(rq, 0, sizeof *rq);
    rq->seed = -1;
    const char *u = getenv("DROPBENCH_ALLOW_UNVERIFIED");
    rq->allow_unverified = u && *u && strcmp(u, "0") != 0;
}

const char *db_config_dir(void)
{
    static char dir[PATH_MAX];
    const char *env = getenv("DROPBENCH_CONFIGS");
    if (env && *env)
        return env;
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

/* "known: a, b, c" from the preset directory, for error messages. */
static void known_tasks(char *buf, size_t n)
{
    buf[0] = '\0';
    DIR *d = opendir(db_config_dir());
    if (!d)
        return;
    struct dirent *de;
    size_t used = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > 5 && strcmp(de->d_name + l - 5, ".json") == 0 && used + l < n) {
            used += (size_t)snprintf(buf + used, n - used, "%s%.*s", used ? ", " : "",
                                     (int)(l - 5), de->d_name);
        }
    }
    closedir(d);
}

static const char *const file_keys[] = { "task", "description", "data", "model",
                                         "strategy", "rate", "train", "seed",
                                         "threads", NULL };
static const char *const train_keys[] = { "batch", "epochs", "lr", "momentum",
                                          "weight_decay", "max_norm", "clip_norm",
                                          "schedule", NULL };

static int check_range(double v, double lo, double hi, int integer, const char *what,
                       const char *key, db_err *e)
{
    if (!isfinite(v) || v < lo || v > hi || (integer && v != floor(v)))
        return db_fail(e, "%s: \"%s\" = %g is out of range (%s in [%g, %g])", what, key, v,
                       integer ? "an integer" : "a number", lo, hi);
    return 0;
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
        check_range(cn, 0, 1e12, 0, tw, "clip_norm", e))
        return -1;
    rc->batch = (size_t)batch;
    rc->epochs = (size_t)epochs;
    rc->opt.lr = lr;
    rc->opt.momentum = mu;
    rc->opt.weight_decay = wd;
    rc->opt.max_norm = mn;
    rc->opt.clip_norm = cn;
    rc->schedule = DB_SCHED_CONSTANT;
    rc->sched_every = 0;
    rc->sched_gamma = 1;
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(t, "schedule");
    if (sc) {
        static const char *const sk[] = { "type", "every", "gamma", NULL };
        char sw[640];
        snprintf(sw, sizeof sw, "%s.schedule", tw);
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
        } else {
            return db_fail(e, "%s: \"type\" must be \"constant\", \"step\" or \"exp\"", sw);
        }
    }
    return 0;
}

int run_resolve(const run_request *rq, cJSON **config, char id[17], db_err *e)
{
    *config = NULL;
    char path[PATH_MAX];
    if (rq->config_path) {
        snprintf(path, sizeof path, "%s", rq->config_path);
    } else if (rq->task) {
        char known[512];
        if (!valid_task_name(rq->task)) {
            known_tasks(known, sizeof known);
            return db_fail(e, "unknown task \"%s\" (known: %s)", rq->task, known);
        }
        snprintf(path, sizeof path, "%s/%s.json", db_config_dir(), rq->task);
        if (access(path, F_OK) != 0) {
            known_tasks(known, sizeof known);
            return db_fail(e, "unknown task \"%s\": no preset %s (known: %s)", rq->task,
                           path, known);
        }
    } else {
        return db_fail(e, "give a task (--task) or a config file (--config)");
    }
    cJSON *file = NULL;
    if (db_json_load(&file, path, e))
        return -1;
    run_config *rc = calloc(1, sizeof *rc);
    if (!rc) {
        cJSON_Delete(file);
        return db_fail(e, "out of memory");
    }
    const char *strategy = NULL, *rate = NULL;
    char ratebuf[64];
    int rcode = parse_config_file(rc, file, path, &strategy, &rate, ratebuf,
                                  sizeof ratebuf, e);
    if (rcode == 0 && rq->task && strcmp(rq->task, rc->task) != 0 && !rq->config_path)
        rcode = db_fail(e, "%s: \"task\" is \"%s\", expected \"%s\"", path, rc->task,
                        rq->task);
    /* command-line overrides */
    if (rq->strategy)
        strategy = rq->strategy;
    if (rq->rate)
        rate = rq->rate;
    if (!strategy)
        strategy = "none";
    if (rcode == 0) {
        snprintf(rc->strategy, sizeof rc->strategy, "%s", strategy);
        snprintf(rc->rate, sizeof rc->rate, "%s", rate ? rate : "");
        if (strlen(strategy) >= sizeof rc->strategy || (rate && strlen(rate) >= sizeof rc->rate))
            rcode = db_fail(e, "strategy or rate too long");
    }
    if (rcode == 0 && rq->seed >= 0)
        rc->seed = (uint64_t)rq->seed;
    if (rcode == 0 && rq->epochs > 0)
        rc->epochs = (size_t)rq->epochs;
    if (rcode == 0 && rq->lr > 0)
        rc->opt.lr = rq->lr;
    if (rcode == 0 && rq->threads > 0)
        rc->threads = rq->threads;
    if (rcode == 0 && rq->limit_train > 0)
        rc->limit_train = (size_t)rq->limit_train;
    if (rcode == 0 && rq->val > 0)
        rc->val = (size_t)rq->val;
    if (rcode == 0 && (rq->lr < 0 || !isfinite(rq->lr)))
        rcode = db_fail(e, "--lr: must be a positive number");

    double rates[DB_ARCH_MAX];
    int nrates = 0;
    if (rcode == 0 && rate) {
        nrates = db_parse_rates(rate, rates, DB_ARCH_MAX, e);
        if (nrates < 0)
            rcode = -1;
    }
    if (rcode == 0 && db_strategy_apply(&rc->arch, &rc->base, strategy,
                                        nrates > 0 ? rates : NULL, (size_t)(nrates > 0 ? nrates : 0), e))
        rcode = db_prefix(e, "%s (task %s)", path, rc->task);
    if (rcode == 0) {
        /* check every shape against the data set now, not after loading it */
        db_model_input in;
        db_model m;
        if (run_data_input(&in, rc->data, e) || db_model_build(&m, &rc->arch, &in, 1, e))
            rcode = db_prefix(e, "%s: model", path);
        else
            db_model_free(&m);
    }
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
