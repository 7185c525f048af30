/* coop/train.h: optimisation and evaluation shared by every method: SGD with
 * momentum and weight decay and AdamW (PyTorch semantics), the learning-rate
 * schedules (CoOp's per epoch, pretraining's per step; one cosine), the
 * prompt-training loop over cached image features, text features of a
 * prompt learner, and classification metrics. Knows plugins
 * only through plugin.h; never reads files or prints. */
#ifndef COOP_TRAIN_H
#define COOP_TRAIN_H

#include "coop/plugin.h"

struct coop_optim_config {
    int epochs, batch_size, warmup_epochs;
    double lr, momentum, weight_decay, warmup_lr;
    char schedule[16];    /* "cosine" | "constant" | "linear" */
    char warmup_type[16]; /* "constant" | "linear" | "none" */
};

/* Learning rate used during epoch e (0-based), as Dassl's ConstantWarmupScheduler
 * over CosineAnnealingLR does for CoOp: epochs < warmup_epochs run at
 * warmup_lr (constant) or ramp linearly to lr; afterwards
 * lr * 0.5 * (1 + cos(pi * (e - warmup_epochs) / epochs)) (cosine), lr (constant)
 * or lr * (1 - (e - warmup_epochs) / epochs) (linear). */
COOP_API double coop_lr_at_epoch(const struct coop_optim_config *c, int epoch);

/* Cosine annealing, the one formula both schedules use:
 * base * 0.5 * (1 + cos(pi * t / period)). */
COOP_API double coop_cosine_anneal(double base, double t, double period);
/* Pretraining's schedule, step 0-based: base * (step + 1) / warmup while
 * step < warmup, then coop_cosine_anneal(base, step - warmup, total - warmup),
 * held at 0 past total. */
COOP_API double coop_cosine_lr(double base, long step, long warmup, long total);

/* One SGD step, PyTorch torch.optim.SGD (dampening 0, no Nesterov):
 * g' = g + wd * p; buf = momentum * buf + g' (buf starts at 0); p -= lr * buf. */
COOP_API void coop_sgd_step(float *params, const float *grad, float *buf, size_t n, double lr,
                            double momentum, double weight_decay);

/* One AdamW step (PyTorch's torch.optim.AdamW): p *= 1 - lr * wd; m = b1 m +
 * (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= lr * (m / (1 - b1^t)) /
 * (sqrt(v / (1 - b2^t)) + eps). t is the 1-based step count. */
struct coop_adamw {
    float beta1, beta2, eps;       /* CLIP: 0.9, 0.98, 1e-6 */
};
COOP_API void coop_adamw_update(float *p, float *m, float *v, const float *g, size_t n,
                                const struct coop_adamw *h, float lr, float wd, long t);

/* Text features of the K prompts a learner builds, L2-normalised: out [K, E]. */
COOP_API int coop_prompt_text_features(struct coop_backbone_ref bb,
                                       const struct coop_prompt_ops *pops, struct coop_prompt *p,
                                       int K, float *out, struct coop_err *e);

/* Whether the learner's prompts depend on the image (prompt ops version 3,
 * condition): then every image gets its own build. */
COOP_API bool coop_prompt_conditional(const struct coop_prompt_ops *pops);
/* logits [n, K] of L2-normalised image features xn [n, E] against the
 * learner's prompts: one build for all images, or one per image when the
 * prompts are conditional. */
COOP_API int coop_prompt_logits(struct coop_backbone_ref bb, const struct coop_prompt_ops *pops,
                                struct coop_prompt *p, int K, const float *xn, size_t n,
                                float logit_scale, float *out, struct coop_err *e);

/* The batch source: fills out [n, E] with the L2-normalised image features of
 * training items idx[0..n) for this epoch (a cached view or a fresh
 * augmentation). */
typedef int (*coop_fetch_fn)(void *ctx, int epoch, const int *idx, int n, float *out,
                             struct coop_err *e);
/* Called after every epoch; a non-zero return stops training (cancel). */
typedef int (*coop_epoch_fn)(void *ctx, int epoch, int epochs, double loss, double acc,
                             double lr);

struct coop_train_args {
    struct coop_backbone_ref backbone;
    const struct coop_prompt_ops *pops;
    struct coop_prompt *prompt;
    int num_classes;
    const int *labels; /* [n_train] */
    int n_train;
    int embed_dim;
    float logit_scale; /* exp() applied */
    struct coop_optim_config optim;
    uint64_t seed;     /* batch order */
    coop_fetch_fn fetch;
    void *fetch_ctx;
    coop_epoch_fn on_epoch;
    void *epoch_ctx;
    const volatile int *cancel;
};
/* Per-epoch curve (arrays of length epochs, owned by the caller after return;
 * free with coop_train_curve_free). */
struct coop_train_curve {
    int epochs;
    float *loss, *acc, *lr; /* acc in % over the epoch's training batches */
    double seconds, text_seconds;
    long iterations;
};
/* Trains the prompt's parameters in place (the last epoch's model is kept). */
COOP_API int coop_train_prompt(const struct coop_train_args *a, struct coop_train_curve *curve,
                               struct coop_err *e);
COOP_API void coop_train_curve_free(struct coop_train_curve *c);

/* Classification metrics from predictions. per_class [K] (NaN for classes with
 * no sample), confusion [K*K] (rows = true label); either may be NULL.
 * Macro-F1 averages over the labels present in y or pred (scikit-learn's
 * default). Percentages. */
struct coop_metrics {
    double accuracy, macro_f1;
    size_t n;
};
COOP_API int coop_metrics_compute(const int *pred, const int *y, size_t n, int K,
                                  struct coop_metrics *m, float *per_class, int32_t *confusion,
                                  struct coop_err *e);
/* argmax per row of logits [n, K] */
COOP_API void coop_argmax_rows(int *pred, const float *logits, size_t n, int K);

#endif
