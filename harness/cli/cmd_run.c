/* cmd_run.c - `dropbench run`, `dropbench show` (a task's model after a
 * strategy's rewrite) and `dropbench strategies`. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "strategy.h"
#include "train/model.h"
#include "train/run.h"
#include "train/runcfg.h"
#include "train/train.h"

/* The help of run or show (cmd): each lists only the options it takes. */
static void run_usage(FILE *f, const char *cmd)
{
    int show = strcmp(cmd, "show") == 0;
    fprintf(f,
            "usage: dropbench %s (--task T | --config FILE) [options]\n"
            "%s"
            "  --task T         a preset (configs/T.json, or a folder of $DROPBENCH_CONFIGS)\n"
            "  --config FILE    a config file\n"
            "  --strategy S     dropout placement (see `dropbench strategies`), e.g. conv+pool\n"
            "  --rate R         override every site's rate (0.3), or one per site in order\n"
            "                   from input to output (0.1,0.25,0.5)\n"
            "  --seed N         run seed: initialisation, data order, dropout masks\n"
            "  --epochs N  --lr X  --threads N\n"
            "  --limit-train N  train on the first N training examples only\n"
            "  --val N          carve a validation split of N examples from training\n"
            "  --mc-samples T   also evaluate the test set by T Monte-Carlo dropout\n"
            "                   passes each epoch (error, NLL, ECE of both)\n",
            cmd,
            show ? "  Prints the task's model after the strategy's rewrite, its run id and\n"
                   "  its training recipe; trains nothing.\n"
                 : "  Trains one run and writes its result JSON (its path on stdout).\n");
    if (show)
        fputs("  --allow-unverified  the run id of a run allowed to train on unverified\n"
              "                   data ($DROPBENCH_ALLOW_UNVERIFIED=1 too)\n"
              "  --json           print the resolved run (run id, parameters, config\n"
              "                   as a result file records it) as JSON\n",
              f);
    else
        fputs("  --data DIR       data root (default $DROPBENCH_DATA or ./data)\n"
              "  --results DIR    where the result JSON goes (default results/<task>)\n"
              "  --quiet          no progress output\n"
              "  --allow-unverified  train on data whose sha256 does not match\n"
              "                   docs/DATA.md (refused otherwise): a warning, and a\n"
              "                   run id of its own ($DROPBENCH_ALLOW_UNVERIFIED=1 too)\n"
              "Exit status: 0 complete, 1 failed (bad input, a failed run), 2 usage\n"
              "error, 3 the run diverged, 130 interrupted (docs/CLI.md).\n",
              f);
}

static int parse_long(long *out, const char *s, const char *cmd, const char *opt, long lo,
                      long hi)
{
    long v;
    if (cli_long(s, lo, hi, &v) != 0) {
        fprintf(stderr, "dropbench %s: %s: expected an integer in [%ld, %ld], got \"%s\"\n",
                cmd, opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

typedef struct run_cli {
    run_request rq;
    const char *results;
    int quiet;
    int json; /* show --json */
} run_cli;

/* The options of run and of show: those both take, then each one's own. */
#define RUN_COMMON_OPTIONS                                                          \
    { "task", required_argument, 0, 't' },   { "config", required_argument, 0, 'c' },     \
    { "strategy", required_argument, 0, 's' }, { "rate", required_argument, 0, 'r' },     \
    { "seed", required_argument, 0, 'S' },   { "epochs", required_argument, 0, 'e' },     \
    { "lr", required_argument, 0, 'l' },     { "threads", required_argument, 0, 'T' },    \
    { "limit-train", required_argument, 0, 'L' }, { "val", required_argument, 0, 'v' },   \
    { "allow-unverified", no_argument, 0, 'U' }, { "help", no_argument, 0, 'h' },         \
    { "mc-samples", required_argument, 0, 'M' }
static const struct option run_opts[] = {
    RUN_COMMON_OPTIONS,
    { "data", required_argument, 0, 'd' },   { "results", required_argument, 0, 'o' },
    { "quiet", no_argument, 0, 'q' },        { 0, 0, 0, 0 },
};
static const struct option show_opts[] = {
    RUN_COMMON_OPTIONS,
    { "json", no_argument, 0, 'j' },         { 0, 0, 0, 0 },
};
#undef RUN_COMMON_OPTIONS

/* The numeric option ch (--seed, --epochs, --threads, --limit-train, --val,
 * --mc-samples, --lr) of run or show (cmd), its value arg parsed into c.
 * Returns 0, or EXIT_USAGE. */
static int parse_number_opt(run_cli *c, int ch, const char *arg, const char *cmd)
{
    long v;
    switch (ch) {
    case 'S':
        if (parse_long(&v, arg, cmd, "--seed", 0, 0x7fffffffffffffL))
            return EXIT_USAGE;
        c->rq.seed = v;
        break;
    case 'e':
        if (parse_long(&v, arg, cmd, "--epochs", 1, 100000))
            return EXIT_USAGE;
        c->rq.epochs = (int)v;
        break;
    case 'T':
        if (parse_long(&v, arg, cmd, "--threads", 1, 256))
            return EXIT_USAGE;
        c->rq.threads = (int)v;
        break;
    case 'L':
        if (parse_long(&v, arg, cmd, "--limit-train", 1, 1000000000))
            return EXIT_USAGE;
        c->rq.limit_train = v;
        break;
    case 'v':
        if (parse_long(&v, arg, cmd, "--val", 1, 1000000000))
            return EXIT_USAGE;
        c->rq.val = v;
        break;
    case 'M':
        if (parse_long(&v, arg, cmd, "--mc-samples", 1, 10000))
            return EXIT_USAGE;
        c->rq.mc_samples = v;
        break;
    case 'l': {
        char *end;
        c->rq.lr = strtod(arg, &end);
        if (*arg == '\0' || *end != '\0' || !(c->rq.lr > 0)) {
            fprintf(stderr, "dropbench %s: --lr: expected a positive number, got "
                            "\"%s\"\n", cmd, arg);
            return EXIT_USAGE;
        }
        break;
    }
    }
    return 0;
}

/* Options shared by run and show. Returns 0, or an exit status. */
static int parse_run_cli(run_cli *c, int argc, char **argv, const char *cmd)
{
    const struct option *opts = strcmp(cmd, "show") == 0 ? show_opts : run_opts;
    memset(c, 0, sizeof *c);
    run_request_init(&c->rq);
    optind = 1;
    int ch;
    while ((ch = cli_getopt(argc, argv, "h", opts, cmd, 1)) != -1) {
        switch (ch) {
        case 't': c->rq.task = optarg; break;
        case 'c': c->rq.config_path = optarg; break;
        case 's': c->rq.strategy = optarg; break;
        case 'r': c->rq.rate = optarg; break;
        case 'd': c->rq.data_root = optarg; break;
        case 'o': c->results = optarg; break;
        case 'q': c->quiet = 1; break;
        case 'U': c->rq.allow_unverified = 1; break;
        case 'j': c->json = 1; break;
        case 'S': case 'e': case 'T': case 'L': case 'v': case 'M': case 'l':
            if (parse_number_opt(c, ch, optarg, cmd))
                return EXIT_USAGE;
            break;
        case 'h':
            run_usage(stdout, cmd);
            return -1;
        default: /* cli_getopt said why */
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dropbench %s: \"%s\": unexpected argument (options start with "
                        "--; `dropbench %s --help` lists them)\n", cmd, argv[optind], cmd);
        return EXIT_USAGE;
    }
    if (!c->rq.task == !c->rq.config_path) {
        fprintf(stderr, "dropbench %s: give exactly one of --task and --config\n", cmd);
        return EXIT_USAGE;
    }
    return 0;
}

static void on_signal(int sig)
{
    (void)sig;
    db_stop_requested = 1;
}

/* The options of run or show (cmd), resolved into *cfg and id.  Returns
 * -1 to go on, else the exit status (0 after --help). */
static int resolve_cli(run_cli *c, cJSON **cfg, char id[17], int argc,
                       char **argv, const char *cmd)
{
    int rc = parse_run_cli(c, argc, argv, cmd);
    if (rc)
        return rc < 0 ? 0 : rc;
    db_err e;
    *cfg = NULL;
    if (run_resolve(&c->rq, cfg, id, &e)) {
        fprintf(stderr, "dropbench %s: %s\n", cmd, e.msg);
        return EXIT_FAILURE;
    }
    return -1;
}

int cmd_run(int argc, char **argv)
{
    run_cli c;
    cJSON *cfg;
    char id[17];
    int rc = resolve_cli(&c, &cfg, id, argc, argv, "run");
    if (rc >= 0)
        return rc;
    db_err e;
    char dir[4096];
    if (c.results)
        snprintf(dir, sizeof dir, "%s", c.results);
    else
        snprintf(dir, sizeof dir, "results/%s",
                 cJSON_GetObjectItemCaseSensitive(cfg, "task")->valuestring);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    run_options o;
    memset(&o, 0, sizeof o);
    o.results_dir = dir;
    o.data_root = c.rq.data_root;
    o.quiet = c.quiet;
    o.notes = stderr;
    rc = run_execute(cfg, id, &o, &e);
    cJSON_Delete(cfg);
    if (rc < 0) {
        fprintf(stderr, "dropbench run: %s\n", e.msg);
        return db_stop_requested ? EXIT_INTERRUPTED : EXIT_FAILURE;
    }
    printf("%s\n", o.result_path);
    if (rc == 1) {
        fprintf(stderr, "dropbench run: the run diverged; recorded in %s\n", o.result_path);
        return EXIT_DIVERGED;
    }
    return 0;
}

/* show --json: the resolved run as a result file states it
 * (scripts/crosscheck-pytorch builds its nets from this).  Frees what
 * cmd_show built. */
static int show_json(cJSON *cfg, const char *id, db_model *m, run_config *r)
{
    cJSON *o = cJSON_CreateObject();
    char *txt = NULL;
    if (o && cJSON_AddStringToObject(o, "run_id", id) &&
        cJSON_AddNumberToObject(o, "parameters", (double)db_model_param_count(m)) &&
        cJSON_AddItemReferenceToObject(o, "config", cfg))
        txt = cJSON_Print(o);
    if (txt)
        printf("%s\n", txt);
    else
        fprintf(stderr, "dropbench show: out of memory\n");
    free(txt);
    cJSON_Delete(o);
    db_model_free(m);
    free(r);
    cJSON_Delete(cfg);
    return txt ? 0 : EXIT_FAILURE;
}

/* 1 when the run's dropout sites use the papers' weight scaling. */
static int uses_wscale(const run_config *r)
{
    for (size_t i = 0; i < r->arch.n; i++)
        if (r->arch.layers[i].type == DB_LAYER_DROPOUT && r->arch.layers[i].wscale)
            return 1;
    return 0;
}

/* 1 when the config uses any field of the reproduction recipes. */
static int has_recipe(const run_config *r)
{
    const run_recipe *x = &r->rx;
    return r->opt.update != DB_UPDATE_PYTORCH || r->opt.max_norm_layers != DB_MAXNORM_ALL ||
           uses_wscale(r) ||
           x->mom_schedule != DB_MOM_CONSTANT || r->schedule == DB_SCHED_INV ||
           x->init.type != DB_INIT_DEFAULT || x->preprocess[0] || x->retain[0] ||
           x->has_paper || x->note[0];
}

/* The training recipe, one line per part (docs/REPRO.md). */
static void print_recipe(const run_config *r)
{
    const run_recipe *x = &r->rx;
    printf("recipe:\n");
    if (r->opt.update == DB_UPDATE_HINTON)
        printf("  update: dw = m*dw - (1-m)*lr*g; w += dw (Hinton et al. 2012)\n");
    else
        printf("  update: v = m*v + g; w -= lr*v (PyTorch)\n");
    switch (x->mom_schedule) {
    case DB_MOM_LINEAR:
        printf("  momentum: %g at epoch 1, rising linearly to %g at epoch %zu, then %g\n",
               x->mom_start, x->mom_end, x->mom_epochs + 1, x->mom_end);
        break;
    case DB_MOM_EXP_STEP:
        printf("  momentum: per step, %g - (%g - %g) * exp(-step / %zu)\n", x->mom_end,
               x->mom_end, x->mom_start, x->mom_steps);
        break;
    default:
        printf("  momentum: %g, constant\n", r->opt.momentum);
    }
    switch (r->schedule) {
    case DB_SCHED_EXP:
        printf("  learning rate: %g * %g^(epoch - 1): %g at epoch %zu\n", r->opt.lr,
               r->sched_gamma, run_config_lr(r, r->epochs), r->epochs);
        break;
    case DB_SCHED_STEP:
        printf("  learning rate: %g, times %g every %zu epochs\n", r->opt.lr, r->sched_gamma,
               r->sched_every);
        break;
    case DB_SCHED_INV:
        printf("  learning rate: per step, %g / (1 + step / %zu)\n", r->opt.lr,
               x->sched_steps);
        break;
    default:
        printf("  learning rate: %g, constant\n", r->opt.lr);
    }
    if (r->opt.max_norm > 0)
        printf("  max-norm: after each update, each unit's incoming weight vector scaled to "
               "L2 norm <= %g, %s\n", r->opt.max_norm,
               r->opt.max_norm_layers == DB_MAXNORM_HIDDEN
                   ? "hidden dense/conv layers (not the output layer)"
                   : "every dense and conv layer (output included)");
    else
        printf("  max-norm: off\n");
    if (x->init.type == DB_INIT_NORMAL) {
        printf("  init: dense/conv weights N(0, std^2), std ");
        if (x->init.std_fan_in)
            printf("1/sqrt(fan_in)");
        for (size_t i = 0; i < x->init.nstd; i++)
            printf("%s%g", i ? ", " : "", x->init.std[i]);
        printf("; biases %g\n", x->init.bias);
    } else {
        printf("  init: U(-1/sqrt(fan_in), +1/sqrt(fan_in)) weights and biases (PyTorch)\n");
    }
    if (x->preprocess[0])
        printf("  preprocessing: %s (GCN per colour channel, bias %g; ZCA from the training "
               "set, epsilon %g)\n", x->preprocess, x->gcn_bias, x->zca_epsilon);
    if (x->retain[0])
        printf("  retention p given: %s (drop rates %s)\n", x->retain, r->rate);
    if (uses_wscale(r))
        printf("  dropout scaling: weight (training keeps a unit as it is, evaluation "
               "scales every unit by 1 - rate, as the papers)\n");
    if (x->has_paper) {
        printf("  paper: %s, %g%% test error", x->paper_source, x->paper_pct);
        if (x->paper_errors >= 0)
            printf(" (%.0f errors)", x->paper_errors);
        printf("\n");
    }
    if (x->note[0])
        printf("  note: %s\n", x->note);
}

/* The settings column of layer L's row in show's table. */
static void layer_settings(char *set, size_t n, const db_mlayer *L)
{
    const db_layer *s = &L->spec;
    switch (s->type) {
    case DB_LAYER_CONV:
        snprintf(set, n, "%zu filters %zux%zu stride %zu pad %zu", s->units,
                 s->kernel, s->kernel, s->stride, s->pad);
        break;
    case DB_LAYER_MAXPOOL:
        snprintf(set, n, "%zux%zu stride %zu pad %zu", s->kernel, s->kernel,
                 s->stride, s->pad);
        break;
    case DB_LAYER_DENSE:
        snprintf(set, n, "%zu units", s->units);
        break;
    case DB_LAYER_EMBEDDING:
        snprintf(set, n, "%zu x %zu", s->vocab, s->units);
        break;
    case DB_LAYER_GRU:
        snprintf(set, n, "hidden %zu, %s", s->units,
                 s->seq ? "state sequence" : "final state");
        break;
    case DB_LAYER_BATCHNORM:
        snprintf(set, n, "per %s, momentum %g eps %g",
                 L->in_kind == DB_SHAPE_IMAGE ? "channel" : "unit",
                 (double)BATCHNORM_MOMENTUM, (double)BATCHNORM_EPS);
        break;
    case DB_LAYER_DROPOUT:
        if (s->mode == DROPOUT_DROPBLOCK)
            snprintf(set, n, "rate %.3g dropblock %zu, site %s (#%d)",
                     s->rate, s->block, db_site_name(s->site), L->site_index);
        else
            snprintf(set, n, "rate %.3g %s%s, site %s (#%d)", s->rate,
                     db_dropout_mode_name(s->mode), s->wscale ? " wscale" : "",
                     db_site_name(s->site), L->site_index);
        break;
    default:
        break;
    }
}

/* show's table of the model's layers: settings, output shape, parameters. */
static void print_layers(const db_model *m)
{
    printf("%3s  %-10s %-40s %-16s %10s\n", "#", "layer", "settings", "output", "params");
    size_t nrec = 0;
    for (size_t i = 0; i < m->nl; i++) {
        const db_mlayer *L = &m->L[i];
        const db_layer *s = &L->spec;
        char set[64] = "", shape[48];
        layer_settings(set, sizeof set, L);
        nrec += s->type == DB_LAYER_DROPOUT && s->mode == DROPOUT_RECURRENT;
        if (L->out_kind == DB_SHAPE_IMAGE)
            snprintf(shape, sizeof shape, "%zux%zux%zu", L->out_c, L->out_h, L->out_w);
        else if (L->out_kind == DB_SHAPE_SEQ)
            snprintf(shape, sizeof shape, "%zux%zu", L->out_h, L->out_w);
        else
            snprintf(shape, sizeof shape, "%zu", L->out_c);
        size_t np = L->w_n + L->b_n + L->w2_n + L->b2_n;
        printf("%3zu  %-10s %-40s %-16s %10zu\n", i, db_layer_type_name(s->type), set, shape,
               np);
    }
    if (nrec)
        printf("(recurrent mode: the mask is on the state h inside the recurrence of the "
               "gru listed just above)\n");
}

/* show without --json: the run, its input, its layers, its optimizer and
 * its recipe. */
static void print_show(const run_config *r, const char *id, const db_model_input *in,
                       const db_model *m)
{
    printf("task %s, data %s, strategy %s%s%s, run id %s\n", r->task, r->data, r->strategy,
           r->rate[0] ? ", rate override " : "", r->rate, id);
    if (in->text)
        printf("input: %zu byte tokens per example (vocabulary %zu)\n", in->T, in->vocab);
    else
        printf("input: %zu x %zu x %zu\n", in->c, in->h, in->w);
    print_layers(m);
    printf("parameters: %zu; dropout sites: %zu\n", m->nparams, m->ndropout);
    printf("optimizer: SGD lr %g momentum %g weight decay %g max-norm %g clip %g; batch %zu, "
           "epochs %zu, seed %llu, threads %d\n", r->opt.lr, r->opt.momentum,
           r->opt.weight_decay, r->opt.max_norm, r->opt.clip_norm, r->batch, r->epochs,
           (unsigned long long)r->seed, r->threads);
    if (has_recipe(r))
        print_recipe(r);
}

int cmd_show(int argc, char **argv)
{
    run_cli c;
    cJSON *cfg;
    char id[17];
    int rc = resolve_cli(&c, &cfg, id, argc, argv, "show");
    if (rc >= 0)
        return rc;
    db_err e;
    run_config *r = calloc(1, sizeof *r);
    if (!r || run_config_from_canonical(r, cfg, &e)) {
        fprintf(stderr, "dropbench show: %s\n", r ? e.msg : "out of memory");
        free(r);
        cJSON_Delete(cfg);
        return EXIT_FAILURE;
    }
    db_model_input in;
    db_model m;
    if (run_data_input(&in, r->data, &e) || db_model_build(&m, &r->arch, &in, 1, &e)) {
        fprintf(stderr, "dropbench show: %s\n", e.msg);
        free(r);
        cJSON_Delete(cfg);
        return EXIT_FAILURE;
    }
    if (c.json)
        return show_json(cfg, id, &m, r);
    print_show(r, id, &in, &m);
    db_model_free(&m);
    free(r);
    cJSON_Delete(cfg);
    return 0;
}

static void strategies_usage(FILE *f)
{
    fputs("usage: dropbench strategies\n  Lists the dropout placement strategies: their "
          "sites, modes and default\n  rates, and where each comes from.  A config whose "
          "model has dropout\n  layers of its own runs as \"hand-placed\" "
          "(docs/STRATEGIES.md).\n", f);
}

int cmd_strategies(int argc, char **argv)
{
    int rc = cli_no_args(argc, argv, "strategies", strategies_usage);
    if (rc >= 0)
        return rc;
    size_t n;
    const db_strategy *s = db_strategies(&n);
    printf("%-12s %-40s %s\n", "strategy", "sites (mode, default rate)", "after");
    for (size_t i = 0; i < n; i++) {
        char sites[160] = "";
        size_t used = 0;
        for (size_t r = 0; r < s[i].nrules && used < sizeof sites; r++) {
            char rule[96];
            db_rule_text(rule, sizeof rule, &s[i].rules[r]);
            used += (size_t)snprintf(sites + used, sizeof sites - used, "%s%s",
                                     r ? "; " : "", rule);
        }
        printf("%-12s %-40s %s\n", s[i].name, s[i].nrules ? sites : "-", s[i].origin);
        printf("%-12s   %s\n", "", s[i].description);
        printf("%-12s   defined in: %s\n", "", s[i].source);
    }
    printf("\nCombine with '+' (e.g. conv+pool); --rate overrides every site's rate.\n");
    return 0;
}
