/* test_shipped.c: the checkpoint the repository ships for the main job
 * (models/world-clip/): it loads with the ordinary checkpoint loader, has the
 * architecture docs/pretraining.md documents, its vocabulary loads with the
 * project's tokenizer and fits the embedding table, OpenAI's CLIP reads the
 * vocabulary as exactly as many entries as the embedding has rows, and the
 * SHA-256 of both files matches the one recorded in docs/pretraining.md. */
#include "coop/checkpoint.h"
#include "coop/pretrain.h"
#include "coop/tokenizer.h"
#include "coop/util.h"
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../common/check_run.h"
#include "../common/clip_reading.h"

static char *src_path(const char *rel)
{
    const char *root = getenv("COOP_SOURCE_ROOT");
    return coop_asprintf("%s/%s", root ? root : ".", rel);
}

/* The 64-hex-digit token on the docs line that names file, or "". */
static void doc_sha(char out[65], const char *doc, const char *file)
{
    out[0] = '\0';
    for (const char *p = strstr(doc, file); p; p = strstr(p + 1, file)) {
        const char *eol = strchr(p, '\n');
        for (const char *q = p; *q && (!eol || q < eol); q++) {
            int n = 0;
            while (isxdigit((unsigned char)q[n]) && n < 65)
                n++;
            if (n == 64) {
                memcpy(out, q, 64);
                out[64] = '\0';
                return;
            }
            q += n;
        }
    }
}

START_TEST(shipped_checkpoint)
{
    struct coop_err e;
    char *ck = src_path("models/world-clip/world-clip.safetensors");
    char *vocab = src_path("models/world-clip/bpe_world.txt.gz");
    char *docp = src_path("docs/pretraining.md");
    struct coop_clip_model m;
    ck_assert_msg(coop_clip_model_load(&m, ck, &e) == 0, "%s", e.msg);
    /* docs/pretraining.md, "The shipped model" */
    ck_assert_int_eq(m.vision_kind, COOP_CLIP_VISION_VIT);
    ck_assert_int_eq(m.text.context_length, 32);
    ck_assert_int_eq(m.text.width, 64);
    ck_assert_int_eq(m.text.heads, 1);
    ck_assert_int_eq(m.text.layers, 2);
    ck_assert_int_eq(m.text.embed_dim, 64);
    ck_assert_int_eq(m.vit.image_size, 32);
    ck_assert_int_eq(m.vit.patch_size, 8);
    ck_assert_int_eq(m.vit.width, 256);
    ck_assert_int_eq(m.vit.heads, 4);
    ck_assert_int_eq(m.vit.layers, 2);
    ck_assert_int_eq(m.vit.embed_dim, 64);
    struct coop_tokenizer *t;
    ck_assert_msg(coop_tokenizer_load(&t, vocab, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(coop_tokenizer_vocab_size(t), m.text.vocab_size);
    /* the clip backbone finds the vocabulary next to the checkpoint */
    struct coop_tokenizer *t2;
    ck_assert_msg(coop_tokenizer_find_near(&t2, ck, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(coop_tokenizer_vocab_size(t2), m.text.vocab_size);
    coop_tokenizer_free(t2);
    /* a trailing newline would make CLIP's reader count 850, one past the table */
    ck_assert_int_eq(coop_test_clip_vocab_len(vocab), m.text.vocab_size);
    int32_t ids[32];
    int eot;
    ck_assert_int_eq(coop_tokenizer_tokenize(t, "a photo of a red star.", 32, false, ids, &eot, &e),
                     0);
    ck_assert_int_le(eot, 8); /* world words are whole tokens */
    coop_tokenizer_free(t);

    char *doc;
    size_t len;
    ck_assert_msg(coop_read_file(docp, 1 << 20, &doc, &len, &e) == 0, "%s", e.msg);
    char want[65], got[65];
    doc_sha(want, doc, "world-clip.safetensors");
    ck_assert_msg(want[0], "docs/pretraining.md records no SHA-256 for world-clip.safetensors");
    ck_assert_int_eq(coop_sha256_file(ck, got, &e), 0);
    ck_assert_str_eq(got, want);
    doc_sha(want, doc, "bpe_world.txt.gz");
    ck_assert_msg(want[0], "docs/pretraining.md records no SHA-256 for bpe_world.txt.gz");
    ck_assert_int_eq(coop_sha256_file(vocab, got, &e), 0);
    ck_assert_str_eq(got, want);
    free(doc);
    coop_clip_model_free(&m);
    free(ck);
    free(vocab);
    free(docp);
}
END_TEST

/* The shipped recipe is coop-pretrain's default: `coop-pretrain --out DIR` with no
 * config reproduces the model (docs/pretraining.md says so). */
START_TEST(shipped_recipe_is_the_default)
{
    struct coop_err e;
    char *conf = src_path("models/world-clip/world-clip.conf");
    struct coop_pretrain_config def, shipped;
    coop_pretrain_config_default(&def);
    coop_pretrain_config_default(&shipped);
    ck_assert_msg(coop_pretrain_config_load(&shipped, conf, &e) == 0, "%s", e.msg);
    char *a = coop_pretrain_config_dump(&def), *b = coop_pretrain_config_dump(&shipped);
    ck_assert_str_eq(b, a);
    free(a), free(b), free(conf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pretrain-shipped");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, shipped_checkpoint);
    tcase_add_test(tc, shipped_recipe_is_the_default);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
