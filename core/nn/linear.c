/* linear.c: nn.Linear (x @ w^T + b) and plain matmul, forward and backward,
 * through OpenBLAS sgemm, plus naive triple-loop references for the tests.
 * No allocation, no threading of its own (OpenBLAS threads the GEMMs). */
#include "coop/nn.h"
#include "nn_internal.h"

void coop_linear_forward(float *out, const float *inp, const float *w, const float *bias, int M,
                         int K, int N)
{
    /* out [M,N], inp [M,K], w [N,K], bias [N] or NULL */
    float beta = 0.0f;
    if (bias) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                out[(size_t)i * N + j] = bias[j];
        beta = 1.0f;
    }
    if (M == 0 || N == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, inp, K, w, K, beta, out,
                N);
}

void coop_linear_forward_ref(float *out, const float *inp, const float *w, const float *bias,
                             int M, int K, int N)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = bias ? bias[j] : 0.0;
            for (int k = 0; k < K; k++)
                s += (double)inp[(size_t)i * K + k] * w[(size_t)j * K + k];
            out[(size_t)i * N + j] = (float)s;
        }
}

void coop_linear_backward(float *dinp, float *dw, float *dbias, const float *dout,
                          const float *inp, const float *w, int M, int K, int N)
{
    /* dout [M,N] */
    if (M == 0)
        return;
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N, 1.0f, dout, N, w, K, 1.0f,
                    dinp, K);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M, 1.0f, dout, N, inp, K, 1.0f,
                    dw, K);
    if (dbias)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                dbias[j] += dout[(size_t)i * N + j];
}

void coop_linear_backward_ref(float *dinp, float *dw, float *dbias, const float *dout,
                              const float *inp, const float *w, int M, int K, int N)
{
    if (dinp)
        for (int i = 0; i < M; i++)
            for (int k = 0; k < K; k++) {
                double s = 0.0;
                for (int j = 0; j < N; j++)
                    s += (double)dout[(size_t)i * N + j] * w[(size_t)j * K + k];
                dinp[(size_t)i * K + k] += (float)s;
            }
    if (dw)
        for (int j = 0; j < N; j++)
            for (int k = 0; k < K; k++) {
                double s = 0.0;
                for (int i = 0; i < M; i++)
                    s += (double)dout[(size_t)i * N + j] * inp[(size_t)i * K + k];
                dw[(size_t)j * K + k] += (float)s;
            }
    if (dbias)
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int i = 0; i < M; i++)
                s += dout[(size_t)i * N + j];
            dbias[j] += (float)s;
        }
}

void coop_matmul_forward(float *out, const float *a, const float *b, int M, int K, int N)
{
    /* out [M,N] = a [M,K] @ b [K,N] */
    if (M == 0 || N == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, out,
                N);
}

void coop_matmul_forward_ref(float *out, const float *a, const float *b, int M, int K, int N)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < K; k++)
                s += (double)a[(size_t)i * K + k] * b[(size_t)k * N + j];
            out[(size_t)i * N + j] = (float)s;
        }
}

void coop_matmul_backward(float *da, float *db, const float *dout, const float *a,
                          const float *b, int M, int K, int N)
{
    if (M == 0)
        return;
    if (da)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, N, 1.0f, dout, N, b, N, 1.0f,
                    da, K);
    if (db)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, M, 1.0f, a, K, dout, N, 1.0f,
                    db, N);
}

void coop_matmul_backward_ref(float *da, float *db, const float *dout, const float *a,
                              const float *b, int M, int K, int N)
{
    if (da)
        for (int i = 0; i < M; i++)
            for (int k = 0; k < K; k++) {
                double s = 0.0;
                for (int j = 0; j < N; j++)
                    s += (double)dout[(size_t)i * N + j] * b[(size_t)k * N + j];
                da[(size_t)i * K + k] += (float)s;
            }
    if (db)
        for (int k = 0; k < K; k++)
            for (int j = 0; j < N; j++) {
                double s = 0.0;
                for (int i = 0; i < M; i++)
                    s += (double)a[(size_t)i * K + k] * dout[(size_t)i * N + j];
                db[(size_t)k * N + j] += (float)s;
            }
}
