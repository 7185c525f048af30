/* image.c: struct coop_image lifetime, loading by content sniffing, and the
 * PNG writer. Decoding itself lives in decode_jpeg.c / decode_png.c. */
#include "image_internal.h"
#include <errno.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

const char *coop_image_mode_name(enum coop_image_mode m)
{
    static const char *const names[] = {"L", "LA", "P", "RGB", "RGBA", "I", "CMYK", "1"};
    return (unsigned)m < sizeof names / sizeof names[0] ? names[m] : "?";
}

static int mode_channels(enum coop_image_mode m)
{
    switch (m) {
    case COOP_IMG_LA:
        return 2;
    case COOP_IMG_RGB:
        return 3;
    case COOP_IMG_RGBA:
    case COOP_IMG_CMYK:
        return 4;
    default:
        return 1;
    }
}

void coop_image_free(struct coop_image *img)
{
    if (!img)
        return;
    free(img->data);
    free(img->data16);
    memset(img, 0, sizeof *img);
}

int coop_image_alloc(struct coop_image *img, enum coop_image_mode mode, int w, int h,
                     struct coop_err *e)
{
    memset(img, 0, sizeof *img);
    if (w <= 0 || h <= 0 || (unsigned)mode > COOP_IMG_1)
        return coop_fail(e, COOP_E_INVAL, "image: bad size %dx%d or mode %d", w, h, (int)mode);
    if ((size_t)w * (size_t)h > COOP_IMAGE_MAX_PIXELS)
        return coop_fail(e, COOP_E_NOMEM, "image: %dx%d exceeds the %zu-pixel limit", w, h,
                         COOP_IMAGE_MAX_PIXELS);
    img->w = w;
    img->h = h;
    img->mode = mode;
    img->channels = mode_channels(mode);
    for (int i = 0; i < 256; i++)
        img->palette[i * 3] = img->palette[i * 3 + 1] = img->palette[i * 3 + 2] = (uint8_t)i;
    size_t n = (size_t)w * h * img->channels;
    if (mode == COOP_IMG_I16)
        img->data16 = calloc(n, sizeof(uint16_t));
    else
        img->data = calloc(n, 1);
    if (!img->data && !img->data16)
        return coop_fail(e, COOP_E_NOMEM, "image: out of memory for %dx%d", w, h);
    return COOP_OK;
}

int coop_image_from_rgb8(struct coop_image *img, const uint8_t *rgb, int w, int h,
                         struct coop_err *e)
{
    int rc = coop_image_alloc(img, COOP_IMG_RGB, w, h, e);
    if (rc)
        return rc;
    memcpy(img->data, rgb, (size_t)w * h * 3);
    return COOP_OK;
}

int coop_image_load_memory(struct coop_image *img, const uint8_t *buf, size_t len,
                           const char *name, struct coop_err *e)
{
    memset(img, 0, sizeof *img);
    if (!name)
        name = "<memory>";
    if (len == 0)
        return coop_fail(e, COOP_E_FORMAT, "%s: empty file", name);
    if (len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF)
        return coop_image_decode_jpeg(img, buf, len, name, e);
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (len >= 8 && memcmp(buf, png_sig, 8) == 0)
        return coop_image_decode_png(img, buf, len, name, e);
    return coop_fail(e, COOP_E_FORMAT, "%s: not a JPEG or PNG file (unrecognised signature)",
                     name);
}

int coop_image_load(struct coop_image *img, const char *path, struct coop_err *e)
{
    char *buf = NULL;
    size_t len = 0;
    memset(img, 0, sizeof *img);
    int rc = coop_read_file(path, (size_t)1 << 30, &buf, &len, e);
    if (rc)
        return rc;
    rc = coop_image_load_memory(img, (const uint8_t *)buf, len, path, e);
    free(buf);
    return rc;
}

/* ---- PNG writer -------------------------------------------------------- */
struct png_write_ctx {
    struct coop_err *e;
    const char *path;
};

static void png_write_error(png_structp png, png_const_charp msg)
{
    struct png_write_ctx *c = png_get_error_ptr(png);
    coop_fail(c->e, COOP_E_IO, "%s: PNG write failed: %s", c->path, msg);
    png_longjmp(png, 1);
}

static void png_write_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

int coop_image_write_png(const char *path, const uint8_t *pix, int w, int h, int channels,
                         struct coop_err *e)
{
    static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                 PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    if (channels < 1 || channels > 4 || w <= 0 || h <= 0)
        return coop_fail(e, COOP_E_INVAL, "%s: cannot write %dx%dx%d PNG", path, w, h, channels);
    FILE *f = fopen(path, "wb");
    if (!f)
        return coop_fail(e, COOP_E_IO, "%s: cannot create: %s", path, strerror(errno));
    struct png_write_ctx ctx = {e, path};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_write_error,
                                              png_write_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    volatile int rc = COOP_OK;
    if (!png || !info) {
        rc = coop_fail(e, COOP_E_NOMEM, "%s: out of memory", path);
    } else if (setjmp(png_jmpbuf(png))) {
        rc = COOP_E_IO;
    } else {
        png_init_io(png, f);
        png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, types[channels],
                     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        for (int y = 0; y < h; y++)
            png_write_row(png, pix + (size_t)y * w * channels);
        png_write_end(png, NULL);
    }
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0 && rc == COOP_OK)
        rc = coop_fail(e, COOP_E_IO, "%s: write failed: %s", path, strerror(errno));
    return rc;
}
