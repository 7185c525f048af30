/* coop/results.h: the HDF5 results store. One file per trial,
 * <dir>/<trial_id>.h5, built in memory, sealed (SHA-256 and size in a 512-byte
 * user block), written under a temporary name
 * (<dir>/.<trial_id>.h5.tmp-<host>-<pid>) and renamed atomically once complete,
 * so a killed run or a full disk never leaves a file that looks complete, and
 * a file damaged later is refused. The schema (every attribute and dataset) and
 * the seal are documented in docs/results.md.
 * This layer knows nothing of numerics: it stores what the caller hands it.
 * HDF5 here is the serial library, which is not thread-safe: use the store from
 * one thread at a time. No function prints; HDF5's automatic error printing is
 * switched off and its failures become coop_err messages naming file and path. */
#ifndef COOP_RESULTS_H
#define COOP_RESULTS_H

#include "coop/common.h"
#include <stdbool.h>

/* Schema version written as the root attribute "schema_version". Bumped when a
 * dataset or attribute changes meaning; readers check it. */
#define COOP_RESULTS_SCHEMA_VERSION 1
#define COOP_RESULTS_MAX_RANK 8

/* ---- writer ----------------------------------------------------------------- */
struct coop_results_writer;

/* Starts a trial file: mkdir -p dir, create the temporary file and write the
 * root attributes trial_id, schema_version, coop_version, git_revision, host,
 * start_time (ISO 8601 UTC) and status = "running". trial_id must be a plain
 * file name (no '/', not starting with '.').
 * If <dir>/<trial_id>.h5 already holds a completed trial and replace is false,
 * refuses with COOP_E_INVAL ("already completed"); a failed or unreadable old
 * file is replaced by the commit (a re-run only skips completed trials).
 * Without replace, the commit also refuses (COOP_E_INVAL, "already
 * completed") when another process completed the trial meanwhile: the final
 * name is made with link(2), never renamed over a completed file.
 * On success *w owns the open file; release it with exactly one of
 * coop_results_commit or coop_results_abort. */
COOP_API int coop_results_begin(const char *dir, const char *trial_id, bool replace,
                                struct coop_results_writer **w, struct coop_err *e);

/* Root attributes (created or overwritten). Strings are variable-length UTF-8
 * scalars; integers int64; doubles float64. */
COOP_API int coop_results_attr_str(struct coop_results_writer *w, const char *name,
                                   const char *value, struct coop_err *e);
COOP_API int coop_results_attr_int(struct coop_results_writer *w, const char *name,
                                   int64_t value, struct coop_err *e);
COOP_API int coop_results_attr_double(struct coop_results_writer *w, const char *name,
                                      double value, struct coop_err *e);
/* Boolean root attribute stored as h5py stores a bool (an int8 enum with
 * FALSE = 0 and TRUE = 1), so numpy and pandas read it as a bool. */
COOP_API int coop_results_attr_bool(struct coop_results_writer *w, const char *name, bool value,
                                    struct coop_err *e);
/* Convenience for a swept axis: root attribute "axis_<name>" = value (a string). */
COOP_API int coop_results_axis(struct coop_results_writer *w, const char *name,
                               const char *value, struct coop_err *e);
/* How coop_results_axis_typed stores an axis value given as canonical text. */
enum coop_results_axis_type {
    COOP_RESULTS_AXIS_STRING = 0,
    COOP_RESULTS_AXIS_INT = 1,   /* int64, from a whole number ("16") */
    COOP_RESULTS_AXIS_FLOAT = 2, /* float64 ("0.02") */
    COOP_RESULTS_AXIS_BOOL = 3   /* bool as above, from "true" or "false" */
};
/* "axis_<name>" = value stored as type; a value that is not of its type is
 * COOP_E_INVAL naming the axis, and nothing is written. */
COOP_API int coop_results_axis_typed(struct coop_results_writer *w, const char *name,
                                     const char *value, enum coop_results_axis_type type,
                                     struct coop_err *e);

/* Plugin identity: root attributes "<role>" = name and "<role>_version" =
 * version, role being "backbone", "dataset" or "method". */
COOP_API int coop_results_plugin(struct coop_results_writer *w, const char *role,
                                 const char *name, const char *version, struct coop_err *e);

/* Datasets at a '/'-separated path ("eval/test/per_class_accuracy"); missing
 * groups are created. rank 0 writes a scalar (shape may be NULL). Data are
 * row-major. File types: f32 -> IEEE float32 LE, f64 -> IEEE float64 LE,
 * i32 -> int32 LE; strings -> variable-length UTF-8. An existing dataset at the
 * same path is an error (COOP_E_INVAL). */
COOP_API int coop_results_write_f32(struct coop_results_writer *w, const char *path,
                                    const float *data, int rank, const size_t *shape,
                                    struct coop_err *e);
COOP_API int coop_results_write_f64(struct coop_results_writer *w, const char *path,
                                    const double *data, int rank, const size_t *shape,
                                    struct coop_err *e);
COOP_API int coop_results_write_i32(struct coop_results_writer *w, const char *path,
                                    const int32_t *data, int rank, const size_t *shape,
                                    struct coop_err *e);
COOP_API int coop_results_write_strings(struct coop_results_writer *w, const char *path,
                                        const char *const *s, int rank, const size_t *shape,
                                        struct coop_err *e);
/* Scalar shorthands. */
COOP_API int coop_results_write_scalar_f64(struct coop_results_writer *w, const char *path,
                                           double v, struct coop_err *e);
COOP_API int coop_results_write_scalar_i32(struct coop_results_writer *w, const char *path,
                                           int32_t v, struct coop_err *e);

/* Everything measured on one evaluation target, written as group
 * eval/<target>/ (see docs/results.md). K classes; confusion is [K,K] with
 * rows = true label. All pointers are borrowed. */
struct coop_results_eval {
    const char *target;             /* "test" for the source split, else target name */
    double accuracy;                /* percent */
    double macro_f1;                /* percent */
    int num_classes;                /* K */
    const float *per_class_accuracy;/* [K] percent */
    const int32_t *confusion;       /* [K,K] */
    const char *const *class_names; /* [K] */
    int64_t n_samples;
};
COOP_API int coop_results_write_eval(struct coop_results_writer *w,
                                     const struct coop_results_eval *ev, struct coop_err *e);

/* The base-to-new protocol's H = 2·base·new / (base + new) of two accuracies
 * (percent), as base2new/harmonic_mean and the report compute it; 0 when
 * both are 0. */
static inline double coop_harmonic_mean(double base, double novel)
{
    return base + novel > 0 ? 2.0 * base * novel / (base + novel) : 0.0;
}

/* Training curve as group train/curve/ with 1-D datasets epoch (int32),
 * loss, accuracy (percent), lr (float64), all [n_epochs]. */
COOP_API int coop_results_write_curve(struct coop_results_writer *w, const int32_t *epoch,
                                      const double *loss, const double *accuracy,
                                      const double *lr, size_t n_epochs, struct coop_err *e);

/* Finishes the trial: writes status ("completed" or "failed"), error (when
 * error_message is non-NULL) and end_time, seals the in-memory file, writes it
 * to the temporary name, fsyncs it, puts it at <dir>/<trial_id>.h5 (linked
 * when no file is there; atomically renamed over an older failed or damaged
 * file, over a completed one only with begin's replace) and fsyncs the folder. Always frees w,
 * also on failure (a full disk: COOP_E_IO naming the temporary file and the
 * system error; then the temporary file is removed, no final file appears and
 * an older one is untouched). */
COOP_API int coop_results_commit(struct coop_results_writer *w, const char *status,
                                 const char *error_message, struct coop_err *e);
/* Closes and deletes the temporary file, frees w. NULL is a no-op. */
COOP_API void coop_results_abort(struct coop_results_writer *w);
/* Final and temporary paths (owned by w). */
COOP_API const char *coop_results_writer_path(const struct coop_results_writer *w);
COOP_API const char *coop_results_writer_tmp_path(const struct coop_results_writer *w);

/* ---- trial state (skip / resume) -------------------------------------------- */
enum coop_trial_state { COOP_TRIAL_MISSING = 0, COOP_TRIAL_COMPLETED = 1, COOP_TRIAL_FAILED = 2 };

/* State of <dir>/<trial_id>.h5. For a failed trial the stored error message is
 * copied (truncated) into err_msg when err_msg is non-NULL. A file that cannot
 * be opened as HDF5, is damaged (see coop_results_open) or has no valid status
 * returns COOP_E_FORMAT with a message naming the file, and *st stays
 * COOP_TRIAL_MISSING: never completed. A file that could not be read at all
 * (an I/O error, no memory, no child process for the check) returns COOP_E_IO
 * or COOP_E_NOMEM: its state is unknown, so a caller must not replace it.
 * Temporary files never count. */
COOP_API int coop_results_state(const char *dir, const char *trial_id,
                                enum coop_trial_state *st, char *err_msg, size_t len,
                                struct coop_err *e);

/* Removes temporary files (".*.h5.tmp-<host>-<pid>") in dir left by processes
 * of this host that no longer run. Never touches completed files, files of
 * other hosts or of live processes. *removed (may be NULL) gets the count. */
COOP_API int coop_results_clean_stale(const char *dir, int *removed, struct coop_err *e);

/* ---- reader ------------------------------------------------------------------ */
struct coop_results_reader;

/* Opens a results file read-only. The file is read whole (at most 1 GiB) and
 * opened from memory. A sealed file must match its seal (size, SHA-256); a file
 * from before the seal is first read in full in a child process, so that a
 * crash or run-away of libhdf5 on damaged bytes ends the child only. Damage of
 * either kind: COOP_E_FORMAT naming the file; a missing or unreadable file:
 * COOP_E_IO. Every shape read later is checked against the file's size before
 * it sizes an allocation. *r is freed with coop_results_close. */
COOP_API int coop_results_open(const char *file, struct coop_results_reader **r,
                               struct coop_err *e);
COOP_API void coop_results_close(struct coop_results_reader *r);
COOP_API const char *coop_results_reader_path(const struct coop_results_reader *r);

/* true when a root attribute / an object (group or dataset) at path exists. */
COOP_API bool coop_results_has_attr(struct coop_results_reader *r, const char *name);
COOP_API bool coop_results_has(struct coop_results_reader *r, const char *path);

/* Root attributes. *out is malloc'd (free()). Missing -> COOP_E_NOTFOUND. */
COOP_API int coop_results_read_attr_str(struct coop_results_reader *r, const char *name,
                                        char **out, struct coop_err *e);
COOP_API int coop_results_read_attr_int(struct coop_results_reader *r, const char *name,
                                        int64_t *out, struct coop_err *e);
COOP_API int coop_results_read_attr_double(struct coop_results_reader *r, const char *name,
                                           double *out, struct coop_err *e);
/* A boolean attribute (an enum with members FALSE and TRUE, as written by
 * coop_results_attr_bool or h5py); anything else is COOP_E_FORMAT. */
COOP_API int coop_results_read_attr_bool(struct coop_results_reader *r, const char *name,
                                         bool *out, struct coop_err *e);
/* Names of all root attributes, in creation-independent (alphabetical) order.
 * *names is a malloc'd array of malloc'd strings: free with
 * coop_results_free_strings(*names, *n). */
COOP_API int coop_results_attr_names(struct coop_results_reader *r, char ***names, size_t *n,
                                     struct coop_err *e);

/* Datasets. *data is malloc'd (free()); *rank and shape[0..rank) receive the
 * shape (shape must hold COOP_RESULTS_MAX_RANK entries). Values are converted
 * to the requested type by HDF5 (e.g. read_f64 of a float32 dataset). */
COOP_API int coop_results_read_f32(struct coop_results_reader *r, const char *path,
                                   float **data, int *rank, size_t *shape, struct coop_err *e);
COOP_API int coop_results_read_f64(struct coop_results_reader *r, const char *path,
                                   double **data, int *rank, size_t *shape, struct coop_err *e);
COOP_API int coop_results_read_i32(struct coop_results_reader *r, const char *path,
                                   int32_t **data, int *rank, size_t *shape, struct coop_err *e);
/* Scalar (or single-element) dataset as double. */
COOP_API int coop_results_read_scalar(struct coop_results_reader *r, const char *path,
                                      double *out, struct coop_err *e);
/* String dataset: *s is an array of malloc'd strings (row-major), count = the
 * product of the shape; free with coop_results_free_strings. */
COOP_API int coop_results_read_strings(struct coop_results_reader *r, const char *path,
                                       char ***s, int *rank, size_t *shape, struct coop_err *e);
/* Names of the members of a group (alphabetical), e.g. the targets under
 * "eval". Free with coop_results_free_strings. */
COOP_API int coop_results_list(struct coop_results_reader *r, const char *group, char ***names,
                               size_t *n, struct coop_err *e);
COOP_API void coop_results_free_strings(char **s, size_t n);

/* ---- plain HDF5 files (core/results/h5file.c) ------------------------------
 * For outputs that are not trial results (coop-encode's): whole datasets and
 * string attributes in one new file, written under a temporary name
 * (<path>.tmp<pid>) and renamed onto path by coop_h5file_close(ok = true);
 * ok = false (or a failure) removes it. Datasets are row-major at a
 * '/'-separated path (missing groups created); f32 -> float32, i32 -> int32,
 * strings -> a 1-D dataset of variable-length UTF-8. Attributes are
 * fixed-length UTF-8 strings on the root group. Messages name path and the
 * dataset or attribute. coop_h5file_close always frees h. */
struct coop_h5file;
COOP_API int coop_h5file_create(struct coop_h5file **h, const char *path, struct coop_err *e);
COOP_API int coop_h5file_write_f32(struct coop_h5file *h, const char *path, const float *data,
                                   int rank, const size_t *shape, struct coop_err *e);
COOP_API int coop_h5file_write_i32(struct coop_h5file *h, const char *path,
                                   const int32_t *data, int rank, const size_t *shape,
                                   struct coop_err *e);
COOP_API int coop_h5file_write_strings(struct coop_h5file *h, const char *path,
                                       const char *const *s, size_t n, struct coop_err *e);
COOP_API int coop_h5file_attr_str(struct coop_h5file *h, const char *name, const char *value,
                                  struct coop_err *e);
COOP_API int coop_h5file_close(struct coop_h5file *h, bool ok, struct coop_err *e);

#endif
