/* data.c - loaders for the four data sets (see data.h and docs/DATA.md).
 *
 * Every file is hashed while it is read, so verification costs no extra pass
 * (except for gzip files, whose compressed bytes are hashed in a first pass).
 * Sizes claimed by headers are checked against the real file size, or for
 * gzip against DB_DATA_MAX_BYTES with incremental reads, before anything
 * large is allocated. */
#include "data/data.h"
#include "data/sha256.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util/fs.h"

#define CIFAR_PIX 1024                  /* pixels per channel */
#define CIFAR_REC (1 + 3 * CIFAR_PIX)   /* bytes per record */
#define WORD_T 16

/* ---- the published sets --------------------------------------------------- */

typedef struct set_spec {
    const char *name;
    int kind;
    size_t C, H, W, T, vocab, classes;
    size_t nfiles;
    const char *file[DB_DATA_MAX_FILES];
    const char *sha[DB_DATA_MAX_FILES];   /* from docs/DATA.md */
} set_spec;

/* File order: images first, then labels; train before test.  CIFAR: the five
 * training batches, then the test batch.  wordlang: train, test. */
static const set_spec SETS[] = {
    {"mnist", DB_DATA_IMAGE, 1, 28, 28, 0, 0, 10, 4,
     {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
      "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
     {"ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
      "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
      "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
      "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"}},
    {"fashion", DB_DATA_IMAGE, 1, 28, 28, 0, 0, 10, 4,
     {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
      "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"},
     {"b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
      "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
      "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
      "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"}},
    {"cifar10", DB_DATA_IMAGE, 3, 32, 32, 0, 0, 10, 6,
     {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
      "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"},
     {"cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5",
      "a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed",
      "bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67",
      "014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48",
      "755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add",
      "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b"}},
    {"wordlang", DB_DATA_TEXT, 0, 0, 0, WORD_T, 256, 10, 2,
     {"train.tsv", "test.tsv"},
     {"f369420af03946ba60c440a60b8c3d9cc29b1d26f51c560adf4036f5410e51b5",
      "3eb4c0bd2a6bb8990368e5b4a293a4e6ad0400c2ff9a500a5808f47487c06aba"}},
};
#define NSETS (sizeof SETS / sizeof SETS[0])

static const set_spec *find_set(const char *name)
{
    for (size_t i = 0; i < NSETS; i++)
        if (!strcmp(SETS[i].name, name))
            return &SETS[i];
    return NULL;
}

const char *db_data_set_name(size_t i)
{
    return i < NSETS ? SETS[i].name : NULL;
}

size_t db_data_set_files(const char *set, const char **names,
                         const char **sha256)
{
    const set_spec *s = find_set(set);
    if (!s)
        return 0;
    for (size_t i = 0; i < s->nfiles; i++) {
        if (names)
            names[i] = s->file[i];
        if (sha256)
            sha256[i] = s->sha[i];
    }
    return s->nfiles;
}

const char *db_data_root(void)
{
    const char *r = getenv("DROPBENCH_DATA");
    return r && *r ? r : "data";
}

/* ---- small helpers --------------------------------------------------------- */

static int join(char *out, size_t cap, const char *a, const char *b,
                const char *c, db_err *e)
{
    int n = snprintf(out, cap, "%s/%s/%s", a, b, c);
    if (n < 0 || (size_t)n >= cap)
        return db_fail(e, "%s/%s/%s: path too long", a, b, c);
    return 0;
}

/* Opens a regular file and reports its size (never blocks on a FIFO). */
static FILE *open_regular(const char *path, size_t *size, db_err *e)
{
    int fd = db_open_regular(path, size, e);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        db_fail(e, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

/* Reads exactly n bytes into p, hashing them. */
static int read_hashed(FILE *f, void *p, size_t n, db_sha256 *h,
                       const char *path, db_err *e)
{
    size_t got = fread(p, 1, n, f);
    if (got != n)
        return db_fail(e, "%s: %s after %zu of %zu bytes", path,
                       ferror(f) ? "read error" : "unexpected end of file",
                       got, n);
    db_sha256_update(h, p, n);
    return 0;
}

static int at_eof(FILE *f, const char *path, db_err *e)
{
    if (fgetc(f) != EOF)
        return db_fail(e, "%s: file grew while being read", path);
    if (ferror(f))
        return db_fail(e, "%s: read error", path);
    return 0;
}

static void finish_hash(db_sha256 *h, char hex[65])
{
    uint8_t d[32];
    db_sha256_final(h, d);
    db_sha256_hex(d, hex);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

/* ---- IDX ----------------------------------------------------------------- */

/* zlib's error text without the name it prefixes ("<fd:N>: " for a stream
 * opened with gzdopen, or the path): the caller names the file once. */
static const char *gz_message(gzFile g, int *code)
{
    const char *msg = gzerror(g, code);
    const char *colon = strstr(msg, ": ");
    return colon ? colon + 2 : msg;
}

/* Header checks shared by plain and gzip: magic, dims, and the payload size
 * (product of dims, at most DB_DATA_MAX_BYTES). */
static int idx_header(db_idx *x, const uint8_t *hdr, size_t ndim,
                      const char *path, db_err *e)
{
    uint32_t magic = be32(hdr), want = 0x00000800u | (uint32_t)ndim;
    if (magic != want)
        return db_fail(e, "%s: bad magic 0x%08x (expected 0x%08x: IDX of "
                       "unsigned bytes with %zu dimension%s)", path, magic,
                       want, ndim, ndim == 1 ? "" : "s");
    size_t total = 1;
    x->ndim = ndim;
    for (size_t i = 0; i < ndim; i++) {
        uint32_t d = be32(hdr + 4 + 4 * i);
        if (d == 0)
            return db_fail(e, "%s: dimension %zu is 0", path, i);
        x->dims[i] = d;
        if (total > DB_DATA_MAX_BYTES / d)
            return db_fail(e, "%s: header claims more than %llu bytes of data "
                           "(dimension %zu is %u)", path,
                           (unsigned long long)DB_DATA_MAX_BYTES, i, d);
        total *= d;
    }
    x->n_bytes = total;
    return 0;
}

static int idx_load_plain(db_idx *x, FILE *f, size_t size, size_t ndim,
                          const char *path, db_err *e)
{
    uint8_t hdr[16];
    size_t hlen = 4 + 4 * ndim;
    db_sha256 h;
    db_sha256_init(&h);
    if (size < hlen)
        return db_fail(e, "%s: truncated: %zu bytes, shorter than the %zu-byte "
                       "IDX header", path, size, hlen);
    if (read_hashed(f, hdr, hlen, &h, path, e) ||
        idx_header(x, hdr, ndim, path, e))
        return -1;
    if (size - hlen != x->n_bytes)
        return db_fail(e, "%s: file size %zu does not match its header "
                       "(%zu header bytes + %zu data bytes expected)%s", path,
                       size, hlen, x->n_bytes,
                       size - hlen < x->n_bytes ? ": truncated" : ": trailing bytes");
    x->data = malloc(x->n_bytes);
    if (!x->data)
        return db_fail(e, "%s: out of memory for %zu bytes", path, x->n_bytes);
    if (read_hashed(f, x->data, x->n_bytes, &h, path, e) || at_eof(f, path, e))
        return -1;
    finish_hash(&h, x->sha256);
    return 0;
}

static int gz_read(gzFile g, void *p, size_t n, size_t *got, const char *path,
                   db_err *e)
{
    *got = 0;
    while (*got < n) {
        size_t want = n - *got;
        if (want > (1u << 30))
            want = 1u << 30;
        int r = gzread(g, (uint8_t *)p + *got, (unsigned)want);
        if (r < 0) {
            int code;
            const char *msg = gz_message(g, &code);
            return db_fail(e, "%s: corrupt gzip data: %s", path, msg);
        }
        if (r == 0) {
            /* zlib reports a stream cut short as a soft error */
            int code;
            const char *msg = gz_message(g, &code);
            if (code != Z_OK)
                return db_fail(e, "%s: truncated or corrupt gzip data: %s",
                               path, msg);
            break;
        }
        *got += (size_t)r;
    }
    return 0;
}

static int idx_load_gz(db_idx *x, size_t size, size_t ndim, const char *path,
                       db_err *e)
{
    if (size > DB_DATA_MAX_BYTES)
        return db_fail(e, "%s: %zu bytes, larger than any supported file", path,
                       size);
    if (db_sha256_file(path, x->sha256, e))
        return -1;
    int fd = db_open_regular(path, NULL, e);
    if (fd < 0)
        return -1;
    gzFile g = gzdopen(fd, "rb");
    if (!g) {
        close(fd);
        return db_fail(e, "%s: cannot open: out of memory", path);
    }
    uint8_t hdr[16];
    size_t hlen = 4 + 4 * ndim, got;
    int rc = -1;
    if (gz_read(g, hdr, hlen, &got, path, e))
        goto out;
    if (got < hlen) {
        db_fail(e, "%s: truncated: %zu uncompressed bytes, shorter than the "
                "%zu-byte IDX header", path, got, hlen);
        goto out;
    }
    if (idx_header(x, hdr, ndim, path, e))
        goto out;
    /* Grow the buffer as data arrives, so a small file whose header claims a
     * huge payload fails at its real end instead of allocating the claim. */
    size_t cap = 0, have = 0;
    while (have < x->n_bytes) {
        if (have == cap) {
            size_t nc = cap ? 2 * cap : (size_t)1 << 20;
            if (nc > x->n_bytes)
                nc = x->n_bytes;
            uint8_t *p = realloc(x->data, nc);
            if (!p) {
                db_fail(e, "%s: out of memory for %zu bytes", path, nc);
                goto out;
            }
            x->data = p;
            cap = nc;
        }
        if (gz_read(g, x->data + have, cap - have, &got, path, e))
            goto out;
        have += got;
        if (have < cap)
            break;
    }
    if (have < x->n_bytes) {
        db_fail(e, "%s: truncated: header claims %zu data bytes, the file "
                "holds %zu", path, x->n_bytes, have);
        goto out;
    }
    uint8_t extra;
    if (gz_read(g, &extra, 1, &got, path, e))
        goto out;
    if (got) {
        db_fail(e, "%s: trailing data after the %zu bytes its header claims",
                path, x->n_bytes);
        goto out;
    }
    rc = 0;
out:
    gzclose(g);
    return rc;
}

int db_idx_load(db_idx *x, const char *path, size_t ndim, db_err *e)
{
    memset(x, 0, sizeof *x);
    if (ndim < 1 || ndim > 3)
        return db_fail(e, "%s: unsupported IDX rank %zu", path, ndim);
    size_t size;
    FILE *f = open_regular(path, &size, e);
    if (!f)
        return -1;
    uint8_t sig[2] = {0, 0};
    size_t nsig = fread(sig, 1, 2, f);
    int rc;
    if (ferror(f)) {
        rc = db_fail(e, "%s: read error", path);
    } else if (nsig == 2 && sig[0] == 0x1f && sig[1] == 0x8b) {
        fclose(f);
        f = NULL;
        rc = idx_load_gz(x, size, ndim, path, e);
    } else {
        rewind(f);
        rc = idx_load_plain(x, f, size, ndim, path, e);
    }
    if (f)
        fclose(f);
    if (rc)
        db_idx_free(x);
    return rc;
}

void db_idx_free(db_idx *x)
{
    free(x->data);
    x->data = NULL;
}

/* ---- per-set loaders --------------------------------------------------------- */

static void record_file(db_dataset *d, const set_spec *s, size_t i,
                        const char *sha)
{
    db_data_file *f = &d->files[i];
    snprintf(f->name, sizeof f->name, "%s", s->file[i]);
    memcpy(f->sha256, sha, 65);
    f->verified = strcmp(sha, s->sha[i]) == 0;
}

static int check_labels(const uint8_t *y, size_t n, size_t classes,
                        const char *path, db_err *e)
{
    for (size_t i = 0; i < n; i++)
        if (y[i] >= classes)
            return db_fail(e, "%s: label %u of example %zu out of range 0..%zu",
                           path, y[i], i, classes - 1);
    return 0;
}

/* MNIST and Fashion: images (n, H, W) + labels (n), plain or gzip. */
static int load_idx_split(db_dataset *d, const set_spec *s, db_split *sp,
                          size_t fi, const char *dir, db_err *e)
{
    char ip[4096], lp[4096];
    if (join(ip, sizeof ip, dir, s->name, s->file[fi], e) ||
        join(lp, sizeof lp, dir, s->name, s->file[fi + 1], e))
        return -1;
    db_idx im, lb;
    if (db_idx_load(&im, ip, 3, e))
        return -1;
    if (im.dims[1] != s->H || im.dims[2] != s->W) {
        db_idx_free(&im);
        return db_fail(e, "%s: images are %zux%zu, expected %zux%zu", ip,
                       im.dims[1], im.dims[2], s->H, s->W);
    }
    if (db_idx_load(&lb, lp, 1, e)) {
        db_idx_free(&im);
        return -1;
    }
    int rc = 0;
    if (lb.dims[0] != im.dims[0])
        rc = db_fail(e, "%s: %zu labels, but %s holds %zu images", lp,
                     lb.dims[0], ip, im.dims[0]);
    else
        rc = check_labels(lb.data, lb.dims[0], s->classes, lp, e);
    record_file(d, s, fi, im.sha256);
    record_file(d, s, fi + 1, lb.sha256);
    if (rc) {
        db_idx_free(&im);
        db_idx_free(&lb);
        return -1;
    }
    sp->n = im.dims[0];
    sp->x = im.data;
    sp->y = lb.data;
    return 0;
}

/* CIFAR-10: files[first .. first+count) concatenated into one split. */
static int load_cifar_split(db_dataset *d, const set_spec *s, db_split *sp,
                            size_t first, size_t count, const char *dir,
                            db_err *e)
{
    char path[DB_DATA_MAX_FILES][4096];
    size_t size[DB_DATA_MAX_FILES], total = 0;
    for (size_t i = 0; i < count; i++) {
        if (join(path[i], sizeof path[i], dir, s->name, s->file[first + i], e))
            return -1;
        FILE *f = open_regular(path[i], &size[i], e);
        if (!f)
            return -1;
        fclose(f);
        if (size[i] == 0)
            return db_fail(e, "%s: empty file", path[i]);
        if (size[i] % CIFAR_REC)
            return db_fail(e, "%s: size %zu is not a whole number of %d-byte "
                           "records (truncated or corrupt)", path[i], size[i],
                           CIFAR_REC);
        if (size[i] > DB_DATA_MAX_BYTES)
            return db_fail(e, "%s: %zu bytes, larger than any supported file",
                           path[i], size[i]);
        total += size[i] / CIFAR_REC;
    }
    const size_t px = 3 * CIFAR_PIX;
    sp->x = malloc(total * px);
    sp->y = malloc(total);
    if (!sp->x || !sp->y)
        return db_fail(e, "%s: out of memory for %zu images", path[0], total);
    uint8_t rec[CIFAR_REC];
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        size_t sz;
        FILE *f = open_regular(path[i], &sz, e);
        if (!f)
            return -1;
        if (sz != size[i]) {
            fclose(f);
            return db_fail(e, "%s: file changed while being read", path[i]);
        }
        db_sha256 h;
        db_sha256_init(&h);
        for (size_t r = 0; r < size[i] / CIFAR_REC; r++, n++) {
            if (read_hashed(f, rec, CIFAR_REC, &h, path[i], e)) {
                fclose(f);
                return -1;
            }
            if (rec[0] >= s->classes) {
                fclose(f);
                return db_fail(e, "%s: record %zu: label %u out of range 0..%zu",
                               path[i], r, rec[0], s->classes - 1);
            }
            sp->y[n] = rec[0];
            memcpy(sp->x + n * px, rec + 1, px);
        }
        int bad = at_eof(f, path[i], e);
        fclose(f);
        if (bad)
            return -1;
        char hex[65];
        finish_hash(&h, hex);
        record_file(d, s, first + i, hex);
    }
    sp->n = n;
    return 0;
}

/* Per channel over all training pixels of byte/255; exact integer sums.
 * Fails if a statistic is not finite (it cannot be for byte data and n > 0,
 * but every float the training sees is checked at load time). */
static int cifar_stats(db_dataset *d, db_err *e)
{
    const size_t hw = d->H * d->W, chw = d->C * hw;
    for (size_t c = 0; c < d->C; c++) {
        uint64_t s1 = 0, s2 = 0;
        for (size_t i = 0; i < d->train.n; i++) {
            const uint8_t *p = d->train.x + i * chw + c * hw;
            for (size_t k = 0; k < hw; k++) {
                s1 += p[k];
                s2 += (uint64_t)p[k] * p[k];
            }
        }
        double n = (double)d->train.n * (double)hw;
        double mean = (double)s1 / n / 255.0;
        double var = (double)s2 / n / (255.0 * 255.0) - mean * mean;
        double sd = var > 0 ? sqrt(var) : 0;
        if (!isfinite(mean) || !isfinite(sd))
            return db_fail(e, "cifar10: channel %zu of the training set has a "
                           "non-finite mean or std (%zu images)", c, d->train.n);
        d->mean[c] = (float)mean;
        /* A constant channel (only in synthetic data) must not divide by 0. */
        d->std[c] = sd > 1e-12 ? (float)sd : 1.0f;
    }
    return 0;
}

int db_utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3, cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i + j] & 0x3f);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* The whole of a wordlang TSV file (files[fi] of s, at path) into *buf
 * (*size bytes, at least 1), hashed and recorded in d->files. */
static int read_tsv_file(db_dataset *d, const set_spec *s, size_t fi,
                         const char *path, uint8_t **buf, size_t *size, db_err *e)
{
    FILE *f = open_regular(path, size, e);
    if (!f)
        return -1;
    if (*size > DB_DATA_MAX_TEXT_BYTES) {
        fclose(f);
        return db_fail(e, "%s: %zu bytes, larger than any supported word list",
                       path, *size);
    }
    if (*size == 0) {
        fclose(f);
        return db_fail(e, "%s: empty file", path);
    }
    *buf = malloc(*size);
    if (!*buf) {
        fclose(f);
        return db_fail(e, "%s: out of memory", path);
    }
    db_sha256 h;
    db_sha256_init(&h);
    int bad = read_hashed(f, *buf, *size, &h, path, e) || at_eof(f, path, e);
    fclose(f);
    if (bad) {
        free(*buf);
        *buf = NULL;
        return -1;
    }
    char hex[65];
    finish_hash(&h, hex);
    record_file(d, s, fi, hex);
    return 0;
}

/* Line ln of a wordlang TSV file, p up to its newline nl, checked and
 * appended to sp. */
static int tsv_line(const set_spec *s, db_split *sp, const uint8_t *p,
                    const uint8_t *nl, const char *path, size_t ln, db_err *e)
{
    const uint8_t *tab = memchr(p, '\t', (size_t)(nl - p));
    if (!tab)
        return db_fail(e, "%s:%zu: missing tab (expected CLASS<TAB>WORD)", path, ln);
    size_t cl = (size_t)(tab - p);
    if (cl != 1 || p[0] < '0' || p[0] > '9')
        return db_fail(e, "%s:%zu: bad class '%.*s' (expected a single digit "
                       "0..%zu)", path, ln, (int)(cl < 8 ? cl : 8), (const char *)p,
                       s->classes - 1);
    size_t cls = (size_t)(p[0] - '0');
    if (cls >= s->classes)
        return db_fail(e, "%s:%zu: class %zu out of range 0..%zu", path, ln, cls,
                       s->classes - 1);
    const uint8_t *w = tab + 1;
    size_t wl = (size_t)(nl - w);
    if (memchr(w, '\t', wl))
        return db_fail(e, "%s:%zu: more than one tab", path, ln);
    if (wl < 3 || wl > s->T)
        return db_fail(e, "%s:%zu: word of %zu bytes (must be 3..%zu)", path, ln,
                       wl, s->T);
    for (size_t k = 0; k < wl; k++)
        if (w[k] < 0x80 && (w[k] < 'a' || w[k] > 'z'))
            return db_fail(e, "%s:%zu: byte 0x%02x at position %zu is outside the "
                           "spec (ASCII must be a..z)", path, ln, w[k], k);
    if (!db_utf8_valid(w, wl))
        return db_fail(e, "%s:%zu: word is not valid UTF-8", path, ln);
    size_t i = sp->n++;
    memcpy(sp->x + i * s->T, w, wl);
    sp->len[i] = (uint32_t)wl;
    sp->y[i] = (uint8_t)cls;
    return 0;
}

/* wordlang TSV: "CLASS\tWORD\n" per line (docs/DATA.md). */
static int load_tsv_split(db_dataset *d, const set_spec *s, db_split *sp,
                          size_t fi, const char *dir, db_err *e)
{
    char path[4096];
    if (join(path, sizeof path, dir, s->name, s->file[fi], e))
        return -1;
    uint8_t *buf = NULL;
    size_t size;
    if (read_tsv_file(d, s, fi, path, &buf, &size, e))
        return -1;

    int rc = -1;
    const uint8_t *nul = memchr(buf, '\0', size);
    if (nul) {
        db_fail(e, "%s: not a word list (a text file): NUL byte at offset %zu", path,
                (size_t)(nul - buf));
        goto out;
    }
    if (buf[size - 1] != '\n') {
        db_fail(e, "%s: truncated: the last line has no newline", path);
        goto out;
    }
    size_t lines = 0;
    for (size_t i = 0; i < size; i++)
        lines += buf[i] == '\n';
    sp->x = calloc(lines, s->T);
    sp->len = malloc(lines * sizeof *sp->len);
    sp->y = malloc(lines);
    if (!sp->x || !sp->len || !sp->y) {
        db_fail(e, "%s: out of memory for %zu words", path, lines);
        goto out;
    }
    const uint8_t *p = buf, *end = buf + size;
    for (size_t ln = 1; p < end; ln++) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        if (tsv_line(s, sp, p, nl, path, ln, e))
            goto out;
        p = nl + 1;
    }
    rc = 0;
out:
    free(buf);
    return rc;
}

/* ---- public API -------------------------------------------------------------- */

int db_dataset_load(db_dataset *d, const char *name, const char *root,
                    db_err *e)
{
    memset(d, 0, sizeof *d);
    const set_spec *s = name ? find_set(name) : NULL;
    if (!s)
        return db_fail(e, "unknown data set '%s' (known: mnist, fashion, "
                       "cifar10, wordlang)", name ? name : "(null)");
    if (!root)
        root = db_data_root();
    snprintf(d->name, sizeof d->name, "%s", s->name);
    d->kind = s->kind;
    d->C = s->C, d->H = s->H, d->W = s->W;
    d->T = s->T, d->vocab = s->vocab, d->classes = s->classes;
    d->nfiles = s->nfiles;
    for (size_t i = 0; i < s->nfiles; i++)
        snprintf(d->files[i].name, sizeof d->files[i].name, "%s", s->file[i]);
    for (int c = 0; c < 3; c++)
        d->mean[c] = 0.0f, d->std[c] = 1.0f;

    int rc;
    if (!strcmp(s->name, "cifar10")) {
        rc = load_cifar_split(d, s, &d->train, 0, 5, root, e) ||
             load_cifar_split(d, s, &d->test, 5, 1, root, e);
        if (!rc)
            rc = cifar_stats(d, e);
    } else if (s->kind == DB_DATA_TEXT) {
        rc = load_tsv_split(d, s, &d->train, 0, root, e) ||
             load_tsv_split(d, s, &d->test, 1, root, e);
    } else {
        rc = load_idx_split(d, s, &d->train, 0, root, e) ||
             load_idx_split(d, s, &d->test, 2, root, e);
    }
    if (rc) {
        db_dataset_free(d);
        return -1;
    }
    return 0;
}

static void free_split(db_split *s)
{
    free(s->x);
    free(s->len);
    free(s->y);
    free(s->xf);
    memset(s, 0, sizeof *s);
}

void db_dataset_free(db_dataset *d)
{
    free_split(&d->train);
    free_split(&d->test);
}

int db_dataset_verified(const db_dataset *d)
{
    if (d->nfiles == 0)
        return 0;
    for (size_t i = 0; i < d->nfiles; i++)
        if (!d->files[i].verified)
            return 0;
    return 1;
}

void db_batch_images(float *out, const db_dataset *d, const db_split *s,
                     const uint32_t *idx, size_t n)
{
    const size_t hw = d->H * d->W, chw = d->C * hw;
    if (s->xf) { /* preprocessed (GCN + ZCA): already floats */
        for (size_t i = 0; i < n; i++)
            memcpy(out + i * chw, s->xf + (size_t)idx[i] * chw, chw * sizeof(float));
        return;
    }
    float lut[3][256];   /* C <= 3 for every image set */
    for (size_t c = 0; c < d->C && c < 3; c++)
        for (int v = 0; v < 256; v++)
            lut[c][v] = (float)(((double)v / 255.0 - d->mean[c]) / d->std[c]);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *src = s->x + (size_t)idx[i] * chw;
        float *dst = out + i * chw;
        for (size_t c = 0; c < d->C && c < 3; c++)
            for (size_t k = 0; k < hw; k++)
                dst[c * hw + k] = lut[c][src[c * hw + k]];
    }
}

void db_batch_text(uint8_t *tok, uint32_t *len, const db_dataset *d,
                   const db_split *s, const uint32_t *idx, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        memcpy(tok + i * d->T, s->x + (size_t)idx[i] * d->T, d->T);
        len[i] = s->len[idx[i]];
    }
}
