#include "cli/args.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dberr.h"

int cli_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

void cli_unknown_option(const char *cmd, const char *arg, const struct option *opts)
{
    char given[64], names[64][40];
    const char *list[64];
    size_t n = 0;
    /* "--name=value": the name only */
    snprintf(given, sizeof given, "%.*s", (int)strcspn(arg, "="), arg);
    for (size_t i = 0; opts[i].name && n < 64; i++) {
        snprintf(names[n], sizeof names[n], "--%s", opts[i].name);
        list[n] = names[n];
        n++;
    }
    db_err e;
    db_fail_unknown(&e, NULL, "option", given, list, n);
    fprintf(stderr, "dropbench %s: %s\n", cmd, e.msg);
}

int cli_getopt(int argc, char **argv, const char *shorts, const struct option *opts,
               const char *cmd, int report)
{
    return cli_getopt_known(argc, argv, shorts, opts, opts, cmd, report);
}

int cli_getopt_known(int argc, char **argv, const char *shorts,
                     const struct option *opts, const struct option *known,
                     const char *cmd, int report)
{
    char sh[64];
    snprintf(sh, sizeof sh, ":%s", shorts);
    int saved = opterr;
    opterr = 0;
    int prev = optind;
    int c = getopt_long(argc, argv, sh, opts, NULL);
    opterr = saved;
    if (c != '?' && c != ':')
        return c;
    /* the argument at fault: getopt has stepped past it */
    int at = optind > prev ? optind - 1 : prev;
    const char *arg = at < argc ? argv[at] : "?";
    if (report && c == ':')
        fprintf(stderr, "dropbench %s: %.*s: needs a value\n", cmd,
                (int)strcspn(arg, "="), arg);
    else if (report && optopt && !strchr(shorts, optopt) && strncmp(arg, "--", 2) != 0)
        fprintf(stderr, "dropbench %s: -%c: unknown option (`dropbench %s --help` lists "
                        "them)\n", cmd, optopt, cmd);
    else if (report)
        cli_unknown_option(cmd, arg, known);
    return '?';
}

int cli_no_args(int argc, char **argv, const char *cmd, void (*help)(FILE *))
{
    static const struct option opts[] = { { "help", no_argument, NULL, 'h' },
                                          { NULL, 0, NULL, 0 } };
    if (argc < 2)
        return -1;
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        help(stdout);
        return 0;
    }
    if (argv[1][0] == '-')
        cli_unknown_option(cmd, argv[1], opts);
    else
        fprintf(stderr, "dropbench %s: \"%s\": unexpected argument (the command takes "
                        "none)\n", cmd, argv[1]);
    return 2;
}
