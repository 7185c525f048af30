/* adamw.c: AdamW with decoupled weight decay (as torch.optim.AdamW). Which
 * parameters are decayed is the caller's rule (CLIP's: coop_pretrain_decays). */
#include "coop/train.h"
#include <math.h>

void coop_adamw_update(float *p, float *m, float *v, const float *g, size_t n,
                       const struct coop_adamw *h, float lr, float wd, long t)
{
    double bc1 = 1.0 - pow(h->beta1, (double)t), bc2 = 1.0 - pow(h->beta2, (double)t);
    float step = (float)(lr / bc1), rb2 = (float)(1.0 / sqrt(bc2));
    float decay = 1.0f - lr * wd, b1 = h->beta1, b2 = h->beta2;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] = p[i] * decay - step * m[i] / (sqrtf(v[i]) * rb2 + h->eps);
    }
}
