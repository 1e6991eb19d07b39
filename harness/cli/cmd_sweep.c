/* cmd_sweep.c - `dropbench sweep` on this machine (sweep/exec.h); the
 * Slurm modes are cmd_slurm.c's. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "sweep/exec.h"
#include "sweep/plan.h"
#include "sweep/slurm.h"

static void sweep_usage(FILE *f)
{
    fputs("usage: dropbench sweep SWEEP.json [--jobs N] [--threads N] "
          "[--dry-run]\n"
          "                       [--filter EXPR]... [--results DIR] "
          "[--data DIR] [--quiet]\n"
          "                       [--allow-unverified] [--status]\n"
          "  Runs every run of the sweep's grid that has no complete result "
          "yet,\n"
          "  N at a time (default: one per core, one BLAS thread each).\n"
          "  --filter task=mnist-*,strategy=hinton,seed=0 (globs; repeat to "
          "OR)\n"
          "  --dry-run lists the runs with their state and estimated cost.\n"
          "  --status says which runs are done, diverged, running, failed or\n"
          "  missing, from the results folder alone (exit status 0: all done).\n"
          "  Each run's start and end is appended to <results>/sweep.log.\n"
          "  --allow-unverified trains on data whose sha256 does not match\n"
          "  docs/DATA.md (refused otherwise), under run ids of their own.\n"
          "\n",
          f);
    slurm_usage(f);
}

/* A count of 1 to 4096 into *out. */
static int parse_count(const char *s, int *out)
{
    long v;
    if (cli_long(s, 1, 4096, &v) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

int cli_sweep_execute(const struct sweep_plan *plan, const struct sweep_options *o)
{
    db_err e = { "" };
    sweep_summary s;
    if (sweep_execute(plan, o, &s, &e) != 0) {
        fprintf(stderr, "dropbench sweep: %s\n", e.msg);
        return 1;
    }
    fflush(stderr);
    sweep_summary_print(stdout, plan, &s);
    int rc = s.signal ? 128 + s.signal
             : (s.failed || s.interrupted || s.pending) ? 1
                                                        : 0;
    sweep_summary_free(&s);
    return rc;
}

/* Parses argv into o (filters: room for argc + 1) and *dry; -1 to go on
 * with the sweep file argv[optind], else the exit status (said why). */
static int sweep_parse_args(int argc, char **argv, sweep_options *o,
                            const char **filters, int *dry)
{
    static const struct option opts[] = {
        CLI_SWEEP_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    optind = 1;
    int c;
    while ((c = cli_getopt_known(argc, argv, "j:t:nf:r:d:qh", opts, sweep_all_options,
                                 "sweep", 1)) != -1) {
        switch (c) {
        case 'j':
            if (parse_count(optarg, &o->jobs) != 0) {
                fprintf(stderr, "dropbench sweep: --jobs: expected an integer in [1, 4096], "
                                "got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 't':
            if (parse_count(optarg, &o->threads) != 0) {
                fprintf(stderr, "dropbench sweep: --threads: expected an integer in [1, "
                                "4096], got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'n': *dry = 1; break;
        case 'f': filters[o->nfilters++] = optarg; break;
        case 'r': o->results_dir = optarg; break;
        case 'd': o->data_root = optarg; break;
        case 'q': o->progress = NULL; break;
        /* the plan's run requests read it (run_request_init) */
        case 'U': setenv("DROPBENCH_ALLOW_UNVERIFIED", "1", 1); break;
        case 'h': sweep_usage(stdout); return 0;
        default: return 2; /* cli_getopt said why */
        }
    }
    if (optind != argc - 1) {
        if (optind < argc - 1)
            fprintf(stderr, "dropbench sweep: \"%s\": unexpected argument (give one "
                            "sweep file)\n", argv[optind + 1]);
        else
            fprintf(stderr, "dropbench sweep: give a sweep file (`dropbench sweep "
                            "--help`)\n");
        return 2;
    }
    o->filters = filters;
    return -1;
}

/* Loads the sweep file and keeps the runs --filter selects; 0, or the exit
 * status (said why). */
static int sweep_load_filtered(sweep_plan *plan, const char *file, const sweep_options *o)
{
    db_err e = { "" };
    if (sweep_plan_load(plan, file, o, &e) != 0) {
        fprintf(stderr, "dropbench sweep: %s\n", e.msg);
        return 1;
    }
    size_t before = plan->n;
    if (sweep_plan_filter(plan, o->filters, o->nfilters, &e) != 0) {
        fprintf(stderr, "dropbench sweep: %s\n", e.msg);
        sweep_plan_free(plan);
        return 2; /* --filter is the command line's */
    }
    if (o->nfilters && o->progress)
        fprintf(o->progress, "dropbench sweep: --filter kept %zu of %zu runs\n",
                plan->n, before);
    return 0;
}

int cmd_sweep(int argc, char **argv)
{
    int slurm_rc = slurm_cmd_sweep(argc, argv);
    if (slurm_rc >= 0) /* --slurm, --index or --status */
        return slurm_rc;
    sweep_options o;
    memset(&o, 0, sizeof o);
    o.progress = stderr;
    char job[96];
    slurm_job_label(job, sizeof job); /* a sweep inside a batch job */
    o.job_label = job;
    int dry = 0;
    const char **filters = calloc((size_t)argc + 1, sizeof *filters);
    if (!filters)
        return 1;
    int rc = sweep_parse_args(argc, argv, &o, filters, &dry);
    if (rc >= 0) {
        free(filters);
        return rc;
    }
    sweep_plan plan;
    rc = sweep_load_filtered(&plan, argv[optind], &o);
    if (rc != 0) {
        free(filters);
        return rc;
    }
    char log_path[4200];
    if (snprintf(log_path, sizeof log_path, "%s/sweep.log", plan.results_dir) <
        (int)sizeof log_path)
        o.log_path = log_path;
    if (dry)
        sweep_dry_run(stdout, &plan, &o);
    else
        rc = cli_sweep_execute(&plan, &o);
    sweep_plan_free(&plan);
    free(filters);
    return rc;
}
