/* coop/clip.h: CLIP model in memory: configuration inferred from a checkpoint
 * and weight pointers into one float32 arena (checkpoints in fp16/bf16 are
 * converted at load). Names follow the OpenAI state dict. The loader
 * (core/clip/checkpoint.c) fills these structs; the towers (text.c, vit.c,
 * resnet.c) read them. Shapes are given as in PyTorch. */
#ifndef COOP_CLIP_H
#define COOP_CLIP_H

#include "coop/common.h"
#include <stdbool.h>

/* The layout of the structs in this header. coop_clip_model embeds the towers
 * by value, so a field added to any of them moves the later members: every
 * such change bumps this number (1: ABI 1.1; 2: coop_clip_text.tape_budget;
 * 3: the towers' bf16 member, ABI 1.3), and libcoop refuses a model of another
 * layout (coop_clip_model_load_sized). */
#define COOP_CLIP_LAYOUT 3u

struct coop_clip_block {           /* pre-norm residual attention block, width W */
    float *ln_1_w, *ln_1_b;        /* [W] */
    float *in_proj_w, *in_proj_b;  /* [3W, W], [3W]: rows q | k | v */
    float *out_proj_w, *out_proj_b;/* [W, W], [W] */
    float *ln_2_w, *ln_2_b;        /* [W] */
    float *c_fc_w, *c_fc_b;        /* [4W, W], [4W] */
    float *c_proj_w, *c_proj_b;    /* [W, 4W], [W] */
};

/* The default of coop_clip_text.tape_budget: 3 GiB. */
#define COOP_CLIP_TEXT_TAPE_BUDGET ((size_t)3 << 30)

struct coop_clip_text {
    int context_length, vocab_size, width, heads, layers, embed_dim;
    float *token_embedding;        /* [V, W] */
    float *positional_embedding;   /* [L, W] */
    struct coop_clip_block *blocks;/* [layers] */
    float *ln_final_w, *ln_final_b;/* [W] */
    float *text_projection;        /* [W, E] */
    /* Bytes a forward's tape may take: a larger one keeps only each layer's
     * input and the backward recomputes the layer (same results, less
     * memory). 0 = COOP_CLIP_TEXT_TAPE_BUDGET; coop_clip_text_bind sets 0. */
    size_t tape_budget;
    struct coop_clip_bf16 *bf16;   /* NULL: fp32 products; coop_clip_text_bf16_enable */
};

struct coop_clip_vit {
    int image_size, patch_size, width, heads, layers, embed_dim;
    float *conv1_w;                /* [W, 3, P, P], no bias */
    float *class_embedding;        /* [W] */
    float *positional_embedding;   /* [(S/P)^2 + 1, W] */
    float *ln_pre_w, *ln_pre_b;
    struct coop_clip_block *blocks;
    float *ln_post_w, *ln_post_b;
    float *proj;                   /* [W, E] */
    struct coop_clip_bf16 *bf16;   /* NULL: fp32 products; coop_clip_vit_bf16_enable */
};

#define COOP_CLIP_BN_EPS 1e-5f       /* BatchNorm2d's eps */
struct coop_clip_bn {               /* BatchNorm2d in eval mode, eps COOP_CLIP_BN_EPS */
    float *w, *b, *mean, *var;     /* [C] */
};
struct coop_clip_bottleneck {       /* expansion 4 */
    int inplanes, planes, stride;
    float *conv1_w; struct coop_clip_bn bn1;   /* [planes, inplanes, 1, 1] */
    float *conv2_w; struct coop_clip_bn bn2;   /* [planes, planes, 3, 3] */
    float *conv3_w; struct coop_clip_bn bn3;   /* [4 planes, planes, 1, 1] */
    bool has_downsample;           /* AvgPool(stride) + 1x1 conv + BN */
    float *down_conv_w; struct coop_clip_bn down_bn; /* [4 planes, inplanes, 1, 1] */
};
struct coop_clip_resnet {
    int image_size, width, embed_dim, heads, layers[4];
    float *conv1_w; struct coop_clip_bn bn1;   /* [W/2, 3, 3, 3] stride 2 */
    float *conv2_w; struct coop_clip_bn bn2;   /* [W/2, W/2, 3, 3] */
    float *conv3_w; struct coop_clip_bn bn3;   /* [W, W/2, 3, 3] */
    struct coop_clip_bottleneck *blocks;       /* layers[0]+..+layers[3] */
    /* AttentionPool2d over (S/32)^2 + 1 tokens of width 32W (= 8 * 4 * W) */
    float *ap_positional_embedding;            /* [(S/32)^2 + 1, 32W] */
    float *ap_q_w, *ap_q_b, *ap_k_w, *ap_k_b, *ap_v_w, *ap_v_b; /* [32W, 32W] */
    float *ap_c_w, *ap_c_b;                    /* [E, 32W] */
    struct coop_clip_bf16 *bf16; /* NULL: fp32 products; coop_clip_resnet_bf16_enable */
};

enum coop_clip_vision_kind { COOP_CLIP_VISION_NONE = 0, COOP_CLIP_VISION_VIT = 1,
                             COOP_CLIP_VISION_RESNET = 2 };

struct coop_clip_model {
    struct coop_clip_text text;
    enum coop_clip_vision_kind vision_kind;
    struct coop_clip_vit vit;
    struct coop_clip_resnet resnet;
    float logit_scale;             /* raw parameter (log); exp() gives the multiplier */
    char arch[64];                 /* e.g. "ViT-B/16", "RN50", or a descriptive name */
    float *arena;                  /* owns every weight */
    size_t n_floats;
    void *aux;                     /* loader-owned block arrays */
};

/* ---- towers (core/clip/text.c, vit.c, resnet.c) --------------------------
 * Gradient containers reuse the weight structs: a struct whose pointers point
 * into a zeroed gradient arena of the same layout (coop_clip_*_grads_alloc).
 * A NULL gradient struct means frozen weights: only input gradients. */

/* Text tower from token embeddings. emb [K, L, W] WITHOUT positional
 * embedding; eot [K] (index of the EOT token in each prompt). Exact fast path:
 * positions beyond a prompt's own EOT are never computed (prompts of equal
 * length share the attention calls); shared_prefix > 0 asserts that
 * rows [0, shared_prefix) are identical in every prompt, so they are computed
 * once. feat [K, E] = ln_final(x)[eot] @ text_projection (not normalised).
 * tape (may be NULL): saved activations for the backward. */
struct coop_clip_text_tape;
COOP_API int coop_clip_text_forward(const struct coop_clip_text *t, const float *emb,
                                    const int *eot, int K, int shared_prefix, float *feat,
                                    struct coop_clip_text_tape **tape, struct coop_err *e);
/* dfeat [K, E] -> demb [K, L, W] (+=); dw (may be NULL) accumulates weight
 * gradients (token_embedding is not touched: the caller scatters demb).
 * With a shared prefix of P rows in use, the gradient of rows [0, P) is the
 * SUM over all prompts and is added to prompt 0's rows only (other prompts'
 * rows [0, P) get nothing): exact for any caller that sums demb over prompts
 * for parameters shared by all prompts (CoOp's unified context). Rows past
 * the longest EOT get nothing (their gradient is exactly zero).
 * Large batches keep only each layer's input on the tape and recompute the
 * layer in the backward (same results; chosen when the full tape would exceed
 * t->tape_budget, by default about 3 GiB). */
COOP_API int coop_clip_text_backward(const struct coop_clip_text *t,
                                     struct coop_clip_text_tape *tape, const float *dfeat,
                                     float *demb, struct coop_clip_text *dw, struct coop_err *e);
COOP_API void coop_clip_text_tape_free(struct coop_clip_text_tape *tape);
/* coop_clip_text_forward with a tape, reusing an earlier tape's memory (a
 * training loop: no allocation, page faults or zeroing per iteration).
 * *tape on entry: NULL or a tape from an earlier forward, which this call
 * takes over (kept when the new run has the same sizes, freed otherwise);
 * on return the new tape (NULL on failure). Same results as the plain call. */
COOP_API int coop_clip_text_forward_reuse(const struct coop_clip_text *t, const float *emb,
                                          const int *eot, int K, int shared_prefix, float *feat,
                                          struct coop_clip_text_tape **tape,
                                          struct coop_err *e);
/* Convenience: token ids [K, L] -> feat [K, E] (eot = argmax id per row). */
COOP_API int coop_clip_text_encode_ids(const struct coop_clip_text *t, const int32_t *ids, int K,
                                       float *feat, struct coop_err *e);
/* Texts [n] -> tokens [n, L] and feat [n, E] (core/clip/encode.c): every text
 * tokenised (truncate: cut one longer than the context, EOT kept last;
 * otherwise that is an error naming the text's 1-based number), then
 * coop_clip_text_encode_ids over batches of COOP_CLIP_ENCODE_BATCH. */
#define COOP_CLIP_ENCODE_BATCH 64
struct coop_tokenizer;
COOP_API int coop_clip_encode_texts(const struct coop_clip_text *t,
                                    const struct coop_tokenizer *tok, const char *const *texts,
                                    size_t n, bool truncate, int32_t *tokens, float *feat,
                                    struct coop_err *e);

/* Same result as coop_clip_text_forward, computed the plain way: every prompt,
 * all L positions, no prefix sharing. The reference for the fast path (tests,
 * benchmark); its tape works with coop_clip_text_backward. */
COOP_API int coop_clip_text_forward_plain(const struct coop_clip_text *t, const float *emb,
                                          const int *eot, int K, float *feat,
                                          struct coop_clip_text_tape **tape,
                                          struct coop_err *e);

/* ---- text weights in one arena (core/clip/text_weights.c) -----------------
 * Canonical order, also used by coop_clip_text_init_random's per-tensor seeds:
 * token_embedding, positional_embedding, then per block ln_1_w, ln_1_b,
 * in_proj_w, in_proj_b, out_proj_w, out_proj_b, ln_2_w, ln_2_b, c_fc_w, c_fc_b,
 * c_proj_w, c_proj_b, then ln_final_w, ln_final_b, text_projection.
 * heads must divide W (CLIP uses W / 64). */
COOP_API size_t coop_clip_text_size(int L, int V, int W, int layers, int E);
/* Sets the config of t and points its weights into arena (coop_clip_text_size
 * floats); blocks [layers] is caller storage. Returns the floats used. */
COOP_API size_t coop_clip_text_bind(struct coop_clip_text *t, struct coop_clip_block *blocks,
                                    float *arena, int L, int V, int W, int heads, int layers,
                                    int E);
/* Allocates a zeroed arena (*arena) and the blocks array and binds t to them;
 * release with coop_clip_text_free. */
COOP_API int coop_clip_text_alloc(struct coop_clip_text *t, int L, int V, int W, int heads,
                                  int layers, int E, float **arena, struct coop_err *e);
/* Zeroed gradient container with t's config and layout. */
COOP_API int coop_clip_text_grads_alloc(struct coop_clip_text *g, const struct coop_clip_text *t,
                                        float **arena, struct coop_err *e);
COOP_API void coop_clip_text_free(struct coop_clip_text *t, float *arena);
/* Deterministic random weights (tests, fixtures, benchmarks): tensor number i
 * of the canonical order is filled by coop_hash_uniform(seed * 1000 + i) over
 * [-a, a]: a = 1/sqrt(fan_in) for matrices [out, in] and their biases (in_proj,
 * out_proj, c_fc, c_proj), a = 1/sqrt(W) for text_projection [W, E], 0.035 for
 * token_embedding, 0.017 for positional_embedding, 0.1 for LayerNorm biases;
 * LayerNorm weights in [0.9, 1.1]. */
COOP_API void coop_clip_text_init_random(struct coop_clip_text *t, uint64_t seed);

/* Image towers. pixels [B, 3, S, S] normalised; feat [B, E] not normalised. */
struct coop_clip_vit_tape;
COOP_API int coop_clip_vit_forward(const struct coop_clip_vit *v, const float *pixels, int B,
                                   float *feat, struct coop_clip_vit_tape **tape,
                                   struct coop_err *e);
/* dfeat [B, E] -> weight gradients dw (+=); dpixels may be NULL. */
COOP_API int coop_clip_vit_backward(const struct coop_clip_vit *v, struct coop_clip_vit_tape *tape,
                                    const float *dfeat, float *dpixels, struct coop_clip_vit *dw,
                                    struct coop_err *e);
COOP_API void coop_clip_vit_tape_free(struct coop_clip_vit_tape *tape);
/* coop_clip_vit_forward with a tape, reusing an earlier tape's memory and the
 * backward's scratch (a training loop: no allocation, page faults or zeroing
 * per step). *tape on entry: NULL or a tape from an earlier forward of the same
 * model, which this call takes over (kept when the batch size is the same,
 * freed otherwise); on return the new tape (NULL on failure). Same results as
 * the plain call. */
COOP_API int coop_clip_vit_forward_reuse(const struct coop_clip_vit *v, const float *pixels,
                                         int B, float *feat, struct coop_clip_vit_tape **tape,
                                         struct coop_err *e);
COOP_API int coop_clip_resnet_forward(const struct coop_clip_resnet *r, const float *pixels, int B,
                                      float *feat, struct coop_err *e);
/* Dispatches on vision_kind. */
COOP_API int coop_clip_encode_images(const struct coop_clip_model *m, const float *pixels, int B,
                                     float *feat, struct coop_err *e);

/* ---- bf16 products (core/clip/towers_bf16.c) ----------------------------
 * A tower with bf16 set runs the matrix products of its frozen weights in
 * bf16 with float32 accumulation (coop/bf16.h): the four linear layers of
 * every block (text and ViT), the ViT's patch embedding, every convolution
 * of the ResNet (as the GEMM of its im2col) and its attention pool's
 * projections; with backward,
 * the text tower's input-gradient products too (bf16 copies of each w^T).
 * Everything else (embeddings, LayerNorm, attention scores and softmax, the
 * final projections, weight gradients) stays float32. The weights are
 * converted once here; changing the float32 weights afterwards is not seen.
 * COOP_E_UNSUPPORTED with the reason when this build or CPU has no bf16
 * products (coop_bf16_check). Enabling twice keeps the first set. */
struct coop_clip_bf16;
COOP_API int coop_clip_text_bf16_enable(struct coop_clip_text *t, bool backward,
                                        struct coop_err *e);
COOP_API int coop_clip_vit_bf16_enable(struct coop_clip_vit *v, struct coop_err *e);
COOP_API int coop_clip_resnet_bf16_enable(struct coop_clip_resnet *r, struct coop_err *e);
/* Back to float32 products (frees the bf16 weights). NULL-safe. */
COOP_API void coop_clip_text_bf16_disable(struct coop_clip_text *t);
COOP_API void coop_clip_vit_bf16_disable(struct coop_clip_vit *v);
COOP_API void coop_clip_resnet_bf16_disable(struct coop_clip_resnet *r);
/* What runs m's matrix products, into buf: "onednn:amx" or
 * "onednn:avx512_bf16" when its text tower has bf16 products, else
 * "openblas:<core>" (coop_blas_core_name). */
COOP_API void coop_clip_matmul_isa(const struct coop_clip_model *m, char *buf, size_t len);
/* oneDNN's implementation of the set's last product (e.g.
 * "brg:avx512_core_bf16"); "" for NULL or before the first product. */
COOP_API const char *coop_clip_bf16_impl(const struct coop_clip_bf16 *s);

/* ---- image-tower construction (core/vision/params.c) ---------------------
 * Lay a tower of the given configuration out in ONE zeroed allocation: the
 * block array followed by every float, contiguous from the first tensor
 * (conv1_w), n_floats of them (may be NULL) -- so an optimiser or a
 * gradient reset is one flat loop. *mem receives the allocation: free it
 * with coop_free (that frees the tower). Zeroed, the same layout serves as a
 * gradient container. ResNet heads: OpenAI uses width * 32 / 64. */
COOP_API int coop_clip_vit_alloc(struct coop_clip_vit *v, void **mem, size_t *n_floats,
                                 int image_size, int patch_size, int width, int layers,
                                 int heads, int embed_dim, struct coop_err *e);
COOP_API int coop_clip_vit_grads_alloc(struct coop_clip_vit *g, void **mem, size_t *n_floats,
                                       const struct coop_clip_vit *v, struct coop_err *e);
COOP_API int coop_clip_resnet_alloc(struct coop_clip_resnet *r, void **mem, size_t *n_floats,
                                    int image_size, int width, const int layers[4], int heads,
                                    int embed_dim, struct coop_err *e);
/* Seeded initialisation (docs/vision.md): the tensor with OpenAI state-dict
 * name N (e.g. "visual.conv1.weight") gets coop_hash_uniform(seed =
 * coop_seed_derive(seed, N)) over a range set by its role: matrices and
 * convolutions +-1/sqrt(fan_in), embeddings and proj +-1/sqrt(width), norm
 * gains [0.9, 1.1), biases and BN means [-0.05, 0.05), BN variances
 * [0.5, 1.5). Returns 0 or COOP_E_NOMEM. */
COOP_API int coop_clip_vit_init_hash(struct coop_clip_vit *v, uint64_t seed);
COOP_API int coop_clip_resnet_init_hash(struct coop_clip_resnet *r, uint64_t seed);

#endif
