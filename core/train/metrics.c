/* metrics.c: accuracy, macro-F1, per-class accuracy and confusion matrix. */
#include "coop/train.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void coop_argmax_rows(int *pred, const float *logits, size_t n, int K)
{
    for (size_t i = 0; i < n; i++) {
        const float *r = logits + i * (size_t)K;
        int best = 0;
        for (int k = 1; k < K; k++)
            if (r[k] > r[best])
                best = k;
        pred[i] = best;
    }
}

int coop_metrics_compute(const int *pred, const int *y, size_t n, int K, struct coop_metrics *m,
                         float *per_class, int32_t *confusion, struct coop_err *e)
{
    long *tp = calloc((size_t)K, sizeof *tp), *npred = calloc((size_t)K, sizeof *npred),
         *ntrue = calloc((size_t)K, sizeof *ntrue);
    if (!tp || !npred || !ntrue) {
        free(tp), free(npred), free(ntrue);
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    }
    if (confusion)
        memset(confusion, 0, (size_t)K * K * sizeof *confusion);
    long correct = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= K || pred[i] < 0 || pred[i] >= K) {
            rc = coop_fail(e, COOP_E_INVAL, "metrics: label %d or prediction %d outside 0..%d",
                           y[i], pred[i], K - 1);
            break;
        }
        ntrue[y[i]]++;
        npred[pred[i]]++;
        if (pred[i] == y[i]) {
            tp[y[i]]++;
            correct++;
        }
        if (confusion)
            confusion[(size_t)y[i] * K + pred[i]]++;
    }
    if (rc == 0) {
        double f1sum = 0;
        int present = 0;
        for (int k = 0; k < K; k++) {
            if (per_class)
                per_class[k] = ntrue[k] ? (float)(100.0 * tp[k] / ntrue[k]) : NAN;
            if (ntrue[k] == 0 && npred[k] == 0)
                continue;
            present++;
            double denom = (double)(ntrue[k] + npred[k]);
            f1sum += denom > 0 ? 2.0 * tp[k] / denom : 0.0;
        }
        m->n = n;
        m->accuracy = n ? 100.0 * correct / (double)n : 0.0;
        m->macro_f1 = present ? 100.0 * f1sum / present : 0.0;
    }
    free(tp);
    free(npred);
    free(ntrue);
    return rc;
}
