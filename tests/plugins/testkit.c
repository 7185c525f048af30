/* testkit.c: TEST-ONLY plugins that exercise the loader, the runner and the
 * training loop without CLIP weights or image files. Never shipped.
 * - backbone "toy": word-hash tokenizer, D = 8, linear text and image towers
 *   (features = mean of token embeddings up to EOT @ P; image = Q @ pixels);
 *   param weight_scale multiplies every weight (large: features overflow).
 * - dataset "toy_colors": 8x8 images whose colour encodes one of 4 classes,
 *   rendered from the item index; params fail_open, sleep_ms for failure and
 *   interruption tests; "toy_colors_shift" is a 2-class target mapping onto it. */
#include "coop/plugin.h"
#include "coop/util.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOY_V 512
#define TOY_L 16
#define TOY_D 8
#define TOY_E 8
#define TOY_S 8
#define TOY_SOS (TOY_V - 2)
#define TOY_EOT (TOY_V - 1)

struct coop_backbone {
    float table[TOY_V * TOY_D];
    float P[TOY_D * TOY_E];
    float Q[TOY_E * 3 * TOY_S * TOY_S];
};
struct coop_tape {
    int K;
    int eot[4096];
};

static const struct coop_param_spec toy_bb_params[] = {
    {"weight_scale", COOP_PARAM_FLOAT, "1", 0, 3e38, NULL,
     "multiplies every weight (tests: 3e38 keeps them finite but overflows the features)"},
    COOP_PARAM_END};

static int toy_open(const struct coop_host *host, const char *checkpoint, const char *vocab,
                    const struct coop_params *opts, struct coop_backbone **out,
                    struct coop_err *e)
{
    if (checkpoint && *checkpoint && strcmp(checkpoint, "toy") != 0 && !coop_file_exists(checkpoint))
        return coop_fail(e, COOP_E_IO, "%s: checkpoint not found", checkpoint);
    struct coop_backbone *b = calloc(1, sizeof *b);
    if (!b)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    coop_hash_uniform(b->table, TOY_V * TOY_D, 11, -1, 1);
    coop_hash_uniform(b->P, TOY_D * TOY_E, 12, -0.5, 0.5);
    coop_hash_uniform(b->Q, TOY_E * 3 * TOY_S * TOY_S, 13, -0.1, 0.1);
    float scale = (float)coop_params_float(opts, "weight_scale", 1);
    for (int i = 0; scale != 1 && i < TOY_V * TOY_D; i++)
        b->table[i] *= scale;
    for (int i = 0; scale != 1 && i < TOY_D * TOY_E; i++)
        b->P[i] *= scale;
    for (int i = 0; scale != 1 && i < TOY_E * 3 * TOY_S * TOY_S; i++)
        b->Q[i] *= scale;
    *out = b;
    return 0;
}
static void toy_close(struct coop_backbone *b) { free(b); }
static void toy_info(const struct coop_backbone *b, struct coop_backbone_info *o)
{
    memset(o, 0, sizeof *o);
    o->embed_dim = TOY_E;
    o->token_width = TOY_D;
    o->context_length = TOY_L;
    o->vocab_size = TOY_V;
    o->image_size = TOY_S;
    for (int c = 0; c < 3; c++) {
        o->mean[c] = 0.5f;
        o->std[c] = 0.25f;
    }
    o->logit_scale = 20.0f;
    strcpy(o->arch, "toy");
    memset(o->checkpoint_sha256, 'a', 64);
    o->version = COOP_BACKBONE_INFO_VERSION;
}

static int words(const char *text, int32_t *ids, int max)
{
    int n = 0;
    const char *p = text;
    while (*p) {
        while (*p && !isalnum((unsigned char)*p) && *p != '.')
            p++;
        if (!*p)
            break;
        uint64_t h = 1469598103934665603ULL;
        if (*p == '.') {
            h = 46;
            p++;
        } else {
            while (isalnum((unsigned char)*p))
                h = (h ^ (unsigned char)tolower((unsigned char)*p++)) * 1099511628211ULL;
        }
        if (n < max)
            ids[n] = (int32_t)(1 + h % (TOY_V - 3));
        n++;
    }
    return n;
}

static int toy_count(const struct coop_backbone *b, const char *text, struct coop_err *e)
{
    int32_t tmp[1];
    return words(text, tmp, 0);
}

static int toy_tokenize(const struct coop_backbone *b, const char *text, bool truncate,
                        int32_t *ids, int *eot, struct coop_err *e)
{
    int32_t w[256];
    int n = words(text, w, 256);
    if (n > TOY_L - 2) {
        if (!truncate)
            return coop_fail(e, COOP_E_INVAL, "text too long for context length %d: \"%s\"",
                             TOY_L, text);
        n = TOY_L - 2;
    }
    memset(ids, 0, TOY_L * sizeof *ids);
    ids[0] = TOY_SOS;
    memcpy(ids + 1, w, (size_t)n * sizeof *ids);
    ids[n + 1] = TOY_EOT;
    *eot = n + 1;
    return 0;
}

static int toy_embed(const struct coop_backbone *b, const int32_t *ids, int n, float *out,
                     struct coop_err *e)
{
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= TOY_V)
            return coop_fail(e, COOP_E_INVAL, "token id %d out of range", ids[i]);
        memcpy(out + (size_t)i * TOY_D, b->table + (size_t)ids[i] * TOY_D, TOY_D * sizeof(float));
    }
    return 0;
}

static int toy_images(struct coop_backbone *b, const float *px, int B, float *out,
                      struct coop_err *e)
{
    const int n = 3 * TOY_S * TOY_S;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < TOY_E; j++) {
            double s = 0;
            for (int k = 0; k < n; k++)
                s += b->Q[j * n + k] * px[(size_t)i * n + k];
            out[i * TOY_E + j] = (float)s;
        }
    return 0;
}

static int toy_text_forward(struct coop_backbone *b, const float *emb, const int *eot, int K,
                            int shared_prefix, float *feat, struct coop_tape **tape,
                            struct coop_err *e)
{
    if (K > 4096)
        return coop_fail(e, COOP_E_INVAL, "toy backbone: at most 4096 prompts");
    for (int k = 0; k < K; k++) {
        float m[TOY_D] = {0};
        for (int t = 0; t <= eot[k]; t++)
            for (int d = 0; d < TOY_D; d++)
                m[d] += emb[((size_t)k * TOY_L + t) * TOY_D + d] / (float)(eot[k] + 1);
        for (int j = 0; j < TOY_E; j++) {
            float s = 0;
            for (int d = 0; d < TOY_D; d++)
                s += m[d] * b->P[d * TOY_E + j];
            feat[k * TOY_E + j] = s;
        }
    }
    if (tape) {
        *tape = calloc(1, sizeof **tape);
        if (!*tape)
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        (*tape)->K = K;
        memcpy((*tape)->eot, eot, (size_t)K * sizeof *eot);
    }
    return 0;
}

static int toy_text_backward(struct coop_backbone *b, struct coop_tape *tape, const float *dfeat,
                             float *demb, struct coop_err *e)
{
    for (int k = 0; k < tape->K; k++) {
        float dm[TOY_D] = {0};
        for (int d = 0; d < TOY_D; d++)
            for (int j = 0; j < TOY_E; j++)
                dm[d] += dfeat[k * TOY_E + j] * b->P[d * TOY_E + j];
        for (int t = 0; t <= tape->eot[k]; t++)
            for (int d = 0; d < TOY_D; d++)
                demb[((size_t)k * TOY_L + t) * TOY_D + d] += dm[d] / (float)(tape->eot[k] + 1);
    }
    return 0;
}
static void toy_tape_free(struct coop_backbone *b, struct coop_tape *t) { free(t); }

static int toy_nearest(const struct coop_backbone *b, const float *vec, int k, int32_t *ids,
                       float *dist, struct coop_err *e)
{
    for (int i = 0; i < k; i++) {
        ids[i] = -1;
        dist[i] = 1e30f;
    }
    for (int v = 0; v < TOY_V; v++) {
        float s = 0;
        for (int d = 0; d < TOY_D; d++) {
            float x = vec[d] - b->table[v * TOY_D + d];
            s += x * x;
        }
        s = sqrtf(s);
        for (int i = 0; i < k; i++)
            if (s < dist[i]) {
                memmove(dist + i + 1, dist + i, (size_t)(k - i - 1) * sizeof *dist);
                memmove(ids + i + 1, ids + i, (size_t)(k - i - 1) * sizeof *ids);
                dist[i] = s;
                ids[i] = v;
                break;
            }
    }
    return 0;
}
static int toy_decode(const struct coop_backbone *b, int32_t id, char *buf, size_t len)
{
    snprintf(buf, len, "tok%d", (int)id);
    return 0;
}

static const struct coop_backbone_ops toy_backbone_ops = {
    .version = COOP_BACKBONE_OPS_VERSION,
    .params = toy_bb_params,
    .open = toy_open,
    .close = toy_close,
    .info = toy_info,
    .tokenize = toy_tokenize,
    .token_count = toy_count,
    .token_embed = toy_embed,
    .encode_images = toy_images,
    .text_forward = toy_text_forward,
    .text_backward = toy_text_backward,
    .tape_free = toy_tape_free,
    .nearest_tokens = toy_nearest,
    .decode_token = toy_decode,
};

/* ---- dataset ------------------------------------------------------------ */
static const char *const color_names[] = {"red", "green", "blue", "yellow"};
static const uint8_t color_rgb[4][3] = {{200, 40, 40}, {40, 180, 60}, {50, 60, 210}, {210, 200, 40}};

struct coop_dataset {
    int per_class[3];
    int sleep_ms;
    int shift; /* target: classes {1, 3} only, darker */
    char ids[3][64][32];
};

static const struct coop_param_spec toy_ds_params[] = {
    {"fail_open", COOP_PARAM_BOOL, "false", 0, 0, NULL, "fail when opened (tests)"},
    {"sleep_ms", COOP_PARAM_INT, "0", 0, 10000, NULL, "delay per image (tests)"},
    {"train_per_class", COOP_PARAM_INT, "12", 1, 64, NULL, "train images per class"},
    COOP_PARAM_END};

static int ds_open_common(const struct coop_params *opts, struct coop_dataset **out, int shift,
                          struct coop_err *e)
{
    if (coop_params_bool(opts, "fail_open", false))
        /* not missing data: the pre-flight checks leave it to the trial */
        return coop_fail(e, COOP_E_INVAL, "toy_colors: asked to fail (fail_open: true)");
    struct coop_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    d->per_class[0] = (int)coop_params_int(opts, "train_per_class", 12);
    d->per_class[1] = 4;
    d->per_class[2] = 8;
    d->sleep_ms = (int)coop_params_int(opts, "sleep_ms", 0);
    d->shift = shift;
    *out = d;
    return 0;
}
static int ds_open(const struct coop_host *h, const char *root, const struct coop_params *o,
                   struct coop_dataset **out, struct coop_err *e)
{
    return ds_open_common(o, out, 0, e);
}
static int ds_open_shift(const struct coop_host *h, const char *root,
                         const struct coop_params *o, struct coop_dataset **out,
                         struct coop_err *e)
{
    return ds_open_common(o, out, 1, e);
}
static void ds_close(struct coop_dataset *d) { free(d); }
static int ds_nc(const struct coop_dataset *d) { return d->shift ? 2 : 4; }
static const char *ds_name(const struct coop_dataset *d, int k)
{
    return d->shift ? color_names[2 * k + 1] : color_names[k];
}
static size_t ds_size(const struct coop_dataset *d, enum coop_split s)
{
    if (d->shift)
        return s == COOP_SPLIT_TEST ? 2 * 8 : 0;
    return (size_t)d->per_class[s] * 4;
}
static int ds_item(const struct coop_dataset *d, enum coop_split s, size_t i,
                   struct coop_item *out, struct coop_err *e)
{
    if (i >= ds_size(d, s))
        return coop_fail(e, COOP_E_INVAL, "toy_colors: item %zu out of range", i);
    out->label = (int)(i % (size_t)ds_nc(d));
    out->path = NULL;
    char *slot = ((struct coop_dataset *)d)->ids[s][i % 64];
    snprintf(slot, 32, "%s/%d/%zu", d->shift ? "shift" : "toy", (int)s, i);
    out->id = slot;
    out->version = COOP_ITEM_VERSION;
    return 0;
}
static int ds_pixels(const struct coop_dataset *d, enum coop_split s, size_t i, uint8_t **rgb,
                     int *w, int *h, struct coop_err *e)
{
    if (d->sleep_ms) {
        struct timespec ts = {d->sleep_ms / 1000, (long)(d->sleep_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    int label = (int)(i % (size_t)ds_nc(d));
    int cls = d->shift ? 2 * label + 1 : label;
    uint8_t *p = malloc(TOY_S * TOY_S * 3);
    if (!p)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    struct coop_rng r;
    coop_rng_seed(&r, (uint64_t)s * 1000003u + i + (d->shift ? 77 : 0));
    for (int j = 0; j < TOY_S * TOY_S; j++)
        for (int c = 0; c < 3; c++) {
            int v = color_rgb[cls][c] + (int)(coop_rng_normal(&r) * 25.0) - (d->shift ? 30 : 0);
            p[j * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    *rgb = p;
    *w = *h = TOY_S;
    return 0;
}
static void ds_free_pixels(const struct coop_dataset *d, uint8_t *p) { free(p); }
static const char *ds_template(const struct coop_dataset *d) { return "a photo of a {} thing."; }
static int ds_source_class(const struct coop_dataset *d, int k) { return 2 * k + 1; }

static const struct coop_dataset_ops toy_ds_ops = {
    .version = COOP_DATASET_OPS_VERSION, .params = toy_ds_params, .open = ds_open,
    .close = ds_close, .num_classes = ds_nc, .class_name = ds_name, .split_size = ds_size,
    .get_item = ds_item, .read_pixels = ds_pixels, .free_pixels = ds_free_pixels,
    .default_template = ds_template, .source_class = NULL};
static const struct coop_dataset_ops toy_shift_ops = {
    .version = COOP_DATASET_OPS_VERSION, .params = toy_ds_params, .open = ds_open_shift,
    .close = ds_close, .num_classes = ds_nc, .class_name = ds_name, .split_size = ds_size,
    .get_item = ds_item, .read_pixels = ds_pixels, .free_pixels = ds_free_pixels,
    .default_template = ds_template, .source_class = ds_source_class};

static const struct coop_plugin plugins[] = {
    {COOP_PLUGIN_ABI, COOP_PLUGIN_BACKBONE, "toy", "1.0", "test-only linear backbone",
     &toy_backbone_ops},
    {COOP_PLUGIN_ABI, COOP_PLUGIN_DATASET, "toy_colors", "1.0", "test-only 4-colour dataset",
     &toy_ds_ops},
    {COOP_PLUGIN_ABI, COOP_PLUGIN_DATASET, "toy_colors_shift", "1.0",
     "test-only 2-class shifted target of toy_colors", &toy_shift_ops},
};

__attribute__((visibility("default"))) const struct coop_plugin *coop_plugin_enum(uint32_t i)
{
    return i < sizeof plugins / sizeof plugins[0] ? &plugins[i] : NULL;
}
