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

/* Opens path for reading only if it is a regular file, without blocking on
 * a FIFO or device on the way (O_NONBLOCK for the open, cleared after the
 * check).  Returns the descriptor (close-on-exec) and its size in *size
 * (may be NULL), or -1 with "PATH: cannot open: ..." or "PATH: not a
 * regular file" in e. */
int db_open_regular(const char *path, size_t *size, db_err *e);

/* The whole of a regular file, NUL-terminated (malloc'd; *len its length
 * without the NUL; len may be NULL); NULL with the reason in e ("PATH:
 * ...") when it cannot be opened or read, is not a regular file, or is
 * larger than max bytes. */
char *db_read_file(const char *path, size_t *len, size_t max, db_err *e);

/* The folder dir as a relative path from the folder that holds the file
 * `from` ("" when they are the same folder; dir itself when either cannot
 * be resolved), malloc'd; NULL when out of memory.  Both must exist. */
char *db_relative_dir(const char *from, const char *dir);

#endif
