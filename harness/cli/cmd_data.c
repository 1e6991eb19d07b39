/* cmd_data.c - `dropbench data`: what data is here, and can it be trusted. */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <getopt.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "data/data.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: dropbench data [--data DIR] [SET...]\n"
               "  Lists each data set (default: all of mnist fashion cifar10 "
               "wordlang)\n"
               "  with its location, size, counts per split and per class, "
               "and whether\n"
               "  every file matches its sha256 (docs/DATA.md).  DIR (also "
               "--root) defaults\n"
               "  to $DROPBENCH_DATA or ./data.  Fetch missing sets with "
               "scripts/fetch-data SET.\n");
}

static void print_split(const char *what, const db_split *s, size_t classes)
{
    size_t count[256] = {0};
    for (size_t i = 0; i < s->n; i++)
        count[s->y[i]]++;
    printf("  %-5s %6zu  per class:", what, s->n);
    for (size_t c = 0; c < classes && c < 256; c++)
        printf(" %zu", count[c]);
    printf("\n");
}

static void human(char *out, size_t cap, double bytes)
{
    if (bytes >= 1e9)
        snprintf(out, cap, "%.2f GB", bytes / 1e9);
    else if (bytes >= 1e6)
        snprintf(out, cap, "%.1f MB", bytes / 1e6);
    else
        snprintf(out, cap, "%.1f kB", bytes / 1e3);
}

/* Returns 0 fine (or absent and not named), 1 on trouble. */
static int show(const char *root, const char *name, int named)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("%-8s  %s: absent (run scripts/fetch-data %s)\n", name, dir, name);
        return named;
    }
    db_dataset d;
    db_err e = {{0}};
    if (db_dataset_load(&d, name, root, &e)) {
        printf("%-8s  %s: INVALID: %s\n", name, dir, e.msg);
        return 1;
    }
    double bytes = 0;
    for (size_t i = 0; i < d.nfiles; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir, d.files[i].name);
        if (stat(p, &st) == 0)
            bytes += (double)st.st_size;
    }
    char sz[32];
    human(sz, sizeof sz, bytes);
    int ok = db_dataset_verified(&d);
    printf("%-8s  %s: %zu files, %s, %s\n", name, dir, d.nfiles, sz,
           ok ? "verified (sha256 matches docs/DATA.md)" : "NOT VERIFIED");
    if (d.kind == DB_DATA_IMAGE)
        printf("  images %zux%zux%zu uint8, %zu classes", d.C, d.H, d.W,
               d.classes);
    else
        printf("  text: words of up to %zu bytes, vocab %zu, %zu classes",
               d.T, d.vocab, d.classes);
    if (!strcmp(name, "cifar10"))
        printf(", mean %.4f %.4f %.4f, std %.4f %.4f %.4f", d.mean[0],
               d.mean[1], d.mean[2], d.std[0], d.std[1], d.std[2]);
    printf("\n");
    print_split("train", &d.train, d.classes);
    print_split("test", &d.test, d.classes);
    for (size_t i = 0; i < d.nfiles; i++)
        if (!d.files[i].verified)
            printf("  %s: sha256 %s does not match docs/DATA.md\n", d.files[i].name,
                   d.files[i].sha256);
    db_dataset_free(&d);
    return !ok;
}

int cmd_data(int argc, char **argv)
{
    const char *root = NULL;
    const char *want[16];
    size_t nwant = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--data") || !strcmp(argv[i], "--root")) {
            if (++i >= argc) {
                fprintf(stderr, "dropbench data: %s: needs a value (a folder)\n", argv[i - 1]);
                return 2;
            }
            root = argv[i];
        } else if (argv[i][0] == '-') {
            static const struct option opts[] = {
                { "data", required_argument, NULL, 'd' },
                { "root", required_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
            };
            cli_unknown_option("data", argv[i], opts);
            return 2;
        } else {
            size_t k = 0;
            while (db_data_set_name(k) && strcmp(db_data_set_name(k), argv[i]))
                k++;
            if (!db_data_set_name(k)) {
                const char *sets[16];
                size_t ns = 0;
                while (ns < 16 && db_data_set_name(ns))
                    sets[ns] = db_data_set_name(ns), ns++;
                db_err e;
                db_fail_unknown(&e, NULL, "data set", argv[i], sets, ns);
                fprintf(stderr, "dropbench data: %s\n", e.msg);
                return 1;
            }
            if (nwant == sizeof want / sizeof want[0]) {
                fprintf(stderr, "dropbench data: %s: too many sets named (at most %zu)\n",
                        argv[i], sizeof want / sizeof want[0]);
                return 2;
            }
            want[nwant++] = argv[i];
        }
    }
    if (!root)
        root = db_data_root();
    struct stat rst;
    if (stat(root, &rst) != 0 || !S_ISDIR(rst.st_mode)) {
        fprintf(stderr, "dropbench data: %s: %s (scripts/fetch-data fills the data folder)\n",
                root, stat(root, &rst) != 0 ? strerror(errno) : "not a folder");
        return 1;
    }
    printf("data root: %s\n", root);
    int bad = 0;
    if (nwant) {
        for (size_t i = 0; i < nwant; i++)
            bad |= show(root, want[i], 1);
    } else {
        for (size_t k = 0; db_data_set_name(k); k++)
            bad |= show(root, db_data_set_name(k), 0);
    }
    fflush(stdout);
    return bad ? 1 : 0;
}
