/* loss.c: mean softmax cross-entropy over rows with its gradient, and a
 * double-precision reference for the tests. */
#include "coop/nn.h"
#include <math.h>

float coop_cross_entropy(float *dlogits, const float *logits, const int *y, int M, int N)
{
    /* logits, dlogits [M,N]; y [M] in [0, N) */
    double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total) if ((size_t)M * N > 65536)
    for (int i = 0; i < M; i++) {
        const float *l = logits + (size_t)i * N;
        float mx = l[0];
        for (int j = 1; j < N; j++)
            mx = l[j] > mx ? l[j] : mx;
        double s = 0.0;
        for (int j = 0; j < N; j++)
            s += exp((double)(l[j] - mx));
        total += log(s) - (double)(l[y[i]] - mx);
        if (dlogits) {
            float *d = dlogits + (size_t)i * N;
            for (int j = 0; j < N; j++)
                d[j] = (float)(exp((double)(l[j] - mx)) / s) / (float)M;
            d[y[i]] -= 1.0f / (float)M;
        }
    }
    return (float)(total / M);
}

double coop_cross_entropy_ref(const float *logits, const int *y, int M, int N)
{
    double total = 0.0;
    for (int i = 0; i < M; i++) {
        double s = 0.0;
        for (int j = 0; j < N; j++)
            s += exp((double)logits[(size_t)i * N + j]);
        total += log(s) - logits[(size_t)i * N + y[i]];
    }
    return total / M;
}
