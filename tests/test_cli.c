/* test_cli.c - the command line's conventions, on the real binary
 * ($DROPBENCH_BIN, set by make test): every command answers -h and --help
 * on standard output with exit status 0; --version names the code version
 * and commit; an unknown command is a usage error (2) that suggests the
 * command meant; the top-level help lists every command. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "check_main.h"

static const char *const commands[] = { "run",    "show", "strategies", "sweep",
                                        "report", "data", "info",       "bench" };

/* Runs `dropbench ARGS`, stdout into out, stderr into err; returns the exit
 * status. */
static int db(const char *args, char *out, size_t nout, char *err, size_t nerr)
{
    const char *bin = getenv("DROPBENCH_BIN");
    ck_assert_msg(bin != NULL, "DROPBENCH_BIN not set (run through make test)");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s >/tmp/db-cli-out.$PPID 2>/tmp/db-cli-err.$PPID; "
                              "s=$?; cat /tmp/db-cli-out.$PPID; echo '@@'; "
                              "cat /tmp/db-cli-err.$PPID; rm -f /tmp/db-cli-*.$PPID; exit $s",
             bin, args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = '\0';
    int st = pclose(p);
    char *sep = strstr(buf, "@@\n");
    ck_assert_ptr_nonnull(sep);
    *sep = '\0';
    snprintf(out, nout, "%s", buf);
    snprintf(err, nerr, "%s", sep + 3);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(help_of_every_command)
{
    static char out[1 << 16], err[4096];
    const char *flag = _i % 2 ? "-h" : "--help";
    const char *c = commands[_i / 2];
    char args[64];
    snprintf(args, sizeof args, "%s %s", c, flag);
    ck_assert_msg(db(args, out, sizeof out, err, sizeof err) == 0, "%s: %s", args, err);
    ck_assert_msg(strstr(out, "usage: dropbench") != NULL, "%s printed no usage: %s", args, out);
    ck_assert_msg(err[0] == '\0', "%s wrote to stderr: %s", args, err);
}
END_TEST

START_TEST(version_and_top_level_help)
{
    static char out[1 << 16], err[4096];
    ck_assert_int_eq(db("--version", out, sizeof out, err, sizeof err), 0);
    ck_assert_msg(strstr(out, "dropbench code version ") != NULL && strstr(out, "commit ") != NULL,
                  "%s", out);
    ck_assert_int_eq(db("--help", out, sizeof out, err, sizeof err), 0);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        char want[32];
        snprintf(want, sizeof want, "  %s ", commands[i]);
        ck_assert_msg(strstr(out, want) != NULL, "top-level help lacks %s", commands[i]);
    }
    ck_assert_int_eq(db("", out, sizeof out, err, sizeof err), 2);
}
END_TEST

START_TEST(unknown_command_did_you_mean)
{
    static char out[1 << 16], err[4096];
    ck_assert_int_eq(db("swep", out, sizeof out, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "dropbench: swep: unknown command; did you mean \"sweep\"?") != NULL,
                  "%s", err);
    ck_assert_int_eq(db("reprot", out, sizeof out, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "did you mean \"report\"?") != NULL, "%s", err);
    ck_assert_int_eq(db("frobnicate", out, sizeof out, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "unknown command (commands:") != NULL, "%s", err);
    ck_assert_ptr_null(strstr(err, "did you mean"));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("conventions");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, help_of_every_command, 0,
                        (int)(2 * sizeof commands / sizeof *commands));
    tcase_add_test(tc, version_and_top_level_help);
    tcase_add_test(tc, unknown_command_did_you_mean);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
