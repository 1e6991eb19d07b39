/* fuzz_png.c - the CIFAR PNG converter (harness/data/png_cifar.c, behind
 * scripts/cifar_png2bin).  An input starting with '[' is a label file for
 * db_cifar_labels_parse; anything else is a PNG strip converted with 100000
 * labels available, the records going to /dev/null. */
#include "fuzz_common.h"

#include "data/png_cifar.h"

int fuzz_png_one(const uint8_t *data, size_t size);

int fuzz_png_one(const uint8_t *data, size_t size)
{
    db_err e = { "" };
    int rc;
    if (size > 0 && data[0] == '[') {
        unsigned char *lab = NULL;
        size_t n = 0;
        rc = db_cifar_labels_parse(&lab, &n, (const char *)data, size, "labels", &e);
        FUZZ_REQUIRE_MSG(rc, e);
        if (rc == 0) {
            FUZZ_CHECK(lab != NULL);
            for (size_t i = 0; i < n; i++)
                FUZZ_CHECK(lab[i] <= 9);
        }
        free(lab);
        return rc;
    }
    static unsigned char lab[DB_PNG_CIFAR_MAX_ROWS];
    for (size_t i = 0; i < sizeof lab; i++)
        lab[i] = (unsigned char)(i % 10);
    const char *in = fuzz_path("strip.png");
    fuzz_write(in, data, size);
    FILE *f = fopen(in, "rb");
    FILE *out = fopen("/dev/null", "wb");
    if (!f || !out)
        abort();
    size_t rows = 0;
    rc = db_png_cifar_convert(f, in, out, "/dev/null", lab, sizeof lab, 0, 0, &rows, &e);
    FUZZ_REQUIRE_MSG(rc, e);
    if (rc == 0)
        FUZZ_CHECK(rows >= 1 && rows <= DB_PNG_CIFAR_MAX_ROWS);
    fclose(f);
    fclose(out);
    return rc;
}

FUZZ_ENTRY(fuzz_png_one)
