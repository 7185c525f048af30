/* attention.c: multi-head self-attention core on packed qkv (q | k | v),
 * optional causal mask. Per (batch, head): scores = q k^T (sgemm), softmax in
 * float with max subtraction, out = att v (sgemm); the backward mirrors it.
 * OpenMP over (batch, head) pairs with OpenBLAS held to one thread inside.
 * Scratch: one T x T buffer per thread, allocated once per call (the forward
 * needs it only when att is NULL). These functions return void: should that
 * small allocation fail, the output is filled with NaN so the failure cannot
 * pass unnoticed downstream. */
#include "coop/nn.h"
#include "coop/util.h"
#include "nn_internal.h"
#include <math.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Below this many multiply-adds a call stays on one thread: on a shared,
 * oversubscribed machine every OpenMP fork/join can cost a time slice. */
#define PAR_MIN_FLOPS 4e6

static int max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static void fill_nan(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
}

/* In-place softmax of a row of n scores; entries at index > lim (causal) are
 * set to 0. */
static void softmax_row(float *r, int n, int lim)
{
    float mx = -INFINITY;
    for (int j = 0; j <= lim && j < n; j++)
        mx = r[j] > mx ? r[j] : mx;
    float s = 0.0f;
    for (int j = 0; j <= lim && j < n; j++) {
        r[j] = expf(r[j] - mx);
        s += r[j];
    }
    float inv = 1.0f / s;
    for (int j = 0; j < n; j++)
        r[j] = j <= lim ? r[j] * inv : 0.0f;
}

/* The bf16 towers' softmax: max and sum over 16 lanes, coop_exp_fast, so
 * every loop vectorises (coop_exp_fast is within 1e-6 of expf; the sums run
 * in another order than softmax_row's). */
#define LANES 16
static inline __attribute__((always_inline)) void softmax_row_fast(float *r, int n, int lim)
{
    int m = lim + 1 < n ? lim + 1 : n, j = 0;
    float acc[LANES], mx = -INFINITY, s = 0.0f;
    for (int l = 0; l < LANES; l++)
        acc[l] = -INFINITY;
    for (; j + LANES <= m; j += LANES)
        for (int l = 0; l < LANES; l++)
            acc[l] = r[j + l] > acc[l] ? r[j + l] : acc[l];
    for (; j < m; j++)
        mx = r[j] > mx ? r[j] : mx;
    for (int l = 0; l < LANES; l++)
        mx = acc[l] > mx ? acc[l] : mx;
    for (j = 0; j < m; j++)
        r[j] = coop_exp_fast(r[j] - mx);
    for (int l = 0; l < LANES; l++)
        acc[l] = 0.0f;
    for (j = 0; j + LANES <= m; j += LANES)
        for (int l = 0; l < LANES; l++)
            acc[l] += r[j + l];
    for (; j < m; j++)
        s += r[j];
    for (int l = 0; l < LANES; l++)
        s += acc[l];
    float inv = 1.0f / s;
    for (j = 0; j < m; j++)
        r[j] *= inv;
    for (; j < n; j++)
        r[j] = 0.0f;
}

/* out [T,C] (this batch), a [T,T], qkv [T,3C]; fast: softmax_row_fast */
static inline __attribute__((always_inline)) void pair_forward(float *out, float *a,
                                                               const float *qkv, int T, int C,
                                                               int hs, int h, int causal, int fast)
{
    const float *q = qkv + h * hs, *k = qkv + C + h * hs, *v = qkv + 2 * C + h * hs;
    float scale = 1.0f / sqrtf((float)hs);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, 3 * C, k, 3 * C,
                0.0f, a, T);
    for (int i = 0; i < T; i++) {
        if (fast)
            softmax_row_fast(a + (size_t)i * T, T, causal ? i : T - 1);
        else
            softmax_row(a + (size_t)i * T, T, causal ? i : T - 1);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, a, T, v, 3 * C, 0.0f,
                out + h * hs, C);
}

static void attention_pair_forward(float *out, float *a, const float *qkv, int T, int C, int hs,
                                   int h, int causal)
{
    pair_forward(out, a, qkv, T, C, hs, h, causal, 0);
}

/* the same with the vectorised softmax, AVX-512 where the CPU has it */
FAST_CLONES static void attention_pair_forward_fast(float *out, float *a, const float *qkv, int T,
                                                    int C, int hs, int h, int causal)
{
    pair_forward(out, a, qkv, T, C, hs, h, causal, 1);
}

typedef void (*pair_forward_fn)(float *out, float *a, const float *qkv, int T, int C, int hs,
                                int h, int causal);

/* out [B,T,C], att [B,H,T,T] or NULL, qkv [B,T,3C]: pair() on every (batch, head). */
static void attention_forward_pairs(float *out, float *att, const float *qkv, int B, int T, int C,
                                    int H, int causal, pair_forward_fn pair)
{
    int hs = C / H;
    float *scratch = att ? NULL : malloc(sizeof(float) * T * T * max_threads());
    if (!att && !scratch) {
        fill_nan(out, (size_t)B * T * C);
        return;
    }
    int par = (double)B * H * T * T * hs > PAR_MIN_FLOPS;
    int nb = par ? coop_blas_single_begin() : 1;
#pragma omp parallel for schedule(dynamic) if (par)
    for (int p = 0; p < B * H; p++) {
        int b = p / H, h = p % H;
        float *a = att ? att + (size_t)p * T * T : scratch + (size_t)thread_id() * T * T;
        pair(out + (size_t)b * T * C, a, qkv + (size_t)b * T * 3 * C, T, C, hs, h, causal);
    }
    coop_blas_single_end(nb);
    free(scratch);
}

void coop_attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int H,
                            int causal)
{
    attention_forward_pairs(out, att, qkv, B, T, C, H, causal, attention_pair_forward);
}

void coop_attention_forward_fast(float *out, float *att, const float *qkv, int B, int T, int C,
                                 int H, int causal)
{
    attention_forward_pairs(out, att, qkv, B, T, C, H, causal, attention_pair_forward_fast);
}

void coop_attention_forward_ref(float *out, float *att, const float *qkv, int B, int T, int C,
                                int H, int causal)
{
    int hs = C / H;
    double *row = malloc(sizeof(double) * T);
    if (!row)
        return;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++) {
                const float *q = qkv + ((size_t)b * T + i) * 3 * C + h * hs;
                int lim = causal ? i : T - 1;
                double mx = -INFINITY, s = 0.0;
                for (int j = 0; j <= lim; j++) {
                    const float *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
                    double d = 0.0;
                    for (int c = 0; c < hs; c++)
                        d += (double)q[c] * k[c];
                    row[j] = d / sqrt((double)hs);
                    mx = row[j] > mx ? row[j] : mx;
                }
                for (int j = 0; j <= lim; j++) {
                    row[j] = exp(row[j] - mx);
                    s += row[j];
                }
                for (int j = 0; j < T; j++) {
                    row[j] = j <= lim ? row[j] / s : 0.0;
                    if (att)
                        att[(((size_t)b * H + h) * T + i) * T + j] = (float)row[j];
                }
                for (int c = 0; c < hs; c++) {
                    double o = 0.0;
                    for (int j = 0; j <= lim; j++)
                        o += row[j] * qkv[((size_t)b * T + j) * 3 * C + 2 * C + h * hs + c];
                    out[((size_t)b * T + i) * C + h * hs + c] = (float)o;
                }
            }
    free(row);
}

/* Softmax backward in place: d <- a * (d - sum_j a d) per row. */
static void softmax_backward_rows(float *d, const float *a, int rows, int n)
{
    for (int i = 0; i < rows; i++) {
        float *dr = d + (size_t)i * n;
        const float *ar = a + (size_t)i * n;
        float s = 0.0f;
        for (int j = 0; j < n; j++)
            s += ar[j] * dr[j];
        for (int j = 0; j < n; j++)
            dr[j] = ar[j] * (dr[j] - s);
    }
}

static void attention_pair_backward(float *dqkv, float *da, const float *dout, const float *qkv,
                                    const float *a, int T, int C, int hs, int h)
{
    /* dqkv, qkv [T,3C]; dout [T,C]; a, da [T,T] (masked entries of a are 0) */
    const float *q = qkv + h * hs, *k = qkv + C + h * hs, *v = qkv + 2 * C + h * hs;
    const float *dy = dout + h * hs;
    float *dq = dqkv + h * hs, *dk = dqkv + C + h * hs, *dv = dqkv + 2 * C + h * hs;
    float scale = 1.0f / sqrtf((float)hs);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f, dy, C, v, 3 * C, 0.0f,
                da, T);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, a, T, dy, C, 1.0f, dv,
                3 * C);
    softmax_backward_rows(da, a, T, T);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, scale, da, T, k, 3 * C, 1.0f,
                dq, 3 * C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, scale, da, T, q, 3 * C, 1.0f,
                dk, 3 * C);
}

void coop_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                             int B, int T, int C, int H, int causal)
{
    /* dqkv [B,T,3C] (+=), dout [B,T,C], att [B,H,T,T] from the forward. The
     * mask is already encoded in att (zeros), so causal needs no extra work. */
    (void)causal;
    int hs = C / H;
    float *scratch = malloc(sizeof(float) * T * T * max_threads());
    if (!scratch) {
        fill_nan(dqkv, (size_t)B * T * 3 * C);
        return;
    }
    int par = (double)B * H * T * T * hs > PAR_MIN_FLOPS;
    int nb = par ? coop_blas_single_begin() : 1;
#pragma omp parallel for schedule(dynamic) if (par)
    for (int p = 0; p < B * H; p++) {
        int b = p / H, h = p % H;
        float *da = scratch + (size_t)thread_id() * T * T;
        attention_pair_backward(dqkv + (size_t)b * T * 3 * C, da, dout + (size_t)b * T * C,
                                qkv + (size_t)b * T * 3 * C, att + (size_t)p * T * T, T, C, hs, h);
    }
    coop_blas_single_end(nb);
    free(scratch);
}
