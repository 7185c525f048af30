/* tests/clip/tiny_clip.h: writes a small random CLIP checkpoint (full CLIP
 * vocabulary and context, narrow and shallow towers) for the plugin and
 * coop-encode tests. */
#ifndef COOP_TESTS_TINY_CLIP_H
#define COOP_TESTS_TINY_CLIP_H

#include <stdbool.h>

/* Text: L 77, V 49408, W 64, 1 head, 2 layers, E 32; ViT (vit = true):
 * 32 px, patch 16, width 64, 1 layer, 1 head; else text-only. */
int tiny_clip_write(const char *path, bool vit, unsigned long long seed);

#endif
