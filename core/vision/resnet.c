/* resnet.c: OpenAI's ModifiedResNet image tower, inference only (the image
 * encoder is frozen in CoOp): 3-conv stem, Bottlenecks with anti-aliased
 * (AvgPool) strides, and the AttentionPool2d head. Images go through one at
 * a time (nb = 1 in the channel-major [C, nb, H, W] layout that conv.c
 * serves), so an image's features never depend on its batch. */
#include "coop/bf16.h"
#include "coop/clip.h"
#include "coop/nn.h"
#include "coop/util.h"
#include "clip/towers_bf16.h"
#include "vision.h"
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Sizes of the per-image buffers: the largest activation and im2col. */
struct plan {
    size_t act, work;
};

static void plan_max(size_t *m, size_t v)
{
    if (v > *m)
        *m = v;
}

static struct plan resnet_plan(const struct coop_clip_resnet *r)
{
    struct plan p = {0, 0};
    int S = r->image_size, W = r->width, h = S / 2;
    plan_max(&p.act, (size_t)3 * S * S); /* the transposed pixels */
    plan_max(&p.act, (size_t)W * h * h);
    plan_max(&p.work, coop_conv2d_work(3, S, S, 3, 3, 2, 1));
    plan_max(&p.work, coop_conv2d_work(W / 2, h, h, 3, 3, 1, 1));
    int R = h / 2, nb = r->layers[0] + r->layers[1] + r->layers[2] + r->layers[3];
    for (int k = 0; k < nb; k++) {
        const struct coop_clip_bottleneck *b = &r->blocks[k];
        plan_max(&p.act, (size_t)b->inplanes * R * R);
        plan_max(&p.act, (size_t)b->planes * R * R);
        plan_max(&p.work, coop_conv2d_work(b->planes, R, R, 3, 3, 1, 1));
        plan_max(&p.work, (size_t)b->inplanes * R * R); /* the bf16 trunk's pooled planes */
        R /= b->stride;
        plan_max(&p.act, (size_t)4 * b->planes * R * R);
    }
    return p;
}

struct bufs {
    int nb;                   /* images in the buffers (1); activations are [C, nb, H, W] */
    float *x, *t1, *t2, *t3, *work;
};


/* The element-wise passes between convolutions, split over channels: on the
 * OpenMP threads in the bf16 path (its convolutions are oneDNN's, with no
 * OpenBLAS pool to fight), serial in float32 (conv.c). Every element is
 * computed as in one serial pass, so the split changes no bit. */
static int pass_threads(const struct coop_clip_bf16 *bf)
{
#ifdef _OPENMP
    return bf ? omp_get_max_threads() : 1;
#else
    (void)bf;
    return 1;
#endif
}

/* The start of part t of T of n items (part t is [part_start(n, t, T),
 * part_start(n, t + 1, T))). */
static size_t part_start(size_t n, int t, int T)
{
    return n * (size_t)t / (size_t)T;
}

static void bn_act(const struct coop_clip_bf16 *bf, float *x, const struct coop_clip_bn *bn,
                   int C, int HW, int relu)
{
    int T = pass_threads(bf);
#pragma omp parallel for schedule(static) if (T > 1)
    for (int t = 0; t < T; t++) {
        int c0 = (int)part_start((size_t)C, t, T), c1 = (int)part_start((size_t)C, t + 1, T);
        struct coop_clip_bn sub = {bn->w + c0, bn->b + c0, bn->mean + c0, bn->var + c0};
        coop_vision_bn_act(x + (size_t)c0 * HW, &sub, c1 - c0, HW, relu);
    }
}

/* out = [relu](bn(conv(inp, w))), conv without bias: through the bf16 copy of
 * w (the BatchNorm and ReLU folded in) when bf has one, else
 * coop_conv2d_forward_batch and the float32 pass. */
static void conv_bn(struct coop_clip_bf16 *bf, float *out, const float *inp, const float *w,
                    const struct coop_clip_bn *bn, int relu, int Ci, int nb, int H, int W, int Co,
                    int k, int stride, int pad, float *work)
{
    if (nb == 1 && coop_clip_bf16_conv2d(bf, out, inp, w, H, W))
        return;
    coop_conv2d_forward_batch(out, inp, w, NULL, Ci, nb, H, W, Co, k, k, stride, pad, work);
    int Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    bn_act(bf, out, bn, Co, nb * Ho * Wo, relu);
}

static void avgpool(const struct coop_clip_bf16 *bf, float *out, const float *inp, int C, int H,
                    int W, int k)
{
    int T = pass_threads(bf);
    size_t in_plane = (size_t)H * W, out_plane = (size_t)(H / k) * (W / k);
#pragma omp parallel for schedule(static) if (T > 1)
    for (int t = 0; t < T; t++) {
        int c0 = (int)part_start((size_t)C, t, T), c1 = (int)part_start((size_t)C, t + 1, T);
        coop_vision_avgpool(out + c0 * out_plane, inp + c0 * in_plane, c1 - c0, H, W, k);
    }
}

/* x = relu(a + id), n elements. */
static void add_relu(const struct coop_clip_bf16 *bf, float *x, const float *a, const float *id,
                     size_t n)
{
    int T = pass_threads(bf);
#pragma omp parallel for schedule(static) if (T > 1)
    for (int t = 0; t < T; t++)
        for (size_t i = part_start(n, t, T); i < part_start(n, t + 1, T); i++) {
            float y = a[i] + id[i];
            x[i] = y > 0.0f ? y : 0.0f;
        }
}

/* x [C, nb, R, R] -> x [4 planes, nb, R/s, R/s]; t1..t3 scratch. */
static void bottleneck(struct coop_clip_bf16 *bf, const struct coop_clip_bottleneck *b,
                       struct bufs *u, int R)
{
    int p = b->planes, s = b->stride, Ro = R / s, nb = u->nb;
    conv_bn(bf, u->t1, u->x, b->conv1_w, &b->bn1, 1, b->inplanes, nb, R, R, p, 1, 1, 0, NULL);
    conv_bn(bf, u->t2, u->t1, b->conv2_w, &b->bn2, 1, p, nb, R, R, p, 3, 1, 1, u->work);
    float *mid = u->t2;
    if (s > 1) {
        avgpool(bf, u->t1, u->t2, p * nb, R, R, s);
        mid = u->t1;
    }
    conv_bn(bf, u->t3, mid, b->conv3_w, &b->bn3, 0, p, nb, Ro, Ro, 4 * p, 1, 1, 0, NULL);
    const float *id = u->x;
    if (b->has_downsample) {
        const float *pooled = u->x;
        if (s > 1) {
            avgpool(bf, u->t1, u->x, b->inplanes * nb, R, R, s);
            pooled = u->t1;
        }
        conv_bn(bf, u->t2, pooled, b->down_conv_w, &b->down_bn, 0, b->inplanes, nb, Ro, Ro,
                4 * p, 1, 1, 0, NULL);
        id = u->t2;
    }
    add_relu(bf, u->x, u->t3, id, (size_t)4 * p * nb * Ro * Ro);
}

/* pixels [nb, 3, S, S] -> tokens [nb, G*G + 1, 32W] (mean token first, +
 * positional). */
static void resnet_trunk(const struct coop_clip_resnet *r, const float *pixels, struct bufs *u,
                         float *tokens)
{
    int S = r->image_size, W = r->width, h = S / 2, nb = u->nb;
    size_t plane = (size_t)S * S;
    for (int b = 0; b < nb; b++) /* NCHW -> [3, nb, S, S] */
        for (int c = 0; c < 3; c++)
            memcpy(u->t3 + ((size_t)c * nb + b) * plane, pixels + ((size_t)b * 3 + c) * plane,
                   sizeof(float) * plane);
    conv_bn(r->bf16, u->t1, u->t3, r->conv1_w, &r->bn1, 1, 3, nb, S, S, W / 2, 3, 2, 1, u->work);
    conv_bn(r->bf16, u->t2, u->t1, r->conv2_w, &r->bn2, 1, W / 2, nb, h, h, W / 2, 3, 1, 1,
            u->work);
    conv_bn(r->bf16, u->t1, u->t2, r->conv3_w, &r->bn3, 1, W / 2, nb, h, h, W, 3, 1, 1, u->work);
    avgpool(r->bf16, u->x, u->t1, W * nb, h, h, 2);
    int R = h / 2, nbk = r->layers[0] + r->layers[1] + r->layers[2] + r->layers[3];
    for (int k = 0; k < nbk; k++) {
        bottleneck(r->bf16, &r->blocks[k], u, R);
        R /= r->blocks[k].stride;
    }
    /* u->x [D, nb, R*R] -> tokens [nb, R*R + 1, D] */
    int D = 32 * W, N = R * R, T = N + 1;
    for (int b = 0; b < nb; b++) {
        float *tb = tokens + (size_t)b * T * D;
        for (int c = 0; c < D; c++) {
            const float *src = u->x + ((size_t)c * nb + b) * N;
            float sum = 0.0f;
            for (int t = 0; t < N; t++) {
                tb[(size_t)(t + 1) * D + c] = src[t];
                sum += src[t];
            }
            tb[c] = sum / (float)N;
        }
        const float *pos = r->ap_positional_embedding;
        for (size_t i = 0; i < (size_t)T * D; i++)
            tb[i] += pos[i];
    }
}

/* ---- the bf16 trunk: channels-last from the first convolution to the
 * tokens, every convolution oneDNN's on bf16 NHWC input, the residual stream
 * in float32 NHWC with each block's add (and ReLU) a post-op of its last
 * convolution; the float32 passes left are the poolings and one rounding of
 * the stream per block. */

/* out [H/k, W/k, C] = k x k mean of inp [H, W, C] (float32, NHWC). */
static void pool_nhwc(float *out, const float *inp, int H, int W, int C, int k)
{
    int Ho = H / k, Wo = W / k;
    float div = (float)(k * k);
#pragma omp parallel for schedule(static)
    for (int oy = 0; oy < Ho; oy++)
        for (int ox = 0; ox < Wo; ox++) {
            float *y = out + ((size_t)oy * Wo + ox) * C;
            for (int c = 0; c < C; c++)
                y[c] = 0.0f;
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++) {
                    const float *x = inp + (((size_t)oy * k + ky) * W + ox * k + kx) * C;
                    for (int c = 0; c < C; c++)
                        y[c] += x[c];
                }
            for (int c = 0; c < C; c++)
                y[c] /= div;
        }
}

/* The same written in bf16 into out, through tmp [H/k, W/k, C]. */
static void pool_nhwc_bf16(uint16_t *out, float *tmp, const float *inp, int H, int W, int C,
                           int k)
{
    pool_nhwc(tmp, inp, H, W, C, k);
    coop_bf16_round_n(out, tmp, (size_t)(H / k) * (W / k) * C);
}

/* One bottleneck on the float32 NHWC stream x [R, R, inplanes] -> x [R/s,
 * R/s, 4 planes], in place; t1..t3 scratch. false: a convolution failed. */
static bool bottleneck_bf16(struct coop_clip_bf16 *bf, const struct coop_clip_bottleneck *b,
                            struct bufs *u, int R)
{
    int p = b->planes, s = b->stride, Ro = R / s, Ci = b->inplanes;
    uint16_t *xb = (uint16_t *)u->t1, *h1 = (uint16_t *)u->t2, *mid = (uint16_t *)u->t2;
    coop_bf16_round_n(xb, u->x, (size_t)R * R * Ci);
    if (!coop_clip_bf16_conv2d_nhwc(bf, h1, xb, b->conv1_w, R, R, COOP_BF16_OUT_BF16))
        return false;
    if (s > 1) { /* conv2 in float32, pooled into bf16 */
        if (!coop_clip_bf16_conv2d_nhwc(bf, u->t3, h1, b->conv2_w, R, R, 0))
            return false;
        pool_nhwc_bf16(mid, u->work, u->t3, R, R, p, s);
    } else {
        mid = (uint16_t *)u->t3;
        if (!coop_clip_bf16_conv2d_nhwc(bf, mid, h1, b->conv2_w, R, R, COOP_BF16_OUT_BF16))
            return false;
    }
    if (b->has_downsample) { /* the identity: the (pooled) input's projection, over x */
        const uint16_t *pooled = xb;
        if (s > 1) {
            pool_nhwc_bf16(xb, u->work, u->x, R, R, Ci, s);
            pooled = xb;
        }
        if (!coop_clip_bf16_conv2d_nhwc(bf, u->x, pooled, b->down_conv_w, Ro, Ro, 0))
            return false;
    }
    return coop_clip_bf16_conv2d_nhwc(bf, u->x, mid, b->conv3_w, Ro, Ro,
                                      COOP_BF16_ACCUMULATE | COOP_BF16_RELU);
}

/* resnet_trunk through the bf16 convolutions; false (tokens unset) when one
 * of them is missing or failed. */
static bool resnet_trunk_bf16(const struct coop_clip_resnet *r, const float *pixels,
                              struct bufs *u, float *tokens)
{
    struct coop_clip_bf16 *bf = r->bf16;
    int S = r->image_size, W = r->width, h = S / 2;
    size_t plane = (size_t)S * S;
    uint16_t *px = (uint16_t *)u->t3, *a = (uint16_t *)u->t1, *c = (uint16_t *)u->t2;
    for (size_t i = 0; i < plane; i++) /* [3, S, S] -> [S, S, 3] */
        for (int ch = 0; ch < 3; ch++)
            u->t2[i * 3 + ch] = pixels[ch * plane + i];
    coop_bf16_round_n(px, u->t2, 3 * plane);
    if (!coop_clip_bf16_conv2d_nhwc(bf, a, px, r->conv1_w, S, S, COOP_BF16_OUT_BF16) ||
        !coop_clip_bf16_conv2d_nhwc(bf, c, a, r->conv2_w, h, h, COOP_BF16_OUT_BF16) ||
        !coop_clip_bf16_conv2d_nhwc(bf, u->t3, c, r->conv3_w, h, h, 0))
        return false;
    pool_nhwc(u->x, u->t3, h, h, W, 2);
    int R = h / 2, nbk = r->layers[0] + r->layers[1] + r->layers[2] + r->layers[3];
    for (int k = 0; k < nbk; k++) {
        if (!bottleneck_bf16(bf, &r->blocks[k], u, R))
            return false;
        R /= r->blocks[k].stride;
    }
    /* u->x [R*R, D] is the tokens' rows: tokens [R*R + 1, D], the mean first */
    int D = 32 * W, N = R * R, T = N + 1;
    memcpy(tokens + D, u->x, sizeof(float) * (size_t)N * D);
    for (int ch = 0; ch < D; ch++) {
        float sum = 0.0f;
        for (int t = 0; t < N; t++)
            sum += u->x[(size_t)t * D + ch];
        tokens[ch] = sum / (float)N;
    }
    const float *pos = r->ap_positional_embedding;
    for (size_t i = 0; i < (size_t)T * D; i++)
        tokens[i] += pos[i];
    return true;
}

/* Single-query multi-head attention pool over tokens [B, T, D] -> feat [B, E].
 * kv [B, T, 2D], q [B, D], o [B, D], sc [T] scratch. */
static void attnpool(const struct coop_clip_resnet *r, const float *tokens, int B, int T,
                     float *feat, float *kv, float *q, float *o, float *sc)
{
    int D = 32 * r->width, H = r->heads;
    coop_clip_bf16_linear(r->bf16, kv, tokens, r->ap_k_w, r->ap_k_b, B * T, D, D);
    coop_clip_bf16_linear(r->bf16, kv + (size_t)B * T * D, tokens, r->ap_v_w, r->ap_v_b, B * T, D,
                          D);
    const float *k = kv, *v = kv + (size_t)B * T * D;
    for (int b = 0; b < B; b++)
        coop_clip_bf16_linear(r->bf16, q + (size_t)b * D, tokens + (size_t)b * T * D, r->ap_q_w,
                              r->ap_q_b, 1, D, D);
    for (int b = 0; b < B; b++)
        coop_attention_one_forward(o + (size_t)b * D, q + (size_t)b * D, k + (size_t)b * T * D,
                                   v + (size_t)b * T * D, D, T, D, H, sc);
    coop_clip_bf16_linear(r->bf16, feat, o, r->ap_c_w, r->ap_c_b, B, D, r->embed_dim);
}

int coop_clip_resnet_forward(const struct coop_clip_resnet *r, const float *pixels, int B,
                             float *feat, struct coop_err *e)
{
    if (B <= 0)
        return B == 0 ? 0 : coop_fail(e, COOP_E_INVAL, "resnet: batch %d", B);
    if (!r->blocks || r->image_size % 32 || (32 * r->width) % r->heads)
        return coop_fail(e, COOP_E_INVAL, "resnet: tower not configured (image %d, width %d)",
                         r->image_size, r->width);
    struct plan p = resnet_plan(r);
    int S = r->image_size, G = S / 32, T = G * G + 1, D = 32 * r->width;
    size_t per_image = 4 * p.act + p.work, px = (size_t)3 * S * S, ntok = (size_t)T * D;
    float *mem = coop_alloc_floats(per_image + 3 * ntok + 2 * (size_t)D + T);
    if (!mem)
        return coop_fail(e, COOP_E_NOMEM, "resnet: cannot allocate activations for batch %d",
                         B);
    size_t a = p.act;
    struct bufs u = {1, mem, mem + a, mem + 2 * a, mem + 3 * a, mem + 4 * a};
    float *tokens = mem + per_image, *kv = tokens + ntok, *q = kv + 2 * ntok;
    float *o = q + D, *sc = o + D;
    /* One image at a time through the same buffers: every sgemm an image
     * sees has the same shape whatever shares its batch, so its features
     * are the same bits (a batch-wide sgemm can take another OpenBLAS
     * kernel, with other rounding, as its size changes: docs/vision.md). */
    coop_clip_bf16_reset(r->bf16);
    for (int b = 0; b < B; b++) {
        if (!r->bf16 || !resnet_trunk_bf16(r, pixels + (size_t)b * px, &u, tokens))
            resnet_trunk(r, pixels + (size_t)b * px, &u, tokens);
        attnpool(r, tokens, 1, T, feat + (size_t)b * r->embed_dim, kv, q, o, sc);
    }
    coop_free(mem);
    return coop_clip_bf16_status(r->bf16, e);
}
