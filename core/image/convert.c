/* convert.c: Pillow 9.4's mode conversions the CLIP pipeline touches
 * (Convert.c: X -> RGB, RGBA <-> RGBa, LA <-> La) and Image.resize's
 * per-mode dispatch: P and 1 resize with NEAREST; LA and RGBA are
 * premultiplied, resized, un-premultiplied; I takes the 32-bit path. */
#include "image_internal.h"
#include <stdlib.h>
#include <string.h>

/* Pillow's MULDIV255: a * b / 255 rounded, in integers. */
static inline uint8_t muldiv255(unsigned a, unsigned b)
{
    unsigned t = a * b + 128;
    return (uint8_t)(((t >> 8) + t) >> 8);
}

static inline uint8_t clip8i(int v)
{
    return (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : v);
}

void coop_image_to_rgb8(uint8_t *out, const struct coop_image *img)
{
    size_t n = (size_t)img->w * img->h;
    const uint8_t *in = img->data;
    for (size_t i = 0; i < n; i++, out += 3) {
        switch (img->mode) {
        case COOP_IMG_L:
        case COOP_IMG_1:
            out[0] = out[1] = out[2] = in[i];
            break;
        case COOP_IMG_LA:
            out[0] = out[1] = out[2] = in[2 * i];
            break;
        case COOP_IMG_P:
            memcpy(out, img->palette + 3 * in[i], 3);
            break;
        case COOP_IMG_RGB:
            memcpy(out, in + 3 * i, 3);
            break;
        case COOP_IMG_RGBA:
            memcpy(out, in + 4 * i, 3);
            break;
        case COOP_IMG_I16:
            out[0] = out[1] = out[2] = clip8i(img->data16[i]);
            break;
        case COOP_IMG_CMYK: {
            const uint8_t *p = in + 4 * i;
            int nk = 255 - p[3];
            for (int c = 0; c < 3; c++)
                out[c] = clip8i(nk - muldiv255(p[c], (unsigned)nk));
            break;
        }
        }
    }
}

int coop_image_convert_rgb(struct coop_image *img, struct coop_err *e)
{
    if (img->mode == COOP_IMG_RGB)
        return COOP_OK;
    struct coop_image rgb;
    int rc = coop_image_alloc(&rgb, COOP_IMG_RGB, img->w, img->h, e);
    if (rc)
        return rc;
    coop_image_to_rgb8(rgb.data, img);
    coop_image_free(img);
    *img = rgb;
    return COOP_OK;
}

/* RGBA -> RGBa (ch 4) or LA -> La (ch 2): colour channels times alpha. */
static void premultiply(uint8_t *p, size_t n, int ch)
{
    for (size_t i = 0; i < n; i++, p += ch) {
        unsigned a = p[ch - 1];
        for (int c = 0; c < ch - 1; c++)
            p[c] = muldiv255(p[c], a);
    }
}

/* RGBa -> RGBA, La -> LA: Pillow leaves alpha 0 and 255 pixels untouched. */
static void unpremultiply(uint8_t *p, size_t n, int ch)
{
    for (size_t i = 0; i < n; i++, p += ch) {
        int a = p[ch - 1];
        if (a == 255 || a == 0)
            continue;
        for (int c = 0; c < ch - 1; c++)
            p[c] = clip8i((255 * p[c]) / a);
    }
}

static int resize_alpha(struct coop_image *out, const struct coop_image *in, const float *box,
                        struct coop_err *e)
{
    size_t n = (size_t)in->w * in->h;
    uint8_t *tmp = malloc(n * in->channels);
    if (!tmp)
        return coop_fail(e, COOP_E_NOMEM, "resize: out of memory");
    memcpy(tmp, in->data, n * in->channels);
    premultiply(tmp, n, in->channels);
    int rc = coop_image_resize_bicubic(out->data, out->w, out->h, tmp, in->w, in->h,
                                       in->channels, box, e);
    free(tmp);
    if (!rc)
        unpremultiply(out->data, (size_t)out->w * out->h, out->channels);
    return rc;
}

static int resize_i16(struct coop_image *out, const struct coop_image *in, const float *box,
                      struct coop_err *e)
{
    size_t n = (size_t)in->w * in->h, m = (size_t)out->w * out->h;
    int32_t *src = malloc(n * sizeof(int32_t)), *dst = malloc(m * sizeof(int32_t));
    int rc = COOP_E_NOMEM;
    if (src && dst) {
        for (size_t i = 0; i < n; i++)
            src[i] = in->data16[i];
        rc = coop_image_resize_i32(dst, out->w, out->h, src, in->w, in->h, box, e);
    } else {
        coop_fail(e, rc, "resize: out of memory");
    }
    /* Pillow's I holds int32; I16 keeps 0..65535, which is all convert("RGB")
     * can tell apart (it clamps to 0..255), so clamping here loses nothing. */
    for (size_t i = 0; !rc && i < m; i++)
        out->data16[i] = (uint16_t)(dst[i] < 0 ? 0 : dst[i] > 65535 ? 65535 : dst[i]);
    free(src);
    free(dst);
    return rc;
}

int coop_image_resize(struct coop_image *out, const struct coop_image *in, int ow, int oh,
                      const float *box, struct coop_err *e)
{
    int rc = coop_image_alloc(out, in->mode, ow, oh, e);
    if (rc)
        return rc;
    memcpy(out->palette, in->palette, sizeof out->palette);
    out->palette_size = in->palette_size;
    /* Image.resize returns a plain copy for an identity request, before any
     * premultiplication (which would be lossy). */
    if (ow == in->w && oh == in->h &&
        (!box || (box[0] == 0 && box[1] == 0 && box[2] == ow && box[3] == oh))) {
        size_t n = (size_t)ow * oh * in->channels;
        if (in->data16)
            memcpy(out->data16, in->data16, n * sizeof(uint16_t));
        else
            memcpy(out->data, in->data, n);
        return COOP_OK;
    }
    switch (in->mode) {
    case COOP_IMG_P:
    case COOP_IMG_1:
        rc = coop_image_resize_nearest(out->data, ow, oh, in->data, in->w, in->h, 1, box, e);
        break;
    case COOP_IMG_LA:
    case COOP_IMG_RGBA:
        rc = resize_alpha(out, in, box, e);
        break;
    case COOP_IMG_I16:
        rc = resize_i16(out, in, box, e);
        break;
    default:
        rc = coop_image_resize_bicubic(out->data, ow, oh, in->data, in->w, in->h, in->channels,
                                       box, e);
    }
    if (rc)
        coop_image_free(out);
    return rc;
}
