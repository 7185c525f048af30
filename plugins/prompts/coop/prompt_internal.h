/* prompt_internal.h: the state the three prompt variants of this plugin
 * (coop, cocoop, kgcoop) share: CoOp's prompt layout, plus CoCoOp's meta-net
 * and KgCoOp's hand-crafted text features. Internal to this plugin. */
#ifndef COOP_PROMPT_INTERNAL_H
#define COOP_PROMPT_INTERNAL_H

#include "coop/plugin.h"
#include "coop/util.h"

enum position { POS_END, POS_MIDDLE, POS_FRONT };
enum variant { VARIANT_COOP, VARIANT_COCOOP, VARIANT_KGCOOP };

struct coop_prompt {
    struct coop_backbone_ref bb;
    enum variant variant;
    int M, D, L, K;
    bool csc;
    enum position pos;
    char *init_words;  /* NULL = random init */
    float *ctx;        /* the arena: [M, D] or [K, M, D], then cocoop's meta-net */
    /* per class: frozen embeddings of the tokenised "X..X name." prompt */
    float *frozen;     /* [K, L, D] */
    int *eot, *name_len; /* [K] */
    int K_train;         /* classes the (CSC) context was learned for */
    int *ctx_row;        /* [K]: CSC row of class k (NULL: row k) */
    /* cocoop: meta-net Linear(E, H) - ReLU - Linear(H, D), H = E / 16, in the
     * arena after the context: W1 [H, E], b1 [H], W2 [D, H], b2 [D]. */
    int E, H;
    float *shifted;      /* [M, D]: context + meta-net(image) of the conditioned image */
    float *meta_x;       /* [E]: the conditioned image */
    float *meta_h;       /* [H + D]: its hidden layer after ReLU, then pi */
    float *meta_g;       /* [D + H]: scratch for the gradients of pi and the hidden layer */
    bool conditioned;
    /* kgcoop */
    double lambda;
    char *template_text;
    float *hand;         /* [K, E]: normalised hand-crafted text features */
};

/* The parameter count of the context alone (the arena's head). */
size_t coop_prompt_ctx_params(const struct coop_prompt *p);

/* cocoop.c */
size_t cocoop_meta_params(int E, int D);
void cocoop_meta_init(struct coop_prompt *p, uint64_t seed);
int cocoop_alloc(struct coop_prompt *p, struct coop_err *e);
int cocoop_condition(struct coop_prompt *p, const float *image, struct coop_err *e);
void cocoop_meta_backward(struct coop_prompt *p, const float *dshift, float *dparams);

/* kgcoop.c */
int kgcoop_hand_features(struct coop_prompt *p, const char *const *names, int K,
                         struct coop_err *e);
int kgcoop_loss(struct coop_prompt *p, const float *text, int K, int E, double *value,
                float *dtext, struct coop_err *e);

#endif
