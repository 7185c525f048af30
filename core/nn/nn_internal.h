/* nn_internal.h: private helpers shared by the kernels in core/nn (BLAS
 * threading control). Not installed, not part of the public API. */
#ifndef COOP_NN_INTERNAL_H
#define COOP_NN_INTERNAL_H

#include <cblas.h>

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

#endif
