/* str.h - strings on the heap.  Everything allocates with malloc (so that the
 * allocation-failure tests reach them); the caller frees. */
#ifndef DB_STR_H
#define DB_STR_H

#include <stddef.h>

/* A copy of s; NULL when out of memory. */
char *db_strdup(const char *s);
/* printf into a new string; NULL when out of memory. */
char *db_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Appends p to a growing array of n strings (*arr, *n updated); 0, or -1
 * when p is NULL or memory runs out (p is then freed). */
int db_strv_push(char ***arr, size_t *n, char *p);
/* Frees a[0..n) and a. */
void db_strv_free(char **a, size_t n);

#endif
