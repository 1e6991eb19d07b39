/* pngstat - prints "WIDTH HEIGHT NONWHITE_PERMILLE COLOURS" of a PNG, for
 * tests/browser/run-browser-test: the screenshot of the HTML report must
 * have the window's size and show something (not one blank colour).
 * COLOURS counts distinct RGB values up to 1000.  Exit 1 on a bad file. */
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pngstat FILE.png\n");
        return 2;
    }
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, argv[1])) {
        fprintf(stderr, "pngstat: %s: %s\n", argv[1], img.message);
        return 1;
    }
    img.format = PNG_FORMAT_RGB;
    size_t n = PNG_IMAGE_SIZE(img);
    unsigned char *px = malloc(n);
    if (!px || !png_image_finish_read(&img, NULL, px, 0, NULL)) {
        fprintf(stderr, "pngstat: %s: %s\n", argv[1], px ? img.message : "out of memory");
        free(px);
        return 1;
    }
    size_t npx = (size_t)img.width * img.height, nonwhite = 0, ncol = 0;
    static uint32_t seen[1000];
    for (size_t i = 0; i < npx; i++) {
        const unsigned char *p = px + 3 * i;
        if (p[0] < 250 || p[1] < 250 || p[2] < 250)
            nonwhite++;
        uint32_t c = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
        size_t j = 0;
        while (j < ncol && seen[j] != c)
            j++;
        if (j == ncol && ncol < 1000)
            seen[ncol++] = c;
    }
    printf("%u %u %zu %zu\n", img.width, img.height, npx ? 1000 * nonwhite / npx : 0, ncol);
    free(px);
    return 0;
}
