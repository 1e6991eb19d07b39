/* fuzz_config.c - task/model config files: run_resolve on the input as a
 * --config file (config parser, model parser, rate list, strategy rewrite,
 * model shape checks), then the canonical parser run_config_from_canonical on
 * the input itself and on the resolved config, which must round-trip to the
 * same run id and hold only finite numbers. */
#include "fuzz_common.h"

#include <math.h>

#include <cJSON.h>

#include "train/run.h"
#include "train/runcfg.h"

int fuzz_config_one(const uint8_t *data, size_t size);

static int fuzz_all_finite(const cJSON *j)
{
    if (cJSON_IsNumber(j) && !isfinite(j->valuedouble))
        return 0;
    for (const cJSON *c = j->child; c; c = c->next)
        if (!fuzz_all_finite(c))
            return 0;
    return 1;
}

int fuzz_config_one(const uint8_t *data, size_t size)
{
    const char *path = fuzz_path("config.json");
    fuzz_write(path, data, size);
    run_request rq;
    run_request_init(&rq);
    rq.config_path = path;
    cJSON *cfg = NULL;
    char id[17];
    db_err e = { "" };
    int rc = run_resolve(&rq, &cfg, id, &e);
    FUZZ_REQUIRE_MSG(rc, e);
    run_config *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    if (rc == 0) {
        FUZZ_CHECK(cfg != NULL && strlen(id) == 16);
        FUZZ_CHECK(fuzz_all_finite(cfg));
        db_err e2 = { "" };
        FUZZ_CHECK(run_config_from_canonical(r, cfg, &e2) == 0);
        cJSON *again = run_config_to_json(r);
        char id2[17];
        FUZZ_CHECK(again && run_config_id(id2, again, &e2) == 0);
        FUZZ_CHECK(strcmp(id, id2) == 0);
        cJSON_Delete(again);
        cJSON_Delete(cfg);
    } else {
        FUZZ_CHECK(cfg == NULL);
    }
    /* the input as a canonical config (what a result file records) */
    cJSON *j = cJSON_ParseWithLength((const char *)data, size);
    if (j) {
        db_err e3 = { "" };
        int rc3 = run_config_from_canonical(r, j, &e3);
        FUZZ_REQUIRE_MSG(rc3, e3);
        if (rc3 == 0)   /* every float a run will use is finite */
            FUZZ_CHECK(isfinite(r->opt.lr) && isfinite(r->opt.momentum) &&
                       isfinite(r->opt.weight_decay) && isfinite(r->opt.max_norm) &&
                       isfinite(r->opt.clip_norm) && isfinite(r->sched_gamma));
        cJSON_Delete(j);
    }
    free(r);
    return rc;
}

FUZZ_ENTRY(fuzz_config_one)
