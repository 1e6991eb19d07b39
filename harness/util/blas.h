/* blas.h - making sure OpenBLAS runs a correct kernel set, the fastest one.
 *
 * Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) picks its kernel set when it
 * loads; on some CPUs it picks a slow one (its generic Prescott kernels on
 * CPUs it does not know, Haswell on an AVX-512 Zen 5 where SkylakeX runs
 * twice as fast).  db_blas_setup(), first thing in main:
 * - DROPBENCH_BLAS_KEEP=1: keeps OpenBLAS's own choice;
 * - OPENBLAS_CORETYPE set by the user: kept as it is (no fallback);
 * - otherwise: the kernel sets the CPU's flags allow (db_blas_candidates,
 *   never a set whose instructions the CPU lacks) and OpenBLAS's own choice
 *   are each run in a child process (this binary, re-executed with
 *   OPENBLAS_CORETYPE and DROPBENCH_BLAS_PROBE set): its sgemm is checked
 *   against a double-precision product and timed briefly on 1 thread.  The
 *   fastest correct set wins (OpenBLAS's own choice unless another is at
 *   least 5% faster) and the program re-executes itself with it
 *   (OpenBLAS reads OPENBLAS_CORETYPE only when it loads).  The decision
 *   and its measurement are cached per CPU (model, family, flags) and
 *   OpenBLAS version in $XDG_CACHE_HOME/dropbench/ (else
 *   ~/.cache/dropbench/), one small JSON file per key, written atomically;
 *   a corrupt file is ignored with a warning and measured again; delete
 *   the file to measure again (e.g. after a measurement on a busy machine:
 *   the file records the load average).
 * The re-executed process carries the choice in its environment
 * (OPENBLAS_CORETYPE, DROPBENCH_BLAS_CHOSEN, DROPBENCH_BLAS_KEY: the hash
 * of the machine's key), so that the programs it starts keep it without
 * measuring; one that inherits it on another machine (a Slurm job started
 * from a login node) chooses afresh.
 * In every case a small sgemm is checked before anything trusts it; a
 * wrong result moves on to the next set (except under DROPBENCH_BLAS_KEEP
 * or a user's OPENBLAS_CORETYPE, which fail instead). */
#ifndef DB_BLAS_H
#define DB_BLAS_H

#include <stddef.h>

#include "dberr.h"

typedef struct db_blas_info {
    char config[256];   /* openblas_get_config() */
    char core[64];      /* openblas_get_corename() after any re-exec */
    char note[512];     /* how the set was chosen, and the measurement */
    int threads;        /* openblas_get_num_threads() */
} db_blas_info;

/* Call first thing in main.  May not return (re-exec, or a probe child's
 * exit).  Returns -1 when sgemm gives wrong results with every kernel set
 * the CPU allows (or with the one the user forced). */
int db_blas_setup(char **argv, db_err *e);
/* A warning from db_blas_setup for main to print ("" when none): an
 * unreadable or corrupt cache file, a cache that could not be written. */
const char *db_blas_warning(void);
void db_blas_get_info(db_blas_info *info);
void db_blas_set_threads(int n);
/* 1 when core is one of OpenBLAS's generic, pre-AVX kernel sets. */
int db_blas_core_is_generic(const char *core);
/* Max relative error of cblas_sgemm against a double-precision naive product
 * on odd-sized operands. */
double db_blas_sgemm_check(void);
/* Measured GFLOP/s of an n x n x n sgemm with the current thread count
 * (best of reps). */
double db_blas_gflops(int n, int reps);

/* This machine's CPU model name (/proc/cpuinfo "model name", as results
 * record it in environment.cpu), or "unknown". */
void db_cpu_model(char *out, size_t n);
/* This machine's CPU as vendor, family and model numbers ("AuthenticAMD
 * family 25 model 17", as results record it in environment.cpu_id), which
 * tells apart machines that share a model name (a VM's "AMD EPYC" is Zen 3,
 * 4 or 5); "unknown" when /proc/cpuinfo lacks them. */
void db_cpu_id(char *out, size_t n);

/* ---- the kernel-set choice (pure parts, for the tests) ---------------- */

#define DB_BLAS_MAX_CAND 8
#define DB_BLAS_SWITCH_GAIN 1.05 /* another set must be this much faster */

/* The kernel sets of OpenBLAS 0.3.21 whose instructions the CPU has, given
 * its flags as /proc/cpuinfo names them (space-separated), in order of
 * preference: SapphireRapids, Cooperlake, SkylakeX, Zen (AMD only),
 * Haswell, Sandybridge.  Pure.  Returns the count (at most max). */
int db_blas_candidates(const char *flags, const char **out, int max);

typedef struct db_blas_cand {
    char core[32];
    int ok;           /* correct sgemm, probe ran to the end */
    double err;       /* max relative error of the check (-1: not run) */
    double gflops;    /* sgemm DB_BLAS_PROBE_N^3, 1 thread, best of a few */
    char why[96];     /* when !ok: crashed, wrong result, unknown set... */
} db_blas_cand;

#define DB_BLAS_PROBE_N 320

typedef struct db_blas_decision {
    char key[4096];       /* CPU identity and OpenBLAS version (below) */
    char own[32];         /* OpenBLAS's own choice */
    char choice[32];      /* "" when no candidate was correct */
    char measured_utc[32];
    double seconds;       /* wall time of the measurement */
    double load_average;  /* 1-minute load average when measured (-1: unknown):
                           * a busy machine's figures are less telling */
    int n;
    db_blas_cand c[DB_BLAS_MAX_CAND];
} db_blas_decision;

/* Sets d->choice from the candidates: the fastest correct one, but
 * OpenBLAS's own choice (d->own) unless another correct one is at least
 * DB_BLAS_SWITCH_GAIN times faster.  Pure.  Returns the index of the
 * choice, -1 (choice "") when none is correct. */
int db_blas_pick(db_blas_decision *d);

/* The cache key of this machine: model name, vendor, family, model,
 * stepping and flags from /proc/cpuinfo, and config (openblas_get_config()
 * without its core name).  Also its flags line, into flags. */
void db_blas_machine_key(const char *config, const char *core, char *key, size_t n,
                         char *flags, size_t fn);
/* The cache file for key: DIR/blas-<16 hex digits of FNV-1a(key)>.json
 * under $XDG_CACHE_HOME/dropbench (absolute paths only), else
 * $HOME/.cache/dropbench.  -1 when neither is set. */
int db_blas_cache_path(const char *key, char *path, size_t n);
/* Writes d to path atomically (creating its folder). */
int db_blas_cache_write(const char *path, const db_blas_decision *d, db_err *e);
/* Reads the decision for key from path: 1 found, 0 no file or a file for
 * another key (d untouched), -1 unreadable or corrupt (reason in e). */
int db_blas_cache_read(const char *path, const char *key, db_blas_decision *d,
                       db_err *e);
/* The decision this process's setup measured or read from its cache; NULL
 * when none (DROPBENCH_BLAS_KEEP, a user's OPENBLAS_CORETYPE, no cache). */
const db_blas_decision *db_blas_get_decision(void);
/* One line: "SkylakeX 209.1, Cooperlake* 200.3, ..." (* OpenBLAS's own). */
void db_blas_format_candidates(const db_blas_decision *d, char *buf, size_t n);

#endif
