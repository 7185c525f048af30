/* peak.c: measured sgemm throughput of this machine (GFLOP/s), the yardstick
 * benchmarks report their GEMM efficiency against. Allocates its matrices. */
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
