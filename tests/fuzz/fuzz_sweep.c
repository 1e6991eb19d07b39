/* fuzz_sweep.c - sweep files: sweep_plan_load (grid expansion, run
 * resolution), then the dry-run listing.  The first runs of each input are
 * resolved for real (run_resolve against the preset configs in
 * $DROPBENCH_SRC/configs); the rest through a cheap stand-in that builds a
 * small config from the request, so large grids cost little.  Results go to
 * a scratch directory, whatever the file says. */
#include "fuzz_common.h"

#include <math.h>

#include <cJSON.h>

#include "sweep/exec.h"
#include "sweep/plan.h"
#include "train/run.h"
#include "train/runcfg.h"

int fuzz_sweep_one(const uint8_t *data, size_t size);

#define FUZZ_SWEEP_REAL 6
static size_t fuzz_sweep_nresolved;

static int fuzz_sweep_resolve(const run_request *rq, cJSON **config, char id[17],
                              db_err *e)
{
    if (fuzz_sweep_nresolved++ < FUZZ_SWEEP_REAL)
        return run_resolve(rq, config, id, e);
    *config = NULL;
    if (!rq->task || !rq->strategy)
        return db_fail(e, "no task or strategy");
    if (rq->lr < 0 || !isfinite(rq->lr))
        return db_fail(e, "--lr: must be a positive number");
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return db_fail(e, "out of memory");
    cJSON_AddStringToObject(j, "task", rq->task);
    cJSON_AddStringToObject(j, "strategy", rq->strategy);
    if (rq->rate)
        cJSON_AddStringToObject(j, "rate", rq->rate);
    cJSON_AddNumberToObject(j, "seed", (double)rq->seed);
    cJSON_AddNumberToObject(j, "epochs", rq->epochs > 0 ? rq->epochs : 1);
    cJSON_AddNumberToObject(j, "lr", rq->lr);
    cJSON_AddNumberToObject(j, "limit_train", (double)rq->limit_train);
    cJSON_AddNumberToObject(j, "val", (double)rq->val);
    cJSON_AddNumberToObject(j, "threads", rq->threads > 0 ? rq->threads : 1);
    if (run_config_id(id, j, e)) {
        cJSON_Delete(j);
        return -1;
    }
    *config = j;
    return 0;
}

int fuzz_sweep_one(const uint8_t *data, size_t size)
{
    static char configs[1024];
    if (!configs[0]) {
        snprintf(configs, sizeof configs, "%s/configs", fuzz_src());
        setenv("DROPBENCH_CONFIGS", configs, 1);
    }
    const char *path = fuzz_path("sweep.json");
    fuzz_write(path, data, size);
    sweep_options o;
    memset(&o, 0, sizeof o);
    o.results_dir = fuzz_path("results");
    o.jobs = 1;
    sweep_backend b = sweep_backend_default;
    b.resolve = fuzz_sweep_resolve;
    o.backend = &b;
    fuzz_sweep_nresolved = 0;
    sweep_plan plan;
    db_err e = { "" };
    int rc = sweep_plan_load(&plan, path, &o, &e);
    FUZZ_REQUIRE_MSG(rc, e);
    if (rc == 0) {
        FUZZ_CHECK(plan.name && plan.results_dir);
        for (size_t i = 0; i < plan.n; i++)
            FUZZ_CHECK(plan.runs[i].config && strlen(plan.runs[i].id) == 16);
        FILE *null = fopen("/dev/null", "w");
        if (!null)
            abort();
        sweep_dry_run(null, &plan, &o);
        fclose(null);
        sweep_plan_free(&plan);
    }
    return rc;
}

FUZZ_ENTRY(fuzz_sweep_one)
