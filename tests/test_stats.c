/* test_stats.c - t critical values, summaries and paired intervals against
 * values computed by hand. */
#include <math.h>

#include "check_main.h"
#include "report/stats.h"

START_TEST(test_t_table)
{
    ck_assert_double_eq_tol(stats_t95(1), 12.706, 1e-3);
    ck_assert_double_eq_tol(stats_t95(2), 4.303, 1e-3);
    ck_assert_double_eq_tol(stats_t95(4), 2.776, 1e-3);
    ck_assert_double_eq_tol(stats_t95(10), 2.228, 1e-3);
    ck_assert_double_eq_tol(stats_t95(30), 2.042, 1e-3);
    ck_assert_double_eq_tol(stats_t95(31), 2.0395, 2e-4); /* exact t quantiles */
    ck_assert_double_eq_tol(stats_t95(40), 2.0211, 2e-4);
    ck_assert_double_eq_tol(stats_t95(120), 1.9799, 2e-4);
    ck_assert_double_eq_tol(stats_t95(1000), 1.9623, 2e-4);
    ck_assert(stats_t95(0) == 0.0);
    for (size_t df = 1; df < 40; df++) /* decreasing towards the normal */
        ck_assert(stats_t95(df) >= stats_t95(df + 1));
}
END_TEST

START_TEST(test_summary)
{
    const double x[] = { 2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0 };
    stats_summary s;
    stats_summarize(x, 8, &s);
    ck_assert_uint_eq(s.n, 8);
    ck_assert_double_eq_tol(s.mean, 5.0, 1e-12);
    /* sum of squares 32, n-1 = 7 */
    ck_assert_double_eq_tol(s.sd, sqrt(32.0 / 7.0), 1e-12);
    stats_summarize(x, 1, &s);
    ck_assert_double_eq_tol(s.mean, 2.0, 1e-12);
    ck_assert(s.sd == 0.0);
    stats_summarize(NULL, 0, &s);
    ck_assert_uint_eq(s.n, 0);
    ck_assert(s.mean == 0.0);
}
END_TEST

START_TEST(test_ci_hand)
{
    /* diffs {1,2,3}: mean 2, sd 1, t(2) = 4.303, half = 4.303/sqrt(3) */
    const double d[] = { 1.0, 2.0, 3.0 };
    stats_ci ci;
    stats_mean_ci(d, 3, &ci);
    ck_assert(ci.valid);
    ck_assert_double_eq_tol(ci.mean, 2.0, 1e-12);
    ck_assert_double_eq_tol(ci.sd, 1.0, 1e-12);
    ck_assert_double_eq_tol(ci.half, 2.484, 1e-3);
    ck_assert_double_eq_tol(ci.lo, -0.484, 1e-3);
    ck_assert_double_eq_tol(ci.hi, 4.484, 1e-3);
    ck_assert(!ci.significant); /* the interval contains 0 */

    /* {-1.0,-1.1,-0.9}: mean -1, sd 0.1, half 0.2484: excludes 0 */
    const double e[] = { -1.0, -1.1, -0.9 };
    stats_mean_ci(e, 3, &ci);
    ck_assert_double_eq_tol(ci.mean, -1.0, 1e-12);
    ck_assert_double_eq_tol(ci.sd, 0.1, 1e-12);
    ck_assert_double_eq_tol(ci.half, 0.2484, 1e-4);
    ck_assert(ci.significant);

    /* five seeds {0.5,0.7,0.2,0.4,0.2}: mean 0.4, ss 0.18, sd sqrt(0.045),
     * t(4) = 2.776 */
    const double f[] = { 0.5, 0.7, 0.2, 0.4, 0.2 };
    stats_mean_ci(f, 5, &ci);
    ck_assert_double_eq_tol(ci.mean, 0.4, 1e-12);
    ck_assert_double_eq_tol(ci.sd, sqrt(0.045), 1e-12);
    ck_assert_double_eq_tol(ci.half, 2.776445 * sqrt(0.045) / sqrt(5.0), 1e-6);
    ck_assert(ci.significant);
}
END_TEST

START_TEST(test_ci_small_n)
{
    const double d[] = { 1.5 };
    stats_ci ci;
    stats_mean_ci(d, 1, &ci);
    ck_assert(!ci.valid);
    ck_assert(!ci.significant);
    ck_assert_uint_eq(ci.n, 1);
    ck_assert_double_eq_tol(ci.mean, 1.5, 1e-12);
    stats_mean_ci(NULL, 0, &ci);
    ck_assert(!ci.valid);
    ck_assert_uint_eq(ci.n, 0);
    /* identical diffs: sd 0, a zero-width interval away from 0 */
    const double z[] = { 0.3, 0.3 };
    stats_mean_ci(z, 2, &ci);
    ck_assert(ci.valid);
    ck_assert(ci.half == 0.0);
    ck_assert(ci.significant);
}
END_TEST

START_TEST(test_paired)
{
    const double a[] = { 1.0, 0.5, 0.0 }, b[] = { 2.0, 2.5, 3.0 };
    double d[3];
    stats_ci ci;
    stats_paired_ci(a, b, 3, d, &ci);
    ck_assert_double_eq_tol(d[0], -1.0, 1e-12);
    ck_assert_double_eq_tol(d[2], -3.0, 1e-12);
    ck_assert_double_eq_tol(ci.mean, -2.0, 1e-12);
    ck_assert_double_eq_tol(ci.lo, -4.484, 1e-3);
    ck_assert_double_eq_tol(ci.hi, 0.484, 1e-3);
    ck_assert(!ci.significant);
}
END_TEST

/* Welch, worked by hand:
 *   a = {10,12,14,16}: mean 13, var 20/3;  b = {1,2,3,4}: mean 2.5, var 5/3
 *   va = 5/3, vb = 5/12, se^2 = 25/12, df = (25/12)^2 / ((5/3)^2/3 + (5/12)^2/3)
 *      = 4.4118 -> 4, t = 2.776445, half = 2.776445 * 1.443376 = 4.007454
 *   a = {1,2,3} (mean 2, sd 1), b = {2,4} (mean 3, sd sqrt 2):
 *   se^2 = 1/3 + 1 = 4/3, df = (16/9) / ((1/9)/2 + 1) = 1.684 -> 1,
 *   half = 12.706205 * 1.154701 = 14.671862 */
START_TEST(test_welch)
{
    const double a[] = { 10, 12, 14, 16 }, b[] = { 1, 2, 3, 4 };
    stats_summary sa, sb;
    stats_ci ci;
    stats_summarize(a, 4, &sa);
    stats_summarize(b, 4, &sb);
    stats_welch_ci(&sa, &sb, &ci);
    ck_assert(ci.valid && ci.significant);
    ck_assert_double_eq_tol(ci.mean, 10.5, 1e-12);
    ck_assert_double_eq_tol(ci.half, 4.007454, 1e-5);
    ck_assert_double_eq_tol(ci.lo, 6.492546, 1e-5);
    const double c[] = { 1, 2, 3 }, d[] = { 2, 4 };
    stats_summarize(c, 3, &sa);
    stats_summarize(d, 2, &sb);
    stats_welch_ci(&sa, &sb, &ci);
    ck_assert(ci.valid && !ci.significant);
    ck_assert_uint_eq(ci.n, 2);
    ck_assert_double_eq_tol(ci.half, 14.671862, 1e-5);
    ck_assert_double_eq_tol(ci.hi, 13.671862, 1e-5);
    /* one side with a single value: no interval */
    stats_summarize(d, 1, &sb);
    stats_welch_ci(&sa, &sb, &ci);
    ck_assert(!ci.valid && !ci.significant);
    ck_assert_double_eq_tol(ci.mean, 0.0, 1e-12);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_t_table);
    tcase_add_test(tc, test_summary);
    tcase_add_test(tc, test_ci_hand);
    tcase_add_test(tc, test_ci_small_n);
    tcase_add_test(tc, test_paired);
    tcase_add_test(tc, test_welch);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
