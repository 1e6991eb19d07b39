/* lock.h - the per-run lock file (<results>/<run>.lock) that keeps two
 * sweeps, or two Slurm array tasks, from running one run at once, and the
 * state of a run's result file.  flock(2) locks die with their holder, so a
 * killed sweep leaves no stale lock. */
#ifndef DB_SWEEP_LOCK_H
#define DB_SWEEP_LOCK_H

#include <stddef.h>

#include "dberr.h"

/* Takes the lock at path (created if missing; the holder's pid written in
 * it): fd >= 0, -2 when another process holds it, -1 on error. */
int sweep_lock_take(const char *path, db_err *e);
/* Removes the lock file and releases the lock (fd < 0: nothing). */
void sweep_lock_release(const char *path, int fd);

/* 1 when another process holds the run lock at path (flock LOCK_SH probe;
 * creates nothing). */
int sweep_lock_busy(const char *path);
/* The "status" field of a result file into buf; "" when the file is absent,
 * unreadable or has none. */
void sweep_result_status(const char *path, char *buf, size_t n);

#endif
