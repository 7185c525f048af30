/* coop/safetensors.h: read and write safetensors files (the checkpoint format
 * of open_clip and Hugging Face). The reader maps the file read-only, checks
 * the whole header before anything is used (header length vs file size,
 * offsets inside the data buffer, offsets == shape * dtype size, no overlaps
 * or holes) and converts F32/F16/BF16/F64 tensors to float32 on request.
 * Errors name the file and the tensor or byte offset. Nothing outside the
 * file is ever read. */
#ifndef COOP_SAFETENSORS_H
#define COOP_SAFETENSORS_H

#include "coop/common.h"
#include <stdbool.h>

#define COOP_ST_MAX_DIMS 8

enum coop_st_dtype {
    COOP_ST_BOOL, COOP_ST_U8, COOP_ST_I8, COOP_ST_I16, COOP_ST_U16, COOP_ST_F16, COOP_ST_BF16,
    COOP_ST_I32, COOP_ST_U32, COOP_ST_F32, COOP_ST_I64, COOP_ST_U64, COOP_ST_F64
};

struct coop_st_tensor {
    const char *name;
    enum coop_st_dtype dtype;
    int ndim;
    int64_t shape[COOP_ST_MAX_DIMS];
    uint64_t begin, end;          /* relative to the data buffer */
    const uint8_t *data;          /* begin of the bytes in the mapping */
};

struct coop_safetensors;

/* Opens and validates path. Free with coop_safetensors_close. */
COOP_API int coop_safetensors_open(struct coop_safetensors **out, const char *path,
                                   struct coop_err *e);
COOP_API void coop_safetensors_close(struct coop_safetensors *st);
COOP_API size_t coop_safetensors_count(const struct coop_safetensors *st);
/* Tensors in name order; NULL past the end. */
COOP_API const struct coop_st_tensor *coop_safetensors_at(const struct coop_safetensors *st,
                                                          size_t i);
/* Tensor by exact name, or NULL. */
COOP_API const struct coop_st_tensor *coop_safetensors_find(const struct coop_safetensors *st,
                                                            const char *name);
/* "__metadata__" value by key, or NULL. */
COOP_API const char *coop_safetensors_meta(const struct coop_safetensors *st, const char *key);
COOP_API const char *coop_safetensors_path(const struct coop_safetensors *st);
COOP_API const char *coop_st_dtype_name(enum coop_st_dtype d);
COOP_API size_t coop_st_numel(const struct coop_st_tensor *t);

/* dst[numel] = float32 of tensor name. If shape != NULL the tensor must have
 * exactly ndim dims equal to shape (error "expected [..] got [..]").
 * COOP_E_NOTFOUND when missing, COOP_E_FORMAT on a wrong shape,
 * COOP_E_UNSUPPORTED on an integer dtype. */
COOP_API int coop_safetensors_read_f32(const struct coop_safetensors *st, const char *name,
                                       const int64_t *shape, int ndim, float *dst,
                                       struct coop_err *e);
/* Converts one tensor (any float dtype) into dst[numel]. */
COOP_API int coop_st_tensor_to_f32(const struct coop_safetensors *st,
                                   const struct coop_st_tensor *t, float *dst,
                                   struct coop_err *e);

/* Writes n F32 tensors: names[i], ndims[i], shapes[i][0..ndims[i]), data[i]
 * (row-major, numel floats). metadata: NULL or NULL-terminated key, value
 * pairs. Written to a temporary name and renamed, so a crash never leaves a
 * half file under path. Names must be unique. */
COOP_API int coop_safetensors_write(const char *path, size_t n, const char *const *names,
                                    const int *ndims, const int64_t *const *shapes,
                                    const float *const *data, const char *const *metadata,
                                    struct coop_err *e);

/* Half-precision conversions (exact, round-to-nearest-even for the f32->f16). */
COOP_API float coop_f16_to_f32(uint16_t h);
COOP_API float coop_bf16_to_f32(uint16_t h);
COOP_API uint16_t coop_f32_to_f16(float f);
COOP_API uint16_t coop_f32_to_bf16(float f);

#endif
