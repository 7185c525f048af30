/* writer.c: writing one trial's results file. The HDF5 file is built in
 * memory (core driver, no backing store), so libhdf5 never meets a full or
 * failing disk; commit seals the image and writes it to the temporary name
 * with plain write(2), fsyncs it and renames it into place. A failure at any
 * step removes the temporary file and leaves an older final file untouched.
 * Knows nothing of numerics and never prints. */
#include "coop/cpu.h"
#include "coop/results.h"
#include "coop/util.h"
#include "coop_config.h"
#include "coop_revision.h"
#include "h5_internal.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct coop_results_writer {
    hid_t file; /* in memory */
    int fd;     /* the temporary file, written at commit */
    char *path; /* <dir>/<id>.h5 */
    char *tmp;  /* <dir>/.<id>.h5.tmp-<host>-<pid> */
    char *dir;
    char *id;
    bool replace; /* commit may replace a completed file at path */
};

static void writer_free(struct coop_results_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    free(w->path);
    free(w->tmp);
    free(w->dir);
    free(w->id);
    free(w);
}

static int check_trial_id(const char *id, struct coop_err *e)
{
    if (!id || !id[0] || id[0] == '.' || strchr(id, '/'))
        return coop_fail(e, COOP_E_INVAL, "results: invalid trial id '%s' (must be a plain "
                         "file name not starting with '.')", id ? id : "(null)");
    return 0;
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

/* The in-memory HDF5 file, with a user block for the seal. The format stays
 * HDF5's earliest (as before the seal): libhdf5 1.10.8 hands out images of
 * 1.8-format files whose superblock fails its own checksum. Every dataset is
 * one chunk: chunk B-tree nodes of the least rank (1) save 2 KB a dataset. */
static hid_t create_image(void)
{
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE), fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t f = H5I_INVALID_HID;
    if (fcpl >= 0 && fapl >= 0 && H5Pset_userblock(fcpl, COOP_H5_USERBLOCK) >= 0 &&
        H5Pset_istore_k(fcpl, 1) >= 0 &&
        H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0) {
        static unsigned long serial; /* one name per image: see coop_h5_open_image */
        char name[64];
        snprintf(name, sizeof name, "/proc/self/coop-results-new-%lu", ++serial);
        f = H5Fcreate(name, H5F_ACC_EXCL, fcpl, fapl);
    }
    if (fcpl >= 0)
        H5Pclose(fcpl);
    if (fapl >= 0)
        H5Pclose(fapl);
    return f;
}

/* Claims the temporary name (the file stays empty until commit) and creates
 * the image. On failure nothing is left on disk. */
static int create_files(struct coop_results_writer *w, struct coop_err *e)
{
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (w->fd < 0)
        return coop_fail(e, COOP_E_IO, "%s: cannot create results file: %s", w->tmp,
                         strerror(errno));
    w->file = create_image();
    if (w->file >= 0)
        return 0;
    int rc = coop_h5_fail(e, COOP_E_IO, "%s: cannot create results file", w->tmp);
    unlink(w->tmp);
    return rc;
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
    coop_host_name(host, sizeof host);
    w->file = H5I_INVALID_HID;
    w->fd = -1;
    w->replace = replace;
    w->dir = coop_strdup(dir);
    w->id = coop_strdup(trial_id);
    w->path = coop_asprintf("%s/%s.h5", dir, trial_id);
    w->tmp = coop_asprintf("%s/.%s.h5.tmp-%s-%ld", dir, trial_id, host, (long)getpid());
    if (!w->dir || !w->id || !w->path || !w->tmp) {
        writer_free(w);
        return coop_fail(e, COOP_E_NOMEM, "results: out of memory");
    }
    if ((rc = check_not_completed(dir, trial_id, replace, w->path, e))) {
        writer_free(w);
        return rc;
    }
    if ((rc = create_files(w, e))) {
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
    return coop_h5_put_attr(w->file, w->tmp, name, type, value, e);
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

int coop_results_attr_bool(struct coop_results_writer *w, const char *name, bool value,
                           struct coop_err *e)
{
    hid_t t = coop_h5_bool_type();
    if (t < 0)
        return coop_h5_fail(e, COOP_E_IO, "%s: cannot make a bool type", w->tmp);
    int8_t v = value ? 1 : 0;
    int rc = put_attr(w, name, t, &v, e);
    H5Tclose(t);
    return rc;
}

int coop_results_axis(struct coop_results_writer *w, const char *name, const char *value,
                      struct coop_err *e)
{
    return coop_results_axis_typed(w, name, value, COOP_RESULTS_AXIS_STRING, e);
}

/* value as a whole number / real with nothing after it. */
static bool parse_int(const char *value, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    *out = v;
    return value[0] && !*end && errno == 0;
}

static bool parse_real(const char *value, double *out)
{
    char *end;
    *out = strtod(value, &end);
    return value[0] && !*end && isfinite(*out);
}

int coop_results_axis_typed(struct coop_results_writer *w, const char *name, const char *value,
                            enum coop_results_axis_type type, struct coop_err *e)
{
    char key[256];
    if (snprintf(key, sizeof key, "axis_%s", name) >= (int)sizeof key)
        return coop_fail(e, COOP_E_INVAL, "%s: axis name too long", w->tmp);
    const char *v = value ? value : "";
    int64_t iv;
    double dv;
    switch (type) {
    case COOP_RESULTS_AXIS_INT:
        if (!parse_int(v, &iv))
            return coop_fail(e, COOP_E_INVAL, "%s: axis '%s': '%s' is not an integer", w->tmp,
                             name, v);
        return coop_results_attr_int(w, key, iv, e);
    case COOP_RESULTS_AXIS_FLOAT:
        if (!parse_real(v, &dv))
            return coop_fail(e, COOP_E_INVAL, "%s: axis '%s': '%s' is not a finite number",
                             w->tmp, name, v);
        return coop_results_attr_double(w, key, dv, e);
    case COOP_RESULTS_AXIS_BOOL:
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
            return coop_fail(e, COOP_E_INVAL, "%s: axis '%s': '%s' is not true or false",
                             w->tmp, name, v);
        return coop_results_attr_bool(w, key, strcmp(v, "true") == 0, e);
    default:
        return coop_results_attr_str(w, key, v, e);
    }
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
/* HDF5 limits a chunk to 4 GiB; ours stay far below this. */
#define CHUNK_MAX_BYTES ((size_t)1 << 30)

/* How a dataset is stored. Arrays: chunked (whole, unless over
 * CHUNK_MAX_BYTES) with the Fletcher-32 filter, so a damaged value fails its
 * read in any HDF5 reader. Scalars cannot be chunked, empty arrays hold no
 * data and HDF5 filters no variable-length data (string arrays): those keep
 * the default layout, and the seal covers them (as it covers everything). */
static hid_t dataset_layout(hid_t type, int rank, const hsize_t *dims, size_t n)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl < 0 || rank == 0 || n == 0 || H5Tis_variable_str(type) > 0)
        return dcpl;
    size_t bytes = n * H5Tget_size(type);
    hsize_t chunk[COOP_RESULTS_MAX_RANK];
    for (int i = 0; i < rank; i++)
        chunk[i] = dims[i];
    for (int i = 0; i < rank && bytes > CHUNK_MAX_BYTES; i++)
        while (chunk[i] > 1 && bytes > CHUNK_MAX_BYTES) {
            bytes = bytes / chunk[i] * ((chunk[i] + 1) / 2);
            chunk[i] = (chunk[i] + 1) / 2;
        }
    if (H5Pset_chunk(dcpl, rank, chunk) < 0 || H5Pset_fletcher32(dcpl) < 0) {
        H5Pclose(dcpl);
        return H5I_INVALID_HID;
    }
    return dcpl;
}

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
    hid_t dcpl = dataset_layout(filetype, rank, dims, n);
    if (dcpl < 0)
        return coop_h5_fail(e, COOP_E_IO, "%s: %s: cannot create dataset", w->tmp, path);
    int rc = coop_h5_write(w->file, w->tmp, path, memtype, filetype, data, rank, dims, dcpl, e);
    H5Pclose(dcpl);
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

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* ---- commit / abort ------------------------------------------------------- */
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

/* Takes the finished file out of HDF5 and closes it. The image HDF5 hands
 * out starts at its superblock: the user block (declared at creation) goes in
 * front of it, holding the seal. */
static int take_image(struct coop_results_writer *w, unsigned char **img, size_t *n,
                      struct coop_err *e)
{
    ssize_t len = H5Fget_file_image(w->file, NULL, 0);
    unsigned char *buf = len > 0 ? calloc((size_t)len + COOP_H5_USERBLOCK, 1) : NULL;
    if (len > 0 && !buf)
        return coop_fail(e, COOP_E_NOMEM, "%s: out of memory (%zd bytes)", w->tmp, len);
    if (!buf || H5Fget_file_image(w->file, buf + COOP_H5_USERBLOCK, (size_t)len) != len) {
        free(buf);
        return coop_h5_fail(e, COOP_E_IO, "%s: cannot take the file image", w->tmp);
    }
    herr_t cr = H5Fclose(w->file);
    w->file = H5I_INVALID_HID;
    if (cr < 0) {
        free(buf);
        return coop_h5_fail(e, COOP_E_IO, "%s: cannot close", w->tmp);
    }
    *n = (size_t)len + COOP_H5_USERBLOCK;
    coop_h5_seal(buf, *n);
    *img = buf;
    return 0;
}

/* Puts the temporary file under the final name. Without replace, a completed
 * file there is never replaced, also one another process committed after
 * begin: link() only makes a new name; a failed or damaged file there is
 * renamed over (claims keep two writers of one trial apart, docs/cluster.md). */
static int place(struct coop_results_writer *w, struct coop_err *e)
{
    if (!w->replace) {
        if (link(w->tmp, w->path) == 0) {
            unlink(w->tmp);
            return 0;
        }
        if (errno == EEXIST && check_not_completed(w->dir, w->id, false, w->path, e) != 0)
            return COOP_E_INVAL;
    }
    if (rename(w->tmp, w->path) != 0)
        return coop_fail(e, COOP_E_IO, "%s: cannot rename to %s: %s", w->tmp, w->path,
                         strerror(errno));
    return 0;
}

/* write, fsync, close, place: the file only gets its final name whole. */
static int store(struct coop_results_writer *w, const unsigned char *img, size_t n,
                 struct coop_err *e)
{
    const char *what = "write";
    int bad = coop_write_all(w->fd, img, n) != 0;
    if (!bad && (what = "fsync", fsync(w->fd) != 0))
        bad = 1;
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0 && !bad) {
        what = "close";
        bad = 1;
    }
    if (bad)
        return coop_fail(e, COOP_E_IO, "%s: cannot %s the results file (%zu bytes): %s", w->tmp,
                         what, n, strerror(errno));
    return place(w, e);
}

int coop_results_commit(struct coop_results_writer *w, const char *status,
                        const char *error_message, struct coop_err *e)
{
    unsigned char *img = NULL;
    size_t n = 0;
    int rc = finish_attrs(w, status, error_message, e);
    if (!rc)
        rc = take_image(w, &img, &n, e);
    if (!rc)
        rc = store(w, img, n, e);
    free(img);
    if (rc) {
        coop_results_abort(w);
        return rc;
    }
    fsync_dir(w->dir); /* best effort: some filesystems refuse */
    writer_free(w);
    return 0;
}

void coop_results_abort(struct coop_results_writer *w)
{
    if (!w)
        return;
    if (w->file >= 0)
        H5Fclose(w->file); /* in memory: nothing to flush, cannot fail on a full disk */
    unlink(w->tmp);
    writer_free(w);
}
