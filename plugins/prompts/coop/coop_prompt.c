/* coop_prompt.c: the `coop` prompt-variant plugin, CoOp's PromptLearner as
 * published (Zhou et al., IJCV 2022): M learnable context vectors, unified or
 * class-specific (CSC), class token at the end, middle or front, random init
 * (N(0, 0.02)) or init from words. It only builds token embeddings and maps
 * their gradient back to the context; the text tower belongs to the backbone.
 * The same .so provides `cocoop` (cocoop.c: a meta-net shifts the context by
 * the image) and `kgcoop` (kgcoop.c: a loss term towards the hand-crafted
 * prompts), which share CoOp's prompt layout. */
#include "prompt_internal.h"
#include <stdlib.h>
#include <string.h>

static const char *const positions[] = {"end", "middle", "front", NULL};
static const struct coop_param_spec coop_params[] = {
    {"n_ctx", COOP_PARAM_INT, "16", 1, 64, NULL,
     "context length M (ignored with init: M = number of init tokens)"},
    {"position", COOP_PARAM_CHOICE, "end", 0, 0, positions, "class-token position"},
    {"csc", COOP_PARAM_BOOL, "false", 0, 0, NULL, "class-specific context"},
    {"init", COOP_PARAM_STRING, "", 0, 0, NULL,
     "initialise the (unified) context from these words, e.g. \"a photo of a\""},
    {"init_std", COOP_PARAM_FLOAT, "0.02", 0, 10, NULL, "std of the random init"},
    COOP_PARAM_END};

static void prompt_free(struct coop_prompt *p)
{
    if (!p)
        return;
    free(p->init_words);
    coop_free(p->ctx);
    coop_free(p->frozen);
    free(p->eot);
    free(p->name_len);
    free(p->ctx_row);
    coop_free(p->shifted);
    coop_free(p->meta_x);
    coop_free(p->meta_h);
    coop_free(p->meta_g);
    free(p->template_text);
    coop_free(p->hand);
    free(p);
}

/* The words before the class name: the init words, or M placeholders "X". */
static char *make_prefix(int M, const char *init_words)
{
    if (init_words)
        return coop_strdup(init_words);
    char *prefix = calloc((size_t)M * 2 + 1, 1);
    for (int i = 0; prefix && i < M; i++)
        strcat(prefix, i ? " X" : "X");
    return prefix;
}

/* "<prefix> <name>." with the name's '_' as spaces; *name_out: that name. */
static char *class_text(const char *prefix, const char *classname, char **name_out)
{
    char *name = coop_strdup(classname);
    for (char *c = name; c && *c; c++)
        if (*c == '_')
            *c = ' ';
    char *text = name ? coop_asprintf("%s %s.", prefix, name) : NULL;
    *name_out = name;
    return text;
}

/* Tokenises "<prefix> <name>." for every class and keeps its embeddings. */
static int prepare_classes(struct coop_prompt *p, const char *const *names, int K,
                           struct coop_err *e)
{
    const struct coop_backbone_ops *ops = p->bb.ops;
    float *frozen = coop_alloc_floats((size_t)K * p->L * p->D);
    int *eot = calloc((size_t)K, sizeof *eot), *nl = calloc((size_t)K, sizeof *nl);
    int32_t *ids = calloc((size_t)p->L, sizeof *ids);
    char *prefix = NULL;
    int rc = 0;
    if (!frozen || !eot || !nl || !ids) {
        rc = coop_fail(e, COOP_E_NOMEM, "coop: out of memory for %d classes", K);
        goto done;
    }
    prefix = make_prefix(p->M, p->init_words);
    for (int k = 0; k < K && rc == 0; k++) {
        char *name = NULL, *text = prefix ? class_text(prefix, names[k], &name) : NULL;
        if (!text) {
            free(name);
            rc = coop_fail(e, COOP_E_NOMEM, "coop: out of memory");
            break;
        }
        nl[k] = ops->token_count(p->bb.bb, name, e);
        if (nl[k] < 0)
            rc = coop_fail_prefix(e, nl[k], "coop: class '%s'", names[k]);
        else if ((rc = ops->tokenize(p->bb.bb, text, false, ids, &eot[k], e)) != 0)
            coop_fail_prefix(e, rc, "coop: class '%s'", names[k]);
        else if ((rc = ops->token_embed(p->bb.bb, ids, p->L, frozen + (size_t)k * p->L * p->D,
                                        e)) != 0)
            coop_fail_prefix(e, rc, "coop: class '%s'", names[k]);
        else if (eot[k] < 1 + p->M + nl[k])
            rc = coop_fail(e, COOP_E_FORMAT,
                           "coop: class '%s': tokenised prompt shorter than expected", names[k]);
        free(text);
        free(name);
    }
done:
    free(prefix);
    free(ids);
    if (rc == 0 && p->variant == VARIANT_KGCOOP)
        rc = kgcoop_hand_features(p, names, K, e);
    if (rc) {
        coop_free(frozen);
        free(eot);
        free(nl);
        return rc;
    }
    coop_free(p->frozen);
    free(p->eot);
    free(p->name_len);
    p->frozen = frozen;
    p->eot = eot;
    p->name_len = nl;
    p->K = K;
    return 0;
}

size_t coop_prompt_ctx_params(const struct coop_prompt *p)
{
    return (size_t)(p->csc ? p->K_train : 1) * p->M * p->D;
}

/* The variant's own state: cocoop's meta-net (after the context in the
 * arena), kgcoop's weight and template. */
static int create_extra(struct coop_prompt *p, const struct coop_prompt_args *a,
                        struct coop_err *e)
{
    if (p->variant == VARIANT_COCOOP) {
        int rc = cocoop_alloc(p, e);
        if (rc == 0)
            cocoop_meta_init(p, coop_seed_derive(a->seed, "cocoop.meta_init"));
        return rc;
    }
    if (p->variant == VARIANT_KGCOOP) {
        p->lambda = coop_params_float(a->params, "lambda", 8.0);
        p->template_text = coop_strdup(a->template_text ? a->template_text : "a photo of a {}.");
        if (!p->template_text)
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
    }
    return 0;
}

static int create_variant(const struct coop_prompt_args *a, enum variant v,
                          struct coop_prompt **out, struct coop_err *e)
{
    struct coop_backbone_info info;
    a->backbone.ops->info(a->backbone.bb, &info);
    struct coop_prompt *p = calloc(1, sizeof *p);
    if (!p)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    p->bb = a->backbone;
    p->variant = v;
    p->E = info.embed_dim;
    p->H = info.embed_dim / 16;
    p->D = info.token_width;
    p->L = info.context_length;
    p->M = (int)coop_params_int(a->params, "n_ctx", 16);
    p->csc = coop_params_bool(a->params, "csc", false);
    const char *pos = coop_params_str(a->params, "position", "end");
    p->pos = strcmp(pos, "middle") == 0 ? POS_MIDDLE : strcmp(pos, "front") == 0 ? POS_FRONT
                                                                                 : POS_END;
    const char *init = coop_params_str(a->params, "init", "");
    int rc = 0;
    if (init && *init) {
        if (p->csc) {
            prompt_free(p);
            return coop_fail(e, COOP_E_INVAL,
                             "coop: init words give a unified context; csc: true cannot be "
                             "combined with init");
        }
        p->init_words = coop_strdup(init);
        p->M = a->backbone.ops->token_count(a->backbone.bb, init, e);
        if (p->M <= 0) {
            prompt_free(p);
            return coop_fail(e, COOP_E_INVAL, "coop: init \"%s\" has no tokens", init);
        }
    }
    size_t n = (size_t)(p->csc ? a->num_classes : 1) * p->M * p->D;
    size_t extra = v == VARIANT_COCOOP ? cocoop_meta_params(p->E, p->D) : 0;
    p->ctx = coop_alloc_floats(n + extra);
    if (!p->ctx) {
        prompt_free(p);
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    }
    if ((rc = create_extra(p, a, e)) != 0 ||
        (rc = prepare_classes(p, a->classnames, a->num_classes, e)) != 0) {
        prompt_free(p);
        return rc;
    }
    if (p->init_words) {
        /* CoOp: ctx = embedding of the init tokens at positions 1..M after SOS */
        for (int i = 0; i < p->M; i++)
            memcpy(p->ctx + (size_t)i * p->D, p->frozen + (size_t)(1 + i) * p->D,
                   (size_t)p->D * sizeof(float));
    } else {
        struct coop_rng r;
        double std = coop_params_float(a->params, "init_std", 0.02);
        coop_rng_seed(&r, coop_seed_derive(a->seed, "coop.ctx_init"));
        for (size_t i = 0; i < n; i++)
            p->ctx[i] = (float)(std * coop_rng_normal(&r));
    }
    p->K_train = a->num_classes;
    *out = p;
    return 0;
}

static int prompt_create(const struct coop_prompt_args *a, struct coop_prompt **out,
                         struct coop_err *e)
{
    return create_variant(a, VARIANT_COOP, out, e);
}
static int cocoop_create(const struct coop_prompt_args *a, struct coop_prompt **out,
                         struct coop_err *e)
{
    return create_variant(a, VARIANT_COCOOP, out, e);
}
static int kgcoop_create(const struct coop_prompt_args *a, struct coop_prompt **out,
                         struct coop_err *e)
{
    return create_variant(a, VARIANT_KGCOOP, out, e);
}

/* The longest of the class prompts create would build, against the
 * backbone's context length (SOS and EOT included). */
static int prompt_check_classes(const struct coop_prompt_args *a, struct coop_err *e)
{
    const struct coop_backbone_ops *ops = a->backbone.ops;
    struct coop_backbone_info info;
    ops->info(a->backbone.bb, &info);
    const char *init = coop_params_str(a->params, "init", "");
    bool words = init && *init;
    int M = words ? ops->token_count(a->backbone.bb, init, e)
                  : (int)coop_params_int(a->params, "n_ctx", 16);
    if (M < 0)
        return coop_fail_prefix(e, M, "coop: init \"%s\"", init);
    char *prefix = make_prefix(M, words ? init : NULL);
    int worst = -1, worst_n = 0, too_long = 0;
    int rc = prefix ? 0 : coop_fail(e, COOP_E_NOMEM, "coop: out of memory");
    for (int k = 0; k < a->num_classes && rc == 0; k++) {
        char *name = NULL, *text = class_text(prefix, a->classnames[k], &name);
        int n = text ? ops->token_count(a->backbone.bb, text, e) : COOP_E_NOMEM;
        if (n < 0)
            rc = n == COOP_E_NOMEM ? coop_fail(e, n, "coop: out of memory")
                                   : coop_fail_prefix(e, n, "coop: class '%s'", a->classnames[k]);
        else if (n + 2 > info.context_length)
            too_long++;
        if (rc == 0 && n + 2 > info.context_length && n > worst_n) {
            worst = k;
            worst_n = n;
        }
        free(name);
        free(text);
    }
    free(prefix);
    if (rc == 0 && worst >= 0)
        rc = coop_fail(e, COOP_E_INVAL,
                       "coop: the prompt for class '%s' is %d tokens (%d %s, %d for the class "
                       "name and '.', 2 for SOS and EOT), longer than the backbone's context "
                       "length %d; %d of %d classes are too long: %s",
                       a->classnames[worst], worst_n + 2, M,
                       words ? "of the init words" : "context (n_ctx)", worst_n - M,
                       info.context_length, too_long, a->num_classes,
                       words ? "shorten the init words" : "lower n_ctx");
    return rc;
}

static size_t prompt_num_params(const struct coop_prompt *p)
{
    return coop_prompt_ctx_params(p) +
           (p->variant == VARIANT_COCOOP ? cocoop_meta_params(p->E, p->D) : 0);
}
static float *prompt_param_data(struct coop_prompt *p) { return p->ctx; }
static int prompt_param_shape(const struct coop_prompt *p, size_t shape[4])
{
    if (p->variant == VARIANT_COCOOP) { /* context and meta-net: one flat arena */
        shape[0] = prompt_num_params(p);
        return 1;
    }
    if (p->csc) {
        shape[0] = (size_t)p->K_train;
        shape[1] = (size_t)p->M;
        shape[2] = (size_t)p->D;
        return 3;
    }
    shape[0] = (size_t)p->M;
    shape[1] = (size_t)p->D;
    return 2;
}

static int prompt_set_classes_mapped(struct coop_prompt *p, const char *const *names, int K,
                                     const int *source_class, struct coop_err *e)
{
    int *rows = NULL;
    if (p->csc) {
        if (!source_class && K != p->K_train)
            return coop_fail(e, COOP_E_INVAL,
                             "coop: class-specific context was learned for %d classes; it "
                             "cannot be applied to %d classes without a class mapping",
                             p->K_train, K);
        if (source_class) {
            rows = malloc((size_t)K * sizeof *rows);
            if (!rows)
                return coop_fail(e, COOP_E_NOMEM, "out of memory");
            for (int k = 0; k < K; k++) {
                if (source_class[k] < 0 || source_class[k] >= p->K_train) {
                    free(rows);
                    return coop_fail(e, COOP_E_INVAL,
                                     "coop: class '%s' maps to training class %d, outside "
                                     "0..%d", names[k], source_class[k], p->K_train - 1);
                }
                rows[k] = source_class[k];
            }
        }
    }
    int rc = prepare_classes(p, names, K, e);
    if (rc) {
        free(rows);
        return rc;
    }
    free(p->ctx_row);
    p->ctx_row = rows;
    return 0;
}

static int prompt_set_classes(struct coop_prompt *p, const char *const *names, int K,
                              struct coop_err *e)
{
    return prompt_set_classes_mapped(p, names, K, NULL, e);
}

/* Position in the prompt of context vector j of class k's row layout:
 * returns the token index where ctx[j] goes. */
static int ctx_slot(const struct coop_prompt *p, int k, int j)
{
    switch (p->pos) {
    case POS_MIDDLE: {
        int half = p->M / 2;
        return j < half ? 1 + j : 1 + p->name_len[k] + j;
    }
    case POS_FRONT: return 1 + p->name_len[k] + j;
    default: return 1 + j;
    }
}

static int prompt_build(struct coop_prompt *p, float *emb, int *eot, int *shared_prefix,
                        struct coop_err *e)
{
    const size_t D = (size_t)p->D, row = (size_t)p->L * D;
    if (p->variant == VARIANT_COCOOP && !p->conditioned)
        return coop_fail(e, COOP_E_INVAL, "cocoop: prompts built before an image conditioned "
                                          "them");
    for (int k = 0; k < p->K; k++) {
        const float *src = p->frozen + (size_t)k * row;
        float *dst = emb + (size_t)k * row;
        /* frozen layout: [SOS][M placeholder][name][. EOT pad]; rearrange */
        memcpy(dst, src, D * sizeof(float)); /* SOS */
        const float *name = src + (size_t)(1 + p->M) * D;
        int nl = p->name_len[k];
        int name_at = p->pos == POS_END ? 1 + p->M : p->pos == POS_FRONT ? 1 : 1 + p->M / 2;
        memcpy(dst + (size_t)name_at * D, name, (size_t)nl * D * sizeof(float));
        const float *ctx = p->ctx + (p->csc ? (size_t)(p->ctx_row ? p->ctx_row[k] : k) * p->M * D : 0);
        if (p->variant == VARIANT_COCOOP)
            ctx = p->shifted;
        for (int j = 0; j < p->M; j++)
            memcpy(dst + (size_t)ctx_slot(p, k, j) * D, ctx + (size_t)j * D, D * sizeof(float));
        size_t tail = (size_t)(1 + p->M + nl);
        memcpy(dst + tail * D, src + tail * D, (p->L - tail) * D * sizeof(float));
        eot[k] = p->eot[k];
    }
    *shared_prefix = (!p->csc && p->pos == POS_END) ? 1 + p->M
                     : (!p->csc && p->pos == POS_MIDDLE) ? 1 + p->M / 2
                                                         : 1;
    return 0;
}

/* cocoop: the gradient of the shifted context, summed over the classes (a
 * scratch of M x D), goes to the context and through the meta-net. */
static int cocoop_backward(struct coop_prompt *p, const float *demb, float *dparams,
                           struct coop_err *e)
{
    const size_t D = (size_t)p->D, row = (size_t)p->L * D, MD = (size_t)p->M * D;
    float *dshift = coop_alloc_floats(MD);
    if (!dshift)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    memset(dshift, 0, MD * sizeof(float));
    for (int k = 0; k < p->K; k++)
        for (int j = 0; j < p->M; j++) {
            const float *g = demb + (size_t)k * row + (size_t)(1 + j) * D;
            for (size_t d = 0; d < D; d++)
                dshift[(size_t)j * D + d] += g[d];
        }
    for (size_t i = 0; i < MD; i++)
        dparams[i] += dshift[i];
    cocoop_meta_backward(p, dshift, dparams + MD);
    coop_free(dshift);
    return 0;
}

static int prompt_backward(struct coop_prompt *p, const float *demb, float *dparams,
                           struct coop_err *e)
{
    const size_t D = (size_t)p->D, row = (size_t)p->L * D;
    if (p->variant == VARIANT_COCOOP)
        return p->conditioned ? cocoop_backward(p, demb, dparams, e)
                              : coop_fail(e, COOP_E_INVAL, "cocoop: backward without an image");
    for (int k = 0; k < p->K; k++) {
        float *dctx = dparams + (p->csc ? (size_t)(p->ctx_row ? p->ctx_row[k] : k) * p->M * D : 0);
        for (int j = 0; j < p->M; j++) {
            const float *g = demb + (size_t)k * row + (size_t)ctx_slot(p, k, j) * D;
            for (size_t d = 0; d < D; d++)
                dctx[(size_t)j * D + d] += g[d];
        }
    }
    return 0;
}

static const struct coop_prompt_ops coop_ops = {
    .version = COOP_PROMPT_OPS_VERSION,
    .params = coop_params,
    .create = prompt_create,
    .destroy = prompt_free,
    .num_params = prompt_num_params,
    .param_data = prompt_param_data,
    .param_shape = prompt_param_shape,
    .set_classes = prompt_set_classes,
    .build = prompt_build,
    .backward = prompt_backward,
    .set_classes_mapped = prompt_set_classes_mapped,
    .check_classes = prompt_check_classes,
};

/* CoCoOp: the official recipe's prompt (vit_b16_c4_ep10_batch1_ctxv1):
 * M = 4 from "a photo of a", class token at the end. */
/* The context keys of cocoop and kgcoop: M = 4 from "a photo of a". */
#define WORD_CONTEXT_PARAMS                                                                 \
    {"n_ctx", COOP_PARAM_INT, "4", 1, 64, NULL,                                             \
     "context length M (ignored with init: M = number of init tokens)"},                    \
        {"init", COOP_PARAM_STRING, "a photo of a", 0, 0, NULL,                             \
         "initialise the context from these words; \"\" for random N(0, init_std)"},        \
        {"init_std", COOP_PARAM_FLOAT, "0.02", 0, 10, NULL, "std of the random init"}
static const struct coop_param_spec cocoop_params[] = {WORD_CONTEXT_PARAMS, COOP_PARAM_END};

/* configs/trainers/CoCoOp/vit_b16_c4_ep10_batch1_ctxv1.yaml over Dassl's
 * defaults (momentum 0.9, weight decay 5e-4: the protocol's own). */
static const struct coop_kv cocoop_recipe[] = {
    {"epochs", "10"}, {"batch_size", "1"}, {"lr", "0.002"}, {"schedule", "cosine"},
    {"warmup_epochs", "1"}, {"warmup_type", "constant"}, {"warmup_lr", "1e-05"}, {NULL, NULL}};

static const struct coop_prompt_ops cocoop_ops = {
    .version = COOP_PROMPT_OPS_VERSION,
    .params = cocoop_params,
    .create = cocoop_create,
    .destroy = prompt_free,
    .num_params = prompt_num_params,
    .param_data = prompt_param_data,
    .param_shape = prompt_param_shape,
    .set_classes = prompt_set_classes,
    .build = prompt_build,
    .backward = prompt_backward,
    .check_classes = prompt_check_classes,
    .condition = cocoop_condition,
    .train_defaults = cocoop_recipe,
};

/* KgCoOp (Yao et al., CVPR 2023): CoOp's unified context ("a photo of a",
 * class token at the end) plus lambda (1 - mean cosine) to the hand-crafted
 * prompts' text features. */
static const struct coop_param_spec kgcoop_params[] = {
    WORD_CONTEXT_PARAMS,
    {"lambda", COOP_PARAM_FLOAT, "8", 0, 1000, NULL,
     "weight of 1 - mean cosine between the learned and the hand-crafted text features"},
    COOP_PARAM_END};

static const struct coop_prompt_ops kgcoop_ops = {
    .version = COOP_PROMPT_OPS_VERSION,
    .params = kgcoop_params,
    .create = kgcoop_create,
    .destroy = prompt_free,
    .num_params = prompt_num_params,
    .param_data = prompt_param_data,
    .param_shape = prompt_param_shape,
    .set_classes = prompt_set_classes,
    .build = prompt_build,
    .backward = prompt_backward,
    .check_classes = prompt_check_classes,
    .loss = kgcoop_loss,
};

static const struct coop_plugin plugins[] = {
    {COOP_PLUGIN_ABI, COOP_PLUGIN_PROMPT, "coop", "1.0.0",
     "CoOp learnable context (unified/CSC; end/middle/front; random or word init)", &coop_ops},
    {COOP_PLUGIN_ABI, COOP_PLUGIN_PROMPT, "cocoop", "1.0.0",
     "CoCoOp: context shifted by a meta-net of the image (class token at the end)", &cocoop_ops},
    {COOP_PLUGIN_ABI, COOP_PLUGIN_PROMPT, "kgcoop", "1.0.0",
     "KgCoOp: CoOp plus a pull towards the hand-crafted prompts' text features", &kgcoop_ops},
};

__attribute__((visibility("default"))) const struct coop_plugin *coop_plugin_enum(uint32_t i)
{
    return i < sizeof plugins / sizeof plugins[0] ? &plugins[i] : NULL;
}
