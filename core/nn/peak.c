/* peak.c: measured sgemm and bf16 matmul throughput of this machine
 * (GFLOP/s), the yardsticks benchmarks report their GEMM efficiency against.
 * Allocates its matrices. */
#include "coop/bf16.h"
#include "coop/nn.h"
#include "coop/util.h"
#include "nn_internal.h"

double coop_sgemm_peak_gflops(int n)
{
    if (n <= 0)
        return 0.0;
    size_t nn = (size_t)n * n;
    float *a = coop_alloc_floats(nn), *b = coop_alloc_floats(nn), *c = coop_alloc_floats(nn);
    double best = 0.0;
    if (a && b && c) {
        coop_hash_uniform(a, nn, 1, -1.0, 1.0);
        coop_hash_uniform(b, nn, 2, -1.0, 1.0);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f,
                    c, n); /* warm-up: thread pool start, page faults */
        for (int rep = 0; rep < 5; rep++) {
            double t0 = coop_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n,
                        0.0f, c, n);
            double dt = coop_now() - t0;
            double g = 2.0 * n * (double)nn / dt / 1e9;
            best = g > best ? g : best;
        }
    }
    coop_free(a);
    coop_free(b);
    coop_free(c);
    return best;
}

/* Best of 5 products n x n x n through the bf16 layer (after a warm-up). */
static double bf16_square(int n)
{
    struct coop_err e;
    size_t nn = (size_t)n * n;
    float *a = coop_alloc_floats(nn), *w = coop_alloc_floats(nn), *c = coop_alloc_floats(nn);
    struct coop_bf16_linear *l = NULL;
    double best = 0.0;
    if (a && w && c) {
        coop_hash_uniform(a, nn, 1, -1.0, 1.0);
        coop_hash_uniform(w, nn, 2, -1.0, 1.0);
    }
    if (a && w && c && coop_bf16_linear_create(&l, w, NULL, n, n, &e) == 0) {
        for (int rep = -1; rep < 5; rep++) { /* -1: warm-up, builds the primitive */
            double t0 = coop_now();
            if (coop_bf16_linear_forward(l, c, a, n, &e))
                break;
            double g = 2.0 * n * (double)nn / (coop_now() - t0) / 1e9;
            best = rep >= 0 && g > best ? g : best;
        }
    }
    coop_bf16_linear_free(l);
    coop_free(a);
    coop_free(w);
    coop_free(c);
    return best;
}

double coop_bf16_peak_gflops(int n)
{
    struct coop_err e;
    if (n <= 0 || coop_bf16_check(&e))
        return 0.0;
    double best = 0.0;
    for (int s = 256; s <= n || s == 256; s += 256) {
        double g = bf16_square(s);
        best = g > best ? g : best;
    }
    return best;
}
