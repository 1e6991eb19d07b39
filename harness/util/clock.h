/* clock.h - the clocks every part reads: monotonic seconds for durations,
 * UTC stamps for logs and result files, and the process's peak memory. */
#ifndef DB_CLOCK_H
#define DB_CLOCK_H

#include <stddef.h>

/* CLOCK_MONOTONIC in seconds: for durations only. */
double db_now(void);
/* Sleeps s seconds; a signal may end it early. */
void db_sleep(double s);
/* The current time as "YYYY-MM-DDTHH:MM:SSZ" (UTC) into buf (size n). */
void db_utc_stamp(char *buf, size_t n);
/* Peak resident set size of this process in MiB (getrusage), -1 if
 * unknown. */
double db_peak_rss_mib(void);

#endif
