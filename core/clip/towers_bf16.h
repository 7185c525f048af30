/* towers_bf16.h: the products the towers (text.c, vision/vit.c) run through
 * a struct coop_clip_bf16 (coop/clip.h). Each call names the float32 weight
 * it multiplies by; a NULL set, or a weight the set has no bf16 copy of, runs
 * the float32 kernel of coop/nn.h unchanged (bit-identical). A bf16 product
 * that fails (out of memory) is computed in float32 instead and the first
 * failure is kept for coop_clip_bf16_status. Not installed. */
#ifndef COOP_TOWERS_BF16_H
#define COOP_TOWERS_BF16_H

#include "coop/clip.h"

/* coop_linear_forward: out [M,N] = inp [M,K] @ w [N,K]^T + bias. */
void coop_clip_bf16_linear(struct coop_clip_bf16 *s, float *out, const float *inp,
                           const float *w, const float *bias, int M, int K, int N);
/* x [M,N] += inp [M,K] @ w^T + bias: through w's bf16 copy with the add as
 * the product's post-op, else (no copy, or it failed) in float32 through
 * tmp [M,N]. */
void coop_clip_bf16_linear_acc(struct coop_clip_bf16 *s, float *x, const float *inp,
                               const float *w, const float *bias, int M, int K, int N,
                               float *tmp);
/* The attention half of a pre-norm residual block on one sequence (no
 * mask), in place: x [T,W] += out_proj(attention(in_proj(ln_1(x)))), H heads,
 * LayerNorm epsilon eps. With bf16 copies of both projections the LayerNorm
 * writes bf16 (coop_bf16_layernorm), the in-projection reads and writes bf16,
 * the attention runs in bf16 (coop_bf16_attention of coop/bf16.h, kept in
 * the set for the last shape) and the out-projection adds into x as a
 * post-op; else float32 (the _fast softmax when the set is non-NULL).
 * Scratch: ln [T,W], qkv [T,3W], ao [T,W]. */
void coop_clip_bf16_attn_acc(struct coop_clip_bf16 *s, float *x, const struct coop_clip_block *k,
                             int T, int W, int H, float eps, float *ln, float *qkv, float *ao);
/* The MLP half, in place: x [M,W] += c_proj(QuickGELU(c_fc(ln_2(x)))). With
 * bf16 copies of both weights the LayerNorm writes bf16, c_fc writes
 * QuickGELU of its output in bf16 (a post-op) and c_proj reads that and adds
 * into x, with no float32 pass between them; else float32 (the _fast
 * QuickGELU when the set is non-NULL). Scratch: ln [M,W], fc and ge [M,4W]. */
void coop_clip_bf16_mlp_acc(struct coop_clip_bf16 *s, float *x, const struct coop_clip_block *k,
                            int M, int W, float eps, float *ln, float *fc, float *ge);
/* out [M,N] = LayerNorm(x [M,K]) @ w^T + bias, with the LayerNorm's row
 * statistics in mean, rstd [M] (for its backward; may be NULL) and ln [M,K]
 * scratch. With a bf16 copy of w the LayerNorm writes bf16 into ln
 * (coop_bf16_layernorm) and the product reads it as it is; else float32
 * (coop_layernorm_forward, then coop_clip_bf16_linear). */
void coop_clip_bf16_ln_linear(struct coop_clip_bf16 *s, float *out, float *ln, float *mean,
                              float *rstd, const float *x, const float *ln_w, const float *ln_b,
                              float eps, const float *w, const float *bias, int M, int K, int N);
/* out [M,N] = QuickGELU(fc [M,K]) @ w^T + bias, g [M,K] scratch. With a bf16
 * copy of w QuickGELU writes bf16 into g (coop_quick_gelu_forward_bf16) for
 * the product; else coop_clip_bf16_gelu into g, then coop_clip_bf16_linear. */
void coop_clip_bf16_gelu_linear(struct coop_clip_bf16 *s, float *out, float *g, const float *fc,
                                const float *w, const float *bias, int M, int K, int N);
/* The input gradient through QuickGELU(fc [M,N]) and the product by w
 * [N,K] (an MLP's c_fc): d(fc) = dy * QuickGELU'(fc) into dfc [M,N] scratch,
 * then coop_clip_bf16_linear_backward_into(dinp, dw, dbias, d(fc), inp, w).
 * Without weight gradients (dw and dbias NULL) and with w's bf16 transpose,
 * d(fc) is written in bf16 (coop_quick_gelu_backward_bf16) and read by the
 * product as it is. */
void coop_clip_bf16_gelu_backward_linear(struct coop_clip_bf16 *s, float *dinp, float *dw,
                                         float *dbias, float *dfc, const float *dy,
                                         const float *fc, const float *inp, const float *w,
                                         int M, int K, int N);
/* coop_linear_backward with dinp = (not +=) dout [M,N] @ w: through w's bf16
 * transpose when the set has one, straight into dinp; else zeroing, then
 * coop_linear_backward. dw and dbias (may be NULL) in float32, +=. */
void coop_clip_bf16_linear_backward_into(struct coop_clip_bf16 *s, float *dinp, float *dw,
                                         float *dbias, const float *dout, const float *inp,
                                         const float *w, int M, int K, int N);
/* The convolution of one image inp [Ci, H, W] by w [Co, Ci, k, k] (no bias,
 * the stride and padding it was added with) followed by the BatchNorm (and
 * ReLU) it was added with, into out [Co, Ho, Wo], through oneDNN's bf16
 * convolution with the BatchNorm folded in (coop_bf16_conv_create_affine of
 * coop/bf16.h); false (nothing done) when the set has no bf16 copy of w. */
bool coop_clip_bf16_conv2d(struct coop_clip_bf16 *s, float *out, const float *inp,
                           const float *w, int H, int W);
/* The same convolution (and its BatchNorm and ReLU) on channels-last data
 * (coop_bf16_conv_forward_nhwc of coop/bf16.h): inp [H, W, Ci] bf16, out
 * [Ho, Wo, Co] float32 or (COOP_BF16_OUT_BF16) bf16, COOP_BF16_ACCUMULATE
 * adding into out before the ReLU; false (nothing done) when the set has no
 * bf16 copy of w or the product failed (the failure kept). */
bool coop_clip_bf16_conv2d_nhwc(struct coop_clip_bf16 *s, void *out, const uint16_t *inp,
                                const float *w, int H, int W, unsigned flags);
/* QuickGELU: with a set, the vectorised-exp kernels (coop/nn.h, _fast),
 * else the exact ones. */
void coop_clip_bf16_gelu(const struct coop_clip_bf16 *s, float *out, const float *inp, size_t n);
void coop_clip_bf16_gelu_backward(const struct coop_clip_bf16 *s, float *dinp, const float *dout,
                                  const float *inp, size_t n);
/* coop_layernorm_backward: with a set, its input gradient through the
 * vectorised coop_layernorm_backward_input_fast (dw, db as before). */
void coop_clip_bf16_layernorm_backward(const struct coop_clip_bf16 *s, float *dinp, float *dw,
                                       float *db, const float *dout, const float *inp,
                                       const float *w, const float *mean, const float *rstd,
                                       int M, int C);
/* Self-attention (coop_attention_forward's arguments): with a set, the
 * vectorised softmax (coop_attention_forward_fast), else the exact one. */
void coop_clip_bf16_attention(const struct coop_clip_bf16 *s, float *out, float *att,
                              const float *qkv, int B, int T, int C, int H, int causal);
/* Forgets an earlier failure (call at the start of a tower's pass). */
void coop_clip_bf16_reset(struct coop_clip_bf16 *s);
/* 0, or the first failure since the reset (copied into e). */
int coop_clip_bf16_status(const struct coop_clip_bf16 *s, struct coop_err *e);

#endif
