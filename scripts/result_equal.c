/* result_equal.c - exits 0 when two result files hold the same run and the
 * same numbers: everything but what is measured rather than computed
 * (timing, environment, peak RSS, data load seconds, per-epoch seconds and
 * examples/s).  Used by scripts/soak to compare a run resumed from
 * checkpoints with an uninterrupted one.
 * usage: result_equal A.json B.json */
#include <stdio.h>
#include <stdlib.h>

#include <cJSON.h>

#include "util/fs.h"

static cJSON *load(const char *path)
{
    db_err e;
    char *txt = db_read_file(path, NULL, (size_t)1 << 28, &e);
    if (!txt) {
        fprintf(stderr, "result_equal: %s\n", e.msg);
        return NULL;
    }
    cJSON *r = cJSON_Parse(txt);
    free(txt);
    if (!r) {
        fprintf(stderr, "result_equal: %s: not JSON\n", path);
        return NULL;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(r, "timing");
    cJSON_DeleteItemFromObjectCaseSensitive(r, "environment");
    cJSON_DeleteItemFromObjectCaseSensitive(r, "peak_rss_mib");
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "data"),
                                            "load_seconds");
    cJSON *ep;
    cJSON_ArrayForEach(ep, cJSON_GetObjectItemCaseSensitive(r, "epochs")) {
        cJSON_DeleteItemFromObjectCaseSensitive(ep, "seconds");
        cJSON_DeleteItemFromObjectCaseSensitive(ep, "examples_per_sec");
    }
    return r;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: result_equal A.json B.json\n");
        return 2;
    }
    cJSON *a = load(argv[1]), *b = load(argv[2]);
    int same = a && b && cJSON_Compare(a, b, 1);
    if (a && b && !same)
        fprintf(stderr, "result_equal: %s and %s differ\n", argv[1], argv[2]);
    cJSON_Delete(a);
    cJSON_Delete(b);
    return a && b ? !same : 2;
}
