/* attention_prefix.c: causal multi-head attention of B suffixes (S tokens
 * each) that all continue one shared prefix (P tokens). Suffix token i sits at
 * position P + i and attends to every prefix key and to suffix keys 0..i; the
 * prefix keys/values are computed once and shared. This is the CoOp fast path
 * of the text tower; it equals coop_attention_forward on the B concatenated
 * sequences [prefix ; suffix_b] restricted to the suffix rows.
 * Per head, the prefix part is one big GEMM over all B*S suffix rows (the
 * probabilities are laid out head-major for that); the small S x S suffix
 * blocks use plain loops, OpenMP over b. No allocation: the caller passes
 * scratch. */
#include "coop/nn.h"
#include "nn_internal.h"
#include <math.h>

/* Whether the per-suffix loops are worth a parallel region: about B*S*(S*hs
 * + n) multiply-adds. Small groups stay serial: a region costs a barrier,
 * which on a loaded machine (a descheduled thread) dwarfs such work. */
static int worth_threads(int B, int S, int n, int hs)
{
    return B > 1 && (size_t)B * S * ((size_t)S * hs + n) > 65536;
}

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

static void prefix_head_forward(float *out, float *att, const float *qkv, const float *pqkv,
                                int B, int S, int P, int C, int hs, int h)
{
    int n = P + S, BS = B * S;
    float scale = 1.0f / sqrtf((float)hs);
    const float *q = qkv + h * hs, *kp = pqkv + C + h * hs, *vp = pqkv + 2 * C + h * hs;
    if (P > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BS, P, hs, scale, q, 3 * C, kp,
                    3 * C, 0.0f, att, n);
#pragma omp parallel for schedule(static) if (worth_threads(B, S, n, hs))
    for (int b = 0; b < B; b++) {
        float *a = att + (size_t)b * S * n;
        const float *qb = q + (size_t)b * S * 3 * C;
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++)
                a[(size_t)i * n + P + j] = 0.0f;
        small_abt(a + P, n, qb, 3 * C, qb + C, 3 * C, S, S, hs, scale);
        for (int i = 0; i < S; i++)
            softmax_prefix_row(a + (size_t)i * n, n, P + i);
    }
    float *o = out + h * hs;
    if (P > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BS, hs, P, 1.0f, att, n, vp,
                    3 * C, 0.0f, o, C);
    else
        for (int r = 0; r < BS; r++)
            for (int c = 0; c < hs; c++)
                o[(size_t)r * C + c] = 0.0f;
#pragma omp parallel for schedule(static) if (worth_threads(B, S, n, hs))
    for (int b = 0; b < B; b++)
        small_ab(o + (size_t)b * S * C, C, att + (size_t)b * S * n + P, n,
                 q + (size_t)b * S * 3 * C + 2 * C, 3 * C, S, S, hs, 1.0f);
}

void coop_attention_prefix_forward(float *out, float *att, const float *qkv, const float *pqkv,
                                   int B, int S, int P, int C, int H)
{
    for (int h = 0; h < H; h++)
        prefix_head_forward(out, att + (size_t)h * B * S * (P + S), qkv, pqkv, B, S, P, C, C / H,
                            h);
}

static void prefix_head_backward(float *dqkv, float *dpqkv, float *da, const float *dout,
                                 const float *qkv, const float *pqkv, const float *att, int B,
                                 int S, int P, int C, int hs, int h)
{
    int n = P + S, BS = B * S;
    float scale = 1.0f / sqrtf((float)hs);
    const float *q = qkv + h * hs, *kp = pqkv + C + h * hs, *vp = pqkv + 2 * C + h * hs;
    const float *dy = dout + h * hs;
    float *dq = dqkv + h * hs, *dkp = dpqkv + C + h * hs, *dvp = dpqkv + 2 * C + h * hs;
    if (P > 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BS, P, hs, 1.0f, dy, C, vp, 3 * C,
                    0.0f, da, n);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, P, hs, BS, 1.0f, att, n, dy, C, 1.0f,
                    dvp, 3 * C);
    }
#pragma omp parallel for schedule(static) if (worth_threads(B, S, n, hs))
    for (int b = 0; b < B; b++) {
        size_t ro = (size_t)b * S;
        float *d = da + ro * n;
        const float *a = att + ro * n, *qb = q + ro * 3 * C, *dyb = dy + ro * C;
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++)
                d[(size_t)i * n + P + j] = 0.0f;
        small_abt(d + P, n, dyb, C, qb + 2 * C, 3 * C, S, S, hs, 1.0f);    /* dy vs^T */
        small_atb(dq + ro * 3 * C + 2 * C, 3 * C, a + P, n, dyb, C, S, S, hs, 1.0f); /* dvs */
        for (int i = 0; i < S; i++) { /* softmax backward */
            float *dr = d + (size_t)i * n, s = 0.0f;
            const float *ar = a + (size_t)i * n;
            for (int j = 0; j < n; j++)
                s += ar[j] * dr[j];
            for (int j = 0; j < n; j++)
                dr[j] = ar[j] * (dr[j] - s);
        }
        small_ab(dq + ro * 3 * C, 3 * C, d + P, n, qb + C, 3 * C, S, S, hs, scale); /* dq */
        small_atb(dq + ro * 3 * C + C, 3 * C, d + P, n, qb, 3 * C, S, S, hs, scale); /* dks */
    }
    if (P > 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BS, hs, P, scale, da, n, kp, 3 * C,
                    1.0f, dq, 3 * C);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, P, hs, BS, scale, da, n, q, 3 * C,
                    1.0f, dkp, 3 * C);
    }
}

void coop_attention_prefix_backward(float *dqkv, float *dpqkv, float *scratch, const float *dout,
                                    const float *qkv, const float *pqkv, const float *att, int B,
                                    int S, int P, int C, int H)
{
    for (int h = 0; h < H; h++)
        prefix_head_backward(dqkv, dpqkv, scratch, dout, qkv, pqkv,
                             att + (size_t)h * B * S * (P + S), B, S, P, C, C / H, h);
}
