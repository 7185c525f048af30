/* fake_corename.c: preloaded by test_blas into coop-run to play a CPU that
 * OpenBLAS misdetects: openblas_get_corename says "Prescott" (OpenBLAS
 * 0.3.21's fallback for unknown models) while OPENBLAS_CORETYPE is unset or
 * empty, and passes the real name through once it is set. Test-only. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

__attribute__((visibility("default"))) char *openblas_get_corename(void);

char *openblas_get_corename(void)
{
    const char *v = getenv("OPENBLAS_CORETYPE");
    if (!v || !v[0])
        return (char *)"Prescott";
    char *(*real)(void) = NULL;
    void *sym = dlsym(RTLD_NEXT, "openblas_get_corename");
    if (sym) /* object -> function pointer without the cast ISO C forbids */
        memcpy(&real, &sym, sizeof real);
    return real ? real() : (char *)"unknown";
}
