/* core/clip/bpe_encode.c: encoding and decoding with a loaded tokenizer:
 * the pre-tokenising pattern of simple_tokenizer.py
 *   <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+
 * (IGNORECASE, as the regex module applies it) written as a scanner, BPE
 * merges lowest rank first, a bounded thread-safe cache per pre-token, SOS /
 * EOT wrapping and decode. */
#include "bpe.h"
#include "clean.h"
#include "coop/tokenizer.h"
#include "coop/util.h"
#include "unicode.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- pre-tokeniser ----------------------------------------------------------- */
/* Does s[0..n) start with the ASCII pattern p under IGNORECASE? */
static bool match_fold(const uint32_t *s, size_t n, const char *p)
{
    size_t i = 0;
    for (; p[i]; i++) {
        if (i >= n)
            return false;
        uint32_t c = s[i], want = (uint32_t)(unsigned char)p[i];
        if (c == want)
            continue;
        if (want >= 'a' && want <= 'z' && coop_uc_fold_ascii(c) == want)
            continue;
        return false;
    }
    return true;
}

/* Length of the pre-token starting at s[0] (n > 0), 0 if s[0] is skipped
 * (whitespace). Alternatives are tried in the pattern's order. */
static size_t pretoken_len(const uint32_t *s, size_t n)
{
    static const char *const special[] = {"<|startoftext|>", "<|endoftext|>"};
    static const char *const contr[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    for (int k = 0; k < 2; k++)
        if (match_fold(s, n, special[k]))
            return strlen(special[k]);
    for (int k = 0; k < 7; k++)
        if (match_fold(s, n, contr[k]))
            return strlen(contr[k]);
    size_t i = 0;
    if (coop_uc_is_letter(s[0])) {
        while (i < n && coop_uc_is_letter(s[i]))
            i++;
        return i;
    }
    if (coop_uc_is_number(s[0]))
        return 1;
    while (i < n && !coop_uc_is_re_space(s[i]) && !coop_uc_is_letter(s[i]) &&
           !coop_uc_is_number(s[i]))
        i++;
    return i;
}

size_t coop_bpe_next_word(const uint32_t *s, size_t n, size_t *i, char *u)
{
    while (*i < n) {
        size_t k = pretoken_len(s + *i, n - *i), ul = 0;
        if (k == 0) {
            (*i)++;
            continue;
        }
        for (size_t j = 0; j < k; j++)
            ul += coop_utf8_put(u + ul, s[*i + j]);
        *i += k;
        return ul;
    }
    return 0;
}

/* ---- BPE ------------------------------------------------------------------------ */
/* w[len] symbol ids -> merged in place; returns the new length. */
static int bpe_merge(const struct coop_tokenizer *t, int32_t *w, int len)
{
    while (len > 1) {
        int best = INT_MAX;
        int32_t first = 0, second = 0, merged = 0;
        for (int i = 0; i + 1 < len; i++) {
            int32_t m;
            int r = coop_bpe_pair_rank(t, w[i], w[i + 1], &m);
            if (r < best) {
                best = r;
                first = w[i];
                second = w[i + 1];
                merged = m;
            }
        }
        if (best == INT_MAX)
            break;
        int o = 0;
        for (int i = 0; i < len;) {
            if (w[i] == first && i + 1 < len && w[i + 1] == second) {
                w[o++] = merged;
                i += 2;
            } else {
                w[o++] = w[i++];
            }
        }
        len = o;
    }
    return len;
}

static struct cache_entry *cache_slot(struct coop_tokenizer *t, const char *key, size_t len)
{
    size_t m = t->ccap - 1;
    size_t i = coop_bpe_hash_str(key, len) & m;
    while (t->cache[i].key && !(strncmp(t->cache[i].key, key, len) == 0 &&
                                t->cache[i].key[len] == '\0'))
        i = (i + 1) & m;
    return &t->cache[i];
}

/* Cached ids of one pre-token (UTF-8 bytes u[0..len)); copies into out
 * (room for len ids). Returns the count or -1 on out of memory. */
static int bpe_token(const struct coop_tokenizer *ct, const char *u, size_t len, int32_t *out)
{
    struct coop_tokenizer *t = (struct coop_tokenizer *)ct; /* only the cache mutates */
    if ((len == 15 && memcmp(u, "<|startoftext|>", 15) == 0) ||
        (len == 13 && memcmp(u, "<|endoftext|>", 13) == 0)) {
        out[0] = len == 15 ? t->sot : t->eot;
        return 1;
    }
    pthread_mutex_lock(&t->lock);
    if (!t->cache && (t->cache = calloc(COOP_BPE_CACHE_SLOTS, sizeof *t->cache)))
        t->ccap = COOP_BPE_CACHE_SLOTS;
    struct cache_entry *c = t->cache ? cache_slot(t, u, len) : NULL;
    if (c && c->key) {
        memcpy(out, c->ids, (size_t)c->n * sizeof *out);
        int n = c->n;
        pthread_mutex_unlock(&t->lock);
        return n;
    }
    pthread_mutex_unlock(&t->lock);
    for (size_t i = 0; i < len; i++)
        out[i] = t->byte_id[(uint8_t)u[i]];
    out[len - 1] = t->byte_end_id[(uint8_t)u[len - 1]];
    int n = bpe_merge(t, out, (int)len);
    pthread_mutex_lock(&t->lock);
    if (t->cache && t->cn < t->ccap / 2) {
        c = cache_slot(t, u, len);
        if (!c->key) {
            c->key = malloc(len + 1);
            c->ids = malloc((size_t)n * sizeof *c->ids);
            if (c->key && c->ids) {
                memcpy(c->key, u, len);
                c->key[len] = '\0';
                memcpy(c->ids, out, (size_t)n * sizeof *out);
                c->n = n;
                t->cn++;
            } else {
                free(c->key);
                free(c->ids);
                c->key = NULL;
                c->ids = NULL;
            }
        }
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

int coop_tokenizer_encode(const struct coop_tokenizer *t, const char *text, int32_t **ids,
                          size_t *n, struct coop_err *e)
{
    uint32_t *s;
    size_t ns;
    *ids = NULL;
    *n = 0;
    if (coop_text_clean(text, &s, &ns))
        return coop_fail(e, COOP_E_NOMEM, "tokenizer: out of memory");
    /* every pre-token of k code points gives at most 4k ids */
    int32_t *o = malloc((4 * ns + 1) * sizeof *o);
    char *u = malloc(4 * ns + 1);
    size_t w = 0;
    int rc = (o && u) ? 0 : coop_fail(e, COOP_E_NOMEM, "tokenizer: out of memory");
    size_t i = 0, ul;
    while (rc == 0 && (ul = coop_bpe_next_word(s, ns, &i, u)) > 0) {
        int m = bpe_token(t, u, ul, o + w);
        if (m < 0)
            rc = coop_fail(e, COOP_E_NOMEM, "tokenizer: out of memory");
        w += (size_t)(m > 0 ? m : 0);
    }
    free(s);
    free(u);
    if (rc) {
        free(o);
        return rc;
    }
    *ids = o;
    *n = w;
    return 0;
}

int coop_tokenizer_tokenize(const struct coop_tokenizer *t, const char *text,
                            int context_length, bool truncate, int32_t *ids, int *eot,
                            struct coop_err *e)
{
    int32_t *b;
    size_t n;
    if (context_length < 2)
        return coop_fail(e, COOP_E_INVAL, "tokenizer: context length %d is below 2",
                         context_length);
    int rc = coop_tokenizer_encode(t, text, &b, &n, e);
    if (rc)
        return rc;
    if (n + 2 > (size_t)context_length && !truncate) {
        free(b);
        return coop_fail(e, COOP_E_INVAL,
                         "tokenizer: text of %zu tokens is too long for context length %d: "
                         "\"%.200s\"",
                         n, context_length, text);
    }
    size_t k = n + 2 > (size_t)context_length ? (size_t)context_length - 2 : n;
    memset(ids, 0, (size_t)context_length * sizeof *ids);
    ids[0] = t->sot;
    memcpy(ids + 1, b, k * sizeof *ids);
    ids[k + 1] = t->eot;
    if (eot)
        *eot = (int)k + 1;
    free(b);
    return 0;
}

/* ---- decode ------------------------------------------------------------------------ */
char *coop_tokenizer_decode(const struct coop_tokenizer *t, const int32_t *ids, size_t n)
{
    size_t cap = 16, len = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n)
            return NULL;
        cap += strlen(t->tok[ids[i]]);
    }
    char *bytes = malloc(cap);
    if (!bytes)
        return NULL;
    for (size_t i = 0; i < n; i++) { /* byte_decoder over every character */
        const char *s = t->tok[ids[i]];
        uint32_t *cps;
        size_t nc;
        if (coop_utf8_decode(s, strlen(s), &cps, &nc)) {
            free(bytes);
            return NULL;
        }
        for (size_t j = 0; j < nc; j++)
            bytes[len++] = cps[j] < 512 && t->cp_byte[cps[j]] >= 0 ? (char)t->cp_byte[cps[j]]
                                                                   : '?';
        free(cps);
    }
    uint32_t *cps;
    size_t nc;
    int bad = coop_utf8_decode(bytes, len, &cps, &nc);
    free(bytes);
    if (bad)
        return NULL;
    char *o = malloc(4 * nc + 1);
    size_t w = 0;
    for (size_t i = 0; o && i < nc; i++) {
        if (cps[i] == '<' && i + 3 < nc && cps[i + 1] == '/' && cps[i + 2] == 'w' &&
            cps[i + 3] == '>') {
            o[w++] = ' ';
            i += 3;
            continue;
        }
        w += coop_utf8_put(o + w, cps[i]);
    }
    if (o)
        o[w] = '\0';
    free(cps);
    return o;
}
