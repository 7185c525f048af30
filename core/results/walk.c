/* walk.c: coop_results_read_everything, a read of every root attribute,
 * every group listing and every dataset of a results file through the reader
 * API, which is what the child process of an unsealed file runs (contain.c).
 * A failure here means the file cannot be read as a whole; a value of a type
 * the reader does not serve (a compound dataset written by another tool) is
 * left unread, as no caller could ask for it either. Never prints. */
#include "h5_internal.h"
#include "coop/results.h"
#include "coop/util.h"
#include <stdlib.h>
#include <string.h>

/* Objects of one file; far more than any results file holds. */
#define WALK_MAX_OBJECTS 100000

struct objects {
    char **path;
    H5O_type_t *type;
    size_t n, cap;
    int oom, too_many;
};

static herr_t visit_cb(hid_t obj, const char *name, const H5O_info_t *info, void *data)
{
    struct objects *o = data;
    if (strcmp(name, ".") == 0)
        return 0;
    if (o->n == WALK_MAX_OBJECTS)
        return o->too_many = 1, -1;
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 64;
        char **p = realloc(o->path, cap * sizeof *p);
        if (p)
            o->path = p;
        H5O_type_t *t = p ? realloc(o->type, cap * sizeof *t) : NULL;
        if (!t)
            return o->oom = 1, -1;
        o->type = t;
        o->cap = cap;
    }
    if (!(o->path[o->n] = coop_strdup(name)))
        return o->oom = 1, -1;
    o->type[o->n++] = info->type;
    return 0;
}

static int list_objects(struct coop_results_reader *r, struct objects *o, struct coop_err *e)
{
    const char *path = coop_results_reader_path(r);
    herr_t s = H5Ovisit2(coop_results_reader_hid(r), H5_INDEX_NAME, H5_ITER_INC, visit_cb, o,
                         H5O_INFO_BASIC);
    if (o->oom)
        return coop_fail(e, COOP_E_NOMEM, "results: out of memory");
    if (o->too_many)
        return coop_fail(e, COOP_E_FORMAT, "%s: more than %d objects (damaged file?)", path,
                         WALK_MAX_OBJECTS);
    if (s < 0)
        return coop_h5_fail(e, COOP_E_FORMAT, "%s: cannot list its groups and datasets", path);
    return 0;
}

static int read_attr(struct coop_results_reader *r, const char *name, struct coop_err *e)
{
    hid_t a = H5Aopen(coop_results_reader_hid(r), name, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    H5T_class_t c = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    if (c == H5T_NO_CLASS)
        return coop_h5_fail(e, COOP_E_FORMAT, "%s: attribute '%s' is unreadable",
                            coop_results_reader_path(r), name);
    char *s = NULL;
    double v;
    int rc = 0;
    if (c == H5T_STRING)
        rc = coop_results_read_attr_str(r, name, &s, e);
    else if (c == H5T_INTEGER || c == H5T_FLOAT)
        rc = coop_results_read_attr_double(r, name, &v, e);
    free(s);
    return rc;
}

static int read_attrs(struct coop_results_reader *r, struct coop_err *e)
{
    char **names;
    size_t n;
    int rc = coop_results_attr_names(r, &names, &n, e);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = read_attr(r, names[i], e);
    if (names)
        coop_results_free_strings(names, n);
    return rc;
}

static int read_dataset(struct coop_results_reader *r, const char *path, struct coop_err *e)
{
    hid_t d = H5Dopen2(coop_results_reader_hid(r), path, H5P_DEFAULT);
    hid_t t = d >= 0 ? H5Dget_type(d) : H5I_INVALID_HID;
    H5T_class_t c = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    bool vl = c == H5T_STRING && H5Tis_variable_str(t) > 0;
    if (t >= 0)
        H5Tclose(t);
    if (d >= 0)
        H5Dclose(d);
    if (c == H5T_NO_CLASS)
        return coop_h5_fail(e, COOP_E_FORMAT, "%s: dataset '%s' is unreadable",
                            coop_results_reader_path(r), path);
    int rank, rc = 0;
    size_t shape[COOP_RESULTS_MAX_RANK], n = 1;
    if (c == H5T_INTEGER || c == H5T_FLOAT) {
        double *v = NULL;
        rc = coop_results_read_f64(r, path, &v, &rank, shape, e);
        free(v);
    } else if (vl) { /* fixed-length string datasets are not served by the reader */
        char **s = NULL;
        rc = coop_results_read_strings(r, path, &s, &rank, shape, e);
        for (int i = 0; rc == 0 && i < rank; i++)
            n *= shape[i];
        if (rc == 0)
            coop_results_free_strings(s, n);
    }
    return rc;
}

int coop_results_read_everything(struct coop_results_reader *r, struct coop_err *e)
{
    struct objects o = {0};
    int rc = read_attrs(r, e);
    if (rc == 0)
        rc = list_objects(r, &o, e);
    for (size_t i = 0; rc == 0 && i < o.n; i++) {
        if (o.type[i] == H5O_TYPE_GROUP) {
            char **names = NULL;
            size_t k = 0;
            rc = coop_results_list(r, o.path[i], &names, &k, e);
            coop_results_free_strings(names, k);
        } else if (o.type[i] == H5O_TYPE_DATASET) {
            rc = read_dataset(r, o.path[i], e);
        }
    }
    coop_results_free_strings(o.path, o.n);
    free(o.type);
    return rc;
}
