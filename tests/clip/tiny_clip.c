/* tests/clip/tiny_clip.c: see tiny_clip.h. Weights come from the towers'
 * own seeded initialisers, the file from coop_clip_model_save. */
#include "tiny_clip.h"
#include "coop/checkpoint.h"
#include "coop/clip.h"
#include "coop/util.h"
#include <stdio.h>
#include <string.h>

int tiny_clip_write(const char *path, bool vit, unsigned long long seed)
{
    struct coop_clip_model m;
    struct coop_err e;
    float *tarena = NULL;
    void *vmem = NULL;
    memset(&m, 0, sizeof m);
    int rc = coop_clip_text_alloc(&m.text, 77, 49408, 64, 1, 2, 32, &tarena, &e);
    if (rc == 0)
        coop_clip_text_init_random(&m.text, seed);
    if (rc == 0 && vit) {
        m.vision_kind = COOP_CLIP_VISION_VIT;
        rc = coop_clip_vit_alloc(&m.vit, &vmem, NULL, 32, 16, 64, 1, 1, 32, &e);
        if (rc == 0)
            rc = coop_clip_vit_init_hash(&m.vit, seed + 1);
    }
    m.logit_scale = 4.6052f;
    snprintf(m.arch, sizeof m.arch, "tiny");
    if (rc == 0)
        rc = coop_clip_model_save(&m, path, &e);
    if (rc)
        fprintf(stderr, "tiny_clip_write: %s\n", e.msg);
    coop_clip_text_free(&m.text, tarena);
    coop_free(vmem);
    return rc;
}
