/* text.c: CLIP text tower forward and backward from token embeddings, with the
 * exact CoOp fast path: only positions up to each prompt's own EOT are
 * computed (prompts of equal length are grouped for the attention), and
 * a prefix shared by every prompt is run once as its own sequence whose keys
 * and values all prompts' suffixes attend to (coop_attention_prefix_*); in the
 * backward the prefix collects the suffixes' key/value gradients plus its own.
 * The prefix's rows come first in the one stream of rows, so every row-wise
 * pass (LayerNorm, the products, QuickGELU, the residual adds) runs once over
 * prefix and suffixes together; only the attention tells them apart.
 * Activations live on a tape: every layer in full, or (large batches) only
 * each layer's input, the layer being recomputed in the backward. No printing;
 * errors are status codes with a message. */
#include "coop/clip.h"
#include "coop/nn.h"
#include "coop/util.h"
#include "nn/nn_internal.h"
#include "towers_bf16.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LN_EPS 1e-5f

enum tape_mode { TAPE_NONE, TAPE_CKPT, TAPE_FULL };

struct layer_acts {
    float *x_in;                                 /* [N,W] residual stream into the layer */
    float *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd; /* [N] */
    float *qkv;                                  /* [N,3W] */
    float *att;                                  /* probabilities, see stream */
    float *y;                                    /* [N,W] attention output, before out_proj */
    float *x_mid;                                /* [N,W] after the attention residual */
    float *fc;                                   /* [N,4W] c_fc output, before QuickGELU */
};

/* B sequences of the same length S, rows [row, row + B*S) of the stream,
 * attention probabilities from att offset att_at: pre (suffixes attending to
 * the P prefix rows): [H,B,S,P+S]; else (plain causal) [B,H,S,S]. */
struct group {
    int B, S, pre;
    size_t row, att_at;
};

/* Every row the run computes: the shared prefix (one causal sequence of P
 * rows, rows 0..P-1; none when P = 0), then the prompts' suffixes (K
 * sequences attending to the prefix rows; plain causal when P = 0). The fast
 * path cuts every prompt at its own EOT: suffixes of equal length form a
 * group. Row-wise layers run over all N rows at once, the attention per
 * group. S: the longest suffix. */
struct stream {
    int N, S, P, ng;
    struct group *g;          /* [ng] */
    size_t natt;              /* floats of att, all groups */
    struct layer_acts *lay;   /* [layers] (FULL: everything; CKPT: x_in only) */
    struct layer_acts work;   /* buffers for CKPT / NONE */
    float *xbuf[2];           /* NONE: ping-pong residual buffers */
    float *x_final;           /* [N,W] output of the last layer */
};

/* Scratch for one stream: ln [N,W], g [N,4W], tmp [N,W] (forward); the
 * backward adds dg [N,4W], dqkv [N,3W], dx [N,W] and the prefix attention's. */
struct scratch {
    float *ln, *g, *tmp, *dg, *dqkv, *dx, *att;
};

struct coop_clip_text_tape {
    enum tape_mode mode;
    int K, T, P, S, W, E, H, layers, L;
    int *rows;                /* [K] stream row of each prompt's EOT */
    int *off, *len;           /* [K] stream row of each prompt's first suffix row, and
                               * its suffix length (eot - P + 1; T - P for the plain path) */
    struct stream st;
    float *xe, *lnf, *lnf_mean, *lnf_rstd; /* [K,W], [K,W], [K], [K] */
    int trim;                 /* the last layer runs on the EOT rows alone (fast path) */
    float *dxk;               /* [K,W] its backward's gathered gradient (tapes only) */
    struct scratch sc;        /* forward + backward scratch, kept for reuse */
    void **allocs;
    size_t nalloc, cap;
};

/* Zeroed floats owned by the tape (freed with it); NULL on failure. */
static float *talloc(struct coop_clip_text_tape *tp, size_t n)
{
    if (tp->nalloc == tp->cap) {
        size_t cap = tp->cap ? 2 * tp->cap : 64;
        void **a = realloc(tp->allocs, cap * sizeof(*a));
        if (!a)
            return NULL;
        tp->allocs = a, tp->cap = cap;
    }
    float *p = coop_alloc_floats(n ? n : 1);
    if (p)
        tp->allocs[tp->nalloc++] = p;
    return p;
}

void coop_clip_text_tape_free(struct coop_clip_text_tape *tp)
{
    if (!tp)
        return;
    for (size_t i = 0; i < tp->nalloc; i++)
        coop_free(tp->allocs[i]);
    free(tp->allocs);
    free(tp->st.lay);
    free(tp->rows);
    free(tp->off);
    free(tp->len);
    free(tp->st.g);
    free(tp);
}

static int acts_alloc(struct coop_clip_text_tape *tp, struct layer_acts *a, const struct stream *s,
                      int with_x_in)
{
    size_t NW = (size_t)s->N * tp->W;
    if (with_x_in && !(a->x_in = talloc(tp, NW)))
        return -1;
    return (a->ln1_mean = talloc(tp, s->N)) && (a->ln1_rstd = talloc(tp, s->N)) &&
                   (a->ln2_mean = talloc(tp, s->N)) && (a->ln2_rstd = talloc(tp, s->N)) &&
                   (a->qkv = talloc(tp, 3 * NW)) && (a->att = talloc(tp, s->natt)) &&
                   (a->y = talloc(tp, NW)) && (a->x_mid = talloc(tp, NW)) &&
                   (a->fc = talloc(tp, 4 * NW))
               ? 0
               : -1;
}

static int stream_alloc(struct coop_clip_text_tape *tp, struct stream *s)
{
    size_t NW = (size_t)s->N * tp->W;
    if (s->N == 0)
        return 0;
    if (tp->mode != TAPE_NONE) {
        if (!(s->lay = calloc((size_t)tp->layers + 1, sizeof(*s->lay))))
            return -1;
        for (int l = 0; l < tp->layers; l++) {
            if (tp->mode == TAPE_FULL ? acts_alloc(tp, &s->lay[l], s, 1)
                                      : !(s->lay[l].x_in = talloc(tp, NW)))
                return -1;
        }
        if (!(s->x_final = talloc(tp, NW)))
            return -1;
        return tp->mode == TAPE_CKPT ? acts_alloc(tp, &s->work, s, 0) : 0;
    }
    if (!(s->xbuf[0] = talloc(tp, NW)) || !(s->xbuf[1] = talloc(tp, NW)))
        return -1;
    s->x_final = s->xbuf[tp->layers % 2];
    return acts_alloc(tp, &s->work, s, 0);
}

/* Activations of layer l (work buffers pointed at the stored input). */
static struct layer_acts *acts(const struct coop_clip_text_tape *tp, struct stream *s, int l)
{
    if (tp->mode == TAPE_FULL)
        return &s->lay[l];
    s->work.x_in = tp->mode == TAPE_CKPT ? s->lay[l].x_in : s->xbuf[l % 2];
    return &s->work;
}

static float *layer_out(const struct coop_clip_text_tape *tp, struct stream *s, int l)
{
    if (l + 1 == tp->layers)
        return s->x_final;
    return tp->mode == TAPE_NONE ? s->xbuf[(l + 1) % 2] : s->lay[l + 1].x_in;
}

static void add3(float *out, const float *a, const float *b, size_t n)
{
#pragma omp parallel for schedule(static) if (n > COOP_PAR_MIN_ELEMS)
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

static void zero(float *x, size_t n) { memset(x, 0, n * sizeof(float)); }

/* The attention of every group of s: y [N,W] from qkv [N,3W] (the prefix's
 * keys and values: its first P rows). */
static void attention_forward(const struct stream *s, struct layer_acts *a, int W, int H)
{
    for (int i = 0; i < s->ng; i++) {
        const struct group *g = &s->g[i];
        float *y = a->y + g->row * W, *att = a->att + g->att_at;
        const float *qkv = a->qkv + g->row * 3 * W;
        if (g->pre)
            coop_attention_prefix_forward(y, att, qkv, a->qkv, g->B, g->S, s->P, W, H);
        else
            coop_attention_forward(y, att, qkv, g->B, g->S, W, H, 1);
    }
}

/* dqkv (+=) from dy [N,W] = sc->tmp, group by group: the suffixes first
 * (their key and value gradients of the prefix into its rows), then the
 * prefix's own. */
static void attention_backward(const struct stream *s, const struct layer_acts *a,
                               const struct scratch *sc, int W, int H)
{
    int first = s->P > 0; /* group 0 is the prefix's */
    for (int j = 0; j < s->ng; j++) {
        const struct group *g = &s->g[(j + first) % s->ng];
        float *dqkv = sc->dqkv + g->row * 3 * W;
        const float *dy = sc->tmp + g->row * W, *qkv = a->qkv + g->row * 3 * W;
        const float *att = a->att + g->att_at;
        if (g->pre)
            coop_attention_prefix_backward(dqkv, sc->dqkv, sc->att, dy, qkv, a->qkv, att, g->B,
                                           g->S, s->P, W, H);
        else
            coop_attention_backward(dqkv, dy, qkv, att, g->B, g->S, W, H, 1);
    }
}

static void layer_forward(const struct coop_clip_text *t, int l, struct layer_acts *a,
                          float *x_out, const struct stream *s, const struct scratch *sc)
{
    const struct coop_clip_block *bk = &t->blocks[l];
    struct coop_clip_bf16 *bf = t->bf16;
    int W = t->width, H = t->heads;
    int N = s->N;
    size_t NW = (size_t)N * W;
    coop_clip_bf16_ln_linear(bf, a->qkv, sc->ln, a->ln1_mean, a->ln1_rstd, a->x_in, bk->ln_1_w,
                             bk->ln_1_b, LN_EPS, bk->in_proj_w, bk->in_proj_b, N, W, 3 * W);
    attention_forward(s, a, W, H);
    coop_clip_bf16_linear(bf, sc->tmp, a->y, bk->out_proj_w, bk->out_proj_b, N, W, W);
    add3(a->x_mid, a->x_in, sc->tmp, NW);
    coop_clip_bf16_ln_linear(bf, a->fc, sc->ln, a->ln2_mean, a->ln2_rstd, a->x_mid, bk->ln_2_w,
                             bk->ln_2_b, LN_EPS, bk->c_fc_w, bk->c_fc_b, N, W, 4 * W);
    coop_clip_bf16_gelu_linear(bf, sc->tmp, sc->g, a->fc, bk->c_proj_w, bk->c_proj_b, N, 4 * W,
                               W);
    add3(x_out, a->x_mid, sc->tmp, NW);
}

#define D(field) (dbk ? dbk->field : NULL)

/* dx [N,W]: in d(x_out), out d(x_mid); the attention's dqkv (+=). */
static void layer_backward_top(const struct coop_clip_text *t, int l,
                               struct coop_clip_block *dbk, const struct layer_acts *a,
                               const struct stream *s, const struct scratch *sc)
{
    const struct coop_clip_block *bk = &t->blocks[l];
    struct coop_clip_bf16 *bf = t->bf16;
    int W = t->width, H = t->heads;
    int N = s->N;
    size_t NW = (size_t)N * W;
    if (dbk) { /* the inputs of c_fc and c_proj: needed for their weight gradients only */
        coop_layernorm_forward(sc->ln, NULL, NULL, a->x_mid, bk->ln_2_w, bk->ln_2_b, N, W,
                               LN_EPS);
        coop_clip_bf16_gelu(bf, sc->g, a->fc, 4 * NW);
    }
    coop_clip_bf16_linear_backward_into(bf, sc->dg, D(c_proj_w), D(c_proj_b), sc->dx, sc->g,
                                        bk->c_proj_w, N, 4 * W, W);
    /* g now receives d(fc) */
    coop_clip_bf16_gelu_backward_linear(bf, sc->tmp, D(c_fc_w), D(c_fc_b), sc->g, sc->dg, a->fc,
                                        sc->ln, bk->c_fc_w, N, W, 4 * W);
    coop_clip_bf16_layernorm_backward(bf, sc->dx, D(ln_2_w), D(ln_2_b), sc->tmp, a->x_mid,
                                      bk->ln_2_w, a->ln2_mean, a->ln2_rstd, N, W);
    /* tmp receives d(y) */
    coop_clip_bf16_linear_backward_into(bf, sc->tmp, D(out_proj_w), D(out_proj_b), sc->dx,
                                        a->y, bk->out_proj_w, N, W, W);
    attention_backward(s, a, sc, W, H);
}

/* dqkv -> dx: in d(x_mid), out d(x_in). */
static void layer_backward_bottom(const struct coop_clip_text *t, int l,
                                  struct coop_clip_block *dbk, const struct layer_acts *a,
                                  const struct stream *s, const struct scratch *sc)
{
    const struct coop_clip_block *bk = &t->blocks[l];
    int W = t->width;
    int N = s->N;
    if (dbk) /* in_proj's input: needed for its weight gradient only */
        coop_layernorm_forward(sc->ln, NULL, NULL, a->x_in, bk->ln_1_w, bk->ln_1_b, N, W,
                               LN_EPS);
    coop_clip_bf16_linear_backward_into(t->bf16, sc->tmp, D(in_proj_w), D(in_proj_b), sc->dqkv,
                                        sc->ln, bk->in_proj_w, N, W, 3 * W);
    coop_clip_bf16_layernorm_backward(t->bf16, sc->dx, D(ln_1_w), D(ln_1_b), sc->tmp, a->x_in,
                                      bk->ln_1_w, a->ln1_mean, a->ln1_rstd, N, W);
}

#undef D

/* ---- the last layer on the EOT rows alone (fast path) ------------------
 * Only each prompt's EOT row of the last layer reaches the head, and on the
 * fast path it is the last row of the prompt's suffix. So the last layer
 * computes qkv for every row (all rows are keys and values), then the
 * attention, out_proj and the MLP for the K EOT rows only (the prefix's rows
 * are only keys and values). The layer's activations for those rows are kept
 * compact: y, x_mid, fc, ln2 statistics in rows 0..K-1, the probabilities
 * of prompt k (H x (P + len_k)) at att_off(k). Mathematically the full
 * layer's EOT rows; the backward mirrors it. */

/* Offset of prompt k's probabilities in the last layer's att. */
static size_t att_off(const struct coop_clip_text_tape *tp, int k)
{
    size_t o = 0;
    for (int i = 0; i < k; i++)
        o += (size_t)tp->H * (tp->P + tp->len[i]);
    return o;
}

/* One query q (head h's slice at q + h d) against the P prefix keys of pqkv
 * and the n own keys of kqkv (rows of 3W): y [W], p [H, P + n]. */
static void one_query_forward(float *y, float *p, const float *q, const float *pqkv, int P,
                              const float *kqkv, int n, int W, int H)
{
    int d = W / H, m = P + n;
    size_t ld = (size_t)3 * W;
    float scale = 1.0f / sqrtf((float)d);
    for (int h = 0; h < H; h++) {
        const float *qh = q + h * d;
        float *ph = p + (size_t)h * m, mx = -INFINITY, sum = 0.0f;
        for (int j = 0; j < m; j++) {
            const float *k = (j < P ? pqkv + j * ld : kqkv + (j - P) * ld) + W + h * d;
            float acc = 0.0f;
            for (int c = 0; c < d; c++)
                acc += qh[c] * k[c];
            ph[j] = acc * scale;
            mx = ph[j] > mx ? ph[j] : mx;
        }
        for (int j = 0; j < m; j++) {
            ph[j] = expf(ph[j] - mx);
            sum += ph[j];
        }
        float inv = 1.0f / sum, *yh = y + h * d;
        for (int c = 0; c < d; c++)
            yh[c] = 0.0f;
        for (int j = 0; j < m; j++) {
            const float *v = (j < P ? pqkv + j * ld : kqkv + (j - P) * ld) + 2 * W + h * d;
            ph[j] *= inv;
            for (int c = 0; c < d; c++)
                yh[c] += ph[j] * v[c];
        }
    }
}

/* Its backward for head h from dy [W]: dq (+=), the own keys' and values'
 * rows of dkqkv (+=), the prefix's of dpqkv (+=; may be NULL when P = 0). */
static void one_query_backward_head(float *dq, float *dkqkv, float *dpqkv, const float *dy,
                                    const float *q, const float *pqkv, int P,
                                    const float *kqkv, int n, const float *p, int W, int H,
                                    int h)
{
    int d = W / H, m = P + n;
    size_t ld = (size_t)3 * W;
    float scale = 1.0f / sqrtf((float)d), dot = 0.0f;
    const float *ph = p + (size_t)h * m, *dyh = dy + h * d, *qh = q + h * d;
    float *ds = malloc(sizeof(float) * (size_t)m);
    if (!ds) { /* a few floats; should they be missing, the gradient turns NaN, not wrong */
        for (int c = 0; c < d; c++)
            dq[h * d + c] = NAN;
        return;
    }
    for (int j = 0; j < m; j++) {
        const float *v = (j < P ? pqkv + j * ld : kqkv + (j - P) * ld) + 2 * W + h * d;
        float acc = 0.0f;
        for (int c = 0; c < d; c++)
            acc += dyh[c] * v[c];
        ds[j] = acc;
        dot += ph[j] * acc;
    }
    for (int j = 0; j < m; j++) {
        ds[j] = ph[j] * (ds[j] - dot) * scale;
        const float *k = (j < P ? pqkv + j * ld : kqkv + (j - P) * ld) + W + h * d;
        float *dk = (j < P ? dpqkv + j * ld : dkqkv + (j - P) * ld) + W + h * d;
        float *dv = dk + W;
        for (int c = 0; c < d; c++) {
            dq[h * d + c] += ds[j] * k[c];
            dk[c] += ds[j] * qh[c];
            dv[c] += ph[j] * dyh[c];
        }
    }
    free(ds);
}

/* The last layer on the EOT rows: x_out [row k] for each prompt k (the
 * other rows of x_out are not written). */
static void last_forward(const struct coop_clip_text_tape *tp, const struct coop_clip_text *t,
                         int l, struct layer_acts *a, float *x_out, const struct stream *s,
                         const struct scratch *sc)
{
    const struct coop_clip_block *bk = &t->blocks[l];
    struct coop_clip_bf16 *bf = t->bf16;
    int W = t->width, H = t->heads, N = s->N, K = tp->K, P = tp->P;
    coop_clip_bf16_ln_linear(bf, a->qkv, sc->ln, a->ln1_mean, a->ln1_rstd, a->x_in, bk->ln_1_w,
                             bk->ln_1_b, LN_EPS, bk->in_proj_w, bk->in_proj_b, N, W, 3 * W);
#pragma omp parallel for schedule(dynamic) if ((size_t)K * (P + tp->S) * W > COOP_PAR_MIN_ELEMS)
    for (int k = 0; k < K; k++)
        one_query_forward(a->y + (size_t)k * W, a->att + att_off(tp, k),
                          a->qkv + (size_t)tp->rows[k] * 3 * W, a->qkv, P,
                          a->qkv + (size_t)tp->off[k] * 3 * W, tp->len[k], W, H);
    coop_clip_bf16_linear(bf, sc->tmp, a->y, bk->out_proj_w, bk->out_proj_b, K, W, W);
    for (int k = 0; k < K; k++)
        add3(a->x_mid + (size_t)k * W, a->x_in + (size_t)tp->rows[k] * W, sc->tmp + (size_t)k * W,
             (size_t)W);
    coop_clip_bf16_ln_linear(bf, a->fc, sc->ln, a->ln2_mean, a->ln2_rstd, a->x_mid, bk->ln_2_w,
                             bk->ln_2_b, LN_EPS, bk->c_fc_w, bk->c_fc_b, K, W, 4 * W);
    coop_clip_bf16_gelu_linear(bf, sc->tmp, sc->g, a->fc, bk->c_proj_w, bk->c_proj_b, K, 4 * W,
                               W);
    for (int k = 0; k < K; k++)
        add3(x_out + (size_t)tp->rows[k] * W, a->x_mid + (size_t)k * W, sc->tmp + (size_t)k * W,
             (size_t)W);
}

#define D(field) (dbk ? dbk->field : NULL)

/* layer_backward_top of the trimmed last layer: sc->dx holds d(x_out) on
 * the EOT rows (zero elsewhere) and leaves with d(x_mid) there; dqkv (+=)
 * from the EOT queries (the prefix's rows receive only key and value
 * gradients). */
static void last_backward(const struct coop_clip_text_tape *tp, const struct coop_clip_text *t,
                          int l, struct coop_clip_block *dbk, const struct layer_acts *a,
                          const struct scratch *sc)
{
    const struct coop_clip_block *bk = &t->blocks[l];
    struct coop_clip_bf16 *bf = t->bf16;
    int W = t->width, H = t->heads, K = tp->K, P = tp->P;
    size_t KW = (size_t)K * W;
    float *dxk = tp->dxk;
    for (int k = 0; k < K; k++)
        memcpy(dxk + (size_t)k * W, sc->dx + (size_t)tp->rows[k] * W, sizeof(float) * W);
    if (dbk) {
        coop_layernorm_forward(sc->ln, NULL, NULL, a->x_mid, bk->ln_2_w, bk->ln_2_b, K, W,
                               LN_EPS);
        coop_clip_bf16_gelu(bf, sc->g, a->fc, 4 * KW);
    }
    coop_clip_bf16_linear_backward_into(bf, sc->dg, D(c_proj_w), D(c_proj_b), dxk, sc->g,
                                        bk->c_proj_w, K, 4 * W, W);
    coop_clip_bf16_gelu_backward_linear(bf, sc->tmp, D(c_fc_w), D(c_fc_b), sc->g, sc->dg, a->fc,
                                        sc->ln, bk->c_fc_w, K, W, 4 * W);
    coop_clip_bf16_layernorm_backward(bf, dxk, D(ln_2_w), D(ln_2_b), sc->tmp, a->x_mid,
                                      bk->ln_2_w, a->ln2_mean, a->ln2_rstd, K, W);
    coop_clip_bf16_linear_backward_into(bf, sc->tmp, D(out_proj_w), D(out_proj_b), dxk, a->y,
                                        bk->out_proj_w, K, W, W);
    /* heads write disjoint columns of dqkv: parallel over heads */
#pragma omp parallel for schedule(static) if ((size_t)K * (P + tp->S) * W > COOP_PAR_MIN_ELEMS)
    for (int h = 0; h < H; h++)
        for (int k = 0; k < K; k++)
            one_query_backward_head(sc->dqkv + (size_t)tp->rows[k] * 3 * W,
                                    sc->dqkv + (size_t)tp->off[k] * 3 * W, sc->dqkv,
                                    sc->tmp + (size_t)k * W, a->qkv + (size_t)tp->rows[k] * 3 * W,
                                    a->qkv, P, a->qkv + (size_t)tp->off[k] * 3 * W, tp->len[k],
                                    a->att + att_off(tp, k), W, H, h);
    for (int k = 0; k < K; k++)
        memcpy(sc->dx + (size_t)tp->rows[k] * W, dxk + (size_t)k * W, sizeof(float) * W);
}

#undef D

/* Layer l forward (the trimmed form for the last layer of a trimming tape). */
static void forward_layer(const struct coop_clip_text_tape *tp, const struct coop_clip_text *t,
                          int l, struct layer_acts *a, float *x_out, const struct scratch *sc)
{
    if (!tp->trim || l + 1 < tp->layers)
        layer_forward(t, l, a, x_out, &tp->st, sc);
    else
        last_forward(tp, t, l, a, x_out, &tp->st, sc);
}

static void scratch_free(struct scratch *sc)
{
    coop_free(sc->ln), coop_free(sc->g), coop_free(sc->tmp), coop_free(sc->dg);
    coop_free(sc->dqkv), coop_free(sc->dx), coop_free(sc->att);
    memset(sc, 0, sizeof(*sc));
}

/* Forward scratch of a tapeless run: ln [N,W], g [N,4W], tmp [N,W]. */
static int scratch_alloc(struct scratch *sc, const struct stream *s, int W)
{
    size_t NW = (size_t)s->N * W;
    memset(sc, 0, sizeof(*sc));
    if (s->N == 0)
        return 0;
    int ok = (sc->ln = coop_alloc_floats(NW)) && (sc->g = coop_alloc_floats(4 * NW)) &&
             (sc->tmp = coop_alloc_floats(NW));
    if (!ok)
        scratch_free(sc);
    return ok ? 0 : -1;
}

/* Backward-size scratch owned by the tape (freed with it, reused with it). */
static int scratch_talloc(struct coop_clip_text_tape *tp, struct scratch *sc,
                          const struct stream *s)
{
    size_t NW = (size_t)s->N * tp->W;
    memset(sc, 0, sizeof(*sc));
    if (s->N == 0)
        return 0;
    return (sc->ln = talloc(tp, NW)) && (sc->g = talloc(tp, 4 * NW)) &&
                   (sc->tmp = talloc(tp, NW)) && (sc->dg = talloc(tp, 4 * NW)) &&
                   (sc->dqkv = talloc(tp, 3 * NW)) && (sc->dx = talloc(tp, NW)) &&
                   (sc->att = talloc(tp, (size_t)s->N * (s->P + s->S) * tp->H + 1))
               ? 0
               : -1;
}

static int check_text(const struct coop_clip_text *t, const float *emb, const int *eot, int K,
                      struct coop_err *e)
{
    if (!t || !t->blocks || t->width <= 0 || t->heads <= 0 || t->width % t->heads)
        return coop_fail(e, COOP_E_INVAL, "text tower: invalid config (width %d, heads %d)",
                         t ? t->width : 0, t ? t->heads : 0);
    if (K <= 0 || !emb || !eot)
        return coop_fail(e, COOP_E_INVAL, "text tower: need K > 0 prompts (got %d) and inputs",
                         K);
    for (int k = 0; k < K; k++)
        if (eot[k] < 0 || eot[k] >= t->context_length)
            return coop_fail(e, COOP_E_INVAL, "text tower: prompt %d: EOT index %d outside "
                             "[0, %d)", k, eot[k], t->context_length);
    return COOP_OK;
}

/* Row counts of the bf16 products are rounded up to this: oneDNN 2.6's AMX
 * matmul blocks M by its largest divisor in [32, 64], and some of those
 * (57 for 171 rows, 51 for 153) run at half the rate of the neighbouring row
 * counts; multiples of 16 run at the full rate (docs/performance.md). */
#define BF16_ROW_QUANTUM 16

/* Lays out the stream: the prefix's group (rows 0..P-1), then the suffixes
 * grouped by length (shortest first): off[k], and the groups with their
 * attention offsets. With pad_rows, N is rounded up to BF16_ROW_QUANTUM:
 * the rows past the last suffix belong to no group; they start at zero and
 * stay finite through the row-wise passes, and their gradients stay exactly
 * zero (no group's attention reads or writes them, and zero rows of the
 * output gradient add nothing to a weight's). -1: out of memory. */
static int group_rows(struct coop_clip_text_tape *tp, int pad_rows)
{
    struct stream *s = &tp->st;
    int maxlen = tp->S, K = tp->K, P = tp->P;
    if (!(s->g = calloc((size_t)maxlen + 1, sizeof(*s->g))))
        return -1;
    size_t row = 0, att = 0;
    if (P > 0) {
        s->g[s->ng++] = (struct group){1, P, 0, 0, 0};
        row = (size_t)P, att = (size_t)tp->H * P * P;
    }
    for (int S = 1; S <= maxlen; S++) {
        int B = 0;
        for (int k = 0; k < K; k++)
            if (tp->len[k] == S)
                tp->off[k] = (int)(row + (size_t)B++ * S);
        if (B == 0)
            continue;
        s->g[s->ng++] = (struct group){B, S, P > 0, row, att};
        row += (size_t)B * S;
        att += (size_t)tp->H * B * S * ((size_t)P + S);
    }
    if (pad_rows)
        row = (row + BF16_ROW_QUANTUM - 1) / BF16_ROW_QUANTUM * BF16_ROW_QUANTUM;
    s->N = (int)row, s->natt = att;
    return 0;
}

/* Plans the run: T positions, P shared rows, the suffixes (ragged: each
 * prompt cut at its own EOT; else all T - P rows), tape mode. */
static struct coop_clip_text_tape *plan(const struct coop_clip_text *t, const int *eot, int K,
                                        int T, int P, int ragged, int want_tape)
{
    struct coop_clip_text_tape *tp = calloc(1, sizeof(*tp));
    if (!tp)
        return NULL;
    tp->K = K, tp->T = T, tp->P = P, tp->S = T - P, tp->W = t->width, tp->E = t->embed_dim;
    tp->H = t->heads, tp->layers = t->layers, tp->L = t->context_length;
    tp->st = (struct stream){.S = tp->S, .P = P};
    if (!(tp->rows = malloc(sizeof(int) * K)) || !(tp->off = malloc(sizeof(int) * K)) ||
        !(tp->len = malloc(sizeof(int) * K))) {
        coop_clip_text_tape_free(tp);
        return NULL;
    }
    for (int k = 0; k < K; k++)
        tp->len[k] = ragged ? eot[k] - P + 1 : tp->S;
    if (group_rows(tp, t->bf16 != NULL)) {
        coop_clip_text_tape_free(tp);
        return NULL;
    }
    for (int k = 0; k < K; k++)
        tp->rows[k] = tp->off[k] + eot[k] - P;
    size_t per_layer = (size_t)tp->st.N * (10 * (size_t)tp->W + 4) + tp->st.natt;
    size_t budget = t->tape_budget ? t->tape_budget : COOP_CLIP_TEXT_TAPE_BUDGET;
    tp->mode = !want_tape ? TAPE_NONE
               : per_layer * tp->layers * sizeof(float) <= budget ? TAPE_FULL : TAPE_CKPT;
    return tp;
}

/* x0 = emb + positional: prefix rows from prompt 0, suffix rows per prompt. */
static void embed_input(struct coop_clip_text_tape *tp, const struct coop_clip_text *t,
                        const float *emb)
{
    int W = tp->W, L = tp->L;
    float *xs = tp->layers == 0       ? tp->st.x_final
                : tp->mode == TAPE_NONE ? tp->st.xbuf[0]
                                        : tp->st.lay[0].x_in;
    add3(xs, emb, t->positional_embedding, (size_t)tp->P * W);
#pragma omp parallel for schedule(static) if ((size_t)tp->K * tp->S * tp->W > COOP_PAR_MIN_ELEMS)
    for (int k = 0; k < tp->K; k++)
        for (int i = 0; i < tp->len[k]; i++) {
            int pos = tp->P + i;
            const float *ei = emb + ((size_t)k * L + pos) * W;
            const float *pe = t->positional_embedding + (size_t)pos * W;
            float *x = xs + ((size_t)tp->off[k] + i) * W;
            for (int c = 0; c < W; c++)
                x[c] = ei[c] + pe[c];
        }
}

/* Scratch: a tape's own (kept for the backward and for reuse), else local. */
static int run_layers(struct coop_clip_text_tape *tp, const struct coop_clip_text *t)
{
    struct scratch sc;
    const int own = tp->mode == TAPE_NONE;
    if (!own)
        sc = tp->sc;
    else if (scratch_alloc(&sc, &tp->st, tp->W))
        return -1;
    for (int l = 0; l < tp->layers; l++)
        forward_layer(tp, t, l, acts(tp, &tp->st, l), layer_out(tp, &tp->st, l), &sc);
    if (own)
        scratch_free(&sc);
    return 0;
}

/* ln_final on each prompt's EOT row, then @ text_projection. */
static void head_forward(struct coop_clip_text_tape *tp, const struct coop_clip_text *t,
                         float *feat)
{
    int W = tp->W;
    for (int k = 0; k < tp->K; k++)
        memcpy(tp->xe + (size_t)k * W, tp->st.x_final + (size_t)tp->rows[k] * W,
               sizeof(float) * W);
    coop_layernorm_forward(tp->lnf, tp->lnf_mean, tp->lnf_rstd, tp->xe, t->ln_final_w,
                           t->ln_final_b, tp->K, W, LN_EPS);
    coop_matmul_forward(feat, tp->lnf, t->text_projection, tp->K, W, tp->E);
}

/* An earlier tape can serve a new run when every buffer size agrees. */
static int same_plan(const struct coop_clip_text_tape *a, const struct coop_clip_text_tape *b)
{
    if (!(a->mode == b->mode && a->K == b->K && a->T == b->T && a->P == b->P && a->S == b->S &&
          a->W == b->W && a->E == b->E && a->H == b->H && a->layers == b->layers &&
          a->L == b->L && a->st.N == b->st.N && a->st.ng == b->st.ng))
        return 0;
    for (int i = 0; i < a->st.ng; i++)
        if (a->st.g[i].B != b->st.g[i].B || a->st.g[i].S != b->st.g[i].S)
            return 0;
    return 1;
}

/* old (may be NULL): a tape whose memory this run may take over (consumed). */
static int text_run(const struct coop_clip_text *t, const float *emb, const int *eot, int K,
                    int T, int P, int ragged, float *feat, struct coop_clip_text_tape **tape,
                    struct coop_clip_text_tape *old, struct coop_err *e)
{
    if (tape)
        *tape = NULL;
    struct coop_clip_text_tape *tp = plan(t, eot, K, T, P, ragged, tape != NULL);
    size_t KW = (size_t)K * t->width;
    int ok;
    if (tp && old && same_plan(tp, old)) { /* every buffer is rewritten before it is read */
        memcpy(old->rows, tp->rows, sizeof(int) * K);
        memcpy(old->off, tp->off, sizeof(int) * K);
        memcpy(old->len, tp->len, sizeof(int) * K);
        coop_clip_text_tape_free(tp);
        tp = old, ok = 1;
    } else {
        coop_clip_text_tape_free(old);
        ok = tp && !stream_alloc(tp, &tp->st) &&
             (tp->xe = talloc(tp, KW)) && (tp->lnf = talloc(tp, KW)) &&
             (tp->lnf_mean = talloc(tp, K)) && (tp->lnf_rstd = talloc(tp, K)) &&
             (tp->mode == TAPE_NONE || (tp->dxk = talloc(tp, KW))) &&
             (tp->mode == TAPE_NONE || !scratch_talloc(tp, &tp->sc, &tp->st));
    }
    if (ok) {
        tp->trim = ragged && t->layers > 0;
        embed_input(tp, t, emb);
        coop_clip_bf16_reset(t->bf16);
        ok = !run_layers(tp, t);
    }
    if (!ok) {
        coop_clip_text_tape_free(tp);
        return coop_fail(e, COOP_E_NOMEM, "text tower: cannot allocate activations for %d "
                         "prompts x %d positions (width %d)", K, T, t->width);
    }
    int rc = coop_clip_bf16_status(t->bf16, e);
    if (rc) {
        coop_clip_text_tape_free(tp);
        return rc;
    }
    head_forward(tp, t, feat);
    if (tape)
        *tape = tp;
    else
        coop_clip_text_tape_free(tp);
    return COOP_OK;
}

/* T positions (longest EOT + 1) and P shared rows of the fast path. */
static void prefix_plan(const int *eot, int K, int shared_prefix, int *T, int *P)
{
    int mx = eot[0], mn = eot[0];
    for (int k = 1; k < K; k++)
        mx = eot[k] > mx ? eot[k] : mx, mn = eot[k] < mn ? eot[k] : mn;
    /* the prefix must end before every EOT (identical rows past that are
     * simply recomputed per prompt); one prompt gains nothing from sharing */
    *P = shared_prefix < mn ? shared_prefix : mn;
    if (K == 1)
        *P = 0;
    *T = mx + 1;
}

int coop_clip_text_forward(const struct coop_clip_text *t, const float *emb, const int *eot, int K,
                           int shared_prefix, float *feat, struct coop_clip_text_tape **tape,
                           struct coop_err *e)
{
    int rc = check_text(t, emb, eot, K, e);
    if (rc)
        return rc;
    if (shared_prefix < 0 || shared_prefix > t->context_length)
        return coop_fail(e, COOP_E_INVAL, "text tower: shared_prefix %d outside [0, %d]",
                         shared_prefix, t->context_length);
    int T, P;
    prefix_plan(eot, K, shared_prefix, &T, &P);
    return text_run(t, emb, eot, K, T, P, 1, feat, tape, NULL, e);
}

int coop_clip_text_forward_reuse(const struct coop_clip_text *t, const float *emb, const int *eot,
                                 int K, int shared_prefix, float *feat,
                                 struct coop_clip_text_tape **tape, struct coop_err *e)
{
    if (!tape)
        return coop_fail(e, COOP_E_INVAL, "text tower: forward_reuse needs a tape pointer");
    struct coop_clip_text_tape *old = *tape;
    *tape = NULL;
    int rc = check_text(t, emb, eot, K, e);
    if (rc == 0 && (shared_prefix < 0 || shared_prefix > t->context_length))
        rc = coop_fail(e, COOP_E_INVAL, "text tower: shared_prefix %d outside [0, %d]",
                       shared_prefix, t->context_length);
    if (rc) {
        coop_clip_text_tape_free(old);
        return rc;
    }
    int T, P;
    prefix_plan(eot, K, shared_prefix, &T, &P);
    return text_run(t, emb, eot, K, T, P, 1, feat, tape, old, e);
}

int coop_clip_text_forward_plain(const struct coop_clip_text *t, const float *emb, const int *eot,
                                 int K, float *feat, struct coop_clip_text_tape **tape,
                                 struct coop_err *e)
{
    int rc = check_text(t, emb, eot, K, e);
    return rc ? rc : text_run(t, emb, eot, K, t->context_length, 0, 0, feat, tape, NULL, e);
}

/* Layer l's activations for the backward; CKPT recomputes them from the
 * stored input (scratch buffers serve as the forward's scratch). */
static struct layer_acts *acts_bwd(struct coop_clip_text_tape *tp, const struct coop_clip_text *t,
                                   const struct scratch *sc, int l)
{
    struct layer_acts *a = acts(tp, &tp->st, l);
    if (tp->mode == TAPE_CKPT) {
        struct scratch fw = {.ln = sc->ln, .g = sc->g, .tmp = sc->tmp};
        /* x_out unused; the trimmed last layer writes only its EOT rows of it, and
         * sc->dg holds N * 4W floats, more than any row index */
        forward_layer(tp, t, l, a, sc->dg, &fw);
    }
    return a;
}

/* ln_final and text_projection backward, scattered to the EOT rows. */
static int head_backward(struct coop_clip_text_tape *tp, const struct coop_clip_text *t,
                         const float *dfeat, struct coop_clip_text *dw, float *dx)
{
    int K = tp->K, W = tp->W;
    float *dl = coop_alloc_floats((size_t)2 * K * W);
    if (!dl)
        return -1;
    float *dxe = dl + (size_t)K * W;
    coop_matmul_backward(dl, dw ? dw->text_projection : NULL, dfeat, tp->lnf, t->text_projection,
                         K, W, tp->E);
    coop_layernorm_backward(dxe, dw ? dw->ln_final_w : NULL, dw ? dw->ln_final_b : NULL, dl,
                            tp->xe, t->ln_final_w, tp->lnf_mean, tp->lnf_rstd, K, W);
    for (int k = 0; k < K; k++)
        for (int c = 0; c < W; c++)
            dx[(size_t)tp->rows[k] * W + c] += dxe[(size_t)k * W + c];
    coop_free(dl);
    return 0;
}

/* demb (+=) and the positional embedding's gradient from d(x0) = dxs. */
static void embed_backward(const struct coop_clip_text_tape *tp, const float *dxs, float *demb,
                           struct coop_clip_text *dw)
{
    int W = tp->W;
    for (int i = 0; i < tp->P; i++)
        for (int c = 0; c < W; c++) {
            float g = dxs[(size_t)i * W + c];
            demb[(size_t)i * W + c] += g;
            if (dw)
                dw->positional_embedding[(size_t)i * W + c] += g;
        }
#pragma omp parallel for schedule(static) if ((size_t)tp->K * tp->S * tp->W > COOP_PAR_MIN_ELEMS)
    for (int k = 0; k < tp->K; k++)
        for (int i = 0; i < tp->len[k]; i++)
            for (int c = 0; c < W; c++)
                demb[((size_t)k * tp->L + tp->P + i) * W + c] +=
                    dxs[((size_t)tp->off[k] + i) * W + c];
    if (dw)
        for (int k = 0; k < tp->K; k++)
            for (int i = 0; i < tp->len[k]; i++)
                for (int c = 0; c < W; c++)
                    dw->positional_embedding[(size_t)(tp->P + i) * W + c] +=
                        dxs[((size_t)tp->off[k] + i) * W + c];
}

int coop_clip_text_backward(const struct coop_clip_text *t, struct coop_clip_text_tape *tp,
                            const float *dfeat, float *demb, struct coop_clip_text *dw,
                            struct coop_err *e)
{
    if (!tp || tp->mode == TAPE_NONE || !dfeat || !demb)
        return coop_fail(e, COOP_E_INVAL, "text tower backward: need a tape from the forward, "
                         "dfeat and demb");
    if (tp->W != t->width || tp->layers != t->layers || tp->E != t->embed_dim)
        return coop_fail(e, COOP_E_INVAL, "text tower backward: tape was recorded for another "
                         "model (width %d, %d layers)", tp->W, tp->layers);
    struct scratch sc = tp->sc; /* the tape's own */
    size_t NW = (size_t)tp->st.N * tp->W;
    zero(sc.dx, NW);
    coop_clip_bf16_reset(t->bf16);
    if (head_backward(tp, t, dfeat, dw, sc.dx))
        return coop_fail(e, COOP_E_NOMEM, "text tower backward: cannot allocate scratch for %d "
                         "prompts", tp->K);
    for (int l = tp->layers - 1; l >= 0; l--) {
        struct coop_clip_block *dbk = dw ? &dw->blocks[l] : NULL;
        struct layer_acts *a = acts_bwd(tp, t, &sc, l);
        zero(sc.dqkv, 3 * NW);
        if (tp->trim && l + 1 == tp->layers)
            last_backward(tp, t, l, dbk, a, &sc);
        else
            layer_backward_top(t, l, dbk, a, &tp->st, &sc);
        layer_backward_bottom(t, l, dbk, a, &tp->st, &sc);
    }
    embed_backward(tp, sc.dx, demb, dw);
    return coop_clip_bf16_status(t->bf16, e);
}

int coop_clip_text_encode_ids(const struct coop_clip_text *t, const int32_t *ids, int K,
                              float *feat, struct coop_err *e)
{
    int L = t->context_length, W = t->width;
    if (K <= 0 || !ids)
        return coop_fail(e, COOP_E_INVAL, "text encode: need K > 0 prompts (got %d)", K);
    int *eot = malloc(sizeof(int) * K);
    float *emb = coop_alloc_floats((size_t)K * L * W);
    if (!eot || !emb) {
        free(eot);
        coop_free(emb);
        return coop_fail(e, COOP_E_NOMEM, "text encode: cannot allocate %d prompts", K);
    }
    int rc = COOP_OK, common = L;
    for (int k = 0; k < K && !rc; k++) {
        const int32_t *r = ids + (size_t)k * L;
        eot[k] = 0;
        for (int i = 0; i < L; i++) {
            if (r[i] < 0 || r[i] >= t->vocab_size) {
                rc = coop_fail(e, COOP_E_INVAL, "text encode: prompt %d position %d: token id "
                               "%d outside [0, %d)", k, i, (int)r[i], t->vocab_size);
                break;
            }
            eot[k] = r[i] > r[eot[k]] ? i : eot[k];
            if (i < common && r[i] != ids[i])
                common = i;
            memcpy(emb + ((size_t)k * L + i) * W, t->token_embedding + (size_t)r[i] * W,
                   sizeof(float) * W);
        }
    }
    if (!rc) /* rows identical across all prompts form the shared prefix */
        rc = coop_clip_text_forward(t, emb, eot, K, common, feat, NULL, e);
    free(eot);
    coop_free(emb);
    return rc;
}
