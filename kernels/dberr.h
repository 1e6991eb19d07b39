/* dberr.h - error values shared by every module.
 *
 * Library code never prints and never exits: a function that can fail returns
 * int (0 on success, -1 on failure) and, when given a non-NULL db_err, writes a
 * one-line message naming the file/field and the problem.  Only main() turns an
 * error into an exit status. */
#ifndef DB_DBERR_H
#define DB_DBERR_H

#include <stdarg.h>

#define DB_ERR_MSG 1024

typedef struct db_err {
    char msg[DB_ERR_MSG];
} db_err;

/* Formats a message into e (if non-NULL) and returns -1, so callers can write
 * `return db_fail(e, "...", ...);`. */
int db_fail(db_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes an existing message: "prefix: old message". Returns -1. */
int db_prefix(db_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
