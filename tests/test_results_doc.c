/* test_results_doc.c - RESULTS.md is generated, not written by hand: the
 * command behind `make results` (scripts/results) regenerates a small
 * committed fixture (tests/fixtures/report: dropbench and PyTorch result
 * files, a discussion, the expected document) byte for byte, and notices
 * when a result file no longer matches the document.
 *
 * Drives the real binary ($DROPBENCH_BIN, set by make test) and needs
 * gnuplot (the document shows the plots). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "check_main.h"
#include "test_util.h"

#define FIX "tests/fixtures/report"

static int sh(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(fixture_regenerates_byte_for_byte)
{
    ck_assert_msg(getenv("DROPBENCH_BIN") != NULL, "DROPBENCH_BIN not set (run through make test)");
    ck_assert_int_eq(sh("scripts/results --check --out " FIX "/RESULTS.md --discussion " FIX
                        "/DISCUSSION.md " FIX "/results >/dev/null"),
                     0);
}
END_TEST

/* The same check fails when a result changes (one final error edited in a
 * copy of the fixture), and when the discussion changes. */
START_TEST(check_notices_a_changed_result)
{
    char dir[] = "/tmp/db-resdoc-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp -r " FIX "/results " FIX "/RESULTS.md " FIX "/DISCUSSION.md %s/",
             dir);
    ck_assert_int_eq(sh(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "scripts/results --check --out %s/RESULTS.md --discussion %s/DISCUSSION.md "
             "%s/results >/dev/null 2>&1",
             dir, dir, dir);
    ck_assert_int_eq(sh(cmd), 0); /* the copy still matches */
    char edit[2048];
    snprintf(edit, sizeof edit,
             "sed -i 's/\"test_error_pct\":[[:space:]]*\\([0-9.]*\\),$/\"test_error_pct\": 42.5,/' "
             "%s/results/mnist-mlp.hinton.s1.aaa66cc081fd637b.json",
             dir);
    ck_assert_int_eq(sh(edit), 0);
    ck_assert_int_eq(sh(cmd), 1);
    snprintf(edit, sizeof edit, "cp " FIX "/results/mnist-mlp.hinton.s1.aaa66cc081fd637b.json "
                                "%s/results/ && echo extra >> %s/DISCUSSION.md", dir, dir);
    ck_assert_int_eq(sh(edit), 0);
    ck_assert_int_eq(sh(cmd), 1);
    rm_tree(dir);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("results_doc");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fixture_regenerates_byte_for_byte);
    tcase_add_test(tc, check_notices_a_changed_result);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
