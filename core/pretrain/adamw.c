/* adamw.c: AdamW with decoupled weight decay (as torch.optim.AdamW), the
 * cosine learning-rate schedule with linear warmup, and CLIP's rule for
 * which parameters are decayed. */
#include "coop/pretrain.h"
#include <math.h>
#include <string.h>

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

double coop_cosine_lr(double base, long step, long warmup, long total)
{
    if (step < warmup)
        return base * (double)(step + 1) / (double)warmup;
    if (total <= warmup)
        return base;
    double x = (double)(step - warmup) / (double)(total - warmup);
    if (x > 1)
        x = 1;
    return base * 0.5 * (1.0 + cos(3.14159265358979323846 * x));
}

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

bool coop_pretrain_decays(const char *name, int ndim)
{
    if (ndim < 2 || strstr(name, "embedding") || strstr(name, "ln_") || strstr(name, "bn") ||
        ends_with(name, "bias") || strstr(name, "logit_scale"))
        return false;
    return true;
}

bool coop_pretrain_decays_with(const char *name, int ndim, bool decay_embeddings)
{
    if (decay_embeddings && ndim >= 2 && strstr(name, "embedding"))
        return true;
    return coop_pretrain_decays(name, ndim);
}
