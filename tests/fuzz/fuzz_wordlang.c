/* fuzz_wordlang.c - the wordlang TSV loader (db_dataset_load "wordlang").
 * Byte 0: bit 0 picks the file holding the rest of the input (train.tsv or
 * test.tsv); the other holds two valid lines. */
#include "fuzz_common.h"

#include "data/data.h"

int fuzz_wordlang_one(const uint8_t *data, size_t size);

int fuzz_wordlang_one(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char good[] = "0\tabc\n9\tzzzzzzzzzzzzzzzz\n";
    fuzz_mkdir(fuzz_path("wordlang"));
    int test = data[0] & 1;
    fuzz_write(fuzz_path(test ? "wordlang/test.tsv" : "wordlang/train.tsv"), data + 1,
               size - 1);
    fuzz_write(fuzz_path(test ? "wordlang/train.tsv" : "wordlang/test.tsv"), good,
               sizeof good - 1);
    db_dataset d;
    db_err e = { "" };
    int rc = db_dataset_load(&d, "wordlang", fuzz_dir(), &e);
    FUZZ_REQUIRE_MSG(rc, e);
    if (rc == 0) {
        FUZZ_CHECK(d.kind == DB_DATA_TEXT && d.T == 16);
        const db_split *sp[2] = { &d.train, &d.test };
        for (int k = 0; k < 2; k++)
            for (size_t i = 0; i < sp[k]->n; i++) {
                FUZZ_CHECK(sp[k]->y[i] < d.classes);
                FUZZ_CHECK(sp[k]->len[i] >= 3 && sp[k]->len[i] <= d.T);
                for (size_t t = sp[k]->len[i]; t < d.T; t++)
                    FUZZ_CHECK(sp[k]->x[i * d.T + t] == 0);
            }
        db_dataset_free(&d);
    }
    return rc;
}

FUZZ_ENTRY(fuzz_wordlang_one)
