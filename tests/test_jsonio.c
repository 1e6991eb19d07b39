/* test_jsonio.c - what db_json_parse / db_json_load say about bad JSON:
 * empty files, nesting too deep, syntax errors with line, column, what was
 * found and what was expected, text after the value, and keys that appear
 * twice in one object (issue 19: the first one used to win silently). */
#include <string.h>

#include "check_main.h"
#include "util/jsonio.h"

static const struct {
    const char *text, *msg;
} BAD[] = {
    { "", "cfg.json: empty file (expected a JSON object)" },
    { "  \n\t", "only white space" },
    { "{\"a\": 1,\n \"b\": 2,\n \"a\": 3}", "key \"a\" appears twice in one object (lines 1 and 3)" },
    { "{\"m\": [{\"x\": 1, \"y\": 2, \"x\": 2}]}", "key \"x\" appears twice in one object (lines 1 and 1)" },
    { "{\"a\": {\"k\": 1},\n \"a\": {\"k\": 2}}", "key \"a\" appears twice" },
    { "{\"a\": \n}", "line 2, column 1: unexpected '}' (expected a value)" },
    { "{\"a\": 1,}", "line 1, column 9: unexpected '}' (expected a value or a key)" },
    { "{\"a\": 1 \"b\": 2}", "line 1, column 9: unexpected '\"' (expected ',' or a closing bracket)" },
    { "[1, 2", "line 1, column 6: the text ends early (expected ',' or a closing bracket)" },
    { "{\"a\": \"unterminated", "the text ends early" },
    { "{\"a\": 1} x", "line 1, column 10: text after the end of the JSON value" },
    { "{\"a\": tru}", "line 1, column 7: unexpected 't'" },
};

START_TEST(bad_json_says_what)
{
    cJSON *j = (cJSON *)1;
    db_err e = { "" };
    ck_assert_int_eq(db_json_parse(&j, BAD[_i].text, strlen(BAD[_i].text), "cfg.json", &e), -1);
    ck_assert_ptr_null(j);
    ck_assert_msg(strstr(e.msg, BAD[_i].msg) != NULL, "case %d: \"%s\" lacks \"%s\"", _i, e.msg,
                  BAD[_i].msg);
    ck_assert_msg(strncmp(e.msg, "cfg.json: ", 10) == 0, "%s", e.msg);
}
END_TEST

/* Nesting: 64 levels are fine, 65 are not (named with the place). */
START_TEST(nesting_limit)
{
    char t[400];
    size_t n = 0;
    for (int i = 0; i < DB_JSON_MAX_DEPTH; i++)
        t[n++] = '[';
    for (int i = 0; i < DB_JSON_MAX_DEPTH; i++)
        t[n++] = ']';
    cJSON *j;
    db_err e = { "" };
    ck_assert_msg(db_json_parse(&j, t, n, "x", &e) == 0, "%s", e.msg);
    cJSON_Delete(j);
    n = 0;
    for (int i = 0; i <= DB_JSON_MAX_DEPTH; i++)
        t[n++] = '[';
    for (int i = 0; i <= DB_JSON_MAX_DEPTH; i++)
        t[n++] = ']';
    ck_assert_int_eq(db_json_parse(&j, t, n, "x", &e), -1);
    ck_assert_msg(strstr(e.msg, "line 1, column 65: nesting deeper than 64 levels") != NULL, "%s",
                  e.msg);
}
END_TEST

/* The same names in different objects, in arrays and as string values are
 * fine; brackets and quotes inside strings do not confuse the checks. */
START_TEST(good_json_passes)
{
    const char *ok = "{\"a\": {\"x\": 1}, \"b\": {\"x\": 2}, \"c\": [\"a\", \"a\", {\"a\": 1}],"
                     " \"d\": \"a\\\"}{[\", \"a\\\"\": 2, \"e\": [[{\"k\": 1}, {\"k\": 2}]]}";
    cJSON *j;
    db_err e = { "" };
    ck_assert_msg(db_json_parse(&j, ok, strlen(ok), "ok", &e) == 0, "%s", e.msg);
    ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(j, "e"));
    cJSON_Delete(j);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("jsonio");
    TCase *tc = tcase_create("errors");
    tcase_add_loop_test(tc, bad_json_says_what, 0, (int)(sizeof BAD / sizeof BAD[0]));
    tcase_add_test(tc, nesting_limit);
    tcase_add_test(tc, good_json_passes);
    suite_add_tcase(s, tc);
    return s;
}

DB_TEST_MAIN()
