/* core/clip/checkpoint.c: CLIP checkpoint loader and saver. One walk over
 * every parameter (walk_model) serves three passes: validate names and shapes
 * while counting floats, fill the arena, and list tensors for saving. Hugging
 * Face names are mapped onto the OpenAI layout here (q|k|v concatenated,
 * projections transposed). Weights that are NaN or infinite are refused with
 * the file's tensor name (one pass over what was read). Never prints; errors
 * name tensor and shapes. */
#include "coop/checkpoint.h"
#include "coop/safetensors.h"
#include "coop/util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum pass { P_COUNT, P_FILL, P_SAVE };
enum xform { X_NONE, X_TRANSPOSE, X_QKV };

struct save_list {
    size_t n, cap;
    struct coop_clip_tensor_ref *r;
};

struct walk {
    enum pass pass;
    enum coop_ckpt_naming naming;
    const struct coop_safetensors *st;
    float *arena;
    size_t cursor;
    struct save_list *save;
    struct coop_err *e;
};

/* ---- one parameter ------------------------------------------------------- */
static int save_push(struct walk *w, const char *name, int nd, const int64_t *s, const float *p)
{
    struct save_list *l = w->save;
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 256;
        struct coop_clip_tensor_ref *nr = realloc(l->r, nc * sizeof *nr);
        if (!nr)
            return coop_fail(w->e, COOP_E_NOMEM, "out of memory");
        l->r = nr;
        l->cap = nc;
    }
    struct coop_clip_tensor_ref *r = &l->r[l->n];
    memset(r, 0, sizeof *r);
    if (!(r->name = coop_strdup(name)))
        return coop_fail(w->e, COOP_E_NOMEM, "out of memory");
    r->ndim = nd;
    memcpy(r->shape, s, (size_t)nd * sizeof *s);
    r->data = p;
    l->n++;
    return 0;
}

/* A non-finite weight turns every feature it touches into NaN, and a trial on
 * it would "complete" at chance accuracy; refuse the file instead. */
static int check_finite(const struct walk *w, const char *name, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return coop_fail(w->e, COOP_E_FORMAT,
                             "%s: tensor '%s': element %zu is %s; a checkpoint must hold "
                             "finite weights",
                             coop_safetensors_path(w->st), name, i,
                             isnan(v[i]) ? "NaN" : v[i] > 0 ? "+Inf" : "-Inf");
    return 0;
}

static int read_part(struct walk *w, const char *name, int nd, const int64_t *shape, float *dst)
{
    int rc = coop_safetensors_read_f32(w->st, name, shape, nd, dst, w->e);
    size_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= (size_t)shape[i];
    return rc || !dst ? rc : check_finite(w, name, dst, n);
}

/* Validates (P_COUNT) or reads (P_FILL) the file tensor(s) behind one OpenAI
 * parameter with shape s[nd]. Reading into NULL only validates; a missing or
 * mis-shaped tensor fails with the file's own name. */
static int fetch(struct walk *w, const char *hname, enum xform x, int nd, const int64_t *s,
                 float *dst)
{
    float *tmp = NULL;
    int rc = 0;
    if (x == X_NONE) {
        const struct coop_st_tensor *t = coop_safetensors_find(w->st, hname);
        if (dst)
            return read_part(w, hname, nd, s, dst);
        if (!t)
            return coop_fail(w->e, COOP_E_NOTFOUND, "%s: tensor '%s' not found",
                             coop_safetensors_path(w->st), hname);
        /* shape check without conversion; a mismatch goes through the reader
         * (which fails before writing) for the uniform message */
        bool ok = t->ndim == nd;
        for (int i = 0; ok && i < nd; i++)
            ok = t->shape[i] == s[i];
        if (!ok)
            return read_part(w, hname, nd, s, NULL);
        if (t->dtype != COOP_ST_F32 && t->dtype != COOP_ST_F16 && t->dtype != COOP_ST_BF16 &&
            t->dtype != COOP_ST_F64)
            return coop_fail(w->e, COOP_E_UNSUPPORTED, "%s: tensor '%s': dtype %s is not a float type",
                             coop_safetensors_path(w->st), hname, coop_st_dtype_name(t->dtype));
        return 0;
    }
    if (x == X_TRANSPOSE) { /* file [s1, s0] -> ours [s0, s1] */
        int64_t fs[2] = {s[1], s[0]};
        if (!dst)
            return fetch(w, hname, X_NONE, 2, fs, NULL);
        if (!(tmp = malloc((size_t)(s[0] * s[1]) * sizeof *tmp)))
            return coop_fail(w->e, COOP_E_NOMEM, "out of memory");
        rc = read_part(w, hname, 2, fs, tmp);
        for (int64_t i = 0; rc == 0 && i < s[0]; i++)
            for (int64_t j = 0; j < s[1]; j++)
                dst[i * s[1] + j] = tmp[j * s[0] + i];
        free(tmp);
        return rc;
    }
    /* X_QKV: hname has one "%s" for q / k / v; each part is s with s[0] / 3 */
    int64_t ps[2] = {s[0] / 3, nd > 1 ? s[1] : 0};
    size_t part = (size_t)ps[0] * (nd > 1 ? (size_t)ps[1] : 1);
    const char *qkv[3] = {"q", "k", "v"};
    for (int k = 0; k < 3 && rc == 0; k++) {
        char name[256];
        snprintf(name, sizeof name, hname, qkv[k]);
        rc = fetch(w, name, X_NONE, nd, ps, dst ? dst + k * part : NULL);
    }
    return rc;
}

/* One parameter: oname (OpenAI) / hname (HF, NULL = no HF equivalent). */
static int param(struct walk *w, float **ptr, const char *oname, const char *hname, enum xform x,
                 int nd, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    int64_t s[4] = {d0, d1, d2, d3};
    size_t numel = 1;
    for (int i = 0; i < nd; i++)
        numel *= (size_t)s[i];
    if (w->pass == P_SAVE)
        return save_push(w, oname, nd, s, *ptr);
    bool hf = w->naming == COOP_CKPT_HF;
    if (hf && !hname)
        return coop_fail(w->e, COOP_E_UNSUPPORTED,
                         "%s: '%s' has no Hugging Face CLIPModel equivalent",
                         coop_safetensors_path(w->st), oname);
    float *dst = w->pass == P_FILL ? w->arena + w->cursor : NULL;
    int rc = fetch(w, hf ? hname : oname, hf ? x : X_NONE, nd, s, dst);
    if (rc)
        return rc;
    if (ptr && dst)
        *ptr = dst;
    w->cursor += (numel + 15) & ~(size_t)15; /* keep every tensor 64-byte aligned */
    return 0;
}

#define P1(w, ptr, o, h, x, a) param(w, ptr, o, h, x, 1, a, 0, 0, 0)
#define P2(w, ptr, o, h, x, a, b) param(w, ptr, o, h, x, 2, a, b, 0, 0)

/* ---- towers ------------------------------------------------------------------ */
static int walk_block(struct walk *w, struct coop_clip_block *b, const char *op, const char *hp,
                      int W)
{
    char o[160], h[160], h2[160];
    int rc = 0;
#define N(suf) (snprintf(o, sizeof o, "%s%s", op, suf), o)
#define H(suf) (snprintf(h, sizeof h, "%s%s", hp, suf), h)
    rc = rc ? rc : P1(w, &b->ln_1_w, N("ln_1.weight"), H("layer_norm1.weight"), X_NONE, W);
    rc = rc ? rc : P1(w, &b->ln_1_b, N("ln_1.bias"), H("layer_norm1.bias"), X_NONE, W);
    snprintf(h2, sizeof h2, "%sself_attn.%%s_proj.weight", hp);
    rc = rc ? rc : P2(w, &b->in_proj_w, N("attn.in_proj_weight"), h2, X_QKV, 3 * W, W);
    snprintf(h2, sizeof h2, "%sself_attn.%%s_proj.bias", hp);
    rc = rc ? rc : P1(w, &b->in_proj_b, N("attn.in_proj_bias"), h2, X_QKV, 3 * W);
    rc = rc ? rc : P2(w, &b->out_proj_w, N("attn.out_proj.weight"), H("self_attn.out_proj.weight"), X_NONE, W, W);
    rc = rc ? rc : P1(w, &b->out_proj_b, N("attn.out_proj.bias"), H("self_attn.out_proj.bias"), X_NONE, W);
    rc = rc ? rc : P1(w, &b->ln_2_w, N("ln_2.weight"), H("layer_norm2.weight"), X_NONE, W);
    rc = rc ? rc : P1(w, &b->ln_2_b, N("ln_2.bias"), H("layer_norm2.bias"), X_NONE, W);
    rc = rc ? rc : P2(w, &b->c_fc_w, N("mlp.c_fc.weight"), H("mlp.fc1.weight"), X_NONE, 4 * W, W);
    rc = rc ? rc : P1(w, &b->c_fc_b, N("mlp.c_fc.bias"), H("mlp.fc1.bias"), X_NONE, 4 * W);
    rc = rc ? rc : P2(w, &b->c_proj_w, N("mlp.c_proj.weight"), H("mlp.fc2.weight"), X_NONE, W, 4 * W);
    rc = rc ? rc : P1(w, &b->c_proj_b, N("mlp.c_proj.bias"), H("mlp.fc2.bias"), X_NONE, W);
#undef N
#undef H
    return rc;
}

static int walk_text(struct walk *w, struct coop_clip_text *t)
{
    int W = t->width, rc = 0;
    rc = rc ? rc : P2(w, &t->token_embedding, "token_embedding.weight",
                      "text_model.embeddings.token_embedding.weight", X_NONE, t->vocab_size, W);
    rc = rc ? rc : P2(w, &t->positional_embedding, "positional_embedding",
                      "text_model.embeddings.position_embedding.weight", X_NONE,
                      t->context_length, W);
    for (int i = 0; i < t->layers && rc == 0; i++) {
        char op[64], hp[64];
        snprintf(op, sizeof op, "transformer.resblocks.%d.", i);
        snprintf(hp, sizeof hp, "text_model.encoder.layers.%d.", i);
        rc = walk_block(w, &t->blocks[i], op, hp, W);
    }
    rc = rc ? rc : P1(w, &t->ln_final_w, "ln_final.weight", "text_model.final_layer_norm.weight", X_NONE, W);
    rc = rc ? rc : P1(w, &t->ln_final_b, "ln_final.bias", "text_model.final_layer_norm.bias", X_NONE, W);
    rc = rc ? rc : P2(w, &t->text_projection, "text_projection", "text_projection.weight",
                      X_TRANSPOSE, W, t->embed_dim);
    return rc;
}

static int walk_vit(struct walk *w, struct coop_clip_vit *v)
{
    int W = v->width, P = v->patch_size, g = v->image_size / P, rc = 0;
    rc = rc ? rc : param(w, &v->conv1_w, "visual.conv1.weight",
                         "vision_model.embeddings.patch_embedding.weight", X_NONE, 4, W, 3, P, P);
    rc = rc ? rc : P1(w, &v->class_embedding, "visual.class_embedding",
                      "vision_model.embeddings.class_embedding", X_NONE, W);
    rc = rc ? rc : P2(w, &v->positional_embedding, "visual.positional_embedding",
                      "vision_model.embeddings.position_embedding.weight", X_NONE, g * g + 1, W);
    rc = rc ? rc : P1(w, &v->ln_pre_w, "visual.ln_pre.weight", "vision_model.pre_layrnorm.weight", X_NONE, W);
    rc = rc ? rc : P1(w, &v->ln_pre_b, "visual.ln_pre.bias", "vision_model.pre_layrnorm.bias", X_NONE, W);
    for (int i = 0; i < v->layers && rc == 0; i++) {
        char op[64], hp[64];
        snprintf(op, sizeof op, "visual.transformer.resblocks.%d.", i);
        snprintf(hp, sizeof hp, "vision_model.encoder.layers.%d.", i);
        rc = walk_block(w, &v->blocks[i], op, hp, W);
    }
    rc = rc ? rc : P1(w, &v->ln_post_w, "visual.ln_post.weight", "vision_model.post_layernorm.weight", X_NONE, W);
    rc = rc ? rc : P1(w, &v->ln_post_b, "visual.ln_post.bias", "vision_model.post_layernorm.bias", X_NONE, W);
    rc = rc ? rc : P2(w, &v->proj, "visual.proj", "visual_projection.weight", X_TRANSPOSE, W,
                      v->embed_dim);
    return rc;
}

static int walk_bn(struct walk *w, struct coop_clip_bn *bn, const char *pre, int C)
{
    char n[160];
    int rc = 0;
    snprintf(n, sizeof n, "%s.weight", pre);
    rc = rc ? rc : P1(w, &bn->w, n, NULL, X_NONE, C);
    snprintf(n, sizeof n, "%s.bias", pre);
    rc = rc ? rc : P1(w, &bn->b, n, NULL, X_NONE, C);
    snprintf(n, sizeof n, "%s.running_mean", pre);
    rc = rc ? rc : P1(w, &bn->mean, n, NULL, X_NONE, C);
    snprintf(n, sizeof n, "%s.running_var", pre);
    rc = rc ? rc : P1(w, &bn->var, n, NULL, X_NONE, C);
    return rc;
}

static int walk_conv(struct walk *w, float **p, const char *name, int co, int ci, int k)
{
    return param(w, p, name, NULL, X_NONE, 4, co, ci, k, k);
}

static int walk_bottleneck(struct walk *w, struct coop_clip_bottleneck *b, const char *pre)
{
    char n[160], m[160];
    int rc = 0, ip = b->inplanes, p = b->planes;
#define NM(suf) (snprintf(n, sizeof n, "%s.%s", pre, suf), n)
#define BN(suf) (snprintf(m, sizeof m, "%s.%s", pre, suf), m)
    rc = rc ? rc : walk_conv(w, &b->conv1_w, NM("conv1.weight"), p, ip, 1);
    rc = rc ? rc : walk_bn(w, &b->bn1, BN("bn1"), p);
    rc = rc ? rc : walk_conv(w, &b->conv2_w, NM("conv2.weight"), p, p, 3);
    rc = rc ? rc : walk_bn(w, &b->bn2, BN("bn2"), p);
    rc = rc ? rc : walk_conv(w, &b->conv3_w, NM("conv3.weight"), 4 * p, p, 1);
    rc = rc ? rc : walk_bn(w, &b->bn3, BN("bn3"), 4 * p);
    if (b->has_downsample) {
        rc = rc ? rc : walk_conv(w, &b->down_conv_w, NM("downsample.0.weight"), 4 * p, ip, 1);
        rc = rc ? rc : walk_bn(w, &b->down_bn, BN("downsample.1"), 4 * p);
    }
#undef NM
#undef BN
    return rc;
}

static int walk_resnet(struct walk *w, struct coop_clip_resnet *r)
{
    int W = r->width, D = 32 * W, g = r->image_size / 32, rc = 0, k = 0;
    rc = rc ? rc : walk_conv(w, &r->conv1_w, "visual.conv1.weight", W / 2, 3, 3);
    rc = rc ? rc : walk_bn(w, &r->bn1, "visual.bn1", W / 2);
    rc = rc ? rc : walk_conv(w, &r->conv2_w, "visual.conv2.weight", W / 2, W / 2, 3);
    rc = rc ? rc : walk_bn(w, &r->bn2, "visual.bn2", W / 2);
    rc = rc ? rc : walk_conv(w, &r->conv3_w, "visual.conv3.weight", W, W / 2, 3);
    rc = rc ? rc : walk_bn(w, &r->bn3, "visual.bn3", W);
    for (int l = 0; l < 4 && rc == 0; l++)
        for (int i = 0; i < r->layers[l] && rc == 0; i++, k++) {
            char pre[64];
            snprintf(pre, sizeof pre, "visual.layer%d.%d", l + 1, i);
            rc = walk_bottleneck(w, &r->blocks[k], pre);
        }
    rc = rc ? rc : P2(w, &r->ap_positional_embedding, "visual.attnpool.positional_embedding",
                      NULL, X_NONE, g * g + 1, D);
    rc = rc ? rc : P2(w, &r->ap_q_w, "visual.attnpool.q_proj.weight", NULL, X_NONE, D, D);
    rc = rc ? rc : P1(w, &r->ap_q_b, "visual.attnpool.q_proj.bias", NULL, X_NONE, D);
    rc = rc ? rc : P2(w, &r->ap_k_w, "visual.attnpool.k_proj.weight", NULL, X_NONE, D, D);
    rc = rc ? rc : P1(w, &r->ap_k_b, "visual.attnpool.k_proj.bias", NULL, X_NONE, D);
    rc = rc ? rc : P2(w, &r->ap_v_w, "visual.attnpool.v_proj.weight", NULL, X_NONE, D, D);
    rc = rc ? rc : P1(w, &r->ap_v_b, "visual.attnpool.v_proj.bias", NULL, X_NONE, D);
    rc = rc ? rc : P2(w, &r->ap_c_w, "visual.attnpool.c_proj.weight", NULL, X_NONE, r->embed_dim, D);
    rc = rc ? rc : P1(w, &r->ap_c_b, "visual.attnpool.c_proj.bias", NULL, X_NONE, r->embed_dim);
    return rc;
}

/* logit_scale is a scalar: shape [] (OpenAI, HF) or [1]; it lives outside the
 * arena in the model struct, so it is handled apart from param(). */
static int walk_logit_scale(struct walk *w, struct coop_clip_model *m)
{
    if (w->pass == P_SAVE) {
        int64_t none[1] = {0};
        return save_push(w, "logit_scale", 0, none, &m->logit_scale);
    }
    const struct coop_st_tensor *t = coop_safetensors_find(w->st, "logit_scale");
    if (!t)
        return coop_fail(w->e, COOP_E_NOTFOUND, "%s: tensor 'logit_scale' not found",
                         coop_safetensors_path(w->st));
    if (coop_st_numel(t) != 1 || t->ndim > 1)
        return coop_fail(w->e, COOP_E_FORMAT,
                         "%s: tensor 'logit_scale': wrong shape: expected [] or [1], got %d dims "
                         "of %zu elements",
                         coop_safetensors_path(w->st), t->ndim, coop_st_numel(t));
    if (w->pass != P_FILL)
        return 0;
    int rc = coop_st_tensor_to_f32(w->st, t, &m->logit_scale, w->e);
    return rc ? rc : check_finite(w, "logit_scale", &m->logit_scale, 1);
}

static int walk_model(struct walk *w, struct coop_clip_model *m)
{
    int rc = walk_text(w, &m->text);
    if (rc == 0 && m->vision_kind == COOP_CLIP_VISION_VIT)
        rc = walk_vit(w, &m->vit);
    if (rc == 0 && m->vision_kind == COOP_CLIP_VISION_RESNET)
        rc = walk_resnet(w, &m->resnet);
    if (rc == 0)
        rc = walk_logit_scale(w, m);
    return rc;
}

/* ---- architecture inference (core/clip/arch.c) ---------------------------- */
int coop_clip_infer_arch(struct coop_clip_model *m, const struct coop_safetensors *st,
                         enum coop_ckpt_naming naming, struct coop_err *e);

struct aux {
    struct coop_clip_block *text_blocks, *vit_blocks;
    struct coop_clip_bottleneck *bottlenecks;
};

int coop_clip_checkpoint_naming(const char *path, enum coop_ckpt_naming *naming,
                                struct coop_err *e)
{
    struct coop_safetensors *st;
    int rc = coop_safetensors_open(&st, path, e);
    if (rc)
        return rc;
    *naming = 0;
    if (coop_safetensors_find(st, "text_model.embeddings.token_embedding.weight"))
        *naming = COOP_CKPT_HF;
    else if (coop_safetensors_find(st, "token_embedding.weight"))
        *naming = COOP_CKPT_OPENAI;
    coop_safetensors_close(st);
    return 0;
}

static int alloc_aux(struct coop_clip_model *m, struct coop_err *e)
{
    struct aux *a = calloc(1, sizeof *a);
    int nb = 0;
    for (int l = 0; l < 4; l++)
        nb += m->resnet.layers[l];
    if (a) {
        a->text_blocks = calloc((size_t)m->text.layers + 1, sizeof *a->text_blocks);
        a->vit_blocks = calloc((size_t)m->vit.layers + 1, sizeof *a->vit_blocks);
        a->bottlenecks = calloc((size_t)nb + 1, sizeof *a->bottlenecks);
    }
    m->aux = a;
    if (!a || !a->text_blocks || !a->vit_blocks || !a->bottlenecks)
        return coop_fail(e, COOP_E_NOMEM, "out of memory for the model's block tables");
    m->text.blocks = a->text_blocks;
    if (m->vision_kind == COOP_CLIP_VISION_VIT)
        m->vit.blocks = a->vit_blocks;
    if (m->vision_kind == COOP_CLIP_VISION_RESNET) {
        m->resnet.blocks = a->bottlenecks;
        int k = 0, inplanes = m->resnet.width;
        for (int l = 0; l < 4; l++)
            for (int i = 0; i < m->resnet.layers[l]; i++, k++) {
                struct coop_clip_bottleneck *b = &a->bottlenecks[k];
                b->inplanes = inplanes;
                b->planes = m->resnet.width << l;
                b->stride = (i == 0 && l > 0) ? 2 : 1;
                b->has_downsample = b->stride > 1 || inplanes != 4 * b->planes;
                inplanes = 4 * b->planes;
            }
    }
    return 0;
}

/* The caller's struct must be this libcoop's: a plugin built against other
 * headers would be overrun or read members at the wrong offsets. */
static int check_layout(size_t size, unsigned layout, const char *path, struct coop_err *e)
{
    if (size == sizeof(struct coop_clip_model) && layout == COOP_CLIP_LAYOUT)
        return 0;
    return coop_fail(e, COOP_E_INVAL,
                     "%s: the caller's struct coop_clip_model has layout %u (%zu bytes), this "
                     "coop's has layout %u (%zu bytes): rebuild the plugin against the installed "
                     "SDK",
                     path, layout, size, COOP_CLIP_LAYOUT, sizeof(struct coop_clip_model));
}

/* The unsized entry of SDKs before ABI 1.4: its caller's layout is unknown. */
int (coop_clip_model_load)(struct coop_clip_model *m, const char *path, struct coop_err *e)
{
    (void)m;
    return coop_fail(e, COOP_E_INVAL,
                     "%s: coop_clip_model_load was called without its struct's layout (a plugin "
                     "built against an SDK before ABI 1.4); this coop's struct coop_clip_model "
                     "has layout %u (%zu bytes): rebuild the plugin against the installed SDK",
                     path, COOP_CLIP_LAYOUT, sizeof(struct coop_clip_model));
}

int coop_clip_model_load_sized(struct coop_clip_model *m, size_t size, unsigned layout,
                               const char *path, struct coop_err *e)
{
    int rc = check_layout(size, layout, path, e);
    if (rc)
        return rc;
    memset(m, 0, sizeof *m);
    struct coop_safetensors *st;
    enum coop_ckpt_naming naming = 0;
    rc = coop_safetensors_open(&st, path, e);
    if (rc)
        return rc;
    if (coop_safetensors_find(st, "text_model.embeddings.token_embedding.weight"))
        naming = COOP_CKPT_HF;
    else if (coop_safetensors_find(st, "token_embedding.weight"))
        naming = COOP_CKPT_OPENAI;
    else
        rc = coop_fail(e, COOP_E_NOTFOUND,
                       "%s: not a CLIP checkpoint: neither 'token_embedding.weight' (OpenAI) nor "
                       "'text_model.embeddings.token_embedding.weight' (Hugging Face) found",
                       path);
    if (rc == 0)
        rc = coop_clip_infer_arch(m, st, naming, e);
    if (rc == 0)
        rc = alloc_aux(m, e);
    struct walk w = {P_COUNT, naming, st, NULL, 0, NULL, e};
    if (rc == 0)
        rc = walk_model(&w, m);
    if (rc == 0) {
        m->n_floats = w.cursor;
        if (!(m->arena = coop_alloc_floats(w.cursor ? w.cursor : 1)))
            rc = coop_fail(e, COOP_E_NOMEM, "%s: cannot allocate %zu floats for the weights",
                           path, w.cursor);
    }
    if (rc == 0) {
        w.pass = P_FILL;
        w.arena = m->arena;
        w.cursor = 0;
        rc = walk_model(&w, m);
    }
    coop_safetensors_close(st);
    if (rc)
        coop_clip_model_free(m);
    return rc;
}

void coop_clip_model_free(struct coop_clip_model *m)
{
    if (!m)
        return;
    coop_clip_text_bf16_disable(&m->text);
    coop_clip_vit_bf16_disable(&m->vit);
    coop_clip_resnet_bf16_disable(&m->resnet);
    struct aux *a = m->aux;
    if (a) {
        free(a->text_blocks);
        free(a->vit_blocks);
        free(a->bottlenecks);
        free(a);
    }
    coop_free(m->arena);
    memset(m, 0, sizeof *m);
}

void coop_clip_tensor_refs_free(struct coop_clip_tensor_ref *refs, size_t n)
{
    for (size_t i = 0; refs && i < n; i++)
        free(refs[i].name);
    free(refs);
}

int coop_clip_model_tensors(const struct coop_clip_model *m, struct coop_clip_tensor_ref **out,
                            size_t *n, struct coop_err *e)
{
    struct save_list l = {0};
    struct walk w = {P_SAVE, COOP_CKPT_OPENAI, NULL, NULL, 0, &l, e};
    /* the walk takes non-const pointers; in P_SAVE it only reads them. The
     * scalar logit_scale is referenced in place through the cast. */
    int rc = walk_model(&w, (struct coop_clip_model *)m);
    if (rc) {
        coop_clip_tensor_refs_free(l.r, l.n);
        return rc;
    }
    *out = l.r;
    *n = l.n;
    return 0;
}

int coop_clip_model_save(const struct coop_clip_model *m, const char *path, struct coop_err *e)
{
    struct coop_clip_tensor_ref *r;
    size_t n;
    int rc = coop_clip_model_tensors(m, &r, &n, e);
    if (rc)
        return rc;
    const char **names = malloc((n + 1) * sizeof *names);
    const int64_t **shapes = malloc((n + 1) * sizeof *shapes);
    const float **data = malloc((n + 1) * sizeof *data);
    int *ndims = malloc((n + 1) * sizeof *ndims);
    if (!names || !shapes || !data || !ndims) {
        rc = coop_fail(e, COOP_E_NOMEM, "out of memory");
    } else {
        for (size_t i = 0; i < n; i++) {
            names[i] = r[i].name;
            shapes[i] = r[i].shape;
            data[i] = r[i].data;
            ndims[i] = r[i].ndim;
        }
        char heads[2][16];
        snprintf(heads[0], sizeof heads[0], "%d", m->text.heads);
        snprintf(heads[1], sizeof heads[1], "%d",
                 m->vision_kind == COOP_CLIP_VISION_VIT ? m->vit.heads : m->resnet.heads);
        const char *meta[] = {"format", "pt", "coop.arch", m->arch, "coop.text_heads", heads[0],
                              m->vision_kind ? "coop.vision_heads" : NULL, heads[1], NULL};
        rc = coop_safetensors_write(path, n, names, ndims, shapes, data, meta, e);
    }
    free(names);
    free(shapes);
    free(data);
    free(ndims);
    coop_clip_tensor_refs_free(r, n);
    return rc;
}
