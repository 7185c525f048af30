/* prompt_train.c: CoOp's training loop. Everything but the prompt learner's
 * parameters is frozen: image features come precomputed (fetch callback),
 * the text tower runs forward and backward to its input embeddings only.
 * One iteration: build K prompts -> text features -> cosine logits against
 * the batch -> cross-entropy -> gradients back to the context -> SGD.
 * A non-finite logit, loss or gradient stops training with its epoch and
 * iteration: carrying on would end at chance accuracy as if nothing happened. */
#include "coop/nn.h"
#include "coop/train.h"
#include "coop/util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int coop_prompt_text_features(struct coop_backbone_ref bb, const struct coop_prompt_ops *pops,
                              struct coop_prompt *p, int K, float *out, struct coop_err *e)
{
    struct coop_backbone_info info;
    bb.ops->info(bb.bb, &info);
    size_t row = (size_t)info.context_length * info.token_width;
    float *emb = coop_alloc_floats((size_t)K * row), *feat = coop_alloc_floats((size_t)K *
                                                                              info.embed_dim);
    int *eot = calloc((size_t)K, sizeof *eot), shared = 0, rc;
    if (!emb || !feat || !eot) {
        rc = coop_fail(e, COOP_E_NOMEM, "out of memory for %d prompts", K);
        goto done;
    }
    if ((rc = pops->build(p, emb, eot, &shared, e)) != 0)
        goto done;
    if ((rc = bb.ops->text_forward(bb.bb, emb, eot, K, shared, feat, NULL, e)) != 0)
        goto done;
    coop_l2norm_forward(out, NULL, feat, K, info.embed_dim);
done:
    coop_free(emb);
    coop_free(feat);
    free(eot);
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
    float *emb, *demb, *feat, *tn, *norm, *dtn, *dfeat, *img, *logits, *dlogits, *grad, *mom;
    int *eot, *order, *y, *pred;
};

static void buffers_free(struct buffers *b)
{
    coop_free(b->emb), coop_free(b->demb), coop_free(b->feat), coop_free(b->tn);
    coop_free(b->norm), coop_free(b->dtn), coop_free(b->dfeat), coop_free(b->img);
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
    b->img = coop_alloc_floats((size_t)B * E);
    b->logits = coop_alloc_floats((size_t)B * K);
    b->dlogits = coop_alloc_floats((size_t)B * K);
    b->grad = coop_alloc_floats(np);
    b->mom = coop_alloc_floats(np);
    b->eot = calloc((size_t)K, sizeof(int));
    b->order = calloc((size_t)n, sizeof(int));
    b->y = calloc((size_t)B, sizeof(int));
    b->pred = calloc((size_t)B, sizeof(int));
    return b->emb && b->demb && b->feat && b->tn && b->norm && b->dtn && b->dfeat && b->img &&
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

/* One iteration (it of epoch) on batch idx[0..B); returns loss, counts correct
 * in *correct. */
static int iteration(const struct coop_train_args *a, struct buffers *b, const int *idx, int B,
                     int epoch, int it, double lr, size_t row, double *loss, int *correct,
                     double *text_s, struct coop_err *e)
{
    const int K = a->num_classes, E = a->embed_dim;
    size_t np = a->pops->num_params(a->prompt);
    struct coop_tape *tape = NULL;
    int shared = 0, rc;
    if ((rc = a->fetch(a->fetch_ctx, epoch, idx, B, b->img, e)) != 0)
        return rc;
    for (int i = 0; i < B; i++)
        b->y[i] = a->labels[idx[i]];
    double t0 = coop_now();
    if ((rc = a->pops->build(a->prompt, b->emb, b->eot, &shared, e)) != 0)
        return rc;
    if ((rc = a->backbone.ops->text_forward(a->backbone.bb, b->emb, b->eot, K, shared, b->feat,
                                            &tape, e)) != 0)
        return rc;
    *text_s += coop_now() - t0;
    coop_l2norm_forward(b->tn, b->norm, b->feat, K, E);
    coop_cosine_logits(b->logits, b->img, b->tn, B, K, E, a->logit_scale);
    const char *bad = all_finite(b->logits, (size_t)B * K) ? NULL : "logit";
    if (!bad) {
        *loss = coop_cross_entropy(b->dlogits, b->logits, b->y, B, K);
        bad = isfinite(*loss) ? NULL : "loss";
    }
    if (bad) {
        a->backbone.ops->tape_free(a->backbone.bb, tape);
        return non_finite(e, bad, epoch, it, lr);
    }
    coop_argmax_rows(b->pred, b->logits, (size_t)B, K);
    for (int i = 0; i < B; i++)
        *correct += b->pred[i] == b->y[i];
    memset(b->dtn, 0, (size_t)K * E * sizeof(float));
    coop_cosine_logits_backward(NULL, b->dtn, b->dlogits, b->img, b->tn, B, K, E,
                                a->logit_scale);
    memset(b->dfeat, 0, (size_t)K * E * sizeof(float));
    coop_l2norm_backward(b->dfeat, b->dtn, b->tn, b->norm, K, E);
    memset(b->demb, 0, (size_t)K * row * sizeof(float));
    t0 = coop_now();
    rc = a->backbone.ops->text_backward(a->backbone.bb, tape, b->dfeat, b->demb, e);
    a->backbone.ops->tape_free(a->backbone.bb, tape);
    *text_s += coop_now() - t0;
    if (rc)
        return rc;
    memset(b->grad, 0, np * sizeof(float));
    if ((rc = a->pops->backward(a->prompt, b->demb, b->grad, e)) != 0)
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
