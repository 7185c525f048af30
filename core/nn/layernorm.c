/* layernorm.c: LayerNorm over the last dimension (biased variance), forward
 * and backward with OpenMP over rows, plus naive references for the tests. */
#include "coop/nn.h"
#include "nn_internal.h"
#include <math.h>

void coop_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                            const float *w, const float *b, int M, int C, float eps)
{
    /* out, inp [M,C]; w, b [C]; mean, rstd [M] or NULL */
#pragma omp parallel for schedule(static) if ((size_t)M * C > COOP_PAR_MIN_ELEMS)
    for (int i = 0; i < M; i++) {
        const float *x = inp + (size_t)i * C;
        float *y = out + (size_t)i * C;
        float m = 0.0f;
        for (int c = 0; c < C; c++)
            m += x[c];
        m /= (float)C;
        float v = 0.0f;
        for (int c = 0; c < C; c++) {
            float d = x[c] - m;
            v += d * d;
        }
        v /= (float)C;
        float s = 1.0f / sqrtf(v + eps);
        for (int c = 0; c < C; c++)
            y[c] = (x[c] - m) * s * w[c] + b[c];
        if (mean)
            mean[i] = m;
        if (rstd)
            rstd[i] = s;
    }
}

void coop_layernorm_forward_ref(float *out, float *mean, float *rstd, const float *inp,
                                const float *w, const float *b, int M, int C, float eps)
{
    for (int i = 0; i < M; i++) {
        const float *x = inp + (size_t)i * C;
        double m = 0.0, v = 0.0;
        for (int c = 0; c < C; c++)
            m += x[c];
        m /= C;
        for (int c = 0; c < C; c++)
            v += (x[c] - m) * (x[c] - m);
        v /= C;
        double s = 1.0 / sqrt(v + eps);
        for (int c = 0; c < C; c++)
            out[(size_t)i * C + c] = (float)((x[c] - m) * s * w[c] + b[c]);
        if (mean)
            mean[i] = (float)m;
        if (rstd)
            rstd[i] = (float)s;
    }
}

/* dinp part: per row, with xhat = (x - mean) * rstd and g = dout * w:
 * dx = rstd * (g - mean(g) - xhat * mean(g * xhat)). */
static void layernorm_backward_input(float *dinp, const float *dout, const float *inp,
                                     const float *w, const float *mean, const float *rstd, int M,
                                     int C)
{
#pragma omp parallel for schedule(static) if ((size_t)M * C > COOP_PAR_MIN_ELEMS)
    for (int i = 0; i < M; i++) {
        const float *x = inp + (size_t)i * C, *dy = dout + (size_t)i * C;
        float m = mean[i], s = rstd[i], sg = 0.0f, sgx = 0.0f;
        for (int c = 0; c < C; c++) {
            float g = dy[c] * w[c];
            sg += g;
            sgx += g * (x[c] - m) * s;
        }
        sg /= (float)C;
        sgx /= (float)C;
        float *dx = dinp + (size_t)i * C;
        for (int c = 0; c < C; c++)
            dx[c] += s * (dy[c] * w[c] - sg - (x[c] - m) * s * sgx);
    }
}

/* layernorm_backward_input with its two row sums over 16 lanes, so that the
 * loops vectorise. */
FAST_CLONES void coop_layernorm_backward_input_fast(float *restrict dinp,
                                                    const float *restrict dout,
                                                    const float *restrict inp,
                                                    const float *restrict w,
                                                    const float *restrict mean,
                                                    const float *restrict rstd, int M, int C)
{
#pragma omp parallel for schedule(static) if ((size_t)M * C > COOP_PAR_MIN_ELEMS)
    for (int i = 0; i < M; i++) {
        const float *x = inp + (size_t)i * C, *dy = dout + (size_t)i * C;
        float m = mean[i], s = rstd[i], ag[16] = {0}, agx[16] = {0}, sg = 0.0f, sgx = 0.0f;
        int c = 0;
        for (; c + 16 <= C; c += 16)
            for (int l = 0; l < 16; l++) {
                float g = dy[c + l] * w[c + l];
                ag[l] += g;
                agx[l] += g * (x[c + l] - m) * s;
            }
        for (; c < C; c++) {
            float g = dy[c] * w[c];
            sg += g;
            sgx += g * (x[c] - m) * s;
        }
        for (int l = 0; l < 16; l++)
            sg += ag[l], sgx += agx[l];
        sg /= (float)C;
        sgx /= (float)C;
        float *dx = dinp + (size_t)i * C;
        for (c = 0; c < C; c++)
            dx[c] += s * (dy[c] * w[c] - sg - (x[c] - m) * s * sgx);
    }
}

void coop_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                             const float *inp, const float *w, const float *mean,
                             const float *rstd, int M, int C)
{
    if (dinp)
        layernorm_backward_input(dinp, dout, inp, w, mean, rstd, M, C);
    if (!dw && !db)
        return;
    /* weight gradients: columns in parallel, rows inner (no reduction races) */
#pragma omp parallel for schedule(static) if ((size_t)M * C > COOP_PAR_MIN_ELEMS)
    for (int c = 0; c < C; c++) {
        float sw = 0.0f, sb = 0.0f;
        for (int i = 0; i < M; i++) {
            float dy = dout[(size_t)i * C + c];
            sw += dy * (inp[(size_t)i * C + c] - mean[i]) * rstd[i];
            sb += dy;
        }
        if (dw)
            dw[c] += sw;
        if (db)
            db[c] += sb;
    }
}

void coop_layernorm_backward_ref(float *dinp, float *dw, float *db, const float *dout,
                                 const float *inp, const float *w, const float *mean,
                                 const float *rstd, int M, int C)
{
    for (int i = 0; i < M; i++) {
        const float *x = inp + (size_t)i * C, *dy = dout + (size_t)i * C;
        double sg = 0.0, sgx = 0.0;
        for (int c = 0; c < C; c++) {
            double xh = (x[c] - (double)mean[i]) * rstd[i];
            sg += (double)dy[c] * w[c];
            sgx += (double)dy[c] * w[c] * xh;
            if (dw)
                dw[c] += (float)(dy[c] * xh);
            if (db)
                db[c] += dy[c];
        }
        if (dinp)
            for (int c = 0; c < C; c++) {
                double xh = (x[c] - (double)mean[i]) * rstd[i];
                dinp[(size_t)i * C + c] +=
                    (float)(rstd[i] * ((double)dy[c] * w[c] - sg / C - xh * sgx / C));
            }
    }
}
