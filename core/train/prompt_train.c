/* prompt_train.c: CoOp's training loop. Everything but the prompt learner's
 * parameters is frozen: image features come precomputed (fetch callback),
 * the text tower runs forward and backward to its input embeddings only.
 * One iteration: build K prompts -> text features -> cosine logits against
 * the batch -> cross-entropy (plus the variant's loss terms) -> gradients
 * back to the prompt's parameters -> SGD. A variant whose prompts see the
 * image (condition) runs the same steps once per image of the batch.
 * A non-finite logit, loss or gradient stops training with its epoch and
 * iteration: carrying on would end at chance accuracy as if nothing happened. */
#include "coop/nn.h"
#include "coop/train.h"
#include "coop/util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Scratch for text features of K prompts: emb [K, L, D], feat [K, E], eot [K]. */
struct text_scratch {
    float *emb, *feat;
    int *eot;
};

static int scratch_alloc(struct text_scratch *s, const struct coop_backbone_info *info, int K,
                         struct coop_err *e)
{
    size_t row = (size_t)info->context_length * info->token_width;
    s->emb = coop_alloc_floats((size_t)K * row);
    s->feat = coop_alloc_floats((size_t)K * info->embed_dim);
    s->eot = calloc((size_t)K, sizeof *s->eot);
    return s->emb && s->feat && s->eot
               ? 0
               : coop_fail(e, COOP_E_NOMEM, "out of memory for %d prompts", K);
}

static void scratch_free(struct text_scratch *s)
{
    coop_free(s->emb);
    coop_free(s->feat);
    free(s->eot);
}

static int text_features(struct coop_backbone_ref bb, const struct coop_prompt_ops *pops,
                         struct coop_prompt *p, int K, int E, struct text_scratch *s,
                         float *out, struct coop_err *e)
{
    int shared = 0, rc;
    if ((rc = pops->build(p, s->emb, s->eot, &shared, e)) != 0)
        return rc;
    if ((rc = bb.ops->text_forward(bb.bb, s->emb, s->eot, K, shared, s->feat, NULL, e)) != 0)
        return rc;
    coop_l2norm_forward(out, NULL, s->feat, K, E);
    return 0;
}

int coop_prompt_text_features(struct coop_backbone_ref bb, const struct coop_prompt_ops *pops,
                              struct coop_prompt *p, int K, float *out, struct coop_err *e)
{
    struct coop_backbone_info info;
    bb.ops->info(bb.bb, &info);
    struct text_scratch s;
    int rc = scratch_alloc(&s, &info, K, e);
    if (rc == 0)
        rc = text_features(bb, pops, p, K, info.embed_dim, &s, out, e);
    scratch_free(&s);
    return rc;
}

bool coop_prompt_conditional(const struct coop_prompt_ops *pops)
{
    return COOP_OPS_HAS(pops, condition, 3);
}

int coop_prompt_logits(struct coop_backbone_ref bb, const struct coop_prompt_ops *pops,
                       struct coop_prompt *p, int K, const float *xn, size_t n,
                       float logit_scale, float *out, struct coop_err *e)
{
    struct coop_backbone_info info;
    bb.ops->info(bb.bb, &info);
    const int E = info.embed_dim;
    const bool cond = coop_prompt_conditional(pops);
    struct text_scratch s;
    float *t = coop_alloc_floats((size_t)K * E);
    int rc = scratch_alloc(&s, &info, K, e);
    if (rc == 0 && !t)
        rc = coop_fail(e, COOP_E_NOMEM, "out of memory for %d text features", K);
    if (rc == 0 && !cond && (rc = text_features(bb, pops, p, K, E, &s, t, e)) == 0)
        coop_cosine_logits(out, xn, t, (int)n, K, E, logit_scale);
    for (size_t i = 0; i < n && rc == 0 && cond; i++) { /* one build per image */
        if ((rc = pops->condition(p, xn + i * E, e)) == 0)
            rc = text_features(bb, pops, p, K, E, &s, t, e);
        if (rc == 0)
            coop_cosine_logits(out + i * K, xn + i * E, t, 1, K, E, logit_scale);
    }
    scratch_free(&s);
    coop_free(t);
    return rc;
}

void coop_train_curve_free(struct coop_train_curve *c)
{
    free(c->loss);
    free(c->acc);
    free(c->lr);
    memset(c, 0, sizeof *c);
}

struct buffers {
    float *emb, *demb, *feat, *tn, *norm, *dtn, *dfeat, *dextra, *img, *logits, *dlogits, *grad,
        *mom;
    int *eot, *order, *y, *pred;
};

static void buffers_free(struct buffers *b)
{
    coop_free(b->emb), coop_free(b->demb), coop_free(b->feat), coop_free(b->tn);
    coop_free(b->norm), coop_free(b->dtn), coop_free(b->dfeat), coop_free(b->dextra);
    coop_free(b->img);
    coop_free(b->logits), coop_free(b->dlogits), coop_free(b->grad), coop_free(b->mom);
    free(b->eot), free(b->order), free(b->y), free(b->pred);
}

static int buffers_alloc(struct buffers *b, int K, size_t row, int E, int B, size_t np, int n)
{
    memset(b, 0, sizeof *b);
    b->emb = coop_alloc_floats((size_t)K * row);
    b->demb = coop_alloc_floats((size_t)K * row);
    b->feat = coop_alloc_floats((size_t)K * E);
    b->tn = coop_alloc_floats((size_t)K * E);
    b->norm = coop_alloc_floats((size_t)K);
    b->dtn = coop_alloc_floats((size_t)K * E);
    b->dfeat = coop_alloc_floats((size_t)K * E);
    b->dextra = coop_alloc_floats((size_t)K * E);
    b->img = coop_alloc_floats((size_t)B * E);
    b->logits = coop_alloc_floats((size_t)B * K);
    b->dlogits = coop_alloc_floats((size_t)B * K);
    b->grad = coop_alloc_floats(np);
    b->mom = coop_alloc_floats(np);
    b->eot = calloc((size_t)K, sizeof(int));
    b->order = calloc((size_t)n, sizeof(int));
    b->y = calloc((size_t)B, sizeof(int));
    b->pred = calloc((size_t)B, sizeof(int));
    return b->emb && b->demb && b->feat && b->tn && b->norm && b->dtn && b->dfeat && b->dextra &&
                   b->img &&
                   b->logits && b->dlogits && b->grad && b->mom && b->eot && b->order && b->y &&
                   b->pred
               ? 0
               : -1;
}

static bool all_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return false;
    return true;
}

static int non_finite(struct coop_err *e, const char *what, int epoch, int it, double lr)
{
    return coop_fail(e, COOP_E_NUMERIC,
                     "non-finite %s at epoch %d, iteration %d (lr %g): training diverged or a "
                     "feature or weight overflows; lower the learning rate or check the inputs",
                     what, epoch + 1, it + 1, lr);
}

/* The training loss of one build against images img [nb, E] with labels y:
 * forward, cross-entropy (and the variant's terms) weighted by w, backward
 * into b->grad. */
static int build_step(const struct coop_train_args *a, struct buffers *b, const float *img,
                      const int *y, int nb, float w, int epoch, int it, double lr, size_t row,
                      double *loss, int *correct, double *text_s, struct coop_err *e)
{
    const int K = a->num_classes, E = a->embed_dim;
    struct coop_tape *tape = NULL;
    int shared = 0, rc;
    double t0 = coop_now();
    if ((rc = a->pops->build(a->prompt, b->emb, b->eot, &shared, e)) != 0)
        return rc;
    if ((rc = a->backbone.ops->text_forward(a->backbone.bb, b->emb, b->eot, K, shared, b->feat,
                                            &tape, e)) != 0)
        return rc;
    *text_s += coop_now() - t0;
    coop_l2norm_forward(b->tn, b->norm, b->feat, K, E);
    coop_cosine_logits(b->logits, img, b->tn, nb, K, E, a->logit_scale);
    const char *bad = all_finite(b->logits, (size_t)nb * K) ? NULL : "logit";
    double ce = 0, extra = 0;
    if (!bad) {
        ce = coop_cross_entropy(b->dlogits, b->logits, y, nb, K);
        bad = isfinite(ce) ? NULL : "loss";
    }
    if (bad) {
        a->backbone.ops->tape_free(a->backbone.bb, tape);
        return non_finite(e, bad, epoch, it, lr);
    }
    coop_argmax_rows(b->pred, b->logits, (size_t)nb, K);
    for (int i = 0; i < nb; i++)
        *correct += b->pred[i] == y[i];
    memset(b->dtn, 0, (size_t)K * E * sizeof(float));
    if (w != 1.0f)
        for (size_t i = 0; i < (size_t)nb * K; i++)
            b->dlogits[i] *= w;
    coop_cosine_logits_backward(NULL, b->dtn, b->dlogits, img, b->tn, nb, K, E, a->logit_scale);
    if (COOP_OPS_HAS(a->pops, loss, 3)) {
        memset(b->dextra, 0, (size_t)K * E * sizeof(float));
        rc = a->pops->loss(a->prompt, b->tn, K, E, &extra, b->dextra, e);
        if (rc == 0 && !isfinite(extra))
            rc = non_finite(e, "loss term", epoch, it, lr);
        for (size_t i = 0; rc == 0 && i < (size_t)K * E; i++)
            b->dtn[i] += w * b->dextra[i];
    }
    *loss += w * (ce + extra);
    memset(b->dfeat, 0, (size_t)K * E * sizeof(float));
    coop_l2norm_backward(b->dfeat, b->dtn, b->tn, b->norm, K, E);
    memset(b->demb, 0, (size_t)K * row * sizeof(float));
    t0 = coop_now();
    if (rc == 0)
        rc = a->backbone.ops->text_backward(a->backbone.bb, tape, b->dfeat, b->demb, e);
    a->backbone.ops->tape_free(a->backbone.bb, tape);
    *text_s += coop_now() - t0;
    return rc ? rc : a->pops->backward(a->prompt, b->demb, b->grad, e);
}

/* One iteration (it of epoch) on batch idx[0..B): one build for the batch,
 * or one per image when the prompts are conditional (each weighted 1/B, so
 * the loss is the batch mean either way); returns the loss, counts correct
 * in *correct. */
static int iteration(const struct coop_train_args *a, struct buffers *b, const int *idx, int B,
                     int epoch, int it, double lr, size_t row, double *loss, int *correct,
                     double *text_s, struct coop_err *e)
{
    const int E = a->embed_dim;
    const bool cond = coop_prompt_conditional(a->pops);
    size_t np = a->pops->num_params(a->prompt);
    int rc;
    if ((rc = a->fetch(a->fetch_ctx, epoch, idx, B, b->img, e)) != 0)
        return rc;
    for (int i = 0; i < B; i++)
        b->y[i] = a->labels[idx[i]];
    memset(b->grad, 0, np * sizeof(float));
    *loss = 0;
    const int groups = cond ? B : 1, nb = cond ? 1 : B;
    const float w = cond ? 1.0f / (float)B : 1.0f;
    for (int g = 0; g < groups && rc == 0; g++) {
        const float *img = b->img + (size_t)g * E;
        if (cond && (rc = a->pops->condition(a->prompt, img, e)) != 0)
            break;
        rc = build_step(a, b, img, b->y + g, nb, w, epoch, it, lr, row, loss, correct, text_s,
                        e);
    }
    if (rc)
        return rc;
    if (!all_finite(b->grad, np))
        return non_finite(e, "gradient", epoch, it, lr);
    coop_sgd_step(a->pops->param_data(a->prompt), b->grad, b->mom, np, lr, a->optim.momentum,
                  a->optim.weight_decay);
    return 0;
}

int coop_train_prompt(const struct coop_train_args *a, struct coop_train_curve *c,
                      struct coop_err *e)
{
    struct coop_backbone_info info;
    a->backbone.ops->info(a->backbone.bb, &info);
    const int K = a->num_classes, n = a->n_train, Bmax = a->optim.batch_size;
    const size_t row = (size_t)info.context_length * info.token_width;
    const int epochs = a->optim.epochs;
    if (n <= 0 || Bmax <= 0 || epochs <= 0)
        return coop_fail(e, COOP_E_INVAL, "training needs samples (%d), a batch size (%d) and "
                                          "epochs (%d)", n, Bmax, epochs);
    memset(c, 0, sizeof *c);
    c->epochs = epochs;
    c->loss = calloc((size_t)epochs, sizeof(float));
    c->acc = calloc((size_t)epochs, sizeof(float));
    c->lr = calloc((size_t)epochs, sizeof(float));
    struct buffers b;
    size_t np = a->pops->num_params(a->prompt);
    if (!c->loss || !c->acc || !c->lr || buffers_alloc(&b, K, row, a->embed_dim, Bmax, np, n)) {
        buffers_free(&b);
        coop_train_curve_free(c);
        return coop_fail(e, COOP_E_NOMEM, "out of memory for training buffers (K=%d)", K);
    }
    struct coop_rng rng;
    coop_rng_seed(&rng, coop_seed_derive(a->seed, "train.batches"));
    for (int i = 0; i < n; i++)
        b.order[i] = i;
    /* Dassl: drop_last only when the split holds at least one full batch */
    const int iters = n >= Bmax ? n / Bmax : 1;
    int rc = 0;
    double t_start = coop_now();
    for (int ep = 0; ep < epochs && rc == 0; ep++) {
        double lr = coop_lr_at_epoch(&a->optim, ep), loss_sum = 0;
        int correct = 0, seen = 0;
        coop_rng_shuffle_int(&rng, b.order, (size_t)n);
        for (int it = 0; it < iters && rc == 0; it++) {
            int B = n >= Bmax ? Bmax : n;
            double loss = 0;
            if (a->cancel && *a->cancel) {
                rc = coop_fail(e, COOP_E_INTERRUPTED, "training interrupted");
                break;
            }
            rc = iteration(a, &b, b.order + it * Bmax, B, ep, it, lr, row, &loss, &correct,
                           &c->text_seconds, e);
            loss_sum += loss * B;
            seen += B;
            c->iterations++;
        }
        if (rc)
            break;
        c->loss[ep] = (float)(loss_sum / seen);
        c->acc[ep] = (float)(100.0 * correct / seen);
        c->lr[ep] = (float)lr;
        if (a->on_epoch && a->on_epoch(a->epoch_ctx, ep, epochs, c->loss[ep], c->acc[ep], lr))
            rc = coop_fail(e, COOP_E_INTERRUPTED, "training interrupted");
    }
    c->seconds = coop_now() - t_start;
    buffers_free(&b);
    if (rc)
        coop_train_curve_free(c);
    return rc;
}
