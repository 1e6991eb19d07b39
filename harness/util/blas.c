#include "util/blas.h"

#include <cJSON.h>
#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/fs.h"
#include "util/hash.h"

/* Not declared in every cblas.h. */
char *openblas_get_corename(void);
char *openblas_get_config(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);

extern char **environ;

static char setup_note[512] = "OpenBLAS chose its kernel set itself";
static char setup_warning[1024];
static db_blas_decision decision;
static int have_decision;

int db_blas_core_is_generic(const char *core)
{
    static const char *const generic[] = {
        "Prescott", "Core2", "Katmai", "Coppermine", "Northwood", "Banias",
        "Atom", "Penryn", "Dunnington", "Opteron", "Opteron_SSE3", "Athlon",
        "Nano", "Unknown", "generic", NULL,
    };
    for (int i = 0; generic[i]; i++)
        if (strcasecmp(core, generic[i]) == 0)
            return 1;
    return 0;
}

/* 1 when the space-separated flags hold every one of the space-separated
 * words in need (whole words). */
static int has_all(const char *flags, const char *need)
{
    while (*need) {
        while (*need == ' ')
            need++;
        size_t len = strcspn(need, " ");
        if (!len)
            break;
        int found = 0;
        for (const char *f = flags; *f;) {
            while (*f == ' ' || *f == '\t' || *f == '\n')
                f++;
            size_t fl = strcspn(f, " \t\n");
            if (fl == len && strncmp(f, need, len) == 0) {
                found = 1;
                break;
            }
            f += fl;
        }
        if (!found)
            return 0;
        need += len;
    }
    return 1;
}

/* What each kernel set of OpenBLAS 0.3.21 may execute.  The AVX-512 sets
 * are compiled for their -march (skylake-avx512, cooperlake,
 * sapphirerapids), so the compiler may use any of that CPU's extensions;
 * Zen's set is only for AMD CPUs (sse4a marks them). */
static const struct {
    const char *core, *need;
} set_needs[] = {
    { "SapphireRapids", "avx2 fma avx512f avx512cd avx512bw avx512dq avx512vl avx512_vnni "
                        "avx512_bf16 avx512_fp16 amx_tile amx_bf16 amx_int8" },
    { "Cooperlake", "avx2 fma avx512f avx512cd avx512bw avx512dq avx512vl avx512_vnni "
                    "avx512_bf16" },
    { "SkylakeX", "avx2 fma avx512f avx512cd avx512bw avx512dq avx512vl" },
    { "Zen", "avx2 fma sse4a" },
    { "Haswell", "avx2 fma" },
    { "Sandybridge", "avx" },
};

int db_blas_candidates(const char *flags, const char **out, int max)
{
    int n = 0;
    for (size_t i = 0; i < sizeof set_needs / sizeof set_needs[0] && n < max; i++)
        if (has_all(flags, set_needs[i].need))
            out[n++] = set_needs[i].core;
    return n;
}

double db_blas_sgemm_check(void)
{
    enum { M = 37, N = 29, K = 53 };
    float a[M * K], b[K * N], c[M * N];
    unsigned x = 12345;
    for (int i = 0; i < M * K; i++) {
        x = x * 1103515245u + 12345u;
        a[i] = (float)((x >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
    for (int i = 0; i < K * N; i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (float)((x >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N,
                0.0f, c, N);
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double ref = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                ref += (double)a[i * K + k] * b[k * N + j];
                mag += fabs((double)a[i * K + k] * b[k * N + j]);
            }
            double err = fabs(c[i * N + j] - ref) / (mag + 1e-30);
            if (!(err <= worst))
                worst = isnan(err) ? INFINITY : err;
        }
    return worst;
}

/* ---- the choice --------------------------------------------------------- */

int db_blas_pick(db_blas_decision *d)
{
    int best = -1, own = -1;
    for (int i = 0; i < d->n; i++) {
        if (!d->c[i].ok || !(d->c[i].gflops > 0))
            continue;
        if (strcasecmp(d->c[i].core, d->own) == 0)
            own = i;
        if (best < 0 || d->c[i].gflops > d->c[best].gflops)
            best = i;
    }
    if (own >= 0 && best >= 0 && d->c[best].gflops < DB_BLAS_SWITCH_GAIN * d->c[own].gflops)
        best = own;
    snprintf(d->choice, sizeof d->choice, "%s", best >= 0 ? d->c[best].core : "");
    return best;
}

void db_blas_format_candidates(const db_blas_decision *d, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < d->n && used < n; i++) {
        const db_blas_cand *c = &d->c[i];
        int own = strcasecmp(c->core, d->own) == 0;
        int w;
        if (c->ok)
            w = snprintf(buf + used, n - used, "%s%s%s %.1f", i ? ", " : "", c->core,
                         own ? "*" : "", c->gflops);
        else
            w = snprintf(buf + used, n - used, "%s%s%s (%s)", i ? ", " : "", c->core,
                         own ? "*" : "", c->why);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* The first processor's line NAME from /proc/cpuinfo, or "". */
static void cpuinfo_field(const char *text, const char *name, char *out, size_t n)
{
    out[0] = '\0';
    size_t len = strlen(name);
    for (const char *l = text; l && *l;) {
        if (*l == '\n')
            return; /* end of the first processor's block */
        if (strncmp(l, name, len) == 0 && (l[len] == ' ' || l[len] == '\t' || l[len] == ':')) {
            const char *c = strchr(l, ':');
            const char *eol = strchr(l, '\n');
            if (c && (!eol || c < eol)) {
                c++;
                while (*c == ' ' || *c == '\t')
                    c++;
                size_t m = eol ? (size_t)(eol - c) : strlen(c);
                snprintf(out, n, "%.*s", (int)m, c);
            }
            return;
        }
        l = strchr(l, '\n');
        if (l)
            l++;
    }
}

/* The first processor's block of /proc/cpuinfo (its size reads as 0, so
 * not db_read_file), malloc'd; NULL when unreadable. */
static char *read_cpuinfo(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *text = malloc(cap);
    char line[8192];
    while (text && fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        if (n + l + 1 > cap)
            break;
        memcpy(text + n, line, l);
        n += l;
        if (line[0] == '\n')
            break; /* the end of the first processor's block */
    }
    fclose(f);
    if (text)
        text[n] = '\0';
    return text;
}

void db_cpu_model(char *out, size_t n)
{
    char *text = read_cpuinfo();
    out[0] = '\0';
    if (text)
        cpuinfo_field(text, "model name", out, n);
    free(text);
    if (!out[0])
        snprintf(out, n, "unknown");
}

void db_cpu_id(char *out, size_t n)
{
    char *text = read_cpuinfo();
    char vendor[64] = "", family[16] = "", model[16] = "";
    if (text) {
        cpuinfo_field(text, "vendor_id", vendor, sizeof vendor);
        cpuinfo_field(text, "cpu family", family, sizeof family);
        cpuinfo_field(text, "model", model, sizeof model);
        free(text);
    }
    if (vendor[0] && family[0] && model[0])
        snprintf(out, n, "%s family %s model %s", vendor, family, model);
    else
        snprintf(out, n, "unknown");
}

void db_blas_machine_key(const char *config, const char *core, char *key, size_t n,
                         char *flags, size_t fn)
{
    char *text = read_cpuinfo();
    char model[256] = "", vendor[64] = "", family[16] = "", mod[16] = "", step[16] = "";
    flags[0] = '\0';
    if (text) {
        cpuinfo_field(text, "model name", model, sizeof model);
        cpuinfo_field(text, "vendor_id", vendor, sizeof vendor);
        cpuinfo_field(text, "cpu family", family, sizeof family);
        cpuinfo_field(text, "model", mod, sizeof mod);
        cpuinfo_field(text, "stepping", step, sizeof step);
        cpuinfo_field(text, "flags", flags, fn);
        free(text);
    }
    /* openblas_get_config() names the core in use: drop it from the key */
    char cfg[256] = "";
    size_t cl = strlen(core);
    for (const char *p = config; *p;) {
        size_t w = strcspn(p, " ");
        if (!(w == cl && cl && strncmp(p, core, cl) == 0))
            snprintf(cfg + strlen(cfg), sizeof cfg - strlen(cfg), "%s%.*s", *cfg ? " " : "",
                     (int)w, p);
        p += w;
        while (*p == ' ')
            p++;
    }
    snprintf(key, n, "cpu=%s; vendor=%s; family=%s; model=%s; stepping=%s; blas=%s; flags=%s",
             model, vendor, family, mod, step, cfg, flags);
}

int db_blas_cache_path(const char *key, char *path, size_t n)
{
    const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    uint64_t h = db_fnv1a(DB_FNV1A_BASIS, key, strlen(key));
    int w;
    if (x && x[0] == '/')
        w = snprintf(path, n, "%s/dropbench/blas-%016llx.json", x, (unsigned long long)h);
    else if (home && home[0] == '/')
        w = snprintf(path, n, "%s/.cache/dropbench/blas-%016llx.json", home,
                     (unsigned long long)h);
    else
        return -1;
    return w > 0 && (size_t)w < n ? 0 : -1;
}

int db_blas_cache_write(const char *path, const db_blas_decision *d, db_err *e)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (db_mkdirs(dir, e))
            return -1;
    }
    cJSON *j = cJSON_CreateObject(), *cs = NULL;
    int ok = j != NULL;
    ok = ok && cJSON_AddNumberToObject(j, "format", 1);
    ok = ok && cJSON_AddStringToObject(j, "key", d->key);
    ok = ok && cJSON_AddStringToObject(j, "openblas_own", d->own);
    ok = ok && cJSON_AddStringToObject(j, "choice", d->choice);
    ok = ok && cJSON_AddStringToObject(j, "measured_utc", d->measured_utc);
    ok = ok && cJSON_AddNumberToObject(j, "seconds", d->seconds);
    ok = ok && cJSON_AddNumberToObject(j, "load_average", d->load_average);
    ok = ok && cJSON_AddNumberToObject(j, "sgemm_n", DB_BLAS_PROBE_N);
    ok = ok && (cs = cJSON_AddArrayToObject(j, "candidates"));
    for (int i = 0; ok && i < d->n; i++) {
        cJSON *c = cJSON_CreateObject();
        ok = c && cJSON_AddItemToArray(cs, c);
        ok = ok && cJSON_AddStringToObject(c, "core", d->c[i].core);
        ok = ok && cJSON_AddBoolToObject(c, "ok", d->c[i].ok);
        ok = ok && cJSON_AddNumberToObject(c, "max_rel_err",
                                           isfinite(d->c[i].err) ? d->c[i].err : -1);
        ok = ok && cJSON_AddNumberToObject(c, "gflops", d->c[i].gflops);
        ok = ok && cJSON_AddStringToObject(c, "why", d->c[i].why);
    }
    char *text = ok ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!text)
        return db_fail(e, "%s: out of memory", path);
    size_t len = strlen(text);
    char *t2 = realloc(text, len + 2);
    if (!t2) {
        free(text);
        return db_fail(e, "%s: out of memory", path);
    }
    t2[len] = '\n';
    t2[len + 1] = '\0';
    int rc = db_write_atomic(path, t2, len + 1, e);
    free(t2);
    return rc;
}

static int get_str(const cJSON *j, const char *name, char *out, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= n)
        return -1;
    snprintf(out, n, "%s", v->valuestring);
    return 0;
}

static int get_num(const cJSON *j, const char *name, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return -1;
    *out = v->valuedouble;
    return 0;
}

int db_blas_cache_read(const char *path, const char *key, db_blas_decision *d, db_err *e)
{
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return 0;
    db_err re;
    char *text = db_read_file(path, NULL, 1 << 16, &re);
    if (!text)
        return db_fail(e, "%s", re.msg);
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j)
        return db_fail(e, "%s: not valid JSON", path);
    db_blas_decision t;
    memset(&t, 0, sizeof t);
    const char *bad = NULL;
    double fmt = 0, sgemm_n = 0;
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(j, "candidates"), *c;
    if (get_num(j, "format", &fmt) || fmt != 1)
        bad = "format is not 1";
    else if (get_str(j, "key", t.key, sizeof t.key))
        bad = "no key";
    else if (strcmp(t.key, key) != 0) {
        cJSON_Delete(j);
        return 0; /* another machine's, or another OpenBLAS (a hash collision) */
    } else if (get_str(j, "openblas_own", t.own, sizeof t.own) ||
               get_str(j, "choice", t.choice, sizeof t.choice) ||
               get_str(j, "measured_utc", t.measured_utc, sizeof t.measured_utc) ||
               get_num(j, "seconds", &t.seconds) || get_num(j, "sgemm_n", &sgemm_n) ||
               get_num(j, "load_average", &t.load_average))
        bad = "a field is missing or has the wrong type";
    else if (!cJSON_IsArray(cs) || cJSON_GetArraySize(cs) > DB_BLAS_MAX_CAND)
        bad = "candidates is not an array of at most 8";
    else
        cJSON_ArrayForEach(c, cs) {
            db_blas_cand *k = &t.c[t.n++];
            const cJSON *okv = cJSON_GetObjectItemCaseSensitive(c, "ok");
            if (!cJSON_IsObject(c) || get_str(c, "core", k->core, sizeof k->core) ||
                !cJSON_IsBool(okv) || get_num(c, "max_rel_err", &k->err) ||
                get_num(c, "gflops", &k->gflops) || get_str(c, "why", k->why, sizeof k->why) ||
                k->gflops < 0) {
                bad = "a candidate is malformed";
                break;
            }
            k->ok = cJSON_IsTrue(okv);
        }
    cJSON_Delete(j);
    if (!bad && sgemm_n != DB_BLAS_PROBE_N)
        bad = "measured with another sgemm size";
    if (!bad) {
        /* the choice must be what the measurement says */
        char choice[32];
        snprintf(choice, sizeof choice, "%s", t.choice);
        db_blas_pick(&t);
        if (strcmp(choice, t.choice) != 0)
            bad = "its choice does not follow from its measurement";
    }
    if (bad)
        return db_fail(e, "%s: %s", path, bad);
    *d = t;
    return 1;
}

const db_blas_decision *db_blas_get_decision(void)
{
    return have_decision ? &decision : NULL;
}

const char *db_blas_warning(void) { return setup_warning; }

/* ---- measuring: one child process per kernel set ----------------------- */

/* In the child (DROPBENCH_BLAS_PROBE=1): OpenBLAS loaded with the set
 * asked for.  Prints "probe CORE ERR GFLOPS" and exits. */
static void probe_main(void)
{
    enum { N = DB_BLAS_PROBE_N };
    double err = db_blas_sgemm_check();
    double best = 0;
    float *a = malloc(sizeof(float) * N * N), *b = malloc(sizeof(float) * N * N),
          *c = malloc(sizeof(float) * N * N);
    if (a && b && c && err < 1e-5) {
        for (int i = 0; i < N * N; i++) {
            a[i] = (float)(i % 7) / 7.0f;
            b[i] = (float)(i % 5) / 5.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, b, N,
                    0.0f, c, N); /* warm-up: page faults, packing buffers */
        double start = db_now();
        for (int r = 0; r < 200; r++) {
            double t0 = db_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, b,
                        N, 0.0f, c, N);
            double t1 = db_now();
            double g = 2.0 * N * (double)N * N / (t1 - t0) / 1e9;
            if (g > best)
                best = g;
            if (r >= 4 && t1 - start > 0.04)
                break;
        }
    }
    free(a);
    free(b);
    free(c);
    printf("probe %s %.6g %.6g\n", openblas_get_corename(), err, best);
    fflush(stdout);
    _exit(0);
}

/* The environment for a child or a re-exec: ours without the variables
 * set below, then those (NAME=VALUE strings, NULL-terminated). */
static char **make_env(const char *const *set)
{
    static const char *const drop[] = { "OPENBLAS_CORETYPE=", "OPENBLAS_NUM_THREADS=",
                                        "DROPBENCH_BLAS_", NULL };
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (set[m])
        m++;
    char **env = calloc(n + m + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int skip = 0;
        for (int d = 0; drop[d]; d++)
            skip |= strncmp(environ[i], drop[d], strlen(drop[d])) == 0;
        if (!skip)
            env[k++] = environ[i];
    }
    for (size_t i = 0; i < m; i++)
        env[k++] = (char *)set[i];
    env[k] = NULL;
    return env;
}

static void probe(char **argv, const char *core, db_blas_cand *c)
{
    snprintf(c->core, sizeof c->core, "%s", core);
    c->ok = 0;
    c->err = -1;
    c->gflops = 0;
    snprintf(c->why, sizeof c->why, "could not start a probe");
    char ct[64];
    snprintf(ct, sizeof ct, "OPENBLAS_CORETYPE=%s", core);
    const char *set[] = { ct, "OPENBLAS_NUM_THREADS=1", "DROPBENCH_BLAS_PROBE=1", NULL };
    char **env = make_env(set);
    char *args[] = { argv[0], NULL };
    int fd[2];
    if (!env || pipe(fd) != 0) {
        free(env);
        return;
    }
    fcntl(fd[0], F_SETFD, FD_CLOEXEC);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        if (fd[1] != 1)
            close(fd[1]);
        int null = open("/dev/null", O_WRONLY); /* the result says why a probe failed */
        if (null >= 0 && null != 2) {
            dup2(null, 2);
            close(null);
        }
        execve("/proc/self/exe", args, env);
        _exit(127);
    }
    free(env);
    close(fd[1]);
    if (pid < 0) {
        close(fd[0]);
        return;
    }
    char out[256];
    size_t got = 0;
    double deadline = db_now() + 5.0;
    for (;;) {
        double left = deadline - db_now();
        if (left <= 0) {
            kill(pid, SIGKILL);
            snprintf(c->why, sizeof c->why, "probe timed out");
            break;
        }
        struct pollfd p = { .fd = fd[0], .events = POLLIN };
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        ssize_t k = read(fd[0], out + got, sizeof out - 1 - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0 || (got += (size_t)k) >= sizeof out - 1)
            break;
    }
    out[got] = '\0';
    close(fd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(status) && !strstr(c->why, "timed out")) {
        snprintf(c->why, sizeof c->why, "crashed (signal %d)", WTERMSIG(status));
        return;
    }
    if (strstr(c->why, "timed out"))
        return;
    char got_core[64];
    double err, gf;
    if (sscanf(out, "probe %63s %lf %lf", got_core, &err, &gf) != 3) {
        snprintf(c->why, sizeof c->why, "probe gave no result (exit status %d)",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return;
    }
    c->err = err;
    if (strcasecmp(got_core, core) != 0)
        snprintf(c->why, sizeof c->why, "unknown to this OpenBLAS (it ran %s)", got_core);
    else if (!(err < 1e-5))
        snprintf(c->why, sizeof c->why, "wrong sgemm (relative error %.2g)", err);
    else if (!(gf > 0))
        snprintf(c->why, sizeof c->why, "no timing");
    else {
        c->ok = 1;
        c->gflops = gf;
        c->why[0] = '\0';
    }
}

static void measure(char **argv, const char *own, const char *flags, db_blas_decision *d)
{
    const char *cand[DB_BLAS_MAX_CAND];
    int n = db_blas_candidates(flags, cand, DB_BLAS_MAX_CAND - 1);
    int has_own = 0;
    for (int i = 0; i < n; i++)
        has_own |= strcasecmp(cand[i], own) == 0;
    if (!has_own && !db_blas_core_is_generic(own))
        cand[n++] = own;
    snprintf(d->own, sizeof d->own, "%s", own);
    double t0 = db_now();
    d->n = 0;
    for (int i = 0; i < n; i++)
        probe(argv, cand[i], &d->c[d->n++]);
    d->seconds = db_now() - t0;
    double la[1];
    d->load_average = getloadavg(la, 1) == 1 ? la[0] : -1;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(d->measured_utc, sizeof d->measured_utc, "%Y-%m-%dT%H:%M:%SZ", &tm);
    db_blas_pick(d);
}

/* FNV-1a of this machine's cache key, 16 hex digits: a re-executed
 * process (and every process that inherits its environment, e.g. a Slurm
 * job on another node) keeps the set chosen only on the same machine. */
static void machine_hash(char out[17])
{
    static char key[4096], flags[4096];
    db_blas_machine_key(openblas_get_config(), openblas_get_corename(), key, sizeof key, flags,
                        sizeof flags);
    snprintf(out, 17, "%016llx",
             (unsigned long long)db_fnv1a(DB_FNV1A_BASIS, key, strlen(key)));
}

/* Executes the program again with OPENBLAS_CORETYPE=core (core NULL: with
 * none, and no DROPBENCH_BLAS_* variable: a fresh choice). */
static void reexec(char **argv, const char *core, const char *tried, const char *chosen,
                   const char *reason)
{
    char ct[64], tr[300], ch[64], rs[600], kh[64], hash[17];
    machine_hash(hash);
    snprintf(kh, sizeof kh, "DROPBENCH_BLAS_KEY=%s", hash);
    snprintf(ct, sizeof ct, "OPENBLAS_CORETYPE=%s", core ? core : "");
    snprintf(tr, sizeof tr, "DROPBENCH_BLAS_TRIED=%s", tried ? tried : "");
    snprintf(ch, sizeof ch, "DROPBENCH_BLAS_CHOSEN=%s", chosen ? chosen : "");
    snprintf(rs, sizeof rs, "DROPBENCH_BLAS_REASON=%s", reason ? reason : "");
    /* OPENBLAS_NUM_THREADS is kept as the caller set it */
    const char *nt = getenv("OPENBLAS_NUM_THREADS");
    char ntv[64];
    snprintf(ntv, sizeof ntv, "OPENBLAS_NUM_THREADS=%s", nt ? nt : "");
    /* a warning (corrupt cache) reaches the process that prints it */
    char wr[1100];
    snprintf(wr, sizeof wr, "DROPBENCH_BLAS_WARNING=%s", setup_warning);
    const char *set[9];
    int k = 0;
    if (core) {
        set[k++] = ct;
        set[k++] = kh;
    }
    if (*setup_warning)
        set[k++] = wr;
    if (tried)
        set[k++] = tr;
    if (chosen) {
        set[k++] = ch;
        set[k++] = rs;
    }
    if (nt)
        set[k++] = ntv;
    set[k] = NULL;
    char **env = make_env(set);
    if (!env)
        return;
    fflush(NULL);
    execve("/proc/self/exe", argv, env);
    free(env); /* exec failed: carry on with what we have; info shows the note */
}

/* No OPENBLAS_CORETYPE from the user, no DROPBENCH_BLAS_KEEP: measure (or
 * read the cached measurement) and re-execute with the winner. */
static void choose(char **argv, const char *core)
{
    static char flags[4096];
    db_blas_machine_key(openblas_get_config(), core, decision.key, sizeof decision.key,
                        flags, sizeof flags);
    char path[4096];
    int cached = 0, have_path = db_blas_cache_path(decision.key, path, sizeof path) == 0;
    const char *uncached = "";
    db_err e;
    if (have_path) {
        int r = db_blas_cache_read(path, decision.key, &decision, &e);
        if (r == 1)
            cached = 1;
        else if (r < 0)
            snprintf(setup_warning, sizeof setup_warning,
                     "ignoring the BLAS kernel-set cache: %s; measuring again", e.msg);
    }
    if (!cached) {
        char key[sizeof decision.key];
        memcpy(key, decision.key, sizeof key);
        memset(&decision, 0, sizeof decision);
        memcpy(decision.key, key, sizeof key);
        measure(argv, core, flags, &decision);
        /* a measurement whose probes could not run (OpenBLAS's own set
         * failing too: e.g. under valgrind, where the probes cannot be
         * started) says nothing about the machine: not cached */
        int own_ok = 0;
        for (int i = 0; i < decision.n; i++)
            own_ok |= decision.c[i].ok && strcasecmp(decision.c[i].core, core) == 0;
        if (!own_ok)
            uncached = "not cached: the probes failed, ";
        else if (!have_path)
            uncached = "not cached: no cache folder, ";
        else if (db_blas_cache_write(path, &decision, &e))
            snprintf(setup_warning, sizeof setup_warning,
                     "cannot cache the BLAS kernel-set choice: %s", e.msg);
    }
    have_decision = 1;
    char list[400];
    db_blas_format_candidates(&decision, list, sizeof list);
    if (!decision.choice[0]) {
        snprintf(setup_note, sizeof setup_note,
                 "no kernel set passed the measurement (%s); kept OpenBLAS's own %s", list,
                 core);
        return;
    }
    snprintf(setup_note, sizeof setup_note,
             "%s chosen by measurement (%s%s, load %.1f): sgemm %d^3 1 thread GFLOP/s: %s "
             "(* OpenBLAS's own choice)",
             decision.choice, cached ? "cached, " : uncached, decision.measured_utc,
             decision.load_average, DB_BLAS_PROBE_N, list);
    if (strcasecmp(decision.choice, core) != 0)
        reexec(argv, decision.choice, NULL, decision.choice, setup_note);
}

/* db_blas_setup's note on the kernel set in use (setup_note), and, when the
 * set is correct and nobody fixed it, the choice by measurement (choose()
 * re-executes unless OpenBLAS's own set stays).  Returns 1 when another set
 * may be tried should this one compute wrong results, 0 when the set was
 * fixed by DROPBENCH_BLAS_KEEP or OPENBLAS_CORETYPE. */
static int settle(char **argv, const char *core, const char *keep, const char *tried,
                  const char *user, int ours, int correct)
{
    const char *slow = db_blas_core_is_generic(core) ? " (generic: slow)" : "";
    if (keep && *keep) {
        if (user && *user && !ours)
            snprintf(setup_note, sizeof setup_note,
                     "DROPBENCH_BLAS_KEEP set, and OPENBLAS_CORETYPE=%s in the environment: "
                     "kept%s", user, slow);
        else
            snprintf(setup_note, sizeof setup_note,
                     "DROPBENCH_BLAS_KEEP set: kernel set left as OpenBLAS chose%s", slow);
        return 0;
    }
    if (tried && *tried) {
        snprintf(setup_note, sizeof setup_note,
                 "re-executed with OPENBLAS_CORETYPE=%s (tried: %s)", core, tried);
    } else if (user && *user && !ours) {
        if (strcasecmp(user, core) == 0)
            snprintf(setup_note, sizeof setup_note,
                     "OPENBLAS_CORETYPE=%s set in the environment: kept%s", user, slow);
        else
            snprintf(setup_note, sizeof setup_note,
                     "OPENBLAS_CORETYPE=%s set in the environment: OpenBLAS does not know "
                     "it and runs %s", user, core);
        return 0;
    } else if (ours) {
        const char *reason = getenv("DROPBENCH_BLAS_REASON");
        snprintf(setup_note, sizeof setup_note, "%s",
                 reason && *reason ? reason : "chosen by measurement");
        /* for `dropbench info`: the measurement, from the cache just written */
        static char flags[4096];
        char path[4096];
        db_blas_machine_key(openblas_get_config(), core, decision.key, sizeof decision.key,
                            flags, sizeof flags);
        if (db_blas_cache_path(decision.key, path, sizeof path) == 0 &&
            db_blas_cache_read(path, decision.key, &decision, NULL) == 1)
            have_decision = 1;
    } else if (correct) {
        choose(argv, core); /* returns when OpenBLAS's own set stays */
    }
    return 1;
}

/* The current set computes wrong results: re-execute with the next
 * candidate this CPU supports that has not been tried yet (tried: the
 * comma-separated list so far).  Returns when none is left. */
static void try_next_candidate(char **argv, const char *core, const char *tried)
{
    static char flags[4096], key[4096];
    const char *cand[DB_BLAS_MAX_CAND];
    db_blas_machine_key(openblas_get_config(), core, key, sizeof key, flags, sizeof flags);
    int n = db_blas_candidates(flags, cand, DB_BLAS_MAX_CAND);
    char list[256];
    snprintf(list, sizeof list, "%s", tried ? tried : "");
    for (int i = 0; i < n; i++) {
        if (strstr(list, cand[i]) || strcasecmp(cand[i], core) == 0)
            continue;
        char next[256];
        snprintf(next, sizeof next, "%s%s%s", list, *list ? "," : "", cand[i]);
        reexec(argv, cand[i], next, NULL, NULL);
    }
}

int db_blas_setup(char **argv, db_err *e)
{
    const char *probe_env = getenv("DROPBENCH_BLAS_PROBE");
    if (probe_env && *probe_env)
        probe_main();
    const char *core = openblas_get_corename();
    const char *tried = getenv("DROPBENCH_BLAS_TRIED");
    const char *keep = getenv("DROPBENCH_BLAS_KEEP");
    const char *user = getenv("OPENBLAS_CORETYPE");
    const char *chosen = getenv("DROPBENCH_BLAS_CHOSEN");
    int ours = user && chosen && *chosen && strcasecmp(user, chosen) == 0;
    const char *warning = getenv("DROPBENCH_BLAS_WARNING");
    if (warning && *warning)
        snprintf(setup_warning, sizeof setup_warning, "%s", warning);
    unsetenv("DROPBENCH_BLAS_WARNING"); /* printed once, not by our children */
    if (!(keep && *keep) && (ours || (tried && *tried && user && *user))) {
        /* a set chosen on another machine (the environment inherited, e.g.
         * by a Slurm job on another node) may not even run here: choose
         * afresh, before any sgemm runs */
        const char *mk = getenv("DROPBENCH_BLAS_KEY");
        char hash[17];
        machine_hash(hash);
        if (!mk || strcmp(mk, hash) != 0)
            reexec(argv, NULL, NULL, NULL, NULL);
    }
    double err = db_blas_sgemm_check();
    int correct = err < 1e-5;
    const int fallback = settle(argv, core, keep, tried, user, ours, correct);
    if (!correct && fallback)
        try_next_candidate(argv, core, tried); /* returns when none is left */
    if (!correct)
        return db_fail(e, "OpenBLAS kernel set %s computes wrong sgemm results "
                       "(relative error %.3g against a naive product)%s", core, err,
                       fallback ? ", and no other kernel set this CPU supports was correct"
                                : keep && *keep ? " (DROPBENCH_BLAS_KEEP is set)"
                                                : " (OPENBLAS_CORETYPE is set)");
    if (db_blas_core_is_generic(core) && fallback && !(tried && *tried) && !have_decision)
        snprintf(setup_note, sizeof setup_note,
                 "WARNING: OpenBLAS runs its generic %s kernels; no faster set is "
                 "available for this CPU", core);
    return 0;
}

void db_blas_get_info(db_blas_info *info)
{
    snprintf(info->config, sizeof info->config, "%s", openblas_get_config());
    snprintf(info->core, sizeof info->core, "%s", openblas_get_corename());
    snprintf(info->note, sizeof info->note, "%s", setup_note);
    info->threads = openblas_get_num_threads();
}

void db_blas_set_threads(int n)
{
    if (n > 0)
        openblas_set_num_threads(n);
}
double db_blas_gflops(int n, int reps)
{
    size_t nn = (size_t)n * (size_t)n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b),
          *c = malloc(nn * sizeof *c);
    double best = 0;
    if (a && b && c) {
        for (size_t i = 0; i < nn; i++) {
            a[i] = (float)(i % 7) / 7.0f;
            b[i] = (float)(i % 5) / 5.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b,
                    n, 0.0f, c, n); /* warm-up: thread start, page faults */
        for (int r = 0; r < reps; r++) {
            double t0 = db_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n,
                        b, n, 0.0f, c, n);
            double g = 2.0 * n * (double)n * n / (db_now() - t0) / 1e9;
            if (g > best)
                best = g;
        }
    }
    free(a);
    free(b);
    free(c);
    return best;
}
