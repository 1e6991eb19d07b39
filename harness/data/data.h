/* data.h - the data sets dropbench trains on (MNIST, Fashion-MNIST, CIFAR-10,
 * wordlang v1), loaded from the files scripts/fetch-data writes.
 *
 * Images stay uint8 in memory and are converted per batch.  Every loader
 * validates what it reads (magic, dimensions, sizes against the header, label
 * range, record counts, encoding) and fails with a message naming the file. */
#ifndef DB_DATA_H
#define DB_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "dberr.h"

enum db_data_kind { DB_DATA_IMAGE = 0, DB_DATA_TEXT = 1 };

typedef struct db_split {
    size_t n;       /* examples */
    uint8_t *x;     /* image: n * C*H*W bytes (planar CHW per image);
                       text: n * T bytes, zero past each word's length */
    uint32_t *len;  /* text: bytes per word (1..T); NULL for images */
    uint8_t *y;     /* n labels, each < classes */
    float *xf;      /* images after a preprocessing (data/preprocess.h),
                       n * C*H*W floats, used as they are; NULL: none */
} db_split;

#define DB_DATA_MAX_FILES 8

typedef struct db_data_file {
    char name[64];      /* file name within the set's folder */
    char sha256[65];    /* computed while reading, lowercase hex */
    int verified;       /* 1 when sha256 equals the docs/DATA.md value */
} db_data_file;

typedef struct db_dataset {
    char name[16];      /* "mnist", "fashion", "cifar10", "wordlang" */
    int kind;           /* enum db_data_kind */
    size_t C, H, W;     /* images */
    size_t T, vocab;    /* text: max bytes per word (16), vocabulary (256) */
    size_t classes;
    db_split train, test;
    /* Per-channel normalisation applied per batch: x = (byte/255 - mean)/std.
     * mean 0, std 1 for MNIST and Fashion (pixels/255); CIFAR-10: the
     * training set's per-channel mean and std, checked finite at load. */
    float mean[3], std[3];
    size_t nfiles;
    db_data_file files[DB_DATA_MAX_FILES];
} db_dataset;

/* Largest payload any loader accepts from one file (bytes of image/label
 * data after decompression); headers claiming more are rejected before any
 * allocation.  The biggest real file (MNIST training images) is 47 MB. */
#define DB_DATA_MAX_BYTES ((size_t)100000000)
/* Largest wordlang TSV accepted (the real train.tsv is about 100 KB). */
#define DB_DATA_MAX_TEXT_BYTES ((size_t)16 << 20)

/* The known sets in a fixed order: i = 0.. until NULL. */
const char *db_data_set_name(size_t i);
/* Number of files of set `set` (0 if unknown); fills names[i] and the
 * docs/DATA.md sha256 of each (either array may be NULL; room for
 * DB_DATA_MAX_FILES).  The strings are static. */
size_t db_data_set_files(const char *set, const char **names,
                         const char **sha256);

/* The data folder: $DROPBENCH_DATA if set, else "data". */
const char *db_data_root(void);

/* Loads set `name` from root/<name>/ (root NULL: db_data_root()).  On failure
 * nothing is left allocated.  The caller frees with db_dataset_free. */
int db_dataset_load(db_dataset *d, const char *name, const char *root,
                    db_err *e);
void db_dataset_free(db_dataset *d);
/* 1 when every file of a loaded set matched its docs/DATA.md sha256. */
int db_dataset_verified(const db_dataset *d);

/* Converts examples idx[0..n) of split s to floats with the set's
 * normalisation (or copies them from s->xf when preprocessed): out is
 * (n, C, H, W). */
void db_batch_images(float *out, const db_dataset *d, const db_split *s,
                     const uint32_t *idx, size_t n);
/* Text: copies tokens (n, T) and lengths (n). */
void db_batch_text(uint8_t *tok, uint32_t *len, const db_dataset *d,
                   const db_split *s, const uint32_t *idx, size_t n);

/* An IDX file: big-endian magic 0x000008NN (unsigned bytes, NN
 * dimensions), NN big-endian uint32 dimensions, then the bytes.  Plain or
 * gzip-compressed (recognised by its first two bytes).  The magic must say
 * exactly `ndim` (1..3) dimensions; no dimension may be 0; the payload must
 * match the file size (plain) or the decompressed stream exactly (gzip), and
 * be at most DB_DATA_MAX_BYTES. */
typedef struct db_idx {
    size_t ndim;
    size_t dims[3];
    size_t n_bytes;     /* product of dims */
    uint8_t *data;      /* owned; db_idx_free */
    char sha256[65];    /* of the file as stored (compressed, for gzip) */
} db_idx;
int db_idx_load(db_idx *x, const char *path, size_t ndim, db_err *e);
void db_idx_free(db_idx *x);

/* 1 when p[0..n) is strict UTF-8 (no overlong forms, no surrogates, nothing
 * above U+10FFFF), as docs/DATA.md requires of wordlang words. */
int db_utf8_valid(const uint8_t *p, size_t n);

#endif
