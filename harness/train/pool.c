/* pool.c - see pool.h.
 *
 * A call is announced by bumping an atomic generation counter and finished
 * when an atomic count of pending members reaches zero.  Both sides spin
 * for a short while (POOL_SPIN pauses, some tens of microseconds) before
 * sleeping on a condition variable: a training step makes a dozen or more
 * calls, each a millisecond or less, and waking a sleeping thread through
 * the kernel costs several microseconds per call.  The counters are
 * sequentially consistent, which is what makes the "is anyone asleep?"
 * checks safe: a waker that sees no sleeper has bumped its counter before
 * the sleeper's re-check under the mutex, which then sees the new value. */
#include "train/pool.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define POOL_SPIN 4000

struct db_pool {
    size_t n;
    pthread_t *th;             /* members 1..n-1 at th[0..n-2] */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    atomic_ulong gen;          /* bumped by each db_pool_run */
    atomic_size_t pending;     /* members still running the current call */
    atomic_int sleepers;       /* members asleep on go */
    atomic_int caller_asleep;  /* the caller asleep on done */
    atomic_int stop;
    db_pool_fn fn;             /* written before gen is bumped */
    void *arg;
};

typedef struct member {
    db_pool *p;
    size_t t;
} member;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Returns 0 when a new call (generation != seen) is there, 1 on stop. */
static int wait_for_call(db_pool *p, unsigned long seen)
{
    for (int i = 0; i < POOL_SPIN; i++) {
        if (atomic_load(&p->stop))
            return 1;
        if (atomic_load(&p->gen) != seen)
            return 0;
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->sleepers, 1);
    while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop))
        pthread_cond_wait(&p->go, &p->mu);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->mu);
    return atomic_load(&p->gen) == seen;
}

static void *member_main(void *vm)
{
    member m = *(member *)vm;
    free(vm);
    db_pool *p = m.p;
    unsigned long seen = 0;
    while (!wait_for_call(p, seen)) {
        seen = atomic_load(&p->gen);
        p->fn(p->arg, m.t, p->n);
        if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->caller_asleep)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

static void stop_and_join(db_pool *p, size_t started)
{
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < started; i++)
        pthread_join(p->th[i], NULL);
}

int db_pool_create(db_pool **out, size_t n, db_err *e)
{
    *out = NULL;
    if (n < 1 || n > 256)
        return db_fail(e, "thread pool: %zu threads (1 to 256 allowed)", n);
    db_pool *p = calloc(1, sizeof *p);
    if (!p)
        return db_fail(e, "thread pool: out of memory");
    p->n = n;
    if (n == 1) {
        *out = p;
        return 0;
    }
    p->th = calloc(n - 1, sizeof *p->th);
    if (!p->th) {
        free(p);
        return db_fail(e, "thread pool: out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    /* Members inherit this mask: every signal stays with the caller. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    size_t started = 0;
    int rc = 0;
    for (; started < n - 1; started++) {
        member *m = malloc(sizeof *m);
        if (!m) {
            rc = -1;
            break;
        }
        m->p = p;
        m->t = started + 1;
        if (pthread_create(&p->th[started], NULL, member_main, m) != 0) {
            free(m);
            rc = -1;
            break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        stop_and_join(p, started);
        pthread_cond_destroy(&p->done);
        pthread_cond_destroy(&p->go);
        pthread_mutex_destroy(&p->mu);
        free(p->th);
        free(p);
        return db_fail(e, "thread pool: cannot start thread %zu of %zu", started + 1, n);
    }
    *out = p;
    return 0;
}

void db_pool_run(db_pool *p, db_pool_fn fn, void *arg)
{
    if (p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->pending, p->n - 1);
    atomic_fetch_add(&p->gen, 1);
    if (atomic_load(&p->sleepers)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->go);
        pthread_mutex_unlock(&p->mu);
    }
    fn(arg, 0, p->n);
    for (int i = 0; i < POOL_SPIN && atomic_load(&p->pending); i++)
        cpu_relax();
    if (atomic_load(&p->pending)) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->caller_asleep, 1);
        while (atomic_load(&p->pending))
            pthread_cond_wait(&p->done, &p->mu);
        atomic_store(&p->caller_asleep, 0);
        pthread_mutex_unlock(&p->mu);
    }
}

size_t db_pool_size(const db_pool *p) { return p->n; }

void db_pool_free(db_pool *p)
{
    if (!p)
        return;
    if (p->n > 1) {
        stop_and_join(p, p->n - 1);
        pthread_cond_destroy(&p->done);
        pthread_cond_destroy(&p->go);
        pthread_mutex_destroy(&p->mu);
    }
    free(p->th);
    free(p);
}
