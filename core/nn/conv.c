/* conv.c: 2-D convolution (im2col + OpenBLAS sgemm, and the naive reference
 * it is tested against), the building block of the ModifiedResNet image
 * tower. The batched layout is channel-major [C, nb, H, W] so one sgemm
 * serves nb images; coop_conv2d_forward is its nb = 1 (NCHW) case.
 * Serial on purpose: OpenMP regions between sgemm calls fight OpenBLAS's
 * thread pool for the cores (docs/vision.md). */
#include "coop/nn.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

static int conv_is_pointwise(int kh, int kw, int stride, int pad)
{
    return kh == 1 && kw == 1 && stride == 1 && pad == 0;
}

size_t coop_conv2d_work(int Ci, int H, int W, int kh, int kw, int stride, int pad)
{ /* per image */
    if (conv_is_pointwise(kh, kw, stride, pad))
        return 0;
    size_t Ho = (size_t)coop_conv2d_out(H, kh, stride, pad);
    size_t Wo = (size_t)coop_conv2d_out(W, kw, stride, pad);
    return (size_t)Ci * (size_t)kh * (size_t)kw * Ho * Wo;
}

/* One row of col: output row oy through tap (ky, kx) of channel plane src. */
static void im2col_row(float *dst, const float *src, int H, int W, int Wo, int iy, int kx,
                       int stride, int pad)
{
    if (iy < 0 || iy >= H) {
        memset(dst, 0, sizeof(float) * (size_t)Wo);
        return;
    }
    const float *s = src + (size_t)iy * W;
    if (stride != 1) {
        for (int ox = 0; ox < Wo; ox++) {
            int ix = ox * stride - pad + kx;
            dst[ox] = (ix >= 0 && ix < W) ? s[ix] : 0.0f;
        }
        return;
    }
    /* stride 1: ix = ox + kx - pad is valid for ox in [lo, hi) */
    int lo = pad - kx > 0 ? pad - kx : 0, hi = W + pad - kx < Wo ? W + pad - kx : Wo;
    if (hi < lo)
        hi = lo;
    memset(dst, 0, sizeof(float) * (size_t)lo);
    if (hi > lo)
        memcpy(dst + lo, s + lo + kx - pad, sizeof(float) * (size_t)(hi - lo));
    memset(dst + hi, 0, sizeof(float) * (size_t)(Wo - hi));
}

/* col [Ci*kh*kw, nb*Ho*Wo]: row (c, ky, kx) holds, for each of the nb images
 * of inp [Ci, nb, H, W], the pixel each output position reads through that
 * tap (0 in the padding). */
static void im2col(float *col, const float *inp, int Ci, int nb, int H, int W, int kh, int kw,
                   int stride, int pad, int Ho, int Wo)
{
    size_t plane = (size_t)Ho * Wo, rowlen = (size_t)nb * plane;
    for (int c = 0; c < Ci; c++)
        for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++) {
                float *row = col + ((size_t)(c * kh + ky) * kw + kx) * rowlen;
                for (int b = 0; b < nb; b++)
                    for (int oy = 0; oy < Ho; oy++)
                        im2col_row(row + b * plane + (size_t)oy * Wo,
                                   inp + ((size_t)c * nb + b) * H * W, H, W, Wo,
                                   oy * stride - pad + ky, kx, stride, pad);
            }
}

void coop_conv2d_forward_batch(float *out, const float *inp, const float *w, const float *bias,
                               int Ci, int nb, int H, int W, int Co, int kh, int kw, int stride,
                               int pad, float *work)
{
    int Ho = coop_conv2d_out(H, kh, stride, pad), Wo = coop_conv2d_out(W, kw, stride, pad);
    int K = Ci * kh * kw, N = nb * Ho * Wo;
    const float *col = inp;
    if (!conv_is_pointwise(kh, kw, stride, pad)) {
        im2col(work, inp, Ci, nb, H, W, kh, kw, stride, pad, Ho, Wo);
        col = work;
    }
    /* out [Co, N] = w [Co, K] @ col [K, N] */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Co, N, K, 1.0f, w, K, col, N, 0.0f,
                out, N);
    if (bias)
        for (int o = 0; o < Co; o++)
            for (int i = 0; i < N; i++)
                out[(size_t)o * N + i] += bias[o];
}

/* The public entry point owns its workspace; if that allocation fails it
 * falls back to the reference, which needs none (same result, slower). */
void coop_conv2d_forward(float *out, const float *inp, const float *w, const float *bias,
                         int Ci, int H, int W, int Co, int kh, int kw, int stride, int pad)
{
    size_t nw = coop_conv2d_work(Ci, H, W, kh, kw, stride, pad);
    float *work = nw ? malloc(nw * sizeof(float)) : NULL;
    if (nw && !work) {
        coop_conv2d_forward_ref(out, inp, w, bias, Ci, H, W, Co, kh, kw, stride, pad);
        return;
    }
    coop_conv2d_forward_batch(out, inp, w, bias, Ci, 1, H, W, Co, kh, kw, stride, pad, work);
    free(work);
}

void coop_conv2d_forward_ref(float *out, const float *inp, const float *w, const float *bias,
                             int Ci, int H, int W, int Co, int kh, int kw, int stride, int pad)
{
    int Ho = coop_conv2d_out(H, kh, stride, pad), Wo = coop_conv2d_out(W, kw, stride, pad);
    for (int o = 0; o < Co; o++)
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                double s = bias ? bias[o] : 0.0;
                for (int c = 0; c < Ci; c++)
                    for (int ky = 0; ky < kh; ky++)
                        for (int kx = 0; kx < kw; kx++) {
                            int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                continue;
                            s += (double)w[((size_t)(o * Ci + c) * kh + ky) * kw + kx] *
                                 inp[((size_t)c * H + iy) * W + ix];
                        }
                out[((size_t)o * Ho + oy) * Wo + ox] = (float)s;
            }
}
