/* Strategy registry: the rewrite places exactly the sites docs/SUITE.md names. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "kernels.h"
#include "strategy.h"

static const char *MLP = "[{\"type\":\"dense\",\"units\":800},{\"type\":\"relu\"},"
                         "{\"type\":\"dense\",\"units\":800},{\"type\":\"relu\"},"
                         "{\"type\":\"dense\",\"units\":10}]";
static const char *LENET =
    "[{\"type\":\"conv\",\"filters\":32,\"kernel\":5,\"pad\":2},{\"type\":\"relu\"},"
    "{\"type\":\"maxpool\",\"kernel\":2},"
    "{\"type\":\"conv\",\"filters\":64,\"kernel\":5,\"pad\":2},{\"type\":\"relu\"},"
    "{\"type\":\"maxpool\",\"kernel\":2},"
    "{\"type\":\"dense\",\"units\":1024},{\"type\":\"relu\"},{\"type\":\"dense\",\"units\":10}]";
static const char *CIFAR =
    "[{\"type\":\"conv\",\"filters\":32,\"kernel\":5,\"pad\":2},{\"type\":\"relu\"},"
    "{\"type\":\"maxpool\",\"kernel\":3,\"stride\":2,\"pad\":1},"
    "{\"type\":\"conv\",\"filters\":32,\"kernel\":5},{\"type\":\"relu\"},"
    "{\"type\":\"maxpool\",\"kernel\":3,\"stride\":2,\"pad\":1},"
    "{\"type\":\"conv\",\"filters\":64,\"kernel\":5},{\"type\":\"relu\"},"
    "{\"type\":\"maxpool\",\"kernel\":3,\"stride\":2,\"pad\":1},"
    "{\"type\":\"dense\",\"units\":512},{\"type\":\"relu\"},"
    "{\"type\":\"dense\",\"units\":512},{\"type\":\"relu\"},{\"type\":\"dense\",\"units\":10}]";
static const char *GRU = "[{\"type\":\"embedding\",\"vocab\":256,\"dim\":32},"
                         "{\"type\":\"gru\",\"hidden\":128},{\"type\":\"dense\",\"units\":10}]";

static const char *GRU2 = "[{\"type\":\"embedding\",\"vocab\":256,\"dim\":32},"
                          "{\"type\":\"gru\",\"hidden\":128,\"num_layers\":2},"
                          "{\"type\":\"dense\",\"units\":10}]";

static db_arch base, out;
static db_err err;

static void load(const char *json)
{
    cJSON *j = cJSON_Parse(json);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(db_arch_from_json(&base, j, "test", &err), 0);
    cJSON_Delete(j);
}

/* The dropout layers of out as "site:mode:rate@position" strings, joined. */
static const char *sites(void)
{
    static char buf[1024];
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < out.n; i++) {
        const db_layer *l = &out.layers[i];
        if (l->type != DB_LAYER_DROPOUT)
            continue;
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s:%s:%g@%zu",
                                 used ? " " : "", db_site_name(l->site),
                                 db_dropout_mode_name(l->mode), l->rate, i);
    }
    return buf;
}

static int apply(const char *spec, const char *rates)
{
    double r[64];
    int n = 0;
    if (rates) {
        n = db_parse_rates(rates, r, 64, &err);
        if (n < 0)
            return -1;
    }
    return db_strategy_apply(&out, &base, spec, n ? r : NULL, (size_t)n, &err);
}

START_TEST(suite_strategies_exist)
{
    const char *names[] = { "none", "input", "dense", "conv", "pool", "spatial", "hinton",
                            "srivastava", "embedding", "token", "output", "spatial-pool",
                            "interlayer", "variational", "recurrent",
                            /* issue 21 (docs/MODERN.md) */
                            "bn-before", "bn-after-last", "gaussian", "dropconnect",
                            "dropblock" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ck_assert_msg(db_strategy_find(names[i]) != NULL, "missing %s", names[i]);
    ck_assert_ptr_null(db_strategy_find("dropout-everywhere"));
}
END_TEST

START_TEST(hinton_on_mlp)
{
    load(MLP);
    ck_assert_int_eq(apply("hinton", NULL), 0);
    /* input before layer 0; after each hidden ReLU; never after the logits */
    ck_assert_str_eq(sites(), "input:element:0.2@0 dense:element:0.5@3 dense:element:0.5@6");
    ck_assert_int_eq(out.n, base.n + 3);
    ck_assert_int_eq(out.layers[out.n - 1].type, DB_LAYER_DENSE);
    ck_assert_int_eq(apply("none", NULL), 0);
    ck_assert_int_eq(out.n, base.n);
    ck_assert_str_eq(sites(), "");
}
END_TEST

START_TEST(conv_strategies_on_lenet)
{
    load(LENET);
    ck_assert_int_eq(apply("conv", NULL), 0);
    ck_assert_str_eq(sites(), "conv:element:0.1@2 conv:element:0.1@6");
    ck_assert_int_eq(out.layers[3].type, DB_LAYER_MAXPOOL); /* before pooling */
    ck_assert_int_eq(apply("spatial", NULL), 0);
    ck_assert_str_eq(sites(), "conv:channel:0.1@2 conv:channel:0.1@6");
    ck_assert_int_eq(apply("pool", NULL), 0);
    ck_assert_str_eq(sites(), "pool:element:0.25@3 pool:element:0.25@7");
    ck_assert_int_eq(apply("srivastava", NULL), 0);
    ck_assert_str_eq(sites(), "input:element:0.1@0 pool:element:0.25@4 "
                              "pool:element:0.25@8 dense:element:0.5@11");
    ck_assert_int_eq(apply("conv+pool", NULL), 0);
    ck_assert_str_eq(sites(), "conv:element:0.1@2 pool:element:0.25@4 "
                              "conv:element:0.1@7 pool:element:0.25@9");
}
END_TEST

START_TEST(srivastava_on_cifar_matches_paper_retention)
{
    load(CIFAR);
    ck_assert_int_eq(apply("srivastava", NULL), 0);
    /* retention (0.9, 0.75, 0.75, 0.5, 0.5, 0.5) */
    double want[] = { 0.1, 0.25, 0.25, 0.5, 0.5, 0.5 };
    size_t k = 0;
    for (size_t i = 0; i < out.n; i++)
        if (out.layers[i].type == DB_LAYER_DROPOUT) {
            ck_assert_uint_lt(k, 6);
            ck_assert_double_eq_tol(out.layers[i].rate, want[k], 1e-12);
            k++;
        }
    ck_assert_uint_eq(k, 6);
}
END_TEST

START_TEST(text_strategies_on_gru)
{
    load(GRU);
    ck_assert_int_eq(apply("embedding", NULL), 0);
    ck_assert_str_eq(sites(), "embedding:element:0.25@1");
    ck_assert_int_eq(apply("token", NULL), 0);
    ck_assert_str_eq(sites(), "embedding:position:0.1@1");
    ck_assert_int_eq(apply("output", NULL), 0);
    ck_assert_str_eq(sites(), "output:element:0.5@2");
    ck_assert_int_eq(apply("embedding+output", NULL), 0);
    ck_assert_str_eq(sites(), "embedding:element:0.25@1 output:element:0.5@3");
}
END_TEST

/* Issue 16: a stack expands to GRU layers; the interlayer site sits
 * between them (never after the top one), the recurrent site right after
 * each GRU, before its output site. */
START_TEST(stack_strategies_on_gru2)
{
    load(GRU2);
    ck_assert_uint_eq(base.n, 4);
    ck_assert_int_eq(base.layers[1].type, DB_LAYER_GRU);
    ck_assert_int_eq(base.layers[2].type, DB_LAYER_GRU);
    ck_assert_int_eq(base.layers[1].seq, 1);
    ck_assert_int_eq(base.layers[2].seq, 0);
    ck_assert_int_eq(apply("interlayer", NULL), 0);
    ck_assert_str_eq(sites(), "interlayer:element:0.25@2");
    ck_assert_int_eq(apply("embedding+interlayer", NULL), 0);
    ck_assert_str_eq(sites(), "embedding:element:0.25@1 interlayer:element:0.25@3");
    ck_assert_int_eq(apply("output", NULL), 0);
    ck_assert_str_eq(sites(), "output:element:0.5@3");
    ck_assert_int_eq(apply("variational", NULL), 0);
    ck_assert_str_eq(sites(), "embedding:locked:0.25@1 interlayer:locked:0.25@3");
    ck_assert_int_eq(apply("recurrent", NULL), 0);
    ck_assert_str_eq(sites(), "recurrent:recurrent:0.25@2 recurrent:recurrent:0.25@4");
    ck_assert_int_eq(apply("variational+recurrent+output", "0.1,0.2,0.3,0.4,0.5"), 0);
    ck_assert_str_eq(sites(), "embedding:locked:0.1@1 recurrent:recurrent:0.2@3 "
                              "interlayer:locked:0.3@4 recurrent:recurrent:0.4@6 "
                              "output:element:0.5@7");
    /* a single GRU: no interlayer site */
    load(GRU);
    ck_assert_int_eq(apply("interlayer", NULL), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "no interlayer site"));
    ck_assert_int_eq(apply("variational", NULL), 0); /* its embedding part places */
    ck_assert_str_eq(sites(), "embedding:locked:0.25@1");
    ck_assert_int_eq(apply("recurrent", NULL), 0);
    ck_assert_str_eq(sites(), "recurrent:recurrent:0.25@2");
    /* num_layers 3: two interlayer sites */
    load("[{\"type\":\"embedding\",\"vocab\":256,\"dim\":8},"
         "{\"type\":\"gru\",\"hidden\":16,\"num_layers\":3},{\"type\":\"dense\",\"units\":10}]");
    ck_assert_int_eq(apply("interlayer", NULL), 0);
    ck_assert_str_eq(sites(), "interlayer:element:0.25@2 interlayer:element:0.25@4");
}
END_TEST

/* spatial-pool: the channel-wise dropout of spatial, at the pool sites */
START_TEST(spatial_pool_on_lenet)
{
    load(LENET);
    ck_assert_int_eq(apply("spatial-pool", NULL), 0);
    ck_assert_str_eq(sites(), "pool:channel:0.1@3 pool:channel:0.1@7");
    ck_assert_int_eq(apply("spatial", NULL), 0);
    ck_assert_str_eq(sites(), "conv:channel:0.1@2 conv:channel:0.1@6");
    load(MLP);
    ck_assert_int_eq(apply("spatial-pool", NULL), -1);
}
END_TEST

START_TEST(mismatch_is_an_error)
{
    load(MLP);
    ck_assert_int_eq(apply("conv", NULL), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "places no dropout"));
    ck_assert_int_eq(apply("dense+pool", NULL), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "\"pool\""));
    load(GRU);
    ck_assert_int_eq(apply("input", NULL), -1); /* tokens are not pixels */
    ck_assert_int_eq(apply("dense", NULL), -1);
}
END_TEST

START_TEST(bad_names)
{
    load(MLP);
    ck_assert_int_eq(apply("dropall", NULL), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown strategy \"dropall\""));
    ck_assert_int_eq(apply("dense+dense", NULL), -1);
    ck_assert_int_eq(apply("none+dense", NULL), -1);
    ck_assert_int_eq(apply("+dense", NULL), -1);
    ck_assert_int_eq(apply("dense+", NULL), -1);
    ck_assert_int_eq(apply("", NULL), -1);
}
END_TEST

START_TEST(rate_overrides)
{
    load(MLP);
    ck_assert_int_eq(apply("hinton", "0.3"), 0);
    ck_assert_str_eq(sites(), "input:element:0.3@0 dense:element:0.3@3 dense:element:0.3@6");
    ck_assert_int_eq(apply("hinton", "0.1,0.2,0.4"), 0);
    ck_assert_str_eq(sites(), "input:element:0.1@0 dense:element:0.2@3 dense:element:0.4@6");
    ck_assert_int_eq(apply("hinton", "0.1,0.2"), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "places 3 dropout sites"));
    ck_assert_int_eq(apply("none", "0.3"), -1);
    ck_assert_int_eq(apply("hinton", "1.0"), -1);
    ck_assert_int_eq(apply("hinton", "-0.1"), -1);
    ck_assert_int_eq(apply("hinton", "nan"), -1);
    ck_assert_int_eq(apply("hinton", "0.5x"), -1);
    ck_assert_int_eq(apply("hinton", "0.1,,0.2"), -1);
    ck_assert_int_eq(apply("hinton", "0"), 0); /* rate 0 is allowed */
}
END_TEST

START_TEST(user_dropout_kept)
{
    load("[{\"type\":\"dense\",\"units\":8},{\"type\":\"relu\"},"
         "{\"type\":\"dropout\",\"rate\":0.3},{\"type\":\"dense\",\"units\":10}]");
    ck_assert_int_eq(apply("dense", "0.1"), 0);
    ck_assert_str_eq(sites(), "dense:element:0.1@2 user:element:0.3@3");
}
END_TEST

START_TEST(arch_parse_errors)
{
    const char *bad[] = {
        "{}", "[]", "[{\"type\":\"conv2\"}]", "[{\"type\":\"dense\"}]",
        "[{\"type\":\"dense\",\"units\":0}]", "[{\"type\":\"dense\",\"units\":1.5}]",
        "[{\"type\":\"dense\",\"units\":10,\"colour\":1}]",
        "[{\"type\":\"dropout\",\"rate\":1}]", "[{\"type\":\"dropout\",\"rate\":0.1,"
                                               "\"mode\":\"pixel\"}]",
        "[3]",
        "[{\"type\":\"gru\",\"hidden\":8,\"num_layers\":0}]",
        "[{\"type\":\"gru\",\"hidden\":8,\"num_layers\":17}]",
        "[{\"type\":\"gru\",\"hidden\":8,\"sequence\":1}]",
        "[{\"type\":\"dropout\",\"rate\":0.1,\"mode\":\"variational\"}]",
        "[{\"type\":\"dropout\",\"rate\":0.1,\"site\":\"between\"}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *j = cJSON_Parse(bad[i]);
        ck_assert_ptr_nonnull(j);
        ck_assert_msg(db_arch_from_json(&base, j, "cfg.json", &err) == -1, "accepted %s",
                      bad[i]);
        ck_assert_ptr_nonnull(strstr(err.msg, "cfg.json"));
        cJSON_Delete(j);
    }
}
END_TEST

START_TEST(arch_json_round_trip)
{
    load(CIFAR);
    ck_assert_int_eq(apply("srivastava", NULL), 0);
    cJSON *j = db_arch_to_json(&out);
    ck_assert_ptr_nonnull(j);
    db_arch back;
    ck_assert_int_eq(db_arch_from_json(&back, j, "rt", &err), 0);
    cJSON_Delete(j);
    ck_assert_uint_eq(back.n, out.n);
    ck_assert_int_eq(memcmp(&back, &out, sizeof back), 0);
    /* a stack with every new site and mode; "sequence" only where true, so
     * a single GRU's canonical form is what it was */
    load(GRU2);
    ck_assert_int_eq(apply("variational+recurrent+interlayer+output", NULL), 0);
    j = db_arch_to_json(&out);
    ck_assert_ptr_nonnull(j);
    char *txt = cJSON_PrintUnformatted(j);
    ck_assert_ptr_nonnull(strstr(txt, "{\"type\":\"gru\",\"hidden\":128,\"sequence\":true}"));
    ck_assert_ptr_nonnull(strstr(txt, "{\"type\":\"gru\",\"hidden\":128},"));
    ck_assert_ptr_null(strstr(txt, "num_layers"));
    free(txt);
    ck_assert_int_eq(db_arch_from_json(&back, j, "rt", &err), 0);
    cJSON_Delete(j);
    ck_assert_uint_eq(back.n, out.n);
    ck_assert_int_eq(memcmp(back.layers, out.layers, out.n * sizeof out.layers[0]), 0);
}
END_TEST


/* The built-in registry is the JSON text read by db_strategy_define: every
 * entry came from it, and reading it again defines nothing new. */
START_TEST(builtin_is_json)
{
    size_t n = 0;
    const db_strategy *tab = db_strategies(&n);
    ck_assert_uint_eq(n, 20);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(tab[i].source, "built-in");
    cJSON *j = cJSON_Parse(db_strategy_builtin_json);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(db_strategy_define(j, "built-in", &err), 0);
    cJSON_Delete(j);
    size_t n2 = 0;
    db_strategies(&n2);
    ck_assert_uint_eq(n2, n);
    const db_strategy *sv = db_strategy_find("srivastava");
    ck_assert_uint_eq(sv->nrules, 4);
    ck_assert_int_eq(sv->rules[1].at, DB_AT_LIST);
    ck_assert_int_eq(sv->rules[2].at, DB_AT_FROM);
    ck_assert_uint_eq(sv->rules[2].from, 3);
}
END_TEST

static void define_text(const char *text, const char *source, int want)
{
    cJSON *j = cJSON_Parse(text);
    ck_assert_ptr_nonnull(j);
    int rc = db_strategy_define(j, source, &err);
    cJSON_Delete(j);
    ck_assert_msg(rc == want, "define %s: rc %d (%s)", text, rc, err.msg);
}

/* docs/examples/strategies.json (the example docs/STRATEGIES.md shows):
 * first, last, from and index lists, on CIFAR's three pools. */
START_TEST(example_file_strategies)
{
    const char *src = getenv("DROPBENCH_SRC");
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/examples/strategies.json", src ? src : ".");
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "open %s", path);
    char text[8192];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    define_text(text, path, 0);
    define_text(text, path, 0); /* the same again: fine */
    ck_assert_str_eq(db_strategy_find("late-pool")->source, path);
    load(CIFAR);
    ck_assert_int_eq(apply("late-pool", NULL), 0);
    ck_assert_str_eq(sites(), "pool:element:0.3@9");
    ck_assert_int_eq(apply("pool-1-3", NULL), 0);
    ck_assert_str_eq(sites(), "pool:channel:0.2@3 pool:channel:0.2@10");
    ck_assert_int_eq(apply("first-dense-channelish", NULL), 0);
    ck_assert_str_eq(sites(), "input:element:0.1@0 dense:element:0.4@14");
    /* combined with a built-in, in the usual order */
    ck_assert_int_eq(apply("conv+late-pool", NULL), 0);
    ck_assert_str_eq(sites(),
                     "conv:element:0.1@2 conv:element:0.1@6 conv:element:0.1@10 "
                     "pool:element:0.3@12");
    load(MLP);
    ck_assert_int_eq(apply("late-pool", NULL), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "places no dropout"));
}
END_TEST

START_TEST(define_errors)
{
    struct { const char *text, *msg; } bad[] = {
        { "{\"name\": \"x1\", \"rules\": [{\"site\": \"pol\", \"rate\": 0.1}]}", "\"site\" must be" },
        { "{\"name\": \"x1\", \"rules\": [{\"site\": \"pool\", \"rate\": 1.5}]}", "rate" },
        { "{\"name\": \"x1\", \"rules\": [{\"site\": \"pool\"}]}", "\"rate\"" },
        { "{\"name\": \"x1\", \"rules\": [{\"site\": \"pool\", \"rate\": 0.1, \"at\": \"middle\"}]}", "\"at\"" },
        { "{\"name\": \"x1\", \"rules\": [{\"site\": \"pool\", \"rate\": 0.1, \"at\": [0]}]}", ">= 1" },
        { "{\"name\": \"x1\", \"rules\": [{\"site\": \"pool\", \"rate\": 0.1, \"at\": [1], \"from\": 2}]}", "not both" },
        { "{\"name\": \"x1\", \"rules\": [{\"site\": \"pool\", \"rate\": 0.1, \"mode\": \"recurrent\"}]}", "recurrent" },
        { "{\"name\": \"x1\", \"rules\": [{\"site\": \"pool\", \"rate\": 0.1, \"sight\": 1}]}", "unknown key \"sight\"" },
        { "{\"name\": \"Bad Name\", \"rules\": []}", "\"name\"" },
        { "{\"name\": \"x1\"}", "\"rules\"" },
        { "{\"name\": \"pool\", \"rules\": [{\"site\": \"pool\", \"rate\": 0.3}]}", "already defined differently (built-in)" },
        { "[{\"name\": \"x2\", \"rules\": []}, {\"name\": \"x2\", \"rules\": []}]", "defined twice" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        define_text(bad[i].text, "t.json", -1);
        ck_assert_msg(strstr(err.msg, bad[i].msg) != NULL, "case %zu: %s", i, err.msg);
    }
    ck_assert_ptr_null(db_strategy_find("x1"));
    ck_assert_ptr_null(db_strategy_find("x2"));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("strategy");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, suite_strategies_exist);
    tcase_add_test(tc, hinton_on_mlp);
    tcase_add_test(tc, conv_strategies_on_lenet);
    tcase_add_test(tc, srivastava_on_cifar_matches_paper_retention);
    tcase_add_test(tc, text_strategies_on_gru);
    tcase_add_test(tc, stack_strategies_on_gru2);
    tcase_add_test(tc, spatial_pool_on_lenet);
    tcase_add_test(tc, mismatch_is_an_error);
    tcase_add_test(tc, bad_names);
    tcase_add_test(tc, rate_overrides);
    tcase_add_test(tc, user_dropout_kept);
    tcase_add_test(tc, arch_parse_errors);
    tcase_add_test(tc, arch_json_round_trip);
    tcase_add_test(tc, builtin_is_json);
    tcase_add_test(tc, example_file_strategies);
    tcase_add_test(tc, define_errors);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
