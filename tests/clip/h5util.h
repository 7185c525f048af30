/* h5util.h: minimal HDF5 readers for golden fixtures in tests (whole datasets
 * into coop_alloc'd buffers, integer attributes). */
#ifndef COOP_TEST_H5UTIL_H
#define COOP_TEST_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>

/* Reads dataset `name` (relative to loc) as float32 / int32; *n receives the
 * element count. NULL if absent. */
float *h5_floats(hid_t loc, const char *name, size_t *n);
int *h5_ints(hid_t loc, const char *name, size_t *n);
/* Integer attribute of loc; returns fallback if absent. */
long h5_attr_int(hid_t loc, const char *name, long fallback);

#endif
