/* coop/plugin.h: the plugin ABI. A plugin is a shared object exporting
 *     const struct coop_plugin *coop_plugin_enum(uint32_t index);
 * which returns one descriptor per index and NULL past the last (one .so may
 * provide several plugins). Every ABI struct starts with its version field,
 * whose #define sits right above it; tables of function pointers only grow at
 * the end, and a member a plugin leaves NULL means "not supported".
 * Rules: calls return 0 or a negative enum coop_status and fill the caller's
 * struct coop_err; a plugin never exits the process and never prints (it logs
 * through the host); memory a plugin returns is freed through its own ops.
 *
 * Versions (PipeWire SPA's rule; docs/plugins.md):
 * - COOP_PLUGIN_ABI_MAJOR changes with an incompatible change anywhere in the
 *   SDK (a field moved or changed type, a member's meaning changed, an SDK
 *   function changed or went away). The host loads only its own major.
 * - COOP_PLUGIN_ABI_MINOR grows with each compatible addition: a table or a
 *   struct the plugin fills grew at its end, an SDK function or header was
 *   added. A plugin built against minor m loads on every host of the same
 *   major with minor >= m; a plugin newer than the host is refused (it may
 *   call SDK functions, or fill fields, the older host does not have).
 * - Each ops table's version says which members the table has: the host
 *   calls a member only if the table's version is at least the one the
 *   member appeared in (COOP_OPS_HAS), and an optional member only if it is
 *   non-NULL. Tables older than the host's minimum, or with a required
 *   member NULL, are refused at load with the file and the versions.
 * The descriptor's abi holds COOP_PLUGIN_ABI_VERSION(major, minor), the major
 * in the low 16 bits, so descriptors built before minor versions existed
 * (abi = 1) read as 1.0. */
#ifndef COOP_PLUGIN_H
#define COOP_PLUGIN_H

#include "coop/common.h"
#include <stdbool.h>

/* 1.1: the SDK headers apart from the host's; coop_backbone_info and
 * coop_item carry a version; COOP_OPS_HAS.
 * 1.2: nn.h gains the cosine logits' reference and backward, InfoNCE, the
 * batched conv2d and one-query attention; clip.h coop_clip_encode_texts.
 * 1.3: coop_backbone_info version 2 (precision, matmul_isa); clip.h's towers
 * gain a bf16 member and coop_clip_*_bf16_enable / _disable; nn.h the
 * vectorised-exp QuickGELU.
 * 1.4: prompt ops version 3 (condition, loss: prompts that see the image and
 * terms added to the loss; train_defaults); coop_prompt_args.template_text;
 * clip.h COOP_CLIP_LAYOUT and checkpoint.h coop_clip_model_load_sized
 * (coop_clip_model_load becomes a macro passing the caller's size and
 * layout; the unsized symbol refuses every call).
 * 1.5: dataset ops version 2 (ensemble_templates: a dataset's own list of
 * templates for prompt ensembling); coop_baseline_args.ensemble_templates. */
#define COOP_PLUGIN_ABI_MAJOR 1
#define COOP_PLUGIN_ABI_MINOR 5
#define COOP_PLUGIN_ABI_VERSION(major, minor) ((uint32_t)(major) | (uint32_t)(minor) << 16)
#define COOP_PLUGIN_ABI_MAJOR_OF(abi) ((uint32_t)(abi) & 0xffffu)
#define COOP_PLUGIN_ABI_MINOR_OF(abi) ((uint32_t)(abi) >> 16)
/* What a descriptor built against this header carries in abi. */
#define COOP_PLUGIN_ABI COOP_PLUGIN_ABI_VERSION(COOP_PLUGIN_ABI_MAJOR, COOP_PLUGIN_ABI_MINOR)
#define COOP_PLUGIN_ENUM_SYMBOL "coop_plugin_enum"

/* Whether an ops table (any kind, or a backbone a prompt learner was handed)
 * has member, which appeared in table version since, and fills it:
 *     if (COOP_OPS_HAS(pops, check_classes, 2)) pops->check_classes(...);
 * Members of version 1 need no version test, only a NULL test where optional. */
#define COOP_OPS_HAS(ops, member, since) ((ops)->version >= (since) && (ops)->member != NULL)

enum coop_plugin_kind {
    COOP_PLUGIN_BACKBONE = 1,
    COOP_PLUGIN_DATASET = 2,
    COOP_PLUGIN_PROMPT = 3,
    COOP_PLUGIN_BASELINE = 4
};

/* ---- host services, handed to every plugin call that may need them ------- */
/* Structs the host fills (coop_host, coop_prompt_args, coop_baseline_args)
 * grow at their end; a plugin never reads past what its minor defines, and
 * the host is at least that new. A coop_host member added later is read only
 * when version says the host filled it. */
enum coop_log_level { COOP_LOG_DEBUG = 0, COOP_LOG_INFO = 1, COOP_LOG_WARN = 2 };
#define COOP_HOST_VERSION 1
struct coop_host {
    uint32_t version;
    void *ctx;
    void (*log)(void *ctx, enum coop_log_level level, const char *msg);
    /* Non-zero once the user asked to stop (Ctrl-C): long loops poll it and
     * return COOP_E_INTERRUPTED. May be NULL. */
    const volatile int *cancel;
};

/* ---- typed parameters -------------------------------------------------- */
/* The host walks a plugin's coop_param_spec array, so the struct's size is
 * fixed within a major version (a new per-parameter field needs a new major
 * or a new table member). The same holds for coop_err and coop_kv. */
/* A plugin declares the keys it accepts; the matrix validates YAML values
 * against them (type, range, choices) before any trial starts, fills defaults,
 * and hands the plugin every key as a canonical string. */
enum coop_param_type {
    COOP_PARAM_INT = 1,
    COOP_PARAM_FLOAT = 2,
    COOP_PARAM_BOOL = 3,
    COOP_PARAM_STRING = 4,
    COOP_PARAM_CHOICE = 5 /* one of choices[] (NULL-terminated) */
};
struct coop_param_spec {
    const char *name;
    enum coop_param_type type;
    const char *default_value; /* canonical text; NULL = required */
    double min, max;           /* INT/FLOAT range, inclusive; ignored if min > max */
    const char *const *choices;
    const char *help;
};
/* Terminates a spec array. */
#define COOP_PARAM_END {NULL, 0, NULL, 0, 0, NULL, NULL}

struct coop_kv {
    const char *key, *value;
};
struct coop_params {
    const struct coop_kv *kv;
    size_t n;
};
/* Accessors (in libcoop): return the value or def when the key is absent. */
COOP_API const char *coop_params_str(const struct coop_params *p, const char *key,
                                     const char *def);
COOP_API long coop_params_int(const struct coop_params *p, const char *key, long def);
COOP_API double coop_params_float(const struct coop_params *p, const char *key, double def);
/* spec's range as "[min, max]" into buf (returned): whole numbers for INT
 * parameters ("[1, 77]"), %.9g for FLOAT ones. */
COOP_API const char *coop_param_range(const struct coop_param_spec *spec, char *buf,
                                      size_t len);
COOP_API bool coop_params_bool(const struct coop_params *p, const char *key, bool def);

/* ---- descriptor -------------------------------------------------------- */
struct coop_plugin {
    uint32_t abi; /* COOP_PLUGIN_ABI the plugin was built against: checked first */
    enum coop_plugin_kind kind;
    const char *name, *version, *summary;
    const void *ops; /* struct coop_<kind>_ops, by kind */
};
typedef const struct coop_plugin *(*coop_plugin_enum_fn)(uint32_t index);

/* ---- backbone ---------------------------------------------------------- */
struct coop_backbone; /* plugin-defined */
/* Filled by info(). version says how much the plugin filled: 0 (a plugin
 * built before 1.1) the fields up to checkpoint_sha256, COOP_BACKBONE_INFO_VERSION
 * all of them. The host reads a field added later only from a struct it zeroed
 * before the call and whose version has it. version sits after the 1.0 fields
 * and never moves: new fields go after it. */
#define COOP_BACKBONE_INFO_VERSION 2
struct coop_backbone_info {
    int embed_dim;       /* E: joint embedding size */
    int token_width;     /* D: text token embedding size */
    int context_length;  /* L: text positions (77 for released CLIP) */
    int vocab_size;
    int image_size;      /* input resolution (square) */
    float mean[3], std[3];
    float logit_scale;   /* exp() already applied */
    char arch[64];       /* "ViT-B/16", "RN50", "ViT-custom-w256-l4-p8", ... */
    char checkpoint_sha256[65];
    uint32_t version;    /* COOP_BACKBONE_INFO_VERSION (1.1) */
    /* version >= 2 (1.3): the towers' matrix products, "fp32" or "bf16", and
     * what runs them, e.g. "openblas:SkylakeX" or "onednn:amx". */
    char precision[8];
    char matmul_isa[64];
};
/* Tape: whatever a text forward must keep for its backward (plugin-defined). */
struct coop_tape;

#define COOP_BACKBONE_OPS_VERSION 1
struct coop_backbone_ops {
    uint32_t version;
    const struct coop_param_spec *params;
    /* Opens a checkpoint (path) with options; vocab may be NULL (look next to it). */
    int (*open)(const struct coop_host *host, const char *checkpoint, const char *vocab,
                const struct coop_params *opts, struct coop_backbone **out, struct coop_err *e);
    void (*close)(struct coop_backbone *bb);
    void (*info)(const struct coop_backbone *bb, struct coop_backbone_info *out);
    /* text -> ids[L] = [SOS] tokens [EOT] 0...; *eot = index of EOT. Too long is
     * an error unless truncate. */
    int (*tokenize)(const struct coop_backbone *bb, const char *text, bool truncate,
                    int32_t *ids, int *eot, struct coop_err *e);
    /* Number of BPE tokens of text without SOS/EOT (for prompt construction). */
    int (*token_count)(const struct coop_backbone *bb, const char *text, struct coop_err *e);
    /* out[n, D] = token_embedding[ids[i]] */
    int (*token_embed)(const struct coop_backbone *bb, const int32_t *ids, int n, float *out,
                       struct coop_err *e);
    /* pixels [B, 3, S, S], normalised; out [B, E] not normalised. */
    int (*encode_images)(struct coop_backbone *bb, const float *pixels, int B, float *out,
                         struct coop_err *e);
    /* emb [K, L, D] token embeddings (positional embedding NOT added); eot [K];
     * shared_prefix: leading positions identical in every prompt (0 = unknown).
     * feat [K, E] not normalised. If tape != NULL, *tape receives what the
     * backward needs (free with tape_free). */
    int (*text_forward)(struct coop_backbone *bb, const float *emb, const int *eot, int K,
                        int shared_prefix, float *feat, struct coop_tape **tape,
                        struct coop_err *e);
    /* dfeat [K, E] -> demb [K, L, D], accumulated (+=). Weights stay frozen.
     * With shared_prefix P > 0 in the forward, rows [0, P) are one computation:
     * their gradient, summed over all prompts, may be delivered in prompt 0's
     * rows only (the other prompts' rows [0, P) get nothing). A prompt learner
     * whose shared rows hold parameters must therefore sum over prompts. */
    int (*text_backward)(struct coop_backbone *bb, struct coop_tape *tape, const float *dfeat,
                         float *demb, struct coop_err *e);
    void (*tape_free)(struct coop_backbone *bb, struct coop_tape *tape);
    /* Nearest vocabulary entries (Euclidean, in token-embedding space) of a
     * vector [D]: ids[k], dist[k]; words decoded into a caller buffer. Optional. */
    int (*nearest_tokens)(const struct coop_backbone *bb, const float *vec, int k, int32_t *ids,
                          float *dist, struct coop_err *e);
    int (*decode_token)(const struct coop_backbone *bb, int32_t id, char *buf, size_t len);
};
struct coop_backbone_ref {
    const struct coop_backbone_ops *ops;
    struct coop_backbone *bb;
};

/* ---- dataset ----------------------------------------------------------- */
struct coop_dataset; /* plugin-defined */
enum coop_split { COOP_SPLIT_TRAIN = 0, COOP_SPLIT_VAL = 1, COOP_SPLIT_TEST = 2 };
/* Filled by get_item; version as in coop_backbone_info (0: label, path, id). */
#define COOP_ITEM_VERSION 1
struct coop_item {
    int label;
    const char *path; /* image file, or NULL: pixels come from read_pixels */
    const char *id;   /* stable identifier (relative path or generated name) */
    uint32_t version; /* COOP_ITEM_VERSION (1.1) */
};
#define COOP_DATASET_OPS_VERSION 2 /* 2: ensemble_templates */
struct coop_dataset_ops {
    uint32_t version;
    const struct coop_param_spec *params;
    /* data_root: the YAML's data_root (may be NULL for generated datasets). */
    int (*open)(const struct coop_host *host, const char *data_root,
                const struct coop_params *opts, struct coop_dataset **out, struct coop_err *e);
    void (*close)(struct coop_dataset *ds);
    int (*num_classes)(const struct coop_dataset *ds);
    const char *(*class_name)(const struct coop_dataset *ds, int k);
    size_t (*split_size)(const struct coop_dataset *ds, enum coop_split s);
    /* Item i of a split; pointers stay valid until close. */
    int (*get_item)(const struct coop_dataset *ds, enum coop_split s, size_t i,
                    struct coop_item *out, struct coop_err *e);
    /* For items without a path: RGB8 pixels [h, w, 3], freed by free_pixels. */
    int (*read_pixels)(const struct coop_dataset *ds, enum coop_split s, size_t i,
                       uint8_t **rgb, int *w, int *h, struct coop_err *e);
    void (*free_pixels)(const struct coop_dataset *ds, uint8_t *rgb);
    /* Hand-crafted zero-shot template with "{}" (e.g. "a photo of a {}."). */
    const char *(*default_template)(const struct coop_dataset *ds);
    /* Domain-shift targets: class k's label in the source dataset, or -1.
     * NULL = same label space as the source. */
    int (*source_class)(const struct coop_dataset *ds, int k);
    /* Optional, version >= 2: the dataset's own templates for prompt
     * ensembling, each with "{}", ended by NULL (as CLIP gives each dataset
     * its own list), valid until close. NULL: the ensemble uses CoOp's 7
     * ImageNet templates and default_template. */
    const char *const *(*ensemble_templates)(const struct coop_dataset *ds);
};

/* ---- prompt variant (learnable prompts) ---------------------------------- */
struct coop_prompt; /* plugin-defined */
struct coop_prompt_args {
    const struct coop_host *host;
    const struct coop_params *params;
    struct coop_backbone_ref backbone;
    const char *const *classnames;
    int num_classes;
    uint64_t seed;
    /* 1.3: the dataset's hand-crafted template with "{}"; NULL: "a photo of a {}." */
    const char *template_text;
};
#define COOP_PROMPT_OPS_VERSION 3 /* 2: check_classes; 3: condition, loss */
struct coop_prompt_ops {
    uint32_t version;
    const struct coop_param_spec *params;
    int (*create)(const struct coop_prompt_args *a, struct coop_prompt **out, struct coop_err *e);
    void (*destroy)(struct coop_prompt *p);
    /* The learnable parameters: one flat arena the optimiser updates in place. */
    size_t (*num_params)(const struct coop_prompt *p);
    float *(*param_data)(struct coop_prompt *p);
    /* Shape of the parameters for storage, e.g. {M, D} or {K, M, D}; returns rank. */
    int (*param_shape)(const struct coop_prompt *p, size_t shape[4]);
    /* Rebuild the prompts for another class list (evaluation on targets). */
    int (*set_classes)(struct coop_prompt *p, const char *const *classnames, int K,
                       struct coop_err *e);
    /* emb [K, L, D], eot [K], *shared_prefix (0 if none). */
    int (*build)(struct coop_prompt *p, float *emb, int *eot, int *shared_prefix,
                 struct coop_err *e);
    /* demb [K, L, D] -> dparams [num_params], accumulated. */
    int (*backward)(struct coop_prompt *p, const float *demb, float *dparams,
                    struct coop_err *e);
    /* Optional: like set_classes for a target whose class k is class
     * source_class[k] of the training classes (e.g. ImageNet-A's 200 of
     * ImageNet's 1000), so class-specific parameters can follow their class. */
    int (*set_classes_mapped)(struct coop_prompt *p, const char *const *classnames, int K,
                              const int *source_class, struct coop_err *e);
    /* Optional, version >= 2: whether the prompts create would build for
     * a->classnames fit the backbone's context, without building them; fails
     * naming the class and the lengths. The host asks before any trial runs. */
    int (*check_classes)(const struct coop_prompt_args *a, struct coop_err *e);
    /* Optional, version >= 3: image-conditioned prompts (CoCoOp). image [E]
     * is one L2-normalised image feature; the next build and backward are
     * the prompts conditioned on it (backward also maps to the parameters
     * that turn the image into prompts). A variant that sets condition gets
     * one build per image: the host runs the text tower once per image of a
     * batch, with that image's logits only, and weights its loss by 1/B. */
    int (*condition)(struct coop_prompt *p, const float *image, struct coop_err *e);
    /* Optional, version >= 3: terms the variant adds to the training loss,
     * given text [K, E], the L2-normalised text features of the last build:
     * adds their value to *value and their gradient with respect to text to
     * dtext [K, E] (accumulated). The host weights both like the build's
     * cross-entropy (1, or 1/B per image with condition). Called in
     * training only, after the forward of each build. */
    int (*loss)(struct coop_prompt *p, const float *text, int K, int E, double *value,
                float *dtext, struct coop_err *e);
    /* Optional, version >= 3: the method's published recipe, training keys
     * of the experiment's train: section and their values ({"batch_size",
     * "1"}, ...), ended by {NULL, NULL}. Each replaces the protocol's default
     * for this method where neither the experiment's train: section nor the
     * method's own train: sets that key. */
    const struct coop_kv *train_defaults;
};

/* ---- baseline ---------------------------------------------------------- */
struct coop_baseline; /* plugin-defined */
struct coop_baseline_args {
    const struct coop_host *host;
    const struct coop_params *params;
    struct coop_backbone_ref backbone;
    const char *const *classnames;
    int num_classes;
    const char *template_text; /* dataset's hand-crafted template */
    const float *train_x; const int *train_y; size_t n_train; /* image features */
    const float *val_x; const int *val_y; size_t n_val;
    int dim;
    uint64_t seed;
    /* 1.5: the source dataset's ensemble_templates (NULL-terminated), or
     * NULL where it has none. */
    const char *const *ensemble_templates;
};
#define COOP_BASELINE_OPS_VERSION 1
struct coop_baseline_ops {
    uint32_t version;
    const struct coop_param_spec *params;
    bool needs_training_data; /* false for zero-shot methods */
    int (*fit)(const struct coop_baseline_args *a, struct coop_baseline **out,
               struct coop_err *e);
    /* x [n, dim] (unnormalised image features) -> logits [n, K]. */
    int (*logits)(struct coop_baseline *b, const float *x, size_t n, float *out,
                  struct coop_err *e);
    /* Optional: rebuild for another class list (text-based methods). NULL: the
     * host selects the columns of the source classes a target maps to. */
    int (*set_classes)(struct coop_baseline *b, const char *const *classnames, int K,
                       const char *template_text, struct coop_err *e);
    void (*destroy)(struct coop_baseline *b);
    /* Optional: a summary of the fitted state for the results (e.g. chosen C). */
    int (*describe)(const struct coop_baseline *b, char *buf, size_t len);
};

#endif
