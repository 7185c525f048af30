/* old_sdk.c: TEST-ONLY plugin built against the previous SDK (plugin ABI 1.0:
 * tests/plugins/sdk-1.0/, a verbatim copy of plugin.h and common.h as they
 * were before minor versions existed), for test_abi.c: the host of a newer
 * minor must load it and read what it fills in the 1.0 layouts. It provides
 * a dataset (coop_item without a version), a backbone (coop_backbone_info
 * without a version) whose towers are never run, and a prompt variant with a
 * version-1 ops table (no condition, no loss) that test_abi.c trains. Never installed; its file
 * name does not end in .so, so no folder scan picks it up. */
#include "coop/plugin.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- dataset "old_sdk_colors": 2 classes, 3 train items per class -------- */
struct coop_dataset {
    char ids[3][8][32];
};
static const size_t split_n[3] = {6, 0, 4};

static int ds_open(const struct coop_host *host, const char *root,
                   const struct coop_params *opts, struct coop_dataset **out, struct coop_err *e)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : coop_fail(e, COOP_E_NOMEM, "old_sdk_colors: out of memory");
}
static void ds_close(struct coop_dataset *ds) { free(ds); }
static int ds_num_classes(const struct coop_dataset *ds) { return 2; }
static const char *ds_class_name(const struct coop_dataset *ds, int k)
{
    return k == 0 ? "red" : "blue";
}
static size_t ds_split_size(const struct coop_dataset *ds, enum coop_split s)
{
    return split_n[s];
}
static int ds_get_item(const struct coop_dataset *ds, enum coop_split s, size_t i,
                       struct coop_item *out, struct coop_err *e)
{
    if (i >= split_n[s])
        return coop_fail(e, COOP_E_INVAL, "old_sdk_colors: item %zu out of range", i);
    char *id = ((struct coop_dataset *)ds)->ids[s][i];
    snprintf(id, sizeof ds->ids[s][i], "old/%d/%d", (int)s, (int)i);
    *out = (struct coop_item){(int)(i % 2), NULL, id}; /* the 1.0 layout, all of it */
    return 0;
}
static int ds_read_pixels(const struct coop_dataset *ds, enum coop_split s, size_t i,
                          uint8_t **rgb, int *w, int *h, struct coop_err *e)
{
    *rgb = calloc(4 * 4 * 3, 1);
    if (!*rgb)
        return coop_fail(e, COOP_E_NOMEM, "old_sdk_colors: out of memory");
    for (int p = 0; p < 16; p++)
        (*rgb)[3 * p + (i % 2 ? 2 : 0)] = 255;
    *w = *h = 4;
    return 0;
}
static void ds_free_pixels(const struct coop_dataset *ds, uint8_t *rgb) { free(rgb); }

static const struct coop_dataset_ops ds_ops = {
    .version = 1, .open = ds_open, .close = ds_close, .num_classes = ds_num_classes,
    .class_name = ds_class_name, .split_size = ds_split_size, .get_item = ds_get_item,
    .read_pixels = ds_read_pixels, .free_pixels = ds_free_pixels};

/* ---- backbone "old_sdk_bb": opens and describes itself ------------------- */
struct coop_backbone {
    char checkpoint[64];
};
static int bb_open(const struct coop_host *host, const char *checkpoint, const char *vocab,
                   const struct coop_params *opts, struct coop_backbone **out,
                   struct coop_err *e)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return coop_fail(e, COOP_E_NOMEM, "old_sdk_bb: out of memory");
    snprintf((*out)->checkpoint, sizeof (*out)->checkpoint, "%s", checkpoint);
    return 0;
}
static void bb_close(struct coop_backbone *bb) { free(bb); }
static void bb_info(const struct coop_backbone *bb, struct coop_backbone_info *o)
{
    /* Assigns the whole 1.0 struct: every byte this plugin knows of. */
    *o = (struct coop_backbone_info){.embed_dim = 8, .token_width = 6, .context_length = 5,
                                     .vocab_size = 11, .image_size = 4, .mean = {0.5f, 0.5f, 0.5f},
                                     .std = {0.25f, 0.25f, 0.25f}, .logit_scale = 10.0f,
                                     .arch = "old-sdk"};
    memset(o->checkpoint_sha256, 'b', 64);
}
/* The towers: this backbone only answers info() (test_abi.c never runs them). */
static int no_tower(struct coop_err *e)
{
    return coop_fail(e, COOP_E_UNSUPPORTED, "old_sdk_bb: a test backbone without towers");
}
static int bb_tokenize(const struct coop_backbone *bb, const char *text, bool truncate,
                       int32_t *ids, int *eot, struct coop_err *e)
{
    return no_tower(e);
}
static int bb_token_count(const struct coop_backbone *bb, const char *text, struct coop_err *e)
{
    return no_tower(e);
}
static int bb_token_embed(const struct coop_backbone *bb, const int32_t *ids, int n, float *out,
                          struct coop_err *e)
{
    return no_tower(e);
}
static int bb_encode_images(struct coop_backbone *bb, const float *pixels, int B, float *out,
                            struct coop_err *e)
{
    return no_tower(e);
}
static int bb_text_forward(struct coop_backbone *bb, const float *emb, const int *eot, int K,
                           int shared_prefix, float *feat, struct coop_tape **tape,
                           struct coop_err *e)
{
    return no_tower(e);
}
static int bb_text_backward(struct coop_backbone *bb, struct coop_tape *tape, const float *dfeat,
                            float *demb, struct coop_err *e)
{
    return no_tower(e);
}
static void bb_tape_free(struct coop_backbone *bb, struct coop_tape *tape) {}

static const struct coop_backbone_ops bb_ops = {
    .version = 1, .open = bb_open, .close = bb_close, .info = bb_info,
    .tokenize = bb_tokenize, .token_count = bb_token_count, .token_embed = bb_token_embed,
    .encode_images = bb_encode_images, .text_forward = bb_text_forward,
    .text_backward = bb_text_backward, .tape_free = bb_tape_free};

/* ---- prompt "old_sdk_prompt": one context vector, then a class marker ---- */
struct coop_prompt {
    int K, L, D;
    float ctx[64];
};
static int pr_create(const struct coop_prompt_args *a, struct coop_prompt **out,
                     struct coop_err *e)
{
    /* Room past the 1.0 struct: a backbone built against 1.1 or later fills
     * its version field too (coop_backbone_info grew at its end). */
    union {
        struct coop_backbone_info info;
        char room[1024];
    } u;
    a->backbone.ops->info(a->backbone.bb, &u.info);
    const struct coop_backbone_info info = u.info;
    if (info.token_width > 64 || info.context_length < 4 || a->num_classes > info.token_width)
        return coop_fail(e, COOP_E_INVAL, "old_sdk_prompt: backbone too large or too short");
    *out = calloc(1, sizeof **out);
    if (!*out)
        return coop_fail(e, COOP_E_NOMEM, "old_sdk_prompt: out of memory");
    (*out)->K = a->num_classes, (*out)->L = info.context_length, (*out)->D = info.token_width;
    for (int d = 0; d < (*out)->D; d++)
        (*out)->ctx[d] = 0.1f * (float)(d % 3);
    return 0;
}
static void pr_destroy(struct coop_prompt *p) { free(p); }
static size_t pr_num_params(const struct coop_prompt *p) { return (size_t)p->D; }
static float *pr_param_data(struct coop_prompt *p) { return p->ctx; }
static int pr_param_shape(const struct coop_prompt *p, size_t shape[4])
{
    shape[0] = 1, shape[1] = (size_t)p->D;
    return 2;
}
static int pr_set_classes(struct coop_prompt *p, const char *const *names, int K,
                          struct coop_err *e)
{
    if (K > p->D)
        return coop_fail(e, COOP_E_INVAL, "old_sdk_prompt: at most %d classes", p->D);
    p->K = K;
    return 0;
}
/* [0][ctx][marker of class k][0 = EOT]... */
static int pr_build(struct coop_prompt *p, float *emb, int *eot, int *shared_prefix,
                    struct coop_err *e)
{
    const size_t row = (size_t)p->L * p->D;
    memset(emb, 0, (size_t)p->K * row * sizeof *emb);
    for (int k = 0; k < p->K; k++) {
        memcpy(emb + k * row + p->D, p->ctx, (size_t)p->D * sizeof *emb);
        emb[k * row + 2 * (size_t)p->D + (size_t)k] = 1.0f;
        eot[k] = 3;
    }
    *shared_prefix = 2;
    return 0;
}
static int pr_backward(struct coop_prompt *p, const float *demb, float *dparams,
                       struct coop_err *e)
{
    for (int k = 0; k < p->K; k++)
        for (int d = 0; d < p->D; d++)
            dparams[d] += demb[(size_t)k * p->L * p->D + (size_t)p->D + (size_t)d];
    return 0;
}
static const struct coop_prompt_ops pr_ops = {
    .version = 1, .create = pr_create, .destroy = pr_destroy, .num_params = pr_num_params,
    .param_data = pr_param_data, .param_shape = pr_param_shape, .set_classes = pr_set_classes,
    .build = pr_build, .backward = pr_backward};

static const struct coop_plugin plugins[] = {
    {COOP_PLUGIN_ABI, COOP_PLUGIN_DATASET, "old_sdk_colors", "1.0",
     "test-only dataset built against plugin ABI 1.0", &ds_ops},
    {COOP_PLUGIN_ABI, COOP_PLUGIN_BACKBONE, "old_sdk_bb", "1.0",
     "test-only backbone built against plugin ABI 1.0", &bb_ops},
    {COOP_PLUGIN_ABI, COOP_PLUGIN_PROMPT, "old_sdk_prompt", "1.0",
     "test-only prompt variant built against plugin ABI 1.0", &pr_ops}};

__attribute__((visibility("default"))) const struct coop_plugin *coop_plugin_enum(uint32_t i)
{
    return i < sizeof plugins / sizeof *plugins ? &plugins[i] : NULL;
}
