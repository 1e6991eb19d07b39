/* fuzz_idx.c - db_idx_load (IDX, plain or gzip by its first two bytes).
 * Input: byte 0 picks the rank (1..3), the rest is the file. */
#include "fuzz_common.h"

#include "data/data.h"

int fuzz_idx_one(const uint8_t *data, size_t size);

int fuzz_idx_one(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t ndim = 1 + data[0] % 3;
    const char *path = fuzz_path("f.idx");
    fuzz_write(path, data + 1, size - 1);
    db_idx x;
    db_err e = { "" };
    int rc = db_idx_load(&x, path, ndim, &e);
    FUZZ_REQUIRE_MSG(rc, e);
    if (rc == 0) {
        size_t total = 1;
        FUZZ_CHECK(x.ndim == ndim);
        for (size_t i = 0; i < ndim; i++) {
            FUZZ_CHECK(x.dims[i] > 0);
            total *= x.dims[i];
        }
        FUZZ_CHECK(total == x.n_bytes && x.data != NULL);
        FUZZ_CHECK(x.n_bytes <= DB_DATA_MAX_BYTES);
        FUZZ_CHECK(strlen(x.sha256) == 64);
        volatile uint8_t sum = 0;   /* touch every byte: ASan checks the size */
        for (size_t i = 0; i < x.n_bytes; i++)
            sum ^= x.data[i];
        (void)sum;
        db_idx_free(&x);
    } else {
        FUZZ_CHECK(x.data == NULL);
    }
    return rc;
}

FUZZ_ENTRY(fuzz_idx_one)
