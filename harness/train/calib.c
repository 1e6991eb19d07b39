/* calib.c - error, NLL and ECE of predicted probabilities; see calib.h. */
#include "train/calib.h"

#include <math.h>
#include <string.h>

void db_calib_init(db_calib *c) { memset(c, 0, sizeof *c); }

void db_calib_add(db_calib *c, const float *probs, const uint8_t *labels, size_t B,
                  size_t K)
{
    for (size_t b = 0; b < B; b++) {
        const float *p = probs + b * K;
        size_t arg = 0;
        for (size_t k = 1; k < K; k++)
            if (p[k] > p[arg])
                arg = k;
        const double conf = p[arg];
        const int right = arg == labels[b];
        /* bin k: k/15 < conf <= (k+1)/15 */
        long k = (long)ceil(conf * DB_CALIB_BINS) - 1;
        k = k < 0 ? 0 : k >= DB_CALIB_BINS ? DB_CALIB_BINS - 1 : k;
        c->bin_n[k]++;
        c->bin_conf[k] += conf;
        c->bin_right[k] += (size_t)right;
        double pl = p[labels[b]];
        c->nll -= log(pl > DB_CALIB_PMIN ? pl : DB_CALIB_PMIN);
        c->wrong += (size_t)!right;
        c->n++;
    }
}

void db_calib_result(const db_calib *c, double *err_pct, double *nll, double *ece)
{
    *err_pct = *nll = *ece = 0;
    if (c->n == 0)
        return;
    const double n = (double)c->n;
    *err_pct = 100.0 * (double)c->wrong / n;
    *nll = c->nll / n;
    double s = 0;
    for (int k = 0; k < DB_CALIB_BINS; k++) {
        if (c->bin_n[k] == 0)
            continue;
        const double nk = (double)c->bin_n[k];
        s += nk / n * fabs((double)c->bin_right[k] / nk - c->bin_conf[k] / nk);
    }
    *ece = s;
}
