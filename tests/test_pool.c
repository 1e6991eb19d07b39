/* test_pool.c - the training team: every member runs each call exactly
 * once with its own index, calls do not overlap, the batch slices cover
 * every example once, and a team of one runs on the caller. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "train/pool.h"

typedef struct counter {
    size_t n;
    size_t calls[8];    /* per member, written only by that member */
    size_t seen_n[8];
    pthread_t self[8];
} counter;

static void count(void *arg, size_t t, size_t n)
{
    counter *c = arg;
    c->calls[t]++;
    c->seen_n[t] = n;
    c->self[t] = pthread_self();
}

START_TEST(every_member_once_per_call)
{
    for (size_t n = 1; n <= 8; n++) {
        db_pool *p;
        db_err e;
        ck_assert_msg(db_pool_create(&p, n, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(db_pool_size(p), n);
        counter c;
        memset(&c, 0, sizeof c);
        for (int r = 0; r < 500; r++)
            db_pool_run(p, count, &c);
        for (size_t t = 0; t < n; t++) {
            ck_assert_uint_eq(c.calls[t], 500);
            ck_assert_uint_eq(c.seen_n[t], n);
            for (size_t u = 0; u < t; u++)
                ck_assert(!pthread_equal(c.self[t], c.self[u]));
        }
        for (size_t t = n; t < 8; t++)
            ck_assert_uint_eq(c.calls[t], 0);
        ck_assert(pthread_equal(c.self[0], pthread_self())); /* member 0 = caller */
        db_pool_free(p);
    }
    db_pool_free(NULL);
}
END_TEST

/* Members add one to their slice of an array: when db_pool_run returns,
 * every member's writes are complete and visible to the caller. */
typedef struct chain {
    size_t len;
    unsigned *v;
} chain;

static void step(void *arg, size_t t, size_t n)
{
    chain *c = arg;
    size_t lo, hi;
    db_pool_slice(c->len, t, n, &lo, &hi);
    for (size_t i = lo; i < hi; i++)
        c->v[i]++;
}

START_TEST(calls_do_not_overlap)
{
    db_pool *p;
    db_err e;
    ck_assert_int_eq(db_pool_create(&p, 4, &e), 0);
    chain c = { 1000, calloc(1000, sizeof(unsigned)) };
    for (unsigned r = 1; r <= 300; r++) {
        db_pool_run(p, step, &c);
        for (size_t i = 0; i < c.len; i++)
            ck_assert_uint_eq(c.v[i], r);
    }
    free(c.v);
    db_pool_free(p);
}
END_TEST

START_TEST(slices_cover_once)
{
    for (size_t B = 0; B <= 130; B++)
        for (size_t n = 1; n <= 9; n++) {
            size_t next = 0;
            for (size_t t = 0; t < n; t++) {
                size_t lo, hi;
                db_pool_slice(B, t, n, &lo, &hi);
                ck_assert_uint_eq(lo, next);
                ck_assert_uint_le(lo, hi);
                ck_assert_uint_le(hi - lo, B / n + 1); /* balanced */
                next = hi;
            }
            ck_assert_uint_eq(next, B);
        }
}
END_TEST

START_TEST(bad_sizes)
{
    db_pool *p = (db_pool *)&p;
    db_err e;
    ck_assert_int_eq(db_pool_create(&p, 0, &e), -1);
    ck_assert_ptr_null(p);
    ck_assert(strstr(e.msg, "threads") != NULL);
    ck_assert_int_eq(db_pool_create(&p, 257, &e), -1);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("core");
    /* 8 threads on 2 cores: under a running sweep the rounds of handing
     * calls around take seconds, beyond the default 4 s */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_member_once_per_call);
    tcase_add_test(tc, calls_do_not_overlap);
    tcase_add_test(tc, slices_cover_once);
    tcase_add_test(tc, bad_sizes);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
