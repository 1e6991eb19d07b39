/* test_labels.c - honest strategy labels and base-model pairing (issue 18).
 *
 * A config that writes dropout layers into its model by hand and asks for
 * no strategy ("none") is labelled "hand-placed", never the baseline.
 * Every result records the fingerprint of its base model (the model
 * without dropout layers); the report pairs a run with the baseline only
 * when the two fingerprints are equal, and computes the fingerprint from
 * config.model for results written before it was recorded.  The runs are
 * real (a tiny MLP, one epoch, generated data). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "test_train.h"
#include "report/aggregate.h"
#include "report/results.h"
#include "train/run.h"
#include "train/train.h"
#include "util/fs.h"
#include "util/jsonio.h"

static char root[256];

/* A config file of the tiny MLP: hidden units, and a dropout layer after
 * the hidden layer's ReLU when rate > 0. */
static void write_config(const char *name, size_t hidden, double rate, const char *strategy)
{
    char path[512], drop[128] = "";
    if (rate > 0)
        snprintf(drop, sizeof drop, "{\"type\": \"dropout\", \"rate\": %g}, ", rate);
    char *txt = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&txt, &n);
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "{\"task\": \"labels-mlp\", \"data\": \"mnist\",\n"
            " \"model\": [{\"type\": \"dense\", \"units\": %zu}, {\"type\": \"relu\"}, %s"
            "{\"type\": \"dense\", \"units\": 10}],\n"
            " \"strategy\": \"%s\",\n"
            " \"train\": {\"batch\": 32, \"epochs\": 1, \"lr\": 0.05}}\n",
            hidden, drop, strategy);
    fclose(f);
    snprintf(path, sizeof path, "%s/%s", root, name);
    db_err e;
    ck_assert_msg(db_write_atomic(path, txt, n, &e) == 0, "%s", e.msg);
    free(txt);
}

static void setup_once(void)
{
    make_root_with_data(root, sizeof root, "/tmp/dbtest-labels-XXXXXX", 200, 60);
}

static void teardown_once(void)
{
    remove_root(root);
}

/* Resolves config file `name` (strategy: NULL for the file's); returns the
 * canonical config, or NULL with the message in e. */
static cJSON *resolve(const char *name, const char *strategy, long seed, char id[17],
                      db_err *e)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, name);
    run_request rq;
    run_request_init(&rq);
    rq.config_path = path;
    rq.strategy = strategy;
    rq.seed = seed;
    cJSON *cfg = NULL;
    return run_resolve(&rq, &cfg, id, e) == 0 ? cfg : NULL;
}

static const char *strategy_of(const cJSON *cfg)
{
    return cJSON_GetObjectItemCaseSensitive(cfg, "strategy")->valuestring;
}

START_TEST(hand_placed_is_labelled)
{
    write_config("plain.json", 16, 0, "none");
    write_config("hand.json", 16, 0.3, "none");
    char id[17], id2[17];
    db_err e;
    cJSON *c = resolve("plain.json", NULL, 0, id, &e);
    ck_assert_msg(c != NULL, "%s", e.msg);
    ck_assert_str_eq(strategy_of(c), "none");
    cJSON_Delete(c);
    /* dropout in the model and "strategy": "none": not the baseline */
    c = resolve("hand.json", NULL, 0, id, &e);
    ck_assert_msg(c != NULL, "%s", e.msg);
    ck_assert_str_eq(strategy_of(c), "hand-placed");
    cJSON_Delete(c);
    /* asking for "hand-placed" is the same run */
    c = resolve("hand.json", "hand-placed", 0, id2, &e);
    ck_assert_msg(c != NULL, "%s", e.msg);
    ck_assert_str_eq(strategy_of(c), "hand-placed");
    ck_assert_str_eq(id, id2);
    cJSON_Delete(c);
    /* a strategy on top keeps its own name */
    c = resolve("hand.json", "dense", 0, id, &e);
    ck_assert_msg(c != NULL, "%s", e.msg);
    ck_assert_str_eq(strategy_of(c), "dense");
    cJSON_Delete(c);
    /* "hand-placed" on a model without dropout layers is an error naming
     * the file */
    c = resolve("plain.json", "hand-placed", 0, id, &e);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(e.msg, "plain.json") && strstr(e.msg, "no dropout layers"), "%s",
                  e.msg);
}
END_TEST

/* Runs config `name` with seed into results folder `dir` (under root). */
static void run_into(const char *name, long seed, const char *dir)
{
    char id[17], out[512], data[300];
    db_err e;
    cJSON *cfg = resolve(name, NULL, seed, id, &e);
    ck_assert_msg(cfg != NULL, "%s", e.msg);
    snprintf(out, sizeof out, "%s/%s", root, dir);
    snprintf(data, sizeof data, "%s/data", root);
    run_options o;
    int rc = run_quietly(cfg, id, data, out, &o, &e);
    cJSON_Delete(cfg);
    ck_assert_msg(rc == 0, "%s: %s", name, e.msg);
}

/* The report of results folder dir against "none": the hand-placed row's
 * cell.  Fills *t and *set (caller frees). */
static const report_cell *hand_cell(const char *dir, report_set *set, report_table *t)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, dir);
    db_err e;
    memset(set, 0, sizeof *set);
    ck_assert_msg(report_load(set, path, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(set->nproblems, 0);
    ck_assert_msg(report_aggregate(set, "none", t, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(t->nrows, 2);
    ck_assert_str_eq(t->rows[0].strategy, "none");
    ck_assert(t->rows[0].is_baseline);
    ck_assert_str_eq(t->rows[1].strategy, "hand-placed");
    ck_assert(!t->rows[1].is_baseline);
    return report_cell_at(t, 1, 0);
}

START_TEST(pairs_on_equal_base_models_only)
{
    write_config("plain.json", 16, 0, "none");
    write_config("hand.json", 16, 0.3, "none");      /* same base model */
    write_config("wider.json", 24, 0.3, "none");     /* another base model */
    for (long s = 0; s < 2; s++) {
        run_into("plain.json", s, "same");
        run_into("hand.json", s, "same");
        run_into("plain.json", s, "other");
        run_into("wider.json", s, "other");
    }
    report_set set;
    report_table t;
    const report_cell *c = hand_cell("same", &set, &t);
    ck_assert_uint_eq(c->n, 2);
    ck_assert_msg(c->has_diff, "equal base models must pair");
    ck_assert_uint_eq(c->diff.n, 2);
    ck_assert_uint_eq(t.nnotes, 0);
    /* every result records its fingerprint; equal base models, equal
     * fingerprints */
    for (size_t i = 0; i < set.n; i++) {
        ck_assert_uint_eq(strlen(set.res[i].base_model), 16);
        ck_assert_str_eq(set.res[i].base_model, set.res[0].base_model);
    }
    report_table_free(&t);
    report_set_free(&set);

    c = hand_cell("other", &set, &t);
    ck_assert_uint_eq(c->n, 2);
    ck_assert_msg(!c->has_diff, "a different base model must not pair with none");
    ck_assert_uint_eq(c->diff.n, 0);
    ck_assert_uint_eq(t.nnotes, 1);
    ck_assert_msg(strstr(t.notes[0], "another base model") != NULL, "%s", t.notes[0]);
    report_table_free(&t);
    report_set_free(&set);
}
END_TEST

/* A result written before the fingerprint was recorded: the report
 * computes it from config.model, and gets the value a new result records
 * (so old and new results pair with each other). */
START_TEST(old_results_get_the_same_fingerprint)
{
    write_config("hand.json", 16, 0.3, "none");
    run_into("hand.json", 0, "old");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/old", root);
    db_err e;
    report_set set;
    memset(&set, 0, sizeof set);
    ck_assert_msg(report_load(&set, dir, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(set.n, 1);
    char recorded[17];
    memcpy(recorded, set.res[0].base_model, 17);
    ck_assert_uint_eq(strlen(recorded), 16);
    cJSON *j = NULL;
    ck_assert_msg(db_json_load(&j, set.res[0].path, &e) == 0, "%s", e.msg);
    cJSON *fp = cJSON_GetObjectItemCaseSensitive(j, "fingerprints");
    ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(fp, "base_model"));
    cJSON_DeleteItemFromObjectCaseSensitive(fp, "base_model");
    ck_assert_msg(db_json_save(set.res[0].path, j, &e) == 0, "%s", e.msg);
    cJSON_Delete(j);
    report_set_free(&set);

    memset(&set, 0, sizeof set);
    ck_assert_msg(report_load(&set, dir, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(set.n, 1);
    ck_assert_str_eq(set.res[0].base_model, recorded);
    report_set_free(&set);

    /* and the base model is the model without its dropout layer: the
     * plain config's run has the same fingerprint */
    write_config("plain.json", 16, 0, "none");
    run_into("plain.json", 0, "old");
    memset(&set, 0, sizeof set);
    ck_assert_msg(report_load(&set, dir, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(set.n, 2);
    ck_assert_str_eq(set.res[0].base_model, set.res[1].base_model);
    report_set_free(&set);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("labels");
    TCase *tc = tcase_create("labels");
    tcase_add_unchecked_fixture(tc, setup_once, teardown_once);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, hand_placed_is_labelled);
    tcase_add_test(tc, pairs_on_equal_base_models_only);
    tcase_add_test(tc, old_results_get_the_same_fingerprint);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
