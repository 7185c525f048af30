/* image_internal.h: helpers shared by the files of core/image (resampling
 * coefficients, the per-path resizers, the decoders). Not installed. */
#ifndef COOP_IMAGE_INTERNAL_H
#define COOP_IMAGE_INTERNAL_H

#include "coop/image.h"

/* Pillow's precomputed filter taps for one axis. */
struct coop_resample_coeffs {
    int ksize, out_size;
    int *bounds;    /* [out_size, 2]: first tap, tap count */
    double *kk;     /* [out_size, ksize] normalised weights */
    int32_t *kk8;   /* [out_size, ksize] fixed-point weights (8-bit path) */
};
int coop_resample_coeffs(struct coop_resample_coeffs *c, int in_size, float in0, float in1,
                         int out_size);
void coop_resample_coeffs_free(struct coop_resample_coeffs *c);

/* out [oh, ow] from in [ih, iw], Pillow's "I" (32-bit) resample path. */
int coop_image_resize_i32(int32_t *out, int ow, int oh, const int32_t *in, int iw, int ih,
                          const float *box, struct coop_err *e);
/* Pillow's NEAREST resize, out [oh, ow, ch]. */
int coop_image_resize_nearest(uint8_t *out, int ow, int oh, const uint8_t *in, int iw, int ih,
                              int ch, const float *box, struct coop_err *e);

/* Decoders: fill *img (empty on failure), name used in messages. */
int coop_image_decode_jpeg(struct coop_image *img, const uint8_t *buf, size_t len,
                           const char *name, struct coop_err *e);
int coop_image_decode_png(struct coop_image *img, const uint8_t *buf, size_t len,
                          const char *name, struct coop_err *e);

/* Largest accepted width * height (decompression-bomb guard), also for
 * resize outputs. */
/* Pillow raises DecompressionBombError above 2 * MAX_IMAGE_PIXELS. */
#define COOP_IMAGE_MAX_PIXELS ((size_t)178956970)

#endif
