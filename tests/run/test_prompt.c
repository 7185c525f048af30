/* test_prompt.c: coop-prompt's library side (coop/prompt.h). Tokens as
 * text: hand-made byte-level entries and every entry of the shipped world
 * vocabulary against the tokenizer's own decoding. Nearest words of a toy
 * sweep's learned context: the L2 ranking agrees with the nearest words the
 * trial recorded through the backbone, cosine similarities come best first,
 * class-specific context is listed per class. The exported prompt file holds
 * the context and evaluates in coop_run_eval_stored to the trial's own
 * numbers. */
#include "coop/loader.h"
#include "coop/matrix.h"
#include "coop/prompt.h"
#include "coop/results.h"
#include "coop/run.h"
#include "coop/tokenizer.h"
#include "coop/util.h"
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../common/check_run.h"
#include "../common/tmpdir.h"
#include "../common/toy_sweep.h"

static void expect_text(const char *raw, const char *want)
{
    char buf[128];
    size_t n = coop_prompt_token_text(raw, buf, sizeof buf);
    ck_assert_str_eq(buf, want);
    ck_assert_uint_eq(n, strlen(want));
}

START_TEST(token_text_decodes_bytes)
{
    expect_text("photo</w>", "photo");
    expect_text("pho", "pho-");
    expect_text("\xc3\x83\xc2\xbc</w>", "\xc3\xbc");  /* "Ã¼" = bytes C3 BC = "ü" */
    expect_text("\xc3\x83", "\\xc3-");                /* half a UTF-8 sequence */
    expect_text("\xc4\xa0", "\\x20-");                /* U+0120: the space byte */
    expect_text("\xc4\x89</w>", "\\x09");             /* U+0109: a tab */
    expect_text("\xc4\x80", "\\x00-");                /* U+0100: byte 0 */
    expect_text("\xc4\xa1", "\\x7f-");                /* U+0121: byte 127 */
    expect_text("\xc5\x83", "\\xad-");                /* U+0143: byte 173, the last */
    expect_text("\\</w>", "\\\\");
    expect_text("<|endoftext|>", "<|endoftext|>");
    char small[4];
    ck_assert_uint_eq(coop_prompt_token_text("photo</w>", small, sizeof small), 5);
    ck_assert_str_eq(small, "pho");
}
END_TEST

/* Every printable entry of the world vocabulary reads as the tokenizer
 * decodes it: "</w>" -> no mark, otherwise a trailing '-'. */
START_TEST(token_text_matches_the_world_vocabulary)
{
    const char *src = getenv("COOP_SOURCE_ROOT");
    ck_assert_ptr_nonnull(src);
    char *path = coop_asprintf("%s/models/world-clip/bpe_world.txt.gz", src);
    struct coop_tokenizer *t;
    struct coop_err e;
    ck_assert_msg(coop_tokenizer_load(&t, path, &e) == 0, "%s", e.msg);
    int V = coop_tokenizer_vocab_size(t), checked = 0, escaped = 0;
    for (int32_t v = 0; v < V; v++) {
        char text[128], want[128];
        coop_prompt_token_text(coop_tokenizer_token(t, v), text, sizeof text);
        char *dec = coop_tokenizer_decode(t, &v, 1);
        ck_assert_ptr_nonnull(dec);
        const char *raw = coop_tokenizer_token(t, v);
        size_t rl = strlen(raw), n = strlen(dec);
        bool word_end = rl >= 4 && !strcmp(raw + rl - 4, "</w>");
        size_t body = n - (word_end && n ? 1 : 0); /* decode ends a word with a space */
        bool plain = !strstr(dec, "\xef\xbf\xbd") && !strchr(dec, '\\') && body > 0;
        for (size_t i = 0; i < body; i++)
            plain = plain && (unsigned char)dec[i] > 0x20 && dec[i] != 0x7f;
        if (v == coop_tokenizer_sot(t) || v == coop_tokenizer_eot(t)) {
            ck_assert_str_eq(text, raw);
        } else if (plain) {
            snprintf(want, sizeof want, "%.*s%s", (int)body, dec, word_end ? "" : "-");
            ck_assert_str_eq(text, want);
            checked++;
        } else {
            ck_assert_msg(strchr(text, '\\'), "token %d: '%s'", (int)v, text); /* \xNN, \\ */
            escaped++;
        }
        free(dec);
    }
    /* the byte-level tokens that are not text on their own are escaped */
    ck_assert_int_gt(checked, 500);
    ck_assert_int_gt(escaped, 100);
    coop_tokenizer_free(t);
    free(path);
}
END_TEST

/* ---- a toy sweep --------------------------------------------------------- */
static char tmpdir[256];

static void remove_tmp(void)
{
    if (tmpdir[0])
        ck_assert_int_eq(coop_test_rmtree(tmpdir), 0);
}

/* A unified and a class-specific CoOp trial and a zero-shot one on the toy task. */
static struct coop_registry *toy_sweep(void)
{
    struct coop_registry *reg = coop_test_registry();
    ck_assert_int_eq(coop_test_tmpdir(tmpdir, sizeof tmpdir, "prompt"), 0);
    struct coop_run_summary s;
    coop_test_toy_sweep(reg, tmpdir, "p.yaml",
                        "experiment: p\nbackbone: {plugin: toy, checkpoint: toy.ckpt}\n"
                        "datasets: [toy_colors]\n"
                        "methods:\n  - {name: coop, n_ctx: 3, csc: [false, true]}\n"
                        "  - zeroshot\nshots: 2\ntrain: {epochs: 5, lr: 0.05, batch_size: 8}\n",
                        &s);
    ck_assert_uint_eq(s.completed, 3);
    coop_run_summary_free(&s);
    return reg;
}

/* The results file of the trial whose method attribute is method (csc for coop). */
static char *trial_file(const char *method, bool csc)
{
    char *dir = coop_asprintf("%s/results/p", tmpdir), *found = NULL;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        if (de->d_name[0] == '.' || !strstr(de->d_name, ".h5"))
            continue;
        char *f = coop_asprintf("%s/%s", dir, de->d_name), *plugin;
        struct coop_results_reader *r;
        struct coop_err e;
        bool c = false;
        ck_assert_int_eq(coop_results_open(f, &r, &e), 0);
        ck_assert_int_eq(coop_results_read_attr_str(r, "method_plugin", &plugin, &e), 0);
        if (coop_results_has_attr(r, "axis_csc"))
            ck_assert_int_eq(coop_results_read_attr_bool(r, "axis_csc", &c, &e), 0);
        if (!strcmp(plugin, method) && c == csc)
            found = f;
        else
            free(f);
        free(plugin);
        coop_results_close(r);
    }
    closedir(d);
    free(dir);
    ck_assert_ptr_nonnull(found);
    return found;
}

static char *show(struct coop_registry *reg, const char *file, int k, bool by_l2)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    struct coop_prompt_request q = {file, k, by_l2, NULL};
    struct coop_err e;
    ck_assert_msg(coop_prompt_show(&q, reg, out, &e) == 0, "%s", e.msg);
    fclose(out);
    char *copy = coop_strdup(text);
    free(text);
    return copy;
}

START_TEST(nearest_words_of_a_toy_sweep)
{
    struct coop_registry *reg = toy_sweep();
    char *unified = trial_file("coop", false);
    /* L2: the same words and distances as interpret/ (the backbone's own search) */
    char *text = show(reg, unified, 5, true);
    struct coop_results_reader *r;
    struct coop_err e;
    ck_assert_int_eq(coop_results_open(unified, &r, &e), 0);
    char **words;
    float *dist;
    int rank;
    size_t shape[COOP_RESULTS_MAX_RANK];
    ck_assert_int_eq(coop_results_read_strings(r, "interpret/nearest_words", &words, &rank, shape,
                                               &e), 0);
    ck_assert_int_eq(coop_results_read_f32(r, "interpret/nearest_distances", &dist, &rank, shape,
                                           &e), 0);
    ck_assert_uint_eq(shape[0], 3);
    for (size_t row = 0; row < 3; row++) {
        char want[128];
        snprintf(want, sizeof want, "  ctx %zu: %s (cos ", row + 1, words[row * shape[1]]);
        const char *line = strstr(text, want);
        ck_assert_msg(line, "'%s' not in:\n%s", want, text);
        for (size_t j = 0; j < 5; j++) {
            snprintf(want, sizeof want, "%s (cos ", words[row * shape[1] + j]);
            const char *at = strstr(line, want);
            ck_assert_msg(at && at < strchr(line, '\n'), "'%s' not on '%.200s'", want, line);
            double l2 = atof(strstr(at, "L2 ") + 3);
            ck_assert_double_eq_tol(l2, dist[row * shape[1] + j], 1e-3);
        }
    }
    ck_assert_msg(strstr(text, "3 vectors of 8 (unified); the 5 nearest of 512 tokens by L2"),
                  "%s", text);
    coop_results_free_strings(words, shape[0] * shape[1]);
    free(dist);
    coop_results_close(r);
    free(text);
    /* cosine: best first on every line */
    text = show(reg, unified, 4, false);
    for (const char *line = strstr(text, "  ctx "); line; line = strstr(line + 1, "  ctx ")) {
        double prev = 2;
        const char *end = strchr(line, '\n');
        for (const char *c = strstr(line, "(cos "); c && c < end; c = strstr(c + 1, "(cos ")) {
            double v = atof(c + 5);
            ck_assert_double_le(v, prev);
            prev = v;
        }
    }
    free(text);
    /* class-specific context: per class, M lines each */
    char *csc = trial_file("coop", true);
    text = show(reg, csc, 2, false);
    ck_assert_msg(strstr(text, "class 1 'red':\n  ctx 1: ") &&
                  strstr(text, "class 4 'yellow':\n  ctx 1: ") && strstr(text, "  ctx 3: ") &&
                  !strstr(text, "  ctx 4: "), "%s", text);
    free(text);
    /* one class, by name or by index; a misspelt one is suggested */
    struct coop_prompt_request one = {csc, 2, false, "blue"};
    char *log = NULL;
    size_t loglen = 0;
    FILE *out = open_memstream(&log, &loglen);
    ck_assert_msg(coop_prompt_show(&one, reg, out, &e) == 0, "%s", e.msg);
    one.cls = "3";
    ck_assert_msg(coop_prompt_show(&one, reg, out, &e) == 0, "%s", e.msg);
    fclose(out);
    ck_assert_msg(strstr(log, "class 3 'blue':\n") && !strstr(log, "class 1 ") &&
                  !strstr(log, "class 4 "), "%s", log);
    free(log);
    one.cls = "bleu";
    ck_assert_int_eq(coop_prompt_show(&one, reg, stdout, &e), COOP_E_INVAL);
    ck_assert_msg(strstr(e.msg, "no class 'bleu' among its 4 (did you mean 'blue'?)"), "%s",
                  e.msg);
    one = (struct coop_prompt_request){unified, 2, false, "blue"};
    ck_assert_int_eq(coop_prompt_show(&one, reg, stdout, &e), COOP_E_INVAL);
    ck_assert_msg(strstr(e.msg, "the context is unified"), "%s", e.msg);
    /* a baseline's file holds no learned context */
    char *zs = trial_file("zeroshot", false);
    struct coop_prompt_request q = {zs, 5, false, NULL};
    ck_assert_int_eq(coop_prompt_show(&q, reg, stdout, &e), COOP_E_INVAL);
    ck_assert_msg(strstr(e.msg, "not a learned prompt"), "%s", e.msg);
    free(zs), free(csc), free(unified);
    coop_registry_free(reg);
}
END_TEST

START_TEST(exported_prompt_evaluates_as_the_trial)
{
    struct coop_registry *reg = toy_sweep();
    char *trial = trial_file("coop", true), *out = coop_asprintf("%s/export/ctx.h5", tmpdir);
    struct coop_err e;
    ck_assert_int_eq(coop_prompt_export(trial, "ctx.txt", &e), COOP_E_INVAL);
    ck_assert_msg(coop_prompt_export(trial, out, &e) == 0, "%s", e.msg);
    struct coop_results_reader *a, *b;
    ck_assert_int_eq(coop_results_open(trial, &a, &e), 0);
    ck_assert_msg(coop_results_open(out, &b, &e) == 0, "%s", e.msg);
    float *ca, *cb;
    int ra, rb;
    size_t sa[COOP_RESULTS_MAX_RANK], sb[COOP_RESULTS_MAX_RANK];
    ck_assert_int_eq(coop_results_read_f32(a, "params/ctx", &ca, &ra, sa, &e), 0);
    ck_assert_int_eq(coop_results_read_f32(b, "params/ctx", &cb, &rb, sb, &e), 0);
    ck_assert_int_eq(ra, 3);
    ck_assert_int_eq(rb, 3);
    ck_assert_mem_eq(sa, sb, 3 * sizeof *sa);
    ck_assert_mem_eq(ca, cb, sa[0] * sa[1] * sa[2] * sizeof *ca);
    char *fmt, *src_id, *id;
    int64_t version;
    ck_assert_int_eq(coop_results_read_attr_str(b, "format", &fmt, &e), 0);
    ck_assert_str_eq(fmt, "coop-prompt");
    ck_assert_int_eq(coop_results_read_attr_int(b, "format_version", &version, &e), 0);
    ck_assert_int_eq(version, 1);
    ck_assert_int_eq(coop_results_read_attr_str(b, "source_trial_id", &src_id, &e), 0);
    ck_assert_int_eq(coop_results_read_attr_str(a, "trial_id", &id, &e), 0);
    ck_assert_str_eq(src_id, id);
    char **names;
    ck_assert_int_eq(coop_results_read_strings(b, "class_names", &names, &ra, sa, &e), 0);
    ck_assert_uint_eq(sa[0], 4);
    ck_assert_str_eq(names[3], "yellow");
    coop_results_free_strings(names, 4);
    ck_assert(coop_results_has(b, "method/param_keys"));
    ck_assert(!coop_results_has(b, "eval/test/accuracy")); /* the context only */
    free(fmt), free(src_id), free(id), free(ca), free(cb);
    coop_results_close(a);
    coop_results_close(b);
    /* evaluated from the prompt file: the numbers of the trial's own file */
    char *cache = coop_asprintf("%s/cache", tmpdir);
    struct coop_eval_request q = {trial, "toy_colors_shift", NULL, NULL, cache};
    struct coop_run_options o = {.out = NULL};
    double acc1, f1a, acc2, f1b;
    ck_assert_msg(coop_run_eval_stored(&q, reg, &o, &acc1, &f1a, &e) == 0, "%s", e.msg);
    q.results_file = out;
    ck_assert_msg(coop_run_eval_stored(&q, reg, &o, &acc2, &f1b, &e) == 0, "%s", e.msg);
    ck_assert_double_eq(acc1, acc2);
    ck_assert_double_eq(f1a, f1b);
    /* and its words print like the trial's */
    char *t1 = show(reg, trial, 3, false), *t2 = show(reg, out, 3, false);
    ck_assert_str_eq(strchr(t1, '\n'), strchr(t2, '\n'));
    free(t1), free(t2), free(cache), free(out), free(trial);
    coop_registry_free(reg);
}
END_TEST

/* A CoCoOp trial stores its meta-net with its context as one flat vector:
 * coop-prompt refuses it by name instead of misreading it. */
START_TEST(cocoop_trial_is_refused_by_name)
{
    struct coop_registry *reg = coop_test_registry();
    ck_assert_int_eq(coop_test_tmpdir(tmpdir, sizeof tmpdir, "prompt"), 0);
    struct coop_run_summary s;
    const char *root = getenv("COOP_SOURCE_ROOT");
    /* the shipped world CLIP: the toy backbone's 8-d embedding is too narrow for a meta-net */
    char *body = coop_asprintf("experiment: p\nbackbone: {plugin: clip, checkpoint: "
                               "%s/models/world-clip/world-clip.safetensors}\n"
                               "datasets: [{name: world-shapes, options: {train_per_class: 2, "
                               "val_per_class: 1, test_per_class: 1}}]\n"
                               "methods: [cocoop]\nshots: 1\ntrain: {epochs: 1}\n",
                               root ? root : ".");
    coop_test_toy_sweep(reg, tmpdir, "p.yaml", body, &s);
    free(body);
    ck_assert_uint_eq(s.completed, 1);
    coop_run_summary_free(&s);
    char *f = trial_file("cocoop", false);
    FILE *out = tmpfile();
    struct coop_prompt_request q = {f, 5, false, NULL};
    struct coop_err e;
    ck_assert_int_eq(coop_prompt_show(&q, reg, out, &e), COOP_E_INVAL);
    ck_assert_msg(strstr(e.msg, "method 'cocoop' stores no context of token vectors"), "%s",
                  e.msg);
    fclose(out);
    free(f);
    coop_registry_free(reg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("prompt");
    TCase *tc = tcase_create("prompt");
    tcase_add_checked_fixture(tc, NULL, remove_tmp);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, token_text_decodes_bytes);
    tcase_add_test(tc, token_text_matches_the_world_vocabulary);
    tcase_add_test(tc, nearest_words_of_a_toy_sweep);
    tcase_add_test(tc, exported_prompt_evaluates_as_the_trial);
    tcase_add_test(tc, cocoop_trial_is_refused_by_name);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
