/* gemmtime.c - see gemmtime.h.  Each calling thread adds to its own slot
 * (taken on its first call), so counting needs no lock; the slots are read
 * after the team has finished, which the team's mutex orders. */
#include "util/gemmtime.h"

#include <stdatomic.h>
#include <string.h>

#define SLOTS 260 /* up to 256 team members and a few more threads */

typedef struct slot {
    double seconds[DB_GEMM_KINDS], flops[DB_GEMM_KINDS];
    unsigned long calls[DB_GEMM_KINDS];
} slot;

static slot slots[SLOTS];
static atomic_int nslots;
static atomic_int counting;
static _Thread_local int my_slot = -1;

void db_gemmtime_start(void)
{
    memset(slots, 0, sizeof slots);
    atomic_store(&counting, 1);
}

void db_gemmtime_stop(void) { atomic_store(&counting, 0); }

int db_gemmtime_on(void) { return atomic_load_explicit(&counting, memory_order_relaxed); }

void db_gemmtime_add(int kind, double seconds, double flops)
{
    if (kind < 0 || kind >= DB_GEMM_KINDS)
        return;
    if (my_slot < 0)
        my_slot = atomic_fetch_add(&nslots, 1);
    if (my_slot >= SLOTS)
        return; /* more threads than slots: not counted */
    slot *s = &slots[my_slot];
    s->seconds[kind] += seconds;
    s->flops[kind] += flops;
    s->calls[kind]++;
}

void db_gemmtime_read(db_gemmtime *g, int kind)
{
    memset(g, 0, sizeof *g);
    int lo = kind == DB_GEMM_ALL ? 0 : kind, hi = kind == DB_GEMM_ALL ? DB_GEMM_KINDS : kind + 1;
    if (lo < 0 || hi > DB_GEMM_KINDS)
        return;
    int n = atomic_load(&nslots);
    for (int i = 0; i < n && i < SLOTS; i++) {
        double sec = 0.0;
        for (int k = lo; k < hi; k++) {
            sec += slots[i].seconds[k];
            g->flops += slots[i].flops[k];
            g->calls += slots[i].calls[k];
        }
        if (sec > g->max_thread_seconds)
            g->max_thread_seconds = sec;
        g->total_seconds += sec;
    }
}
