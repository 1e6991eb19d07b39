/* test_data_tools.c - the converters scripts/fetch-data runs
 * (build/tools/wordlang_build, build/tools/cifar_png2bin), on small inputs
 * generated here.  Needs DROPBENCH_TOOLS (set by make test); skipped with a
 * message otherwise. */
#include <dirent.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "test_util.h"
#include "data/png_cifar.h"
#include "data/data.h"

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dropbench-test-tools.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void) { rm_tree(tmpdir); }

static void empty_tmpdir(void)
{
    empty_dir(tmpdir);
}

static const char *tools(void)
{
    return getenv("DROPBENCH_TOOLS");
}

static const char *in_tmp(const char *name)
{
    return ring_path(tmpdir, name);
}

/* Reads a whole (small) file; returns its length, -1 if absent. */
static long read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return (long)n;
}

static int run(const char *cmd)
{
    char full[4096];
    snprintf(full, sizeof full, "%s 2>/dev/null", cmd);
    int st = system(full);
    ck_assert_int_ne(st, -1);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* ---- wordlang_build ------------------------------------------------------------- */

static const char *LISTS[10] = {"american-english", "ngerman", "french",
                                "spanish", "italian", "portuguese", "dutch",
                                "danish", "polish", "swedish"};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static int by_hash(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    uint64_t hx = fnv1a(x), hy = fnv1a(y);
    if (hx != hy)
        return hx < hy ? -1 : 1;
    return strcmp(x, y);
}

/* Each list: four words of its own ("q" + letter + two letters), one of them
 * repeated with trailing blanks; words every rule rejects; "shared", kept in
 * two languages and so dropped from both.  Swedish is ISO-8859-1. */
static void make_lists(int short_list)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/dict", tmpdir);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    for (int l = 0; l < 10; l++) {
        char text[1024], ef[16] = "";
        char c = (char)('a' + l);
        if (!(short_list && l == 4))
            snprintf(ef, sizeof ef, "q%cef\n", c);
        int n = snprintf(text, sizeof text,
                         "q%cab\nq%ccd \t\r\nq%ccd\nCapital\nab\nit's\nbad-word\n"
                         "abcdefghijklmnopq\ndigit1\n\n%s%s",
                         c, c, c, l < 2 ? "shared\n" : "", ef);
        if (l == 9)   /* "åsna" in Latin-1, and a last line without newline */
            n += snprintf(text + n, sizeof text - (size_t)n, "\xe5sna\nq%cgh", c);
        else if (l == 2)   /* UTF-8 "été" */
            n += snprintf(text + n, sizeof text - (size_t)n, "\xc3\xa9t\xc3\xa9\n");
        char p[700];
        snprintf(p, sizeof p, "%s/%s", dir, LISTS[l]);
        write_file_bytes(p, text, (size_t)n);
    }
}

START_TEST(wordlang_build_rules)
{
    if (!tools()) {
        printf("SKIP wordlang_build_rules: DROPBENCH_TOOLS not set (run "
               "through make test)\n");
        return;
    }
    make_lists(0);
    ck_assert_int_eq(mkdir(in_tmp("wordlang"), 0755), 0);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s/wordlang_build' --train 2 --test 1 '%s/dict' '%s/wordlang'",
             tools(), tmpdir, tmpdir);
    ck_assert_int_eq(run(cmd), 0);

    char want_train[4096] = "", want_test[4096] = "";
    for (int l = 0; l < 10; l++) {
        char w[5][16];
        const char *p[5];
        int n = 0;
        char c = (char)('a' + l);
        snprintf(w[n++], 16, "q%cab", c);
        snprintf(w[n++], 16, "q%ccd", c);
        snprintf(w[n++], 16, "q%cef", c);
        if (l == 9) {
            snprintf(w[n++], 16, "\xc3\xa5sna");
            snprintf(w[n++], 16, "q%cgh", c);
        }
        if (l == 2)
            snprintf(w[n++], 16, "\xc3\xa9t\xc3\xa9");
        for (int i = 0; i < n; i++)
            p[i] = w[i];
        qsort(p, (size_t)n, sizeof p[0], by_hash);
        char line[64];
        for (int i = 0; i < 3; i++) {
            snprintf(line, sizeof line, "%d\t%s\n", l, p[i]);
            strcat(i < 2 ? want_train : want_test, line);
        }
    }
    char got[4096];
    long n = read_file(in_tmp("wordlang/train.tsv"), got, sizeof got);
    ck_assert_int_eq(n, (long)strlen(want_train));
    ck_assert_mem_eq(got, want_train, (size_t)n);
    n = read_file(in_tmp("wordlang/test.tsv"), got, sizeof got);
    ck_assert_int_eq(n, (long)strlen(want_test));
    ck_assert_mem_eq(got, want_test, (size_t)n);

    /* what it writes, the loader accepts */
    db_dataset d;
    db_err e = {{0}};
    ck_assert_msg(db_dataset_load(&d, "wordlang", tmpdir, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(d.train.n, 20);
    ck_assert_uint_eq(d.test.n, 10);
    db_dataset_free(&d);
}
END_TEST

/* Lists in which no word survives the filters (issue 19: wordlang_build
 * called qsort(NULL, 0, ...), which UBSan aborts on): a clean failure
 * naming a list, no output. */
START_TEST(wordlang_build_no_word_survives)
{
    if (!tools()) {
        printf("SKIP wordlang_build_no_word_survives: DROPBENCH_TOOLS not set\n");
        return;
    }
    char dir[600];
    snprintf(dir, sizeof dir, "%s/dict", tmpdir);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    for (int l = 0; l < 10; l++) {
        char p[700];
        snprintf(p, sizeof p, "%s/%s", dir, LISTS[l]);
        write_file_bytes(p, "Capital\nab\nit's\n", 17);
    }
    ck_assert_int_eq(mkdir(in_tmp("out"), 0755), 0);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s/wordlang_build' --train 2 --test 1 '%s/dict' '%s/out' 2>%s/err",
             tools(), tmpdir, tmpdir, tmpdir);
    int st = system(cmd);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    char got[4096];
    long n = read_file(in_tmp("err"), got, sizeof got - 1);
    ck_assert(n > 0);
    got[n] = '\0';
    ck_assert_msg(strstr(got, "american-english: only 0 usable words") != NULL, "%s", got);
    ck_assert_ptr_null(strstr(got, "runtime error"));
    ck_assert_int_eq(read_file(in_tmp("out/train.tsv"), got, sizeof got), -1);
}
END_TEST

START_TEST(wordlang_build_too_few)
{
    if (!tools()) {
        printf("SKIP wordlang_build_too_few: DROPBENCH_TOOLS not set\n");
        return;
    }
    make_lists(1);   /* Italian keeps only two words */
    ck_assert_int_eq(mkdir(in_tmp("out"), 0755), 0);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s/wordlang_build' --train 2 --test 1 '%s/dict' '%s/out'",
             tools(), tmpdir, tmpdir);
    ck_assert_int_eq(run(cmd), 1);
    char got[16];
    ck_assert_int_eq(read_file(in_tmp("out/train.tsv"), got, sizeof got), -1);
    snprintf(cmd, sizeof cmd, "'%s/wordlang_build' '%s/nodict' '%s/out'", tools(),
             tmpdir, tmpdir);
    ck_assert_int_eq(run(cmd), 1);
    snprintf(cmd, sizeof cmd, "'%s/wordlang_build' onlyone", tools());
    ck_assert_int_eq(run(cmd), 2);
}
END_TEST

/* ---- cifar_png2bin -------------------------------------------------------------------- */

static uint8_t pixel(size_t row, size_t i)   /* byte i of an interleaved row */
{
    return (uint8_t)((row * 53 + i * 7) & 255);
}

static void write_png(const char *path, size_t w, size_t h)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    ck_assert_ptr_nonnull(info);
    static png_byte row[3 * 2048];
    if (setjmp(png_jmpbuf(png)))
        ck_abort_msg("libpng failed writing %s", path);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (size_t r = 0; r < h; r++) {
        for (size_t i = 0; i < 3 * w; i++)
            row[i] = pixel(r, i);
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(cifar_png2bin_converts)
{
    if (!tools()) {
        printf("SKIP cifar_png2bin_converts: DROPBENCH_TOOLS not set (run "
               "through make test)\n");
        return;
    }
    write_png(in_tmp("strip.png"), 1024, 3);
    write_file_bytes(in_tmp("labels.json"), "[1, 2, 3, 4, 5]", 15);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s/cifar_png2bin' '%s' '%s' 1 3 '%s'", tools(),
             in_tmp("strip.png"), in_tmp("labels.json"), in_tmp("out.bin"));
    ck_assert_int_eq(run(cmd), 0);
    static char got[4 * 3073];
    ck_assert_int_eq(read_file(in_tmp("out.bin"), got, sizeof got), 3 * 3073);
    for (size_t r = 0; r < 3; r++) {
        const uint8_t *rec = (const uint8_t *)got + r * 3073;
        ck_assert_uint_eq(rec[0], r + 2);
        for (size_t p = 0; p < 1024; p++)
            for (size_t c = 0; c < 3; c++)
                ck_assert_uint_eq(rec[1 + c * 1024 + p], pixel(r, 3 * p + c));
    }

    /* failures leave no output behind */
    static const struct {
        const char *labels, *first, *count;
        size_t width;
    } BAD[] = {
        {"[1, 12, 3, 4]", "0", "3", 1024},   /* label out of range */
        {"[1, 2.5, 3, 4]", "0", "3", 1024},  /* not an integer */
        {"{\"a\": 1}", "0", "3", 1024},      /* not an array */
        {"[1, 2, 3, 4]", "2", "3", 1024},    /* too few labels left */
        {"[1, 2, 3, 4]", "x", "3", 1024},    /* bad FIRST */
        {"[1, 2, 3, 4]", "0", "3", 1000},    /* wrong width */
        {"[1, 2, 3, 4]", "0", "4", 1024},    /* not the expected image count */
        {"[1, 2, 3, 4]", "0", "0", 1024},    /* bad COUNT */
    };
    for (size_t k = 0; k < sizeof BAD / sizeof BAD[0]; k++) {
        write_png(in_tmp("bad.png"), BAD[k].width, 3);
        write_file_bytes(in_tmp("bad.json"), BAD[k].labels, strlen(BAD[k].labels));
        snprintf(cmd, sizeof cmd, "'%s/cifar_png2bin' '%s' '%s' %s %s '%s'", tools(),
                 in_tmp("bad.png"), in_tmp("bad.json"), BAD[k].first, BAD[k].count,
                 in_tmp("bad.bin"));
        ck_assert_msg(run(cmd) == 1, "case %zu converted", k);
        ck_assert_int_eq(read_file(in_tmp("bad.bin"), got, sizeof got), -1);
        ck_assert_int_eq(read_file(in_tmp("bad.bin.tmp"), got, sizeof got), -1);
    }
    /* not a PNG; a PNG cut short */
    write_file_bytes(in_tmp("bad.png"), "hello", 5);
    write_file_bytes(in_tmp("bad.json"), "[1, 2, 3]", 9);
    snprintf(cmd, sizeof cmd, "'%s/cifar_png2bin' '%s' '%s' 0 3 '%s'", tools(),
             in_tmp("bad.png"), in_tmp("bad.json"), in_tmp("bad.bin"));
    ck_assert_int_eq(run(cmd), 1);
    long n = read_file(in_tmp("strip.png"), got, sizeof got);
    ck_assert_int_gt(n, 100);
    write_file_bytes(in_tmp("bad.png"), got, (size_t)n / 2);
    ck_assert_int_eq(run(cmd), 1);
    ck_assert_int_eq(read_file(in_tmp("bad.bin"), got, sizeof got), -1);
    ck_assert_int_eq(read_file(in_tmp("bad.bin.tmp"), got, sizeof got), -1);

    /* the messages say what was found: the image count, and a PNG's bit
     * depth, colour type and width */
    char msg[1024];
    db_err e = {{0}};
    ck_assert_int_eq(db_png_cifar_file(in_tmp("strip.png"), in_tmp("labels.json"), 0, 10000,
                                       in_tmp("bad.bin"), &e), -1);
    ck_assert_msg(strstr(e.msg, "3 images (PNG rows), expected 10000") != NULL, "%s", e.msg);
    write_png(in_tmp("bad.png"), 1000, 3);
    ck_assert_int_eq(db_png_cifar_file(in_tmp("bad.png"), in_tmp("labels.json"), 0, 3,
                                       in_tmp("bad.bin"), &e), -1);
    snprintf(msg, sizeof msg, "%s", e.msg);
    ck_assert_msg(strstr(msg, "found 8-bit RGB, 1000 pixels wide") != NULL, "%s", msg);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("data_tools");
    TCase *t = tcase_create("tools");
    tcase_add_unchecked_fixture(t, make_tmpdir, remove_tmpdir);
    tcase_add_checked_fixture(t, empty_tmpdir, NULL);
    tcase_add_test(t, wordlang_build_rules);
    tcase_add_test(t, wordlang_build_too_few);
    tcase_add_test(t, wordlang_build_no_word_survives);
    tcase_add_test(t, cifar_png2bin_converts);
    suite_add_tcase(s, t);
    return s;
}

DB_TEST_MAIN()
