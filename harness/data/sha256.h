/* sha256.h - SHA-256 (FIPS 180-4), used to verify data files while they are
 * read.  Streaming: init, any number of updates, final. */
#ifndef DB_SHA256_H
#define DB_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "dberr.h"

typedef struct db_sha256 {
    uint32_t h[8];
    uint64_t nbytes;    /* message length so far */
    uint8_t buf[64];    /* pending partial block */
    size_t nbuf;
} db_sha256;

void db_sha256_init(db_sha256 *s);
void db_sha256_update(db_sha256 *s, const void *data, size_t n);
/* Writes the digest; s must be re-initialised before reuse. */
void db_sha256_final(db_sha256 *s, uint8_t digest[32]);
/* digest -> 64 lowercase hex digits and a NUL. */
void db_sha256_hex(const uint8_t digest[32], char hex[65]);
/* Hashes a whole file into hex (64 digits + NUL). */
int db_sha256_file(const char *path, char hex[65], db_err *e);

#endif
