/* params.c: image-tower parameters: the named-tensor tables (OpenAI
 * state-dict names and shapes), one-allocation layout of a tower or of its
 * gradient container, the seeded hash-uniform initialisation that the
 * PyTorch fixture generator (tests/fixtures/vision/gen_vision.py) reproduces
 * bit for bit, and the vision_kind dispatch of coop_clip_encode_images. */
#include "coop/util.h"
#include "vision.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct table {
    struct vision_tensor *t;
    int cap, n;
};

static void add(struct table *tb, float **ptr, enum vision_init init, int width, int ndim,
                const int *shape, const char *fmt, ...) COOP_PRINTF(7, 8);

static void add(struct table *tb, float **ptr, enum vision_init init, int width, int ndim,
                const int *shape, const char *fmt, ...)
{
    if (tb->t && tb->n < tb->cap) {
        struct vision_tensor *x = &tb->t[tb->n];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->name, sizeof x->name, fmt, ap);
        va_end(ap);
        x->ptr = ptr;
        x->ndim = ndim;
        x->n = 1;
        for (int i = 0; i < 4; i++) {
            x->shape[i] = i < ndim ? shape[i] : 1;
            x->n *= (size_t)x->shape[i];
        }
        x->init = init;
        x->width = width;
    }
    tb->n++;
}

#define SHAPE(...) ((const int[]){__VA_ARGS__})
#define NDIM(...) ((int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)))
#define ADD(tb, ptr, init, width, name, ...) \
    add(tb, ptr, init, width, NDIM(__VA_ARGS__), SHAPE(__VA_ARGS__), "%s", name)

static void add_block(struct table *tb, struct coop_clip_block *b, int W, int i)
{
    static const char *const names[12] = {
        "attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight",
        "attn.out_proj.bias",  "ln_1.weight",       "ln_1.bias",
        "mlp.c_fc.weight",     "mlp.c_fc.bias",     "mlp.c_proj.weight",
        "mlp.c_proj.bias",     "ln_2.weight",       "ln_2.bias"};
    float **ptrs[12] = {&b->in_proj_w, &b->in_proj_b, &b->out_proj_w, &b->out_proj_b,
                        &b->ln_1_w,    &b->ln_1_b,    &b->c_fc_w,     &b->c_fc_b,
                        &b->c_proj_w,  &b->c_proj_b,  &b->ln_2_w,     &b->ln_2_b};
    int rows[12] = {3 * W, 3 * W, W, W, W, W, 4 * W, 4 * W, W, W, W, W};
    int cols[12] = {W, 0, W, 0, 0, 0, W, 0, 4 * W, 0, 0, 0};
    enum vision_init init[12] = {VISION_INIT_MAT,  VISION_INIT_BIAS, VISION_INIT_MAT,
                                 VISION_INIT_BIAS, VISION_INIT_GAIN, VISION_INIT_BIAS,
                                 VISION_INIT_MAT,  VISION_INIT_BIAS, VISION_INIT_MAT,
                                 VISION_INIT_BIAS, VISION_INIT_GAIN, VISION_INIT_BIAS};
    for (int k = 0; k < 12; k++) {
        int shape[2] = {rows[k], cols[k]};
        add(tb, ptrs[k], init[k], W, cols[k] ? 2 : 1, shape,
            "visual.transformer.resblocks.%d.%s", i, names[k]);
    }
}

int coop_vision_vit_tensors(struct coop_clip_vit *v, struct vision_tensor *t, int cap)
{
    struct table tb = {t, cap, 0};
    int W = v->width, P = v->patch_size, G = v->image_size / v->patch_size;
    ADD(&tb, &v->conv1_w, VISION_INIT_MAT, W, "visual.conv1.weight", W, 3, P, P);
    ADD(&tb, &v->class_embedding, VISION_INIT_EMB, W, "visual.class_embedding", W);
    ADD(&tb, &v->positional_embedding, VISION_INIT_EMB, W, "visual.positional_embedding",
        G * G + 1, W);
    ADD(&tb, &v->ln_pre_w, VISION_INIT_GAIN, W, "visual.ln_pre.weight", W);
    ADD(&tb, &v->ln_pre_b, VISION_INIT_BIAS, W, "visual.ln_pre.bias", W);
    for (int i = 0; i < v->layers; i++)
        add_block(&tb, &v->blocks[i], W, i);
    ADD(&tb, &v->ln_post_w, VISION_INIT_GAIN, W, "visual.ln_post.weight", W);
    ADD(&tb, &v->ln_post_b, VISION_INIT_BIAS, W, "visual.ln_post.bias", W);
    ADD(&tb, &v->proj, VISION_INIT_EMB, W, "visual.proj", W, v->embed_dim);
    return t && tb.n > cap ? -1 : tb.n;
}

static void add_bn(struct table *tb, struct coop_clip_bn *bn, int C, const char *prefix)
{
    int shape[1] = {C};
    add(tb, &bn->w, VISION_INIT_GAIN, C, 1, shape, "%s.weight", prefix);
    add(tb, &bn->b, VISION_INIT_BIAS, C, 1, shape, "%s.bias", prefix);
    add(tb, &bn->mean, VISION_INIT_BIAS, C, 1, shape, "%s.running_mean", prefix);
    add(tb, &bn->var, VISION_INIT_VAR, C, 1, shape, "%s.running_var", prefix);
}

static void add_conv(struct table *tb, float **w, int Co, int Ci, int k, const char *prefix,
                     const char *suffix)
{
    int shape[4] = {Co, Ci, k, k};
    add(tb, w, VISION_INIT_MAT, Ci, 4, shape, "%s%s", prefix, suffix);
}

static void add_bottleneck(struct table *tb, struct coop_clip_bottleneck *b, int layer, int k)
{
    char p[64], q[80];
    snprintf(p, sizeof p, "visual.layer%d.%d.", layer, k);
    int in = b->inplanes, pl = b->planes;
    add_conv(tb, &b->conv1_w, pl, in, 1, p, "conv1.weight");
    snprintf(q, sizeof q, "%sbn1", p);
    add_bn(tb, &b->bn1, pl, q);
    add_conv(tb, &b->conv2_w, pl, pl, 3, p, "conv2.weight");
    snprintf(q, sizeof q, "%sbn2", p);
    add_bn(tb, &b->bn2, pl, q);
    add_conv(tb, &b->conv3_w, 4 * pl, pl, 1, p, "conv3.weight");
    snprintf(q, sizeof q, "%sbn3", p);
    add_bn(tb, &b->bn3, 4 * pl, q);
    if (b->has_downsample) {
        add_conv(tb, &b->down_conv_w, 4 * pl, in, 1, p, "downsample.0.weight");
        snprintf(q, sizeof q, "%sdownsample.1", p);
        add_bn(tb, &b->down_bn, 4 * pl, q);
    }
}

int coop_vision_resnet_tensors(struct coop_clip_resnet *r, struct vision_tensor *t, int cap)
{
    struct table tb = {t, cap, 0};
    int W = r->width, D = 32 * W, G = r->image_size / 32;
    add_conv(&tb, &r->conv1_w, W / 2, 3, 3, "visual.", "conv1.weight");
    add_bn(&tb, &r->bn1, W / 2, "visual.bn1");
    add_conv(&tb, &r->conv2_w, W / 2, W / 2, 3, "visual.", "conv2.weight");
    add_bn(&tb, &r->bn2, W / 2, "visual.bn2");
    add_conv(&tb, &r->conv3_w, W, W / 2, 3, "visual.", "conv3.weight");
    add_bn(&tb, &r->bn3, W, "visual.bn3");
    int k = 0;
    for (int l = 0; l < 4; l++)
        for (int j = 0; j < r->layers[l]; j++, k++)
            add_bottleneck(&tb, &r->blocks[k], l + 1, j);
    ADD(&tb, &r->ap_positional_embedding, VISION_INIT_EMB, D,
        "visual.attnpool.positional_embedding", G * G + 1, D);
    float **w[4] = {&r->ap_q_w, &r->ap_k_w, &r->ap_v_w, &r->ap_c_w};
    float **b[4] = {&r->ap_q_b, &r->ap_k_b, &r->ap_v_b, &r->ap_c_b};
    const char *nm[4] = {"q_proj", "k_proj", "v_proj", "c_proj"};
    for (int i = 0; i < 4; i++) {
        int rows = i == 3 ? r->embed_dim : D;
        add(&tb, w[i], VISION_INIT_MAT, D, 2, SHAPE(rows, D), "visual.attnpool.%s.weight", nm[i]);
        add(&tb, b[i], VISION_INIT_BIAS, D, 1, SHAPE(rows), "visual.attnpool.%s.bias", nm[i]);
    }
    return t && tb.n > cap ? -1 : tb.n;
}

/* One allocation: [block structs, padded to 64 bytes][floats]. The tensor
 * table assigns each pointer in order, so the floats are contiguous from the
 * first tensor. blocks_tmp (head bytes, already configured, owned here) is
 * what *blocks_field points at on entry; it is moved into the allocation. */
typedef int (*tensors_fn)(void *tower, struct vision_tensor *t, int cap);

static int vit_tensors_fn(void *v, struct vision_tensor *t, int cap)
{
    return coop_vision_vit_tensors(v, t, cap);
}
static int resnet_tensors_fn(void *r, struct vision_tensor *t, int cap)
{
    return coop_vision_resnet_tensors(r, t, cap);
}

static int finish(void **mem, size_t *n_floats, void *blocks_tmp, size_t head,
                  void **blocks_field, tensors_fn fn, void *tower, struct coop_err *e)
{
    int n = fn(tower, NULL, 0);
    struct vision_tensor *t = coop_alloc((size_t)n * sizeof *t);
    if (!t) {
        coop_free(blocks_tmp);
        return coop_fail(e, COOP_E_NOMEM, "vision: cannot allocate a table of %d tensors", n);
    }
    fn(tower, t, n);
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += t[i].n;
    size_t hb = (head + 63) / 64 * 64;
    char *m = total < (SIZE_MAX - hb) / sizeof(float) ? coop_alloc(hb + total * sizeof(float))
                                                       : NULL;
    if (!m) {
        coop_free(t);
        coop_free(blocks_tmp);
        *blocks_field = NULL;
        return coop_fail(e, COOP_E_NOMEM, "vision: cannot allocate a tower of %zu floats",
                         total);
    }
    memcpy(m, blocks_tmp, head);
    coop_free(blocks_tmp);
    *blocks_field = m;
    fn(tower, t, n); /* again: pointers into the moved blocks */
    float *p = (float *)(m + hb);
    for (int i = 0; i < n; i++) {
        *t[i].ptr = p;
        p += t[i].n;
    }
    coop_free(t);
    *mem = m;
    if (n_floats)
        *n_floats = total;
    return 0;
}

int coop_clip_vit_alloc(struct coop_clip_vit *v, void **mem, size_t *n_floats, int image_size,
                        int patch_size, int width, int layers, int heads, int embed_dim,
                        struct coop_err *e)
{
    *mem = NULL;
    memset(v, 0, sizeof *v);
    if (image_size <= 0 || patch_size <= 0 || image_size % patch_size || width <= 0 ||
        layers < 0 || heads <= 0 || width % heads || embed_dim <= 0)
        return coop_fail(e, COOP_E_INVAL,
                         "vision: bad ViT config (image %d, patch %d, width %d, layers %d, "
                         "heads %d, embed %d)", image_size, patch_size, width, layers, heads,
                         embed_dim);
    *v = (struct coop_clip_vit){.image_size = image_size, .patch_size = patch_size,
                                .width = width, .heads = heads, .layers = layers,
                                .embed_dim = embed_dim};
    size_t head = (size_t)layers * sizeof(struct coop_clip_block);
    v->blocks = coop_alloc(head);
    if (!v->blocks)
        return coop_fail(e, COOP_E_NOMEM, "vision: cannot allocate %d blocks", layers);
    return finish(mem, n_floats, v->blocks, head, (void **)&v->blocks, vit_tensors_fn, v, e);
}

int coop_clip_vit_grads_alloc(struct coop_clip_vit *g, void **mem, size_t *n_floats,
                              const struct coop_clip_vit *v, struct coop_err *e)
{
    return coop_clip_vit_alloc(g, mem, n_floats, v->image_size, v->patch_size, v->width,
                               v->layers, v->heads, v->embed_dim, e);
}

int coop_clip_resnet_alloc(struct coop_clip_resnet *r, void **mem, size_t *n_floats,
                           int image_size, int width, const int layers[4], int heads,
                           int embed_dim, struct coop_err *e)
{
    *mem = NULL;
    memset(r, 0, sizeof *r);
    int nb = 0, ok = image_size > 0 && image_size % 32 == 0 && width > 0 && width % 2 == 0 &&
                     heads > 0 && (32 * width) % heads == 0 && embed_dim > 0;
    for (int l = 0; l < 4; l++) {
        ok = ok && layers[l] > 0;
        nb += layers[l];
    }
    if (!ok)
        return coop_fail(e, COOP_E_INVAL,
                         "vision: bad ResNet config (image %d, width %d, layers %d,%d,%d,%d, "
                         "heads %d, embed %d)", image_size, width, layers[0], layers[1],
                         layers[2], layers[3], heads, embed_dim);
    r->image_size = image_size;
    r->width = width;
    r->heads = heads;
    r->embed_dim = embed_dim;
    memcpy(r->layers, layers, sizeof r->layers);
    size_t head = (size_t)nb * sizeof(struct coop_clip_bottleneck);
    r->blocks = coop_alloc(head);
    if (!r->blocks)
        return coop_fail(e, COOP_E_NOMEM, "vision: cannot allocate %d bottlenecks", nb);
    int inplanes = width, k = 0; /* OpenAI's _make_layer */
    for (int l = 0; l < 4; l++) {
        int planes = width << l, stride = l == 0 ? 1 : 2;
        for (int j = 0; j < layers[l]; j++, k++) {
            struct coop_clip_bottleneck *b = &r->blocks[k];
            b->inplanes = inplanes;
            b->planes = planes;
            b->stride = j == 0 ? stride : 1;
            b->has_downsample = b->stride > 1 || inplanes != 4 * planes;
            inplanes = 4 * planes;
        }
    }
    return finish(mem, n_floats, r->blocks, head, (void **)&r->blocks, resnet_tensors_fn, r, e);
}

/* ---- seeded initialisation ---------------------------------------------- */
static void init_range(const struct vision_tensor *t, double *lo, double *hi)
{
    double a;
    switch (t->init) {
    case VISION_INIT_MAT:
        a = 1.0 / sqrt((double)(t->n / (size_t)t->shape[0]));
        *lo = -a, *hi = a;
        break;
    case VISION_INIT_EMB:
        a = 1.0 / sqrt((double)t->width);
        *lo = -a, *hi = a;
        break;
    case VISION_INIT_GAIN:
        *lo = 0.9, *hi = 1.1;
        break;
    case VISION_INIT_VAR:
        *lo = 0.5, *hi = 1.5;
        break;
    default:
        *lo = -0.05, *hi = 0.05;
        break;
    }
}

static int init_hash(void *tower, tensors_fn fn, uint64_t seed)
{
    int n = fn(tower, NULL, 0);
    struct vision_tensor *t = coop_alloc((size_t)n * sizeof *t);
    if (!t)
        return COOP_E_NOMEM;
    fn(tower, t, n);
    for (int i = 0; i < n; i++) {
        double lo, hi;
        init_range(&t[i], &lo, &hi);
        coop_hash_uniform(*t[i].ptr, t[i].n, coop_seed_derive(seed, t[i].name), lo, hi);
    }
    coop_free(t);
    return 0;
}

int coop_clip_vit_init_hash(struct coop_clip_vit *v, uint64_t seed)
{
    return init_hash(v, vit_tensors_fn, seed);
}

int coop_clip_resnet_init_hash(struct coop_clip_resnet *r, uint64_t seed)
{
    return init_hash(r, resnet_tensors_fn, seed);
}

/* ---- dispatch ------------------------------------------------------------ */
int coop_clip_encode_images(const struct coop_clip_model *m, const float *pixels, int B,
                            float *feat, struct coop_err *e)
{
    switch (m->vision_kind) {
    case COOP_CLIP_VISION_VIT:
        return coop_clip_vit_forward(&m->vit, pixels, B, feat, NULL, e);
    case COOP_CLIP_VISION_RESNET:
        return coop_clip_resnet_forward(&m->resnet, pixels, B, feat, e);
    default:
        return coop_fail(e, COOP_E_UNSUPPORTED, "%s: model has no image tower",
                         m->arch[0] ? m->arch : "clip");
    }
}
