/* args.h - command-line pieces that more than one command uses. */
#ifndef DB_ARGS_H
#define DB_ARGS_H

#include <stdio.h>

/* s as a whole decimal number in [lo, hi] into *out: 0, or -1 (nothing
 * written) when it is not one. */
int cli_long(const char *s, long lo, long hi, long *out);

struct option;

/* getopt_long(3) with dropbench's messages (docs/CLI.md) instead of
 * getopt's: an unknown option prints `dropbench CMD: unknown option "--x";
 * did you mean "--y"? (known: ...)`, a missing value `dropbench CMD: --x:
 * needs a value`, when report is set; both return '?' (a usage error, exit
 * status 2).  Otherwise as getopt_long (shorts without a leading ':'). */
int cli_getopt(int argc, char **argv, const char *shorts, const struct option *opts,
               const char *cmd, int report);
/* cli_getopt, comparing an unknown option with known (a larger table) in its
 * message. */
int cli_getopt_known(int argc, char **argv, const char *shorts,
                     const struct option *opts, const struct option *known,
                     const char *cmd, int report);
/* The "unknown option" message for arg (an argument starting with '-')
 * against opts (terminated by a NULL name). */
void cli_unknown_option(const char *cmd, const char *arg, const struct option *opts);

/* The arguments of a command that takes none but -h/--help: -1 when there
 * are none (go on), 0 after printing help (via help(stdout)), or
 * EXIT_USAGE (2) with the message for the first argument. */
int cli_no_args(int argc, char **argv, const char *cmd, void (*help)(FILE *));

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
