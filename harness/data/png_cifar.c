/* png_cifar.c - see png_cifar.h. */
#include "data/png_cifar.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "util/fs.h"
#include "util/jsonio.h"

int db_cifar_labels_parse(unsigned char **lab, size_t *n, const char *text,
                          size_t len, const char *what, db_err *e)
{
    *lab = NULL;
    *n = 0;
    cJSON *j = cJSON_ParseWithLength(text, len);
    if (!j)
        return db_fail(e, "%s: malformed JSON", what);
    if (!cJSON_IsArray(j)) {
        cJSON_Delete(j);
        return db_fail(e, "%s: not a JSON array", what);
    }
    size_t cnt = (size_t)cJSON_GetArraySize(j);
    unsigned char *l = malloc(cnt ? cnt : 1);
    if (!l) {
        cJSON_Delete(j);
        return db_fail(e, "%s: out of memory", what);
    }
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        double v = cJSON_IsNumber(it) ? it->valuedouble : -1;
        if (!(v >= 0 && v <= 9 && v == (int)v)) {
            free(l);
            cJSON_Delete(j);
            return db_fail(e, "%s: element %zu is not a label 0..9", what, i);
        }
        l[i++] = (unsigned char)v;
    }
    cJSON_Delete(j);
    *lab = l;
    *n = cnt;
    return 0;
}

int db_cifar_labels_load(unsigned char **lab, size_t *n, const char *path,
                         db_err *e)
{
    *lab = NULL;
    *n = 0;
    size_t len;
    char *text = db_read_file(path, &len, DB_JSON_MAX_BYTES, e);
    if (!text)
        return -1;
    int rc = db_cifar_labels_parse(lab, n, text, len, path, e);
    free(text);
    return rc;
}

/* Everything libpng's longjmp may cross lives here, not in locals. */
struct conv {
    png_structp png;
    png_infop info;
    png_bytep row;
    unsigned char *rec;
    char pngmsg[256];   /* libpng's error message */
};

static void png_error_fn(png_structp png, png_const_charp msg)
{
    struct conv *c = png_get_error_ptr(png);
    snprintf(c->pngmsg, sizeof c->pngmsg, "%s", msg ? msg : "unknown error");
    png_longjmp(png, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;   /* warnings do not stop the conversion; library code is silent */
}

/* libpng's colour type as a word for messages. */
static const char *color_name(int t)
{
    switch (t) {
    case PNG_COLOR_TYPE_GRAY: return "grey";
    case PNG_COLOR_TYPE_PALETTE: return "palette";
    case PNG_COLOR_TYPE_RGB: return "RGB";
    case PNG_COLOR_TYPE_RGB_ALPHA: return "RGBA";
    case PNG_COLOR_TYPE_GRAY_ALPHA: return "grey+alpha";
    default: return "unknown colour type";
    }
}

static int convert(struct conv *c, FILE *in, const char *inpath, FILE *out,
                   const char *outpath, const unsigned char *lab, size_t nlab,
                   size_t first, size_t expect, size_t *rows, db_err *e)
{
    const size_t PIX = DB_PNG_CIFAR_PIX, REC = DB_PNG_CIFAR_REC;
    unsigned char sig[8];
    if (fread(sig, 1, 8, in) != 8 || png_sig_cmp(sig, 0, 8))
        return db_fail(e, "%s: not a PNG file", inpath);
    c->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, png_error_fn,
                                    png_warning_fn);
    if (!c->png || !(c->info = png_create_info_struct(c->png)))
        return db_fail(e, "%s: out of memory", inpath);
    if (setjmp(png_jmpbuf(c->png)))
        return db_fail(e, "%s: corrupt PNG: %s", inpath, c->pngmsg);
    png_set_user_limits(c->png, DB_PNG_CIFAR_PIX, DB_PNG_CIFAR_MAX_ROWS);
    png_init_io(c->png, in);
    png_set_sig_bytes(c->png, 8);
    png_read_info(c->png, c->info);
    png_uint_32 w = png_get_image_width(c->png, c->info);
    png_uint_32 h = png_get_image_height(c->png, c->info);
    int depth = png_get_bit_depth(c->png, c->info);
    int ctype = png_get_color_type(c->png, c->info);
    int inter = png_get_interlace_type(c->png, c->info);
    if (w != PIX || depth != 8 || ctype != PNG_COLOR_TYPE_RGB || inter != PNG_INTERLACE_NONE)
        return db_fail(e, "%s: expected a non-interlaced 8-bit RGB PNG 1024 pixels wide, "
                          "found %s%d-bit %s, %lu pixels wide",
                       inpath, inter != PNG_INTERLACE_NONE ? "interlaced " : "", depth,
                       color_name(ctype), (unsigned long)w);
    if (h == 0 || h > DB_PNG_CIFAR_MAX_ROWS)
        return db_fail(e, "%s: image count (height) out of range", inpath);
    if (expect && h != expect)
        return db_fail(e, "%s: %lu images (PNG rows), expected %zu", inpath,
                       (unsigned long)h, expect);
    if (first > nlab || nlab - first < h)
        return db_fail(e, "%s: more rows than labels left in the label file",
                       inpath);
    if (png_get_rowbytes(c->png, c->info) != 3 * PIX)
        return db_fail(e, "%s: unexpected row size", inpath);
    c->row = malloc(3 * PIX);
    c->rec = malloc(REC);
    if (!c->row || !c->rec)
        return db_fail(e, "%s: out of memory", inpath);
    for (png_uint_32 i = 0; i < h; i++) {
        png_read_row(c->png, c->row, NULL);
        c->rec[0] = lab[first + i];
        for (size_t p = 0; p < PIX; p++) {
            c->rec[1 + p] = c->row[3 * p];
            c->rec[1 + PIX + p] = c->row[3 * p + 1];
            c->rec[1 + 2 * PIX + p] = c->row[3 * p + 2];
        }
        if (fwrite(c->rec, 1, REC, out) != REC)
            return db_fail(e, "%s: write error: %s", outpath, strerror(errno));
        if (rows)
            *rows = (size_t)i + 1;
    }
    png_read_end(c->png, NULL);
    return 0;
}

int db_png_cifar_convert(FILE *in, const char *inpath, FILE *out,
                         const char *outpath, const unsigned char *lab,
                         size_t nlab, size_t first, size_t expect, size_t *rows,
                         db_err *e)
{
    if (rows)
        *rows = 0;
    struct conv *c = calloc(1, sizeof *c);
    if (!c)
        return db_fail(e, "%s: out of memory", inpath);
    int rc = convert(c, in, inpath, out, outpath, lab, nlab, first, expect, rows, e);
    if (c->png)
        png_destroy_read_struct(&c->png, c->info ? &c->info : NULL, NULL);
    free(c->row);
    free(c->rec);
    free(c);
    return rc;
}

int db_png_cifar_file(const char *png, const char *labels, size_t first, size_t count,
                      const char *out, db_err *e)
{
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", out) >= sizeof tmp)
        return db_fail(e, "%s: path too long", out);
    unsigned char *lab = NULL;
    size_t nlab = 0;
    if (db_cifar_labels_load(&lab, &nlab, labels, e))
        return -1;
    int fd = db_open_regular(png, NULL, e);
    FILE *in = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!in) {
        free(lab);
        if (fd >= 0) {
            close(fd);
            return db_fail(e, "%s: cannot open: %s", png, strerror(errno));
        }
        return -1;
    }
    FILE *o = fopen(tmp, "wb");
    if (!o) {
        fclose(in);
        free(lab);
        return db_fail(e, "%s: cannot create: %s", tmp, strerror(errno));
    }
    int rc = db_png_cifar_convert(in, png, o, tmp, lab, nlab, first, count, NULL, e);
    fclose(in);
    free(lab);
    if (fflush(o) != 0 && rc == 0)
        rc = db_fail(e, "%s: write error: %s", tmp, strerror(errno));
    if (fclose(o) != 0 && rc == 0)
        rc = db_fail(e, "%s: write error: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, out) != 0)
        rc = db_fail(e, "%s: cannot rename: %s", tmp, strerror(errno));
    if (rc)
        remove(tmp);
    return rc;
}
