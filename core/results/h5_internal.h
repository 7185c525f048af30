/* h5_internal.h: helpers shared by the results store's writer, reader and
 * state code (HDF5 error capture, string types), and the small HDF5 layer
 * (h5file.c) that the store, the plain-file writer and the tests' fixture
 * readers share. Internal: not installed. */
#ifndef COOP_RESULTS_H5_INTERNAL_H
#define COOP_RESULTS_H5_INTERNAL_H

#include "coop/common.h"
#include "coop/results.h"
#include <hdf5.h>
#include <stdbool.h>
#include <stddef.h>

/* Switches off HDF5's automatic error printing (idempotent). */
void coop_h5_quiet(void);
/* Like coop_fail, appending the innermost HDF5 error description if any. */
int coop_h5_fail(struct coop_err *e, int code, const char *fmt, ...) COOP_PRINTF(3, 4);
/* Variable-length UTF-8 string type; caller closes with H5Tclose. */
hid_t coop_h5_vlstr_type(void);
/* h5py's bool: an int8 enum FALSE = 0, TRUE = 1; caller closes with H5Tclose
 * (negative on failure). */
hid_t coop_h5_bool_type(void);
/* Reads a scalar string attribute of obj (any string type) into a malloc'd
 * string. Returns 0, COOP_E_NOTFOUND or COOP_E_FORMAT (no message set). */
int coop_h5_attr_str(hid_t obj, const char *name, char **out);
/* true when every component of a relative path exists. */
bool coop_h5_path_exists(hid_t file, const char *path);
/* ISO 8601 UTC "YYYY-MM-DDTHH:MM:SSZ" of now. */
void coop_h5_iso_now(char out[32]);

/* ---- h5file.c: whole datasets and scalar attributes ------------------------------
 * where names the file in messages. */
/* Creates the dataset at path under loc (missing groups created) with
 * filetype and layout dcpl (H5P_DEFAULT: contiguous) and writes data (memtype)
 * into it; rank 0 is a scalar (dims unused). */
int coop_h5_write(hid_t loc, const char *where, const char *path, hid_t memtype,
                  hid_t filetype, const void *data, int rank, const hsize_t *dims, hid_t dcpl,
                  struct coop_err *e);
/* Scalar attribute name on obj (replacing one of the same name). */
int coop_h5_put_attr(hid_t obj, const char *where, const char *name, hid_t type,
                     const void *value, struct coop_err *e);
/* The whole dataset at path as memtype (esize bytes an element) into a
 * coop_alloc'd *data (coop_free); its element count, *rank and dims[0..rank)
 * when those are not NULL.
 * COOP_E_NOTFOUND when absent, COOP_E_FORMAT when unreadable. */
int coop_h5_read(hid_t loc, const char *where, const char *path, hid_t memtype, size_t esize,
                 void **data, size_t *count, int *rank, hsize_t dims[COOP_RESULTS_MAX_RANK],
                 struct coop_err *e);
/* Integer attribute of obj: 0, COOP_E_NOTFOUND or COOP_E_FORMAT (no message). */
int coop_h5_attr_i64(hid_t obj, const char *name, int64_t *out);

/* Shorthands for fixture readers (tests): the whole dataset as float / int
 * (coop_free; *n its element count, may be NULL), NULL when absent or
 * unreadable; an integer attribute, fallback when absent or unreadable. */
float *coop_h5_floats(hid_t loc, const char *path, size_t *n);
int *coop_h5_ints(hid_t loc, const char *path, size_t *n);
long coop_h5_attr_long(hid_t obj, const char *name, long fallback);

/* ---- seal.c ------------------------------------------------------------------ */
/* The user block that holds the seal (HDF5 requires a power of two >= 512). */
#define COOP_H5_USERBLOCK 512
/* Results files larger than this are refused (they are KBs to a few MBs). */
#define COOP_H5_MAX_FILE ((size_t)1 << 30)
/* Writes the seal of img[COOP_H5_USERBLOCK..n) into img[0..COOP_H5_USERBLOCK). */
void coop_h5_seal(unsigned char *img, size_t n);
/* Reads path whole into a malloc'd *img. A file with its HDF5 superblock
 * after the user block is sealed (*sealed true) and must match its seal; one
 * with the superblock at byte 0 was written before the seal. Anything else
 * is COOP_E_FORMAT naming path (COOP_E_IO when unreadable). */
int coop_h5_load(const char *path, unsigned char **img, size_t *n, bool *sealed,
                 struct coop_err *e);
/* Opens an image read-only from memory (the bytes are copied). Returns the
 * file id or a negative id. */
hid_t coop_h5_open_image(const void *img, size_t n);

/* ---- reader.c, walk.c --------------------------------------------------------- */
struct coop_results_reader;
hid_t coop_results_reader_hid(const struct coop_results_reader *r);
/* Reads every root attribute, group listing and dataset the reader API
 * serves; 0, or the first failure. */
int coop_results_read_everything(struct coop_results_reader *r, struct coop_err *e);

/* ---- contain.c --------------------------------------------------------------- */
/* A child is killed after this long (a complete read takes milliseconds);
 * $COOP_RESULTS_CHECK_SECONDS (1-3600) overrides it. */
#define COOP_H5_CHECK_SECONDS 10
typedef int (*coop_h5_check_fn)(void *ctx, struct coop_err *e);
/* Runs fn(ctx) in a forked child whose address space may grow by budget
 * bytes. 0 when it returned 0; COOP_E_FORMAT naming path when it failed (its
 * message), crashed or ran out of time; COOP_E_IO when no child could be
 * started. */
int coop_h5_check_contained(const char *path, coop_h5_check_fn fn, void *ctx, size_t budget,
                            struct coop_err *e);

#endif
