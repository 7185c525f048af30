/* train.c: the pretraining loop. A fresh batch of world scenes per step
 * (rendered, normalised, captioned, tokenised in parallel), the text and
 * ViT towers forward, L2 normalisation, symmetric InfoNCE, both towers
 * backward with weight gradients, AdamW over every OpenAI-named tensor
 * (decay by coop_pretrain_decays) with the cosine schedule, logit_scale
 * clamped to [0, ln 100]. Also learns the BPE vocabulary from captions. */
#include "coop/checkpoint.h"
#include "coop/image.h"
#include "coop/nn.h"
#include "coop/pretrain.h"
#include "coop/train.h"
#include "coop/util.h"
#include "pretrain_internal.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LN100 4.605170186f

/* A draw in [0, 1) from a 64-bit hash (53 bits). */
static double unit_draw(uint64_t h)
{
    return (double)(h >> 11) * 0x1.0p-53;
}

int coop_pretrain_scene(struct coop_world_scene *s, const struct coop_pretrain_config *c,
                        uint64_t stream, uint64_t i, struct coop_err *e)
{
    uint64_t seed = coop_mix64(stream ^ coop_mix64(i + 1));
    struct coop_world_constraints k;
    coop_world_constraints_default(&k);
    double u = unit_draw(coop_mix64(seed ^ 0x5bd1e995u));
    if (u < c->sketch_fraction) {
        k.style = COOP_WORLD_STYLE_SKETCH;
        k.ink_in_colour = (coop_mix64(seed) & 1) != 0;
    } else if (u < c->sketch_fraction + c->rendition_fraction) {
        k.style = COOP_WORLD_STYLE_RENDITION;
    }
    int rc = coop_world_scene_sample(s, &k, seed, e);
    double v = unit_draw(coop_mix64(seed ^ 0xc2b2ae35u));
    if (rc == 0 && v < c->cooccurrence) {
        /* the web's co-occurrence: this kind in its usual colour */
        k.shape = s->main.shape;
        k.colour = coop_world_typical_colour(k.shape);
        rc = coop_world_scene_sample(s, &k, seed, e);
    }
    return rc;
}

int coop_pretrain_pixels(float *out, const struct coop_world_scene *sc, int S, int ss,
                         struct coop_err *e)
{
    uint8_t *rgb = malloc((size_t)S * S * 3);
    int rc = rgb ? 0 : coop_fail(e, COOP_E_NOMEM, "pretrain: out of memory");
    rc = rc ? rc : coop_world_render(rgb, sc, S, ss, e);
    if (rc == 0)
        coop_image_normalize(out, rgb, S, coop_clip_mean, coop_clip_std);
    free(rgb);
    return rc;
}

/* Removes the style phrase that buf starts with, when there is one. */
static void drop_style_phrase(char *buf, int style)
{
    size_t n = coop_world_style_phrase(buf, style);
    if (n)
        memmove(buf, buf + n, strlen(buf + n) + 1);
}

/* Content-free words of web alt text (file names, site boilerplate): they
 * say nothing of the image, so a text tower trained with them learns to read
 * a description past tokens that carry no meaning, as a learned context is. */
static const char *const noise_words[] = {
    "img", "dsc", "jpg", "png", "hd", "hq", "stock", "free", "download", "wallpaper",
    "thumbnail", "copyright", "royalty", "vector", "upload", "file", "page", "view", "best",
    "top", "new", "cool", "cute", "click", "here", "com", "www", "via"};
#define N_NOISE_WORDS (sizeof noise_words / sizeof noise_words[0])

/* With probability c->caption_noise, 1-6 noise words (a word or a 1-4 digit
 * number each) before the caption or after it, from draws of their own. */
static void add_noise(char *buf, size_t len, const struct coop_pretrain_config *c,
                      uint64_t stream, uint64_t idx)
{
    uint64_t h = coop_mix64(stream ^ coop_mix64(idx ^ 0x4015E30D5ULL));
    if (!(unit_draw(h) < c->caption_noise))
        return;
    char words[128];
    size_t n = 0;
    int k = 1 + (int)(coop_mix64(h + 1) % 6);
    for (int i = 0; i < k; i++) {
        uint64_t r = coop_mix64(h + 2 + (uint64_t)i);
        if (r % 4 == 0)
            n += (size_t)snprintf(words + n, sizeof words - n, "%s%u", i ? " " : "",
                                  (unsigned)(r >> 8) % (r & 16 ? 10000u : 100u));
        else
            n += (size_t)snprintf(words + n, sizeof words - n, "%s%s", i ? " " : "",
                                  noise_words[(r >> 8) % N_NOISE_WORDS]);
    }
    size_t m = strlen(buf);
    if (m + n + 2 > len)
        return;
    if (coop_mix64(h + 9) & 1) { /* after */
        snprintf(buf + m, len - m, " %s", words);
    } else {
        memmove(buf + n + 1, buf, m + 1);
        memcpy(buf, words, n);
        buf[n] = ' ';
    }
}

/* The caption before its noise: one or two descriptions, style phrase or not. */
static int describe(char *buf, size_t len, const struct coop_world_scene *sc,
                    const struct coop_pretrain_config *c, uint64_t stream, uint64_t idx,
                    struct coop_err *e)
{
    if (len < 2 * COOP_WORLD_CAPTION_MAX)
        return coop_fail(e, COOP_E_INVAL, "pretrain: caption buffer of %zu bytes is too small",
                         len);
    /* own draws, so that the defaults (long_captions 0, style_words 1) give
     * exactly the one-caption stream */
    double u = unit_draw(coop_mix64(stream ^ coop_mix64(idx ^ 0x10C0A7105ULL)));
    double w = unit_draw(coop_mix64(stream ^ coop_mix64(idx ^ 0x57E1E5A7ULL)));
    int silent = sc->style != COOP_WORLD_STYLE_PHOTO && !(w < c->style_words);
    int rc = coop_world_caption(buf, COOP_WORLD_CAPTION_MAX, sc, coop_mix64(stream ^ ~idx), e);
    if (rc == 0 && silent)
        drop_style_phrase(buf, sc->style);
    if (rc || !(u < c->long_captions))
        return rc;
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] != '.')
        buf[n++] = '.';
    buf[n++] = ' ';
    rc = coop_world_caption(buf + n, len - n, sc, coop_mix64(stream ^ ~idx ^ 0x5EC0DCA97105ULL), e);
    if (rc == 0 && silent)
        drop_style_phrase(buf + n, sc->style);
    return rc;
}

int coop_pretrain_caption(char *buf, size_t len, const struct coop_world_scene *sc,
                          const struct coop_pretrain_config *c, uint64_t stream, uint64_t idx,
                          struct coop_err *e)
{
    int rc = describe(buf, len, sc, c, stream, idx, e);
    if (rc == 0)
        add_noise(buf, len, c, stream, idx);
    return rc;
}

int coop_pretrain_vocab(const struct coop_pretrain_config *c, const char *gz_path,
                        struct coop_err *e)
{
    struct coop_bpe_learner *l;
    int rc = coop_pretrain_config_check(c, e);
    rc = rc ? rc : coop_bpe_learner_new(&l, e);
    if (rc)
        return rc;
    uint64_t stream = coop_seed_derive(c->seed, "pretrain/bpe");
    for (int i = 0; rc == 0 && i < c->bpe_captions; i++) {
        struct coop_world_scene s;
        char cap[COOP_WORLD_CAPTION_MAX];
        rc = coop_pretrain_scene(&s, c, stream, (uint64_t)i, e);
        rc = rc ? rc : coop_world_caption(cap, sizeof cap, &s, coop_mix64(stream + (uint64_t)i), e);
        rc = rc ? rc : coop_bpe_learner_add(l, cap, 1, e);
    }
    rc = rc ? rc : coop_bpe_learner_learn(l, c->bpe_merges, c->bpe_min_count, e);
    rc = rc ? rc : coop_bpe_learner_write(l, gz_path, "#version: 0.2 coop world BPE", e);
    coop_bpe_learner_free(l);
    return rc;
}

/* ---- model and optimiser state ---------------------------------------------- */
struct pt {
    struct coop_clip_model m, g;       /* parameters, gradients (same layout) */
    float *text_arena, *gtext_arena;
    void *vit_mem, *gvit_mem;
    size_t vit_n;
    struct coop_clip_tensor_ref *pr, *gr;
    size_t nref;
    float *mom, *var;                  /* AdamW moments, concatenated over refs */
    size_t *off;
};

static void pt_free(struct pt *s)
{
    coop_clip_tensor_refs_free(s->pr, s->nref);
    coop_clip_tensor_refs_free(s->gr, s->nref);
    coop_clip_text_free(&s->m.text, s->text_arena);
    coop_clip_text_free(&s->g.text, s->gtext_arena);
    coop_free(s->vit_mem);
    coop_free(s->gvit_mem);
    coop_free(s->mom);
    coop_free(s->var);
    free(s->off);
}

/* Seeded towers, then CLIP's conventions: LayerNorm gains 1, biases 0. */
static void pt_init(struct pt *s, const struct coop_pretrain_config *c)
{
    coop_clip_text_init_random(&s->m.text, coop_seed_derive(c->seed, "pretrain/text"));
    coop_clip_vit_init_hash(&s->m.vit, coop_seed_derive(c->seed, "pretrain/vision"));
    for (size_t i = 0; i < s->nref; i++) {
        float *p = (float *)s->pr[i].data;
        size_t n = 1;
        for (int d = 0; d < s->pr[i].ndim; d++)
            n *= (size_t)s->pr[i].shape[d];
        const char *nm = s->pr[i].name;
        if (coop_str_ends_with(nm, "bias") || coop_str_ends_with(nm, "_b"))
            memset(p, 0, n * sizeof *p);
        else if (strstr(nm, "ln_") && coop_str_ends_with(nm, "weight"))
            for (size_t k = 0; k < n; k++)
                p[k] = 1.0f;
    }
    s->m.logit_scale = (float)c->init_logit_scale;
}

static int pt_alloc(struct pt *s, const struct coop_pretrain_config *c, int V, struct coop_err *e)
{
    memset(s, 0, sizeof *s);
    int th = c->text_width / 64, vh = c->vision_width / 64;
    size_t gn;
    int rc = coop_clip_text_alloc(&s->m.text, c->context_length, V, c->text_width, th,
                                  c->text_layers, c->embed_dim, &s->text_arena, e);
    rc = rc ? rc : coop_clip_vit_alloc(&s->m.vit, &s->vit_mem, &s->vit_n, c->image_size,
                                      c->patch_size, c->vision_width, c->vision_layers, vh,
                                      c->embed_dim, e);
    rc = rc ? rc : coop_clip_text_grads_alloc(&s->g.text, &s->m.text, &s->gtext_arena, e);
    rc = rc ? rc : coop_clip_vit_grads_alloc(&s->g.vit, &s->gvit_mem, &gn, &s->m.vit, e);
    if (rc)
        return rc;
    s->m.vision_kind = s->g.vision_kind = COOP_CLIP_VISION_VIT;
    snprintf(s->m.arch, sizeof s->m.arch, "world-clip ViT-%d/%d", c->image_size, c->patch_size);
    size_t ng;
    rc = coop_clip_model_tensors(&s->m, &s->pr, &s->nref, e);
    rc = rc ? rc : coop_clip_model_tensors(&s->g, &s->gr, &ng, e);
    if (rc)
        return rc;
    if (ng != s->nref)
        return coop_fail(e, COOP_E_INVAL, "pretrain: gradient layout differs from the model's");
    s->off = malloc((s->nref + 1) * sizeof *s->off);
    if (!s->off)
        return coop_fail(e, COOP_E_NOMEM, "pretrain: out of memory");
    s->off[0] = 0;
    for (size_t i = 0; i < s->nref; i++) {
        size_t n = 1;
        for (int d = 0; d < s->pr[i].ndim; d++)
            n *= (size_t)s->pr[i].shape[d];
        s->off[i + 1] = s->off[i] + n;
    }
    s->mom = coop_alloc_floats(s->off[s->nref]);
    s->var = coop_alloc_floats(s->off[s->nref]);
    if (!s->mom || !s->var)
        return coop_fail(e, COOP_E_NOMEM, "pretrain: out of memory for AdamW state");
    memset(s->mom, 0, s->off[s->nref] * sizeof *s->mom);
    memset(s->var, 0, s->off[s->nref] * sizeof *s->var);
    pt_init(s, c);
    return 0;
}

/* ---- one batch ------------------------------------------------------------------ */
struct batch {
    int B, L, S;
    float *pix;        /* [B, 3, S, S] */
    int32_t *ids;      /* [B, L] */
    int *eot;          /* [B] */
    float *emb, *demb; /* [B, L, W] */
    float *tf, *vf, *tn, *vn, *dtn, *dvn, *dtf, *dvf; /* [B, E] */
    float *tnorm, *vnorm;                               /* [B] */
    struct coop_clip_text_tape *tt; /* the towers' tapes, reused from step to step */
    struct coop_clip_vit_tape *vt;
};

static int make_batch(struct batch *b, const struct coop_pretrain_config *c,
                      const struct coop_tokenizer *tok, long step, struct coop_err *e)
{
    int S = b->S, failed = 0;
    uint64_t stream = coop_seed_derive(c->seed, "pretrain/train");
    struct coop_err first = {{0}};
#pragma omp parallel for schedule(dynamic, 4)
    for (int i = 0; i < b->B; i++) {
        struct coop_err le;
        struct coop_world_scene sc;
        char cap[2 * COOP_WORLD_CAPTION_MAX];
        uint64_t idx = (uint64_t)step * (uint64_t)b->B + (uint64_t)i;
        uint64_t scene = c->data_pool > 0 ? idx % (uint64_t)c->data_pool : idx;
        int rc = coop_pretrain_scene(&sc, c, stream, scene, &le);
        rc = rc ? rc : coop_pretrain_pixels(b->pix + (size_t)i * 3 * S * S, &sc, S,
                                            c->supersample, &le);
        rc = rc ? rc : coop_pretrain_caption(cap, sizeof cap, &sc, c, stream, idx, &le);
        rc = rc ? rc : coop_tokenizer_tokenize(tok, cap, b->L, true, b->ids + (size_t)i * b->L,
                                               &b->eot[i], &le);
        if (rc) {
#pragma omp critical
            if (!failed) {
                failed = rc;
                first = le;
            }
        }
    }
    if (failed && e)
        *e = first;
    return failed;
}

static void batch_free(struct batch *b)
{
    float *f[] = {b->pix, b->emb, b->demb, b->tf, b->vf, b->tn, b->vn, b->dtn, b->dvn, b->dtf,
                  b->dvf, b->tnorm, b->vnorm};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        coop_free(f[i]);
    free(b->ids);
    free(b->eot);
    coop_clip_text_tape_free(b->tt);
    coop_clip_vit_tape_free(b->vt);
}

static int batch_alloc(struct batch *b, const struct coop_pretrain_config *c, struct coop_err *e)
{
    memset(b, 0, sizeof *b);
    size_t B = (size_t)c->batch_size, E = (size_t)c->embed_dim;
    b->B = c->batch_size;
    b->L = c->context_length;
    b->S = c->image_size;
    b->pix = coop_alloc_floats(B * 3 * (size_t)b->S * (size_t)b->S);
    b->emb = coop_alloc_floats(B * (size_t)b->L * (size_t)c->text_width);
    b->demb = coop_alloc_floats(B * (size_t)b->L * (size_t)c->text_width);
    float **f[] = {&b->tf, &b->vf, &b->tn, &b->vn, &b->dtn, &b->dvn, &b->dtf, &b->dvf};
    bool ok = b->pix && b->emb && b->demb;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        ok = (*f[i] = coop_alloc_floats(B * E)) && ok;
    ok = (b->tnorm = coop_alloc_floats(B)) && ok;
    ok = (b->vnorm = coop_alloc_floats(B)) && ok;
    ok = (b->ids = malloc(B * (size_t)b->L * sizeof *b->ids)) && ok;
    ok = (b->eot = malloc(B * sizeof *b->eot)) && ok;
    return ok ? 0 : coop_fail(e, COOP_E_NOMEM, "pretrain: out of memory for the batch");
}

/* Forward, loss, backward into s->g (zeroed first); returns the loss. */
static int train_step(struct pt *s, struct batch *b, double *loss, struct coop_err *e)
{
    const struct coop_clip_text *t = &s->m.text;
    int B = b->B, L = b->L, W = t->width, E = t->embed_dim;
    memset(s->gtext_arena, 0,
           coop_clip_text_size(L, t->vocab_size, W, t->layers, E) * sizeof(float));
    memset(s->g.vit.conv1_w, 0, s->vit_n * sizeof(float));
    for (size_t k = 0; k < (size_t)B * L; k++)
        memcpy(b->emb + k * W, t->token_embedding + (size_t)b->ids[k] * W, W * sizeof(float));
    int rc = coop_clip_text_forward_reuse(t, b->emb, b->eot, B, 0, b->tf, &b->tt, e);
    rc = rc ? rc : coop_clip_vit_forward_reuse(&s->m.vit, b->pix, B, b->vf, &b->vt, e);
    if (rc == 0) {
        coop_l2norm_forward(b->tn, b->tnorm, b->tf, B, E);
        coop_l2norm_forward(b->vn, b->vnorm, b->vf, B, E);
        float ds = 0;
        *loss = coop_infonce(b->dvn, b->dtn, &ds, b->vn, b->tn, s->m.logit_scale, B, E);
        if (!isfinite(*loss)) /* coop_infonce's NaN also means out of memory */
            rc = coop_fail(e, isnan(*loss) ? COOP_E_NOMEM : COOP_E_INVAL,
                           "pretrain: the loss is %g (diverged, or out of memory): lower lr",
                           *loss);
        s->g.logit_scale = ds;
        memset(b->dtf, 0, (size_t)B * E * sizeof(float));
        memset(b->dvf, 0, (size_t)B * E * sizeof(float));
        coop_l2norm_backward(b->dtf, b->dtn, b->tn, b->tnorm, B, E);
        coop_l2norm_backward(b->dvf, b->dvn, b->vn, b->vnorm, B, E);
    }
    if (rc == 0) {
        memset(b->demb, 0, (size_t)B * L * W * sizeof(float));
        rc = coop_clip_text_backward(t, b->tt, b->dtf, b->demb, &s->g.text, e);
    }
    rc = rc ? rc : coop_clip_vit_backward(&s->m.vit, b->vt, b->dvf, NULL, &s->g.vit, e);
    for (int i = 0; rc == 0 && i < B; i++)
        for (int l = 0; l <= b->eot[i]; l++) {
            float *d = s->g.text.token_embedding + (size_t)b->ids[(size_t)i * L + l] * W;
            const float *g = b->demb + ((size_t)i * L + l) * W;
            for (int c = 0; c < W; c++)
                d[c] += g[c];
        }
    return rc;
}

static void optim_step(struct pt *s, const struct coop_pretrain_config *c, double lr, long t)
{
    struct coop_adamw h = {(float)c->beta1, (float)c->beta2, (float)c->eps};
    for (size_t i = 0; i < s->nref; i++) {
        float wd = coop_pretrain_decays_with(s->pr[i].name, s->pr[i].ndim, c->decay_embeddings)
                       ? (float)c->weight_decay
                       : 0;
        coop_adamw_update((float *)s->pr[i].data, s->mom + s->off[i], s->var + s->off[i],
                          s->gr[i].data, s->off[i + 1] - s->off[i], &h, (float)lr, wd, t);
    }
    if (s->m.logit_scale > LN100)
        s->m.logit_scale = LN100;
    if (s->m.logit_scale < 0)
        s->m.logit_scale = 0;
}

/* ---- state for tests and the loop (pretrain_internal.h) ------------------------- */
struct coop_pretrain_state {
    struct pt pt;
    struct batch b;
    const struct coop_pretrain_config *c;
    const struct coop_tokenizer *tok;
};

int coop_pretrain_state_new(struct coop_pretrain_state **out, const struct coop_pretrain_config *c,
                            const struct coop_tokenizer *tok, struct coop_err *e)
{
    *out = NULL;
    int rc = coop_pretrain_config_check(c, e);
    if (rc)
        return rc;
    struct coop_pretrain_state *s = calloc(1, sizeof *s);
    if (!s)
        return coop_fail(e, COOP_E_NOMEM, "pretrain: out of memory");
    s->c = c;
    s->tok = tok;
    rc = pt_alloc(&s->pt, c, coop_tokenizer_vocab_size(tok), e);
    rc = rc ? rc : batch_alloc(&s->b, c, e);
    if (rc) {
        coop_pretrain_state_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void coop_pretrain_state_free(struct coop_pretrain_state *s)
{
    if (!s)
        return;
    batch_free(&s->b);
    pt_free(&s->pt);
    free(s);
}

int coop_pretrain_state_batch(struct coop_pretrain_state *s, long step, struct coop_err *e)
{
    return make_batch(&s->b, s->c, s->tok, step, e);
}

int coop_pretrain_state_grad(struct coop_pretrain_state *s, double *loss, struct coop_err *e)
{
    return train_step(&s->pt, &s->b, loss, e);
}

void coop_pretrain_state_step(struct coop_pretrain_state *s, double lr, long t)
{
    optim_step(&s->pt, s->c, lr, t);
}

struct coop_clip_model *coop_pretrain_state_model(struct coop_pretrain_state *s)
{
    return &s->pt.m;
}

struct coop_clip_model *coop_pretrain_state_grads(struct coop_pretrain_state *s)
{
    return &s->pt.g;
}

int coop_pretrain_run(const struct coop_pretrain_config *c, const struct coop_tokenizer *tok,
                      const char *out_path, coop_pretrain_cb cb, void *ud, double *final_loss,
                      struct coop_err *e)
{
    struct coop_pretrain_state *s;
    int rc = coop_pretrain_state_new(&s, c, tok, e);
    if (rc)
        return rc;
    double t0 = coop_now(), acc = 0, last = NAN, tdata = 0;
    int nacc = 0;
    for (long step = 0; rc == 0 && step < c->steps; step++) {
        double loss = 0, lr = coop_cosine_lr(c->lr, step, c->warmup, c->steps);
        double td = coop_now();
        rc = coop_pretrain_state_batch(s, step, e);
        tdata += coop_now() - td;
        rc = rc ? rc : coop_pretrain_state_grad(s, &loss, e);
        if (rc) {
            coop_fail_prefix(e, rc, "step %ld", step + 1);
            break;
        }
        coop_pretrain_state_step(s, lr, step + 1);
        acc += loss;
        nacc++;
        if ((step + 1) % c->log_every == 0 || step + 1 == c->steps) {
            last = acc / nacc;
            struct coop_pretrain_progress p = {step + 1, c->steps, last, lr,
                                               (double)s->pt.m.logit_scale, coop_now() - t0,
                                               tdata, &s->pt.m};
            acc = 0;
            nacc = 0;
            if (cb && cb(ud, &p))
                break;
        }
    }
    if (nacc)
        last = acc / nacc;
    if (final_loss)
        *final_loss = last;
    rc = rc ? rc : coop_clip_model_save(&s->pt.m, out_path, e);
    coop_pretrain_state_free(s);
    return rc;
}
