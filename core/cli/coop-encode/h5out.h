/* core/cli/coop-encode/h5out.h: the small HDF5 writer coop-encode needs:
 * whole datasets and string attributes in one new file. */
#ifndef COOP_ENCODE_H5OUT_H
#define COOP_ENCODE_H5OUT_H

#include "coop/common.h"
#include <stddef.h>
#include <stdint.h>

struct h5out;
int h5out_create(struct h5out **out, const char *path, struct coop_err *e);
/* 2-D datasets [rows, cols]. */
int h5out_int32(struct h5out *h, const char *name, const int32_t *data, size_t rows,
                size_t cols, struct coop_err *e);
int h5out_float(struct h5out *h, const char *name, const float *data, size_t rows, size_t cols,
                struct coop_err *e);
/* 1-D dataset of variable-length UTF-8 strings. */
int h5out_strings(struct h5out *h, const char *name, const char *const *s, size_t n,
                  struct coop_err *e);
/* A string attribute on the root group. */
int h5out_attr(struct h5out *h, const char *name, const char *value, struct coop_err *e);
/* Closes; on success renames the temporary file onto the path. ok = 0
 * discards the file. */
int h5out_close(struct h5out *h, int ok, struct coop_err *e);

#endif
