#include "train/runcfg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        return db_fail(e, "unknown data set \"%s\" (known: mnist, fashion, cifar10, "
                       "wordlang)", data);
    }
    return 0;
}

static const char *const sched_names[] = { "constant", "step", "exp" };

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
    cJSON *o = cJSON_AddObjectToObject(j, "optimizer");
    ok &= !!o;
    if (o) {
        ok &= !!cJSON_AddStringToObject(o, "type", "sgd-momentum");
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
        }
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
    for (int i = 0; i < 3; i++)
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
    if (db_arch_from_json(&rc->base, cJSON_GetObjectItemCaseSensitive(j, "base_model"),
                          "config.base_model", e) ||
        db_arch_from_json(&rc->arch, cJSON_GetObjectItemCaseSensitive(j, "model"),
                          "config.model", e))
        return -1;
    return 0;
}

double run_config_lr(const run_config *rc, size_t epoch)
{
    switch (rc->schedule) {
    case DB_SCHED_STEP:
        return rc->opt.lr * pow(rc->sched_gamma, (double)((epoch - 1) / rc->sched_every));
    case DB_SCHED_EXP:
        return rc->opt.lr * pow(rc->sched_gamma, (double)(epoch - 1));
    default:
        return rc->opt.lr;
    }
}

int run_config_id(char id[17], const cJSON *canonical, db_err *e)
{
    char *txt = cJSON_PrintUnformatted(canonical);
    if (!txt)
        return db_fail(e, "out of memory hashing the config");
    uint64_t h = 0xcbf29ce484222325ULL;
    const char *parts[3] = { DB_CODE_VERSION, "\n", txt };
    for (int p = 0; p < 3; p++)
        for (const unsigned char *c = (const unsigned char *)parts[p]; *c; c++) {
            h ^= *c;
            h *= 0x100000001b3ULL;
        }
    cJSON_free(txt);
    snprintf(id, 17, "%016llx", (unsigned long long)h);
    return 0;
}
