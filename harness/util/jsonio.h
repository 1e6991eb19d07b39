/* jsonio.h - reading JSON files with errors that name the file, and writing
 * them atomically (util/fs.h), so a reader never sees a half-written file. */
#ifndef DB_JSONIO_H
#define DB_JSONIO_H

#include <stddef.h>

#include <cJSON.h>

#include "dberr.h"

/* Largest JSON file we read (configs, sweeps, results). */
#define DB_JSON_MAX_BYTES ((size_t)16 << 20)

/* Deepest nesting of objects and arrays accepted (a config is 4 deep). */
#define DB_JSON_MAX_DEPTH 64

/* Parses a file.  Errors name the file and say what is wrong: an empty
 * file; nesting deeper than DB_JSON_MAX_DEPTH; a syntax error with its line,
 * column, what was found and what was expected; a key that appears twice in
 * one object, with both lines (JSON readers disagree on which one counts,
 * so dropbench accepts neither). */
int db_json_load(cJSON **out, const char *path, db_err *e);
/* cJSON_Print + db_write_atomic, with a trailing newline. */
int db_json_save(const char *path, const cJSON *j, db_err *e);

/* Typed field access with errors naming what/field.  Absent fields keep
 * *out unchanged and return 0 unless required. */
int db_json_number(double *out, const cJSON *o, const char *key, int required,
                   const char *what, db_err *e);
int db_json_string(const char **out, const cJSON *o, const char *key, int required,
                   const char *what, db_err *e);
/* Fails naming the first key of o that is not in allowed (NULL-terminated),
 * with the closest allowed key and the allowed keys (db_fail_unknown). */
int db_json_only_keys(const cJSON *o, const char *const *allowed, const char *what,
                      db_err *e);

/* The fingerprint of a JSON value: 64-bit FNV-1a (util/hash.h) of its
 * unformatted text (cJSON_PrintUnformatted), as 16 lowercase hex digits +
 * NUL.  Equal for equal canonical JSON (fixed key order, as the config and
 * arch writers produce). */
int db_json_fingerprint(char out[17], const cJSON *j, db_err *e);

/* The checks of db_json_load on a text in memory (what names it in
 * messages): parses text[0..n) into *out. */
int db_json_parse(cJSON **out, const char *text, size_t n, const char *what, db_err *e);

#endif
