/* coop-encode: encode texts and images with a CLIP checkpoint into an HDF5
 * file: datasets `tokens` int32 [N, context_length], `text_features` float32
 * [N, embed_dim], `texts`; `image_features` float32 [M, embed_dim], `images`
 * (features not normalised); root attributes arch / checkpoint / vocab. With
 * both texts and images it prints each image's zero-shot probabilities over
 * the texts (the classic CLIP demo). A thin executable over libcoop: the work
 * is in the checkpoint loader, the tokenizer, the towers and image/. */
#include "coop/checkpoint.h"
#include "coop/clip.h"
#include "coop/cpu.h"
#include "coop/image.h"
#include "coop/nn.h"
#include "coop/results.h"
#include "coop/tokenizer.h"
#include "coop/util.h"
#include "coop_config.h"
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENCODE_BATCH 64 /* images per tower call (memory) */

struct opts {
    const char *checkpoint, *vocab, *out, *texts_file, *images_file;
    const char **texts; /* --text values, in order */
    size_t n_texts;
    const char **images; /* --image values, in order */
    size_t n_images;
    bool truncate;
};

struct inputs {
    char **texts; /* --text values then --texts lines */
    size_t n_texts;
    char **images; /* --image values then --images lines */
    size_t n_images;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coop-encode --checkpoint FILE [--vocab FILE] [--text T]... [--texts FILE]\n"
            "                   [--image FILE]... [--images LIST] [--truncate] --out FILE.h5\n"
            "Encodes texts with a CLIP checkpoint (safetensors: OpenAI, open_clip or Hugging\n"
            "Face names). Writes `tokens` int32 [N, L] and `text_features` float32 [N, E]\n"
            "(not normalised). --vocab: bpe_simple_vocab_16e6.txt.gz or vocab.json (with\n"
            "merges.txt beside it); default: found next to the checkpoint. --texts: one text\n"
            "per line (blank lines skipped). --truncate: cut texts longer than the context\n"
            "(keeping EOT last) instead of failing. --image / --images (one path per line):\n"
            "JPEG or PNG files, preprocessed as CLIP does (shorter side resized bicubic,\n"
            "center crop, normalised); writes `image_features` float32 [M, E]. With texts\n"
            "and images, prints each image's zero-shot probabilities over the texts.\n"
            "  --version, --help\n"
            "Example:\n"
            "  coop-encode --checkpoint ViT-B-16.safetensors --text 'a photo of a dog.'\n"
            "              --image dog.jpg --out dog.h5\n"
            "Exit status: 0 written, 1 out of memory or the output could not be written,\n"
            "2 usage or input error (bad option; a checkpoint, vocabulary, text list, text or\n"
            "image that does not load, or a text too long without --truncate).\n");
}

static int parse_args(struct opts *o, int argc, char **argv)
{
    o->texts = calloc((size_t)argc + 1, sizeof *o->texts);
    o->images = calloc((size_t)argc + 1, sizeof *o->images);
    if (!o->texts || !o->images)
        return -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--version")) {
            printf("coop-encode %s\n", coop_version_string());
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
        } else if (!strcmp(a, "--images")) {
            dst = &o->images_file;
        } else if (!strcmp(a, "--image")) {
            dst = &o->images[o->n_images++];
        } else {
            static const char *const known[] = {"--checkpoint", "--vocab", "--text", "--texts",
                                                "--image", "--images", "--out", "--truncate",
                                                "--help", "--version"};
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

static int push_line(char ***list, size_t *n, const char *s, size_t len)
{
    char **l = realloc(*list, (*n + 1) * sizeof *l);
    if (!l)
        return -1;
    *list = l;
    if (!(l[*n] = malloc(len + 1)))
        return -1;
    memcpy(l[*n], s, len);
    l[(*n)++][len] = '\0';
    return 0;
}

/* Appends the non-blank lines of a file (CR stripped). */
static int read_lines(const char *path, char ***list, size_t *n, struct coop_err *e)
{
    char *buf;
    size_t len;
    int rc = coop_read_file(path, (size_t)1 << 30, &buf, &len, e);
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
        if (!blank && push_line(list, n, p, k))
            rc = coop_fail(e, COOP_E_NOMEM, "out of memory");
        p += l + 1;
    }
    free(buf);
    return rc;
}

static int gather_inputs(struct inputs *in, const struct opts *o, struct coop_err *e)
{
    for (size_t i = 0; i < o->n_texts; i++)
        if (push_line(&in->texts, &in->n_texts, o->texts[i], strlen(o->texts[i])))
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (size_t i = 0; i < o->n_images; i++)
        if (push_line(&in->images, &in->n_images, o->images[i], strlen(o->images[i])))
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
    int rc = 0;
    if (o->texts_file)
        rc = read_lines(o->texts_file, &in->texts, &in->n_texts, e);
    if (rc == 0 && o->images_file)
        rc = read_lines(o->images_file, &in->images, &in->n_images, e);
    if (rc == 0 && in->n_texts == 0 && in->n_images == 0)
        rc = coop_fail(e, COOP_E_INVAL, "nothing to encode: give --text, --texts, --image or "
                                        "--images");
    return rc;
}

/* image_features [M, E]: CLIP's eval transform, then the image tower in batches. */
static int encode_images(const struct coop_clip_model *m, const struct inputs *in, float *feat,
                         struct coop_err *e)
{
    if (m->vision_kind == COOP_CLIP_VISION_NONE)
        return coop_fail(e, COOP_E_INVAL, "the checkpoint has no image tower");
    int S = m->vision_kind == COOP_CLIP_VISION_VIT ? m->vit.image_size : m->resnet.image_size;
    int E = m->text.embed_dim;
    size_t px = (size_t)3 * S * S;
    float *pix = coop_alloc_floats(ENCODE_BATCH * px);
    int rc = pix ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < in->n_images; i += ENCODE_BATCH) {
        size_t k = in->n_images - i < ENCODE_BATCH ? in->n_images - i : ENCODE_BATCH;
        for (size_t j = 0; rc == 0 && j < k; j++)
            rc = coop_image_load_clip_eval(pix + j * px, in->images[i + j], S, coop_clip_mean,
                                           coop_clip_std, e);
        if (rc == 0)
            rc = coop_clip_encode_images(m, pix, (int)k, feat + i * (size_t)E, e);
    }
    coop_free(pix);
    return rc;
}

/* The classic CLIP demo: softmax(exp(logit_scale) * cos) over the texts. */
static void print_probabilities(const struct coop_clip_model *m, const struct inputs *in,
                                const float *tfeat, const float *ifeat)
{
    int E = m->text.embed_dim;
    size_t T = in->n_texts, M = in->n_images;
    float *tn = malloc(T * E * sizeof *tn), *in_ = malloc(M * E * sizeof *in_),
          *lg = malloc(M * T * sizeof *lg);
    if (!tn || !in_ || !lg) {
        free(tn), free(in_), free(lg);
        return;
    }
    coop_l2norm_forward(tn, NULL, tfeat, (int)T, E);
    coop_l2norm_forward(in_, NULL, ifeat, (int)M, E);
    float scale = expf(m->logit_scale);
    for (size_t i = 0; i < M; i++) {
        float mx = -INFINITY;
        double sum = 0;
        for (size_t t = 0; t < T; t++) {
            float d = 0;
            for (int c = 0; c < E; c++)
                d += in_[i * E + c] * tn[t * E + c];
            lg[i * T + t] = scale * d;
            mx = fmaxf(mx, lg[i * T + t]);
        }
        for (size_t t = 0; t < T; t++)
            sum += exp((double)(lg[i * T + t] - mx));
        printf("%s\n", in->images[i]);
        for (size_t t = 0; t < T; t++)
            printf("  %6.2f%%  %s\n", 100.0 * exp((double)(lg[i * T + t] - mx)) / sum,
                   in->texts[t]);
    }
    free(tn), free(in_), free(lg);
}

static int write_output(const char *path, const struct opts *o, const struct coop_clip_model *m,
                        const struct inputs *in, const int32_t *tokens, const float *feat,
                        const float *ifeat, struct coop_err *e)
{
    struct coop_h5file *h;
    int rc = coop_h5file_create(&h, path, e);
    if (rc)
        return rc;
    const size_t E = (size_t)m->text.embed_dim;
    if (in->n_texts) {
        const size_t tshape[2] = {in->n_texts, (size_t)m->text.context_length};
        const size_t fshape[2] = {in->n_texts, E};
        rc = coop_h5file_write_i32(h, "tokens", tokens, 2, tshape, e);
        rc = rc ? rc : coop_h5file_write_f32(h, "text_features", feat, 2, fshape, e);
        rc = rc ? rc : coop_h5file_write_strings(h, "texts", (const char *const *)in->texts,
                                                 in->n_texts, e);
    }
    if (rc == 0 && in->n_images) {
        const size_t ishape[2] = {in->n_images, E};
        rc = coop_h5file_write_f32(h, "image_features", ifeat, 2, ishape, e);
        rc = rc ? rc : coop_h5file_write_strings(h, "images", (const char *const *)in->images,
                                                 in->n_images, e);
    }
    rc = rc ? rc : coop_h5file_attr_str(h, "arch", m->arch, e);
    rc = rc ? rc : coop_h5file_attr_str(h, "checkpoint", o->checkpoint, e);
    rc = rc ? rc : coop_h5file_attr_str(h, "vocab",
                                        o->vocab ? o->vocab : "(next to the checkpoint)", e);
    rc = rc ? rc : coop_h5file_attr_str(h, "coop_version", COOP_VERSION, e);
    int rc2 = coop_h5file_close(h, rc == 0, e);
    return rc ? rc : rc2;
}

int main(int argc, char **argv)
{
    char blas[512]; /* first: may re-execute with the right OpenBLAS kernels */
    coop_blas_select_core(argv, blas, sizeof blas);
    if (coop_verbose())
        fprintf(stderr, "coop-encode: %s\n", blas);
    struct opts o = {0};
    struct inputs in = {0};
    struct coop_clip_model m = {0};
    struct coop_tokenizer *tok = NULL;
    struct coop_err e = {{0}};
    int32_t *tokens = NULL;
    float *feat = NULL, *ifeat = NULL;
    if (parse_args(&o, argc, argv)) {
        free(o.texts);
        free(o.images);
        return 2;
    }
    int rc = gather_inputs(&in, &o, &e);
    rc = rc ? rc : coop_clip_model_load(&m, o.checkpoint, &e);
    if (rc == 0 && in.n_texts) /* images alone need no vocabulary */
        rc = o.vocab ? coop_tokenizer_load(&tok, o.vocab, &e)
                     : coop_tokenizer_find_near(&tok, o.checkpoint, &e);
    if (rc == 0 && tok && coop_tokenizer_vocab_size(tok) > m.text.vocab_size)
        rc = coop_fail(&e, COOP_E_FORMAT, "the vocabulary has %d entries, the checkpoint %d",
                       coop_tokenizer_vocab_size(tok), m.text.vocab_size);
    if (rc == 0) {
        tokens = calloc(in.n_texts * (size_t)m.text.context_length + 1, sizeof *tokens);
        feat = calloc(in.n_texts * (size_t)m.text.embed_dim + 1, sizeof *feat);
        ifeat = calloc(in.n_images * (size_t)m.text.embed_dim + 1, sizeof *ifeat);
        if (!tokens || !feat || !ifeat)
            rc = coop_fail(&e, COOP_E_NOMEM, "out of memory for %zu texts and %zu images",
                           in.n_texts, in.n_images);
    }
    if (rc == 0 && in.n_texts)
        rc = coop_clip_encode_texts(&m.text, tok, (const char *const *)in.texts, in.n_texts,
                                    o.truncate, tokens, feat, &e);
    if (rc == 0 && in.n_images)
        rc = encode_images(&m, &in, ifeat, &e);
    int status = rc == COOP_E_NOMEM ? 1 : 2; /* so far: inputs that do not load or encode */
    if (rc == 0) {
        rc = write_output(o.out, &o, &m, &in, tokens, feat, ifeat, &e);
        status = 1;
    }
    if (rc == 0 && in.n_texts && in.n_images)
        print_probabilities(&m, &in, feat, ifeat);
    if (rc)
        fprintf(stderr, "coop-encode: %s\n", e.msg);
    else
        fprintf(stderr, "coop-encode: %zu texts and %zu images with %s -> %s\n", in.n_texts,
                in.n_images, m.arch, o.out);
    for (size_t i = 0; i < in.n_texts; i++)
        free(in.texts[i]);
    for (size_t i = 0; i < in.n_images; i++)
        free(in.images[i]);
    free(in.texts);
    free(in.images);
    free(o.texts);
    free(o.images);
    free(tokens);
    free(feat);
    free(ifeat);
    coop_tokenizer_free(tok);
    coop_clip_model_free(&m);
    return rc ? status : 0;
}
