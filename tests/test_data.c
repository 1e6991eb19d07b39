/* test_data.c - sha256, the IDX / CIFAR-10 / wordlang loaders on small files
 * generated here (valid and malformed), batch conversion, `dropbench data`,
 * and (when present) the real sets. */
#include <errno.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check_main.h"
#include "test_util.h"
#include "cli/commands.h"
#include "data/data.h"
#include "data/sha256.h"

/* ---- scratch directory ------------------------------------------------------ */

static char tmpdir[256];

/* One scratch folder per test case, made and removed by the parent process
 * (unchecked fixture: removed even when a test fails); each test starts it
 * empty (checked fixture, in the forked child). */
static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dropbench-test-data.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    rm_tree(tmpdir);
}

static void empty_tmpdir(void)
{
    empty_dir(tmpdir);
}

static const char *path_in(const char *set, const char *file)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    if (file)
        snprintf(p[k], sizeof p[k], "%s/%s/%s", tmpdir, set, file);
    else
        snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, set);
    return p[k];
}

static void write_gz(const char *path, const void *b, size_t n)
{
    gzFile g = gzopen(path, "wb");
    ck_assert_ptr_nonnull(g);
    if (n)
        ck_assert_int_eq(gzwrite(g, b, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(g), Z_OK);
}

static void put(const char *set, const char *file, const void *b, size_t n,
                int gz)
{
    mkdir(path_in(set, NULL), 0755);
    if (gz)
        write_gz(path_in(set, file), b, n);
    else
        write_file_bytes(path_in(set, file), b, n);
}

static void put_str(const char *set, const char *file, const char *s)
{
    put(set, file, s, strlen(s), 0);
}

/* ---- IDX builders -------------------------------------------------------------- */

typedef struct buf {
    uint8_t *p;
    size_t n;
} buf;

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* Header for `ndim` dims (magic 0x800|mndim) followed by `ndata` bytes of
 * pattern data (byte k = (k*7+3) & 255, or `labels` when given). */
static buf idx(uint32_t magic, size_t ndim, const uint32_t *dims, size_t ndata,
               const uint8_t *labels)
{
    buf b;
    b.n = 4 + 4 * ndim + ndata;
    b.p = malloc(b.n);
    ck_assert_ptr_nonnull(b.p);
    be32(b.p, magic);
    for (size_t i = 0; i < ndim; i++)
        be32(b.p + 4 + 4 * i, dims[i]);
    for (size_t k = 0; k < ndata; k++)
        b.p[4 + 4 * ndim + k] = labels ? labels[k] : (uint8_t)((k * 7 + 3) & 255);
    return b;
}

static const uint8_t TRAIN_Y[3] = {5, 0, 4}, TEST_Y[2] = {7, 2};

static const char *mnist_name(int gz, int i)
{
    static const char *plain[4] = {"train-images-idx3-ubyte",
                                   "train-labels-idx1-ubyte",
                                   "t10k-images-idx3-ubyte",
                                   "t10k-labels-idx1-ubyte"};
    static const char *z[4] = {"train-images-idx3-ubyte.gz",
                               "train-labels-idx1-ubyte.gz",
                               "t10k-images-idx3-ubyte.gz",
                               "t10k-labels-idx1-ubyte.gz"};
    return gz ? z[i] : plain[i];
}

/* A valid 3+2 image set: mnist (plain) or fashion (gzip). */
static void make_idx_set(int gz)
{
    const char *set = gz ? "fashion" : "mnist";
    uint32_t d3[3] = {3, 28, 28}, d1[1] = {3};
    buf b = idx(0x803, 3, d3, 3 * 784, NULL);
    put(set, mnist_name(gz, 0), b.p, b.n, gz);
    free(b.p);
    b = idx(0x801, 1, d1, 3, TRAIN_Y);
    put(set, mnist_name(gz, 1), b.p, b.n, gz);
    free(b.p);
    d3[0] = 2, d1[0] = 2;
    b = idx(0x803, 3, d3, 2 * 784, NULL);
    put(set, mnist_name(gz, 2), b.p, b.n, gz);
    free(b.p);
    b = idx(0x801, 1, d1, 2, TEST_Y);
    put(set, mnist_name(gz, 3), b.p, b.n, gz);
    free(b.p);
}

/* Loads `set` expecting failure; the message must name `file` and contain
 * `what`. */
static void expect_fail(const char *set, const char *file, const char *what)
{
    db_dataset d;
    db_err e = {{0}};
    int rc = db_dataset_load(&d, set, tmpdir, &e);
    ck_assert_msg(rc == -1, "%s/%s: expected failure (%s), loaded", set, file,
                  what);
    ck_assert_msg(strstr(e.msg, file) != NULL, "message '%s' does not name %s",
                  e.msg, file);
    ck_assert_msg(strstr(e.msg, what) != NULL, "message '%s' lacks '%s'",
                  e.msg, what);
    ck_assert_ptr_null(d.train.x);
    ck_assert_ptr_null(d.test.x);
}

/* ---- sha256 ------------------------------------------------------------------- */

static void sha_hex(const void *p, size_t n, char hex[65])
{
    db_sha256 s;
    uint8_t d[32];
    db_sha256_init(&s);
    db_sha256_update(&s, p, n);
    db_sha256_final(&s, d);
    db_sha256_hex(d, hex);
}

START_TEST(sha256_vectors)
{
    char h[65];
    sha_hex("", 0, h);
    ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha_hex("abc", 3, h);
    ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha_hex(m, strlen(m), h);
    ck_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* a million 'a', fed in uneven pieces to exercise the block buffer */
    static char a[1000000];
    memset(a, 'a', sizeof a);
    db_sha256 s;
    uint8_t d[32];
    db_sha256_init(&s);
    size_t off = 0, step = 1;
    while (off < sizeof a) {
        size_t n = step < sizeof a - off ? step : sizeof a - off;
        db_sha256_update(&s, a + off, n);
        off += n;
        step = step * 3 % 1001 + 1;
    }
    db_sha256_final(&s, d);
    db_sha256_hex(d, h);
    ck_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(sha256_file)
{
    write_file_bytes(path_in("abc.txt", NULL), "abc", 3);
    char h[65];
    db_err e = {{0}};
    ck_assert_int_eq(db_sha256_file(path_in("abc.txt", NULL), h, &e), 0);
    ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_assert_int_eq(db_sha256_file(path_in("nope", NULL), h, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "nope"));
}
END_TEST

/* ---- registry ------------------------------------------------------------------ */

START_TEST(set_table)
{
    const char *names[DB_DATA_MAX_FILES], *sha[DB_DATA_MAX_FILES];
    ck_assert_str_eq(db_data_set_name(0), "mnist");
    ck_assert_str_eq(db_data_set_name(3), "wordlang");
    ck_assert_ptr_null(db_data_set_name(4));
    ck_assert_uint_eq(db_data_set_files("cifar10", names, sha), 6);
    ck_assert_str_eq(names[5], "test_batch.bin");
    ck_assert_str_eq(sha[0], "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5");
    ck_assert_uint_eq(db_data_set_files("nope", NULL, NULL), 0);

    db_dataset d;
    db_err e = {{0}};
    ck_assert_int_eq(db_dataset_load(&d, "imagenet", tmpdir, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "unknown data set 'imagenet'"));
    ck_assert_int_eq(db_dataset_load(&d, "mnist", tmpdir, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "cannot open"));

    setenv("DROPBENCH_DATA", "/some/where", 1);
    ck_assert_str_eq(db_data_root(), "/some/where");
    unsetenv("DROPBENCH_DATA");
    ck_assert_str_eq(db_data_root(), "data");
}
END_TEST

/* The fetch script must carry exactly the checksums the loaders use. */
START_TEST(script_has_same_checksums)
{
    const char *src = getenv("DROPBENCH_SRC");
    if (!src) {
        printf("SKIP script_has_same_checksums: DROPBENCH_SRC not set (run "
               "through make test)\n");
        return;
    }
    char p[1024];
    snprintf(p, sizeof p, "%s/scripts/fetch-data", src);
    FILE *f = fopen(p, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", p);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    for (size_t s = 0; db_data_set_name(s); s++) {
        const char *names[DB_DATA_MAX_FILES], *sha[DB_DATA_MAX_FILES];
        size_t k = db_data_set_files(db_data_set_name(s), names, sha);
        for (size_t i = 0; i < k; i++) {
            char line[256];
            snprintf(line, sizeof line, "[%s/%s]=%s", db_data_set_name(s),
                     names[i], sha[i]);
            ck_assert_msg(strstr(text, line), "fetch-data lacks %s", line);
        }
    }
}
END_TEST

/* ---- IDX ------------------------------------------------------------------------ */

START_TEST(idx_plain_and_gzip)
{
    uint32_t d[3] = {2, 3, 4};
    buf b = idx(0x803, 3, d, 24, NULL);
    write_file_bytes(path_in("a.idx", NULL), b.p, b.n);
    write_gz(path_in("a.idx.gz", NULL), b.p, b.n);
    char want[65];
    sha_hex(b.p, b.n, want);
    for (int gz = 0; gz < 2; gz++) {
        db_idx x;
        db_err e = {{0}};
        const char *p = path_in(gz ? "a.idx.gz" : "a.idx", NULL);
        ck_assert_msg(db_idx_load(&x, p, 3, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(x.ndim, 3);
        ck_assert_uint_eq(x.dims[0], 2);
        ck_assert_uint_eq(x.dims[1], 3);
        ck_assert_uint_eq(x.dims[2], 4);
        ck_assert_uint_eq(x.n_bytes, 24);
        ck_assert_mem_eq(x.data, b.p + 16, 24);
        char h[65];
        ck_assert_int_eq(db_sha256_file(p, h, &e), 0);
        ck_assert_str_eq(x.sha256, h);   /* of the stored (compressed) file */
        if (!gz)
            ck_assert_str_eq(x.sha256, want);
        db_idx_free(&x);
        /* the same file read as rank 1 has the wrong magic */
        ck_assert_int_eq(db_idx_load(&x, p, 1, &e), -1);
        ck_assert_ptr_nonnull(strstr(e.msg, "bad magic 0x00000803"));
        ck_assert_ptr_null(x.data);
    }
    free(b.p);
}
END_TEST

static void check_image_set(int gz)
{
    make_idx_set(gz);
    const char *set = gz ? "fashion" : "mnist";
    db_dataset d;
    db_err e = {{0}};
    ck_assert_msg(db_dataset_load(&d, set, tmpdir, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(d.name, set);
    ck_assert_int_eq(d.kind, DB_DATA_IMAGE);
    ck_assert_uint_eq(d.C, 1);
    ck_assert_uint_eq(d.H, 28);
    ck_assert_uint_eq(d.W, 28);
    ck_assert_uint_eq(d.classes, 10);
    ck_assert_uint_eq(d.train.n, 3);
    ck_assert_uint_eq(d.test.n, 2);
    ck_assert_mem_eq(d.train.y, TRAIN_Y, 3);
    ck_assert_mem_eq(d.test.y, TEST_Y, 2);
    ck_assert_ptr_null(d.train.len);
    for (size_t k = 0; k < 3 * 784; k++)
        ck_assert_uint_eq(d.train.x[k], (k * 7 + 3) & 255);
    ck_assert_uint_eq(d.nfiles, 4);
    for (int i = 0; i < 4; i++) {
        char h[65];
        ck_assert_str_eq(d.files[i].name, mnist_name(gz, i));
        ck_assert_int_eq(db_sha256_file(path_in(set, mnist_name(gz, i)), h, &e), 0);
        ck_assert_str_eq(d.files[i].sha256, h);
        ck_assert_int_eq(d.files[i].verified, 0);   /* not the real files */
    }
    ck_assert_int_eq(db_dataset_verified(&d), 0);
    /* batch: pixels / 255, in the order of idx */
    uint32_t ix[2] = {2, 0};
    float out[2 * 784];
    db_batch_images(out, &d, &d.train, ix, 2);
    for (size_t k = 0; k < 784; k++) {
        ck_assert_float_eq_tol(out[k], d.train.x[2 * 784 + k] / 255.0f, 1e-6f);
        ck_assert_float_eq_tol(out[784 + k], d.train.x[k] / 255.0f, 1e-6f);
    }
    db_dataset_free(&d);
    ck_assert_ptr_null(d.train.x);
}

START_TEST(mnist_plain_loads) { check_image_set(0); }
END_TEST

START_TEST(fashion_gzip_loads) { check_image_set(1); }
END_TEST

/* Replaces file i of the generated set with a header (magic, dims) and
 * ndata bytes of data (labels if `lab`). */
static void replace_idx(int gz, int i, uint32_t magic, size_t ndim,
                        const uint32_t *dims, size_t ndata, const uint8_t *lab)
{
    buf b = idx(magic, ndim, dims, ndata, lab);
    put(gz ? "fashion" : "mnist", mnist_name(gz, i), b.p, b.n, gz);
    free(b.p);
}

START_TEST(idx_malformed)
{
    int gz = _i;   /* loop test: 0 plain (mnist), 1 gzip (fashion) */
    const char *set = gz ? "fashion" : "mnist";
    const char *ti = mnist_name(gz, 0), *tl = mnist_name(gz, 1);
    uint32_t d3[3] = {3, 28, 28}, d1[1] = {3};
    const uint8_t bad_y[3] = {5, 10, 4};

    make_idx_set(gz);
    replace_idx(gz, 1, 0x803, 1, d1, 3, TRAIN_Y);
    expect_fail(set, tl, "bad magic");

    make_idx_set(gz);
    replace_idx(gz, 0, 0x903, 3, d3, 3 * 784, NULL);   /* type byte not 0x08 */
    expect_fail(set, ti, "bad magic");

    make_idx_set(gz);
    replace_idx(gz, 0, 0x803, 3, d3, 3 * 784 - 10, NULL);
    expect_fail(set, ti, "truncated");

    make_idx_set(gz);
    replace_idx(gz, 0, 0x803, 3, d3, 3 * 784 + 1, NULL);
    expect_fail(set, ti, gz ? "trailing data" : "trailing bytes");

    make_idx_set(gz);
    put(set, ti, "\0\0\x08\x03\0\0", 6, gz);
    expect_fail(set, ti, "shorter than the 16-byte IDX header");

    make_idx_set(gz);
    put(set, ti, "", 0, gz);
    expect_fail(set, ti, "shorter than");

    make_idx_set(gz);
    d1[0] = 2;
    replace_idx(gz, 1, 0x801, 1, d1, 2, TRAIN_Y);
    expect_fail(set, tl, "2 labels, but");
    d1[0] = 3;

    make_idx_set(gz);
    replace_idx(gz, 1, 0x801, 1, d1, 3, bad_y);
    expect_fail(set, tl, "label 10 of example 1 out of range 0..9");

    make_idx_set(gz);
    d3[1] = 27;
    replace_idx(gz, 0, 0x803, 3, d3, 3 * 27 * 28, NULL);
    expect_fail(set, ti, "expected 28x28");
    d3[1] = 28;

    make_idx_set(gz);
    d3[2] = 0;
    replace_idx(gz, 0, 0x803, 3, d3, 0, NULL);
    expect_fail(set, ti, "dimension 2 is 0");
    d3[2] = 28;

    /* a header claiming 2^31 images: rejected before any allocation */
    make_idx_set(gz);
    d3[0] = 0x80000000u;
    replace_idx(gz, 0, 0x803, 3, d3, 784, NULL);
    expect_fail(set, ti, "header claims more than 100000000 bytes");
    d1[0] = 0xffffffffu;
    make_idx_set(gz);
    replace_idx(gz, 1, 0x801, 1, d1, 3, TRAIN_Y);
    expect_fail(set, tl, "header claims more than");
    d1[0] = 3;

    /* a plausible claim (100000 images) that the file does not hold */
    make_idx_set(gz);
    d3[0] = 100000;
    replace_idx(gz, 0, 0x803, 3, d3, 784, NULL);
    expect_fail(set, ti, gz ? "truncated: header claims 78400000 data bytes, the file holds 784"
                            : "does not match its header");
    d3[0] = 3;

    make_idx_set(gz);
    remove(path_in(set, mnist_name(gz, 3)));
    expect_fail(set, mnist_name(gz, 3), "cannot open");

    /* a FIFO where a file should be: refused at once, never read (it would
     * block until some writer opened it) */
    make_idx_set(gz);
    ck_assert_int_eq(remove(path_in(set, mnist_name(gz, 1))), 0);
    ck_assert_int_eq(mkfifo(path_in(set, mnist_name(gz, 1)), 0644), 0);
    expect_fail(set, mnist_name(gz, 1), "not a regular file");
    remove(path_in(set, mnist_name(gz, 1)));

    /* a directory where a file should be */
    make_idx_set(gz);
    ck_assert_int_eq(remove(path_in(set, mnist_name(gz, 2))), 0);
    ck_assert_int_eq(mkdir(path_in(set, mnist_name(gz, 2)), 0755), 0);
    expect_fail(set, mnist_name(gz, 2), "not a regular file");
    rmdir(path_in(set, mnist_name(gz, 2)));
}
END_TEST

/* Damaged gzip streams: cut short, corrupted, not gzip at the end. */
START_TEST(gzip_damaged)
{
    const char *ti = mnist_name(1, 0);
    make_idx_set(1);
    const char *p = path_in("fashion", ti);
    FILE *f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    static uint8_t z[1 << 16];
    size_t n = fread(z, 1, sizeof z, f);
    fclose(f);
    ck_assert_uint_gt(n, 40);

    write_file_bytes(p, z, n / 2);            /* cut in the middle */
    expect_fail("fashion", ti, "");
    write_file_bytes(p, z, n - 4);            /* trailer cut */
    expect_fail("fashion", ti, "");
    uint8_t c[1 << 16];
    memcpy(c, z, n);
    c[n - 8] ^= 0x5a;                   /* CRC damaged */
    write_file_bytes(p, c, n);
    expect_fail("fashion", ti, "corrupt gzip data");
    {   /* the file is named once, not again inside zlib's text */
        db_dataset d;
        db_err e = {{0}};
        ck_assert_int_eq(db_dataset_load(&d, "fashion", tmpdir, &e), -1);
        const char *first = strstr(e.msg, ti);
        ck_assert_ptr_nonnull(first);
        ck_assert_msg(strstr(first + 1, ti) == NULL && strstr(e.msg, "<fd:") == NULL,
                      "%s", e.msg);
    }
    memcpy(c, z, n);
    for (size_t k = 12; k < 20; k++)    /* deflate data damaged */
        c[k] ^= 0xff;
    write_file_bytes(p, c, n);
    expect_fail("fashion", ti, "");
}
END_TEST

/* ---- CIFAR-10 ---------------------------------------------------------------------- */

#define REC 3073

static const char *cifar_name(int i)
{
    static const char *n[6] = {"data_batch_1.bin", "data_batch_2.bin",
                               "data_batch_3.bin", "data_batch_4.bin",
                               "data_batch_5.bin", "test_batch.bin"};
    return n[i];
}

/* Batches 1..5 with 2 records each, test with 3; record r of file i has
 * label (i+r) % 10 and byte k = (i*31 + r*17 + k*13) & 255. */
static void make_cifar(void)
{
    static uint8_t b[3 * REC];
    for (int i = 0; i < 6; i++) {
        int nrec = i < 5 ? 2 : 3;
        for (int r = 0; r < nrec; r++) {
            b[r * REC] = (uint8_t)((i + r) % 10);
            for (int k = 0; k < 3072; k++)
                b[r * REC + 1 + k] = (uint8_t)((i * 31 + r * 17 + k * 13) & 255);
        }
        put("cifar10", cifar_name(i), b, (size_t)nrec * REC, 0);
    }
}

START_TEST(cifar_loads)
{
    make_cifar();
    db_dataset d;
    db_err e = {{0}};
    ck_assert_msg(db_dataset_load(&d, "cifar10", tmpdir, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(d.C, 3);
    ck_assert_uint_eq(d.H, 32);
    ck_assert_uint_eq(d.train.n, 10);
    ck_assert_uint_eq(d.test.n, 3);
    ck_assert_uint_eq(d.nfiles, 6);
    for (int i = 0; i < 5; i++)
        for (int r = 0; r < 2; r++) {
            size_t n = (size_t)(2 * i + r);
            ck_assert_uint_eq(d.train.y[n], (i + r) % 10);
            for (int k = 0; k < 3072; k += 97)
                ck_assert_uint_eq(d.train.x[n * 3072 + (size_t)k],
                                  (i * 31 + r * 17 + k * 13) & 255);
        }
    ck_assert_uint_eq(d.test.y[2], 7);
    /* mean / std per channel over the training pixels, in double */
    for (int c = 0; c < 3; c++) {
        double s = 0, s2 = 0;
        for (size_t n = 0; n < 10; n++)
            for (size_t k = 0; k < 1024; k++) {
                double v = d.train.x[n * 3072 + (size_t)c * 1024 + k] / 255.0;
                s += v;
                s2 += v * v;
            }
        double mean = s / 10240, sd = sqrt(s2 / 10240 - mean * mean);
        ck_assert_double_eq_tol(d.mean[c], mean, 1e-6);
        ck_assert_double_eq_tol(d.std[c], sd, 1e-6);
    }
    uint32_t ix[1] = {1};
    float out[3072];
    db_batch_images(out, &d, &d.test, ix, 1);
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < 1024; k += 31) {
            uint8_t v = d.test.x[3072 + (size_t)c * 1024 + (size_t)k];
            ck_assert_float_eq_tol(out[c * 1024 + k],
                                   (v / 255.0f - d.mean[c]) / d.std[c], 1e-5f);
        }
    char h[65];
    ck_assert_int_eq(db_sha256_file(path_in("cifar10", "data_batch_3.bin"), h, &e), 0);
    ck_assert_str_eq(d.files[2].sha256, h);
    ck_assert_int_eq(d.files[2].verified, 0);
    db_dataset_free(&d);
}
END_TEST

START_TEST(cifar_malformed)
{
    static uint8_t b[4 * REC];
    make_cifar();
    memset(b, 1, sizeof b);
    put("cifar10", "data_batch_2.bin", b, 2 * REC - 1, 0);
    expect_fail("cifar10", "data_batch_2.bin", "not a whole number of 3073-byte records");

    make_cifar();
    put("cifar10", "test_batch.bin", b, 3 * REC + 5, 0);
    expect_fail("cifar10", "test_batch.bin", "not a whole number");

    make_cifar();
    b[REC] = 10;
    put("cifar10", "data_batch_4.bin", b, 2 * REC, 0);
    expect_fail("cifar10", "data_batch_4.bin", "record 1: label 10 out of range 0..9");

    make_cifar();
    put("cifar10", "data_batch_5.bin", b, 0, 0);
    expect_fail("cifar10", "data_batch_5.bin", "empty file");

    make_cifar();
    remove(path_in("cifar10", "data_batch_3.bin"));
    expect_fail("cifar10", "data_batch_3.bin", "cannot open");
}
END_TEST

/* ---- wordlang ------------------------------------------------------------------------- */

static const char *TRAIN_TSV = "0\tabc\n2\tcaf\xc3\xa9\n8\t\xc5\xbc\xc3\xb3\xc5\x82w\n"
                               "9\tabcdefghijklmnop\n";

START_TEST(wordlang_loads)
{
    put_str("wordlang", "train.tsv", TRAIN_TSV);
    put_str("wordlang", "test.tsv", "3\tperro\n");
    db_dataset d;
    db_err e = {{0}};
    ck_assert_msg(db_dataset_load(&d, "wordlang", tmpdir, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(d.kind, DB_DATA_TEXT);
    ck_assert_uint_eq(d.T, 16);
    ck_assert_uint_eq(d.vocab, 256);
    ck_assert_uint_eq(d.classes, 10);
    ck_assert_uint_eq(d.train.n, 4);
    ck_assert_uint_eq(d.test.n, 1);
    const uint8_t y[4] = {0, 2, 8, 9};
    const uint32_t len[4] = {3, 5, 7, 16};
    ck_assert_mem_eq(d.train.y, y, 4);
    ck_assert_mem_eq(d.train.len, len, sizeof len);
    ck_assert_mem_eq(d.train.x + 16, "caf\xc3\xa9\0\0\0\0\0\0\0\0\0\0\0", 16);
    ck_assert_mem_eq(d.train.x + 48, "abcdefghijklmnop", 16);
    ck_assert_uint_eq(d.test.y[0], 3);
    char h[65];
    sha_hex(TRAIN_TSV, strlen(TRAIN_TSV), h);
    ck_assert_str_eq(d.files[0].sha256, h);
    ck_assert_int_eq(d.files[0].verified, 0);

    uint32_t ix[2] = {2, 0}, l[2];
    uint8_t tok[32];
    db_batch_text(tok, l, &d, &d.train, ix, 2);
    ck_assert_uint_eq(l[0], 7);
    ck_assert_uint_eq(l[1], 3);
    ck_assert_mem_eq(tok, "\xc5\xbc\xc3\xb3\xc5\x82w\0\0\0\0\0\0\0\0\0", 16);
    ck_assert_mem_eq(tok + 16, "abc\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    db_dataset_free(&d);
}
END_TEST

static const struct {
    const char *text;   /* the second line of train.tsv */
    size_t len;         /* 0: strlen */
    const char *what;
} BAD_TSV[] = {
    {"0\tab\xff\n", 0, "train.tsv:2: word is not valid UTF-8"},
    {"0\tab\xc0\xaf\n", 0, "not valid UTF-8"},          /* overlong '/' */
    {"0\tabc\xc3\n", 0, "not valid UTF-8"},             /* cut sequence */
    {"0\tab\xed\xa0\x80\n", 0, "not valid UTF-8"},      /* surrogate */
    {"0\tab\xf4\x90\x80\x80\n", 0, "not valid UTF-8"},  /* > U+10FFFF */
    {"0\t\xa9" "abc\n", 0, "not valid UTF-8"},          /* stray continuation */
    {"0\tAbc\n", 0, "byte 0x41 at position 0 is outside the spec"},
    {"0\tab1\n", 0, "outside the spec"},
    {"0\tdon't\n", 0, "outside the spec"},
    {"0\tab c\n", 0, "outside the spec"},
    {"0\tabc\r\n", 0, "byte 0x0d"},
    {"0\tab\0c\n", 7, "not a word list (a text file): NUL byte at offset 11"},
    {"0\tabcdefghijklmnopq\n", 0, "word of 17 bytes (must be 3..16)"},
    {"0\tab\n", 0, "word of 2 bytes"},
    {"0\t\n", 0, "word of 0 bytes"},
    {"10\tabc\n", 0, "bad class '10'"},
    {"x\tabc\n", 0, "bad class 'x'"},
    {"-1\tabc\n", 0, "bad class"},
    {"\tabc\n", 0, "bad class ''"},
    {" 1\tabc\n", 0, "bad class"},
    {"0 abc\n", 0, "train.tsv:2: missing tab"},
    {"\n", 0, "missing tab"},
    {"0\tabc\tdef\n", 0, "more than one tab"},
    {"0\tabc", 0, "truncated: the last line has no newline"},
};

START_TEST(wordlang_malformed)
{
    char text[256];
    size_t head = strlen("1\tgood\n");
    memcpy(text, "1\tgood\n", head);
    size_t n = BAD_TSV[_i].len ? BAD_TSV[_i].len : strlen(BAD_TSV[_i].text);
    memcpy(text + head, BAD_TSV[_i].text, n);
    put("wordlang", "train.tsv", text, head + n, 0);
    put_str("wordlang", "test.tsv", "3\tperro\n");
    expect_fail("wordlang", "train.tsv", BAD_TSV[_i].what);
}
END_TEST

START_TEST(wordlang_empty_or_missing)
{
    put_str("wordlang", "train.tsv", "");
    put_str("wordlang", "test.tsv", "3\tperro\n");
    expect_fail("wordlang", "train.tsv", "empty file");
    put_str("wordlang", "train.tsv", TRAIN_TSV);
    remove(path_in("wordlang", "test.tsv"));
    expect_fail("wordlang", "test.tsv", "cannot open");
    ck_assert_int_eq(mkfifo(path_in("wordlang", "test.tsv"), 0644), 0);
    expect_fail("wordlang", "test.tsv", "not a regular file");
    remove(path_in("wordlang", "test.tsv"));
}
END_TEST

/* ---- dropbench data ---------------------------------------------------------------------- */

static int run_cmd(int argc, char **argv)
{
    fflush(stdout);
    /* keep the listing and usage messages out of the test log (this runs in
     * Check's forked child) */
    ck_assert_ptr_nonnull(freopen("/dev/null", "w", stdout));
    ck_assert_ptr_nonnull(freopen("/dev/null", "w", stderr));
    return cmd_data(argc, argv);
}

START_TEST(cmd_data_status)
{
    char *help[] = {"data", "--help"};
    ck_assert_int_eq(run_cmd(2, help), 0);
    char *all[] = {"data", "--root", tmpdir};
    ck_assert_int_eq(run_cmd(3, all), 0);          /* nothing present: fine */
    char *named[] = {"data", "--root", tmpdir, "mnist"};
    ck_assert_int_eq(run_cmd(4, named), 1);        /* named but absent */
    char *unknown[] = {"data", "--root", tmpdir, "imagenet"};
    ck_assert_int_eq(run_cmd(4, unknown), 1); /* a bad name: input, not usage */
    /* a data folder that does not exist is an error, not an empty listing */
    char missing[700];
    snprintf(missing, sizeof missing, "%s/no-such-folder", tmpdir);
    char *nofolder[] = {"data", "--data", missing};
    ck_assert_int_eq(run_cmd(3, nofolder), 1);
    char *alias[] = {"data", "--data", tmpdir};
    ck_assert_int_eq(run_cmd(3, alias), 0);
    char *badopt[] = {"data", "--frobnicate"};
    ck_assert_int_eq(run_cmd(2, badopt), 2);
    char *noroot[] = {"data", "--root"};
    ck_assert_int_eq(run_cmd(2, noroot), 2);
    make_idx_set(0);
    ck_assert_int_eq(run_cmd(3, all), 1);          /* present, unverified */
    put("mnist", "train-labels-idx1-ubyte", "junk", 4, 0);
    ck_assert_int_eq(run_cmd(4, named), 1);        /* malformed */
}
END_TEST

/* ---- the real sets, when fetched ---------------------------------------------------------- */

static const char *real_root(char *buf, size_t cap)
{
    const char *r = getenv("DROPBENCH_DATA");
    if (r && *r)
        return r;
    const char *src = getenv("DROPBENCH_SRC");
    if (src) {
        snprintf(buf, cap, "%s/data", src);
        return buf;
    }
    return "data";
}

START_TEST(real_sets)
{
    static const struct {
        const char *name;
        size_t ntrain, ntest, nfirst;
        uint8_t train_y[10], test_y[10];
    } R[] = {
        {"mnist", 60000, 10000, 5, {5, 0, 4, 1, 9}, {7, 2, 1, 0, 4}},
        {"fashion", 60000, 10000, 10, {9, 0, 0, 3, 0, 2, 7, 2, 5, 5},
         {9, 2, 1, 1, 6, 1, 4, 6, 5, 7}},
        {"cifar10", 50000, 10000, 10, {6, 9, 9, 4, 1, 1, 2, 7, 8, 3},
         {3, 8, 8, 0, 6, 6, 1, 6, 3, 1}},
        {"wordlang", 100000, 20000, 1, {0}, {0}},
    };
    char buf[1024];
    const char *root = real_root(buf, sizeof buf);
    int nfound = 0;
    for (size_t s = 0; s < sizeof R / sizeof R[0]; s++) {
        char dir[1200];
        struct stat st;
        snprintf(dir, sizeof dir, "%s/%s", root, R[s].name);
        if (stat(dir, &st) != 0) {
            printf("SKIP real set %s: %s absent (scripts/fetch-data %s)\n",
                   R[s].name, dir, R[s].name);
            continue;
        }
        nfound++;
        db_dataset d;
        db_err e = {{0}};
        ck_assert_msg(db_dataset_load(&d, R[s].name, root, &e) == 0, "%s", e.msg);
        ck_assert_msg(db_dataset_verified(&d), "%s is not verified", dir);
        ck_assert_uint_eq(d.train.n, R[s].ntrain);
        ck_assert_uint_eq(d.test.n, R[s].ntest);
        ck_assert_mem_eq(d.train.y, R[s].train_y, R[s].nfirst);
        ck_assert_mem_eq(d.test.y, R[s].test_y, R[s].nfirst);
        size_t count[10] = {0};
        for (size_t i = 0; i < d.test.n; i++)
            count[d.test.y[i]]++;
        for (int c = 0; c < 10; c++)
            ck_assert_uint_gt(count[c], 0);
        if (!strcmp(R[s].name, "cifar10")) {
            /* the well-known CIFAR-10 training statistics */
            ck_assert_float_eq_tol(d.mean[0], 0.4914f, 1e-4f);
            ck_assert_float_eq_tol(d.std[2], 0.2616f, 1e-4f);
        }
        if (!strcmp(R[s].name, "wordlang")) {
            ck_assert_uint_eq(d.train.len[0], 8);
            ck_assert_mem_eq(d.train.x, "washable", 8);
            ck_assert_uint_eq(d.test.y[d.test.n - 1], 9);
        }
        db_dataset_free(&d);
    }
    if (nfound == 0)
        printf("SKIP real sets: none under %s (run scripts/fetch-data all)\n",
               root);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("data");
    TCase *t = tcase_create("unit");
    tcase_add_unchecked_fixture(t, make_tmpdir, remove_tmpdir);
    tcase_add_checked_fixture(t, empty_tmpdir, NULL);
    tcase_add_test(t, sha256_vectors);
    tcase_add_test(t, sha256_file);
    tcase_add_test(t, set_table);
    tcase_add_test(t, script_has_same_checksums);
    tcase_add_test(t, idx_plain_and_gzip);
    tcase_add_test(t, mnist_plain_loads);
    tcase_add_test(t, fashion_gzip_loads);
    tcase_add_loop_test(t, idx_malformed, 0, 2);
    tcase_add_test(t, gzip_damaged);
    tcase_add_test(t, cifar_loads);
    tcase_add_test(t, cifar_malformed);
    tcase_add_test(t, wordlang_loads);
    tcase_add_loop_test(t, wordlang_malformed, 0,
                        (int)(sizeof BAD_TSV / sizeof BAD_TSV[0]));
    tcase_add_test(t, wordlang_empty_or_missing);
    tcase_add_test(t, cmd_data_status);
    suite_add_tcase(s, t);
    TCase *r = tcase_create("real");
    tcase_set_timeout(r, 120);
    tcase_add_test(r, real_sets);
    suite_add_tcase(s, r);
    return s;
}

DB_TEST_MAIN()
