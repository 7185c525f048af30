/* h5util.c: see h5util.h. */
#include "h5util.h"
#include "coop/util.h"

static void *read_all(hid_t loc, const char *name, hid_t type, size_t elem, size_t *n)
{
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return NULL;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0)
        return NULL;
    hid_t sp = H5Dget_space(d);
    hssize_t cnt = H5Sget_simple_extent_npoints(sp);
    void *buf = cnt >= 0 ? coop_alloc((size_t)(cnt ? cnt : 1) * elem) : NULL;
    if (buf && H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        coop_free(buf);
        buf = NULL;
    }
    H5Sclose(sp);
    H5Dclose(d);
    if (n)
        *n = buf ? (size_t)cnt : 0;
    return buf;
}

float *h5_floats(hid_t loc, const char *name, size_t *n)
{
    return read_all(loc, name, H5T_NATIVE_FLOAT, sizeof(float), n);
}

int *h5_ints(hid_t loc, const char *name, size_t *n)
{
    return read_all(loc, name, H5T_NATIVE_INT, sizeof(int), n);
}

long h5_attr_int(hid_t loc, const char *name, long fallback)
{
    if (H5Aexists(loc, name) <= 0)
        return fallback;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    long v = fallback;
    if (a >= 0 && H5Aread(a, H5T_NATIVE_LONG, &v) < 0)
        v = fallback;
    if (a >= 0)
        H5Aclose(a);
    return v;
}
