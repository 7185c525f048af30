/* test_pretrain.c: the pretraining pieces (InfoNCE and AdamW are tested with
 * the kernels and optimisers, tests/nn and tests/train): the decay rule, the BPE learner (exact
 * merges on a tiny corpus, loading with the project's tokenizer and with
 * OpenAI's CLIP's reading rules, round trip of world captions), the config format, the stream's co-occurrence share, and a tiny pretraining run that
 * lowers the loss and writes a checkpoint the loader reads back unchanged. */
#include "coop/checkpoint.h"
#include "coop/pretrain.h"
#include "coop/util.h"
#include "pretrain/pretrain_internal.h"
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../common/check_run.h"
#include "../common/clip_reading.h"
#include "../common/tmpdir.h"

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* The defaults with key = value are read, and then refused by the range check,
 * with the key in the message. */
static void expect_check_refuses(const char *key, const char *value)
{
    struct coop_pretrain_config c;
    struct coop_err e;
    coop_pretrain_config_default(&c);
    ck_assert_int_eq(coop_pretrain_config_set(&c, key, value, &e), 0);
    ck_assert_int_eq(coop_pretrain_config_check(&c, &e), COOP_E_INVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, key));
}

START_TEST(decay_rule)
{
    ck_assert(coop_pretrain_decays("transformer.resblocks.0.attn.in_proj_weight", 2));
    ck_assert(coop_pretrain_decays("visual.conv1.weight", 4));
    ck_assert(coop_pretrain_decays("text_projection", 2));
    ck_assert(coop_pretrain_decays("visual.proj", 2));
    ck_assert(!coop_pretrain_decays("token_embedding.weight", 2));
    ck_assert(!coop_pretrain_decays("positional_embedding", 2));
    ck_assert(!coop_pretrain_decays("visual.class_embedding", 1));
    ck_assert(!coop_pretrain_decays("transformer.resblocks.0.ln_1.weight", 1));
    ck_assert(!coop_pretrain_decays("visual.ln_post.weight", 1));
    ck_assert(!coop_pretrain_decays("transformer.resblocks.0.mlp.c_fc.bias", 1));
    ck_assert(!coop_pretrain_decays("logit_scale", 0));
    /* decay_embeddings: the token and position tables decay too, nothing else changes */
    ck_assert(coop_pretrain_decays_with("token_embedding.weight", 2, true));
    ck_assert(coop_pretrain_decays_with("positional_embedding", 2, true));
    ck_assert(coop_pretrain_decays_with("visual.positional_embedding", 2, true));
    ck_assert(!coop_pretrain_decays_with("visual.class_embedding", 1, true));
    ck_assert(!coop_pretrain_decays_with("positional_embedding", 2, false));
    ck_assert(!coop_pretrain_decays_with("visual.ln_post.weight", 1, true));
    ck_assert(!coop_pretrain_decays_with("logit_scale", 0, true));
    ck_assert(coop_pretrain_decays_with("visual.proj", 2, false));
    expect_check_refuses("decay_embeddings", "2");
}
END_TEST

/* ---- BPE learner -------------------------------------------------------------------- */
START_TEST(bpe_learns_expected_merges)
{
    struct coop_err e;
    struct coop_bpe_learner *l;
    ck_assert_int_eq(coop_bpe_learner_new(&l, &e), 0);
    ck_assert_int_eq(coop_bpe_learner_add(l, "Hug hug HUG pug", 1, &e), 0);
    ck_assert_int_eq(coop_bpe_learner_add(l, "pun", 1, &e), 0);
    /* min count 2: only the pairs seen at least twice */
    ck_assert_int_eq(coop_bpe_learner_learn(l, 100, 2, &e), 0);
    ck_assert_uint_eq(coop_bpe_learner_num_merges(l), 2);
    ck_assert_str_eq(coop_bpe_learner_merge(l, 0), "u g</w>");
    ck_assert_str_eq(coop_bpe_learner_merge(l, 1), "h ug</w>");
    /* the rest at count 1, ties broken by the smallest "a b" line */
    ck_assert_int_eq(coop_bpe_learner_learn(l, 100, 1, &e), 0);
    ck_assert_uint_eq(coop_bpe_learner_num_merges(l), 5);
    ck_assert_str_eq(coop_bpe_learner_merge(l, 2), "p u");
    ck_assert_str_eq(coop_bpe_learner_merge(l, 3), "p ug</w>");
    ck_assert_str_eq(coop_bpe_learner_merge(l, 4), "pu n</w>");
    ck_assert_ptr_null(coop_bpe_learner_merge(l, 5));

    const char *path = tmp_path("tiny.txt.gz");
    ck_assert_int_eq(coop_bpe_learner_write(l, path, NULL, &e), 0);
    coop_bpe_learner_free(l);
    struct coop_tokenizer *t;
    ck_assert_msg(coop_tokenizer_load(&t, path, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(coop_tokenizer_vocab_size(t), 512 + 5 + 2);
    ck_assert_int_eq(coop_tokenizer_sot(t), 517);
    ck_assert_int_eq(coop_tokenizer_eot(t), 518);
    ck_assert_str_eq(coop_tokenizer_token(t, 513), "hug</w>");
    int32_t *ids;
    size_t n;
    ck_assert_int_eq(coop_tokenizer_encode(t, "hug pun pug hup", &ids, &n, &e), 0);
    /* hup: h u p</w> has no merge -> three byte symbols */
    ck_assert_uint_eq(n, 6);
    ck_assert_int_eq(ids[0], 513);
    ck_assert_int_eq(ids[1], 516);
    ck_assert_int_eq(ids[2], 515);
    ck_assert_str_eq(coop_tokenizer_token(t, ids[3]), "h");
    ck_assert_str_eq(coop_tokenizer_token(t, ids[4]), "u");
    ck_assert_str_eq(coop_tokenizer_token(t, ids[5]), "p</w>");
    free(ids);
    coop_tokenizer_free(t);
}
END_TEST

static void strip_spaces(char *s)
{
    char *o = s;
    for (; *s; s++)
        if (*s != ' ')
            *o++ = *s;
    *o = '\0';
}

START_TEST(bpe_world_vocab_round_trips_captions)
{
    struct coop_err e;
    struct coop_pretrain_config c;
    coop_pretrain_config_default(&c);
    c.bpe_captions = getenv("COOP_VALGRIND") ? 300 : 3000;
    const char *path = tmp_path("world.txt.gz");
    ck_assert_msg(coop_pretrain_vocab(&c, path, &e) == 0, "%s", e.msg);
    struct coop_tokenizer *t;
    ck_assert_msg(coop_tokenizer_load(&t, path, &e) == 0, "%s", e.msg);
    ck_assert_int_gt(coop_tokenizer_vocab_size(t), 514);
    int whole = 0;
    for (int i = 0; i < 200; i++) {
        struct coop_world_constraints k;
        struct coop_world_scene s;
        char cap[COOP_WORLD_CAPTION_MAX];
        coop_world_constraints_default(&k);
        k.style = i % 3;
        ck_assert_int_eq(coop_world_scene_sample(&s, &k, 777 + (uint64_t)i, &e), 0);
        ck_assert_int_eq(coop_world_caption(cap, sizeof cap, &s, 99 + (uint64_t)i, &e), 0);
        int32_t *ids;
        size_t n;
        ck_assert_int_eq(coop_tokenizer_encode(t, cap, &ids, &n, &e), 0);
        char *back = coop_tokenizer_decode(t, ids, n), *norm = coop_tokenizer_normalize(cap);
        ck_assert_ptr_nonnull(back);
        strip_spaces(back);
        strip_spaces(norm);
        ck_assert_str_eq(back, norm);
        /* frequent words are single tokens */
        int32_t one[1];
        const char *w = coop_world_shape_name(s.main.shape);
        free(ids);
        ck_assert_int_eq(coop_tokenizer_encode(t, w, &ids, &n, &e), 0);
        whole += n == 1;
        one[0] = ids[0];
        (void)one;
        free(ids);
        free(back);
        free(norm);
    }
    ck_assert_int_ge(whole, getenv("COOP_VALGRIND") ? 100 : 190);
    coop_tokenizer_free(t);
}
END_TEST

/* ---- config ----------------------------------------------------------------------- */
START_TEST(config_file_and_errors)
{
    struct coop_err e;
    struct coop_pretrain_config c, d;
    coop_pretrain_config_default(&c);
    const char *p = tmp_path("a.conf");
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("# comment\n  steps = 123   # trailing\n\nlr=0.25\nseed = 9\n", f);
    fclose(f);
    ck_assert_int_eq(coop_pretrain_config_load(&c, p, &e), 0);
    ck_assert_int_eq(c.steps, 123);
    ck_assert_double_eq(c.lr, 0.25);
    ck_assert_uint_eq(c.seed, 9);
    ck_assert_int_eq(coop_pretrain_config_set(&c, "stepz", "1", &e), COOP_E_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(e.msg, "did you mean 'steps'"));
    ck_assert_int_eq(coop_pretrain_config_set(&c, "batch_size", "12x", &e), COOP_E_INVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "batch_size"));
    ck_assert_int_eq(coop_pretrain_config_set(&c, "text_width", "96", &e), 0);
    ck_assert_int_eq(coop_pretrain_config_check(&c, &e), COOP_E_INVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "multiple of 64"));
    /* dump -> load gives the same config */
    c.text_width = 128;
    char *dump = coop_pretrain_config_dump(&c);
    ck_assert_ptr_nonnull(dump);
    f = fopen(p, "w");
    fputs(dump, f);
    fclose(f);
    free(dump);
    coop_pretrain_config_default(&d);
    ck_assert_int_eq(coop_pretrain_config_load(&d, p, &e), 0);
    ck_assert_int_eq(memcmp(&c, &d, sizeof c), 0);
    f = fopen(p, "w");
    fputs("steps 5\n", f);
    fclose(f);
    ck_assert_int_eq(coop_pretrain_config_load(&d, p, &e), COOP_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, ":1:"));
}
END_TEST

/* ---- the pretraining stream's co-occurrence -------------------------------------------- */
/* Share of n stream scenes whose main object has its kind's typical colour. */
static double typical_share(double cooccurrence, int n)
{
    struct coop_pretrain_config c;
    coop_pretrain_config_default(&c);
    c.cooccurrence = cooccurrence;
    struct coop_err e;
    int typical = 0, per_shape[COOP_WORLD_NUM_SHAPES] = {0};
    for (int i = 0; i < n; i++) {
        struct coop_world_scene s;
        ck_assert_int_eq(coop_pretrain_scene(&s, &c, 77, (uint64_t)i, &e), 0);
        typical += s.main.colour == coop_world_typical_colour(s.main.shape);
        per_shape[s.main.shape]++;
    }
    for (int k = 0; k < COOP_WORLD_NUM_SHAPES; k++) /* kinds stay uniform */
        ck_assert_msg(fabs(per_shape[k] / (double)n - 1.0 / COOP_WORLD_NUM_SHAPES) < 0.025,
                      "shape %d share %g", k, per_shape[k] / (double)n);
    return typical / (double)n;
}

START_TEST(stream_cooccurrence_share)
{
    /* colours uniform over 10: P(typical) = rho + (1 - rho) / 10 */
    const int n = 3000;
    ck_assert_double_eq_tol(typical_share(0, n), 0.1, 0.02);
    ck_assert_double_eq_tol(typical_share(0.4, n), 0.46, 0.03);
    ck_assert_double_eq(typical_share(1, n), 1.0);
    ck_assert_int_eq(coop_world_typical_colour(COOP_WORLD_HEART), COOP_WORLD_RED);
    ck_assert_int_eq(coop_world_typical_colour(COOP_WORLD_NUM_SHAPES), -1);
    expect_check_refuses("cooccurrence", "1.5");
}
END_TEST

/* long_captions: 0 gives the world's one caption as before; 1 two
 * sentences about the same scene (the first is that caption); a share in
 * between is followed, and the result is deterministic. */
START_TEST(long_captions_share)
{
    struct coop_pretrain_config c;
    coop_pretrain_config_default(&c);
    ck_assert(c.long_captions == 0.5); /* the shipped recipe */
    struct coop_err e;
    const int n = 2000;
    int two = 0;
    for (int i = 0; i < n; i++) {
        struct coop_world_scene s;
        char one[COOP_WORLD_CAPTION_MAX], buf[2 * COOP_WORLD_CAPTION_MAX], again[sizeof buf];
        ck_assert_int_eq(coop_pretrain_scene(&s, &c, 77, (uint64_t)i, &e), 0);
        ck_assert_int_eq(coop_world_caption(one, sizeof one, &s, coop_mix64(77 ^ ~(uint64_t)i), &e),
                         0);
        c.long_captions = 0;
        ck_assert_int_eq(coop_pretrain_caption(buf, sizeof buf, &s, &c, 77, (uint64_t)i, &e), 0);
        ck_assert_str_eq(buf, one);
        c.long_captions = 1;
        ck_assert_int_eq(coop_pretrain_caption(buf, sizeof buf, &s, &c, 77, (uint64_t)i, &e), 0);
        ck_assert_int_eq(strncmp(buf, one, strlen(one)), 0);
        ck_assert_ptr_nonnull(strstr(buf + strlen(one), " "));
        ck_assert_uint_gt(strlen(buf), strlen(one) + 4);
        c.long_captions = 0.5;
        ck_assert_int_eq(coop_pretrain_caption(buf, sizeof buf, &s, &c, 77, (uint64_t)i, &e), 0);
        ck_assert_int_eq(coop_pretrain_caption(again, sizeof again, &s, &c, 77, (uint64_t)i, &e),
                         0);
        ck_assert_str_eq(buf, again);
        two += strcmp(buf, one) != 0;
        if (i == 0) /* a buffer for one caption only is refused */
            ck_assert_int_eq(coop_pretrain_caption(one, sizeof one, &s, &c, 77, 0, &e),
                             COOP_E_INVAL);
    }
    ck_assert_double_eq_tol(two / (double)n, 0.5, 0.04);
    expect_check_refuses("long_captions", "1.5");
}
END_TEST

/* style_words: 1 (the default) keeps every caption; 0 removes the style
 * phrase from every sketch and rendition caption that has one ("a sketch of
 * a star" -> "a star") and leaves photos alone; a share in between is
 * followed. */
START_TEST(style_words_share)
{
    struct coop_pretrain_config c;
    coop_pretrain_config_default(&c);
    ck_assert(c.style_words == 1);
    c.long_captions = 0;
    c.sketch_fraction = 0.3;
    c.rendition_fraction = 0.3;
    struct coop_err e;
    const int n = 3000;
    int phrased = 0, kept = 0, photos = 0;
    for (int i = 0; i < n; i++) {
        struct coop_world_scene s;
        char one[COOP_WORLD_CAPTION_MAX], buf[2 * COOP_WORLD_CAPTION_MAX];
        ck_assert_int_eq(coop_pretrain_scene(&s, &c, 91, (uint64_t)i, &e), 0);
        ck_assert_int_eq(coop_world_caption(one, sizeof one, &s, coop_mix64(91 ^ ~(uint64_t)i), &e),
                         0);
        size_t p = coop_world_style_phrase(one, s.style);
        c.style_words = 1;
        ck_assert_int_eq(coop_pretrain_caption(buf, sizeof buf, &s, &c, 91, (uint64_t)i, &e), 0);
        ck_assert_str_eq(buf, one);
        c.style_words = 0;
        ck_assert_int_eq(coop_pretrain_caption(buf, sizeof buf, &s, &c, 91, (uint64_t)i, &e), 0);
        ck_assert_str_eq(buf, one + p);
        ck_assert_uint_eq(coop_world_style_phrase(buf, s.style), 0);
        if (s.style == COOP_WORLD_STYLE_PHOTO) {
            ck_assert_uint_eq(p, 0);
            photos++;
            continue;
        }
        if (!p)
            continue;
        ck_assert(strstr(one, " of ") == one + p - 4); /* "a sketch of ", "a cartoon of " */
        phrased++;
        c.style_words = 0.5;
        ck_assert_int_eq(coop_pretrain_caption(buf, sizeof buf, &s, &c, 91, (uint64_t)i, &e), 0);
        ck_assert(strcmp(buf, one) == 0 || strcmp(buf, one + p) == 0);
        kept += strcmp(buf, one) == 0;
    }
    ck_assert_int_gt(photos, n / 4);
    ck_assert_int_gt(phrased, n / 3);
    ck_assert_double_eq_tol(kept / (double)phrased, 0.5, 0.05);
    expect_check_refuses("style_words", "-0.1");
}
END_TEST

/* caption_noise: 0 (the default) leaves every caption as it was; 1 puts 1-6
 * words of the noise list or numbers before or after every one of them, the
 * caption itself unchanged; a share in between is followed. */
START_TEST(caption_noise_share)
{
    static const char *const allowed[] = {
        "img", "dsc", "jpg", "png", "hd", "hq", "stock", "free", "download", "wallpaper",
        "thumbnail", "copyright", "royalty", "vector", "upload", "file", "page", "view", "best",
        "top", "new", "cool", "cute", "click", "here", "com", "www", "via", NULL};
    struct coop_pretrain_config c;
    coop_pretrain_config_default(&c);
    ck_assert(c.caption_noise == 0);
    struct coop_err e;
    const int n = 2000;
    int before = 0, after = 0, noisy = 0;
    for (int i = 0; i < n; i++) {
        struct coop_world_scene s;
        char plain[2 * COOP_WORLD_CAPTION_MAX], buf[2 * COOP_WORLD_CAPTION_MAX];
        ck_assert_int_eq(coop_pretrain_scene(&s, &c, 77, (uint64_t)i, &e), 0);
        c.caption_noise = 0;
        ck_assert_int_eq(coop_pretrain_caption(plain, sizeof plain, &s, &c, 77, (uint64_t)i, &e), 0);
        c.caption_noise = 1;
        ck_assert_int_eq(coop_pretrain_caption(buf, sizeof buf, &s, &c, 77, (uint64_t)i, &e), 0);
        char *at = strstr(buf, plain);
        ck_assert_msg(at, "'%s' does not hold '%s'", buf, plain);
        size_t pl = strlen(plain), bl = strlen(buf);
        ck_assert_uint_gt(bl, pl);
        char extra[2 * COOP_WORLD_CAPTION_MAX];
        if (at == buf) { /* after: " w1 w2 ..." */
            ck_assert_int_eq(buf[pl], ' ');
            snprintf(extra, sizeof extra, "%s", buf + pl + 1);
            after++;
        } else {         /* before: "w1 w2 ... " */
            ck_assert_uint_eq((size_t)(at - buf) + pl, bl);
            ck_assert_int_eq(at[-1], ' ');
            snprintf(extra, sizeof extra, "%.*s", (int)(at - buf - 1), buf);
            before++;
        }
        int words = 0;
        for (char *sv, *w = strtok_r(extra, " ", &sv); w; w = strtok_r(NULL, " ", &sv)) {
            bool ok = strspn(w, "0123456789") == strlen(w) && strlen(w) <= 4;
            for (int k = 0; !ok && allowed[k]; k++)
                ok = strcmp(w, allowed[k]) == 0;
            ck_assert_msg(ok, "noise word '%s' in '%s'", w, buf);
            words++;
        }
        ck_assert_int_ge(words, 1);
        ck_assert_int_le(words, 6);
        c.caption_noise = 0.3;
        ck_assert_int_eq(coop_pretrain_caption(buf, sizeof buf, &s, &c, 77, (uint64_t)i, &e), 0);
        noisy += strcmp(buf, plain) != 0;
    }
    ck_assert_int_gt(before, n / 3);
    ck_assert_int_gt(after, n / 3);
    ck_assert_double_eq_tol(noisy / (double)n, 0.3, 0.04);
    expect_check_refuses("caption_noise", "1.5");
}
END_TEST

/* ---- whole-chain gradient ------------------------------------------------------------ */
static void tiny_config(struct coop_pretrain_config *c)
{
    coop_pretrain_config_default(c);
    c->image_size = 16;
    c->patch_size = 8;
    c->vision_width = 64;
    c->vision_layers = 1;
    c->text_width = 64;
    c->text_layers = 1;
    c->context_length = 16;
    c->embed_dim = 64; /* at 16 dimensions this recipe can collapse to chance */
    c->supersample = 1;
    c->bpe_captions = getenv("COOP_VALGRIND") ? 200 : 1000;
}

static size_t numel(const struct coop_clip_tensor_ref *r)
{
    size_t k = 1;
    for (int d = 0; d < r->ndim; d++)
        k *= (size_t)r->shape[d];
    return k;
}

/* Every tensor's largest gradient entry (towers, L2 normalisation, InfoNCE,
 * the token-embedding scatter, logit_scale) vs a central difference of the
 * loss on the same batch. */
START_TEST(whole_chain_gradient_matches_fd)
{
    struct coop_err e;
    struct coop_pretrain_config c;
    tiny_config(&c);
    c.batch_size = 6;
    c.bpe_captions = 1000; /* also under valgrind: the vocabulary shapes which gradients are large */
    const char *vocab = tmp_path("grad_world.txt.gz");
    ck_assert_msg(coop_pretrain_vocab(&c, vocab, &e) == 0, "%s", e.msg);
    struct coop_tokenizer *t;
    ck_assert_int_eq(coop_tokenizer_load(&t, vocab, &e), 0);
    struct coop_pretrain_state *s;
    ck_assert_msg(coop_pretrain_state_new(&s, &c, t, &e) == 0, "%s", e.msg);
    /* a few small optimiser steps first so that no gradient is trivially tiny
     * (at lr 1e-2 this tiny model collapses and every gradient is ~1e-4) */
    double loss;
    for (long k = 0; k < 3; k++) {
        ck_assert_int_eq(coop_pretrain_state_batch(s, k, &e), 0);
        ck_assert_int_eq(coop_pretrain_state_grad(s, &loss, &e), 0);
        coop_pretrain_state_step(s, 1e-3, k + 1);
    }
    ck_assert_int_eq(coop_pretrain_state_batch(s, 7, &e), 0);
    ck_assert_int_eq(coop_pretrain_state_grad(s, &loss, &e), 0);
    struct coop_clip_tensor_ref *pr, *gr;
    size_t np, ng;
    ck_assert_int_eq(coop_clip_model_tensors(coop_pretrain_state_model(s), &pr, &np, &e), 0);
    ck_assert_int_eq(coop_clip_model_tensors(coop_pretrain_state_grads(s), &gr, &ng, &e), 0);
    ck_assert_uint_eq(np, ng);
    size_t *at = malloc(np * sizeof *at);
    float *g = malloc(np * sizeof *g);
    for (size_t i = 0; i < np; i++) {
        size_t n = numel(&pr[i]), best = 0;
        for (size_t k = 1; k < n; k++)
            if (fabsf(gr[i].data[k]) > fabsf(gr[i].data[best]))
                best = k;
        at[i] = best;
        g[i] = gr[i].data[best];
    }
    int checked = 0;
    for (size_t i = 0; i < np; i++) {
        float *x = (float *)pr[i].data + at[i], keep = *x;
        const float h = 1e-2f;
        double lp, lm;
        *x = keep + h;
        ck_assert_int_eq(coop_pretrain_state_grad(s, &lp, &e), 0);
        *x = keep - h;
        ck_assert_int_eq(coop_pretrain_state_grad(s, &lm, &e), 0);
        *x = keep;
        double fd = (lp - lm) / (2.0 * (double)h);
        ck_assert_msg(fabs(fd - g[i]) < 3e-4 + 3e-2 * fabs(fd), "%s[%zu]: fd %g vs grad %g",
                      pr[i].name, at[i], fd, (double)g[i]);
        checked += fabs(fd) > 1e-3;
    }
    ck_assert_int_ge(checked, (int)np / 3); /* many entries are far from zero */
    free(at);
    free(g);
    coop_clip_tensor_refs_free(pr, np);
    coop_clip_tensor_refs_free(gr, ng);
    coop_pretrain_state_free(s);
    coop_tokenizer_free(t);
}
END_TEST

/* ---- tiny run ------------------------------------------------------------------------ */
struct snap {
    double first, last;
    struct coop_clip_tensor_ref *refs;
    size_t n;
    float **copy;
};

static int grab(void *ud, const struct coop_pretrain_progress *p)
{
    struct snap *s = ud;
    if (isnan(s->first))
        s->first = p->loss;
    s->last = p->loss;
    if (p->step == p->steps) {
        struct coop_err e;
        ck_assert_int_eq(coop_clip_model_tensors(p->model, &s->refs, &s->n, &e), 0);
        s->copy = calloc(s->n, sizeof *s->copy);
        for (size_t i = 0; i < s->n; i++) {
            size_t k = 1;
            for (int d = 0; d < s->refs[i].ndim; d++)
                k *= (size_t)s->refs[i].shape[d];
            s->copy[i] = malloc(k * sizeof(float));
            memcpy(s->copy[i], s->refs[i].data, k * sizeof(float));
        }
    }
    return 0;
}

/* A learning rate that blows the weights up stops the run with the step named
 * and no checkpoint written. */
START_TEST(diverging_run_stops_with_its_step)
{
    struct coop_err e;
    struct coop_pretrain_config c;
    tiny_config(&c);
    c.batch_size = 8;
    c.steps = 20;
    c.warmup = 0;
    c.lr = 1e30;
    c.log_every = 1;
    const char *vocab = tmp_path("div_world.txt.gz"), *ck = tmp_path("div.safetensors");
    ck_assert_msg(coop_pretrain_vocab(&c, vocab, &e) == 0, "%s", e.msg);
    struct coop_tokenizer *t;
    ck_assert_msg(coop_tokenizer_load(&t, vocab, &e) == 0, "%s", e.msg);
    double fl;
    ck_assert_int_ne(coop_pretrain_run(&c, t, ck, NULL, NULL, &fl, &e), 0);
    ck_assert_msg(strstr(e.msg, "step ") && strstr(e.msg, "lower lr"), "%s", e.msg);
    ck_assert_int_ne(access(ck, F_OK), 0);
    coop_tokenizer_free(t);
}
END_TEST

START_TEST(tiny_run_learns_and_round_trips)
{
    struct coop_err e;
    struct coop_pretrain_config c;
    bool vg = getenv("COOP_VALGRIND") != NULL;
    tiny_config(&c);
    /* a small fixed set of scenes (captions still vary): the loss must fall */
    c.batch_size = vg ? 8 : 16;
    c.data_pool = c.batch_size;
    c.vision_width = 128; /* a 64-wide, one-layer ViT tends to collapse to chance here */
    c.steps = vg ? 12 : 60;
    c.warmup = 5;
    c.lr = 3e-3;
    c.log_every = vg ? 4 : 10;
    const char *vocab = tmp_path("tiny_world.txt.gz"), *ck = tmp_path("tiny.safetensors");
    ck_assert_msg(coop_pretrain_vocab(&c, vocab, &e) == 0, "%s", e.msg);
    struct coop_tokenizer *t;
    ck_assert_msg(coop_tokenizer_load(&t, vocab, &e) == 0, "%s", e.msg);
    struct snap s = {NAN, NAN, NULL, 0, NULL};
    double fl;
    ck_assert_msg(coop_pretrain_run(&c, t, ck, grab, &s, &fl, &e) == 0, "%s", e.msg);
    ck_assert_double_eq(fl, s.last);
    if (!vg)
        ck_assert_msg(s.last < s.first - 0.3, "loss %g -> %g", s.first, s.last);
    else
        ck_assert(s.last < s.first);

    struct coop_clip_model m;
    ck_assert_msg(coop_clip_model_load(&m, ck, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(m.vision_kind, COOP_CLIP_VISION_VIT);
    ck_assert_int_eq(m.text.context_length, 16);
    ck_assert_int_eq(m.text.vocab_size, coop_tokenizer_vocab_size(t));
    /* OpenAI's CLIP reads the written vocabulary with as many entries as rows */
    ck_assert_int_eq(coop_test_clip_vocab_len(vocab), m.text.vocab_size);
    ck_assert_int_eq(m.text.width, 64);
    ck_assert_int_eq(m.text.heads, 1);
    ck_assert_int_eq(m.text.layers, 1);
    ck_assert_int_eq(m.text.embed_dim, 64);
    ck_assert_int_eq(m.vit.image_size, 16);
    ck_assert_int_eq(m.vit.patch_size, 8);
    ck_assert_int_eq(m.vit.width, 128);
    ck_assert_int_eq(m.vit.heads, 2);
    ck_assert_int_eq(m.vit.layers, 1);
    struct coop_clip_tensor_ref *r;
    size_t n;
    ck_assert_int_eq(coop_clip_model_tensors(&m, &r, &n, &e), 0);
    ck_assert_uint_eq(n, s.n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(r[i].name, s.refs[i].name);
        size_t k = 1;
        for (int d = 0; d < r[i].ndim; d++)
            k *= (size_t)r[i].shape[d];
        ck_assert_msg(memcmp(r[i].data, s.copy[i], k * sizeof(float)) == 0, "%s differs",
                      r[i].name);
        free(s.copy[i]);
    }
    ck_assert(m.logit_scale <= logf(100) + 1e-6f);
    coop_clip_tensor_refs_free(r, n);
    coop_clip_tensor_refs_free(s.refs, s.n);
    free(s.copy);
    coop_clip_model_free(&m);
    coop_tokenizer_free(t);
}
END_TEST

int main(void)
{
    if (coop_test_tmpdir(tmpdir, sizeof tmpdir, "pretrain"))
        return 1;
    Suite *s = suite_create("pretrain");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, decay_rule);
    tcase_add_test(tc, bpe_learns_expected_merges);
    tcase_add_test(tc, bpe_world_vocab_round_trips_captions);
    tcase_add_test(tc, config_file_and_errors);
    tcase_add_test(tc, stream_cooccurrence_share);
    tcase_add_test(tc, long_captions_share);
    tcase_add_test(tc, style_words_share);
    tcase_add_test(tc, caption_noise_share);
    tcase_add_test(tc, whole_chain_gradient_matches_fd);
    tcase_add_test(tc, tiny_run_learns_and_round_trips);
    tcase_add_test(tc, diverging_run_stops_with_its_step);
    suite_add_tcase(s, tc);
    int rc = coop_check_run(s);
    coop_test_rmtree(tmpdir);
    return rc;
}
