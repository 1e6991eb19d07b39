#include "train/runcfg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "util/jsonio.h"

int run_data_input(db_model_input *in, const char *data, db_err *e)
{
    memset(in, 0, sizeof *in);
    in->classes = 10;
    if (strcmp(data, "mnist") == 0 || strcmp(data, "fashion") == 0) {
        in->c = 1;
        in->h = in->w = 28;
    } else if (strcmp(data, "cifar10") == 0) {
        in->c = 3;
        in->h = in->w = 32;
    } else if (strcmp(data, "wordlang") == 0) {
        in->text = 1;
        in->T = 16;
        in->vocab = 256;
    } else {
        static const char *const sets[] = { "mnist", "fashion", "cifar10", "wordlang" };
        return db_fail_unknown(e, NULL, "data set", data, sets, 4);
    }
    return 0;
}

size_t run_data_train_size(const char *data)
{
    if (strcmp(data, "mnist") == 0 || strcmp(data, "fashion") == 0)
        return 60000;
    if (strcmp(data, "cifar10") == 0)
        return 50000;
    if (strcmp(data, "wordlang") == 0)
        return 100000; /* 10 languages x 10,000 words (docs/DATA.md) */
    return 0;
}

static const char *const sched_names[] = { "constant", "step", "exp", "inv" };
static const char *const mom_names[] = { "constant", "linear", "exp-step" };

/* The recipe's optimizer fields, each only when it is not the default. */
static int recipe_optimizer_json(cJSON *o, const run_config *rc)
{
    const run_recipe *x = &rc->rx;
    int ok = 1;
    if (x->mom_schedule != DB_MOM_CONSTANT) {
        cJSON *m = cJSON_AddObjectToObject(o, "momentum_schedule");
        ok &= !!m;
        if (m) {
            ok &= !!cJSON_AddStringToObject(m, "type", mom_names[x->mom_schedule]);
            ok &= !!cJSON_AddNumberToObject(m, "start", x->mom_start);
            ok &= !!cJSON_AddNumberToObject(m, "end", x->mom_end);
            if (x->mom_schedule == DB_MOM_LINEAR)
                ok &= !!cJSON_AddNumberToObject(m, "epochs", (double)x->mom_epochs);
            else
                ok &= !!cJSON_AddNumberToObject(m, "steps", (double)x->mom_steps);
        }
    }
    if (rc->opt.max_norm_layers == DB_MAXNORM_HIDDEN)
        ok &= !!cJSON_AddStringToObject(o, "max_norm_layers", "hidden");
    return ok;
}

/* The recipe's top-level fields, each only when set. */
static int recipe_top_json(cJSON *j, const run_config *rc)
{
    const run_recipe *x = &rc->rx;
    int ok = 1;
    if (x->retain[0])
        ok &= !!cJSON_AddStringToObject(j, "retain", x->retain);
    if (x->init.type == DB_INIT_NORMAL) {
        cJSON *in = cJSON_AddObjectToObject(j, "init");
        ok &= !!in;
        if (in) {
            ok &= !!cJSON_AddStringToObject(in, "type", "normal");
            if (x->init.std_fan_in) {
                ok &= !!cJSON_AddStringToObject(in, "std", "1/sqrt(fan_in)");
            } else if (x->init.nstd == 1) {
                ok &= !!cJSON_AddNumberToObject(in, "std", x->init.std[0]);
            } else {
                cJSON *a = cJSON_AddArrayToObject(in, "std");
                ok &= !!a;
                for (size_t i = 0; a && i < x->init.nstd; i++) {
                    cJSON *v = cJSON_CreateNumber(x->init.std[i]);
                    ok &= v && cJSON_AddItemToArray(a, v);
                }
            }
            ok &= !!cJSON_AddNumberToObject(in, "bias", x->init.bias);
        }
    }
    if (x->preprocess[0]) {
        cJSON *p = cJSON_AddObjectToObject(j, "preprocess");
        ok &= !!p;
        if (p) {
            ok &= !!cJSON_AddStringToObject(p, "type", x->preprocess);
            ok &= !!cJSON_AddNumberToObject(p, "gcn_bias", x->gcn_bias);
            ok &= !!cJSON_AddNumberToObject(p, "zca_epsilon", x->zca_epsilon);
        }
    }
    if (x->has_paper) {
        cJSON *p = cJSON_AddObjectToObject(j, "paper");
        ok &= !!p;
        if (p) {
            ok &= !!cJSON_AddStringToObject(p, "source", x->paper_source);
            ok &= !!cJSON_AddNumberToObject(p, "test_error_pct", x->paper_pct);
            if (x->paper_errors >= 0)
                ok &= !!cJSON_AddNumberToObject(p, "test_errors", x->paper_errors);
            else
                ok &= !!cJSON_AddNullToObject(p, "test_errors");
        }
    }
    if (x->note[0])
        ok &= !!cJSON_AddStringToObject(j, "note", x->note);
    return ok;
}

cJSON *run_config_to_json(const run_config *rc)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    int ok = 1;
    ok &= !!cJSON_AddStringToObject(j, "task", rc->task);
    ok &= !!cJSON_AddStringToObject(j, "data", rc->data);
    ok &= !!cJSON_AddStringToObject(j, "strategy", rc->strategy);
    if (rc->rate[0])
        ok &= !!cJSON_AddStringToObject(j, "rate", rc->rate);
    else
        ok &= !!cJSON_AddNullToObject(j, "rate");
    ok &= !!cJSON_AddNumberToObject(j, "seed", (double)rc->seed);
    if (rc->allow_unverified) /* absent otherwise: verified runs keep their ids */
        ok &= !!cJSON_AddTrueToObject(j, "allow_unverified_data");
    ok &= !!cJSON_AddNumberToObject(j, "threads", rc->threads);
    ok &= !!cJSON_AddNumberToObject(j, "batch", (double)rc->batch);
    ok &= !!cJSON_AddNumberToObject(j, "epochs", (double)rc->epochs);
    ok &= !!cJSON_AddNumberToObject(j, "limit_train", (double)rc->limit_train);
    ok &= !!cJSON_AddNumberToObject(j, "val", (double)rc->val);
    if (rc->mc_samples) /* absent otherwise: older runs keep their ids */
        ok &= !!cJSON_AddNumberToObject(j, "mc_samples", (double)rc->mc_samples);
    cJSON *o = cJSON_AddObjectToObject(j, "optimizer");
    ok &= !!o;
    if (o) {
        ok &= !!cJSON_AddStringToObject(o, "type", rc->opt.update == DB_UPDATE_HINTON
                                                       ? "sgd-hinton" : "sgd-momentum");
        ok &= !!cJSON_AddNumberToObject(o, "lr", rc->opt.lr);
        ok &= !!cJSON_AddNumberToObject(o, "momentum", rc->opt.momentum);
        ok &= !!cJSON_AddNumberToObject(o, "weight_decay", rc->opt.weight_decay);
        ok &= !!cJSON_AddNumberToObject(o, "max_norm", rc->opt.max_norm);
        ok &= !!cJSON_AddNumberToObject(o, "clip_norm", rc->opt.clip_norm);
        cJSON *s = cJSON_AddObjectToObject(o, "schedule");
        ok &= !!s;
        if (s) {
            ok &= !!cJSON_AddStringToObject(s, "type", sched_names[rc->schedule]);
            ok &= !!cJSON_AddNumberToObject(s, "every", (double)rc->sched_every);
            ok &= !!cJSON_AddNumberToObject(s, "gamma", rc->sched_gamma);
            if (rc->schedule == DB_SCHED_INV)
                ok &= !!cJSON_AddNumberToObject(s, "steps", (double)rc->rx.sched_steps);
        }
        ok &= recipe_optimizer_json(o, rc);
    }
    /* an item that could not be added (out of memory) is still ours */
    cJSON *base = db_arch_to_json(&rc->base);
    if (!base || !cJSON_AddItemToObject(j, "base_model", base)) {
        cJSON_Delete(base);
        ok = 0;
    }
    cJSON *model = db_arch_to_json(&rc->arch);
    if (!model || !cJSON_AddItemToObject(j, "model", model)) {
        cJSON_Delete(model);
        ok = 0;
    }
    cJSON *sites = cJSON_AddArrayToObject(j, "dropout_sites");
    ok &= !!sites;
    for (size_t i = 0, k = 0; sites && i < rc->arch.n; i++) {
        const db_layer *l = &rc->arch.layers[i];
        if (l->type != DB_LAYER_DROPOUT)
            continue;
        cJSON *d = cJSON_CreateObject();
        ok &= d && cJSON_AddItemToArray(sites, d);
        if (!d)
            break;
        ok &= !!cJSON_AddNumberToObject(d, "index", (double)k++);
        ok &= !!cJSON_AddNumberToObject(d, "layer", (double)i);
        ok &= !!cJSON_AddStringToObject(d, "site", db_site_name(l->site));
        ok &= !!cJSON_AddStringToObject(d, "mode", db_dropout_mode_name(l->mode));
        ok &= !!cJSON_AddNumberToObject(d, "rate", l->rate);
        ok &= !!cJSON_AddStringToObject(
            d, "after", i == 0 ? "input" : db_layer_type_name(rc->arch.layers[i - 1].type));
    }
    ok &= recipe_top_json(j, rc);
    if (!ok) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static int get_size_field(size_t *out, const cJSON *o, const char *key, double lo,
                          double hi, const char *what, db_err *e)
{
    double v = -1;
    if (db_json_number(&v, o, key, 1, what, e))
        return -1;
    if (v != floor(v) || v < lo || v > hi)
        return db_fail(e, "%s: \"%s\" must be an integer in [%.0f, %.0f]", what, key, lo, hi);
    *out = (size_t)v;
    return 0;
}

/* cJSON reads 1e999 as inf: every float of a config must be finite. */
static int finite_field(double v, const char *what, const char *key, db_err *e)
{
    if (!isfinite(v))
        return db_fail(e, "%s: \"%s\" must be a finite number", what, key);
    return 0;
}

/* A copy of string o.key into buf (n bytes), or an error when too long. */
static int copy_string(char *buf, size_t n, const cJSON *o, const char *key,
                       const char *what, db_err *e)
{
    const char *s = NULL;
    if (db_json_string(&s, o, key, 1, what, e))
        return -1;
    if (strlen(s) >= n)
        return db_fail(e, "%s: \"%s\" is longer than %zu characters", what, key, n - 1);
    snprintf(buf, n, "%s", s);
    return 0;
}

/* config.optimizer.momentum_schedule (ms) into the recipe. */
static int momentum_schedule_from(run_recipe *x, const cJSON *ms, db_err *e)
{
    const char *s = NULL;
    const char *w = "config.optimizer.momentum_schedule";
    if (db_json_string(&s, ms, "type", 1, w, e))
        return -1;
    if (strcmp(s, "linear") == 0)
        x->mom_schedule = DB_MOM_LINEAR;
    else if (strcmp(s, "exp-step") == 0)
        x->mom_schedule = DB_MOM_EXP_STEP;
    else
        return db_fail(e, "%s.type: unknown \"%s\"", w, s);
    if (db_json_number(&x->mom_start, ms, "start", 1, w, e) ||
        db_json_number(&x->mom_end, ms, "end", 1, w, e) ||
        finite_field(x->mom_start, w, "start", e) || finite_field(x->mom_end, w, "end", e))
        return -1;
    if (x->mom_schedule == DB_MOM_LINEAR
            ? get_size_field(&x->mom_epochs, ms, "epochs", 1, 1e6, w, e)
            : get_size_field(&x->mom_steps, ms, "steps", 1, 1e12, w, e))
        return -1;
    return 0;
}

/* The recipe fields of config.optimizer (o): the update rule, the momentum
 * schedule and the layers max-norm applies to. */
static int optimizer_recipe_from(run_config *rc, const cJSON *o, db_err *e)
{
    const char *s = NULL;
    if (db_json_string(&s, o, "type", 1, "config.optimizer", e))
        return -1;
    if (strcmp(s, "sgd-hinton") == 0)
        rc->opt.update = DB_UPDATE_HINTON;
    else if (strcmp(s, "sgd-momentum") != 0)
        return db_fail(e, "config.optimizer.type: unknown \"%s\"", s);
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(o, "momentum_schedule");
    if (ms && momentum_schedule_from(&rc->rx, ms, e))
        return -1;
    s = NULL;
    if (db_json_string(&s, o, "max_norm_layers", 0, "config.optimizer", e))
        return -1;
    if (s && strcmp(s, "hidden") == 0)
        rc->opt.max_norm_layers = DB_MAXNORM_HIDDEN;
    else if (s)
        return db_fail(e, "config.optimizer.max_norm_layers: unknown \"%s\"", s);
    return 0;
}

/* config.init (in) into the recipe. */
static int init_from(run_recipe *x, const cJSON *in, db_err *e)
{
    const char *s = NULL;
    const char *w = "config.init";
    x->init.type = DB_INIT_NORMAL;
    if (db_json_string(&s, in, "type", 1, w, e))
        return -1;
    if (strcmp(s, "normal") != 0)
        return db_fail(e, "%s.type: unknown \"%s\"", w, s);
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(in, "std");
    if (cJSON_IsString(sd) && strcmp(sd->valuestring, "1/sqrt(fan_in)") == 0) {
        x->init.std_fan_in = 1;
    } else if (cJSON_IsNumber(sd) && isfinite(sd->valuedouble)) {
        x->init.nstd = 1;
        x->init.std[0] = sd->valuedouble;
    } else if (cJSON_IsArray(sd) && cJSON_GetArraySize(sd) > 1 &&
               cJSON_GetArraySize(sd) <= DB_ARCH_MAX) {
        const cJSON *v;
        cJSON_ArrayForEach(v, sd) {
            if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
                return db_fail(e, "%s.std: every element must be a finite number", w);
            x->init.std[x->init.nstd++] = v->valuedouble;
        }
    } else {
        return db_fail(e, "%s.std: expected a number, \"1/sqrt(fan_in)\" or an array", w);
    }
    if (db_json_number(&x->init.bias, in, "bias", 1, w, e) ||
        finite_field(x->init.bias, w, "bias", e))
        return -1;
    return 0;
}

/* config.preprocess (pp) into the recipe. */
static int preprocess_from(run_recipe *x, const cJSON *pp, db_err *e)
{
    const char *w = "config.preprocess";
    if (copy_string(x->preprocess, sizeof x->preprocess, pp, "type", w, e))
        return -1;
    if (strcmp(x->preprocess, "gcn-zca") != 0)
        return db_fail(e, "%s.type: unknown \"%s\"", w, x->preprocess);
    if (db_json_number(&x->gcn_bias, pp, "gcn_bias", 1, w, e) ||
        db_json_number(&x->zca_epsilon, pp, "zca_epsilon", 1, w, e) ||
        finite_field(x->gcn_bias, w, "gcn_bias", e) ||
        finite_field(x->zca_epsilon, w, "zca_epsilon", e))
        return -1;
    return 0;
}

/* config.paper (pa) into the recipe. */
static int paper_from(run_recipe *x, const cJSON *pa, db_err *e)
{
    const char *w = "config.paper";
    x->has_paper = 1;
    x->paper_errors = -1;
    if (copy_string(x->paper_source, sizeof x->paper_source, pa, "source", w, e) ||
        db_json_number(&x->paper_pct, pa, "test_error_pct", 1, w, e) ||
        finite_field(x->paper_pct, w, "test_error_pct", e))
        return -1;
    const cJSON *te = cJSON_GetObjectItemCaseSensitive(pa, "test_errors");
    if (cJSON_IsNumber(te) && isfinite(te->valuedouble) && te->valuedouble >= 0)
        x->paper_errors = te->valuedouble;
    else if (!cJSON_IsNull(te))
        return db_fail(e, "%s.test_errors: expected a number >= 0 or null", w);
    return 0;
}

/* The recipe fields of a canonical config (each optional). */
static int recipe_from_canonical(run_config *rc, const cJSON *j, const cJSON *o,
                                 db_err *e)
{
    run_recipe *x = &rc->rx;
    if (optimizer_recipe_from(rc, o, e))
        return -1;
    if (cJSON_GetObjectItemCaseSensitive(j, "retain") &&
        copy_string(x->retain, sizeof x->retain, j, "retain", "config", e))
        return -1;
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(j, "init");
    if (in && init_from(x, in, e))
        return -1;
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(j, "preprocess");
    if (pp && preprocess_from(x, pp, e))
        return -1;
    const cJSON *pa = cJSON_GetObjectItemCaseSensitive(j, "paper");
    if (pa && paper_from(x, pa, e))
        return -1;
    if (cJSON_GetObjectItemCaseSensitive(j, "note") &&
        copy_string(x->note, sizeof x->note, j, "note", "config", e))
        return -1;
    return 0;
}

int run_config_from_canonical(run_config *rc, const cJSON *j, db_err *e)
{
    const char *what = "config";
    memset(rc, 0, sizeof *rc);
    const char *s = NULL;
    if (!cJSON_IsObject(j))
        return db_fail(e, "config: not an object");
    if (db_json_string(&s, j, "task", 1, what, e))
        return -1;
    snprintf(rc->task, sizeof rc->task, "%s", s);
    if (db_json_string(&s, j, "data", 1, what, e))
        return -1;
    snprintf(rc->data, sizeof rc->data, "%s", s);
    if (db_json_string(&s, j, "strategy", 1, what, e))
        return -1;
    snprintf(rc->strategy, sizeof rc->strategy, "%s", s);
    s = NULL;
    if (db_json_string(&s, j, "rate", 0, what, e))
        return -1;
    snprintf(rc->rate, sizeof rc->rate, "%s", s ? s : "");
    size_t seed = 0, threads = 0;
    if (get_size_field(&seed, j, "seed", 0, 9007199254740991.0, what, e) ||
        get_size_field(&threads, j, "threads", 1, 256, what, e) ||
        get_size_field(&rc->batch, j, "batch", 1, 65536, what, e) ||
        get_size_field(&rc->epochs, j, "epochs", 1, 100000, what, e) ||
        get_size_field(&rc->limit_train, j, "limit_train", 0, 1e9, what, e) ||
        get_size_field(&rc->val, j, "val", 0, 1e9, what, e))
        return -1;
    if (cJSON_GetObjectItemCaseSensitive(j, "mc_samples") &&
        get_size_field(&rc->mc_samples, j, "mc_samples", 1, 10000, what, e))
        return -1;
    rc->seed = seed;
    rc->threads = (int)threads;
    const cJSON *au = cJSON_GetObjectItemCaseSensitive(j, "allow_unverified_data");
    if (au && !cJSON_IsTrue(au))
        return db_fail(e, "config: \"allow_unverified_data\" must be true when present");
    rc->allow_unverified = au != NULL;
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "optimizer");
    if (!cJSON_IsObject(o))
        return db_fail(e, "config: missing object \"optimizer\"");
    double lr = 0, mu = 0, wd = 0, mn = 0, cn = 0;
    if (db_json_number(&lr, o, "lr", 1, "config.optimizer", e) ||
        db_json_number(&mu, o, "momentum", 1, "config.optimizer", e) ||
        db_json_number(&wd, o, "weight_decay", 1, "config.optimizer", e) ||
        db_json_number(&mn, o, "max_norm", 1, "config.optimizer", e) ||
        db_json_number(&cn, o, "clip_norm", 1, "config.optimizer", e) ||
        finite_field(lr, "config.optimizer", "lr", e) ||
        finite_field(mu, "config.optimizer", "momentum", e) ||
        finite_field(wd, "config.optimizer", "weight_decay", e) ||
        finite_field(mn, "config.optimizer", "max_norm", e) ||
        finite_field(cn, "config.optimizer", "clip_norm", e))
        return -1;
    rc->opt.lr = lr;
    rc->opt.momentum = mu;
    rc->opt.weight_decay = wd;
    rc->opt.max_norm = mn;
    rc->opt.clip_norm = cn;
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(o, "schedule");
    if (!cJSON_IsObject(sc))
        return db_fail(e, "config.optimizer: missing object \"schedule\"");
    if (db_json_string(&s, sc, "type", 1, "config.optimizer.schedule", e))
        return -1;
    rc->schedule = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(s, sched_names[i]) == 0)
            rc->schedule = i;
    if (rc->schedule < 0)
        return db_fail(e, "config.optimizer.schedule.type: unknown \"%s\"", s);
    rc->sched_gamma = 1;
    if (get_size_field(&rc->sched_every, sc, "every", 0, 1e6, "config.optimizer.schedule",
                       e) ||
        db_json_number(&rc->sched_gamma, sc, "gamma", 1, "config.optimizer.schedule", e) ||
        finite_field(rc->sched_gamma, "config.optimizer.schedule", "gamma", e))
        return -1;
    if (rc->schedule == DB_SCHED_INV &&
        get_size_field(&rc->rx.sched_steps, sc, "steps", 1, 1e9,
                       "config.optimizer.schedule", e))
        return -1;
    if (db_arch_from_json(&rc->base, cJSON_GetObjectItemCaseSensitive(j, "base_model"),
                          "config.base_model", e) ||
        db_arch_from_json(&rc->arch, cJSON_GetObjectItemCaseSensitive(j, "model"),
                          "config.model", e))
        return -1;
    return recipe_from_canonical(rc, j, o, e);
}

double run_config_lr(const run_config *rc, size_t epoch)
{
    switch (rc->schedule) {
    case DB_SCHED_STEP:
        return rc->opt.lr * pow(rc->sched_gamma, (double)((epoch - 1) / rc->sched_every));
    case DB_SCHED_EXP:
        return rc->opt.lr * pow(rc->sched_gamma, (double)(epoch - 1));
    default: /* constant; a per-step schedule (inv): run_config_lr_at */
        return rc->opt.lr;
    }
}

double run_config_lr_at(const run_config *rc, size_t epoch, size_t step)
{
    if (rc->schedule == DB_SCHED_INV)
        return rc->opt.lr / (1.0 + (double)step / (double)rc->rx.sched_steps);
    return run_config_lr(rc, epoch);
}

double run_config_momentum_at(const run_config *rc, size_t epoch, size_t step)
{
    const run_recipe *x = &rc->rx;
    switch (x->mom_schedule) {
    case DB_MOM_LINEAR:
        if (epoch - 1 >= x->mom_epochs)
            return x->mom_end;
        return x->mom_start +
               (x->mom_end - x->mom_start) * (double)(epoch - 1) / (double)x->mom_epochs;
    case DB_MOM_EXP_STEP:
        return x->mom_end -
               (x->mom_end - x->mom_start) * exp(-(double)step / (double)x->mom_steps);
    default:
        return rc->opt.momentum;
    }
}

int run_config_per_step(const run_config *rc)
{
    return rc->schedule == DB_SCHED_INV || rc->rx.mom_schedule == DB_MOM_EXP_STEP;
}

int run_config_id(char id[17], const cJSON *canonical, db_err *e)
{
    char *txt = cJSON_PrintUnformatted(canonical);
    if (!txt)
        return db_fail(e, "out of memory hashing the config");
    uint64_t h = DB_FNV1A_BASIS;
    const char *parts[3] = { DB_CODE_VERSION, "\n", txt };
    for (int p = 0; p < 3; p++)
        h = db_fnv1a(h, parts[p], strlen(parts[p]));
    cJSON_free(txt);
    snprintf(id, 17, "%016llx", (unsigned long long)h);
    return 0;
}
