#include "util/jsonio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/hash.h"

int db_json_load(cJSON **out, const char *path, db_err *e)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return db_fail(e, "%s: cannot open: %s", path, strerror(errno));
    /* A buffer the size of the file, not of the limit: sweeps and reports
     * read thousands of small results. */
    size_t cap = DB_JSON_MAX_BYTES;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
        (size_t)st.st_size < cap)
        cap = (size_t)st.st_size;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        return db_fail(e, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, cap + 1, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(buf);
        return db_fail(e, "%s: read error", path);
    }
    if (n > cap) {
        free(buf);
        if (cap < DB_JSON_MAX_BYTES)
            return db_fail(e, "%s: grew while being read", path);
        return db_fail(e, "%s: larger than %zu bytes", path, DB_JSON_MAX_BYTES);
    }
    buf[n] = '\0';
    int rc = db_json_parse(out, buf, n, path, e);
    free(buf);
    return rc;
}

/* Line and column (from 1) of text + off. */
static void line_col(const char *text, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Deepest nesting, brackets in strings aside; *at is where it first went
 * past the limit (or n). */
static size_t max_depth(const char *t, size_t n, size_t *at)
{
    size_t d = 0, most = 0;
    *at = n;
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '"') {
            for (i++; i < n && t[i] != '"'; i++)
                if (t[i] == '\\')
                    i++;
        } else if (t[i] == '{' || t[i] == '[') {
            if (++d > most)
                most = d;
            if (d > DB_JSON_MAX_DEPTH && *at == n)
                *at = i;
        } else if ((t[i] == '}' || t[i] == ']') && d > 0) {
            d--;
        }
    }
    return most;
}

/* Where the brackets go wrong, strings aside: the offset of the first
 * closing bracket that does not match the innermost open one (or closes
 * nothing), n when the text ends with brackets (or a string) open, and
 * (size_t)-1 when they balance. */
static size_t bracket_error(const char *t, size_t n)
{
    char open[DB_JSON_MAX_DEPTH + 1];
    size_t d = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '"') {
            for (i++; i < n && t[i] != '"'; i++)
                if (t[i] == '\\')
                    i++;
            if (i >= n)
                return n;
        } else if (t[i] == '{' || t[i] == '[') {
            open[d++] = t[i]; /* depth was checked before: d stays in range */
        } else if (t[i] == '}' || t[i] == ']') {
            if (d == 0 || open[d - 1] != (t[i] == '}' ? '{' : '['))
                return i;
            d--;
        }
    }
    return d ? n : (size_t)-1;
}

/* A syntax error at off: what stands there, and what the text before it
 * calls for. */
static int syntax_error(const char *t, size_t n, size_t off, const char *what, db_err *e)
{
    size_t line, col;
    line_col(t, off, &line, &col);
    size_t p = off;
    while (p > 0 && is_space(t[p - 1]))
        p--;
    char prev = p > 0 ? t[p - 1] : '\0';
    const char *expected = prev == ':'   ? "a value"
                           : prev == ',' ? "a value or a key"
                           : prev == '{' ? "a key (a string) or '}'"
                           : prev == '[' ? "a value or ']'"
                           : prev == '\0' ? "a JSON value"
                                          : "',' or a closing bracket";
    if (off >= n)
        return db_fail(e, "%s: line %zu, column %zu: the text ends early (expected %s)", what,
                       line, col, expected);
    unsigned char c = (unsigned char)t[off];
    if (c >= 0x20 && c < 0x7f)
        return db_fail(e, "%s: line %zu, column %zu: unexpected '%c' (expected %s)", what, line,
                       col, c, expected);
    return db_fail(e, "%s: line %zu, column %zu: unexpected byte 0x%02x (expected %s)", what, line,
                   col, c, expected);
}

/* Keys of the objects being read, innermost last: for the duplicate check
 * (the text is valid JSON by then). */
typedef struct key_at {
    const char *p;
    size_t len, line, depth;
} key_at;

static int duplicate_keys(const char *t, size_t n, const char *what, db_err *e)
{
    size_t cap = 64, nk = 0, depth = 0, line = 1;
    key_at *keys = malloc(cap * sizeof *keys);
    if (!keys)
        return db_fail(e, "%s: out of memory", what);
    /* per depth: an object (not an array), and whether a key comes next */
    unsigned char is_object[DB_JSON_MAX_DEPTH + 2] = { 0 };
    unsigned char want_key[DB_JSON_MAX_DEPTH + 2] = { 0 };
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char c = t[i];
        if (c == '\n') {
            line++;
        } else if (c == '{' || c == '[') {
            depth++;
            is_object[depth] = want_key[depth] = c == '{';
        } else if (c == '}' || c == ']') {
            while (nk > 0 && keys[nk - 1].depth == depth)
                nk--; /* the object's keys are done */
            depth--;
        } else if (c == ',') {
            want_key[depth] = is_object[depth];
        } else if (c == '"') {
            size_t s0 = ++i;
            for (; i < n && t[i] != '"'; i++)
                if (t[i] == '\\')
                    i++;
            if (!want_key[depth])
                continue; /* a string value */
            want_key[depth] = 0;
            size_t len = i - s0;
            for (size_t k = nk; k-- > 0 && keys[k].depth == depth;)
                if (keys[k].len == len && memcmp(keys[k].p, t + s0, len) == 0) {
                    rc = db_fail(e, "%s: key \"%.*s\" appears twice in one object (lines "
                                    "%zu and %zu); JSON readers disagree on which counts",
                                 what, (int)(len < 64 ? len : 64), t + s0, keys[k].line, line);
                    break;
                }
            if (rc)
                break;
            if (nk == cap) {
                key_at *nkp = realloc(keys, 2 * cap * sizeof *keys);
                if (!nkp) {
                    rc = db_fail(e, "%s: out of memory", what);
                    break;
                }
                keys = nkp;
                cap *= 2;
            }
            keys[nk++] = (key_at){ t + s0, len, line, depth };
        }
    }
    free(keys);
    return rc;
}

int db_json_parse(cJSON **out, const char *text, size_t n, const char *what, db_err *e)
{
    *out = NULL;
    size_t lead = 0;
    while (lead < n && is_space(text[lead]))
        lead++;
    if (lead == n)
        return db_fail(e, "%s: %s (expected a JSON object)", what,
                       n ? "only white space" : "empty file");
    if (memchr(text, '\0', n))
        return db_fail(e, "%s: contains a NUL byte: not a JSON text file", what);
    size_t at;
    if (max_depth(text, n, &at) > DB_JSON_MAX_DEPTH) {
        size_t line, col;
        line_col(text, at, &line, &col);
        return db_fail(e, "%s: line %zu, column %zu: nesting deeper than %d levels", what,
                       line, col, DB_JSON_MAX_DEPTH);
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    if (!j) {
        const char *p = end ? end : cJSON_GetErrorPtr();
        size_t off = p && p >= text && p <= text + n ? (size_t)(p - text) : n;
        /* cJSON points at the value it gave up on; a bracket that closes
         * the wrong thing, or the end with brackets open, is where the
         * reader should look */
        size_t bad = bracket_error(text, n);
        if (bad != (size_t)-1)
            off = bad;
        return syntax_error(text, n, off, what, e);
    }
    /* only white space may follow the value */
    size_t off = (size_t)(end - text);
    while (off < n && is_space(text[off]))
        off++;
    if (off < n) {
        cJSON_Delete(j);
        size_t line, col;
        line_col(text, off, &line, &col);
        return db_fail(e, "%s: line %zu, column %zu: text after the end of the JSON value", what,
                       line, col);
    }
    if (duplicate_keys(text, n, what, e) != 0) {
        cJSON_Delete(j);
        return -1;
    }
    *out = j;
    return 0;
}

int db_json_save(const char *path, const cJSON *j, db_err *e)
{
    char *txt = cJSON_Print(j);
    if (!txt)
        return db_fail(e, "%s: out of memory formatting JSON", path);
    size_t n = strlen(txt);
    char *buf = malloc(n + 2);
    if (!buf) {
        cJSON_free(txt);
        return db_fail(e, "%s: out of memory", path);
    }
    memcpy(buf, txt, n);
    buf[n] = '\n';
    cJSON_free(txt);
    int rc = db_write_atomic(path, buf, n + 1, e);
    free(buf);
    return rc;
}

/* Field key of o when present and of the type is_type tests: *v set, 1.
 * Absent or null: 0, or -1 when required.  Another type: -1. */
static int typed_field(const cJSON **v, const cJSON *o, const char *key,
                       int required, cJSON_bool (*is_type)(const cJSON *),
                       const char *type, const char *what, db_err *e)
{
    *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!*v || cJSON_IsNull(*v)) {
        if (required)
            return db_fail(e, "%s: missing field \"%s\"", what, key);
        return 0;
    }
    if (!is_type(*v))
        return db_fail(e, "%s: field \"%s\" must be %s", what, key, type);
    return 1;
}

int db_json_number(double *out, const cJSON *o, const char *key, int required,
                   const char *what, db_err *e)
{
    const cJSON *v;
    int rc = typed_field(&v, o, key, required, cJSON_IsNumber, "a number", what, e);
    if (rc > 0)
        *out = v->valuedouble;
    return rc < 0 ? -1 : 0;
}

int db_json_string(const char **out, const cJSON *o, const char *key, int required,
                   const char *what, db_err *e)
{
    const cJSON *v;
    int rc = typed_field(&v, o, key, required, cJSON_IsString, "a string", what, e);
    if (rc > 0)
        *out = v->valuestring;
    return rc < 0 ? -1 : 0;
}

int db_json_only_keys(const cJSON *o, const char *const *allowed, const char *what,
                      db_err *e)
{
    const cJSON *k;
    size_t n = 0;
    while (allowed[n])
        n++;
    cJSON_ArrayForEach(k, o) {
        int ok = 0;
        for (size_t i = 0; i < n; i++)
            if (k->string && strcmp(k->string, allowed[i]) == 0)
                ok = 1;
        if (!ok)
            return db_fail_unknown(e, what, "key", k->string ? k->string : "?", allowed, n);
    }
    return 0;
}

int db_json_fingerprint(char out[17], const cJSON *j, db_err *e)
{
    char *txt = cJSON_PrintUnformatted(j);
    if (!txt)
        return db_fail(e, "out of memory fingerprinting JSON");
    uint64_t h = db_fnv1a(DB_FNV1A_BASIS, txt, strlen(txt));
    cJSON_free(txt);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return 0;
}
