/* core/cli/coop-encode/h5out.c: see h5out.h. The file is written under a
 * temporary name and renamed when complete, so a failed run never leaves a
 * half-written output. HDF5's own error printing is switched off; failures
 * come back as messages naming the file and dataset. */
#include "h5out.h"
#include "coop/util.h"
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct h5out {
    hid_t f;
    char *path, *tmp;
};

int h5out_create(struct h5out **out, const char *path, struct coop_err *e)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    struct h5out *h = calloc(1, sizeof *h);
    if (!h || !(h->path = coop_strdup(path)) ||
        !(h->tmp = coop_asprintf("%s.tmp%ld", path, (long)getpid()))) {
        if (h)
            free(h->path);
        free(h);
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    }
    h->f = H5Fcreate(h->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (h->f < 0) {
        int rc = coop_fail(e, COOP_E_IO, "%s: cannot create", h->tmp);
        free(h->path);
        free(h->tmp);
        free(h);
        return rc;
    }
    *out = h;
    return 0;
}

static int write2d(struct h5out *h, const char *name, hid_t type, const void *data, size_t rows,
                   size_t cols, struct coop_err *e)
{
    hsize_t dims[2] = {rows, cols};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t ds = H5Dcreate2(h->f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = ds >= 0 ? H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : -1;
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(sp);
    return st < 0 ? coop_fail(e, COOP_E_IO, "%s: cannot write dataset '%s'", h->path, name) : 0;
}

int h5out_int32(struct h5out *h, const char *name, const int32_t *data, size_t rows,
                size_t cols, struct coop_err *e)
{
    return write2d(h, name, H5T_NATIVE_INT32, data, rows, cols, e);
}

int h5out_float(struct h5out *h, const char *name, const float *data, size_t rows, size_t cols,
                struct coop_err *e)
{
    return write2d(h, name, H5T_NATIVE_FLOAT, data, rows, cols, e);
}

int h5out_strings(struct h5out *h, const char *name, const char *const *s, size_t n,
                  struct coop_err *e)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hsize_t dims[1] = {n};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t ds = H5Dcreate2(h->f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = ds >= 0 ? H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, s) : -1;
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(sp);
    H5Tclose(t);
    return st < 0 ? coop_fail(e, COOP_E_IO, "%s: cannot write dataset '%s'", h->path, name) : 0;
}

int h5out_attr(struct h5out *h, const char *name, const char *value, struct coop_err *e)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(value) + 1);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(h->f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = a >= 0 ? H5Awrite(a, t, value) : -1;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return st < 0 ? coop_fail(e, COOP_E_IO, "%s: cannot write attribute '%s'", h->path, name)
                  : 0;
}

int h5out_close(struct h5out *h, int ok, struct coop_err *e)
{
    int rc = 0;
    if (H5Fclose(h->f) < 0 && ok)
        rc = coop_fail(e, COOP_E_IO, "%s: cannot close", h->tmp);
    if (ok && rc == 0 && rename(h->tmp, h->path) != 0)
        rc = coop_fail(e, COOP_E_IO, "%s: cannot rename onto %s", h->tmp, h->path);
    if (!ok || rc)
        unlink(h->tmp);
    free(h->path);
    free(h->tmp);
    free(h);
    return rc;
}
