/* stats.h - the small statistics the report needs: mean and sample standard
 * deviation, and a 95% confidence interval for the mean of paired
 * differences (Student's t over seeds).
 *
 * Pure functions over double arrays; no allocation, no I/O. */
#ifndef DB_STATS_H
#define DB_STATS_H

#include <stddef.h>

/* Two-sided 95% critical value of Student's t with df degrees of freedom:
 * exact table for df 1..30, 1.959964 (the normal value) beyond.  df < 1
 * returns 0 (no interval exists). */
double stats_t95(size_t df);

typedef struct stats_summary {
    size_t n;
    double mean; /* 0 when n == 0 */
    double sd;   /* sample standard deviation (n-1 denominator); 0 when n < 2 */
} stats_summary;

void stats_summarize(const double *x, size_t n, stats_summary *s);

/* 95% t-interval for the mean of x (used on paired differences). */
typedef struct stats_ci {
    size_t n;
    double mean, sd;
    int valid;       /* 0 when n < 2: no interval, lo/hi/half are 0 */
    double half;     /* t95(n-1) * sd / sqrt(n) */
    double lo, hi;   /* mean -/+ half */
    int significant; /* valid and the interval excludes 0 */
} stats_ci;

void stats_mean_ci(const double *x, size_t n, stats_ci *ci);

/* Paired version: ci over d[i] = a[i] - b[i].  d is caller scratch of n
 * doubles (may be NULL when n == 0). */
void stats_paired_ci(const double *a, const double *b, size_t n, double *d,
                     stats_ci *ci);

/* 95% interval for the difference of two independent means, a minus b,
 * from their summaries (Welch: unequal variances, Welch-Satterthwaite
 * degrees of freedom rounded down).  ci->n is the smaller n; valid only
 * when both n >= 2; sd is the standard error of the difference. */
void stats_welch_ci(const stats_summary *a, const stats_summary *b, stats_ci *ci);

#endif
