/* core/clip/arch.c: infer a CLIP architecture from a checkpoint's tensor
 * names and shapes (layer counts from key names, widths and patch size from
 * shapes) and name it ("ViT-B/16" when it matches a released model, else a
 * descriptive string). Reads only the header, never tensor data. */
#include "coop/checkpoint.h"
#include "coop/safetensors.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int coop_clip_infer_arch(struct coop_clip_model *m, const struct coop_safetensors *st,
                         enum coop_ckpt_naming naming, struct coop_err *e);

/* Number of layers: 1 + the largest integer i among names "<prefix>i.". */
static int count_layers(const struct coop_safetensors *st, const char *prefix)
{
    size_t pl = strlen(prefix);
    int best = -1;
    const struct coop_st_tensor *t;
    for (size_t i = 0; (t = coop_safetensors_at(st, i)) != NULL; i++) {
        if (strncmp(t->name, prefix, pl) != 0)
            continue;
        char *end;
        long v = strtol(t->name + pl, &end, 10);
        if (end != t->name + pl && *end == '.' && v >= 0 && v < 4096 && v > best)
            best = (int)v;
    }
    return best + 1;
}

/* Tensor name with exactly nd dims, or an error naming it. */
static int probe(const struct coop_safetensors *st, const char *name, int nd,
                 const struct coop_st_tensor **out, struct coop_err *e)
{
    const struct coop_st_tensor *t = coop_safetensors_find(st, name);
    if (!t)
        return coop_fail(e, COOP_E_NOTFOUND, "%s: tensor '%s' not found",
                         coop_safetensors_path(st), name);
    if (t->ndim != nd)
        return coop_fail(e, COOP_E_FORMAT, "%s: tensor '%s': expected %d dims, got %d",
                         coop_safetensors_path(st), name, nd, t->ndim);
    for (int i = 0; i < nd; i++)
        if (t->shape[i] <= 0 || t->shape[i] > (1 << 24))
            return coop_fail(e, COOP_E_FORMAT, "%s: tensor '%s': dimension %d is %lld",
                             coop_safetensors_path(st), name, i, (long long)t->shape[i]);
    *out = t;
    return 0;
}

static int heads_for(const struct coop_safetensors *st, const char *key, int width, int *heads,
                     struct coop_err *e)
{
    const char *h = coop_safetensors_meta(st, key);
    if (h) {
        char *end;
        long v = strtol(h, &end, 10);
        if (*end || v <= 0 || width % v)
            return coop_fail(e, COOP_E_FORMAT, "%s: metadata %s='%s' does not divide width %d",
                             coop_safetensors_path(st), key, h, width);
        *heads = (int)v;
        return 0;
    }
    if (width < 64 || width % 64)
        return coop_fail(e, COOP_E_FORMAT,
                         "%s: width %d is not a multiple of 64 (heads are 64 wide); set "
                         "metadata '%s'",
                         coop_safetensors_path(st), width, key);
    *heads = width / 64;
    return 0;
}

static int isqrt_exact(int64_t n)
{
    int64_t r = (int64_t)llround(sqrt((double)n));
    return r * r == n ? (int)r : -1;
}

static int infer_text(struct coop_clip_model *m, const struct coop_safetensors *st, bool hf,
                      struct coop_err *e)
{
    const struct coop_st_tensor *tok, *pos, *proj;
    int rc = probe(st, hf ? "text_model.embeddings.token_embedding.weight" : "token_embedding.weight",
                   2, &tok, e);
    rc = rc ? rc : probe(st, hf ? "text_model.embeddings.position_embedding.weight"
                                : "positional_embedding", 2, &pos, e);
    rc = rc ? rc : probe(st, hf ? "text_projection.weight" : "text_projection", 2, &proj, e);
    if (rc)
        return rc;
    struct coop_clip_text *t = &m->text;
    t->vocab_size = (int)tok->shape[0];
    t->width = (int)tok->shape[1];
    t->context_length = (int)pos->shape[0];
    t->embed_dim = (int)proj->shape[hf ? 0 : 1];
    t->layers = count_layers(st, hf ? "text_model.encoder.layers." : "transformer.resblocks.");
    if (t->layers == 0)
        return coop_fail(e, COOP_E_NOTFOUND, "%s: no text transformer layers ('%s0.*') found",
                         coop_safetensors_path(st),
                         hf ? "text_model.encoder.layers." : "transformer.resblocks.");
    return heads_for(st, "coop.text_heads", t->width, &t->heads, e);
}

static int infer_vit(struct coop_clip_model *m, const struct coop_safetensors *st, bool hf,
                     struct coop_err *e)
{
    const struct coop_st_tensor *conv, *pos, *proj;
    int rc = probe(st, hf ? "vision_model.embeddings.patch_embedding.weight" : "visual.conv1.weight",
                   4, &conv, e);
    rc = rc ? rc : probe(st, hf ? "vision_model.embeddings.position_embedding.weight"
                                : "visual.positional_embedding", 2, &pos, e);
    rc = rc ? rc : probe(st, hf ? "visual_projection.weight" : "visual.proj", 2, &proj, e);
    if (rc)
        return rc;
    struct coop_clip_vit *v = &m->vit;
    v->width = (int)conv->shape[0];
    v->patch_size = (int)conv->shape[2];
    int g = isqrt_exact(pos->shape[0] - 1);
    if (g <= 0 || conv->shape[2] != conv->shape[3])
        return coop_fail(e, COOP_E_FORMAT,
                         "%s: vision positional embedding has %lld rows: not a square grid + 1",
                         coop_safetensors_path(st), (long long)pos->shape[0]);
    v->image_size = g * v->patch_size;
    v->embed_dim = (int)proj->shape[hf ? 0 : 1];
    v->layers = count_layers(st, hf ? "vision_model.encoder.layers." : "visual.transformer.resblocks.");
    if (v->layers == 0)
        return coop_fail(e, COOP_E_NOTFOUND, "%s: no vision transformer layers found",
                         coop_safetensors_path(st));
    return heads_for(st, "coop.vision_heads", v->width, &v->heads, e);
}

static int infer_resnet(struct coop_clip_model *m, const struct coop_safetensors *st,
                        struct coop_err *e)
{
    const struct coop_st_tensor *c3, *pos, *cp;
    int rc = probe(st, "visual.conv3.weight", 4, &c3, e);
    rc = rc ? rc : probe(st, "visual.attnpool.positional_embedding", 2, &pos, e);
    rc = rc ? rc : probe(st, "visual.attnpool.c_proj.weight", 2, &cp, e);
    if (rc)
        return rc;
    struct coop_clip_resnet *r = &m->resnet;
    r->width = (int)c3->shape[0];
    int g = isqrt_exact(pos->shape[0] - 1);
    if (g <= 0 || r->width % 2)
        return coop_fail(e, COOP_E_FORMAT,
                         "%s: attnpool positional embedding has %lld rows: not a square grid + 1",
                         coop_safetensors_path(st), (long long)pos->shape[0]);
    r->image_size = 32 * g;
    r->embed_dim = (int)cp->shape[0];
    for (int l = 0; l < 4; l++) {
        char pre[32];
        snprintf(pre, sizeof pre, "visual.layer%d.", l + 1);
        if ((r->layers[l] = count_layers(st, pre)) == 0)
            return coop_fail(e, COOP_E_NOTFOUND, "%s: no ResNet blocks '%s0.*' found",
                             coop_safetensors_path(st), pre);
    }
    const char *h = coop_safetensors_meta(st, "coop.vision_heads");
    r->heads = h ? atoi(h) : r->width * 32 / 64; /* OpenAI: vision_width * 32 // 64 */
    if (r->heads <= 0 || (32 * r->width) % r->heads)
        return coop_fail(e, COOP_E_FORMAT, "%s: bad ResNet head count %d",
                         coop_safetensors_path(st), r->heads);
    return 0;
}

/* Released models (text tower: context 77, vocab 49408, 12 layers). */
static const struct known {
    const char *name;
    int vit; /* 1 ViT, 0 ResNet */
    int vwidth, vlayers[4], patch, image, embed, twidth;
} known[] = {
    {"RN50", 0, 64, {3, 4, 6, 3}, 0, 224, 1024, 512},
    {"RN101", 0, 64, {3, 4, 23, 3}, 0, 224, 512, 512},
    {"RN50x4", 0, 80, {4, 6, 10, 6}, 0, 288, 640, 640},
    {"RN50x16", 0, 96, {6, 8, 18, 8}, 0, 384, 768, 768},
    {"RN50x64", 0, 128, {3, 15, 36, 10}, 0, 448, 1024, 1024},
    {"ViT-B/32", 1, 768, {12}, 32, 224, 512, 512},
    {"ViT-B/16", 1, 768, {12}, 16, 224, 512, 512},
    {"ViT-L/14", 1, 1024, {24}, 14, 224, 768, 768},
    {"ViT-L/14@336px", 1, 1024, {24}, 14, 336, 768, 768},
};

static bool matches(const struct coop_clip_model *m, const struct known *k)
{
    const struct coop_clip_text *t = &m->text;
    if (t->context_length != 77 || t->vocab_size != 49408 || t->layers != 12 ||
        t->width != k->twidth || t->embed_dim != k->embed)
        return false;
    if (k->vit)
        return m->vision_kind == COOP_CLIP_VISION_VIT && m->vit.width == k->vwidth &&
               m->vit.layers == k->vlayers[0] && m->vit.patch_size == k->patch &&
               m->vit.image_size == k->image && m->vit.embed_dim == k->embed;
    const struct coop_clip_resnet *r = &m->resnet;
    return m->vision_kind == COOP_CLIP_VISION_RESNET && r->width == k->vwidth &&
           !memcmp(r->layers, k->vlayers, sizeof r->layers) && r->image_size == k->image &&
           r->embed_dim == k->embed;
}

static void name_arch(struct coop_clip_model *m)
{
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (matches(m, &known[i])) {
            snprintf(m->arch, sizeof m->arch, "%s", known[i].name);
            return;
        }
    const struct coop_clip_text *t = &m->text;
    if (m->vision_kind == COOP_CLIP_VISION_VIT)
        snprintf(m->arch, sizeof m->arch, "ViT-custom-w%d-l%d-p%d-s%d-e%d-t%dx%d",
                 m->vit.width, m->vit.layers, m->vit.patch_size, m->vit.image_size,
                 m->vit.embed_dim, t->width, t->layers);
    else if (m->vision_kind == COOP_CLIP_VISION_RESNET)
        snprintf(m->arch, sizeof m->arch, "RN-custom-w%d-l%d.%d.%d.%d-s%d-e%d-t%dx%d",
                 m->resnet.width, m->resnet.layers[0], m->resnet.layers[1],
                 m->resnet.layers[2], m->resnet.layers[3], m->resnet.image_size,
                 m->resnet.embed_dim, t->width, t->layers);
    else
        snprintf(m->arch, sizeof m->arch, "text-only-w%d-l%d-e%d", t->width, t->layers,
                 t->embed_dim);
}

int coop_clip_infer_arch(struct coop_clip_model *m, const struct coop_safetensors *st,
                         enum coop_ckpt_naming naming, struct coop_err *e)
{
    bool hf = naming == COOP_CKPT_HF;
    int rc = infer_text(m, st, hf, e);
    if (rc)
        return rc;
    if (hf) {
        if (coop_safetensors_find(st, "vision_model.embeddings.patch_embedding.weight")) {
            m->vision_kind = COOP_CLIP_VISION_VIT;
            rc = infer_vit(m, st, true, e);
        }
    } else if (coop_safetensors_find(st, "visual.layer1.0.conv1.weight")) {
        m->vision_kind = COOP_CLIP_VISION_RESNET;
        rc = infer_resnet(m, st, e);
    } else if (coop_safetensors_find(st, "visual.conv1.weight")) {
        m->vision_kind = COOP_CLIP_VISION_VIT;
        rc = infer_vit(m, st, false, e);
    }
    if (rc == 0) {
        int ve = m->vision_kind == COOP_CLIP_VISION_VIT      ? m->vit.embed_dim
                 : m->vision_kind == COOP_CLIP_VISION_RESNET ? m->resnet.embed_dim
                                                             : m->text.embed_dim;
        if (ve != m->text.embed_dim)
            rc = coop_fail(e, COOP_E_FORMAT,
                           "%s: text embedding dim %d differs from the vision one %d",
                           coop_safetensors_path(st), m->text.embed_dim, ve);
    }
    if (rc == 0)
        name_arch(m);
    return rc;
}
