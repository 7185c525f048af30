/* test_tokenizer.c: the BPE tokenizer against OpenAI's simple_tokenizer:
 * known ids from the reference doc, a committed golden corpus of 6,500
 * strings (tests/clip/gen_tokenizer_golden.py), the same corpus through a
 * Hugging Face vocab.json + merges.txt converted here, wrapping/truncation,
 * decode, and load errors. Needs COOP_SHARED_DIR/clip/bpe_simple_vocab_16e6.txt.gz. */
#include "../../core/clip/nfc.h"
#include "coop/tokenizer.h"
#include "coop/util.h"
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "../common/check_run.h"
#include "../common/tmpdir.h"

static struct coop_tokenizer *tok;
static char vocab_path[4096];

static bool have_vocab(void)
{
    const char *sh = getenv("COOP_SHARED_DIR");
    if (!sh)
        return false;
    snprintf(vocab_path, sizeof vocab_path, "%s/clip/bpe_simple_vocab_16e6.txt.gz", sh);
    return coop_file_exists(vocab_path);
}

static void setup(void)
{
    struct coop_err e;
    if (!have_vocab())
        return;
    ck_assert_msg(coop_tokenizer_load(&tok, vocab_path, &e) == 0, "%s", e.msg);
}

static void teardown(void)
{
    coop_tokenizer_free(tok);
    tok = NULL;
}

#define NEED_VOCAB()                                                                       \
    do {                                                                                   \
        if (!tok) {                                                                        \
            printf("SKIP %s: COOP_SHARED_DIR/clip vocabulary not found\n", __func__);     \
            return;                                                                        \
        }                                                                                  \
    } while (0)

static void check_ids(const struct coop_tokenizer *t, const char *text, const int32_t *want,
                      size_t nwant)
{
    int32_t *ids;
    size_t n;
    struct coop_err e;
    ck_assert_int_eq(coop_tokenizer_encode(t, text, &ids, &n, &e), 0);
    ck_assert_uint_eq(n, nwant);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(ids[i], want[i]);
    free(ids);
}

START_TEST(known_ids)
{
    NEED_VOCAB();
    ck_assert_int_eq(coop_tokenizer_vocab_size(tok), 49408);
    ck_assert_int_eq(coop_tokenizer_sot(tok), 49406);
    ck_assert_int_eq(coop_tokenizer_eot(tok), 49407);
    check_ids(tok, "a photo of a cat", (int32_t[]){320, 1125, 539, 320, 2368}, 5);
    check_ids(tok, "a diagram", (int32_t[]){320, 22697}, 2);
    check_ids(tok, "a dog", (int32_t[]){320, 1929}, 2);
    check_ids(tok, "Hello, World!", (int32_t[]){3306, 267, 1002, 256}, 4);
    check_ids(tok, "it's 2024", (int32_t[]){585, 568, 273, 271, 273, 275}, 6);
    check_ids(tok, "<|endoftext|>", (int32_t[]){49407}, 1);
    check_ids(tok, "", NULL, 0);
}
END_TEST

/* Golden file: hex(UTF-8) TAB ids. Returns the number of lines checked. */
static size_t run_golden(const struct coop_tokenizer *t, size_t *bad)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/clip/data/tokenizer_golden.txt",
             getenv("COOP_SOURCE_ROOT"));
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    static char line[1 << 16];
    char text[1 << 15];
    int32_t want[4096];
    size_t count = 0, lineno = 0;
    /* under valgrind every 25th string: the full corpus takes too long */
    size_t stride = getenv("COOP_VALGRIND") ? 25 : 1;
    *bad = 0;
    ck_assert(fgets(line, sizeof line, f) && strncmp(line, "# coop tokenizer golden v1", 26) == 0);
    while (fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        ck_assert(tab != NULL);
        if (lineno++ % stride)
            continue;
        size_t hl = (size_t)(tab - line), tl = hl / 2, nw = 0;
        for (size_t i = 0; i < tl; i++) {
            unsigned v;
            ck_assert(sscanf(line + 2 * i, "%2x", &v) == 1);
            text[i] = (char)v;
        }
        text[tl] = '\0';
        for (char *p = tab + 1, *end; (want[nw] = (int32_t)strtol(p, &end, 10)), end != p; p = end)
            nw++;
        int32_t *ids;
        size_t n;
        struct coop_err e;
        ck_assert_int_eq(coop_tokenizer_encode(t, text, &ids, &n, &e), 0);
        bool ok = n == nw && memcmp(ids, want, n * sizeof *ids) == 0;
        if (!ok && (*bad)++ < 10) {
            printf("MISMATCH \"%s\": got", text);
            for (size_t i = 0; i < n; i++)
                printf(" %d", ids[i]);
            printf(" want");
            for (size_t i = 0; i < nw; i++)
                printf(" %d", want[i]);
            printf("\n");
        }
        if (ok) { /* wrapping as clip.tokenize(truncate=True) on the same ids */
            int32_t w[77];
            int eot;
            ck_assert_int_eq(coop_tokenizer_tokenize(t, text, 77, true, w, &eot, &e), 0);
            size_t k = n > 75 ? 75 : n;
            ck_assert_int_eq(w[0], 49406);
            ck_assert_int_eq(eot, (int)k + 1);
            ck_assert_int_eq(w[k + 1], 49407);
            ck_assert(memcmp(w + 1, ids, k * sizeof *ids) == 0);
            for (size_t i = k + 2; i < 77; i++)
                ck_assert_int_eq(w[i], 0);
            int rc = coop_tokenizer_tokenize(t, text, 77, false, w, &eot, &e);
            ck_assert_int_eq(rc, n > 75 ? COOP_E_INVAL : 0);
        }
        free(ids);
        count++;
    }
    fclose(f);
    return count;
}

START_TEST(golden_corpus)
{
    NEED_VOCAB();
    size_t bad, n = run_golden(tok, &bad);
    printf("tokenizer golden: %zu strings, %zu mismatches\n", n, bad);
    ck_assert_uint_ge(n, getenv("COOP_VALGRIND") ? 80 : 2000);
    ck_assert_uint_eq(bad, 0);
}
END_TEST

/* Writes s as a JSON string (the vocabulary holds no control characters
 * except through the byte-to-unicode mapping, which is above U+0100). */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* CLIP gz -> HF vocab.json + merges.txt (as transformers' CLIPTokenizer
 * files are laid out), built from the raw file, not through the tokenizer. */
static void convert_to_hf(const char *dir)
{
    gzFile g = gzopen(vocab_path, "rb");
    ck_assert(g != NULL);
    char vj[4200], mt[4200];
    snprintf(vj, sizeof vj, "%s/vocab.json", dir);
    snprintf(mt, sizeof mt, "%s/merges.txt", dir);
    FILE *m = fopen(mt, "w"), *v = fopen(vj, "w");
    ck_assert(m && v);
    fprintf(m, "#version: 0.2\n");
    fprintf(v, "{");
    int id = 0;
    for (int pass = 0; pass < 2; pass++) { /* vocab order of bytes_to_unicode() */
        for (int k = 0; k < 2; k++)
            for (int b = 0; b < 256; b++) {
                bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                                 (b >= 0xAE && b <= 0xFF);
                if (printable != (k == 0))
                    continue;
                static int extra;
                if (b == 0 && k == 1)
                    extra = 0;
                unsigned cp = printable ? (unsigned)b : 256u + (unsigned)extra++;
                char s[8];
                int l = cp < 0x80 ? (s[0] = (char)cp, 1)
                                  : (s[0] = (char)(0xC0 | (cp >> 6)), s[1] = (char)(0x80 | (cp & 0x3F)), 2);
                s[l] = '\0';
                fprintf(v, "%s", id ? "," : "");
                char t[16];
                snprintf(t, sizeof t, "%s%s", s, pass ? "</w>" : "");
                json_str(v, t);
                fprintf(v, ":%d", id++);
            }
    }
    static char line[1024];
    ck_assert(gzgets(g, line, sizeof line) != NULL); /* header */
    for (int r = 0; r < 49152 - 256 - 2 && gzgets(g, line, sizeof line); r++) {
        line[strcspn(line, "\n")] = '\0';
        fprintf(m, "%s\n", line);
        char *sp = strchr(line, ' ');
        ck_assert(sp != NULL);
        *sp = '\0';
        char joined[1024];
        snprintf(joined, sizeof joined, "%s%s", line, sp + 1);
        fprintf(v, ",");
        json_str(v, joined);
        fprintf(v, ":%d", id++);
    }
    fprintf(v, ",\"<|startoftext|>\":%d,\"<|endoftext|>\":%d}", id, id + 1);
    gzclose(g);
    fclose(m);
    fclose(v);
}

START_TEST(hf_files_give_same_ids)
{
    NEED_VOCAB();
    char dir[256];
    ck_assert_int_eq(coop_test_tmpdir(dir, sizeof dir, "hf-vocab"), 0);
    convert_to_hf(dir);
    struct coop_tokenizer *hf;
    struct coop_err e;
    char vj[4200];
    snprintf(vj, sizeof vj, "%s/vocab.json", dir);
    ck_assert_msg(coop_tokenizer_load(&hf, vj, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(coop_tokenizer_vocab_size(hf), 49408);
    for (int32_t i = 0; i < 49408; i++)
        ck_assert_str_eq(coop_tokenizer_token(hf, i), coop_tokenizer_token(tok, i));
    size_t bad, n = run_golden(hf, &bad);
    ck_assert_uint_ge(n, getenv("COOP_VALGRIND") ? 80 : 2000);
    ck_assert_uint_eq(bad, 0);
    coop_tokenizer_free(hf);
    /* directory form finds vocab.json too */
    ck_assert_msg(coop_tokenizer_load(&hf, dir, &e) == 0, "%s", e.msg);
    check_ids(hf, "a photo of a cat", (int32_t[]){320, 1125, 539, 320, 2368}, 5);
    coop_tokenizer_free(hf);
    ck_assert_int_eq(coop_test_rmtree(dir), 0);
}
END_TEST

/* Several threads share one tokenizer (and its cache): same ids as alone. */
struct thread_job {
    const char *text;
    int32_t ids[77];
    int rc;
};

static void *tokenize_many(void *arg)
{
    struct thread_job *j = arg;
    struct coop_err e;
    for (int r = 0; r < 200 && j->rc == 0; r++) {
        int32_t ids[77];
        j->rc = coop_tokenizer_tokenize(tok, j->text, 77, true, ids, NULL, &e);
        if (j->rc == 0 && memcmp(ids, j->ids, sizeof ids) != 0)
            j->rc = -100;
    }
    return NULL;
}

START_TEST(threads_share_a_tokenizer)
{
    NEED_VOCAB();
    static const char *texts[4] = {"a photo of a golden retriever.", "ΟΔΟΣ café &amp; naïve",
                                   "a sketch of a Boeing 737-800", "itap of my hot-air balloon!"};
    struct coop_err e;
    struct thread_job jobs[4];
    pthread_t th[4];
    struct coop_tokenizer *fresh;
    ck_assert_int_eq(coop_tokenizer_load(&fresh, vocab_path, &e), 0);
    for (int i = 0; i < 4; i++) { /* expected ids from a tokenizer with an empty cache */
        jobs[i].text = texts[i];
        jobs[i].rc = 0;
        ck_assert_int_eq(coop_tokenizer_tokenize(fresh, texts[i], 77, true, jobs[i].ids, NULL, &e), 0);
    }
    coop_tokenizer_free(fresh);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, tokenize_many, &jobs[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(jobs[i].rc, 0);
    }
}
END_TEST

START_TEST(wrap_truncate_and_errors)
{
    NEED_VOCAB();
    int32_t ids[77];
    int eot;
    struct coop_err e;
    ck_assert_int_eq(coop_tokenizer_tokenize(tok, "a photo of a cat", 77, false, ids, &eot, &e), 0);
    int32_t want[] = {49406, 320, 1125, 539, 320, 2368, 49407, 0};
    ck_assert(memcmp(ids, want, sizeof want) == 0);
    ck_assert_int_eq(eot, 6);
    /* 8 positions: SOS + 6 tokens + EOT is the limit */
    ck_assert_int_eq(coop_tokenizer_tokenize(tok, "a a a a a a", 8, false, ids, &eot, &e), 0);
    ck_assert_int_eq(eot, 7);
    ck_assert_int_eq(coop_tokenizer_tokenize(tok, "a a a a a a a", 8, false, ids, &eot, &e),
                     COOP_E_INVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "too long"));
    ck_assert_ptr_nonnull(strstr(e.msg, "a a a a a a a"));
    ck_assert_int_eq(coop_tokenizer_tokenize(tok, "a a a a a a a", 8, true, ids, &eot, &e), 0);
    ck_assert_int_eq(eot, 7);
    ck_assert_int_eq(ids[7], 49407);
    ck_assert_int_eq(ids[6], 320);
    ck_assert_int_eq(coop_tokenizer_tokenize(tok, "x", 1, true, ids, &eot, &e), COOP_E_INVAL);
}
END_TEST

START_TEST(decode_and_normalize)
{
    NEED_VOCAB();
    int32_t *ids;
    size_t n;
    struct coop_err e;
    ck_assert_int_eq(coop_tokenizer_encode(tok, "A  Photo of a CAFÉ &amp; ΟΔΟΣ!", &ids, &n, &e), 0);
    char *d = coop_tokenizer_decode(tok, ids, n);
    ck_assert_str_eq(d, "a photo of a café & οδος ! ");
    free(d);
    free(ids);
    int32_t sp[] = {49406, 320, 49407};
    d = coop_tokenizer_decode(tok, sp, 3);
    ck_assert_str_eq(d, "<|startoftext|>a <|endoftext|>");
    free(d);
    int32_t badid[] = {49408};
    ck_assert_ptr_null(coop_tokenizer_decode(tok, badid, 1));
    ck_assert_str_eq(coop_tokenizer_token(tok, 2368), "cat</w>");
    ck_assert_ptr_null(coop_tokenizer_token(tok, -1));
    char *s = coop_tokenizer_normalize("  &amp;lt;Hello\t\n WORLD ΣΑΣ İ ﬁ “x” ＡＢ &#128;  ");
    ck_assert_str_eq(s, "<hello world σας i\xcc\x87 fi \"x\" ab \xe2\x82\xac");
    free(s);
    s = coop_tokenizer_normalize("bad \xff\xc3 utf8 \xe2\x82");
    ck_assert_str_eq(s, "bad \xef\xbf\xbd\xef\xbf\xbd utf8 \xef\xbf\xbd");
    free(s);
}
END_TEST

/* NFC round trips: every primary composite and every Hangul syllable is
 * rebuilt from its decomposition; reordering puts marks in class order. */
START_TEST(nfc_round_trips)
{
    size_t checked = 0;
    for (size_t i = 0; i < coop_nfc_comp_n; i++) {
        uint32_t in[2] = {coop_nfc_comp[i][0], coop_nfc_comp[i][1]}, *o;
        size_t n;
        ck_assert_int_eq(coop_nfc(in, 2, &o, &n), 0);
        ck_assert_msg(n == 1 && o[0] == coop_nfc_comp[i][2], "U+%04X U+%04X", in[0], in[1]);
        free(o);
        checked++;
    }
    for (uint32_t s = 0xAC00; s <= 0xD7A3; s++) {
        uint32_t si = s - 0xAC00, in[3] = {0x1100 + si / 588, 0x1161 + (si % 588) / 28,
                                           0x11A7 + si % 28}, *o;
        size_t n;
        ck_assert_int_eq(coop_nfc(in, si % 28 ? 3 : 2, &o, &n), 0);
        ck_assert(n == 1 && o[0] == s);
        free(o);
    }
    /* e + cedilla (202) + acute (230), given in the wrong order: reordered,
     * then both compose: U+0229 (e cedilla) + acute stays as two */
    uint32_t in[3] = {'e', 0x301, 0x327}, *o;
    size_t n;
    ck_assert_int_eq(coop_nfc(in, 3, &o, &n), 0);
    ck_assert(n == 2 && o[0] == 0x229 && o[1] == 0x301);
    free(o);
    uint32_t ex[1] = {0x958}; /* composition exclusion: stays decomposed */
    ck_assert_int_eq(coop_nfc(ex, 1, &o, &n), 0);
    ck_assert(n == 2 && o[0] == 0x915 && o[1] == 0x93C);
    free(o);
    ck_assert_int_eq(coop_nfc(NULL, 0, &o, &n), 0);
    ck_assert_uint_eq(n, 0);
    free(o);
    ck_assert_uint_gt(checked, 900);
}
END_TEST

START_TEST(load_errors)
{
    struct coop_tokenizer *t = NULL;
    struct coop_err e;
    ck_assert_int_eq(coop_tokenizer_load(&t, "/nonexistent/bpe.txt.gz", &e), COOP_E_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/bpe.txt.gz"));
    char dir[256], path[300];
    ck_assert_int_eq(coop_test_tmpdir(dir, sizeof dir, "bad-vocab"), 0);
    snprintf(path, sizeof path, "%s/bad_vocab", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    ck_assert(fd >= 0);
    /* a gzip header cut short: corrupt stream */
    const unsigned char junk[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xab};
    ck_assert(write(fd, junk, sizeof junk) == (ssize_t)sizeof junk);
    close(fd);
    ck_assert_int_ne(coop_tokenizer_load_clip(&t, path, &e), 0);
    ck_assert_ptr_nonnull(strstr(e.msg, path));
    /* a merge whose symbols are not in the vocabulary */
    gzFile g = gzopen(path, "wb");
    gzputs(g, "#version\ne r\nqq zz\n");
    gzclose(g);
    ck_assert_int_eq(coop_tokenizer_load_clip(&t, path, &e), COOP_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, ":3: merge 'qq zz'"));
    /* a gzip'd file cut short is called truncated, not corrupt */
    g = gzopen(path, "wb");
    for (int i = 0; i < 4000; i++)
        gzprintf(g, "%s%d %d\n", i ? "" : "#version\n", i * 7919 % 10007, i);
    gzclose(g);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(truncate(path, sb.st_size / 2), 0);
    ck_assert_int_eq(coop_tokenizer_load_clip(&t, path, &e), COOP_E_FORMAT);
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, "truncated gzip stream"), "%s", e.msg);
    ck_assert_msg(!strstr(e.msg, "corrupt"), "%s", e.msg);
    /* a binary file (gzread passes it through) is named binary, its bytes not echoed */
    fd = open(path, O_WRONLY | O_TRUNC);
    const char bin[] = "#version\ne r\n\x1b[2J\x1b[31mq\x00z\n";
    ck_assert(write(fd, bin, sizeof bin - 1) == (ssize_t)(sizeof bin - 1));
    close(fd);
    ck_assert_int_eq(coop_tokenizer_load_clip(&t, path, &e), COOP_E_FORMAT);
    ck_assert_msg(strstr(e.msg, "not a BPE vocabulary: binary data (byte 0x1B at offset 13; "
                                "the file is not gzip'd)"), "%s", e.msg);
    ck_assert_ptr_null(strchr(e.msg, '\x1b'));
    g = gzopen(path, "wb"); /* the same inside gzip */
    gzwrite(g, bin, sizeof bin - 1);
    gzclose(g);
    ck_assert_int_eq(coop_tokenizer_load_clip(&t, path, &e), COOP_E_FORMAT);
    ck_assert_msg(strstr(e.msg, "byte 0x1B at offset 13 of the decompressed text"), "%s", e.msg);
    ck_assert_ptr_null(strchr(e.msg, '\x1b'));
    ck_assert_int_eq(coop_test_rmtree(dir), 0);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(coop_tokenizer_find_near(&t, "/nonexistent/model.safetensors", &e),
                     COOP_E_IO);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("bpe");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, known_ids);
    tcase_add_test(tc, golden_corpus);
    tcase_add_test(tc, hf_files_give_same_ids);
    tcase_add_test(tc, wrap_truncate_and_errors);
    tcase_add_test(tc, threads_share_a_tokenizer);
    tcase_add_test(tc, decode_and_normalize);
    tcase_add_test(tc, load_errors);
    tcase_add_test(tc, nfc_round_trips);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
