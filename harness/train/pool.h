/* pool.h - a fixed team of threads that runs one function on every member.
 *
 * The training step splits a batch across the team (examples [B*t/n,
 * B*(t+1)/n) go to member t), so the split, and with it every sum the
 * step does, depends only on the thread count.  The calling thread is
 * member 0; members 1..n-1 are created once by db_pool_create and sleep
 * between calls.  Not reentrant: one db_pool_run at a time, from the
 * thread that created the pool.  The members block every signal, so
 * SIGINT and SIGTERM reach the main thread as before. */
#ifndef DB_POOL_H
#define DB_POOL_H

#include "dberr.h"

#include <stddef.h>

typedef struct db_pool db_pool;

/* fn(arg, t, n) for t = 0..n-1, t = 0 on the calling thread. */
typedef void (*db_pool_fn)(void *arg, size_t t, size_t n);

/* A team of n >= 1 members (n = 1 creates no thread).  *out is NULL on
 * error.  The caller owns the pool and frees it with db_pool_free. */
int db_pool_create(db_pool **out, size_t n, db_err *e);

/* Runs fn on every member and returns when all have finished. */
void db_pool_run(db_pool *p, db_pool_fn fn, void *arg);

size_t db_pool_size(const db_pool *p);

/* Stops and joins the members; NULL is ignored. */
void db_pool_free(db_pool *p);

/* The most members a team may have (db_model_set_threads). */
#define DB_POOL_MAX 256

/* Examples [*lo, *hi) of B for member t of n. */
static inline void db_pool_slice(size_t B, size_t t, size_t n, size_t *lo, size_t *hi)
{
    *lo = B * t / n;
    *hi = B * (t + 1) / n;
}

#endif
