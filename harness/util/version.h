/* version.h - what code built this binary (generated into the build tree by
 * the Makefile on every build; see $(BUILD)/gen/version.c). */
#ifndef DB_VERSION_H
#define DB_VERSION_H

extern const char db_git_commit[]; /* full hash, or "unknown" outside git */
extern const int db_git_dirty;     /* 1 when tracked files had changes */
extern const char db_compiler[];

#endif
