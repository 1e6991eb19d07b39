#include "report/stats.h"

#include <math.h>
#include <string.h>

/* t_{0.975, df} for df = 1..30. */
static const double t95_table[30] = {
    12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624,
    2.306004,  2.262157, 2.228139, 2.200985, 2.178813, 2.160369, 2.144787,
    2.131450,  2.119905, 2.109816, 2.100922, 2.093024, 2.085963, 2.079614,
    2.073873,  2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407,
    2.045230,  2.042272,
};

double stats_t95(size_t df)
{
    if (df < 1)
        return 0.0;
    if (df <= 30)
        return t95_table[df - 1];
    /* Cornish-Fisher expansion around the normal quantile: within 1e-4 of
     * the exact value for df > 30 (e.g. 2.0211 at df = 40). */
    const double z = 1.959964, v = (double)df;
    return z + (z * z * z + z) / (4.0 * v) +
           (5.0 * pow(z, 5) + 16.0 * z * z * z + 3.0 * z) / (96.0 * v * v);
}

void stats_summarize(const double *x, size_t n, stats_summary *s)
{
    s->n = n;
    s->mean = 0.0;
    s->sd = 0.0;
    if (n == 0)
        return;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    s->mean = sum / (double)n;
    if (n < 2)
        return;
    /* two passes: the deviations are small next to the means (errors in %) */
    double ss = 0.0;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - s->mean) * (x[i] - s->mean);
    s->sd = sqrt(ss / (double)(n - 1));
}

void stats_mean_ci(const double *x, size_t n, stats_ci *ci)
{
    stats_summary s;
    stats_summarize(x, n, &s);
    ci->n = n;
    ci->mean = s.mean;
    ci->sd = s.sd;
    ci->valid = n >= 2;
    ci->half = ci->lo = ci->hi = 0.0;
    ci->significant = 0;
    if (!ci->valid)
        return;
    ci->half = stats_t95(n - 1) * s.sd / sqrt((double)n);
    ci->lo = s.mean - ci->half;
    ci->hi = s.mean + ci->half;
    ci->significant = ci->lo > 0.0 || ci->hi < 0.0;
}

void stats_paired_ci(const double *a, const double *b, size_t n, double *d,
                     stats_ci *ci)
{
    for (size_t i = 0; i < n; i++)
        d[i] = a[i] - b[i];
    stats_mean_ci(d, n, ci);
}

void stats_welch_ci(const stats_summary *a, const stats_summary *b, stats_ci *ci)
{
    memset(ci, 0, sizeof *ci);
    ci->n = a->n < b->n ? a->n : b->n;
    ci->mean = a->mean - b->mean;
    if (a->n < 2 || b->n < 2)
        return;
    double va = a->sd * a->sd / (double)a->n, vb = b->sd * b->sd / (double)b->n;
    double se2 = va + vb;
    ci->valid = 1;
    ci->sd = sqrt(se2);
    if (se2 == 0.0) {
        ci->significant = ci->mean != 0.0;
        ci->lo = ci->hi = ci->mean;
        return;
    }
    /* Welch-Satterthwaite degrees of freedom, rounded down (a wider,
     * conservative interval) and at least 1. */
    double df = se2 * se2 / (va * va / (double)(a->n - 1) + vb * vb / (double)(b->n - 1));
    size_t dfi = df < 1.0 ? 1 : (size_t)floor(df);
    ci->half = stats_t95(dfi) * sqrt(se2);
    ci->lo = ci->mean - ci->half;
    ci->hi = ci->mean + ci->half;
    ci->significant = ci->lo > 0.0 || ci->hi < 0.0;
}
