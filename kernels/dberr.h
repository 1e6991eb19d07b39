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

#include <stddef.h>

/* "Did you mean": the name of names[0..n) closest to s in edit distance
 * (insertions, deletions, substitutions, and swaps of neighbours), when
 * close enough to be a likely typo (at most 2 edits, or a third of s's
 * length); else NULL.  The one home of the suggestion every "unknown ..."
 * message makes (db_fail_unknown). */
const char *db_closest(const char *s, const char *const *names, size_t n);

/* Fails with the message every unknown name gets:
 *   [where: ]unknown WHAT "NAME"[; did you mean "X"?] (known: A, B, C)
 * the known names sorted (cut with "..." when they do not fit; omitted
 * when n is 0).  Returns -1. */
int db_fail_unknown(db_err *e, const char *where, const char *what, const char *name,
                    const char *const *names, size_t n);

#endif
