/* nn_testutil.h: helpers for the kernel tests: random buffers, the error
 * metric (max |a - b| / max |b|) and central finite-difference directional
 * derivatives. */
#ifndef COOP_NN_TESTUTIL_H
#define COOP_NN_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

float *tu_rand(size_t n, uint64_t seed, double lo, double hi); /* coop_alloc'd */
float *tu_zeros(size_t n);
double tu_relerr(const float *a, const float *b, size_t n);
double tu_dot(const float *a, const float *b, size_t n);

/* Loss evaluated in double from the current state of the buffers. */
typedef double (*tu_loss_fn)(void *ctx);
/* (L(x + eps d) - L(x - eps d)) / (2 eps), restoring x afterwards. */
double tu_fd_dir(tu_loss_fn f, void *ctx, float *x, const float *d, size_t n, double eps);
/* Compares the analytic directional derivative <g, d> with the FD one over a
 * few random directions; returns the worst relative error, normalised by
 * max(|fd|, floor). */
double tu_fd_check(tu_loss_fn f, void *ctx, float *x, const float *g, size_t n, uint64_t seed);

#endif
