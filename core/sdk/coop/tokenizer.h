/* coop/tokenizer.h: CLIP's byte-level BPE tokenizer, matching OpenAI's
 * simple_tokenizer.py id for id (see docs/tokenizer.md for the one
 * documented difference: ftfy.fix_text is replaced by a subset). Loads CLIP's
 * bpe_simple_vocab_16e6.txt.gz or Hugging Face's vocab.json + merges.txt.
 * A loaded tokenizer may be used from several threads at once. */
#ifndef COOP_TOKENIZER_H
#define COOP_TOKENIZER_H

#include "coop/common.h"
#include <stdbool.h>

struct coop_tokenizer;

/* CLIP's gzip'd merges file (line 0 header, merges on lines 1..48894). */
COOP_API int coop_tokenizer_load_clip(struct coop_tokenizer **out, const char *gz_path,
                                      struct coop_err *e);
/* Hugging Face CLIPTokenizer files. */
COOP_API int coop_tokenizer_load_hf(struct coop_tokenizer **out, const char *vocab_json,
                                    const char *merges_txt, struct coop_err *e);
/* path: a .txt.gz merges file, a vocab.json (merges.txt beside it), or a
 * directory holding either (the .gz is preferred). */
COOP_API int coop_tokenizer_load(struct coop_tokenizer **out, const char *path,
                                 struct coop_err *e);
/* Looks next to a checkpoint file for bpe_simple_vocab_16e6.txt.gz, then for
 * vocab.json + merges.txt. COOP_E_NOTFOUND names the places searched. */
COOP_API int coop_tokenizer_find_near(struct coop_tokenizer **out, const char *checkpoint,
                                      struct coop_err *e);
COOP_API void coop_tokenizer_free(struct coop_tokenizer *t);

COOP_API int coop_tokenizer_vocab_size(const struct coop_tokenizer *t);
COOP_API int32_t coop_tokenizer_sot(const struct coop_tokenizer *t); /* 49406 for CLIP */
COOP_API int32_t coop_tokenizer_eot(const struct coop_tokenizer *t); /* 49407 for CLIP */

/* text (UTF-8; invalid bytes become U+FFFD) -> BPE ids without SOS/EOT.
 * *ids is malloc'd (free()), *n ids. */
COOP_API int coop_tokenizer_encode(const struct coop_tokenizer *t, const char *text,
                                   int32_t **ids, size_t *n, struct coop_err *e);
/* ids[context_length] = SOS tokens EOT 0...; *eot (may be NULL) = index of
 * EOT. Too long: COOP_E_INVAL naming the text, unless truncate (then the
 * first context_length - 2 tokens are kept and EOT is last, as CLIP does). */
COOP_API int coop_tokenizer_tokenize(const struct coop_tokenizer *t, const char *text,
                                     int context_length, bool truncate, int32_t *ids, int *eot,
                                     struct coop_err *e);
/* ids -> text as simple_tokenizer.decode ("</w>" -> " "); malloc'd, NULL on
 * out of memory or an id outside the vocabulary. */
COOP_API char *coop_tokenizer_decode(const struct coop_tokenizer *t, const int32_t *ids,
                                     size_t n);
/* The raw vocabulary entry of id (byte-to-unicode characters, maybe
 * ending in "</w>"), or NULL. */
COOP_API const char *coop_tokenizer_token(const struct coop_tokenizer *t, int32_t id);
/* The text clean-up alone (ftfy subset, HTML unescape twice, whitespace
 * collapse, strip, lower-case), UTF-8, malloc'd. */
COOP_API char *coop_tokenizer_normalize(const char *text);

#endif
