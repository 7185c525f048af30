/* nn_internal.h: private helpers shared by the kernels in core/nn (BLAS
 * threading control). Not installed, not part of the public API. */
#ifndef COOP_NN_INTERNAL_H
#define COOP_NN_INTERNAL_H

#include <cblas.h>
#include <stdint.h>
#include <string.h>

/* OpenBLAS (pthread build) extensions; redeclared here so a generic cblas.h
 * first on the include path still compiles. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

/* Element-wise and row-wise passes split over the OpenMP threads from this
 * many elements up and stay on the calling thread below it. With
 * OMP_WAIT_POLICY=passive a fork wakes sleeping threads (a futex each, of the
 * order of 10 us on a VM); 32768 elements of the cheapest pass (an add, a
 * bf16 rounding) take about as long on one core, so the split pays from here
 * up. The CoOp fast path's passes (239 rows of 512 to 2048 at K = 37) are
 * above it; a larger threshold left them all on one thread. */
#define COOP_PAR_MIN_ELEMS ((size_t)1 << 15)

/* Kernels that run many small GEMMs inside an OpenMP loop switch OpenBLAS to
 * one thread for the loop (nested threading oversubscribes the cores) and
 * restore the previous count afterwards. */
static inline int coop_blas_single_begin(void)
{
    int n = openblas_get_num_threads();
    if (n > 1)
        openblas_set_num_threads(1);
    return n;
}

static inline void coop_blas_single_end(int n)
{
    if (n > 1)
        openblas_set_num_threads(n);
}

/* e^x for x in [-87, 88] (clamped) as 2^n e^r: n = round(x log2 e), r = x -
 * n ln 2 in two steps (Cody-Waite, ln 2 split so n ln2_hi is exact), e^r by
 * its Taylor series to degree 7 (|r| <= 0.35: truncation 5e-9). Plain
 * arithmetic and a bit cast, so loops over it vectorise. */
static inline float coop_exp_fast(float x)
{
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    float t = x * 1.44269504f;
    float n = (t + 12582912.0f) - 12582912.0f; /* round to nearest: 1.5 * 2^23 */
    float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* AVX-512 where the CPU has it (all bf16 CPUs do), else the baseline. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FAST_CLONES __attribute__((target_clones("avx512f", "default")))
#else
#define FAST_CLONES
#endif

#endif
