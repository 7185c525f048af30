/* png.c: writing RGB8 buffers as PNG files (libpng), for the dataset export
 * tool and documentation images. Errors come back as status codes: libpng's
 * longjmp is caught here and never crosses into callers. */
#include "coop/world.h"
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

struct png_ctx {
    jmp_buf jmp;
    char msg[256];
};

static void on_error(png_structp png, png_const_charp msg)
{
    struct png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    longjmp(c->jmp, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Separate function so that no local modified after setjmp is read after longjmp. */
static int write_rows(FILE *f, const uint8_t *rgb, int w, int h, struct png_ctx *c)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, c, on_error, on_warning);
    if (!png)
        return -1;
    png_infop info = png_create_info_struct(png);
    if (!info || setjmp(c->jmp)) {
        png_destroy_write_struct(&png, info ? &info : NULL);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++)
        png_write_row(png, (png_const_bytep)(rgb + (size_t)y * w * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int coop_png_write_rgb(const char *path, const uint8_t *rgb, int w, int h, struct coop_err *e)
{
    if (w <= 0 || h <= 0)
        return coop_fail(e, COOP_E_INVAL, "%s: bad image size %dx%d", path, w, h);
    FILE *f = fopen(path, "wb");
    if (!f)
        return coop_fail(e, COOP_E_IO, "%s: cannot create: %s", path, strerror(errno));
    struct png_ctx c;
    c.msg[0] = '\0';
    int rc = write_rows(f, rgb, w, h, &c);
    if (fclose(f) != 0 && rc == 0)
        return coop_fail(e, COOP_E_IO, "%s: write failed: %s", path, strerror(errno));
    if (rc)
        return coop_fail(e, COOP_E_IO, "%s: libpng: %s", path, c.msg[0] ? c.msg : "out of memory");
    return COOP_OK;
}
