/* optim.c: SGD and the learning-rate schedule (PyTorch / Dassl semantics). */
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
    return c->lr * 0.5 * (1.0 + cos(M_PI * (double)(epoch - warm) / (double)c->epochs));
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
