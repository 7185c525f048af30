/* towers_bf16.c: bf16 copies of a tower's frozen weights (coop/clip.h,
 * "bf16 products") and the products the towers run through them
 * (towers_bf16.h). A set is a short table keyed by the float32 weight
 * pointer: the towers keep calling their kernels with the float32 weights and
 * the table decides which product runs, so the float32 path is untouched.
 * Never prints. */
#include "coop/bf16.h"
#include "coop/nn.h"
#include "coop/util.h"
#include "towers_bf16.h"
#include <stdlib.h>
#include <string.h>

struct bf16_entry {
    const float *w, *bias;          /* the float32 weight [N,K] and bias it stands for */
    struct coop_bf16_linear *fwd;   /* w (with bias) */
    struct coop_bf16_linear *bwd;   /* w^T [K,N], no bias; NULL: forward only */
};

struct coop_clip_bf16 {
    struct bf16_entry *ent;
    int n, cap;
    struct coop_bf16_linear *last; /* the last product that ran (its impl) */
    float *scratch;                /* input-gradient products before the += */
    size_t scratch_cap;
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
    }
    free(s->ent);
    coop_free(s->scratch);
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

/* Adds the bf16 copies of w [N,K] (and its transpose when backward). */
static int add_weight(struct coop_clip_bf16 *s, const float *w, const float *bias, int K, int N,
                      bool backward, struct coop_err *e)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        struct bf16_entry *ent = realloc(s->ent, (size_t)cap * sizeof *ent);
        if (!ent)
            return coop_fail(e, COOP_E_NOMEM, "bf16 towers: out of memory");
        s->ent = ent, s->cap = cap;
    }
    struct bf16_entry *en = &s->ent[s->n];
    memset(en, 0, sizeof *en);
    en->w = w, en->bias = bias;
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

static int set_new(struct coop_clip_bf16 **out, struct coop_err *e)
{
    int rc = coop_bf16_check(e);
    if (rc)
        return rc;
    *out = calloc(1, sizeof **out);
    return *out ? 0 : coop_fail(e, COOP_E_NOMEM, "bf16 towers: out of memory");
}

int coop_clip_text_bf16_enable(struct coop_clip_text *t, bool backward, struct coop_err *e)
{
    if (t->bf16)
        return 0;
    struct coop_clip_bf16 *s = NULL;
    int rc = set_new(&s, e);
    if (rc == 0)
        rc = add_blocks(s, t->blocks, t->layers, t->width, backward, e);
    if (rc) {
        set_free(s);
        return coop_fail_prefix(e, rc, "text tower: precision bf16");
    }
    t->bf16 = s;
    return 0;
}

int coop_clip_vit_bf16_enable(struct coop_clip_vit *v, struct coop_err *e)
{
    if (v->bf16)
        return 0;
    struct coop_clip_bf16 *s = NULL;
    int rc = set_new(&s, e);
    if (rc == 0)
        rc = add_weight(s, v->conv1_w, NULL, 3 * v->patch_size * v->patch_size, v->width, false,
                        e);
    if (rc == 0)
        rc = add_blocks(s, v->blocks, v->layers, v->width, false, e);
    if (rc) {
        set_free(s);
        return coop_fail_prefix(e, rc, "image tower (ViT): precision bf16");
    }
    v->bf16 = s;
    return 0;
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

const char *coop_clip_bf16_impl(const struct coop_clip_bf16 *s)
{
    return s && s->last ? coop_bf16_linear_impl(s->last) : "";
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

void coop_clip_bf16_linear(struct coop_clip_bf16 *s, float *out, const float *inp,
                           const float *w, const float *bias, int M, int K, int N)
{
    const struct bf16_entry *en = find(s, w);
    if (!en || en->bias != bias || M <= 0) {
        coop_linear_forward(out, inp, w, bias, M, K, N);
        return;
    }
    struct coop_err e;
    int rc = coop_bf16_linear_forward(en->fwd, out, inp, M, &e);
    keep_failure(s, rc, &e);
    if (rc)
        coop_linear_forward(out, inp, w, bias, M, K, N);
    else
        s->last = en->fwd;
}

/* out (+=) inp [M,N] @ w [N,K] through the transpose's bf16 product. */
static int dinp_bf16(struct coop_clip_bf16 *s, const struct bf16_entry *en, float *dinp,
                     const float *dout, int M, int K, struct coop_err *e)
{
    size_t n = (size_t)M * K;
    if (n > s->scratch_cap) {
        coop_free(s->scratch);
        s->scratch = coop_alloc_floats(n);
        s->scratch_cap = s->scratch ? n : 0;
        if (!s->scratch)
            return coop_fail(e, COOP_E_NOMEM, "bf16 towers: out of memory for %d x %d", M, K);
    }
    int rc = coop_bf16_linear_forward(en->bwd, s->scratch, dout, M, e);
    if (rc)
        return rc;
    s->last = en->bwd;
    const float *restrict g = s->scratch;
#pragma omp parallel for schedule(static) if (n > ((size_t)1 << 20))
    for (size_t i = 0; i < n; i++)
        dinp[i] += g[i];
    return 0;
}

void coop_clip_bf16_linear_backward(struct coop_clip_bf16 *s, float *dinp, float *dw,
                                    float *dbias, const float *dout, const float *inp,
                                    const float *w, int M, int K, int N)
{
    const struct bf16_entry *en = find(s, w);
    if (!en || !en->bwd || !dinp || M <= 0) {
        coop_linear_backward(dinp, dw, dbias, dout, inp, w, M, K, N);
        return;
    }
    struct coop_err e;
    int rc = dinp_bf16(s, en, dinp, dout, M, K, &e);
    keep_failure(s, rc, &e);
    coop_linear_backward(rc ? dinp : NULL, dw, dbias, dout, inp, w, M, K, N);
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
