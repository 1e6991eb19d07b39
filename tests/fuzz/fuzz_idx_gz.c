/* fuzz_idx_gz.c - db_idx_load's gzip path with structured payloads: the
 * input after two control bytes is gzip-compressed here, so the fuzzer
 * mutates the IDX content rather than the deflate stream (fuzz_idx covers raw
 * gzip bytes).  Byte 0 picks the rank (1..3); byte 1 damages the compressed
 * file: bits 0-5 cut that many bytes off its end, bit 6 appends a second gzip
 * member holding the payload again, bit 7 flips a byte of the trailer. */
#include "fuzz_common.h"

#include <zlib.h>

#include "data/data.h"

int fuzz_idx_gz_one(const uint8_t *data, size_t size);

/* gzip (RFC 1952) of p[0..n) into a malloc'd buffer. */
static uint8_t *fuzz_gzip(const uint8_t *p, size_t n, size_t *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    size_t cap = deflateBound(&z, (uLong)n) + 16;
    uint8_t *buf = malloc(cap);
    if (!buf)
        abort();
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        abort();
    *out = cap - z.avail_out;
    deflateEnd(&z);
    return buf;
}

int fuzz_idx_gz_one(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t ndim = 1 + data[0] % 3;
    unsigned ctl = data[1];
    size_t n1, n2 = 0;
    uint8_t *g1 = fuzz_gzip(data + 2, size - 2, &n1), *g2 = NULL;
    if (ctl & 0x40)
        g2 = fuzz_gzip(data + 2, size - 2, &n2);
    size_t cut = ctl & 0x3f;
    if (cut > n1)
        cut = n1;
    n1 -= cut;
    if ((ctl & 0x80) && n1 > 4)
        g1[n1 - 3] ^= 0x5a;   /* CRC/length trailer */
    uint8_t *all = malloc(n1 + n2 + 1);
    if (!all)
        abort();
    memcpy(all, g1, n1);
    if (g2)
        memcpy(all + n1, g2, n2);
    const char *path = fuzz_path("f.idx.gz");
    fuzz_write(path, all, n1 + n2);
    free(all);
    free(g1);
    free(g2);

    db_idx x;
    db_err e = { "" };
    int rc = db_idx_load(&x, path, ndim, &e);
    FUZZ_REQUIRE_MSG(rc, e);
    if (rc == 0) {
        size_t total = 1;
        for (size_t i = 0; i < ndim; i++)
            total *= x.dims[i];
        FUZZ_CHECK(total == x.n_bytes && x.data != NULL);
        /* an intact single member must give back exactly the payload */
        if (cut == 0 && !(ctl & 0xc0))
            FUZZ_CHECK(size - 2 == 4 + 4 * ndim + x.n_bytes &&
                       memcmp(x.data, data + 2 + 4 + 4 * ndim, x.n_bytes) == 0);
        db_idx_free(&x);
    }
    return rc;
}

FUZZ_ENTRY(fuzz_idx_gz_one)
