#include "strategy.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* The registry.  Rates are drop probabilities (SUITE.md, placement suite v1);
 * Srivastava's paper states retention probabilities p = 1 - rate.  The
 * built-in strategies are this JSON text, read by db_strategy_define like a
 * user's file (docs/STRATEGIES.md); issue 16's are in docs/PLACEMENTS.md. */
const char db_strategy_builtin_json[] =
    "{\"strategies\": [\n"
    "{\"name\": \"none\", \"description\": \"no dropout anywhere (baseline)\",\n"
    " \"origin\": \"baseline\", \"rules\": []},\n"
    "{\"name\": \"input\", \"description\": \"element-wise dropout on the input pixels, 0.2\",\n"
    " \"origin\": \"Hinton et al. 2012; Srivastava et al. 2014 input dropout\",\n"
    " \"rules\": [{\"site\": \"input\", \"mode\": \"element\", \"rate\": 0.2}]},\n"
    "{\"name\": \"dense\",\n"
    " \"description\": \"after each hidden dense layer's ReLU, 0.5 (never the logits)\",\n"
    " \"origin\": \"Hinton et al. 2012\",\n"
    " \"rules\": [{\"site\": \"dense\", \"mode\": \"element\", \"rate\": 0.5}]},\n"
    "{\"name\": \"conv\",\n"
    " \"description\": \"after each conv layer's ReLU, before pooling, element-wise, 0.1\",\n"
    " \"origin\": \"CONV -> RELU -> DROP practice\",\n"
    " \"rules\": [{\"site\": \"conv\", \"mode\": \"element\", \"rate\": 0.1}]},\n"
    "{\"name\": \"pool\", \"description\": \"after each max-pool, element-wise, 0.25\",\n"
    " \"origin\": \"dropout after pooling\",\n"
    " \"rules\": [{\"site\": \"pool\", \"mode\": \"element\", \"rate\": 0.25}]},\n"
    "{\"name\": \"spatial\",\n"
    " \"description\": \"after each conv layer's ReLU, one draw per (example, channel), 0.1\",\n"
    " \"origin\": \"Tompson et al. 2015 (SpatialDropout)\",\n"
    " \"rules\": [{\"site\": \"conv\", \"mode\": \"channel\", \"rate\": 0.1}]},\n"
    "{\"name\": \"hinton\", \"description\": \"input 0.2 + after each hidden dense ReLU 0.5\",\n"
    " \"origin\": \"Hinton et al. 2012 MNIST\",\n"
    " \"rules\": [{\"site\": \"input\", \"mode\": \"element\", \"rate\": 0.2},\n"
    "           {\"site\": \"dense\", \"mode\": \"element\", \"rate\": 0.5}]},\n"
    "{\"name\": \"srivastava\",\n"
    " \"description\": \"input 0.1; after each max-pool 0.25 (0.5 from the third pool on); "
    "dense 0.5\",\n"
    " \"origin\": \"Srivastava et al. 2014, retention (0.9, 0.75, 0.75, 0.5, 0.5, 0.5)\",\n"
    " \"rules\": [{\"site\": \"input\", \"mode\": \"element\", \"rate\": 0.1},\n"
    "           {\"site\": \"pool\", \"mode\": \"element\", \"rate\": 0.25, \"at\": [1, 2]},\n"
    "           {\"site\": \"pool\", \"mode\": \"element\", \"rate\": 0.5, \"from\": 3},\n"
    "           {\"site\": \"dense\", \"mode\": \"element\", \"rate\": 0.5}]},\n"
    "{\"name\": \"embedding\", \"description\": \"on the embedding outputs, element-wise, 0.25\",\n"
    " \"origin\": \"nn.Embedding -> Dropout practice\",\n"
    " \"rules\": [{\"site\": \"embedding\", \"mode\": \"element\", \"rate\": 0.25}]},\n"
    "{\"name\": \"token\",\n"
    " \"description\": \"on the embedding outputs, one draw per (example, position), 0.1\",\n"
    " \"origin\": \"word/character dropout (whole token vectors)\",\n"
    " \"rules\": [{\"site\": \"embedding\", \"mode\": \"position\", \"rate\": 0.1}]},\n"
    "{\"name\": \"output\",\n"
    " \"description\": \"on the final recurrent state, before the output dense layer, 0.5\",\n"
    " \"origin\": \"dropout at the end of a block\",\n"
    " \"rules\": [{\"site\": \"output\", \"mode\": \"element\", \"rate\": 0.5}]},\n"
    "{\"name\": \"spatial-pool\",\n"
    " \"description\": \"after each max-pool, one draw per (example, channel), 0.1\",\n"
    " \"origin\": \"Tompson et al. 2015 at the pool: the same function as spatial, cheaper\",\n"
    " \"rules\": [{\"site\": \"pool\", \"mode\": \"channel\", \"rate\": 0.1}]},\n"
    "{\"name\": \"interlayer\",\n"
    " \"description\": \"between stacked GRU layers, on the lower one's outputs, "
    "element-wise, 0.25\",\n"
    " \"origin\": \"nn.GRU(num_layers, dropout=p)\",\n"
    " \"rules\": [{\"site\": \"interlayer\", \"mode\": \"element\", \"rate\": 0.25}]},\n"
    "{\"name\": \"variational\",\n"
    " \"description\": \"locked over time (one mask per sequence) on the embedding outputs "
    "and between stacked GRU layers, 0.25\",\n"
    " \"origin\": \"Gal & Ghahramani 2016 (inputs); Merity et al. 2018\",\n"
    " \"rules\": [{\"site\": \"embedding\", \"mode\": \"locked\", \"rate\": 0.25},\n"
    "           {\"site\": \"interlayer\", \"mode\": \"locked\", \"rate\": 0.25}]},\n"
    "{\"name\": \"recurrent\",\n"
    " \"description\": \"on each GRU's state inside the recurrence, one mask per sequence, "
    "0.25\",\n"
    " \"origin\": \"Gal & Ghahramani 2016 (recurrent connections)\",\n"
    " \"rules\": [{\"site\": \"recurrent\", \"mode\": \"recurrent\", \"rate\": 0.25}]},\n"
    /* issue 21 (docs/MODERN.md): placements relative to batchnorm, and
     * dropout's relatives */
    "{\"name\": \"bn-before\",\n"
    " \"description\": \"right before each batchnorm layer (on the conv or dense output it "
    "normalises), element-wise, 0.1\",\n"
    " \"origin\": \"Li et al. 2019 (CVPR): the variance shift case\",\n"
    " \"rules\": [{\"site\": \"prebn\", \"mode\": \"element\", \"rate\": 0.1}]},\n"
    "{\"name\": \"bn-after-last\",\n"
    " \"description\": \"only after the last batchnorm layer's activation (before the "
    "output layer), element-wise, 0.5\",\n"
    " \"origin\": \"Li et al. 2019 (CVPR): dropout after all BN layers\",\n"
    " \"rules\": [{\"site\": \"postbn\", \"mode\": \"element\", \"rate\": 0.5, "
    "\"at\": \"last\"}]},\n"
    "{\"name\": \"gaussian\",\n"
    " \"description\": \"after each hidden dense layer's ReLU, multiplicative N(1, "
    "rate/(1-rate)) noise, rate 0.5\",\n"
    " \"origin\": \"Srivastava et al. 2014, section 10 (Gaussian dropout)\",\n"
    " \"rules\": [{\"site\": \"dense\", \"mode\": \"gaussian\", \"rate\": 0.5}]},\n"
    "{\"name\": \"dropconnect\",\n"
    " \"description\": \"on the weights of the dense layer after each hidden dense "
    "layer's ReLU, one mask per batch, 0.5\",\n"
    " \"origin\": \"Wan et al. 2013 (DropConnect)\",\n"
    " \"rules\": [{\"site\": \"dense\", \"mode\": \"dropconnect\", \"rate\": 0.5}]},\n"
    "{\"name\": \"dropblock\",\n"
    " \"description\": \"after each conv layer's ReLU, before pooling, 3x3 blocks, 0.1\",\n"
    " \"origin\": \"Ghiasi et al. 2018 (DropBlock)\",\n"
    " \"rules\": [{\"site\": \"conv\", \"mode\": \"dropblock\", \"rate\": 0.1, "
    "\"block\": 3}]}\n"
    "]}\n";

static db_strategy table[DB_STRATEGY_MAX];
static size_t ntable;
static int loaded;

static void registry_load(void)
{
    if (loaded)
        return;
    loaded = 1;
    cJSON *j = cJSON_Parse(db_strategy_builtin_json);
    db_err e;
    /* the text is part of the program; test_strategy checks it loads */
    if (!j || db_strategy_define(j, "built-in", &e))
        abort();
    cJSON_Delete(j);
}

const db_strategy *db_strategies(size_t *n)
{
    registry_load();
    *n = ntable;
    return table;
}

const db_strategy *db_strategy_find(const char *name)
{
    registry_load();
    for (size_t i = 0; i < ntable; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

void db_rule_text(char *buf, size_t n, const db_rule *r)
{
    int k = snprintf(buf, n, "%s %s %.2g", db_site_name(r->site),
                     db_dropout_mode_name(r->mode), r->rate);
    size_t used = k > 0 ? (size_t)k : 0;
    if (used < n && r->mode == DROPOUT_DROPBLOCK) {
        k = snprintf(buf + used, n - used, " block %zu", r->block);
        used += k > 0 ? (size_t)k : 0;
    }
    if (used >= n)
        return;
    if (r->at == DB_AT_FIRST)
        snprintf(buf + used, n - used, " first");
    else if (r->at == DB_AT_LAST)
        snprintf(buf + used, n - used, " last");
    else if (r->at == DB_AT_FROM)
        snprintf(buf + used, n - used, " from #%zu", r->from);
    else if (r->at == DB_AT_LIST)
        for (size_t i = 0; i < r->nlist && used < n; i++) {
            k = snprintf(buf + used, n - used, "%s%zu", i ? "," : " #", r->list[i]);
            used += k > 0 ? (size_t)k : 0;
        }
}

/* Name lookups for the JSON format: site kinds a strategy can place (not
 * none, not user), and modes. */
static int site_index(const char *s)
{
    for (int i = 1; i < DB_SITE_NKINDS; i++)
        if (i != DB_SITE_USER && strcmp(db_site_name(i), s) == 0)
            return i;
    return -1;
}

static int mode_index(const char *s)
{
    for (int i = 0; i < DROPOUT_NMODES; i++)
        if (strcmp(db_dropout_mode_name(i), s) == 0)
            return i;
    return -1;
}

static int valid_strategy_name(const char *t)
{
    if (!*t || strlen(t) > 40)
        return 0;
    for (const char *c = t; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
              *c == '_'))
            return 0;
    return 1;
}

static int opt_string(const char **out, const cJSON *o, const char *key,
                      const char *where, db_err *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = "";
    if (!v)
        return 0;
    if (!cJSON_IsString(v))
        return db_fail(e, "%s: \"%s\" must be a string", where, key);
    *out = v->valuestring;
    return 0;
}

/* Fails unless every key of object o is one of keys[0..n). */
static int only_keys(const cJSON *o, const char *const *keys, size_t n, const char *where,
                     db_err *e)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, o) {
        int ok = 0;
        for (size_t k = 0; k < n; k++)
            ok |= strcmp(it->string, keys[k]) == 0;
        if (!ok)
            return db_fail_unknown(e, where, "key", it->string, keys, n);
    }
    return 0;
}

static int parse_rule(db_rule *r, const cJSON *o, const char *where, db_err *e)
{
    static const char *const keys[] = { "site", "mode", "rate", "at", "from", "block" };
    memset(r, 0, sizeof *r);
    if (!cJSON_IsObject(o))
        return db_fail(e, "%s: a rule is an object", where);
    if (only_keys(o, keys, sizeof keys / sizeof keys[0], where, e))
        return -1;
    const cJSON *site = cJSON_GetObjectItemCaseSensitive(o, "site");
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(o, "mode");
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(o, "rate");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(o, "at");
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(o, "from");
    if (!cJSON_IsString(site) || (r->site = site_index(site->valuestring)) < 0)
        return db_fail(e, "%s: \"site\" must be one of input, conv, pool, dense, "
                       "embedding, output, interlayer, recurrent, prebn, postbn", where);
    r->mode = DROPOUT_ELEMENT;
    if (mode && (!cJSON_IsString(mode) || (r->mode = mode_index(mode->valuestring)) < 0))
        return db_fail(e, "%s: \"mode\" must be one of element, channel, position, "
                       "locked, recurrent, gaussian, dropconnect, dropblock", where);
    const cJSON *block = cJSON_GetObjectItemCaseSensitive(o, "block");
    if ((r->mode == DROPOUT_DROPBLOCK) != (block != NULL))
        return db_fail(e, "%s: \"block\" (the block size) goes with mode \"dropblock\", "
                       "which needs it", where);
    if (block) {
        if (!cJSON_IsNumber(block) || block->valuedouble < 1 ||
            block->valuedouble > 1000 || block->valuedouble != floor(block->valuedouble))
            return db_fail(e, "%s: \"block\" must be an integer from 1 to 1000", where);
        r->block = (size_t)block->valuedouble;
    }
    if ((r->site == DB_SITE_RECURRENT) != (r->mode == DROPOUT_RECURRENT))
        return db_fail(e, "%s: mode \"recurrent\" goes with site \"recurrent\" and "
                       "only there", where);
    if (!cJSON_IsNumber(rate))
        return db_fail(e, "%s: \"rate\" (a drop probability) is required", where);
    r->rate = rate->valuedouble;
    if (dropout_check_rate(r->rate, e))
        return db_prefix(e, "%s", where);
    if (at && from)
        return db_fail(e, "%s: give \"at\" or \"from\", not both", where);
    r->at = DB_AT_ALL;
    if (cJSON_IsString(at)) {
        if (strcmp(at->valuestring, "all") == 0)
            r->at = DB_AT_ALL;
        else if (strcmp(at->valuestring, "first") == 0)
            r->at = DB_AT_FIRST;
        else if (strcmp(at->valuestring, "last") == 0)
            r->at = DB_AT_LAST;
        else
            return db_fail(e, "%s: \"at\" must be \"all\", \"first\", \"last\" or a "
                           "list of positions [1, 2, ...]", where);
    } else if (cJSON_IsArray(at)) {
        r->at = DB_AT_LIST;
        int n = cJSON_GetArraySize(at);
        if (n < 1 || n > DB_RULE_MAX_AT)
            return db_fail(e, "%s: \"at\" lists 1 to %d positions", where, DB_RULE_MAX_AT);
        const cJSON *it;
        cJSON_ArrayForEach(it, at) {
            if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 1000 ||
                it->valuedouble != floor(it->valuedouble))
                return db_fail(e, "%s: \"at\" positions are integers >= 1 (the first "
                               "site of its kind is 1)", where);
            size_t v = (size_t)it->valuedouble;
            for (size_t i = 0; i < r->nlist; i++)
                if (r->list[i] == v)
                    return db_fail(e, "%s: \"at\" lists %zu twice", where, v);
            r->list[r->nlist++] = v;
        }
    } else if (at) {
        return db_fail(e, "%s: \"at\" must be \"all\", \"first\", \"last\" or a list of "
                       "positions [1, 2, ...]", where);
    }
    if (from) {
        if (!cJSON_IsNumber(from) || from->valuedouble < 1 || from->valuedouble > 1000 ||
            from->valuedouble != floor(from->valuedouble))
            return db_fail(e, "%s: \"from\" must be an integer >= 1 (the first site of "
                           "its kind is 1)", where);
        r->at = DB_AT_FROM;
        r->from = (size_t)from->valuedouble;
    }
    return 0;
}

static int parse_strategy(db_strategy *s, const cJSON *o, const char *where, db_err *e)
{
    static const char *const keys[] = { "name", "description", "origin", "rules" };
    memset(s, 0, sizeof *s);
    if (!cJSON_IsObject(o))
        return db_fail(e, "%s: a strategy is an object", where);
    if (only_keys(o, keys, sizeof keys / sizeof keys[0], where, e))
        return -1;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (!cJSON_IsString(name) || !valid_strategy_name(name->valuestring))
        return db_fail(e, "%s: \"name\" must be a name of lower-case letters, digits, "
                       "'-' and '_' (at most 40)", where);
    s->name = name->valuestring;
    if (opt_string(&s->description, o, "description", where, e) ||
        opt_string(&s->origin, o, "origin", where, e))
        return -1;
    const cJSON *rules = cJSON_GetObjectItemCaseSensitive(o, "rules");
    if (!cJSON_IsArray(rules))
        return db_fail(e, "%s (%s): \"rules\" must be an array ([] places nothing)", where,
                       s->name);
    if (cJSON_GetArraySize(rules) > DB_STRATEGY_MAX_RULES)
        return db_fail(e, "%s (%s): at most %d rules", where, s->name,
                       DB_STRATEGY_MAX_RULES);
    size_t k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, rules) {
        char w[160];
        snprintf(w, sizeof w, "%s (%s): rules[%zu]", where, s->name, k);
        if (parse_rule(&s->rules[k], it, w, e))
            return -1;
        k++;
    }
    s->nrules = k;
    return 0;
}

static int same_strategy(const db_strategy *a, const db_strategy *b)
{
    if (strcmp(a->name, b->name) || strcmp(a->description, b->description) ||
        strcmp(a->origin, b->origin) || a->nrules != b->nrules)
        return 0;
    for (size_t r = 0; r < a->nrules; r++) {
        const db_rule *x = &a->rules[r], *y = &b->rules[r];
        if (x->site != y->site || x->mode != y->mode || x->rate != y->rate ||
            x->block != y->block ||
            x->at != y->at || x->from != y->from || x->nlist != y->nlist ||
            memcmp(x->list, y->list, x->nlist * sizeof x->list[0]))
            return 0;
    }
    return 1;
}

static const db_strategy *db_strategy_find_defined(const char *name)
{
    for (size_t i = 0; i < ntable; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

static char *dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

int db_strategy_define(const cJSON *j, const char *source, db_err *e)
{
    if (strcmp(source, "built-in") != 0)
        registry_load();
    const cJSON *list = j;
    if (cJSON_IsObject(j) && cJSON_GetObjectItemCaseSensitive(j, "strategies")) {
        const cJSON *it;
        cJSON_ArrayForEach(it, j) if (strcmp(it->string, "strategies") != 0)
            return db_fail(e, "%s: unknown key \"%s\" (a strategy file holds "
                           "\"strategies\": [...])", source, it->string);
        list = cJSON_GetObjectItemCaseSensitive(j, "strategies");
        if (!cJSON_IsArray(list))
            return db_fail(e, "%s: \"strategies\" must be an array", source);
    }
    db_strategy parsed[DB_STRATEGY_MAX];
    size_t np = 0;
    const cJSON *one = cJSON_IsObject(list) ? list : NULL;
    const cJSON *it = one ? one : (cJSON_IsArray(list) ? list->child : NULL);
    if (!one && !cJSON_IsArray(list))
        return db_fail(e, "%s: expected a strategy object or an array of them", source);
    for (; it; it = one ? NULL : it->next) {
        char where[128];
        snprintf(where, sizeof where, "%s: strategy %zu", source, np + 1);
        if (np == DB_STRATEGY_MAX)
            return db_fail(e, "%s: more than %d strategies", source, DB_STRATEGY_MAX);
        if (parse_strategy(&parsed[np], it, where, e))
            return -1;
        for (size_t i = 0; i < np; i++)
            if (strcmp(parsed[i].name, parsed[np].name) == 0)
                return db_fail(e, "%s: \"%s\" is defined twice", source, parsed[np].name);
        np++;
    }
    /* check everything before defining anything */
    size_t nnew = 0;
    for (size_t p = 0; p < np; p++) {
        int known = 0;
        for (size_t i = 0; i < ntable; i++) {
            if (strcmp(table[i].name, parsed[p].name) != 0)
                continue;
            if (!same_strategy(&table[i], &parsed[p]))
                return db_fail(e, "%s: strategy \"%s\" is already defined differently "
                               "(%s)", source, parsed[p].name, table[i].source);
            known = 1;
        }
        nnew += !known;
    }
    if (ntable + nnew > DB_STRATEGY_MAX)
        return db_fail(e, "%s: more than %d strategies in all", source, DB_STRATEGY_MAX);
    for (size_t p = 0; p < np; p++) {
        if (db_strategy_find_defined(parsed[p].name))
            continue;
        db_strategy s = parsed[p];
        char *name = dup(s.name), *d = dup(s.description), *o = dup(s.origin),
             *src = dup(source);
        if (!name || !d || !o || !src) {
            free(name), free(d), free(o), free(src);
            return db_fail(e, "out of memory");
        }
        s.name = name, s.description = d, s.origin = o, s.source = src;
        table[ntable++] = s;
    }
    return 0;
}

int db_parse_rates(const char *s, double *rates, size_t max, db_err *e)
{
    size_t n = 0;
    const char *p = s;
    if (!*p)
        return db_fail(e, "rate: empty");
    for (;;) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno)
            return db_fail(e, "rate \"%s\": not a number or a comma-separated list "
                           "of numbers", s);
        if (dropout_check_rate(v, e))
            return db_prefix(e, "rate \"%s\"", s);
        if (n == max)
            return db_fail(e, "rate \"%s\": more than %zu values", s, max);
        rates[n++] = v;
        if (*end == '\0')
            break;
        if (*end != ',')
            return db_fail(e, "rate \"%s\": unexpected '%c'", s, *end);
        p = end + 1;
    }
    return (int)n;
}

/* The kind of site that follows layer i of `in` (i = -1: the input). */
static int site_after(const db_arch *in, long i)
{
    if (i < 0)
        return in->n > 0 && in->layers[0].type != DB_LAYER_EMBEDDING ? DB_SITE_INPUT
                                                                      : DB_SITE_NONE;
    const db_layer *l = &in->layers[i];
    switch (l->type) {
    case DB_LAYER_MAXPOOL:
        return DB_SITE_POOL;
    case DB_LAYER_EMBEDDING:
        return DB_SITE_EMBEDDING;
    case DB_LAYER_GRU: /* a stack's lower layers hand their sequence up */
        return l->seq ? DB_SITE_INTERLAYER : DB_SITE_OUTPUT;
    case DB_LAYER_CONV:
    case DB_LAYER_DENSE:
        /* its output, when a batchnorm layer normalises it next */
        return i + 1 < (long)in->n && in->layers[i + 1].type == DB_LAYER_BATCHNORM
                   ? DB_SITE_PREBN
                   : DB_SITE_NONE;
    case DB_LAYER_RELU:
    case DB_LAYER_SIGMOID: {
        /* the activation of the nearest preceding non-dropout layer (a
         * batchnorm between the two is looked through: conv - BN - ReLU
         * is a conv site) */
        long j = i - 1;
        while (j >= 0 && (in->layers[j].type == DB_LAYER_DROPOUT ||
                          in->layers[j].type == DB_LAYER_BATCHNORM))
            j--;
        if (j >= 0 && in->layers[j].type == DB_LAYER_CONV)
            return DB_SITE_CONV;
        if (j >= 0 && in->layers[j].type == DB_LAYER_DENSE)
            return DB_SITE_DENSE;
        return DB_SITE_NONE;
    }
    default:
        return DB_SITE_NONE;
    }
}

/* The site kinds at position i (-1: the input) in placement order.  A GRU
 * has two: its recurrence (a recurrent-mode dropout layer right after it,
 * which the model hands to the GRU), then its output. */
static void sites_at(int kinds[2], const db_arch *in, long i)
{
    kinds[0] = i >= 0 && in->layers[i].type == DB_LAYER_GRU ? DB_SITE_RECURRENT
                                                             : DB_SITE_NONE;
    /* an activation right after a batchnorm layer (dropouts between
     * skipped) is also a postbn site, placed first */
    if (i >= 1 && i < (long)in->n && (in->layers[i].type == DB_LAYER_RELU ||
                   in->layers[i].type == DB_LAYER_SIGMOID)) {
        long j = i - 1;
        while (j >= 0 && in->layers[j].type == DB_LAYER_DROPOUT)
            j--;
        if (j >= 0 && in->layers[j].type == DB_LAYER_BATCHNORM)
            kinds[0] = DB_SITE_POSTBN;
    }
    kinds[1] = site_after(in, i);
}

/* Whether a rule places dropout at the k-th (1-based) of total sites of its
 * kind. */
static int rule_selects(const db_rule *r, size_t k, size_t total)
{
    switch (r->at) {
    case DB_AT_FIRST:
        return k == 1;
    case DB_AT_LAST:
        return k == total;
    case DB_AT_FROM:
        return k >= r->from;
    case DB_AT_LIST:
        for (size_t i = 0; i < r->nlist; i++)
            if (r->list[i] == k)
                return 1;
        return 0;
    default:
        return 1;
    }
}

#define MAX_PARTS 8

/* The parts of a strategy name "a+b+...": each a known strategy, none
 * twice, "none" alone. */
static int parse_parts(const db_strategy **parts, size_t *nparts, const char *spec,
                       db_err *e)
{
    char buf[256];
    if (strlen(spec) >= sizeof buf)
        return db_fail(e, "strategy \"%.40s...\": name too long", spec);
    strcpy(buf, spec);
    *nparts = 0;
    for (char *save = NULL, *tok = strtok_r(buf, "+", &save); tok;
         tok = strtok_r(NULL, "+", &save)) {
        const db_strategy *s = db_strategy_find(tok);
        if (!s) {
            const char *names[DB_STRATEGY_MAX];
            for (size_t i = 0; i < ntable; i++)
                names[i] = table[i].name;
            return db_fail_unknown(e, NULL, "strategy", tok, names, ntable);
        }
        for (size_t i = 0; i < *nparts; i++)
            if (parts[i] == s)
                return db_fail(e, "strategy \"%s\": \"%s\" appears twice", spec, tok);
        if (*nparts == MAX_PARTS)
            return db_fail(e, "strategy \"%s\": more than %d parts", spec, MAX_PARTS);
        parts[(*nparts)++] = s;
    }
    if (*nparts == 0 || spec[0] == '+' || spec[strlen(spec) - 1] == '+' ||
        strstr(spec, "++"))
        return db_fail(e, "strategy \"%s\": malformed combination", spec);
    if (*nparts > 1)
        for (size_t i = 0; i < *nparts; i++)
            if (parts[i]->nrules == 0)
                return db_fail(e, "strategy \"%s\": \"none\" cannot be combined", spec);
    return 0;
}

/* out = in with a dropout layer at every site a rule of the parts selects
 * (in the parts' order, then the rules'); placed[p]: how many part p
 * placed; *nsites: how many in all. */
static int place_sites(db_arch *out, const db_arch *in, const db_strategy *const *parts,
                       size_t nparts, size_t *placed, size_t *nsites, db_err *e)
{
    /* how many sites of each kind the architecture has (for "last") */
    size_t total[DB_SITE_NKINDS] = { 0 }, seen[DB_SITE_NKINDS] = { 0 };
    for (long i = -1; i < (long)in->n; i++) {
        int kinds[2];
        sites_at(kinds, in, i);
        for (int kk = 0; kk < 2; kk++)
            total[kinds[kk]]++;
    }
    *nsites = 0;
    out->n = 0;
    for (long i = -1; i < (long)in->n; i++) {
        if (i >= 0 && db_arch_push(out, &in->layers[i], e))
            return -1;
        int kinds[2];
        sites_at(kinds, in, i);
        for (int kk = 0; kk < 2; kk++) {
            int site = kinds[kk];
            if (site == DB_SITE_NONE)
                continue;
            size_t k = ++seen[site];
            for (size_t p = 0; p < nparts; p++) {
                for (size_t r = 0; r < parts[p]->nrules; r++) {
                    const db_rule *rule = &parts[p]->rules[r];
                    if (rule->site != site || !rule_selects(rule, k, total[site]))
                        continue;
                    db_layer d;
                    memset(&d, 0, sizeof d);
                    d.type = DB_LAYER_DROPOUT;
                    d.mode = rule->mode;
                    d.site = site;
                    d.rate = rule->rate;
                    d.block = rule->block;
                    if (db_arch_push(out, &d, e))
                        return -1;
                    placed[p]++;
                    (*nsites)++;
                }
            }
        }
    }
    return 0;
}

/* The --rate override: one rate for every placed site, or one per site in
 * order (sites from the user's own dropout layers keep theirs). */
static int apply_rates(db_arch *out, const char *spec, const double *rates, size_t nrates,
                       size_t nsites, db_err *e)
{
    if (nrates == 0)
        return 0;
    if (nsites == 0)
        return db_fail(e, "a rate was given but strategy \"%s\" places no dropout", spec);
    if (nrates != 1 && nrates != nsites)
        return db_fail(e, "%zu rates given but strategy \"%s\" places %zu dropout "
                       "sites on this model (give 1 or %zu)", nrates, spec, nsites, nsites);
    size_t k = 0;
    for (size_t i = 0; i < out->n; i++) {
        db_layer *l = &out->layers[i];
        if (l->type == DB_LAYER_DROPOUT && l->site != DB_SITE_USER) {
            l->rate = rates[nrates == 1 ? 0 : k];
            k++;
        }
    }
    return 0;
}

int db_strategy_apply(db_arch *out, const db_arch *in, const char *spec,
                      const double *rates, size_t nrates, db_err *e)
{
    const db_strategy *parts[MAX_PARTS];
    size_t nparts = 0, placed[MAX_PARTS] = { 0 }, nsites = 0;
    if (parse_parts(parts, &nparts, spec, e) < 0 ||
        place_sites(out, in, parts, nparts, placed, &nsites, e) < 0)
        return -1;
    for (size_t p = 0; p < nparts; p++)
        if (parts[p]->nrules > 0 && placed[p] == 0)
            return db_fail(e, "strategy \"%s\" places no dropout on this model "
                           "(it has no %s site)", parts[p]->name,
                           db_site_name(parts[p]->rules[0].site));
    return apply_rates(out, spec, rates, nrates, nsites, e);
}
