/* core/pretrain/pretrain_internal.h (internal): the training state behind
 * coop_pretrain_run, exposed step by step so tests can check the whole
 * chain's gradient (towers, normalisation, InfoNCE) by finite differences. */
#ifndef COOP_PRETRAIN_INTERNAL_H
#define COOP_PRETRAIN_INTERNAL_H

#include "coop/pretrain.h"

/* Renders scene sc at S x S with supersample ss and writes it normalised
 * with CLIP's mean and std, channel-major, to out [3, S, S]: the pixels the
 * towers see, in training and in evaluation alike. */
int coop_pretrain_pixels(float *out, const struct coop_world_scene *sc, int S, int ss,
                         struct coop_err *e);

/* Scene i of the pretraining stream `stream`: the world's defaults, a share
 * c->sketch_fraction of sketches and c->rendition_fraction of renditions,
 * and a share c->cooccurrence of objects in their kind's typical colour
 * (coop_world_typical_colour). Deterministic in (c, stream, i). */
int coop_pretrain_scene(struct coop_world_scene *s, const struct coop_pretrain_config *c,
                        uint64_t stream, uint64_t i, struct coop_err *e);

/* The caption of training pair idx (scene sc) into buf [len >= 2 *
 * COOP_WORLD_CAPTION_MAX]: one description, or with probability
 * c->long_captions (a draw of its own) two independent descriptions of the
 * same scene as two sentences, which reach text positions that one rarely
 * does. A sketch or rendition pair keeps its style phrase ("a sketch of")
 * with probability c->style_words (another draw of its own) and otherwise
 * loses it. With probability c->caption_noise (a third draw) 1-6 content-free
 * web words go before or after the whole caption, where they fit in len.
 * Deterministic in (c, stream, idx). */
int coop_pretrain_caption(char *buf, size_t len, const struct coop_world_scene *sc,
                          const struct coop_pretrain_config *c, uint64_t stream, uint64_t idx,
                          struct coop_err *e);

struct coop_pretrain_state;
/* Initialised model and optimiser state; c and tok must outlive it. */
int coop_pretrain_state_new(struct coop_pretrain_state **out, const struct coop_pretrain_config *c,
                            const struct coop_tokenizer *tok, struct coop_err *e);
void coop_pretrain_state_free(struct coop_pretrain_state *s);
/* Makes the batch of step `step` (scenes, pixels, captions, token ids). */
int coop_pretrain_state_batch(struct coop_pretrain_state *s, long step, struct coop_err *e);
/* Loss of the current batch and every gradient (into the grads model). */
int coop_pretrain_state_grad(struct coop_pretrain_state *s, double *loss, struct coop_err *e);
/* One AdamW step with learning rate lr, t 1-based; clamps logit_scale. */
void coop_pretrain_state_step(struct coop_pretrain_state *s, double lr, long t);
struct coop_clip_model *coop_pretrain_state_model(struct coop_pretrain_state *s);
/* Same layout as the model; logit_scale holds d loss / d logit_scale. */
struct coop_clip_model *coop_pretrain_state_grads(struct coop_pretrain_state *s);

#endif
