/* pool.c - see pool.h.  A mutex and two condition variables: a dispatch
 * costs a few microseconds, against milliseconds of work per call in a
 * training step, so the members sleep rather than spin and never take a
 * core from OpenBLAS's own threads between calls. */
#include "pool.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct db_pool {
    size_t n;
    pthread_t *th;             /* members 1..n-1 at th[0..n-2] */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long gen;         /* bumped by each db_pool_run */
    size_t pending;            /* members still running the current call */
    int stop;
    db_pool_fn fn;
    void *arg;
};

typedef struct member {
    db_pool *p;
    size_t t;
} member;

static void *member_main(void *vm)
{
    member m = *(member *)vm;
    free(vm);
    db_pool *p = m.p;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->stop)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->stop)
            break;
        seen = p->gen;
        db_pool_fn fn = p->fn;
        void *arg = p->arg;
        pthread_mutex_unlock(&p->mu);
        fn(arg, m.t, p->n);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void stop_and_join(db_pool *p, size_t started)
{
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
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
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->pending = p->n - 1;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    fn(arg, 0, p->n);
    pthread_mutex_lock(&p->mu);
    while (p->pending)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
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
