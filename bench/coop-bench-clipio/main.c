/* coop-bench-clipio: prints timings of CLIP I/O: vocabulary load, tokenizer
 * throughput (cold cache and warm), and checkpoint load (a given file, or a
 * generated full-size text tower written to --tmp). Figures only, no
 * assertions; docs/performance.md records results.
 *   coop-bench-clipio --vocab bpe_simple_vocab_16e6.txt.gz [--checkpoint F]
 *                     [--make-text-checkpoint DIR] */
#include "coop/checkpoint.h"
#include "coop/clip.h"
#include "coop/tokenizer.h"
#include "coop/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const words[] = {
    "cat", "golden retriever", "Boeing 737-800", "Acura TL Sedan 2012", "banded gecko",
    "hot-air balloon", "Bernese mountain dog", "crème brûlée", "tench", "school bus",
    "red-breasted merganser", "water ouzel", "Yellow headed Blackbird", "abbey", "airfield"};
static const char *const templates[] = {
    "a photo of a %s.", "a bad photo of the %s.", "itap of my %s.", "a origami %s.",
    "a sculpture of a %s.", "a photo of the large %s, a type of pet."};

static int bench_tokenizer(const char *vocab)
{
    struct coop_err e;
    struct coop_tokenizer *t;
    double t0 = coop_now();
    if (coop_tokenizer_load(&t, vocab, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    printf("vocabulary load (%s): %.1f ms\n", vocab, 1e3 * (coop_now() - t0));
    enum { NW = sizeof words / sizeof words[0], NT = sizeof templates / sizeof templates[0] };
    char text[NW * NT][160];
    for (int i = 0; i < NW * NT; i++)
        snprintf(text[i], sizeof text[i], templates[i % NT], words[i / NT]);
    for (int pass = 0; pass < 2; pass++) {
        int reps = pass ? 2000 : 1;
        long n = 0;
        int32_t ids[77];
        t0 = coop_now();
        for (int r = 0; r < reps; r++)
            for (int i = 0; i < NW * NT; i++, n++)
                coop_tokenizer_tokenize(t, text[i], 77, true, ids, NULL, &e);
        double dt = coop_now() - t0;
        printf("tokenize %s: %ld prompts in %.3f s = %.0f prompts/s (%.2f us each)\n",
               pass ? "warm cache" : "cold cache", n, dt, n / dt, 1e6 * dt / n);
    }
    coop_tokenizer_free(t);
    return 0;
}

static int bench_load(const char *path)
{
    struct coop_err e;
    struct coop_clip_model m;
    double t0 = coop_now();
    if (coop_clip_model_load(&m, path, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    double dt = coop_now() - t0;
    printf("checkpoint load %s: %s, %zu floats in %.3f s = %.2f GB/s of float32\n", path, m.arch,
           m.n_floats, dt, 4e-9 * (double)m.n_floats / dt);
    coop_clip_model_free(&m);
    return 0;
}

static int make_text_checkpoint(const char *dir, char *out, size_t len)
{
    struct coop_clip_model m;
    struct coop_err e;
    float *arena;
    memset(&m, 0, sizeof m);
    if (coop_clip_text_alloc(&m.text, 77, 49408, 512, 8, 12, 512, &arena, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    coop_clip_text_init_random(&m.text, 1);
    snprintf(out, len, "%s/coop-bench-text.safetensors", dir);
    double t0 = coop_now();
    int rc = coop_clip_model_save(&m, out, &e);
    if (rc)
        fprintf(stderr, "%s\n", e.msg);
    else
        printf("checkpoint save (full-size text tower, F32): %.3f s\n", coop_now() - t0);
    coop_clip_text_free(&m.text, arena);
    return rc ? 1 : 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: coop-bench-clipio [--vocab GZ] [--checkpoint F] "
               "[--make-text-checkpoint DIR]\n"
               "       coop-bench-clipio --version | --help\n"
               "  --vocab GZ    time loading the BPE vocabulary and tokenizing\n"
               "  --checkpoint F  time loading a checkpoint\n"
               "  --make-text-checkpoint DIR  write a random text-tower checkpoint into DIR\n"
               "Example: coop-bench-clipio --vocab bpe_simple_vocab_16e6.txt.gz\n"
               "Exit status: 0 measured, 1 the benchmark failed, 2 usage error.\n");
}

int main(int argc, char **argv)
{
    const char *vocab = NULL, *ckpt = NULL, *mk = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], **dst = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("coop-bench-clipio %s\n", coop_version_string());
            return 0;
        } else if (!strcmp(a, "--vocab"))
            dst = &vocab;
        else if (!strcmp(a, "--checkpoint"))
            dst = &ckpt;
        else if (!strcmp(a, "--make-text-checkpoint"))
            dst = &mk;
        if (!dst || i + 1 >= argc) {
            usage(stderr);
            return 2;
        }
        *dst = argv[++i];
    }
    if (!vocab && !ckpt && !mk) {
        usage(stderr);
        return 2;
    }
    int rc = vocab ? bench_tokenizer(vocab) : 0;
    if (ckpt)
        rc |= bench_load(ckpt);
    if (mk) {
        char path[4096];
        rc |= make_text_checkpoint(mk, path, sizeof path);
        if (!rc) {
            rc |= bench_load(path);
            unlink(path);
        }
    }
    return rc;
}
