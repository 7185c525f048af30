/* activations.c: element-wise QuickGELU and row-wise L2 normalisation,
 * forward and backward (OpenMP over elements / rows), with references. */
#include "coop/nn.h"
#include "bf16_internal.h"
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

/* The bf16 forms work in chunks: the float32 values of a chunk first (the
 * loop the _fast kernels vectorise), then their rounding (a loop of its own:
 * with the rounding's NaN branch in the same loop, GCC vectorises neither). */
#define BF16_CHUNK 256

FAST_CLONES void coop_quick_gelu_forward_bf16(uint16_t *out, const float *inp, size_t n)
{
    size_t nb = (n + BF16_CHUNK - 1) / BF16_CHUNK;
#pragma omp parallel for schedule(static) if (n > COOP_PAR_MIN_ELEMS)
    for (size_t b = 0; b < nb; b++) {
        size_t i0 = b * BF16_CHUNK, m = n - i0 < BF16_CHUNK ? n - i0 : BF16_CHUNK;
        const float *x = inp + i0;
        float y[BF16_CHUNK];
        for (size_t i = 0; i < m; i++)
            y[i] = x[i] / (1.0f + coop_exp_fast(-1.702f * x[i]));
        for (size_t i = 0; i < m; i++)
            out[i0 + i] = coop_bf16_round(y[i]);
    }
}

FAST_CLONES void coop_quick_gelu_backward_bf16(uint16_t *dinp, const float *dout,
                                               const float *inp, size_t n)
{
    size_t nb = (n + BF16_CHUNK - 1) / BF16_CHUNK;
#pragma omp parallel for schedule(static) if (n > COOP_PAR_MIN_ELEMS)
    for (size_t b = 0; b < nb; b++) {
        size_t i0 = b * BF16_CHUNK, m = n - i0 < BF16_CHUNK ? n - i0 : BF16_CHUNK;
        const float *x = inp + i0, *dy = dout + i0;
        float d[BF16_CHUNK];
        for (size_t i = 0; i < m; i++) {
            float s = 1.0f / (1.0f + coop_exp_fast(-1.702f * x[i]));
            d[i] = 0.0f + dy[i] * (s + 1.702f * x[i] * s * (1.0f - s));
        }
        for (size_t i = 0; i < m; i++)
            dinp[i0 + i] = coop_bf16_round(d[i]);
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
