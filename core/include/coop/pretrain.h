/* coop/pretrain.h: contrastive pretraining of a small CLIP on the synthetic
 * world (docs/pretraining.md): CLIP's weight-decay rule, a byte-level BPE learner that
 * writes CLIP's merges-file format, the training loop that writes an
 * OpenAI-named safetensors checkpoint, and a zero-shot / few-shot evaluation
 * on the world's downstream tasks. */
#ifndef COOP_PRETRAIN_H
#define COOP_PRETRAIN_H

#include "coop/clip.h"
#include "coop/common.h"
#include "coop/tokenizer.h"
#include "coop/world.h"
#include <stdbool.h>

/* ---- weight decay rule (core/pretrain/decay.c) ------------------------------
 * The loss is coop_infonce (coop/nn.h); the optimiser coop_adamw_update and
 * the schedule coop_cosine_lr (coop/train.h). */
/* CLIP's rule for which parameters get weight decay: matrices and
 * projections yes; gains, biases, embeddings and logit_scale no. name is an
 * OpenAI state-dict name. */
COOP_API bool coop_pretrain_decays(const char *name, int ndim);
/* The same with the embeddings' rule: embeddings of 2 or more dimensions
 * (token and position tables) decay when decay_embeddings is set, as in the
 * CLIP paper ("all weights that are not gains or biases"). */
COOP_API bool coop_pretrain_decays_with(const char *name, int ndim, bool decay_embeddings);

/* ---- BPE learner (core/pretrain/bpe_learn.c) ----------------------------------
 * Byte-level BPE as CLIP's vocabulary: words split and cleaned exactly as
 * coop_tokenizer_encode does, bytes mapped through bytes_to_unicode, the
 * last symbol of a word carries "</w>". Each merge joins the most frequent
 * adjacent pair (ties: the lexicographically smallest "a b" line). */
struct coop_bpe_learner;
COOP_API int coop_bpe_learner_new(struct coop_bpe_learner **out, struct coop_err *e);
COOP_API void coop_bpe_learner_free(struct coop_bpe_learner *l);
/* Adds the words of text (UTF-8) with weight count. */
COOP_API int coop_bpe_learner_add(struct coop_bpe_learner *l, const char *text, long count,
                                  struct coop_err *e);
/* Learns up to max_merges merges, stopping when the best pair occurs fewer
 * than min_count times. */
COOP_API int coop_bpe_learner_learn(struct coop_bpe_learner *l, int max_merges, long min_count,
                                    struct coop_err *e);
COOP_API size_t coop_bpe_learner_num_merges(const struct coop_bpe_learner *l);
/* Merge r as its file line "a b" (byte-to-unicode characters), or NULL. */
COOP_API const char *coop_bpe_learner_merge(const struct coop_bpe_learner *l, size_t r);
/* Writes CLIP's format, gzip'd: a header line, then one merge per line, no
 * newline after the last (CLIP's reader would count an empty merge there).
 * The vocabulary it implies has 512 + merges + 2 entries. */
COOP_API int coop_bpe_learner_write(const struct coop_bpe_learner *l, const char *gz_path,
                                    const char *header, struct coop_err *e);

/* ---- configuration (core/pretrain/config.c) ------------------------------------ */
struct coop_pretrain_config {
    uint64_t seed;                 /* everything derives from it */
    int image_size, patch_size, vision_width, vision_layers;
    int context_length, text_width, text_layers, embed_dim;
    int batch_size;
    long steps, warmup;
    double lr, weight_decay, beta1, beta2, eps, init_logit_scale;
    double sketch_fraction, rendition_fraction; /* of training scenes */
    double cooccurrence;           /* share of scenes whose object has its kind's typical colour */
    int supersample;               /* world renderer anti-aliasing */
    int bpe_captions, bpe_merges;  /* vocabulary: captions learned from, max merges */
    long bpe_min_count;
    int log_every;                 /* steps between progress reports */
    long data_pool;                /* distinct training scenes (0: a fresh scene every pair) */
    int decay_embeddings;          /* 1: weight decay on token and position embeddings too */
    double long_captions;          /* share of pairs whose caption is two descriptions of the
                                      scene, so that later text positions are trained too */
    double style_words;            /* share of sketch and rendition pairs whose caption names
                                      the style ("a sketch of"); the rest say nothing of it */
    double caption_noise;          /* share of pairs whose caption gets 1-6 content-free web
                                      words ("img", "jpg", "hd", numbers) before or after it */
};
COOP_API void coop_pretrain_config_default(struct coop_pretrain_config *c);
/* Sets one key (names as the struct fields) from its text value. */
COOP_API int coop_pretrain_config_set(struct coop_pretrain_config *c, const char *key,
                                      const char *value, struct coop_err *e);
/* Reads "key = value" lines ('#' starts a comment) over the current values. */
COOP_API int coop_pretrain_config_load(struct coop_pretrain_config *c, const char *path,
                                       struct coop_err *e);
/* Writes every key (the resolved config) as a config file's text; malloc'd. */
COOP_API char *coop_pretrain_config_dump(const struct coop_pretrain_config *c);
/* Checks ranges and CLIP's head rule (widths multiples of 64). */
COOP_API int coop_pretrain_config_check(const struct coop_pretrain_config *c, struct coop_err *e);

/* ---- training (core/pretrain/train.c) ----------------------------------------- */
/* Learns the vocabulary from c->bpe_captions world captions and writes it. */
COOP_API int coop_pretrain_vocab(const struct coop_pretrain_config *c, const char *gz_path,
                                 struct coop_err *e);
struct coop_pretrain_progress {
    long step, steps;              /* steps done so far, total */
    double loss;                   /* mean loss over the last log_every steps */
    double lr, logit_scale, seconds;
    double data_seconds;           /* of which making batches (render, caption, tokenise) */
    const struct coop_clip_model *model; /* the weights now (valid during the call) */
};
/* Return nonzero to stop training early (the checkpoint is still written). */
typedef int (*coop_pretrain_cb)(void *ud, const struct coop_pretrain_progress *p);
/* Trains from scratch with tok (its vocabulary size sets the embedding
 * table) and writes the checkpoint (F32 safetensors, OpenAI names) to
 * out_path. cb may be NULL. *final_loss (may be NULL): mean loss of the
 * last log window. */
COOP_API int coop_pretrain_run(const struct coop_pretrain_config *c,
                               const struct coop_tokenizer *tok, const char *out_path,
                               coop_pretrain_cb cb, void *ud, double *final_loss,
                               struct coop_err *e);

/* ---- evaluation (core/pretrain/eval.c) ------------------------------------------
 * Zero-shot accuracy of the task's own template on the test split, and
 * nearest-class-mean accuracy with `shots` labelled train images per class
 * (normalised image features; class means of them). */
struct coop_pretrain_eval {
    int num_classes;
    size_t n_test;
    double zeroshot, ncm;          /* accuracies in [0, 1] */
};
COOP_API int coop_pretrain_evaluate(struct coop_pretrain_eval *out,
                                    const struct coop_clip_model *m,
                                    const struct coop_tokenizer *tok,
                                    const struct coop_world_task *task,
                                    const struct coop_world_config *wc, int shots,
                                    struct coop_err *e);

/* Mean milliseconds (over 20 repetitions) of the text forward + backward
 * (input gradients only, as CoOp) for K seeded prompts cut at EOT position
 * eotpos, the first prefix rows shared by all (the fast path's prefix). */
COOP_API int coop_pretrain_time_text(const struct coop_clip_text *t, int K, int eotpos,
                                     int prefix, double *ms, struct coop_err *e);

#endif
