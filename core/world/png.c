/* png.c: the world's RGB8 PNG export, kept in the SDK for plugins built
 * against it; the writing itself is core/image/'s coop_image_write_png. */
#include "coop/image.h"
#include "coop/world.h"

int coop_png_write_rgb(const char *path, const uint8_t *rgb, int w, int h, struct coop_err *e)
{
    return coop_image_write_png(path, rgb, w, h, 3, e);
}
