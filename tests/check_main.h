/* check_main.h - one Check suite per test program.
 *
 * A test file defines `static Suite *make_suite(void)` and ends with
 * DB_TEST_MAIN(); the program exits non-zero when any check fails, so the
 * Makefile (and CI) fail with it. */
#ifndef DB_CHECK_MAIN_H
#define DB_CHECK_MAIN_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels.h"

/* DROPBENCH_SIMD=scalar|avx2|avx512 runs the suite on that path of the
 * kernels (make test runs the kernel suites once per path); a path the
 * CPU cannot run skips the suite, saying so. */
static inline int db_test_simd(void)
{
    const char *v = getenv("DROPBENCH_SIMD");
    db_simd p;
    if (!v || !*v)
        return 0;
    if (db_simd_parse(v, &p)) {
        fprintf(stderr, "DROPBENCH_SIMD=%s: expected scalar, avx2 or avx512\n", v);
        return -1;
    }
    if (db_simd_set(p)) {
        printf("DROPBENCH_SIMD=%s: this CPU cannot run it; suite skipped\n", v);
        return 1;
    }
    printf("DROPBENCH_SIMD=%s\n", v);
    return 0;
}

#define DB_TEST_MAIN()                                                    \
    int main(void)                                                        \
    {                                                                     \
        int simd_ = db_test_simd();                                       \
        if (simd_)                                                        \
            return simd_ < 0 ? EXIT_FAILURE : EXIT_SUCCESS;               \
        SRunner *sr = srunner_create(make_suite());                       \
        srunner_run_all(sr, CK_NORMAL);                                   \
        int failed = srunner_ntests_failed(sr);                           \
        srunner_free(sr);                                                 \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;                 \
    }

#endif
