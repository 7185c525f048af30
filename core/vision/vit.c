/* vit.c: the CLIP Vision Transformer: forward (inference or with a tape of
 * activations) and backward to every weight gradient and optionally to the
 * pixels (pretraining on the synthetic world trains it). conv1 is a matmul
 * of flattened patches; blocks are the pre-norm residual blocks of the text
 * tower, without a mask. Kernels come from coop/nn.h. Inference encodes one
 * image at a time, so features never depend on the batch; the taped forward
 * (training) stays batched. */
#include "coop/clip.h"
#include "coop/nn.h"
#include "coop/util.h"
#include "clip/towers_bf16.h"
#include "nn/nn_internal.h"
#include "vision.h"
#include <string.h>

#define LN_EPS 1e-5f

struct vit_acts { /* one block's saved activations; sizes for BT tokens */
    float *x;                       /* [BT, W] block input */
    float *ln1, *ln1_mean, *ln1_rstd; /* [BT, W], [BT], [BT] */
    float *qkv;                     /* [BT, 3W] */
    float *att;                     /* [B, H, T, T] (NULL in inference) */
    float *ao;                      /* [BT, W] attention output, before out_proj */
    float *xm;                      /* [BT, W] x + attention branch */
    float *ln2, *ln2_mean, *ln2_rstd; /* [BT, W], [BT], [BT] */
    float *fc, *ge;                 /* [BT, 4W] c_fc output, quick_gelu of it */
};

struct coop_clip_vit_tape {
    int B, full, nl;                /* batch, full tape, vit_acts entries in L */
    size_t mem_n;                   /* floats in mem */
    float *mem;
    float *gmem;                    /* the backward's scratch, kept for the next step */
    size_t gmem_n;
    float *patches;                 /* [B * Np, 3 P P] */
    float *x0;                      /* [BT, W] embeddings + positional, before ln_pre */
    float *pre_mean, *pre_rstd;     /* [BT] */
    struct vit_acts *L;             /* [layers] */
    float *xL;                      /* [BT, W] transformer output */
    float *cls, *post, *post_mean, *post_rstd; /* [B, W], [B, W], [B], [B] */
    float *sc;                      /* [T] attention scratch (inference) */
};

/* Bump allocation from one block; a NULL base only counts. */
struct bump {
    float *base;
    size_t used;
};
static float *take(struct bump *m, size_t n)
{
    float *p = m->base ? m->base + m->used : NULL;
    m->used += (n + 15) / 16 * 16; /* keep 64-byte alignment */
    return p;
}

static void acts_take(struct vit_acts *a, struct bump *m, size_t BT, int W, int B, int H, int T,
                      int with_att)
{
    a->x = take(m, BT * W);
    a->ln1 = take(m, BT * W);
    a->ln1_mean = take(m, BT);
    a->ln1_rstd = take(m, BT);
    a->qkv = take(m, BT * 3 * W);
    a->att = with_att ? take(m, (size_t)B * H * T * T) : NULL;
    a->ao = take(m, BT * W);
    a->xm = take(m, BT * W);
    a->ln2 = take(m, BT * W);
    a->ln2_mean = take(m, BT);
    a->ln2_rstd = take(m, BT);
    a->fc = take(m, BT * 4 * W);
    a->ge = take(m, BT * 4 * W);
}

/* Lays out every buffer of a forward pass; inference keeps one block's set. */
static void tape_take(struct coop_clip_vit_tape *t, struct bump *m, const struct coop_clip_vit *v,
                      int B, int full)
{
    int W = v->width, P = v->patch_size, G = v->image_size / P, T = G * G + 1;
    size_t BT = (size_t)B * T;
    t->patches = take(m, (size_t)B * G * G * 3 * P * P);
    t->x0 = take(m, BT * W);
    t->pre_mean = take(m, BT);
    t->pre_rstd = take(m, BT);
    int n = full ? v->layers : 1;
    for (int l = 0; l < n; l++)
        acts_take(&t->L[l], m, BT, W, B, v->heads, T, full);
    t->xL = full ? take(m, BT * W) : t->L[0].x;
    t->cls = take(m, (size_t)B * W);
    t->post = take(m, (size_t)B * W);
    t->post_mean = take(m, B);
    t->post_rstd = take(m, B);
    t->sc = take(m, T);
}

/* patches [B, G*G, 3*P*P]: feature order (c, ky, kx), patches row-major. */
static void extract_patches(float *patches, const float *pixels, int B, int S, int P)
{
    int G = S / P, K = 3 * P * P;
    for (int b = 0; b < B; b++)
        for (int py = 0; py < G; py++)
            for (int px = 0; px < G; px++) {
                float *dst = patches + ((size_t)b * G * G + py * G + px) * K;
                for (int c = 0; c < 3; c++)
                    for (int ky = 0; ky < P; ky++)
                        memcpy(dst + (c * P + ky) * P,
                               pixels + (((size_t)b * 3 + c) * S + py * P + ky) * S + px * P,
                               sizeof(float) * (size_t)P);
            }
}

static void add_inplace(float *y, const float *x, size_t n)
{
#pragma omp parallel for schedule(static) if (n > COOP_PAR_MIN_ELEMS)
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}

/* The MLP half of a block on n rows of a->xm (the attention half's output):
 * out = xm + c_proj(QuickGELU(c_fc(ln_2(xm)))); a->ln2 / fc / ge hold its
 * activations. */
static void mlp_residual(struct coop_clip_bf16 *bf, const struct coop_clip_block *k,
                         struct vit_acts *a, float *out, int n, int W)
{
    coop_layernorm_forward(a->ln2, a->ln2_mean, a->ln2_rstd, a->xm, k->ln_2_w, k->ln_2_b, n, W,
                           LN_EPS);
    coop_clip_bf16_linear(bf, a->fc, a->ln2, k->c_fc_w, k->c_fc_b, n, W, 4 * W);
    coop_clip_bf16_gelu(bf, a->ge, a->fc, (size_t)n * 4 * W);
    coop_clip_bf16_linear(bf, out, a->ge, k->c_proj_w, k->c_proj_b, n, 4 * W, W);
    add_inplace(out, a->xm, (size_t)n * W);
}
/* x_out [BT, W] = block(a->x); x_out may alias a->x (inference). */
static void block_forward(struct coop_clip_bf16 *bf, const struct coop_clip_block *k,
                          struct vit_acts *a, float *x_out, int B, int T, int W, int H)
{
    int BT = B * T;
    if (bf && x_out == a->x) { /* inference in bf16: both halves in place, adds as post-ops */
        for (int b = 0; b < B; b++) {
            size_t o = (size_t)b * T * W;
            coop_clip_bf16_attn_acc(bf, a->x + o, k, T, W, H, LN_EPS, a->ln1 + o, a->qkv + 3 * o,
                                    a->ao + o);
        }
        coop_clip_bf16_mlp_acc(bf, a->x, k, BT, W, LN_EPS, a->ln2, a->fc, a->ge);
        return;
    }
    coop_layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, a->x, k->ln_1_w, k->ln_1_b, BT, W,
                           LN_EPS);
    coop_clip_bf16_linear(bf, a->qkv, a->ln1, k->in_proj_w, k->in_proj_b, BT, W, 3 * W);
    coop_clip_bf16_attention(bf, a->ao, a->att, a->qkv, B, T, W, H, 0);
    coop_clip_bf16_linear(bf, a->xm, a->ao, k->out_proj_w, k->out_proj_b, BT, W, W);
    add_inplace(a->xm, a->x, (size_t)BT * W);
    mlp_residual(bf, k, a, x_out, BT, W);
}

/* Inference shortcut for the last block: only the class token's output is
 * read, so after the full qkv projection (every token is a key / value) the
 * attention, out_proj and MLP run on the B class rows alone. cls [B, W];
 * a->ao / xm / ln2 / fc / ge are used for B rows; sc [T] scratch. */
static void last_block_cls(struct coop_clip_bf16 *bf, const struct coop_clip_block *k,
                           struct vit_acts *a, float *cls, int B, int T, int W, int H, float *sc)
{
    int BT = B * T;
    coop_layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, a->x, k->ln_1_w, k->ln_1_b, BT, W,
                           LN_EPS);
    coop_clip_bf16_linear(bf, a->qkv, a->ln1, k->in_proj_w, k->in_proj_b, BT, W, 3 * W);
    for (int b = 0; b < B; b++) {
        const float *qb = a->qkv + (size_t)b * T * 3 * W;
        coop_attention_one_forward(a->ao + (size_t)b * W, qb, qb + W, qb + 2 * W, 3 * W, T, W, H,
                                   sc);
    }
    coop_clip_bf16_linear(bf, a->xm, a->ao, k->out_proj_w, k->out_proj_b, B, W, W);
    for (int b = 0; b < B; b++)
        add_inplace(a->xm + (size_t)b * W, a->x + (size_t)b * T * W, (size_t)W);
    mlp_residual(bf, k, a, cls, B, W);
}

/* Embeddings: x0 [B, T, W] = [class | patches @ conv1^T] + positional. */
static void embed(const struct coop_clip_vit *v, struct coop_clip_vit_tape *t, int B)
{
    int W = v->width, Np = (v->image_size / v->patch_size) * (v->image_size / v->patch_size);
    int T = Np + 1, K = 3 * v->patch_size * v->patch_size;
    /* rows 1..T-1 of each image, written in place then shifted: emb [B*Np, W]
     * lands in x0 at stride T via a per-image GEMM */
    for (int b = 0; b < B; b++) {
        float *xb = t->x0 + (size_t)b * T * W;
        coop_clip_bf16_linear(v->bf16, xb + W, t->patches + (size_t)b * Np * K, v->conv1_w, NULL,
                              Np, K, W);
        memcpy(xb, v->class_embedding, sizeof(float) * (size_t)W);
        add_inplace(xb, v->positional_embedding, (size_t)T * W);
    }
}

static void vit_run(const struct coop_clip_vit *v, struct coop_clip_vit_tape *t,
                    const float *pixels, int B, int full, float *feat)
{
    int W = v->width, P = v->patch_size, G = v->image_size / P, T = G * G + 1, BT = B * T;
    extract_patches(t->patches, pixels, B, v->image_size, P);
    embed(v, t, B);
    coop_layernorm_forward(t->L[0].x, t->pre_mean, t->pre_rstd, t->x0, v->ln_pre_w, v->ln_pre_b,
                           BT, W, LN_EPS);
    int fast = !full && v->layers > 0; /* inference: last block on the class rows */
    for (int l = 0; l < v->layers - fast; l++) {
        struct vit_acts *a = &t->L[full ? l : 0];
        float *out = !full ? a->x : (l + 1 < v->layers ? t->L[l + 1].x : t->xL);
        block_forward(v->bf16, &v->blocks[l], a, out, B, T, W, v->heads);
    }
    if (fast) {
        last_block_cls(v->bf16, &v->blocks[v->layers - 1], &t->L[0], t->cls, B, T, W, v->heads,
                       t->sc);
    } else {
        if (t->xL != t->L[0].x && v->layers == 0)
            memcpy(t->xL, t->L[0].x, sizeof(float) * (size_t)BT * W);
        for (int b = 0; b < B; b++)
            memcpy(t->cls + (size_t)b * W, t->xL + (size_t)b * T * W, sizeof(float) * (size_t)W);
    }
    coop_layernorm_forward(t->post, t->post_mean, t->post_rstd, t->cls, v->ln_post_w,
                           v->ln_post_b, B, W, LN_EPS);
    coop_matmul_forward(feat, t->post, v->proj, B, W, v->embed_dim);
}

/* The forward into the tape `old` when it was made for the same model and batch
 * size (no allocation), else into a new one (old is freed). */
static int vit_forward(const struct coop_clip_vit *v, const float *pixels, int B, float *feat,
                       struct coop_clip_vit_tape **tape, struct coop_clip_vit_tape *old,
                       struct coop_err *e)
{
    if (tape)
        *tape = NULL;
    if (B == 0 && !tape) {
        coop_clip_vit_tape_free(old);
        return 0;
    }
    if (B <= 0 || !v->blocks || v->patch_size <= 0 || v->image_size % v->patch_size ||
        v->heads <= 0 || v->width % v->heads) {
        coop_clip_vit_tape_free(old);
        return coop_fail(e, COOP_E_INVAL, "vit: bad call (batch %d, image %d, patch %d)", B,
                         v->image_size, v->patch_size);
    }
    int full = tape != NULL, nl = v->layers > 0 ? v->layers : 1;
    int TB = full ? B : 1; /* the batch the tape is laid out for */
    struct coop_clip_vit_tape *t = old;
    if (t && t->nl != nl) {
        coop_clip_vit_tape_free(t);
        t = NULL;
    }
    if (!t) {
        t = coop_alloc(sizeof *t + (size_t)nl * sizeof(struct vit_acts));
        if (!t)
            return coop_fail(e, COOP_E_NOMEM, "vit: cannot allocate a tape");
        t->L = (struct vit_acts *)(t + 1);
        t->nl = nl;
    }
    struct bump m = {NULL, 0}; /* sizes only */
    tape_take(t, &m, v, TB, full || v->layers == 0);
    if (!t->mem || t->B != TB || t->full != full || t->mem_n != m.used) {
        coop_free(t->mem);
        t->mem = coop_alloc_floats(m.used);
        if (!t->mem) {
            coop_clip_vit_tape_free(t);
            return coop_fail(e, COOP_E_NOMEM, "vit: cannot allocate activations for batch %d",
                             TB);
        }
        t->B = TB;
        t->full = full;
        t->mem_n = m.used;
    }
    m = (struct bump){t->mem, 0};
    tape_take(t, &m, v, TB, full || v->layers == 0);
    coop_clip_bf16_reset(v->bf16);
    if (full) {
        vit_run(v, t, pixels, B, 1, feat);
        int rc = coop_clip_bf16_status(v->bf16, e);
        if (rc)
            coop_clip_vit_tape_free(t);
        *tape = rc ? NULL : t;
        return rc;
    }
    /* Inference: one image at a time through the same buffers, so an image's
     * features are the same bits whatever shares its batch (docs/vision.md). */
    size_t px = (size_t)3 * v->image_size * v->image_size;
    for (int b = 0; b < B; b++)
        vit_run(v, t, pixels + b * px, 1, 0, feat + (size_t)b * v->embed_dim);
    coop_clip_vit_tape_free(t);
    return coop_clip_bf16_status(v->bf16, e);
}

int coop_clip_vit_forward(const struct coop_clip_vit *v, const float *pixels, int B, float *feat,
                          struct coop_clip_vit_tape **tape, struct coop_err *e)
{
    return vit_forward(v, pixels, B, feat, tape, NULL, e);
}

int coop_clip_vit_forward_reuse(const struct coop_clip_vit *v, const float *pixels, int B,
                                float *feat, struct coop_clip_vit_tape **tape, struct coop_err *e)
{
    if (!tape)
        return coop_fail(e, COOP_E_INVAL, "vit: forward_reuse needs a tape pointer");
    struct coop_clip_vit_tape *old = *tape;
    return vit_forward(v, pixels, B, feat, tape, old, e);
}

void coop_clip_vit_tape_free(struct coop_clip_vit_tape *tape)
{
    if (!tape)
        return;
    coop_free(tape->mem);
    coop_free(tape->gmem);
    coop_free(tape);
}

/* ---- backward ------------------------------------------------------------ */
struct vit_grads_scratch { /* per-block gradient buffers, zeroed before each use */
    float *dxm, *dge, *dfc, *dln2, *dao, *dqkv, *dln1; /* [BT, W|4W|3W] */
};

/* dx [BT, W] (+=) from dxout [BT, W] through one block; g may be NULL. */
static void block_backward(const struct coop_clip_block *k, const struct vit_acts *a,
                           struct coop_clip_block *g, struct vit_grads_scratch *s, float *dx,
                           const float *dxout, int B, int T, int W, int H)
{
    size_t BT = (size_t)B * T, n = BT * W;
    memcpy(s->dxm, dxout, sizeof(float) * n);
    memset(s->dge, 0, sizeof(float) * n * 4);
    coop_linear_backward(s->dge, g ? g->c_proj_w : NULL, g ? g->c_proj_b : NULL, dxout, a->ge,
                         k->c_proj_w, (int)BT, 4 * W, W);
    memset(s->dfc, 0, sizeof(float) * n * 4);
    coop_quick_gelu_backward(s->dfc, s->dge, a->fc, n * 4);
    memset(s->dln2, 0, sizeof(float) * n);
    coop_linear_backward(s->dln2, g ? g->c_fc_w : NULL, g ? g->c_fc_b : NULL, s->dfc, a->ln2,
                         k->c_fc_w, (int)BT, W, 4 * W);
    coop_layernorm_backward(s->dxm, g ? g->ln_2_w : NULL, g ? g->ln_2_b : NULL, s->dln2, a->xm,
                            k->ln_2_w, a->ln2_mean, a->ln2_rstd, (int)BT, W);
    add_inplace(dx, s->dxm, n);
    memset(s->dao, 0, sizeof(float) * n);
    coop_linear_backward(s->dao, g ? g->out_proj_w : NULL, g ? g->out_proj_b : NULL, s->dxm,
                         a->ao, k->out_proj_w, (int)BT, W, W);
    memset(s->dqkv, 0, sizeof(float) * n * 3);
    coop_attention_backward(s->dqkv, s->dao, a->qkv, a->att, B, T, W, H, 0);
    memset(s->dln1, 0, sizeof(float) * n);
    coop_linear_backward(s->dln1, g ? g->in_proj_w : NULL, g ? g->in_proj_b : NULL, s->dqkv,
                         a->ln1, k->in_proj_w, (int)BT, W, 3 * W);
    coop_layernorm_backward(dx, g ? g->ln_1_w : NULL, g ? g->ln_1_b : NULL, s->dln1, a->x,
                            k->ln_1_w, a->ln1_mean, a->ln1_rstd, (int)BT, W);
}

/* dfeat -> dxL [BT, W] (only class-token rows non-zero). */
static void head_backward(const struct coop_clip_vit *v, const struct coop_clip_vit_tape *t,
                          struct coop_clip_vit *dw, const float *dfeat, float *dxL, float *dpost,
                          float *dcls, int T)
{
    int B = t->B, W = v->width;
    coop_matmul_backward(dpost, dw ? dw->proj : NULL, dfeat, t->post, v->proj, B, W,
                         v->embed_dim);
    coop_layernorm_backward(dcls, dw ? dw->ln_post_w : NULL, dw ? dw->ln_post_b : NULL, dpost,
                            t->cls, v->ln_post_w, t->post_mean, t->post_rstd, B, W);
    for (int b = 0; b < B; b++)
        memcpy(dxL + (size_t)b * T * W, dcls + (size_t)b * W, sizeof(float) * (size_t)W);
}

/* dx0 [BT, W] -> class / positional / conv1 gradients and dpixels (+=). */
static void embed_backward(const struct coop_clip_vit *v, const struct coop_clip_vit_tape *t,
                           struct coop_clip_vit *dw, const float *dx0, float *dpatches,
                           float *dpixels)
{
    int B = t->B, W = v->width, P = v->patch_size, S = v->image_size, G = S / P;
    int Np = G * G, T = Np + 1, K = 3 * P * P;
    for (int b = 0; b < B; b++) {
        const float *db = dx0 + (size_t)b * T * W;
        if (dw) {
            add_inplace(dw->class_embedding, db, (size_t)W);
            add_inplace(dw->positional_embedding, db, (size_t)T * W);
        }
        if (dpatches)
            memset(dpatches, 0, sizeof(float) * (size_t)Np * K);
        coop_linear_backward(dpatches, dw ? dw->conv1_w : NULL, NULL, db + W,
                             t->patches + (size_t)b * Np * K, v->conv1_w, Np, K, W);
        if (!dpixels)
            continue;
        for (int p = 0; p < Np; p++)
            for (int c = 0; c < 3; c++)
                for (int ky = 0; ky < P; ky++) {
                    float *dst = dpixels + (((size_t)b * 3 + c) * S + (p / G) * P + ky) * S +
                                 (p % G) * P;
                    add_inplace(dst, dpatches + (size_t)p * K + (c * P + ky) * P, (size_t)P);
                }
    }
}

int coop_clip_vit_backward(const struct coop_clip_vit *v, struct coop_clip_vit_tape *t,
                           const float *dfeat, float *dpixels, struct coop_clip_vit *dw,
                           struct coop_err *e)
{
    if (!t)
        return coop_fail(e, COOP_E_INVAL, "vit: backward needs the forward's tape");
    int B = t->B, W = v->width, G = v->image_size / v->patch_size, T = G * G + 1;
    size_t BT = (size_t)B * T, n = BT * W, K = (size_t)3 * v->patch_size * v->patch_size;
    size_t need = 17 * n + 2 * (size_t)B * W + (size_t)G * G * K;
    if (t->gmem_n < need) { /* kept on the tape: a training loop allocates it once */
        coop_free(t->gmem);
        t->gmem_n = 0;
        t->gmem = coop_alloc_floats(need);
        if (!t->gmem)
            return coop_fail(e, COOP_E_NOMEM, "vit: cannot allocate gradients for batch %d", B);
        t->gmem_n = need;
    }
    float *p = t->gmem;
    struct vit_grads_scratch s;
    float *dA = p, *dB = p + n;
    s.dxm = p + 2 * n, s.dge = p + 3 * n, s.dfc = p + 7 * n, s.dln2 = p + 11 * n;
    s.dao = p + 12 * n, s.dqkv = p + 13 * n, s.dln1 = p + 16 * n;
    float *dpost = p + 17 * n, *dcls = dpost + (size_t)B * W, *dpatches = dcls + (size_t)B * W;
    memset(dA, 0, sizeof(float) * n); /* head_backward fills the class-token rows only */
    memset(dpost, 0, sizeof(float) * 2 * (size_t)B * W);
    head_backward(v, t, dw, dfeat, dA, dpost, dcls, T);
    for (int l = v->layers - 1; l >= 0; l--) {
        memset(dB, 0, sizeof(float) * n);
        block_backward(&v->blocks[l], &t->L[l], dw ? &dw->blocks[l] : NULL, &s, dB, dA, B, T, W,
                       v->heads);
        float *tmp = dA;
        dA = dB, dB = tmp;
    }
    memset(dB, 0, sizeof(float) * n);
    coop_layernorm_backward(dB, dw ? dw->ln_pre_w : NULL, dw ? dw->ln_pre_b : NULL, dA, t->x0,
                            v->ln_pre_w, t->pre_mean, t->pre_rstd, (int)BT, W);
    embed_backward(v, t, dw, dB, dpixels ? dpatches : NULL, dpixels);
    return 0;
}
