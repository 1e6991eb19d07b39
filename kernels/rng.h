/* rng.h - explicit random streams (xoshiro256**, seeded through splitmix64).
 *
 * Every random decision in dropbench comes from a db_rng whose state is
 * derived from (run seed, purpose, index) alone, so a stream never depends on
 * the thread count, on how many other streams exist, or on the order in which
 * they are created.  Streams of different (purpose, index) are independent for
 * all practical purposes: the triple is hashed through splitmix64 before
 * seeding. */
#ifndef DB_RNG_H
#define DB_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct db_rng {
    uint64_t s[4];
} db_rng;

/* What a stream is for. Values are part of the reproducibility contract:
 * never renumber them. */
enum db_rng_purpose {
    DB_RNG_INIT = 1,    /* index: parametric layer number */
    DB_RNG_ORDER = 2,   /* index: 0 (data order), 1 (validation split) */
    DB_RNG_DROPOUT = 3, /* index: dropout site number */
    DB_RNG_MC = 4,      /* index: evaluation * 4096 + dropout site number
                           (Monte-Carlo dropout at evaluation) */
    DB_RNG_TEST = 99    /* tests only */
};

void db_rng_seed(db_rng *r, uint64_t seed, uint64_t purpose, uint64_t index);
uint64_t db_rng_next(db_rng *r);

/* db_rng_next on a bare state, inline: loops that draw millions of numbers
 * (dropout masks) keep the state in registers. */
static inline uint64_t db_rng_step(uint64_t s[4])
{
    uint64_t x = s[1] * 5;
    uint64_t result = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}
/* Uniform in [0, 1) with 24 random bits (exactly representable as float). */
float db_rng_uniform(db_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double db_rng_uniform_d(db_rng *r);
/* Standard normal (Box-Muller on two uniforms; no cached second value, so the
 * stream position is a pure function of how many numbers were drawn). */
double db_rng_normal(db_rng *r);
/* Uniform integer in [0, n), n > 0, unbiased (Lemire's method). */
uint64_t db_rng_below(db_rng *r, uint64_t n);
/* Fisher-Yates shuffle of perm[0..n). */
void db_rng_shuffle(db_rng *r, uint32_t *perm, size_t n);

#endif
