/* encode.c: texts to CLIP text features in one call: tokenise every text,
 * then run the tower over batches of COOP_CLIP_ENCODE_BATCH prompts (the
 * batch bounds memory; the shared-prefix shortcut works within a batch, so
 * the batch size is part of the exact result). */
#include "coop/clip.h"
#include "coop/tokenizer.h"

int coop_clip_encode_texts(const struct coop_clip_text *t, const struct coop_tokenizer *tok,
                           const char *const *texts, size_t n, bool truncate, int32_t *tokens,
                           float *feat, struct coop_err *e)
{
    int L = t->context_length, E = t->embed_dim;
    for (size_t i = 0; i < n; i++) {
        int rc = coop_tokenizer_tokenize(tok, texts[i], L, truncate, tokens + i * (size_t)L,
                                         NULL, e);
        if (rc)
            return coop_fail_prefix(e, rc, "text %zu", i + 1);
    }
    for (size_t i = 0; i < n; i += COOP_CLIP_ENCODE_BATCH) {
        size_t k = n - i < COOP_CLIP_ENCODE_BATCH ? n - i : COOP_CLIP_ENCODE_BATCH;
        int rc = coop_clip_text_encode_ids(t, tokens + i * (size_t)L, (int)k,
                                           feat + i * (size_t)E, e);
        if (rc)
            return rc;
    }
    return 0;
}
