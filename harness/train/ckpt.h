/* ckpt.h - mid-run checkpoints (docs/CHECKPOINTS.md).
 *
 * At the end of each epoch but the last, run_execute writes everything the
 * rest of the run depends on to <result>.ckpt, atomically (temporary file,
 * fsync, rename): the weights, the momentum, every random stream (data
 * order and each dropout site), the data order itself, the per-epoch
 * statistics and the elapsed times.  A rerun of the same run (same run id,
 * same code version, same sizes) continues from there and its result is
 * bit-identical to an uninterrupted run's.  The checkpoint is removed once
 * the result is written.
 *
 * run_execute allocates the buffer (db_ckpt_size bytes) before training: a
 * checkpoint write allocates nothing. */
#ifndef DB_CKPT_H
#define DB_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "dberr.h"
#include "rng.h"
#include "train/model.h"

#define DB_CKPT_MAGIC "DBCKPT\r\n"
#define DB_CKPT_FORMAT 2
#define DB_CKPT_HEADER 256      /* bytes before the payload */
#define DB_CKPT_KERNELS 64      /* the kernels field, NUL included */

/* What a checkpoint holds, as pointers into the run's own state.  Sizes
 * (nparams from the model, ntrain_all, epochs, ep_doubles) must match the
 * file's for it to be used. */
typedef struct db_ckpt_view {
    const char *run_id;        /* 16 hex digits */
    const char *kernels;       /* "<OpenBLAS core>/<conv kernels>": what
                                  rounds the run's arithmetic; a checkpoint
                                  of other kernels is refused (at most
                                  DB_CKPT_KERNELS - 1 bytes are kept) */
    db_model *m;               /* params, velocity, dropout streams, timing */
    db_rng *order;             /* the data-order stream */
    uint32_t *train_idx;       /* the whole permutation, ntrain_all long */
    size_t ntrain_all;
    double *ep;                /* epochs * ep_doubles per-epoch numbers */
    size_t epochs, ep_doubles;
    size_t *done_epochs;
    uint64_t *order_fp;
    double *times;             /* ntimes elapsed-time counters */
    size_t ntimes;
    double *extra;             /* nextra more doubles (a Monte-Carlo run's
                                  calibration of the finished epochs); */
    size_t nextra;             /* 0: none, and the format is the one before */
} db_ckpt_view;

/* Bytes a checkpoint of v takes (header + payload). */
size_t db_ckpt_size(const db_ckpt_view *v);

/* Serialises v into buf (cap >= db_ckpt_size(v)); returns the length. */
size_t db_ckpt_encode(unsigned char *buf, size_t cap, const db_ckpt_view *v);

/* Checks buf[0..n) (magic, format, byte order, run id, code version,
 * kernels, sizes, payload SHA-256) against v and, only when all agree, copies its
 * state into v.  -1 with the reason in e (v untouched) otherwise. */
int db_ckpt_decode(const unsigned char *buf, size_t n, db_ckpt_view *v, db_err *e);

/* Parses only the header and payload checksum of buf[0..n): 0 when it is a
 * well-formed checkpoint of any run (used by the fuzzer and `info`-style
 * tools); run_id gets its id (17 bytes), kernels its kernels (either may
 * be NULL). */
int db_ckpt_check(const unsigned char *buf, size_t n, char run_id[17],
                  char kernels[DB_CKPT_KERNELS], db_err *e);

/* "<result_path>.ckpt" into out. -1 when it does not fit. */
int db_ckpt_path(char *out, size_t n, const char *result_path);

#endif
