/* decode_png.c: PNG -> native mode through libpng, as Pillow 9.4 opens it
 * (PngImagePlugin._MODES): grey 1-bit -> "1" (0/255); grey 2/4/8-bit -> L
 * (low depths scaled by 85 / 17); grey 16-bit -> I; RGB(A) 16-bit -> high
 * bytes; palette -> P with its PLTE; grey+alpha 8-bit -> LA, 16-bit -> RGBA
 * (grey replicated, high bytes). tRNS is ignored (Pillow keeps it as info,
 * convert("RGB") drops it). libpng errors and reads past the end longjmp
 * back here and become COOP_E_FORMAT naming the file. */
#include "image_internal.h"
#include <png.h>
#include <stdlib.h>
#include <string.h>

struct png_read_ctx {
    const uint8_t *buf;
    size_t len, pos;
    char msg[256];
};

static void png_read_error_cb(png_structp png, png_const_charp msg)
{
    struct png_read_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_read_warning_cb(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void png_read_data_cb(png_structp png, png_bytep out, size_t n)
{
    struct png_read_ctx *c = png_get_io_ptr(png);
    if (n > c->len - c->pos)
        png_error(png, "file is truncated (read past the end of the data)");
    memcpy(out, c->buf + c->pos, n);
    c->pos += n;
}

static enum coop_image_mode png_mode(int color, int depth)
{
    switch (color) {
    case PNG_COLOR_TYPE_GRAY:
        return depth == 1 ? COOP_IMG_1 : depth == 16 ? COOP_IMG_I16 : COOP_IMG_L;
    case PNG_COLOR_TYPE_PALETTE:
        return COOP_IMG_P;
    case PNG_COLOR_TYPE_RGB:
        return COOP_IMG_RGB;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        return depth == 16 ? COOP_IMG_RGBA : COOP_IMG_LA;
    default:
        return COOP_IMG_RGBA;
    }
}

/* Rows as libpng delivers them (after packing / strip_16) -> native pixels. */
static void png_rows_to_image(struct coop_image *img, const uint8_t *raw, int color, int depth)
{
    size_t n = (size_t)img->w * img->h;
    if (img->mode == COOP_IMG_I16) {
        for (size_t i = 0; i < n; i++)
            img->data16[i] = (uint16_t)(raw[2 * i] << 8 | raw[2 * i + 1]);
    } else if (color == PNG_COLOR_TYPE_GRAY_ALPHA && depth == 16) {
        for (size_t i = 0; i < n; i++) {
            uint8_t *p = img->data + 4 * i;
            p[0] = p[1] = p[2] = raw[2 * i];
            p[3] = raw[2 * i + 1];
        }
    } else {
        memcpy(img->data, raw, n * img->channels);
        if (color == PNG_COLOR_TYPE_GRAY && depth < 8) {
            int mul = depth == 1 ? 255 : depth == 2 ? 85 : 17;
            for (size_t i = 0; i < n; i++)
                img->data[i] = (uint8_t)(img->data[i] * mul);
        }
    }
}

static void png_copy_palette(struct coop_image *img, png_structp png, png_infop info)
{
    png_colorp pal = NULL;
    int np = 0;
    if (png_get_PLTE(png, info, &pal, &np) & PNG_INFO_PLTE) {
        for (int i = 0; i < np && i < 256; i++) {
            img->palette[i * 3] = pal[i].red;
            img->palette[i * 3 + 1] = pal[i].green;
            img->palette[i * 3 + 2] = pal[i].blue;
        }
        img->palette_size = np;
    }
}

int coop_image_decode_png(struct coop_image *img, const uint8_t *buf, size_t len,
                          const char *name, struct coop_err *e)
{
    struct png_read_ctx ctx = {buf, len, 0, {0}};
    uint8_t *volatile raw = NULL;
    png_bytep *volatile rows = NULL;
    memset(img, 0, sizeof *img);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_read_error_cb,
                                             png_read_warning_cb);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, &info, NULL);
        return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", name);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(raw);
        free(rows);
        coop_image_free(img);
        return coop_fail(e, COOP_E_FORMAT, "%s: PNG decode failed: %s", name, ctx.msg);
    }
    png_set_read_fn(png, &ctx, png_read_data_cb);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int color = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if ((size_t)w * h > COOP_IMAGE_MAX_PIXELS)
        png_error(png, "image too large");
    enum coop_image_mode mode = png_mode(color, depth);
    struct coop_err ae;
    if (coop_image_alloc(img, mode, (int)w, (int)h, &ae))
        png_error(png, "out of memory");
    if (mode == COOP_IMG_P)
        png_copy_palette(img, png, info);
    if (depth < 8)
        png_set_packing(png);
    if (depth == 16 && mode != COOP_IMG_I16)
        png_set_strip_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    raw = malloc(rowbytes * h);
    rows = malloc(sizeof(png_bytep) * h);
    if (!raw || !rows)
        png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++)
        rows[y] = raw + rowbytes * y;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_rows_to_image(img, raw, color, depth);
    png_destroy_read_struct(&png, &info, NULL);
    free(raw);
    free(rows);
    return COOP_OK;
}
