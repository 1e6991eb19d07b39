/* strategy.h - the registry of dropout placements.
 *
 * A strategy is a rewrite of an architecture: it inserts dropout specs at
 * named sites and never touches training code.  Strategies combine with '+'
 * ("conv+pool" places both sets of sites).  A rate override replaces the
 * default rate of every site placed: one value for all, or one per site in
 * order from input to output. */
#ifndef DB_STRATEGY_H
#define DB_STRATEGY_H

#include <stddef.h>

#include "arch.h"
#include "dberr.h"

#define DB_STRATEGY_MAX_RULES 4

/* One kind of site a strategy places, with its default rate.  When nth > 0,
 * the nth site of this kind and every later one get nth_rate instead
 * (Srivastava's 0.5 after the third pool). */
typedef struct db_rule {
    int site;        /* enum db_site */
    int mode;        /* enum dropout_mode */
    double rate;
    int nth;
    double nth_rate;
} db_rule;

typedef struct db_strategy {
    const char *name;
    const char *description;
    const char *origin;      /* the paper or practice it comes from */
    size_t nrules;
    db_rule rules[DB_STRATEGY_MAX_RULES];
} db_strategy;

/* The table, in display order; *n receives its length. */
const db_strategy *db_strategies(size_t *n);
const db_strategy *db_strategy_find(const char *name);

/* Parses "0.3" or "0.1,0.25,0.5" into rates[] (at most max); each in [0,1).
 * Returns the count, or -1 with a message. */
int db_parse_rates(const char *s, double *rates, size_t max, db_err *e);

/* out = in with the dropout sites of `spec` ("hinton", "conv+pool", ...)
 * inserted.  rates/nrates: NULL/0 for the defaults, 1 value for every site,
 * or exactly one per placed site.  A strategy part that places nothing on
 * this architecture is an error (never a silent baseline), except "none". */
int db_strategy_apply(db_arch *out, const db_arch *in, const char *spec,
                      const double *rates, size_t nrates, db_err *e);

#endif
