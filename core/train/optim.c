/* optim.c: SGD (PyTorch semantics) and the learning-rate schedules: CoOp's
 * per-epoch one (Dassl) and pretraining's per-step warmup + cosine, both
 * over the one cosine annealing formula. */
#include "coop/train.h"
#include <math.h>
#include <string.h>

double coop_lr_at_epoch(const struct coop_optim_config *c, int epoch)
{
    int warm = strcmp(c->warmup_type, "none") == 0 ? 0 : c->warmup_epochs;
    if (epoch < warm) {
        if (strcmp(c->warmup_type, "linear") == 0)
            return c->lr * (double)(epoch + 1) / (double)(warm + 1);
        return c->warmup_lr;
    }
    if (strcmp(c->schedule, "constant") == 0)
        return c->lr;
    if (strcmp(c->schedule, "linear") == 0)
        return c->lr * (1.0 - (double)(epoch - warm) / (double)c->epochs);
    return coop_cosine_anneal(c->lr, (double)(epoch - warm), (double)c->epochs);
}

double coop_cosine_anneal(double base, double t, double period)
{
    return base * 0.5 * (1.0 + cos(M_PI * t / period));
}

double coop_cosine_lr(double base, long step, long warmup, long total)
{
    if (step < warmup)
        return base * (double)(step + 1) / (double)warmup;
    if (total <= warmup)
        return base;
    long t = step - warmup, period = total - warmup;
    return coop_cosine_anneal(base, (double)(t < period ? t : period), (double)period);
}

void coop_sgd_step(float *p, const float *g, float *buf, size_t n, double lr, double momentum,
                   double wd)
{
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + (float)wd * p[i];
        buf[i] = (float)momentum * buf[i] + d;
        p[i] -= (float)lr * buf[i];
    }
}
