/* fuzz_checkpoint.c - db_ckpt_decode (train/ckpt.h), the mid-run checkpoint
 * reader, against a small fixed run: 4 parameters, one dropout site, 5
 * training examples, 3 epochs of 9 numbers, 2 time counters, run id
 * "0123456789abcdef", kernels "Haswell/direct-avx2+winograd".  Input: the checkpoint file.  A checkpoint that is
 * accepted must leave a usable state (the data order in range, 1..2 epochs
 * done); one that is refused must leave the run's state untouched. */
#include "fuzz_common.h"

#include "train/ckpt.h"

int fuzz_checkpoint_one(const uint8_t *data, size_t size);

int fuzz_checkpoint_one(const uint8_t *data, size_t size)
{
    static db_model m;
    static float params[4], grads[4], velocity[4];
    static uint32_t idx[5];
    static double ep[27], times[2];
    memset(&m, 0, sizeof m);
    m.nl = 2;
    m.L[0].spec.type = DB_LAYER_DENSE;
    m.L[1].spec.type = DB_LAYER_DROPOUT;
    m.nparams = 4;
    m.params = params;
    m.grads = grads;
    m.velocity = velocity;
    for (uint32_t i = 0; i < 5; i++)
        idx[i] = i;
    db_rng order = { { 1, 2, 3, 4 } };
    size_t done = 0;
    uint64_t fp = 0;
    db_ckpt_view v = { "0123456789abcdef", "Haswell/direct-avx2+winograd", &m, &order, idx, 5, ep, 3, 9, &done, &fp,
                       times, 2, NULL, 0 };
    db_err e = { "" };
    int rc = db_ckpt_decode(data, size, &v, &e);
    FUZZ_REQUIRE_MSG(rc, e);
    if (rc == 0) {
        FUZZ_CHECK(done >= 1 && done <= 2);
        for (size_t i = 0; i < 5; i++)
            FUZZ_CHECK(idx[i] < 5);
        /* what was read writes back to the same payload */
        static unsigned char buf[1024];
        FUZZ_CHECK(db_ckpt_size(&v) == size && size <= sizeof buf);
        FUZZ_CHECK(db_ckpt_encode(buf, sizeof buf, &v) == size);
        FUZZ_CHECK(memcmp(buf + DB_CKPT_HEADER, data + DB_CKPT_HEADER,
                          size - DB_CKPT_HEADER) == 0);
    } else {
        FUZZ_CHECK(done == 0 && fp == 0 && order.s[0] == 1);
        for (size_t i = 0; i < 5; i++)
            FUZZ_CHECK(idx[i] == i);
    }
    return rc;
}

FUZZ_ENTRY(fuzz_checkpoint_one)
