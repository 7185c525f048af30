/* infonce.c: CLIP's symmetric contrastive loss (InfoNCE over image-to-text
 * and text-to-image logits with a learnable log temperature) and its exact
 * gradient with respect to both feature sets and the log scale. */
#include "coop/nn.h"
#include <math.h>
#include <stdlib.h>

/* Row-wise softmax of x [B, B] (row stride rs, column stride cs) into p
 * [B, B] row-major; returns sum_i -log p[i][i]. */
static double softmax_diag(float *p, const float *x, int B, int rs, int cs)
{
    double loss = 0;
    for (int i = 0; i < B; i++) {
        const float *r = x + (size_t)i * rs;
        float mx = r[0];
        for (int j = 1; j < B; j++)
            mx = fmaxf(mx, r[(size_t)j * cs]);
        double s = 0;
        for (int j = 0; j < B; j++) {
            float ex = expf(r[(size_t)j * cs] - mx);
            p[(size_t)i * B + j] = ex;
            s += ex;
        }
        for (int j = 0; j < B; j++)
            p[(size_t)i * B + j] = (float)(p[(size_t)i * B + j] / s);
        loss += -(double)(r[(size_t)i * cs] - mx) + log(s);
    }
    return loss;
}

double coop_infonce(float *dimg, float *dtxt, float *dscale, const float *img, const float *txt,
                    float logit_scale, int B, int E)
{
    size_t BB = (size_t)B * B;
    float *lg = calloc(BB, sizeof *lg), *pr = malloc(BB * sizeof *pr),
          *pc = malloc(BB * sizeof *pc);
    if (!lg || !pr || !pc) {
        free(lg);
        free(pr);
        free(pc);
        return NAN;
    }
    float s = expf(logit_scale);
    /* lg [B, B] = s * img txt^T */
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) {
            double d = 0;
            for (int k = 0; k < E; k++)
                d += (double)img[(size_t)i * E + k] * txt[(size_t)j * E + k];
            lg[(size_t)i * B + j] = (float)(s * d);
        }
    double loss = softmax_diag(pr, lg, B, B, 1) + softmax_diag(pc, lg, B, 1, B);
    loss /= 2.0 * B;
    /* dlg[i][j] = ((pr[i][j] - [i==j]) + (pc[j][i] - [i==j])) / (2B), kept in pr */
    double ds = 0;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) {
            float g = (pr[(size_t)i * B + j] + pc[(size_t)j * B + i] - (i == j ? 2.0f : 0.0f)) /
                      (2.0f * (float)B);
            pr[(size_t)i * B + j] = g;
            ds += (double)g * lg[(size_t)i * B + j]; /* d lg / d logit_scale = lg */
        }
    if (dscale)
        *dscale = (float)ds;
    /* dimg = s dlg txt, dtxt = s dlg^T img */
    for (int i = 0; dimg && i < B; i++)
        for (int k = 0; k < E; k++) {
            double a = 0;
            for (int j = 0; j < B; j++)
                a += (double)pr[(size_t)i * B + j] * txt[(size_t)j * E + k];
            dimg[(size_t)i * E + k] = (float)(s * a);
        }
    for (int j = 0; dtxt && j < B; j++)
        for (int k = 0; k < E; k++) {
            double a = 0;
            for (int i = 0; i < B; i++)
                a += (double)pr[(size_t)i * B + j] * img[(size_t)i * E + k];
            dtxt[(size_t)j * E + k] = (float)(s * a);
        }
    free(lg);
    free(pr);
    free(pc);
    return loss;
}

double coop_infonce_ref(const float *img, const float *txt, float logit_scale, int B, int E)
{
    double s = exp((double)logit_scale), loss = 0;
    for (int dir = 0; dir < 2; dir++)
        for (int i = 0; i < B; i++) {
            double mx = -INFINITY, sum = 0, diag = 0;
            for (int pass = 0; pass < 2; pass++)
                for (int j = 0; j < B; j++) {
                    const float *a = dir ? txt + (size_t)i * E : img + (size_t)i * E;
                    const float *b = dir ? img + (size_t)j * E : txt + (size_t)j * E;
                    double d = 0;
                    for (int k = 0; k < E; k++)
                        d += (double)a[k] * b[k];
                    d *= s;
                    if (pass == 0)
                        mx = d > mx ? d : mx;
                    else
                        sum += exp(d - mx);
                    if (pass == 1 && j == i)
                        diag = d;
                }
            loss += -(diag - mx) + log(sum);
        }
    return loss / (2.0 * B);
}
