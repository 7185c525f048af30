/* activations.c: element-wise QuickGELU and row-wise L2 normalisation,
 * forward and backward (OpenMP over elements / rows), with references. */
#include "coop/nn.h"
#include "nn_internal.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

void coop_quick_gelu_forward(float *out, const float *inp, size_t n)
{
#pragma omp parallel for schedule(static) if (n > COOP_PAR_MIN_ELEMS)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = x / (1.0f + expf(-1.702f * x));
    }
}

void coop_quick_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
    /* d/dx x*s(ax) = s + a x s (1 - s) */
#pragma omp parallel for schedule(static) if (n > COOP_PAR_MIN_ELEMS)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float s = 1.0f / (1.0f + expf(-1.702f * x));
        dinp[i] += dout[i] * (s + 1.702f * x * s * (1.0f - s));
    }
}


FAST_CLONES void coop_quick_gelu_forward_fast(float *out, const float *inp, size_t n)
{
#pragma omp parallel for schedule(static) if (n > COOP_PAR_MIN_ELEMS)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = x / (1.0f + coop_exp_fast(-1.702f * x));
    }
}

FAST_CLONES void coop_quick_gelu_backward_fast(float *dinp, const float *dout,
                                               const float *inp, size_t n)
{
#pragma omp parallel for schedule(static) if (n > COOP_PAR_MIN_ELEMS)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float s = 1.0f / (1.0f + coop_exp_fast(-1.702f * x));
        dinp[i] += dout[i] * (s + 1.702f * x * s * (1.0f - s));
    }
}

void coop_quick_gelu_forward_ref(float *out, const float *inp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float)(inp[i] / (1.0 + exp(-1.702 * inp[i])));
}

void coop_l2norm_forward(float *out, float *norm, const float *x, int M, int C)
{
    /* out, x [M,C]; norm [M] or NULL. A zero row stays zero (norm clamped). */
#pragma omp parallel for schedule(static) if ((size_t)M * C > COOP_PAR_MIN_ELEMS)
    for (int i = 0; i < M; i++) {
        const float *r = x + (size_t)i * C;
        double s = 0.0;
        for (int c = 0; c < C; c++)
            s += (double)r[c] * r[c];
        float nr = (float)sqrt(s);
        if (nr < 1e-12f)
            nr = 1e-12f;
        for (int c = 0; c < C; c++)
            out[(size_t)i * C + c] = r[c] / nr;
        if (norm)
            norm[i] = nr;
    }
}

void coop_l2norm_forward_ref(float *out, float *norm, const float *x, int M, int C)
{
    for (int i = 0; i < M; i++) {
        double s = 0.0;
        for (int c = 0; c < C; c++)
            s += (double)x[(size_t)i * C + c] * x[(size_t)i * C + c];
        double nr = sqrt(s) < 1e-12 ? 1e-12 : sqrt(s);
        for (int c = 0; c < C; c++)
            out[(size_t)i * C + c] = (float)(x[(size_t)i * C + c] / nr);
        if (norm)
            norm[i] = (float)nr;
    }
}

void coop_l2norm_backward(float *dx, const float *dout, const float *out, const float *norm,
                          int M, int C)
{
#pragma omp parallel for schedule(static) if ((size_t)M * C > COOP_PAR_MIN_ELEMS)
    for (int i = 0; i < M; i++) {
        const float *dy = dout + (size_t)i * C, *y = out + (size_t)i * C;
        float d = 0.0f;
        for (int c = 0; c < C; c++)
            d += dy[c] * y[c];
        for (int c = 0; c < C; c++)
            dx[(size_t)i * C + c] += (dy[c] - y[c] * d) / norm[i];
    }
}
