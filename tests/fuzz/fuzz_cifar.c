/* fuzz_cifar.c - the CIFAR-10 binary loader (db_dataset_load "cifar10"):
 * five training batches and a test batch.  Byte 0 picks the file (0..5) that
 * holds the rest of the input; every other file holds one valid record. */
#include "fuzz_common.h"

#include <math.h>

#include "data/data.h"

int fuzz_cifar_one(const uint8_t *data, size_t size);

int fuzz_cifar_one(const uint8_t *data, size_t size)
{
    static const char *const name[6] = {
        "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
        "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"
    };
    if (size < 1)
        return 0;
    size_t pick = data[0] % 6;
    static uint8_t rec[3073];
    for (size_t i = 1; i < sizeof rec; i++)
        rec[i] = (uint8_t)(i * 7);
    rec[0] = 3;
    fuzz_mkdir(fuzz_path("cifar10"));
    for (size_t f = 0; f < 6; f++) {
        char p[64];
        snprintf(p, sizeof p, "cifar10/%s", name[f]);
        if (f == pick)
            fuzz_write(fuzz_path(p), data + 1, size - 1);
        else
            fuzz_write(fuzz_path(p), rec, sizeof rec);
    }
    db_dataset d;
    db_err e = { "" };
    int rc = db_dataset_load(&d, "cifar10", fuzz_dir(), &e);
    FUZZ_REQUIRE_MSG(rc, e);
    if (rc == 0) {
        FUZZ_CHECK(d.C == 3 && d.H == 32 && d.W == 32 && d.classes == 10);
        FUZZ_CHECK(d.train.n >= 4 && d.test.n >= 1);
        for (size_t i = 0; i < d.train.n; i++)
            FUZZ_CHECK(d.train.y[i] < 10);
        for (size_t i = 0; i < d.test.n; i++)
            FUZZ_CHECK(d.test.y[i] < 10);
        for (int c = 0; c < 3; c++)
            FUZZ_CHECK(isfinite(d.mean[c]) && isfinite(d.std[c]) && d.std[c] > 0);
        /* the last pixel of each split is readable (ASan checks the size) */
        volatile uint8_t last[2];
        last[0] = d.train.x[d.train.n * 3072 - 1];
        last[1] = d.test.x[d.test.n * 3072 - 1];
        (void)last;
        db_dataset_free(&d);
    }
    return rc;
}

FUZZ_ENTRY(fuzz_cifar_one)
