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

#define DB_STRATEGY_MAX_RULES 8
#define DB_RULE_MAX_AT 8
#define DB_STRATEGY_MAX 64

/* Which occurrences of its site kind a rule places dropout at, counted
 * 1, 2, ... from the input in layer order. */
enum db_rule_at { DB_AT_ALL = 0, DB_AT_FIRST, DB_AT_LAST, DB_AT_LIST, DB_AT_FROM };

/* One kind of site a strategy places, with its mode and default rate.
 * Srivastava's "pool 0.25, but 0.5 from the third pool on" is two rules:
 * pool at [1, 2] 0.25 and pool from 3 0.5. */
typedef struct db_rule {
    int site;        /* enum db_site */
    int mode;        /* enum dropout_mode */
    double rate;
    int at;          /* enum db_rule_at */
    size_t nlist;    /* DB_AT_LIST: list[0..nlist), 1-based */
    size_t list[DB_RULE_MAX_AT];
    size_t from;     /* DB_AT_FROM: the from-th and every later one */
    size_t block;    /* mode dropblock: the block size; else 0 */
} db_rule;

typedef struct db_strategy {
    const char *name;
    const char *description;
    const char *origin;      /* the paper or practice it comes from */
    const char *source;      /* where it was defined: "built-in" or a file */
    size_t nrules;
    db_rule rules[DB_STRATEGY_MAX_RULES];
} db_strategy;

/* The registry, in display order (built-in first, then those defined since,
 * in order); *n receives its length.  The built-in strategies are a JSON
 * text compiled into the program (db_strategy_builtin_json) read by the same
 * db_strategy_define as user files. */
const db_strategy *db_strategies(size_t *n);
const db_strategy *db_strategy_find(const char *name);
extern const char db_strategy_builtin_json[];

/* Defines strategies from JSON (docs/STRATEGIES.md): one strategy object,
 * an array of them, or {"strategies": [...]}.  source names where they come
 * from (for `dropbench strategies` and messages).  A name already defined is
 * an error unless the definition is the same (so a file can be loaded
 * twice).  Nothing is defined when any entry is bad. */
int db_strategy_define(const cJSON *j, const char *source, db_err *e);
/* The rule as JSON text of the format read ("pool element 0.25 at [1,2]"),
 * for listings. */
void db_rule_text(char *buf, size_t n, const db_rule *r);

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
