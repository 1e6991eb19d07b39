/* calib.h - what a set of predicted class probabilities says about
 * calibration: error, negative log-likelihood and expected calibration
 * error (docs/MODERN.md), accumulated batch by batch with no allocation.
 *
 * ECE (Naeini et al. 2015; Guo et al. 2017): the examples fall into
 * DB_CALIB_BINS equal-width bins by their confidence c = the largest
 * probability, bin k holding lo < c <= hi with lo = k / 15, hi = (k + 1) / 15;
 * ECE = sum over bins of (n_k / n) |accuracy_k - mean confidence_k|.
 * The prediction is the first class of the largest probability, accuracy
 * whether it is the label.  NLL = mean of -log(p[label]), p clamped below at
 * DB_CALIB_PMIN (so one p of 0 gives a large, finite number). */
#ifndef DB_CALIB_H
#define DB_CALIB_H

#include <stddef.h>
#include <stdint.h>

#define DB_CALIB_BINS 15
#define DB_CALIB_PMIN 1e-12

typedef struct db_calib {
    size_t n, wrong;
    double nll;                     /* sum */
    size_t bin_n[DB_CALIB_BINS];
    double bin_conf[DB_CALIB_BINS]; /* sum of confidences */
    size_t bin_right[DB_CALIB_BINS];
} db_calib;

void db_calib_init(db_calib *c);
/* Adds B examples: probs (B, K) rows summing to 1, labels (B). */
void db_calib_add(db_calib *c, const float *probs, const uint8_t *labels, size_t B,
                  size_t K);
/* Error in percent, mean NLL and ECE (a fraction in [0, 1]); all 0 for no
 * examples. */
void db_calib_result(const db_calib *c, double *err_pct, double *nll, double *ece);

#endif
