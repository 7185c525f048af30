/* nn_testutil.c: see nn_testutil.h. */
#include "nn_testutil.h"
#include "coop/util.h"
#include <math.h>

float *tu_rand(size_t n, uint64_t seed, double lo, double hi)
{
    float *x = coop_alloc_floats(n ? n : 1);
    coop_hash_uniform(x, n, seed, lo, hi);
    return x;
}

float *tu_zeros(size_t n) { return coop_alloc_floats(n ? n : 1); }

double tu_relerr(const float *a, const float *b, size_t n)
{
    double md = 0.0, mb = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (isnan(a[i]) || isnan(b[i]))
            return INFINITY;
        md = d > md ? d : md;
        mb = fabs(b[i]) > mb ? fabs(b[i]) : mb;
    }
    return mb > 0 ? md / mb : md;
}

double tu_dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

double tu_fd_dir(tu_loss_fn f, void *ctx, float *x, const float *d, size_t n, double eps)
{
    float *save = coop_alloc_floats(n);
    for (size_t i = 0; i < n; i++)
        save[i] = x[i];
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(save[i] + eps * d[i]);
    double lp = f(ctx);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(save[i] - eps * d[i]);
    double lm = f(ctx);
    for (size_t i = 0; i < n; i++)
        x[i] = save[i];
    coop_free(save);
    return (lp - lm) / (2.0 * eps);
}

double tu_fd_check(tu_loss_fn f, void *ctx, float *x, const float *g, size_t n, uint64_t seed)
{
    double worst = 0.0;
    for (int r = 0; r < 3; r++) {
        float *d = tu_rand(n, seed * 7 + (uint64_t)r, -1.0, 1.0);
        double an = tu_dot(g, d, n);
        double fd = tu_fd_dir(f, ctx, x, d, n, 1e-2);
        double den = fabs(fd) > 1e-3 ? fabs(fd) : 1e-3;
        double err = fabs(an - fd) / den;
        worst = err > worst ? err : worst;
        coop_free(d);
    }
    return worst;
}
