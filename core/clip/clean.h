/* core/clip/clean.h (internal): CLIP text clean-up on code points. */
#ifndef COOP_CLIP_CLEAN_H
#define COOP_CLIP_CLEAN_H

#include <stddef.h>
#include <stdint.h>

/* UTF-8 text -> cleaned, lower-cased code points (*out malloc'd). -1 on
 * out of memory. */
int coop_text_clean(const char *text, uint32_t **out, size_t *n);

#endif
