/* towers_bf16.c: bf16 copies of a tower's frozen weights (coop/clip.h,
 * "bf16 products") and the products the towers run through them
 * (towers_bf16.h). A set is a short table keyed by the float32 weight
 * pointer: the towers keep calling their kernels with the float32 weights and
 * the table decides which product runs, so the float32 path is untouched.
 * Never prints. */
#include "coop/bf16.h"
#include "coop/cpu.h"
#include "coop/nn.h"
#include "nn/bf16_internal.h"
#include "nn/nn_internal.h"
#include "coop/util.h"
#include "towers_bf16.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bf16_entry {
    const float *w, *bias;          /* the float32 weight [N,K] and bias it stands for */
    struct coop_bf16_linear *fwd;   /* w (with bias) */
    struct coop_bf16_linear *bwd;   /* w^T [K,N], no bias; NULL: forward only */
    struct coop_bf16_conv *conv;    /* a convolution's w [Co, Ci, k, k] */
};

struct coop_clip_bf16 {
    struct bf16_entry *ent;
    int n, cap;
    struct coop_bf16_attention *att; /* for att_T positions, att_W wide, att_H heads */
    int att_T, att_W, att_H;
    const char *last_impl;         /* oneDNN's kernel of the last product that ran */
    int rc;                        /* first failure since the reset */
    struct coop_err err;
};

static void set_free(struct coop_clip_bf16 *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++) {
        coop_bf16_linear_free(s->ent[i].fwd);
        coop_bf16_linear_free(s->ent[i].bwd);
        coop_bf16_conv_free(s->ent[i].conv);
    }
    coop_bf16_attention_free(s->att);
    free(s->ent);
    free(s);
}

/* w [N,K] transposed into a new [K,N] array (NULL: out of memory). */
static float *transposed(const float *w, int K, int N)
{
    float *t = coop_alloc_floats((size_t)K * N);
    if (!t)
        return NULL;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            t[(size_t)k * N + n] = w[(size_t)n * K + k];
    return t;
}

/* A new zeroed entry for w (not yet counted in s->n); NULL: out of memory. */
static struct bf16_entry *new_entry(struct coop_clip_bf16 *s, const float *w, const float *bias)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        struct bf16_entry *ent = realloc(s->ent, (size_t)cap * sizeof *ent);
        if (!ent)
            return NULL;
        s->ent = ent, s->cap = cap;
    }
    struct bf16_entry *en = &s->ent[s->n];
    memset(en, 0, sizeof *en);
    en->w = w, en->bias = bias;
    return en;
}

/* Adds the bf16 copies of w [N,K] (and its transpose when backward). */
static int add_weight(struct coop_clip_bf16 *s, const float *w, const float *bias, int K, int N,
                      bool backward, struct coop_err *e)
{
    struct bf16_entry *en = new_entry(s, w, bias);
    if (!en)
        return coop_fail(e, COOP_E_NOMEM, "bf16 towers: out of memory");
    int rc = coop_bf16_linear_create(&en->fwd, w, bias, K, N, e);
    if (rc == 0 && backward) {
        float *wt = transposed(w, K, N);
        rc = wt ? coop_bf16_linear_create(&en->bwd, wt, NULL, N, K, e)
                : coop_fail(e, COOP_E_NOMEM, "bf16 towers: out of memory for %d x %d", K, N);
        coop_free(wt);
    }
    if (rc) {
        coop_bf16_linear_free(en->fwd);
        return rc;
    }
    s->n++;
    return 0;
}

/* The blocks' four linear layers of width W. */
static int add_blocks(struct coop_clip_bf16 *s, const struct coop_clip_block *b, int layers,
                      int W, bool backward, struct coop_err *e)
{
    int rc = 0;
    for (int l = 0; l < layers && rc == 0; l++) {
        const struct coop_clip_block *k = &b[l];
        if ((rc = add_weight(s, k->in_proj_w, k->in_proj_b, W, 3 * W, backward, e)) ||
            (rc = add_weight(s, k->out_proj_w, k->out_proj_b, W, W, backward, e)) ||
            (rc = add_weight(s, k->c_fc_w, k->c_fc_b, W, 4 * W, backward, e)))
            break;
        rc = add_weight(s, k->c_proj_w, k->c_proj_b, 4 * W, W, backward, e);
    }
    return rc;
}

/* A new set filled by fill (add_text, add_vit, add_resnet) into *slot,
 * unless *slot already has one; what names the tower in a failure. */
static int enable(struct coop_clip_bf16 **slot,
                  int (*fill)(struct coop_clip_bf16 *, const void *, bool, struct coop_err *),
                  const void *tower, bool backward, const char *what, struct coop_err *e)
{
    if (*slot)
        return 0;
    struct coop_clip_bf16 *s = NULL;
    int rc = coop_bf16_check(e);
    if (rc == 0 && !(s = calloc(1, sizeof *s)))
        rc = coop_fail(e, COOP_E_NOMEM, "bf16 towers: out of memory");
    if (rc == 0)
        rc = fill(s, tower, backward, e);
    if (rc) {
        set_free(s);
        return coop_fail_prefix(e, rc, "%s: precision bf16", what);
    }
    *slot = s;
    return 0;
}

static int add_text(struct coop_clip_bf16 *s, const void *tower, bool backward,
                    struct coop_err *e)
{
    const struct coop_clip_text *t = tower;
    return add_blocks(s, t->blocks, t->layers, t->width, backward, e);
}

static int add_vit(struct coop_clip_bf16 *s, const void *tower, bool backward,
                   struct coop_err *e)
{
    const struct coop_clip_vit *v = tower;
    int rc = add_weight(s, v->conv1_w, NULL, 3 * v->patch_size * v->patch_size, v->width,
                        false, e);
    return rc ? rc : add_blocks(s, v->blocks, v->layers, v->width, backward, e);
}

int coop_clip_text_bf16_enable(struct coop_clip_text *t, bool backward, struct coop_err *e)
{
    return enable(&t->bf16, add_text, t, backward, "text tower", e);
}

int coop_clip_vit_bf16_enable(struct coop_clip_vit *v, struct coop_err *e)
{
    return enable(&v->bf16, add_vit, v, false, "image tower (ViT)", e);
}

/* A convolution w [Co, Ci, k, k] with its stride and padding, followed by the
 * BatchNorm bn (and a ReLU when relu), folded into it. */
static int add_conv(struct coop_clip_bf16 *s, const float *w, const struct coop_clip_bn *bn,
                    bool relu, int Co, int Ci, int k, int stride, int pad, struct coop_err *e)
{
    struct bf16_entry *en = new_entry(s, w, NULL);
    float *scale = coop_alloc_floats(2 * (size_t)Co), *shift = scale ? scale + Co : NULL;
    if (!en || !scale) {
        coop_free(scale);
        return coop_fail(e, COOP_E_NOMEM, "bf16 towers: out of memory");
    }
    for (int c = 0; c < Co; c++) { /* as coop_vision_bn_act computes them */
        scale[c] = bn->w[c] / sqrtf(bn->var[c] + COOP_CLIP_BN_EPS);
        shift[c] = bn->b[c] - bn->mean[c] * scale[c];
    }
    int rc = coop_bf16_conv_create_affine(&en->conv, w, Co, Ci, k, stride, pad, scale, shift,
                                          relu, e);
    coop_free(scale);
    s->n += rc == 0;
    return rc;
}

static int add_resnet(struct coop_clip_bf16 *s, const void *tower, bool backward,
                      struct coop_err *e)
{
    const struct coop_clip_resnet *r = tower;
    int W = r->width, D = 32 * W, rc;
    if ((rc = add_conv(s, r->conv1_w, &r->bn1, true, W / 2, 3, 3, 2, 1, e)) ||
        (rc = add_conv(s, r->conv2_w, &r->bn2, true, W / 2, W / 2, 3, 1, 1, e)) ||
        (rc = add_conv(s, r->conv3_w, &r->bn3, true, W, W / 2, 3, 1, 1, e)))
        return rc;
    int nb = r->layers[0] + r->layers[1] + r->layers[2] + r->layers[3];
    for (int k = 0; k < nb && rc == 0; k++) {
        const struct coop_clip_bottleneck *b = &r->blocks[k];
        int p = b->planes;
        if ((rc = add_conv(s, b->conv1_w, &b->bn1, true, p, b->inplanes, 1, 1, 0, e)) ||
            (rc = add_conv(s, b->conv2_w, &b->bn2, true, p, p, 3, 1, 1, e)) ||
            (rc = add_conv(s, b->conv3_w, &b->bn3, false, 4 * p, p, 1, 1, 0, e)))
            break;
        if (b->has_downsample)
            rc = add_conv(s, b->down_conv_w, &b->down_bn, false, 4 * p, b->inplanes, 1, 1, 0, e);
    }
    if (rc == 0 && (rc = add_weight(s, r->ap_q_w, r->ap_q_b, D, D, false, e)) == 0 &&
        (rc = add_weight(s, r->ap_k_w, r->ap_k_b, D, D, false, e)) == 0 &&
        (rc = add_weight(s, r->ap_v_w, r->ap_v_b, D, D, false, e)) == 0)
        rc = add_weight(s, r->ap_c_w, r->ap_c_b, D, r->embed_dim, false, e);
    return rc;
}

int coop_clip_resnet_bf16_enable(struct coop_clip_resnet *r, struct coop_err *e)
{
    return enable(&r->bf16, add_resnet, r, false, "image tower (ResNet)", e);
}

void coop_clip_resnet_bf16_disable(struct coop_clip_resnet *r)
{
    if (r) {
        set_free(r->bf16);
        r->bf16 = NULL;
    }
}

void coop_clip_text_bf16_disable(struct coop_clip_text *t)
{
    if (t) {
        set_free(t->bf16);
        t->bf16 = NULL;
    }
}

void coop_clip_vit_bf16_disable(struct coop_clip_vit *v)
{
    if (v) {
        set_free(v->bf16);
        v->bf16 = NULL;
    }
}

void coop_clip_matmul_isa(const struct coop_clip_model *m, char *buf, size_t len)
{
    struct coop_cpu_features f;
    coop_cpu_detect(&f);
    if (m->text.bf16)
        snprintf(buf, len, "onednn:%s", coop_bf16_isa_name(coop_bf16_isa(&f)));
    else
        snprintf(buf, len, "openblas:%s", coop_blas_core_name());
}

const char *coop_clip_bf16_impl(const struct coop_clip_bf16 *s)
{
    return s && s->last_impl ? s->last_impl : "";
}

static const struct bf16_entry *find(const struct coop_clip_bf16 *s, const float *w)
{
    for (int i = 0; s && i < s->n; i++)
        if (s->ent[i].w == w)
            return &s->ent[i];
    return NULL;
}

static void keep_failure(struct coop_clip_bf16 *s, int rc, const struct coop_err *e)
{
    if (rc && !s->rc) {
        s->rc = rc;
        s->err = *e;
    }
}

/* Runs the bf16 layer l (an entry's fwd or bwd) with flags; false (the
 * failure kept) when it fails. */
static bool run_ex(struct coop_clip_bf16 *s, struct coop_bf16_linear *l, void *out,
                   const void *inp, int M, unsigned flags)
{
    struct coop_err e;
    int rc = coop_bf16_linear_forward_ex(l, out, inp, M, flags, &e);
    keep_failure(s, rc, &e);
    if (rc == 0)
        s->last_impl = coop_bf16_linear_impl(l);
    return rc == 0;
}

void coop_clip_bf16_linear(struct coop_clip_bf16 *s, float *out, const float *inp,
                           const float *w, const float *bias, int M, int K, int N)
{
    const struct bf16_entry *en = find(s, w);
    if (!en || en->bias != bias || M <= 0 || !run_ex(s, en->fwd, out, inp, M, 0))
        coop_linear_forward(out, inp, w, bias, M, K, N);
}

static void add_into(float *x, const float *y, size_t n)
{
#pragma omp parallel for schedule(static) if (n > COOP_PAR_MIN_ELEMS)
    for (size_t i = 0; i < n; i++)
        x[i] += y[i];
}

void coop_clip_bf16_linear_acc(struct coop_clip_bf16 *s, float *x, const float *inp,
                               const float *w, const float *bias, int M, int K, int N,
                               float *tmp)
{
    const struct bf16_entry *en = find(s, w);
    if (en && en->bias == bias && M > 0 && run_ex(s, en->fwd, x, inp, M, COOP_BF16_ACCUMULATE))
        return;
    coop_linear_forward(tmp, inp, w, bias, M, K, N);
    add_into(x, tmp, (size_t)M * N);
}

/* The set's attention object for (T, W, H), made (again) when it has none
 * for that shape; NULL when that fails (the failure kept). */
static struct coop_bf16_attention *attention_for(struct coop_clip_bf16 *s, int T, int W, int H)
{
    if (s->att && s->att_T == T && s->att_W == W && s->att_H == H)
        return s->att;
    coop_bf16_attention_free(s->att);
    s->att = NULL;
    struct coop_err e;
    int rc = coop_bf16_attention_create(&s->att, T, W, H, &e);
    keep_failure(s, rc, &e);
    s->att_T = T, s->att_W = W, s->att_H = H;
    return s->att;
}

void coop_clip_bf16_attn_acc(struct coop_clip_bf16 *s, float *x, const struct coop_clip_block *k,
                             int T, int W, int H, float eps, float *ln, float *qkv, float *ao)
{
    const struct bf16_entry *a = find(s, k->in_proj_w), *b = find(s, k->out_proj_w);
    struct coop_bf16_attention *at = NULL;
    if (a && b && a->bias == k->in_proj_b && b->bias == k->out_proj_b && T > 0 &&
        (at = attention_for(s, T, W, H))) {
        coop_bf16_layernorm((uint16_t *)ln, NULL, NULL, x, k->ln_1_w, k->ln_1_b, T, W, eps);
        struct coop_err e;
        int rc = -1;
        if (run_ex(s, a->fwd, qkv, ln, T, COOP_BF16_IN_BF16 | COOP_BF16_OUT_BF16)) {
            rc = coop_bf16_attention_forward(at, (uint16_t *)ao, (const uint16_t *)qkv, &e);
            keep_failure(s, rc, &e);
        }
        if (rc == 0 && run_ex(s, b->fwd, x, ao, T, COOP_BF16_IN_BF16 | COOP_BF16_ACCUMULATE))
            return;
    }
    coop_layernorm_forward(ln, NULL, NULL, x, k->ln_1_w, k->ln_1_b, T, W, eps);
    coop_clip_bf16_linear(s, qkv, ln, k->in_proj_w, k->in_proj_b, T, W, 3 * W);
    coop_clip_bf16_attention(s, ao, NULL, qkv, 1, T, W, H, 0);
    coop_clip_bf16_linear_acc(s, x, ao, k->out_proj_w, k->out_proj_b, T, W, W, qkv);
}

void coop_clip_bf16_mlp_acc(struct coop_clip_bf16 *s, float *x, const struct coop_clip_block *k,
                            int M, int W, float eps, float *ln, float *fc, float *ge)
{
    const struct bf16_entry *a = find(s, k->c_fc_w), *b = find(s, k->c_proj_w);
    if (a && b && a->bias == k->c_fc_b && b->bias == k->c_proj_b && M > 0) {
        coop_bf16_layernorm((uint16_t *)ln, NULL, NULL, x, k->ln_2_w, k->ln_2_b, M, W, eps);
        if (run_ex(s, a->fwd, fc, ln, M,
                   COOP_BF16_IN_BF16 | COOP_BF16_OUT_BF16 | COOP_BF16_QUICK_GELU) &&
            run_ex(s, b->fwd, x, fc, M, COOP_BF16_IN_BF16 | COOP_BF16_ACCUMULATE))
            return;
    }
    coop_layernorm_forward(ln, NULL, NULL, x, k->ln_2_w, k->ln_2_b, M, W, eps);
    coop_clip_bf16_linear(s, fc, ln, k->c_fc_w, k->c_fc_b, M, W, 4 * W);
    coop_clip_bf16_gelu(s, ge, fc, (size_t)M * 4 * W);
    coop_clip_bf16_linear(s, fc, ge, k->c_proj_w, k->c_proj_b, M, 4 * W, W);
    add_into(x, fc, (size_t)M * W);
}

bool coop_clip_bf16_conv2d(struct coop_clip_bf16 *s, float *out, const float *inp,
                           const float *w, int H, int W)
{
    const struct bf16_entry *en = find(s, w);
    if (!en || !en->conv)
        return false;
    struct coop_err e;
    int rc = coop_bf16_conv_forward(en->conv, out, inp, H, W, &e);
    keep_failure(s, rc, &e);
    if (rc == 0)
        s->last_impl = coop_bf16_conv_impl(en->conv);
    return rc == 0;
}

bool coop_clip_bf16_conv2d_nhwc(struct coop_clip_bf16 *s, void *out, const uint16_t *inp,
                                const float *w, int H, int W, unsigned flags)
{
    const struct bf16_entry *en = find(s, w);
    if (!en || !en->conv)
        return false;
    struct coop_err e;
    int rc = coop_bf16_conv_forward_nhwc(en->conv, out, inp, H, W, flags, &e);
    keep_failure(s, rc, &e);
    if (rc == 0)
        s->last_impl = coop_bf16_conv_impl(en->conv);
    return rc == 0;
}

void coop_clip_bf16_gelu(const struct coop_clip_bf16 *s, float *out, const float *inp, size_t n)
{
    if (s)
        coop_quick_gelu_forward_fast(out, inp, n);
    else
        coop_quick_gelu_forward(out, inp, n);
}

void coop_clip_bf16_gelu_backward(const struct coop_clip_bf16 *s, float *dinp, const float *dout,
                                  const float *inp, size_t n)
{
    if (s)
        coop_quick_gelu_backward_fast(dinp, dout, inp, n);
    else
        coop_quick_gelu_backward(dinp, dout, inp, n);
}

void coop_clip_bf16_layernorm_backward(const struct coop_clip_bf16 *s, float *dinp, float *dw,
                                       float *db, const float *dout, const float *inp,
                                       const float *w, const float *mean, const float *rstd,
                                       int M, int C)
{
    if (!s) {
        coop_layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, M, C);
        return;
    }
    if (dinp)
        coop_layernorm_backward_input_fast(dinp, dout, inp, w, mean, rstd, M, C);
    coop_layernorm_backward(NULL, dw, db, dout, inp, w, mean, rstd, M, C);
}

void coop_clip_bf16_attention(const struct coop_clip_bf16 *s, float *out, float *att,
                              const float *qkv, int B, int T, int C, int H, int causal)
{
    if (s)
        coop_attention_forward_fast(out, att, qkv, B, T, C, H, causal);
    else
        coop_attention_forward(out, att, qkv, B, T, C, H, causal);
}

void coop_clip_bf16_ln_linear(struct coop_clip_bf16 *s, float *out, float *ln, float *mean,
                              float *rstd, const float *x, const float *ln_w, const float *ln_b,
                              float eps, const float *w, const float *bias, int M, int K, int N)
{
    const struct bf16_entry *en = find(s, w);
    if (en && en->bias == bias && M > 0) {
        coop_bf16_layernorm((uint16_t *)ln, mean, rstd, x, ln_w, ln_b, M, K, eps);
        if (run_ex(s, en->fwd, out, ln, M, COOP_BF16_IN_BF16))
            return;
    }
    coop_layernorm_forward(ln, mean, rstd, x, ln_w, ln_b, M, K, eps);
    coop_clip_bf16_linear(s, out, ln, w, bias, M, K, N);
}

void coop_clip_bf16_gelu_linear(struct coop_clip_bf16 *s, float *out, float *g, const float *fc,
                                const float *w, const float *bias, int M, int K, int N)
{
    const struct bf16_entry *en = find(s, w);
    if (en && en->bias == bias && M > 0) {
        coop_quick_gelu_forward_bf16((uint16_t *)g, fc, (size_t)M * K);
        if (run_ex(s, en->fwd, out, g, M, COOP_BF16_IN_BF16))
            return;
    }
    coop_clip_bf16_gelu(s, g, fc, (size_t)M * K);
    coop_clip_bf16_linear(s, out, g, w, bias, M, K, N);
}

void coop_clip_bf16_gelu_backward_linear(struct coop_clip_bf16 *s, float *dinp, float *dw,
                                         float *dbias, float *dfc, const float *dy,
                                         const float *fc, const float *inp, const float *w,
                                         int M, int K, int N)
{
    const struct bf16_entry *en = find(s, w);
    size_t n = (size_t)M * N;
    if (!dw && !dbias && en && en->bwd && M > 0) {
        coop_quick_gelu_backward_bf16((uint16_t *)dfc, dy, fc, n);
        if (run_ex(s, en->bwd, dinp, dfc, M, COOP_BF16_IN_BF16))
            return;
    }
    memset(dfc, 0, sizeof(float) * n);
    coop_clip_bf16_gelu_backward(s, dfc, dy, fc, n);
    coop_clip_bf16_linear_backward_into(s, dinp, dw, dbias, dfc, inp, w, M, K, N);
}

void coop_clip_bf16_linear_backward_into(struct coop_clip_bf16 *s, float *dinp, float *dw,
                                         float *dbias, const float *dout, const float *inp,
                                         const float *w, int M, int K, int N)
{
    const struct bf16_entry *en = find(s, w);
    bool done = en && en->bwd && M > 0 && run_ex(s, en->bwd, dinp, dout, M, 0);
    if (!done)
        memset(dinp, 0, sizeof(float) * (size_t)M * K);
    coop_linear_backward(done ? NULL : dinp, dw, dbias, dout, inp, w, M, K, N);
}

void coop_clip_bf16_reset(struct coop_clip_bf16 *s)
{
    if (s)
        s->rc = 0;
}

int coop_clip_bf16_status(const struct coop_clip_bf16 *s, struct coop_err *e)
{
    if (!s || !s->rc)
        return 0;
    if (e)
        *e = s->err;
    return s->rc;
}
