/* check_main.h - one Check suite per test program.
 *
 * A test file defines `static Suite *make_suite(void)` and ends with
 * DB_TEST_MAIN(); the program exits non-zero when any check fails, so the
 * Makefile (and CI) fail with it. */
#ifndef DB_CHECK_MAIN_H
#define DB_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define DB_TEST_MAIN()                                                    \
    int main(void)                                                        \
    {                                                                     \
        SRunner *sr = srunner_create(make_suite());                       \
        srunner_run_all(sr, CK_NORMAL);                                   \
        int failed = srunner_ntests_failed(sr);                           \
        srunner_free(sr);                                                 \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;                 \
    }

#endif
