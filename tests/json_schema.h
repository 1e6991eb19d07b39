/* json_schema.h - a small JSON Schema validator for the tests: the subset
 * results/schema.json uses (type, properties, required, additionalProperties,
 * items, minItems, enum, minimum, maximum).  An unsupported keyword in the
 * schema is itself an error, so no rule can be skipped silently. */
#ifndef DB_JSON_SCHEMA_H
#define DB_JSON_SCHEMA_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

static int js_type_is(const cJSON *v, const char *t)
{
    if (strcmp(t, "object") == 0)
        return cJSON_IsObject(v);
    if (strcmp(t, "array") == 0)
        return cJSON_IsArray(v);
    if (strcmp(t, "string") == 0)
        return cJSON_IsString(v);
    if (strcmp(t, "number") == 0)
        return cJSON_IsNumber(v);
    if (strcmp(t, "integer") == 0)
        return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble);
    if (strcmp(t, "boolean") == 0)
        return cJSON_IsBool(v);
    if (strcmp(t, "null") == 0)
        return cJSON_IsNull(v);
    return 0;
}

/* Returns 0 when v satisfies schema s; else -1 with a message naming the
 * path in err. */
static int js_validate(const cJSON *s, const cJSON *v, const char *path, char *err,
                       size_t errn)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, s) {
        const char *kw = k->string;
        if (!strcmp(kw, "$schema") || !strcmp(kw, "$id") || !strcmp(kw, "title") ||
            !strcmp(kw, "description"))
            continue;
        if (!strcmp(kw, "type")) {
            int ok = 0;
            if (cJSON_IsString(k))
                ok = js_type_is(v, k->valuestring);
            else {
                const cJSON *t;
                cJSON_ArrayForEach(t, k) ok |= js_type_is(v, t->valuestring);
            }
            if (!ok) {
                snprintf(err, errn, "%s: wrong type", path);
                return -1;
            }
        } else if (!strcmp(kw, "properties")) {
            if (!cJSON_IsObject(v))
                continue;
            const cJSON *p;
            cJSON_ArrayForEach(p, k) {
                const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, p->string);
                char sub[512];
                snprintf(sub, sizeof sub, "%s.%s", path, p->string);
                if (c && js_validate(p, c, sub, err, errn))
                    return -1;
            }
        } else if (!strcmp(kw, "required")) {
            if (!cJSON_IsObject(v))
                continue;
            const cJSON *r;
            cJSON_ArrayForEach(r, k) {
                if (!cJSON_GetObjectItemCaseSensitive(v, r->valuestring)) {
                    snprintf(err, errn, "%s: missing required \"%s\"", path, r->valuestring);
                    return -1;
                }
            }
        } else if (!strcmp(kw, "additionalProperties")) {
            if (!cJSON_IsObject(v) || !cJSON_IsFalse(k))
                continue;
            const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
            const cJSON *c;
            cJSON_ArrayForEach(c, v) {
                if (!cJSON_GetObjectItemCaseSensitive(props, c->string)) {
                    snprintf(err, errn, "%s: unexpected field \"%s\"", path, c->string);
                    return -1;
                }
            }
        } else if (!strcmp(kw, "items")) {
            if (!cJSON_IsArray(v))
                continue;
            int i = 0;
            const cJSON *c;
            cJSON_ArrayForEach(c, v) {
                char sub[512];
                snprintf(sub, sizeof sub, "%s[%d]", path, i++);
                if (js_validate(k, c, sub, err, errn))
                    return -1;
            }
        } else if (!strcmp(kw, "minItems")) {
            if (cJSON_IsArray(v) && cJSON_GetArraySize(v) < k->valueint) {
                snprintf(err, errn, "%s: fewer than %d items", path, k->valueint);
                return -1;
            }
        } else if (!strcmp(kw, "enum")) {
            int ok = 0;
            const cJSON *c;
            cJSON_ArrayForEach(c, k) ok |= cJSON_Compare(c, v, 1);
            if (!ok) {
                snprintf(err, errn, "%s: value not in enum", path);
                return -1;
            }
        } else if (!strcmp(kw, "minimum") || !strcmp(kw, "maximum")) {
            if (!cJSON_IsNumber(v))
                continue;
            int lo = kw[1] == 'i';
            if (lo ? v->valuedouble < k->valuedouble : v->valuedouble > k->valuedouble) {
                snprintf(err, errn, "%s: %g is %s %g", path, v->valuedouble,
                         lo ? "below the minimum" : "above the maximum", k->valuedouble);
                return -1;
            }
        } else {
            snprintf(err, errn, "schema keyword \"%s\" is not supported by the validator", kw);
            return -1;
        }
    }
    return 0;
}

#endif
