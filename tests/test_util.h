/* test_util.h - small helpers shared by the test programs. */
#ifndef DB_TEST_UTIL_H
#define DB_TEST_UTIL_H

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gen_data.h"

/* Removes a tree of plain files and folders (what the tests create). */
static inline void rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        remove(path);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", path, de->d_name);
        rm_tree(p);
    }
    closedir(d);
    rmdir(path);
}

/* The dropbench binary under test ($DROPBENCH_BIN, set by make test), or
 * NULL. */
static inline const char *bin(void)
{
    const char *b = getenv("DROPBENCH_BIN");
    return b && *b ? b : NULL;
}

/* Starts argv[0] with argv in a process group of its own (so a test can
 * kill it with everything it started), stdout and stderr to out; returns
 * the pid. */
static inline pid_t spawn(char *const argv[], const char *out)
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        setpgid(0, 0);
        execv(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid);
    return pid;
}

/* dir emptied: removed and made again. */
static inline void empty_dir(const char *dir)
{
    rm_tree(dir);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
}

/* Writes text to path (created or truncated), checking every step. */
static inline void write_text_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* Writes b[0..n) to path (created or truncated), checking every step. */
static inline void write_file_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* Runs the shell command cmd, which prints its command's stdout, a line
 * "@@", then its stderr: the two into out and err; returns the exit
 * status (-1: killed by a signal). */
static inline int popen_split(const char *cmd, char *out, size_t nout, char *err,
                              size_t nerr)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = '\0';
    int st = pclose(p);
    char *sep = strstr(buf, "@@\n");
    ck_assert_ptr_nonnull(sep);
    *sep = '\0';
    snprintf(out, nout, "%s", buf);
    snprintf(err, nerr, "%s", sep + 3);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Entries of dir whose names do not start with '.' (and end in suffix,
 * when given); 0 when dir cannot be opened. */
static inline int count_in_dir(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    size_t sl = suffix ? strlen(suffix) : 0;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.')
            continue;
        n += !suffix || (l >= sl && strcmp(de->d_name + l - sl, suffix) == 0);
    }
    closedir(d);
    return n;
}

/* dir/name, in one of 64 static buffers used in turn (so that a caller
 * can keep several). */
static inline const char *ring_path(const char *dir, const char *name)
{
    static char p[64][512];
    static int k;
    k = (k + 1) % 64;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

/* Up to n - 1 bytes of file path into buf ("" when it cannot be read). */
static inline void slurp_into(const char *path, char *buf, size_t n)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t k = fread(buf, 1, n - 1, f);
    buf[k] = '\0';
    fclose(f);
}

/* The checked fixture of the tests that run dropbench on MNIST: scratch
 * folder dir (dn bytes) from tmpl (mkdtemp(3), ending in XXXXXX), a
 * generated MNIST set of ntrain and ntest examples in data = dir/data (datan
 * bytes), and DROPBENCH_CONFIGS at the presets of the source tree
 * ($DROPBENCH_SRC, else .). */
static inline void scratch_with_mnist(char *dir, size_t dn, const char *tmpl, char *data,
                                      size_t datan, size_t ntrain, size_t ntest)
{
    snprintf(dir, dn, "%s", tmpl);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(data, datan, "%s/data", dir);
    ck_assert_int_eq(gen_idx_set(data, "mnist", ntrain, ntest, 0, 5), 0);
    const char *src = getenv("DROPBENCH_SRC");
    static char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/configs", src ? src : ".");
    setenv("DROPBENCH_CONFIGS", cfg, 1);
}

#endif
