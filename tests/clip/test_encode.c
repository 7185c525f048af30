/* test_encode.c: runs the coop-encode executable on a tiny random checkpoint
 * and reads its HDF5 output back with libhdf5: tokens must equal the
 * tokenizer's, features the library text tower's; every failure must exit
 * non-zero with a message naming its cause and leave no output file.
 * Needs COOP_SHARED_DIR/clip/bpe_simple_vocab_16e6.txt.gz. */
#include "coop/checkpoint.h"
#include "coop/clip.h"
#include "coop/image.h"
#include "coop/nn.h"
#include "coop/tokenizer.h"
#include "coop/util.h"
#include "results/h5_internal.h"
#include "tiny_clip.h"
#include <check.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../common/check_run.h"
#include "../common/tmpdir.h"

static char dir[256];
static char ckpt[4200], vocab[4200], out[4200], txt[4200], errf[4200], exe[4200], linked[4200];

static void setup(void)
{
    ck_assert_int_eq(coop_test_tmpdir(dir, sizeof dir, "encode"), 0);
    snprintf(ckpt, sizeof ckpt, "%s/m.safetensors", dir);
    snprintf(out, sizeof out, "%s/out.h5", dir);
    snprintf(txt, sizeof txt, "%s/texts.txt", dir);
    snprintf(errf, sizeof errf, "%s/stderr.txt", dir);
    snprintf(linked, sizeof linked, "%s/bpe_simple_vocab_16e6.txt.gz", dir);
    const char *sh = getenv("COOP_SHARED_DIR");
    snprintf(vocab, sizeof vocab, "%s/clip/bpe_simple_vocab_16e6.txt.gz", sh ? sh : "/nonexistent");
    snprintf(exe, sizeof exe, "%s/core/cli/coop-encode/coop-encode", getenv("COOP_BUILD_ROOT"));
    ck_assert_int_eq(tiny_clip_write(ckpt, false, 11), 0);
}

static void teardown(void)
{
    ck_assert_int_eq(coop_test_rmtree(dir), 0);
}

/* Runs coop-encode with args (shell words); returns the exit status and
 * leaves stderr in errf. */
static int run(const char *args)
{
    char *cmd = coop_asprintf("'%s' %s 2>'%s' >/dev/null", exe, args, errf);
    int st = system(cmd);
    free(cmd);
    ck_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void stderr_has(const char *needle)
{
    char *s;
    size_t n;
    struct coop_err e;
    ck_assert_int_eq(coop_read_file(errf, 1 << 20, &s, &n, &e), 0);
    ck_assert_msg(strstr(s, needle) != NULL, "stderr \"%s\" lacks \"%s\"", s, needle);
    free(s);
}

/* A whole 2-D dataset (coop_free). */
static void *read_ds(hid_t f, const char *name, hid_t type, size_t elem, hsize_t dims[2])
{
    void *buf;
    int rank = 0;
    hsize_t d[COOP_RESULTS_MAX_RANK];
    struct coop_err e;
    ck_assert_msg(coop_h5_read(f, "out.h5", name, type, elem, &buf, NULL, &rank, d, &e) == 0,
                  "%s", e.msg);
    ck_assert_int_eq(rank, 2);
    dims[0] = d[0], dims[1] = d[1];
    return buf;
}

START_TEST(encodes_texts)
{
    if (!coop_file_exists(vocab)) {
        printf("SKIP: %s not found\n", vocab);
        return;
    }
    FILE *f = fopen(txt, "w");
    fputs("a diagram\n\n  \nIt's 2024!\r\nthe last line", f);
    fclose(f);
    char *args = coop_asprintf("--checkpoint '%s' --vocab '%s' --text 'a photo of a cat' "
                               "--text 'a dog' --texts '%s' --out '%s'",
                               ckpt, vocab, txt, out);
    ck_assert_int_eq(run(args), 0);
    free(args);
    const char *texts[] = {"a photo of a cat", "a dog", "a diagram", "It's 2024!", "the last line"};
    int N = 5;
    hid_t h = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert(h >= 0);
    hsize_t td[2], fd[2];
    int32_t *tokens = read_ds(h, "tokens", H5T_NATIVE_INT32, 4, td);
    float *feat = read_ds(h, "text_features", H5T_NATIVE_FLOAT, 4, fd);
    ck_assert(td[0] == (hsize_t)N && td[1] == 77 && fd[0] == (hsize_t)N && fd[1] == 32);
    hid_t a = H5Aopen(h, "arch", H5P_DEFAULT);
    ck_assert(a >= 0);
    char arch[64] = "";
    hid_t at = H5Aget_type(a);
    ck_assert(H5Aread(a, at, arch) >= 0);
    ck_assert_str_eq(arch, "text-only-w64-l2-e32");
    H5Tclose(at);
    H5Aclose(a);
    hid_t ds = H5Dopen2(h, "texts", H5P_DEFAULT);
    ck_assert(ds >= 0);
    H5Dclose(ds);
    H5Fclose(h);

    struct coop_tokenizer *tok;
    struct coop_clip_model m;
    struct coop_err e;
    ck_assert_int_eq(coop_tokenizer_load(&tok, vocab, &e), 0);
    ck_assert_int_eq(coop_clip_model_load(&m, ckpt, &e), 0);
    int32_t ids[5 * 77];
    float ref[5 * 32];
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(coop_tokenizer_tokenize(tok, texts[i], 77, false, ids + 77 * i, NULL, &e), 0);
    ck_assert(memcmp(ids, tokens, sizeof ids) == 0);
    ck_assert_int_eq(coop_clip_text_encode_ids(&m.text, ids, N, ref, &e), 0);
    for (int i = 0; i < N * 32; i++)
        ck_assert_msg(fabsf(ref[i] - feat[i]) <= 1e-5f * (1 + fabsf(ref[i])), "%d: %g vs %g", i,
                      feat[i], ref[i]);
    /* the file holds exactly what the library call gives */
    int32_t ids2[5 * 77];
    float feat2[5 * 32];
    ck_assert_int_eq(coop_clip_encode_texts(&m.text, tok, texts, N, false, ids2, feat2, &e), 0);
    ck_assert(memcmp(ids2, tokens, sizeof ids2) == 0);
    ck_assert(memcmp(feat2, feat, sizeof feat2) == 0);
    coop_free(tokens);
    coop_free(feat);

    /* the vocabulary next to the checkpoint */
    unlink(out);
    ck_assert_int_eq(symlink(vocab, linked), 0);
    args = coop_asprintf("--checkpoint '%s' --text 'a dog' --out '%s'", ckpt, out);
    ck_assert_int_eq(run(args), 0);
    free(args);
    h = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    tokens = read_ds(h, "tokens", H5T_NATIVE_INT32, 4, td);
    H5Fclose(h);
    ck_assert(td[0] == 1 && tokens[0] == 49406 && tokens[1] == 320 && tokens[2] == 1929 &&
              tokens[3] == 49407);
    coop_free(tokens);
    coop_tokenizer_free(tok);
    coop_clip_model_free(&m);
}
END_TEST

/* Images: features equal the library's eval transform + image tower; with
 * texts, the zero-shot probabilities are printed and sum to 100%. */
START_TEST(encodes_images_and_prints_probabilities)
{
    if (!coop_file_exists(vocab)) {
        printf("SKIP: %s not found\n", vocab);
        return;
    }
    ck_assert_int_eq(tiny_clip_write(ckpt, true, 12), 0);
    char img[2][4300];
    uint8_t px[40 * 50 * 3];
    struct coop_err e;
    for (int k = 0; k < 2; k++) {
        snprintf(img[k], sizeof img[k], "%s/img%d.png", dir, k);
        for (int i = 0; i < 40 * 50 * 3; i++)
            px[i] = (uint8_t)((i * (k + 3) * 37) % 251);
        ck_assert_int_eq(coop_image_write_png(img[k], px, 50, 40, 3, &e), 0);
    }
    FILE *f = fopen(txt, "w");
    fprintf(f, "%s\n", img[1]);
    fclose(f);
    char *probs = coop_asprintf("%s/probs.txt", dir), *text;
    char *cmd = coop_asprintf("'%s' --checkpoint '%s' --vocab '%s' --text 'a red star' --text 'a "
                              "blue circle' --image '%s' --images '%s' --out '%s' > '%s' 2>'%s'",
                              exe, ckpt, vocab, img[0], txt, out, probs, errf);
    int st = system(cmd);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    free(cmd);
    hid_t h = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert(h >= 0);
    hsize_t fd[2];
    float *feat = read_ds(h, "image_features", H5T_NATIVE_FLOAT, 4, fd);
    ck_assert(fd[0] == 2 && fd[1] == 32);
    H5Fclose(h);
    struct coop_clip_model m;
    ck_assert_int_eq(coop_clip_model_load(&m, ckpt, &e), 0);
    int S = m.vit.image_size;
    float *pix = coop_alloc_floats((size_t)2 * 3 * S * S), ref[2 * 32];
    uint8_t *rgb = malloc((size_t)S * S * 3);
    for (int k = 0; k < 2; k++) {
        struct coop_image im;
        memset(&im, 0, sizeof im);
        ck_assert_int_eq(coop_image_load(&im, img[k], &e), 0);
        ck_assert_int_eq(coop_image_clip_eval_rgb8(rgb, &im, S, &e), 0);
        coop_image_normalize(pix + (size_t)k * 3 * S * S, rgb, S, coop_clip_mean, coop_clip_std);
        coop_image_free(&im);
    }
    ck_assert_int_eq(coop_clip_encode_images(&m, pix, 2, ref, &e), 0);
    for (int i = 0; i < 2 * 32; i++)
        ck_assert_msg(fabsf(ref[i] - feat[i]) <= 1e-5f * (1 + fabsf(ref[i])), "%d: %g vs %g", i,
                      feat[i], ref[i]);
    /* printed probabilities: two blocks of two lines, each block summing to 100% */
    ck_assert_int_eq(coop_read_file(probs, 1 << 16, &text, NULL, &e), 0);
    ck_assert_ptr_nonnull(strstr(text, img[0]));
    ck_assert_ptr_nonnull(strstr(text, "a blue circle"));
    double total = 0;
    for (char *p = text; (p = strstr(p, "%  ")); p++) {
        char *q = p;
        while (q > text && q[-1] != ' ' && q[-1] != '\n')
            q--;
        total += atof(q);
    }
    ck_assert_double_eq_tol(total, 200.0, 0.05);
    free(text);
    free(probs);
    /* images alone need no vocabulary */
    unlink(out);
    char *args = coop_asprintf("--checkpoint '%s' --image '%s' --out '%s'", ckpt, img[0], out);
    ck_assert_int_eq(run(args), 0);
    free(args);
    /* a corrupt image is an error naming the file */
    f = fopen(img[1], "w");
    fputs("not a png", f);
    fclose(f);
    args = coop_asprintf("--checkpoint '%s' --image '%s' --out '%s'", ckpt, img[1], out);
    ck_assert_int_ne(run(args), 0);
    stderr_has(img[1]);
    free(args);
    coop_free(pix);
    free(rgb);
    coop_free(feat);
    coop_clip_model_free(&m);
}
END_TEST

START_TEST(errors_exit_nonzero)
{
    char *args;
    ck_assert_int_eq(run("--text x"), 2);
    stderr_has("--checkpoint and --out are required");
    ck_assert_int_eq(run("--checkpont a --out b"), 2);
    stderr_has("unknown option '--checkpont' (did you mean --checkpoint?)");
    ck_assert_int_eq(run("--checkpoint"), 2);
    stderr_has("--checkpoint needs a value");
    args = coop_asprintf("--checkpoint /nonexistent/m.safetensors --text x --out '%s'", out);
    ck_assert_int_eq(run(args), 2);
    free(args);
    stderr_has("/nonexistent/m.safetensors");
    args = coop_asprintf("--checkpoint '%s' --out '%s'", ckpt, out);
    ck_assert_int_eq(run(args), 2);
    free(args);
    stderr_has("nothing to encode");
    args = coop_asprintf("--checkpoint '%s' --text x --texts /nonexistent/t.txt --out '%s'", ckpt,
                         out);
    ck_assert_int_eq(run(args), 2);
    free(args);
    stderr_has("/nonexistent/t.txt");
    args = coop_asprintf("--checkpoint '%s' --text x --out '%s'", ckpt, out); /* no vocab near */
    ck_assert_int_eq(run(args), 2);
    free(args);
    stderr_has("no vocabulary next to");
    ck_assert(!coop_file_exists(out));
    if (!coop_file_exists(vocab))
        return;
    char longtext[1200] = "";
    for (int i = 0; i < 100; i++)
        strcat(longtext, "cat ");
    args = coop_asprintf("--checkpoint '%s' --vocab '%s' --text ok --text '%s' --out '%s'", ckpt,
                         vocab, longtext, out);
    ck_assert_int_eq(run(args), 2);
    stderr_has("text 2: tokenizer: text of 100 tokens is too long for context length 77");
    ck_assert(!coop_file_exists(out));
    free(args);
    args = coop_asprintf("--checkpoint '%s' --vocab '%s' --truncate --text '%s' --out '%s'", ckpt,
                         vocab, longtext, out);
    ck_assert_int_eq(run(args), 0);
    free(args);
    args = coop_asprintf("--checkpoint '%s' --vocab '%s' --text x --out /nonexistent/dir/o.h5",
                         ckpt, vocab);
    ck_assert_int_eq(run(args), 1); /* the output, not the input */
    free(args);
    stderr_has("/nonexistent/dir/o.h5");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("coop_encode");
    TCase *tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, encodes_texts);
    tcase_add_test(tc, encodes_images_and_prints_probabilities);
    tcase_add_test(tc, errors_exit_nonzero);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
