/* fuzz_result.c - result files as `report` and sweeps read them: the input,
 * split at NUL bytes into up to four files of one results directory, goes
 * through report_load, report_aggregate (baseline "none"),
 * report_crosscheck_make and report_write
 * in every format; each file also through run_result_complete (the sweep's
 * "is this run done" check). */
#include "fuzz_common.h"

#include "report/aggregate.h"
#include "report/results.h"
#include "report/write.h"
#include "train/run.h"

int fuzz_result_one(const uint8_t *data, size_t size);

int fuzz_result_one(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_path("res");
    rm_tree(dir);
    fuzz_mkdir(dir);
    size_t start = 0;
    for (int k = 0; k < 4 && start <= size; k++) {
        const uint8_t *nul = k < 3 ? memchr(data + start, 0, size - start) : NULL;
        size_t end = nul ? (size_t)(nul - data) : size;
        char name[32], p[600];
        snprintf(name, sizeof name, "r%d.json", k);
        snprintf(p, sizeof p, "%s/%s", dir, name);
        fuzz_write(p, data + start, end - start);
        (void)run_result_complete(p);
        start = end + 1;
        if (!nul)
            break;
    }
    report_set set;
    memset(&set, 0, sizeof set);
    db_err e = { "" };
    int rc = report_load(&set, dir, &e);
    FUZZ_REQUIRE_MSG(rc, e);
    if (rc == 0) {
        FUZZ_CHECK(set.n + set.nproblems == set.nfiles);
        report_table t;
        memset(&t, 0, sizeof t);
        db_err e2 = { "" };
        int ra = report_aggregate(&set, "none", &t, &e2);
        FUZZ_REQUIRE_MSG(ra, e2);
        if (ra == 0) {
            FILE *null = fopen("/dev/null", "w");
            if (!null)
                abort();
            report_crosscheck xc;
            db_err e4 = { "" };
            int rx = report_crosscheck_make(&set, &t, &xc, &e4);
            FUZZ_REQUIRE_MSG(rx, e4);
            report_doc doc;
            memset(&doc, 0, sizeof doc);
            doc.xc = rx == 0 ? &xc : NULL;
            for (int f = REPORT_MD; f <= REPORT_HTML; f++) {
                db_err e3 = { "" };
                int rw = report_write(null, &set, &t, (enum report_format)f, &doc, &e3);
                FUZZ_REQUIRE_MSG(rw, e3);
            }
            if (rx == 0)
                report_crosscheck_free(&xc);
            fclose(null);
        }
        report_table_free(&t);
    }
    report_set_free(&set);
    return rc;
}

FUZZ_ENTRY(fuzz_result_one)
