/* fs.h - files and directories: mkdir -p, and writing a file atomically
 * (temporary file in the same directory + fsync + rename), so that a reader
 * never sees a half-written file. */
#ifndef DB_FS_H
#define DB_FS_H

#include <stddef.h>

#include "dberr.h"

/* mkdir -p; fails when path exists and is not a directory. */
int db_mkdirs(const char *path, db_err *e);
/* Writes data[0..n) to path atomically, mode 0644. The temporary file is
 * removed on any failure. */
int db_write_atomic(const char *path, const char *data, size_t n, db_err *e);

#endif
