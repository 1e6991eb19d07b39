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
