/* batchnorm_rows.h - internal to batchnorm.c, which includes it twice: the
 * passes over (B, C, S) planes (S > 1), once for the baseline instruction
 * set (names ending _base) and once under AVX2 (_avx2), where each 4-double
 * vector is one register instead of two.  The same operations in the same
 * order either way (no FMA: -std=c11 keeps -ffp-contract=off, and the AVX2
 * copy is not given FMA), so both give the same bits
 * (test_batchnorm test_bn_order_bits, run on every path by make test).
 * BN_ISA names the copy. */
#define BN_CAT_(a, b) a##_##b
#define BN_CAT(a, b) BN_CAT_(a, b)
#define row_total BN_CAT(row_total, BN_ISA)
#define row_sum BN_CAT(row_sum, BN_ISA)
#define row_sqdev BN_CAT(row_sqdev, BN_ISA)
#define row_dsums BN_CAT(row_dsums, BN_ISA)
#define rows_sum BN_CAT(rows_sum, BN_ISA)
#define sqdev_total BN_CAT(sqdev_total, BN_ISA)
#define rows_sqdev BN_CAT(rows_sqdev, BN_ISA)
#define dsums_step BN_CAT(dsums_step, BN_ISA)
#define rows_dsums BN_CAT(rows_dsums, BN_ISA)
#define row_normalise BN_CAT(row_normalise, BN_ISA)
#define row_dx BN_CAT(row_dx, BN_ISA)
#define row_ptrs BN_CAT(row_ptrs, BN_ISA)
#define channel_sum BN_CAT(channel_sum, BN_ISA)
#define channel_sqdev BN_CAT(channel_sqdev, BN_ISA)
#define channel_dsums BN_CAT(channel_dsums, BN_ISA)
#define planes_forward BN_CAT(planes_forward, BN_ISA)
#define planes_backward BN_CAT(planes_backward, BN_ISA)

/* A row's total from its partial sums p (lanes p0..p3) and its tail
 * x[j..S), which the scalar loop adds to p0: (p0 + p1) + (p2 + p3). */
static inline double row_total(const v4d *p, const float *x, size_t j, size_t S)
{
    double p0 = (*p)[0];
    for (; j < S; j++)
        p0 += x[j];
    return (p0 + (*p)[1]) + ((*p)[2] + (*p)[3]);
}

static double row_sum(const float *x, size_t S)
{
    double p0 = 0.0, p1 = 0.0, p2 = 0.0, p3 = 0.0;
    size_t j = 0;
    for (; j + 4 <= S; j += 4) {
        p0 += x[j];
        p1 += x[j + 1];
        p2 += x[j + 2];
        p3 += x[j + 3];
    }
    for (; j < S; j++)
        p0 += x[j];
    return (p0 + p1) + (p2 + p3);
}

/* sum of (x - mean)^2 */
static double row_sqdev(const float *x, size_t S, double mean)
{
    double p0 = 0.0, p1 = 0.0, p2 = 0.0, p3 = 0.0;
    size_t j = 0;
    for (; j + 4 <= S; j += 4) {
        double d0 = x[j] - mean, d1 = x[j + 1] - mean;
        double d2 = x[j + 2] - mean, d3 = x[j + 3] - mean;
        p0 += d0 * d0;
        p1 += d1 * d1;
        p2 += d2 * d2;
        p3 += d3 * d3;
    }
    for (; j < S; j++) {
        double d = x[j] - mean;
        p0 += d * d;
    }
    return (p0 + p1) + (p2 + p3);
}

/* sum of dy and of dy * xhat, xhat = (x - m) * is in float as forward */
static void row_dsums(double *sdy, double *sdyx, const float *dy, const float *x,
                      size_t S, float m, float is)
{
    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
    double b0 = 0.0, b1 = 0.0, b2 = 0.0, b3 = 0.0;
    size_t j = 0;
    for (; j + 4 <= S; j += 4) {
        a0 += dy[j];
        a1 += dy[j + 1];
        a2 += dy[j + 2];
        a3 += dy[j + 3];
        b0 += (double)dy[j] * ((x[j] - m) * is);
        b1 += (double)dy[j + 1] * ((x[j + 1] - m) * is);
        b2 += (double)dy[j + 2] * ((x[j + 2] - m) * is);
        b3 += (double)dy[j + 3] * ((x[j + 3] - m) * is);
    }
    for (; j < S; j++) {
        a0 += dy[j];
        b0 += (double)dy[j] * ((x[j] - m) * is);
    }
    *sdy = (a0 + a1) + (a2 + a3);
    *sdyx = (b0 + b1) + (b2 + b3);
}

/* The three row functions above for BN_ROWS rows x[r] (and dy[r]) of one
 * channel at once, row r's result to out[r] (rows_dsums: sdy[r], sdyx[r]);
 * the single-row ones take the batch's remaining rows. */
static void rows_sum(double *out, const float *const *x, size_t S)
{
    v4d p0 = { 0 }, p1 = { 0 }, p2 = { 0 }, p3 = { 0 };
    size_t j = 0;
    for (; j + 4 <= S; j += 4) {
        p0 += v4d_from(v4f_load(x[0] + j));
        p1 += v4d_from(v4f_load(x[1] + j));
        p2 += v4d_from(v4f_load(x[2] + j));
        p3 += v4d_from(v4f_load(x[3] + j));
    }
    out[0] = row_total(&p0, x[0], j, S);
    out[1] = row_total(&p1, x[1], j, S);
    out[2] = row_total(&p2, x[2], j, S);
    out[3] = row_total(&p3, x[3], j, S);
}

/* the tail of row_sqdev: p0 += (x[j] - mean)^2 */
static inline double sqdev_total(const v4d *p, const float *x, size_t j, size_t S,
                                 double mean)
{
    double p0 = (*p)[0];
    for (; j < S; j++) {
        double d = x[j] - mean;
        p0 += d * d;
    }
    return (p0 + (*p)[1]) + ((*p)[2] + (*p)[3]);
}

static void rows_sqdev(double *out, const float *const *x, size_t S, double mean)
{
    const v4d mv = { mean, mean, mean, mean };
    v4d p0 = { 0 }, p1 = { 0 }, p2 = { 0 }, p3 = { 0 };
    size_t j = 0;
    for (; j + 4 <= S; j += 4) {
        v4d d0 = v4d_from(v4f_load(x[0] + j)) - mv, d1 = v4d_from(v4f_load(x[1] + j)) - mv;
        v4d d2 = v4d_from(v4f_load(x[2] + j)) - mv, d3 = v4d_from(v4f_load(x[3] + j)) - mv;
        p0 += d0 * d0;
        p1 += d1 * d1;
        p2 += d2 * d2;
        p3 += d3 * d3;
    }
    out[0] = sqdev_total(&p0, x[0], j, S, mean);
    out[1] = sqdev_total(&p1, x[1], j, S, mean);
    out[2] = sqdev_total(&p2, x[2], j, S, mean);
    out[3] = sqdev_total(&p3, x[3], j, S, mean);
}

/* one row's step of rows_dsums: a += dy, b += dy * xhat over x[j..j+4) */
static inline void dsums_step(v4d *a, v4d *b, const float *dy, const float *x, v4f m,
                              v4f is)
{
    const v4f g = v4f_load(dy);
    const v4d gd = v4d_from(g);
    *a += gd;
    *b += gd * v4d_from((v4f_load(x) - m) * is);
}

static void rows_dsums(double *sdy, double *sdyx, const float *const *dy,
                       const float *const *x, size_t S, float m, float is)
{
    const v4f mv = v4f_set1(m), isv = v4f_set1(is);
    v4d a[BN_ROWS] = { { 0 } }, b[BN_ROWS] = { { 0 } };
    size_t j = 0;
    for (; j + 4 <= S; j += 4) {
        dsums_step(&a[0], &b[0], dy[0] + j, x[0] + j, mv, isv);
        dsums_step(&a[1], &b[1], dy[1] + j, x[1] + j, mv, isv);
        dsums_step(&a[2], &b[2], dy[2] + j, x[2] + j, mv, isv);
        dsums_step(&a[3], &b[3], dy[3] + j, x[3] + j, mv, isv);
    }
    for (size_t r = 0; r < BN_ROWS; r++) {
        double a0 = a[r][0], b0 = b[r][0];
        for (size_t t = j; t < S; t++) {
            a0 += dy[r][t];
            b0 += (double)dy[r][t] * ((x[r][t] - m) * is);
        }
        sdy[r] = (a0 + a[r][1]) + (a[r][2] + a[r][3]);
        sdyx[r] = (b0 + b[r][1]) + (b[r][2] + b[r][3]);
    }
}

/* o[j] = (x[j] - m) * k + bt, j < S; then negative -> 0 when relu (the
 * bits of relu_forward: NaN and -0 pass) */
static void row_normalise(float *o, const float *x, size_t S, float m, float k, float bt,
                          int relu)
{
    const v4f mv = v4f_set1(m), kv = v4f_set1(k), bv = v4f_set1(bt), zero = v4f_set1(0.0f);
    size_t j = 0;
    if (relu)
        for (; j + 4 <= S; j += 4) {
            const v4f v = (v4f_load(x + j) - mv) * kv + bv;
            v4f_store(o + j, (v4f)((v4i)v & ~(v < zero)));
        }
    else
        for (; j + 4 <= S; j += 4)
            v4f_store(o + j, (v4f_load(x + j) - mv) * kv + bv);
    for (; j < S; j++) {
        const float v = (x[j] - m) * k + bt;
        o[j] = relu && v < 0.0f ? 0.0f : v;
    }
}

/* dx[j] = 0 + k * (dy[j] - a - (x[j] - m) * is * q), j < S: the bits of
 * an accumulation into zeros (+0 + -0 is +0) without reading dx */
static void row_dx(float *dx, const float *dy, const float *x, size_t S, float m,
                   float is, float k, float a, float q)
{
    const v4f mv = v4f_set1(m), isv = v4f_set1(is), kv = v4f_set1(k), av = v4f_set1(a),
              qv = v4f_set1(q);
    size_t j = 0;
    for (; j + 4 <= S; j += 4) {
        const v4f t = (v4f_load(dy + j) - av) - (v4f_load(x + j) - mv) * isv * qv;
        v4f_store(dx + j, v4f_set1(0.0f) + kv * t);
    }
    for (; j < S; j++)
        dx[j] = 0.0f + k * (dy[j] - a - (x[j] - m) * is * q);
}

/* Channel c's row pointers for examples b..b+BN_ROWS of a (B, C, S) array. */
static void row_ptrs(const float **p, const float *base, size_t b, size_t C, size_t c,
                     size_t S)
{
    for (size_t r = 0; r < BN_ROWS; r++)
        p[r] = base + ((b + r) * C + c) * S;
}

/* A channel's sum over the batch of each row's sum (rows_sum / row_sum), in
 * example order; and the same of the squared deviations. */
static double channel_sum(const float *in, size_t B, size_t C, size_t c, size_t S)
{
    double sum = 0.0, part[BN_ROWS];
    const float *x[BN_ROWS];
    size_t b = 0;
    for (; b + BN_ROWS <= B; b += BN_ROWS) {
        row_ptrs(x, in, b, C, c, S);
        rows_sum(part, x, S);
        for (size_t r = 0; r < BN_ROWS; r++)
            sum += part[r];
    }
    for (; b < B; b++)
        sum += row_sum(in + (b * C + c) * S, S);
    return sum;
}

static double channel_sqdev(const float *in, size_t B, size_t C, size_t c, size_t S,
                            double mean)
{
    double sq = 0.0, part[BN_ROWS];
    const float *x[BN_ROWS];
    size_t b = 0;
    for (; b + BN_ROWS <= B; b += BN_ROWS) {
        row_ptrs(x, in, b, C, c, S);
        rows_sqdev(part, x, S, mean);
        for (size_t r = 0; r < BN_ROWS; r++)
            sq += part[r];
    }
    for (; b < B; b++)
        sq += row_sqdev(in + (b * C + c) * S, S, mean);
    return sq;
}

static void channel_dsums(double *sdy, double *sdyx, const float *dout, const float *in,
                          size_t B, size_t C, size_t c, size_t S, float m, float is)
{
    double s1 = 0.0, s2 = 0.0, p1[BN_ROWS], p2[BN_ROWS];
    const float *x[BN_ROWS], *dy[BN_ROWS];
    size_t b = 0;
    for (; b + BN_ROWS <= B; b += BN_ROWS) {
        row_ptrs(x, in, b, C, c, S);
        row_ptrs(dy, dout, b, C, c, S);
        rows_dsums(p1, p2, dy, x, S, m, is);
        for (size_t r = 0; r < BN_ROWS; r++) {
            s1 += p1[r];
            s2 += p2[r];
        }
    }
    for (; b < B; b++) {
        double r1, r2;
        row_dsums(&r1, &r2, dout + (b * C + c) * S, in + (b * C + c) * S, S, m, is);
        s1 += r1;
        s2 += r2;
    }
    *sdy = s1;
    *sdyx = s2;
}


/* batchnorm_forward_channels for S > 1: channel by channel, its mean, its
 * squared deviations around it, then its normalised rows. */
static void planes_forward(float *out, float *cache, float *run_mean, float *run_var,
                           const float *in, const float *gamma, const float *beta, size_t B,
                           size_t C, size_t S, float eps, float momentum, int training,
                           int relu, size_t c_lo, size_t c_hi)
{
    const size_t n = B * S;
    for (size_t c = c_lo; c < c_hi; c++) {
        float m, k;
        if (training) {
            const double mean = channel_sum(in, B, C, c, S) / (double)n;
            const double sq = channel_sqdev(in, B, C, c, S, mean);
            finish_stats(&m, &k, cache, run_mean, run_var, mean, sq / (double)n, gamma[c],
                         n, eps, momentum, C, c);
        } else {
            eval_stats(&m, &k, run_mean, run_var, gamma[c], eps, c);
        }
        for (size_t b = 0; b < B; b++)
            row_normalise(out + (b * C + c) * S, in + (b * C + c) * S, S, m, k, beta[c],
                          relu);
    }
}

/* batchnorm_backward_channels for S > 1: channel by channel, its two sums,
 * then its input gradient. */
static void planes_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                            const float *in, const float *cache, const float *gamma,
                            size_t B, size_t C, size_t S, size_t c_lo, size_t c_hi)
{
    const size_t n = B * S;
    for (size_t c = c_lo; c < c_hi; c++) {
        const float m = cache[c], is = cache[C + c];
        double sdy, sdyx;
        channel_dsums(&sdy, &sdyx, dout, in, B, C, c, S, m, is);
        dbeta[c] += (float)sdy;
        dgamma[c] += (float)sdyx;
        if (!din)
            continue;
        const float k = gamma[c] * is, a = (float)(sdy / (double)n),
                    q = (float)(sdyx / (double)n);
        for (size_t b = 0; b < B; b++)
            row_dx(din + (b * C + c) * S, dout + (b * C + c) * S, in + (b * C + c) * S, S, m,
                   is, k, a, q);
    }
}

#undef row_total
#undef row_sum
#undef row_sqdev
#undef row_dsums
#undef rows_sum
#undef sqdev_total
#undef rows_sqdev
#undef dsums_step
#undef rows_dsums
#undef row_normalise
#undef row_dx
#undef row_ptrs
#undef channel_sum
#undef channel_sqdev
#undef channel_dsums
#undef planes_forward
#undef planes_backward
#undef BN_CAT
#undef BN_CAT_
