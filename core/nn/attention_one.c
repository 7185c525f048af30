/* attention_one.c: one query against T keys/values (inference only): the
 * ResNet attention pool and the ViT's last block, which read only the class
 * row. Plain loops: T and the head width are small, and the callers run it
 * once per image. Tested against coop_attention_forward_ref. */
#include "coop/nn.h"
#include <math.h>
#include <string.h>

void coop_attention_one_forward(float *out, const float *q, const float *k, const float *v,
                                int ld, int T, int D, int H, float *sc)
{
    int hd = D / H;
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < H; h++) {
        const float *qh = q + h * hd;
        float mx = -INFINITY, sum = 0.0f;
        for (int t = 0; t < T; t++) {
            const float *kt = k + (size_t)t * ld + h * hd;
            float s = 0.0f;
            for (int i = 0; i < hd; i++)
                s += qh[i] * kt[i];
            sc[t] = s * scale;
            mx = sc[t] > mx ? sc[t] : mx;
        }
        for (int t = 0; t < T; t++)
            sum += sc[t] = expf(sc[t] - mx);
        float *oh = out + h * hd;
        memset(oh, 0, sizeof(float) * (size_t)hd);
        for (int t = 0; t < T; t++) {
            const float *vt = v + (size_t)t * ld + h * hd;
            float a = sc[t] / sum;
            for (int i = 0; i < hd; i++)
                oh[i] += a * vt[i];
        }
    }
}
