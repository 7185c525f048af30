/* writer.c: writing one trial's results file: temporary name, attributes,
 * datasets, then fsync + atomic rename on commit. Knows nothing of numerics and
 * never prints. */
#include "coop/cpu.h"
#include "coop/results.h"
#include "coop/util.h"
#include "coop_config.h"
#include "h5_internal.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct coop_results_writer {
    hid_t file;
    char *path; /* <dir>/<id>.h5 */
    char *tmp;  /* <dir>/.<id>.h5.tmp-<host>-<pid> */
    char *dir;
};

static void writer_free(struct coop_results_writer *w)
{
    if (!w)
        return;
    free(w->path);
    free(w->tmp);
    free(w->dir);
    free(w);
}

static int check_trial_id(const char *id, struct coop_err *e)
{
    if (!id || !id[0] || id[0] == '.' || strchr(id, '/'))
        return coop_fail(e, COOP_E_INVAL, "results: invalid trial id '%s' (must be a plain "
                         "file name not starting with '.')", id ? id : "(null)");
    return 0;
}

static void host_name(char *out, size_t len)
{
    if (gethostname(out, len) != 0 || !out[0])
        snprintf(out, len, "localhost");
    out[len - 1] = 0;
    for (char *p = out; *p; p++)
        if (*p == '/' || *p == '-')
            *p = '_'; /* the pid is parsed after the last '-' */
}

/* Refuses when a completed trial already sits at the final path. */
static int check_not_completed(const char *dir, const char *id, bool replace, const char *path,
                               struct coop_err *e)
{
    if (replace || !coop_file_exists(path))
        return 0;
    enum coop_trial_state st;
    struct coop_err e2;
    if (coop_results_state(dir, id, &st, NULL, 0, &e2) == 0 && st == COOP_TRIAL_COMPLETED)
        return coop_fail(e, COOP_E_INVAL, "%s: trial already completed; refusing to overwrite "
                         "(ask to replace it, e.g. --force)", path);
    return 0;
}

static int write_start_attrs(struct coop_results_writer *w, const char *id, const char *host,
                             struct coop_err *e)
{
    char now[32];
    coop_h5_iso_now(now);
    int rc;
    if ((rc = coop_results_attr_str(w, "trial_id", id, e)) ||
        (rc = coop_results_attr_int(w, "schema_version", COOP_RESULTS_SCHEMA_VERSION, e)) ||
        (rc = coop_results_attr_str(w, "coop_version", COOP_VERSION, e)) ||
        (rc = coop_results_attr_str(w, "git_revision", COOP_GIT_REVISION, e)) ||
        (rc = coop_results_attr_str(w, "host", host, e)) ||
        (rc = coop_results_attr_str(w, "blas_core", coop_blas_core_name(), e)) ||
        (rc = coop_results_attr_str(w, "blas_core_choice",
                                    coop_blas_choice_name(coop_blas_core_choice()), e)) ||
        (rc = coop_results_attr_str(w, "start_time", now, e)) ||
        (rc = coop_results_attr_str(w, "status", "running", e)))
        return rc;
    return 0;
}

int coop_results_begin(const char *dir, const char *trial_id, bool replace,
                       struct coop_results_writer **out, struct coop_err *e)
{
    *out = NULL;
    int rc = check_trial_id(trial_id, e);
    if (rc)
        return rc;
    coop_h5_quiet();
    if ((rc = coop_mkdirs(dir, e)))
        return rc;
    struct coop_results_writer *w = calloc(1, sizeof *w);
    if (!w)
        return coop_fail(e, COOP_E_NOMEM, "results: out of memory");
    char host[256];
    host_name(host, sizeof host);
    w->file = H5I_INVALID_HID;
    w->dir = coop_strdup(dir);
    w->path = coop_asprintf("%s/%s.h5", dir, trial_id);
    w->tmp = coop_asprintf("%s/.%s.h5.tmp-%s-%ld", dir, trial_id, host, (long)getpid());
    if (!w->dir || !w->path || !w->tmp) {
        writer_free(w);
        return coop_fail(e, COOP_E_NOMEM, "results: out of memory");
    }
    if ((rc = check_not_completed(dir, trial_id, replace, w->path, e))) {
        writer_free(w);
        return rc;
    }
    w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w->file < 0) {
        rc = coop_h5_fail(e, COOP_E_IO, "%s: cannot create results file", w->tmp);
        writer_free(w);
        return rc;
    }
    if ((rc = write_start_attrs(w, trial_id, host, e))) {
        coop_results_abort(w);
        return rc;
    }
    *out = w;
    return 0;
}

const char *coop_results_writer_path(const struct coop_results_writer *w)
{
    return w->path;
}

const char *coop_results_writer_tmp_path(const struct coop_results_writer *w)
{
    return w->tmp;
}

/* ---- attributes ---------------------------------------------------------- */
static int put_attr(struct coop_results_writer *w, const char *name, hid_t type,
                    const void *value, struct coop_err *e)
{
    if (!name || !name[0])
        return coop_fail(e, COOP_E_INVAL, "%s: empty attribute name", w->tmp);
    if (H5Aexists(w->file, name) > 0 && H5Adelete(w->file, name) < 0)
        return coop_h5_fail(e, COOP_E_IO, "%s: cannot replace attribute '%s'", w->tmp, name);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(w->file, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (a < 0 || H5Awrite(a, type, value) < 0)
        rc = coop_h5_fail(e, COOP_E_IO, "%s: cannot write attribute '%s'", w->tmp, name);
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

int coop_results_attr_str(struct coop_results_writer *w, const char *name, const char *value,
                          struct coop_err *e)
{
    hid_t t = coop_h5_vlstr_type();
    const char *v = value ? value : "";
    int rc = put_attr(w, name, t, &v, e);
    H5Tclose(t);
    return rc;
}

int coop_results_attr_int(struct coop_results_writer *w, const char *name, int64_t value,
                          struct coop_err *e)
{
    return put_attr(w, name, H5T_NATIVE_INT64, &value, e);
}

int coop_results_attr_double(struct coop_results_writer *w, const char *name, double value,
                             struct coop_err *e)
{
    return put_attr(w, name, H5T_NATIVE_DOUBLE, &value, e);
}

int coop_results_axis(struct coop_results_writer *w, const char *name, const char *value,
                      struct coop_err *e)
{
    char key[256];
    if (snprintf(key, sizeof key, "axis_%s", name) >= (int)sizeof key)
        return coop_fail(e, COOP_E_INVAL, "%s: axis name too long", w->tmp);
    return coop_results_attr_str(w, key, value, e);
}

int coop_results_plugin(struct coop_results_writer *w, const char *role, const char *name,
                        const char *version, struct coop_err *e)
{
    char key[256];
    if (!role || snprintf(key, sizeof key, "%s_version", role) >= (int)sizeof key)
        return coop_fail(e, COOP_E_INVAL, "%s: invalid plugin role", w->tmp);
    int rc = coop_results_attr_str(w, role, name, e);
    return rc ? rc : coop_results_attr_str(w, key, version, e);
}

/* ---- datasets ------------------------------------------------------------ */
static int write_dataset(struct coop_results_writer *w, const char *path, hid_t memtype,
                         hid_t filetype, const void *data, int rank, const size_t *shape,
                         struct coop_err *e)
{
    if (!path || !path[0] || path[0] == '/' || strlen(path) >= 1000)
        return coop_fail(e, COOP_E_INVAL, "%s: invalid dataset path '%s'", w->tmp,
                         path ? path : "(null)");
    if (rank < 0 || rank > COOP_RESULTS_MAX_RANK || (rank > 0 && !shape))
        return coop_fail(e, COOP_E_INVAL, "%s: %s: invalid rank %d", w->tmp, path, rank);
    if (coop_h5_path_exists(w->file, path))
        return coop_fail(e, COOP_E_INVAL, "%s: %s: dataset already written", w->tmp, path);
    hsize_t dims[COOP_RESULTS_MAX_RANK];
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        dims[i] = shape[i];
        n *= shape[i];
    }
    hid_t sp = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(w->file, path, filetype, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (d < 0)
        rc = coop_h5_fail(e, COOP_E_IO, "%s: %s: cannot create dataset", w->tmp, path);
    else if (n > 0 && H5Dwrite(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        rc = coop_h5_fail(e, COOP_E_IO, "%s: %s: cannot write dataset", w->tmp, path);
    if (d >= 0)
        H5Dclose(d);
    H5Pclose(lcpl);
    H5Sclose(sp);
    return rc;
}

int coop_results_write_f32(struct coop_results_writer *w, const char *path, const float *data,
                           int rank, const size_t *shape, struct coop_err *e)
{
    return write_dataset(w, path, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, data, rank, shape, e);
}

int coop_results_write_f64(struct coop_results_writer *w, const char *path, const double *data,
                           int rank, const size_t *shape, struct coop_err *e)
{
    return write_dataset(w, path, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, data, rank, shape, e);
}

int coop_results_write_i32(struct coop_results_writer *w, const char *path,
                           const int32_t *data, int rank, const size_t *shape,
                           struct coop_err *e)
{
    return write_dataset(w, path, H5T_NATIVE_INT32, H5T_STD_I32LE, data, rank, shape, e);
}

int coop_results_write_strings(struct coop_results_writer *w, const char *path,
                               const char *const *s, int rank, const size_t *shape,
                               struct coop_err *e)
{
    size_t n = 1;
    for (int i = 0; i < rank && shape; i++)
        n *= shape[i];
    for (size_t i = 0; i < n; i++)
        if (!s[i])
            return coop_fail(e, COOP_E_INVAL, "%s: %s: string %zu is NULL", w->tmp, path, i);
    hid_t t = coop_h5_vlstr_type();
    int rc = write_dataset(w, path, t, t, s, rank, shape, e);
    H5Tclose(t);
    return rc;
}

int coop_results_write_scalar_f64(struct coop_results_writer *w, const char *path, double v,
                                  struct coop_err *e)
{
    return coop_results_write_f64(w, path, &v, 0, NULL, e);
}

int coop_results_write_scalar_i32(struct coop_results_writer *w, const char *path, int32_t v,
                                  struct coop_err *e)
{
    return coop_results_write_i32(w, path, &v, 0, NULL, e);
}

int coop_results_write_eval(struct coop_results_writer *w, const struct coop_results_eval *ev,
                            struct coop_err *e)
{
    if (!ev->target || !ev->target[0] || strchr(ev->target, '/') || ev->num_classes < 0)
        return coop_fail(e, COOP_E_INVAL, "%s: invalid evaluation target '%s'", w->tmp,
                         ev->target ? ev->target : "(null)");
    char p[1024];
    size_t k = (size_t)ev->num_classes, kk[2] = {k, k};
    int rc;
#define P(name) (snprintf(p, sizeof p, "eval/%s/" name, ev->target), p)
    if ((rc = coop_results_write_scalar_f64(w, P("accuracy"), ev->accuracy, e)) ||
        (rc = coop_results_write_scalar_f64(w, P("macro_f1"), ev->macro_f1, e)) ||
        (rc = coop_results_write_i32(w, P("n_samples"), &(int32_t){(int32_t)ev->n_samples}, 0,
                                     NULL, e)))
        return rc;
    if (ev->per_class_accuracy &&
        (rc = coop_results_write_f32(w, P("per_class_accuracy"), ev->per_class_accuracy, 1, &k,
                                     e)))
        return rc;
    if (ev->confusion && (rc = coop_results_write_i32(w, P("confusion"), ev->confusion, 2, kk, e)))
        return rc;
    if (ev->class_names &&
        (rc = coop_results_write_strings(w, P("class_names"), ev->class_names, 1, &k, e)))
        return rc;
#undef P
    return 0;
}

int coop_results_write_curve(struct coop_results_writer *w, const int32_t *epoch,
                             const double *loss, const double *accuracy, const double *lr,
                             size_t n, struct coop_err *e)
{
    int rc;
    if ((rc = coop_results_write_i32(w, "train/curve/epoch", epoch, 1, &n, e)) ||
        (rc = coop_results_write_f64(w, "train/curve/loss", loss, 1, &n, e)) ||
        (rc = coop_results_write_f64(w, "train/curve/accuracy", accuracy, 1, &n, e)) ||
        (rc = coop_results_write_f64(w, "train/curve/lr", lr, 1, &n, e)))
        return rc;
    return 0;
}

/* ---- commit / abort ------------------------------------------------------- */
static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

static int finish_attrs(struct coop_results_writer *w, const char *status, const char *err,
                        struct coop_err *e)
{
    if (!status || (strcmp(status, "completed") != 0 && strcmp(status, "failed") != 0))
        return coop_fail(e, COOP_E_INVAL, "%s: status must be \"completed\" or \"failed\", "
                         "not '%s'", w->tmp, status ? status : "(null)");
    char now[32];
    coop_h5_iso_now(now);
    int rc;
    if ((rc = coop_results_attr_str(w, "end_time", now, e)) ||
        (err && (rc = coop_results_attr_str(w, "error", err, e))) ||
        (rc = coop_results_attr_str(w, "status", status, e)))
        return rc;
    if (H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0)
        return coop_h5_fail(e, COOP_E_IO, "%s: cannot flush", w->tmp);
    return 0;
}

int coop_results_commit(struct coop_results_writer *w, const char *status,
                        const char *error_message, struct coop_err *e)
{
    int rc = finish_attrs(w, status, error_message, e);
    if (rc) {
        coop_results_abort(w);
        return rc;
    }
    herr_t cr = H5Fclose(w->file);
    w->file = H5I_INVALID_HID;
    if (cr < 0)
        rc = coop_h5_fail(e, COOP_E_IO, "%s: cannot close", w->tmp);
    else if (fsync_path(w->tmp, O_RDONLY) != 0)
        rc = coop_fail(e, COOP_E_IO, "%s: fsync failed: %s", w->tmp, strerror(errno));
    else if (rename(w->tmp, w->path) != 0)
        rc = coop_fail(e, COOP_E_IO, "%s: cannot rename to %s: %s", w->tmp, w->path,
                       strerror(errno));
    if (rc) {
        coop_results_abort(w);
        return rc;
    }
    fsync_path(w->dir, O_RDONLY | O_DIRECTORY); /* best effort: some filesystems refuse */
    writer_free(w);
    return 0;
}

void coop_results_abort(struct coop_results_writer *w)
{
    if (!w)
        return;
    if (w->file >= 0)
        H5Fclose(w->file);
    unlink(w->tmp);
    writer_free(w);
}
