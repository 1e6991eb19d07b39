/* simdpath.c - the instruction-set path of the kernels (kernels.h): the
 * one piece of dispatch state, set once at start-up. */
#include "kernels.h"

#include <stdatomic.h>
#include <string.h>

static atomic_int selected = -1;

db_simd db_simd_best(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return DB_SIMD_SCALAR;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return DB_SIMD_AVX512;
    return DB_SIMD_AVX2;
#else
    return DB_SIMD_SCALAR;
#endif
}

int db_simd_set(db_simd p)
{
    if ((int)p < DB_SIMD_SCALAR || p > db_simd_best())
        return -1;
    atomic_store(&selected, (int)p);
    return 0;
}

db_simd db_simd_get(void)
{
    int v = atomic_load_explicit(&selected, memory_order_relaxed);
    if (v < 0) {
        /* every thread that gets here first stores the same value */
        v = (int)db_simd_best();
        atomic_store_explicit(&selected, v, memory_order_relaxed);
    }
    return (db_simd)v;
}

const char *db_simd_name(db_simd p)
{
    return p == DB_SIMD_AVX512 ? "avx512" : p == DB_SIMD_AVX2 ? "avx2" : "scalar";
}

int db_simd_parse(const char *name, db_simd *p)
{
    static const db_simd all[] = { DB_SIMD_SCALAR, DB_SIMD_AVX2, DB_SIMD_AVX512 };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (name && strcmp(name, db_simd_name(all[i])) == 0) {
            *p = all[i];
            return 0;
        }
    return -1;
}
