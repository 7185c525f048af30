/* bn_pool.c: eval-mode batch norm fused with ReLU, and average pooling, in
 * the channel-major layout of the ModifiedResNet tower (resnet.c), each with
 * the naive reference it is tested against. */
#include "vision.h"
#include <math.h>

void coop_vision_bn_act(float *x, const struct coop_clip_bn *bn, int C, int HW, int relu)
{
    for (int c = 0; c < C; c++) {
        float scale = bn->w[c] / sqrtf(bn->var[c] + VISION_BN_EPS);
        float shift = bn->b[c] - bn->mean[c] * scale;
        float *p = x + (size_t)c * HW;
        if (relu)
            for (int i = 0; i < HW; i++) {
                float y = p[i] * scale + shift;
                p[i] = y > 0.0f ? y : 0.0f;
            }
        else
            for (int i = 0; i < HW; i++)
                p[i] = p[i] * scale + shift;
    }
}

void coop_vision_bn_act_ref(float *x, const struct coop_clip_bn *bn, int C, int HW, int relu)
{
    for (int c = 0; c < C; c++)
        for (int i = 0; i < HW; i++) {
            float *p = x + (size_t)c * HW + i;
            double y = ((double)*p - bn->mean[c]) / sqrt((double)bn->var[c] + VISION_BN_EPS) *
                           bn->w[c] + bn->b[c];
            *p = (float)(relu && y < 0.0 ? 0.0 : y);
        }
}

void coop_vision_avgpool(float *out, const float *inp, int C, int H, int W, int k)
{
    int Ho = H / k, Wo = W / k;
    float div = (float)(k * k);
    for (int c = 0; c < C; c++)
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                float s = 0.0f;
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++)
                        s += inp[((size_t)c * H + oy * k + ky) * W + ox * k + kx];
                out[((size_t)c * Ho + oy) * Wo + ox] = s / div;
            }
}
