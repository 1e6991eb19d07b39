/* lock.c - run locks and result states.  See lock.h. */
#include "sweep/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "util/jsonio.h"

/* Takes the run's lock: fd >= 0, -2 when another process holds it, -1 on
 * error.  The file may be unlinked by a holder that finishes; a lock on an
 * unlinked file protects nothing, so the inode is checked after locking. */
int sweep_lock_take(const char *path, db_err *e)
{
    for (int tries = 0; tries < 100; tries++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return db_fail(e, "%s: %s", path, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int err = errno;
            close(fd);
            if (err == EWOULDBLOCK)
                return -2;
            if (err == EINTR)
                continue;
            return db_fail(e, "%s: flock: %s", path, strerror(err));
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev) {
            char txt[64];
            int m = snprintf(txt, sizeof txt, "%ld\n", (long)getpid());
            if (ftruncate(fd, 0) == 0 && write(fd, txt, (size_t)m) < 0) {
                /* the pid is informational only */
            }
            return fd;
        }
        close(fd);
    }
    return db_fail(e, "%s: lock file keeps changing", path);
}

void sweep_lock_release(const char *path, int fd)
{
    if (fd < 0)
        return;
    unlink(path); /* while still holding it: see lock_take */
    close(fd);
}

int sweep_lock_busy(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int busy = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return busy;
}

void sweep_result_status(const char *path, char *buf, size_t n)
{
    buf[0] = '\0';
    cJSON *j = NULL;
    if (access(path, F_OK) != 0 || db_json_load(&j, path, NULL) != 0)
        return;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
    if (cJSON_IsString(st))
        snprintf(buf, n, "%s", st->valuestring);
    cJSON_Delete(j);
}
