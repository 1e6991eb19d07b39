/* test_rng.c - the explicit random streams: reproducibility, independence of
 * (seed, purpose, index), and sane distributions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "rng.h"

START_TEST(test_rng_reproducible)
{
    db_rng a, b;
    db_rng_seed(&a, 123, DB_RNG_DROPOUT, 4);
    db_rng_seed(&b, 123, DB_RNG_DROPOUT, 4);
    size_t differ = 0;
    for (int i = 0; i < 1000; i++)
        differ += db_rng_next(&a) != db_rng_next(&b);
    ck_assert_uint_eq(differ, 0);
    /* Known answers guard the reproducibility contract itself: a change to
     * the seeding or the generator silently changes every result ever run.
     * (Values recorded from rng.c as first written.) */
    db_rng k;
    db_rng_seed(&k, 1, DB_RNG_DROPOUT, 0);
    ck_assert(db_rng_next(&k) == 0x7366d98c65efe4e5ULL);
    ck_assert(db_rng_next(&k) == 0x232ca40ec601f0b6ULL);
}
END_TEST

START_TEST(test_rng_streams_differ)
{
    /* neighbouring seeds, purposes and indices all give unrelated streams */
    static const uint64_t triples[][3] = {
        {1, DB_RNG_DROPOUT, 0}, {1, DB_RNG_DROPOUT, 1}, {1, DB_RNG_INIT, 0},
        {2, DB_RNG_DROPOUT, 0}, {1, DB_RNG_ORDER, 0},   {0, 0, 0},
        {0, 0, 1},              {0, 1, 0},              {1, 0, 0}};
    enum { N = sizeof triples / sizeof triples[0], D = 4 };
    uint64_t first[N][D];
    for (size_t i = 0; i < N; i++) {
        db_rng r;
        db_rng_seed(&r, triples[i][0], triples[i][1], triples[i][2]);
        for (size_t k = 0; k < D; k++)
            first[i][k] = db_rng_next(&r);
    }
    for (size_t i = 0; i < N; i++)
        for (size_t j = i + 1; j < N; j++)
            for (size_t k = 0; k < D; k++)
                ck_assert_msg(first[i][k] != first[j][k],
                              "streams %zu and %zu agree at draw %zu", i, j, k);
}
END_TEST

START_TEST(test_rng_uniform_range)
{
    db_rng r;
    db_rng_seed(&r, 5, DB_RNG_TEST, 0);
    size_t bad = 0;
    double sum = 0.0;
    const size_t n = 200000;
    for (size_t i = 0; i < n; i++) {
        float u = db_rng_uniform(&r);
        double d = db_rng_uniform_d(&r);
        bad += !(u >= 0.0f && u < 1.0f) + !(d >= 0.0 && d < 1.0);
        sum += u;
    }
    ck_assert_uint_eq(bad, 0);
    /* sd of the mean of n uniforms is 1/sqrt(12 n) */
    ck_assert(fabs(sum / n - 0.5) < 4.0 / sqrt(12.0 * n));
}
END_TEST

START_TEST(test_rng_shuffle)
{
    enum { N = 1000 };
    uint32_t p[N], q[N];
    for (uint32_t i = 0; i < N; i++)
        p[i] = q[i] = i;
    db_rng a, b;
    db_rng_seed(&a, 9, DB_RNG_ORDER, 0);
    db_rng_seed(&b, 9, DB_RNG_ORDER, 0);
    db_rng_shuffle(&a, p, N);
    db_rng_shuffle(&b, q, N);
    ck_assert(memcmp(p, q, sizeof p) == 0);
    /* a permutation: every value exactly once */
    unsigned char seen[N] = {0};
    size_t dup = 0, fixed = 0;
    for (size_t i = 0; i < N; i++) {
        ck_assert_uint_lt(p[i], N);
        dup += seen[p[i]]++ != 0;
        fixed += p[i] == i;
    }
    ck_assert_uint_eq(dup, 0);
    /* about one fixed point expected; 20 would be absurd */
    ck_assert_uint_lt(fixed, 20);
    /* edge sizes */
    uint32_t one = 7;
    db_rng_shuffle(&a, &one, 1);
    ck_assert_uint_eq(one, 7);
    db_rng_shuffle(&a, NULL, 0);
}
END_TEST

START_TEST(test_rng_below)
{
    /* n = 6: each face within 4 sigma over 600k draws; n = 3 exercises the
     * rejection threshold 2^64 mod 3 != 0 */
    static const uint64_t ns[] = {3, 6};
    const size_t draws = 600000;
    db_rng r;
    db_rng_seed(&r, 17, DB_RNG_TEST, 1);
    for (size_t k = 0; k < 2; k++) {
        uint64_t n = ns[k];
        size_t count[6] = {0}, out = 0;
        for (size_t i = 0; i < draws; i++) {
            uint64_t v = db_rng_below(&r, n);
            if (v < n)
                count[v]++;
            else
                out++;
        }
        ck_assert_uint_eq(out, 0);
        double p = 1.0 / (double)n, mean = draws * p,
               sd = sqrt(draws * p * (1 - p));
        for (uint64_t v = 0; v < n; v++)
            ck_assert_msg(fabs((double)count[v] - mean) <= 4 * sd,
                          "below(%lu): value %lu drawn %zu times, expected %g",
                          (unsigned long)n, (unsigned long)v, count[v], mean);
    }
    for (int i = 0; i < 100; i++)
        ck_assert(db_rng_below(&r, 1) == 0);
    /* a bound just above 2^63 (rejection rate near 1/2): values below it,
     * and the upper half as likely as the lower */
    uint64_t big = (UINT64_C(1) << 63) + 12345;
    size_t high = 0, bad = 0;
    for (int i = 0; i < 10000; i++) {
        uint64_t v = db_rng_below(&r, big);
        bad += v >= big;
        high += v >= big / 2;
    }
    ck_assert_uint_eq(bad, 0);
    ck_assert(high > 4000 && high < 6000);
}
END_TEST

START_TEST(test_rng_normal)
{
    const size_t n = 200000;
    db_rng r;
    db_rng_seed(&r, 3, DB_RNG_INIT, 2);
    double s = 0.0, s2 = 0.0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double x = db_rng_normal(&r);
        bad += !isfinite(x);
        s += x;
        s2 += x * x;
    }
    ck_assert_uint_eq(bad, 0);
    double mean = s / n, var = s2 / n - mean * mean;
    ck_assert_msg(fabs(mean) < 4.0 / sqrt((double)n), "mean %g", mean);
    /* sd of the sample variance of a normal is sqrt(2/n) */
    ck_assert_msg(fabs(var - 1.0) < 4.0 * sqrt(2.0 / n), "variance %g", var);
    /* two draws per normal: the stream position is a pure function of the
     * count (no cached second value) */
    db_rng a, b;
    db_rng_seed(&a, 3, DB_RNG_INIT, 2);
    db_rng_seed(&b, 3, DB_RNG_INIT, 2);
    (void)db_rng_normal(&a);
    db_rng_next(&b);
    db_rng_next(&b);
    ck_assert(memcmp(&a, &b, sizeof a) == 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("rng");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rng_reproducible);
    tcase_add_test(tc, test_rng_streams_differ);
    tcase_add_test(tc, test_rng_uniform_range);
    tcase_add_test(tc, test_rng_shuffle);
    tcase_add_test(tc, test_rng_below);
    tcase_add_test(tc, test_rng_normal);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
