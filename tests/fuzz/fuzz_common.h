/* fuzz_common.h - shared by the libFuzzer targets in tests/fuzz/ and by
 * tests/test_fuzz_regress.c, which includes every target with
 * DB_FUZZ_NO_MAIN defined and replays the committed corpora through the same
 * entry functions in the normal build.
 *
 * Parsers take file paths, so a target writes its input to a file in a
 * private scratch directory (under /dev/shm when it exists: no disk I/O),
 * created once per process and removed at exit.
 *
 * Every target checks two properties beyond "no crash, no leak, no UB":
 * a rejected input comes with a message (FUZZ_REQUIRE_MSG), and an accepted
 * one satisfies the loader's documented invariants (FUZZ_CHECK). */
#ifndef DB_FUZZ_COMMON_H
#define DB_FUZZ_COMMON_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../test_util.h"
#include "dberr.h"

/* The libFuzzer entry point of a target whose work is fn(data, size); left
 * out when tests/test_fuzz_regress.c includes the target (DB_FUZZ_NO_MAIN). */
#ifndef DB_FUZZ_NO_MAIN
#define FUZZ_ENTRY(fn)                                                        \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);             \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)              \
    {                                                                         \
        fn(data, size);                                                       \
        return 0;                                                             \
    }
#else
#define FUZZ_ENTRY(fn)
#endif

/* A broken invariant is a finding: abort so the fuzzer keeps the input. */
#define FUZZ_CHECK(cond)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,        \
                    __LINE__, #cond);                                         \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* A failure must say what went wrong. */
#define FUZZ_REQUIRE_MSG(rc, e)                                               \
    do {                                                                      \
        if ((rc) != 0 && (e).msg[0] == '\0') {                                \
            fprintf(stderr, "%s:%d: error without a message\n", __FILE__,     \
                    __LINE__);                                                \
            abort();                                                          \
        }                                                                     \
    } while (0)

static char fuzz_dir_path[256];

static inline void fuzz_cleanup(void)
{
    if (fuzz_dir_path[0])
        rm_tree(fuzz_dir_path);
}

/* The scratch directory of this process. */
static inline const char *fuzz_dir(void)
{
    if (!fuzz_dir_path[0]) {
        struct stat st;
        const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
                                   access("/dev/shm", W_OK) == 0
                               ? "/dev/shm"
                               : "/tmp";
        snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/dbfuzz.XXXXXX", base);
        if (!mkdtemp(fuzz_dir_path)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_cleanup);
    }
    return fuzz_dir_path;
}

/* dir/name (static buffers, four in rotation). */
static inline const char *fuzz_path(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", fuzz_dir(), name);
    return p[k];
}

static inline void fuzz_write(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

static inline void fuzz_mkdir(const char *path)
{
    if (mkdir(path, 0700) != 0 && access(path, F_OK) != 0) {
        perror(path);
        abort();
    }
}

/* The source tree (for preset configs): $DROPBENCH_SRC, else ".". */
static inline const char *fuzz_src(void)
{
    const char *s = getenv("DROPBENCH_SRC");
    return s && *s ? s : ".";
}

#endif
