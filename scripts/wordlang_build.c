/* wordlang_build - builds wordlang v1 (train.tsv, test.tsv) from the ten
 * Debian word lists, exactly as docs/DATA.md specifies:
 *   1. per list: strip trailing spaces/tabs/CR; keep words of 3..16 UTF-8
 *      bytes that are valid UTF-8 with no ASCII byte outside 'a'..'z';
 *      duplicates within a list count once (Swedish is ISO-8859-1 and is
 *      converted to UTF-8 first);
 *   2. drop every word kept in more than one language;
 *   3. per language, order by 64-bit FNV-1a then bytes; first 10000 -> train,
 *      next 2000 -> test;
 *   4. write "CLASS\tWORD\n" lines, languages in class order.
 *
 * usage: wordlang_build [--train N --test N] DICT_DIR OUT_DIR
 * DICT_DIR is an extracted usr/share/dict.  Files are written as
 * OUT_DIR/train.tsv and OUT_DIR/test.tsv (through a .tmp name and rename). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"

#define NLANG 10
#define MAXW 16

static const struct {
    const char *file;
    int latin1;
} LANGS[NLANG] = {
    {"american-english", 0}, {"ngerman", 0}, {"french", 0}, {"spanish", 0},
    {"italian", 0},          {"portuguese", 0}, {"dutch", 0}, {"danish", 0},
    {"polish", 0},           {"swedish", 1},
};

typedef struct word {
    uint64_t hash;
    uint8_t len;
    uint8_t lang;
    char w[MAXW];
} word;

static word *words;
static size_t nwords, capwords;

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static int keep(const uint8_t *p, size_t n)
{
    if (n < 3 || n > MAXW)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x80 && (p[i] < 'a' || p[i] > 'z'))
            return 0;
    return db_utf8_valid(p, n);
}

static int add_word(const uint8_t *p, size_t n, int lang)
{
    if (nwords == capwords) {
        size_t cap = capwords ? 2 * capwords : 1 << 16;
        word *w = realloc(words, cap * sizeof *w);
        if (!w)
            return -1;
        words = w;
        capwords = cap;
    }
    word *w = &words[nwords++];
    memset(w, 0, sizeof *w);
    memcpy(w->w, p, n);
    w->len = (uint8_t)n;
    w->lang = (uint8_t)lang;
    w->hash = fnv1a(p, n);
    return 0;
}

static int cmp_bytes(const word *a, const word *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->w, b->w, n);
    if (c)
        return c;
    return (a->len > b->len) - (a->len < b->len);
}

/* bytes, then language: groups a word's occurrences together */
static int cmp_word_lang(const void *pa, const void *pb)
{
    const word *a = pa, *b = pb;
    int c = cmp_bytes(a, b);
    return c ? c : (a->lang > b->lang) - (a->lang < b->lang);
}

/* language, then hash, then bytes: the published order */
static int cmp_lang_hash(const void *pa, const void *pb)
{
    const word *a = pa, *b = pb;
    if (a->lang != b->lang)
        return (a->lang > b->lang) - (a->lang < b->lang);
    if (a->hash != b->hash)
        return (a->hash > b->hash) - (a->hash < b->hash);
    return cmp_bytes(a, b);
}

static int read_list(const char *dir, int lang)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, LANGS[lang].file);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "wordlang_build: %s: cannot open: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t line[4096], conv[8192];
    size_t n = 0, kept = 0;
    int c, truncated = 0;
    for (;;) {
        c = getc(f);
        if (c != '\n' && c != EOF) {
            if (n < sizeof line)
                line[n++] = (uint8_t)c;
            else
                truncated = 1;  /* far longer than 16 bytes: never kept */
            continue;
        }
        if (n > 0 || c == '\n') {
            const uint8_t *w = line;
            size_t m = n;
            if (LANGS[lang].latin1) {
                m = 0;
                for (size_t i = 0; i < n; i++) {
                    if (line[i] < 0x80) {
                        conv[m++] = line[i];
                    } else {
                        conv[m++] = (uint8_t)(0xc0 | line[i] >> 6);
                        conv[m++] = (uint8_t)(0x80 | (line[i] & 0x3f));
                    }
                }
                w = conv;
            }
            while (m > 0 && (w[m - 1] == ' ' || w[m - 1] == '\t' || w[m - 1] == '\r'))
                m--;
            if (!truncated && keep(w, m)) {
                if (add_word(w, m, lang)) {
                    fclose(f);
                    fprintf(stderr, "wordlang_build: out of memory\n");
                    return -1;
                }
                kept++;
            }
        }
        n = 0;
        truncated = 0;
        if (c == EOF)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "wordlang_build: %s: read error\n", path);
        return -1;
    }
    fprintf(stderr, "wordlang_build: %s: %zu words kept (before dedup)\n", path, kept);
    return 0;
}

static int write_split(const char *out, const char *name, size_t *first,
                       size_t count)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", out, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "wordlang_build: %s: cannot create: %s\n", tmp, strerror(errno));
        return -1;
    }
    for (int l = 0; l < NLANG; l++) {
        for (size_t i = 0; i < count; i++) {
            const word *w = &words[first[l] + i];
            fprintf(f, "%d\t%.*s\n", l, (int)w->len, w->w);
        }
        first[l] += count;
    }
    if (fflush(f) || ferror(f)) {
        fclose(f);
        remove(tmp);
        fprintf(stderr, "wordlang_build: %s: write error\n", tmp);
        return -1;
    }
    if (fclose(f) || rename(tmp, path)) {
        remove(tmp);
        fprintf(stderr, "wordlang_build: %s: cannot write: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int parse_count(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || end == s || v == 0 || v > 10000000UL)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    size_t ntrain = 10000, ntest = 2000;
    int a = 1;
    for (; a + 1 < argc && argv[a][0] == '-'; a += 2) {
        size_t *dst = !strcmp(argv[a], "--train") ? &ntrain
                    : !strcmp(argv[a], "--test")  ? &ntest : NULL;
        if (!dst || parse_count(argv[a + 1], dst)) {
            fprintf(stderr, "wordlang_build: bad option %s %s\n", argv[a], argv[a + 1]);
            return 2;
        }
    }
    if (argc - a != 2) {
        fprintf(stderr, "usage: wordlang_build [--train N --test N] DICT_DIR OUT_DIR\n");
        return 2;
    }
    const char *dict = argv[a], *out = argv[a + 1];
    for (int l = 0; l < NLANG; l++)
        if (read_list(dict, l))
            return 1;

    /* Steps 1-2: dedup per language, then drop words seen in >1 language.
     * (No word may have survived the filters: words is NULL then, which
     * qsort must not be given.) */
    if (nwords > 1)
        qsort(words, nwords, sizeof *words, cmp_word_lang);
    size_t m = 0;
    for (size_t i = 0; i < nwords;) {
        size_t j = i + 1;
        int multi = 0;
        while (j < nwords && cmp_bytes(&words[i], &words[j]) == 0) {
            if (words[j].lang != words[i].lang)
                multi = 1;
            j++;
        }
        if (!multi)
            words[m++] = words[i];
        i = j;
    }
    nwords = m;

    /* Step 3. */
    if (nwords > 1)
        qsort(words, nwords, sizeof *words, cmp_lang_hash);
    size_t first[NLANG], end[NLANG];
    size_t i = 0;
    for (int l = 0; l < NLANG; l++) {
        first[l] = i;
        while (i < nwords && words[i].lang == l)
            i++;
        end[l] = i;
        size_t have = end[l] - first[l];
        fprintf(stderr, "wordlang_build: class %d (%s): %zu unique words\n", l,
                LANGS[l].file, have);
        if (have < ntrain + ntest) {
            fprintf(stderr, "wordlang_build: %s/%s: only %zu usable words, need %zu\n",
                    dict, LANGS[l].file, have, ntrain + ntest);
            return 1;
        }
    }
    if (write_split(out, "train.tsv", first, ntrain) ||
        write_split(out, "test.tsv", first, ntest))
        return 1;
    free(words);
    return 0;
}
