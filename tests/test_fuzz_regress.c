/* test_fuzz_regress.c - replays every committed fuzz input (seed corpora in
 * tests/fuzz/corpus/<target>/ and the inputs of fixed findings in
 * tests/fuzz/regress/<target>/) through the fuzz targets' own entry functions
 * in the normal build, so `make test` (and `make asan`) fail if a fixed
 * crash, leak, hang or broken invariant comes back.  The targets abort on a
 * broken invariant; Check runs each target in its own process and reports the
 * crash.  Inputs are found under $DROPBENCH_SRC (set by make test), else ".". */
#define DB_FUZZ_NO_MAIN 1

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"

#include "fuzz/fuzz_checkpoint.c"
#include "fuzz/fuzz_cifar.c"
#include "fuzz/fuzz_config.c"
#include "fuzz/fuzz_idx.c"
#include "fuzz/fuzz_idx_gz.c"
#include "fuzz/fuzz_png.c"
#include "fuzz/fuzz_result.c"
#include "fuzz/fuzz_sweep.c"
#include "fuzz/fuzz_wordlang.c"

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs one() on every file of src/tests/fuzz/<kind>/<target>/, in name
 * order; returns how many there were. */
static size_t replay_dir(const char *kind, const char *target,
                         int (*one)(const uint8_t *, size_t))
{
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/%s/%s", fuzz_src(), kind, target);
    DIR *d = opendir(dir);
    if (!d)
        return 0;   /* no regression inputs (yet) for this target */
    char *names[4096];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 4096)
        if (de->d_name[0] != '.')
            names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp_name);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        ck_assert_msg(f != NULL, "cannot open %s", path);
        static uint8_t buf[1 << 20];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        /* an exact-size copy, so ASan sees reads past the input's end */
        uint8_t *in = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(in);
        memcpy(in, buf, len);
        one(in, len);
        free(in);
        free(names[i]);
    }
    return n;
}

static void replay(const char *target, int (*one)(const uint8_t *, size_t))
{
    size_t nc = replay_dir("corpus", target, one);
    size_t nr = replay_dir("regress", target, one);
    ck_assert_msg(nc > 0, "no seed corpus for %s under %s/tests/fuzz/corpus "
                  "(set DROPBENCH_SRC)", target, fuzz_src());
    printf("%s: %zu corpus + %zu regression inputs replayed\n", target, nc, nr);
}

START_TEST(replay_idx) { replay("fuzz_idx", fuzz_idx_one); }
END_TEST
START_TEST(replay_idx_gz) { replay("fuzz_idx_gz", fuzz_idx_gz_one); }
END_TEST
START_TEST(replay_cifar) { replay("fuzz_cifar", fuzz_cifar_one); }
END_TEST
START_TEST(replay_wordlang) { replay("fuzz_wordlang", fuzz_wordlang_one); }
END_TEST
START_TEST(replay_png) { replay("fuzz_png", fuzz_png_one); }
END_TEST
START_TEST(replay_config) { replay("fuzz_config", fuzz_config_one); }
END_TEST
START_TEST(replay_sweep) { replay("fuzz_sweep", fuzz_sweep_one); }
END_TEST
START_TEST(replay_result) { replay("fuzz_result", fuzz_result_one); }
END_TEST
START_TEST(replay_checkpoint) { replay("fuzz_checkpoint", fuzz_checkpoint_one); }
END_TEST

/* The seed checkpoints named valid_* are accepted, the others refused: the
 * corpus exercises both sides of the reader. */
START_TEST(checkpoint_seeds_accepted_and_refused)
{
    const char *names[] = { "valid_epoch1", "valid_epoch2", "done_all", "other_run",
                            "old_code", "order_out_of_range", "flipped_bit",
                            "other_kernels", "format1" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/tests/fuzz/corpus/fuzz_checkpoint/%s", fuzz_src(),
                 names[i]);
        FILE *f = fopen(p, "rb");
        ck_assert_msg(f != NULL, "%s", p);
        static uint8_t buf[4096];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        ck_assert_int_eq(fuzz_checkpoint_one(buf, n), i < 2 ? 0 : -1);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("fuzz_regress");
    TCase *t = tcase_create("replay");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, replay_idx);
    tcase_add_test(t, replay_idx_gz);
    tcase_add_test(t, replay_cifar);
    tcase_add_test(t, replay_wordlang);
    tcase_add_test(t, replay_png);
    tcase_add_test(t, replay_config);
    tcase_add_test(t, replay_sweep);
    tcase_add_test(t, replay_result);
    tcase_add_test(t, replay_checkpoint);
    tcase_add_test(t, checkpoint_seeds_accepted_and_refused);
    suite_add_tcase(s, t);
    return s;
}

DB_TEST_MAIN()
