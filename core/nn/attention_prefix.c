/* attention_prefix.c: causal multi-head attention of B suffixes (S tokens
 * each) that all continue one shared prefix (P tokens). Suffix token i sits at
 * position P + i and attends to every prefix key and to suffix keys 0..i; the
 * prefix keys/values are computed once and shared. This is the CoOp fast path
 * of the text tower; it equals coop_attention_forward on the B concatenated
 * sequences [prefix ; suffix_b] restricted to the suffix rows.
 * Per head, the prefix part is one big GEMM over all B*S suffix rows (the
 * probabilities are laid out head-major for that); the small S x S suffix
 * blocks use plain loops, OpenMP over b (and the per-head GEMMs OpenMP over
 * heads). No allocation: the caller passes scratch. */
#include "coop/nn.h"
#include "nn_internal.h"
#include <math.h>

/* r [P+S] row of suffix token i: softmax over columns [0, P + i]. */
static void softmax_prefix_row(float *r, int n, int lim)
{
    float mx = -INFINITY, s = 0.0f;
    for (int j = 0; j <= lim; j++)
        mx = r[j] > mx ? r[j] : mx;
    for (int j = 0; j <= lim; j++) {
        r[j] = expf(r[j] - mx);
        s += r[j];
    }
    float inv = 1.0f / s;
    for (int j = 0; j < n; j++)
        r[j] = j <= lim ? r[j] * inv : 0.0f;
}

/* dst [rows, n] (ld ldd) += alpha * a [rows, k] (lda) @ b[n, k]^T (ldb) : small loops */
static void small_abt(float *dst, int ldd, const float *a, int lda, const float *b, int ldb,
                      int rows, int n, int k, float alpha)
{
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < n; j++) {
            float s = 0.0f;
            for (int c = 0; c < k; c++)
                s += a[(size_t)i * lda + c] * b[(size_t)j * ldb + c];
            dst[(size_t)i * ldd + j] += alpha * s;
        }
}

/* dst [rows, k] (ldd) += alpha * a [rows, n] (lda) @ b [n, k] (ldb) */
static void small_ab(float *dst, int ldd, const float *a, int lda, const float *b, int ldb,
                     int rows, int n, int k, float alpha)
{
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < n; j++) {
            float w = alpha * a[(size_t)i * lda + j];
            if (w == 0.0f)
                continue;
            for (int c = 0; c < k; c++)
                dst[(size_t)i * ldd + c] += w * b[(size_t)j * ldb + c];
        }
}

/* dst [n, k] (ldd) += alpha * a [rows, n]^T (lda) @ b [rows, k] (ldb) */
static void small_atb(float *dst, int ldd, const float *a, int lda, const float *b, int ldb,
                      int rows, int n, int k, float alpha)
{
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < n; j++) {
            float w = alpha * a[(size_t)i * lda + j];
            if (w == 0.0f)
                continue;
            for (int c = 0; c < k; c++)
                dst[(size_t)j * ldd + c] += w * b[(size_t)i * ldb + c];
        }
}

/* Below this many multiply-adds (B S (P + S) C: the scores and the weighted
 * values of every head) the loops over heads and suffixes stay on one thread,
 * and the per-head GEMMs use OpenBLAS's own threads. Above it the heads'
 * GEMMs run on the OpenMP threads with OpenBLAS on one thread each: one
 * thread pool, no OpenBLAS workers spinning while OpenMP runs. */
#define PAR_MIN_FLOPS 1e6

/* Suffix block of sequence b, all heads: scores, softmax over [prefix ;
 * causal suffix]; a = att + b*S*n for head 0, heads hstride apart. */
static void suffix_scores(float *att, size_t hstride, const float *qb, int S, int P, int C, int H)
{
    int n = P + S, hs = C / H;
    float scale = 1.0f / sqrtf((float)hs);
    for (int h = 0; h < H; h++) {
        float *a = att + (size_t)h * hstride;
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++)
                a[(size_t)i * n + P + j] = 0.0f;
        small_abt(a + P, n, qb + h * hs, 3 * C, qb + C + h * hs, 3 * C, S, S, hs, scale);
        for (int i = 0; i < S; i++)
            softmax_prefix_row(a + (size_t)i * n, n, P + i);
    }
}

void coop_attention_prefix_forward(float *out, float *att, const float *qkv, const float *pqkv,
                                   int B, int S, int P, int C, int H)
{
    int n = P + S, BS = B * S, hs = C / H;
    size_t hstride = (size_t)BS * n;
    float scale = 1.0f / sqrtf((float)hs);
    int par = (double)B * S * n * C > PAR_MIN_FLOPS;
    int nb = par ? coop_blas_single_begin() : 1;
    if (P > 0) { /* scores against the prefix: one GEMM per head */
#pragma omp parallel for schedule(static) if (par)
        for (int h = 0; h < H; h++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BS, P, hs, scale, qkv + h * hs,
                        3 * C, pqkv + C + h * hs, 3 * C, 0.0f, att + h * hstride, n);
    }
#pragma omp parallel for schedule(static) if (par)
    for (int b = 0; b < B; b++)
        suffix_scores(att + (size_t)b * S * n, hstride, qkv + (size_t)b * S * 3 * C, S, P, C, H);
#pragma omp parallel for schedule(static) if (par)
    for (int h = 0; h < H; h++) {
        float *o = out + h * hs;
        if (P > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BS, hs, P, 1.0f,
                        att + h * hstride, n, pqkv + 2 * C + h * hs, 3 * C, 0.0f, o, C);
        else
            for (int r = 0; r < BS; r++)
                for (int c = 0; c < hs; c++)
                    o[(size_t)r * C + c] = 0.0f;
    }
#pragma omp parallel for schedule(static) if (par)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            small_ab(out + (size_t)b * S * C + h * hs, C, att + h * hstride + (size_t)b * S * n + P,
                     n, qkv + (size_t)b * S * 3 * C + 2 * C + h * hs, 3 * C, S, S, hs, 1.0f);
    coop_blas_single_end(nb);
}

/* Suffix block of sequence b, all heads: d(att) of the suffix columns, dv of
 * the suffix, softmax backward of whole rows, dq and dk from the suffix
 * columns. d holds d(att) of the prefix columns already. */
static void suffix_backward(float *dqb, float *d, size_t hstride, const float *a, const float *qb,
                            const float *dyb, int S, int P, int C, int H)
{
    int n = P + S, hs = C / H;
    float scale = 1.0f / sqrtf((float)hs);
    for (int h = 0; h < H; h++) {
        float *dh = d + (size_t)h * hstride;
        const float *ah = a + (size_t)h * hstride, *qh = qb + h * hs;
        float *dq = dqb + h * hs;
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++)
                dh[(size_t)i * n + P + j] = 0.0f;
        small_abt(dh + P, n, dyb + h * hs, C, qh + 2 * C, 3 * C, S, S, hs, 1.0f); /* dy vs^T */
        small_atb(dq + 2 * C, 3 * C, ah + P, n, dyb + h * hs, C, S, S, hs, 1.0f);  /* dvs */
        for (int i = 0; i < S; i++) {                                                /* softmax */
            float *dr = dh + (size_t)i * n, s = 0.0f;
            const float *ar = ah + (size_t)i * n;
            for (int j = 0; j < n; j++)
                s += ar[j] * dr[j];
            for (int j = 0; j < n; j++)
                dr[j] = ar[j] * (dr[j] - s);
        }
        small_ab(dq, 3 * C, dh + P, n, qh + C, 3 * C, S, S, hs, scale);       /* dq (suffix) */
        small_atb(dq + C, 3 * C, dh + P, n, qh, 3 * C, S, S, hs, scale);      /* dks */
    }
}

void coop_attention_prefix_backward(float *dqkv, float *dpqkv, float *scratch, const float *dout,
                                    const float *qkv, const float *pqkv, const float *att, int B,
                                    int S, int P, int C, int H)
{
    int n = P + S, BS = B * S, hs = C / H;
    size_t hstride = (size_t)BS * n;
    float scale = 1.0f / sqrtf((float)hs);
    int par = (double)B * S * n * C > PAR_MIN_FLOPS;
    int nb = par ? coop_blas_single_begin() : 1;
#pragma omp parallel for schedule(static) if (par)
    for (int h = 0; h < (P > 0 ? H : 0); h++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BS, P, hs, 1.0f, dout + h * hs, C,
                    pqkv + 2 * C + h * hs, 3 * C, 0.0f, scratch + h * hstride, n);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, P, hs, BS, 1.0f, att + h * hstride,
                    n, dout + h * hs, C, 1.0f, dpqkv + 2 * C + h * hs, 3 * C);
    }
#pragma omp parallel for schedule(static) if (par)
    for (int b = 0; b < B; b++) {
        size_t ro = (size_t)b * S;
        suffix_backward(dqkv + ro * 3 * C, scratch + ro * n, hstride, att + ro * n,
                        qkv + ro * 3 * C, dout + ro * C, S, P, C, H);
    }
#pragma omp parallel for schedule(static) if (par)
    for (int h = 0; h < (P > 0 ? H : 0); h++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BS, hs, P, scale,
                    scratch + h * hstride, n, pqkv + C + h * hs, 3 * C, 1.0f, dqkv + h * hs,
                    3 * C);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, P, hs, BS, scale,
                    scratch + h * hstride, n, qkv + h * hs, 3 * C, 1.0f, dpqkv + C + h * hs,
                    3 * C);
    }
    coop_blas_single_end(nb);
}
