/* reader.c: read-only access to a results file for reports and tests:
 * attributes and datasets by path, with HDF5 failures turned into messages
 * naming the file and the path. Never prints. */
#include "coop/results.h"
#include "coop/util.h"
#include "h5_internal.h"
#include <stdlib.h>
#include <string.h>

struct coop_results_reader {
    hid_t file;
    char *path;
    size_t bytes; /* file size: bounds what any dimension may claim */
};

static int open_image(const char *file, const unsigned char *img, size_t n,
                      struct coop_results_reader **out, struct coop_err *e)
{
    hid_t f = coop_h5_open_image(img, n);
    if (f < 0)
        return coop_h5_fail(e, COOP_E_FORMAT, "%s: cannot open results file", file);
    struct coop_results_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = coop_strdup(file))) {
        free(r);
        H5Fclose(f);
        return coop_fail(e, COOP_E_NOMEM, "results: out of memory");
    }
    r->file = f;
    r->bytes = n;
    *out = r;
    return 0;
}

/* Memory a full read of an unsealed n-byte file may take: HDF5's caches and
 * copies of the image, and the values themselves. */
#define CHECK_BUDGET(n) (((size_t)512 << 20) + 16 * (n))

struct image {
    const char *path;
    const unsigned char *img;
    size_t n;
};

/* Runs in the child process of coop_h5_check_contained. */
static int read_image_everything(void *ctx, struct coop_err *e)
{
    const struct image *im = ctx;
    struct coop_results_reader *r = NULL;
    int rc = open_image(im->path, im->img, im->n, &r, e);
    if (rc)
        return rc;
    rc = coop_results_read_everything(r, e);
    coop_results_close(r);
    return rc;
}

int coop_results_open(const char *file, struct coop_results_reader **out, struct coop_err *e)
{
    *out = NULL;
    coop_h5_quiet();
    if (!coop_file_exists(file))
        return coop_fail(e, COOP_E_IO, "%s: no such results file", file);
    unsigned char *img;
    size_t n;
    bool sealed;
    int rc = coop_h5_load(file, &img, &n, &sealed, e);
    if (rc)
        return rc;
    struct image im = {file, img, n};
    if (!sealed)
        rc = coop_h5_check_contained(file, read_image_everything, &im, CHECK_BUDGET(n), e);
    if (!rc)
        rc = open_image(file, img, n, out, e);
    free(img);
    return rc;
}

hid_t coop_results_reader_hid(const struct coop_results_reader *r)
{
    return r->file;
}

void coop_results_close(struct coop_results_reader *r)
{
    if (!r)
        return;
    H5Fclose(r->file);
    free(r->path);
    free(r);
}

const char *coop_results_reader_path(const struct coop_results_reader *r)
{
    return r->path;
}

bool coop_results_has_attr(struct coop_results_reader *r, const char *name)
{
    return H5Aexists(r->file, name) > 0;
}

bool coop_results_has(struct coop_results_reader *r, const char *path)
{
    return coop_h5_path_exists(r->file, path);
}

void coop_results_free_strings(char **s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

/* ---- attributes ---------------------------------------------------------- */
int coop_results_read_attr_str(struct coop_results_reader *r, const char *name, char **out,
                               struct coop_err *e)
{
    int rc = coop_h5_attr_str(r->file, name, out);
    if (rc == COOP_E_NOTFOUND)
        return coop_fail(e, rc, "%s: no attribute '%s'", r->path, name);
    if (rc)
        return coop_h5_fail(e, rc, "%s: attribute '%s' is not a readable string", r->path,
                            name);
    return 0;
}

/* An attribute's handles, each H5I_INVALID_HID where it could not be had. */
struct attr_handles {
    hid_t a, ft, sp;
};

/* COOP_E_NOTFOUND when the attribute is absent; otherwise 0 with h filled
 * (h->a < 0 if it exists but does not open). Release with attr_close. */
static int attr_open(struct coop_results_reader *r, const char *name, struct attr_handles *h,
                     struct coop_err *e)
{
    h->a = h->ft = h->sp = H5I_INVALID_HID;
    if (H5Aexists(r->file, name) <= 0)
        return coop_fail(e, COOP_E_NOTFOUND, "%s: no attribute '%s'", r->path, name);
    h->a = H5Aopen(r->file, name, H5P_DEFAULT);
    h->ft = h->a >= 0 ? H5Aget_type(h->a) : H5I_INVALID_HID;
    h->sp = h->a >= 0 ? H5Aget_space(h->a) : H5I_INVALID_HID;
    return 0;
}

static void attr_close(struct attr_handles *h)
{
    if (h->sp >= 0)
        H5Sclose(h->sp);
    if (h->ft >= 0)
        H5Tclose(h->ft);
    if (h->a >= 0)
        H5Aclose(h->a);
}

static int read_num_attr(struct coop_results_reader *r, const char *name, hid_t mt, void *out,
                         struct coop_err *e)
{
    struct attr_handles h;
    int rc = attr_open(r, name, &h, e);
    if (rc)
        return rc;
    H5T_class_t c = h.ft >= 0 ? H5Tget_class(h.ft) : H5T_NO_CLASS;
    if (h.a < 0 || (c != H5T_INTEGER && c != H5T_FLOAT) ||
        H5Sget_simple_extent_npoints(h.sp) != 1)
        rc = coop_fail(e, COOP_E_FORMAT, "%s: attribute '%s' is not a numeric scalar", r->path,
                       name);
    else if (H5Aread(h.a, mt, out) < 0)
        rc = coop_h5_fail(e, COOP_E_FORMAT, "%s: cannot read attribute '%s'", r->path, name);
    attr_close(&h);
    return rc;
}

int coop_results_read_attr_int(struct coop_results_reader *r, const char *name, int64_t *out,
                               struct coop_err *e)
{
    return read_num_attr(r, name, H5T_NATIVE_INT64, out, e);
}

int coop_results_read_attr_double(struct coop_results_reader *r, const char *name, double *out,
                                  struct coop_err *e)
{
    return read_num_attr(r, name, H5T_NATIVE_DOUBLE, out, e);
}

int coop_results_read_attr_bool(struct coop_results_reader *r, const char *name, bool *out,
                                struct coop_err *e)
{
    struct attr_handles h;
    int rc = attr_open(r, name, &h, e);
    if (rc)
        return rc;
    hid_t mt = coop_h5_bool_type();
    int8_t v = 0;
    /* enum-to-enum conversion matches members by name: FALSE and TRUE only */
    if (h.a < 0 || mt < 0 || H5Tget_class(h.ft) != H5T_ENUM || H5Tget_nmembers(h.ft) != 2 ||
        H5Sget_simple_extent_npoints(h.sp) != 1 || H5Aread(h.a, mt, &v) < 0)
        rc = coop_fail(e, COOP_E_FORMAT, "%s: attribute '%s' is not a boolean scalar", r->path,
                       name);
    *out = v != 0;
    if (mt >= 0)
        H5Tclose(mt);
    attr_close(&h);
    return rc;
}

struct name_list {
    char **v;
    size_t n, cap;
    int oom;
};

static int name_push(struct name_list *l, const char *name)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return l->oom = 1, -1;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = coop_strdup(name)))
        return l->oom = 1, -1;
    l->n++;
    return 0;
}

static herr_t attr_cb(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    return name_push(data, name) ? -1 : 0;
}

int coop_results_attr_names(struct coop_results_reader *r, char ***names, size_t *n,
                            struct coop_err *e)
{
    struct name_list l = {0};
    hsize_t idx = 0;
    if (H5Aiterate2(r->file, H5_INDEX_NAME, H5_ITER_INC, &idx, attr_cb, &l) < 0) {
        coop_results_free_strings(l.v, l.n);
        if (l.oom)
            return coop_fail(e, COOP_E_NOMEM, "results: out of memory");
        return coop_h5_fail(e, COOP_E_FORMAT, "%s: cannot list attributes", r->path);
    }
    *names = l.v;
    *n = l.n;
    return 0;
}

/* ---- datasets ------------------------------------------------------------- */
static herr_t link_cb(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    return name_push(data, name) ? -1 : 0;
}

int coop_results_list(struct coop_results_reader *r, const char *group, char ***names, size_t *n,
                      struct coop_err *e)
{
    *names = NULL;
    *n = 0;
    if (!coop_h5_path_exists(r->file, group))
        return coop_fail(e, COOP_E_NOTFOUND, "%s: no group '%s'", r->path, group);
    hid_t g = H5Gopen2(r->file, group, H5P_DEFAULT);
    if (g < 0)
        return coop_h5_fail(e, COOP_E_FORMAT, "%s: '%s' is not a group", r->path, group);
    struct name_list l = {0};
    hsize_t idx = 0;
    herr_t s = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, link_cb, &l);
    H5Gclose(g);
    if (s < 0) {
        coop_results_free_strings(l.v, l.n);
        if (l.oom)
            return coop_fail(e, COOP_E_NOMEM, "results: out of memory");
        return coop_h5_fail(e, COOP_E_FORMAT, "%s: cannot list group '%s'", r->path, group);
    }
    *names = l.v;
    *n = l.n;
    return 0;
}

/* Element count of dims, refused (COOP_E_FORMAT) when it overflows or when
 * the elements (esize bytes each in the file) could not fit in a file of
 * r->bytes: coop writes no compression, so a larger claim is damage, and it
 * must never size an allocation. */
static int checked_count(struct coop_results_reader *r, const char *path, int rank,
                         const hsize_t *dims, size_t esize, size_t *count, struct coop_err *e)
{
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] > (hsize_t)SIZE_MAX || (dims[i] && n > SIZE_MAX / (size_t)dims[i]))
            return coop_fail(e, COOP_E_FORMAT, "%s: %s: damaged shape (dimension %d is %llu)",
                             r->path, path, i, (unsigned long long)dims[i]);
        n *= (size_t)dims[i];
    }
    if (esize == 0 || n > r->bytes / esize + 1)
        return coop_fail(e, COOP_E_FORMAT, "%s: %s: damaged shape: %zu elements of %zu bytes "
                         "cannot be stored in a file of %zu bytes", r->path, path, n, esize,
                         r->bytes);
    *count = n;
    return 0;
}

/* Shape of dataset d (rank 0 for a scalar) with its element count checked. */
static int dataset_shape(struct coop_results_reader *r, const char *path, hid_t d, int *rank,
                         size_t *shape, size_t *count, struct coop_err *e)
{
    hid_t sp = H5Dget_space(d), ft = H5Dget_type(d);
    H5S_class_t cls = sp >= 0 ? H5Sget_simple_extent_type(sp) : H5S_NO_CLASS;
    int rk = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    size_t esize = ft >= 0 ? H5Tget_size(ft) : 0;
    hsize_t dims[COOP_RESULTS_MAX_RANK];
    int rc = 0;
    if (cls != H5S_SCALAR && cls != H5S_SIMPLE)
        rc = coop_h5_fail(e, COOP_E_FORMAT, "%s: %s: unreadable or empty dataspace", r->path,
                          path);
    else if (rk < 0 || rk > COOP_RESULTS_MAX_RANK)
        rc = coop_h5_fail(e, COOP_E_FORMAT, "%s: %s: unsupported rank %d", r->path, path, rk);
    else if (H5Sget_simple_extent_dims(sp, dims, NULL) < 0)
        rc = coop_h5_fail(e, COOP_E_FORMAT, "%s: %s: unreadable shape", r->path, path);
    else
        rc = checked_count(r, path, rk, dims, esize, count, e);
    for (int i = 0; rc == 0 && i < rk; i++)
        if (shape)
            shape[i] = (size_t)dims[i];
    if (rc == 0 && rank)
        *rank = rk;
    if (ft >= 0)
        H5Tclose(ft);
    if (sp >= 0)
        H5Sclose(sp);
    return rc;
}

/* Opens a dataset and reports its shape and element count. */
static int open_dataset(struct coop_results_reader *r, const char *path, hid_t *d, int *rank,
                        size_t *shape, size_t *count, struct coop_err *e)
{
    if (!coop_h5_path_exists(r->file, path))
        return coop_fail(e, COOP_E_NOTFOUND, "%s: no dataset '%s'", r->path, path);
    *d = H5Dopen2(r->file, path, H5P_DEFAULT);
    if (*d < 0)
        return coop_h5_fail(e, COOP_E_FORMAT, "%s: '%s' is not a dataset", r->path, path);
    int rc = dataset_shape(r, path, *d, rank, shape, count, e);
    if (rc)
        H5Dclose(*d);
    return rc;
}

static int read_numeric(struct coop_results_reader *r, const char *path, hid_t mt, size_t esize,
                        void **data, int *rank, size_t *shape, struct coop_err *e)
{
    hid_t d = H5I_INVALID_HID;
    size_t n;
    *data = NULL;
    int rc = open_dataset(r, path, &d, rank, shape, &n, e);
    if (rc)
        return rc;
    hid_t ft = H5Dget_type(d);
    H5T_class_t c = H5Tget_class(ft);
    H5Tclose(ft);
    void *buf = malloc((n ? n : 1) * esize);
    if (c != H5T_INTEGER && c != H5T_FLOAT)
        rc = coop_fail(e, COOP_E_FORMAT, "%s: %s: not a numeric dataset", r->path, path);
    else if (!buf)
        rc = coop_fail(e, COOP_E_NOMEM, "%s: %s: out of memory", r->path, path);
    else if (n && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        rc = coop_h5_fail(e, COOP_E_FORMAT, "%s: %s: cannot read", r->path, path);
    H5Dclose(d);
    if (rc) {
        free(buf);
        return rc;
    }
    *data = buf;
    return 0;
}

int coop_results_read_f32(struct coop_results_reader *r, const char *path, float **data,
                          int *rank, size_t *shape, struct coop_err *e)
{
    return read_numeric(r, path, H5T_NATIVE_FLOAT, sizeof(float), (void **)data, rank, shape, e);
}

int coop_results_read_f64(struct coop_results_reader *r, const char *path, double **data,
                          int *rank, size_t *shape, struct coop_err *e)
{
    return read_numeric(r, path, H5T_NATIVE_DOUBLE, sizeof(double), (void **)data, rank, shape,
                        e);
}

int coop_results_read_i32(struct coop_results_reader *r, const char *path, int32_t **data,
                          int *rank, size_t *shape, struct coop_err *e)
{
    return read_numeric(r, path, H5T_NATIVE_INT32, sizeof(int32_t), (void **)data, rank, shape,
                        e);
}

int coop_results_read_scalar(struct coop_results_reader *r, const char *path, double *out,
                             struct coop_err *e)
{
    double *v;
    int rank;
    size_t shape[COOP_RESULTS_MAX_RANK], n = 1;
    int rc = coop_results_read_f64(r, path, &v, &rank, shape, e);
    if (rc)
        return rc;
    for (int i = 0; i < rank; i++)
        n *= shape[i];
    if (n != 1)
        rc = coop_fail(e, COOP_E_FORMAT, "%s: %s: expected a scalar, found %zu values", r->path,
                       path, n);
    else
        *out = v[0];
    free(v);
    return rc;
}

/* Every string libhdf5 allocates during one H5Dread. A read that fails
 * part-way leaves the strings it converted in its own conversion buffer, out
 * of H5Dvlen_reclaim's reach; with them recorded here, all are freed on
 * success and failure alike. */
struct vl_arena {
    void **p;
    size_t n, cap;
};

static void *vl_arena_alloc(size_t size, void *ctx)
{
    struct vl_arena *a = ctx;
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 64;
        void **np = realloc(a->p, cap * sizeof *np);
        if (!np)
            return NULL;
        a->p = np;
        a->cap = cap;
    }
    void *m = malloc(size ? size : 1);
    if (m)
        a->p[a->n++] = m;
    return m;
}

static void vl_arena_free(void *m, void *ctx)
{
    struct vl_arena *a = ctx;
    for (size_t i = a->n; m && i-- > 0;)
        if (a->p[i] == m) {
            a->p[i] = a->p[--a->n];
            break;
        }
    free(m);
}

static void vl_arena_release(struct vl_arena *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->p[i]);
    free(a->p);
}

/* H5Dread of the whole dataset d as strings into raw, which stays valid until
 * vl_arena_release(a). Returns H5Dread's status (negative: failed). */
static herr_t read_vlen(hid_t d, hid_t mt, char **raw, struct vl_arena *a)
{
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    herr_t st = -1;
    if (dxpl >= 0 &&
        H5Pset_vlen_mem_manager(dxpl, vl_arena_alloc, a, vl_arena_free, a) >= 0)
        st = H5Dread(d, mt, H5S_ALL, H5S_ALL, dxpl, raw);
    if (dxpl >= 0)
        H5Pclose(dxpl);
    return st;
}

int coop_results_read_strings(struct coop_results_reader *r, const char *path, char ***s,
                              int *rank, size_t *shape, struct coop_err *e)
{
    hid_t d = H5I_INVALID_HID;
    size_t n;
    *s = NULL;
    int rc = open_dataset(r, path, &d, rank, shape, &n, e);
    if (rc)
        return rc;
    hid_t ft = H5Dget_type(d);
    int vl = H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) > 0;
    H5Tclose(ft);
    char **raw = calloc(n ? n : 1, sizeof *raw), **out = calloc(n ? n : 1, sizeof *out);
    hid_t mt = coop_h5_vlstr_type();
    struct vl_arena arena = {0};
    if (!vl)
        rc = coop_fail(e, COOP_E_FORMAT, "%s: %s: not a variable-length string dataset",
                       r->path, path);
    else if (!raw || !out)
        rc = coop_fail(e, COOP_E_NOMEM, "%s: %s: out of memory", r->path, path);
    else if (n && read_vlen(d, mt, raw, &arena) < 0)
        rc = coop_h5_fail(e, COOP_E_FORMAT, "%s: %s: cannot read", r->path, path);
    for (size_t i = 0; !rc && i < n; i++)
        if (!(out[i] = coop_strdup(raw[i] ? raw[i] : "")))
            rc = coop_fail(e, COOP_E_NOMEM, "%s: %s: out of memory", r->path, path);
    vl_arena_release(&arena);
    H5Tclose(mt);
    H5Dclose(d);
    free(raw);
    if (rc) {
        coop_results_free_strings(out, n);
        return rc;
    }
    *s = out;
    return 0;
}
