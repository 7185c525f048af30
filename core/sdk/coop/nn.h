/* coop/nn.h: float32 kernels, each a _forward/_backward pair of plain
 * functions over row-major arrays (outputs first, then inputs, then sizes),
 * plus a naive reference (_ref) used as the oracle in tests. Backward
 * functions ACCUMULATE (+=) into gradient buffers the caller zeroes; a NULL
 * gradient pointer means "not needed" (frozen weights) and skips that work.
 * Nothing here allocates except where stated, prints, or knows about models. */
#ifndef COOP_NN_H
#define COOP_NN_H

#include "coop/common.h"

/* out[M,N] = inp[M,K] @ w[N,K]^T + bias[N]   (PyTorch nn.Linear layout; bias may be NULL) */
COOP_API void coop_linear_forward(float *out, const float *inp, const float *w, const float *bias,
                                  int M, int K, int N);
COOP_API void coop_linear_forward_ref(float *out, const float *inp, const float *w,
                                      const float *bias, int M, int K, int N);
/* dinp[M,K] += dout @ w; dw[N,K] += dout^T @ inp; dbias[N] += colsum(dout) */
COOP_API void coop_linear_backward(float *dinp, float *dw, float *dbias, const float *dout,
                                   const float *inp, const float *w, int M, int K, int N);
COOP_API void coop_linear_backward_ref(float *dinp, float *dw, float *dbias, const float *dout,
                                       const float *inp, const float *w, int M, int K, int N);

/* out[M,N] = a[M,K] @ b[K,N] (plain matmul, e.g. x @ text_projection) */
COOP_API void coop_matmul_forward(float *out, const float *a, const float *b, int M, int K, int N);
COOP_API void coop_matmul_forward_ref(float *out, const float *a, const float *b, int M, int K,
                                      int N);
/* da[M,K] += dout @ b^T; db[K,N] += a^T @ dout */
COOP_API void coop_matmul_backward(float *da, float *db, const float *dout, const float *a,
                                   const float *b, int M, int K, int N);

COOP_API void coop_matmul_backward_ref(float *da, float *db, const float *dout, const float *a,
                                       const float *b, int M, int K, int N);

/* LayerNorm over C (eps e.g. 1e-5, biased variance). mean/rstd [M] saved for backward
 * (may be NULL in inference). */
COOP_API void coop_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                                     const float *w, const float *b, int M, int C, float eps);
COOP_API void coop_layernorm_forward_ref(float *out, float *mean, float *rstd, const float *inp,
                                         const float *w, const float *b, int M, int C,
                                         float eps);
COOP_API void coop_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                                      const float *inp, const float *w, const float *mean,
                                      const float *rstd, int M, int C);
COOP_API void coop_layernorm_backward_ref(float *dinp, float *dw, float *db, const float *dout,
                                          const float *inp, const float *w, const float *mean,
                                          const float *rstd, int M, int C);
/* coop_layernorm_backward's dinp (+=) alone, its row sums over 16 lanes so
 * that it vectorises (tests/nn: within 1e-5 of it): the towers' bf16 path.
 * Not bit-identical to coop_layernorm_backward. */
COOP_API void coop_layernorm_backward_input_fast(float *dinp, const float *dout,
                                                 const float *inp, const float *w,
                                                 const float *mean, const float *rstd, int M,
                                                 int C);

/* QuickGELU: x * sigmoid(1.702 x) */
COOP_API void coop_quick_gelu_forward(float *out, const float *inp, size_t n);
COOP_API void coop_quick_gelu_forward_ref(float *out, const float *inp, size_t n);
COOP_API void coop_quick_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n);
/* The same with an exp that vectorises (2^n e^r, Cody-Waite reduction, a
 * degree-7 polynomial; arguments clamped to [-87, 88]; tests/nn: within 1e-6
 * of the exact ones) instead of libm's expf: the towers' bf16 path, whose products
 * round far more (coop/clip.h). Not bit-identical to the two above. */
COOP_API void coop_quick_gelu_forward_fast(float *out, const float *inp, size_t n);
COOP_API void coop_quick_gelu_backward_fast(float *dinp, const float *dout, const float *inp,
                                            size_t n);

/* Multi-head self-attention core on packed qkv [B, T, 3C] (q | k | v, heads
 * contiguous C/H slices): out [B, T, C] = softmax(q k^T / sqrt(C/H) + mask) v.
 * att [B, H, T, T] receives the probabilities (needed by backward; may be NULL
 * in inference). causal: mask j > i. */
COOP_API void coop_attention_forward(float *out, float *att, const float *qkv, int B, int T,
                                     int C, int H, int causal);
COOP_API void coop_attention_forward_ref(float *out, float *att, const float *qkv, int B, int T,
                                         int C, int H, int causal);
/* The same with a softmax whose loops vectorise (coop_quick_gelu_forward_fast's
 * exp, sums over 16 lanes; tests/nn: within 1e-5 of the largest output): the
 * towers' bf16 path. Not bit-identical to coop_attention_forward. */
COOP_API void coop_attention_forward_fast(float *out, float *att, const float *qkv, int B, int T,
                                          int C, int H, int causal);
COOP_API void coop_attention_backward(float *dqkv, const float *dout, const float *qkv,
                                      const float *att, int B, int T, int C, int H, int causal);

/* One query against T keys/values, H heads of D/H (core/nn/attention_one.c):
 * out [D] = softmax(q k^T / sqrt(D/H)) v per head; k, v rows ld floats apart;
 * sc [T] scratch. Inference only (the ResNet attention pool, the ViT's last
 * block on its class row). Equals coop_attention_forward's row for that query. */
COOP_API void coop_attention_one_forward(float *out, const float *q, const float *k,
                                         const float *v, int ld, int T, int D, int H,
                                         float *sc);

/* Causal attention of B suffixes continuing ONE shared prefix (the CoOp fast
 * path): suffix token i (position P + i) attends to all P prefix tokens and to
 * suffix tokens 0..i. qkv [B, S, 3C] (suffixes), pqkv [P, 3C] (prefix, shared),
 * out [B, S, C], att [H, B, S, P+S] (head-major; required, used by backward).
 * Equals coop_attention_forward(causal) on [prefix ; suffix_b], suffix rows.
 * Backward: dqkv [B, S, 3C] += and dpqkv [P, 3C] += (the k | v parts receive
 * the contributions of every suffix; q part untouched); scratch [H*B*S*(P+S)]. */
COOP_API void coop_attention_prefix_forward(float *out, float *att, const float *qkv,
                                            const float *pqkv, int B, int S, int P, int C, int H);
COOP_API void coop_attention_prefix_backward(float *dqkv, float *dpqkv, float *scratch,
                                             const float *dout, const float *qkv,
                                             const float *pqkv, const float *att, int B, int S,
                                             int P, int C, int H);

/* Softmax cross-entropy over rows: loss = mean_i -log softmax(logits_i)[y_i];
 * dlogits (may be NULL) = (softmax - onehot) / M. Returns the mean loss. */
COOP_API float coop_cross_entropy(float *dlogits, const float *logits, const int *y, int M,
                                  int N);
COOP_API double coop_cross_entropy_ref(const float *logits, const int *y, int M, int N);

/* Cosine logits (core/nn/cosine.c): logits [N, K] = scale * x [N, E] @ t [K, E]^T,
 * x and t already L2-normalised. Backward: dx [N, E] += scale * dlogits @ t and
 * dt [K, E] += scale * dlogits^T @ x; either may be NULL. */
COOP_API void coop_cosine_logits(float *logits, const float *x, const float *t, int N, int K,
                                 int E, float scale);
COOP_API void coop_cosine_logits_ref(float *logits, const float *x, const float *t, int N,
                                     int K, int E, float scale);
COOP_API void coop_cosine_logits_backward(float *dx, float *dt, const float *dlogits,
                                          const float *x, const float *t, int N, int K, int E,
                                          float scale);

/* CLIP's symmetric contrastive loss (core/nn/infonce.c).
 * img [B, E], txt [B, E]: L2-normalised features of B matching pairs.
 * logits = exp(logit_scale) * img txt^T; loss = (CE(logits, diag) +
 * CE(logits^T, diag)) / 2. dimg, dtxt [B, E] (overwritten) and *dscale
 * (d loss / d logit_scale) may be NULL. Returns the loss (NaN when out of
 * memory). _ref: the same in double precision, straight from the definition. */
COOP_API double coop_infonce(float *dimg, float *dtxt, float *dscale, const float *img,
                             const float *txt, float logit_scale, int B, int E);
COOP_API double coop_infonce_ref(const float *img, const float *txt, float logit_scale, int B,
                                 int E);

/* Row-wise L2 normalisation: out = x / ||x||; norm [M] saved. Backward
 * dx += (dout - out * <dout, out>) / norm. */
COOP_API void coop_l2norm_forward(float *out, float *norm, const float *x, int M, int C);
COOP_API void coop_l2norm_forward_ref(float *out, float *norm, const float *x, int M, int C);
COOP_API void coop_l2norm_backward(float *dx, const float *dout, const float *out,
                                   const float *norm, int M, int C);

/* ---- 2-D convolution (core/nn/conv.c) --------------------------------------
 * Weight [Co, Ci, kh, kw], no dilation/groups; bias [Co] may be NULL.
 * im2col + GEMM. Output side: (H + 2 pad - k) / stride + 1. */
static inline int coop_conv2d_out(int H, int k, int stride, int pad)
{
    return (H + 2 * pad - k) / stride + 1;
}
/* Workspace floats coop_conv2d_forward_batch needs PER IMAGE (0 for 1x1 /
 * stride 1 / no pad, which needs no im2col). */
COOP_API size_t coop_conv2d_work(int Ci, int H, int W, int kh, int kw, int stride, int pad);
/* out [Co, nb, Ho, Wo] = conv(inp [Ci, nb, H, W]): channel-major over nb
 * images, so one sgemm [Co, K] @ [K, nb*Ho*Wo] serves them all; work holds
 * nb * coop_conv2d_work(...) floats (NULL when that is 0). */
COOP_API void coop_conv2d_forward_batch(float *out, const float *inp, const float *w,
                                        const float *bias, int Ci, int nb, int H, int W, int Co,
                                        int kh, int kw, int stride, int pad, float *work);
/* One NCHW image per call; owns its workspace. */
COOP_API void coop_conv2d_forward(float *out, const float *inp, const float *w, const float *bias,
                                  int Ci, int H, int W, int Co, int kh, int kw, int stride,
                                  int pad);
COOP_API void coop_conv2d_forward_ref(float *out, const float *inp, const float *w,
                                      const float *bias, int Ci, int H, int W, int Co, int kh,
                                      int kw, int stride, int pad);

/* Measured single-precision GEMM peak of this machine (GFLOP/s) on an n x n x n
 * sgemm, best of a few runs; for benchmarks reporting efficiency. */
COOP_API double coop_sgemm_peak_gflops(int n);

#endif
