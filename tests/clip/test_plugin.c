/* test_plugin.c: the `clip` backbone plugin loaded with dlopen from the
 * build tree and driven only through coop_plugin_enum and the ops table:
 * results must equal the library's own loader, tokenizer and towers, the text
 * backward must match finite differences, and errors must name their cause.
 * Needs COOP_SHARED_DIR/clip/bpe_simple_vocab_16e6.txt.gz. */
#include "coop/bf16.h"
#include "coop/checkpoint.h"
#include "coop/clip.h"
#include "coop/plugin.h"
#include "coop/tokenizer.h"
#include "coop/util.h"
#include "tiny_clip.h"
#include <check.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../common/check_run.h"
#include "../common/tmpdir.h"

static char tmpdir[256];
static char ckpt[4200], vocab[4200], linked[4200];
static void *so;
static const struct coop_backbone_ops *ops;
static int logged;

static void host_log(void *ctx, enum coop_log_level lv, const char *msg)
{
    (void)ctx;
    (void)lv;
    ck_assert_ptr_nonnull(strstr(msg, "clip: "));
    logged++;
}
static const struct coop_host host = {COOP_HOST_VERSION, NULL, host_log, NULL};

static void setup(void)
{
    ck_assert_int_eq(coop_test_tmpdir(tmpdir, sizeof tmpdir, "clip-plugin"), 0);
    snprintf(ckpt, sizeof ckpt, "%s/tiny.safetensors", tmpdir);
    snprintf(vocab, sizeof vocab, "%s/clip/bpe_simple_vocab_16e6.txt.gz",
             getenv("COOP_SHARED_DIR") ? getenv("COOP_SHARED_DIR") : "/nonexistent");
    ck_assert_int_eq(tiny_clip_write(ckpt, true, 7), 0);
    char p[4200];
    snprintf(p, sizeof p, "%s/plugins/backbones/clip/coop-clip.so", getenv("COOP_BUILD_ROOT"));
    so = dlopen(p, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(so != NULL, "dlopen %s: %s", p, dlerror());
    coop_plugin_enum_fn en;
    void *sym = dlsym(so, COOP_PLUGIN_ENUM_SYMBOL);
    ck_assert_ptr_nonnull(sym);
    memcpy(&en, &sym, sizeof en); /* ISO C has no void* -> function pointer cast */
    ck_assert(en != NULL);
    const struct coop_plugin *pl = en(0);
    ck_assert_ptr_nonnull(pl);
    ck_assert_uint_eq(pl->abi, COOP_PLUGIN_ABI);
    ck_assert_int_eq(pl->kind, COOP_PLUGIN_BACKBONE);
    ck_assert_str_eq(pl->name, "clip");
    ck_assert_ptr_null(en(1));
    ops = pl->ops;
    ck_assert_uint_eq(ops->version, COOP_BACKBONE_OPS_VERSION);
}

static void teardown(void)
{
    ck_assert_int_eq(coop_test_rmtree(tmpdir), 0);
    /* no dlclose, as the loader: libraries the module pulls in keep state from
     * their constructors, and unloading them shows up as leaks */
    so = NULL;
}

#define NEED_VOCAB()                                                                   \
    do {                                                                               \
        if (!coop_file_exists(vocab)) {                                                \
            printf("SKIP %s: %s not found\n", __func__, vocab);                        \
            return;                                                                    \
        }                                                                              \
    } while (0)

static struct coop_backbone *open_bb(const char *vp)
{
    struct coop_backbone *bb;
    struct coop_err e;
    ck_assert_msg(ops->open(&host, ckpt, vp, NULL, &bb, &e) == 0, "%s", e.msg);
    return bb;
}

START_TEST(info_tokenize_embed)
{
    NEED_VOCAB();
    logged = 0;
    struct coop_backbone *bb = open_bb(vocab);
    ck_assert_int_eq(logged, 1);
    struct coop_backbone_info in;
    ops->info(bb, &in);
    ck_assert_int_eq(in.embed_dim, 32);
    ck_assert_int_eq(in.token_width, 64);
    ck_assert_int_eq(in.context_length, 77);
    ck_assert_int_eq(in.vocab_size, 49408);
    ck_assert_int_eq(in.image_size, 32);
    ck_assert_str_eq(in.arch, "ViT-custom-w64-l1-p16-s32-e32-t64x2");
    ck_assert(fabsf(in.logit_scale - expf(4.6052f)) < 1e-3f);
    ck_assert(in.mean[0] == 0.48145466f && in.std[2] == 0.27577711f);
    char sha[65];
    struct coop_err e;
    ck_assert_int_eq(coop_sha256_file(ckpt, sha, &e), 0);
    ck_assert_str_eq(in.checkpoint_sha256, sha);

    int32_t ids[77];
    int eot;
    ck_assert_int_eq(ops->tokenize(bb, "a photo of a cat", false, ids, &eot, &e), 0);
    ck_assert_int_eq(eot, 6);
    ck_assert_int_eq(ids[5], 2368);
    ck_assert_int_eq(ops->token_count(bb, "a photo of a cat.", &e), 6);
    char longtext[2000] = "";
    for (int i = 0; i < 100; i++)
        strcat(longtext, "cat ");
    ck_assert_int_eq(ops->token_count(bb, longtext, &e), 100);
    ck_assert_int_eq(ops->tokenize(bb, longtext, false, ids, &eot, &e), COOP_E_INVAL);
    ck_assert_int_eq(ops->tokenize(bb, longtext, true, ids, &eot, &e), 0);
    ck_assert_int_eq(eot, 76);

    struct coop_clip_model m;
    ck_assert_int_eq(coop_clip_model_load(&m, ckpt, &e), 0);
    float emb[3 * 64];
    int32_t some[3] = {0, 2368, 49407};
    ck_assert_int_eq(ops->token_embed(bb, some, 3, emb, &e), 0);
    for (int i = 0; i < 3; i++)
        ck_assert(memcmp(emb + 64 * i, m.text.token_embedding + (size_t)some[i] * 64,
                         64 * sizeof(float)) == 0);
    int32_t bad = 49408;
    ck_assert_int_eq(ops->token_embed(bb, &bad, 1, emb, &e), COOP_E_INVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "49408"));

    int32_t nid[3];
    float nd[3];
    ck_assert_int_eq(ops->nearest_tokens(bb, m.text.token_embedding + 2368 * 64, 3, nid, nd, &e), 0);
    ck_assert_int_eq(nid[0], 2368);
    ck_assert(nd[0] == 0.0f && nd[1] >= nd[0] && nd[2] >= nd[1]);
    for (int v = 0; v < 49408; v++) { /* nothing closer than the third was skipped */
        double d = 0;
        for (int j = 0; j < 64; j++) {
            double t = (double)m.text.token_embedding[(size_t)v * 64 + j] -
                       m.text.token_embedding[2368 * 64 + j];
            d += t * t;
        }
        if (v != nid[0] && v != nid[1] && v != nid[2])
            ck_assert(sqrt(d) >= nd[2] - 1e-6);
    }
    char word[64];
    ck_assert_int_eq(ops->decode_token(bb, 2368, word, sizeof word), 0);
    ck_assert_str_eq(word, "cat");
    ck_assert_int_ne(ops->decode_token(bb, -3, word, sizeof word), 0);
    coop_clip_model_free(&m);
    ops->close(bb);
}
END_TEST

/* Text forward through the plugin equals the library on token ids; the
 * backward equals central differences of sum(feat * w). */
START_TEST(text_forward_backward)
{
    NEED_VOCAB();
    struct coop_backbone *bb = open_bb(vocab);
    struct coop_err e;
    const char *texts[2] = {"a photo of a dog.", "a diagram"};
    int K = 2, L = 77, W = 64, E = 32, eot[2];
    int32_t ids[2 * 77];
    for (int k = 0; k < K; k++)
        ck_assert_int_eq(ops->tokenize(bb, texts[k], false, ids + k * L, &eot[k], &e), 0);
    float *emb = coop_alloc_floats((size_t)K * L * W), *demb = coop_alloc_floats((size_t)K * L * W);
    float feat[2 * 32], ref[2 * 32], dfeat[2 * 32];
    ck_assert_int_eq(ops->token_embed(bb, ids, K * L, emb, &e), 0);
    struct coop_tape *tape = NULL;
    ck_assert_msg(ops->text_forward(bb, emb, eot, K, 0, feat, &tape, &e) == 0, "%s", e.msg);
    struct coop_clip_model m;
    ck_assert_int_eq(coop_clip_model_load(&m, ckpt, &e), 0);
    ck_assert_int_eq(coop_clip_text_encode_ids(&m.text, ids, K, ref, &e), 0);
    for (int i = 0; i < K * E; i++)
        ck_assert_msg(fabsf(feat[i] - ref[i]) <= 1e-5f * (1 + fabsf(ref[i])), "%d: %g vs %g", i,
                      feat[i], ref[i]);
    coop_hash_uniform(dfeat, (size_t)K * E, 99, -1, 1);
    ck_assert_int_eq(ops->text_backward(bb, tape, dfeat, demb, &e), 0);
    ops->tape_free(bb, tape);
    /* the next training iteration's forward reuses the freed tape: same results */
    float feat2[2 * 32], *demb2 = coop_alloc_floats((size_t)K * L * W);
    tape = NULL;
    ck_assert_int_eq(ops->text_forward(bb, emb, eot, K, 0, feat2, &tape, &e), 0);
    ck_assert_int_eq(ops->text_backward(bb, tape, dfeat, demb2, &e), 0);
    ops->tape_free(bb, tape);
    ck_assert(memcmp(feat, feat2, sizeof feat) == 0);
    ck_assert(memcmp(demb, demb2, (size_t)K * L * W * sizeof(float)) == 0);
    coop_free(demb2);
    const int probe[][3] = {{0, 0, 3}, {0, 2, 10}, {1, 1, 63}, {1, eot[1], 5}, {0, 4, 0}};
    for (size_t p = 0; p < sizeof probe / sizeof probe[0]; p++) {
        size_t at = ((size_t)probe[p][0] * L + probe[p][1]) * W + probe[p][2];
        double f[2], h = 1e-2;
        float keep = emb[at];
        for (int s = 0; s < 2; s++) {
            emb[at] = keep + (float)(s ? -h : h);
            ck_assert_int_eq(ops->text_forward(bb, emb, eot, K, 0, feat, NULL, &e), 0);
            f[s] = 0;
            for (int i = 0; i < K * E; i++)
                f[s] += (double)feat[i] * dfeat[i];
        }
        emb[at] = keep;
        double fd = (f[0] - f[1]) / (2 * h);
        ck_assert_msg(fabs(fd - demb[at]) <= 2e-3 + 2e-2 * fabs(fd), "probe %zu: fd %g vs %g", p,
                      fd, demb[at]);
    }
    int badeot[2] = {6, 77};
    ck_assert_int_eq(ops->text_forward(bb, emb, badeot, K, 0, feat, NULL, &e), COOP_E_INVAL);
    ck_assert_int_eq(ops->text_backward(bb, NULL, dfeat, demb, &e), COOP_E_INVAL);
    coop_free(emb);
    coop_free(demb);
    coop_clip_model_free(&m);
    ops->close(bb);
}
END_TEST

START_TEST(images_and_vocab_discovery)
{
    NEED_VOCAB();
    struct coop_backbone *bb;
    struct coop_err e;
    /* no vocabulary next to the checkpoint yet */
    ck_assert_int_eq(ops->open(&host, ckpt, NULL, NULL, &bb, &e), COOP_E_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(e.msg, "no vocabulary next to"));
    snprintf(linked, sizeof linked, "%s/bpe_simple_vocab_16e6.txt.gz", tmpdir);
    ck_assert_int_eq(symlink(vocab, linked), 0);
    bb = open_bb(NULL);
    float *px = coop_alloc_floats(2 * 3 * 32 * 32), feat[2 * 32], ref[2 * 32];
    coop_hash_uniform(px, 2 * 3 * 32 * 32, 5, -2, 2);
    ck_assert_msg(ops->encode_images(bb, px, 2, feat, &e) == 0, "%s", e.msg);
    struct coop_clip_model m;
    ck_assert_int_eq(coop_clip_model_load(&m, ckpt, &e), 0);
    ck_assert_int_eq(coop_clip_encode_images(&m, px, 2, ref, &e), 0);
    ck_assert(memcmp(feat, ref, sizeof feat) == 0);
    coop_clip_model_free(&m);
    coop_free(px);
    ops->close(bb);
    /* errors */
    ck_assert_int_eq(ops->open(&host, "/nonexistent/x.safetensors", vocab, NULL, &bb, &e),
                     COOP_E_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/x.safetensors"));
    ck_assert_int_eq(ops->open(&host, ckpt, "/nonexistent/v.txt.gz", NULL, &bb, &e), COOP_E_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/v.txt.gz"));
    /* a text-only checkpoint: images unsupported */
    ck_assert_int_eq(tiny_clip_write(ckpt, false, 3), 0);
    struct coop_kv kv = {"hash_checkpoint", "false"};
    struct coop_params nohash = {&kv, 1};
    ck_assert_int_eq(ops->open(&host, ckpt, NULL, &nohash, &bb, &e), 0);
    struct coop_backbone_info in;
    ops->info(bb, &in);
    ck_assert_str_eq(in.checkpoint_sha256, "");
    ck_assert_int_eq(in.image_size, 0);
    ck_assert_int_eq(ops->encode_images(bb, ref, 1, feat, &e), COOP_E_UNSUPPORTED);
    ops->close(bb);
}
END_TEST

/* precision: fp32 by default (OpenBLAS), bf16 on request: the info says which and what
 * ran; text and image features stay close to fp32's; where bf16 cannot run, the open is
 * refused with the reason. */
START_TEST(precision_option)
{
    NEED_VOCAB();
    struct coop_backbone *f32 = open_bb(vocab), *b16 = NULL;
    struct coop_backbone_info in;
    ops->info(f32, &in);
    ck_assert_str_eq(in.precision, "fp32");
    ck_assert_ptr_nonnull(strstr(in.matmul_isa, "openblas:"));
    struct coop_kv kv = {"precision", "bf16"};
    struct coop_params opts = {&kv, 1};
    struct coop_err e;
    struct coop_err why;
    if (coop_bf16_check(&why) != 0) {
        ck_assert_int_eq(ops->open(&host, ckpt, vocab, &opts, &b16, &e), COOP_E_UNSUPPORTED);
        ck_assert_ptr_nonnull(strstr(e.msg, "precision bf16"));
        ck_assert_ptr_null(b16);
        ops->close(f32);
        return;
    }
    ck_assert_msg(ops->open(&host, ckpt, vocab, &opts, &b16, &e) == 0, "%s", e.msg);
    ops->info(b16, &in);
    ck_assert_str_eq(in.precision, "bf16");
    ck_assert_ptr_nonnull(strstr(in.matmul_isa, "onednn:"));
    enum { K = 3, L = 77, D = 64, E = 32 };
    float *emb = coop_alloc_floats((size_t)K * L * D);
    coop_hash_uniform(emb, (size_t)K * L * D, 3, -0.05, 0.05);
    int eot[K] = {5, 7, 9};
    float a[K * E], b[K * E];
    ck_assert_int_eq(ops->text_forward(f32, emb, eot, K, 0, a, NULL, &e), 0);
    ck_assert_int_eq(ops->text_forward(b16, emb, eot, K, 0, b, NULL, &e), 0);
    double num = 0, den = 0;
    for (int i = 0; i < K * E; i++)
        num = fmax(num, fabs(a[i] - b[i])), den = fmax(den, fabs(a[i]));
    ck_assert_double_gt(num, 0);
    ck_assert_double_lt(num / den, 2e-2);
    float *px = coop_alloc_floats(3 * 32 * 32);
    coop_hash_uniform(px, 3 * 32 * 32, 5, -2, 2);
    ck_assert_int_eq(ops->encode_images(f32, px, 1, a, &e), 0);
    ck_assert_int_eq(ops->encode_images(b16, px, 1, b, &e), 0);
    num = den = 0;
    for (int i = 0; i < E; i++)
        num = fmax(num, fabs(a[i] - b[i])), den = fmax(den, fabs(a[i]));
    ck_assert_double_gt(num, 0);
    ck_assert_double_lt(num / den, 2e-2);
    coop_free(emb), coop_free(px);
    ops->close(f32), ops->close(b16);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("clip_plugin");
    TCase *tc = tcase_create("plugin");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, info_tokenize_embed);
    tcase_add_test(tc, text_forward_backward);
    tcase_add_test(tc, images_and_vocab_discovery);
    tcase_add_test(tc, precision_option);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
