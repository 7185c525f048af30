/* kgcoop.c: KgCoOp's knowledge-guided term (Yao et al., CVPR 2023; the
 * official trainers/kgcoop.py): lambda * (1 - mean_k cos(t_k, h_k)) between
 * the learned prompts' text features t_k and the hand-crafted ones h_k (the
 * dataset's template, CoOp's CUSTOM_TEMPLATES, through the frozen text tower).
 * For unit vectors that is lambda / 2 times the mean squared distance. */
#include "coop/nn.h"
#include "prompt_internal.h"
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 64 }; /* prompts per text forward */

/* The template with its "{}" replaced by the name ('_' as spaces). */
static char *fill(const char *tpl, const char *classname)
{
    const char *hole = strstr(tpl, "{}");
    char *name = coop_strdup(classname);
    for (char *c = name; c && *c; c++)
        if (*c == '_')
            *c = ' ';
    char *out = !name ? NULL
                : hole ? coop_asprintf("%.*s%s%s", (int)(hole - tpl), tpl, name, hole + 2)
                       : coop_asprintf("%s", tpl);
    free(name);
    return out;
}

/* Features of classes [k0, k0 + n) into p->hand. */
static int encode_chunk(struct coop_prompt *p, const char *const *names, int k0, int n,
                        float *emb, int32_t *ids, int *eot, struct coop_err *e)
{
    const struct coop_backbone_ops *ops = p->bb.ops;
    const size_t row = (size_t)p->L * p->D;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        char *text = fill(p->template_text, names[k0 + i]);
        if (!text)
            rc = coop_fail(e, COOP_E_NOMEM, "out of memory");
        else if ((rc = ops->tokenize(p->bb.bb, text, false, ids, &eot[i], e)) == 0)
            rc = ops->token_embed(p->bb.bb, ids, p->L, emb + (size_t)i * row, e);
        if (rc && text)
            coop_fail_prefix(e, rc, "kgcoop: hand-crafted prompt \"%s\"", text);
        free(text);
    }
    float *feat = p->hand + (size_t)k0 * p->E;
    if (rc == 0)
        rc = ops->text_forward(p->bb.bb, emb, eot, n, 0, feat, NULL, e);
    if (rc == 0)
        coop_l2norm_forward(feat, NULL, feat, n, p->E);
    return rc;
}

int kgcoop_hand_features(struct coop_prompt *p, const char *const *names, int K,
                         struct coop_err *e)
{
    coop_free(p->hand);
    p->hand = coop_alloc_floats((size_t)K * p->E);
    float *emb = coop_alloc_floats((size_t)CHUNK * p->L * p->D);
    int32_t *ids = calloc((size_t)p->L, sizeof *ids);
    int *eot = calloc(CHUNK, sizeof *eot);
    int rc = p->hand && emb && ids && eot ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (int k = 0; k < K && rc == 0; k += CHUNK)
        rc = encode_chunk(p, names, k, K - k < CHUNK ? K - k : CHUNK, emb, ids, eot, e);
    coop_free(emb);
    free(ids);
    free(eot);
    return rc;
}

/* value += lambda (1 - mean_k t_k . h_k); dtext_k += -lambda / K h_k. The
 * official code's CosineSimilarity renormalises t_k; t_k is unit already, and
 * the radial part of its gradient is removed by the normalisation's backward. */
int kgcoop_loss(struct coop_prompt *p, const float *text, int K, int E, double *value,
                float *dtext, struct coop_err *e)
{
    if (K != p->K || E != p->E || !p->hand)
        return coop_fail(e, COOP_E_INVAL, "kgcoop: loss for %d classes of width %d, prompts "
                                          "built for %d of width %d", K, E, p->K, p->E);
    double cos = 0;
    const float g = (float)(-p->lambda / K);
    for (int k = 0; k < K; k++) {
        const float *t = text + (size_t)k * E, *h = p->hand + (size_t)k * E;
        double dot = 0;
        for (int i = 0; i < E; i++) {
            dot += (double)t[i] * h[i];
            dtext[(size_t)k * E + i] += g * h[i];
        }
        cos += dot;
    }
    *value += p->lambda * (1.0 - cos / K);
    return 0;
}
