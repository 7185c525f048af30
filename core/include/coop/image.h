/* coop/image.h: image decoding (JPEG via libjpeg-turbo, PNG via libpng) into
 * the native mode Pillow would open the file in, and the CLIP / CoOp input
 * pipeline reproduced bit for bit: Pillow's bicubic resize (antialiased,
 * 8-bit fixed point), torchvision's shorter-side Resize, CenterCrop,
 * RandomResizedCrop and horizontal flip, and normalisation to float CHW.
 * Nothing here prints or exits; every fallible call returns a coop_status and
 * fills struct coop_err with a message naming the file.
 * All functions are reentrant (no hidden global state). Reference facts:
 * docs/preprocessing.md. */
#ifndef COOP_IMAGE_H
#define COOP_IMAGE_H

#include "coop/common.h"
#include "coop/util.h"

/* Pixel modes, named after Pillow's (Pillow 9.4 semantics). Appended only. */
enum coop_image_mode {
    COOP_IMG_L,    /* 8-bit grey, 1 channel */
    COOP_IMG_LA,   /* 8-bit grey + alpha, 2 channels */
    COOP_IMG_P,    /* 8-bit palette index, 1 channel, palette[] holds RGB triples */
    COOP_IMG_RGB,  /* 3 channels */
    COOP_IMG_RGBA, /* 4 channels */
    COOP_IMG_I16,  /* 16-bit grey (Pillow mode "I"), data16 [h, w] */
    COOP_IMG_CMYK, /* 4 channels, Pillow's CMYK values (JPEG ones already inverted) */
    COOP_IMG_1     /* bilevel (Pillow mode "1"), 1 channel holding 0 or 255 */
};

/* An image in its native mode. Owns data / data16 (free with coop_image_free).
 * Exactly one of data (8-bit modes, [h, w, channels] row-major) and data16
 * (COOP_IMG_I16, [h, w]) is non-NULL. */
struct coop_image {
    int w, h, channels;
    enum coop_image_mode mode;
    uint8_t *data;
    uint16_t *data16;
    uint8_t palette[256 * 3]; /* COOP_IMG_P: RGB triples; unused entries are (i, i, i) */
    int palette_size;         /* entries the file defined (COOP_IMG_P), else 0 */
};

/* Pillow's name for a mode ("L", "RGBA", "I", ...). */
COOP_API const char *coop_image_mode_name(enum coop_image_mode m);

/* Decode a JPEG or PNG file, chosen by its first bytes (not the extension).
 * On success *img owns new buffers; on failure *img is left empty (safe to
 * free) and e names the file. Truncated or corrupt data is an error
 * (COOP_E_FORMAT), including libjpeg's "premature end of data" warning. */
COOP_API int coop_image_load(struct coop_image *img, const char *path, struct coop_err *e);
/* Same from memory; name is only used in messages. buf stays the caller's. */
COOP_API int coop_image_load_memory(struct coop_image *img, const uint8_t *buf, size_t len,
                                    const char *name, struct coop_err *e);
/* Frees the buffers and zeroes *img. NULL-safe, idempotent. */
COOP_API void coop_image_free(struct coop_image *img);
/* Allocates an image of the given mode and size (pixels zeroed, palette the
 * grey ramp). For in-memory datasets and tests. */
COOP_API int coop_image_alloc(struct coop_image *img, enum coop_image_mode mode, int w, int h,
                              struct coop_err *e);
/* Copies rgb [h, w, 3] into a new RGB image. */
COOP_API int coop_image_from_rgb8(struct coop_image *img, const uint8_t *rgb, int w, int h,
                                  struct coop_err *e);
/* Pillow's im.convert("RGB"): out [h, w, 3]. Alpha is dropped (no compositing),
 * palette looked up, grey replicated, "I" clamped to 0..255, CMYK via
 * Pillow's formula. */
COOP_API void coop_image_to_rgb8(uint8_t *out, const struct coop_image *img);
/* In place: replace *img by its RGB conversion (Dassl's read_image does this
 * before any transform; CLIP's preprocess converts after resizing). */
COOP_API int coop_image_convert_rgb(struct coop_image *img, struct coop_err *e);

/* Pillow's Image.resize(size, BICUBIC, box) of an 8-bit image with any channel
 * count: out [oh, ow, channels], in [ih, iw, channels]. box = {x0, y0, x1, y1}
 * in source pixels (NULL = whole image). */
COOP_API int coop_image_resize_bicubic(uint8_t *out, int ow, int oh, const uint8_t *in, int iw,
                                       int ih, int channels, const float *box,
                                       struct coop_err *e);
/* Pillow's resize of an image in any mode, with Pillow's per-mode rules (P and
 * 1: nearest; LA/RGBA: premultiplied alpha; I: 32-bit path; else bicubic).
 * out gets a new image in the same mode. */
COOP_API int coop_image_resize(struct coop_image *out, const struct coop_image *in, int ow, int oh,
                               const float *box, struct coop_err *e);

/* torchvision's Resize(size) output size: shorter side -> size,
 * longer = int(size * long / short). */
COOP_API void coop_image_resize_dims(int *ow, int *oh, int w, int h, int size);

/* CLIP's eval transform without normalisation: Resize(size, bicubic) on the
 * native mode, CenterCrop(size), convert("RGB"). out [size, size, 3]. */
COOP_API int coop_image_clip_eval_rgb8(uint8_t *out, const struct coop_image *img, int size,
                                       struct coop_err *e);

/* torchvision RandomResizedCrop.get_params (scale, ratio as torchvision). */
struct coop_crop_box {
    int top, left, h, w;
};
COOP_API void coop_image_rrc_params(struct coop_crop_box *box, int w, int h, double scale_lo,
                                    double scale_hi, double ratio_lo, double ratio_hi,
                                    struct coop_rng *rng);
/* Crop box then resize it to size x size (Pillow bicubic, per-mode rules),
 * optionally mirrored, then convert("RGB"). out [size, size, 3]. */
COOP_API int coop_image_resized_crop_rgb8(uint8_t *out, const struct coop_image *img,
                                          const struct coop_crop_box *box, int size, int flip,
                                          struct coop_err *e);
/* CoOp's train transform without normalisation: RandomResizedCrop(size,
 * scale scale_lo..1 (CoOp: 0.08), ratio 3/4..4/3, bicubic) +
 * RandomHorizontalFlip(0.5), all draws from rng in that order.
 * out [size, size, 3]. */
COOP_API int coop_image_clip_train_rgb8(uint8_t *out, const struct coop_image *img, int size,
                                        double scale_lo, struct coop_rng *rng,
                                        struct coop_err *e);

/* CLIP's normalisation constants. */
COOP_API extern const float coop_clip_mean[3];
COOP_API extern const float coop_clip_std[3];
/* out [3, S, S] = (rgb [S, S, 3] / 255 - mean) / std, computed in float. */
COOP_API void coop_image_normalize(float *out, const uint8_t *rgb, int S, const float mean[3],
                                   const float std[3]);

/* The file at path (JPEG or PNG) through CLIP's eval transform and
 * normalisation: out [3, size, size]. Errors name the file. */
COOP_API int coop_image_load_clip_eval(float *out, const char *path, int size,
                                       const float mean[3], const float std[3],
                                       struct coop_err *e);

/* Writes an 8-bit PNG (channels 1, 2, 3 or 4). */
COOP_API int coop_image_write_png(const char *path, const uint8_t *pix, int w, int h, int channels,
                                  struct coop_err *e);

#endif
