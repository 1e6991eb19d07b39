#include "strategy.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#define EL DROPOUT_ELEMENT

/* The registry.  Rates are drop probabilities (SUITE.md, placement suite v1);
 * Srivastava's paper states retention probabilities p = 1 - rate. */
static const db_strategy table[] = {
    { "none", "no dropout anywhere (baseline)", "baseline", 0, { { 0 } } },
    { "input", "element-wise dropout on the input pixels, 0.2",
      "Hinton et al. 2012; Srivastava et al. 2014 input dropout", 1,
      { { DB_SITE_INPUT, EL, 0.2, 0, 0 } } },
    { "dense", "after each hidden dense layer's ReLU, 0.5 (never the logits)",
      "Hinton et al. 2012", 1, { { DB_SITE_DENSE, EL, 0.5, 0, 0 } } },
    { "conv", "after each conv layer's ReLU, before pooling, element-wise, 0.1",
      "CONV -> RELU -> DROP practice", 1, { { DB_SITE_CONV, EL, 0.1, 0, 0 } } },
    { "pool", "after each max-pool, element-wise, 0.25", "dropout after pooling", 1,
      { { DB_SITE_POOL, EL, 0.25, 0, 0 } } },
    { "spatial", "after each conv layer's ReLU, one draw per (example, channel), 0.1",
      "Tompson et al. 2015 (SpatialDropout)", 1,
      { { DB_SITE_CONV, DROPOUT_CHANNEL, 0.1, 0, 0 } } },
    { "hinton", "input 0.2 + after each hidden dense ReLU 0.5", "Hinton et al. 2012 MNIST",
      2, { { DB_SITE_INPUT, EL, 0.2, 0, 0 }, { DB_SITE_DENSE, EL, 0.5, 0, 0 } } },
    { "srivastava",
      "input 0.1; after each max-pool 0.25 (0.5 from the third pool on); dense 0.5",
      "Srivastava et al. 2014, retention (0.9, 0.75, 0.75, 0.5, 0.5, 0.5)", 3,
      { { DB_SITE_INPUT, EL, 0.1, 0, 0 }, { DB_SITE_POOL, EL, 0.25, 3, 0.5 },
        { DB_SITE_DENSE, EL, 0.5, 0, 0 } } },
    { "embedding", "on the embedding outputs, element-wise, 0.25",
      "nn.Embedding -> Dropout practice", 1, { { DB_SITE_EMBEDDING, EL, 0.25, 0, 0 } } },
    { "token", "on the embedding outputs, one draw per (example, position), 0.1",
      "word/character dropout (whole token vectors)", 1,
      { { DB_SITE_EMBEDDING, DROPOUT_POSITION, 0.1, 0, 0 } } },
    { "output", "on the final recurrent state, before the output dense layer, 0.5",
      "dropout at the end of a block", 1, { { DB_SITE_OUTPUT, EL, 0.5, 0, 0 } } },
    /* issue 16, docs/PLACEMENTS.md (rates and why) */
    { "spatial-pool", "after each max-pool, one draw per (example, channel), 0.1",
      "Tompson et al. 2015 at the pool: the same function as spatial, cheaper", 1,
      { { DB_SITE_POOL, DROPOUT_CHANNEL, 0.1, 0, 0 } } },
    { "interlayer", "between stacked GRU layers, on the lower one's outputs, element-wise, "
      "0.25", "nn.GRU(num_layers, dropout=p)", 1,
      { { DB_SITE_INTERLAYER, EL, 0.25, 0, 0 } } },
    { "variational",
      "locked over time (one mask per sequence) on the embedding outputs and between "
      "stacked GRU layers, 0.25", "Gal & Ghahramani 2016 (inputs); Merity et al. 2018",
      2, { { DB_SITE_EMBEDDING, DROPOUT_LOCKED, 0.25, 0, 0 },
           { DB_SITE_INTERLAYER, DROPOUT_LOCKED, 0.25, 0, 0 } } },
    { "recurrent", "on each GRU's state inside the recurrence, one mask per sequence, 0.25",
      "Gal & Ghahramani 2016 (recurrent connections)", 1,
      { { DB_SITE_RECURRENT, DROPOUT_RECURRENT, 0.25, 0, 0 } } },
};

const db_strategy *db_strategies(size_t *n)
{
    *n = sizeof table / sizeof table[0];
    return table;
}

const db_strategy *db_strategy_find(const char *name)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
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
    case DB_LAYER_RELU:
    case DB_LAYER_SIGMOID: {
        /* the activation of the nearest preceding non-dropout layer */
        long j = i - 1;
        while (j >= 0 && in->layers[j].type == DB_LAYER_DROPOUT)
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

#define MAX_PARTS 8

int db_strategy_apply(db_arch *out, const db_arch *in, const char *spec,
                      const double *rates, size_t nrates, db_err *e)
{
    const db_strategy *parts[MAX_PARTS];
    size_t nparts = 0;
    char buf[256];
    if (strlen(spec) >= sizeof buf)
        return db_fail(e, "strategy \"%.40s...\": name too long", spec);
    strcpy(buf, spec);
    for (char *save = NULL, *tok = strtok_r(buf, "+", &save); tok;
         tok = strtok_r(NULL, "+", &save)) {
        const db_strategy *s = db_strategy_find(tok);
        if (!s)
            return db_fail(e, "unknown strategy \"%s\" (see `dropbench strategies`)", tok);
        for (size_t i = 0; i < nparts; i++)
            if (parts[i] == s)
                return db_fail(e, "strategy \"%s\": \"%s\" appears twice", spec, tok);
        if (nparts == MAX_PARTS)
            return db_fail(e, "strategy \"%s\": more than %d parts", spec, MAX_PARTS);
        parts[nparts++] = s;
    }
    if (nparts == 0 || spec[0] == '+' || spec[strlen(spec) - 1] == '+' ||
        strstr(spec, "++"))
        return db_fail(e, "strategy \"%s\": malformed combination", spec);
    if (nparts > 1)
        for (size_t i = 0; i < nparts; i++)
            if (parts[i]->nrules == 0)
                return db_fail(e, "strategy \"%s\": \"none\" cannot be combined", spec);

    size_t placed[MAX_PARTS] = { 0 };
    size_t seen[MAX_PARTS][DB_STRATEGY_MAX_RULES] = { { 0 } };
    size_t nsites = 0;
    out->n = 0;
    for (long i = -1; i < (long)in->n; i++) {
        if (i >= 0 && db_arch_push(out, &in->layers[i], e))
            return -1;
        /* A GRU has two sites: its recurrence (a recurrent-mode dropout
         * layer right after it, which the model hands to the GRU), then its
         * output. */
        int kinds[2] = { DB_SITE_NONE, site_after(in, i) };
        if (i >= 0 && in->layers[i].type == DB_LAYER_GRU)
            kinds[0] = DB_SITE_RECURRENT;
        for (int kk = 0; kk < 2; kk++) {
            int site = kinds[kk];
            if (site == DB_SITE_NONE)
                continue;
            for (size_t p = 0; p < nparts; p++) {
                for (size_t r = 0; r < parts[p]->nrules; r++) {
                    const db_rule *rule = &parts[p]->rules[r];
                    if (rule->site != site)
                        continue;
                    seen[p][r]++;
                    db_layer d;
                    memset(&d, 0, sizeof d);
                    d.type = DB_LAYER_DROPOUT;
                    d.mode = rule->mode;
                    d.site = site;
                    d.rate = rule->nth > 0 && seen[p][r] >= (size_t)rule->nth
                                 ? rule->nth_rate
                                 : rule->rate;
                    if (db_arch_push(out, &d, e))
                        return -1;
                    placed[p]++;
                    nsites++;
                }
            }
        }
    }
    for (size_t p = 0; p < nparts; p++)
        if (parts[p]->nrules > 0 && placed[p] == 0)
            return db_fail(e, "strategy \"%s\" places no dropout on this model "
                           "(it has no %s site)", parts[p]->name,
                           db_site_name(parts[p]->rules[0].site));
    if (nrates > 0) {
        if (nsites == 0)
            return db_fail(e, "a rate was given but strategy \"%s\" places no dropout",
                           spec);
        if (nrates != 1 && nrates != nsites)
            return db_fail(e, "%zu rates given but strategy \"%s\" places %zu dropout "
                           "sites on this model (give 1 or %zu)", nrates, spec, nsites,
                           nsites);
        size_t k = 0;
        for (size_t i = 0; i < out->n; i++) {
            db_layer *l = &out->layers[i];
            if (l->type == DB_LAYER_DROPOUT && l->site != DB_SITE_USER) {
                l->rate = rates[nrates == 1 ? 0 : k];
                k++;
            }
        }
    }
    return 0;
}
