#include "util/jsonio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

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
    if (memchr(buf, '\0', n)) {
        free(buf);
        return db_fail(e, "%s: contains a NUL byte: not a JSON text file", path);
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(buf, &end, 1);
    if (!j) {
        size_t line = 1;
        const char *p = end ? end : cJSON_GetErrorPtr();
        if (p && p >= buf && p <= buf + n)
            for (const char *q = buf; q < p; q++)
                line += *q == '\n';
        free(buf);
        return db_fail(e, "%s: line %zu: malformed JSON", path, line);
    }
    free(buf);
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
    cJSON_ArrayForEach(k, o) {
        int ok = 0;
        for (size_t i = 0; allowed[i]; i++)
            if (k->string && strcmp(k->string, allowed[i]) == 0)
                ok = 1;
        if (!ok)
            return db_fail(e, "%s: unknown field \"%s\"", what, k->string ? k->string : "?");
    }
    return 0;
}
