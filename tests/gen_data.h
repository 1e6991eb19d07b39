/* gen_data.h - small generated data sets in the real on-disk formats, for
 * tests that train end to end without the real data.
 *
 * Each set carries a learnable signal (a class-dependent pattern plus noise),
 * so a test can tell a model that learns from one that does not.  Written
 * under ROOT/<set>/ with the file names the loaders expect. */
#ifndef DB_GEN_DATA_H
#define DB_GEN_DATA_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static inline uint32_t gen_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static inline void gen_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline int gen_write(const char *path, const void *buf, size_t n, int gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        if (!g)
            return -1;
        int ok = gzwrite(g, buf, (unsigned)n) == (int)n;
        return gzclose(g) == Z_OK && ok ? 0 : -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(buf, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* One 28x28 image of class y: a bright 7x7 block at a class position. */
static inline void gen_digit(uint8_t *img, uint8_t y, uint32_t *s)
{
    for (int i = 0; i < 784; i++)
        img[i] = (uint8_t)(gen_next(s) % 64);
    int r0 = 3 + (y / 4) * 8, c0 = 3 + (y % 4) * 6;
    for (int r = r0; r < r0 + 7 && r < 28; r++)
        for (int c = c0; c < c0 + 7 && c < 28; c++)
            img[r * 28 + c] = (uint8_t)(192 + gen_next(s) % 64);
}

/* MNIST-style IDX files (gz = 1: Fashion-MNIST's .gz names). */
static inline int gen_idx_set(const char *root, const char *set, size_t ntrain, size_t ntest,
                       int gz, uint32_t seed)
{
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/%s", root, set);
    mkdir(root, 0777);
    mkdir(dir, 0777);
    uint32_t s = seed | 1;
    const char *split[2] = { "train", "t10k" };
    size_t n[2] = { ntrain, ntest };
    for (int k = 0; k < 2; k++) {
        size_t ni = 16 + n[k] * 784, nl = 8 + n[k];
        uint8_t *im = malloc(ni), *lb = malloc(nl);
        if (!im || !lb)
            return -1;
        gen_be32(im, 0x803);
        gen_be32(im + 4, (uint32_t)n[k]);
        gen_be32(im + 8, 28);
        gen_be32(im + 12, 28);
        gen_be32(lb, 0x801);
        gen_be32(lb + 4, (uint32_t)n[k]);
        for (size_t i = 0; i < n[k]; i++) {
            uint8_t y = (uint8_t)(gen_next(&s) % 10);
            lb[8 + i] = y;
            gen_digit(im + 16 + i * 784, y, &s);
        }
        int rc = 0;
        snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte%s", dir, split[k], gz ? ".gz" : "");
        rc |= gen_write(path, im, ni, gz);
        snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte%s", dir, split[k], gz ? ".gz" : "");
        rc |= gen_write(path, lb, nl, gz);
        free(im);
        free(lb);
        if (rc)
            return -1;
    }
    return 0;
}

/* CIFAR-10 binary: five training files of per_file records and a test file. */
static inline int gen_cifar(const char *root, size_t per_file, size_t ntest, uint32_t seed)
{
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/cifar10", root);
    mkdir(root, 0777);
    mkdir(dir, 0777);
    uint32_t s = seed | 1;
    for (int f = 0; f < 6; f++) {
        size_t n = f < 5 ? per_file : ntest;
        uint8_t *buf = malloc(n * 3073);
        if (!buf)
            return -1;
        for (size_t i = 0; i < n; i++) {
            uint8_t *r = buf + i * 3073;
            uint8_t y = (uint8_t)(gen_next(&s) % 10);
            r[0] = y;
            for (int c = 0; c < 3; c++)
                for (int p = 0; p < 1024; p++) {
                    int row = p / 32, col = p % 32;
                    int on = (row / 8 == (y + c) % 4) && (col / 8 == y / 4 + c % 2);
                    r[1 + c * 1024 + p] = (uint8_t)((on ? 160 : 40) + gen_next(&s) % 64);
                }
        }
        if (f < 5)
            snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, f + 1);
        else
            snprintf(path, sizeof path, "%s/test_batch.bin", dir);
        int rc = gen_write(path, buf, n * 3073, 0);
        free(buf);
        if (rc)
            return -1;
    }
    return 0;
}

/* wordlang TSV: each class draws its letters from its own part of a..z. */
static inline int gen_wordlang(const char *root, size_t ntrain, size_t ntest, uint32_t seed)
{
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/wordlang", root);
    mkdir(root, 0777);
    mkdir(dir, 0777);
    uint32_t s = seed | 1;
    const char *name[2] = { "train.tsv", "test.tsv" };
    size_t n[2] = { ntrain, ntest };
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, name[k]);
        FILE *f = fopen(path, "w");
        if (!f)
            return -1;
        for (size_t i = 0; i < n[k]; i++) {
            unsigned y = (unsigned)(i * 10 / n[k]); /* classes in order, as shipped */
            int len = 3 + (int)(gen_next(&s) % 14);
            char w[17];
            for (int j = 0; j < len; j++)
                w[j] = (char)('a' + (y * 2 + gen_next(&s) % 8) % 26);
            w[len] = '\0';
            fprintf(f, "%u\t%s\n", y, w);
        }
        if (fclose(f) != 0)
            return -1;
    }
    return 0;
}

/* All four sets under root. */
static inline int gen_all(const char *root, size_t ntrain, size_t ntest)
{
    return gen_idx_set(root, "mnist", ntrain, ntest, 0, 11) ||
           gen_idx_set(root, "fashion", ntrain, ntest, 1, 12) ||
           gen_cifar(root, ntrain / 5, ntest, 13) || gen_wordlang(root, ntrain, ntest, 14)
               ? -1
               : 0;
}

#endif
