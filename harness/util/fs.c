#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/str.h"

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

int db_open_regular(const char *path, size_t *size, db_err *e)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return db_fail(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return db_fail(e, "%s: cannot stat: %s", path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return db_fail(e, "%s: not a regular file", path);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int err = errno;
        close(fd);
        return db_fail(e, "%s: cannot open: %s", path, strerror(err));
    }
    if (size)
        *size = (size_t)st.st_size;
    return fd;
}

char *db_read_file(const char *path, size_t *len, size_t max, db_err *e)
{
    size_t cap = 0, n = 0;
    int fd = db_open_regular(path, &cap, e);
    if (fd < 0)
        return NULL;
    if (cap > max) {
        close(fd);
        db_fail(e, "%s: larger than %zu bytes", path, max);
        return NULL;
    }
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        db_fail(e, "%s: out of memory", path);
        return NULL;
    }
    for (;;) {
        ssize_t got = read(fd, buf + n, cap + 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int err = errno;
            free(buf);
            close(fd);
            db_fail(e, "%s: read error: %s", path, strerror(err));
            return NULL;
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if (n > cap) {
            free(buf);
            close(fd);
            db_fail(e, "%s: grew while being read", path);
            return NULL;
        }
    }
    close(fd);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

char *db_relative_dir(const char *from, const char *dir)
{
    char *f = db_strdup(from), *a = NULL, *b = NULL, *out = NULL;
    if (!f)
        return NULL;
    char *slash = strrchr(f, '/');
    if (slash)
        *slash = '\0';
    a = realpath(slash ? (f[0] ? f : "/") : ".", NULL);
    b = realpath(dir, NULL);
    if (!a || !b) {
        out = db_strdup(dir);
        goto done;
    }
    /* common leading components */
    size_t i = 0, common = 0;
    while (a[i] && a[i] == b[i]) {
        if (a[i] == '/')
            common = i;
        i++;
    }
    if (!a[i] && (!b[i] || b[i] == '/'))
        common = i;
    else if (!b[i] && a[i] == '/')
        common = i;
    size_t ups = 0;
    for (const char *p = a + common; *p && strcmp(a, "/") != 0; p++)
        ups += *p == '/';
    const char *rest = b + common + (b[common] == '/');
    size_t need = 3 * ups + strlen(rest) + 1;
    out = malloc(need);
    if (!out)
        goto done;
    out[0] = '\0';
    for (size_t k = 0; k < ups; k++)
        strcat(out, k + 1 < ups || *rest ? "../" : "..");
    strcat(out, rest);
done:
    free(f);
    free(a);
    free(b);
    return out;
}
