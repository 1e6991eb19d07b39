/* test_presets.c - every suite task's preset builds the net SUITE v1
 * (revision 2) describes: its parameter count and the output shape of each
 * layer, as `dropbench show` prints them to a user.  The figures are worked
 * out by hand from the suite's table (docs/SUITE.md), not read from the
 * binary: a preset that drifts from the suite fails here.
 *
 * Drives the real binary ($DROPBENCH_BIN, set by make test). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cJSON.h>

#include "check_main.h"

typedef struct {
    const char *task;
    const char *params;     /* the "parameters:" figure */
    const char *shapes[24]; /* "layer output" per row, in order; NULL ends */
} preset;

static const preset presets[] = {
    /* 784*800+800 + 800*800+800 + 800*10+10 */
    { "mnist-mlp", "1276810",
      { "dense 800", "relu 800", "dense 800", "relu 800", "dense 10", NULL } },
    /* 1*25*32+32 + 32*25*64+64 + 64*7*7*1024+1024 + 1024*10+10 */
    { "mnist-lenet", "3274634",
      { "conv 32x28x28", "relu 32x28x28", "maxpool 32x14x14", "conv 64x14x14",
        "relu 64x14x14", "maxpool 64x7x7", "dense 1024", "relu 1024", "dense 10", NULL } },
    { "fashion-lenet", "3274634",
      { "conv 32x28x28", "relu 32x28x28", "maxpool 32x14x14", "conv 64x14x14",
        "relu 64x14x14", "maxpool 64x7x7", "dense 1024", "relu 1024", "dense 10", NULL } },
    /* 3*25*32+32 + 32*25*32+32 + 32*25*64+64 + 1024*512+512 + 512*512+512 +
     * 512*10+10: every conv padded by 2, pools 3x3/2 pad 1 halve the maps */
    { "cifar-cnn", "871914",
      { "conv 32x32x32", "relu 32x32x32", "maxpool 32x16x16", "conv 32x16x16",
        "relu 32x16x16", "maxpool 32x8x8", "conv 64x8x8", "relu 64x8x8",
        "maxpool 64x4x4", "dense 512", "relu 512", "dense 512", "relu 512", "dense 10",
        NULL } },
    /* not in suite v1 (issue 21, docs/MODERN.md): cifar-cnn with a
     * batchnorm after each conv and hidden dense layer, before its ReLU;
     * cifar-cnn's 871914 plus a scale and a shift per channel or unit:
     * 2*(32 + 32 + 64 + 512 + 512) = 2304 */
    { "cifar-bn", "874218",
      { "conv 32x32x32", "batchnorm 32x32x32", "relu 32x32x32", "maxpool 32x16x16",
        "conv 32x16x16", "batchnorm 32x16x16", "relu 32x16x16", "maxpool 32x8x8",
        "conv 64x8x8", "batchnorm 64x8x8", "relu 64x8x8", "maxpool 64x4x4", "dense 512",
        "batchnorm 512", "relu 512", "dense 512", "batchnorm 512", "relu 512", "dense 10",
        NULL } },
    /* 256*32 + 3*(32*128 + 128*128 + 2*128) + 128*10+10 */
    { "wordlang-gru", "71690", { "embedding 16x32", "gru 128", "dense 10", NULL } },
    /* not in suite v1 (issue 16, docs/PLACEMENTS.md): wordlang-gru with two
     * GRU layers of 128.  256*32 + 3*(32*128 + 128*128 + 2*128) +
     * 3*(128*128 + 128*128 + 2*128) + 128*10+10 */
    { "wordlang-gru2", "170762",
      { "embedding 16x32", "gru 16x128", "gru 128", "dense 10", NULL } },
};

/* `dropbench show --task T [extra]` into buf; returns the exit status. */
static int show_x(const char *task, const char *extra, char *buf, size_t n)
{
    const char *bin = getenv("DROPBENCH_BIN");
    ck_assert_msg(bin != NULL, "DROPBENCH_BIN not set (run through make test)");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' show --task %s %s 2>&1", bin, task, extra);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t len = fread(buf, 1, n - 1, p);
    buf[len] = '\0';
    return pclose(p);
}

static int show(const char *task, char *buf, size_t n)
{
    return show_x(task, "", buf, n);
}

START_TEST(suite_presets_match_the_suite)
{
    const preset *ps = &presets[_i];
    static char out[16384];
    ck_assert_int_eq(show(ps->task, out, sizeof out), 0);

    char want[64];
    snprintf(want, sizeof want, "parameters: %s;", ps->params);
    ck_assert_msg(strstr(out, want) != NULL, "%s: no \"%s\" in:\n%s", ps->task, want, out);

    /* Layer rows: "  #  type  settings...  output  params"; the output is the
     * second-to-last field. */
    size_t k = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        int idx;
        char type[32];
        if (sscanf(line, " %d %31s", &idx, type) != 2)
            continue;
        char *f[32];
        size_t nf = 0;
        for (char *t = line; nf < 32;) {
            while (*t == ' ')
                t++;
            if (!*t)
                break;
            f[nf++] = t;
            while (*t && *t != ' ')
                t++;
        }
        ck_assert_msg(nf >= 4, "%s: short row \"%s\"", ps->task, line);
        char got[64];
        int olen = (int)strcspn(f[nf - 2], " ");
        snprintf(got, sizeof got, "%s %.*s", type, olen, f[nf - 2]);
        ck_assert_msg(ps->shapes[k] != NULL, "%s: more layers than the suite's (%s)", ps->task,
                      got);
        ck_assert_msg(!strcmp(got, ps->shapes[k]), "%s layer %zu: \"%s\", the suite says \"%s\"",
                      ps->task, k, got, ps->shapes[k]);
        k++;
    }
    ck_assert_msg(ps->shapes[k] == NULL, "%s: %zu layers shown, the suite has more", ps->task, k);
}
END_TEST

/* show --json: the resolved run as a result file's config records it (what
 * scripts/crosscheck-pytorch builds its nets from). */
START_TEST(show_json_is_the_resolved_run)
{
    static char out[65536];
    ck_assert_int_eq(show_x("cifar-cnn", "--strategy spatial --seed 3 --json", out, sizeof out),
                     0);
    cJSON *o = cJSON_Parse(out);
    ck_assert_msg(o != NULL, "not JSON:\n%s", out);
    ck_assert_double_eq(cJSON_GetObjectItem(o, "parameters")->valuedouble, 871914);
    ck_assert_int_eq((int)strlen(cJSON_GetObjectItem(o, "run_id")->valuestring), 16);
    const cJSON *cfg = cJSON_GetObjectItem(o, "config");
    ck_assert_str_eq(cJSON_GetObjectItem(cfg, "strategy")->valuestring, "spatial");
    ck_assert_double_eq(cJSON_GetObjectItem(cfg, "seed")->valuedouble, 3);
    /* three conv sites, channel mode, 0.1 */
    const cJSON *sites = cJSON_GetObjectItem(cfg, "dropout_sites");
    ck_assert_int_eq(cJSON_GetArraySize(sites), 3);
    const cJSON *s0 = cJSON_GetArrayItem(sites, 0);
    ck_assert_str_eq(cJSON_GetObjectItem(s0, "mode")->valuestring, "channel");
    ck_assert_double_eq_tol(cJSON_GetObjectItem(s0, "rate")->valuedouble, 0.1, 1e-12);
    cJSON_Delete(o);
    /* only show takes it */
    const char *bin = getenv("DROPBENCH_BIN");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' run --task mnist-mlp --json >/dev/null 2>&1", bin);
    int st = system(cmd);
    ck_assert_int_eq(WEXITSTATUS(st), 2);
}
END_TEST

/* The "must show": two GRU layers and both sites. */
START_TEST(show_gru2_embedding_interlayer)
{
    static char out[16384];
    ck_assert_int_eq(show_x("wordlang-gru2", "--strategy embedding+interlayer", out,
                            sizeof out), 0);
    const char *rows[] = { "embedding  256 x 32", "dropout    rate 0.25 element, site embedding (#0)",
                           "gru        hidden 128, state sequence",
                           "dropout    rate 0.25 element, site interlayer (#1)",
                           "gru        hidden 128, final state", "dense      10 units" };
    const char *at = out;
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        const char *f = strstr(at, rows[k]);
        ck_assert_msg(f != NULL, "no \"%s\" (in order) in:\n%s", rows[k], out);
        at = f + strlen(rows[k]);
    }
    ck_assert_ptr_nonnull(strstr(out, "parameters: 170762; dropout sites: 2"));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("presets");
    TCase *tc = tcase_create("suite");
    tcase_add_loop_test(tc, suite_presets_match_the_suite, 0,
                        (int)(sizeof presets / sizeof presets[0]));
    tcase_add_test(tc, show_json_is_the_resolved_run);
    tcase_add_test(tc, show_gru2_embedding_interlayer);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
