#include "dberr.h"

#include <stdio.h>
#include <string.h>

int db_fail(db_err *e, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int db_prefix(db_err *e, const char *fmt, ...)
{
    if (e) {
        /* Built piecewise with explicit lengths: the message is cut, never
         * overrun, when prefix + old exceed the buffer. */
        char old[DB_ERR_MSG];
        memcpy(old, e->msg, sizeof old);
        old[sizeof old - 1] = '\0';
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        size_t used = n < 0 ? 0 : (size_t)n;
        if (used > sizeof e->msg - 1)
            used = sizeof e->msg - 1;
        size_t room = sizeof e->msg - 1 - used;
        size_t oldlen = strlen(old);
        if (room >= 2) {
            memcpy(e->msg + used, ": ", 2);
            used += 2;
            room -= 2;
            if (oldlen > room)
                oldlen = room;
            memcpy(e->msg + used, old, oldlen);
            used += oldlen;
        }
        e->msg[used] = '\0';
    }
    return -1;
}

/* Optimal-string-alignment distance, capped at 64 bytes a string. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64)
        return (size_t)-1;
    size_t d[65][65];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            size_t c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c)
                c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c)
                c = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < c)
                c = d[i - 2][j - 2] + 1;
            d[i][j] = c;
        }
    return d[n][m];
}

const char *db_closest(const char *s, const char *const *names, size_t n)
{
    size_t limit = strlen(s) / 3 > 2 ? strlen(s) / 3 : 2, best = (size_t)-1;
    const char *pick = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(s, names[i]);
        if (d < best) {
            best = d;
            pick = names[i];
        }
    }
    return best <= limit ? pick : NULL;
}

int db_fail_unknown(db_err *e, const char *where, const char *what, const char *name,
                    const char *const *names, size_t n)
{
    if (!e)
        return -1;
    const char *near = db_closest(name, names, n);
    char *m = e->msg;
    size_t cap = sizeof e->msg, used = 0;
#define PUT(...)                                                                \
    do {                                                                        \
        int k_ = snprintf(m + used, cap - used, __VA_ARGS__);                   \
        used = k_ < 0 ? used : (used + (size_t)k_ < cap ? used + (size_t)k_ : cap - 1); \
    } while (0)
    if (where && *where)
        PUT("%s: ", where);
    PUT("unknown %s \"%s\"", what, name);
    if (near)
        PUT("; did you mean \"%s\"?", near);
    /* the names in sorted order, without a copy: each round prints the
     * smallest name above the previous one */
    const char *prev = NULL;
    for (size_t round = 0; round < n; round++) {
        const char *next = NULL;
        for (size_t i = 0; i < n; i++)
            if ((!prev || strcmp(names[i], prev) > 0) &&
                (!next || strcmp(names[i], next) < 0))
                next = names[i];
        if (!next)
            break;
        if (used + strlen(next) + 8 >= cap) {
            PUT(", ...");
            break;
        }
        PUT("%s%s", prev ? ", " : " (known: ", next);
        prev = next;
    }
    if (prev)
        PUT(")");
#undef PUT
    return -1;
}
