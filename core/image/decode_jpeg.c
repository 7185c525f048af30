/* decode_jpeg.c: JPEG -> native mode through libjpeg-turbo, as Pillow 9.4
 * opens it: 1 component -> L, 3 -> RGB (libjpeg's YCbCr -> RGB, default ISLOW
 * IDCT and fancy upsampling, like Pillow), 4 -> CMYK inverted ("CMYK;I":
 * Pillow assumes Adobe conventions for every 4-component JPEG; YCCK is turned
 * into CMYK by libjpeg first). Errors longjmp out of libjpeg; warnings that
 * signal corrupt or missing data (premature end, bad Huffman code, ...) are
 * errors too, so a damaged file never yields a silently wrong image. */
#include "image_internal.h"
#include <jpeglib.h>
#include <jerror.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jpeg_err_ctx {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
};

static void jpeg_error_exit_cb(j_common_ptr cinfo)
{
    struct jpeg_err_ctx *c = (struct jpeg_err_ctx *)cinfo->err;
    c->pub.format_message(cinfo, c->msg);
    longjmp(c->jb, 1);
}

/* Benign warnings: metadata the decoder ignores anyway. */
static int warning_is_benign(int code)
{
    return code == JWRN_JFIF_MAJOR || code == JWRN_ADOBE_XFORM || code == JWRN_BOGUS_ICC;
}

static void jpeg_emit_message_cb(j_common_ptr cinfo, int level)
{
    struct jpeg_err_ctx *c = (struct jpeg_err_ctx *)cinfo->err;
    if (level >= 0 || warning_is_benign(c->pub.msg_code))
        return;
    c->pub.format_message(cinfo, c->msg);
    longjmp(c->jb, 1);
}

static void jpeg_output_message_cb(j_common_ptr cinfo)
{
    (void)cinfo;
}

static enum coop_image_mode jpeg_mode(int components, J_COLOR_SPACE *out_space)
{
    if (components == 1) {
        *out_space = JCS_GRAYSCALE;
        return COOP_IMG_L;
    }
    if (components == 3) {
        *out_space = JCS_RGB;
        return COOP_IMG_RGB;
    }
    *out_space = JCS_CMYK;
    return COOP_IMG_CMYK;
}

int coop_image_decode_jpeg(struct coop_image *img, const uint8_t *buf, size_t len,
                           const char *name, struct coop_err *e)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_err_ctx err;
    volatile int rc = COOP_OK;
    memset(img, 0, sizeof *img);
    memset(&err, 0, sizeof err);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_error_exit_cb;
    err.pub.emit_message = jpeg_emit_message_cb;
    err.pub.output_message = jpeg_output_message_cb;
    if (setjmp(err.jb)) {
        coop_image_free(img);
        jpeg_destroy_decompress(&cinfo);
        return coop_fail(e, COOP_E_FORMAT, "%s: JPEG decode failed: %s", name, err.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, buf, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    int comps = cinfo.num_components;
    if (comps != 1 && comps != 3 && comps != 4) {
        jpeg_destroy_decompress(&cinfo);
        return coop_fail(e, COOP_E_UNSUPPORTED, "%s: JPEG with %d components", name, comps);
    }
    J_COLOR_SPACE out_space;
    enum coop_image_mode mode = jpeg_mode(comps, &out_space);
    cinfo.out_color_space = out_space;
    struct coop_err ae;
    if ((size_t)cinfo.image_width * cinfo.image_height > COOP_IMAGE_MAX_PIXELS ||
        coop_image_alloc(img, mode, (int)cinfo.image_width, (int)cinfo.image_height, &ae)) {
        jpeg_destroy_decompress(&cinfo);
        return coop_fail(e, COOP_E_NOMEM, "%s: JPEG of %ux%u pixels is too large", name,
                         cinfo.image_width, cinfo.image_height);
    }
    jpeg_start_decompress(&cinfo);
    if ((int)cinfo.output_components != img->channels)
        ERREXIT(&cinfo, JERR_BAD_IN_COLORSPACE);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = img->data + (size_t)cinfo.output_scanline * img->w * img->channels;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    if (mode == COOP_IMG_CMYK) {
        size_t n = (size_t)img->w * img->h * 4;
        for (size_t i = 0; i < n; i++)
            img->data[i] = (uint8_t)(255 - img->data[i]);
    }
    return rc;
}
