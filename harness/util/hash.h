/* hash.h - 64-bit FNV-1a, the fingerprint dropbench uses for run ids,
 * initial weights, data orders and cache checksums. */
#ifndef DB_HASH_H
#define DB_HASH_H

#include <stddef.h>
#include <stdint.h>

#define DB_FNV1A_BASIS 0xcbf29ce484222325ULL

/* FNV-1a over p[0..n), continuing from h (DB_FNV1A_BASIS to start). */
static inline uint64_t db_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#endif
