#include "arch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

static const char *const type_names[DB_LAYER_NTYPES] = {
    "conv", "relu", "maxpool", "dense", "embedding", "gru", "dropout", "sigmoid",
    "batchnorm",
};

static const char *const site_names[DB_SITE_NKINDS] = {
    "none", "input", "conv", "pool", "dense", "embedding", "output", "user",
    "interlayer", "recurrent", "prebn", "postbn",
};

static const char *const mode_names[DROPOUT_NMODES] = {
    "element", "channel", "position", "locked", "recurrent", "gaussian", "dropconnect",
    "dropblock",
};

const char *db_layer_type_name(int type)
{
    return type >= 0 && type < DB_LAYER_NTYPES ? type_names[type] : "?";
}

const char *db_site_name(int site)
{
    return site >= 0 && site < DB_SITE_NKINDS ? site_names[site] : "?";
}

const char *db_dropout_mode_name(int mode)
{
    return mode >= 0 && mode < DROPOUT_NMODES ? mode_names[mode] : "?";
}

int db_dropout_mode_wscales(int mode)
{
    return mode == DROPOUT_ELEMENT || mode == DROPOUT_CHANNEL || mode == DROPOUT_POSITION;
}

int db_arch_set_wscale(db_arch *a, const char *what, db_err *e)
{
    for (size_t i = 0; i < a->n; i++) {
        db_layer *l = &a->layers[i];
        if (l->type != DB_LAYER_DROPOUT)
            continue;
        if (!db_dropout_mode_wscales(l->mode))
            return db_fail(e, "%s: \"dropout_scaling\": \"weight\" is for element, "
                           "channel and position dropout; layer %zu (site %s) is %s "
                           "dropout", what, i, db_site_name(l->site),
                           db_dropout_mode_name(l->mode));
        l->wscale = 1;
    }
    return 0;
}

int db_arch_push(db_arch *a, const db_layer *l, db_err *e)
{
    if (a->n >= DB_ARCH_MAX)
        return db_fail(e, "architecture has more than %d layers", DB_ARCH_MAX);
    a->layers[a->n++] = *l;
    return 0;
}

/* Which keys each layer type accepts (besides "type"). */
static const char *const allowed_keys[DB_LAYER_NTYPES][6] = {
    [DB_LAYER_CONV] = { "filters", "kernel", "stride", "pad", NULL },
    [DB_LAYER_RELU] = { NULL },
    [DB_LAYER_MAXPOOL] = { "kernel", "stride", "pad", NULL },
    [DB_LAYER_DENSE] = { "units", NULL },
    [DB_LAYER_EMBEDDING] = { "vocab", "dim", NULL },
    [DB_LAYER_GRU] = { "hidden", "num_layers", "sequence", NULL },
    [DB_LAYER_DROPOUT] = { "rate", "mode", "site", "block", "scaling", NULL },
    [DB_LAYER_SIGMOID] = { NULL },
    [DB_LAYER_BATCHNORM] = { NULL },
};

static int key_allowed(int type, const char *key)
{
    if (strcmp(key, "type") == 0)
        return 1;
    for (int i = 0; allowed_keys[type][i]; i++)
        if (strcmp(allowed_keys[type][i], key) == 0)
            return 1;
    return 0;
}

/* Reads a positive integer field (or def when absent and def > 0). */
static int get_size(size_t *out, const cJSON *o, const char *key, long def,
                    long min, const char *what, size_t idx, db_err *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (def < 0)
            return db_fail(e, "%s: model[%zu]: missing \"%s\"", what, idx, key);
        *out = (size_t)def;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < (double)min || v->valuedouble > 1e6)
        return db_fail(e, "%s: model[%zu].%s: expected an integer in [%ld, 1000000]",
                       what, idx, key, min);
    *out = (size_t)v->valuedouble;
    return 0;
}

/* The "type" of layer model[idx] into *type, its keys checked against the
 * type's. */
static int layer_type(int *type, const cJSON *o, const char *what, size_t idx,
                      db_err *e)
{
    if (!cJSON_IsObject(o))
        return db_fail(e, "%s: model[%zu]: expected an object", what, idx);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (!cJSON_IsString(t))
        return db_fail(e, "%s: model[%zu]: missing string \"type\"", what, idx);
    *type = -1;
    for (int i = 0; i < DB_LAYER_NTYPES; i++)
        if (strcmp(t->valuestring, type_names[i]) == 0)
            *type = i;
    char where[600];
    snprintf(where, sizeof where, "%s: model[%zu]", what, idx);
    if (*type < 0)
        return db_fail_unknown(e, where, "layer type", t->valuestring, type_names,
                               DB_LAYER_NTYPES);
    const cJSON *k;
    cJSON_ArrayForEach(k, o) {
        if (!key_allowed(*type, k->string)) {
            const char *keys[6] = { "type" };
            size_t nk = 1;
            while (allowed_keys[*type][nk - 1])
                keys[nk] = allowed_keys[*type][nk - 1], nk++;
            snprintf(where, sizeof where, "%s: model[%zu] (a %s layer)", what, idx,
                     t->valuestring);
            return db_fail_unknown(e, where, "key", k->string, keys, nk);
        }
    }
    return 0;
}

/* A GRU layer; a stack of num_layers pushes all but its top layer into a
 * (l is the top one on return). */
static int layer_gru(db_arch *a, db_layer *l, const cJSON *o, const char *what,
                     size_t idx, db_err *e)
{
    size_t nl = 1;
    int rc = get_size(&l->units, o, "hidden", -1, 1, what, idx, e);
    rc = rc ? rc : get_size(&nl, o, "num_layers", 1, 1, what, idx, e);
    if (rc)
        return rc;
    if (nl > 16)
        return db_fail(e, "%s: model[%zu].num_layers: at most 16", what, idx);
    const cJSON *sq = cJSON_GetObjectItemCaseSensitive(o, "sequence");
    if (sq && !cJSON_IsBool(sq))
        return db_fail(e, "%s: model[%zu].sequence: expected true or false", what,
                       idx);
    /* a stack: every layer but the top one hands its sequence up */
    l->seq = 1;
    for (size_t k = 1; k < nl; k++)
        if (db_arch_push(a, l, e))
            return db_prefix(e, "%s", what);
    l->seq = sq && cJSON_IsTrue(sq);
    return 0;
}

/* *out: the index of o's string in names[from..n), -1 when o is no such
 * string. */
static void name_index(int *out, const cJSON *o, const char *const *names, int from,
                       int n)
{
    *out = -1;
    for (int i = from; cJSON_IsString(o) && i < n; i++)
        if (strcmp(o->valuestring, names[i]) == 0)
            *out = i;
}

/* A dropout layer: rate, mode, DropBlock's block size and site. */
static int layer_dropout(db_layer *l, const cJSON *o, const char *what, size_t idx,
                         db_err *e)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "rate");
    if (!cJSON_IsNumber(r))
        return db_fail(e, "%s: model[%zu]: dropout needs a numeric \"rate\"",
                       what, idx);
    if (dropout_check_rate(r->valuedouble, e))
        return db_prefix(e, "%s: model[%zu].rate", what, idx);
    l->rate = r->valuedouble;
    l->mode = DROPOUT_ELEMENT;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "mode");
    if (m) {
        name_index(&l->mode, m, mode_names, 0, DROPOUT_NMODES);
        if (l->mode < 0)
            return db_fail(e, "%s: model[%zu].mode: expected \"element\", "
                           "\"channel\", \"position\", \"locked\", "
                           "\"recurrent\", \"gaussian\", \"dropconnect\" or "
                           "\"dropblock\"", what, idx);
    }
    /* DropBlock's block size: required for that mode, and only there */
    const cJSON *bk = cJSON_GetObjectItemCaseSensitive(o, "block");
    if (l->mode == DROPOUT_DROPBLOCK && !bk)
        return db_fail(e, "%s: model[%zu]: mode \"dropblock\" needs \"block\" "
                       "(the block size)", what, idx);
    if (l->mode != DROPOUT_DROPBLOCK && bk)
        return db_fail(e, "%s: model[%zu].block: only a dropblock-mode dropout "
                       "has a block size", what, idx);
    if (bk && get_size(&l->block, o, "block", -1, 1, what, idx, e))
        return -1;
    /* inverted (the default) or the papers' weight scaling */
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(o, "scaling");
    if (sc) {
        if (!cJSON_IsString(sc) || (strcmp(sc->valuestring, "inverted") != 0 &&
                                    strcmp(sc->valuestring, "weight") != 0))
            return db_fail(e, "%s: model[%zu].scaling: expected \"inverted\" or "
                           "\"weight\"", what, idx);
        l->wscale = strcmp(sc->valuestring, "weight") == 0;
        if (l->wscale && !db_dropout_mode_wscales(l->mode))
            return db_fail(e, "%s: model[%zu].scaling: \"weight\" is for element, "
                           "channel and position dropout, not %s", what, idx,
                           db_dropout_mode_name(l->mode));
    }
    l->site = DB_SITE_USER;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "site");
    if (s) {
        name_index(&l->site, s, site_names, 1, DB_SITE_NKINDS);
        if (l->site < 0)
            return db_fail(e, "%s: model[%zu].site: unknown site", what, idx);
    }
    return 0;
}

/* The sizes and settings of layer model[idx] (of type l->type) into l. */
static int layer_fields(db_arch *a, db_layer *l, const cJSON *o, const char *what,
                        size_t idx, db_err *e)
{
    int rc = 0;
    switch (l->type) {
    case DB_LAYER_CONV:
        rc = get_size(&l->units, o, "filters", -1, 1, what, idx, e);
        rc = rc ? rc : get_size(&l->kernel, o, "kernel", -1, 1, what, idx, e);
        rc = rc ? rc : get_size(&l->stride, o, "stride", 1, 1, what, idx, e);
        rc = rc ? rc : get_size(&l->pad, o, "pad", 0, 0, what, idx, e);
        break;
    case DB_LAYER_MAXPOOL:
        rc = get_size(&l->kernel, o, "kernel", -1, 1, what, idx, e);
        rc = rc ? rc : get_size(&l->stride, o, "stride", (long)l->kernel, 1, what, idx, e);
        rc = rc ? rc : get_size(&l->pad, o, "pad", 0, 0, what, idx, e);
        break;
    case DB_LAYER_DENSE:
        rc = get_size(&l->units, o, "units", -1, 1, what, idx, e);
        break;
    case DB_LAYER_EMBEDDING:
        rc = get_size(&l->vocab, o, "vocab", -1, 1, what, idx, e);
        rc = rc ? rc : get_size(&l->units, o, "dim", -1, 1, what, idx, e);
        break;
    case DB_LAYER_GRU:
        rc = layer_gru(a, l, o, what, idx, e);
        break;
    case DB_LAYER_DROPOUT:
        rc = layer_dropout(l, o, what, idx, e);
        break;
    default:
        break;
    }
    return rc;
}

int db_arch_from_json(db_arch *a, const cJSON *model, const char *what,
                      db_err *e)
{
    memset(a, 0, sizeof *a);
    if (!cJSON_IsArray(model))
        return db_fail(e, "%s: \"model\" must be an array of layers", what);
    size_t idx = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, model) {
        db_layer l;
        memset(&l, 0, sizeof l);
        int rc = layer_type(&l.type, o, what, idx, e);
        rc = rc ? rc : layer_fields(a, &l, o, what, idx, e);
        if (rc)
            return rc;
        if (db_arch_push(a, &l, e))
            return db_prefix(e, "%s", what);
        idx++;
    }
    if (a->n == 0)
        return db_fail(e, "%s: \"model\" is empty", what);
    return 0;
}

cJSON *db_arch_to_json(const db_arch *a)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return NULL;
    for (size_t i = 0; i < a->n; i++) {
        const db_layer *l = &a->layers[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            return NULL;
        }
        int ok = cJSON_AddStringToObject(o, "type", type_names[l->type]) != NULL;
        switch (l->type) {
        case DB_LAYER_CONV:
            ok &= cJSON_AddNumberToObject(o, "filters", (double)l->units) != NULL;
            ok &= cJSON_AddNumberToObject(o, "kernel", (double)l->kernel) != NULL;
            ok &= cJSON_AddNumberToObject(o, "stride", (double)l->stride) != NULL;
            ok &= cJSON_AddNumberToObject(o, "pad", (double)l->pad) != NULL;
            break;
        case DB_LAYER_MAXPOOL:
            ok &= cJSON_AddNumberToObject(o, "kernel", (double)l->kernel) != NULL;
            ok &= cJSON_AddNumberToObject(o, "stride", (double)l->stride) != NULL;
            ok &= cJSON_AddNumberToObject(o, "pad", (double)l->pad) != NULL;
            break;
        case DB_LAYER_DENSE:
            ok &= cJSON_AddNumberToObject(o, "units", (double)l->units) != NULL;
            break;
        case DB_LAYER_EMBEDDING:
            ok &= cJSON_AddNumberToObject(o, "vocab", (double)l->vocab) != NULL;
            ok &= cJSON_AddNumberToObject(o, "dim", (double)l->units) != NULL;
            break;
        case DB_LAYER_GRU:
            ok &= cJSON_AddNumberToObject(o, "hidden", (double)l->units) != NULL;
            if (l->seq) /* absent when false: the configs before stacks keep their ids */
                ok &= cJSON_AddBoolToObject(o, "sequence", 1) != NULL;
            break;
        case DB_LAYER_DROPOUT:
            ok &= cJSON_AddNumberToObject(o, "rate", (double)l->rate) != NULL;
            ok &= cJSON_AddStringToObject(o, "mode", db_dropout_mode_name(l->mode)) != NULL;
            ok &= cJSON_AddStringToObject(o, "site", db_site_name(l->site)) != NULL;
            if (l->mode == DROPOUT_DROPBLOCK) /* absent otherwise: older ids stay */
                ok &= cJSON_AddNumberToObject(o, "block", (double)l->block) != NULL;
            if (l->wscale) /* absent for inverted dropout: older ids stay */
                ok &= cJSON_AddStringToObject(o, "scaling", "weight") != NULL;
            break;
        default:
            break;
        }
        if (!ok) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

int db_arch_base_json(cJSON **out, const cJSON *model, const char *what, db_err *e)
{
    *out = NULL;
    db_arch *a = malloc(sizeof *a);
    if (!a)
        return db_fail(e, "%s: out of memory", what);
    if (db_arch_from_json(a, model, what, e)) {
        free(a);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->layers[i].type != DB_LAYER_DROPOUT)
            a->layers[k++] = a->layers[i];
    a->n = k;
    *out = db_arch_to_json(a);
    free(a);
    return *out ? 0 : db_fail(e, "%s: out of memory", what);
}
