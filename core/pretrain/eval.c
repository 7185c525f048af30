/* eval.c: zero-shot and few-shot quality of a CLIP model on one world task:
 * zero-shot with the task's own template on the test split, and
 * nearest-class-mean over `shots` labelled train images per class; and the
 * text tower's speed on CoOp-shaped prompts (coop-pretrain --eval). */
#include "coop/nn.h"
#include "coop/pretrain.h"
#include "coop/util.h"
#include "pretrain_internal.h"
#include <stdlib.h>
#include <string.h>

/* feat [n, E] normalised features of items [0, n) of split (labels into y). */
static int encode_split(float *feat, int *y, const struct coop_clip_model *m,
                        const struct coop_world_task *task, const struct coop_world_config *wc,
                        int split, size_t n, struct coop_err *e)
{
    int S = m->vit.image_size, E = m->vit.embed_dim;
    const size_t chunk = 256;
    float *pix = coop_alloc_floats(chunk * 3 * (size_t)S * S), *raw = coop_alloc_floats(chunk * E),
          *nrm = coop_alloc_floats(chunk);
    int rc = pix && raw && nrm ? 0 : coop_fail(e, COOP_E_NOMEM, "eval: out of memory");
    for (size_t c0 = 0; rc == 0 && c0 < n; c0 += chunk) {
        int nb = (int)(n - c0 < chunk ? n - c0 : chunk), failed = 0;
        struct coop_err first = {{0}};
#pragma omp parallel for schedule(dynamic, 4)
        for (int i = 0; i < nb; i++) {
            struct coop_err le;
            struct coop_world_scene sc;
            int r = coop_world_task_item(task, wc, split, c0 + (size_t)i, &sc, &y[c0 + i], &le);
            r = r ? r : coop_pretrain_pixels(pix + (size_t)i * 3 * S * S, &sc, S, wc->supersample,
                                             &le);
            if (r) {
#pragma omp critical
                if (!failed) {
                    failed = r;
                    first = le;
                }
            }
        }
        if (failed) {
            *e = first;
            rc = failed;
        }
        rc = rc ? rc : coop_clip_encode_images(m, pix, nb, raw, e);
        if (rc == 0)
            coop_l2norm_forward(feat + c0 * E, nrm, raw, nb, E);
    }
    coop_free(pix);
    coop_free(raw);
    coop_free(nrm);
    return rc;
}

/* Class-prompt features [K, E], normalised. */
static int encode_prompts(float *tf, const struct coop_clip_model *m,
                          const struct coop_tokenizer *tok, const struct coop_world_task *task,
                          int K, struct coop_err *e)
{
    int L = m->text.context_length, E = m->text.embed_dim;
    int32_t *ids = malloc((size_t)K * L * sizeof *ids);
    float *raw = coop_alloc_floats((size_t)K * E), *nrm = coop_alloc_floats((size_t)K);
    int rc = ids && raw && nrm ? 0 : coop_fail(e, COOP_E_NOMEM, "eval: out of memory");
    const char *tpl = coop_world_task_template(task), *hole = strstr(tpl, "{}");
    for (int k = 0; rc == 0 && k < K; k++) {
        char name[128];
        coop_world_task_class_name(task, k, name, sizeof name);
        char *p = hole ? coop_asprintf("%.*s%s%s", (int)(hole - tpl), tpl, name, hole + 2)
                       : coop_asprintf("%s %s", tpl, name);
        rc = p ? coop_tokenizer_tokenize(tok, p, L, true, ids + (size_t)k * L, NULL, e)
               : coop_fail(e, COOP_E_NOMEM, "eval: out of memory");
        free(p);
    }
    rc = rc ? rc : coop_clip_text_encode_ids(&m->text, ids, K, raw, e);
    if (rc == 0)
        coop_l2norm_forward(tf, nrm, raw, K, E);
    free(ids);
    coop_free(raw);
    coop_free(nrm);
    return rc;
}

/* Share of rows of feat [n, E] whose best class in cls [K, E] is y. */
static double accuracy(const float *feat, const int *y, size_t n, const float *cls, int K, int E)
{
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        int best = 0;
        float bv = -1e30f;
        for (int k = 0; k < K; k++) {
            float d = 0;
            for (int c = 0; c < E; c++)
                d += feat[i * E + c] * cls[(size_t)k * E + c];
            if (d > bv) {
                bv = d;
                best = k;
            }
        }
        ok += best == y[i];
    }
    return n ? (double)ok / (double)n : 0;
}

int coop_pretrain_evaluate(struct coop_pretrain_eval *out, const struct coop_clip_model *m,
                           const struct coop_tokenizer *tok, const struct coop_world_task *task,
                           const struct coop_world_config *wc, int shots, struct coop_err *e)
{
    memset(out, 0, sizeof *out);
    if (m->vision_kind != COOP_CLIP_VISION_VIT)
        return coop_fail(e, COOP_E_UNSUPPORTED, "eval: only ViT models are evaluated");
    int K = coop_world_task_num_classes(task), E = m->vit.embed_dim;
    size_t n = coop_world_task_split_size(task, wc, 2);
    size_t ntr = (size_t)K * (size_t)shots;
    if (shots < 1 || ntr > coop_world_task_split_size(task, wc, 0))
        return coop_fail(e, COOP_E_INVAL, "eval: %d shots exceed the train split of %s", shots,
                         coop_world_task_name(task));
    float *tf = coop_alloc_floats((size_t)K * E), *te = coop_alloc_floats(n * E),
          *tr = coop_alloc_floats(ntr * E), *mu = coop_alloc_floats((size_t)K * E),
          *nrm = coop_alloc_floats((size_t)K);
    int *y = malloc(n * sizeof *y), *ytr = malloc(ntr * sizeof *ytr);
    int rc = tf && te && tr && mu && nrm && y && ytr
                 ? 0 : coop_fail(e, COOP_E_NOMEM, "eval: out of memory");
    rc = rc ? rc : encode_prompts(tf, m, tok, task, K, e);
    rc = rc ? rc : encode_split(te, y, m, task, wc, 2, n, e);
    rc = rc ? rc : encode_split(tr, ytr, m, task, wc, 0, ntr, e);
    if (rc == 0) {
        memset(mu, 0, (size_t)K * E * sizeof *mu);
        for (size_t i = 0; i < ntr; i++)
            for (int c = 0; c < E; c++)
                mu[(size_t)ytr[i] * E + c] += tr[i * E + c];
        float *mn = coop_alloc_floats((size_t)K * E);
        if (!mn) {
            rc = coop_fail(e, COOP_E_NOMEM, "eval: out of memory");
        } else {
            coop_l2norm_forward(mn, nrm, mu, K, E);
            out->num_classes = K;
            out->n_test = n;
            out->zeroshot = accuracy(te, y, n, tf, K, E);
            out->ncm = accuracy(te, y, n, mn, K, E);
            coop_free(mn);
        }
    }
    coop_free(tf);
    coop_free(te);
    coop_free(tr);
    coop_free(mu);
    coop_free(nrm);
    free(y);
    free(ytr);
    return rc;
}

int coop_pretrain_time_text(const struct coop_clip_text *t, int K, int eotpos, int prefix,
                            double *ms, struct coop_err *e)
{
    size_t n = (size_t)K * t->context_length * t->width;
    float *emb = coop_alloc_floats(n), *demb = coop_alloc_floats(n),
          *f = coop_alloc_floats((size_t)K * t->embed_dim),
          *df = coop_alloc_floats((size_t)K * t->embed_dim);
    int *eot = malloc((size_t)K * sizeof *eot);
    int rc = emb && demb && f && df && eot ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
    const int reps = 20;
    if (rc == 0) {
        coop_hash_uniform(emb, n, 7, -0.03, 0.03);
        for (int k = 1; k < K; k++) /* shared prefix rows identical */
            memcpy(emb + (size_t)k * t->context_length * t->width, emb,
                   (size_t)prefix * t->width * sizeof(float));
        coop_hash_uniform(df, (size_t)K * t->embed_dim, 8, -1, 1);
        for (int k = 0; k < K; k++)
            eot[k] = eotpos;
    }
    double t0 = coop_now();
    for (int r = 0; rc == 0 && r < reps; r++) {
        struct coop_clip_text_tape *tape = NULL;
        rc = coop_clip_text_forward(t, emb, eot, K, prefix, f, &tape, e);
        memset(demb, 0, n * sizeof *demb);
        rc = rc ? rc : coop_clip_text_backward(t, tape, df, demb, NULL, e);
        coop_clip_text_tape_free(tape);
    }
    *ms = (coop_now() - t0) * 1000.0 / reps;
    coop_free(emb);
    coop_free(demb);
    coop_free(f);
    coop_free(df);
    free(eot);
    return rc;
}
