/* test_util.h - small helpers shared by the test programs. */
#ifndef DB_TEST_UTIL_H
#define DB_TEST_UTIL_H

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

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

#endif
