/* cosine.c: cosine-similarity logits between two sets of L2-normalised
 * features (image features against class text features, as CLIP and CoOp
 * score them), their backward, and the naive reference both are tested
 * against. Normalisation itself is coop_l2norm_* (activations.c). */
#include "coop/nn.h"
#include <cblas.h>

void coop_cosine_logits(float *logits, const float *x, const float *t, int N, int K, int E,
                        float scale)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, K, E, scale, x, E, t, E, 0.0f,
                logits, K);
}

void coop_cosine_logits_ref(float *logits, const float *x, const float *t, int N, int K, int E,
                            float scale)
{
    for (int i = 0; i < N; i++)
        for (int k = 0; k < K; k++) {
            double s = 0;
            for (int j = 0; j < E; j++)
                s += (double)x[(size_t)i * E + j] * t[(size_t)k * E + j];
            logits[(size_t)i * K + k] = (float)(scale * s);
        }
}

void coop_cosine_logits_backward(float *dx, float *dt, const float *dlogits, const float *x,
                                 const float *t, int N, int K, int E, float scale)
{
    /* dx [N,E] += scale * dlogits [N,K] @ t [K,E] */
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, E, K, scale, dlogits, K, t, E,
                    1.0f, dx, E);
    /* dt [K,E] += scale * dlogits^T [K,N] @ x [N,E] */
    if (dt)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, E, N, scale, dlogits, K, x, E,
                    1.0f, dt, E);
}
