/* h5file.c: the small HDF5 layer under everything coop writes or reads as
 * HDF5: whole datasets and scalar attributes at a path (h5_internal.h), used
 * by the results store's writer, the test suites' fixture readers, and the
 * plain-file writer (coop_h5file_*, coop/results.h) that coop-encode's output
 * goes through. Messages name the file ("where") and the dataset or
 * attribute, with HDF5's innermost error appended. Never prints. */
#include "coop/results.h"
#include "coop/util.h"
#include "h5_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int coop_h5_write(hid_t loc, const char *where, const char *path, hid_t memtype,
                  hid_t filetype, const void *data, int rank, const hsize_t *dims, hid_t dcpl,
                  struct coop_err *e)
{
    hsize_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    hid_t sp = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(loc, path, filetype, sp, lcpl, dcpl, H5P_DEFAULT);
    int rc = 0;
    if (d < 0)
        rc = coop_h5_fail(e, COOP_E_IO, "%s: %s: cannot create dataset", where, path);
    else if (n > 0 && H5Dwrite(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        rc = coop_h5_fail(e, COOP_E_IO, "%s: %s: cannot write dataset", where, path);
    if (d >= 0)
        H5Dclose(d);
    H5Pclose(lcpl);
    H5Sclose(sp);
    return rc;
}

int coop_h5_put_attr(hid_t obj, const char *where, const char *name, hid_t type,
                     const void *value, struct coop_err *e)
{
    if (!name || !name[0])
        return coop_fail(e, COOP_E_INVAL, "%s: empty attribute name", where);
    if (H5Aexists(obj, name) > 0 && H5Adelete(obj, name) < 0)
        return coop_h5_fail(e, COOP_E_IO, "%s: cannot replace attribute '%s'", where, name);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (a < 0 || H5Awrite(a, type, value) < 0)
        rc = coop_h5_fail(e, COOP_E_IO, "%s: cannot write attribute '%s'", where, name);
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

int coop_h5_read(hid_t loc, const char *where, const char *path, hid_t memtype, size_t esize,
                 void **data, size_t *count, int *rank, hsize_t dims[COOP_RESULTS_MAX_RANK],
                 struct coop_err *e)
{
    *data = NULL;
    if (!coop_h5_path_exists(loc, path))
        return coop_fail(e, COOP_E_NOTFOUND, "%s: no dataset '%s'", where, path);
    hid_t d = H5Dopen2(loc, path, H5P_DEFAULT);
    if (d < 0)
        return coop_h5_fail(e, COOP_E_FORMAT, "%s: %s: cannot open dataset", where, path);
    hid_t sp = H5Dget_space(d);
    int r = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    hsize_t dd[COOP_RESULTS_MAX_RANK];
    int rc = 0;
    if (r < 0 || r > COOP_RESULTS_MAX_RANK || H5Sget_simple_extent_dims(sp, dd, NULL) < 0) {
        rc = coop_h5_fail(e, COOP_E_FORMAT, "%s: %s: unreadable shape", where, path);
        goto done;
    }
    size_t n = 1;
    for (int i = 0; i < r; i++)
        n *= (size_t)dd[i];
    *data = coop_alloc((n ? n : 1) * esize);
    if (!*data)
        rc = coop_fail(e, COOP_E_NOMEM, "%s: %s: out of memory", where, path);
    else if (n && H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, *data) < 0)
        rc = coop_h5_fail(e, COOP_E_FORMAT, "%s: %s: cannot read dataset", where, path);
    if (rc == 0 && count)
        *count = n;
    if (rc == 0 && rank)
        *rank = r;
    for (int i = 0; rc == 0 && dims && i < r; i++)
        dims[i] = dd[i];
done:
    if (rc) {
        coop_free(*data);
        *data = NULL;
    }
    if (sp >= 0)
        H5Sclose(sp);
    H5Dclose(d);
    return rc;
}

int coop_h5_attr_i64(hid_t obj, const char *name, int64_t *out)
{
    if (H5Aexists(obj, name) <= 0)
        return COOP_E_NOTFOUND;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return COOP_E_FORMAT;
    int64_t v;
    int rc = H5Aread(a, H5T_NATIVE_INT64, &v) < 0 ? COOP_E_FORMAT : 0;
    H5Aclose(a);
    if (rc == 0)
        *out = v;
    return rc;
}

float *coop_h5_floats(hid_t loc, const char *path, size_t *n)
{
    void *d;
    return coop_h5_read(loc, "", path, H5T_NATIVE_FLOAT, sizeof(float), &d, n, NULL, NULL,
                        NULL) == 0
               ? d
               : NULL;
}

int *coop_h5_ints(hid_t loc, const char *path, size_t *n)
{
    void *d;
    return coop_h5_read(loc, "", path, H5T_NATIVE_INT, sizeof(int), &d, n, NULL, NULL, NULL) ==
                   0
               ? d
               : NULL;
}

long coop_h5_attr_long(hid_t obj, const char *name, long fallback)
{
    int64_t v;
    return coop_h5_attr_i64(obj, name, &v) == 0 ? (long)v : fallback;
}

/* ---- plain files (coop/results.h) ------------------------------------------ */
struct coop_h5file {
    hid_t f;
    char *path, *tmp;
};

int coop_h5file_create(struct coop_h5file **out, const char *path, struct coop_err *e)
{
    coop_h5_quiet();
    struct coop_h5file *h = calloc(1, sizeof *h);
    if (!h || !(h->path = coop_strdup(path)) ||
        !(h->tmp = coop_asprintf("%s.tmp%ld", path, (long)getpid()))) {
        if (h)
            free(h->path);
        free(h);
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    }
    h->f = H5Fcreate(h->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (h->f < 0) {
        int rc = coop_h5_fail(e, COOP_E_IO, "%s: cannot create", h->tmp);
        free(h->path);
        free(h->tmp);
        free(h);
        return rc;
    }
    *out = h;
    return 0;
}

static int plain_write(struct coop_h5file *h, const char *path, hid_t type, const void *data,
                       int rank, const size_t *shape, struct coop_err *e)
{
    hsize_t dims[COOP_RESULTS_MAX_RANK];
    if (rank < 0 || rank > COOP_RESULTS_MAX_RANK || (rank > 0 && !shape))
        return coop_fail(e, COOP_E_INVAL, "%s: %s: invalid rank %d", h->path, path, rank);
    for (int i = 0; i < rank; i++)
        dims[i] = shape[i];
    return coop_h5_write(h->f, h->path, path, type, type, data, rank, dims, H5P_DEFAULT, e);
}

int coop_h5file_write_f32(struct coop_h5file *h, const char *path, const float *data, int rank,
                          const size_t *shape, struct coop_err *e)
{
    return plain_write(h, path, H5T_NATIVE_FLOAT, data, rank, shape, e);
}

int coop_h5file_write_i32(struct coop_h5file *h, const char *path, const int32_t *data,
                          int rank, const size_t *shape, struct coop_err *e)
{
    return plain_write(h, path, H5T_NATIVE_INT32, data, rank, shape, e);
}

int coop_h5file_write_strings(struct coop_h5file *h, const char *path, const char *const *s,
                              size_t n, struct coop_err *e)
{
    hid_t t = coop_h5_vlstr_type();
    int rc = plain_write(h, path, t, s, 1, &n, e);
    H5Tclose(t);
    return rc;
}

int coop_h5file_attr_str(struct coop_h5file *h, const char *name, const char *value,
                         struct coop_err *e)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(value) + 1);
    H5Tset_cset(t, H5T_CSET_UTF8);
    int rc = coop_h5_put_attr(h->f, h->path, name, t, value, e);
    H5Tclose(t);
    return rc;
}

int coop_h5file_close(struct coop_h5file *h, bool ok, struct coop_err *e)
{
    int rc = 0;
    if (H5Fclose(h->f) < 0 && ok)
        rc = coop_h5_fail(e, COOP_E_IO, "%s: cannot close", h->tmp);
    if (ok && rc == 0 && rename(h->tmp, h->path) != 0)
        rc = coop_fail(e, COOP_E_IO, "%s: cannot rename onto %s", h->tmp, h->path);
    if (!ok || rc)
        unlink(h->tmp);
    free(h->path);
    free(h->tmp);
    free(h);
    return rc;
}
