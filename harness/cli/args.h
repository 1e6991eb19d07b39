/* args.h - command-line pieces that more than one command uses. */
#ifndef DB_ARGS_H
#define DB_ARGS_H

/* s as a whole decimal number in [lo, hi] into *out: 0, or -1 (nothing
 * written) when it is not one. */
int cli_long(const char *s, long lo, long hi, long *out);

/* The getopt_long(3) entries of a local sweep's options (<getopt.h>), which
 * the Slurm modes accept too: cmd_sweep.c's table and cmd_slurm.c's start
 * with them.  Short names: "j:t:nf:r:d:qh". */
#define CLI_SWEEP_OPTIONS                           \
    { "jobs", required_argument, NULL, 'j' },       \
    { "threads", required_argument, NULL, 't' },    \
    { "dry-run", no_argument, NULL, 'n' },          \
    { "filter", required_argument, NULL, 'f' },     \
    { "results", required_argument, NULL, 'r' },    \
    { "data", required_argument, NULL, 'd' },       \
    { "quiet", no_argument, NULL, 'q' },            \
    { "allow-unverified", no_argument, NULL, 'U' }, \
    { "help", no_argument, NULL, 'h' }

#endif
