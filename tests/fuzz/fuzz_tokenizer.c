/* tests/fuzz/fuzz_tokenizer.c: CLIP's BPE tokenizer, loading and encoding.
 * The first byte chooses what the rest of the input is:
 *   0: a merges file as coop_tokenizer_load_clip reads it (gzip'd or plain:
 *      zlib reads both), written to a scratch file;
 *   1: Hugging Face's vocab.json and merges.txt, split at the first NUL byte;
 *   2: text, encoded, tokenized and decoded with the shipped world vocabulary
 *      (models/world-clip/bpe_world.txt.gz).
 * A vocabulary that loads encodes, tokenizes and decodes a fixed sentence. */
#include "fuzz_util.h"
#include "coop/tokenizer.h"
#include "coop_config.h"
#include <string.h>

static struct coop_tokenizer *world;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct coop_err e;
    if (coop_tokenizer_load_clip(&world, COOP_SOURCE_ROOT "/models/world-clip/bpe_world.txt.gz",
                                 &e) != 0) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", e.msg);
        abort();
    }
    return 0;
}

static void use(const struct coop_tokenizer *t, const char *text)
{
    struct coop_err e;
    int32_t *ids = NULL, ctx[32];
    size_t n = 0;
    if (coop_tokenizer_encode(t, text, &ids, &n, &e) == 0) {
        free(coop_tokenizer_decode(t, ids, n));
        free(ids);
    }
    int eot;
    if (coop_tokenizer_tokenize(t, text, 32, true, ctx, &eot, &e) == 0)
        free(coop_tokenizer_decode(t, ctx, (size_t)eot + 1));
    coop_tokenizer_tokenize(t, text, 32, false, ctx, &eot, &e);
    free(coop_tokenizer_normalize(text));
    for (int32_t id = 0; id < coop_tokenizer_vocab_size(t); id += 97)
        coop_tokenizer_token(t, id);
}

static void load_clip(const uint8_t *data, size_t size)
{
    char path[1100];
    struct coop_err e;
    struct coop_tokenizer *t;
    fuzz_write(path, sizeof path, "bpe.txt.gz", data, size);
    if (coop_tokenizer_load_clip(&t, path, &e) == 0) {
        use(t, "a photo of a red striped star, &amp; a tiny dot.");
        coop_tokenizer_free(t);
    }
}

static void load_hf(const uint8_t *data, size_t size)
{
    char vocab[1100], merges[1100];
    struct coop_err e;
    struct coop_tokenizer *t;
    const uint8_t *nul = memchr(data, 0, size);
    size_t nv = nul ? (size_t)(nul - data) : size;
    fuzz_write(vocab, sizeof vocab, "vocab.json", data, nv);
    fuzz_write(merges, sizeof merges, "merges.txt", data + nv + (nul != NULL),
               size - nv - (nul != NULL));
    if (coop_tokenizer_load_hf(&t, vocab, merges, &e) == 0) {
        use(t, "a photo of a red striped star, &amp; a tiny dot.");
        coop_tokenizer_free(t);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] % 3 == 0) {
        load_clip(data + 1, size - 1);
    } else if (data[0] % 3 == 1) {
        load_hf(data + 1, size - 1);
    } else {
        char *text = malloc(size);
        if (!text)
            abort();
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        use(world, text);
        free(text);
    }
    return 0;
}
