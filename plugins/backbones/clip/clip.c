/* plugins/backbones/clip/clip.c: the `clip` backbone plugin. Opens a CLIP
 * safetensors checkpoint (OpenAI / open_clip / Hugging Face names, any of
 * F32/F16/BF16) and its BPE vocabulary (given, or found next to the
 * checkpoint) and serves the backbone ABI: tokenize, token embeddings, image
 * features, the frozen text tower forward/backward from token embeddings,
 * nearest vocabulary entries. Uses only libcoop's public API; never prints
 * (logs through the host) and never exits. */
#include "coop/checkpoint.h"
#include "coop/clip.h"
#include "coop/plugin.h"
#include "coop/tokenizer.h"
#include "coop/util.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct coop_backbone {
    struct coop_clip_model m;
    struct coop_tokenizer *tok;
    const struct coop_host *host;
    struct coop_clip_text_tape *spare; /* last freed tape, reused by the next forward */
    char sha256[65];
    bool bf16;
    char matmul_isa[64];
};

static const char *const precisions[] = {"fp32", "bf16", NULL};
static const struct coop_param_spec clip_params[] = {
    {"hash_checkpoint", COOP_PARAM_BOOL, "true", 0, -1, NULL,
     "compute the checkpoint's SHA-256 for the results (reads the whole file once)"},
    {"precision", COOP_PARAM_CHOICE, "fp32", 0, 0, precisions,
     "the towers' weight products: fp32 (OpenBLAS, the reference) or bf16 with fp32 "
     "accumulation (oneDNN on AMX or AVX512-BF16; refused where neither runs)"},
    COOP_PARAM_END,
};

static void logf_host(const struct coop_host *h, enum coop_log_level lv, const char *fmt, ...)
    COOP_PRINTF(3, 4);
static void logf_host(const struct coop_host *h, enum coop_log_level lv, const char *fmt, ...)
{
    if (!h || !h->log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    h->log(h->ctx, lv, msg);
}

static void clip_close(struct coop_backbone *bb)
{
    if (!bb)
        return;
    coop_clip_model_free(&bb->m);
    coop_tokenizer_free(bb->tok);
    coop_clip_text_tape_free(bb->spare);
    free(bb);
}

/* bf16 copies of the frozen towers' weights (text forward and backward, the
 * image tower). */
static int enable_bf16(struct coop_backbone *bb, const char *checkpoint, struct coop_err *e)
{
    int rc = coop_clip_text_bf16_enable(&bb->m.text, true, e);
    if (rc == 0 && bb->m.vision_kind == COOP_CLIP_VISION_VIT)
        rc = coop_clip_vit_bf16_enable(&bb->m.vit, e);
    if (rc == 0 && bb->m.vision_kind == COOP_CLIP_VISION_RESNET)
        rc = coop_clip_resnet_bf16_enable(&bb->m.resnet, e);
    if (rc)
        return coop_fail_prefix(e, rc, "clip: %s", checkpoint);
    bb->bf16 = true;
    return 0;
}

static int clip_open(const struct coop_host *host, const char *checkpoint, const char *vocab,
                     const struct coop_params *opts, struct coop_backbone **out,
                     struct coop_err *e)
{
    *out = NULL;
    if (!checkpoint)
        return coop_fail(e, COOP_E_INVAL, "clip: no checkpoint given");
    struct coop_backbone *bb = calloc(1, sizeof *bb);
    if (!bb)
        return coop_fail(e, COOP_E_NOMEM, "clip: out of memory");
    bb->host = host;
    int rc = coop_clip_model_load(&bb->m, checkpoint, e);
    if (rc == 0)
        rc = vocab ? coop_tokenizer_load(&bb->tok, vocab, e)
                   : coop_tokenizer_find_near(&bb->tok, checkpoint, e);
    if (rc == 0 && coop_tokenizer_vocab_size(bb->tok) > bb->m.text.vocab_size)
        rc = coop_fail(e, COOP_E_FORMAT,
                       "clip: the vocabulary has %d entries but %s embeds only %d tokens",
                       coop_tokenizer_vocab_size(bb->tok), checkpoint, bb->m.text.vocab_size);
    if (rc == 0 && coop_params_bool(opts, "hash_checkpoint", true))
        rc = coop_sha256_file(checkpoint, bb->sha256, e);
    if (rc == 0 && strcmp(coop_params_str(opts, "precision", "fp32"), "bf16") == 0)
        rc = enable_bf16(bb, checkpoint, e);
    coop_clip_matmul_isa(&bb->m, bb->matmul_isa, sizeof bb->matmul_isa);
    if (rc) {
        clip_close(bb);
        return rc;
    }
    logf_host(host, COOP_LOG_INFO, "clip: %s from %s (%zu floats, %s products on %s)",
              bb->m.arch, checkpoint, bb->m.n_floats, bb->bf16 ? "bf16" : "fp32",
              bb->matmul_isa);
    *out = bb;
    return 0;
}

static int image_size(const struct coop_clip_model *m)
{
    return m->vision_kind == COOP_CLIP_VISION_VIT      ? m->vit.image_size
           : m->vision_kind == COOP_CLIP_VISION_RESNET ? m->resnet.image_size
                                                       : 0;
}

static void clip_info(const struct coop_backbone *bb, struct coop_backbone_info *o)
{
    static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
    static const float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    memset(o, 0, sizeof *o);
    o->embed_dim = bb->m.text.embed_dim;
    o->token_width = bb->m.text.width;
    o->context_length = bb->m.text.context_length;
    o->vocab_size = bb->m.text.vocab_size;
    o->image_size = image_size(&bb->m);
    memcpy(o->mean, mean, sizeof mean);
    memcpy(o->std, std, sizeof std);
    o->logit_scale = expf(bb->m.logit_scale);
    snprintf(o->arch, sizeof o->arch, "%s", bb->m.arch);
    memcpy(o->checkpoint_sha256, bb->sha256, sizeof o->checkpoint_sha256);
    o->version = COOP_BACKBONE_INFO_VERSION;
    snprintf(o->precision, sizeof o->precision, "%s", bb->bf16 ? "bf16" : "fp32");
    snprintf(o->matmul_isa, sizeof o->matmul_isa, "%s", bb->matmul_isa);
}

static int clip_tokenize(const struct coop_backbone *bb, const char *text, bool truncate,
                         int32_t *ids, int *eot, struct coop_err *e)
{
    return coop_tokenizer_tokenize(bb->tok, text, bb->m.text.context_length, truncate, ids, eot,
                                   e);
}

static int clip_token_count(const struct coop_backbone *bb, const char *text,
                            struct coop_err *e)
{
    int32_t *ids;
    size_t n;
    int rc = coop_tokenizer_encode(bb->tok, text, &ids, &n, e);
    if (rc)
        return rc;
    free(ids);
    if (n > (size_t)1 << 30)
        return coop_fail(e, COOP_E_INVAL, "clip: text of %zu tokens", n);
    return (int)n;
}

static int clip_token_embed(const struct coop_backbone *bb, const int32_t *ids, int n,
                            float *out, struct coop_err *e)
{
    int W = bb->m.text.width;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= bb->m.text.vocab_size)
            return coop_fail(e, COOP_E_INVAL, "clip: token id %d at %d outside [0, %d)", ids[i],
                             i, bb->m.text.vocab_size);
        memcpy(out + (size_t)i * W, bb->m.text.token_embedding + (size_t)ids[i] * W,
               (size_t)W * sizeof *out);
    }
    return 0;
}

static int clip_encode_images(struct coop_backbone *bb, const float *pixels, int B, float *out,
                              struct coop_err *e)
{
    return coop_clip_encode_images(&bb->m, pixels, B, out, e);
}

static int clip_text_forward(struct coop_backbone *bb, const float *emb, const int *eot, int K,
                             int shared_prefix, float *feat, struct coop_tape **tape,
                             struct coop_err *e)
{
    for (int k = 0; k < K; k++)
        if (eot[k] < 0 || eot[k] >= bb->m.text.context_length)
            return coop_fail(e, COOP_E_INVAL, "clip: EOT position %d of prompt %d outside [0, %d)",
                             eot[k], k, bb->m.text.context_length);
    if (!tape) { /* evaluation: training is over, release the spare tape */
        coop_clip_text_tape_free(bb->spare);
        bb->spare = NULL;
        return coop_clip_text_forward(&bb->m.text, emb, eot, K, shared_prefix, feat, NULL, e);
    }
    /* training: the previous iteration's tape memory serves this one */
    struct coop_clip_text_tape *tt = bb->spare;
    bb->spare = NULL;
    int rc = coop_clip_text_forward_reuse(&bb->m.text, emb, eot, K, shared_prefix, feat, &tt, e);
    *tape = (struct coop_tape *)tt;
    return rc;
}

static int clip_text_backward(struct coop_backbone *bb, struct coop_tape *tape,
                              const float *dfeat, float *demb, struct coop_err *e)
{
    if (!tape)
        return coop_fail(e, COOP_E_INVAL, "clip: text backward needs the forward's tape");
    return coop_clip_text_backward(&bb->m.text, (struct coop_clip_text_tape *)tape, dfeat, demb,
                                   NULL, e);
}

/* Kept as the spare for the next forward (freed by the next tapeless forward
 * or by close). */
static void clip_tape_free(struct coop_backbone *bb, struct coop_tape *tape)
{
    if (!tape)
        return;
    coop_clip_text_tape_free(bb->spare);
    bb->spare = (struct coop_clip_text_tape *)tape;
}

/* Brute force over the vocabulary; ties go to the lower id. */
static int clip_nearest_tokens(const struct coop_backbone *bb, const float *vec, int k,
                               int32_t *ids, float *dist, struct coop_err *e)
{
    int V = bb->m.text.vocab_size, W = bb->m.text.width;
    if (k <= 0 || k > V)
        return coop_fail(e, COOP_E_INVAL, "clip: nearest_tokens k=%d outside [1, %d]", k, V);
    double *best = malloc((size_t)k * sizeof *best);
    if (!best)
        return coop_fail(e, COOP_E_NOMEM, "clip: out of memory");
    int have = 0;
    for (int v = 0; v < V; v++) {
        const float *row = bb->m.text.token_embedding + (size_t)v * W;
        double d = 0;
        for (int j = 0; j < W; j++) {
            double t = (double)row[j] - vec[j];
            d += t * t;
        }
        if (have == k && d >= best[k - 1])
            continue;
        int p = have < k ? have++ : k - 1;
        while (p > 0 && best[p - 1] > d) {
            best[p] = best[p - 1];
            ids[p] = ids[p - 1];
            p--;
        }
        best[p] = d;
        ids[p] = v;
    }
    for (int i = 0; i < k; i++)
        dist[i] = (float)sqrt(best[i]);
    free(best);
    return 0;
}

/* The token's text as decode() gives it, without the end-of-word space. */
static int clip_decode_token(const struct coop_backbone *bb, int32_t id, char *buf, size_t len)
{
    char *s = coop_tokenizer_decode(bb->tok, &id, 1);
    if (!s)
        return COOP_E_INVAL;
    size_t n = strlen(s);
    if (n && s[n - 1] == ' ')
        s[--n] = '\0';
    if (len)
        snprintf(buf, len, "%s", s);
    free(s);
    return 0;
}

static const struct coop_backbone_ops clip_ops = {
    .version = COOP_BACKBONE_OPS_VERSION,
    .params = clip_params,
    .open = clip_open,
    .close = clip_close,
    .info = clip_info,
    .tokenize = clip_tokenize,
    .token_count = clip_token_count,
    .token_embed = clip_token_embed,
    .encode_images = clip_encode_images,
    .text_forward = clip_text_forward,
    .text_backward = clip_text_backward,
    .tape_free = clip_tape_free,
    .nearest_tokens = clip_nearest_tokens,
    .decode_token = clip_decode_token,
};

static const struct coop_plugin clip_plugin = {
    .abi = COOP_PLUGIN_ABI,
    .kind = COOP_PLUGIN_BACKBONE,
    .name = "clip",
    .version = "1.0.0",
    .summary = "CLIP (OpenAI / open_clip / Hugging Face safetensors; ViT and ResNet)",
    .ops = &clip_ops,
};

__attribute__((visibility("default"))) const struct coop_plugin *coop_plugin_enum(uint32_t index)
{
    return index == 0 ? &clip_plugin : NULL;
}
