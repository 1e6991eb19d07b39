/* ckpt.c - mid-run checkpoints: the binary format (docs/CHECKPOINTS.md).
 *
 * Header (DB_CKPT_HEADER bytes, native byte order, checked by a marker):
 *   0 magic "DBCKPT\r\n"       8 u32 format        12 u32 0x01020304
 *  16 run id (24, NUL-padded) 40 code version (32, NUL-padded)
 *  72 u64 nparams  80 u64 ntrain_all  88 u64 dropout sites  96 u64 epochs
 * 104 u64 doubles per epoch  112 u64 time counters  120 u64 epochs done
 * 128 u64 payload bytes      136 SHA-256 of bytes [0, 136), [168, 256) and
 *                                 the payload
 * 168 kernels (64, NUL-padded): "<OpenBLAS core>/<conv kernels>"
 * 232 u64 batchnorm state floats (0 without batchnorm)
 * 240 u64 extra doubles (0 without Monte-Carlo evaluation)
 * 248 zero to 256.
 * Payload: params, grads, velocity (floats); the batchnorm running
 * statistics (floats, none without batchnorm); the order stream and each
 * dropout site's stream in layer order (4 u64 each); the permutation
 * (u32); the order fingerprint (u64); the per-epoch numbers and the time
 * counters (doubles); the extra doubles; the model's four timing
 * counters (doubles). */
#include <stdio.h>
#include <string.h>

#include "data/sha256.h"
#include "train/ckpt.h"
#include "train/runcfg.h"

#define OFF_SHA 136
#define OFF_KERNELS 168
#define KERNELS_LEN 64
#define OFF_NSTATE 232
#define OFF_EXTRA 240
#define BOM 0x01020304u

static size_t nsites(const db_model *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nl; i++)
        n += m->L[i].spec.type == DB_LAYER_DROPOUT;
    return n;
}

static size_t payload_size(const db_ckpt_view *v)
{
    return (3 * v->m->nparams + v->m->nstate) * sizeof(float) +
           (1 + nsites(v->m)) * sizeof(db_rng) +
           v->ntrain_all * sizeof(uint32_t) + sizeof(uint64_t) +
           (v->epochs * v->ep_doubles + v->ntimes + v->nextra + 4) * sizeof(double);
}

size_t db_ckpt_size(const db_ckpt_view *v)
{
    return DB_CKPT_HEADER + payload_size(v);
}

int db_ckpt_path(char *out, size_t n, const char *result_path)
{
    return (size_t)snprintf(out, n, "%s.ckpt", result_path) >= n ? -1 : 0;
}

static void put_u64(unsigned char *b, size_t off, uint64_t x)
{
    memcpy(b + off, &x, sizeof x);
}

static uint64_t get_u64(const unsigned char *b, size_t off)
{
    uint64_t x;
    memcpy(&x, b + off, sizeof x);
    return x;
}

/* Copies n bytes between the payload cursor and p, in the direction asked. */
static void xfer(unsigned char *buf, size_t *off, void *p, size_t n, int save)
{
    if (n == 0)
        return;
    if (save)
        memcpy(buf + *off, p, n);
    else
        memcpy(p, buf + *off, n);
    *off += n;
}

/* The payload between buf+DB_CKPT_HEADER and the returned end, either way. */
static size_t payload(unsigned char *buf, db_ckpt_view *v, int save)
{
    size_t off = DB_CKPT_HEADER;
    db_model *m = v->m;
    size_t np = m->nparams * sizeof(float);
    xfer(buf, &off, m->params, np, save);
    xfer(buf, &off, m->grads, np, save);
    xfer(buf, &off, m->velocity, np, save);
    xfer(buf, &off, m->state, m->nstate * sizeof(float), save);
    xfer(buf, &off, v->order->s, sizeof v->order->s, save);
    for (size_t i = 0; i < m->nl; i++)
        if (m->L[i].spec.type == DB_LAYER_DROPOUT)
            xfer(buf, &off, m->L[i].rng.s, sizeof m->L[i].rng.s, save);
    xfer(buf, &off, v->train_idx, v->ntrain_all * sizeof(uint32_t), save);
    xfer(buf, &off, v->order_fp, sizeof *v->order_fp, save);
    xfer(buf, &off, v->ep, v->epochs * v->ep_doubles * sizeof(double), save);
    xfer(buf, &off, v->times, v->ntimes * sizeof(double), save);
    xfer(buf, &off, v->extra, v->nextra * sizeof(double), save);
    double t[4] = { m->t.forward, m->t.backward, m->t.update, m->t.dropout };
    xfer(buf, &off, t, sizeof t, save);
    if (!save) {
        m->t.forward = t[0];
        m->t.backward = t[1];
        m->t.update = t[2];
        m->t.dropout = t[3];
    }
    return off;
}

static void digest(const unsigned char *buf, size_t n, uint8_t out[32])
{
    db_sha256 s;
    db_sha256_init(&s);
    db_sha256_update(&s, buf, OFF_SHA);
    db_sha256_update(&s, buf + OFF_KERNELS, DB_CKPT_HEADER - OFF_KERNELS);
    db_sha256_update(&s, buf + DB_CKPT_HEADER, n - DB_CKPT_HEADER);
    db_sha256_final(&s, out);
}

size_t db_ckpt_encode(unsigned char *buf, size_t cap, const db_ckpt_view *v)
{
    size_t n = db_ckpt_size(v);
    if (cap < n)
        return 0;
    memset(buf, 0, DB_CKPT_HEADER);
    memcpy(buf, DB_CKPT_MAGIC, 8);
    uint32_t fmt = DB_CKPT_FORMAT, bom = BOM;
    memcpy(buf + 8, &fmt, 4);
    memcpy(buf + 12, &bom, 4);
    snprintf((char *)buf + 16, 24, "%s", v->run_id);
    snprintf((char *)buf + 40, 32, "%s", DB_CODE_VERSION);
    snprintf((char *)buf + OFF_KERNELS, KERNELS_LEN, "%s", v->kernels ? v->kernels : "");
    put_u64(buf, 72, v->m->nparams);
    put_u64(buf, 80, v->ntrain_all);
    put_u64(buf, 88, nsites(v->m));
    put_u64(buf, 96, v->epochs);
    put_u64(buf, 104, v->ep_doubles);
    put_u64(buf, 112, v->ntimes);
    put_u64(buf, 120, *v->done_epochs);
    put_u64(buf, 128, n - DB_CKPT_HEADER);
    put_u64(buf, OFF_NSTATE, v->m->nstate);
    put_u64(buf, OFF_EXTRA, v->nextra);
    size_t end = payload(buf, (db_ckpt_view *)v, 1);
    (void)end;
    uint8_t d[32];
    digest(buf, n, d);
    memcpy(buf + OFF_SHA, d, 32);
    return n;
}

/* A NUL-terminated string field of at most n bytes at buf+off into out. */
static int field_str(const unsigned char *buf, size_t off, size_t n, char *out)
{
    const void *z = memchr(buf + off, '\0', n);
    if (!z)
        return -1;
    memcpy(out, buf + off, (size_t)((const unsigned char *)z - (buf + off)) + 1);
    return 0;
}

int db_ckpt_check(const unsigned char *buf, size_t n, char run_id[17],
                  char kernels[DB_CKPT_KERNELS], db_err *e)
{
    if (n < DB_CKPT_HEADER)
        return db_fail(e, "truncated (%zu bytes, the header alone is %d)", n, DB_CKPT_HEADER);
    if (memcmp(buf, DB_CKPT_MAGIC, 8) != 0)
        return db_fail(e, "not a dropbench checkpoint");
    uint32_t fmt, bom;
    memcpy(&fmt, buf + 8, 4);
    memcpy(&bom, buf + 12, 4);
    if (bom != BOM)
        return db_fail(e, "written on a machine of another byte order");
    if (fmt != DB_CKPT_FORMAT)
        return db_fail(e, "format %u, this build reads %d", fmt, DB_CKPT_FORMAT);
    char id[24], cv[32], kn[KERNELS_LEN];
    if (field_str(buf, 16, 24, id) || field_str(buf, 40, 32, cv) || strlen(id) > 16 ||
        field_str(buf, OFF_KERNELS, KERNELS_LEN, kn))
        return db_fail(e, "corrupt header");
    for (size_t i = OFF_EXTRA + 8; i < DB_CKPT_HEADER; i++)
        if (buf[i])
            return db_fail(e, "corrupt header");
    uint64_t plen = get_u64(buf, 128);
    if (plen != n - DB_CKPT_HEADER)
        return db_fail(e, "truncated or overlong (%zu payload bytes, the header says %llu)",
                       n - DB_CKPT_HEADER, (unsigned long long)plen);
    uint8_t d[32];
    digest(buf, n, d);
    if (memcmp(d, buf + OFF_SHA, 32) != 0)
        return db_fail(e, "checksum mismatch (corrupt)");
    if (strcmp(cv, DB_CODE_VERSION) != 0)
        return db_fail(e, "written by code version %s, this is %s", cv, DB_CODE_VERSION);
    if (run_id)
        memcpy(run_id, id, strlen(id) + 1);
    if (kernels)
        memcpy(kernels, kn, strlen(kn) + 1);
    return 0;
}

int db_ckpt_decode(const unsigned char *buf, size_t n, db_ckpt_view *v, db_err *e)
{
    char id[17], kn[DB_CKPT_KERNELS];
    if (db_ckpt_check(buf, n, id, kn, e))
        return -1;
    if (strcmp(id, v->run_id) != 0)
        return db_fail(e, "belongs to run %s, not %s", id, v->run_id);
    /* another OpenBLAS kernel set or conv path rounds differently: the
     * resumed run would match no uninterrupted run to the bit */
    const char *mine = v->kernels ? v->kernels : "";
    if (strncmp(kn, mine, DB_CKPT_KERNELS - 1) != 0)
        return db_fail(e, "written with kernels %s, this run uses %s (its result would "
                       "not be bit-identical to an uninterrupted run's)", kn, mine);
    uint64_t done = get_u64(buf, 120);
    if (get_u64(buf, 72) != v->m->nparams || get_u64(buf, 80) != v->ntrain_all ||
        get_u64(buf, 88) != nsites(v->m) || get_u64(buf, 96) != v->epochs ||
        get_u64(buf, 104) != v->ep_doubles || get_u64(buf, 112) != v->ntimes ||
        get_u64(buf, OFF_NSTATE) != v->m->nstate || get_u64(buf, OFF_EXTRA) != v->nextra ||
        n != db_ckpt_size(v))
        return db_fail(e, "sizes differ from this run's");
    if (done < 1 || done >= v->epochs)
        return db_fail(e, "%llu epochs done of %zu", (unsigned long long)done, v->epochs);
    /* the permutation indexes the training set: checked before it is used */
    size_t idx_off = DB_CKPT_HEADER + (3 * v->m->nparams + v->m->nstate) * sizeof(float) +
                     (1 + nsites(v->m)) * sizeof(db_rng);
    for (size_t i = 0; i < v->ntrain_all; i++) {
        uint32_t k;
        memcpy(&k, buf + idx_off + i * sizeof k, sizeof k);
        if (k >= v->ntrain_all)
            return db_fail(e, "data order out of range");
    }
    payload((unsigned char *)buf, v, 0);
    *v->done_epochs = (size_t)done;
    return 0;
}
