/* coop/bf16.h: matrix products in bfloat16 with float32 accumulation for
 * frozen weights, through oneDNN on AMX or AVX512-BF16. The weights are
 * converted to bf16 once (coop_bf16_linear_create), the activations on every
 * call; the output is float32. A CPU with neither instruction set, or a build
 * without oneDNN (meson -Donednn), is refused with COOP_E_UNSUPPORTED and a
 * message saying which. Nothing here prints.
 *
 * Error: both factors are rounded to bf16 (8 significant bits, unit roundoff
 * u = 2^-8), each product is exact in float32 and the sums are float32, so
 * every output element satisfies, against the exact product of the float32
 * inputs,
 *   |out - ref| <= (2u + u^2 + (K + 1) 2^-24 (1 + 2u + u^2)) *
 *                  (sum_k |inp[m,k] w[n,k]| + |bias[n]|)
 * (rounding of the factors, then K float32 additions plus the bias). On
 * uniform random data the error is 1.3e-3 to 2.5e-3 of the largest output
 * (max|out - ref| / max|ref|, K = 1 to 2048); tests/blas asserts both the
 * bound per element and 1e-2 overall. */
#ifndef COOP_BF16_H
#define COOP_BF16_H

#include "coop/common.h"
#include "coop/cpu.h"
#include <stdbool.h>

/* Which bf16 instructions a CPU offers: AMX tiles first, then AVX512-BF16. */
enum coop_bf16_isa { COOP_BF16_ISA_NONE = 0, COOP_BF16_ISA_AVX512, COOP_BF16_ISA_AMX };
COOP_API enum coop_bf16_isa coop_bf16_isa(const struct coop_cpu_features *f); /* pure */
COOP_API const char *coop_bf16_isa_name(enum coop_bf16_isa isa); /* "amx", "avx512_bf16", "none" */

/* true when this build has oneDNN. */
COOP_API bool coop_bf16_built(void);
/* 0 when bf16 products can run in this process; else COOP_E_UNSUPPORTED with
 * the reason (no oneDNN in this build, or this CPU has neither AMX nor
 * AVX512-BF16, naming its features). */
COOP_API int coop_bf16_check(struct coop_err *e);

/* out[M,N] = bf16(inp)[M,K] @ bf16(w)[N,K]^T + bias[N] (bf16() rounds to
 * nearest even, coop_f32_to_bf16 of coop/safetensors.h) with the products and
 * sums in double: the bf16 computation without its float32 accumulation
 * error (the test oracle next to coop_linear_forward_ref). bias may be NULL. */
COOP_API void coop_bf16_linear_forward_ref(float *out, const float *inp, const float *w,
                                           const float *bias, int M, int K, int N);

/* A linear layer with frozen weights w[N,K] (PyTorch nn.Linear layout) and
 * optional bias[N], both copied (w converted to bf16 in oneDNN's preferred
 * layout). One forward at a time per object (it keeps the activation
 * buffer). Free with coop_bf16_linear_free. */
struct coop_bf16_linear;
COOP_API int coop_bf16_linear_create(struct coop_bf16_linear **out, const float *w,
                                     const float *bias, int K, int N, struct coop_err *e);
/* out[M,N] = inp[M,K] @ w^T + bias, M >= 1. */
COOP_API int coop_bf16_linear_forward(struct coop_bf16_linear *l, float *out, const float *inp,
                                      int M, struct coop_err *e);
/* What coop_bf16_linear_forward_ex does around the product (or'ed):
 * IN_BF16     inp is already bf16 (uint16_t [M,K], e.g. another layer's
 *             OUT_BF16 output), used as it is;
 * OUT_BF16    out is bf16 (uint16_t [M,N]): the float32 result rounded to
 *             nearest even, as the next layer's rounding would;
 * QUICK_GELU  out = QuickGELU(product + bias) = y sigmoid(1.702 y), CLIP's
 *             activation, in float32 before any OUT_BF16 rounding (oneDNN's
 *             swish post-op);
 * ACCUMULATE  out (float32, holding the residual) += product + bias (oneDNN's
 *             sum post-op); not with OUT_BF16 or QUICK_GELU.
 * A residual block's products run without a float32 pass between them. */
enum {
    COOP_BF16_IN_BF16 = 1u,
    COOP_BF16_OUT_BF16 = 2u,
    COOP_BF16_QUICK_GELU = 4u,
    COOP_BF16_ACCUMULATE = 8u,
    COOP_BF16_FLAGS = 15u,    /* the linear layer's */
    COOP_BF16_RELU = 16u      /* coop_bf16_conv_forward_nhwc only: a ReLU last */
};
/* coop_bf16_linear_forward with flags; COOP_E_INVAL for unknown flags or
 * ACCUMULATE with another output flag. Up to 4 (row count, flags) primitives
 * are kept per layer, all over the same packed weights. */
COOP_API int coop_bf16_linear_forward_ex(struct coop_bf16_linear *l, void *out, const void *inp,
                                         int M, unsigned flags, struct coop_err *e);
/* oneDNN's implementation of the last forward (e.g. "brg:avx512_core_bf16"),
 * or "" before the first. */
COOP_API const char *coop_bf16_linear_impl(const struct coop_bf16_linear *l);
COOP_API void coop_bf16_linear_free(struct coop_bf16_linear *l);

/* Multi-head self-attention of one sequence in bf16, no mask: out [T, C]
 * (bf16, for the next layer's COOP_BF16_IN_BF16) from qkv [T, 3C] (bf16,
 * q | k | v per row, as an in-projection writes it with COOP_BF16_OUT_BF16),
 * H heads of C / H: scores = q k^T / sqrt(C / H) and out = softmax(scores) v
 * through oneDNN's batched matmul (bf16 factors, float32 accumulation), the
 * softmax in float32 with its probabilities rounded to bf16 for the second
 * product. The object is made for one (T, C, H) and keeps its buffers; one
 * forward at a time. */
struct coop_bf16_attention;
COOP_API int coop_bf16_attention_create(struct coop_bf16_attention **out, int T, int C, int H,
                                        struct coop_err *e);
COOP_API int coop_bf16_attention_forward(struct coop_bf16_attention *a, uint16_t *out,
                                         const uint16_t *qkv, struct coop_err *e);
/* oneDNN's implementation of the scores' product, "" when none. */
COOP_API const char *coop_bf16_attention_impl(const struct coop_bf16_attention *a);
COOP_API void coop_bf16_attention_free(struct coop_bf16_attention *a);

/* A frozen convolution w [Co, Ci, k, k] (PyTorch's layout; square kernel,
 * the same stride and zero padding on both axes, no bias) over one image:
 * out [Co, Ho, Wo] = conv(bf16(inp) [Ci, H, W], bf16(w)), Ho = (H + 2 pad -
 * k) / stride + 1, with oneDNN's convolution primitive in the layouts it
 * prefers (reordered to and from the plain planes on every call). The same
 * error bound as the layer above with K = Ci k k. w is converted once; the
 * primitive is built at the first forward and again when H or W changes.
 * One forward at a time per object. */
struct coop_bf16_conv;
COOP_API int coop_bf16_conv_create(struct coop_bf16_conv **out, const float *w, int Co, int Ci,
                                   int k, int stride, int pad, struct coop_err *e);
/* The same followed by a per-output-channel affine map and, with relu, a
 * ReLU: out = max(0, scale[co] conv(inp, w) + shift[co]) (a BatchNorm in
 * eval mode and its activation). scale is folded into w before the rounding
 * (bf16(scale w)), shift is the convolution's float32 bias, the ReLU a
 * oneDNN post-op: no float32 pass after the convolution. scale or shift
 * NULL: none. */
COOP_API int coop_bf16_conv_create_affine(struct coop_bf16_conv **out, const float *w, int Co,
                                          int Ci, int k, int stride, int pad, const float *scale,
                                          const float *shift, bool relu, struct coop_err *e);
/* out (float32, overwritten) from inp [Ci, H, W], H, W >= 1. */
COOP_API int coop_bf16_conv_forward(struct coop_bf16_conv *l, float *out, const float *inp,
                                    int H, int W, struct coop_err *e);
/* The same convolution on channels-last data, with no reorder: inp [H, W, Ci]
 * bf16 (NHWC), out [Ho, Wo, Co] float32, or bf16 with COOP_BF16_OUT_BF16;
 * with COOP_BF16_ACCUMULATE (float32 out only) out += the convolution (a
 * residual block's add) before the convolution's own ReLU, if it has one;
 * COOP_BF16_RELU adds a ReLU after that add where the convolution has none of
 * its own (max(0, conv + shift + out) for a block's last convolution). Its
 * own primitive and packed weights, built at the first call and again when
 * H, W or flags change; the plain-plane forward above is unaffected. */
COOP_API int coop_bf16_conv_forward_nhwc(struct coop_bf16_conv *l, void *out,
                                         const uint16_t *inp, int H, int W, unsigned flags,
                                         struct coop_err *e);
COOP_API const char *coop_bf16_conv_impl(const struct coop_bf16_conv *l);
COOP_API void coop_bf16_conv_free(struct coop_bf16_conv *l);

/* dst[i] = coop_f32_to_bf16(src[i]) (round to nearest even), vectorised for
 * AVX-512 where the CPU has it, on the OpenMP threads for large n. */
COOP_API void coop_bf16_round_n(uint16_t *dst, const float *src, size_t n);

/* Measured bf16 matmul throughput (GFLOP/s): the best over square products
 * s x s x s, s = 256, 512, ... up to n, through the layer above (activation
 * rounding included, best of 5 each; large squares fall out of the caches and
 * run slower, hence the sweep). Next to coop_sgemm_peak_gflops of coop/nn.h;
 * 0 where bf16 cannot run (core/nn/peak.c). */
COOP_API double coop_bf16_peak_gflops(int n);

#endif
