#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void db_rng_seed(db_rng *r, uint64_t seed, uint64_t purpose, uint64_t index)
{
    /* Chain the three words through splitmix64 so that nearby triples give
     * unrelated states. */
    uint64_t x = seed;
    uint64_t h = splitmix64(&x);
    x = h ^ (purpose * 0xd1b54a32d192ed03ULL);
    h = splitmix64(&x);
    x = h ^ (index * 0x8cb92ba72f3d8dd7ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1; /* the all-zero state is a fixed point */
}

uint64_t db_rng_next(db_rng *r) { return db_rng_step(r->s); }

float db_rng_uniform(db_rng *r)
{
    return (float)(db_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

double db_rng_uniform_d(db_rng *r)
{
    return (double)(db_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

double db_rng_normal(db_rng *r)
{
    double u1 = 1.0 - db_rng_uniform_d(r); /* (0, 1] so log is finite */
    double u2 = db_rng_uniform_d(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t db_rng_below(db_rng *r, uint64_t n)
{
    /* Lemire's nearly divisionless method on 64-bit draws. */
    unsigned __int128 m = (unsigned __int128)db_rng_next(r) * n;
    uint64_t l = (uint64_t)m;
    if (l < n) {
        uint64_t t = -n % n;
        while (l < t) {
            m = (unsigned __int128)db_rng_next(r) * n;
            l = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

void db_rng_shuffle(db_rng *r, uint32_t *perm, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)db_rng_below(r, i);
        uint32_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}
