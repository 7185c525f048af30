/* coop-encode: encode texts (and, later, images) with a CLIP checkpoint into
 * an HDF5 file: datasets `tokens` int32 [N, context_length], `text_features`
 * float32 [N, embed_dim] (not normalised), `texts` (UTF-8 strings), root
 * attributes arch / checkpoint / vocab. A thin executable over libcoop: the
 * work is in the checkpoint loader, the tokenizer and the text tower. Inputs
 * are gathered into struct inputs and each modality has its own encode step,
 * so an image side (--image) slots in next to encode_texts(). */
#include "coop/checkpoint.h"
#include "coop/clip.h"
#include "coop/tokenizer.h"
#include "coop/util.h"
#include "coop_config.h"
#include "h5out.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENCODE_BATCH 64

struct opts {
    const char *checkpoint, *vocab, *out, *texts_file;
    const char **texts; /* --text values, in order */
    size_t n_texts;
    bool truncate;
};

struct inputs {
    char **texts; /* --text values then --texts lines */
    size_t n_texts;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coop-encode --checkpoint FILE [--vocab FILE] [--text T]... [--texts FILE]\n"
            "                   [--truncate] --out FILE.h5\n"
            "Encodes texts with a CLIP checkpoint (safetensors: OpenAI, open_clip or Hugging\n"
            "Face names). Writes `tokens` int32 [N, L] and `text_features` float32 [N, E]\n"
            "(not normalised). --vocab: bpe_simple_vocab_16e6.txt.gz or vocab.json (with\n"
            "merges.txt beside it); default: found next to the checkpoint. --texts: one text\n"
            "per line (blank lines skipped). --truncate: cut texts longer than the context\n"
            "(keeping EOT last) instead of failing.\n");
}

static int parse_args(struct opts *o, int argc, char **argv)
{
    o->texts = calloc((size_t)argc + 1, sizeof *o->texts);
    if (!o->texts)
        return -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--version")) {
            printf("coop-encode %s (%s)\n", COOP_VERSION, COOP_GIT_REVISION);
            exit(0);
        } else if (!strcmp(a, "--truncate")) {
            o->truncate = true;
            continue;
        } else if (!strcmp(a, "--checkpoint")) {
            dst = &o->checkpoint;
        } else if (!strcmp(a, "--vocab")) {
            dst = &o->vocab;
        } else if (!strcmp(a, "--out")) {
            dst = &o->out;
        } else if (!strcmp(a, "--texts")) {
            dst = &o->texts_file;
        } else if (!strcmp(a, "--text")) {
            dst = &o->texts[o->n_texts++];
        } else {
            static const char *const known[] = {"--checkpoint", "--vocab", "--text", "--texts",
                                                "--out", "--truncate", "--help", "--version"};
            const char *s = coop_suggest(a, known, sizeof known / sizeof known[0]);
            fprintf(stderr, "coop-encode: unknown option '%s'%s%s%s\n", a,
                    s ? " (did you mean " : "", s ? s : "", s ? "?)" : "");
            return -1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "coop-encode: %s needs a value\n", a);
            return -1;
        }
        *dst = argv[++i];
    }
    if (!o->checkpoint || !o->out) {
        fprintf(stderr, "coop-encode: --checkpoint and --out are required (see --help)\n");
        return -1;
    }
    return 0;
}

static int push_text(struct inputs *in, const char *s, size_t len)
{
    char **n = realloc(in->texts, (in->n_texts + 1) * sizeof *n);
    if (!n)
        return -1;
    in->texts = n;
    if (!(n[in->n_texts] = malloc(len + 1)))
        return -1;
    memcpy(n[in->n_texts], s, len);
    n[in->n_texts++][len] = '\0';
    return 0;
}

static int gather_inputs(struct inputs *in, const struct opts *o, struct coop_err *e)
{
    for (size_t i = 0; i < o->n_texts; i++)
        if (push_text(in, o->texts[i], strlen(o->texts[i])))
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
    if (o->texts_file) {
        char *buf;
        size_t len;
        int rc = coop_read_file(o->texts_file, (size_t)1 << 30, &buf, &len, e);
        if (rc)
            return rc;
        for (char *p = buf; p < buf + len && rc == 0;) {
            char *nl = memchr(p, '\n', (size_t)(buf + len - p));
            size_t l = nl ? (size_t)(nl - p) : (size_t)(buf + len - p);
            size_t k = l;
            while (k > 0 && p[k - 1] == '\r')
                k--;
            bool blank = true;
            for (size_t j = 0; j < k; j++)
                blank = blank && (p[j] == ' ' || p[j] == '\t');
            if (!blank && push_text(in, p, k))
                rc = coop_fail(e, COOP_E_NOMEM, "out of memory");
            p += l + 1;
        }
        free(buf);
        if (rc)
            return rc;
    }
    if (in->n_texts == 0)
        return coop_fail(e, COOP_E_INVAL, "nothing to encode: give --text or --texts");
    return 0;
}

/* tokens [N, L], feat [N, E], in batches of ENCODE_BATCH prompts. */
static int encode_texts(const struct coop_clip_model *m, const struct coop_tokenizer *tok,
                        const struct inputs *in, bool truncate, int32_t *tokens, float *feat,
                        struct coop_err *e)
{
    int L = m->text.context_length, E = m->text.embed_dim;
    for (size_t i = 0; i < in->n_texts; i++) {
        int rc = coop_tokenizer_tokenize(tok, in->texts[i], L, truncate, tokens + i * (size_t)L,
                                         NULL, e);
        if (rc)
            return coop_fail_prefix(e, rc, "text %zu", i + 1);
    }
    for (size_t i = 0; i < in->n_texts; i += ENCODE_BATCH) {
        size_t k = in->n_texts - i < ENCODE_BATCH ? in->n_texts - i : ENCODE_BATCH;
        int rc = coop_clip_text_encode_ids(&m->text, tokens + i * (size_t)L, (int)k,
                                           feat + i * (size_t)E, e);
        if (rc)
            return rc;
    }
    return 0;
}

static int write_output(const char *path, const struct opts *o, const struct coop_clip_model *m,
                        const struct inputs *in, const int32_t *tokens, const float *feat,
                        struct coop_err *e)
{
    struct h5out *h;
    int rc = h5out_create(&h, path, e);
    if (rc)
        return rc;
    rc = h5out_int32(h, "tokens", tokens, in->n_texts, (size_t)m->text.context_length, e);
    rc = rc ? rc : h5out_float(h, "text_features", feat, in->n_texts, (size_t)m->text.embed_dim, e);
    rc = rc ? rc : h5out_strings(h, "texts", (const char *const *)in->texts, in->n_texts, e);
    rc = rc ? rc : h5out_attr(h, "arch", m->arch, e);
    rc = rc ? rc : h5out_attr(h, "checkpoint", o->checkpoint, e);
    rc = rc ? rc : h5out_attr(h, "vocab", o->vocab ? o->vocab : "(next to the checkpoint)", e);
    rc = rc ? rc : h5out_attr(h, "coop_version", COOP_VERSION, e);
    int rc2 = h5out_close(h, rc == 0, e);
    return rc ? rc : rc2;
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    struct inputs in = {0};
    struct coop_clip_model m = {0};
    struct coop_tokenizer *tok = NULL;
    struct coop_err e = {{0}};
    int32_t *tokens = NULL;
    float *feat = NULL;
    if (parse_args(&o, argc, argv)) {
        free(o.texts);
        return 2;
    }
    int rc = gather_inputs(&in, &o, &e);
    rc = rc ? rc : coop_clip_model_load(&m, o.checkpoint, &e);
    if (rc == 0)
        rc = o.vocab ? coop_tokenizer_load(&tok, o.vocab, &e)
                     : coop_tokenizer_find_near(&tok, o.checkpoint, &e);
    if (rc == 0 && coop_tokenizer_vocab_size(tok) > m.text.vocab_size)
        rc = coop_fail(&e, COOP_E_FORMAT, "the vocabulary has %d entries, the checkpoint %d",
                       coop_tokenizer_vocab_size(tok), m.text.vocab_size);
    if (rc == 0) {
        tokens = calloc(in.n_texts * (size_t)m.text.context_length, sizeof *tokens);
        feat = calloc(in.n_texts * (size_t)m.text.embed_dim, sizeof *feat);
        if (!tokens || !feat)
            rc = coop_fail(&e, COOP_E_NOMEM, "out of memory for %zu texts", in.n_texts);
    }
    rc = rc ? rc : encode_texts(&m, tok, &in, o.truncate, tokens, feat, &e);
    rc = rc ? rc : write_output(o.out, &o, &m, &in, tokens, feat, &e);
    if (rc)
        fprintf(stderr, "coop-encode: %s\n", e.msg);
    else
        fprintf(stderr, "coop-encode: %zu texts with %s -> %s\n", in.n_texts, m.arch, o.out);
    for (size_t i = 0; i < in.n_texts; i++)
        free(in.texts[i]);
    free(in.texts);
    free(o.texts);
    free(tokens);
    free(feat);
    coop_tokenizer_free(tok);
    coop_clip_model_free(&m);
    return rc ? 1 : 0;
}
