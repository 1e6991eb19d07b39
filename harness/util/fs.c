#include "util/fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int db_mkdirs(const char *path, db_err *e)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return db_fail(e, "%s: bad directory name", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return db_fail(e, "%s: cannot create directory: %s", buf, strerror(errno));
            buf[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return db_fail(e, "%s: not a directory", path);
    return 0;
}

int db_write_atomic(const char *path, const char *data, size_t n, db_err *e)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX.tmp", path) >= sizeof tmp)
        return db_fail(e, "%s: path too long", path);
    int fd = mkstemps(tmp, 4);
    if (fd < 0)
        return db_fail(e, "%s: cannot create a temporary file: %s", path, strerror(errno));
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, data + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int err = w < 0 ? errno : ENOSPC;
            close(fd);
            unlink(tmp);
            return db_fail(e, "%s: write failed: %s", path, strerror(err));
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        int err = errno;
        close(fd);
        unlink(tmp);
        return db_fail(e, "%s: fsync failed: %s", path, strerror(err));
    }
    if (close(fd) != 0) {
        int err = errno;
        unlink(tmp);
        return db_fail(e, "%s: close failed: %s", path, strerror(err));
    }
    /* mkstemps creates 0600; results are meant to be shared */
    if (chmod(tmp, 0644) != 0 || rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return db_fail(e, "%s: rename failed: %s", path, strerror(err));
    }
    return 0;
}
