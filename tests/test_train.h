/* test_train.h - the fixture of the tests that train end to end on
 * generated data (gen_data.h): a scratch folder holding the data sets, the
 * config search path, the result schema, and quiet runs of resolved
 * configs whose result files are checked against that schema. */
#ifndef DB_TEST_TRAIN_H
#define DB_TEST_TRAIN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cJSON.h>

#include "gen_data.h"
#include "json_schema.h"
#include "train/run.h"
#include "train/train.h"
#include "util/jsonio.h"

/* DROPBENCH_CONFIGS=$DROPBENCH_SRC/configs (the presets of the source
 * tree); without DROPBENCH_SRC, ./configs when or_here is set, else it is
 * left as it is. */
static inline void use_source_configs(int or_here)
{
    const char *src = getenv("DROPBENCH_SRC");
    if (!src && !or_here)
        return;
    char path[1024];
    snprintf(path, sizeof path, "%s/configs", src ? src : ".");
    setenv("DROPBENCH_CONFIGS", path, 1);
}

/* Makes the scratch folder root (n bytes) from tmpl (mkdtemp(3), ending
 * in XXXXXX) with every generated data set in root/data, ntrain and ntest
 * examples each; aborts when it cannot (an unchecked fixture). */
static inline void make_root_with_data(char *root, size_t n, const char *tmpl,
                                       size_t ntrain, size_t ntest)
{
    snprintf(root, n, "%s", tmpl);
    if (!mkdtemp(root))
        abort();
    char data[300];
    snprintf(data, sizeof data, "%s/data", root);
    if (gen_all(data, ntrain, ntest))
        abort();
}

/* Removes root and everything under it, saying so when it cannot. */
static inline void remove_root(const char *root)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
}

/* results/schema.json of the source tree ($DROPBENCH_SRC, else .); aborts
 * when it cannot be read. */
static inline cJSON *load_schema(void)
{
    const char *src = getenv("DROPBENCH_SRC");
    char path[1024];
    snprintf(path, sizeof path, "%s/results/schema.json", src ? src : ".");
    cJSON *schema = NULL;
    db_err e;
    if (db_json_load(&schema, path, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        abort();
    }
    return schema;
}

/* Trains the resolved config (cfg, id) quietly on the data sets of
 * data_root, its result into results_dir; returns run_execute's status,
 * o filled (o->result_path: the result file). */
static inline int run_quietly(const cJSON *cfg, const char *id, const char *data_root,
                              const char *results_dir, run_options *o, db_err *e)
{
    memset(o, 0, sizeof *o);
    o->results_dir = results_dir;
    o->data_root = data_root;
    o->quiet = 1;
    return run_execute(cfg, id, o, e);
}

/* The result file at path, which must be valid against schema. */
static inline cJSON *load_checked_result(const cJSON *schema, const char *path)
{
    cJSON *res = NULL;
    db_err e;
    ck_assert_msg(db_json_load(&res, path, &e) == 0, "%s", e.msg);
    char err[512];
    ck_assert_msg(js_validate(schema, res, "$", err, sizeof err) == 0, "schema: %s", err);
    return res;
}

#endif
