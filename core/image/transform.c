/* transform.c: the CLIP / CoOp input transforms on top of Pillow-exact
 * resizing: torchvision's Resize(size) output size, CenterCrop offsets
 * (round half to even), RandomResizedCrop.get_params (10 attempts, then the
 * centre-crop fallback), crop-then-resize, horizontal flip, ToTensor +
 * Normalize in float32. Random draws come from struct coop_rng only. */
#include "image_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

const float coop_clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
const float coop_clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

void coop_image_resize_dims(int *ow, int *oh, int w, int h, int size)
{
    int s = w <= h ? w : h, l = w <= h ? h : w;
    int nl = (int)((double)size * l / s); /* Python int(size * long / short) */
    *ow = w <= h ? size : nl;
    *oh = w <= h ? nl : size;
}

/* rgb [size, size, 3] = convert("RGB") of the size x size window at (left, top)
 * of img, mirrored when flip is set. */
static void window_to_rgb(uint8_t *out, const struct coop_image *img, int left, int top,
                          int size, int flip)
{
    if (img->mode == COOP_IMG_RGB && !flip) {
        for (int y = 0; y < size; y++)
            memcpy(out + (size_t)y * size * 3, img->data + ((size_t)(top + y) * img->w + left) * 3,
                   (size_t)size * 3);
        return;
    }
    struct coop_image row = *img;
    row.w = 1;
    row.h = 1;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            size_t src = (size_t)(top + y) * img->w + (size_t)(left + x);
            if (img->data16)
                row.data16 = img->data16 + src;
            else
                row.data = img->data + src * img->channels;
            int ox = flip ? size - 1 - x : x;
            coop_image_to_rgb8(out + ((size_t)y * size + ox) * 3, &row);
        }
}

int coop_image_clip_eval_rgb8(uint8_t *out, const struct coop_image *img, int size,
                              struct coop_err *e)
{
    if (size <= 0 || img->w <= 0 || img->h <= 0)
        return coop_fail(e, COOP_E_INVAL, "eval transform: bad size %d for %dx%d image", size,
                         img->w, img->h);
    int ow, oh;
    coop_image_resize_dims(&ow, &oh, img->w, img->h, size);
    struct coop_image r;
    int rc = coop_image_resize(&r, img, ow, oh, NULL, e);
    if (rc)
        return rc;
    /* torchvision: int(round((H - size) / 2.0)), Python's round half to even. */
    int top = (int)nearbyint((oh - size) / 2.0), left = (int)nearbyint((ow - size) / 2.0);
    window_to_rgb(out, &r, left, top, size, 0);
    coop_image_free(&r);
    return COOP_OK;
}

void coop_image_rrc_params(struct coop_crop_box *box, int width, int height, double scale_lo,
                           double scale_hi, double ratio_lo, double ratio_hi,
                           struct coop_rng *rng)
{
    double area = (double)width * height;
    double lr0 = log(ratio_lo), lr1 = log(ratio_hi);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * (scale_lo + (scale_hi - scale_lo) * coop_rng_uniform(rng));
        double ar = exp(lr0 + (lr1 - lr0) * coop_rng_uniform(rng));
        int w = (int)nearbyint(sqrt(target * ar)), h = (int)nearbyint(sqrt(target / ar));
        if (w > 0 && w <= width && h > 0 && h <= height) {
            box->top = (int)coop_rng_below(rng, (uint64_t)(height - h + 1));
            box->left = (int)coop_rng_below(rng, (uint64_t)(width - w + 1));
            box->h = h;
            box->w = w;
            return;
        }
    }
    double in_ratio = (double)width / height;
    int w = width, h = height;
    if (in_ratio < ratio_lo)
        h = (int)nearbyint(w / ratio_lo);
    else if (in_ratio > ratio_hi)
        w = (int)nearbyint(h * ratio_hi);
    box->top = (height - h) / 2;
    box->left = (width - w) / 2;
    box->h = h;
    box->w = w;
}

/* Pillow's crop of an in-bounds box into a new image of the same mode. */
static int crop_image(struct coop_image *out, const struct coop_image *img,
                      const struct coop_crop_box *b, struct coop_err *e)
{
    int rc = coop_image_alloc(out, img->mode, b->w, b->h, e);
    if (rc)
        return rc;
    memcpy(out->palette, img->palette, sizeof out->palette);
    out->palette_size = img->palette_size;
    for (int y = 0; y < b->h; y++) {
        size_t src = ((size_t)(b->top + y) * img->w + b->left) * img->channels;
        size_t dst = (size_t)y * b->w * img->channels, n = (size_t)b->w * img->channels;
        if (img->data16)
            memcpy(out->data16 + dst, img->data16 + src, n * sizeof(uint16_t));
        else
            memcpy(out->data + dst, img->data + src, n);
    }
    return COOP_OK;
}

int coop_image_resized_crop_rgb8(uint8_t *out, const struct coop_image *img,
                                 const struct coop_crop_box *b, int size, int flip,
                                 struct coop_err *e)
{
    if (size <= 0 || b->w <= 0 || b->h <= 0 || b->left < 0 || b->top < 0 ||
        b->left + b->w > img->w || b->top + b->h > img->h)
        return coop_fail(e, COOP_E_INVAL, "resized crop: box %dx%d+%d+%d outside %dx%d image",
                         b->w, b->h, b->left, b->top, img->w, img->h);
    struct coop_image c, r;
    int rc = crop_image(&c, img, b, e);
    if (rc)
        return rc;
    rc = coop_image_resize(&r, &c, size, size, NULL, e);
    coop_image_free(&c);
    if (rc)
        return rc;
    window_to_rgb(out, &r, 0, 0, size, flip);
    coop_image_free(&r);
    return COOP_OK;
}

int coop_image_clip_train_rgb8(uint8_t *out, const struct coop_image *img, int size,
                               double scale_lo, struct coop_rng *rng, struct coop_err *e)
{
    struct coop_crop_box b;
    coop_image_rrc_params(&b, img->w, img->h, scale_lo, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng);
    int flip = coop_rng_uniform(rng) < 0.5;
    return coop_image_resized_crop_rgb8(out, img, &b, size, flip, e);
}

void coop_image_normalize(float *out, const uint8_t *rgb, int S, const float mean[3],
                          const float std[3])
{
    size_t n = (size_t)S * S;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < n; i++)
            out[c * n + i] = ((float)rgb[i * 3 + c] / 255.0f - mean[c]) / std[c];
}

int coop_image_load_clip_eval(float *out, const char *path, int size, const float mean[3],
                              const float std[3], struct coop_err *e)
{
    uint8_t *rgb = malloc((size_t)size * size * 3);
    if (!rgb)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    struct coop_image img;
    memset(&img, 0, sizeof img);
    int rc = coop_image_load(&img, path, e);
    if (rc == 0)
        rc = coop_image_clip_eval_rgb8(rgb, &img, size, e);
    if (rc == 0)
        coop_image_normalize(out, rgb, size, mean, std);
    coop_image_free(&img);
    free(rgb);
    return rc;
}
