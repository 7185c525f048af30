/* nn_internal.h: private helpers shared by the kernels in core/nn (BLAS
 * threading control). Not installed, not part of the public API. */
#ifndef COOP_NN_INTERNAL_H
#define COOP_NN_INTERNAL_H

#include <cblas.h>

/* OpenBLAS (pthread build) extensions; redeclared here so a generic cblas.h
 * first on the include path still compiles. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

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
