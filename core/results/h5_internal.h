/* h5_internal.h: helpers shared by the results store's writer, reader and
 * state code (HDF5 error capture, string types). Internal: not installed. */
#ifndef COOP_RESULTS_H5_INTERNAL_H
#define COOP_RESULTS_H5_INTERNAL_H

#include "coop/common.h"
#include <hdf5.h>
#include <stdbool.h>

/* Switches off HDF5's automatic error printing (idempotent). */
void coop_h5_quiet(void);
/* Like coop_fail, appending the innermost HDF5 error description if any. */
int coop_h5_fail(struct coop_err *e, int code, const char *fmt, ...) COOP_PRINTF(3, 4);
/* Variable-length UTF-8 string type; caller closes with H5Tclose. */
hid_t coop_h5_vlstr_type(void);
/* Reads a scalar string attribute of obj (any string type) into a malloc'd
 * string. Returns 0, COOP_E_NOTFOUND or COOP_E_FORMAT (no message set). */
int coop_h5_attr_str(hid_t obj, const char *name, char **out);
/* true when every component of a relative path exists. */
bool coop_h5_path_exists(hid_t file, const char *path);
/* ISO 8601 UTC "YYYY-MM-DDTHH:MM:SSZ" of now. */
void coop_h5_iso_now(char out[32]);

#endif
